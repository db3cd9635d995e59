# shellcheck shell=bash
# The simulated Qubes network, as a library for the demo and the end-to-end
# tests. Source it, call `qnet_private "$0" "$@"` (below), set QNET_BUILD
# to a build directory (and QNET_GEN to the generation), then `qnet_up` ...
# `qnet_down`.
#
#   upstream  ── wan0/eth0 ──  sys-net  ── vif2.0/eth0 ──  sys-firewall ─┬─ vif3.0/eth0 ── work
#   (resolvers R1, R2,         (netvm)                     (proxy)      ├─ vif4.0/eth0 ── untrusted
#    a host to ping)                                                    └─ vif5.0/eth0 ── anon (NAT mode)
#
# anon is a client in NAT mode (Qubes' net.fake-ip, as Whonix uses it): it
# knows itself only by a visible address and gateway, and vif-route-qubes
# puts its vif in a namespace vif5.0-nat that translates to its real one.
#
# Each domain is a network namespace; each backend (sys-net, sys-firewall)
# has its own test xenstored holding what the toolstack writes, its own
# test QubesDB holding what dom0 gives a Qubes VM, its own
# resolv.conf (bind-mounted over /etc/resolv.conf for the programs it runs)
# and its own xtables and vif locks. Every vif goes up and down only through
# vif-route-qubes invoked as libxl invokes it, and DNS is set only by
# qubes-setup-dnat-to-ns, through the NetworkManager hook.
#
# Two generations of network domain (SPEC.md "Two generations"), chosen by
# QNET_GEN before qnet_up:
#   nftables (default; Qubes R4.2, R4.3): every backend loads the project's
#     base ruleset tests/nft/qubes-base.nft before any vif and puts its
#     uplink in interface group 1; no x_tables rule exists anywhere. The
#     programs pick their nftables backend themselves (--firewall=auto).
#   xtables (Qubes R4.1, plain Xen): the base rules scripts/qubes-firewall*.rules
#     loaded with iptables-legacy-restore; no nftables table exists anywhere.
# The test-only packet counters (qnet_watch, qnet_watch_port) follow the
# generation: a table `inet qnet-watch` in one, mangle PREROUTING in the
# other, so neither generation's netvm holds the other's kind of rule.
#
# Named network namespaces are bind mounts under /run/netns, and NAT mode
# makes one per client (VIF-nat) from inside vif-route-qubes, which must
# therefore run in a mount namespace that outlives it, as libxl runs it in
# the netvm's root one. The whole network runs in a mount namespace of the
# calling script's own (qnet_private) with an empty tmpfs on /run/netns:
# the domains and every VIF-nat namespace live there, vif-route-qubes runs
# in it (nsenter into the backend's network namespace, never `ip netns
# exec`, whose throwaway mount namespace would take a new namespace's name
# with it), and the host's /run/netns never sees any of them.

QNET_P=${QNET_P:-qvt}           # namespace name prefix
QNET_DIR=${QNET_DIR:-}          # scratch directory (made by qnet_up)
QNET_GEN=${QNET_GEN:-nftables}  # nftables | xtables

