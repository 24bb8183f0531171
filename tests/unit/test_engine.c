/*
 * test_engine.c - engine_apply end to end on a scratch root: validation
 * sees the staged files, a failing validation writes nothing, a failure in
 * the middle of writing or in reload rolls every file back.
 *
 * The backend here is a test double with a real validate step (it reads the
 * staged file); Postfix and Dovecot are tested against the real programs in
 * tests/integration.
 */
/* WRAP: rename */
#include "testutil.h"

#include <errno.h>

#include "../../backends/backend.h"
#include "../../core/txn.h"

int __real_rename(const char *a, const char *b);
int __wrap_rename(const char *a, const char *b);

static int rename_fail_at; /* fail the Nth rename into etc/test (1-based); 0 = never */
static int rename_count;

int __wrap_rename(const char *a, const char *b)
{
	if (rename_fail_at && strstr(b, "/etc/test/") && ++rename_count == rename_fail_at) {
		errno = ENOSPC;
		return -1;
	}
	return __real_rename(a, b);
}

static int validate_calls;
static bool reload_fails;
static char seen_stage[8192];

static int fake_detect(const struct env *env, struct server_info *si)
{
	(void)env;
	si->found = si->usable = true;
	si->config_dir = xstrdup("/etc/test");
	return 0;
}

static int fake_validate(const struct env *env, const struct server_info *si,
			 const struct plan *p, const char *stage, struct error *e)
{
	char *rel = path_join(stage, "a.conf"), *host = env_host_path(env, rel);
	char *data = NULL;
	size_t len;
	int rc = 0;

	(void)si;
	(void)p;
	validate_calls++;
	if (read_file(host, &data, &len, e) < 0) {
		rc = -1;
	} else {
		snprintf(seen_stage, sizeof(seen_stage), "%s", data);
		if (strstr(data, "BAD"))
			rc = err_set(e, "checker says: BAD value");
	}
	free(data);
	free(host);
	free(rel);
	return rc;
}

static struct strbuf reloads; /* config dirs reloaded, in order */
static const char *reload_fails_for; /* config dir whose reload fails */

static int fake_reload(const struct env *env, const struct server_info *si, struct error *e)
{
	(void)env;
	sb_addf(&reloads, "%s ", si->config_dir);
	if (reload_fails_for && strcmp(si->config_dir, reload_fails_for) == 0)
		return err_set(e, "reload of %s failed", si->config_dir);
	return reload_fails ? err_set(e, "reload failed") : 0;
}

static const struct backend fake = {
	.name = "fake", .display_name = "Fake", .roles_possible = ROLE_ALL,
	.detect = fake_detect, .validate = fake_validate, .reload = fake_reload,
};

struct fixture {
	char *dir;
	struct env env;
	struct server_info si;
	struct plan plan;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct error e;

	f->dir = tu_mkdtemp();
	tu_write(f->dir, "etc/test/a.conf", "a = old\n");
	tu_write(f->dir, "etc/test/b.conf", "b = old\n");
	assert_int_equal(env_init(&f->env, f->dir, &e), 0);
	f->si.backend = &fake;
	fake_detect(&f->env, &f->si);
	f->plan.server = &f->si;
	rename_fail_at = rename_count = validate_calls = 0;
	reload_fails = false;
	reload_fails_for = NULL;
	sb_free(&reloads);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	plan_free(&f->plan);
	server_info_free(&f->si);
	env_free(&f->env);
	tu_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void add(struct fixture *f, const char *path, const char *old, const char *new)
{
	plan_add_change(&f->plan, path, old != NULL, old ? old : "", old ? strlen(old) : 0,
			new, strlen(new), 0644);
}

static void assert_file(struct fixture *f, const char *rel, const char *want)
{
	char *got = tu_read(f->dir, rel);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_apply_ok(void **state)
{
	struct fixture *f = *state;
	struct apply_opts o = {.reload = true, .description = "t"};
	struct apply_result r = {0};
	struct error e;

	add(f, "/etc/test/a.conf", "a = old\n", "a = new\n");
	add(f, "/etc/test/c.conf", NULL, "c = new\n");
	assert_int_equal(engine_apply(&f->env, &f->plan, &o, &r, &e), 0);
	assert_int_equal(validate_calls, 1);
	assert_string_equal(seen_stage, "a = new\n");
	assert_file(f, "etc/test/a.conf", "a = new\n");
	assert_file(f, "etc/test/c.conf", "c = new\n");
	assert_non_null(r.checkpoint_id);
	assert_int_equal(r.written.n, 2);
	apply_result_free(&r);
	/* and the checkpoint takes it all back */
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), 0);
	assert_file(f, "etc/test/a.conf", "a = old\n");
	assert_null(tu_read(f->dir, "etc/test/c.conf"));
}

static void test_validation_failure_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct apply_opts o = {.reload = true};
	struct apply_result r = {0};
	struct error e;

	add(f, "/etc/test/a.conf", "a = old\n", "a = BAD\n");
	assert_int_equal(engine_apply(&f->env, &f->plan, &o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "BAD value"));
	assert_file(f, "etc/test/a.conf", "a = old\n");
	assert_false(r.rolled_back);
	apply_result_free(&r);
}

