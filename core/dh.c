/*
 * dh.c - RFC 7919 groups and fresh safe-prime DH parameters.
 *
 * The search for p = 2q + 1 walks candidates q = q0 + 12k (q = 11 mod 12
 * makes p = 23 mod 24, so 2 generates the order-q subgroup and 2, 3 never
 * divide p or q).  A window of k values is sieved first: for every small
 * prime r the k with q = 0 (mod r) and the k with 2q + 1 = 0 (mod r) are
 * struck out together, from residues of q0 that are updated by word
 * arithmetic from window to window.  Survivors get a base-2 Fermat test on
 * q, then on p; the first pair found by any thread stops every thread and
 * is then proved with BN_check_prime and EVP_PKEY_param_check.
 */
#include "dh.h"
#include "txn.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "fsutil.h"

/* Sieving deeper than OpenSSL's few hundred primes is what makes the
 * search fast: every prime r up to the limit removes 2/r of the remaining
 * candidates at the cost of two strides through a window.  The table goes
 * to SIEVE_MAX; smaller sizes use a prefix (see sieve_log2), where the
 * cost of the initial residues would outweigh the tests saved. */
#define SIEVE_MAX (1u << 24)
#define WINDOW (1u << 18) /* candidates per sieve pass: 256 KiB of flags */
#define STEP 12u          /* q = 11 mod 12 */
#define RESIDUE_BATCH 16  /* primes reduced together */
#define EULER_GAMMA_EXP 1.7810724179901979

struct sieve_prime {
	uint32_t r;
	uint32_t inv_step; /* STEP^-1 mod r */
	uint32_t half;     /* (r - 1)/2 * STEP^-1 mod r: from "r | q" to "r | 2q + 1" */
	uint32_t shift;    /* WINDOW mod r */
};

static struct sieve_prime *sieve_primes;
static size_t n_sieve_primes;
static pthread_once_t sieve_once = PTHREAD_ONCE_INIT;

bool dh_bits_valid(int bits)
{
	return bits == 2048 || bits == 3072 || bits == 4096;
}

