#!/bin/bash
# test_host_servers.sh - make check must not depend on what the host has installed.
#
# Nothing is installed on the host: in a private mount namespace (unshare --mount)
# the lab's unpacked Debian packages (scripts/make-lab.sh: postfix, dovecot-core) are
# laid over /usr and /etc with overlayfs, so /usr/sbin/postconf and /usr/bin/doveconf
# exist at their host paths for the processes inside only.  There:
#   - the unit tests that detect and plan Postfix and Dovecot pass (they used to pick
#     up the host's postconf/doveconf and fail);
#   - the product still uses the host's tools for a root that has none (lab mode on a
#     real mail host), and names the version they report;
# and outside, the host is as it was.
#
#   MH_BIN       the mailharden binary
#   MH_UNIT_DIR  the unit test binaries (build/san/tests)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${MH_BIN:-$REPO/mailharden}
UNIT=${MH_UNIT_DIR:-$REPO/build/san/tests}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mh-host.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }

[ "$(id -u)" = 0 ] || { echo "needs root (unshare --mount)"; exit 77; }
command -v unshare >/dev/null || { echo "no unshare"; exit 77; }
MH_QUIET=1 "$REPO/scripts/make-lab.sh" "$TMP/lab" >/dev/null 2>"$TMP/lab.log" ||
	{ echo "no lab root: $(tail -n 2 "$TMP/lab.log")"; exit 77; }
[ -x "$TMP/lab/usr/sbin/postconf" ] && [ -x "$TMP/lab/usr/bin/doveconf" ] ||
	{ echo "the lab has no postconf/doveconf"; exit 77; }
want_pf=$(sed -n 's/^postfix=\([0-9.]*\).*/\1/p' "$TMP/lab/.mailharden-lab" 2>/dev/null | head -n1)

host_state() { ls -ld /usr/sbin/postconf /usr/bin/doveconf /etc/postfix /etc/dovecot 2>&1; }
before=$(host_state)

# inside DIR...: runs the rest of the arguments with the lab over /usr and /etc
inside() {
	unshare --mount bash -c '
		mount --make-rprivate / &&
		mount -t overlay overlay -o lowerdir="$0/usr:/usr" /usr &&
		mount -t overlay overlay -o lowerdir="$0/etc:/etc" /etc &&
		exec "$@"' "$TMP/lab" "$@"
}

if inside /usr/sbin/postconf -d mail_version >"$TMP/v" 2>/dev/null; then
	ok "inside the namespace the host has Postfix $(sed 's/.*= //' "$TMP/v") and Dovecot"
else
	echo "overlayfs or unshare not usable here"
	exit 77
fi

for t in test_postfix test_dovecot test_exim test_flow test_engine test_expect; do
	[ -e "$UNIT/$t" ] || [ "$t" != test_exim ] || continue
	[ -x "$UNIT/$t" ] || { not_ok "$t: not built"; continue; }
	if inside env TMPDIR="$TMP" "$UNIT/$t" >"$TMP/$t.log" 2>&1; then
		ok "$t passes on a host with Postfix and Dovecot installed"
	else
		not_ok "$t passes on a host with Postfix and Dovecot installed"
		grep -E 'FAILED|ERROR|LINE' "$TMP/$t.log" | head -n 10 | sed 's/^/#   /'
	fi
done
# a failed unit test leaves no scratch directory behind
left=$(find "$TMP" -maxdepth 1 -name 'mh-test-*' | wc -l)
[ "$left" = 0 ] && ok "the unit tests left no scratch directories" ||
	not_ok "the unit tests left $left scratch directories"

# the product: a root without binaries uses the host's tools
cp -a "$TMP/lab/etc" "$TMP/bare"
mkdir -p "$TMP/bare-root" && mv "$TMP/bare" "$TMP/bare-root/etc"
inside "$BIN" detect --root "$TMP/bare-root" >"$TMP/detect.out" 2>&1
if grep -qF "${want_pf:-3.} (host binary)" "$TMP/detect.out"; then
	ok "a root without binaries is detected with the host's postconf (host binary)"
else
	not_ok "a root without binaries is detected with the host's postconf (host binary)"
	sed 's/^/#   /' "$TMP/detect.out" | head -n 10
fi

[ "$(host_state)" = "$before" ] && ok "the host itself is unchanged (no postconf/doveconf installed)" ||
	not_ok "the host itself is unchanged (no postconf/doveconf installed)"
[ "$fails" = 0 ]
