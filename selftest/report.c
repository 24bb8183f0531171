/*
 * report.c - the self-test report for people (colours unless NO_COLOR or
 * not a terminal) and as JSON (schema: docs/README-selftest.md).
 */
#include <jansson.h>
#include <openssl/ocsp.h>
#include <stdlib.h>
#include <string.h>

#include "selftest.h"
#include "suites.h"

static const char *sev_color(enum severity s)
{
	switch (s) {
	case SEV_OK: return "\033[32m";
	case SEV_INFO: return "\033[36m";
	case SEV_LOW: return "\033[33m";
	case SEV_MEDIUM: return "\033[33;1m";
	case SEV_HIGH: return "\033[31m";
	case SEV_CRITICAL: return "\033[31;1;7m";
	}
	return "";
}

static const char *tls_mode(const struct port_spec *p)
{
	return p->implicit_tls ? "implicit TLS" : p->proto == PROTO_POP3 ? "STLS" : "STARTTLS";
}

static const char *role_str(const struct port_spec *p)
{
	const struct role_info *ri = p->role ? role_info(p->role) : NULL;

	return ri ? ri->name : "unknown";
}

/* What could not be tested: never a finding about the server. */
static void gaps_text(FILE *f, const struct gap_list *g, bool color)
{
	for (size_t i = 0; i < g->n; i++)
		fprintf(f, "  %s%-8s%s %s %s: %s\n", color ? "\033[35m" : "", _("untested"), color ? "\033[0m" : "",
			_("could not test"), g->v[i].item, g->v[i].why);
}

static void gaps_json(json_t *a, const struct gap_list *g)
{
	for (size_t i = 0; i < g->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "item", g->v[i].item, "why", g->v[i].why));
}

void selftest_report_text(FILE *f, const struct selftest_opts *o,
			  const struct port_result *r, size_t n, bool color)
{
	const char *host = o->host ? o->host : "localhost";
	unsigned long conns = 0;

	for (size_t i = 0; i < n; i++) {
		const struct port_result *p = &r[i];

		conns += p->connections;
		fprintf(f, "%s%s %s port %d (%s, %s)%s", color ? "\033[1m" : "", proto_name(p->spec.proto),
			host, p->spec.port, role_str(&p->spec), tls_mode(&p->spec), color ? "\033[0m" : "");
		fprintf(f, _(" - %lu connections, %.2f s\n"), p->connections, p->seconds);
		if (p->status != PORT_TESTED)
			fprintf(f, "  %s%-8s%s %s: %s\n", color ? sev_color(SEV_CRITICAL) : "", _("error"),
				color ? "\033[0m" : "", _("could not test"), p->error);
		for (size_t j = 0; j < p->findings.n; j++) {
			const struct finding *fd = &p->findings.v[j];

			fprintf(f, "  %s%-8s%s %s\n", color ? sev_color(fd->sev) : "", severity_name(fd->sev),
				color ? "\033[0m" : "", fd->text);
			if (fd->fix && fd->sev >= SEV_LOW)
				fprintf(f, "           %s %s\n", _("fix:"), fd->fix);
		}
		gaps_text(f, &p->scan.gaps, color);
		gaps_text(f, &p->gaps, color);
	}
	fprintf(f, _("%zu port(s), %lu connections; exit code %d\n"), n, conns, selftest_exit_code(r, n));
}

static json_t *suites_json(const struct tls_scan *s, const struct proto_scan *ps)
{
	json_t *a = json_array();
	char b[16];

	for (size_t i = 0; i < ps->n_suites; i++) {
		char code[8];
		json_t *o;

		snprintf(code, sizeof(code), "0x%04X", ps->suites[i]);
		o = json_pack("{s:s, s:s}", "code", code, "name", suite_name(ps->suites[i], b, sizeof(b)));
		/* the key exchange this suite got: DH groups may differ per suite */
		if (ps->kx_dh[i] > 0)
			json_object_set_new(o, "dh_bits", json_integer(s->dh[ps->kx_dh[i] - 1].bits));
		if (ps->kx_group[i])
			json_object_set_new(o, "group", json_string(group_name(ps->kx_group[i])));
		json_array_append_new(a, o);
	}
	for (size_t i = 0; i < ps->n_ssl2; i++) {
		char code[10];

		snprintf(code, sizeof(code), "0x%06X", (unsigned)ps->ssl2[i]);
		json_array_append_new(a, json_pack("{s:s}", "code", code));
	}
	return a;
}

