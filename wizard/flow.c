/*
 * flow.c - the wizard's questions, in order, with Back, Help and Cancel.
 *
 * Each step either shows one screen or passes through: a step passes
 * through when its answer is preseeded (--answers) or, after the user
 * jumped back from the review, when it is already answered.  A step that
 * passes through moving forward also passes through moving back, so Back
 * lands on the previous screen the user actually saw.
 */
#include "flow.h"

#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/cert.h"
#include "../core/dh.h"
#include "../core/diff.h"
#include "../core/fsutil.h"
#include "../selftest/selftest.h"

#define MAX_SERVERS 8

enum step { ST_WELCOME, ST_SERVERS, ST_ROLES, ST_PROFILE, ST_CERT, ST_DH, ST_REVIEW, ST_APPLY,
	    ST_COUNT };

enum go { GO_NEXT, GO_BACK, GO_STAY, GO_QUIT, GO_FAIL, GO_DONE };

struct wserver {
	const struct backend *backend;
	struct server_info si;
	bool selected;
	unsigned roles;
	bool roles_answered;
	bool roles_preset;
	struct plan plan;
};

struct wizard {
	const struct env *env;
	struct frontend *fe;
	const struct wizard_opts *o;
	struct wizard_result *r;
	struct error *e;
	struct wserver srv[MAX_SERVERS];
	size_t n_srv;
	bool detected;
	int dir;                 /* +1 moving forward, -1 moving back */
	bool answered[ST_COUNT];
	bool preset[ST_COUNT];
	bool to_review;          /* a step was revisited from the review */
	int forced;              /* the step chosen from the review, or -1 */
	size_t roles_from;       /* server the roles step shows first */
	const struct profile *profile;
	char *cert, *key, *dh;   /* NULL cert: keep; NULL dh: none */
	char *typed_cert, *typed_key; /* last paths typed, offered again */
	char *dh_pem;            /* parameters made here, written only at apply */
	bool planned;
};

/* ---- small helpers ------------------------------------------------------ */

static const char *preset(const struct wizard *w, const char *key)
{
	return answers_get(w->o->preset, key);
}

static int missing(struct wizard *w, const char *key)
{
	return err_set(w->e, _("missing answer '%s' (the answers file must answer every "
			       "question with --non-interactive)"), key);
}

static enum go fail_missing(struct wizard *w, const char *key)
{
	missing(w, key);
	return GO_FAIL;
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? xstrdup(src) : NULL;
}

/* Asks once; Esc or closed input on the question itself also quits. */
static enum go confirm_quit(struct wizard *w)
{
	struct fe_screen s = {
		.title = _("Quit"),
		.text = _("Quit the wizard? Nothing has been written; every file stays as it is."),
	};

	return w->fe->yesno(w->fe, &s) == FE_BACK ? GO_STAY : GO_QUIT;
}

static enum go after_screen(struct wizard *w, enum fe_rc rc)
{
	switch (rc) {
	case FE_OK:
	case FE_EXTRA:
		return GO_NEXT;
	case FE_BACK:
		return GO_BACK;
	case FE_CANCEL:
		break;
	}
	return confirm_quit(w);
}

static void error_screen(struct wizard *w, const char *msg)
{
	struct fe_screen s = {.title = _("Error"), .text = msg};

	w->fe->message(w->fe, &s);
}

/* Whether a step with this answer state shows no screen now. */
static bool passes(const struct wizard *w, enum step st, bool answered, bool was_preset)
{
	if ((int)st == w->forced)
		return false;
	return answered && (was_preset || w->to_review || w->o->non_interactive);
}

static enum go pass(const struct wizard *w)
{
	return w->dir < 0 ? GO_BACK : GO_NEXT;
}

/* ---- welcome ------------------------------------------------------------ */

static enum go step_welcome(struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;
	struct fe_screen s = {.title = _("Harden the TLS of your mail server")};
	enum fe_rc rc;

	if (w->o->non_interactive)
		return GO_NEXT;
	sb_adds(&sb, _("This wizard finds Postfix and Dovecot, asks which services they offer, "
		       "which clients must still connect and which certificate to use, and "
		       "shows every change as a diff.\n\n"
		       "Nothing is written before you choose Apply on the review screen. "
		       "Every apply makes a checkpoint you can roll back."));
	if (w->env->lab) {
		sb_adds(&sb, "\n\n");
		sb_addf(&sb, _("Lab mode: working on the copy under %s; no server is reloaded."),
			w->env->root);
	}
	s.text = sb.buf;
	s.help = _("Keys: arrows move, Space toggles a checkbox, Tab moves between buttons, "
		   "Enter confirms, Esc quits. Every screen has a Help button; Back returns "
		   "to the previous question.");
	s.ok_label = _("Start");
	rc = w->fe->message(w->fe, &s);
	sb_free(&sb);
	return rc == FE_BACK ? GO_STAY : after_screen(w, rc);
}

/* ---- detection and servers ---------------------------------------------- */

unsigned wizard_default_roles(const struct backend *b)
{
	return b->roles_possible &
	       (ROLE_MX | ROLE_SUBMISSION | ROLE_SUBMISSIONS | ROLE_IMAPS | ROLE_POP3S);
}

static void detect_all(struct wizard *w)
{
	const struct backend *const *bl = backend_list();

	if (w->detected)
		return;
	for (size_t i = 0; bl[i] && w->n_srv < MAX_SERVERS; i++) {
		struct wserver *s = &w->srv[w->n_srv++];

		s->backend = bl[i];
		s->si.backend = bl[i];
		bl[i]->detect(w->env, &s->si);
		s->si.backend = bl[i];
		s->selected = s->si.found && s->si.usable;
		s->roles = s->si.roles_served & bl[i]->roles_possible;
		if (s->roles == 0)
			s->roles = wizard_default_roles(bl[i]);
	}
	w->detected = true;
}

static size_t n_usable(const struct wizard *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->n_srv; i++)
		n += w->srv[i].si.usable;
	return n;
}

static struct wserver *server_named(struct wizard *w, const char *name)
{
	for (size_t i = 0; i < w->n_srv; i++)
		if (strcmp(w->srv[i].backend->name, name) == 0)
			return &w->srv[i];
	return NULL;
}

static int apply_servers_preset(struct wizard *w, const char *list)
{
	char *copy = xstrdup(list), *save = NULL;
	int rc = 0;

	for (size_t i = 0; i < w->n_srv; i++)
		w->srv[i].selected = false;
	for (char *t = strtok_r(copy, ", ", &save); t && rc == 0; t = strtok_r(NULL, ", ", &save)) {
		struct wserver *s = server_named(w, t);

		if (s == NULL)
			rc = err_set(w->e, _("answers: unknown server '%s'"), t);
		else if (!s->si.usable)
			rc = err_set(w->e, _("answers: %s cannot be configured here: %s"), t,
				     s->si.why ? s->si.why : _("not usable"));
		else
			s->selected = true;
	}
	free(copy);
	if (rc == 0 && list[strspn(list, ", ")] == '\0')
		rc = err_set(w->e, _("answers: 'servers' names no server"));
	return rc;
}

static char *server_label(const struct wserver *s)
{
	if (!s->si.found)
		return xasprintf(_("%s: not found (%s)"), s->backend->display_name,
				 s->si.why ? s->si.why : _("not installed"));
	if (!s->si.usable)
		return xasprintf(_("%s: cannot be configured (%s)"), s->backend->display_name,
				 s->si.why ? s->si.why : "");
	return xasprintf(_("%s %s, configuration in %s"), s->backend->display_name,
			 s->si.version ? s->si.version : "?",
			 s->si.config_dir ? s->si.config_dir : "?");
}

