#!/bin/bash
# test_selftest_accuracy.sh - the self-test against the server setups a careless scanner
# gets wrong, with Debian 12's real Postfix 3.7 and Dovecot 2.3 (one start of each, every
# case on its own port), and `openssl s_client`, one handshake per cipher, as the judge:
#   - Dovecot with DHE suites first (server order) and no DH parameters: the DHE
#     handshakes fail, the others work; the accepted set per version equals s_client's;
#   - Postfix offering DH 1024 on some suites (aNULL) and 2048/3072 on others: every
#     size kept, the weakest judged;
#   - a Postfix port whose certificate file is missing: STARTTLS advertised, 454 after it:
#     critical tls.starttls_fails, exit 2, the findings seen before kept;
#   - implicit/STARTTLS partners differing in certificate AND policy: both reported;
#   - the old profile's own non-forward-secret suites are no finding under it;
#   - SMTP on loopback is tested from 127.0.0.1, IMAP/POP3 from 127.0.0.2;
#   - a loaded host: every port with --jobs 4 under a CPU hog gives the findings of
#     --jobs 1 on the quiet host, and no gaps;
#   - the checks testssl has, each compared with s_client or the certificate files: both
#     certificates of a dual RSA+ECDSA server, key usage, TLS_FALLBACK_SCSV, Heartbleed,
#     OCSP stapling, the server's TLS 1.2 signature algorithms, session resumption.
# Needs root; MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"
TRUTH=$HERE/../tools/sclient_truth.sh

set_ports "${MH_PORT_BASE_ACCURACY:-28000}"
P_BROKEN=$P_CTRL # a submission service whose certificate file is missing
mh_init bookworm

