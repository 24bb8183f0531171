/*
 * hello.h - hand-built ClientHellos and a parser for what a server answers.
 *
 * libssl cannot offer SSLv2, SSLv3, export or RC4 suites, nor hundreds of
 * suites it does not implement; the scanner still has to see whether a
 * server ACCEPTS them.  So every probe is a raw ClientHello and the scan
 * stops at the server's first flight: nothing is ever encrypted or
 * authenticated here, which also makes each probe cheap.
 *
 * The parser is pure (bytes in, struct out) so it can be fuzzed.
 */
#ifndef MH_HELLO_H
#define MH_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	V_SSL2 = 0x0002,
	V_SSL3 = 0x0300,
	V_TLS10 = 0x0301,
	V_TLS11 = 0x0302,
	V_TLS12 = 0x0303,
	V_TLS13 = 0x0304,
};

/* "TLSv1.2" etc.; "?" for anything else. */
const char *tls_version_name(uint16_t v);

#define HELLO_MAX 17000 /* one record of at most 2^14 plus header */

struct hello_opts {
	uint16_t version;          /* V_SSL3 .. V_TLS13 */
	const uint16_t *suites;
	size_t n_suites;           /* at most 64 for the scanner's own reasons */
	const uint16_t *groups;    /* supported_groups; NULL = all known */
	size_t n_groups;
	const char *sni;           /* NULL = no server_name */
	bool offer_compression;    /* offer DEFLATE (TLS <= 1.2) */
	const uint16_t *sigalgs;   /* signature_algorithms (TLS 1.2+); NULL = all known */
	size_t n_sigalgs;
	bool heartbeat;            /* offer the heartbeat extension (RFC 6520) */
};

/* Signature schemes (TLS SignatureScheme codes). */
const char *sigalg_name(uint16_t code);
/* All the scanner knows, strongest first; *n gets the count. */
const uint16_t *sigalg_all(size_t *n);
/* True for schemes hashing with SHA-1 or MD5. */
bool sigalg_weak(uint16_t code);

/* Writes the ClientHello record into out (HELLO_MAX bytes); returns its length. */
size_t hello_build(const struct hello_opts *o, uint8_t *out);
/* An SSLv2 CLIENT-HELLO offering every SSLv2 cipher kind. */
size_t hello_build_ssl2(uint8_t *out);

enum sh_kind {
	SHK_NONE,   /* nothing parsed yet */
	SHK_HELLO,  /* a ServerHello */
	SHK_HRR,    /* TLS 1.3 HelloRetryRequest */
	SHK_ALERT,  /* an alert before any ServerHello */
	SHK_SSL2,   /* an SSLv2 SERVER-HELLO */
};

enum sh_status {
	SH_NEED_MORE, /* feed more bytes */
	SH_DONE,      /* enough to judge; close the connection */
	SH_BAD,       /* not TLS, or malformed */
};

#define SH_MAX_SSL2 16

struct server_hello {
	enum sh_kind kind;
	uint16_t version;          /* negotiated (supported_versions for 1.3) */
	uint16_t cipher;
	uint8_t compression;
	bool reneg_info;           /* RFC 5746 renegotiation_info in the ServerHello */
	bool ems;                  /* extended_master_secret echoed */
	uint16_t group;            /* 1.3: key_share/HRR group; <= 1.2: ECDHE curve from SKE */
	int dh_bits;               /* <= 1.2 DHE: size of the prime */
	uint8_t dh_p[1024];        /* the prime, for known-group lookup */
	size_t dh_p_len;
	bool have_ske;
	uint16_t ske_sigalg;       /* TLS 1.2 ServerKeyExchange: the scheme it was signed with */
	bool heartbeat;            /* the heartbeat extension echoed */
	uint8_t alert_level;
	uint8_t alert_desc;
	bool failed;               /* a ServerHello, then an alert or the end before its
				    * first flight was complete: the suite does not work */
	uint32_t ssl2_ciphers[SH_MAX_SSL2];
	size_t n_ssl2;
	const char *why;           /* for SH_BAD: a short untranslated reason */
};

/* Parses everything received so far (buf, len) from scratch. */
enum sh_status sh_parse(const uint8_t *buf, size_t len, struct server_hello *sh);
/* The connection ended (closed, or timed out) after buf: what it amounts to.
 * A ServerHello without the rest of its flight is kept, marked failed;
 * anything else incomplete is SHK_NONE. */
void sh_end(const uint8_t *buf, size_t len, struct server_hello *sh);

/* Named groups (TLS supported_groups codes). */
const char *group_name(uint16_t g);
/* All groups the scanner knows, for enumeration; *n gets the count. */
const uint16_t *group_all(size_t *n);
/* True for the TLS <= 1.2 elliptic curves (no FFDHE, no hybrids). */
bool group_is_ecc(uint16_t g);
/* Bits of security-relevant size for a group: 256 for P-256, 2048 for ffdhe2048 ... */
int group_bits(uint16_t g);

#endif