static char *servers_text(const struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, _("These mail servers were found. Choose the ones to harden."));
	for (size_t i = 0; i < w->n_srv; i++) {
		char *l;

		if (w->srv[i].si.usable)
			continue;
		l = server_label(&w->srv[i]);
		sb_addf(&sb, "\n  - %s", l);
		free(l);
	}
	return sb_detach(&sb);
}

static enum go servers_none(struct wizard *w)
{
	char *text = servers_text(w);

	err_set(w->e, "%s", _("no supported mail server found (Postfix, Dovecot)"));
	if (!w->o->non_interactive) {
		struct fe_screen s = {.title = _("No mail server found"), .text = text};

		w->fe->message(w->fe, &s);
	}
	free(text);
	return GO_FAIL;
}

static enum go servers_ask(struct wizard *w)
{
	struct fe_item items[MAX_SERVERS];
	struct fe_screen s = {.title = _("Mail servers"), .back = true};
	char *labels[MAX_SERVERS], *text = servers_text(w);
	size_t n = 0, chosen = 0;
	enum fe_rc rc;

	for (size_t i = 0; i < w->n_srv; i++) {
		if (!w->srv[i].si.usable)
			continue;
		labels[n] = server_label(&w->srv[i]);
		items[n] = (struct fe_item){w->srv[i].backend->name, labels[n], w->srv[i].selected,
					    false};
		n++;
	}
	s.text = text;
	s.help = _("mailharden configures each chosen server with its own checker and its own "
		   "checkpoint. A server that is not installed, or whose version cannot be "
		   "told, cannot be chosen; the reason is shown above the list.");
	rc = w->fe->checklist(w->fe, &s, items, n);
	for (size_t i = 0, k = 0; i < w->n_srv; i++) {
		if (!w->srv[i].si.usable)
			continue;
		if (rc == FE_OK)
			w->srv[i].selected = items[k].on;
		chosen += w->srv[i].selected;
		free(labels[k++]);
	}
	free(text);
	if (rc == FE_OK && chosen == 0) {
		error_screen(w, _("Choose at least one server."));
		return GO_STAY;
	}
	return after_screen(w, rc);
}

static enum go step_servers(struct wizard *w)
{
	const char *p = preset(w, "servers");

	detect_all(w);
	if (n_usable(w) == 0)
		return servers_none(w);
	if (p && !w->answered[ST_SERVERS]) {
		if (apply_servers_preset(w, p) < 0)
			return GO_FAIL;
		w->answered[ST_SERVERS] = w->preset[ST_SERVERS] = true;
	}
	if (passes(w, ST_SERVERS, w->answered[ST_SERVERS], w->preset[ST_SERVERS]))
		return pass(w);
	if (w->o->non_interactive)
		return fail_missing(w, "servers");
	w->answered[ST_SERVERS] = true;
	return servers_ask(w);
}

/* ---- roles --------------------------------------------------------------- */

static int roles_preset(struct wizard *w, struct wserver *s)
{
	char *key = xasprintf("%s.roles", s->backend->name);
	const char *p = preset(w, key);
	unsigned roles;
	int rc = 0;

	if (p && !s->roles_answered) {
		if (roles_parse(p, &roles, w->e) < 0) {
			rc = err_prefix(w->e, _("answers: %s"), key);
		} else if (roles & ~s->backend->roles_possible) {
			char *bad = roles_format(roles & ~s->backend->roles_possible);

			rc = err_set(w->e, _("answers: %s cannot serve role %s"), s->backend->name, bad);
			free(bad);
		} else {
			s->roles = roles;
			s->roles_answered = s->roles_preset = true;
		}
	}
	free(key);
	return rc;
}

static char *roles_help(const struct wserver *s)
{
	struct strbuf sb = STRBUF_INIT;

	for (const struct role_info *ri = role_table(); ri->name; ri++) {
		if (!(s->backend->roles_possible & ri->role))
			continue;
		sb_addf(&sb, "%s%s (%d)\n%s", sb.len ? "\n\n" : "", ri->name, ri->port, _(ri->help));
	}
	return sb_detach(&sb);
}

static char *roles_text(const struct wserver *s)
{
	char *served = roles_format(s->si.roles_served & s->backend->roles_possible);
	char *t;

	if (*served)
		t = xasprintf(_("Which services should %s offer? Prefilled with what its "
				"configuration serves now: %s. A service you leave out is closed."),
			      s->backend->display_name, served);
	else
		t = xasprintf(_("Which services should %s offer? Its configuration serves none of "
				"them yet. A service you leave out is closed."),
			      s->backend->display_name);
	free(served);
	return t;
}

static enum go roles_ask(struct wizard *w, struct wserver *s)
{
	struct fe_item items[16];
	char *labels[16];
	struct fe_screen sc = {.title = _("Services and ports"), .back = true};
	size_t n = 0;
	unsigned chosen = 0;
	enum fe_rc rc;

	for (const struct role_info *ri = role_table(); ri->name && n < 16; ri++) {
		if (!(s->backend->roles_possible & ri->role))
			continue;
		/* port first: a narrow screen cuts the end of the label */
		labels[n] = xasprintf("%-3d %s%s", ri->port, _(ri->label),
				      (s->si.roles_served & ri->role) ? _(" [now]") : "");
		items[n] = (struct fe_item){ri->name, labels[n], (s->roles & ri->role) != 0, false};
		n++;
	}
	sc.text = roles_text(s);
	sc.help = roles_help(s);
	rc = w->fe->checklist(w->fe, &sc, items, n);
	for (size_t i = 0; i < n; i++) {
		if (items[i].on)
			chosen |= role_by_name(items[i].tag)->role;
		free(labels[i]);
	}
	free((char *)sc.text);
	free((char *)sc.help);
	if (rc == FE_OK && chosen == 0) {
		error_screen(w, _("Choose at least one service."));
		return GO_STAY;
	}
	if (rc == FE_OK) {
		s->roles = chosen;
		s->roles_answered = true;
	}
	return after_screen(w, rc);
}

/* Index of the next selected server from i in direction dir, or -1. */
static long next_selected(const struct wizard *w, long i, int dir)
{
	for (; i >= 0 && (size_t)i < w->n_srv; i += dir)
		if (w->srv[i].selected)
			return i;
	return -1;
}

static enum go step_roles(struct wizard *w)
{
	long i = w->dir < 0 ? next_selected(w, (long)w->n_srv - 1, -1)
			    : next_selected(w, (long)w->roles_from, 1);
	bool forced = w->forced == ST_ROLES;

	w->roles_from = 0;
	while (i >= 0) {
		struct wserver *s = &w->srv[i];
		enum go g;

		if (roles_preset(w, s) < 0)
			return GO_FAIL;
		if (!forced && passes(w, ST_ROLES, s->roles_answered, s->roles_preset)) {
			i = next_selected(w, i + w->dir, w->dir);
			continue;
		}
		if (w->o->non_interactive) {
			char *key = xasprintf("%s.roles", s->backend->name);

			missing(w, key);
			free(key);
			return GO_FAIL;
		}
		g = roles_ask(w, s);
		if (g == GO_STAY)
			continue;
		if (g != GO_NEXT && g != GO_BACK)
			return g;
		w->dir = g == GO_NEXT ? 1 : -1;
		i = next_selected(w, i + w->dir, w->dir);
	}
	return w->dir < 0 ? GO_BACK : GO_NEXT;
}

