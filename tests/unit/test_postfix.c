/*
 * test_postfix.c - main.cf/master.cf editors and the Postfix backend's plan.
 */
#include "../../core/common.h"
#include "testutil.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "../../backends/backend.h"
#include "../../backends/postfix_cf.h"
#include "../../core/env.h"
#include "../../core/profile.h"

extern const struct backend postfix_backend;

/* ------------------------------------------------------------------ */
/* helpers                                                             */
/* ------------------------------------------------------------------ */

static char fixture_dir[PATH_MAX];

/* The fixtures next to this source file, found from the cwd (make runs
 * from the top) or from the binary in build/san/tests. */
static const char *fixtures(void)
{
	static const char *const tries[] = {
		"tests/unit/fixtures/postfix", "../../../tests/unit/fixtures/postfix",
	};
	char exe[PATH_MAX - 64];
	ssize_t n;

	if (fixture_dir[0])
		return fixture_dir;
	if (access(tries[0], R_OK) == 0) {
		snprintf(fixture_dir, sizeof(fixture_dir), "%s", tries[0]);
		return fixture_dir;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(fixture_dir, sizeof(fixture_dir), "%s/%s", exe, tries[1]);
	assert_int_equal(access(fixture_dir, R_OK), 0);
	return fixture_dir;
}

static char *fixture(const char *rel)
{
	char *s = tu_read(fixtures(), rel);

	assert_non_null(s);
	return s;
}

static struct cf_file *main_of(const char *text)
{
	struct cf_file *f = NULL;
	struct error e = {{0}};

	if (maincf_parse("main.cf", text, strlen(text), &f, &e) < 0)
		fail_msg("parse: %s", e.msg);
	return f;
}

static struct cf_file *master_of(const char *text)
{
	struct cf_file *f = NULL;
	struct error e = {{0}};

	if (mastercf_parse("master.cf", text, strlen(text), &f, &e) < 0)
		fail_msg("parse: %s", e.msg);
	return f;
}

static void assert_text(const struct cf_file *f, const char *want)
{
	size_t len;
	char *got = cf_text(f, &len);

	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	free(got);
}

static void assert_roundtrip(const char *text, size_t len, bool master)
{
	struct cf_file *f = NULL;
	struct error e = {{0}};
	size_t out_len;
	char *out;
	int rc = master ? mastercf_parse("x", text, len, &f, &e) : maincf_parse("x", text, len, &f, &e);

	if (rc < 0)
		fail_msg("parse: %s", e.msg);
	out = cf_text(f, &out_len);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, text, len);
	free(out);
	cf_free(f);
}

/* ------------------------------------------------------------------ */
/* round trip                                                          */
/* ------------------------------------------------------------------ */

static void test_roundtrip_fixtures(void **state)
{
	char *m = fixture("debian/etc/postfix/main.cf");
	char *s = fixture("debian/etc/postfix/master.cf");

	(void)state;
	assert_roundtrip(m, strlen(m), false);
	assert_roundtrip(s, strlen(s), true);
	free(m);
	free(s);
}

static void test_roundtrip_odd(void **state)
{
	static const char *const mains[] = {
		"",
		"\n\n",
		"# only a comment",
		"a = b",                                   /* no final newline */
		"a=b\r\nc =  d \r\n\r\n#x\r\n",            /* CRLF */
		"a\t=\tb\n\tc\n  # c\n   d\n\nnext = 1\n", /* tabs, comment inside */
		"a = b\n  c",                              /* continuation, no newline */
		"x = \n",                                  /* empty value */
		"  \n\t\n# indented blank lines\n",
	};
	static const char *const masters[] = {
		"",
		"smtp inet n - y - - smtpd",
		"smtp\tinet\tn\t-\ty\t-\t-\tsmtpd\r\n  -o a=b\r\n",
		"x unix - - n - - pipe\n  flags=R user=u argv=/bin/x ${a}\n#c\n",
		"s inet n - n - - smtpd -o { a = b c } -o x=y\n",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(mains); i++)
		assert_roundtrip(mains[i], strlen(mains[i]), false);
	for (size_t i = 0; i < ARRAY_LEN(masters); i++)
		assert_roundtrip(masters[i], strlen(masters[i]), true);
}

/* ------------------------------------------------------------------ */
/* main.cf                                                             */
/* ------------------------------------------------------------------ */

static void test_main_get(void **state)
{
	char *m = fixture("debian/etc/postfix/main.cf");
	struct cf_file *f = main_of(m);

	(void)state;
	assert_string_equal(maincf_get(f, "myhostname"), "mail.example.test");
	assert_string_equal(maincf_get(f, "smtpd_relay_restrictions"),
			    "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination");
	assert_string_equal(maincf_get(f, "relayhost"), "");
	assert_null(maincf_get(f, "smtpd_tls_chain_files"));
	cf_free(f);
	f = main_of("a = 1\n#a = 2\na = 3\n  more\nb = 4\n");
	assert_string_equal(maincf_get(f, "a"), "3 more");
	cf_free(f);
	free(m);
}

static void test_main_set_in_place(void **state)
{
	struct cf_file *f = main_of("x = 1\na = old\n  cont\n# keep\nz = 2");

	(void)state;
	assert_int_equal(maincf_set(f, "a", "new"), 1);
	assert_text(f, "x = 1\na = new\n# keep\nz = 2");
	/* same value: nothing changes, spacing kept */
	assert_int_equal(maincf_set(f, "x", "1"), 0);
	assert_int_equal(maincf_set(f, "z", " 2 "), 0);
	assert_text(f, "x = 1\na = new\n# keep\nz = 2");
	/* last line without newline gets replaced without adding one */
	assert_int_equal(maincf_set(f, "z", "3"), 1);
	assert_text(f, "x = 1\na = new\n# keep\nz = 3");
	cf_free(f);

	f = main_of("a=b, c\n");
	assert_int_equal(maincf_set(f, "a", "b,  c"), 0);
	assert_text(f, "a=b, c\n");
	cf_free(f);
}

static void test_main_set_duplicates(void **state)
{
	struct cf_file *f = main_of("a = 1\n  x\nb = 2\na = 3\n");

	(void)state;
	assert_int_equal(maincf_set(f, "a", "9"), 1);
	assert_text(f, "# a = 1\n#   x\nb = 2\na = 9\n");
	assert_string_equal(maincf_get(f, "a"), "9");
	assert_int_equal(maincf_set(f, "a", "9"), 0);
	cf_free(f);
}

static void test_main_append_header_once(void **state)
{
	struct cf_file *f = main_of("a = 1");

	(void)state;
	assert_int_equal(maincf_set(f, "b", "2"), 1);
	assert_int_equal(maincf_set(f, "c", "3"), 1);
	assert_text(f, "a = 1\n\n" MAINCF_HEADER "\nb = 2\nc = 3\n");
	cf_free(f);

	f = main_of("a = 1\r\n\r\n");
	maincf_set(f, "b", "2");
	assert_text(f, "a = 1\r\n\r\n" MAINCF_HEADER "\r\nb = 2\r\n");
	cf_free(f);

	f = main_of("");
	maincf_set(f, "b", "2");
	assert_text(f, MAINCF_HEADER "\nb = 2\n");
	cf_free(f);
}

