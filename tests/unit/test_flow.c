/*
 * test_flow.c - the wizard's question flow, driven by a scripted front end
 * (no terminal) and by the line front end over memory streams, on a lab
 * root made of the Postfix and Dovecot fixtures with a real certificate.
 *
 * The engine is replaced by a recorder: engine_apply has its own tests and
 * the real apply runs in tests/integration/test_tui.sh.  The recorder
 * writes nothing, so "nothing written" is checked against the tree itself.
 */
#include "testutil.h"

#include <dirent.h>
#include <limits.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../../core/dh.h"
#include "../../core/fsutil.h"
#include "../../selftest/selftest.h"

#define ROLES_POP3 (ROLE_POP3 | ROLE_POP3S)
#include "../../wizard/answers.h"
#include "../../wizard/flow.h"

/* ---- lab root -------------------------------------------------------------- */

struct lab {
	char *root;
	struct env env;
	struct error e;
};

static char *fixture(const char *rel)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *path;

	assert_true(n > 0);
	exe[n] = '\0';
	/* REPO/build/san/tests/test_flow -> REPO */
	for (int i = 0; i < 4 && strrchr(exe, '/'); i++)
		*strrchr(exe, '/') = '\0';
	path = xasprintf("%s/tests/unit/fixtures/%s", exe, rel);
	if (access(path, F_OK) != 0) {
		free(path);
		path = xasprintf("tests/unit/fixtures/%s", rel);
	}
	assert_int_equal(access(path, F_OK), 0);
	return path;
}

static void write_pem(const char *root, const char *rel, void *obj, bool key)
{
	char *path = xasprintf("%s%s", root, rel);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	if (key)
		assert_int_equal(PEM_write_PrivateKey(f, obj, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_X509(f, obj), 1);
	fclose(f);
	free(path);
}

/* RFC 7919 ffdhe2048 as PEM parameters: a named group, so no slow
 * generation. */
static void write_dh(const char *root, const char *rel)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("group", (char *)"ffdhe2048", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY *dh = NULL;
	char *path = xasprintf("%s%s", root, rel);
	BIO *bio;

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_paramgen_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_params(ctx, params), 1);
	assert_int_equal(EVP_PKEY_paramgen(ctx, &dh), 1);
	bio = BIO_new_file(path, "w");
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_Parameters(bio, dh), 1);
	BIO_free(bio);
	EVP_PKEY_free(dh);
	EVP_PKEY_CTX_free(ctx);
	free(path);
}

/* A self-signed P-256 certificate at /etc/ssl/mail.pem + mail.key, and a
 * second key that matches nothing at /etc/ssl/other.key. */
static void make_cert(const char *root)
{
	EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	assert_non_null(key);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"mail.example.org", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	write_pem(root, "/etc/ssl/mail.pem", x, false);
	write_pem(root, "/etc/ssl/mail.key", key, true);
	write_pem(root, "/etc/ssl/other.key", other, true);
	write_dh(root, "/etc/ssl/dh.pem");
	X509_free(x);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static int lab_setup(void **state)
{
	struct lab *l = xcalloc(1, sizeof(*l));
	char *pf = fixture("postfix/debian/etc/postfix"), *dc = fixture("dovecot/debian23"), *pdir;

	l->root = tu_mkdtemp();
	assert_int_equal(fs_copy_tree(dc, l->root), 0);
	pdir = path_join(l->root, "etc/postfix");
	assert_int_equal(mkdir(pdir, 0755), 0);
	assert_int_equal(fs_copy_tree(pf, pdir), 0);
	free(pdir);
	make_cert(l->root);
	assert_int_equal(env_init(&l->env, l->root, &l->e), 0);
	/* what the host has installed must not matter */
	l->env.no_host_tools = true;
	assert_int_equal(env_add_override(&l->env, "postfix=3.7.11", &l->e), 0);
	assert_int_equal(env_add_override(&l->env, "dovecot=2.3.19", &l->e), 0);
	assert_int_equal(env_add_override(&l->env, "openssl=3.0.17", &l->e), 0);
	free(pf);
	free(dc);
	*state = l;
	return 0;
}

static int lab_teardown(void **state)
{
	struct lab *l = *state;

	env_free(&l->env);
	tu_rmrf(l->root);
	free(l->root);
	free(l);
	return 0;
}

/* Every file under dir with its contents, in a stable order. */
static void snapshot_dir(const char *dir, struct strbuf *sb)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char *p = path_join(dir, names[i]->d_name);
		struct stat st;

		if (names[i]->d_name[0] != '.' && lstat(p, &st) == 0) {
			sb_addf(sb, "%s %o\n", p, st.st_mode);
			if (S_ISDIR(st.st_mode)) {
				snapshot_dir(p, sb);
			} else if (S_ISREG(st.st_mode)) {
				char *data;
				size_t len;

				assert_int_equal(read_file(p, &data, &len, NULL), 0);
				sb_add(sb, data, len);
				free(data);
			}
		}
		free(p);
		free(names[i]);
	}
	free(names);
}

static char *snapshot(const char *root)
{
	struct strbuf sb = STRBUF_INIT;

	snapshot_dir(root, &sb);
	return sb_detach(&sb);
}

/* ---- the recording engine ---------------------------------------------------- */

static int apply_calls;
static struct strbuf applied; /* server name + every new file text */

/* The DH file of the last apply, as the engine would write it. */
static char *last_extra_path, *last_extra_data;
static mode_t last_extra_mode;

