/*
 * judge.c - facts to findings, per role and profile.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>
#include <openssl/ssl.h>

#include "selftest.h"
#include "mailproto.h"
#include "suites.h"

/* The role decides how strict: only port 25 (mx) is opportunistic. */
static bool is_mx(const struct port_result *r)
{
	return r->spec.role == ROLE_MX;
}

static uint16_t version_of(const char *name)
{
	if (name == NULL)
		return V_TLS12;
	if (strcmp(name, "TLSv1.3") == 0)
		return V_TLS13;
	if (strcmp(name, "TLSv1.2") == 0)
		return V_TLS12;
	if (strcmp(name, "TLSv1.1") == 0)
		return V_TLS11;
	return V_TLS10;
}

/* Suites the profile's cipher strings compile to on this machine. */
static bool profile_allows(const struct profile *p, uint16_t code)
{
	static _Thread_local const struct profile *cached;
	static _Thread_local uint16_t allowed[256];
	static _Thread_local size_t n_allowed;

	if (cached != p) {
		SSL_CTX *ctx = SSL_CTX_new(TLS_method());
		STACK_OF(SSL_CIPHER) *sk;

		n_allowed = 0;
		cached = p;
		if (ctx == NULL)
			return true;
		SSL_CTX_set_security_level(ctx, 0);
		if (p->ciphers[0] == '\0' || SSL_CTX_set_cipher_list(ctx, p->ciphers) != 1)
			SSL_CTX_set_cipher_list(ctx, "eNULL:!eNULL"); /* none: TLS 1.3 only */
		SSL_CTX_set_ciphersuites(ctx, p->ciphersuites);
		sk = SSL_CTX_get_ciphers(ctx);
		for (int i = 0; sk && i < sk_SSL_CIPHER_num(sk) && n_allowed < 256; i++)
			allowed[n_allowed++] = (uint16_t)SSL_CIPHER_get_protocol_id(sk_SSL_CIPHER_value(sk, i));
		SSL_CTX_free(ctx);
	}
	for (size_t i = 0; i < n_allowed; i++)
		if (allowed[i] == code)
			return true;
	return false;
}

static const char *server_of(const struct port_result *r)
{
	if (r->spec.server)
		return r->spec.server;
	return r->spec.proto == PROTO_SMTP ? "postfix" : "dovecot";
}

static const char *role_name_of(const struct port_result *r)
{
	const struct role_info *ri = r->spec.role ? role_info(r->spec.role) : NULL;

	return ri ? ri->name : "?";
}

/* The hint names the server's own setting and the mailharden command. */
static char *fix(const struct selftest_opts *o, const struct port_result *r, const char *postfix,
		 const char *dovecot)
{
	const char *srv = server_of(r);
	const char *setting = strcmp(srv, "postfix") == 0 ? postfix : strcmp(srv, "dovecot") == 0 ? dovecot : NULL;
	struct strbuf sb = STRBUF_INIT;

	if (setting)
		sb_addf(&sb, "%s %s; ", srv, setting);
	/* applying again would change nothing the admin's line does not undo */
	if (r->spec.override)
		sb_addf(&sb, _("what mailharden applied is overridden at %s: change it there "
			       "(mailharden verify says how)"), r->spec.override);
	else
		sb_addf(&sb, "mailharden apply --server %s --role %s --profile %s", srv,
			role_name_of(r), is_mx(r) ? "intermediate" : o->profile->name);
	return sb_detach(&sb);
}

#define ADD(id, sev, fixtext, ...) \
	do { \
		char *fx_ = (fixtext); \
		findings_addf(&r->findings, id, sev, fx_, __VA_ARGS__); \
		free(fx_); \
	} while (0)

