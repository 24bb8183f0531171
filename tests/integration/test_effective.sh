#!/bin/bash
# test_effective.sh - "hardened" means what the server really does (Debian 12: Postfix 3.7,
# Dovecot 2.3).
#
# The servers' own tools (postconf -x / -P, doveconf -f protocol=...) must confirm every
# value mailharden intends, on the staged copy before writing and on the real files after.
# Overrides of the admin's (a protocol filter, Debian's local.conf, a conf.d file sorting
# after mailharden's, master.cf -o per TLS parameter, a duplicate main.cf key) are either
# resolved in the same checkpoint, proven by postconf/doveconf AND a live handshake, or
# refused by file:line with nothing written.  A live handshake first shows each override is
# real, so a test that passes is not a test that cannot fail.
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

# the servers' directories only: /etc/ssl/certs makes a whole-/etc snapshot slow
snap_cfg() { snapshot /etc/postfix; snapshot /etc/dovecot; }
cfg_same() {
	local now
	now=$(snap_cfg)
	if [ "$now" = "$(cat "$2")" ]; then ok "$1"; else fail "$1"; diff <(cat "$2") <(printf '%s\n' "$now") | head -n 30 | diag; fi
}

# ------------------------------------------------------------------ a clean apply is verified
mh_expect "apply postfix exits 0" 0 apply "${PF_ARGS[@]}" --yes
expect_match "postfix apply: every setting verified by postconf" \
	'^Postfix: verified with the server.s own tool: all [0-9]+ settings take effect' "$MH_OUT"
mh_expect "apply dovecot exits 0" 0 apply "${DC_ARGS[@]}" --yes
expect_match "dovecot apply: every setting verified by doveconf" \
	'^Dovecot: verified with the server.s own tool: all [0-9]+ settings take effect' "$MH_OUT"

mh_expect "verify after a clean apply: exit 0" 0 verify --root "$ROOT"
expect_match "verify: Postfix holds" '^Postfix 3\.7.*: holds: all [0-9]+ settings .*profile intermediate' "$MH_OUT"
expect_match "verify: Dovecot holds" '^Dovecot 2\.3.*: holds: all [0-9]+ settings' "$MH_OUT"
mh_expect "verify --json: exit 0" 0 verify --root "$ROOT" --json
check "verify --json: schema 1, status holds, the applied profile and every setting's state" \
	perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
		die "schema" unless $j->{schema} == 1 && $j->{status} eq "holds" && $j->{exit_code} == 0;
		for my $s (@{$j->{servers}}) {
			die "$s->{name}: $s->{status}" unless $s->{status} eq "holds";
			die "applied" unless $s->{applied}{profile} eq "intermediate" && $s->{applied}{checkpoint};
			die "settings" unless @{$s->{settings}} > 10;
			for (@{$s->{settings}}) { die "$_->{name}" unless $_->{state} eq "holds" && defined $_->{got} }
		}' <<<"$MH_OUT"

# ------------------------------------------------------------------ the admin's overrides
# Dovecot: a protocol imap filter (a filter beats any global, whatever the order), Debian's
# local.conf (included last), a conf.d file sorting after 99-mailharden-tls.conf.
IMAPCONF=$ROOT/etc/dovecot/conf.d/20-imap.conf
sed -i '/^protocol imap {/a\  ssl = yes\n  disable_plaintext_auth = no' "$IMAPCONF"
L_SSL=$(grep -n '^  ssl = yes' "$IMAPCONF" | cut -d: -f1)
printf 'ssl_cipher_list = ALL\n' >"$ROOT/etc/dovecot/local.conf"
printf '# the admin\nssl_min_protocol = TLSv1.1\n' >"$ROOT/etc/dovecot/conf.d/99-zz-admin.conf"
# Postfix: -o per TLS parameter on submission, port 25 without TLS, a duplicate main.cf key.
MASTER=$ROOT/etc/postfix/master.cf
sed -i '/^submission inet/a\  -o smtpd_tls_mandatory_ciphers=medium\n  -o smtpd_tls_mandatory_protocols=!SSLv2,!SSLv3' "$MASTER"
sed -i -E 's/^(smtp +inet .*smtpd)$/\1\n  -o smtpd_tls_security_level=none/' "$MASTER"
L_CIPH=$(grep -n '^  -o smtpd_tls_mandatory_ciphers=medium' "$MASTER" | cut -d: -f1)
L_NONE=$(grep -n '^  -o smtpd_tls_security_level=none' "$MASTER" | cut -d: -f1)
printf 'smtpd_tls_exclude_ciphers = eNULL\n' >>"$ROOT/etc/postfix/main.cf"
L_DUP=$(grep -n '^smtpd_tls_exclude_ciphers = aNULL' "$ROOT/etc/postfix/main.cf" | cut -d: -f1)

mh_expect "plan dovecot names the conflicts" 0 plan "${DC_ARGS[@]}"
expect_match "conflict: 20-imap.conf:$L_SSL ssl = yes in the protocol imap filter" \
	"^conflict: /etc/dovecot/conf.d/20-imap.conf:$L_SSL: ssl = yes would win" "$MH_ERR"
