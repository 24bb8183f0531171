#!/bin/bash
# test_docs.sh - the man page and the bash completion keep up with the CLI.
#
#   - doc/mailharden.8 is mdoc that `mandoc -Tlint` accepts without a warning;
#   - every verb (the verbs[] table of wizard/main.c, the cert sub-verbs) and every
#     option (long_opts[] of wizard/main.c) has an entry in the man page (".It Cm VERB",
#     ".It Fl -OPTION") and is offered by contrib/bash-completion/mailharden;
#   - every option the man page documents is accepted by the binary;
#   - the completion, run in bash as a user's TAB would, offers verbs, options per verb,
#     roles in comma lists, profiles, formats, the servers detect knows, and the
#     checkpoint ids that `history` lists for the --root typed on the line;
#   - `mailharden --version` says the version of the Makefile and of debian/changelog.
# A new verb or option without documentation fails here, naming what is missing.
# Needs no root.  MH_BIN = mailharden binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
[ -n "${MH_BIN:-}" ] && [ -x "$MH_BIN" ] || { echo "not ok - MH_BIN is not set to an executable"; exit 1; }
MAN=$REPO/doc/mailharden.8
COMP=$REPO/contrib/bash-completion/mailharden
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mh-docs.XXXXXX")
trap 'rm -rf "$WORK"; note "$MH_TESTS tests, $MH_FAILS failed"; [ "$MH_FAILS" = 0 ]' EXIT

# ------------------------------------------------------------------ what the CLI accepts
# the names in a static table of wizard/main.c: lines between "NAME[] = {" and "};"
table_names() {
	sed -n "/$1\\[\\] = {/,/^};/p" "$REPO/wizard/main.c" | sed -n 's/^[[:space:]]*{"\([a-z0-9-]*\)",.*/\1/p'
}
OPTIONS=$(table_names long_opts)
VERBS=$(table_names verbs)
CERT_SUBS=$(grep -o 'strcmp(sub, "[a-z]*")' "$REPO/wizard/cmd_cert.c" | sed 's/.*"\(.*\)".*/\1/' |
	grep -vx help | sort -u)
if [ "$(wc -w <<<"$OPTIONS")" -ge 30 ] && [ "$(wc -w <<<"$VERBS")" -ge 10 ] && [ -n "$CERT_SUBS" ]; then
	ok "read $(wc -w <<<"$OPTIONS") options, $(wc -w <<<"$VERBS") verbs and cert $(echo $CERT_SUBS) from the sources"
else
	fail "reading the option and verb tables of wizard/main.c (did their layout change?)"
fi

# ------------------------------------------------------------------ man page
if command -v mandoc >/dev/null; then
	out=$(mandoc -Tlint -W warning "$MAN" 2>&1)
	if [ -z "$out" ]; then ok "mandoc -Tlint: no warning"; else fail "mandoc -Tlint"; printf '%s\n' "$out" | diag; fi
else
	fail "mandoc missing (scripts/install-deps.sh installs it)"
fi

missing=""
for o in $OPTIONS; do
	grep -qE "^\\.It .*Fl -$o( |\$)" "$MAN" || missing="$missing --$o"
done
if [ -z "$missing" ]; then ok "man page: an .It entry for every option"
else fail "man page lacks an entry for:$missing (add '.It Fl -NAME' to doc/mailharden.8 OPTIONS)"; fi

missing=""
for v in $VERBS; do grep -qE "^\\.It Cm $v( |\$)" "$MAN" || missing="$missing $v"; done
for v in $CERT_SUBS; do grep -qE "^\\.It Cm cert $v( |\$)" "$MAN" || missing="$missing cert-$v"; done
if [ -z "$missing" ]; then ok "man page: an .It entry for every verb"
else fail "man page lacks a verb:$missing (add '.It Cm VERB' to doc/mailharden.8 VERBS)"; fi

for s in SYNOPSIS DESCRIPTION VERBS OPTIONS "EXIT STATUS" FILES EXAMPLES ENVIRONMENT; do
	grep -qx "\\.Sh $s" "$MAN" || missing="$missing $s"
done
if [ -z "$missing" ]; then ok "man page: SYNOPSIS, OPTIONS, EXIT STATUS, FILES, EXAMPLES ..."
else fail "man page lacks sections:$missing"; fi

# every documented option exists: the binary must not call it unknown (exit 2)
bad=""
while read -r o takes; do
	if [ -n "$takes" ]; then args=("--$o" x --help); else args=("--$o" --help); fi
	"$MH_BIN" "${args[@]}" >/dev/null 2>&1 || bad="$bad --$o"
