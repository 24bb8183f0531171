#!/bin/bash
# test_selftest.sh - "mailharden selftest" against Debian 12's real Postfix 3.7 and
# Dovecot 2.3, on loopback high ports in a private root:
#   1. mailharden's hardened configs (intermediate): every strict port clean, port 25
#      opportunistic without anything worse than low;
#   2. deliberately weak configs (TLS 1.0, 3DES, AUTH before TLS, plaintext LOGIN, TLS not
#      enforced): each weakness found with the right severity;
#   and in both states the accepted protocols and suites equal what sslscan reports.
# Needs root; MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"
. "$HERE/monitoring_checks.sh"

set_ports "${MH_PORT_BASE_SELFTEST:-24000}"
mh_init bookworm

CERT=/etc/ssl/mh-test/cert.pem
KEY=/etc/ssl/mh-test/key.pem
# lib.sh's make_cert lasts 30 days, which the 30-day expiry warning would flag
st_make_cert() {
	local d=$ROOT/etc/ssl/mh-test
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj /CN=localhost \
		-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
		-keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
	chmod 600 "$d/key.pem"
	chmod 644 "$d/cert.pem"
}
st_make_cert
CA=$ROOT$CERT

# ------------------------------------------------------------------ helpers

# st NAME PORT/ROLE [ARGS...]: selftest --json into $WORK/NAME.json; MH_RC is its exit code
st() {
	local name=$1 spec=$2
	shift 2
	mh selftest --host 127.0.0.1 --port "$spec" --cafile "$CA" --timeout 5 --json "$@"
	printf '%s\n' "$MH_OUT" >"$WORK/$name.json"
}

# findings NAME: "severity id" per line for the first port of a saved run
findings() {
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
		for my $p (@{$d->{ports}}) { print "$_->{severity} $_->{id}\n" for @{$p->{findings}} }' \
		<"$WORK/$1.json" 2>/dev/null
}

# jfield NAME PERL-EXPR: evaluates EXPR with $p = the first port of a saved run
jfield() {
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $p = $d->{ports}[0];
		my $v = eval $ARGV[0]; print defined $v ? (ref $v ? JSON::PP->new->canonical->encode($v) : $v) : "null"' "$2" \
		<"$WORK/$1.json" 2>/dev/null
}

# accepted NAME: "VERSION 0xCODE" per accepted suite, sorted (from our JSON)
accepted() {
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $s = $d->{ports}[0]{tls_scan}{suites};
		for my $v (keys %$s) { print "$v $_->{code}\n" for @{$s->{$v}} }' <"$WORK/$1.json" |
		tr 'a-f' 'A-F' | sed 's/^TLSV/TLSv/; s/ 0X/ 0x/' | LC_ALL=C sort
}

# sslscan_accepted PORT STARTTLS-FLAG...: the same list from sslscan's XML
sslscan_accepted() {
	local port=$1
	shift
	timeout 120 sslscan --no-colour --no-check-certificate --no-heartbleed --no-renegotiation \
		--no-compression --no-fallback --xml="$WORK/sslscan.xml" "$@" "127.0.0.1:$port" >/dev/null 2>&1
	perl -ne 'print "$1 $2\n" if /<cipher status="(?:accepted|preferred)" sslversion="([^"]+)".* id="([^"]+)"/' \
		"$WORK/sslscan.xml" | sed 's/TLSv1\.0/TLSv1.0/' | tr 'a-f' 'A-F' | sed 's/^TLSV/TLSv/; s/ 0X/ 0x/' |
		LC_ALL=C sort
}

# same_as_sslscan DESC NAME PORT FLAGS...
same_as_sslscan() {
	local desc=$1 name=$2 port=$3 ours theirs
	shift 3
	ours=$(accepted "$name")
	theirs=$(sslscan_accepted "$port" "$@")
	if [ -n "$ours" ] && [ "$ours" = "$theirs" ]; then
		ok "$desc ($(wc -l <<<"$ours") version/suite pairs)"
	else
		fail "$desc"
		diff <(echo "$ours") <(echo "$theirs") | head -n 30 | diag
	fi
}

# no_finding_above NAME SEVERITY DESC
sev_rank() { case $1 in ok) echo 0 ;; info) echo 1 ;; low) echo 2 ;; medium) echo 3 ;; high) echo 4 ;; critical) echo 5 ;; *) echo 9 ;; esac; }
no_finding_above() {
	local name=$1 max=$2 desc=$3 bad="" sev id
	while read -r sev id; do
		[ -n "$sev" ] || continue
		[ "$(sev_rank "$sev")" -le "$(sev_rank "$max")" ] || bad="$bad$sev $id"$'\n'
	done < <(findings "$name")
	if [ -z "$bad" ] && [ -s "$WORK/$name.json" ]; then ok "$desc"; else fail "$desc"; printf '%s' "$bad" | diag; fi
}

