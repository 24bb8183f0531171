/*
 * test_exim.c - the Exim backend's plans on small Debian trees under a temp
 * root.  Planning needs no Exim binary (no generated configuration exists
 * here); update-exim4.conf, exim -bV/-bP and the live daemon are proven in
 * tests/integration/test_exim_*.sh.
 */
#include "../../core/common.h"
#include "../../core/env.h"
#include "../../core/fsutil.h"
#include "../../backends/backend.h"
#include "testutil.h"

const char *explain_setting(const char *setting_line);

extern const struct backend exim_backend;

#define UE4CC "/etc/exim4/update-exim4.conf.conf"
#define TEMPLATE "/etc/exim4/exim4.conf.template"
#define MACROS "/etc/exim4/exim4.conf.localmacros"
#define SPLIT_MACROS "/etc/exim4/conf.d/main/000_localmacros"
#define SPLIT_AUTH "/etc/exim4/conf.d/auth/35_mailharden"
#define ACL "/etc/exim4/mailharden_acl_check_mail"

struct fx {
	char *root;
	struct env env;
	struct server_info si;
	struct answers a;
	struct plan plan;
	struct error e;
};

static void put(struct fx *f, const char *server_path, const char *text)
{
	tu_write(f->root, server_path + 1, text);
}

/* A Debian tree as exim4-config leaves it (the parts the backend reads). */
static void fx_init(struct fx *f, bool split)
{
	memset(f, 0, sizeof(*f));
	f->root = tu_mkdtemp();
	assert_int_equal(env_init(&f->env, f->root, &f->e), 0);
	put(f, "/etc/debian_version", "12.0\n");
	put(f, UE4CC, split ? "dc_eximconfig_configtype='local'\ndc_use_split_config='true'\n"
			    : "dc_eximconfig_configtype='local'\ndc_use_split_config='false'\n");
	put(f, TEMPLATE, "######\n# main\n######\nbegin acl\n\nacl_check_mail:\n  accept\n\n"
			 "begin authenticators\n\n# plain_server:\n#   driver = plaintext\n");
	put(f, "/etc/exim4/conf.d/auth/30_exim4-config_examples",
	    "# plain_server:\n#   server_condition = x\n");
	f->si.backend = &exim_backend;
	f->si.found = f->si.usable = true;
	f->si.version = xstrdup("4.96");
	f->si.tls_library = xstrdup("GnuTLS");
	f->si.config_dir = xstrdup("/etc/exim4");
	f->si.config_file = xstrdup(TEMPLATE);
	f->si.roles_served = ROLE_MX;
	f->a.roles = ROLE_MX | ROLE_SUBMISSION | ROLE_SUBMISSIONS;
	f->a.profile = profile_by_name("intermediate");
	f->a.cert_file = "/etc/ssl/mail.pem";
	f->a.key_file = "/etc/ssl/mail.key";
}

static void fx_free(struct fx *f)
{
	plan_free(&f->plan);
	server_info_free(&f->si);
	env_free(&f->env);
	tu_rmrf(f->root);
	free(f->root);
}

static const struct file_change *change(const struct fx *f, const char *path)
{
	for (size_t i = 0; i < f->plan.n_changes; i++)
		if (strcmp(f->plan.changes[i].path, path) == 0)
			return &f->plan.changes[i];
	return NULL;
}

static const struct expectation *expected(const struct fx *f, const char *scope, const char *name)
{
	for (size_t i = 0; i < f->plan.expect.n; i++)
		if (strcmp(f->plan.expect.items[i].scope, scope) == 0 &&
		    strcmp(f->plan.expect.items[i].name, name) == 0)
			return &f->plan.expect.items[i];
	return NULL;
}

static int plan(struct fx *f)
{
	plan_free(&f->plan);
	return exim_backend.plan(&f->env, &f->si, &f->a, &f->plan, &f->e);
}

/* Non-split: the block goes into exim4.conf.localmacros, Debian's options
 * through its macros, the authenticator at the end of the template. */