static void test_write_failure_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct apply_opts o = {.reload = false};
	struct apply_result r = {0};
	struct error e;

	add(f, "/etc/test/a.conf", "a = old\n", "a = new\n");
	add(f, "/etc/test/b.conf", "b = old\n", "b = new\n");
	rename_fail_at = 2; /* a.conf lands, b.conf fails */
	assert_int_equal(engine_apply(&f->env, &f->plan, &o, &r, &e), -1);
	assert_true(r.rolled_back);
	assert_non_null(strstr(e.msg, "rolled back"));
	assert_file(f, "etc/test/a.conf", "a = old\n");
	assert_file(f, "etc/test/b.conf", "b = old\n");
	apply_result_free(&r);
}

static void test_reload_failure_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct apply_opts o = {.reload = true};
	struct apply_result r = {0};
	struct error e;

	/* reload is never attempted in lab mode, so pretend a live system */
	f->env.lab = false;
	reload_fails = true;
	add(f, "/etc/test/a.conf", "a = old\n", "a = new\n");
	assert_int_equal(engine_apply(&f->env, &f->plan, &o, &r, &e), -1);
	assert_true(r.rolled_back);
	assert_non_null(strstr(e.msg, "reload failed"));
	assert_file(f, "etc/test/a.conf", "a = old\n");
	apply_result_free(&r);
}

/* ---- one run, one checkpoint: two servers and a DH file ---------------------- */

struct two {
	struct server_info si2;
	struct plan plan2;
	const struct plan *plans[2];
	struct extra_file dh;
	struct apply_set set;
};

static void two_setup(struct fixture *f, struct two *w, const char *new2)
{
	memset(w, 0, sizeof(*w));
	tu_write(f->dir, "etc/test2/a.conf", "x = old\n");
	w->si2.backend = &fake;
	w->si2.found = w->si2.usable = true;
	w->si2.config_dir = xstrdup("/etc/test2");
	w->plan2.server = &w->si2;
	plan_add_change(&w->plan2, "/etc/test2/a.conf", true, "x = old\n", 8, new2, strlen(new2),
			0644);
	add(f, "/etc/test/a.conf", "a = old\n", "a = new\n");
	w->plans[0] = &f->plan;
	w->plans[1] = &w->plan2;
	w->dh = (struct extra_file){"/etc/ssl/mh/dh2048.pem", "PEM\n", 4, 0644};
	w->set = (struct apply_set){w->plans, 2, &w->dh, 1};
}

static void two_free(struct two *w)
{
	plan_free(&w->plan2);
	server_info_free(&w->si2);
}

static void assert_untouched(struct fixture *f)
{
	assert_file(f, "etc/test/a.conf", "a = old\n");
	assert_file(f, "etc/test2/a.conf", "x = old\n");
	assert_null(tu_read(f->dir, "etc/ssl/mh/dh2048.pem"));
	/* the directories made for the DH file are gone too */
	{
		char *ssl = xasprintf("%s/etc/ssl", f->dir);

		assert_int_equal(access(ssl, F_OK), -1);
		free(ssl);
	}
}

static void test_set_one_checkpoint(void **state)
{
	struct fixture *f = *state;
	struct apply_opts o = {.reload = true, .description = "fake: all"};
	struct apply_result r = {0};
	struct checkpoint_info *list;
	size_t n;
	struct error e;
	struct two w;

	two_setup(f, &w, "x = new\n");
	f->env.lab = false;
	assert_int_equal(engine_apply_set(&f->env, &w.set, &o, &r, &e), 0);
	assert_int_equal(validate_calls, 2);
	assert_string_equal(reloads.buf, "/etc/test /etc/test2 ");
	assert_file(f, "etc/test/a.conf", "a = new\n");
	assert_file(f, "etc/test2/a.conf", "x = new\n");
	assert_file(f, "etc/ssl/mh/dh2048.pem", "PEM\n");
	assert_int_equal(r.written.n, 3);
	assert_int_equal(checkpoint_list(&f->env, &list, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, r.checkpoint_id);
	checkpoint_list_free(list, n);
	/* one rollback takes back both servers, the file and its directories */
	assert_int_equal(checkpoint_rollback(&f->env, r.checkpoint_id, false, NULL, &e), 0);
	assert_untouched(f);
	apply_result_free(&r);
	two_free(&w);
}

/* The second server's checker refuses: the DH file written first for the
 * checkers is taken back, nothing else was written. */
static void test_set_validation_failure(void **state)
{
	struct fixture *f = *state;
	struct apply_opts o = {.reload = true};
	struct apply_result r = {0};
	struct error e;
	struct two w;

	two_setup(f, &w, "x = BAD\n");
	assert_int_equal(engine_apply_set(&f->env, &w.set, &o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "BAD value"));
	assert_non_null(strstr(e.msg, "rolled back"));
	assert_untouched(f);
	apply_result_free(&r);
	two_free(&w);
}

/* The second reload fails: every file comes back and the first server,
 * already reloaded, is reloaded again onto its old files. */
static void test_set_reload_failure(void **state)
{
	struct fixture *f = *state;
	struct apply_opts o = {.reload = true};
	struct apply_result r = {0};
	struct error e;
	struct two w;

	two_setup(f, &w, "x = new\n");
	f->env.lab = false;
	reload_fails_for = "/etc/test2";
	assert_int_equal(engine_apply_set(&f->env, &w.set, &o, &r, &e), -1);
	assert_true(r.rolled_back);
	/* the failing one is told again too: it may have half-loaded */
	assert_string_equal(reloads.buf, "/etc/test /etc/test2 /etc/test /etc/test2 ");
	assert_untouched(f);
	apply_result_free(&r);
	two_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation_failure_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_failure_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_one_checkpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_validation_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_reload_failure, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
