/*
 * dovecot.c - the Dovecot backend (generations 2.2, 2.3 and 2.4).
 *
 * Dovecot gets ONE file managed by mailharden, read after the packaged
 * ones: CONFDIR/conf.d/99-mailharden-tls.conf.  The only edit to a packaged
 * file is one `!include_try` line appended to dovecot.conf when nothing
 * includes the conf.d files already.  Keeping our settings in a file of our own
 * makes the change easy to review and to remove, and survives package
 * upgrades that replace the packaged conf.d files.
 *
 * The setting names differ per generation (2.4 renamed most ssl_* file
 * settings and rejects the old names), so each generation has its own
 * template: templates/dovecot/<gen>/99-mailharden-tls.conf.tmpl.
 */
#include "backend.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../core/fsutil.h"
#include "../core/spawn.h"
#include "../core/template.h"
#include "../core/txn.h"
#include "../core/version.h"

extern const struct backend dovecot_backend;

#define DROPIN_NAME "99-mailharden-tls.conf"
#define INCLUDE_DEPTH_MAX 8
#define SECTION_DEPTH_MAX 16

enum generation { GEN_NONE, GEN_22, GEN_23, GEN_24 };

static const char *const config_candidates[] = {
	"/etc/dovecot/dovecot.conf", "/usr/local/etc/dovecot/dovecot.conf", NULL,
};
static const char *const doveconf_candidates[] = {
	"/usr/bin/doveconf", "/usr/local/bin/doveconf", NULL,
};
static const char *const dovecot_candidates[] = {
	"/usr/sbin/dovecot", "/usr/local/sbin/dovecot", NULL,
};
static const char *const doveadm_candidates[] = {
	"/usr/bin/doveadm", "/usr/local/bin/doveadm", NULL,
};

/* The four inet listeners mailharden may open or close. */
struct listener {
	const char *service;  /* "imap-login" */
	const char *name;     /* "imaps" (also the template variable prefix) */
	enum role role;
	const char *proto;    /* "imap" */
	const char *port;     /* standard port, used to reopen a closed listener */
};

static const struct listener listeners[] = {
	{"imap-login", "imap", ROLE_IMAP, "imap", "143"},
	{"imap-login", "imaps", ROLE_IMAPS, "imap", "993"},
	{"pop3-login", "pop3", ROLE_POP3, "pop3", "110"},
	{"pop3-login", "pop3s", ROLE_POP3S, "pop3", "995"},
};

/* ------------------------------------------------------------------ */
/* A small reader for Dovecot's config syntax                          */
/* ------------------------------------------------------------------ */

struct conf_setting {
	char *key;   /* "ssl", or "service imap-login/inet_listener imaps/port" */
	char *value; /* quotes removed */
	char *file;  /* server path it came from */
	int line;    /* 1-based line in file */
};

/* A top-level section "plugin {" ... "}" as read. */
struct conf_section {
	char *header;
	char *file;
	int first, last;
	bool has_settings;
};

struct conf {
	const struct env *env;
	const char *main_file;    /* server path of dovecot.conf */
	const char *dropin;       /* server path of our drop-in */
	struct conf_setting *v;   /* in the order Dovecot reads them */
	size_t n, cap;
	size_t dropin_pos;        /* index where our drop-in's settings are read */
	bool dropin_pos_set;
	struct strlist protocols;
	bool protocols_seen;
	bool includes_dropin;     /* an active include in dovecot.conf reaches the drop-in */
	char *section[SECTION_DEPTH_MAX];
	int depth;
	char *heredoc;            /* end marker while skipping a <<MARKER value */
	char *error;              /* the first file that could not be read */
	int line;                 /* line being read */
	struct strlist filters;   /* filter sections seen: "protocol imap", "local 10.0.0.1/protocol imap" */
	const char *file;         /* file being read */
	struct conf_section *top; /* top-level sections, for the 2.4 migration */
	size_t n_top;
};

static void conf_init(struct conf *c, const struct env *env, const char *main_file,
		      const char *dropin)
{
	memset(c, 0, sizeof(*c));
	c->env = env;
	c->main_file = main_file;
	c->dropin = dropin;
}

static void conf_free(struct conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
		free(c->v[i].file);
	}
	free(c->v);
	sl_free(&c->protocols);
	sl_free(&c->filters);
	for (size_t i = 0; i < c->n_top; i++) {
		free(c->top[i].header);
		free(c->top[i].file);
	}
	free(c->top);
	for (int i = 0; i < c->depth && i < SECTION_DEPTH_MAX; i++)
		free(c->section[i]);
	free(c->heredoc);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

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

