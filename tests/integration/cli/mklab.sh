#!/bin/bash
# mklab.sh DIR - a small Debian 12 mail-host root for the CLI tests, used when
# scripts/make-lab.sh is not there: the postfix and dovecot .debs unpacked with
# dpkg -x, and /etc/postfix and /etc/dovecot filled as the packages' postinst
# scripts do on a fresh install.  The .debs are cached in $MH_LAB_CACHE.
set -euo pipefail

dir=${1:?usage: mklab.sh DIR}
cache=${MH_LAB_CACHE:?set MH_LAB_CACHE to a directory for the .debs}
pkgs="postfix dovecot-core dovecot-imapd dovecot-pop3d"

fetch() {
	local p
	mkdir -p "$cache"
	for p in $pkgs; do
		compgen -G "$cache/${p}_*.deb" >/dev/null && continue
		(cd "$cache" && apt-get download "$p" >/dev/null 2>&1) ||
			{ echo "mklab: apt-get download $p failed" >&2; exit 1; }
	done
}

unpack() {
	local p deb
	mkdir -p "$dir"
	for p in $pkgs; do
		deb=$(ls "$cache/${p}_"*.deb | tail -n1)
		dpkg -x "$deb" "$dir"
	done
}

# As postfix's postinst on a fresh install ("Internet Site").
postfix_conf() {
	local pf=$dir/etc/postfix share=$dir/usr/share/postfix
	cp "$share/master.cf.dist" "$pf/master.cf"
	cp "$share/main.cf.debian" "$pf/main.cf"
	cat "$share/main.cf.tls" >>"$pf/main.cf"
	grep -q '^smtpd_relay_restrictions' "$pf/main.cf" ||
		echo 'smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination' >>"$pf/main.cf"
	chmod 644 "$pf/main.cf" "$pf/master.cf"
}

# As dovecot-core's postinst: ucf copies /usr/share/dovecot to /etc/dovecot.
dovecot_conf() {
	local share=$dir/usr/share/dovecot
	mkdir -p "$dir/etc/dovecot/conf.d"
	(cd "$share" && find . -name '*.conf' -o -name '*.conf.ext') | while read -r f; do
		cp "$share/$f" "$dir/etc/dovecot/$f"
	done
}

fetch
unpack
postfix_conf
dovecot_conf
[ -f "$dir/etc/debian_version" ] || echo 12.8 >"$dir/etc/debian_version"
mkdir -p "$dir/etc/ssl/private"
# dovecot-imapd's and -pop3d's postinst enable their protocols
mkdir -p "$dir/usr/share/dovecot/protocols.d"
echo 'protocols = $protocols imap' >"$dir/usr/share/dovecot/protocols.d/imapd.protocol"
echo 'protocols = $protocols pop3' >"$dir/usr/share/dovecot/protocols.d/pop3d.protocol"
