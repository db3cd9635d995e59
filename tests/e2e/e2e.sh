#!/bin/bash
# End-to-end tests through the simulated Qubes network (scripts/qubesnet.sh):
# client VMs behind sys-firewall behind sys-net behind an upstream with real
# DNS servers, every vif driven by vif-route-qubes and DNS by
# qubes-setup-dnat-to-ns exactly as Xen and NetworkManager would. TAP output.
# The whole list runs once per generation of network domain (SPEC.md "Two
# generations"): nftables (the project's R4.2+-style base ruleset in each
# netvm, no x_tables rule anywhere), then xtables (the R4.1 / plain Xen
# base rules); one TAP numbering, each name prefixed with its generation.
#   QNET_BUILD=<build dir> [QVT_E2E_GENS="nftables xtables"] tests/e2e/e2e.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../scripts/qubesnet.sh
source "$here/../../scripts/qubesnet.sh"
# shellcheck source=../lib/tap.sh
source "$here/../lib/tap.sh"
: "${QNET_BUILD:?set QNET_BUILD to a build directory}"
gens=${QVT_E2E_GENS:-nftables xtables}

tap_require_root "root, dnsmasq, dig, nft, unshare and nsenter" dnsmasq dig nft unshare nsenter
# A mount namespace of its own, with its own /run/netns (scripts/qubesnet.sh).
qnet_private "$0" "$@"

QNET_P=qvt-e2e-$$
trap qnet_down EXIT

pings() { qnet_exec "$1" ping -c 1 -W 2 "${@:2}" >/dev/null 2>&1; }
no_ping() { ! qnet_exec "$1" ping -c 1 -W 1 "${@:2}" >/dev/null 2>&1; }
# resolve CLIENT SERVER [dig options]: the answer for QNET_NAME, or nothing
# (dig +short still prints ";; ..." lines about timeouts).
resolve() { qnet_exec "$1" dig +short +time=2 +tries=1 "${@:3}" @"$2" "$QNET_NAME" 2>/dev/null | grep -v '^;' | head -1; }
expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1' ($3)"; }
raw_drops() { qnet_rule_packets "$1" "$2" raw PREROUTING "$3"; }
nft_gen() { [ "$QNET_GEN" = nftables ]; }

# --- the counters and state each generation keeps ---------------------------
# In the x_tables generation every vif has its own raw rules, each with its
# counter; in the nftables one the base ruleset's drop rules are shared by
# all vifs of the netvm (group 2 -> antispoof -> "counter drop").

# spoof_drops ip|ip6 VIF ADDR: what drops VIF's packets from other sources
# (ADDR: the client's own IPv4 address; "" for a family without address).
spoof_drops() {
	if nft_gen; then
		qnet_nft_packets sys-firewall "$1" antispoof 'counter .* drop$'
	elif [ "$1" = ip ] && [ -n "$3" ]; then
		raw_drops sys-firewall ipv4 "$2 +\* +!$3 "
	elif [ "$1" = ip ]; then
		raw_drops sys-firewall ipv4 "DROP +(all|0) +-- +$2 +\* +0.0.0.0/0 "
	else
		raw_drops sys-firewall ipv6 "$2 "
	fi
}

# uplink_drops ADDR: what drops a client's address arriving from elsewhere.
uplink_drops() {
	if nft_gen; then
		qnet_nft_packets sys-firewall ip prerouting '@downstream counter .* drop$'
	else
		raw_drops sys-firewall ipv4 "!vif\\+ +\\* +$1 "
	fi
}

# isolation_drops: what drops a client's new connection to another client.
isolation_drops() {
	if nft_gen; then
		qnet_nft_packets sys-firewall ip forward 'oifgroup 2 counter .* drop$'
	else
		qnet_rule_packets sys-firewall ipv4 filter FORWARD "DROP +(all|0) +-- +vif\+ +vif\+"
	fi
}

# set_elements DOMAIN ip|ip6 SET: the elements of that set of the domain's
# qubes table, one a line (nothing when it has none).
set_elements() {
	qnet_exec "$1" nft list set "$2" qubes "$3" | tr -d '\n\t' |
		sed -n 's/.*elements = {\([^}]*\)}.*/\1/p' | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sort
}
# elements DOMAIN ip|ip6 VIF: the `allowed` elements of VIF.
elements() { set_elements "$1" "$2" allowed | grep -F "\"$3\" . "; }
downstream() { set_elements "$1" "$2" downstream; }

# dns_chain DOMAIN: the DNS chain as listed, with rule handles in the
# nftables generation (a chain re-created changes them) and counters in
# the x_tables one.
dns_chain() {
	if nft_gen; then
		qnet_exec "$1" nft -a list chain ip qubes dnat-dns
	else
		qnet_domain "$1" iptables-legacy-save -c -t nat | grep -v '^#'
	fi
}

# --- routing and NAT through both hops --------------------------------------

t_ping_both_hops() {
	pings work "$QNET_HOST" || fail "work cannot ping $QNET_HOST"
}

t_nat_each_hop() {
	local up_wan up_fw up_work net_fw net_work
	up_wan=$(qnet_seen upstream "$QNET_NET_WAN")
	pings work "$QNET_HOST" || fail "ping failed"
	[ "$(qnet_seen upstream "$QNET_NET_WAN")" -gt "$up_wan" ] || fail "upstream did not see sys-net's uplink address"
	up_fw=$(qnet_seen upstream "$QNET_FW_IP")
	up_work=$(qnet_seen upstream "$QNET_WORK_IP")
	net_fw=$(qnet_seen sys-net "$QNET_FW_IP")
	net_work=$(qnet_seen sys-net "$QNET_WORK_IP")
	expect_eq "$up_fw" 0 "packets upstream saw from sys-firewall's address"
	expect_eq "$up_work" 0 "packets upstream saw from work's address"
	[ "$net_fw" -gt 0 ] || fail "sys-net never saw sys-firewall's address"
	expect_eq "$net_work" 0 "packets sys-net saw from work's address"
}

# --- DNS through the virtual addresses --------------------------------------
# Each DNS test notes every failed expectation in $bad and returns it, so
# that an early failure is not hidden by a later success, and the steps
# that restore the network still run.

t_dns_r1() {
	local bad=0
	expect_eq "$(resolve work "$QNET_DNS1")" "$QNET_ANSWER_R1" "DNS1 with resolver R1" || bad=1
	expect_eq "$(resolve work "$QNET_DNS2")" "$QNET_ANSWER_R1" "DNS2 with resolver R1 only" || bad=1
	expect_eq "$(resolve work "$QNET_DNS1" +tcp)" "$QNET_ANSWER_R1" "DNS1 over TCP" || bad=1
	expect_eq "$(resolve work "$QNET_DNS2" +tcp)" "$QNET_ANSWER_R1" "DNS2 over TCP" || bad=1
	return $bad
}

t_dns_switch_to_r2() {
	local bad=0
	: >"$QNET_DIR/systemctl.log"
	qnet_set_resolv sys-net "$QNET_R2"
	qnet_dispatch sys-net eth0 dns-change || { fail "the dispatcher hook failed"; bad=1; }
	expect_eq "$(resolve work "$QNET_DNS1")" "$QNET_ANSWER_R2" "DNS1 after the switch" || bad=1
	expect_eq "$(resolve work "$QNET_DNS2")" "$QNET_ANSWER_R2" "DNS2 after the switch" || bad=1
	grep -q "try-restart qubes-updates-proxy.service" "$QNET_DIR/systemctl.log" ||
		{ fail "the hook did not restart the updates proxy after a change"; bad=1; }
	return $bad
}

