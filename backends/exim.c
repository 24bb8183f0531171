/*
 * exim.c - the Exim backend (Exim 4.9x; Debian's exim4-config, or a
 * hand-written configuration).
 *
 * Where the settings go:
 *   - Debian, non-split (dc_use_split_config false, the default):
 *     /etc/exim4/exim4.conf.localmacros, read before the template;
 *   - Debian, split: /etc/exim4/conf.d/main/000_localmacros (a name with a
 *     dot is silently skipped by update-exim4.conf);
 *   - a hand-written /etc/exim4/exim4.conf (or /etc/exim/exim.conf,
 *     /usr/local/etc/exim/configure): the top of its main section.
 * One marked block ("# BEGIN mailharden" .. "# END mailharden") holds our
 * main settings, so everything else in those files stays as it was.  On
 * Debian the options Debian's files already set (tls_advertise_hosts,
 * tls_certificate, tls_privatekey, acl_smtp_mail) are set through its
 * MAIN_TLS_* / MAIN_ACL_CHECK_MAIL macros: writing an option twice is fatal.
 *
 * Submission gets a file ACL (acl_smtp_mail names a file: MAIL refused before
 * STARTTLS on 587 and before AUTH on 587/465, then Debian's own MAIL ACL) and,
 * unless an authenticator exists already, server authenticators advertised
 * only once TLS is up: conf.d/auth/35_mailharden on split configs, appended
 * to exim4.conf.template (a dpkg conffile: the only way there) otherwise.
 *
 * Debian's Exim is built with GnuTLS, where tls_require_ciphers is a GnuTLS
 * priority string that sets protocols and suites at once; an OpenSSL build
 * takes a cipher list plus openssl_options (fatal on GnuTLS).  Both are
 * written, each inside .ifdef _HAVE_GNUTLS / _HAVE_OPENSSL.  Port 25 and the
 * submission ports differ through ${if =={$received_port}{25}{..}{..}}.
 * Exim's -bV accepts any priority string (the daemon then fails per
 * connection), so each one is compiled with GnuTLS itself (loaded at run
 * time) before anything is written.
 */
#include "backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/fsutil.h"
#include "../core/spawn.h"
#include "../core/template.h"
#include "../core/txn.h"
#include "../core/version.h"

extern const struct backend exim_backend;

#define EXIM_MIN_VERSION "4.90"
#define BEGIN_MARK "# BEGIN mailharden"
#define END_MARK "# END mailharden"
#define AUTH_BEGIN "# BEGIN mailharden authenticators"
#define AUTH_END "# END mailharden authenticators"
#define DEBIAN_DIR "/etc/exim4"
#define UE4CC DEBIAN_DIR "/update-exim4.conf.conf"
#define NONSPLIT_MACROS DEBIAN_DIR "/exim4.conf.localmacros"
#define SPLIT_MACROS DEBIAN_DIR "/conf.d/main/000_localmacros"
#define SPLIT_AUTH DEBIAN_DIR "/conf.d/auth/35_mailharden"
#define TEMPLATE_FILE DEBIAN_DIR "/exim4.conf.template"
#define ACL_NAME "mailharden_acl_check_mail"
#define PASSWD_FILE DEBIAN_DIR "/passwd"
#define DOVECOT_SOCKET "/run/dovecot/auth-client"

enum scheme { SCHEME_NONE, SCHEME_NONSPLIT, SCHEME_SPLIT, SCHEME_HANDWRITTEN };

static const char *const exim_candidates[] = {
	"/usr/sbin/exim4", "/usr/sbin/exim", "/usr/local/sbin/exim", "/usr/exim/bin/exim", NULL,
};
static const char *const ue4c_candidates[] = {"/usr/sbin/update-exim4.conf", NULL};
static const char *const handwritten[] = {
	DEBIAN_DIR "/exim4.conf", "/etc/exim/exim.conf", "/usr/local/etc/exim/configure", NULL,
};

/*
 * GnuTLS priority strings per profile.  GnuTLS combines key exchange,
 * cipher and MAC lists, so intermediate and modern give exactly Mozilla's
 * suites (checked with gnutls-cli -l in the tests); for old and the 2015
 * guide's strings the product of the lists can only come close, as the
 * README says.
 */
#define G_GROUPS "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1"
#define G_FFDHE ":+GROUP-FFDHE2048:+GROUP-FFDHE3072"
static const struct {
	enum profile_id id;
	const char *priority;
} gnutls_profiles[] = {
	{PROFILE_MODERN, "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
			 "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:" G_GROUPS},
	{PROFILE_INTERMEDIATE, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:"
			       "+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:"
			       "+ECDHE-ECDSA:+ECDHE-RSA:" G_GROUPS},
	{PROFILE_OLD, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0:"
		      "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CBC:"
		      "+AES-256-CBC:+3DES-CBC:-MAC-ALL:+AEAD:+SHA256:+SHA384:+SHA1:-KX-ALL:"
		      "+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:+RSA:" G_GROUPS G_FFDHE},
	{PROFILE_GUIDE_A, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:"
			  "+AES-256-CBC:-MAC-ALL:+AEAD:+SHA384:+SHA256:+SHA1:-KX-ALL:+DHE-RSA:"
			  "+ECDHE-RSA:" G_GROUPS G_FFDHE},
	{PROFILE_GUIDE_B, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0:"
			  "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+AES-256-CBC:+AES-128-CBC:"
			  "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:+SHA384:+SHA256:+SHA1:-KX-ALL:"
			  "+DHE-RSA:+ECDHE-RSA:+RSA:" G_GROUPS G_FFDHE},
};
/* Port 25: every suite a sender may need (GnuTLS's NORMAL has no SSL 3,
 * NULL, export or anonymous suites); the server picks the best. */
#define GNUTLS_MX "NORMAL:%SERVER_PRECEDENCE"
#define OPENSSL_MX "DEFAULT:!aNULL:!eNULL:!EXPORT"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* Reads a server file that may be absent: *text NULL then. */
static int read_optional(const struct env *env, const char *path, char **text, size_t *len,
			 struct error *e)
{
	char *dir;
	int rc;

	*text = NULL;
	*len = 0;
	if (!env_exists(env, path))
		return 0;
	dir = path_dir(path);
	rc = txn_read(env, path, dir, text, len, e);
	free(dir);
	return rc;
}

/* A shell-style "name='value'" from update-exim4.conf.conf or
 * /etc/default/exim4; NULL when absent. */
static char *shell_value(const char *text, const char *name)
{
	size_t n = strlen(name);
	char *found = NULL;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *end = strchr(l, '\n');
		char *line, *v;

		if (strncmp(l, name, n) != 0 || l[n] != '=')
			continue;
		line = xstrndup(l + n + 1, end ? (size_t)(end - l - n - 1) : strlen(l + n + 1));
		v = trim(line);
		if ((*v == '\'' || *v == '"') && strlen(v) >= 2 && v[strlen(v) - 1] == *v) {
			v[strlen(v) - 1] = '\0';
			v++;
		}
		free(found);
		found = xstrdup(v);
		free(line);
	}
	return found;
}

static enum scheme scheme_of(const struct env *env, const struct server_info *si)
{
	char *text, *split;
	size_t len;
	enum scheme s = SCHEME_NONSPLIT;

	if (si->config_file == NULL)
		return SCHEME_NONE;
	if (strcmp(si->config_dir, DEBIAN_DIR) != 0 || env_exists(env, DEBIAN_DIR "/exim4.conf") ||
	    !env_exists(env, UE4CC))
		return SCHEME_HANDWRITTEN;
	if (read_optional(env, UE4CC, &text, &len, NULL) < 0 || text == NULL)
		return SCHEME_NONSPLIT;
	split = shell_value(text, "dc_use_split_config");
	if (split && strcmp(split, "true") == 0)
		s = SCHEME_SPLIT;
	free(split);
	free(text);
	return s;
}

static const char *scheme_word(enum scheme s)
{
	switch (s) {
	case SCHEME_SPLIT:
		return "split";
	case SCHEME_NONSPLIT:
		return "non-split";
	case SCHEME_HANDWRITTEN:
		return "hand-written";
	case SCHEME_NONE:
		break;
	}
	return "";
}

static const char *macros_file(enum scheme s, const struct server_info *si)
{
	if (s == SCHEME_SPLIT)
		return SPLIT_MACROS;
	if (s == SCHEME_NONSPLIT)
		return NONSPLIT_MACROS;
	return si->config_file;
}

/* The first line of stderr that says what is wrong (Exim may warn first). */
static const char *error_line(const struct spawn_result *r, char *buf, size_t len)
{
	const char *src = r->err && *r->err ? r->err : r->out ? r->out : "";
	const char *best = NULL;

	for (const char *l = src; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strstr(l, "rror") || strstr(l, "ailed") || strstr(l, "nvalid")) {
			best = l;
			break;
		}
	}
	if (best == NULL)
		return spawn_first_line(r, buf, len);
	snprintf(buf, len, "%.*s", (int)strcspn(best, "\n"), best);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Running exim                                                        */
/* ------------------------------------------------------------------ */

/* exim -C CONF ARGS... (conf NULL: /dev/null, Exim's built-in defaults) */
static int exim_run(const struct env *env, const struct server_info *si, const char *conf,
		    const char *const args[], const char *input, struct spawn_result *r,
		    struct error *e)
{
	char *tool_conf = conf ? server_tool_path(env, si, conf) : xstrdup("/dev/null");
	const char *argv[16] = {si->binary, "-C", tool_conf};
	size_t n = 3;
	int rc;