const char *dh_group_name(int bits)
{
	switch (bits) {
	case 2048: return "ffdhe2048";
	case 3072: return "ffdhe3072";
	case 4096: return "ffdhe4096";
	default: return NULL;
	}
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int ssl_error(struct error *e, const char *what)
{
	unsigned long code = ERR_get_error();
	char buf[256] = "";

	if (code != 0)
		ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	return err_set(e, _("%s failed: %s"), what, *buf ? buf : _("unknown OpenSSL error"));
}

/* ---- sieve primes ------------------------------------------------------ */

static uint32_t mod_inverse(uint32_t a, uint32_t m)
{
	int64_t t = 0, new_t = 1, r = m, new_r = a % m, q, tmp;

	while (new_r != 0) {
		q = r / new_r;
		tmp = t - q * new_t; t = new_t; new_t = tmp;
		tmp = r - q * new_r; r = new_r; new_r = tmp;
	}
	return (uint32_t)(t < 0 ? t + m : t);
}

static void sieve_primes_init(void)
{
	unsigned char *composite = xcalloc(SIEVE_MAX / 2 + 1, 1); /* odd numbers */
	size_t cap = 1 << 16;

	for (uint32_t i = 3; (uint64_t)i * i <= SIEVE_MAX; i += 2)
		if (!composite[i / 2])
			for (uint64_t j = (uint64_t)i * i; j <= SIEVE_MAX; j += 2 * i)
				composite[j / 2] = 1;
	sieve_primes = xmalloc(cap * sizeof(*sieve_primes));
	for (uint32_t i = 5; i <= SIEVE_MAX; i += 2) {
		if (composite[i / 2])
			continue;
		if (n_sieve_primes == cap) {
			cap *= 2;
			sieve_primes = xrealloc(sieve_primes, cap * sizeof(*sieve_primes));
		}
		struct sieve_prime *sp = &sieve_primes[n_sieve_primes++];

		sp->r = i;
		sp->inv_step = mod_inverse(STEP, i);
		sp->half = (uint32_t)((uint64_t)(i - 1) / 2 * sp->inv_step % i);
		sp->shift = WINDOW % i;
	}
	free(composite);
}

/* Measured on 2 cores: 2^22 is best at 1024 bits, deeper pays from 2048. */
static int sieve_log2(int bits)
{
	return bits <= 1024 ? 22 : bits <= 2048 ? 23 : 24;
}

/* How many table primes are below 2^log2. */
static size_t sieve_count(int log2)
{
	size_t lo = 0, hi = n_sieve_primes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sieve_primes[mid].r < (1u << log2))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Mean number of Fermat tests until a safe prime: each of q and p is prime
 * with probability about e^gamma ln(limit) / ln(n) once the sieve passed. */
static double expected_tests(int bits)
{
	double one = (double)bits / (EULER_GAMMA_EXP * sieve_log2(bits));

	return one * one;
}

/* ---- the parallel search ----------------------------------------------- */

struct search {
	int bits;
	size_t n_primes; /* sieve primes used at this size */
	atomic_int stop;
	atomic_ulong sieved;
	atomic_ulong tested;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	BIGNUM *found; /* the winning p, under lock */
	int running;   /* workers still going, under lock */
	bool failed;   /* a worker ran into an OpenSSL error, under lock */
};

struct worker {
	struct search *s;
	pthread_t thread;
	BN_CTX *ctx;
	BIGNUM *base; /* q0 of the current window */
	BIGNUM *q, *p, *t, *r;
	uint32_t *first; /* per sieve prime: the first k with r | q0 + STEP*k */
	unsigned char *struck;
};

/* The first struck k for every sieve prime, from base mod r.  One
 * BN_mod_word per prime would be a pass over the whole number each;
 * reducing by the product of a batch of primes first leaves a few words. */
static int worker_residues(struct worker *w)
{
	size_t i = 0, j;

	while (i < w->s->n_primes) {
		/* a few hundred ms at 4096 bits: stay responsive to a cancel */
		if (atomic_load(&w->s->stop))
			return 0;
		if (!BN_set_word(w->t, sieve_primes[i].r))
			return -1;
		for (j = i + 1; j < w->s->n_primes && j - i < RESIDUE_BATCH; j++)
			if (!BN_mul_word(w->t, sieve_primes[j].r))
				return -1;
		if (!BN_mod(w->r, w->base, w->t, w->ctx))
			return -1;
		for (; i < j; i++) {
			BN_ULONG m = BN_mod_word(w->r, sieve_primes[i].r);

			const struct sieve_prime *sp = &sieve_primes[i];

			if (m == (BN_ULONG)-1)
				return -1;
			/* base + STEP*k = 0 (mod r) */
			w->first[i] = (uint32_t)((uint64_t)(m ? sp->r - m : 0) * sp->inv_step % sp->r);
		}
	}
	return 0;
}

/* A new random q0 of bits-1 bits, top two bits set, q0 = 11 mod 12. */
static int worker_seed(struct worker *w)
{
	BN_ULONG m;

	if (!BN_rand(w->base, w->s->bits - 1, BN_RAND_TOP_TWO, BN_RAND_BOTTOM_ODD))
		return -1;
	m = BN_mod_word(w->base, STEP);
	if (m == (BN_ULONG)-1 || !BN_add_word(w->base, (11 + STEP - m) % STEP))
		return -1;
	return worker_residues(w);
}

static void strike(unsigned char *struck, uint64_t k, uint32_t r)
{
	for (; k < WINDOW; k += r)
		struck[k] = 1;
}

/* Strikes every k where q0 + STEP*k or 2(q0 + STEP*k) + 1 is divisible by
 * a sieve prime (but is not that prime itself: q is far larger). */
static void worker_sieve(struct worker *w)
{
	memset(w->struck, 0, WINDOW);
	for (size_t i = 0; i < w->s->n_primes; i++) {
		const struct sieve_prime *sp = &sieve_primes[i];
		uint32_t k = w->first[i], k2 = k + sp->half;

		strike(w->struck, k, sp->r);
		strike(w->struck, k2 >= sp->r ? k2 - sp->r : k2, sp->r);
	}
	atomic_fetch_add(&w->s->sieved, WINDOW);
}

/* Moves q0 past the window; the struck positions move along, no division. */
static int worker_advance(struct worker *w)
{
	if (!BN_add_word(w->base, (BN_ULONG)STEP * WINDOW))
		return -1;
	for (size_t i = 0; i < w->s->n_primes; i++) {
		const struct sieve_prime *sp = &sieve_primes[i];
		uint32_t k = w->first[i];

		w->first[i] = k >= sp->shift ? k - sp->shift : k + sp->r - sp->shift;
	}
	/* q must keep bits-1 bits; running off the top is all but impossible,
	 * but then start afresh */
	if (BN_num_bits(w->base) != w->s->bits - 1)
		return worker_seed(w);
	return 0;
}

/* 1 when 2^(n-1) = 1 (mod n), 0 when not, -1 on error. */
static int fermat2(struct worker *w, const BIGNUM *n)
{
	if (!BN_sub(w->t, n, BN_value_one()) ||
	    !BN_mod_exp_mont_word(w->r, 2, w->t, n, w->ctx, NULL))
		return -1;
	return BN_is_one(w->r);
}

/* 1 when q0 + STEP*k and 2q + 1 pass, 0 when not, -1 on error. */
static int worker_try(struct worker *w, unsigned long k)
{
	int rc;

	if (!BN_copy(w->q, w->base) || !BN_add_word(w->q, (BN_ULONG)STEP * k))
		return -1;
	atomic_fetch_add(&w->s->tested, 1);
	if ((rc = fermat2(w, w->q)) != 1)
		return rc;
	if (!BN_lshift1(w->p, w->q) || !BN_add_word(w->p, 1))
		return -1;
	if (BN_num_bits(w->p) != w->s->bits)
		return 0;
	return fermat2(w, w->p);
}

static void worker_publish(struct worker *w, int rc)
{
	struct search *s = w->s;

	pthread_mutex_lock(&s->lock);
	if (rc == 1 && s->found == NULL) {
		s->found = w->p;
		w->p = NULL;
	}
	if (rc != 0) {
		if (rc < 0)
			s->failed = true;
		atomic_store(&s->stop, 1);
	}
	s->running--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static int worker_search(struct worker *w)
{
	int rc;

	if (worker_seed(w) < 0)
		return -1;
	while (!atomic_load(&w->s->stop)) {
		worker_sieve(w);
		for (unsigned long k = 0; k < WINDOW; k++) {
			if (w->struck[k])
				continue;
			if (atomic_load(&w->s->stop))
				return 0;
			if ((rc = worker_try(w, k)) != 0)
				return rc;
		}
		if (worker_advance(w) < 0)
			return -1;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	worker_publish(w, worker_search(w));
	return NULL;
}

static bool worker_init(struct worker *w, struct search *s)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->ctx = BN_CTX_new();
	w->base = BN_new();
	w->q = BN_new();
	w->p = BN_new();
	w->t = BN_new();
	w->r = BN_new();
	w->first = xmalloc(s->n_primes * sizeof(*w->first));
	w->struck = xmalloc(WINDOW);
	return w->ctx && w->base && w->q && w->p && w->t && w->r;
}

static void worker_free(struct worker *w)
{
	BN_CTX_free(w->ctx);
	BN_free(w->base);
	BN_free(w->q);
	BN_free(w->p);
	BN_free(w->t);
	BN_free(w->r);
	free(w->first);
	free(w->struck);
}

static int default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Waits for the search to end, reporting progress; a non-zero answer from
 * the callback stops it.  Returns true when cancelled. */
static bool search_wait(struct search *s, const struct dh_gen_opts *o,
			struct dh_progress *pr, double t0)
{
	bool cancelled = false;
	struct timespec until;

	pthread_mutex_lock(&s->lock);
	while (s->running > 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &until);
		if (s->running == 0 || atomic_load(&s->stop) || o->progress == NULL)
			continue;
		pr->sieved = atomic_load(&s->sieved);
		pr->tested = atomic_load(&s->tested);
		pr->elapsed = now_seconds() - t0;
		pthread_mutex_unlock(&s->lock);
		if (o->progress(pr, o->arg) != 0) {
			cancelled = true;
			atomic_store(&s->stop, 1);
		}
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return cancelled && s->found == NULL;
}

/* Runs the threads until one finds a Fermat pair.  *p gets it. */
static int search_run(int bits, const struct dh_gen_opts *o, struct dh_progress *pr,
		      double t0, BIGNUM **p, struct error *e)
{
	int n = o->threads > 0 ? o->threads : default_threads();
	struct worker *w = xcalloc((size_t)n, sizeof(*w));
	struct search s = {.bits = bits, .n_primes = sieve_count(sieve_log2(bits))};
	int started = 0, rc = 0;

	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	pr->threads = n;
	for (int i = 0; i < n; i++) {
		if (!worker_init(&w[i], &s))
			break;
		s.running++;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			s.running--;
			break;
		}
		started++;
	}
	if (started == 0)
		atomic_store(&s.stop, 1);
	bool cancelled = search_wait(&s, o, pr, t0);
	for (int i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	for (int i = 0; i < n; i++)
		worker_free(&w[i]);
	free(w);
	pr->sieved = atomic_load(&s.sieved);
	pr->tested = atomic_load(&s.tested);
	if (cancelled) {
		rc = DH_CANCELLED;
		err_set(e, "%s", _("DH parameter generation cancelled"));
	} else if (s.found == NULL) {
		rc = started == 0 ? err_set(e, "%s", _("cannot start the search threads"))
				  : ssl_error(e, _("the prime search"));
	}
	if (rc != 0) {
		BN_free(s.found);
		s.found = NULL;
	}
	*p = s.found;
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	return rc;
}

/* ---- encoding ---------------------------------------------------------- */

static EVP_PKEY *pkey_from_pg(const BIGNUM *p, const BIGNUM *g)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, g) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEY_PARAMETERS, params) <= 0)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return pk;
}