static int record_apply(const struct env *env, const struct apply_set *set,
			const struct apply_opts *o, struct apply_result *r, struct error *e)
{
	(void)env;
	(void)e;
	apply_calls++;
	for (size_t k = 0; k < set->n_plans; k++) {
		const struct plan *p = set->plans[k];

		assert_false(plan_is_empty(p));
		sb_addf(&applied, "[%s]\n", p->server->backend->name);
		for (size_t i = 0; i < p->n_changes; i++)
			sb_addf(&applied, "%s\n%s", p->changes[i].path, p->changes[i].new_text);
		sl_add(&r->written, p->changes[0].path);
	}
	free(last_extra_data);
	free(last_extra_path);
	last_extra_data = last_extra_path = NULL;
	if (set->n_files) {
		assert_int_equal(set->n_files, 1);
		last_extra_path = xstrdup(set->files[0].path);
		last_extra_mode = set->files[0].mode;
		last_extra_data = xstrndup(set->files[0].data, set->files[0].len);
		sl_add(&r->written, set->files[0].path);
	}
	o->progress(o->progress_ctx, 50, "halfway");
	r->checkpoint_id = xasprintf("cp-%d", apply_calls);
	return 0;
}

static void recorder_reset(void)
{
	apply_calls = 0;
	free(last_extra_data);
	free(last_extra_path);
	last_extra_data = last_extra_path = NULL;
	sb_free(&applied);
}

/* ---- the scripted front end ----------------------------------------------------- */

enum kind { K_MESSAGE, K_YESNO, K_MENU, K_CHECKLIST, K_INPUT };

struct action {
	enum kind kind;
	const char *title;  /* expected title (substring) */
	enum fe_rc rc;
	const char *answer; /* menu: tag; checklist: "tag tag"; input: text; NULL = default */
};

struct script {
	const struct action *a;
	size_t n, pos;
	struct strbuf seen; /* titles of the screens, one per line */
	int gauge_calls;
	bool gauge_closed;
	bool cancel_gauge;  /* Esc on a gauge */
	int cancel_checks;
	char *yesno_text;   /* the first yes/no question (before the Apply one) */
	bool yesno_default_no;
};

static const struct action *next_action(struct frontend *fe, enum kind k, const char *title)
{
	struct script *s = fe->ctx;
	const struct action *a;

	sb_addf(&s->seen, "%s\n", title ? title : "");
	if (s->pos >= s->n)
		fail_msg("screen '%s' after the end of the script", title);
	a = &s->a[s->pos++];
	if (a->kind != k || (a->title && (title == NULL || strstr(title, a->title) == NULL)))
		fail_msg("step %zu: expected %d '%s', got %d '%s'", s->pos, a->kind,
			 a->title ? a->title : "", k, title ? title : "");
	return a;
}

static int sc_begin(struct frontend *fe, const char *bt, struct error *e)
{
	(void)fe, (void)bt, (void)e;
	return 0;
}

static void sc_end(struct frontend *fe)
{
	(void)fe;
}

static enum fe_rc sc_message(struct frontend *fe, const struct fe_screen *s)
{
	return next_action(fe, K_MESSAGE, s->title)->rc;
}

static enum fe_rc sc_yesno(struct frontend *fe, const struct fe_screen *s)
{
	struct script *sc = fe->ctx;
	const struct action *a = next_action(fe, K_YESNO, s->title);

	if (sc->yesno_text == NULL) {
		sc->yesno_text = xstrdup(s->text);
		sc->yesno_default_no = s->default_no;
	}
	if (strstr(s->title, "Apply")) {
		/* the confirmation names the files, Back is its default */
		assert_true(s->default_no);
		assert_non_null(strstr(s->text, "/etc/"));
	}
	return a->rc;
}

static enum fe_rc sc_menu(struct frontend *fe, const struct fe_screen *s,
			  const struct fe_item *items, size_t n, size_t *choice)
{
	const struct action *a = next_action(fe, K_MENU, s->title);

	if (s->back) /* every question has help */
		assert_non_null(s->help);
	*choice = s->default_item;
	if (a->answer) {
		size_t i;

		for (i = 0; i < n && strcmp(items[i].tag, a->answer) != 0; i++)
			;
		if (i == n)
			fail_msg("menu '%s' has no item '%s'", s->title, a->answer);
		*choice = i;
	}
	return a->rc;
}

static enum fe_rc sc_checklist(struct frontend *fe, const struct fe_screen *s,
			       struct fe_item *items, size_t n)
{
	const struct action *a = next_action(fe, K_CHECKLIST, s->title);

	assert_non_null(s->help);
	if (a->answer) {
		for (size_t i = 0; i < n; i++) {
			char *padded = xasprintf(" %s ", a->answer), *tag = xasprintf(" %s ", items[i].tag);

			items[i].on = strstr(padded, tag) != NULL;
			free(padded);
			free(tag);
		}
	}
	return a->rc;
}

static enum fe_rc sc_input(struct frontend *fe, const struct fe_screen *s, const char *init,
			   char **out)
{
	const struct action *a = next_action(fe, K_INPUT, s->title);

	if (a->rc == FE_OK)
		*out = xstrdup(a->answer ? a->answer : init);
	return a->rc;
}

static void sc_textview(struct frontend *fe, const char *title, const char *text)
{
	struct script *s = fe->ctx;

	assert_non_null(text);
	sb_addf(&s->seen, "view:%s\n", title);
}

static void sc_gauge(struct frontend *fe, const char *title, int percent, const char *step)
{
	struct script *s = fe->ctx;

	(void)title, (void)step;
	if (percent < 0)
		s->gauge_closed = true;
	else
		s->gauge_calls++;
}

static bool sc_gauge_cancelled(struct frontend *fe)
{
	struct script *s = fe->ctx;

	s->cancel_checks++;
	return s->cancel_gauge;
}

static struct frontend script_fe(struct script *s, const struct action *a, size_t n)
{
	bool cancel = s->cancel_gauge;