static char *unquote(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

/* '#' starts a comment at the line start or after blanks, outside quotes. */
static void strip_comment(char *line)
{
	bool quoted = false;

	for (char *p = line; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '#' && !quoted && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}


static void protocols_assign(struct conf *c, const char *value)
{
	struct strlist next = STRLIST_INIT;
	char *copy = xstrdup(value), *save = NULL;

	for (char *t = strtok_r(copy, " ,\t\n", &save); t; t = strtok_r(NULL, " ,\t\n", &save)) {
		/* "$protocols" (2.3) and "$SET:protocols" (2.4) keep the list so far */
		if (t[0] == '$') {
			for (size_t i = 0; i < c->protocols.n; i++)
				sl_add(&next, c->protocols.v[i]);
		} else if (strcmp(t, "none") != 0) {
			sl_add(&next, t);
		}
	}
	free(copy);
	sl_free(&c->protocols);
	c->protocols = next;
	c->protocols_seen = true;
}

static bool protocol_listed(const struct strlist *sl, const char *proto)
{
	for (size_t i = 0; i < sl->n; i++)
		if (strcmp(sl->v[i], proto) == 0)
			return true;
	return false;
}

/* 2.4 boollist form: protocols { imap = yes } */
static void protocols_toggle(struct conf *c, const char *proto, const char *value)
{
	bool on = strcmp(value, "yes") == 0;
	struct strlist next = STRLIST_INIT;

	for (size_t i = 0; i < c->protocols.n; i++)
		if (strcmp(c->protocols.v[i], proto) != 0)
			sl_add(&next, c->protocols.v[i]);
	if (on)
		sl_add(&next, proto);
	sl_free(&c->protocols);
	c->protocols = next;
	c->protocols_seen = true;
}

static void conf_add_setting(struct conf *c, const char *file, char *piece)
{
	char *eq = strchr(piece, '=');
	struct strbuf key = STRBUF_INIT;
	struct conf_setting *s;
	char *name, *value;

	if (eq == NULL)
		return;
	*eq = '\0';
	name = trim(piece);
	value = trim(eq + 1);
	if (*name == '\0')
		return;
	if (strncmp(value, "<<", 2) == 0) {
		free(c->heredoc);
		c->heredoc = xstrdup(trim(value + 2));
		value = "";
	}
	value = unquote(value);
	if (c->depth == 0 && strcmp(name, "protocols") == 0)
		protocols_assign(c, value);
	if (c->depth == 1 && c->section[0] && strcmp(c->section[0], "protocols") == 0)
		protocols_toggle(c, name, value);
	for (int i = 0; i < c->depth && i < SECTION_DEPTH_MAX; i++) {
		sb_adds(&key, c->section[i] ? c->section[i] : "");
		sb_addc(&key, '/');
	}
	sb_adds(&key, name);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 32;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	s = &c->v[c->n++];
	s->key = sb_detach(&key);
	s->value = xstrdup(value);
	s->file = xstrdup(file);
	s->line = c->line;
	if (c->depth > 0 && c->n_top)
		c->top[c->n_top - 1].has_settings = true;
}

/* Sections that select where settings apply, rather than name an object. */
static bool is_filter(const char *header)
{
	static const char *const kinds[] = {"protocol ", "local ", "remote ", "local_name "};

	for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
		if (strncmp(header, kinds[i], strlen(kinds[i])) == 0)
			return true;
	return false;
}

static void note_filter(struct conf *c)
{
	struct strbuf sb = STRBUF_INIT;

	for (int i = 0; i < c->depth && i < SECTION_DEPTH_MAX; i++) {
		if (c->section[i] == NULL || !is_filter(c->section[i])) {
			sb_free(&sb);
			return;
		}
		sb_addf(&sb, "%s%s", i ? "/" : "", c->section[i]);
	}
	if (!protocol_listed(&c->filters, sb.buf ? sb.buf : ""))
		sl_add(&c->filters, sb.buf ? sb.buf : "");
	sb_free(&sb);
}

static void conf_push(struct conf *c, const char *header)
{
	if (c->depth == 0) {
		struct conf_section *t;

		c->top = xrealloc(c->top, (c->n_top + 1) * sizeof(*c->top));
		t = &c->top[c->n_top++];
		t->header = xstrdup(header);
		t->file = xstrdup(c->file ? c->file : "");
		t->first = t->last = c->line;
		t->has_settings = false;
	}
	if (c->depth < SECTION_DEPTH_MAX)
		c->section[c->depth] = xstrdup(header);
	c->depth++;
	note_filter(c);
}

static void conf_pop(struct conf *c)
{
	if (c->depth == 0)
		return;
	c->depth--;
	if (c->depth == 0 && c->n_top)
		c->top[c->n_top - 1].last = c->line;
	if (c->depth < SECTION_DEPTH_MAX) {
		free(c->section[c->depth]);
		c->section[c->depth] = NULL;
	}
}

/* Splits "service x { inet_listener y { port = 0 } }" at braces. */
static void conf_parse_statements(struct conf *c, const char *file, char *line)
{
	bool quoted = false;
	char *start = line;

	for (char *p = line; *p; p++) {
		if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (quoted || (*p != '{' && *p != '}'))
			continue;
		char brace = *p;

		*p = '\0';
		if (brace == '{') {
			conf_push(c, trim(start));
		} else {
			conf_add_setting(c, file, start);
			conf_pop(c);
		}
		start = p + 1;
	}
	conf_add_setting(c, file, start);
}

static void conf_parse_file(struct conf *c, const char *server_path, int level);

static void mark_dropin_pos(struct conf *c)
{
	if (!c->dropin_pos_set) {
		c->dropin_pos = c->n;
		c->dropin_pos_set = true;
	}
}


static void conf_include(struct conf *c, const char *file, char *line, int level)
{
	char *pattern, *dir, *server_pattern, *host_pattern;
	bool reaches_dropin;
	glob_t g;

	pattern = unquote(trim(line + strcspn(line, " \t")));
	if (*pattern == '\0' || level >= INCLUDE_DEPTH_MAX)
		return;
	dir = path_dir(file);
	server_pattern = pattern[0] == '/' ? xstrdup(pattern) : path_join(dir, pattern);
	free(dir);
	reaches_dropin = c->dropin && c->depth == 0 &&
			 fnmatch(server_pattern, c->dropin, FNM_PATHNAME) == 0;
	if (reaches_dropin)
		c->includes_dropin = true;
	host_pattern = env_host_path(c->env, server_pattern);
	memset(&g, 0, sizeof(g));
	if (glob(host_pattern, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			char *sp = env_server_path(c->env, g.gl_pathv[i]);

			if (sp == NULL)
				continue;
			/* conf.d files are read in name order: our drop-in's
			 * settings land where its name sorts, existing or not */
			if (reaches_dropin && strcmp(sp, c->dropin) >= 0)
				mark_dropin_pos(c);
			conf_parse_file(c, sp, level + 1);
			free(sp);
		}
	}
	if (reaches_dropin)
		mark_dropin_pos(c);
	globfree(&g);
	free(host_pattern);
	free(server_pattern);
}

static void conf_parse_text(struct conf *c, const char *file, const char *text, int level)
{
	char *copy = xstrdup(text), *next;
	int lineno = 0;

	for (char *raw = copy; raw; raw = next) {
		char *line;

		next = strchr(raw, '\n');
		if (next)
			*next++ = '\0';
		c->line = ++lineno;
		c->file = file;
		line = trim(raw);

		if (c->heredoc) {
			if (strcmp(line, c->heredoc) == 0) {
				free(c->heredoc);
				c->heredoc = NULL;
			}
			continue;
		}
		strip_comment(line);
		line = trim(line);
		if (*line == '\0')
			continue;
		if (strncmp(line, "!include", 8) == 0)
			conf_include(c, file, line, level);
		else
			conf_parse_statements(c, file, line);
	}
	free(copy);
}

static void conf_parse_file(struct conf *c, const char *server_path, int level)
{
	char *data = NULL;
	size_t len;
	struct error e;

	/* symlinks resolve inside the root, as Dovecot would see them */
	if (txn_read(c->env, server_path, "/", &data, &len, &e) == 0)
		conf_parse_text(c, server_path, data, level);
	else if (c->error == NULL)
		c->error = xstrdup(e.msg);
	free(data);
}

/* The last value of key, ignoring settings from skip_file (may be NULL). */
static const struct conf_setting *conf_find(const struct conf *c, const char *key,
					    const char *skip_file)
{
	for (size_t i = c->n; i-- > 0;) {
		if (strcmp(c->v[i].key, key) != 0)
			continue;
		if (skip_file && strcmp(c->v[i].file, skip_file) == 0)
			continue;
		return &c->v[i];
	}
	return NULL;
}

/* "ssl_server_cert_file" -> "ssl_server/cert_file"; NULL for other names. */
static char *filter_form(const char *name)
{
	return strncmp(name, "ssl_server_", 11) == 0 ? xasprintf("ssl_server/%s", name + 11) : NULL;
}

/* The setting that decides name in scope: the most specific filter that
 * sets it wins over a global, whatever the order (Dovecot warns that a
 * later global setting cannot change an earlier filter). */
static const struct conf_setting *origin_in(const struct conf *c, const char *scope,
					    const char *name)
{
	struct strlist prefixes = STRLIST_INIT;
	char *ff = filter_form(name);
	const struct conf_setting *found = NULL;

	/* most specific first: the whole filter path, each of its
	 * filters, then the global setting ("") */
	if (*scope) {
		char *copy = xstrdup(scope), *save = NULL;

		sl_add_owned(&prefixes, xasprintf("%s/", scope));
		if (strchr(scope, '/'))
			for (char *f = strtok_r(copy, "/", &save); f; f = strtok_r(NULL, "/", &save))
				sl_add_owned(&prefixes, xasprintf("%s/", f));
		free(copy);
	}
	sl_add(&prefixes, "");
	for (size_t k = 0; k < prefixes.n && found == NULL; k++) {
		char *key = xasprintf("%s%s", prefixes.v[k], name);
		/* a name and its ssl_server/ form are one setting */
		char *alt = ff ? xasprintf("%s%s", prefixes.v[k], ff) : NULL;

		for (size_t i = c->n; i-- > 0 && found == NULL;)
			if (strcmp(c->v[i].key, key) == 0 || (alt && strcmp(c->v[i].key, alt) == 0))
				found = &c->v[i];
		free(key);
		free(alt);
	}
	sl_free(&prefixes);
	free(ff);
	return found;
}

static bool listener_closed(const struct conf *c, const struct listener *l, const char *skip_file)
{
	char *key = xasprintf("service %s/inet_listener %s/port", l->service, l->name);
	const struct conf_setting *s = conf_find(c, key, skip_file);

	free(key);
	return s && strcmp(s->value, "0") == 0;
}

/* ------------------------------------------------------------------ */
/* Detect                                                              */
/* ------------------------------------------------------------------ */

static enum generation generation_of(const char *version)
{
	if (version == NULL || !version_valid(version))
		return GEN_NONE;
	if (version_ge(version, "2.5"))
		return GEN_NONE;
	if (version_ge(version, "2.4"))
		return GEN_24;
	if (version_ge(version, "2.3"))
		return GEN_23;
	if (version_ge(version, "2.2"))
		return GEN_22;
	return GEN_NONE;
}

static const char *generation_name(enum generation g)
{
	switch (g) {
	case GEN_22:
		return "2.2";
	case GEN_23:
		return "2.3";
	case GEN_24:
		return "2.4";
	default:
		return "?";
	}
}

static char *dropin_path(const struct env *env, const struct server_info *si)
{
	char *confd = path_join(si->config_dir, "conf.d");
	char *path;

	/* without a conf.d directory the drop-in sits next to dovecot.conf */
	if (env_exists(env, confd))
		path = path_join(confd, DROPIN_NAME);
	else
		path = path_join(si->config_dir, DROPIN_NAME);
	free(confd);
	return path;
}

static void conf_load(const struct env *env, const struct server_info *si, struct conf *c,
		      char *dropin)
{
	conf_init(c, env, si->config_file, dropin);
	conf_parse_file(c, si->config_file, 0);
}

/* "2.3.19.1 (9b53102964)" -> "2.3.19.1" */
static char *version_from_output(const char *out)
{
	size_t n;

	while (*out == ' ' || *out == '\n')
		out++;
	n = strcspn(out, " \t\r\n");
	if (n == 0)
		return NULL;
	char *v = xstrndup(out, n);

	if (!version_valid(v)) {
		free(v);
		return NULL;
	}
	return v;
}

static char *run_version(const struct env *env, const struct server_info *tool)
{
	const char *argv[] = {tool->binary, "--version", NULL};
	struct spawn_result r;
	struct error e;
	char *v = NULL;

	memset(&r, 0, sizeof(r));
	if (server_exec(env, tool, argv, &r, &e) == 0 && r.exit_code == 0)
		v = version_from_output(r.out);
	spawn_result_free(&r);
	return v;
}

/* Dovecot 2.4 requires `dovecot_config_version = X` as the first setting. */
static char *config_version_marker(const struct env *env, const char *config_file)
{
	char *host = env_host_path(env, config_file), *data = NULL, *save = NULL;
	char *found = NULL;
	size_t len;
	struct error e;

	if (read_file(host, &data, &len, &e) == 0) {
		for (char *raw = strtok_r(data, "\n", &save); raw; raw = strtok_r(NULL, "\n", &save)) {
			char *line;

			strip_comment(raw);
			line = trim(raw);
			if (*line == '\0')
				continue;
			if (strncmp(line, "dovecot_config_version", 22) == 0) {
				char *eq = strchr(line, '=');

				if (eq && version_valid(trim(eq + 1)))
					found = xstrdup(trim(eq + 1));
			}
			break;
		}
	}
	free(data);
	free(host);
	return found;
}

static void detect_version(const struct env *env, struct server_info *si)
{
	const char *over = env_override(env, "dovecot");
	struct server_info tool;
	bool have_tool, in_root;

	if (over) {
		si->version = xstrdup(over);
		si->version_source = xstrdup("--server-version");
		return;
	}
	memset(&tool, 0, sizeof(tool));
	have_tool = server_find_binary(env, &tool, dovecot_candidates);
	in_root = have_tool && (tool.binary_in_root || env->root[0] == '\0');
	if (in_root && (si->version = run_version(env, &tool)) != NULL) {
		si->version_source = xstrdup("binary");
	} else if ((si->version = config_version_marker(env, si->config_file)) != NULL) {
		si->version_source = xstrdup("dovecot_config_version");
	} else if (have_tool && !in_root && (si->version = run_version(env, &tool)) != NULL) {
		/* the host's Dovecot may differ from the one the root is for */
		si->version_source = xstrdup("host binary");
	}
	free(tool.binary);
}

static void detect_layout(const struct env *env, struct server_info *si)
{
	if (strncmp(si->config_dir, "/usr/local/etc", 14) == 0)
		si->layout = LAYOUT_FREEBSD;
	else if (env_exists(env, "/etc/debian_version"))
		si->layout = LAYOUT_DEBIAN;
	else if (env_exists(env, "/etc/redhat-release") || env_exists(env, "/etc/fedora-release"))
		si->layout = LAYOUT_RHEL;
	else
		si->layout = LAYOUT_UNKNOWN;
}

/*
 * True when doveconf sees the files as Dovecot does: on the live system, or
 * chrooted into the root.  Run from the host on an unpacked tree, absolute
 * includes (/usr/share/dovecot/protocols.d) and file settings would point
 * at the host's files instead.
 */
static bool doveconf_sees_root(const struct env *env, const struct server_info *si)
{
	return server_sees_root(env, si);
}

/* Asks doveconf itself when it sees the root as Dovecot does; else NULL. */
static char *doveconf_protocols(const struct env *env, const struct server_info *si)
{
	const char *argv[] = {si->binary, "-c", NULL, "-h", "protocols", NULL};
	struct spawn_result r;
	struct error e;
	char *conf, *out = NULL;

	if (!doveconf_sees_root(env, si))
		return NULL;
	conf = server_tool_path(env, si, si->config_file);
	argv[2] = conf;
	memset(&r, 0, sizeof(r));
	if (server_exec(env, si, argv, &r, &e) == 0 && r.exit_code == 0)
		out = xstrdup(trim(r.out));
	spawn_result_free(&r);
	free(conf);
	return out;
}

/* Protocols Dovecot serves; the built-in default when none is set is
 * "imap pop3 lmtp", except on Debian, which patches it to empty and
 * enables each protocol from its package's protocols.d file. */
static void served_protocols(const struct env *env, const struct server_info *si,
			     struct conf *c)
{
	char *asked = doveconf_protocols(env, si);

	if (asked) {
		protocols_assign(c, asked);
		free(asked);
	} else if (!c->protocols_seen && si->layout != LAYOUT_DEBIAN) {
		protocols_assign(c, "imap pop3 lmtp");
	}
}

static unsigned roles_from_conf(const struct conf *c)
{
	unsigned roles = 0;

	for (size_t i = 0; i < ARRAY_LEN(listeners); i++) {
		const struct listener *l = &listeners[i];

		if (protocol_listed(&c->protocols, l->proto) && !listener_closed(c, l, NULL))
			roles |= l->role;
	}
	return roles;
}

/* The certificate in use now, for "keep": 2.4 names the file, 2.2/2.3
 * read it with "<path". */
static char *cert_setting(const struct conf *c, const char *file_key, const char *lt_key)
{
	const struct conf_setting *s = conf_find(c, file_key, NULL);

	if (s && s->value[0] == '/')
		return xstrdup(s->value);
	s = conf_find(c, lt_key, NULL);
	if (s && s->value[0] == '<') {
		const char *p = s->value + 1;

		while (*p == ' ')
			p++;
		if (*p == '/')
			return xstrdup(p);
	}
	return NULL;
}

static void detect_cert(struct server_info *si, const struct conf *c)
{
	si->cert_file = cert_setting(c, "ssl_server_cert_file", "ssl_cert");
	si->key_file = cert_setting(c, "ssl_server_key_file", "ssl_key");
	if (si->cert_file == NULL || si->key_file == NULL || !text_is_clean(si->cert_file) ||
	    !text_is_clean(si->key_file)) {
		free(si->cert_file);
		free(si->key_file);
		si->cert_file = si->key_file = NULL;
	}
}

static void detect_roles(const struct env *env, struct server_info *si)
{
	char *dropin = dropin_path(env, si);
	const struct conf_setting *ssl;
	struct conf c;

	conf_load(env, si, &c, dropin);
	if (c.error) {
		/* Dovecot would refuse to start; so do we */
		free(si->why);
		si->why = xstrdup(c.error);
		conf_free(&c);
		free(dropin);
		return;
	}
	served_protocols(env, si, &c);
	si->roles_served = roles_from_conf(&c);
	ssl = conf_find(&c, "ssl", NULL);
	if (ssl && strcmp(ssl->value, "required") == 0)
		si->roles_tls = si->roles_served;
	detect_cert(si, &c);
	conf_free(&c);
	free(dropin);
}

static void set_why(struct server_info *si, char *why)
{
	free(si->why);
	si->why = why;
}

static int dovecot_detect_config(const struct env *env, struct server_info *si)
{
	for (size_t i = 0; config_candidates[i]; i++) {
		if (env_exists(env, config_candidates[i])) {
			si->config_file = xstrdup(config_candidates[i]);
			si->config_dir = path_dir(config_candidates[i]);
			return 1;
		}
	}
	return 0;
}

/* The line of doveconf's complaint that says what is wrong. */
static const char *fatal_line(char *err)
{
	char *save = NULL, *first = NULL;

	for (char *l = strtok_r(err, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strstr(l, "Fatal:") || strstr(l, "Error:"))
			return l;
		if (first == NULL)
			first = l;
	}
	return first ? first : "";
}

/*
 * doveconf -n on the live configuration: a Dovecot that refuses its own
 * config is said to be so, with doveconf's error and, after an upgrade
 * from 2.3, the version change that explains it.  Run from the host on a
 * lab tree doveconf cannot judge (absolute includes lead to the host).
 */
static void detect_refusal(const struct env *env, struct server_info *si)
{
	char *conf = server_tool_path(env, si, si->config_file), *marker;
	const char *argv[] = {si->binary, "-n", "-c", conf, NULL};
	struct spawn_result r;
	struct error e;

	memset(&r, 0, sizeof(r));
	if (doveconf_sees_root(env, si) && server_exec(env, si, argv, &r, &e) == 0 &&
	    r.exit_code != 0) {
		const char *line = fatal_line(r.err[0] ? r.err : r.out);

		marker = config_version_marker(env, si->config_file);
		si->refused = true;
		si->roles_tls = 0;
		if (generation_of(si->version) == GEN_24 && marker == NULL)
			set_why(si, xasprintf(_("%s (the configuration is written for Dovecot 2.3 or "
						"older, the installed Dovecot is %s: mailharden apply "
						"migrates its TLS and auth settings and names what else "
						"2.4 wants)"), line, si->version));
		else
			set_why(si, xstrdup(line));
		free(marker);
	}
	spawn_result_free(&r);
	free(conf);
}

static int dovecot_detect(const struct env *env, struct server_info *si)
{
	bool have_config, have_binary;

	si->backend = &dovecot_backend;
	have_config = dovecot_detect_config(env, si);
	have_binary = server_find_binary(env, si, doveconf_candidates);
	si->found = have_config || have_binary;
	if (!si->found) {
		set_why(si, xstrdup(_("Dovecot not found: no dovecot.conf in /etc/dovecot or "
				      "/usr/local/etc/dovecot")));
		return 0;
	}
	if (!have_config) {
		set_why(si, xstrdup(_("doveconf is installed, but there is no dovecot.conf in "
				      "/etc/dovecot or /usr/local/etc/dovecot")));
		return 0;
	}
	detect_layout(env, si);
	detect_version(env, si);
	if (si->version == NULL) {
		set_why(si, xstrdup(_("cannot tell the Dovecot version (dovecot --version did not "
				      "run); give it, e.g. --server-version dovecot=2.3")));
		return 0;
	}
	if (generation_of(si->version) == GEN_NONE) {
		set_why(si, xasprintf(_("unsupported version: Dovecot %s (supported: 2.2 to 2.4)"),
				      si->version));
		return 0;
	}
	si->openssl_version = server_openssl_version(env);
	detect_roles(env, si);
	si->usable = si->why == NULL;
	if (si->usable)
		detect_refusal(env, si);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Plan                                                                */
/* ------------------------------------------------------------------ */

/* A file of the admin's that the plan edits: its text as read and as
 * edited so far. */
struct pending {
	char *path;
	char *old;
	size_t old_len;
	char *text;
	/* lines (as numbered in old) above which a marker line was inserted,
	 * so a later edit still finds the line it read */
	int *ins;
	size_t n_ins;
};

struct plan_ctx {
	const struct env *env;
	const struct server_info *si;
	const struct answers *a;
	enum generation gen;
	struct conf conf;       /* the current configuration */
	char *dropin;           /* server path */
	struct tvars *v;
	struct plan *p;
	struct pending *pend;   /* files the plan edits besides the drop-in */
	size_t n_pend;
};

static int check_answers(const struct answers *a, struct error *e)
{
	const char *paths[] = {a->cert_file, a->key_file, a->dh_file, a->auth_socket};

	if (a->profile == NULL)
		return err_set(e, _("no TLS profile chosen"));
	for (const struct role_info *ri = role_table(); ri->name; ri++)
		if ((a->roles & ri->role) && !(ri->role & ROLES_MDA))
			return err_set(e, _("dovecot cannot serve role %s"), ri->name);
	if ((a->roles & ROLES_MDA) == 0)
		return err_set(e, _("no role for Dovecot chosen (imap, imaps, pop3, pop3s)"));
	if ((a->cert_file == NULL) != (a->key_file == NULL))
		return err_set(e, _("give both a certificate and its key, or neither"));
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		if (paths[i] == NULL)
			continue;
		if (!text_is_clean(paths[i]))
			return err_set(e, _("file name contains a control character (newline, tab ...)"));
		if (paths[i][0] != '/')
			return err_set(e, _("%s: give an absolute path"), paths[i]);
	}
	if ((a->auth_socket && strpbrk(a->auth_socket, " \t{}\"")) ||
	    (a->auth_socket_owner && (strspn(a->auth_socket_owner, "abcdefghijklmnopqrstuvwxyz"
						"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
				      strlen(a->auth_socket_owner) || !*a->auth_socket_owner)))
		return err_set(e, "%s", _("the MTA's auth socket or its owner is not a plain name"));
	return 0;
}

static const char *protocol_package(const struct plan_ctx *x, const char *proto)
{
	if (x->si->layout != LAYOUT_DEBIAN)
		return NULL;
	return strcmp(proto, "imap") == 0 ? "dovecot-imapd" : "dovecot-pop3d";
}

static int protocol_missing(const struct plan_ctx *x, const char *role, const char *proto,
			    struct error *e)
{
	const char *pkg = protocol_package(x, proto);

	if (pkg)
		return err_set(e, _("role %s needs Dovecot's %s protocol, which is not enabled: "
				    "install the package %s"), role, proto, pkg);
	return err_set(e, _("role %s needs Dovecot's %s protocol, which is not enabled: add it "
			    "to 'protocols' in %s"), role, proto, x->si->config_file);
}

static void set_listener(struct plan_ctx *x, const struct listener *l, const char *port)
{
	char *key = xasprintf("%s_set", l->name);

	tvars_setb(x->v, key, true);
	free(key);
	key = xasprintf("%s_port", l->name);
	tvars_set(x->v, key, port);
	free(key);
	tvars_setb(x->v, strcmp(l->proto, "imap") == 0 ? "imap_login" : "pop3_login", true);
	tvars_setb(x->v, "listeners", true);
}

/*
 * For a protocol with at least one chosen role, the listeners of roles not
 * chosen are closed, and a chosen one another file closed is reopened.
 * Protocols without a chosen role are left as they are.
 */
static int plan_listeners(struct plan_ctx *x, struct error *e)
{
	for (size_t i = 0; i < ARRAY_LEN(listeners); i++) {
		const struct listener *l = &listeners[i];
		const struct role_info *ri = role_info(l->role);
		unsigned proto_roles = 0;

		for (size_t j = 0; j < ARRAY_LEN(listeners); j++)
			if (strcmp(listeners[j].proto, l->proto) == 0)
				proto_roles |= listeners[j].role;
		if ((x->a->roles & proto_roles) == 0)
			continue;
		if ((x->a->roles & l->role) && !protocol_listed(&x->conf.protocols, l->proto))
			return protocol_missing(x, ri->name, l->proto, e);
		if (!(x->a->roles & l->role)) {
			set_listener(x, l, "0");
			sl_add_owned(&x->p->notes,
				     xasprintf(_("Dovecot's %s listener (port %d) is closed: role %s "
						 "was not chosen."), l->name, ri->port, ri->name));
		} else if (listener_closed(&x->conf, l, x->dropin)) {
			set_listener(x, l, l->port);
			sl_add_owned(&x->p->notes,
				     xasprintf(_("Dovecot's %s listener was closed (port = 0) elsewhere; "
						 "it is reopened on port %s for role %s."),
					       l->name, l->port, ri->name));
		}
	}
	return 0;
}

static int plan_dh(struct plan_ctx *x, struct error *e)
{
	const char *dh = x->a->dh_file;
	static const char packaged_dh[] = "/usr/share/dovecot/dh.pem";

	if (x->a->profile->dh_bits <= 0)
		return 0;
	if (x->gen == GEN_22) {
		/* 2.2 generates its own parameters of this size */
		if (version_ge(x->si->version, "2.2.7"))
			tvars_set(x->v, "dh_length", x->a->profile->dh_bits > 2048 ? "4096" : "2048");
		return 0;
	}
	if (dh == NULL && env_exists(x->env, packaged_dh))
		dh = packaged_dh;
	if (dh == NULL)
		return err_set(e, _("profile %s uses DHE suites and Dovecot %s needs a DH parameter "
				    "file: pass --dh FILE (e.g. the RFC 7919 ffdhe2048 group)"),
			       x->a->profile->name, generation_name(x->gen));
	tvars_set(x->v, "dh_file", dh);
	return 0;
}

/* 2.2 lists what to switch off: "!SSLv2 !SSLv3 !TLSv1 ..." */
static char *ssl_protocols_22(const char *min)
{
	static const char *const below[] = {"TLSv1", "TLSv1.1", "TLSv1.2"};
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "!SSLv2 !SSLv3");
	for (size_t i = 0; i < ARRAY_LEN(below); i++) {
		if (strcmp(below[i], min) == 0)
			break;
		sb_addf(&sb, " !%s", below[i]);
	}
	return sb_detach(&sb);
}

/* OpenSSL before 1.1.0 does not know "@SECLEVEL=". */
static const char *cipher_list_for(const struct server_info *si, const char *ciphers)
{
	if (strncmp(ciphers, "@SECLEVEL=", 10) == 0 && si->openssl_version &&
	    !version_ge(si->openssl_version, "1.1")) {
		const char *colon = strchr(ciphers, ':');

		return colon ? colon + 1 : "";
	}
	return ciphers;
}

static int plan_protocols(struct plan_ctx *x, struct error *e)
{
	const struct profile *pr = x->a->profile;
	bool tls13_only = strcmp(pr->min_protocol, "TLSv1.3") == 0;

	if (x->gen == GEN_22) {
		if (tls13_only)
			return err_set(e, _("profile %s (TLS 1.3 only) needs Dovecot 2.3.15 or later"),
				       pr->name);
		char *list = ssl_protocols_22(pr->min_protocol);

		tvars_set(x->v, "ssl_protocols", list);
		free(list);
		return 0;
	}
	/* ssl_min_protocol = TLSv1.3 and ssl_cipher_suites came with 2.3.15 */
	if (x->gen == GEN_23 && tls13_only && !version_ge(x->si->version, "2.3.15"))
		return err_set(e, _("profile %s (TLS 1.3 only) needs Dovecot 2.3.15 or later; "
				    "this is %s"), pr->name, x->si->version);
	tvars_set(x->v, "min_protocol", pr->min_protocol);
	if (x->gen == GEN_24 || version_ge(x->si->version, "2.3.15"))
		tvars_set(x->v, "cipher_suites", pr->ciphersuites);
	return 0;
}

static void plan_ciphers(struct plan_ctx *x)
{
	const struct profile *pr = x->a->profile;
	const char *v22 = x->si->version;

	if (pr->ciphers[0])
		tvars_set(x->v, "cipher_list", cipher_list_for(x->si, pr->ciphers));
	if (x->gen != GEN_22) {
		char *curves = profile_curves(pr, x->si->openssl_version, ":");

		tvars_set(x->v, "curve_list", curves);
		free(curves);
	}
	if (x->gen == GEN_24) {
		tvars_set(x->v, "prefer_server", pr->server_order ? "server" : "client");
		return;
	}
	tvars_set(x->v, "prefer_server", pr->server_order ? "yes" : "no");
	if (x->gen == GEN_22) {
		tvars_setb(x->v, "prefer_set", version_ge(v22, "2.2.6"));
		tvars_setb(x->v, "no_compression", version_ge(v22, "2.2.14"));
	}
}

static int plan_vars(struct plan_ctx *x, struct error *e)
{
	char *roles = roles_format(x->a->roles & ROLES_MDA);

	tvars_set(x->v, "version", x->si->version);
	tvars_set(x->v, "profile", x->a->profile->name);
	tvars_set(x->v, "roles", roles);
	free(roles);
	if (x->a->cert_file) {
		tvars_set(x->v, "cert_file", x->a->cert_file);
		tvars_set(x->v, "key_file", x->a->key_file);
	}
	if (plan_protocols(x, e) < 0 || plan_dh(x, e) < 0 || plan_listeners(x, e) < 0)
		return -1;
	plan_ciphers(x);
	return 0;
}

static char *template_name(enum generation gen)
{
	return xasprintf("dovecot/%s/" DROPIN_NAME ".tmpl", generation_name(gen));
}

/* Reads a server file; *existed tells whether it was there. */
static int read_current(const struct env *env, const char *server_path, bool *existed,
			char **text, size_t *len, struct error *e)
{
	char *dir = path_dir(server_path);
	int rc = 0;

	*existed = env_exists(env, server_path);
	*text = NULL;
	*len = 0;
	if (*existed)
		rc = txn_read(env, server_path, dir, text, len, e);
	free(dir);
	return rc;
}

static void add_if_changed(struct plan *p, const char *path, bool existed, const char *old,
			   size_t old_len, const char *new_text, mode_t mode)
{
	size_t new_len = strlen(new_text);

	if (existed && old_len == new_len && memcmp(old, new_text, new_len) == 0)
		return;
	plan_add_change(p, path, existed, old, old_len, new_text, new_len, mode);
}

static bool dropin_in_confd(const char *dropin)
{
	static const char tail[] = "/conf.d/" DROPIN_NAME;
	size_t n = strlen(dropin);

	return n >= sizeof(tail) - 1 && strcmp(dropin + n - (sizeof(tail) - 1), tail) == 0;
}

/* The admin's file at path as the plan has edited it so far. */
static struct pending *pending_get(struct plan_ctx *x, const char *path, struct error *e)
{
	struct pending *pd;
	bool existed;
	char *old;
	size_t len;

	for (size_t i = 0; i < x->n_pend; i++)
		if (strcmp(x->pend[i].path, path) == 0)
			return &x->pend[i];
	if (read_current(x->env, path, &existed, &old, &len, e) < 0)
		return NULL;
	if (!existed) {
		free(old);
		err_set(e, _("cannot read %s"), path);
		return NULL;
	}
	x->pend = xrealloc(x->pend, (x->n_pend + 1) * sizeof(*x->pend));
	pd = &x->pend[x->n_pend++];
	pd->path = xstrdup(path);
	pd->old = old;
	pd->old_len = len;
	pd->text = xstrndup(old, len);
	pd->ins = NULL;
	pd->n_ins = 0;
	return pd;
}

/* Where line n of the file as read is now, after the markers inserted. */
static int pending_line(const struct pending *pd, int n)
{
	int cur = n;

	for (size_t i = 0; i < pd->n_ins; i++)
		cur += pd->ins[i] <= n;
	return cur;
}

static void pending_inserted(struct pending *pd, int n)
{
	pd->ins = xrealloc(pd->ins, (pd->n_ins + 1) * sizeof(*pd->ins));
	pd->ins[pd->n_ins++] = n;
}

static void pending_flush(struct plan_ctx *x)
{
	for (size_t i = 0; i < x->n_pend; i++) {
		struct pending *pd = &x->pend[i];

		add_if_changed(x->p, pd->path, true, pd->old, pd->old_len, pd->text, 0644);
		free(pd->path);
		free(pd->old);
		free(pd->text);
		free(pd->ins);
	}
	free(x->pend);
	x->pend = NULL;
	x->n_pend = 0;
}

/* The one edit to a packaged file: make dovecot.conf read our drop-in. */
static int plan_include(struct plan_ctx *x, struct error *e)
{
	const char *main_file = x->si->config_file;
	struct pending *pd;
	char *rel, *text;
	size_t len;

	if (x->conf.includes_dropin)
		return 0;
	if ((pd = pending_get(x, main_file, e)) == NULL)
		return -1;
	rel = dropin_in_confd(x->dropin) ? xstrdup("conf.d/" DROPIN_NAME) : xstrdup(DROPIN_NAME);
	len = strlen(pd->text);
	text = xasprintf("%s%s!include_try %s\n", pd->text,
			 len && pd->text[len - 1] != '\n' ? "\n" : "", rel);
	free(pd->text);
	pd->text = text;
	sl_add_owned(&x->p->notes,
		     xasprintf(_("%s does not include conf.d/*.conf: one line '!include_try %s' "
				 "is appended to it."), main_file, rel));
	free(rel);
	return 0;
}

/* Line n (1-based) of text under a marker comment, keeping its
 * indentation: "#" before it, or replaced by repl.  New string. */
static char *edit_line(const char *text, int n, const char *marker, const char *repl)
{
	struct strbuf sb = STRBUF_INIT;
	const char *l = text;

	for (int i = 1; *l; i++) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) + 1 : strlen(l);

		if (i == n) {
			size_t ind = strspn(l, " \t");

			sb_add(&sb, l, ind);
			sb_addf(&sb, "# %s\n", marker);
			sb_add(&sb, l, ind);
			if (repl)
				sb_addf(&sb, "%s%s", repl, end ? "\n" : "");
			else
				sb_addc(&sb, '#');
			if (!repl)
				sb_add(&sb, l + ind, len - ind);
		} else {
			sb_add(&sb, l, len);
		}
		l += len;
	}
	return sb_detach(&sb);
}

