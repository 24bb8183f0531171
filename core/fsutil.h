/*
 * fsutil.h - low-level file helpers for core/txn.c: durable atomic replace,
 * SELinux labels, sha256, tree copy and removal.
 *
 * All paths are host paths.  Functions return -1 with errno set, so the
 * caller can word the message with the server path the user knows.
 */
#ifndef MH_FSUTIL_H
#define MH_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FS_SHA256_HEX 65

/* Owner, mode and SELinux label a replaced file must end up with. */
struct file_meta {
	uid_t uid;
	gid_t gid;
	mode_t mode;       /* permission bits only (07777) */
	const char *label; /* "security.selinux" value, NULL = leave default */
};

/* mkdir -p: missing parents get 0755, the last component gets mode. */
int fs_mkdir_p(const char *path, mode_t mode);

/* fsync of a directory, or of the directory holding path. */
int fs_fsync_dir(const char *dir);
int fs_fsync_parent(const char *path);

/* The SELinux label of path (not following a symlink), or NULL when the
 * file has none or the file system does not support labels. */
char *fs_label_get(const char *path);

/* Reads a regular file without following a final symlink.  st (may be
 * NULL) receives its fstat.  Fails with EINVAL for a non-regular file. */
int fs_read(const char *path, char **data, size_t *len, struct stat *st);

/* Writes data to a temp file next to path (O_EXCL, 0600), fsyncs it, sets
 * owner/mode/label from meta, renames it over path and fsyncs the
 * directory.  On failure before the rename the temp file is removed and
 * path is untouched. */
int fs_replace(const char *path, const void *data, size_t len,
	       const struct file_meta *meta);

/* Writes data to path (must not exist yet) and fsyncs it. */
int fs_write_new(const char *path, const void *data, size_t len, mode_t mode);

/* Removes leftover temp files of fs_replace for path (after a crash). */
void fs_remove_stale_temps(const char *path);

/* Lower-case hex sha256 of data into out. */
void fs_sha256_hex(const void *data, size_t len, char out[FS_SHA256_HEX]);

/* Copies the tree src into the existing directory dst: regular files,
 * directories, symlinks as symlinks; modes kept; other types skipped. */
int fs_copy_tree(const char *src, const char *dst);

/* rm -rf path without following symlinks or crossing mount points. */
int fs_remove_tree(const char *path);

#endif
