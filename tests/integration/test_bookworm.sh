#!/bin/bash
# test_bookworm.sh - mailharden against Debian 12's real Postfix 3.7 and Dovecot 2.3.
#
# Fresh private root -> apply (postfix, dovecot; profile intermediate) -> the servers' own
# validators -> start both servers from the written configs on 127.0.0.1 high ports ->
# probe them with the host's openssl and a perl client -> rollback restores /etc exactly
# -> bad input changes nothing.  Needs root; MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"

mh_init bookworm
set_ports "${MH_PORT_BASE_BOOKWORM:-20000}"

CERT=/etc/ssl/mh-test/cert.pem
KEY=/etc/ssl/mh-test/key.pem
make_cert /etc/ssl/mh-test
snapshot /etc >"$WORK/etc.before"

# ------------------------------------------------------------------ apply
# submission's AUTH goes to Dovecot's auth socket (--sasl dovecot): Postfix gets
# smtpd_sasl_type/path, Dovecot's drop-in the unix_listener in Postfix's queue dir
PF_ARGS=(--root "$ROOT" --server postfix --role mx,submission,submissions --profile intermediate --sasl dovecot
	--cert "$CERT" --key "$KEY")
DC_ARGS=(--root "$ROOT" --server dovecot --role imap,imaps,pop3,pop3s --profile intermediate --sasl dovecot
	--cert "$CERT" --key "$KEY")

mh_expect "plan postfix exits 0" 0 plan "${PF_ARGS[@]}"
snapshot_same "plan changes nothing under /etc" "$WORK/etc.before"
mh_expect "apply postfix (mx,submission,submissions; intermediate) exits 0" 0 apply "${PF_ARGS[@]}" --yes
mh_expect "apply dovecot (imap,imaps,pop3,pop3s; intermediate) exits 0" 0 apply "${DC_ARGS[@]}" --yes
snapshot /etc >"$WORK/etc.applied"
if cmp -s "$WORK/etc.before" "$WORK/etc.applied"; then
	fail "apply changed files under /etc"
else
	ok "apply changed files under /etc"
fi

check "master.cf: submission (587) is enabled for all clients, not loopback only" pf_public_service submission 587
check "master.cf: submissions (465) is enabled for all clients, not loopback only" pf_public_service submissions 465

# ------------------------------------------------------------------ validators
out=$(in_root postconf -n 2>&1 >/dev/null)
if [ $? = 0 ] && [ -z "$out" ]; then ok "postconf -n: exit 0, nothing on stderr"
else fail "postconf -n: exit 0, nothing on stderr"; printf '%s\n' "$out" | diag; fi
check "doveconf -n accepts the written config" in_root doveconf -n
check "doveconf -x accepts the written config (opens cert/key/dh files)" in_root doveconf -x
check "postfix check accepts the written config" script -qec "chroot '$ROOT' postfix check" /dev/null

# ------------------------------------------------------------------ start the servers
check "test ports are free" ports_free $P_SMTP $P_SUB $P_SUBS $P_IMAP $P_IMAPS $P_POP3 $P_POP3S $P_CTRL
pf_prepare
settings_etc=$(postfix_tls_settings /etc/postfix)
settings_copy=$(postfix_tls_settings "$PF")
if [ -n "$settings_etc" ] && [ "$settings_etc" = "$settings_copy" ]; then
	ok "the test copy of /etc/postfix keeps every TLS setting mailharden wrote"
else
	fail "the test copy of /etc/postfix keeps every TLS setting mailharden wrote"
	diff <(echo "$settings_etc") <(echo "$settings_copy") | diag
fi
dc_prepare 2.3
check "doveconf accepts the test copy" in_root doveconf -c "$DC/dovecot.conf" -x
check "postfix 3.7 starts with the written config" pf_start
check "dovecot 2.3 starts with the written config" dc_start

# ------------------------------------------------------------------ SMTP probes
H=127.0.0.1
t=$(chat smtp $H $P_SUB "EHLO probe.example" "MAIL FROM:<probe@example.org>" QUIT)
expect_match "587: STARTTLS offered before TLS" '^S: 250[- ]STARTTLS' "$t"
expect_no_match "587: no AUTH before STARTTLS" '^S: 250[- ]AUTH' "$t"
expect_match "587: MAIL FROM before STARTTLS refused with 530" '^S: 530 ' "$(reply_to "$t" "MAIL FROM")"

# the real user of Dovecot's passdb, checked through the socket mailharden configured
t=$(chat --tls starttls smtp $H $P_SUB "EHLO probe.example" \
	"AUTH PLAIN $(sasl_plain "$TEST_USER" "$TEST_PASS")" QUIT)
expect_match "587: AUTH offered after STARTTLS" '^S: 250[- ]AUTH.*PLAIN' "$t"
expect_match "587: AUTH PLAIN with Dovecot's user succeeds after STARTTLS (Dovecot SASL)" \
	'^S: 235 ' "$(reply_to "$t" "AUTH PLAIN")"
t=$(chat --tls starttls smtp $H $P_SUB "EHLO probe.example" \
	"AUTH PLAIN $(sasl_plain "$TEST_USER" "wrong-$TEST_PASS")" QUIT)
expect_match "587: a wrong password is refused (535)" '^S: 535 ' "$(reply_to "$t" "AUTH PLAIN")"
check "postconf: smtpd_sasl_type = dovecot, smtpd_sasl_path = private/auth" \
	test "$(in_root postconf -h smtpd_sasl_type smtpd_sasl_path | tr '\n' ' ')" = "dovecot private/auth "
