/*
 * postfix.c - the Postfix backend.
 *
 * The hardened settings live in templates/postfix/main.cf.tmpl (main.cf
 * settings) and templates/postfix/master.cf.tmpl (the "-o" options of the
 * submission services).  They are merged into the existing files with the
 * line-preserving editors of postfix_cf.h, so a plan touches only the lines
 * it must and planning again after an apply changes nothing.
 */
#include "backend.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/opensslv.h>
#include <openssl/ssl.h>

#include "../core/spawn.h"
#include "../core/template.h"
#include "../core/txn.h"
#include "../core/version.h"
#include "postfix_cf.h"

/* Postfix 2.x is long out of support, and before 3.1 the default cipher
 * grade of opportunistic TLS was "export"; the templates assume 3.x. */
#define POSTFIX_MIN_VERSION "3.0"

extern const struct backend postfix_backend;

static const char *const postconf_paths[] = {
	"/usr/sbin/postconf", "/usr/local/sbin/postconf", NULL,
};
static const char *const config_dirs[] = {"/etc/postfix", "/usr/local/etc/postfix", NULL};

/* ------------------------------------------------------------------ */
/* Detect                                                              */
/* ------------------------------------------------------------------ */

/* Reads a server path under root; *text is NUL-terminated. */
static int read_server_file(const struct env *env, const char *path, char **text, size_t *len,
			    struct error *e)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int rc;

	/* a symlink may lead anywhere inside the config directory, as for
	 * writing; the file is named as the user knows it */
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	rc = txn_read(env, path, dir, text, len, e);
	free(dir);
	return rc;
}

static enum layout detect_layout(const struct env *env, const char *dir)
{
	if (strncmp(dir, "/usr/local/", 11) == 0)
		return LAYOUT_FREEBSD;
	if (env_exists(env, "/etc/debian_version"))
		return LAYOUT_DEBIAN;
	if (env_exists(env, "/etc/redhat-release") || env_exists(env, "/etc/fedora-release"))
		return LAYOUT_RHEL;
	return LAYOUT_UNKNOWN;
}

/* Trims trailing whitespace in place. */
static char *rtrim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static void detect_version(const struct env *env, struct server_info *si)
{
	const char *o = env_override(env, "postfix");
	struct spawn_result r = {0};
	struct error e;
	char *dir;

	if (o) {
		si->version = xstrdup(o);
		si->version_source = xstrdup(N_("--server-version"));
		return;
	}
	if (si->binary == NULL)
		return;
	dir = server_tool_path(env, si, si->config_dir);
	{
		const char *argv[] = {si->binary, "-c", dir, "-d", "-h", "mail_version", NULL};

		if (server_exec(env, si, argv, &r, &e) == 0 && r.exit_code == 0 &&
		    version_valid(rtrim(r.out))) {
			si->version = xstrdup(r.out);
			si->version_source = xstrdup(si->binary_in_root ? N_("binary") : N_("host binary"));
		}
	}
	spawn_result_free(&r);
	free(dir);
}

/* Parses main.cf and master.cf of si->config_dir. */
static int load_configs(const struct env *env, const char *dir, struct cf_file **main_cf,
			struct cf_file **master_cf, struct error *e)
{
	char *main_path = path_join(dir, "main.cf"), *master_path = path_join(dir, "master.cf");
	char *text = NULL;
	size_t len;
	int rc = -1;

	*main_cf = *master_cf = NULL;
	if (read_server_file(env, main_path, &text, &len, e) < 0 ||
	    maincf_parse(main_path, text, len, main_cf, e) < 0)
		goto out;
	free(text);
	text = NULL;
	if (read_server_file(env, master_path, &text, &len, e) < 0 ||
	    mastercf_parse(master_path, text, len, master_cf, e) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		cf_free(*main_cf);
		*main_cf = NULL;
	}
	free(text);
	free(main_path);
	free(master_path);
	return rc;
}

/* A service option, falling back to main.cf as Postfix does. */
static const char *effective(const struct cf_file *main_cf, const struct cf_file *master_cf,
			     size_t entry, const char *name)
{
	const char *v = mastercf_option(master_cf, entry, name);

	return v ? v : maincf_get(main_cf, name);
}

static bool is_yes(const char *v)
{
	return v && strcmp(v, "yes") == 0;
}

static unsigned role_of_port(int port)
{
	switch (port) {
	case 25:
		return ROLE_MX;
	case 587:
		return ROLE_SUBMISSION;
	case 465:
		return ROLE_SUBMISSIONS;
	default:
		return 0;
	}
}

static bool entry_requires_tls(const struct cf_file *main_cf, const struct cf_file *master_cf,
			       size_t i)
{
	const char *level = effective(main_cf, master_cf, i, "smtpd_tls_security_level");

	if (is_yes(effective(main_cf, master_cf, i, "smtpd_tls_wrappermode")))
		return true;
	if (level)
		return strcmp(level, "encrypt") == 0;
	return is_yes(effective(main_cf, master_cf, i, "smtpd_enforce_tls"));
}

static void detect_roles(struct server_info *si, const struct cf_file *main_cf,
			 const struct cf_file *master_cf)
{
	for (size_t i = 0; i < mastercf_count(master_cf); i++) {
		const char *cmd = mastercf_field(master_cf, i, MF_COMMAND);
		int port = service_port(mastercf_field(master_cf, i, MF_SERVICE));
		unsigned role = role_of_port(port);

		if (strcmp(mastercf_field(master_cf, i, MF_TYPE), "inet") != 0 || role == 0)
			continue;
		if (strcmp(cmd, "smtpd") != 0 && !(role == ROLE_MX && strcmp(cmd, "postscreen") == 0))
			continue;
		si->roles_served |= role;
		if (entry_requires_tls(main_cf, master_cf, i))
			si->roles_tls |= role;
	}
}

/* $name expanded once ("$queue_directory/private" and the like are rare
 * in these two settings: a value with a $ is left as written). */
static const char *main_value(const struct cf_file *main_cf, const char *name, const char *def)
{
	const char *v = maincf_get(main_cf, name);

	return v && *v ? v : def;
}

/* The certificate in use now: chain files (key first, then certs), else
 * the cert/key pair. */
static void detect_cert(struct server_info *si, const struct cf_file *main_cf)
{
	const char *chain = maincf_get(main_cf, "smtpd_tls_chain_files");

	if (chain && *chain) {
		char *copy = xstrdup(chain), *save = NULL;
		char *key = strtok_r(copy, ", \t", &save), *cert = strtok_r(NULL, ", \t", &save);

		if (key && cert && key[0] == '/' && cert[0] == '/') {
			si->key_file = xstrdup(key);
			si->cert_file = xstrdup(cert);
		}
		free(copy);
		return;
	}
	chain = maincf_get(main_cf, "smtpd_tls_cert_file");
	if (chain && chain[0] == '/') {
		const char *key = main_value(main_cf, "smtpd_tls_key_file", chain);

		si->cert_file = xstrdup(chain);
		si->key_file = xstrdup(key);
	}
}

/* Postfix takes AUTH from Dovecot through a socket in its queue
 * directory; the socket belongs to Postfix's mail_owner. */
static void detect_sasl(struct server_info *si, const struct cf_file *main_cf)
{
	const char *type = maincf_get(main_cf, "smtpd_sasl_type");
	const char *queue = main_value(main_cf, "queue_directory", "/var/spool/postfix");
	const char *owner = main_value(main_cf, "mail_owner", "postfix");

	if (type && strcmp(type, "dovecot") == 0)
		si->sasl_now = SASL_DOVECOT;
	else if (type && strcmp(type, "cyrus") == 0)
		si->sasl_now = SASL_CYRUS;
	else if (type == NULL && maincf_get(main_cf, "smtpd_sasl_path"))
		si->sasl_now = SASL_CYRUS; /* cyrus is Postfix's default type */
	if (queue[0] == '/' && !strchr(queue, '$') && text_is_clean(queue) && !strchr(owner, '$'))
		si->sasl_socket = path_join(queue, "private/auth");
	si->sasl_socket_owner = xstrdup(owner);
}