# Addresses, Qubes-like.
QNET_R1=198.51.100.1            # upstream resolver 1
QNET_R2=198.51.100.2            # upstream resolver 2
QNET_HOST=203.0.113.10          # a host on the internet
QNET_HOST6=2001:db8:200::10
QNET_UP_WAN=192.168.100.1       # upstream's side of sys-net's uplink
QNET_UP_WAN6=2001:db8:100::1
QNET_NET_WAN=192.168.100.2      # sys-net's uplink address
QNET_NET_WAN6=2001:db8:100::2
QNET_DNS1=10.139.1.1            # the virtual DNS addresses clients use
QNET_DNS2=10.139.1.2
QNET_NET_GW=10.138.0.1          # sys-net as its clients see it
QNET_NET_GW6=fd09:24ef:4179::a8a:1
QNET_FW_IP=10.138.0.2           # sys-firewall (domain 2)
QNET_FW_IP6=fd09:24ef:4179::a8a:2
QNET_FW_MAC=00:16:3e:5e:6c:02
QNET_FW_GW=10.137.0.1           # sys-firewall as its clients see it
QNET_FW_GW6=fd09:24ef:4179::a89:1
QNET_WORK_IP=10.137.0.10        # work (domain 3)
QNET_WORK_IP6=fd09:24ef:4179::a89:a
QNET_WORK_MAC=00:16:3e:5e:6c:03
QNET_UNTR_IP=10.137.0.11        # untrusted (domain 4), no IPv6
QNET_UNTR_MAC=00:16:3e:5e:6c:04
QNET_ANON_IP=10.137.0.12        # anon (domain 5), NAT mode: its real address,
QNET_ANON_IP6=fd09:24ef:4179::a89:c # and an IPv6 one it never gets (SPEC: none in NAT mode)
QNET_ANON_MAC=00:16:3e:5e:6c:05
QNET_ANON_VIP=10.152.152.11     # the address anon knows itself by (visible-ip)
QNET_ANON_VGW=10.152.152.10     # the gateway anon knows (visible-gateway)
QNET_NAME=qubes.test            # the name upstream resolves: R1 says .1, R2 says .2
QNET_ANSWER_R1=192.0.2.1
QNET_ANSWER_R2=192.0.2.2

QNET_DOMAINS="upstream sys-net sys-firewall work untrusted anon"

qnet_ns() { echo "$QNET_P-$1"; }

# qnet_private SCRIPT [ARG...]: first thing in a script that uses qnet, as
# `qnet_private "$0" "$@"` (root only): re-runs the script (same pid) in a
# mount namespace of its own, a slave of the host's, with an empty tmpfs on
# /run/netns; returns at once when already there. qnet_up refuses to run
# anywhere else.
qnet_private() {
	if ! _qnet_is_private; then
		# shellcheck disable=SC2016 # expanded by the inner shell
		exec unshare --mount --propagation slave -- bash -c \
			'mkdir -p /run/netns && mount -t tmpfs -o mode=0755 qnet-netns /run/netns &&
			 QNET_MNTNS=$(readlink /proc/self/ns/mnt) && export QNET_MNTNS && exec bash "$@"' qnet "$@"
	fi
}
# QNET_MNTNS names the mount namespace qnet_private made; its children
# (`ip netns exec` makes one per command) are not it.
_qnet_is_private() {
	[ -n "${QNET_MNTNS:-}" ] && [ "$QNET_MNTNS" = "$(readlink /proc/self/ns/mnt)" ]
}

# qnet_exec DOMAIN CMD...: CMD inside DOMAIN's namespace.
qnet_exec() {
	local d=$1
	shift
	ip netns exec "$(qnet_ns "$d")" "$@"
}

# qnet_domain DOMAIN CMD...: CMD as that domain's own programs run: its
# xenstore, its QubesDB (while it has one), its xtables and vif locks, its
# resolv.conf, and a systemctl that only records what it was asked (the
# updates proxy restart).
qnet_domain() {
	local d=$1 envv
	shift
	_qnet_env "$d"
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$(qnet_ns "$d")" sh -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' \
		"$QNET_DIR/$d.resolv.conf" "${envv[@]}" "$@"
}

# qnet_run DOMAIN CMD...: as qnet_domain, but in the domain's network
# namespace only (nsenter), in the mount namespace of the caller
# (qnet_private's): what CMD mounts stays, as a netvm's hotplug scripts'
# mounts do. No resolv.conf (nor /sys) of the domain's: for vif-route-qubes.
qnet_run() {
	local d=$1 envv
	shift
	_qnet_env "$d"
	nsenter --net="/run/netns/$(qnet_ns "$d")" "${envv[@]}" "$@"
}

