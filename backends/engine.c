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

/* Undoes every write and reloads again the servers already told to
 * reload (n_reloaded of them, in plan order), so they run the old files. */
static int undo_set(const struct env *env, const struct apply_set *s, struct txn *t,
		    size_t n_reloaded, struct apply_result *r, struct error *e)
{
	struct error e2;
	char first[sizeof(e->msg)];

	memcpy(first, e->msg, sizeof(first));
	if (txn_abort(t, &e2) < 0) {
		snprintf(e->msg, sizeof(e->msg), _("%s; ROLLBACK FAILED: %s"), first, e2.msg);
		return -1;
	}
	r->rolled_back = true;
	for (size_t i = 0; i < n_reloaded; i++) {
		const struct server_info *si = s->plans[i]->server;

		if (si->backend->reload(env, si, &e2) < 0) {
			snprintf(e->msg, sizeof(e->msg),
				 _("%s; files rolled back, but reloading the old configuration failed: %s"),
				 first, e2.msg);
			return -1;
		}
	}
	snprintf(e->msg, sizeof(e->msg), _("%s; all files rolled back"), first);
	return -1;
}

/* Files outside the servers' directories (DH parameters) come first: the
 * checkers may read them. */
static int write_extras(struct txn *t, const struct apply_set *s, struct apply_result *r,
			struct error *e)
{
	for (size_t i = 0; i < s->n_files; i++) {
		const struct extra_file *f = &s->files[i];
		char *dir = path_dir(f->path);
		int rc = txn_mkdir(t, dir, 0755, e);

		free(dir);
		if (rc < 0 || txn_write(t, f->path, f->data, f->len, f->mode, e) < 0)
			return -1;
		sl_add(&r->written, f->path);
	}
	return 0;
}

static int begin_set(const struct env *env, const struct apply_set *s,
		     const struct apply_opts *o, struct txn **t, struct error *e)
{
	const char *what = o && o->description ? o->description : "apply";
	char *desc = s->n_plans == 1 ? xasprintf("%s: %s", s->plans[0]->server->backend->name, what)
				     : xstrdup(what);
	int rc;

	rc = txn_begin(env, desc, s->n_plans ? s->plans[0]->server->config_dir : NULL, t, e);
	free(desc);
	for (size_t i = 1; rc == 0 && i < s->n_plans; i++)
		rc = txn_allow(*t, s->plans[i]->server->config_dir, e);
	/* what each plan intended, for a later `verify` */
	for (size_t i = 0; rc == 0 && i < s->n_plans; i++) {
		const struct plan *p = s->plans[i];
		char *key;

		if (p->intent == NULL)
			continue;
		key = xasprintf("intent/%s", p->server->backend->name);
		rc = txn_set_meta(*t, key, p->intent, e);
		free(key);
	}
	if (rc < 0 && *t) {
		struct error ignored;

		txn_abort(*t, &ignored);
		*t = NULL;
	}
	return rc;
}

static int validate_all(const struct env *env, const struct apply_set *s,
			struct apply_result *r, struct error *e)
{
	for (size_t i = 0; i < s->n_plans; i++) {
		if (validate_staged(env, s->plans[i], r, e) < 0) {
			if (s->n_plans > 1)
				err_prefix(e, "%s", s->plans[i]->server->backend->display_name);
			return -1;
		}
	}
	return 0;
}

/* Moves the items of src to the end of dst. */
static void expect_move(struct expect_list *dst, struct expect_list *src)
{
	if (src->n == 0) {
		free(src->items);
		src->items = NULL;
		return;
	}
	dst->items = xrealloc(dst->items, (dst->n + src->n) * sizeof(*dst->items));
	memcpy(dst->items + dst->n, src->items, src->n * sizeof(*src->items));
	dst->n += src->n;
	free(src->items);
	src->items = NULL;
	src->n = 0;
}

/* After writing, every server must use what was written; r->expect ends
 * up with the answers for all plans. */
static int verify_all(const struct env *env, const struct apply_set *s,
		      struct apply_result *r, struct error *e)
{
	struct expect_list all = {0};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < s->n_plans; i++) {
		const struct plan *p = s->plans[i];

		rc = ask_effective(env, p, p->server->config_dir, r, e);
		if (rc == 0 && first_weaker(&r->expect))
			rc = weaker_error(&r->expect, _("the server does not use what was written"), e);
		if (rc < 0 && s->n_plans > 1)
			err_prefix(e, "%s", p->server->backend->display_name);
		expect_move(&all, &r->expect);
	}
	expect_list_free(&r->expect);
	r->expect = all;
	return rc;
}

