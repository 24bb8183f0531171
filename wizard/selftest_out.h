/*
 * selftest_out.h - where and in which format "selftest" reports: text for
 * people, JSON, a Nagios plugin line, Prometheus gauges; on standard output
 * or written atomically to --out FILE (for the textfile collector).
 */
#ifndef MH_SELFTEST_OUT_H
#define MH_SELFTEST_OUT_H

#include <stddef.h>

#include "../selftest/selftest.h"
#include "cli.h"

enum selftest_format { FMT_TEXT, FMT_JSON, FMT_NAGIOS, FMT_PROMETHEUS };

/* From --format and --json; -1 with e set when they disagree or are unknown. */
int selftest_format_parse(const struct cli_opts *o, enum selftest_format *f, struct error *e);

/* Prints (or writes to --out) the report; returns the exit code: the
 * self-test's, or 3 when --out cannot be written. */
int selftest_emit(struct env *env, const struct cli_opts *o, enum selftest_format f,
		  const struct selftest_opts *so, const struct port_result *r, size_t n);

/* Nothing could be tested: the one-line error on stderr and, for Nagios,
 * the UNKNOWN status line on stdout (a plugin's output is read there). */
void selftest_emit_error(enum selftest_format f, const char *msg);

#endif
