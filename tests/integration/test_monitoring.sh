#!/bin/bash
# test_monitoring.sh - "selftest --format nagios|prometheus" where nothing can be tested:
# a server that answers 421 (rate limit), a closed port, bad options.  Each must be
# UNKNOWN with exit 3 (never OK, never CRITICAL), with the Nagios status line on stdout.
# The hardened and weak verdicts are checked against the real servers in
# test_selftest.sh (monitoring_checks.sh).  Needs no root.  MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/monitoring_checks.sh"
HOSTILE=$HERE/../tools/hostile_mail.pl
[ -n "${MH_BIN:-}" ] && [ -x "$MH_BIN" ] || { echo "not ok - MH_BIN is not set to an executable"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mh-monitoring.XXXXXX")
HPID=
cleanup() {
	[ -z "$HPID" ] || { kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; }
	rm -rf "$WORK"
	note "$MH_TESTS tests, $MH_FAILS failed"
	[ "$MH_FAILS" = 0 ]
}
trap cleanup EXIT

# a free port base of our own (the hostile test uses 26100..)
BASE=${MH_PORT_BASE_MONITORING:-26300}
exec {LOCKFD}>"${TMPDIR:-/tmp}/mh-monitoring-ports.lock"
flock -w 60 "$LOCKFD" || true
for _ in 1 2 3 4 5; do ports_free $((BASE + 1)) $((BASE + 2)) >/dev/null && break; BASE=$((BASE + 50)); done

perl "$HOSTILE" 421 $((BASE + 1)) >"$WORK/hostile.out" 2>&1 &
HPID=$!
for _ in $(seq 100); do grep -q ready "$WORK/hostile.out" && break; sleep 0.05; done

# ------------------------------------------------------------------ 421 toy server
mh selftest --host 127.0.0.1 --port "$((BASE + 1))/submission" --timeout 2 --format nagios
line=$(head -n1 <<<"$MH_OUT")
if [ "$MH_RC" = 3 ]; then ok "nagios, 421 server: exit 3 (UNKNOWN)"; else fail "nagios, 421 server: exit $MH_RC, wanted 3"; mh_diag; fi
expect_match "nagios, 421 server: MAILHARDEN UNKNOWN with the reason" \
	"^MAILHARDEN UNKNOWN - 1 port\\(s\\): 0 critical, 0 warning, 1 could not test, 0 ok; $((BASE + 1))/submission: could not test: .*421" "$line"
check "nagios, 421 server: perfdata in the guidelines' syntax" nagios_perf_ok "$line"
expect_no_match "nagios, 421 server: no '|' in the text part but the perfdata separator" '\|.*\|' "$line"

mh selftest --host 127.0.0.1 --port "$((BASE + 1))/submission" --timeout 2 --format prometheus
printf '%s\n' "$MH_OUT" >"$WORK/421.prom"
expect_match "prometheus, 421 server: exit 3" '^3$' "$MH_RC"
if have_prom_parser; then check "prometheus, 421 server: the reference parser accepts it" prom_parses "$WORK/421.prom"
else note "python3-prometheus-client missing: parse check skipped"; fi
expect_match "prometheus, 421 server: up 0" '^0$' \
	"$(prom_value "$WORK/421.prom" mailharden_selftest_up "port=\"$((BASE + 1))\",role=\"submission\"")"
expect_match "prometheus, 421 server: no severity claimed for an untested port" '^$' \
	"$(prom_value "$WORK/421.prom" mailharden_selftest_worst_severity "port=\"$((BASE + 1))\"")"
expect_match "prometheus, 421 server: exit code gauge 3" '^3$' \
	"$(prom_value "$WORK/421.prom" mailharden_selftest_exit_code 'host="127.0.0.1"')"
kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; HPID=

# ------------------------------------------------------------------ closed port, bad options
mh selftest --host 127.0.0.1 --port "$((BASE + 2))/submission" --timeout 2 --format nagios
expect_match "nagios, closed port: UNKNOWN, exit 3" '^3 MAILHARDEN UNKNOWN - .*cannot connect' "$MH_RC $(head -n1 <<<"$MH_OUT")"

mh selftest --host 127.0.0.1 --port 99999 --format nagios
expect_match "nagios, bad --port: UNKNOWN status line on stdout, exit 3" '^3 MAILHARDEN UNKNOWN - --port wants' "$MH_RC $MH_OUT"
expect_match "nagios, bad --port: the one-line error on stderr too" '^mailharden: error: --port wants' "$MH_ERR"

mh selftest --host 127.0.0.1 --port 587 --format xml
expect_match "--format xml: refused with one line naming the formats, exit 3" '^3 .*--format is text, json, nagios or prometheus$' "$MH_RC $MH_ERR"
mh selftest --host 127.0.0.1 --port 587 --format nagios --json
expect_match "--json with --format nagios: refused" '^3 .*contradict' "$MH_RC $MH_ERR"

# --out where it cannot be written: exit 3, one line, no temp file left
mkdir -p "$WORK/ro"
chmod 555 "$WORK/ro"
if [ "$(id -u)" != 0 ]; then
	mh selftest --host 127.0.0.1 --port "$((BASE + 2))/submission" --timeout 1 --format prometheus --out "$WORK/ro/x.prom"
	expect_match "--out in a read-only directory: exit 3 and 'cannot write'" '^3 .*cannot write' "$MH_RC $MH_ERR"
fi
mh selftest --host 127.0.0.1 --port "$((BASE + 2))/submission" --timeout 1 --format prometheus --out "$WORK/nodir/x.prom"
expect_match "--out in a missing directory: exit 3 and 'cannot write'" '^3 .*cannot write .*nodir/x.prom' "$MH_RC $MH_ERR"