expect_match "conflict: local.conf:1 ssl_cipher_list = ALL" \
	'^conflict: /etc/dovecot/local.conf:1: ssl_cipher_list = ALL would win' "$MH_ERR"
expect_match "conflict: conf.d/99-zz-admin.conf:2 read after mailharden's file" \
	'^conflict: /etc/dovecot/conf.d/99-zz-admin.conf:2: ssl_min_protocol = TLSv1.1 would win' "$MH_ERR"
expect_match "the diff comments the filter's line out under a marker" \
	'^\+  # mailharden: the next line is disabled: it is weaker than profile intermediate \(ssl = required' "$MH_OUT"
expect_match "the diff shows the disabled line" '^\+  #ssl = yes$' "$MH_OUT"
mh_expect "plan postfix names the conflicts" 0 plan "${PF_ARGS[@]}"
expect_match "conflict: master.cf:$L_CIPH -o smtpd_tls_mandatory_ciphers=medium" \
	"^conflict: /etc/postfix/master.cf:$L_CIPH: -o smtpd_tls_mandatory_ciphers=medium on service submission/inet" "$MH_ERR"
expect_match "conflict: master.cf:$L_NONE -o smtpd_tls_security_level=none on port 25" \
	"^conflict: /etc/postfix/master.cf:$L_NONE: -o smtpd_tls_security_level=none on service smtp/inet" "$MH_ERR"
expect_match "conflict: main.cf:$L_DUP duplicate smtpd_tls_exclude_ciphers" \
	"^conflict: /etc/postfix/main.cf:$L_DUP: smtpd_tls_exclude_ciphers is set again" "$MH_ERR"

mh_expect "verify after the weakening edits: exit 1 (drift)" 1 verify --root "$ROOT"
expect_match "verify names the filter's file:line and its value" \
	"weaker: Dovecot filter protocol imap \{ \}: ssl is 'yes' \(/etc/dovecot/conf.d/20-imap.conf:$L_SSL\)" "$MH_OUT"
expect_match "verify names the master.cf -o line" \
	"smtpd_tls_mandatory_ciphers is 'medium' \(/etc/postfix/master.cf:$L_CIPH\)" "$MH_OUT"
mh_expect "verify --json after the edits: exit 1" 1 verify --root "$ROOT" --json
check "verify --json: dovecot drift with got and origin of the weaker setting" \
	perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
		die "status" unless $j->{status} eq "drift";
		my ($d) = grep { $_->{name} eq "dovecot" } @{$j->{servers}};
		die "dovecot $d->{status}" unless $d->{status} eq "drift";
		my ($w) = grep { $_->{state} eq "weaker" && $_->{name} eq "ssl_cipher_list" } @{$d->{settings}};
		die "no weaker ssl_cipher_list" unless $w && $w->{got} eq "ALL" && $w->{origin} eq "/etc/dovecot/local.conf:1"' <<<"$MH_OUT"

