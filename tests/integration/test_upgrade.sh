#!/bin/bash
# test_upgrade.sh - re-hardening after a Debian 12 -> 13 upgrade (Postfix 3.7 -> 3.10,
# Dovecot 2.3 -> 2.4).
#
# A Debian 12 root is hardened by mailharden; its /etc/postfix, /etc/dovecot and
# /var/lib/mailharden are carried into a Debian 13 root, once keeping every old conffile
# and once taking the maintainer's new dovecot.conf.  Then: detect says Dovecot refuses its
# configuration and why; apply names everything 2.4 rejects in one run (nothing written);
# once the admin has changed the non-TLS settings, apply migrates the TLS and auth lines
# (the admin's too), Dovecot 2.4 starts and the live self-test is clean; a rollback to the
# 2.3 files is refused.  On the same Debian 13 root, overrides (a protocol filter,
# local.conf, a conf.d file after 99, master.cf -o, a duplicate main.cf key) are resolved and
# proven by doveconf/postconf and a live handshake.  Needs root; MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"

mh_init trixie
set_ports "${MH_PORT_BASE_UPGRADE:-33000}"
OLD=$("$MH_LIB_DIR/mkroot.sh" --restore bookworm) || { fail "restore the bookworm root"; exit 1; }
RM_PID=
upgrade_cleanup() {
	local rc=$?
	[ -n "$RM_PID" ] && wait "$RM_PID" 2>/dev/null
	[ -n "${OLD:-}" ] && [ -d "$OLD" ] && [ "${MH_KEEP:-0}" != 1 ] &&
		[ -z "$(mounts_below "$OLD")" ] && rm -rf --one-file-system "$OLD"
	(exit $rc)
	mh_cleanup
}
trap upgrade_cleanup EXIT

CERT=/etc/ssl/mh-test/cert.pem
KEY=/etc/ssl/mh-test/key.pem
# a year, so the self-test's expiry warning stays quiet; trusted through --cafile
mkdir -p "$OLD/etc/ssl/mh-test"
openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj /CN=localhost \
	-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
	-keyout "$OLD/etc/ssl/mh-test/key.pem" -out "$OLD/etc/ssl/mh-test/cert.pem" 2>/dev/null
chmod 600 "$OLD/etc/ssl/mh-test/key.pem"
H=127.0.0.1

# the servers' directories only: /etc/ssl/certs makes a whole-/etc snapshot slow
snap_cfg() { snapshot /etc/postfix; snapshot /etc/dovecot; }
cfg_same() {
	local now
	now=$(snap_cfg)
	if [ "$now" = "$(cat "$2")" ]; then ok "$1"; else fail "$1"; diff <(cat "$2") <(printf '%s\n' "$now") | head -n 30 | diag; fi
}
DC_ROLES=(--server dovecot --role imap,imaps,pop3,pop3s --profile intermediate --cert "$CERT" --key "$KEY")
PF_ROLES=(--server postfix --role mx,submission,submissions --profile intermediate --cert "$CERT" --key "$KEY")

# ------------------------------------------------------------------ Debian 12, hardened
mh_expect "Debian 12: apply postfix 3.7" 0 apply --root "$OLD" "${PF_ROLES[@]}" --yes
mh_expect "Debian 12: apply dovecot 2.3" 0 apply --root "$OLD" "${DC_ROLES[@]}" --yes
cp -a "$ROOT/etc/dovecot/dovecot.conf" "$WORK/dovecot.conf.2.4"

# carry VARIANT: the hardened Debian 12 files in the Debian 13 root (keep | maintainer)
carry() {
	rm -rf "$ROOT/etc/dovecot" "$ROOT/etc/postfix" "$ROOT/var/lib/mailharden" "$ROOT/etc/ssl/mh-test"
	cp -a "$OLD/etc/dovecot" "$OLD/etc/postfix" "$ROOT/etc/"
	cp -a "$OLD/etc/ssl/mh-test" "$ROOT/etc/ssl/"
	mkdir -p "$ROOT/var/lib"
	cp -a "$OLD/var/lib/mailharden" "$ROOT/var/lib/"
	[ "$1" = keep ] || cp -a "$WORK/dovecot.conf.2.4" "$ROOT/etc/dovecot/dovecot.conf"
}

