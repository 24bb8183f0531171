#!/bin/bash
# run-all.sh - run every test suite and print one summary.
#
#   MH_UNIT_DIR   directory with the cmocka unit test binaries (build/san/tests)
#   MH_BIN        the mailharden binary under test (ASan build)
#   MH_ONLY       optional: run only suites whose name matches this glob (unit, integration)
#   MH_SCRIPTS    optional: run only integration scripts whose name matches this glob
#   MH_TEST_JOBS  integration scripts run at once (default: number of CPUs)
#
# Per suite a short summary line; the very last line is exactly
#   N passed, N failed            (or "N passed, N failed, N skipped")
# Exit status is non-zero if anything failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LOGDIR=${MH_TEST_LOGDIR:-$HERE/../build/test-logs}
mkdir -p "$LOGDIR"
LOGDIR=$(cd "$LOGDIR" && pwd)

total_pass=0
total_fail=0
total_skip=0

add() { total_pass=$((total_pass + $1)); total_fail=$((total_fail + $2)); total_skip=$((total_skip + $3)); }

wanted() { [ -z "${MH_ONLY:-}" ] || [[ $1 == $MH_ONLY ]]; }
# MH_SCRIPTS: optional glob on integration script names (test_cli, test_tui ...)
wanted_script() {
	local name=${1##*/}
	[ -z "${MH_SCRIPTS:-}" ] || [[ ${name%.sh} == $MH_SCRIPTS ]]
}

# Count TAP-ish lines: "ok ..." / "not ok ..." at line start; any with "# SKIP" is a skip
# (cmocka prints skipped tests as "not ok N # SKIP name").
count_ok()     { grep -E '^ok( |$)' "$1" | grep -cvE '# *SKIP' || true; }
count_not_ok() { grep -E '^not ok( |$)' "$1" | grep -cvE '# *SKIP' || true; }
count_skip()   { grep -cE '^(not )?ok .*# *SKIP' "$1" || true; }

# One cmocka binary.  With CMOCKA_MESSAGE_OUTPUT=TAP every test is an ok/not ok line;
# a crash (ASan abort) before the plan is complete counts as the missing tests failing.
run_unit_binary() {
	local bin=$1 name log rc pass fail skip planned
	name=$(basename "$bin")
	log="$LOGDIR/unit-$name.log"
	CMOCKA_MESSAGE_OUTPUT=TAP timeout "${MH_UNIT_TIMEOUT:-300}" "$bin" >"$log" 2>&1
	rc=$?
	pass=$(count_ok "$log")
	fail=$(count_not_ok "$log")
	skip=$(count_skip "$log")
	# one "1..N" plan line per cmocka group
	planned=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | awk '{ n += $1 } END { if (NR) print n }')
	if [ -n "$planned" ] && [ $((pass + fail + skip)) -lt "$planned" ]; then
		fail=$((planned - pass - skip))
	fi
	if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
		fail=1
	fi
	if [ "$fail" != 0 ]; then
		printf '  FAIL %s (%d passed, %d failed, exit %d)\n' "$name" "$pass" "$fail" "$rc"
		grep -E '^not ok|ERROR|Assertion|Sanitizer|runtime error' "$log" | grep -v '# *SKIP' |
			head -n 15 | sed 's/^/       /'
		printf '       log: %s\n' "$log"
	fi
	unit_pass=$((unit_pass + pass))
	unit_fail=$((unit_fail + fail))
	unit_skip=$((unit_skip + skip))
}

run_unit() {
	local dir=${MH_UNIT_DIR:-} bin n=0
	unit_pass=0 unit_fail=0 unit_skip=0
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		echo "unit: no unit test directory (MH_UNIT_DIR=${dir:-unset})"
		add 0 1 0
		return
	fi
	for bin in "$dir"/test_*; do
		[ -f "$bin" ] && [ -x "$bin" ] || continue
		n=$((n + 1))
		run_unit_binary "$bin"
	done
	printf 'unit: %d binaries, %d passed, %d failed, %d skipped\n' "$n" "$unit_pass" "$unit_fail" "$unit_skip"
	add "$unit_pass" "$unit_fail" "$unit_skip"
}