/* Applies edit_line to line n of pd as read. */
static void pending_edit(struct pending *pd, int n, const char *marker, const char *repl)
{
	char *text = edit_line(pd->text, pending_line(pd, n), marker, repl);

	free(pd->text);
	pd->text = text;
	pending_inserted(pd, n);
}

/* Line n of text (1-based) without its newline.  New string or NULL. */
static char *line_of(const char *text, int n)
{
	const char *l = text;

	for (int i = 1; l && *l; i++) {
		const char *end = strchr(l, '\n');

		if (i == n)
			return xstrndup(l, end ? (size_t)(end - l) : strlen(l));
		l = end ? end + 1 : NULL;
	}
	return NULL;
}

/* A line that holds nothing but "name = value" (comment allowed): one
 * that can be commented out without touching anything else. */
static bool single_statement(const char *raw, const char *key)
{
	char *copy = xstrdup(raw), *line;
	const char *name = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;
	size_t n = strlen(name);
	bool ok;

	strip_comment(copy);
	line = trim(copy);
	ok = strpbrk(line, "{}") == NULL && strncmp(line, name, n) == 0 &&
	     line[n + strspn(line + n, " \t")] == '=';
	free(copy);
	return ok;
}

static bool is_global_key(const char *key, const char *name)
{
	char *ff = filter_form(name);
	bool g = strcmp(key, name) == 0 || (ff && strcmp(key, ff) == 0);

	free(ff);
	return g;
}

