/*
 * step_apply.c - apply with a gauge, the self-test, the summary.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/dh.h"
#include "../core/fsutil.h"
#include "../selftest/selftest.h"

/* ---- apply and summary ------------------------------------------------------ */

struct gauge_ctx {
	struct wizard *w;
	const char *title;
};

static void on_progress(void *ctx, int percent, const char *step)
{
	struct gauge_ctx *g = ctx;

	g->w->fe->gauge(g->w->fe, g->title, percent, step);
}

/* The command that undoes checkpoint id, spelled as the user started
 * this program ("./mailharden" from the build tree). */
static char *undo_command(const struct wizard *w, const char *id)
{
	const char *prog = w->o->program ? w->o->program : "mailharden";

	if (w->env->lab)
		return xasprintf("%s rollback %s --root %s", prog, id, w->env->root);
	return xasprintf("%s rollback %s", prog, id);
}

static bool was_created(const struct wizard *w, const char *path, bool dh_existed)
{
	for (size_t i = 0; i < w->n_srv; i++)
		for (size_t j = 0; w->srv[i].selected && j < w->srv[i].plan.n_changes; j++)
			if (strcmp(w->srv[i].plan.changes[j].path, path) == 0)
				return !w->srv[i].plan.changes[j].existed;
	return w->dh && strcmp(path, w->dh) == 0 && !dh_existed;
}

static void summary_applied(struct wizard *w, const char *servers,
			    const struct apply_result *res, bool dh_existed)
{
	struct strlist *sum = &w->r->summary;
	char *undo = undo_command(w, res->checkpoint_id);

	sl_add_owned(sum, xasprintf(_("Applied: %s."), servers));
	for (size_t i = 0; i < res->notes.n; i++)
		sl_add_owned(sum, xasprintf("  %s", res->notes.v[i]));
	for (size_t i = 0; i < res->written.n; i++)
		sl_add_owned(sum, xasprintf(was_created(w, res->written.v[i], dh_existed)
						    ? _("  created %s") : _("  changed %s"),
					    res->written.v[i]));
	sl_add_owned(sum, xasprintf(_("  checkpoint %s (every file of this run)"),
				    res->checkpoint_id));
	sl_add_owned(sum, xasprintf(_("  undo with: %s"), undo));
	sl_add(&w->r->checkpoints, res->checkpoint_id);
	free(undo);
}

/* One run, one checkpoint: every chosen server's plan and the DH
 * parameters made in the DH step go into one transaction. */
static int apply_all(struct wizard *w)
{
	const struct plan *plans[MAX_SERVERS];
	struct extra_file dh = {0};
	struct apply_set set = {.plans = plans};
	struct apply_opts ao = {.reload = !w->o->no_reload && !w->env->lab};
	struct apply_result res = {0};
	struct gauge_ctx gc = {w, _("Applying")};
	struct strbuf names = STRBUF_INIT, desc = STRBUF_INIT;
	wizard_apply_fn fn = w->o->apply ? w->o->apply : engine_apply_set;
	bool dh_existed = false;
	int rc;

	for (size_t i = 0; i < w->n_srv; i++) {
		struct wserver *s = &w->srv[i];
		char *roles;

		if (!s->selected || plan_is_empty(&s->plan))
			continue;
		plans[set.n_plans++] = &s->plan;
		roles = roles_format(s->roles);
		sb_addf(&names, "%s%s", names.len ? ", " : "", s->backend->display_name);
		sb_addf(&desc, "%s%s: %s", desc.len ? "; " : "", s->backend->name, roles);
		free(roles);
	}
	sb_addf(&desc, " %s", w->profile->name);
	if (w->dh_pem && w->profile->dh_bits && w->dh) {
		dh = (struct extra_file){w->dh, w->dh_pem, strlen(w->dh_pem), 0644};
		dh_existed = env_exists(w->env, w->dh);
		set.files = &dh;
		set.n_files = 1;
		if (names.len == 0)
			sb_adds(&names, _("DH parameters"));
	}
	ao.progress = on_progress;
	ao.progress_ctx = &gc;
	ao.description = desc.buf;
	rc = fn(w->env, &set, &ao, &res, w->e);
	w->fe->gauge(w->fe, gc.title, -1, NULL);
	if (rc == 0) {
		summary_applied(w, names.buf, &res, dh_existed);
		for (size_t i = 0; i < res.written.n; i++)
			sl_add(&w->log_written, res.written.v[i]);
		if (ao.reload)
			sb_adds(&w->log_reloaded, names.buf);
	} else {
		for (size_t i = 0; i < res.notes.n; i++)
			sl_add_owned(&w->r->summary, xasprintf("  %s", res.notes.v[i]));
		sl_add_owned(&w->r->summary, xasprintf(_("Not applied: %s"), w->e->msg));
	}
	apply_result_free(&res);
	sb_free(&names);
	sb_free(&desc);
	return rc;
}