	memset(s, 0, sizeof(*s));
	s->a = a;
	s->n = n;
	s->cancel_gauge = cancel;
	return (struct frontend){.name = "script", .ctx = s, .begin = sc_begin, .end = sc_end,
				 .message = sc_message, .yesno = sc_yesno, .menu = sc_menu,
				 .checklist = sc_checklist, .input = sc_input,
				 .textview = sc_textview, .gauge = sc_gauge,
				 .gauge_cancelled = sc_gauge_cancelled};
}

static void script_free(struct script *s)
{
	sb_free(&s->seen);
	free(s->yesno_text);
	s->yesno_text = NULL;
}

/* ---- the default path ------------------------------------------------------------- */

/* Apply on the review, then Apply on the confirmation. */
#define REVIEW_APPLY {K_MENU, "Review", FE_OK, "apply"}, {K_YESNO, "Apply", FE_OK, NULL}
/* The notes on the plan, a screen of their own before the review. */
#define NOTES {K_MESSAGE, "Before you review", FE_OK, NULL}

static const struct action default_path[] = {
	{K_MESSAGE, "Harden", FE_OK, NULL},
	{K_CHECKLIST, "Mail servers", FE_OK, NULL},
	{K_CHECKLIST, "Services", FE_OK, "mx submission"},  /* postfix */
	{K_CHECKLIST, "Services", FE_OK, "imap imaps"},     /* dovecot */
	{K_MENU, "Mail client login", FE_OK, NULL},         /* detected first: dovecot */
	{K_MENU, "Compatibility", FE_OK, NULL},             /* default: intermediate */
	{K_MENU, "Certificate", FE_OK, "1"},
	{K_YESNO, "Certificate warnings", FE_OK, NULL}, /* self-signed: use it anyway */
	NOTES,
	REVIEW_APPLY,
	{K_MESSAGE, "Done", FE_OK, NULL},
};

static void run_script(struct lab *l, const struct action *a, size_t n,
		       const struct wizard_opts *o, struct wizard_result *r, struct script *s)
{
	struct frontend fe = script_fe(s, a, n);
	struct wizard_opts def = {.apply = record_apply};

	wizard_run(&l->env, &fe, o ? o : &def, r, &l->e);
	if (s->pos != s->n)
		fail_msg("script stopped at step %zu of %zu (%s)", s->pos, s->n, l->e.msg);
}

static bool summary_has(const struct wizard_result *r, const char *part)
{
	for (size_t i = 0; i < r->summary.n; i++)
		if (strstr(r->summary.v[i], part))
			return true;
	return false;
}

static void test_default_path(void **state)
{
	struct lab *l = *state;
	struct wizard_result r;
	struct script s = {0};
	char *before = snapshot(l->root), *after;

	recorder_reset();
	run_script(l, default_path, ARRAY_LEN(default_path), NULL, &r, &s);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_int_equal(r.servers.n, 2);
	assert_string_equal(r.servers.v[0], "postfix");
	assert_string_equal(r.roles.v[0], "mx,submission");
	assert_string_equal(r.servers.v[1], "dovecot");
	assert_string_equal(r.roles.v[1], "imap,imaps");
	assert_string_equal(r.profile->name, "intermediate");
	assert_string_equal(r.cert, "/etc/ssl/mail.pem");
	assert_string_equal(r.key, "/etc/ssl/mail.key");
	assert_null(r.dh);
	/* one run, one transaction, one checkpoint */
	assert_int_equal(apply_calls, 1);
	assert_int_equal(r.checkpoints.n, 1);
	assert_non_null(strstr(applied.buf, "[postfix]"));
	assert_non_null(strstr(applied.buf, "[dovecot]"));
	assert_non_null(strstr(applied.buf, "smtpd_tls_mandatory_protocols = >=TLSv1.2"));
	assert_non_null(strstr(applied.buf, "ssl_min_protocol = TLSv1.2"));
	assert_true(s.gauge_calls >= 1 && s.gauge_closed);
	/* the summary names the checkpoint and the exact rollback command */
	{
		char *want = xasprintf("  undo with: mailharden rollback cp-1 --root %s", l->root);
		bool found = false;

		for (size_t i = 0; i < r.summary.n; i++)
			found |= strcmp(r.summary.v[i], want) == 0;
		assert_true(found);
		free(want);
	}
	after = snapshot(l->root);
	assert_string_equal(before, after);
	wizard_result_free(&r);
	script_free(&s);
	free(before);
	free(after);
}

/* ---- cancel at each step ----------------------------------------------------------- */

static void test_cancel_each_step(void **state)
{
	struct lab *l = *state;
	char *before = snapshot(l->root);

	/* every screen before the review, and the review itself; No on the
	 * certificate warning returns to the choice, it does not quit */
	for (size_t k = 0; k < 9; k++) {
		struct action a[16];
		struct wizard_result r;
		struct script s = {0};
		char *after;

		if (default_path[k].kind == K_YESNO || (default_path[k].kind == K_MESSAGE && k > 0))
			continue;
		memcpy(a, default_path, k * sizeof(*a));
		a[k] = default_path[k];
		a[k].rc = FE_CANCEL;
		a[k + 1] = (struct action){K_YESNO, "Quit", FE_OK, NULL};
		recorder_reset();
		run_script(l, a, k + 2, NULL, &r, &s);
		assert_int_equal(r.outcome, WIZARD_CANCELLED);
		assert_int_equal(apply_calls, 0);
		after = snapshot(l->root);
		assert_string_equal(before, after);
		free(after);
		wizard_result_free(&r);
		script_free(&s);
	}
	free(before);
}

/* "No" on the quit question shows the same step again. */
static void test_cancel_then_stay(void **state)
{
	struct lab *l = *state;
	struct action a[16];
	struct wizard_result r;
	struct script s = {0};
	size_t n = 0;

	for (size_t i = 0; i < 5; i++)
		a[n++] = default_path[i];
	a[4].rc = FE_CANCEL;
	a[n++] = (struct action){K_YESNO, "Quit", FE_BACK, NULL};
	for (size_t i = 4; i < ARRAY_LEN(default_path); i++)
		a[n++] = default_path[i];
	recorder_reset();
	run_script(l, a, n, NULL, &r, &s);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	wizard_result_free(&r);
	script_free(&s);
}

