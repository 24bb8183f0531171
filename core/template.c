/*
 * template.c - the small template language of template.h.
 *
 * Templates are processed line by line: a tag never spans lines, which
 * keeps error messages exact and makes "a line holding only a block tag
 * disappears" a simple per-line decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

/* Same layout as the one written by tools/embed.c. */
struct embedded_file {
	const char *name;
	const char *data;
	unsigned long len;
};
extern const struct embedded_file mh_templates[];
extern const unsigned long mh_templates_count;

#define MAX_DEPTH 32

struct tvar {
	char *key;
	char *value;
};

struct tvars {
	struct tvar *v;
	size_t n;
	size_t cap;
};

struct tvars *tvars_new(void)
{
	return xcalloc(1, sizeof(struct tvars));
}

void tvars_free(struct tvars *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		free(v->v[i].key);
		free(v->v[i].value);
	}
	free(v->v);
	free(v);
}

static struct tvar *tvars_find(const struct tvars *v, const char *key)
{
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->v[i].key, key) == 0)
			return &v->v[i];
	}
	return NULL;
}

void tvars_set(struct tvars *v, const char *key, const char *value)
{
	struct tvar *t = tvars_find(v, key);
	char *copy = xstrdup(value ? value : "");

	if (t != NULL) {
		free(t->value);
		t->value = copy;
		return;
	}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n].key = xstrdup(key);
	v->v[v->n].value = copy;
	v->n++;
}

void tvars_setb(struct tvars *v, const char *key, bool value)
{
	tvars_set(v, key, value ? "yes" : "no");
}

void tvars_setf(struct tvars *v, const char *key, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	char *s;

	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	s = sb_detach(&sb);
	tvars_set(v, key, s);
	free(s);
}

const char *tvars_get(const struct tvars *v, const char *key)
{
	const struct tvar *t = v ? tvars_find(v, key) : NULL;

	return t ? t->value : NULL;
}

static bool is_true(const char *value)
{
	return value != NULL && *value != '\0' && strcmp(value, "0") != 0 &&
	       strcmp(value, "no") != 0;
}

/* --- rendering ------------------------------------------------------- */

enum tag_kind { TAG_VAR, TAG_IF, TAG_UNLESS, TAG_ELSE, TAG_ENDIF, TAG_ENDUNLESS, TAG_COMMENT };

struct tag {
	enum tag_kind kind;
	char name[128];
};

struct frame {
	enum tag_kind kind; /* TAG_IF or TAG_UNLESS */
	int line;
	bool cond;
	bool in_else;
	bool parent_active;
	char name[128];
};

