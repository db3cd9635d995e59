#!/bin/bash
# The test command: installs what is needed, then builds and runs every test
# suite twice -- in a normal build, and in an ASan+UBSan build -- and, once,
# the Debian package test (tests/package/test-package.sh: builds the package
# outside the source tree, lintian, installs and removes it in an isolated
# root). The netns suites and the package test need root; under CI=true they
# fail rather than skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# meson test prints each suite's result; check's own totals go to the log.
run_build() {
	local dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir" >/dev/null
	local rc=0
	meson test -C "$dir" --print-errorlogs || rc=1
	if grep -q '^Skipped: *[1-9]' "$dir/meson-logs/testlog.txt" && [ "${CI:-}" = true ]; then
		echo "error: suites were skipped in CI" >&2
		rc=1
	fi
	return $rc
}

# check's per-suite totals, plus the TAP lines of the end-to-end suite
# ($2: the log's name, testlog.txt unless a test setup was used).
count_checks() {
	awk -F'[:,] *' '
		/^[0-9]+%: Checks:/ { n += $3; f += $5 + $7 }
		/^ok [0-9]+ - / { n++ }
		/^not ok [0-9]+ - / { n++; f++ }
		END { printf "%d %d\n", n - f, f }' "$1/meson-logs/${2:-testlog.txt}"
}

status=0
# The release build the demo and the benchmark make (-O3 finds warnings,
# errors with werror, that -O2 does not): compiled, not tested again.
if [ -d build-release ]; then
	meson setup --reconfigure build-release --buildtype=release -Dtests=disabled >/dev/null
else
	meson setup build-release --buildtype=release -Dtests=disabled >/dev/null
fi
if ! ninja -C build-release >/tmp/qvt-release-build.$$ 2>&1; then
	cat /tmp/qvt-release-build.$$
	echo "error: the release build failed" >&2
	status=1
fi
rm -f /tmp/qvt-release-build.$$

run_build build-test -Dfault_injection=true -Dphase_times=true -Dtests=enabled || status=1
read -r pass1 fail1 < <(count_checks build-test)

export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
run_build build-asan -Dfault_injection=true -Dphase_times=true -Dtests=enabled -Db_sanitize=address,undefined -Db_lundef=false || status=1
read -r pass2 fail2 < <(count_checks build-asan)

# valgrind over the unit suite and the program-level netns tests of both
# programs in both generations (scripts/valgrind-tests.sh says which), in a
# normal build of its own (never combined with ASan).
vg_log=$(mktemp /tmp/qvt-vg-log.XXXXXX)
vg_rc=0
scripts/valgrind-tests.sh build-valgrind 2>&1 | tee "$vg_log" || vg_rc=$?
read -r pass5 fail5 < <(sed -n 's/^valgrind: \([0-9]*\) runs passed, \([0-9]*\) failed .*/\1 \2/p' "$vg_log") || :
pass5=${pass5:-0} fail5=${fail5:-0}
vg_line=$(grep '^valgrind: [0-9]* runs passed' "$vg_log" || echo "valgrind: did not finish")
rm -f "$vg_log"
if [ "$vg_rc" -ne 0 ]; then
	status=1
	[ "$fail5" -gt 0 ] || fail5=1
fi


# The Debian package: built from a copy of the tracked files, installed and
# removed in an isolated root. It prints "package: N checks passed, M failed".
pkg_log=$(mktemp /tmp/qvt-pkg-log.XXXXXX)
pkg_rc=0
bash tests/package/test-package.sh 2>&1 | tee "$pkg_log" || pkg_rc=$?
read -r pass3 fail3 < <(sed -n 's/^package: \([0-9]*\) checks passed, \([0-9]*\) failed$/\1 \2/p' "$pkg_log") || :
pass3=${pass3:-0} fail3=${fail3:-0} # none when it skipped (not root, outside CI)
rm -f "$pkg_log"
if [ "$pkg_rc" -ne 0 ]; then
	status=1
	[ "$fail3" -gt 0 ] || fail3=1 # it stopped before counting
fi

# The fuzz targets (tests/fuzz), briefly: each on its seed corpus plus
# fresh mutations, in a clang build of its own. Any crash fails the run.
fuzz_log=$(mktemp /tmp/qvt-fuzz-log.XXXXXX)
fuzz_rc=0
scripts/fuzz.sh --seconds 20 2>&1 | tee "$fuzz_log" || fuzz_rc=$?
read -r pass4 fail4 < <(sed -n 's/^fuzz: \([0-9]*\) targets passed, \([0-9]*\) failed$/\1 \2/p' "$fuzz_log") || :
pass4=${pass4:-0} fail4=${fail4:-0}
rm -f "$fuzz_log"
if [ "$fuzz_rc" -ne 0 ]; then
	status=1
	[ "$fail4" -gt 0 ] || fail4=1 # it stopped before counting (the build failed)
fi

echo "normal build: $pass1 passed, $fail1 failed"
echo "ASan+UBSan build: $pass2 passed, $fail2 failed"
echo "package: $pass3 checks passed, $fail3 failed"
echo "fuzz: $pass4 targets passed, $fail4 failed"
echo "$vg_line"
if [ "$status" -ne 0 ] && [ $((fail1 + fail2 + fail3 + fail4 + fail5)) -eq 0 ]; then
	fail1=1 # a suite failed outside check's own counting (crash, timeout, skip in CI)
fi
echo "total: $((pass1 + pass2 + pass3 + pass4 + pass5)) passed, $((fail1 + fail2 + fail3 + fail4 + fail5)) failed"
exit "$status"
