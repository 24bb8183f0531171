/*
 * finding.h - one judged observation (self-test, audit) with a severity
 * and, where mailharden manages the server, the setting that fixes it.
 */
#ifndef MH_FINDING_H
#define MH_FINDING_H

#include <stddef.h>

#include "common.h"

enum severity { SEV_OK, SEV_INFO, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

/* "ok", "info", "low", "medium", "high", "critical" (not translated: JSON). */
const char *severity_name(enum severity s);

struct finding {
	char *id;          /* stable machine id: "tls.protocol.tls1_0" */
	enum severity sev;
	char *text;        /* translated, one line */
	char *fix;         /* translated hint or NULL */
};

struct finding_list {
	struct finding *v;
	size_t n;
	size_t cap;
};
#define FINDING_LIST_INIT {NULL, 0, 0}

void finding_add(struct finding_list *l, const char *id, enum severity sev,
		 const char *fix, const char *fmt, ...) MH_ATTR_PRINTF(5, 6);
void finding_list_free(struct finding_list *l);
/* The highest severity in the list (SEV_OK when empty). */
enum severity finding_list_max(const struct finding_list *l);

#endif
