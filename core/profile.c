/*
 * profile.c - roles and TLS profiles as data.
 *
 * Profiles follow Mozilla's server-side TLS guidelines (6.0 for modern and
 * intermediate; "old" from 5.7, which 6.0 dropped, with 5.8's 2048-bit DH),
 * plus the Applied Crypto Hardening guide's cipher strings A and B as
 * documented alternatives.  TLS 1.0 and 1.1 are deprecated (RFC 8996): only
 * the old profile and the opportunistic port 25 still allow them.
 */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "version.h"

static const struct role_info roles[] = {
	{ROLE_MX, "mx", 25, "smtp", false, true, N_("MX: mail from other servers (SMTP, port 25)"),
	 N_("Port 25 receives mail from other mail servers. TLS there is opportunistic: "
	    "STARTTLS is offered but never required, and old protocol versions stay "
	    "allowed, because a sender that cannot negotiate TLS with us falls back to "
	    "plaintext. Weak TLS still beats no TLS (Applied Crypto Hardening, RFC 3207).")},
	{ROLE_SUBMISSION, "submission", 587, "smtp", false, false,
	 N_("Submission: mail clients send mail (STARTTLS, port 587)"),
	 N_("Port 587 is where your users' mail programs hand in mail. TLS is mandatory "
	    "(STARTTLS before anything else) and the password may only be sent after "
	    "TLS is up, so nobody on the path can read it (RFC 6409, RFC 8314).")},
	{ROLE_SUBMISSIONS, "submissions", 465, "smtp", true, false,
	 N_("Submissions: mail clients send mail (implicit TLS, port 465)"),
	 N_("Port 465 speaks TLS from the first byte. RFC 8314 (2018) prefers this "
	    "implicit TLS over STARTTLS for mail clients, because there is no plaintext "
	    "phase an attacker could strip.")},
	{ROLE_IMAP, "imap", 143, "imap", false, false, N_("IMAP with STARTTLS (port 143)"),
	 N_("IMAP on port 143 must switch to TLS with STARTTLS before login; the server "
	    "refuses passwords on the unencrypted connection (LOGINDISABLED).")},
	{ROLE_IMAPS, "imaps", 993, "imap", true, false, N_("IMAPS: IMAP over implicit TLS (port 993)"),
	 N_("IMAP over TLS from the first byte; RFC 8314 recommends it for clients.")},
	{ROLE_POP3, "pop3", 110, "pop3", false, false, N_("POP3 with STLS (port 110)"),
	 N_("POP3 on port 110 must switch to TLS with STLS before USER/PASS; the server "
	    "refuses passwords before that.")},
	{ROLE_POP3S, "pop3s", 995, "pop3", true, false, N_("POP3S: POP3 over implicit TLS (port 995)"),
	 N_("POP3 over TLS from the first byte; RFC 8314 recommends it for clients.")},
	{0, NULL, 0, NULL, false, false, NULL, NULL},
};

const struct role_info *role_table(void)
{
	return roles;
}

const struct role_info *role_info(enum role r)
{
	for (const struct role_info *ri = roles; ri->name; ri++)
		if (ri->role == r)
			return ri;
	return NULL;
}

const struct role_info *role_by_name(const char *name)
{
	for (const struct role_info *ri = roles; ri->name; ri++)
		if (strcmp(ri->name, name) == 0)
			return ri;
	return NULL;
}

int roles_parse(const char *list, unsigned *out, struct error *e)
{
	char *copy = xstrdup(list), *save = NULL;
	unsigned bits = 0;

	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		const struct role_info *ri = role_by_name(tok);

		if (ri == NULL) {
			err_set(e, _("unknown role '%s' (roles: mx, submission, submissions, imap, imaps, pop3, pop3s)"),
				text_is_clean(tok) ? tok : "?");
			free(copy);
			return -1;
		}
		bits |= ri->role;
	}
	free(copy);
	if (bits == 0)
		return err_set(e, _("no role given (roles: mx, submission, submissions, imap, imaps, pop3, pop3s)"));
	*out = bits;
	return 0;
}