static void set_why(struct server_info *si, char *why)
{
	free(si->why);
	si->why = why;
	si->usable = false;
}

static const char *find_config_dir(const struct env *env)
{
	for (size_t i = 0; config_dirs[i]; i++) {
		char *p = path_join(config_dirs[i], "main.cf");
		bool ok = env_exists(env, p);

		free(p);
		if (ok)
			return config_dirs[i];
	}
	return NULL;
}

/* postconf -n on the live files: when Postfix itself refuses them, say it
 * with postconf's own line. */
static void detect_refusal(const struct env *env, struct server_info *si)
{
	char *dir;
	struct spawn_result r = {0};
	struct error e;
	char buf[512];

	if (si->binary == NULL)
		return;
	dir = server_tool_path(env, si, si->config_dir);
	{
		const char *argv[] = {si->binary, "-c", dir, "-n", NULL};

		if (server_exec(env, si, argv, &r, &e) == 0 && r.exit_code != 0) {
			si->refused = true;
			si->roles_tls = 0;
			/* our own reader's message, when it has one, names the
			 * file as the admin knows it */
			if (si->why == NULL)
				si->why = xstrdup(spawn_first_line(&r, buf, sizeof(buf)));
		}
	}
	spawn_result_free(&r);
	free(dir);
}

static int postfix_detect(const struct env *env, struct server_info *si)
{
	const char *dir = find_config_dir(env);
	struct cf_file *main_cf, *master_cf;
	struct error e;

	si->backend = &postfix_backend;
	server_find_binary(env, si, postconf_paths);
	if (dir == NULL) {
		si->found = false;
		si->usable = false;
		si->why = xasprintf(_("no main.cf in %s"),
				    env_exists(env, config_dirs[1]) ? config_dirs[1] : config_dirs[0]);
		return 0;
	}
	si->found = true;
	si->config_dir = xstrdup(dir);
	si->config_file = path_join(dir, "main.cf");
	si->layout = detect_layout(env, dir);
	si->openssl_version = server_openssl_version(env);
	si->usable = true;
	/* a broken file is the first thing to say: postconf fails on it too,
	 * and "cannot tell the version" would hide the real cause */
	if (load_configs(env, dir, &main_cf, &master_cf, &e) < 0) {
		set_why(si, xstrdup(e.msg));
		detect_refusal(env, si);
		return 0;
	}
	detect_version(env, si);
	if (si->version == NULL) {
		set_why(si, xstrdup(_("cannot tell the Postfix version (postconf did not run); "
				      "give it, e.g. --server-version postfix=3.7")));
	} else if (!version_ge(si->version, POSTFIX_MIN_VERSION)) {
		set_why(si, xasprintf(_("unsupported version: Postfix %s (%s or later needed)"),
				      si->version, POSTFIX_MIN_VERSION));
	}
	detect_roles(si, main_cf, master_cf);
	detect_cert(si, main_cf);
	detect_sasl(si, main_cf);
	cf_free(main_cf);
	cf_free(master_cf);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Plan                                                                */
/* ------------------------------------------------------------------ */

struct plan_ctx {
	const struct env *env;
	const struct server_info *si;
	const struct answers *a;
	struct plan *p;
	struct cf_file *main_cf, *master_cf;
	char *main_old, *master_old;
	size_t main_old_len, master_old_len;
	struct cf_file *wanted;  /* the rendered main.cf template: what we intend */
};

static bool ge(const struct plan_ctx *x, const char *v)
{
	return version_ge(x->si->version, v);
}

/*
 * Protocol list for Postfix: ">=TLSv1.2" from 3.6 on, else the exclusion
 * form "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1".
 */
static char *protocols_value(const struct plan_ctx *x, const char *min)
{
	static const char *const all[] = {"TLSv1", "TLSv1.1", "TLSv1.2"};
	const char *on[8];
	size_t n = protocols_from(min, on, ARRAY_LEN(on));
	struct strbuf sb = STRBUF_INIT;

	if (ge(x, "3.6"))
		return xasprintf(">=%s", min);
	sb_adds(&sb, "!SSLv2, !SSLv3");
	for (size_t i = 0; i < ARRAY_LEN(all); i++) {
		bool enabled = false;

		for (size_t j = 0; j < n; j++)
			enabled |= strcmp(on[j], all[i]) == 0;
		if (!enabled)
			sb_addf(&sb, ", !%s", all[i]);
	}
	return sb_detach(&sb);
}

/* "aNULL:eNULL:EXPORT" -> "aNULL, eNULL, EXPORT", Postfix's list style. */
static char *postfix_list(const char *colon_list)
{
	struct strbuf sb = STRBUF_INIT;

	for (const char *p = colon_list; *p; p++) {
		if (*p == ':')
			sb_adds(&sb, ", ");
		else
			sb_addc(&sb, *p);
	}
	return sb_detach(&sb);
}

static const char *high_cipherlist(const struct plan_ctx *x)
{
	const char *c = x->a->profile->ciphers;

	/* "@SECLEVEL=" is understood from OpenSSL 1.1.0 on */
	if (strncmp(c, "@SECLEVEL=", 10) == 0 && x->si->openssl_version &&
	    !version_ge(x->si->openssl_version, "1.1")) {
		const char *colon = strchr(c, ':');

		return colon ? colon + 1 : "";
	}
	return c;
}

static void set_main_vars(const struct plan_ctx *x, struct tvars *v)
{
	const struct answers *a = x->a;
	char *s;

	tvars_set(v, "tls_ssl_options",
		  ge(x, "3.4") ? "NO_COMPRESSION, NO_RENEGOTIATION" : "NO_COMPRESSION");
	s = postfix_list(MX_EXCLUDE_CIPHERS);
	tvars_set(v, "exclude_ciphers", s);
	free(s);
	if (a->cert_file && ge(x, "3.4")) {
		tvars_setf(v, "chain_files", "%s, %s", a->key_file, a->cert_file);
	} else if (a->cert_file) {
		tvars_set(v, "cert_file", a->cert_file);
		tvars_set(v, "key_file", a->key_file);
	}
	if (a->roles & ROLE_MX) {
		tvars_setb(v, "mx", true);
		s = protocols_value(x, MX_MIN_PROTOCOL);
		tvars_set(v, "mx_protocols", s);
		free(s);
	}
}

static void set_mandatory_vars(const struct plan_ctx *x, struct tvars *v)
{
	const struct profile *pr = x->a->profile;
	char *s;

	if (!(x->a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS)))
		return;
	tvars_setb(v, "mandatory", true);
	s = protocols_value(x, pr->min_protocol);
	tvars_set(v, "mandatory_protocols", s);
	free(s);
	tvars_set(v, "high_cipherlist", high_cipherlist(x));
	tvars_set(v, "preempt", pr->server_order ? "yes" : "no");
	if (ge(x, "3.2")) {
		s = profile_curves(pr, x->si->openssl_version, " ");
		tvars_set(v, "curves", s);
		free(s);
	}
	if (ge(x, "3.8") && pr->dh_bits > 0)
		tvars_set(v, "ffdhe_groups", "ffdhe2048 ffdhe3072");
	if (!ge(x, "3.8") && x->a->dh_file)
		tvars_set(v, "dh_file", x->a->dh_file);
	if (x->a->sasl == SASL_DOVECOT)
		tvars_setb(v, "sasl_dovecot", true);
	else if (x->a->sasl == SASL_CYRUS)
		tvars_setb(v, "sasl_cyrus", true);
}

/* Renders a template of "name = value" lines (master.cf.tmpl's
 * "name=value" lines read the same) and parses it as main.cf. */
static int render(const struct plan_ctx *x, const char *name, const struct tvars *v,
		  struct cf_file **out, struct error *e)
{
	char *text;
	int rc;

	if (template_render(x->env->templates_dir, name, v, &text, e) < 0)
		return -1;
	rc = maincf_parse(name, text, strlen(text), out, e);
	free(text);
	return rc;
}

