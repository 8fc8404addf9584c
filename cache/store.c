/*
 * cache store — atomic, immutable-where-it-must-be file storage.
 *
 * Every call works relative to a descriptor on the root (openat and
 * friends), so a rename of the root folder under a running server cannot
 * make modgate write elsewhere, and no call ever builds a path that leaves
 * the root: rel comes validated from modpath and we refuse to follow a
 * symlink at its last element.
 */
#include "cache/store.h"

#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define TMP_DIR ".tmp"

/* Roots replaced under a running server (modgate restore) whose
 * descriptors stay open for commits already under way. */
#define OLD_ROOTS 32

struct cache_store {
	/* Read by worker threads, replaced by cache_store_check_root on the
	 * loop: every call loads it once and works with that value. */
	_Atomic int root_fd;
	dev_t root_dev; /* the directory root_fd names (loop thread only) */
	ino_t root_ino;
	_Atomic int old_fds[OLD_ROOTS]; /* -1: free slot */
	unsigned old_next;              /* loop thread only */
	char root[PATH_MAX];
	unsigned long seq; /* loop thread only: temp names */
};

static int root_of(struct cache_store *s)
{
	return atomic_load(&s->root_fd);
}

/* The root whose .tmp holds the temp file name: the current one, or one a
 * restore replaced while the file was being written (commits started
 * before the switch finish into the new tree). */