/* The setting that would decide ex, when it is one of the admin's lines
 * that wins over the drop-in: a filter's (a filter beats any global), or
 * a global read after the drop-in (local.conf, a conf.d file sorting after
 * it, dovecot.conf after the include). */
static const struct conf_setting *overriding(const struct plan_ctx *x,
					     const struct expectation *ex)
{
	const struct conf_setting *s = origin_in(&x->conf, ex->scope, ex->name);
	size_t pos = x->conf.dropin_pos_set ? x->conf.dropin_pos : x->conf.n;

	if (s == NULL || strcmp(s->file, x->dropin) == 0)
		return NULL;
	if (is_global_key(s->key, ex->name) && (size_t)(s - x->conf.v) < pos)
		return NULL;
	return s;
}

/* A value short enough for a one-line message: long cipher lists are cut. */
static char *shortened(const char *v)
{
	return strlen(v) > 40 ? xasprintf("%.37s...", v) : xstrdup(v);
}

static int resolve_one(struct plan_ctx *x, const struct expectation *ex,
		       const struct conf_setting *s, struct error *e)
{
	size_t n = strlen(x->si->config_dir);
	struct pending *pd;
	char *raw, *marker, *want;
	bool ok;

	if (strncmp(s->file, x->si->config_dir, n) != 0 || s->file[n] != '/')
		return err_set(e, _("%s:%d: %s = %s overrides mailharden's %s = %s, and the file is "
				    "outside %s: change it there; nothing was written"),
			       s->file, s->line, ex->name, s->value, ex->name, ex->want,
			       x->si->config_dir);
	if ((pd = pending_get(x, s->file, e)) == NULL)
		return -1;
	raw = line_of(pd->text, pending_line(pd, s->line));
	ok = raw && single_statement(raw, s->key);
	free(raw);
	if (!ok)
		return err_set(e, _("%s:%d: %s = %s overrides mailharden's %s = %s, and the line holds "
				    "more than that setting: change it there; nothing was written"),
			       s->file, s->line, ex->name, s->value, ex->name, ex->want);
	want = shortened(ex->want);
	marker = xasprintf("mailharden: the next line is disabled: it is weaker than profile %s "
			   "(%s = %s, set in %s)", x->a->profile->name, ex->name, want, x->dropin);
	pending_edit(pd, s->line, marker, NULL);
	free(marker);
	sl_add_owned(&x->p->conflicts,
		     xasprintf(_("%s:%d: %s = %s would win over mailharden's %s (%s); the plan "
				 "comments it out"), s->file, s->line, ex->name, s->value, want,
			       ex->scope_label));
	free(want);
	return 0;
}

