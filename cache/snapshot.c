/*
 * cache snapshot — hard-link snapshots, restore by folder exchange, purge.
 *
 * Every walk works on descriptors (openat, linkat, unlinkat) and never
 * follows a symlink, so a tree cannot lead a tool outside the cache. A walk
 * tolerates a running server: a file renamed away between readdir and link
 * is skipped, as it would have been had the walk come a moment later.
 */
#include "cache/snapshot.h"

#include "cache/store.h"
#include "proxy/modpath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_FILE ".lock"
#define META_FILE ".snapshot"
#define TMP_DIR ".tmp"
/* Module paths have a bounded number of elements; a deeper tree is not ours. */
#define MAX_DEPTH 128

struct walk {
	int owned; /* run as root: folders made are given to uid:gid */
	uid_t uid; /* the cache root's owner, the server's user */
	gid_t gid;
	struct cache_tool_stats st;
	cache_progress_fn progress;
	void *arg;
	const char *phase;
	char err[512];
};

int cache_snapshot_name_check(const char *name, char *err, size_t errlen)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > CACHE_SNAPSHOT_NAME_MAX) {
		snprintf(err, errlen, "snapshot name must be 1 to %d characters",
		         CACHE_SNAPSHOT_NAME_MAX);
		return -1;
	}
	if (name[0] == '.') {
		snprintf(err, errlen, "snapshot name must not start with '.'");
		return -1;
	}
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			snprintf(err, errlen,
			         "snapshot name may hold only letters, digits, '.', '_' and '-'");
			return -1;
		}
	}
	return 0;
}

/* Run as root on a service's cache, the tools must not leave folders the
 * server (another user) cannot write into: what they make belongs to the
 * owner of the cache root. Files are hard links and keep their owner. */
static void own_as_root(struct walk *w, int root_fd)
{
	struct stat sb;

	w->owned = geteuid() == 0 && fstat(root_fd, &sb) == 0;
	if (w->owned) {
		w->uid = sb.st_uid;
		w->gid = sb.st_gid;
	}
}

static void give(const struct walk *w, int dir, const char *name)
{
	if (w->owned && fchownat(dir, name, w->uid, w->gid, AT_SYMLINK_NOFOLLOW) < 0) {
		/* Best effort: the server's own check reports a folder it cannot use. */
	}
}

/* flock on <root>/.lock: the tools run one at a time. A restore links the
 * same file into the new tree, so the lock stays one inode across it. */
