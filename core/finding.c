/*
 * finding.c - severities and a growable list of findings.
 */
#include "finding.h"

#include <stdlib.h>
#include <string.h>

static const char *const severity_names[] = {
	[SEV_OK] = N_("ok"),
	[SEV_INFO] = N_("info"),
	[SEV_LOW] = N_("low"),
	[SEV_MEDIUM] = N_("medium"),
	[SEV_HIGH] = N_("high"),
	[SEV_CRITICAL] = N_("critical"),
};

const char *severity_name(enum severity sev)
{
	if ((size_t)sev >= ARRAY_LEN(severity_names))
		return "?";
	return severity_names[sev];
}

const char *severity_label(enum severity sev)
{
	return _(severity_name(sev));
}

void findings_add(struct finding_list *fl, const char *id, enum severity sev,
		  const char *text, const char *fix)
{
	struct finding *f;

	if (fl->n == fl->cap) {
		fl->cap = fl->cap ? fl->cap * 2 : 8;
		fl->v = xrealloc(fl->v, fl->cap * sizeof(*fl->v));
	}
	f = &fl->v[fl->n++];
	f->id = xstrdup(id);
	f->sev = sev;
	f->text = xstrdup(text);
	f->fix = fix ? xstrdup(fix) : NULL;
}

void findings_addf(struct finding_list *fl, const char *id, enum severity sev,
		   const char *fix, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	findings_add(fl, id, sev, sb.buf ? sb.buf : "", fix);
	sb_free(&sb);
}

const struct finding *findings_find(const struct finding_list *fl, const char *id)
{
	for (size_t i = 0; i < fl->n; i++)
		if (strcmp(fl->v[i].id, id) == 0)
			return &fl->v[i];
	return NULL;
}

enum severity findings_worst(const struct finding_list *fl)
{
	enum severity worst = SEV_OK;

	for (size_t i = 0; i < fl->n; i++)
		if (fl->v[i].sev > worst)
			worst = fl->v[i].sev;
	return worst;
}

void findings_free(struct finding_list *fl)
{
	for (size_t i = 0; i < fl->n; i++) {
		free(fl->v[i].id);
		free(fl->v[i].text);
		free(fl->v[i].fix);
	}
	free(fl->v);
	memset(fl, 0, sizeof(*fl));
}
