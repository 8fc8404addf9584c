/*
 * cache prune — least recently used versions out, by age or by size.
 *
 * One scan of the GOPROXY tree (descriptors, never following a symlink, as
 * the other tools walk) counts its bytes and gathers every version in an
 * @v folder outside sumdb/; the selection is a prefix of them sorted by
 * last use; the removal checks each file again just before it goes.
 */
#include "cache/prune.h"

#include "proxy/modpath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Module paths have a bounded number of elements; a deeper tree is not ours. */
#define MAX_DEPTH 128
#define SUMDB_TREE "sumdb"

static const char *const exts[CACHE_PRUNE_EXTS] = {".info", ".mod", ".zip"};

struct scan {
	struct cache_prune_version *v;
	size_t n, cap;
	struct cache_tool_stats st; /* the tree: files and bytes */
	cache_progress_fn progress;
	void *parg;
	char err[PATH_MAX + 256];
};

/* One object file of an @v folder, before its version is put together. */
struct vfile {
	char *base; /* the escaped version */
	int ext;
	struct stat sb;
};

/* atime, but never before the commit: a file nobody has read since it was
 * fetched was last used when it was fetched. */
static time_t last_use(const struct stat *sb)
{
	return sb->st_atim.tv_sec > sb->st_mtim.tv_sec ? sb->st_atim.tv_sec : sb->st_mtim.tv_sec;
}

static void counted(struct scan *s, const struct stat *sb)
{
	s->st.objects++;
	s->st.bytes += (unsigned long long)sb->st_size;
	if (s->progress && s->st.objects % 512 == 0)
		s->progress(s->parg, "scanning", &s->st);
}

static void version_free(struct cache_prune_version *v)
{
	free(v->rel);
	free(v->name);
}

/* Appends "/name" (or "name" at the top) to rel, whose length is *len. */
static int rel_push(char *rel, size_t *len, const char *name, struct scan *s)
{
	int n = snprintf(rel + *len, PATH_MAX - *len, "%s%s", *len ? "/" : "", name);

	if (n < 0 || (size_t)n >= PATH_MAX - *len) {
		rel[*len] = '\0';
		snprintf(s->err, sizeof(s->err), "path too long below %s", rel);
		return -1;
	}
	*len += (size_t)n;
	return 0;
}

static int by_base(const void *a, const void *b)
{
	const struct vfile *x = a, *y = b;
	int c = strcmp(x->base, y->base);

	return c ? c : x->ext - y->ext;
}

/* Adds the version made of f[0..n) (one base name) in the @v folder at
 * dir; a name modgate could not have written (not an escaped module path
 * and version) is no version of ours and stays. -1 only when out of memory. */
static int add_version(struct scan *s, const char *dir, const struct vfile *f, size_t n)
{
	char module[MODPATH_MAX + 1], version[MODPATH_MAX + 1], esc[PATH_MAX], why[256];
	struct cache_prune_version *v;
	size_t dlen = strlen(dir) - strlen("/@v"), i;

	if (dlen >= sizeof(esc))
		return 0;
	memcpy(esc, dir, dlen);
	esc[dlen] = '\0';
	if (modpath_unescape_path(esc, module, sizeof(module), why, sizeof(why)) < 0 ||
	    modpath_unescape_version(f[0].base, version, sizeof(version), why, sizeof(why)) < 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct cache_prune_version *grown = realloc(s->v, cap * sizeof(*grown));

		if (!grown)
			return -1;
		s->v = grown;
		s->cap = cap;
	}
	v = &s->v[s->n];
	memset(v, 0, sizeof(*v));
	if (asprintf(&v->rel, "%s/%s", dir, f[0].base) < 0) {
		v->rel = NULL;
		return -1;
	}
	if (asprintf(&v->name, "%s@%s", module, version) < 0) {
		free(v->rel);
		return -1;
	}
	for (i = 0; i < n; i++) {
		const struct stat *sb = &f[i].sb;

		v->files[f[i].ext].present = 1;
		v->files[f[i].ext].ino = sb->st_ino;
		v->files[f[i].ext].size = (unsigned long long)sb->st_size;
		v->bytes += (unsigned long long)sb->st_size;
		if (sb->st_nlink > 1)
			v->held += (unsigned long long)sb->st_size;
		if (last_use(sb) > v->last_use)
			v->last_use = last_use(sb);
	}
	s->n++;
	return 0;
}

/* The extension of name among exts, or -1. base gets its length before it. */
static int object_ext(const char *name, size_t *base)
{
	size_t len = strlen(name), e;
	int i;

	for (i = 0; i < CACHE_PRUNE_EXTS; i++) {
		e = strlen(exts[i]);
		if (len > e && name[0] != '.' && strcmp(name + len - e, exts[i]) == 0) {
			*base = len - e;
			return i;
		}
	}
	return -1;
}

static int scan_dir(int fd, char *rel, size_t len, int depth, int count_only, struct scan *s);

/* An @v folder: every file counts toward the tree; .info, .mod and .zip
 * files are grouped by version. */