static void test_nonsplit(void **state)
{
	struct fx f;
	const struct file_change *m, *t;

	(void)state;
	fx_init(&f, false);
	assert_int_equal(plan(&f), 0);
	m = change(&f, MACROS);
	assert_non_null(m);
	assert_false(m->existed);
	assert_non_null(strstr(m->new_text, "MAIN_TLS_ENABLE = yes\n"));
	assert_non_null(strstr(m->new_text, "MAIN_TLS_CERTIFICATE = /etc/ssl/mail.pem\n"));
	assert_non_null(strstr(m->new_text, "MAIN_ACL_CHECK_MAIL = " ACL "\n"));
	assert_non_null(strstr(m->new_text, "daemon_smtp_ports = 25 : 465 : 587\n"));
	assert_non_null(strstr(m->new_text, "tls_on_connect_ports = 465\n"));
	/* never the options Debian's own files set: a second setting is fatal */
	assert_null(strstr(m->new_text, "\ntls_certificate ="));
	assert_null(strstr(m->new_text, "\ntls_advertise_hosts ="));
	/* openssl_options only where it is not fatal */
	assert_non_null(strstr(m->new_text, ".ifdef _HAVE_OPENSSL\nopenssl_options"));
	assert_null(change(&f, SPLIT_MACROS));
	t = change(&f, TEMPLATE);
	assert_non_null(t);
	assert_non_null(strstr(t->new_text, "begin authenticators"));
	assert_non_null(strstr(t->new_text, "server_advertise_condition = ${if def:tls_in_cipher}"));
	assert_non_null(change(&f, ACL));
	assert_non_null(strstr(change(&f, ACL)->new_text, "require acl        = acl_check_mail"));
	fx_free(&f);
}

/* Split: 000_localmacros (no dot) and conf.d/auth/35_mailharden; the
 * packaged template and the non-split macros file stay untouched. */
static void test_split(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, true);
	assert_int_equal(plan(&f), 0);
	assert_non_null(change(&f, SPLIT_MACROS));
	assert_non_null(change(&f, SPLIT_AUTH));
	assert_null(change(&f, MACROS));
	assert_null(change(&f, TEMPLATE));
	fx_free(&f);
}

/* Per port: 25 opportunistic, 587/465 the profile; all expected values. */
static void test_expectations(void **state)
{
	struct fx f;
	const struct expectation *x25, *x587;

	(void)state;
	fx_init(&f, false);
	assert_int_equal(plan(&f), 0);
	x25 = expected(&f, "port=25", "tls_require_ciphers");
	x587 = expected(&f, "port=587", "tls_require_ciphers");
	assert_non_null(x25);
	assert_non_null(x587);
	assert_string_equal(x25->want, "NORMAL:%SERVER_PRECEDENCE");
	assert_non_null(strstr(x587->want, "-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"));
	assert_null(strstr(x587->want, ":+DHE-RSA"));
	assert_non_null(expected(&f, "port=465", "tls_require_ciphers"));
	assert_non_null(expected(&f, "", "auth_advertise_hosts"));
	assert_non_null(expected(&f, "authenticator=mh_plain", "server_advertise_condition"));
	assert_string_equal(expected(&f, "", "tls_dhparam")->want, "ffdhe2048");
	/* GnuTLS: no openssl_options expectation */
	assert_null(expected(&f, "", "openssl_options"));
	fx_free(&f);
}

/* mx only: no ACL, no authenticator; the other ports keep NORMAL. */
static void test_mx_only(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, false);
	f.a.roles = ROLE_MX;
	assert_int_equal(plan(&f), 0);
	assert_null(change(&f, ACL));
	assert_null(change(&f, TEMPLATE));
	assert_non_null(strstr(change(&f, MACROS)->new_text,
			       "${if =={$received_port}{25}{NORMAL:%SERVER_PRECEDENCE}{NORMAL}}"));
	fx_free(&f);
}

