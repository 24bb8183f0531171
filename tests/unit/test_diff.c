/*
 * test_diff.c - unified diffs, checked hunk for hunk against the real
 * GNU "diff -u" (run through spawn_run) on hand-made and generated inputs.
 */
#include "core/common.h"
#include "core/diff.h"
#include "core/spawn.h"

#include "tests/unit/testutil.h"

static char *scratch;

static int setup(void **state)
{
	(void)state;
	scratch = tu_mkdtemp();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmrf(scratch);
	free(scratch);
	return 0;
}

/* Everything after the "---" and "+++" lines. */
static const char *after_header(const char *d)
{
	for (int i = 0; i < 2; i++) {
		d = strchr(d, '\n');
		if (d == NULL)
			fail_msg("diff output without a header");
		d++;
	}
	return d;
}

/* Our diff of a and b must equal GNU diff -U ctx, headers aside. */
static void check_against_gnu(const char *a, const char *b, int ctx)
{
	char pa[4200], pb[4200], opt[32];
	const char *argv[] = {"/usr/bin/diff", opt, pa, pb, NULL};
	struct spawn_result r;
	struct error e = {""};
	char *ours = diff_unified("a/main.cf", a, strlen(a), "b/main.cf", b, strlen(b), ctx);

	tu_write(scratch, "a", a);
	tu_write(scratch, "b", b);
	snprintf(pa, sizeof(pa), "%s/a", scratch);
	snprintf(pb, sizeof(pb), "%s/b", scratch);
	snprintf(opt, sizeof(opt), "-U%d", ctx);
	if (spawn_run(argv, NULL, &r, &e) != 0)
		fail_msg("%s", e.msg);
	if (r.exit_code == 0) {
		assert_string_equal(ours, "");
	} else {
		assert_int_equal(r.exit_code, 1);
		assert_true(strncmp(ours, "--- a/main.cf\n+++ b/main.cf\n", 28) == 0);
		if (strcmp(after_header(ours), after_header(r.out)) != 0)
			fail_msg("context %d\n--- a:\n%s\n--- b:\n%s\n--- GNU:\n%s--- ours:\n%s", ctx,
				 a, b, after_header(r.out), after_header(ours));
	}
	spawn_result_free(&r);
	free(ours);
}

static void check_all_contexts(const char *a, const char *b)
{
	static const int contexts[] = {0, 1, 3, 10};

	for (size_t i = 0; i < ARRAY_LEN(contexts); i++)
		check_against_gnu(a, b, contexts[i]);
}

static void test_exact_format(void **state)
{
	char *d;

	(void)state;
	d = diff_unified("old", "a\nb\nc\n", 6, "new", "a\nB\nc\n", 6, 3);
	assert_string_equal(d, "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
	free(d);
	d = diff_unified("old", "", 0, "new", "x\n", 2, 3);
	assert_string_equal(d, "--- old\n+++ new\n@@ -0,0 +1 @@\n+x\n");
	free(d);
	d = diff_unified("old", "x", 1, "new", "x\n", 2, 3);
	assert_string_equal(d, "--- old\n+++ new\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+x\n");
	free(d);
	/* NULL text is empty text. */
	d = diff_unified("old", NULL, 0, "new", "", 0, 3);
	assert_string_equal(d, "");
	free(d);
}

static void test_identical(void **state)
{
	char *d;

	(void)state;
	d = diff_unified("a", "same\ntext", 9, "b", "same\ntext", 9, 3);
	assert_non_null(d);
	assert_string_equal(d, "");
	free(d);
	check_all_contexts("", "");
	check_all_contexts("one\ntwo\n", "one\ntwo\n");
	check_all_contexts("no newline", "no newline");
}

static void test_edges(void **state)
{
	const char *base = "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\n";

	(void)state;
	check_all_contexts(base, "new\nl1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\n");     /* insert at start */
	check_all_contexts(base, "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nnew\n");     /* insert at end */
	check_all_contexts(base, "l2\nl3\nl4\nl5\nl6\nl7\nl8\n");              /* delete first */
	check_all_contexts(base, "l1\nl2\nl3\nl4\nl5\nl6\nl7\n");              /* delete last */
	check_all_contexts(base, "");                                           /* delete all */
	check_all_contexts("", base);                                           /* from nothing */
	check_all_contexts(base, "x\ny\n");                                     /* replace all */
	check_all_contexts(base, "l1\nl2\nl3\nX\nl5\nl6\nl7\nl8\n");           /* middle */
	check_all_contexts(base, "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl1\nl2\n"); /* repeat */
}

static void test_no_newline_at_end(void **state)
{
	(void)state;
	check_all_contexts("a\nb\nc", "a\nb\nc\n");
	check_all_contexts("a\nb\nc\n", "a\nb\nc");
	check_all_contexts("a\nb\nc", "a\nb\nd");
	check_all_contexts("a\nb\nc", "a\nX\nc");  /* the unterminated line is context */
	check_all_contexts("a\nb\nc", "X\nb\nc");
	check_all_contexts("a", "");
	check_all_contexts("", "a");
	check_all_contexts("a\nb", "a\nb\nc");
}

static void test_hunks_split_and_merge(void **state)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT, c = STRBUF_INIT;

	(void)state;
	for (int i = 1; i <= 40; i++) {
		sb_addf(&a, "line %d\n", i);
		/* Changes at 5 and 30 are far apart; 12 and 18 are 5 apart. */
		if (i == 5 || i == 30)
			sb_addf(&b, "changed %d\n", i);
		else
			sb_addf(&b, "line %d\n", i);
		if (i == 12 || i == 18)
			continue;
		sb_addf(&c, "line %d\n", i);
		if (i == 20)
			sb_adds(&c, "inserted\n");
	}
	check_all_contexts(a.buf, b.buf);
	check_all_contexts(a.buf, c.buf);
	check_all_contexts(b.buf, c.buf);
	check_against_gnu(a.buf, c.buf, 2);
	check_against_gnu(a.buf, c.buf, 3);
	sb_free(&a);
	sb_free(&b);
	sb_free(&c);
}