static void judge_mail(const struct selftest_opts *o, struct port_result *r)
{
	const struct mail_facts *m = &r->mail;
	bool mx = is_mx(r);
	enum mail_proto p = r->spec.proto;

	if (!r->spec.implicit_tls && m->plain_done) {
		if (!m->starttls_offered)
			ADD("mail.starttls.missing", SEV_CRITICAL,
			    fix(o, r, "smtpd_tls_security_level = may (25) / encrypt", "ssl = required"),
			    _("%s is not offered: mail and passwords cross the network in clear"),
			    p == PROTO_POP3 ? "STLS" : "STARTTLS");
		else
			findings_addf(&r->findings, "mail.starttls", SEV_OK, NULL, _("%s offered"),
				    p == PROTO_POP3 ? "STLS" : "STARTTLS");
		if (m->auth_before_tls)
			ADD("mail.auth_before_tls", mx ? SEV_HIGH : SEV_CRITICAL,
			    fix(o, r, "smtpd_tls_auth_only = yes", "disable_plaintext_auth = yes (2.4: auth_allow_cleartext = no)"),
			    p == PROTO_SMTP ? _("AUTH is advertised before STARTTLS: passwords can be sent in clear")
			    : p == PROTO_IMAP ? _("login is allowed before STARTTLS (no LOGINDISABLED, or AUTH=PLAIN/LOGIN offered)")
					      : _("USER or SASL PLAIN/LOGIN is offered before STLS"));
		else
			findings_addf(&r->findings, "mail.auth_before_tls", SEV_OK, NULL,
				    _("no password login offered before TLS"));
		if (!mx && m->enforced == 0)
			ADD("mail.tls_not_enforced", SEV_HIGH,
			    fix(o, r, "smtpd_tls_security_level = encrypt", "ssl = required"),
			    _("TLS is not enforced: accepted before STARTTLS: %s"), m->enforce_reply);
		else if (!mx && m->enforced == 1)
			findings_addf(&r->findings, "mail.tls_enforced", SEV_OK, NULL,
				    _("refused before STARTTLS, as it should: %s"), m->enforce_reply);
		if (m->injection == 1)
			ADD("mail.starttls_injection", SEV_CRITICAL, xstrdup(_("upgrade the server software")),
			    _("STARTTLS command injection (CVE-2011-0411 class): %s"), m->injection_note);
		else if (m->injection == 0)
			findings_addf(&r->findings, "mail.starttls_injection", SEV_OK, NULL,
				    _("no STARTTLS command injection%s%s"), m->injection_note ? ": " : "",
				    m->injection_note ? m->injection_note : "");
		/* -1 (could not tell) is a gap, listed with the others */
		if (m->starttls_refusal)
			ADD("tls.starttls_fails", SEV_CRITICAL,
			    fix(o, r, "smtpd_tls_chain_files (certificate and key readable by Postfix)",
				"ssl_cert / ssl_key"),
			    _("%s is advertised but fails, so clients send mail and passwords in clear: %s"),
			    p == PROTO_POP3 ? "STLS" : "STARTTLS", m->starttls_refusal);
	}
	if (m->tls_done) {
		if (!r->spec.implicit_tls && caps_has(&m->caps_after, p == PROTO_POP3 ? "STLS" : "STARTTLS"))
			findings_addf(&r->findings, "mail.caps_after_tls.starttls", SEV_LOW, NULL,
				    _("STARTTLS is still advertised after TLS"));
		if (!mx) {
			bool login = p == PROTO_SMTP ? caps_has(&m->caps_after, "AUTH")
				   : p == PROTO_IMAP ? !caps_has(&m->caps_after, "LOGINDISABLED")
						     : caps_has(&m->caps_after, "USER") || caps_has(&m->caps_after, "SASL");
			if (!login)
				ADD("mail.caps_after_tls.no_auth", SEV_MEDIUM,
				    fix(o, r, "smtpd_sasl_auth_enable = yes", "auth_mechanisms = plain login"),
				    _("no login offered even after TLS: clients cannot authenticate"));
			else
				findings_addf(&r->findings, "mail.caps_after_tls.auth", SEV_OK, NULL,
					    _("login offered after TLS"));
		}
	}
}