# _qnet_env DOMAIN: sets the caller's array envv to `env NAME=VALUE...`
# for that domain's programs.
_qnet_env() {
	local d=$1 qdb=QUBESDB_SOCKET=
	[ -S "$QNET_DIR/$d.qubesdb.sock" ] && qdb=QUBESDB_SOCKET="$QNET_DIR/$d.qubesdb.sock"
	envv=(env XENSTORED_PATH="$QNET_DIR/$d.xenstored.sock" XTABLES_LOCKFILE="$QNET_DIR/$d.xtables.lock"
		"$qdb" VIF_ROUTE_QUBES_LOCK_DIR="$QNET_DIR/$d.locks"
		PATH="$QNET_DIR/bin:$QNET_BUILD/vif-route-qubes:$QNET_BUILD/setup-dnat-to-ns:$PATH")
}

# qnet_xs DOMAIN xenstore-CMD ARGS...: that backend's xenstore.
qnet_xs() {
	local d=$1
	shift
	XENSTORED_PATH="$QNET_DIR/$d.xenstored.sock" "$@"
}

# qnet_qdb DOMAIN read|write|rm|multiread ARGS...: that backend's QubesDB.
qnet_qdb() {
	local d=$1
	shift
	QUBESDB_SOCKET="$QNET_DIR/$d.qubesdb.sock" "$QNET_BUILD/tests/qubesdb/qdb-tool" "$@"
}

# qnet_qubesdb_start DOMAIN GW GW6: the QubesDB dom0 fills for a network
# domain: its gateway addresses and the virtual DNS addresses, and the
# clients' address mappings (qnet_map) made so far.
qnet_qubesdb_start() {
	local d=$1 gw=$2 gw6=$3 kv
	local -a mapped=()
	rm -f "$QNET_DIR/$d.qubesdb.sock"
	if [ -f "$QNET_DIR/$d.mapped" ]; then
		while read -r kv; do mapped+=(--set "$kv"); done <"$QNET_DIR/$d.mapped"
	fi
	"$QNET_BUILD/tests/qubesdb/test-qubesdb" --socket "$QNET_DIR/$d.qubesdb.sock" --daemon \
		--pid-file "$QNET_DIR/$d.qubesdb.pid" \
		--set "/qubes-netvm-gateway=$gw" --set "/qubes-netvm-gateway6=$gw6" \
		--set "/qubes-netvm-primary-dns=$QNET_DNS1" --set "/qubes-netvm-secondary-dns=$QNET_DNS2" \
		--set "/qubes-service/harden-network-interfaces=1" "${mapped[@]}"
}

# qnet_map BACKEND IP VISIBLE_IP VISIBLE_GW: what dom0 writes into a
# backend's QubesDB for each client before its vif comes up: the address
# and gateway the client sees (its own ones, unless it is in NAT mode).
# Kept for every later qnet_qubesdb_start of that backend.
qnet_map() {
	local d=$1 ip=$2 vip=$3 vgw=$4
	printf '%s\n' "/mapped-ip/$ip/visible-ip=$vip" "/mapped-ip/$ip/visible-gateway=$vgw" >>"$QNET_DIR/$d.mapped"
	if [ -S "$QNET_DIR/$d.qubesdb.sock" ]; then
		qnet_qdb "$d" write "/mapped-ip/$ip/visible-ip" "$vip"
		qnet_qdb "$d" write "/mapped-ip/$ip/visible-gateway" "$vgw"
	fi
}

# qnet_qubesdb_stop DOMAIN: as on plain Xen, no QubesDB at all.
qnet_qubesdb_stop() {
	local d=$1
	[ -f "$QNET_DIR/$d.qubesdb.pid" ] && kill "$(cat "$QNET_DIR/$d.qubesdb.pid")" 2>/dev/null
	rm -f "$QNET_DIR/$d.qubesdb.pid" "$QNET_DIR/$d.qubesdb.sock"
	return 0
}

# qnet_vif BACKEND DOMID online|offline: as libxl runs the vif's script,
# in the backend's namespace and in the network's mount namespace.
qnet_vif() {
	qnet_run "$1" env vif="vif$2.0" XENBUS_PATH="backend/vif/$2/0" vif-route-qubes "$3" type_if=vif
}

