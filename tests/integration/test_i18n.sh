#!/bin/bash
# test_i18n.sh - the German translation is complete and well-formed:
#   - msgfmt -c accepts i18n/de.po, with no untranslated or fuzzy message;
#   - every string in the sources today is in de.po (the .pot is made afresh,
#     so a string added without a translation fails here);
#   - the binary runs German with LANG=de_DE.UTF-8.
# To update after new strings:  make po, then translate
# then translate what msgattrib --untranslated / --only-fuzzy lists.
#
#   MH_BIN   the mailharden binary (default: ./mailharden)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN=${MH_BIN:-$REPO/mailharden}
PO=$REPO/i18n/de.po
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mh-i18n.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }

command -v msgfmt >/dev/null || { echo "gettext tools missing"; exit 77; }
[ -f "$PO" ] || { echo "not ok - i18n/de.po exists"; exit 1; }

# "N translated messages, M fuzzy translations, K untranslated messages."
counts() { # counts FILE -> "translated fuzzy untranslated"
	LC_ALL=C msgfmt -c --statistics -o /dev/null "$1" 2>&1 | tail -n1 |
		awk '{ t = f = u = 0
		       for (i = 1; i <= NF; i++) {
			       if ($(i + 1) ~ /^translated/) t = $i
			       if ($(i + 1) ~ /^fuzzy/) f = $i
			       if ($(i + 1) ~ /^untranslated/) u = $i
		       }
		       print t, f, u }'
}

# 1. msgfmt -c on de.po as it is
if out=$(LC_ALL=C msgfmt -c --statistics -o /dev/null "$PO" 2>&1); then
	ok "msgfmt -c accepts i18n/de.po ($(echo "$out" | tail -n1))"
else
	not_ok "msgfmt -c accepts i18n/de.po"
	echo "$out" | head -n 10 | sed 's/^/# /'
fi
read -r t f u < <(counts "$PO")
if [ "${f:-0}" = 0 ] && [ "${u:-0}" = 0 ] && [ "${t:-0}" -gt 0 ]; then
	ok "de.po: $t translated, none fuzzy or untranslated"
else
	not_ok "de.po: $t translated, $f fuzzy, $u untranslated"
	msgattrib --untranslated --only-fuzzy "$PO" 2>/dev/null | grep '^msgid' | head -n 5 | sed 's/^/# /'
fi

# 2. every string in today's sources is translated
(cd "$REPO" && xgettext --keyword=_ --keyword=N_ --add-comments=TRANSLATORS: \
	--from-code=UTF-8 --package-name=mailharden -o "$TMP/now.pot" \
	$(find wizard core backends selftest -name '*.[ch]' | LC_ALL=C sort)) 2>/dev/null
if [ ! -s "$TMP/now.pot" ]; then
	not_ok "xgettext extracts the strings of the sources"
else
	msgmerge --quiet --no-fuzzy-matching -o "$TMP/merged.po" "$PO" "$TMP/now.pot" 2>/dev/null
	read -r t f u < <(counts "$TMP/merged.po")
	if [ "${u:-1}" = 0 ] && [ "${f:-1}" = 0 ]; then
		ok "every string in the sources is in de.po ($t)"
	else
		not_ok "every string in the sources is in de.po: $u missing (make po, then translate)"
		msgattrib --untranslated "$TMP/merged.po" 2>/dev/null | grep -A1 '^msgid' | head -n 10 | sed 's/^/# /'
	fi
fi

# 3. the binary speaks German
if [ -x "$BIN" ] && locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
	out=$(LANG=de_DE.UTF-8 LANGUAGE= LC_ALL= MAILHARDEN_LOCALEDIR=${MAILHARDEN_LOCALEDIR:-$REPO/build/locale} \
		"$BIN" --text --root "$TMP" </dev/null 2>&1)
	if echo "$out" | grep -qF "TLS Ihres Mailservers härten"; then
		ok "LANG=de_DE.UTF-8 gives German screens"
	else
		not_ok "LANG=de_DE.UTF-8 gives German screens"
		echo "$out" | head -n 5 | sed 's/^/# /'
	fi
else
	echo "ok - German screens # SKIP no binary or no de_DE.UTF-8 locale"
fi

[ "$fails" = 0 ]