static EVP_PKEY *pkey_named(const char *group)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *pk = NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0),
		OSSL_PARAM_END,
	};

	if (ctx == NULL || EVP_PKEY_paramgen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_params(ctx, params) <= 0 || EVP_PKEY_paramgen(ctx, &pk) <= 0)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

static char *pkey_params_pem(EVP_PKEY *pk)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *pem = NULL;
	long n;

	if (bio != NULL && PEM_write_bio_Parameters(bio, pk) == 1 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0)
		pem = xstrndup(data, (size_t)n);
	BIO_free(bio);
	return pem;
}

static EVP_PKEY *pkey_from_pem(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, len > INT32_MAX ? -1 : (int)len);
	EVP_PKEY *pk = bio ? PEM_read_bio_Parameters(bio, NULL) : NULL;

	BIO_free(bio);
	if (pk != NULL && !EVP_PKEY_is_a(pk, "DH")) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

/* ---- the proof ---------------------------------------------------------- */

struct proof {
	EVP_PKEY *pk;
	BIGNUM *p, *q;
	atomic_int stop;
	atomic_int primes_done;
	bool openssl_ok, p_prime, q_prime;
	bool aborted;
};

static int proof_gencb(int a, int b, BN_GENCB *cb)
{
	struct proof *pf = BN_GENCB_get_arg(cb);

	(void)a;
	(void)b;
	return !atomic_load(&pf->stop);
}

