/*
 * fe_line.c - the wizard as numbered prompts on a stream: for pipes,
 * TERM=dumb, screen readers and --text.  The end of input cancels, so a
 * script that runs out of answers never applies anything.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "frontend.h"

struct line_ctx {
	FILE *in;
	FILE *out;
	bool eof;
};

static struct line_ctx *ctx_of(struct frontend *fe)
{
	return fe->ctx;
}

/* Reads one line without its newline; false at end of input. */
static bool read_line(struct line_ctx *c, char **line)
{
	size_t cap = 0;
	ssize_t n;

	*line = NULL;
	if (c->in == NULL || c->eof)
		return false;
	fflush(c->out);
	n = getline(line, &cap, c->in);
	if (n < 0) {
		free(*line);
		*line = NULL;
		c->eof = true;
		fputc('\n', c->out);
		return false;
	}
	while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
		(*line)[--n] = '\0';
	/* echo what a pipe typed, so a transcript reads like a session */
	if (c->in != stdin || !isatty(fileno(stdin)))
		fprintf(c->out, "%s\n", *line);
	return true;
}

static char *trimmed(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static void header(struct frontend *fe, const char *title, const char *text)
{
	struct line_ctx *c = ctx_of(fe);

	if (fe->mark && *fe->mark)
		fprintf(c->out, "\n== %s [%s] ==\n", title ? title : "", fe->mark);
	else
		fprintf(c->out, "\n== %s ==\n", title ? title : "");
	if (text && *text)
		fprintf(c->out, "%s\n", text);
}

/* "(? help, b back, e Explain, q quit)" for what this screen offers. */
static void keys_hint(struct line_ctx *c, const struct fe_screen *s)
{
	fputs(" (", c->out);
	if (s->help)
		fprintf(c->out, "%s, ", _("? help"));
	if (s->back)
		fprintf(c->out, "%s, ", _("b back"));
	if (s->extra_label)
		fprintf(c->out, _("e %s, "), s->extra_label);
	fprintf(c->out, "%s): ", _("q quit"));
}

/* Handles the one-letter keys; returns true and sets *rc when it did. */
static bool common_key(struct line_ctx *c, const struct fe_screen *s, const char *in,
		       enum fe_rc *rc, bool *again)
{
	*again = false;
	if (strcmp(in, "?") == 0) {
		fprintf(c->out, "\n%s\n", s->help ? s->help : _("No help for this question."));
		*again = true;
		return true;
	}
	if (strcmp(in, "q") == 0) {
		*rc = FE_CANCEL;
		return true;
	}
	if (strcmp(in, "b") == 0 && s->back) {
		*rc = FE_BACK;
		return true;
	}
	if (strcmp(in, "e") == 0 && s->extra_label) {
		*rc = FE_EXTRA;
		return true;
	}
	return false;
}

static enum fe_rc line_message(struct frontend *fe, const struct fe_screen *s)
{
	struct line_ctx *c = ctx_of(fe);
	enum fe_rc rc = FE_OK;
	bool again = true;

	header(fe, s->title, s->text);
	/* plain notices go by; a screen with a button label or Back waits */
	if (s->ok_label == NULL && !s->back)
		return FE_OK;
	while (again) {
		char *line;

		fprintf(c->out, _("[Enter] %s"), s->ok_label ? s->ok_label : _("continue"));
		keys_hint(c, s);
		if (!read_line(c, &line))
			return FE_CANCEL;
		if (!common_key(c, s, trimmed(line), &rc, &again))
			rc = FE_OK;
		free(line);
	}
	return rc;
}

static bool is_answer(const char *in, const char *english, const char *translated)
{
	return strcasecmp(in, english) == 0 || strcasecmp(in, translated) == 0 ||
	       (in[0] && in[1] == '\0' && (tolower((unsigned char)in[0]) == english[0] ||
					   tolower((unsigned char)in[0]) == translated[0]));
}

static enum fe_rc line_yesno(struct frontend *fe, const struct fe_screen *s)
{
	struct line_ctx *c = ctx_of(fe);

	header(fe, s->title, s->text);
	for (;;) {
		char *line, *in;
		enum fe_rc rc = FE_CANCEL;
		bool decided = true;

		/* TRANSLATORS: the line-mode yes/no prompts, the capital letter is
		 * what Enter answers; answers are the words "yes" and "no" as
		 * translated below, or their first letters */
		fprintf(c->out, "%s ", s->default_no ? _("[y/N]:") : _("[Y/n]:"));
		if (!read_line(c, &line))
			return FE_CANCEL;
		in = trimmed(line);
		if (*in == '\0')
			rc = s->default_no ? FE_BACK : FE_OK;
		else if (strcmp(in, "?") == 0 && s->help)
			decided = !fprintf(c->out, "\n%s\n", s->help);
		else if (is_answer(in, "yes", _("yes")))
			rc = FE_OK;
		else if (is_answer(in, "no", _("no")))
			rc = FE_BACK;
		else
			decided = false;
		free(line);
		if (decided)
			return rc;
	}
}

/* The number shown for item i (words and disabled rows have none), 0 if
 * none. */
static size_t number_of(const struct fe_item *items, size_t i)
{
	size_t k = 0;

	if (items[i].word)
		return 0;
	for (size_t j = 0; j <= i; j++)
		k += !items[j].word;
	return k;
}

/* A number or a tag; returns the index or -1. */
static long pick(const char *in, const struct fe_item *items, size_t n)
{
	char *end;
	long k = strtol(in, &end, 10);

	for (size_t i = 0; *in && *end == '\0' && i < n; i++)
		if (k >= 1 && number_of(items, i) == (size_t)k && !items[i].disabled)
			return (long)i;
	for (size_t i = 0; i < n; i++)
		if (items[i].tag && strcmp(items[i].tag, in) == 0 && !items[i].disabled)
			return (long)i;
	return -1;
}

/* How many items have a number. */
static size_t numbered(const struct fe_item *items, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += !items[i].word;
	return k;
}

static void list_items(struct line_ctx *c, const struct fe_item *items, size_t n, bool boxes)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].disabled) {
			fprintf(c->out, "       -  %s\n", items[i].label);
			continue;
		}
		if (boxes)
			fprintf(c->out, "  [%c] ", items[i].on ? 'x' : ' ');
		else
			fputs("  ", c->out);
		/* a word is typed, not numbered: "apply" must be spelled out */
		if (items[i].word)
			fprintf(c->out, "%s  %s\n", items[i].tag, items[i].label);
		else
			fprintf(c->out, "%2zu) %s  %s\n", number_of(items, i), items[i].tag,
				items[i].label);
	}
}

