#!/bin/bash
# mkroot.sh - cached Debian roots with real Postfix and Dovecot for the integration tests.
#
#   mkroot.sh SUITE...            make sure a cached root exists for each SUITE (bookworm,
#                                 trixie: Postfix + Dovecot; bookworm-exim, trixie-exim: Exim
#                                 heavy + Dovecot, Exim light unpacked in /opt/exim4-light);
#                                 missing ones are built in parallel; prints versions
#   mkroot.sh --restore SUITE     build if needed, then unpack a FRESH copy into a new
#                                 directory under ${TMPDIR:-/tmp} and print its path
#   mkroot.sh --versions SUITE    print the versions recorded for the cached root
#
# The cache is one tar.zst per suite, keyed by suite + package list + mirror + recipe
# version, under ${MH_TEST_CACHE:-/var/cache/mailharden-test}.  Nothing is installed on
# the host; packages go only into the private root.  The root carries a policy-rc.d that
# denies starting services, and no process is left running from the build.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

CACHE=${MH_TEST_CACHE:-/var/cache/mailharden-test}
PKGS="postfix dovecot-core dovecot-imapd dovecot-pop3d openssl sasl2-bin libsasl2-modules ca-certificates"
# Exim conflicts with Postfix (both are mail-transport-agent), so it gets roots of its own.
# gnutls-bin brings gnutls-cli, which the tests use to list what a priority string gives.
EXIM_PKGS="exim4-daemon-heavy dovecot-core openssl ca-certificates gnutls-bin"
# Debian 13's exim4 pulls in cron, whose sysusers dependency makes debootstrap install
# systemd, which fails inside debootstrap; apt installs it afterwards with the small
# sysusers alternative instead.
TRIXIE_EXIM_PKGS="dovecot-core openssl ca-certificates gnutls-bin"
TRIXIE_EXIM_APT="exim4-daemon-heavy systemd-standalone-sysusers"
# Bump when the way the root is made changes, so old tarballs are not reused.
RECIPE=3

log() { printf '[mkroot] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The first Debian (non-security) mirror from the host's apt sources.
host_mirror() {
	local m=""
	if [ -n "${MH_MIRROR:-}" ]; then echo "$MH_MIRROR"; return; fi
	m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
	[ -n "$m" ] || m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/ && $i !~ /security/) { print $i; exit } }' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)
	echo "${m:-http://deb.debian.org/debian}"
}

# A root name is a Debian suite, optionally with a flavour: "bookworm", "trixie-exim".
debian_suite() { echo "${1%%-*}"; }
packages_of() {
	case $1 in
	trixie-exim) echo "$TRIXIE_EXIM_PKGS + $TRIXIE_EXIM_APT" ;;
	*-exim) echo "$EXIM_PKGS" ;;
	*) echo "$PKGS" ;;
	esac
}
# What debootstrap installs, and what apt installs after it.
debootstrap_packages() { local p; p=$(packages_of "$1"); echo "${p%% + *}"; }
apt_packages() { local p; p=$(packages_of "$1"); case $p in *" + "*) echo "${p#* + }" ;; esac; }

suite_key() {
	local suite=$1
	printf 'suite=%s pkgs=%s mirror=%s recipe=%s arch=%s' "$suite" "$(packages_of "$suite")" \
		"$(host_mirror)" "$RECIPE" "$(dpkg --print-architecture)" | sha256sum | cut -c1-16
}

tarball_of() { echo "$CACHE/$1-$(suite_key "$1").tar.zst"; }

check_suite() {
	case $1 in
	bookworm|trixie|bookworm-exim|trixie-exim) ;;
	*) die "unknown suite '$1' (bookworm, trixie, bookworm-exim or trixie-exim)" ;;
	esac
}

