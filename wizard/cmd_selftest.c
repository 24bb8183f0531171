/*
 * cmd_selftest.c - "mailharden selftest": prove the live TLS posture of
 * every mail port.  Exit code: 0 ok, 1 warnings, 2 critical, 3 could not
 * test (usable as a monitoring check).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../backends/backend.h"
#include "../core/common.h"
#include "../core/txn.h"
#include "../selftest/selftest.h"
#include "cli.h"
#include "selftest_out.h"
#include "verify.h"

#define EXIT_UNTESTABLE 3

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_timeout(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0.1 || v > 600)
		return -1;
	*ms = (int)(v * 1000);
	return 0;
}

/* The role a well-known port has, so --port 587 alone is enough. */
static enum role role_of_port(int port)
{
	for (const struct role_info *ri = role_table(); ri->name; ri++)
		if (ri->port == port)
			return ri->role;
	return 0;
}

/* One --port entry: "587", or "10587/submission" for a role on another port. */
static int explicit_port(const struct cli_opts *o, const char *entry, struct port_spec *p,
			 struct error *e)
{
	const char *slash = strchr(entry, '/');
	const char *rname = slash ? slash + 1 : o->roles;
	char *num = xstrndup(entry, slash ? (size_t)(slash - entry) : strlen(entry));
	enum role r = 0;
	int port, bad = parse_int(num, 1, 65535, &port);

	free(num);
	memset(p, 0, sizeof(*p));
	if (bad < 0)
		return err_set(e, _("--port wants numbers from 1 to 65535, optionally PORT/ROLE"));
	if (rname) {
		const struct role_info *ri = role_by_name(rname);

		if (ri == NULL)
			return err_set(e, _("a selftest role is one of mx, submission, submissions, "
					    "imap, imaps, pop3, pop3s"));
		r = ri->role;
	} else {
		r = role_of_port(port);
	}
	if (r)
		port_spec_from_role(p, r, o->server);
	p->port = port;
	if (o->proto && proto_parse(o->proto, &p->proto) < 0)
		return err_set(e, _("--proto is smtp, imap or pop3"));
	if (!o->proto && !r)
		return err_set(e, _("port %d is not a standard mail port: say --proto smtp|imap|pop3 or PORT/ROLE"),
			       port);
	if (o->tls) {
		if (strcmp(o->tls, "implicit") != 0 && strcmp(o->tls, "starttls") != 0)
			return err_set(e, _("--tls is starttls or implicit"));
		p->implicit_tls = strcmp(o->tls, "implicit") == 0;
	}
	p->server = o->server;
	return 0;
}

/* --port 25,587 or --port 10025/mx,10587/submission */
static size_t explicit_ports(const struct cli_opts *o, struct port_spec **out, struct error *e)
{
	char *list = xstrdup(o->port), *save = NULL;
	struct port_spec *v = NULL;
	size_t n = 0;

	for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		v = xrealloc(v, (n + 1) * sizeof(*v));
		if (explicit_port(o, tok, &v[n], e) < 0) {
			free(v);
			free(list);
			return 0;
		}
		n++;
	}
	free(list);
	if (n == 0)
		err_set(e, _("--port is empty"));
	*out = v;
	return n;
}

/* Every mail port the detected configs serve. */
static size_t detected_ports(struct env *env, struct port_spec **out)
{
	const struct backend *const *bl = backend_list();
	struct port_spec *v = NULL;
	size_t n = 0;

	for (size_t i = 0; bl[i]; i++) {
		struct server_info si = {0};

		si.backend = bl[i];
		bl[i]->detect(env, &si);
		for (const struct role_info *ri = role_table(); si.found && ri->name; ri++) {
			if (!(si.roles_served & ri->role))
				continue;
			v = xrealloc(v, (n + 1) * sizeof(*v));
			port_spec_from_role(&v[n++], ri->role, bl[i]->name);
		}
		server_info_free(&si);
	}
	*out = v;
	return n;
}

/* For each port of a server that drifted since the last apply, the lines
 * that override it ("/etc/postfix/master.cf:21, ..."), kept in owned. */
