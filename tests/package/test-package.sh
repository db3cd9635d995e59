#!/bin/bash
# The Debian package, built and installed as an administrator would, but
# never onto this machine: TAP output, then one line
#   package: N checks passed, M failed
#
# 1. Copies the tracked source to a scratch directory and builds it there
#    with `dpkg-buildpackage -us -uc -b` (the source tree gets nothing).
# 2. lintian: any error fails.
# 3. The package's contents: stripped programs and their detached debug
#    symbols, the udev rules only as an example, no conffiles.
# 4. An isolated root: in a private mount namespace, an overlay whose lower
#    layer is this machine's / (its dpkg database already has the libraries
#    the programs need) and whose upper layer is a tmpfs; dpkg runs chrooted
#    into it. Every write lands in the tmpfs, so the upper layer is exactly
#    how the root differs from this machine. There:
#    - a stand-in for Qubes' package (qubes-core-agent-networking, built
#      here) puts recognisable originals at the four paths;
#    - installing qubes-vif-tools diverts them, byte-identical, to their
#      .distrib names, and puts its own programs in their place;
#    - an update of the Qubes package goes to the diverted names;
#    - remove, and purge, put the (updated) originals back, leave no
#      diversion and nothing of qubes-vif-tools.
# 5. This machine's /etc/xen, /usr/sbin, /usr/lib/qubes, dpkg database and
#    diversions are as they were.
#
# Needs root (mount, chroot); under CI=true it fails rather than skips
# without it. QVT_PKG_TEST_KEEP=1 keeps the scratch directory (the build,
# lintian's output, the root's state lists) and prints where it is.
#   bash tests/package/test-package.sh
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
self=$here/$(basename "$0")

# Outside: make the scratch directory, run everything in a private mount
# namespace (the overlay, its tmpfs, /proc and /dev in the root vanish with
# it, whatever happens), then remove the scratch directory.
if [ "${1:-}" != --in-namespace ]; then
	# shellcheck source=../lib/tap.sh
	source "$src/tests/lib/tap.sh"
	tap_require_root "root, unshare, chroot, dpkg-buildpackage, lintian and git" \
		unshare chroot dpkg-buildpackage lintian git readelf
	tmp=$(mktemp -d /tmp/qvt-pkg-test.XXXXXX)
	if [ "${QVT_PKG_TEST_KEEP:-}" = 1 ]; then
		trap 'echo "# kept: $tmp"' EXIT
	else
		trap 'rm -rf --one-file-system "$tmp"' EXIT
	fi
	unshare --mount --propagation private -- bash "$self" --in-namespace "$tmp"
	exit $?
fi

tmp=$2
# shellcheck source=../lib/tap.sh
source "$src/tests/lib/tap.sh"
cd "$tmp" || exit 1

pkg=qubes-vif-tools
fake=qubes-core-agent-networking
# The four paths taken over, each with where its original goes.
paths=(/etc/xen/scripts/vif-route-qubes
	/usr/lib/qubes/qubes-setup-dnat-to-ns
	/etc/NetworkManager/dispatcher.d/qubes-nmhook
	/etc/dhclient.d/qubes-setup-dnat-to-ns.sh)
declare -A divert_to=(
	[/etc/xen/scripts/vif-route-qubes]=/etc/xen/scripts/vif-route-qubes.distrib
	[/usr/lib/qubes/qubes-setup-dnat-to-ns]=/usr/lib/qubes/qubes-setup-dnat-to-ns.distrib
	[/etc/NetworkManager/dispatcher.d/qubes-nmhook]=/etc/NetworkManager/dispatcher.d/qubes-nmhook.dpkg-distrib
	[/etc/dhclient.d/qubes-setup-dnat-to-ns.sh]=/etc/dhclient.d/qubes-setup-dnat-to-ns.sh.distrib)
# ... and what the package puts there.
declare -A ours=(
	[/etc/xen/scripts/vif-route-qubes]=/usr/sbin/vif-route-qubes
	[/usr/lib/qubes/qubes-setup-dnat-to-ns]=/usr/sbin/qubes-setup-dnat-to-ns
	[/etc/NetworkManager/dispatcher.d/qubes-nmhook]=/usr/libexec/qubes-vif-tools/qubes-nmhook
	[/etc/dhclient.d/qubes-setup-dnat-to-ns.sh]=/usr/libexec/qubes-vif-tools/qubes-setup-dnat-to-ns.sh)