/* The ports of the servers just applied, each judged by its role. */
static size_t selftest_ports(const struct wizard *w, struct port_result **out)
{
	struct port_result *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		for (const struct role_info *ri = role_table(); s->selected && ri->name; ri++) {
			if (!(s->roles & ri->role))
				continue;
			v = xrealloc(v, (n + 1) * sizeof(*v));
			memset(&v[n], 0, sizeof(*v));
			port_spec_from_role(&v[n++].spec, ri->role, s->backend->name);
		}
	}
	*out = v;
	return n;
}

static void rollback_all(struct wizard *w)
{
	wizard_rollback_fn fn = w->o->rollback ? w->o->rollback : rollback_run;

	/* newest first: each checkpoint restores what its apply changed */
	for (size_t i = w->r->checkpoints.n; i-- > 0;) {
		struct strlist restored = STRLIST_INIT, recovered = STRLIST_INIT;
		struct error e = {{0}};
		const char *id = w->r->checkpoints.v[i];

		if (fn(w->env, id, false, !w->o->no_reload, &restored, &recovered, &e) == -1)
			sl_add_owned(&w->r->summary, xasprintf(_("rollback of %s failed: %s"), id, e.msg));
		else
			sl_add_owned(&w->r->summary, xasprintf(_("Rolled back checkpoint %s."), id));
		if (e.msg[0] && strstr(w->r->summary.v[w->r->summary.n - 1], e.msg) == NULL)
			sl_add(&w->r->summary, e.msg);
		sl_free(&restored);
		sl_free(&recovered);
	}
	w->r->rolled_back = true;
}

static void offer_rollback(struct wizard *w)
{
	struct fe_screen s = {
		.title = _("Roll back?"),
		.text = _("The self-test found a critical problem on a port just configured. "
			  "Roll back every change made now and reload the servers?"),
	};

	if (w->o->non_interactive) {
		sl_add(&w->r->summary, _("The self-test found a critical problem; roll back with "
					 "the commands above if needed."));
		return;
	}
	if (w->fe->yesno(w->fe, &s) == FE_OK)
		rollback_all(w);
}

static void self_test(struct wizard *w)
{
	struct selftest_opts so = {.host = "localhost", .timeout_ms = 5000, .jobs = 1,
				   .profile = w->profile};
	wizard_selftest_fn run = w->o->selftest ? w->o->selftest : selftest_run;
	struct port_result *res;
	size_t n = selftest_ports(w, &res);
	char *report = NULL;
	size_t len = 0;
	FILE *f;

	if (n == 0)
		return;
	w->fe->gauge(w->fe, _("Self-test"), 0, _("testing the ports just configured"));
	run(&so, res, n);
	w->fe->gauge(w->fe, _("Self-test"), -1, NULL);
	w->r->selftest = selftest_exit_code(res, n);
	f = open_memstream(&report, &len);
	if (f) {
		selftest_report_text(f, &so, res, n, false);
		fclose(f);
		w->fe->textview(w->fe, _("Self-test"), report);
		free(report);
	}
	sl_add_owned(&w->r->summary, xasprintf(_("Self-test: exit code %d (0 all ok, 1 "
						 "warnings, 2 critical, 3 could not test)."),
					       w->r->selftest));
	if (w->r->selftest == 2)
		offer_rollback(w);
	for (size_t i = 0; i < n; i++)
		port_result_free(&res[i]);
	free(res);
}

/* What Ctrl-C says from now on: the summary so far (what was written,
 * how to undo it). */
static void interrupt_note_applied(struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, _("Interrupted after Apply:"));
	for (size_t i = 0; i < w->r->summary.n; i++)
		sb_addf(&sb, "\n%s", w->r->summary.v[i]);
	fe_interrupt_note(sb.buf);
	sb_free(&sb);
}

enum go step_apply(struct wizard *w)
{
	int rc;

	/* a transaction is never cut halfway: Ctrl-C waits until it is done */
	fe_interrupt_hold(true);
	rc = apply_all(w);
	interrupt_note_applied(w);
	fe_interrupt_hold(false);

	if (rc == 0 && w->env->lab) {
		sl_add(&w->r->summary, _("Lab mode (--root): no server was reloaded."));
		sl_add(&w->r->summary, _("Self-test skipped in lab mode; on the live host run: "
					 "mailharden selftest"));
	} else if (rc == 0) {
		self_test(w);
	}
	w->r->outcome = rc == 0 ? WIZARD_APPLIED : WIZARD_FAILED;
	if (w->o->log)
		flow_log_line(w);
	{
		struct strbuf sb = STRBUF_INIT;
		struct fe_screen s = {.title = rc == 0 ? _("Done") : _("Apply failed")};

		for (size_t i = 0; i < w->r->summary.n; i++)
			sb_addf(&sb, "%s\n", w->r->summary.v[i]);
		s.text = sb.buf;
		w->fe->message(w->fe, &s);
		sb_free(&sb);
	}
	return rc == 0 ? GO_DONE : GO_FAIL;
}