static json_t *tls_json(const struct tls_scan *s)
{
	json_t *protos = json_object(), *suites = json_object(), *order = json_object(), *groups = json_array();

	for (int i = 0; i < SCAN_NPROTO; i++) {
		const struct proto_scan *ps = &s->proto[i];
		const char *name = tls_version_name(ps->version);

		json_object_set_new(protos, name, ps->accepted < 0 ? json_null() : json_boolean(ps->accepted == 1));
		if (ps->accepted == 1) {
			json_object_set_new(suites, name, suites_json(s, ps));
			json_object_set_new(order, name, ps->server_order < 0 ? json_null()
							: json_string(ps->server_order ? "server" : "client"));
		}
	}
	json_t *dhs = json_array(), *j, *sigs;

	for (size_t i = 0; i < s->n_groups; i++)
		json_array_append_new(groups, json_string(group_name(s->groups[i])));
	for (size_t i = 0; i < s->n_dh; i++)
		json_array_append_new(dhs, json_pack("{s:i, s:s?, s:b, s:i}", "bits", s->dh[i].bits, "group",
						     s->dh[i].name, "rfc7919", s->dh[i].rfc7919, "suites",
						     (int)s->dh[i].suites));
	j = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i}",
			 "protocols", protos, "suites", suites, "cipher_order", order, "groups", groups,
			 "dh", s->dh_bits ? json_pack("{s:i, s:s?, s:b}", "bits", s->dh_bits, "group", s->dh_name,
						      "rfc7919", s->dh_rfc7919) : json_null(),
			 "compression", s->compression < 0 ? json_null() : json_boolean(s->compression),
			 "secure_renegotiation", s->secure_reneg < 0 ? json_null() : json_boolean(s->secure_reneg),
			 "connections", (int)s->connections);
	json_object_set_new(j, "dh_groups", dhs);
	sigs = json_array();
	for (size_t i = 0; i < s->n_sigalgs; i++)
		json_array_append_new(sigs, json_string(sigalg_name(s->sigalgs[i])));
	json_object_set_new(j, "signature_algorithms", sigs);
	json_object_set_new(j, "fallback_scsv", s->fallback_scsv < 0 ? json_null() : json_boolean(s->fallback_scsv));
	json_object_set_new(j, "heartbeat", json_boolean(s->heartbeat));
	json_object_set_new(j, "heartbleed", s->heartbleed < 0 ? json_null()
				: json_string(s->heartbleed ? "vulnerable" : "not_vulnerable"));
	return j;
}

static json_t *cert_json(const struct cert_facts *c)
{
	json_t *j;

	if (!c->have)
		return json_null();
	j = json_pack("{s:s, s:s, s:b, s:s, s:o, s:I, s:s, s:i, s:s, s:s, s:s, s:s}",
			 "subject", c->subject, "issuer", c->issuer, "trusted", c->verify_result == 0,
			 "verify_result", c->verify_text,
			 "name_match", c->name_match < 0 ? json_null() : json_boolean(c->name_match),
			 "days_left", (json_int_t)c->days_left, "key_type", c->key_type, "key_bits", c->key_bits,
			 "signature", c->sig_alg, "sha256", c->sha256, "protocol", c->protocol,
			 "cipher", c->cipher);
	json_object_set_new(j, "tls_signature", c->tls_sigalg[0] ? json_string(c->tls_sigalg) : json_null());
	json_object_set_new(j, "key_usage_ok", c->key_usage_ok < 0 ? json_null() : json_boolean(c->key_usage_ok));
	json_object_set_new(j, "ocsp_stapled", c->ocsp < 0 ? json_null() : json_boolean(c->ocsp));
	json_object_set_new(j, "ocsp_status", c->ocsp != 1 ? json_null()
				: json_string(c->ocsp_status == V_OCSP_CERTSTATUS_GOOD ? "good"
					      : c->ocsp_status == V_OCSP_CERTSTATUS_REVOKED ? "revoked" : "unknown"));
	return j;
}

