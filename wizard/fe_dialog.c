/*
 * fe_dialog.c - the wizard full screen, with libdialog in-process.
 *
 * The only file that includes dialog.h.  libdialog keeps its options in
 * the global dialog_vars: every widget call saves them, sets what this
 * screen needs and restores them, so nothing leaks from one screen to the
 * next.  Sizes are 0 (fit the text) or -1 (fill the screen), never fixed,
 * so each widget lays itself out again after a resize (SIGWINCH arrives as
 * KEY_RESIZE in libdialog's own input loop).
 */
#include <dialog.h>
/* dialog.h may bring its own gettext macro; ours is the one we use */
#undef _

#include <langinfo.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <wchar.h>

#include "frontend.h"

struct dialog_ctx {
	bool started;
	char *backtitle;
	char *steps[6]; /* the gauge's recent steps */
	size_t n_steps;
	char title[512]; /* the title with the mark, for the widget being drawn */
};

static struct dialog_ctx *ctx_of(struct frontend *fe)
{
	return fe->ctx;
}

/* "Review (7/8) [lab]": the mark stays visible even when a box covers
 * the backtitle line. */
static const char *titled(struct frontend *fe, const char *title)
{
	struct dialog_ctx *c = ctx_of(fe);

	if (fe->mark && *fe->mark)
		snprintf(c->title, sizeof(c->title), "%s [%s]", title ? title : "", fe->mark);
	else
		snprintf(c->title, sizeof(c->title), "%s", title ? title : "");
	return c->title;
}

/* Columns a UTF-8 string takes on the screen. */
static int columns(const char *s, size_t len)
{
	mbstate_t st = {0};
	int cols = 0;

	while (len > 0) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, len, &st);
		int w;

		if (n == (size_t)-1 || n == (size_t)-2 || n == 0)
			return cols + (int)len;
		w = wcwidth(wc);
		cols += w > 0 ? w : 0;
		s += n;
		len -= n;
	}
	return cols;
}

/* A label that fits max columns, cut after a whole word (a space, comma
 * or slash) and marked as cut; never in the middle of a word. */
static char *fit_label(const char *label, int max)
{
	bool utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	const char *more = utf8 ? "\u2026" : "...";
	int more_cols = utf8 ? 1 : 3;
	size_t len = strlen(label), cut = 0;

	if (max < 8 || columns(label, len) <= max)
		return xstrdup(label);
	for (size_t i = 1; i < len; i++) {
		bool boundary = label[i] == ' ' || label[i - 1] == ',' || label[i - 1] == '/';

		if (columns(label, i) + more_cols > max)
			break;
		if (boundary)
			cut = i;
	}
	while (cut > 0 && (label[cut - 1] == ' ' || label[cut - 1] == ','))
		cut--;
	if (cut == 0) /* one long word: cut at a character, still marked */
		for (cut = len; cut > 0 && columns(label, cut) + more_cols > max; cut--)
			;
	while (cut > 0 && ((unsigned char)label[cut] & 0xc0) == 0x80)
		cut--;
	return xasprintf("%.*s%s", (int)cut, label, more);
}

/* Appends text wrapped at width columns to sb, at most max lines (the
 * count is returned); a cut is marked. */
static int wrap_lines(struct strbuf *sb, const char *text, int width, int max, bool *cut)
{
	int lines = 0;
	const char *p = text;

	while (*p && lines < max) {
		const char *eol = strchr(p, '\n'), *end = eol ? eol : p + strlen(p), *brk = NULL;
		const char *q = p;

		/* the longest run of whole words that fits */
		while (q < end) {
			const char *sp = memchr(q, ' ', (size_t)(end - q));
			const char *wend = sp ? sp : end;

			if (columns(p, (size_t)(wend - p)) > width && brk != NULL)
				break;
			brk = wend;
			q = sp ? sp + 1 : end;
		}
		if (brk == NULL)
			brk = end;
		sb_addf(sb, "%s%.*s", lines ? "\n" : "", (int)(brk - p), p);
		lines++;
		p = brk;
		while (*p == ' ')
			p++;
		if (p == end && eol)
			p = eol + 1;
		else if (p == end)
			break;
	}
	*cut = *p != '\0';
	return lines;
}

