/*
 * backend.c - what every backend shares: plans, running the server's own
 * tools (chrooted in a lab root when possible), common value checks.
 */
#include "backend.h"

#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../core/diff.h"
#include "../core/spawn.h"

const char *layout_name(enum layout l)
{
	switch (l) {
	case LAYOUT_DEBIAN:
		return "debian";
	case LAYOUT_RHEL:
		return "rhel";
	case LAYOUT_FREEBSD:
		return "freebsd";
	case LAYOUT_UNKNOWN:
		break;
	}
	return "unknown";
}

void server_info_free(struct server_info *si)
{
	free(si->why);
	free(si->binary);
	free(si->version);
	free(si->version_source);
	free(si->openssl_version);
	free(si->config_dir);
	free(si->config_file);
	free(si->cert_file);
	free(si->key_file);
	free(si->sasl_socket);
	free(si->sasl_socket_owner);
	free(si->tls_library);
	free(si->config_scheme);
	memset(si, 0, sizeof(*si));
}

void plan_add_change(struct plan *p, const char *path, bool existed,
		     const char *old_text, size_t old_len,
		     const char *new_text, size_t new_len, mode_t mode)
{
	struct file_change *c;

	p->changes = xrealloc(p->changes, (p->n_changes + 1) * sizeof(*c));
	c = &p->changes[p->n_changes++];
	c->path = xstrdup(path);
	c->existed = existed;
	c->old_text = existed ? xstrndup(old_text, old_len) : xstrdup("");
	c->old_len = existed ? old_len : 0;
	c->new_text = xstrndup(new_text, new_len);
	c->new_len = new_len;
	c->mode = mode;
}

const char *sasl_kind_name(enum sasl_kind k)
{
	switch (k) {
	case SASL_DOVECOT:
		return "dovecot";
	case SASL_CYRUS:
		return "cyrus";
	case SASL_NONE:
		return "none";
	case SASL_PASSWD:
		return "passwd";
	case SASL_UNSET:
		break;
	}
	return "";
}

int sasl_kind_parse(const char *s, enum sasl_kind *k)
{
	static const enum sasl_kind all[] = {SASL_DOVECOT, SASL_CYRUS, SASL_NONE, SASL_PASSWD};

	for (size_t i = 0; i < ARRAY_LEN(all); i++) {
		if (strcmp(s, sasl_kind_name(all[i])) == 0) {
			*k = all[i];
			return 0;
		}
	}
	return -1;
}

struct expectation *expect_add(struct expect_list *l, const char *scope,
			       const char *scope_label, const char *name,
			       const char *want, unsigned roles)
{
	struct expectation *x;

	l->items = xrealloc(l->items, (l->n + 1) * sizeof(*x));
	x = &l->items[l->n++];
	memset(x, 0, sizeof(*x));
	x->scope = xstrdup(scope ? scope : "");
	x->scope_label = xstrdup(scope_label ? scope_label : x->scope);
	x->name = xstrdup(name);
	x->want = xstrdup(want);
	x->roles = roles;
	return x;
}

void expect_set(struct expectation *x, const char *got, const char *origin,
		enum expect_state state)
{
	free(x->got);
	free(x->origin);
	x->got = got ? xstrdup(got) : NULL;
	x->origin = origin ? xstrdup(origin) : NULL;
	x->state = state;
}

void expect_list_free(struct expect_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct expectation *x = &l->items[i];

		free(x->scope);
		free(x->scope_label);
		free(x->name);
		free(x->want);
		free(x->got);
		free(x->origin);
		free(x->scale);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n_changes; i++) {
		free(p->changes[i].path);
		free(p->changes[i].old_text);
		free(p->changes[i].new_text);
	}
	free(p->changes);
	sl_free(&p->notes);
	sl_free(&p->settings);
	sl_free(&p->conflicts);
	free(p->intent);
	expect_list_free(&p->expect);
	memset(p, 0, sizeof(*p));
}

static bool change_is_noop(const struct file_change *c)
{
	return c->existed && c->old_len == c->new_len &&
	       memcmp(c->old_text, c->new_text, c->new_len) == 0;
}

bool plan_is_empty(const struct plan *p)
{
	for (size_t i = 0; i < p->n_changes; i++)
		if (!change_is_noop(&p->changes[i]))
			return false;
	return true;
}

char *plan_diff(const struct plan *p)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < p->n_changes; i++) {
		const struct file_change *c = &p->changes[i];
		char *d;

		if (change_is_noop(c))
			continue;
		d = diff_unified(c->existed ? c->path : "/dev/null", c->old_text, c->old_len,
				 c->path, c->new_text, c->new_len, 3);
		sb_adds(&sb, d);
		free(d);
	}
	return sb_detach(&sb);
}

/*
 * A root we can chroot into: it has its own shell and C library, as a
 * debootstrap tree does.  A tree of unpacked .debs has neither; its tools
 * then run from the host with the tree's private libraries.
 */