static void test_main_comment_out(void **state)
{
	struct cf_file *f = main_of("a = 1\nb = 2\n\tmore\na = 3\n");

	(void)state;
	assert_int_equal(maincf_comment_out(f, "b"), 1);
	assert_int_equal(maincf_comment_out(f, "a"), 2);
	assert_int_equal(maincf_comment_out(f, "nothing"), 0);
	assert_text(f, "# a = 1\n# b = 2\n# \tmore\n# a = 3\n");
	assert_null(maincf_get(f, "a"));
	assert_int_equal(maincf_comment_out(f, "a"), 0);
	cf_free(f);
}

/* ------------------------------------------------------------------ */
/* master.cf                                                           */
/* ------------------------------------------------------------------ */

static void test_service_port(void **state)
{
	(void)state;
	assert_int_equal(service_port("smtp"), 25);
	assert_int_equal(service_port("submission"), 587);
	assert_int_equal(service_port("submissions"), 465);
	assert_int_equal(service_port("smtps"), 465);
	assert_int_equal(service_port("465"), 465);
	assert_int_equal(service_port("127.0.0.1:2525"), 2525);
	assert_int_equal(service_port("127.0.0.1:submission"), 587);
	assert_int_equal(service_port("[::1]:587"), 587);
	assert_int_equal(service_port("pickup"), -1);
	assert_int_equal(service_port("99999999"), -1);
}

static void test_master_find_and_options(void **state)
{
	char *s = fixture("debian/etc/postfix/master.cf");
	struct cf_file *f = master_of(s);
	int smtp, relay;

	(void)state;
	smtp = mastercf_find_port(f, 0, 25, "smtpd");
	assert_true(smtp >= 0);
	assert_string_equal(mastercf_field(f, (size_t)smtp, MF_CHROOT), "y");
	assert_int_equal(mastercf_find_port(f, 0, 587, NULL), -1);
	assert_int_equal(mastercf_find_port(f, 0, 25, "postscreen"), -1);
	relay = (int)mastercf_count(f) - 3;
	assert_string_equal(mastercf_field(f, (size_t)relay, MF_SERVICE), "relay");
	assert_string_equal(mastercf_option(f, (size_t)relay, "syslog_name"), "postfix/$service_name");
	assert_null(mastercf_option(f, (size_t)smtp, "syslog_name"));
	cf_free(f);
	free(s);
}

static void test_master_set_option(void **state)
{
	struct cf_file *f = master_of("a inet n - y - - smtpd\n    -o x=1\n#  -o y=0\n    -o x=2\n"
				      "b unix - - n - - smtp\n");

	(void)state;
	/* duplicate removed, last replaced, indentation copied */
	assert_int_equal(mastercf_set_option(f, 0, "x", "3"), 1);
	assert_text(f, "a inet n - y - - smtpd\n#  -o y=0\n    -o x=3\n"
		       "b unix - - n - - smtp\n");
	assert_int_equal(mastercf_set_option(f, 0, "y", "4"), 1);
	assert_text(f, "a inet n - y - - smtpd\n#  -o y=0\n    -o x=3\n    -o y=4\n"
		       "b unix - - n - - smtp\n");
	assert_int_equal(mastercf_set_option(f, 0, "y", "4"), 0);
	assert_int_equal(mastercf_set_option(f, 1, "z", "5"), 1);
	assert_text(f, "a inet n - y - - smtpd\n#  -o y=0\n    -o x=3\n    -o y=4\n"
		       "b unix - - n - - smtp\n  -o z=5\n");
	assert_string_equal(mastercf_option(f, 1, "z"), "5");
	cf_free(f);

	/* options on the entry line: rewritten one per line */
	f = master_of("s inet n - n - - smtpd -o a=1 -o { b = x y } -v");
	assert_int_equal(mastercf_set_option(f, 0, "a", "2"), 1);
	assert_text(f, "s inet n - n - - smtpd\n  -o a=2\n  -o { b = x y }\n  -v");
	assert_string_equal(mastercf_option(f, 0, "b"), "x y");
	assert_int_equal(mastercf_set_option(f, 0, "b", "x y"), 0);
	cf_free(f);
}

static void test_master_set_field(void **state)
{
	struct cf_file *f = master_of("smtp      inet  n       -       y       -       -       smtpd\n");

	(void)state;
	assert_int_equal(mastercf_set_field(f, 0, MF_CHROOT, "y"), 0);
	assert_int_equal(mastercf_set_field(f, 0, MF_CHROOT, "n"), 1);
	assert_text(f, "smtp      inet  n       -       n       -       -       smtpd\n");
	cf_free(f);
}

static bool keep_mua(const char *name, void *ctx)
{
	(void)ctx;
	return strncmp(name, "mua_", 4) == 0;
}

static void test_master_uncomment(void **state)
{
	char *s = fixture("debian/etc/postfix/master.cf");
	struct cf_file *f = master_of(s);
	int line, entry;
	char *text;

	(void)state;
	line = mastercf_find_commented(f, 587, "smtpd");
	/* 0-based physical line; "submission" wins over "127.0.0.1:submission" */
	assert_int_equal(line, 12);
	assert_int_equal(mastercf_find_commented(f, 465, "smtpd"), 21);
	assert_int_equal(mastercf_find_commented(f, 25, "postscreen"), 8);
	assert_int_equal(mastercf_find_commented(f, 2525, "smtpd"), -1);
	entry = mastercf_uncomment(f, (size_t)line, keep_mua, NULL);
	assert_true(entry >= 0);
	assert_string_equal(mastercf_field(f, (size_t)entry, MF_SERVICE), "submission");
	assert_string_equal(mastercf_option(f, (size_t)entry, "smtpd_tls_security_level"), "encrypt");
	assert_string_equal(mastercf_option(f, (size_t)entry, "milter_macro_daemon_name"),
			    "ORIGINATING");
	assert_null(mastercf_option(f, (size_t)entry, "smtpd_client_restrictions"));
	assert_int_equal(mastercf_find_port(f, 0, 587, "smtpd"), entry);
	text = cf_text(f, NULL);
	assert_non_null(strstr(text, "\nsubmission inet n       -       y       -       -       smtpd\n"
				     "  -o syslog_name=postfix/submission\n"));
	assert_non_null(strstr(text, "\n#127.0.0.1:submission inet"));
	assert_non_null(strstr(text, "\n  -o smtpd_sasl_auth_enable=yes\n"
				     "#     A prose remark inside the block: it must stay a comment,\n"
				     "#     or smtpd would get these words as arguments.\n"
				     "#  -o smtpd_client_restrictions=$mua_client_restrictions\n"
				     "  -o smtpd_relay_restrictions="));
	assert_int_equal(mastercf_count(f), 12);
	assert_int_equal(strcmp(mastercf_field(f, (size_t)entry + 1, MF_SERVICE), "pickup"), 0);
	/* the smtps block below is still commented */
	assert_non_null(strstr(text, "\n#smtps     inet"));
	free(text);
	cf_free(f);
	free(s);
}