/* A list needs room for three rows (all, if fewer): a long question is
 * shortened to its first lines and points to Help for the rest. */
static char *fit_prompt(const char *prompt, size_t rows, bool has_help)
{
	/* backtitle 2, frame 2, list frame 2, buttons 2, a spare line */
	int max = LINES - 9 - (int)(rows < 3 ? rows : 3);
	struct strbuf sb = STRBUF_INIT;
	bool cut;

	if (max < 1)
		max = 1;
	wrap_lines(&sb, prompt, COLS - 10, max, &cut);
	if (!cut) {
		sb_free(&sb);
		return xstrdup(prompt);
	}
	sb_free(&sb);
	wrap_lines(&sb, prompt, COLS - 10, max - 1, &cut);
	sb_addf(&sb, "\n%s", has_help ? _("(more under Help)") : "...");
	return sb_detach(&sb);
}

/* Room for a list label: the screen less the box, the list frame, the tag
 * column and (checklist) the "[*] " box. */
static int label_room(const struct fe_item *items, size_t n, int extra)
{
	int tagw = 0;

	for (size_t i = 0; i < n; i++)
		if (!items[i].disabled && items[i].tag && columns(items[i].tag, strlen(items[i].tag)) > tagw)
			tagw = columns(items[i].tag, strlen(items[i].tag));
	return COLS - 12 - tagw - extra;
}

/* How the buttons map this screen's choices.  libdialog has four
 * buttons (OK, Extra, Cancel, Help): Back takes Extra, unless the screen
 * has its own extra button (Explain), then Back takes Cancel and Esc is
 * the way out. */
struct buttons {
	bool back_is_extra;
	bool back_is_cancel;
};

static struct buttons prepare(struct frontend *fe, const struct fe_screen *s)
{
	struct buttons b = {false, false};

	dialog_vars.backtitle = ctx_of(fe)->backtitle;
	dialog_vars.cr_wrap = true;
	dialog_vars.no_nl_expand = true;
	dialog_vars.ok_label = (char *)(s->ok_label ? s->ok_label : _("OK"));
	dialog_vars.cancel_label = (char *)_("Cancel");
	dialog_vars.help_button = s->help != NULL;
	dialog_vars.help_label = (char *)_("Help");
	dialog_vars.help_status = true;
	if (s->extra_label) {
		dialog_vars.extra_button = true;
		dialog_vars.extra_label = (char *)s->extra_label;
		if (s->back) {
			dialog_vars.cancel_label = (char *)_("Back");
			b.back_is_cancel = true;
		}
	} else if (s->back) {
		dialog_vars.extra_button = true;
		dialog_vars.extra_label = (char *)_("Back");
		b.back_is_extra = true;
	}
	dlg_clear();
	dlg_put_backtitle();
	return b;
}

static enum fe_rc map_rc(int rc, struct buttons b)
{
	switch (rc) {
	case DLG_EXIT_OK:
		return FE_OK;
	case DLG_EXIT_EXTRA:
		return b.back_is_extra ? FE_BACK : FE_EXTRA;
	case DLG_EXIT_CANCEL:
		return b.back_is_cancel ? FE_BACK : FE_CANCEL;
	default:
		return FE_CANCEL;
	}
}

static void show_help(struct frontend *fe, const char *help)
{
	DIALOG_VARS saved;

	dlg_save_vars(&saved);
	dialog_vars.backtitle = ctx_of(fe)->backtitle;
	dialog_vars.cr_wrap = true;
	dialog_vars.no_nl_expand = true;
	dialog_vars.ok_label = (char *)_("OK");
	dlg_clear();
	dlg_put_backtitle();
	dialog_msgbox(titled(fe, _("Help")), help, 0, 0, 1);
	dlg_restore_vars(&saved);
}

