/*
 * template.h - hardened config templates.
 *
 * Syntax (small on purpose: the templates are config files with holes):
 *   {{name}}                     value of variable name (error if unset)
 *   {{#if name}} ... {{/if}}     kept when name is set, non-empty, not "0"/"no"
 *   {{#if name}} ... {{else}} ... {{/if}}
 *   {{#unless name}} ... {{/unless}}
 *   {{! comment }}               dropped
 * A line that holds only a block tag ({{#if x}}, {{else}}, {{/if}} ...)
 * disappears entirely, newline included.  Blocks nest.
 * Every value must pass text_is_clean(): a newline in a value is an error,
 * never an injected setting.
 *
 * Templates are embedded in the binary at build time (tools/embed.c);
 * --templates DIR reads DIR/<name> instead.
 */
#ifndef MH_TEMPLATE_H
#define MH_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

struct tvars;

struct tvars *tvars_new(void);
void tvars_free(struct tvars *v);
/* Copies key and value; a later set replaces an earlier one. */
void tvars_set(struct tvars *v, const char *key, const char *value);
void tvars_setb(struct tvars *v, const char *key, bool value);
void tvars_setf(struct tvars *v, const char *key, const char *fmt, ...) MH_ATTR_PRINTF(3, 4);
const char *tvars_get(const struct tvars *v, const char *key);

/* Renders text (len bytes, name for messages).  Errors name the template
 * and line. */
int template_render_text(const char *name, const char *text, size_t len,
			 const struct tvars *v, char **out, struct error *e);

/* Loads "postfix/main.cf.tmpl" from dir (if not NULL) or from the embedded
 * set, then renders it. */
int template_render(const char *dir, const char *name, const struct tvars *v,
		    char **out, struct error *e);

/* The embedded template called name, or NULL. */
const char *template_embedded(const char *name, size_t *len);

#endif
