# servers.sh - start the root's real Postfix and Dovecot on loopback high ports with the
# configuration mailharden wrote (sourced after lib.sh).
# shellcheck shell=bash
#
# The servers run from TEST COPIES of /etc/postfix and /etc/dovecot under /srv/mh-test in
# the root, so the root's /etc stays exactly as mailharden left it (the rollback check
# compares it byte for byte).  The copies differ only in test plumbing: addresses and
# ports, chroot column, logging, SASL and the test user.  TLS settings are not touched,
# and pf_prepare checks that.

# set_ports BASE: the port layout for one test script (BASE .. BASE+999).  Scripts use
# different bases; if the ports are taken (another run of the same script, or anything
# else), the next base 2000 higher is tried.  A lock file per base, held until the
# script exits, keeps parallel runs apart.
set_ports() {
	local base=$1 try
	for try in 1 2 3 4 5 6 7 8; do
		exec {PORT_LOCK_FD}>"${MH_TEST_CACHE:-/var/cache/mailharden-test}/ports-$base.lock"
		if flock -n "$PORT_LOCK_FD" && ports_free $((base + 25)) $((base + 587)) $((base + 465)) \
			$((base + 143)) $((base + 993)) $((base + 110)) $((base + 995)) $((base + 999)) >/dev/null; then
			break
		fi
		exec {PORT_LOCK_FD}>&-
		base=$((base + 2000))
	done
	P_SMTP=$((base + 25))
	P_SUB=$((base + 587))
	P_SUBS=$((base + 465))
	P_IMAP=$((base + 143))
	P_IMAPS=$((base + 993))
	P_POP3=$((base + 110))
	P_POP3S=$((base + 995))
	P_CTRL=$((base + 999))
}

TEST_USER=mhtest
TEST_REALM=mh.test
TEST_PASS=secret-$$
PF=/srv/mh-test/postfix
DC=/srv/mh-test/dovecot

in_root() { chroot "$ROOT" "$@"; }

# postfix_tls_settings DIR: every TLS-related main.cf and master.cf -o setting, with the
# service names replaced by their role so a copy with moved ports compares equal.
postfix_tls_settings() {
	{
		in_root postconf -c "$1" -n | grep -E 'tls|sasl_auth|ciphers|_protocols'
		in_root postconf -c "$1" -P | grep -E 'tls|ciphers|_protocols' |
			sed -E "s#^([^/]*:)?(smtp|25|$P_SMTP)/inet/#MX/#;
				s#^([^/]*:)?(submission|587|$P_SUB)/inet/#SUBMISSION/#;
				s#^([^/]*:)?(submissions|smtps|465|$P_SUBS)/inet/#SUBMISSIONS/#"
	} | grep -vE '^(inet_protocols|smtpd_sasl_auth_enable)' | LC_ALL=C sort
}