/* Copies and clears libdialog's result. */
static char *take_result(void)
{
	char *r = xstrdup(dialog_vars.input_result ? dialog_vars.input_result : "");
	size_t n = strlen(r);

	while (n > 0 && (r[n - 1] == '\n' || r[n - 1] == ' '))
		r[--n] = '\0';
	dlg_clr_result();
	return r;
}

static enum fe_rc fd_message(struct frontend *fe, const struct fe_screen *s)
{
	for (;;) {
		DIALOG_VARS saved;
		struct buttons b;
		int rc;

		dlg_save_vars(&saved);
		b = prepare(fe, s);
		/* a yes/no box is the msgbox that has more than one button */
		if (s->back || s->help) {
			dialog_vars.yes_label = dialog_vars.ok_label;
			dialog_vars.no_label = (char *)_("Cancel");
			rc = dialog_yesno(titled(fe, s->title), s->text, 0, 0);
		} else {
			rc = dialog_msgbox(titled(fe, s->title), s->text, 0, 0, 1);
		}
		dlg_clr_result();
		dlg_restore_vars(&saved);
		if (rc == DLG_EXIT_HELP && s->help) {
			show_help(fe, s->help);
			continue;
		}
		return map_rc(rc, b);
	}
}

static enum fe_rc fd_yesno(struct frontend *fe, const struct fe_screen *s)
{
	for (;;) {
		DIALOG_VARS saved;
		int rc;

		dlg_save_vars(&saved);
		prepare(fe, s);
		dialog_vars.extra_button = false;
		dialog_vars.yes_label = (char *)(s->ok_label ? s->ok_label : _("Yes"));
		dialog_vars.no_label = (char *)(s->no_label ? s->no_label : _("No"));
		/* dialog(1)'s --defaultno sets both: yesno reads default_button */
		if (s->default_no) {
			dialog_vars.defaultno = true;
			dialog_vars.default_button = DLG_EXIT_CANCEL;
		}
		rc = dialog_yesno(titled(fe, s->title), s->text, 0, 0);
		dlg_clr_result();
		dlg_restore_vars(&saved);
		if (rc == DLG_EXIT_HELP && s->help) {
			show_help(fe, s->help);
			continue;
		}
		if (rc == DLG_EXIT_OK)
			return FE_OK;
		return rc == DLG_EXIT_CANCEL ? FE_BACK : FE_CANCEL;
	}
}

/* The prompt plus the items that cannot be chosen (libdialog cannot
 * grey out a row, so they are listed under the question). */
static char *prompt_with_disabled(const struct fe_screen *s, const struct fe_item *items, size_t n)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, s->text ? s->text : "");
	for (size_t i = 0; i < n; i++)
		if (items[i].disabled)
			sb_addf(&sb, "\n  - %s", items[i].label);
	return sb_detach(&sb);
}

/* The row to open on: the cursor left there last time, else the default. */
static size_t start_row(const struct fe_screen *s, size_t n)
{
	size_t r = s->cursor ? *s->cursor : s->default_item;

	return r < n ? r : 0;
}

/* The enabled rows as libdialog list items, labels fitted to the screen. */
static DIALOG_LISTITEM *list_items(const struct fe_item *items, size_t n, int extra, int *k)
{
	DIALOG_LISTITEM *li = xcalloc(n + 1, sizeof(*li));
	int room = label_room(items, n, extra);

	*k = 0;
	for (size_t i = 0; i < n; i++) {
		if (items[i].disabled)
			continue;
		li[*k].name = (char *)items[i].tag;
		li[*k].text = fit_label(items[i].label, room);
		li[*k].help = (char *)"";
		li[*k].state = items[i].on;
		(*k)++;
	}
	return li;
}

static void list_items_free(DIALOG_LISTITEM *li, int k)
{
	for (int i = 0; i < k; i++)
		free(li[i].text);
	free(li);
}

/* libdialog's row (enabled rows only) back to the caller's index. */
static size_t item_of_row(const struct fe_item *items, size_t n, int row)
{
	for (size_t i = 0; i < n; i++)
		if (!items[i].disabled && row-- == 0)
			return i;
	return 0;
}

