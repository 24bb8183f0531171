/*
 * report_monitor.c - the self-test as a Nagios/Icinga plugin and as
 * Prometheus gauges.
 *
 * Nagios: the plugin guidelines' first line "SERVICE STATE - text | perfdata"
 * and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; a port that could not be
 * tested is UNKNOWN (never OK, never CRITICAL unless another port is).
 * Prometheus: text exposition format 0.0.4, one series per port with the
 * labels host, port and role.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hello.h"
#include "report_monitor.h"

static const char *const state_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

static const char *port_role(const struct port_result *p)
{
	const struct role_info *ri = p->spec.role ? role_info(p->spec.role) : NULL;

	return ri ? ri->name : "unknown";
}

/* The same precedence as selftest_exit_code(): critical, could not test,
 * warning, ok. */
static int port_state(const struct port_result *p)
{
	enum severity worst = findings_worst(&p->findings);

	if (worst == SEV_CRITICAL)
		return NAGIOS_CRITICAL;
	if (p->status != PORT_TESTED || port_first_gap(p))
		return NAGIOS_UNKNOWN;
	return worst >= SEV_LOW ? NAGIOS_WARNING : NAGIOS_OK;
}

/* Plugin output must not contain '|' outside the perfdata, nor a newline
 * inside a line. */
static void add_plugin_text(struct strbuf *sb, const char *s)
{
	for (; s && *s; s++)
		sb_addc(sb, *s == '|' ? '/' : (unsigned char)*s < 0x20 ? ' ' : *s);
}

/* The worst finding's text of a port, or why it could not be tested. */
static void add_port_reason(struct strbuf *sb, const struct port_result *p)
{
	const struct finding *worst = NULL;

	for (size_t i = 0; i < p->findings.n; i++)
		if (worst == NULL || p->findings.v[i].sev > worst->sev)
			worst = &p->findings.v[i];
	if (port_state(p) == NAGIOS_UNKNOWN) {
		const struct gap *g = port_first_gap(p);

		sb_adds(sb, _("could not test"));
		if (p->status == PORT_TESTED && g) {
			sb_adds(sb, " ");
			add_plugin_text(sb, g->item);
		}
		sb_adds(sb, ": ");
		add_plugin_text(sb, p->status == PORT_TESTED && g ? g->why : p->error);
	} else if (worst) {
		add_plugin_text(sb, worst->text);
	}
}

/* The port that decides the state: the first one in the worst state. */
static const struct port_result *deciding_port(const struct port_result *r, size_t n, int state)
{
	for (size_t i = 0; i < n; i++)
		if (port_state(&r[i]) == state)
			return &r[i];
	return NULL;
}

static void add_perfdata(struct strbuf *sb, const struct port_result *r, size_t n,
			 const size_t count[4])
{
	double secs = 0;
	long min_days = 0;
	bool have_cert = false;

	for (size_t i = 0; i < n; i++) {
		secs += r[i].seconds;
		if (r[i].cert.have && (!have_cert || r[i].cert.days_left < min_days))
			min_days = r[i].cert.days_left;
		have_cert |= r[i].cert.have;
	}
	sb_addf(sb, " | ports=%zu;;;0 critical=%zu;;;0 warning=%zu;;;0 unknown=%zu;;;0 ok=%zu;;;0"
		" time=%.3fs;;;0", n, count[NAGIOS_CRITICAL], count[NAGIOS_WARNING],
		count[NAGIOS_UNKNOWN], count[NAGIOS_OK], secs);
	/* the text report warns under 30 days, an expired certificate is critical;
	 * in the plugin range syntax "30:" alerts below 30 */
	if (have_cert)
		sb_addf(sb, " cert_days=%ld;30:;0:", min_days);
}

static void add_long_output(struct strbuf *sb, const struct selftest_opts *o,
			    const struct port_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int st = port_state(&r[i]);

		sb_addf(sb, "%s:%d/%s %s", o->host ? o->host : "localhost", r[i].spec.port,
			port_role(&r[i]), state_names[st]);
		if (st != NAGIOS_OK) {
			sb_adds(sb, " - ");
			add_port_reason(sb, &r[i]);
		}
		sb_addc(sb, '\n');
	}
}

char *selftest_report_nagios(const struct selftest_opts *o, const struct port_result *r, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	size_t count[4] = {0};
	const struct port_result *why;
	int state = selftest_exit_code(r, n);

	for (size_t i = 0; i < n; i++)
		count[port_state(&r[i])]++;
	sb_addf(&sb, "MAILHARDEN %s - ", state_names[state]);
	sb_addf(&sb, _("%zu port(s): %zu critical, %zu warning, %zu could not test, %zu ok"), n,
		count[NAGIOS_CRITICAL], count[NAGIOS_WARNING], count[NAGIOS_UNKNOWN], count[NAGIOS_OK]);
	why = state == NAGIOS_OK ? NULL : deciding_port(r, n, state);
	if (why) {
		sb_addf(&sb, "; %d/%s: ", why->spec.port, port_role(why));
		add_port_reason(&sb, why);
	}
	add_perfdata(&sb, r, n, count);
	sb_addc(&sb, '\n');
	add_long_output(&sb, o, r, n);
	return sb_detach(&sb);
}

char *nagios_unknown_line(const char *why)
{
	struct strbuf sb = STRBUF_INIT;

	sb_adds(&sb, "MAILHARDEN UNKNOWN - ");
	add_plugin_text(&sb, why);
	sb_addc(&sb, '\n');
	return sb_detach(&sb);
}

/* ---- Prometheus ---------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped. */
static void add_label_value(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			sb_addc(sb, '\\');
		if (*s == '\n')
			sb_adds(sb, "\\n");
		else
			sb_addc(sb, *s);
	}
}

