/*
 * mailcheck.h - the checks no TLS scanner makes: what a mail port says and
 * allows before and after STARTTLS, STARTTLS command injection, and the
 * certificate as a client that verifies sees it.
 */
#ifndef MH_MAILCHECK_H
#define MH_MAILCHECK_H

#include <stdbool.h>

#include <openssl/ssl.h>

#include "mailconn.h"

struct cert_facts {
	bool have;
	char subject[256];
	char issuer[256];
	long verify_result;         /* X509_V_OK = trusted by the store */
	char verify_text[128];
	int name_match;             /* 1 SAN matches, 0 no, -1 no name to check */
	bool name_cn_only;          /* matches only through the subject CN */
	char checked_name[256];
	long days_left;             /* until notAfter; negative = expired */
	bool not_yet_valid;
	int key_bits;
	char key_type[16];          /* "RSA", "EC", "ED25519" ... */
	char sig_alg[64];
	bool sig_weak;              /* MD5 or SHA-1 signature */
	char sha256[65];            /* fingerprint of the leaf */
	char protocol[16];          /* negotiated with libssl */
	char cipher[64];
	char tls_sigalg[32];        /* how the server signed this handshake ("rsa_pss_rsae_sha256") */
	int key_usage_ok;           /* 1 keyUsage/extendedKeyUsage fit a TLS server, 0 not, -1 no extension */
	char key_usage_note[160];   /* what does not fit */
	int ocsp;                   /* 1 a response was stapled, 0 none, -1 not asked */
	int ocsp_status;            /* V_OCSP_CERTSTATUS_GOOD/REVOKED/UNKNOWN, -1 unreadable */
};

#define MAX_CERTS 3                 /* RSA, ECDSA, EdDSA: what one server can hold at once */

struct mail_facts {
	bool plain_done;            /* the pre-TLS connection worked */
	bool starttls_offered;
	char *starttls_refusal;     /* advertised, then refused: the error with the reply */
	struct strlist caps_before;
	bool auth_before_tls;       /* a password could be sent in clear */
	int enforced;               /* 1 refused before TLS, 0 accepted, -1 not tested */
	char *enforce_reply;
	bool tls_done;              /* the libssl connection worked */
	struct strlist caps_after;
	int injection;              /* 1 vulnerable, 0 not, -1 could not tell */
	char *injection_note;       /* the answer that proves it, or why not told */
	SSL_SESSION *session;       /* from the libssl connection, for resumption */
	int resume_id;              /* TLS <= 1.2 resumption by session ID: 1 yes, 0 no, -1 not tested */
	int resume_ticket;          /* by session ticket: 1 yes, 0 no, -1 not tested */
	bool ticket;                /* the server issued a ticket */
	long ticket_lifetime;       /* its lifetime hint in seconds */
};

void mail_facts_free(struct mail_facts *m);

/* Returned by the checks below when the server did not answer in time: a
 * fact about the network or the load, never about the server's TLS. */
#define MC_TIMEOUT (-2)

/* A client context that can talk to the weakest server and records (but
 * does not enforce) chain verification; cafile NULL = system store. */
SSL_CTX *probe_ctx_new(const char *cafile, struct error *e);

/* Plaintext connection of a STARTTLS port: capabilities, AUTH before TLS,
 * and (when test_enforce) whether MAIL FROM / LOGIN / USER is refused. */
int mail_check_plain(const struct target *t, bool test_enforce, struct mail_facts *m, struct error *e);
/* TLS connection with libssl: certificate and capabilities after TLS. */
int mail_check_tls(const struct target *t, SSL_CTX *ctx, struct mail_facts *m,
		   struct cert_facts *cf, struct error *e);
/* One more handshake offering only the signature algorithms of one key
 * family ("RSA", "ECDSA", "EdDSA"): a server with several certificates
 * shows another one.  1 when a certificate was seen (cf filled), 0 when
 * the server has none of that family, <0 on errors. */
int mail_check_cert_family(const struct target *t, SSL_CTX *ctx, const char *family,
			   struct cert_facts *cf, struct error *e);
/* Resumption by session ID (TLS 1.2, when accepted) and by the ticket of
 * the libssl connection (m->session): up to three connections. */
void mail_check_resumption(const struct target *t, SSL_CTX *ctx, bool tls12, struct mail_facts *m);

/* CVE-2011-0411 class: a harmless command (NOOP) pipelined with STARTTLS
 * must not be answered inside TLS.  Three outcomes in m->injection; a
 * timeout is retried once with a longer deadline.  Returns -1 (could not
 * tell, e says why) or 0. */
int mail_check_injection(const struct target *t, SSL_CTX *ctx, struct mail_facts *m, struct error *e);

#endif
