/*
 * tlsscan.c - protocol, suite, group and key exchange enumeration with raw
 * ClientHellos.
 */
#include "tlsscan.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "mailproto.h"
#include "suites.h"

#define CHUNK 64
#define ALERT_PROTOCOL_VERSION 70

static const uint16_t versions[SCAN_NPROTO] = {V_SSL2, V_SSL3, V_TLS10, V_TLS11, V_TLS12, V_TLS13};

/* ---------------------------------------------------------------- known DH primes */

struct known_dh {
	const char *ossl_name;   /* OpenSSL group name */
	const char *label;
	bool rfc7919;
	unsigned char *p;
	int len;
};

static struct known_dh known[] = {
	{"ffdhe2048", "ffdhe2048 (RFC 7919)", true, NULL, 0},
	{"ffdhe3072", "ffdhe3072 (RFC 7919)", true, NULL, 0},
	{"ffdhe4096", "ffdhe4096 (RFC 7919)", true, NULL, 0},
	{"ffdhe6144", "ffdhe6144 (RFC 7919)", true, NULL, 0},
	{"ffdhe8192", "ffdhe8192 (RFC 7919)", true, NULL, 0},
	{"modp_1536", "MODP group 5 (RFC 3526)", false, NULL, 0},
	{"modp_2048", "MODP group 14 (RFC 3526)", false, NULL, 0},
	{"modp_3072", "MODP group 15 (RFC 3526)", false, NULL, 0},
	{"modp_4096", "MODP group 16 (RFC 3526)", false, NULL, 0},
	{"modp_6144", "MODP group 17 (RFC 3526)", false, NULL, 0},
	{"modp_8192", "MODP group 18 (RFC 3526)", false, NULL, 0},
	{"dh_1024_160", "1024-bit group (RFC 5114)", false, NULL, 0},
	{"dh_2048_224", "2048-bit group (RFC 5114)", false, NULL, 0},
	{"dh_2048_256", "2048-bit group (RFC 5114)", false, NULL, 0},
	{NULL, "Oakley group 1 (RFC 2409)", false, NULL, 0},
	{NULL, "Oakley group 2 (RFC 2409)", false, NULL, 0},
};

static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static void known_from_bn(struct known_dh *k, BIGNUM *bn)
{
	if (bn == NULL)
		return;
	k->len = BN_num_bytes(bn);
	k->p = xmalloc((size_t)k->len);
	BN_bn2bin(bn, k->p);
	BN_free(bn);
}

static void known_from_group(struct known_dh *k)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *pk = NULL;
	BIGNUM *bn = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)k->ossl_name, 0),
		OSSL_PARAM_END,
	};

	if (ctx && EVP_PKEY_paramgen_init(ctx) > 0 && EVP_PKEY_CTX_set_params(ctx, params) > 0 &&
	    EVP_PKEY_paramgen(ctx, &pk) > 0 && EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_FFC_P, &bn) > 0)
		known_from_bn(k, bn);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
}

static void known_init(void)
{
	size_t n = sizeof(known) / sizeof(known[0]);

	for (size_t i = 0; i < n; i++)
		if (known[i].ossl_name)
			known_from_group(&known[i]);
	known_from_bn(&known[n - 2], BN_get_rfc2409_prime_768(NULL));
	known_from_bn(&known[n - 1], BN_get_rfc2409_prime_1024(NULL));
}