static void add_labels(struct strbuf *sb, const char *host, const struct port_result *p,
		       const char *extra_name, const char *extra_value)
{
	sb_adds(sb, "{host=\"");
	add_label_value(sb, host);
	sb_addf(sb, "\",port=\"%d\",role=\"", p->spec.port);
	add_label_value(sb, port_role(p));
	sb_addc(sb, '"');
	if (extra_name) {
		sb_addf(sb, ",%s=\"", extra_name);
		add_label_value(sb, extra_value);
		sb_addc(sb, '"');
	}
	sb_addc(sb, '}');
}

static void add_header(struct strbuf *sb, const char *name, const char *help)
{
	sb_addf(sb, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* One gauge for every port that has a value (has(p) true). */
struct port_gauge {
	const char *name;
	const char *help;
	bool (*has)(const struct port_result *p);
	double (*value)(const struct port_result *p);
};

static bool always(const struct port_result *p) { (void)p; return true; }
static bool tested(const struct port_result *p) { return p->status == PORT_TESTED; }
static bool has_cert(const struct port_result *p) { return p->cert.have; }
static double up_value(const struct port_result *p) { return p->status == PORT_TESTED; }
static double severity_value(const struct port_result *p) { return findings_worst(&p->findings); }
static double cert_days_value(const struct port_result *p) { return (double)p->cert.days_left; }
static double seconds_value(const struct port_result *p) { return p->seconds; }
static double connections_value(const struct port_result *p) { return (double)p->connections; }

static const struct port_gauge port_gauges[] = {
	{"mailharden_selftest_up", "1 if the port was tested, 0 if it could not be tested",
	 always, up_value},
	{"mailharden_selftest_worst_severity",
	 "worst finding of the port: 0 ok, 1 info, 2 low, 3 medium, 4 high, 5 critical",
	 tested, severity_value},
	{"mailharden_selftest_cert_expiry_days",
	 "days until the certificate expires (negative: expired)", has_cert, cert_days_value},
	{"mailharden_selftest_duration_seconds", "time the test of the port took", always,
	 seconds_value},
	{"mailharden_selftest_connections", "connections the test of the port made", always,
	 connections_value},
};

static void add_gauge(struct strbuf *sb, const char *host, const struct port_gauge *g,
		      const struct port_result *r, size_t n)
{
	add_header(sb, g->name, g->help);
	for (size_t i = 0; i < n; i++) {
		double v;

		if (!g->has(&r[i]))
			continue;
		v = g->value(&r[i]);
		sb_adds(sb, g->name);
		add_labels(sb, host, &r[i], NULL, NULL);
		if (v == floor(v) && fabs(v) < 1e15)
			sb_addf(sb, " %.0f\n", v);
		else
			sb_addf(sb, " %.6f\n", v);
	}
}

/* 1/0 per protocol version the scan could tell about. */
static void add_protocols(struct strbuf *sb, const char *host, const struct port_result *r, size_t n)
{
	const char *name = "mailharden_selftest_protocol_accepted";

	add_header(sb, name, "1 if the port accepts this SSL/TLS version, 0 if it refuses it");
	for (size_t i = 0; i < n; i++) {
		if (!r[i].scanned)
			continue;
		for (int v = 0; v < SCAN_NPROTO; v++) {
			const struct proto_scan *ps = &r[i].scan.proto[v];

			if (ps->accepted < 0)
				continue;
			sb_adds(sb, name);
			add_labels(sb, host, &r[i], "protocol", tls_version_name(ps->version));
			sb_addf(sb, " %d\n", ps->accepted == 1);
		}
	}
}

/* Findings per severity, so an alert can name "2 high" without the JSON. */
static void add_finding_counts(struct strbuf *sb, const char *host, const struct port_result *r,
			       size_t n)
{
	const char *name = "mailharden_selftest_findings";

	add_header(sb, name, "findings of the port per severity");
	for (size_t i = 0; i < n; i++) {
		for (int s = SEV_OK; s <= SEV_CRITICAL; s++) {
			size_t c = 0;

			for (size_t k = 0; k < r[i].findings.n; k++)
				c += r[i].findings.v[k].sev == (enum severity)s;
			sb_adds(sb, name);
			add_labels(sb, host, &r[i], "severity", severity_name((enum severity)s));
			sb_addf(sb, " %zu\n", c);
		}
	}
}

char *selftest_report_prometheus(const struct selftest_opts *o, const struct port_result *r,
				 size_t n, time_t now)
{
	struct strbuf sb = STRBUF_INIT;
	const char *host = o->host ? o->host : "localhost";

	for (size_t g = 0; g < ARRAY_LEN(port_gauges); g++)
		add_gauge(&sb, host, &port_gauges[g], r, n);
	add_protocols(&sb, host, r, n);
	add_finding_counts(&sb, host, r, n);
	add_header(&sb, "mailharden_selftest_exit_code",
		   "the run's exit code: 0 ok, 1 warning, 2 critical, 3 a port could not be tested");
	sb_adds(&sb, "mailharden_selftest_exit_code{host=\"");
	add_label_value(&sb, host);
	sb_addf(&sb, "\"} %d\n", selftest_exit_code(r, n));
	add_header(&sb, "mailharden_selftest_last_run_timestamp_seconds",
		   "when the self-test ran (Unix time)");
	sb_adds(&sb, "mailharden_selftest_last_run_timestamp_seconds{host=\"");
	add_label_value(&sb, host);
	sb_addf(&sb, "\"} %lld\n", (long long)now);
	return sb_detach(&sb);
}