static json_t *tri(int v)
{
	return v < 0 ? json_null() : json_boolean(v);
}

static json_t *caps_json(const struct strlist *sl)
{
	json_t *a = json_array();

	for (size_t i = 0; i < sl->n; i++)
		json_array_append_new(a, json_string(sl->v[i]));
	return a;
}

static json_t *port_json(const struct selftest_opts *o, const struct port_result *p)
{
	json_t *fs = json_array();
	json_t *j, *untested, *certs;

	for (size_t i = 0; i < p->findings.n; i++) {
		const struct finding *f = &p->findings.v[i];

		json_array_append_new(fs, json_pack("{s:s, s:s, s:s, s:s?}", "id", f->id, "severity",
						    severity_name(f->sev), "text", f->text, "fix", f->fix));
	}
	j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s?, s:i, s:f, s:s, s:o}",
		      "host", o->host ? o->host : "localhost", "port", p->spec.port,
		      "proto", proto_name(p->spec.proto), "tls", p->spec.implicit_tls ? "implicit" : "starttls",
		      "role", role_str(&p->spec), "profile", o->profile->name,
		      "status", p->status == PORT_TESTED ? "tested" : "error", "error", p->error,
		      "connections", (int)p->connections, "seconds", p->seconds,
		      "max_severity", severity_name(findings_worst(&p->findings)), "findings", fs);
	if (p->scanned)
		json_object_set_new(j, "tls_scan", tls_json(&p->scan));
	json_object_set_new(j, "certificate", cert_json(&p->cert));
	certs = json_array();
	if (p->cert.have)
		json_array_append_new(certs, cert_json(&p->cert));
	for (size_t i = 0; i < p->n_more_certs; i++)
		json_array_append_new(certs, cert_json(&p->more_certs[i]));
	json_object_set_new(j, "certificates", certs);
	json_object_set_new(j, "resumption", !p->mail.tls_done ? json_null()
				: json_pack("{s:o, s:o, s:o}", "session_id", tri(p->mail.resume_id),
					    "ticket", tri(p->mail.resume_ticket), "ticket_lifetime",
					    p->mail.ticket ? json_integer(p->mail.ticket_lifetime) : json_null()));
	json_object_set_new(j, "capabilities_before_tls", caps_json(&p->mail.caps_before));
	json_object_set_new(j, "capabilities_after_tls", caps_json(&p->mail.caps_after));
	untested = json_array();
	gaps_json(untested, &p->scan.gaps);
	gaps_json(untested, &p->gaps);
	json_object_set_new(j, "untested", untested);
	json_object_set_new(j, "starttls_injection", p->spec.implicit_tls || !p->scanned ? json_null()
				: json_string(p->mail.injection == 1 ? "vulnerable"
					      : p->mail.injection == 0 ? "not_vulnerable" : "could_not_tell"));
	return j;
}

char *selftest_report_json(const struct selftest_opts *o, const struct port_result *r, size_t n)
{
	json_t *ports = json_array(), *doc;
	unsigned long conns = 0;
	char *s, *out;

	for (size_t i = 0; i < n; i++) {
		json_array_append_new(ports, port_json(o, &r[i]));
		conns += r[i].connections;
	}
	doc = json_pack("{s:i, s:s, s:s, s:I, s:i, s:o}", "schema", 1, "host", o->host ? o->host : "localhost",
			"profile", o->profile->name, "connections", (json_int_t)conns,
			"exit_code", selftest_exit_code(r, n), "ports", ports);
	s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	out = xasprintf("%s\n", s ? s : "{}");
	free(s);
	return out;
}