/* ---- compatibility (profile) --------------------------------------------- */

static const enum profile_id offered_profiles[] = {PROFILE_MODERN, PROFILE_INTERMEDIATE,
						    PROFILE_OLD};

/* Compact: at 60x24 the question, three client lists and the menu must
 * fit on one screen. */
static char *profile_text(void)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, _("Which clients must still connect? The oldest each choice allows:"));
	for (size_t i = 0; i < ARRAY_LEN(offered_profiles); i++) {
		const struct profile *p = profile_get(offered_profiles[i]);

		sb_addf(&sb, "\n%s: %s", p->name, _(p->oldest_clients));
	}
	sb_adds(&sb, "\n");
	sb_adds(&sb, _("Port 25 (mail from other servers) stays opportunistic in every "
		       "choice: see Help."));
	return sb_detach(&sb);
}

static char *profile_help(void)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < ARRAY_LEN(offered_profiles); i++) {
		const struct profile *p = profile_get(offered_profiles[i]);

		sb_addf(&sb, "%s\n%s\n\n", p->name, _(p->help));
	}
	sb_addf(&sb, "mx (25)\n%s", _(role_info(ROLE_MX)->help));
	return sb_detach(&sb);
}

static enum go profile_ask(struct wizard *w)
{
	struct fe_item items[ARRAY_LEN(offered_profiles)];
	struct fe_screen s = {.title = _("Compatibility"), .back = true, .default_item = 1};
	size_t choice = 1;
	enum fe_rc rc;

	for (size_t i = 0; i < ARRAY_LEN(offered_profiles); i++) {
		const struct profile *p = profile_get(offered_profiles[i]);

		items[i] = (struct fe_item){p->name, _(p->summary), false, false};
		if (w->profile == p)
			s.default_item = i;
	}
	s.text = profile_text();
	s.help = profile_help();
	rc = w->fe->menu(w->fe, &s, items, ARRAY_LEN(items), &choice);
	free((char *)s.text);
	free((char *)s.help);
	if (rc == FE_OK && choice < ARRAY_LEN(items)) {
		w->profile = profile_get(offered_profiles[choice]);
		w->answered[ST_PROFILE] = true;
	}
	return after_screen(w, rc);
}

static enum go step_profile(struct wizard *w)
{
	const char *p = preset(w, "profile");

	if (p && !w->answered[ST_PROFILE]) {
		w->profile = profile_by_name(p);
		if (w->profile == NULL) {
			err_set(w->e, _("answers: unknown profile '%s': modern, intermediate or old"), p);
			return GO_FAIL;
		}
		w->answered[ST_PROFILE] = w->preset[ST_PROFILE] = true;
	}
	if (passes(w, ST_PROFILE, w->answered[ST_PROFILE], w->preset[ST_PROFILE]))
		return pass(w);
	if (w->o->non_interactive)
		return fail_missing(w, "profile");
	return profile_ask(w);
}

/* ---- certificate ----------------------------------------------------------- */

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

static int check_cert(struct wizard *w, const char *cert, const char *key)
{
	struct answers a = {.profile = w->profile, .cert_file = cert, .key_file = key};

	return answers_check(w->env, &a, w->e);
}

/* The name clients use for this host: /etc/mailname as Debian's MTAs
 * take it, else the system's. */