/* ---- back ------------------------------------------------------------------------------ */

static void test_back_from_review(void **state)
{
	struct lab *l = *state;
	static const struct action a[] = {
		{K_MESSAGE, "Harden", FE_OK, NULL},
		{K_CHECKLIST, "Mail servers", FE_OK, NULL},
		{K_CHECKLIST, "Services", FE_OK, "mx submission"},
		{K_CHECKLIST, "Services", FE_OK, "imaps"},
		{K_MENU, "Mail client login", FE_OK, NULL},
		{K_MENU, "Compatibility", FE_OK, NULL},
		{K_MENU, "Certificate", FE_OK, "1"},
		{K_YESNO, "Certificate warnings", FE_OK, NULL},
		NOTES,
		{K_MENU, "Review", FE_EXTRA, NULL},         /* Explain */
		{K_MENU, "Review", FE_BACK, NULL},
		{K_MENU, "Go back", FE_OK, "4"},            /* Compatibility */
		{K_MENU, "Compatibility", FE_OK, "modern"},
		{K_MENU, "Review", FE_BACK, NULL},          /* straight back to the review */
		{K_MENU, "Go back", FE_OK, "2"},            /* Services: every server again */
		{K_CHECKLIST, "Services", FE_OK, "submissions"},
		{K_CHECKLIST, "Services", FE_OK, "imaps"},
		NOTES,                                      /* new notes: shown again */
		REVIEW_APPLY,
		{K_MESSAGE, "Done", FE_OK, NULL},
	};
	struct wizard_result r;
	struct script s = {0};

	recorder_reset();
	run_script(l, a, ARRAY_LEN(a), NULL, &r, &s);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_string_equal(r.profile->name, "modern");
	assert_string_equal(r.roles.v[0], "submissions");
	assert_non_null(strstr(s.seen.buf, "view:What each setting does"));
	assert_non_null(strstr(applied.buf, ">=TLSv1.3"));
	wizard_result_free(&r);
	script_free(&s);
}

/* Back walks to the previous screen, across servers. */
static void test_back_steps(void **state)
{
	struct lab *l = *state;
	static const struct action a[] = {
		{K_MESSAGE, "Harden", FE_OK, NULL},
		{K_CHECKLIST, "Mail servers", FE_OK, NULL},
		{K_CHECKLIST, "Services", FE_OK, "mx"},
		{K_CHECKLIST, "Services", FE_BACK, NULL},    /* dovecot -> postfix */
		{K_CHECKLIST, "Services", FE_BACK, NULL},    /* postfix -> servers */
		{K_CHECKLIST, "Mail servers", FE_OK, "postfix"},
		{K_CHECKLIST, "Services", FE_OK, "mx submission"},
		{K_MENU, "Mail client login", FE_OK, NULL},
		{K_MENU, "Compatibility", FE_OK, "intermediate"},
		{K_MENU, "Certificate", FE_OK, "1"},
		{K_YESNO, "Certificate warnings", FE_OK, NULL},
		NOTES,
		REVIEW_APPLY,
		{K_MESSAGE, "Done", FE_OK, NULL},
	};
	struct wizard_result r;
	struct script s = {0};

	recorder_reset();
	run_script(l, a, ARRAY_LEN(a), NULL, &r, &s);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_int_equal(r.servers.n, 1);
	assert_int_equal(apply_calls, 1);
	wizard_result_free(&r);
	script_free(&s);
}

/* ---- certificate checks --------------------------------------------------------------- */

static void test_cert_key_mismatch(void **state)
{
	struct lab *l = *state;
	static const struct action a[] = {
		{K_MESSAGE, "Harden", FE_OK, NULL},
		{K_CHECKLIST, "Mail servers", FE_OK, "postfix"},
		{K_CHECKLIST, "Services", FE_OK, "mx"},
		{K_MENU, "Compatibility", FE_OK, NULL},
		{K_MENU, "Certificate", FE_OK, "path"},
		{K_INPUT, "Certificate", FE_OK, "/etc/ssl/mail.pem"},
		{K_INPUT, "Private key", FE_OK, "/etc/ssl/other.key"},
		{K_MESSAGE, "Error", FE_OK, NULL},           /* does not match: ask again */
		{K_MENU, "Certificate", FE_OK, "path"},
		{K_INPUT, "Certificate", FE_OK, NULL},       /* keeps the typed value */
		{K_INPUT, "Private key", FE_OK, "/etc/ssl/mail.key"},
		{K_YESNO, "Certificate warnings", FE_OK, NULL},
		REVIEW_APPLY,
		{K_MESSAGE, "Done", FE_OK, NULL},
	};
	struct wizard_result r;
	struct script s = {0};

	recorder_reset();
	run_script(l, a, ARRAY_LEN(a), NULL, &r, &s);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_string_equal(r.key, "/etc/ssl/mail.key");
	wizard_result_free(&r);
	script_free(&s);
}

/* ---- answers files -------------------------------------------------------------------- */

static const char full_answers[] =
	"# test\n"
	"servers = postfix, dovecot\n"
	"postfix.roles = mx, submission, submissions\n"
	"dovecot.roles = imap, imaps\n"
	"profile = old\n"
	"cert = /etc/ssl/mail.pem\n"
	"key = /etc/ssl/mail.key\n"
	"dh = /etc/ssl/dh.pem\n"
	"accept = cert.expiring, cert.self_signed, cert.name.mismatch, cert.key.mode\n"
	"apply = yes\n";