static void judge_protocols(const struct selftest_opts *o, struct port_result *r)
{
	const struct tls_scan *s = &r->scan;
	bool mx = is_mx(r);
	uint16_t min = version_of(o->profile->min_protocol);
	struct strbuf list = STRBUF_INIT;
	bool unknown = false;

	for (int i = SCAN_SSL2; i <= SCAN_TLS13; i++) {
		const struct proto_scan *ps = &s->proto[i];
		const char *name = tls_version_name(ps->version);
		char id[32];

		snprintf(id, sizeof(id), "tls.protocol.%s", name);
		if (ps->accepted != 1)
			continue;
		sb_addf(&list, "%s%s", list.len ? ", " : "", name);
		if (ps->version <= V_SSL3)
			ADD(id, mx ? SEV_MEDIUM : SEV_CRITICAL,
			    fix(o, r, "smtpd_tls_protocols = !SSLv2, !SSLv3", "ssl_min_protocol = TLSv1.2"),
			    _("%s accepted: broken protocol"), name);
		else if (ps->version < min && !mx)
			ADD(id, SEV_HIGH, fix(o, r, "smtpd_tls_mandatory_protocols = >=TLSv1.2", "ssl_min_protocol = TLSv1.2"),
			    _("%s accepted, below the %s profile's minimum %s"), name, o->profile->name,
			    o->profile->min_protocol);
		else if (ps->version < V_TLS12)
			findings_addf(&r->findings, id, SEV_INFO, NULL,
				    mx ? _("%s accepted: fine for opportunistic TLS on port 25 (weak TLS beats plaintext)")
				       : _("%s accepted (allowed by the profile)"), name);
	}
	for (int i = SCAN_SSL2; i <= SCAN_TLS13; i++)
		unknown |= s->proto[i].accepted < 0;
	if (list.len == 0 && unknown) {
		/* nothing seen, but not everything could be tried: the gaps say so */
	} else if (list.len == 0) {
		ADD("tls.none", SEV_CRITICAL, fix(o, r, "smtpd_tls_cert_file / smtpd_tls_key_file", "ssl_cert / ssl_key"),
		    _("no TLS handshake succeeded with any protocol version"));
	} else {
		findings_addf(&r->findings, "tls.protocols", SEV_OK, NULL, _("protocols accepted: %s"), list.buf);
		if (s->proto[SCAN_TLS13].accepted == 0)
			ADD("tls.protocol.TLSv1.3.missing", mx ? SEV_INFO : min >= V_TLS13 ? SEV_HIGH : SEV_LOW,
			    fix(o, r, "tls_high_cipherlist / OpenSSL >= 1.1.1", "ssl_min_protocol"),
			    _("TLS 1.3 is not offered"));
		if (!mx && s->proto[SCAN_TLS13].accepted == 0 && s->proto[SCAN_TLS12].accepted == 0)
			ADD("tls.protocol.modern.missing", SEV_HIGH, fix(o, r, "smtpd_tls_mandatory_protocols", "ssl_min_protocol"),
			    _("neither TLS 1.2 nor TLS 1.3 is offered"));
	}
	sb_free(&list);
}

struct suite_class {
	unsigned flag;
	const char *id;
	enum severity strict, mx;
	const char *label;
};

static void add_suite_names(struct strbuf *sb, const struct tls_scan *s, unsigned flag, bool outside,
			    const struct profile *p, size_t *count)
{
	char b[16];
	uint16_t seen[SCAN_MAX_SUITES];
	size_t n_seen = 0;

	for (int i = SCAN_SSL3; i <= SCAN_TLS13; i++) {
		for (size_t j = 0; j < s->proto[i].n_suites; j++) {
			uint16_t c = s->proto[i].suites[j];
			unsigned f = suite_flags(c);
			bool hit = flag ? (f & flag) != 0 : false;

			if (outside)
				hit = !profile_allows(p, c) && suite_weakness(f) == NULL && (f & SUITE_FS);
			/* a profile's own suites are no finding under that profile */
			if (flag == SUITE_FS)
				hit = !(f & SUITE_FS) && !profile_allows(p, c);
			for (size_t k = 0; hit && k < n_seen; k++)
				hit = seen[k] != c;
			if (!hit || n_seen == SCAN_MAX_SUITES)
				continue;
			seen[n_seen++] = c;
			(*count)++;
			if (*count <= 6)
				sb_addf(sb, "%s%s", sb->len ? ", " : "", suite_name(c, b, sizeof(b)));
		}
	}
	if (*count > 6)
		sb_addf(sb, _(" and %zu more"), *count - 6);
}