static void test_master_add(void **state)
{
	struct cf_file *f = master_of("a unix - - n - - x\n  -o b=c");
	const char *fields[MF_COUNT] = {"submissions", "inet", "n", "-", "y", "-", "-", "smtpd"};

	(void)state;
	assert_int_equal(mastercf_add(f, fields), 1);
	assert_text(f, "a unix - - n - - x\n  -o b=c\n"
		       "submissions inet  n       -       y       -       -       smtpd\n");
	assert_int_equal(mastercf_find_port(f, 0, 465, "smtpd"), 1);
	cf_free(f);

	/* next to the existing network services */
	f = master_of("smtp inet n - y - - smtpd\n  -o x=1\n#c\npickup unix n - y 60 1 pickup\n");
	assert_int_equal(mastercf_add(f, fields), 1);
	assert_text(f, "smtp inet n - y - - smtpd\n  -o x=1\n"
		       "submissions inet  n       -       y       -       -       smtpd\n"
		       "#c\npickup unix n - y 60 1 pickup\n");
	cf_free(f);
}

/* ------------------------------------------------------------------ */
/* broken files                                                        */
/* ------------------------------------------------------------------ */

static void assert_parse_error(bool master, const char *text, size_t len, const char *want)
{
	struct cf_file *f = NULL;
	struct error e = {{0}};
	int rc = master ? mastercf_parse("/etc/postfix/x.cf", text, len, &f, &e)
			: maincf_parse("/etc/postfix/x.cf", text, len, &f, &e);

	assert_int_equal(rc, -1);
	assert_null(f);
	if (strstr(e.msg, want) == NULL)
		fail_msg("error '%s' lacks '%s'", e.msg, want);
	assert_null(strchr(e.msg, '\n'));
}

static void test_broken(void **state)
{
	(void)state;
	assert_parse_error(false, "  a = b\n", 8, "/etc/postfix/x.cf:1:");
	assert_parse_error(false, "# c\n\n\tx\n", 7, "/etc/postfix/x.cf:3:");
	assert_parse_error(false, "a = b\nnovalue\n", 14, "/etc/postfix/x.cf:2:");
	assert_parse_error(false, "a = b\nc = \0d\n", 12, "/etc/postfix/x.cf:2: ");
	assert_parse_error(false, "bad name = x\n", 13, "/etc/postfix/x.cf:1:");
	assert_parse_error(true, "# c\nsmtp inet n - y smtpd\n", 26, "/etc/postfix/x.cf:2:");
	assert_parse_error(true, "   -o x=y\n", 10, "/etc/postfix/x.cf:1:");
	assert_parse_error(true, "a inet n - n - - smtpd -o { x = y\n", 34, "/etc/postfix/x.cf:1:");
}

/* ------------------------------------------------------------------ */
/* backend: detect and plan on a temporary root                        */
/* ------------------------------------------------------------------ */

struct lab {
	char *root;
	struct env env;
	struct server_info si;
};

static void lab_write(struct lab *l, const char *rel, const char *text)
{
	tu_write(l->root, rel, text);
}

static void lab_fixture(struct lab *l, const char *name)
{
	static const char *const files[] = {
		"etc/postfix/main.cf", "etc/postfix/master.cf", "etc/debian_version",
	};

	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		char rel[256], *t;

		snprintf(rel, sizeof(rel), "%s/%s", name, files[i]);
		t = fixture(rel);
		lab_write(l, files[i], t);
		free(t);
	}
}

static struct lab *lab_new(const char *fixture_name, const char *version)
{
	struct lab *l = calloc(1, sizeof(*l));
	struct error e = {{0}};
	char spec[64];

	l->root = tu_mkdtemp();
	if (fixture_name)
		lab_fixture(l, fixture_name);
	assert_int_equal(env_init(&l->env, l->root, &e), 0);
	/* what the host has installed must not matter */
	l->env.no_host_tools = true;
	snprintf(spec, sizeof(spec), "postfix=%s", version);
	assert_int_equal(env_add_override(&l->env, spec, &e), 0);
	assert_int_equal(env_add_override(&l->env, "openssl=3.0.13", &e), 0);
	return l;
}

static void lab_detect(struct lab *l)
{
	server_info_free(&l->si);
	assert_int_equal(postfix_backend.detect(&l->env, &l->si), 0);
}

static void lab_free(struct lab *l)
{
	server_info_free(&l->si);
	env_free(&l->env);
	tu_rmrf(l->root);
	free(l->root);
	free(l);
}

static struct answers answers(unsigned roles, const char *profile)
{
	struct answers a = {0};

	a.roles = roles;
	a.profile = profile_by_name(profile);
	assert_non_null(a.profile);
	return a;
}

/* The new text of file (server path) in p, or NULL when unchanged. */
static const char *changed(const struct plan *p, const char *path)
{
	for (size_t i = 0; i < p->n_changes; i++)
		if (strcmp(p->changes[i].path, path) == 0)
			return p->changes[i].new_text;
	return NULL;
}

/* The value main.cf text sets for name (last wins), or NULL. */
static char *main_value(const char *text, const char *name)
{
	struct cf_file *f = main_of(text);
	const char *v = maincf_get(f, name);
	char *r = v ? strdup(v) : NULL;

	cf_free(f);
	return r;
}

static void assert_main(const char *text, const char *name, const char *want)
{
	char *v = main_value(text, name);

	if (want == NULL && v != NULL)
		fail_msg("%s = %s, expected unset", name, v);
	if (want != NULL && (v == NULL || strcmp(v, want) != 0))
		fail_msg("%s = %s, expected %s", name, v ? v : "(unset)", want);
	free(v);
}

static void plan_ok(struct lab *l, const struct answers *a, struct plan *p)
{
	struct error e = {{0}};

	memset(p, 0, sizeof(*p));
	if (postfix_backend.plan(&l->env, &l->si, a, p, &e) < 0)
		fail_msg("plan: %s", e.msg);
}

/* Writes the plan's new contents into the lab root, as an apply would. */
static void lab_apply(struct lab *l, const struct plan *p)
{
	for (size_t i = 0; i < p->n_changes; i++)
		lab_write(l, p->changes[i].path + 1, p->changes[i].new_text);
}

static void test_detect(void **state)
{
	struct lab *l = lab_new("debian", "3.7.11");

	(void)state;
	lab_detect(l);
	assert_true(l->si.found);
	assert_true(l->si.usable);
	assert_string_equal(l->si.version, "3.7.11");
	assert_string_equal(l->si.version_source, "--server-version");
	assert_string_equal(l->si.config_dir, "/etc/postfix");
	assert_string_equal(l->si.config_file, "/etc/postfix/main.cf");
	assert_int_equal(l->si.layout, LAYOUT_DEBIAN);
	assert_int_equal(l->si.roles_served, ROLE_MX);
	assert_int_equal(l->si.roles_tls, 0);
	assert_string_equal(l->si.openssl_version, "3.0.13");
	lab_free(l);
}

