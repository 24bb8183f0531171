/*
 * main.c - mailharden: make a mail server's TLS right, and prove it.
 */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/common.h"
#include "../core/env.h"
#include "answers.h"
#include "cli.h"
#include "flow.h"

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/share/locale"
#endif
#ifndef MH_VERSION
#define MH_VERSION "unknown"
#endif

/* All locale setup in one place; MAILHARDEN_LOCALEDIR lets tests and an
 * uninstalled build find their .mo files. */
static void setup_locale(void)
{
	const char *dir = getenv("MAILHARDEN_LOCALEDIR");

	setlocale(LC_ALL, "");
	bindtextdomain("mailharden", dir && *dir ? dir : LOCALEDIR);
	bind_textdomain_codeset("mailharden", "UTF-8");
	textdomain("mailharden");
}

static void usage(FILE *f)
{
	fputs(_("Usage: mailharden [VERB] [OPTIONS]\n"
		"\n"
		"Without a verb, the wizard asks its questions (full screen on a terminal,\n"
		"numbered prompts with --text, TERM=dumb or without a terminal).\n"
		"\n"
		"Verbs:\n"
		"  wizard            the interactive wizard (the default)\n"
		"  answers           print a filled example of an --answers file\n"
		"  detect            show the mail servers found, their versions and ports\n"
		"  plan              print the diff of what apply would change; writes nothing\n"
		"  apply             validate, checkpoint, write, reload (rolls back on failure)\n"
		"  history           list checkpoints\n"
		"  rollback [ID]     restore the files of a checkpoint (default: the newest)\n"
		"  selftest          prove the live TLS of every mail port (see --host, --port)\n"
		"  verify            does the live config still hold what the last apply\n"
		"                    intended? exit 0 holds, 1 drift, 2 refused, 3 cannot tell\n"
		"  dhparam           write DH parameters: an RFC 7919 group, or --fresh ones\n"
		"  cert inspect|selfsigned|tlsa   check a certificate, make a lab one, DANE records\n"
		"\n"
		"Options:\n"
		"  --root DIR              work on a copy of / under DIR (lab mode: no reload)\n"
		"  --server NAME           postfix, dovecot or exim\n"
		"  --role ROLES            comma list: mx, submission, submissions,\n"
		"                          imap, imaps, pop3, pop3s\n"
		"  --profile NAME          modern, intermediate or old\n"
		"                          (guide-a, guide-b: the 2015 guide's cipher strings)\n"
		"  --cert FILE --key FILE  certificate chain and key, as the server sees them\n"
		"  --dh FILE|GROUP         DH parameters (only profiles with DHE suites); Exim also\n"
		"                          takes an RFC 7919 group: ffdhe2048, ffdhe3072\n"
		"  --sasl dovecot|cyrus|none  how mail clients log in on submission (587/465);\n"
		"                          Dovecot also serves the MTA's auth socket; Exim also\n"
		"                          takes passwd (its own /etc/exim4/passwd)\n"
		"  --server-version N=V    e.g. postfix=3.7 or exim=4.96 when no binary can tell\n"
		"  --templates DIR         read templates from DIR instead of the built-in ones\n"
		"  --yes                   apply without asking\n"
		"  --no-reload             write, but do not reload the server\n"
		"  --force                 roll back even files changed since the checkpoint\n"
		"  --json                  machine-readable output (detect, plan, apply, history,\n"
		"                          selftest, verify)\n"
		"  --text                  wizard: numbered prompts instead of full screen\n"
		"  --answers FILE          wizard: take answers from FILE (key = value)\n"
		"  --non-interactive       wizard: a missing answer is an error\n"
		"  selftest: --host H --port P[/ROLE],... --proto smtp|imap|pop3\n"
		"            --tls starttls|implicit --servername N --cafile F\n"
		"            --timeout S --jobs N --source ADDR\n"
		"            --format text|json|nagios|prometheus  --out FILE (written atomically)\n"
		"  --help, --version\n"), f);
}