check "Dovecot made its auth socket in Postfix's queue directory, owned by postfix" \
	test "$(in_root stat -c '%U:%G %a %F' /var/spool/postfix/private/auth 2>/dev/null)" = "postfix:postfix 660 socket"

t=$(chat --tls implicit smtp $H $P_SUBS "EHLO probe.example" QUIT)
expect_match "465: implicit TLS greeting" '^S: 220 ' "$t"
expect_match "465: AUTH offered over implicit TLS" '^S: 250[- ]AUTH' "$t"

t=$(chat smtp $H $P_SMTP "EHLO probe.example" "MAIL FROM:<probe@example.org>" \
	"RCPT TO:<root@localhost>" DATA 'Subject: mh test\n\nhello\n.' QUIT)
expect_match "25: STARTTLS offered" '^S: 250[- ]STARTTLS' "$t"
expect_match "25: MAIL FROM without TLS accepted" '^S: 250 ' "$(reply_to "$t" "MAIL FROM")"
expect_match "25: RCPT TO a local user without TLS accepted" '^S: 250 ' "$(reply_to "$t" "RCPT TO")"
expect_match "25: mail without TLS accepted (250 after the DATA body)" '^S: 250 ' "$(reply_to "$t" "Subject:")"

# ------------------------------------------------------------------ IMAP / POP3 probes
t=$(chat --bind 127.0.0.2 imap $H $P_IMAP "a CAPABILITY" "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "143 from 127.0.0.2: STARTTLS and LOGINDISABLED before TLS" 'STARTTLS.*LOGINDISABLED|LOGINDISABLED.*STARTTLS' "$t"
expect_match "143 from 127.0.0.2: plaintext LOGIN refused" '^S: b NO ' "$(reply_to "$t" "b LOGIN")"
t=$(chat --tls starttls imap $H $P_IMAP "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "143: LOGIN works after STARTTLS" '^S: b OK ' "$t"
t=$(chat --tls implicit imap $H $P_IMAPS "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "993: implicit TLS and LOGIN work" '^S: b OK ' "$t"
t=$(chat --bind 127.0.0.2 pop3 $H $P_POP3 CAPA QUIT)
expect_match "110 from 127.0.0.2: STLS offered" '^S: STLS' "$t"
expect_no_match "110 from 127.0.0.2: no USER before STLS" '^S: USER' "$t"
t=$(chat --tls implicit pop3 $H $P_POP3S "USER $TEST_USER" "PASS $TEST_PASS" QUIT)
expect_match "995: implicit TLS and login work" '^S: \+OK Logged in' "$t"

# ------------------------------------------------------------------ protocol versions
client_speaks_tls11 $P_CTRL
tls_refuses "587 refuses TLS 1.1" -tls1_1 -starttls smtp -connect $H:$P_SUB
tls_accepts "587 accepts TLS 1.2" -tls1_2 -starttls smtp -connect $H:$P_SUB
tls_accepts "587 accepts TLS 1.3" -tls1_3 -starttls smtp -connect $H:$P_SUB
tls_refuses "993 refuses TLS 1.1" -tls1_1 -connect $H:$P_IMAPS
tls_accepts "993 accepts TLS 1.2" -tls1_2 -connect $H:$P_IMAPS
tls_accepts "993 accepts TLS 1.3" -tls1_3 -connect $H:$P_IMAPS
tls_accepts "25 still accepts TLS 1.2" -tls1_2 -starttls smtp -connect $H:$P_SMTP
tls_accepts "465 accepts TLS 1.3" -tls1_3 -connect $H:$P_SUBS

if [ "$MH_FAILS" != 0 ]; then
	note "postfix log:"; pf_log 15 | diag
	note "dovecot log:"; dc_log 15 | diag
fi
pf_stop
dc_stop
if wait_root_empty 5; then ok "no process left in the root after stopping the servers"
else fail "no process left in the root after stopping the servers"; left_in_root | diag; fi
umount_below "$ROOT"

# ------------------------------------------------------------------ history and rollback
mh_expect "history --json exits 0" 0 history --root "$ROOT" --json
check "history --json prints valid JSON" perl -MJSON::PP -e 'local $/; decode_json(<STDIN>)' <<<"$MH_OUT"
mh_expect "rollback (latest: dovecot) exits 0" 0 rollback --root "$ROOT"
mh_expect "rollback (next: postfix) exits 0" 0 rollback --root "$ROOT"
snapshot_same "after two rollbacks /etc is byte-identical to before (content, owner, mode)" "$WORK/etc.before"

# ------------------------------------------------------------------ bad input changes nothing
mh_expect "apply with a newline in the cert path fails" 1 apply --root "$ROOT" --server postfix \
	--role mx --profile intermediate --cert "$(printf '/etc/ssl/mh-test/cert.pem\nsmtpd_tls_loglevel = 4')" \
	--key "$KEY" --yes
snapshot_same "newline in the cert path: /etc unchanged" "$WORK/etc.before"

printf 'this line is not a postfix parameter\n' >>"$ROOT/etc/postfix/main.cf"
snapshot /etc >"$WORK/etc.broken"
mh_expect "apply on a broken main.cf fails with exit 1" 1 apply "${PF_ARGS[@]}" --yes
if [ -n "$MH_ERR" ] && [ "$(printf '%s\n' "$MH_ERR" | wc -l)" = 1 ]; then
	ok "broken main.cf: exactly one line on stderr"
else
	fail "broken main.cf: exactly one line on stderr"
	printf '%s\n' "$MH_ERR" | head -n 20 | diag
fi
snapshot_same "broken main.cf: nothing changed" "$WORK/etc.broken"
