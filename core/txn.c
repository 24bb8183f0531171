/*
 * txn.c - the only code that changes a server's files.  See txn.h for the
 * on-disk layout and the rules.  Every change is preceded by a durable
 * backup and journal, so a crash at any instant can be undone.
 */
#include "txn.h"

#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define MAX_LINKS 40
#define PARTIAL_PREFIX ".partial-"
#define ID_LEN 19 /* YYYYmmdd-HHMMSS-NNN */

struct txn_lock {
	int fd;
};

struct txn {
	const struct env *env;
	char *dir;     /* host path of the checkpoint directory */
	char *id;
	char *allowed; /* resolved server path of allowed_dir, or NULL */
	struct strlist more_allowed; /* txn_allow: further resolved dirs */
	json_t *journal;
	bool committed;
};

/* One journal entry, borrowed from its json_t. */
struct jentry {
	const char *path;
	bool dir;      /* a directory txn_mkdir created (existed is false) */
	bool existed;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	const char *label;
	const char *before;
	const char *after;
};

/* Sets "FMT" with the server spelling of host and strerror(err). */
static int err_path(struct error *e, const char *fmt, const struct env *env,
		    const char *host, int err)
{
	char *sp = env_server_path(env, host);

	err_set(e, fmt, sp ? sp : host, strerror(err));
	free(sp);
	return -1;
}

static char *checkpoints_dir(const struct env *env)
{
	return path_join(env->state_dir, "checkpoints");
}

/* --- lock ---------------------------------------------------------------- */

static int lock_held(int fd, struct error *e)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid = 0;

	if (n > 0) {
		buf[n] = '\0';
		pid = strtol(buf, NULL, 10);
	}
	if (pid > 0)
		return err_set(e, _("another mailharden is running (pid %ld)"), pid);
	return err_set(e, "%s", _("another mailharden is running"));
}

static int lock_write_pid(int fd)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -1;
	return fchmod(fd, 0600);
}

