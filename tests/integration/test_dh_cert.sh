#!/bin/bash
# test_dh_cert.sh - "mailharden dhparam" and "mailharden cert" end to end,
# every result cross-checked with the openssl command-line tool.
# Needs no server root: it works on its own scratch lab directory.
set -uo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${MH_BIN:-$TOP/mailharden}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LAB=$WORK/lab
mkdir -p "$LAB/etc/dovecot" "$LAB/etc/ssl/private"
FAILS=0

ok()   { printf 'ok - %s\n' "$*"; }
fail() { FAILS=$((FAILS + 1)); printf 'not ok - %s\n' "$*"; }
diag() { sed 's/^/#   /'; }
# is DESC EXPECTED ACTUAL
is() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1"; printf 'expected [%s], got [%s]\n' "$2" "$3" | diag; fi; }
# has DESC REGEX TEXT
has() { if grep -qE -- "$2" <<<"$3"; then ok "$1"; else fail "$1"; printf 'expected /%s/ in:\n%s\n' "$2" "$3" | tail -n 30 | diag; fi; }
mode_of() { stat -c '%a %U' "$1"; }
mh() { "$BIN" "$@"; }

# ---- dhparam: RFC 7919 groups ---------------------------------------------

out=$(mh dhparam --root "$LAB" --out /etc/dovecot/dh.pem 2>&1); rc=$?
is "dhparam (ffdhe2048) exits 0" 0 "$rc"
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$WORK/ffdhe2048.pem" 2>/dev/null
if cmp -s "$WORK/ffdhe2048.pem" "$LAB/etc/dovecot/dh.pem"; then
	ok "the file is byte for byte OpenSSL's ffdhe2048"
else
	fail "the file is byte for byte OpenSSL's ffdhe2048"
fi
is "dh file mode 0644, owner root" "644 root" "$(mode_of "$LAB/etc/dovecot/dh.pem")"
chk=$(openssl pkeyparam -in "$LAB/etc/dovecot/dh.pem" -check -text -noout 2>&1)
has "openssl pkeyparam -check accepts it" "Parameters are valid" "$chk"
has "openssl names it ffdhe2048" "GROUP: ffdhe2048" "$chk"
has "the summary says it was proved" "proved" "$out"
ls -A "$LAB/etc/dovecot" >"$WORK/dir.before"
is "no temp file left next to it" "dh.pem" "$(cat "$WORK/dir.before")"

for bits in 3072 4096; do
	chk=$(mh dhparam --bits $bits 2>/dev/null | openssl pkeyparam -check -text -noout 2>&1)
	has "dhparam --bits $bits to stdout is ffdhe$bits and valid" "GROUP: ffdhe$bits" "$chk"
done

for bad in 1024 2049 abc; do
	mh dhparam --bits $bad --root "$LAB" --out /etc/dovecot/bad.pem >/dev/null 2>"$WORK/err"; rc=$?
	is "dhparam --bits $bad is a usage error" 2 "$rc"
done
[ ! -e "$LAB/etc/dovecot/bad.pem" ] && ok "nothing written for bad sizes" || fail "nothing written for bad sizes"
mh dhparam --root "$LAB" --out /etc/nowhere/dh.pem >/dev/null 2>"$WORK/err"; rc=$?
is "a missing directory is an error" 1 "$rc"
has "the error names the path" "/etc/nowhere/dh.pem" "$(cat "$WORK/err")"

# ---- dhparam --fresh --------------------------------------------------------

t0=$(date +%s%N)
mh dhparam --fresh --root "$LAB" --out /etc/dovecot/fresh.pem >/dev/null 2>"$WORK/err"; rc=$?
t1=$(date +%s%N)
is "dhparam --fresh 2048 exits 0" 0 "$rc"
printf '# fresh 2048 bits took %d ms\n' $(( (t1 - t0) / 1000000 ))
chk=$(openssl pkeyparam -in "$LAB/etc/dovecot/fresh.pem" -check -text -noout 2>&1)
has "openssl pkeyparam -check accepts the fresh parameters" "Parameters are valid" "$chk"
has "they have 2048 bits" "\(2048 bit\)" "$chk"
if grep -q "GROUP:" <<<"$chk"; then fail "fresh parameters are not a named group"; else ok "fresh parameters are not a named group"; fi
is "fresh file mode 0644, owner root" "644 root" "$(mode_of "$LAB/etc/dovecot/fresh.pem")"
# the safe-prime check, independent of mailharden: p and (p-1)/2 prime, g = 2
p=$(openssl asn1parse -in "$LAB/etc/dovecot/fresh.pem" 2>/dev/null | awk -F: '/INTEGER/ { print $NF; exit }')
g=$(openssl asn1parse -in "$LAB/etc/dovecot/fresh.pem" 2>/dev/null | awk -F: '/INTEGER/ { v = $NF } END { print v }')
is "generator is 2" "02" "$g"
has "openssl prime: p is prime" "is prime" "$(openssl prime -hex "$p" 2>&1)"
if command -v python3 >/dev/null; then
	q=$(python3 -c "print('%X' % ((int('$p', 16) - 1) // 2))")
	has "openssl prime: (p-1)/2 is prime" "is prime" "$(openssl prime -hex "$q" 2>&1)"
