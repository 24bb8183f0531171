/*
 * cmd_dhparam.c - "mailharden dhparam": DH parameters for the DHE suites.
 *
 * By default the RFC 7919 group of the size asked for: instant, and a
 * group clients know.  --fresh searches a new safe prime on every core.
 * Nothing is written before the result is proved; Ctrl-C during the search
 * stops it and leaves no file behind.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/dh.h"
#include "cli.h"

#define EXIT_INTERRUPTED 130

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct gauge {
	bool tty;
	bool shown;
};

static int show_progress(const struct dh_progress *p, void *arg)
{
	struct gauge *g = arg;
	double pct;

	if (interrupted)
		return 1;
	if (!g->tty)
		return 0;
	/* the search has no end to measure against: show tests against the
	 * mean, capped, so the line moves without promising a finish time */
	pct = p->expected_tests > 0 ? 100.0 * (double)p->tested / p->expected_tests : 0;
	fputc('\r', stderr);
	if (p->phase == DH_PROVING)
		fprintf(stderr, _("dhparam: %d bits, proving the prime found ...%20s"), p->bits, "");
	else
		fprintf(stderr, _("dhparam: %d bits, %d threads, %lu candidates tested (%.0f%% of the mean), %.0f s "),
			p->bits, p->threads, p->tested, pct > 999 ? 999 : pct, p->elapsed);
	fflush(stderr);
	g->shown = true;
	return 0;
}

static int parse_bits(const char *s, int *bits)
{
	char *end;
	long v;

	if (s == NULL) {
		*bits = DH_DEFAULT_BITS;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || !dh_bits_valid((int)v)) {
		msg_error(_("--bits %s: use 2048, 3072 or 4096"), text_is_clean(s) ? s : "?");
		return -1;
	}
	*bits = (int)v;
	return 0;
}

static int generate_fresh(int bits, char **pem, struct error *e)
{
	struct gauge g = {.tty = isatty(STDERR_FILENO) == 1};
	struct dh_gen_opts opts = {.progress = show_progress, .arg = &g};
	struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
	int rc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = dh_generate_pem(bits, &opts, pem, e);
	if (g.shown)
		fputs("\r\033[K", stderr);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}

static void print_summary(const struct cli_opts *o, int bits, const char *where)
{
	if (o->fresh)
		fprintf(stderr, _("dhparam: fresh %d-bit parameters, proved (p and (p-1)/2 prime, generator 2, OpenSSL's check); written to %s\n"),
			bits, where);
	else
		fprintf(stderr, _("dhparam: RFC 7919 group %s, proved (p and (p-1)/2 prime, generator 2, OpenSSL's check); written to %s\n"),
			dh_group_name(bits), where);
}

/* The PEM was proved byte for byte by dh_named_pem / dh_generate_pem. */
static int emit(struct env *env, const struct cli_opts *o, int bits, const char *pem)
{
	struct error e = {{0}};

	if (o->out == NULL) {
		fputs(pem, stdout);
		if (fflush(stdout) != 0) {
			msg_error("%s", _("cannot write to standard output"));
			return EXIT_ERROR;
		}
		print_summary(o, bits, _("standard output"));
		return EXIT_OK;
	}
	if (dh_write(env, o->out, pem, &e) < 0) {
		msg_error("%s", e.msg);
		return EXIT_ERROR;
	}
	print_summary(o, bits, o->out);
	return EXIT_OK;
}

static void dhparam_help(void)
{
	fputs(_("Usage: mailharden dhparam [--bits 2048|3072|4096] [--fresh] [--out FILE] [--root DIR]\n"
		"\n"
		"Writes Diffie-Hellman parameters for the DHE cipher suites, proved before\n"
		"they are written (safe prime, generator 2, OpenSSL's parameter check).\n"
		"\n"
		"Without --fresh: the RFC 7919 group of that size (ffdhe2048 ...), at once.\n"
		"A named group is today's advice: well studied, and clients can recognise\n"
		"it.  Fresh parameters buy nothing against known attacks on 2048 bits and\n"
		"more.  Profiles with TLS 1.3 or ECDHE only need no DH file at all.\n"
		"\n"
		"  --bits N     2048 (default), 3072 or 4096\n"
		"  --fresh      search a new safe prime on every core (seconds to a minute)\n"
		"  --out FILE   write FILE (as the server sees it, under --root) atomically,\n"
		"               mode 0644; without it the PEM goes to standard output\n"), stdout);
}

int cli_dhparam(struct env *env, const struct cli_opts *o)
{
	struct error e = {{0}};
	char *pem = NULL;
	int bits, rc;

	if (o->args.n > 0) {
		if (strcmp(o->args.v[0], "help") == 0) {
			dhparam_help();
			return EXIT_OK;
		}
		msg_error(_("dhparam takes no argument '%s' (see: mailharden dhparam help)"),
			  text_is_clean(o->args.v[0]) ? o->args.v[0] : "?");
		return EXIT_USAGE;
	}
	if (parse_bits(o->bits, &bits) < 0)
		return EXIT_USAGE;
	if (o->out != NULL && (!text_is_clean(o->out) || o->out[0] == '\0')) {
		msg_error("%s", _("--out: the file name is empty or contains a control character"));
		return EXIT_USAGE;
	}
	rc = o->fresh ? generate_fresh(bits, &pem, &e) : dh_named_pem(bits, &pem, &e);
	if (rc == DH_CANCELLED || (rc == 0 && interrupted)) {
		free(pem);
		msg_error("%s", _("interrupted: no DH parameters written"));
		return EXIT_INTERRUPTED;
	}
	if (rc < 0) {
		msg_error("%s", e.msg);
		return EXIT_ERROR;
	}
	rc = emit(env, o, bits, pem);
	free(pem);
	return rc;
}
