/*
 * tlsscan.h - what a port accepts: protocol versions SSLv2..TLS 1.3, every
 * suite per version, server preference, key exchange groups, DH prime,
 * compression and secure renegotiation.  Raw ClientHellos only (hello.h).
 *
 * Suites are enumerated from the full IANA list by iterative removal in
 * chunks of at most 64 (some servers ignore suites past the 64th): offer
 * a chunk, note the suite the server picks, remove it, repeat until the
 * server refuses.  That costs accepted + chunks connections per version.
 * A refusal that is not a clean "no shared cipher" (the connection closed,
 * an internal error: Dovecot picking a DHE suite without DH parameters)
 * does not end the chunk: the rest is split in halves and each half is
 * tried again, so a suite that breaks the handshake never hides others.
 *
 * A probe that times out is retried once with three times the deadline; if
 * that times out too, the item is a gap ("could not test"), never a
 * property of the server.
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
#define SCAN_MAX_DH 8
#define SCAN_MAX_GAPS 16

/* Something that could not be tested, and why (a timeout, no connection). */
struct gap {
	char item[80];              /* translated: "TLSv1.3", "key exchange groups" */
	char why[200];
};

struct gap_list {
	struct gap v[SCAN_MAX_GAPS];
	size_t n;
};

/* Records a gap (the first SCAN_MAX_GAPS are kept). */
void gap_add(struct gap_list *g, const char *item, const char *why);

/* A finite-field DH group a server used, with how many suites used it. */
struct dh_seen {
	int bits;
	const char *name;           /* well-known name or NULL = custom prime */
	bool rfc7919;
	unsigned suites;
};

struct proto_scan {
	uint16_t version;
	int accepted;               /* 1 yes, 0 no, -1 could not tell */
	uint16_t suites[SCAN_MAX_SUITES]; /* accepted, in the order found */
	uint16_t kx_group[SCAN_MAX_SUITES]; /* per suite: ECDHE curve it used, or 0 */
	uint8_t kx_dh[SCAN_MAX_SUITES];    /* per suite: 1 + index into tls_scan.dh, or 0 */
	size_t n_suites;
	size_t n_first;             /* suites found in the first chunk with any (same offer set) */
	uint32_t ssl2[SH_MAX_SSL2];
	size_t n_ssl2;
	int server_order;           /* 1 server chooses, 0 client, -1 unknown / n.a. */
};

struct tls_scan {
	struct proto_scan proto[SCAN_NPROTO];
	uint16_t groups[SCAN_MAX_GROUPS]; /* accepted key exchange groups, server order */
	size_t n_groups;
	/* every DH group seen (per suite in proto_scan.kx_dh); the weakest one
	 * also in dh_bits/dh_name/dh_rfc7919 */
	struct dh_seen dh[SCAN_MAX_DH];
	size_t n_dh;
	int dh_bits;                /* weakest DHE prime size, 0 = no DHE suite accepted */
	const char *dh_name;        /* "ffdhe2048", "RFC 3526 MODP 2048"..., NULL = custom */
	bool dh_rfc7919;
	int compression;            /* 1 DEFLATE accepted, 0 no, -1 unknown */
	int secure_reneg;           /* 1 RFC 5746, 0 missing, -1 n.a. (no TLS <= 1.2) */
	unsigned connections;
	unsigned errors;            /* probes that failed below the TLS layer */
	char last_error[256];       /* the last such failure */
	int fallback_scsv;          /* TLS_FALLBACK_SCSV: 1 a downgrade is refused, 0 accepted, -1 n.a. */
	int heartbleed;             /* 1 vulnerable, 0 not, -1 could not tell / n.a. (no TLS <= 1.2) */
	bool heartbeat;             /* the server offers the heartbeat extension */
	uint16_t sigalgs[24];       /* TLS 1.2: schemes the server signs with, in its order */
	size_t n_sigalgs;
	bool starttls_refused;      /* STARTTLS was advertised, then refused (454) */
	bool stalled;               /* a probe timed out twice: the rest is not tried */
	struct gap_list gaps;       /* what could not be tested */
};

/* Scans t.  Fails (could not test) only when no probe could reach the TLS
 * layer at all, e.g. the port is closed or STARTTLS is refused. */
int tls_scan_run(const struct target *t, struct tls_scan *s, struct error *e);

/* Any version from TLS 1.0 up accepted. */
bool tls_scan_any(const struct tls_scan *s);
/* The name of a well-known DH prime (p as big-endian bytes), or NULL. */
const char *dh_known_name(const uint8_t *p, size_t len, bool *rfc7919);

#endif
