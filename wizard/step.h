/*
 * step.h - what the wizard's steps share: the state of one run and the
 * helpers for Back, Help and Cancel.  Internal to wizard/ (flow.c runs
 * the steps; each step_*.c is one screen or group of screens).
 *
 * A step returns where to go next.  It either shows its screen or passes
 * through: a step passes through when its answer is preseeded (--answers)
 * or, after the user jumped back from the review, when it is already
 * answered.  A step that passes through moving forward also passes
 * through moving back, so Back lands on the previous screen the user saw.
 */
#ifndef MH_STEP_H
#define MH_STEP_H

#include "flow.h"

#define MAX_SERVERS 8

enum step { ST_WELCOME, ST_SERVERS, ST_ROLES, ST_SASL, ST_PROFILE, ST_CERT, ST_DH, ST_REVIEW,
	    ST_APPLY, ST_COUNT };

enum go { GO_NEXT, GO_BACK, GO_STAY, GO_QUIT, GO_FAIL, GO_DONE };

struct wserver {
	const struct backend *backend;
	struct server_info si;
	bool selected;
	unsigned roles;
	bool roles_answered;
	bool roles_preset;
	size_t roles_cursor;     /* the row the roles screen was left on */
	struct plan plan;
};

struct wizard {
	const struct env *env;
	struct frontend *fe;
	const struct wizard_opts *o;
	struct wizard_result *r;
	struct error *e;
	struct wserver srv[MAX_SERVERS];
	size_t n_srv;
	bool detected;
	int dir;                 /* +1 moving forward, -1 moving back */
	bool answered[ST_COUNT];
	bool preset[ST_COUNT];
	bool to_review;          /* a step was revisited from the review */
	int forced;              /* the step chosen from the review, or -1 */
	size_t roles_from;       /* server the roles step shows first */
	const struct profile *profile;
	enum sasl_kind sasl;     /* SASL_UNSET: keep what the MTA has */
	char *cert, *key, *dh;   /* NULL cert: keep; NULL dh: none */
	char *typed_cert, *typed_key; /* last paths typed, offered again */
	char *dh_pem;            /* parameters made here, written only at apply */
	bool planned;
	size_t cursor[ST_COUNT]; /* the row each step's list was left on */
	char *notes_seen;        /* the notes last shown before the review */
	bool cert_cursor_set;    /* the certificate list's cursor was placed */
	struct strlist log_written; /* what the apply wrote, for the run log */
	struct strbuf log_reloaded; /* the servers reloaded */
	bool log_named;          /* the summary names the run log */
	bool cert_preset_tried;  /* the answers' certificate was looked at */
	char title[256];         /* flow_title's result */
};

/* ---- the steps, in order (step_*.c) ---- */
enum go step_welcome(struct wizard *w);
enum go step_servers(struct wizard *w);
enum go step_roles(struct wizard *w);
enum go step_sasl(struct wizard *w);
enum go step_profile(struct wizard *w);
enum go step_cert(struct wizard *w);
enum go step_dh(struct wizard *w);
enum go step_review(struct wizard *w);
enum go step_apply(struct wizard *w);

/* ---- shared by the steps (flow.c) ---- */
/* The preseeded answer for key, or NULL. */
const char *flow_preset(const struct wizard *w, const char *key);
/* Sets w->e: key is missing with --non-interactive; returns -1. */
int flow_missing(struct wizard *w, const char *key);
enum go flow_fail_missing(struct wizard *w, const char *key);
void flow_set_str(char **dst, const char *src);
/* Asks once whether to quit; GO_QUIT or GO_STAY. */
enum go flow_confirm_quit(struct wizard *w);
/* Where a screen's answer leads: OK forward, Back back, Cancel asks. */
enum go flow_after_screen(struct wizard *w, enum fe_rc rc);
void flow_error_screen(struct wizard *w, const char *msg);
/* Whether a step with this answer state shows no screen now. */
bool flow_passes(const struct wizard *w, enum step st, bool answered, bool was_preset);
/* Passing through: onward in the direction of travel. */
enum go flow_pass(const struct wizard *w);
/* "Certificate (5/7)": name with the step's place among the steps this
 * run shows.  Valid until the next call. */
const char *flow_title(struct wizard *w, enum step st, const char *name);
/* Asks for a path; GO_NEXT with *out set, or what the user did instead. */
enum go flow_ask_path(struct wizard *w, const char *title, const char *text,
		      const char *help, const char *init, char **out);

/* step_sasl.c: a chosen MTA serves submission, so SASL is asked. */
bool wizard_needs_sasl(const struct wizard *w);

/* runlog.c: appends this run to wizard_log_path (under the lab root in
 * lab mode); -1 when it cannot be written. */
extern const char *const wizard_log_path;
int wizard_log(const struct wizard *w, const struct wizard_result *r, const char *error);
/* Adds "Run log: PATH" to the summary. */
void flow_log_line(struct wizard *w);

/* step_review.c: drops the plans made for the review. */
void review_plans_free(struct wizard *w);

#endif