static void test_detect_roles_tls(void **state)
{
	struct lab *l = lab_new(NULL, "3.10.1");

	(void)state;
	lab_write(l, "etc/postfix/main.cf", "smtpd_tls_security_level = may\n");
	lab_write(l, "etc/postfix/master.cf",
		  "127.0.0.1:2525 inet n - n - - smtpd\n"
		  "25 inet n - n - 1 postscreen\n"
		  "587 inet n - n - - smtpd\n  -o smtpd_tls_security_level=encrypt\n"
		  "smtps inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n");
	lab_write(l, "etc/redhat-release", "x\n");
	lab_detect(l);
	assert_true(l->si.usable);
	assert_int_equal(l->si.layout, LAYOUT_RHEL);
	assert_int_equal(l->si.roles_served, ROLES_SMTP);
	assert_int_equal(l->si.roles_tls, ROLE_SUBMISSION | ROLE_SUBMISSIONS);
	lab_free(l);
}

static void test_detect_missing_and_broken(void **state)
{
	struct lab *l = lab_new(NULL, "3.7");
	struct answers a = answers(ROLE_MX, "intermediate");
	struct plan p = {0};
	struct error e = {{0}};

	(void)state;
	lab_detect(l);
	assert_false(l->si.found);
	assert_string_equal(l->si.why, "no main.cf in /etc/postfix");
	lab_write(l, "etc/postfix/main.cf", "a = b\n");
	lab_write(l, "etc/postfix/master.cf", "smtp inet n - y - - smtpd\n x\n  y\nbroken inet n\n");
	lab_detect(l);
	assert_true(l->si.found);
	assert_false(l->si.usable);
	assert_non_null(strstr(l->si.why, "/etc/postfix/master.cf:4:"));
	assert_int_equal(postfix_backend.plan(&l->env, &l->si, &a, &p, &e), -1);
	assert_non_null(strstr(e.msg, "/etc/postfix/master.cf:4:"));
	assert_int_equal(p.n_changes, 0);
	plan_free(&p);
	lab_free(l);
}

static void test_detect_unknown_version(void **state)
{
	struct lab *l = calloc(1, sizeof(*l));
	struct error e = {{0}};

	(void)state;
	l->root = tu_mkdtemp();
	lab_fixture(l, "debian");
	assert_int_equal(env_init(&l->env, l->root, &e), 0);
	/* what the host has installed must not matter */
	l->env.no_host_tools = true;
	lab_detect(l);
	assert_true(l->si.found);
	assert_false(l->si.usable);
	assert_non_null(strstr(l->si.why, "--server-version postfix=3.7"));
	lab_free(l);
}

static void test_plan_mx_submission(void **state)
{
	struct lab *l = lab_new("debian", "3.7.11");
	struct answers a = answers(ROLE_MX | ROLE_SUBMISSION, "intermediate");
	struct plan p;
	const char *m, *s;

	(void)state;
	a.cert_file = "/etc/ssl/certs/new.pem";
	a.key_file = "/etc/ssl/private/new.key";
	lab_detect(l);
	plan_ok(l, &a, &p);
	m = changed(&p, "/etc/postfix/main.cf");
	s = changed(&p, "/etc/postfix/master.cf");
	assert_non_null(m);
	assert_non_null(s);
	assert_main(m, "smtpd_tls_chain_files", "/etc/ssl/private/new.key, /etc/ssl/certs/new.pem");
	assert_main(m, "smtpd_tls_cert_file", NULL);
	assert_main(m, "smtpd_tls_key_file", NULL);
	assert_non_null(strstr(m, "\n# smtpd_tls_cert_file=/etc/ssl/certs/mail-test.pem\n"));
	assert_main(m, "smtpd_tls_security_level", "may");
	assert_main(m, "smtpd_tls_protocols", ">=TLSv1");
	assert_main(m, "smtp_tls_protocols", ">=TLSv1");
	assert_main(m, "smtpd_tls_mandatory_protocols", ">=TLSv1.2");
	assert_main(m, "smtpd_tls_mandatory_ciphers", "high");
	assert_main(m, "tls_high_cipherlist", profile_by_name("intermediate")->ciphers);
	assert_main(m, "tls_preempt_cipherlist", "no");
	assert_main(m, "tls_eecdh_auto_curves", "X25519 prime256v1 secp384r1");
	assert_main(m, "tls_ffdhe_auto_groups", NULL);
	assert_main(m, "smtpd_tls_exclude_ciphers", "aNULL, eNULL, EXPORT");
	assert_main(m, "tls_ssl_options", "NO_COMPRESSION, NO_RENEGOTIATION");
	assert_main(m, "smtpd_tls_auth_only", "yes");
	assert_main(m, "smtp_tls_security_level", "may");
	/* untouched lines stay as they were */
	assert_non_null(strstr(m, "\nsmtpd_tls_security_level=may\n"));
	assert_non_null(strstr(m, "\nmyhostname   =   mail.example.test\n"));
	assert_non_null(strstr(m, "\n\n" MAINCF_HEADER "\nsmtpd_tls_auth_only = yes\n"));
	/* master.cf: the packaged submission block, uncommented */
	assert_non_null(strstr(s, "\nsubmission inet n       -       y       -       -       smtpd\n"
				  "  -o syslog_name=postfix/submission\n"
				  "  -o smtpd_tls_security_level=encrypt\n"
				  "  -o smtpd_sasl_auth_enable=yes\n"
				  "#     A prose remark inside the block: it must stay a comment,\n"
				  "#     or smtpd would get these words as arguments.\n"
				  "#  -o smtpd_client_restrictions=$mua_client_restrictions\n"
				  "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"
				  "  -o milter_macro_daemon_name=ORIGINATING\n"
				  "  -o smtpd_tls_auth_only=yes\n"
				  "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
				  "#smtps "));
	assert_non_null(strstr(s, "\nsmtp      inet  n       -       y       -       -       smtpd\n"));
	assert_true(p.settings.n > 10);
	assert_int_equal(p.notes.n, 1);
	assert_non_null(strstr(p.notes.v[0], "smtpd_sasl_path"));
	plan_free(&p);
	/* with SASL configured there is nothing to say */
	lab_write(l, "etc/postfix/main.cf", "smtpd_sasl_type = dovecot\nsmtpd_sasl_path = private/auth\n");
	plan_ok(l, &a, &p);
	assert_int_equal(p.notes.n, 0);
	plan_free(&p);
	lab_free(l);
}