# has_finding NAME SEVERITY ID DESC
has_finding() {
	if findings "$1" | grep -qx "$2 $3"; then ok "$4"
	else fail "$4"; { echo "wanted: $2 $3"; findings "$1"; } | diag; fi
}

expect_rc() {
	if [ "$MH_RC" = "$2" ]; then ok "$1"; else fail "$1 (exit $MH_RC, wanted $2)"; printf '%s\n' "$MH_ERR" | tail -n 5 | diag; fi
}

# ------------------------------------------------------------------ hardened configs
PF_ARGS=(--root "$ROOT" --server postfix --role mx,submission,submissions --profile intermediate
	--cert "$CERT" --key "$KEY")
DC_ARGS=(--root "$ROOT" --server dovecot --role imap,imaps,pop3,pop3s --profile intermediate
	--cert "$CERT" --key "$KEY")
mh_expect "apply postfix (intermediate)" 0 apply "${PF_ARGS[@]}" --yes
mh_expect "apply dovecot (intermediate)" 0 apply "${DC_ARGS[@]}" --yes

check "test ports are free" ports_free $P_SMTP $P_SUB $P_SUBS $P_IMAP $P_IMAPS $P_POP3 $P_POP3S
pf_prepare
dc_prepare 2.3
# the scans come from 127.0.0.2 (Dovecot trusts same-address clients); a name for it in
# the root's hosts file spares Postfix a reverse DNS query per connection
grep -q '^127\.0\.0\.2 ' "$ROOT/etc/hosts" || echo '127.0.0.2 mh-selftest-client' >>"$ROOT/etc/hosts"
check "postfix starts with the hardened config" pf_start
check "dovecot starts with the hardened config" dc_start