	for (size_t i = 0; args[i] && n < ARRAY_LEN(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	memset(r, 0, sizeof(*r));
	rc = server_exec_input(env, si, argv, input, r, e);
	free(tool_conf);
	return rc;
}

/* "Exim version 4.96 #2 built ..." -> "4.96" */
static char *version_of(const char *bv)
{
	const char *p = strstr(bv, "Exim version ");
	char *v;

	if (p == NULL)
		return NULL;
	p += 13;
	v = xstrndup(p, strcspn(p, " \t\n"));
	if (!version_valid(v)) {
		free(v);
		return NULL;
	}
	return v;
}

/* The "Authenticators:" line of -bV, e.g. "cram_md5 dovecot plaintext". */
static bool has_driver(const char *bv, const char *driver)
{
	const char *p = strstr(bv, "Authenticators:");
	char *line, *save = NULL;
	bool found = false;

	if (p == NULL)
		return false;
	line = xstrndup(p + 15, strcspn(p + 15, "\n"));
	for (char *t = strtok_r(line, " ", &save); t && !found; t = strtok_r(NULL, " ", &save))
		found = strcmp(t, driver) == 0;
	free(line);
	return found;
}

static char *exim_bv(const struct env *env, const struct server_info *si)
{
	static const char *const args[] = {"-bV", NULL};
	struct spawn_result r;
	struct error e;
	char *out = NULL;

	if (si->binary && exim_run(env, si, NULL, args, NULL, &r, &e) == 0 && r.exit_code == 0)
		out = xstrdup(r.out);
	if (si->binary)
		spawn_result_free(&r);
	return out;
}

static bool macro_defined(const struct env *env, const struct server_info *si, const char *m)
{
	const char *args[] = {"-bP", "macro", m, NULL};
	struct spawn_result r;
	struct error e;
	bool yes = exim_run(env, si, NULL, args, NULL, &r, &e) == 0 && r.exit_code == 0;

	spawn_result_free(&r);
	return yes;
}

static char *tls_library_of(const struct env *env, const struct server_info *si)
{
	if (macro_defined(env, si, "_HAVE_GNUTLS"))
		return xstrdup("GnuTLS");
	if (macro_defined(env, si, "_HAVE_OPENSSL"))
		return xstrdup("OpenSSL");
	return NULL;
}

/* Values of main options: "name = value" lines of exim -bP.  NULL for a
 * name Exim did not print. */
struct bp {
	struct strlist names, values;
};

static void bp_free(struct bp *b)
{
	sl_free(&b->names);
	sl_free(&b->values);
}

static const char *bp_get(const struct bp *b, const char *name)
{
	for (size_t i = 0; i < b->names.n; i++)
		if (strcmp(b->names.v[i], name) == 0)
			return b->values.v[i];
	return NULL;
}

static void bp_parse(struct bp *b, const char *out)
{
	char *copy = xstrdup(out), *save = NULL;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strstr(l, " =");

		if (eq == NULL || eq == l || strchr(l, ' ') < eq)
			continue;
		*eq = '\0';
		sl_add(&b->names, l);
		sl_add(&b->values, eq[2] == ' ' ? eq + 3 : eq + 2);
	}
	free(copy);
}

/* exim -C conf -bP names...; -1 when exim refuses the configuration. */
static int exim_bp(const struct env *env, const struct server_info *si, const char *conf,
		   const char *const names[], struct bp *b, struct error *e)
{
	const char *args[14] = {"-bP"};
	struct spawn_result r;
	char buf[512];
	size_t n = 1;
	int rc = 0;

	for (size_t i = 0; names[i] && n < ARRAY_LEN(args) - 1; i++)
		args[n++] = names[i];
	args[n] = NULL;
	memset(b, 0, sizeof(*b));
	if (exim_run(env, si, conf, args, NULL, &r, e) < 0)
		rc = err_prefix(e, "exim -bP");
	else if (r.out == NULL || r.out[0] == '\0')
		rc = err_set(e, _("exim -bP failed: %s"), error_line(&r, buf, sizeof(buf)));
	else
		bp_parse(b, r.out);
	spawn_result_free(&r);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Detect                                                              */
/* ------------------------------------------------------------------ */

static int port_number(const char *t)
{
	static const struct {
		const char *name;
		int port;
	} names[] = {{"smtp", 25}, {"submission", 587}, {"smtps", 465}, {"submissions", 465},
		     {"urd", 465}, {"ssmtp", 465}};
	char *end;
	long v = strtol(t, &end, 10);

	if (end != t && *end == '\0' && v > 0 && v < 65536)
		return (int)v;
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(t, names[i].name) == 0)
			return names[i].port;
	return 0;
}

/* Port numbers of an Exim list ("smtp : 587", or "<; 25 ; 465"). */
static size_t port_list(const char *value, int *out, size_t max)
{
	char *copy = xstrdup(value ? value : ""), *p = copy, *save = NULL;
	const char *sep = ":";
	size_t n = 0;

	p = trim(p);
	if (p[0] == '<' && p[1] && p[1] != ' ') {
		sep = p[1] == ';' ? ";" : ":";
		p += 2;
	}
	for (char *t = strtok_r(p, sep, &save); t && n < max; t = strtok_r(NULL, sep, &save)) {
		int port = port_number(trim(t));

		if (port)
			out[n++] = port;
	}
	free(copy);
	return n;
}

static bool has_port(const int *ports, size_t n, int port)
{
	for (size_t i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

/* "-oX 465:25 -oP /run/exim4/exim.pid" -> "465:25" */
static char *listener_ports(const struct env *env)
{
	char *text, *opts, *ports = NULL;
	size_t len;

	if (read_optional(env, "/etc/default/exim4", &text, &len, NULL) < 0 || text == NULL)
		return NULL;
	opts = shell_value(text, "SMTPLISTENEROPTIONS");
	if (opts) {
		const char *x = strstr(opts, "-oX");

		if (x) {
			x += 3;
			while (*x == ' ')
				x++;
			ports = xstrndup(x, strcspn(x, " \t"));
		}
	}
	free(opts);
	free(text);
	return ports;
}

static bool loopback_address(const char *a)
{
	return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0 || strcmp(a, "[::1]") == 0 ||
	       strcmp(a, "localhost") == 0;
}

/* local_interfaces lists only loopback addresses (Debian's fresh
 * "configtype local" install: 127.0.0.1 ; ::1). */
static bool loopback_only(const char *ifaces)
{
	char *copy, *p, *save = NULL;
	const char *sep = ":";
	bool any = false, only = true;

	if (ifaces == NULL)
		return false;
	copy = xstrdup(ifaces);
	p = trim(copy);
	if (p[0] == '<' && p[1] == ';') {
		sep = ";";
		p += 2;
	}
	for (char *t = strtok_r(p, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
		char *a = trim(t);
		char *dot = strrchr(a, '.');

		if (*a == '\0')
			continue;
		/* "127.0.0.1.25": an address with a port */
		if (dot && strchr(a, ':') == NULL && dot - a > 8 && strspn(a, "0123456789.") == strlen(a) &&
		    strchr(a, '.') != dot) {
			int dots = 0;

			for (char *q = a; *q; q++)
				dots += *q == '.';
			if (dots == 4)
				*dot = '\0';
		}
		any = true;
		only &= loopback_address(a);
	}
	free(copy);
	return any && only;
}

/* The configuration file Exim runs now (server path), NULL if none. */
static char *current_config(const struct env *env, const struct server_info *si)
{
	enum scheme s = scheme_of(env, si);

	if (s == SCHEME_HANDWRITTEN)
		return xstrdup(si->config_file);
	if (env_exists(env, "/var/lib/exim4/config.autogenerated"))
		return xstrdup("/var/lib/exim4/config.autogenerated");
	return NULL;
}

static void detect_roles(const struct env *env, struct server_info *si)
{
	static const char *const names[] = {
		"daemon_smtp_ports", "tls_on_connect_ports", "local_interfaces", "acl_smtp_mail", NULL,
	};
	char *conf = current_config(env, si), *ox = listener_ports(env);
	struct bp b;
	struct error e;
	int ports[32], tls[32];
	size_t n, nt;

	if (conf == NULL || exim_bp(env, si, conf, names, &b, &e) < 0) {
		if (conf)
			si->why = xstrdup(e.msg);
		free(conf);
		free(ox);
		return;
	}
	/* -oX on the daemon's command line wins over daemon_smtp_ports */
	n = port_list(ox ? ox : bp_get(&b, "daemon_smtp_ports"), ports, ARRAY_LEN(ports));
	nt = port_list(bp_get(&b, "tls_on_connect_ports"), tls, ARRAY_LEN(tls));
	if (has_port(ports, n, 25))
		si->roles_served |= ROLE_MX;
	if (has_port(ports, n, 587))
		si->roles_served |= ROLE_SUBMISSION;
	if (has_port(ports, n, 465) && has_port(tls, nt, 465))
		si->roles_served |= ROLE_SUBMISSIONS;
	if (si->roles_served & ROLE_SUBMISSIONS)
		si->roles_tls |= ROLE_SUBMISSIONS;
	if (bp_get(&b, "acl_smtp_mail") && strstr(bp_get(&b, "acl_smtp_mail"), ACL_NAME))
		si->roles_tls |= si->roles_served & ROLE_SUBMISSION;
	si->loopback_only = loopback_only(bp_get(&b, "local_interfaces"));
	bp_free(&b);
	free(conf);
	free(ox);
}

static void detect_config(const struct env *env, struct server_info *si)
{
	for (size_t i = 0; handwritten[i]; i++) {
		if (env_exists(env, handwritten[i])) {
			si->config_file = xstrdup(handwritten[i]);
			si->config_dir = path_dir(handwritten[i]);
			return;
		}
	}
	if (env_exists(env, UE4CC)) {
		si->config_dir = xstrdup(DEBIAN_DIR);
		si->config_file = xstrdup(TEMPLATE_FILE);
	}
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

static void detect_version(const struct env *env, struct server_info *si)
{
	const char *over = env_override(env, "exim");
	char *bv;

	if (over) {
		si->version = xstrdup(over);
		si->version_source = xstrdup(N_("--server-version"));
		return;
	}
	bv = exim_bv(env, si);
	if (bv && (si->version = version_of(bv)) != NULL)
		si->version_source = xstrdup(si->binary_in_root || env->root[0] == '\0' ? N_("binary")
										 : N_("host binary"));
	free(bv);
}

static int exim_detect(const struct env *env, struct server_info *si)
{
	bool have_binary;

	si->backend = &exim_backend;
	have_binary = server_find_binary(env, si, exim_candidates);
	detect_config(env, si);
	si->found = have_binary || si->config_file;
	if (!si->found) {
		si->why = xstrdup(_("Exim not found: no /etc/exim4/update-exim4.conf.conf, "
				    "exim4.conf or exim.conf"));
		return 0;
	}
	if (si->config_file == NULL) {
		si->why = xstrdup(_("Exim is installed, but there is no configuration in /etc/exim4 "
				    "or /etc/exim"));
		return 0;
	}
	si->layout = detect_layout(env, si->config_dir);
	si->config_scheme = xstrdup(scheme_word(scheme_of(env, si)));
	if (!have_binary) {
		si->why = xstrdup(_("the exim binary was not found: mailharden cannot check the "
				    "configuration without it"));
		return 0;
	}
	detect_version(env, si);
	if (si->version == NULL) {
		si->why = xstrdup(_("cannot tell the Exim version (exim -bV did not run); give it, "
				    "e.g. --server-version exim=4.96"));
		return 0;
	}
	if (!version_ge(si->version, EXIM_MIN_VERSION)) {
		si->why = xasprintf(_("unsupported version: Exim %s (%s or later needed)"),
				    si->version, EXIM_MIN_VERSION);
		return 0;
	}
	si->tls_library = tls_library_of(env, si);
	if (si->tls_library && strcmp(si->tls_library, "OpenSSL") == 0)
		si->openssl_version = server_openssl_version(env);
	if (si->tls_library == NULL) {
		si->why = xstrdup(_("this Exim is built without TLS support"));
		return 0;
	}
	detect_roles(env, si);
	si->usable = si->why == NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* GnuTLS priority strings                                             */
/* ------------------------------------------------------------------ */

typedef int (*priority_init_fn)(void **prio, const char *s, const char **err_pos);
typedef void (*priority_deinit_fn)(void *prio);
typedef const char *(*check_version_fn)(const char *req);

/* This machine's GnuTLS, loaded when needed: mailharden itself does not
 * link it.  On the mail host it is the library Exim uses. */
static void *gnutls_lib(void)
{
	static void *h;
	static bool tried;

	if (!tried) {
		tried = true;
		h = dlopen("libgnutls.so.30", RTLD_NOW | RTLD_LOCAL);
	}
	return h;
}

/* Compiles a priority string with GnuTLS; -1 naming the bad part. */
static int priority_check(const char *where, const char *prio, struct error *e)
{
	void *h = gnutls_lib(), *p = NULL;
	priority_init_fn init;
	priority_deinit_fn deinit;
	const char *err_pos = NULL;

	if (h == NULL)
		return err_set(e, _("%s: cannot check the GnuTLS priority string: libgnutls.so.30 is "
				    "not installed here (Debian: libgnutls30)"), where);
	init = (priority_init_fn)dlsym(h, "gnutls_priority_init");
	deinit = (priority_deinit_fn)dlsym(h, "gnutls_priority_deinit");
	if (init == NULL || deinit == NULL)
		return err_set(e, _("%s: libgnutls.so.30 has no gnutls_priority_init"), where);
	if (strchr(prio, '$') || strchr(prio, '{'))
		return err_set(e, _("%s: '%s' is not a plain GnuTLS priority string"), where, prio);
	if (init(&p, prio, &err_pos) < 0) {
		int at = err_pos ? (int)strcspn(err_pos, ":") : 0;

		return err_set(e, _("%s: GnuTLS rejects the priority string '%s' at '%.*s'"), where,
			       prio, at, err_pos ? err_pos : "");
	}
	deinit(p);
	return 0;
}

static const char *gnutls_profile(const struct profile *pr)
{
	for (size_t i = 0; i < ARRAY_LEN(gnutls_profiles); i++)
		if (gnutls_profiles[i].id == pr->id)
			return gnutls_profiles[i].priority;
	return NULL;
}

/* Splits "${if =={$received_port}{25}{A}{B}}" into A and B; a plain value
 * is one string.  Branches hold no braces. */
static int expansion_branches(const char *v, struct strlist *out)
{
	static const char head[] = "${if =={$received_port}{";
	const char *p, *a, *b;

	if (strncmp(v, head, sizeof(head) - 1) != 0) {
		sl_add(out, v);
		return 0;
	}
	p = strchr(v + sizeof(head) - 1, '}');
	if (p == NULL || p[1] != '{')
		return -1;
	a = p + 2;
	p = strchr(a, '}');
	if (p == NULL || p[1] != '{')
		return -1;
	sl_add_owned(out, xstrndup(a, (size_t)(p - a)));
	b = p + 2;
	p = strchr(b, '}');
	if (p == NULL || strcmp(p, "}}") != 0)
		return -1;
	sl_add_owned(out, xstrndup(b, (size_t)(p - b)));
	return 0;
}

static char *per_port(const char *mx, const char *other)
{
	return xasprintf("${if =={$received_port}{25}{%s}{%s}}", mx, other);
}

/* ------------------------------------------------------------------ */
/* Plan                                                                */
/* ------------------------------------------------------------------ */

struct plan_ctx {
	const struct env *env;
	const struct server_info *si;
	const struct answers *a;
	struct plan *p;
	enum scheme scheme;
	const char *macros;       /* server path of the file our block goes into */
	char *old;                /* its current text */
	size_t old_len;
	bool existed;
	struct tvars *v;
	char *acl_file;           /* server path, when submission is configured */
	char *gnutls_value, *openssl_value, *openssl_options, *ports, *dhparam;
	char *cert, *key;         /* the certificate and key the block names */
	char *text;               /* the macros file's new text */
	bool auth_added;
};

static bool is_line(const char *l, const char *mark)
{
	size_t n = strlen(mark);

	return strncmp(l, mark, n) == 0 && (l[n] == '\n' || l[n] == '\0' || l[n] == '\r');
}

/* The text without one of our blocks: the lines from begin to end dropped. */
static char *without(const char *text, const char *begin, const char *end)
{
	struct strbuf sb = STRBUF_INIT;
	bool in = false;

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l + 1) : strlen(l);

		if (is_line(l, begin))
			in = true;
		if (!in)
			sb_add(&sb, l, n);
		if (in && is_line(l, end))
			in = false;
		l += n;
	}
	return sb_detach(&sb);
}

static char *without_block(const char *text)
{
	return without(text, BEGIN_MARK, END_MARK);
}

/* Names our block defines, in the form the admin's lines would use. */
static bool defines(const char *line, const char *name)
{
	size_t n = strlen(name);

	while (*line == ' ' || *line == '\t')
		line++;
	if (strncmp(line, name, n) != 0)
		return false;
	line += n;
	while (*line == ' ' || *line == '\t')
		line++;
	return *line == '=';
}

/*
 * A setting of the admin's in the same file that our block also makes:
 * Exim refuses a macro defined twice or an option set twice, so nothing
 * is written and the line is named.
 */
static int check_duplicates(struct plan_ctx *x, const char *rest, const char *block,
			    struct error *e)
{
	int lineno = 0;

	for (const char *l = rest; l && *l;) {
		const char *nl = strchr(l, '\n');
		char *line = xstrndup(l, nl ? (size_t)(nl - l) : strlen(l));

		lineno++;
		for (const char *b = block; b && *b && line[0] != '#';) {
			const char *bnl = strchr(b, '\n');
			char *bl = xstrndup(b, bnl ? (size_t)(bnl - b) : strlen(b));
			char *eq = strchr(bl, '=');

			if (eq && bl[0] != '#' && bl[0] != '.') {
				*eq = '\0';
				char *name = trim(bl);

				if (defines(line, name)) {
					int rc = err_set(e, _("%s line %d already sets %s, which mailharden "
							      "sets itself (Exim refuses a setting made "
							      "twice): remove that line and run again"),
							 x->macros, lineno, name);

					free(bl);
					free(line);
					return rc;
				}
			}
			free(bl);
			b = bnl ? bnl + 1 : NULL;
		}
		free(line);
		l = nl ? nl + 1 : NULL;
	}
	return 0;
}

static bool defines_anywhere(const char *text, const char *name)
{
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		char *line = xstrndup(l, nl ? (size_t)(nl - l) : strlen(l));
		bool d = line[0] != '#' && defines(line, name);

		free(line);
		if (d)
			return true;
		l = nl ? nl + 1 : NULL;
	}
	return false;
}

static void add_change(struct plan *p, const char *path, bool existed, const char *old,
		       size_t old_len, const char *text, mode_t mode)
{
	size_t len = strlen(text);

	if (existed && len == old_len && memcmp(old, text, len) == 0)
		return;
	plan_add_change(p, path, existed, old ? old : "", old ? old_len : 0, text, len, mode);
}

/* Ports the daemon listens on afterwards: what it has, plus the chosen
 * roles' ports, in ascending order (so planning again changes nothing). */
static char *plan_ports(struct plan_ctx *x)
{
	static const char *const names[] = {"daemon_smtp_ports", NULL};
	char *conf = current_config(x->env, x->si);
	int ports[40];
	size_t n = 0;
	struct bp b;
	struct error e;
	struct strbuf sb = STRBUF_INIT;

	if (conf && exim_bp(x->env, x->si, conf, names, &b, &e) == 0) {
		n = port_list(bp_get(&b, "daemon_smtp_ports"), ports, 32);
		bp_free(&b);
	}
	free(conf);
	for (const struct role_info *ri = role_table(); ri->name; ri++)
		if ((x->a->roles & ri->role) && !has_port(ports, n, ri->port))
			ports[n++] = ri->port;
	if (n == 0)
		ports[n++] = 25;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && ports[j - 1] > ports[j]; j--) {
			int t = ports[j];

			ports[j] = ports[j - 1];
			ports[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		sb_addf(&sb, "%s%d", i ? " : " : "", ports[i]);
	return sb_detach(&sb);
}

static const char *openssl_ciphers(const struct profile *pr)
{
	/* TLS 1.3 only: Exim leaves TLS 1.3 suites to OpenSSL's defaults */
	return pr->ciphers[0] ? pr->ciphers : "DEFAULT";
}

static char *openssl_options_for(const struct profile *pr)
{
	struct strbuf sb = STRBUF_INIT;

	/* openssl_options is global, so the floor is port 25's; for
	 * submission the cipher list (AEAD only) refuses TLS < 1.2 */
	sb_adds(&sb, "+no_sslv2 +no_sslv3 +no_compression +no_renegotiation");
	if (pr->server_order)
		sb_adds(&sb, " +cipher_server_preference");
	return sb_detach(&sb);
}

static void plan_tls_values(struct plan_ctx *x)
{
	const struct profile *pr = x->a->profile;
	unsigned sub = x->a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS);
	const char *g = gnutls_profile(pr);

	if (sub) {
		x->gnutls_value = per_port(GNUTLS_MX, g);
		x->openssl_value = per_port(OPENSSL_MX, openssl_ciphers(pr));
	} else {
		/* mx only: the other ports keep the library's defaults */
		x->gnutls_value = per_port(GNUTLS_MX, "NORMAL");
		x->openssl_value = per_port(OPENSSL_MX, "DEFAULT");
	}
	x->openssl_options = openssl_options_for(pr);
	if (x->a->dh_file)
		x->dhparam = xstrdup(x->a->dh_file);
	else
		x->dhparam = xstrdup(pr->dh_bits > 2048 ? "ffdhe3072" : "ffdhe2048");
}

/* The value a line of our previous block gave name, or NULL. */
static char *block_value(const char *text, const char *name)
{
	bool in = false;
	char *found = NULL;

	for (const char *l = text; l && *l && !found;) {
		const char *nl = strchr(l, '\n');
		char *line = xstrndup(l, nl ? (size_t)(nl - l) : strlen(l));

		if (is_line(line, BEGIN_MARK))
			in = true;
		else if (is_line(line, END_MARK))
			in = false;
		else if (in && defines(line, name))
			found = xstrdup(trim(strchr(line, '=') + 1));
		free(line);
		l = nl ? nl + 1 : NULL;
	}
	return found;
}

/* "Keep the current certificate": the one our earlier block named. */
static void keep_cert(struct plan_ctx *x)
{
	bool deb = x->scheme != SCHEME_HANDWRITTEN;

	if (x->a->cert_file || x->old == NULL)
		return;
	x->cert = block_value(x->old, deb ? "MAIN_TLS_CERTIFICATE" : "tls_certificate");
	x->key = block_value(x->old, deb ? "MAIN_TLS_PRIVATEKEY" : "tls_privatekey");
	if (x->cert == NULL || x->key == NULL) {
		free(x->cert);
		free(x->key);
		x->cert = x->key = NULL;
	}
}

static int check_cert(struct plan_ctx *x, const char *rest, struct error *e)
{
	if (x->cert || x->scheme != SCHEME_NONSPLIT)
		return 0;
	/* Debian's default once TLS is on: CONFDIR/exim.crt and exim.key */
	if (defines_anywhere(rest, "MAIN_TLS_CERTIFICATE") || defines_anywhere(rest, "MAIN_TLS_CERTKEY") ||
	    env_exists(x->env, DEBIAN_DIR "/exim.crt"))
		return 0;
	return err_set(e, _("Exim has no certificate yet (no %s, no MAIN_TLS_CERTIFICATE): give "
			    "--cert and --key"), DEBIAN_DIR "/exim.crt");
}

static void set_vars(struct plan_ctx *x, const char *rest)
{
	char *roles = roles_format(x->a->roles);

	tvars_set(x->v, "version", x->si->version);
	tvars_set(x->v, "profile", x->a->profile->name);
	tvars_set(x->v, "roles", roles);
	free(roles);
	tvars_setb(x->v, "debian", x->scheme != SCHEME_HANDWRITTEN);
	/* an admin's own MAIN_TLS_ENABLE already turns Debian's TLS block on */
	tvars_setb(x->v, "tls_enable", !defines_anywhere(rest, "MAIN_TLS_ENABLE"));
	if (x->cert) {
		tvars_set(x->v, "cert_file", x->cert);
		tvars_set(x->v, "key_file", x->key);
	}
	if (x->acl_file)
		tvars_set(x->v, "acl_file", x->acl_file);
	tvars_set(x->v, "ports", x->ports);
	if (x->a->roles & ROLE_SUBMISSIONS)
		tvars_set(x->v, "tls_on_connect", "465");
	tvars_set(x->v, "auth_advertise", "${if eq{$tls_in_cipher}{}{}{*}}");
	tvars_set(x->v, "dhparam", x->dhparam);
	tvars_set(x->v, "gnutls_ciphers", x->gnutls_value);
	tvars_set(x->v, "openssl_ciphers", x->openssl_value);
	tvars_set(x->v, "openssl_options", x->openssl_options);
}

/* A hand-written file gets our block at the top of its main section:
 * before the first "begin" line. */
static char *insert_block(const char *rest, const char *block)
{
	struct strbuf sb = STRBUF_INIT;
	const char *at = NULL;

	for (const char *l = rest; l && *l;) {
		const char *nl = strchr(l, '\n');
		char *line = xstrndup(l, nl ? (size_t)(nl - l) : strlen(l));

		if (strncmp(trim(line), "begin ", 6) == 0 && at == NULL)
			at = l;
		free(line);
		l = nl ? nl + 1 : NULL;
	}
	if (at == NULL) {
		sb_adds(&sb, rest);
		if (sb.len && sb.buf[sb.len - 1] != '\n')
			sb_addc(&sb, '\n');
		sb_adds(&sb, block);
	} else {
		sb_add(&sb, rest, (size_t)(at - rest));
		sb_adds(&sb, block);
		sb_adds(&sb, at);
	}
	return sb_detach(&sb);
}

#define SUPERSEDED "# mailharden: "

static bool note_seen(struct plan_ctx *x, const char *name)
{
	char *quoted = xasprintf("'%s'", name);
	bool seen = false;

	for (size_t i = 0; i < x->p->notes.n && !seen; i++)
		seen = strstr(x->p->notes.v[i], quoted) != NULL;
	free(quoted);
	return seen;
}

/*
 * A hand-written file is the admin's whole configuration: a main option our
 * block sets is commented out there (marked, so a rollback or a later plan
 * knows it), and the note says so.
 */
static char *supersede(struct plan_ctx *x, const char *rest, const char *block)
{
	struct strbuf sb = STRBUF_INIT;
	bool main_section = true;

	for (const char *l = rest; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l + 1) : strlen(l);
		char *line = xstrndup(l, n);
		bool hit = false;

		if (strncmp(trim(line), "begin ", 6) == 0)
			main_section = false;
		for (const char *b = block; main_section && b && *b && !hit && line[0] != '#';) {
			const char *bnl = strchr(b, '\n');
			char *bl = xstrndup(b, bnl ? (size_t)(bnl - b) : strlen(b));
			char *eq = strchr(bl, '=');

			if (eq && bl[0] != '#' && bl[0] != '.') {
				*eq = '\0';
				hit = defines(l, trim(bl));
				if (hit && !note_seen(x, trim(bl)))
					sl_add_owned(&x->p->notes,
						     xasprintf(_("%s: the earlier '%s' setting is commented out; "
								 "mailharden's block sets it now."),
							       x->macros, trim(bl)));
			}
			free(bl);
			b = bnl ? bnl + 1 : NULL;
		}
		free(line);
		if (hit)
			sb_adds(&sb, SUPERSEDED);
		sb_add(&sb, l, n);
		l += n;
	}
	return sb_detach(&sb);
}

static int plan_macros(struct plan_ctx *x, struct error *e)
{
	char *rest, *block = NULL, *text;
	int rc;

	if (read_optional(x->env, x->macros, &x->old, &x->old_len, e) < 0)
		return -1;
	x->existed = x->old != NULL;
	if (x->a->cert_file) {
		x->cert = xstrdup(x->a->cert_file);
		x->key = xstrdup(x->a->key_file);
	} else {
		keep_cert(x);
	}
	rest = without_block(x->old ? x->old : "");
	if (check_cert(x, rest, e) < 0) {
		free(rest);
		return -1;
	}
	set_vars(x, rest);
	rc = template_render(x->env->templates_dir, "exim/macros.tmpl", x->v, &block, e);
	if (rc == 0 && x->scheme == SCHEME_HANDWRITTEN) {
		char *kept = supersede(x, rest, block);

		free(rest);
		rest = kept;
	} else if (rc == 0) {
		rc = check_duplicates(x, rest, block, e);
	}
	if (rc == 0) {
		if (x->scheme == SCHEME_HANDWRITTEN) {
			text = insert_block(rest, block);
		} else {
			struct strbuf sb = STRBUF_INIT;

			sb_adds(&sb, rest);
			if (sb.len && sb.buf[sb.len - 1] != '\n')
				sb_addc(&sb, '\n');
			sb_adds(&sb, block);
			text = sb_detach(&sb);
		}
		x->text = text;
	}
	free(block);
	free(rest);
	return rc;
}

/* The MAIL ACL ours passes on to: Debian's named acl_check_mail, or the
 * one a hand-written file sets (our own block aside). */
static char *chain_acl(struct plan_ctx *x)
{
	char *text = NULL, *rest, *acl = NULL;
	size_t len;

	if (x->scheme != SCHEME_HANDWRITTEN)
		return xstrdup("acl_check_mail");
	if (read_optional(x->env, x->si->config_file, &text, &len, NULL) < 0 || text == NULL)
		return NULL;
	rest = without_block(text);
	for (const char *l = rest; *l && acl == NULL;) {
		const char *nl = strchr(l, '\n');
		char *line = xstrndup(l, nl ? (size_t)(nl - l) : strlen(l));

		if (strncmp(trim(line), "begin ", 6) == 0) {
			free(line);
			break;
		}
		if (defines(line, "acl_smtp_mail") ||
		    (strncmp(line, SUPERSEDED, sizeof(SUPERSEDED) - 1) == 0 &&
		     defines(line + sizeof(SUPERSEDED) - 1, "acl_smtp_mail")))
			acl = xstrdup(trim(strchr(line, '=') + 1));
		free(line);
		l = nl ? nl + 1 : "";
	}
	free(rest);
	free(text);
	return acl;
}

static int plan_acl(struct plan_ctx *x, struct error *e)
{
	struct tvars *v = tvars_new();
	char *text = NULL, *old = NULL, *chain = chain_acl(x);
	size_t len;
	int rc;

	tvars_setb(v, "submission", x->a->roles & ROLE_SUBMISSION);
	tvars_setb(v, "submissions", x->a->roles & ROLE_SUBMISSIONS);
	if (chain)
		tvars_set(v, "chain_acl", chain);
	rc = template_render(x->env->templates_dir, "exim/acl_check_mail.tmpl", v, &text, e);
	if (rc == 0)
		rc = read_optional(x->env, x->acl_file, &old, &len, e);
	if (rc == 0)
		add_change(x->p, x->acl_file, old != NULL, old, len, text, 0644);
	free(old);
	free(text);
	free(chain);
	tvars_free(v);
	return rc;
}

/* Server authenticators already in a file (not ours): an uncommented
 * server_condition or server_socket line. */
static bool has_server_auth(const char *text)
{
	char *rest = without(text, AUTH_BEGIN, AUTH_END);
	bool found = false;

	for (const char *l = rest; *l && !found;) {
		const char *nl = strchr(l, '\n');
		char *line = xstrndup(l, nl ? (size_t)(nl - l) : strlen(l));
		char *t = trim(line);

		found = t[0] != '#' && (strncmp(t, "server_condition", 16) == 0 ||
					strncmp(t, "server_socket", 13) == 0);
		free(line);
		l = nl ? nl + 1 : "";
	}
	free(rest);
	return found;
}

/* The part of a configuration after "begin authenticators", or NULL. */
static const char *auth_section(const char *text)
{
	const char *p = strstr(text, "\nbegin authenticators");

	return p ? p + 1 : NULL;
}

static char *last_begin(const char *text)
{
	const char *last = NULL;

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');

		if (strncmp(l, "begin ", 6) == 0)
			last = l + 6;
		l = nl ? nl + 1 : NULL;
	}
	return last ? xstrndup(last, strcspn(last, " \t\r\n")) : NULL;
}

static int auth_block(struct plan_ctx *x, bool dovecot, char **out, struct error *e)
{
	struct tvars *v = tvars_new();
	int rc;

	tvars_setb(v, "dovecot", dovecot);
	tvars_set(v, "socket", DOVECOT_SOCKET);
	tvars_set(v, "passwd", PASSWD_FILE);
	tvars_set(v, "plain_condition",
		  "${if crypteq{$auth3}{${extract{1}{:}{${lookup{$auth2}lsearch{" PASSWD_FILE
		  "}{$value}{*:*}}}}}{1}{0}}");
	tvars_set(v, "login_condition",
		  "${if crypteq{$auth2}{${extract{1}{:}{${lookup{$auth1}lsearch{" PASSWD_FILE
		  "}{$value}{*:*}}}}}{1}{0}}");
	rc = template_render(x->env->templates_dir, "exim/auth.tmpl", v, out, e);
	tvars_free(v);
	(void)x;
	return rc;
}

/* Which authenticator, from --sasl: dovecot where the daemon has the
 * driver (exim4-daemon-heavy), else (and when unset or passwd) Exim's own
 * password file, the way Debian documents, which every daemon can do. */
static int sasl_choice(struct plan_ctx *x, bool *dovecot, struct error *e)
{
	char *bv;

	*dovecot = false;
	switch (x->a->sasl) {
	case SASL_CYRUS:
		return err_set(e, _("Exim: --sasl cyrus is not supported; use dovecot or passwd"));
	case SASL_DOVECOT:
		bv = exim_bv(x->env, x->si);
		*dovecot = bv && has_driver(bv, "dovecot");
		free(bv);
		/* the light daemon has no dovecot driver: its own password file */
		if (!*dovecot)
			sl_add(&x->p->notes,
			       _("This Exim has no dovecot authenticator (Debian: exim4-daemon-light): "
				 "it checks passwords in /etc/exim4/passwd instead. Install "
				 "exim4-daemon-heavy to use Dovecot's passwords."));
		return 0;
	default:
		return 0;
	}
}

static int plan_auth(struct plan_ctx *x, struct error *e)
{
	const char *path = x->scheme == SCHEME_SPLIT ? SPLIT_AUTH
			 : x->scheme == SCHEME_NONSPLIT ? TEMPLATE_FILE : x->si->config_file;
	char *old = NULL, *block = NULL, *text = NULL, *existing = NULL;
	size_t len = 0;
	bool dovecot;
	int rc = 0;

	if (x->a->sasl == SASL_NONE) {
		sl_add(&x->p->notes, _("No authenticator (--sasl none): submission is configured, "
				       "but no mail client can log in."));
		return 0;
	}
	if (sasl_choice(x, &dovecot, e) < 0)
		return -1;
	if (x->scheme == SCHEME_HANDWRITTEN) {
		/* the same file as our main block: build on its new text */
		old = xstrdup(x->text);
		len = strlen(old);
	} else if (read_optional(x->env, path, &old, &len, e) < 0) {
		return -1;
	}
	/* someone else's server authenticator stays; auth_advertise_hosts
	 * keeps it behind TLS as well */
	if (x->scheme == SCHEME_SPLIT) {
		char *dir_auth = NULL;
		size_t l2;

		if (read_optional(x->env, DEBIAN_DIR "/conf.d/auth/30_exim4-config_examples",
				  &dir_auth, &l2, e) < 0) {
			free(old);
			return -1;
		}
		existing = dir_auth;
	} else if (old) {
		existing = xstrdup(auth_section(old) ? auth_section(old) : "");
	}
	if (existing && has_server_auth(existing)) {
		sl_add_owned(&x->p->notes,
			     xasprintf(_("%s already defines a server authenticator; it is kept, and "
					 "offered only after TLS (auth_advertise_hosts)."),
				       x->scheme == SCHEME_SPLIT ? DEBIAN_DIR "/conf.d/auth" : path));
		goto out;
	}
	if ((rc = auth_block(x, dovecot, &block, e)) < 0)
		goto out;
	if (x->scheme == SCHEME_SPLIT) {
		text = xstrdup(block);
	} else {
		char *rest = without(old ? old : "", AUTH_BEGIN, AUTH_END), *last = last_begin(rest);
		struct strbuf sb = STRBUF_INIT;

		sb_adds(&sb, rest);
		if (last == NULL || strcmp(last, "authenticators") != 0) {
			if (auth_section(rest) != NULL) {
				rc = err_set(e, _("%s: the authenticators section is not the last one; add "
						  "the authenticator by hand"), path);
				free(rest);
				free(last);
				sb_free(&sb);
				goto out;
			}
			sb_adds(&sb, "\nbegin authenticators\n\n");
		}
		if (sb.len && sb.buf[sb.len - 1] != '\n')
			sb_addc(&sb, '\n');
		sb_adds(&sb, block);
		text = sb_detach(&sb);
		free(rest);
		free(last);
		if (x->scheme == SCHEME_NONSPLIT)
			sl_add_owned(&x->p->notes,
				     xasprintf(_("The authenticator is appended to %s, a dpkg conffile: "
						 "the next exim4-config upgrade asks about it (keep your "
						 "version, or take the new one and run mailharden again). "
						 "A split configuration avoids this."), path));
	}
	if (x->scheme == SCHEME_HANDWRITTEN) {
		free(x->text);
		x->text = xstrdup(text);
	} else {
		add_change(x->p, path, old != NULL, old, len, text, 0644);
	}
	x->auth_added = true;
	sl_add_owned(&x->p->notes,
		     dovecot ? xasprintf(_("AUTH is checked by Dovecot through %s: Dovecot must "
					   "offer that socket to Debian-exim (unix_listener "
					   "auth-client in its service auth)."), DOVECOT_SOCKET)
			     : xasprintf(_("AUTH checks %s (user:crypted-password per line, see "
					   "exim4_passwd(5)); add your users there."), PASSWD_FILE));
out:
	free(existing);
	free(old);
	free(block);
	free(text);
	return rc;
}

static void plan_expect(struct plan_ctx *x)
{
	struct expect_list *l = &x->p->expect;
	unsigned sub = x->a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS);
	bool gnutls = x->si->tls_library && strcmp(x->si->tls_library, "GnuTLS") == 0;
	const char *g = gnutls_profile(x->a->profile);
	const char *o = openssl_ciphers(x->a->profile);

