/*
 * mailcheck.c - mail-level checks and the certificate.
 */
#include "mailcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "mailproto.h"

void mail_facts_free(struct mail_facts *m)
{
	sl_free(&m->caps_before);
	sl_free(&m->caps_after);
	free(m->enforce_reply);
	free(m->injection_note);
	free(m->starttls_refusal);
	SSL_SESSION_free(m->session);
	memset(m, 0, sizeof(*m));
}

SSL_CTX *probe_ctx_new(const char *cafile, struct error *e)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		err_set(e, _("cannot create a TLS context"));
		return NULL;
	}
	/* the point is to see what the server does, even when it is weak */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	/* ask for a stapled OCSP response: it costs nothing and shows whether
	 * the server staples */
	SSL_CTX_set_tlsext_status_type(ctx, TLSEXT_STATUSTYPE_ocsp);
	if (cafile) {
		if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			SSL_CTX_free(ctx);
			ERR_clear_error();
			err_set(e, _("cannot read CA file %s"), cafile);
			return NULL;
		}
	} else {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	return ctx;
}

/* ---------------------------------------------------------------- plaintext */

static int enforce_test(struct mconn *c, enum mail_proto p, struct mail_facts *m, struct error *e)
{
	const char *cmd = p == PROTO_SMTP ? "MAIL FROM:<selftest@mailharden.invalid>"
		: p == PROTO_IMAP ? "L LOGIN mailharden-selftest not-a-password" : "USER mailharden-selftest";
	enum reply_mode mode = p == PROTO_SMTP ? RM_SMTP : p == PROTO_IMAP ? RM_IMAP_TAGGED : RM_POP3_LINE;
	struct reply r;

	if (mconn_sendline(c, cmd, e) < 0 || mconn_reply(c, mode, "L", &r, e) < 0) {
		reply_free(&r);
		return -1;
	}
	m->enforce_reply = reply_text(&r);
	if (p == PROTO_SMTP)
		m->enforced = r.code >= 400;
	else if (p == PROTO_POP3)
		m->enforced = r.code != 1;
	else /* IMAP: a password check means the password was accepted in clear */
		m->enforced = r.code != 1 && strcasestr(m->enforce_reply, "AUTHENTICATIONFAILED") == NULL;
	reply_free(&r);
	return 0;
}

int mail_check_plain(const struct target *t, bool test_enforce, struct mail_facts *m, struct error *e)
{
	struct mconn c;

	m->enforced = -1;
	if (mconn_open(&c, t, e) < 0)
		return c.timed_out ? MC_TIMEOUT : -1;
	if (mail_greeting(&c, t->proto, e) < 0 ||
	    mail_capabilities(&c, t->proto, &m->caps_before, e) < 0) {
		mconn_close(&c);
		sl_free(&m->caps_before);
		return c.timed_out ? MC_TIMEOUT : -1;
	}
	m->plain_done = true;
	m->starttls_offered = caps_has(&m->caps_before, t->proto == PROTO_POP3 ? "STLS" : "STARTTLS");
	m->auth_before_tls = caps_plain_auth(&m->caps_before, t->proto);
	if (test_enforce && enforce_test(&c, t->proto, m, e) < 0) {
		m->enforced = -1; /* the verdict stays "not tested" */
		free(m->enforce_reply);
		m->enforce_reply = xstrdup(e->msg); /* says why */
	}
	mail_quit(&c, t->proto);
	mconn_close(&c);
	return 0;
}

/* ---------------------------------------------------------------- certificate */

static void name_check(X509 *x, const char *name, struct cert_facts *cf)
{
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;

	snprintf(cf->checked_name, sizeof(cf->checked_name), "%s", name);
	if (is_ip) {
		cf->name_match = X509_check_ip_asc(x, name, 0) == 1;
		return;
	}
	cf->name_match = X509_check_host(x, name, 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) == 1;
	if (!cf->name_match && X509_check_host(x, name, 0, X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT, NULL) == 1)
		cf->name_cn_only = true;
}

