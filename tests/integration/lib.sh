# lib.sh - shared helpers for the real-server integration tests (sourced, not run).
# shellcheck shell=bash
#
# A test script sources this, calls mh_init SUITE, and gets:
#   $ROOT      a fresh private copy of the cached Debian root (removed at exit)
#   $WORK      scratch directory on the host (removed at exit)
#   ok/fail/check helpers printing "ok - ..." / "not ok - ..." lines
#   server start/stop helpers that track every pid and stop them at exit

MH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROBE="$MH_LIB_DIR/probe.pl"
MH_PIDS=()
MH_FAILS=0
MH_TESTS=0

# ---------------------------------------------------------------- output

ok()   { MH_TESTS=$((MH_TESTS + 1)); printf 'ok - %s\n' "$*"; }
fail() { MH_TESTS=$((MH_TESTS + 1)); MH_FAILS=$((MH_FAILS + 1)); printf 'not ok - %s\n' "$*"; }
diag() { sed 's/^/#   /'; }
note() { printf '# %s\n' "$*"; }

# check DESCRIPTION COMMAND...: ok if COMMAND succeeds; on failure its output is shown
check() {
	local desc=$1
	shift
	# not in a subshell: a checked function may start servers and record their pids
	if "$@" >"$WORK/check.out" 2>&1; then
		ok "$desc"
	else
		fail "$desc"
		tail -n 25 "$WORK/check.out" | diag
	fi
}

# expect_match DESCRIPTION REGEX TEXT / expect_no_match DESCRIPTION REGEX TEXT
expect_match() {
	if grep -qE -- "$2" <<<"$3"; then ok "$1"; else fail "$1"; printf 'expected /%s/ in:\n%s\n' "$2" "$3" | tail -n 30 | diag; fi
}
expect_no_match() {
	if ! grep -qE -- "$2" <<<"$3"; then ok "$1"; else fail "$1"; printf 'unexpected /%s/ in:\n%s\n' "$2" "$3" | tail -n 30 | diag; fi
}

# ---------------------------------------------------------------- mounts

# Mount points at or below DIR, deepest first.
mounts_below() {
	local d
	d=$(readlink -f "$1" 2>/dev/null || echo "$1")
	awk -v d="$d" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

umount_below() {
	local m
	for m in $(mounts_below "$1"); do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
	[ -z "$(mounts_below "$1")" ]
}

# Only while servers run: Dovecot and Postfix want /proc and the host's /dev.
mount_root() {
	mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
	mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
}

# ---------------------------------------------------------------- processes

pid_alive() { kill -0 "$1" 2>/dev/null; }

# stop_pid PID [NAME]: SIGTERM, wait up to 15 s, then SIGKILL.  Only pids we started.
stop_pid() {
	local pid=$1 name=${2:-process} i
	pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 150); do
		pid_alive "$pid" || return 0
		sleep 0.1
	done
	note "$name (pid $pid) ignored SIGTERM for 15 s, killing it"
	kill -KILL "$pid" 2>/dev/null
	sleep 0.2
}

# Processes whose root directory is $ROOT: children of the servers this test started.
pids_in_root() {
	local dir pid r
	dir=$(readlink -f "$ROOT")
	for pid in /proc/[0-9]*; do
		pid=${pid#/proc/}
		r=$(readlink "/proc/$pid/root" 2>/dev/null) || continue
		[ "$r" = "$dir" ] && echo "$pid"
	done
}

stop_all_in_root() {
	local pid
	for pid in "${MH_PIDS[@]}"; do stop_pid "$pid"; done
	MH_PIDS=()
	wait_root_empty 5 && return 0
	# anything left (a postfix child, a dovecot auth process) lives only in our root
	for pid in $(pids_in_root); do kill -TERM "$pid" 2>/dev/null; done
	sleep 0.3
	for pid in $(pids_in_root); do kill -KILL "$pid" 2>/dev/null; done
	return 0
}

# wait_root_empty SECONDS: children of a stopped master may need a moment to exit
wait_root_empty() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -le $end ]; do
		[ -z "$(pids_in_root)" ] && return 0
		sleep 0.1
	done
	return 1
}

# left_in_root: a ps line for each process still running in the root
left_in_root() {
	local pid
	for pid in $(pids_in_root); do
		printf '%s %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
	done
}

