/*
 * env.c - the root mailharden works in, and version overrides.
 */
#include "env.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STATE_DIR "/var/lib/mailharden"

int env_init(struct env *env, const char *root, struct error *e)
{
	char resolved[PATH_MAX];
	struct stat st;

	memset(env, 0, sizeof(*env));
	if (root == NULL || *root == '\0' || strcmp(root, "/") == 0) {
		env->root = xstrdup("");
	} else {
		if (!text_is_clean(root))
			return err_set(e, _("--root contains a control character"));
		if (realpath(root, resolved) == NULL)
			return err_sys(e, _("cannot use --root %s"), root);
		if (stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode))
			return err_set(e, _("--root %s is not a directory"), root);
		env->root = strcmp(resolved, "/") == 0 ? xstrdup("") : xstrdup(resolved);
		env->lab = env->root[0] != '\0';
	}
	env->state_dir = env_host_path(env, STATE_DIR);
	return 0;
}

void env_free(struct env *env)
{
	free(env->root);
	free(env->state_dir);
	free(env->templates_dir);
	for (size_t i = 0; i < env->n_overrides; i++) {
		free(env->overrides[i].name);
		free(env->overrides[i].version);
	}
	free(env->overrides);
	memset(env, 0, sizeof(*env));
}

int env_add_override(struct env *env, const char *spec, struct error *e)
{
	const char *eq = strchr(spec, '=');
	struct version_override *o;

	if (!text_is_clean(spec))
		return err_set(e, _("bad --server-version: it contains a control character"));
	if (eq == NULL || eq == spec || eq[1] == '\0')
		return err_set(e, _("bad --server-version '%s': expected NAME=VERSION, e.g. postfix=3.7"), spec);
	if (eq[1] < '0' || eq[1] > '9')
		return err_set(e, _("bad --server-version '%s': the version must start with a digit"), spec);
	env->overrides = xrealloc(env->overrides, (env->n_overrides + 1) * sizeof(*o));
	o = &env->overrides[env->n_overrides++];
	o->name = xstrndup(spec, (size_t)(eq - spec));
	o->version = xstrdup(eq + 1);
	return 0;
}

const char *env_override(const struct env *env, const char *name)
{
	/* the last one given wins, as with any repeated option */
	for (size_t i = env->n_overrides; i-- > 0;)
		if (strcmp(env->overrides[i].name, name) == 0)
			return env->overrides[i].version;
	return NULL;
}

char *env_host_path(const struct env *env, const char *server_path)
{
	if (env->root[0] == '\0')
		return xstrdup(server_path);
	return path_join(env->root, server_path);
}

char *env_server_path(const struct env *env, const char *host_path)
{
	size_t n = strlen(env->root);

	if (n == 0)
		return xstrdup(host_path);
	if (strncmp(host_path, env->root, n) != 0)
		return NULL;
	if (host_path[n] == '\0')
		return xstrdup("/");
	if (host_path[n] != '/')
		return NULL;
	return xstrdup(host_path + n);
}

bool env_exists(const struct env *env, const char *server_path)
{
	char *p = env_host_path(env, server_path);
	struct stat st;
	bool ok = lstat(p, &st) == 0;

	free(p);
	return ok;
}
