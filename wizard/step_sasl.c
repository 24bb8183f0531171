/*
 * step_sasl.c - how mail clients log in on submission (587/465): the MTA
 * hands AUTH to Dovecot's auth socket, to Cyrus SASL (saslauthd), or to
 * nothing.  Asked only when a chosen MTA serves submission.
 */
#include "step.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A chosen server that takes AUTH on submission. */
static const struct wserver *submission_mta(const struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];

		if (s->selected && (s->backend->roles_possible & ROLE_SUBMISSION) &&
		    (s->roles & (ROLE_SUBMISSION | ROLE_SUBMISSIONS)))
			return s;
	}
	return NULL;
}

bool wizard_needs_sasl(const struct wizard *w)
{
	return submission_mta(w) != NULL;
}

static bool dovecot_here(const struct wizard *w)
{
	for (size_t i = 0; i < w->n_srv; i++)
		if (strcmp(w->srv[i].backend->name, sasl_kind_name(SASL_DOVECOT)) == 0 &&
		    w->srv[i].si.found)
			return true;
	return false;
}

/* What the host suggests: what the MTA uses now, else Dovecot when it is
 * installed; SASL_UNSET when nothing does. */
static enum sasl_kind sasl_detected(const struct wizard *w)
{
	const struct wserver *mta = submission_mta(w);

	if (mta && mta->si.sasl_now != SASL_UNSET)
		return mta->si.sasl_now;
	return dovecot_here(w) ? SASL_DOVECOT : SASL_UNSET;
}

static const char *sasl_label(enum sasl_kind k)
{
	switch (k) {
	case SASL_DOVECOT:
		return _("Dovecot's auth socket: the same passwords as for IMAP/POP3");
	case SASL_CYRUS:
		return _("Cyrus SASL with saslauthd (system or sasldb passwords)");
	case SASL_NONE:
		return _("no login: submission then CANNOT authenticate anyone");
	case SASL_PASSWD:
		return _("the MTA's own password file (Exim: /etc/exim4/passwd)");
	case SASL_UNSET:
		break;
	}
	return "";
}

static const char *sasl_help(void)
{
	return _("Mail clients must log in (SMTP AUTH) before they may send through submission "
		 "(587) or submissions (465), and they may do so only after TLS is up. The MTA "
		 "does not check passwords itself: it asks Dovecot's auth service through a "
		 "socket in its queue directory (Postfix: smtpd_sasl_type = dovecot, "
		 "smtpd_sasl_path = private/auth, and in Dovecot's drop-in \"service auth { "
		 "unix_listener /var/spool/postfix/private/auth { mode = 0660, user = postfix, "
		 "group = postfix } }\"), or Cyrus SASL's saslauthd. With none, submission is "
		 "configured but nobody can authenticate, so no client can send mail through it.");
}

static enum go sasl_ask(struct wizard *w)
{
	enum sasl_kind order[3], first = sasl_detected(w);
	struct fe_item items[3];
	struct fe_screen s = {.title = flow_title(w, ST_SASL, _("Mail client login")),
			      .back = true, .help = sasl_help(), .cursor = &w->cursor[ST_SASL]};
	char *text;
	size_t n = 0, choice = 0;
	enum fe_rc rc;

	if (first != SASL_UNSET)
		order[n++] = first;
	for (enum sasl_kind k = SASL_DOVECOT; k <= SASL_NONE; k++)
		if (k != first)
			order[n++] = k;
	for (size_t i = 0; i < n; i++)
		items[i] = (struct fe_item){.tag = sasl_kind_name(order[i]), .label = sasl_label(order[i])};
	for (size_t i = 0; i < n && w->answered[ST_SASL]; i++)
		if (order[i] == w->sasl)
			w->cursor[ST_SASL] = i;
	if (first != SASL_UNSET)
		text = xasprintf(_("How do mail clients log in to send mail (submission, ports 587 "
				   "and 465)? Found on this host: %s."), sasl_kind_name(first));
	else
		text = xstrdup(_("How do mail clients log in to send mail (submission, ports 587 "
				 "and 465)? Neither Dovecot nor a SASL setting was found."));
	s.text = text;
	rc = w->fe->menu(w->fe, &s, items, n, &choice);
	free(text);
	if (rc == FE_OK && choice < n) {
		w->sasl = order[choice];
		w->answered[ST_SASL] = true;
	}
	return flow_after_screen(w, rc);
}

enum go step_sasl(struct wizard *w)
{
	const char *p = flow_preset(w, "sasl");

	if (!wizard_needs_sasl(w))
		return flow_pass(w);
	if (p && !w->answered[ST_SASL]) {
		if (sasl_kind_parse(p, &w->sasl) < 0) {
			err_set(w->e, _("answers: unknown sasl '%s': dovecot, cyrus or none"), p);
			return GO_FAIL;
		}
		w->answered[ST_SASL] = w->preset[ST_SASL] = true;
	}
	if (w->o->non_interactive && !w->answered[ST_SASL]) {
		/* no answer: what the host has, as the CLI's default */
		w->sasl = sasl_detected(w);
		if (w->sasl == SASL_UNSET)
			return flow_fail_missing(w, "sasl");
		if (submission_mta(w)->si.sasl_now != SASL_UNSET)
			w->sasl = SASL_UNSET; /* keep what the MTA uses now */
		w->answered[ST_SASL] = w->preset[ST_SASL] = true;
	}
	if (flow_passes(w, ST_SASL, w->answered[ST_SASL], w->preset[ST_SASL]))
		return flow_pass(w);
	return sasl_ask(w);
}
