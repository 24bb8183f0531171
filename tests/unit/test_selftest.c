/*
 * test_selftest.c - the self-test's parsers and verdicts, and a real TLS
 * server in a thread: raw ClientHellos against libssl, and STARTTLS
 * command injection (a deliberately vulnerable server and a fixed one).
 */
/* SSL_CTX_set_tmp_dh_callback (deprecated) makes a server that chooses a
 * DHE suite and then cannot complete it, as Dovecot does without ssl_dh */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../selftest/hello.h"
#include "../../selftest/mailproto.h"
#include "../../selftest/report_monitor.h"
#include "../../selftest/selftest.h"
#include "../../selftest/suites.h"

/* ---------------------------------------------------------------- replies */

static int feed_all(struct reply *r, enum reply_mode m, const char *tag, const char *const *lines)
{
	struct error e;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; lines[i] && rc == 0; i++)
		rc = reply_feed(r, m, tag, lines[i], strlen(lines[i]), &e);
	return rc;
}

static void test_reply_smtp(void **state)
{
	const char *ehlo[] = {"250-mx.example", "250-STARTTLS", "250 AUTH PLAIN LOGIN", NULL};
	const char *changed[] = {"250-mx.example", "251 odd", NULL};
	const char *bad[] = {"hello", NULL};
	const char *partial[] = {"220-first", NULL};
	struct reply r;
	struct strlist caps = STRLIST_INIT;

	(void)state;
	assert_int_equal(feed_all(&r, RM_SMTP, NULL, ehlo), 1);
	assert_int_equal(r.code, 250);
	caps_from_reply(&r, PROTO_SMTP, &caps);
	assert_true(caps_has(&caps, "STARTTLS"));
	assert_true(caps_has(&caps, "AUTH"));
	assert_true(caps_plain_auth(&caps, PROTO_SMTP));
	sl_free(&caps);
	reply_free(&r);
	assert_int_equal(feed_all(&r, RM_SMTP, NULL, changed), -1);
	reply_free(&r);
	assert_int_equal(feed_all(&r, RM_SMTP, NULL, bad), -1);
	reply_free(&r);
	/* a greeting is not complete until the last line: nothing may be sent before */
	assert_int_equal(feed_all(&r, RM_SMTP, NULL, partial), 0);
	assert_false(r.complete);
	reply_free(&r);
}

static void test_reply_imap_pop3(void **state)
{
	const char *caps_before[] = {"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED AUTH=GSSAPI", "C OK done", NULL};
	const char *caps_weak[] = {"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN", "C OK done", NULL};
	const char *wrong_tag[] = {"X OK done", NULL};
	const char *capa[] = {"+OK", "STLS", "SASL GSSAPI", ".", NULL};
	const char *capa_weak[] = {"+OK", "USER", "SASL PLAIN LOGIN", ".", NULL};
	const char *greet[] = {"* BYE too many connections", NULL};
	struct reply r;
	struct strlist caps = STRLIST_INIT;

	(void)state;
	assert_int_equal(feed_all(&r, RM_IMAP_TAGGED, "C", caps_before), 1);
	caps_from_reply(&r, PROTO_IMAP, &caps);
	assert_true(caps_has(&caps, "LOGINDISABLED"));
	assert_false(caps_plain_auth(&caps, PROTO_IMAP));
	sl_free(&caps);
	reply_free(&r);
	assert_int_equal(feed_all(&r, RM_IMAP_TAGGED, "C", caps_weak), 1);
	caps_from_reply(&r, PROTO_IMAP, &caps);
	assert_true(caps_plain_auth(&caps, PROTO_IMAP));
	sl_free(&caps);
	reply_free(&r);
	assert_int_equal(feed_all(&r, RM_IMAP_TAGGED, "C", wrong_tag), -1);
	reply_free(&r);
	assert_int_equal(feed_all(&r, RM_IMAP_GREETING, NULL, greet), 1);
	assert_int_equal(r.code, 0); /* BYE: refused, not OK */
	reply_free(&r);
	assert_int_equal(feed_all(&r, RM_POP3_MULTI, NULL, capa), 1);
	caps_from_reply(&r, PROTO_POP3, &caps);
	assert_true(caps_has(&caps, "STLS"));
	assert_false(caps_plain_auth(&caps, PROTO_POP3));
	sl_free(&caps);
	reply_free(&r);
	assert_int_equal(feed_all(&r, RM_POP3_MULTI, NULL, capa_weak), 1);
	caps_from_reply(&r, PROTO_POP3, &caps);
	assert_true(caps_plain_auth(&caps, PROTO_POP3));
	sl_free(&caps);
	reply_free(&r);
}

