/*
 * selftest.c - run the probes for each port, judge, compare pairs.
 */
#include "selftest.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "mailproto.h"

void port_spec_from_role(struct port_spec *p, enum role r, const char *server)
{
	const struct role_info *ri = role_info(r);

	memset(p, 0, sizeof(*p));
	p->role = r;
	p->server = server;
	if (ri == NULL)
		return;
	p->port = ri->port;
	proto_parse(ri->proto, &p->proto);
	p->implicit_tls = ri->implicit_tls;
}

void port_result_free(struct port_result *r)
{
	free(r->error);
	mail_facts_free(&r->mail);
	findings_free(&r->findings);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/*
 * Dovecot treats a client whose address equals the server's as secure and
 * then allows plaintext login; a test from the mail host itself over
 * 127.0.0.1 would see a lie.  So loopback IMAP/POP3 tests come from
 * 127.0.0.2.  Not SMTP: Postfix looks up the client's name, and a reverse
 * lookup of 127.0.0.2 can stall for seconds where DNS is slow.
 */
static void target_init(struct target *t, const struct selftest_opts *o, const struct port_spec *p)
{
	const char *host = o->host ? o->host : "localhost";

	memset(t, 0, sizeof(*t));
	t->host = xstrdup(host);
	t->port = p->port;
	t->proto = p->proto;
	t->implicit_tls = p->implicit_tls;
	t->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	t->servername = o->servername ? o->servername : is_ip(host) ? NULL : host;
	t->source = o->source;
	if (t->source == NULL && (strcmp(host, "localhost") == 0 || strcmp(host, "127.0.0.1") == 0)) {
		free(t->host);
		t->host = xstrdup("127.0.0.1");
		if (p->proto != PROTO_SMTP)
			t->source = "127.0.0.2";
	}
}

static void untestable(struct port_result *r, const struct error *e)
{
	r->status = PORT_UNTESTABLE;
	free(r->error);
	r->error = xstrdup(e->msg);
}

/* The same target with a longer deadline, for one retry after a timeout. */
static struct target patient(const struct target *t)
{
	struct target p = *t;

	p.timeout_ms = t->timeout_ms * 3;
	return p;
}

static int check_plain(const struct target *t, struct port_result *r, struct error *e)
{
	bool enforce = r->spec.role != ROLE_MX;
	int rc = mail_check_plain(t, enforce, &r->mail, e);

	if (rc == MC_TIMEOUT) {
		struct target p = patient(t);

		mail_facts_free(&r->mail);
		rc = mail_check_plain(&p, enforce, &r->mail, e);
	}
	r->mail.injection = -1; /* not tested until it is */
	if (rc == 0 && enforce && r->mail.enforced < 0)
		gap_add(&r->gaps, _("TLS enforcement (a command before STARTTLS)"),
			r->mail.enforce_reply ? r->mail.enforce_reply : "?");
	return rc;
}

/* The libssl connection: certificate and capabilities after TLS. */
static void check_tls(const struct target *t, SSL_CTX *ctx, struct port_result *r, struct error *e)
{
	int rc = mail_check_tls(t, ctx, &r->mail, &r->cert, e);

	if (rc == MC_TIMEOUT) {
		struct target p = patient(t);

		memset(&r->cert, 0, sizeof(r->cert));
		rc = mail_check_tls(&p, ctx, &r->mail, &r->cert, e);
	}
	if (rc == 0)
		return;
	if (rc == MC_TIMEOUT || r->cert.have) {
		gap_add(&r->gaps, r->cert.have ? _("capabilities after TLS") : _("certificate"), e->msg);
	} else {
		char *msg = xasprintf(_("TLS connection with a full handshake failed: %s"), e->msg);

		findings_addf(&r->findings, "tls.handshake", SEV_HIGH, NULL, "%s", msg);
		free(msg);
	}
}

static const char *family_of(const char *key_type)
{
	if (strncmp(key_type, "RSA", 3) == 0)
		return "RSA";
	if (strcmp(key_type, "EC") == 0)
		return "ECDSA";
	if (strncmp(key_type, "ED", 2) == 0)
		return "EdDSA";
	return "";
}

static bool cert_known(const struct port_result *r, const char *sha256)
{
	if (strcmp(r->cert.sha256, sha256) == 0)
		return true;
	for (size_t i = 0; i < r->n_more_certs; i++)
		if (strcmp(r->more_certs[i].sha256, sha256) == 0)
			return true;
	return false;
}

/* A server may hold an RSA and an ECDSA (and EdDSA) certificate and show
 * each client the one it can verify: ask once per other key family. */
static void check_more_certs(const struct target *t, SSL_CTX *ctx, struct port_result *r, struct error *e)
{
	static const char *const fams[] = {"RSA", "ECDSA", "EdDSA"};
	const char *mine = family_of(r->cert.key_type);

	for (size_t i = 0; i < ARRAY_LEN(fams) && r->n_more_certs < ARRAY_LEN(r->more_certs); i++) {
		struct cert_facts cf;
		int rc;

		if (strcmp(fams[i], mine) == 0)
			continue;
		rc = mail_check_cert_family(t, ctx, fams[i], &cf, e);
		if (rc == MC_TIMEOUT) {
			struct target p = patient(t);

			rc = mail_check_cert_family(&p, ctx, fams[i], &cf, e);
		}
		if (rc == 1 && !cert_known(r, cf.sha256))
			r->more_certs[r->n_more_certs++] = cf;
		else if (rc < 0) {
			char item[80];

			snprintf(item, sizeof(item), _("%s certificate"), fams[i]);
			gap_add(&r->gaps, item, e->msg);
		}
	}
}

static void test_port(const struct selftest_opts *o, struct port_result *r)
{
	struct target t;
	struct error e = {{0}};
	SSL_CTX *ctx;
	double t0 = now_s();
	unsigned long c0 = mconn_count();

	target_init(&t, o, &r->spec);
	r->status = PORT_TESTED;
	ctx = probe_ctx_new(o->cafile, &e);
	if (ctx == NULL) {
		untestable(r, &e);
		goto out;
	}
	if (!t.implicit_tls) {
		if (check_plain(&t, r, &e) < 0) {
			untestable(r, &e);
			goto out;
		}
		if (!r->mail.starttls_offered)
			goto out; /* judged as "no STARTTLS"; nothing more to probe */
	}
	if (tls_scan_run(&t, &r->scan, &e) < 0) {
		/* advertised, then refused: mail falls back to plaintext */
		if (r->scan.starttls_refused && !t.implicit_tls) {
			r->scan.gaps.n = 0; /* nothing was scanned: no scan item is a gap */
			free(r->mail.starttls_refusal);
			r->mail.starttls_refusal = xstrdup(e.msg);
		} else {
			untestable(r, &e);
		}
		goto out;
	}
	r->scanned = true;
	if (!tls_scan_any(&r->scan))
		goto out;
	check_tls(&t, ctx, r, &e);
	if (r->cert.have)
		check_more_certs(&t, ctx, r, &e);
	if (r->mail.tls_done)
		mail_check_resumption(&t, ctx, r->scan.proto[SCAN_TLS12].accepted == 1, &r->mail);
	if (!t.implicit_tls && mail_check_injection(&t, ctx, &r->mail, &e) < 0)
		gap_add(&r->gaps, _("STARTTLS command injection"), e.msg);
out:
	SSL_CTX_free(ctx);
	r->connections = mconn_count() - c0;
	r->seconds = now_s() - t0;
	free(t.host);
	selftest_judge(o, r);
}

struct pool {
	const struct selftest_opts *o;
	struct port_result *r;
	size_t n;
	atomic_size_t next;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	size_t i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n)
		test_port(p->o, &p->r[i]);
	return NULL;
}