static int scan_versions(int fd, char *rel, size_t len, int depth, struct scan *s)
{
	struct vfile *f = NULL, *grown;
	size_t n = 0, cap = 0, i, j, base;
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0, ext;

	if (!d) {
		snprintf(s->err, sizeof(s->err), "cannot read %s: %s", rel, strerror(errno));
		close(fd);
		return -1;
	}
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* gone since readdir */
			snprintf(s->err, sizeof(s->err), "cannot stat %s/%s: %s", rel, de->d_name,
			         strerror(errno));
			rc = -1;
			break;
		}
		if (S_ISDIR(sb.st_mode)) {
			size_t sub_len = len;
			int sub;

			/* Not ours; its bytes are the tree's all the same. */
			if (rel_push(rel, &sub_len, de->d_name, s) < 0)
				rc = -1;
			else if ((sub = openat(fd, de->d_name,
			                       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >=
			         0)
				rc = scan_dir(sub, rel, sub_len, depth + 1, 1, s);
			rel[len] = '\0';
			continue;
		}
		counted(s, &sb);
		if (!S_ISREG(sb.st_mode) || (ext = object_ext(de->d_name, &base)) < 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if (!(grown = realloc(f, cap * sizeof(*f)))) {
				snprintf(s->err, sizeof(s->err), "out of memory");
				rc = -1;
				break;
			}
			f = grown;
		}
		if (!(f[n].base = strndup(de->d_name, base))) {
			snprintf(s->err, sizeof(s->err), "out of memory");
			rc = -1;
			break;
		}
		f[n].ext = ext;
		f[n].sb = sb;
		n++;
	}
	if (rc == 0 && !de && errno != 0) {
		snprintf(s->err, sizeof(s->err), "cannot read %s: %s", rel, strerror(errno));
		rc = -1;
	}
	closedir(d);
	if (n > 1)
		qsort(f, n, sizeof(*f), by_base);
	for (i = 0; rc == 0 && i < n; i = j) {
		for (j = i + 1; j < n && strcmp(f[j].base, f[i].base) == 0; j++)
			;
		if (add_version(s, rel, f + i, j - i) < 0) {
			snprintf(s->err, sizeof(s->err), "out of memory");
			rc = -1;
		}
	}
	for (i = 0; i < n; i++)
		free(f[i].base);
	free(f);
	return rc;
}

/* Walks the folder fd names (taken: closed here), rel its path from the
 * root ("" for the root, len its length). At the top only the GOPROXY tree:
 * no dot-entries. count_only: below sumdb/, where nothing is a version. */
static int scan_dir(int fd, char *rel, size_t len, int depth, int count_only, struct scan *s)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		snprintf(s->err, sizeof(s->err), "folders nested deeper than %d at %s", MAX_DEPTH,
		         rel);
		close(fd);
		return -1;
	}
	if (!(d = fdopendir(fd))) {
		snprintf(s->err, sizeof(s->err), "cannot read %s: %s", len ? rel : ".",
		         strerror(errno));
		close(fd);
		return -1;
	}
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		struct stat sb;
		size_t sub_len = len;
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (depth == 0 && de->d_name[0] == '.'))
			continue;
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			snprintf(s->err, sizeof(s->err), "cannot stat %s%s%s: %s", rel,
			         len ? "/" : "", de->d_name, strerror(errno));
			rc = -1;
			break;
		}
		if (!S_ISDIR(sb.st_mode)) {
			counted(s, &sb);
			continue;
		}
		if (rel_push(rel, &sub_len, de->d_name, s) < 0) {
			rc = -1;
			break;
		}
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 && errno != ENOENT) {
			snprintf(s->err, sizeof(s->err), "cannot open %s: %s", rel,
			         strerror(errno));
			rc = -1;
		} else if (sub >= 0 && !count_only && depth > 0 && strcmp(de->d_name, "@v") == 0) {
			rc = scan_versions(sub, rel, sub_len, depth + 1, s);
		} else if (sub >= 0) {
			rc = scan_dir(
			    sub, rel, sub_len, depth + 1,
			    count_only || (depth == 0 && strcmp(de->d_name, SUMDB_TREE) == 0), s);
		}
		rel[len] = '\0';
	}
	if (rc == 0 && !de && errno != 0) {
		snprintf(s->err, sizeof(s->err), "cannot read %s: %s", len ? rel : ".",
		         strerror(errno));
		rc = -1;
	}
	closedir(d);
	return rc;
}

