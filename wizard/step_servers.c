/*
 * step_servers.c - detection and the choice of servers to harden.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned wizard_default_roles(const struct backend *b)
{
	return b->roles_possible &
	       (ROLE_MX | ROLE_SUBMISSION | ROLE_SUBMISSIONS | ROLE_IMAPS | ROLE_POP3S);
}

static void detect_all(struct wizard *w)
{
	const struct backend *const *bl = backend_list();

	if (w->detected)
		return;
	for (size_t i = 0; bl[i] && w->n_srv < MAX_SERVERS; i++) {
		struct wserver *s = &w->srv[w->n_srv++];

		s->backend = bl[i];
		s->si.backend = bl[i];
		bl[i]->detect(w->env, &s->si);
		s->si.backend = bl[i];
		s->selected = s->si.found && s->si.usable;
		s->roles = s->si.roles_served & bl[i]->roles_possible;
		if (s->roles == 0)
			s->roles = wizard_default_roles(bl[i]);
	}
	w->detected = true;
}

static size_t n_usable(const struct wizard *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->n_srv; i++)
		n += w->srv[i].si.usable;
	return n;
}

static struct wserver *server_named(struct wizard *w, const char *name)
{
	for (size_t i = 0; i < w->n_srv; i++)
		if (strcmp(w->srv[i].backend->name, name) == 0)
			return &w->srv[i];
	return NULL;
}

static int apply_servers_preset(struct wizard *w, const char *list)
{
	char *copy = xstrdup(list), *save = NULL;
	int rc = 0;

	for (size_t i = 0; i < w->n_srv; i++)
		w->srv[i].selected = false;
	for (char *t = strtok_r(copy, ", ", &save); t && rc == 0; t = strtok_r(NULL, ", ", &save)) {
		struct wserver *s = server_named(w, t);

		if (s == NULL)
			rc = err_set(w->e, _("answers: unknown server '%s'"), t);
		else if (!s->si.usable)
			rc = err_set(w->e, _("answers: %s cannot be configured here: %s"), t,
				     s->si.why ? s->si.why : _("not usable"));
		else
			s->selected = true;
	}
	free(copy);
	if (rc == 0 && list[strspn(list, ", ")] == '\0')
		rc = err_set(w->e, _("answers: 'servers' names no server"));
	return rc;
}

static char *server_label(const struct wserver *s)
{
	if (!s->si.found)
		return xasprintf(_("%s: not found (%s)"), s->backend->display_name,
				 s->si.why ? s->si.why : _("not installed"));
	if (!s->si.usable)
		return xasprintf(_("%s: cannot be configured (%s)"), s->backend->display_name,
				 s->si.why ? s->si.why : "");
	return xasprintf(_("%s %s, configuration in %s"), s->backend->display_name,
			 s->si.version ? s->si.version : "?",
			 s->si.config_dir ? s->si.config_dir : "?");
}

static char *servers_text(const struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, _("These mail servers were found. Choose the ones to harden."));
	for (size_t i = 0; i < w->n_srv; i++) {
		char *l;

		if (w->srv[i].si.usable)
			continue;
		l = server_label(&w->srv[i]);
		sb_addf(&sb, "\n  - %s", l);
		free(l);
	}
	return sb_detach(&sb);
}

static enum go servers_none(struct wizard *w)
{
	char *text = servers_text(w);

	err_set(w->e, "%s", _("no supported mail server found (Postfix, Dovecot, Exim)"));
	if (!w->o->non_interactive) {
		struct fe_screen s = {.title = _("No mail server found"), .text = text};

		w->fe->message(w->fe, &s);
	}
	free(text);
	return GO_FAIL;
}

static enum go servers_ask(struct wizard *w)
{
	struct fe_item items[MAX_SERVERS];
	struct fe_screen s = {.title = flow_title(w, ST_SERVERS, _("Mail servers")), .back = true,
			      .cursor = &w->cursor[ST_SERVERS]};
	char *labels[MAX_SERVERS], *text = servers_text(w);
	size_t n = 0, chosen = 0;
	enum fe_rc rc;

	for (size_t i = 0; i < w->n_srv; i++) {
		if (!w->srv[i].si.usable)
			continue;
		labels[n] = server_label(&w->srv[i]);
		items[n] = (struct fe_item){.tag = w->srv[i].backend->name, .label = labels[n],
					    .on = w->srv[i].selected};
		n++;
	}
	s.text = text;
	s.help = _("mailharden configures each chosen server with its own checker and its own "
		   "checkpoint. A server that is not installed, or whose version cannot be "
		   "told, cannot be chosen; the reason is shown above the list.");
	rc = w->fe->checklist(w->fe, &s, items, n);
	for (size_t i = 0, k = 0; i < w->n_srv; i++) {
		if (!w->srv[i].si.usable)
			continue;
		if (rc == FE_OK)
			w->srv[i].selected = items[k].on;
		chosen += w->srv[i].selected;
		free(labels[k++]);
	}
	free(text);
	if (rc == FE_OK && chosen == 0) {
		flow_error_screen(w, _("Choose at least one server."));
		return GO_STAY;
	}
	return flow_after_screen(w, rc);
}

enum go step_servers(struct wizard *w)
{
	const char *p = flow_preset(w, "servers");

	detect_all(w);
	if (n_usable(w) == 0)
		return servers_none(w);
	if (p && !w->answered[ST_SERVERS]) {
		if (apply_servers_preset(w, p) < 0)
			return GO_FAIL;
		w->answered[ST_SERVERS] = w->preset[ST_SERVERS] = true;
	}
	if (flow_passes(w, ST_SERVERS, w->answered[ST_SERVERS], w->preset[ST_SERVERS]))
		return flow_pass(w);
	if (w->o->non_interactive)
		return flow_fail_missing(w, "servers");
	w->answered[ST_SERVERS] = true;
	return servers_ask(w);
}