t_dns_two_resolvers() {
	local bad=0
	qnet_set_resolv sys-net "$QNET_R1" "$QNET_R2"
	qnet_dispatch sys-net eth0 dhcp4-change || { fail "the dispatcher hook failed"; bad=1; }
	expect_eq "$(resolve work "$QNET_DNS1")" "$QNET_ANSWER_R1" "DNS1 -> R1" || bad=1
	expect_eq "$(resolve work "$QNET_DNS2")" "$QNET_ANSWER_R2" "DNS2 -> R2" || bad=1
	return $bad
}

t_dns_unchanged_is_quiet() {
	local before bad=0
	: >"$QNET_DIR/systemctl.log"
	before=$(dns_chain sys-net)
	[ -n "$before" ] || { fail "sys-net has no DNS chain"; bad=1; }
	qnet_dispatch sys-net eth0 up || { fail "the dispatcher hook failed"; bad=1; }
	qnet_dispatch sys-net eth0 pre-down || { fail "an ignored action failed"; bad=1; }
	[ "$(dns_chain sys-net)" = "$before" ] ||
		{ fail "the DNS chain changed although the resolvers did not"; bad=1; }
	[ ! -s "$QNET_DIR/systemctl.log" ] || { fail "updates proxy restarted though DNS was unchanged"; bad=1; }
	return $bad
}

# dns_upstream udp|tcp: packets to port 53 that upstream received from
# sys-net's uplink, whatever their destination address.
dns_upstream() {
	qnet_port_seen upstream wan0 "$1" 53
}

# queries_answered: queries the two resolvers have logged so far.
queries_answered() {
	cat "$QNET_DIR/dns-r1.log" "$QNET_DIR/dns-r2.log" | grep -c 'query\['
}

t_dns_none_goes_nowhere() {
	local q udp tcp wan bad=0
	qnet_watch_port upstream wan0 udp 53
	qnet_watch_port upstream wan0 tcp 53
	qnet_set_resolv sys-net
	qnet_dispatch sys-net eth0 down || { fail "the dispatcher hook failed"; bad=1; }
	q=$(queries_answered)
	udp=$(dns_upstream udp)
	tcp=$(dns_upstream tcp)
	wan=$(qnet_seen upstream "$QNET_NET_WAN")
	for dns in "$QNET_DNS1" "$QNET_DNS2"; do
		expect_eq "$(resolve work "$dns")" "" "UDP query to $dns with no resolver" || bad=1
		expect_eq "$(resolve work "$dns" +tcp)" "" "TCP query to $dns with no resolver" || bad=1
	done
	expect_eq "$(dns_upstream udp)" "$udp" "UDP packets to port 53 reaching upstream with no resolver" || bad=1
	expect_eq "$(dns_upstream tcp)" "$tcp" "TCP packets to port 53 reaching upstream with no resolver" || bad=1
	expect_eq "$(qnet_seen upstream "$QNET_NET_WAN")" "$wan" "packets from sys-net reaching upstream" || bad=1
	expect_eq "$(queries_answered)" "$q" "queries reaching the resolvers" || bad=1
	if nft_gen; then
		# what SPEC asks for: drop rules for both addresses and protocols
		for dns in "$QNET_DNS1" "$QNET_DNS2"; do
			for p in udp tcp; do
				qnet_exec sys-net nft list chain ip qubes dnat-dns | grep -q "ip daddr $dns $p dport 53 .*drop" ||
					{ fail "no '$dns $p dport 53 drop' in dnat-dns"; bad=1; }
			done
		done
		[ $bad -eq 0 ] || qnet_exec sys-net nft list chain ip qubes dnat-dns
	else
		[ $bad -eq 0 ] || qnet_domain sys-net iptables-legacy-save -c -t nat | grep PR-QBS
	fi
	# and back: the same counters see the queries again
	qnet_set_resolv sys-net "$QNET_R1"
	qnet_dispatch sys-net eth0 up || { fail "the dispatcher hook failed"; bad=1; }
	expect_eq "$(resolve work "$QNET_DNS1")" "$QNET_ANSWER_R1" "DNS1 with R1 back" || bad=1
	expect_eq "$(resolve work "$QNET_DNS2" +tcp)" "$QNET_ANSWER_R1" "DNS2 over TCP with R1 back" || bad=1
	[ "$(dns_upstream udp)" -gt "$udp" ] || { fail "upstream's UDP port 53 counter does not count"; bad=1; }
	[ "$(dns_upstream tcp)" -gt "$tcp" ] || { fail "upstream's TCP port 53 counter does not count"; bad=1; }
	return $bad
}

# --- anti-spoofing ----------------------------------------------------------

t_spoof_v4() {
	local drops0 drops1 up0
	drops0=$(spoof_drops ip vif4.0 "$QNET_UNTR_IP")
	up0=$(qnet_seen upstream "$QNET_NET_WAN")
	qnet_exec untrusted ip addr add "$QNET_WORK_IP/32" dev eth0
	no_ping untrusted -I "$QNET_WORK_IP" "$QNET_HOST" || { qnet_exec untrusted ip addr del "$QNET_WORK_IP/32" dev eth0; fail "a ping from work's address got an answer"; }
	qnet_exec untrusted ip addr del "$QNET_WORK_IP/32" dev eth0
	drops1=$(spoof_drops ip vif4.0 "$QNET_UNTR_IP")
	[ "$drops1" -gt "$drops0" ] || fail "the anti-spoofing DROP counter did not rise ($drops0 -> $drops1)"
	if nft_gen; then
		expect_eq "$(elements sys-firewall ip vif4.0)" "\"vif4.0\" . $QNET_UNTR_IP" "untrusted's elements in allowed"
	fi
	expect_eq "$(qnet_seen upstream "$QNET_NET_WAN")" "$up0" "packets reaching upstream"
	pings untrusted "$QNET_HOST" || fail "untrusted's own address no longer works"
}

t_spoof_v6() {
	local drops0 drops1
	drops0=$(spoof_drops ip6 vif4.0 "")
	qnet_exec untrusted ip -6 addr add "$QNET_WORK_IP6/128" dev eth0 nodad
	qnet_exec untrusted ip -6 route add "$QNET_FW_GW6" dev eth0
	qnet_exec untrusted ip -6 route add default via "$QNET_FW_GW6" dev eth0
	no_ping untrusted -6 -I "$QNET_WORK_IP6" "$QNET_HOST6"
	local r=$?
	qnet_exec untrusted ip -6 route flush dev eth0 >/dev/null 2>&1
	qnet_exec untrusted ip -6 addr del "$QNET_WORK_IP6/128" dev eth0
	[ $r -eq 0 ] || fail "a ping6 from work's address got an answer"
	drops1=$(spoof_drops ip6 vif4.0 "")
	[ "$drops1" -gt "$drops0" ] || fail "the IPv6 DROP counter did not rise ($drops0 -> $drops1)"
}

