/*
 * cert.c - certificate inspection, lab certificates and TLSA records.
 *
 * Every judgement is a finding with a severity, so the wizard, the CLI and
 * the self-test show the same words for the same problem.
 */
#include "cert.h"
#include "txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "fsutil.h"

#define DAY_SECONDS 86400L

static int ssl_error(struct error *e, const char *what)
{
	unsigned long code = ERR_get_error();
	char buf[256] = "";

	if (code != 0)
		ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	return err_set(e, _("%s failed: %s"), what, *buf ? buf : _("unknown OpenSSL error"));
}

/* ---- reading ----------------------------------------------------------- */

/* Every CERTIFICATE block of the file, in order; other PEM blocks (a key,
 * DH parameters) are skipped. */
static STACK_OF(X509) *read_chain(const char *path, const char *shown, struct error *e)
{
	STACK_OF(X509) *chain;
	BIO *bio = BIO_new_file(path, "r");
	X509 *x;

	if (bio == NULL) {
		ERR_clear_error();
		err_sys(e, _("cannot read %s"), shown);
		return NULL;
	}
	chain = sk_X509_new_null();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, x);
	ERR_clear_error(); /* the end of the file reads as "no start line" */
	BIO_free(bio);
	if (sk_X509_num(chain) == 0) {
		sk_X509_free(chain);
		err_set(e, _("%s holds no PEM certificate"), shown);
		return NULL;
	}
	return chain;
}

/* Refuses to prompt for a pass phrase: a server reads its key unattended. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static EVP_PKEY *read_key(const char *path)
{
	BIO *bio = BIO_new_file(path, "r");
	EVP_PKEY *pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;

	BIO_free(bio);
	ERR_clear_error();
	return pk;
}

static char *name_line(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *s;
	long n;

	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_get_mem_data(bio, &data);
	s = xstrndup(data ? data : "", n > 0 ? (size_t)n : 0);
	BIO_free(bio);
	return s;
}

static char *name_entry(const X509_NAME *name, int nid)
{
	int i = X509_NAME_get_index_by_NID(name, nid, -1);
	const ASN1_STRING *v;
	unsigned char *utf8 = NULL;
	char *s;
	int n;

	if (i < 0)
		return NULL;
	v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	if ((n = ASN1_STRING_to_UTF8(&utf8, v)) < 0)
		return NULL;
	s = xstrndup((const char *)utf8, (size_t)n);
	OPENSSL_free(utf8);
	return s;
}

static void read_dns_names(X509 *x, struct strlist *out)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		const unsigned char *d;

		if (gn->type != GEN_DNS)
			continue;
		d = ASN1_STRING_get0_data(gn->d.dNSName);
		sl_add_owned(out, xstrndup((const char *)d, (size_t)ASN1_STRING_length(gn->d.dNSName)));
	}
	GENERAL_NAMES_free(names);
}

static char *key_type(EVP_PKEY *pk)
{
	char group[64] = "";
	size_t n = 0;

	if (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS"))
		return xstrdup("RSA");
	if (EVP_PKEY_is_a(pk, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), &n) == 1)
			return xasprintf("EC %s", group);
		return xstrdup("EC");
	}
	return xstrdup(EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "?");
}

static int spki_sha256(X509 *x, char out[65])
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

	out[0] = '\0';
	if (n <= 0)
		return -1;
	fs_sha256_hex(der, (size_t)n, out);
	OPENSSL_free(der);
	return 0;
}

static time_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

static bool issued_by(X509 *subject, X509 *issuer)
{
	EVP_PKEY *pk = X509_get0_pubkey(issuer);
	bool ok = X509_check_issued(issuer, subject) == X509_V_OK && pk != NULL &&
		  X509_verify(subject, pk) == 1;

	ERR_clear_error();
	return ok;
}

static void read_info(X509 *x, struct cert_info *ci)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char *org;

	ci->subject = name_line(X509_get_subject_name(x));
	ci->issuer = name_line(X509_get_issuer_name(x));
	ci->common_name = name_entry(X509_get_subject_name(x), NID_commonName);
	read_dns_names(x, &ci->dns_names);
	ci->not_before = asn1_time(X509_get0_notBefore(x));
	ci->not_after = asn1_time(X509_get0_notAfter(x));
	ci->key_type = pk ? key_type(pk) : xstrdup("?");
	ci->key_bits = pk ? EVP_PKEY_get_bits(pk) : 0;
	ci->sig_alg = xstrdup(OBJ_nid2ln(X509_get_signature_nid(x)));
	/* not issued_by(x, x): a leaf without keyCertSign is still self-signed */
	ci->self_signed = X509_self_signed(x, 1) == 1;
	ci->is_ca = X509_check_ca(x) != 0;
	org = name_entry(X509_get_subject_name(x), NID_organizationName);
	ci->lab = org != NULL && strcmp(org, CERT_LAB_ORG) == 0;
	free(org);
	spki_sha256(x, ci->spki_sha256);
	ERR_clear_error();
}

