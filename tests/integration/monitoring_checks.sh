# monitoring_checks.sh - "selftest --format nagios|prometheus" against the real servers
# that test_selftest.sh runs (sourced by it, so the servers start only once).
# shellcheck shell=bash
#
#   monitoring_hardened SUB-PORT IMAPS-PORT CAFILE   Postfix/Dovecot with mailharden's config
#   monitoring_weak     SUB-PORT SMTP-PORT CAFILE    the deliberately weak configs
#
# Nagios: first line "MAILHARDEN STATE - ... | perfdata" and exit 0/1/2/3 as the plugin
# guidelines define.  Prometheus: parsed by the reference Python client
# (python3-prometheus-client) when present, and the values compared with the facts.

# nagios_line TEXT: the status line is the first line and carries parseable perfdata
nagios_perf_ok() {
	perl -e 'my $l = shift; my ($text, $perf) = split /\|/, $l, 2;
		exit 1 unless defined $perf && $text =~ /^MAILHARDEN (OK|WARNING|CRITICAL|UNKNOWN) - /;
		for my $p (split " ", $perf) {
			exit 2 unless $p =~ /^[a-z_]+=-?[0-9.]+(s|%|B|c)?(;[-0-9.:~@]*){0,4}$/;
		}' "$1"
}

# prom_value FILE METRIC LABEL-REGEX: the value of the first sample whose labels match
prom_value() {
	awk -v m="$2" -v re="$3" '$1 ~ ("^" m "\\{") && $1 ~ re { print $2; exit }' "$1"
}

# Debian's python3 has Debian's modules (a pyenv shim on PATH may not)
MH_PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)

# prom_parses FILE: the Python reference parser accepts it (skipped without the module)
prom_parses() {
	"$MH_PY" -c 'import sys
from prometheus_client.parser import text_string_to_metric_families as parse
n = sum(len(f.samples) for f in parse(open(sys.argv[1]).read()))
print(n, "samples")
sys.exit(0 if n else 1)' "$1"
}

have_prom_parser() { "$MH_PY" -c 'import prometheus_client.parser' 2>/dev/null; }

monitoring_hardened() {
	local sub=$1 imaps=$2 ca=$3 line prom=$WORK/textfile/mailharden.prom
	mh selftest --host 127.0.0.1 --port "$sub/submission,$imaps/imaps" --cafile "$ca" --format nagios
	line=$(head -n1 <<<"$MH_OUT")
	if [ "$MH_RC" = 0 ]; then ok "nagios, hardened: exit 0 (OK)"; else fail "nagios, hardened: exit $MH_RC"; mh_diag; fi
	expect_match "nagios, hardened: MAILHARDEN OK status line" '^MAILHARDEN OK - 2 port\(s\): 0 critical, 0 warning, 0 could not test, 2 ok \| ' "$line"
	check "nagios, hardened: perfdata in the guidelines' syntax" nagios_perf_ok "$line"
	expect_match "nagios, hardened: perfdata has the certificate's days (warn below 30, crit below 0: ranges 30: and 0:)" ' cert_days=(399|400);30:;0:( |$)' "$line"
	expect_match "nagios, hardened: one long-output line per port" "^127.0.0.1:$imaps/imaps OK\$" "$MH_OUT"

	# the textfile collector's directory: --out writes atomically, nothing else is left there
	mkdir -p "$WORK/textfile"
	mh selftest --host 127.0.0.1 --port "$sub/submission,$imaps/imaps" --cafile "$ca" \
		--format prometheus --out "$prom"
	if [ "$MH_RC" = 0 ] && [ -z "$MH_OUT" ] && [ -s "$prom" ]; then ok "prometheus --out: exit 0, file written, nothing on stdout"
	else fail "prometheus --out: exit 0 and a file"; mh_diag; fi
	expect_match "prometheus --out: mode 0644, only the .prom file in the directory" '^644 mailharden.prom$' \
		"$(cd "$WORK/textfile" && stat -c '%a %n' ./* .[!.]* 2>/dev/null | sed 's#\./##')"
	if have_prom_parser; then check "prometheus: the reference parser accepts the file" prom_parses "$prom"
	else note "python3-prometheus-client missing: format parse check skipped"; fi
	expect_match "prometheus: up 1 for 587 with host/port/role labels" '^1$' \
		"$(prom_value "$prom" mailharden_selftest_up "host=\"127.0.0.1\",port=\"$sub\",role=\"submission\"")"
	expect_match "prometheus: worst severity of hardened 993 at most info (1)" '^[01]$' \
		"$(prom_value "$prom" mailharden_selftest_worst_severity "port=\"$imaps\"")"
	expect_match "prometheus: TLS 1.1 refused (0) on 587" '^0$' \
		"$(prom_value "$prom" mailharden_selftest_protocol_accepted "port=\"$sub\".*protocol=\"TLSv1.1\"")"
	expect_match "prometheus: TLS 1.3 accepted (1) on 993" '^1$' \
		"$(prom_value "$prom" mailharden_selftest_protocol_accepted "port=\"$imaps\".*protocol=\"TLSv1.3\"")"
	expect_match "prometheus: days until certificate expiry" '^(399|400)$' \
		"$(prom_value "$prom" mailharden_selftest_cert_expiry_days "port=\"$sub\"")"
	expect_match "prometheus: test duration in seconds" '^[0-9]+(\.[0-9]+)?$' \
		"$(prom_value "$prom" mailharden_selftest_duration_seconds "port=\"$imaps\"")"
}

