/*
 * engine.c - apply a plan: validate a staged copy, checkpoint, write,
 * reload, confirm; undo everything on any failure after the first write.
 */
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/fsutil.h"
#include "../core/txn.h"

static void progress(const struct apply_opts *o, int percent, const char *step)
{
	if (o && o->progress)
		o->progress(o->progress_ctx, percent, step);
}

/* The part of server_path below dir ("main.cf"), or NULL if outside. */
static const char *path_below(const char *dir, const char *server_path)
{
	size_t n = strlen(dir);

	while (n > 0 && dir[n - 1] == '/')
		n--;
	if (strncmp(server_path, dir, n) != 0 || server_path[n] != '/')
		return NULL;
	return server_path + n + 1;
}

/* Puts the plan's files into the staged copy of the config directory. */
static int stage_plan(const struct env *env, const struct plan *p,
		      const char *stage, struct error *e)
{
	const char *confdir = p->server->config_dir;

	for (size_t i = 0; i < p->n_changes; i++) {
		const struct file_change *c = &p->changes[i];
		const char *rel = path_below(confdir, c->path);
		char *spath, *hpath;
		struct stat st;
		int rc;

		if (rel == NULL)
			continue; /* outside the config dir: checked by value */
		spath = path_join(stage, rel);
		hpath = env_host_path(env, spath);
		if (lstat(hpath, &st) == 0) {
			struct file_meta m = {st.st_uid, st.st_gid, st.st_mode & 07777, NULL};

			rc = fs_replace(hpath, c->new_text, c->new_len, &m);
		} else {
			rc = fs_write_new(hpath, c->new_text, c->new_len, c->mode ? c->mode : 0644);
		}
		free(hpath);
		free(spath);
		if (rc < 0)
			return err_sys(e, _("cannot stage %s for validation"), c->path);
	}
	return 0;
}

/* Asks the server's tool for every expectation of p, reading dir; the
 * answers land in r->expect. */
static int ask_effective(const struct env *env, const struct plan *p, const char *dir,
			 struct apply_result *r, struct error *e)
{
	const struct server_info *si = p->server;

	expect_list_free(&r->expect);
	expect_list_copy(&r->expect, &p->expect);
	if (si->backend->effective == NULL || r->expect.n == 0)
		return 0;
	return si->backend->effective(env, si, dir, &r->expect, e);
}

static const struct expectation *first_weaker(const struct expect_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].state == EXPECT_WEAKER)
			return &l->items[i];
	return NULL;
}

/* An error naming the first expectation that does not hold. */
static int weaker_error(const struct expect_list *l, const char *what, struct error *e)
{
	char *d = expect_describe(first_weaker(l));
	size_t more = expect_count(l, EXPECT_WEAKER) - 1;

	if (more)
		err_set(e, _("%s: %s (and %zu more)"), what, d, more);
	else
		err_set(e, "%s: %s", what, d);
	free(d);
	return -1;
}

static int validate_staged(const struct env *env, const struct plan *p, struct apply_result *r,
			   struct error *e)
{
	const struct server_info *si = p->server;
	char *stage = NULL;
	int rc;

	if (txn_stage_dir(env, si->config_dir, &stage, e) < 0)
		return err_prefix(e, _("validation"));
	rc = stage_plan(env, p, stage, e);
	if (rc == 0)
		rc = si->backend->validate(env, si, p, stage, e);
	if (rc == 0)
		rc = ask_effective(env, p, stage, r, e);
	if (rc == 0 && first_weaker(&r->expect))
		rc = weaker_error(&r->expect, _("not applied, nothing was written; the server would "
						"still use a weaker value"), e);
	txn_stage_remove(env, stage);
	free(stage);
	return rc;
}

static int write_all(struct txn *t, const struct plan *p, struct apply_result *r,
		     struct error *e)
{
	for (size_t i = 0; i < p->n_changes; i++) {
		const struct file_change *c = &p->changes[i];

		if (c->existed && c->old_len == c->new_len &&
		    memcmp(c->old_text, c->new_text, c->new_len) == 0)
			continue;
		if (txn_write(t, c->path, c->new_text, c->new_len, c->mode ? c->mode : 0644, e) < 0)
			return -1;
		sl_add(&r->written, c->path);
	}
	return 0;
}

/* Undoes the writes and, when the server was told to reload, reloads it
 * again so it runs the old files. */