struct render {
	const char *tname;
	const struct tvars *vars;
	int line;
	struct frame stack[MAX_DEPTH];
	int depth;
	struct strbuf out;
	struct error *e;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static bool frame_active(const struct frame *f)
{
	return f->parent_active && (f->in_else ? !f->cond : f->cond);
}

static bool active(const struct render *r)
{
	return r->depth == 0 || frame_active(&r->stack[r->depth - 1]);
}

static int bad_tag(struct render *r, const char *s, size_t len)
{
	return err_set(r->e, _("%s:%d: unknown template tag {{%.*s}}"), r->tname,
		       r->line, (int)(len > 60 ? 60 : len), s);
}

/* Reads a variable name that must fill s[0..len) exactly. */
static int parse_name(struct render *r, const char *s, size_t len, char *name,
		      const char *tag, size_t tag_len)
{
	if (len == 0 || len >= 128)
		return bad_tag(r, tag, tag_len);
	for (size_t i = 0; i < len; i++) {
		if (!is_name_char(s[i]))
			return bad_tag(r, tag, tag_len);
	}
	memcpy(name, s, len);
	name[len] = '\0';
	return 0;
}

static bool word_is(const char *s, size_t len, const char *word, size_t *rest)
{
	size_t n = strlen(word);

	if (len < n || memcmp(s, word, n) != 0)
		return false;
	if (len == n) {
		*rest = n;
		return true;
	}
	if (!is_blank(s[n]))
		return false;
	while (n < len && is_blank(s[n]))
		n++;
	*rest = n;
	return true;
}

/* Parses the inside of {{ ... }} (s, len). */
static int parse_tag(struct render *r, const char *s, size_t len, struct tag *t)
{
	const char *tag = s;
	size_t tag_len = len, rest;

	while (len > 0 && is_blank(*s))
		s++, len--;
	if (len > 0 && *s == '!') {
		t->kind = TAG_COMMENT;
		return 0;
	}
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	if (word_is(s, len, "#if", &rest) || word_is(s, len, "#unless", &rest)) {
		t->kind = s[1] == 'i' ? TAG_IF : TAG_UNLESS;
		return parse_name(r, s + rest, len - rest, t->name, tag, tag_len);
	}
	if (len == 4 && memcmp(s, "else", 4) == 0)
		t->kind = TAG_ELSE;
	else if (len == 3 && memcmp(s, "/if", 3) == 0)
		t->kind = TAG_ENDIF;
	else if (len == 7 && memcmp(s, "/unless", 7) == 0)
		t->kind = TAG_ENDUNLESS;
	else {
		t->kind = TAG_VAR;
		return parse_name(r, s, len, t->name, tag, tag_len);
	}
	return 0;
}

static const char *open_word(enum tag_kind k)
{
	return k == TAG_IF ? "#if" : "#unless";
}

static int open_block(struct render *r, const struct tag *t)
{
	struct frame *f;

	if (r->depth == MAX_DEPTH)
		return err_set(r->e, _("%s:%d: blocks are nested too deeply"), r->tname, r->line);
	f = &r->stack[r->depth];
	f->parent_active = active(r);
	f->kind = t->kind;
	f->line = r->line;
	f->in_else = false;
	f->cond = is_true(tvars_get(r->vars, t->name));
	if (t->kind == TAG_UNLESS)
		f->cond = !f->cond;
	snprintf(f->name, sizeof(f->name), "%s", t->name);
	r->depth++;
	return 0;
}

static int close_block(struct render *r, enum tag_kind want)
{
	const char *closer = want == TAG_IF ? "{{/if}}" : "{{/unless}}";
	struct frame *f;

	if (r->depth == 0)
		return err_set(r->e, _("%s:%d: %s without an opening block"), r->tname,
			       r->line, closer);
	f = &r->stack[r->depth - 1];
	if (f->kind != want)
		return err_set(r->e, _("%s:%d: %s closes {{%s %s}} from line %d"), r->tname,
			       r->line, closer, open_word(f->kind), f->name, f->line);
	r->depth--;
	return 0;
}

static int do_else(struct render *r)
{
	struct frame *f;

	if (r->depth == 0)
		return err_set(r->e, _("%s:%d: {{else}} outside a block"), r->tname, r->line);
	f = &r->stack[r->depth - 1];
	if (f->in_else)
		return err_set(r->e, _("%s:%d: second {{else}} in {{%s %s}} from line %d"),
			       r->tname, r->line, open_word(f->kind), f->name, f->line);
	f->in_else = true;
	return 0;
}

static int substitute(struct render *r, const char *name)
{
	const char *value = tvars_get(r->vars, name);

	if (value == NULL)
		return err_set(r->e, _("%s:%d: template variable %s is not set"), r->tname,
			       r->line, name);
	if (!text_is_clean(value))
		return err_set(r->e, _("%s:%d: value of template variable %s contains a control character"),
			       r->tname, r->line, name);
	sb_adds(&r->out, value);
	return 0;
}

static int apply_tag(struct render *r, const struct tag *t)
{
	switch (t->kind) {
	case TAG_VAR:
		return active(r) ? substitute(r, t->name) : 0;
	case TAG_IF:
	case TAG_UNLESS:
		return open_block(r, t);
	case TAG_ELSE:
		return do_else(r);
	case TAG_ENDIF:
		return close_block(r, TAG_IF);
	case TAG_ENDUNLESS:
		return close_block(r, TAG_UNLESS);
	case TAG_COMMENT:
		break;
	}
	return 0;
}

/* A line that is nothing but one block tag or comment (plus blanks). */
static bool standalone_tag(struct render *r, const char *s, size_t len, struct tag *t)
{
	const char *close;
	struct error scratch;
	struct error *saved = r->e;
	int rc;

	while (len > 0 && is_blank(*s))
		s++, len--;
	while (len > 0 && (is_blank(s[len - 1]) || s[len - 1] == '\n'))
		len--;
	if (len < 4 || memcmp(s, "{{", 2) != 0)
		return false;
	close = memmem(s + 2, len - 2, "}}", 2);
	if (close == NULL || close + 2 != s + len)
		return false;
	r->e = &scratch;
	rc = parse_tag(r, s + 2, (size_t)(close - s - 2), t);
	r->e = saved;
	return rc == 0 && t->kind != TAG_VAR;
}

static int render_line(struct render *r, const char *s, size_t len)
{
	const char *end = s + len;
	struct tag t;

	if (standalone_tag(r, s, len, &t))
		return apply_tag(r, &t);
	while (s < end) {
		const char *open = memmem(s, (size_t)(end - s), "{{", 2);
		const char *close;

		if (open == NULL) {
			if (active(r))
				sb_add(&r->out, s, (size_t)(end - s));
			break;
		}
		if (active(r))
			sb_add(&r->out, s, (size_t)(open - s));
		close = memmem(open + 2, (size_t)(end - open - 2), "}}", 2);
		if (close == NULL)
			return err_set(r->e, _("%s:%d: {{ without a closing }} on the same line"),
				       r->tname, r->line);
		if (parse_tag(r, open + 2, (size_t)(close - open - 2), &t) < 0 ||
		    apply_tag(r, &t) < 0)
			return -1;
		s = close + 2;
	}
	return 0;
}

int template_render_text(const char *name, const char *text, size_t len,
			 const struct tvars *v, char **out, struct error *e)
{
	struct render r;
	const char *p = text, *end = text + len;

	memset(&r, 0, sizeof(r));
	r.tname = name ? name : "template";
	r.vars = v;
	r.e = e;
	*out = NULL;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;

		r.line++;
		if (render_line(&r, p, (size_t)(next - p)) < 0) {
			sb_free(&r.out);
			return -1;
		}
		p = next;
	}
	if (r.depth > 0) {
		const struct frame *f = &r.stack[r.depth - 1];

		sb_free(&r.out);
		return err_set(e, _("%s:%d: {{%s %s}} is never closed"), r.tname, f->line,
			       open_word(f->kind), f->name);
	}
	*out = sb_detach(&r.out);
	return 0;
}

