/*
 * cli.c - detect, plan, apply, history, rollback as plain commands.
 */
#include "cli.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../backends/backend.h"
#include "../core/txn.h"
#include "cli_json.h"

static void print_error(const struct error *e)
{
	msg_error("%s", e->msg);
}

/* ---- detect ------------------------------------------------------------ */

static json_t *roles_json(unsigned roles)
{
	json_t *a = json_array();

	for (const struct role_info *ri = role_table(); ri->name; ri++)
		if (roles & ri->role)
			json_array_append_new(a, json_string(ri->name));
	return a;
}

static json_t *ports_json(unsigned roles)
{
	json_t *a = json_array();

	for (const struct role_info *ri = role_table(); ri->name; ri++)
		if (roles & ri->role)
			json_array_append_new(a, json_integer(ri->port));
	return a;
}

static json_t *opt_string(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *server_json(const struct server_info *si)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(si->backend->name));
	json_object_set_new(o, "found", json_boolean(si->found));
	json_object_set_new(o, "usable", json_boolean(si->usable));
	json_object_set_new(o, "refused", json_boolean(si->refused));
	json_object_set_new(o, "why", opt_string(si->why));
	json_object_set_new(o, "binary", opt_string(si->binary));
	json_object_set_new(o, "binary_in_root", json_boolean(si->binary_in_root));
	json_object_set_new(o, "version", opt_string(si->version));
	json_object_set_new(o, "version_source", opt_string(si->version_source));
	json_object_set_new(o, "openssl_version", opt_string(si->openssl_version));
	json_object_set_new(o, "layout", json_string(layout_name(si->layout)));
	json_object_set_new(o, "config_scheme", opt_string(si->config_scheme));
	json_object_set_new(o, "tls_library", opt_string(si->tls_library));
	json_object_set_new(o, "loopback_only", json_boolean(si->loopback_only));
	json_object_set_new(o, "config_dir", opt_string(si->config_dir));
	json_object_set_new(o, "config_file", opt_string(si->config_file));
	json_object_set_new(o, "roles", roles_json(si->roles_served));
	json_object_set_new(o, "ports", ports_json(si->roles_served));
	json_object_set_new(o, "roles_tls_required", roles_json(si->roles_tls));
	return o;
}

static void print_roles(unsigned roles)
{
	bool first = true;

	for (const struct role_info *ri = role_table(); ri->name; ri++) {
		if (!(roles & ri->role))
			continue;
		printf("%s%s(%d)", first ? "" : " ", ri->name, ri->port);
		first = false;
	}
	if (first)
		fputs(_("none"), stdout);
}

static void print_server(const struct server_info *si)
{
	printf("%s:\n", si->backend->display_name);
	if (!si->found) {
		printf("  %s %s\n", _("not found:"), si->why ? si->why : "");
		return;
	}
	printf("  %-14s %s", _("version"), si->version ? si->version : _("unknown"));
	if (si->version_source)
		printf(" (%s)", si->version_source);
	putchar('\n');
	if (si->binary)
		printf("  %-14s %s%s\n", _("binary"), si->binary,
		       si->binary_in_root ? "" : _(" (host)"));
	printf("  %-14s %s\n", _("config"), si->config_dir ? si->config_dir : "-");
	printf("  %-14s %s", _("layout"), layout_name(si->layout));
	if (si->config_scheme && *si->config_scheme)
		printf(" (%s)", si->config_scheme);
	putchar('\n');
	if (si->tls_library)
		printf("  %-14s %s\n", _("TLS library"), si->tls_library);
	if (si->openssl_version)
		printf("  %-14s %s\n", _("OpenSSL"), si->openssl_version);
	printf("  %-14s ", _("serves"));
	print_roles(si->roles_served);
	printf("\n  %-14s ", _("TLS required"));
	print_roles(si->roles_tls);
	putchar('\n');
	if (si->loopback_only)
		printf("  %-14s %s\n", _("listens"), _("on loopback only: no mail from other hosts"));
	if (si->refused)
		printf("  %-14s %s\n", _("REFUSES its configuration:"), si->why ? si->why : "");
	else if (!si->usable && si->why)
		printf("  %-14s %s\n", _("not usable:"), si->why);
}

