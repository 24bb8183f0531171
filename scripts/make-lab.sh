#!/bin/bash
# make-lab.sh DIR - a lab root for "make run": Debian 12's Postfix and Dovecot packages
# unpacked into DIR, with /etc set up the way their maintainer scripts set up a fresh
# install (Postfix "Internet Site", Dovecot with the snakeoil certificate).
#
# Nothing is installed on the host and no server is started.  The packages are fetched
# with "apt-get download" (the host's versions) and cached in build/debs; the
# configuration files come from the packages themselves, so no config text lives here.
# Idempotent: an up-to-date DIR is left alone; a stale or incomplete one is rebuilt.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEBS=${MH_DEBS_DIR:-$REPO/build/debs}
PKGS="postfix dovecot-core dovecot-imapd dovecot-pop3d"
STAMP=.mailharden-lab
LAB_HOSTNAME=mail.lab.example

die() { printf 'make-lab: %s\n' "$*" >&2; exit 1; }
log() { [ "${MH_QUIET:-0}" = 1 ] || printf 'make-lab: %s\n' "$*" >&2; }

[ $# = 1 ] || die "usage: $0 DIR"
DIR=$1

# The candidate versions apt would install, e.g. "3.7.11-0+deb12u1": one apt-cache call.
declare -A CANDIDATE=()
load_candidates() {
	local pkg="" line
	CANDIDATE=()
	while IFS= read -r line; do
		case $line in
		[a-z0-9]*:) pkg=${line%:} ;;
		*Candidate:*) CANDIDATE[$pkg]=${line##* } ;;
		esac
	done < <(LC_ALL=C apt-cache policy $PKGS 2>/dev/null)
}
candidate() { echo "${CANDIDATE[$1]:-}"; }

deb_file() { # PACKAGE VERSION -> path of the cached .deb (the epoch is %3a in file names)
	local v=${2/:/%3a}
	ls "$DEBS/$1_${v}_"*.deb 2>/dev/null | head -n1
}