static void test_reply_limits(void **state)
{
	struct reply r = {0};
	struct error e;
	char *big = malloc(REPLY_MAX_LINE + 2);
	int rc = 0;
	size_t i;

	(void)state;
	memset(big, 'A', REPLY_MAX_LINE + 1);
	memcpy(big, "250 ", 4);
	assert_int_equal(reply_feed(&r, RM_SMTP, NULL, big, REPLY_MAX_LINE + 1, &e), -1);
	reply_free(&r);
	free(big);
	for (i = 0; i < 10000 && rc == 0; i++)
		rc = reply_feed(&r, RM_SMTP, NULL, "250-more", 8, &e);
	assert_int_equal(rc, -1);
	assert_true(i <= REPLY_MAX_LINES + 1);
	reply_free(&r);
}

/* ---------------------------------------------------------------- ServerHello parser */

static void test_sh_parse(void **state)
{
	/* TLS 1.2 ServerHello (ECDHE-RSA-AES128-GCM, renegotiation_info), SKE for
	 * x25519, ServerHelloDone; in two records */
	uint8_t rec[200];
	size_t n = 0, hs;
	struct server_hello sh;
	const uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46};
	const uint8_t garbage[] = "220 not tls at all\r\n";

	(void)state;
	rec[n++] = 0x16; rec[n++] = 3; rec[n++] = 3; rec[n++] = 0; rec[n++] = 0;
	hs = n;
	rec[n++] = 2; rec[n++] = 0; rec[n++] = 0; rec[n++] = 0;
	rec[n++] = 3; rec[n++] = 3;
	memset(rec + n, 0x11, 32); n += 32;
	rec[n++] = 0;               /* session id */
	rec[n++] = 0xC0; rec[n++] = 0x2F;
	rec[n++] = 0;               /* compression */
	rec[n++] = 0; rec[n++] = 5; /* extensions */
	rec[n++] = 0xff; rec[n++] = 0x01; rec[n++] = 0; rec[n++] = 1; rec[n++] = 0;
	rec[hs + 3] = (uint8_t)(n - hs - 4);
	rec[n++] = 12; rec[n++] = 0; rec[n++] = 0; rec[n++] = 4; /* SKE */
	rec[n++] = 3; rec[n++] = 0x00; rec[n++] = 0x1d; rec[n++] = 0;
	rec[3] = 0; rec[4] = (uint8_t)(n - 5);
	assert_int_equal(sh_parse(rec, n, &sh), SH_NEED_MORE); /* no ServerHelloDone yet */
	assert_int_equal(sh_parse(rec, n - 3, &sh), SH_NEED_MORE); /* truncated */
	/* second record: ServerHelloDone */
	rec[n++] = 0x16; rec[n++] = 3; rec[n++] = 3; rec[n++] = 0; rec[n++] = 4;
	rec[n++] = 14; rec[n++] = 0; rec[n++] = 0; rec[n++] = 0;
	assert_int_equal(sh_parse(rec, n, &sh), SH_DONE);
	assert_int_equal(sh.kind, SHK_HELLO);
	assert_int_equal(sh.version, V_TLS12);
	assert_int_equal(sh.cipher, 0xC02F);
	assert_true(sh.reneg_info);
	assert_int_equal(sh.group, 0x001d);
	assert_int_equal(sh_parse(alert, sizeof(alert), &sh), SH_DONE);
	assert_int_equal(sh.kind, SHK_ALERT);
	assert_int_equal(sh.alert_desc, 70);
	assert_int_equal(sh_parse(garbage, sizeof(garbage) - 1, &sh), SH_BAD);
}