static void judge_suites(const struct selftest_opts *o, struct port_result *r)
{
	const struct tls_scan *s = &r->scan;
	bool mx = is_mx(r), old = o->profile->id == PROFILE_OLD;
	const struct suite_class classes[] = {
		{SUITE_NULL, "tls.suites.null", SEV_CRITICAL, SEV_MEDIUM, N_("NULL (unencrypted) suites accepted")},
		{SUITE_EXPORT, "tls.suites.export", SEV_CRITICAL, SEV_MEDIUM, N_("EXPORT suites accepted")},
		{SUITE_ANON, "tls.suites.anon", SEV_CRITICAL, SEV_LOW, N_("anonymous (unauthenticated) suites accepted")},
		{SUITE_RC4, "tls.suites.rc4", SEV_HIGH, SEV_LOW, N_("RC4 suites accepted")},
		{SUITE_DES, "tls.suites.des", SEV_HIGH, SEV_LOW, N_("single-DES suites accepted")},
		{SUITE_3DES, "tls.suites.3des", old ? SEV_LOW : SEV_HIGH, SEV_INFO, N_("3DES suites accepted (Sweet32)")},
		{SUITE_FS, "tls.suites.no_fs", old ? SEV_LOW : SEV_MEDIUM, SEV_INFO, N_("suites without forward secrecy accepted")},
	};
	size_t total = 0, fs = 0, count;

	for (int i = SCAN_SSL3; i <= SCAN_TLS13; i++)
		for (size_t j = 0; j < s->proto[i].n_suites; j++) {
			total++;
			fs += (suite_flags(s->proto[i].suites[j]) & SUITE_FS) != 0;
		}
	if (total == 0)
		return;
	for (size_t k = 0; k < ARRAY_LEN(classes); k++) {
		struct strbuf sb = STRBUF_INIT;

		count = 0;
		add_suite_names(&sb, s, classes[k].flag, false, o->profile, &count);
		if (count > 0)
			ADD(classes[k].id, mx ? classes[k].mx : classes[k].strict,
			    fix(o, r, mx ? "smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT" : "smtpd_tls_mandatory_ciphers / tls_high_cipherlist",
				"ssl_cipher_list"),
			    "%s: %s", _(classes[k].label), sb.buf);
		sb_free(&sb);
	}
	if (!mx) {
		struct strbuf sb = STRBUF_INIT;

		count = 0;
		add_suite_names(&sb, s, 0, true, o->profile, &count);
		if (count > 0)
			ADD("tls.suites.outside_profile", SEV_LOW, fix(o, r, "smtpd_tls_mandatory_ciphers", "ssl_cipher_list"),
			    _("suites outside the %s profile accepted: %s"), o->profile->name, sb.buf);
		sb_free(&sb);
	}
	if (fs == 0)
		ADD("tls.fs.none", mx ? SEV_LOW : SEV_HIGH, fix(o, r, "smtpd_tls_mandatory_ciphers", "ssl_cipher_list"),
		    _("no suite with forward secrecy accepted"));
	findings_addf(&r->findings, "tls.suites", SEV_INFO, NULL, _("%zu version/suite pairs accepted, %zu with forward secrecy"),
		    total, fs);
}

/* "ffdhe2048 (RFC 7919), 2048 bits; custom 1024-bit prime" */
static void dh_list(const struct tls_scan *s, struct strbuf *sb)
{
	for (size_t i = 0; i < s->n_dh; i++) {
		const struct dh_seen *d = &s->dh[i];

		if (i > 0)
			sb_adds(sb, "; ");
		if (d->name)
			sb_addf(sb, _("%s, %d bits%s"), d->name, d->bits, d->rfc7919 ? "" : _(" (well known)"));
		else
			sb_addf(sb, _("custom %d-bit prime"), d->bits);
		if (s->n_dh > 1)
			sb_addf(sb, ngettext(" (%u suite)", " (%u suites)", d->suites), d->suites);
	}
}

/* Every DH group the server used; the weakest one is judged, since an
 * attacker who can choose the suite chooses that one. */