static void run_batch(struct lab *l, const char *text, struct wizard_result *r, int *rc)
{
	struct answers_file af;
	struct wizard_opts o = {.non_interactive = true, .apply = record_apply};
	FILE *out = fopen("/dev/null", "w");
	struct frontend *fe = fe_line_new(NULL, out);

	assert_int_equal(answers_parse("test.answers", text, &af, &l->e), 0);
	o.preset = &af;
	*rc = wizard_run(&l->env, fe, &o, r, &l->e);
	fclose(out);
	fe_free(fe);
	answers_file_free(&af);
}

static void test_noninteractive_complete(void **state)
{
	struct lab *l = *state;
	struct wizard_result r;
	char *first;
	int rc;

	recorder_reset();
	run_batch(l, full_answers, &r, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_string_equal(r.profile->name, "old");
	assert_string_equal(r.dh, "/etc/ssl/dh.pem");
	assert_int_equal(apply_calls, 1);
	/* a preseeded certificate's warnings are printed, not asked */
	assert_true(summary_has(&r, "has warnings"));
	assert_true(summary_has(&r, "self-signed"));
	first = xstrdup(applied.buf);
	wizard_result_free(&r);
	/* same answers, same files */
	recorder_reset();
	run_batch(l, full_answers, &r, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(first, applied.buf);
	free(first);
	wizard_result_free(&r);
}

/* Without "accept" a non-interactive run refuses what the interactive
 * default refuses, naming each id; nothing reaches the engine. */
static void test_noninteractive_refuses_findings(void **state)
{
	struct lab *l = *state;
	struct wizard_result r;
	char *text = xstrdup(full_answers);
	int rc;

	*strstr(text, "accept = ") = '\0';
	strcat(text, "apply = yes\n");
	recorder_reset();
	run_batch(l, text, &r, &rc);
	assert_int_equal(rc, -1);
	assert_int_equal(apply_calls, 0);
	assert_non_null(strstr(l->e.msg, "cert.self_signed (high)"));
	assert_non_null(strstr(l->e.msg, "cert.key.mode (critical)"));
	assert_non_null(strstr(l->e.msg, "accept = "));
	wizard_result_free(&r);
	free(text);
}

static void test_noninteractive_missing(void **state)
{
	static const char *const keys[] = {"servers", "postfix.roles", "dovecot.roles", "profile",
					   "cert", "dh", "apply"};
	struct lab *l = *state;
	char *before = snapshot(l->root);

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		struct strbuf sb = STRBUF_INIT;
		struct wizard_result r;
		char *want = xasprintf("missing answer '%s'", keys[i]), *after;
		char *copy = xstrdup(full_answers), *save = NULL;
		int rc;

		for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			if (strncmp(line, keys[i], strlen(keys[i])) != 0 ||
			    line[strlen(keys[i])] != ' ')
				sb_addf(&sb, "%s\n", line);
		recorder_reset();
		run_batch(l, sb.buf, &r, &rc);
		assert_int_equal(rc, -1);
		assert_int_equal(r.outcome, WIZARD_FAILED);
		if (strstr(l->e.msg, want) == NULL)
			fail_msg("without %s: '%s'", keys[i], l->e.msg);
		assert_int_equal(apply_calls, 0);
		after = snapshot(l->root);
		assert_string_equal(before, after);
		free(after);
		free(want);
		free(copy);
		sb_free(&sb);
		wizard_result_free(&r);
	}
	free(before);
}

static void test_answers_syntax(void **state)
{
	struct lab *l = *state;
	struct answers_file af;

	assert_int_equal(answers_parse("f", "servers = postfix\n\nbogus = 1\n", &af, &l->e), -1);
	assert_string_equal(l->e.msg, "f:3: unknown key 'bogus'");
	assert_int_equal(answers_parse("f", "profile = old\nprofile = modern\n", &af, &l->e), -1);
	assert_non_null(strstr(l->e.msg, "f:2:"));
	assert_int_equal(answers_parse("f", "servers postfix\n", &af, &l->e), -1);
	assert_non_null(strstr(l->e.msg, "f:1:"));
	assert_int_equal(answers_parse("f", "sendmail.roles = mx\n", &af, &l->e), -1);
	assert_int_equal(answers_parse("f", " postfix.roles =  mx , submission \n", &af, &l->e), 0);
	assert_string_equal(answers_get(&af, "postfix.roles"), "mx , submission");
	assert_null(answers_get(&af, "profile"));
	answers_file_free(&af);
}

static void test_answers_bad_values(void **state)
{
	struct lab *l = *state;
	struct wizard_result r;
	int rc;

	recorder_reset();
	run_batch(l, "servers = postfix\npostfix.roles = imaps\n", &r, &rc);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(l->e.msg, "cannot serve role imaps"));
	wizard_result_free(&r);
	run_batch(l, "servers = postfix\npostfix.roles = mx\nprofile = strong\n", &r, &rc);
	assert_non_null(strstr(l->e.msg, "unknown profile 'strong'"));
	wizard_result_free(&r);
	run_batch(l, "servers = postfix\npostfix.roles = mx\nprofile = modern\n"
		     "cert = /etc/ssl/mail.pem\nkey = /etc/ssl/other.key\napply = yes\n", &r, &rc);
	assert_non_null(strstr(l->e.msg, "does not match"));
	assert_int_equal(apply_calls, 0);
	wizard_result_free(&r);
}

/* Submission without a sasl answer: Dovecot is on this host, so Postfix
 * hands AUTH to Dovecot's socket and Dovecot's drop-in serves it; "none"
 * says plainly that nobody can log in. */