/* ---- judging ----------------------------------------------------------- */

static void judge_validity(const struct cert_inspect_opts *o, struct cert_report *r,
			   time_t now)
{
	const struct cert_info *leaf = &r->certs[0];
	int warn = o->warn_days > 0 ? o->warn_days : CERT_WARN_DAYS;
	long days = (long)((leaf->not_after - now) / DAY_SECONDS);

	if (leaf->not_after <= now)
		findings_addf(&r->findings, "cert.expired", SEV_CRITICAL,
			      _("renew the certificate (e.g. with your ACME client) and reload the server"),
			      _("the certificate expired %ld days ago"), -days);
	else if (leaf->not_before > now)
		findings_addf(&r->findings, "cert.not_yet_valid", SEV_CRITICAL,
			      _("check the clock of this host and of the issuing system"),
			      "%s", _("the certificate is not valid yet"));
	else if (days < warn)
		findings_addf(&r->findings, "cert.expiring", days < 7 ? SEV_HIGH : SEV_MEDIUM,
			      _("renew it now; automate renewal (ACME) so this never becomes urgent"),
			      _("the certificate expires in %ld days"), days);
	else
		findings_addf(&r->findings, "cert.validity", SEV_OK, NULL,
			      _("valid for %ld more days"), days);
	for (size_t i = 1; i < r->n_certs; i++)
		if (r->certs[i].not_after <= now)
			findings_addf(&r->findings, "cert.chain.expired", SEV_HIGH,
				      _("get the current intermediate from your CA"),
				      _("certificate %zu of the chain (%s) has expired"), i + 1,
				      r->certs[i].subject);
}

static void judge_strength(struct cert_report *r)
{
	const struct cert_info *leaf = &r->certs[0];
	const char *sig = leaf->sig_alg;

	if ((strcmp(leaf->key_type, "RSA") == 0 && leaf->key_bits < 2048) ||
	    (strncmp(leaf->key_type, "EC", 2) == 0 && leaf->key_bits < 256))
		findings_addf(&r->findings, "cert.key.weak", SEV_HIGH,
			      _("get a new certificate with an RSA key of 2048 bits or more, or ECDSA P-256"),
			      _("the %s key has only %d bits"), leaf->key_type, leaf->key_bits);
	if (strstr(sig, "md5") || strstr(sig, "MD5") || strstr(sig, "sha1") || strstr(sig, "SHA1"))
		findings_addf(&r->findings, "cert.signature.weak", SEV_HIGH,
			      _("get a certificate signed with SHA-256 or better"),
			      _("the certificate is signed with %s"), sig);
}

static void judge_self_signed(struct cert_report *r)
{
	const struct cert_info *leaf = &r->certs[0];

	if (!leaf->self_signed)
		return;
	findings_addf(&r->findings, "cert.self_signed", SEV_HIGH,
		      _("use a certificate from a public CA (e.g. Let's Encrypt); for DANE, publish TLSA records"),
		      "%s", leaf->lab ? _("a self-signed mailharden lab certificate: for labs only, never on a real mail server")
				      : _("the certificate is self-signed: clients cannot verify it (the guide: do not use self-signed certificates on an MTA)"));
}