static void judge_dh(const struct selftest_opts *o, struct port_result *r)
{
	const struct tls_scan *s = &r->scan;
	bool mx = is_mx(r), custom = false;
	enum severity sev;
	struct strbuf sb = STRBUF_INIT;

	if (s->dh_bits <= 0)
		return;
	sev = s->dh_bits < 1024 ? SEV_CRITICAL : s->dh_bits < 2048 ? (mx ? SEV_MEDIUM : SEV_HIGH) : SEV_OK;
	for (size_t i = 0; i < s->n_dh; i++)
		custom |= s->dh[i].name == NULL;
	dh_list(s, &sb);
	if (sev != SEV_OK)
		ADD("tls.dh.size", sev, fix(o, r, "smtpd_tls_dh1024_param_file", "ssl_dh"),
		    _("DH group of %d bits (Logjam: at least 2048)"), s->dh_bits);
	if (s->n_dh > 1)
		findings_addf(&r->findings, "tls.dh.groups", SEV_INFO, NULL,
			    _("%zu different DH groups, depending on the suite: %s"), s->n_dh, sb.buf);
	else if (!custom)
		findings_addf(&r->findings, "tls.dh.group", SEV_OK, NULL, _("DH group: %s"), sb.buf);
	else
		findings_addf(&r->findings, "tls.dh.group", SEV_INFO, NULL,
			    _("DH group: custom %d-bit prime (not RFC 7919 / well known)"), s->dh_bits);
	sb_free(&sb);
}

static void judge_kx(const struct selftest_opts *o, struct port_result *r)
{
	const struct tls_scan *s = &r->scan;
	bool mx = is_mx(r);
	struct strbuf sb = STRBUF_INIT;

	for (int i = SCAN_SSL3; i <= SCAN_TLS12; i++) {
		const struct proto_scan *ps = &s->proto[i];

		if (ps->server_order == 0 && !mx && o->profile->server_order)
			findings_addf(&r->findings, "tls.server_order", SEV_LOW, NULL,
				    _("%s: the client chooses the suite (the %s profile wants server order)"),
				    tls_version_name(ps->version), o->profile->name);
	}
	judge_dh(o, r);
	for (size_t i = 0; i < s->n_groups; i++)
		sb_addf(&sb, "%s%s", i ? ", " : "", group_name(s->groups[i]));
	if (s->n_groups > 0) {
		bool weak = false;

		for (size_t i = 0; i < s->n_groups; i++)
			weak |= group_bits(s->groups[i]) < 224;
		findings_addf(&r->findings, weak ? "tls.groups.weak" : "tls.groups", weak ? (mx ? SEV_LOW : SEV_MEDIUM) : SEV_OK,
			    NULL, _("key exchange groups: %s"), sb.buf);
	}
	sb_free(&sb);
	if (s->compression == 1)
		ADD("tls.compression", mx ? SEV_MEDIUM : SEV_HIGH, xstrdup(_("rebuild without zlib or set OpenSSL no-comp")),
		    _("TLS compression accepted (CRIME)"));
	if (s->secure_reneg == 0)
		ADD("tls.renegotiation", mx ? SEV_LOW : SEV_MEDIUM, xstrdup(_("upgrade the TLS library")),
		    _("no secure renegotiation (RFC 5746)"));
	else if (s->secure_reneg == 1)
		findings_addf(&r->findings, "tls.renegotiation", SEV_OK, NULL, _("secure renegotiation (RFC 5746)"));
}

