/*
 * step_roles.c - which services (ports) each chosen server offers.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int roles_preset(struct wizard *w, struct wserver *s)
{
	char *key = xasprintf("%s.roles", s->backend->name);
	const char *p = flow_preset(w, key);
	unsigned roles;
	int rc = 0;

	if (p && !s->roles_answered) {
		if (roles_parse(p, &roles, w->e) < 0) {
			rc = err_prefix(w->e, _("answers: %s"), key);
		} else if (roles & ~s->backend->roles_possible) {
			char *bad = roles_format(roles & ~s->backend->roles_possible);

			rc = err_set(w->e, _("answers: %s cannot serve role %s"), s->backend->name, bad);
			free(bad);
		} else {
			s->roles = roles;
			s->roles_answered = s->roles_preset = true;
		}
	}
	free(key);
	return rc;
}

static char *roles_help(const struct wserver *s)
{
	struct strbuf sb = STRBUF_INIT;

	for (const struct role_info *ri = role_table(); ri->name; ri++) {
		if (!(s->backend->roles_possible & ri->role))
			continue;
		sb_addf(&sb, "%s%s (%d)\n%s", sb.len ? "\n\n" : "", ri->name, ri->port, _(ri->help));
	}
	return sb_detach(&sb);
}

static char *roles_text(const struct wserver *s)
{
	char *served = roles_format(s->si.roles_served & s->backend->roles_possible);
	const char *left = s->backend->closes_unchosen
				   ? _("A service you leave out is closed.")
				   : _("A service you leave out keeps its current settings.");
	char *t;

	if (*served)
		t = xasprintf(_("Which services should %s offer? Prefilled with what its "
				"configuration serves now: %s. %s"),
			      s->backend->display_name, served, left);
	else
		t = xasprintf(_("Which services should %s offer? Its configuration serves none of "
				"them yet. %s"),
			      s->backend->display_name, left);
	free(served);
	return t;
}

static enum go roles_ask(struct wizard *w, struct wserver *s)
{
	struct fe_item items[16];
	char *labels[16];
	struct fe_screen sc = {.title = flow_title(w, ST_ROLES, _("Services and ports")),
			       .back = true, .cursor = &s->roles_cursor};
	size_t n = 0;
	unsigned chosen;
	enum fe_rc rc;

	for (const struct role_info *ri = role_table(); ri->name && n < 16; ri++) {
		if (!(s->backend->roles_possible & ri->role))
			continue;
		/* port first: a narrow screen cuts the end of the label */
		labels[n] = xasprintf("%-3d %s%s", ri->port, _(ri->label),
				      (s->si.roles_served & ri->role) ? _(" [now]") : "");
		items[n] = (struct fe_item){.tag = ri->name, .label = labels[n],
					    .on = (s->roles & ri->role) != 0};
		n++;
	}
	sc.text = roles_text(s);
	sc.help = roles_help(s);
	/* a rejected list comes back as the user left it: ticks and cursor */
	for (;;) {
		rc = w->fe->checklist(w->fe, &sc, items, n);
		chosen = 0;
		for (size_t i = 0; i < n; i++)
			if (items[i].on)
				chosen |= role_by_name(items[i].tag)->role;
		if (rc != FE_OK || chosen != 0)
			break;
		flow_error_screen(w, _("Choose at least one service."));
	}
	for (size_t i = 0; i < n; i++)
		free(labels[i]);
	free((char *)sc.text);
	free((char *)sc.help);
	if (rc == FE_OK) {
		s->roles = chosen;
		s->roles_answered = true;
	}
	return flow_after_screen(w, rc);
}

/* Index of the next selected server from i in direction dir, or -1. */
static long next_selected(const struct wizard *w, long i, int dir)
{
	for (; i >= 0 && (size_t)i < w->n_srv; i += dir)
		if (w->srv[i].selected)
			return i;
	return -1;
}

enum go step_roles(struct wizard *w)
{
	long i = w->dir < 0 ? next_selected(w, (long)w->n_srv - 1, -1)
			    : next_selected(w, (long)w->roles_from, 1);
	bool forced = w->forced == ST_ROLES;

	w->roles_from = 0;
	while (i >= 0) {
		struct wserver *s = &w->srv[i];
		enum go g;

		if (roles_preset(w, s) < 0)
			return GO_FAIL;
		if (!forced && flow_passes(w, ST_ROLES, s->roles_answered, s->roles_preset)) {
			i = next_selected(w, i + w->dir, w->dir);
			continue;
		}
		if (w->o->non_interactive) {
			char *key = xasprintf("%s.roles", s->backend->name);

			flow_missing(w, key);
			free(key);
			return GO_FAIL;
		}
		g = roles_ask(w, s);
		if (g == GO_STAY)
			continue;
		if (g != GO_NEXT && g != GO_BACK)
			return g;
		w->dir = g == GO_NEXT ? 1 : -1;
		i = next_selected(w, i + w->dir, w->dir);
	}
	return w->dir < 0 ? GO_BACK : GO_NEXT;
}