# admin_fixes: what the admin changes by hand after reading the list (non-TLS settings)
admin_fixes() {
	local d=$ROOT/etc/dovecot
	grep -q '^dovecot_config_version' "$d/dovecot.conf" ||
		sed -i '1i dovecot_config_version = 2.4.1\ndovecot_storage_version = 2.4.1' "$d/dovecot.conf"
	sed -i 's/^passdb {/passdb pam {/; s/^userdb {/userdb passwd {/' "$d/conf.d/auth-system.conf.ext"
	sed -i 's|^mail_location = .*|mail_driver = mbox\nmail_path = ~/mail\nmail_inbox_path = /var/mail/%{user}|' \
		"$d/conf.d/10-mail.conf"
}

for variant in keep maintainer; do
	carry $variant
	# the Debian 12 root is not needed any more: away with it while the test goes on
	if [ $variant = maintainer ] && [ "${MH_KEEP:-0}" != 1 ] && [ -z "$(mounts_below "$OLD")" ]; then
		rm -rf --one-file-system "$OLD" &
		RM_PID=$!
	fi
	mh_expect "$variant: detect exits 0" 0 detect --root "$ROOT"
	expect_match "$variant: detect says Dovecot 2.4 refuses its configuration, with doveconf's line" \
		'REFUSES its configuration: doveconf: Fatal: .*line [0-9]+' "$MH_OUT"
	if [ $variant = keep ]; then
		expect_match "$variant: detect explains the version change (2.3 config, 2.4 installed)" \
			'written for Dovecot 2\.3 or older, the installed Dovecot is 2\.4' "$MH_OUT"
	fi
	expect_no_match "$variant: a refusing Dovecot is not reported as requiring TLS" \
		'TLS required +imap' "$(sed -n '/^Dovecot:/,$p' <<<"$MH_OUT")"
	mh_expect "$variant: verify exits 2 (the server refuses its config)" 2 verify --root "$ROOT"

	snap_cfg >"$WORK/etc.carried"
	mh_expect "$variant: apply names what 2.4 rejects and stops (exit 1)" 1 apply --root "$ROOT" "${DC_ROLES[@]}" --yes
	expect_match "$variant: all at once: mail_location in 10-mail.conf with what 2.4 wants" \
		'/etc/dovecot/conf.d/10-mail.conf:[0-9]+: mail_location: Unknown setting.*2\.4 wants: mail_driver and mail_path' "$MH_ERR"
	expect_match "$variant: all at once: passdb { } in auth-system.conf.ext" \
		'auth-system.conf.ext:[0-9]+: passdb \{ \} is missing section name' "$MH_ERR"
	expect_match "$variant: all at once: userdb { } in auth-system.conf.ext" \
		'auth-system.conf.ext:[0-9]+: userdb \{ \} is missing section name' "$MH_ERR"
	if [ $variant = keep ]; then
		expect_match "$variant: says what to add: dovecot_config_version with the installed version" \
			"dovecot.conf: add 'dovecot_config_version = 2\.4\.1' as its first setting" "$MH_ERR"
		expect_match "$variant: says what to add: dovecot_storage_version" \
			"add 'dovecot_storage_version = 2\.4\.1'" "$MH_ERR"
	else
		expect_no_match "$variant: the maintainer's dovecot.conf needs no version line" \
			'add .dovecot_config_version' "$MH_ERR"
	fi
	expect_no_match "$variant: TLS settings are not on the list (apply migrates them)" \
		'ssl_cert: Unknown setting' "$MH_ERR"
	expect_no_match "$variant: no internal stage path in any message" 'stage\.' "$MH_ERR"
	cfg_same "$variant: refused: nothing in /etc/postfix or /etc/dovecot changed" "$WORK/etc.carried"

	admin_fixes
	mh_expect "$variant: apply after the admin's changes exits 0" 0 apply --root "$ROOT" "${DC_ROLES[@]}" --yes
	expect_match "$variant: the admin's ssl_cert line is rewritten for 2.4 (named first)" \
		'^conflict: /etc/dovecot/conf.d/10-ssl.conf:[0-9]+: ssl_cert = </etc/dovecot/private/dovecot.pem is ssl_server_cert_file = /etc/dovecot/private/dovecot.pem' "$MH_ERR"
	expect_match "$variant: the diff shows the rewritten line" '^\+ssl_server_cert_file = /etc/dovecot/private/dovecot.pem$' "$MH_OUT"
	expect_match "$variant: the diff keeps the old line in the marker comment" \
		'^\+# mailharden: Dovecot 2\.4.* name and syntax; was: ssl_cert = </etc/dovecot/private/dovecot.pem$' "$MH_OUT"
	expect_match "$variant: doveconf 2.4 confirms every setting" '^Dovecot: verified with the server.s own tool: all' "$MH_OUT"
	check "$variant: doveconf -n (2.4) accepts the migrated config" in_root doveconf -n
	check "$variant: doveconf -x (2.4) opens the migrated file settings" in_root doveconf -x
	check "$variant: no 2.3 TLS/auth name left in the effective config" \
		bash -c "! chroot '$ROOT' doveconf -n | grep -nE '^[[:space:]]*(ssl_cert|ssl_key|ssl_dh|ssl_protocols|disable_plaintext_auth|ssl_prefer_server_ciphers) ='"
	mh_expect "$variant: verify after the migration exits 0" 0 verify --root "$ROOT"

	snap_cfg >"$WORK/etc.migrated"
	mh_expect "$variant: rollback to the 2.3 files is refused (exit 1)" 1 rollback --root "$ROOT"
	expect_match "$variant: the refusal names Dovecot 2.4 and says --force" \
		'would restore files that Dovecot 2\.4.* cannot load.*--force' "$MH_ERR"
	expect_match "$variant: the refusal names the 2.3 line 2.4 cannot load" \
		'10-ssl.conf:[0-9]+: ssl_cert: Unknown setting: ssl_cert; 2\.4 wants: ssl_server_cert_file' "$MH_ERR"
	cfg_same "$variant: refused rollback: nothing in /etc/postfix or /etc/dovecot changed" "$WORK/etc.migrated"
