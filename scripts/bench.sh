#!/bin/bash
# The benchmark: latency of vif-route-qubes online/offline (as libxl runs it)
# in a private network namespace, and its peak RSS. A release build of its
# own; needs root. Not a test: it measures, it does not judge.
#   scripts/bench.sh [CYCLES]
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

echo "# $(date -u +%Y-%m-%d), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "# conntrack hash buckets: $(cat /proc/sys/net/netfilter/nf_conntrack_buckets 2>/dev/null || echo n/a)"
bench
bench --conntrack
bench --others 100
