/*
 * test_txn.c - transactions, checkpoints, rollback, recovery, lock.
 * Failures are injected with link-time fakes that hit only the temp file of
 * the target the test names, so the rest of the real code path runs.
 */
/* WRAP: rename fsync write */
#include "core/common.h"
#include "core/env.h"
#include "core/txn.h"

#include "tests/unit/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/xattr.h>

int __real_fsync(int fd);
int __wrap_fsync(int fd);
ssize_t __real_write(int fd, const void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);

/* Fault plan, reset by each test's setup. */
static const char *fail_fsync_prefix; /* fsync fails on files named so */
static const char *fail_write_prefix; /* write gives ENOSPC on those */
static char fail_rename_to[PATH_MAX]; /* rename onto this host path fails */
static size_t write_max;              /* >0: writes are cut short */

static bool fd_named(int fd, const char *prefix)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	const char *base;

	if (prefix == NULL)
		return false;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return false;
	path[n] = '\0';
	base = strrchr(path, '/');
	return base && strncmp(base + 1, prefix, strlen(prefix)) == 0;
}

int __wrap_fsync(int fd)
{
	if (fd_named(fd, fail_fsync_prefix)) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
	if (fd_named(fd, fail_write_prefix)) {
		errno = ENOSPC;
		return -1;
	}
	if (write_max > 0 && n > write_max)
		n = write_max;
	return __real_write(fd, buf, n);
}

int __wrap_rename(const char *from, const char *to)
{
	if (fail_rename_to[0] && strcmp(to, fail_rename_to) == 0) {
		errno = EXDEV;
		return -1;
	}
	return __real_rename(from, to);
}

struct fx {
	char *root;
	struct env env;
};

static const char MAIN_CF[] = "myhostname = mx.example.org\nsmtpd_tls_security_level = may\n";
static const char NEW_CF[] = "myhostname = mx.example.org\nsmtpd_tls_security_level = encrypt\n";

static char *host(struct fx *f, const char *rel)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", f->root, rel);
	return buf;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct error e;

	fail_fsync_prefix = NULL;
	fail_write_prefix = NULL;
	fail_rename_to[0] = '\0';
	write_max = 0;
	f->root = tu_mkdtemp();
	tu_write(f->root, "etc/postfix/main.cf", MAIN_CF);
	tu_write(f->root, "etc/postfix/master.cf", "smtp inet n - y - - smtpd\n");
	chmod(host(f, "etc/postfix/main.cf"), 0640);
	assert_int_equal(env_init(&f->env, f->root, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	env_free(&f->env);
	tu_rmrf(f->root);
	free(f->root);
	free(f);
	return 0;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void assert_file(struct fx *f, const char *rel, const char *want)
{
	char *got = tu_read(f->root, rel);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* Number of names in dir (relative to root) starting with prefix. */
static int count_prefixed(struct fx *f, const char *dir, const char *prefix)
{
	DIR *d = opendir(host(f, dir));
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

static struct txn *begin(struct fx *f, const char *allowed)
{
	struct txn *t = NULL;
	struct error e;

	if (txn_begin(&f->env, "test", allowed, &t, &e) < 0)
		fail_msg("txn_begin: %s", e.msg);
	return t;
}

static void write_ok(struct txn *t, const char *path, const char *text)
{
	struct error e;

	if (txn_write(t, path, text, strlen(text), 0644, &e) < 0)
		fail_msg("txn_write %s: %s", path, e.msg);
}

static char *commit(struct txn *t)
{
	char *id = NULL;
	struct error e;

	if (txn_commit(t, &id, &e) < 0)
		fail_msg("txn_commit: %s", e.msg);
	txn_free(t);
	return id;
}

static void test_commit_then_rollback_is_byte_identical(void **state)
{
	struct fx *f = *state;
	struct strlist restored = STRLIST_INIT;
	struct checkpoint_info *list;
	struct txn *t = begin(f, "/etc/postfix");
	struct error e;
	struct stat st;
	size_t n;
	char *id;

	if (geteuid() == 0)
		assert_int_equal(chown(host(f, "etc/postfix/main.cf"), 1234, 5678), 0);
	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	write_ok(t, "/etc/postfix/master.cf", "changed\n");
	id = commit(t);
	assert_file(f, "etc/postfix/main.cf", NEW_CF);
	assert_int_equal(mode_of(host(f, "etc/postfix/main.cf")), 0640);
	assert_int_equal(count_prefixed(f, "var/lib/mailharden/checkpoints", ".partial-"), 0);
	assert_int_equal(mode_of(host(f, "var/lib/mailharden")), 0700);
	assert_int_equal(mode_of(host(f, "var/lib/mailharden/checkpoints")), 0700);

	assert_int_equal(checkpoint_list(&f->env, &list, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].id, id);
	assert_string_equal(list[0].description, "test");
	assert_int_equal(list[0].n_files, 2);
	assert_string_equal(list[0].files[0].path, "/etc/postfix/main.cf");
	assert_true(list[0].files[0].existed);
	assert_false(list[0].rolled_back);
	checkpoint_list_free(list, n);

	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, &restored, &e), 0);
	assert_int_equal(restored.n, 2);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
	assert_file(f, "etc/postfix/master.cf", "smtp inet n - y - - smtpd\n");
	assert_int_equal(mode_of(host(f, "etc/postfix/main.cf")), 0640);
	if (geteuid() == 0) {
		assert_int_equal(stat(host(f, "etc/postfix/main.cf"), &st), 0);
		assert_int_equal(st.st_uid, 1234);
		assert_int_equal(st.st_gid, 5678);
	}
	assert_int_equal(checkpoint_list(&f->env, &list, &n, &e), 0);
	assert_true(list[0].rolled_back);
	checkpoint_list_free(list, n);
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "no checkpoint"));
	assert_int_equal(checkpoint_rollback(&f->env, id, false, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "already rolled back"));
	sl_free(&restored);
	free(id);
}

