#!/bin/bash
# test_ansible.sh - the Ansible module contrib/ansible/library/mailharden.py driven by
# Debian's ansible-core (ansible-playbook, connection local) against a lab root:
#   1. --check --diff: reports a change and the diff, writes nothing (files byte-identical);
#   2. the applying run changes and returns the checkpoint id that `history` lists;
#   3. a second run with the same parameters is unchanged;
#   4. an answers_file instead of parameters: unchanged too (the same answers);
#   5. a broken main.cf: the task fails with mailharden's own one-line error, nothing written;
#   6. state=tested against a port without STARTTLS: fails the host, returns the findings;
#   7. state=rolled_back restores the checkpoint; a second rollback is unchanged;
#   8. the example role: harden in check mode through the role and site playbook syntax.
# Needs no root.  MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
[ -n "${MH_BIN:-}" ] && [ -x "$MH_BIN" ] || { echo "not ok - MH_BIN is not set to an executable"; exit 1; }
command -v ansible-playbook >/dev/null || { echo "ansible-playbook missing (scripts/install-deps.sh installs ansible-core)"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mh-ansible.XXXXXX")
HPID=
cleanup() {
	[ -z "$HPID" ] || { kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; }
	rm -rf "$WORK"
	note "$MH_TESTS tests, $MH_FAILS failed"
	[ "$MH_FAILS" = 0 ]
}
trap cleanup EXIT
PY=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
LAB=$WORK/lab
if ! MH_LAB_CACHE=${MH_LAB_CACHE:-${MH_TEST_CACHE:-/var/cache/mailharden-test}/lab-debs} \
	bash "$HERE/cli/mklab.sh" "$LAB" >"$WORK/mklab.log" 2>&1; then
	fail "make a lab root"; tail -n 5 "$WORK/mklab.log" | diag; exit 1
fi
export ANSIBLE_LIBRARY=$REPO/contrib/ansible/library ANSIBLE_ROLES_PATH=$REPO/contrib/ansible/roles
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_HOST_KEY_CHECKING=0
export ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp ANSIBLE_REMOTE_TEMP=$WORK/ansible-tmp HOME=${HOME:-$WORK}
printf 'localhost ansible_connection=local ansible_python_interpreter=%s\n' "$PY" >"$WORK/hosts"

# play NAME "KEY|TASK-YAML" ... [-- ansible-playbook args]: one playbook, each task registered
# as KEY (errors ignored: KEY.failed tells); all results saved to $WORK/NAME.json (also in
# check mode), the output to $WORK/NAME.out
play() {
	local name=$1 item key keys=() extra=()
	shift
	{
		echo "- hosts: localhost"
		echo "  gather_facts: false"
		echo "  tasks:"
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			key=${1%%|*}
			keys+=("$key")
			sed 's/^/    /' <<<"${1#*|}"
			echo "      register: $key"
			echo "      ignore_errors: true"
			shift
		done
		printf "    - copy: {content: '{{ {"
		for key in "${keys[@]}"; do printf '"%s": %s, ' "$key" "$key"; done
		printf "} | to_json }}', dest: '%s'}\n" "$WORK/$name.json"
		echo "      check_mode: false"
	} >"$WORK/$name.yml"
	[ "${1:-}" = -- ] && shift && extra=("$@")
	timeout 180 ansible-playbook -i "$WORK/hosts" "$WORK/$name.yml" "${extra[@]}" >"$WORK/$name.out" 2>&1
	PLAY_RC=$?
}
# result NAME KEY PY-EXPR: evaluates EXPR with r = the result registered as KEY
result() {
	"$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))[sys.argv[2]]
print(eval(sys.argv[3]))' "$WORK/$1.json" "$2" "$3" 2>&1
}
play_diag() { { tail -n 8 "$WORK/$1.out"; head -c 1500 "$WORK/$1.json"; } | diag; }

HARDEN="- mailharden:
    binary: $MH_BIN
    root: $LAB
    server: postfix
    roles: [mx, submission]
    profile: intermediate
    sasl: dovecot"
snap() { sha256sum "$LAB/etc/postfix/main.cf" "$LAB/etc/postfix/master.cf"; }
before=$(snap)
ok_run() { [ "$(result "$1" "$2" 'r.get("failed", False)')" = False ] && [ "$(result "$1" "$2" 'r["changed"]')" = "$3" ]; }

# ------------------------------------------------------------------ 1. check mode
play check "c|$HARDEN" -- --check --diff
if ok_run check c True; then ok "--check: the task reports a change"
else fail "--check reports a change (rc $PLAY_RC)"; play_diag check; fi
expect_match "--check --diff: ansible shows the diff of the setting that will change" '\+smtpd_tls_auth_only = yes' \
	"$(cat "$WORK/check.out")"
expect_match "--check: the files that would change" "main.cf.*master.cf" "$(result check c '[f["path"] for f in r["files"]]')"
if [ "$(snap)" = "$before" ] && [ -z "$(ls -A "$LAB/var/lib/mailharden" 2>/dev/null | grep -v '^lock$')" ]; then
	ok "--check: nothing written, no checkpoint"
else fail "--check wrote something"; fi

# ------------------------------------------------------------------ 2.-4. apply, again, answers file
printf 'servers = postfix\npostfix.roles = mx,submission\nprofile = intermediate\ncert = keep\ndh = none\nsasl = dovecot\napply = yes\n' >"$WORK/a.conf"
play apply "a|$HARDEN" "b|$HARDEN" "c|- mailharden:
    binary: $MH_BIN
    root: $LAB
    answers_file: $WORK/a.conf"
cp_id=$(result apply a 'r["checkpoint"]')
hist_ids=$("$MH_BIN" history --root "$LAB" --json | sed -n 's/^ *"id": "\(.*\)".*/\1/p')
if ok_run apply a True && [ -n "$hist_ids" ] && [ "$cp_id" = "$hist_ids" ]; then
	ok "applying run: changed, returns checkpoint $cp_id (the only one history lists)"
else fail "applying run: changed with the checkpoint id (got '$cp_id', history '$hist_ids')"; play_diag apply; fi
expect_match "applying run: main.cf hardened" '^smtpd_tls_auth_only = yes' "$(cat "$LAB/etc/postfix/main.cf")"
expect_match "applying run: sasl: dovecot reached mailharden (--sasl)" '^smtpd_sasl_type = dovecot' "$(cat "$LAB/etc/postfix/main.cf")"
if ok_run apply b False && [ "$(result apply b 'r["checkpoint"]')" = None ]; then
	ok "second run with the same parameters: unchanged, no new checkpoint"
else fail "second run unchanged"; play_diag apply; fi
if ok_run apply c False; then ok "answers_file with the same answers: unchanged"
else fail "answers_file run"; play_diag apply; fi
after=$(snap)

# ------------------------------------------------------------------ 5.-7. broken config, tested, rollback
printf 'this line is not postfix syntax\n' >>"$LAB/etc/postfix/main.cf"
mh plan --root "$LAB" --server postfix --role mx,submission,submissions --profile intermediate
want=$(sed -n 's/^mailharden: error: //p' <<<"$MH_ERR" | head -n1)
sed -i '$d' "$LAB/etc/postfix/main.cf"
BASE=${MH_PORT_BASE_ANSIBLE:-26500}
for _ in 1 2 3 4 5; do ports_free $((BASE + 1)) >/dev/null && break; BASE=$((BASE + 50)); done
perl "$HERE/../tools/hostile_mail.pl" notls $((BASE + 1)) >"$WORK/hostile.out" 2>&1 &
HPID=$!
for _ in $(seq 100); do grep -q ready "$WORK/hostile.out" && break; sleep 0.05; done
ROLLBACK="- mailharden:
    binary: $MH_BIN
    root: $LAB
    state: rolled_back
    checkpoint: '$cp_id'"
play rest "brk|- shell: printf 'this line is not postfix syntax\\\\n' >> $LAB/etc/postfix/main.cf" \
	"broken|- mailharden:
    binary: $MH_BIN
    root: $LAB
    server: postfix
    roles: [mx, submission, submissions]
    profile: intermediate" \
	"snap|- command: sha256sum $LAB/etc/postfix/main.cf $LAB/etc/postfix/master.cf" \
	"unbrk|- command: sed -i \$d $LAB/etc/postfix/main.cf" \
	"tested|- mailharden:
    binary: $MH_BIN
    state: tested
    host: 127.0.0.1
    ports: ['$((BASE + 1))/submission']" \
	"rb|$ROLLBACK" "rb2|$ROLLBACK"
kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; HPID=
msg=$(result rest broken 'r["msg"]')
if [ "$(result rest broken 'r["failed"]')" = True ] && [ -n "$want" ] && [ "$msg" = "$want" ]; then
	ok "broken main.cf: the task fails with mailharden's one-line error ($msg)"
else fail "broken main.cf: failed with '$want' (got '$msg')"; play_diag rest; fi
expect_match "broken main.cf: nothing written (only the broken line differs)" "$(sed -n 2p <<<"$after" | cut -c1-64)" \
	"$(result rest snap 'r["stdout"]')"
if [ "$(result rest tested 'r["failed"]')" = True ]; then ok "state=tested: a critical finding fails the host"
else fail "state=tested fails on critical"; play_diag rest; fi
expect_match "state=tested: msg names the port and the finding" "^critical: $((BASE + 1))/submission: .*STARTTLS" "$(result rest tested 'r["msg"]')"
expect_match "state=tested: returns the findings with ids" 'mail\.starttls' "$(result rest tested '[f["id"] for f in r["findings"]]')"
if ok_run rest rb True && [ "$(snap)" = "$before" ]; then
	ok "state=rolled_back: changed, files byte-identical to before the first run"
else fail "state=rolled_back"; play_diag rest; fi
if ok_run rest rb2 False; then ok "state=rolled_back again: unchanged"
else fail "second rollback unchanged"; play_diag rest; fi

# ------------------------------------------------------------------ 8. the example role
cat >"$WORK/role.yml" <<EOF
- hosts: localhost
  gather_facts: false
  roles:
    - role: mailharden
      vars:
        mailharden_binary: $MH_BIN
        mailharden_root: $LAB
        mailharden_servers: [{server: postfix, roles: [mx, submission]}, {server: dovecot, roles: [imaps]}]
        mailharden_cert: ""
        mailharden_key: ""
EOF
sed -i '/mailharden_cert: ""/d; /mailharden_key: ""/d' "$WORK/role.yml"
printf '        mailharden_cert: /etc/ssl/certs/ssl-cert-snakeoil.pem\n        mailharden_key: /etc/ssl/private/ssl-cert-snakeoil.key\n' >>"$WORK/role.yml"
mkdir -p "$LAB/etc/ssl/certs" "$LAB/etc/ssl/private"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 400 -subj /CN=localhost \
	-keyout "$LAB/etc/ssl/private/ssl-cert-snakeoil.key" -out "$LAB/etc/ssl/certs/ssl-cert-snakeoil.pem" 2>/dev/null
timeout 180 ansible-playbook -i "$WORK/hosts" "$WORK/role.yml" >"$WORK/role.out" 2>&1
rc=$?
n_cp=$("$MH_BIN" history --root "$LAB" --json | grep -c '"id"')
if [ $rc = 0 ] && [ "$n_cp" = 3 ]; then ok "example role: hardens postfix and dovecot in the lab (two new checkpoints)"
else fail "example role (rc $rc, $n_cp checkpoints)"; tail -n 15 "$WORK/role.out" | diag; fi
out=$(cd "$REPO/contrib/ansible" && ansible-playbook -i "$WORK/hosts" site.yml --syntax-check 2>&1)
expect_match "site.yml passes ansible-playbook --syntax-check" 'playbook: site.yml' "$out"