pf_prepare() {
	local d=$ROOT$PF cf
	rm -rf "$d"
	mkdir -p "$ROOT/srv/mh-test"
	cp -a "$ROOT/etc/postfix" "$d"
	# Debian's smtpd looks for sasl/smtpd.conf below its config directory
	mkdir -p "$d/sasl"
	cf=$d/master.cf
	# service names may carry an address ("127.0.0.1:submission"); all move to loopback
	sed -i -E "s/^([^#[:space:]]*:)?(smtp|25)([[:space:]]+inet)/127.0.0.1:$P_SMTP\\3/;
		s/^([^#[:space:]]*:)?(submission|587)([[:space:]]+inet)/127.0.0.1:$P_SUB\\3/;
		s/^([^#[:space:]]*:)?(submissions|smtps|465)([[:space:]]+inet)/127.0.0.1:$P_SUBS\\3/" "$cf"
	in_root postconf -c "$PF" -F '*/*/chroot = n'
	in_root postconf -c "$PF" -e \
		"inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
		"maillog_file = /var/log/mh-postfix.log" "maillog_file_prefixes = /var" \
		"cyrus_sasl_config_path = $PF/sasl" "smtpd_sasl_auth_enable = yes" \
		"alternate_config_directories = $PF"
	printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: /srv/mh-test/sasldb2\nmech_list: PLAIN LOGIN\n' \
		>"$d/sasl/smtpd.conf"
	printf '%s' "$TEST_PASS" | in_root saslpasswd2 -p -c -f /srv/mh-test/sasldb2 -u "$TEST_REALM" "$TEST_USER"
	in_root chown root:postfix /srv/mh-test/sasldb2
	chmod 640 "$ROOT/srv/mh-test/sasldb2"
}

pf_log() { tail -n "${1:-20}" "$ROOT/var/log/mh-postfix.log" 2>/dev/null; }

# pf_start: start the copy's master; its pid joins MH_PIDS
pf_start() {
	local pid p
	mount_root
	if ! out=$(in_root postfix -c "$PF" start 2>&1); then
		echo "postfix start failed: $out"
		script -qec "chroot '$ROOT' postfix -c '$PF' check" /dev/null 2>&1 | tail -n 10
		pf_log
		return 1
	fi
	for _ in $(seq 100); do
		[ -s "$ROOT/var/spool/postfix/pid/master.pid" ] && break
		sleep 0.05
	done
	pid=$(tr -d ' \n' <"$ROOT/var/spool/postfix/pid/master.pid" 2>/dev/null)
	[ -n "$pid" ] || { echo "postfix wrote no master.pid"; pf_log; return 1; }
	MH_PIDS+=("$pid")
	PF_PID=$pid
	for p in $P_SMTP $P_SUB $P_SUBS; do
		wait_port "$p" 15 || { echo "postfix: port $p not open"; pf_log; return 1; }
	done
}

pf_stop() {
	[ -n "${PF_PID:-}" ] || return 0
	stop_pid "$PF_PID" postfix
	PF_PID=
}

# dc_prepare VERSION(2.3|2.4): copy /etc/dovecot and append the test-only overrides
dc_prepare() {
	local d=$ROOT$DC
	rm -rf "$d"
	mkdir -p "$ROOT/srv/mh-test"
	cp -a "$ROOT/etc/dovecot" "$d"
	mkdir -p "$ROOT/srv/mh-test/home"
	in_root chown mail:mail /srv/mh-test/home
	printf '%s:{PLAIN}%s\n' "$TEST_USER" "$TEST_PASS" >"$ROOT/srv/mh-test/dovecot-users"
	chmod 644 "$ROOT/srv/mh-test/dovecot-users"
	# the system passdb would try PAM against the root's /etc/passwd; use only the test user
	sed -i 's/^\(!include auth-system.conf.ext\)/#\1/' "$d/conf.d/10-auth.conf"
	{
		echo
		echo "# ---- mailharden integration test overrides (test plumbing only, no TLS) ----"
		echo "listen = 127.0.0.1"
		echo "base_dir = /run/mh-dovecot"
		echo "log_path = /var/log/mh-dovecot.log"
		echo "first_valid_uid = 8"
		echo "service imap-login {"
		echo "  inet_listener imap {"; echo "    port = $P_IMAP"; echo "  }"
		echo "  inet_listener imaps {"; echo "    port = $P_IMAPS"; echo "  }"
		echo "}"
		echo "service pop3-login {"
		echo "  inet_listener pop3 {"; echo "    port = $P_POP3"; echo "  }"
		echo "  inet_listener pop3s {"; echo "    port = $P_POP3S"; echo "  }"
		echo "}"
		if [ "$1" = 2.3 ]; then
			echo "mail_location = maildir:~/Maildir"
			echo "passdb {"
			echo "  driver = passwd-file"
			echo "  args = scheme=PLAIN username_format=%u /srv/mh-test/dovecot-users"
			echo "}"
			echo "userdb {"
			echo "  driver = static"
			echo "  args = uid=mail gid=mail home=/srv/mh-test/home/%u"
			echo "}"
		else
			echo "mail_driver = maildir"
			echo "mail_path = ~/Maildir"
			echo "passdb passwd-file {"
			echo "  passwd_file_path = /srv/mh-test/dovecot-users"
			echo "}"
			echo "userdb static {"
			echo "  fields {"
			echo "    uid = mail"
			echo "    gid = mail"
			echo "    home = /srv/mh-test/home/%{user}"
			echo "  }"
			echo "}"
		fi
	} >>"$d/dovecot.conf"
}

dc_log() { tail -n "${1:-20}" "$ROOT/var/log/mh-dovecot.log" 2>/dev/null; }

dc_start() {
	local p
	mount_root
	# chroot execs dovecot, so $! is the dovecot master itself
	chroot "$ROOT" dovecot -F -c "$DC/dovecot.conf" >"$WORK/dovecot.out" 2>&1 &
	DC_PID=$!
	MH_PIDS+=("$DC_PID")
	for p in $P_IMAP $P_IMAPS $P_POP3 $P_POP3S; do
		if ! wait_port "$p" 15; then
			echo "dovecot: port $p not open"
			pid_alive "$DC_PID" || echo "dovecot exited"
			cat "$WORK/dovecot.out"
			dc_log
			return 1
		fi
	done
}

dc_stop() {
	[ -n "${DC_PID:-}" ] || return 0
	stop_pid "$DC_PID" dovecot
	wait "$DC_PID" 2>/dev/null
	DC_PID=
}

# b64 TEXT-WITH-NULS: base64 for AUTH PLAIN (printf interprets \0)
sasl_plain() { printf '\0%s\0%s' "$1" "$2" | base64 -w0; }

# pf_public_service NAME PORT: the root's /etc/postfix/master.cf has an inet service for
# NAME that is not restricted to a loopback address
pf_public_service() {
	local names
	names=$(in_root postconf -M | awk -v n="$1" -v p="$2" '$2 == "inet" && $1 ~ ("(^|:)(" n "|" p ")$") { print $1 }')
	[ -n "$names" ] || { echo "no $1 service in master.cf"; return 1; }
	grep -qvE '^(127\.|\[::1\]|localhost)' <<<"$names" || { echo "$1 listens only on: $names"; return 1; }
}
