/*
 * finding.h - what a check found, with a severity, a one-line text and the
 * fix.  Shared by the certificate inspection and the self-test.
 */
#ifndef MH_FINDING_H
#define MH_FINDING_H

#include <stddef.h>

#include "common.h"

enum severity { SEV_OK, SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

/* "ok", "info", "low", "medium", "high", "critical": stable names for JSON
 * and scripts, not translated. */
const char *severity_name(enum severity sev);
/* The same, translated for people. */
const char *severity_label(enum severity sev);

struct finding {
	char *id;   /* stable, dotted: "cert.expired" */
	enum severity sev;
	char *text; /* translated, one line */
	char *fix;  /* translated, one line, or NULL when there is nothing to do */
};

struct finding_list {
	struct finding *v;
	size_t n;
	size_t cap;
};
#define FINDING_LIST_INIT {NULL, 0, 0}

/* Adds a finding; id, text and fix (may be NULL) are copied. */
void findings_add(struct finding_list *fl, const char *id, enum severity sev,
		  const char *text, const char *fix);
/* Like findings_add with a printf-style text. */
void findings_addf(struct finding_list *fl, const char *id, enum severity sev,
		   const char *fix, const char *fmt, ...) MH_ATTR_PRINTF(5, 6);
/* The first finding with this id, or NULL. */
const struct finding *findings_find(const struct finding_list *fl, const char *id);
/* The highest severity in the list (SEV_OK when empty). */
enum severity findings_worst(const struct finding_list *fl);
void findings_free(struct finding_list *fl);

#endif