/* The STARTTLS partner of an implicit-TLS port: 465/587, 993/143, 995/110. */
static struct port_result *partner(struct port_result *r, size_t n, const struct port_result *imp)
{
	enum role want = imp->spec.role == ROLE_SUBMISSIONS ? ROLE_SUBMISSION
		       : imp->spec.role == ROLE_IMAPS ? ROLE_IMAP
		       : imp->spec.role == ROLE_POP3S ? ROLE_POP3 : 0;

	for (size_t i = 0; i < n; i++) {
		if (&r[i] == imp || r[i].spec.implicit_tls || r[i].spec.proto != imp->spec.proto)
			continue;
		if (want ? r[i].spec.role == want : r[i].spec.role != ROLE_MX)
			return &r[i];
	}
	return NULL;
}

static bool same_policy(const struct tls_scan *a, const struct tls_scan *b)
{
	for (int i = 0; i < SCAN_NPROTO; i++) {
		const struct proto_scan *x = &a->proto[i], *y = &b->proto[i];

		if (x->accepted != y->accepted || x->n_suites != y->n_suites)
			return false;
		for (size_t j = 0; j < x->n_suites; j++) {
			bool found = false;

			for (size_t k = 0; k < y->n_suites && !found; k++)
				found = x->suites[j] == y->suites[k];
			if (!found)
				return false;
		}
	}
	return true;
}