static void detect_one(const struct env *env, const struct backend *b, struct server_info *si)
{
	memset(si, 0, sizeof(*si));
	si->backend = b;
	b->detect(env, si);
	si->backend = b;
}

int cli_detect(struct env *env, const struct cli_opts *o)
{
	const struct backend *const *bl = backend_list();
	json_t *arr = json_array();

	for (size_t i = 0; bl[i]; i++) {
		struct server_info si;

		detect_one(env, bl[i], &si);
		if (o->json)
			json_array_append_new(arr, server_json(&si));
		else
			print_server(&si);
		server_info_free(&si);
	}
	if (o->json) {
		json_t *top = json_object();

		json_object_set_new(top, "root", json_string(env->root[0] ? env->root : "/"));
		json_object_set_new(top, "servers", arr);
		json_dumpf(top, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(top);
	} else {
		json_decref(arr);
	}
	return EXIT_OK;
}

/* ---- plan / apply ------------------------------------------------------- */

struct job {
	const struct backend *backend;
	struct server_info si;
	struct answers answers;
	struct plan plan;
	char *sasl_socket, *sasl_owner; /* answers.auth_socket* */
};

static void job_free(struct job *j)
{
	plan_free(&j->plan);
	server_info_free(&j->si);
	free(j->sasl_socket);
	free(j->sasl_owner);
}

static int job_answers(const struct cli_opts *o, struct job *j, struct error *e)
{
	struct answers *a = &j->answers;

	if (o->roles == NULL)
		return err_set(e, _("--role is required (e.g. --role mx,submission)"));
	if (roles_parse(o->roles, &a->roles, e) < 0)
		return -1;
	if (o->profile == NULL)
		return err_set(e, _("--profile is required: modern, intermediate or old"));
	a->profile = profile_by_name(o->profile);
	if (a->profile == NULL)
		return err_set(e, _("unknown profile '%s': modern, intermediate or old"),
			       text_is_clean(o->profile) ? o->profile : "?");
	a->cert_file = o->cert;
	a->key_file = o->key;
	a->dh_file = o->dh;
	return 0;
}

static int check_roles(const struct job *j, struct error *e)
{
	unsigned bad = j->answers.roles & ~j->backend->roles_possible;
	char *names;

	if (bad == 0)
		return 0;
	names = roles_format(bad);
	err_set(e, _("%s cannot serve role %s"), j->backend->name, names);
	free(names);
	return -1;
}

/* The MTA whose AUTH Dovecot serves: Postfix's socket, if Postfix is here. */
static void sasl_socket_of_mta(const struct env *env, struct job *j)
{
	const struct backend *const *bl = backend_list();

	for (size_t i = 0; bl[i] && j->answers.auth_socket == NULL; i++) {
		struct server_info si;

		if (bl[i] == j->backend)
			continue;
		detect_one(env, bl[i], &si);
		/* by default only for an MTA that uses, or will default to, Dovecot */
		if (si.found && si.sasl_socket &&
		    (j->answers.sasl == SASL_DOVECOT || si.sasl_now == SASL_UNSET ||
		     si.sasl_now == SASL_DOVECOT)) {
			j->sasl_socket = xstrdup(si.sasl_socket);
			j->sasl_owner = xstrdup(si.sasl_socket_owner ? si.sasl_socket_owner : "postfix");
			j->answers.auth_socket = j->sasl_socket;
			j->answers.auth_socket_owner = j->sasl_owner;
		}
		server_info_free(&si);
	}
}

/* --sasl, or the default for submission: what AUTH uses now, else Dovecot
 * when it is on the host; without either the admin must say. */
static int job_sasl(const struct env *env, const struct cli_opts *o, struct job *j,
		    struct error *e)
{
	struct answers *a = &j->answers;
	struct server_info dc = {0};
	const struct backend *dovecot = backend_by_name("dovecot");

	if (o->sasl && sasl_kind_parse(o->sasl, &a->sasl) < 0)
		return err_set(e, _("unknown --sasl '%s': dovecot, cyrus or none"),
			       text_is_clean(o->sasl) ? o->sasl : "?");
	/* Dovecot itself serves the socket the MTA here reads: asked with
	 * --sasl dovecot, and by default, as the MTA defaults to Dovecot */
	if (strcmp(j->backend->name, sasl_kind_name(SASL_DOVECOT)) == 0) {
		if (a->sasl == SASL_DOVECOT || o->sasl == NULL)
			sasl_socket_of_mta(env, j);
		return 0;
	}
	if (o->sasl || !(a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS)) ||
	    j->si.sasl_now != SASL_UNSET)
		return 0;
	if (dovecot && dovecot != j->backend)
		detect_one(env, dovecot, &dc);
	if (dc.found)
		a->sasl = SASL_DOVECOT;
	server_info_free(&dc);
	if (a->sasl == SASL_UNSET)
		return err_set(e, _("submission needs a way to check passwords and none is set up: "
				    "give --sasl dovecot, cyrus or none"));
	return 0;
}