/* Names that the settings we write make obsolete or override. */
static void comment_out_superseded(struct plan_ctx *x, const struct cf_file *wanted)
{
	static const struct {
		const char *if_set;
		const char *obsolete;
		const char *from_version;
	} rules[] = {
		{"smtpd_tls_chain_files", "smtpd_tls_cert_file", "0"},
		{"smtpd_tls_chain_files", "smtpd_tls_key_file", "0"},
		{"smtpd_tls_security_level", "smtpd_use_tls", "0"},
		{"smtpd_tls_security_level", "smtpd_enforce_tls", "0"},
		{"smtp_tls_security_level", "smtp_use_tls", "0"},
		{"smtp_tls_security_level", "smtp_enforce_tls", "0"},
		/* a grade other than "auto" would use one fixed curve */
		{"tls_eecdh_auto_curves", "smtpd_tls_eecdh_grade", "0"},
		/* 3.8+ negotiates RFC 7919 groups itself; 3.10 deprecates the files */
		{"smtpd_tls_mandatory_protocols", "smtpd_tls_dh1024_param_file", "3.8"},
		{"smtpd_tls_mandatory_protocols", "smtpd_tls_dh512_param_file", "3.8"},
	};

	for (size_t i = 0; i < ARRAY_LEN(rules); i++)
		if (maincf_get(wanted, rules[i].if_set) && ge(x, rules[i].from_version))
			maincf_comment_out(x->main_cf, rules[i].obsolete);
}

/* Settings that are lists of flags or exclusions: a user's extra entries
 * (NO_TICKET, RC4, ...) are kept and ours are added. */
static bool is_merged_list(const char *name)
{
	return strcmp(name, "tls_ssl_options") == 0 || strcmp(name, "smtpd_tls_exclude_ciphers") == 0;
}

static bool list_has(const char *list, const char *item)
{
	char *copy = xstrdup(list), *save = NULL;
	bool found = false;

	for (char *t = strtok_r(copy, ", :\t", &save); t && !found; t = strtok_r(NULL, ", :\t", &save))
		found = strcasecmp(t, item) == 0;
	free(copy);
	return found;
}

/* The current list plus the wanted items it lacks; the current text
 * unchanged when nothing lacks. */
static char *merged_list(const char *current, const char *wanted)
{
	struct strbuf sb = STRBUF_INIT;
	char *copy = xstrdup(wanted), *save = NULL;

	sb_adds(&sb, current);
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		if (!list_has(current, t))
			sb_addf(&sb, "%s%s", sb.len ? ", " : "", t);
	free(copy);
	return sb_detach(&sb);
}

/* Outgoing TLS levels stronger than "may" (DANE, verified): never lowered. */
static bool stronger_client_level(const char *v)
{
	static const char *const levels[] = {
		"encrypt", "dane", "dane-only", "fingerprint", "verify", "secure",
	};

	for (size_t i = 0; v && i < ARRAY_LEN(levels); i++)
		if (strcmp(v, levels[i]) == 0)
			return true;
	return false;
}

/*
 * Postfix uses the last of several settings of a name.  The plan sets the
 * last one; the earlier ones are commented out under a marker saying why,
 * and each is named as a conflict (the admin may have edited the wrong one).
 */
static void mark_duplicates(struct plan_ctx *x, const char *name, const char *value)
{
	size_t lines[32], n = maincf_lines(x->main_cf, name, lines, ARRAY_LEN(lines));
	size_t last = maincf_line(x->main_cf, name);
	char *marker, *path;

	if (n < 2)
		return;
	path = path_join(x->si->config_dir, "main.cf");
	for (size_t i = 0; i + 1 < n && i < ARRAY_LEN(lines); i++)
		sl_add_owned(&x->p->conflicts,
			     xasprintf(_("%s:%zu: %s is set again at line %zu, and Postfix uses the last "
					 "one; the plan comments out the earlier one and sets %s = %s "
					 "there"), path, lines[i], name, last, name, value));
	marker = xasprintf("mailharden: the next setting is disabled: %s is set again below, and "
			   "Postfix uses the last one", name);
	maincf_comment_earlier(x->main_cf, name, marker);
	free(marker);
	free(path);
}

static void set_main(struct plan_ctx *x, const char *name, const char *wanted)
{
	const char *current = maincf_get(x->main_cf, name);
	char *value;

	if (strcmp(name, "smtp_tls_security_level") == 0 && stronger_client_level(current)) {
		sl_add_owned(&x->p->notes, xasprintf(_("Kept smtp_tls_security_level = %s: it is "
						       "stricter than opportunistic TLS."), current));
		return;
	}
	if (is_merged_list(name) && current && *current)
		value = merged_list(current, wanted);
	else
		value = xstrdup(wanted);
	mark_duplicates(x, name, value);
	maincf_set(x->main_cf, name, value);
	sl_add_owned(&x->p->settings, xasprintf("%s = %s", name, value));
	free(value);
}

static int plan_main(struct plan_ctx *x, struct error *e)
{
	struct tvars *v = tvars_new();
	struct cf_file *wanted = NULL;
	struct strlist names = STRLIST_INIT;
	int rc;

	set_main_vars(x, v);
	set_mandatory_vars(x, v);
	rc = render(x, "postfix/main.cf.tmpl", v, &wanted, e);
	tvars_free(v);
	if (rc < 0)
		return -1;
	maincf_names(wanted, &names);
	for (size_t i = 0; i < names.n; i++)
		set_main(x, names.v[i], maincf_get(wanted, names.v[i]));
	comment_out_superseded(x, wanted);
	sl_free(&names);
	x->wanted = wanted;
	return 0;
}

/* chroot column for entries we add: as the existing port 25 service has it. */
static const char *chroot_column(const struct plan_ctx *x)
{
	int i = mastercf_find_port(x->master_cf, 0, 25, "smtpd");

	if (i < 0)
		i = mastercf_find_port(x->master_cf, 0, 25, "postscreen");
	if (i >= 0)
		return mastercf_field(x->master_cf, (size_t)i, MF_CHROOT);
	/* Debian's packaged master.cf chroots smtpd, upstream's does not */
	return x->si->layout == LAYOUT_DEBIAN ? "y" : "n";
}

/* Packaged blocks reference $mua_* restrictions that main.cf may not define:
 * leave those lines commented. */
static bool keep_undefined_mua(const char *name, void *ctx)
{
	const struct cf_file *main_cf = ctx;

	return strncmp(name, "mua_", 4) == 0 && maincf_get(main_cf, name) == NULL;
}

/* Uncomments or adds the inet smtpd entry for port when no active one
 * exists.  A port run by another program is not ours to change. */
static int ensure_entry(struct plan_ctx *x, int port, const char *service, struct error *e)
{
	char *chroot;
	int i = mastercf_find_port(x->master_cf, 0, port, "smtpd");
	int line;

	if (i >= 0)
		return i;
	i = mastercf_find_port(x->master_cf, 0, port, NULL);
	if (i >= 0)
		return err_set(e, _("%s/master.cf: port %d runs %s, not smtpd; change it by hand"),
			       x->si->config_dir, port,
			       mastercf_field(x->master_cf, (size_t)i, MF_COMMAND));
	chroot = xstrdup(chroot_column(x));
	line = mastercf_find_commented(x->master_cf, port, "smtpd");
	if (line >= 0) {
		i = mastercf_uncomment(x->master_cf, (size_t)line, keep_undefined_mua, x->main_cf);
	} else {
		const char *fields[MF_COUNT] = {service, "inet", "n", "-", chroot, "-", "-", "smtpd"};

		i = mastercf_add(x->master_cf, fields);
	}
	mastercf_set_field(x->master_cf, (size_t)i, MF_CHROOT, chroot);
	free(chroot);
	return i;
}

