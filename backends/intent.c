/*
 * intent.c - what an apply intended, kept in its checkpoint.
 *
 * `verify` must judge the live configuration against what the last apply
 * meant (roles, profile, certificate ...), not against a guess.  The
 * engine stores each plan's answers as a small JSON text in the
 * checkpoint journal (txn_set_meta, key "intent/<server>"); reading it
 * back gives the answers to plan with again.
 */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../core/txn.h"

static json_t *opt(const char *s)
{
	return s ? json_string(s) : json_null();
}

void plan_record_answers(struct plan *p, const struct answers *a)
{
	json_t *o = json_object(), *roles = json_array();

	for (const struct role_info *ri = role_table(); ri->name; ri++)
		if (a->roles & ri->role)
			json_array_append_new(roles, json_string(ri->name));
	json_object_set_new(o, "roles", roles);
	json_object_set_new(o, "profile", opt(a->profile ? a->profile->name : NULL));
	json_object_set_new(o, "cert", opt(a->cert_file));
	json_object_set_new(o, "key", opt(a->key_file));
	json_object_set_new(o, "dh", opt(a->dh_file));
	json_object_set_new(o, "sasl", opt(a->sasl == SASL_UNSET ? NULL : sasl_kind_name(a->sasl)));
	free(p->intent);
	p->intent = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
}

static char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && text_is_clean(s) ? xstrdup(s) : NULL;
}

static int intent_parse(const char *text, struct intent *in)
{
	json_t *o = json_loads(text, 0, NULL), *r;
	size_t i;
	char *sasl;

	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	json_array_foreach(json_object_get(o, "roles"), i, r) {
		const struct role_info *ri = json_string_value(r) ? role_by_name(json_string_value(r)) : NULL;

		if (ri)
			in->roles |= ri->role;
	}
	in->profile = str_of(o, "profile");
	in->cert_file = str_of(o, "cert");
	in->key_file = str_of(o, "key");
	in->dh_file = str_of(o, "dh");
	sasl = str_of(o, "sasl");
	if (sasl == NULL || sasl_kind_parse(sasl, &in->sasl) < 0)
		in->sasl = SASL_UNSET;
	free(sasl);
	json_decref(o);
	return 0;
}

int intent_last(const struct env *env, const char *server, struct intent *in, struct error *e)
{
	struct checkpoint_info *list = NULL;
	size_t n = 0;
	char *key = xasprintf("intent/%s", server);
	int found = 0;

	memset(in, 0, sizeof(*in));
	if (checkpoint_list(env, &list, &n, e) < 0) {
		free(key);
		return -1;
	}
	for (size_t i = n; i-- > 0 && found == 0;) {
		char *text = NULL;
		struct error ignored;

		if (list[i].rolled_back ||
		    checkpoint_meta(env, list[i].id, key, &text, &ignored) < 0 || text == NULL)
			continue;
		if (intent_parse(text, in) == 0) {
			in->checkpoint = xstrdup(list[i].id);
			in->created = xstrdup(list[i].created ? list[i].created : "");
			found = 1;
		} else {
			intent_free(in);
		}
		free(text);
	}
	checkpoint_list_free(list, n);
	free(key);
	return found;
}

void intent_answers(const struct intent *in, struct answers *a)
{
	memset(a, 0, sizeof(*a));
	a->roles = in->roles;
	a->profile = in->profile ? profile_by_name(in->profile) : NULL;
	a->cert_file = in->cert_file;
	a->key_file = in->key_file;
	a->dh_file = in->dh_file;
	a->sasl = in->sasl;
}

void intent_free(struct intent *in)
{
	free(in->checkpoint);
	free(in->created);
	free(in->profile);
	free(in->cert_file);
	free(in->key_file);
	free(in->dh_file);
	memset(in, 0, sizeof(*in));
}
