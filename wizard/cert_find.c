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
#include <unistd.h>

#include "../core/cert.h"
#include "../core/fsutil.h"

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
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].cert = xstrdup(cert);
	(*v)[*n].key = xstrdup(key);
	(*v)[*n].origin = xstrdup(origin);
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

char *cert_key_beside(const struct env *env, const char *cert)
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
			   looks_like_cert(env, spath) && (key = cert_key_beside(env, spath)) != NULL) {
			add_candidate(v, n, spath, key, "/etc/ssl");
			free(key);
		}
		free(hpath);
		free(spath);
	}
	closedir(d);
}

char *wizard_mail_name(const struct env *env, const char *override)
{
	char *path = env_host_path(env, "/etc/mailname"), *data = NULL, buf[256] = "";
	size_t len;

	if (override)
		snprintf(buf, sizeof(buf), "%s", override);
	else if (fs_read(path, &data, &len, NULL) == 0)
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(data, " \t\r\n"), data);
	if (buf[0] == '\0' && gethostname(buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	free(data);
	free(path);
	return cert_hostname_valid(buf) ? xstrdup(buf) : NULL;
}

/* The issuer as people name it: its CN, else its O, else the whole DN. */
static char *issuer_name(const char *dn)
{
	const char *keys[] = {"CN=", "O="};

	for (size_t i = 0; dn && i < ARRAY_LEN(keys); i++) {
		const char *p = strstr(dn, keys[i]);

		while (p && p != dn && p[-1] != ',' && p[-1] != ' ')
			p = strstr(p + 1, keys[i]);
		if (p) {
			p += strlen(keys[i]);
			return xstrndup(p, strcspn(p, ","));
		}
	}
	return dn ? xstrdup(dn) : NULL;
}

static bool has_finding(const struct finding_list *l, const char *prefix, enum severity min)
{
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->v[i].id, prefix, strlen(prefix)) == 0 && l->v[i].sev >= min)
			return true;
	return false;
}

void cert_candidate_inspect(const struct env *env, const char *host, const char *cert,
			    const char *key, struct cert_candidate *c)
{
	struct cert_inspect_opts io = {.cert_shown = cert, .key_shown = key, .host = host};
	struct cert_report rep;
	struct strbuf names = STRBUF_INIT;
	struct error e = {{0}};

	if (c->cert == NULL) {
		c->cert = xstrdup(cert);
		c->key = key ? xstrdup(key) : NULL;
	}
	io.cert_path = env_host_path(env, cert);
	io.key_path = key ? env_host_path(env, key) : NULL;
	c->worst = SEV_CRITICAL;
	if (cert_inspect(&io, &rep, &e) == 0 && rep.n_certs > 0) {
		const struct cert_info *leaf = &rep.certs[0];

		for (size_t i = 0; i < leaf->dns_names.n; i++)
			sb_addf(&names, "%s%s", names.len ? ", " : "", leaf->dns_names.v[i]);
		if (names.len == 0 && leaf->common_name)
			sb_adds(&names, leaf->common_name);
		c->names = sb_detach(&names);
		c->issuer = issuer_name(leaf->issuer);
		c->not_after = leaf->not_after;
		c->self_signed = leaf->self_signed;
		c->expired = has_finding(&rep.findings, "cert.expired", SEV_LOW) ||
			     has_finding(&rep.findings, "cert.not_yet_valid", SEV_LOW);
		c->name_ok = host == NULL || !has_finding(&rep.findings, "cert.name.mismatch", SEV_LOW);
		c->chain_ok = !has_finding(&rep.findings, "cert.chain", SEV_MEDIUM) && !c->self_signed;
		c->worst = findings_worst(&rep.findings);
		cert_report_free(&rep);
	} else {
		sb_free(&names);
		c->names = xstrdup("");
	}
	free((char *)io.cert_path);
	free((char *)io.key_path);
}

/* The file as a short word: its name, or for Let's Encrypt's
 * live/NAME/fullchain.pem the NAME directory. */
static char *short_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (slash && slash > path && strcmp(base, "fullchain.pem") == 0) {
		const char *d = slash;

		while (d > path && d[-1] != '/')
			d--;
		return xasprintf("%.*s/%s", (int)(slash - d), d, base);
	}
	return xstrdup(base);
}

char *cert_candidate_label(const struct cert_candidate *c)
{
	char until[16] = "?", *file = short_name(c->cert), *label;
	const char *names = c->names && *c->names ? c->names : "?";
	struct tm tm;

	if (c->not_after && gmtime_r(&c->not_after, &tm))
		strftime(until, sizeof(until), "%Y-%m-%d", &tm);
	/* the file first: the end is what a narrow screen cuts */
	if (c->issuer == NULL)
		label = xasprintf(_("%s: unreadable"), file);
	else if (c->expired)
		label = xasprintf(_("%s: %s (EXPIRED %s, %s)"), file, names, until, c->issuer);
	else if (c->self_signed)
		label = xasprintf(_("%s: %s (self-signed, until %s)"), file, names, until);
	else
		label = xasprintf(_("%s: %s (%s, until %s)"), file, names, c->issuer, until);
	free(file);
	return label;
}

/* Best first: usable before self-signed/expired, the host's name, a
 * trusted chain, the furthest expiry; then the path, for a stable order. */
static int candidate_cmp(const void *a, const void *b)
{
	const struct cert_candidate *x = a, *y = b;
	int bx = x->self_signed || x->expired || x->issuer == NULL;
	int by = y->self_signed || y->expired || y->issuer == NULL;

	if (bx != by)
		return bx - by;
	if (x->name_ok != y->name_ok)
		return y->name_ok - x->name_ok;
	if (x->chain_ok != y->chain_ok)
		return y->chain_ok - x->chain_ok;
	if (x->not_after != y->not_after)
		return x->not_after > y->not_after ? -1 : 1;
	return strcmp(x->cert, y->cert);
}

size_t cert_candidates(const struct env *env, const char *host, struct cert_candidate **out)
{
	struct cert_candidate *v = NULL;
	size_t n = 0;

	letsencrypt(env, &v, &n);
	scan_ssl(env, "/etc/ssl", 0, &v, &n);
	for (size_t i = 0; i < n; i++)
		cert_candidate_inspect(env, host, v[i].cert, v[i].key, &v[i]);
	if (n > 1)
		qsort(v, n, sizeof(*v), candidate_cmp);
	*out = v;
	return n;
}

void cert_candidates_free_one(struct cert_candidate *c)
{
	free(c->cert);
	free(c->key);
	free(c->origin);
	free(c->names);
	free(c->issuer);
	memset(c, 0, sizeof(*c));
}

void cert_candidates_free(struct cert_candidate *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cert_candidates_free_one(&c[i]);
	free(c);
}