static char *mail_host_name(const struct wizard *w)
{
	char *path = env_host_path(w->env, "/etc/mailname"), *data = NULL, buf[256] = "";
	size_t len;

	if (w->o->host_name)
		snprintf(buf, sizeof(buf), "%s", w->o->host_name);
	else if (fs_read(path, &data, &len, NULL) == 0)
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(data, " \t\r\n"), data);
	if (buf[0] == '\0' && gethostname(buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	free(data);
	free(path);
	return cert_hostname_valid(buf) ? xstrdup(buf) : NULL;
}

/* The inspection's warnings (low and up), one per line; NULL if none. */
static char *cert_warnings(struct wizard *w, const char *cert, const char *key,
			   enum severity *worst)
{
	char *host = mail_host_name(w);
	struct cert_inspect_opts io = {.cert_shown = cert, .key_shown = key, .host = host};
	struct cert_report rep;
	struct strbuf sb = STRBUF_INIT;
	struct error e = {{0}};

	io.cert_path = env_host_path(w->env, cert);
	io.key_path = env_host_path(w->env, key);
	*worst = SEV_OK;
	if (cert_inspect(&io, &rep, &e) < 0) {
		sb_addf(&sb, "%s: %s", severity_label(SEV_HIGH), e.msg);
		*worst = SEV_HIGH;
	} else {
		for (size_t i = 0; i < rep.findings.n; i++) {
			const struct finding *f = &rep.findings.v[i];

			if (f->sev < SEV_LOW)
				continue;
			sb_addf(&sb, "%s%s: %s", sb.len ? "\n" : "", severity_label(f->sev), f->text);
			if (f->fix)
				sb_addf(&sb, "\n  %s", f->fix);
		}
		*worst = findings_worst(&rep.findings);
		cert_report_free(&rep);
	}
	free((char *)io.cert_path);
	free((char *)io.key_path);
	free(host);
	return sb.len ? sb_detach(&sb) : (sb_free(&sb), NULL);
}

/* Asks "use it anyway?" when the certificate has warnings; No (the
 * default for anything high) returns to the choice. */
static bool cert_accepted(struct wizard *w, const char *cert, const char *key)
{
	enum severity worst;
	char *warn = cert_warnings(w, cert, key, &worst), *text;
	struct fe_screen s = {.title = _("Certificate warnings"), .default_no = worst >= SEV_HIGH};
	bool yes;

	if (warn == NULL)
		return true;
	text = xasprintf(_("%s:\n%s\n\nUse this certificate anyway?"), cert, warn);
	s.text = text;
	s.help = _("These findings come from mailharden's certificate inspection (the same as "
		   "\"mailharden cert inspect\"). A self-signed certificate is not trusted by "
		   "other mail servers or clients: the guide says not to use one on an MTA. "
		   "An expiring certificate, missing intermediates or a name that does not "
		   "match make clients refuse or warn. Answer No to choose another one.");
	yes = w->fe->yesno(w->fe, &s) == FE_OK;
	free(text);
	free(warn);
	return yes;
}

/* A preseeded certificate is not asked about: its warnings are printed. */
static void cert_warn_printed(struct wizard *w, const char *cert, const char *key)
{
	enum severity worst;
	char *warn = cert_warnings(w, cert, key, &worst);

	if (warn == NULL)
		return;
	sl_add_owned(&w->r->summary, xasprintf(_("Certificate %s has warnings:"), cert));
	for (char *l = strtok(warn, "\n"); l; l = strtok(NULL, "\n")) {
		sl_add_owned(&w->r->summary, xasprintf("  %s", l));
		if (strcmp(w->fe->name, "dialog") != 0)
			msg_warn("%s: %s", cert, l);
	}
	free(warn);
}

/* Asks for a path; GO_NEXT with *out set, or what the user did instead. */
static enum go ask_path(struct wizard *w, const char *title, const char *text,
			const char *help, const char *init, char **out)
{
	struct fe_screen s = {.title = title, .text = text, .help = help, .back = true};
	enum fe_rc rc = w->fe->input(w->fe, &s, init ? init : "", out);

	return after_screen(w, rc);
}

static enum go cert_typed(struct wizard *w)
{
	const char *help = _("Give the paths as the mail server sees them. The certificate "
			     "file should hold the whole chain (your certificate first, then "
			     "the intermediates), as Let's Encrypt's fullchain.pem does. The key "
			     "must be unencrypted and match the certificate.");
	char *cert = NULL, *key = NULL;
	enum go g;

	g = ask_path(w, _("Certificate"), _("Path of the certificate chain (PEM):"), help,
		     w->typed_cert ? w->typed_cert : w->cert, &cert);
	if (g != GO_NEXT)
		return g == GO_BACK ? GO_STAY : g;
	set_str(&w->typed_cert, cert);
	g = ask_path(w, _("Private key"), _("Path of the private key (PEM) for this certificate:"),
		     help, w->typed_key ? w->typed_key : w->key, &key);
	if (g == GO_NEXT) {
		set_str(&w->typed_key, key);
		if (check_cert(w, cert, key) < 0) {
			error_screen(w, w->e->msg);
			g = GO_STAY;
		} else if (!cert_accepted(w, cert, key)) {
			g = GO_STAY;
		} else {
			set_str(&w->cert, cert);
			set_str(&w->key, key);
			w->answered[ST_CERT] = true;
		}
	} else if (g == GO_BACK) {
		g = GO_STAY;
	}
	free(cert);
	free(key);
	return g;
}

static char *cert_help(void)
{
	return xstrdup(_("The servers present this certificate to every client. Clients check "
			 "it against the name they connect to, so it must cover the mail host "
			 "name. mailharden checks with OpenSSL that the key belongs to the "
			 "certificate before it goes on. \"Keep\" leaves the certificate "
			 "settings as they are now."));
}

static enum go cert_pick(struct wizard *w, const struct cert_candidate *c, size_t n,
			 size_t choice)
{
	if (choice == n) { /* keep */
		set_str(&w->cert, NULL);
		set_str(&w->key, NULL);
		w->answered[ST_CERT] = true;
		return GO_NEXT;
	}
	if (choice == n + 1)
		return cert_typed(w);
	if (check_cert(w, c[choice].cert, c[choice].key) < 0) {
		error_screen(w, w->e->msg);
		return GO_STAY;
	}
	if (!cert_accepted(w, c[choice].cert, c[choice].key))
		return GO_STAY;
	set_str(&w->cert, c[choice].cert);
	set_str(&w->key, c[choice].key);
	w->answered[ST_CERT] = true;
	return GO_NEXT;
}

static enum go cert_ask(struct wizard *w)
{
	struct cert_candidate *c = NULL;
	size_t n = cert_candidates(w->env, &c), choice = 0;
	struct fe_item *items = xcalloc(n + 2, sizeof(*items));
	char **labels = xcalloc(n + 2, sizeof(*labels)), **tags = xcalloc(n + 2, sizeof(*tags));
	struct fe_screen s = {.title = _("Certificate"), .back = true};
	enum fe_rc rc;
	enum go g;

	for (size_t i = 0; i < n; i++) {
		tags[i] = xasprintf("%zu", i + 1);
		labels[i] = xasprintf("%s (%s)", c[i].cert, c[i].origin);
		items[i] = (struct fe_item){tags[i], labels[i], false, false};
		if (w->cert && strcmp(w->cert, c[i].cert) == 0)
			s.default_item = i;
	}
	items[n] = (struct fe_item){"keep", _("Keep the certificate configured now"), false, false};
	items[n + 1] = (struct fe_item){"path", _("Type the path of another certificate"), false,
					false};
	if (w->answered[ST_CERT] && w->cert == NULL)
		s.default_item = n;
	s.text = n ? _("Which certificate should the servers present? Found on this host:")
		   : _("No certificate with a matching key was found under /etc/letsencrypt "
		       "or /etc/ssl. Keep the current one, or type a path.");
	s.help = cert_help();
	rc = w->fe->menu(w->fe, &s, items, n + 2, &choice);
	g = rc == FE_OK ? cert_pick(w, c, n, choice) : after_screen(w, rc);
	for (size_t i = 0; i < n; i++) {
		free(tags[i]);
		free(labels[i]);
	}
	free((char *)s.help);
	free(tags);
	free(labels);
	free(items);
	cert_candidates_free(c, n);
	return g;
}

static enum go step_cert(struct wizard *w)
{
	const char *pc = preset(w, "cert"), *pk = preset(w, "key");

	if (pc && !w->answered[ST_CERT]) {
		if (strcmp(pc, "keep") == 0 || *pc == '\0') {
			set_str(&w->cert, NULL);
			set_str(&w->key, NULL);
		} else if (pk == NULL) {
			if (w->o->non_interactive)
				return fail_missing(w, "key");
		} else if (check_cert(w, pc, pk) < 0) {
			err_prefix(w->e, _("answers"));
			return GO_FAIL;
		} else {
			set_str(&w->cert, pc);
			set_str(&w->key, pk);
			cert_warn_printed(w, pc, pk);
		}
		w->answered[ST_CERT] = w->preset[ST_CERT] = pk != NULL || w->cert == NULL;
	}
	if (passes(w, ST_CERT, w->answered[ST_CERT], w->preset[ST_CERT]))
		return pass(w);
	if (w->o->non_interactive)
		return fail_missing(w, "cert");
	return cert_ask(w);
}

/* ---- DH parameters (profiles with DHE suites only) ------------------------ */

/* Where parameters made by the wizard go (server path). */
static char *dh_target(const struct wizard *w)
{
	return xasprintf("/etc/ssl/mailharden/dh%d.pem", w->profile->dh_bits);
}

static void dh_keep_pem(struct wizard *w, char *pem)
{
	char *target = dh_target(w);

	free(w->dh_pem);
	w->dh_pem = pem;
	set_str(&w->dh, target);
	free(target);
	w->answered[ST_DH] = true;
}

static enum go dh_named(struct wizard *w)
{
	char *pem = NULL;

	if (dh_named_pem(w->profile->dh_bits, &pem, w->e) < 0) {
		error_screen(w, w->e->msg);
		return GO_STAY;
	}
	dh_keep_pem(w, pem);
	return GO_NEXT;
}

struct dh_gauge {
	struct wizard *w;
	char step[160];
};

static int dh_on_progress(const struct dh_progress *p, void *arg)
{
	struct dh_gauge *g = arg;
	struct frontend *fe = g->w->fe;
	double pct = p->expected_tests > 0 ? 100.0 * (double)p->tested / p->expected_tests : 0;
	char step[160];

	/* the search has no end known in advance: stay below 100 until found */
	if (p->phase == DH_PROVING)
		pct = 99;
	else if (pct > 95)
		pct = 95;
	if (p->phase == DH_PROVING)
		snprintf(step, sizeof(step), "%s", _("proving the safe prime"));
	else
		snprintf(step, sizeof(step), _("%lu candidates tested, %.0f s (Esc cancels)"),
			 p->tested, p->elapsed);
	fe->gauge(fe, _("Fresh DH parameters"), (int)pct, step);
	return fe->gauge_cancelled && fe->gauge_cancelled(fe);
}

static enum go dh_fresh(struct wizard *w)
{
	struct dh_gauge g = {.w = w};
	struct dh_gen_opts o = {.progress = dh_on_progress, .arg = &g};
	char *pem = NULL;
	int rc = dh_generate_pem(w->profile->dh_bits, &o, &pem, w->e);

	w->fe->gauge(w->fe, _("Fresh DH parameters"), -1, NULL);
	if (rc == DH_CANCELLED)
		return GO_STAY; /* nothing was made, nothing is written */
	if (rc < 0) {
		error_screen(w, w->e->msg);
		return GO_STAY;
	}
	dh_keep_pem(w, pem);
	return GO_NEXT;
}

static enum go dh_file(struct wizard *w)
{
	char *path = NULL;
	enum go g;
	struct answers a = {.profile = w->profile};

	g = ask_path(w, _("DH parameters"),
		     _("Path of an existing DH parameter file (PEM, 2048 bits or more):"),
		     _("The file must hold DH PARAMETERS in PEM form, as written by "
		       "\"mailharden dhparam\". Groups smaller than 2048 bits are broken "
		       "(Logjam)."),
		     w->dh_pem ? NULL : w->dh, &path);
	if (g != GO_NEXT)
		return g == GO_BACK ? GO_STAY : g;
	a.dh_file = path;
	if (*path == '\0' || answers_check(w->env, &a, w->e) < 0) {
		error_screen(w, *path ? w->e->msg : _("Give the path of a file."));
		free(path);
		return GO_STAY;
	}
	free(w->dh_pem);
	w->dh_pem = NULL;
	set_str(&w->dh, path);
	w->answered[ST_DH] = true;
	free(path);
	return GO_NEXT;
}

static char *dh_help(void)
{
	return xstrdup(_("DHE key exchange needs a prime group. Today's advice (RFC 7919, and "
			 "the guide) is a named group: ffdhe2048/3072/4096 are well-known safe "
			 "primes that clients can recognise, checked by many eyes, so nothing "
			 "is gained by a secret prime of your own; it is written instantly. "
			 "Fresh parameters make a new safe prime on every core; it takes from "
			 "seconds to minutes. Groups below 2048 bits are broken (Logjam). "
			 "Profiles with only TLS 1.3 and ECDHE suites (modern, intermediate) "
			 "need no DH file at all. Nothing is written before Apply."));
}

static enum go dh_ask(struct wizard *w)
{
	char *target = dh_target(w), *text, *l_group;
	struct fe_item items[3];
	struct fe_screen s = {.title = _("DH parameters"), .back = true};
	size_t choice = 0;
	enum fe_rc rc;
	enum go g;

	l_group = xasprintf(_("RFC 7919 group %s (instant, recommended)"),
			    dh_group_name(w->profile->dh_bits));
	items[0] = (struct fe_item){"group", l_group, false, false};
	items[1] = (struct fe_item){"fresh", _("fresh parameters (slow; progress gauge, Esc "
					       "cancels)"), false, false};
	items[2] = (struct fe_item){"file", _("an existing file"), false, false};
	if (w->answered[ST_DH] && w->dh && w->dh_pem == NULL)
		s.default_item = 2;
	text = xasprintf(_("This profile keeps DHE suites for old clients, so the servers need "
			   "%d-bit DH parameters. They will be written to %s when you apply."),
			 w->profile->dh_bits, target);
	s.text = text;
	s.help = dh_help();
	rc = w->fe->menu(w->fe, &s, items, ARRAY_LEN(items), &choice);
	if (rc != FE_OK)
		g = after_screen(w, rc);
	else if (choice == 0)
		g = dh_named(w);
	else if (choice == 1)
		g = dh_fresh(w);
	else
		g = dh_file(w);
	free((char *)s.help);
	free(text);
	free(l_group);
	free(target);
	return g;
}

static enum go step_dh(struct wizard *w)
{
	const char *p = preset(w, "dh");

	if (w->profile == NULL || w->profile->dh_bits == 0)
		return pass(w);
	if (p && !w->answered[ST_DH] && strcmp(p, "rfc7919") == 0) {
		char *pem = NULL;

		if (dh_named_pem(w->profile->dh_bits, &pem, w->e) < 0)
			return GO_FAIL;
		dh_keep_pem(w, pem);
		w->preset[ST_DH] = true;
	}
	if (p && !w->answered[ST_DH]) {
		bool none = *p == '\0' || strcmp(p, "none") == 0;
		struct answers a = {.profile = w->profile, .dh_file = none ? NULL : p};

		if (answers_check(w->env, &a, w->e) < 0) {
			err_prefix(w->e, _("answers"));
			return GO_FAIL;
		}
		set_str(&w->dh, none ? NULL : p);
		w->answered[ST_DH] = w->preset[ST_DH] = true;
	}
	if (passes(w, ST_DH, w->answered[ST_DH], w->preset[ST_DH]))
		return pass(w);
	if (w->o->non_interactive)
		return fail_missing(w, "dh");
	return dh_ask(w);
}

/* ---- review --------------------------------------------------------------- */

static void plans_free(struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++)
		plan_free(&w->srv[i].plan);
	w->planned = false;
}

