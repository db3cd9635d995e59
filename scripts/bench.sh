#!/bin/bash
# The benchmark: latency (median, p95) of vif-route-qubes online and offline
# as libxl runs them, with 0, 100 and 1000 other vifs online, in each
# generation of network domain: nftables (the project's base ruleset
# tests/nft/qubes-base.nft loaded, the other vifs' elements in its sets)
# and x_tables (the other vifs' raw rules); against the floors (an empty
# program, static and dynamic, spawned the same way) and both programs'
# --version; of a qubes-setup-dnat-to-ns rewrite in each; with a
# connection tracked and with the domain's keys in QubesDB, and one READ
# round trip to QubesDB and to xenstore; in NAT mode (net.fake-ip: each
# online builds the client's namespace vif1.0-nat, each offline removes
# it); and both programs' peak RSS. Then, from the program's own phase
# timestamps (meson -Dphase_times=true, logged only in extra runs after
# the timed ones), where one online and one offline spend their time: at
# 0 other vifs in each generation, and at 1000 in nftables. Runs in
# private network namespaces of its own, on a release build of its own;
# needs root. Prints markdown tables (every row; the medians per backend
# and N with their ratio to the empty dynamic program, and the targets
# of issue 13; NAT mode's extra latency; the breakdowns) and saves them
# (with the machine and date) to build-bench/bench-results.md. Not a
# test: it measures.
# --before DIR: DIR is the build directory of an earlier checkout; every
# timed run is made by both builds in turn (qvt-bench --before), and a
# table gives each row's median before and after.
#   scripts/bench.sh [CYCLES] [--before BUILD_DIR]        (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=100
before=()
while [ $# -gt 0 ]; do
	case $1 in
	--before)
		[ $# -ge 2 ] && [ -x "$2/vif-route-qubes/vif-route-qubes" ] || {
			echo "bench.sh: --before wants a build directory with vif-route-qubes/vif-route-qubes" >&2
			exit 2
		}
		before=(--before "$(realpath "$2")/vif-route-qubes/vif-route-qubes"
			--before-dnat "$(realpath "$2")/setup-dnat-to-ns/qubes-setup-dnat-to-ns")
		shift 2
		;;
	*)
		cycles=$1
		shift
		;;
	esac
done

scripts/install-deps.sh
# The breakdown needs the phase timestamps (in the timed runs, with no log
# asked for, they cost a clock read per phase); a build-bench from before
# them gets them by reconfiguring.
if [ -d build-bench ]; then
	meson setup --reconfigure build-bench --buildtype=release -Dtests=disabled -Dphase_times=true >/dev/null
else
	meson setup build-bench --buildtype=release -Dtests=disabled -Dphase_times=true >/dev/null
fi
ninja -C build-bench >/dev/null

