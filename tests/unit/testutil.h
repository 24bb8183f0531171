/*
 * testutil.h - shared helpers for the cmocka unit tests.
 */
#ifndef MH_TESTUTIL_H
#define MH_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh empty directory under $TMPDIR (or /tmp); the caller frees it. */
/* Every scratch directory is also removed when the test program exits,
 * so a failed assertion (cmocka jumps past the test's own cleanup) leaves
 * nothing behind in /tmp.  Up to 256 per program; removing twice is fine. */
static char *tu_dirs[256];
static int tu_n_dirs;

static inline void tu_rmrf(const char *dir);

static inline void tu_cleanup_all(void)
{
	for (int i = 0; i < tu_n_dirs; i++) {
		tu_rmrf(tu_dirs[i]);
		free(tu_dirs[i]);
	}
	tu_n_dirs = 0;
}

static inline char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *path = malloc(4096);

	snprintf(path, 4096, "%s/mh-test-XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	if (tu_n_dirs == 0)
		atexit(tu_cleanup_all);
	if (tu_n_dirs < (int)(sizeof(tu_dirs) / sizeof(tu_dirs[0])))
		tu_dirs[tu_n_dirs++] = strdup(path);
	return path;
}

/* Writes text to dir/rel, creating parent directories. */
static inline void tu_write(const char *dir, const char *rel, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (char *p = path + strlen(dir) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	}
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		abort();
	}
	fputs(text, f);
	fclose(f);
}

/* Reads dir/rel into a malloc'd string, NULL if missing. */
static inline char *tu_read(const char *dir, const char *rel)
{
	char path[4096];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* rm -rf dir (test scratch only). */
static inline void tu_rmrf(const char *dir)
{
	char cmd[4200];

	if (access(dir, F_OK) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
}

#endif