static int plan_mx(struct plan_ctx *x, struct error *e)
{
	if (mastercf_find_port(x->master_cf, 0, 25, "postscreen") >= 0) {
		sl_add_owned(&x->p->notes, xstrdup(_("Port 25 runs postscreen; its master.cf "
						     "entries are left as they are.")));
		return 0;
	}
	return ensure_entry(x, 25, "smtp", e) < 0 ? -1 : 0;
}

/* "-o name=value" holds no spaces or braces: those would need Postfix's
 * "{ }" quoting, which a template has no reason to use. */
static int option_check(const char *name, const char *value, struct error *e)
{
	if (strpbrk(name, " {}=") != NULL || strpbrk(value, " \t{}") != NULL)
		return err_set(e, _("postfix/master.cf.tmpl: '%s=%s' cannot be a master.cf option"),
			       name, value);
	return 0;
}

static int set_options(struct plan_ctx *x, size_t entry, const struct cf_file *opts,
		       struct error *e)
{
	char *svc = xstrdup(mastercf_field(x->master_cf, entry, MF_SERVICE));
	struct strlist names = STRLIST_INIT;
	int rc = 0;

	maincf_names(opts, &names);
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		const char *value = maincf_get(opts, names.v[i]);

		rc = option_check(names.v[i], value, e);
		if (rc == 0) {
			sl_add_owned(&x->p->settings,
				     xasprintf("%s/inet/%s = %s", svc, names.v[i], value));
			mastercf_set_option(x->master_cf, entry, names.v[i], value);
		}
	}
	sl_free(&names);
	free(svc);
	return rc;
}

/* Every smtpd entry on the port (one per listen address, say) gets the
 * options. */
static int plan_submission(struct plan_ctx *x, enum role role, struct error *e)
{
	bool implicit = role == ROLE_SUBMISSIONS;
	const char *service = implicit ? (ge(x, "3.5") ? "submissions" : "smtps") : "submission";
	int port = implicit ? 465 : 587;
	struct tvars *v = tvars_new();
	struct cf_file *opts = NULL;
	int rc;

	tvars_set(v, "syslog_name", implicit ? "postfix/submissions" : "postfix/submission");
	tvars_setb(v, "wrappermode", implicit);
	rc = render(x, "postfix/master.cf.tmpl", v, &opts, e);
	tvars_free(v);
	if (rc < 0 || ensure_entry(x, port, service, e) < 0) {
		cf_free(opts);
		return -1;
	}
	rc = 0;
	for (int i = 0; rc == 0 && (i = mastercf_find_port(x->master_cf, (size_t)i, port, "smtpd")) >= 0; i++)
		rc = set_options(x, (size_t)i, opts, e);
	cf_free(opts);
	return rc;
}

/* What the admin must know about AUTH on submission, by the SASL answer. */
static void add_sasl_note(struct plan_ctx *x)
{
	struct strlist *n = &x->p->notes;

	switch (x->a->sasl) {
	case SASL_DOVECOT:
		sl_add_owned(n, xasprintf(_("Mail clients log in on submission through Dovecot's auth "
					    "socket %s (smtpd_sasl_type = dovecot, smtpd_sasl_path = "
					    "private/auth); Dovecot must serve that socket: mailharden "
					    "writes it into Dovecot's drop-in when Dovecot is hardened "
					    "in the same run."),
					  x->si->sasl_socket ? x->si->sasl_socket
							     : "/var/spool/postfix/private/auth"));
		break;
	case SASL_CYRUS:
		sl_add_owned(n, xstrdup(_("Mail clients log in on submission through Cyrus SASL "
					  "(smtpd_sasl_type = cyrus, sasl/smtpd.conf: saslauthd). "
					  "saslauthd must run, and on Debian, where smtpd runs chrooted, "
					  "its socket must be in /var/spool/postfix/var/run/saslauthd "
					  "(OPTIONS=\"-m /var/spool/postfix/var/run/saslauthd\" in "
					  "/etc/default/saslauthd) and postfix must be in the sasl group.")));
		break;
	case SASL_NONE:
		sl_add_owned(n, xstrdup(_("No SASL chosen: submission (587/465) is configured but "
					  "CANNOT AUTHENTICATE anyone, so no mail client can send through "
					  "it. Choose Dovecot or Cyrus SASL to let clients log in.")));
		break;
	case SASL_PASSWD: /* refused in check_answers */
		break;
	case SASL_UNSET:
		if (maincf_get(x->main_cf, "smtpd_sasl_type") == NULL &&
		    maincf_get(x->main_cf, "smtpd_sasl_path") == NULL)
			sl_add_owned(n, xstrdup(_("AUTH on submission needs SASL: set smtpd_sasl_type "
						  "and smtpd_sasl_path in main.cf (e.g. dovecot and "
						  "private/auth for Dovecot's auth socket), or no client "
						  "can log in.")));
		break;
	}
}

static void add_notes(struct plan_ctx *x)
{
	const struct answers *a = x->a;
	unsigned untouched = x->si->roles_served & ~a->roles;

	if (untouched) {
		char *r = roles_format(untouched);

		sl_add_owned(&x->p->notes,
			     xasprintf(_("Served but not chosen, left unchanged: %s."), r));
		free(r);
	}
	if (a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS))
		add_sasl_note(x);
	if (a->dh_file && ge(x, "3.8") && (a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS)))
		sl_add_owned(&x->p->notes,
			     xasprintf(_("Postfix %s uses the RFC 7919 groups (tls_ffdhe_auto_groups); "
					 "the DH file %s is not used."), x->si->version, a->dh_file));
}

/* Values that end up in comma/space separated Postfix lists. */
static int check_path(const char *what, const char *path, struct error *e)
{
	if (path == NULL)
		return 0;
	if (!text_is_clean(path))
		return err_set(e, _("%s path contains a control character"), what);
	if (path[0] != '/')
		return err_set(e, _("%s path must be absolute: %s"), what, path);
	if (strpbrk(path, " ,") != NULL)
		return err_set(e, _("%s path %s contains a space or comma, which Postfix reads "
				    "as a list separator"), what, path);
	return 0;
}

static int check_answers(const struct server_info *si, const struct answers *a, struct error *e)
{
	unsigned bad = a->roles & ~(unsigned)ROLES_SMTP;

	if (!si->usable)
		return err_set(e, _("Postfix cannot be configured: %s"), si->why ? si->why : "?");
	if (a->sasl == SASL_PASSWD)
		return err_set(e, _("Postfix has no password file of its own: --sasl passwd is for "
				    "Exim; use dovecot or cyrus"));
	if (bad) {
		char *r = roles_format(bad);

		err_set(e, _("postfix cannot serve role %s"), r);
		free(r);
		return -1;
	}
	if (a->roles == 0)
		return err_set(e, _("no role chosen for postfix"));
	if (a->profile == NULL)
		return err_set(e, _("no profile chosen"));
	if ((a->cert_file == NULL) != (a->key_file == NULL))
		return err_set(e, _("--cert and --key go together"));
	if (strcmp(a->profile->min_protocol, "TLSv1.3") == 0 &&
	    (a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS)) && !version_ge(si->version, "3.3.2"))
		return err_set(e, _("Postfix %s cannot do TLS 1.3 (3.3.2 or later needed); choose "
				    "another profile"), si->version);
	if (check_path(_("certificate"), a->cert_file, e) < 0 ||
	    check_path(_("key"), a->key_file, e) < 0 ||
	    check_path(_("DH parameter file"), a->dh_file, e) < 0)
		return -1;
	return 0;
}

static void add_change(struct plan_ctx *x, const struct cf_file *f, const char *name,
		       const char *old, size_t old_len)
{
	size_t len;
	char *text = cf_text(f, &len);
	char *path = path_join(x->si->config_dir, name);

	if (len != old_len || memcmp(text, old, len) != 0)
		plan_add_change(x->p, path, true, old, old_len, text, len, 0644);
	free(path);
	free(text);
}

/* ------------------------------------------------------------------ */
/* What the server must end up with                                    */
/* ------------------------------------------------------------------ */

