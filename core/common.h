/*
 * common.h - small shared helpers: gettext macros, errors, growable strings,
 * allocation that never returns NULL.
 */
#ifndef MH_COMMON_H
#define MH_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef _
#error "_ is already defined: include core/common.h before anything that defines it"
#endif
#include <libintl.h>
#define _(s) gettext(s)
/* Marks a string for extraction; translate at the point of use with _(). */
#define N_(s) (s)

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define MH_ATTR_PRINTF(f, a) __attribute__((format(printf, f, a)))

/*
 * An error travels up as a return value of -1 with the one-line message in
 * a struct error owned by the caller.  Messages are already translated.
 */
struct error {
	char msg[1024];
};

/* Sets e->msg (if e is not NULL) and returns -1, so callers can
 * "return err_set(e, ...)". */
int err_set(struct error *e, const char *fmt, ...) MH_ATTR_PRINTF(2, 3);
/* Like err_set, appending ": strerror(errno)". */
int err_sys(struct error *e, const char *fmt, ...) MH_ATTR_PRINTF(2, 3);
/* Prepends "prefix: " to an existing message. */
int err_prefix(struct error *e, const char *fmt, ...) MH_ATTR_PRINTF(2, 3);

/* Diagnostics on stderr, prefixed with the program name. */
void msg_warn(const char *fmt, ...) MH_ATTR_PRINTF(1, 2);
void msg_error(const char *fmt, ...) MH_ATTR_PRINTF(1, 2);
_Noreturn void msg_fatal(const char *fmt, ...) MH_ATTR_PRINTF(1, 2);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) MH_ATTR_PRINTF(1, 2);

struct strbuf {
	char *buf; /* always NUL-terminated once anything was added */
	size_t len;
	size_t cap;
};

#define STRBUF_INIT {NULL, 0, 0}
void sb_add(struct strbuf *sb, const void *data, size_t len);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addc(struct strbuf *sb, char c);
void sb_addf(struct strbuf *sb, const char *fmt, ...) MH_ATTR_PRINTF(2, 3);
void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Returns the buffer (never NULL, "" when empty) and resets sb. */
char *sb_detach(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_free(struct strbuf *sb);

/* A growable array of owned strings. */
struct strlist {
	char **v;
	size_t n;
	size_t cap;
};
#define STRLIST_INIT {NULL, 0, 0}
void sl_add(struct strlist *sl, const char *s);      /* copies s */
void sl_add_owned(struct strlist *sl, char *s);      /* takes s */
void sl_free(struct strlist *sl);

/*
 * True when s holds no control characters (newline, tab, ESC, DEL ...).
 * Every value that ends up in a config file passes this first: a newline in
 * a hostname or path would inject settings.
 */
bool text_is_clean(const char *s);

/* Reads a whole file (host path).  Returns -1 and sets e on error; the
 * result is NUL-terminated, *len excludes the NUL. */
int read_file(const char *path, char **data, size_t *len, struct error *e);

/* The directory part of path ("/etc/postfix" for "/etc/postfix/main.cf";
 * "/" and "." at the ends), a new string; and the last component. */
char *path_dir(const char *path);
const char *path_base(const char *path);

/* Joins a and b with exactly one '/'. */
char *path_join(const char *a, const char *b);

#endif