root=$tmp/root   # the isolated root (overlay)
ovl=$tmp/ovl     # its tmpfs: upper and work layers
upper=$ovl/upper
mounted=

cleanup() {
	if [ -n "$mounted" ]; then
		umount -R "$root" 2>/dev/null || umount -R -l "$root"
		umount "$ovl" 2>/dev/null || umount -l "$ovl"
	fi
}
trap cleanup EXIT

bail() {
	tap_n=$((tap_n + 1))
	echo "not ok $tap_n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'
	echo "Bail out! $1"
	echo "1..$tap_n"
	echo "package: $((tap_n - tap_failed - 1)) checks passed, $((tap_failed + 1)) failed"
	exit 1
}

finish() {
	echo "1..$tap_n"
	echo "package: $((tap_n - tap_failed)) checks passed, $tap_failed failed"
	exit $((tap_failed > 0))
}

# --- this machine, before

# What the test must leave as it found it.
host_state() {
	local d
	for d in /etc/xen /usr/sbin /usr/lib/qubes /usr/libexec/qubes-vif-tools /etc/NetworkManager \
		/etc/dhclient.d /usr/share/doc/$pkg /var/lib/dpkg; do
		if [ -e "$d" ]; then
			find "$d" -path /var/lib/dpkg/lock\* -prune -o -printf '%y %m %s %p -> %l\n' | sort
		else
			echo "absent: $d"
		fi
	done
	find /etc/xen /usr/sbin /usr/lib/qubes /var/lib/dpkg/info -type f -exec sha256sum {} + 2>/dev/null | sort
	sha256sum /var/lib/dpkg/status /var/lib/dpkg/diversions
	dpkg-divert --list | sort
}
host_state >host-before
git -C "$src" status --porcelain --ignored >tree-before 2>&1

# --- build

version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version) || bail "debian/changelog parses"
upstream=${version%-*}
mkdir -p build/$pkg-$upstream debs
# The tracked files as they are in the work tree (the build dirs and other
# untracked files of a CI clone stay behind).
copy_source() {
	git -C "$src" ls-files -z | (cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] || [ -L "$f" ] && printf "%s\0" "$f"; done' sh) |
		tar -C "$src" --null -T - -cf - | tar -C build/$pkg-$upstream -xf -
}
check "copy of the tracked source" copy_source
[ -f build/$pkg-$upstream/debian/rules ] || bail "debian/rules in the source copy"

build_package() {
	(cd build/$pkg-$upstream && dpkg-buildpackage -us -uc -b) >build.log 2>&1 || {
		tail -40 build.log
		return 1
	}
}
start=$SECONDS
check "dpkg-buildpackage -us -uc -b builds the package" build_package
deb=build/${pkg}_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
dbgsym=build/${pkg}-dbgsym_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
changes=build/${pkg}_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).changes
[ -f "$deb" ] || bail "the package was built ($deb)" "$(tail -20 build.log)"
echo "# built in $((SECONDS - start))s: $(cd build && ls ./*.deb | tr '\n' ' ')"
cp "$deb" debs/$pkg.deb

tree_untouched() {
	git -C "$src" status --porcelain --ignored >tree-after 2>&1
	diff tree-before tree-after || fail "the source tree changed"
}
check "the source tree is untouched by the build" tree_untouched

# --- lintian

run_lintian() {
	# Root is what this test needs for the rest; lintian only says so.
	lintian --fail-on error --display-info --pedantic "$changes" 2>&1 |
		grep -v '^running with root privileges is not recommended!$' >lintian.out
	local rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] || fail "lintian exit status $rc"
}
check "lintian reports no errors" run_lintian
sed 's/^/# lintian: /' lintian.out

# --- the package's contents

# The package's paths, without "./" (directories end in "/").
contents() { dpkg-deb -c "$deb" | awk '$6 != "./" { print substr($6, 3) ($7 == "->" ? " -> " $8 : "") }'; }
mkdir x
dpkg-deb -x "$deb" x/pkg && dpkg-deb -x "$dbgsym" x/dbgsym || bail "the packages unpack"

stripped_with_dbgsym() {
	local prog id
	for prog in /usr/sbin/vif-route-qubes /usr/sbin/qubes-setup-dnat-to-ns; do
		readelf -S "x/pkg$prog" | grep -q '\.debug_info' && fail "$prog is not stripped"
		readelf -S "x/pkg$prog" | grep -q '\.symtab' && fail "$prog keeps its symbol table"
		id=$(readelf -n "x/pkg$prog" | awk '/Build ID:/ { print $3 }')
		[ -n "$id" ] || fail "$prog has no build id"
		[ -f "x/dbgsym/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" ] ||
			fail "$prog: no debug file for build id $id in the -dbgsym package"
	done
}
check "programs stripped, their debug symbols in the -dbgsym package" stripped_with_dbgsym

