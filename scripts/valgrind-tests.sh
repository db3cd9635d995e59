#!/bin/bash
# The unit suite and the program-level netns tests under valgrind (`meson
# test --setup=valgrind`, tests/meson.build): the test executables and every
# run of vif-route-qubes and qubes-setup-dnat-to-ns they start, each run's
# log checked by tl_main() (memcheck errors, definite/indirect leaks, fds
# left open at exit). Both programs, both firewall generations, chosen so
# the step stays near 10 minutes on 2 cores (valgrind runs them ~8x slower):
#   online, status, --all/--json, usage errors  vif-status, vif-status-nft
#   offline (also with the store or vif gone)   vif-route: offline, offline-nft
#   status, dry-run, syslog line, usage         vif-route: manual, manual-nft
#   bad input, rollback of a real failure       vif-route: bad_input
#   rollback after a fault at every step        vif-rollback: each_step, each_step-nft
#   the DNS rewrite                             dnat: rules-iptables, rules-nftables
# Prints "valgrind: N runs passed, M failed (C checks, P program runs
# checked, E errors)"; exit 1 on any failure, or a skip under CI=true.
#   scripts/valgrind-tests.sh [BUILD_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-valgrind}

if [ -d "$build" ]; then
	meson setup --reconfigure "$build" -Dfault_injection=true -Dphase_times=true -Dtests=enabled >/dev/null || exit 1
else
	meson setup "$build" -Dfault_injection=true -Dphase_times=true -Dtests=enabled >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || exit 1
rm -rf "$build/meson-logs/valgrind" "$build"/meson-logs/vg-*

# name | check tcase (CK_RUN_CASE; empty: all) | meson test arguments
runs=(
	"unit||--suite unit"
	"status||vif-status vif-status-nft"
	"offline|offline|vif-route"
	"offline-nft|offline-nft|vif-route-nft"
	"manual|manual|vif-route"
	"manual-nft|manual-nft|vif-route-nft"
	"bad-input|bad_input|vif-route"
	"rollback|each_step|vif-rollback"
	"rollback-nft|each_step-nft|vif-rollback"
	"dns|rules-iptables|dnat"
	"dns-nft|rules-nftables|dnat"
)
ok=0 failed=0 checks=0 progs=0 errors=0 start=$(date +%s)
for r in "${runs[@]}"; do
	IFS='|' read -r name tcase args <<<"$r"
	rc=0
	# shellcheck disable=SC2086 # a list of test names and options
	env ${tcase:+CK_RUN_CASE=$tcase} meson test -C "$build" --setup=valgrind --logbase "vg-$name" \
		--print-errorlogs $args >/dev/null || rc=1
	log=$(ls "$build"/meson-logs/vg-"$name"*.txt 2>/dev/null | head -1)
	if [ -z "$log" ]; then
		rc=1
	else
		read -r n_checks n_progs n_err n_skip < <(awk -F'[:,] *' '
			/^[0-9]+%: Checks:/ { c += $3 }
			/^valgrind-programs: / { split($0, w, " "); p += w[2]; e += w[6] + w[8] }
			/^==[0-9]+== ERROR SUMMARY: / { split($0, w, " "); e += w[4] }
			/^Skipped: / { split($0, w, " "); s += w[2] }
			END { printf "%d %d %d %d\n", c, p, e, s }' "$log")
		checks=$((checks + n_checks)) progs=$((progs + n_progs)) errors=$((errors + n_err))
		if [ "$n_checks" -eq 0 ] || { [ "$n_skip" -gt 0 ] && [ "${CI:-}" = true ]; }; then
			echo "valgrind: $name ran no checks or was skipped ($log)" >&2
			rc=1
		fi
	fi
	if [ "$rc" -eq 0 ]; then
		ok=$((ok + 1))
		echo "valgrind: $name ok ($n_checks checks, $n_progs program runs)"
	else
		failed=$((failed + 1))
		echo "valgrind: $name FAILED (log: ${log:-none})"
		[ -n "$log" ] && grep -E '^valgrind: FAIL|^valgrind-programs:|:[EF]:|ERROR SUMMARY: [1-9]' "$log" | head -20
	fi
done
echo "valgrind: $ok runs passed, $failed failed ($checks checks, $progs program runs checked, $errors errors, $(($(date +%s) - start)) s)"
[ "$failed" -eq 0 ]
