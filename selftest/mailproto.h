/*
 * mailproto.h - the SMTP / IMAP / POP3 dialogue up to STARTTLS, and
 * capability lists.
 */
#ifndef MH_MAILPROTO_H
#define MH_MAILPROTO_H

#include <stdbool.h>

#include "mailconn.h"

#define EHLO_NAME "mailharden-selftest.invalid"

/* Reads the greeting.  A 421/554, BYE or -ERR greeting (rate limit,
 * block, postscreen) and a silent server (tarpit) are errors that say so:
 * they are never mistaken for "no STARTTLS". */
int mail_greeting(struct mconn *c, enum mail_proto p, struct error *e);
/* EHLO / CAPABILITY / CAPA.  caps gets one upper-cased entry per
 * capability ("STARTTLS", "AUTH PLAIN LOGIN", "AUTH=PLAIN", "USER"). */
int mail_capabilities(struct mconn *c, enum mail_proto p, struct strlist *caps, struct error *e);
/* STARTTLS / STLS and its positive reply. */
int mail_starttls(struct mconn *c, enum mail_proto p, struct error *e);
/* QUIT / LOGOUT, best effort. */
void mail_quit(struct mconn *c, enum mail_proto p);

/* Opens a connection and, for a STARTTLS port, runs greeting,
 * capabilities and STARTTLS, leaving the socket ready for a ClientHello. */
int mail_open_for_tls(const struct target *t, struct mconn *c, struct error *e);

/* True when a capability entry is word, or starts with "word " / "word=". */
bool caps_has(const struct strlist *caps, const char *word);
/* True when AUTH offers a mechanism that sends the password in clear
 * (PLAIN, LOGIN) or IMAP allows LOGIN (no LOGINDISABLED), or POP3 USER. */
bool caps_plain_auth(const struct strlist *caps, enum mail_proto p);
/* Parses capability lines from a reply (used by mail_capabilities; pure). */
void caps_from_reply(const struct reply *r, enum mail_proto p, struct strlist *caps);

#endif