base=$PWD/tests/nft/qubes-base.nft
dnat=build-bench/setup-dnat-to-ns/qubes-setup-dnat-to-ns
qubesdb=build-bench/tests/qubesdb/test-qubesdb
tmp=$(mktemp -d /tmp/qvt-bench-rows.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rows=$tmp/rows
breakdowns=$tmp/breakdowns
before_rows=$tmp/before
: >"$rows"
: >"$before_rows"
: >"$breakdowns"
runs=0
# bench ARGS...: one qvt-bench run. Its rows go to $rows and its breakdown
# (--phases) to $breakdowns, so that the table can be put in the order
# the reader wants rather than the order the runs are made in.
bench() {
	runs=$((runs + 1))
	echo "bench.sh: run $runs: qvt-bench ${*//$PWD\//}" >&2
	build-bench/tests/qvt-bench --vif-route build-bench/vif-route-qubes/vif-route-qubes \
		--xenstored build-bench/tests/xenstored/test-xenstored --cycles "$cycles" ${before[@]+"${before[@]}"} "$@" \
		>"$tmp/out"
	sed '/^Breakdown/,$d' "$tmp/out" | { grep '^| ' || true; } >"$tmp/new"
	grep -F -e ', before |' "$tmp/new" >>"$before_rows" || true
	grep -v -F -e ', before |' "$tmp/new" >>"$rows" || true
	if grep -q '^Breakdown' "$tmp/out"; then
		echo >>"$breakdowns"
		sed -n '/^Breakdown/,$p' "$tmp/out" >>"$breakdowns"
	fi
}
# bench_both ARGS...: the same run in the nftables and the x_tables generation.
bench_both() {
	bench --nft-base "$base" "$@"
	bench "$@"
}

bench --nft-base "$base" --empty-static build-bench/tests/qvt-empty-static \
	--empty-dynamic build-bench/tests/qvt-empty-dynamic --version-rows --dnat "$dnat" --phases
bench --dnat "$dnat" --phases
bench_both --others 100
bench --nft-base "$base" --others 1000 --phases
bench --others 1000
bench_both --conntrack
bench_both --qubesdb "$qubesdb"
bench_both --qubesdb "$qubesdb" --nat

# rows_matching GREP-ARGS...: the rows that match, in the order of the runs.
rows_matching() {
	grep "$@" "$rows" || true
}
plain='^[|] (vif-route-qubes (online|offline)|[*][*]online[+]offline[*][*]), [a-z_]+, [0-9]+ other vifs online [|]'
dnat_row='^[|] qubes-setup-dnat-to-ns, '
{
	echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
	echo "$(free -g | awk '/^Mem:/ {print $2}') GiB, kernel $(uname -r), conntrack hash buckets $(cat /proc/sys/net/netfilter/nf_conntrack_buckets 2>/dev/null || echo n/a); $cycles runs each; times in ms, RSS in MiB."
	echo "Client: one IPv4 and one IPv6 address (dual stack); release build (with the phase timestamps compiled in, off in the timed runs); the project's test xenstored."
	echo "nftables: the base ruleset tests/nft/qubes-base.nft loaded, the other vifs' addresses in its sets; x_tables: the other vifs' raw rules."
	echo "Keys in QubesDB: every client's mapped-ip keys as dom0 writes them (visible-ip = its own address); NAT mode: the client's visible-ip is another (10.152.152.11), and its IPv6 address is dropped (NAT mode is IPv4 only)."
	echo
	echo "| measurement | median | p95 | peak RSS |"
	echo "|---|---:|---:|---:|"
	rows_matching -F '(floor) |'
	rows_matching -F -- '--version |'
	rows_matching -E "$plain"
	rows_matching -v -F -e '(floor) |' -e '--version |' | { grep -v -E -e "$plain" -e "$dnat_row" || true; }
	rows_matching -E "$dnat_row"
} | tee "$tmp/results"

# The empty dynamic program's median: what a process linked like ours
# costs before doing anything.
floor=$(awk -F' *[|] *' '$2 == "empty dynamic program (floor)" { print $3 }' "$rows")
if ! awk -v f="$floor" 'BEGIN { exit !(f + 0 > 0) }'; then
	echo "bench.sh: no median for the empty dynamic program" >&2
	exit 1
fi
# The medians of the plain rows (keys in xenstore, nothing tracked), per
# backend and number of other vifs, and online's in units of the floor.
summary() {
	echo "Medians per backend and number of other vifs (keys in xenstore, no connection tracked), ms:"
	echo
	echo "| backend | other vifs | online | offline | online+offline | online ÷ empty dynamic |"
	echo "|---|---:|---:|---:|---:|---:|"
	awk -F' *[|] *' -v floor="$floor" '
		$2 ~ /^(vif-route-qubes (online|offline)|[*][*]online[+]offline[*][*]), [a-z_]+, [0-9]+ other vifs online$/ {
			split($2, f, ", "); n = f[3]; sub(/ .*/, "", n); k = f[2] " | " n
			if (f[1] ~ /[+]/) c[k] = $3; else if (f[1] ~ /offline$/) off[k] = $3; else on[k] = $3
		}
		END { for (k in on) printf "| %s | %s | %s | %s | %.2f× |\n", k, on[k], off[k], c[k], on[k] / floor }' "$rows" |
		sort -t'|' -k2,2 -k3,3n
}
# Issue 13's targets, from the same medians: a process that does its work
# in not much more than it takes to exist, and an nftables online that
# does not grow with the number of other vifs.
targets() {
	echo "Targets (issue 13), from the medians above:"
	echo
	echo "| target | measured | |"
	echo "|---|---:|---|"
	awk -F' *[|] *' -v floor="$floor" '
		$2 ~ /^vif-route-qubes online, [a-z_]+, [0-9]+ other vifs online$/ {
			split($2, f, ", "); n = f[3]; sub(/ .*/, "", n); on[f[2], n] = $3
		}
		function verdict(ok) { return ok ? "met" : "**not met**" }
		END {
			split("nftables x_tables", bs, " ")
			for (i = 1; i <= 2; i++) {
				b = bs[i]
				r = on[b, 0] / floor
				printf "| %s online ≤ 2.5× the empty dynamic program at N=0 | %.2f× (%s ms vs %s ms) | %s |\n",
					b, r, on[b, 0], floor, verdict(r <= 2.5)
			}
			d = (on["nftables", 1000] - on["nftables", 0]) / on["nftables", 0]
			printf "| nftables online at N=1000 within 10%% of N=0 | %+.1f%% (%s ms vs %s ms) | %s |\n",
				100 * d, on["nftables", 1000], on["nftables", 0], verdict(d <= 0.10 && d >= -0.10)
		}' "$rows"
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
# --before: each row's median for the earlier build and ours, measured in
# turn in the same runs.
before_after() {
	echo "Before and after (--before ${before[1]%/vif-route-qubes/vif-route-qubes}; the two builds in turn in the same runs), medians in ms:"
	echo
	echo "| measurement | before | after | change |"
	echo "|---|---:|---:|---:|"
	awk -F' *[|] *' '
		FNR == NR { l = $2; sub(/, before$/, "", l); b[l] = $3; next }
		($2 in b) && b[$2] > 0 { printf "| %s | %s | %s | %+.0f%% |\n", $2, b[$2], $3, 100 * ($3 / b[$2] - 1) }' \
		"$before_rows" "$rows"
}
{
	echo
	summary
	echo
	targets
	echo
	nat_summary
	echo
	if [ -s "$before_rows" ]; then
		before_after
		echo
	fi
	echo "Where one run's time goes: the program's phase timestamps, from $cycles more online+offline cycles per breakdown run after the timed ones (the rows above are measured with the log off)."
	cat "$breakdowns"
} | tee -a "$tmp/results"
out=build-bench/bench-results.md
cp "$tmp/results" "$out"
echo
echo "saved to $out"
