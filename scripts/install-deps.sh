#!/bin/bash
# install-deps.sh - install the build and test tools mailharden needs (Debian 12).
# Idempotent and quiet: apt runs only when a package is missing; the de_DE.UTF-8
# locale (used by the translation tests) is generated only when absent.
# Never installs a mail server: those live in private test roots (tests/integration).
set -euo pipefail

PKGS="build-essential pkg-config libssl-dev libjansson-dev libcmocka-dev dialog
libncurses-dev gettext tmux debootstrap zstd sslscan locales openssl ca-certificates perl
clang libclang-rt-14-dev testssl.sh jq python3
mandoc dpkg-dev debhelper fakeroot lintian ansible-core python3-prometheus-client iproute2"

die() { printf 'install-deps: %s\n' "$*" >&2; exit 1; }

missing_packages() {
	local p
	for p in $PKGS; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
			|| printf '%s ' "$p"
	done
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root to run: $*"
	fi
}

# Run quietly; show the output only if the command fails.
quiet() {
	local out
	if ! out=$("$@" 2>&1); then
		printf '%s\n' "$out" >&2
		die "failed: $*"
	fi
}

install_missing() {
	local missing
	missing=$(missing_packages)
	[ -n "$missing" ] || return 0
	export DEBIAN_FRONTEND=noninteractive
	quiet as_root apt-get update -q
	# shellcheck disable=SC2086
	quiet as_root apt-get install -y -q --no-install-recommends $missing
	missing=$(missing_packages)
	[ -z "$missing" ] || die "still missing after apt-get install: $missing"
}

have_locale() {
	locale -a 2>/dev/null | grep -qix 'de_DE\.utf8'
}

generate_locale() {
	have_locale && return 0
	[ -f /etc/locale.gen ] || die "/etc/locale.gen missing (package locales)"
	if grep -q '^# *de_DE.UTF-8 UTF-8' /etc/locale.gen; then
		as_root sed -i 's/^# *\(de_DE.UTF-8 UTF-8\)/\1/' /etc/locale.gen
	elif ! grep -q '^de_DE.UTF-8 UTF-8' /etc/locale.gen; then
		echo 'de_DE.UTF-8 UTF-8' | as_root tee -a /etc/locale.gen >/dev/null
	fi
	quiet as_root locale-gen
	have_locale || die "locale de_DE.UTF-8 still missing after locale-gen"
}

install_missing
generate_locale
