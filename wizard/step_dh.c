/*
 * step_dh.c - DH parameters, for profiles with DHE suites only.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/dh.h"

/* ---- DH parameters (profiles with DHE suites only) ------------------------ */

/* Where parameters made by the wizard go (server path). */
static char *dh_target(int bits)
{
	return xasprintf("/etc/ssl/mailharden/dh%d.pem", bits);
}

static void dh_keep_bits(struct wizard *w, char *pem, int bits)
{
	char *target = dh_target(bits);

	free(w->dh_pem);
	w->dh_pem = pem;
	flow_set_str(&w->dh, target);
	free(target);
	w->answered[ST_DH] = true;
}

static void dh_keep_pem(struct wizard *w, char *pem)
{
	dh_keep_bits(w, pem, w->profile->dh_bits);
}

/* "ffdhe2048", "ffdhe3072", "ffdhe4096" (and "rfc7919": the profile's
 * size): the bits, or 0 for anything else. */
static int named_group_bits(const struct wizard *w, const char *answer)
{
	static const int sizes[] = {2048, 3072, 4096};

	if (strcmp(answer, "rfc7919") == 0)
		return w->profile->dh_bits;
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		if (strcmp(answer, dh_group_name(sizes[i])) == 0)
			return sizes[i];
	return 0;
}

static enum go dh_named(struct wizard *w)
{
	char *pem = NULL;

	if (dh_named_pem(w->profile->dh_bits, &pem, w->e) < 0) {
		flow_error_screen(w, w->e->msg);
		return GO_STAY;
	}
	dh_keep_pem(w, pem);
	return GO_NEXT;
}

struct dh_gauge {
	struct wizard *w;
	char step[160];
};

static int dh_on_progress(const struct dh_progress *p, void *arg)
{
	struct dh_gauge *g = arg;
	struct frontend *fe = g->w->fe;
	double pct = p->expected_tests > 0 ? 100.0 * (double)p->tested / p->expected_tests : 0;
	char step[160];

	/* the search has no end known in advance: stay below 100 until found */
	if (p->phase == DH_PROVING)
		pct = 99;
	else if (pct > 95)
		pct = 95;
	/* one row per phase; the counters change in place under it */
	if (p->phase == DH_PROVING)
		snprintf(step, sizeof(step), "%s", _("proving the safe prime"));
	else
		snprintf(step, sizeof(step), _("searching for a safe prime\n%lu candidates tested, "
					       "%.0f s (Esc cancels)"),
			 p->tested, p->elapsed);
	fe->gauge(fe, _("Fresh DH parameters"), (int)pct, step);
	return fe->gauge_cancelled && fe->gauge_cancelled(fe);
}

static enum go dh_fresh(struct wizard *w)
{
	struct dh_gauge g = {.w = w};
	struct dh_gen_opts o = {.progress = dh_on_progress, .arg = &g};
	char *pem = NULL;
	int rc = dh_generate_pem(w->profile->dh_bits, &o, &pem, w->e);

	w->fe->gauge(w->fe, _("Fresh DH parameters"), -1, NULL);
	if (rc == DH_CANCELLED)
		return GO_STAY; /* nothing was made, nothing is written */
	if (rc < 0) {
		flow_error_screen(w, w->e->msg);
		return GO_STAY;
	}
	dh_keep_pem(w, pem);
	return GO_NEXT;
}

static enum go dh_file(struct wizard *w)
{
	char *path = NULL;
	enum go g;
	struct answers a = {.profile = w->profile};