	expect_add(l, "", NULL, "tls_advertise_hosts", "*", x->a->roles);
	if (x->cert) {
		expect_add(l, "", NULL, "tls_certificate", x->cert, x->a->roles);
		expect_add(l, "", NULL, "tls_privatekey", x->key, x->a->roles);
	}
	expect_add(l, "", NULL, "daemon_smtp_ports", x->ports, x->a->roles);
	if (x->a->roles & ROLE_SUBMISSIONS)
		expect_add(l, "", NULL, "tls_on_connect_ports", "465", ROLE_SUBMISSIONS);
	expect_add(l, "", NULL, "auth_advertise_hosts", "${if eq{$tls_in_cipher}{}{}{*}}", sub);
	expect_add(l, "", NULL, "tls_dhparam", x->dhparam, x->a->roles);
	if (x->acl_file)
		expect_add(l, "", NULL, "acl_smtp_mail", x->acl_file, sub);
	if (!gnutls)
		expect_add(l, "", NULL, "openssl_options", x->openssl_options, x->a->roles);
	for (const struct role_info *ri = role_table(); ri->name; ri++) {
		char *scope, *label;
		const char *want;

		if (!(x->a->roles & ri->role))
			continue;
		scope = xasprintf("port=%d", ri->port);
		label = xasprintf(_("port %d"), ri->port);
		if (ri->role == ROLE_MX)
			want = gnutls ? GNUTLS_MX : OPENSSL_MX;
		else
			want = gnutls ? g : o;
		expect_add(l, scope, label, "tls_require_ciphers", want, ri->role);
		free(scope);
		free(label);
	}
	if (x->auth_added) {
		static const char *const auths[] = {"mh_plain", "mh_login", "mh_dovecot_plain",
						    "mh_dovecot_login"};
		bool dovecot = x->a->sasl == SASL_DOVECOT;

		for (size_t i = dovecot ? 2 : 0; i < (dovecot ? 4u : 2u); i++) {
			char *scope = xasprintf("authenticator=%s", auths[i]);
			char *label = xasprintf(_("authenticator %s"), auths[i]);

			expect_add(l, scope, label, "server_advertise_condition", "${if def:tls_in_cipher}",
				   sub);
			free(scope);
			free(label);
		}
	}
}