/* The same set of certificates (a dual RSA+ECDSA server has two). */
static bool same_certs(const struct port_result *a, const struct port_result *b)
{
	if (a->n_more_certs != b->n_more_certs || !cert_known(b, a->cert.sha256))
		return false;
	for (size_t i = 0; i < a->n_more_certs; i++)
		if (!cert_known(b, a->more_certs[i].sha256))
			return false;
	return true;
}

static void judge_parity(struct port_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct port_result *imp = &r[i], *st;

		if (!imp->spec.implicit_tls || imp->status != PORT_TESTED || !imp->scanned)
			continue;
		st = partner(r, n, imp);
		if (st == NULL || st->status != PORT_TESTED || !st->scanned || !st->cert.have || !imp->cert.have)
			continue;
		bool cert_same = same_certs(st, imp), policy_same = same_policy(&st->scan, &imp->scan);

		/* both differences are reported: one must not hide the other */
		if (!cert_same)
			findings_addf(&imp->findings, "parity.certificate", SEV_MEDIUM, NULL,
				    _("port %d serves a different certificate than its STARTTLS partner port %d"),
				    imp->spec.port, st->spec.port);
		if (!policy_same)
			findings_addf(&imp->findings, "parity.policy", SEV_MEDIUM, NULL,
				    _("port %d accepts other protocols or suites than its STARTTLS partner port %d"),
				    imp->spec.port, st->spec.port);
		if (cert_same && policy_same)
			findings_addf(&imp->findings, "parity", SEV_OK, NULL,
				    _("same certificate and TLS policy as port %d"), st->spec.port);
	}
}

int selftest_jobs(const struct selftest_opts *o, size_t n_ports, double *load)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double avg[1] = {0};
	int jobs = o->jobs > 1 ? o->jobs : 1;

	if (cpus < 1)
		cpus = 1;
	if (getloadavg(avg, 1) == 1) {
		/* every job beyond the idle CPUs only makes the others slower */
		int idle = (int)((double)cpus - avg[0] + 0.5);

		if (avg[0] >= (double)cpus)
			jobs = 1;
		else if (jobs > idle + 1)
			jobs = idle + 1;
	}
	if (load)
		*load = avg[0];
	if ((size_t)jobs > n_ports)
		jobs = n_ports ? (int)n_ports : 1;
	return jobs < 1 ? 1 : jobs > 16 ? 16 : jobs;
}

void selftest_run(const struct selftest_opts *o, struct port_result *r, size_t n)
{
	struct pool p = {o, r, n, 0};
	size_t jobs = (size_t)selftest_jobs(o, n, NULL);
	pthread_t th[16];
	size_t started = 0;

	/* a server that hangs up while we write through TLS must not kill us */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 1; i < jobs; i++)
		if (pthread_create(&th[started], NULL, worker, &p) == 0)
			started++;
	worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	judge_parity(r, n);
}

const struct gap *port_first_gap(const struct port_result *r)
{
	return r->scan.gaps.n ? &r->scan.gaps.v[0] : r->gaps.n ? &r->gaps.v[0] : NULL;
}

int selftest_exit_code(const struct port_result *r, size_t n)
{
	enum severity max = SEV_OK;
	bool untested = n == 0;

	for (size_t i = 0; i < n; i++) {
		enum severity m = findings_worst(&r[i].findings);

		if (m > max)
			max = m;
		untested |= r[i].status != PORT_TESTED || port_first_gap(&r[i]) != NULL;
	}
	if (max == SEV_CRITICAL)
		return 2;
	if (untested)
		return 3;
	return max >= SEV_LOW ? 1 : 0;
}