/* detect -> answers -> plan, with every check that needs no writing. */
static int job_plan(const struct env *env, const struct cli_opts *o, struct job *j,
		    struct error *e)
{
	memset(j, 0, sizeof(*j));
	if (o->server == NULL)
		return err_set(e, _("--server is required (postfix, dovecot, exim)"));
	j->backend = backend_by_name(o->server);
	if (j->backend == NULL) {
		struct strbuf known = STRBUF_INIT;

		for (const struct backend *const *b = backend_list(); *b; b++)
			sb_addf(&known, "%s%s", known.len ? ", " : "", (*b)->name);
		err_set(e, _("unknown server '%s' (known: %s)"),
			text_is_clean(o->server) ? o->server : "?", known.buf ? known.buf : "");
		sb_free(&known);
		return -1;
	}
	if (job_answers(o, j, e) < 0 || check_roles(j, e) < 0)
		return -1;
	detect_one(env, j->backend, &j->si);
	if (!j->si.found || !j->si.usable)
		return err_set(e, "%s: %s", j->backend->name,
			       j->si.why ? j->si.why : _("not usable"));
	if (job_sasl(env, o, j, e) < 0)
		return -1;
	if (answers_check(env, &j->answers, e) < 0)
		return -1;
	j->plan.server = &j->si;
	if (j->backend->plan(env, &j->si, &j->answers, &j->plan, e) < 0)
		return -1;
	plan_record_answers(&j->plan, &j->answers);
	return 0;
}

static void print_notes(const struct strlist *notes)
{
	for (size_t i = 0; i < notes->n; i++)
		fprintf(stderr, "%s %s\n", _("note:"), notes->v[i]);
}

static void print_plan(const struct job *j)
{
	char *diff = plan_diff(&j->plan);

	for (size_t i = 0; i < j->plan.conflicts.n; i++)
		fprintf(stderr, "%s %s\n", _("conflict:"), j->plan.conflicts.v[i]);
	print_notes(&j->plan.notes);
	if (*diff)
		fputs(diff, stdout);
	else
		printf(_("No changes: %s already matches this plan.\n"), j->backend->display_name);
	free(diff);
}

int cli_plan(struct env *env, const struct cli_opts *o)
{
	struct job j;
	struct error e = {{0}};
	int rc = EXIT_OK;
	bool pending = txn_pending(env) > 0;

	/* plan writes nothing, not even a recovery: say what apply will do */
	if (pending)
		msg_warn("%s", _("an unfinished checkpoint was found (an earlier run was "
				 "interrupted); the next apply or rollback restores its files first, "
				 "so this plan may differ from what apply will do"));

	if (job_plan(env, o, &j, &e) < 0) {
		print_error(&e);
		rc = EXIT_ERROR;
	} else if (!o->json) {
		print_plan(&j);
	}
	if (o->json) {
		struct cli_json_run run = {.verb = "plan", .env = env, .opts = o,
					   .plan = rc == EXIT_OK ? &j.plan : NULL,
					   .pending_recovery = pending,
					   .error = rc == EXIT_OK ? NULL : e.msg};

		cli_json_print(&run);
	}
	job_free(&j);
	return rc;
}

