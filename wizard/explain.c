/*
 * explain.c - the review's Explain button: for each setting a plan sets,
 * what it does and why, after the Applied Crypto Hardening guide, Mozilla's
 * guideline and the current RFCs (8996: TLS 1.0/1.1 deprecated; 8314:
 * implicit TLS for mail clients; 7919: negotiated FFDHE groups).
 *
 * Keyed by setting name as it appears in plan->settings: "name = value",
 * "service/type/name = value" for Postfix master.cf options, and
 * "section { name = value }" for Dovecot blocks.
 */
#include "flow.h"

#include <string.h>

struct explanation {
	const char *name;
	const char *value; /* NULL: any value; else the value must start with it */
	const char *text;  /* N_() */
};

static const struct explanation explanations[] = {
	/* Postfix main.cf */
	{"smtpd_tls_security_level", "may",
	 N_("Port 25 offers STARTTLS but does not require it. Other mail servers that "
	    "cannot do TLS would otherwise send in plaintext or not at all; opportunistic "
	    "TLS protects against passive eavesdropping without losing mail (RFC 3207, "
	    "RFC 7435).")},
	{"smtpd_tls_security_level", "encrypt",
	 N_("This service requires TLS before anything else: a client that does not "
	    "start TLS cannot log in or send mail. Right for ports your own users use, "
	    "because they carry passwords (RFC 8314).")},
	{"smtpd_tls_auth_only", NULL,
	 N_("AUTH is offered only after TLS is up, so a password is never sent in "
	    "plaintext, not even by a misconfigured client.")},
	{"smtpd_tls_loglevel", NULL,
	 N_("Logs one line per TLS session (protocol and cipher), so you can see which "
	    "clients still use old protocols before you tighten the profile.")},
	{"smtp_tls_loglevel", NULL,
	 N_("Logs the TLS details of mail this server sends to others.")},
	{"smtp_tls_security_level", NULL,
	 N_("Mail this server sends to other servers uses TLS when they offer it. "
	    "Requiring it would bounce mail to servers without TLS.")},
	{"tls_ssl_options", NULL,
	 N_("Turns off TLS compression (the CRIME attack) and client-initiated "
	    "renegotiation (a denial-of-service lever). Options you had are kept.")},
	{"smtpd_tls_exclude_ciphers", NULL,
	 N_("Never offer anonymous (aNULL), unencrypted (eNULL) or export-grade suites, "
	    "not even on port 25: they give no protection at all.")},
	{"smtpd_tls_chain_files", NULL,
	 N_("The private key followed by the certificate chain, in one setting (Postfix "
	    "3.4 and later). Listing the chain lets clients verify the certificate "
	    "without fetching intermediates.")},
	{"smtpd_tls_cert_file", NULL,
	 N_("The certificate (with its chain) the server presents to clients.")},
	{"smtpd_tls_key_file", NULL,
	 N_("The private key of the certificate. It must be readable by root only.")},
	{"smtpd_tls_protocols", NULL,
	 N_("Protocols for opportunistic TLS (port 25): everything from TLS 1.0 up, "
	    "SSLv2 and SSLv3 off. Weak TLS still beats the plaintext a sender would fall "
	    "back to.")},
	{"smtp_tls_protocols", NULL,
	 N_("Protocols this server accepts when it sends mail to other servers: SSLv2 and "
	    "SSLv3 off, the rest allowed, for the same reason as on port 25.")},
	{"smtpd_tls_mandatory_protocols", NULL,
	 N_("Protocols where TLS is mandatory (submission): the profile's minimum. TLS 1.0 "
	    "and 1.1 are deprecated by RFC 8996 and allowed only by the old profile.")},
	{"smtpd_tls_mandatory_ciphers", NULL,
	 N_("Where TLS is mandatory, only the \"high\" cipher grade is used; its list is "
	    "set by tls_high_cipherlist.")},
	{"tls_high_cipherlist", NULL,
	 N_("The profile's cipher list for TLS 1.2 and older: forward-secret ECDHE key "
	    "exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305) as in Mozilla's "
	    "guideline. TLS 1.3 suites are always strong and are not listed here.")},
	{"tls_preempt_cipherlist", NULL,
	 N_("Whether the server's cipher order wins. With only strong suites on offer the "
	    "client may choose (it knows if it has AES hardware); the old profile lets "
	    "the server choose, to keep weak suites last.")},
	{"tls_eecdh_auto_curves", NULL,
	 N_("Elliptic curves for the key exchange, best first: X25519, then the NIST "
	    "curves; with OpenSSL 3.5 or later the post-quantum hybrid X25519MLKEM768 "
	    "comes first.")},
	{"tls_ffdhe_auto_groups", NULL,
	 N_("Finite-field DH groups negotiated by name (RFC 7919, Postfix 3.8 and later): "
	    "standard, well-studied primes instead of a parameter file.")},
	{"smtpd_tls_dh1024_param_file", NULL,
	 N_("DH parameters for DHE suites. Despite the name any size is read; 2048 bits "
	    "or more, because smaller groups are broken (Logjam).")},
	/* Postfix master.cf options */
	{"syslog_name", NULL,
	 N_("Tags this service's log lines (postfix/submission), so you can tell the ports "
	    "apart in the log.")},
	{"smtpd_tls_wrappermode", NULL,
	 N_("Port 465 speaks TLS from the first byte (implicit TLS). RFC 8314 prefers it "
	    "over STARTTLS for mail clients: there is no plaintext step to strip.")},
	{"smtpd_sasl_auth_enable", NULL,
	 N_("Turns on password authentication (SASL) for this service, so your users can "
	    "send mail. Together with mandatory TLS the password is always encrypted.")},
	{"smtpd_client_restrictions", NULL,
	 N_("Only authenticated clients may use this service; the submission ports are "
	    "not for other mail servers.")},
	{"smtpd_relay_restrictions", NULL,
	 N_("Only authenticated users may relay mail to other domains: no open relay.")},
	/* Dovecot */
	{"ssl", NULL,
	 N_("\"required\": IMAP and POP3 refuse to log in without TLS. On 143 and 110 the "
	    "client must use STARTTLS first; 993 and 995 are TLS from the first byte.")},
	{"disable_plaintext_auth", NULL,
	 N_("No password is accepted on a connection without TLS (the server announces "
	    "LOGINDISABLED).")},
	{"auth_allow_cleartext", NULL,
	 N_("Dovecot 2.4's name for the same rule: no password without TLS.")},
	{"ssl_cert", NULL, N_("The certificate chain Dovecot presents (\"<\" reads the file).")},
	{"ssl_key", NULL, N_("The private key of the certificate; readable by root only.")},
	{"ssl_server_cert_file", NULL, N_("The certificate chain Dovecot 2.4 presents.")},
	{"ssl_server_key_file", NULL, N_("The private key of the certificate (Dovecot 2.4).")},
	{"ssl_dh", NULL,
	 N_("DH parameters for DHE suites (old profile): 2048 bits or more (Logjam).")},
	{"ssl_server_dh_file", NULL,
	 N_("DH parameters for DHE suites (Dovecot 2.4): 2048 bits or more (Logjam).")},
	{"ssl_dh_parameters_length", NULL,
	 N_("Size of the DH group Dovecot 2.2 generates itself: at least 2048 bits.")},
	{"ssl_min_protocol", NULL,
	 N_("The oldest TLS version accepted: the profile's minimum. TLS 1.0 and 1.1 are "
	    "deprecated by RFC 8996.")},
	{"ssl_protocols", NULL,
	 N_("Dovecot 2.2's list of protocols: SSLv2/SSLv3, and TLS 1.0/1.1 unless the old "
	    "profile needs them, are off (RFC 8996).")},
	{"ssl_cipher_list", NULL,
	 N_("Cipher suites for TLS 1.2 and older: forward-secret ECDHE with AEAD ciphers, "
	    "as in Mozilla's guideline.")},
	{"ssl_cipher_suites", NULL,
	 N_("TLS 1.3 suites: AES-GCM and ChaCha20-Poly1305, all strong.")},
	{"ssl_curve_list", NULL,
	 N_("Key-exchange groups, best first (X25519, then NIST curves; the post-quantum "
	    "hybrid first where OpenSSL supports it).")},
	{"ssl_prefer_server_ciphers", NULL,
	 N_("Whether the server's cipher order wins: only needed when weak suites are "
	    "still on offer (old profile).")},
	{"ssl_server_prefer_ciphers", NULL,
	 N_("Dovecot 2.4: whether the server's or the client's cipher order wins.")},
	{"ssl_options", NULL, N_("Turns off TLS compression (the CRIME attack).")},
	/* Exim */
	{"MAIN_TLS_ENABLE", NULL,
	 N_("Turns on Debian's TLS block in the Exim configuration (Debian sets the TLS "
	    "options from its MAIN_TLS_* macros; writing the options themselves a second "
	    "time would stop Exim).")},
	{"MAIN_TLS_ADVERTISE_HOSTS", NULL,
	 N_("STARTTLS is offered to every client (*). Exim 4.98 on Debian 13 sets "
	    "tls_advertise_hosts only from this macro.")},
	{"tls_advertise_hosts", NULL, N_("STARTTLS is offered to every client (*).")},
	{"MAIN_TLS_CERTIFICATE", NULL,
	 N_("The certificate chain Exim presents (Debian's macro for tls_certificate).")},
	{"tls_certificate", NULL, N_("The certificate chain Exim presents.")},
	{"MAIN_TLS_PRIVATEKEY", NULL,
	 N_("The private key (Debian's macro for tls_privatekey). Exim reads it as the "
	    "Debian-exim user, so it must be readable by that group (mode 640).")},
	{"tls_privatekey", NULL,
	 N_("The private key of the certificate; Exim reads it after dropping root.")},
	{"daemon_smtp_ports", NULL,
	 N_("The ports the Exim daemon listens on: 25 for other mail servers, 587 and 465 "
	    "for your users' mail programs. Ports it served before are kept.")},
	{"tls_on_connect_ports", NULL,
	 N_("Port 465 speaks TLS from the first byte (implicit TLS). RFC 8314 prefers it "
	    "over STARTTLS for mail clients: there is no plaintext step to strip.")},
	{"auth_advertise_hosts", NULL,
	 N_("AUTH is announced only on connections that already use TLS, whichever "
	    "authenticator is configured: no password is ever sent in clear.")},
	{"server_advertise_condition", NULL,
	 N_("This authenticator is offered only after TLS is up ($tls_in_cipher is set).")},
	{"tls_dhparam", NULL,
	 N_("DH group for DHE suites: an RFC 7919 group by name (ffdhe2048/ffdhe3072), "
	    "well studied and recognised by clients, or your own parameter file.")},
	{"tls_require_ciphers", "${if",
	 N_("One value per port: on port 25 every suite a sender may need (GnuTLS NORMAL: "
	    "no SSL 3, NULL, export or anonymous suites), because weak TLS beats the "
	    "plaintext a sender would fall back to; on 587 and 465 exactly the profile's "
	    "protocols and suites. With GnuTLS this is a priority string, checked with "
	    "GnuTLS before it is written (exim -bV does not check it).")},
	{"openssl_options", NULL,
	 N_("Exim built with OpenSSL: SSLv2/SSLv3, TLS compression and client "
	    "renegotiation off. Written only inside .ifdef _HAVE_OPENSSL: on a GnuTLS "
	    "build this option is a fatal error.")},
	{"MAIN_ACL_CHECK_MAIL", NULL,
	 N_("The MAIL ACL becomes mailharden's file: on 587 MAIL FROM is refused before "
	    "STARTTLS and before login, on 465 before login; then Debian's own MAIL ACL "
	    "runs as before. Port 25 is not restricted.")},
	{"acl_smtp_mail", NULL,
	 N_("The MAIL ACL becomes mailharden's file: the submission ports refuse mail "
	    "before STARTTLS and login; then your previous MAIL ACL runs.")},
	{"port", "0",
	 N_("This listener is closed, because its service was not chosen: a port that is "
	    "not needed is not an attack surface.")},
	{"port", NULL, N_("This listener is open on its standard port, because its service was "
			  "chosen.")},
};

