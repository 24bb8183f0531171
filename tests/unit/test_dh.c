/*
 * test_dh.c - RFC 7919 groups, the fresh safe-prime search, the checks,
 * cancelling, and writing the file.
 */
#include "testutil.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "../../core/dh.h"

/* RFC 7919, appendix A.1: ffdhe2048's p, copied from the RFC text */
static const char ffdhe2048_p[] =
	"FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695"
	"A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A"
	"D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935"
	"984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A"
	"BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4"
	"AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61"
	"9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005"
	"C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF";

static void pem_p_g(const char *pem, BIGNUM **p, BIGNUM **g)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pk = PEM_read_bio_Parameters(bio, NULL);

	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_FFC_P, p), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_FFC_G, g), 1);
	EVP_PKEY_free(pk);
	BIO_free(bio);
}

/* p prime, (p-1)/2 prime, p = 23 mod 24, g = 2: checked here, not by dh.c */
static void assert_safe_prime(const char *pem, int bits)
{
	BIGNUM *p = NULL, *g = NULL, *q;
	BN_CTX *ctx = BN_CTX_new();

	pem_p_g(pem, &p, &g);
	q = BN_dup(p);
	BN_rshift1(q, q);
	assert_int_equal(BN_num_bits(p), bits);
	assert_true(BN_is_word(g, 2));
	assert_int_equal(BN_mod_word(p, 24), 23);
	assert_int_equal(BN_check_prime(p, ctx, NULL), 1);
	assert_int_equal(BN_check_prime(q, ctx, NULL), 1);
	BN_free(p);
	BN_free(q);
	BN_free(g);
	BN_CTX_free(ctx);
}

static void test_sizes(void **state)
{
	(void)state;
	assert_true(dh_bits_valid(2048));
	assert_true(dh_bits_valid(3072));
	assert_true(dh_bits_valid(4096));
	assert_false(dh_bits_valid(1024));
	assert_false(dh_bits_valid(2047));
	assert_string_equal(dh_group_name(3072), "ffdhe3072");
	assert_null(dh_group_name(1024));
}

static void test_named_is_rfc7919(void **state)
{
	struct error e = {{0}};
	BIGNUM *p = NULL, *g = NULL, *want = NULL;
	struct dh_check c;
	char *pem = NULL;

	(void)state;
	assert_int_equal(dh_named_pem(2048, &pem, &e), 0);
	assert_non_null(strstr(pem, "-----BEGIN DH PARAMETERS-----"));
	pem_p_g(pem, &p, &g);
	assert_true(BN_hex2bn(&want, ffdhe2048_p) > 0);
	assert_int_equal(BN_cmp(p, want), 0);
	assert_true(BN_is_word(g, 2));
	assert_int_equal(dh_check_pem(pem, strlen(pem), &c, &e), 0);
	assert_true(dh_check_ok(&c));
	assert_string_equal(c.group, "ffdhe2048");
	assert_int_equal(c.bits, 2048);
	assert_safe_prime(pem, 2048);
	BN_free(p);
	BN_free(g);
	BN_free(want);
	free(pem);
}

static void test_named_other_sizes(void **state)
{
	struct error e = {{0}};
	struct dh_check c;
	char *pem = NULL;

	(void)state;
	assert_int_equal(dh_named_pem(3072, &pem, &e), 0);
	assert_int_equal(dh_check_pem(pem, strlen(pem), &c, &e), 0);
	assert_string_equal(c.group, "ffdhe3072");
	free(pem);
	assert_int_equal(dh_named_pem(1024, &pem, &e), -1);
	assert_null(pem);
	assert_non_null(strstr(e.msg, "1024"));
}

static char *pem_of(const BIGNUM *p, unsigned long g)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *gb = BN_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *pk = NULL;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	BN_set_word(gb, g);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p);
	OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, gb);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEY_PARAMETERS, params), 1);
	assert_int_equal(PEM_write_bio_Parameters(bio, pk), 1);
	n = BIO_get_mem_data(bio, &data);
	out = strndup(data, (size_t)n);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(gb);
	return out;
}

/* A prime that is not a safe prime, and a safe prime with a bad
 * generator, must both fail. */
