/*
 * mailproto.c - mail dialogues before TLS.
 */
#include "mailproto.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int refused(const struct reply *r, struct error *e)
{
	char *t = reply_text(r);

	err_set(e, _("the server refused the session (rate limit, block or overload; "
		     "not a TLS verdict): %s"), t);
	free(t);
	return -1;
}

int mail_greeting(struct mconn *c, enum mail_proto p, struct error *e)
{
	struct reply r;
	enum reply_mode m = p == PROTO_SMTP ? RM_SMTP : p == PROTO_IMAP ? RM_IMAP_GREETING : RM_POP3_LINE;
	int rc = mconn_reply(c, m, NULL, &r, e);

	if (rc < 0) {
		if (r.lines.n == 0 && c->len == 0 && c->timed_out)
			err_set(e, _("no greeting within %d ms (tarpit, or a postscreen delay?)"),
				c->timeout_ms);
		else
			err_prefix(e, _("greeting"));
		reply_free(&r);
		return -1;
	}
	if ((p == PROTO_SMTP && r.code != 220) || (p != PROTO_SMTP && r.code != 1)) {
		rc = refused(&r, e);
		reply_free(&r);
		return rc;
	}
	reply_free(&r);
	return 0;
}

static void upcase_add(struct strlist *caps, const char *s, size_t n)
{
	char *v = xstrndup(s, n);

	for (char *q = v; *q; q++)
		*q = (char)toupper((unsigned char)*q);
	sl_add_owned(caps, v);
}

void caps_from_reply(const struct reply *r, enum mail_proto p, struct strlist *caps)
{
	for (size_t i = 0; i < r->lines.n; i++) {
		const char *l = r->lines.v[i];

		if (p == PROTO_SMTP) {
			if (i > 0 && strlen(l) > 4)
				upcase_add(caps, l + 4, strlen(l + 4));
		} else if (p == PROTO_POP3) {
			if (i > 0 && strcmp(l, ".") != 0)
				upcase_add(caps, l, strlen(l));
		} else if (strncasecmp(l, "* CAPABILITY ", 13) == 0) {
			const char *s = l + 13;

			while (*s) {
				size_t n = strcspn(s, " ");

				if (n > 0)
					upcase_add(caps, s, n);
				s += n;
				s += strspn(s, " ");
			}
		}
	}
}

int mail_capabilities(struct mconn *c, enum mail_proto p, struct strlist *caps, struct error *e)
{
	struct reply r;
	const char *cmd = p == PROTO_SMTP ? "EHLO " EHLO_NAME : p == PROTO_IMAP ? "C CAPABILITY" : "CAPA";
	enum reply_mode m = p == PROTO_SMTP ? RM_SMTP : p == PROTO_IMAP ? RM_IMAP_TAGGED : RM_POP3_MULTI;

	if (mconn_sendline(c, cmd, e) < 0 || mconn_reply(c, m, "C", &r, e) < 0) {
		err_prefix(e, "%s", cmd);
		reply_free(&r);
		return -1;
	}
	if ((p == PROTO_SMTP && r.code == 421) || (p != PROTO_SMTP && r.code == 0 && p == PROTO_IMAP)) {
		int rc = refused(&r, e);

		reply_free(&r);
		return rc;
	}
	caps_from_reply(&r, p, caps);
	reply_free(&r);
	return 0;
}

int mail_starttls(struct mconn *c, enum mail_proto p, struct error *e)
{
	struct reply r;
	const char *cmd = p == PROTO_SMTP ? "STARTTLS" : p == PROTO_IMAP ? "S STARTTLS" : "STLS";
	enum reply_mode m = p == PROTO_SMTP ? RM_SMTP : p == PROTO_IMAP ? RM_IMAP_TAGGED : RM_POP3_LINE;
	bool ok;

	if (mconn_sendline(c, cmd, e) < 0 || mconn_reply(c, m, "S", &r, e) < 0) {
		err_prefix(e, "%s", cmd);
		reply_free(&r);
		return -1;
	}
	ok = p == PROTO_SMTP ? r.code == 220 : r.code == 1;
	c->refused = !ok && !(p == PROTO_SMTP && r.code == 421); /* 421: a rate limit, no TLS verdict */
	if (!ok) {
		char *t = reply_text(&r);

		err_set(e, _("%s refused: %s"), cmd, t);
		free(t);
	}
	reply_free(&r);
	return ok ? 0 : -1;
}

void mail_quit(struct mconn *c, enum mail_proto p)
{
	struct error e;

	mconn_sendline(c, p == PROTO_IMAP ? "Z LOGOUT" : "QUIT", &e);
}

int mail_open_for_tls(const struct target *t, struct mconn *c, struct error *e)
{
	struct strlist caps = STRLIST_INIT;

	if (mconn_open(c, t, e) < 0)
		return -1;
	if (t->implicit_tls)
		return 0;
	/* IMAP and POP3 accept STARTTLS right after the greeting; SMTP needs EHLO */
	if (mail_greeting(c, t->proto, e) < 0 ||
	    (t->proto == PROTO_SMTP && mail_capabilities(c, t->proto, &caps, e) < 0) ||
	    mail_starttls(c, t->proto, e) < 0) {
		sl_free(&caps);
		mconn_close(c);
		return -1;
	}
	sl_free(&caps);
	return 0;
}

bool caps_has(const struct strlist *caps, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; i < caps->n; i++) {
		const char *c = caps->v[i];

		if (strncasecmp(c, word, n) == 0 && (c[n] == '\0' || c[n] == ' ' || c[n] == '='))
			return true;
	}
	return false;
}

static bool mech_listed(const struct strlist *caps, const char *prefix, const char *mech)
{
	size_t pn = strlen(prefix);

	for (size_t i = 0; i < caps->n; i++) {
		const char *c = caps->v[i];

		if (strncasecmp(c, prefix, pn) != 0)
			continue;
		for (const char *s = c + pn; *s;) {
			size_t n = strcspn(s, " =");

			if (n == strlen(mech) && strncasecmp(s, mech, n) == 0)
				return true;
			s += n;
			s += strspn(s, " =");
		}
	}
	return false;
}

bool caps_plain_auth(const struct strlist *caps, enum mail_proto p)
{
	switch (p) {
	case PROTO_SMTP:
		return caps_has(caps, "AUTH");
	case PROTO_IMAP:
		return !caps_has(caps, "LOGINDISABLED") || caps_has(caps, "AUTH=PLAIN") ||
		       caps_has(caps, "AUTH=LOGIN");
	case PROTO_POP3:
		return caps_has(caps, "USER") || mech_listed(caps, "SASL", "PLAIN") ||
		       mech_listed(caps, "SASL", "LOGIN");
	}
	return false;
}
