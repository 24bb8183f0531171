#!/bin/bash
# test_cli.sh - the CLI's safety promises, proven from the outside.
#
# Runs the mailharden binary ($MH_BIN, default build/san/mailharden: the
# ASan+UBSan build) against fresh copies of a lab root (a Debian 12 mail host's
# /etc from the postfix and dovecot packages) and checks exit codes, one-line
# errors and that a refused or failed run leaves the tree byte-identical
# (names, types, modes, owners, sizes, sha256 and link targets).
#
# Prints "ok - ..." / "not ok - ..." lines.  Cases that need root (chown, a
# tmpfs for the full-disk case, running as nobody) print "ok - # SKIP ..."
# without it.  MH_KEEP=1 keeps the scratch directory; MH_CLI_OWN_LAB=1 builds
# the lab with tests/integration/cli/mklab.sh instead of scripts/make-lab.sh.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MH_BIN=${MH_BIN:-$REPO/build/san/mailharden}
case $MH_BIN in /*) ;; *) MH_BIN=$REPO/$MH_BIN ;; esac
[ -x "$MH_BIN" ] || { echo "not ok - MH_BIN ($MH_BIN) is not an executable; make build/san/mailharden"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export LC_ALL=C.UTF-8 LANGUAGE=

IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
TESTS=0
FAILS=0
SAN_HITS=0
MOUNTS=()
PIDS=()

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mh-cli.XXXXXX")
chmod 755 "$WORK"  # the case run as nobody must reach its lab

cleanup() {
	local rc=$? pid m
	for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	for m in "${MOUNTS[@]}"; do  # deepest first
		mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	if [ "${MH_KEEP:-0}" = 1 ]; then
		echo "# kept $WORK"
	else
		rm -rf --one-file-system "$WORK"
	fi
	echo "# $TESTS tests, $FAILS failed"
	[ "$FAILS" = 0 ] || [ "$rc" != 0 ] || rc=1
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ output

ok()   { TESTS=$((TESTS + 1)); printf 'ok - %s\n' "$*"; }
fail() { TESTS=$((TESTS + 1)); FAILS=$((FAILS + 1)); printf 'not ok - %s\n' "$*"; }
skip() { TESTS=$((TESTS + 1)); printf 'ok - # SKIP %s\n' "$*"; }
diag() { sed 's/^/#   /' | head -n "${1:-25}"; }

# ------------------------------------------------------------------ running mailharden

# mh ARGS...: runs the binary with stdin from /dev/null; sets RC, OUT, ERR.
mh() {
	LAST_CMD="mailharden $*"
	OUT=$(timeout 60 "$MH_BIN" "$@" 2>"$WORK/err" </dev/null)
	RC=$?
	ERR=$(cat "$WORK/err")
	if grep -qE 'Sanitizer|runtime error:' <<<"$ERR"; then
		SAN_HITS=$((SAN_HITS + 1))
		printf '# sanitizer report from: %s\n' "$LAST_CMD"
		printf '%s\n' "$ERR" | diag 40
	fi
}

# mh_as USER ARGS...: as mh, but as an unprivileged user.
mh_as() {
	local user=$1
	shift
	LAST_CMD="(as $user) mailharden $*"
	OUT=$(timeout 60 setpriv --reuid="$user" --regid=nogroup --clear-groups "$MH_BIN" "$@" \
		2>"$WORK/err" </dev/null)
	RC=$?
	ERR=$(cat "$WORK/err")
	grep -qE 'Sanitizer|runtime error:' <<<"$ERR" && SAN_HITS=$((SAN_HITS + 1))
}

show_run() {
	{
		printf 'command: %q\n' "$LAST_CMD"
		printf 'exit: %s\n' "$RC"
		[ -z "$ERR" ] || printf 'stderr:\n%s\n' "$ERR"
		[ -z "$OUT" ] || printf 'stdout (tail):\n%s\n' "$(tail -n 12 <<<"$OUT")"
	} | diag 40
}

# Error lines: stderr without the "note: ..." lines (informational by design).
error_lines() { grep -v '^note: ' <<<"$ERR" | grep -c . ; }

# expect_refusal DESC REGEX: exit 1, exactly one stderr line besides notes,
# starting "mailharden: error: " and matching REGEX (extended, case-insensitive).
expect_refusal() {
	local desc=$1 re=$2 why=""
	if [ "$RC" != 1 ]; then why="exit $RC, want 1"
	elif [ "$(error_lines)" != 1 ]; then why="stderr has $(error_lines) error lines, want 1"
	elif ! grep -v '^note: ' <<<"$ERR" | grep -q '^mailharden: error: '; then why="no 'mailharden: error:' line"
	elif ! grep -v '^note: ' <<<"$ERR" | grep -qiE -- "$re"; then why="error does not match /$re/"
	fi
	if [ -z "$why" ]; then ok "$desc"; else fail "$desc"; echo "$why" | diag; show_run; fi
}

expect_rc() {
	local desc=$1 want=$2
	if [ "$RC" = "$want" ]; then ok "$desc"; else fail "$desc"; show_run; fi
}

# expect_grep DESC REGEX TEXT
expect_grep() {
	if grep -qE -- "$2" <<<"$3"; then ok "$1"; else fail "$1"; printf 'expected /%s/ in:\n%s\n' "$2" "$3" | diag 30; fi
}

# ------------------------------------------------------------------ trees

# snap DIR: every entry below DIR except the state directory: type, mode,
# owner, size, link target, sha256 of regular files.  Sorted, relative.
# Files under usr/ (the packages' programs, hard-linked between labs) get
# mtime and inode instead of a hash: hashing 20 MB per snapshot is slow.
snap() {
	(cd "$1" && {
		find . -path ./var/lib/mailharden -prune -o \
			\( -type d -printf '%p d %m %U %G\n' \) -o \
			\( -type l -printf '%p l %m %U %G -> %l\n' \) -o \
			\( -type f -path './usr/*' -printf '%p f %m %U %G %s %T@ %i\n' \) -o \
			\( -type f -printf '%p f %m %U %G %s\n' \) -o -printf '%p %y %m %U %G\n'
		find . \( -path ./var/lib/mailharden -o -path ./usr \) -prune -o -type f -print0 |
			xargs -0 -r sha256sum | sed -E 's/^([0-9a-f]{64})  (.*)$/\2 sha256 \1/'
	} | LC_ALL=C sort)
}

# snap_save DIR FILE: saves a snapshot of DIR to FILE
snap_save() { snap "$1" >"$2"; }

# same_tree DESC DIR SNAPFILE
same_tree() {
	local now=$WORK/snap.now
	snap "$2" >"$now"
	if cmp -s "$3" "$now"; then ok "$1"; else fail "$1"; diff "$3" "$now" | diag 20; fi
}

no_checkpoints() {
	local n
	n=$(find "$2/var/lib/mailharden/checkpoints" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	if [ "$n" = 0 ]; then ok "$1"; else fail "$1"; ls -la "$2/var/lib/mailharden/checkpoints" | diag; fi
}

# ------------------------------------------------------------------ the lab

BASE=$WORK/base
make_base() {
	if [ -x "$REPO/scripts/make-lab.sh" ] && [ "${MH_CLI_OWN_LAB:-0}" != 1 ]; then
		"$REPO/scripts/make-lab.sh" "$BASE" >"$WORK/make-lab.log" 2>&1 && return 0
		echo "# scripts/make-lab.sh failed, using tests/integration/cli/mklab.sh:"
		tail -n 5 "$WORK/make-lab.log" | diag
		rm -rf "$BASE"
	fi
	local cache=${MH_LAB_CACHE:-$REPO/build/debs}
	MH_LAB_CACHE=$cache "$HERE/cli/mklab.sh" "$BASE" >"$WORK/make-lab.log" 2>&1
}

if ! make_base || [ ! -f "$BASE/etc/postfix/main.cf" ]; then
	fail "build the lab root"
	diag <"$WORK/make-lab.log"
	exit 1
fi
# dovecot-imapd's and -pop3d's postinst write these (dpkg -x does not run them)
mkdir -p "$BASE/usr/share/dovecot/protocols.d"
for p in imap pop3; do
	f=$BASE/usr/share/dovecot/protocols.d/${p}d.protocol
	[ -e "$f" ] || [ ! -e "$BASE/usr/lib/dovecot/$p" ] || echo "protocols = \$protocols $p" >"$f"
done
# In a tree of unpacked .debs doveconf runs from the host and looks its users
# up in the host's passwd, which has no dovecot/dovenull on a host without
# Dovecot: let the lab's Dovecot use nobody (a file of its own, sorted first).
if ! getent passwd dovenull >/dev/null || ! getent passwd dovecot >/dev/null; then
	printf '# lab only: the host has no dovecot/dovenull users\ndefault_login_user = nobody\ndefault_internal_user = nobody\n' \
		>"$BASE/etc/dovecot/conf.d/00-lab-users.conf"
fi
# a throwaway certificate, as the servers see it: /etc/ssl/mh/{cert,key}.pem
mkdir -p "$BASE/etc/ssl/mh"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=mail.example.test \
	-keyout "$BASE/etc/ssl/mh/key.pem" -out "$BASE/etc/ssl/mh/cert.pem" 2>/dev/null
chmod 600 "$BASE/etc/ssl/mh/key.pem"
chmod 644 "$BASE/etc/ssl/mh/cert.pem"
rm -rf "$BASE/var/lib/mailharden"

# lab NAME: a fresh copy of the base lab (usr/ hard-linked: nothing writes
# there, and snap notices if something does); prints its path
lab() {
	local d=$WORK/$1 e
	mkdir "$d" || return 1
	for e in "$BASE"/* "$BASE"/.[!.]*; do
		[ -e "$e" ] || continue
		if [ "${e##*/}" = usr ]; then cp -al "$e" "$d/"; else cp -a "$e" "$d/"; fi
	done
	echo "$d"
}