# qnet_set_resolv DOMAIN SERVER...: what DHCP would write.
qnet_set_resolv() {
	local d=$1
	shift
	: >"$QNET_DIR/$d.resolv.conf"
	for s in "$@"; do
		echo "nameserver $s" >>"$QNET_DIR/$d.resolv.conf"
	done
}

# qnet_dispatch DOMAIN IFACE ACTION: NetworkManager running its dispatcher hook.
qnet_dispatch() {
	qnet_domain "$1" "$QNET_DIR/qubes-nmhook" "$2" "$3"
}

# qnet_watch DOMAIN SRC...: count packets arriving at DOMAIN from each SRC
# (a counter at mangle priority in PREROUTING, after the anti-spoofing at
# raw priority, no verdict); qnet_seen DOMAIN SRC reads the count.
qnet_watch() {
	local d=$1 ipt
	shift
	for a in "$@"; do
		if [ "$QNET_GEN" = nftables ]; then
			_qnet_watch_table "$d"
			case $a in *:*) ipt=ip6 ;; *) ipt=ip ;; esac
			qnet_exec "$d" nft add rule inet qnet-watch pre $ipt saddr "$a" counter comment "\"seen $a\""
		else
			case $a in *:*) ipt=ip6tables-legacy ;; *) ipt=iptables-legacy ;; esac
			qnet_domain "$d" $ipt -w -t mangle -A PREROUTING -s "$a"
		fi
	done
}
qnet_seen() {
	local ipt=iptables-legacy
	if [ "$QNET_GEN" = nftables ]; then
		_qnet_watch_count "$1" "seen $2"
		return
	fi
	case $2 in *:*) ipt=ip6tables-legacy ;; esac
	qnet_domain "$1" $ipt -t mangle -L PREROUTING -v -x -n |
		awk -v a="$2" '$0 ~ /^ *[0-9]/ && ($(NF-1) == a || $(NF-1) == a "/32" || $(NF-1) == a "/128") { print $1; exit }'
}

# qnet_watch_port DOMAIN IFACE udp|tcp PORT: count packets arriving at
# DOMAIN through IFACE to that port (IPv4, whatever their destination
# address; added once); qnet_port_seen with the same arguments reads it.
qnet_watch_port() {
	local d=$1 i=$2 p=$3 port=$4
	if [ "$QNET_GEN" = nftables ]; then
		_qnet_watch_table "$d"
		[ -n "$(_qnet_watch_count "$d" "port $i $p $port")" ] && return 0
		qnet_exec "$d" nft add rule inet qnet-watch pre meta nfproto ipv4 iifname "$i" "$p" dport "$port" \
			counter comment "\"port $i $p $port\""
	else
		qnet_domain "$d" iptables-legacy -w -t mangle -C PREROUTING -i "$i" -p "$p" --dport "$port" 2>/dev/null ||
			qnet_domain "$d" iptables-legacy -w -t mangle -A PREROUTING -i "$i" -p "$p" --dport "$port"
	fi
}
qnet_port_seen() {
	local d=$1 i=$2 p=$3 port=$4
	if [ "$QNET_GEN" = nftables ]; then
		_qnet_watch_count "$d" "port $i $p $port"
	else
		qnet_rule_packets "$d" ipv4 mangle PREROUTING "$i .* $p dpt:$port\$"
	fi
}

