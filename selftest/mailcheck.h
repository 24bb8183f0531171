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
};

struct mail_facts {
	bool plain_done;            /* the pre-TLS connection worked */
	bool starttls_offered;
	struct strlist caps_before;
	bool auth_before_tls;       /* a password could be sent in clear */
	int enforced;               /* 1 refused before TLS, 0 accepted, -1 not tested */
	char *enforce_reply;
	bool tls_done;              /* the libssl connection worked */
	struct strlist caps_after;
	int injection;              /* 1 vulnerable, 0 not, -1 not tested */
	char *injection_note;
};

void mail_facts_free(struct mail_facts *m);

/* A client context that can talk to the weakest server and records (but
 * does not enforce) chain verification; cafile NULL = system store. */
SSL_CTX *probe_ctx_new(const char *cafile, struct error *e);

/* Plaintext connection of a STARTTLS port: capabilities, AUTH before TLS,
 * and (when test_enforce) whether MAIL FROM / LOGIN / USER is refused. */
int mail_check_plain(const struct target *t, bool test_enforce, struct mail_facts *m, struct error *e);
/* TLS connection with libssl: certificate and capabilities after TLS. */
int mail_check_tls(const struct target *t, SSL_CTX *ctx, struct mail_facts *m,
		   struct cert_facts *cf, struct error *e);
/* CVE-2011-0411 class: a command pipelined with STARTTLS must not be
 * answered inside TLS. */
int mail_check_injection(const struct target *t, SSL_CTX *ctx, struct mail_facts *m, struct error *e);

#endif