# Kill processes whose root directory is inside DIR (a maintainer script that started a
# daemon despite policy-rc.d).  These can only be processes this build started.
kill_rooted_in() {
	local dir pid r found=0
	dir=$(readlink -f "$1")
	for pid in /proc/[0-9]*; do
		pid=${pid#/proc/}
		r=$(readlink "/proc/$pid/root" 2>/dev/null) || continue
		case $r in "$dir"|"$dir"/*) kill -KILL "$pid" 2>/dev/null && found=1 ;; esac
	done
	[ $found = 0 ] || log "killed a process left running in $dir by the package install"
}

record_versions() {
	local r=$1
	case $2 in
	*-exim)
		printf 'exim %s (%s), dovecot %s, light %s\n' \
			"$(chroot "$r" exim4 -C /dev/null -bV | sed -n 's/^Exim version \([^ ]*\).*/\1/p')" \
			"$(chroot "$r" exim4 -C /dev/null -bP macro _HAVE_GNUTLS >/dev/null 2>&1 && echo GnuTLS || echo OpenSSL)" \
			"$(chroot "$r" dovecot --version | cut -d' ' -f1)" \
			"$(chroot "$r" /opt/exim4-light/usr/sbin/exim4 -C /dev/null -bV | sed -n 's/^Exim version \([^ ]*\).*/\1/p')"
		return
		;;
	esac
	printf 'postfix %s, dovecot %s, %s\n' \
		"$(chroot "$r" postconf -d -h mail_version)" \
		"$(chroot "$r" dovecot --version | cut -d' ' -f1)" \
		"$(chroot "$r" openssl version | cut -d' ' -f1-2)"
}

build_suite() {
	local suite=$1 tarball work t0=$SECONDS mirror pkgs
	tarball=$(tarball_of "$suite")
	mirror=$(host_mirror)
	mkdir -p "$CACHE/debs-$suite"
	exec 9>"$CACHE/$suite.lock"
	flock 9
	if [ -s "$tarball" ]; then exec 9>&-; return 0; fi
	# under the lock, any earlier build directory is a leftover of an interrupted build
	for work in "$CACHE"/build-"$suite".*; do
		[ -d "$work" ] || continue
		kill_rooted_in "$work"
		umount_below "$work" && rm -rf --one-file-system "$work"
	done
	command -v debootstrap >/dev/null || die "debootstrap missing (scripts/install-deps.sh)"
	command -v zstd >/dev/null || die "zstd missing (scripts/install-deps.sh)"
	work=$(mktemp -d "$CACHE/build-$suite.XXXXXX")
	chmod 755 "$work"
	log "building $suite root from $mirror (log: $CACHE/$suite-debootstrap.log)"
	pkgs=$(debootstrap_packages "$suite")
	if ! debootstrap --variant=minbase --include="${pkgs// /,}" \
		--cache-dir="$CACHE/debs-$suite" "$(debian_suite "$suite")" "$work/root" "$mirror" \
		>"$CACHE/$suite-debootstrap.log" 2>&1; then
		tail -n 20 "$CACHE/$suite-debootstrap.log" >&2
		kill_rooted_in "$work"; umount_below "$work"; rm -rf --one-file-system "$work"
		die "debootstrap $suite failed"
	fi
	kill_rooted_in "$work/root"
	umount_below "$work/root"
	printf '#!/bin/sh\n# mailharden test root: never start services\nexit 101\n' \
		>"$work/root/usr/sbin/policy-rc.d"
	chmod 755 "$work/root/usr/sbin/policy-rc.d"
	case $suite in *-exim) add_exim_light "$work/root" "$mirror" "$(apt_packages "$suite")" ;; esac
	chroot "$work/root" apt-get clean
	record_versions "$work/root" "$suite" >"$work/root/.mh-versions"
	tar -C "$work/root" --numeric-owner --one-file-system \
		--exclude='./var/lib/apt/lists/*' --exclude='./var/cache/apt/*.bin' \
		--exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' \
		--exclude='./usr/share/info/*' --exclude='./proc/*' --exclude='./sys/*' \
		-cf - . | zstd -q -T0 -3 -o "$tarball.tmp"
	cp "$work/root/.mh-versions" "$tarball.versions"
	mv -f "$tarball.tmp" "$tarball"
	# only this root's older tarballs: "bookworm-*" would also match bookworm-exim's
	find "$CACHE" -maxdepth 1 \( -name "$suite-????????????????.tar.zst" \
		-o -name "$suite-????????????????.tar.zst.versions" \) \
		! -name "$(basename "$tarball")*" -delete
	rm -rf --one-file-system "$work"
	exec 9>&-
	log "$suite root built in $((SECONDS - t0)) s: $(versions_of "$suite")"
}

# The light daemon conflicts with the heavy one; its binary is unpacked beside it, in
# /opt/exim4-light, with the version that matches the installed heavy daemon.
add_exim_light() {
	local r=$1 mirror=$2 more=$3 v
	printf 'deb %s %s main\n' "$mirror" "$(chroot "$r" sh -c '. /etc/os-release; echo $VERSION_CODENAME')" \
		>"$r/etc/apt/sources.list"
	chroot "$r" apt-get -q update >>"$CACHE/$suite-debootstrap.log" 2>&1 || die "apt-get update in $r failed"
	if [ -n "$more" ]; then
		# shellcheck disable=SC2086
		chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends \
			install $more >>"$CACHE/$suite-debootstrap.log" 2>&1 || die "apt-get install $more failed"
		kill_rooted_in "$r"
	fi
	v=$(chroot "$r" dpkg-query -W -f='${Version}' exim4-daemon-heavy)
	(cd "$r/tmp" && chroot "$r" sh -c "cd /tmp && apt-get -q download exim4-daemon-light=$v") \
		>>"$CACHE/$suite-debootstrap.log" 2>&1 || die "downloading exim4-daemon-light $v failed"
	mkdir -p "$r/opt/exim4-light"
	dpkg -x "$r"/tmp/exim4-daemon-light_*.deb "$r/opt/exim4-light"
	rm -f "$r"/tmp/exim4-daemon-light_*.deb
	rm -rf "$r"/var/lib/apt/lists/*
}

versions_of() {
	local t
	t=$(tarball_of "$1")
	[ -s "$t.versions" ] || zstd -dc "$t" | tar -xOf - ./.mh-versions >"$t.versions"
	cat "$t.versions"
}

ensure_suites() {
	local s pids=() rc=0
	for s in "$@"; do
		check_suite "$s"
		if [ ! -s "$(tarball_of "$s")" ]; then
			build_suite "$s" &
			pids+=($!)
		fi
	done
	for s in "${pids[@]}"; do wait "$s" || rc=1; done
	[ $rc = 0 ] || die "building a root failed"
}

restore_suite() {
	local suite=$1 dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/mh-root-$suite.XXXXXX")
	# the chroot's "/" must be traversable by the postfix and dovecot users
	chmod 755 "$dir"
	# an interrupted restore leaves nothing behind
	trap 'rm -rf --one-file-system "$dir"' EXIT
	trap 'exit 143' INT TERM
	zstd -dc "$(tarball_of "$suite")" | tar -C "$dir" --numeric-owner -xpf - || die "restoring $suite failed"
	trap - EXIT INT TERM
	echo "$dir"
}

[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$CACHE"
case ${1:-} in
--restore)
	[ $# = 2 ] || die "usage: $0 --restore SUITE"
	check_suite "$2"
	ensure_suites "$2"
	restore_suite "$2"
	;;
--versions)
	[ $# = 2 ] || die "usage: $0 --versions SUITE"
	check_suite "$2"
	versions_of "$2"
	;;
""|-*)
	die "usage: $0 SUITE... | --restore SUITE | --versions SUITE"
	;;
*)
	ensure_suites "$@"
	for s in "$@"; do log "$s: $(versions_of "$s")"; done
	;;
esac