# One integration script, run in the background: its log, exit code and duration land in
# LOGDIR; report_integration_script reads them afterwards, in the scripts' order.
integration_log() {
	local name=${1#"$HERE"/integration/}
	name=${name%.sh}
	printf '%s/integration-%s' "$LOGDIR" "${name//\//_}"
}

exec_integration_script() {
	local script=$1 base t0=$SECONDS rc
	base=$(integration_log "$script")
	timeout "${MH_INTEGRATION_TIMEOUT:-600}" bash "$script" >"$base.log" 2>&1 </dev/null
	rc=$?
	printf '%d %d\n' "$rc" $((SECONDS - t0)) >"$base.rc"
}

# Count ok / not ok; a failing script without "not ok" is one failure.  "# SKIP" lines
# count as skipped.  Exit 77 with no ok lines = whole script skipped.
report_integration_script() {
	local script=$1 name base log rc secs pass fail skip
	name=${script#"$HERE"/integration/}
	name=${name%.sh}
	base=$(integration_log "$script")
	log=$base.log
	read -r rc secs <"$base.rc" 2>/dev/null || { rc=1; secs=0; }
	skip=$(count_skip "$log")
	pass=$(count_ok "$log")
	fail=$(count_not_ok "$log")
	if [ "$rc" = 77 ] && [ "$pass" = 0 ] && [ "$fail" = 0 ]; then
		printf '  SKIP %s: %s\n' "$name" "$(tail -n1 "$log")"
		int_skip=$((int_skip + 1))
		return
	fi
	if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
		fail=1
	fi
	printf '  %s %s: %d passed, %d failed%s (%d s)\n' "$([ "$fail" = 0 ] && echo PASS || echo FAIL)" \
		"$name" "$pass" "$fail" "$([ "$skip" = 0 ] || echo ", $skip skipped")" "$secs"
	if [ "$fail" != 0 ]; then
		# each failed test with up to 6 of its diagnostic lines
		awk '/^not ok/ { print; n = 6; next } /^#/ && n > 0 { print; n--; next } { n = 0 }' "$log" |
			head -n 80 | sed 's/^/       /'
		if ! grep -qE '^not ok' "$log"; then
			printf '       exit %d without a "not ok" line; last lines:\n' "$rc"
			tail -n 8 "$log" | sed 's/^/       /'
		fi
		printf '       log: %s\n' "$log"
	fi
	int_pass=$((int_pass + pass))
	int_fail=$((int_fail + fail))
	int_skip=$((int_skip + skip))
}

# Scripts: tests/integration/test_*.sh and tests/integration/*/test_*.sh.  A script that
# needs root and is not run as root exits 77 and counts as skipped.  Scripts are
# independent (private root copies, flock'ed port bases), so MH_TEST_JOBS of them run at
# once (default: the number of CPUs); most of their time is spent waiting on servers.
run_integration() {
	local script scripts=() jobs=${MH_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)} t0=$SECONDS
	int_pass=0 int_fail=0 int_skip=0
	if [ "$(id -u)" = 0 ]; then
		# the cached server roots, built in parallel if missing, before any script
		if "$HERE/integration/mkroot.sh" bookworm trixie bookworm-exim trixie-exim >"$LOGDIR/mkroot.log" 2>&1; then
			sed 's/^\[mkroot\] /  /' "$LOGDIR/mkroot.log"
		else
			echo "  FAIL building the test roots:"
			tail -n 20 "$LOGDIR/mkroot.log" | sed 's/^/       /'
			int_fail=1
		fi
	fi
	for script in "$HERE"/integration/test_*.sh "$HERE"/integration/*/test_*.sh; do
		[ -f "$script" ] && wanted_script "$script" && scripts+=("$script")
	done
	for script in "${scripts[@]}"; do
		rm -f "$(integration_log "$script").rc"
		while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
			wait -n 2>/dev/null || true
		done
		exec_integration_script "$script" &
	done
	wait
	for script in "${scripts[@]}"; do
		report_integration_script "$script"
	done
	printf 'integration: %d passed, %d failed, %d skipped (%d s, %d at a time)\n' \
		"$int_pass" "$int_fail" "$int_skip" $((SECONDS - t0)) "$jobs"
	add "$int_pass" "$int_fail" "$int_skip"
}

# Unit tests that can use a real postconf get the host's Debian postfix package unpacked
# (scripts/make-lab.sh; apt-get download, nothing installed).  Without it they skip.
unpacked_postfix() {
	local lab=$HERE/../build/test-lab
	[ -z "${MH_POSTFIX_PKG:-}" ] || return 0
	command -v apt-get >/dev/null || return 0
	if MH_QUIET=1 "$HERE/../scripts/make-lab.sh" "$lab" >"$LOGDIR/make-lab.log" 2>&1; then
		MH_POSTFIX_PKG=$(cd "$lab" && pwd)
		export MH_POSTFIX_PKG
	else
		echo "unit: no unpacked postfix package (see $LOGDIR/make-lab.log); real-postconf tests skip"
	fi
}

wanted unit && unpacked_postfix && run_unit
wanted integration && run_integration

if [ "$total_skip" != 0 ]; then
	printf '%d passed, %d failed, %d skipped\n' "$total_pass" "$total_fail" "$total_skip"
else
	printf '%d passed, %d failed\n' "$total_pass" "$total_fail"
fi
[ "$total_fail" = 0 ]