static int by_line_desc(const void *a, const void *b)
{
	const struct conf_setting *x = *(const struct conf_setting *const *)a;
	const struct conf_setting *y = *(const struct conf_setting *const *)b;
	int c = strcmp(x->file, y->file);

	return c ? c : y->line - x->line;
}

/*
 * Every line of the admin's that would still win with a weaker value is
 * commented out, in the same checkpoint, under a marker comment; later
 * lines of a file first, so line numbers stay right.  A line that cannot
 * be changed safely stops the plan, naming it.
 */
static int plan_resolve(struct plan_ctx *x, struct error *e)
{
	const struct conf_setting **hit = xcalloc(x->p->expect.n + 1, sizeof(*hit));
	const struct expectation **why = xcalloc(x->p->expect.n + 1, sizeof(*why));
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < x->p->expect.n; i++) {
		const struct expectation *ex = &x->p->expect.items[i];
		const struct conf_setting *s = overriding(x, ex);
		bool dup = false;

		if (s == NULL || expect_judge(ex, s->value) != EXPECT_WEAKER)
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = hit[k] == s;
		if (!dup) {
			hit[n] = s;
			why[n++] = ex;
		}
	}
	/* sort the pairs together: why follows hit */
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			if (by_line_desc(&hit[i], &hit[k]) > 0) {
				const struct conf_setting *t = hit[i];
				const struct expectation *u = why[i];

				hit[i] = hit[k];
				hit[k] = t;
				why[i] = why[k];
				why[k] = u;
			}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = resolve_one(x, why[i], hit[i], e);
	/* said in file order: the edits ran bottom up */
	for (size_t i = 0, j = x->p->conflicts.n; rc == 0 && n && i < --j; i++) {
		char *t = x->p->conflicts.v[i];

		x->p->conflicts.v[i] = x->p->conflicts.v[j];
		x->p->conflicts.v[j] = t;
	}
	free(hit);
	free(why);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Dovecot 2.3 -> 2.4                                                  */
/* ------------------------------------------------------------------ */

enum conversion {
	CV_SAME,     /* new name, same value */
	CV_PATH,     /* "</path" (read the file) becomes the plain path */
	CV_PREFER,   /* yes/no becomes server/client */
	CV_INVERT,   /* disable_plaintext_auth yes -> auth_allow_cleartext no */
	CV_MINPROTO, /* "!SSLv3 !TLSv1" becomes the lowest version left */
	CV_DROP,     /* no longer exists: commented out */
};

/* Every TLS and auth setting 2.4 renamed or removed (Dovecot's upgrade
 * notes, "Converted Settings"; verified against 2.4.1's doveconf). */
static const struct rename24 {
	const char *old, *new;
	enum conversion cv;
} renames24[] = {
	{"ssl_cert", "ssl_server_cert_file", CV_PATH},
	{"ssl_key", "ssl_server_key_file", CV_PATH},
	{"ssl_dh", "ssl_server_dh_file", CV_PATH},
	{"ssl_ca", "ssl_server_ca_file", CV_PATH},
	{"ssl_alt_cert", "ssl_server_alt_cert_file", CV_PATH},
	{"ssl_alt_key", "ssl_server_alt_key_file", CV_PATH},
	{"ssl_client_cert", "ssl_client_cert_file", CV_PATH},
	{"ssl_client_key", "ssl_client_key_file", CV_PATH},
	{"ssl_ca_dir", "ssl_client_ca_dir", CV_SAME},
	{"ssl_ca_file", "ssl_client_ca_file", CV_SAME},
	{"ssl_cert_username_field", "ssl_server_cert_username_field", CV_SAME},
	{"ssl_key_password", "ssl_server_key_password", CV_SAME},
	{"ssl_require_crl", "ssl_server_require_crl", CV_SAME},
	{"ssl_verify_client_cert", "ssl_server_request_client_cert", CV_SAME},
	{"ssl_prefer_server_ciphers", "ssl_server_prefer_ciphers", CV_PREFER},
	{"disable_plaintext_auth", "auth_allow_cleartext", CV_INVERT},
	{"ssl_protocols", "ssl_min_protocol", CV_MINPROTO},
	{"ssl_dh_parameters_length", NULL, CV_DROP},
	{"ssl_parameters_regenerate", NULL, CV_DROP},
	{"verbose_ssl", NULL, CV_DROP},
};

static const struct rename24 *rename_of(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(renames24); i++)
		if (strcmp(renames24[i].old, name) == 0)
			return &renames24[i];
	return NULL;
}

/* "!SSLv2 !SSLv3 !TLSv1" -> "TLSv1.1": the lowest version not excluded. */
static char *min_protocol_of(const char *list)
{
	static const char *const order[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
	bool off[ARRAY_LEN(order)] = {false};
	char *copy = xstrdup(list), *save = NULL;

	for (char *t = strtok_r(copy, " ,:", &save); t; t = strtok_r(NULL, " ,:", &save))
		for (size_t i = 0; i < ARRAY_LEN(order); i++)
			if (t[0] == '!' && strcmp(t + 1, order[i]) == 0)
				off[i] = true;
	free(copy);
	for (size_t i = 0; i < ARRAY_LEN(order); i++)
		if (!off[i])
			return xstrdup(order[i]);
	return xstrdup("TLSv1.3");
}

/* The 2.4 value of a 2.3 one, or NULL when it cannot be converted. */
static char *convert24(enum conversion cv, const char *v)
{
	switch (cv) {
	case CV_PATH:
		/* "<<MARKER" is inline content: the reader kept nothing of it */
		if (v[0] == '<' && v[1] != '<' && v[1] != '\0')
			return xstrdup(v + 1 + strspn(v + 1, " \t"));
		return v[0] == '/' ? xstrdup(v) : NULL;
	case CV_PREFER:
		return xstrdup(strcmp(v, "yes") == 0 ? "server" : "client");
	case CV_INVERT:
		return xstrdup(strcmp(v, "yes") == 0 ? "no" : "yes");
	case CV_MINPROTO:
		return min_protocol_of(v);
	case CV_SAME:
		return xstrdup(v);
	case CV_DROP:
		break;
	}
	return NULL;
}

/* The key with its last component renamed. */
static char *renamed_key(const char *key, const char *new_name)
{
	const char *slash = strrchr(key, '/');

	return slash ? xasprintf("%.*s/%s", (int)(slash - key + 1) - 1, key, new_name)
		     : xstrdup(new_name);
}

static void migrate_one(struct plan_ctx *x, struct conf_setting *s, const struct rename24 *r,
			struct pending *pd)
{
	const char *name = strrchr(s->key, '/') ? strrchr(s->key, '/') + 1 : s->key;
	char *raw = line_of(pd->text, pending_line(pd, s->line));
	char *value = convert24(r->cv, s->value), *marker, *repl = NULL;

	/* a line that holds more, or a value that cannot be converted, is
	 * left for validate to list with what 2.4 wants */
	if (raw == NULL || !single_statement(raw, s->key) || (r->cv != CV_DROP && value == NULL)) {
		free(raw);
		free(value);
		return;
	}
	marker = xasprintf("mailharden: Dovecot %s %s; was: %s", x->si->version,
			   r->new ? "name and syntax" : "has no such setting", trim(raw));
	if (r->new)
		repl = xasprintf("%s = %s", r->new, value);
	pending_edit(pd, s->line, marker, repl);
	if (r->new)
		sl_add_owned(&x->p->conflicts,
			     xasprintf(_("%s:%d: %s = %s is %s = %s in Dovecot %s; the plan rewrites the "
					 "line"), s->file, s->line, name, s->value, r->new, value,
				       x->si->version));
	else
		sl_add_owned(&x->p->conflicts,
			     xasprintf(_("%s:%d: %s no longer exists in Dovecot %s; the plan comments "
					 "it out"), s->file, s->line, name, x->si->version));
	/* what the resolution of overrides sees from now on */
	if (r->new) {
		char *key = renamed_key(s->key, r->new);

		free(s->key);
		s->key = key;
		free(s->value);
		s->value = xstrdup(value);
	} else {
		free(s->key);
		s->key = xstrdup("");
	}
	free(marker);
	free(repl);
	free(raw);
	free(value);
}

/* Sections 2.4 no longer has (plugin settings are plain settings, the
 * director is gone, dict { } became dict_server): harmless to drop when
 * they hold no setting, as in Debian's packaged 2.3 files. */
static bool obsolete_empty(const struct conf_section *t)
{
	static const char *const gone[] = {"plugin", "dict", "service director"};

	for (size_t i = 0; i < ARRAY_LEN(gone); i++)
		if (strcmp(t->header, gone[i]) == 0)
			return !t->has_settings;
	return false;
}

/* "#" before lines first..last of pd as read, under a marker. */
static void pending_comment_range(struct pending *pd, int first, int last, const char *marker)
{
	struct strbuf sb = STRBUF_INIT;
	int from = pending_line(pd, first), to = pending_line(pd, last);
	const char *l = pd->text;

	for (int i = 1; *l; i++) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) + 1 : strlen(l);

		if (i == from)
			sb_addf(&sb, "# %s\n", marker);
		if (i >= from && i <= to)
			sb_addc(&sb, '#');
		sb_add(&sb, l, len);
		l += len;
	}
	free(pd->text);
	pd->text = sb_detach(&sb);
	pending_inserted(pd, first);
}

/*
 * Dovecot 2.4 refuses the 2.3 names of its TLS and auth settings.  Every
 * line of the admin's files that uses one is rewritten to the 2.4 name and
 * syntax (under a marker comment keeping the old line), in the same
 * checkpoint as the drop-in; the drop-in itself is rendered anew.
 */
static int plan_migrate(struct plan_ctx *x, struct error *e)
{
	size_t n = strlen(x->si->config_dir);

	if (x->gen != GEN_24)
		return 0;
	for (size_t i = 0; i < x->conf.n_top; i++) {
		const struct conf_section *t = &x->conf.top[i];
		struct pending *pd;

		if (!obsolete_empty(t) || strncmp(t->file, x->si->config_dir, n) != 0 ||
		    t->file[n] != '/')
			continue;
		if ((pd = pending_get(x, t->file, e)) == NULL)
			return -1;
		pending_comment_range(pd, t->first, t->last,
				      "mailharden: Dovecot 2.4 has no such section; it held no setting");
		sl_add_owned(&x->p->conflicts,
			     xasprintf(_("%s:%d: the empty section '%s { }' does not exist in Dovecot "
					 "%s; the plan comments it out"), t->file, t->first, t->header,
				       x->si->version));
	}
	for (size_t i = 0; i < x->conf.n; i++) {
		struct conf_setting *s = &x->conf.v[i];
		const char *name = strrchr(s->key, '/') ? strrchr(s->key, '/') + 1 : s->key;
		const struct rename24 *r = rename_of(name);
		struct pending *pd;

		if (r == NULL || strcmp(s->file, x->dropin) == 0 ||
		    strncmp(s->file, x->si->config_dir, n) != 0 || s->file[n] != '/')
			continue;
		if ((pd = pending_get(x, s->file, e)) == NULL)
			return -1;
		migrate_one(x, s, r, pd);
	}
	return 0;
}