static void *proof_openssl(void *arg)
{
	struct proof *pf = arg;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pf->pk, NULL);

	pf->openssl_ok = ctx != NULL && EVP_PKEY_param_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	return NULL;
}

static void *proof_primes(void *arg)
{
	struct proof *pf = arg;
	BN_CTX *ctx = BN_CTX_new();
	BN_GENCB *cb = BN_GENCB_new();
	int r;

	if (ctx == NULL || cb == NULL) {
		pf->aborted = true;
	} else {
		BN_GENCB_set(cb, proof_gencb, pf);
		r = BN_check_prime(pf->p, ctx, cb);
		pf->p_prime = r == 1;
		pf->aborted = r < 0;
		if (r == 1) {
			r = BN_check_prime(pf->q, ctx, cb);
			pf->q_prime = r == 1;
			pf->aborted = r < 0;
		}
	}
	BN_GENCB_free(cb);
	BN_CTX_free(ctx);
	atomic_store(&pf->primes_done, 1);
	return NULL;
}

/* Both checks at once, one thread each.  poll (may be NULL) is called
 * about five times a second while the prime checks run; a non-zero answer
 * aborts them. */
static void proof_run(struct proof *pf, int (*poll)(void *), void *arg)
{
	struct timespec tick = {0, 10 * 1000 * 1000};
	pthread_t a, b;
	bool have_a = pthread_create(&a, NULL, proof_openssl, pf) == 0;
	bool have_b = pthread_create(&b, NULL, proof_primes, pf) == 0;

	if (!have_a)
		proof_openssl(pf);
	if (!have_b)
		proof_primes(pf);
	for (unsigned n = 1; have_b && poll != NULL && !atomic_load(&pf->primes_done); n++) {
		nanosleep(&tick, NULL);
		if (n % 20 == 0 && poll(arg) != 0)
			atomic_store(&pf->stop, 1);
	}
	if (have_b)
		pthread_join(b, NULL);
	if (have_a)
		pthread_join(a, NULL);
}

