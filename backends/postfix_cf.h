/*
 * postfix_cf.h - Postfix main.cf and master.cf as editable text.
 *
 * Both files are kept as their physical lines, byte for byte, so that
 * serializing an unchanged file gives back exactly the input (CRLF, tabs,
 * odd spacing and a missing final newline included).  Only the lines an edit
 * touches change.
 *
 * Postfix's reading rules (readlline) apply to both files: a logical line
 * starts at a line that begins with non-whitespace; lines that begin with
 * whitespace continue it; comment lines (first non-whitespace is '#') and
 * blank lines are skipped and do not end a logical line.
 *
 * Editing rules for main.cf:
 *   - get: the last active setting of a name wins, as in postconf;
 *   - set: replaces the last active setting in place (the whole logical line,
 *     continuations included) with "name = value"; earlier active settings
 *     of the same name are commented out with a "# " prefix on each line.
 *     A name not set yet is appended at the end, below the header line
 *     MAINCF_HEADER, which is written only once;
 *   - comment out: "# " before every line of every active setting of a name.
 * A setting whose value already equals the wanted one (whitespace runs
 * compared as one space) is left byte-identical, so planning again after an
 * apply changes nothing.
 *
 * Errors (file:line): a continuation line before any setting or entry, a
 * main.cf line without "=", a master.cf entry with fewer than 8 fields, a
 * NUL byte.
 */
#ifndef MH_POSTFIX_CF_H
#define MH_POSTFIX_CF_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/common.h"

#define MAINCF_HEADER "# TLS hardening by mailharden (see: mailharden history)"

/* master.cf field numbers */
enum master_field {
	MF_SERVICE, MF_TYPE, MF_PRIVATE, MF_UNPRIV, MF_CHROOT, MF_WAKEUP,
	MF_MAXPROC, MF_COMMAND, MF_COUNT
};

struct cf_file;

/* name labels error messages ("/etc/postfix/main.cf"). */
int maincf_parse(const char *name, const char *text, size_t len,
		 struct cf_file **out, struct error *e);
int mastercf_parse(const char *name, const char *text, size_t len,
		   struct cf_file **out, struct error *e);
void cf_free(struct cf_file *f);
/* The whole file as text (new string, NUL-terminated); *len may be NULL. */
char *cf_text(const struct cf_file *f, size_t *len);

/* main.cf.  Values are returned with whitespace runs folded to one space. */
const char *maincf_get(const struct cf_file *f, const char *name);
/* Returns 1 when the file changed, 0 when it already said so. */
int maincf_set(struct cf_file *f, const char *name, const char *value);
/* Returns how many settings were commented out. */
int maincf_comment_out(struct cf_file *f, const char *name);
/* Comments out every active setting of name but the last, each under a
 * line "# marker".  Returns how many. */
int maincf_comment_earlier(struct cf_file *f, const char *name, const char *marker);
/* Active setting names in file order, each once (for iterating a rendered
 * template). */
void maincf_names(const struct cf_file *f, struct strlist *names);

/* 1-based line where the last active setting of name starts; 0 if none. */
size_t maincf_line(const struct cf_file *f, const char *name);
/* 1-based first lines of every active setting of name, in file order;
 * returns how many (at most max are stored). */
size_t maincf_lines(const struct cf_file *f, const char *name, size_t *lines, size_t max);

/*
 * master.cf.  Entries are numbered 0..mastercf_count()-1 in file order; the
 * numbers after an entry that is uncommented or added shift by one.
 */
size_t mastercf_count(const struct cf_file *f);
const char *mastercf_field(const struct cf_file *f, size_t entry, enum master_field field);
/* Value of "-o name=value" on entry (the last one), or NULL. */
const char *mastercf_option(const struct cf_file *f, size_t entry, const char *name);
/* 1-based line of entry's last "-o name=..." (the entry's first line when
 * it cannot tell), 0 when the entry does not set name. */
size_t mastercf_option_line(const struct cf_file *f, size_t entry, const char *name);
/* 1-based first line of entry. */
size_t mastercf_entry_line(const struct cf_file *f, size_t entry);
/* The active entry with this service and type fields; -1 when none. */
int mastercf_find_service(const struct cf_file *f, const char *service, const char *type);
/* The TCP port a service field means: "smtp" 25, "submission" 587,
 * "submissions"/"smtps" 465, "127.0.0.1:2525" 2525, "[::1]:587" 587;
 * -1 when unknown. */
int service_port(const char *service);
/* First active entry from number `from` on of type "inet" whose service
 * means port and whose command is command (NULL = any); -1 when none. */
int mastercf_find_port(const struct cf_file *f, size_t from, int port, const char *command);

/* Sets "-o name=value" on entry (replacing the last one, dropping earlier
 * duplicates, else adding a line after the entry).  Returns 1 when changed.
 * An entry whose options are not one per line (or whose 8 fields span
 * lines) is first rewritten as fields on one line and one argument per
 * line; comments inside that entry are then lost. */
int mastercf_set_option(struct cf_file *f, size_t entry, const char *name, const char *value);
/* Comments out every "-o name=..." of entry, each under an indented
 * "# marker" line (the entry is first made one option per line if
 * needed).  Returns how many. */
int mastercf_comment_option(struct cf_file *f, size_t entry, const char *name, const char *marker);
/* Replaces one field of entry, keeping the spacing around it. */
int mastercf_set_field(struct cf_file *f, size_t entry, enum master_field field, const char *value);

/*
 * A commented-out entry "#service inet ... command" for port, with the
 * commented "#  -o ..." lines right below it.  Returns its first physical
 * line or -1.
 */
int mastercf_find_commented(const struct cf_file *f, int port, const char *command);
/*
 * Uncomments the entry found by mastercf_find_commented and its option
 * lines, except option lines that reference a parameter $name / ${name}
 * for which keep_commented(name, ctx) is true: those stay commented.
 * Returns the new entry number.
 */
int mastercf_uncomment(struct cf_file *f, size_t line,
		       bool (*keep_commented)(const char *name, void *ctx), void *ctx);
/* Adds an entry with fields[0..7] after the last active inet entry (at the
 * end when there is none).  Returns its number. */
int mastercf_add(struct cf_file *f, const char *const fields[MF_COUNT]);

#endif
