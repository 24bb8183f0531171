#!/bin/bash
# test_effective.sh - "hardened" means what the server really does (Debian 12: Postfix 3.7,
# Dovecot 2.3).
#
# The servers' own tools (postconf -x / -P, doveconf -f protocol=...) must confirm every
# value mailharden intends, on the staged copy before writing and on the real files after.
# An override mailharden cannot see through (a protocol filter, Debian's local.conf, a
# master.cf -o) must never end in exit 0; a live handshake shows the override is real.
# Needs root; MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"

mh_init bookworm
set_ports "${MH_PORT_BASE_EFFECTIVE:-32000}"

CERT=/etc/ssl/mh-test/cert.pem
KEY=/etc/ssl/mh-test/key.pem
make_cert /etc/ssl/mh-test
PF_ARGS=(--root "$ROOT" --server postfix --role mx,submission,submissions --profile intermediate
	--cert "$CERT" --key "$KEY")
DC_ARGS=(--root "$ROOT" --server dovecot --role imap,imaps,pop3,pop3s --profile intermediate
	--cert "$CERT" --key "$KEY")
H=127.0.0.1

# ------------------------------------------------------------------ a clean apply is verified
mh_expect "apply postfix exits 0" 0 apply "${PF_ARGS[@]}" --yes
expect_match "postfix apply: every setting verified by postconf" \
	'^Postfix: verified with the server.s own tool: all [0-9]+ settings take effect' "$MH_OUT"
mh_expect "apply dovecot exits 0" 0 apply "${DC_ARGS[@]}" --yes
expect_match "dovecot apply: every setting verified by doveconf" \
	'^Dovecot: verified with the server.s own tool: all [0-9]+ settings take effect' "$MH_OUT"

# ------------------------------------------------------------------ a weak protocol filter
# What a careless tool misses: the global value is right, the filter wins for IMAP.
CONF=$ROOT/etc/dovecot/conf.d/20-imap.conf
sed -i '/^protocol imap {/a\  ssl = yes\n  disable_plaintext_auth = no' "$CONF"
LINE=$(grep -n '^  disable_plaintext_auth = no' "$CONF" | cut -d: -f1)
printf 'ssl_cipher_list = ALL\n' >"$ROOT/etc/dovecot/local.conf"
snapshot /etc >"$WORK/etc.weak"
mh_expect "apply dovecot with a weak protocol imap filter and local.conf: exit 1" 1 apply "${DC_ARGS[@]}" --yes
expect_match "the refusal names 20-imap.conf:$LINE and the setting" \
	"disable_plaintext_auth is 'no' \(/etc/dovecot/conf.d/20-imap.conf:$LINE\)" "$MH_ERR"
expect_match "the refusal names ssl = yes in the filter" \
	"protocol imap.*ssl is 'yes' \(/etc/dovecot/conf.d/20-imap.conf:$((LINE - 1))\)" "$MH_ERR"
expect_match "the refusal names local.conf:1 and the cipher list" \
	"ssl_cipher_list is 'ALL' \(/etc/dovecot/local.conf:1\)" "$MH_ERR"
expect_no_match "no success claim while a value is weaker" 'verified with the server.s own tool: all' "$MH_OUT"
expect_no_match "no internal stage path in any message" 'stage\.' "$MH_ERR$MH_OUT"
snapshot_same "refused: nothing under /etc changed" "$WORK/etc.weak"

# the refusal is not a guess: the running server really is weak
dc_prepare 2.3
check "dovecot 2.3 starts with the overridden config" dc_start
t=$(chat --bind 127.0.0.2 imap $H $P_IMAP "a CAPABILITY" "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "live: 143 from 127.0.0.2 accepts a plaintext LOGIN (the filter wins)" '^S: b OK ' "$(reply_to "$t" "b LOGIN")"
out=$(tls_probe -tls1_2 -cipher AES128-SHA -connect $H:$P_IMAPS)
expect_match "live: 993 accepts AES128-SHA (local.conf wins)" '^Ciphersuite: AES128-SHA$' "$out"
dc_stop

# ------------------------------------------------------------------ a weak master.cf -o
MASTER=$ROOT/etc/postfix/master.cf
sed -i '/^submission inet/a\  -o smtpd_tls_mandatory_ciphers=medium' "$MASTER"
LINE=$(grep -n '^  -o smtpd_tls_mandatory_ciphers=medium' "$MASTER" | cut -d: -f1)
snapshot /etc >"$WORK/etc.weak"
mh_expect "apply postfix with -o smtpd_tls_mandatory_ciphers=medium on submission: exit 1" 1 \
	apply "${PF_ARGS[@]}" --yes
expect_match "the report names master.cf:$LINE and the setting" \
	"smtpd_tls_mandatory_ciphers is 'medium' \(/etc/postfix/master.cf:$LINE\)" "$MH_ERR"
snapshot_same "nothing under /etc changed" "$WORK/etc.weak"

if [ "$MH_FAILS" != 0 ]; then
	note "dovecot log:"; dc_log 15 | diag
fi
stop_all_in_root