done

# ------------------------------------------------------------------ overrides on Debian 13
IMAPCONF=$ROOT/etc/dovecot/conf.d/20-imap.conf
sed -i '/^protocol imap {/a\  ssl = yes\n  auth_allow_cleartext = yes' "$IMAPCONF"
L_SSL=$(grep -n '^  ssl = yes' "$IMAPCONF" | cut -d: -f1)
printf 'ssl_cipher_list = ALL\n' >"$ROOT/etc/dovecot/local.conf"
printf 'ssl_min_protocol = TLSv1.1\n' >"$ROOT/etc/dovecot/conf.d/99-zz-admin.conf"
MASTER=$ROOT/etc/postfix/master.cf
sed -i '/^submission inet/a\  -o smtpd_tls_mandatory_ciphers=medium\n  -o smtpd_tls_mandatory_protocols=>=TLSv1' "$MASTER"
L_CIPH=$(grep -n '^  -o smtpd_tls_mandatory_ciphers=medium' "$MASTER" | cut -d: -f1)
printf 'smtpd_tls_mandatory_protocols = >=TLSv1\n' >>"$ROOT/etc/postfix/main.cf"
mh_expect "2.4 overrides: verify exits 1 (drift)" 1 verify --root "$ROOT"
expect_match "2.4 overrides: verify names the filter's line" \
	"ssl is 'yes' \(/etc/dovecot/conf.d/20-imap.conf:$L_SSL\)" "$MH_OUT"
mh_expect "2.4 overrides: apply dovecot resolves them (exit 0)" 0 apply --root "$ROOT" "${DC_ROLES[@]}" --yes
expect_match "2.4 overrides: conflict named: the protocol imap filter" \
	"^conflict: /etc/dovecot/conf.d/20-imap.conf:$L_SSL: ssl = yes would win" "$MH_ERR"