const char *dh_known_name(const uint8_t *p, size_t len, bool *rfc7919)
{
	pthread_once(&known_once, known_init);
	*rfc7919 = false;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (known[i].p && (size_t)known[i].len == len && memcmp(known[i].p, p, len) == 0) {
			*rfc7919 = known[i].rfc7919;
			return known[i].label;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- probes */

/* One connection: prelude, ClientHello, the server's first flight.
 * 0 with sh filled (kind SHK_NONE: closed without an answer), -1 when
 * the TLS layer was never reached. */
static int probe(const struct target *t, const uint8_t *hello, size_t n,
		 struct server_hello *sh, struct tls_scan *s, struct error *e)
{
	static _Thread_local uint8_t buf[80000];
	struct mconn c;
	size_t len = 0;

	memset(sh, 0, sizeof(*sh));
	/* one retry for a slow greeting (a server's reverse DNS lookup of us
	 * can stall a single connection); a refusal is never retried */
	if (mail_open_for_tls(t, &c, e) < 0 && (!c.timed_out || mail_open_for_tls(t, &c, e) < 0)) {
		s->errors++;
		memcpy(s->last_error, e->msg, sizeof(s->last_error) - 1);
		return -1;
	}
	s->connections++;
	if (mconn_send(&c, hello, n, e) < 0) {
		mconn_close(&c);
		return 0; /* reset while we sent: refused */
	}
	for (;;) {
		ssize_t r = mconn_read_raw(&c, buf + len, sizeof(buf) - len, t->timeout_ms, e);
		enum sh_status st;

		if (r <= 0) {
			if (len == 0 || sh_parse(buf, len, sh) != SH_DONE)
				memset(sh, 0, sizeof(*sh));
			break;
		}
		len += (size_t)r;
		st = sh_parse(buf, len, sh);
		if (st == SH_DONE)
			break;
		if (st == SH_BAD || len == sizeof(buf)) {
			memset(sh, 0, sizeof(*sh));
			break;
		}
	}
	mconn_close(&c);
	return 0;
}

static int probe_hello(const struct target *t, uint16_t v, const uint16_t *suites, size_t n,
		       const uint16_t *groups, size_t n_groups, struct server_hello *sh,
		       struct tls_scan *s, struct error *e)
{
	static _Thread_local uint8_t hello[HELLO_MAX];
	struct hello_opts o = {
		.version = v, .suites = suites, .n_suites = n, .groups = groups,
		.n_groups = n_groups, .sni = t->servername, .offer_compression = true,
	};
	size_t len = hello_build(&o, hello);

	return len ? probe(t, hello, len, sh, s, e) : err_set(e, "ClientHello too large");
}

static bool answered(const struct server_hello *sh, uint16_t v)
{
	return (sh->kind == SHK_HELLO || sh->kind == SHK_HRR) && sh->version == v;
}

static bool remove_code(uint16_t *list, size_t *n, uint16_t code)
{
	for (size_t i = 0; i < *n; i++) {
		if (list[i] == code) {
			memmove(list + i, list + i + 1, (*n - i - 1) * sizeof(*list));
			(*n)--;
			return true;
		}
	}
	return false;
}

/* Every suite for version v: the usual ones first, so the first chunk
 * already tells whether the version is accepted at all. */
static size_t candidates(uint16_t v, uint16_t *out)
{
	size_t n, k = 0;
	const struct suite *tab = suite_table(&n);
	unsigned rare = SUITE_PSK | SUITE_OBSCURE | SUITE_STATIC_DH;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			unsigned f = suite_flags(tab[i].code);

			if (((f & SUITE_TLS13) != 0) != (v == V_TLS13))
				continue;
			if (((f & rare) != 0) == (pass == 0))
				continue;
			out[k++] = tab[i].code;
		}
	}
	return k;
}

static void note_kx(struct tls_scan *s, const struct server_hello *sh)
{
	if (sh->version <= V_TLS12) {
		if (sh->compression == 1)
			s->compression = 1;
		else if (s->compression < 0)
			s->compression = 0;
		if (sh->reneg_info)
			s->secure_reneg = 1;
		else if (s->secure_reneg < 0)
			s->secure_reneg = 0;
	}
	if (sh->dh_bits > 0 && s->dh_bits == 0) {
		s->dh_bits = sh->dh_bits;
		s->dh_name = dh_known_name(sh->dh_p, sh->dh_p_len, &s->dh_rfc7919);
	}
}

/* 0 done, -1 could not reach TLS at all */
static int scan_version(const struct target *t, struct tls_scan *s, int idx, struct error *e)
{
	static _Thread_local uint16_t cand[SCAN_MAX_SUITES];
	struct proto_scan *ps = &s->proto[idx];
	uint16_t v = versions[idx];
	size_t nc = candidates(v, cand);
	struct server_hello sh;

	ps->accepted = 0;
	for (size_t start = 0; start < nc; start += CHUNK) {
		uint16_t chunk[CHUNK];
		size_t n = nc - start < CHUNK ? nc - start : CHUNK;

		memcpy(chunk, cand + start, n * sizeof(*chunk));
		while (n > 0) {
			if (probe_hello(t, v, chunk, n, NULL, 0, &sh, s, e) < 0) {
				if (ps->n_suites == 0)
					ps->accepted = -1;
				return -1;
			}
			if (answered(&sh, v) && remove_code(chunk, &n, sh.cipher)) {
				if (ps->n_suites < SCAN_MAX_SUITES)
					ps->suites[ps->n_suites++] = sh.cipher;
				ps->accepted = 1;
				note_kx(s, &sh);
				continue;
			}
			/* the version itself is refused: no need to try other chunks */
			if (ps->n_suites == 0 &&
			    ((sh.kind == SHK_ALERT && sh.alert_desc == ALERT_PROTOCOL_VERSION) ||
			     (sh.kind == SHK_HELLO && sh.version != v)))
				return 0;
			break;
		}
	}
	return 0;
}