# libiptc is dlopen'ed (x_tables generation only): not linked, so the
# package has to name it itself.
iptc_depends() {
	local prog lib dep
	for prog in /usr/sbin/vif-route-qubes /usr/sbin/qubes-setup-dnat-to-ns; do
		readelf -d "x/pkg$prog" | grep -E 'NEEDED.*libip[46]tc' && fail "$prog links libiptc"
	done
	dep=$(dpkg-deb -f "$deb" Depends)
	for lib in libip4tc2 libip6tc2; do
		grep -Eq "(^|, )$lib( |,|$)" <<<"$dep" || fail "Depends does not name $lib: $dep"
	done
}
check "libiptc not linked, libip4tc2 and libip6tc2 in Depends" iptc_depends

udev_example_only() {
	contents | grep -x 'usr/share/doc/qubes-vif-tools/examples/80-qubes-vif-route.rules' >/dev/null ||
		fail "no udev example"
	contents | grep -E '(^|/)(lib|etc|run)/udev/' && fail "something in a udev directory"
	grep -q 'RUN+="/usr/sbin/vif-route-qubes ' x/pkg/usr/share/doc/$pkg/examples/80-qubes-vif-route.rules ||
		fail "the udev example does not run /usr/sbin/vif-route-qubes"
}
check "udev rules only as an example under /usr/share/doc" udev_example_only

man_pages() {
	local m
	for m in vif-route-qubes qubes-setup-dnat-to-ns; do
		[ -f "x/pkg/usr/share/man/man8/$m.8.gz" ] || fail "no man page $m(8) in the package"
		zcat "x/pkg/usr/share/man/man8/$m.8.gz" | cmp -s - "$src/man/$m.8" || fail "$m(8) is not man/$m.8"
	done
}
check "the man pages vif-route-qubes(8) and qubes-setup-dnat-to-ns(8) are in the package" man_pages

no_conffiles() {
	dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -x './conffiles' && fail "the package has conffiles"
	dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./preinst | grep -c -- '--add' | grep -qx 4 ||
		fail "preinst does not add four diversions"
	return 0
}
check "no conffiles; preinst adds four diversions" no_conffiles

# --- the stand-in for Qubes' package: version 1, then 2

original() { # VERSION PATH: the stand-in's file
	printf '#!/bin/sh\n# FAKE QUBES ORIGINAL, %s version %s: %s\necho "fake qubes %s %s"\n' "$fake" "$1" "$2" "$2" "$1"
}
make_fake() {
	local v=$1 d=fake$1 p
	mkdir -p $d/DEBIAN
	for p in "${paths[@]}"; do
		mkdir -p "$d${p%/*}"
		original "$v" "$p" >"$d$p"
		chmod 0755 "$d$p"
	done
	cat >$d/DEBIAN/control <<-EOF
		Package: $fake
		Version: $v
		Architecture: all
		Maintainer: qubes-vif-tools test <test@example.org>
		Description: stand-in for Qubes' package (qubes-vif-tools' package test)
		 Owns the files qubes-vif-tools diverts.
	EOF
	# As Debian packaging marks them: files in /etc are conffiles.
	printf '%s\n' "${paths[@]}" | grep '^/etc/' >$d/DEBIAN/conffiles
	dpkg-deb --root-owner-group --build $d debs/${fake}_$v.deb >/dev/null
}
make_fake 1 && make_fake 2 || bail "the stand-in packages build"

# Ours again, as a newer version: the same files and scripts.
next_version() {
	dpkg-deb -R "$deb" next &&
		sed -i "s/^Version: .*/Version: $version+next1/" next/DEBIAN/control &&
		dpkg-deb --build next debs/$pkg-next.deb >/dev/null
}
next_version || bail "a newer version of the package repacks"

# --- the isolated root