static void test_sasl(void **state)
{
	struct lab *l = *state;
	struct wizard_result r;
	int rc;

	recorder_reset();
	run_batch(l, full_answers, &r, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(applied.buf, "smtpd_sasl_type = dovecot\nsmtpd_sasl_path = private/auth"));
	assert_non_null(strstr(applied.buf, "service auth {\n  unix_listener /var/spool/postfix/private/auth {\n"
					    "    mode = 0660\n    user = postfix\n    group = postfix\n"));
	wizard_result_free(&r);

	recorder_reset();
	{
		char *none = xasprintf("%ssasl = none\n", full_answers);

		run_batch(l, none, &r, &rc);
		free(none);
	}
	assert_int_equal(rc, 0);
	assert_null(strstr(applied.buf, "smtpd_sasl_type"));
	assert_null(strstr(applied.buf, "unix_listener"));
	assert_true(summary_has(&r, "CANNOT AUTHENTICATE"));
	wizard_result_free(&r);

	recorder_reset();
	run_batch(l, "servers = postfix\npostfix.roles = submission\nsasl = kerberos\n", &r, &rc);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(l->e.msg, "unknown sasl 'kerberos'"));
	wizard_result_free(&r);
}

/* ---- the line front end over a pipe-like stream ---------------------------------------- */

static void test_line_mode(void **state)
{
	struct lab *l = *state;
	/* Enter at the welcome, servers as found, postfix: 1 2 (mx,
	 * submission), dovecot: imaps by tag, profile default, cert 1 and yes
	 * to its warnings, Enter after the notes, then
	 * "?" for help, "e" for Explain, the word apply and y to confirm */
	static const char input[] = "\n\n1 2\nimaps\n\n\n1\nyes\n\n?\ne\napply\ny\n";
	FILE *in = fmemopen((void *)input, sizeof(input) - 1, "r");
	char *out_buf = NULL;
	size_t out_len = 0;
	FILE *out = open_memstream(&out_buf, &out_len);
	struct frontend *fe = fe_line_new(in, out);
	struct wizard_opts o = {.apply = record_apply};
	struct wizard_result r;

	recorder_reset();
	fe->mark = "lab";
	assert_int_equal(wizard_run(&l->env, fe, &o, &r, &l->e), 0);
	fclose(out);
	fclose(in);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_string_equal(r.roles.v[0], "mx,submission");
	assert_string_equal(r.roles.v[1], "imaps");
	assert_non_null(strstr(out_buf, "== Compatibility (5/8) [lab] =="));
	assert_non_null(strstr(out_buf, "Android 4.4.2"));
	assert_non_null(strstr(out_buf, "== What each setting does [lab] =="));
	assert_non_null(strstr(out_buf, "undo with: mailharden rollback cp-1"));
	free(out_buf);
	fe_free(fe);
	wizard_result_free(&r);
}

/* On the review "1" is file 1, never Apply; "apply" asks again, with
 * Back (Enter) as the default, and [y/n] prompts show their default. */
static void test_line_mode_review_safe(void **state)
{
	struct lab *l = *state;
	static const char input[] = "\n\n1 2\nimaps\n\n\n1\n\n1\ny\n\n1\napply\n\n";
	FILE *in = fmemopen((void *)input, sizeof(input) - 1, "r");
	char *out_buf = NULL;
	size_t out_len = 0;
	FILE *out = open_memstream(&out_buf, &out_len);
	struct frontend *fe = fe_line_new(in, out);
	struct wizard_opts o = {.apply = record_apply};
	struct wizard_result r;
	char *before = snapshot(l->root), *after;

	recorder_reset();
	fe->mark = "lab";
	wizard_run(&l->env, fe, &o, &r, &l->e);
	fclose(out);
	fclose(in);
	assert_int_equal(r.outcome, WIZARD_CANCELLED);
	assert_int_equal(apply_calls, 0);
	/* the certificate warning defaults to No: Enter went back to the list */
	assert_non_null(strstr(out_buf, "[y/N]:"));
	/* "1" showed the first file's diff */
	assert_non_null(strstr(out_buf, "+++ /etc/postfix/main.cf"));
	/* apply is a word, not a number, and the confirmation names the files */
	assert_non_null(strstr(out_buf, "  apply  "));
	assert_null(strstr(out_buf, ") apply"));
	assert_non_null(strstr(out_buf, "Apply now? These files will be written:"));
	after = snapshot(l->root);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(out_buf);
	fe_free(fe);
	wizard_result_free(&r);
}

/* Input that ends early cancels: nothing applied. */
static void test_line_mode_eof(void **state)
{
	struct lab *l = *state;
	static const char input[] = "\n\n";
	FILE *in = fmemopen((void *)input, sizeof(input) - 1, "r");
	FILE *out = fopen("/dev/null", "w");
	struct frontend *fe = fe_line_new(in, out);
	struct wizard_opts o = {.apply = record_apply};
	struct wizard_result r;

	recorder_reset();
	fe->mark = "lab";
	assert_int_equal(wizard_run(&l->env, fe, &o, &r, &l->e), 0);
	assert_int_equal(r.outcome, WIZARD_CANCELLED);
	assert_int_equal(apply_calls, 0);
	fclose(in);
	fclose(out);
	fe_free(fe);
	wizard_result_free(&r);
}

/* ---- explanations ------------------------------------------------------------------------ */

static void test_explain(void **state)
{
	const char *generic = explain_setting("no_such_setting = 1");

	(void)state;
	assert_non_null(strstr(explain_setting("smtpd_tls_mandatory_protocols = >=TLSv1.2"),
			       "RFC 8996"));
	assert_non_null(strstr(explain_setting("submissions/inet/smtpd_tls_wrappermode = yes"),
			       "RFC 8314"));
	assert_non_null(strstr(explain_setting("submission/inet/smtpd_tls_security_level = encrypt"),
			       "requires TLS"));
	assert_non_null(strstr(explain_setting("smtpd_tls_security_level = may"), "opportunistic"));
	assert_non_null(strstr(explain_setting("tls_ffdhe_auto_groups = ffdhe2048"), "RFC 7919"));
	assert_non_null(strstr(explain_setting("service pop3-login { inet_listener pop3 { port = 0 } }"),
			       "closed"));
	assert_ptr_not_equal(explain_setting("ssl_min_protocol = TLSv1.2"), generic);
}