/* Opens, locks and stamps the lock file; returns the fd or -1. */
static int lock_open(const struct env *env, const char *path, struct error *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return err_path(e, _("cannot open %s: %s"), env, path, errno);
	if (lockf(fd, F_TLOCK, 0) < 0) {
		if (errno == EACCES || errno == EAGAIN)
			lock_held(fd, e);
		else
			err_path(e, _("cannot lock %s: %s"), env, path, errno);
	} else if (lock_write_pid(fd) < 0) {
		err_path(e, _("cannot write %s: %s"), env, path, errno);
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

int txn_lock(const struct env *env, struct txn_lock **lk, struct error *e)
{
	char *path;
	int fd;

	*lk = NULL;
	if (fs_mkdir_p(env->state_dir, 0700) < 0)
		return err_path(e, _("cannot create %s: %s"), env, env->state_dir, errno);
	path = path_join(env->state_dir, "lock");
	fd = lock_open(env, path, e);
	free(path);
	if (fd < 0)
		return -1;
	*lk = xmalloc(sizeof(**lk));
	(*lk)->fd = fd;
	return 0;
}

void txn_unlock(struct txn_lock *lk)
{
	if (lk == NULL)
		return;
	close(lk->fd);
	free(lk);
}

/* --- resolving paths inside root ----------------------------------------- */

struct resolver {
	const struct env *env;
	char *done; /* resolved so far, "" = root; never contains a symlink */
	char *rest; /* still to walk */
	size_t pos;
	int links;
	bool followed;
};

static bool resolver_more(const struct resolver *r)
{
	return r->rest[r->pos + strspn(r->rest + r->pos, "/")] != '\0';
}

static void resolver_set_done(struct resolver *r, char *done)
{
	free(r->done);
	r->done = done;
}

static int resolver_link(struct resolver *r, const char *host)
{
	char target[PATH_MAX];
	ssize_t n;
	char *rest;

	if (++r->links > MAX_LINKS) {
		errno = ELOOP;
		return -1;
	}
	n = readlink(host, target, sizeof(target));
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(target) || n == 0) {
		errno = n ? ENAMETOOLONG : ENOENT;
		return -1;
	}
	target[n] = '\0';
	rest = xasprintf("%s/%s", target, r->rest + r->pos);
	free(r->rest);
	r->rest = rest;
	r->pos = 0;
	if (target[0] == '/')
		resolver_set_done(r, xstrdup(""));
	r->followed = true;
	return 0;
}

static int resolver_step(struct resolver *r, const char *comp)
{
	char *cand, *host, *slash;
	struct stat st;
	int rc;

	if (strcmp(comp, ".") == 0)
		return 0;
	if (strcmp(comp, "..") == 0) {
		slash = strrchr(r->done, '/');
		if (slash != NULL)
			*slash = '\0';
		return 0;
	}
	cand = xasprintf("%s/%s", r->done, comp);
	host = env_host_path(r->env, cand);
	rc = lstat(host, &st);
	if (rc == 0 && S_ISLNK(st.st_mode)) {
		rc = resolver_link(r, host);
		free(cand);
		cand = NULL;
	} else if (rc == 0 && !S_ISDIR(st.st_mode) && resolver_more(r)) {
		errno = ENOTDIR;
		rc = -1;
	} else if (rc < 0 && errno == ENOENT && !resolver_more(r)) {
		rc = 0; /* a file still to be created */
	}
	if (rc == 0 && cand != NULL) {
		resolver_set_done(r, cand);
		cand = NULL;
	}
	free(cand);
	free(host);
	return rc;
}

/*
 * Resolves symlinks the way the server sees them: an absolute link target
 * starts again at root and ".." stops at root, so a lab copy behaves like
 * the live system and no path leads outside root.  *followed tells whether
 * a symlink was on the way.  Returns -1 with errno.
 */
static int resolve(const struct env *env, const char *server_path, char **out,
		   bool *followed)
{
	struct resolver r = {env, xstrdup(""), xstrdup(server_path), 0, 0, false};
	int rc = 0, saved;

	while (rc == 0 && r.rest[r.pos] != '\0') {
		size_t n = strcspn(r.rest + r.pos, "/");
		char *comp = xstrndup(r.rest + r.pos, n);

		r.pos += n ? n : 1;
		rc = n ? resolver_step(&r, comp) : 0;
		free(comp);
	}
	saved = errno;
	free(r.rest);
	if (rc < 0) {
		free(r.done);
		errno = saved;
		return -1;
	}
	*out = r.done[0] ? r.done : (free(r.done), xstrdup("/"));
	*followed = r.followed;
	return 0;
}

static bool path_inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static int check_server_path(const char *path, struct error *e)
{
	if (!text_is_clean(path)) {
		char *shown = xstrdup(path);

		for (char *p = shown; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		err_set(e, _("refusing %s: the name has control characters"), shown);
		free(shown);
		return -1;
	}
	if (path[0] != '/')
		return err_set(e, _("refusing %s: not an absolute path"), path);
	return 0;
}

/* Whether a symlink may lead to real: inside one of the allowed dirs. */
static bool allowed_by(const struct txn *t, const char *real)
{
	if (t->allowed && path_inside(real, t->allowed))
		return true;
	for (size_t i = 0; i < t->more_allowed.n; i++)
		if (path_inside(real, t->more_allowed.v[i]))
			return true;
	return false;
}

/* Where server_path really is; refuses one that leads through a symlink
 * to anywhere outside the allowed directory. */
static int txn_target(struct txn *t, const char *path, char **real, struct error *e)
{
	bool followed;

	if (check_server_path(path, e) < 0)
		return -1;
	if (resolve(t->env, path, real, &followed) < 0)
		return err_set(e, _("cannot write %s: %s"), path, strerror(errno));
	if (!followed)
		return 0;
	if (!text_is_clean(*real))
		err_set(e, _("refusing to write %s: it is a symlink to a name with control characters"), path);
	else if (allowed_by(t, *real))
		return 0;
	else if (t->allowed == NULL)
		err_set(e, _("refusing to write %s: it is a symlink (to %s)"), path, *real);
	else
		err_set(e, _("refusing to write %s: it is a symlink to %s, outside %s"),
			path, *real, t->allowed);
	free(*real);
	*real = NULL;
	return -1;
}

static int resolve_allowed(const struct env *env, const char *dir, char **out,
			   struct error *e);

int txn_write_file(const struct env *env, const char *server_path, const char *what,
		   const void *data, size_t len, mode_t mode, struct error *e)
{
	struct file_meta meta = {0, 0, mode, NULL};
	char *host;
	int rc = 0;

	if (!text_is_clean(server_path) || server_path[0] == '\0')
		return err_set(e, _("the name of %s is empty or contains a control character"), what);
	if (env->root[0] != '\0' && server_path[0] != '/')
		return err_set(e, _("%s: with --root, give the path as the server sees it (absolute)"),
			       server_path);
	/* an unprivileged lab run cannot give files to root */
	if (geteuid() != 0) {
		meta.uid = geteuid();
		meta.gid = getegid();
	}
	host = env_host_path(env, server_path);
	if (fs_replace(host, data, len, &meta) < 0)
		rc = err_sys(e, _("cannot write %s"), server_path);
	free(host);
	return rc;
}

int txn_read(const struct env *env, const char *server_path, const char *allowed_dir,
	     char **data, size_t *len, struct error *e)
{
	char *real = NULL, *allowed = NULL, *host;
	bool followed;
	int rc;

	if (check_server_path(server_path, e) < 0)
		return -1;
	if (resolve(env, server_path, &real, &followed) < 0)
		return err_set(e, _("cannot read %s: %s"), server_path, strerror(errno));
	if (followed) {
		rc = resolve_allowed(env, allowed_dir ? allowed_dir : "/", &allowed, e);
		if (rc == 0 && (!text_is_clean(real) || !path_inside(real, allowed)))
			rc = err_set(e, _("refusing to read %s: it is a symlink to %s, outside %s"),
				     server_path, text_is_clean(real) ? real : "?", allowed);
		free(allowed);
		if (rc < 0) {
			free(real);
			return -1;
		}
	}
	host = env_host_path(env, real);
	rc = read_file(host, data, len, e);
	if (rc < 0)
		err_sys(e, _("cannot read %s"), server_path);
	free(host);
	free(real);
	return rc;
}

/* --- journal ------------------------------------------------------------- */

static int journal_save(const char *dir, json_t *journal)
{
	char *path = path_join(dir, "journal.json");
	char *text = json_dumps(journal, JSON_INDENT(2));
	struct file_meta meta = {geteuid(), getegid(), 0600, NULL};
	int rc = -1, saved;

	if (text == NULL)
		errno = ENOMEM;
	else
		rc = fs_replace(path, text, strlen(text), &meta);
	saved = errno;
	free(text);
	free(path);
	errno = saved;
	return rc;
}

static int journal_load(const struct env *env, const char *dir, json_t **journal,
			struct error *e)
{
	char *path = path_join(dir, "journal.json");
	char *text = NULL;
	size_t len;
	json_error_t jerr;

	*journal = NULL;
	if (fs_read(path, &text, &len, NULL) < 0) {
		err_path(e, _("cannot read %s: %s"), env, path, errno);
	} else {
		*journal = json_loadb(text, len, 0, &jerr);
		if (*journal != NULL && !json_is_array(json_object_get(*journal, "files"))) {
			json_decref(*journal);
			*journal = NULL;
		}
		if (*journal == NULL)
			err_path(e, _("checkpoint journal %s is damaged: %s"), env, path, EINVAL);
	}
	free(text);
	free(path);
	return *journal ? 0 : -1;
}

static const char *json_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static bool is_sha256(const char *s)
{
	return s != NULL && strlen(s) == FS_SHA256_HEX - 1 &&
	       strspn(s, "0123456789abcdef") == FS_SHA256_HEX - 1;
}

static int entry_parse(json_t *j, struct jentry *je, struct error *e)
{
	memset(je, 0, sizeof(*je));
	je->path = json_str(j, "path");
	je->dir = json_is_true(json_object_get(j, "dir"));
	je->existed = json_is_true(json_object_get(j, "existed"));
	je->uid = (uid_t)json_integer_value(json_object_get(j, "uid"));
	je->gid = (gid_t)json_integer_value(json_object_get(j, "gid"));
	je->mode = (mode_t)json_integer_value(json_object_get(j, "mode")) & 07777;
	je->label = json_str(j, "selinux");
	je->before = json_str(j, "sha256_before");
	je->after = json_str(j, "sha256_after");
	/* A journal must never direct a write outside root or a bad name. */
	if (je->path == NULL || je->path[0] != '/' || !text_is_clean(je->path) ||
	    (je->existed && !is_sha256(je->before)) ||
	    (je->after != NULL && !is_sha256(je->after)))
		return err_set(e, "%s", _("checkpoint journal has a damaged entry"));
	return 0;
}

static json_t *entry_find(json_t *files, const char *path)
{
	size_t i;
	json_t *entry;

	json_array_foreach(files, i, entry) {
		const char *p = json_str(entry, "path");

		if (p != NULL && strcmp(p, path) == 0)
			return entry;
	}
	return NULL;
}

/* --- restoring ------------------------------------------------------------- */

/* True when the file is exactly as the journal entry recorded it before. */
static bool entry_is_original(const struct env *env, const struct jentry *je)
{
	char *host = env_host_path(env, je->path);
	char *data = NULL, *label = NULL, hash[FS_SHA256_HEX];
	struct stat st;
	size_t len;
	bool same;

	if (je->dir) {
		same = lstat(host, &st) < 0 && errno == ENOENT;
		free(host);
		return same;
	}
	if (fs_read(host, &data, &len, &st) < 0) {
		same = !je->existed && errno == ENOENT;
	} else if (!je->existed) {
		same = false;
	} else {
		fs_sha256_hex(data, len, hash);
		label = fs_label_get(host);
		same = strcmp(hash, je->before) == 0 && st.st_uid == je->uid &&
		       st.st_gid == je->gid && (st.st_mode & 07777) == je->mode &&
		       (je->label == NULL || (label && strcmp(label, je->label) == 0));
	}
	free(label);
	free(data);
	free(host);
	return same;
}

static int restore_backup(const char *dir, size_t idx, const char *host,
			  const struct jentry *je, struct error *e)
{
	char *name = xasprintf("files/%zu", idx);
	char *backup = path_join(dir, name);
	struct file_meta meta = {je->uid, je->gid, je->mode, je->label};
	char *data = NULL, hash[FS_SHA256_HEX];
	size_t len;
	int rc = -1;

	if (fs_read(backup, &data, &len, NULL) < 0)
		err_set(e, _("cannot restore %s: backup unreadable: %s"), je->path, strerror(errno));
	else if (fs_sha256_hex(data, len, hash), strcmp(hash, je->before) != 0)
		err_set(e, _("cannot restore %s: its backup is damaged"), je->path);
	else if (fs_replace(host, data, len, &meta) < 0)
		err_set(e, _("cannot restore %s: %s"), je->path, strerror(errno));
	else
		rc = 0;
	free(data);
	free(backup);
	free(name);
	return rc;
}

static int remove_created(const char *host, const struct jentry *je, struct error *e)
{
	if (unlink(host) < 0 && errno != ENOENT)
		return err_set(e, _("cannot remove %s: %s"), je->path, strerror(errno));
	if (fs_fsync_parent(host) < 0 && errno != ENOENT)
		return err_set(e, _("cannot remove %s: %s"), je->path, strerror(errno));
	return 0;
}

/* A directory the transaction made goes again; one that someone filled
 * meanwhile stays (its new files are not ours to remove). */
static int remove_created_dir(const char *host, const struct jentry *je, struct error *e)
{
	if (rmdir(host) < 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
		return err_set(e, _("cannot remove %s: %s"), je->path, strerror(errno));
	if (fs_fsync_parent(host) < 0 && errno != ENOENT)
		return err_set(e, _("cannot remove %s: %s"), je->path, strerror(errno));
	return 0;
}

/* Puts one file back as the entry recorded it; *changed tells whether
 * anything had to be done. */
static int restore_entry(const struct env *env, const char *dir, size_t idx,
			 const struct jentry *je, bool *changed, struct error *e)
{
	char *host;
	int rc;

	*changed = !entry_is_original(env, je);
	if (!*changed)
		return 0;
	host = env_host_path(env, je->path);
	if (je->dir)
		rc = remove_created_dir(host, je, e);
	else if (je->existed)
		rc = restore_backup(dir, idx, host, je, e);
	else
		rc = remove_created(host, je, e);
	free(host);
	return rc;
}

static void report_restored(struct strlist *report, const struct jentry *je)
{
	if (report == NULL)
		return;
	if (je->dir)
		sl_add_owned(report, xasprintf(_("removed the directory %s (it did not exist before)"),
					       je->path));
	else if (je->existed)
		sl_add_owned(report, xasprintf(_("restored %s"), je->path));
	else
		sl_add_owned(report, xasprintf(_("removed %s (it did not exist before)"), je->path));
}

/* Restores every entry, newest first; keeps going after a failure so as
 * much as possible is back, and reports the first failure. */
static int restore_all(const struct env *env, const char *dir, json_t *journal,
		       struct strlist *report, struct error *e)
{
	json_t *files = json_object_get(journal, "files");
	struct error first = {""};
	struct jentry je;
	bool changed;
	int rc = 0;

	for (size_t i = json_array_size(files); i-- > 0;) {
		struct error one;

		if (entry_parse(json_array_get(files, i), &je, &one) < 0 ||
		    restore_entry(env, dir, i, &je, &changed, &one) < 0) {
			if (rc == 0)
				first = one;
			rc = -1;
		} else if (changed) {
			report_restored(report, &je);
		}
	}
	if (rc < 0 && e != NULL)
		*e = first;
	return rc;
}

/* --- transactions ---------------------------------------------------------- */

static void make_id(char id[32], char created[32])
{
	struct timespec ts;
	struct tm tm;
	char when[20];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	snprintf(id, 32, "%.15s-%03u", when, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
	strftime(created, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Creates STATE/checkpoints/.partial-ID with a fresh, unused ID. */
static int checkpoint_mkdir(struct txn *t, char created[32])
{
	char *cpdir = checkpoints_dir(t->env);
	char id[32], *final = NULL;
	int rc = -1;

	if (fs_mkdir_p(t->env->state_dir, 0700) < 0 || fs_mkdir_p(cpdir, 0700) < 0) {
		free(cpdir);
		return -1;
	}
	for (int tries = 0; rc < 0 && tries < 5000; tries++) {
		make_id(id, created);
		free(t->dir);
		free(final);
		t->dir = xasprintf("%s/" PARTIAL_PREFIX "%s", cpdir, id);
		final = path_join(cpdir, id);
		if (access(final, F_OK) == 0)
			errno = EEXIST;
		else
			rc = mkdir(t->dir, 0700);
		if (rc < 0 && errno != EEXIST)
			break;
		if (rc < 0)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	free(final);
	free(cpdir);
	if (rc == 0)
		t->id = xstrdup(id);
	return rc;
}

static int checkpoint_create(struct txn *t, const char *description, struct error *e)
{
	char created[32], *files;
	int rc;

	if (checkpoint_mkdir(t, created) < 0)
		return err_path(e, _("cannot create checkpoint in %s: %s"), t->env,
				t->env->state_dir, errno);
	t->journal = json_pack("{s:i, s:s, s:s, s:s, s:s?, s:b, s:[]}", "version", 1,
			       "id", t->id, "description", description ? description : "",
			       "created", created, "allowed_dir", t->allowed,
			       "rolled_back", 0, "files");
	files = path_join(t->dir, "files");
	rc = mkdir(files, 0700);
	if (rc == 0)
		rc = journal_save(t->dir, t->journal);
	if (rc == 0)
		rc = fs_fsync_parent(t->dir);
	free(files);
	if (rc < 0) {
		err_path(e, _("cannot create checkpoint %s: %s"), t->env, t->dir, errno);
		fs_remove_tree(t->dir);
	}
	return rc;
}

static int resolve_allowed(const struct env *env, const char *dir, char **out,
			   struct error *e)
{
	bool followed;

	if (check_server_path(dir, e) < 0)
		return -1;
	if (resolve(env, dir, out, &followed) < 0)
		return err_set(e, _("cannot use %s: %s"), dir, strerror(errno));
	if (!text_is_clean(*out)) {
		free(*out);
		return err_set(e, _("cannot use %s: it is a symlink to a name with control characters"), dir);
	}
	return 0;
}

int txn_begin(const struct env *env, const char *description,
	      const char *allowed_dir, struct txn **t, struct error *e)
{
	struct txn *n;

	*t = NULL;
	if (description != NULL && !text_is_clean(description))
		return err_set(e, "%s", _("checkpoint description has control characters"));
	n = xcalloc(1, sizeof(*n));
	n->env = env;
	if ((allowed_dir && resolve_allowed(env, allowed_dir, &n->allowed, e) < 0) ||
	    checkpoint_create(n, description, e) < 0) {
		txn_free(n);
		return -1;
	}
	*t = n;
	return 0;
}

/* Records what restoring the file must bring back. */
static void entry_describe(json_t *entry, const char *host, const char *data,
			   size_t len, const struct stat *st)
{
	char *label = fs_label_get(host), hash[FS_SHA256_HEX];
	json_t *more;

	fs_sha256_hex(data, len, hash);
	more = json_pack("{s:b, s:I, s:I, s:i, s:s?, s:s}", "existed", 1,
			 "uid", (json_int_t)st->st_uid, "gid", (json_int_t)st->st_gid,
			 "mode", (int)(st->st_mode & 07777), "selinux", label,
			 "sha256_before", hash);
	json_object_update(entry, more);
	json_decref(more);
	free(label);
}

/* Copies the file into files/N and describes it in a new journal entry. */
static json_t *backup_take(struct txn *t, const char *real, size_t idx, struct error *e)
{
	char *host = env_host_path(t->env, real);
	char *name = xasprintf("%s/files/%zu", t->dir, idx);
	struct file_meta self = {geteuid(), getegid(), 0600, NULL};
	json_t *entry = json_pack("{s:s, s:s}", "path", real, "host_path", host);
	char *data = NULL;
	struct stat st;
	size_t len;

	if (fs_read(host, &data, &len, &st) < 0 && errno == ENOENT) {
		json_object_set_new(entry, "existed", json_false());
	} else if (data == NULL) {
		err_set(e, _("cannot back up %s: %s"), real,
			errno == EINVAL ? _("not a regular file") : strerror(errno));
	} else if (fs_replace(name, data, len, &self) < 0) {
		err_path(e, _("cannot back up to %s: %s"), t->env, name, errno);
	} else {
		entry_describe(entry, host, data, len, &st);
	}
	if (json_object_get(entry, "existed") == NULL) {
		json_decref(entry);
		entry = NULL;
	}
	free(data);
	free(name);
	free(host);
	return entry;
}

/* Registers the resolved path real (asked is what the caller named). */
static int register_real(struct txn *t, const char *real, const char *asked,
			 struct error *e)
{
	json_t *files = json_object_get(t->journal, "files");
	size_t idx = json_array_size(files);
	json_t *entry;

	if (entry_find(files, real) != NULL)
		return 0;
	entry = backup_take(t, real, idx, e);
	if (entry == NULL)
		return -1;
	if (strcmp(real, asked) != 0)
		json_object_set_new(entry, "via", json_string(asked));
	json_array_append_new(files, entry);
	if (journal_save(t->dir, t->journal) < 0) {
		int saved = errno;

		json_array_remove(files, idx);
		return err_set(e, _("cannot back up %s: cannot save the journal: %s"),
			       asked, strerror(saved));
	}
	return 0;
}

int txn_register(struct txn *t, const char *server_path, struct error *e)
{
	char *real;
	int rc;

	if (t->committed)
		return err_set(e, "%s", _("the checkpoint is already committed"));
	if (txn_target(t, server_path, &real, e) < 0)
		return -1;
	rc = register_real(t, real, server_path, e);
	free(real);
	return rc;
}

/* Owner, mode and label the new content gets: the old file's, or for a new
 * file the given mode and the directory's owner. */
static int target_meta(const char *host, const char *asked, mode_t mode,
		       struct file_meta *meta, char **label, struct error *e)
{
	struct stat st;
	char *dir, *slash;
	int rc = lstat(host, &st);

	*label = NULL;
	if (rc == 0 && !S_ISREG(st.st_mode))
		return err_set(e, _("cannot write %s: not a regular file"), asked);
	if (rc < 0 && errno != ENOENT)
		return err_set(e, _("cannot write %s: %s"), asked, strerror(errno));
	if (rc == 0) {
		*label = fs_label_get(host);
	} else {
		dir = xstrdup(host);
		slash = strrchr(dir, '/');
		if (slash != NULL)
			slash[slash == dir ? 1 : 0] = '\0';
		rc = stat(dir, &st);
		free(dir);
		if (rc < 0)
			return err_set(e, _("cannot write %s: %s"), asked, strerror(errno));
		st.st_mode = mode;
	}
	*meta = (struct file_meta){st.st_uid, st.st_gid, st.st_mode & 07777, *label};
	return 0;
}

static int write_real(struct txn *t, const char *real, const char *asked,
		      const void *data, size_t len, mode_t mode, struct error *e)
{
	json_t *entry = entry_find(json_object_get(t->journal, "files"), real);
	char *host = env_host_path(t->env, real);
	char *label = NULL, hash[FS_SHA256_HEX];
	struct file_meta meta;
	int rc = -1;

	if (target_meta(host, asked, mode, &meta, &label, e) < 0) {
		free(host);
		return -1;
	}
	fs_sha256_hex(data, len, hash);
	json_object_set_new(entry, "sha256_after", json_string(hash));
	if (journal_save(t->dir, t->journal) < 0)
		err_set(e, _("cannot write %s: cannot save the journal: %s"), asked, strerror(errno));
	else if (fs_replace(host, data, len, &meta) < 0)
		err_set(e, _("cannot write %s: %s"), asked, strerror(errno));
	else
		rc = 0;
	free(label);
	free(host);
	return rc;
}

int txn_write(struct txn *t, const char *server_path, const void *data,
	      size_t len, mode_t mode, struct error *e)
{
	char *real;
	int rc;

	if (t->committed)
		return err_set(e, "%s", _("the checkpoint is already committed"));
	if (txn_target(t, server_path, &real, e) < 0)
		return -1;
	rc = register_real(t, real, server_path, e);
	if (rc == 0)
		rc = write_real(t, real, server_path, data, len, mode, e);
	free(real);
	return rc;
}

int txn_allow(struct txn *t, const char *dir, struct error *e)
{
	char *real;

	if (resolve_allowed(t->env, dir, &real, e) < 0)
		return -1;
	sl_add_owned(&t->more_allowed, real);
	return 0;
}

/* Journals, then makes, each missing directory of server_dir from the
 * top down, so an abort or a rollback removes exactly those. */
int txn_mkdir(struct txn *t, const char *server_dir, mode_t mode, struct error *e)
{
	json_t *files = json_object_get(t->journal, "files");
	char *path;
	int rc = 0;

	if (t->committed)
		return err_set(e, "%s", _("the checkpoint is already committed"));
	if (check_server_path(server_dir, e) < 0)
		return -1;
	path = xstrdup(server_dir);
	for (char *p = path + 1; rc == 0; p++) {
		char saved = *p, *host;
		struct stat st;

		if (*p != '/' && *p != '\0')
			continue;
		*p = '\0';
		host = env_host_path(t->env, path);
		if (lstat(host, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				rc = err_set(e, _("cannot create %s: %s is not a directory"), server_dir, path);
		} else if (errno != ENOENT) {
			rc = err_set(e, _("cannot create %s: %s"), server_dir, strerror(errno));
		} else {
			json_array_append_new(files, json_pack("{s:s, s:b, s:b}", "path", path, "dir", 1,
							       "existed", 0));
			if (journal_save(t->dir, t->journal) < 0)
				rc = err_set(e, _("cannot create %s: cannot save the journal: %s"),
					     path, strerror(errno));
			else if (mkdir(host, mode) < 0 || fs_fsync_parent(host) < 0)
				rc = err_set(e, _("cannot create %s: %s"), path, strerror(errno));
		}
		free(host);
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(path);
	return rc;
}

int txn_set_meta(struct txn *t, const char *key, const char *value, struct error *e)
{
	json_t *meta = json_object_get(t->journal, "meta");

	if (meta == NULL) {
		meta = json_object();
		json_object_set_new(t->journal, "meta", meta);
	}
	json_object_set_new(meta, key, json_string(value));
	if (journal_save(t->dir, t->journal) < 0)
		return err_path(e, _("cannot write the checkpoint journal in %s: %s"), t->env, t->dir,
				errno);
	return 0;
}

int txn_commit(struct txn *t, char **id, struct error *e)
{
	char *cpdir = checkpoints_dir(t->env);
	char *final = path_join(cpdir, t->id);

	if (t->committed || rename(t->dir, final) < 0) {
		err_set(e, _("cannot commit checkpoint %s: %s"), t->id,
			t->committed ? _("already committed") : strerror(errno));
		free(final);
		free(cpdir);
		return -1;
	}
	free(t->dir);
	t->dir = final;
	t->committed = true;
	/* The rename happened; a failed directory sync cannot be undone here. */
	if (fs_fsync_dir(cpdir) < 0)
		msg_warn(_("checkpoint %s may not survive a crash: %s"), t->id, strerror(errno));
	free(cpdir);
	if (id != NULL)
		*id = xstrdup(t->id);
	return 0;
}

int txn_abort(struct txn *t, struct error *e)
{
	int rc;

	if (t == NULL)
		return 0;
	if (t->committed) {
		txn_free(t);
		return err_set(e, "%s", _("the checkpoint is already committed"));
	}
	rc = restore_all(t->env, t->dir, t->journal, NULL, e);
	if (rc == 0 && fs_remove_tree(t->dir) < 0)
		rc = err_path(e, _("cannot remove %s: %s"), t->env, t->dir, errno);
	txn_free(t);
	return rc;
}

void txn_free(struct txn *t)
{
	if (t == NULL)
		return;
	json_decref(t->journal);
	free(t->allowed);
	sl_free(&t->more_allowed);
	free(t->id);
	free(t->dir);
	free(t);
}

/* --- recovery ------------------------------------------------------------ */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool id_valid(const char *s)
{
	return strlen(s) == ID_LEN && strspn(s, "0123456789-") == ID_LEN &&
	       s[8] == '-' && s[15] == '-';
}

/* Checkpoint directory names in STATE/checkpoints, sorted: committed ones
 * (partial = false) or .partial-* ones. */
static int checkpoint_names(const struct env *env, bool partial, struct strlist *out,
			    struct error *e)
{
	char *cpdir = checkpoints_dir(env);
	size_t plen = strlen(PARTIAL_PREFIX);
	DIR *d = opendir(cpdir);
	struct dirent *de;

	if (d == NULL) {
		int rc = errno == ENOENT ? 0 : err_path(e, _("cannot read %s: %s"), env, cpdir, errno);

		free(cpdir);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		bool is_partial = strncmp(de->d_name, PARTIAL_PREFIX, plen) == 0;
		const char *id = is_partial ? de->d_name + plen : de->d_name;

		if (is_partial == partial && id_valid(id))
			sl_add(out, de->d_name);
	}
	closedir(d);
	free(cpdir);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), name_cmp);
	return 0;
}

int txn_pending(const struct env *env)
{
	struct strlist names = STRLIST_INIT;
	int n;

	if (checkpoint_names(env, true, &names, NULL) < 0)
		return 0;
	n = (int)names.n;
	sl_free(&names);
	return n;
}

static void remove_stale_temps(const struct env *env, json_t *journal)
{
	json_t *entry;
	size_t i;

	json_array_foreach(json_object_get(journal, "files"), i, entry) {
		const char *path = json_str(entry, "path");
		char *host;

		if (path == NULL || path[0] != '/' || !text_is_clean(path))
			continue;
		host = env_host_path(env, path);
		fs_remove_stale_temps(host);
		free(host);
	}
}

static int recover_one(const struct env *env, const char *name,
		       struct strlist *report, struct error *e)
{
	char *cpdir = checkpoints_dir(env);
	char *dir = path_join(cpdir, name);
	char *journal_path = path_join(dir, "journal.json");
	json_t *journal = NULL;
	int rc = 0;

	/* No journal yet: the run died before it changed anything. */
	if (access(journal_path, F_OK) == 0) {
		rc = journal_load(env, dir, &journal, e);
		if (rc == 0)
			rc = restore_all(env, dir, journal, report, e);
		if (rc == 0)
			remove_stale_temps(env, journal);
	}
	if (rc == 0 && fs_remove_tree(dir) < 0)
		rc = err_path(e, _("cannot remove %s: %s"), env, dir, errno);
	json_decref(journal);
	free(journal_path);
	free(dir);
	free(cpdir);
	return rc;
}

int txn_recover(const struct env *env, struct strlist *report, struct error *e)
{
	struct strlist names = STRLIST_INIT;
	int rc = checkpoint_names(env, true, &names, e);

	/* Newest first, so the oldest backup of a file is what stays. */
	for (size_t i = names.n; rc >= 0 && i-- > 0;)
		rc = recover_one(env, names.v[i], report, e) < 0 ? -1 : rc + 1;
	sl_free(&names);
	return rc;
}

/* --- listing ------------------------------------------------------------- */

static void info_fill(struct checkpoint_info *info, const char *id, json_t *journal)
{
	json_t *files = json_object_get(journal, "files");
	const char *desc = json_str(journal, "description");
	const char *created = json_str(journal, "created");
	json_t *entry;
	size_t i;

	info->id = xstrdup(id);
	info->description = xstrdup(desc ? desc : "");
	info->created = xstrdup(created ? created : "");
	info->rolled_back = json_is_true(json_object_get(journal, "rolled_back"));
	info->files = xcalloc(json_array_size(files), sizeof(*info->files));
	json_array_foreach(files, i, entry) {
		const char *path = json_str(entry, "path");

		info->files[info->n_files].path = xstrdup(path ? path : "");
		info->files[info->n_files++].existed = json_is_true(json_object_get(entry, "existed"));
	}
}

int checkpoint_list(const struct env *env, struct checkpoint_info **list,
		    size_t *n, struct error *e)
{
	struct strlist names = STRLIST_INIT;
	char *cpdir = checkpoints_dir(env);
	int rc = checkpoint_names(env, false, &names, e);

	*list = xcalloc(names.n, sizeof(**list));
	*n = 0;
	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		char *dir = path_join(cpdir, names.v[i]);
		json_t *journal;

		rc = journal_load(env, dir, &journal, e);
		if (rc == 0)
			info_fill(&(*list)[(*n)++], names.v[i], journal);
		json_decref(journal);
		free(dir);
	}
	sl_free(&names);
	free(cpdir);
	if (rc < 0) {
		checkpoint_list_free(*list, *n);
		*list = NULL;
		*n = 0;
	}
	return rc;
}

int checkpoint_backup(const struct env *env, const char *id, const char *server_path,
		      bool *existed, char **data, size_t *len, struct error *e)
{
	char *cpdir = checkpoints_dir(env), *dir = NULL;
	json_t *journal = NULL, *entry;
	struct jentry je;
	size_t i;
	int rc = -1;

	*data = NULL;
	*len = 0;
	*existed = false;
	if (!id_valid(id)) {
		free(cpdir);
		return err_set(e, _("no checkpoint %s"), text_is_clean(id) ? id : "?");
	}
	dir = path_join(cpdir, id);
	if (journal_load(env, dir, &journal, e) < 0)
		goto out;
	json_array_foreach(json_object_get(journal, "files"), i, entry) {
		char *name, *backup;

		if (entry_parse(entry, &je, e) < 0)
			goto out;
		if (strcmp(je.path, server_path) != 0)
			continue;
		*existed = je.existed;
		rc = 0;
		if (!je.existed)
			goto out;
		name = xasprintf("files/%zu", i);
		backup = path_join(dir, name);
		if (fs_read(backup, data, len, NULL) < 0)
			rc = err_set(e, _("cannot read the backup of %s: %s"), je.path, strerror(errno));
		free(backup);
		free(name);
		goto out;
	}
	rc = err_set(e, _("checkpoint %s does not hold %s"), id, server_path);
out:
	json_decref(journal);
	free(dir);
	free(cpdir);
	return rc;
}

int checkpoint_meta(const struct env *env, const char *id, const char *key, char **value,
		    struct error *e)
{
	char *cpdir = checkpoints_dir(env), *dir;
	json_t *journal = NULL;
	const char *v;
	int rc;

	*value = NULL;
	if (!id_valid(id)) {
		free(cpdir);
		return err_set(e, _("no checkpoint %s"), text_is_clean(id) ? id : "?");
	}
	dir = path_join(cpdir, id);
	rc = journal_load(env, dir, &journal, e);
	if (rc == 0 && (v = json_string_value(json_object_get(json_object_get(journal, "meta"), key))))
		*value = xstrdup(v);
	json_decref(journal);
	free(dir);
	free(cpdir);
	return rc;
}

void checkpoint_list_free(struct checkpoint_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < list[i].n_files; j++)
			free(list[i].files[j].path);
		free(list[i].files);
		free(list[i].id);
		free(list[i].description);
		free(list[i].created);
	}
	free(list);
}

/* --- rollback ------------------------------------------------------------ */

static int pick_checkpoint(const struct checkpoint_info *list, size_t n,
			   const char *id, size_t *pick, struct error *e)
{
	for (size_t i = n; i-- > 0;) {
		if (id == NULL ? !list[i].rolled_back : strcmp(list[i].id, id) == 0) {
			*pick = i;
			if (list[i].rolled_back)
				return err_set(e, _("checkpoint %s was already rolled back"), id);
			return 0;
		}
	}
	if (id == NULL)
		return err_set(e, "%s", _("no checkpoint to roll back"));
	return err_set(e, _("no checkpoint %s"), id);
}

static bool touches(const struct checkpoint_info *c, const char *path)
{
	for (size_t i = 0; i < c->n_files; i++)
		if (strcmp(c->files[i].path, path) == 0)
			return true;
	return false;
}

/* A newer live checkpoint that changed the same file would be undone
 * behind its back. */
static int check_newer(const struct checkpoint_info *list, size_t n, size_t pick,
		       struct error *e)
{
	const struct checkpoint_info *c = &list[pick];

	for (size_t i = pick + 1; i < n; i++) {
		if (list[i].rolled_back)
			continue;
		for (size_t j = 0; j < c->n_files; j++)
			if (touches(&list[i], c->files[j].path))
				return err_set(e, _("cannot roll back %s: the newer checkpoint %s also changed %s; roll that back first, or use --force"),
					       c->id, list[i].id, c->files[j].path);
	}
	return 0;
}

/* True when the file is still what checkpoint wrote (or already back). */
static bool entry_unchanged_since(const struct env *env, const struct jentry *je)
{
	char *host = env_host_path(env, je->path);
	char *data = NULL, hash[FS_SHA256_HEX];
	size_t len;
	bool same = false;

	if (fs_read(host, &data, &len, NULL) == 0) {
		fs_sha256_hex(data, len, hash);
		same = strcmp(hash, je->after) == 0;
	}
	free(data);
	free(host);
	return same || entry_is_original(env, je);
}

static int check_changed(const struct env *env, const char *id, json_t *files,
			 struct error *e)
{
	struct jentry je;
	json_t *entry;
	size_t i;

	json_array_foreach(files, i, entry) {
		if (entry_parse(entry, &je, e) < 0)
			return -1;
		if (!je.dir && je.after != NULL && !entry_unchanged_since(env, &je))
			return err_set(e, _("%s was changed after checkpoint %s; use --force to roll back anyway"),
				       je.path, id);
	}
	return 0;
}

/* Restores the files the checkpoint wrote (registered-only ones it never
 * changed are left alone). */
static int rollback_files(const struct env *env, const char *dir, json_t *files,
			  struct strlist *restored, struct error *e)
{
	struct jentry je;
	bool changed;

	for (size_t i = json_array_size(files); i-- > 0;) {
		if (entry_parse(json_array_get(files, i), &je, e) < 0)
			return -1;
		if (je.after == NULL && !je.dir)
			continue;
		if (restore_entry(env, dir, i, &je, &changed, e) < 0)
			return -1;
		if (restored != NULL)
			sl_add(restored, je.path);
	}
	return 0;
}

static int rollback_one(const struct env *env, const char *id, bool force,
			struct strlist *restored, struct error *e)
{
	char *cpdir = checkpoints_dir(env);
	char *dir = path_join(cpdir, id);
	json_t *journal = NULL, *files;
	char when[32], ignored[32];
	int rc = journal_load(env, dir, &journal, e);

	files = json_object_get(journal, "files");
	if (rc == 0 && !force)
		rc = check_changed(env, id, files, e);
	if (rc == 0)
		rc = rollback_files(env, dir, files, restored, e);
	if (rc == 0) {
		make_id(ignored, when);
		json_object_set_new(journal, "rolled_back", json_true());
		json_object_set_new(journal, "rolled_back_at", json_string(when));
		if (journal_save(dir, journal) < 0)
			rc = err_set(e, _("rolled back %s, but cannot mark it so: %s"), id, strerror(errno));
	}
	json_decref(journal);
	free(dir);
	free(cpdir);
	return rc;
}

int checkpoint_rollback(const struct env *env, const char *id, bool force,
			struct strlist *restored, struct error *e)
{
	struct checkpoint_info *list;
	size_t n, pick = 0;
	int rc;

	if (id != NULL && !id_valid(id))
		return err_set(e, _("no checkpoint %s"), text_is_clean(id) ? id : "?");
	if (checkpoint_list(env, &list, &n, e) < 0)
		return -1;
	rc = pick_checkpoint(list, n, id, &pick, e);
	if (rc == 0 && !force)
		rc = check_newer(list, n, pick, e);
	if (rc == 0)
		rc = rollback_one(env, list[pick].id, force, restored, e);
	checkpoint_list_free(list, n);
	return rc;
}

/* --- staging ------------------------------------------------------------- */

int txn_stage_dir(const struct env *env, const char *src_server_dir,
		  char **stage_server_path, struct error *e)
{
	char *src = NULL, *host_src = NULL, *stage;
	bool followed;
	int rc = -1;

	*stage_server_path = NULL;
	if (check_server_path(src_server_dir, e) < 0)
		return -1;
	if (fs_mkdir_p(env->state_dir, 0700) < 0)
		return err_path(e, _("cannot create %s: %s"), env, env->state_dir, errno);
	stage = path_join(env->state_dir, "stage.XXXXXX");
	if (mkdtemp(stage) == NULL) {
		err_path(e, _("cannot create %s: %s"), env, env->state_dir, errno);
		free(stage);
		return -1;
	}
	if (resolve(env, src_server_dir, &src, &followed) < 0 ||
		   (host_src = env_host_path(env, src), fs_copy_tree(host_src, stage) < 0)) {
		err_set(e, _("cannot copy %s: %s"), src_server_dir, strerror(errno));
	} else if ((*stage_server_path = env_server_path(env, stage)) == NULL) {
		err_set(e, _("cannot copy %s: the state directory is outside the root"), src_server_dir);
	} else {
		rc = 0;
	}
	if (rc < 0)
		fs_remove_tree(stage);
	free(host_src);
	free(src);
	free(stage);
	return rc;
}

void txn_stage_remove(const struct env *env, const char *stage_server_path)
{
	char *host, *prefix;

	if (stage_server_path == NULL || !text_is_clean(stage_server_path))
		return;
	host = env_host_path(env, stage_server_path);
	prefix = path_join(env->state_dir, "stage.");
	/* Never anything but a stage directory this module made. */
	if (strncmp(host, prefix, strlen(prefix)) == 0 &&
	    strchr(host + strlen(prefix), '/') == NULL && host[strlen(prefix)] != '\0')
		fs_remove_tree(host);
	free(prefix);
	free(host);
}
