/*
 * cert_find.c - certificates found on the host, each with its key.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <glob.h>
#include <sys/stat.h>

static bool host_file(const struct env *env, const char *server_path)
{
	char *p = env_host_path(env, server_path);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	return ok;
}

static bool looks_like_cert(const struct env *env, const char *server_path)
{
	char *p = env_host_path(env, server_path);
	char buf[256] = "";
	FILE *f = fopen(p, "r");

	free(p);
	if (f == NULL)
		return false;
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	return strstr(buf, "-----BEGIN CERTIFICATE-----") != NULL;
}

static void add_candidate(struct cert_candidate **v, size_t *n, const char *cert,
			  const char *key, const char *origin)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n] = (struct cert_candidate){xstrdup(cert), xstrdup(key), xstrdup(origin)};
	(*n)++;
}

static void letsencrypt(const struct env *env, struct cert_candidate **v, size_t *n)
{
	char *pat = env_host_path(env, "/etc/letsencrypt/live/*/fullchain.pem");
	glob_t g;

	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			char *cert = env_server_path(env, g.gl_pathv[i]);
			char *dir = xstrndup(cert, strlen(cert) - strlen("fullchain.pem"));
			char *key = xasprintf("%sprivkey.pem", dir);

			if (host_file(env, key))
				add_candidate(v, n, cert, key, "Let's Encrypt");
			free(key);
			free(dir);
			free(cert);
		}
		globfree(&g);
	}
	free(pat);
}

/* The key beside a certificate DIR/NAME.pem, by the usual spellings. */
static char *key_beside(const struct env *env, const char *cert)
{
	const char *slash = strrchr(cert, '/'), *dot = strrchr(cert, '.');
	char *dir = xstrndup(cert, (size_t)(slash - cert));
	char *name = xstrndup(slash + 1, (size_t)(dot > slash ? dot - slash - 1 : (long)strlen(slash + 1)));
	char *tries[] = {
		xasprintf("%s/%s.key", dir, name), xasprintf("%s/%s-key.pem", dir, name),
		xasprintf("%s/%s.key.pem", dir, name), xasprintf("%s/privkey.pem", dir),
		xasprintf("%s/key.pem", dir), xasprintf("/etc/ssl/private/%s.key", name),
		xasprintf("/etc/ssl/private/%s.pem", name),
	};
	char *found = NULL;

	for (size_t i = 0; i < ARRAY_LEN(tries); i++) {
		if (found == NULL && strcmp(tries[i], cert) != 0 && host_file(env, tries[i]))
			found = xstrdup(tries[i]);
		free(tries[i]);
	}
	free(dir);
	free(name);
	return found;
}

static bool cert_name(const char *name)
{
	size_t n = strlen(name);

	if (strcmp(name, "ca-certificates.crt") == 0)
		return false;
	return (n > 4 && strcmp(name + n - 4, ".pem") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".crt") == 0);
}

/* Regular files only: /etc/ssl/certs holds hundreds of CA symlinks. */
static void scan_ssl(const struct env *env, const char *dir, int depth,
		     struct cert_candidate **v, size_t *n)
{
	char *hdir = env_host_path(env, dir);
	DIR *d = opendir(hdir);
	struct dirent *de;

	free(hdir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		char *spath, *hpath, *key;
		struct stat st;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "private") == 0)
			continue;
		spath = path_join(dir, de->d_name);
		hpath = env_host_path(env, spath);
		if (lstat(hpath, &st) == 0 && S_ISDIR(st.st_mode) && depth < 3) {
			scan_ssl(env, spath, depth + 1, v, n);
		} else if (lstat(hpath, &st) == 0 && S_ISREG(st.st_mode) && cert_name(de->d_name) &&
			   looks_like_cert(env, spath) && (key = key_beside(env, spath)) != NULL) {
			add_candidate(v, n, spath, key, "/etc/ssl");
			free(key);
		}
		free(hpath);
		free(spath);
	}
	closedir(d);
}

static int candidate_cmp(const void *a, const void *b)
{
	const struct cert_candidate *x = a, *y = b;

	return strcmp(x->cert, y->cert);
}

size_t cert_candidates(const struct env *env, struct cert_candidate **out)
{
	struct cert_candidate *v = NULL;
	size_t n = 0, n_le;

	letsencrypt(env, &v, &n);
	n_le = n;
	scan_ssl(env, "/etc/ssl", 0, &v, &n);
	/* readdir order is the file system's: sort for the same screen each run */
	if (n > n_le)
		qsort(v + n_le, n - n_le, sizeof(*v), candidate_cmp);
	*out = v;
	return n;
}

void cert_candidates_free(struct cert_candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].cert);
		free(c[i].key);
		free(c[i].origin);
	}
	free(c);
}
