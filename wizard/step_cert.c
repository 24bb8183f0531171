/*
 * step_cert.c - which certificate the servers present: candidates found on
 * the host with their names, issuer and expiry, best first; "keep" names
 * and inspects the certificate in use; a typed path is checked at once.
 * A high or critical finding needs a yes (interactive, No preselected) or
 * its id in the answers file's "accept" list (non-interactive).
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/cert.h"

static int check_cert(struct wizard *w, const char *cert, const char *key)
{
	struct answers a = {.profile = w->profile, .cert_file = cert, .key_file = key};

	return answers_check(w->env, &a, w->e);
}

/* Whether the answers file's "accept" list names finding id. */
static bool accepted_id(const struct wizard *w, const char *id)
{
	const char *list = flow_preset(w, "accept");
	char *copy, *save = NULL;
	bool found = false;

	if (list == NULL)
		return false;
	copy = xstrdup(list);
	for (char *t = strtok_r(copy, ", ", &save); t && !found; t = strtok_r(NULL, ", ", &save))
		found = strcmp(t, id) == 0;
	free(copy);
	return found;
}

struct warnings {
	char *text;            /* one line per finding (low and up), NULL if none */
	enum severity worst;   /* of the findings the answers do not accept */
	struct strbuf refused; /* "id (severity): text" of unaccepted high ones */
};

static void warnings_free(struct warnings *wr)
{
	free(wr->text);
	sb_free(&wr->refused);
}

/* Inspects cert (with key) as "mailharden cert inspect" does. */
static void cert_warnings(struct wizard *w, const char *cert, const char *key,
			  struct warnings *wr)
{
	char *host = wizard_mail_name(w->env, w->o->host_name);
	struct cert_inspect_opts io = {.cert_shown = cert, .key_shown = key, .host = host};
	struct cert_report rep;
	struct strbuf sb = STRBUF_INIT;
	struct error e = {{0}};

	memset(wr, 0, sizeof(*wr));
	io.cert_path = env_host_path(w->env, cert);
	io.key_path = key ? env_host_path(w->env, key) : NULL;
	if (cert_inspect(&io, &rep, &e) < 0) {
		sb_addf(&sb, "%s: %s", severity_label(SEV_CRITICAL), e.msg);
		sb_addf(&wr->refused, "cert.unreadable (%s): %s", severity_label(SEV_CRITICAL), e.msg);
		wr->worst = SEV_CRITICAL;
	} else {
		for (size_t i = 0; i < rep.findings.n; i++) {
			const struct finding *f = &rep.findings.v[i];

			if (f->sev < SEV_LOW)
				continue;
			sb_addf(&sb, "%s%s: %s", sb.len ? "\n" : "", severity_label(f->sev), f->text);
			if (f->fix)
				sb_addf(&sb, "\n  %s", f->fix);
			if (accepted_id(w, f->id))
				continue;
			if (f->sev > wr->worst)
				wr->worst = f->sev;
			if (f->sev >= SEV_HIGH)
				sb_addf(&wr->refused, "%s%s (%s): %s", wr->refused.len ? "; " : "", f->id,
					severity_label(f->sev), f->text);
		}
		cert_report_free(&rep);
	}
	free((char *)io.cert_path);
	free((char *)io.key_path);
	free(host);
	wr->text = sb.len ? sb_detach(&sb) : (sb_free(&sb), NULL);
}

static const char *warnings_help(void)
{
	return _("These findings come from mailharden's certificate inspection (the same as "
		 "\"mailharden cert inspect\"). A self-signed certificate is not trusted by "
		 "other mail servers or clients: the guide says not to use one on an MTA. "
		 "An expiring certificate, missing intermediates or a name that does not "
		 "match make clients refuse or warn. Answer No to choose another one. An "
		 "answers file takes a certificate with such findings only when its "
		 "\"accept\" key lists their ids (accept = cert.self_signed, ...).");
}

/* Asks "use it anyway?" when the certificate has warnings; No (the
 * default for anything high) returns to the choice. */
