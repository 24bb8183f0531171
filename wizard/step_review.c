/*
 * step_review.c - the plans, the diffs, Explain, Back to any step.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/diff.h"

void review_plans_free(struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++)
		plan_free(&w->srv[i].plan);
	w->planned = false;
}

/* The chosen MTA that reads Dovecot's auth socket, if any. */
static const struct wserver *dovecot_sasl_mta(const struct wizard *w)
{
	if (w->sasl != SASL_DOVECOT)
		return NULL;
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		if (s->selected && s->si.sasl_socket &&
		    (s->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS)))
			return s;
	}
	return NULL;
}

static bool is_sasl_provider(const struct wserver *s)
{
	return strcmp(s->backend->name, sasl_kind_name(SASL_DOVECOT)) == 0;
}

static void answers_of(const struct wizard *w, const struct wserver *s, struct answers *a)
{
	const struct wserver *mta = dovecot_sasl_mta(w);

	memset(a, 0, sizeof(*a));
	a->roles = s->roles;
	a->profile = w->profile;
	a->cert_file = w->cert;
	a->key_file = w->key;
	a->dh_file = w->profile->dh_bits ? w->dh : NULL;
	a->sasl = wizard_needs_sasl(w) ? w->sasl : SASL_UNSET;
	if (is_sasl_provider(s) && mta) {
		a->auth_socket = mta->si.sasl_socket;
		a->auth_socket_owner = mta->si.sasl_socket_owner;
	}
}

/* Dovecot SASL chosen but Dovecot not hardened in this run: its drop-in
 * gets no listener, and the admin must know. */
static void sasl_provider_note(struct wizard *w)
{
	const struct wserver *mta = dovecot_sasl_mta(w);

	for (size_t i = 0; mta && i < w->n_srv; i++)
		if (w->srv[i].selected && is_sasl_provider(&w->srv[i]))
			return;
	if (mta)
		sl_add_owned(&((struct wserver *)mta)->plan.notes,
			     xasprintf(_("Dovecot is not hardened in this run, so its auth listener "
					 "for %s is not written: choose Dovecot too, or add \"service "
					 "auth { unix_listener %s { mode = 0660, user = %s, group = %s "
					 "} }\" to Dovecot's configuration yourself."),
				       mta->backend->display_name, mta->si.sasl_socket,
				       mta->si.sasl_socket_owner, mta->si.sasl_socket_owner));
}

/* Parameters made here exist only in memory until apply: check the rest. */
static int answers_check_pending(struct wizard *w, const struct answers *a)
{
	struct answers c = *a;

	if (w->dh_pem && c.dh_file && strcmp(c.dh_file, w->dh) == 0)
		c.dh_file = NULL;
	return answers_check(w->env, &c, w->e);
}

static int make_plans(struct wizard *w)
{
	review_plans_free(w);
	for (size_t i = 0; i < w->n_srv; i++) {
		struct wserver *s = &w->srv[i];
		struct answers a;

		if (!s->selected)
			continue;
		answers_of(w, s, &a);
		s->plan.server = &s->si;
		if (answers_check_pending(w, &a) < 0 ||
		    s->backend->plan(w->env, &s->si, &a, &s->plan, w->e) < 0)
			return err_prefix(w->e, "%s", s->backend->display_name);
		plan_record_answers(&s->plan, &a);
	}
	sasl_provider_note(w);
	w->planned = true;
	return 0;
}

static bool change_is_noop(const struct file_change *c)
{
	return c->existed && c->old_len == c->new_len &&
	       memcmp(c->old_text, c->new_text, c->new_len) == 0;
}

static char *change_diff(const struct file_change *c)
{
	return diff_unified(c->existed ? c->path : "/dev/null", c->old_text, c->old_len, c->path,
			    c->new_text, c->new_len, 3);
}

static char *change_label(const struct wserver *s, const struct file_change *c)
{
	char *d = change_diff(c);
	int plus = 0, minus = 0;

	for (char *l = d; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (l[0] == '+' && strncmp(l, "+++", 3) != 0)
			plus++;
		else if (l[0] == '-' && strncmp(l, "---", 3) != 0)
			minus++;
	}
	free(d);
	return xasprintf("%s: %s (+%d -%d)%s", s->backend->name, c->path, plus, minus,
			 c->existed ? "" : _(" (new)"));
}

