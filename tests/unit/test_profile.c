/*
 * test_profile.c - policy data: roles, profiles, cipher checks, versions,
 * the lab root's path mapping.
 */
#include "testutil.h"

#include "../../core/env.h"
#include "../../core/profile.h"
#include "../../core/version.h"

static void test_roles_parse(void **state)
{
	struct error e;
	unsigned r = 0;
	char *s;

	(void)state;
	assert_int_equal(roles_parse("mx,submission,imaps", &r, &e), 0);
	assert_int_equal(r, ROLE_MX | ROLE_SUBMISSION | ROLE_IMAPS);
	s = roles_format(r);
	assert_string_equal(s, "mx,submission,imaps");
	free(s);
	assert_int_equal(roles_parse("mx,bogus", &r, &e), -1);
	assert_non_null(strstr(e.msg, "bogus"));
	assert_int_equal(roles_parse("", &r, &e), -1);
	assert_int_equal(roles_parse("mx\nsmtpd_tls_security_level=none", &r, &e), -1);
	assert_null(strchr(e.msg, '\n'));
}

static void test_role_ports(void **state)
{
	(void)state;
	assert_int_equal(role_by_name("mx")->port, 25);
	assert_true(role_by_name("mx")->opportunistic);
	assert_int_equal(role_by_name("submission")->port, 587);
	assert_int_equal(role_by_name("submissions")->port, 465);
	assert_true(role_by_name("submissions")->implicit_tls);
	assert_int_equal(role_by_name("imap")->port, 143);
	assert_int_equal(role_by_name("imaps")->port, 993);
	assert_int_equal(role_by_name("pop3")->port, 110);
	assert_int_equal(role_by_name("pop3s")->port, 995);
	/* only port 25 is opportunistic */
	for (const struct role_info *ri = role_table(); ri->name; ri++)
		assert_int_equal(ri->opportunistic, ri->role == ROLE_MX);
}

/* Every profile's lists compile with the OpenSSL we link. */
static void test_profiles_compile(void **state)
{
	struct error e;

	(void)state;
	for (const struct profile *const *p = profile_list(); *p; p++) {
		if ((*p)->ciphers[0])
			assert_int_equal(cipher_list_check((*p)->ciphers, &e), 0);
		assert_int_equal(ciphersuites_check((*p)->ciphersuites, &e), 0);
		assert_true(protocol_name_valid((*p)->min_protocol));
	}
}

static void test_profile_shape(void **state)
{
	const struct profile *m = profile_by_name("modern");
	const struct profile *i = profile_by_name("intermediate");
	const struct profile *o = profile_by_name("old");

	(void)state;
	assert_string_equal(m->min_protocol, "TLSv1.3");
	assert_string_equal(m->ciphers, "");
	assert_string_equal(i->min_protocol, "TLSv1.2");
	assert_null(strstr(i->ciphers, "CBC"));
	assert_null(strstr(i->ciphers, ":DHE-"));
	assert_int_not_equal(strncmp(i->ciphers, "DHE-", 4), 0);
	assert_non_null(strstr(i->ciphers, "ECDHE-RSA-AES128-GCM-SHA256"));
	assert_string_equal(o->min_protocol, "TLSv1");
	assert_true(o->dh_bits >= 2048);
	assert_null(profile_by_name("bogus"));
	assert_true(profile_by_name("guide-b")->documented_alternative);
	assert_false(i->documented_alternative);
}

static void test_cipher_check_rejects(void **state)
{
	struct error e;

	(void)state;
	assert_int_equal(cipher_list_check("NOSUCHCIPHER", &e), -1);
	assert_non_null(strstr(e.msg, "NOSUCHCIPHER"));
	assert_int_equal(cipher_list_check("ECDHE-RSA-AES128-GCM-SHA256:!ECDHE", &e), -1);
	assert_int_equal(cipher_list_check("HIGH\n", &e), -1);
	assert_int_equal(ciphersuites_check("TLS_NOPE", &e), -1);
}

static void test_curves_pq_gate(void **state)
{
	const struct profile *i = profile_by_name("intermediate");
	char *a = profile_curves(i, "3.0.19", " ");
	char *b = profile_curves(i, "3.5.1", ":");
	char *c = profile_curves(i, NULL, ":");

	(void)state;
	assert_string_equal(a, "X25519 prime256v1 secp384r1");
	assert_string_equal(b, "X25519MLKEM768:X25519:prime256v1:secp384r1");
	assert_string_equal(c, "X25519:prime256v1:secp384r1");
	free(a);
	free(b);
	free(c);
}

static void test_protocols_from(void **state)
{
	const char *v[4];

	(void)state;
	assert_int_equal(protocols_from("TLSv1.2", v, 4), 2);
	assert_string_equal(v[0], "TLSv1.2");
	assert_string_equal(v[1], "TLSv1.3");
	assert_int_equal(protocols_from("TLSv1", v, 4), 4);
	assert_int_equal(protocols_from("SSLv3", v, 4), 0);
}

static void test_version_cmp(void **state)
{
	(void)state;
	assert_true(version_cmp("3.7.11", "3.10") < 0);
	assert_true(version_cmp("2.4.1-4 (7d8c0e5759)", "2.4") > 0);
	assert_int_equal(version_cmp("2.3", "2.3.0"), 0);
	assert_true(version_ge("3.8", "3.8"));
	assert_false(version_ge(NULL, "1"));
	assert_true(version_valid("2.3.19.1 (9b53102964)"));
	assert_false(version_valid("x2.3"));
	assert_false(version_valid("3"));
}

static void test_env_paths(void **state)
{
	struct env env;
	struct error e;
	char *dir = tu_mkdtemp(), *p;

	(void)state;
	assert_int_equal(env_init(&env, dir, &e), 0);
	assert_true(env.lab);
	p = env_host_path(&env, "/etc/postfix/main.cf");
	assert_non_null(strstr(p, "/etc/postfix/main.cf"));
	assert_int_equal(strncmp(p, env.root, strlen(env.root)), 0);
	free(p);
	p = env_server_path(&env, env.state_dir);
	assert_string_equal(p, "/var/lib/mailharden");
	free(p);
	assert_null(env_server_path(&env, "/elsewhere"));
	assert_int_equal(env_add_override(&env, "postfix=3.7", &e), 0);
	assert_int_equal(env_add_override(&env, "postfix=3.10", &e), 0);
	assert_string_equal(env_override(&env, "postfix"), "3.10");
	assert_int_equal(env_add_override(&env, "postfix", &e), -1);
	assert_int_equal(env_add_override(&env, "postfix=x", &e), -1);
	env_free(&env);
	assert_int_equal(env_init(&env, "/nonexistent-mh", &e), -1);
	env_free(&env);
	assert_int_equal(env_init(&env, "/tmp\n", &e), -1);
	env_free(&env);
	tu_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles_parse),
		cmocka_unit_test(test_role_ports),
		cmocka_unit_test(test_profiles_compile),
		cmocka_unit_test(test_profile_shape),
		cmocka_unit_test(test_cipher_check_rejects),
		cmocka_unit_test(test_curves_pq_gate),
		cmocka_unit_test(test_protocols_from),
		cmocka_unit_test(test_version_cmp),
		cmocka_unit_test(test_env_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