static bool root_is_chrootable(const struct env *env)
{
	static const char *const probes[] = {"/bin/sh", "/usr/bin/sh"};

	if (env->root[0] == '\0' || geteuid() != 0)
		return false;
	for (size_t i = 0; i < ARRAY_LEN(probes); i++) {
		char *p = env_host_path(env, probes[i]);
		bool ok = access(p, X_OK) == 0;

		free(p);
		if (ok)
			return true;
	}
	return false;
}

static bool tool_in_root(const struct env *env, const char *server_path)
{
	char *p;
	bool ok;

	if (env->root[0] == '\0')
		return false;
	p = env_host_path(env, server_path);
	ok = access(p, X_OK) == 0;
	free(p);
	return ok;
}

bool server_find_binary(const struct env *env, struct server_info *si,
			const char *const candidates[])
{
	for (size_t i = 0; candidates[i]; i++) {
		if (tool_in_root(env, candidates[i])) {
			free(si->binary);
			si->binary = xstrdup(candidates[i]);
			si->binary_in_root = true;
			return true;
		}
	}
	for (size_t i = 0; !env->no_host_tools && candidates[i]; i++) {
		if (access(candidates[i], X_OK) == 0) {
			free(si->binary);
			si->binary = xstrdup(candidates[i]);
			si->binary_in_root = false;
			return true;
		}
	}
	return false;
}

char *server_tool_path(const struct env *env, const struct server_info *si,
		       const char *server_path)
{
	if (si->binary_in_root && root_is_chrootable(env))
		return xstrdup(server_path);
	return env_host_path(env, server_path);
}

bool server_sees_root(const struct env *env, const struct server_info *si)
{
	char *probe;
	bool chrooted;

	if (si->binary == NULL)
		return false;
	if (env->root[0] == '\0')
		return true;
	probe = server_tool_path(env, si, "/");
	chrooted = si->binary_in_root && strcmp(probe, "/") == 0;
	free(probe);
	return chrooted;
}

/* Library directories of a tree of unpacked packages, for running its
 * tools without chroot. */
static char *root_library_path(const struct env *env)
{
	static const char *const dirs[] = {
		"/usr/lib/postfix", "/usr/lib/dovecot", "/usr/lib/x86_64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
	};
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "LD_LIBRARY_PATH=");
	for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
		char *p = env_host_path(env, dirs[i]);

		if (i)
			sb_addc(&sb, ':');
		sb_adds(&sb, p);
		free(p);
	}
	return sb_detach(&sb);
}

int server_exec(const struct env *env, const struct server_info *si,
		const char *const argv[], struct spawn_result *res, struct error *e)
{
	return server_exec_input(env, si, argv, NULL, res, e);
}

int server_exec_input(const struct env *env, const struct server_info *si,
		      const char *const argv[], const char *input,
		      struct spawn_result *res, struct error *e)
{
	struct spawn_opts o = {0};
	const char **args;
	size_t n = 0;
	char *host_bin = NULL, *ldpath = NULL;
	const char *envp[5];
	int rc;

	(void)si;
	while (argv[n])
		n++;
	args = xcalloc(n + 1, sizeof(*args));
	memcpy(args, argv, n * sizeof(*args));
	if (tool_in_root(env, argv[0])) {
		if (root_is_chrootable(env)) {
			o.chroot_dir = env->root;
		} else {
			host_bin = env_host_path(env, argv[0]);
			args[0] = host_bin;
			ldpath = root_library_path(env);
			envp[0] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
			envp[1] = "LANG=C";
			envp[2] = "LC_ALL=C";
			envp[3] = ldpath;
			envp[4] = NULL;
			o.env = envp;
		}
	}
	o.timeout_ms = 30000;
	o.stdin_data = input;
	rc = spawn_run(args, &o, res, e);
	free(args);
	free(host_bin);
	free(ldpath);
	return rc;
}

/* Finds "OpenSSL 3.0.19 27 Jan 2026"-style text in a libcrypto image. */
static char *openssl_version_in(const char *data, size_t len)
{
	static const char needle[] = "OpenSSL ";
	const char *p = data, *end = data + len;

	while ((p = memmem(p, (size_t)(end - p), needle, sizeof(needle) - 1)) != NULL) {
		const char *v = p + sizeof(needle) - 1, *q = v;

		while (q < end && ((*q >= '0' && *q <= '9') || *q == '.' || (*q >= 'a' && *q <= 'z')))
			q++;
		/* a release string is "X.Y.Z" followed by " DD Mon YYYY" */
		if (q - v >= 5 && q < end && *q == ' ' && v[1] == '.' && q + 1 < end &&
		    q[1] >= '0' && q[1] <= '9')
			return xstrndup(v, (size_t)(q - v));
		p = v;
	}
	return NULL;
}