static bool confirm(void)
{
	char line[64];

	if (!isatty(STDIN_FILENO))
		return false;
	printf("%s ", _("Apply these changes? [y/N]"));
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	/* TRANSLATORS: the one-letter answer meaning yes in the prompt above */
	return line[0] == 'y' || line[0] == 'Y' || line[0] == _("y")[0];
}

static void cli_progress(void *ctx, int percent, const char *step)
{
	(void)ctx;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "[%3d%%] %s\n", percent, step);
}

/* Same setting, value and origin as an earlier one: the same line seen
 * from another scope (main.cf's value in every service that inherits it). */
static bool repeats(const struct expect_list *l, size_t i)
{
	const struct expectation *x = &l->items[i];

	for (size_t k = 0; k < i; k++) {
		const struct expectation *y = &l->items[k];

		if (y->state == x->state && strcmp(y->name, x->name) == 0 &&
		    (x->got == NULL) == (y->got == NULL) && (!x->got || strcmp(x->got, y->got) == 0) &&
		    (x->origin == NULL) == (y->origin == NULL) &&
		    (!x->origin || strcmp(x->origin, y->origin) == 0))
			return true;
	}
	return false;
}

/* One line on stderr per expectation that does not hold or could not be
 * asked; skip_first leaves out the first weaker one (the error names it). */
static void print_unmet(const struct expect_list *l, bool skip_first)
{
	bool skipped = !skip_first;

	for (size_t i = 0; i < l->n; i++) {
		const struct expectation *x = &l->items[i];
		char *d;

		if (x->state == EXPECT_HOLDS)
			continue;
		if (!skipped && x->state == EXPECT_WEAKER) {
			skipped = true;
			continue;
		}
		if (repeats(l, i))
			continue;
		d = expect_describe(x);
		fprintf(stderr, "%s %s\n",
			x->state == EXPECT_WEAKER ? _("weaker:") : _("could not verify:"), d);
		free(d);
	}
}

/* The unmet expectations, then a summary line on stdout.  Returns how
 * many are weaker. */
static size_t print_expect(const struct server_info *si, const struct expect_list *l)
{
	size_t weaker = expect_count(l, EXPECT_WEAKER), unknown = expect_count(l, EXPECT_UNKNOWN);

	print_unmet(l, false);
	if (l->n == 0)
		return 0;
	if (weaker)
		printf(_("%s: %zu of %zu settings do NOT take effect as planned\n"),
		       si->backend->display_name, weaker, l->n);
	else if (unknown == l->n)
		printf(_("%s: could not verify the effective configuration\n"),
		       si->backend->display_name);
	else if (unknown)
		printf(_("%s: verified %zu of %zu settings with the server's own tool; %zu could "
			 "not be verified\n"), si->backend->display_name, l->n - unknown, l->n, unknown);
	else
		printf(_("%s: verified with the server's own tool: all %zu settings take effect as "
			 "planned\n"), si->backend->display_name, l->n);
	return weaker;
}

