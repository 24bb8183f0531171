/*
 * cmd_verify.c - "mailharden verify": does the live configuration still
 * hold what the last apply intended?  Exit code: 0 holds, 1 drift, 2 a
 * server refuses its configuration, 3 cannot tell (usable as a monitoring
 * check; the JSON schema is in the README).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "verify.h"

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static const char *state_name(enum expect_state s)
{
	return s == EXPECT_HOLDS ? "holds" : s == EXPECT_WEAKER ? "weaker" : "unknown";
}

static json_t *applied_json(const struct verify_server *v)
{
	json_t *o = json_object(), *roles = json_array();
	const struct intent *in = &v->intent;

	for (const struct role_info *ri = role_table(); ri->name; ri++)
		if (in->roles & ri->role)
			json_array_append_new(roles, json_string(ri->name));
	json_object_set_new(o, "checkpoint", json_string(in->checkpoint));
	json_object_set_new(o, "created", json_string(in->created));
	json_object_set_new(o, "roles", roles);
	json_object_set_new(o, "profile", opt_str(in->profile));
	json_object_set_new(o, "cert", opt_str(in->cert_file));
	json_object_set_new(o, "key", opt_str(in->key_file));
	json_object_set_new(o, "dh", opt_str(in->dh_file));
	json_object_set_new(o, "sasl", opt_str(in->sasl == SASL_UNSET ? NULL : sasl_kind_name(in->sasl)));
	return o;
}

static json_t *server_json(const struct verify_server *v)
{
	json_t *o = json_object(), *settings = json_array();

	json_object_set_new(o, "name", json_string(v->backend->name));
	json_object_set_new(o, "version", opt_str(v->si.version));
	json_object_set_new(o, "status", json_string(verify_status_name(v->status)));
	json_object_set_new(o, "error", opt_str(v->why));
	json_object_set_new(o, "applied", v->have_intent ? applied_json(v) : json_null());
	for (size_t i = 0; i < v->plan.expect.n; i++) {
		const struct expectation *x = &v->plan.expect.items[i];
		json_t *s = json_object();

		json_object_set_new(s, "scope", json_string(x->scope));
		json_object_set_new(s, "scope_label", json_string(x->scope_label));
		json_object_set_new(s, "name", json_string(x->name));
		json_object_set_new(s, "want", json_string(x->want));
		json_object_set_new(s, "got", opt_str(x->got));
		json_object_set_new(s, "origin", opt_str(x->origin));
		json_object_set_new(s, "state", json_string(state_name(x->state)));
		json_array_append_new(settings, s);
	}
	json_object_set_new(o, "settings", settings);
	return o;
}

static void print_json(const struct env *env, const struct verify_report *r)
{
	static const char *const status[] = {"holds", "drift", "refused", "unknown"};
	json_t *top = json_object(), *arr = json_array();

	for (size_t i = 0; i < r->n; i++)
		json_array_append_new(arr, server_json(&r->srv[i]));
	json_object_set_new(top, "schema", json_integer(1));
	json_object_set_new(top, "root", json_string(env->root[0] ? env->root : "/"));
	json_object_set_new(top, "exit_code", json_integer(r->exit_code));
	json_object_set_new(top, "status", json_string(status[r->exit_code]));
	json_object_set_new(top, "servers", arr);
	json_dumpf(top, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(top);
}

/* Repeats of the same line (main.cf's value in every service) once. */
static bool seen_before(const struct expect_list *l, size_t i)
{
	const struct expectation *x = &l->items[i];

	for (size_t k = 0; k < i; k++) {
		const struct expectation *y = &l->items[k];

		if (y->state == x->state && strcmp(y->name, x->name) == 0 && x->got && y->got &&
		    strcmp(x->got, y->got) == 0 && (x->origin == NULL) == (y->origin == NULL) &&
		    (x->origin == NULL || strcmp(x->origin, y->origin) == 0))
			return true;
	}
	return false;
}

static void print_server(const struct verify_server *v)
{
	const struct expect_list *l = &v->plan.expect;
	size_t unknown = expect_count(l, EXPECT_UNKNOWN);

	printf("%s %s: ", v->backend->display_name, v->si.version ? v->si.version : "");
	switch (v->status) {
	case VERIFY_NOT_APPLIED:
		printf("%s\n", _("no apply of mailharden's recorded"));
		return;
	case VERIFY_REFUSED:
		printf(_("the server refuses its configuration: %s\n"), v->why ? v->why : "");
		return;
	case VERIFY_UNKNOWN:
		printf(_("cannot tell: %s\n"), v->why ? v->why : "");
		return;
	case VERIFY_HOLDS:
		printf(_("holds: all %zu settings of the apply of %s (profile %s, checkpoint %s) "
			 "take effect\n"), l->n - unknown, v->intent.created,
		       v->intent.profile ? v->intent.profile : "?", v->intent.checkpoint);
		break;
	case VERIFY_DRIFT:
		printf(_("DRIFT since the apply of %s (profile %s, checkpoint %s):\n"),
		       v->intent.created, v->intent.profile ? v->intent.profile : "?",
		       v->intent.checkpoint);
		break;
	}
	for (size_t i = 0; i < l->n; i++) {
		char *d;

		if (l->items[i].state == EXPECT_HOLDS || seen_before(l, i))
			continue;
		d = expect_describe(&l->items[i]);
		printf("  %s %s\n", l->items[i].state == EXPECT_WEAKER ? _("weaker:")
				     : _("could not verify:"), d);
		free(d);
	}
}

int cli_verify(struct env *env, const struct cli_opts *o)
{
	struct verify_report r;
	int rc;

	verify_run(env, &r);
	if (o->json) {
		print_json(env, &r);
	} else {
		for (size_t i = 0; i < r.n; i++)
			print_server(&r.srv[i]);
		if (r.n == 0)
			printf("%s\n", _("No mail server found."));
	}
	rc = r.exit_code;
	verify_report_free(&r);
	return rc;
}
