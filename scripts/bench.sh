#!/bin/bash
# The benchmark: latency (median, p95) of vif-route-qubes online and offline
# as libxl runs them, with 0, 100 and 1000 other vifs online; of a
# qubes-setup-dnat-to-ns rewrite; with the domain's keys in QubesDB, and
# one READ round trip to QubesDB and to xenstore; and both programs' peak RSS. Runs in
# private network namespaces of its own, on a release build of its own;
# needs root. Prints a markdown table and saves it (with the machine and
# date) to build-bench/bench-results.md. Not a test: it measures.
#   scripts/bench.sh [CYCLES]        (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-100}

scripts/install-deps.sh
[ -d build-bench ] || meson setup build-bench --buildtype=release -Dtests=disabled >/dev/null
ninja -C build-bench >/dev/null

bench() {
	build-bench/tests/qvt-bench --vif-route build-bench/vif-route-qubes/vif-route-qubes \
		--xenstored build-bench/tests/xenstored/test-xenstored --cycles "$cycles" "$@"
}

out=build-bench/bench-results.md
{
	echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
	echo "$(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r), conntrack hash buckets $(cat /proc/sys/net/netfilter/nf_conntrack_buckets 2>/dev/null || echo n/a); $cycles runs each; times in ms, RSS in MiB."
	echo "Client: one IPv4 and one IPv6 address (dual stack); release build; the project's test xenstored."
	echo
	echo "| measurement | median | p95 | peak RSS |"
	echo "|---|---:|---:|---:|"
	bench --floor --dnat build-bench/setup-dnat-to-ns/qubes-setup-dnat-to-ns
	bench --conntrack
	bench --others 100
	bench --others 1000
	bench --qubesdb build-bench/tests/qubesdb/test-qubesdb
} | tee "$out"
echo
echo "saved to $out"
