#!/bin/sh
# Installs, on Debian 12, every package building, testing and the demo need,
# and building and checking the Debian package (tests/package/).
# Does nothing (and needs no network) when they are all there already.
set -eu

PACKAGES="gcc meson ninja-build pkgconf
libxen-dev libiptc-dev libnl-route-3-dev check
libnftnl-dev libmnl-dev
iptables iproute2 conntrack nftables xenstore-utils procps iputils-ping
dnsmasq-base bind9-dnsutils
git dpkg-dev debhelper fakeroot lintian binutils
mandoc python3 valgrind strace
clang libclang-rt-14-dev"

missing=
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

as_root=
[ "$(id -u)" -eq 0 ] || as_root=sudo
echo "installing:$missing"
$as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq --no-install-recommends $missing