static void test_suites_and_dh(void **state)
{
	bool rfc7919 = false;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	EVP_PKEY *pk = NULL;
	BIGNUM *p = NULL;
	unsigned char buf[512];
	int len;
	OSSL_PARAM params[] = {OSSL_PARAM_utf8_string("group", (char *)"ffdhe3072", 0), OSSL_PARAM_END};

	(void)state;
	assert_true(suite_flags(0x000A) & SUITE_3DES);
	assert_false(suite_flags(0x000A) & SUITE_FS);
	assert_true(suite_flags(0xC030) & SUITE_FS);
	assert_true(suite_flags(0xC030) & SUITE_AEAD);
	assert_true(suite_flags(0x0034) & SUITE_ANON);
	assert_true(suite_flags(0x0003) & SUITE_EXPORT);
	assert_true(suite_flags(0x1301) & SUITE_TLS13);
	assert_true(suite_flags(0x0031) & SUITE_STATIC_DH);
	assert_non_null(strstr(suite_weakness(suite_flags(0x0005)), "RC4"));
	assert_int_equal(EVP_PKEY_paramgen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_params(ctx, params), 1);
	assert_int_equal(EVP_PKEY_paramgen(ctx, &pk), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(pk, "p", &p), 1);
	len = BN_bn2bin(p, buf);
	assert_non_null(dh_known_name(buf, (size_t)len, &rfc7919));
	assert_true(rfc7919);
	buf[len - 1] ^= 2; /* any other prime is custom */
	assert_null(dh_known_name(buf, (size_t)len, &rfc7919));
	BN_free(p);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
}

/* ---------------------------------------------------------------- verdicts per role */

static bool has(const struct port_result *r, const char *id, enum severity sev)
{
	for (size_t i = 0; i < r->findings.n; i++)
		if (strcmp(r->findings.v[i].id, id) == 0 && r->findings.v[i].sev == sev)
			return true;
	return false;
}

static void weak_facts(struct port_result *r, enum role role)
{
	memset(r, 0, sizeof(*r));
	port_spec_from_role(&r->spec, role, "postfix");
	r->status = PORT_TESTED;
	r->scanned = true;
	r->mail.plain_done = true;
	r->mail.starttls_offered = true;
	r->mail.enforced = role == ROLE_MX ? -1 : 0;
	r->mail.enforce_reply = xstrdup("250 2.1.0 Ok");
	r->mail.injection = 0;
	r->scan.proto[SCAN_TLS10].version = V_TLS10;
	r->scan.proto[SCAN_TLS10].accepted = 1;
	r->scan.proto[SCAN_TLS10].suites[0] = 0x000A; /* 3DES */
	r->scan.proto[SCAN_TLS10].n_suites = 1;
	r->scan.proto[SCAN_TLS12].version = V_TLS12;
	r->scan.proto[SCAN_TLS12].accepted = 1;
	r->scan.proto[SCAN_TLS12].suites[0] = 0xC02F;
	r->scan.proto[SCAN_TLS12].n_suites = 1;
	r->scan.secure_reneg = 1;
	r->scan.compression = 0;
}

