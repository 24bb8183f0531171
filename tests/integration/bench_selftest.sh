#!/bin/bash
# bench_selftest.sh BINARY - selftest timings against real Postfix 3.7 / Dovecot 2.3 with
# mailharden's hardened configs in a private root (needs root and the cached root):
#   one port full scan (587), all 7 ports (sequential and --jobs 4), with connection
#   counts; BENCH_TESTSSL=1 adds "testssl --fast" on the same port (takes about a minute),
#   connections counted from the server's log for both tools.
# Not a test script (no test_ prefix): tests/bench.sh calls it.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MH_BIN=${1:?usage: bench_selftest.sh BINARY}
MH_BIN=$(readlink -f "$MH_BIN")
if [ "$(id -u)" != 0 ]; then echo "selftest bench: skipped (needs root for the server root)"; exit 0; fi
. "$HERE/lib.sh"
. "$HERE/servers.sh"
set_ports "${MH_PORT_BASE_BENCH:-25000}"
mh_init bookworm >/dev/null
CERT=/etc/ssl/mh-test/cert.pem
d=$ROOT/etc/ssl/mh-test
mkdir -p "$d"
openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj /CN=localhost \
	-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
for s in "postfix --role mx,submission,submissions" "dovecot --role imap,imaps,pop3,pop3s"; do
	# shellcheck disable=SC2086
	"$MH_BIN" apply --root "$ROOT" --server $s --profile intermediate --cert "$CERT" \
		--key /etc/ssl/mh-test/key.pem --yes >/dev/null || { echo "apply failed"; exit 1; }
done
pf_prepare >/dev/null
dc_prepare 2.3
echo '127.0.0.2 mh-selftest-client' >>"$ROOT/etc/hosts"
pf_start >/dev/null && dc_start >/dev/null || { echo "servers did not start"; exit 1; }

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
conns_of() { perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{connections}' <"$1"; }
pf_connects() { grep -c "submission/smtpd.*: connect from" "$ROOT/var/log/mh-postfix.log" 2>/dev/null || echo 0; }
ALL="$P_SMTP/mx,$P_SUB/submission,$P_SUBS/submissions,$P_IMAP/imap,$P_IMAPS/imaps,$P_POP3/pop3,$P_POP3S/pop3s"
CA=$ROOT$CERT

run() { "$MH_BIN" selftest --host 127.0.0.1 --cafile "$CA" --json "$@" >"$WORK/out.json" 2>/dev/null; }

t0=$(date +%s%N); run --port "$P_SUB/submission"; one=$(ms_since "$t0"); one_c=$(conns_of "$WORK/out.json")
t0=$(date +%s%N); run --port "$ALL"; seq=$(ms_since "$t0"); seq_c=$(conns_of "$WORK/out.json")
[ -z "${BENCH_VERBOSE:-}" ] || perl -MJSON::PP -e 'local $/; printf "  %s %.3f s %d conns\n", $_->{port}, $_->{seconds}, $_->{connections} for @{decode_json(<STDIN>)->{ports}}' <"$WORK/out.json"
t0=$(date +%s%N); run --port "$ALL" --jobs 4; par=$(ms_since "$t0"); par_c=$(conns_of "$WORK/out.json")
printf '%-34s %7d ms  %4d connections\n' "selftest one port (587, full)" "$one" "$one_c"
printf '%-34s %7d ms  %4d connections  target <= 5000 ms  %s\n' "selftest all 7 ports" "$seq" "$seq_c" \
	"$([ "$seq" -le 5000 ] && echo ok || echo SLOW)"
printf '%-34s %7d ms  %4d connections  target <= 5000 ms  %s\n' "selftest all 7 ports, --jobs 4" "$par" "$par_c" \
	"$([ "$par" -le 5000 ] && echo ok || echo SLOW)"
if [ "${BENCH_TESTSSL:-0}" = 1 ] && command -v testssl >/dev/null; then
	before=$(pf_connects)
	t0=$(date +%s%N)
	timeout 600 testssl --fast --nodns none --color 0 --warnings off --quiet --starttls smtp \
		"127.0.0.1:$P_SUB" >/dev/null 2>&1
	ts=$(ms_since "$t0")
	ts_c=$(($(pf_connects) - before))
	printf '%-34s %7d ms  %4d connections\n' "testssl --fast (587)" "$ts" "$ts_c"
	awk -v a="$ts" -v b="$one" 'BEGIN { r = a / (b ? b : 1); printf "%-34s %7.1fx  target >= 30x  %s\n", "selftest vs testssl --fast", r, (r >= 30) ? "ok" : "SLOW" }'
else
	echo "testssl --fast comparison: set BENCH_TESTSSL=1 (about a minute)"
fi
pf_stop
dc_stop