mh_cleanup() {
	local rc=$?
	if [ -n "${ROOT:-}" ] && [ -d "$ROOT" ]; then
		stop_all_in_root
		umount_below "$ROOT" || note "could not unmount everything below $ROOT"
		if [ "${MH_KEEP:-0}" = 1 ]; then
			note "kept $ROOT and $WORK (MH_KEEP=1)"
		elif [ -z "$(mounts_below "$ROOT")" ]; then
			rm -rf --one-file-system "$ROOT"
		fi
	fi
	[ "${MH_KEEP:-0}" = 1 ] || [ -z "${WORK:-}" ] || rm -rf "$WORK"
	if [ "$MH_FAILS" != 0 ] && [ $rc = 0 ]; then rc=1; fi
	note "$MH_TESTS tests, $MH_FAILS failed"
	exit $rc
}

# ---------------------------------------------------------------- setup

# mh_init SUITE: root check, fresh root, scratch dir, cleanup trap.
mh_init() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root (chroot, mount)"
		exit 77
	fi
	[ -n "${MH_BIN:-}" ] && [ -x "$MH_BIN" ] || { echo "not ok - MH_BIN is not set to an executable"; exit 1; }
	trap mh_cleanup EXIT
	trap 'exit 130' INT TERM
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/mh-work.XXXXXX")
	local t0=$SECONDS
	ROOT=$("$MH_LIB_DIR/mkroot.sh" --restore "$1") || { fail "restore the $1 root"; exit 1; }
	note "$1 root at $ROOT (restored in $((SECONDS - t0)) s): $("$MH_LIB_DIR/mkroot.sh" --versions "$1")"
}

# private_net SUITE ARGS...: runs the calling script again in a network namespace of its
# own with only loopback up (call it first, with the script's arguments).  Servers there
# listen on the real ports (25, 587, 465, 143 ...) with the configuration as written,
# and nothing on the host, in other tests or in other roots can collide with them (not
# even Exim's abstract notifier socket).  The cached root is made first: that may need
# the network.
private_net() {
	local suite=$1
	shift
	if [ "${MH_PRIVATE_NET:-}" != 1 ]; then
		[ "$(id -u)" = 0 ] || { echo "needs root (unshare, chroot, mount)"; exit 77; }
		command -v unshare >/dev/null && command -v ip >/dev/null ||
			{ echo "unshare or ip missing (util-linux, iproute2: make deps)"; exit 77; }
		"$MH_LIB_DIR/mkroot.sh" "$suite" >/dev/null 2>&1 ||
			{ echo "not ok - build the $suite root"; exit 1; }
		exec env MH_PRIVATE_NET=1 unshare --net bash "$0" "$@"
	fi
	ip link set lo up || { echo "not ok - loopback up in the private network namespace"; exit 1; }
}

# Refuse to start if another test (or anything else) already listens on our ports.
ports_free() {
	local p busy=""
	for p in "$@"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then busy="$busy $p"; fi
	done
	[ -z "$busy" ] || { echo "ports already in use:$busy"; return 1; }
}