mkdir -p "$root" "$ovl" || bail "scratch directories"
mount -t tmpfs -o mode=0755 qvt-pkg "$ovl" && mounted=1 &&
	mkdir "$upper" "$ovl/work" &&
	mount -t overlay qvt-pkg -o "lowerdir=/,upperdir=$upper,workdir=$ovl/work" "$root" &&
	mount -t proc proc "$root/proc" &&
	mount -t tmpfs -o mode=0755 qvt-pkg-dev "$root/dev" &&
	mknod -m 666 "$root/dev/null" c 1 3 && mknod -m 666 "$root/dev/zero" c 1 5 &&
	mknod -m 666 "$root/dev/urandom" c 1 9 &&
	mkdir -p "$root/qvt-pkg-debs" && mount --bind "$tmp/debs" "$root/qvt-pkg-debs" ||
	bail "the isolated root mounts (overlay on /, tmpfs upper)"
# man-db would rebuild its whole index for each package: not what is tested.
rm -f "$root/var/lib/man-db/auto-update"

in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@" </dev/null
}
dpkg_in_root() {
	in_root dpkg "$@" >dpkg.out 2>&1 || { cat dpkg.out; return 1; }
}

# The root's changes from this machine: what the upper layer holds that
# differs from the lower one (this machine's /; the overlay also copies up
# directories and files it rewrote unchanged), without dpkg's bookkeeping
# that changes on any run (status, logs, backups, locks). The stand-in's own
# files go from version 1 to 2 along the way: listed, compared by content
# separately.
root_state() {
	(cd "$upper" && find . \( -path ./var/log -o -path ./var/cache -o -path ./qvt-pkg-debs \
		-o -path ./var/lib/dpkg/status -o -path ./var/lib/dpkg/available \
		-o -path './var/lib/dpkg/*-old' -o -path './var/lib/dpkg/lock*' \
		-o -path ./var/lib/dpkg/triggers/Lock -o -path ./var/lib/dpkg/triggers/Unincorp \) -prune \
		-o -printf '%y %m %p -> %l\n' | sort | while read -r type mode path rest; do
		host=/${path#./}
		case $type in
		d) [ -d "$host" ] && [ ! -L "$host" ] && [ "$(stat -c %a "$host")" = "$mode" ] && continue ;;
		f) [ -f "$host" ] && [ ! -L "$host" ] && cmp -s "$path" "$host" && continue ;;
		l) [ -L "$host" ] && [ "$(readlink "$host")" = "$(readlink "$path")" ] && continue ;;
		esac
		case $type:$path in
		f:"./var/lib/dpkg/info/$fake.md5sums" | f:"./var/lib/dpkg/info/$fake.list") hash=- ;;
		f:*) hash=$(sha256sum <"$path" | cut -c1-16) ;;
		*) hash=- ;;
		esac
		for p in "${paths[@]}" "${divert_to[@]}"; do
			[ "$path" = ".$p" ] && hash=-
		done
		echo "$type $mode $path $rest $hash"
	done)
}
diversions() { in_root dpkg-divert --list | sort; }
diversions >diversions-host

# --- Qubes' package, version 1

check "the stand-in Qubes package installs (version 1)" dpkg_in_root -i /qvt-pkg-debs/${fake}_1.deb
root_state >root-before
in_root dpkg-query -L $fake >fake-files

# --- install

check "qubes-vif-tools installs" dpkg_in_root -i /qvt-pkg-debs/$pkg.deb

four_diversions() {
	local p
	diversions | grep "by $pkg\$" >ours.div
	[ "$(wc -l <ours.div)" -eq 4 ] || { cat ours.div; fail "not four diversions by $pkg"; }
	for p in "${paths[@]}"; do
		grep -qxF "diversion of $p to ${divert_to[$p]} by $pkg" ours.div ||
			fail "no diversion of $p to ${divert_to[$p]}"
	done
}
check "dpkg-divert --list: the four diversions by $pkg, to their .distrib names" four_diversions

diverted_files_of_fake() {
	local p
	in_root dpkg-query -L $fake >fake-list
	for p in "${paths[@]}"; do
		grep -qxF "diverted by $pkg to: ${divert_to[$p]}" fake-list ||
			fail "dpkg-query -L $fake does not show $p diverted to ${divert_to[$p]}"
		in_root dpkg -S "$p" | grep -qxF "$fake, $pkg: $p" || fail "dpkg -S $p: not both packages"
	done
}
check "the diverted files are the Qubes package's files" diverted_files_of_fake