static void plan_settings(struct plan_ctx *x)
{
	struct strlist *s = &x->p->settings;
	bool gnutls = x->si->tls_library && strcmp(x->si->tls_library, "GnuTLS") == 0;

	if (x->scheme != SCHEME_HANDWRITTEN) {
		sl_add(s, "MAIN_TLS_ENABLE = yes");
		sl_add(s, "MAIN_TLS_ADVERTISE_HOSTS = *");
	} else {
		sl_add(s, "tls_advertise_hosts = *");
	}
	if (x->cert) {
		sl_add_owned(s, xasprintf("%s = %s", x->scheme != SCHEME_HANDWRITTEN
				? "MAIN_TLS_CERTIFICATE" : "tls_certificate", x->cert));
		sl_add_owned(s, xasprintf("%s = %s", x->scheme != SCHEME_HANDWRITTEN
				? "MAIN_TLS_PRIVATEKEY" : "tls_privatekey", x->key));
	}
	sl_add_owned(s, xasprintf("daemon_smtp_ports = %s", x->ports));
	if (x->a->roles & ROLE_SUBMISSIONS)
		sl_add(s, "tls_on_connect_ports = 465");
	sl_add(s, "auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}");
	sl_add_owned(s, xasprintf("tls_dhparam = %s", x->dhparam));
	if (gnutls) {
		sl_add_owned(s, xasprintf("tls_require_ciphers = %s", x->gnutls_value));
	} else {
		sl_add_owned(s, xasprintf("openssl_options = %s", x->openssl_options));
		sl_add_owned(s, xasprintf("tls_require_ciphers = %s", x->openssl_value));
	}
	if (x->acl_file)
		sl_add_owned(s, xasprintf("%s = %s", x->scheme != SCHEME_HANDWRITTEN
				? "MAIN_ACL_CHECK_MAIL" : "acl_smtp_mail", x->acl_file));
	if (x->auth_added)
		sl_add(s, "server_advertise_condition = ${if def:tls_in_cipher}");
}

