/*
 * step_cert.c - which certificate the servers present; its inspection.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "../core/cert.h"
#include "../core/fsutil.h"

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
static enum go cert_typed(struct wizard *w)
{
	const char *help = _("Give the paths as the mail server sees them. The certificate "
			     "file should hold the whole chain (your certificate first, then "
			     "the intermediates), as Let's Encrypt's fullchain.pem does. The key "
			     "must be unencrypted and match the certificate.");
	char *cert = NULL, *key = NULL;
	enum go g;

	g = flow_ask_path(w, _("Certificate"), _("Path of the certificate chain (PEM):"), help,
		     w->typed_cert ? w->typed_cert : w->cert, &cert);
	if (g != GO_NEXT)
		return g == GO_BACK ? GO_STAY : g;
	flow_set_str(&w->typed_cert, cert);
	g = flow_ask_path(w, _("Private key"), _("Path of the private key (PEM) for this certificate:"),
		     help, w->typed_key ? w->typed_key : w->key, &key);
	if (g == GO_NEXT) {
		flow_set_str(&w->typed_key, key);
		if (check_cert(w, cert, key) < 0) {
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
			 "name. mailharden checks with OpenSSL that the key belongs to the "
			 "certificate before it goes on. \"Keep\" leaves the certificate "
			 "settings as they are now."));
}

static enum go cert_pick(struct wizard *w, const struct cert_candidate *c, size_t n,
			 size_t choice)
{
	if (choice == n) { /* keep */
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

static enum go cert_ask(struct wizard *w)
{
	struct cert_candidate *c = NULL;
	size_t n = cert_candidates(w->env, &c), choice = 0;
	struct fe_item *items = xcalloc(n + 2, sizeof(*items));
	char **labels = xcalloc(n + 2, sizeof(*labels)), **tags = xcalloc(n + 2, sizeof(*tags));
	struct fe_screen s = {.title = flow_title(w, ST_CERT, _("Certificate")), .back = true};
	enum fe_rc rc;
	enum go g;

	for (size_t i = 0; i < n; i++) {
		tags[i] = xasprintf("%zu", i + 1);
		labels[i] = xasprintf("%s (%s)", c[i].cert, c[i].origin);
		items[i] = (struct fe_item){.tag = tags[i], .label = labels[i]};
		if (w->cert && strcmp(w->cert, c[i].cert) == 0)
			s.default_item = i;
	}
	items[n] = (struct fe_item){.tag = "keep", .label = _("Keep the certificate configured now")};
	items[n + 1] = (struct fe_item){.tag = "path",
					.label = _("Type the path of another certificate")};
	if (w->answered[ST_CERT] && w->cert == NULL)
		s.default_item = n;
	s.text = n ? _("Which certificate should the servers present? Found on this host:")
		   : _("No certificate with a matching key was found under /etc/letsencrypt "
		       "or /etc/ssl. Keep the current one, or type a path.");
	s.help = cert_help();
	rc = w->fe->menu(w->fe, &s, items, n + 2, &choice);
	g = rc == FE_OK ? cert_pick(w, c, n, choice) : flow_after_screen(w, rc);
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

enum go step_cert(struct wizard *w)
{
	const char *pc = flow_preset(w, "cert"), *pk = flow_preset(w, "key");

	if (pc && !w->answered[ST_CERT]) {
		if (strcmp(pc, "keep") == 0 || *pc == '\0') {
			flow_set_str(&w->cert, NULL);
			flow_set_str(&w->key, NULL);
		} else if (pk == NULL) {
			if (w->o->non_interactive)
				return flow_fail_missing(w, "key");
		} else if (check_cert(w, pc, pk) < 0) {
			err_prefix(w->e, _("answers"));
			return GO_FAIL;
		} else {
			flow_set_str(&w->cert, pc);
			flow_set_str(&w->key, pk);
			cert_warn_printed(w, pc, pk);
		}
		w->answered[ST_CERT] = w->preset[ST_CERT] = pk != NULL || w->cert == NULL;
	}
	if (flow_passes(w, ST_CERT, w->answered[ST_CERT], w->preset[ST_CERT]))
		return flow_pass(w);
	if (w->o->non_interactive)
		return flow_fail_missing(w, "cert");
	return cert_ask(w);
}
