/*
 * verify.h - does the live configuration still hold what the last apply
 * intended?  Shared by `mailharden verify` and the wizard's first screen.
 */
#ifndef MH_VERIFY_H
#define MH_VERIFY_H

#include <stdbool.h>

#include "../backends/backend.h"

enum verify_status {
	VERIFY_HOLDS,       /* every setting the last apply intended takes effect */
	VERIFY_DRIFT,       /* at least one is weaker now */
	VERIFY_REFUSED,     /* the server's own checker refuses its configuration */
	VERIFY_UNKNOWN,     /* could not tell (no tool, the plan cannot be made again) */
	VERIFY_NOT_APPLIED, /* no apply of mailharden's recorded for this server */
};

struct verify_server {
	const struct backend *backend;
	struct server_info si;
	enum verify_status status;
	char *why;              /* refused / unknown: one line */
	bool have_intent;
	struct intent intent;   /* what the last apply intended */
	struct plan plan;       /* plan.expect: the answers of the server's tool */
};

struct verify_report {
	struct verify_server *srv; /* every server found */
	size_t n;
	int exit_code;             /* 0 holds, 1 drift, 2 refused, 3 cannot tell */
};

/* Never fails: what cannot be asked is said in the report. */
void verify_run(const struct env *env, struct verify_report *r);
void verify_report_free(struct verify_report *r);
const char *verify_status_name(enum verify_status s); /* "holds", "drift", ... */

#endif