static enum fe_rc line_menu(struct frontend *fe, const struct fe_screen *s,
			    const struct fe_item *items, size_t n, size_t *choice)
{
	struct line_ctx *c = ctx_of(fe);
	size_t def = s->cursor ? *s->cursor : s->default_item;

	if (def >= n)
		def = 0;
	header(fe, s->title, s->text);
	list_items(c, items, n, false);
	for (;;) {
		char *line, *in;
		enum fe_rc rc;
		bool again;
		long k;

		if (items[def].word)
			fprintf(c->out, _("Choose 1-%zu or a word [%s]"), numbered(items, n),
				items[def].tag);
		else if (numbered(items, n) < n)
			fprintf(c->out, _("Choose 1-%zu or a word [%zu]"), numbered(items, n),
				number_of(items, def));
		else
			fprintf(c->out, _("Choose 1-%zu [%zu]"), n, def + 1);
		keys_hint(c, s);
		if (!read_line(c, &line))
			return FE_CANCEL;
		in = trimmed(line);
		if (common_key(c, s, in, &rc, &again)) {
			free(line);
			if (again)
				continue;
			return rc;
		}
		k = *in ? pick(in, items, n) : (long)def;
		free(line);
		if (k >= 0) {
			*choice = (size_t)k;
			if (s->cursor)
				*s->cursor = (size_t)k;
			return FE_OK;
		}
		fprintf(c->out, "%s\n", _("Please answer with one of the numbers."));
	}
}

