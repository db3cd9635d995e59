#!/bin/bash
# README's "Trying it by hand without Xen" recipe, run as written (only B=
# points at this build), in both generations: as written (nftables), and
# without its `nft -f` line (x_tables). It runs in a mount namespace of its
# own with an empty /run/netns, and with its own lock files, so nothing of
# the host is touched.
#   QNET_BUILD=<build dir> tests/e2e/readme-test.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${QNET_BUILD:?set QNET_BUILD to a build directory}"
# shellcheck source=../lib/tap.sh
source "$here/../lib/tap.sh"

tap_require_root root unshare nft xenstore-write xenstore-read python3

# The recipe's daemons, also when it failed before its kill line (they
# hold its namespace); and the files it leaves in /tmp.
recipe_cleanup() {
	local p
	for p in /tmp/try-xs.pid /tmp/try-qdb.pid; do
		[ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
	rm -f /tmp/try-xs.sock /tmp/try-xs.pid /tmp/try-qdb.sock /tmp/try-qdb.pid
}
scratch=$(mktemp -d /tmp/qvt-readme-test.XXXXXX)
trap 'recipe_cleanup; rm -rf "$scratch"' EXIT

# The recipe: the sh block after the try-by-hand marker, cut in three at
# the line that opens the shell in the namespace and at its `exit`.
awk -v out="$scratch/part" '
	/^<!-- try-by-hand:/ { marked = 1; next }
	marked && /^```sh$/ { inside = 1; part = 1; next }
	inside && /^```$/ { exit }
	inside && /^ip netns exec try-netvm bash/ { part = 2; next }
	inside && part == 2 && /^exit$/ { part = 3; next }
	inside { print > (out part) }
' "$top/README.md"

t_recipe_found() {
	local p
	for p in 1 2 3; do
		[ -s "$scratch/part$p" ] || fail "README's recipe has no part $p (the marker or its layout changed)"
	done
	grep -q '^B=build ' "$scratch/part2" || fail "the recipe does not set B=build"
}

# t_recipe GEN: the recipe, with B= this build; x_tables without nft -f.
t_recipe() {
	local gen=$1 inner=$scratch/inner-$1 out rc=0
	sed "s|^B=build .*|B='$QNET_BUILD'|" "$scratch/part2" >"$inner"
	if [ "$gen" = xtables ]; then
		sed -i '/^nft -f /d' "$inner"
	fi
	out=$(cd "$top" && VIF_ROUTE_QUBES_LOCK_DIR=$scratch/locks XTABLES_LOCKFILE=$scratch/xtables.lock \
		unshare --mount --propagation private bash -c '
			set -e
			mkdir -p /run/netns
			mount -t tmpfs qvt-readme /run/netns
			bash -ex "$1"
			ip netns exec try-netvm bash -ex <"$2"
			bash -ex "$3"
			[ -z "$(ls /run/netns)" ] || { echo "left in /run/netns: $(ls /run/netns)"; exit 1; }
		' sh "$scratch/part1" "$inner" "$scratch/part3" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		recipe_cleanup
		fail "the recipe failed (exit $rc):"$'\n'"$out"
		return
	fi
	grep -qx connected <<<"$out" || fail "no hotplug-status connected:"$'\n'"$out"
	grep -qx '1 vifs: 1 ok, 0 wrong, 0 could not be checked' <<<"$out" || fail "status --all not all ok:"$'\n'"$out"
	grep -q '"state": "ok"' <<<"$out" || fail "status --json not ok:"$'\n'"$out"
	if [ "$gen" = nftables ]; then
		grep -q 'ip qubes allowed "vif3.0" . 10.137.0.5' <<<"$out" || fail "no set element in the dry run or status:"$'\n'"$out"
	else
		grep -q 'iptables raw PREROUTING -i vif3.0 ! -s 10.137.0.5 -j DROP' <<<"$out" ||
			fail "no raw rule in status:"$'\n'"$out"
	fi
	for p in /tmp/try-xs.pid /tmp/try-qdb.pid; do
		[ -f "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null && fail "a daemon of the recipe still runs ($p)"
	done
	return 0
}

check "README's try-by-hand recipe is where the test looks for it" t_recipe_found
check "README's try-by-hand recipe runs as written (nftables generation)" t_recipe nftables
check "README's try-by-hand recipe runs without its nft line (x_tables generation)" t_recipe xtables
tap_end