_qnet_watch_table() {
	qnet_exec "$1" nft list chain inet qnet-watch pre >/dev/null 2>&1 && return 0
	qnet_exec "$1" nft add table inet qnet-watch &&
		qnet_exec "$1" nft add chain inet qnet-watch pre '{ type filter hook prerouting priority mangle; policy accept; }'
}
# _qnet_watch_count DOMAIN COMMENT: packets of the watch rule with that comment.
_qnet_watch_count() {
	qnet_exec "$1" nft list chain inet qnet-watch pre 2>/dev/null |
		awk -v c="comment \"$2\"" 'index($0, c) { for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}

# qnet_rule_packets DOMAIN ipv4|ipv6 TABLE CHAIN PATTERN: packets of the
# first x_tables rule whose listing matches PATTERN.
qnet_rule_packets() {
	local ipt=iptables-legacy
	[ "$2" = ipv6 ] && ipt=ip6tables-legacy
	qnet_domain "$1" $ipt -t "$3" -L "$4" -v -x -n | grep -E -- "$5" | awk '{ print $1; exit }'
}

# qnet_nft_packets DOMAIN ip|ip6 CHAIN PATTERN: packets of the first rule of
# that chain of the domain's `table ip|ip6 qubes` whose listing matches
# PATTERN (an extended regex; "counter packets N bytes M" is in the line).
qnet_nft_packets() {
	qnet_exec "$1" nft list chain "$2" qubes "$3" | grep -E -- "$4" |
		awk '{ for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}

# qnet_group DOMAIN IFACE: the interface group number of IFACE (0 = default).
qnet_group() {
	qnet_exec "$1" ip -d link show dev "$2" | awk '{ for (i = 1; i < NF; i++) if ($i == "group") { g = $(i + 1); sub(/^default$/, "0", g); print g; exit } }'
}

# A veth pair made directly between two namespaces (never in the host's),
# each end with its name; the second end gets MAC if given.
_qnet_link() {
	local a=$1 aname=$2 b=$3 bname=$4 bmac=$5
	ip -n "$(qnet_ns "$a")" link add "$aname" type veth peer name "$bname" netns "$(qnet_ns "$b")"
	if [ -n "$bmac" ]; then
		qnet_exec "$b" ip link set "$bname" address "$bmac"
	fi
}

# _qnet_vif_link BACKEND DOMID CLIENT MAC: a client's virtual NIC: vifDOMID.0
# in BACKEND with the MAC every Xen backend vif has (fe:ff:ff:ff:ff:ff),
# paired with eth0 in CLIENT with MAC.
_qnet_vif_link() {
	_qnet_link "$1" "vif$2.0" "$3" eth0 "$4" &&
		qnet_exec "$1" ip link set "vif$2.0" address fe:ff:ff:ff:ff:ff
}

_qnet_xenstored() {
	local d=$1
	"$QNET_BUILD/tests/xenstored/test-xenstored" --socket "$QNET_DIR/$d.xenstored.sock" --daemon \
		--pid-file "$QNET_DIR/$d.xenstored.pid"
}

_qnet_dnsmasq() {
	local d=$1 name=$2
	shift 2
	qnet_exec "$d" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --user=root --group=root \
		--pid-file="$QNET_DIR/$name.pid" --log-queries --log-facility="$QNET_DIR/$name.log" "$@"
}

# The client VM side, as Qubes configures a VM: address /32 (/128), the
# gateway on-link, default route through it.
_qnet_client() {
	local d=$1 ip=$2 gw=$3 ip6=$4 gw6=$5
	qnet_exec "$d" sysctl -qw net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.eth0.accept_ra=0
	qnet_exec "$d" ip addr add "$ip/32" dev eth0
	[ -n "$ip6" ] && qnet_exec "$d" ip -6 addr add "$ip6/128" dev eth0 nodad
	qnet_exec "$d" ip link set eth0 up
	qnet_exec "$d" ip route add "$gw" dev eth0
	qnet_exec "$d" ip route add default via "$gw" dev eth0
	if [ -n "$gw6" ]; then
		qnet_exec "$d" ip -6 route add "$gw6" dev eth0
		qnet_exec "$d" ip -6 route add default via "$gw6" dev eth0
	fi
	return 0
}

# qnet_plug BACKEND DOMID CLIENT MAC IP GW [IP6 GW6]: the client's NIC as
# Xen makes it when the VM starts: vifDOMID.0 in BACKEND paired with the
# client's eth0 (MAC), and the client's configuration (_qnet_client) --
# nothing when the client has its eth0 already. (A vif in NAT mode dies
# with its namespace at offline, and its client's eth0 with it.)
qnet_plug() {
	local b=$1 id=$2 d=$3 mac=$4
	shift 4
	qnet_exec "$d" ip link show dev eth0 >/dev/null 2>&1 && return 0
	_qnet_vif_link "$b" "$id" "$d" "$mac" &&
		_qnet_client "$d" "$@" "" "" ""
}

# A backend's own setup before any vif: forwarding, base firewall of its
# generation, its xenstore (the toolstack's keys come with each vif) and
# its QubesDB with the domain's keys, as on a Qubes VM. Its uplink is eth0.
_qnet_backend() {
	local d=$1 gw=$2 gw6=$3
	qnet_exec "$d" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	_qnet_xenstored "$d"
	qnet_qubesdb_start "$d" "$gw" "$gw6"
	if [ "$QNET_GEN" = nftables ]; then
		# As a Qubes R4.2+ netvm at boot: uplink in group 1, the base
		# ruleset (sets allowed/downstream, group 2 = client vifs).
		qnet_exec "$d" ip link set dev eth0 group 1
		qnet_exec "$d" nft -f "$QNET_SRC/tests/nft/qubes-base.nft"
	else
		sed 's/UPLINK/eth0/' "$QNET_SRC/scripts/qubes-firewall.rules" | qnet_domain "$d" iptables-legacy-restore -w
		sed 's/UPLINK/eth0/' "$QNET_SRC/scripts/qubes-firewall6.rules" | qnet_domain "$d" ip6tables-legacy-restore -w
	fi
}

# qnet_up: builds the whole network and brings every vif online; fails at
# the first step that fails (the steps run in a bash -e of their own, since
# bash ignores -e in a function called from a condition).
qnet_up() {
	QNET_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	[ -x "$QNET_BUILD/vif-route-qubes/vif-route-qubes" ] || { echo "qnet: no build in '$QNET_BUILD'" >&2; return 1; }
	_qnet_is_private || { echo "qnet: not in a mount namespace of its own (call qnet_private first)" >&2; return 1; }
	case $QNET_GEN in
	nftables | xtables) ;;
	*) echo "qnet: QNET_GEN must be nftables or xtables, not '$QNET_GEN'" >&2; return 1 ;;
	esac
	QNET_DIR=$(mktemp -d -t qvt-net.XXXXXX) # in TMPDIR, or /tmp
	QNET_P=$QNET_P QNET_DIR=$QNET_DIR QNET_BUILD=$QNET_BUILD QNET_SRC=$QNET_SRC QNET_GEN=$QNET_GEN \
		bash -euo pipefail -c 'source "$QNET_SRC/scripts/qubesnet.sh"; _qnet_build'
}

