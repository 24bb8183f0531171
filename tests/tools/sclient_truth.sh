#!/bin/bash
# sclient_truth.sh PORT STARTTLS BIND - the independent judge for the self-test's suite
# enumeration: one `openssl s_client` handshake per (version, cipher) the host's OpenSSL
# knows, against 127.0.0.1:PORT.  STARTTLS is smtp|imap|pop3 or "-" (implicit TLS), BIND a
# local address or "-".  Prints one line per accepted pair, sorted:
#   TLSv1.2 0xC02F
#   TLSv1.2 0x0034 DH1024        (the server's DH size when it used finite-field DHE)
# Only test code uses the openssl CLI; the product never does.
set -uo pipefail
port=$1 starttls=$2 bind=$3
jobs=${TRUTH_JOBS:-8}

# hs VERSION CIPHERS: one handshake; prints s_client's -brief output
hs() {
	local v=$1 name=$2 args
	args=(-brief -connect "127.0.0.1:$port" "-$v")
	[ "$starttls" = - ] || args+=(-starttls "$starttls")
	[ "$bind" = - ] || args+=(-bind "$bind:0")
	if [ "$v" = tls1_3 ]; then
		args+=(-ciphersuites "$name")
	else
		args+=(-cipher "$name:@SECLEVEL=0" -ciphersuites '')
	fi
	timeout 20 openssl s_client "${args[@]}" </dev/null 2>&1
}

one() {
	local v=$1 code=$2 name=$3 out bits
	out=$(hs "$v" "$name")
	grep -q '^CONNECTION ESTABLISHED' <<<"$out" || return 0
	grep -q "^Ciphersuite: $name\$" <<<"$out" || return 0
	bits=$(sed -n 's/^Server Temp Key: DH, \([0-9]*\) bits.*/ DH\1/p' <<<"$out")
	case $v in tls1) v=TLSv1.0 ;; tls1_1) v=TLSv1.1 ;; tls1_2) v=TLSv1.2 ;; tls1_3) v=TLSv1.3 ;; esac
	printf '%s %s%s\n' "$v" "$code" "$bits"
}
export -f one hs
export port starttls bind

# A version is judged cipher by cipher only if some handshake with it works: offered
# everything but finite-field DHE, or only that (a server may choose a DHE suite it
# cannot complete, which fails a full offer).
versions=""
for v in tls1 tls1_1 tls1_2; do
	for c in 'ALL:COMPLEMENTOFALL:!kDHE' 'kDHE'; do
		if hs "$v" "$c" | grep -q '^CONNECTION ESTABLISHED'; then versions="$versions $v"; break; fi
	done
done
hs tls1_3 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256' |
	grep -q '^CONNECTION ESTABLISHED' && versions="$versions tls1_3"
wanted() { [[ " $versions " == *" $1 "* ]]; }

# "0xC0,0x2F - ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ..." -> "0xC02F NAME MINVERSION"
openssl ciphers -V 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' |
	awk '{ c = $1; gsub(/,0x/, "", c); print toupper(substr(c, 3)), $3, $4 }' |
	while read -r code name minv; do
		if [ "$minv" = TLSv1.3 ]; then
			! wanted tls1_3 || echo "tls1_3 0x$code $name"
		else
			! wanted tls1_2 || echo "tls1_2 0x$code $name"
			# SHA-256/GCM suites need TLS 1.2; the others also go with 1.0 and 1.1
			[ "$minv" = TLSv1.2 ] && continue
			! wanted tls1_1 || echo "tls1_1 0x$code $name"
			! wanted tls1 || echo "tls1 0x$code $name"
		fi
	done | xargs -P "$jobs" -n 3 bash -c 'one "$0" "$1" "$2"' | LC_ALL=C sort
