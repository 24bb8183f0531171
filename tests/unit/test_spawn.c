/*
 * test_spawn.c - running helper programs: exit codes, output capture and
 * its bound, time limits, exec failures, stdin, environment, fds, chroot.
 * Every test runs real programs from /bin and /usr/bin.
 */
#include "core/common.h"
#include "core/spawn.h"

#include "tests/unit/testutil.h"

#include <fcntl.h>
#include <time.h>

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv with default options and expects it to start. */
static void run_ok(const char *const argv[], const struct spawn_opts *o,
		   struct spawn_result *r)
{
	struct error e = {""};
	int rc = spawn_run(argv, o, r, &e);

	if (rc != 0)
		fail_msg("spawn_run(%s) failed: %s", argv[0], e.msg);
	assert_non_null(r->out);
	assert_non_null(r->err);
}

static void test_exit_codes(void **state)
{
	const char *t[] = {"/bin/true", NULL};
	const char *f[] = {"/bin/false", NULL};
	const char *seven[] = {"/bin/sh", "-c", "exit 7", NULL};
	const char *sig[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
	struct spawn_result r;

	(void)state;
	run_ok(t, NULL, &r);
	assert_int_equal(r.exit_code, 0);
	assert_false(r.timed_out);
	spawn_result_free(&r);
	run_ok(f, NULL, &r);
	assert_int_equal(r.exit_code, 1);
	spawn_result_free(&r);
	run_ok(seven, NULL, &r);
	assert_int_equal(r.exit_code, 7);
	spawn_result_free(&r);
	run_ok(sig, NULL, &r);
	assert_int_equal(r.exit_code, 128 + 15);
	spawn_result_free(&r);
}

static void test_stdout_and_stderr_apart(void **state)
{
	const char *argv[] = {"/bin/sh", "-c", "echo to-out; echo to-err >&2; echo more-out", NULL};
	const char *ls[] = {"/bin/ls", "/nonexistent-mh-path", NULL};
	struct spawn_result r;
	char line[256];

	(void)state;
	run_ok(argv, NULL, &r);
	assert_string_equal(r.out, "to-out\nmore-out\n");
	assert_int_equal(r.out_len, strlen("to-out\nmore-out\n"));
	assert_string_equal(r.err, "to-err\n");
	assert_string_equal(spawn_first_line(&r, line, sizeof(line)), "to-err");
	spawn_result_free(&r);

	/* The default environment is LC_ALL=C: messages are parseable. */
	run_ok(ls, NULL, &r);
	assert_int_equal(r.exit_code, 2);
	assert_string_equal(r.out, "");
	assert_non_null(strstr(r.err, "No such file or directory"));
	assert_string_equal(spawn_first_line(&r, line, sizeof(line)),
			    "/bin/ls: cannot access '/nonexistent-mh-path': No such file or directory");
	spawn_result_free(&r);
}

static void test_output_is_bounded(void **state)
{
	const char *big[] = {"/usr/bin/head", "-c", "20000000", "/dev/zero", NULL};
	const char *both[] = {"/bin/sh", "-c",
			      "/usr/bin/head -c 300000 /dev/zero; /usr/bin/head -c 300000 /dev/zero >&2; echo done >&2",
			      NULL};
	struct spawn_opts o = {.max_output = 1000};
	struct spawn_result r;

	(void)state;
	/* The child writes far more than the bound and still finishes. */
	run_ok(big, &o, &r);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.out_len, 1000);
	assert_int_equal(r.out[1000], '\0');
	spawn_result_free(&r);

	run_ok(big, NULL, &r);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.out_len, (size_t)4 << 20);
	spawn_result_free(&r);

	o.max_output = 400000;
	run_ok(both, &o, &r);
	assert_int_equal(r.out_len, 300000);
	assert_int_equal(r.err_len, 300005);
	assert_memory_equal(r.err + 300000, "done\n", 5);
	spawn_result_free(&r);
}

static void test_timeout_kills(void **state)
{
	const char *argv[] = {"/bin/sleep", "10", NULL};
	struct spawn_opts o = {.timeout_ms = 300};
	struct spawn_result r;
	struct error e = {""};
	long long t0 = ms_now(), took;
	int rc;

	(void)state;
	rc = spawn_run(argv, &o, &r, &e);
	took = ms_now() - t0;
	assert_int_equal(rc, -1);
	assert_true(r.timed_out);
	assert_int_equal(r.exit_code, 128 + 9);
	assert_true(took >= 280);
	assert_true(took < 2000);
	assert_non_null(strstr(e.msg, "/bin/sleep"));
	assert_non_null(strstr(e.msg, "0.3"));
	assert_null(strchr(e.msg, '\n'));
	spawn_result_free(&r);
}

/* A daemonizing child leaves a grandchild holding the pipes: we must not
 * wait for the grandchild. */
static void test_grandchild_keeps_pipe(void **state)
{
	const char *argv[] = {"/bin/sh", "-c", "/bin/sleep 5 & echo started", NULL};
	struct spawn_opts o = {.timeout_ms = 4000};
	struct spawn_result r;
	long long t0 = ms_now();

	(void)state;
	run_ok(argv, &o, &r);
	assert_true(ms_now() - t0 < 2000);
	assert_int_equal(r.exit_code, 0);
	assert_string_equal(r.out, "started\n");
	spawn_result_free(&r);
}