STRICT="$P_SUB/submission $P_SUBS/submissions $P_IMAP/imap $P_IMAPS/imaps $P_POP3/pop3 $P_POP3S/pop3s"
for spec in $STRICT; do
	name=hard-${spec#*/}
	st "$name" "$spec"
	expect_rc "hardened ${spec#*/} ($spec): exit 0" 0
	no_finding_above "$name" info "hardened ${spec#*/}: no finding above info"
	expect_match "hardened ${spec#*/}: TLS 1.1 refused, 1.2 and 1.3 accepted" \
		'"TLSv1.1":false.*"TLSv1.2":true.*"TLSv1.3":true' "$(jfield "$name" '$p->{tls_scan}{protocols}')"
done
has_finding hard-submission ok mail.tls_enforced "hardened 587: MAIL FROM before STARTTLS refused"
has_finding hard-submission ok mail.starttls_injection "hardened 587: no STARTTLS command injection"
has_finding hard-submission ok mail.caps_after_tls.auth "hardened 587: AUTH offered after TLS"
has_finding hard-imap ok mail.auth_before_tls "hardened 143: LOGINDISABLED before STARTTLS (from 127.0.0.2)"
has_finding hard-imap ok mail.tls_enforced "hardened 143: LOGIN before STARTTLS refused"
has_finding hard-pop3 ok mail.tls_enforced "hardened 110: USER before STLS refused"

st hard-mx "$P_SMTP/mx"
if [ "$MH_RC" = 0 ] || [ "$MH_RC" = 1 ]; then ok "hardened 25 (mx): exit 0 or 1"; else fail "hardened 25 (mx): exit $MH_RC"; fi
no_finding_above hard-mx low "hardened 25 (mx): nothing above low (opportunistic)"
has_finding hard-mx ok mail.starttls "hardened 25: STARTTLS offered"

# all seven ports in one run: parity of implicit / STARTTLS pairs
ALL="$P_SMTP/mx,$P_SUB/submission,$P_SUBS/submissions,$P_IMAP/imap,$P_IMAPS/imaps,$P_POP3/pop3,$P_POP3S/pop3s"
t0=$(date +%s%N)
st hard-all "$ALL" --jobs 4
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$MH_RC" = 0 ] || [ "$MH_RC" = 1 ]; then ok "hardened, all 7 ports in one run: exit $MH_RC in $ms ms"; else fail "hardened all ports: exit $MH_RC"; fi
n_parity=$(perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $n = 0;
	for my $p (@{$d->{ports}}) { $n++ for grep { $_->{id} eq "parity" } @{$p->{findings}} } print $n' <"$WORK/hard-all.json")
expect_match "hardened: 465/587, 993/143, 995/110 have the same certificate and policy" '^3$' "$n_parity"

same_as_sslscan "hardened 587: suites equal sslscan's" hard-submission $P_SUB --starttls-smtp
same_as_sslscan "hardened 993: suites equal sslscan's" hard-imaps $P_IMAPS
same_as_sslscan "hardened 25: suites equal sslscan's" hard-mx $P_SMTP --starttls-smtp
same_as_sslscan "hardened 110: suites equal sslscan's" hard-pop3 $P_POP3 --starttls-pop3
monitoring_hardened "$P_SUB" "$P_IMAPS" "$CA"

# ------------------------------------------------------------------ weak configs
pf_stop
dc_stop
wait_root_empty 10 || true
WEAK_CIPHERS='ALL:3DES:@SECLEVEL=0'
in_root postconf -c "$PF" -e "smtpd_tls_protocols = >=TLSv1" "smtpd_tls_mandatory_protocols = >=TLSv1" \
	"smtpd_tls_ciphers = medium" "smtpd_tls_mandatory_ciphers = medium" \
	"tls_medium_cipherlist = $WEAK_CIPHERS" "smtpd_tls_exclude_ciphers =" \
	"smtpd_tls_mandatory_exclude_ciphers ="
for svc in "127.0.0.1:$P_SUB/inet" "127.0.0.1:$P_SUBS/inet"; do
	for kv in "smtpd_tls_protocols=>=TLSv1" "smtpd_tls_mandatory_protocols=>=TLSv1" \
		"smtpd_tls_ciphers=medium" "smtpd_tls_mandatory_ciphers=medium" \
		"smtpd_tls_exclude_ciphers=" "smtpd_tls_mandatory_exclude_ciphers=" "smtpd_tls_auth_only=no"; do
		in_root postconf -c "$PF" -P "$svc/$kv"
	done
done
in_root postconf -c "$PF" -P "127.0.0.1:$P_SUB/inet/smtpd_tls_security_level=may"
{
	echo "# ---- selftest: deliberately weak ----"
	echo "ssl = yes"
	echo "ssl_min_protocol = TLSv1"
	echo "ssl_cipher_list = $WEAK_CIPHERS"
	echo "disable_plaintext_auth = no"
} >>"$ROOT$DC/dovecot.conf"
check "postfix starts with the weak config" pf_start
check "dovecot starts with the weak config" dc_start

st weak-submission "$P_SUB/submission"
expect_rc "weak 587: exit 2 (critical)" 2
has_finding weak-submission high tls.protocol.TLSv1.0 "weak 587: TLS 1.0 found (high)"
# Debian's OpenSSL 3 has no 3DES suites left ("3DES" matches nothing), so no server here
# can accept one; the scanner offers them raw and the unit tests judge them.  The weak
# list still has static-RSA suites:
has_finding weak-submission medium tls.suites.no_fs "weak 587: suites without forward secrecy found (medium)"
has_finding weak-submission critical mail.auth_before_tls "weak 587: AUTH before STARTTLS found (critical)"
has_finding weak-submission high mail.tls_not_enforced "weak 587: MAIL FROM accepted before STARTTLS found (high)"

st weak-imap "$P_IMAP/imap"
expect_rc "weak 143: exit 2 (critical)" 2
has_finding weak-imap critical mail.auth_before_tls "weak 143: plaintext LOGIN advertised before STARTTLS (critical)"
has_finding weak-imap high mail.tls_not_enforced "weak 143: LOGIN before STARTTLS reaches the password check (high)"
has_finding weak-imap high tls.protocol.TLSv1.0 "weak 143: TLS 1.0 found"

st weak-pop3 "$P_POP3/pop3"
has_finding weak-pop3 critical mail.auth_before_tls "weak 110: USER before STLS found (critical)"

st weak-imaps "$P_IMAPS/imaps"
has_finding weak-imaps high tls.protocol.TLSv1.0 "weak 993: TLS 1.0 found over implicit TLS"

st weak-mx "$P_SMTP/mx"
if [ "$MH_RC" = 0 ] || [ "$MH_RC" = 1 ]; then ok "weak-but-TLS 25 (mx): not a failure (exit $MH_RC)"; else fail "weak 25 (mx): exit $MH_RC"; fi
has_finding weak-mx info tls.protocol.TLSv1.0 "weak 25: TLS 1.0 only informational on port 25"
no_finding_above weak-mx medium "weak 25: nothing above medium"

same_as_sslscan "weak 587: suites equal sslscan's" weak-submission $P_SUB --starttls-smtp
same_as_sslscan "weak 993: suites equal sslscan's" weak-imaps $P_IMAPS
same_as_sslscan "weak 143: suites equal sslscan's" weak-imap $P_IMAP --starttls-imap
monitoring_weak "$P_SUB" "$P_SMTP" "$CA"

if [ "$MH_FAILS" != 0 ]; then
	note "postfix log:"; pf_log 15 | diag
	note "dovecot log:"; dc_log 15 | diag
fi
pf_stop
dc_stop
