#!/bin/bash
# The benchmark: latency (median, p95) of vif-route-qubes online and offline
# as libxl runs them, with 0, 100 and 1000 other vifs online, in each
# generation of network domain: nftables (the project's base ruleset
# tests/nft/qubes-base.nft loaded, the other vifs' elements in its sets)
# and x_tables (the other vifs' raw rules); of a qubes-setup-dnat-to-ns
# rewrite in each; with a connection tracked and with the domain's keys in
# QubesDB, and one READ round trip to QubesDB and to xenstore; in NAT mode
# (net.fake-ip: each online builds the client's namespace vif1.0-nat, each
# offline removes it); and both programs' peak RSS. Runs in private network namespaces of its own, on a
# release build of its own; needs root. Prints markdown tables (every row,
# then the online/offline medians per backend and N, and NAT mode's extra
# latency over the plain QubesDB run per backend) and saves them (with
# the machine and date) to build-bench/bench-results.md. Not a test: it
# measures.
#   scripts/bench.sh [CYCLES]        (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-100}

scripts/install-deps.sh
[ -d build-bench ] || meson setup build-bench --buildtype=release -Dtests=disabled >/dev/null
ninja -C build-bench >/dev/null

base=$PWD/tests/nft/qubes-base.nft
bench() {
	build-bench/tests/qvt-bench --vif-route build-bench/vif-route-qubes/vif-route-qubes \
		--xenstored build-bench/tests/xenstored/test-xenstored --cycles "$cycles" "$@"
}
# bench_both ARGS...: the same run in the nftables and the x_tables generation.
bench_both() {
	bench --nft-base "$base" "$@"
	bench "$@"
}

out=build-bench/bench-results.md
rows=$(mktemp /tmp/qvt-bench-rows.XXXXXX)
trap 'rm -f "$rows"' EXIT
{
	echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
	echo "$(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r), conntrack hash buckets $(cat /proc/sys/net/netfilter/nf_conntrack_buckets 2>/dev/null || echo n/a); $cycles runs each; times in ms, RSS in MiB."
	echo "Client: one IPv4 and one IPv6 address (dual stack); release build; the project's test xenstored."
	echo "nftables: the base ruleset tests/nft/qubes-base.nft loaded, the other vifs' addresses in its sets; x_tables: the other vifs' raw rules."
	echo "Keys in QubesDB: every client's mapped-ip keys as dom0 writes them (visible-ip = its own address); NAT mode: the client's visible-ip is another (10.152.152.11), and its IPv6 address is dropped (NAT mode is IPv4 only)."
	echo
	echo "| measurement | median | p95 | peak RSS |"
	echo "|---|---:|---:|---:|"
	bench --floor --nft-base "$base" --dnat build-bench/setup-dnat-to-ns/qubes-setup-dnat-to-ns
	bench --dnat build-bench/setup-dnat-to-ns/qubes-setup-dnat-to-ns
	bench_both --others 100
	bench_both --others 1000
	bench_both --conntrack
	bench_both --qubesdb build-bench/tests/qubesdb/test-qubesdb
	bench_both --qubesdb build-bench/tests/qubesdb/test-qubesdb --nat
} | tee "$rows"

# The medians of the plain rows (keys in xenstore, nothing tracked), per
# backend and number of other vifs.
summary() {
	echo "Medians per backend and number of other vifs (keys in xenstore, no connection tracked), ms:"
	echo
	echo "| backend | other vifs | online | offline | online+offline |"
	echo "|---|---:|---:|---:|---:|"
	awk -F' *[|] *' '
		$2 ~ /^(vif-route-qubes (online|offline)|[*][*]online[+]offline[*][*]), [a-z_]+, [0-9]+ other vifs online$/ {
			split($2, f, ", "); n = f[3]; sub(/ .*/, "", n); k = f[2] " | " n
			if (f[1] ~ /[+]/) c[k] = $3; else if (f[1] ~ /offline$/) off[k] = $3; else on[k] = $3
		}
		END { for (k in on) printf "| %s | %s | %s | %s |\n", k, on[k], off[k], c[k] }' "$rows" |
		sort -t'|' -k2,2 -k3,3n
}
# NAT mode's extra latency: its medians minus those of the plain QubesDB
# run (same backend, same keys source, 0 other vifs).
nat_summary() {
	echo "NAT mode's extra latency per backend (keys in QubesDB, 0 other vifs; NAT mode's median minus the plain run's), ms:"
	echo
	echo "| backend | online (QubesDB) | online, NAT mode | extra online | offline (QubesDB) | offline, NAT mode | extra offline |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	awk -F' *[|] *' '
		$2 ~ /^vif-route-qubes (online|offline), [a-z_]+, 0 other vifs online, keys in QubesDB(, NAT mode)?$/ {
			split($2, f, ", "); b = f[2]; op = f[1]; sub(/.* /, "", op)
			v[b, op, ($2 ~ /NAT mode$/)] = $3; seen[b] = 1
		}
		END {
			for (b in seen)
				printf "| %s | %s | %s | %.2f | %s | %s | %.2f |\n", b,
					v[b, "online", 0], v[b, "online", 1], v[b, "online", 1] - v[b, "online", 0],
					v[b, "offline", 0], v[b, "offline", 1], v[b, "offline", 1] - v[b, "offline", 0]
		}' "$rows" | sort
}
{
	echo
	summary
	echo
	nat_summary
} | tee -a "$rows"
cp "$rows" "$out"
echo
echo "saved to $out"
