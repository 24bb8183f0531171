#!/bin/bash
# test_package.sh - mailharden installed as an admin installs it:
#   1. `make install PREFIX=/usr/local DESTDIR=STAGE` from a clean copy of the sources:
#      every file in place, the systemd unit calls the installed binary, the installed
#      binary carries no build-tree path and speaks German from PREFIX/share/locale
#      (run with STAGE mounted on /usr/local in a private mount namespace);
#      `make uninstall` leaves no file behind;
#   2. `dpkg-buildpackage -us -uc -b` builds mailharden_VERSION_ARCH.deb (reusing the
#      objects of step 1: -nc), lintian reports no error;
#   3. the .deb installed into a clean Debian 12 root: `dpkg -i` (fails for the missing
#      libraries), `apt-get -f install` completes it from a local file repository of
#      cached Debian packages; then `mailharden detect` finds the root's Postfix and
#      Dovecot, German screens with LANG=de_DE.UTF-8, man page, completion and units
#      are where Debian looks for them.
# Needs root (chroot, mount namespace).  MH_BIN is not used: this builds its own.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
MH_BIN=${MH_BIN:-/bin/true}
mh_init bookworm
CACHE=${MH_TEST_CACHE:-/var/cache/mailharden-test}
VERSION=$(sed -n 's/^VERSION *= *//p' "$REPO/Makefile")
SRC=$WORK/src/mailharden-$VERSION
STAGE=$WORK/stage

# ------------------------------------------------------------------ 1. make install
# the files a user's clone has (git's list when there is one), without build output
copy_sources() {
	mkdir -p "$SRC"
	if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$REPO" && git ls-files -co --exclude-standard | grep -v '^build/' |
			while read -r f; do [ -e "$f" ] && printf '%s\n' "$f"; done | tar -cf - -T -) | tar -C "$SRC" -xf -
	else
		(cd "$REPO" && tar --exclude=./build --exclude=./mailharden -cf - .) | tar -C "$SRC" -xf -
	fi
}
check "copy the sources" copy_sources
t0=$SECONDS
check "make install PREFIX=/usr/local DESTDIR=$STAGE" \
	make -C "$SRC" -j2 install PREFIX=/usr/local DESTDIR="$STAGE" CFLAGS=-O0
note "make install took $((SECONDS - t0)) s"

want_files="usr/local/bin/mailharden usr/local/share/man/man8/mailharden.8
usr/local/share/locale/de/LC_MESSAGES/mailharden.mo
usr/local/share/bash-completion/completions/mailharden
usr/local/lib/systemd/system/mailharden-check.service
usr/local/lib/systemd/system/mailharden-check.timer"
missing=""
for f in $want_files; do [ -f "$STAGE/$f" ] || missing="$missing $f"; done
if [ -z "$missing" ]; then ok "every file in place under DESTDIR"; else fail "missing under DESTDIR:$missing"; fi
expect_match "installed files: binary 0755, the rest 0644" '^755 644 644 644 644 644$' \
	"$(cd "$STAGE" && stat -c %a $want_files | tr '\n' ' ' | sed 's/ $//')"
expect_match "the service runs the installed binary" '^ExecStart=/usr/local/bin/mailharden selftest --format prometheus --out ' \
	"$(grep '^ExecStart=' "$STAGE/usr/local/lib/systemd/system/mailharden-check.service")"
if grep -q "$WORK/src" "$STAGE/usr/local/bin/mailharden"; then
	fail "the installed binary names the build tree"; grep -ao "$WORK/src[^\"]*" "$STAGE/usr/local/bin/mailharden" | head -n3 | diag
else
	ok "the installed binary names no build-tree path"
fi
expect_match "the installed binary looks in PREFIX/share/locale" 'x' \
	"$(grep -aq '/usr/local/share/locale' "$STAGE/usr/local/bin/mailharden" && echo x)"

