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