static void check_group(EVP_PKEY *pk, struct dh_check *c)
{
	size_t n = 0;

	c->group[0] = '\0';
	if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, c->group,
					   sizeof(c->group), &n) != 1)
		c->group[0] = '\0';
	ERR_clear_error();
}

static int check_pkey(EVP_PKEY *pk, struct dh_check *c, int (*poll)(void *),
		      void *arg, struct error *e)
{
	struct proof pf = {.pk = pk};
	BIGNUM *g = NULL;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	c->bits = EVP_PKEY_get_bits(pk);
	check_group(pk, c);
	if (EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_FFC_P, &pf.p) != 1 ||
	    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_FFC_G, &g) != 1 ||
	    (pf.q = BN_dup(pf.p)) == NULL || !BN_rshift1(pf.q, pf.q)) {
		rc = ssl_error(e, _("reading the DH parameters"));
		goto out;
	}
	/* p = 7 (mod 8) makes 2 a quadratic residue: g = 2 then has order q */
	c->generator_ok = BN_is_word(g, 2) && BN_is_odd(pf.p) &&
			  BN_mod_word(pf.p, 8) == 7;
	proof_run(&pf, poll, arg);
	if (pf.aborted && atomic_load(&pf.stop)) {
		rc = DH_CANCELLED;
		err_set(e, "%s", _("DH parameter generation cancelled"));
	}
	c->openssl_ok = pf.openssl_ok;
	c->p_prime = pf.p_prime;
	c->q_prime = pf.q_prime;
out:
	BN_free(pf.p);
	BN_free(pf.q);
	BN_free(g);
	ERR_clear_error();
	return rc;
}

bool dh_check_ok(const struct dh_check *c)
{
	return c->p_prime && c->q_prime && c->generator_ok && c->openssl_ok;
}

int dh_check_pem(const char *pem, size_t len, struct dh_check *c, struct error *e)
{
	EVP_PKEY *pk = pkey_from_pem(pem, len);
	int rc;

	memset(c, 0, sizeof(*c));
	if (pk == NULL) {
		ERR_clear_error();
		return err_set(e, "%s", _("not a PEM file with DH PARAMETERS"));
	}
	rc = check_pkey(pk, c, NULL, NULL, e);
	EVP_PKEY_free(pk);
	return rc < 0 ? -1 : 0;
}

/* ---- named groups ------------------------------------------------------ */

static bool same_p_g(EVP_PKEY *a, EVP_PKEY *b)
{
	BIGNUM *pa = NULL, *ga = NULL, *pb = NULL, *gb = NULL;
	bool same = EVP_PKEY_get_bn_param(a, OSSL_PKEY_PARAM_FFC_P, &pa) == 1 &&
		    EVP_PKEY_get_bn_param(a, OSSL_PKEY_PARAM_FFC_G, &ga) == 1 &&
		    EVP_PKEY_get_bn_param(b, OSSL_PKEY_PARAM_FFC_P, &pb) == 1 &&
		    EVP_PKEY_get_bn_param(b, OSSL_PKEY_PARAM_FFC_G, &gb) == 1 &&
		    BN_cmp(pa, pb) == 0 && BN_cmp(ga, gb) == 0;

	BN_free(pa);
	BN_free(ga);
	BN_free(pb);
	BN_free(gb);
	return same;
}