/* The tag of the first enabled row at or after i. */
static char *start_tag(const struct fe_item *items, size_t n, size_t i)
{
	for (; i < n; i++)
		if (!items[i].disabled && items[i].tag)
			return xstrdup(items[i].tag);
	return xstrdup("");
}

/* Remembers the row the cursor was on, for the next time. */
static void keep_row(const struct fe_screen *s, const struct fe_item *items, size_t n,
		     const DIALOG_LISTITEM *li, int k, int row, char **def)
{
	if (row < 0 || row >= k)
		return;
	free(*def);
	*def = xstrdup(li[row].name);
	if (s->cursor)
		*s->cursor = item_of_row(items, n, row);
}

static enum fe_rc fd_menu(struct frontend *fe, const struct fe_screen *s,
			   const struct fe_item *items, size_t n, size_t *choice)
{
	char *prompt = prompt_with_disabled(s, items, n);
	char *def = start_tag(items, n, start_row(s, n));
	enum fe_rc out = FE_CANCEL;
	int k;
	DIALOG_LISTITEM *li = list_items(items, n, 0, &k);

	for (;;) {
		DIALOG_VARS saved;
		struct buttons b;
		char *fitted;
		int rc, row = -1;

		dlg_save_vars(&saved);
		b = prepare(fe, s);
		dialog_vars.default_item = def;
		fitted = fit_prompt(prompt, (size_t)k, s->help != NULL);
		rc = dlg_menu(titled(fe, s->title), fitted, 0, 0, 0, k, li, &row, dlg_dummy_menutext);
		free(fitted);
		dlg_clr_result();
		dlg_restore_vars(&saved);
		keep_row(s, items, n, li, k, row, &def);
		if (rc == DLG_EXIT_HELP && s->help) {
			show_help(fe, s->help); /* then back on the same row */
			continue;
		}
		out = map_rc(rc, b);
		if ((out == FE_OK || out == FE_EXTRA) && row >= 0 && row < k)
			*choice = item_of_row(items, n, row);
		else if (out == FE_OK)
			out = FE_CANCEL;
		break;
	}
	list_items_free(li, k);
	free(def);
	free(prompt);
	return out;
}

static enum fe_rc fd_checklist(struct frontend *fe, const struct fe_screen *s,
				struct fe_item *items, size_t n)
{
	char *prompt = prompt_with_disabled(s, items, n);
	char *def = start_tag(items, n, start_row(s, n));
	enum fe_rc out = FE_CANCEL;
	int k;
	DIALOG_LISTITEM *li = list_items(items, n, 4, &k);

	for (;;) {
		DIALOG_VARS saved;
		struct buttons b;
		char *fitted;
		int rc, row = -1;

		dlg_save_vars(&saved);
		b = prepare(fe, s);
		dialog_vars.default_item = def;
		fitted = fit_prompt(prompt, (size_t)k, s->help != NULL);
		rc = dlg_checklist(titled(fe, s->title), fitted, 0, 0, 0, k, li, " *", FLAG_CHECK,
				   &row);
		free(fitted);
		dlg_clr_result();
		dlg_restore_vars(&saved);
		keep_row(s, items, n, li, k, row, &def);
		if (rc == DLG_EXIT_HELP && s->help) {
			show_help(fe, s->help); /* the ticks stay in li */
			continue;
		}
		out = map_rc(rc, b);
		if (out == FE_OK)
			for (int i = 0; i < k; i++)
				items[item_of_row(items, n, i)].on = li[i].state != 0;
		break;
	}
	list_items_free(li, k);
	free(def);
	free(prompt);
	return out;
}