static int apply_set_locked(const struct env *env, const struct apply_set *s,
			    const struct apply_opts *o, struct apply_result *r, struct error *e)
{
	bool reload = o && o->reload && !env->lab;
	struct txn *t = NULL;
	size_t reloaded = 0;

	if (txn_recover(env, &r->notes, e) < 0)
		return err_prefix(e, _("recovering an unfinished checkpoint"));
	for (size_t i = 0; i < s->n_plans; i++)
		if (check_fresh(env, s->plans[i], e) < 0)
			return -1;
	/* Nothing is written before the checkers accept the plans, unless a
	 * plan names a file of the set (DH parameters): then that file is
	 * written first, in the checkpoint, and undone if a checker refuses. */
	if (s->n_files == 0) {
		progress(o, 10, _("Validating with the server's own checker"));
		if (validate_all(env, s, r, e) < 0)
			return -1;
	}
	progress(o, 40, _("Creating checkpoint"));
	if (begin_set(env, s, o, &t, e) < 0)
		return -1;
	if (s->n_files) {
		if (write_extras(t, s, r, e) < 0)
			return undo_set(env, s, t, 0, r, e);
		progress(o, 45, _("Validating with the server's own checker"));
		if (validate_all(env, s, r, e) < 0)
			return undo_set(env, s, t, 0, r, e);
	}
	progress(o, 55, _("Writing files"));
	for (size_t i = 0; i < s->n_plans; i++)
		if (write_all(t, s->plans[i], r, e) < 0)
			return undo_set(env, s, t, 0, r, e);
	for (size_t i = 0; reload && i < s->n_plans; i++) {
		const struct server_info *si = s->plans[i]->server;

		progress(o, 75, _("Reloading the server"));
		reloaded = i + 1;
		if (si->backend->reload(env, si, e) < 0) {
			err_prefix(e, "%s", si->backend->display_name);
			return undo_set(env, s, t, reloaded, r, e);
		}
	}
	progress(o, 90, _("Verifying the effective configuration"));
	if (verify_all(env, s, r, e) < 0)
		return undo_set(env, s, t, reload ? s->n_plans : 0, r, e);
	progress(o, 95, _("Committing checkpoint"));
	if (txn_commit(t, &r->checkpoint_id, e) < 0)
		return undo_set(env, s, t, reload ? s->n_plans : 0, r, e);
	txn_free(t);
	progress(o, 100, _("Done"));
	return 0;
}

int engine_apply_set(const struct env *env, const struct apply_set *s,
		     const struct apply_opts *o, struct apply_result *r, struct error *e)
{
	struct txn_lock *lk = NULL;
	int rc;

	if (s->n_plans == 0 && s->n_files == 0)
		return err_set(e, "%s", _("nothing to apply"));
	if (txn_lock(env, &lk, e) < 0)
		return -1;
	rc = apply_set_locked(env, s, o, r, e);
	txn_unlock(lk);
	return rc;
}

int engine_apply(const struct env *env, const struct plan *p,
		 const struct apply_opts *o, struct apply_result *r, struct error *e)
{
	const struct plan *plans[] = {p};
	struct apply_set s = {.plans = plans, .n_plans = 1};

	return engine_apply_set(env, &s, o, r, e);
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

/* The newest committed checkpoint not rolled back, or id. */
static char *restore_pick(const struct checkpoint_info *list, size_t n, const char *id)
{
	for (size_t i = n; i-- > 0;)
		if (id ? strcmp(list[i].id, id) == 0 : !list[i].rolled_back)
			return xstrdup(list[i].id);
	return NULL;
}

/* The checkpoint's files below si's config directory as a plan from the
 * files now to what the rollback would restore (an empty file where it
 * would remove one). */
static int restore_plan(const struct env *env, const struct checkpoint_info *c,
			struct plan *p, struct error *e)
{
	const struct server_info *si = p->server;

	for (size_t k = 0; k < c->n_files; k++) {
		const char *path = c->files[k].path;
		char *old = NULL, *data = NULL;
		size_t old_len = 0, len = 0;
		bool existed, now = env_exists(env, path);
		int rc;

		if (path_below(si->config_dir, path) == NULL)
			continue;
		rc = checkpoint_backup(env, c->id, path, &existed, &data, &len, e);
		if (rc == 0 && now)
			rc = txn_read(env, path, si->config_dir, &old, &old_len, e);
		if (rc == 0)
			plan_add_change(p, path, now, old, old_len, existed ? data : "",
					existed ? len : 0, 0644);
		free(old);
		free(data);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int engine_check_restore(const struct env *env, const char *id, struct error *e)
{
	const struct backend *const *bl = backend_list();
	struct checkpoint_info *list = NULL;
	size_t n = 0;
	char *pick;
	int rc = 0;

	if (checkpoint_list(env, &list, &n, e) < 0)
		return -1;
	pick = restore_pick(list, n, id);
	for (size_t i = 0; pick && rc == 0 && bl[i]; i++) {
		struct server_info si = {0};
		struct plan p = {0};
		const struct checkpoint_info *c = NULL;
		struct error e2 = {{0}};
		char *stage = NULL;

		for (size_t k = 0; k < n; k++)
			if (strcmp(list[k].id, pick) == 0)
				c = &list[k];
		si.backend = bl[i];
		bl[i]->detect(env, &si);
		si.backend = bl[i];
		p.server = &si;
		/* run from the host on a lab tree, the checker cannot judge
		 * (absolute symlinks and includes lead to the host's files) */
		if (c && si.found && si.config_dir && server_sees_root(env, &si) &&
		    restore_plan(env, c, &p, &e2) == 0 &&
		    !plan_is_empty(&p) && txn_stage_dir(env, si.config_dir, &stage, &e2) == 0) {
			if (stage_plan(env, &p, stage, &e2) < 0 ||
			    bl[i]->validate(env, &si, &p, stage, &e2) < 0)
				rc = err_set(e, _("checkpoint %s would restore files that %s %s cannot load; "
						  "nothing was restored (--force restores them anyway): %s"),
					     pick, bl[i]->display_name, si.version ? si.version : "",
					     e2.msg);
			txn_stage_remove(env, stage);
			free(stage);
		}
		plan_free(&p);
		server_info_free(&si);
	}
	free(pick);
	checkpoint_list_free(list, n);
	return rc;
}