enum {
	OPT_ROOT = 256, OPT_SERVER, OPT_ROLE, OPT_PROFILE, OPT_CERT, OPT_KEY, OPT_DH, OPT_SASL,
	OPT_TEMPLATES, OPT_JSON, OPT_YES, OPT_NO_RELOAD, OPT_FORCE, OPT_SERVER_VERSION,
	OPT_TEXT, OPT_ANSWERS, OPT_NON_INTERACTIVE, OPT_VERSION,
	OPT_SELFTEST_HOST, OPT_SELFTEST_PORT, OPT_SELFTEST_PROTO, OPT_SELFTEST_TLS,
	OPT_SELFTEST_SERVERNAME, OPT_SELFTEST_CAFILE, OPT_SELFTEST_TIMEOUT, OPT_SELFTEST_JOBS,
	OPT_SELFTEST_SOURCE, OPT_FORMAT,
	OPT_BITS, OPT_FRESH, OPT_OUT, OPT_NAME, OPT_RSA, OPT_OUT_CERT, OPT_OUT_KEY,
};

static const struct option long_opts[] = {
	{"root", required_argument, NULL, OPT_ROOT},
	{"server", required_argument, NULL, OPT_SERVER},
	{"role", required_argument, NULL, OPT_ROLE},
	{"roles", required_argument, NULL, OPT_ROLE},
	{"profile", required_argument, NULL, OPT_PROFILE},
	{"cert", required_argument, NULL, OPT_CERT},
	{"key", required_argument, NULL, OPT_KEY},
	{"dh", required_argument, NULL, OPT_DH},
	{"sasl", required_argument, NULL, OPT_SASL},
	{"templates", required_argument, NULL, OPT_TEMPLATES},
	{"json", no_argument, NULL, OPT_JSON},
	{"yes", no_argument, NULL, OPT_YES},
	{"no-reload", no_argument, NULL, OPT_NO_RELOAD},
	{"force", no_argument, NULL, OPT_FORCE},
	{"server-version", required_argument, NULL, OPT_SERVER_VERSION},
	{"text", no_argument, NULL, OPT_TEXT},
	{"answers", required_argument, NULL, OPT_ANSWERS},
	{"non-interactive", no_argument, NULL, OPT_NON_INTERACTIVE},
	{"host", required_argument, NULL, OPT_SELFTEST_HOST},
	{"port", required_argument, NULL, OPT_SELFTEST_PORT},
	{"proto", required_argument, NULL, OPT_SELFTEST_PROTO},
	{"tls", required_argument, NULL, OPT_SELFTEST_TLS},
	{"servername", required_argument, NULL, OPT_SELFTEST_SERVERNAME},
	{"cafile", required_argument, NULL, OPT_SELFTEST_CAFILE},
	{"timeout", required_argument, NULL, OPT_SELFTEST_TIMEOUT},
	{"jobs", required_argument, NULL, OPT_SELFTEST_JOBS},
	{"source", required_argument, NULL, OPT_SELFTEST_SOURCE},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"bits", required_argument, NULL, OPT_BITS},
	{"fresh", no_argument, NULL, OPT_FRESH},
	{"out", required_argument, NULL, OPT_OUT},
	{"name", required_argument, NULL, OPT_NAME},
	{"rsa", no_argument, NULL, OPT_RSA},
	{"out-cert", required_argument, NULL, OPT_OUT_CERT},
	{"out-key", required_argument, NULL, OPT_OUT_KEY},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to exit with usage error, 1 to exit 0 (help shown), 0 to go on. */