static void test_owner_and_label_kept_on_write(void **state)
{
	struct fx *f = *state;
	const char label[] = "system_u:object_r:postfix_etc_t:s0";
	char got[256];
	struct txn *t;
	struct stat st;
	ssize_t n;

	if (geteuid() != 0 ||
	    setxattr(host(f, "etc/postfix/main.cf"), "security.selinux", label, sizeof(label), 0) < 0)
		skip();
	assert_int_equal(chown(host(f, "etc/postfix/main.cf"), 4321, 8765), 0);
	t = begin(f, "/etc/postfix");
	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	free(commit(t));
	assert_int_equal(stat(host(f, "etc/postfix/main.cf"), &st), 0);
	assert_int_equal(st.st_uid, 4321);
	assert_int_equal(st.st_gid, 8765);
	assert_int_equal(st.st_mode & 07777, 0640);
	n = getxattr(host(f, "etc/postfix/main.cf"), "security.selinux", got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, label);
}

static void test_abort_restores_everything(void **state)
{
	struct fx *f = *state;
	struct checkpoint_info *list;
	struct txn *t = begin(f, "/etc/postfix");
	struct error e;
	size_t n;

	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	write_ok(t, "/etc/postfix/main.cf", "second version\n");
	write_ok(t, "/etc/postfix/tls.cf", "new file\n");
	assert_int_equal(txn_register(t, "/etc/postfix/master.cf", &e), 0);
	assert_file(f, "etc/postfix/tls.cf", "new file\n");
	assert_int_equal(txn_abort(t, &e), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
	assert_int_equal(mode_of(host(f, "etc/postfix/main.cf")), 0640);
	assert_int_equal(access(host(f, "etc/postfix/tls.cf"), F_OK), -1);
	assert_int_equal(count_prefixed(f, "var/lib/mailharden/checkpoints", ".partial-"), 0);
	assert_int_equal(checkpoint_list(&f->env, &list, &n, &e), 0);
	assert_int_equal(n, 0);
	checkpoint_list_free(list, n);
}

/* After an injected failure: target untouched, no temp file, abort clean. */
static void assert_failed_cleanly(struct fx *f, struct txn *t, const char *want)
{
	struct error e;
	int rc = txn_write(t, "/etc/postfix/main.cf", NEW_CF, strlen(NEW_CF), 0644, &e);

	assert_int_equal(rc, -1);
	assert_non_null(strstr(e.msg, "/etc/postfix/main.cf"));
	assert_non_null(strstr(e.msg, want));
	assert_null(strchr(e.msg, '\n'));
	assert_null(strstr(e.msg, f->root)); /* server paths only */
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
	assert_int_equal(mode_of(host(f, "etc/postfix/main.cf")), 0640);
	assert_int_equal(count_prefixed(f, "etc/postfix", ".main.cf.mh-"), 0);
	fail_fsync_prefix = fail_write_prefix = NULL;
	fail_rename_to[0] = '\0';
	assert_int_equal(txn_abort(t, &e), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
}

static void test_fsync_failure_leaves_target(void **state)
{
	struct fx *f = *state;

	fail_fsync_prefix = ".main.cf.mh-";
	assert_failed_cleanly(f, begin(f, "/etc/postfix"), strerror(EIO));
}

static void test_rename_failure_leaves_target(void **state)
{
	struct fx *f = *state;

	snprintf(fail_rename_to, sizeof(fail_rename_to), "%s", host(f, "etc/postfix/main.cf"));
	assert_failed_cleanly(f, begin(f, "/etc/postfix"), strerror(EXDEV));
}

static void test_enospc_leaves_target(void **state)
{
	struct fx *f = *state;

	fail_write_prefix = ".main.cf.mh-";
	assert_failed_cleanly(f, begin(f, "/etc/postfix"), "No space left on device");
}

static void test_journal_failure_leaves_target(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");

	fail_fsync_prefix = ".journal.json.mh-";
	assert_failed_cleanly(f, t, "journal");
}

static void test_short_writes_are_completed(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");
	struct error e;

	write_max = 3;
	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	assert_file(f, "etc/postfix/main.cf", NEW_CF);
	assert_int_equal(txn_abort(t, &e), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
}

/* A child changes files and dies without cleaning up; recovery undoes it. */
static void test_recover_after_crash(void **state)
{
	struct fx *f = *state;
	struct strlist report = STRLIST_INIT;
	struct error e;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct txn *t = begin(f, "/etc/postfix");

		write_ok(t, "/etc/postfix/main.cf", NEW_CF);
		write_ok(t, "/etc/postfix/tls.cf", "new\n");
		tu_write(f->root, "etc/postfix/.main.cf.mh-AbC123", "half");
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_file(f, "etc/postfix/main.cf", NEW_CF);
	assert_int_equal(count_prefixed(f, "var/lib/mailharden/checkpoints", ".partial-"), 1);

	assert_int_equal(txn_recover(&f->env, &report, &e), 1);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
	assert_int_equal(mode_of(host(f, "etc/postfix/main.cf")), 0640);
	assert_int_equal(access(host(f, "etc/postfix/tls.cf"), F_OK), -1);
	assert_int_equal(count_prefixed(f, "etc/postfix", ".main.cf.mh-"), 0);
	assert_int_equal(count_prefixed(f, "var/lib/mailharden/checkpoints", ".partial-"), 0);
	assert_int_equal(report.n, 2);
	assert_non_null(strstr(report.v[0], "/etc/postfix/tls.cf"));
	assert_non_null(strstr(report.v[1], "restored /etc/postfix/main.cf"));
	assert_int_equal(txn_recover(&f->env, NULL, &e), 0);
	sl_free(&report);
}

static void test_rollback_refuses_file_changed_since(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");
	struct error e;

	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	free(commit(t));
	tu_write(f->root, "etc/postfix/main.cf", "admin edit\n");
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "/etc/postfix/main.cf"));
	assert_non_null(strstr(e.msg, "--force"));
	assert_file(f, "etc/postfix/main.cf", "admin edit\n");
	assert_int_equal(checkpoint_rollback(&f->env, NULL, true, NULL, &e), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
}

static void test_rollback_of_older_checkpoint(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");
	char *first, *second;
	struct error e;

	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	first = commit(t);
	t = begin(f, "/etc/postfix");
	write_ok(t, "/etc/postfix/main.cf", "third\n");
	second = commit(t);
	assert_string_not_equal(first, second);
	assert_true(strcmp(first, second) < 0);

	assert_int_equal(checkpoint_rollback(&f->env, first, false, NULL, &e), -1);
	assert_non_null(strstr(e.msg, second));
	assert_non_null(strstr(e.msg, "--force"));
	assert_file(f, "etc/postfix/main.cf", "third\n");
	/* Newest first, then the older one in turn. */
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), 0);
	assert_file(f, "etc/postfix/main.cf", NEW_CF);
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
	free(first);
	free(second);
}