static void test_plan_idempotent(void **state)
{
	static const char *const profiles[] = {"modern", "intermediate", "old", "guide-b"};
	static const char *const versions[] = {"3.3.2", "3.5.2", "3.7.11", "3.10.1"};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(profiles); i++) {
		struct lab *l = lab_new("debian", versions[i]);
		struct answers a = answers(ROLES_SMTP, profiles[i]);
		struct plan p;

		a.cert_file = "/etc/ssl/certs/new.pem";
		a.key_file = "/etc/ssl/private/new.key";
		a.dh_file = "/etc/ssl/dh.pem";
		lab_detect(l);
		plan_ok(l, &a, &p);
		assert_int_equal(p.n_changes, 2);
		lab_apply(l, &p);
		plan_free(&p);
		lab_detect(l);
		assert_int_equal(l->si.roles_served, ROLES_SMTP);
		assert_int_equal(l->si.roles_tls, ROLE_SUBMISSION | ROLE_SUBMISSIONS);
		plan_ok(l, &a, &p);
		if (!plan_is_empty(&p) || p.n_changes != 0)
			fail_msg("second plan for %s/%s changes something:\n%s", profiles[i],
				 versions[i], plan_diff(&p));
		plan_free(&p);
		lab_free(l);
	}
}

/* Renders for one version/profile/roles and returns main.cf's new text. */
static char *plan_main_text(const char *version, const char *profile, unsigned roles,
			    bool cert, const char *dh, char **master)
{
	struct lab *l = lab_new("debian", version);
	struct answers a = answers(roles, profile);
	struct plan p;
	const char *m, *s;
	char *r;

	if (cert) {
		a.cert_file = "/etc/c.pem";
		a.key_file = "/etc/k.pem";
	}
	a.dh_file = dh;
	lab_detect(l);
	plan_ok(l, &a, &p);
	m = changed(&p, "/etc/postfix/main.cf");
	assert_non_null(m);
	r = strdup(m);
	s = changed(&p, "/etc/postfix/master.cf");
	if (master)
		*master = s ? strdup(s) : NULL;
	plan_free(&p);
	lab_free(l);
	return r;
}

static void test_versions_chain_files(void **state)
{
	char *m33 = plan_main_text("3.3.1", "intermediate", ROLE_SUBMISSION, true, NULL, NULL);
	char *m34 = plan_main_text("3.4.0", "intermediate", ROLE_SUBMISSION, true, NULL, NULL);

	(void)state;
	assert_main(m33, "smtpd_tls_chain_files", NULL);
	assert_main(m33, "smtpd_tls_cert_file", "/etc/c.pem");
	assert_main(m33, "smtpd_tls_key_file", "/etc/k.pem");
	assert_main(m33, "tls_ssl_options", "NO_COMPRESSION");
	assert_main(m34, "smtpd_tls_chain_files", "/etc/k.pem, /etc/c.pem");
	assert_main(m34, "smtpd_tls_cert_file", NULL);
	assert_main(m34, "tls_ssl_options", "NO_COMPRESSION, NO_RENEGOTIATION");
	free(m33);
	free(m34);
}

static void test_versions_protocol_syntax(void **state)
{
	char *m35 = plan_main_text("3.5.9", "intermediate", ROLE_MX | ROLE_SUBMISSION, false, NULL, NULL);
	char *m36 = plan_main_text("3.6.0", "intermediate", ROLE_MX | ROLE_SUBMISSION, false, NULL, NULL);
	char *old35 = plan_main_text("3.5", "old", ROLE_SUBMISSION, false, NULL, NULL);
	char *mod35 = plan_main_text("3.5", "modern", ROLE_SUBMISSION, false, NULL, NULL);

	(void)state;
	assert_main(m35, "smtpd_tls_protocols", "!SSLv2, !SSLv3");
	assert_main(m35, "smtpd_tls_mandatory_protocols", "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1");
	assert_main(m36, "smtpd_tls_protocols", ">=TLSv1");
	assert_main(m36, "smtpd_tls_mandatory_protocols", ">=TLSv1.2");
	assert_main(old35, "smtpd_tls_mandatory_protocols", "!SSLv2, !SSLv3");
	assert_main(mod35, "smtpd_tls_mandatory_protocols",
		    "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.2");
	free(m35);
	free(m36);
	free(old35);
	free(mod35);
}

static void test_versions_ffdhe(void **state)
{
	char *m37 = plan_main_text("3.7.11", "old", ROLE_SUBMISSION, false, "/etc/dh.pem", NULL);
	char *m38 = plan_main_text("3.8.0", "old", ROLE_SUBMISSION, false, "/etc/dh.pem", NULL);
	char *i38 = plan_main_text("3.8.0", "intermediate", ROLE_SUBMISSION, false, NULL, NULL);

	(void)state;
	assert_main(m37, "smtpd_tls_dh1024_param_file", "/etc/dh.pem");
	assert_main(m37, "tls_ffdhe_auto_groups", NULL);
	assert_main(m38, "smtpd_tls_dh1024_param_file", NULL);
	assert_main(m38, "tls_ffdhe_auto_groups", "ffdhe2048 ffdhe3072");
	assert_main(m38, "tls_preempt_cipherlist", "yes");
	/* intermediate has no DHE suites */
	assert_main(i38, "tls_ffdhe_auto_groups", NULL);
	free(m37);
	free(m38);
	free(i38);
}

static void test_submissions_name(void **state)
{
	struct lab *l = lab_new(NULL, "3.4.14");
	struct answers a = answers(ROLE_SUBMISSIONS, "intermediate");
	struct plan p;
	const char *s;

	(void)state;
	lab_write(l, "etc/postfix/main.cf", "myhostname = x\n");
	lab_write(l, "etc/postfix/master.cf", "smtp inet n - n - - smtpd\n");
	lab_detect(l);
	plan_ok(l, &a, &p);
	s = changed(&p, "/etc/postfix/master.cf");
	assert_non_null(s);
	assert_string_equal(s, "smtp inet n - n - - smtpd\n"
			       "smtps     inet  n       -       n       -       -       smtpd\n"
			       "  -o syslog_name=postfix/submissions\n"
			       "  -o smtpd_tls_wrappermode=yes\n"
			       "  -o smtpd_tls_security_level=encrypt\n"
			       "  -o smtpd_sasl_auth_enable=yes\n"
			       "  -o smtpd_tls_auth_only=yes\n"
			       "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
			       "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n");
	plan_free(&p);
	server_info_free(&l->si);
	env_free(&l->env);
	{
		struct error e = {{0}};

		assert_int_equal(env_init(&l->env, l->root, &e), 0);
		l->env.no_host_tools = true;
	/* what the host has installed must not matter */
	l->env.no_host_tools = true;
		assert_int_equal(env_add_override(&l->env, "postfix=3.5", &e), 0);
	}
	lab_detect(l);
	plan_ok(l, &a, &p);
	s = changed(&p, "/etc/postfix/master.cf");
	assert_non_null(strstr(s, "\nsubmissions inet  n       -       n "));
	plan_free(&p);
	lab_free(l);
}

