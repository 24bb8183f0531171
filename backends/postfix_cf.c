/*
 * postfix_cf.c - main.cf and master.cf kept line by line for minimal edits.
 *
 * The file is a list of physical lines; the logical view (settings,
 * entries) is rebuilt from the lines after every edit, so the two can never
 * disagree and serializing is plain concatenation.
 */
#include "postfix_cf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct cf_item {
	size_t first, last;   /* physical lines of the logical line (inclusive) */
	char *name, *value;   /* main.cf: folded value */
	struct strlist tok;   /* master.cf: fields and arguments */
	struct strlist opt_names, opt_values; /* master.cf: -o options in order */
};

struct cf_file {
	char *name;
	bool master;
	struct strlist lines; /* each with its line end; the last may lack one */
	const char *eol;      /* line end for new lines, as the file uses */
	struct cf_item *items;
	size_t n_items;
};

enum line_kind { LINE_BLANK, LINE_COMMENT, LINE_CONT, LINE_START };

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static enum line_kind line_kind(const char *s)
{
	const char *p = s;

	while (is_ws(*p))
		p++;
	if (*p == '\n' || *p == '\0')
		return LINE_BLANK;
	if (*p == '#')
		return LINE_COMMENT;
	return p == s ? LINE_START : LINE_CONT;
}

/* Length of the line without "\n" or "\r\n". */
static size_t body_len(const char *s)
{
	size_t n = strlen(s);

	if (n && s[n - 1] == '\n')
		n--;
	if (n && s[n - 1] == '\r')
		n--;
	return n;
}

static bool has_eol(const char *s)
{
	size_t n = strlen(s);

	return n && s[n - 1] == '\n';
}

/* Whitespace runs become one space, ends trimmed.  New string. */
static char *fold(const char *s, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	bool space = false;

	for (size_t i = 0; i < len; i++) {
		if (is_ws(s[i]) || s[i] == '\n') {
			space = sb.len > 0;
			continue;
		}
		if (space)
			sb_addc(&sb, ' ');
		space = false;
		sb_addc(&sb, s[i]);
	}
	return sb_detach(&sb);
}

/*
 * Splits s into master.cf tokens; "{ ... }" is one token (Postfix 3.0
 * syntax for values with spaces).  Returns -1 on an unclosed brace.
 */
static int tokenize(const char *s, size_t len, struct strlist *out)
{
	size_t i = 0;

	while (i < len) {
		size_t start;

		while (i < len && (is_ws(s[i]) || s[i] == '\n'))
			i++;
		if (i >= len)
			break;
		start = i;
		if (s[i] == '{') {
			const char *close = memchr(s + i, '}', len - i);

			if (close == NULL)
				return -1;
			i = (size_t)(close - s) + 1;
		} else {
			while (i < len && !is_ws(s[i]) && s[i] != '\n')
				i++;
		}
		sl_add_owned(out, xstrndup(s + start, i - start));
	}
	return 0;
}

static void item_free(struct cf_item *it)
{
	free(it->name);
	free(it->value);
	sl_free(&it->tok);
	sl_free(&it->opt_names);
	sl_free(&it->opt_values);
}

static void items_free(struct cf_file *f)
{
	for (size_t i = 0; i < f->n_items; i++)
		item_free(&f->items[i]);
	free(f->items);
	f->items = NULL;
	f->n_items = 0;
}

/* The logical line of first..last: active lines joined by one space. */
static char *logical_text(const struct cf_file *f, size_t first, size_t last)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = first; i <= last; i++) {
		const char *l = f->lines.v[i];
		enum line_kind k = line_kind(l);

		if (k != LINE_START && k != LINE_CONT)
			continue;
		if (sb.len)
			sb_addc(&sb, ' ');
		sb_add(&sb, l, body_len(l));
	}
	return sb_detach(&sb);
}

static int parse_setting(const struct cf_file *f, struct cf_item *it, struct error *e)
{
	char *text = logical_text(f, it->first, it->last);
	char *eq = strchr(text, '=');
	int rc = 0;

	if (eq == NULL) {
		rc = err_set(e, _("%s:%zu: expected 'name = value'"), f->name, it->first + 1);
	} else {
		it->name = fold(text, (size_t)(eq - text));
		it->value = fold(eq + 1, strlen(eq + 1));
		if (it->name[0] == '\0' || strchr(it->name, ' ') != NULL)
			rc = err_set(e, _("%s:%zu: bad parameter name before '='"), f->name, it->first + 1);
	}
	free(text);
	return rc;
}

