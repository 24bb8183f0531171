/*
 * fsutil.c - durable file primitives for core/txn.c.  Everything reports
 * failure as -1 with errno, never with a message: only the caller knows the
 * server path the user should see.
 */
#include "fsutil.h"

#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <openssl/evp.h>

#define SELINUX_XATTR "security.selinux"
#define MAX_TREE_DEPTH 64

static int keep_errno(int saved)
{
	errno = saved;
	return -1;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	struct stat st;
	int rc = 0;

	for (char *s = strchr(p + 1, '/'); s != NULL && rc == 0; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	free(p);
	if (rc < 0)
		return -1;
	if (mkdir(path, mode) == 0)
		return chmod(path, mode); /* umask must not weaken or widen it */
	if (errno != EEXIST)
		return -1;
	if (stat(path, &st) < 0)
		return -1;
	return S_ISDIR(st.st_mode) ? 0 : keep_errno(ENOTDIR);
}

int fs_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	/* Some file systems cannot sync a directory; that is not a failure. */
	if (rc < 0 && errno == EINVAL)
		rc = 0;
	if (rc < 0) {
		int saved = errno;

		close(fd);
		return keep_errno(saved);
	}
	return close(fd);
}


int fs_fsync_parent(const char *path)
{
	char *dir = path_dir(path);
	int rc = fs_fsync_dir(dir);

	free(dir);
	return rc;
}

char *fs_label_get(const char *path)
{
	ssize_t n = lgetxattr(path, SELINUX_XATTR, NULL, 0);
	char *label;

	if (n <= 0)
		return NULL;
	label = xmalloc((size_t)n + 1);
	n = lgetxattr(path, SELINUX_XATTR, label, (size_t)n);
	if (n <= 0) {
		free(label);
		return NULL;
	}
	label[n] = '\0'; /* the kernel usually includes the NUL, not always */
	return label;
}

static int read_fd(int fd, char **data, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			sb_free(&sb);
			return keep_errno(saved);
		}
		sb_add(&sb, buf, (size_t)n);
	}
	*len = sb.len;
	*data = sb_detach(&sb);
	return 0;
}

int fs_read(const char *path, char **data, size_t *len, struct stat *st)
{
	/* O_NONBLOCK: a FIFO planted at the path must not hang us. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat tmp;
	int saved;

	if (fd < 0)
		return -1;
	if (st == NULL)
		st = &tmp;
	if (fstat(fd, st) < 0)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (read_fd(fd, data, len) < 0)
		goto fail;
	close(fd);
	return 0;
fail:
	saved = errno;
	close(fd);
	return keep_errno(saved);
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return keep_errno(ENOSPC);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int set_meta(int fd, const struct file_meta *meta)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	/* Only when needed: a lab run without privileges owns its files. */
	if ((st.st_uid != meta->uid || st.st_gid != meta->gid) &&
	    fchown(fd, meta->uid, meta->gid) < 0)
		return -1;
	/* After fchown, which may clear set-id bits. */
	if (fchmod(fd, meta->mode & 07777) < 0)
		return -1;
	if (meta->label != NULL &&
	    fsetxattr(fd, SELINUX_XATTR, meta->label, strlen(meta->label) + 1, 0) < 0)
		return -1;
	return 0;
}

static char *temp_template(const char *path)
{
	char *dir = path_dir(path);
	char *tmpl = xasprintf("%s/.%.200s.mh-XXXXXX", strcmp(dir, "/") ? dir : "",
			       path_base(path));

	free(dir);
	return tmpl;
}

static int drop_temp(int fd, char *tmp)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return keep_errno(saved);
}

int fs_replace(const char *path, const void *data, size_t len,
	       const struct file_meta *meta)
{
	char *tmp = temp_template(path);
	int fd = mkostemp(tmp, O_CLOEXEC);

	if (fd < 0) {
		free(tmp);
		return -1;
	}
	if (write_all(fd, data, len) < 0 || set_meta(fd, meta) < 0 || fsync(fd) < 0)
		return drop_temp(fd, tmp);
	if (close(fd) < 0)
		return drop_temp(-1, tmp);
	if (rename(tmp, path) < 0)
		return drop_temp(-1, tmp);
	free(tmp);
	return fs_fsync_parent(path);
}

int fs_write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int saved;

	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(path);
		return keep_errno(saved);
	}
	return close(fd);
}

void fs_remove_stale_temps(const char *path)
{
	char *dir = path_dir(path);
	char *prefix = xasprintf(".%.200s.mh-", path_base(path));
	size_t plen = strlen(prefix);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) == 0 && strlen(de->d_name) == plen + 6)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d != NULL)
		closedir(d);
	free(prefix);
	free(dir);
}

void fs_sha256_hex(const void *data, size_t len, char out[FS_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		msg_fatal("%s", _("sha256 is not available in this OpenSSL"));
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* --- tree copy ----------------------------------------------------------- */

static int copy_dir(int sfd, int dfd, int depth);

static int copy_regular(int sfd, int dfd, const char *name, const struct stat *st)
{
	int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	int out = -1, rc = -1, saved;
	char *data = NULL;
	size_t len = 0;

	if (in >= 0 && read_fd(in, &data, &len) == 0)
		out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out >= 0 && write_all(out, data, len) == 0 && fchmod(out, st->st_mode & 07777) == 0)
		rc = 0;
	saved = errno;
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	free(data);
	return rc == 0 ? 0 : keep_errno(saved);
}

static int copy_symlink(int sfd, int dfd, const char *name)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(sfd, name, target, sizeof(target));

	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof(target))
		return keep_errno(ENAMETOOLONG);
	target[n] = '\0';
	return symlinkat(target, dfd, name);
}

static int copy_subdir(int sfd, int dfd, const char *name, const struct stat *st, int depth)
{
	int s = -1, d = -1, rc = -1, saved;

	if (depth >= MAX_TREE_DEPTH)
		return keep_errno(ELOOP);
	if (mkdirat(dfd, name, 0700) < 0)
		return -1;
	s = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s >= 0)
		d = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* The mode last, so a read-only directory can still be filled. */
	if (d >= 0 && copy_dir(s, d, depth + 1) == 0 && fchmod(d, st->st_mode & 07777) == 0)
		rc = 0;
	saved = errno;
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	return rc == 0 ? 0 : keep_errno(saved);
}

static int copy_entry(int sfd, int dfd, const char *name, int depth)
{
	struct stat st;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		return copy_subdir(sfd, dfd, name, &st, depth);
	if (S_ISLNK(st.st_mode))
		return copy_symlink(sfd, dfd, name);
	if (S_ISREG(st.st_mode))
		return copy_regular(sfd, dfd, name, &st);
	return 0; /* sockets, FIFOs, devices have no place in a config copy */
}

static int copy_dir(int sfd, int dfd, int depth)
{
	int fd = dup(sfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int rc = 0, saved;

	if (d == NULL) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		return keep_errno(saved);
	}
	while (rc == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = copy_entry(sfd, dfd, de->d_name, depth);
	}
	if (rc == 0 && errno != 0)
		rc = -1;
	saved = errno;
	closedir(d);
	return rc == 0 ? 0 : keep_errno(saved);
}

int fs_copy_tree(const char *src, const char *dst)
{
	int s = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int d = s >= 0 ? open(dst, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	struct stat st;
	int rc = -1, saved;

	if (d >= 0 && fstat(s, &st) == 0 && copy_dir(s, d, 0) == 0 &&
	    fchmod(d, st.st_mode & 07777) == 0)
		rc = 0;
	saved = errno;
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	return rc == 0 ? 0 : keep_errno(saved);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int fs_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}