# the staged tree seen at /usr/local, in a mount namespace of our own; the build tree's
# catalogues are removed first, so German can come only from the installed .mo
rm -rf "$SRC/build/locale"
staged() {
	unshare -m sh -c 'mount --bind "$1" /usr/local && shift && exec "$@"' _ "$STAGE/usr/local" "$@"
}
out=$(staged env -u MAILHARDEN_LOCALEDIR LANG=de_DE.UTF-8 LC_ALL= /usr/local/bin/mailharden --help 2>&1)
expect_match "installed binary: German with LANG=de_DE.UTF-8" '^Aufruf|^Verwendung|Verben' "$out"
out=$(staged env -u MAILHARDEN_LOCALEDIR LANG=de_DE.UTF-8 LC_ALL= /usr/local/bin/mailharden selftest --port 0 2>&1)
expect_match "installed binary: German error messages" 'Zahlen|Port' "$out"
expect_match "installed binary: --version" "^mailharden $VERSION\$" "$("$STAGE/usr/local/bin/mailharden" --version)"
if command -v systemd-analyze >/dev/null; then
	out=$(staged systemd-analyze verify /usr/local/lib/systemd/system/mailharden-check.service \
		/usr/local/lib/systemd/system/mailharden-check.timer 2>&1 | grep -v 'sysinit.target\|Cannot add dependency')
	if [ -z "$out" ]; then ok "systemd-analyze verify: service and timer"; else fail "systemd-analyze verify"; printf '%s\n' "$out" | diag; fi
fi

check "make uninstall" make -C "$SRC" uninstall PREFIX=/usr/local DESTDIR="$STAGE"
expect_match "make uninstall leaves no file" '^$' "$(find "$STAGE" ! -type d)"

# ------------------------------------------------------------------ 2. the .deb
have_debtools() { command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null; }
if ! have_debtools; then
	echo "ok - # SKIP dpkg-buildpackage/debhelper missing (scripts/install-deps.sh installs them)"
	exit 0
fi
t0=$SECONDS
# -nc: no "debian/rules clean" first, so the objects of step 1 are reused
(cd "$SRC" && dpkg-buildpackage -us -uc -b -nc) >"$WORK/dpkg-buildpackage.log" 2>&1
rc=$?
DEB=$(ls "$WORK/src/mailharden_${VERSION}_"*.deb 2>/dev/null | head -n1)
if [ $rc = 0 ] && [ -n "$DEB" ]; then ok "dpkg-buildpackage -us -uc -b builds $(basename "$DEB") ($((SECONDS - t0)) s)"
else fail "dpkg-buildpackage -us -uc -b"; tail -n 20 "$WORK/dpkg-buildpackage.log" | diag; exit 1; fi
expect_match "the .deb: binary, man page, catalogue, completion, units" \
	'^\./lib/systemd/system/mailharden-check.service \./lib/systemd/system/mailharden-check.timer \./usr/bin/mailharden \./usr/share/bash-completion/completions/mailharden \./usr/share/locale/de/LC_MESSAGES/mailharden.mo \./usr/share/man/man8/mailharden.8.gz $' \
	"$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { print $6 }' | grep -v /doc/ | LC_ALL=C sort | tr '\n' ' ')"
# lintian reads the .deb while the root gets it (its result is checked at the end)
LINT_PID=
if command -v lintian >/dev/null; then
	( t0=$SECONDS; lintian "$DEB" >"$WORK/lintian.out" 2>&1; echo $((SECONDS - t0)) >"$WORK/lintian.secs" ) &
	LINT_PID=$!
fi
lintian_result() {
	local out
	if [ -z "$LINT_PID" ]; then
		echo "ok - # SKIP lintian missing (scripts/install-deps.sh installs it)"
		return
	fi
	wait "$LINT_PID"
	out=$(grep -v 'running with root privileges' "$WORK/lintian.out")
	if ! grep -q '^E:' <<<"$out"; then ok "lintian: no error ($(cat "$WORK/lintian.secs") s)${out:+; $(grep -c '^[WIP]:' <<<"$out") warnings/infos}"
	else fail "lintian reports errors"; printf '%s\n' "$out" | diag; fi
}