done < <(sed -n 's/^\.It .*Fl -\([a-z0-9-]*\)\( Ar\)\{0,1\}.*/\1\2/p' "$MAN" | sort -u)
if [ -z "$bad" ]; then ok "every option in the man page is accepted by the binary"
else fail "documented but unknown to the binary:$bad"; fi

# ------------------------------------------------------------------ completion file
missing=""
for o in $OPTIONS; do grep -qE -- "(^|[ \"])--$o([ \"]|\$)" "$COMP" || missing="$missing --$o"; done
if [ -z "$missing" ]; then ok "completion: every option"
else fail "completion lacks:$missing (add them to contrib/bash-completion/mailharden)"; fi
missing=""
verbs_line=$(sed -n 's/^_mailharden_verbs="\(.*\)"/\1/p' "$COMP")
for v in $VERBS; do grep -qw -- "$v" <<<"$verbs_line" || missing="$missing $v"; done
for v in $CERT_SUBS; do grep -qE "\"[a-z ]*\\b$v\\b[a-z ]*\"" "$COMP" || missing="$missing cert-$v"; done
if [ -z "$missing" ]; then ok "completion: every verb"
else fail "completion lacks verbs:$missing (_mailharden_verbs in contrib/bash-completion/mailharden)"; fi

# complete WORDS...: what TAB offers after the words (the last one is the word being typed)
complete_words() {
	local dir
	dir=$(dirname "$MH_BIN")
	PATH="$WORK/bin:$PATH" bash --norc -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_mailharden mailharden "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "' _ "$COMP" mailharden "$@"
}
mkdir -p "$WORK/bin"
ln -s "$MH_BIN" "$WORK/bin/mailharden"

expect_match "completion: verbs at the start" '^answers apply cert detect dhparam history plan rollback selftest verify wizard $' \
	"$(complete_words "")"
expect_match "completion: 'r' completes to rollback" '^rollback $' "$(complete_words r)"
expect_match "completion: options of selftest" '--format .*--jobs .*--timeout' "$(complete_words selftest --)"
expect_no_match "completion: selftest is not offered apply's --yes" '--yes' "$(complete_words selftest --)"
expect_match "completion: apply offers --yes after --root DIR" '^--yes $' "$(complete_words --root /tmp apply --y)"
expect_match "completion: roles after a comma" '^mx,submission mx,submissions $' \
	"$(complete_words plan --role mx,sub)"
expect_match "completion: profiles" '^guide-a guide-b intermediate modern old $' "$(complete_words plan --profile '')"
expect_match "completion: selftest formats" '^json nagios prometheus text $' "$(complete_words selftest --format '')"
expect_match "completion: servers from detect" '(^| )dovecot .*postfix ' "$(complete_words plan --server '')"
expect_match "completion: cert sub-verbs" '^inspect selfsigned tlsa $' "$(complete_words cert '')"

# checkpoint ids from history, for the --root on the line
LAB=$WORK/lab
mkdir -p "$LAB/etc/mh"
if MH_LAB_CACHE=${MH_LAB_CACHE:-${MH_TEST_CACHE:-/var/cache/mailharden-test}/lab-debs} \
	bash "$HERE/cli/mklab.sh" "$LAB" >"$WORK/mklab.log" 2>&1; then
	mh apply --root "$LAB" --server postfix --role mx --profile intermediate --yes
	id=$("$MH_BIN" history --root "$LAB" --json | sed -n 's/^ *"id": "\(.*\)".*/\1/p' | head -n1)
	if [ -n "$id" ]; then
		expect_match "completion: rollback offers the checkpoint id of history --root" "^$id \$" \
			"$(complete_words --root "$LAB" rollback '')"
	else
		fail "an apply on a lab root made a checkpoint for the completion test"; mh_diag
	fi
else
	fail "make a lab root (tests/integration/cli/mklab.sh)"; tail -n 5 "$WORK/mklab.log" | diag
fi

# ------------------------------------------------------------------ version
make_version=$(sed -n 's/^VERSION *= *//p' "$REPO/Makefile")
deb_version=$(sed -n '1s/^mailharden (\([^)]*\)).*/\1/p' "$REPO/debian/changelog" 2>/dev/null)
expect_match "--version prints the Makefile's version ($make_version)" "^mailharden $make_version\$" \
	"$("$MH_BIN" --version)"
expect_match "debian/changelog has the same version" "^$make_version(-[0-9]+)?\$" "$deb_version"