static void test_mx_stays_opportunistic(void **state)
{
	char *master = NULL;
	char *mx = plan_main_text("3.7", "modern", ROLE_MX, false, NULL, &master);
	char *both = plan_main_text("3.7", "modern", ROLE_MX | ROLE_SUBMISSION, false, NULL, NULL);

	(void)state;
	/* mx alone: no mandatory settings, master.cf untouched */
	assert_main(mx, "smtpd_tls_protocols", ">=TLSv1");
	assert_main(mx, "smtpd_tls_security_level", "may");
	assert_main(mx, "smtpd_tls_mandatory_protocols", NULL);
	assert_main(mx, "smtpd_tls_mandatory_ciphers", NULL);
	assert_main(mx, "tls_high_cipherlist", NULL);
	assert_null(master);
	/* modern for submission does not leak into port 25 */
	assert_main(both, "smtpd_tls_protocols", ">=TLSv1");
	assert_main(both, "smtpd_tls_security_level", "may");
	assert_main(both, "smtpd_tls_mandatory_protocols", ">=TLSv1.3");
	assert_main(both, "tls_high_cipherlist", NULL);
	free(mx);
	free(both);
}

static void test_unchosen_roles_untouched(void **state)
{
	struct lab *l = lab_new(NULL, "3.7");
	struct answers a = answers(ROLE_SUBMISSION, "intermediate");
	struct plan p;
	const char *s;
	bool noted = false;

	(void)state;
	lab_write(l, "etc/postfix/main.cf", "a = b\n");
	lab_write(l, "etc/postfix/master.cf",
		  "smtp inet n - y - 1 postscreen\n"
		  "smtpd pass - - y - - smtpd\n"
		  "smtps inet n - y - - smtpd\n  -o smtpd_tls_wrappermode=yes\n");
	lab_detect(l);
	assert_int_equal(l->si.roles_served, ROLE_MX | ROLE_SUBMISSIONS);
	plan_ok(l, &a, &p);
	s = changed(&p, "/etc/postfix/master.cf");
	assert_non_null(s);
	if (strncmp(s, "smtp inet n - y - 1 postscreen\nsmtpd pass - - y - - smtpd\n"
		       "smtps inet n - y - - smtpd\n  -o smtpd_tls_wrappermode=yes\n"
		       "submission inet  n       -       y ", 149) != 0)
		fail_msg("master.cf:\n%s", s);
	for (size_t i = 0; i < p.notes.n; i++)
		noted |= strstr(p.notes.v[i], "mx,submissions") != NULL;
	assert_true(noted);
	plan_free(&p);
	lab_free(l);
}

static void test_plan_refusals(void **state)
{
	struct lab *l = lab_new("debian", "3.7");
	struct answers a = answers(ROLE_SUBMISSION, "intermediate");
	struct plan p = {0};
	struct error e = {{0}};

	(void)state;
	lab_detect(l);
	a.cert_file = "/etc/ssl/a.pem\nsmtpd_tls_security_level = none";
	a.key_file = "/etc/ssl/k.pem";
	assert_int_equal(postfix_backend.plan(&l->env, &l->si, &a, &p, &e), -1);
	assert_non_null(strstr(e.msg, "control character"));
	assert_int_equal(p.n_changes, 0);
	a.cert_file = "/etc/ssl/a,b.pem";
	assert_int_equal(postfix_backend.plan(&l->env, &l->si, &a, &p, &e), -1);
	assert_non_null(strstr(e.msg, "comma"));
	a.cert_file = "/etc/ssl/a.pem";
	a.key_file = NULL;
	assert_int_equal(postfix_backend.plan(&l->env, &l->si, &a, &p, &e), -1);
	a = answers(ROLE_MX | ROLE_IMAP, "intermediate");
	assert_int_equal(postfix_backend.plan(&l->env, &l->si, &a, &p, &e), -1);
	assert_string_equal(e.msg, "postfix cannot serve role imap");
	assert_int_equal(p.n_changes, 0);
	plan_free(&p);
	lab_free(l);
}

static void test_plan_crlf_no_newline(void **state)
{
	struct lab *l = lab_new(NULL, "3.7");
	struct answers a = answers(ROLE_MX, "intermediate");
	struct plan p;
	const char *m;

	(void)state;
	lab_write(l, "etc/postfix/main.cf", "smtpd_use_tls=yes\r\nsmtpd_tls_loglevel = 0");
	lab_write(l, "etc/postfix/master.cf", "smtp inet n - y - - smtpd");
	lab_detect(l);
	plan_ok(l, &a, &p);
	m = changed(&p, "/etc/postfix/main.cf");
	assert_non_null(m);
	assert_true(strncmp(m, "# smtpd_use_tls=yes\r\nsmtpd_tls_loglevel = 1\r\n\r\n" MAINCF_HEADER
			       "\r\nsmtpd_tls_auth_only = yes\r\n", 100) == 0);
	assert_null(changed(&p, "/etc/postfix/master.cf"));
	plan_free(&p);
	lab_free(l);
}

static void test_plan_keeps_user_strength(void **state)
{
	struct lab *l = lab_new(NULL, "3.7");
	struct answers a = answers(ROLE_MX, "intermediate");
	struct plan p;
	const char *m;
	bool noted = false;

	(void)state;
	lab_write(l, "etc/postfix/main.cf",
		  "smtp_tls_security_level = dane\n"
		  "tls_ssl_options = no_ticket\n"
		  "smtpd_tls_exclude_ciphers = RC4:aNULL, MD5\n");
	lab_write(l, "etc/postfix/master.cf", "smtp inet n - y - - smtpd\n");
	lab_detect(l);
	plan_ok(l, &a, &p);
	m = changed(&p, "/etc/postfix/main.cf");
	assert_non_null(m);
	assert_main(m, "smtp_tls_security_level", "dane");
	assert_main(m, "tls_ssl_options", "no_ticket, NO_COMPRESSION, NO_RENEGOTIATION");
	assert_main(m, "smtpd_tls_exclude_ciphers", "RC4:aNULL, MD5, eNULL, EXPORT");
	for (size_t i = 0; i < p.notes.n; i++)
		noted |= strstr(p.notes.v[i], "smtp_tls_security_level = dane") != NULL;
	assert_true(noted);
	lab_apply(l, &p);
	plan_free(&p);
	plan_ok(l, &a, &p);
	assert_true(plan_is_empty(&p));
	plan_free(&p);
	lab_free(l);
}