/* Splits "a/b/name = value" or "x { y { name = value } }" into name and value. */
static void split_setting(const char *line, char *name, size_t name_len, const char **value)
{
	const char *eq = strstr(line, " = "), *start = line, *p;
	size_t n;

	*value = "";
	name[0] = '\0';
	if (eq == NULL)
		return;
	for (p = line; p < eq; p++)
		if (*p == '/' || *p == '{')
			start = p + 1;
	while (*start == ' ')
		start++;
	n = (size_t)(eq - start);
	if (n >= name_len)
		n = name_len - 1;
	memcpy(name, start, n);
	name[n] = '\0';
	*value = eq + 3;
}

const char *explain_setting(const char *line)
{
	char name[128];
	const char *value;

	split_setting(line, name, sizeof(name), &value);
	for (size_t i = 0; i < ARRAY_LEN(explanations); i++) {
		const struct explanation *x = &explanations[i];

		if (strcmp(x->name, name) != 0)
			continue;
		if (x->value == NULL || strncmp(value, x->value, strlen(x->value)) == 0)
			return _(x->text);
	}
	return _("Set by the chosen profile and roles; see the server's documentation.");
}

/* Columns of a UTF-8 string: continuation bytes take none. */
static size_t columns(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* Wraps text at width columns, each line indented. */
static void add_wrapped(struct strbuf *sb, const char *text, const char *indent, size_t width)
{
	const char *p = text;
	size_t col = 0;

	while (*p) {
		size_t len = strcspn(p, " "), cols = columns(p, len);

		if (col > 0 && col + 1 + cols > width) {
			sb_addc(sb, '\n');
			col = 0;
		}
		sb_adds(sb, col == 0 ? indent : " ");
		sb_add(sb, p, len);
		col += (col == 0 ? strlen(indent) : 1) + cols;
		p += len;
		while (*p == ' ')
			p++;
	}
	sb_addc(sb, '\n');
}

char *explain_plans(const struct plan *const *plans, size_t n)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		const struct plan *p = plans[i];

		if (p->server && p->server->backend)
			sb_addf(&sb, "%s== %s ==\n\n", i ? "\n" : "", p->server->backend->display_name);
		for (size_t j = 0; j < p->conflicts.n; j++) {
			sb_addf(&sb, "%s\n", p->conflicts.v[j]);
			add_wrapped(&sb, _("Why: this line was read after mailharden's setting, or sits in "
					   "a filter or service that wins over it, so the server would "
					   "have kept the weaker value. The changed line carries a "
					   "\"mailharden:\" comment; rollback restores it."), "    ", 56);
			sb_addc(&sb, '\n');
		}
		for (size_t j = 0; j < p->settings.n; j++) {
			sb_addf(&sb, "%s\n", p->settings.v[j]);
			add_wrapped(&sb, explain_setting(p->settings.v[j]), "    ", 56);
			sb_addc(&sb, '\n');
		}
	}
	if (sb.len == 0)
		sb_adds(&sb, _("This plan sets no settings."));
	return sb_detach(&sb);
}
