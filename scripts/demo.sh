#!/bin/bash
# The demo: a simulated Qubes network -- client VMs behind a firewall VM
# behind a net VM behind "the internet" -- built from network namespaces and
# driven only by vif-route-qubes and qubes-setup-dnat-to-ns, invoked as Xen
# and NetworkManager invoke them. Installs what is needed, builds, walks
# through it, tears it down. Needs root; never touches the host's own
# interfaces or rules.
#   scripts/demo.sh [--nftables|--xtables]
# The network domains run the nftables generation (Qubes R4.2+: a base
# ruleset with sets, client vifs in interface group 2) unless --xtables or
# QVT_DEMO_GEN=xtables asks for the x_tables one (Qubes R4.1, plain Xen).
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
top=$PWD
# shellcheck source=qubesnet.sh
source scripts/qubesnet.sh

gen=${QVT_DEMO_GEN:-nftables}
for a in "$@"; do
	case $a in
	--nftables) gen=nftables ;;
	--xtables) gen=xtables ;;
	-h | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "demo: unknown argument '$a' (--nftables or --xtables)" >&2
		exit 2
		;;
	esac
done
case $gen in
nftables | xtables) ;;
*)
	echo "demo: QVT_DEMO_GEN must be nftables or xtables, not '$gen'" >&2
	exit 2
	;;