static int parse_opt(int c, struct cli_opts *o)
{
	switch (c) {
	case OPT_ROOT: o->root = optarg; break;
	case OPT_SERVER: o->server = optarg; break;
	case OPT_ROLE: o->roles = optarg; break;
	case OPT_PROFILE: o->profile = optarg; break;
	case OPT_CERT: o->cert = optarg; break;
	case OPT_KEY: o->key = optarg; break;
	case OPT_DH: o->dh = optarg; break;
	case OPT_SASL: o->sasl = optarg; break;
	case OPT_TEMPLATES: o->templates = optarg; break;
	case OPT_JSON: o->json = true; break;
	case OPT_YES: o->yes = true; break;
	case OPT_NO_RELOAD: o->no_reload = true; break;
	case OPT_FORCE: o->force = true; break;
	case OPT_SERVER_VERSION: sl_add(&o->server_versions, optarg); break;
	case OPT_TEXT: o->text = true; break;
	case OPT_ANSWERS: o->answers = optarg; break;
	case OPT_NON_INTERACTIVE: o->non_interactive = true; break;
	case OPT_SELFTEST_HOST: o->host = optarg; break;
	case OPT_SELFTEST_PORT: o->port = optarg; break;
	case OPT_SELFTEST_PROTO: o->proto = optarg; break;
	case OPT_SELFTEST_TLS: o->tls = optarg; break;
	case OPT_SELFTEST_SERVERNAME: o->servername = optarg; break;
	case OPT_SELFTEST_CAFILE: o->cafile = optarg; break;
	case OPT_SELFTEST_TIMEOUT: o->timeout = optarg; break;
	case OPT_SELFTEST_JOBS: o->jobs = optarg; break;
	case OPT_SELFTEST_SOURCE: o->source = optarg; break;
	case OPT_FORMAT: o->format = optarg; break;
	case OPT_BITS: o->bits = optarg; break;
	case OPT_FRESH: o->fresh = true; break;
	case OPT_OUT: o->out = optarg; break;
	case OPT_NAME: o->name = optarg; break;
	case OPT_RSA: o->rsa = true; break;
	case OPT_OUT_CERT: o->out_cert = optarg; break;
	case OPT_OUT_KEY: o->out_key = optarg; break;
	case 'h': usage(stdout); return 1;
	case OPT_VERSION: printf("mailharden %s\n", MH_VERSION); return 1;
	default: return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct cli_opts *o)
{
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
		if ((rc = parse_opt(c, o)) != 0)
			return rc;
	for (int i = optind; i < argc; i++)
		sl_add(&o->args, argv[i]);
	return 0;
}

struct verb {
	const char *name;
	int (*run)(struct env *env, const struct cli_opts *o);
};

static const struct verb verbs[] = {
	{"detect", cli_detect},
	{"plan", cli_plan},
	{"apply", cli_apply},
	{"history", cli_history},
	{"rollback", cli_rollback},
	{"wizard", cli_wizard},
	{"answers", cli_answers},
	{"selftest", cli_selftest},
	{"verify", cli_verify},
	{"dhparam", cli_dhparam},
	{"cert", cli_cert},
};

static const struct verb *find_verb(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static int setup_env(struct env *env, const struct cli_opts *o)
{
	struct error e = {{0}};

	if (env_init(env, o->root, &e) < 0) {
		msg_error("%s", e.msg);
		return -1;
	}
	if (o->templates)
		env->templates_dir = xstrdup(o->templates);
	for (size_t i = 0; i < o->server_versions.n; i++) {
		if (env_add_override(env, o->server_versions.v[i], &e) < 0) {
			msg_error("%s", e.msg);
			return -1;
		}
	}
	return 0;
}

static int run(struct cli_opts *o)
{
	const struct verb *v;
	struct env env;
	char *verb;
	int rc;

	if (o->args.n == 0)
		sl_add(&o->args, "wizard");
	verb = o->args.v[0];
	v = find_verb(verb);
	if (v == NULL) {
		msg_error(_("unknown verb '%s'"), text_is_clean(verb) ? verb : "?");
		usage(stderr);
		return EXIT_USAGE;
	}
	/* the verb's own arguments follow it */
	memmove(o->args.v, o->args.v + 1, (o->args.n - 1) * sizeof(*o->args.v));
	o->args.n--;
	if (setup_env(&env, o) < 0) {
		env_free(&env);
		free(verb);
		return EXIT_ERROR;
	}
	rc = v->run(&env, o);
	env_free(&env);
	free(verb);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli_opts o = {0};
	int rc;

	setup_locale();
	rc = parse_args(argc, argv, &o);
	if (rc != 0) {
		if (rc < 0)
			usage(stderr);
		sl_free(&o.args);
		sl_free(&o.server_versions);
		return rc < 0 ? EXIT_USAGE : EXIT_OK;
	}
	rc = run(&o);
	sl_free(&o.args);
	sl_free(&o.server_versions);
	return rc;
}
