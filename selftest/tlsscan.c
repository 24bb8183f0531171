/*
 * tlsscan.c - protocol, suite, group and key exchange enumeration with raw
 * ClientHellos.
 */
#include "tlsscan.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

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

/* ---------------------------------------------------------------- gaps */

void gap_add(struct gap_list *g, const char *item, const char *why)
{
	if (g->n >= SCAN_MAX_GAPS)
		return;
	/* cut to the buffers on purpose (-O2's -Wformat-truncation) */
	snprintf(g->v[g->n].item, sizeof(g->v[g->n].item), "%.*s",
		 (int)sizeof(g->v[g->n].item) - 1, item);
	snprintf(g->v[g->n].why, sizeof(g->v[g->n].why), "%.*s",
		 (int)sizeof(g->v[g->n].why) - 1, why);
	g->n++;
}

/* ---------------------------------------------------------------- probes */

enum probe_rc {
	PROBE_DONE,      /* the TLS layer answered (sh filled; SHK_NONE = closed without answer) */
	PROBE_NOTLS,     /* never reached the TLS layer (closed port, refused STARTTLS) */
	PROBE_TIMEOUT,   /* no answer in time, twice */
};

#define PATIENCE 3 /* a retried probe waits this many times longer */

/* One connection: prelude, ClientHello, the server's first flight. */
static enum probe_rc probe_once(const struct target *t, const uint8_t *hello, size_t n,
				struct server_hello *sh, struct tls_scan *s, struct error *e)
{
	static _Thread_local uint8_t buf[80000];
	struct mconn c;
	size_t len = 0;