static bool cert_accepted(struct wizard *w, const char *cert, const char *key)
{
	struct warnings wr;
	struct fe_screen s = {.title = _("Certificate warnings"), .help = warnings_help()};
	char *text;
	bool yes;

	cert_warnings(w, cert, key, &wr);
	if (wr.text == NULL || wr.worst < SEV_LOW) {
		warnings_free(&wr);
		return true;
	}
	s.default_no = wr.worst >= SEV_HIGH;
	text = xasprintf(_("%s:\n%s\n\nUse this certificate anyway?"), cert, wr.text);
	s.text = text;
	yes = w->fe->yesno(w->fe, &s) == FE_OK;
	free(text);
	warnings_free(&wr);
	return yes;
}

/* Without screens: refuse what the interactive default refuses, naming
 * the ids, unless "accept" lists them; the rest goes into the summary. */
static int cert_batch_check(struct wizard *w, const char *cert, const char *key)
{
	struct warnings wr;
	int rc = 0;

	cert_warnings(w, cert, key, &wr);
	if (wr.refused.len) {
		rc = err_set(w->e, _("answers: certificate %s: %s; not applied, nothing was "
				     "written. To use it anyway, list the ids in the answers "
				     "file: accept = ID, ..."), cert, wr.refused.buf);
	} else if (wr.text) {
		sl_add_owned(&w->r->summary, xasprintf(_("Certificate %s has warnings:"), cert));
		for (char *save = NULL, *l = strtok_r(wr.text, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save)) {
			sl_add_owned(&w->r->summary, xasprintf("  %s", l));
			if (strcmp(w->fe->name, "dialog") != 0)
				msg_warn("%s: %s", cert, l);
		}
	}
	warnings_free(&wr);
	return rc;
}

/* The distinct certificates the chosen servers use now ("keep"). */
static size_t kept_certs(const struct wizard *w, const struct server_info *out[MAX_SERVERS])
{
	size_t n = 0;

	for (size_t i = 0; i < w->n_srv; i++) {
		const struct server_info *si = &w->srv[i].si;
		bool seen = false;

		if (!w->srv[i].selected || si->cert_file == NULL)
			continue;
		for (size_t k = 0; k < n; k++)
			seen |= strcmp(out[k]->cert_file, si->cert_file) == 0;
		if (!seen)
			out[n++] = si;
	}
	return n;
}

/* "keep" is inspected like any other choice: each certificate in use. */
static bool keep_accepted(struct wizard *w)
{
	const struct server_info *in_use[MAX_SERVERS];
	size_t n = kept_certs(w, in_use);

	for (size_t i = 0; i < n; i++)
		if (!cert_accepted(w, in_use[i]->cert_file, in_use[i]->key_file))
			return false;
	return true;
}

static int keep_batch_check(struct wizard *w)
{
	const struct server_info *in_use[MAX_SERVERS];
	size_t n = kept_certs(w, in_use);

	for (size_t i = 0; i < n; i++)
		if (cert_batch_check(w, in_use[i]->cert_file, in_use[i]->key_file) < 0)
			return -1;
	return 0;
}

static char *keep_label(const struct wizard *w)
{
	const struct server_info *in_use[MAX_SERVERS];
	size_t n = kept_certs(w, in_use);
	struct cert_candidate c = {0};
	char *host, *label, *l;

	if (n == 0)
		return xstrdup(_("Keep the certificate settings as they are (none found to inspect)"));
	host = wizard_mail_name(w->env, w->o->host_name);
	cert_candidate_inspect(w->env, host, in_use[0]->cert_file, in_use[0]->key_file, &c);
	l = cert_candidate_label(&c);
	label = n > 1 ? xasprintf(_("Keep the ones in use: %s, ..."), l)
		      : xasprintf(_("Keep the one in use: %s"), l);
	free(l);
	free(host);
	cert_candidates_free_one(&c);
	return label;
}

static bool host_file(const struct env *env, const char *server_path)
{
	char *p = env_host_path(env, server_path);
	struct stat st;
	bool ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	return ok;
}

