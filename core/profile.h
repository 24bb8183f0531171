/*
 * profile.h - the TLS policy as data, in one place: roles (what a port is
 * for) and profiles (which clients must still connect).
 *
 * How strict a setting gets is decided here, not in the backends:
 *   - the MX role on port 25 is opportunistic whatever the profile: STARTTLS
 *     is offered and never required, and only SSLv2/SSLv3 and export/NULL
 *     suites are removed, because weak TLS still beats plaintext;
 *   - submission, submissions, IMAP(S) and POP3(S) get the full profile, TLS
 *     mandatory, and authentication only after TLS.
 */
#ifndef MH_PROFILE_H
#define MH_PROFILE_H

#include <stdbool.h>

#include "common.h"

enum role {
	ROLE_MX = 1u << 0,          /* SMTP 25, opportunistic STARTTLS */
	ROLE_SUBMISSION = 1u << 1,  /* SMTP 587, mandatory STARTTLS */
	ROLE_SUBMISSIONS = 1u << 2, /* SMTP 465, implicit TLS (RFC 8314) */
	ROLE_IMAP = 1u << 3,        /* IMAP 143, mandatory STARTTLS */
	ROLE_IMAPS = 1u << 4,       /* IMAP 993, implicit TLS */
	ROLE_POP3 = 1u << 5,        /* POP3 110, mandatory STLS */
	ROLE_POP3S = 1u << 6,       /* POP3 995, implicit TLS */
};
#define ROLE_ALL 0x7fu
#define ROLES_SMTP (ROLE_MX | ROLE_SUBMISSION | ROLE_SUBMISSIONS)
#define ROLES_MDA (ROLE_IMAP | ROLE_IMAPS | ROLE_POP3 | ROLE_POP3S)

struct role_info {
	enum role role;
	const char *name;      /* "submission" */
	int port;              /* 587 */
	const char *proto;     /* "smtp", "imap", "pop3" */
	bool implicit_tls;     /* true for 465, 993, 995 */
	bool opportunistic;    /* true only for mx */
	const char *label;     /* N_() short label for menus */
	const char *help;      /* N_() why this role is configured as it is */
};

const struct role_info *role_info(enum role r);
const struct role_info *role_by_name(const char *name);
/* All roles in port order, terminated by a NULL name. */
const struct role_info *role_table(void);
/* Parses "mx,submission,imaps".  Unknown names are an error naming them. */
int roles_parse(const char *list, unsigned *roles, struct error *e);
/* "mx,submission" (new string); "" when roles is 0. */
char *roles_format(unsigned roles);

enum profile_id {
	PROFILE_MODERN,
	PROFILE_INTERMEDIATE,
	PROFILE_OLD,
	PROFILE_GUIDE_A, /* Applied Crypto Hardening, cipher string A */
	PROFILE_GUIDE_B, /* Applied Crypto Hardening, cipher string B */
};

struct profile {
	enum profile_id id;
	const char *name;          /* "intermediate" */
	const char *min_protocol;  /* "TLSv1.2", "TLSv1.3", "TLSv1" */
	const char *ciphers;       /* OpenSSL list for TLS <= 1.2; "" = none (TLS 1.3 only) */
	const char *ciphersuites;  /* TLS 1.3 suites, ":"-separated */
	const char *curves;        /* ":"-separated, without the PQ hybrid */
	bool pq_hybrid;            /* prepend X25519MLKEM768 where OpenSSL >= 3.5 */
	bool server_order;         /* server chooses the suite */
	int dh_bits;               /* DH size if the list has DHE suites, else 0 */
	bool documented_alternative; /* the 2015 guide's strings: not the default */
	const char *oldest_clients; /* N_() "Firefox 27, Android 4.4.2, ..." */
	const char *summary;        /* N_() one line */
	const char *help;           /* N_() why, for teaching labs */
};

const struct profile *profile_by_name(const char *name);
const struct profile *profile_get(enum profile_id id);
/* NULL-terminated list of all profiles, recommended ones first. */
const struct profile *const *profile_list(void);

/*
 * The opportunistic policy for port 25: protocols from TLSv1 up (SSLv2/3
 * off) and these exclusions; the cipher list itself stays the server's
 * default.
 */
#define MX_MIN_PROTOCOL "TLSv1"
#define MX_EXCLUDE_CIPHERS "aNULL:eNULL:EXPORT"

/* The curve list for profile p on a server linked against openssl_version
 * ("3.5.1"; NULL = unknown, treated as < 3.5).  sep is ":" or " ". */
char *profile_curves(const struct profile *p, const char *openssl_version, const char *sep);

/* Protocol names from min upwards, e.g. for "TLSv1.2": {"TLSv1.2","TLSv1.3"}.
 * Returns the count; names are static strings. */
size_t protocols_from(const char *min_protocol, const char *out[], size_t max);
/* True for TLSv1, TLSv1.1, TLSv1.2, TLSv1.3. */
bool protocol_name_valid(const char *name);

/*
 * Compiles a cipher list with this machine's OpenSSL and fails unless it
 * yields at least one suite.  The servers' own checkers accept nonsense
 * here (doveconf, postconf), and the server then refuses every handshake.
 */
int cipher_list_check(const char *ciphers, struct error *e);
/* Same for TLS 1.3 ciphersuites. */
int ciphersuites_check(const char *suites, struct error *e);

#endif