static void test_rollback_older_untouched_by_newer(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");
	char *first;
	struct error e;

	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	first = commit(t);
	t = begin(f, "/etc/postfix");
	write_ok(t, "/etc/postfix/master.cf", "other\n");
	free(commit(t));
	assert_int_equal(checkpoint_rollback(&f->env, first, false, NULL, &e), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
	assert_file(f, "etc/postfix/master.cf", "other\n");
	free(first);
}

static void test_symlink_inside_allowed_is_followed(void **state)
{
	struct fx *f = *state;
	struct txn *t;
	struct error e;
	struct stat st;

	tu_write(f->root, "etc/postfix/real/main.cf", MAIN_CF);
	unlink(host(f, "etc/postfix/main.cf"));
	/* Absolute, as on the live system: it must resolve inside root. */
	assert_int_equal(symlink("/etc/postfix/real/main.cf", host(f, "etc/postfix/main.cf")), 0);
	t = begin(f, "/etc/postfix");
	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	free(commit(t));
	assert_int_equal(lstat(host(f, "etc/postfix/main.cf"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_file(f, "etc/postfix/real/main.cf", NEW_CF);
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), 0);
	assert_file(f, "etc/postfix/real/main.cf", MAIN_CF);
	assert_int_equal(lstat(host(f, "etc/postfix/main.cf"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
}

static void assert_symlink_refused(struct fx *f, const char *allowed, const char *secret_rel)
{
	struct txn *t = begin(f, allowed);
	struct error e;

	assert_int_equal(txn_write(t, "/etc/postfix/main.cf", NEW_CF, strlen(NEW_CF), 0644, &e), -1);
	assert_non_null(strstr(e.msg, "/etc/postfix/main.cf"));
	assert_non_null(strstr(e.msg, "symlink"));
	assert_null(strchr(e.msg, '\n'));
	assert_file(f, secret_rel, "secret\n");
	assert_int_equal(txn_abort(t, &e), 0);
	assert_file(f, secret_rel, "secret\n");
}

static void test_symlink_outside_is_refused(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "etc/shadow", "secret\n");
	unlink(host(f, "etc/postfix/main.cf"));
	assert_int_equal(symlink("../shadow", host(f, "etc/postfix/main.cf")), 0);
	assert_symlink_refused(f, "/etc/postfix", "etc/shadow");
	assert_symlink_refused(f, NULL, "etc/shadow");
	/* ".." cannot climb out of root either. */
	unlink(host(f, "etc/postfix/main.cf"));
	assert_int_equal(symlink("../../../../../../../../etc/shadow",
				 host(f, "etc/postfix/main.cf")), 0);
	assert_symlink_refused(f, "/etc/postfix", "etc/shadow");
}

static void test_new_file_and_its_rollback(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");
	struct error e;
	struct stat st, dir;

	assert_int_equal(txn_write(t, "/etc/postfix/tls_policy", "x\n", 2, 0600, &e), 0);
	free(commit(t));
	assert_int_equal(stat(host(f, "etc/postfix/tls_policy"), &st), 0);
	assert_int_equal(stat(host(f, "etc/postfix"), &dir), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, dir.st_uid);
	assert_int_equal(st.st_gid, dir.st_gid);
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), 0);
	assert_int_equal(access(host(f, "etc/postfix/tls_policy"), F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_lock_held_by_other_process(void **state)
{
	struct fx *f = *state;
	struct txn_lock *lk = NULL;
	int ready[2], done[2], status;
	char c, want[64];
	struct error e;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct txn_lock *mine;

		if (txn_lock(&f->env, &mine, &e) < 0)
			_exit(1);
		if (__real_write(ready[1], "x", 1) != 1 || read(done[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(txn_lock(&f->env, &lk, &e), -1);
	assert_null(lk);
	snprintf(want, sizeof(want), "another mailharden is running (pid %ld)", (long)pid);
	assert_string_equal(e.msg, want);
	assert_int_equal(__real_write(done[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	assert_int_equal(txn_lock(&f->env, &lk, &e), 0);
	assert_int_equal(mode_of(host(f, "var/lib/mailharden/lock")), 0600);
	assert_int_equal(mode_of(host(f, "var/lib/mailharden")), 0700);
	txn_unlock(lk);
	close(ready[0]);
	close(ready[1]);
	close(done[0]);
	close(done[1]);
}

static void test_control_chars_refused(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");
	struct txn *t2 = NULL;
	struct error e;

	assert_int_equal(txn_write(t, "/etc/postfix/ma\nin.cf", "x", 1, 0644, &e), -1);
	assert_non_null(strstr(e.msg, "control characters"));
	assert_non_null(strstr(e.msg, "/etc/postfix/ma?in.cf"));
	assert_null(strchr(e.msg, '\n'));
	assert_int_equal(txn_register(t, "/etc/postfix/\033[2J", &e), -1);
	assert_int_equal(txn_write(t, "etc/postfix/main.cf", "x", 1, 0644, &e), -1);
	assert_int_equal(count_prefixed(f, "etc/postfix", "ma"), 2);
	assert_int_equal(txn_abort(t, &e), 0);
	assert_int_equal(txn_begin(&f->env, "bad\ndesc", NULL, &t2, &e), -1);
	assert_null(t2);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
}

static void test_directory_is_not_written(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");
	struct error e;

	assert_int_equal(mkdir(host(f, "etc/postfix/sub"), 0755), 0);
	assert_int_equal(txn_write(t, "/etc/postfix/sub", "x", 1, 0644, &e), -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(txn_write(t, "/etc/postfix/nodir/x.cf", "x", 1, 0644, &e), -1);
	assert_non_null(strstr(e.msg, "cannot write /etc/postfix/nodir/x.cf"));
	assert_int_equal(txn_abort(t, &e), 0);
}

static void test_stage_dir_copy_and_remove(void **state)
{
	struct fx *f = *state;
	char *stage = NULL, link[64];
	struct error e;
	char rel[PATH_MAX];
	ssize_t n;

	tu_write(f->root, "etc/postfix/sub/map", "a b\n");
	assert_int_equal(symlink("main.cf", host(f, "etc/postfix/link.cf")), 0);
	assert_int_equal(txn_stage_dir(&f->env, "/etc/postfix", &stage, &e), 0);
	assert_int_equal(strncmp(stage, "/var/lib/mailharden/stage.", 26), 0);
	snprintf(rel, sizeof(rel), "%s/main.cf", stage + 1);
	assert_file(f, rel, MAIN_CF);
	assert_int_equal(mode_of(host(f, rel)), 0640);
	snprintf(rel, sizeof(rel), "%s/sub/map", stage + 1);
	assert_file(f, rel, "a b\n");
	snprintf(rel, sizeof(rel), "%s/link.cf", stage + 1);
	n = readlink(host(f, rel), link, sizeof(link) - 1);
	assert_int_equal(n, 7);
	link[n] = '\0';
	assert_string_equal(link, "main.cf");

	txn_stage_remove(&f->env, "/etc/postfix");
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
	txn_stage_remove(&f->env, stage);
	assert_int_equal(count_prefixed(f, "var/lib/mailharden", "stage."), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
	free(stage);
	assert_int_equal(txn_stage_dir(&f->env, "/etc/nothing", &stage, &e), -1);
	assert_non_null(strstr(e.msg, "/etc/nothing"));
	assert_int_equal(count_prefixed(f, "var/lib/mailharden", "stage."), 0);
}

static void test_failed_rollback_can_be_retried(void **state)
{
	struct fx *f = *state;
	struct txn *t = begin(f, "/etc/postfix");
	struct checkpoint_info *list;
	struct error e;
	size_t n;

	write_ok(t, "/etc/postfix/main.cf", NEW_CF);
	free(commit(t));
	snprintf(fail_rename_to, sizeof(fail_rename_to), "%s", host(f, "etc/postfix/main.cf"));
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "cannot restore /etc/postfix/main.cf"));
	assert_file(f, "etc/postfix/main.cf", NEW_CF);
	assert_int_equal(count_prefixed(f, "etc/postfix", ".main.cf.mh-"), 0);
	assert_int_equal(checkpoint_list(&f->env, &list, &n, &e), 0);
	assert_false(list[0].rolled_back);
	checkpoint_list_free(list, n);
	fail_rename_to[0] = '\0';
	assert_int_equal(checkpoint_rollback(&f->env, NULL, false, NULL, &e), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
}

static void test_recover_removes_empty_partial(void **state)
{
	struct fx *f = *state;
	struct error e;

	tu_write(f->root, "var/lib/mailharden/checkpoints/.partial-20240101-000000-000/files/.keep", "");
	assert_int_equal(txn_recover(&f->env, NULL, &e), 1);
	assert_int_equal(count_prefixed(f, "var/lib/mailharden/checkpoints", ".partial-"), 0);
	assert_file(f, "etc/postfix/main.cf", MAIN_CF);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_commit_then_rollback_is_byte_identical),
		T(test_owner_and_label_kept_on_write),
		T(test_abort_restores_everything),
		T(test_fsync_failure_leaves_target),
		T(test_rename_failure_leaves_target),
		T(test_enospc_leaves_target),
		T(test_journal_failure_leaves_target),
		T(test_short_writes_are_completed),
		T(test_recover_after_crash),
		T(test_rollback_refuses_file_changed_since),
		T(test_rollback_of_older_checkpoint),
		T(test_rollback_older_untouched_by_newer),
		T(test_symlink_inside_allowed_is_followed),
		T(test_symlink_outside_is_refused),
		T(test_new_file_and_its_rollback),
		T(test_lock_held_by_other_process),
		T(test_control_chars_refused),
		T(test_directory_is_not_written),
		T(test_stage_dir_copy_and_remove),
		T(test_failed_rollback_can_be_retried),
		T(test_recover_removes_empty_partial),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