char *roles_format(unsigned bits)
{
	struct strbuf sb = STRBUF_INIT;

	for (const struct role_info *ri = roles; ri->name; ri++) {
		if (!(bits & ri->role))
			continue;
		if (sb.len)
			sb_addc(&sb, ',');
		sb_adds(&sb, ri->name);
	}
	return sb_detach(&sb);
}

#define TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define CURVES "X25519:prime256v1:secp384r1"

static const struct profile profiles[] = {
	{PROFILE_MODERN, "modern", "TLSv1.3", "", TLS13_SUITES, CURVES, true, false, 0, false,
	 N_("Thunderbird 78+, Apple Mail on macOS 10.15 / iOS 13+, Outlook 2021 / Microsoft 365 "
	    "on Windows 11, Android 10+, Java 11, OpenSSL 1.1.1"),
	 N_("TLS 1.3 only: for clients that are all current"),
	 N_("Only TLS 1.3 is offered. Every TLS 1.3 suite is strong and uses forward "
	    "secrecy, so there is no cipher list to get wrong. Clients older than "
	    "about 2019 cannot connect at all.")},
	{PROFILE_INTERMEDIATE, "intermediate",
	 "TLSv1.2",
	 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
	 TLS13_SUITES, CURVES, true, false, 0, false,
	 N_("Outlook 2013+ / Outlook 2010 on Windows 7 with TLS 1.2 enabled, Thunderbird 31+, "
	    "Apple Mail on macOS 10.11 / iOS 9, Android 4.4.2, Java 8u161, OpenSSL 1.0.1"),
	 N_("TLS 1.2 and 1.3: recommended for most mail servers"),
	 N_("TLS 1.2 and 1.3 with forward-secret AEAD suites only (ECDHE with AES-GCM "
	    "or ChaCha20-Poly1305), as in Mozilla's guideline 6.0. TLS 1.0 and 1.1 are "
	    "deprecated by RFC 8996.")},
	{PROFILE_OLD, "old", "TLSv1",
	 "@SECLEVEL=0:"
	 "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
	 "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
	 "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
	 "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305:"
	 "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:"
	 "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:"
	 "ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA256:"
	 "DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:"
	 "AES256-SHA256:AES128-SHA:AES256-SHA:DES-CBC3-SHA",
	 TLS13_SUITES, CURVES, true, true, 2048, false,
	 N_("Outlook 2007 / Windows XP, Android 2.3, Java 6, OpenSSL 0.9.8: devices "
	    "that can no longer be updated"),
	 N_("TLS 1.0 and up: only as a last resort"),
	 N_("Keeps TLS 1.0/1.1, CBC and 3DES suites for clients that cannot be "
	    "updated (Mozilla's guideline 5.7 'old' list with 2048-bit DH). These "
	    "protocols are deprecated by RFC 8996; prefer upgrading the clients.")},
	{PROFILE_GUIDE_A, "guide-a", "TLSv1.2", "EDH+aRSA+AES256:EECDH+aRSA+AES256:!SSLv3",
	 TLS13_SUITES, CURVES, false, true, 2048, true,
	 N_("clients with TLS 1.2 and AES-256 (2015 guide, cipher string A)"),
	 N_("Applied Crypto Hardening (2015) cipher string A: documented alternative"),
	 N_("The guide's 'strong ciphers, fewer clients' string. Kept for comparison "
	    "and teaching; Mozilla's intermediate profile is today's advice.")},
	{PROFILE_GUIDE_B, "guide-b", "TLSv1",
	 "EDH+CAMELLIA:EDH+aRSA:EECDH+aRSA+AESGCM:EECDH+aRSA+SHA256:EECDH:+CAMELLIA128:"
	 "+AES128:+SSLv3:!aNULL:!eNULL:!LOW:!3DES:!MD5:!EXP:!PSK:!DSS:!RC4:!SEED:!IDEA:"
	 "!ECDSA:kEDH:CAMELLIA128-SHA:AES128-SHA",
	 TLS13_SUITES, CURVES, false, true, 2048, true,
	 N_("the 2015 guide's wide-compatibility set (cipher string B)"),
	 N_("Applied Crypto Hardening (2015) cipher string B: documented alternative"),
	 N_("The guide's 'weaker ciphers, better compatibility' string used in all its "
	    "examples. It keeps TLS 1.0/1.1 (deprecated by RFC 8996) and puts DHE first, "
	    "which needs strong DH parameters. Kept for comparison and teaching.")},
};

