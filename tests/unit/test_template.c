/*
 * test_template.c - the template language: variables, blocks, nesting,
 * standalone tag lines, comments, every error with its line number,
 * injection refusal, loading from a --templates directory.
 */
#include "core/common.h"
#include "core/template.h"

#include "tests/unit/testutil.h"

/* Renders text as "t.tmpl" and expects success. */
static char *render(const char *text, const struct tvars *v)
{
	struct error e = {""};
	char *out = NULL;

	if (template_render_text("t.tmpl", text, strlen(text), v, &out, &e) != 0)
		fail_msg("render failed: %s", e.msg);
	assert_non_null(out);
	return out;
}

static void expect(const char *text, const struct tvars *v, const char *want)
{
	char *out = render(text, v);

	assert_string_equal(out, want);
	free(out);
}

/* Expects an error whose message equals want. */
static void expect_error(const char *text, const struct tvars *v, const char *want)
{
	struct error e = {""};
	char *out = (char *)"unchanged";

	assert_int_equal(template_render_text("t.tmpl", text, strlen(text), v, &out, &e), -1);
	assert_null(out);
	assert_string_equal(e.msg, want);
}

static void test_tvars(void **state)
{
	struct tvars *v = tvars_new();
	char key[32];

	(void)state;
	assert_null(tvars_get(v, "a"));
	tvars_set(v, "a", "1");
	tvars_set(v, "a", "2");
	assert_string_equal(tvars_get(v, "a"), "2");
	tvars_setf(v, "port", "%d/%s", 587, "tcp");
	assert_string_equal(tvars_get(v, "port"), "587/tcp");
	tvars_setb(v, "yes", true);
	tvars_setb(v, "no", false);
	expect("{{#if yes}}Y{{/if}}{{#if no}}N{{/if}}", v, "Y");
	/* Many keys: the array grows and keeps them all. */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		tvars_setf(v, key, "v%d", i);
	}
	for (int i = 0; i < 100; i++) {
		char want[32];

		snprintf(key, sizeof(key), "k%d", i);
		snprintf(want, sizeof(want), "v%d", i);
		assert_string_equal(tvars_get(v, key), want);
	}
	tvars_free(v);
}

static void test_variables(void **state)
{
	struct tvars *v = tvars_new();

	(void)state;
	tvars_set(v, "host", "mail.example.org");
	tvars_set(v, "cert.file", "/etc/ssl/a-b_c.pem");
	tvars_set(v, "empty", "");
	expect("", v, "");
	expect("no tags\n", v, "no tags\n");
	expect("myhostname = {{host}}\n", v, "myhostname = mail.example.org\n");
	expect("a {{ host }} b {{cert.file}}{{host}}", v,
	       "a mail.example.org b /etc/ssl/a-b_c.pemmail.example.org");
	expect("[{{empty}}]\n", v, "[]\n");
	/* A value is not itself a template. */
	tvars_set(v, "braces", "{{host}}");
	expect("{{braces}}", v, "{{host}}");
	/* Single braces and stray closers are text. */
	expect("a { b } c }} d\n", v, "a { b } c }} d\n");
	/* No final newline stays without one. */
	expect("x\n{{host}}", v, "x\nmail.example.org");
	tvars_free(v);
}

static void test_blocks(void **state)
{
	struct tvars *v = tvars_new();

	(void)state;
	tvars_set(v, "on", "yes");
	tvars_set(v, "zero", "0");
	tvars_set(v, "no", "no");
	tvars_set(v, "empty", "");
	tvars_set(v, "name", "x");
	expect("{{#if on}}A{{/if}}", v, "A");
	expect("{{#if zero}}A{{/if}}{{#if no}}B{{/if}}{{#if empty}}C{{/if}}{{#if unset}}D{{/if}}",
	       v, "");
	expect("{{#if on}}A{{else}}B{{/if}}|{{#if unset}}A{{else}}B{{/if}}", v, "A|B");
	expect("{{#unless on}}A{{/unless}}{{#unless zero}}B{{/unless}}", v, "B");
	expect("{{#unless unset}}A{{else}}B{{/unless}}", v, "A");
	/* Unset variables in a branch that is not taken are fine. */
	expect("{{#if unset}}{{missing}}{{else}}{{name}}{{/if}}", v, "x");
	tvars_free(v);
}