static void entry_options(struct cf_item *it);

static int parse_entry(const struct cf_file *f, struct cf_item *it, struct error *e)
{
	char *text = logical_text(f, it->first, it->last);
	int rc = tokenize(text, strlen(text), &it->tok);

	free(text);
	if (rc < 0)
		return err_set(e, _("%s:%zu: '{' without a closing '}'"), f->name, it->first + 1);
	if (it->tok.n < MF_COUNT)
		return err_set(e, _("%s:%zu: a master.cf entry needs 8 fields, this one has %zu"),
			       f->name, it->first + 1, it->tok.n);
	entry_options(it);
	return 0;
}

/* The last line of the logical line starting at first. */
static size_t group_end(const struct cf_file *f, size_t first)
{
	size_t last = first;

	for (size_t j = first + 1; j < f->lines.n; j++) {
		enum line_kind k = line_kind(f->lines.v[j]);

		if (k == LINE_START)
			break;
		if (k == LINE_CONT)
			last = j;
	}
	return last;
}

static int regroup(struct cf_file *f, struct error *e)
{
	size_t cap = 0;

	items_free(f);
	for (size_t i = 0; i < f->lines.n; i++) {
		enum line_kind k = line_kind(f->lines.v[i]);
		struct cf_item *it;
		int rc;

		if (k == LINE_CONT)
			return err_set(e, _("%s:%zu: line starts with whitespace but continues nothing"),
				       f->name, i + 1);
		if (k != LINE_START)
			continue;
		if (f->n_items == cap) {
			cap = cap ? 2 * cap : 32;
			f->items = xrealloc(f->items, cap * sizeof(*f->items));
		}
		it = &f->items[f->n_items++];
		memset(it, 0, sizeof(*it));
		it->first = i;
		it->last = group_end(f, i);
		rc = f->master ? parse_entry(f, it, e) : parse_setting(f, it, e);
		if (rc < 0)
			return -1;
		i = it->last;
	}
	return 0;
}

/* After our own edits the text is valid by construction. */
static void reparse(struct cf_file *f)
{
	struct error e;

	if (regroup(f, &e) < 0)
		msg_fatal("internal error: %s", e.msg);
}

static int split_lines(struct cf_file *f, const char *text, size_t len, struct error *e)
{
	size_t start = 0, lineno = 1;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\0')
			return err_set(e, _("%s:%zu: the file contains a NUL byte"), f->name, lineno);
		if (text[i] == '\n') {
			sl_add_owned(&f->lines, xstrndup(text + start, i + 1 - start));
			start = i + 1;
			lineno++;
		}
	}
	if (start < len)
		sl_add_owned(&f->lines, xstrndup(text + start, len - start));
	f->eol = f->lines.n && strstr(f->lines.v[0], "\r\n") ? "\r\n" : "\n";
	return 0;
}

static int cf_parse(const char *name, const char *text, size_t len, bool master,
		    struct cf_file **out, struct error *e)
{
	struct cf_file *f = xcalloc(1, sizeof(*f));

	f->name = xstrdup(name);
	f->master = master;
	if (split_lines(f, text, len, e) < 0 || regroup(f, e) < 0) {
		cf_free(f);
		return -1;
	}
	*out = f;
	return 0;
}

int maincf_parse(const char *name, const char *text, size_t len,
		 struct cf_file **out, struct error *e)
{
	return cf_parse(name, text, len, false, out, e);
}

int mastercf_parse(const char *name, const char *text, size_t len,
		   struct cf_file **out, struct error *e)
{
	return cf_parse(name, text, len, true, out, e);
}

void cf_free(struct cf_file *f)
{
	if (f == NULL)
		return;
	items_free(f);
	sl_free(&f->lines);
	free(f->name);
	free(f);
}

char *cf_text(const struct cf_file *f, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;

	for (size_t i = 0; i < f->lines.n; i++)
		sb_adds(&sb, f->lines.v[i]);
	if (len)
		*len = sb.len;
	s = sb_detach(&sb);
	return s;
}

/* --- line surgery ------------------------------------------------------- */