static void test_check_rejects(void **state)
{
	struct error e = {{0}};
	BIGNUM *p = BN_new();
	struct dh_check c;
	char *pem;

	(void)state;
	/* p = 1 (mod 4): (p-1)/2 is even, never prime */
	assert_int_equal(BN_generate_prime_ex(p, 1024, 0, NULL, NULL, NULL), 1);
	while (BN_mod_word(p, 4) != 1)
		assert_int_equal(BN_generate_prime_ex(p, 1024, 0, NULL, NULL, NULL), 1);
	pem = pem_of(p, 2);
	assert_int_equal(dh_check_pem(pem, strlen(pem), &c, &e), 0);
	assert_true(c.p_prime);
	assert_false(c.q_prime);
	assert_false(c.openssl_ok);
	assert_false(dh_check_ok(&c));
	free(pem);
	BN_hex2bn(&p, ffdhe2048_p);
	pem = pem_of(p, 5);
	assert_int_equal(dh_check_pem(pem, strlen(pem), &c, &e), 0);
	assert_false(c.generator_ok);
	assert_false(dh_check_ok(&c));
	free(pem);
	BN_free(p);
	assert_int_equal(dh_check_pem("garbage", 7, &c, &e), -1);
	assert_non_null(strstr(e.msg, "DH PARAMETERS"));
}

struct counter {
	int calls;
	int cancel_after;
	struct dh_progress last;
};

static int count_progress(const struct dh_progress *p, void *arg)
{
	struct counter *c = arg;

	c->calls++;
	c->last = *p;
	return c->cancel_after > 0 && c->calls >= c->cancel_after;
}

/* The search itself, at 1024 bits so it stays quick. */
static void test_fresh_1024(void **state)
{
	struct counter cnt = {0};
	struct dh_gen_opts o = {.threads = 2, .progress = count_progress, .arg = &cnt};
	struct error e = {{0}};
	struct dh_check c;
	char *pem = NULL, *pem2 = NULL;

	(void)state;
	assert_int_equal(dh_generate_pem(1024, &o, &pem, &e), 0);
	assert_safe_prime(pem, 1024);
	assert_int_equal(dh_check_pem(pem, strlen(pem), &c, &e), 0);
	assert_true(dh_check_ok(&c));
	assert_string_equal(c.group, "");
	/* one thread, and a second search gives a different prime */
	o.threads = 1;
	assert_int_equal(dh_generate_pem(1024, &o, &pem2, &e), 0);
	assert_safe_prime(pem2, 1024);
	assert_string_not_equal(pem, pem2);
	free(pem);
	free(pem2);
}

static void test_fresh_cancel(void **state)
{
	struct counter cnt = {.cancel_after = 2};
	struct dh_gen_opts o = {.progress = count_progress, .arg = &cnt};
	struct error e = {{0}};
	char *pem = (char *)"x";

	(void)state;
	/* 4096 bits does not finish within two progress ticks */
	assert_int_equal(dh_generate_pem(4096, &o, &pem, &e), DH_CANCELLED);
	assert_null(pem);
	assert_int_equal(cnt.calls, 2);
	assert_int_equal(cnt.last.bits, 4096);
	assert_true(cnt.last.threads >= 1);
	assert_true(cnt.last.expected_tests > 100);
	assert_non_null(strstr(e.msg, "cancel"));
	assert_int_equal(dh_generate_pem(512, &o, &pem, &e), -1);
}

static void test_write(void **state)
{
	char *dir = tu_mkdtemp(), *pem = NULL, *back, path[4200];
	struct error e = {{0}};
	struct env env;
	struct stat st;

	(void)state;
	tu_write(dir, "etc/dovecot/.keep", "");
	assert_int_equal(env_init(&env, dir, &e), 0);
	assert_int_equal(dh_named_pem(2048, &pem, &e), 0);
	assert_int_equal(dh_write(&env, "/etc/dovecot/dh.pem", pem, &e), 0);
	back = tu_read(dir, "etc/dovecot/dh.pem");
	assert_string_equal(back, pem);
	snprintf(path, sizeof(path), "%s/etc/dovecot/dh.pem", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	if (geteuid() == 0)
		assert_int_equal(st.st_uid, 0);
	/* replacing keeps it whole; a relative path or a missing directory
	 * is an error and leaves nothing */
	assert_int_equal(dh_write(&env, "/etc/dovecot/dh.pem", pem, &e), 0);
	assert_int_equal(dh_write(&env, "dh.pem", pem, &e), -1);
	assert_int_equal(dh_write(&env, "/etc/nope/dh.pem", pem, &e), -1);
	assert_non_null(strstr(e.msg, "/etc/nope/dh.pem"));
	assert_int_equal(dh_write(&env, "/etc/dovecot/d\nh.pem", pem, &e), -1);
	assert_null(tu_read(dir, "etc/nope/dh.pem"));
	free(back);
	free(pem);
	env_free(&env);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_named_is_rfc7919),
		cmocka_unit_test(test_named_other_sizes),
		cmocka_unit_test(test_check_rejects),
		cmocka_unit_test(test_fresh_1024),
		cmocka_unit_test(test_fresh_cancel),
		cmocka_unit_test(test_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
