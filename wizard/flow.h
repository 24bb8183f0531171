/*
 * flow.h - the wizard: the questions, their order and the way back,
 * independent of how a screen is drawn (frontend.h).
 *
 *   welcome -> servers -> roles (per server) -> compatibility (profile)
 *           -> certificate -> DH (only for profiles with DHE) -> review
 *           -> apply (gauge) -> summary
 *
 * Nothing is written before the user chooses Apply on the review; the
 * writing is engine_apply()'s, as for `mailharden apply`.
 */
#ifndef MH_FLOW_H
#define MH_FLOW_H

#include <stdbool.h>

#include "../backends/backend.h"
#include "../core/finding.h"
#include "answers.h"
#include "cli.h"
#include "frontend.h"

enum wizard_outcome {
	WIZARD_APPLIED,   /* every chosen server applied */
	WIZARD_NOTHING,   /* nothing to change, or apply = no */
	WIZARD_CANCELLED, /* the user quit; nothing written */
	WIZARD_FAILED,    /* an error (e says it); a failed apply rolled back */
};

/* The engine call (engine_apply_set: every server and the DH file in one
 * checkpoint), replaceable so the flow can be tested without a server. */
typedef int (*wizard_apply_fn)(const struct env *env, const struct apply_set *s,
			       const struct apply_opts *o, struct apply_result *r,
			       struct error *e);

struct port_result;
struct selftest_opts;
/* The self-test after apply (selftest_run), replaceable for tests. */
typedef void (*wizard_selftest_fn)(const struct selftest_opts *o, struct port_result *r,
				   size_t n);
/* Rolling back a checkpoint (rollback_run), replaceable for tests. */
typedef int (*wizard_rollback_fn)(const struct env *env, const char *id, bool force,
				  bool reload, struct strlist *restored,
				  struct strlist *recovered, struct error *e);

struct wizard_opts {
	const struct answers_file *preset; /* NULL: ask everything */
	bool non_interactive;              /* a missing answer is an error */
	bool no_reload;
	wizard_apply_fn apply;             /* NULL: engine_apply */
	wizard_selftest_fn selftest;       /* NULL: selftest_run */
	wizard_rollback_fn rollback;       /* NULL: rollback_run */
	const char *host_name;             /* the certificate must carry it; NULL:
					    * /etc/mailname, else gethostname() */
	bool log;                          /* append the run to the run log */
	const char *program;               /* how the user started mailharden, for
					    * the undo command; NULL: "mailharden" */
};

struct wizard_result {
	enum wizard_outcome outcome;
	struct strlist servers;     /* backend names chosen */
	struct strlist roles;       /* per server, "mx,submission" */
	const struct profile *profile;
	char *cert, *key, *dh;      /* NULL: keep / none */
	struct strlist checkpoints; /* the run's checkpoint (one id) */
	int selftest;               /* selftest exit code; -1: not run */
	bool rolled_back;           /* the user rolled back after the self-test */
	struct strlist summary;     /* translated lines shown at the end */
};

int wizard_run(const struct env *env, struct frontend *fe, const struct wizard_opts *o,
	       struct wizard_result *r, struct error *e);
void wizard_result_free(struct wizard_result *r);

/* The `wizard` verb (and `mailharden` with no verb): picks the front end. */
int cli_wizard(struct env *env, const struct cli_opts *o);

/* Roles offered when the current config serves none. */
unsigned wizard_default_roles(const struct backend *b);

/* A certificate found on the host, with the key that sits next to it,
 * and what its inspection says. */
struct cert_candidate {
	char *cert; /* server paths */
	char *key;
	char *origin;   /* translated: "Let's Encrypt", "/etc/ssl" */
	char *names;    /* subjectAltName DNS names, ", "-joined ("" none) */
	char *issuer;   /* the issuer's CN (or O); NULL: unreadable */
	time_t not_after;
	bool self_signed, expired, name_ok, chain_ok;
	enum severity worst; /* worst finding (SEV_CRITICAL: unreadable) */
};
/* Let's Encrypt live directories and /etc/ssl under env->root, each with a
 * key found beside it, inspected; best first: names host (NULL: any), a
 * trusted chain, the furthest expiry; self-signed and expired last. */
size_t cert_candidates(const struct env *env, const char *host, struct cert_candidate **out);
/* Inspects one certificate (server paths) into c (cert/key copied). */
void cert_candidate_inspect(const struct env *env, const char *host, const char *cert,
			    const char *key, struct cert_candidate *c);
/* "mail.example.org (Let's Encrypt R3, until 2026-03-01)": names, issuer,
 * expiry, self-signed or expired said first. */
char *cert_candidate_label(const struct cert_candidate *c);
/* The name clients use for this host: override, /etc/mailname as Debian's
 * MTAs take it, else the system's; NULL if none is a valid name. */
char *wizard_mail_name(const struct env *env, const char *override);
void cert_candidates_free(struct cert_candidate *c, size_t n);
void cert_candidates_free_one(struct cert_candidate *c);
/* The key beside a certificate DIR/NAME.pem (usual spellings); NULL. */
char *cert_key_beside(const struct env *env, const char *cert);

/* explain.c: what a "name = value" line of plan->settings does and why,
 * translated; a generic sentence for names it does not know. */
const char *explain_setting(const char *setting_line);
/* The whole Explain text for a set of plans. */
char *explain_plans(const struct plan *const *plans, size_t n);

#endif