monitoring_weak() {
	local sub=$1 smtp=$2 ca=$3 line prom=$WORK/weak.prom
	# port 25 with weak-but-TLS: findings up to medium, never critical (opportunistic)
	mh selftest --host 127.0.0.1 --port "$smtp/mx" --cafile "$ca" --format nagios
	line=$(head -n1 <<<"$MH_OUT")
	if [ "$MH_RC" = 1 ]; then ok "nagios, weak 25 (TLS 1.0, static RSA): exit 1 (WARNING)"; else fail "nagios, weak 25: exit $MH_RC, wanted 1"; mh_diag; fi
	expect_match "nagios, weak 25: MAILHARDEN WARNING naming the port" "^MAILHARDEN WARNING - 1 port\\(s\\): 0 critical, 1 warning, 0 could not test, 0 ok; $smtp/mx: .* \\| " "$line"

	mh selftest --host 127.0.0.1 --port "$smtp/mx,$sub/submission" --cafile "$ca" --format nagios
	line=$(head -n1 <<<"$MH_OUT")
	if [ "$MH_RC" = 2 ]; then ok "nagios, weak 25+587: exit 2 (CRITICAL)"; else fail "nagios, weak 25+587: exit $MH_RC, wanted 2"; mh_diag; fi
	expect_match "nagios, weak: CRITICAL names 587, the critical port, not 25 listed first" "^MAILHARDEN CRITICAL - 2 port\\(s\\): 1 critical, 1 warning, 0 could not test, 0 ok; $sub/submission: " "$line"
	check "nagios, weak: perfdata in the guidelines' syntax" nagios_perf_ok "$line"
	expect_match "nagios, weak: long output says 25 is WARNING" "^127.0.0.1:$smtp/mx WARNING - " "$MH_OUT"

	mh selftest --host 127.0.0.1 --port "$smtp/mx,$sub/submission" --cafile "$ca" --format prometheus
	printf '%s\n' "$MH_OUT" >"$prom"
	expect_match "prometheus, weak: exit 2 as the text report" '^2$' "$MH_RC"
	if have_prom_parser; then check "prometheus, weak: the reference parser accepts it" prom_parses "$prom"; fi
	expect_match "prometheus, weak 587: worst severity critical (5)" '^5$' \
		"$(prom_value "$prom" mailharden_selftest_worst_severity "port=\"$sub\"")"
	expect_match "prometheus, weak 25: worst severity low or medium (2, 3)" '^[23]$' \
		"$(prom_value "$prom" mailharden_selftest_worst_severity "port=\"$smtp\"")"
	expect_match "prometheus, weak 587: TLS 1.0 accepted (1)" '^1$' \
		"$(prom_value "$prom" mailharden_selftest_protocol_accepted "port=\"$sub\".*protocol=\"TLSv1.0\"")"
	expect_match "prometheus, weak: exit code gauge 2" '^2$' \
		"$(prom_value "$prom" mailharden_selftest_exit_code 'host="127.0.0.1"')"
}