CERT=/etc/ssl/mh-test/cert.pem
KEY=/etc/ssl/mh-test/key.pem
ECCERT=/etc/ssl/mh-test/eccert.pem
ECKEY=/etc/ssl/mh-test/eckey.pem
make_certs() {
	local d=$ROOT/etc/ssl/mh-test
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj /CN=localhost \
		-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
		-keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 400 -subj /CN=localhost \
		-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
		-keyout "$d/eckey.pem" -out "$d/eccert.pem" 2>/dev/null
	# keyUsage without digitalSignature: wrong for every forward-secret handshake
	openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj /CN=localhost \
		-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -addext 'keyUsage=critical,keyEncipherment' \
		-keyout "$d/kukey.pem" -out "$d/kucert.pem" 2>/dev/null
	chmod 644 "$d"/*.pem
}
make_certs
CA=$ROOT$CERT

# ------------------------------------------------------------------ helpers

# st NAME PORT/ROLE [ARGS...]: selftest --json into $WORK/NAME.json; MH_RC is its exit code
st() {
	local name=$1 spec=$2
	shift 2
	mh selftest --host 127.0.0.1 --port "$spec" --cafile "$CA" --timeout 5 --json "$@"
	printf '%s\n' "$MH_OUT" >"$WORK/$name.json"
}

# findings NAME: "port severity id" per finding of every port of a saved run, sorted
findings() {
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
		for my $p (@{$d->{ports}}) { print "$p->{port} $_->{severity} $_->{id}\n" for @{$p->{findings}} }' \
		<"$WORK/$1.json" 2>/dev/null | LC_ALL=C sort
}

# gaps NAME: "port item: why" per untested item
gaps() {
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>);
		for my $p (@{$d->{ports}}) { print "$p->{port} $_->{item}: $_->{why}\n" for @{$p->{untested} || []} }' \
		<"$WORK/$1.json" 2>/dev/null
}

# jfield NAME PERL-EXPR: evaluates EXPR with $p = the first port of a saved run
jfield() {
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $p = $d->{ports}[0];
		my $v = eval $ARGV[0]; print defined $v ? (ref $v ? JSON::PP->new->canonical->encode($v) : $v) : "null"' "$2" \
		<"$WORK/$1.json" 2>/dev/null
}

# accepted NAME: "VERSION 0xCODE[ DHbits]" per accepted suite of the first port, sorted
accepted() {
	perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); my $s = $d->{ports}[0]{tls_scan}{suites};
		for my $v (keys %$s) { for (@{$s->{$v}}) { print "$v $_->{code}", ($_->{dh_bits} ? " DH$_->{dh_bits}" : ""), "\n" } }' \
		<"$WORK/$1.json" | LC_ALL=C sort
}

# same_as_truth DESC NAME PORT STARTTLS BIND: our accepted set (with DH sizes) equals one
# s_client handshake per cipher
same_as_truth() {
	local desc=$1 name=$2 ours theirs
	ours=$(accepted "$name")
	theirs=$("$TRUTH" "$3" "$4" "$5")
	if [ -n "$ours" ] && [ "$ours" = "$theirs" ]; then
		ok "$desc ($(wc -l <<<"$ours") version/suite pairs, each checked with s_client)"
	else
		fail "$desc"
		diff <(echo "$ours") <(echo "$theirs") | head -n 30 | diag
	fi
}

has_finding() {
	if findings "$1" | grep -qE "^[0-9]+ $2 $3\$"; then ok "$4"
	else fail "$4"; { echo "wanted: $2 $3"; findings "$1"; } | diag; fi
}
no_finding() {
	if ! findings "$1" | grep -qE " $2\$"; then ok "$3"
	else fail "$3"; findings "$1" | grep -E " $2\$" | diag; fi
}
no_gaps() {
	local g
	g=$(gaps "$1")
	if [ -z "$g" ] && [ -s "$WORK/$1.json" ]; then ok "$2"; else fail "$2"; printf '%s\n' "$g" | diag; fi
}
expect_rc() {
	if [ "$MH_RC" = "$2" ]; then ok "$1"; else fail "$1 (exit $MH_RC, wanted $2)"; printf '%s\n' "$MH_ERR" | tail -n 5 | diag; fi
}

# ------------------------------------------------------------------ the servers
PF_ARGS=(--root "$ROOT" --server postfix --role mx,submission,submissions --profile intermediate
	--cert "$CERT" --key "$KEY")
DC_ARGS=(--root "$ROOT" --server dovecot --role imap,imaps,pop3,pop3s --profile intermediate
	--cert "$CERT" --key "$KEY")
mh_expect "apply postfix (intermediate)" 0 apply "${PF_ARGS[@]}" --yes
mh_expect "apply dovecot (intermediate)" 0 apply "${DC_ARGS[@]}" --yes
check "test ports are free" ports_free $P_SMTP $P_SUB $P_SUBS $P_IMAP $P_IMAPS $P_POP3 $P_POP3S $P_BROKEN
pf_prepare
dc_prepare 2.3
grep -q '^127\.0\.0\.2 ' "$ROOT/etc/hosts" || echo '127.0.0.2 mh-selftest-client' >>"$ROOT/etc/hosts"

# Postfix: 25 with the built-in "medium" grade and aNULL (DH 1024 for anonymous suites,
# 2048/3072 for the others: OpenSSL's automatic DH); 465 with another certificate and TLS
# 1.3 only; a copy of the submission service whose certificate file does not exist.
# the old profile's cipher string, as core/profile.c has it
OLD_CIPHERS=$(perl -0ne 'print join("", $1 =~ /"([^"]*)"/g) if /\{PROFILE_OLD, "old", "TLSv1",(.*?)TLS13_SUITES/s' \
	"$HERE/../../core/profile.c")
set_pf() { in_root postconf -c "$PF" -P "127.0.0.1:$1/inet/$2"; }
for kv in smtpd_tls_ciphers=medium smtpd_tls_mandatory_ciphers=medium smtpd_tls_exclude_ciphers= \
	smtpd_tls_chain_files=/etc/ssl/mh-test/kukey.pem,/etc/ssl/mh-test/kucert.pem; do
	set_pf "$P_SMTP" "$kv"
done
for kv in "smtpd_tls_chain_files=$ECKEY,$ECCERT" "smtpd_tls_protocols=>=TLSv1.3" \
	"smtpd_tls_mandatory_protocols=>=TLSv1.3"; do
	set_pf "$P_SUBS" "$kv"
done
in_root postconf -c "$PF" -M "127.0.0.1:$P_BROKEN/inet=127.0.0.1:$P_BROKEN inet n - n - - smtpd"
for kv in smtpd_tls_security_level=encrypt smtpd_tls_auth_only=yes smtpd_sasl_auth_enable=yes \
	smtpd_tls_chain_files= smtpd_tls_cert_file=/etc/ssl/mh-test/missing.pem \
	smtpd_tls_key_file=/etc/ssl/mh-test/missing.pem; do
	set_pf "$P_BROKEN" "$kv"
done

# Dovecot: IMAP prefers DHE suites it cannot complete (no ssl_dh); POP3 serves the old
# profile with an RSA and an ECDSA certificate.
{
	echo "ssl_dh ="
	echo "protocol imap {"
	echo "  ssl_cipher_list = DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-SHA:AES128-GCM-SHA256:AES256-SHA:ECDHE-RSA-AES128-SHA"
	echo "  ssl_prefer_server_ciphers = yes"
	echo "}"
	echo "protocol pop3 {"
	echo "  ssl_min_protocol = TLSv1"
	echo "  ssl_cipher_list = $OLD_CIPHERS"
	echo "  ssl_dh = </usr/share/dovecot/dh.pem"
	echo "  ssl_alt_cert = <$ECCERT"
	echo "  ssl_alt_key = <$ECKEY"
	echo "}"
} >>"$ROOT$DC/dovecot.conf"
check "the old profile's cipher list is known" test -n "$OLD_CIPHERS"

check "postfix starts" pf_start
wait_port "$P_BROKEN" 15 || fail "postfix: port $P_BROKEN not open"
check "dovecot starts" dc_start

# ------------------------------------------------------------------ enumeration
st imap "$P_IMAP/imap"
same_as_truth "IMAP, DHE preferred without DH parameters: accepted suites equal s_client's" \
	imap "$P_IMAP" imap 127.0.0.2
has_finding imap medium tls.suites.no_fs "IMAP: the plain-RSA suites behind the failing DHE ones are found (no_fs)"
no_gaps imap "IMAP: every candidate resolved"

st mx "$P_SMTP/mx"
same_as_truth "port 25 with aNULL: accepted suites and the DH size of each equal s_client's" mx "$P_SMTP" smtp -
has_finding mx medium tls.dh.size "port 25: the 1024-bit group (anonymous suites) is judged, not the first one seen"
expect_match "port 25: every DH size kept (1024, 2048, 3072)" '^1024 2048 3072$' \
	"$(jfield mx 'join " ", sort { $a <=> $b } map { $_->{bits} } @{$p->{tls_scan}{dh_groups}}')"
expect_match "port 25: the JSON 'dh' (schema 1) names the weakest group" '^1024$' "$(jfield mx '$p->{tls_scan}{dh}{bits}')"

st pop3s-old "$P_POP3S/pop3s" --profile old
same_as_truth "POP3S, old profile with RSA and ECDSA certificates: accepted suites equal s_client's" \
	pop3s-old "$P_POP3S" - -
no_finding pop3s-old tls.suites.no_fs "old profile: its own non-forward-secret suites are no finding"
st pop3s-int "$P_POP3S/pop3s" --profile intermediate
has_finding pop3s-int medium tls.suites.no_fs "the same port judged as intermediate: non-forward-secret suites found"

# ------------------------------------------------------------------ the checks testssl has
fp() { openssl x509 -noout -fingerprint -sha256 -in "$ROOT$1" | sed 's/.*=//; s/://g'; }
expect_match "dual certificates: both found, each the file's (ECDSA and RSA)" \
	"^$(fp "$ECCERT") $(fp "$CERT")\$" "$(jfield pop3s-old 'join " ", map { $_->{sha256} } @{$p->{certificates}}')"
has_finding pop3s-old info cert.count "dual certificates: reported as two"
expect_match "key usage: the file says keyEncipherment only (openssl x509)" 'Key Encipherment' \
	"$(openssl x509 -noout -ext keyUsage -in "$ROOT/etc/ssl/mh-test/kucert.pem")"
has_finding mx medium cert.key_usage "key usage without digitalSignature: medium on port 25"
has_finding pop3s-old ok cert.key_usage "key usage: no restriction is fine"

scsv=$(echo | timeout 20 openssl s_client -connect "127.0.0.1:$P_SMTP" -starttls smtp -tls1_2 -fallback_scsv 2>&1)
expect_match "TLS_FALLBACK_SCSV: s_client gets inappropriate_fallback from port 25" 'inappropriate fallback' "$scsv"
expect_match "TLS_FALLBACK_SCSV: the self-test says supported" '^1$' "$(jfield mx '$p->{tls_scan}{fallback_scsv} ? 1 : 0')"
expect_match "Heartbleed: no heartbeat extension, not vulnerable (port 25, POP3S)" '^not_vulnerable false not_vulnerable false$' \
	"$(jfield mx '"$p->{tls_scan}{heartbleed} " . ($p->{tls_scan}{heartbeat} ? "true" : "false")') $(jfield pop3s-old '"$p->{tls_scan}{heartbleed} " . ($p->{tls_scan}{heartbeat} ? "true" : "false")')"
status=$(echo | timeout 20 openssl s_client -connect "127.0.0.1:$P_SMTP" -starttls smtp -status 2>&1)
expect_match "OCSP: s_client sees no stapled response" 'OCSP response: no response sent' "$status"
expect_match "OCSP: the self-test says not stapled" '^0$' "$(jfield mx '$p->{certificate}{ocsp_stapled} ? 1 : 0')"

# every signature scheme we list works alone with s_client; one we do not list fails
sig_bad=""
for alg in $(jfield mx 'join " ", @{$p->{tls_scan}{signature_algorithms}}'); do
	case $alg in *sha224) continue ;; esac # no OpenSSL name for the legacy SHA-224 codes
	echo | timeout 20 openssl s_client -connect "127.0.0.1:$P_SMTP" -starttls smtp -tls1_2 -sigalgs "$alg" \
		-cipher 'ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0' 2>&1 | grep -q '^Server Temp Key' || sig_bad="$sig_bad $alg"
done
if [ -z "$sig_bad" ] && [ -n "$(jfield mx 'join " ", @{$p->{tls_scan}{signature_algorithms}}')" ]; then
	ok "signature algorithms: each one listed for port 25 works alone with s_client"
else fail "signature algorithms: s_client fails with:$sig_bad"; fi
expect_no_match "signature algorithms: ECDSA is not listed for an RSA certificate" 'ecdsa' \
	"$(jfield mx 'join " ", @{$p->{tls_scan}{signature_algorithms}}')"

# resumption, judged by s_client saving a session and offering it again
resumes() { # PORT STARTTLS ARGS...: "1" when s_client resumes its own saved session
	local port=$1 st=$2
	shift 2
	(sleep 1; echo QUIT) | timeout 20 openssl s_client -connect "127.0.0.1:$port" ${st:+-starttls $st} "$@" \
		-sess_out "$WORK/sess.pem" >/dev/null 2>&1
	(sleep 1; echo QUIT) | timeout 20 openssl s_client -connect "127.0.0.1:$port" ${st:+-starttls $st} "$@" \
		-sess_in "$WORK/sess.pem" 2>&1 | grep -c '^Reused,'
}
expect_match "resumption by ticket on port 25: the self-test agrees with s_client" \
	"^$(resumes "$P_SMTP" smtp) " "$(jfield mx '($p->{resumption}{ticket} ? 1 : 0) . " "')"
expect_match "resumption by session ID on port 25: the self-test agrees with s_client" \
	"^$(resumes "$P_SMTP" smtp -tls1_2 -no_ticket) " "$(jfield mx '($p->{resumption}{session_id} ? 1 : 0) . " "')"

# ------------------------------------------------------------------ 454 after STARTTLS
st broken "$P_BROKEN/submission"
expect_rc "certificate file missing: exit 2" 2
has_finding broken critical tls.starttls_fails "certificate file missing: STARTTLS advertised, 454: critical tls.starttls_fails"
has_finding broken ok mail.tls_enforced "certificate file missing: the findings before STARTTLS are kept"
expect_match "certificate file missing: the port counts as tested" '^tested$' "$(jfield broken '$p->{status}')"
expect_match "certificate file missing: the server's reply is quoted" '454 4\.7\.0' "$(jfield broken '$p->{findings}[-1]{text}')"

# ------------------------------------------------------------------ parity
st pair "$P_SUB/submission,$P_SUBS/submissions"
has_finding pair medium parity.certificate "465/587: the other certificate is reported"
has_finding pair medium parity.policy "465/587: the other protocols are reported too, not hidden by the certificate"

# ------------------------------------------------------------------ source address
pf_lines=$(wc -l <"$ROOT/var/log/mh-postfix.log")
dc_lines=$(wc -l <"$ROOT/var/log/mh-dovecot.log")
st source "$P_SUB/submission,$P_IMAP/imap"
expect_no_match "SMTP on loopback connects from 127.0.0.1 (no reverse lookup of 127.0.0.2)" \
	'127\.0\.0\.2' "$(tail -n +"$((pf_lines + 1))" "$ROOT/var/log/mh-postfix.log" | grep 'connect from')"
expect_match "IMAP on loopback connects from 127.0.0.2 (Dovecot trusts same-address clients)" \
	'rip=127\.0\.0\.2' "$(tail -n +"$((dc_lines + 1))" "$ROOT/var/log/mh-dovecot.log")"

# ------------------------------------------------------------------ a loaded host
ALL="$P_SMTP/mx,$P_SUB/submission,$P_SUBS/submissions,$P_IMAP/imap,$P_IMAPS/imaps,$P_POP3/pop3,$P_POP3S/pop3s,$P_BROKEN/submission"
st quiet "$ALL" --jobs 1
no_gaps quiet "quiet host, --jobs 1: nothing untested"
# (465 speaks only TLS 1.3, which has no heartbeats: null there)
expect_match "Heartbleed: every port with TLS <= 1.2 checked, none vulnerable" \
	'^not_vulnerable not_vulnerable none not_vulnerable not_vulnerable not_vulnerable not_vulnerable $' \
	"$(perl -MJSON::PP -e 'local $/; my $d = decode_json(<STDIN>); print map { ($_->{tls_scan}{heartbleed} // "none") . " " } grep { $_->{tls_scan} } @{$d->{ports}}' <"$WORK/quiet.json")"
# two busy loops per CPU, bounded in time, stopped by pid
HOGS=()
for _ in $(seq $(($(nproc) * 2))); do
	timeout 120 perl -e '1 while 1' &
	HOGS+=($!)
done
st loaded "$ALL" --jobs 4
for pid in "${HOGS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
no_gaps loaded "loaded host, --jobs 4: nothing untested (timeouts retried)"
if [ "$(findings quiet)" = "$(findings loaded)" ] && [ -n "$(findings quiet)" ]; then
	ok "loaded host, --jobs 4 and quiet host, --jobs 1: the same $(findings quiet | wc -l) findings"
else
	fail "loaded host, --jobs 4 and quiet host, --jobs 1: the same findings"
	diff <(findings quiet) <(findings loaded) | head -n 20 | diag
fi

if [ "$MH_FAILS" != 0 ]; then
	note "postfix log:"; pf_log 15 | diag
	note "dovecot log:"; dc_log 15 | diag
fi
pf_stop
dc_stop