CERT=(--cert /etc/ssl/mh/cert.pem --key /etc/ssl/mh/key.pem)
PF=(--server postfix --role "mx,submission" --profile intermediate "${CERT[@]}")
DC=(--server dovecot --role "imap,imaps" --profile intermediate "${CERT[@]}")
VERS=()
# Versions come from the lab's binaries when they run here; else say them.
mh detect --root "$BASE" --json
if ! perl -MJSON::PP -e 'my $d = decode_json(join "", <STDIN>);
	my %v = map { $_->{name} => $_->{version} } @{$d->{servers}};
	exit !($v{postfix} && $v{dovecot})' <<<"$OUT" 2>/dev/null; then
	VERS=(--server-version postfix=3.7 --server-version dovecot=2.3)
	echo "# the lab's binaries do not tell their versions: using ${VERS[*]}"
fi

# ------------------------------------------------------------------ 1. detect

case_detect() {
	local L
	L=$(lab detect)
	mh detect --root "$L" --json "${VERS[@]}"
	expect_rc "detect --json exits 0" 0
	local check
	check=$(perl -MJSON::PP -e '
		my $d = eval { decode_json(join "", <STDIN>) } or do { print "not JSON: $@"; exit 1 };
		my %s = map { $_->{name} => $_ } @{$d->{servers} || []};
		my @bad;
		for my $n (qw(postfix dovecot)) {
			my $s = $s{$n} or do { push @bad, "no $n"; next };
			push @bad, "$n not found" unless $s->{found};
			push @bad, "$n has no version" unless ($s->{version} // "") =~ /^\d+\.\d+/;
			push @bad, "$n config_dir is " . ($s->{config_dir} // "null")
				unless ($s->{config_dir} // "") eq "/etc/$n";
		}
		push @bad, "postfix does not serve mx" unless grep { $_ eq "mx" } @{$s{postfix}{roles} || []};
		print join("; ", @bad); exit(@bad ? 1 : 0);' <<<"$OUT")
	if [ $? = 0 ]; then ok "detect --json parses and names postfix and dovecot with versions and /etc config dirs"
	else fail "detect --json parses and names postfix and dovecot with versions and /etc config dirs"
		echo "$check" | diag; show_run; fi

	mh detect --root "$L" "${VERS[@]}"
	expect_rc "detect (human) exits 0" 0
	expect_grep "detect (human) lists Postfix with its version and config dir" \
		'^Postfix:' "$OUT"
	expect_grep "detect (human) lists Dovecot" '^Dovecot:' "$OUT"
	if grep -A4 '^Postfix:' <<<"$OUT" | grep -qE 'version +3\.[0-9]+' &&
	   grep -A4 '^Dovecot:' <<<"$OUT" | grep -qE 'version +2\.[0-9]+' &&
	   grep -qE 'config +/etc/postfix$' <<<"$OUT" && grep -qE 'config +/etc/dovecot$' <<<"$OUT"; then
		ok "detect (human) shows both versions and config dirs"
	else
		fail "detect (human) shows both versions and config dirs"; show_run
	fi
}

# ------------------------------------------------------------------ 2. plan

case_plan() {
	local L
	L=$(lab plan)
	snap_save "$L" "$WORK/plan.before"
	mh plan --root "$L" "${VERS[@]}" "${PF[@]}"
	expect_rc "plan postfix exits 0" 0
	expect_grep "plan postfix prints a unified diff of /etc/postfix/main.cf" \
		'^--- /etc/postfix/main\.cf$' "$OUT"
	expect_grep "plan postfix diff has +++ and @@ hunk lines" '^@@ -[0-9]+(,[0-9]+)? \+[0-9]+' "$OUT"
	mh plan --root "$L" "${VERS[@]}" "${DC[@]}"
	expect_rc "plan dovecot exits 0" 0
	expect_grep "plan dovecot shows the managed drop-in" '^\+\+\+ /etc/dovecot/' "$OUT"
	same_tree "plan writes nothing (tree byte-identical)" "$L" "$WORK/plan.before"
	if [ ! -e "$L/var/lib/mailharden/checkpoints" ]; then ok "plan creates no checkpoint"
	else fail "plan creates no checkpoint"; fi
}

# ------------------------------------------------------------------ 3. apply, idempotence, history, rollback

count_checkpoints() { grep -cE '^[0-9]{8}-[0-9]{6}-[0-9]{3} ' <<<"$1"; }

case_apply_rollback() {
	local L
	L=$(lab apply)
	snap_save "$L" "$WORK/apply.before"

	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_rc "apply postfix --yes exits 0" 0
	expect_grep "apply postfix reports writing main.cf" '^wrote /etc/postfix/main\.cf$' "$OUT"
	mh plan --root "$L" "${VERS[@]}" "${PF[@]}"
	expect_grep "plan postfix after apply: No changes" '^No changes' "$OUT"
	if grep -q '^[-+@]' <<<"$OUT"; then fail "plan postfix after apply prints no diff"; show_run
	else ok "plan postfix after apply prints no diff"; fi

	mh apply --root "$L" "${VERS[@]}" "${DC[@]}" --yes
	expect_rc "apply dovecot --yes exits 0" 0
	mh plan --root "$L" "${VERS[@]}" "${DC[@]}"
	expect_grep "plan dovecot after apply: No changes" '^No changes' "$OUT"

	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_rc "apply postfix again exits 0" 0
	expect_grep "apply postfix again: No changes" '^No changes' "$OUT"

	mh history --root "$L"
	if [ "$RC" = 0 ] && [ "$(count_checkpoints "$OUT")" = 2 ]; then
		ok "history lists exactly 2 checkpoints (the no-op apply made none)"
	else fail "history lists exactly 2 checkpoints (the no-op apply made none)"; show_run; fi
	mh history --root "$L" --json
	if perl -MJSON::PP -e 'my $a = decode_json(join "", <STDIN>); exit !(@$a == 2 &&
		!grep { $_->{rolled_back} } @$a)' <<<"$OUT" 2>/dev/null; then
		ok "history --json: 2 checkpoints, none rolled back"
	else fail "history --json: 2 checkpoints, none rolled back"; show_run; fi

	mh rollback --root "$L"
	expect_rc "first rollback exits 0" 0
	expect_grep "first rollback undoes dovecot (the newest)" '/etc/dovecot/' "$OUT"
	mh rollback --root "$L"
	expect_rc "second rollback exits 0" 0
	expect_grep "second rollback restores /etc/postfix/main.cf" '^restored /etc/postfix/main\.cf$' "$OUT"
	same_tree "two rollbacks: tree byte-identical to before (content, mode, owner)" "$L" "$WORK/apply.before"

	mh history --root "$L"
	if [ "$(grep -c 'rolled back' <<<"$OUT")" = 2 ]; then ok "history shows both checkpoints rolled back"
	else fail "history shows both checkpoints rolled back"; show_run; fi
	mh rollback --root "$L"
	expect_refusal "a third rollback: nothing left, one-line error" 'no checkpoint'
	same_tree "the third rollback changes nothing" "$L" "$WORK/apply.before"
}

# ------------------------------------------------------------------ 4. no terminal

case_no_terminal() {
	local L
	L=$(lab noterm)
	snap_save "$L" "$WORK/noterm.before"
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}"
	expect_refusal "apply without --yes and no terminal refuses" -- '--yes'
	same_tree "apply without --yes: tree byte-identical" "$L" "$WORK/noterm.before"
	no_checkpoints "apply without --yes: no checkpoint" "$L"
}

# ------------------------------------------------------------------ 5. control characters in input

case_newlines() {
	local L nl
	L=$(lab newline)
	snap_save "$L" "$WORK/newline.before"
	nl=$'\n'
	mh apply --root "$L" "${VERS[@]}" --server postfix --role mx --profile intermediate \
		--cert "/etc/ssl/x${nl}.pem" --key /etc/ssl/mh/key.pem --yes
	expect_refusal "--cert with a newline: one-line error" 'cert|control|character|newline'
	mh apply --root "$L" "${VERS[@]}" --server postfix --role mx --profile intermediate \
		--cert /etc/ssl/mh/cert.pem --key "/etc/ssl/mh/key${nl}.pem" --yes
	expect_refusal "--key with a newline: one-line error" 'key|control|character|newline'
	mh apply --root "$L" "${VERS[@]}" --server postfix --role "mx${nl}foo" --profile intermediate "${CERT[@]}" --yes
	expect_refusal "--role 'mx\\nfoo': one-line error" 'role'
	mh apply --root "$L" "${VERS[@]}" --server postfix --role mx --profile "intermediate${nl}x" "${CERT[@]}" --yes
	expect_refusal "--profile with a newline: one-line error" 'profile'
	mh apply --root "$L" --server-version "postfix=3.7${nl}x" --server postfix --role mx --profile intermediate "${CERT[@]}" --yes
	expect_refusal "--server-version 'postfix=3.7\\nx': one-line error" 'version'
	mh apply --root "$L" "${VERS[@]}" --server "postfix${nl}x" --role mx --profile intermediate "${CERT[@]}" --yes
	expect_refusal "--server with a newline: one-line error" 'server'
	mh apply --root "$L" "${VERS[@]}" --server postfix --role mx --profile intermediate \
		--cert $'/etc/ssl/mh/cert.pem\e[2J' --key /etc/ssl/mh/key.pem --yes
	expect_refusal "--cert with an escape sequence: one-line error" 'cert|control|character'
	if grep -q $'\e' <<<"$ERR"; then fail "the escape sequence is not echoed to the terminal"; show_run
	else ok "the escape sequence is not echoed to the terminal"; fi
	same_tree "control characters in options: tree byte-identical" "$L" "$WORK/newline.before"
	no_checkpoints "control characters in options: no checkpoint" "$L"

	# a real lab whose name has a newline: refused although it exists
	local NL="$WORK/nl${nl}root"
	cp -a "$BASE" "$NL"
	snap_save "$NL" "$WORK/nlroot.before"
	mh apply --root "$NL" "${VERS[@]}" "${PF[@]}" --yes
	expect_refusal "--root with a newline (an existing lab): one-line error" 'root|control|character'
	same_tree "--root with a newline: tree byte-identical" "$NL" "$WORK/nlroot.before"
	no_checkpoints "--root with a newline: no checkpoint" "$NL"
	mh detect --root "$NL"
	expect_refusal "detect --root with a newline: one-line error" 'root|control|character'
}

# ------------------------------------------------------------------ 6. broken existing configs

# broken NAME DESC REGEX MUTATOR ARGS...: copy a lab, break it with MUTATOR
# (called with the lab dir), apply must refuse with REGEX, nothing changed.
broken() {
	local name=$1 desc=$2 re=$3 mutate=$4 L
	shift 4
	L=$(lab "broken-$name")
	"$mutate" "$L"
	snap_save "$L" "$WORK/$name.before"
	mh apply --root "$L" "${VERS[@]}" "$@" --yes
	expect_refusal "$desc: one-line error /$re/" "$re"
	same_tree "$desc: tree byte-identical" "$L" "$WORK/$name.before"
	no_checkpoints "$desc: no checkpoint" "$L"
}

mut_continuation() {
	local f=$1/etc/postfix/main.cf
	{ printf '  smtpd_banner = a continuation with nothing before it\n'; cat "$f"; } >"$f.new"
	cat "$f.new" >"$f"; rm "$f.new"
}
mut_master_3() {
	printf 'broken    inet  n\n' >>"$1/etc/postfix/master.cf"
}
mut_nul() {
	local f=$1/etc/postfix/main.cf
	{ printf 'myhostname = a\0b\n'; cat "$f"; } >"$f.new"
	cat "$f.new" >"$f"; rm "$f.new"
}
mut_dovecot_dir() {
	rm "$1/etc/dovecot/dovecot.conf"
	mkdir "$1/etc/dovecot/dovecot.conf"
}
mut_dovecot_unclosed() {
	printf 'service imap-login {\n  inet_listener imap {\n' >>"$1/etc/dovecot/conf.d/10-master.conf"
}

case_broken() {
	local n
	broken cont "main.cf starting with a continuation line" \
		'/etc/postfix/main\.cf.*\b1\b' mut_continuation "${PF[@]}"
	n=$(wc -l <"$BASE/etc/postfix/master.cf")
	n=$((n + 1))
	broken master3 "master.cf entry with 3 fields (line $n)" \
		"/etc/postfix/master\\.cf.*\\b$n\\b" mut_master_3 "${PF[@]}"
	broken nul "main.cf with a NUL byte" '/etc/postfix/main\.cf' mut_nul "${PF[@]}"
	broken dcdir "dovecot.conf is a directory" '/etc/dovecot/dovecot\.conf' mut_dovecot_dir "${DC[@]}"
	# doveconf itself blames the next file read, so only the directory is asked for
	broken dcopen "conf.d/10-master.conf with an unclosed section" '/etc/dovecot/conf\.d/' \
		mut_dovecot_unclosed "${DC[@]}"

	if [ "$IS_ROOT" != 1 ] || ! id nobody >/dev/null 2>&1; then
		skip "dovecot.conf unreadable (needs root to run as nobody)"
		return
	fi
	local L
	L=$(lab unreadable)
	chmod 755 "$L"
	chmod 000 "$L/etc/dovecot/dovecot.conf"
	chown nobody "$L/etc/ssl/mh/key.pem"  # so only dovecot.conf is in the way
	mkdir -p "$L/var/lib/mailharden"
	chown nobody "$L/var/lib/mailharden"
	snap_save "$L" "$WORK/unreadable.before"
	mh_as nobody apply --root "$L" "${VERS[@]}" "${DC[@]}" --yes
	expect_refusal "dovecot.conf unreadable (chmod 000, as nobody): one-line error naming it" \
		'/etc/dovecot/dovecot\.conf'
	same_tree "dovecot.conf unreadable: tree byte-identical" "$L" "$WORK/unreadable.before"
	no_checkpoints "dovecot.conf unreadable: no checkpoint" "$L"
}

# ------------------------------------------------------------------ 7. full disk

# Fills the filesystem of $1, then frees $2 pages of 4 KiB.
fill_leaving() {
	local dir=$1 pages=$2
	rm -f "$dir/filler"
	dd if=/dev/zero of="$dir/filler" bs=64k >/dev/null 2>&1
	dd if=/dev/zero of="$dir/filler" bs=4k oflag=append conv=notrunc >/dev/null 2>&1
	[ "$pages" = 0 ] || truncate -s "-$((pages * 4096))" "$dir/filler"
	sync -f "$dir/filler" 2>/dev/null
}

# sweep T LABEL PAGES...: on the filesystem holding T/etc/postfix, leave
# PAGES free pages, run apply; every failure must be clean.  Sets SWEEP_OK
# (free pages at the first success, or -1), SWEEP_BAD (problems), and
# SWEEP_ERRS (the error lines seen).
sweep() {
	local T=$1 label=$2 k outcome
	shift 2
	SWEEP_OK=-1 SWEEP_BAD=() SWEEP_ERRS=""
	for k in "$@"; do
		find "$T/var/lib/mailharden" -mindepth 1 -delete 2>/dev/null
		rm -rf "$T/etc/postfix"
		cp -a "$WORK/full-postfix.orig" "$T/etc/postfix"
		fill_leaving "$T/etc/postfix/.." "$k"
		snap "$T" | grep -v '^\./etc/filler ' >"$WORK/full.before"
		mh apply --root "$T" "${VERS[@]}" "${PF[@]}" --yes
		if [ "$RC" = 0 ]; then
			SWEEP_OK=$k
			break
		fi
		outcome=""
		[ "$RC" = 1 ] || outcome="exit $RC"
		[ "$(error_lines)" = 1 ] || outcome="$outcome; $(error_lines) error lines"
		grep -q 'No space left' <<<"$ERR" || outcome="$outcome; no 'No space left'"
		grep -q 'ROLLBACK FAILED' <<<"$ERR" && outcome="$outcome; rollback failed"
		[ -z "$(find "$T/etc" -name '.*.mh-*')" ] || outcome="$outcome; temp files left"
		snap "$T" | grep -v '^\./etc/filler ' | cmp -s "$WORK/full.before" - || outcome="$outcome; tree changed"
		[ -z "$(find "$T/var/lib/mailharden" -name '.partial-*' 2>/dev/null)" ] ||
			outcome="$outcome; a .partial checkpoint is left"
		grep -v '^note: ' <<<"$ERR" | while IFS= read -r line; do
			printf '# %s, %s free pages: %s\n' "$label" "$k" "$line"
		done
		SWEEP_ERRS+=$(grep -v '^note: ' <<<"$ERR")$'\n'
		if [ -n "$outcome" ]; then
			SWEEP_BAD+=("$k free pages: ${outcome#; }")
			[ "${#SWEEP_BAD[@]}" -gt 1 ] || { echo "# first bad run ($label, $k free pages):"; show_run; snap "$T" | grep -v '^\./etc/filler ' | diff "$WORK/full.before" - | diag; }
		fi
	done
}

sweep_report() {
	local label=$1 want_re=$2 want_desc=$3
	if [ "${#SWEEP_BAD[@]}" = 0 ]; then
		ok "full disk ($label): every failed apply exits 1 with one line 'No space left', tree unchanged, no temp files"
	else
		fail "full disk ($label): every failed apply exits 1 with one line 'No space left', tree unchanged, no temp files"
		printf '%s\n' "${SWEEP_BAD[@]}" | diag
	fi
	if grep -qE -- "$want_re" <<<"$SWEEP_ERRS"; then ok "full disk ($label): $want_desc"
	else fail "full disk ($label): $want_desc"; printf '%s' "$SWEEP_ERRS" | diag; fi
	if [ "$SWEEP_OK" -ge 0 ]; then
		ok "full disk ($label): with $SWEEP_OK free pages apply succeeds (the sweep reached success)"
	else
		fail "full disk ($label): apply never succeeded in the sweep"; show_run
	fi
}

case_full_disk() {
	if [ "$IS_ROOT" != 1 ]; then
		skip "full disk (needs root to mount a tmpfs)"
		return
	fi
	local T=$WORK/full size
	mkdir -p "$T"
	size=$(( $(du -sk --apparent-size "$BASE" | cut -f1) / 1024 + 8 ))
	if ! mount -t tmpfs -o "size=${size}m,mode=755" mh-cli-full "$T"; then
		skip "full disk (mount -t tmpfs failed)"
		return
	fi
	MOUNTS=("$T")
	cp -a "$BASE/." "$T/"
	mkdir -p "$T/var/lib/mailharden"
	cp -a "$T/etc/postfix" "$WORK/full-postfix.orig"

	# 1: state and config on one full filesystem, 0 free pages, then more
	sweep "$T" "one filesystem" 0 1 2 4 8 12 16 20 24 28 32 40 48 64 96
	sweep_report "one filesystem" '/var/lib/mailharden/lock: No space' "a full disk stops apply at the lock"

	# 2: state on a roomy filesystem, /etc full: the checkpoint is made and
	# the config write itself hits ENOSPC (a second file after a first one
	# succeeded, too), so the written files must be rolled back
	if mount -t tmpfs -o size=16m,mode=700 mh-cli-state "$T/var/lib/mailharden"; then
		MOUNTS=("$T/var/lib/mailharden" "$T")
		sweep "$T" "only /etc full" 0 1 2 3 4 5 6 8 12
		sweep_report "only /etc full" 'write /etc/postfix/[a-z]+\.cf.*No space' \
			"ENOSPC while writing a config file is caught"
		if grep -qE 'write /etc/postfix/master\.cf: No space.*rolled back' <<<"$SWEEP_ERRS"; then
			ok "full disk (only /etc full): master.cf hits ENOSPC after main.cf was written; main.cf rolled back"
		else
			fail "full disk (only /etc full): master.cf hits ENOSPC after main.cf was written; main.cf rolled back"
			printf '%s' "$SWEEP_ERRS" | diag
		fi
		umount "$T/var/lib/mailharden"
	else
		skip "full disk, only /etc full (mount failed)"
	fi
	umount "$T" && MOUNTS=()
}

# ------------------------------------------------------------------ 8. lock

case_lock() {
	local L pid
	L=$(lab lock)
	mkdir -p "$L/var/lib/mailharden"
	# a POSIX record lock on the whole file, as lockf(3) takes it
	perl -e 'use Fcntl; open(my $f, "+>>", $ARGV[0]) or die "open: $!";
		my $fl = pack("s s x4 q q l x4", F_WRLCK, SEEK_SET, 0, 0, 0);
		fcntl($f, F_SETLK, $fl) or die "lock: $!";
		truncate($f, 0); syswrite($f, "$$\n");
		open(my $r, ">", $ARGV[1]); close $r;
		sleep 120;' "$L/var/lib/mailharden/lock" "$WORK/locked" &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 100); do [ -e "$WORK/locked" ] && break; sleep 0.05; done
	snap_save "$L" "$WORK/lock.before"
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_refusal "apply while another holds the lock: names another mailharden and its pid" \
		"another mailharden.*\\b$pid\\b"
	same_tree "apply refused by the lock: tree byte-identical" "$L" "$WORK/lock.before"
	mh rollback --root "$L"
	expect_refusal "rollback while another holds the lock refuses the same way" "another mailharden.*\\b$pid\\b"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	PIDS=()
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_rc "apply after the holder exits succeeds (a dead holder's lock file is no obstacle)" 0
}

# ------------------------------------------------------------------ 9. crash recovery

# set_journal DIR PERL-CODE: edits DIR/journal.json ($j is the decoded journal)
set_journal() {
	perl -MJSON::PP -e 'my $p = shift; open(my $f, "<", $p) or die; local $/;
		our $j = decode_json(<$f>); close $f; eval shift; die $@ if $@;
		open($f, ">", $p) or die; print $f JSON::PP->new->pretty->canonical->encode($j);' \
		"$1/journal.json" "$2"
}

case_recovery() {
	local L cp orig_main orig_master
	L=$(lab recover)
	snap_save "$L" "$WORK/recover.before"
	orig_main=$(sha256sum <"$L/etc/postfix/main.cf" | cut -c1-64)
	orig_master=$(sha256sum <"$L/etc/postfix/master.cf" | cut -c1-64)

	# (a) died right before the commit: every file written, the checkpoint
	# still .partial.  rollback must recover: files back, user told.
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	cp=$(ls "$L/var/lib/mailharden/checkpoints")
	mv "$L/var/lib/mailharden/checkpoints/$cp" "$L/var/lib/mailharden/checkpoints/.partial-$cp"
	: >"$L/etc/postfix/.main.cf.mh-Ab12Cd"  # a temp file the crash left
	mh rollback --root "$L"
	expect_grep "crash before commit: rollback tells the user it restored main.cf (stderr)" \
		'restored /etc/postfix/main\.cf' "$ERR"
	expect_grep "crash before commit: ... and master.cf" 'restored /etc/postfix/master\.cf' "$ERR"
	if [ "$(error_lines)" -le 1 ]; then ok "crash before commit: at most one error line besides the notes"
	else fail "crash before commit: at most one error line besides the notes"; show_run; fi
	same_tree "crash before commit: recovery restores the tree byte-identical (and removes the temp file)" \
		"$L" "$WORK/recover.before"
	if [ -z "$(ls -A "$L/var/lib/mailharden/checkpoints")" ]; then ok "crash before commit: the partial checkpoint is gone"
	else fail "crash before commit: the partial checkpoint is gone"; ls -la "$L/var/lib/mailharden/checkpoints" | diag; fi

	# (b) died mid-write: main.cf written (journal has its after hash),
	# master.cf registered but not yet written.  The next apply recovers
	# first (main.cf back), says so, then applies on the original files.
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	cp=$(ls "$L/var/lib/mailharden/checkpoints")
	local P=$L/var/lib/mailharden/checkpoints/.partial-$cp
	mv "$L/var/lib/mailharden/checkpoints/$cp" "$P"
	set_journal "$P" 'for my $e (@{$j->{files}}) { delete $e->{sha256_after} if $e->{path} =~ /master\.cf$/ }'
	local idx
	idx=$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); my $i = 0;
		for (@{$j->{files}}) { print $i if $_->{path} =~ /master\.cf$/; $i++ }' <"$P/journal.json")
	cp "$P/files/$idx" "$L/etc/postfix/master.cf"  # master.cf still the original
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_rc "crash mid-write: the next apply exits 0" 0
	expect_grep "crash mid-write: apply tells the user it restored main.cf (stderr)" \
		'restored /etc/postfix/main\.cf' "$ERR"
	if grep -q 'restored /etc/postfix/master\.cf' <<<"$ERR"; then
		fail "crash mid-write: master.cf (never written) is not reported restored"; show_run
	else ok "crash mid-write: master.cf (never written) is not reported restored"; fi
	mh history --root "$L" --json
	local befores
	befores=$(perl -MJSON::PP -e 'local $/; my $a = decode_json(<STDIN>); print scalar(@$a)' <<<"$OUT")
	if [ "$befores" = 1 ] && [ ! -e "$P" ]; then ok "crash mid-write: one checkpoint, the partial one is gone"
	else fail "crash mid-write: one checkpoint, the partial one is gone"; show_run; fi
	cp=$(ls "$L/var/lib/mailharden/checkpoints")
	befores=$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>);
		print join " ", map { $_->{sha256_before} } sort { $a->{path} cmp $b->{path} } @{$j->{files}}' \
		<"$L/var/lib/mailharden/checkpoints/$cp/journal.json")
	if [ "$befores" = "$orig_main $orig_master" ]; then
		ok "crash mid-write: the new checkpoint backed up the ORIGINAL main.cf and master.cf"
	else
		fail "crash mid-write: the new checkpoint backed up the ORIGINAL main.cf and master.cf"
		printf 'want %s %s\ngot  %s\n' "$orig_main" "$orig_master" "$befores" | diag
	fi
	mh plan --root "$L" "${VERS[@]}" "${PF[@]}"
	expect_grep "crash mid-write: after that apply, plan shows No changes (the apply is complete)" '^No changes' "$OUT"
	mh rollback --root "$L"
	expect_rc "crash mid-write: rollback of the new checkpoint exits 0" 0
	same_tree "crash mid-write: after rollback the tree is the original" "$L" "$WORK/recover.before"

	# (c) died before the commit, then the same apply again: its plan, made
	# from the half-applied files, is empty, but the partial checkpoint must
	# still be recovered (and the user told) and the apply completed.
	L=$(lab recover-noop)
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	cp=$(ls "$L/var/lib/mailharden/checkpoints")
	mv "$L/var/lib/mailharden/checkpoints/$cp" "$L/var/lib/mailharden/checkpoints/.partial-$cp"
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_grep "crash before commit, same apply again: it tells the user it restored main.cf" \
		'restored /etc/postfix/main\.cf' "$ERR"
	if [ -z "$(find "$L/var/lib/mailharden/checkpoints" -name '.partial-*')" ]; then
		ok "crash before commit, same apply again: the partial checkpoint is recovered"
	else
		fail "crash before commit, same apply again: the partial checkpoint is recovered"; show_run
	fi
	mh history --root "$L"
	if [ "$(count_checkpoints "$OUT")" = 1 ]; then
		ok "crash before commit, same apply again: the apply has its own checkpoint (rollback possible)"
	else
		fail "crash before commit, same apply again: the apply has its own checkpoint (rollback possible)"; show_run
	fi
}

