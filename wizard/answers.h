/*
 * answers.h - preseeded answers for the wizard: a "key = value" file, one
 * key per question (`mailharden --answers FILE`), and the `answers` verb
 * that prints a filled example for this host.
 *
 *   servers       = postfix, dovecot
 *   postfix.roles = mx, submission
 *   dovecot.roles = imaps
 *   profile       = intermediate
 *   cert          = /etc/letsencrypt/live/mail.example.org/fullchain.pem   (or "keep")
 *   key           = /etc/letsencrypt/live/mail.example.org/privkey.pem
 *   sasl          = dovecot                             (or cyrus, none)
 *   dh            = ffdhe2048                           (ffdhe3072, ffdhe4096: written on apply; a FILE; none)
 *   accept        = cert.self_signed, cert.expiring     (high/critical findings taken anyway)
 *   apply         = yes
 */
#ifndef MH_ANSWERS_H
#define MH_ANSWERS_H

#include "../core/common.h"
#include "../core/env.h"
#include "cli.h"

struct answers_file {
	char *path;
	struct strlist keys;
	struct strlist values;
};

/* Reads and checks the syntax and keys of FILE (a host path).  An unknown
 * or repeated key, a line without "=", or a control character is an
 * error naming file and line. */
int answers_load(const char *path, struct answers_file *af, struct error *e);
/* Parses text already read (for tests); name is used in messages. */
int answers_parse(const char *name, const char *text, struct answers_file *af,
		  struct error *e);
/* The value of key, or NULL when the file does not answer it. */
const char *answers_get(const struct answers_file *af, const char *key);
void answers_file_free(struct answers_file *af);

/* `mailharden answers`: prints an answers file filled from detection. */
int cli_answers(struct env *env, const struct cli_opts *o);

#endif