	g = flow_ask_path(w, _("DH parameters"),
		     _("Path of an existing DH parameter file (PEM, 2048 bits or more):"),
		     _("The file must hold DH PARAMETERS in PEM form, as written by "
		       "\"mailharden dhparam\". Groups smaller than 2048 bits are broken "
		       "(Logjam)."),
		     w->dh_pem ? NULL : w->dh, &path);
	if (g != GO_NEXT)
		return g == GO_BACK ? GO_STAY : g;
	a.dh_file = path;
	if (*path == '\0' || answers_check(w->env, &a, w->e) < 0) {
		flow_error_screen(w, *path ? w->e->msg : _("Give the path of a file."));
		free(path);
		return GO_STAY;
	}
	free(w->dh_pem);
	w->dh_pem = NULL;
	flow_set_str(&w->dh, path);
	w->answered[ST_DH] = true;
	free(path);
	return GO_NEXT;
}

static char *dh_help(void)
{
	return xstrdup(_("DHE key exchange needs a prime group. Today's advice (RFC 7919, and "
			 "the guide) is a named group: ffdhe2048/3072/4096 are well-known safe "
			 "primes that clients can recognise, checked by many eyes, so nothing "
			 "is gained by a secret prime of your own; it is ready instantly. "
			 "Fresh parameters make a new safe prime on every core; it takes from "
			 "seconds to minutes. Groups below 2048 bits are broken (Logjam). "
			 "Profiles with only TLS 1.3 and ECDHE suites (modern, intermediate) "
			 "need no DH file at all. Nothing is written before Apply."));
}

static enum go dh_ask(struct wizard *w)
{
	char *target = dh_target(w->profile->dh_bits), *text, *l_group;
	struct fe_item items[3];
	struct fe_screen s = {.title = flow_title(w, ST_DH, _("DH parameters")), .back = true};
	size_t choice = 0;
	enum fe_rc rc;
	enum go g;

	l_group = xasprintf(_("RFC 7919 group %s (instant, recommended)"),
			    dh_group_name(w->profile->dh_bits));
	items[0] = (struct fe_item){.tag = "group", .label = l_group};
	items[1] = (struct fe_item){.tag = "fresh",
				    .label = _("fresh parameters (slow; progress gauge, Esc cancels)")};
	items[2] = (struct fe_item){.tag = "file", .label = _("an existing file")};
	if (w->answered[ST_DH] && w->dh && w->dh_pem == NULL)
		s.default_item = 2;
	text = xasprintf(_("This profile keeps DHE suites for old clients, so the servers need "
			   "%d-bit DH parameters. They will be written to %s when you apply."),
			 w->profile->dh_bits, target);
	s.text = text;
	s.help = dh_help();
	rc = w->fe->menu(w->fe, &s, items, ARRAY_LEN(items), &choice);
	if (rc != FE_OK)
		g = flow_after_screen(w, rc);
	else if (choice == 0)
		g = dh_named(w);
	else if (choice == 1)
		g = dh_fresh(w);
	else
		g = dh_file(w);
	free((char *)s.help);
	free(text);
	free(l_group);
	free(target);
	return g;
}

enum go step_dh(struct wizard *w)
{
	const char *p = flow_preset(w, "dh");

	if (w->profile == NULL || w->profile->dh_bits == 0)
		return flow_pass(w);
	if (p && !w->answered[ST_DH] && named_group_bits(w, p)) {
		char *pem = NULL;
		int bits = named_group_bits(w, p);

		if (dh_named_pem(bits, &pem, w->e) < 0)
			return GO_FAIL;
		dh_keep_bits(w, pem, bits);
		w->preset[ST_DH] = true;
	}
	if (p && !w->answered[ST_DH]) {
		bool none = *p == '\0' || strcmp(p, "none") == 0;
		struct answers a = {.profile = w->profile, .dh_file = none ? NULL : p};

		if (answers_check(w->env, &a, w->e) < 0) {
			err_prefix(w->e, _("answers"));
			return GO_FAIL;
		}
		flow_set_str(&w->dh, none ? NULL : p);
		w->answered[ST_DH] = w->preset[ST_DH] = true;
	}
	if (flow_passes(w, ST_DH, w->answered[ST_DH], w->preset[ST_DH]))
		return flow_pass(w);
	if (w->o->non_interactive)
		return flow_fail_missing(w, "dh");
	return dh_ask(w);
}
