/*
 * flow.c - the wizard's steps in order, with Back, Help and Cancel.
 *
 * Each step lives in its own file (step_*.c, as bsdinstall has one per
 * step); this file only runs them in order and decides where Back, a
 * jump from the review and Cancel lead.  See step.h for how a step
 * passes through when its answer is already known.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

const char *flow_preset(const struct wizard *w, const char *key)
{
	return answers_get(w->o->preset, key);
}

int flow_missing(struct wizard *w, const char *key)
{
	return err_set(w->e, _("missing answer '%s' (the answers file must answer every "
			       "question with --non-interactive)"), key);
}

enum go flow_fail_missing(struct wizard *w, const char *key)
{
	flow_missing(w, key);
	return GO_FAIL;
}

void flow_set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

/* Asks once; Esc or closed input on the question itself also quits. */
enum go flow_confirm_quit(struct wizard *w)
{
	struct fe_screen s = {
		.title = _("Quit"),
		.text = _("Quit the wizard? Nothing has been written; every file stays as it is."),
	};

	return w->fe->yesno(w->fe, &s) == FE_BACK ? GO_STAY : GO_QUIT;
}

enum go flow_after_screen(struct wizard *w, enum fe_rc rc)
{
	switch (rc) {
	case FE_OK:
	case FE_EXTRA:
		return GO_NEXT;
	case FE_BACK:
		return GO_BACK;
	case FE_CANCEL:
		break;
	}
	return flow_confirm_quit(w);
}

void flow_error_screen(struct wizard *w, const char *msg)
{
	struct fe_screen s = {.title = _("Error"), .text = msg};

	w->fe->message(w->fe, &s);
}

/* Whether a step with this answer state shows no screen now. */
bool flow_passes(const struct wizard *w, enum step st, bool answered, bool was_preset)
{
	if ((int)st == w->forced)
		return false;
	return answered && (was_preset || w->to_review || w->o->non_interactive);
}

enum go flow_pass(const struct wizard *w)
{
	return w->dir < 0 ? GO_BACK : GO_NEXT;
}

void flow_log_line(struct wizard *w)
{
	char *path = env_host_path(w->env, wizard_log_path);

	w->log_named = true;
	sl_add_owned(&w->r->summary, xasprintf(_("Run log: %s"), path));
	free(path);
}

/* Whether step st shows a screen in this run (as far as known now). */
static bool step_shown(const struct wizard *w, enum step st)
{
	switch (st) {
	case ST_WELCOME:
		return !w->o->non_interactive;
	case ST_DH:
		return w->profile == NULL || w->profile->dh_bits > 0;
	case ST_SASL:
		return wizard_needs_sasl(w);
	case ST_APPLY:
	case ST_COUNT:
		return false;
	default:
		return true;
	}
}

const char *flow_title(struct wizard *w, enum step st, const char *name)
{
	int at = 0, total = 0;

	for (int i = 0; i < ST_COUNT; i++) {
		if (!step_shown(w, (enum step)i))
			continue;
		total++;
		if (i <= (int)st)
			at++;
	}
	snprintf(w->title, sizeof(w->title), "%s (%d/%d)", name, at, total);
	return w->title;
}

/* Asks for a path; GO_NEXT with *out set, or what the user did instead. */
enum go flow_ask_path(struct wizard *w, const char *title, const char *text,
		      const char *help, const char *init, char **out)
{
	struct fe_screen s = {.title = title, .text = text, .help = help, .back = true};
	enum fe_rc rc = w->fe->input(w->fe, &s, init ? init : "", out);

	return flow_after_screen(w, rc);
}

/* ---- the loop ---------------------------------------------------------------- */

typedef enum go (*step_fn)(struct wizard *w);

static const step_fn steps[ST_COUNT] = {
	[ST_WELCOME] = step_welcome, [ST_SERVERS] = step_servers, [ST_ROLES] = step_roles,
	[ST_SASL] = step_sasl,       [ST_PROFILE] = step_profile, [ST_CERT] = step_cert,
	[ST_DH] = step_dh,           [ST_REVIEW] = step_review,   [ST_APPLY] = step_apply,
};

static void result_fill(const struct wizard *w, struct wizard_result *r)
{
	for (size_t i = 0; i < w->n_srv; i++) {
		if (!w->srv[i].selected)
			continue;
		sl_add(&r->servers, w->srv[i].backend->name);
		sl_add_owned(&r->roles, roles_format(w->srv[i].roles));
	}
	r->profile = w->profile;
	flow_set_str(&r->cert, w->cert);
	flow_set_str(&r->key, w->key);
	flow_set_str(&r->dh, w->profile && w->profile->dh_bits ? w->dh : NULL);
}

static enum go run_steps(struct wizard *w)
{
	int cur = ST_WELCOME;
	enum go g = GO_NEXT;

	while (cur < ST_COUNT) {
		g = steps[cur](w);
		if (cur == w->forced && cur != ST_REVIEW && g != GO_STAY)
			w->forced = -1;
		if (g == GO_BACK && w->to_review && cur != ST_REVIEW) {
			/* Back on a step revisited from the review returns there */
			w->dir = 1;
			cur = ST_REVIEW;
		} else if (g == GO_NEXT) {
			w->dir = 1;
			cur++;
		} else if (g == GO_BACK) {
			w->dir = -1;
			if (w->forced >= 0) {
				cur = w->forced;
				w->dir = 1;
			} else if (cur > ST_WELCOME) {
				cur--;
			} else {
				w->dir = 1;
			}
		} else if (g != GO_STAY) {
			break;
		}
		if (cur == ST_ROLES && w->dir > 0)
			w->roles_from = 0;
	}
	return g;
}

int wizard_run(const struct env *env, struct frontend *fe, const struct wizard_opts *o,
	       struct wizard_result *r, struct error *e)
{
	struct wizard w = {.env = env, .fe = fe, .o = o, .r = r, .e = e, .dir = 1, .forced = -1};
	enum go g;

	memset(r, 0, sizeof(*r));
	r->selftest = -1;
	e->msg[0] = '\0';
	g = run_steps(&w);
	result_fill(&w, r);
	if (g == GO_QUIT) {
		r->outcome = WIZARD_CANCELLED;
		sl_add(&r->summary, _("Cancelled: nothing was changed."));
	} else if (g == GO_FAIL) {
		r->outcome = WIZARD_FAILED;
	}
	if (o->log && !w.log_named)
		flow_log_line(&w);
	if (o->log && wizard_log(&w, r, e->msg) < 0)
		msg_warn(_("cannot append to the run log %s: %s"), wizard_log_path, strerror(errno));
	review_plans_free(&w);
	sl_free(&w.log_written);
	sb_free(&w.log_reloaded);
	for (size_t i = 0; i < w.n_srv; i++)
		server_info_free(&w.srv[i].si);
	free(w.cert);
	free(w.key);
	free(w.dh);
	free(w.dh_pem);
	free(w.typed_cert);
	free(w.typed_key);
	free(w.notes_seen);
	return r->outcome == WIZARD_FAILED ? -1 : 0;
}

void wizard_result_free(struct wizard_result *r)
{
	sl_free(&r->servers);
	sl_free(&r->roles);
	sl_free(&r->checkpoints);
	sl_free(&r->summary);
	free(r->cert);
	free(r->key);
	free(r->dh);
	memset(r, 0, sizeof(*r));
}