else
	printf 'ok - # SKIP (p-1)/2 check needs python3\n'
fi

# Ctrl-C during the search: exit 130, no file, no temp file
for delay in 0.2 1 2.5; do
	ls -A "$LAB/etc/dovecot" >"$WORK/before"
	# the binary itself, not through the mh function: kill must reach it
	"$BIN" dhparam --fresh --bits 4096 --root "$LAB" --out /etc/dovecot/cancel.pem >/dev/null 2>"$WORK/err" &
	pid=$!
	sleep "$delay"
	kill -INT "$pid"
	wait "$pid"; rc=$?
	ls -A "$LAB/etc/dovecot" >"$WORK/after"
	is "SIGINT after ${delay}s: exit 130" 130 "$rc"
	if cmp -s "$WORK/before" "$WORK/after"; then
		ok "SIGINT after ${delay}s: nothing left behind"
	else
		fail "SIGINT after ${delay}s: nothing left behind"
		diff "$WORK/before" "$WORK/after" | diag
	fi
done
has "the interruption is reported" "interrupted" "$(cat "$WORK/err")"

# ---- certificates made with openssl -----------------------------------------

C=$WORK/ca
mkdir -p "$C"
cd "$C" || exit 1
ecreq() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem \
	-subj "/CN=Test Root" -days 3650 -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
ecreq inter "/CN=Test Intermediate"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial -days 1000 -extfile ca.ext -out inter.pem 2>/dev/null
ecreq leaf "/CN=mail.example.org"
printf 'subjectAltName=DNS:mail.example.org\nbasicConstraints=CA:FALSE\n' >leaf.ext
openssl x509 -req -in leaf.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 90 -extfile leaf.ext -out leaf.pem 2>/dev/null
cat leaf.pem inter.pem >chain.pem
cat leaf.pem inter.pem root.pem >chain-root.pem
ecreq other "/CN=other"
openssl x509 -req -in other.csr -signkey other.key -days 10 -out other.pem 2>/dev/null
# an expired one: openssl ca takes explicit dates
cat >ca.cnf <<EOF
[ ca ]
default_ca = test
[ test ]
database = $C/index.txt
new_certs_dir = $C
serial = $C/serial
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = copy
[ pol ]
commonName = supplied
EOF
: >index.txt
echo 1000 >serial
openssl ca -batch -config ca.cnf -cert inter.pem -keyfile inter.key -in leaf.csr -extfile leaf.ext \
	-startdate 20200101000000Z -enddate 20200201000000Z -notext -out expired.pem >/dev/null 2>&1
cat expired.pem inter.pem >expired-chain.pem
chmod 600 leaf.key other.key
cp leaf.key open.key && chmod 644 open.key

inspect() { # EXPECTED_RC ID DESC ARGS...
	local want=$1 id=$2 desc=$3 out rc
	shift 3
	out=$(mh cert inspect "$@" 2>&1); rc=$?
	is "$desc: exit $want" "$want" "$rc"
	has "$desc: finding $id" "\[$id\]" "$out"
}
inspect 1 cert.chain.incomplete "leaf + intermediate of a private CA" chain.pem --key "$C/leaf.key" --name mail.example.org
out=$(mh cert inspect chain.pem --key "$C/leaf.key" --name mail.example.org 2>&1)
has "the good pair matches" "\[cert.key.match\]" "$out"
has "the name matches" "\[cert.name.ok\]" "$out"
inspect 0 cert.chain.root_included "chain with the root (info only)" chain-root.pem
inspect 1 cert.chain.missing_intermediate "leaf without its intermediate" leaf.pem
inspect 1 cert.name.mismatch "wrong name" chain.pem --name mx.example.net
inspect 2 cert.key.mismatch "mismatched key" chain.pem --key "$C/other.key"
inspect 2 cert.key.mode "key mode 0644" chain.pem --key "$C/open.key"
inspect 1 cert.self_signed "self-signed" other.pem
inspect 2 cert.expired "expired" expired-chain.pem
js=$(mh cert inspect chain.pem --key "$C/open.key" --json 2>/dev/null)
is "--json: worst severity" critical "$(jq -r .worst <<<"$js")"
is "--json: leaf subject" "CN=mail.example.org" "$(jq -r '.certificates[0].subject' <<<"$js")"
is "--json: key mode" 420 "$(jq -r .key.mode <<<"$js")"
mh cert inspect "$C/none.pem" >/dev/null 2>"$WORK/err"; rc=$?
is "a missing file exits 2" 2 "$rc"
has "and says which" "none.pem" "$(cat "$WORK/err")"