# wait_port PORT [SECONDS]
wait_port() {
	local end=$((SECONDS + ${2:-15}))
	while [ $SECONDS -lt $end ]; do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# make_cert DIR-INSIDE-ROOT: self-signed RSA cert + key (0600) made with the host's openssl.
make_cert() {
	local d=$ROOT$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
		-addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
		-keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
	chmod 600 "$d/key.pem"
	chmod 644 "$d/cert.pem"
}

# snapshot DIR-INSIDE-ROOT: one line per entry with type, owner, mode, sha256 / link target.
# (one sha256sum for all files: a fork per file took seconds on a loaded machine)
snapshot() {
	(cd "$ROOT" && {
		find "${1#/}" -xdev -type f -print0 | xargs -0 -r sha256sum
		echo "=== entries"
		find "${1#/}" -xdev -printf '%y %U:%G %m %p' \( -type l -printf ' -> %l' -o -true \) -printf '\n'
	}) | awk '
		!meta && $0 == "=== entries" { meta = 1; next }
		!meta { sum[substr($0, 67)] = substr($0, 1, 64); next }
		/^f / { p = $0; sub(/^[^ ]* [^ ]* [^ ]* /, "", p); print $0 " " sum[p]; next }
		{ print }' | LC_ALL=C sort -k4
}

# snapshot_same DESCRIPTION FILE: compares the current etc/ with a saved snapshot
snapshot_same() {
	local now
	now=$(snapshot /etc)
	if [ "$now" = "$(cat "$2")" ]; then
		ok "$1"
	else
		fail "$1"
		diff <(cat "$2") <(printf '%s\n' "$now") | head -n 30 | diag
	fi
}

# ---------------------------------------------------------------- running mailharden

# mh ARGS...: runs $MH_BIN, sets MH_RC, MH_OUT, MH_ERR (stderr text).
mh() {
	MH_OUT=$(timeout 120 "$MH_BIN" "$@" 2>"$WORK/mh.err" </dev/null)
	MH_RC=$?
	MH_ERR=$(cat "$WORK/mh.err")
}

mh_diag() {
	{
		printf 'command: %s\nexit: %s\n' "$MH_BIN $*" "$MH_RC"
		[ -z "$MH_ERR" ] || printf 'stderr:\n%s\n' "$MH_ERR"
		[ -z "$MH_OUT" ] || printf 'stdout (tail):\n%s\n' "$(printf '%s\n' "$MH_OUT" | tail -n 15)"
	} | diag
}

# mh_expect DESCRIPTION RC ARGS...: run mailharden, expect exit code RC
mh_expect() {
	local desc=$1 want=$2
	shift 2
	mh "$@"
	if [ "$MH_RC" = "$want" ]; then ok "$desc"; else fail "$desc"; mh_diag "$@"; fi
}

# ---------------------------------------------------------------- probes

# tls_probe ARGS...: openssl s_client -brief with a timeout; prints its output
tls_probe() {
	echo Q | timeout 15 openssl s_client -brief "$@" 2>&1
}

# tls_accepts DESCRIPTION VERSION-FLAG ARGS...: handshake with exactly that version works
tls_accepts() {
	local desc=$1 v=$2 out want
	shift 2
	case $v in
	-tls1_1) want=TLSv1.1 ;; -tls1_2) want=TLSv1.2 ;; -tls1_3) want=TLSv1.3 ;;
	esac
	out=$(tls_probe "$v" "$@")
	expect_match "$desc" "^Protocol version: $want\$" "$out"
}

# tls_refuses DESCRIPTION VERSION-FLAG ARGS...: the handshake with that version fails
tls_refuses() {
	local desc=$1 v=$2 out
	shift 2
	out=$(tls_probe "$v" -cipher 'DEFAULT:@SECLEVEL=0' "$@")
	if grep -q '^Protocol version:' <<<"$out"; then
		fail "$desc"
		printf '%s\n' "$out" | tail -n 10 | diag
	elif grep -qiE 'SSL routines|alert' <<<"$out" && ! grep -qiE 'connect:|refused' <<<"$out"; then
		ok "$desc"
	else
		fail "$desc (no TLS error seen; connection problem?)"
		printf '%s\n' "$out" | tail -n 10 | diag
	fi
}

# listening PORT: something listens on 127.0.0.1:PORT (read from /proc, connects to nothing)
listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v h=":$hex" 'substr($2, length($2) - 4) == h && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}

# A control: the host's client really can speak TLS 1.1 when a server allows it, so a
# refusal measured by tls_refuses is the server's doing.
client_speaks_tls11() {
	local port=$1 pid out i
	openssl s_server -quiet -accept "127.0.0.1:$port" -naccept 1 -tls1_1 \
		-cipher 'DEFAULT:@SECLEVEL=0' -cert "$ROOT/etc/ssl/mh-test/cert.pem" \
		-key "$ROOT/etc/ssl/mh-test/key.pem" </dev/null >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 100); do listening "$port" && break; sleep 0.05; done
	out=$(tls_probe -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -connect "127.0.0.1:$port")
	stop_pid "$pid" s_server
	wait "$pid" 2>/dev/null
	expect_match "control: the host's openssl s_client negotiates TLS 1.1 with a server that allows it" \
		'^Protocol version: TLSv1.1$' "$out"
}

# chat ARGS...: the perl dialog client (see probe.pl); prints the transcript
chat() {
	timeout 30 perl "$PROBE" "$@" 2>&1
}

# reply_to TRANSCRIPT CMD-PREFIX: the last server line answering the first command that
# starts with CMD-PREFIX (the final line of a multi-line SMTP reply)
reply_to() {
	awk -v c="C: $2" '
		found && /^C: / { exit }
		found && /^S: / { last = $0 }
		!found && index($0, c) == 1 { found = 1 }
		END { print last }' <<<"$1"
}