static int lock_cache(int root_fd, const char *root, char *err, size_t errlen)
{
	/* Read-only: flock needs no more, and the file may be another user's. */
	int fd = openat(root_fd, LOCK_FILE, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s/%s: %s", root, LOCK_FILE, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "modgate: waiting for another cache tool (%s/%s)\n", root,
		        LOCK_FILE);
		if (flock(fd, LOCK_EX) < 0) {
			snprintf(err, errlen, "cannot lock %s/%s: %s", root, LOCK_FILE,
			         strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

static int open_root(const char *root, char *err, size_t errlen)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		snprintf(err, errlen, "cannot open cache directory %s: %s", root, strerror(errno));
	return fd;
}

int cache_tool_lock(const char *root, char *err, size_t errlen)
{
	int root_fd = open_root(root, err, errlen), lock_fd;

	if (root_fd < 0)
		return -1;
	lock_fd = lock_cache(root_fd, root, err, errlen);
	close(root_fd);
	return lock_fd;
}

/* A directory stream over a copy of fd, from its first entry: copies share
 * the read position, and an earlier walk may have left it at the end. */
static DIR *dir_stream(int fd)
{
	int copy = dup(fd);
	DIR *d;

	if (copy < 0)
		return NULL;
	d = fdopendir(copy);
	if (!d) {
		close(copy);
		return NULL;
	}
	rewinddir(d);
	return d;
}

static void tick(struct walk *w)
{
	if (w->progress && w->st.objects % 512 == 0)
		w->progress(w->arg, w->phase, &w->st);
}

/* Links (to >= 0) or counts (to < 0) the tree below from; at the top only
 * the GOPROXY tree, not modgate's dot-entries. */
static int link_tree(int from, int to, int top, int depth, struct walk *w)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		snprintf(w->err, sizeof(w->err), "folders nested deeper than %d", MAX_DEPTH);
		return -1;
	}
	if (!(d = dir_stream(from))) {
		snprintf(w->err, sizeof(w->err), "cannot read a folder: %s", strerror(errno));
		return -1;
	}
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		struct stat sb;
		int sub_from, sub_to = -1;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (top && de->d_name[0] == '.'))
			continue;
		if (fstatat(from, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone since readdir */
		if (!S_ISDIR(sb.st_mode)) {
			if (to >= 0 && linkat(from, de->d_name, to, de->d_name, 0) < 0) {
				if (errno == ENOENT)
					continue;
				snprintf(w->err, sizeof(w->err), "cannot link %s: %s", de->d_name,
				         strerror(errno));
				rc = -1;
				break;
			}
			w->st.objects++;
			w->st.bytes += (unsigned long long)sb.st_size;
			tick(w);
			continue;
		}
		sub_from =
		    openat(from, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub_from < 0)
			continue;
		if (to >= 0) {
			if (mkdirat(to, de->d_name, sb.st_mode & 07777) < 0 && errno != EEXIST) {
				snprintf(w->err, sizeof(w->err), "cannot create folder %s: %s",
				         de->d_name, strerror(errno));
				close(sub_from);
				rc = -1;
				break;
			}
			give(w, to, de->d_name);
			sub_to =
			    openat(to, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub_to < 0) {
				snprintf(w->err, sizeof(w->err), "cannot open folder %s: %s",
				         de->d_name, strerror(errno));
				close(sub_from);
				rc = -1;
				break;
			}
		}
		rc = link_tree(sub_from, sub_to, 0, depth + 1, w);
		close(sub_from);
		if (sub_to >= 0)
			close(sub_to);
	}
	if (rc == 0 && errno != 0 && !de) {
		snprintf(w->err, sizeof(w->err), "cannot read a folder: %s", strerror(errno));
		rc = -1;
	}
	closedir(d);
	return rc;
}

/* rm -r of dir/name, never following a symlink. Best effort. */
static void remove_tree(int dir, const char *name, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd;

	if (unlinkat(dir, name, 0) == 0 || (errno != EISDIR && errno != EPERM))
		return;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || depth > MAX_DEPTH || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			remove_tree(fd, de->d_name, depth + 1);
	closedir(d);
	unlinkat(dir, name, AT_REMOVEDIR);
}

static int write_meta(int dir, const struct cache_tool_stats *st, time_t created)
{
	char buf[128];
	int fd =
	    openat(dir, META_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	int n, rc;

	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "created %lld\nobjects %lu\nbytes %llu\n",
	             (long long)created, st->objects, st->bytes);
	rc = write(fd, buf, (size_t)n) == n ? 0 : -1;
	close(fd);
	return rc;
}

static int read_meta(int dir, struct cache_snapshot_info *info)
{
	char buf[256];
	long long created;
	int fd = openat(dir, META_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "created %lld\nobjects %lu\nbytes %llu", &created, &info->objects,
	           &info->bytes) != 3)
		return -1;
	info->created = (time_t)created;
	return 0;
}

