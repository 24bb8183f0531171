/*
 * cert.h - certificate care: inspect a chain file and its key, make a
 * clearly labelled lab certificate, compute DANE TLSA records.
 *
 * Paths here are host paths; the caller turns what the user typed (a
 * server path under --root) into one with env_host_path and passes the
 * server path along for messages.
 */
#ifndef MH_CERT_H
#define MH_CERT_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "common.h"
#include "env.h"
#include "finding.h"

/* The O= of every lab certificate, so no one mistakes one for real. */
#define CERT_LAB_ORG "mailharden lab certificate"
#define CERT_WARN_DAYS 30

struct cert_info {
	char *subject;        /* one line, RFC 2253 */
	char *issuer;
	char *common_name;    /* or NULL */
	struct strlist dns_names; /* subjectAltName DNS entries */
	time_t not_before;
	time_t not_after;
	char *key_type;       /* "RSA", "EC P-256", "ED25519" ... */
	int key_bits;
	char *sig_alg;        /* "ecdsa-with-SHA256" ... */
	bool self_signed;     /* issuer = subject and its own key verifies it */
	bool is_ca;
	bool lab;             /* made by "mailharden cert selfsigned" */
	char spki_sha256[65]; /* TLSA selector 1, matching type 1 */
};

struct cert_report {
	struct cert_info *certs; /* in file order: leaf first */
	size_t n_certs;
	bool key_checked;        /* a key file was given and read */
	bool key_matches;
	uid_t key_uid;
	gid_t key_gid;
	mode_t key_mode;         /* permission bits */
	struct finding_list findings;
};

struct cert_inspect_opts {
	const char *cert_path;  /* host path of the chain file (leaf first) */
	const char *cert_shown; /* how to name it in messages (server path) */
	const char *key_path;   /* host path of the private key, or NULL */
	const char *key_shown;
	const char *host;       /* MX/EHLO name the certificate must carry, or NULL */
	time_t now;             /* 0: the current time */
	int warn_days;          /* 0: CERT_WARN_DAYS */
	const char *ca_file;    /* trust anchors for chain completeness; NULL:
				 * OpenSSL's default store */
};

/* Reads and judges the chain (and key).  Returns -1 only when the file
 * cannot be read or holds no certificate; everything else is a finding. */
int cert_inspect(const struct cert_inspect_opts *o, struct cert_report *r,
		 struct error *e);
void cert_report_free(struct cert_report *r);

/* Exit status for a report: 0 nothing worse than info, 1 warnings,
 * 2 something critical. */
int cert_exit_code(const struct cert_report *r);

/* A host name for a certificate: letters, digits, '-', dots; optionally
 * "*." in front; at most 253 characters. */
bool cert_hostname_valid(const char *name);

/* A self-signed lab certificate for host: ECDSA P-256 (RSA 3072 with
 * rsa), SAN DNS:host, O=CERT_LAB_ORG, valid for days.  PEMs are malloc'd;
 * the key is unencrypted PKCS#8. */
int cert_make_selfsigned(const char *host, bool rsa, int days, char **cert_pem,
			 char **key_pem, struct error *e);
/* Writes both atomically: certificate 0644, key 0600, owned by root (by
 * the caller in an unprivileged lab).  Paths are server paths. */
int cert_write_pair(const struct env *env, const char *cert_path, const char *cert_pem,
		    const char *key_path, const char *key_pem, struct error *e);

/* DANE: SHA-256 of the SubjectPublicKeyInfo of the leaf ("3 1 1") and of
 * the next certificate in the file, its issuer ("2 1 1"). */
struct cert_tlsa {
	char host[256];        /* first DNS name (not a wildcard) or CN */
	char leaf[65];
	char issuer[65];       /* "" when the file holds only the leaf */
	bool issuer_verified;  /* the second certificate did sign the leaf */
};
int cert_tlsa(const char *path, struct cert_tlsa *t, struct error *e);

#endif
