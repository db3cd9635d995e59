#!/bin/bash
# The demo, the main job, as a user runs it: into a pipe (no colour codes),
# to the end, with what it shows; and a build that fails must show why.
#   QNET_BUILD=<build dir> tests/e2e/demo-test.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${QNET_BUILD:?set QNET_BUILD to a build directory}"
# shellcheck source=../lib/tap.sh
source "$here/../lib/tap.sh"

tap_require_root root

scratch=$(mktemp -d /tmp/qvt-demo-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

t_build_error_shown() {
	local out rc=0
	mkdir -p "$scratch/bin"
	printf '#!/bin/sh\necho "ERROR: FAKE-BUILD-ERROR in meson.build:1"\nexit 1\n' >"$scratch/bin/meson"
	chmod +x "$scratch/bin/meson"
	out=$(PATH="$scratch/bin:$PATH" QVT_DEMO_BUILD="$scratch/nobuild" QVT_DEMO_PREFIX=qvt-dt-$$ \
		"$top/scripts/demo.sh" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || { echo "the demo went on after a failed build"; return 1; }
	grep -q FAKE-BUILD-ERROR <<<"$out" || { echo "the build error was hidden:"; echo "$out"; return 1; }
}

# netns_names: what the host's /run/netns names of the demo's network (its
# domains, NAT mode's VIF-nat), one a line; other tests may run meanwhile.
netns_names() {
	local n
	for n in /run/netns/qvt-dt-"$$"-* /run/netns/vif*-nat; do
		[ -e "$n" ] && echo "${n##*/}"
	done
	return 0
}

# t_demo_through_a_pipe GEN [DEMO ARGS]: the demo of that generation.
t_demo_through_a_pipe() {
	local gen=$1 out rc=0 tmp=$scratch/tmp-$1 names0
	shift
	mkdir -p "$tmp"
	names0=$(netns_names)
	out=$(TMPDIR=$tmp QVT_DEMO_BUILD="$QNET_BUILD" QVT_DEMO_PREFIX=qvt-dt-$$ "$top/scripts/demo.sh" "$@" 2>&1 | cat) || rc=$?
	[ "$rc" -eq 0 ] || { echo "exit $rc:"; echo "$out"; return 1; }
	if grep -q $'\033' <<<"$out"; then
		echo "colour codes in a pipe:"
		grep -n $'\033' <<<"$out" | cat -v | head -5
		return 1
	fi
	local wants=("== A ping from work to the internet" "no answer" "dropped [1-9][0-9]* packets"
		"the chain already holds\|exits 100" "== Tearing everything down" "namespaces, daemons and files removed.")
	if [ "$gen" = nftables ]; then
		wants+=("== The network (nftables generation" "nft list set ip qubes allowed" '"vif3.0" . 10.137.0.10'
			"ip -br link show group 2" "vif4.0@" "nft list chain ip qubes dnat-dns"
			"ip daddr 10.139.1.1 udp dport 53 dnat to 198.51.100.2")
	else
		wants+=("== The network (x_tables generation" "iptables-legacy-save -t raw"
			"-A PREROUTING ! -s 10.137.0.11/32 -i vif4.0 -j DROP"
			"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 198.51.100.2")
	fi
	for want in "${wants[@]}"; do
		grep -q -- "$want" <<<"$out" || { echo "missing '$want' in:"; echo "$out"; return 1; }
	done
	if [ "$gen" = nftables ] && grep -q -- "-A PREROUTING\|PR-QBS" <<<"$out"; then
		echo "x_tables rules in the nftables demo:"
		echo "$out"
		return 1
	fi
	# The network ran in a mount namespace of its own: the host's
	# /run/netns never named any of it; and nothing of it remains.
	[ "$(netns_names)" = "$names0" ] || { echo "the host's /run/netns changed:"; diff <(echo "$names0") <(netns_names); return 1; }
	! pgrep -a -f "$tmp/" || { echo "processes of the demo's network remain"; return 1; }
	[ -z "$(ls -A "$tmp")" ] || { echo "files of the demo's network remain:"; ls -A "$tmp"; return 1; }
}

check "a build error is shown, and the demo stops" t_build_error_shown
check "the demo (nftables generation, the default) runs to the end into a pipe, without colour codes, and cleans up" \
	t_demo_through_a_pipe nftables
check "the demo with --xtables (x_tables generation) runs to the end into a pipe, without colour codes, and cleans up" \
	t_demo_through_a_pipe xtables --xtables

tap_end
