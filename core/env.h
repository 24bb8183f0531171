/*
 * env.h - where mailharden works: the system root (or a lab copy under
 * --root), the state directory, templates, and version overrides.
 *
 * Paths come in two spellings:
 *   - a "server path" is what the mail server sees ("/etc/postfix/main.cf");
 *   - a "host path" is where mailharden itself opens it ("ROOT/etc/postfix/main.cf").
 * env_host_path() turns the first into the second.  Everything the user types
 * and everything written into a config file is a server path.
 */
#ifndef MH_ENV_H
#define MH_ENV_H

#include <stdbool.h>

#include "common.h"

struct version_override {
	char *name;    /* "postfix", "dovecot", "openssl" */
	char *version; /* "3.7" */
};

struct env {
	char *root;          /* "" for the live system, else absolute, no trailing '/' */
	bool lab;            /* --root given: no reload, no root privileges needed */
	char *state_dir;     /* host path of /var/lib/mailharden (under root) */
	char *templates_dir; /* --templates DIR, or NULL for the embedded ones */
	struct version_override *overrides;
	size_t n_overrides;
	bool verbose;
	/* Never fall back to the host's server tools (postconf, doveconf ...)
	 * when the root has none: for tests that must not depend on what the
	 * host has installed. */
	bool no_host_tools;
};

/* Sets up env for root ("" or NULL for the live system).  Fails when root
 * is not an existing directory or contains control characters. */
int env_init(struct env *env, const char *root, struct error *e);
void env_free(struct env *env);

/* Parses "postfix=3.7" and records it.  Fails on bad syntax. */
int env_add_override(struct env *env, const char *spec, struct error *e);
/* The overriding version for name, or NULL. */
const char *env_override(const struct env *env, const char *name);

/* ROOT + server_path (a new string). */
char *env_host_path(const struct env *env, const char *server_path);
/* Inverse of env_host_path: strips ROOT; returns a new string, or NULL when
 * host_path is not under ROOT. */
char *env_server_path(const struct env *env, const char *host_path);
/* True when the server path exists under root (lstat, no symlink follow). */
bool env_exists(const struct env *env, const char *server_path);

#endif
