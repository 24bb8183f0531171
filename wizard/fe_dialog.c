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

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frontend.h"

struct dialog_ctx {
	bool started;
	char *backtitle;
	char *steps[6]; /* the gauge's recent steps */
	size_t n_steps;
};

static struct dialog_ctx *ctx_of(struct frontend *fe)
{
	return fe->ctx;
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
	dialog_msgbox(_("Help"), help, 0, 0, 1);
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
			rc = dialog_yesno(s->title, s->text, 0, 0);
		} else {
			rc = dialog_msgbox(s->title, s->text, 0, 0, 1);
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
	DIALOG_VARS saved;
	int rc;

	dlg_save_vars(&saved);
	prepare(fe, s);
	dialog_vars.yes_label = (char *)_("Yes");
	dialog_vars.no_label = (char *)_("No");
	/* dialog(1)'s --defaultno sets both: yesno reads default_button */
	if (s->default_no) {
		dialog_vars.defaultno = true;
		dialog_vars.default_button = DLG_EXIT_CANCEL;
	}
	rc = dialog_yesno(s->title, s->text, 0, 0);
	dlg_restore_vars(&saved);
	if (rc == DLG_EXIT_OK)
		return FE_OK;
	return rc == DLG_EXIT_CANCEL ? FE_BACK : FE_CANCEL;
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

static long index_of_tag(const struct fe_item *items, size_t n, const char *tag)
{
	for (size_t i = 0; i < n; i++)
		if (!items[i].disabled && items[i].tag && strcmp(items[i].tag, tag) == 0)
			return (long)i;
	return -1;
}

static enum fe_rc fd_menu(struct frontend *fe, const struct fe_screen *s,
			   const struct fe_item *items, size_t n, size_t *choice)
{
	char **argv = xcalloc(2 * n + 1, sizeof(*argv));
	char *prompt = prompt_with_disabled(s, items, n);
	char *def = xstrdup(s->default_item < n && items[s->default_item].tag
				    ? items[s->default_item].tag : "");
	enum fe_rc out = FE_CANCEL;
	int k = 0;

	for (size_t i = 0; i < n; i++) {
		if (items[i].disabled)
			continue;
		argv[k++] = (char *)items[i].tag;
		argv[k++] = (char *)items[i].label;
	}
	for (;;) {
		DIALOG_VARS saved;
		struct buttons b;
		char *res;
		int rc;

		dlg_save_vars(&saved);
		b = prepare(fe, s);
		dialog_vars.default_item = def;
		rc = dialog_menu(s->title, prompt, 0, 0, 0, k / 2, argv);
		res = take_result();
		dlg_restore_vars(&saved);
		if (rc == DLG_EXIT_HELP && s->help) {
			/* "HELP tag": come back to the row the user was on */
			free(def);
			def = xstrdup(strncmp(res, "HELP ", 5) == 0 ? res + 5 : res);
			free(res);
			show_help(fe, s->help);
			continue;
		}
		out = map_rc(rc, b);
		if (out == FE_OK || out == FE_EXTRA) {
			long i = index_of_tag(items, n, res);

			if (i < 0 && out == FE_OK)
				out = FE_CANCEL;
			*choice = i < 0 ? 0 : (size_t)i;
		}
		free(res);
		break;
	}
	free(def);
	free(prompt);
	free(argv);
	return out;
}

/* Sets items[].on from a list of tags ("a b"); the first word is skipped
 * when skip_first (the help status names the current row first). */
static void apply_selection(struct fe_item *items, size_t n, const char *res, bool skip_first)
{
	char *copy = xstrdup(res), *save = NULL;
	bool first = true;

	for (size_t i = 0; i < n; i++)
		if (!items[i].disabled)
			items[i].on = false;
	for (char *t = strtok_r(copy, " \n\"'", &save); t; t = strtok_r(NULL, " \n\"'", &save)) {
		long i;

		if (first && skip_first) {
			first = false;
			continue;
		}
		first = false;
		if ((i = index_of_tag(items, n, t)) >= 0)
			items[i].on = true;
	}
	free(copy);
}

static enum fe_rc fd_checklist(struct frontend *fe, const struct fe_screen *s,
				struct fe_item *items, size_t n)
{
	char **argv = xcalloc(3 * n + 1, sizeof(*argv));
	char *prompt = prompt_with_disabled(s, items, n);
	enum fe_rc out = FE_CANCEL;

	for (;;) {
		DIALOG_VARS saved;
		struct buttons b;
		char *res;
		int rc, k = 0;

		for (size_t i = 0; i < n; i++) {
			if (items[i].disabled)
				continue;
			argv[k++] = (char *)items[i].tag;
			argv[k++] = (char *)items[i].label;
			argv[k++] = (char *)(items[i].on ? "on" : "off");
		}
		dlg_save_vars(&saved);
		b = prepare(fe, s);
		rc = dialog_checklist(s->title, prompt, 0, 0, 0, k / 3, argv, FLAG_CHECK);
		res = take_result();
		dlg_restore_vars(&saved);
		if (rc == DLG_EXIT_HELP && s->help) {
			/* with help_status the result is "HELP row selected..." */
			if (strncmp(res, "HELP ", 5) == 0)
				apply_selection(items, n, res + 5, true);
			free(res);
			show_help(fe, s->help);
			continue;
		}
		out = map_rc(rc, b);
		if (out == FE_OK)
			apply_selection(items, n, res, false);
		free(res);
		break;
	}
	free(prompt);
	free(argv);
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
		rc = dialog_inputbox(s->title, s->text, 0, -1, cur, 0);
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
static void fd_textview(struct frontend *fe, const char *title, const char *text)
{
	DIALOG_VARS saved;
	int fd = memfd_create("mailharden-view", MFD_CLOEXEC);
	size_t len = strlen(text);
	char path[64];

	dlg_save_vars(&saved);
	dialog_vars.backtitle = ctx_of(fe)->backtitle;
	dialog_vars.exit_label = (char *)_("Close");
	dialog_vars.tab_correct = true;
	dlg_clear();
	dlg_put_backtitle();
	if (fd >= 0 && write(fd, text, len) == (ssize_t)len) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		dialog_textbox(title, path, -1, -1);
	} else {
		dialog_vars.cr_wrap = true;
		dialog_vars.no_nl_expand = true;
		dialog_msgbox(title, text, -1, -1, 1);
	}
	if (fd >= 0)
		close(fd);
	dlg_clr_result();
	dlg_restore_vars(&saved);
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
	if (step && (c->n_steps == 0 || strcmp(c->steps[c->n_steps - 1], step) != 0)) {
		if (c->n_steps == ARRAY_LEN(c->steps)) {
			free(c->steps[0]);
			memmove(c->steps, c->steps + 1, (c->n_steps - 1) * sizeof(*c->steps));
			c->n_steps--;
		}
		c->steps[c->n_steps++] = xstrdup(step);
	}
	for (size_t i = 0; i < c->n_steps; i++) {
		items[n++] = c->steps[i];
		items[n++] = (char *)(i + 1 < c->n_steps ? _("done") : _("running"));
	}
	dlg_save_vars(&saved);
	dialog_vars.backtitle = c->backtitle;
	dlg_put_backtitle();
	dialog_mixedgauge(title, step ? step : "", 0, 0, percent, (int)(n / 2), items);
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
	return 0;
}

static void fd_end(struct frontend *fe)
{
	struct dialog_ctx *c = ctx_of(fe);

	fd_gauge(fe, NULL, -1, NULL);
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
