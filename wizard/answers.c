/*
 * answers.c - the --answers file and the `answers` verb.
 */
#include "answers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backends/backend.h"
#include "flow.h"

static const char *const plain_keys[] = {"servers", "sasl",  "profile", "cert",
					 "key",     "dh",    "accept",  "apply"};

/* "servers", ..., or "<backend>.roles" for a known backend. */
static bool key_known(const char *key)
{
	const char *dot = strchr(key, '.');

	for (size_t i = 0; i < ARRAY_LEN(plain_keys); i++)
		if (strcmp(key, plain_keys[i]) == 0)
			return true;
	if (dot == NULL || strcmp(dot, ".roles") != 0)
		return false;
	for (const struct backend *const *b = backend_list(); *b; b++)
		if (strlen((*b)->name) == (size_t)(dot - key) &&
		    strncmp((*b)->name, key, (size_t)(dot - key)) == 0)
			return true;
	return false;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int parse_line(const char *name, int lineno, char *line, struct answers_file *af,
		      struct error *e)
{
	char *eq, *key, *value;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	if (!text_is_clean(line))
		return err_set(e, _("%s:%d: control character in the line"), name, lineno);
	eq = strchr(line, '=');
	if (eq == NULL)
		return err_set(e, _("%s:%d: expected \"key = value\""), name, lineno);
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (!key_known(key))
		return err_set(e, _("%s:%d: unknown key '%s'"), name, lineno, key);
	if (answers_get(af, key) != NULL)
		return err_set(e, _("%s:%d: '%s' is answered twice"), name, lineno, key);
	sl_add(&af->keys, key);
	sl_add(&af->values, value);
	return 0;
}

int answers_parse(const char *name, const char *text, struct answers_file *af,
		  struct error *e)
{
	char *copy = xstrdup(text), *line = copy;
	int lineno = 0, rc = 0;

	memset(af, 0, sizeof(*af));
	af->path = xstrdup(name);
	/* strtok would skip empty lines and shift the line numbers */
	while (rc == 0 && line != NULL) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		lineno++;
		rc = parse_line(name, lineno, line, af, e);
		line = nl ? nl + 1 : NULL;
	}
	free(copy);
	if (rc < 0)
		answers_file_free(af);
	return rc;
}

int answers_load(const char *path, struct answers_file *af, struct error *e)
{
	char *text;
	size_t len;
	int rc;

	memset(af, 0, sizeof(*af));
	if (read_file(path, &text, &len, e) < 0)
		return -1;
	if (strlen(text) != len) {
		free(text);
		return err_set(e, _("%s: not a text file"), path);
	}
	rc = answers_parse(path, text, af, e);
	free(text);
	return rc;
}

const char *answers_get(const struct answers_file *af, const char *key)
{
	if (af == NULL)
		return NULL;
	for (size_t i = 0; i < af->keys.n; i++)
		if (strcmp(af->keys.v[i], key) == 0)
			return af->values.v[i];
	return NULL;
}

void answers_file_free(struct answers_file *af)
{
	free(af->path);
	sl_free(&af->keys);
	sl_free(&af->values);
	memset(af, 0, sizeof(*af));
}

/* ---- the `answers` verb -------------------------------------------------- */

static void print_servers(const struct server_info *si, size_t n)
{
	const char *sep = "";

	printf("%s\n", _("# Servers to harden (postfix, dovecot, exim).  Found here:"));
	for (size_t i = 0; i < n; i++)
		printf("#   %s: %s\n", si[i].backend->name,
		       si[i].usable ? si[i].version : (si[i].why ? si[i].why : ""));
	fputs("servers = ", stdout);
	for (size_t i = 0; i < n; i++) {
		if (!si[i].usable)
			continue;
		printf("%s%s", sep, si[i].backend->name);
		sep = ", ";
	}
	putchar('\n');
}

static void print_roles(const struct server_info *si, size_t n)
{
	printf("\n%s\n", _("# Roles per server: mx (25), submission (587), submissions (465),\n"
			   "# imap (143), imaps (993), pop3 (110), pop3s (995).  Prefilled with\n"
			   "# what the current configuration serves."));
	for (size_t i = 0; i < n; i++) {
		unsigned roles = si[i].roles_served & si[i].backend->roles_possible;
		char *list;

		if (roles == 0)
			roles = wizard_default_roles(si[i].backend);
		list = roles_format(roles);
		printf("%s.roles = %s\n", si[i].backend->name, list);
		free(list);
	}
}

static void print_cert(const struct env *env)
{
	struct cert_candidate *c = NULL;
	char *host = wizard_mail_name(env, NULL);
	size_t n = cert_candidates(env, host, &c);

	printf("\n%s\n", _("# Certificate chain and key as the server sees them, or \"keep\" to\n"
			   "# keep the certificate configured now.  Found here:"));
	for (size_t i = 0; i < n; i++)
		printf("#   %s  %s\n", c[i].cert, c[i].key);
	if (n > 0)
		printf("cert = %s\nkey = %s\n", c[0].cert, c[0].key);
	else
		printf("cert = keep\n");
	cert_candidates_free(c, n);
	free(host);
}

int cli_answers(struct env *env, const struct cli_opts *o)
{
	const struct backend *const *bl = backend_list();
	struct server_info si[16];
	size_t n = 0;

	(void)o;
	for (; bl[n] && n < ARRAY_LEN(si); n++) {
		memset(&si[n], 0, sizeof(si[n]));
		si[n].backend = bl[n];
		bl[n]->detect(env, &si[n]);
		si[n].backend = bl[n];
	}
	printf("%s\n", _("# mailharden answers file: mailharden --answers FILE [--non-interactive]"));
	print_servers(si, n);
	print_roles(si, n);
	printf("\n%s\nsasl = dovecot\n",
	       _("# How mail clients log in on submission (587/465): dovecot (its auth\n"
		 "# socket), cyrus (saslauthd) or none (then nobody can log in)."));
	printf("\n%s\nprofile = intermediate\n",
	       _("# Which clients must still connect: modern, intermediate or old."));
	print_cert(env);
	printf("\n%s\ndh = ffdhe2048\n",
	       _("# DH parameters, only for profiles with DHE suites (old): an RFC 7919 group\n"
		 "# (ffdhe2048, ffdhe3072, ffdhe4096: written to /etc/ssl/mailharden/ on apply),\n"
		 "# an existing FILE, or \"none\"."));
	printf("\n%s\n# accept = cert.self_signed\n",
	       _("# Certificate findings (high or critical) to accept anyway, by id; without\n"
		 "# them a non-interactive run refuses such a certificate."));
	printf("\n%s\napply = yes\n", _("# Apply without asking (yes), or only show the changes (no)."));
	for (size_t i = 0; i < n; i++)
		server_info_free(&si[i]);
	return EXIT_OK;
}