# ------------------------------------------------------------------ live: the overrides are real
check "test ports are free" ports_free $P_SMTP $P_SUB $P_SUBS $P_IMAP $P_IMAPS $P_POP3 $P_POP3S
dc_prepare 2.3
pf_prepare
check "dovecot 2.3 starts with the overridden config" dc_start
check "postfix 3.7 starts with the overridden config" pf_start
t=$(chat --bind 127.0.0.2 imap $H $P_IMAP "a CAPABILITY" "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "before: 143 from 127.0.0.2 accepts a plaintext LOGIN (the filter wins)" '^S: b OK ' "$(reply_to "$t" "b LOGIN")"
out=$(tls_probe -tls1_2 -cipher AES128-SHA -connect $H:$P_IMAPS)
expect_match "before: 993 accepts AES128-SHA (local.conf wins)" '^Ciphersuite: AES128-SHA$' "$out"
out=$(tls_probe -starttls smtp -tls1_2 -cipher AES128-SHA -connect $H:$P_SUB)
expect_match "before: 587 accepts AES128-SHA (-o smtpd_tls_mandatory_ciphers=medium wins)" '^Ciphersuite: AES128-SHA$' "$out"
t=$(chat smtp $H $P_SMTP "EHLO probe.example" QUIT)
expect_no_match "before: 25 offers no STARTTLS (-o smtpd_tls_security_level=none wins)" '^S: 250[- ]STARTTLS' "$t"
mh selftest --root "$ROOT" --host $H --port "$P_SMTP/mx"
expect_match "selftest's fix names the overriding master.cf line, not the same apply again" \
	"fix: .*overridden at .*/etc/postfix/master.cf:$L_NONE" "$MH_OUT"
expect_no_match "selftest: no 'mailharden apply' advice for the overridden port" 'fix: .*mailharden apply' "$MH_OUT"
pf_stop
dc_stop

# ------------------------------------------------------------------ resolved in one checkpoint
mh_expect "apply dovecot over the overrides exits 0" 0 apply "${DC_ARGS[@]}" --yes
expect_match "dovecot: doveconf confirms every setting after resolving" \
	'^Dovecot: verified with the server.s own tool: all [0-9]+ settings' "$MH_OUT"
mh_expect "apply postfix over the overrides exits 0" 0 apply "${PF_ARGS[@]}" --yes
expect_match "postfix: postconf confirms every setting after resolving" \
	'^Postfix: verified with the server.s own tool: all [0-9]+ settings' "$MH_OUT"
expect_match "doveconf -f protocol=imap: ssl = required" '^ssl = required$' \
	"$(in_root doveconf -f protocol=imap ssl 2>/dev/null)"
expect_match "doveconf -f protocol=imap: disable_plaintext_auth = yes" '^disable_plaintext_auth = yes$' \
	"$(in_root doveconf -f protocol=imap disable_plaintext_auth 2>/dev/null)"
expect_match "doveconf: ssl_min_protocol = TLSv1.2 (99-zz-admin.conf disabled)" '^ssl_min_protocol = TLSv1.2$' \
	"$(in_root doveconf ssl_min_protocol 2>/dev/null)"
expect_no_match "postconf -P: no weak -o left on submission or smtp" \
	'(submission|smtp)/inet/smtpd_tls_(mandatory_ciphers|mandatory_protocols|security_level) = (medium|!SSLv2|none)' \
	"$(in_root postconf -P 2>/dev/null)"
expect_match "postconf: smtpd_tls_exclude_ciphers keeps the admin's eNULL and adds aNULL, EXPORT" \
	'^smtpd_tls_exclude_ciphers = eNULL, aNULL, EXPORT$' "$(in_root postconf smtpd_tls_exclude_ciphers 2>/dev/null)"

dc_prepare 2.3
pf_prepare
check "dovecot 2.3 starts with the resolved config" dc_start
check "postfix 3.7 starts with the resolved config" pf_start
t=$(chat --bind 127.0.0.2 imap $H $P_IMAP "a CAPABILITY" "b LOGIN $TEST_USER $TEST_PASS" "c LOGOUT")
expect_match "after: 143 from 127.0.0.2 refuses a plaintext LOGIN" '^S: b NO ' "$(reply_to "$t" "b LOGIN")"
out=$(tls_probe -tls1_2 -cipher AES128-SHA -connect $H:$P_IMAPS)
expect_no_match "after: 993 refuses AES128-SHA" '^Ciphersuite: AES128-SHA$' "$out"
tls_accepts "after: 993 still accepts TLS 1.2 with the profile's suites" -tls1_2 -connect $H:$P_IMAPS
out=$(tls_probe -starttls smtp -tls1_2 -cipher AES128-SHA -connect $H:$P_SUB)
expect_no_match "after: 587 refuses AES128-SHA" '^Ciphersuite: AES128-SHA$' "$out"
tls_accepts "after: 587 accepts TLS 1.2 with the profile's suites" -tls1_2 -starttls smtp -connect $H:$P_SUB
t=$(chat smtp $H $P_SMTP "EHLO probe.example" QUIT)
expect_match "after: 25 offers STARTTLS" '^S: 250[- ]STARTTLS' "$t"
if [ "$MH_FAILS" != 0 ]; then
	note "dovecot log:"; dc_log 15 | diag
	note "postfix log:"; pf_log 15 | diag
fi
pf_stop
dc_stop

mh_expect "verify after the resolving apply: exit 0" 0 verify --root "$ROOT"

# ------------------------------------------------------------------ a config the server refuses
printf 'ssl = maybe\n' >"$ROOT/etc/dovecot/local.conf"
mh_expect "verify on a config doveconf refuses: exit 2" 2 verify --root "$ROOT"
expect_match "verify quotes doveconf's error with the file" \
	'Dovecot .*the server refuses its configuration: .*local.conf line 1: Invalid value: maybe' "$MH_OUT"
mh_expect "detect says Dovecot refuses its configuration" 0 detect --root "$ROOT"
expect_match "detect: REFUSES, with doveconf's line" 'REFUSES its configuration: .*local.conf line 1' "$MH_OUT"
expect_match "detect: a refusing Dovecot is not claimed to require TLS" '^  TLS required +none$' \
	"$(sed -n '/^Dovecot:/,$p' <<<"$MH_OUT")"
: >"$ROOT/etc/dovecot/local.conf"

# ------------------------------------------------------------------ unsafe to change: refused
printf 'protocol pop3 { ssl_min_protocol = TLSv1 }\n' >"$ROOT/etc/dovecot/conf.d/95-oneline.conf"
snap_cfg >"$WORK/etc.weak"
mh_expect "a filter on one line: apply refuses (exit 1)" 1 apply "${DC_ARGS[@]}" --yes
expect_match "the refusal is one line naming 95-oneline.conf:1 and the setting" \
	'^mailharden: error: /etc/dovecot/conf.d/95-oneline.conf:1: ssl_min_protocol = TLSv1 overrides' "$MH_ERR"
expect_no_match "no internal stage path in any message" 'stage\.' "$MH_ERR$MH_OUT"
cfg_same "refused: nothing in /etc/postfix or /etc/dovecot changed" "$WORK/etc.weak"
rm -f "$ROOT/etc/dovecot/conf.d/95-oneline.conf"

stop_all_in_root