/* "does not exist", said at once, for a path as the server sees it. */
static bool path_usable(struct wizard *w, const char *path)
{
	char *msg;

	if (*path == '\0' || path[0] != '/')
		msg = xasprintf(_("%s: give an absolute path, as the server sees it."), path);
	else if (host_file(w->env, path))
		return true;
	else if (w->env->lab)
		msg = xasprintf(_("%s does not exist inside %s (lab mode: paths are as the server "
				  "sees them, below the lab root)."), path, w->env->root);
	else
		msg = xasprintf(_("%s does not exist."), path);
	flow_error_screen(w, msg);
	free(msg);
	return false;
}

static char *path_prompt(const struct wizard *w, const char *what)
{
	if (w->env->lab)
		return xasprintf(_("%s, as the server sees it (lab mode: inside %s):"), what,
				 w->env->root);
	return xasprintf("%s:", what);
}

static enum go cert_typed(struct wizard *w)
{
	const char *help = _("Give the paths as the mail server sees them. The certificate "
			     "file should hold the whole chain (your certificate first, then "
			     "the intermediates), as Let's Encrypt's fullchain.pem does. The key "
			     "must be unencrypted and match the certificate.");
	char *cert = NULL, *key = NULL, *beside, *prompt;
	enum go g;

	prompt = path_prompt(w, _("Path of the certificate chain (PEM)"));
	g = flow_ask_path(w, _("Certificate"), prompt, help,
			  w->typed_cert ? w->typed_cert : w->cert, &cert);
	free(prompt);
	if (g != GO_NEXT)
		return g == GO_BACK ? GO_STAY : g;
	flow_set_str(&w->typed_cert, cert);
	if (!path_usable(w, cert)) {
		free(cert);
		return GO_STAY;
	}
	/* the key that sits beside it, unless one was typed for this cert */
	beside = cert_key_beside(w->env, cert);
	prompt = path_prompt(w, _("Path of the private key (PEM) for this certificate"));
	g = flow_ask_path(w, _("Private key"), prompt, help,
			  beside ? beside : w->typed_key ? w->typed_key : w->key, &key);
	free(prompt);
	free(beside);
	if (g == GO_NEXT) {
		flow_set_str(&w->typed_key, key);
		if (!path_usable(w, key)) {
			g = GO_STAY;
		} else if (check_cert(w, cert, key) < 0) {
			flow_error_screen(w, w->e->msg);
			g = GO_STAY;
		} else if (!cert_accepted(w, cert, key)) {
			g = GO_STAY;
		} else {
			flow_set_str(&w->cert, cert);
			flow_set_str(&w->key, key);
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
			 "name. The list shows each certificate's names, issuer and expiry, best "
			 "first: one that names this host, with a trusted chain and the longest "
			 "life; self-signed and expired ones come last. mailharden checks with "
			 "OpenSSL that the key belongs to the certificate before it goes on. "
			 "\"Keep\" leaves the certificate settings as they are now, after the "
			 "same inspection."));
}

static enum go cert_pick(struct wizard *w, const struct cert_candidate *c, size_t n,
			 size_t choice)
{
	if (choice == n) { /* keep */
		if (!keep_accepted(w))
			return GO_STAY;
		flow_set_str(&w->cert, NULL);
		flow_set_str(&w->key, NULL);
		w->answered[ST_CERT] = true;
		return GO_NEXT;
	}
	if (choice == n + 1)
		return cert_typed(w);
	if (check_cert(w, c[choice].cert, c[choice].key) < 0) {
		flow_error_screen(w, w->e->msg);
		return GO_STAY;
	}
	if (!cert_accepted(w, c[choice].cert, c[choice].key))
		return GO_STAY;
	flow_set_str(&w->cert, c[choice].cert);
	flow_set_str(&w->key, c[choice].key);
	w->answered[ST_CERT] = true;
	return GO_NEXT;
}