const char *invoked_as(void)
{
	static char *name;
	const char *argv0 = program_invocation_name;

	if (name)
		return name;
	/* from PATH (no slash) the plain name is what the user typed */
	if (argv0 == NULL || strchr(argv0, '/') == NULL || !text_is_clean(argv0) ||
	    strchr(argv0, '\'') != NULL)
		name = xstrdup("mailharden");
	else if (strspn(argv0, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789/._-+") == strlen(argv0))
		name = xstrdup(argv0);
	else
		name = xasprintf("'%s'", argv0);
	return name;
}

static void print_applied(const struct env *env, const struct apply_result *r)
{
	print_notes(&r->notes);
	for (size_t i = 0; i < r->written.n; i++)
		printf(_("wrote %s\n"), r->written.v[i]);
	printf(_("checkpoint %s\n"), r->checkpoint_id);
	if (env->lab)
		printf("%s\n", _("lab mode (--root): the server was not reloaded"));
	if (env->lab)
		printf(_("undo with: %s rollback %s --root %s\n"), invoked_as(), r->checkpoint_id,
		       env->root);
	else
		printf(_("undo with: %s rollback %s\n"), invoked_as(), r->checkpoint_id);
}

/* Nothing to write is no proof: the live files must still hold. */
static int verify_unchanged(const struct env *env, const struct cli_opts *o, struct job *j,
			    struct error *e)
{
	size_t weaker;

	if (engine_verify(env, &j->si, &j->plan.expect, e) < 0) {
		print_error(e);
		return EXIT_ERROR;
	}
	if (!o->json)
		return print_expect(&j->si, &j->plan.expect) > 0 ? EXIT_ERROR : EXIT_OK;
	print_unmet(&j->plan.expect, false);
	weaker = expect_count(&j->plan.expect, EXPECT_WEAKER);
	if (weaker == 0)
		return EXIT_OK;
	err_set(e, _("%s: %zu of %zu settings do NOT take effect as planned"),
		j->si.backend->display_name, weaker, j->plan.expect.n);
	print_error(e);
	return EXIT_ERROR;
}

/* apply's outcome: text for people, or the JSON document. */
static int apply_finish(const struct env *env, const struct cli_opts *o, struct job *j,
			const struct strlist *recovered, const struct apply_result *r,
			const struct expect_list *asked, const struct error *e, int rc)
{
	if (o->json) {
		struct cli_json_run run = {.verb = "apply", .env = env, .opts = o,
					   .plan = j && j->backend ? &j->plan : NULL, .result = r,
					   .recovered = recovered,
					   .reloaded = r && r->checkpoint_id && !o->no_reload && !env->lab,
					   .expect = r ? &r->expect : asked,
					   .error = rc == EXIT_OK ? NULL : e->msg};

		cli_json_print(&run);
	}
	if (j)
		job_free(j);
	return rc;
}

int cli_apply(struct env *env, const struct cli_opts *o)
{
	struct job j;
	struct error e = {{0}};
	struct apply_result r = {0};
	struct apply_opts ao = {0};
	struct strlist recovered = STRLIST_INIT;
	const struct expect_list *asked = NULL; /* verified without writing */
	char *desc;
	int rc = EXIT_OK;

	/* recover first, so the plan is made from the files as they were */
	rc = engine_recover(env, &recovered, &e);
	print_notes(&recovered);
	if (rc < 0) {
		print_error(&e);
		rc = apply_finish(env, o, NULL, &recovered, NULL, NULL, &e, EXIT_ERROR);
		sl_free(&recovered);
		return rc;
	}
	rc = EXIT_OK;
	if (job_plan(env, o, &j, &e) < 0) {
		print_error(&e);
		rc = EXIT_ERROR;
	} else if (!o->json) {
		print_plan(&j);
	}
	if (rc == EXIT_OK && plan_is_empty(&j.plan)) {
		rc = verify_unchanged(env, o, &j, &e);
		asked = &j.plan.expect;
	}
	if (rc != EXIT_OK || plan_is_empty(&j.plan)) {
		rc = apply_finish(env, o, &j, &recovered, NULL, asked, &e, rc);
		sl_free(&recovered);
		return rc;
	}
	if (!o->yes && (o->json || !confirm())) {
		err_set(&e, "%s", o->json ? _("apply --json needs --yes (no question is asked)")
			: isatty(STDIN_FILENO) ? _("not applied: nothing was changed")
			: _("not applied: pass --yes to apply without a terminal"));
		print_error(&e);
		rc = apply_finish(env, o, &j, &recovered, NULL, NULL, &e, EXIT_ERROR);
		sl_free(&recovered);
		return rc;
	}
	desc = xasprintf("%s %s", o->roles, j.answers.profile->name);
	ao.reload = !o->no_reload;
	ao.description = desc;
	ao.progress = cli_progress;
	if (engine_apply(env, &j.plan, &ao, &r, &e) < 0) {
		print_notes(&r.notes);
		print_unmet(&r.expect, true);
		print_error(&e);
		rc = EXIT_ERROR;
	} else if (!o->json) {
		print_applied(env, &r);
		print_expect(&j.si, &r.expect);
	}
	free(desc);
	rc = apply_finish(env, o, &j, &recovered, &r, NULL, &e, rc);
	apply_result_free(&r);
	sl_free(&recovered);
	return rc;
}

/* ---- history / rollback ------------------------------------------------- */

static json_t *checkpoint_json(const struct checkpoint_info *c)
{
	json_t *o = json_object(), *files = json_array();

	json_object_set_new(o, "id", json_string(c->id));
	json_object_set_new(o, "created", opt_string(c->created));
	json_object_set_new(o, "description", opt_string(c->description));
	json_object_set_new(o, "rolled_back", json_boolean(c->rolled_back));
	for (size_t i = 0; i < c->n_files; i++)
		json_array_append_new(files, json_string(c->files[i].path));
	json_object_set_new(o, "files", files);
	return o;
}

static void print_checkpoint(const struct checkpoint_info *c)
{
	printf("%s  %s  %s%s\n", c->id, c->created ? c->created : "",
	       c->description ? c->description : "", c->rolled_back ? _("  [rolled back]") : "");
	for (size_t i = 0; i < c->n_files; i++)
		printf("    %s%s\n", c->files[i].path, c->files[i].existed ? "" : _(" (new)"));
}

int cli_history(struct env *env, const struct cli_opts *o)
{
	struct checkpoint_info *list = NULL;
	struct error e = {{0}};
	size_t n = 0;

	if (checkpoint_list(env, &list, &n, &e) < 0) {
		print_error(&e);
		return EXIT_ERROR;
	}
	if (o->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, checkpoint_json(&list[i]));
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(arr);
	} else if (n == 0) {
		printf("%s\n", _("No checkpoints yet."));
	} else {
		for (size_t i = 0; i < n; i++)
			print_checkpoint(&list[i]);
	}
	checkpoint_list_free(list, n);
	return EXIT_OK;
}

/* After a rollback on a live system, the servers whose files came back
 * reload them. */
static int reload_touched(const struct env *env, const struct strlist *restored, struct error *e)
{
	const struct backend *const *bl = backend_list();
	int rc = 0;

	for (size_t i = 0; bl[i]; i++) {
		struct server_info si;
		bool touched = false;

		detect_one(env, bl[i], &si);
		for (size_t k = 0; si.config_dir && k < restored->n; k++)
			touched |= strncmp(restored->v[k], si.config_dir, strlen(si.config_dir)) == 0;
		if (touched && si.usable && bl[i]->reload(env, &si, e) < 0)
			rc = -1;
		server_info_free(&si);
	}
	return rc;
}

int rollback_run(const struct env *env, const char *id, bool force, bool reload,
		 struct strlist *restored, struct strlist *recovered, struct error *e)
{
	struct txn_lock *lk = NULL;
	int rc;

	if (txn_lock(env, &lk, e) < 0)
		return -1;
	/* the installed servers must be able to load what comes back */
	rc = txn_recover(env, recovered, e) < 0 ||
	     (!force && engine_check_restore(env, id, e) < 0) ||
	     checkpoint_rollback(env, id, force, restored, e) < 0 ? -1 : 0;
	if (rc == 0 && reload && !env->lab && reload_touched(env, restored, e) < 0)
		rc = -2;
	txn_unlock(lk);
	return rc;
}

int cli_rollback(struct env *env, const struct cli_opts *o)
{
	struct strlist restored = STRLIST_INIT, recovered = STRLIST_INIT;
	struct error e = {{0}};
	const char *id = o->args.n > 0 ? o->args.v[0] : NULL;
	int rc;

	if (o->args.n > 1) {
		msg_error("%s", _("rollback takes at most one checkpoint id"));
		return EXIT_USAGE;
	}
	rc = rollback_run(env, id, o->force, !o->no_reload, &restored, &recovered, &e);
	print_notes(&recovered);
	/* -2: restored, but a reload failed */
	for (size_t i = 0; rc != -1 && i < restored.n; i++)
		printf(_("restored %s\n"), restored.v[i]);
	if (rc < 0)
		print_error(&e);
	sl_free(&restored);
	sl_free(&recovered);
	return rc < 0 ? EXIT_ERROR : EXIT_OK;
}