originals_at() { # VERSION WHERE(original|diverted)
	local p f
	for p in "${paths[@]}"; do
		if [ "$2" = diverted ]; then f=${divert_to[$p]}; else f=$p; fi
		if [ ! -f "$root$f" ] || [ -L "$root$f" ]; then
			fail "$f is not a regular file"
			continue
		fi
		cmp <(original "$1" "$p") "$root$f" || fail "$f is not version $1 of the original $p"
		[ "$(stat -c %a "$root$f")" = 755 ] || fail "$f has mode $(stat -c %a "$root$f")"
	done
}
check "the originals (version 1) are byte-identical at the diverted paths" originals_at 1 diverted

ours_in_place() {
	local p
	for p in "${paths[@]}"; do
		[ "$(in_root readlink -f "$p")" = "${ours[$p]}" ] || fail "$p does not lead to ${ours[$p]}"
		[ -x "$root${ours[$p]}" ] || fail "${ours[$p]} is not executable"
	done
	in_root /usr/sbin/vif-route-qubes --version | grep -qx "vif-route-qubes $upstream" ||
		fail "/usr/sbin/vif-route-qubes --version"
	in_root /usr/sbin/qubes-setup-dnat-to-ns --version | grep -qx "qubes-setup-dnat-to-ns $upstream" ||
		fail "/usr/sbin/qubes-setup-dnat-to-ns --version"
	in_root /etc/xen/scripts/vif-route-qubes --version | grep -qx "vif-route-qubes $upstream" ||
		fail "/etc/xen/scripts/vif-route-qubes --version"
	in_root /usr/lib/qubes/qubes-setup-dnat-to-ns --version | grep -qx "qubes-setup-dnat-to-ns $upstream" ||
		fail "/usr/lib/qubes/qubes-setup-dnat-to-ns --version"
	# The hooks: ours, calling the program where the package puts it.
	in_root sh -n /etc/NetworkManager/dispatcher.d/qubes-nmhook || fail "the NetworkManager hook does not parse"
	in_root cat /etc/NetworkManager/dispatcher.d/qubes-nmhook | grep -q '^/usr/sbin/qubes-setup-dnat-to-ns ' ||
		fail "the NetworkManager hook does not run /usr/sbin/qubes-setup-dnat-to-ns"
	in_root /etc/NetworkManager/dispatcher.d/qubes-nmhook eth0 pre-up || fail "the NetworkManager hook fails on pre-up"
	in_root bash -c '. /etc/dhclient.d/qubes-setup-dnat-to-ns.sh && declare -f qubes-setup-dnat-to-ns_config' |
		grep -q '/usr/sbin/qubes-setup-dnat-to-ns' || fail "the dhclient hook does not define a call of /usr/sbin/qubes-setup-dnat-to-ns"
	in_root dpkg --verify $pkg || fail "dpkg --verify $pkg"
}
check "our programs and hooks are in place and run, also through the Qubes paths" ours_in_place