# ---- cert selfsigned ----------------------------------------------------------

mh cert selfsigned --name mail.lab.test --root "$LAB" --out-cert /etc/ssl/lab.crt \
	--out-key /etc/ssl/private/lab.key >/dev/null 2>"$WORK/err"; rc=$?
is "selfsigned exits 0" 0 "$rc"
has "selfsigned says LAB ONLY" "LAB ONLY" "$(cat "$WORK/err")"
is "lab key mode 0600" "600 root" "$(mode_of "$LAB/etc/ssl/private/lab.key")"
is "lab cert mode 0644" "644 root" "$(mode_of "$LAB/etc/ssl/lab.crt")"
txt=$(openssl x509 -in "$LAB/etc/ssl/lab.crt" -noout -text)
has "labelled O=mailharden lab certificate" "O ?= ?mailharden lab certificate" "$txt"
has "SAN DNS:mail.lab.test" "DNS:mail.lab.test" "$txt"
has "ECDSA P-256 by default" "prime256v1|P-256" "$txt"
has "openssl: the key belongs to it" "^$(openssl x509 -in "$LAB/etc/ssl/lab.crt" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)\$" \
	"$(openssl pkey -in "$LAB/etc/ssl/private/lab.key" -pubout -outform DER | sha256sum | cut -c1-64)"
inspect 1 cert.self_signed "the lab certificate" /etc/ssl/lab.crt --root "$LAB" --key /etc/ssl/private/lab.key --name mail.lab.test
rsa=$(mh cert selfsigned --name rsa.lab.test --rsa 2>/dev/null | openssl x509 -noout -text)
has "--rsa gives RSA 3072" "Public-Key: \(3072 bit\)" "$rsa"
mh cert selfsigned --name 'bad name' >/dev/null 2>&1; rc=$?
is "a bad host name is refused" 1 "$rc"
mh cert selfsigned --name x.test --out-cert /tmp/x.crt >/dev/null 2>&1; rc=$?
is "--out-cert without --out-key is a usage error" 2 "$rc"

# ---- cert tlsa ------------------------------------------------------------------

spki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64; }
tl=$(mh cert tlsa chain.pem --port 25 2>&1)
is "TLSA 3 1 1 for port 25 matches openssl's hash" \
	"_25._tcp.mail.example.org. IN TLSA 3 1 1 $(spki leaf.pem)" "$(grep ' 3 1 1 ' <<<"$tl")"
is "TLSA 2 1 1 for the issuer matches openssl's hash" \
	"_25._tcp.mail.example.org. IN TLSA 2 1 1 $(spki inter.pem)" "$(grep ' 2 1 1 ' <<<"$tl")"
is "without --port: two records for each of the 7 mail ports" 14 "$(mh cert tlsa chain.pem 2>/dev/null | grep -c 'IN TLSA')"
for port in 25 465 587 143 993 110 995; do
	grep -q "^_$port\._tcp\." <(mh cert tlsa chain.pem 2>/dev/null) || fail "TLSA for port $port"
done
ok "every mail port has its records"
tl=$(mh cert tlsa leaf.pem --port 25,587 --name mx.example.org 2>&1)
is "leaf only: 3 1 1 records only, for the ports and name given" 2 "$(grep -c '^_\(25\|587\)\._tcp\.mx\.example\.org\. IN TLSA 3 1 1' <<<"$tl")"
has "leaf only: says why there is no 2 1 1" "no 2 1 1" "$tl"
mh cert tlsa chain.pem --port 99999 >/dev/null 2>&1; rc=$?
is "a bad port is a usage error" 2 "$rc"

[ "$FAILS" = 0 ]
