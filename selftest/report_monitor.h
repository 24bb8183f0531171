/*
 * report_monitor.h - the self-test for monitoring systems: a Nagios/Icinga
 * plugin status line and the Prometheus text exposition format (for the
 * node exporter's textfile collector).  Kept apart from report.c, which the
 * people-facing and JSON reports own.
 */
#ifndef MH_REPORT_MONITOR_H
#define MH_REPORT_MONITOR_H

#include <stddef.h>
#include <time.h>

#include "selftest.h"

/* Nagios plugin states; the same numbers as selftest_exit_code(). */
enum { NAGIOS_OK, NAGIOS_WARNING, NAGIOS_CRITICAL, NAGIOS_UNKNOWN };

/* "MAILHARDEN OK - ... | perfdata" followed by one long-output line per
 * port; new string. */
char *selftest_report_nagios(const struct selftest_opts *o, const struct port_result *r, size_t n);

/* The status line when nothing could be tested at all (bad options, no
 * port found): "MAILHARDEN UNKNOWN - why"; new string. */
char *nagios_unknown_line(const char *why);

/* Gauges per port (labels host, port, role) and per run; now is the
 * run's time for mailharden_selftest_last_run_timestamp_seconds. */
char *selftest_report_prometheus(const struct selftest_opts *o, const struct port_result *r,
				 size_t n, time_t now);

#endif