static void judge_cert(const struct selftest_opts *o, struct port_result *r, const struct cert_facts *c)
{
	bool mx = is_mx(r);

	if (!c->have)
		return;
	if (c->verify_result != 0)
		ADD("cert.chain", mx ? SEV_INFO : SEV_HIGH, fix(o, r, "smtpd_tls_chain_files", "ssl_cert"),
		    _("certificate chain not trusted (%s)%s: %s"), o->cafile ? o->cafile : _("system store"),
		    mx ? _(", common on port 25: senders rarely verify; use DANE") : "", c->verify_text);
	else
		findings_addf(&r->findings, "cert.chain", SEV_OK, NULL, _("certificate chain trusted: %s"), c->subject);
	if (c->name_match == 0)
		ADD("cert.name", c->name_cn_only ? SEV_LOW : mx ? SEV_LOW : SEV_HIGH, fix(o, r, "smtpd_tls_chain_files", "ssl_cert"),
		    c->name_cn_only ? _("'%s' matches only the subject CN, not a subjectAltName")
				    : _("certificate does not name '%s'"), c->checked_name);
	else if (c->name_match == 1)
		findings_addf(&r->findings, "cert.name", SEV_OK, NULL, _("certificate names '%s'"), c->checked_name);
	if (c->not_yet_valid)
		findings_addf(&r->findings, "cert.not_yet_valid", SEV_HIGH, NULL, _("certificate is not valid yet"));
	if (c->days_left < 0)
		ADD("cert.expiry", mx ? SEV_HIGH : SEV_CRITICAL, xstrdup(_("renew the certificate")),
		    _("certificate expired %ld days ago"), -c->days_left);
	else if (c->days_left < 30)
		ADD("cert.expiry", SEV_MEDIUM, xstrdup(_("renew the certificate")),
		    _("certificate expires in %ld days"), c->days_left);
	else
		findings_addf(&r->findings, "cert.expiry", SEV_OK, NULL, _("certificate valid for %ld more days"), c->days_left);
	if ((strcmp(c->key_type, "RSA") == 0 && c->key_bits < 2048) ||
	    (strcmp(c->key_type, "EC") == 0 && c->key_bits < 256))
		ADD("cert.key_size", mx ? SEV_MEDIUM : SEV_HIGH, xstrdup(_("use an RSA key of 2048+ bits or ECDSA P-256")),
		    _("%s key of %d bits"), c->key_type, c->key_bits);
	else
		findings_addf(&r->findings, "cert.key_size", SEV_OK, NULL, _("%s key of %d bits"), c->key_type, c->key_bits);
	if (c->sig_weak)
		ADD("cert.signature", mx ? SEV_LOW : SEV_HIGH, xstrdup(_("reissue with a SHA-256 signature")),
		    _("weak certificate signature: %s"), c->sig_alg);
	if (c->key_usage_ok == 0)
		ADD("cert.key_usage", mx ? SEV_MEDIUM : SEV_HIGH,
		    xstrdup(_("reissue with keyUsage digitalSignature and extendedKeyUsage serverAuth")),
		    _("certificate usage does not fit a TLS server: %s"), c->key_usage_note);
	else
		findings_addf(&r->findings, "cert.key_usage", SEV_OK, NULL,
			    c->key_usage_ok == 1 ? _("key usage fits a TLS server") : _("no key usage restriction"));
	if (c->ocsp == 1 && c->ocsp_status == V_OCSP_CERTSTATUS_REVOKED)
		ADD("cert.ocsp", SEV_CRITICAL, xstrdup(_("replace the certificate")),
		    _("the stapled OCSP response says the certificate is revoked"));
	else if (c->ocsp == 1 && c->ocsp_status == V_OCSP_CERTSTATUS_GOOD)
		findings_addf(&r->findings, "cert.ocsp", SEV_OK, NULL, _("OCSP response stapled: good"));
	else if (c->ocsp == 1)
		findings_addf(&r->findings, "cert.ocsp", SEV_LOW, NULL,
			    _("an OCSP response is stapled, but it does not say the certificate is good"));
	else if (c->ocsp == 0)
		findings_addf(&r->findings, "cert.ocsp", SEV_INFO, NULL,
			    _("no OCSP stapling (mail clients rarely ask; stapling spares them a lookup)"));
}

/* Every certificate the server holds, each judged; the other ones' texts
 * say which certificate they are about. */
static void judge_certs(const struct selftest_opts *o, struct port_result *r)
{
	struct strbuf sb = STRBUF_INIT;

	judge_cert(o, r, &r->cert);
	for (size_t i = 0; i < r->n_more_certs; i++) {
		const struct cert_facts *c = &r->more_certs[i];
		size_t from = r->findings.n;

		judge_cert(o, r, c);
		for (size_t k = from; k < r->findings.n; k++) {
			char *t = xasprintf(_("%s certificate: %s"), c->key_type, r->findings.v[k].text);

			free(r->findings.v[k].text);
			r->findings.v[k].text = t;
		}
	}
	if (r->n_more_certs == 0)
		return;
	sb_addf(&sb, "%s %d", r->cert.key_type, r->cert.key_bits);
	for (size_t i = 0; i < r->n_more_certs; i++)
		sb_addf(&sb, ", %s %d", r->more_certs[i].key_type, r->more_certs[i].key_bits);
	findings_addf(&r->findings, "cert.count", SEV_INFO, NULL,
		    _("%zu certificates, each client gets the one it can verify: %s"), r->n_more_certs + 1, sb.buf);
	sb_free(&sb);
}