static void test_exec_failure(void **state)
{
	const char *missing[] = {"/usr/sbin/postconf-mh-missing", "-d", NULL};
	char *dir = tu_mkdtemp(), script[4200];
	const char *notexec[] = {script, NULL};
	const char *relative[] = {"true", NULL};
	struct spawn_result r;
	struct error e = {""};

	(void)state;
	assert_int_equal(spawn_run(missing, NULL, &r, &e), -1);
	assert_string_equal(e.msg,
			    "cannot run /usr/sbin/postconf-mh-missing: No such file or directory");
	assert_int_equal(r.exit_code, -1);
	assert_false(r.timed_out);
	spawn_result_free(&r);

	/* A script without any x bit: even root cannot run it. */
	tu_write(dir, "script", "#!/bin/sh\necho ran\n");
	snprintf(script, sizeof(script), "%s/script", dir);
	assert_int_equal(chmod(script, 0644), 0);
	assert_int_equal(spawn_run(notexec, NULL, &r, &e), -1);
	assert_string_equal(strstr(e.msg, ": Permission denied"), ": Permission denied");
	spawn_result_free(&r);
	assert_int_equal(chmod(script, 0755), 0);
	run_ok(notexec, NULL, &r);
	assert_string_equal(r.out, "ran\n");
	spawn_result_free(&r);
	tu_rmrf(dir);
	free(dir);

	assert_int_equal(spawn_run(relative, NULL, &r, &e), -1);
	assert_non_null(strstr(e.msg, "not an absolute path"));
	spawn_result_free(&r);
}

static void test_stdin(void **state)
{
	const char *cat[] = {"/bin/cat", NULL};
	const char *t[] = {"/bin/true", NULL};
	struct spawn_opts o = {.stdin_data = "hello\nworld"};
	struct spawn_result r;
	size_t big = 3 << 20;
	char *data = malloc(big + 1);

	(void)state;
	run_ok(cat, &o, &r);
	assert_string_equal(r.out, "hello\nworld");
	spawn_result_free(&r);

	/* No stdin_data: /dev/null, so cat ends at once. */
	run_ok(cat, NULL, &r);
	assert_int_equal(r.exit_code, 0);
	assert_int_equal(r.out_len, 0);
	spawn_result_free(&r);

	/* More than a pipe holds, in both directions. */
	for (size_t i = 0; i < big; i++)
		data[i] = (char)('a' + i % 26);
	data[big] = '\0';
	o.stdin_data = data;
	run_ok(cat, &o, &r);
	assert_int_equal(r.out_len, big);
	assert_memory_equal(r.out, data, big);
	spawn_result_free(&r);

	/* A child that never reads its input does not block us. */
	run_ok(t, &o, &r);
	assert_int_equal(r.exit_code, 0);
	spawn_result_free(&r);
	free(data);
}

static void test_environment(void **state)
{
	const char *env[] = {"/usr/bin/env", NULL};
	const char *custom[] = {"FOO=bar", NULL};
	struct spawn_opts o = {.env = custom};
	struct spawn_result r;

	(void)state;
	setenv("MH_SECRET_TEST", "leak", 1);
	run_ok(env, NULL, &r);
	assert_string_equal(r.out, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C\nLC_ALL=C\n");
	spawn_result_free(&r);
	run_ok(env, &o, &r);
	assert_string_equal(r.out, "FOO=bar\n");
	spawn_result_free(&r);
}

static void test_other_fds_closed(void **state)
{
	const char *ls[] = {"/bin/ls", "/proc/self/fd", NULL};
	struct spawn_result r;
	int fd = open("/dev/null", O_RDONLY);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 57), 57); /* no O_CLOEXEC */
	run_ok(ls, NULL, &r);
	/* 0-2, plus the directory ls itself opened. */
	assert_string_equal(r.out, "0\n1\n2\n3\n");
	spawn_result_free(&r);
	close(57);
	close(fd);
}

static void test_chroot(void **state)
{
	const char *t[] = {"/bin/true", NULL};
	struct spawn_opts o = {0};
	struct spawn_result r;
	struct error e = {""};
	char *dir;

	(void)state;
	if (geteuid() != 0)
		skip();
	/* An empty root has no /bin/true, so exec fails only if chroot happened. */
	dir = tu_mkdtemp();
	o.chroot_dir = dir;
	assert_int_equal(spawn_run(t, &o, &r, &e), -1);
	assert_string_equal(e.msg, "cannot run /bin/true: No such file or directory");
	spawn_result_free(&r);

	o.chroot_dir = "/nonexistent-mh-root";
	assert_int_equal(spawn_run(t, &o, &r, &e), -1);
	assert_non_null(strstr(e.msg, "cannot change root to /nonexistent-mh-root"));
	spawn_result_free(&r);

	/* chroot to / works like no chroot. */
	o.chroot_dir = "/";
	run_ok(t, &o, &r);
	assert_int_equal(r.exit_code, 0);
	spawn_result_free(&r);
	tu_rmrf(dir);
	free(dir);
}

static void test_first_line(void **state)
{
	char err[] = "\n   \n\t first problem here  \r\nsecond\n";
	char out[] = "out line\n";
	struct spawn_result r = {0};
	char buf[64], tiny[6];

	(void)state;
	r.err = err;
	r.err_len = strlen(err);
	r.out = out;
	r.out_len = strlen(out);
	assert_string_equal(spawn_first_line(&r, buf, sizeof(buf)), "first problem here");
	assert_string_equal(spawn_first_line(&r, tiny, sizeof(tiny)), "first");
	r.err = (char *)" \n\n";
	r.err_len = 3;
	assert_string_equal(spawn_first_line(&r, buf, sizeof(buf)), "out line");
	r.out = (char *)"";
	r.out_len = 0;
	assert_string_equal(spawn_first_line(&r, buf, sizeof(buf)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_stdout_and_stderr_apart),
		cmocka_unit_test(test_output_is_bounded),
		cmocka_unit_test(test_timeout_kills),
		cmocka_unit_test(test_grandchild_keeps_pipe),
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_other_fds_closed),
		cmocka_unit_test(test_chroot),
		cmocka_unit_test(test_first_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