/* True when chain[i] issued another certificate of the chain or was
 * issued by one: it belongs to the chain, only elsewhere. */
static bool related(STACK_OF(X509) *chain, int i)
{
	for (int j = 0; j < sk_X509_num(chain); j++)
		if (j != i && (issued_by(sk_X509_value(chain, i), sk_X509_value(chain, j)) ||
			       issued_by(sk_X509_value(chain, j), sk_X509_value(chain, i))))
			return true;
	return false;
}

static bool issuer_in_store(X509_STORE *store, X509 *x)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *issuer = NULL;
	bool found = false;

	if (store != NULL && ctx != NULL && X509_STORE_CTX_init(ctx, store, x, NULL) == 1 &&
	    X509_STORE_CTX_get1_issuer(&issuer, ctx, x) == 1) {
		found = issued_by(x, issuer);
		X509_free(issuer);
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return found;
}

static X509_STORE *trust_store(const char *ca_file)
{
	X509_STORE *store = X509_STORE_new();

	if (store == NULL)
		return NULL;
	if (ca_file != NULL ? X509_STORE_load_file(store, ca_file) != 1
			    : X509_STORE_set_default_paths(store) != 1) {
		X509_STORE_free(store);
		store = NULL;
	}
	ERR_clear_error();
	return store;
}

/* Each certificate must be issued by the next one; returns false when the
 * order is broken (and says how). */
static bool judge_order(STACK_OF(X509) *chain, struct cert_report *r)
{
	int n = sk_X509_num(chain);

	for (int i = 0; i + 1 < n; i++) {
		if (issued_by(sk_X509_value(chain, i), sk_X509_value(chain, i + 1)))
			continue;
		if (related(chain, i) && related(chain, i + 1))
			findings_addf(&r->findings, "cert.chain.order", SEV_HIGH,
				      _("put the leaf first, then each issuer in turn"),
				      _("certificate %d (%s) is not issued by the next one: wrong order"),
				      i + 1, r->certs[i].subject);
		else
			findings_addf(&r->findings, "cert.chain.order", SEV_HIGH,
				      _("remove certificates that do not belong to this chain; add the right intermediate"),
				      _("certificate %d (%s) is not issued by the next certificate (%s)"),
				      i + 1, r->certs[i].subject, r->certs[i + 1].subject);
		return false;
	}
	return true;
}

static void judge_chain(const struct cert_inspect_opts *o, STACK_OF(X509) *chain,
			struct cert_report *r)
{
	int n = sk_X509_num(chain);
	const struct cert_info *last = &r->certs[n - 1];
	X509_STORE *store;

	if (r->certs[0].self_signed)
		return; /* judged as self-signed; there is no chain to complete */
	if (!judge_order(chain, r))
		return;
	if (last->self_signed) {
		findings_addf(&r->findings, "cert.chain.root_included", SEV_INFO,
			      _("the root may be left out: clients have it"),
			      _("the chain ends with the root %s"), last->subject);
		return;
	}
	store = trust_store(o->ca_file);
	if (issuer_in_store(store, sk_X509_value(chain, n - 1)))
		findings_addf(&r->findings, "cert.chain.ok", SEV_OK, NULL,
			      _("chain complete: %d certificate(s), in order, up to the trusted root %s"),
			      n, last->issuer);
	else if (n == 1)
		findings_addf(&r->findings, "cert.chain.missing_intermediate", SEV_HIGH,
			      _("append the intermediate certificate(s) from your CA to the file, after the leaf"),
			      _("the file holds only the leaf; its issuer %s is missing (intermediate certificate)"),
			      last->issuer);
	else
		findings_addf(&r->findings, "cert.chain.incomplete", SEV_MEDIUM,
			      _("append the missing intermediate, unless this is a private CA the clients trust"),
			      _("the chain ends at %s, whose issuer %s is neither in the file nor a trusted root"),
			      last->subject, last->issuer);
	X509_STORE_free(store);
}