static void test_judge_roles(void **state)
{
	struct selftest_opts o = {.host = "mail.example", .profile = profile_by_name("intermediate")};
	struct port_result mx, sub;

	(void)state;
	weak_facts(&mx, ROLE_MX);
	selftest_judge(&o, &mx);
	/* port 25: weak-but-TLS is not a failure */
	assert_true(has(&mx, "tls.protocol.TLSv1.0", SEV_INFO));
	assert_true(has(&mx, "tls.suites.3des", SEV_INFO));
	assert_int_equal(selftest_exit_code(&mx, 1), 0);
	weak_facts(&sub, ROLE_SUBMISSION);
	selftest_judge(&o, &sub);
	assert_true(has(&sub, "tls.protocol.TLSv1.0", SEV_HIGH));
	assert_true(has(&sub, "tls.suites.3des", SEV_HIGH));
	assert_true(has(&sub, "mail.tls_not_enforced", SEV_HIGH));
	assert_int_equal(selftest_exit_code(&sub, 1), 1);
	sub.mail.auth_before_tls = true;
	findings_free(&sub.findings);
	selftest_judge(&o, &sub);
	assert_true(has(&sub, "mail.auth_before_tls", SEV_CRITICAL));
	assert_int_equal(selftest_exit_code(&sub, 1), 2);
	/* no STARTTLS: a failure on port 25 too */
	mx.mail.starttls_offered = false;
	mx.scanned = false;
	findings_free(&mx.findings);
	selftest_judge(&o, &mx);
	assert_true(has(&mx, "mail.starttls.missing", SEV_CRITICAL));
	port_result_free(&mx);
	port_result_free(&sub);
}

/* ---------------------------------------------------------------- a real TLS server */

static SSL_CTX *server_ctx_key(EVP_PKEY *pk);

static SSL_CTX *server_ctx(void)
{
	return server_ctx_key(EVP_EC_gen("P-256"));
}

static SSL_CTX *server_ctx_key(EVP_PKEY *pk)
{
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_sign(x, pk, EVP_sha256());
	SSL_CTX_use_certificate(ctx, x);
	SSL_CTX_use_PrivateKey(ctx, pk);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	X509_free(x);
	EVP_PKEY_free(pk);
	return ctx;
}

struct srv {
	int lfd;
	int port;
	SSL_CTX *ctx;
	bool smtp;        /* STARTTLS dialogue first */
	bool vulnerable;  /* keeps plaintext read before TLS and executes it inside */
	bool late;        /* ... but only once the client sends its next line */
	int stall_first_ms; /* the first connection gets its answer this late */
	bool stall_all;   /* never answers */
	int conns;
};

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	listen(fd, 16);
	getsockname(fd, (struct sockaddr *)&a, &l);
	*port = ntohs(a.sin_port);
	return fd;
}

static void put(int fd, SSL *ssl, const char *s)
{
	if (ssl)
		SSL_write(ssl, s, (int)strlen(s));
	else
		(void)!write(fd, s, strlen(s));
}

/* A line-at-a-time SMTP server whose input buffer survives STARTTLS when
 * vulnerable: exactly the CVE-2011-0411 bug. */
static void serve_smtp(struct srv *s, int fd)
{
	char buf[4096];
	size_t len = 0;
	SSL *ssl = NULL;
	bool hold = false;

	put(fd, NULL, "220 test ESMTP\r\n");
	for (;;) {
		char *nl;
		int n;

		while ((nl = memchr(buf, '\n', len)) == NULL || hold) {
			n = ssl ? SSL_read(ssl, buf + len, (int)(sizeof(buf) - len)) : (int)read(fd, buf + len, sizeof(buf) - len);
			if (n <= 0)
				goto out;
			len += (size_t)n;
			hold = false;
		}
		*nl = '\0';
		if (strncmp(buf, "EHLO", 4) == 0)
			put(fd, ssl, ssl ? "250-test\r\n250 AUTH PLAIN\r\n" : "250-test\r\n250 STARTTLS\r\n");
		else if (strncmp(buf, "STARTTLS", 8) == 0) {
			put(fd, NULL, "220 go ahead\r\n");
			memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf));
			len -= (size_t)(nl + 1 - buf);
			if (!s->vulnerable)
				len = 0;
			hold = s->late && len > 0;
			ssl = SSL_new(s->ctx);
			SSL_set_fd(ssl, fd);
			if (SSL_accept(ssl) != 1)
				goto out;
			continue;
		} else if (strncmp(buf, "QUIT", 4) == 0) {
			put(fd, ssl, "221 bye\r\n");
			/* close only after the client did: closing with its data
			 * unread would reset the connection before it read 221 */
			if (ssl)
				SSL_shutdown(ssl);
			while (read(fd, buf, sizeof(buf)) > 0)
				;
			goto out;
		} else
			put(fd, ssl, "250 ok\r\n");
		memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf));
		len -= (size_t)(nl + 1 - buf);
	}
