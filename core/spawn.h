/*
 * spawn.h - run helper programs from an argv array (never through a shell),
 * capture their output, bound their run time.
 */
#ifndef MH_SPAWN_H
#define MH_SPAWN_H

#include <stddef.h>

#include "common.h"

struct spawn_opts {
	const char *chroot_dir;   /* chroot(2) here before exec (needs root); NULL = none */
	const char *const *env;   /* full environment for the child; NULL = a minimal safe one */
	int timeout_ms;           /* 0 = 30 s; the child is killed (SIGKILL) after it */
	const char *stdin_data;   /* NULL = /dev/null */
	size_t max_output;        /* per stream; 0 = 4 MiB; the rest is discarded */
};

struct spawn_result {
	int exit_code;   /* exit status, or 128+signal, or -1 when it did not run */
	bool timed_out;
	char *out;       /* NUL-terminated stdout */
	size_t out_len;
	char *err;       /* NUL-terminated stderr */
	size_t err_len;
};

/* argv[0] is a path (no PATH search).  Returns 0 when the program ran (any
 * exit code), -1 when it could not be started or timed out. */
int spawn_run(const char *const argv[], const struct spawn_opts *o,
	      struct spawn_result *r, struct error *e);
void spawn_result_free(struct spawn_result *r);

/* The first line of r->err (or out) trimmed, for one-line error messages. */
const char *spawn_first_line(const struct spawn_result *r, char *buf, size_t len);

#endif