static void test_standalone_lines(void **state)
{
	struct tvars *v = tvars_new();
	const char *text =
		"first\n"
		"{{#if on}}\n"
		"  on line\n"
		"  {{#if off}}  \n"
		"  hidden\n"
		"  {{else}}\n"
		"  shown {{name}}\n"
		"  {{/if}}\n"
		"{{/if}}\n"
		"{{! a comment line }}\n"
		"last {{! inline comment }}kept\n"
		"{{#unless off}}inline{{/unless}}\n"
		"{{name}}\n"
		"\t{{/if}}\t";

	(void)state;
	tvars_set(v, "on", "1");
	tvars_set(v, "name", "N");
	/* The last line closes a block that never opened. */
	expect_error(text, v, "t.tmpl:14: {{/if}} without an opening block");
	expect("first\n{{#if on}}\n  on line\n{{/if}}\nend\n", v, "first\n  on line\nend\n");
	text = "first\n"
	       "{{#if on}}\n"
	       "  on line\n"
	       "  {{#if off}}  \n"
	       "  hidden\n"
	       "  {{else}}\n"
	       "  shown {{name}}\n"
	       "  {{/if}}\n"
	       "{{/if}}\n"
	       "{{! a comment line }}\n"
	       "last {{! inline comment }}kept\n"
	       "{{#unless off}}inline{{/unless}}\n"
	       "{{name}}\n"
	       "{{#if on}}\r\n"
	       "crlf\r\n"
	       "{{/if}}";
	expect(text, v,
	       "first\n"
	       "  on line\n"
	       "  shown N\n"
	       "last kept\n"
	       "inline\n"
	       "N\n"
	       "crlf\r\n");
	tvars_free(v);
}

