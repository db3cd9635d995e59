# shellcheck shell=bash
# TAP for the shell suites (e2e, demo). Source it, then
#   tap_require_root WHAT [COMMAND...]   skip, or fail under CI=true, without them
#   check DESCRIPTION FUNCTION [ARGS...] one TAP line; the function's output
#                                        becomes diagnostics when it fails
#   fail MESSAGE                         inside a check: it failed, go on
#   tap_end                              the plan line and the exit status

tap_n=0
tap_failed=0
tap_mark=$(mktemp /tmp/qvt-tap.XXXXXX)
rm -f "$tap_mark"

tap_require_root() {
	local what=$1 missing=
	shift
	[ "$(id -u)" -eq 0 ] || missing=1
	for c in "$@"; do
		command -v "$c" >/dev/null || missing=1
	done
	[ -z "$missing" ] && return 0
	if [ "${CI:-}" = true ]; then
		echo "Bail out! needs $what, and CI=true forbids skipping"
		exit 1
	fi
	echo "1..0 # SKIP needs $what"
	exit 0
}

check() {
	local desc=$1 out
	shift
	tap_n=$((tap_n + 1))
	rm -f "$tap_mark"
	if out=$("$@" 2>&1) && [ ! -e "$tap_mark" ]; then
		echo "ok $tap_n - $desc"
	else
		tap_failed=$((tap_failed + 1))
		echo "not ok $tap_n - $desc"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
	rm -f "$tap_mark"
}

# Every fail counts, also one a later command's status would hide (the
# check runs in a subshell: the mark is a file).
fail() {
	echo "$*"
	: >"$tap_mark"
	return 1
}

tap_end() {
	echo "1..$tap_n"
	exit $((tap_failed > 0))
}