	memset(sh, 0, sizeof(*sh));
	if (mail_open_for_tls(t, &c, e) < 0) {
		s->starttls_refused |= c.refused;
		return c.timed_out ? PROBE_TIMEOUT : PROBE_NOTLS;
	}
	s->connections++;
	if (mconn_send(&c, hello, n, e) < 0) {
		bool slow = c.timed_out;

		mconn_close(&c);
		return slow ? PROBE_TIMEOUT : PROBE_DONE; /* reset while we sent: refused */
	}
	for (;;) {
		ssize_t r = mconn_read_raw(&c, buf + len, sizeof(buf) - len, t->timeout_ms, e);
		enum sh_status st;

		if (r <= 0) {
			sh_end(buf, len, sh);
			if (r < 0 && c.timed_out && sh->kind == SHK_NONE) {
				mconn_close(&c);
				return PROBE_TIMEOUT;
			}
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
	return PROBE_DONE;
}

/* A probe that timed out is tried once more with a longer deadline: on a
 * loaded host (or a server doing a slow reverse lookup) a timeout says
 * nothing about TLS.  A refusal is never retried. */
static enum probe_rc probe(const struct target *t, const uint8_t *hello, size_t n,
			   struct server_hello *sh, struct tls_scan *s, struct error *e)
{
	enum probe_rc rc;

	if (s->stalled) {
		/* one probe got no answer even with the longer deadline: the
		 * rest would wait as long for nothing */
		memset(sh, 0, sizeof(*sh));
		err_set(e, _("not tried: an earlier probe got no answer within %d ms"), t->timeout_ms * PATIENCE);
		return PROBE_TIMEOUT;
	}
	rc = probe_once(t, hello, n, sh, s, e);
	if (rc == PROBE_TIMEOUT) {
		struct target patient = *t;

		patient.timeout_ms = t->timeout_ms * PATIENCE;
		rc = probe_once(&patient, hello, n, sh, s, e);
		s->stalled = rc == PROBE_TIMEOUT;
	}
	if (rc != PROBE_DONE) {
		s->errors++;
		memcpy(s->last_error, e->msg, sizeof(s->last_error) - 1);
	}
	return rc;
}

static enum probe_rc probe_hello(const struct target *t, uint16_t v, const uint16_t *suites, size_t n,
				 const uint16_t *groups, size_t n_groups, struct server_hello *sh,
				 struct tls_scan *s, struct error *e)
{
	static _Thread_local uint8_t hello[HELLO_MAX];
	struct hello_opts o = {
		.version = v, .suites = suites, .n_suites = n, .groups = groups,
		.n_groups = n_groups, .sni = t->servername, .offer_compression = true,
	};
	size_t len = hello_build(&o, hello);

	if (len == 0) {
		err_set(e, "ClientHello too large");
		return PROBE_NOTLS;
	}
	return probe(t, hello, len, sh, s, e);
}

/* The server chose a suite for version v and its first flight was complete. */
static bool answered(const struct server_hello *sh, uint16_t v)
{
	return (sh->kind == SHK_HELLO || sh->kind == SHK_HRR) && sh->version == v && !sh->failed;
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

/* Every suite for version v, in groups that become separate chunks: the
 * usual suites without finite-field DHE first (so the first chunk already
 * tells whether the version is accepted at all), then the usual DHE ones,
 * then the rare ones the same way.  A chunk of one kind needs no second
 * offer when it fails: Dovecot without DH parameters fails every DHE
 * handshake, and a DHE suite can then hide no other suite.
 * groups[] gets the size of each group; returns the number of groups. */
static size_t candidates(uint16_t v, uint16_t *out, size_t *groups)
{
	size_t n, k = 0, ng = 0;
	const struct suite *tab = suite_table(&n);
	unsigned rare = SUITE_PSK | SUITE_OBSCURE | SUITE_STATIC_DH;

	for (int pass = 0; pass < 4; pass++) {
		size_t start = k;

		for (size_t i = 0; i < n; i++) {
			unsigned f = suite_flags(tab[i].code);

			if (((f & SUITE_TLS13) != 0) != (v == V_TLS13))
				continue;
			if (((f & rare) != 0) != (pass >= 2) || ((f & SUITE_DHE) != 0) != (pass % 2 == 1))
				continue;
			out[k++] = tab[i].code;
		}
		if (k > start)
			groups[ng++] = k - start;
	}
	return ng;
}

/* The index + 1 of the DH group sh used in s->dh (added if new), 0 if none. */
static uint8_t note_dh(struct tls_scan *s, const struct server_hello *sh)
{
	bool rfc7919 = false;
	const char *name;
	size_t i;

	if (sh->dh_bits <= 0)
		return 0;
	name = dh_known_name(sh->dh_p, sh->dh_p_len, &rfc7919);
	for (i = 0; i < s->n_dh; i++)
		if (s->dh[i].bits == sh->dh_bits && s->dh[i].name == name)
			break;
	if (i == s->n_dh) {
		if (s->n_dh == SCAN_MAX_DH)
			return 0;
		s->dh[i] = (struct dh_seen){sh->dh_bits, name, rfc7919, 0};
		s->n_dh++;
	}
	s->dh[i].suites++;
	/* the weakest group is the one an attacker picks */
	if (s->dh_bits == 0 || sh->dh_bits < s->dh_bits) {
		s->dh_bits = sh->dh_bits;
		s->dh_name = name;
		s->dh_rfc7919 = rfc7919;
	}
	return (uint8_t)(i + 1);
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
}

static void note_suite(struct tls_scan *s, struct proto_scan *ps, const struct server_hello *sh)
{
	size_t k = ps->n_suites;

	if (k >= SCAN_MAX_SUITES)
		return;
	ps->suites[k] = sh->cipher;
	ps->kx_group[k] = sh->version <= V_TLS12 && (suite_flags(sh->cipher) & SUITE_ECDHE) ? sh->group : 0;
	ps->kx_dh[k] = note_dh(s, sh);
	ps->n_suites++;
	ps->accepted = 1;
	note_kx(s, sh);
}

/* ---------------------------------------------------------------- suite enumeration */

#define ALERT_HANDSHAKE_FAILURE 40
#define ALERT_INSUFFICIENT_SECURITY 71

struct enum_ctx {
	const struct target *t;
	struct tls_scan *s;
	struct proto_scan *ps;
	struct error *e;
	size_t unresolved;     /* candidates never tested (timeouts) */
	bool version_refused;  /* the server refused the version itself */
};

/* The server said "none of these" in a way that cannot hide a suite:
 * the usual alerts, or an answer with another version.  (Dovecot sends no
 * alert at all: it just closes.) */
static bool clean_refusal(const struct server_hello *sh, uint16_t v)
{
	if (sh->kind == SHK_ALERT)
		return sh->alert_desc == ALERT_HANDSHAKE_FAILURE || sh->alert_desc == ALERT_PROTOCOL_VERSION ||
		       sh->alert_desc == ALERT_INSUFFICIENT_SECURITY;
	return (sh->kind == SHK_HELLO || sh->kind == SHK_HRR) && sh->version != v;
}

static void enum_set(struct enum_ctx *x, uint16_t *set, size_t n, bool top);

/* Moves the finite-field DHE suites of set into b; returns how many. */
static size_t take_dhe(uint16_t *set, size_t *n, uint16_t *b)
{
	size_t nb = 0, k = 0;

	for (size_t i = 0; i < *n; i++) {
		if (suite_flags(set[i]) & SUITE_DHE)
			b[nb++] = set[i];
		else
			set[k++] = set[i];
	}
	*n = k;
	return nb;
}

/*
 * The set failed the handshake after `got` successes.  A failure need not
 * mean "nothing left": the server may have picked a suite it cannot
 * complete (a DHE suite without DH parameters) and would accept others.
 * So the rest is tried again without the finite-field DHE suites (the
 * known culprit, also when nothing succeeded yet: a server that prefers
 * such a suite fails every full offer), and, after successes, in halves.
 * A part that never succeeds is not split again, which keeps a server that
 * answers every refusal by closing (Dovecot) from costing a probe per
 * suite.
 */
static void retry_parts(struct enum_ctx *x, uint16_t *set, size_t n, size_t got, bool top)
{
	uint16_t dhe[CHUNK];
	size_t nd;

	if (n < 2 || (got == 0 && !top))
		return;
	nd = take_dhe(set, &n, dhe);
	if (nd > 0 && n > 0) {
		size_t before = x->ps->n_suites;

		enum_set(x, set, n, false);
		if (got > 0 || x->ps->n_suites > before)
			enum_set(x, dhe, nd, false);
		return;
	}
	if (got == 0) /* one kind of suite only: nothing hides behind a failure */
		return;
	n += nd; /* take_dhe moved them all, or none */
	if (nd > 0)
		memcpy(set, dhe, nd * sizeof(*set));
	enum_set(x, set, n / 2, false);
	enum_set(x, set + n / 2, n - n / 2, false);
}

/* Offers set until the server refuses it; every suite it picks is removed
 * and recorded. */
static void enum_set(struct enum_ctx *x, uint16_t *set, size_t n, bool top)
{
	struct server_hello sh;
	uint16_t v = x->ps->version;
	size_t got = 0;

	while (n > 0) {
		enum probe_rc rc = probe_hello(x->t, v, set, n, NULL, 0, &sh, x->s, x->e);

		if (rc != PROBE_DONE) {
			x->unresolved += n;
			return;
		}
		if (answered(&sh, v) && remove_code(set, &n, sh.cipher)) {
			note_suite(x->s, x->ps, &sh);
			got++;
			continue;
		}
		/* it named the suite that broke the handshake: the rest goes on */
		if (sh.failed && sh.version == v && remove_code(set, &n, sh.cipher))
			continue;
		if (clean_refusal(&sh, v) || answered(&sh, v)) {
			/* "no shared cipher", or an answer naming a suite we did not offer */
			if (x->ps->n_suites == 0 &&
			    ((sh.kind == SHK_ALERT && sh.alert_desc == ALERT_PROTOCOL_VERSION) ||
			     (sh.kind != SHK_ALERT && sh.version != v)))
				x->version_refused = true;
			return;
		}
		retry_parts(x, set, n, got, top);
		return;
	}
}

/* 0 done, -1 could not reach TLS at all */
static int scan_version(const struct target *t, struct tls_scan *s, int idx, struct error *e)
{
	static _Thread_local uint16_t cand[SCAN_MAX_SUITES];
	struct proto_scan *ps = &s->proto[idx];
	size_t groups[4], ng = candidates(versions[idx], cand, groups), at = 0;
	struct enum_ctx x = {t, s, ps, e, 0, false};
	unsigned errors0 = s->errors;

	ps->accepted = 0;
	for (size_t g = 0; g < ng && !x.version_refused; at += groups[g], g++) {
		/* chunks of at most 64, the group split evenly */
		size_t chunks = (groups[g] + CHUNK - 1) / CHUNK, done = 0;

		for (size_t c = 0; c < chunks && !x.version_refused; c++) {
			uint16_t chunk[CHUNK];
			size_t n = (groups[g] - done) / (chunks - c);

			memcpy(chunk, cand + at + done, n * sizeof(*chunk));
			done += n;
			enum_set(&x, chunk, n, true);
			if (ps->n_first == 0)
				ps->n_first = ps->n_suites;
			if (s->errors > errors0 && s->connections == 0)
				goto out; /* nothing reaches TLS: do not try every chunk */
		}
	}
out:
	if (x.unresolved > 0) {
		char why[200];

		snprintf(why, sizeof(why), _("%zu candidate suites unresolved: %s"), x.unresolved,
			 s->errors > errors0 ? s->last_error
					     : _("the server closes the connection without an alert"));
		gap_add(&s->gaps, tls_version_name(ps->version), why);
		if (ps->n_suites == 0)
			ps->accepted = -1;
	}
	return s->connections == 0 && s->errors > errors0 ? -1 : 0;
}

static void scan_ssl2(const struct target *t, struct tls_scan *s, struct error *e)
{
	uint8_t hello[256];
	size_t n = hello_build_ssl2(hello);
	struct server_hello sh;
	struct proto_scan *ps = &s->proto[SCAN_SSL2];

	if (probe(t, hello, n, &sh, s, e) != PROBE_DONE) {
		ps->accepted = -1;
		gap_add(&s->gaps, "SSLv2", e->msg);
		return;
	}
	ps->accepted = sh.kind == SHK_SSL2 && sh.n_ssl2 > 0;
	ps->n_ssl2 = sh.n_ssl2;
	memcpy(ps->ssl2, sh.ssl2_ciphers, sizeof(ps->ssl2));
}

/* Offers two suites from the first offer set in reverse of the order the
 * server picked them: a server that chooses takes its favourite again. */
static void scan_order(const struct target *t, struct tls_scan *s, int idx, struct error *e)
{
	struct proto_scan *ps = &s->proto[idx];
	uint16_t pair[2];
	struct server_hello sh;
	char item[80];

	ps->server_order = -1;
	if (ps->n_first < 2)
		return;
	pair[0] = ps->suites[ps->n_first - 1];
	pair[1] = ps->suites[0];
	if (probe_hello(t, ps->version, pair, 2, NULL, 0, &sh, s, e) != PROBE_DONE) {
		snprintf(item, sizeof(item), _("%s suite order"), tls_version_name(ps->version));
		gap_add(&s->gaps, item, e->msg);
		return;
	}
	if (!answered(&sh, ps->version))
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
		if (probe_hello(t, v, suites, ns > CHUNK ? CHUNK : ns, groups, ng, &sh, s, e) != PROBE_DONE) {
			gap_add(&s->gaps, _("key exchange groups"), e->msg);
			return;
		}
		if (!answered(&sh, v) || !remove_code(groups, &ng, sh.group))
			return;
		s->groups[s->n_groups++] = sh.group;
	}
}

/* The highest accepted version from TLS 1.0 up to max, or 0. */
static uint16_t best_version(const struct tls_scan *s, uint16_t max, int *idx)
{
	for (int i = SCAN_TLS13; i >= SCAN_TLS10; i--) {
		if (s->proto[i].accepted == 1 && s->proto[i].version <= max && s->proto[i].n_suites > 0) {
			*idx = i;
			return s->proto[i].version;
		}
	}
	return 0;
}

#define SCSV 0x5600
#define ALERT_INAPPROPRIATE_FALLBACK 86

/* RFC 7507: a client that retries with a lower version says so; a server
 * that has a higher one must refuse.  Offered: the next lower accepted
 * version with suites it accepted, plus the SCSV. */
static void scan_scsv(const struct target *t, struct tls_scan *s, struct error *e)
{
	uint16_t suites[CHUNK];
	int hi = 0, lo = 0;
	struct server_hello sh;
	uint16_t top = best_version(s, V_TLS13, &hi), low;
	size_t n;

	s->fallback_scsv = -1;
	if (top == 0 || (low = best_version(s, top - 1 < V_TLS12 ? top - 1 : V_TLS12, &lo)) == 0)
		return; /* one version only: nothing to fall back to */
	n = s->proto[lo].n_suites < CHUNK - 1 ? s->proto[lo].n_suites : CHUNK - 1;
	memcpy(suites, s->proto[lo].suites, n * sizeof(*suites));
	suites[n++] = SCSV;
	if (probe_hello(t, low, suites, n, NULL, 0, &sh, s, e) != PROBE_DONE) {
		gap_add(&s->gaps, "TLS_FALLBACK_SCSV", e->msg);
		return;
	}
	/* without the SCSV these suites work: any refusal is the SCSV's
	 * (Dovecot closes instead of sending inappropriate_fallback) */
	s->fallback_scsv = !answered(&sh, low);
}

/* A heartbeat request whose length claims 16 KiB but carries nothing
 * (a vulnerable server sends 16 KiB of its memory), then a correct one,
 * which every server that offers heartbeats answers. */
static const uint8_t hb_probe[] = {
	0x18, 0x03, 0x03, 0x00, 0x03, 0x01, 0x40, 0x00,
	0x18, 0x03, 0x03, 0x00, 0x23, 0x01, 0x00, 0x10,
	'm', 'a', 'i', 'l', 'h', 'a', 'r', 'd', 'e', 'n', '-', 'p', 'r', 'o', 'b', 'e',
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Walks the records in buf: 1 leak seen, 0 the correct answer seen, -1 neither yet. */
static int hb_answer(const uint8_t *buf, size_t len)
{
	for (size_t pos = 0; pos + 5 <= len;) {
		size_t n = ((size_t)buf[pos + 3] << 8) | buf[pos + 4];

		if (buf[pos] == 0x18)
			return n > 3 + 16 + 16 ? 1 : n == 3 + 16 + 16 ? 0 : -1;
		pos += 5 + n;
	}
	return -1;
}

static int heartbleed_conn(const struct target *t, uint16_t v, const uint16_t *suites, size_t ns,
			   struct tls_scan *s, struct error *e)
{
	static _Thread_local uint8_t buf[80000], hello[HELLO_MAX];
	struct hello_opts o = {.version = v, .suites = suites, .n_suites = ns, .sni = t->servername, .heartbeat = true};
	size_t n = hello_build(&o, hello), len = 0;
	struct server_hello sh;
	struct mconn c;
	bool sent = false;
	int verdict = -1;

	memset(&sh, 0, sizeof(sh));
	if (mail_open_for_tls(t, &c, e) < 0)
		return -2;
	s->connections++;
	if (mconn_send(&c, hello, n, e) < 0) {
		mconn_close(&c);
		return -2;
	}
	for (;;) {
		ssize_t r = mconn_read_raw(&c, buf + len, sizeof(buf) - len, t->timeout_ms, e);

		if (r <= 0)
			break;
		len += (size_t)r;
		if (!sent && sh_parse(buf, len, &sh) == SH_DONE) {
			if (!sh.heartbeat || sh.kind != SHK_HELLO || sh.failed) {
				verdict = sh.kind == SHK_HELLO && !sh.failed ? 0 : -1;
				break;
			}
			s->heartbeat = true;
			if (mconn_send(&c, hb_probe, sizeof(hb_probe), e) < 0)
				break;
			sent = true;
		}
		if (sent && (verdict = hb_answer(buf, len)) >= 0)
			break;
		if (len == sizeof(buf))
			break;
	}
	mconn_close(&c);
	return verdict;
}

/* Heartbleed (CVE-2014-0160): a server that does not even offer the
 * heartbeat extension cannot leak through it. */
static void scan_heartbleed(const struct target *t, struct tls_scan *s, struct error *e)
{
	int idx = 0;
	uint16_t v = best_version(s, V_TLS12, &idx);
	size_t ns;

	s->heartbleed = -1;
	if (v == 0)
		return;
	ns = s->proto[idx].n_suites < CHUNK ? s->proto[idx].n_suites : CHUNK;
	s->heartbleed = heartbleed_conn(t, v, s->proto[idx].suites, ns, s, e);
	if (s->heartbleed < 0) {
		s->heartbleed = -1;
		gap_add(&s->gaps, "Heartbleed", s->heartbeat ? _("no answer to a heartbeat request")
							     : e->msg);
	}
}

/* The schemes the server signs its TLS 1.2 key exchange with, by
 * iterative removal like the suites. */
static void scan_sigalgs(const struct target *t, struct tls_scan *s, struct error *e)
{
	const struct proto_scan *ps = &s->proto[SCAN_TLS12];
	uint16_t suites[CHUNK], algs[32];
	size_t ns = 0, na;
	const uint16_t *all = sigalg_all(&na);
	struct server_hello sh;
	unsigned want = SUITE_ECDHE;

	if (ps->accepted != 1)
		return;
	/* ECDHE if there is any: a DHE suite may be one the server cannot complete */
	for (int pass = 0; pass < 2 && ns == 0; pass++, want = SUITE_DHE)
		for (size_t i = 0; i < ps->n_suites && ns < CHUNK; i++)
			if ((suite_flags(ps->suites[i]) & want) && !(suite_flags(ps->suites[i]) & SUITE_ANON))
				suites[ns++] = ps->suites[i];
	if (ns == 0)
		return;
	memcpy(algs, all, na * sizeof(*algs));
	while (na > 0 && s->n_sigalgs < ARRAY_LEN(s->sigalgs)) {
		static _Thread_local uint8_t hello[HELLO_MAX];
		struct hello_opts o = {.version = V_TLS12, .suites = suites, .n_suites = ns, .sni = t->servername,
				       .sigalgs = algs, .n_sigalgs = na};
		size_t n = hello_build(&o, hello);

		if (probe(t, hello, n, &sh, s, e) != PROBE_DONE) {
			gap_add(&s->gaps, _("signature algorithms"), e->msg);
			return;
		}
		if (!answered(&sh, V_TLS12) || !remove_code(algs, &na, sh.ske_sigalg))
			return;
		s->sigalgs[s->n_sigalgs++] = sh.ske_sigalg;
	}
}

int tls_scan_run(const struct target *t, struct tls_scan *s, struct error *e)
{
	memset(s, 0, sizeof(*s));
	s->compression = -1;
	s->secure_reneg = -1;
	s->fallback_scsv = -1;
	s->heartbleed = -1;
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
	scan_scsv(t, s, e);
	scan_heartbleed(t, s, e);
	scan_sigalgs(t, s, e);
	return 0;
}

bool tls_scan_any(const struct tls_scan *s)
{
	for (int i = SCAN_TLS10; i <= SCAN_TLS13; i++)
		if (s->proto[i].accepted == 1)
			return true;
	return false;
}