static int temp_root(struct cache_store *s, int fd, const char *name)
{
	struct stat sb;
	unsigned i;

	if (fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return fd;
	/* Temp names are unique (pid, sequence): any order will do. */
	for (i = 0; i < OLD_ROOTS; i++) {
		int old = atomic_load(&s->old_fds[i]);

		if (old >= 0 && fstatat(old, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
			return old;
	}
	return fd;
}

static int mkdir_p(int root_fd, const char *path)
{
	char buf[PATH_MAX];
	char *p;
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdirat(root_fd, buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdirat(root_fd, buf, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int mkdir_root(const char *root)
{
	char buf[PATH_MAX];
	char *p;
	size_t len = strlen(root);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, root, len + 1);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Temp names start with the writer's pid: a running server's files must
 * survive a tool (fsck, snapshot) opening the same cache. */
static int writer_alive(const char *name)
{
	char *end;
	long pid = strtol(name, &end, 10);

	if (end == name || *end != '-' || pid <= 0 || pid == (long)getpid())
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static void clean_tmp(int root_fd)
{
	int fd = openat(root_fd, TMP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !writer_alive(de->d_name))
			unlinkat(fd, de->d_name, 0);
	closedir(d);
}

struct cache_store *cache_store_open(const char *root, char *err, size_t errlen)
{
	struct cache_store *s;
	struct stat sb;
	int fd, i;

	if (strlen(root) >= PATH_MAX) {
		snprintf(err, errlen, "cache directory path too long");
		return NULL;
	}
	if (mkdir_root(root) < 0) {
		snprintf(err, errlen, "cannot create cache directory %s: %s", root,
		         strerror(errno));
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(s->root, sizeof(s->root), "%s", root);
	for (i = 0; i < OLD_ROOTS; i++)
		atomic_init(&s->old_fds[i], -1);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open cache directory %s: %s", root, strerror(errno));
		goto err_free;
	}
	atomic_init(&s->root_fd, fd);
	if (fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "cannot stat cache directory %s: %s", root, strerror(errno));
		goto err_close;
	}
	s->root_dev = sb.st_dev;
	s->root_ino = sb.st_ino;
	if (mkdirat(fd, TMP_DIR, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s/%s: %s", root, TMP_DIR, strerror(errno));
		goto err_close;
	}
	if (faccessat(fd, TMP_DIR, W_OK, 0) < 0) {
		snprintf(err, errlen, "cache directory %s is not writable: %s", root,
		         strerror(errno));
		goto err_close;
	}
	clean_tmp(fd);
	return s;

err_close:
	close(fd);
err_free:
	free(s);
	return NULL;
}

void cache_store_free(struct cache_store *s)
{
	int i;

	if (!s)
		return;
	close(root_of(s));
	for (i = 0; i < OLD_ROOTS; i++)
		if (atomic_load(&s->old_fds[i]) >= 0)
			close(atomic_load(&s->old_fds[i]));
	free(s);
}

int cache_store_check_root(struct cache_store *s, char *err, size_t errlen)
{
	struct stat sb;
	int fd, old, slot;

	if (stat(s->root, &sb) < 0) {
		snprintf(err, errlen, "cache directory %s: %s", s->root, strerror(errno));
		return -1;
	}
	if (sb.st_dev == s->root_dev && sb.st_ino == s->root_ino)
		return 0;
	fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open cache directory %s: %s", s->root,
		         strerror(errno));
		return -1;
	}
	/* What was opened, not what was stat'ed: the path may move again. */
	if (fstat(fd, &sb) < 0 || (mkdirat(fd, TMP_DIR, 0700) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "cannot use the new cache directory %s: %s", s->root,
		         strerror(errno));
		close(fd);
		return -1;
	}
	/* The slot a restore 32 switches ago used: no commit lasts that long. */
	slot = (int)(s->old_next++ % OLD_ROOTS);
	old = atomic_exchange(&s->old_fds[slot], atomic_exchange(&s->root_fd, fd));
	if (old >= 0)
		close(old);
	s->root_dev = sb.st_dev;
	s->root_ino = sb.st_ino;
	return 1;
}

int cache_store_health(struct cache_store *s, int min_free_pct, char *why, size_t whylen)
{
	struct statvfs vfs;
	double free_pct;
	int root = root_of(s);

	if (faccessat(root, TMP_DIR, W_OK, 0) < 0) {
		snprintf(why, whylen, "cache %s is not writable: %s", s->root, strerror(errno));
		return -1;
	}
	if (fstatvfs(root, &vfs) < 0) {
		snprintf(why, whylen, "cannot stat the file system of %s: %s", s->root,
		         strerror(errno));
		return -1;
	}
	free_pct = vfs.f_blocks ? 100.0 * (double)vfs.f_bavail / (double)vfs.f_blocks : 0;
	if (free_pct < min_free_pct) {
		snprintf(why, whylen, "the file system of %s has %.1f%% free (under %d%%)", s->root,
		         free_pct, min_free_pct);
		return -1;
	}
	snprintf(why, whylen, "cache %s writable, %.1f%% free", s->root, free_pct);
	return 0;
}

const char *cache_store_root(const struct cache_store *s)
{
	return s->root;
}

static int open_object(struct cache_store *s, const char *rel, int flags, struct cache_stat *st)
{
	struct stat sb;
	int fd = openat(root_of(s), rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | flags);

	/* O_NOATIME is for the file's owner (or root) only. */
	if (fd < 0 && errno == EPERM && flags)
		fd = openat(root_of(s), rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	st->size = sb.st_size;
	st->mtime = sb.st_mtime;
	return fd;
}

int cache_open(struct cache_store *s, const char *rel, struct cache_stat *st)
{
	return open_object(s, rel, 0, st);
}

int cache_open_noatime(struct cache_store *s, const char *rel, struct cache_stat *st)
{
	return open_object(s, rel, O_NOATIME, st);
}

int cache_temp_create(struct cache_store *s, char *name, size_t namelen, char *err, size_t errlen)
{
	int fd;

	snprintf(name, namelen, "%s/%ld-%lu.tmp", TMP_DIR, (long)getpid(), ++s->seq);
	fd = openat(root_of(s), name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		snprintf(err, errlen, "cannot create temp file in %s/%s: %s", s->root, TMP_DIR,
		         strerror(errno));
	return fd;
}

int cache_temp_link(struct cache_store *s, const char *path, char *name, size_t namelen, char *err,
                    size_t errlen)
{
	int fd, root = root_of(s);

	snprintf(name, namelen, "%s/%ld-%lu.tmp", TMP_DIR, (long)getpid(), ++s->seq);
	if (linkat(AT_FDCWD, path, root, name, 0) < 0) {
		snprintf(err, errlen, "cannot link %s into %s/%s: %s", path, s->root, TMP_DIR,
		         strerror(errno));
		return -1;
	}
	fd = openat(root, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s/%s: %s", s->root, name, strerror(errno));
		unlinkat(root, name, 0);
	}
	return fd;
}

void cache_temp_discard(struct cache_store *s, const char *name)
{
	unlinkat(temp_root(s, root_of(s), name), name, 0);
}

static int fsync_parent(int root_fd, const char *rel)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	int fd, rc;

	if (!slash)
		return fsync(root_fd);
	if ((size_t)(slash - rel) >= sizeof(dir))
		return -1;
	memcpy(dir, rel, slash - rel);
	dir[slash - rel] = '\0';
	fd = openat(root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

enum cache_commit_result cache_commit(struct cache_store *s, int fd, const char *name,
                                      const char *rel, int immutable, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	int root = root_of(s), from = temp_root(s, root, name), tries = 0;

	if (fsync(fd) < 0) {
		snprintf(err, errlen, "fsync %s: %s", name, strerror(errno));
		goto fail;
	}
again:
	if (slash) {
		if ((size_t)(slash - rel) >= sizeof(dir)) {
			snprintf(err, errlen, "path too long: %s", rel);
			goto fail;
		}
		memcpy(dir, rel, slash - rel);
		dir[slash - rel] = '\0';
		if (mkdir_p(root, dir) < 0) {
			if (errno == ENOENT && ++tries < 3)
				goto again; /* a parent went meanwhile: see below */
			snprintf(err, errlen, "mkdir %s/%s: %s", s->root, dir, strerror(errno));
			goto fail;
		}
	}
	if (renameat2(from, name, root, rel, immutable ? RENAME_NOREPLACE : 0) < 0) {
		if (errno == EEXIST) {
			unlinkat(from, name, 0);
			return CACHE_EXISTS;
		}
		/* `modgate prune` or purge removed the folder (empty, so
		 * theirs to remove) between mkdir_p and here: make it again. */
		if (errno == ENOENT && slash && ++tries < 3)
			goto again;
		snprintf(err, errlen, "rename into %s/%s: %s", s->root, rel, strerror(errno));
		goto fail;
	}
	/* The rename is durable only once the folder holding it is synced. */
	if (fsync_parent(root, rel) < 0) {
		snprintf(err, errlen, "fsync folder of %s: %s", rel, strerror(errno));
		return CACHE_COMMIT_ERROR;
	}
	return CACHE_COMMITTED;
fail:
	unlinkat(from, name, 0);
	return CACHE_COMMIT_ERROR;
}

/* Temp names made on worker threads; the loop's own seq is not theirs. */
static _Atomic unsigned long worker_seq;

int cache_put_file(struct cache_store *s, const char *rel, const void *data, size_t len, char *err,
                   size_t errlen)
{
	char name[96];
	const char *p = data;
	size_t left = len;
	int fd, root = root_of(s);

	snprintf(name, sizeof(name), "%s/%ld-w%lu.tmp", TMP_DIR, (long)getpid(), ++worker_seq);
	fd = openat(root, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create temp file in %s/%s: %s", s->root, TMP_DIR,
		         strerror(errno));
		return -1;
	}
	while (left > 0) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "writing %s/%s: %s", s->root, name, strerror(errno));
			close(fd);
			unlinkat(root, name, 0);
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	if (cache_commit(s, fd, name, rel, 0, err, errlen) != CACHE_COMMITTED) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

ssize_t cache_get_file(struct cache_store *s, const char *rel, void *buf, size_t cap)
{
	int fd = openat(root_of(s), rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got < cap) {
		ssize_t n = read(fd, (char *)buf + got, cap - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

int cache_quarantine(struct cache_store *s, const char *name, const char *json, size_t json_len,
                     char *stem, size_t stemlen, char *err, size_t errlen)
{
	char body[128], rec[128];
	struct tm tm;
	time_t now = time(NULL);
	int root = root_of(s), from = temp_root(s, root, name);

	gmtime_r(&now, &tm);
	snprintf(stem, stemlen, "%04d%02d%02dT%02d%02d%02dZ-%ld-%lu", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid(),
	         ++worker_seq);
	snprintf(body, sizeof(body), "%s/%s.body", CACHE_QUARANTINE_DIR, stem);
	snprintf(rec, sizeof(rec), "%s/%s.json", CACHE_QUARANTINE_DIR, stem);
	if (mkdirat(root, CACHE_QUARANTINE_DIR, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s/%s: %s", s->root, CACHE_QUARANTINE_DIR,
		         strerror(errno));
		unlinkat(from, name, 0);
		return -1;
	}
	/* The bytes first: a record always has its body beside it. */
	if (renameat(from, name, root, body) < 0) {
		snprintf(err, errlen, "cannot move %s into %s/%s: %s", name, s->root, body,
		         strerror(errno));
		unlinkat(from, name, 0);
		return -1;
	}
	return cache_put_file(s, rec, json, json_len, err, errlen);
}

/* Adds up the regular files below the folder dfd (taken, closed here). */
static void usage_walk(int dfd, int depth, uint64_t *bytes, uint64_t *objects)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	struct stat st;

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		/* No module path element starts with a dot: those are modgate's. */
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			*bytes += (uint64_t)st.st_size;
			(*objects)++;
		} else if (S_ISDIR(st.st_mode) && depth < 64) {
			int sub = openat(dirfd(d), de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				usage_walk(sub, depth + 1, bytes, objects);
		}
	}
	closedir(d);
}

void cache_usage_scan(struct cache_store *s, uint64_t *bytes, uint64_t *objects)
{
	int fd = openat(root_of(s), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*bytes = *objects = 0;
	if (fd >= 0)
		usage_walk(fd, 0, bytes, objects);
}

int cache_disk_free(struct cache_store *s, uint64_t *bytes)
{
	struct statvfs vfs;

	if (fstatvfs(root_of(s), &vfs) < 0)
		return -1;
	*bytes = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
	return 0;
}