t_spoof_from_uplink() {
	local drops0 drops1
	drops0=$(uplink_drops "$QNET_WORK_IP")
	qnet_exec sys-net ip addr add "$QNET_WORK_IP/32" dev lo
	no_ping sys-net -I "$QNET_WORK_IP" "$QNET_FW_IP"
	local r=$?
	qnet_exec sys-net ip addr del "$QNET_WORK_IP/32" dev lo
	[ $r -eq 0 ] || fail "sys-firewall answered a packet from its uplink carrying work's address"
	drops1=$(uplink_drops "$QNET_WORK_IP")
	[ "$drops1" -gt "$drops0" ] || fail "the drop counter for client addresses from elsewhere did not rise ($drops0 -> $drops1)"
	if nft_gen; then
		downstream sys-firewall ip | grep -qx "$QNET_WORK_IP" || fail "work's address is not in sys-firewall's downstream set"
	fi
}

t_no_ipv6_client() {
	local addr=fd09:24ef:4179::a89:b drops0 drops1
	drops0=$(spoof_drops ip6 vif4.0 "")
	qnet_exec untrusted ip -6 addr add "$addr/128" dev eth0 nodad
	qnet_exec untrusted ip -6 route add "$QNET_FW_GW6" dev eth0
	qnet_exec untrusted ip -6 route add default via "$QNET_FW_GW6" dev eth0
	no_ping untrusted -6 "$QNET_HOST6"
	local r1=$?
	no_ping untrusted -6 "$QNET_FW_GW6"
	local r2=$?
	qnet_exec untrusted ip -6 route flush dev eth0 >/dev/null 2>&1
	qnet_exec untrusted ip -6 addr del "$addr/128" dev eth0
	[ $r1 -eq 0 ] || fail "untrusted (no IPv6 address assigned) reached $QNET_HOST6"
	[ $r2 -eq 0 ] || fail "untrusted (no IPv6 address assigned) reached its IPv6 gateway"
	drops1=$(spoof_drops ip6 vif4.0 "")
	[ "$drops1" -gt "$drops0" ] || fail "the IPv6 drop-all counter did not rise"
	if nft_gen; then
		expect_eq "$(elements sys-firewall ip6 vif4.0)" "" "untrusted's IPv6 elements"
	fi
}

# A client whose vif has no address (ip empty) sends nothing at all: not
# with its old address, not with another client's, not to its gateway.
t_empty_ip_drops_all() {
	local d4 d6 up0
	qnet_vif sys-firewall 4 offline || fail "offline failed"
	qnet_xs sys-firewall xenstore-write backend/vif/4/0/ip ""
	qnet_vif sys-firewall 4 online || fail "online with no address failed"
	if nft_gen; then
		# no element at all: group 2 alone drops everything it sends
		expect_eq "$(elements sys-firewall ip vif4.0)" "" "IPv4 elements of a vif with no address"
		expect_eq "$(elements sys-firewall ip6 vif4.0)" "" "IPv6 elements of a vif with no address"
		expect_eq "$(qnet_group sys-firewall vif4.0)" 2 "the group of a vif with no address"
		d4=$(spoof_drops ip vif4.0 "")
	else
		d4=$(spoof_drops ip vif4.0 "")
		[ -n "$d4" ] || fail "no '-i vif4.0 -j DROP' in the IPv4 raw table"
		d6=$(raw_drops sys-firewall ipv6 "DROP +(all|0) +(-- +)?vif4.0 +\\* +::/0 ")
		[ -n "$d6" ] || fail "no '-i vif4.0 -j DROP' in the IPv6 raw table"
	fi
	# No answer could come back (no route to it): what counts is that
	# nothing it sent went on, with its old address or work's.
	up0=$(qnet_seen upstream "$QNET_NET_WAN")
	no_ping untrusted "$QNET_HOST" || fail "untrusted (no address assigned) reached $QNET_HOST"
	no_ping untrusted "$QNET_FW_GW" || fail "untrusted (no address assigned) reached its gateway"
	qnet_exec untrusted ip addr add "$QNET_WORK_IP/32" dev eth0
	no_ping untrusted -I "$QNET_WORK_IP" "$QNET_HOST" || fail "untrusted reached $QNET_HOST with work's address"
	qnet_exec untrusted ip addr del "$QNET_WORK_IP/32" dev eth0
	expect_eq "$(qnet_seen upstream "$QNET_NET_WAN")" "$up0" "packets reaching upstream from a vif with no address"
	[ "$(spoof_drops ip vif4.0 "")" -ge $((${d4:-0} + 3)) ] 2>/dev/null ||
		fail "the drop counter did not count the 3 pings"
	# back to its address
	qnet_xs sys-firewall xenstore-write backend/vif/4/0/ip "$QNET_UNTR_IP"
	qnet_vif sys-firewall 4 offline || fail "offline failed"
	qnet_vif sys-firewall 4 online || fail "online failed"
	pings untrusted "$QNET_HOST" || fail "untrusted does not come back with its address"
}

# --- NAT mode: anon (Qubes' net.fake-ip, as Whonix uses it) ----------------
# anon knows itself as QNET_ANON_VIP behind QNET_ANON_VGW only; sys-firewall
# knows it by its real QNET_ANON_IP. vif-route-qubes puts its Xen vif in a
# namespace vif5.0-nat that translates, and serves a veth vif5.0 instead.

NAT_NS=vif5.0-nat
ANON_SPOOF=10.152.152.99 # neither of anon's addresses