/* Config files repeat lines ("", "}", comments): where a change sits among
 * equal lines is decided by GNU's rules, which we follow. */
static void test_config_like(void **state)
{
	const char *a =
		"# main.cf\n\n"
		"smtpd_tls_cert_file = /etc/ssl/certs/old.pem\n"
		"smtpd_tls_key_file = /etc/ssl/private/old.key\n"
		"smtpd_tls_security_level = may\n\n"
		"\n"
		"smtp_tls_security_level = may\n"
		"}\n}\n}\n\n\n\n"
		"smtpd_tls_protocols = !SSLv2, !SSLv3\n"
		"mynetworks = 127.0.0.0/8\n";
	const char *b =
		"# main.cf\n\n"
		"smtpd_tls_cert_file = /etc/letsencrypt/live/mx/fullchain.pem\n"
		"smtpd_tls_key_file = /etc/letsencrypt/live/mx/privkey.pem\n"
		"smtpd_tls_security_level = may\n\n"
		"smtp_tls_security_level = may\n"
		"}\n}\n}\n}\n\n\n\n"
		"smtpd_tls_protocols = >=TLSv1.2\n"
		"smtpd_tls_mandatory_protocols = >=TLSv1.2\n"
		"mynetworks = 127.0.0.0/8\n"
		"# mailharden: end";

	(void)state;
	check_all_contexts(a, b);
	check_all_contexts(b, a);
}

static unsigned long lcg_state = 12345;

static unsigned rnd(unsigned n)
{
	lcg_state = lcg_state * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned)(lcg_state >> 33) % n;
}

static void random_text(struct strbuf *sb, unsigned lines, unsigned alphabet)
{
	for (unsigned i = 0; i < lines; i++)
		sb_addf(sb, "%c\n", 'a' + rnd(alphabet));
}

/* Generated pairs: b is a with random inserts, deletes and replacements. */
static void test_generated_against_gnu(void **state)
{
	static const unsigned alphabets[] = {2, 3, 5, 26};

	(void)state;
	for (int round = 0; round < 400; round++) {
		struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
		unsigned alphabet = alphabets[rnd(ARRAY_LEN(alphabets))];
		unsigned n = rnd(round < 300 ? 30 : 300), edits = rnd(8) + (n > 30 ? 20 : 0);
		char *text;

		random_text(&a, n, alphabet);
		text = xstrdup(a.buf ? a.buf : "");
		for (unsigned k = 0; k < edits; k++) {
			size_t len = strlen(text), at = len ? rnd((unsigned)len / 2) * 2 : 0;
			struct strbuf next = STRBUF_INIT;
			unsigned op = rnd(3);

			sb_add(&next, text, at);
			if (op == 0)
				sb_addf(&next, "%c\n", 'a' + rnd(alphabet));
			else if (op == 2)
				sb_addf(&next, "%c\n", 'A' + rnd(3));
			if (op == 0 || at >= len)
				sb_adds(&next, text + at);
			else
				sb_adds(&next, text + at + 2);
			free(text);
			text = sb_detach(&next);
		}
		sb_adds(&b, text);
		free(text);
		/* Sometimes drop the final newline of one side. */
		if (rnd(5) == 0 && a.len > 0)
			a.buf[--a.len] = '\0';
		if (rnd(5) == 0 && b.len > 0)
			b.buf[--b.len] = '\0';
		check_against_gnu(a.buf ? a.buf : "", b.buf ? b.buf : "", (int)rnd(4));
		sb_free(&a);
		sb_free(&b);
	}
}

static void test_large_input_is_fast(void **state)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	char *d;

	(void)state;
	/* Two unrelated 4000-line files with many repeated lines. */
	for (int i = 0; i < 4000; i++) {
		sb_addf(&a, "%c\n", 'x' + rnd(2));
		sb_addf(&b, "%c\n", 'x' + rnd(2));
	}
	d = diff_unified("a", a.buf, a.len, "b", b.buf, b.len, 3);
	assert_true(strlen(d) > 0);
	free(d);
	check_against_gnu(a.buf, b.buf, 3);
	sb_free(&a);
	sb_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_format),
		cmocka_unit_test(test_identical),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_no_newline_at_end),
		cmocka_unit_test(test_hunks_split_and_merge),
		cmocka_unit_test(test_config_like),
		cmocka_unit_test(test_generated_against_gnu),
		cmocka_unit_test(test_large_input_is_fast),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
