/*
 * suites.h - the IANA TLS cipher suite registry as data, with what a
 * scanner needs to judge a suite: key exchange, forward secrecy, cipher.
 *
 * Properties are read from the IANA name ("TLS_<kx>_WITH_<cipher>_<mac>"),
 * so the table carries only code and name and cannot disagree with itself.
 */
#ifndef MH_SUITES_H
#define MH_SUITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum suite_flag {
	SUITE_TLS13 = 1u << 0,   /* TLS 1.3 only (0x13xx) */
	SUITE_FS = 1u << 1,      /* ephemeral key exchange: forward secrecy */
	SUITE_ANON = 1u << 2,    /* no authentication (DH_anon, ECDH_anon) */
	SUITE_NULL = 1u << 3,    /* no encryption */
	SUITE_EXPORT = 1u << 4,  /* 40/56-bit export grade */
	SUITE_RC4 = 1u << 5,
	SUITE_DES = 1u << 6,     /* single DES */
	SUITE_3DES = 1u << 7,    /* 64-bit block: Sweet32 */
	SUITE_CBC = 1u << 8,     /* CBC mode (Lucky13 class, not AEAD) */
	SUITE_AEAD = 1u << 9,    /* GCM, CCM, ChaCha20-Poly1305 */
	SUITE_PSK = 1u << 10,    /* needs a pre-shared key or SRP: never offered by a mail server */
	SUITE_OBSCURE = 1u << 11, /* IDEA, SEED, RC2, ARIA, Camellia, KRB5, MD5 MAC */
	SUITE_STATIC_DH = 1u << 12, /* DH_RSA, ECDH_ECDSA ...: fixed server key */
	SUITE_DHE = 1u << 13,    /* finite-field ephemeral DH */
	SUITE_ECDHE = 1u << 14,
};

struct suite {
	uint16_t code;
	const char *name; /* IANA name */
};

/* Every registered suite except TLS_NULL_WITH_NULL_NULL, TLS 1.3 ones last. */
const struct suite *suite_table(size_t *n);
const struct suite *suite_by_code(uint16_t code);
/* The IANA name, or "0xC0FF" style text in buf for an unknown code. */
const char *suite_name(uint16_t code, char *buf, size_t len);
unsigned suite_flags(uint16_t code);
/* A short reason why a suite is weak ("3DES", "RC4", ...), NULL if not. */
const char *suite_weakness(unsigned flags);

/* SSLv2 cipher kinds (3-byte codes) */
struct ssl2_suite {
	uint32_t code;
	const char *name;
};
const struct ssl2_suite *ssl2_suite_table(size_t *n);

#endif