# nat_exec CMD...: CMD inside anon's NAT namespace.
nat_exec() { ip netns exec "$NAT_NS" "$@"; }
# A real namespace, not merely a name (`ip netns` lists plain files too).
nat_ns_exists() { nat_exec true 2>/dev/null; }
# anon's NIC comes back as Xen makes it when the VM starts (it dies with
# the namespace at offline).
anon_plug() { qnet_plug sys-firewall 5 anon "$QNET_ANON_MAC" "$QNET_ANON_VIP" "$QNET_ANON_VGW"; }
# nat_namespaces: the VIF-nat namespaces that exist, one a line.
nat_namespaces() {
	for n in /run/netns/vif*-nat; do
		[ -e "$n" ] && echo "${n##*/}"
	done
	return 0
}
# link_field CMD...: from `CMD` (an `ip -o link show dev IF`), "INDEX PEER
# MAC NETNS": PEER the index after '@if' (or '-'), NETNS the name of the
# namespace the peer is in (or '-').
link_field() {
	"$@" 2>/dev/null | awk '{ i = $1; sub(/:$/, "", i); p = "-"; n = "-"
		if ($2 ~ /@if[0-9]+:$/) { p = $2; sub(/.*@if/, "", p); sub(/:$/, "", p) }
		for (k = 1; k < NF; k++) { if ($k == "link/ether") m = $(k + 1); if ($k == "link-netns") n = $(k + 1) }
		print i, p, m, n; exit }'
}
# paired_with_anon: sys-firewall's vif5.0 is the Xen vif whose other end is
# anon's eth0 (so not NAT mode's veth).
paired_with_anon() {
	local fw anon
	read -r -a fw < <(link_field qnet_exec sys-firewall ip -o link show dev vif5.0)
	read -r -a anon < <(link_field qnet_exec anon ip -o link show dev eth0)
	[ ${#fw[@]} -eq 4 ] && [ ${#anon[@]} -eq 4 ] && [ "${anon[1]}" = "${fw[0]}" ] && [ "${anon[3]}" = "$(qnet_ns sys-firewall)" ]
}
# anon_drops: what drops packets that reach sys-firewall from vif5.0 with
# a source other than anon's real address.
anon_drops() { spoof_drops ip vif5.0 "$QNET_ANON_IP"; }
# no_state_of_anon: offline left nothing of anon's in sys-firewall.
no_state_of_anon() {
	if nft_gen; then
		expect_eq "$(elements sys-firewall ip vif5.0)" "" "IPv4 elements of vif5.0 in allowed"
		expect_eq "$(elements sys-firewall ip6 vif5.0)" "" "IPv6 elements of vif5.0 in allowed"
		! downstream sys-firewall ip | grep -qx "$QNET_ANON_IP" || fail "anon's address remains in downstream"
	else
		! qnet_domain sys-firewall iptables-legacy-save -t raw | grep -q -e 'vif5\.0' -e "$QNET_ANON_IP" ||
			fail "IPv4 raw rules of vif5.0 remain"
		! qnet_domain sys-firewall ip6tables-legacy-save -t raw | grep -q -e 'vif5\.0' -e "$QNET_ANON_IP6" ||
			fail "IPv6 raw rules of vif5.0 remain"
	fi
	expect_eq "$(qnet_exec sys-firewall ip route show "$QNET_ANON_IP")" "" "the route to anon"
	expect_eq "$(qnet_exec sys-firewall ip neigh show "$QNET_ANON_IP")" "" "the neighbour entry of anon"
}

t_anon_ping_both_hops() {
	pings anon "$QNET_HOST" || fail "anon cannot ping $QNET_HOST (NAT namespaces: $(nat_namespaces | tr '\n' ' '))"
}

t_anon_dns() {
	expect_eq "$(resolve anon "$QNET_DNS1")" "$QNET_ANSWER_R1" "anon's query to DNS1"
	expect_eq "$(resolve anon "$QNET_DNS1" +tcp)" "$QNET_ANSWER_R1" "anon's query to DNS1 over TCP"
}

# Where each of anon's addresses is seen: the real one at sys-firewall
# only, the visible one nowhere. Packets with the visible address reaching
# sys-firewall would have been counted, or dropped by its anti-spoofing.
t_anon_addresses_seen() {
	local fw0 drops0 d
	fw0=$(qnet_seen sys-firewall "$QNET_ANON_IP")
	drops0=$(anon_drops)
	pings anon "$QNET_HOST" || fail "anon cannot ping $QNET_HOST"
	[ "$(qnet_seen sys-firewall "$QNET_ANON_IP")" -gt "$fw0" ] || fail "sys-firewall never saw anon's real address"
	expect_eq "$(qnet_seen sys-firewall "$QNET_ANON_VIP")" 0 "packets sys-firewall saw from anon's visible address"
	expect_eq "$(anon_drops)" "$drops0" "sys-firewall's anti-spoofing drops while anon pinged"
	for d in sys-net upstream; do
		expect_eq "$(qnet_seen "$d" "$QNET_ANON_VIP")" 0 "packets $d saw from anon's visible address"
		expect_eq "$(qnet_seen "$d" "$QNET_ANON_IP")" 0 "packets $d saw from anon's real address"
	done
}

t_anon_netvm_reaches() {
	pings sys-firewall "$QNET_ANON_IP" || fail "sys-firewall gets no answer from anon's real address"
}

# Client isolation holds for the veth that stands for anon's vif too.
t_anon_isolated() {
	local d0
	d0=$(isolation_drops)
	no_ping work "$QNET_ANON_IP" || fail "work reached anon"
	no_ping anon "$QNET_WORK_IP" || fail "anon reached work"
	no_ping anon "$QNET_UNTR_IP" || fail "anon reached untrusted"
	[ "$(isolation_drops)" -ge $((d0 + 3)) ] || fail "the client -> client DROP counter did not count the 3 pings ($d0 -> $(isolation_drops))"
	if nft_gen; then
		expect_eq "$(qnet_group sys-firewall vif5.0)" 2 "vif5.0's interface group"
	fi
}

# anon sends with its real address, and with one of neither: nothing gets
# out of its NAT namespace (sys-firewall would accept the real one: the
# translation is all that stops it). Its gateway's MAC is pinned, so each
# packet leaves anon whatever ARP from such a source gets.
t_anon_spoof() {
	local real0 drops0 up0 q0 gwmac src
	pings anon "$QNET_HOST" || fail "anon's own address does not work"
	gwmac=$(qnet_exec anon ip neigh show "$QNET_ANON_VGW" dev eth0 |
		awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") { print $(i + 1); exit } }')
	[ -n "$gwmac" ] || { fail "anon has not resolved its gateway $QNET_ANON_VGW"; return; }
	qnet_exec anon ip neigh replace "$QNET_ANON_VGW" lladdr "$gwmac" dev eth0 nud permanent
	qnet_watch sys-firewall "$ANON_SPOOF"
	real0=$(qnet_seen sys-firewall "$QNET_ANON_IP")
	drops0=$(anon_drops)
	up0=$(qnet_seen upstream "$QNET_NET_WAN")
	q0=$(queries_answered)
	for src in "$QNET_ANON_IP" "$ANON_SPOOF"; do
		qnet_exec anon ip addr add "$src/32" dev eth0
		no_ping anon -I "$src" "$QNET_HOST" || fail "a ping from $src got an answer"
		no_ping anon -I "$src" "$QNET_ANON_VGW" || fail "a ping from $src to anon's gateway got an answer"
		expect_eq "$(resolve anon "$QNET_DNS1" -b "$src")" "" "a DNS query (UDP) from $src"
		qnet_exec anon ip addr del "$src/32" dev eth0
	done
	qnet_exec anon ip neigh del "$QNET_ANON_VGW" dev eth0
	expect_eq "$(qnet_seen sys-firewall "$QNET_ANON_IP")" "$real0" "packets sys-firewall saw from $QNET_ANON_IP while anon sent with it"
	expect_eq "$(qnet_seen sys-firewall "$ANON_SPOOF")" 0 "packets sys-firewall saw from $ANON_SPOOF"
	expect_eq "$(anon_drops)" "$drops0" "sys-firewall's anti-spoofing drops (nothing reached it)"
	expect_eq "$(qnet_seen upstream "$QNET_NET_WAN")" "$up0" "packets reaching upstream"
	expect_eq "$(queries_answered)" "$q0" "queries reaching the resolvers"
	# the same counter counts what anon sends with its own address
	pings anon "$QNET_HOST" || fail "anon's own address no longer works"
	[ "$(qnet_seen sys-firewall "$QNET_ANON_IP")" -gt "$real0" ] || fail "sys-firewall's counter of $QNET_ANON_IP does not count"
}

# The toolstack gave anon an IPv6 address too; in NAT mode it gets none.
t_anon_no_ipv6() {
	local seen0 up0
	expect_eq "$(qnet_exec sys-firewall ip -6 route show "$QNET_ANON_IP6")" "" "sys-firewall's IPv6 route to anon"
	expect_eq "$(qnet_exec sys-firewall ip -6 neigh show "$QNET_ANON_IP6")" "" "sys-firewall's IPv6 neighbour entry of anon"
	expect_eq "$(qnet_exec sys-firewall ip -6 -o addr show dev vif5.0 scope global)" "" "IPv6 addresses on vif5.0"
	if nft_gen; then
		expect_eq "$(elements sys-firewall ip6 vif5.0)" "" "vif5.0's IPv6 elements in allowed"
		! downstream sys-firewall ip6 | grep -qx "$QNET_ANON_IP6" || fail "anon's IPv6 address is in downstream"
	else
		! qnet_domain sys-firewall ip6tables-legacy-save -t raw | grep -q -- "$QNET_ANON_IP6" ||
			fail "an IPv6 raw rule names anon's IPv6 address"
		qnet_domain sys-firewall ip6tables-legacy-save -t raw | grep -qx -- "-A PREROUTING -i vif5.0 -j DROP" ||
			fail "no '-i vif5.0 -j DROP' in the IPv6 raw table (a family without address)"
	fi
	seen0=$(qnet_seen sys-firewall "$QNET_ANON_IP6")
	up0=$(qnet_seen upstream "$QNET_NET_WAN6")
	qnet_exec anon ip -6 addr add "$QNET_ANON_IP6/128" dev eth0 nodad
	qnet_exec anon ip -6 route add "$QNET_FW_GW6" dev eth0
	qnet_exec anon ip -6 route add default via "$QNET_FW_GW6" dev eth0
	no_ping anon -6 "$QNET_HOST6"
	local r1=$?
	no_ping anon -6 "$QNET_FW_GW6"
	local r2=$?
	qnet_exec anon ip -6 route flush dev eth0 >/dev/null 2>&1
	qnet_exec anon ip -6 addr del "$QNET_ANON_IP6/128" dev eth0
	[ $r1 -eq 0 ] || fail "anon reached $QNET_HOST6 over IPv6"
	[ $r2 -eq 0 ] || fail "anon reached its IPv6 gateway"
	expect_eq "$(qnet_seen sys-firewall "$QNET_ANON_IP6")" "$seen0" "IPv6 packets sys-firewall saw from anon"
	expect_eq "$(qnet_seen upstream "$QNET_NET_WAN6")" "$up0" "IPv6 packets reaching upstream"
}

# What online built (SPEC "NAT mode"): the namespace holds the Xen vif
# (anon's eth0's peer) and vif5.0-p, the peer of sys-firewall's veth vif5.0.
t_anon_namespace() {
	local xen p fw anon
	expect_eq "$(nat_namespaces)" "$NAT_NS" "the NAT namespaces"
	nat_ns_exists || { fail "no namespace $NAT_NS"; return; }
	read -r -a xen < <(link_field nat_exec ip -o link show dev vif5.0)
	read -r -a p < <(link_field nat_exec ip -o link show dev vif5.0-p)
	read -r -a fw < <(link_field qnet_exec sys-firewall ip -o link show dev vif5.0)
	read -r -a anon < <(link_field qnet_exec anon ip -o link show dev eth0)
	[ ${#xen[@]} -eq 4 ] || { fail "no vif5.0 in $NAT_NS"; return; }
	[ ${#p[@]} -eq 4 ] || { fail "no vif5.0-p in $NAT_NS"; return; }
	[ ${#fw[@]} -eq 4 ] || { fail "no vif5.0 in sys-firewall"; return; }
	expect_eq "${anon[1]} ${anon[3]}" "${xen[0]} $NAT_NS" "anon's eth0's peer: vif5.0 in $NAT_NS"
	expect_eq "${fw[1]} ${fw[3]}" "${p[0]} $NAT_NS" "sys-firewall's vif5.0's peer: vif5.0-p in $NAT_NS"
	expect_eq "${p[1]} ${p[3]}" "${fw[0]} $(qnet_ns sys-firewall)" "vif5.0-p's peer: sys-firewall's vif5.0"
	qnet_exec sys-firewall ip -d link show dev vif5.0 | grep -qw veth || fail "sys-firewall's vif5.0 is not a veth"
	expect_eq "${fw[2]}" fe:ff:ff:ff:ff:ff "the MAC of sys-firewall's vif5.0"
	expect_eq "${p[2]}" "$QNET_ANON_MAC" "the MAC of vif5.0-p"
	expect_eq "$(qnet_exec sys-firewall cat /proc/sys/net/ipv6/conf/vif5.0/disable_ipv6)" 1 "disable_ipv6 on sys-firewall's vif5.0"
	expect_eq "$(nat_exec cat /proc/sys/net/ipv6/conf/vif5.0-p/disable_ipv6)" 1 "disable_ipv6 on vif5.0-p"
	# inside: the real address, the visible gateway, the two neighbours
	nat_exec ip -4 -o addr show dev vif5.0-p | grep -q " $QNET_ANON_IP/" || fail "vif5.0-p lacks $QNET_ANON_IP"
	nat_exec ip -4 -o addr show dev vif5.0 | grep -q " $QNET_ANON_VGW/" || fail "the Xen vif lacks $QNET_ANON_VGW"
	nat_exec ip neigh show "$QNET_ANON_VIP" dev vif5.0 | grep -q "lladdr $QNET_ANON_MAC PERMANENT" ||
		fail "no permanent neighbour $QNET_ANON_VIP -> $QNET_ANON_MAC on the Xen vif"
	nat_exec ip neigh show "$QNET_FW_GW" dev vif5.0-p | grep -q "lladdr fe:ff:ff:ff:ff:ff PERMANENT" ||
		fail "no permanent neighbour $QNET_FW_GW -> fe:ff:ff:ff:ff:ff on vif5.0-p"
	expect_eq "$(nat_exec sysctl -n net.ipv4.ip_forward)" 1 "forwarding in $NAT_NS"
	# sys-firewall serves the veth as any vif, with the real address
	qnet_exec sys-firewall ip route show "$QNET_ANON_IP" | grep -q "dev vif5.0 .*metric 32747" ||
		fail "no route $QNET_ANON_IP dev vif5.0 metric 32747"
	qnet_exec sys-firewall ip neigh show "$QNET_ANON_IP" dev vif5.0 | grep -q "lladdr $QNET_ANON_MAC PERMANENT" ||
		fail "no permanent neighbour $QNET_ANON_IP -> $QNET_ANON_MAC on vif5.0"
	qnet_exec sys-firewall ip -4 -o addr show dev vif5.0 | grep -q " $QNET_FW_GW/32 " || fail "vif5.0 lacks the gateway"
	if nft_gen; then
		expect_eq "$(elements sys-firewall ip vif5.0)" "\"vif5.0\" . $QNET_ANON_IP" "vif5.0's elements in allowed"
		downstream sys-firewall ip | grep -qx "$QNET_ANON_IP" || fail "anon's real address is not in downstream"
	else
		qnet_domain sys-firewall iptables-legacy-save -t raw | grep -qx -- "-A PREROUTING ! -s $QNET_ANON_IP/32 -i vif5.0 -j DROP" ||
			fail "no raw rule dropping what vif5.0 sends from other addresses"
	fi
}

# offline takes the namespace away (and with it the veth pair and the Xen
# vif), and everything else of anon's; the VM starts again: a new vif, and
# online, twice, gives it back its network.
t_anon_offline_and_back() {
	local ino
	ino=$(stat -L -c %i "/run/netns/$NAT_NS" 2>/dev/null)
	qnet_vif sys-firewall 5 offline || fail "offline failed"
	expect_eq "$(nat_namespaces)" "" "the NAT namespaces after offline"
	[ -n "$ino" ] || fail "there was no namespace $NAT_NS before offline"
	[ -z "$ino" ] || ! readlink /proc/[0-9]*/ns/net 2>/dev/null | grep -qx "net:\[$ino\]" ||
		fail "a process is still in the namespace"
	! qnet_exec sys-firewall ip link show dev vif5.0-p >/dev/null 2>&1 || fail "vif5.0-p is in sys-firewall"
	! qnet_exec sys-firewall ip link show dev vif5.0 >/dev/null 2>&1 || paired_with_anon ||
		fail "NAT mode's veth vif5.0 remains in sys-firewall: $(qnet_exec sys-firewall ip -o link show dev vif5.0)"
	no_state_of_anon
	no_ping anon "$QNET_HOST" || fail "anon still reaches the host while offline"
	anon_plug || fail "anon's vif could not be made again"
	qnet_vif sys-firewall 5 online || fail "online failed"
	qnet_vif sys-firewall 5 online || fail "a second online failed"
	expect_eq "$(nat_namespaces)" "$NAT_NS" "the NAT namespaces after online"
	pings anon "$QNET_HOST" || fail "anon does not reach the host after coming back"
	expect_eq "$(resolve anon "$QNET_DNS1")" "$QNET_ANSWER_R1" "anon's DNS after coming back"
	pings sys-firewall "$QNET_ANON_IP" || fail "sys-firewall does not reach anon after coming back"
	if nft_gen; then
		expect_eq "$(elements sys-firewall ip vif5.0)" "\"vif5.0\" . $QNET_ANON_IP" "vif5.0's elements after online twice"
		expect_eq "$(elements sys-firewall ip6 vif5.0)" "" "vif5.0's IPv6 elements after online twice"
	else
		expect_eq "$(qnet_domain sys-firewall iptables-legacy-save -t raw | grep -c -- '-i vif5\.0 ')" 1 \
			"IPv4 raw rules of vif5.0 after online twice"
	fi
}

# What a vif-route-qubes online killed early in NAT mode's step leaves
# (SPEC: the next online repairs it): a name under /run/netns with no
# namespace mounted on it, an empty namespace, the namespace with the Xen
# vif moved in and no veth yet. Each time online brings anon back.
t_anon_online_repairs() {
	local state fw p
	for state in "a plain file" "an empty namespace" "the Xen vif in it"; do
		qnet_vif sys-firewall 5 offline 2>/dev/null || fail "offline failed"
		anon_plug || { fail "anon's vif could not be made again"; return; }
		case $state in
		"a plain file") : >"/run/netns/$NAT_NS" ;;
		*) ip netns add "$NAT_NS" ;;
		esac
		[ "$state" != "the Xen vif in it" ] || qnet_exec sys-firewall ip link set vif5.0 netns "$NAT_NS"
		qnet_vif sys-firewall 5 online 2>/dev/null || fail "online after $state failed"
		expect_eq "$(qnet_xs sys-firewall xenstore-read backend/vif/5/0/hotplug-status)" connected "hotplug-status after $state"
		pings anon "$QNET_HOST" || fail "anon does not reach the host after $state"
		read -r -a fw < <(link_field qnet_exec sys-firewall ip -o link show dev vif5.0)
		read -r -a p < <(link_field nat_exec ip -o link show dev vif5.0-p)
		if [ ${#fw[@]} -ne 4 ] || [ ${#p[@]} -ne 4 ] || [ "${fw[1]} ${fw[3]}" != "${p[0]} $NAT_NS" ]; then
			fail "after $state, sys-firewall's vif5.0 is not the peer of vif5.0-p in $NAT_NS"
		fi
	done
}

# --- isolation ----------------------------------------------------------------

t_client_to_client_blocked() {
	local d0 d1
	d0=$(isolation_drops)
	no_ping work "$QNET_UNTR_IP" || fail "work reached untrusted directly"
	no_ping untrusted "$QNET_WORK_IP" || fail "untrusted reached work directly"
	d1=$(isolation_drops)
	[ "$d1" -gt "$d0" ] || fail "the client -> client DROP counter did not rise ($d0 -> $d1)"
	if nft_gen; then
		# what the base ruleset's isolation rests on
		expect_eq "$(qnet_group sys-firewall vif3.0)" 2 "vif3.0's interface group"
		expect_eq "$(qnet_group sys-firewall vif4.0)" 2 "vif4.0's interface group"
	fi
}

t_no_port_open() {
	# Listeners on every address of both backends: the firewall, not the
	# absence of a service, must keep clients out.
	qnet_exec sys-firewall dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --user=root --group=root \
		--port=53 --address="/$QNET_NAME/192.0.2.99" --pid-file="$QNET_DIR/listen-fw.pid"
	qnet_exec sys-net dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --user=root --group=root \
		--port=5353 --address="/$QNET_NAME/192.0.2.98" --pid-file="$QNET_DIR/listen-net.pid"
	expect_eq "$(resolve sys-firewall 127.0.0.1)" 192.0.2.99 "the listener itself works"
	expect_eq "$(resolve work "$QNET_FW_GW")" "" "UDP 53 on sys-firewall from work"
	expect_eq "$(resolve work "$QNET_FW_GW" +tcp)" "" "TCP 53 on sys-firewall from work"
	expect_eq "$(resolve untrusted "$QNET_FW_GW")" "" "UDP 53 on sys-firewall from untrusted"
	expect_eq "$(resolve sys-firewall "$QNET_NET_GW" -p 5353)" "" "UDP 5353 on sys-net from sys-firewall"
	expect_eq "$(resolve sys-firewall "$QNET_NET_GW" -p 5353 +tcp)" "" "TCP 5353 on sys-net from sys-firewall"
	! qnet_exec work timeout 3 bash -c "exec 3<>/dev/tcp/$QNET_FW_GW/22" 2>/dev/null || fail "TCP 22 on sys-firewall open to work"
	pings work "$QNET_FW_GW" || fail "ICMP to the gateway should be answered"
	kill "$(cat "$QNET_DIR/listen-fw.pid")" "$(cat "$QNET_DIR/listen-net.pid")"
}

# --- IPv6 -------------------------------------------------------------------

t_ipv6_both_hops() {
	local up_wan up_fw up_work
	up_wan=$(qnet_seen upstream "$QNET_NET_WAN6")
	pings work -6 "$QNET_HOST6" || fail "work cannot ping6 $QNET_HOST6"
	[ "$(qnet_seen upstream "$QNET_NET_WAN6")" -gt "$up_wan" ] || fail "upstream did not see sys-net's IPv6 uplink address"
	up_fw=$(qnet_seen upstream "$QNET_FW_IP6")
	up_work=$(qnet_seen upstream "$QNET_WORK_IP6")
	expect_eq "$up_fw" 0 "IPv6 packets upstream saw from sys-firewall"
	expect_eq "$up_work" 0 "IPv6 packets upstream saw from work"
	[ "$(qnet_seen sys-net "$QNET_FW_IP6")" -gt 0 ] || fail "sys-net never saw sys-firewall's IPv6 address"
	expect_eq "$(qnet_seen sys-net "$QNET_WORK_IP6")" 0 "IPv6 packets sys-net saw from work"
}

# --- offline and back -------------------------------------------------------

t_offline_and_back() {
	qnet_vif sys-firewall 3 offline || fail "offline failed"
	if nft_gen; then
		expect_eq "$(elements sys-firewall ip vif3.0)" "" "IPv4 elements of work in allowed"
		expect_eq "$(elements sys-firewall ip6 vif3.0)" "" "IPv6 elements of work in allowed"
		! downstream sys-firewall ip | grep -qx "$QNET_WORK_IP" || fail "work's address remains in downstream"
		! downstream sys-firewall ip6 | grep -qx "$QNET_WORK_IP6" || fail "work's IPv6 address remains in downstream"
		expect_eq "$(qnet_group sys-firewall vif3.0)" 0 "vif3.0's group after offline"
	else
		[ -z "$(qnet_domain sys-firewall iptables-legacy-save -t raw | grep -e 'vif3.0' -e "$QNET_WORK_IP")" ] ||
			fail "IPv4 rules of work remain"
		[ -z "$(qnet_domain sys-firewall ip6tables-legacy-save -t raw | grep -e 'vif3.0' -e "$QNET_WORK_IP6")" ] ||
			fail "IPv6 rules of work remain"
	fi
	[ -z "$(qnet_exec sys-firewall ip route show "$QNET_WORK_IP")" ] || fail "the route to work remains"
	[ -z "$(qnet_exec sys-firewall ip -6 route show "$QNET_WORK_IP6")" ] || fail "the IPv6 route to work remains"
	[ -z "$(qnet_exec sys-firewall ip neigh show dev vif3.0)" ] || fail "neighbour entries remain"
	no_ping work "$QNET_HOST" || fail "work still reaches the host while offline"
	qnet_vif sys-firewall 3 online || fail "online failed"
	pings work "$QNET_HOST" || fail "work does not reach the host after coming back"
	pings work -6 "$QNET_HOST6" || fail "work's IPv6 does not come back"
	expect_eq "$(resolve work "$QNET_DNS1")" "$QNET_ANSWER_R1" "DNS after coming back"
	if nft_gen; then
		expect_eq "$(elements sys-firewall ip vif3.0)" "\"vif3.0\" . $QNET_WORK_IP" "work's IPv4 element after online"
		expect_eq "$(elements sys-firewall ip6 vif3.0)" "\"vif3.0\" . $QNET_WORK_IP6" "work's IPv6 element after online"
		expect_eq "$(qnet_group sys-firewall vif3.0)" 2 "vif3.0's group after online"
	fi
}

# Plain Xen: sys-firewall without QubesDB, its domain keys in its xenstore;
# the vif and DNS work the same, then back to QubesDB.
t_plain_xen_keys() {
	qnet_qubesdb_stop sys-firewall
	qnet_xs sys-firewall xenstore-write /local/domain/0/qubes-netvm-gateway "$QNET_FW_GW" \
		/local/domain/0/qubes-netvm-gateway6 "$QNET_FW_GW6" \
		/local/domain/0/qubes-netvm-primary-dns "$QNET_DNS1" \
		/local/domain/0/qubes-netvm-secondary-dns "$QNET_DNS2"
	qnet_vif sys-firewall 3 offline || fail "offline failed"
	qnet_vif sys-firewall 3 online || fail "online with the keys in xenstore failed"
	qnet_domain sys-firewall env vif=vif3.0 XENBUS_PATH=backend/vif/3/0 vif-route-qubes -n online |
		grep -q "domain keys from xenstore" || fail "the keys did not come from xenstore"
	pings work "$QNET_HOST" || fail "work cannot reach the host"
	qnet_domain sys-firewall qubes-setup-dnat-to-ns --dry-run >/dev/null; local rc=$?
	[ $rc -eq 100 ] || fail "setup-dnat-to-ns with the keys in xenstore: exit $rc, expected 100 (unchanged)"
	expect_eq "$(resolve work "$QNET_DNS1")" "$QNET_ANSWER_R1" "DNS1 with the keys in xenstore"
	# back to Qubes: QubesDB, nothing of the domain's in xenstore
	qnet_xs sys-firewall xenstore-rm /local/domain/0/qubes-netvm-gateway /local/domain/0/qubes-netvm-gateway6 \
		/local/domain/0/qubes-netvm-primary-dns /local/domain/0/qubes-netvm-secondary-dns
	qnet_qubesdb_start sys-firewall "$QNET_FW_GW" "$QNET_FW_GW6"
	qnet_vif sys-firewall 3 offline || fail "offline failed"
	qnet_vif sys-firewall 3 online || fail "online back on QubesDB failed"
	pings work "$QNET_HOST" || fail "work cannot reach the host on QubesDB again"
}

# The domain's keys are read from QubesDB: a gateway changed there is the
# one the next online puts on the vif, and xenstore holds none of them.
t_keys_from_qubesdb() {
	[ -z "$(qnet_xs sys-firewall xenstore-ls -f /local/domain/0 | grep qubes-netvm)" ] ||
		fail "sys-firewall's xenstore holds domain keys"
	qnet_domain sys-firewall env vif=vif3.0 XENBUS_PATH=backend/vif/3/0 vif-route-qubes -n online |
		grep -q "domain keys from QubesDB ($QNET_DIR/sys-firewall.qubesdb.sock)" ||
		fail "the keys did not come from sys-firewall's QubesDB"
	expect_eq "$(qnet_qdb sys-firewall read /qubes-netvm-gateway)" "$QNET_FW_GW" "the gateway in QubesDB"
	qnet_exec sys-firewall ip -4 -o addr show dev vif3.0 | grep -q " $QNET_FW_GW/32 " ||
		fail "vif3.0 lacks the gateway from QubesDB"
}

t_status_all_present() {
	for spec in "sys-net 2" "sys-firewall 3" "sys-firewall 4" "sys-firewall 5"; do
		set -- $spec
		qnet_domain "$1" env vif="vif$2.0" XENBUS_PATH="backend/vif/$2/0" vif-route-qubes status >/dev/null ||
			fail "vif$2.0 on $1: status reports something missing"
	done
	# Each netvm as a whole: every vif it serves, in text and in JSON.
	expect_eq "$(qnet_domain sys-net vif-route-qubes status --all | tail -1)" \
		"1 vifs: 1 ok, 0 wrong, 0 could not be checked" "sys-net's status --all"
	expect_eq "$(qnet_domain sys-firewall vif-route-qubes status --all | tail -1)" \
		"3 vifs: 3 ok, 0 wrong, 0 could not be checked" "sys-firewall's status --all"
	expect_eq "$(qnet_domain sys-firewall vif-route-qubes status --all --json |
		python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["ok"], *(v["vif"] + ":" + v["state"] for v in d["vifs"]))')" \
		"3 vif3.0:ok vif4.0:ok vif5.0:ok" "sys-firewall's status --all --json"
}

# The generation's firewall, and only it, is what the programs used.
t_generation() {
	local d v
	for d in sys-net sys-firewall; do
		if nft_gen; then
			[ -z "$(qnet_domain "$d" iptables-legacy-save | grep '^-A')" ] || fail "$d holds IPv4 x_tables rules"
			[ -z "$(qnet_domain "$d" ip6tables-legacy-save | grep '^-A')" ] || fail "$d holds IPv6 x_tables rules"
			qnet_exec "$d" nft list chain ip qubes dnat-dns >/dev/null 2>&1 || fail "$d has no chain dnat-dns"
			expect_eq "$(qnet_group "$d" eth0)" 1 "$d's uplink group"
		else
			[ -z "$(qnet_exec "$d" nft list tables)" ] || fail "$d holds nftables tables: $(qnet_exec "$d" nft list tables)"
			qnet_domain "$d" iptables-legacy-save -t nat | grep -q '^-A PR-QBS ' || fail "$d has no PR-QBS rules"
		fi
	done
	for v in "sys-net vif2.0 $QNET_FW_IP" "sys-firewall vif3.0 $QNET_WORK_IP" "sys-firewall vif4.0 $QNET_UNTR_IP" \
		"sys-firewall vif5.0 $QNET_ANON_IP"; do
		set -- $v
		if nft_gen; then
			expect_eq "$(elements "$1" ip "$2")" "\"$2\" . $3" "$2's element in $1's allowed set"
			expect_eq "$(qnet_group "$1" "$2")" 2 "$2's group on $1"
		else
			qnet_domain "$1" iptables-legacy-save -t raw | grep -q -- "-i $2 .*-j DROP" || fail "no raw rule of $2 on $1"
			expect_eq "$(qnet_group "$1" "$2")" 0 "$2's group on $1 (no marking in this generation)"
		fi
	done
}

tests=(
	"t_generation|the netvms use this generation's firewall only (rules or set elements, groups)"
	"t_ping_both_hops|work pings the upstream host through sys-firewall and sys-net"
	"t_nat_each_hop|NAT at each hop: upstream sees sys-net's uplink, sys-net sees sys-firewall, never work"
	"t_dns_r1|work resolves through DNS1 and DNS2 (UDP and TCP), answered by R1"
	"t_dns_switch_to_r2|sys-net's resolv.conf changes to R2, the dispatcher hook runs: answers come from R2"
	"t_dns_two_resolvers|two resolvers: DNS1 goes to R1, DNS2 to R2"
	"t_dns_unchanged_is_quiet|unchanged DNS and ignored dispatcher actions change nothing and restart nothing"
	"t_dns_none_goes_nowhere|no resolver: UDP and TCP queries fail and no packet to port 53 reaches upstream; restored afterwards"
	"t_anon_ping_both_hops|anon (NAT mode) pings the upstream host through sys-firewall and sys-net"
	"t_anon_dns|anon (NAT mode) resolves through DNS1 (UDP and TCP)"
	"t_anon_addresses_seen|NAT mode: sys-firewall sees anon's real address, never the visible one; sys-net and upstream see neither"
	"t_anon_netvm_reaches|NAT mode: sys-firewall reaches anon by its real address"
	"t_anon_isolated|NAT mode: anon and the other clients cannot reach each other"
	"t_anon_spoof|NAT mode: anon sending with its real address or another one gets nothing out of its namespace"
	"t_anon_no_ipv6|NAT mode: anon gets no IPv6 (no route, neighbour or element; its IPv6 packets go nowhere)"
	"t_anon_namespace|NAT mode: vif5.0-nat holds the Xen vif and vif5.0-p; sys-firewall serves the veth vif5.0"
	"t_anon_offline_and_back|NAT mode: offline removes the namespace, the veth and anon's state; online (twice) restores it"
	"t_anon_online_repairs|NAT mode: online repairs what an online killed early leaves (a bare name, an empty namespace, the vif moved in)"
	"t_spoof_v4|untrusted sending with work's IPv4 address gets nothing through; DROP counter rises"
	"t_spoof_v6|untrusted sending with work's IPv6 address gets nothing through; DROP counter rises"
	"t_spoof_from_uplink|a packet from sys-firewall's uplink with work's address is dropped"
	"t_client_to_client_blocked|work -> untrusted and untrusted -> work are blocked"
	"t_no_port_open|no TCP/UDP port of either backend answers a client (ICMP does)"
	"t_ipv6_both_hops|IPv6: work pings the host through both hops, NAT at each hop"
	"t_no_ipv6_client|a client with no IPv6 address gets no IPv6 through"
	"t_empty_ip_drops_all|a vif with an empty ip lets nothing through, whatever the source address"
	"t_offline_and_back|offline removes work's rules, routes, neighbours and its traffic stops; online restores it"
	"t_keys_from_qubesdb|the domain's keys come from each backend's QubesDB, none from xenstore"
	"t_plain_xen_keys|plain Xen: with the keys in xenstore and no QubesDB, vif and DNS work the same"
	"t_status_all_present|vif-route-qubes status finds every item in place on all four vifs, one at a time and with --all (text and JSON)"
)

no_network() { fail "the simulated network could not be built (see the diagnostics above)"; }

# proc_start PID: when the process started (clock ticks since boot), to
# tell it from a later one with the same pid; nothing when there is none,
# or only its zombie (which holds no namespace any more).
proc_start() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '$1 != "Z" { print $20 }'; }

# network_procs: the processes of the network, as PID:START: every one in a
# namespace named in /run/netns (qnet_private's: the domains and NAT mode's
# vif*-nat), and the daemons (their arguments name the scratch directory).
network_procs() {
	local p
	{
		for n in /run/netns/*; do
			[ -e "$n" ] && ip netns pids "${n##*/}" 2>/dev/null
		done
		[ -z "$QNET_DIR" ] || pgrep -f "$QNET_DIR/"
	} | sort -u | while read -r p; do
		echo "$p:$(proc_start "$p")"
	done
}

# t_nothing_left PROCS DIR: after qnet_down, none of those processes runs
# (then no namespace of the network is held by one), none is named any
# more, and nothing of the scratch DIR remains.
t_nothing_left() {
	local p
	[ -n "$1" ] || fail "no process of the network was found before qnet_down"
	for p in $1; do
		[ "$(proc_start "${p%%:*}")" != "${p#*:}" ] || fail "process ${p%%:*} remains: $(tr '\0' ' ' <"/proc/${p%%:*}/cmdline")"
	done
	expect_eq "$(ls /run/netns)" "" "namespaces named in /run/netns"
	[ -z "$2" ] || ! pgrep -f "$2/" >/dev/null || fail "processes of the network remain: $(pgrep -a -f "$2/")"
	[ -z "$2" ] || [ ! -e "$2" ] || fail "$2 remains"
}

for QNET_GEN in $gens; do
	log=/tmp/qvt-e2e-$$.log
	body=no_network
	if qnet_up >"$log" 2>&1; then
		body=
	else
		echo "# $QNET_GEN: building the simulated network failed:"
		sed 's/^/# /' "$log"
	fi
	rm -f "$log"
	for t in "${tests[@]}"; do
		check "$QNET_GEN: ${t#*|}" ${body:-${t%%|*}}
	done
	# qnet_down as after a failure: anon's namespace still there, and a
	# process in it.
	if nat_ns_exists; then
		nat_exec sleep 600 >/dev/null 2>&1 & # (its "Terminated" too)
		for _ in $(seq 50); do
			[ -z "$(ip netns pids "$NAT_NS" 2>/dev/null)" ] || break
			sleep 0.1
		done
	fi
	procs=$(network_procs)
	dir=$QNET_DIR
	qnet_down
	check "$QNET_GEN: qnet_down leaves nothing: no process or namespace of the network (vif5.0-nat with a process in it too), no file" \
		t_nothing_left "$procs" "$dir"
done

tap_end
