#!/bin/bash
# The demo: a simulated Qubes network domain with one client VM, built from
# network namespaces, driven only through vif-route-qubes invoked as the Xen
# toolstack invokes it. Installs what is needed, builds, shows, cleans up.
# Needs root (namespaces); never touches the host's own interfaces or rules.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

scripts/install-deps.sh
if [ ! -d build-demo ]; then
	meson setup build-demo -Dtests=disabled >/dev/null
fi
ninja -C build-demo >/dev/null
XSD=$top/build-demo/tests/xenstored/test-xenstored
export PATH=$top/build-demo/vif-route-qubes:$PATH

NETVM=qvt-demo-netvm
CLIENT=qvt-demo-work
work=$(mktemp -d /tmp/qvt-demo.XXXXXX)

cleanup() {
	[ -f "$work/xenstored.pid" ] && kill "$(cat "$work/xenstored.pid")" 2>/dev/null
	ip netns del "$NETVM" 2>/dev/null || true
	ip netns del "$CLIENT" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
cleanup_old() { ip netns del "$NETVM" 2>/dev/null || true; ip netns del "$CLIENT" 2>/dev/null || true; }
cleanup_old

# Our xtables lock, not the host's (the lock file is not per namespace).
export XTABLES_LOCKFILE=$work/xtables.lock
export XENSTORED_PATH=$work/xenstored.sock

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '%s\n' "$*"; }
# run WHERE CMD...: shows "where$ cmd" and its indented output.
run() {
	local where=$1
	shift
	printf '\033[2m%s$ %s\033[0m\n' "$where" "$*"
	case $where in
	netvm) ip netns exec "$NETVM" sh -c "$*" ;;
	work) ip netns exec "$CLIENT" sh -c "$*" ;;
	*) sh -c "$*" ;;
	esac 2>&1 | sed 's/^/    /'
}
in_netvm() { ip netns exec "$NETVM" "$@"; }
in_client() { ip netns exec "$CLIENT" "$@"; }

section "The setting"
say "A network domain (netvm) serves client VM 'work' (domain 3) through the"
say "virtual NIC vif3.0. Here the netvm and the client are network namespaces"
say "joined by a veth pair, and a small xenstored stands in for Xen's."
ip netns add "$NETVM"
ip netns add "$CLIENT"
in_netvm ip link set lo up
in_client ip link set lo up
in_netvm ip link add vif3.0 type veth peer name eth0 netns "$CLIENT"
in_client ip link set eth0 address 00:16:3e:5e:6c:00
"$XSD" --socket "$XENSTORED_PATH" --daemon --pid-file "$work/xenstored.pid"

section "What the toolstack wrote to xenstore"
xenstore-write /local/domain/0/qubes-netvm-gateway 10.137.0.1 \
	/local/domain/0/backend/vif/3/0/ip 10.137.0.5 \
	/local/domain/0/backend/vif/3/0/mac 00:16:3e:5e:6c:00 \
	/local/domain/0/backend/vif/3/0/type vif
run dom0 xenstore-ls -f /local/domain/0

section "The client VM configures itself as Qubes does (address /32, on-link gateway)"
in_client ip addr add 10.137.0.5/32 dev eth0
in_client ip link set eth0 up
in_client ip route add 10.137.0.1 dev eth0
in_client ip route add default via 10.137.0.1 dev eth0
run work ip route

section "What vif-route-qubes would do (--dry-run changes nothing)"
run netvm vif=vif3.0 XENBUS_PATH=backend/vif/3/0 vif-route-qubes --dry-run online type_if=vif

section "The toolstack brings the vif online: vif=vif3.0 XENBUS_PATH=backend/vif/3/0 vif-route-qubes online type_if=vif"
run netvm vif=vif3.0 XENBUS_PATH=backend/vif/3/0 vif-route-qubes online type_if=vif
say "    xenstore hotplug-status: $(xenstore-read backend/vif/3/0/hotplug-status)"

section "The netvm's side: route to the client, gateway address, permanent neighbour"
run netvm ip route show dev vif3.0
run netvm ip -4 -br addr show dev vif3.0
run netvm ip neigh show dev vif3.0

section "Anti-spoofing (legacy x_tables raw table, inspect with iptables-legacy-save)"
run netvm "iptables-legacy-save -t raw | grep '^-A'"
run netvm "ip6tables-legacy-save -t raw | grep '^-A'"
say "  (the client has no IPv6 address, so nothing IPv6 gets in from vif3.0)"

section "Administrators can ask what should be there: vif-route-qubes status"
run netvm vif=vif3.0 XENBUS_PATH=backend/vif/3/0 vif-route-qubes status

section "The client reaches its gateway (proxy ARP answers, the route leads back)"
run work ping -c 2 -W 1 10.137.0.1

section "The client tries to send from an address that is not its own"
in_client ip addr add 10.137.0.99/32 dev eth0
in_client ping -c 3 -W 1 -I 10.137.0.99 10.137.0.1 >/dev/null 2>&1 && say "    unexpected: spoofed ping answered" || say "    spoofed ping from 10.137.0.99: no answer"
run netvm "iptables-legacy -t raw -L PREROUTING -v -n | head -3"

section "The toolstack takes the vif offline: vif-route-qubes offline type_if=vif"
run netvm vif=vif3.0 XENBUS_PATH=backend/vif/3/0 vif-route-qubes offline type_if=vif
run netvm "iptables-legacy-save -t raw | grep -c '^-A' || true"
run netvm ip route show dev vif3.0
run netvm ip neigh show dev vif3.0
say "  (no rules, routes or neighbour entries are left; the link is down)"
run netvm ip -br link show vif3.0

section "Done: namespaces and xenstored removed"