/* "service imap-login/inet_listener imap/port" + "0" ->
 * "service imap-login { inet_listener imap { port = 0 } }" */
static char *setting_line(const struct conf_setting *s)
{
	struct strbuf sb = STRBUF_INIT;
	const char *key = s->key, *slash;
	int open = 0;

	while ((slash = strchr(key, '/')) != NULL) {
		sb_add(&sb, key, (size_t)(slash - key));
		sb_adds(&sb, " { ");
		open++;
		key = slash + 1;
	}
	sb_addf(&sb, "%s = %s", key, s->value);
	while (open-- > 0)
		sb_adds(&sb, " }");
	return sb_detach(&sb);
}

static void plan_settings(struct plan_ctx *x, const struct conf *ours)
{
	for (size_t i = 0; i < ours->n; i++)
		sl_add_owned(&x->p->settings, setting_line(&ours->v[i]));
}

/* ------------------------------------------------------------------ */
/* What the server must end up with                                    */
/* ------------------------------------------------------------------ */

/* The drop-in's settings whose effective value is checked, and how. */
static const struct dc_rule {
	const char *name;
	enum expect_cmp cmp;
	const char *scale;
} dc_rules[] = {
	{"ssl", EXPECT_CMP_RANK, "no,yes,required"},
	{"disable_plaintext_auth", EXPECT_CMP_EXACT, NULL},
	{"auth_allow_cleartext", EXPECT_CMP_EXACT, NULL},
	{"ssl_min_protocol", EXPECT_CMP_PROTOCOLS, NULL},
	{"ssl_protocols", EXPECT_CMP_PROTOCOLS, NULL},
	{"ssl_cipher_list", EXPECT_CMP_CIPHERS, NULL},
	{"ssl_cipher_suites", EXPECT_CMP_SUBSET, NULL},
	{"ssl_prefer_server_ciphers", EXPECT_CMP_EXACT, NULL},
	{"ssl_server_prefer_ciphers", EXPECT_CMP_EXACT, NULL},
	{"ssl_cert", EXPECT_CMP_EXACT, NULL},
	{"ssl_key", EXPECT_CMP_EXACT, NULL},
	{"ssl_dh", EXPECT_CMP_EXACT, NULL},
	{"ssl_server_cert_file", EXPECT_CMP_EXACT, NULL},
	{"ssl_server_key_file", EXPECT_CMP_EXACT, NULL},
	{"ssl_server_dh_file", EXPECT_CMP_EXACT, NULL},
};

static const struct dc_rule *dc_rule(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(dc_rules); i++)
		if (strcmp(dc_rules[i].name, name) == 0)
			return &dc_rules[i];
	return NULL;
}

/* Roles of the chosen ones that a filter scope covers: a protocol filter
 * only its protocol's; "local"/"remote" every one. */
static unsigned scope_roles(const char *scope, unsigned chosen)
{
	unsigned roles = chosen & ROLES_MDA;
	const char *p = strstr(scope, "protocol ");

	if (p == NULL)
		return roles;
	p += 9;
	if (strncmp(p, "imap", 4) == 0 && (p[4] == '\0' || p[4] == '/'))
		return roles & (ROLE_IMAP | ROLE_IMAPS);
	if (strncmp(p, "pop3", 4) == 0 && (p[4] == '\0' || p[4] == '/'))
		return roles & (ROLE_POP3 | ROLE_POP3S);
	return 0;
}

static char *scope_label(const char *scope)
{
	if (*scope == '\0')
		return xstrdup(_("Dovecot (global)"));
	return xasprintf(_("Dovecot filter %s { }"), scope);
}

static void expect_scope(struct plan_ctx *x, const struct conf *ours, const char *scope)
{
	unsigned roles = scope_roles(scope, x->a->roles);
	char *label;

	if (roles == 0)
		return;
	label = scope_label(scope);
	for (size_t i = 0; i < ours->n; i++) {
		const struct dc_rule *r = dc_rule(ours->v[i].key);
		struct expectation *ex;

		if (r == NULL)
			continue;
		ex = expect_add(&x->p->expect, scope, label, r->name, ours->v[i].value, roles);
		expect_set_cmp(ex, r->cmp, r->scale);
	}
	free(label);
}

/* Every TLS setting of the drop-in, globally, in the protocol filter of
 * each chosen protocol, and in every local/remote filter the config has. */
static void plan_expect(struct plan_ctx *x, const struct conf *ours)
{
	expect_scope(x, ours, "");
	if (x->a->roles & (ROLE_IMAP | ROLE_IMAPS))
		expect_scope(x, ours, "protocol imap");
	if (x->a->roles & (ROLE_POP3 | ROLE_POP3S))
		expect_scope(x, ours, "protocol pop3");
	for (size_t i = 0; i < x->conf.filters.n; i++) {
		const char *f = x->conf.filters.v[i];

		if (strcmp(f, "protocol imap") != 0 && strcmp(f, "protocol pop3") != 0 &&
		    strncmp(f, "protocol ", 9) != 0)
			expect_scope(x, ours, f);
	}
}

/* The auth listener an earlier run put into our drop-in ("unix_listener
 * PATH {" with "user = OWNER" in "service auth"): a run that does not
 * answer SASL keeps it, so hardening Dovecot alone never cuts the MTA off. */
static void kept_auth_socket(const char *old, struct tvars *v)
{
	const char *svc = old ? strstr(old, "\nservice auth {") : NULL;
	const char *l = svc ? strstr(svc, "unix_listener /") : NULL;
	const char *u = l ? strstr(l, "user = ") : NULL;
	char *path, *owner;

	if (u == NULL)
		return;
	path = xstrndup(l + 14, strcspn(l + 14, " \n{"));
	owner = xstrndup(u + 7, strcspn(u + 7, " \n}"));
	if (text_is_clean(path) && *owner) {
		tvars_set(v, "auth_socket", path);
		tvars_set(v, "auth_owner", owner);
	}
	free(path);
	free(owner);
}

static int plan_render(struct plan_ctx *x, struct error *e)
{
	char *name = template_name(x->gen), *text = NULL, *old = NULL;
	size_t old_len;
	bool existed;
	struct conf ours;
	int rc;

	if (read_current(x->env, x->dropin, &existed, &old, &old_len, e) < 0) {
		free(name);
		return -1;
	}
	if (x->a->auth_socket) {
		tvars_set(x->v, "auth_socket", x->a->auth_socket);
		tvars_set(x->v, "auth_owner", x->a->auth_socket_owner ? x->a->auth_socket_owner
								     : "postfix");
	} else if (x->a->sasl == SASL_UNSET) {
		kept_auth_socket(existed ? old : NULL, x->v);
	}
	rc = template_render(x->env->templates_dir, name, x->v, &text, e);
	free(name);
	if (rc < 0) {
		free(old);
		return -1;
	}
	add_if_changed(x->p, x->dropin, existed, old, old_len, text, 0644);
	conf_init(&ours, x->env, x->dropin, NULL);
	conf_parse_text(&ours, x->dropin, text, 0);
	plan_settings(x, &ours);
	plan_expect(x, &ours);
	conf_free(&ours);
	free(old);
	free(text);
	return 0;
}