/* Says which names the certificate does have, so the admin sees whether
 * the host name or the certificate is the wrong one. */
static void name_mismatch(const struct cert_inspect_opts *o, const struct cert_info *ci,
			  struct cert_report *r)
{
	struct strbuf names = STRBUF_INIT;

	for (size_t i = 0; i < ci->dns_names.n; i++)
		sb_addf(&names, "%s%s", names.len ? ", " : "", ci->dns_names.v[i]);
	if (names.len == 0 && ci->common_name)
		sb_addf(&names, "CN=%s", ci->common_name);
	findings_addf(&r->findings, "cert.name.mismatch", SEV_HIGH,
		      _("use a certificate that names the host in subjectAltName (the MX / EHLO name)"),
		      _("the certificate is not valid for %s: it names %s"), o->host,
		      names.len ? names.buf : _("no host at all"));
	sb_free(&names);
}

static void judge_name(const struct cert_inspect_opts *o, X509 *leaf, struct cert_report *r)
{
	const struct cert_info *ci = &r->certs[0];

	if (ci->dns_names.n == 0)
		findings_addf(&r->findings, "cert.san.missing", SEV_MEDIUM,
			      _("get a certificate with the host names in subjectAltName"),
			      "%s", _("the certificate has no DNS subjectAltName: clients ignore the CN"));
	if (o->host == NULL)
		return;
	if (X509_check_host(leaf, o->host, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
			    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1)
		findings_addf(&r->findings, "cert.name.ok", SEV_OK, NULL,
			      _("the certificate is valid for %s"), o->host);
	else if (X509_check_host(leaf, o->host, 0, X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT, NULL) == 1)
		findings_addf(&r->findings, "cert.name.cn_only", SEV_MEDIUM,
			      _("get a certificate with the name in subjectAltName"),
			      _("%s is only in the CN, not in subjectAltName: modern clients reject it"),
			      o->host);
	else
		name_mismatch(o, ci, r);
	ERR_clear_error();
}

static void judge_key_file(const struct cert_inspect_opts *o, const struct stat *st,
			   struct cert_report *r)
{
	r->key_uid = st->st_uid;
	r->key_gid = st->st_gid;
	r->key_mode = st->st_mode & 07777;
	if (st->st_mode & S_IROTH)
		findings_addf(&r->findings, "cert.key.mode", SEV_CRITICAL,
			      _("chmod 0600 the key (and get a new key and certificate if others could read it)"),
			      _("%s is readable by everyone (mode %04o)"), o->key_shown,
			      (unsigned)r->key_mode);
	else if (st->st_mode & (S_IRGRP | S_IWGRP | S_IWOTH))
		findings_addf(&r->findings, "cert.key.mode", SEV_MEDIUM,
			      _("chmod 0600 the key"),
			      _("%s is accessible to its group (mode %04o)"), o->key_shown,
			      (unsigned)r->key_mode);
	if (st->st_uid != 0)
		findings_addf(&r->findings, "cert.key.owner", SEV_MEDIUM,
			      _("chown root the key: the server reads it before it drops privileges"),
			      _("%s is owned by uid %u, not root"), o->key_shown, (unsigned)st->st_uid);
}

static void judge_key(const struct cert_inspect_opts *o, X509 *leaf, struct cert_report *r)
{
	struct stat st;
	EVP_PKEY *pk;

	if (o->key_path == NULL)
		return;
	if (stat(o->key_path, &st) != 0) {
		findings_addf(&r->findings, "cert.key.unreadable", SEV_CRITICAL,
			      _("give the path of the private key as the server sees it"),
			      _("cannot read %s: %s"), o->key_shown, strerror(errno));
		return;
	}
	judge_key_file(o, &st, r);
	if ((pk = read_key(o->key_path)) == NULL) {
		findings_addf(&r->findings, "cert.key.unreadable", SEV_CRITICAL,
			      _("the server needs an unencrypted PEM key it can read unattended"),
			      _("%s is not a readable PEM private key (or it is encrypted)"), o->key_shown);
		return;
	}
	r->key_checked = true;
	r->key_matches = X509_check_private_key(leaf, pk) == 1;
	ERR_clear_error();
	if (r->key_matches)
		findings_addf(&r->findings, "cert.key.match", SEV_OK, NULL,
			      _("%s belongs to the certificate"), o->key_shown);
	else
		findings_addf(&r->findings, "cert.key.mismatch", SEV_CRITICAL,
			      _("use the key the certificate was issued for; the server will not start with this pair"),
			      _("%s does not belong to the certificate"), o->key_shown);
	EVP_PKEY_free(pk);
}

int cert_inspect(const struct cert_inspect_opts *o, struct cert_report *r, struct error *e)
{
	STACK_OF(X509) *chain;
	time_t now = o->now ? o->now : time(NULL);
	int n;

	memset(r, 0, sizeof(*r));
	if ((chain = read_chain(o->cert_path, o->cert_shown ? o->cert_shown : o->cert_path, e)) == NULL)
		return -1;
	n = sk_X509_num(chain);
	r->certs = xcalloc((size_t)n, sizeof(*r->certs));
	r->n_certs = (size_t)n;
	for (int i = 0; i < n; i++)
		read_info(sk_X509_value(chain, i), &r->certs[i]);
	judge_validity(o, r, now);
	judge_strength(r);
	judge_self_signed(r);
	judge_chain(o, chain, r);
	judge_name(o, sk_X509_value(chain, 0), r);
	judge_key(o, sk_X509_value(chain, 0), r);
	sk_X509_pop_free(chain, X509_free);
	return 0;
}

void cert_report_free(struct cert_report *r)
{
	for (size_t i = 0; i < r->n_certs; i++) {
		struct cert_info *ci = &r->certs[i];

		free(ci->subject);
		free(ci->issuer);
		free(ci->common_name);
		sl_free(&ci->dns_names);
		free(ci->key_type);
		free(ci->sig_alg);
	}
	free(r->certs);
	findings_free(&r->findings);
	memset(r, 0, sizeof(*r));
}

int cert_exit_code(const struct cert_report *r)
{
	enum severity worst = findings_worst(&r->findings);

	return worst >= SEV_CRITICAL ? 2 : worst >= SEV_LOW ? 1 : 0;
}

/* ---- lab certificates -------------------------------------------------- */

bool cert_hostname_valid(const char *name)
{
	size_t len = strlen(name), label = 0;
	const char *p = name;

	if (len == 0 || len > 253)
		return false;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	if (*p == '\0' || *p == '.')
		return false;
	for (; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
		} else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			   (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && p[-1] != '-';
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static int fill_lab_cert(X509 *x, EVP_PKEY *pk, const char *host, bool rsa, int days)
{
	X509_NAME *name = X509_get_subject_name(x);
	BIGNUM *serial = BN_new();
	char *san = xasprintf("DNS:%s", host);
	int ok;

	ok = serial && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	     BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) &&
	     X509_set_version(x, X509_VERSION_3) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) &&
	     X509_set_pubkey(x, pk) &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)CERT_LAB_ORG, -1, -1, 0) &&
	     /* CN is at most 64 characters; the SAN carries the name anyway */
	     (strlen(host) > 64 ||
	      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					 (const unsigned char *)host, -1, -1, 0)) &&
	     X509_set_issuer_name(x, name) &&
	     add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
	     add_ext(x, NID_key_usage, rsa ? "critical,digitalSignature,keyEncipherment"
					   : "critical,digitalSignature") == 0 &&
	     add_ext(x, NID_ext_key_usage, "serverAuth") == 0 &&
	     add_ext(x, NID_subject_key_identifier, "hash") == 0 &&
	     add_ext(x, NID_subject_alt_name, san) == 0 &&
	     X509_sign(x, pk, EVP_sha256()) > 0;
	free(san);
	BN_free(serial);
	return ok ? 0 : -1;
}