static void answers_of(const struct wizard *w, const struct wserver *s, struct answers *a)
{
	memset(a, 0, sizeof(*a));
	a->roles = s->roles;
	a->profile = w->profile;
	a->cert_file = w->cert;
	a->key_file = w->key;
	a->dh_file = w->profile->dh_bits ? w->dh : NULL;
}

/* Parameters made here exist only in memory until apply: check the rest. */
static int answers_check_pending(struct wizard *w, const struct answers *a)
{
	struct answers c = *a;

	if (w->dh_pem && c.dh_file && strcmp(c.dh_file, w->dh) == 0)
		c.dh_file = NULL;
	return answers_check(w->env, &c, w->e);
}

static int make_plans(struct wizard *w)
{
	plans_free(w);
	for (size_t i = 0; i < w->n_srv; i++) {
		struct wserver *s = &w->srv[i];
		struct answers a;

		if (!s->selected)
			continue;
		answers_of(w, s, &a);
		s->plan.server = &s->si;
		if (answers_check_pending(w, &a) < 0 ||
		    s->backend->plan(w->env, &s->si, &a, &s->plan, w->e) < 0)
			return err_prefix(w->e, "%s", s->backend->display_name);
	}
	w->planned = true;
	return 0;
}

static bool change_is_noop(const struct file_change *c)
{
	return c->existed && c->old_len == c->new_len &&
	       memcmp(c->old_text, c->new_text, c->new_len) == 0;
}

static char *change_diff(const struct file_change *c)
{
	return diff_unified(c->existed ? c->path : "/dev/null", c->old_text, c->old_len, c->path,
			    c->new_text, c->new_len, 3);
}

static char *change_label(const struct wserver *s, const struct file_change *c)
{
	char *d = change_diff(c);
	int plus = 0, minus = 0;

	for (char *l = d; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (l[0] == '+' && strncmp(l, "+++", 3) != 0)
			plus++;
		else if (l[0] == '-' && strncmp(l, "---", 3) != 0)
			minus++;
	}
	free(d);
	return xasprintf("%s: %s (+%d -%d)%s", s->backend->name, c->path, plus, minus,
			 c->existed ? "" : _(" new file"));
}

/* The review menu's rows: what each one stands for. */
struct review_row {
	enum { ROW_APPLY, ROW_FILE, ROW_NOTES, ROW_QUIT } kind;
	const struct file_change *change;
};

struct review {
	struct fe_item items[64];
	struct review_row rows[64];
	char *owned[64];
	size_t n, n_owned;
};

