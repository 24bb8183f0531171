/*
 * step_profile.c - compatibility: which clients must still connect.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const enum profile_id offered_profiles[] = {PROFILE_MODERN, PROFILE_INTERMEDIATE,
						    PROFILE_OLD};

/* Compact: at 60x24 the question, three client lists and the menu must
 * fit on one screen. */
static char *profile_text(void)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, _("Which clients must still connect? The oldest each choice allows:"));
	/* before the lists: a small screen shortens the text from the end */
	sb_adds(&sb, " ");
	sb_adds(&sb, _("Port 25 (mail from other servers) stays opportunistic in every "
		       "choice: see Help."));
	for (size_t i = 0; i < ARRAY_LEN(offered_profiles); i++) {
		const struct profile *p = profile_get(offered_profiles[i]);

		sb_addf(&sb, "\n%s: %s", p->name, _(p->oldest_clients));
	}
	return sb_detach(&sb);
}

static char *profile_help(void)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < ARRAY_LEN(offered_profiles); i++) {
		const struct profile *p = profile_get(offered_profiles[i]);

		sb_addf(&sb, "%s\n%s\n%s\n\n", p->name, _(p->oldest_clients), _(p->help));
	}
	sb_addf(&sb, "mx (25)\n%s", _(role_info(ROLE_MX)->help));
	return sb_detach(&sb);
}

static enum go profile_ask(struct wizard *w)
{
	struct fe_item items[ARRAY_LEN(offered_profiles)];
	struct fe_screen s = {.title = flow_title(w, ST_PROFILE, _("Compatibility")), .back = true,
			      .default_item = 1};
	size_t choice = 1;
	enum fe_rc rc;

	for (size_t i = 0; i < ARRAY_LEN(offered_profiles); i++) {
		const struct profile *p = profile_get(offered_profiles[i]);

		items[i] = (struct fe_item){.tag = p->name, .label = _(p->summary)};
		if (w->profile == p)
			s.default_item = i;
	}
	s.text = profile_text();
	s.help = profile_help();
	rc = w->fe->menu(w->fe, &s, items, ARRAY_LEN(items), &choice);
	free((char *)s.text);
	free((char *)s.help);
	if (rc == FE_OK && choice < ARRAY_LEN(items)) {
		w->profile = profile_get(offered_profiles[choice]);
		w->answered[ST_PROFILE] = true;
	}
	return flow_after_screen(w, rc);
}

enum go step_profile(struct wizard *w)
{
	const char *p = flow_preset(w, "profile");

	if (p && !w->answered[ST_PROFILE]) {
		w->profile = profile_by_name(p);
		if (w->profile == NULL) {
			err_set(w->e, _("answers: unknown profile '%s': modern, intermediate or old"), p);
			return GO_FAIL;
		}
		w->answered[ST_PROFILE] = w->preset[ST_PROFILE] = true;
	}
	if (flow_passes(w, ST_PROFILE, w->answered[ST_PROFILE], w->preset[ST_PROFILE]))
		return flow_pass(w);
	if (w->o->non_interactive)
		return flow_fail_missing(w, "profile");
	return profile_ask(w);
}