/* How the server signed the handshake: "RSA-PSS+SHA256", "ECDSA+SHA384". */
static void tls_sigalg(SSL *ssl, struct cert_facts *cf)
{
	int type = NID_undef, md = NID_undef;
	const char *t;

	if (SSL_get_peer_signature_type_nid(ssl, &type) != 1)
		return;
	SSL_get_peer_signature_nid(ssl, &md);
	t = type == EVP_PKEY_RSA ? "RSA" : type == EVP_PKEY_RSA_PSS ? "RSA-PSS" : type == EVP_PKEY_EC ? "ECDSA"
	  : type == EVP_PKEY_ED25519 ? "Ed25519" : type == EVP_PKEY_ED448 ? "Ed448" : OBJ_nid2sn(type);
	if (type == EVP_PKEY_ED25519 || type == EVP_PKEY_ED448 || md == NID_undef)
		snprintf(cf->tls_sigalg, sizeof(cf->tls_sigalg), "%s", t);
	else
		snprintf(cf->tls_sigalg, sizeof(cf->tls_sigalg), "%s+%s", t, OBJ_nid2sn(md));
}

/* keyUsage must allow signatures when the handshake signed (every
 * ephemeral key exchange); extendedKeyUsage, when present, must name
 * serverAuth.  Clients that check the purpose refuse anything else. */
static void key_usage(SSL *ssl, X509 *x, struct cert_facts *cf)
{
	uint32_t flags = X509_get_extension_flags(x);
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	int kx = c ? SSL_CIPHER_get_kx_nid(c) : NID_undef;
	bool signs = SSL_version(ssl) >= TLS1_3_VERSION || kx == NID_kx_ecdhe || kx == NID_kx_dhe;

	cf->key_usage_ok = -1;
	cf->key_usage_note[0] = '\0';
	if (flags & EXFLAG_XKUSAGE) {
		uint32_t xku = X509_get_extended_key_usage(x);

		cf->key_usage_ok = (xku & (XKU_SSL_SERVER | XKU_ANYEKU)) != 0;
		if (!cf->key_usage_ok)
			snprintf(cf->key_usage_note, sizeof(cf->key_usage_note), "%s",
				 _("extendedKeyUsage does not include serverAuth"));
	}
	if ((flags & EXFLAG_KUSAGE) && cf->key_usage_ok != 0) {
		uint32_t ku = X509_get_key_usage(x);

		cf->key_usage_ok = !signs || (ku & KU_DIGITAL_SIGNATURE);
		if (!cf->key_usage_ok)
			snprintf(cf->key_usage_note, sizeof(cf->key_usage_note), "%s",
				 _("keyUsage lacks digitalSignature, which every forward-secret handshake needs"));
	}
}

static void ocsp_staple(SSL *ssl, struct cert_facts *cf)
{
	const unsigned char *p = NULL;
	long len = SSL_get_tlsext_status_ocsp_resp(ssl, &p);
	OCSP_RESPONSE *resp;
	OCSP_BASICRESP *bs = NULL;

	cf->ocsp = len > 0 && p != NULL;
	cf->ocsp_status = -1;
	if (!cf->ocsp)
		return;
	resp = d2i_OCSP_RESPONSE(NULL, &p, len);
	if (resp && OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL &&
	    (bs = OCSP_response_get1_basic(resp)) != NULL && OCSP_resp_count(bs) > 0)
		cf->ocsp_status = OCSP_single_get0_status(OCSP_resp_get0(bs, 0), NULL, NULL, NULL, NULL);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
}

static void cert_facts_fill(SSL *ssl, const char *name, struct cert_facts *cf)
{
	X509 *x = SSL_get1_peer_certificate(ssl);
	EVP_PKEY *pk;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int days = 0, secs = 0, nid, dig = NID_undef, pknid;

	snprintf(cf->protocol, sizeof(cf->protocol), "%s", SSL_get_version(ssl));
	snprintf(cf->cipher, sizeof(cf->cipher), "%s", SSL_get_cipher_name(ssl));
	if (x == NULL)
		return;
	cf->have = true;
	X509_NAME_oneline(X509_get_subject_name(x), cf->subject, sizeof(cf->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), cf->issuer, sizeof(cf->issuer));
	cf->verify_result = SSL_get_verify_result(ssl);
	snprintf(cf->verify_text, sizeof(cf->verify_text), "%s",
		 X509_verify_cert_error_string(cf->verify_result));
	cf->name_match = -1;
	if (name && *name)
		name_check(x, name, cf);
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
		cf->days_left = days;
	cf->not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(x)) > 0;
	pk = X509_get0_pubkey(x);
	if (pk) {
		cf->key_bits = EVP_PKEY_get_bits(pk);
		snprintf(cf->key_type, sizeof(cf->key_type), "%s", EVP_PKEY_get0_type_name(pk));
	}
	nid = X509_get_signature_nid(x);
	snprintf(cf->sig_alg, sizeof(cf->sig_alg), "%s", OBJ_nid2sn(nid));
	if (OBJ_find_sigid_algs(nid, &dig, &pknid))
		cf->sig_weak = dig == NID_md5 || dig == NID_sha1 || dig == NID_md2 || dig == NID_md4;
	X509_digest(x, EVP_sha256(), md, &mdlen);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(cf->sha256 + 2 * i, 3, "%02X", md[i]);
	tls_sigalg(ssl, cf);
	key_usage(ssl, x, cf);
	ocsp_staple(ssl, cf);
	X509_free(x);
}

