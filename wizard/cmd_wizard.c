/*
 * cmd_wizard.c - the `wizard` verb (and `mailharden` with no verb):
 * picks a front end, runs the flow, prints the summary.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

static bool want_line_mode(const struct cli_opts *o)
{
	const char *term = getenv("TERM");

	return o->text || o->non_interactive || !isatty(STDIN_FILENO) ||
	       !isatty(STDOUT_FILENO) || term == NULL || *term == '\0' ||
	       strcmp(term, "dumb") == 0;
}

static char *backtitle(const struct env *env)
{
	if (env->lab)
		return xasprintf(_("mailharden - lab mode: %s"), env->root);
	return xstrdup(_("mailharden - TLS for your mail server"));
}

int cli_wizard(struct env *env, const struct cli_opts *o)
{
	struct answers_file af = {0};
	struct wizard_opts wo = {.non_interactive = o->non_interactive, .no_reload = o->no_reload};
	struct wizard_result r;
	struct error e = {{0}};
	struct frontend *fe = NULL;
	char *bt = backtitle(env);
	int rc;

	if (o->answers && answers_load(o->answers, &af, &e) < 0) {
		msg_error("%s", e.msg);
		free(bt);
		return EXIT_ERROR;
	}
	wo.preset = o->answers ? &af : NULL;
	wo.program = invoked_as();
	wo.log = true;
	if (!want_line_mode(o))
		fe = fe_dialog_new();
	if (fe == NULL)
		fe = fe_line_new(o->non_interactive ? NULL : stdin, stdout);
	/* TRANSLATORS: a short mark shown with every title: a lab root, or
	 * this host's real configuration */
	fe->mark = env->lab ? _("lab") : _("live");
	fe_interrupt_note(_("Interrupted: nothing was written."));
	fe_interrupt_install();
	if (fe->begin(fe, bt, &e) < 0) {
		msg_error("%s", e.msg);
		fe_free(fe);
		answers_file_free(&af);
		free(bt);
		return EXIT_ERROR;
	}
	rc = wizard_run(env, fe, &wo, &r, &e);
	fe->end(fe);
	/* the full-screen summary is gone with the screen: say it again */
	if (strcmp(fe->name, "dialog") == 0 || r.outcome == WIZARD_CANCELLED)
		for (size_t i = 0; i < r.summary.n; i++)
			printf("%s\n", r.summary.v[i]);
	if (rc < 0 && e.msg[0])
		msg_error("%s", e.msg);
	rc = r.outcome == WIZARD_APPLIED || r.outcome == WIZARD_NOTHING ? EXIT_OK : EXIT_ERROR;
	wizard_result_free(&r);
	fe_free(fe);
	answers_file_free(&af);
	free(bt);
	return rc;
}