esac
[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (it builds network namespaces)" >&2; exit 1; }
# The network lives in a mount namespace of the demo's own, with its own
# /run/netns (scripts/qubesnet.sh): this re-runs the demo there.
qnet_private "$self" "$@"

# quiet CMD...: CMD's output only when it fails -- then all of it.
quiet() {
	local log rc=0
	log=$(mktemp /tmp/qvt-demo-log.XXXXXX)
	"$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$log" >&2
		echo "demo: '$*' failed (exit $rc)" >&2
	fi
	rm -f "$log"
	return "$rc"
}

# QVT_DEMO_BUILD: an existing build to use (the tests run the demo on theirs).
build=${QVT_DEMO_BUILD:-$top/build-demo}
quiet scripts/install-deps.sh
if [ ! -f "$build/build.ninja" ]; then
	[ "$build" != "$top/build-demo" ] || rm -rf "$build" # half made by an interrupted run
	quiet meson setup "$build" --buildtype=release -Dtests=disabled
fi
quiet ninja -C "$build"

QNET_BUILD=$build
QNET_GEN=$gen
QNET_P=${QVT_DEMO_PREFIX:-qvt-demo}
trap qnet_down EXIT
qnet_down # leftovers of an interrupted run

# Colours for a terminal only, never into a pipe or a file.
if [ -t 1 ]; then
	bold=$'\033[1m' dim=$'\033[2m' off=$'\033[0m'
else
	bold= dim= off=
fi
section() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
say() { printf '%s\n' "$*"; }
# show DOMAIN CMD...: the command as typed in that VM, and its output.
show() {
	local d=$1
	shift
	printf '%s%s$ %s%s\n' "$dim" "$d" "$*" "$off"
	qnet_domain "$d" sh -c "$*" 2>&1 | sed 's/^/    /'
}

if [ "$gen" = nftables ]; then
	section "The network (nftables generation: Qubes R4.2, R4.3)"
else
	section "The network (x_tables generation: Qubes R4.1, plain Xen)"
fi
cat <<EOF
    upstream ("the internet": resolvers R1=$QNET_R1 and R2=$QNET_R2, host $QNET_HOST)
       │ $QNET_UP_WAN
       │ $QNET_NET_WAN (eth0)
    sys-net          net VM: real uplink, serves sys-firewall through vif2.0
       │ vif2.0: gateway $QNET_NET_GW
       │ eth0:   $QNET_FW_IP
    sys-firewall     proxy VM: client of sys-net, serves three VMs
       ├─ vif3.0 ── work       $QNET_WORK_IP, $QNET_WORK_IP6
       ├─ vif4.0 ── untrusted  $QNET_UNTR_IP (no IPv6)
       └─ vif5.0 ── anon       $QNET_ANON_IP, seen by itself as $QNET_ANON_VIP (NAT mode)

Every domain is a network namespace, every virtual NIC a veth pair named as
Xen names it. Each backend has its own xenstore with what the toolstack
writes, and its own QubesDB with what dom0 gives a Qubes VM. Every vif is
brought up by 'vif-route-qubes online type_if=vif' with the environment
libxl gives it; DNS is set by 'qubes-setup-dnat-to-ns' run from the
NetworkManager dispatcher hook.
EOF
if [ "$gen" = nftables ]; then
	cat <<EOF

Each network domain loads its base ruleset at boot, before any vif: in
'table ip qubes' and 'table ip6 qubes' the sets 'allowed' and 'downstream',
anti-spoofing for interface group 2 (client vifs), masquerade, and input and
forward rules that keep clients off the domain and off each other. The
uplink is group 1. The programs add set elements and the group, and the
DNS chain; they write no iptables rule. (scripts/demo.sh --xtables shows
the x_tables generation.)
EOF
else
	cat <<EOF

Each network domain loads its base rules with iptables-legacy-restore:
masquerade, and input and forward rules for 'vif+'. The programs add raw
PREROUTING rules per vif and the nat chain PR-QBS. (scripts/demo.sh without
--xtables shows the nftables generation.)
EOF
fi
say ""
say "Building it ..."
quiet qnet_up || { say "building the network failed"; exit 1; }
say "done."

section "What the toolstack wrote for sys-firewall's clients (its xenstore)"
qnet_xs sys-firewall xenstore-ls -f /local/domain/0 | grep -E '/(ip|mac) ' | sed 's/^/    /'

section "What dom0 gave sys-firewall itself (its QubesDB)"
say "Its gateway addresses as clients see them and the virtual DNS addresses --"
say "on every Qubes since 4.0 these live in QubesDB, not xenstore:"
qnet_qdb sys-firewall multiread /qubes- | sed 's/^/    /'

section "A client VM: work"
say "Address /32 (and /128), the gateway on-link, DNS to two virtual addresses"
say "that no machine owns -- every network domain rewrites them."
show work "ip -br addr show dev eth0"
show work "ip route"
show work "ip -6 route | grep -v ^fe80"

section "Its network domain: sys-firewall (set up by vif-route-qubes)"
say "One /32 route per client address, metric 32752 - domid; the gateway on"
say "each vif as /32; a permanent neighbour entry with the client's MAC."
show sys-firewall "ip route | grep -e vif -e default"
show sys-firewall "ip -br addr | grep vif"
show sys-firewall "ip neigh show nud permanent"

if [ "$gen" = nftables ]; then
	section "Anti-spoofing: the sets of sys-firewall's base ruleset, and the link group"
	say "Each vif may send from its client's address only (set 'allowed': vif . address),"
	say "and a client's address may arrive from its vif only (set 'downstream');"
	say "untrusted has no IPv6, so it has no IPv6 element and sends none."
	show sys-firewall "nft list set ip qubes allowed"
	show sys-firewall "nft list set ip6 qubes allowed"
	show sys-firewall "nft list set ip qubes downstream"
	say "The client vifs are in interface group 2, which sends their packets through"
	say "the anti-spoofing chain; the uplink is group 1:"
	show sys-firewall "ip -br link show group 2"
	show sys-firewall "ip -br link show group 1"
	show sys-firewall "nft list chain ip qubes prerouting; nft list chain ip qubes antispoof"
	say "No x_tables rule anywhere:"
	show sys-firewall "iptables-legacy-save | grep -c ^-A || true"

	section "DNS: the chain dnat-dns in table ip qubes on each hop"
	show sys-net "nft list chain ip qubes dnat-dns"
	show sys-firewall "nft list chain ip qubes dnat-dns"
else
	section "Anti-spoofing: raw PREROUTING on sys-firewall (iptables-legacy-save)"
	say "Each vif may send from its client's address only, and a client's address"
	say "may arrive from its vif only; untrusted has no IPv6, so it sends none."
	show sys-firewall "iptables-legacy-save -t raw | grep ^-A"
	show sys-firewall "ip6tables-legacy-save -t raw | grep ^-A"

	section "DNS: the DNAT chain PR-QBS on each hop"
	show sys-net "iptables-legacy-save -t nat | grep ^-A.PR-QBS"
	show sys-firewall "iptables-legacy-save -t nat | grep ^-A.PR-QBS"
fi
say "sys-net sends both virtual addresses to its uplink's resolver R1;"
say "sys-firewall's own resolvers are the virtual addresses, so it passes them on."

section "A ping from work to the internet, and where the source address changes"
b_net_work=$(qnet_seen sys-net "$QNET_WORK_IP") b_net_fw=$(qnet_seen sys-net "$QNET_FW_IP")
b_up_wan=$(qnet_seen upstream "$QNET_NET_WAN") b_up_fw=$(qnet_seen upstream "$QNET_FW_IP") b_up_work=$(qnet_seen upstream "$QNET_WORK_IP")
show work "ping -c 3 -i 0.2 $QNET_HOST | tail -2"
printf '    %-28s %s\n' "sys-net received from" "work $QNET_WORK_IP: $(($(qnet_seen sys-net "$QNET_WORK_IP") - b_net_work)) packets, sys-firewall $QNET_FW_IP: $(($(qnet_seen sys-net "$QNET_FW_IP") - b_net_fw)) packets"
printf '    %-28s %s\n' "upstream received from" "work: $(($(qnet_seen upstream "$QNET_WORK_IP") - b_up_work)), sys-firewall: $(($(qnet_seen upstream "$QNET_FW_IP") - b_up_fw)), sys-net $QNET_NET_WAN: $(($(qnet_seen upstream "$QNET_NET_WAN") - b_up_wan)) packets"
say "Each hop masquerades: upstream never learns downstream addresses."
show work "ping -6 -c 2 -i 0.2 $QNET_HOST6 | tail -2"

section "A DNS lookup from work through the virtual address $QNET_DNS1"
show work "dig +short @$QNET_DNS1 $QNET_NAME"
say "    (R1 answers $QNET_ANSWER_R1, R2 would answer $QNET_ANSWER_R2); R1's log:"
tail -2 "$QNET_DIR/dns-r1.log" | sed -E 's/^[A-Za-z]+ +[0-9]+ [0-9:]+ dnsmasq\[[0-9]+\]: /    /'

section "untrusted tries to send with work's address"
# spoof_drops: the counter of what drops untrusted's spoofed packets
spoof_drops() {
	if [ "$gen" = nftables ]; then
		qnet_nft_packets sys-firewall ip antispoof 'counter .* drop$'
	else
		qnet_rule_packets sys-firewall ipv4 raw PREROUTING "vif4.0 +\* +!$QNET_UNTR_IP "
	fi
}
drops0=$(spoof_drops)
qnet_exec untrusted ip addr add "$QNET_WORK_IP/32" dev eth0
if qnet_exec untrusted ping -c 3 -W 1 -I "$QNET_WORK_IP" "$QNET_HOST" >/dev/null 2>&1; then
	say "    unexpected: the spoofed ping was answered"
else
	say "    untrusted$ ping -I $QNET_WORK_IP $QNET_HOST: no answer"
fi
qnet_exec untrusted ip addr del "$QNET_WORK_IP/32" dev eth0
if [ "$gen" = nftables ]; then
	say "    sys-firewall's antispoof chain ('\"vif4.0\" . $QNET_WORK_IP' is not in 'allowed') dropped $(($(spoof_drops) - drops0)) packets"
else
	say "    sys-firewall's '-i vif4.0 ! -s $QNET_UNTR_IP -j DROP' dropped $(($(spoof_drops) - drops0)) packets"
fi
say "    and work cannot reach untrusted directly either:"
if [ "$gen" = nftables ]; then
	why="sys-firewall's forward chain drops new connections towards group 2"
else
	why="sys-firewall forwards vif+ to the uplink only"
fi
qnet_exec work ping -c 1 -W 1 "$QNET_UNTR_IP" >/dev/null 2>&1 && say "    unexpected: reached" || say "    work$ ping $QNET_UNTR_IP: no answer ($why)"

section "The uplink changes resolver: DHCP now names R2"
qnet_set_resolv sys-net "$QNET_R2"
say "    sys-net's /etc/resolv.conf: $(cat "$QNET_DIR/sys-net.resolv.conf")"
say "    NetworkManager runs its dispatcher hook: qubes-nmhook eth0 dns-change"
qnet_dispatch sys-net eth0 dns-change 2>&1 | sed 's/^/    /'
if [ "$gen" = nftables ]; then
	show sys-net "nft list chain ip qubes dnat-dns"
else
	show sys-net "iptables-legacy-save -t nat | grep ^-A.PR-QBS"
fi
say "    and the updates proxy is restarted: systemctl $(tail -1 "$QNET_DIR/systemctl.log")"
show work "dig +short @$QNET_DNS1 $QNET_NAME"
say "    The client changed nothing; its next query went to R2."
say "    Running the hook again changes nothing: the program exits 100 and nothing is committed."
qnet_domain sys-net qubes-setup-dnat-to-ns eth0 up >/dev/null 2>&1 || say "    qubes-setup-dnat-to-ns eth0 up: exit status $?"

section "An administrator's check: vif-route-qubes status for work's vif"
qnet_domain sys-firewall env vif=vif3.0 XENBUS_PATH=backend/vif/3/0 vif-route-qubes status | grep -E '^(ok|differs|missing|defeats|stale) +(route|rule|element|link|neighbour) ' | sed 's/^/    /'

say "    and every vif sys-firewall serves, at once (status --all; --json for monitoring):"
qnet_domain sys-firewall vif-route-qubes status --all | grep -E '^(vif[0-9.]+: |[0-9]+ vifs: )' | sed 's/^/    /'

section "work's VM shuts down: vif-route-qubes offline"
qnet_vif sys-firewall 3 offline
if [ "$gen" = nftables ]; then
	show sys-firewall "nft list set ip qubes allowed"
	show sys-firewall "ip -br link show group 2"
	show sys-firewall "ip route show $QNET_WORK_IP"
	say "    (no set element, group, route or neighbour entry left for work)"
else
	show sys-firewall "iptables-legacy-save -t raw | grep -c vif3.0 || true"
	show sys-firewall "ip route show $QNET_WORK_IP"
	say "    (no rules, route or neighbour entry left for work)"
fi

section "Tearing everything down"
qnet_down
trap - EXIT
say "namespaces, daemons and files removed."