# ------------------------------------------------------------------ 10. rollback refuses edited files

case_edited() {
	local L
	L=$(lab edited)
	snap_save "$L" "$WORK/edited.before"
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	echo '# edited by the admin after mailharden' >>"$L/etc/postfix/main.cf"
	snap_save "$L" "$WORK/edited.after"
	mh rollback --root "$L"
	expect_refusal "rollback after an edit refuses naming /etc/postfix/main.cf" '/etc/postfix/main\.cf'
	expect_grep "the refusal mentions --force" '--force' "$ERR"
	same_tree "refused rollback: tree unchanged (the admin's edit kept)" "$L" "$WORK/edited.after"
	mh rollback --root "$L" --force
	expect_rc "rollback --force exits 0" 0
	same_tree "rollback --force restores the tree byte-identical" "$L" "$WORK/edited.before"
}

# ------------------------------------------------------------------ 11. symlinks

case_symlinks() {
	local L
	# inside the config dir, relative and absolute links
	for kind in relative absolute; do
		L=$(lab "link-$kind")
		mkdir "$L/etc/postfix/real"
		mv "$L/etc/postfix/main.cf" "$L/etc/postfix/real/main.cf"
		if [ $kind = relative ]; then ln -s real/main.cf "$L/etc/postfix/main.cf"
		else ln -s /etc/postfix/real/main.cf "$L/etc/postfix/main.cf"; fi
		snap_save "$L" "$WORK/link.before"
		mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
		expect_rc "main.cf a $kind symlink inside /etc/postfix: apply exits 0" 0
		if [ -L "$L/etc/postfix/main.cf" ] && grep -q 'mailharden' "$L/etc/postfix/real/main.cf"; then
			ok "$kind symlink: written through the link, the link stays a link"
		else
			fail "$kind symlink: written through the link, the link stays a link"
			ls -la "$L/etc/postfix" | diag
		fi
		mh rollback --root "$L"
		expect_rc "$kind symlink: rollback exits 0" 0
		same_tree "$kind symlink: rollback restores the tree (link and target)" "$L" "$WORK/link.before"
	done

	# outside the config dir: an absolute link (resolved inside the root)
	L=$(lab link-outside)
	mkdir -p "$L/tmp/elsewhere"
	mv "$L/etc/postfix/main.cf" "$L/tmp/elsewhere/main.cf"
	ln -s /tmp/elsewhere/main.cf "$L/etc/postfix/main.cf"
	snap_save "$L" "$WORK/outside.before"
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_refusal "main.cf a symlink to /tmp/elsewhere/main.cf: refused" '/etc/postfix/main\.cf.*(symlink|link)'
	same_tree "symlink outside: tree (and the link's target) untouched" "$L" "$WORK/outside.before"
	no_checkpoints "symlink outside: no checkpoint" "$L"

	# a relative link climbing out of the config dir
	L=$(lab link-dotdot)
	mkdir -p "$L/srv"
	mv "$L/etc/postfix/main.cf" "$L/srv/main.cf"
	ln -s ../../srv/main.cf "$L/etc/postfix/main.cf"
	snap_save "$L" "$WORK/dotdot.before"
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_refusal "main.cf a symlink to ../../srv/main.cf: refused" '/etc/postfix/main\.cf.*(symlink|link)'
	same_tree "symlink ../../srv: tree untouched" "$L" "$WORK/dotdot.before"

	# a link to a HOST path: in lab mode it means <root>/that path; the host
	# file must stay untouched whatever happens
	L=$(lab link-host)
	mkdir -p "$WORK/hostside"
	cp "$L/etc/postfix/main.cf" "$WORK/hostside/main.cf"
	local hsum
	hsum=$(sha256sum <"$WORK/hostside/main.cf")
	rm "$L/etc/postfix/main.cf"
	ln -s "$WORK/hostside/main.cf" "$L/etc/postfix/main.cf"
	snap_save "$L" "$WORK/hostlink.before"
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_refusal "main.cf a symlink to a host path outside the root: refused" 'main\.cf'
	if [ "$(sha256sum <"$WORK/hostside/main.cf")" = "$hsum" ]; then ok "symlink to a host path: the host file is untouched"
	else fail "symlink to a host path: the host file is untouched"; fi
	same_tree "symlink to a host path: tree untouched" "$L" "$WORK/hostlink.before"
}