static void review_add(struct review *rv, const char *tag, const char *label, int kind,
		       const struct file_change *c, bool own_label)
{
	if (rv->n >= ARRAY_LEN(rv->items))
		return;
	rv->items[rv->n] = (struct fe_item){tag, label, false, false};
	rv->rows[rv->n] = (struct review_row){kind, c};
	if (own_label)
		rv->owned[rv->n_owned++] = (char *)label;
	rv->n++;
}

static bool have_notes(const struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++)
		if (w->srv[i].selected && w->srv[i].plan.notes.n)
			return true;
	return false;
}

static void review_build(struct wizard *w, struct review *rv)
{
	static const char *const tags[] = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
					   "11", "12", "13", "14", "15", "16"};
	size_t k = 0;

	memset(rv, 0, sizeof(*rv));
	review_add(rv, "apply", _("Apply these changes now"), ROW_APPLY, NULL, false);
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		for (size_t j = 0; s->selected && j < s->plan.n_changes && k < ARRAY_LEN(tags); j++) {
			const struct file_change *c = &s->plan.changes[j];

			if (!change_is_noop(c))
				review_add(rv, tags[k++], change_label(s, c), ROW_FILE, c, true);
		}
	}
	if (have_notes(w))
		review_add(rv, "notes", _("Read the notes on this plan"), ROW_NOTES, NULL, false);
	review_add(rv, "quit", _("Quit without changing anything"), ROW_QUIT, NULL, false);
}

static void review_free(struct review *rv)
{
	for (size_t i = 0; i < rv->n_owned; i++)
		free(rv->owned[i]);
}

static char *notes_text(const struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		for (size_t j = 0; s->selected && j < s->plan.notes.n; j++)
			sb_addf(&sb, "%s: %s\n\n", s->backend->display_name, s->plan.notes.v[j]);
	}
	return sb_detach(&sb);
}

static char *choices_text(const struct wizard *w)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, _("Nothing has been written yet. Choose a file to see its diff, Explain "
		       "for what each setting does and why, or Apply."));
	sb_adds(&sb, "\n");
	for (size_t i = 0; i < w->n_srv; i++) {
		char *roles;

		if (!w->srv[i].selected)
			continue;
		roles = roles_format(w->srv[i].roles);
		sb_addf(&sb, "\n%s: %s", w->srv[i].backend->display_name, roles);
		free(roles);
	}
	sb_addf(&sb, "\n%s %s", _("Profile:"), w->profile->name);
	sb_addf(&sb, "\n%s %s", _("Certificate:"), w->cert ? w->cert : _("keep the current one"));
	if (w->profile->dh_bits && w->dh)
		sb_addf(&sb, "\n%s %s%s", _("DH parameters:"), w->dh,
			w->dh_pem ? _(" (written on Apply)") : "");
	return sb_detach(&sb);
}

static char *explain_text(const struct wizard *w)
{
	const struct plan *plans[MAX_SERVERS];
	size_t n = 0;

	for (size_t i = 0; i < w->n_srv; i++)
		if (w->srv[i].selected)
			plans[n++] = &w->srv[i].plan;
	return explain_plans(plans, n);
}

static void show_text(struct wizard *w, const char *title, char *text)
{
	w->fe->textview(w->fe, title, text);
	free(text);
}

/* Back from the review: which step to revisit. */
static enum go review_back(struct wizard *w)
{
	static const enum step steps[] = {ST_SERVERS, ST_ROLES, ST_PROFILE, ST_CERT, ST_DH};
	static const char *const tags[] = {"1", "2", "3", "4", "5"};
	const char *labels[] = {_("Mail servers"), _("Services and ports"), _("Compatibility"),
				_("Certificate"), _("DH parameters")};
	struct fe_item items[ARRAY_LEN(steps)];
	struct fe_screen s = {.title = _("Go back"), .text = _("Which step do you want to change?"),
			      .default_item = 2};
	size_t n = 0, choice = 0;
	enum step map[ARRAY_LEN(steps)];

	for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
		if (steps[i] == ST_DH && w->profile->dh_bits == 0)
			continue;
		items[n] = (struct fe_item){tags[n], labels[i], false, false};
		map[n++] = steps[i];
	}
	if (w->fe->menu(w->fe, &s, items, n, &choice) != FE_OK || choice >= n)
		return GO_STAY;
	w->forced = (int)map[choice];
	w->to_review = true;
	return GO_BACK;
}

static const char *review_help(void)
{
	return _("Each file is shown as a unified diff: lines starting with - go, lines "
		 "starting with + come. Comments and settings mailharden does not own stay "
		 "as they are. Apply validates a staged copy with the server's own checker, "
		 "makes a checkpoint, writes every file atomically and reloads the server; any "
		 "failure restores every file. Back lets you change any earlier answer.");
}

static enum go review_screen(struct wizard *w)
{
	struct review rv;
	struct fe_screen s = {.title = _("Review"), .back = true, .help = review_help(),
			      .ok_label = _("Select"), .extra_label = _("Explain")};
	size_t choice = 0;
	enum fe_rc rc;
	enum go g = GO_STAY;

	review_build(w, &rv);
	s.text = choices_text(w);
	s.default_item = rv.n > 2 ? 1 : 0;
	rc = w->fe->menu(w->fe, &s, rv.items, rv.n, &choice);
	free((char *)s.text);
	if (rc == FE_EXTRA) {
		show_text(w, _("What each setting does"), explain_text(w));
	} else if (rc == FE_BACK) {
		g = review_back(w);
	} else if (rc == FE_CANCEL) {
		g = confirm_quit(w);
	} else if (rv.rows[choice].kind == ROW_APPLY) {
		g = GO_NEXT;
	} else if (rv.rows[choice].kind == ROW_FILE) {
		show_text(w, rv.rows[choice].change->path, change_diff(rv.rows[choice].change));
	} else if (rv.rows[choice].kind == ROW_NOTES) {
		show_text(w, _("Notes"), notes_text(w));
	} else {
		g = confirm_quit(w);
	}
	review_free(&rv);
	return g;
}

static bool all_empty(const struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++)
		if (w->srv[i].selected && !plan_is_empty(&w->srv[i].plan))
			return false;
	return true;
}

static enum go review_nothing(struct wizard *w)
{
	struct fe_screen s = {.title = _("Review"),
			      .text = _("Nothing to change: the configuration already matches "
					"every answer. No file was written.")};

	sl_add(&w->r->summary, s.text);
	w->fe->message(w->fe, &s);
	w->r->outcome = WIZARD_NOTHING;
	return GO_DONE;
}

static enum go review_plan_failed(struct wizard *w)
{
	if (w->o->non_interactive)
		return GO_FAIL;
	error_screen(w, w->e->msg);
	w->e->msg[0] = '\0';
	return review_back(w) == GO_BACK ? GO_BACK : GO_QUIT;
}

static enum go review_batch(struct wizard *w, const char *apply)
{
	char *diff;

	if (apply == NULL)
		return fail_missing(w, "apply");
	if (strcmp(apply, "yes") == 0)
		return GO_NEXT;
	if (strcmp(apply, "no") != 0) {
		err_set(w->e, _("answers: apply must be yes or no, not '%s'"), apply);
		return GO_FAIL;
	}
	for (size_t i = 0; i < w->n_srv; i++) {
		if (!w->srv[i].selected)
			continue;
		diff = plan_diff(&w->srv[i].plan);
		w->fe->textview(w->fe, w->srv[i].backend->display_name, diff);
		free(diff);
	}
	sl_add(&w->r->summary, _("Not applied (apply = no): nothing was changed."));
	w->r->outcome = WIZARD_NOTHING;
	return GO_DONE;
}