/* Opens <root>/.snapshots, creating it when create is set. */
static int open_snapdir(int root_fd, int create)
{
	if (create && mkdirat(root_fd, CACHE_SNAPSHOTS_DIR, 0755) < 0 && errno != EEXIST)
		return -1;
	return openat(root_fd, CACHE_SNAPSHOTS_DIR,
	              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int cache_snapshot_create(const char *root, const char *name, struct cache_tool_stats *st,
                          cache_progress_fn progress, void *arg, char *err, size_t errlen)
{
	struct walk w = {.progress = progress, .arg = arg, .phase = "linking"};
	char build[CACHE_SNAPSHOT_NAME_MAX + 64];
	struct stat sb;
	DIR *d;
	struct dirent *de;
	int root_fd, lock_fd, snap_fd = -1, build_fd = -1, rc = -1;

	if (cache_snapshot_name_check(name, err, errlen) < 0)
		return -1;
	if ((root_fd = open_root(root, err, errlen)) < 0)
		return -1;
	if ((lock_fd = lock_cache(root_fd, root, err, errlen)) < 0)
		goto out_root;
	own_as_root(&w, root_fd);
	snap_fd = open_snapdir(root_fd, 1);
	if (snap_fd < 0) {
		snprintf(err, errlen, "cannot create %s/%s: %s", root, CACHE_SNAPSHOTS_DIR,
		         strerror(errno));
		goto out_lock;
	}
	if (fstatat(snap_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(err, errlen, "snapshot %s exists", name);
		goto out_snap;
	}
	give(&w, root_fd, CACHE_SNAPSHOTS_DIR);
	/* Under the lock no other tool is building: dot-entries here are what
	 * an interrupted snapshot left. */
	if ((d = dir_stream(snap_fd))) {
		while ((de = readdir(d)))
			if (strncmp(de->d_name, ".build-", 7) == 0)
				remove_tree(snap_fd, de->d_name, 0);
		closedir(d);
	}
	snprintf(build, sizeof(build), ".build-%s", name);
	if (mkdirat(snap_fd, build, 0755) < 0 ||
	    (build_fd = openat(snap_fd, build, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot create %s/%s/%s: %s", root, CACHE_SNAPSHOTS_DIR,
		         build, strerror(errno));
		goto out_snap;
	}
	give(&w, snap_fd, build);
	if (link_tree(root_fd, build_fd, 1, 0, &w) < 0) {
		snprintf(err, errlen, "snapshot %s: %s", name, w.err);
		goto out_build;
	}
	if (write_meta(build_fd, &w.st, time(NULL)) < 0 || syncfs(build_fd) < 0) {
		snprintf(err, errlen, "snapshot %s: cannot write it out: %s", name,
		         strerror(errno));
		goto out_build;
	}
	if (renameat2(snap_fd, build, snap_fd, name, RENAME_NOREPLACE) < 0) {
		snprintf(err, errlen, "snapshot %s: cannot rename it into place: %s", name,
		         strerror(errno));
		goto out_build;
	}
	fsync(snap_fd);
	*st = w.st;
	rc = 0;
	goto out_build_fd;
out_build:
	remove_tree(snap_fd, build, 0);
out_build_fd:
	if (build_fd >= 0)
		close(build_fd);
out_snap:
	close(snap_fd);
out_lock:
	close(lock_fd);
out_root:
	close(root_fd);
	return rc;
}

static int by_created(const void *a, const void *b)
{
	const struct cache_snapshot_info *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->name, y->name);
}

int cache_snapshot_list(const char *root, struct cache_snapshot_info **out, char *err,
                        size_t errlen)
{
	struct cache_snapshot_info *list = NULL, *grown;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *de;
	int root_fd, snap_fd;

	*out = NULL;
	if ((root_fd = open_root(root, err, errlen)) < 0)
		return -1;
	snap_fd = open_snapdir(root_fd, 0);
	close(root_fd);
	if (snap_fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot open %s/%s: %s", root, CACHE_SNAPSHOTS_DIR,
		         strerror(errno));
		return -1;
	}
	if (!(d = dir_stream(snap_fd))) {
		snprintf(err, errlen, "cannot read %s/%s: %s", root, CACHE_SNAPSHOTS_DIR,
		         strerror(errno));
		close(snap_fd);
		return -1;
	}
	while ((de = readdir(d))) {
		struct cache_snapshot_info *info;
		struct stat sb;
		int fd;

		if (de->d_name[0] == '.' || strlen(de->d_name) > CACHE_SNAPSHOT_NAME_MAX)
			continue;
		fd = openat(snap_fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				close(fd);
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			list = grown;
		}
		info = &list[n];
		memset(info, 0, sizeof(*info));
		memcpy(info->name, de->d_name, strlen(de->d_name) + 1); /* length checked above */
		/* A snapshot without its record (copied in by hand): counted now. */
		if (read_meta(fd, info) < 0) {
			struct walk w = {0};

			if (link_tree(fd, -1, 1, 0, &w) == 0) {
				info->objects = w.st.objects;
				info->bytes = w.st.bytes;
			}
			info->created = fstat(fd, &sb) == 0 ? sb.st_mtime : 0;
		}
		close(fd);
		n++;
	}
	closedir(d);
	close(snap_fd);
	if (n > 1)
		qsort(list, n, sizeof(*list), by_created);
	*out = list;
	return (int)n;
fail:
	closedir(d);
	close(snap_fd);
	free(list);
	return -1;
}

/* What a running server wrote into the old tree's dot-folders before it
 * noticed the exchange: files the live tree lacks move over; a kept tree
 * head newer than the live one replaces it (heads only move forward). */
static void merge_state(int from, int to, const char *name, int newer_wins, int depth)
{
	struct stat fs, ts;
	DIR *d;
	struct dirent *de;
	int sub_from, sub_to;

	if (depth > MAX_DEPTH || fstatat(from, name, &fs, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISDIR(fs.st_mode)) {
		if (fstatat(to, name, &ts, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (newer_wins && fs.st_mtime > ts.st_mtime))
			renameat(from, name, to, name);
		return;
	}
	if (mkdirat(to, name, fs.st_mode & 07777) < 0 && errno != EEXIST)
		return;
	sub_from = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	sub_to = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub_from >= 0 && sub_to >= 0 && (d = dir_stream(sub_from))) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				merge_state(sub_from, sub_to, de->d_name, newer_wins, depth + 1);
		closedir(d);
	}
	if (sub_from >= 0)
		close(sub_from);
	if (sub_to >= 0)
		close(sub_to);
	unlinkat(from, name, AT_REMOVEDIR); /* only when emptied */
}

static void sync_folder(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Splits the real path of root into its parent and its last element. */
static int split_root(const char *root, char *real, char *parent, size_t plen, const char **base,
                      char *err, size_t errlen)
{
	char *slash;

	if (!realpath(root, real)) {
		snprintf(err, errlen, "cache directory %s: %s", root, strerror(errno));
		return -1;
	}
	slash = strrchr(real, '/');
	if (!slash || slash[1] == '\0') {
		snprintf(err, errlen, "cannot restore into %s: the cache must have a parent folder",
		         real);
		return -1;
	}
	*base = slash + 1;
	snprintf(parent, plen, "%.*s", slash == real ? 1 : (int)(slash - real), real);
	return 0;
}

int cache_snapshot_restore(const char *root, const char *name, int settle_ms, char *pre,
                           size_t prelen, struct cache_tool_stats *st, cache_progress_fn progress,
                           void *arg, char *err, size_t errlen)
{
	struct walk w = {.progress = progress, .arg = arg, .phase = "linking"};
	struct walk count = {.progress = progress, .arg = arg, .phase = "counting"};
	char real[PATH_MAX], parent[PATH_MAX], staged[PATH_MAX + 64], target[PATH_MAX + 64];
	char moved[64][NAME_MAX + 1];
	const char *base;
	struct stat root_sb;
	struct tm tm;
	time_t now;
	DIR *d;
	struct dirent *de;
	int root_fd = -1, lock_fd = -1, snap_fd = -1, staged_fd = -1, new_fd = -1;
	int n_moved = 0, i, rc = -1, exchanged = 0;

	if (cache_snapshot_name_check(name, err, errlen) < 0)
		return -1;
	if (split_root(root, real, parent, sizeof(parent), &base, err, errlen) < 0)
		return -1;
	if ((root_fd = open_root(real, err, errlen)) < 0)
		return -1;
	if ((lock_fd = lock_cache(root_fd, real, err, errlen)) < 0)
		goto out;
	own_as_root(&w, root_fd);
	snprintf(target, sizeof(target), "%s/%s", CACHE_SNAPSHOTS_DIR, name);
	snap_fd = openat(root_fd, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (snap_fd < 0) {
		snprintf(err, errlen, "no snapshot %s in %s/%s", name, real, CACHE_SNAPSHOTS_DIR);
		goto out;
	}
	snprintf(staged, sizeof(staged), "%s/.%s.restore-XXXXXX", parent, base);
	if (!mkdtemp(staged)) {
		snprintf(err, errlen,
		         "restore stages the new tree beside the cache, so %s must be writable "
		         "(and on the cache's file system): %s",
		         parent, strerror(errno));
		goto out;
	}
	staged_fd = open(staged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* mkdtemp made it 0700: the live cache's own mode instead. */
	if (staged_fd < 0 || fstat(root_fd, &root_sb) < 0 ||
	    fchmod(staged_fd, root_sb.st_mode & 07777) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", staged, strerror(errno));
		goto out_staged;
	}
	if (link_tree(snap_fd, staged_fd, 1, 0, &w) < 0) {
		snprintf(err, errlen, "restore %s: %s (is %s on the cache's file system?)", name,
		         w.err, parent);
		goto out_staged;
	}
	if (mkdirat(staged_fd, TMP_DIR, 0700) < 0 ||
	    linkat(root_fd, LOCK_FILE, staged_fd, LOCK_FILE, 0) < 0) {
		snprintf(err, errlen, "cannot prepare %s: %s", staged, strerror(errno));
		goto out_staged;
	}
	give(&w, staged_fd, TMP_DIR);
	give(&w, staged_fd, ".");
	/* The live state that must not roll back goes with the new tree. */
	d = dir_stream(root_fd);
	if (!d) {
		snprintf(err, errlen, "cannot read %s: %s", real, strerror(errno));
		goto out_staged;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 || strcmp(de->d_name, TMP_DIR) == 0 ||
		    strcmp(de->d_name, LOCK_FILE) == 0)
			continue;
		if (n_moved == (int)(sizeof(moved) / sizeof(moved[0])) ||
		    renameat(root_fd, de->d_name, staged_fd, de->d_name) < 0) {
			snprintf(err, errlen, "cannot move %s/%s into %s: %s", real, de->d_name,
			         staged, n_moved == 64 ? "too many dot-entries" : strerror(errno));
			closedir(d);
			goto out_unmove;
		}
		snprintf(moved[n_moved++], sizeof(moved[0]), "%s", de->d_name);
	}
	closedir(d);
	if (syncfs(staged_fd) < 0 ||
	    renameat2(AT_FDCWD, staged, AT_FDCWD, real, RENAME_EXCHANGE) < 0) {
		snprintf(err, errlen, "cannot exchange %s with %s: %s", staged, real,
		         strerror(errno));
		goto out_unmove;
	}
	exchanged = 1;
	sync_folder(parent);
	/* root_fd now names the old tree, at the staged path; staged_fd the
	 * live one. */
	new_fd = staged_fd;
	staged_fd = -1;
	if (settle_ms > 0) {
		struct timespec ts = {settle_ms / 1000, (long)(settle_ms % 1000) * 1000000};

		nanosleep(&ts, NULL);
	}
	d = dir_stream(root_fd);
	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0 && strcmp(de->d_name, TMP_DIR) != 0 &&
			    strcmp(de->d_name, LOCK_FILE) != 0)
				merge_state(root_fd, new_fd, de->d_name,
				            strcmp(de->d_name, CACHE_SUMDB_DIR) == 0, 0);
		closedir(d);
	}
	unlinkat(root_fd, LOCK_FILE, 0);
	*st = w.st;
	/* The old tree becomes a snapshot: nothing is lost, and it can be
	 * restored in turn. */
	now = time(NULL);
	gmtime_r(&now, &tm);
	if (link_tree(root_fd, -1, 1, 0, &count) < 0 || write_meta(root_fd, &count.st, now) < 0 ||
	    (mkdirat(new_fd, CACHE_SNAPSHOTS_DIR, 0755) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "restored %s, but the old tree stays at %s: %s", name, staged,
		         count.err[0] ? count.err : strerror(errno));
		goto out;
	}
	for (i = 0; i < 100; i++) {
		char suffix[16] = "";

		if (i > 0)
			snprintf(suffix, sizeof(suffix), "-%d", i);
		snprintf(pre, prelen, "pre-restore-%04d%02d%02dT%02d%02d%02dZ%s", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, suffix);
		snprintf(target, sizeof(target), "%s/%s", CACHE_SNAPSHOTS_DIR, pre);
		if (renameat2(AT_FDCWD, staged, new_fd, target, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST)
			i = 100;
	}
	if (i >= 100) {
		snprintf(err, errlen, "restored %s, but the old tree stays at %s: %s", name, staged,
		         strerror(errno));
		pre[0] = '\0';
		goto out;
	}
	rc = 0;
	goto out;

out_unmove:
	for (i = n_moved - 1; i >= 0; i--)
		renameat(staged_fd, moved[i], root_fd, moved[i]);
out_staged:
	if (!exchanged) {
		if (staged_fd >= 0)
			close(staged_fd);
		staged_fd = -1;
		remove_tree(AT_FDCWD, staged, 0);
	}
out:
	if (new_fd >= 0)
		close(new_fd);
	if (staged_fd >= 0)
		close(staged_fd);
	if (snap_fd >= 0)
		close(snap_fd);
	if (lock_fd >= 0)
		close(lock_fd);
	close(root_fd);
	return rc;
}

/* Removes the file rel (not a folder, not through a symlink). 1 when it
 * was there. */
static int purge_one(int root_fd, const char *rel, cache_purge_fn removed, void *arg)
{
	struct stat sb;

	if (fstatat(root_fd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(sb.st_mode) ||
	    unlinkat(root_fd, rel, 0) < 0)
		return 0;
	if (removed)
		removed(arg, rel);
	return 1;
}

void cache_tool_remove_empty(int root_fd, char *dir)
{
	char *slash;

	while (dir[0] && unlinkat(root_fd, dir, AT_REMOVEDIR) == 0) {
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
}

int cache_purge(const char *root, const char *module, const char *version, cache_purge_fn removed,
                void *arg, char *err, size_t errlen)
{
	char esc_mod[MODPATH_ESC_MAX + 1], esc_ver[MODPATH_ESC_MAX + 1];
	char rel[2 * MODPATH_ESC_MAX + 32], why[256];
	static const char *const exts[] = {".info", ".mod", ".zip"};
	DIR *d;
	struct dirent *de;
	int root_fd, lock_fd, vfd, n = 0;
	size_t i;

	if (modpath_escape_path(module, esc_mod, sizeof(esc_mod), why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (version &&
	    modpath_escape_version(version, esc_ver, sizeof(esc_ver), why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if ((root_fd = open_root(root, err, errlen)) < 0)
		return -1;
	if ((lock_fd = lock_cache(root_fd, root, err, errlen)) < 0) {
		close(root_fd);
		return -1;
	}
	if (version) {
		for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
			snprintf(rel, sizeof(rel), "%s/@v/%s%s", esc_mod, esc_ver, exts[i]);
			n += purge_one(root_fd, rel, removed, arg);
		}
	} else {
		/* Only <module>/@v and <module>/@latest: a nested module
		 * (<module>/sub) shares the folder and stays. */
		snprintf(rel, sizeof(rel), "%s/@v", esc_mod);
		vfd = openat(root_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (vfd >= 0 && (d = fdopendir(vfd))) {
			while ((de = readdir(d))) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(rel, sizeof(rel), "%s/@v/%s", esc_mod, de->d_name);
				n += purge_one(root_fd, rel, removed, arg);
			}
			closedir(d);
		} else if (vfd >= 0) {
			close(vfd);
		}
		snprintf(rel, sizeof(rel), "%s/@latest", esc_mod);
		n += purge_one(root_fd, rel, removed, arg);
	}
	snprintf(rel, sizeof(rel), "%s/@v", esc_mod);
	cache_tool_remove_empty(root_fd, rel);
	close(lock_fd);
	close(root_fd);
	return n;
}