# ------------------------------------------------------------------ 12. roles, names, usage

case_usage() {
	local L
	L=$(lab usage)
	snap_save "$L" "$WORK/usage.before"
	mh plan --root "$L" "${VERS[@]}" --server dovecot --role mx --profile intermediate "${CERT[@]}"
	expect_refusal "--server dovecot --role mx: 'dovecot cannot serve role mx'" 'dovecot cannot serve role mx'
	mh plan --root "$L" "${VERS[@]}" --server postfix --role imaps --profile intermediate "${CERT[@]}"
	expect_refusal "--server postfix --role imaps: postfix cannot serve role imaps" 'postfix cannot serve role imaps'
	mh plan --root "$L" "${VERS[@]}" --server postfix --role mx,smtps2 --profile intermediate "${CERT[@]}"
	expect_refusal "an unknown role: one-line error naming it" 'smtps2'
	mh plan --root "$L" "${VERS[@]}" --server postfix --role mx --profile paranoid "${CERT[@]}"
	expect_refusal "an unknown profile: one-line error, exit 1" "unknown profile 'paranoid'"
	mh plan --root "$L" "${VERS[@]}" --server sendmail --role mx --profile intermediate "${CERT[@]}"
	expect_refusal "an unknown server: one-line error, exit 1" "unknown server 'sendmail'"
	mh apply --root "$L" "${VERS[@]}" --role mx --profile intermediate "${CERT[@]}" --yes
	expect_refusal "apply without --server: one-line error" -- '--server'
	mh plan --root "$L" "${VERS[@]}" --bogus-option
	expect_rc "an unknown option: exit 2" 2
	mh frobnicate --root "$L"
	expect_rc "an unknown verb: exit 2" 2
	mh rollback --root "$L" a b
	expect_rc "rollback with two ids: exit 2" 2
	mh rollback --root "$L" '../../../etc'
	expect_refusal "rollback ../../../etc: no such checkpoint" 'no checkpoint'
	mh --help
	expect_rc "--help exits 0" 0
	same_tree "usage errors: tree byte-identical" "$L" "$WORK/usage.before"
}