out:
	SSL_free(ssl);
}

static void *server_main(void *arg)
{
	struct srv *s = arg;
	int fd;

	while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
		s->conns++;
		if (s->stall_all || (s->conns == 1 && s->stall_first_ms > 0)) {
			char b[2048];
			struct pollfd p = {fd, POLLIN, 0};

			/* read the hello but answer late (or never): a loaded server */
			(void)!read(fd, b, sizeof(b));
			if (s->stall_all) {
				while (poll(&p, 1, 5000) > 0 && read(fd, b, sizeof(b)) > 0)
					;
				close(fd);
				continue;
			}
			usleep((useconds_t)s->stall_first_ms * 1000);
		}
		if (s->smtp) {
			serve_smtp(s, fd);
		} else {
			SSL *ssl = SSL_new(s->ctx);

			SSL_set_fd(ssl, fd);
			SSL_accept(ssl);
			SSL_free(ssl);
		}
		close(fd);
	}
	return NULL;
}

static void start(struct srv *s, pthread_t *th)
{
	if (s->ctx == NULL)
		s->ctx = server_ctx();
	s->lfd = listen_any(&s->port);
	pthread_create(th, NULL, server_main, s);
}

static void stop(struct srv *s, pthread_t th)
{
	shutdown(s->lfd, SHUT_RDWR);
	close(s->lfd);
	pthread_join(th, NULL);
	SSL_CTX_free(s->ctx);
}

static void test_scan_real_tls(void **state)
{
	struct srv s = {0};
	pthread_t th;
	struct target t = {.host = (char *)"127.0.0.1", .proto = PROTO_IMAP, .implicit_tls = true, .timeout_ms = 3000};
	struct tls_scan scan;
	struct error e;

	(void)state;
	start(&s, &th);
	t.port = s.port;
	assert_int_equal(tls_scan_run(&t, &scan, &e), 0);
	stop(&s, th);
	assert_int_equal(scan.proto[SCAN_TLS11].accepted, 0);
	assert_int_equal(scan.proto[SCAN_SSL3].accepted, 0);
	assert_int_equal(scan.proto[SCAN_SSL2].accepted, 0);
	assert_int_equal(scan.proto[SCAN_TLS12].accepted, 1);
	assert_int_equal(scan.proto[SCAN_TLS13].accepted, 1);
	/* OpenSSL's default TLS 1.3 suites, found through HelloRetryRequests */
	assert_int_equal(scan.proto[SCAN_TLS13].n_suites, 3);
	/* an ECDSA key: only ECDHE-ECDSA suites for TLS 1.2 */
	for (size_t i = 0; i < scan.proto[SCAN_TLS12].n_suites; i++)
		assert_non_null(strstr(suite_by_code(scan.proto[SCAN_TLS12].suites[i])->name, "ECDSA"));
	assert_true(scan.n_groups >= 3);
	assert_int_equal(scan.secure_reneg, 1);
	assert_int_equal(scan.compression, 0);
	assert_int_equal(scan.errors, 0);
	assert_int_equal((int)scan.connections, s.conns);
}

/* The stalled first answer comes within the retry's longer deadline: the
 * scan equals an unstalled one and nothing is a gap. */