static enum fe_rc fd_input(struct frontend *fe, const struct fe_screen *s, const char *init,
			    char **out)
{
	char *cur = xstrdup(init ? init : "");
	enum fe_rc rc_out;

	for (;;) {
		DIALOG_VARS saved;
		struct buttons b;
		char *res;
		int rc;

		dlg_save_vars(&saved);
		b = prepare(fe, s);
		dialog_vars.max_input = 4096;
		/* start in the text field: with the default 0 the focus sits on
		 * OK and typed letters work the buttons' hotkeys (c, h, H) */
		dialog_vars.default_button = -1;
		rc = dialog_inputbox(titled(fe, s->title), s->text, 0, -1, cur, 0);
		res = take_result();
		dlg_restore_vars(&saved);
		if (rc == DLG_EXIT_HELP && s->help) {
			free(cur);
			cur = res;
			show_help(fe, s->help);
			continue;
		}
		rc_out = map_rc(rc, b);
		if (rc_out == FE_OK)
			*out = res;
		else
			free(res);
		break;
	}
	free(cur);
	return rc_out;
}

/* libdialog's text viewer reads a file: give it one that lives only in
 * memory, so showing a diff writes nothing anywhere. */
/* Tabs as spaces (8 columns): libdialog's own tab correction makes the
 * textbox's position count stop short of 100% at the end. */
static char *untabbed(const char *text)
{
	struct strbuf sb = STRBUF_INIT;
	size_t col = 0;

	for (const char *p = text; *p; p++) {
		if (*p == '\t') {
			do
				sb_addc(&sb, ' ');
			while (++col % 8);
			continue;
		}
		sb_addc(&sb, *p);
		col = *p == '\n' ? 0 : col + 1;
	}
	return sb.len ? sb_detach(&sb) : (sb_free(&sb), xstrdup(""));
}

static void fd_textview(struct frontend *fe, const char *title, const char *raw)
{
	DIALOG_VARS saved;
	int fd = memfd_create("mailharden-view", MFD_CLOEXEC);
	char *text = untabbed(raw);
	size_t len = strlen(text);
	char path[64];

	dlg_save_vars(&saved);
	dialog_vars.backtitle = ctx_of(fe)->backtitle;
	dialog_vars.exit_label = (char *)_("Close");
	dialog_vars.tab_correct = false;
	dlg_clear();
	dlg_put_backtitle();
	if (fd >= 0 && write(fd, text, len) == (ssize_t)len) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		dialog_textbox(titled(fe, title), path, -1, -1);
	} else {
		dialog_vars.cr_wrap = true;
		dialog_vars.no_nl_expand = true;
		dialog_msgbox(titled(fe, title), text, -1, -1, 1);
	}
	if (fd >= 0)
		close(fd);
	free(text);
	dlg_clr_result();
	dlg_restore_vars(&saved);
}

/* Whether step belongs to the row already shown (same text up to '\n'). */
static bool same_row(const char *row, const char *step)
{
	size_t n = strcspn(step, "\n");

	return strlen(row) == n && strncmp(row, step, n) == 0;
}

/* A mixed gauge draws and returns: no input handler stays behind (the
 * allocated gauge's one swallowed the next key).  Steps done so far are
 * listed above the bar. */
static void fd_gauge(struct frontend *fe, const char *title, int percent, const char *step)
{
	struct dialog_ctx *c = ctx_of(fe);
	char *items[2 * ARRAY_LEN(c->steps)];
	DIALOG_VARS saved;
	size_t n = 0;

	if (percent < 0) {
		for (size_t i = 0; i < c->n_steps; i++)
			free(c->steps[i]);
		c->n_steps = 0;
		return;
	}
	/* "phase\ndetail": the phase is the row, the detail (counters that
	 * change on every call) only the text above the bar */
	if (step && (c->n_steps == 0 || !same_row(c->steps[c->n_steps - 1], step))) {
		if (c->n_steps == ARRAY_LEN(c->steps)) {
			free(c->steps[0]);
			memmove(c->steps, c->steps + 1, (c->n_steps - 1) * sizeof(*c->steps));
			c->n_steps--;
		}
		c->steps[c->n_steps++] = xstrndup(step, strcspn(step, "\n"));
		dlg_clear(); /* a new row: the box grows, redraw it whole */
	}
	for (size_t i = 0; i < c->n_steps; i++) {
		items[n++] = c->steps[i];
		items[n++] = (char *)(i + 1 < c->n_steps ? _("done") : _("running"));
	}
	dlg_save_vars(&saved);
	dialog_vars.backtitle = c->backtitle;
	dlg_put_backtitle();
	/* a fixed width: a growing counter must not move the box */
	dialog_mixedgauge(titled(fe, title),
			  step ? (strchr(step, '\n') ? strchr(step, '\n') + 1 : step) : "", 0,
			  COLS > 76 ? 72 : COLS - 4, percent, (int)(n / 2), items);
	dlg_restore_vars(&saved);
}