static int scan_ssl2(const struct target *t, struct tls_scan *s, struct error *e)
{
	uint8_t hello[256];
	size_t n = hello_build_ssl2(hello);
	struct server_hello sh;
	struct proto_scan *ps = &s->proto[SCAN_SSL2];

	if (probe(t, hello, n, &sh, s, e) < 0) {
		ps->accepted = -1;
		return -1;
	}
	ps->accepted = sh.kind == SHK_SSL2 && sh.n_ssl2 > 0;
	ps->n_ssl2 = sh.n_ssl2;
	memcpy(ps->ssl2, sh.ssl2_ciphers, sizeof(ps->ssl2));
	return 0;
}

static void scan_order(const struct target *t, struct tls_scan *s, int idx, struct error *e)
{
	struct proto_scan *ps = &s->proto[idx];
	uint16_t pair[2];
	struct server_hello sh;

	ps->server_order = -1;
	if (ps->n_suites < 2)
		return;
	pair[0] = ps->suites[ps->n_suites - 1];
	pair[1] = ps->suites[0];
	if (probe_hello(t, ps->version, pair, 2, NULL, 0, &sh, s, e) < 0 || !answered(&sh, ps->version))
		return;
	if (sh.cipher == pair[1])
		ps->server_order = 1;
	else if (sh.cipher == pair[0])
		ps->server_order = 0;
}

static void scan_groups(const struct target *t, struct tls_scan *s, struct error *e)
{
	struct proto_scan *ps13 = &s->proto[SCAN_TLS13], *ps12 = &s->proto[SCAN_TLS12];
	uint16_t groups[SCAN_MAX_GROUPS], suites[SCAN_MAX_SUITES];
	size_t ng = 0, ns = 0, nall;
	const uint16_t *all = group_all(&nall);
	uint16_t v;
	struct server_hello sh;

	if (ps13->accepted == 1) {
		v = V_TLS13;
		memcpy(suites, ps13->suites, ps13->n_suites * sizeof(*suites));
		ns = ps13->n_suites;
	} else {
		v = V_TLS12;
		for (size_t i = 0; i < ps12->n_suites; i++)
			if (suite_flags(ps12->suites[i]) & SUITE_ECDHE)
				suites[ns++] = ps12->suites[i];
	}
	if (ns == 0)
		return;
	for (size_t i = 0; i < nall && ng < SCAN_MAX_GROUPS; i++)
		if (v == V_TLS13 || group_is_ecc(all[i]))
			groups[ng++] = all[i];
	while (ng > 0 && s->n_groups < SCAN_MAX_GROUPS) {
		if (probe_hello(t, v, suites, ns > CHUNK ? CHUNK : ns, groups, ng, &sh, s, e) < 0)
			return;
		if (!answered(&sh, v) || !remove_code(groups, &ng, sh.group))
			return;
		s->groups[s->n_groups++] = sh.group;
	}
}

int tls_scan_run(const struct target *t, struct tls_scan *s, struct error *e)
{
	memset(s, 0, sizeof(*s));
	s->compression = -1;
	s->secure_reneg = -1;
	for (int i = 0; i < SCAN_NPROTO; i++) {
		s->proto[i].version = versions[i];
		s->proto[i].server_order = -1;
	}
	/* the first probe tells whether the port can be tested at all */
	if (scan_version(t, s, SCAN_TLS13, e) < 0 && s->connections == 0)
		return -1;
	for (int i = SCAN_TLS12; i >= SCAN_SSL3; i--)
		scan_version(t, s, i, e);
	scan_ssl2(t, s, e);
	for (int i = SCAN_SSL3; i <= SCAN_TLS13; i++)
		scan_order(t, s, i, e);
	scan_groups(t, s, e);
	return 0;
}

bool tls_scan_any(const struct tls_scan *s)
{
	for (int i = SCAN_TLS10; i <= SCAN_TLS13; i++)
		if (s->proto[i].accepted == 1)
			return true;
	return false;
}