_qnet_build() {
	mkdir -p "$QNET_DIR/bin"
	printf '#!/bin/sh\necho "$*" >> "%s/systemctl.log"\n' "$QNET_DIR" >"$QNET_DIR/bin/systemctl"
	chmod +x "$QNET_DIR/bin/systemctl"
	: >"$QNET_DIR/systemctl.log"
	sed "s|/usr/lib/qubes/qubes-setup-dnat-to-ns|$QNET_BUILD/setup-dnat-to-ns/qubes-setup-dnat-to-ns|" \
		"$QNET_BUILD/setup-dnat-to-ns/qubes-nmhook" >"$QNET_DIR/qubes-nmhook"
	chmod +x "$QNET_DIR/qubes-nmhook"

	for d in $QNET_DOMAINS; do
		ip netns add "$(qnet_ns "$d")"
		qnet_exec "$d" ip link set lo up
		: >"$QNET_DIR/$d.resolv.conf"
	done

	# upstream: the resolvers and a host to ping, on its loopback.
	_qnet_link upstream wan0 sys-net eth0 ""
	qnet_exec upstream sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	qnet_exec upstream ip addr add "$QNET_UP_WAN/24" dev wan0
	qnet_exec upstream ip -6 addr add "$QNET_UP_WAN6/64" dev wan0 nodad
	qnet_exec upstream ip link set wan0 up
	for a in $QNET_R1 $QNET_R2 $QNET_HOST; do qnet_exec upstream ip addr add "$a/32" dev lo; done
	qnet_exec upstream ip -6 addr add "$QNET_HOST6/128" dev lo
	_qnet_dnsmasq upstream dns-r1 --bind-interfaces --listen-address="$QNET_R1" \
		--address="/$QNET_NAME/$QNET_ANSWER_R1"
	_qnet_dnsmasq upstream dns-r2 --bind-interfaces --listen-address="$QNET_R2" \
		--address="/$QNET_NAME/$QNET_ANSWER_R2"

	# sys-net: uplink with a default route; DHCP gave it resolver R1. Like a
	# real netvm it does not hold the virtual DNS addresses: a query to them
	# that the DNS chain (PR-QBS, or dnat-dns in the nftables generation)
	# did not stop would follow the default route out of the
	# uplink (the end-to-end tests check that none does).
	qnet_exec sys-net sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	qnet_exec sys-net ip addr add "$QNET_NET_WAN/24" dev eth0
	qnet_exec sys-net ip -6 addr add "$QNET_NET_WAN6/64" dev eth0 nodad
	qnet_exec sys-net ip link set eth0 up
	qnet_exec sys-net ip route add default via "$QNET_UP_WAN"
	qnet_exec sys-net ip -6 route add default via "$QNET_UP_WAN6"
	_qnet_backend sys-net "$QNET_NET_GW" "$QNET_NET_GW6"
	qnet_set_resolv sys-net "$QNET_R1"
	qnet_dispatch sys-net eth0 up

	# sys-firewall: a client of sys-net (domain 2) ...
	_qnet_vif_link sys-net 2 sys-firewall "$QNET_FW_MAC"
	qnet_xs sys-net xenstore-write backend/vif/2/0/ip "$QNET_FW_IP $QNET_FW_IP6" \
		backend/vif/2/0/mac "$QNET_FW_MAC" backend/vif/2/0/type vif
	qnet_map sys-net "$QNET_FW_IP" "$QNET_FW_IP" "$QNET_NET_GW"
	qnet_vif sys-net 2 online
	_qnet_client sys-firewall "$QNET_FW_IP" "$QNET_NET_GW" "$QNET_FW_IP6" "$QNET_NET_GW6"
	# ... and the backend of work, untrusted and anon; its resolvers are the
	# virtual ones sys-net gave it.
	_qnet_backend sys-firewall "$QNET_FW_GW" "$QNET_FW_GW6"
	qnet_set_resolv sys-firewall "$QNET_DNS1" "$QNET_DNS2"
	qnet_domain sys-firewall qubes-setup-dnat-to-ns >/dev/null 2>&1 || [ $? -eq 100 ]

	_qnet_vif_link sys-firewall 3 work "$QNET_WORK_MAC"
	qnet_xs sys-firewall xenstore-write backend/vif/3/0/ip "$QNET_WORK_IP $QNET_WORK_IP6" \
		backend/vif/3/0/mac "$QNET_WORK_MAC" backend/vif/3/0/type vif
	qnet_map sys-firewall "$QNET_WORK_IP" "$QNET_WORK_IP" "$QNET_FW_GW"
	qnet_vif sys-firewall 3 online
	_qnet_client work "$QNET_WORK_IP" "$QNET_FW_GW" "$QNET_WORK_IP6" "$QNET_FW_GW6"
	qnet_set_resolv work "$QNET_DNS1" "$QNET_DNS2"

	_qnet_vif_link sys-firewall 4 untrusted "$QNET_UNTR_MAC"
	qnet_xs sys-firewall xenstore-write backend/vif/4/0/ip "$QNET_UNTR_IP" \
		backend/vif/4/0/mac "$QNET_UNTR_MAC" backend/vif/4/0/type vif
	qnet_map sys-firewall "$QNET_UNTR_IP" "$QNET_UNTR_IP" "$QNET_FW_GW"
	qnet_vif sys-firewall 4 online
	_qnet_client untrusted "$QNET_UNTR_IP" "$QNET_FW_GW" "" ""
	qnet_set_resolv untrusted "$QNET_DNS1" "$QNET_DNS2"

	# anon, in NAT mode: the toolstack gives its real addresses (the IPv6
	# one it must not get), dom0 the addresses it sees instead; it knows
	# only those.
	qnet_plug sys-firewall 5 anon "$QNET_ANON_MAC" "$QNET_ANON_VIP" "$QNET_ANON_VGW"
	qnet_xs sys-firewall xenstore-write backend/vif/5/0/ip "$QNET_ANON_IP $QNET_ANON_IP6" \
		backend/vif/5/0/mac "$QNET_ANON_MAC" backend/vif/5/0/type vif
	qnet_map sys-firewall "$QNET_ANON_IP" "$QNET_ANON_VIP" "$QNET_ANON_VGW"
	qnet_vif sys-firewall 5 online
	qnet_set_resolv anon "$QNET_DNS1" "$QNET_DNS2"

	# Where addresses are seen: each hop counts what arrives from whom.
	qnet_watch upstream "$QNET_NET_WAN" "$QNET_FW_IP" "$QNET_WORK_IP" "$QNET_UNTR_IP" \
		"$QNET_ANON_IP" "$QNET_ANON_VIP" "$QNET_NET_WAN6" "$QNET_FW_IP6" "$QNET_WORK_IP6"
	qnet_watch sys-net "$QNET_FW_IP" "$QNET_WORK_IP" "$QNET_UNTR_IP" "$QNET_ANON_IP" "$QNET_ANON_VIP" \
		"$QNET_FW_IP6" "$QNET_WORK_IP6"
	qnet_watch sys-firewall "$QNET_ANON_IP" "$QNET_ANON_VIP" "$QNET_ANON_IP6"
}