static int by_last_use(const void *a, const void *b)
{
	const struct cache_prune_version *x = a, *y = b;

	if (x->last_use != y->last_use)
		return x->last_use < y->last_use ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

size_t cache_prune_select(struct cache_prune_version *v, size_t n, const struct cache_prune_opts *o,
                          unsigned long long tree_bytes)
{
	unsigned long long left = tree_bytes;
	size_t k;

	if (n > 1)
		qsort(v, n, sizeof(*v), by_last_use);
	/* Sorted by last use, the versions old enough are a prefix; the size
	 * limit only lengthens it. */
	for (k = 0; k < n; k++) {
		int old =
		    o->unused_s >= 0 && (long long)v[k].last_use <= (long long)o->now - o->unused_s;
		int big = o->max_bytes >= 0 && left > (unsigned long long)o->max_bytes;

		if (!old && !big)
			break;
		left -= v[k].bytes < left ? v[k].bytes : left;
	}
	return k;
}

/* Removes v's files from the cache if none has been used or replaced since
 * the scan. Adds what went to res (and st, for progress). */
static enum cache_prune_outcome remove_version(int root_fd, const struct cache_prune_version *v,
                                               struct cache_prune_result *res,
                                               struct cache_tool_stats *st, char *err,
                                               size_t errlen)
{
	char path[PATH_MAX];
	struct stat sb[CACHE_PRUNE_EXTS];
	int present[CACHE_PRUNE_EXTS] = {0}, i;

	/* A server may have sent one of them meanwhile (atime moved), or a
	 * purge and a new fetch put other bytes there: it stays, whole. */
	for (i = 0; i < CACHE_PRUNE_EXTS; i++) {
		if (!v->files[i].present)
			continue;
		snprintf(path, sizeof(path), "%s%s", v->rel, exts[i]);
		if (fstatat(root_fd, path, &sb[i], AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone already */
		if (sb[i].st_ino != v->files[i].ino || last_use(&sb[i]) > v->last_use)
			return CACHE_PRUNE_BUSY;
		present[i] = 1;
	}
	for (i = 0; i < CACHE_PRUNE_EXTS; i++) {
		unsigned long long size = (unsigned long long)sb[i].st_size;

		if (!present[i])
			continue;
		snprintf(path, sizeof(path), "%s%s", v->rel, exts[i]);
		if (unlinkat(root_fd, path, 0) < 0) {
			if (errno == ENOENT)
				continue;
			snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
			return CACHE_PRUNE_FAILED;
		}
		res->files++;
		res->bytes += size;
		/* The link count before this unlink: 1 means the bytes are free
		 * now (once a reader closes them); more, a snapshot holds them. */
		if (sb[i].st_nlink > 1)
			res->held += size;
		else
			res->freed += size;
		st->objects++;
		st->bytes += size;
	}
	return CACHE_PRUNE_REMOVED;
}

int cache_prune(const char *root, const struct cache_prune_opts *o, struct cache_prune_result *res,
                cache_prune_fn each, void *arg, cache_progress_fn progress, void *parg, char *err,
                size_t errlen)
{
	struct scan s = {.progress = progress, .parg = parg};
	struct cache_tool_stats gone = {0};
	char rel[PATH_MAX] = "", why[PATH_MAX + 64];
	size_t k, i;
	int root_fd, lock_fd, fd, rc = -1;

	memset(res, 0, sizeof(*res));
	if ((lock_fd = cache_tool_lock(root, err, errlen)) < 0)
		return -1;
	root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		snprintf(err, errlen, "cannot open cache directory %s: %s", root, strerror(errno));
		goto out_lock;
	}
	if ((fd = dup(root_fd)) < 0 || scan_dir(fd, rel, 0, 0, 0, &s) < 0) {
		snprintf(err, errlen, "%s: %s", root, fd < 0 ? strerror(errno) : s.err);
		goto out;
	}
	res->tree_before = s.st.bytes;
	k = cache_prune_select(s.v, s.n, o, s.st.bytes);
	for (i = 0; i < k; i++) {
		const struct cache_prune_version *v = &s.v[i];
		enum cache_prune_outcome what = CACHE_PRUNE_WOULD;
		char dir[PATH_MAX];

		why[0] = '\0';
		if (o->dry_run) {
			res->files += (unsigned long)(v->files[0].present + v->files[1].present +
			                              v->files[2].present);
			res->bytes += v->bytes;
			res->held += v->held;
			res->freed += v->bytes - v->held;
		} else {
			what = remove_version(root_fd, v, res, &gone, why, sizeof(why));
			snprintf(dir, sizeof(dir), "%s", v->rel);
			*strrchr(dir, '/') = '\0';
			cache_tool_remove_empty(root_fd, dir);
		}
		if (what == CACHE_PRUNE_REMOVED || what == CACHE_PRUNE_WOULD)
			res->versions++;
		else if (what == CACHE_PRUNE_BUSY)
			res->busy++;
		else
			res->failed++;
		if (each)
			each(arg, v, what, what == CACHE_PRUNE_FAILED ? why : NULL);
		if (progress && !o->dry_run)
			progress(parg, "removing", &gone);
	}
	res->kept = (unsigned long)s.n - res->versions;
	res->tree_after = res->tree_before - res->bytes;
	rc = 0;
out:
	for (i = 0; i < s.n; i++)
		version_free(&s.v[i]);
	free(s.v);
	close(root_fd);
out_lock:
	close(lock_fd);
	return rc;
}