static int dovecot_plan(const struct env *env, const struct server_info *si,
			const struct answers *a, struct plan *p, struct error *e)
{
	struct plan_ctx x;
	int rc = -1;

	if (!si->usable)
		return err_set(e, _("Dovecot cannot be configured: %s"), si->why ? si->why : "?");
	if (check_answers(a, e) < 0)
		return -1;
	memset(&x, 0, sizeof(x));
	x.env = env;
	x.si = si;
	x.a = a;
	x.p = p;
	x.gen = generation_of(si->version);
	if (x.gen == GEN_NONE)
		return err_set(e, _("unsupported version: Dovecot %s"), si->version);
	p->server = si;
	x.dropin = dropin_path(env, si);
	conf_load(env, si, &x.conf, x.dropin);
	if (x.conf.error) {
		err_set(e, "%s", x.conf.error);
		conf_free(&x.conf);
		free(x.dropin);
		return -1;
	}
	served_protocols(env, si, &x.conf);
	x.v = tvars_new();
	if (plan_vars(&x, e) == 0 && plan_render(&x, e) == 0 && plan_migrate(&x, e) == 0 &&
	    plan_resolve(&x, e) == 0 && plan_include(&x, e) == 0)
		rc = 0;
	pending_flush(&x);
	tvars_free(x.v);
	conf_free(&x.conf);
	free(x.dropin);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Validate                                                            */
/* ------------------------------------------------------------------ */

static bool is_pq_hybrid(const char *name)
{
	return strstr(name, "MLKEM") != NULL;
}

/* doveconf accepts any curve name; the server then fails every handshake. */
static int curves_check(const char *list, const char *server_openssl, struct error *e)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	char *copy = xstrdup(list), *save = NULL;
	int rc = 0;

	if (ctx == NULL) {
		free(copy);
		return err_set(e, _("OpenSSL could not create a TLS context"));
	}
	for (char *c = strtok_r(copy, ":", &save); c && rc == 0; c = strtok_r(NULL, ":", &save)) {
		if (SSL_CTX_set1_groups_list(ctx, c) == 1)
			continue;
		/* our OpenSSL may predate the server's (ML-KEM needs 3.5) */
		if (is_pq_hybrid(c) && version_ge(server_openssl, "3.5"))
			continue;
		rc = err_set(e, _("ssl_curve_list: '%s' is not a group OpenSSL knows"), c);
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	free(copy);
	return rc;
}

static int file_check(const struct env *env, const char *key, const char *path, struct error *e)
{
	char *host;
	int rc = 0;

	if (path[0] != '/')
		return err_set(e, _("%s: '%s' is not an absolute path"), key, path);
	host = env_host_path(env, path);
	if (access(host, R_OK) != 0)
		rc = err_sys(e, _("%s: cannot read %s"), key, path);
	free(host);
	return rc;
}

static bool has_old_variable(const char *value)
{
	for (const char *p = strchr(value, '%'); p; p = strchr(p + 1, '%'))
		if ((p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z'))
			return true;
	return false;
}

static bool key_is(const char *key, const char *const names[])
{
	for (size_t i = 0; names[i]; i++)
		if (strcmp(key, names[i]) == 0)
			return true;
	return false;
}

static int lint_setting(const struct env *env, const struct server_info *si, enum generation gen,
			const struct conf_setting *s, struct error *e)
{
	static const char *const lt_files[] = {"ssl_cert", "ssl_key", "ssl_dh", NULL};
	static const char *const plain_files[] = {
		"ssl_server_cert_file", "ssl_server_key_file", "ssl_server_dh_file", NULL,
	};

	if (gen == GEN_24 && has_old_variable(s->value))
		return err_set(e, _("%s = %s: Dovecot 2.4 takes %%u-style variables literally; "
				    "use %%{user}"), s->key, s->value);
	if (strcmp(s->key, "ssl_cipher_list") == 0)
		return cipher_list_check(s->value, e);
	if (strcmp(s->key, "ssl_cipher_suites") == 0)
		return ciphersuites_check(s->value, e);
	if (strcmp(s->key, "ssl_curve_list") == 0)
		return curves_check(s->value, si->openssl_version, e);
	if (strcmp(s->key, "ssl_min_protocol") == 0 && !protocol_name_valid(s->value))
		return err_set(e, _("ssl_min_protocol = %s: not a TLS version"), s->value);
	if (key_is(s->key, lt_files)) {
		if (s->value[0] != '<')
			return err_set(e, _("%s = %s: Dovecot %s reads the file only with a '<' "
					    "before the path"), s->key, s->value, generation_name(gen));
		return file_check(env, s->key, s->value + 1, e);
	}
	if (key_is(s->key, plain_files)) {
		/* 2.4 would take the file's contents as a file name */
		if (s->value[0] == '<')
			return err_set(e, _("%s = %s: Dovecot 2.4 takes a plain path here, "
					    "without '<'"), s->key, s->value);
		return file_check(env, s->key, s->value, e);
	}
	return 0;
}

static int lint_dropin(const struct env *env, const struct server_info *si, const char *path,
		       const char *text, struct error *e)
{
	enum generation gen = generation_of(si->version);
	struct conf c;
	int rc = 0;

	conf_init(&c, env, path, NULL);
	conf_parse_text(&c, path, text, 0);
	for (size_t i = 0; i < c.n && rc == 0; i++)
		if (lint_setting(env, si, gen, &c.v[i], e) < 0)
			rc = err_prefix(e, "%s", path);
	conf_free(&c);
	return rc;
}

/* Replaces the stage directory in doveconf's message with the real one. */
static void unstage_message(struct error *e, const char *stage, const char *config_dir)
{
	char *at = strstr(e->msg, stage);

	if (at == NULL || stage[0] == '\0')
		return;
	char *fixed = xasprintf("%.*s%s%s", (int)(at - e->msg), e->msg, config_dir,
				at + strlen(stage));

	snprintf(e->msg, sizeof(e->msg), "%s", fixed);
	free(fixed);
}

/*
 * Run from the host on an unpacked lab tree, doveconf looks the service
 * users (dovenull, dovecot) up in the host's passwd, where a build machine
 * has none.  That says nothing about the configuration, so it is not a
 * failure there; on the live system or in a chroot it is.
 */
static bool host_user_mismatch(const struct env *env, const struct server_info *si,
			       const char *line)
{
	return !doveconf_sees_root(env, si) && strstr(line, "_user doesn't exist") != NULL;
}

static int run_doveconf(const struct env *env, const struct server_info *si, const char *flag,
			const char *stage_dir, struct error *e)
{
	char *stage_conf = path_join(stage_dir, path_base(si->config_file));
	char *tool_conf = server_tool_path(env, si, stage_conf);
	char *tool_stage = server_tool_path(env, si, stage_dir);
	const char *argv[] = {si->binary, flag, "-c", tool_conf, NULL};
	struct spawn_result r;
	char line[512];
	int rc = 0;

	memset(&r, 0, sizeof(r));
	if (server_exec(env, si, argv, &r, e) < 0) {
		rc = err_prefix(e, "doveconf");
	} else if (r.exit_code != 0 &&
		   !host_user_mismatch(env, si, spawn_first_line(&r, line, sizeof(line)))) {
		rc = err_set(e, _("doveconf %s rejects the new configuration: %s"), flag, line);
		unstage_message(e, tool_stage, si->config_dir);
	}
	spawn_result_free(&r);
	free(tool_stage);
	free(tool_conf);
	free(stage_conf);
	return rc;
}

/* What 2.4 wants instead of a 2.3 setting it rejects, where known. */
static const char *wanted24(const char *name)
{
	static const struct {
		const char *name, *hint;
	} hints[] = {
		{"mail_location", N_("mail_driver and mail_path (e.g. mail_driver = maildir, "
				     "mail_path = ~/Maildir; mbox also mail_inbox_path)")},
		{"passdb { }", N_("a named section with its driver: passdb NAME { driver = ... }")},
		{"userdb { }", N_("a named section with its driver: userdb NAME { driver = ... }")},
		{"args", N_("the driver's own settings (passwd_file_path = ..., fields { uid = ... })")},
		{"auth_username_format", N_("%{user | lower} style variables")},
	};
	const struct rename24 *r = rename_of(name);

	if (r && r->new)
		return r->new;
	if (r)
		return N_("nothing: remove it");
	for (size_t i = 0; i < ARRAY_LEN(hints); i++)
		if (strcmp(hints[i].name, name) == 0)
			return hints[i].hint;
	return NULL;
}

/* Rewrites a stage file (host path) with fn applied to its text. */
static int stage_rewrite(const char *host, char *(*fn)(const char *text, int n, const char *v),
			 int n, const char *v)
{
	char *text = NULL, *out;
	size_t len;
	struct stat st;
	int rc;

	if (read_file(host, &text, &len, NULL) < 0 || stat(host, &st) < 0) {
		free(text);
		return -1;
	}
	out = fn(text, n, v);
	{
		struct file_meta m = {st.st_uid, st.st_gid, st.st_mode & 07777, NULL};

		rc = fs_replace(host, out, strlen(out), &m);
	}
	free(out);
	free(text);
	return rc;
}

/* Comments out line n, and when it opens a section, through its "}". */
static char *stage_comment(const char *text, int n, const char *unused)
{
	struct strbuf sb = STRBUF_INIT;
	const char *l = text;
	int depth = 0;
	bool in = false;

	(void)unused;
	for (int i = 1; *l; i++) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) + 1 : strlen(l);

		if (i == n)
			in = true;
		if (in) {
			for (size_t k = 0; k < len; k++)
				depth += (l[k] == '{') - (l[k] == '}');
			sb_addc(&sb, '#');
			in = depth > 0;
		}
		sb_add(&sb, l, len);
		l += len;
	}
	return sb_detach(&sb);
}

/* The version lines doveconf asks for, first in the file. */
static char *stage_prepend(const char *text, int n, const char *line)
{
	(void)n;
	return xasprintf("%s\n%s", line, text);
}

/* After "dovecot_config_version = V": the storage version line. */
static char *stage_after_version(const char *text, int n, const char *line)
{
	const char *at = strstr(text, "dovecot_config_version");
	const char *eol = at ? strchr(at, '\n') : NULL;

	(void)n;
	if (eol == NULL)
		return xasprintf("%s\n%s", line, text);
	return xasprintf("%.*s%s\n%s", (int)(eol + 1 - text), text, line, eol + 1);
}

/* "2.4.1-4" -> "2.4.1": what dovecot_config_version accepts. */
static char *plain_version(const char *v)
{
	return xstrndup(v, strspn(v, "0123456789."));
}

/*
 * doveconf stops at its first error, so a config written for 2.3 would
 * need one try per setting.  On the (disposable) stage, each error is
 * noted and the line commented out, and doveconf is asked again, so every
 * setting 2.4 rejects is named at once, with what 2.4 wants where known.
 * Returns -1 with e set (the list, or an error that cannot be walked past).
 */
static int list_rejects(const struct env *env, const struct server_info *si,
			const char *stage_dir, struct error *e)
{
	char *stage_conf = path_join(stage_dir, path_base(si->config_file));
	char *tool_conf = server_tool_path(env, si, stage_conf);
	char *tool_stage = server_tool_path(env, si, stage_dir);
	char *host_stage = env_host_path(env, stage_dir);
	char *host_conf = env_host_path(env, stage_conf);
	const char *argv[] = {si->binary, "-n", "-c", tool_conf, NULL};
	struct strlist items = STRLIST_INIT;
	char *version = plain_version(si->version);
	int rc = 0;

	for (int round = 0; round < 64 && rc == 0; round++) {
		struct spawn_result r;
		char *line, *file, *at, *msg, *ver;
		int n = 0;

		memset(&r, 0, sizeof(r));
		if (server_exec(env, si, argv, &r, e) < 0) {
			rc = err_prefix(e, "doveconf");
			break;
		}
		if (r.exit_code == 0) {
			spawn_result_free(&r);
			break;
		}
		line = xstrdup(fatal_line(r.err[0] ? r.err : r.out));
		spawn_result_free(&r);
		if (strstr(line, "The first setting must be dovecot_config_version")) {
			ver = xasprintf("dovecot_config_version = %s", version);
			sl_add_owned(&items, xasprintf(_("%s: add '%s' as its first setting"),
						       si->config_file, ver));
			rc = stage_rewrite(host_conf, stage_prepend, 0, ver);
			free(ver);
		} else if (strstr(line, "dovecot_storage_version setting must be set")) {
			ver = xasprintf("dovecot_storage_version = %s", version);
			sl_add_owned(&items, xasprintf(_("%s: add '%s' after dovecot_config_version (the "
							 "oldest version whose mail storage format "
							 "Dovecot may write)"), si->config_file, ver));
			rc = stage_rewrite(host_conf, stage_after_version, 0, ver);
			free(ver);
		} else if ((at = strstr(line, "Error in configuration file ")) != NULL &&
			   (msg = strstr(at, ": ")) != NULL &&
			   (file = at + 28) != NULL &&
			   strncmp(file, tool_stage, strlen(tool_stage)) == 0) {
			char *rel, *host, *key, *lp = strstr(file, " line ");
			const char *hint;

			if (lp == NULL || lp > msg) {
				rc = err_set(e, "%s", line);
				free(line);
				break;
			}
			n = atoi(lp + 6);
			rel = xstrndup(file + strlen(tool_stage), (size_t)(lp - file) - strlen(tool_stage));
			host = xasprintf("%s%s", host_stage, rel);
			msg += 2;
			key = strstr(msg, " is missing section name")
			      ? xasprintf("%.*s { }", (int)strcspn(msg, " {"), msg)
			      : xstrndup(msg, strcspn(msg, ":"));
			hint = wanted24(key);
			sl_add_owned(&items, xasprintf(_("%s%s:%d: %s%s%s"), si->config_dir, rel, n, msg,
						       hint ? _("; 2.4 wants: ") : "", hint ? _(hint) : ""));
			rc = stage_rewrite(host, stage_comment, n, NULL);
			free(key);
			free(host);
			free(rel);
		} else {
			/* not a setting we can step past: the first error as it is */
			rc = err_set(e, _("doveconf -n rejects the new configuration: %s"), line);
			unstage_message(e, tool_stage, si->config_dir);
		}
		free(line);
		/* the same complaint twice: stepping past it did not work */
		if (rc == 0 && items.n > 1 &&
		    strcmp(items.v[items.n - 1], items.v[items.n - 2]) == 0) {
			rc = err_set(e, _("doveconf -n rejects the new configuration: %s"),
				     items.v[items.n - 1]);
			sl_free(&items);
		}
	}
	free(version);
	if (items.n) {
		struct strbuf sb = STRBUF_INIT;

		for (size_t i = 0; i < items.n; i++)
			sb_addf(&sb, "\n  %s", items.v[i]);
		rc = err_set(e, _("Dovecot %s refuses %zu setting(s) of these files; they must be "
				  "changed first:%s"), si->version, items.n, sb.buf);
		sb_free(&sb);
	}
	sl_free(&items);
	free(host_conf);
	free(host_stage);
	free(tool_stage);
	free(tool_conf);
	free(stage_conf);
	return rc;
}

static int dovecot_validate(const struct env *env, const struct server_info *si,
			    const struct plan *p, const char *stage_dir, struct error *e)
{
	for (size_t i = 0; i < p->n_changes; i++) {
		const struct file_change *fc = &p->changes[i];

		if (strcmp(path_base(fc->path), DROPIN_NAME) == 0 &&
		    lint_dropin(env, si, fc->path, fc->new_text, e) < 0)
			return -1;
	}
	if (si->binary == NULL)
		return 0;
	if (run_doveconf(env, si, "-n", stage_dir, e) < 0) {
		/* a config written for 2.3: name everything 2.4 refuses */
		if (generation_of(si->version) == GEN_24 && doveconf_sees_root(env, si))
			return list_rejects(env, si, stage_dir, e);
		return -1;
	}
	/* -x opens the cert, key and DH files, which catches a 2.4 file
	 * setting written with '<'; it needs the files where Dovecot sees
	 * them: the live system, or a chroot into the root */
	if (doveconf_sees_root(env, si))
		return run_doveconf(env, si, "-x", stage_dir, e);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Effective values                                                    */
/* ------------------------------------------------------------------ */

/*
 * doveconf output ("name = value", "section {", "}") as flat keys
 * "ssl_server/cert_file".  Dovecot 2.4 stores ssl_server_* settings in its
 * ssl_server filter and prints them there.
 */
static void parse_doveconf(char *out, struct strlist *keys, struct strlist *values)
{
	char *section[SECTION_DEPTH_MAX];
	int depth = 0;
	char *next;

	for (char *l = out; l; l = next) {
		char *line, *eq;

		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		line = trim(l);
		if (strcmp(line, "}") == 0) {
			if (depth > 0 && depth <= SECTION_DEPTH_MAX)
				free(section[depth - 1]);
			depth -= depth > 0;
			continue;
		}
		if (*line && line[strlen(line) - 1] == '{') {
			line[strlen(line) - 1] = '\0';
			if (depth < SECTION_DEPTH_MAX)
				section[depth] = xstrdup(trim(line));
			depth++;
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		{
			struct strbuf sb = STRBUF_INIT;

			for (int i = 0; i < depth && i < SECTION_DEPTH_MAX; i++)
				sb_addf(&sb, "%s/", section[i]);
			sb_adds(&sb, trim(line));
			sl_add_owned(keys, sb_detach(&sb));
			sl_add(values, trim(eq + 1));
		}
	}
	for (int i = 0; i < depth && i < SECTION_DEPTH_MAX; i++)
		free(section[i]);
}

static const char *kv_get(const struct strlist *keys, const struct strlist *values, const char *key)
{
	for (size_t i = keys->n; i-- > 0;)
		if (strcmp(keys->v[i], key) == 0)
			return values->v[i];
	return NULL;
}

/* "-f protocol=imap" per filter section of scope ("local 10.0.0.1/24"
 * asks as local=10.0.0.1). */
static void scope_args(const char *scope, struct strlist *args)
{
	char *copy = xstrdup(scope), *save = NULL;

	for (char *f = strtok_r(copy, "/", &save); f; f = strtok_r(NULL, "/", &save)) {
		char *sp = strchr(f, ' ');
		char *val;

		if (sp == NULL)
			continue;
		*sp = '\0';
		val = trim(sp + 1);
		val = unquote(val);
		/* a network asks as its first address; doveconf matches it */
		if (strcmp(f, "local_name") != 0)
			val[strcspn(val, " /")] = '\0';
		sl_add(args, "-f");
		sl_add_owned(args, xasprintf("%s=%s", f, val));
	}
	free(copy);
}

static int doveconf_ask(const struct env *env, const struct server_info *si, const char *conf_file,
			const char *scope, const struct expect_list *x, struct strlist *keys,
			struct strlist *values, struct error *e)
{
	char *tool_conf = server_tool_path(env, si, conf_file);
	struct strlist args = STRLIST_INIT;
	struct spawn_result r;
	const char **argv;
	char line[512];
	int rc = 0;

	sl_add(&args, si->binary);
	sl_add(&args, "-c");
	sl_add(&args, tool_conf);
	scope_args(scope, &args);
	for (size_t i = 0; i < x->n; i++) {
		char *ff;

		if (strcmp(x->items[i].scope, scope) != 0)
			continue;
		ff = filter_form(x->items[i].name);
		sl_add(&args, x->items[i].name);
		if (ff)
			sl_add_owned(&args, ff);
	}
	argv = xcalloc(args.n + 1, sizeof(*argv));
	for (size_t i = 0; i < args.n; i++)
		argv[i] = args.v[i];
	memset(&r, 0, sizeof(r));
	if (server_exec(env, si, argv, &r, e) < 0) {
		rc = err_prefix(e, "doveconf");
	} else if (r.exit_code != 0) {
		rc = err_set(e, _("doveconf refuses the configuration: %s"),
			     spawn_first_line(&r, line, sizeof(line)));
	} else {
		parse_doveconf(r.out, keys, values);
	}
	spawn_result_free(&r);
	free(argv);
	sl_free(&args);
	free(tool_conf);
	return rc;
}

/* "file:line" with the stage directory named as the real one. */
static char *origin_text(const struct conf_setting *s, const char *dir, const char *config_dir)
{
	size_t n = strlen(dir);

	if (s == NULL)
		return NULL;
	if (strncmp(s->file, dir, n) == 0 && s->file[n] == '/')
		return xasprintf("%s%s:%d", config_dir, s->file + n, s->line);
	return xasprintf("%s:%d", s->file, s->line);
}

/* With ssl = required Dovecot refuses any authentication before TLS,
 * whatever disable_plaintext_auth / auth_allow_cleartext say (2.4's
 * doveconf: "auth_allow_cleartext=yes has no effect with ssl=required"). */
static bool cleartext_blocked(const char *name, const struct strlist *keys,
			      const struct strlist *values)
{
	const char *ssl = kv_get(keys, values, "ssl");

	return (strcmp(name, "disable_plaintext_auth") == 0 ||
		strcmp(name, "auth_allow_cleartext") == 0) && ssl && strcmp(ssl, "required") == 0;
}

static void judge_scope(const char *config_dir, const char *dir, const struct conf *c,
			const char *scope, struct expect_list *x, const struct strlist *keys,
			const struct strlist *values)
{
	for (size_t i = 0; i < x->n; i++) {
		struct expectation *ex = &x->items[i];
		char *ff = filter_form(ex->name), *origin;
		const char *got = ff ? kv_get(keys, values, ff) : NULL;

		if (strcmp(ex->scope, scope) != 0) {
			free(ff);
			continue;
		}
		if (got == NULL || *got == '\0')
			got = kv_get(keys, values, ex->name);
		origin = origin_text(origin_in(c, scope, ex->name), dir, config_dir);
		expect_set(ex, got, origin,
			   cleartext_blocked(ex->name, keys, values) && got ? EXPECT_HOLDS
			   : expect_judge(ex, got));
		free(origin);
		free(ff);
	}
}

/*
 * doveconf NAME... once per scope, with "-f protocol=imap" (and the
 * local/remote filter) for a filter scope.  Not "-h": Dovecot 2.4.1
 * answers "Multiple settings matched" to it for most names.
 */
static int dovecot_effective(const struct env *env, const struct server_info *si,
			     const char *config_dir, struct expect_list *x, struct error *e)
{
	char *conf_file = path_join(config_dir, path_base(si->config_file));
	char *tool_dir = server_tool_path(env, si, config_dir);
	struct strlist scopes = STRLIST_INIT;
	struct conf c;
	int rc = 0;

	if (si->binary == NULL) {
		free(tool_dir);
		free(conf_file);
		return 0;
	}
	conf_init(&c, env, conf_file, NULL);
	conf_parse_file(&c, conf_file, 0);
	for (size_t i = 0; i < x->n; i++)
		if (!protocol_listed(&scopes, x->items[i].scope))
			sl_add(&scopes, x->items[i].scope);
	for (size_t i = 0; i < scopes.n && rc == 0; i++) {
		struct strlist keys = STRLIST_INIT, values = STRLIST_INIT;

		rc = doveconf_ask(env, si, conf_file, scopes.v[i], x, &keys, &values, e);
		if (rc < 0 && !doveconf_sees_root(env, si)) {
			/* run from the host on a lab tree: cannot tell, not refused */
			rc = 0;
		} else if (rc < 0) {
			unstage_message(e, tool_dir, si->config_dir);
			unstage_message(e, config_dir, si->config_dir);
		} else {
			judge_scope(si->config_dir, config_dir, &c, scopes.v[i], x, &keys, &values);
		}
		sl_free(&keys);
		sl_free(&values);
	}
	conf_free(&c);
	sl_free(&scopes);
	free(tool_dir);
	free(conf_file);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reload                                                              */
/* ------------------------------------------------------------------ */

static char *doveconf_value(const struct env *env, const struct server_info *si, const char *key)
{
	char *conf = server_tool_path(env, si, si->config_file);
	const char *argv[] = {si->binary, "-c", conf, "-h", key, NULL};
	struct spawn_result r;
	struct error e;
	char *out = NULL;

	memset(&r, 0, sizeof(r));
	if (si->binary && server_exec(env, si, argv, &r, &e) == 0 && r.exit_code == 0)
		out = xstrdup(trim(r.out));
	spawn_result_free(&r);
	free(conf);
	return out;
}

static bool master_running(const struct env *env, const char *base_dir)
{
	char *pidfile = path_join(base_dir, "master.pid");
	char *host = env_host_path(env, pidfile), *data = NULL;
	size_t len;
	struct error e;
	bool alive = false;

	if (read_file(host, &data, &len, &e) == 0) {
		long pid = strtol(data, NULL, 10);

		alive = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
	}
	free(data);
	free(host);
	free(pidfile);
	return alive;
}

static int dovecot_reload(const struct env *env, const struct server_info *si, struct error *e)
{
	struct server_info tool;
	struct spawn_result r;
	char line[512], *base_dir;
	const struct timespec pause = {0, 500 * 1000 * 1000};
	int rc = 0;

	memset(&tool, 0, sizeof(tool));
	if (!server_find_binary(env, &tool, doveadm_candidates))
		return err_set(e, _("doveadm not found: cannot reload Dovecot"));
	const char *argv[] = {tool.binary, "reload", NULL};

	memset(&r, 0, sizeof(r));
	if (server_exec(env, &tool, argv, &r, e) < 0)
		rc = err_prefix(e, "doveadm reload");
	else if (r.exit_code != 0)
		rc = err_set(e, _("doveadm reload failed: %s"), spawn_first_line(&r, line, sizeof(line)));
	spawn_result_free(&r);
	free(tool.binary);
	if (rc < 0)
		return rc;
	/* the master re-reads its config on SIGHUP; give it a moment, then
	 * make sure it did not exit */
	nanosleep(&pause, NULL);
	base_dir = doveconf_value(env, si, "base_dir");
	if (!master_running(env, base_dir ? base_dir : "/run/dovecot"))
		rc = err_set(e, _("Dovecot is not running after the reload (no live pid in %s/master.pid)"),
			     base_dir ? base_dir : "/run/dovecot");
	free(base_dir);
	return rc;
}

const struct backend dovecot_backend = {
	.name = "dovecot",
	.display_name = "Dovecot",
	.roles_possible = ROLES_MDA,
	.closes_unchosen = true,
	.detect = dovecot_detect,
	.plan = dovecot_plan,
	.validate = dovecot_validate,
	.reload = dovecot_reload,
	.effective = dovecot_effective,
};