expect_match "2.4 overrides: conflict named: local.conf" '^conflict: /etc/dovecot/local.conf:1: ssl_cipher_list = ALL' "$MH_ERR"
expect_match "2.4 overrides: conflict named: 99-zz-admin.conf after 99-mailharden" \
	'^conflict: /etc/dovecot/conf.d/99-zz-admin.conf:1: ssl_min_protocol = TLSv1.1' "$MH_ERR"
mh_expect "3.10 overrides: apply postfix resolves them (exit 0)" 0 apply --root "$ROOT" "${PF_ROLES[@]}" --yes
expect_match "3.10 overrides: conflict named: master.cf -o" \
	"^conflict: /etc/postfix/master.cf:$L_CIPH: -o smtpd_tls_mandatory_ciphers=medium" "$MH_ERR"
expect_match "3.10 overrides: conflict named: the duplicate main.cf key" \
	'^conflict: /etc/postfix/main.cf:[0-9]+: smtpd_tls_mandatory_protocols is set again' "$MH_ERR"
expect_match "doveconf 2.4 -f protocol=imap: ssl = required" '^ssl = required$' \
	"$(in_root doveconf -f protocol=imap ssl 2>/dev/null)"
expect_match "doveconf 2.4 -f protocol=imap: auth_allow_cleartext = no" '^auth_allow_cleartext = no$' \
	"$(in_root doveconf -f protocol=imap auth_allow_cleartext 2>/dev/null)"
expect_match "doveconf 2.4: ssl_min_protocol = TLSv1.2" '^ssl_min_protocol = TLSv1.2$' \
	"$(in_root doveconf ssl_min_protocol 2>/dev/null)"
expect_match "postconf 3.10 -P: submission's mandatory ciphers are main.cf's again" '^high$' \
	"$(in_root postconf -h smtpd_tls_mandatory_ciphers 2>/dev/null)"
expect_no_match "postconf 3.10 -P: no weak -o left on submission" \
	'submission/inet/smtpd_tls_mandatory_(ciphers|protocols) = (medium|>=TLSv1$)' "$(in_root postconf -P 2>/dev/null)"
mh_expect "verify after resolving: exit 0" 0 verify --root "$ROOT"

# ------------------------------------------------------------------ Dovecot 2.4 and Postfix 3.10 live
check "test ports are free" ports_free $P_SMTP $P_SUB $P_SUBS $P_IMAP $P_IMAPS $P_POP3 $P_POP3S
dc_prepare 2.4
pf_prepare
# postfix first: it makes the spool directory that holds Dovecot's auth socket for it
check "postfix 3.10 starts with the carried, resolved config" pf_start
check "dovecot 2.4 starts with the migrated, resolved config" dc_start
mh selftest --root "$ROOT" --host $H --port "$P_IMAPS/imaps,$P_IMAP/imap,$P_SUB/submission" \
	--cafile "$ROOT$CERT" --profile intermediate
if [ "$MH_RC" = 0 ]; then ok "live self-test of 993, 143 and 587 is clean (exit 0)"
else fail "live self-test of 993, 143 and 587 is clean (exit $MH_RC)"; mh_diag; fi
t=$(chat --bind 127.0.0.2 imap $H $P_IMAP "a CAPABILITY" "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "live: 143 from 127.0.0.2 refuses a cleartext LOGIN (the filter's override is gone)" \
	'^S: b NO ' "$(reply_to "$t" "b LOGIN")"
out=$(tls_probe -tls1_2 -cipher AES128-SHA -connect $H:$P_IMAPS)
expect_no_match "live: 993 refuses AES128-SHA (local.conf's ALL is gone)" '^Ciphersuite: AES128-SHA$' "$out"
out=$(tls_probe -starttls smtp -tls1_2 -cipher AES128-SHA -connect $H:$P_SUB)
expect_no_match "live: 587 refuses AES128-SHA (the -o medium is gone)" '^Ciphersuite: AES128-SHA$' "$out"
t=$(chat --tls implicit imap $H $P_IMAPS "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "live: 993 implicit TLS and LOGIN work on Dovecot 2.4" '^S: b OK ' "$t"
if [ "$MH_FAILS" != 0 ]; then
	note "dovecot log:"; dc_log 15 | diag
	note "postfix log:"; pf_log 15 | diag
fi
pf_stop
dc_stop
stop_all_in_root
