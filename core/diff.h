/*
 * diff.h - unified diffs for the review step and `mailharden plan`.
 */
#ifndef MH_DIFF_H
#define MH_DIFF_H

#include <stddef.h>

/* A unified diff ("--- a_label", "+++ b_label", @@ hunks) of two texts with
 * `context` lines of context.  Returns "" (allocated) when they are equal.
 * A missing final newline is shown as "\ No newline at end of file". */
char *diff_unified(const char *a_label, const char *a, size_t a_len,
		   const char *b_label, const char *b, size_t b_len, int context);

#endif