static void plan_notes(struct plan_ctx *x)
{
	unsigned untouched = x->si->roles_served & ~x->a->roles;

	if (untouched) {
		char *r = roles_format(untouched);

		sl_add_owned(&x->p->notes, xasprintf(_("Served but not chosen, left unchanged: %s."), r));
		free(r);
	}
	if (x->si->loopback_only && (x->a->roles & ROLE_MX))
		sl_add(&x->p->notes,
		       _("Exim listens on 127.0.0.1 and ::1 only (dc_local_interfaces in "
			 "/etc/exim4/update-exim4.conf.conf, Debian's 'local delivery only' setup): "
			 "port 25 receives no mail from other servers. mailharden leaves that as it "
			 "is; run 'dpkg-reconfigure exim4-config' to receive mail from the Internet."));
	if (x->si->tls_library && strcmp(x->si->tls_library, "OpenSSL") == 0)
		sl_add(&x->p->notes,
		       _("This Exim uses OpenSSL: openssl_options applies to every port, so TLS 1.0 "
			 "stays possible in principle; on the submission ports the cipher list "
			 "leaves no suite older clients could use."));
}

static int check_answers(const struct server_info *si, const struct answers *a, struct error *e)
{
	const char *paths[] = {a->cert_file, a->key_file};
	unsigned bad = a->roles & ~(unsigned)ROLES_SMTP;

	if (!si->usable)
		return err_set(e, _("Exim cannot be configured: %s"), si->why ? si->why : "?");
	if (bad) {
		char *r = roles_format(bad);

		err_set(e, _("exim cannot serve role %s"), r);
		free(r);
		return -1;
	}
	if (a->roles == 0)
		return err_set(e, _("no role chosen for exim"));
	if (a->profile == NULL || gnutls_profile(a->profile) == NULL)
		return err_set(e, _("no profile chosen"));
	if ((a->cert_file == NULL) != (a->key_file == NULL))
		return err_set(e, _("--cert and --key go together"));
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		if (paths[i] == NULL)
			continue;
		if (!text_is_clean(paths[i]) || strpbrk(paths[i], " :$\\{}") != NULL)
			return err_set(e, _("%s: a path for Exim must not contain blanks, control "
					    "characters, ':', '$', '\\' or braces"), paths[i]);
		if (paths[i][0] != '/')
			return err_set(e, _("%s: give an absolute path"), paths[i]);
	}
	if (a->dh_file && !dh_group_name_valid(a->dh_file) &&
	    (a->dh_file[0] != '/' || !text_is_clean(a->dh_file) || strpbrk(a->dh_file, " :$\\{}")))
		return err_set(e, _("tls_dhparam: '%s' is neither an RFC 7919 group (ffdhe2048 ...) "
				    "nor an absolute path"), text_is_clean(a->dh_file) ? a->dh_file : "?");
	return 0;
}