/* ---------------------------------------------------------------- TLS */

static int open_tls(const struct target *t, SSL_CTX *ctx, struct mconn *c, struct error *e)
{
	if (mail_open_for_tls(t, c, e) < 0)
		return c->timed_out ? MC_TIMEOUT : -1;
	if (mconn_tls(c, ctx, t->servername, e) < 0) {
		mconn_close(c);
		return c->timed_out ? MC_TIMEOUT : -1;
	}
	return 0;
}

int mail_check_tls(const struct target *t, SSL_CTX *ctx, struct mail_facts *m,
		   struct cert_facts *cf, struct error *e)
{
	struct mconn c;
	const char *name = t->servername ? t->servername : t->host;
	int rc = open_tls(t, ctx, &c, e);

	if (rc < 0)
		return rc;
	cert_facts_fill(c.ssl, name, cf);
	if ((t->implicit_tls && mail_greeting(&c, t->proto, e) < 0) ||
	    mail_capabilities(&c, t->proto, &m->caps_after, e) < 0) {
		err_prefix(e, _("after TLS"));
		mconn_close(&c);
		sl_free(&m->caps_after);
		return c.timed_out ? MC_TIMEOUT : -1;
	}
	m->tls_done = true;
	mail_quit(&c, t->proto);
	/* TLS 1.3 tickets arrive after the handshake: read by now */
	SSL_SESSION_free(m->session);
	m->session = SSL_get1_session(c.ssl);
	mconn_tls_shutdown(&c);
	mconn_close(&c);
	return 0;
}

/* ---------------------------------------------------------------- more certificates, resumption */

struct family {
	const char *name;
	const char *sigalgs;
	const char *ciphers;
};

static const struct family families[] = {
	{"RSA", "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:rsa_pss_pss_sha256:"
		"rsa_pss_pss_sha384:rsa_pss_pss_sha512:RSA+SHA256:RSA+SHA384:RSA+SHA512:RSA+SHA224:RSA+SHA1",
	 "aRSA:@SECLEVEL=0"},
	{"ECDSA", "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA224:ECDSA+SHA1", "aECDSA:@SECLEVEL=0"},
	{"EdDSA", "ed25519:ed448", "aECDSA:@SECLEVEL=0"},
};

int mail_check_cert_family(const struct target *t, SSL_CTX *ctx, const char *family,
			   struct cert_facts *cf, struct error *e)
{
	const struct family *f = NULL;
	struct tls_opts o = {0};
	struct mconn c;
	int rc;

	for (size_t i = 0; i < ARRAY_LEN(families); i++)
		if (strcmp(families[i].name, family) == 0)
			f = &families[i];
	if (f == NULL)
		return err_set(e, "unknown key family %s", family);
	o.sigalgs = f->sigalgs;
	o.ciphers = f->ciphers;
	rc = mail_open_for_tls(t, &c, e);
	if (rc < 0)
		return c.timed_out ? MC_TIMEOUT : -1;
	if (mconn_tls_opts(&c, ctx, t->servername, &o, e) < 0) {
		mconn_close(&c);
		return c.timed_out ? MC_TIMEOUT : 0; /* no certificate of that family */
	}
	memset(cf, 0, sizeof(*cf));
	cert_facts_fill(c.ssl, t->servername ? t->servername : t->host, cf);
	mconn_tls_shutdown(&c);
	mconn_close(&c);
	return cf->have ? 1 : 0;
}

/* One handshake with o; 1 when it resumed o->session, 0 when not, -1 on
 * errors.  *out (if asked) gets the new session. */
static int resume_try(const struct target *t, SSL_CTX *ctx, const struct tls_opts *o, SSL_SESSION **out)
{
	struct mconn c;
	struct error e;
	int reused;

	if (mail_open_for_tls(t, &c, &e) < 0)
		return -1;
	if (mconn_tls_opts(&c, ctx, t->servername, o, &e) < 0) {
		mconn_close(&c);
		return -1;
	}
	reused = SSL_session_reused(c.ssl);
	if (out)
		*out = SSL_get1_session(c.ssl);
	mconn_tls_shutdown(&c);
	mconn_close(&c);
	return reused;
}