static void test_scan_timeout_retried(void **state)
{
	struct srv s = {.stall_first_ms = 900};
	pthread_t th;
	struct target t = {.host = (char *)"127.0.0.1", .proto = PROTO_IMAP, .implicit_tls = true, .timeout_ms = 500};
	static struct tls_scan scan;
	struct error e;

	(void)state;
	start(&s, &th);
	t.port = s.port;
	assert_int_equal(tls_scan_run(&t, &scan, &e), 0);
	stop(&s, th);
	assert_int_equal(scan.gaps.n, 0);
	assert_int_equal(scan.proto[SCAN_TLS13].accepted, 1);
	assert_int_equal(scan.proto[SCAN_TLS13].n_suites, 3);
	assert_int_equal(scan.proto[SCAN_TLS12].accepted, 1);
}

/* A server that never answers: every item a gap, no version "refused",
 * and the scan stops waiting after the first double timeout. */
static void test_scan_timeout_gap(void **state)
{
	struct srv s = {.stall_all = true};
	pthread_t th;
	struct target t = {.host = (char *)"127.0.0.1", .proto = PROTO_IMAP, .implicit_tls = true, .timeout_ms = 300};
	static struct tls_scan scan;
	struct error e;
	struct port_result r;
	struct selftest_opts o = {.host = "127.0.0.1", .profile = profile_by_name("intermediate")};

	(void)state;
	start(&s, &th);
	t.port = s.port;
	assert_int_equal(tls_scan_run(&t, &scan, &e), 0);
	stop(&s, th);
	assert_true(s.conns <= 3);
	assert_true(scan.gaps.n >= 5);
	for (int i = SCAN_SSL3; i <= SCAN_TLS13; i++)
		assert_int_equal(scan.proto[i].accepted, -1);
	/* judged: no protocol finding, exit 3 */
	memset(&r, 0, sizeof(r));
	port_result_free(&r);
	memset(&r, 0, sizeof(r));
	port_spec_from_role(&r.spec, ROLE_IMAPS, "dovecot");
	r.status = PORT_TESTED;
	r.scanned = true;
	r.scan = scan;
	selftest_judge(&o, &r);
	for (size_t i = 0; i < r.findings.n; i++)
		assert_int_equal(strncmp(r.findings.v[i].id, "tls.protocol", 12) == 0 && r.findings.v[i].sev > SEV_OK, 0);
	assert_int_equal(selftest_exit_code(&r, 1), 3);
	{
		/* monitoring agrees: UNKNOWN, naming what could not be tested */
		char *line = selftest_report_nagios(&o, &r, 1);

		assert_non_null(strstr(line, "MAILHARDEN UNKNOWN"));
		assert_non_null(strstr(line, "could not test TLSv1.3"));
		free(line);
	}
	port_result_free(&r);
}

/* No DH parameters, a DH callback that returns none: the server picks a
 * DHE suite and fails the handshake.  The suites behind it are found. */
static DH *no_dh(SSL *ssl, int is_export, int keylength)
{
	(void)ssl;
	(void)is_export;
	(void)keylength;
	return NULL;
}

