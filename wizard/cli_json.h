/*
 * cli_json.h - the JSON documents of "plan --json" and "apply --json"
 * (schema 1): verb, server, root, roles, profile, changed, files (path,
 * action, diff), notes, pending_recovery, error; apply adds checkpoint,
 * written, reloaded, rolled_back, recovered, unmet.
 */
#ifndef MH_CLI_JSON_H
#define MH_CLI_JSON_H

#include <stdbool.h>

#include "../backends/backend.h"
#include "cli.h"

struct cli_json_run {
	const char *verb;                  /* "plan" or "apply" */
	const struct env *env;
	const struct cli_opts *opts;
	const struct plan *plan;           /* NULL when planning failed */
	const struct apply_result *result; /* apply only; NULL before applying */
	const struct strlist *recovered;   /* apply: notes of a crash recovery */
	bool pending_recovery;             /* plan: an unfinished checkpoint exists */
	bool reloaded;
	const struct expect_list *expect;  /* apply: as the server's own tool answered */
	const char *error;                 /* the one-line error, or NULL */
};

/* Prints the document on stdout. */
void cli_json_print(const struct cli_json_run *run);

#endif