/*
 * The settings whose effective value is checked, how a value is judged,
 * and which roles a service's value matters for (0: main.cf only).  A
 * smtpd service with security level "may" uses smtpd_tls_protocols and
 * smtpd_tls_ciphers; one with "encrypt" (or wrappermode) the mandatory_*
 * ones.
 */
#define SUBMIT (ROLE_SUBMISSION | ROLE_SUBMISSIONS)
static const struct pf_rule {
	const char *name;
	enum expect_cmp cmp;
	const char *scale;
	unsigned roles;
} pf_rules[] = {
	{"smtpd_tls_security_level", EXPECT_CMP_RANK, "none,may,encrypt", ROLES_SMTP},
	{"smtpd_tls_wrappermode", EXPECT_CMP_EXACT, NULL, ROLE_SUBMISSIONS},
	{"smtpd_tls_auth_only", EXPECT_CMP_EXACT, NULL, SUBMIT},
	{"smtpd_tls_protocols", EXPECT_CMP_PROTOCOLS, NULL, ROLE_MX},
	{"smtpd_tls_mandatory_protocols", EXPECT_CMP_PROTOCOLS, NULL, SUBMIT},
	{"smtpd_tls_mandatory_ciphers", EXPECT_CMP_RANK, "null,export,low,medium,high", SUBMIT},
	{"tls_high_cipherlist", EXPECT_CMP_CIPHERS, NULL, SUBMIT},
	{"smtpd_tls_exclude_ciphers", EXPECT_CMP_CONTAINS, NULL, ROLES_SMTP},
	{"tls_preempt_cipherlist", EXPECT_CMP_EXACT, NULL, SUBMIT},
	{"tls_ssl_options", EXPECT_CMP_CONTAINS, NULL, 0},
	{"smtpd_tls_chain_files", EXPECT_CMP_EXACT, NULL, ROLES_SMTP},
	{"smtpd_tls_cert_file", EXPECT_CMP_EXACT, NULL, ROLES_SMTP},
	{"smtpd_tls_key_file", EXPECT_CMP_EXACT, NULL, ROLES_SMTP},
	{"smtpd_tls_dh1024_param_file", EXPECT_CMP_EXACT, NULL, SUBMIT},
	{"smtp_tls_security_level", EXPECT_CMP_RANK,
	 "none,may,encrypt,dane,dane-only,fingerprint,verify,secure", 0},
	{"smtp_tls_protocols", EXPECT_CMP_PROTOCOLS, NULL, 0},
};

static const struct pf_rule *pf_rule(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(pf_rules); i++)
		if (strcmp(pf_rules[i].name, name) == 0)
			return &pf_rules[i];
	return NULL;
}

static void expect_one(struct plan_ctx *x, const char *scope, const char *label,
		       const struct pf_rule *r, const char *want, unsigned roles)
{
	struct expectation *ex = expect_add(&x->p->expect, scope, label, r->name, want, roles);

	expect_set_cmp(ex, r->cmp, r->scale);
}

/*
 * The role a smtpd service serves: by its port, else (a custom port) by
 * what its own options make it: implicit TLS, mandatory TLS, or an
 * opportunistic listener like port 25.
 */
static unsigned service_role(const struct cf_file *master_cf, size_t i)
{
	int port = service_port(mastercf_field(master_cf, i, MF_SERVICE));
	const char *level = mastercf_option(master_cf, i, "smtpd_tls_security_level");

	if (role_of_port(port))
		return role_of_port(port);
	if (is_yes(mastercf_option(master_cf, i, "smtpd_tls_wrappermode")))
		return ROLE_SUBMISSIONS;
	if (level && strcmp(level, "encrypt") == 0)
		return ROLE_SUBMISSION;
	return ROLE_MX;
}

/* What mailharden intends for name on a service of role: the master.cf
 * template's option for submission services, else the main.cf value. */
static const char *intended(const struct plan_ctx *x, const struct cf_file *opts, const char *name)
{
	const char *v = opts ? maincf_get(opts, name) : NULL;

	return v ? v : maincf_get(x->wanted, name);
}