/* The review menu's rows: what each one stands for. */
struct review_row {
	enum { ROW_APPLY, ROW_FILE, ROW_NOTES, ROW_QUIT } kind;
	const struct file_change *change;
};

struct review {
	struct fe_item items[64];
	struct review_row rows[64];
	char *owned[64];
	size_t n, n_owned;
};

static void review_add(struct review *rv, const char *tag, const char *label, int kind,
		       const struct file_change *c, bool own_label)
{
	if (rv->n >= ARRAY_LEN(rv->items))
		return;
	/* only files are numbered: typing "1" in line mode shows file 1 */
	rv->items[rv->n] = (struct fe_item){.tag = tag, .label = label, .word = kind != ROW_FILE};
	rv->rows[rv->n] = (struct review_row){kind, c};
	if (own_label)
		rv->owned[rv->n_owned++] = (char *)label;
	rv->n++;
}

static bool have_notes(const struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++)
		if (w->srv[i].selected && (w->srv[i].plan.notes.n || w->srv[i].plan.conflicts.n))
			return true;
	return false;
}

static void review_build(struct wizard *w, struct review *rv)
{
	static const char *const tags[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
					   "11", "12", "13", "14", "15", "16"};
	size_t k = 0;

	memset(rv, 0, sizeof(*rv));
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		for (size_t j = 0; s->selected && j < s->plan.n_changes && k < ARRAY_LEN(tags); j++) {
			const struct file_change *c = &s->plan.changes[j];

			if (!change_is_noop(c))
				review_add(rv, tags[k++], change_label(s, c), ROW_FILE, c, true);
		}
	}
	/* after the files, away from the cursor's start; Apply still asks */
	review_add(rv, "apply", _("Apply these changes now"), ROW_APPLY, NULL, false);
	if (have_notes(w))
		review_add(rv, "notes", _("Read the notes on this plan again"), ROW_NOTES, NULL,
			   false);
	review_add(rv, "quit", _("Quit without changing anything"), ROW_QUIT, NULL, false);
}

static void review_free(struct review *rv)
{
	for (size_t i = 0; i < rv->n_owned; i++)
		free(rv->owned[i]);
}

static char *notes_text(const struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;

	/* conflicts first: lines of the admin's that the plan changes */
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		for (size_t j = 0; s->selected && j < s->plan.conflicts.n; j++)
			sb_addf(&sb, "%s %s\n\n", _("Conflict:"), s->plan.conflicts.v[j]);
	}
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		for (size_t j = 0; s->selected && j < s->plan.notes.n; j++)
			sb_addf(&sb, "%s: %s\n\n", s->backend->display_name, s->plan.notes.v[j]);
	}
	return sb_detach(&sb);
}

static char *choices_text(const struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, _("Nothing has been written yet. Choose a file to see its diff, Explain "
		       "for what each setting does and why, or Apply."));
	sb_adds(&sb, "\n");
	for (size_t i = 0; i < w->n_srv; i++) {
		char *roles;

		if (!w->srv[i].selected)
			continue;
		roles = roles_format(w->srv[i].roles);
		sb_addf(&sb, "\n%s: %s", w->srv[i].backend->display_name, roles);
		free(roles);
	}
	if (wizard_needs_sasl(w))
		sb_addf(&sb, "\n%s %s", _("Mail client login:"),
			w->sasl == SASL_UNSET ? _("as configured now") : sasl_kind_name(w->sasl));
	sb_addf(&sb, "\n%s %s", _("Profile:"), w->profile->name);
	sb_addf(&sb, "\n%s %s", _("Certificate:"), w->cert ? w->cert : _("keep the current one"));
	if (w->profile->dh_bits && w->dh)
		sb_addf(&sb, "\n%s %s%s", _("DH parameters:"), w->dh,
			w->dh_pem ? _(" (written on Apply)") : "");
	return sb_detach(&sb);
}

static char *explain_text(const struct wizard *w)
{
	const struct plan *plans[MAX_SERVERS];
	size_t n = 0;

	for (size_t i = 0; i < w->n_srv; i++)
		if (w->srv[i].selected)
			plans[n++] = &w->srv[i].plan;
	return explain_plans(plans, n);
}