/* "1 3", "1,3" or tags; false when a word is not an item. */
static bool parse_selection(const char *in, const struct fe_item *items, size_t n, bool *sel)
{
	char *copy = xstrdup(in), *save = NULL;
	bool ok = true;

	for (size_t i = 0; i < n; i++)
		sel[i] = false;
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		long k = pick(t, items, n);

		if (k < 0)
			ok = false;
		else
			sel[k] = true;
	}
	free(copy);
	return ok;
}

static char *current_selection(const struct fe_item *items, size_t n)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < n; i++)
		if (items[i].on && !items[i].disabled)
			sb_addf(&sb, "%s%zu", sb.len ? " " : "", i + 1);
	return sb_detach(&sb);
}

static enum fe_rc line_checklist(struct frontend *fe, const struct fe_screen *s,
				 struct fe_item *items, size_t n)
{
	struct line_ctx *c = ctx_of(fe);
	bool *sel = xcalloc(n, sizeof(*sel));
	enum fe_rc rc = FE_CANCEL;

	header(fe, s->title, s->text);
	list_items(c, items, n, true);
	for (;;) {
		char *line, *in, *cur = current_selection(items, n);
		bool again, done = false;

		fprintf(c->out, _("Numbers to select, separated by spaces [%s]"), cur);
		free(cur);
		keys_hint(c, s);
		if (!read_line(c, &line))
			break;
		in = trimmed(line);
		if (common_key(c, s, in, &rc, &again)) {
			done = !again;
		} else if (*in == '\0') {
			rc = FE_OK;
			done = true;
		} else if (parse_selection(in, items, n, sel)) {
			for (size_t i = 0; i < n; i++)
				if (!items[i].disabled)
					items[i].on = sel[i];
			rc = FE_OK;
			done = true;
		} else {
			fprintf(c->out, "%s\n", _("Please answer with numbers from the list."));
		}
		free(line);
		if (done)
			break;
	}
	free(sel);
	return rc;
}

static enum fe_rc line_input(struct frontend *fe, const struct fe_screen *s, const char *init,
			     char **out)
{
	struct line_ctx *c = ctx_of(fe);

	header(fe, s->title, s->text);
	for (;;) {
		char *line, *in;
		enum fe_rc rc;
		bool again;

		fprintf(c->out, "[%s]", init ? init : "");
		keys_hint(c, s);
		if (!read_line(c, &line))
			return FE_CANCEL;
		in = trimmed(line);
		if (common_key(c, s, in, &rc, &again)) {
			free(line);
			if (again)
				continue;
			return rc;
		}
		*out = xstrdup(*in ? in : (init ? init : ""));
		free(line);
		return FE_OK;
	}
}

static void line_textview(struct frontend *fe, const char *title, const char *text)
{
	header(fe, title, text);
}

static void line_gauge(struct frontend *fe, const char *title, int percent, const char *step)
{
	struct line_ctx *c = ctx_of(fe);

	(void)title;
	/* "phase\ndetail" on one line */
	if (percent >= 0 && step)
		fprintf(c->out, "[%3d%%] %.*s%s%s\n", percent, (int)strcspn(step, "\n"), step,
			strchr(step, '\n') ? ": " : "", strchr(step, '\n') ? strchr(step, '\n') + 1 : "");
	fflush(c->out);
}

static int line_begin(struct frontend *fe, const char *backtitle, struct error *e)
{
	struct line_ctx *c = ctx_of(fe);

	(void)e;
	fprintf(c->out, "%s\n", backtitle);
	return 0;
}

static void line_end(struct frontend *fe)
{
	fflush(ctx_of(fe)->out);
}

struct frontend *fe_line_new(FILE *in, FILE *out)
{
	struct frontend *fe = xcalloc(1, sizeof(*fe));
	struct line_ctx *c = xcalloc(1, sizeof(*c));

	c->in = in;
	c->out = out;
	fe->name = "line";
	fe->ctx = c;
	fe->begin = line_begin;
	fe->end = line_end;
	fe->message = line_message;
	fe->yesno = line_yesno;
	fe->menu = line_menu;
	fe->checklist = line_checklist;
	fe->input = line_input;
	fe->textview = line_textview;
	fe->gauge = line_gauge;
	return fe;
}

void fe_free(struct frontend *fe)
{
	if (fe == NULL)
		return;
	free(fe->ctx);
	free(fe);
}