static char *bio_string(BIO *bio)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);

	return n > 0 ? xstrndup(data, (size_t)n) : NULL;
}

int cert_make_selfsigned(const char *host, bool rsa, int days, char **cert_pem,
			 char **key_pem, struct error *e)
{
	EVP_PKEY *pk;
	X509 *x = NULL;
	BIO *cb = NULL, *kb = NULL;
	int rc = -1;

	*cert_pem = *key_pem = NULL;
	if (!cert_hostname_valid(host))
		return err_set(e, _("'%s' is not a valid host name"), text_is_clean(host) ? host : "?");
	pk = rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072)
		 : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pk == NULL)
		return ssl_error(e, _("key generation"));
	if ((x = X509_new()) == NULL || fill_lab_cert(x, pk, host, rsa, days) < 0) {
		rc = ssl_error(e, _("making the certificate"));
	} else if ((cb = BIO_new(BIO_s_mem())) == NULL || (kb = BIO_new(BIO_s_mem())) == NULL ||
		   PEM_write_bio_X509(cb, x) != 1 ||
		   PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
		   (*cert_pem = bio_string(cb)) == NULL || (*key_pem = bio_string(kb)) == NULL) {
		free(*cert_pem);
		*cert_pem = NULL;
		rc = ssl_error(e, _("writing the certificate"));
	} else {
		rc = 0;
	}
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