/* Options set after our block would win over it: a later listener option
 * in /etc/default/exim4 in particular. */
static int check_listener(struct plan_ctx *x, struct error *e)
{
	char *ox = listener_ports(x->env);
	int ports[32];
	size_t n;
	int rc = 0;

	if (ox == NULL)
		return 0;
	n = port_list(ox, ports, ARRAY_LEN(ports));
	for (const struct role_info *ri = role_table(); ri->name && rc == 0; ri++)
		if ((x->a->roles & ri->role) && !has_port(ports, n, ri->port))
			rc = err_set(e, _("/etc/default/exim4: SMTPLISTENEROPTIONS '-oX %s' overrides "
					  "daemon_smtp_ports and lacks port %d (role %s): add it there "
					  "or remove -oX"), ox, ri->port, ri->name);
	free(ox);
	return rc;
}

static int exim_plan(const struct env *env, const struct server_info *si, const struct answers *a,
		     struct plan *p, struct error *e)
{
	struct plan_ctx x;
	int rc = -1;

	if (check_answers(si, a, e) < 0)
		return -1;
	memset(&x, 0, sizeof(x));
	x.env = env;
	x.si = si;
	x.a = a;
	x.p = p;
	p->server = si;
	x.scheme = scheme_of(env, si);
	x.macros = macros_file(x.scheme, si);
	if (check_listener(&x, e) < 0)
		return -1;
	if (a->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS))
		x.acl_file = path_join(si->config_dir, ACL_NAME);
	x.ports = plan_ports(&x);
	plan_tls_values(&x);
	x.v = tvars_new();
	if (plan_macros(&x, e) == 0 && (!x.acl_file || plan_acl(&x, e) == 0) &&
	    (!x.acl_file || plan_auth(&x, e) == 0)) {
		add_change(p, x.macros, x.existed, x.old, x.old_len, x.text, 0644);
		plan_expect(&x);
		plan_settings(&x);
		plan_notes(&x);
		rc = 0;
	}
	tvars_free(x.v);
	free(x.old);
	free(x.acl_file);
	free(x.gnutls_value);
	free(x.openssl_value);
	free(x.openssl_options);
	free(x.ports);
	free(x.dhparam);
	free(x.cert);
	free(x.key);
	free(x.text);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The configuration Exim reads                                        */