static void test_plan_every_entry_of_port(void **state)
{
	struct lab *l = lab_new(NULL, "3.7");
	struct answers a = answers(ROLE_SUBMISSION, "intermediate");
	struct plan p = {0};
	struct error e = {{0}};
	const char *s;

	(void)state;
	lab_write(l, "etc/postfix/main.cf", "a = b\n");
	lab_write(l, "etc/postfix/master.cf",
		  "127.0.0.1:submission inet n - n - - smtpd\n"
		  "[::1]:587 inet n - n - - smtpd\n  -o smtpd_tls_security_level=may\n");
	lab_detect(l);
	plan_ok(l, &a, &p);
	s = changed(&p, "/etc/postfix/master.cf");
	assert_non_null(s);
	assert_non_null(strstr(s, "127.0.0.1:submission inet n - n - - smtpd\n"
				  "  -o syslog_name=postfix/submission\n"
				  "  -o smtpd_tls_security_level=encrypt\n"));
	assert_non_null(strstr(s, "[::1]:587 inet n - n - - smtpd\n"
				  "  -o smtpd_tls_security_level=encrypt\n"
				  "  -o syslog_name=postfix/submission\n"));
	plan_free(&p);

	/* a port run by something else than smtpd is refused, not doubled */
	lab_write(l, "etc/postfix/master.cf", "submission inet n - n - - myfilter\n");
	lab_detect(l);
	assert_int_equal(postfix_backend.plan(&l->env, &l->si, &a, &p, &e), -1);
	assert_non_null(strstr(e.msg, "port 587 runs myfilter"));
	plan_free(&p);
	lab_free(l);
}

/* ------------------------------------------------------------------ */
/* validate with a real postconf (MH_POSTFIX_PKG = an unpacked postfix */
/* .deb, e.g. from "apt-get download postfix && dpkg -x")              */
/* ------------------------------------------------------------------ */

static struct lab *validate_lab(const char *version_unused)
{
	const char *pkg = getenv("MH_POSTFIX_PKG");
	struct lab *l;
	struct error e = {{0}};
	char link[4200], target[4200];

	(void)version_unused;
	if (pkg == NULL || *pkg == '\0')
		return NULL;
	l = calloc(1, sizeof(*l));
	l->root = tu_mkdtemp();
	lab_fixture(l, "debian");
	snprintf(link, sizeof(link), "%s/usr", l->root);
	snprintf(target, sizeof(target), "%s/usr", pkg);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(env_init(&l->env, l->root, &e), 0);
	/* what the host has installed must not matter */
	l->env.no_host_tools = true;
	lab_detect(l);
	assert_true(l->si.usable);
	assert_string_equal(l->si.version_source, "binary");
	return l;
}

/* Our own value checks run before (and without) postconf. */
static void test_validate_values(void **state)
{
	static const struct {
		const char *tmpl;
		const char *want;
	} cases[] = {
		{"tls_eecdh_auto_curves = X25519 P-999\n", "P-999"},
		{"smtpd_tls_mandatory_protocols = >=TLSv9\n", ">=TLSv9"},
		{"smtpd_tls_protocols = !SSLv2, !TLSv7\n", "!TLSv7"},
		{"tls_high_cipherlist = NOSUCHCIPHER\n", "NOSUCHCIPHER"},
		{"smtpd_tls_chain_files = /etc/k.pem, /etc/missing.pem\n", "/etc/missing.pem"},
		{"smtpd_tls_auth_only = yes\n", "postconf not found"},
	};
	struct lab *l = lab_new("debian", "3.7");
	struct answers a = answers(ROLE_SUBMISSION, "intermediate");
	char *tdir = tu_mkdtemp();

	(void)state;
	l->env.templates_dir = strdup(tdir);
	tu_write(tdir, "postfix/master.cf.tmpl", "syslog_name=x\n");
	lab_write(l, "etc/k.pem", "k\n");
	lab_detect(l);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct plan p;
		struct error e = {{0}};

		/* the last case needs a host without Postfix (never installed) */
		if (i + 1 == ARRAY_LEN(cases) && l->si.binary)
			break;
		tu_write(tdir, "postfix/main.cf.tmpl", cases[i].tmpl);
		plan_ok(l, &a, &p);
		assert_int_equal(postfix_backend.validate(&l->env, &l->si, &p, "/etc/postfix", &e), -1);
		if (strstr(e.msg, cases[i].want) == NULL)
			fail_msg("'%s': error '%s' lacks '%s'", cases[i].tmpl, e.msg, cases[i].want);
		plan_free(&p);
	}
	tu_rmrf(tdir);
	free(tdir);
	lab_free(l);
}

static int stage_and_validate(struct lab *l, const struct plan *p, struct error *e)
{
	char *m = tu_read(l->root, "etc/postfix/main.cf");
	char *s = tu_read(l->root, "etc/postfix/master.cf");
	const char *nm = changed(p, "/etc/postfix/main.cf");
	const char *ns = changed(p, "/etc/postfix/master.cf");
	int rc;

	lab_write(l, "stage/main.cf", nm ? nm : m);
	lab_write(l, "stage/master.cf", ns ? ns : s);
	/* a live config is old; fresh files make postconf wait a second */
	{
		static const char *const live[] = {"etc/postfix/main.cf", "etc/postfix/master.cf"};
		struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};
		char path[4200];

		for (size_t i = 0; i < ARRAY_LEN(live); i++) {
			snprintf(path, sizeof(path), "%s/%s", l->root, live[i]);
			utimensat(AT_FDCWD, path, ts, 0);
		}
	}
	rc = postfix_backend.validate(&l->env, &l->si, p, "/stage", e);
	free(m);
	free(s);
	return rc;
}

static void test_validate_real_postconf(void **state)
{
	struct lab *l = validate_lab(NULL);
	struct answers a = answers(ROLES_SMTP, "intermediate");
	struct plan p;
	struct error e = {{0}};
	char *tdir;

	(void)state;
	if (l == NULL)
		skip();
	a.cert_file = "/etc/ssl/c.pem";
	a.key_file = "/etc/ssl/k.pem";
	lab_write(l, "etc/ssl/c.pem", "x\n");
	lab_write(l, "etc/ssl/k.pem", "x\n");
	/* a warning the current config already has is not the plan's fault */
	/* myhostname set: else postconf looks the name up in DNS (seconds) */
	lab_write(l, "etc/postfix/main.cf", "myhostname = mail.example.test\nlegacy_unknown = 1\n");
	plan_ok(l, &a, &p);
	if (stage_and_validate(l, &p, &e) < 0)
		fail_msg("validate: %s", e.msg);
	plan_free(&p);

	/* a missing certificate */
	a.cert_file = "/etc/ssl/missing.pem";
	plan_ok(l, &a, &p);
	assert_int_equal(stage_and_validate(l, &p, &e), -1);
	assert_non_null(strstr(e.msg, "/etc/ssl/missing.pem"));
	plan_free(&p);
	a.cert_file = "/etc/ssl/c.pem";

	/* templates that write an unknown parameter and an unknown curve */
	tdir = tu_mkdtemp();
	l->env.templates_dir = strdup(tdir);
	tu_write(tdir, "postfix/master.cf.tmpl", "syslog_name=x\n");
	tu_write(tdir, "postfix/main.cf.tmpl", "smtpd_tls_auth_onyl = yes\n");
	plan_ok(l, &a, &p);
	assert_int_equal(stage_and_validate(l, &p, &e), -1);
	assert_non_null(strstr(e.msg, "unused parameter: smtpd_tls_auth_onyl=yes"));
	plan_free(&p);
	tu_write(tdir, "postfix/main.cf.tmpl", "tls_eecdh_auto_curves = X25519 P-999\n");
	plan_ok(l, &a, &p);
	assert_int_equal(stage_and_validate(l, &p, &e), -1);
	assert_non_null(strstr(e.msg, "P-999"));
	plan_free(&p);
	tu_write(tdir, "postfix/main.cf.tmpl", "smtpd_tls_mandatory_protocols = >=TLSv9\n");
	plan_ok(l, &a, &p);
	assert_int_equal(stage_and_validate(l, &p, &e), -1);
	assert_non_null(strstr(e.msg, ">=TLSv9"));
	plan_free(&p);
	tu_write(tdir, "postfix/main.cf.tmpl", "tls_high_cipherlist = NOSUCHCIPHER\n");
	plan_ok(l, &a, &p);
	assert_int_equal(stage_and_validate(l, &p, &e), -1);
	assert_non_null(strstr(e.msg, "NOSUCHCIPHER"));
	plan_free(&p);
	tu_rmrf(tdir);
	free(tdir);
	lab_free(l);
}

