#!/bin/bash
# test_selftest_hostile.sh - "mailharden selftest" against small hostile servers
# (tests/tools/hostile_mail.pl): rate limiting, tarpits, garbage, a 1 MB line, a
# never-ending reply, a TLS alert mid-handshake, no STARTTLS.  Each must end with the
# right verdict, or exit 3 and a clear one-line message, within the timeout, no crash.
# Needs no root and no mail server.  MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
HOSTILE=$HERE/../tools/hostile_mail.pl
[ -n "${MH_BIN:-}" ] && [ -x "$MH_BIN" ] || { echo "not ok - MH_BIN is not set to an executable"; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mh-hostile.XXXXXX")
HPID=
cleanup() {
	[ -z "$HPID" ] || { kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; }
	rm -rf "$WORK"
	note "$MH_TESTS tests, $MH_FAILS failed"
	[ "$MH_FAILS" = 0 ]
}
trap cleanup EXIT
BASE=${MH_PORT_BASE_HOSTILE:-26100}
# parallel runs (make check in several work trees of one machine) must not share ports:
# a lock per base, and the next base when the ports are taken
for _ in 1 2 3 4 5 6 7 8; do
	exec {HLOCK}>"${TMPDIR:-/tmp}/mh-hostile-ports-$BASE.lock"
	flock -n "$HLOCK" && ports_free $(seq $((BASE + 1)) $((BASE + 10))) >/dev/null && break
	exec {HLOCK}>&-
	BASE=$((BASE + 40))
done
TIMEOUT=2

# hostile MODE N: start the server on BASE+N and wait until it listens
hostile() {
	HPORT=$((BASE + $2))
	perl "$HOSTILE" "$1" "$HPORT" >"$WORK/hostile.out" 2>&1 &
	HPID=$!
	for _ in $(seq 100); do grep -q ready "$WORK/hostile.out" && return 0; sleep 0.05; done
	echo "hostile server $1 did not start"; cat "$WORK/hostile.out"
	return 1
}
hostile_stop() { kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; HPID=; }

# case MODE N WANT-RC STDERR-REGEX [REPORT-REGEX]
case_() {
	local mode=$1 n=$2 want=$3 errre=$4 outre=${5:-} t0 ms limit
	hostile "$mode" "$n" || { fail "$mode: server start"; return; }
	t0=$(date +%s%N)
	mh selftest --host 127.0.0.1 --port "$HPORT/submission" --timeout "$TIMEOUT"
	ms=$((($(date +%s%N) - t0) / 1000000))
	hostile_stop
	# a handful of reads, each bounded by the timeout; a timed-out one is retried once
	# with three times the deadline (timeouts are no evidence)
	limit=$((TIMEOUT * 1000 * 5 + 5000)) # plus start-up on a loaded host
	if [ "$MH_RC" = "$want" ] && [ $ms -le $limit ]; then
		ok "$mode: exit $want in $ms ms"
	else
		fail "$mode: exit $MH_RC in $ms ms (wanted $want within $limit ms)"; mh_diag
	fi
	if [ "$MH_RC" -ge 128 ] || grep -qE 'Sanitizer|runtime error' <<<"$MH_ERR"; then fail "$mode: crashed"; mh_diag; fi
	if [ -n "$errre" ]; then
		if grep -qE -- "$errre" <<<"$MH_ERR" && [ "$(wc -l <<<"$MH_ERR")" = 1 ]; then ok "$mode: one clear line on stderr"
		else fail "$mode: one clear line on stderr matching /$errre/"; mh_diag; fi
	fi
	[ -z "$outre" ] || expect_match "$mode: report says so" "$outre" "$MH_OUT"
}

case_ 421 1 3 'refused the session \(rate limit.*421 4\.7\.0' 'could not test'
case_ tarpit 2 3 'no greeting within 6000 ms \(tarpit'
case_ slow 3 3 'no complete reply within 6000 ms'
case_ garbage 4 3 'not an SMTP reply line'
case_ longline 5 3 'reply line longer than 8192 bytes'
case_ endless 6 3 'reply longer than 256 lines'
case_ alert 7 2 '' 'critical +no TLS handshake succeeded'
case_ notls 8 2 '' 'critical +STARTTLS is not offered'

# nothing listening: could not test
mh selftest --host 127.0.0.1 --port "$((BASE + 9))/submission" --timeout "$TIMEOUT"
if [ "$MH_RC" = 3 ] && grep -q 'cannot connect' <<<"$MH_ERR"; then ok "closed port: exit 3, 'cannot connect'"
else fail "closed port: exit 3"; mh_diag; fi

# the same verdicts in JSON
hostile 421 10 || fail "421 server"
mh selftest --host 127.0.0.1 --port "$HPORT/submission" --timeout "$TIMEOUT" --json
hostile_stop
check "421 --json: valid JSON with status error and the reason" perl -MJSON::PP -e \
	'local $/; my $d = decode_json(<STDIN>); my $p = $d->{ports}[0];
	 exit !($p->{status} eq "error" && $p->{error} =~ /421/ && $d->{exit_code} == 3)' <<<"$MH_OUT"
