/*
 * dh.h - Diffie-Hellman parameters for servers that still offer DHE suites.
 *
 * Today's advice is a named RFC 7919 group (ffdhe2048/3072/4096): known
 * safe primes that clients can recognise, written instantly.  Fresh
 * parameters (a new safe prime p = 2q + 1, generator 2) are there for those
 * who want their own; the search runs on every core with a sieve that drops
 * candidates where p or q has a small factor before any primality test.
 * Either way the result is proved before it is handed out: p and q prime
 * (Miller-Rabin, BN_check_prime) and OpenSSL's own parameter check.
 */
#ifndef MH_DH_H
#define MH_DH_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "env.h"

#define DH_DEFAULT_BITS 2048

/* dh_generate_pem returns this (not -1) when the progress callback asked to
 * stop; e says so too.  Nothing was produced. */
#define DH_CANCELLED (-2)

/* 2048, 3072 or 4096: the sizes offered to users. */
bool dh_bits_valid(int bits);
/* "ffdhe2048" ... for a valid size, else NULL. */
const char *dh_group_name(int bits);

/* The RFC 7919 group of that size as a "DH PARAMETERS" PEM (malloc'd),
 * checked to be byte for byte the group OpenSSL knows and proved like a
 * fresh one. */
int dh_named_pem(int bits, char **pem, struct error *e);

enum dh_phase { DH_SEARCHING, DH_PROVING };

struct dh_progress {
	enum dh_phase phase;
	int bits;
	int threads;
	unsigned long sieved;  /* candidates looked at by the sieve */
	unsigned long tested;  /* sieve survivors given a primality test */
	double expected_tests; /* rough mean of tests until a hit: a gauge's 100% */
	double elapsed;        /* seconds since the start */
};

/* Called from the calling thread about five times a second.  Returning
 * non-zero cancels the generation (Ctrl-C, a Cancel button). */
typedef int (*dh_progress_fn)(const struct dh_progress *p, void *arg);

struct dh_gen_opts {
	int threads;          /* 0: every online CPU */
	dh_progress_fn progress; /* may be NULL */
	void *arg;
};

/* New safe-prime parameters of that many bits (2048/3072/4096; 1024 and
 * up are accepted for tests), generator 2, as a "DH PARAMETERS" PEM.
 * Returns 0, -1 on error, or DH_CANCELLED. */
int dh_generate_pem(int bits, const struct dh_gen_opts *o, char **pem,
		    struct error *e);

struct dh_check {
	int bits;
	bool p_prime;      /* BN_check_prime(p) */
	bool q_prime;      /* BN_check_prime((p - 1) / 2): p is a safe prime */
	bool generator_ok; /* g = 2, and p = 7 mod 8 so g generates the order-q subgroup */
	bool openssl_ok;   /* EVP_PKEY_param_check */
	char group[16];    /* "ffdhe2048" when p and g are that RFC 7919 group, else "" */
};

/* Decodes a DH PARAMETERS PEM and runs every check (in parallel).  Returns
 * -1 only when the PEM cannot be read; the verdicts are in c. */
int dh_check_pem(const char *pem, size_t len, struct dh_check *c, struct error *e);
/* True when every check in c passed. */
bool dh_check_ok(const struct dh_check *c);

/* Writes pem to the server path atomically (temp file, fsync, rename),
 * mode 0644, owned by root (by the caller in an unprivileged lab). */
int dh_write(const struct env *env, const char *server_path, const char *pem,
	     struct error *e);

#endif
