/*
 * finding.c - findings and severities.
 */
#include "finding.h"

#include <stdlib.h>

const char *severity_name(enum severity s)
{
	static const char *const names[] = {"ok", "info", "low", "medium", "high", "critical"};

	return (unsigned)s < ARRAY_LEN(names) ? names[s] : "?";
}

void finding_add(struct finding_list *l, const char *id, enum severity sev,
		 const char *fix, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	struct finding *f;
	va_list ap;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	f = &l->v[l->n++];
	f->id = xstrdup(id);
	f->sev = sev;
	f->text = sb_detach(&sb);
	f->fix = fix ? xstrdup(fix) : NULL;
}

void finding_list_free(struct finding_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].id);
		free(l->v[i].text);
		free(l->v[i].fix);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

enum severity finding_list_max(const struct finding_list *l)
{
	enum severity m = SEV_OK;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].sev > m)
			m = l->v[i].sev;
	return m;
}