static void name_overrides(const struct verify_report *vr, struct port_spec *specs, size_t n,
			   struct strlist *owned)
{
	for (size_t i = 0; i < n; i++) {
		/* a port given by number: the server that speaks its protocol */
		const char *srv = specs[i].server ? specs[i].server
				  : specs[i].proto == PROTO_SMTP ? "postfix" : "dovecot";
		struct strlist origins = STRLIST_INIT;
		struct strbuf sb = STRBUF_INIT;

		for (size_t k = 0; k < vr->n; k++) {
			const struct verify_server *v = &vr->srv[k];

			if (v->status != VERIFY_DRIFT || strcmp(v->backend->name, srv) != 0)
				continue;
			for (size_t j = 0; j < v->plan.expect.n; j++) {
				const struct expectation *x = &v->plan.expect.items[j];
				bool seen = false;

				if (x->state != EXPECT_WEAKER || !x->origin || !(x->roles & specs[i].role))
					continue;
				for (size_t m = 0; m < origins.n && !seen; m++)
					seen = strcmp(origins.v[m], x->origin) == 0;
				if (!seen)
					sl_add(&origins, x->origin);
			}
		}
		for (size_t m = 0; m < origins.n; m++)
			sb_addf(&sb, "%s%s", m ? ", " : "", origins.v[m]);
		if (origins.n) {
			sl_add_owned(owned, sb_detach(&sb));
			specs[i].override = owned->v[owned->n - 1];
		}
		sb_free(&sb);
		sl_free(&origins);
	}
}

static bool has_checkpoints(const struct env *env)
{
	struct checkpoint_info *list = NULL;
	size_t n = 0;

	if (checkpoint_list(env, &list, &n, NULL) < 0)
		return false;
	checkpoint_list_free(list, n);
	return n > 0;
}

static int setup_opts(const struct cli_opts *o, struct selftest_opts *so, struct error *e)
{
	memset(so, 0, sizeof(*so));
	so->host = o->host ? o->host : "localhost";
	so->servername = o->servername;
	so->cafile = o->cafile;
	so->source = o->source;
	so->timeout_ms = 5000;
	so->jobs = 1;
	so->profile = profile_by_name(o->profile ? o->profile : "intermediate");
	if (so->profile == NULL)
		return err_set(e, _("unknown profile '%s'"), text_is_clean(o->profile) ? o->profile : "?");
	if (!text_is_clean(so->host) || (so->servername && !text_is_clean(so->servername)))
		return err_set(e, _("host names must not contain control characters"));
	if (o->timeout && parse_timeout(o->timeout, &so->timeout_ms) < 0)
		return err_set(e, _("--timeout wants seconds from 0.1 to 600"));
	if (o->jobs && parse_int(o->jobs, 1, 16, &so->jobs) < 0)
		return err_set(e, _("--jobs wants a number from 1 to 16"));
	if (so->cafile && access(so->cafile, R_OK) != 0)
		return err_sys(e, _("cannot read %s"), so->cafile);
	return 0;
}

int cli_selftest(struct env *env, const struct cli_opts *o)
{
	struct selftest_opts so;
	struct port_spec *specs = NULL;
	struct port_result *res;
	struct verify_report vr = {0};
	struct strlist overrides = STRLIST_INIT;
	struct error e = {{0}};
	enum selftest_format fmt;
	size_t n;
	int rc;

	if (selftest_format_parse(o, &fmt, &e) < 0 || setup_opts(o, &so, &e) < 0) {
		selftest_emit_error(fmt, e.msg);
		return EXIT_UNTESTABLE; /* a monitoring "unknown", never "critical" */
	}
	if (o->port) {
		n = explicit_ports(o, &specs, &e);
		if (n == 0) {
			selftest_emit_error(fmt, e.msg);
			return EXIT_UNTESTABLE; /* a monitoring "unknown", never "critical" */
		}
	} else {
		n = detected_ports(env, &specs);
		if (n == 0) {
			selftest_emit_error(fmt, _("no mail port found in the detected configurations; say --port"));
			free(specs);
			return EXIT_UNTESTABLE;
		}
	}
	/* only an apply of mailharden's leaves something to verify against */
	if (has_checkpoints(env)) {
		verify_run(env, &vr);
		name_overrides(&vr, specs, n, &overrides);
	}
	res = xcalloc(n, sizeof(*res));
	for (size_t i = 0; i < n; i++)
		res[i].spec = specs[i];
	{
		double load;
		int jobs = selftest_jobs(&so, n, &load);

		if (jobs < so.jobs && (size_t)so.jobs <= n)
			msg_warn(_("testing %d port(s) at a time, not %d: the load average is %.1f on %ld CPU(s)"),
				 jobs, so.jobs, load, sysconf(_SC_NPROCESSORS_ONLN));
	}
	selftest_run(&so, res, n);
	rc = selftest_emit(env, o, fmt, &so, res, n);
	for (size_t i = 0; i < n; i++)
		if (res[i].status != PORT_TESTED)
			msg_error(_("port %d could not be tested: %s"), res[i].spec.port, res[i].error);
	for (size_t i = 0; i < n; i++)
		port_result_free(&res[i]);
	free(res);
	free(specs);
	verify_report_free(&vr);
	sl_free(&overrides);
	return rc;
}