int dh_named_pem(int bits, char **pem, struct error *e)
{
	const char *group = dh_group_name(bits);
	EVP_PKEY *known, *back = NULL;
	struct dh_check c;
	char *out = NULL;
	int rc = -1;

	*pem = NULL;
	if (group == NULL)
		return err_set(e, _("no RFC 7919 group has %d bits (2048, 3072 or 4096)"), bits);
	if ((known = pkey_named(group)) == NULL)
		return ssl_error(e, group);
	if ((out = pkey_params_pem(known)) == NULL) {
		rc = ssl_error(e, _("writing the DH parameters"));
	} else if ((back = pkey_from_pem(out, strlen(out))) == NULL ||
		   !same_p_g(known, back)) {
		rc = err_set(e, _("the PEM written for %s does not read back as that group"), group);
	} else if (check_pkey(back, &c, NULL, NULL, e) < 0) {
		rc = -1;
	} else if (strcmp(c.group, group) != 0 || !dh_check_ok(&c) || c.bits != bits) {
		rc = err_set(e, _("%s failed its own check"), group);
	} else {
		*pem = out;
		out = NULL;
		rc = 0;
	}
	free(out);
	EVP_PKEY_free(back);
	EVP_PKEY_free(known);
	ERR_clear_error();
	return rc;
}

/* ---- fresh parameters -------------------------------------------------- */

struct prove_poll {
	const struct dh_gen_opts *o;
	struct dh_progress *pr;
	double t0;
};

static int prove_poll(void *arg)
{
	struct prove_poll *pp = arg;

	pp->pr->elapsed = now_seconds() - pp->t0;
	return pp->o->progress ? pp->o->progress(pp->pr, pp->o->arg) : 0;
}

/* Turns p into a PEM and proves it; 1 proved, 0 not (search again). */
static int prove_candidate(BIGNUM *p, struct prove_poll *pp, char **pem, struct error *e)
{
	BIGNUM *g = BN_new();
	EVP_PKEY *pk = NULL, *back = NULL;
	struct dh_check c;
	char *out = NULL;
	int rc;

	if (g == NULL || !BN_set_word(g, 2) || (pk = pkey_from_pg(p, g)) == NULL ||
	    (out = pkey_params_pem(pk)) == NULL) {
		rc = ssl_error(e, _("writing the DH parameters"));
		goto out;
	}
	/* prove what will be written, read back from the PEM itself */
	if ((back = pkey_from_pem(out, strlen(out))) == NULL) {
		rc = err_set(e, "%s", _("the generated PEM does not read back"));
		goto out;
	}
	pp->pr->phase = DH_PROVING;
	rc = check_pkey(back, &c, prove_poll, pp, e);
	pp->pr->phase = DH_SEARCHING;
	if (rc == 0 && dh_check_ok(&c) && c.bits == EVP_PKEY_get_bits(pk)) {
		*pem = out;
		out = NULL;
		rc = 1;
	}
out:
	free(out);
	EVP_PKEY_free(back);
	EVP_PKEY_free(pk);
	BN_free(g);
	return rc;
}

int dh_generate_pem(int bits, const struct dh_gen_opts *o, char **pem, struct error *e)
{
	struct dh_gen_opts none = {0};
	struct dh_progress pr = {.phase = DH_SEARCHING, .bits = bits};
	struct prove_poll pp = {.pr = &pr};
	BIGNUM *p = NULL;
	int rc;

	*pem = NULL;
	if (o == NULL)
		o = &none;
	if (bits < 1024 || bits > 8192)
		return err_set(e, _("DH parameters of %d bits: use 2048, 3072 or 4096"), bits);
	pthread_once(&sieve_once, sieve_primes_init);
	pr.expected_tests = expected_tests(bits);
	pp.o = o;
	pp.t0 = now_seconds();
	do {
		rc = search_run(bits, o, &pr, pp.t0, &p, e);
		if (rc == 0)
			rc = prove_candidate(p, &pp, pem, e);
		BN_free(p);
		p = NULL;
		/* rc == 0: a base-2 pseudoprime slipped through; search on */
	} while (rc == 0);
	return rc == 1 ? 0 : rc;
}

/* ---- writing ------------------------------------------------------------ */

int dh_write(const struct env *env, const char *server_path, const char *pem,
	     struct error *e)
{
	return txn_write_file(env, server_path, _("the DH file"), pem, strlen(pem), 0644, e);
}