char *server_openssl_version(const struct env *env)
{
	static const char *const patterns[] = {
		"/usr/lib/*/libcrypto.so.3", "/lib/*/libcrypto.so.3", "/usr/lib64/libcrypto.so.3",
		"/usr/lib/libcrypto.so.*", "/lib/libcrypto.so.*", "/usr/local/lib/libcrypto.so.*",
		"/usr/lib/*/libcrypto.so.1.1", "/usr/lib64/libcrypto.so.1.1",
	};
	const char *o = env_override(env, "openssl");

	if (o)
		return xstrdup(o);
	for (size_t i = 0; i < ARRAY_LEN(patterns); i++) {
		char *pat = env_host_path(env, patterns[i]);
		glob_t g;
		char *found = NULL;

		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t j = 0; j < g.gl_pathc && found == NULL; j++) {
				char *data;
				size_t len;

				if (read_file(g.gl_pathv[j], &data, &len, NULL) == 0) {
					found = openssl_version_in(data, len);
					free(data);
				}
			}
			globfree(&g);
		}
		free(pat);
		if (found)
			return found;
	}
	return NULL;
}

static int check_readable_file(const struct env *env, const char *what,
			       const char *server_path, struct error *e)
{
	char *p;
	struct stat st;
	int rc = 0;

	if (!text_is_clean(server_path))
		return err_set(e, _("%s path contains a control character"), what);
	if (server_path[0] != '/')
		return err_set(e, _("%s path must be absolute: %s"), what, server_path);
	p = env_host_path(env, server_path);
	if (stat(p, &st) != 0)
		rc = err_sys(e, _("%s %s"), what, server_path);
	else if (!S_ISREG(st.st_mode))
		rc = err_set(e, _("%s %s is not a regular file"), what, server_path);
	else if (access(p, R_OK) != 0)
		rc = err_sys(e, _("%s %s is not readable"), what, server_path);
	free(p);
	return rc;
}

static void *read_pem(const struct env *env, const char *server_path, int kind)
{
	char *p = env_host_path(env, server_path);
	BIO *bio = BIO_new_file(p, "r");
	void *obj = NULL;

	free(p);
	if (bio == NULL)
		return NULL;
	if (kind == 0)
		obj = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	else if (kind == 1)
		obj = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	else
		obj = PEM_read_bio_Parameters(bio, NULL);
	BIO_free(bio);
	return obj;
}

static int check_cert_key(const struct env *env, const struct answers *a, struct error *e)
{
	X509 *cert;
	EVP_PKEY *key;
	int rc = 0;

	if ((a->cert_file == NULL) != (a->key_file == NULL))
		return err_set(e, _("--cert and --key go together"));
	if (a->cert_file == NULL)
		return 0;
	if (check_readable_file(env, _("certificate"), a->cert_file, e) < 0 ||
	    check_readable_file(env, _("key"), a->key_file, e) < 0)
		return -1;
	cert = read_pem(env, a->cert_file, 0);
	if (cert == NULL)
		return err_set(e, _("certificate %s is not a PEM certificate"), a->cert_file);
	key = read_pem(env, a->key_file, 1);
	if (key == NULL)
		rc = err_set(e, _("key %s is not an unencrypted PEM private key"), a->key_file);
	else if (X509_check_private_key(cert, key) != 1)
		rc = err_set(e, _("key %s does not match certificate %s"), a->key_file, a->cert_file);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

bool dh_group_name_valid(const char *name)
{
	static const char *const groups[] = {
		"ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192",
	};

	for (size_t i = 0; i < ARRAY_LEN(groups); i++)
		if (strcmp(name, groups[i]) == 0)
			return true;
	return false;
}

static int check_dh(const struct env *env, const char *dh_file, struct error *e)
{
	EVP_PKEY *dh;
	int rc = 0;

	if (dh_file == NULL)
		return 0;
	/* an RFC 7919 group by name, for servers that take one (Exim's tls_dhparam) */
	if (dh_file[0] != '/' && strncmp(dh_file, "ffdhe", 5) == 0) {
		if (dh_group_name_valid(dh_file))
			return 0;
		return err_set(e, _("unknown DH group '%s' (RFC 7919 groups: ffdhe2048, ffdhe3072, "
				    "ffdhe4096, ffdhe6144, ffdhe8192)"),
			       text_is_clean(dh_file) ? dh_file : "?");
	}
	if (check_readable_file(env, _("DH parameter file"), dh_file, e) < 0)
		return -1;
	dh = read_pem(env, dh_file, 2);
	if (dh == NULL || EVP_PKEY_get_base_id(dh) != EVP_PKEY_DH)
		rc = err_set(e, _("%s holds no PEM DH parameters"), dh_file);
	else if (EVP_PKEY_get_bits(dh) < 2048)
		rc = err_set(e, _("DH parameters in %s have %d bits; use at least 2048"),
			     dh_file, EVP_PKEY_get_bits(dh));
	EVP_PKEY_free(dh);
	return rc;
}

int answers_check(const struct env *env, const struct answers *a, struct error *e)
{
	if (a->profile == NULL)
		return err_set(e, _("no profile chosen"));
	if (a->profile->ciphers[0] && cipher_list_check(a->profile->ciphers, e) < 0)
		return -1;
	if (a->profile->ciphersuites[0] && ciphersuites_check(a->profile->ciphersuites, e) < 0)
		return -1;
	if (check_cert_key(env, a, e) < 0)
		return -1;
	return check_dh(env, a->dh_file, e);
}
