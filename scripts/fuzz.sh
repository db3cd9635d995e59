#!/bin/bash
# Runs the libFuzzer targets (tests/fuzz) for as long as asked, each on a
# copy of its seed corpus plus fresh mutations, and prints a table:
# executions per target. Exit 1 on any crash, sanitizer report, timeout or
# leak (the crashing input is kept and named).
#   scripts/fuzz.sh [--seconds N] [--merge] [--build DIR] [TARGET...]
#     --seconds N  per target (default 60)
#     --merge      fold what the run found into the committed corpus
#     --build DIR  the clang build (default build-fuzz; set up if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60 merge= build=build-fuzz
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--merge) merge=1; shift ;;
	--build) build=$2; shift 2 ;;
	-h | --help) sed -n '2,9p' "$0"; exit 0 ;;
	-*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(fuzz-resolv fuzz-toolstack-keys fuzz-mapped-ip fuzz-qdb-reply fuzz-nft-rule)

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dtests=disabled >/dev/null
fi
ninja -C "$build" >/dev/null

out=$(mktemp -d /tmp/qvt-fuzz.XXXXXX)
trap 'rm -rf "$out"' EXIT
failed=0
printf '%-22s %8s %12s %10s  %s\n' target seconds executions exec/s result
for t in "${targets[@]}"; do
	exe=$build/tests/fuzz/$t
	seeds=tests/fuzz/corpus/$t
	[ -x "$exe" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
	mkdir -p "$out/$t/corpus" "$out/$t/artifacts"
	cp "$seeds"/* "$out/$t/corpus/" 2>/dev/null || true
	# fuzz-nft-rule: libnftnl exit()s on attributes of a wrong type,
	# which the target turns back into "refused" at the cost of what
	# libnftnl had allocated (tests/fuzz/fuzz-nft-rule.c): no leak check.
	leaks=1
	[ "$t" = fuzz-nft-rule ] && leaks=0
	rc=0
	ASAN_OPTIONS=detect_leaks=$leaks:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-detect_leaks=$leaks -artifact_prefix="$out/$t/artifacts/" "$out/$t/corpus" \
		>"$out/$t/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t/log" | tail -1)
	execs=${execs:-0}
	result=ok
	if [ "$rc" -ne 0 ] || ls "$out/$t/artifacts/"* >/dev/null 2>&1; then
		result=FAILED
		failed=$((failed + 1))
		mkdir -p fuzz-failures
		cp "$out/$t/artifacts/"* fuzz-failures/ 2>/dev/null || true
	fi
	printf '%-22s %8s %12s %10s  %s\n' "$t" "$seconds" "$execs" "$((execs / (seconds > 0 ? seconds : 1)))" "$result"
	if [ "$result" = FAILED ]; then
		grep -E 'ERROR|SUMMARY|runtime error|^    #[0-9]+ ' "$out/$t/log" | head -30 | sed 's/^/    /'
		echo "    (inputs kept in fuzz-failures/; replay: $exe fuzz-failures/FILE)"
	fi
	if [ -n "$merge" ] && [ "$result" = ok ]; then
		"$exe" -merge=1 "$seeds" "$out/$t/corpus" >/dev/null 2>&1
	fi
done
echo "fuzz: $(( ${#targets[@]} - failed )) targets passed, $failed failed"
[ "$failed" -eq 0 ]