# Which files NetworkManager's dispatcher would run (its rules: no leading
# dot, no backup or package-manager suffix) and dhclient-script would source
# (*.sh): ours, never the diverted original beside it.
nm_runs() {
	case $1 in
	.* | *~ | *.rpmsave | *.rpmorig | *.rpmnew | *.swp) return 1 ;;
	*.dpkg-*) [[ ${1##*.dpkg-} == *.* ]] ;;
	*) return 0 ;;
	esac
}
hooks_run_once() {
	local f run=
	for f in "$root"/etc/NetworkManager/dispatcher.d/*; do
		in_root test -x "${f#"$root"}" && nm_runs "${f##*/}" && run="$run ${f##*/}"
	done
	[ "$run" = " qubes-nmhook" ] || fail "NetworkManager would run:$run"
	run=$(cd "$root/etc/dhclient.d" && echo *.sh)
	[ "$run" = qubes-setup-dnat-to-ns.sh ] || fail "dhclient-script would source: $run"
}
check "NetworkManager and dhclient would run our hook only, not the diverted original" hooks_run_once

udev_inactive() {
	[ -f "$root/usr/share/doc/$pkg/examples/80-qubes-vif-route.rules" ] || fail "no udev example"
	find "$root"/etc/udev "$root"/usr/lib/udev "$root"/run/udev -name '*qubes-vif*' 2>/dev/null | grep . &&
		fail "udev rules installed active"
	return 0
}
check "the udev rules are under doc, in no udev rules directory" udev_inactive

# --- Qubes updates its package

check "the Qubes package updates (version 2) while ours is installed" dpkg_in_root -i /qvt-pkg-debs/${fake}_2.deb
check "its new files go to the diverted paths" originals_at 2 diverted
check "ours stay in place" ours_in_place
check "the diversions stay" four_diversions
no_leftovers() {
	find "$root/etc/xen" "$root/usr/lib/qubes" "$root/etc/NetworkManager" "$root/etc/dhclient.d" \
		-name '*.dpkg-new' -o -name '*.dpkg-old' -o -name '*.dpkg-dist' -o -name '*.dpkg-tmp' | grep . &&
		fail "dpkg left files behind"
	return 0
}
check "no .dpkg-new/.dpkg-old/.dpkg-dist files" no_leftovers

# --- our own upgrade (the same files under a newer version): the old
# postrm runs with "upgrade" and must not give the paths back.

check "qubes-vif-tools upgrades to a newer version of itself" dpkg_in_root -i /qvt-pkg-debs/$pkg-next.deb
check "after our upgrade: the diversions stay" four_diversions
check "after our upgrade: the originals stay at the diverted paths" originals_at 2 diverted
check "after our upgrade: ours stay in place" ours_in_place

# --- remove

package_status() { in_root dpkg-query -W -f '${db:Status-Abbrev}' $pkg 2>/dev/null; }

all_gone() { # WHAT: nothing of ours is left, the originals (version 2) are back
	local p f
	originals_at 2 original
	for p in "${paths[@]}"; do
		[ -e "$root${divert_to[$p]}" ] && fail "${divert_to[$p]} is still there"
		in_root dpkg -S "$p" | grep -qxF "$fake: $p" || fail "dpkg -S $p: $(in_root dpkg -S "$p")"
	done
	in_root dpkg-query -L $fake | grep diverted && fail "dpkg-query -L $fake still shows diversions"
	diversions | diff diversions-host - || fail "dpkg-divert --list differs from this machine's"
	# Every other file the package has, and its own directory, is gone.
	while read -r f; do
		f=/${f%% -> *}
		case $f in */) continue ;; esac
		for p in "${paths[@]}"; do
			[ "$f" = "$p" ] && continue 2
		done
		[ -e "$root$f" ] || [ -L "$root$f" ] && fail "$f is still there"
	done < <(contents)
	[ -e "$root/usr/libexec/qubes-vif-tools" ] && fail "/usr/libexec/qubes-vif-tools is still there"
	[ -e "$root/usr/share/doc/$pkg" ] && fail "/usr/share/doc/$pkg is still there"
	in_root dpkg --verify $fake || fail "dpkg --verify $fake"
	root_state >"root-after-$1"
	# After remove dpkg keeps the package as "config-files" (rc), with its
	# postrm (to run on purge) and an empty file list: it has no conffiles.
	if [ "$1" = remove ]; then
		[ "$(package_status)" = "rc " ] || fail "dpkg-query: $pkg is '$(package_status)', not rc"
		in_root dpkg-query -W -f '${Conffiles}' $pkg | grep . && fail "$pkg has conffiles left"
		grep -v -e "^f 644 ./var/lib/dpkg/info/$pkg.list -> e3b0c44298fc1c14$" \
			-e "^f 755 ./var/lib/dpkg/info/$pkg.postrm -> " "root-after-$1" >"root-after-$1-known"
		mv "root-after-$1-known" "root-after-$1"
	fi
	diff root-before "root-after-$1" || fail "the root differs from before the install"
}

check "dpkg --remove $pkg" dpkg_in_root --remove $pkg
echo "# after remove, dpkg-query says: $(package_status)"
check "after remove: originals back byte-identical, no diversion, nothing of ours" all_gone remove

# --- install again, then purge

check "qubes-vif-tools installs again" dpkg_in_root -i /qvt-pkg-debs/$pkg.deb
check "the diversions are back" four_diversions
check "the current originals (version 2) are at the diverted paths" originals_at 2 diverted
check "dpkg --purge $pkg" dpkg_in_root --purge $pkg
not_known() {
	local s
	s=$(package_status)
	[ -z "$s" ] || [ "${s:1:1}" = n ] || fail "dpkg-query: $pkg is '$s'"
}
check "after purge: dpkg knows nothing installed of $pkg" not_known
check "after purge: originals back byte-identical, no diversion, nothing of ours" all_gone purge

# --- this machine, after

cleanup
mounted=
host_untouched() {
	grep -q " $tmp" /proc/self/mountinfo && fail "still mounted: $(grep " $tmp" /proc/self/mountinfo)"
	host_state >host-after
	diff host-before host-after || fail "this machine changed"
}
check "this machine's /etc/xen, /usr/sbin, /usr/lib/qubes, dpkg database and diversions are untouched" host_untouched

finish