/* The checks testssl makes beyond suites: downgrade protection, Heartbleed,
 * the signature schemes, session resumption. */
static void judge_extras(const struct selftest_opts *o, struct port_result *r)
{
	const struct tls_scan *s = &r->scan;
	const struct mail_facts *m = &r->mail;
	bool mx = is_mx(r), weak = false;
	struct strbuf sb = STRBUF_INIT;

	(void)o;
	if (s->fallback_scsv == 1)
		findings_addf(&r->findings, "tls.fallback_scsv", SEV_OK, NULL,
			    _("a downgrade to an older version is refused (TLS_FALLBACK_SCSV)"));
	else if (s->fallback_scsv == 0)
		ADD("tls.fallback_scsv", mx ? SEV_INFO : SEV_LOW, xstrdup(_("upgrade the TLS library")),
		    "%s", _("no downgrade protection: TLS_FALLBACK_SCSV is ignored"));
	if (s->heartbleed == 1)
		ADD("tls.heartbleed", SEV_CRITICAL, xstrdup(_("upgrade OpenSSL, then replace the key and certificate")),
		    "%s", _("Heartbleed (CVE-2014-0160): the server sends its memory"));
	else if (s->heartbleed == 0)
		findings_addf(&r->findings, "tls.heartbleed", SEV_OK, NULL,
			    s->heartbeat ? _("not vulnerable to Heartbleed (heartbeats answered correctly)")
					 : _("not vulnerable to Heartbleed (no heartbeat extension)"));
	for (size_t i = 0; i < s->n_sigalgs; i++) {
		sb_addf(&sb, "%s%s", i ? ", " : "", sigalg_name(s->sigalgs[i]));
		weak |= sigalg_weak(s->sigalgs[i]);
	}
	/* SHA-1 for a client that offers nothing better is compatibility (the
	 * Finished messages protect the choice); preferring it is a finding */
	if (s->n_sigalgs > 0 && sigalg_weak(s->sigalgs[0]))
		findings_addf(&r->findings, "tls.sigalgs.weak", mx ? SEV_INFO : SEV_LOW, NULL,
			    _("TLS 1.2 signatures prefer SHA-1 or MD5: %s"), sb.buf);
	else if (s->n_sigalgs > 0)
		findings_addf(&r->findings, "tls.sigalgs", weak ? SEV_INFO : SEV_OK, NULL,
			    weak ? _("TLS 1.2 signature algorithms (SHA-1 only for clients that ask for nothing better): %s")
				 : _("TLS 1.2 signature algorithms: %s"), sb.buf);
	sb_free(&sb);
	if (r->cert.tls_sigalg[0])
		findings_addf(&r->findings, "tls.sigalg", SEV_OK, NULL, _("%s handshake signed with %s"),
			    r->cert.protocol, r->cert.tls_sigalg);
	if (m->resume_id >= 0 || m->resume_ticket >= 0) {
		const char *yes = _("yes"), *no = _("no"), *na = _("n/a");

		findings_addf(&r->findings, "tls.resumption", SEV_INFO, NULL,
			    _("session resumption by session ID: %s, by ticket: %s"),
			    m->resume_id < 0 ? na : m->resume_id ? yes : no,
			    m->resume_ticket < 0 ? na : m->resume_ticket ? yes : no);
		if (m->ticket && m->ticket_lifetime > 86400)
			findings_addf(&r->findings, "tls.resumption.ticket_lifetime", mx ? SEV_INFO : SEV_LOW, NULL,
				    _("session tickets live %ld s (more than a day: the ticket key protects old sessions that long)"),
				    m->ticket_lifetime);
		else if (m->ticket)
			findings_addf(&r->findings, "tls.resumption.ticket_lifetime", SEV_OK, NULL,
				    _("session tickets live %ld s"), m->ticket_lifetime);
	}
}

void selftest_judge(const struct selftest_opts *o, struct port_result *r)
{
	if (r->status != PORT_TESTED)
		return;
	judge_mail(o, r);
	if (r->scanned) {
		judge_protocols(o, r);
		judge_suites(o, r);
		judge_kx(o, r);
	}
	judge_certs(o, r);
	if (r->scanned)
		judge_extras(o, r);
}
