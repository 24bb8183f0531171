/*
 * cli.h - the non-interactive verbs.  Everything the wizard can do, a verb
 * can do: tests and fleets use these.
 */
#ifndef MH_CLI_H
#define MH_CLI_H

#include <stdbool.h>

#include "../core/env.h"

enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

/* Options shared by all verbs, parsed once. */
struct cli_opts {
	const char *root;
	const char *server;
	const char *roles;
	const char *profile;
	const char *cert;
	const char *key;
	const char *dh;
	const char *sasl;
	const char *templates;
	bool json;
	bool yes;
	bool no_reload;
	bool force;
	bool text;
	const char *answers;
	bool non_interactive;
	struct strlist server_versions;
	/* selftest */
	const char *host, *port, *proto, *tls, *servername, *cafile, *timeout, *jobs, *source;
	const char *format; /* selftest --format text|json|nagios|prometheus */
	/* dhparam, cert */
	const char *bits, *out, *name, *out_cert, *out_key;
	bool fresh, rsa;
	struct strlist args; /* positional arguments after the verb */
};

/* How the user started this program, for commands we print: "mailharden"
 * from PATH, "./mailharden" from the build tree (quoted for a shell when
 * needed). */
const char *invoked_as(void);

int cli_detect(struct env *env, const struct cli_opts *o);
int cli_plan(struct env *env, const struct cli_opts *o);
int cli_apply(struct env *env, const struct cli_opts *o);
int cli_history(struct env *env, const struct cli_opts *o);
int cli_rollback(struct env *env, const struct cli_opts *o);
/* The engine part of `rollback`, shared with the wizard: under the lock,
 * recovers an interrupted transaction, restores checkpoint id (NULL: the
 * latest) and, on a live system with reload, reloads the servers touched.
 * Returns 0, -1 (nothing restored) or -2 (restored, a reload failed). */
int rollback_run(const struct env *env, const char *id, bool force, bool reload,
		 struct strlist *restored, struct strlist *recovered, struct error *e);
int cli_selftest(struct env *env, const struct cli_opts *o);
/* Exit 0 holds, 1 drift, 2 a server refuses its config, 3 cannot tell. */
int cli_verify(struct env *env, const struct cli_opts *o);
int cli_dhparam(struct env *env, const struct cli_opts *o);
int cli_cert(struct env *env, const struct cli_opts *o);

#endif