void mail_check_resumption(const struct target *t, SSL_CTX *ctx, bool tls12, struct mail_facts *m)
{
	m->resume_id = m->resume_ticket = -1;
	if (m->session) {
		struct tls_opts o = {.session = m->session};

		m->ticket = SSL_SESSION_has_ticket(m->session);
		m->ticket_lifetime = (long)SSL_SESSION_get_ticket_lifetime_hint(m->session);
		m->resume_ticket = m->ticket ? resume_try(t, ctx, &o, NULL) : 0;
	}
	if (tls12) {
		/* session IDs exist only up to TLS 1.2; no ticket, so only the
		 * server's session cache can resume */
		struct tls_opts o = {.max_version = TLS1_2_VERSION, .no_ticket = true};
		SSL_SESSION *s = NULL;
		unsigned int idlen = 0;

		if (resume_try(t, ctx, &o, &s) >= 0 && s) {
			SSL_SESSION_get_id(s, &idlen);
			o.session = s;
			m->resume_id = idlen > 0 ? resume_try(t, ctx, &o, NULL) : 0;
		}
		SSL_SESSION_free(s);
	}
}

/* ---------------------------------------------------------------- injection */

/* How long to look for an unsolicited answer before we say anything.  The
 * verdict does not depend on it: the order of the answers decides. */
#define INJECTION_PEEK_MS 100