static const struct profile *const profile_ptrs[] = {
	&profiles[PROFILE_MODERN], &profiles[PROFILE_INTERMEDIATE], &profiles[PROFILE_OLD],
	&profiles[PROFILE_GUIDE_A], &profiles[PROFILE_GUIDE_B], NULL,
};

const struct profile *const *profile_list(void)
{
	return profile_ptrs;
}

const struct profile *profile_get(enum profile_id id)
{
	return &profiles[id];
}

const struct profile *profile_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(profiles); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

char *profile_curves(const struct profile *p, const char *openssl_version, const char *sep)
{
	struct strbuf sb = STRBUF_INIT;
	char *list = xstrdup(p->curves), *save = NULL;

	/* ML-KEM hybrids exist from OpenSSL 3.5 on; older libraries reject
	 * the name and some servers then drop the whole list. */
	if (p->pq_hybrid && version_ge(openssl_version, "3.5"))
		sb_adds(&sb, "X25519MLKEM768");
	for (char *c = strtok_r(list, ":", &save); c; c = strtok_r(NULL, ":", &save)) {
		if (sb.len)
			sb_adds(&sb, sep);
		sb_adds(&sb, c);
	}
	free(list);
	return sb_detach(&sb);
}

static const char *const protocol_names[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

bool protocol_name_valid(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(protocol_names); i++)
		if (strcmp(protocol_names[i], name) == 0)
			return true;
	return false;
}

size_t protocols_from(const char *min_protocol, const char *out[], size_t max)
{
	size_t n = 0;
	bool on = false;

	for (size_t i = 0; i < ARRAY_LEN(protocol_names); i++) {
		if (strcmp(protocol_names[i], min_protocol) == 0)
			on = true;
		if (on && n < max)
			out[n++] = protocol_names[i];
	}
	return n;
}

static SSL_CTX *check_ctx(void)
{
	return SSL_CTX_new(TLS_method());
}

int cipher_list_check(const char *ciphers, struct error *e)
{
	SSL_CTX *ctx;
	int n;

	if (!text_is_clean(ciphers))
		return err_set(e, _("cipher list contains a control character"));
	ctx = check_ctx();
	if (ctx == NULL)
		return err_set(e, _("OpenSSL could not create a TLS context"));
	/* count only TLS <= 1.2 suites: the list does not govern TLS 1.3 */
	SSL_CTX_set_ciphersuites(ctx, "");
	if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		SSL_CTX_free(ctx);
		return err_set(e, _("cipher list '%s' matches no cipher known to OpenSSL"), ciphers);
	}
	n = sk_SSL_CIPHER_num(SSL_CTX_get_ciphers(ctx));
	SSL_CTX_free(ctx);
	if (n < 1)
		return err_set(e, _("cipher list '%s' compiles to no cipher suite"), ciphers);
	return 0;
}

int ciphersuites_check(const char *suites, struct error *e)
{
	SSL_CTX *ctx;
	int ok;

	if (!text_is_clean(suites))
		return err_set(e, _("TLS 1.3 suite list contains a control character"));
	ctx = check_ctx();
	if (ctx == NULL)
		return err_set(e, _("OpenSSL could not create a TLS context"));
	ok = *suites != '\0' && SSL_CTX_set_ciphersuites(ctx, suites) == 1;
	SSL_CTX_free(ctx);
	if (!ok)
		return err_set(e, _("TLS 1.3 suite list '%s' is not valid"), suites);
	return 0;
}