/* The admin's own settings in the macros file: a duplicate is refused by
 * file, line and name; MAIN_TLS_ENABLE is simply not defined again; the
 * admin's lines stay. */
static void test_admin_lines(void **state)
{
	struct fx f;
	const struct file_change *m;

	(void)state;
	fx_init(&f, false);
	put(&f, MACROS, "# mine\nMAIN_TLS_ENABLE = 1\nMAIN_LOG_SELECTOR = +tls_peerdn\n");
	assert_int_equal(plan(&f), 0);
	m = change(&f, MACROS);
	assert_non_null(m);
	assert_true(m->existed);
	assert_memory_equal(m->new_text, "# mine\nMAIN_TLS_ENABLE = 1\nMAIN_LOG_SELECTOR = +tls_peerdn\n", 56);
	assert_null(strstr(m->new_text, "MAIN_TLS_ENABLE = yes"));
	put(&f, MACROS, "# mine\nMAIN_TLS_ENABLE = 1\n  tls_dhparam = ffdhe4096\n");
	assert_int_equal(plan(&f), -1);
	assert_string_equal(f.e.msg, MACROS " line 3 already sets tls_dhparam, which mailharden sets "
				     "itself (Exim refuses a setting made twice): remove that line and "
				     "run again");
	fx_free(&f);
}

/* A second plan on the written files changes nothing, and without --cert
 * the certificate of the earlier block is kept. */
static void test_idempotent(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, false);
	assert_int_equal(plan(&f), 0);
	for (size_t i = 0; i < f.plan.n_changes; i++)
		put(&f, f.plan.changes[i].path, f.plan.changes[i].new_text);
	f.a.cert_file = f.a.key_file = NULL;
	assert_int_equal(plan(&f), 0);
	assert_true(plan_is_empty(&f.plan));
	fx_free(&f);
}

static void test_bad_answers(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, false);
	f.a.roles = ROLE_IMAP;
	assert_int_equal(plan(&f), -1);
	assert_non_null(strstr(f.e.msg, "cannot serve role imap"));
	f.a.roles = ROLE_MX;
	f.a.cert_file = "/etc/ssl/a b.pem";
	assert_int_equal(plan(&f), -1);
	f.a.cert_file = "/etc/ssl/mail.pem";
	f.a.dh_file = "ffdhe9999";
	assert_int_equal(plan(&f), -1);
	assert_non_null(strstr(f.e.msg, "ffdhe9999"));
	f.a.dh_file = "ffdhe3072";
	assert_int_equal(plan(&f), 0);
	assert_non_null(strstr(change(&f, MACROS)->new_text, "tls_dhparam = ffdhe3072\n"));
	f.a.roles = ROLE_SUBMISSION;
	f.a.sasl = SASL_CYRUS;
	assert_int_equal(plan(&f), -1);
	f.a.sasl = SASL_NONE;
	assert_int_equal(plan(&f), 0);
	assert_null(change(&f, TEMPLATE));
	fx_free(&f);
}

/* Every setting a plan lists has its own Explain text. */
static void test_explained(void **state)
{
	static const char *const profiles[] = {"modern", "intermediate", "old", "guide-a", "guide-b"};
	const char *generic = explain_setting("no_such_setting = 1");

	(void)state;
	for (int split = 0; split < 2; split++) {
		for (size_t p = 0; p < ARRAY_LEN(profiles); p++) {
			struct fx f;

			fx_init(&f, split);
			f.a.profile = profile_by_name(profiles[p]);
			assert_int_equal(plan(&f), 0);
			for (size_t i = 0; i < f.plan.settings.n; i++)
				if (explain_setting(f.plan.settings.v[i]) == generic)
					fail_msg("no explanation for '%s'", f.plan.settings.v[i]);
			fx_free(&f);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nonsplit),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_expectations),
		cmocka_unit_test(test_mx_only),
		cmocka_unit_test(test_admin_lines),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_bad_answers),
		cmocka_unit_test(test_explained),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