/* Every setting a real plan sets has its own explanation. */
static void test_explain_covers_plans(void **state)
{
	struct lab *l = *state;
	static const char *const profiles[] = {"modern", "intermediate", "old"};
	const char *generic = explain_setting("no_such_setting = 1");

	for (size_t p = 0; p < ARRAY_LEN(profiles); p++) {
		for (const struct backend *const *b = backend_list(); *b; b++) {
			struct server_info si = {.backend = *b};
			/* the Dovecot fixture has no pop3 protocol */
			struct answers a = {.roles = (*b)->roles_possible & ~(unsigned)ROLES_POP3,
					    .profile = profile_by_name(profiles[p]),
					    .cert_file = "/etc/ssl/mail.pem",
					    .key_file = "/etc/ssl/mail.key",
					    .dh_file = p == 2 ? "/etc/ssl/dh.pem" : NULL};
			struct plan plan = {0};

			(*b)->detect(&l->env, &si);
			si.backend = *b;
			/* the lab fixture has Postfix and Dovecot only (a host's Exim
			 * binary alone is not a usable server) */
			if (!si.usable) {
				server_info_free(&si);
				continue;
			}
			plan.server = &si;
			assert_int_equal((*b)->plan(&l->env, &si, &a, &plan, &l->e), 0);
			for (size_t i = 0; i < plan.settings.n; i++)
				if (explain_setting(plan.settings.v[i]) == generic)
					fail_msg("no explanation for '%s'", plan.settings.v[i]);
			plan_free(&plan);
			server_info_free(&si);
		}
	}
}

/* ---- certificate warnings ------------------------------------------------------------ */

/* The lab certificate is self-signed and expires tomorrow: the warning
 * defaults to No, and No returns to the choice. */
static void test_cert_warnings(void **state)
{
	struct lab *l = *state;
	static const struct action a[] = {
		{K_MESSAGE, "Harden", FE_OK, NULL},
		{K_CHECKLIST, "Mail servers", FE_OK, "postfix"},
		{K_CHECKLIST, "Services", FE_OK, "mx"},
		{K_MENU, "Compatibility", FE_OK, NULL},
		{K_MENU, "Certificate", FE_OK, "1"},
		{K_YESNO, "Certificate warnings", FE_BACK, NULL}, /* No */
		{K_MENU, "Certificate", FE_OK, "keep"},
		/* keep is inspected too: the certificate in use is the same one */
		{K_YESNO, "Certificate warnings", FE_OK, NULL},
		REVIEW_APPLY,
		{K_MESSAGE, "Done", FE_OK, NULL},
	};
	struct wizard_result r;
	struct script s = {0};

	recorder_reset();
	run_script(l, a, ARRAY_LEN(a), NULL, &r, &s);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_null(r.cert);
	assert_non_null(s.yesno_text);
	assert_non_null(strstr(s.yesno_text, "self-signed"));
	assert_non_null(strstr(s.yesno_text, "days"));   /* expiring */
	assert_non_null(strstr(s.yesno_text, "/etc/ssl/mail.pem"));
	assert_true(s.yesno_default_no);
	/* the lab run skips the self-test and says how to run it */
	assert_true(summary_has(&r, "Self-test skipped in lab mode"));
	assert_true(summary_has(&r, "mailharden selftest"));
	assert_int_equal(r.selftest, -1);
	wizard_result_free(&r);
	script_free(&s);
}

/* ---- DH parameters ---------------------------------------------------------------------- */

static const struct action dh_head[] = {
	{K_MESSAGE, "Harden", FE_OK, NULL},
	{K_CHECKLIST, "Mail servers", FE_OK, NULL},
	{K_CHECKLIST, "Services", FE_OK, "mx submission"},
	{K_CHECKLIST, "Services", FE_OK, "imaps"},
	{K_MENU, "Mail client login", FE_OK, NULL},
	{K_MENU, "Compatibility", FE_OK, "old"},
	{K_MENU, "Certificate", FE_OK, "1"},
	{K_YESNO, "Certificate warnings", FE_OK, NULL},
};

static size_t with_head(struct action *a, const struct action *tail, size_t n)
{
	memcpy(a, dh_head, sizeof(dh_head));
	memcpy(a + ARRAY_LEN(dh_head), tail, n * sizeof(*tail));
	return ARRAY_LEN(dh_head) + n;
}

static bool lab_exists(const struct lab *l, const char *rel, mode_t *mode)
{
	char *p = xasprintf("%s%s", l->root, rel);
	struct stat st;
	bool ok = stat(p, &st) == 0;

	if (ok && mode)
		*mode = st.st_mode & 07777;
	free(p);
	return ok;
}