/* "$name" / "${name}" as the planned main.cf has it (one level); else v. */
static const char *expand_ref(const struct plan_ctx *x, const char *v, char **buf)
{
	size_t n = strlen(v);

	*buf = NULL;
	if (n > 1 && v[0] == '$' && v[1] != '{' && strspn(v + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") == n - 1)
		*buf = xstrdup(v + 1);
	else if (n > 3 && strncmp(v, "${", 2) == 0 && v[n - 1] == '}')
		*buf = xstrndup(v + 2, n - 3);
	if (*buf == NULL)
		return v;
	v = maincf_get(x->main_cf, *buf);
	return v ? v : "";
}

static enum expect_state judge_value(const struct pf_rule *r, const char *want, const char *got)
{
	struct expectation t;

	memset(&t, 0, sizeof(t));
	t.want = (char *)want;
	t.cmp = r->cmp;
	t.scale = (char *)r->scale;
	return expect_judge(&t, got);
}

/*
 * A "-o" of the admin's on a service of a chosen role that is weaker than
 * intended would win over main.cf: it is commented out under a marker when
 * main.cf's planned value then holds, else replaced by the intended value.
 * Named as a conflict with its line in master.cf as it is now.
 */
static void resolve_option(struct plan_ctx *x, size_t i, const struct pf_rule *r,
			   const char *want, const struct cf_file *orig)
{
	/* copies: the edits below reparse the entry */
	char *svc = xstrdup(mastercf_field(x->master_cf, i, MF_SERVICE));
	char *type = xstrdup(mastercf_field(x->master_cf, i, MF_TYPE));
	const char *cur = mastercf_option(x->master_cf, i, r->name);
	const char *main_v = maincf_get(x->main_cf, r->name);
	char *ref = NULL, *value, *path, *marker;
	int o = orig ? mastercf_find_service(orig, svc, type) : -1;
	size_t line;
	bool inherit;

	if (cur == NULL || judge_value(r, want, expand_ref(x, cur, &ref)) != EXPECT_WEAKER) {
		free(ref);
		free(svc);
		free(type);
		return;
	}
	free(ref);
	value = xstrdup(cur);
	line = o >= 0 ? mastercf_option_line(orig, (size_t)o, r->name) : 0;
	inherit = main_v && judge_value(r, want, main_v) == EXPECT_HOLDS;
	path = path_join(x->si->config_dir, "master.cf");
	marker = xasprintf("mailharden: the next option is disabled: it is weaker than profile %s "
			   "(%s = %s)", x->a->profile->name, r->name, want);
	mastercf_comment_option(x->master_cf, i, r->name, marker);
	if (!inherit)
		mastercf_set_option(x->master_cf, i, r->name, want);
	sl_add_owned(&x->p->conflicts,
		     xasprintf(_("%s:%zu: -o %s=%s on service %s/%s would win over mailharden's %s; "
				 "the plan comments it out%s"), path, line, r->name, value, svc, type,
			       want, inherit ? _(" (main.cf's value applies)") : _(" and sets the intended value")));
	free(marker);
	free(path);
	free(value);
	free(svc);
	free(type);
}

static int expect_service(struct plan_ctx *x, size_t i, unsigned role,
			  const struct cf_file *orig, struct error *e)
{
	const char *svc = mastercf_field(x->master_cf, i, MF_SERVICE);
	const char *type = mastercf_field(x->master_cf, i, MF_TYPE);
	struct cf_file *opts = NULL;
	char *scope, *label;

	if (role & SUBMIT) {
		struct tvars *v = tvars_new();
		int rc;

		tvars_set(v, "syslog_name", "postfix/submission");
		tvars_setb(v, "wrappermode", role == ROLE_SUBMISSIONS);
		rc = render(x, "postfix/master.cf.tmpl", v, &opts, e);
		tvars_free(v);
		if (rc < 0)
			return -1;
	}
	scope = xasprintf("master.cf:%s/%s", svc, type);
	if (strcmp(svc, role_info(role)->name) == 0 || strcmp(type, "inet") != 0)
		label = xasprintf(_("master.cf service %s/%s"), svc, type);
	else
		label = xasprintf(_("master.cf service %s/%s (%s)"), svc, type, role_info(role)->name);
	for (size_t k = 0; k < ARRAY_LEN(pf_rules); k++) {
		const char *want = intended(x, opts, pf_rules[k].name);

		if (!(pf_rules[k].roles & role) || want == NULL)
			continue;
		resolve_option(x, i, &pf_rules[k], want, orig);
		expect_one(x, scope, label, &pf_rules[k], want, role);
	}
	free(label);
	free(scope);
	cf_free(opts);
	return 0;
}

/* Every main.cf setting we write, then every smtpd service of a chosen
 * role, standard or custom port, as the planned master.cf has them. */
static int plan_expect(struct plan_ctx *x, struct error *e)
{
	struct strlist names = STRLIST_INIT;
	struct cf_file *orig = NULL;
	struct error ignored;
	int rc = 0;

	maincf_names(x->wanted, &names);
	for (size_t i = 0; i < names.n; i++) {
		const struct pf_rule *r = pf_rule(names.v[i]);
		const char *now = maincf_get(x->main_cf, names.v[i]);

		/* a stricter client level the admin set is kept, and expected */
		if (r)
			expect_one(x, "", "main.cf", r,
				   strcmp(r->name, "smtp_tls_security_level") == 0 && now ? now
				   : maincf_get(x->wanted, names.v[i]), x->a->roles);
	}
	sl_free(&names);
	/* for the line numbers of the file as the admin has it now */
	if (mastercf_parse("master.cf", x->master_old, x->master_old_len, &orig, &ignored) < 0)
		orig = NULL;
	for (size_t i = 0; rc == 0 && i < mastercf_count(x->master_cf); i++) {
		const char *cmd = mastercf_field(x->master_cf, i, MF_COMMAND);
		const char *type = mastercf_field(x->master_cf, i, MF_TYPE);
		unsigned role;

		if (strcmp(cmd, "smtpd") != 0)
			continue;
		/* behind postscreen, port 25's smtpd is the "pass" service */
		if (strcmp(type, "pass") == 0)
			role = ROLE_MX;
		else if (strcmp(type, "inet") == 0)
			role = service_role(x->master_cf, i);
		else
			continue;
		if (role & x->a->roles)
			rc = expect_service(x, i, role, orig, e);
	}
	cf_free(orig);
	return rc;
}

/* Cyrus SASL for smtpd reads sasl/smtpd.conf below the config directory:
 * created for saslauthd when there is none; an admin's file is kept. */
static void plan_cyrus_conf(struct plan_ctx *x)
{
	static const char conf[] =
		"# Written by mailharden: Postfix smtpd checks passwords with saslauthd\n"
		"# (smtpd_sasl_type = cyrus, smtpd_sasl_path = smtpd).\n"
		"pwcheck_method: saslauthd\n"
		"mech_list: PLAIN LOGIN\n";
	char *dir = path_join(x->si->config_dir, "sasl");
	char *path = path_join(dir, "smtpd.conf");

	if (env_exists(x->env, path))
		sl_add_owned(&x->p->notes, xasprintf(_("Kept %s as it is: check that it names the "
						       "password check you use."), path));
	else if (!env_exists(x->env, dir))
		sl_add_owned(&x->p->notes, xasprintf(_("Create %s with \"pwcheck_method: saslauthd\" "
						       "and \"mech_list: PLAIN LOGIN\": %s does not "
						       "exist."), path, dir));
	else
		plan_add_change(x->p, path, false, "", 0, conf, sizeof(conf) - 1, 0644);
	free(path);
	free(dir);
}

static int plan_files(struct plan_ctx *x, struct error *e)
{
	char *main_path = path_join(x->si->config_dir, "main.cf");
	char *master_path = path_join(x->si->config_dir, "master.cf");
	int rc = -1;

	if (read_server_file(x->env, main_path, &x->main_old, &x->main_old_len, e) < 0 ||
	    maincf_parse(main_path, x->main_old, x->main_old_len, &x->main_cf, e) < 0 ||
	    read_server_file(x->env, master_path, &x->master_old, &x->master_old_len, e) < 0 ||
	    mastercf_parse(master_path, x->master_old, x->master_old_len, &x->master_cf, e) < 0)
		goto out;
	if (plan_main(x, e) < 0)
		goto out;
	if ((x->a->roles & ROLE_MX) && plan_mx(x, e) < 0)
		goto out;
	if ((x->a->roles & ROLE_SUBMISSION) && plan_submission(x, ROLE_SUBMISSION, e) < 0)
		goto out;
	if ((x->a->roles & ROLE_SUBMISSIONS) && plan_submission(x, ROLE_SUBMISSIONS, e) < 0)
		goto out;
	add_notes(x);
	if (x->a->sasl == SASL_CYRUS && (x->a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS)))
		plan_cyrus_conf(x);
	if (plan_expect(x, e) < 0)
		goto out;
	add_change(x, x->main_cf, "main.cf", x->main_old, x->main_old_len);
	add_change(x, x->master_cf, "master.cf", x->master_old, x->master_old_len);
	rc = 0;
out:
	free(main_path);
	free(master_path);
	return rc;
}

static int postfix_plan(const struct env *env, const struct server_info *si,
			const struct answers *a, struct plan *p, struct error *e)
{
	struct plan_ctx x = {env, si, a, p, NULL, NULL, NULL, NULL, 0, 0, NULL};
	int rc;

	if (check_answers(si, a, e) < 0)
		return -1;
	p->server = si;
	rc = plan_files(&x, e);
	cf_free(x.wanted);
	cf_free(x.main_cf);
	cf_free(x.master_cf);
	free(x.main_old);
	free(x.master_old);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Validate                                                            */
/* ------------------------------------------------------------------ */

/* Runs postconf FLAG on dir and collects its stderr lines, as printed
 * (raw, may be NULL) and with the directory name replaced (warnings), so
 * two directories' warnings compare. */
static int postconf_run(const struct env *env, const struct server_info *si, const char *dir,
			const char *flag, struct strlist *warnings, struct strlist *raw,
			struct error *e)
{
	char *tool_dir = server_tool_path(env, si, dir);
	const char *argv[] = {si->binary, "-c", tool_dir, flag, NULL};
	struct spawn_result r = {0};
	char buf[512];
	int rc = 0;

	if (server_exec(env, si, argv, &r, e) < 0) {
		rc = err_prefix(e, _("cannot run postconf"));
	} else if (r.exit_code != 0) {
		rc = err_set(e, _("postconf %s failed on the new configuration: %s"), flag,
			     spawn_first_line(&r, buf, sizeof(buf)));
	} else {
		char *save = NULL;

		for (char *l = strtok_r(r.err, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *at = strstr(l, tool_dir);

			/* named as the admin knows the file, never the stage */
			if (raw && at)
				sl_add_owned(raw, xasprintf("%.*s%s%s", (int)(at - l), l, si->config_dir,
							    at + strlen(tool_dir)));
			else if (raw)
				sl_add(raw, l);
			if (at)
				sl_add_owned(warnings, xasprintf("%.*sDIR%s", (int)(at - l), l,
								 at + strlen(tool_dir)));
			else
				sl_add(warnings, l);
		}
	}
	spawn_result_free(&r);
	free(tool_dir);
	return rc;
}

static bool in_list(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/*
 * postconf exits 0 on unknown or deprecated parameters and only warns;
 * a warning the staged copy adds is an error.  Warnings the current
 * configuration already has are not ours to fix.
 */
/* "unused parameter: mua_proto=..." for a parameter of the admin's that
 * only a line the plan commented out used: not a fault of the new config.
 * One the plan sets itself is (a name Postfix does not know). */
static bool orphaned_by_plan(const struct plan *p, const char *warning)
{
	const char *at = strstr(warning, "unused parameter: ");
	size_t n;

	if (at == NULL || p->conflicts.n == 0)
		return false;
	at += 18;
	n = strcspn(at, "=");
	for (size_t i = 0; i < p->settings.n; i++)
		if (strncmp(p->settings.v[i], at, n) == 0 && p->settings.v[i][n] == ' ')
			return false;
	return true;
}

static int postconf_check(const struct env *env, const struct server_info *si,
			  const struct plan *p, const char *stage_dir, const char *flag,
			  struct error *e)
{
	struct strlist now = STRLIST_INIT, staged = STRLIST_INIT, raw = STRLIST_INIT;
	int rc = 0;

	if (postconf_run(env, si, stage_dir, flag, &staged, &raw, e) < 0) {
		rc = -1;
	} else if (staged.n && postconf_run(env, si, si->config_dir, flag, &now, NULL, NULL) == 0) {
		for (size_t i = 0; i < staged.n && rc == 0; i++)
			if (!in_list(&now, staged.v[i]) && !orphaned_by_plan(p, staged.v[i]))
				rc = err_set(e, _("postconf %s: %s"), flag, raw.v[i]);
	} else if (staged.n) {
		rc = err_set(e, _("postconf %s: %s"), flag, raw.v[0]);
	}
	sl_free(&now);
	sl_free(&staged);
	sl_free(&raw);
	return rc;
}

/* ">=TLSv1.2" or "!SSLv2, !SSLv3, !TLSv1" (also space or colon separated). */
static int protocols_check(const char *name, const char *value, struct error *e)
{
	char *copy, *save = NULL;
	int rc = 0, n = 0;

	if (strncmp(value, ">=", 2) == 0) {
		if (!protocol_name_valid(value + 2))
			return err_set(e, _("%s: unknown protocol in '%s'"), name, value);
		return 0;
	}
	copy = xstrdup(value);
	for (char *t = strtok_r(copy, ", :", &save); t && rc == 0; t = strtok_r(NULL, ", :", &save)) {
		const char *p = t[0] == '!' ? t + 1 : t;

		n++;
		if (!protocol_name_valid(p) && strcmp(p, "SSLv2") != 0 && strcmp(p, "SSLv3") != 0)
			rc = err_set(e, _("%s: unknown protocol '%s'"), name, t);
	}
	free(copy);
	if (rc == 0 && n == 0)
		return err_set(e, _("%s is empty"), name);
	return rc;
}

/* Each name must be a group this machine's OpenSSL knows, unless the
 * server links a newer OpenSSL than ours (then we cannot judge it). */
static int groups_check(const struct server_info *si, const char *name, const char *value,
			struct error *e)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	char *copy = xstrdup(value), *save = NULL;
	bool newer = si->openssl_version &&
		     version_cmp(si->openssl_version, OpenSSL_version(OPENSSL_VERSION_STRING)) > 0;
	int rc = 0;

	if (ctx == NULL)
		rc = err_set(e, _("OpenSSL could not create a TLS context"));
	for (char *g = strtok_r(copy, ", :", &save); g && rc == 0; g = strtok_r(NULL, ", :", &save))
		if (SSL_CTX_set1_groups_list(ctx, g) != 1 && !newer)
			rc = err_set(e, _("%s: OpenSSL does not know the group '%s'"), name, g);
	SSL_CTX_free(ctx);
	free(copy);
	return rc;
}

static int file_check(const struct env *env, const char *name, const char *path, struct error *e)
{
	char *host = env_host_path(env, path);
	int rc = 0;

	if (access(host, R_OK) != 0)
		rc = err_sys(e, _("%s: cannot read %s"), name, path);
	free(host);
	return rc;
}

static int files_check(const struct env *env, const char *name, const char *value,
		       struct error *e)
{
	char *copy = xstrdup(value), *save = NULL;
	int rc = 0;

	for (char *f = strtok_r(copy, ", ", &save); f && rc == 0; f = strtok_r(NULL, ", ", &save))
		rc = file_check(env, name, f, e);
	free(copy);
	return rc;
}

static int value_check(const struct env *env, const struct server_info *si, const char *name,
		       const char *value, struct error *e)
{
	size_t n = strlen(name);

	if (!text_is_clean(value))
		return err_set(e, _("%s contains a control character"), name);
	if (n > 10 && strcmp(name + n - 10, "_protocols") == 0)
		return protocols_check(name, value, e);
	if (strcmp(name, "tls_high_cipherlist") == 0)
		return cipher_list_check(value, e);
	if (strcmp(name, "tls_eecdh_auto_curves") == 0 || strcmp(name, "tls_ffdhe_auto_groups") == 0)
		return groups_check(si, name, value, e);
	if (strcmp(name, "smtpd_tls_chain_files") == 0 || strcmp(name, "smtpd_tls_cert_file") == 0 ||
	    strcmp(name, "smtpd_tls_key_file") == 0 || strcmp(name, "smtpd_tls_dh1024_param_file") == 0)
		return files_check(env, name, value, e);
	return 0;
}

/* Our own settings: the checkers accept nonsense values (see report). */
static int settings_check(const struct env *env, const struct server_info *si,
			  const struct plan *p, struct error *e)
{
	for (size_t i = 0; i < p->settings.n; i++) {
		const char *s = p->settings.v[i], *eq = strstr(s, " = ");
		char *name;
		int rc;

		if (eq == NULL)
			continue;
		name = xstrndup(s, (size_t)(eq - s));
		rc = value_check(env, si, name, eq + 3, e);
		free(name);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The postfix command next to postconf. */
static char *postfix_command(const struct server_info *si)
{
	const char *slash = strrchr(si->binary, '/');

	return xasprintf("%.*s/postfix", (int)(slash - si->binary), si->binary);
}

static int postfix_run(const struct env *env, const struct server_info *si,
		       const char *const args[], struct spawn_result *r, struct error *e)
{
	char *cmd = postfix_command(si);
	const char *argv[6] = {cmd};
	int rc;

	for (size_t i = 0; i < 4 && args[i]; i++)
		argv[i + 1] = args[i];
	rc = server_exec(env, si, argv, r, e);
	free(cmd);
	return rc;
}

/*
 * Postfix waits a second or two before reading a table changed within the
 * current second (a guard against half-written files).  The staged copy is
 * complete and ours, so it is dated back instead of waiting on every check.
 */
static void backdate_stage(const struct env *env, const char *stage_dir)
{
	static const char *const names[] = {"main.cf", "master.cf"};
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 10;
	ts[1] = ts[0];
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *server = path_join(stage_dir, names[i]);
		char *host = env_host_path(env, server);

		utimensat(AT_FDCWD, host, ts, AT_SYMLINK_NOFOLLOW);
		free(host);
		free(server);
	}
}

/* "postfix check" also checks files and permissions, but prints its
 * errors to syslog only: the exit code is all we get. */
static int postfix_check(const struct env *env, const struct server_info *si,
			 const char *stage_dir, struct error *e)
{
	char *dir = server_tool_path(env, si, stage_dir);
	const char *args[] = {"-c", dir, "check", NULL};
	struct spawn_result r = {0};
	char buf[512];
	int rc = 0;

	if (postfix_run(env, si, args, &r, e) < 0)
		rc = err_prefix(e, _("cannot run postfix check"));
	else if (r.exit_code != 0)
		rc = err_set(e, _("postfix check failed on the new configuration (exit %d) %s"),
			     r.exit_code, spawn_first_line(&r, buf, sizeof(buf)));
	spawn_result_free(&r);
	free(dir);
	return rc;
}

static int postfix_validate(const struct env *env, const struct server_info *si,
			    const struct plan *p, const char *stage_dir, struct error *e)
{
	if (settings_check(env, si, p, e) < 0)
		return -1;
	if (si->binary == NULL || strchr(si->binary, '/') == NULL)
		return err_set(e, _("postconf not found: cannot check the new configuration"));
	backdate_stage(env, stage_dir);
	if (postconf_check(env, si, p, stage_dir, "-n", e) < 0 ||
	    postconf_check(env, si, p, stage_dir, "-M", e) < 0)
		return -1;
	if (env->lab)
		return 0;
	return postfix_check(env, si, stage_dir, e);
}

/* ------------------------------------------------------------------ */
/* Effective values                                                    */
/* ------------------------------------------------------------------ */

/* "name = value" lines of postconf output into two parallel lists. */
static void parse_assignments(char *out, struct strlist *names, struct strlist *values)
{
	char *save = NULL;

	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strstr(l, " = ");

		if (eq == NULL) {
			size_t n = strlen(l);

			/* "name =" for an empty value */
			if (n >= 2 && strcmp(l + n - 2, " =") == 0) {
				sl_add_owned(names, xstrndup(l, n - 2));
				sl_add(values, "");
			}
			continue;
		}
		sl_add_owned(names, xstrndup(l, (size_t)(eq - l)));
		sl_add(values, rtrim(eq + 3));
	}
}

static const char *lookup(const struct strlist *names, const struct strlist *values,
			  const char *name)
{
	for (size_t i = names->n; i-- > 0;)
		if (strcmp(names->v[i], name) == 0)
			return values->v[i];
	return NULL;
}

/* The stage directory in a postconf message becomes the real one. */
static void unstage(struct error *e, const char *tool_dir, const char *config_dir)
{
	char *at = strstr(e->msg, tool_dir);
	char *fixed;

	if (at == NULL || tool_dir[0] == '\0')
		return;
	fixed = xasprintf("%.*s%s%s", (int)(at - e->msg), e->msg, config_dir, at + strlen(tool_dir));
	snprintf(e->msg, sizeof(e->msg), "%s", fixed);
	free(fixed);
}

/* postconf -c dir -x ARGS: stdout, or -1 with its first error line. */
static int postconf_ask(const struct env *env, const struct server_info *si, const char *dir,
			const struct strlist *args, char **out, struct error *e)
{
	char *tool_dir = server_tool_path(env, si, dir);
	const char **argv = xcalloc(args->n + 5, sizeof(*argv));
	struct spawn_result r = {0};
	char buf[512];
	size_t n = 0;
	int rc = 0;

	argv[n++] = si->binary;
	argv[n++] = "-c";
	argv[n++] = tool_dir;
	argv[n++] = "-x";
	for (size_t i = 0; i < args->n; i++)
		argv[n++] = args->v[i];
	*out = NULL;
	if (server_exec(env, si, argv, &r, e) < 0) {
		rc = err_prefix(e, _("cannot run postconf"));
	} else if (r.exit_code != 0) {
		rc = err_set(e, _("postconf refuses the configuration: %s"),
			     spawn_first_line(&r, buf, sizeof(buf)));
		unstage(e, tool_dir, si->config_dir);
	} else {
		*out = r.out;
		r.out = NULL;
	}
	spawn_result_free(&r);
	free(argv);
	free(tool_dir);
	return rc;
}

/* main.cf and master.cf of dir, for the lines that set a value. */
static void load_origins(const struct env *env, const char *dir, struct cf_file **main_cf,
			 struct cf_file **master_cf)
{
	struct error e;

	if (load_configs(env, dir, main_cf, master_cf, &e) < 0) {
		*main_cf = NULL;
		*master_cf = NULL;
	}
}

static char *origin_main(const struct server_info *si, const struct cf_file *main_cf,
			 const char *name)
{
	size_t line = main_cf ? maincf_line(main_cf, name) : 0;

	return line ? xasprintf("%s/main.cf:%zu", si->config_dir, line) : NULL;
}

static void judge_one(const struct server_info *si, struct expectation *x,
		      const struct strlist *mn, const struct strlist *mv,
		      const struct strlist *pn, const struct strlist *pv,
		      const struct cf_file *main_cf, const struct cf_file *master_cf)
{
	const char *got = NULL;
	char *origin = NULL;

	if (strncmp(x->scope, "master.cf:", 10) == 0) {
		char *key = xasprintf("%s/%s", x->scope + 10, x->name);
		char *svc = xstrdup(x->scope + 10), *slash = strrchr(svc, '/');
		int entry;

		got = lookup(pn, pv, key);
		if (slash)
			*slash = '\0';
		entry = got && master_cf && slash ? mastercf_find_service(master_cf, svc, slash + 1) : -1;
		if (entry >= 0)
			origin = xasprintf("%s/master.cf:%zu", si->config_dir,
					   mastercf_option_line(master_cf, (size_t)entry, x->name));
		free(svc);
		free(key);
	}
	if (got == NULL) {
		got = lookup(mn, mv, x->name);
		origin = origin_main(si, main_cf, x->name);
	}
	expect_set(x, got, origin, expect_judge(x, got));
	free(origin);
}

/*
 * postconf -x answers main.cf (defaults included, $names expanded) and
 * postconf -P -x every master.cf "-o"; a service without its own "-o"
 * uses main.cf's value, as smtpd does.
 */
static int postfix_effective(const struct env *env, const struct server_info *si,
			     const char *config_dir, struct expect_list *x, struct error *e)
{
	struct strlist args = STRLIST_INIT, mn = STRLIST_INIT, mv = STRLIST_INIT;
	struct strlist pn = STRLIST_INIT, pv = STRLIST_INIT, p_args = STRLIST_INIT;
	struct cf_file *main_cf = NULL, *master_cf = NULL;
	char *out = NULL, *p_out = NULL;
	int rc;

	if (si->binary == NULL || strchr(si->binary, '/') == NULL)
		return 0; /* nothing to ask: every expectation stays unknown */
	for (size_t i = 0; i < x->n; i++) {
		bool seen = false;

		for (size_t k = 0; k < args.n && !seen; k++)
			seen = strcmp(args.v[k], x->items[i].name) == 0;
		if (!seen)
			sl_add(&args, x->items[i].name);
	}
	sl_add(&p_args, "-P");
	rc = postconf_ask(env, si, config_dir, &args, &out, e);
	if (rc == 0)
		rc = postconf_ask(env, si, config_dir, &p_args, &p_out, e);
	if (rc == 0) {
		parse_assignments(out, &mn, &mv);
		parse_assignments(p_out, &pn, &pv);
		load_origins(env, config_dir, &main_cf, &master_cf);
		for (size_t i = 0; i < x->n; i++)
			judge_one(si, &x->items[i], &mn, &mv, &pn, &pv, main_cf, master_cf);
	} else if (!server_sees_root(env, si)) {
		/* run from the host on a lab tree, postconf may follow an
		 * absolute symlink to the host's files: it cannot tell, it
		 * does not refuse */
		rc = 0;
	}
	free(out);
	free(p_out);
	cf_free(main_cf);
	cf_free(master_cf);
	sl_free(&args);
	sl_free(&p_args);
	sl_free(&mn);
	sl_free(&mv);
	sl_free(&pn);
	sl_free(&pv);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reload                                                              */
/* ------------------------------------------------------------------ */

static int postfix_reload(const struct env *env, const struct server_info *si, struct error *e)
{
	static const char *const reload[] = {"reload", NULL};
	static const char *const status[] = {"status", NULL};
	struct spawn_result r = {0};
	char buf[512];
	int rc = 0;

	if (si->binary == NULL)
		return err_set(e, _("postfix not found: cannot reload"));
	if (postfix_run(env, si, reload, &r, e) < 0)
		rc = err_prefix(e, _("cannot run postfix reload"));
	else if (r.exit_code != 0)
		rc = err_set(e, _("postfix reload failed: %s"), spawn_first_line(&r, buf, sizeof(buf)));
	spawn_result_free(&r);
	if (rc < 0)
		return rc;
	memset(&r, 0, sizeof(r));
	if (postfix_run(env, si, status, &r, e) < 0 || r.exit_code != 0)
		rc = err_set(e, _("postfix is not running after reload"));
	spawn_result_free(&r);
	return rc;
}

const struct backend postfix_backend = {
	.name = "postfix",
	.display_name = "Postfix",
	.roles_possible = ROLES_SMTP,
	.detect = postfix_detect,
	.plan = postfix_plan,
	.validate = postfix_validate,
	.reload = postfix_reload,
	.effective = postfix_effective,
};