static int undo(const struct env *env, const struct plan *p, struct txn *t,
		bool reloaded, struct apply_result *r, struct error *e)
{
	struct error e2;
	char first[sizeof(e->msg)];

	memcpy(first, e->msg, sizeof(first));
	if (txn_abort(t, &e2) < 0) {
		snprintf(e->msg, sizeof(e->msg), _("%s; ROLLBACK FAILED: %s"), first, e2.msg);
		return -1;
	}
	r->rolled_back = true;
	if (reloaded && p->server->backend->reload(env, p->server, &e2) < 0) {
		snprintf(e->msg, sizeof(e->msg),
			 _("%s; files rolled back, but reloading the old configuration failed: %s"),
			 first, e2.msg);
		return -1;
	}
	snprintf(e->msg, sizeof(e->msg), _("%s; all files rolled back"), first);
	return -1;
}

/* The plan was made from old_text; refuse to write over anything else. */
static int check_fresh(const struct env *env, const struct plan *p, struct error *e)
{
	for (size_t i = 0; i < p->n_changes; i++) {
		const struct file_change *c = &p->changes[i];
		bool exists = env_exists(env, c->path);
		char *data = NULL;
		size_t len = 0;
		bool same;

		if (exists != c->existed)
			return err_set(e, _("%s changed since the plan was made; nothing was written, "
					    "run it again"), c->path);
		if (!exists)
			continue;
		if (txn_read(env, c->path, p->server->config_dir, &data, &len, e) < 0)
			return -1;
		same = len == c->old_len && memcmp(data, c->old_text, len) == 0;
		free(data);
		if (!same)
			return err_set(e, _("%s changed since the plan was made; nothing was written, "
					    "run it again"), c->path);
	}
	return 0;
}

int engine_recover(const struct env *env, struct strlist *report, struct error *e)
{
	struct txn_lock *lk = NULL;
	int rc;

	if (txn_lock(env, &lk, e) < 0)
		return -1;
	rc = txn_recover(env, report, e);
	txn_unlock(lk);
	return rc;
}

static int apply_locked(const struct env *env, const struct plan *p,
			const struct apply_opts *o, struct apply_result *r, struct error *e)
{
	const struct server_info *si = p->server;
	struct txn *t = NULL;
	char *desc;
	int rc;

	if (txn_recover(env, &r->notes, e) < 0)
		return err_prefix(e, _("recovering an unfinished checkpoint"));
	if (check_fresh(env, p, e) < 0)
		return -1;
	progress(o, 10, _("Validating with the server's own checker"));
	if (validate_staged(env, p, r, e) < 0)
		return -1;
	progress(o, 40, _("Creating checkpoint"));
	desc = xasprintf("%s: %s", si->backend->name,
			 o && o->description ? o->description : "apply");
	rc = txn_begin(env, desc, si->config_dir, &t, e);
	free(desc);
	if (rc < 0)
		return -1;
	progress(o, 55, _("Writing files"));
	if (write_all(t, p, r, e) < 0)
		return undo(env, p, t, false, r, e);
	if (o && o->reload && !env->lab) {
		progress(o, 75, _("Reloading the server"));
		if (si->backend->reload(env, si, e) < 0)
			return undo(env, p, t, true, r, e);
	}
	progress(o, 90, _("Verifying the effective configuration"));
	if (ask_effective(env, p, si->config_dir, r, e) < 0)
		return undo(env, p, t, o && o->reload && !env->lab, r, e);
	if (first_weaker(&r->expect)) {
		weaker_error(&r->expect, _("the server does not use what was written"), e);
		return undo(env, p, t, o && o->reload && !env->lab, r, e);
	}
	progress(o, 95, _("Committing checkpoint"));
	if (txn_commit(t, &r->checkpoint_id, e) < 0)
		return undo(env, p, t, o && o->reload && !env->lab, r, e);
	txn_free(t);
	progress(o, 100, _("Done"));
	return 0;
}

int engine_apply(const struct env *env, const struct plan *p,
		 const struct apply_opts *o, struct apply_result *r, struct error *e)
{
	struct txn_lock *lk = NULL;
	int rc;

	if (txn_lock(env, &lk, e) < 0)
		return -1;
	rc = apply_locked(env, p, o, r, e);
	txn_unlock(lk);
	return rc;
}

void apply_result_free(struct apply_result *r)
{
	free(r->checkpoint_id);
	sl_free(&r->written);
	sl_free(&r->notes);
	expect_list_free(&r->expect);
	memset(r, 0, sizeof(*r));
}

int engine_verify(const struct env *env, const struct server_info *si,
		  struct expect_list *x, struct error *e)
{
	for (size_t i = 0; i < x->n; i++)
		expect_set(&x->items[i], NULL, NULL, EXPECT_UNKNOWN);
	if (si->backend->effective == NULL || x->n == 0)
		return 0;
	return si->backend->effective(env, si, si->config_dir, x, e);
}