static enum go step_review(struct wizard *w)
{
	const char *apply = preset(w, "apply");
	enum go g;

	w->to_review = false;
	w->forced = -1;
	if (make_plans(w) < 0)
		return review_plan_failed(w);
	if (all_empty(w))
		return review_nothing(w);
	if (w->o->non_interactive)
		return review_batch(w, apply);
	if (apply && strcmp(apply, "yes") == 0 && !w->answered[ST_REVIEW]) {
		w->answered[ST_REVIEW] = true;
		return GO_NEXT;
	}
	do
		g = review_screen(w);
	while (g == GO_STAY);
	return g;
}

/* ---- apply and summary ------------------------------------------------------ */

struct gauge_ctx {
	struct wizard *w;
	const char *title;
	int base, span;
};

static void on_progress(void *ctx, int percent, const char *step)
{
	struct gauge_ctx *g = ctx;

	g->w->fe->gauge(g->w->fe, g->title, g->base + percent * g->span / 100, step);
}

static void summary_applied(struct wizard *w, const struct wserver *s,
			    const struct apply_result *res)
{
	struct strlist *sum = &w->r->summary;

	sl_add_owned(sum, xasprintf(_("%s: applied."), s->backend->display_name));
	for (size_t i = 0; i < res->notes.n; i++)
		sl_add_owned(sum, xasprintf("  %s", res->notes.v[i]));
	for (size_t i = 0; i < res->written.n; i++)
		sl_add_owned(sum, xasprintf(_("  changed %s"), res->written.v[i]));
	sl_add_owned(sum, xasprintf(_("  checkpoint %s"), res->checkpoint_id));
	if (w->env->lab)
		sl_add_owned(sum, xasprintf(_("  undo with: mailharden rollback %s --root %s"),
					    res->checkpoint_id, w->env->root));
	else
		sl_add_owned(sum, xasprintf(_("  undo with: mailharden rollback %s"),
					    res->checkpoint_id));
	sl_add(&w->r->checkpoints, res->checkpoint_id);
}

static int apply_one(struct wizard *w, struct wserver *s, struct gauge_ctx *gc)
{
	struct apply_opts ao = {0};
	struct apply_result res = {0};
	wizard_apply_fn fn = w->o->apply ? w->o->apply : engine_apply;
	char *roles = roles_format(s->roles);
	int rc;

	ao.reload = !w->o->no_reload && !w->env->lab;
	ao.progress = on_progress;
	ao.progress_ctx = gc;
	ao.description = xasprintf("%s %s", roles, w->profile->name);
	rc = fn(w->env, &s->plan, &ao, &res, w->e);
	if (rc == 0) {
		summary_applied(w, s, &res);
	} else {
		sl_add_owned(&w->r->summary, xasprintf(_("%s: not applied: %s"),
						       s->backend->display_name, w->e->msg));
		err_prefix(w->e, "%s", s->backend->display_name);
	}
	free((char *)ao.description);
	free(roles);
	apply_result_free(&res);
	return rc;
}

/* Parameters made in the DH step reach the disk only now, after the
 * review was accepted. */
static int write_dh(struct wizard *w)
{
	char *dir;
	int rc;

	if (w->dh_pem == NULL || w->profile->dh_bits == 0 || w->dh == NULL)
		return 0;
	dir = env_host_path(w->env, "/etc/ssl/mailharden");
	rc = fs_mkdir_p(dir, 0755);
	free(dir);
	if (rc < 0)
		err_sys(w->e, _("cannot create %s"), "/etc/ssl/mailharden");
	if (rc < 0 || dh_write(w->env, w->dh, w->dh_pem, w->e) < 0) {
		sl_add_owned(&w->r->summary, xasprintf(_("not applied: %s"), w->e->msg));
		return -1;
	}
	sl_add_owned(&w->r->summary, xasprintf(_("Wrote DH parameters %s."), w->dh));
	return 0;
}

static int apply_all(struct wizard *w)
{
	size_t todo = 0, done = 0;
	struct gauge_ctx gc = {w, _("Applying"), 0, 100};
	int rc = write_dh(w);

	for (size_t i = 0; i < w->n_srv; i++)
		todo += w->srv[i].selected && !plan_is_empty(&w->srv[i].plan);
	for (size_t i = 0; i < w->n_srv && rc == 0; i++) {
		struct wserver *s = &w->srv[i];

		if (!s->selected || plan_is_empty(&s->plan))
			continue;
		gc.span = 100 / (int)todo;
		gc.base = (int)done * gc.span;
		rc = apply_one(w, s, &gc);
		done++;
	}
	w->fe->gauge(w->fe, gc.title, -1, NULL);
	return rc;
}

/* The ports of the servers just applied, each judged by its role. */
static size_t selftest_ports(const struct wizard *w, struct port_result **out)
{
	struct port_result *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		for (const struct role_info *ri = role_table(); s->selected && ri->name; ri++) {
			if (!(s->roles & ri->role))
				continue;
			v = xrealloc(v, (n + 1) * sizeof(*v));
			memset(&v[n], 0, sizeof(*v));
			port_spec_from_role(&v[n++].spec, ri->role, s->backend->name);
		}
	}
	*out = v;
	return n;
}

static void rollback_all(struct wizard *w)
{
	wizard_rollback_fn fn = w->o->rollback ? w->o->rollback : rollback_run;

	/* newest first: each checkpoint restores what its apply changed */
	for (size_t i = w->r->checkpoints.n; i-- > 0;) {
		struct strlist restored = STRLIST_INIT, recovered = STRLIST_INIT;
		struct error e = {{0}};
		const char *id = w->r->checkpoints.v[i];

		if (fn(w->env, id, false, !w->o->no_reload, &restored, &recovered, &e) == -1)
			sl_add_owned(&w->r->summary, xasprintf(_("rollback of %s failed: %s"), id, e.msg));
		else
			sl_add_owned(&w->r->summary, xasprintf(_("Rolled back checkpoint %s."), id));
		if (e.msg[0] && strstr(w->r->summary.v[w->r->summary.n - 1], e.msg) == NULL)
			sl_add(&w->r->summary, e.msg);
		sl_free(&restored);
		sl_free(&recovered);
	}
	w->r->rolled_back = true;
}

static void offer_rollback(struct wizard *w)
{
	struct fe_screen s = {
		.title = _("Roll back?"),
		.text = _("The self-test found a critical problem on a port just configured. "
			  "Roll back every change made now and reload the servers?"),
	};

	if (w->o->non_interactive) {
		sl_add(&w->r->summary, _("The self-test found a critical problem; roll back with "
					 "the commands above if needed."));
		return;
	}
	if (w->fe->yesno(w->fe, &s) == FE_OK)
		rollback_all(w);
}