# ------------------------------------------------------------------ 13. owner and mode kept

case_owner_mode() {
	if [ "$IS_ROOT" != 1 ]; then
		skip "owner and mode kept (needs root to chown)"
		return
	fi
	local L st
	L=$(lab owner)
	chown 1234:5678 "$L/etc/postfix/main.cf"
	chmod 0640 "$L/etc/postfix/main.cf"
	chown 4321:8765 "$L/etc/postfix/master.cf"
	chmod 0604 "$L/etc/postfix/master.cf"
	snap_save "$L" "$WORK/owner.before"
	mh apply --root "$L" "${VERS[@]}" "${PF[@]}" --yes
	expect_rc "apply on main.cf 1234:5678 0640 exits 0" 0
	st=$(stat -c '%u:%g %a' "$L/etc/postfix/main.cf")
	if [ "$st" = "1234:5678 640" ] && grep -q mailharden "$L/etc/postfix/main.cf"; then
		ok "apply keeps main.cf's owner 1234:5678 and mode 0640"
	else fail "apply keeps main.cf's owner 1234:5678 and mode 0640"; echo "now: $st" | diag; fi
	st=$(stat -c '%u:%g %a' "$L/etc/postfix/master.cf")
	if [ "$st" = "4321:8765 604" ]; then ok "apply keeps master.cf's owner 4321:8765 and mode 0604"
	else fail "apply keeps master.cf's owner 4321:8765 and mode 0604"; echo "now: $st" | diag; fi
	mh rollback --root "$L"
	expect_rc "rollback exits 0" 0
	same_tree "rollback restores content, owner and mode" "$L" "$WORK/owner.before"
}

# ------------------------------------------------------------------ run

t0=$SECONDS
for c in detect plan apply_rollback no_terminal newlines broken full_disk lock recovery \
	edited symlinks usage owner_mode; do
	t1=$SECONDS
	"case_$c"
	echo "# case $c: $((SECONDS - t1)) s"
done
if [ "$SAN_HITS" = 0 ]; then ok "no sanitizer report in any run"
else fail "no sanitizer report in any run ($SAN_HITS runs reported)"; fi
echo "# $((SECONDS - t0)) s"