/* ------------------------------------------------------------------ */
/* property: random files round-trip, and edits keep them parseable    */
/* ------------------------------------------------------------------ */

static const char *const fragments[] = {
	"a = 1", "a=2", "b =", "  cont", "\tcont2", "# comment", "#  -o x=y", "", " ",
	"c = x,\r", "\r", "s inet n - y - - smtpd", "u unix - - n - - pipe",
	"  -o x=1", "  -o { y = a b }", "  flags=R", "#s2 inet n - y - - smtpd", "a = $x ${y}",
};

static char *random_text(unsigned *seed)
{
	struct strbuf sb = STRBUF_INIT;
	int n = rand_r(seed) % 12;

	for (int i = 0; i < n; i++) {
		sb_adds(&sb, fragments[(size_t)rand_r(seed) % ARRAY_LEN(fragments)]);
		if (i + 1 < n || rand_r(seed) % 2)
			sb_addc(&sb, '\n');
	}
	return sb_detach(&sb);
}

static void reparse_ok(const struct cf_file *f, bool master)
{
	size_t len;
	char *t = cf_text(f, &len);
	struct cf_file *g = NULL;
	struct error e = {{0}};
	int rc = master ? mastercf_parse("x", t, len, &g, &e) : maincf_parse("x", t, len, &g, &e);

	if (rc < 0)
		fail_msg("edited text does not parse (%s):\n%s", e.msg, t);
	cf_free(g);
	free(t);
}

static void test_random_files(void **state)
{
	unsigned seed = 12345;
	int parsed = 0;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		char *t = random_text(&seed);
		bool master = i % 2;
		struct cf_file *f = NULL;
		int rc = master ? mastercf_parse("x", t, strlen(t), &f, NULL)
				: maincf_parse("x", t, strlen(t), &f, NULL);

		if (rc == 0) {
			parsed++;
			assert_roundtrip(t, strlen(t), master);
			if (master && mastercf_count(f) > 0) {
				size_t entry = (size_t)rand_r(&seed) % mastercf_count(f);

				mastercf_set_option(f, entry, "x", "new");
				mastercf_set_option(f, entry, "z", "2");
				mastercf_set_field(f, entry, MF_CHROOT, "n");
				reparse_ok(f, true);
				assert_string_equal(mastercf_option(f, entry, "x"), "new");
				assert_int_equal(mastercf_set_option(f, entry, "x", "new"), 0);
			} else if (!master) {
				maincf_set(f, "a", "v w");
				maincf_comment_out(f, "b");
				maincf_set(f, "new", "1");
				reparse_ok(f, false);
				assert_string_equal(maincf_get(f, "a"), "v w");
				assert_null(maincf_get(f, "b"));
				assert_int_equal(maincf_set(f, "a", "v w"), 0);
			}
		}
		cf_free(f);
		free(t);
	}
	print_message("%d of 3000 random files parsed\n", parsed);
	assert_true(parsed > 500);
}

/* Parameters that Postfix 3.10 warns about are commented out when ours
 * replace them; before 3.8 the DH file still matters and stays. */
static void test_legacy_parameters(void **state)
{
	static const char *const versions[] = {"3.7.11", "3.10.1"};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
		struct lab *l = lab_new(NULL, versions[i]);
		struct answers a = answers(ROLE_MX | ROLE_SUBMISSION, "intermediate");
		struct plan p;
		const char *m;

		lab_write(l, "etc/postfix/main.cf",
			  "smtpd_use_tls=yes\nsmtpd_enforce_tls = no\nsmtp_use_tls = yes\n"
			  "smtpd_tls_eecdh_grade = ultra\nsmtpd_tls_dh1024_param_file = /etc/dh.pem\n");
		lab_write(l, "etc/postfix/master.cf", "smtp inet n - y - - smtpd\n");
		lab_detect(l);
		plan_ok(l, &a, &p);
		m = changed(&p, "/etc/postfix/main.cf");
		assert_non_null(m);
		assert_main(m, "smtpd_use_tls", NULL);
		assert_main(m, "smtpd_enforce_tls", NULL);
		assert_main(m, "smtp_use_tls", NULL);
		assert_main(m, "smtpd_tls_eecdh_grade", NULL);
		assert_main(m, "smtpd_tls_dh1024_param_file", i == 0 ? "/etc/dh.pem" : NULL);
		plan_free(&p);
		lab_free(l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_fixtures),
		cmocka_unit_test(test_roundtrip_odd),
		cmocka_unit_test(test_main_get),
		cmocka_unit_test(test_main_set_in_place),
		cmocka_unit_test(test_main_set_duplicates),
		cmocka_unit_test(test_main_append_header_once),
		cmocka_unit_test(test_main_comment_out),
		cmocka_unit_test(test_service_port),
		cmocka_unit_test(test_master_find_and_options),
		cmocka_unit_test(test_master_set_option),
		cmocka_unit_test(test_master_set_field),
		cmocka_unit_test(test_master_uncomment),
		cmocka_unit_test(test_master_add),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_random_files),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_detect_roles_tls),
		cmocka_unit_test(test_detect_missing_and_broken),
		cmocka_unit_test(test_detect_unknown_version),
		cmocka_unit_test(test_plan_mx_submission),
		cmocka_unit_test(test_plan_idempotent),
		cmocka_unit_test(test_versions_chain_files),
		cmocka_unit_test(test_versions_protocol_syntax),
		cmocka_unit_test(test_versions_ffdhe),
		cmocka_unit_test(test_legacy_parameters),
		cmocka_unit_test(test_submissions_name),
		cmocka_unit_test(test_mx_stays_opportunistic),
		cmocka_unit_test(test_unchosen_roles_untouched),
		cmocka_unit_test(test_plan_refusals),
		cmocka_unit_test(test_plan_crlf_no_newline),
		cmocka_unit_test(test_plan_keeps_user_strength),
		cmocka_unit_test(test_plan_every_entry_of_port),
		cmocka_unit_test(test_validate_values),
		cmocka_unit_test(test_validate_real_postconf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
