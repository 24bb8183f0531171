/*
 * cli_json.c - "plan --json" and "apply --json" (schema 1, documented in
 * mailharden(8) and the README): what a fleet tool needs to decide
 * "changed", show the diff and undo, without scraping text.
 */
#include "cli_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/diff.h"

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *strlist_json(const struct strlist *sl)
{
	json_t *a = json_array();

	for (size_t i = 0; sl && i < sl->n; i++)
		json_array_append_new(a, json_string(sl->v[i]));
	return a;
}

static bool change_differs(const struct file_change *c)
{
	return !c->existed || c->old_len != c->new_len ||
	       memcmp(c->old_text, c->new_text, c->new_len) != 0;
}

static json_t *files_json(const struct plan *p)
{
	json_t *a = json_array();

	for (size_t i = 0; p && i < p->n_changes; i++) {
		const struct file_change *c = &p->changes[i];
		char *d;

		if (!change_differs(c))
			continue;
		d = diff_unified(c->existed ? c->path : "/dev/null", c->old_text, c->old_len,
				 c->path, c->new_text, c->new_len, 3);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "path", c->path, "action",
						   c->existed ? "modify" : "create", "diff", d));
		free(d);
	}
	return a;
}

static json_t *roles_json(const char *roles)
{
	json_t *a = json_array();
	char *list, *save = NULL;

	if (roles == NULL)
		return a;
	list = xstrdup(roles);
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(a, json_string(t));
	free(list);
	return a;
}

/* The expectations the server's own tool did not confirm, one line each. */
static json_t *unmet_json(const struct expect_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; l && i < l->n; i++) {
		char *d;

		if (l->items[i].state == EXPECT_HOLDS)
			continue;
		d = expect_describe(&l->items[i]);
		json_array_append_new(a, json_string(d));
		free(d);
	}
	return a;
}

/* plan: a file would change; apply: files were written and stayed so. */
static bool run_changed(const struct cli_json_run *run, const json_t *files)
{
	const struct apply_result *r = run->result;

	if (strcmp(run->verb, "plan") == 0)
		return json_array_size(files) > 0;
	return r && r->checkpoint_id && r->written.n > 0 && !r->rolled_back;
}

void cli_json_print(const struct cli_json_run *run)
{
	const struct cli_opts *o = run->opts;
	json_t *files = files_json(run->plan);
	json_t *notes = strlist_json(run->plan ? &run->plan->notes : NULL);
	json_t *doc = json_object();

	json_object_set_new(doc, "schema", json_integer(1));
	json_object_set_new(doc, "verb", json_string(run->verb));
	json_object_set_new(doc, "server", opt_str(o->server));
	json_object_set_new(doc, "root", json_string(run->env->root[0] ? run->env->root : "/"));
	json_object_set_new(doc, "roles", roles_json(o->roles));
	json_object_set_new(doc, "profile", opt_str(o->profile));
	json_object_set_new(doc, "changed", json_boolean(run_changed(run, files)));
	json_object_set_new(doc, "files", files);
	json_object_set_new(doc, "notes", notes);
	json_object_set_new(doc, "pending_recovery", json_boolean(run->pending_recovery));
	if (strcmp(run->verb, "apply") == 0) {
		const struct apply_result *r = run->result;

		json_object_set_new(doc, "checkpoint", opt_str(r ? r->checkpoint_id : NULL));
		json_object_set_new(doc, "written", strlist_json(r ? &r->written : NULL));
		json_object_set_new(doc, "reloaded", json_boolean(run->reloaded));
		json_object_set_new(doc, "rolled_back", json_boolean(r && r->rolled_back));
		json_object_set_new(doc, "recovered", strlist_json(run->recovered));
		json_object_set_new(doc, "unmet", unmet_json(run->expect));
		for (size_t i = 0; r && i < r->notes.n; i++)
			json_array_append_new(notes, json_string(r->notes.v[i]));
	}
	json_object_set_new(doc, "error", opt_str(run->error));
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(doc);
}