# qnet_down: everything qnet_up made goes away (safe to call twice, after a
# partial qnet_up or a failed vif-route-qubes, and under the caller's set
# -e): the daemons and every process in a namespace of the network, gone
# when it returns; the VIF-nat namespaces of NAT mode (every one in
# qnet_private's /run/netns is the network's), then the domains.
qnet_down() {
	local pid n d
	local -a pids=() nss=()
	if [ -n "$QNET_DIR" ] && [ -d "$QNET_DIR" ]; then
		for f in "$QNET_DIR"/*.pid; do
			[ -f "$f" ] || continue
			pid=$(cat "$f" 2>/dev/null || true)
			# only while it is ours: a stale file's pid may be another's now
			case $pid in '' | *[!0-9]*) continue ;; esac
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$QNET_DIR/" && pids+=("$pid")
		done
	fi
	if _qnet_is_private; then
		for n in /run/netns/vif*-nat; do
			[ -e "$n" ] && nss+=("${n##*/}")
		done
	fi
	for d in $QNET_DOMAINS; do
		nss+=("$(qnet_ns "$d")")
	done
	for n in "${nss[@]}"; do
		while read -r pid; do
			pids+=("$pid")
		done < <(ip netns pids "$n" 2>/dev/null || true)
	done
	_qnet_stop "${pids[@]}"
	for n in "${nss[@]}"; do
		ip netns del "$n" 2>/dev/null || true
	done
	if [ -n "$QNET_DIR" ] && [ -d "$QNET_DIR" ]; then
		rm -rf "$QNET_DIR"
	fi
	QNET_DIR=
	return 0
}

# _qnet_stop PID...: asks them to end, gives them 5 s, then kills them.
_qnet_stop() {
	local p left
	[ $# -gt 0 ] || return 0
	kill "$@" 2>/dev/null || true
	for _ in $(seq 50); do
		left=
		for p in "$@"; do
			_qnet_alive "$p" && left=1
		done
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null || true
	return 0
}
# A zombie has ended (its parent reaps it when it will).
_qnet_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st%% *}" != Z ]
}