static void test_nesting(void **state)
{
	struct tvars *v = tvars_new();
	const char *text =
		"{{#if a}}\n"
		"a\n"
		"{{#if b}}\n"
		"ab\n"
		"{{#unless c}}\n"
		"ab!c\n"
		"{{else}}\n"
		"abc\n"
		"{{/unless}}\n"
		"{{else}}\n"
		"a!b\n"
		"{{#if c}}\n"
		"a!bc\n"
		"{{/if}}\n"
		"{{/if}}\n"
		"{{else}}\n"
		"!a\n"
		"{{#if b}}\n"
		"!ab\n"
		"{{/if}}\n"
		"{{/if}}\n";
	static const struct {
		const char *a, *b, *c, *want;
	} cases[] = {
		{"1", "1", "0", "a\nab\nab!c\n"},
		{"1", "1", "1", "a\nab\nabc\n"},
		{"1", "0", "1", "a\na!b\na!bc\n"},
		{"1", "0", "0", "a\na!b\n"},
		{"0", "1", "1", "!a\n!ab\n"},
		{"0", "0", "1", "!a\n"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		tvars_set(v, "a", cases[i].a);
		tvars_set(v, "b", cases[i].b);
		tvars_set(v, "c", cases[i].c);
		expect(text, v, cases[i].want);
	}
	tvars_free(v);
}

static void test_errors(void **state)
{
	struct tvars *v = tvars_new();
	char deep[2048] = "";

	(void)state;
	tvars_set(v, "on", "1");
	expect_error("line one\n\nvalue {{missing}}\n", v,
		     "t.tmpl:3: template variable missing is not set");
	expect_error("a\n{{#if on}}\nb\n", v, "t.tmpl:2: {{#if on}} is never closed");
	expect_error("{{#if on}}\n{{#unless on}}\n{{/unless}}\n", v,
		     "t.tmpl:1: {{#if on}} is never closed");
	expect_error("x\n{{/unless}}\n", v, "t.tmpl:2: {{/unless}} without an opening block");
	expect_error("{{#unless on}}\n\n{{/if}}\n", v,
		     "t.tmpl:3: {{/if}} closes {{#unless on}} from line 1");
	expect_error("{{else}}\n", v, "t.tmpl:1: {{else}} outside a block");
	expect_error("{{#if on}}\n{{else}}\n{{else}}\n{{/if}}\n", v,
		     "t.tmpl:3: second {{else}} in {{#if on}} from line 1");
	expect_error("ok\nvalue {{on\n}}\n", v,
		     "t.tmpl:2: {{ without a closing }} on the same line");
	expect_error("{{#each on}}\n", v, "t.tmpl:1: unknown template tag {{#each on}}");
	expect_error("{{#if}}\n", v, "t.tmpl:1: unknown template tag {{#if}}");
	expect_error("{{bad name}}\n", v, "t.tmpl:1: unknown template tag {{bad name}}");
	expect_error("{{}}\n", v, "t.tmpl:1: unknown template tag {{}}");
	/* Errors inside a branch that is not taken are still errors. */
	expect_error("{{#if unset}}\n{{#if}}\n{{/if}}\n", v,
		     "t.tmpl:2: unknown template tag {{#if}}");
	for (int i = 0; i < 40; i++)
		strcat(deep, "{{#if on}}");
	expect_error(deep, v, "t.tmpl:1: blocks are nested too deeply");
	tvars_free(v);
}

static void test_injection_refused(void **state)
{
	struct tvars *v = tvars_new();
	char *out;

	(void)state;
	tvars_set(v, "host", "mail.example.org\nsmtpd_tls_security_level = none");
	tvars_set(v, "tab", "a\tb");
	tvars_set(v, "esc", "a\033[2Jb");
	tvars_set(v, "good", "fine");
	expect_error("x\nmyhostname = {{host}}\n", v,
		     "t.tmpl:2: value of template variable host contains a control character");
	expect_error("{{tab}}", v,
		     "t.tmpl:1: value of template variable tab contains a control character");
	expect_error("{{esc}}", v,
		     "t.tmpl:1: value of template variable esc contains a control character");
	/* Only substituted values are checked, not the ones tested by #if. */
	out = render("{{#if host}}{{good}}{{/if}}", v);
	assert_string_equal(out, "fine");
	free(out);
	tvars_free(v);
}

static void test_render_from_dir(void **state)
{
	struct tvars *v = tvars_new();
	struct error e = {""};
	char *dir = tu_mkdtemp(), *out = NULL;

	(void)state;
	tvars_set(v, "host", "mx.example.net");
	tu_write(dir, "postfix/main.cf.tmpl", "# managed\n{{#if host}}\nmyhostname = {{host}}\n{{/if}}\n");
	tu_write(dir, "postfix/broken.tmpl", "ok\n{{#if host}}\n");
	assert_int_equal(template_render(dir, "postfix/main.cf.tmpl", v, &out, &e), 0);
	assert_string_equal(out, "# managed\nmyhostname = mx.example.net\n");
	free(out);

	/* Errors name the template as it was asked for. */
	assert_int_equal(template_render(dir, "postfix/broken.tmpl", v, &out, &e), -1);
	assert_string_equal(e.msg, "postfix/broken.tmpl:2: {{#if host}} is never closed");

	assert_int_equal(template_render(dir, "postfix/missing.tmpl", v, &out, &e), -1);
	assert_null(out);
	assert_non_null(strstr(e.msg, "postfix/missing.tmpl"));
	assert_non_null(strstr(e.msg, "No such file"));

	assert_int_equal(template_render(dir, "../etc/passwd", v, &out, &e), -1);
	assert_string_equal(e.msg, "invalid template name \"../etc/passwd\"");
	assert_int_equal(template_render(dir, "postfix/../../x", v, &out, &e), -1);
	assert_int_equal(template_render(dir, "/etc/passwd", v, &out, &e), -1);
	assert_int_equal(template_render(dir, "post\nfix", v, &out, &e), -1);
	assert_string_equal(e.msg, "invalid template name \"?\"");
	assert_int_equal(template_render(dir, "", v, &out, &e), -1);
	tu_rmrf(dir);
	free(dir);
	tvars_free(v);
}

/* Same layout as tools/embed.c writes. */
struct embedded_file {
	const char *name;
	const char *data;
	unsigned long len;
};
extern const struct embedded_file mh_templates[];
extern const unsigned long mh_templates_count;

static void test_embedded(void **state)
{
	struct tvars *v = tvars_new();
	struct error e = {""};
	char *out = NULL;
	size_t len = 12345;

	(void)state;
	assert_null(template_embedded("postfix/no-such.tmpl", &len));
	assert_int_equal(len, 12345);
	assert_int_equal(template_render(NULL, "postfix/no-such.tmpl", v, &out, &e), -1);
	assert_string_equal(e.msg, "no built-in template named postfix/no-such.tmpl");
	/* Every embedded template is found under its own name, whole. */
	for (unsigned long i = 0; i < mh_templates_count; i++) {
		const char *data = template_embedded(mh_templates[i].name, &len);

		assert_ptr_equal(data, mh_templates[i].data);
		assert_int_equal(len, mh_templates[i].len);
		assert_int_equal(strlen(data), len);
		assert_null(strstr(mh_templates[i].name, "templates/"));
	}
	tvars_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tvars),
		cmocka_unit_test(test_variables),
		cmocka_unit_test(test_blocks),
		cmocka_unit_test(test_standalone_lines),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_injection_refused),
		cmocka_unit_test(test_render_from_dir),
		cmocka_unit_test(test_embedded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
