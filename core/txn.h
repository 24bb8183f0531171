/*
 * txn.h - safe file transactions: single-instance lock, checkpoints,
 * atomic writes, rollback.  The only code in mailharden that writes to a
 * server's configuration.
 *
 * A checkpoint lives in STATE/checkpoints/ (STATE = env->state_dir):
 *   .partial-ID/          while a transaction runs
 *   ID/                   once committed (atomic rename of the directory)
 *     journal.json        one entry per registered file (see below)
 *     files/N             byte copy of file N as it was before
 * ID is "YYYYmmdd-HHMMSS-NNN" (UTC), sortable, unique.
 *
 * Journal entry: server path, host path, existed, uid, gid, mode, SELinux
 * label (if any), sha256 before, sha256 after (set when written).  The
 * journal is rewritten atomically (temp, fsync, rename, fsync dir) after
 * every register and every write, BEFORE the target file changes, so a crash
 * at any point leaves enough to restore.
 *
 * Rules:
 *   - a file is registered (backed up, journal synced) before it changes;
 *   - a write goes to a temp file in the same directory, fsync, rename,
 *     fsync of the directory; owner, mode and SELinux label are kept;
 *   - a symlink is followed only when its target stays inside the allowed
 *     directory given to txn_begin (the server's config dir); anything else
 *     is refused;
 *   - a failure inside txn_write leaves the target untouched;
 *   - txn_abort restores every registered file to its registered content
 *     (a file that did not exist is removed);
 *   - at start, a .partial-* checkpoint found is recovered (rolled back)
 *     first by txn_recover, and the caller tells the user.
 */
#ifndef MH_TXN_H
#define MH_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common.h"
#include "env.h"

struct txn_lock;

/* Takes STATE/lock (0600, lockf, non-blocking).  Fails with "another
 * mailharden is running (pid N)" when held. */
int txn_lock(const struct env *env, struct txn_lock **lk, struct error *e);
void txn_unlock(struct txn_lock *lk);

/* Rolls back any half-finished checkpoint.  Returns the number recovered
 * (0 = nothing to do), -1 on error.  *report lists what was restored
 * (translated, one line per file) and may be NULL. */
int txn_recover(const struct env *env, struct strlist *report, struct error *e);

/* How many half-finished checkpoints wait for txn_recover (read-only). */
int txn_pending(const struct env *env);

struct txn;

/* Starts a checkpoint.  description is stored in the journal ("apply
 * postfix: mx,submission intermediate").  allowed_dir is the server path
 * inside which symlinks may be followed (NULL = follow none). */
int txn_begin(const struct env *env, const char *description,
	      const char *allowed_dir, struct txn **t, struct error *e);

/* Backs up server_path (or records that it does not exist yet).
 * Idempotent for the same path. */
int txn_register(struct txn *t, const char *server_path, struct error *e);

/* Atomically replaces server_path with data (registers it first if
 * needed).  mode is used only for a new file (owner: the directory's). */
int txn_write(struct txn *t, const char *server_path, const void *data,
	      size_t len, mode_t mode, struct error *e);

/* Lets symlinks lead into one more directory (a server path), for a
 * transaction that covers several servers' config dirs. */
int txn_allow(struct txn *t, const char *dir, struct error *e);

/* Creates server_dir and any missing parent (mode for each), each one
 * journalled first: txn_abort, recovery and rollback remove them again
 * (when empty).  For a file outside the servers' dirs: DH parameters. */
int txn_mkdir(struct txn *t, const char *server_dir, mode_t mode, struct error *e);

/* Keeps a small named text in the checkpoint's journal, "meta" object
 * (what the run intended, for a later `verify`).  Written at once. */
int txn_set_meta(struct txn *t, const char *key, const char *value, struct error *e);

/* Makes the checkpoint final.  *id (may be NULL) receives its id. */
int txn_commit(struct txn *t, char **id, struct error *e);

/* Restores everything registered and removes the partial checkpoint.
 * Frees t.  Returns -1 if some file could not be restored (named in e);
 * the partial checkpoint is then kept for txn_recover. */
int txn_abort(struct txn *t, struct error *e);

/* Frees a committed transaction. */
void txn_free(struct txn *t);

/*
 * Reads a server file the way the server sees it: symlinks resolve inside
 * env->root (an absolute target starts again at root), so a lab copy never
 * reads the host's files.  A symlink whose target leaves allowed_dir (a
 * server path; "/" = anywhere under root) is refused as txn_write would
 * refuse it.  *data is NUL-terminated.  Errors name the server path.
 */
int txn_read(const struct env *env, const char *server_path, const char *allowed_dir,
	     char **data, size_t *len, struct error *e);

/*
 * Writes a file that belongs to no checkpoint (DH parameters, a lab
 * certificate) atomically with the given mode; owner root, or the caller
 * when not running as root (a lab).  server_path must be absolute with
 * --root.  what names the file in errors ("the DH file").
 */
int txn_write_file(const struct env *env, const char *server_path, const char *what,
		   const void *data, size_t len, mode_t mode, struct error *e);

struct checkpoint_file {
	char *path;        /* server path */
	bool existed;
};

struct checkpoint_info {
	char *id;
	char *description;
	char *created;     /* ISO 8601 UTC */
	bool rolled_back;  /* a later rollback restored it */
	struct checkpoint_file *files;
	size_t n_files;
};

/* Committed checkpoints, oldest first. */
int checkpoint_list(const struct env *env, struct checkpoint_info **list,
		    size_t *n, struct error *e);
void checkpoint_list_free(struct checkpoint_info *list, size_t n);
/* What rolling back committed checkpoint id would put at server_path:
 * *existed false (the file would be removed), or its content in *data. */
int checkpoint_backup(const struct env *env, const char *id, const char *server_path,
		      bool *existed, char **data, size_t *len, struct error *e);
/* The meta text key of committed checkpoint id (txn_set_meta); *value is
 * NULL when the checkpoint has none. */
int checkpoint_meta(const struct env *env, const char *id, const char *key, char **value,
		    struct error *e);

/*
 * Restores the files of checkpoint id (NULL = the newest not yet rolled
 * back) byte-identical, with owner and mode.  Refuses, naming the file, when
 * a file changed since the checkpoint wrote it, unless force.  Marks the
 * checkpoint rolled back.  *restored (may be NULL) gets the server paths.
 */
int checkpoint_rollback(const struct env *env, const char *id, bool force,
			struct strlist *restored, struct error *e);

/*
 * Copies the server directory src (files, subdirectories, symlinks as
 * symlinks, modes kept) to a fresh STATE/stage.XXXXXX and returns its
 * server path, so a server tool (possibly chrooted in root) can check a
 * candidate configuration before anything real changes.
 */
int txn_stage_dir(const struct env *env, const char *src_server_dir,
		  char **stage_server_path, struct error *e);
/* rm -rf of a directory made by txn_stage_dir (nothing else is touched). */
void txn_stage_remove(const struct env *env, const char *stage_server_path);

#endif
