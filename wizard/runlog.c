/*
 * runlog.c - every wizard run appends what it asked, what was answered
 * (and where the answer came from), what it wrote and reloaded to one log,
 * as bsdinstall and certbot keep theirs: /var/log/mailharden.log, under
 * the lab root in lab mode.  Kept by mailharden alone; never in a
 * checkpoint.
 */
#include "step.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/fsutil.h"

const char *const wizard_log_path = "/var/log/mailharden.log";

static const char *source(const struct wizard *w, enum step st)
{
	if (w->preset[st])
		return _("from the answers file");
	return w->answered[st] ? _("asked") : _("not asked");
}

static void log_answers(const struct wizard *w, struct strbuf *sb)
{
	struct strbuf names = STRBUF_INIT;

	for (size_t i = 0; i < w->n_srv; i++)
		if (w->srv[i].selected)
			sb_addf(&names, "%s%s", names.len ? ", " : "", w->srv[i].backend->name);
	sb_addf(sb, "  servers (%s): %s\n", source(w, ST_SERVERS), names.len ? names.buf : "-");
	sb_free(&names);
	for (size_t i = 0; i < w->n_srv; i++) {
		const struct wserver *s = &w->srv[i];
		char *roles;

		if (!s->selected)
			continue;
		roles = roles_format(s->roles);
		sb_addf(sb, "  %s.roles (%s): %s\n", s->backend->name,
			s->roles_preset ? _("from the answers file")
					: s->roles_answered ? _("asked") : _("not asked"),
			roles);
		free(roles);
	}
	if (wizard_needs_sasl(w))
		sb_addf(sb, "  sasl (%s): %s\n", source(w, ST_SASL),
			w->sasl == SASL_UNSET ? "keep" : sasl_kind_name(w->sasl));
	sb_addf(sb, "  profile (%s): %s\n", source(w, ST_PROFILE),
		w->profile ? w->profile->name : "-");
	sb_addf(sb, "  cert (%s): %s%s%s\n", source(w, ST_CERT), w->cert ? w->cert : "keep",
		w->key ? "  key: " : "", w->key ? w->key : "");
	if (w->profile && w->profile->dh_bits)
		sb_addf(sb, "  dh (%s): %s\n", source(w, ST_DH), w->dh ? w->dh : "none");
}

static const char *outcome_word(enum wizard_outcome o)
{
	switch (o) {
	case WIZARD_APPLIED:
		return "applied";
	case WIZARD_NOTHING:
		return "nothing to change / not applied";
	case WIZARD_CANCELLED:
		return "cancelled, nothing written";
	case WIZARD_FAILED:
		break;
	}
	return "failed";
}

int wizard_log(const struct wizard *w, const struct wizard_result *r, const char *error)
{
	char *host = env_host_path(w->env, wizard_log_path), *dir = path_dir(host);
	struct strbuf sb = STRBUF_INIT;
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	int fd, rc = 0;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	sb_addf(&sb, "%s wizard run%s%s (uid %d)\n", when, w->env->lab ? ", lab root " : "",
		w->env->lab ? w->env->root : "", (int)geteuid());
	log_answers(w, &sb);
	for (size_t i = 0; i < w->log_written.n; i++)
		sb_addf(&sb, "  wrote: %s\n", w->log_written.v[i]);
	if (w->log_reloaded.len)
		sb_addf(&sb, "  reloaded: %s\n", w->log_reloaded.buf);
	for (size_t i = 0; i < r->checkpoints.n; i++)
		sb_addf(&sb, "  checkpoint: %s\n", r->checkpoints.v[i]);
	sb_addf(&sb, "  outcome: %s%s%s\n", outcome_word(r->outcome), error && *error ? ": " : "",
		error && *error ? error : "");
	if (w->env->lab)
		fs_mkdir_p(dir, 0755);
	fd = open(host, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, sb.buf, sb.len) != (ssize_t)sb.len || fsync(fd) < 0)
		rc = -1;
	if (fd >= 0)
		close(fd);
	sb_free(&sb);
	free(dir);
	free(host);
	return rc;
}