static void poison_case(bool server_order)
{
	struct srv s = {0};
	pthread_t th;
	struct target t = {.host = (char *)"127.0.0.1", .proto = PROTO_IMAP, .implicit_tls = true, .timeout_ms = 3000};
	static struct tls_scan scan;
	struct error e;
	const struct proto_scan *ps = &scan.proto[SCAN_TLS12];
	bool aes = false, ecdhe = false;

	s.ctx = server_ctx_key(EVP_RSA_gen(2048));
	SSL_CTX_set_max_proto_version(s.ctx, TLS1_2_VERSION);
	SSL_CTX_set_cipher_list(s.ctx, "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:AES128-SHA:"
				       "DHE-RSA-AES128-SHA:ECDHE-RSA-AES128-GCM-SHA256");
	SSL_CTX_set_tmp_dh_callback(s.ctx, no_dh);
	if (server_order)
		SSL_CTX_set_options(s.ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	start(&s, &th);
	t.port = s.port;
	assert_int_equal(tls_scan_run(&t, &scan, &e), 0);
	stop(&s, th);
	assert_int_equal(ps->accepted, 1);
	for (size_t i = 0; i < ps->n_suites; i++) {
		aes |= ps->suites[i] == 0x002F;
		ecdhe |= ps->suites[i] == 0xC02F;
		assert_false(suite_flags(ps->suites[i]) & SUITE_DHE);
	}
	assert_true(aes);
	assert_true(ecdhe);
	assert_int_equal(ps->n_suites, 2);
	assert_int_equal(scan.gaps.n, 0);
}

static void test_scan_dhe_without_params(void **state)
{
	(void)state;
	poison_case(true);
	poison_case(false);
}

/* Against the same server N times: the verdict never changes. */
static void injection_runs(struct srv *s, int runs, int want)
{
	pthread_t th;
	struct target t = {.host = (char *)"127.0.0.1", .proto = PROTO_SMTP, .timeout_ms = 3000};
	struct error e;
	SSL_CTX *ctx = probe_ctx_new(NULL, &e);
	int right = 0;

	s->smtp = true;
	start(s, &th);
	t.port = s->port;
	for (int i = 0; i < runs; i++) {
		struct mail_facts m = {.tls_done = true};

		if (mail_check_injection(&t, ctx, &m, &e) == 0 && m.injection == want)
			right++;
		else
			print_message("run %d: injection %d (%s)\n", i, m.injection, m.injection_note ? m.injection_note : e.msg);
		mail_facts_free(&m);
	}
	stop(s, th);
	SSL_CTX_free(ctx);
	assert_int_equal(right, runs);
}

static void test_injection(void **state)
{
	struct srv vulnerable = {.vulnerable = true}, late = {.vulnerable = true, .late = true}, fixed = {0};

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	injection_runs(&vulnerable, 20, 1);
	/* answers the injected NOOP only when our own command arrives: the
	 * order of the answers still tells */
	injection_runs(&late, 5, 1);
	injection_runs(&fixed, 20, 0);
}

/* ---------------------------------------------------------------- Heartbleed */

/* A raw TLS 1.2 "server" that answers every ClientHello with a ServerHello
 * (TLS_RSA_WITH_AES_128_CBC_SHA, heartbeat extension) and ServerHelloDone,
 * then answers heartbeat requests: trusting the claimed length (leaking
 * 16 KiB) when vulnerable, correctly otherwise. */
struct hb_srv {
	int lfd;
	int port;
	bool vulnerable;
};

static void hb_serve(struct hb_srv *s, int fd)
{
	static const uint8_t flight[] = {
		0x16, 0x03, 0x03, 0x00, 0x3A,
		0x02, 0x00, 0x00, 0x32, 0x03, 0x03,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
		0x00, 0x00, 0x2F, 0x00,
		0x00, 0x0a, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0f, 0x00, 0x01, 0x01,
		0x0e, 0x00, 0x00, 0x00,
	};
	static uint8_t big[5 + 3 + 16384 + 16];
	uint8_t buf[20000];
	size_t len = 0;
	ssize_t n;

	if (read(fd, buf, sizeof(buf)) <= 0)
		return;
	(void)!write(fd, flight, sizeof(flight));
	while ((n = read(fd, buf + len, sizeof(buf) - len)) > 0) {
		len += (size_t)n;
		while (len >= 5) {
			size_t rl = ((size_t)buf[3] << 8) | buf[4], claimed;

			if (len < 5 + rl)
				break;
			claimed = rl >= 3 ? ((size_t)buf[6] << 8) | buf[7] : 0;
			if (buf[0] == 0x18 && s->vulnerable) {
				big[0] = 0x18, big[1] = 3, big[2] = 3;
				big[3] = (uint8_t)((3 + claimed + 16) >> 8), big[4] = (uint8_t)(3 + claimed + 16);
				big[5] = 2, big[6] = buf[6], big[7] = buf[7];
				(void)!write(fd, big, 5 + 3 + claimed + 16);
			} else if (buf[0] == 0x18 && claimed + 3 + 16 <= rl) {
				buf[5] = 2; /* response: the same payload back */
				(void)!write(fd, buf, 5 + rl);
			}
			memmove(buf, buf + 5 + rl, len - 5 - rl);
			len -= 5 + rl;
		}
	}
}

static void *hb_main(void *arg)
{
	struct hb_srv *s = arg;
	int fd;

	while ((fd = accept(s->lfd, NULL, NULL)) >= 0) {
		hb_serve(s, fd);
		close(fd);
	}
	return NULL;
}

static void heartbleed_case(bool vulnerable)
{
	struct hb_srv s = {.vulnerable = vulnerable};
	pthread_t th;
	struct target t = {.host = (char *)"127.0.0.1", .proto = PROTO_IMAP, .implicit_tls = true, .timeout_ms = 2000};
	static struct tls_scan scan;
	struct error e;

	s.lfd = listen_any(&s.port);
	pthread_create(&th, NULL, hb_main, &s);
	t.port = s.port;
	assert_int_equal(tls_scan_run(&t, &scan, &e), 0);
	shutdown(s.lfd, SHUT_RDWR);
	close(s.lfd);
	pthread_join(th, NULL);
	assert_int_equal(scan.proto[SCAN_TLS12].accepted, 1);
	assert_true(scan.heartbeat);
	assert_int_equal(scan.heartbleed, vulnerable ? 1 : 0);
}

static void test_heartbleed(void **state)
{
	(void)state;
	heartbleed_case(true);
	heartbleed_case(false);
}

/* keyUsage without digitalSignature on a certificate used for ECDHE and
 * TLS 1.3: clients that check the purpose refuse it. */
static void test_key_usage(void **state)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	struct srv s = {0};
	pthread_t th;
	struct target t = {.host = (char *)"127.0.0.1", .proto = PROTO_IMAP, .implicit_tls = true, .timeout_ms = 3000};
	struct mail_facts m = {0};
	struct error e;
	SSL_CTX *ctx = probe_ctx_new(NULL, &e);
	struct port_result r;
	struct selftest_opts o = {.host = "127.0.0.1", .profile = profile_by_name("intermediate")};

	(void)state;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 2);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, pk);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyAgreement");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, pk, EVP_sha256());
	s.ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(s.ctx, x);
	SSL_CTX_use_PrivateKey(s.ctx, pk);
	start(&s, &th);
	t.port = s.port;
	memset(&r, 0, sizeof(r));
	assert_int_equal(mail_check_tls(&t, ctx, &m, &r.cert, &e), -1); /* no IMAP greeting: fine */
	stop(&s, th);
	assert_true(r.cert.have);
	assert_int_equal(r.cert.key_usage_ok, 0);
	port_spec_from_role(&r.spec, ROLE_IMAPS, "dovecot");
	r.status = PORT_TESTED;
	selftest_judge(&o, &r);
	assert_true(has(&r, "cert.key_usage", SEV_HIGH));
	port_result_free(&r);
	mail_facts_free(&m);
	SSL_CTX_free(ctx);
	X509_free(x);
	EVP_PKEY_free(pk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_smtp),
		cmocka_unit_test(test_reply_imap_pop3),
		cmocka_unit_test(test_reply_limits),
		cmocka_unit_test(test_sh_parse),
		cmocka_unit_test(test_suites_and_dh),
		cmocka_unit_test(test_judge_roles),
		cmocka_unit_test(test_scan_real_tls),
		cmocka_unit_test(test_injection),
		cmocka_unit_test(test_scan_timeout_retried),
		cmocka_unit_test(test_scan_timeout_gap),
		cmocka_unit_test(test_scan_dhe_without_params),
		cmocka_unit_test(test_heartbleed),
		cmocka_unit_test(test_key_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
