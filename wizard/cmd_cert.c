/*
 * cmd_cert.c - "mailharden cert inspect|selfsigned|tlsa".
 *
 * inspect exits 0 when nothing is worse than info, 1 on warnings, 2 when
 * something is critical (or the file cannot be read), so it can run as a
 * monitoring check.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../core/cert.h"
#include "cli.h"

#define EXIT_CRITICAL 2
#define LAB_DAYS 365

static const int mail_ports[] = {25, 465, 587, 143, 993, 110, 995};

static void cert_help(FILE *f)
{
	fputs(_("Usage: mailharden cert inspect FILE [--key KEY] [--name HOST] [--json]\n"
		"       mailharden cert selfsigned --name HOST [--rsa] [--out-cert F --out-key F]\n"
		"       mailharden cert tlsa FILE [--port 25[,587...]] [--name HOST]\n"
		"\n"
		"inspect     subject, names, issuer, validity, key, signature, chain order and\n"
		"            completeness, key match and permissions, host name match; exit\n"
		"            0 ok, 1 warnings, 2 critical\n"
		"selfsigned  a self-signed certificate FOR LABS ONLY (O=mailharden lab\n"
		"            certificate): ECDSA P-256, or RSA 3072 with --rsa; key mode 0600.\n"
		"            Never use a self-signed certificate on a real mail server.\n"
		"tlsa        DANE TLSA records ready for the zone: 3 1 1 for the certificate,\n"
		"            2 1 1 for its issuer (the next certificate in FILE), for every\n"
		"            mail port or those given with --port\n"
		"Paths are as the server sees them (under --root).\n"), f);
}

static char *host_path_of(struct env *env, const char *path)
{
	if (!text_is_clean(path) || path[0] == '\0') {
		msg_error("%s", _("a file name is empty or contains a control character"));
		return NULL;
	}
	if (env->root[0] != '\0' && path[0] != '/') {
		msg_error(_("%s: with --root, give the path as the server sees it (absolute)"), path);
		return NULL;
	}
	return env_host_path(env, path);
}

static void format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(buf, size, "?");
}

/* ---- inspect ----------------------------------------------------------- */

static void print_cert(size_t i, const struct cert_info *ci)
{
	char from[32], until[32];

	format_time(ci->not_before, from, sizeof(from));
	format_time(ci->not_after, until, sizeof(until));
	printf("  %zu. %-9s %s\n", i + 1, _("subject"), ci->subject);
	if (ci->dns_names.n > 0) {
		printf("     %-9s", _("names"));
		for (size_t j = 0; j < ci->dns_names.n; j++)
			printf("%s%s", j ? ", " : " ", ci->dns_names.v[j]);
		putchar('\n');
	}
	printf("     %-9s %s%s\n", _("issuer"), ci->issuer,
	       ci->self_signed ? _(" (self-signed)") : "");
	printf("     %-9s %s .. %s\n", _("valid"), from, until);
	printf("     %-9s %s, %d bits\n", _("key"), ci->key_type, ci->key_bits);
	printf("     %-9s %s\n", _("signature"), ci->sig_alg);
	if (ci->lab)
		printf("     %s\n", _("*** mailharden LAB certificate: not for real mail servers ***"));
}

static void print_report(const struct cli_opts *o, const char *cert, const struct cert_report *r)
{
	printf(_("Certificate file %s: %zu certificate(s)\n"), cert, r->n_certs);
	for (size_t i = 0; i < r->n_certs; i++)
		print_cert(i, &r->certs[i]);
	if (o->key != NULL && r->key_checked)
		printf(_("Key file %s: owner %u:%u, mode %04o, %s\n"), o->key, (unsigned)r->key_uid,
		       (unsigned)r->key_gid, (unsigned)r->key_mode,
		       r->key_matches ? _("matches the certificate") : _("does NOT match the certificate"));
	printf("%s\n", _("Findings:"));
	for (size_t i = 0; i < r->findings.n; i++) {
		const struct finding *f = &r->findings.v[i];

		printf("  %-8s %s  [%s]\n", severity_label(f->sev), f->text, f->id);
		if (f->fix != NULL && f->sev > SEV_INFO)
			printf("           %s %s\n", _("fix:"), f->fix);
	}
}