static void show_text(struct wizard *w, const char *title, char *text)
{
	w->fe->textview(w->fe, title, text);
	free(text);
}

/* Back from the review: which step to revisit. */
static enum go review_back(struct wizard *w)
{
	static const enum step steps[] = {ST_SERVERS, ST_ROLES, ST_SASL, ST_PROFILE, ST_CERT,
					  ST_DH};
	static const char *const tags[] = {"1", "2", "3", "4", "5", "6"};
	const char *labels[] = {_("Mail servers"), _("Services and ports"), _("Mail client login"),
				_("Compatibility"), _("Certificate"), _("DH parameters")};
	struct fe_item items[ARRAY_LEN(steps)];
	struct fe_screen s = {.title = _("Go back"), .text = _("Which step do you want to change?")};
	size_t n = 0, choice = 0;
	enum step map[ARRAY_LEN(steps)];

	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		if ((steps[i] == ST_DH && w->profile->dh_bits == 0) ||
		    (steps[i] == ST_SASL && !wizard_needs_sasl(w)))
			continue;
		if (steps[i] == ST_PROFILE)
			s.default_item = n;
		items[n] = (struct fe_item){.tag = tags[n], .label = labels[i]};
		map[n++] = steps[i];
	}
	if (w->fe->menu(w->fe, &s, items, n, &choice) != FE_OK || choice >= n)
		return GO_STAY;
	w->forced = (int)map[choice];
	w->to_review = true;
	return GO_BACK;
}

static const char *review_help(void)
{
	return _("Each file is shown as a unified diff: lines starting with - go, lines "
		 "starting with + come. Comments and settings mailharden does not own stay "
		 "as they are. Apply validates a staged copy with the server's own checker, "
		 "makes a checkpoint, writes every file atomically and reloads the server; any "
		 "failure restores every file. Back lets you change any earlier answer.");
}

/* What Apply will do, named before it is done: servers, files, reloads. */
static char *confirm_text(const struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT, reload = STRBUF_INIT;

	sb_adds(&sb, _("Apply now? These files will be written:"));
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		if (!s->selected || plan_is_empty(&s->plan))
			continue;
		for (size_t j = 0; j < s->plan.n_changes; j++)
			if (!change_is_noop(&s->plan.changes[j]))
				sb_addf(&sb, "\n  %s: %s%s", s->backend->display_name,
					s->plan.changes[j].path,
					s->plan.changes[j].existed ? "" : _(" (created)"));
		sb_addf(&reload, "%s%s", reload.len ? ", " : "", s->backend->display_name);
	}
	if (w->dh_pem && w->dh && w->profile->dh_bits)
		sb_addf(&sb, "\n  %s %s%s", _("DH parameters:"), w->dh, _(" (created)"));
	sb_adds(&sb, "\n\n");
	if (w->env->lab)
		sb_adds(&sb, _("Lab mode: no server is reloaded."));
	else if (w->o->no_reload)
		sb_adds(&sb, _("No server is reloaded (--no-reload)."));
	else
		sb_addf(&sb, _("Then these servers are reloaded: %s."), reload.buf ? reload.buf : "");
	sb_adds(&sb, " ");
	sb_adds(&sb, _("A checkpoint keeps every file as it was, for mailharden rollback."));
	sb_free(&reload);
	return sb_detach(&sb);
}

/* Apply only after a second, explicit yes; Back is the default. */
static enum go confirm_apply(struct wizard *w)
{
	char *text = confirm_text(w);
	struct fe_screen s = {.title = _("Apply"), .text = text, .default_no = true,
			      .ok_label = _("Apply"), .no_label = _("Back"),
			      .help = review_help()};
	enum fe_rc rc = w->fe->yesno(w->fe, &s);

	free(text);
	return rc == FE_OK ? GO_NEXT : GO_STAY;
}

static enum go review_screen(struct wizard *w)
{
	struct review rv;
	struct fe_screen s = {.title = flow_title(w, ST_REVIEW, _("Review")), .back = true,
			      .help = review_help(), .ok_label = _("Select"),
			      .extra_label = _("Explain"), .cursor = &w->cursor[ST_REVIEW]};
	size_t choice = 0;
	enum fe_rc rc;
	enum go g = GO_STAY;

