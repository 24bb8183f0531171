/*
 * frontend.h - what the wizard's question flow needs from a user
 * interface.  The flow (flow.c) decides what to ask and in which order; a
 * front end only shows one screen and reports what the user did.
 *
 * Two front ends exist: fe_dialog.c (libdialog, full screen) and fe_line.c
 * (numbered prompts on a stream, for pipes, TERM=dumb and --text).  Tests
 * script their own.  Every string handed to a front end is already
 * translated.
 */
#ifndef MH_FRONTEND_H
#define MH_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../core/common.h"

/* What the user did on a screen. */
enum fe_rc {
	FE_OK,     /* OK / Yes / a choice was made */
	FE_CANCEL, /* Esc, Cancel, No (yesno), or end of input */
	FE_BACK,   /* Back to the previous step */
	FE_EXTRA,  /* the screen's extra button (Explain on the review) */
};

/* One row of a menu or checklist. */
struct fe_item {
	const char *tag;   /* short word or number, not translated */
	const char *label; /* translated description */
	bool on;           /* checklist: selected (in and out) */
	bool disabled;     /* shown, not choosable; label says why */
	bool word;         /* line mode: chosen by typing its tag, never by a
			    * number (apply: "1" must not apply) */
};

struct fe_screen {
	const char *title;
	const char *text;        /* the question; may hold newlines */
	const char *help;        /* Help text; NULL: no Help button */
	bool back;               /* offer Back */
	const char *ok_label;    /* NULL: the front end's "OK" */
	const char *extra_label; /* NULL: no extra button */
	size_t default_item;     /* menu: index preselected */
	bool default_no;         /* yesno: No is preselected */
	const char *no_label;    /* yesno: NULL: "No" (e.g. "Back") */
	/* menu, checklist: NULL, or the row to start on (instead of
	 * default_item) and, after, the row the cursor was on, so a screen
	 * shown again opens where the user left it. */
	size_t *cursor;
};

struct frontend {
	const char *name; /* "dialog", "line", "script" */
	void *ctx;
	/* Takes the terminal; backtitle names the program and lab root. */
	int (*begin)(struct frontend *fe, const char *backtitle, struct error *e);
	/* Gives the terminal back.  Safe to call twice. */
	void (*end)(struct frontend *fe);
	/* A text to read; OK, Back (if offered) or Cancel. */
	enum fe_rc (*message)(struct frontend *fe, const struct fe_screen *s);
	/* OK means yes, FE_CANCEL means no. */
	enum fe_rc (*yesno)(struct frontend *fe, const struct fe_screen *s);
	/* Picks one enabled item: *choice is its index. */
	enum fe_rc (*menu)(struct frontend *fe, const struct fe_screen *s,
			   const struct fe_item *items, size_t n, size_t *choice);
	/* Toggles items[i].on of enabled items. */
	enum fe_rc (*checklist)(struct frontend *fe, const struct fe_screen *s,
				struct fe_item *items, size_t n);
	/* One line of text; *out is a new string on FE_OK. */
	enum fe_rc (*input)(struct frontend *fe, const struct fe_screen *s,
			    const char *init, char **out);
	/* A long text (diff, explanations) to scroll through. */
	void (*textview)(struct frontend *fe, const char *title, const char *text);
	/* Progress: percent 0..100 with the current step; percent < 0 closes.
	 * A step "phase\ndetail" keeps one row for the phase and shows the
	 * detail (counters) in place. */
	void (*gauge)(struct frontend *fe, const char *title, int percent, const char *step);
	/* While a gauge shows: true once the user asked to stop (Esc).  May
	 * be NULL: the front end cannot be interrupted that way. */
	bool (*gauge_cancelled)(struct frontend *fe);
	/* Short word shown with every title ("lab", "live"); NULL: none. */
	const char *mark;
};

/*
 * Ctrl-C (SIGINT, SIGTERM, SIGHUP) while the wizard runs: the screen is
 * given back, note is printed and the program exits 130.  The flow keeps
 * note true ("nothing was written" before Apply); while writing, the
 * signals wait (fe_interrupt_hold) so a transaction is never cut halfway.
 */
void fe_interrupt_install(void);
void fe_interrupt_note(const char *note);
void fe_interrupt_hold(bool hold);
/* Called first by the handler to restore the terminal (set by a front end
 * that changes it); must only make async-signal-safe-enough calls. */
extern void (*fe_interrupt_restore)(void);

/* Full-screen libdialog front end; NULL when stdin/stdout is no terminal. */
struct frontend *fe_dialog_new(void);
/* Numbered prompts read from in (NULL: never asks) and written to out. */
struct frontend *fe_line_new(FILE *in, FILE *out);
void fe_free(struct frontend *fe);

#endif