static char *cert_text(const struct wizard *w, size_t n)
{
	const char *q = n ? _("Which certificate should the servers present? Found on this host, "
			      "best first:")
			  : _("No certificate with a matching key was found under /etc/letsencrypt "
			      "or /etc/ssl. Keep the current one, or type a path.");

	if (w->env->lab)
		return xasprintf(_("%s (lab mode: paths are as the server sees them, inside %s)"), q,
				 w->env->root);
	return xstrdup(q);
}

static enum go cert_ask(struct wizard *w)
{
	char *host = wizard_mail_name(w->env, w->o->host_name);
	struct cert_candidate *c = NULL;
	size_t n = cert_candidates(w->env, host, &c), choice = 0;
	struct fe_item *items = xcalloc(n + 2, sizeof(*items));
	char **labels = xcalloc(n + 2, sizeof(*labels)), **tags = xcalloc(n + 2, sizeof(*tags));
	struct fe_screen s = {.title = flow_title(w, ST_CERT, _("Certificate")), .back = true,
			      .cursor = &w->cursor[ST_CERT]};
	enum fe_rc rc;
	enum go g;

	for (size_t i = 0; i < n; i++) {
		tags[i] = xasprintf("%zu", i + 1);
		labels[i] = cert_candidate_label(&c[i]);
		items[i] = (struct fe_item){.tag = tags[i], .label = labels[i]};
		if (w->cert && strcmp(w->cert, c[i].cert) == 0 && !w->cert_cursor_set)
			w->cursor[ST_CERT] = i;
	}
	labels[n] = keep_label(w);
	items[n] = (struct fe_item){.tag = "keep", .label = labels[n]};
	items[n + 1] = (struct fe_item){.tag = "path",
					.label = _("Type the path of another certificate")};
	if (w->answered[ST_CERT] && w->cert == NULL && !w->cert_cursor_set)
		w->cursor[ST_CERT] = n;
	w->cert_cursor_set = true;
	s.text = cert_text(w, n);
	s.help = cert_help();
	rc = w->fe->menu(w->fe, &s, items, n + 2, &choice);
	g = rc == FE_OK ? cert_pick(w, c, n, choice) : flow_after_screen(w, rc);
	for (size_t i = 0; i <= n; i++) {
		free(tags[i]);
		free(labels[i]);
	}
	free((char *)s.text);
	free((char *)s.help);
	free(tags);
	free(labels);
	free(items);
	free(host);
	cert_candidates_free(c, n);
	return g;
}

/* A preseeded certificate: checked as a typed one, its findings refused
 * or accepted as the answers say. */
static enum go cert_preset(struct wizard *w, const char *pc, const char *pk)
{
	bool keep = strcmp(pc, "keep") == 0 || *pc == '\0';

	if (!keep && pk == NULL) {
		if (w->o->non_interactive)
			return flow_fail_missing(w, "key");
		return GO_NEXT; /* asked on the screen */
	}
	if (!keep && check_cert(w, pc, pk) < 0) {
		err_prefix(w->e, _("answers"));
		return GO_FAIL;
	}
	if (w->o->non_interactive) {
		if (keep ? keep_batch_check(w) < 0 : cert_batch_check(w, pc, pk) < 0)
			return GO_FAIL;
	} else if (keep ? !keep_accepted(w) : !cert_accepted(w, pc, pk)) {
		return GO_NEXT; /* No: the list is shown */
	}
	flow_set_str(&w->cert, keep ? NULL : pc);
	flow_set_str(&w->key, keep ? NULL : pk);
	w->answered[ST_CERT] = w->preset[ST_CERT] = true;
	return GO_NEXT;
}

enum go step_cert(struct wizard *w)
{
	const char *pc = flow_preset(w, "cert"), *pk = flow_preset(w, "key");

	if (pc && !w->answered[ST_CERT] && !w->cert_preset_tried) {
		w->cert_preset_tried = true;
		if (cert_preset(w, pc, pk) == GO_FAIL)
			return GO_FAIL;
	}
	if (flow_passes(w, ST_CERT, w->answered[ST_CERT], w->preset[ST_CERT]))
		return flow_pass(w);
	if (w->o->non_interactive)
		return flow_fail_missing(w, "cert");
	return cert_ask(w);
}
