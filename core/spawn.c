/*
 * spawn.c - run helper programs from an argv array, capture their output,
 * bound their run time.
 *
 * The child gets stdin from a memfd (so a child that never reads cannot
 * block us and we never see SIGPIPE), stdout/stderr through pipes that the
 * parent drains with poll(), and every other descriptor closed.  A failed
 * chroot/exec in the child travels back over a close-on-exec pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_OUTPUT ((size_t)4 << 20)
/* How often a silent child is checked for having exited while a
 * grandchild still holds its output pipes open. */
#define REAP_CHECK_MS 200

static const char *const default_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C",
	"LC_ALL=C",
	NULL,
};

/* What the child reports when it cannot get as far as execve(). */
enum child_stage { STAGE_STDIO, STAGE_CHROOT, STAGE_CHDIR, STAGE_EXEC };

struct child_failure {
	int stage;
	int err;
};

struct capture {
	int fd;
	struct strbuf sb;
	size_t max;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The child's stdin: the data in an anonymous file, or /dev/null. */
static int make_stdin(const char *data, struct error *e)
{
	int fd;

	if (data == NULL) {
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return err_sys(e, _("cannot open %s"), "/dev/null");
		return fd;
	}
	fd = memfd_create("mailharden-stdin", MFD_CLOEXEC);
	if (fd < 0)
		return err_sys(e, _("cannot create a buffer for a helper's input"));
	if (write_all(fd, data, strlen(data)) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		err_sys(e, _("cannot create a buffer for a helper's input"));
		close(fd);
		return -1;
	}
	return fd;
}

/* Closes (marks close-on-exec) everything above stderr; the failure pipe
 * must stay open until execve() succeeds. */
static void child_close_others(void)
{
	long max;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = 3; fd < max; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int above_stdio(int fd)
{
	return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* Runs in the forked child: only async-signal-safe calls from here on. */
static _Noreturn void child_exec(const char *const argv[], const struct spawn_opts *o,
				 const char *const *env, int in_fd, int out_fd,
				 int err_fd, int report_fd)
{
	struct child_failure f = {STAGE_STDIO, 0};
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);

	/* Out of the way of 0-2 first, in case the parent had them closed. */
	in_fd = above_stdio(in_fd);
	out_fd = above_stdio(out_fd);
	err_fd = above_stdio(err_fd);
	report_fd = above_stdio(report_fd);
	if (in_fd < 0 || out_fd < 0 || err_fd < 0 || report_fd < 0)
		goto fail;
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		goto fail;
	child_close_others();
	if (o->chroot_dir != NULL) {
		f.stage = STAGE_CHROOT;
		if (chroot(o->chroot_dir) < 0)
			goto fail;
		f.stage = STAGE_CHDIR;
		if (chdir("/") < 0)
			goto fail;
	}
	f.stage = STAGE_EXEC;
	execve(argv[0], (char *const *)argv, (char *const *)env);
fail:
	f.err = errno;
	(void)!write(report_fd, &f, sizeof(f));
	_exit(127);
}

/* Reads what the child reported before exec; 0 = it exec'd fine. */
static int read_child_failure(int fd, struct child_failure *f)
{
	ssize_t n;

	do
		n = read(fd, f, sizeof(*f));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*f) ? -1 : 0;
}

static int failure_message(const struct child_failure *f, const char *prog,
			   const struct spawn_opts *o, struct error *e)
{
	const char *why = strerror(f->err);

	switch (f->stage) {
	case STAGE_CHROOT:
	case STAGE_CHDIR:
		return err_set(e, _("cannot run %s: cannot change root to %s: %s"),
			       prog, o->chroot_dir, why);
	case STAGE_STDIO:
		return err_set(e, _("cannot run %s: cannot set up its input and output: %s"),
			       prog, why);
	default:
		return err_set(e, _("cannot run %s: %s"), prog, why);
	}
}

/* Reads what is there; returns 1 at end of stream, 0 otherwise. */
static int drain(struct capture *c)
{
	char buf[65536];
	ssize_t n;

	n = read(c->fd, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : 1;
	if (n == 0)
		return 1;
	if (c->sb.len < c->max) {
		size_t keep = c->max - c->sb.len;

		sb_add(&c->sb, buf, (size_t)n < keep ? (size_t)n : keep);
	}
	return 0;
}

static void drain_nonblocking(struct capture *c)
{
	if (c->fd < 0)
		return;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	while (drain(c) == 0) {
		struct pollfd p = {c->fd, POLLIN, 0};

		if (poll(&p, 1, 0) <= 0)
			break;
	}
	close_fd(&c->fd);
}

static int wait_child(pid_t pid, int flags, int *status)
{
	pid_t got;

	do
		got = waitpid(pid, status, flags);
	while (got < 0 && errno == EINTR);
	return got == pid;
}

/*
 * Collects both streams until they close or the deadline passes.
 * Returns 1 on timeout.  *reaped is set when the child was already waited
 * for (it exited but something else kept the pipes open).
 */
static int collect(struct capture cap[2], pid_t pid, long long deadline,
		   int *status, bool *reaped)
{
	while (cap[0].fd >= 0 || cap[1].fd >= 0) {
		struct pollfd p[2];
		int n, left = (int)(deadline - now_ms());

		if (left <= 0)
			return 1;
		for (int i = 0; i < 2; i++)
			p[i] = (struct pollfd){cap[i].fd, POLLIN, 0};
		n = poll(p, 2, left < REAP_CHECK_MS ? left : REAP_CHECK_MS);
		if (n < 0 && errno != EINTR)
			return 1;
		if (n == 0 && wait_child(pid, WNOHANG, status)) {
			*reaped = true;
			drain_nonblocking(&cap[0]);
			drain_nonblocking(&cap[1]);
			return 0;
		}
		for (int i = 0; i < 2 && n > 0; i++) {
			if (p[i].revents != 0 && drain(&cap[i]))
				close_fd(&cap[i].fd);
		}
	}
	return 0;
}

static int exit_code_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

static void finish_capture(struct capture *c, char **data, size_t *len)
{
	*len = c->sb.len;
	*data = sb_detach(&c->sb);
}

static void result_clear(struct spawn_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
	r->out_len = r->err_len = 0;
}

/* Parent side after fork: wait for exec, gather output, reap. */
static int supervise(pid_t pid, const char *const argv[], const struct spawn_opts *o,
		     struct capture cap[2], int report_fd, int timeout_ms,
		     struct spawn_result *r, struct error *e)
{
	struct child_failure f;
	long long deadline = now_ms() + timeout_ms;
	bool reaped = false;
	int status = 0, timed_out;

	if (read_child_failure(report_fd, &f) < 0) {
		wait_child(pid, 0, &status);
		return failure_message(&f, argv[0], o, e);
	}
	timed_out = collect(cap, pid, deadline, &status, &reaped);
	if (timed_out) {
		kill(pid, SIGKILL);
		reaped = false;
	}
	if (!reaped)
		wait_child(pid, 0, &status);
	finish_capture(&cap[0], &r->out, &r->out_len);
	finish_capture(&cap[1], &r->err, &r->err_len);
	if (timed_out) {
		r->timed_out = true;
		r->exit_code = 128 + SIGKILL;
		result_clear(r);
		return err_set(e, _("%s did not finish within %d.%d seconds and was stopped"),
			       argv[0], timeout_ms / 1000, timeout_ms % 1000 / 100);
	}
	r->exit_code = exit_code_of(status);
	return 0;
}

int spawn_run(const char *const argv[], const struct spawn_opts *o,
	      struct spawn_result *r, struct error *e)
{
	static const struct spawn_opts defaults;
	struct capture cap[2] = {{-1, STRBUF_INIT, 0}, {-1, STRBUF_INIT, 0}};
	int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, report[2] = {-1, -1};
	int in_fd, rc, timeout_ms;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	if (o == NULL)
		o = &defaults;
	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/')
		return err_set(e, _("cannot run %s: not an absolute path"),
			       argv && argv[0] ? argv[0] : "(null)");
	timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	cap[0].max = cap[1].max = o->max_output ? o->max_output : DEFAULT_MAX_OUTPUT;

	in_fd = make_stdin(o->stdin_data, e);
	if (in_fd < 0)
		return -1;
	if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0 ||
	    pipe2(report, O_CLOEXEC) < 0) {
		rc = err_sys(e, _("cannot run %s"), argv[0]);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = err_sys(e, _("cannot run %s"), argv[0]);
		goto out;
	}
	if (pid == 0)
		child_exec(argv, o, o->env ? o->env : default_env, in_fd,
			   out_pipe[1], err_pipe[1], report[1]);
	close_fd(&out_pipe[1]);
	close_fd(&err_pipe[1]);
	close_fd(&report[1]);
	close_fd(&in_fd);
	cap[0].fd = out_pipe[0];
	cap[1].fd = err_pipe[0];
	out_pipe[0] = err_pipe[0] = -1;
	rc = supervise(pid, argv, o, cap, report[0], timeout_ms, r, e);
out:
	close_fd(&cap[0].fd);
	close_fd(&cap[1].fd);
	sb_free(&cap[0].sb);
	sb_free(&cap[1].sb);
	for (int i = 0; i < 2; i++) {
		close_fd(&out_pipe[i]);
		close_fd(&err_pipe[i]);
		close_fd(&report[i]);
	}
	close_fd(&in_fd);
	return rc;
}

void spawn_result_free(struct spawn_result *r)
{
	if (r == NULL)
		return;
	result_clear(r);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Copies the first non-blank line of text into buf; false if none. */
static bool first_line(const char *text, size_t text_len, char *buf, size_t len)
{
	const char *p = text, *end = text + text_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *s = p, *t = line_end;

		while (s < t && is_space(*s))
			s++;
		while (t > s && is_space(t[-1]))
			t--;
		if (t > s) {
			size_t n = (size_t)(t - s);

			if (n >= len)
				n = len - 1;
			memcpy(buf, s, n);
			buf[n] = '\0';
			return true;
		}
		p = nl ? nl + 1 : end;
	}
	return false;
}

const char *spawn_first_line(const struct spawn_result *r, char *buf, size_t len)
{
	if (len == 0)
		return "";
	buf[0] = '\0';
	if (r == NULL)
		return buf;
	if (r->err && first_line(r->err, r->err_len, buf, len))
		return buf;
	if (r->out)
		first_line(r->out, r->out_len, buf, len);
	return buf;
}