fetch_debs() {
	local p v missing=() tries
	mkdir -p "$DEBS"
	for tries in 1 2; do
		missing=()
		for p in $PKGS; do
			v=$(candidate "$p")
			if [ -z "$v" ] || [ "$v" = "(none)" ]; then
				missing+=("$p")
			elif [ -z "$(deb_file "$p" "$v")" ]; then
				missing+=("$p=$v")
			fi
		done
		[ ${#missing[@]} = 0 ] && return 0
		# unknown packages: the apt lists are missing or stale (fresh machine)
		if printf '%s\n' "${missing[@]}" | grep -qv '='; then
			[ $tries = 1 ] || die "apt does not know: ${missing[*]}"
			log "apt-get update (package lists missing)"
			apt-get update -q >/dev/null || die "apt-get update failed"
			load_candidates
			continue
		fi
		log "downloading ${missing[*]}"
		(cd "$DEBS" && apt-get download -q "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
			die "apt-get download failed"
	done
}

stamp_text() {
	local p
	echo "recipe=2"
	for p in $PKGS; do printf '%s=%s\n' "$p" "$(candidate "$p")"; done
}

# CONFFILES="..." from a package's postinst: the files it installs into /etc/dovecot
postinst_conffiles() {
	local tmp
	tmp=$(mktemp -d)
	dpkg-deb -e "$1" "$tmp"
	[ -f "$tmp/postinst" ] && tr '\n' ' ' <"$tmp/postinst" |
		sed -n 's/.*[^_A-Za-z]CONFFILES="\([^"]*\)".*/\1/p' | tr -d '\\' | tr -s ' ' '\n' | sed '/^$/d'
	rm -rf "$tmp"
}

# The protocols.d line a dovecot-*d postinst writes ("echo 'protocols = ...' > FILE")
postinst_protocols() {
	local tmp
	tmp=$(mktemp -d)
	dpkg-deb -e "$1" "$tmp"
	[ -f "$tmp/postinst" ] &&
		sed -n "s|^[[:space:]]*echo '\(protocols = [^']*\)' > \(/usr/share/dovecot/protocols.d/[a-z0-9]*\.protocol\)\$|\2 \1|p" "$tmp/postinst"
	rm -rf "$tmp"
}

make_snakeoil() {
	local d=$1
	mkdir -p "$d/etc/ssl/certs" "$d/etc/ssl/private"
	chmod 710 "$d/etc/ssl/private"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$LAB_HOSTNAME" \
		-addext "subjectAltName=DNS:$LAB_HOSTNAME" \
		-keyout "$d/etc/ssl/private/ssl-cert-snakeoil.key" \
		-out "$d/etc/ssl/certs/ssl-cert-snakeoil.pem" 2>/dev/null || die "openssl req failed"
	chmod 640 "$d/etc/ssl/private/ssl-cert-snakeoil.key"
	chmod 644 "$d/etc/ssl/certs/ssl-cert-snakeoil.pem"
}

# What postfix's postinst does for "Internet Site" on a fresh install.
setup_postfix() {
	local d=$1 share=$1/usr/share/postfix etc=$1/etc/postfix
	[ -f "$share/main.cf.debian" ] && [ -f "$share/master.cf.dist" ] ||
		die "the postfix package has no main.cf.debian / master.cf.dist"
	cp "$share/master.cf.dist" "$etc/master.cf"
	cp "$share/main.cf.debian" "$etc/main.cf"
	[ ! -f "$share/main.cf.tls" ] || cat "$share/main.cf.tls" >>"$etc/main.cf"
	# the debconf answers of an "Internet Site" install, in postinst order
	cat >>"$etc/main.cf" <<-EOF
	smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
	myhostname = $LAB_HOSTNAME
	alias_maps = hash:/etc/aliases
	alias_database = hash:/etc/aliases
	myorigin = /etc/mailname
	mydestination = \$myhostname, $LAB_HOSTNAME, localhost.lab.example, localhost
	relayhost =
	mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
	mailbox_size_limit = 0
	recipient_delimiter = +
	inet_interfaces = all
	inet_protocols = all
	EOF
	[ ! -f "$share/main.cf.dist" ] || cp "$share/main.cf.dist" "$etc/main.cf.proto"
	cp "$share/master.cf.dist" "$etc/master.cf.proto"
	[ ! -f "$share/dynamicmaps.cf" ] || cp "$share/dynamicmaps.cf" "$etc/dynamicmaps.cf"
	[ ! -f "$share/makedefs.out" ] || cp "$share/makedefs.out" "$etc/makedefs.out"
	chmod 644 "$etc/main.cf" "$etc/master.cf"
	echo "$LAB_HOSTNAME" >"$d/etc/mailname"
	printf 'postmaster:    root\n' >"$d/etc/aliases"
}

# What dovecot-core/-imapd/-pop3d's postinsts do: copy the packaged conffiles from
# /usr/share/dovecot to /etc/dovecot and point private/ at the snakeoil certificate.
setup_dovecot() {
	local d=$1 p v f
	for p in dovecot-core dovecot-imapd dovecot-pop3d; do
		v=$(candidate "$p")
		for f in $(postinst_conffiles "$(deb_file "$p" "$v")"); do
			[ -f "$d/usr/share/dovecot/$f" ] || continue
			mkdir -p "$(dirname "$d/etc/dovecot/$f")"
			cp "$d/usr/share/dovecot/$f" "$d/etc/dovecot/$f"
			case $f in
			conf.d/*|dovecot.conf) chmod 644 "$d/etc/dovecot/$f" ;;
			*) chmod 640 "$d/etc/dovecot/$f" ;;
			esac
		done
	done
	for p in dovecot-imapd dovecot-pop3d; do
		postinst_protocols "$(deb_file "$p" "$(candidate "$p")")" | while read -r f line; do
			mkdir -p "$d$(dirname "$f")"
			printf '%s\n' "$line" >"$d$f"
		done
	done
	[ -f "$d/etc/dovecot/dovecot.conf" ] || die "no dovecot.conf in the dovecot-core package"
	mkdir -p "$d/etc/dovecot/private"
	chmod 700 "$d/etc/dovecot/private"
	ln -sfn /etc/ssl/certs/ssl-cert-snakeoil.pem "$d/etc/dovecot/private/dovecot.pem"
	ln -sfn /etc/ssl/private/ssl-cert-snakeoil.key "$d/etc/dovecot/private/dovecot.key"
}

# A dpkg status file listing the unpacked packages, as on an installed system.
write_dpkg_status() {
	local d=$1 p v
	mkdir -p "$d/var/lib/dpkg"
	: >"$d/var/lib/dpkg/status"
	for p in $PKGS; do
		v=$(candidate "$p")
		dpkg-deb -f "$(deb_file "$p" "$v")" Package Version Architecture Source |
			sed '1a Status: install ok installed' >>"$d/var/lib/dpkg/status"
		echo >>"$d/var/lib/dpkg/status"
	done
}

build_lab() {
	local tmp=$1.tmp.$$ p
	rm -rf "$tmp"
	mkdir -p "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	for p in $PKGS; do dpkg -x "$(deb_file "$p" "$(candidate "$p")")" "$tmp"; done
	mkdir -p "$tmp/etc"
	cp /etc/debian_version "$tmp/etc/debian_version" 2>/dev/null || echo 12 >"$tmp/etc/debian_version"
	make_snakeoil "$tmp"
	setup_postfix "$tmp"
	setup_dovecot "$tmp"
	write_dpkg_status "$tmp"
	stamp_text >"$tmp/$STAMP"
	if [ -e "$DIR" ]; then
		[ -f "$DIR/$STAMP" ] || [ -z "$(ls -A "$DIR")" ] ||
			die "$DIR exists and is not a lab root; not replacing it"
		rm -rf "$DIR"
	fi
	mv "$tmp" "$DIR"
	trap - EXIT
}

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs apt-get and dpkg-deb (Debian)"
load_candidates
if [ -f "$DIR/$STAMP" ] && [ "$(cat "$DIR/$STAMP")" = "$(stamp_text)" ] &&
	[ -f "$DIR/etc/postfix/main.cf" ] && [ -f "$DIR/etc/dovecot/dovecot.conf" ]; then
	exit 0
fi
fetch_debs
build_lab "${DIR%/}"
log "lab root ready in $DIR ($(sed 's/=/ /' "$DIR/$STAMP" | tr '\n' ',' | sed 's/,$//; s/,/, /g'))"