/* Replaces lines [at, at+n_remove) by the n_new owned strings in repl. */
static void lines_splice(struct cf_file *f, size_t at, size_t n_remove, char **repl, size_t n_new)
{
	struct strlist *l = &f->lines;
	size_t n = l->n - n_remove + n_new;

	for (size_t i = at; i < at + n_remove; i++)
		free(l->v[i]);
	if (n > l->cap) {
		l->cap = n + 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	memmove(l->v + at + n_new, l->v + at + n_remove, (l->n - at - n_remove) * sizeof(*l->v));
	for (size_t i = 0; i < n_new; i++)
		l->v[at + i] = repl[i];
	l->n = n;
}

/* Inserts one line (text without line end) before line at. */
static void line_insert(struct cf_file *f, size_t at, const char *text)
{
	char *line = xasprintf("%s%s", text, f->eol);

	if (at > 0 && !has_eol(f->lines.v[at - 1])) {
		char *prev = f->lines.v[at - 1];

		f->lines.v[at - 1] = xasprintf("%s%s", prev, f->eol);
		free(prev);
	}
	lines_splice(f, at, 0, &line, 1);
}

/* Replaces lines first..last by one line (text without line end), keeping
 * the line end of last (none if the file ended without one). */
static void lines_replace(struct cf_file *f, size_t first, size_t last, const char *text)
{
	const char *old = f->lines.v[last];
	char *line = xasprintf("%s%s", text, old + body_len(old));

	lines_splice(f, first, last - first + 1, &line, 1);
}

static void comment_lines(struct cf_file *f, size_t first, size_t last)
{
	for (size_t i = first; i <= last; i++) {
		char *l = f->lines.v[i];
		enum line_kind k = line_kind(l);

		if (k != LINE_START && k != LINE_CONT)
			continue;
		f->lines.v[i] = xasprintf("# %s", l);
		free(l);
	}
}

/* --- main.cf ------------------------------------------------------------ */

static int maincf_last(const struct cf_file *f, const char *name)
{
	for (size_t i = f->n_items; i-- > 0;)
		if (strcmp(f->items[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *maincf_get(const struct cf_file *f, const char *name)
{
	int i = maincf_last(f, name);

	return i < 0 ? NULL : f->items[i].value;
}

size_t maincf_line(const struct cf_file *f, const char *name)
{
	int i = maincf_last(f, name);

	return i < 0 ? 0 : f->items[i].first + 1;
}

size_t maincf_lines(const struct cf_file *f, const char *name, size_t *lines, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_items; i++) {
		if (strcmp(f->items[i].name, name) != 0)
			continue;
		if (n < max)
			lines[n] = f->items[i].first + 1;
		n++;
	}
	return n;
}

static bool has_header(const struct cf_file *f)
{
	size_t n = strlen(MAINCF_HEADER);

	for (size_t i = 0; i < f->lines.n; i++)
		if (body_len(f->lines.v[i]) == n && memcmp(f->lines.v[i], MAINCF_HEADER, n) == 0)
			return true;
	return false;
}

static void maincf_append(struct cf_file *f, const char *line)
{
	if (!has_header(f)) {
		if (f->lines.n && line_kind(f->lines.v[f->lines.n - 1]) != LINE_BLANK)
			line_insert(f, f->lines.n, "");
		line_insert(f, f->lines.n, MAINCF_HEADER);
	}
	line_insert(f, f->lines.n, line);
}

int maincf_set(struct cf_file *f, const char *name, const char *value)
{
	int last = maincf_last(f, name);
	char *want = fold(value, strlen(value));
	char *line = xasprintf("%s = %s", name, want);
	int changed = 0;

	if (last < 0) {
		maincf_append(f, line);
		changed = 1;
	} else {
		/* earlier duplicates first: commenting keeps line numbers */
		for (int i = 0; i < last; i++) {
			if (strcmp(f->items[i].name, name) == 0) {
				comment_lines(f, f->items[i].first, f->items[i].last);
				changed = 1;
			}
		}
		if (strcmp(f->items[last].value, want) != 0) {
			lines_replace(f, f->items[last].first, f->items[last].last, line);
			changed = 1;
		}
	}
	free(line);
	free(want);
	if (changed)
		reparse(f);
	return changed;
}

int maincf_comment_out(struct cf_file *f, const char *name)
{
	int n = 0;

	for (size_t i = 0; i < f->n_items; i++) {
		if (strcmp(f->items[i].name, name) == 0) {
			comment_lines(f, f->items[i].first, f->items[i].last);
			n++;
		}
	}
	if (n)
		reparse(f);
	return n;
}

int maincf_comment_earlier(struct cf_file *f, const char *name, const char *marker)
{
	int last = maincf_last(f, name), n = 0;
	char *mline = xasprintf("# %s", marker);

	/* bottom up, so the line numbers of those still to do stay right */
	for (int i = last; i-- > 0;) {
		if (strcmp(f->items[i].name, name) != 0)
			continue;
		comment_lines(f, f->items[i].first, f->items[i].last);
		line_insert(f, f->items[i].first, mline);
		n++;
	}
	free(mline);
	if (n)
		reparse(f);
	return n;
}

void maincf_names(const struct cf_file *f, struct strlist *names)
{
	for (size_t i = 0; i < f->n_items; i++) {
		bool seen = false;

		for (size_t j = 0; j < names->n && !seen; j++)
			seen = strcmp(names->v[j], f->items[i].name) == 0;
		if (!seen)
			sl_add(names, f->items[i].name);
	}
}

/* --- master.cf ---------------------------------------------------------- */

size_t mastercf_count(const struct cf_file *f)
{
	return f->n_items;
}

const char *mastercf_field(const struct cf_file *f, size_t entry, enum master_field field)
{
	if (entry >= f->n_items || field >= MF_COUNT)
		return NULL;
	return f->items[entry].tok.v[field];
}

/*
 * Parses an option argument "name=value" or "{ name = value }".  Returns the
 * name (new string) and points *value into a new string too.
 */
static char *option_split(const char *arg, char **value)
{
	size_t len = strlen(arg);
	const char *eq;

	if (arg[0] == '{' && len >= 2 && arg[len - 1] == '}') {
		arg++;
		len -= 2;
	}
	eq = memchr(arg, '=', len);
	if (eq == NULL)
		return NULL;
	*value = fold(eq + 1, len - (size_t)(eq + 1 - arg));
	return fold(arg, (size_t)(eq - arg));
}

/* The option argument at argument position i of tok, or NULL: "-o X" or "-oX". */
static const char *option_at(const struct strlist *tok, size_t *i)
{
	const char *t = tok->v[*i];

	if (strcmp(t, "-o") == 0 && *i + 1 < tok->n)
		return tok->v[++*i];
	if (strncmp(t, "-o", 2) == 0 && t[2] != '\0')
		return t + 2;
	return NULL;
}

static void entry_options(struct cf_item *it)
{
	for (size_t i = MF_COUNT; i < it->tok.n; i++) {
		const char *arg = option_at(&it->tok, &i);
		char *value = NULL, *name;

		if (arg == NULL || (name = option_split(arg, &value)) == NULL)
			continue;
		sl_add_owned(&it->opt_names, name);
		sl_add_owned(&it->opt_values, value);
	}
}

/* How often entry sets name; *last gets the last value. */
static size_t option_count(const struct cf_item *it, const char *name, const char **last)
{
	size_t n = 0;

	*last = NULL;
	for (size_t i = 0; i < it->opt_names.n; i++) {
		if (strcmp(it->opt_names.v[i], name) == 0) {
			n++;
			*last = it->opt_values.v[i];
		}
	}
	return n;
}

const char *mastercf_option(const struct cf_file *f, size_t entry, const char *name)
{
	const char *v;

	if (entry >= f->n_items)
		return NULL;
	option_count(&f->items[entry], name, &v);
	return v;
}

size_t mastercf_entry_line(const struct cf_file *f, size_t entry)
{
	return entry < f->n_items ? f->items[entry].first + 1 : 0;
}

/* Option name of an argument "name=value" / "{ name = value }", or NULL. */
static bool arg_sets(const char *arg, const char *name)
{
	char *value = NULL, *oname = option_split(arg, &value);
	bool match = oname && strcmp(oname, name) == 0;

	free(oname);
	free(value);
	return match;
}

size_t mastercf_option_line(const struct cf_file *f, size_t entry, const char *name)
{
	const struct cf_item *it;
	const char *v;
	size_t found = 0;
	bool after_o = false;

	if (entry >= f->n_items || option_count(&f->items[entry], name, &v) == 0)
		return 0;
	it = &f->items[entry];
	for (size_t i = it->first; i <= it->last; i++) {
		struct strlist tok = STRLIST_INIT;
		const char *l = f->lines.v[i];

		if (line_kind(l) != LINE_START && line_kind(l) != LINE_CONT)
			continue;
		if (tokenize(l, body_len(l), &tok) < 0) {
			sl_free(&tok);
			return it->first + 1;
		}
		for (size_t k = i == it->first ? MF_COUNT : 0; k < tok.n; k++) {
			const char *t = tok.v[k];

			if (after_o)
				found = arg_sets(t, name) ? i + 1 : found;
			else if (strncmp(t, "-o", 2) == 0 && t[2] != '\0')
				found = arg_sets(t + 2, name) ? i + 1 : found;
			after_o = !after_o && strcmp(t, "-o") == 0;
		}
		sl_free(&tok);
	}
	return found ? found : it->first + 1;
}

int mastercf_find_service(const struct cf_file *f, const char *service, const char *type)
{
	for (size_t i = 0; i < f->n_items; i++)
		if (strcmp(f->items[i].tok.v[MF_SERVICE], service) == 0 &&
		    strcmp(f->items[i].tok.v[MF_TYPE], type) == 0)
			return (int)i;
	return -1;
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int service_port(const char *service)
{
	static const struct { const char *name; int port; } names[] = {
		{"smtp", 25}, {"submission", 587}, {"submissions", 465}, {"smtps", 465},
	};
	const char *p = strrchr(service, ':');

	p = p ? p + 1 : service;
	if (all_digits(p))
		return strlen(p) <= 5 && atoi(p) <= 65535 ? atoi(p) : -1;
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(names[i].name, p) == 0)
			return names[i].port;
	return -1;
}

static bool entry_matches(const struct strlist *tok, int port, const char *command)
{
	return strcmp(tok->v[MF_TYPE], "inet") == 0 && service_port(tok->v[MF_SERVICE]) == port &&
	       (command == NULL || strcmp(tok->v[MF_COMMAND], command) == 0);
}

int mastercf_find_port(const struct cf_file *f, size_t from, int port, const char *command)
{
	for (size_t i = from; i < f->n_items; i++)
		if (entry_matches(&f->items[i].tok, port, command))
			return (int)i;
	return -1;
}

/* Leading whitespace of the first continuation line of entry, or "  ". */
static char *entry_indent(const struct cf_file *f, const struct cf_item *it)
{
	for (size_t i = it->first + 1; i <= it->last; i++) {
		const char *l = f->lines.v[i];

		if (line_kind(l) == LINE_CONT) {
			size_t n = 0;

			while (l[n] == ' ' || l[n] == '\t')
				n++;
			return xstrndup(l, n);
		}
	}
	return xstrdup("  ");
}

/* Rewrites entry as: the 8 fields on one line, then one argument (or one
 * "-o X") per line.  Used when an edit cannot be done line by line. */
static void entry_canonical(struct cf_file *f, size_t entry)
{
	const struct cf_item *it = &f->items[entry];
	char *indent = entry_indent(f, it);
	struct strlist out = STRLIST_INIT, head = STRLIST_INIT;
	const char *h = f->lines.v[it->first];
	const char *last = f->lines.v[it->last];
	struct strbuf sb = STRBUF_INIT;

	tokenize(h, body_len(h), &head);
	if (head.n == MF_COUNT) {
		sb_add(&sb, h, body_len(h));
	} else {
		for (size_t i = 0; i < MF_COUNT; i++)
			sb_addf(&sb, "%s%s", i ? " " : "", it->tok.v[i]);
	}
	sl_add_owned(&out, sb_detach(&sb));
	for (size_t i = MF_COUNT; i < it->tok.n; i++) {
		const char *arg = option_at(&it->tok, &i);

		if (arg)
			sl_add_owned(&out, xasprintf("%s-o %s", indent, arg));
		else
			sl_add_owned(&out, xasprintf("%s%s", indent, it->tok.v[i]));
	}
	for (size_t i = 0; i < out.n; i++) {
		char *l = out.v[i];

		out.v[i] = xasprintf("%s%s", l, i + 1 < out.n ? f->eol : last + body_len(last));
		free(l);
	}
	lines_splice(f, it->first, it->last - it->first + 1, out.v, out.n);
	free(out.v); /* the strings now belong to f->lines */
	free(indent);
	sl_free(&head);
	reparse(f);
}

/* True when the entry's first line holds all 8 fields, so that editing
 * its other lines can never remove a field. */
static bool head_complete(const struct cf_file *f, size_t entry)
{
	const char *h = f->lines.v[f->items[entry].first];
	struct strlist tok = STRLIST_INIT;
	bool ok = tokenize(h, body_len(h), &tok) == 0 && tok.n >= MF_COUNT;

	sl_free(&tok);
	return ok;
}

/* True when line l is exactly "-o name=..." (or "-o { name = ... }"). */
static bool is_option_line(const char *l, const char *name)
{
	struct strlist tok = STRLIST_INIT;
	bool match = false;
	char *oname = NULL, *value = NULL;

	if (line_kind(l) == LINE_CONT && tokenize(l, body_len(l), &tok) == 0 && tok.n == 2 &&
	    strcmp(tok.v[0], "-o") == 0 && (oname = option_split(tok.v[1], &value)) != NULL)
		match = strcmp(oname, name) == 0;
	free(oname);
	free(value);
	sl_free(&tok);
	return match;
}

static size_t option_lines(const struct cf_file *f, const struct cf_item *it, const char *name,
			   size_t *lines, size_t max)
{
	size_t n = 0;

	for (size_t i = it->first + 1; i <= it->last; i++)
		if (is_option_line(f->lines.v[i], name) && n < max)
			lines[n++] = i;
	return n;
}

static char *option_text(const char *indent, const char *name, const char *value)
{
	bool spaces = false;

	for (const char *p = value; *p; p++)
		spaces |= is_ws(*p);
	if (spaces)
		return xasprintf("%s-o { %s = %s }", indent, name, value);
	return xasprintf("%s-o %s=%s", indent, name, value);
}

int mastercf_set_option(struct cf_file *f, size_t entry, const char *name, const char *value)
{
	size_t lines[64], n;
	char *indent, *text;
	const char *cur;
	int changed = 0;

	n = option_lines(f, &f->items[entry], name, lines, ARRAY_LEN(lines));
	if (option_count(&f->items[entry], name, &cur) > n || !head_complete(f, entry)) {
		entry_canonical(f, entry);
		n = option_lines(f, &f->items[entry], name, lines, ARRAY_LEN(lines));
	}
	option_count(&f->items[entry], name, &cur);
	indent = entry_indent(f, &f->items[entry]);
	text = option_text(indent, name, value);
	if (n == 0) {
		line_insert(f, f->items[entry].last + 1, text);
		changed = 1;
	} else {
		if (cur == NULL || strcmp(cur, value) != 0) {
			lines_replace(f, lines[n - 1], lines[n - 1], text);
			changed = 1;
		}
		/* cur points into the parsed entry: not used after this */
		for (size_t i = n - 1; i-- > 0;) {
			lines_splice(f, lines[i], 1, NULL, 0);
			changed = 1;
		}
	}
	free(text);
	free(indent);
	if (changed)
		reparse(f);
	return changed;
}

int mastercf_comment_option(struct cf_file *f, size_t entry, const char *name, const char *marker)
{
	size_t lines[64], n;
	const char *cur;
	char *mline;

	n = option_lines(f, &f->items[entry], name, lines, ARRAY_LEN(lines));
	if (option_count(&f->items[entry], name, &cur) > n || !head_complete(f, entry)) {
		entry_canonical(f, entry);
		n = option_lines(f, &f->items[entry], name, lines, ARRAY_LEN(lines));
	}
	if (n == 0)
		return 0;
	mline = xasprintf("# %s", marker);
	/* a comment line inside an entry does not end it (readlline) */
	for (size_t i = n; i-- > 0;) {
		comment_lines(f, lines[i], lines[i]);
		line_insert(f, lines[i], mline);
	}
	free(mline);
	reparse(f);
	return (int)n;
}

int mastercf_set_field(struct cf_file *f, size_t entry, enum master_field field, const char *value)
{
	const char *l = f->lines.v[f->items[entry].first];
	size_t len = body_len(l), i = 0, start = 0;
	char *text;

	if (strcmp(f->items[entry].tok.v[field], value) == 0)
		return 0;
	for (int k = 0; k <= (int)field; k++) {
		while (i < len && is_ws(l[i]))
			i++;
		start = i;
		while (i < len && !is_ws(l[i]))
			i++;
	}
	if (start == i) {
		/* fields spread over several lines: make it one line first */
		entry_canonical(f, entry);
		return mastercf_set_field(f, entry, field, value);
	}
	text = xasprintf("%.*s%s%.*s", (int)start, l, value, (int)(len - i), l + i);
	lines_replace(f, f->items[entry].first, f->items[entry].first, text);
	free(text);
	reparse(f);
	return 1;
}

/* Text of a commented line after its '#' marks and, for the head, spaces. */
static const char *uncommented(const char *l)
{
	while (*l == '#')
		l++;
	return l;
}

static bool inside_entry(const struct cf_file *f, size_t line)
{
	for (size_t i = 0; i < f->n_items; i++)
		if (line >= f->items[i].first && line <= f->items[i].last)
			return true;
	return false;
}

int mastercf_find_commented(const struct cf_file *f, int port, const char *command)
{
	int first = -1;

	for (size_t i = 0; i < f->lines.n; i++) {
		const char *l = f->lines.v[i], *body;
		struct strlist tok = STRLIST_INIT;
		bool match, wildcard;

		if (l[0] != '#' || inside_entry(f, i))
			continue;
		body = uncommented(l);
		while (is_ws(*body))
			body++;
		match = tokenize(body, body_len(body), &tok) == 0 && tok.n >= MF_COUNT &&
			entry_matches(&tok, port, command);
		wildcard = match && strchr(tok.v[MF_SERVICE], ':') == NULL;
		sl_free(&tok);
		/* packaged files offer "127.0.0.1:submission" (loopback only)
		 * before "submission" (any client): clients need the latter */
		if (wildcard)
			return (int)i;
		if (match && first < 0)
			first = (int)i;
	}
	return first;
}

/* "#  -o name=value": a commented continuation line.  Prose inside the
 * block ("#     Instead of ...") is one too, but only option lines ("-")
 * may be uncommented: prose would become smtpd arguments. */
static bool is_commented_cont(const char *l, bool *option)
{
	const char *p;

	if (l[0] != '#')
		return false;
	p = uncommented(l);
	if (!is_ws(*p) || line_kind(p) != LINE_CONT)
		return false;
	while (is_ws(*p))
		p++;
	*option = *p == '-';
	return true;
}

static bool references_kept(const char *l, bool (*keep)(const char *, void *), void *ctx)
{
	for (const char *p = strchr(l, '$'); p; p = strchr(p + 1, '$')) {
		const char *s = p + 1;
		size_t n = 0;
		char *name;
		bool k;

		if (*s == '{' || *s == '(')
			s++;
		while (isalnum((unsigned char)s[n]) || s[n] == '_')
			n++;
		if (n == 0)
			continue;
		name = xstrndup(s, n);
		k = keep(name, ctx);
		free(name);
		if (k)
			return true;
	}
	return false;
}

int mastercf_uncomment(struct cf_file *f, size_t line,
		       bool (*keep_commented)(const char *name, void *ctx), void *ctx)
{
	const char *head = uncommented(f->lines.v[line]);
	char *text;
	bool option;

	while (is_ws(*head) && *head != '\n')
		head++;
	text = xstrdup(head);
	free(f->lines.v[line]);
	f->lines.v[line] = text;
	for (size_t i = line + 1; i < f->lines.n && is_commented_cont(f->lines.v[i], &option); i++) {
		if (!option || (keep_commented && references_kept(f->lines.v[i], keep_commented, ctx)))
			continue;
		text = xstrdup(uncommented(f->lines.v[i]));
		free(f->lines.v[i]);
		f->lines.v[i] = text;
	}
	reparse(f);
	for (size_t i = 0; i < f->n_items; i++)
		if (f->items[i].first == line)
			return (int)i;
	return -1;
}

int mastercf_add(struct cf_file *f, const char *const fields[MF_COUNT])
{
	char *line = xasprintf("%-9s %-5s %-7s %-7s %-7s %-7s %-7s %s", fields[0], fields[1],
			       fields[2], fields[3], fields[4], fields[5], fields[6], fields[7]);
	size_t at = f->lines.n;

	/* next to the other network services, where an admin looks for it */
	for (size_t i = 0; i < f->n_items; i++)
		if (strcmp(f->items[i].tok.v[MF_TYPE], "inet") == 0)
			at = f->items[i].last + 1;
	line_insert(f, at, line);
	free(line);
	reparse(f);
	for (size_t i = 0; i < f->n_items; i++)
		if (f->items[i].first == at)
			return (int)i;
	return -1;
}