/* The gauge draws and returns, so a key waits in curses' queue: look
 * without blocking. */
static bool fd_gauge_cancelled(struct frontend *fe)
{
	int ch;

	(void)fe;
	nodelay(stdscr, TRUE);
	ch = getch();
	nodelay(stdscr, FALSE);
	return ch == 27; /* Esc */
}

/* NO_COLOR (no-color.org): present and not empty means no colours. */
static bool no_color(void)
{
	const char *v = getenv("NO_COLOR");

	return v != NULL && *v != '\0';
}

/* init_dialog() turns colours on from its run-time configuration even
 * when dialog_state says otherwise; a configuration that says "off",
 * living only in memory, is the way to keep them off. */
static void init_without_colors(void)
{
	static const char rc[] = "use_colors = OFF\nuse_shadow = OFF\n";
	int fd = memfd_create("mailharden-dialogrc", MFD_CLOEXEC);
	char *old = getenv("DIALOGRC") ? xstrdup(getenv("DIALOGRC")) : NULL;
	char path[64];

	if (fd >= 0 && write(fd, rc, sizeof(rc) - 1) == (ssize_t)(sizeof(rc) - 1)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		setenv("DIALOGRC", path, 1);
	}
	init_dialog(stdin, stdout);
	if (old)
		setenv("DIALOGRC", old, 1);
	else
		unsetenv("DIALOGRC");
	free(old);
	if (fd >= 0)
		close(fd);
}

/* From the signal handler: give the terminal back (modes, cursor, the
 * screen the shell had) before the note is printed. */
static void fd_restore(void)
{
	dialog_vars.backtitle = NULL;
	dlg_clear();
	refresh();
	endwin();
}

static int fd_begin(struct frontend *fe, const char *backtitle, struct error *e)
{
	struct dialog_ctx *c = ctx_of(fe);

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return err_set(e, "%s", _("the full-screen wizard needs a terminal; use --text"));
	c->backtitle = xstrdup(backtitle);
	dialog_state.use_colors = !no_color();
	dialog_state.use_shadow = !no_color();
	if (no_color())
		init_without_colors();
	else
		init_dialog(stdin, stdout);
	/* Esc should answer at once, not after ncurses' default second */
	set_escdelay(100);
	dialog_vars.backtitle = c->backtitle;
	c->started = true;
	fe_interrupt_restore = fd_restore;
	return 0;
}

static void fd_end(struct frontend *fe)
{
	struct dialog_ctx *c = ctx_of(fe);

	fd_gauge(fe, NULL, -1, NULL);
	fe_interrupt_restore = NULL;
	if (c->started) {
		dialog_vars.backtitle = NULL;
		/* leave a clean terminal for the summary printed after us */
		dialog_vars.erase_on_exit = true;
		dlg_clear();
		refresh();
		end_dialog();
		c->started = false;
	}
	free(c->backtitle);
	c->backtitle = NULL;
}

struct frontend *fe_dialog_new(void)
{
	struct frontend *fe;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return NULL;
	fe = xcalloc(1, sizeof(*fe));
	fe->name = "dialog";
	fe->ctx = xcalloc(1, sizeof(struct dialog_ctx));
	fe->begin = fd_begin;
	fe->end = fd_end;
	fe->message = fd_message;
	fe->yesno = fd_yesno;
	fe->menu = fd_menu;
	fe->checklist = fd_checklist;
	fe->input = fd_input;
	fe->textview = fd_textview;
	fe->gauge = fd_gauge;
	fe->gauge_cancelled = fd_gauge_cancelled;
	return fe;
}