/* The named group is made in memory and written only at apply. */
static void test_dh_named_group(void **state)
{
	struct lab *l = *state;
	static const struct action quit[] = {
		{K_MENU, "DH parameters", FE_OK, "group"},
		NOTES,
		{K_MENU, "Review", FE_CANCEL, NULL},
		{K_YESNO, "Quit", FE_OK, NULL},
	};
	static const struct action go[] = {
		{K_MENU, "DH parameters", FE_OK, "group"},
		NOTES,
		REVIEW_APPLY,
		{K_MESSAGE, "Done", FE_OK, NULL},
	};
	const char *target = "/etc/ssl/mailharden/dh2048.pem";
	struct action a[16];
	struct wizard_result r;
	struct script s = {0};
	struct dh_check c;

	recorder_reset();
	run_script(l, a, with_head(a, quit, ARRAY_LEN(quit)), NULL, &r, &s);
	assert_int_equal(r.outcome, WIZARD_CANCELLED);
	assert_false(lab_exists(l, target, NULL));
	wizard_result_free(&r);
	script_free(&s);

	recorder_reset();
	run_script(l, a, with_head(a, go, ARRAY_LEN(go)), NULL, &r, &s);
	if (r.outcome != WIZARD_APPLIED)
		fail_msg("%s", l->e.msg);
	assert_string_equal(r.dh, target);
	/* the DH file goes to the engine with the plans: one checkpoint */
	assert_int_equal(apply_calls, 1);
	assert_string_equal(last_extra_path, target);
	assert_int_equal(last_extra_mode, 0644);
	assert_false(lab_exists(l, target, NULL));
	assert_int_equal(dh_check_pem(last_extra_data, strlen(last_extra_data), &c, &l->e), 0);
	assert_true(dh_check_ok(&c));
	assert_string_equal(c.group, "ffdhe2048");
	/* both plans point the servers at it */
	assert_non_null(strstr(applied.buf, "smtpd_tls_dh1024_param_file = /etc/ssl/mailharden/dh2048.pem"));
	assert_non_null(strstr(applied.buf, "ssl_dh = </etc/ssl/mailharden/dh2048.pem"));
	assert_true(summary_has(&r, "created /etc/ssl/mailharden/dh2048.pem"));
	wizard_result_free(&r);
	script_free(&s);
}

/* Esc on the generation gauge makes nothing; an existing file then works. */
static void test_dh_fresh_cancel_then_file(void **state)
{
	struct lab *l = *state;
	static const struct action tail[] = {
		{K_MENU, "DH parameters", FE_OK, "fresh"},
		{K_MENU, "DH parameters", FE_OK, "file"},   /* back on the choice */
		{K_INPUT, "DH parameters", FE_OK, "/etc/ssl/dh.pem"},
		NOTES,
		REVIEW_APPLY,
		{K_MESSAGE, "Done", FE_OK, NULL},
	};
	struct action a[16];
	struct wizard_result r;
	struct script s = {.cancel_gauge = true};

	recorder_reset();
	run_script(l, a, with_head(a, tail, ARRAY_LEN(tail)), NULL, &r, &s);
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_true(s.cancel_checks >= 1);
	assert_true(s.gauge_calls >= 1);
	assert_string_equal(r.dh, "/etc/ssl/dh.pem");
	assert_false(lab_exists(l, "/etc/ssl/mailharden", NULL));
	assert_non_null(strstr(applied.buf, "/etc/ssl/dh.pem"));
	wizard_result_free(&r);
	script_free(&s);
}

/* ---- self-test after apply on a live system ----------------------------------------------- */

static int selftest_calls;
static struct strbuf rolled; /* checkpoint ids rolled back, in order */

static void critical_selftest(const struct selftest_opts *o, struct port_result *r, size_t n)
{
	(void)o;
	selftest_calls++;
	for (size_t i = 0; i < n; i++)
		r[i].status = PORT_TESTED;
	findings_add(&r[0].findings, "tls.sslv3", SEV_CRITICAL, "SSLv3 accepted", NULL);
}

static int record_rollback(const struct env *env, const char *id, bool force, bool reload,
			   struct strlist *restored, struct strlist *recovered, struct error *e)
{
	(void)env, (void)force, (void)recovered, (void)e;
	assert_true(reload);
	sb_addf(&rolled, "%s ", id);
	sl_add(restored, "/etc/postfix/main.cf");
	return 0;
}

static void test_selftest_rollback(void **state)
{
	struct lab *l = *state;
	struct action a[16];
	struct wizard_result r;
	struct script s = {0};
	struct wizard_opts o = {.apply = record_apply, .selftest = critical_selftest,
				.rollback = record_rollback};
	size_t n = 0;

	for (size_t i = 0; i + 1 < ARRAY_LEN(default_path); i++)
		a[n++] = default_path[i];
	a[n++] = (struct action){K_YESNO, "Roll back?", FE_OK, NULL};
	a[n++] = (struct action){K_MESSAGE, "Done", FE_OK, NULL};
	recorder_reset();
	selftest_calls = 0;
	sb_free(&rolled);
	l->env.lab = false; /* the engine and self-test are fakes: nothing goes live */
	run_script(l, a, n, &o, &r, &s);
	l->env.lab = true;
	assert_int_equal(r.outcome, WIZARD_APPLIED);
	assert_int_equal(selftest_calls, 1);
	assert_int_equal(r.selftest, 2);
	assert_non_null(strstr(s.seen.buf, "view:Self-test"));
	assert_true(r.rolled_back);
	assert_string_equal(rolled.buf, "cp-1 ");
	assert_true(summary_has(&r, "Rolled back checkpoint cp-1"));
	sb_free(&rolled);
	wizard_result_free(&r);
	script_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_path),
		cmocka_unit_test(test_cancel_each_step),
		cmocka_unit_test(test_cancel_then_stay),
		cmocka_unit_test(test_back_from_review),
		cmocka_unit_test(test_back_steps),
		cmocka_unit_test(test_cert_key_mismatch),
		cmocka_unit_test(test_noninteractive_complete),
		cmocka_unit_test(test_noninteractive_refuses_findings),
		cmocka_unit_test(test_noninteractive_missing),
		cmocka_unit_test(test_answers_syntax),
		cmocka_unit_test(test_answers_bad_values),
		cmocka_unit_test(test_sasl),
		cmocka_unit_test(test_line_mode),
		cmocka_unit_test(test_line_mode_review_safe),
		cmocka_unit_test(test_line_mode_eof),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_explain_covers_plans),
		cmocka_unit_test(test_cert_warnings),
		cmocka_unit_test(test_dh_named_group),
		cmocka_unit_test(test_dh_fresh_cancel_then_file),
		cmocka_unit_test(test_selftest_rollback),
	};

	return cmocka_run_group_tests(tests, lab_setup, lab_teardown);
}
