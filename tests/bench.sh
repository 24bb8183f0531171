#!/bin/bash
# bench.sh BINARY - timings for detect and plan on the lab root.
# Prints the median and spread of N runs of each command, and the target.
set -euo pipefail
bin=${1:?usage: bench.sh BINARY}
top=$(cd "$(dirname "$0")/.." && pwd)
lab=$top/build/lab
runs=${BENCH_RUNS:-21}

"$top/scripts/make-lab.sh" "$lab" >/dev/null

# time_cmd LABEL TARGET_MS CMD...: runs CMD $runs times, prints median/min/max
time_cmd() {
	local label=$1 target=$2; shift 2
	local -a ms=()
	for ((i = 0; i < runs; i++)); do
		local t0 t1
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		ms+=($(( (t1 - t0) / 1000 )))
	done
	mapfile -t sorted < <(printf '%s\n' "${ms[@]}" | sort -n)
	local med=${sorted[$((runs / 2))]} lo=${sorted[0]} hi=${sorted[$((runs - 1))]}
	local verdict=ok
	(( med / 1000 <= target )) || verdict=SLOW
	awk -v l="$label" -v m="$med" -v lo="$lo" -v hi="$hi" -v n="$runs" -v t="$target" -v v="$verdict" \
		'BEGIN { printf "%-34s median %7.1f ms  (min %.1f, max %.1f, %d runs)  target <= %d ms  %s\n", l, m/1000, lo/1000, hi/1000, n, t, v }'
}

cert=/etc/ssl/certs/ssl-cert-snakeoil.pem
key=/etc/ssl/private/ssl-cert-snakeoil.key
time_cmd "detect (all servers)" 200 "$bin" detect --root "$lab"
time_cmd "plan postfix" 50 "$bin" plan --root "$lab" --server postfix \
	--role mx,submission,submissions --profile intermediate --cert "$cert" --key "$key"
time_cmd "plan dovecot" 50 "$bin" plan --root "$lab" --server dovecot \
	--role imap,imaps,pop3,pop3s --profile intermediate --cert "$cert" --key "$key"

# selftest against real servers (root only; BENCH_TESTSSL=1 adds testssl --fast)
"$top/tests/integration/bench_selftest.sh" "$bin" || echo "selftest bench failed"

# DH parameters (slow, so only with BENCH_DH=1): mailharden dhparam --fresh
# against openssl dhparam, interleaved run by run so both see the same load.
# BENCH_DH_RUNS (default 15) at 2048 bits, BENCH_DH_RUNS_3072 (default 3).
# Targets: 2048 median at least 3x faster than openssl; 3072 median <= 90 s.
dh_stats() { # LABEL FILE: median/min/max of the seconds in FILE
	sort -n "$2" | awk -v l="$1" '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%-34s median %7.2f s  (min %.2f, max %.2f, %d runs)\n", l, m, v[1], v[NR], NR }'
}
dh_median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
dh_bench() { # BITS RUNS
	local bits=$1 n=$2 tmp ours theirs t0 t1
	tmp=$(mktemp -d)
	for ((i = 0; i < n; i++)); do
		t0=$(date +%s%N)
		"$bin" dhparam --fresh --bits "$bits" >"$tmp/ours.pem" 2>/dev/null || echo "dhparam failed" >&2
		t1=$(date +%s%N)
		echo "$(( (t1 - t0) / 1000000 ))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$tmp/ours"
		openssl pkeyparam -in "$tmp/ours.pem" -check -noout >/dev/null 2>&1 || echo "run $i: openssl rejects our parameters" >&2
		t0=$(date +%s%N)
		openssl dhparam -out "$tmp/theirs.pem" "$bits" >/dev/null 2>&1
		t1=$(date +%s%N)
		echo "$(( (t1 - t0) / 1000000 ))" | awk '{ printf "%.3f\n", $1 / 1000 }' >>"$tmp/theirs"
	done
	dh_stats "dhparam --fresh $bits (mailharden)" "$tmp/ours"
	dh_stats "openssl dhparam $bits" "$tmp/theirs"
	ours=$(dh_median "$tmp/ours") theirs=$(dh_median "$tmp/theirs")
	awk -v o="$ours" -v t="$theirs" -v b="$bits" 'BEGIN {
		r = (o > 0) ? t / o : 0
		if (b == 2048) printf("%-34s %.1fx faster (target >= 3x)  %s\n", "dhparam 2048 speed-up (medians)", r, (r >= 3) ? "ok" : "SLOW")
		else printf("%-34s %.1fx faster; median %.1f s (target <= 90 s)  %s\n", "dhparam " b " speed-up (medians)", r, o, (o <= 90) ? "ok" : "SLOW") }'
	rm -rf "$tmp"
}
if [ "${BENCH_DH:-0}" = 1 ]; then
	echo "DH parameters on $(nproc) cores (load now: $(cut -d' ' -f1-3 /proc/loadavg))"
	dh_bench 2048 "${BENCH_DH_RUNS:-15}"
	dh_bench 3072 "${BENCH_DH_RUNS_3072:-3}"
else
	echo "dhparam --fresh vs openssl dhparam: skipped (slow; run with BENCH_DH=1)"
fi

# the wizard: start to its first screen (line mode; input at end, so it stops there)
time_cmd "wizard: start to first screen" 100 sh -c '"$0" --root "$1" --text </dev/null' "$bin" "$lab"
