/*
 * verify.c - the live configuration against what the last apply intended.
 *
 * The intent comes from the checkpoint journal (backends/intent.c); the
 * same answers are planned again on the files as they are now, which gives
 * the expectations, and the server's own tool answers them on the live
 * files (engine_verify).  Planning again, not comparing texts, is what
 * catches an override added since: a new local.conf, a master.cf -o.
 */
#include "verify.h"

#include <stdlib.h>
#include <string.h>

const char *verify_status_name(enum verify_status s)
{
	switch (s) {
	case VERIFY_HOLDS:
		return "holds";
	case VERIFY_DRIFT:
		return "drift";
	case VERIFY_REFUSED:
		return "refused";
	case VERIFY_UNKNOWN:
		return "unknown";
	case VERIFY_NOT_APPLIED:
		break;
	}
	return "not-applied";
}

static void set_why(struct verify_server *v, enum verify_status st, const char *why)
{
	v->status = st;
	free(v->why);
	v->why = why ? xstrdup(why) : NULL;
}

static void verify_one(const struct env *env, struct verify_server *v)
{
	struct answers a;
	struct error e = {{0}};
	int rc;

	if (v->si.refused) {
		set_why(v, VERIFY_REFUSED, v->si.why);
		return;
	}
	rc = intent_last(env, v->backend->name, &v->intent, &e);
	if (rc < 0) {
		set_why(v, VERIFY_UNKNOWN, e.msg);
		return;
	}
	if (rc == 0) {
		set_why(v, VERIFY_NOT_APPLIED, NULL);
		return;
	}
	v->have_intent = true;
	intent_answers(&v->intent, &a);
	if (!v->si.usable) {
		set_why(v, VERIFY_UNKNOWN, v->si.why ? v->si.why : _("not usable"));
		return;
	}
	if (a.profile == NULL) {
		set_why(v, VERIFY_UNKNOWN, _("the checkpoint names no known profile"));
		return;
	}
	v->plan.server = &v->si;
	/* a plan that stops at an unsafe override has its expectations
	 * already: those are what must be asked */
	if (v->backend->plan(env, &v->si, &a, &v->plan, &e) < 0 && v->plan.expect.n == 0) {
		set_why(v, VERIFY_UNKNOWN, e.msg);
		return;
	}
	if (engine_verify(env, &v->si, &v->plan.expect, &e) < 0) {
		set_why(v, VERIFY_REFUSED, e.msg);
		return;
	}
	if (expect_count(&v->plan.expect, EXPECT_WEAKER))
		v->status = VERIFY_DRIFT;
	else if (expect_count(&v->plan.expect, EXPECT_UNKNOWN) == v->plan.expect.n)
		set_why(v, VERIFY_UNKNOWN, _("the server's own tool could not answer"));
	else
		v->status = VERIFY_HOLDS;
}

void verify_run(const struct env *env, struct verify_report *r)
{
	const struct backend *const *bl = backend_list();
	bool refused = false, drift = false, unknown = false, any = false;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; bl[i]; i++) {
		struct verify_server *v;

		r->srv = xrealloc(r->srv, (r->n + 1) * sizeof(*r->srv));
		v = &r->srv[r->n];
		memset(v, 0, sizeof(*v));
		v->backend = bl[i];
		v->si.backend = bl[i];
		bl[i]->detect(env, &v->si);
		v->si.backend = bl[i];
		if (!v->si.found) {
			server_info_free(&v->si);
			continue;
		}
		r->n++;
		verify_one(env, v);
		refused |= v->status == VERIFY_REFUSED;
		drift |= v->status == VERIFY_DRIFT;
		unknown |= v->status == VERIFY_UNKNOWN;
		any |= v->status != VERIFY_NOT_APPLIED;
	}
	/* a refusing server outranks drift, drift outranks "cannot tell";
	 * nothing mailharden applied is "cannot tell" too */
	r->exit_code = refused ? 2 : drift ? 1 : unknown || !any ? 3 : 0;
}

void verify_report_free(struct verify_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct verify_server *v = &r->srv[i];

		free(v->why);
		intent_free(&v->intent);
		plan_free(&v->plan);
		server_info_free(&v->si);
	}
	free(r->srv);
	memset(r, 0, sizeof(*r));
}