static int write_one(const struct env *env, const char *server_path, const char *pem,
		     mode_t mode, struct error *e)
{
	return txn_write_file(env, server_path, _("a certificate or key file"), pem,
			      strlen(pem), mode, e);
}

int cert_write_pair(const struct env *env, const char *cert_path, const char *cert_pem,
		    const char *key_path, const char *key_pem, struct error *e)
{
	/* the key first: a certificate without its key is the worse leftover */
	if (write_one(env, key_path, key_pem, 0600, e) < 0)
		return -1;
	return write_one(env, cert_path, cert_pem, 0644, e);
}

/* ---- TLSA -------------------------------------------------------------- */

static void tlsa_host(X509 *leaf, struct cert_tlsa *t)
{
	struct strlist names = STRLIST_INIT;
	char *cn;

	read_dns_names(leaf, &names);
	for (size_t i = 0; i < names.n && !t->host[0]; i++)
		if (names.v[i][0] != '*' && cert_hostname_valid(names.v[i]))
			snprintf(t->host, sizeof(t->host), "%s", names.v[i]);
	sl_free(&names);
	if (!t->host[0] && (cn = name_entry(X509_get_subject_name(leaf), NID_commonName)) != NULL) {
		if (cert_hostname_valid(cn) && cn[0] != '*')
			snprintf(t->host, sizeof(t->host), "%s", cn);
		free(cn);
	}
}

int cert_tlsa(const char *path, struct cert_tlsa *t, struct error *e)
{
	STACK_OF(X509) *chain = read_chain(path, path, e);
	X509 *leaf;
	int rc = 0;

	memset(t, 0, sizeof(*t));
	if (chain == NULL)
		return -1;
	leaf = sk_X509_value(chain, 0);
	tlsa_host(leaf, t);
	if (spki_sha256(leaf, t->leaf) < 0) {
		rc = ssl_error(e, _("encoding the public key"));
	} else if (sk_X509_num(chain) > 1) {
		X509 *issuer = sk_X509_value(chain, 1);

		t->issuer_verified = issued_by(leaf, issuer);
		if (spki_sha256(issuer, t->issuer) < 0)
			rc = ssl_error(e, _("encoding the public key"));
	}
	sk_X509_pop_free(chain, X509_free);
	return rc;
}
