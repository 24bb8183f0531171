/*
 * test_expect.c - judging effective values: weaker must mean weaker, not
 * spelled differently.
 */
#include "../../core/common.h"
#include "testutil.h"

#include "../../backends/backend.h"
#include "../../backends/postfix_cf.h"

static enum expect_state judge(enum expect_cmp cmp, const char *scale, const char *want,
			       const char *got)
{
	struct expect_list l = {0};
	struct expectation *x = expect_add(&l, "", NULL, "n", want, 0);
	enum expect_state st;

	expect_set_cmp(x, cmp, scale);
	st = expect_judge(x, got);
	expect_list_free(&l);
	return st;
}

#define HOLDS(...) assert_int_equal(judge(__VA_ARGS__), EXPECT_HOLDS)
#define WEAKER(...) assert_int_equal(judge(__VA_ARGS__), EXPECT_WEAKER)
#define UNKNOWN(...) assert_int_equal(judge(__VA_ARGS__), EXPECT_UNKNOWN)

static void test_protocols(void **state)
{
	(void)state;
	/* the same versions in Postfix's two spellings */
	HOLDS(EXPECT_CMP_PROTOCOLS, NULL, ">=TLSv1.2", "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1");
	HOLDS(EXPECT_CMP_PROTOCOLS, NULL, "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", ">=TLSv1.2");
	/* stricter holds */
	HOLDS(EXPECT_CMP_PROTOCOLS, NULL, ">=TLSv1.2", ">=TLSv1.3");
	HOLDS(EXPECT_CMP_PROTOCOLS, NULL, "TLSv1.2", "TLSv1.3");
	HOLDS(EXPECT_CMP_PROTOCOLS, NULL, "TLSv1.2", "LATEST");
	/* weaker */
	WEAKER(EXPECT_CMP_PROTOCOLS, NULL, ">=TLSv1.2", ">=TLSv1");
	WEAKER(EXPECT_CMP_PROTOCOLS, NULL, ">=TLSv1.2", "!SSLv2,!SSLv3");
	WEAKER(EXPECT_CMP_PROTOCOLS, NULL, ">=TLSv1.2", "");
	WEAKER(EXPECT_CMP_PROTOCOLS, NULL, "TLSv1.2", "TLSv1");
	WEAKER(EXPECT_CMP_PROTOCOLS, NULL, "TLSv1.2", "ANY");
	WEAKER(EXPECT_CMP_PROTOCOLS, NULL, "!SSLv2, !SSLv3", "!SSLv3");
	HOLDS(EXPECT_CMP_PROTOCOLS, NULL, ">=TLSv1", "TLSv1.2 TLSv1.3");
	/* a word the server would reject cannot be judged */
	UNKNOWN(EXPECT_CMP_PROTOCOLS, NULL, ">=TLSv1.2", ">=TLSv9");
	UNKNOWN(EXPECT_CMP_PROTOCOLS, NULL, ">=TLSv1.2", NULL);
}

static void test_ciphers(void **state)
{
#define INTERMEDIATE "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
	const char *intermediate = INTERMEDIATE;

	(void)state;
	HOLDS(EXPECT_CMP_CIPHERS, NULL, intermediate, intermediate);
	HOLDS(EXPECT_CMP_CIPHERS, NULL, intermediate, "ECDHE-RSA-AES128-GCM-SHA256");
	WEAKER(EXPECT_CMP_CIPHERS, NULL, intermediate, "ALL");
	WEAKER(EXPECT_CMP_CIPHERS, NULL, intermediate, INTERMEDIATE ":AES128-SHA");
	/* the order of the same suites does not matter */
	HOLDS(EXPECT_CMP_CIPHERS, NULL, intermediate,
	      "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256");
	UNKNOWN(EXPECT_CMP_CIPHERS, NULL, intermediate, "NOSUCHCIPHER");
}

static void test_lists_and_ranks(void **state)
{
	(void)state;
	HOLDS(EXPECT_CMP_CONTAINS, NULL, "aNULL, eNULL, EXPORT", "eNULL, aNULL, EXPORT, RC4");
	WEAKER(EXPECT_CMP_CONTAINS, NULL, "aNULL, eNULL, EXPORT", "eNULL");
	WEAKER(EXPECT_CMP_CONTAINS, NULL, "NO_COMPRESSION", "");
	HOLDS(EXPECT_CMP_SUBSET, NULL, "a:b:c", "b:a");
	WEAKER(EXPECT_CMP_SUBSET, NULL, "a:b", "a:d");
	HOLDS(EXPECT_CMP_RANK, "none,may,encrypt", "may", "encrypt");
	HOLDS(EXPECT_CMP_RANK, "none,may,encrypt", "may", "may");
	WEAKER(EXPECT_CMP_RANK, "none,may,encrypt", "may", "none");
	WEAKER(EXPECT_CMP_RANK, "none,may,encrypt", "encrypt", "");
	UNKNOWN(EXPECT_CMP_RANK, "none,may,encrypt", "may", "bogus");
	HOLDS(EXPECT_CMP_EXACT, NULL, "/etc/ssl/a.pem", " /etc/ssl/a.pem ");
	WEAKER(EXPECT_CMP_EXACT, NULL, "yes", "no");
}