/* --- loading --------------------------------------------------------- */

const char *template_embedded(const char *name, size_t *len)
{
	for (unsigned long i = 0; i < mh_templates_count; i++) {
		if (strcmp(mh_templates[i].name, name) == 0) {
			if (len != NULL)
				*len = mh_templates[i].len;
			return mh_templates[i].data;
		}
	}
	return NULL;
}

static bool name_is_safe(const char *name)
{
	return *name != '\0' && *name != '/' && strstr(name, "..") == NULL &&
	       text_is_clean(name);
}

int template_render(const char *dir, const char *name, const struct tvars *v,
		    char **out, struct error *e)
{
	const char *data;
	char *owned = NULL, *path;
	size_t len;
	int rc;

	*out = NULL;
	if (name == NULL || !name_is_safe(name))
		return err_set(e, _("invalid template name \"%s\""),
			       name && text_is_clean(name) ? name : "?");
	if (dir != NULL) {
		path = path_join(dir, name);
		rc = read_file(path, &owned, &len, e);
		free(path);
		if (rc < 0)
			return err_prefix(e, _("cannot load template %s"), name);
		data = owned;
	} else {
		data = template_embedded(name, &len);
		if (data == NULL)
			return err_set(e, _("no built-in template named %s"), name);
	}
	rc = template_render_text(name, data, len, v, out, e);
	free(owned);
	return rc;
}