	review_build(w, &rv);
	s.text = choices_text(w);
	rc = w->fe->menu(w->fe, &s, rv.items, rv.n, &choice);
	free((char *)s.text);
	if (rc == FE_EXTRA) {
		show_text(w, _("What each setting does"), explain_text(w));
	} else if (rc == FE_BACK) {
		g = review_back(w);
	} else if (rc == FE_CANCEL) {
		g = flow_confirm_quit(w);
	} else if (rv.rows[choice].kind == ROW_APPLY) {
		g = confirm_apply(w);
	} else if (rv.rows[choice].kind == ROW_FILE) {
		show_text(w, rv.rows[choice].change->path, change_diff(rv.rows[choice].change));
	} else if (rv.rows[choice].kind == ROW_NOTES) {
		show_text(w, _("Notes"), notes_text(w));
	} else {
		g = flow_confirm_quit(w);
	}
	review_free(&rv);
	return g;
}

static bool all_empty(const struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++)
		if (w->srv[i].selected && !plan_is_empty(&w->srv[i].plan))
			return false;
	return true;
}

static enum go review_nothing(struct wizard *w)
{
	struct fe_screen s = {.title = _("Review"),
			      .text = _("Nothing to change: the configuration already matches "
					"every answer. No file was written.")};

	sl_add(&w->r->summary, s.text);
	w->fe->message(w->fe, &s);
	w->r->outcome = WIZARD_NOTHING;
	return GO_DONE;
}

static enum go review_plan_failed(struct wizard *w)
{
	if (w->o->non_interactive)
		return GO_FAIL;
	flow_error_screen(w, w->e->msg);
	w->e->msg[0] = '\0';
	return review_back(w) == GO_BACK ? GO_BACK : GO_QUIT;
}

static enum go review_batch(struct wizard *w, const char *apply)
{
	char *diff;

	if (apply == NULL)
		return flow_fail_missing(w, "apply");
	if (strcmp(apply, "yes") == 0)
		return GO_NEXT;
	if (strcmp(apply, "no") != 0) {
		err_set(w->e, _("answers: apply must be yes or no, not '%s'"), apply);
		return GO_FAIL;
	}
	for (size_t i = 0; i < w->n_srv; i++) {
		if (!w->srv[i].selected)
			continue;
		diff = plan_diff(&w->srv[i].plan);
		w->fe->textview(w->fe, w->srv[i].backend->display_name, diff);
		free(diff);
	}
	sl_add(&w->r->summary, _("Not applied (apply = no): nothing was changed."));
	w->r->outcome = WIZARD_NOTHING;
	return GO_DONE;
}

/* Notes that change what the admin must do (SASL, closed ports, values
 * left alone) are a screen of their own, shown once per set of notes. */
static void notes_screen(struct wizard *w)
{
	char *text = notes_text(w);
	struct fe_screen s = {.title = flow_title(w, ST_REVIEW, _("Before you review")),
			      .ok_label = _("Continue")};

	if (*text && (w->notes_seen == NULL || strcmp(w->notes_seen, text) != 0)) {
		char *full = xasprintf("%s\n\n%s", _("Please read these notes on the plan:"), text);

		s.text = full;
		w->fe->message(w->fe, &s);
		free(full);
		flow_set_str(&w->notes_seen, text);
	}
	free(text);
}

/* Without screens the notes go into the summary, which is printed. */
static void summary_notes(struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		for (size_t j = 0; s->selected && j < s->plan.notes.n; j++)
			sl_add_owned(&w->r->summary, xasprintf(_("note: %s: %s"),
							       s->backend->display_name,
							       s->plan.notes.v[j]));
	}
}

enum go step_review(struct wizard *w)
{
	const char *apply = flow_preset(w, "apply");
	enum go g;

	w->to_review = false;
	w->forced = -1;
	if (make_plans(w) < 0)
		return review_plan_failed(w);
	if (all_empty(w))
		return review_nothing(w);
	if (w->o->non_interactive) {
		summary_notes(w);
		return review_batch(w, apply);
	}
	if (apply && strcmp(apply, "yes") == 0 && !w->answered[ST_REVIEW]) {
		w->answered[ST_REVIEW] = true;
		return GO_NEXT;
	}
	notes_screen(w);
	do
		g = review_screen(w);
	while (g == GO_STAY);
	return g;
}
