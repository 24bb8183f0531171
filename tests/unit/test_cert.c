/*
 * test_cert.c - certificate inspection findings, lab certificates, TLSA.
 *
 * The certificates are made here with OpenSSL: a root, an intermediate and
 * leaves that are fine, expired, self-signed, for the wrong name, ...
 */
#include "testutil.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../core/cert.h"

struct pair {
	X509 *x;
	EVP_PKEY *k;
};

static char *dir;

static void ext(X509 *x, X509 *issuer, int nid, const char *v)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
	assert_non_null(e);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/* A certificate for cn (san: a DNS name or NULL), valid from
 * now + from_days to now + to_days, signed by ca (NULL: self-signed). */
static struct pair make(const char *cn, const char *san, const struct pair *ca, bool is_ca,
			long from_days, long to_days)
{
	static long serial = 1;
	struct pair p = {X509_new(), EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")};
	X509_NAME *name = X509_get_subject_name(p.x);

	X509_set_version(p.x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(p.x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(p.x), from_days * 86400);
	X509_gmtime_adj(X509_getm_notAfter(p.x), to_days * 86400);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_set_pubkey(p.x, p.k);
	X509_set_issuer_name(p.x, ca ? X509_get_subject_name(ca->x) : name);
	ext(p.x, ca ? ca->x : p.x, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
	if (is_ca)
		ext(p.x, ca ? ca->x : p.x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (san != NULL) {
		char buf[300];

		snprintf(buf, sizeof(buf), "DNS:%s", san);
		ext(p.x, ca ? ca->x : p.x, NID_subject_alt_name, buf);
	}
	assert_true(X509_sign(p.x, ca ? ca->k : p.k, EVP_sha256()) > 0);
	return p;
}

static void pair_free(struct pair *p)
{
	X509_free(p->x);
	EVP_PKEY_free(p->k);
}

/* Writes the certificates (NULL-terminated) to dir/name; returns the path. */
static char *write_certs(const char *name, X509 *a, X509 *b, X509 *c)
{
	X509 *list[] = {a, b, c};
	char *path = malloc(4200);
	FILE *f;

	snprintf(path, 4200, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < 3 && list[i]; i++)
		PEM_write_X509(f, list[i]);
	fclose(f);
	return path;
}

static char *write_key(const char *name, EVP_PKEY *k, mode_t mode)
{
	char *path = malloc(4200);
	FILE *f;

	snprintf(path, 4200, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static struct pair root, inter, leaf;
static char *root_file;

static int setup(void **state)
{
	(void)state;
	dir = tu_mkdtemp();
	root = make("Test Root", NULL, NULL, true, -10, 3650);
	inter = make("Test Intermediate", NULL, &root, true, -10, 1000);
	leaf = make("mail.example.org", "mail.example.org", &inter, false, -10, 90);
	root_file = write_certs("root.pem", root.x, NULL, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pair_free(&root);
	pair_free(&inter);
	pair_free(&leaf);
	free(root_file);
	tu_rmrf(dir);
	free(dir);
	return 0;
}

/* Inspects cert (and key) for host against the test root. */
static void inspect(const char *cert, const char *key, const char *host, struct cert_report *r)
{
	struct cert_inspect_opts o = {.cert_path = cert, .cert_shown = cert, .key_path = key,
				      .key_shown = key, .host = host, .ca_file = root_file};
	struct error e = {{0}};

	assert_int_equal(cert_inspect(&o, r, &e), 0);
}

static void assert_finding(const struct cert_report *r, const char *id, enum severity sev)
{
	const struct finding *f = findings_find(&r->findings, id);

	if (f == NULL) {
		for (size_t i = 0; i < r->findings.n; i++)
			print_message("  have %s (%s)\n", r->findings.v[i].id, r->findings.v[i].text);
		fail_msg("no finding %s", id);
	}
	assert_int_equal(f->sev, sev);
}

static void test_good_chain(void **state)
{
	char *cert = write_certs("good.pem", leaf.x, inter.x, NULL);
	char *key = write_key("good.key", leaf.k, 0600);
	struct cert_report r;

	(void)state;
	inspect(cert, key, "mail.example.org", &r);
	assert_int_equal(r.n_certs, 2);
	assert_string_equal(r.certs[0].common_name, "mail.example.org");
	assert_string_equal(r.certs[0].key_type, "EC prime256v1");
	assert_int_equal(r.certs[0].key_bits, 256);
	assert_false(r.certs[0].self_signed);
	assert_finding(&r, "cert.chain.ok", SEV_OK);
	assert_finding(&r, "cert.name.ok", SEV_OK);
	assert_finding(&r, "cert.key.match", SEV_OK);
	assert_finding(&r, "cert.validity", SEV_OK);
	/* root:root 0600 when run as root; the test runs as root in CI */
	if (geteuid() == 0)
		assert_int_equal(findings_worst(&r.findings), SEV_OK);
	assert_int_equal(r.key_mode, 0600);
	cert_report_free(&r);
	free(cert);
	free(key);
}

static void test_expired_and_expiring(void **state)
{
	struct pair old = make("mail.example.org", "mail.example.org", &inter, false, -100, -2);
	struct pair soon = make("mail.example.org", "mail.example.org", &inter, false, -100, 12);
	struct pair later = make("mail.example.org", "mail.example.org", &inter, false, 5, 100);
	char *c1 = write_certs("old.pem", old.x, inter.x, NULL);
	char *c2 = write_certs("soon.pem", soon.x, inter.x, NULL);
	char *c3 = write_certs("later.pem", later.x, inter.x, NULL);
	struct cert_report r;

	(void)state;
	inspect(c1, NULL, NULL, &r);
	assert_finding(&r, "cert.expired", SEV_CRITICAL);
	assert_int_equal(cert_exit_code(&r), 2);
	cert_report_free(&r);
	inspect(c2, NULL, NULL, &r);
	assert_finding(&r, "cert.expiring", SEV_MEDIUM);
	assert_int_equal(cert_exit_code(&r), 1);
	cert_report_free(&r);
	inspect(c3, NULL, NULL, &r);
	assert_finding(&r, "cert.not_yet_valid", SEV_CRITICAL);
	cert_report_free(&r);
	pair_free(&old);
	pair_free(&soon);
	pair_free(&later);
	free(c1);
	free(c2);
	free(c3);
}

static void test_self_signed(void **state)
{
	struct pair self = make("mail.example.org", "mail.example.org", NULL, false, -1, 100);
	char *c = write_certs("self.pem", self.x, NULL, NULL);
	struct cert_report r;

	(void)state;
	inspect(c, NULL, "mail.example.org", &r);
	assert_true(r.certs[0].self_signed);
	assert_finding(&r, "cert.self_signed", SEV_HIGH);
	assert_null(findings_find(&r.findings, "cert.chain.missing_intermediate"));
	assert_int_equal(cert_exit_code(&r), 1);
	cert_report_free(&r);
	pair_free(&self);
	free(c);
}

static void test_wrong_name(void **state)
{
	struct pair wild = make("x", "*.example.org", &inter, false, -1, 100);
	struct pair cn_only = make("mx.example.net", NULL, &inter, false, -1, 100);
	char *c = write_certs("name.pem", leaf.x, inter.x, NULL);
	char *cw = write_certs("wild.pem", wild.x, inter.x, NULL);
	char *cc = write_certs("cn.pem", cn_only.x, inter.x, NULL);
	struct cert_report r;

	(void)state;
	inspect(c, NULL, "mx.example.net", &r);
	assert_finding(&r, "cert.name.mismatch", SEV_HIGH);
	cert_report_free(&r);
	inspect(cw, NULL, "mx1.example.org", &r);
	assert_finding(&r, "cert.name.ok", SEV_OK);
	cert_report_free(&r);
	inspect(cw, NULL, "a.b.example.org", &r); /* a wildcard covers one label */
	assert_finding(&r, "cert.name.mismatch", SEV_HIGH);
	/* the finding says which names the certificate has */
	assert_non_null(strstr(findings_find(&r.findings, "cert.name.mismatch")->text,
			       "a.b.example.org: it names *.example.org"));
	cert_report_free(&r);
	inspect(cc, NULL, "mx.example.net", &r);
	assert_finding(&r, "cert.name.cn_only", SEV_MEDIUM);
	assert_finding(&r, "cert.san.missing", SEV_MEDIUM);
	cert_report_free(&r);
	pair_free(&wild);
	pair_free(&cn_only);
	free(c);
	free(cw);
	free(cc);
}

static void test_chain_problems(void **state)
{
	struct pair other = make("Other CA", NULL, NULL, true, -1, 100);
	char *missing = write_certs("leafonly.pem", leaf.x, NULL, NULL);
	char *reversed = write_certs("reversed.pem", inter.x, leaf.x, NULL);
	char *unrelated = write_certs("unrelated.pem", leaf.x, other.x, NULL);
	char *with_root = write_certs("withroot.pem", leaf.x, inter.x, root.x);
	struct cert_report r;

	(void)state;
	inspect(missing, NULL, NULL, &r);
	assert_finding(&r, "cert.chain.missing_intermediate", SEV_HIGH);
	cert_report_free(&r);
	inspect(reversed, NULL, NULL, &r);
	assert_finding(&r, "cert.chain.order", SEV_HIGH);
	assert_non_null(strstr(findings_find(&r.findings, "cert.chain.order")->text, "wrong order"));
	cert_report_free(&r);
	inspect(unrelated, NULL, NULL, &r);
	assert_finding(&r, "cert.chain.order", SEV_HIGH);
	cert_report_free(&r);
	inspect(with_root, NULL, NULL, &r);
	assert_finding(&r, "cert.chain.root_included", SEV_INFO);
	cert_report_free(&r);
	pair_free(&other);
	free(missing);
	free(reversed);
	free(unrelated);
	free(with_root);
}

static void test_key_problems(void **state)
{
	struct pair stranger = make("x", "x.example.org", NULL, false, -1, 10);
	char *cert = write_certs("k.pem", leaf.x, inter.x, NULL);
	char *wrong = write_key("wrong.key", stranger.k, 0600);
	char *open_key = write_key("open.key", leaf.k, 0644);
	char *group_key = write_key("group.key", leaf.k, 0640);
	char nokey[4200];
	struct cert_report r;

	(void)state;
	inspect(cert, wrong, NULL, &r);
	assert_finding(&r, "cert.key.mismatch", SEV_CRITICAL);
	assert_false(r.key_matches);
	assert_int_equal(cert_exit_code(&r), 2);
	cert_report_free(&r);
	inspect(cert, open_key, NULL, &r);
	assert_finding(&r, "cert.key.mode", SEV_CRITICAL);
	assert_finding(&r, "cert.key.match", SEV_OK);
	assert_int_equal(r.key_mode, 0644);
	cert_report_free(&r);
	inspect(cert, group_key, NULL, &r);
	assert_finding(&r, "cert.key.mode", SEV_MEDIUM);
	cert_report_free(&r);
	snprintf(nokey, sizeof(nokey), "%s/absent.key", dir);
	inspect(cert, nokey, NULL, &r);
	assert_finding(&r, "cert.key.unreadable", SEV_CRITICAL);
	cert_report_free(&r);
	inspect(cert, cert, NULL, &r); /* a certificate is no key */
	assert_finding(&r, "cert.key.unreadable", SEV_CRITICAL);
	cert_report_free(&r);
	pair_free(&stranger);
	free(cert);
	free(wrong);
	free(open_key);
	free(group_key);
}

static void test_unreadable(void **state)
{
	struct cert_inspect_opts o = {.cert_shown = "/etc/x.pem"};
	struct error e = {{0}};
	struct cert_report r;
	char path[4200];

	(void)state;
	snprintf(path, sizeof(path), "%s/none.pem", dir);
	o.cert_path = path;
	assert_int_equal(cert_inspect(&o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "/etc/x.pem"));
	tu_write(dir, "notcert.pem", "hello\n");
	snprintf(path, sizeof(path), "%s/notcert.pem", dir);
	assert_int_equal(cert_inspect(&o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "no PEM certificate"));
}

static void test_selfsigned_lab(void **state)
{
	struct error e = {{0}};
	char *cert = NULL, *key = NULL, *back, path[4200];
	struct cert_report r;
	struct env env;
	struct stat st;

	(void)state;
	assert_int_equal(cert_make_selfsigned("mail.example.org", false, 30, &cert, &key, &e), 0);
	assert_int_equal(env_init(&env, dir, &e), 0);
	tu_write(dir, "etc/ssl/.keep", "");
	assert_int_equal(cert_write_pair(&env, "/etc/ssl/lab.crt", cert, "/etc/ssl/lab.key", key, &e), 0);
	back = tu_read(dir, "etc/ssl/lab.crt");
	assert_string_equal(back, cert);
	free(back);
	snprintf(path, sizeof(path), "%s/etc/ssl/lab.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	{
		char cpath[4200];
		struct cert_inspect_opts o = {.cert_path = cpath, .key_path = path, .key_shown = path,
					      .host = "mail.example.org"};

		snprintf(cpath, sizeof(cpath), "%s/etc/ssl/lab.crt", dir);
		assert_int_equal(cert_inspect(&o, &r, &e), 0);
	}
	assert_true(r.certs[0].lab);
	assert_true(r.certs[0].self_signed);
	assert_string_equal(r.certs[0].key_type, "EC prime256v1");
	assert_finding(&r, "cert.self_signed", SEV_HIGH);
	assert_non_null(strstr(findings_find(&r.findings, "cert.self_signed")->text, "lab"));
	assert_finding(&r, "cert.name.ok", SEV_OK);
	assert_finding(&r, "cert.key.match", SEV_OK);
	cert_report_free(&r);
	free(cert);
	free(key);
	assert_int_equal(cert_make_selfsigned("bad name", false, 30, &cert, &key, &e), -1);
	assert_int_equal(cert_make_selfsigned("a\nb", false, 30, &cert, &key, &e), -1);
	assert_null(cert);
	env_free(&env);
}

static void test_selfsigned_rsa(void **state)
{
	struct error e = {{0}};
	char *cert = NULL, *key = NULL;
	BIO *bio;
	X509 *x;

	(void)state;
	assert_int_equal(cert_make_selfsigned("*.example.org", true, 30, &cert, &key, &e), 0);
	bio = BIO_new_mem_buf(cert, -1);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 3072);
	assert_true(EVP_PKEY_is_a(X509_get0_pubkey(x), "RSA"));
	assert_int_equal(X509_check_host(x, "mx.example.org", 0, 0, NULL), 1);
	X509_free(x);
	BIO_free(bio);
	assert_non_null(strstr(key, "BEGIN PRIVATE KEY"));
	free(cert);
	free(key);
}

static void test_hostnames(void **state)
{
	(void)state;
	assert_true(cert_hostname_valid("mail.example.org"));
	assert_true(cert_hostname_valid("*.example.org"));
	assert_true(cert_hostname_valid("localhost"));
	assert_false(cert_hostname_valid(""));
	assert_false(cert_hostname_valid("-a.org"));
	assert_false(cert_hostname_valid("a-.org"));
	assert_false(cert_hostname_valid("a..org"));
	assert_false(cert_hostname_valid("a.org."));
	assert_false(cert_hostname_valid("a b.org"));
	assert_false(cert_hostname_valid("a.*.org"));
}

/* The SPKI hash is checked against one computed here from the DER. */
static void test_tlsa(void **state)
{
	char *chain = write_certs("tlsa.pem", leaf.x, inter.x, NULL);
	char *bad = write_certs("tlsa-bad.pem", leaf.x, root.x, NULL);
	unsigned char *der = NULL, md[32];
	char hex[65];
	struct cert_tlsa t;
	struct error e = {{0}};
	int n;

	(void)state;
	n = i2d_PUBKEY(X509_get0_pubkey(leaf.x), &der);
	assert_true(n > 0);
	EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	assert_int_equal(cert_tlsa(chain, &t, &e), 0);
	assert_string_equal(t.leaf, hex);
	assert_string_equal(t.host, "mail.example.org");
	assert_true(t.issuer_verified);
	assert_int_equal(strlen(t.issuer), 64);
	assert_string_not_equal(t.issuer, t.leaf);
	assert_int_equal(cert_tlsa(bad, &t, &e), 0);
	assert_false(t.issuer_verified);
	free(chain);
	free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_chain),
		cmocka_unit_test(test_expired_and_expiring),
		cmocka_unit_test(test_self_signed),
		cmocka_unit_test(test_wrong_name),
		cmocka_unit_test(test_chain_problems),
		cmocka_unit_test(test_key_problems),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_selfsigned_lab),
		cmocka_unit_test(test_selfsigned_rsa),
		cmocka_unit_test(test_hostnames),
		cmocka_unit_test(test_tlsa),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
