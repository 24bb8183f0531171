/*
 * selftest_out.c - the self-test's output formats and --out.
 */
#include "selftest_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/txn.h"
#include "../selftest/report_monitor.h"

#define EXIT_UNTESTABLE 3

static const char *const format_names[] = {"text", "json", "nagios", "prometheus"};

int selftest_format_parse(const struct cli_opts *o, enum selftest_format *f, struct error *e)
{
	*f = o->json ? FMT_JSON : FMT_TEXT;
	if (o->format == NULL)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(format_names); i++) {
		if (strcmp(o->format, format_names[i]) != 0)
			continue;
		if (o->json && i != FMT_JSON)
			return err_set(e, _("--json and --format %s contradict each other"), format_names[i]);
		*f = (enum selftest_format)i;
		return 0;
	}
	return err_set(e, _("--format is text, json, nagios or prometheus"));
}

static char *render(const struct cli_opts *o, enum selftest_format f,
		    const struct selftest_opts *so, const struct port_result *r, size_t n)
{
	switch (f) {
	case FMT_JSON:
		return selftest_report_json(so, r, n);
	case FMT_NAGIOS:
		return selftest_report_nagios(so, r, n);
	case FMT_PROMETHEUS:
		return selftest_report_prometheus(so, r, n, time(NULL));
	case FMT_TEXT:
		break;
	}
	{
		const char *nc = getenv("NO_COLOR");
		bool color = !o->out && isatty(STDOUT_FILENO) && !(nc && *nc);
		char *buf = NULL;
		size_t len = 0;
		FILE *mem = open_memstream(&buf, &len);

		if (mem == NULL)
			msg_fatal("%s", _("out of memory"));
		selftest_report_text(mem, so, r, n, color);
		fclose(mem);
		return buf;
	}
}

int selftest_emit(struct env *env, const struct cli_opts *o, enum selftest_format f,
		  const struct selftest_opts *so, const struct port_result *r, size_t n)
{
	struct error e = {{0}};
	char *text = render(o, f, so, r, n);
	int rc = selftest_exit_code(r, n);

	if (o->out == NULL) {
		fputs(text, stdout);
	} else if (txn_write_file(env, o->out, _("the report"), text, strlen(text), 0644, &e) < 0) {
		msg_error("%s", e.msg);
		rc = EXIT_UNTESTABLE;
	}
	free(text);
	return rc;
}

void selftest_emit_error(enum selftest_format f, const char *msg)
{
	msg_error("%s", msg);
	if (f == FMT_NAGIOS) {
		char *line = nagios_unknown_line(msg);

		fputs(line, stdout);
		free(line);
	}
}
