#!/bin/bash
# test_trixie.sh - mailharden against Debian 13's real Postfix 3.10 and Dovecot 2.4
# (OpenSSL 3.5): the written configs pass the servers' own validators without warnings,
# the servers start with them on loopback, refuse TLS 1.1 and accept 1.2 and 1.3, and a
# rollback restores /etc exactly.  Needs root; MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"

mh_init trixie
set_ports "${MH_PORT_BASE_TRIXIE:-21000}"

CERT=/etc/ssl/mh-test/cert.pem
KEY=/etc/ssl/mh-test/key.pem
make_cert /etc/ssl/mh-test
snapshot /etc >"$WORK/etc.before"

# ------------------------------------------------------------------ apply
mh_expect "apply postfix 3.10 (mx,submission,submissions; intermediate) exits 0" 0 apply \
	--root "$ROOT" --server postfix --role mx,submission,submissions --profile intermediate \
	--cert "$CERT" --key "$KEY" --yes
mh_expect "apply dovecot 2.4 (imap,imaps,pop3,pop3s; intermediate) exits 0" 0 apply \
	--root "$ROOT" --server dovecot --role imap,imaps,pop3,pop3s --profile intermediate \
	--cert "$CERT" --key "$KEY" --yes

# ------------------------------------------------------------------ validators
out=$(in_root postconf -n 2>&1 >/dev/null)
if [ $? = 0 ] && [ -z "$out" ]; then ok "postconf -n (3.10): exit 0, no warnings on stderr"
else fail "postconf -n (3.10): exit 0, no warnings on stderr"; printf '%s\n' "$out" | diag; fi
out=$(in_root postconf -M 2>&1 >/dev/null)
if [ $? = 0 ] && [ -z "$out" ]; then ok "postconf -M (3.10): exit 0, no warnings on stderr"
else fail "postconf -M (3.10): exit 0, no warnings on stderr"; printf '%s\n' "$out" | diag; fi
check "doveconf -n (2.4) accepts the written config" in_root doveconf -n
check "doveconf -x (2.4) accepts the written config (opens the cert and key files)" in_root doveconf -x
check "no 2.3-only setting names in the written config" \
	bash -c "! chroot '$ROOT' doveconf -n | grep -nE '^[[:space:]]*(ssl_cert|ssl_key|ssl_dh|ssl_protocols|disable_plaintext_auth|ssl_prefer_server_ciphers) ='"

# ------------------------------------------------------------------ start the servers
check "test ports are free" ports_free $P_SMTP $P_SUB $P_SUBS $P_IMAP $P_IMAPS $P_POP3 $P_POP3S
pf_prepare
settings_etc=$(postfix_tls_settings /etc/postfix)
settings_copy=$(postfix_tls_settings "$PF")
if [ -n "$settings_etc" ] && [ "$settings_etc" = "$settings_copy" ]; then
	ok "the test copy of /etc/postfix keeps every TLS setting mailharden wrote"
else
	fail "the test copy of /etc/postfix keeps every TLS setting mailharden wrote"
	diff <(echo "$settings_etc") <(echo "$settings_copy") | diag
fi
dc_prepare 2.4
check "doveconf (2.4) accepts the test copy" in_root doveconf -c "$DC/dovecot.conf" -x
check "postfix 3.10 starts with the written config" pf_start
check "dovecot 2.4 starts with the written config" dc_start

H=127.0.0.1
tls_refuses "postfix 3.10: 587 refuses TLS 1.1" -tls1_1 -starttls smtp -connect $H:$P_SUB
tls_accepts "postfix 3.10: 587 accepts TLS 1.2" -tls1_2 -starttls smtp -connect $H:$P_SUB
tls_accepts "postfix 3.10: 587 accepts TLS 1.3" -tls1_3 -starttls smtp -connect $H:$P_SUB
tls_accepts "postfix 3.10: 25 accepts TLS 1.2" -tls1_2 -starttls smtp -connect $H:$P_SMTP
t=$(chat smtp $H $P_SUB "EHLO probe.example" "MAIL FROM:<probe@example.org>" QUIT)
expect_no_match "postfix 3.10: 587 offers no AUTH before STARTTLS" '^S: 250[- ]AUTH' "$t"
expect_match "postfix 3.10: 587 refuses MAIL FROM before STARTTLS (530)" '^S: 530 ' "$(reply_to "$t" "MAIL FROM")"

tls_refuses "dovecot 2.4: 993 refuses TLS 1.1" -tls1_1 -connect $H:$P_IMAPS
tls_accepts "dovecot 2.4: 993 accepts TLS 1.2" -tls1_2 -connect $H:$P_IMAPS
tls_accepts "dovecot 2.4: 993 accepts TLS 1.3" -tls1_3 -connect $H:$P_IMAPS
tls_refuses "dovecot 2.4: 143 STARTTLS refuses TLS 1.1" -tls1_1 -starttls imap -connect $H:$P_IMAP
tls_accepts "dovecot 2.4: 995 accepts TLS 1.2" -tls1_2 -connect $H:$P_POP3S
t=$(chat --bind 127.0.0.2 imap $H $P_IMAP "a CAPABILITY" "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "dovecot 2.4: 143 from 127.0.0.2 shows LOGINDISABLED before TLS" 'LOGINDISABLED' "$t"
expect_match "dovecot 2.4: cleartext LOGIN from 127.0.0.2 refused" '^S: b NO ' "$(reply_to "$t" "b LOGIN")"
t=$(chat --tls implicit imap $H $P_IMAPS "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "dovecot 2.4: 993 implicit TLS and LOGIN work" '^S: b OK ' "$t"
t=$(chat --bind 127.0.0.2 pop3 $H $P_POP3 CAPA QUIT)
expect_no_match "dovecot 2.4: 110 from 127.0.0.2: no USER before STLS" '^S: USER' "$t"

if [ "$MH_FAILS" != 0 ]; then
	note "postfix log:"; pf_log 15 | diag
	note "dovecot log:"; dc_log 15 | diag
fi
pf_stop
dc_stop
if wait_root_empty 5; then ok "no process left in the root after stopping the servers"
else fail "no process left in the root after stopping the servers"; left_in_root | diag; fi
umount_below "$ROOT"

# ------------------------------------------------------------------ rollback
mh_expect "rollback (latest: dovecot) exits 0" 0 rollback --root "$ROOT"
mh_expect "rollback (next: postfix) exits 0" 0 rollback --root "$ROOT"
snapshot_same "after two rollbacks /etc is byte-identical to before (content, owner, mode)" "$WORK/etc.before"
