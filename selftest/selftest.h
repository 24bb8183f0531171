/*
 * selftest.h - prove the live TLS posture of mail ports, judged per role.
 *
 * Per port: a raw-hello TLS scan (tlsscan.h), the mail checks and the
 * certificate (mailcheck.h), then findings (core/finding.h) judged by the
 * port's role and the profile: port 25 is opportunistic (weak TLS is not a
 * failure, no TLS is); submission, IMAP and POP3 are judged by the profile.
 */
#ifndef MH_SELFTEST_H
#define MH_SELFTEST_H

#include <stdbool.h>
#include <stdio.h>

#include "../core/finding.h"
#include "../core/profile.h"
#include "mailcheck.h"
#include "tlsscan.h"

struct selftest_opts {
	const char *host;          /* default "localhost" */
	const char *servername;    /* SNI and certificate name; default host */
	const char *cafile;        /* NULL = system store */
	const char *source;        /* local address; NULL = automatic */
	int timeout_ms;
	int jobs;                  /* ports tested at the same time (at most; fewer on a loaded host) */
	const struct profile *profile;
};

struct port_spec {
	int port;
	enum mail_proto proto;
	bool implicit_tls;
	enum role role;            /* 0 = unknown: judged as strict */
	const char *server;        /* backend that serves it ("postfix"), or NULL */
	/* file:line that keeps this port weaker than the last apply intended
	 * (from verify), or NULL: a fix then names it, not the same apply */
	const char *override;
};

enum port_status { PORT_TESTED, PORT_UNTESTABLE };

struct port_result {
	struct port_spec spec;
	enum port_status status;
	char *error;               /* why it could not be tested */
	bool scanned;
	struct tls_scan scan;
	struct mail_facts mail;
	struct cert_facts cert;     /* what a default handshake gets */
	struct cert_facts more_certs[MAX_CERTS - 1]; /* the server's other certificates (RSA/ECDSA/EdDSA) */
	size_t n_more_certs;
	struct finding_list findings;
	struct gap_list gaps;      /* checks that could not be made (timeouts), beside the scan's */
	unsigned long connections;
	double seconds;
};

/* Defaults for a role (port, protocol, implicit TLS). */
void port_spec_from_role(struct port_spec *p, enum role r, const char *server);

/* Tests every port (o->jobs at a time), then judges, including parity of
 * implicit-TLS / STARTTLS pairs. */
void selftest_run(const struct selftest_opts *o, struct port_result *r, size_t n);
void port_result_free(struct port_result *r);

/* Ports tested at once for o->jobs on this host now: fewer when the load
 * average says the CPUs are busy (timeouts are never evidence, but a
 * loaded host should not have to retry).  *load gets the 1-minute load. */
int selftest_jobs(const struct selftest_opts *o, size_t n_ports, double *load);

/* A check of a tested port that could not be made (a gap), or NULL. */
const struct gap *port_first_gap(const struct port_result *r);

/* 0 all ok/info, 1 low..high, 2 any critical, 3 some port or check could
 * not be tested (critical wins over 3). */
int selftest_exit_code(const struct port_result *r, size_t n);

void selftest_report_text(FILE *f, const struct selftest_opts *o,
			  const struct port_result *r, size_t n, bool color);
/* JSON document (schema in docs/README-selftest.md); new string. */
char *selftest_report_json(const struct selftest_opts *o, const struct port_result *r, size_t n);

/* Judging only (no network): fills r->findings from the facts. */
void selftest_judge(const struct selftest_opts *o, struct port_result *r);

#endif
