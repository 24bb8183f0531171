/*
 * tlsscan.h - what a port accepts: protocol versions SSLv2..TLS 1.3, every
 * suite per version, server preference, key exchange groups, DH prime,
 * compression and secure renegotiation.  Raw ClientHellos only (hello.h).
 *
 * Suites are enumerated from the full IANA list by iterative removal in
 * chunks of at most 64 (some servers ignore suites past the 64th): offer
 * a chunk, note the suite the server picks, remove it, repeat until the
 * server refuses.  That costs accepted + chunks connections per version.
 */
#ifndef MH_TLSSCAN_H
#define MH_TLSSCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "hello.h"
#include "mailconn.h"

enum { SCAN_SSL2, SCAN_SSL3, SCAN_TLS10, SCAN_TLS11, SCAN_TLS12, SCAN_TLS13, SCAN_NPROTO };

#define SCAN_MAX_SUITES 400
#define SCAN_MAX_GROUPS 48

struct proto_scan {
	uint16_t version;
	int accepted;               /* 1 yes, 0 no, -1 could not tell */
	uint16_t suites[SCAN_MAX_SUITES]; /* accepted, in the order found */
	size_t n_suites;
	uint32_t ssl2[SH_MAX_SSL2];
	size_t n_ssl2;
	int server_order;           /* 1 server chooses, 0 client, -1 unknown / n.a. */
};

struct tls_scan {
	struct proto_scan proto[SCAN_NPROTO];
	uint16_t groups[SCAN_MAX_GROUPS]; /* accepted key exchange groups, server order */
	size_t n_groups;
	int dh_bits;                /* DHE prime size, 0 = no DHE suite accepted */
	const char *dh_name;        /* "ffdhe2048", "RFC 3526 MODP 2048"..., NULL = custom */
	bool dh_rfc7919;
	int compression;            /* 1 DEFLATE accepted, 0 no, -1 unknown */
	int secure_reneg;           /* 1 RFC 5746, 0 missing, -1 n.a. (no TLS <= 1.2) */
	unsigned connections;
	unsigned errors;            /* probes that failed below the TLS layer */
	char last_error[256];       /* the last such failure */
};

/* Scans t.  Fails (could not test) only when no probe could reach the TLS
 * layer at all, e.g. the port is closed or STARTTLS is refused. */
int tls_scan_run(const struct target *t, struct tls_scan *s, struct error *e);

/* Any version from TLS 1.0 up accepted. */
bool tls_scan_any(const struct tls_scan *s);
/* The name of a well-known DH prime (p as big-endian bytes), or NULL. */
const char *dh_known_name(const uint8_t *p, size_t len, bool *rfc7919);

#endif