static json_t *cert_json(const struct cert_info *ci)
{
	json_t *o = json_object(), *names = json_array();

	for (size_t j = 0; j < ci->dns_names.n; j++)
		json_array_append_new(names, json_string(ci->dns_names.v[j]));
	json_object_set_new(o, "subject", json_string(ci->subject));
	json_object_set_new(o, "issuer", json_string(ci->issuer));
	json_object_set_new(o, "common_name", ci->common_name ? json_string(ci->common_name) : json_null());
	json_object_set_new(o, "dns_names", names);
	json_object_set_new(o, "not_before", json_integer((json_int_t)ci->not_before));
	json_object_set_new(o, "not_after", json_integer((json_int_t)ci->not_after));
	json_object_set_new(o, "key_type", json_string(ci->key_type));
	json_object_set_new(o, "key_bits", json_integer(ci->key_bits));
	json_object_set_new(o, "signature", json_string(ci->sig_alg));
	json_object_set_new(o, "self_signed", json_boolean(ci->self_signed));
	json_object_set_new(o, "ca", json_boolean(ci->is_ca));
	json_object_set_new(o, "lab", json_boolean(ci->lab));
	json_object_set_new(o, "spki_sha256", json_string(ci->spki_sha256));
	return o;
}

static void print_json(const struct cli_opts *o, const char *cert, const struct cert_report *r)
{
	json_t *top = json_object(), *certs = json_array(), *fs = json_array();

	for (size_t i = 0; i < r->n_certs; i++)
		json_array_append_new(certs, cert_json(&r->certs[i]));
	for (size_t i = 0; i < r->findings.n; i++) {
		const struct finding *f = &r->findings.v[i];

		json_array_append_new(fs, json_pack("{s:s, s:s, s:s, s:o}", "id", f->id,
						    "severity", severity_name(f->sev), "text", f->text,
						    "fix", f->fix ? json_string(f->fix) : json_null()));
	}
	json_object_set_new(top, "file", json_string(cert));
	json_object_set_new(top, "certificates", certs);
	if (o->key != NULL) {
		json_t *k = json_object();

		json_object_set_new(k, "file", json_string(o->key));
		json_object_set_new(k, "checked", json_boolean(r->key_checked));
		json_object_set_new(k, "matches", json_boolean(r->key_matches));
		json_object_set_new(k, "mode", json_integer(r->key_mode));
		json_object_set_new(k, "uid", json_integer(r->key_uid));
		json_object_set_new(top, "key", k);
	}
	json_object_set_new(top, "findings", fs);
	json_object_set_new(top, "worst", json_string(severity_name(findings_worst(&r->findings))));
	json_dumpf(top, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(top);
}

static int cert_inspect_verb(struct env *env, const struct cli_opts *o, const char *file)
{
	struct cert_inspect_opts io = {.cert_shown = file, .key_shown = o->key, .host = o->name};
	struct error e = {{0}};
	struct cert_report r;
	char *cert_host, *key_host = NULL;
	int rc;

	if (o->name != NULL && !cert_hostname_valid(o->name)) {
		msg_error(_("--name '%s' is not a host name"), text_is_clean(o->name) ? o->name : "?");
		return EXIT_USAGE;
	}
	if ((cert_host = host_path_of(env, file)) == NULL)
		return EXIT_USAGE;
	if (o->key != NULL && (key_host = host_path_of(env, o->key)) == NULL) {
		free(cert_host);
		return EXIT_USAGE;
	}
	io.cert_path = cert_host;
	io.key_path = key_host;
	if (cert_inspect(&io, &r, &e) < 0) {
		msg_error("%s", e.msg);
		rc = EXIT_CRITICAL;
	} else {
		if (o->json)
			print_json(o, file, &r);
		else
			print_report(o, file, &r);
		rc = cert_exit_code(&r);
		cert_report_free(&r);
	}
	free(cert_host);
	free(key_host);
	return rc;
}

/* ---- selfsigned -------------------------------------------------------- */

static int cert_selfsigned_verb(struct env *env, const struct cli_opts *o)
{
	struct error e = {{0}};
	char *cert = NULL, *key = NULL;
	int rc = EXIT_OK;

	if (o->name == NULL) {
		msg_error("%s", _("cert selfsigned needs --name HOST"));
		return EXIT_USAGE;
	}
	if ((o->out_cert == NULL) != (o->out_key == NULL)) {
		msg_error("%s", _("give both --out-cert and --out-key, or neither (PEMs to standard output)"));
		return EXIT_USAGE;
	}
	if (cert_make_selfsigned(o->name, o->rsa, LAB_DAYS, &cert, &key, &e) < 0) {
		msg_error("%s", e.msg);
		return EXIT_ERROR;
	}
	if (o->out_cert == NULL) {
		fputs(cert, stdout);
		fputs(key, stdout);
	} else if (cert_write_pair(env, o->out_cert, cert, o->out_key, key, &e) < 0) {
		msg_error("%s", e.msg);
		rc = EXIT_ERROR;
	}
	if (rc == EXIT_OK)
		fprintf(stderr, _("LAB ONLY: self-signed %s certificate for %s (O=%s), valid %d days%s%s%s%s.\n"
				  "Never use a self-signed certificate on a real mail server.\n"),
			o->rsa ? "RSA 3072" : "ECDSA P-256", o->name, CERT_LAB_ORG, LAB_DAYS,
			o->out_cert ? _("; certificate ") : "", o->out_cert ? o->out_cert : "",
			o->out_key ? _(", key (mode 0600) ") : "", o->out_key ? o->out_key : "");
	free(cert);
	free(key);
	return rc;
}

/* ---- tlsa -------------------------------------------------------------- */

static int parse_ports(const char *spec, int *ports, size_t *n)
{
	char *copy, *tok, *save = NULL, *end;
	int rc = 0;

	*n = 0;
	if (spec == NULL) {
		for (size_t i = 0; i < ARRAY_LEN(mail_ports); i++)
			ports[(*n)++] = mail_ports[i];
		return 0;
	}
	copy = xstrdup(spec);
	for (tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
		long v;

		errno = 0;
		v = strtol(tok, &end, 10);
		if (errno || end == tok || *end || v < 1 || v > 65535 || *n >= 16)
			rc = -1;
		else
			ports[(*n)++] = (int)v;
	}
	free(copy);
	return *n == 0 ? -1 : rc;
}

static int cert_tlsa_verb(struct env *env, const struct cli_opts *o, const char *file)
{
	struct error e = {{0}};
	struct cert_tlsa t;
	const char *host;
	int ports[16];
	size_t n;
	char *path;

	if (parse_ports(o->port, ports, &n) < 0) {
		msg_error("%s", _("--port: a port number or a comma list, e.g. 25,465,587"));
		return EXIT_USAGE;
	}
	if (o->name != NULL && (!cert_hostname_valid(o->name) || o->name[0] == '*')) {
		msg_error(_("--name '%s' is not a host name"), text_is_clean(o->name) ? o->name : "?");
		return EXIT_USAGE;
	}
	if ((path = host_path_of(env, file)) == NULL)
		return EXIT_USAGE;
	if (cert_tlsa(path, &t, &e) < 0) {
		free(path);
		msg_error("%s", e.msg);
		return EXIT_ERROR;
	}
	free(path);
	host = o->name ? o->name : t.host;
	if (host[0] == '\0') {
		msg_error("%s", _("the certificate names no usable host; give --name HOST"));
		return EXIT_USAGE;
	}
	if (t.issuer[0] == '\0')
		msg_warn(_("%s holds only the certificate: no 2 1 1 record (append the intermediate to get one)"), file);
	else if (!t.issuer_verified)
		msg_warn(_("the second certificate in %s did not sign the first: its 2 1 1 record would not match"), file);
	for (size_t i = 0; i < n; i++) {
		printf("_%d._tcp.%s. IN TLSA 3 1 1 %s\n", ports[i], host, t.leaf);
		if (t.issuer[0] && t.issuer_verified)
			printf("_%d._tcp.%s. IN TLSA 2 1 1 %s\n", ports[i], host, t.issuer);
	}
	return t.issuer[0] && !t.issuer_verified ? EXIT_ERROR : EXIT_OK;
}

int cli_cert(struct env *env, const struct cli_opts *o)
{
	const char *sub = o->args.n > 0 ? o->args.v[0] : NULL;
	size_t want = 2;

	if (sub == NULL || strcmp(sub, "help") == 0) {
		cert_help(sub ? stdout : stderr);
		return sub ? EXIT_OK : EXIT_USAGE;
	}
	if (strcmp(sub, "selfsigned") == 0)
		want = 1;
	else if (strcmp(sub, "inspect") != 0 && strcmp(sub, "tlsa") != 0) {
		msg_error(_("cert: unknown action '%s' (inspect, selfsigned, tlsa)"),
			  text_is_clean(sub) ? sub : "?");
		return EXIT_USAGE;
	}
	if (o->args.n != want) {
		msg_error(want == 2 ? _("cert %s: give exactly one certificate FILE")
				    : _("cert %s takes no FILE (see --out-cert, --out-key)"), sub);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "selfsigned") == 0)
		return cert_selfsigned_verb(env, o);
	if (strcmp(sub, "inspect") == 0)
		return cert_inspect_verb(env, o, o->args.v[1]);
	return cert_tlsa_verb(env, o, o->args.v[1]);
}