/* ------------------------------------------------------------------ */

/* A new empty file in the state directory (server path). */
static char *state_tmp(const struct env *env, struct error *e)
{
	char *host = path_join(env->state_dir, "exim-config.XXXXXX"), *server;
	int fd;

	if (fs_mkdir_p(env->state_dir, 0700) < 0 || (fd = mkstemp(host)) < 0) {
		err_sys(e, _("cannot create a file in %s"), env->state_dir);
		free(host);
		return NULL;
	}
	close(fd);
	server = env_server_path(env, host);
	if (server == NULL) {
		unlink(host);
		err_set(e, _("the state directory is outside the root"));
	}
	free(host);
	return server;
}

static void remove_server_file(const struct env *env, const char *server_path)
{
	char *host;

	if (server_path == NULL)
		return;
	host = env_host_path(env, server_path);
	unlink(host);
	free(host);
}

/*
 * update-exim4.conf tests for the non-split local macros file under the
 * fixed /etc/exim4, also when told to read another directory: when only the
 * staged copy has one, it is put in front here, as the script does.
 */
static int add_staged_macros(const struct env *env, const char *confdir, const char *out,
			     struct error *e)
{
	char *staged = path_join(confdir, "exim4.conf.localmacros");
	char *mtext = NULL, *gtext = NULL, *host = NULL;
	size_t mlen, glen;
	int rc = 0;

	if (strcmp(confdir, DEBIAN_DIR) == 0 || env_exists(env, NONSPLIT_MACROS) ||
	    !env_exists(env, staged))
		goto out;
	host = env_host_path(env, out);
	if (read_optional(env, staged, &mtext, &mlen, e) < 0 || read_file(host, &gtext, &glen, e) < 0) {
		rc = -1;
		goto out;
	}
	{
		struct strbuf sb = STRBUF_INIT;
		struct file_meta m = {0, 0, 0644, NULL};

		sb_add(&sb, mtext, mlen);
		sb_add(&sb, gtext, glen);
		m.uid = geteuid();
		m.gid = getegid();
		if (fs_replace(host, sb.buf, sb.len, &m) < 0)
			rc = err_sys(e, _("cannot write %s"), out);
		sb_free(&sb);
	}
out:
	free(staged);
	free(mtext);
	free(gtext);
	free(host);
	return rc;
}

/*
 * The configuration Exim would read from confdir (server path of the real
 * /etc/exim4 or a staged copy): Debian's update-exim4.conf writes it to a
 * temporary file (*tmp, to be removed); a hand-written file is read as it is.
 */
static int generated_config(const struct env *env, const struct server_info *si,
			    const char *confdir, char **conf, char **tmp, struct error *e)
{
	struct server_info tool;
	struct spawn_result r;
	char buf[512], *tool_dir, *tool_out;
	int rc = 0;

	*conf = *tmp = NULL;
	if (scheme_of(env, si) == SCHEME_HANDWRITTEN) {
		*conf = path_join(confdir, path_base(si->config_file));
		return 0;
	}
	memset(&tool, 0, sizeof(tool));
	if (!server_find_binary(env, &tool, ue4c_candidates))
		return err_set(e, _("update-exim4.conf not found: cannot build the configuration"));
	if ((*tmp = state_tmp(env, e)) == NULL) {
		free(tool.binary);
		return -1;
	}
	tool_dir = server_tool_path(env, &tool, confdir);
	tool_out = server_tool_path(env, &tool, *tmp);
	{
		const char *argv[] = {tool.binary, "-d", tool_dir, "-o", tool_out, NULL};

		memset(&r, 0, sizeof(r));
		if (server_exec(env, &tool, argv, &r, e) < 0)
			rc = err_prefix(e, "update-exim4.conf");
		else if (r.exit_code != 0)
			rc = err_set(e, _("update-exim4.conf failed: %s"), error_line(&r, buf, sizeof(buf)));
		spawn_result_free(&r);
	}
	if (rc == 0)
		rc = add_staged_macros(env, confdir, *tmp, e);
	if (rc == 0)
		*conf = xstrdup(*tmp);
	free(tool_dir);
	free(tool_out);
	free(tool.binary);
	return rc;
}

/*
 * The staged configuration update-exim4.conf built for validate() is what
 * effective() asks next (the engine calls them in turn on the same stage):
 * kept once, so a stage is built once.  Any other directory clears it.
 */
static struct {
	char *dir;  /* stage directory (server path) */
	char *conf; /* the file built from it (server path) */
} staged;

static void staged_clear(const struct env *env)
{
	remove_server_file(env, staged.conf);
	free(staged.conf);
	free(staged.dir);
	staged.conf = staged.dir = NULL;
}

/* ------------------------------------------------------------------ */
/* Effective values                                                    */
/* ------------------------------------------------------------------ */

static void judge(struct expectation *x, const char *got, const char *origin)
{
	enum expect_state st = expect_judge(x, got);

	expect_set(x, got, st == EXPECT_HOLDS ? origin : NULL, st);
}

static void effective_main(const struct env *env, const struct server_info *si, const char *conf,
			   struct expect_list *l, const char *origin)
{
	const char *names[14];
	size_t n = 0;
	struct bp b;
	struct error e;

	for (size_t i = 0; i < l->n && n < ARRAY_LEN(names) - 1; i++) {
		bool dup = false;

		for (size_t j = 0; j < n; j++)
			dup |= strcmp(names[j], l->items[i].name) == 0;
		if (!dup && (l->items[i].scope[0] == '\0' || strncmp(l->items[i].scope, "port=", 5) == 0))
			names[n++] = l->items[i].name;
	}
	names[n] = NULL;
	if (n == 0 || exim_bp(env, si, conf, names, &b, &e) < 0)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct expectation *x = &l->items[i];
		const char *got = bp_get(&b, x->name);

		if (x->scope[0] == '\0')
			judge(x, got, origin);
		else if (strncmp(x->scope, "port=", 5) == 0)
			expect_set(x, got, NULL, EXPECT_UNKNOWN); /* raw; expanded below */
	}
	bp_free(&b);
}

/* Expands a port's values as the daemon does for a connection to that
 * port (-oMi sets $received_port; $tls_in_cipher is unset, as before TLS). */
static void effective_port(const struct env *env, const struct server_info *si, const char *conf,
			   struct expect_list *l, const char *scope, const char *origin)
{
	char *iface = xasprintf("127.0.0.1.%s", scope + 5);
	const char *args[] = {"-oMi", iface, "-be", NULL};
	struct strbuf in = STRBUF_INIT;
	struct spawn_result r;
	struct error e;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i].scope, scope) == 0)
			/* "x": a line starting with a capital letter would define a macro */
			sb_addf(&in, "x%s\n", l->items[i].got ? l->items[i].got : "");
	if (exim_run(env, si, conf, args, in.buf ? in.buf : "", &r, &e) == 0 && r.exit_code == 0) {
		char *save = NULL, *line = strtok_r(r.out, "\n", &save);

		for (size_t i = 0; i < l->n; i++) {
			struct expectation *x = &l->items[i];

			if (strcmp(x->scope, scope) != 0)
				continue;
			if (line && strncmp(line, "> x", 3) == 0)
				judge(x, line + 3, origin);
			else if (line)
				expect_set(x, line + (line[0] == '>' ? 2 : 0), NULL, EXPECT_WEAKER);
			else
				expect_set(x, NULL, NULL, EXPECT_UNKNOWN);
			line = strtok_r(NULL, "\n", &save);
		}
	}
	spawn_result_free(&r);
	sb_free(&in);
	free(iface);
}

static void effective_auth(const struct env *env, const struct server_info *si, const char *conf,
			   struct expectation *x, const char *origin)
{
	const char *args[] = {"-bP", "authenticator", x->scope + 14, NULL};
	struct spawn_result r;
	struct error e;
	struct bp b;

	memset(&b, 0, sizeof(b));
	if (exim_run(env, si, conf, args, NULL, &r, &e) == 0 && r.exit_code == 0)
		bp_parse(&b, r.out);
	judge(x, bp_get(&b, x->name), origin);
	bp_free(&b);
	spawn_result_free(&r);
}