# ------------------------------------------------------------------ 3. into Debian 12
# The libraries the root lacks come from the host's Debian 12 archive (apt-get download,
# cached), served to the root's apt as a local file repository: no network after the
# first run, the same resolution a user's apt-get -f install does.
REPO_DIR=$ROOT/srv/mh-repo
mkdir -p "$REPO_DIR" "$CACHE/pkg-deps"
fetch_deps() {
	local p
	for p in $(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/^ *//; s/[ (].*//'); do
		[ -n "$p" ] || continue
		chroot "$ROOT" dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' && continue
		compgen -G "$CACHE/pkg-deps/${p}_*.deb" >/dev/null ||
			(cd "$CACHE/pkg-deps" && apt-get download "$p" >/dev/null 2>&1) || { echo "apt-get download $p failed"; return 1; }
		cp "$CACHE/pkg-deps/${p}_"*.deb "$REPO_DIR/"
	done
	(cd "$REPO_DIR" && dpkg-scanpackages -m . /dev/null >Packages 2>/dev/null)
	echo "deb [trusted=yes] file:/srv/mh-repo ./" >"$REPO_DIR/local.list"
}
check "the missing libraries in a local repository for the root's apt" fetch_deps
cp "$DEB" "$ROOT/tmp/"
APT_LOCAL=(-o Dir::Etc::sourcelist=/srv/mh-repo/local.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0)
mount_root
out=$(chroot "$ROOT" dpkg -i "/tmp/$(basename "$DEB")" 2>&1)
rc=$?
if [ $rc = 0 ]; then
	ok "dpkg -i installs it (the root already had every library)"
else
	expect_match "dpkg -i: stops at the missing libraries" 'dependency problems|depends on' "$out"
fi
out=$(chroot "$ROOT" sh -c 'apt-get "$@" update -q && DEBIAN_FRONTEND=noninteractive apt-get "$@" -f install -y -q' _ "${APT_LOCAL[@]}" 2>&1)
if [ $? = 0 ] && chroot "$ROOT" dpkg-query -W -f='${Status}' mailharden 2>/dev/null | grep -q 'install ok installed'; then
	ok "apt-get -f install completes it: mailharden is installed"
else
	fail "apt-get -f install"; printf '%s\n' "$out" | tail -n 15 | diag
fi

out=$(chroot "$ROOT" mailharden detect 2>&1)
expect_match "installed: mailharden detect finds the root's Postfix 3.7" 'Postfix:' "$out"
expect_match "installed: mailharden detect finds Dovecot 2.3 and its config" '/etc/dovecot' "$out"
# the root has no German locale of its own: the host's locale archive (test plumbing)
cp /usr/lib/locale/locale-archive "$ROOT/usr/lib/locale/locale-archive"
out=$(chroot "$ROOT" env LANG=de_DE.UTF-8 mailharden detect 2>&1)
expect_match "installed: detect in German (LANG=de_DE.UTF-8)" 'bedient' "$out"
out=$(printf '' | chroot "$ROOT" env LANG=de_DE.UTF-8 TERM=dumb mailharden --text 2>&1)
expect_no_match "installed: the wizard's line mode starts in German, no English welcome" 'Welcome|will happen' "$out"
expect_match "installed: the wizard's line mode speaks German" '[äöüÄÖÜß]|Willkommen|Server' "$out"
check "installed: man page where man looks" test -f "$ROOT/usr/share/man/man8/mailharden.8.gz"
check "installed: completion where bash-completion looks" test -f "$ROOT/usr/share/bash-completion/completions/mailharden"
check "installed: units in /lib/systemd/system, the timer not enabled" \
	sh -c "test -f '$ROOT/lib/systemd/system/mailharden-check.timer' && ! test -e '$ROOT/etc/systemd/system/timers.target.wants/mailharden-check.timer'"
out=$(chroot "$ROOT" sh -c 'dpkg -r mailharden >/dev/null && ls /usr/bin/mailharden /usr/share/locale/de/LC_MESSAGES/mailharden.mo' 2>&1)
expect_match "dpkg -r removes it again" 'No such file' "$out"
lintian_result