static void injection_found(struct mail_facts *m, const char *line)
{
	char *clean = xstrdup(line);

	for (char *p = clean; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	m->injection = 1;
	free(m->injection_note);
	m->injection_note = xasprintf(_("the server answered the injected command inside TLS: %s"), clean);
	free(clean);
}

/* SMTP: EHLO then QUIT.  A server that is not vulnerable answers exactly
 * these two, the second with 221; a vulnerable one answers the injected
 * NOOP first, so the second answer we read is EHLO's 250. */
static int injection_smtp(struct mconn *c, struct mail_facts *m, struct error *e)
{
	struct reply r1, r2;
	int rc = -1;

	memset(&r2, 0, sizeof(r2));
	if (mconn_sendline(c, "EHLO " EHLO_NAME, e) < 0 || mconn_reply(c, RM_SMTP, NULL, &r1, e) < 0)
		goto out;
	if (mconn_sendline(c, "QUIT", e) < 0 || mconn_reply(c, RM_SMTP, NULL, &r2, e) < 0)
		goto out;
	if (r2.code == 221) {
		m->injection = 0;
		rc = 0;
	} else if (r2.code == 250 && r1.lines.n > 0) {
		injection_found(m, r1.lines.v[0]);
		rc = 0;
	} else {
		char *t = reply_text(&r2);

		err_set(e, _("unexpected answer to QUIT: %s"), t);
		free(t);
	}
out:
	reply_free(&r1);
	reply_free(&r2);
	return rc;
}

/* IMAP: tags tell whose answer a line is. */
static int injection_imap(struct mconn *c, struct mail_facts *m, struct error *e)
{
	char line[REPLY_MAX_LINE + 1];

	if (mconn_sendline(c, "C NOOP", e) < 0)
		return -1;
	for (int i = 0; i < REPLY_MAX_LINES; i++) {
		if (mconn_line(c, line, sizeof(line), e) < 0)
			return -1;
		if (strncmp(line, "J ", 2) == 0) {
			injection_found(m, line);
			return 0;
		}
		if (strncmp(line, "C ", 2) == 0) {
			m->injection = 0;
			mail_quit(c, PROTO_IMAP);
			return 0;
		}
	}
	return err_set(e, _("no tagged answer to NOOP"));
}

/* POP3: CAPA worked before STLS, so its answer is "+OK", capability
 * lines and "."; a status line anywhere in it is the injected NOOP's. */
static int injection_pop3(struct mconn *c, struct mail_facts *m, struct error *e)
{
	char line[REPLY_MAX_LINE + 1];

	if (mconn_sendline(c, "CAPA", e) < 0)
		return -1;
	for (int i = 0; i < REPLY_MAX_LINES; i++) {
		bool status;

		if (mconn_line(c, line, sizeof(line), e) < 0)
			return -1;
		status = strncmp(line, "+OK", 3) == 0 || strncmp(line, "-ERR", 4) == 0;
		if ((i == 0 && strncmp(line, "-ERR", 4) == 0) || (i > 0 && status)) {
			injection_found(m, line);
			return 0;
		}
		if (i > 0 && strcmp(line, ".") == 0) {
			m->injection = 0;
			mail_quit(c, PROTO_POP3);
			return 0;
		}
		if (i == 0 && !status)
			return err_set(e, _("not a POP3 reply"));
	}
	return err_set(e, _("CAPA answer without an end"));
}

/* Inside TLS: first whatever the server says unasked (only an injected
 * command's answer can come), then our own command, whose place among the
 * answers tells the rest. */
static int injection_verdict(struct mconn *c, enum mail_proto p, struct mail_facts *m, struct error *e)
{
	if (mconn_wait_data(c, INJECTION_PEEK_MS)) {
		char line[REPLY_MAX_LINE + 1];

		if (mconn_line(c, line, sizeof(line), e) == 0 &&
		    (p != PROTO_IMAP || strncmp(line, "J ", 2) == 0 || strncmp(line, "* ", 2) != 0)) {
			injection_found(m, line);
			return 0;
		}
	}
	if (p == PROTO_SMTP)
		return injection_smtp(c, m, e);
	if (p == PROTO_IMAP)
		return injection_imap(c, m, e);
	return injection_pop3(c, m, e);
}

static int injection_once(const struct target *t, SSL_CTX *ctx, struct mail_facts *m, struct error *e)
{
	struct mconn c;
	struct strlist caps = STRLIST_INIT;
	struct reply r;
	/* a harmless command: a vulnerable server that runs it stays up */
	const char *both = t->proto == PROTO_SMTP ? "STARTTLS\r\nNOOP\r\n"
		: t->proto == PROTO_IMAP ? "S STARTTLS\r\nJ NOOP\r\n" : "STLS\r\nNOOP\r\n";
	enum reply_mode mode = t->proto == PROTO_SMTP ? RM_SMTP : t->proto == PROTO_IMAP ? RM_IMAP_TAGGED : RM_POP3_LINE;
	int rc = -1;

	m->injection = -1;
	if (mconn_open(&c, t, e) < 0)
		return c.timed_out ? MC_TIMEOUT : -1;
	if (mail_greeting(&c, t->proto, e) < 0 ||
	    (t->proto == PROTO_SMTP && mail_capabilities(&c, t->proto, &caps, e) < 0))
		goto out;
	/* one write, one segment: the injected command travels with STARTTLS */
	memset(&r, 0, sizeof(r));
	if (mconn_send(&c, both, strlen(both), e) < 0 || mconn_reply(&c, mode, "S", &r, e) < 0) {
		reply_free(&r);
		goto out;
	}
	if ((t->proto == PROTO_SMTP && r.code != 220) || (t->proto != PROTO_SMTP && r.code != 1)) {
		char *txt = reply_text(&r);

		err_set(e, _("STARTTLS refused: %s"), txt);
		free(txt);
		reply_free(&r);
		goto out;
	}
	reply_free(&r);
	if (c.len > 0) {
		/* answered in clear before TLS: odd, but not the CVE */
		m->injection = 0;
		m->injection_note = xstrdup(_("the server answered the pipelined command before TLS"));
		rc = 0;
		goto out;
	}
	if (mconn_tls(&c, ctx, t->servername, e) < 0) {
		/* Dovecot reads the pipelined bytes as the start of TLS and the
		 * handshake fails: nothing can run inside TLS.  Only a verdict
		 * when a handshake without them works. */
		if (!c.timed_out && m->tls_done) {
			m->injection = 0;
			m->injection_note = xasprintf(_("the pipelined command broke the TLS handshake (%s)"), e->msg);
			rc = 0;
		}
		goto out;
	}
	rc = injection_verdict(&c, t->proto, m, e);
out:
	if (rc < 0 && c.timed_out)
		rc = MC_TIMEOUT;
	sl_free(&caps);
	mconn_close(&c);
	return rc;
}

int mail_check_injection(const struct target *t, SSL_CTX *ctx, struct mail_facts *m, struct error *e)
{
	int rc = injection_once(t, ctx, m, e);

	if (rc == MC_TIMEOUT) {
		struct target patient = *t;

		patient.timeout_ms *= 3;
		rc = injection_once(&patient, ctx, m, e);
	}
	if (rc < 0) {
		m->injection = -1;
		free(m->injection_note);
		m->injection_note = xstrdup(e->msg);
	}
	return rc;
}
