/*
 * step_welcome.c - the first screen: what the wizard will do, lab mode named.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum go step_welcome(struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;
	struct fe_screen s = {.title = flow_title(w, ST_WELCOME,
						    _("Harden the TLS of your mail server"))};
	enum fe_rc rc;

	if (w->o->non_interactive)
		return GO_NEXT;
	sb_adds(&sb, _("This wizard finds Postfix, Dovecot and Exim, asks which services they offer, "
		       "which clients must still connect and which certificate to use, and "
		       "shows every change as a diff.\n\n"
		       "Nothing is written before you choose Apply on the review screen. "
		       "Every apply makes a checkpoint you can roll back."));
	if (w->env->lab) {
		sb_adds(&sb, "\n\n");
		sb_addf(&sb, _("Lab mode: working on the copy under %s; no server is reloaded."),
			w->env->root);
	} else if (geteuid() != 0) {
		/* said first, not after the questions: Apply would fail */
		sb_adds(&sb, "\n\n");
		sb_adds(&sb, _("You are not root: changing the servers' files and reloading them "
			       "needs root. Quit and run it as root (sudo mailharden), or use "
			       "--root DIR to try it on a copy."));
	}
	s.text = sb.buf;
	s.help = _("Keys: arrows move, Space toggles a checkbox, Tab moves between buttons, "
		   "Enter confirms, Esc quits. Every screen has a Help button; Back returns "
		   "to the previous question.");
	s.ok_label = _("Start");
	rc = w->fe->message(w->fe, &s);
	sb_free(&sb);
	return rc == FE_BACK ? GO_STAY : flow_after_screen(w, rc);
}