static void self_test(struct wizard *w)
{
	struct selftest_opts so = {.host = "localhost", .timeout_ms = 5000, .jobs = 1,
				   .profile = w->profile};
	wizard_selftest_fn run = w->o->selftest ? w->o->selftest : selftest_run;
	struct port_result *res;
	size_t n = selftest_ports(w, &res);
	char *report = NULL;
	size_t len = 0;
	FILE *f;

	if (n == 0)
		return;
	w->fe->gauge(w->fe, _("Self-test"), 0, _("testing the ports just configured"));
	run(&so, res, n);
	w->fe->gauge(w->fe, _("Self-test"), -1, NULL);
	w->r->selftest = selftest_exit_code(res, n);
	f = open_memstream(&report, &len);
	if (f) {
		selftest_report_text(f, &so, res, n, false);
		fclose(f);
		w->fe->textview(w->fe, _("Self-test"), report);
		free(report);
	}
	sl_add_owned(&w->r->summary, xasprintf(_("Self-test: exit code %d (0 all ok, 1 "
						 "warnings, 2 critical, 3 could not test)."),
					       w->r->selftest));
	if (w->r->selftest == 2)
		offer_rollback(w);
	for (size_t i = 0; i < n; i++)
		port_result_free(&res[i]);
	free(res);
}

static enum go step_apply(struct wizard *w)
{
	int rc = apply_all(w);

	if (rc == 0 && w->env->lab) {
		sl_add(&w->r->summary, _("Lab mode (--root): no server was reloaded."));
		sl_add(&w->r->summary, _("Self-test skipped in lab mode; on the live host run: "
					 "mailharden selftest"));
	} else if (rc == 0) {
		self_test(w);
	}
	w->r->outcome = rc == 0 ? WIZARD_APPLIED : WIZARD_FAILED;
	{
		struct strbuf sb = STRBUF_INIT;
		struct fe_screen s = {.title = rc == 0 ? _("Done") : _("Apply failed")};

		for (size_t i = 0; i < w->r->summary.n; i++)
			sb_addf(&sb, "%s\n", w->r->summary.v[i]);
		s.text = sb.buf;
		w->fe->message(w->fe, &s);
		sb_free(&sb);
	}
	return rc == 0 ? GO_DONE : GO_FAIL;
}

/* ---- the loop ---------------------------------------------------------------- */

typedef enum go (*step_fn)(struct wizard *w);

static const step_fn steps[ST_COUNT] = {
	[ST_WELCOME] = step_welcome, [ST_SERVERS] = step_servers, [ST_ROLES] = step_roles,
	[ST_PROFILE] = step_profile, [ST_CERT] = step_cert,       [ST_DH] = step_dh,
	[ST_REVIEW] = step_review,   [ST_APPLY] = step_apply,
};

static void result_fill(const struct wizard *w, struct wizard_result *r)
{
	for (size_t i = 0; i < w->n_srv; i++) {
		if (!w->srv[i].selected)
			continue;
		sl_add(&r->servers, w->srv[i].backend->name);
		sl_add_owned(&r->roles, roles_format(w->srv[i].roles));
	}
	r->profile = w->profile;
	set_str(&r->cert, w->cert);
	set_str(&r->key, w->key);
	set_str(&r->dh, w->profile && w->profile->dh_bits ? w->dh : NULL);
}

static enum go run_steps(struct wizard *w)
{
	int cur = ST_WELCOME;
	enum go g = GO_NEXT;

	while (cur < ST_COUNT) {
		g = steps[cur](w);
		if (cur == w->forced && cur != ST_REVIEW && g != GO_STAY)
			w->forced = -1;
		if (g == GO_BACK && w->to_review && cur != ST_REVIEW) {
			/* Back on a step revisited from the review returns there */
			w->dir = 1;
			cur = ST_REVIEW;
		} else if (g == GO_NEXT) {
			w->dir = 1;
			cur++;
		} else if (g == GO_BACK) {
			w->dir = -1;
			if (w->forced >= 0) {
				cur = w->forced;
				w->dir = 1;
			} else if (cur > ST_WELCOME) {
				cur--;
			} else {
				w->dir = 1;
			}
		} else if (g != GO_STAY) {
			break;
		}
		if (cur == ST_ROLES && w->dir > 0)
			w->roles_from = 0;
	}
	return g;
}

int wizard_run(const struct env *env, struct frontend *fe, const struct wizard_opts *o,
	       struct wizard_result *r, struct error *e)
{
	struct wizard w = {.env = env, .fe = fe, .o = o, .r = r, .e = e, .dir = 1, .forced = -1};
	enum go g;

	memset(r, 0, sizeof(*r));
	r->selftest = -1;
	e->msg[0] = '\0';
	g = run_steps(&w);
	result_fill(&w, r);
	if (g == GO_QUIT) {
		r->outcome = WIZARD_CANCELLED;
		sl_add(&r->summary, _("Cancelled: nothing was changed."));
	} else if (g == GO_FAIL) {
		r->outcome = WIZARD_FAILED;
	}
	plans_free(&w);
	for (size_t i = 0; i < w.n_srv; i++)
		server_info_free(&w.srv[i].si);
	free(w.cert);
	free(w.key);
	free(w.dh);
	free(w.dh_pem);
	free(w.typed_cert);
	free(w.typed_key);
	return r->outcome == WIZARD_FAILED ? -1 : 0;
}

void wizard_result_free(struct wizard_result *r)
{
	sl_free(&r->servers);
	sl_free(&r->roles);
	sl_free(&r->checkpoints);
	sl_free(&r->summary);
	free(r->cert);
	free(r->key);
	free(r->dh);
	memset(r, 0, sizeof(*r));
}

/* ---- the verb ------------------------------------------------------------------ */

static bool want_line_mode(const struct cli_opts *o)
{
	const char *term = getenv("TERM");

	return o->text || o->non_interactive || !isatty(STDIN_FILENO) ||
	       !isatty(STDOUT_FILENO) || term == NULL || *term == '\0' ||
	       strcmp(term, "dumb") == 0;
}

static char *backtitle(const struct env *env)
{
	if (env->lab)
		return xasprintf(_("mailharden - lab mode: %s"), env->root);
	return xstrdup(_("mailharden - TLS for your mail server"));
}

int cli_wizard(struct env *env, const struct cli_opts *o)
{
	struct answers_file af = {0};
	struct wizard_opts wo = {.non_interactive = o->non_interactive, .no_reload = o->no_reload};
	struct wizard_result r;
	struct error e = {{0}};
	struct frontend *fe = NULL;
	char *bt = backtitle(env);
	int rc;

	if (o->answers && answers_load(o->answers, &af, &e) < 0) {
		msg_error("%s", e.msg);
		free(bt);
		return EXIT_ERROR;
	}
	wo.preset = o->answers ? &af : NULL;
	if (!want_line_mode(o))
		fe = fe_dialog_new();
	if (fe == NULL)
		fe = fe_line_new(o->non_interactive ? NULL : stdin, stdout);
	if (fe->begin(fe, bt, &e) < 0) {
		msg_error("%s", e.msg);
		fe_free(fe);
		answers_file_free(&af);
		free(bt);
		return EXIT_ERROR;
	}
	rc = wizard_run(env, fe, &wo, &r, &e);
	fe->end(fe);
	/* the full-screen summary is gone with the screen: say it again */
	if (strcmp(fe->name, "dialog") == 0 || r.outcome == WIZARD_CANCELLED)
		for (size_t i = 0; i < r.summary.n; i++)
			printf("%s\n", r.summary.v[i]);
	if (rc < 0 && e.msg[0])
		msg_error("%s", e.msg);
	rc = r.outcome == WIZARD_APPLIED || r.outcome == WIZARD_NOTHING ? EXIT_OK : EXIT_ERROR;
	wizard_result_free(&r);
	fe_free(fe);
	answers_file_free(&af);
	free(bt);
	return rc;
}