static int exim_effective(const struct env *env, const struct server_info *si,
			  const char *config_dir, struct expect_list *l, struct error *e)
{
	static const char *const bv[] = {"-bV", NULL};
	char *conf = NULL, *tmp = NULL, *origin;
	struct spawn_result r;
	char buf[512];
	int rc = 0;

	if (staged.dir && strcmp(staged.dir, config_dir) != 0)
		staged_clear(env);

	/* on the live system the daemon runs what update-exim4.conf installed
	 * (the reload ran it); elsewhere, what it would build from the files */
	if (env->root[0] == '\0' && strcmp(config_dir, si->config_dir) == 0 &&
	    (conf = current_config(env, si)) != NULL) {
		tmp = NULL;
	} else if (staged.dir && strcmp(staged.dir, config_dir) == 0) {
		conf = xstrdup(staged.conf);
		tmp = xstrdup(staged.conf);
		free(staged.conf);
		free(staged.dir);
		staged.conf = staged.dir = NULL;
	} else if (generated_config(env, si, config_dir, &conf, &tmp, e) < 0) {
		remove_server_file(env, tmp);
		free(tmp);
		return -1;
	}
	if (exim_run(env, si, conf, bv, NULL, &r, e) < 0 || r.exit_code != 0) {
		rc = err_set(e, _("exim -bV rejects the configuration: %s"),
			     r.exit_code > 0 ? error_line(&r, buf, sizeof(buf)) : e->msg);
		spawn_result_free(&r);
		goto out;
	}
	spawn_result_free(&r);
	/* the file as the admin knows it, never a stage path */
	origin = xstrdup(macros_file(scheme_of(env, si), si));
	effective_main(env, si, conf, l, origin);
	for (size_t i = 0; i < l->n; i++) {
		const char *scope = l->items[i].scope;
		bool first = true;

		if (strncmp(scope, "authenticator=", 14) == 0) {
			effective_auth(env, si, conf, &l->items[i], origin);
			continue;
		}
		if (strncmp(scope, "port=", 5) != 0)
			continue;
		for (size_t j = 0; j < i; j++)
			first &= strcmp(l->items[j].scope, scope) != 0;
		if (first)
			effective_port(env, si, conf, l, scope, origin);
	}
	free(origin);
out:
	remove_server_file(env, tmp);
	free(tmp);
	free(conf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Validate                                                            */
/* ------------------------------------------------------------------ */

/* Every tls_require_ciphers and tls_dhparam value in the text we write,
 * with the .ifdef it sits in. */
static int check_text(const struct server_info *si, const char *path, const char *text,
		      struct error *e)
{
	bool gnutls = si->tls_library && strcmp(si->tls_library, "GnuTLS") == 0;
	char ifdef[64] = "";
	int lineno = 0, rc = 0;

	for (const char *l = text; l && *l && rc == 0;) {
		const char *nl = strchr(l, '\n');
		char *copy = xstrndup(l, nl ? (size_t)(nl - l) : strlen(l)), *line = trim(copy);
		char *eq = strchr(line, '=');

		lineno++;
		if (strncmp(line, ".ifdef ", 7) == 0)
			snprintf(ifdef, sizeof(ifdef), "%s", trim(line + 7));
		else if (strncmp(line, ".endif", 6) == 0)
			ifdef[0] = '\0';
		else if (eq && line[0] != '#') {
			char *value = trim(eq + 1), *where;

			*eq = '\0';
			where = xasprintf("%s line %d (%s)", path, lineno, trim(line));
			if (strcmp(trim(line), "tls_require_ciphers") == 0 &&
			    (strcmp(ifdef, "_HAVE_GNUTLS") == 0 || (ifdef[0] == '\0' && gnutls))) {
				struct strlist branches = STRLIST_INIT;

				if (expansion_branches(value, &branches) < 0)
					rc = err_set(e, _("%s: cannot read the expansion '%s'"), where, value);
				for (size_t i = 0; rc == 0 && i < branches.n; i++)
					if (branches.v[i][0])
						rc = priority_check(where, branches.v[i], e);
				sl_free(&branches);
			} else if (strcmp(trim(line), "tls_dhparam") == 0 && value[0] != '/' &&
				   !dh_group_name_valid(value)) {
				rc = err_set(e, _("%s: '%s' is not an RFC 7919 group (ffdhe2048, "
						  "ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192) nor a file"),
					     where, value);
			}
			free(where);
		}
		free(copy);
		l = nl ? nl + 1 : NULL;
	}
	return rc;
}

/* The uid and gid Exim runs as, from the root's passwd file. */
static bool exim_ids(const struct env *env, uid_t *uid, gid_t *gid, char **name)
{
	static const char *const users[] = {"Debian-exim", "exim", "mailnull"};
	char *host = env_host_path(env, "/etc/passwd"), *text = NULL;
	size_t len;
	bool found = false;

	if (read_file(host, &text, &len, NULL) == 0) {
		for (size_t u = 0; u < ARRAY_LEN(users) && !found; u++) {
			size_t n = strlen(users[u]);

			for (const char *l = text; l && *l && !found; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
				unsigned long id, g;

				if (strncmp(l, users[u], n) != 0 || l[n] != ':')
					continue;
				if (sscanf(l + n, ":%*[^:]:%lu:%lu:", &id, &g) == 2) {
					*uid = (uid_t)id;
					*gid = (gid_t)g;
					*name = xstrdup(users[u]);
					found = true;
				}
			}
		}
	}
	free(text);
	free(host);
	return found;
}

/* Exim reads the key after dropping root: a root-only key fails every
 * STARTTLS ("Error while reading file") although -bV is content. */
static int key_check(const struct env *env, const char *key, struct error *e)
{
	char *host, *user = NULL;
	struct stat st;
	uid_t uid;
	gid_t gid;
	int rc = 0;

	if (key == NULL || !exim_ids(env, &uid, &gid, &user))
		return 0;
	host = env_host_path(env, key);
	if (stat(host, &st) == 0 && !(st.st_uid == uid && (st.st_mode & S_IRUSR)) &&
	    !(st.st_gid == gid && (st.st_mode & S_IRGRP)) && !(st.st_mode & S_IROTH))
		rc = err_set(e, _("key %s cannot be read by %s, the user Exim reads it as (every "
				  "STARTTLS would fail): chgrp %s %s; chmod 640 %s"),
			     key, user, user, key, key);
	free(user);
	free(host);
	return rc;
}

static int exim_check_staged(const struct env *env, const struct server_info *si,
			     const char *stage_dir, struct error *e)
{
	static const char *const bv[] = {"-bV", NULL};
	char *conf = NULL, *tmp = NULL;
	struct spawn_result r;
	char buf[512];
	int rc = 0;

	staged_clear(env);
	if (generated_config(env, si, stage_dir, &conf, &tmp, e) < 0) {
		rc = -1;
	} else if (exim_run(env, si, conf, bv, NULL, &r, e) < 0) {
		rc = err_prefix(e, "exim -bV");
	} else {
		if (r.exit_code != 0)
			rc = err_set(e, _("exim -bV rejects the configuration: %s"),
				     error_line(&r, buf, sizeof(buf)));
		spawn_result_free(&r);
	}
	if (rc == 0 && tmp) {
		staged.dir = xstrdup(stage_dir);
		staged.conf = tmp;
		tmp = NULL;
	}
	remove_server_file(env, tmp);
	free(tmp);
	free(conf);
	return rc;
}

static int exim_validate(const struct env *env, const struct server_info *si,
			 const struct plan *p, const char *stage_dir, struct error *e)
{
	for (size_t i = 0; i < p->n_changes; i++)
		if (check_text(si, p->changes[i].path, p->changes[i].new_text, e) < 0)
			return -1;
	for (size_t i = 0; i < p->expect.n; i++)
		if (strcmp(p->expect.items[i].name, "tls_privatekey") == 0 &&
		    key_check(env, p->expect.items[i].want, e) < 0)
			return -1;
	/* the staged files as Exim reads them must pass exim -bV; the engine
	 * then asks effective() for every value */
	if (exim_check_staged(env, si, stage_dir, e) < 0) {
		char *stage = server_tool_path(env, si, stage_dir);
		char *at = strstr(e->msg, stage);

		if (at) {
			char *fixed = xasprintf("%.*s%s%s", (int)(at - e->msg), e->msg, si->config_dir,
						at + strlen(stage));

			snprintf(e->msg, sizeof(e->msg), "%s", fixed);
			free(fixed);
		}
		free(stage);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reload                                                              */
/* ------------------------------------------------------------------ */

static pid_t daemon_pid(const struct env *env)
{
	static const char *const pidfiles[] = {
		"/run/exim4/exim.pid", "/var/run/exim4/exim.pid", "/run/exim.pid", "/var/run/exim.pid",
		"/var/spool/exim/exim-daemon.pid",
	};

	for (size_t i = 0; i < ARRAY_LEN(pidfiles); i++) {
		char *host = env_host_path(env, pidfiles[i]), *data = NULL;
		size_t len;
		long pid = 0;

		if (read_file(host, &data, &len, NULL) == 0)
			pid = strtol(data, NULL, 10);
		free(data);
		free(host);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			return (pid_t)pid;
	}
	return 0;
}

static int exim_reload(const struct env *env, const struct server_info *si, struct error *e)
{
	const struct timespec pause = {1, 0};
	pid_t pid;

	if (scheme_of(env, si) != SCHEME_HANDWRITTEN) {
		struct server_info tool;
		struct spawn_result r;
		char buf[512];
		int rc = 0;

		memset(&tool, 0, sizeof(tool));
		if (!server_find_binary(env, &tool, ue4c_candidates))
			return err_set(e, _("update-exim4.conf not found: cannot install the new "
					    "configuration"));
		const char *argv[] = {tool.binary, NULL};

		memset(&r, 0, sizeof(r));
		if (server_exec(env, &tool, argv, &r, e) < 0)
			rc = err_prefix(e, "update-exim4.conf");
		else if (r.exit_code != 0)
			rc = err_set(e, _("update-exim4.conf failed: %s"), error_line(&r, buf, sizeof(buf)));
		spawn_result_free(&r);
		free(tool.binary);
		if (rc < 0)
			return rc;
	}
	pid = daemon_pid(env);
	if (pid == 0)
		return err_set(e, _("the Exim daemon is not running (no live pid in /run/exim4/exim.pid)"));
	/* on SIGHUP the daemon re-executes itself with the new configuration */
	if (kill(pid, SIGHUP) < 0)
		return err_sys(e, _("cannot signal Exim (pid %ld)"), (long)pid);
	nanosleep(&pause, NULL);
	if (kill(pid, 0) < 0 && errno != EPERM)
		return err_set(e, _("Exim (pid %ld) exited after the reload"), (long)pid);
	return 0;
}

const struct backend exim_backend = {
	.name = "exim",
	.display_name = "Exim",
	.roles_possible = ROLES_SMTP,
	.detect = exim_detect,
	.plan = exim_plan,
	.validate = exim_validate,
	.reload = exim_reload,
	.effective = exim_effective,
};
