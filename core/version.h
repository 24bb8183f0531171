/*
 * version.h - dotted version numbers ("3.7.11", "2.4.1-4", "3.5.9").
 */
#ifndef MH_VERSION_H
#define MH_VERSION_H

#include <stdbool.h>

/* Compares numerically component by component; missing components are 0;
 * anything after the numeric part ("-4", " (7d8c0e5759)") is ignored.
 * Returns <0, 0, >0. */
int version_cmp(const char *a, const char *b);
bool version_ge(const char *v, const char *min);
/* True when v starts with a digit and has at least major.minor. */
bool version_valid(const char *v);

#endif