static void test_describe(void **state)
{
	struct expect_list l = {0}, copy = {0};
	struct expectation *x;
	char *d;

	(void)state;
	x = expect_add(&l, "protocol imap", "filter", "ssl_min_protocol", "TLSv1.2", 0);
	expect_set_cmp(x, EXPECT_CMP_PROTOCOLS, NULL);
	expect_set(x, "TLSv1", "/etc/dovecot/conf.d/20-imap.conf:100", EXPECT_WEAKER);
	d = expect_describe(x);
	assert_non_null(strstr(d, "20-imap.conf:100"));
	assert_non_null(strstr(d, "ssl_min_protocol"));
	free(d);
	expect_list_copy(&copy, &l);
	assert_int_equal(copy.n, 1);
	assert_int_equal(copy.items[0].cmp, EXPECT_CMP_PROTOCOLS);
	assert_int_equal(expect_count(&copy, EXPECT_WEAKER), 1);
	assert_string_equal(copy.items[0].origin, "/etc/dovecot/conf.d/20-imap.conf:100");
	expect_list_free(&copy);
	expect_list_free(&l);
}

static void test_mark_main_duplicates(void **state)
{
	const char *text = "a = 1\nb = 2\na = 3\n";
	struct cf_file *f = NULL;
	struct error e;
	size_t lines[4];
	char *out;

	(void)state;
	assert_int_equal(maincf_parse("main.cf", text, strlen(text), &f, &e), 0);
	assert_int_equal(maincf_lines(f, "a", lines, 4), 2);
	assert_int_equal(lines[0], 1);
	assert_int_equal(lines[1], 3);
	assert_int_equal(maincf_comment_earlier(f, "a", "mailharden: why"), 1);
	out = cf_text(f, NULL);
	assert_string_equal(out, "# mailharden: why\n# a = 1\nb = 2\na = 3\n");
	assert_string_equal(maincf_get(f, "a"), "3");
	assert_int_equal(maincf_line(f, "a"), 4);
	free(out);
	cf_free(f);
}

static void test_master_comment_option(void **state)
{
	const char *text = "submission inet n - y - - smtpd\n"
			   "  -o smtpd_tls_mandatory_ciphers=medium\n"
			   "  -o syslog_name=postfix/submission\n"
			   "smtp inet n - y - - smtpd -o smtpd_tls_security_level=none\n";
	struct cf_file *f = NULL;
	struct error e;
	char *out;

	(void)state;
	assert_int_equal(mastercf_parse("master.cf", text, strlen(text), &f, &e), 0);
	assert_int_equal(mastercf_option_line(f, 0, "smtpd_tls_mandatory_ciphers"), 2);
	assert_int_equal(mastercf_option_line(f, 1, "smtpd_tls_security_level"), 4);
	assert_int_equal(mastercf_find_service(f, "smtp", "inet"), 1);
	assert_int_equal(mastercf_comment_option(f, 0, "smtpd_tls_mandatory_ciphers", "m: why"), 1);
	assert_int_equal(mastercf_comment_option(f, 1, "smtpd_tls_security_level", "m: why"), 1);
	assert_null(mastercf_option(f, 0, "smtpd_tls_mandatory_ciphers"));
	assert_null(mastercf_option(f, 1, "smtpd_tls_security_level"));
	/* the entries stay whole: the comment lines inside do not end them */
	assert_string_equal(mastercf_option(f, 0, "syslog_name"), "postfix/submission");
	assert_int_equal(mastercf_count(f), 2);
	out = cf_text(f, NULL);
	assert_non_null(strstr(out, "# m: why\n#   -o smtpd_tls_mandatory_ciphers=medium\n"));
	free(out);
	cf_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_ciphers),
		cmocka_unit_test(test_lists_and_ranks),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_mark_main_duplicates),
		cmocka_unit_test(test_master_comment_option),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
