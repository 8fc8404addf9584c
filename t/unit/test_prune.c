/* Unit tests for cache/prune (selection, the walk, removal) and the
 * duration and size parsers its command line uses (proxy/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cache/prune.h"
#include "cache/snapshot.h"
#include "proxy/config.h"
#include "t/unit/cachetree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DAY 86400

static char cache[256];
static time_t now;

static void put(const char *rel, const char *text)
{
	tree_put(cache, rel, text);
}

/* Sets rel's atime and mtime to so many days ago. */
static void age(const char *rel, int atime_days, int mtime_days)
{
	char path[1024];
	struct timespec ts[2] = {{now - (time_t)atime_days * DAY, 0},
	                         {now - (time_t)mtime_days * DAY, 0}};

	snprintf(path, sizeof(path), "%s/%s", cache, rel);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* Puts a version's three files, each last used days ago. */
static void put_version(const char *dir, const char *v, int days)
{
	static const char *const exts[] = {".info", ".mod", ".zip"};
	char rel[512];
	size_t i;

	for (i = 0; i < 3; i++) {
		snprintf(rel, sizeof(rel), "%s/@v/%s%s", dir, v, exts[i]);
		put(rel, i == 2 ? "PK-zip-bytes-of-a-version" : v);
		age(rel, days, days);
	}
}

static void rm(const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", cache, rel);
	assert_int_equal(unlink(path), 0);
}

static int exists(const char *rel)
{
	return tree_exists(cache, rel);
}

static int setup(void **state)
{
	(void)state;
	now = time(NULL);
	snprintf(cache, sizeof(cache), "/tmp/modgate-test-prune.XXXXXX");
	if (!mkdtemp(cache))
		return -1;
	put_version("example.com/old", "v1.0.0", 200);
	put_version("example.com/old", "v1.1.0", 100);
	put_version("example.com/mid", "v0.1.0", 40);
	put_version("example.com/new", "v2.0.0", 1);
	put("example.com/old/@v/list", "v1.0.0\nv1.1.0\n");
	put("example.com/old/@latest", "{\"Version\":\"v1.1.0\"}");
	age("example.com/old/@v/list", 300, 300);
	age("example.com/old/@latest", 300, 300);
	put("sumdb/sum.golang.org/lookup/example.com/old@v1.0.0", "lookup");
	age("sumdb/sum.golang.org/lookup/example.com/old@v1.0.0", 300, 300);
	/* modgate's own state mirrors the tree's layout: it must look like
	 * versions to a careless walk, and be old. */
	put(".sums/example.com/old/@v/v1.0.0.zip", "h1:zip\n");
	age(".sums/example.com/old/@v/v1.0.0.zip", 300, 300);
	put(".sumdb/sum.golang.org/tree", "tree 1\n");
	put(".quarantine/20260101T000000Z-1-1.json", "{}");
	put(".tmp/stale/@v/v9.0.0.zip", "half");
	age(".tmp/stale/@v/v9.0.0.zip", 300, 300);
	put(".snapshots/old/example.com/gone/@v/v0.0.1.zip", "kept");
	age(".snapshots/old/example.com/gone/@v/v0.0.1.zip", 300, 300);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tree_remove(cache);
}

/* What each saw, in order. */
static struct seen {
	char name[128][64];
	enum cache_prune_outcome what[128];
	int n;
} seen;

static void on_each(void *arg, const struct cache_prune_version *v, enum cache_prune_outcome what,
                    const char *error)
{
	(void)arg;
	assert_true(seen.n < 128);
	assert_true(what != CACHE_PRUNE_FAILED || error);
	snprintf(seen.name[seen.n], sizeof(seen.name[0]), "%s", v->name);
	seen.what[seen.n++] = what;
}

static int run(long long unused_days, long long max_bytes, int dry_run,
               struct cache_prune_result *r)
{
	struct cache_prune_opts o = {.now = now,
	                             .unused_s = unused_days < 0 ? -1 : unused_days * DAY,
	                             .max_bytes = max_bytes,
	                             .dry_run = dry_run};
	char err[512];
	int rc;

	memset(&seen, 0, sizeof(seen));
	rc = cache_prune(cache, &o, r, on_each, NULL, NULL, NULL, err, sizeof(err));
	if (rc < 0)
		print_error("cache_prune: %s\n", err);
	return rc;
}

static struct cache_prune_version version(const char *rel, time_t last_use,
                                          unsigned long long bytes)
{
	struct cache_prune_version v = {.rel = (char *)rel, .last_use = last_use, .bytes = bytes};

	return v;
}

/* The pure selection: least recently used first, ties in path order; the
 * age limit takes a prefix, the size limit lengthens it. */
static void test_select(void **state)
{
	struct cache_prune_version v[5];
	struct cache_prune_opts o = {.now = 1000 * DAY, .unused_s = -1, .max_bytes = -1};

	(void)state;
	v[0] = version("c/@v/v1", 1000 * DAY - 10 * DAY, 100);
	v[1] = version("b/@v/v1", 1000 * DAY - 90 * DAY, 200);
	v[2] = version("a/@v/v1", 1000 * DAY - 10 * DAY, 300);
	v[3] = version("d/@v/v1", 1000 * DAY - 30 * DAY, 400);
	v[4] = version("e/@v/v1", 1000 * DAY, 500);
	/* No limit: nothing goes, but the order is set. */
	assert_int_equal(cache_prune_select(v, 5, &o, 1500), 0);
	assert_string_equal(v[0].rel, "b/@v/v1");
	assert_string_equal(v[1].rel, "d/@v/v1");
	assert_string_equal(v[2].rel, "a/@v/v1");
	assert_string_equal(v[3].rel, "c/@v/v1");
	assert_string_equal(v[4].rel, "e/@v/v1");

	o.unused_s = 30 * DAY; /* exactly 30 days unused goes */
	assert_int_equal(cache_prune_select(v, 5, &o, 1500), 2);
	o.unused_s = 31 * DAY;
	assert_int_equal(cache_prune_select(v, 5, &o, 1500), 1);
	o.unused_s = 0;
	assert_int_equal(cache_prune_select(v, 5, &o, 1500), 5);

	/* 1500 bytes, 100 of them not versions (list, sumdb/). */
	o.unused_s = -1;
	o.max_bytes = 1500;
	assert_int_equal(cache_prune_select(v, 5, &o, 1600), 1);
	o.max_bytes = 1400;
	assert_int_equal(cache_prune_select(v, 5, &o, 1600), 1);
	o.max_bytes = 1399;
	assert_int_equal(cache_prune_select(v, 5, &o, 1600), 2);
	o.max_bytes = 0;
	assert_int_equal(cache_prune_select(v, 5, &o, 1600), 5);
	/* Both: the age's prefix, then more for the size. */
	o.unused_s = 60 * DAY;
	o.max_bytes = 1000;
	assert_int_equal(cache_prune_select(v, 5, &o, 1600), 2);
	o.max_bytes = 100000;
	assert_int_equal(cache_prune_select(v, 5, &o, 1600), 1);
	assert_int_equal(cache_prune_select(v, 0, &o, 1600), 0);
}

/* --unused over a real tree: the old versions go, least recently used
 * first, each line a version; what is not a version stays. */
static void test_unused(void **state)
{
	struct cache_prune_result r;

	(void)state;
	assert_int_equal(run(90, -1, 0, &r), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.name[0], "example.com/old@v1.0.0");
	assert_string_equal(seen.name[1], "example.com/old@v1.1.0");
	assert_int_equal(seen.what[0], CACHE_PRUNE_REMOVED);
	assert_int_equal(r.versions, 2);
	assert_int_equal(r.files, 6);
	assert_int_equal(r.kept, 2);
	assert_int_equal(r.failed, 0);
	assert_int_equal(r.busy, 0);
	assert_true(r.freed == r.bytes && r.held == 0 && r.bytes > 0);
	assert_true(r.tree_after == r.tree_before - r.bytes);
	assert_false(exists("example.com/old/@v/v1.0.0.zip"));
	assert_false(exists("example.com/old/@v/v1.0.0.info"));
	assert_false(exists("example.com/old/@v/v1.1.0.mod"));
	assert_true(exists("example.com/old/@v/list"));
	assert_true(exists("example.com/old/@latest"));
	assert_true(exists("example.com/mid/@v/v0.1.0.zip"));
	assert_true(exists("example.com/new/@v/v2.0.0.zip"));

	/* Again: nothing old enough is left. */
	assert_int_equal(run(90, -1, 0, &r), 0);
	assert_int_equal(r.versions, 0);
	assert_int_equal(seen.n, 0);
}

/* --max-size: oldest use first until the tree fits. */
static void test_max_size(void **state)
{
	struct cache_prune_result r, dry;

	(void)state;
	assert_int_equal(run(-1, -1, 1, &dry), 0); /* nothing selected: the totals */
	assert_int_equal(dry.versions, 0);
	assert_int_equal(dry.kept, 4);
	/* Room for all but one version. */
	assert_int_equal(run(-1, (long long)dry.tree_before - 1, 0, &r), 0);
	assert_int_equal(r.versions, 1);
	assert_string_equal(seen.name[0], "example.com/old@v1.0.0");
	assert_true(r.tree_after <= dry.tree_before - 1);
	/* Room for none: every version goes, the rest stays above it. */
	assert_int_equal(run(-1, 0, 0, &r), 0);
	assert_int_equal(r.versions, 3);
	assert_string_equal(seen.name[0], "example.com/old@v1.1.0");
	assert_string_equal(seen.name[1], "example.com/mid@v0.1.0");
	assert_string_equal(seen.name[2], "example.com/new@v2.0.0");
	assert_int_equal(r.kept, 0);
	assert_true(r.tree_after > 0);
	assert_true(exists("example.com/old/@v/list"));
	assert_true(exists("sumdb/sum.golang.org/lookup/example.com/old@v1.0.0"));
}

/* A version's files go together, by the latest use among them; atime never
 * counts for less than mtime. */
static void test_grouping(void **state)
{
	struct cache_prune_result r;

	(void)state;
	/* old@v1.0.0's .info was read yesterday: the version was used. */
	age("example.com/old/@v/v1.0.0.info", 1, 200);
	/* mid@v0.1.0's atime is old but its zip was fetched two days ago. */
	age("example.com/mid/@v/v0.1.0.zip", 400, 2);
	/* old@v1.1.0 has only a .mod left. */
	rm("example.com/old/@v/v1.1.0.zip");
	rm("example.com/old/@v/v1.1.0.info");
	assert_int_equal(run(30, -1, 0, &r), 0);
	assert_int_equal(r.versions, 1);
	assert_int_equal(r.files, 1);
	assert_string_equal(seen.name[0], "example.com/old@v1.1.0");
	assert_true(exists("example.com/old/@v/v1.0.0.zip"));
	assert_true(exists("example.com/old/@v/v1.0.0.mod"));
	assert_true(exists("example.com/mid/@v/v0.1.0.info"));
	assert_false(exists("example.com/old/@v/v1.1.0.mod"));
}

/* --dry-run: the same lines and totals, nothing removed. */
static void test_dry_run(void **state)
{
	struct cache_prune_result dry, r;
	struct seen before;

	(void)state;
	assert_int_equal(run(30, -1, 1, &dry), 0);
	before = seen;
	assert_int_equal(dry.versions, 3);
	assert_int_equal(seen.what[0], CACHE_PRUNE_WOULD);
	assert_true(exists("example.com/old/@v/v1.0.0.zip"));
	assert_true(exists("example.com/mid/@v/v0.1.0.zip"));
	assert_int_equal(run(30, -1, 0, &r), 0);
	assert_int_equal(r.versions, dry.versions);
	assert_int_equal(r.files, dry.files);
	assert_true(r.freed == dry.freed && r.held == dry.held && r.tree_after == dry.tree_after);
	for (int i = 0; i < before.n; i++)
		assert_string_equal(seen.name[i], before.name[i]);
	assert_false(exists("example.com/mid/@v/v0.1.0.zip"));
}

/* Bytes a snapshot links are not freed: counted apart. */
static void test_snapshot_held(void **state)
{
	struct cache_tool_stats st;
	struct cache_prune_result dry, r;
	char err[512];

	(void)state;
	assert_int_equal(cache_snapshot_create(cache, "s1", &st, NULL, NULL, err, sizeof(err)), 0);
	/* Fetched after the snapshot, and old: only its bytes are freed. */
	put_version("example.com/late", "v0.0.1", 500);
	assert_int_equal(run(90, -1, 1, &dry), 0);
	assert_int_equal(run(90, -1, 0, &r), 0);
	assert_int_equal(r.versions, 3);
	assert_string_equal(seen.name[0], "example.com/late@v0.0.1");
	assert_true(r.freed > 0 && r.held > 0);
	assert_true(r.freed + r.held == r.bytes);
	assert_true(r.held > r.freed); /* two versions held, one freed, similar sizes */
	assert_true(dry.freed == r.freed && dry.held == r.held);
	/* The snapshot still has them. */
	assert_true(exists(".snapshots/s1/example.com/old/@v/v1.0.0.zip"));
	assert_false(exists(".snapshots/s1/example.com/late"));
}

/* Nothing in a dot-folder, in sumdb/, or not a version (list, @latest, a
 * name modgate cannot have written) is touched, even with room for none. */
static void test_untouched(void **state)
{
	struct cache_tool_stats st;
	struct cache_prune_result r;
	char err[512];

	(void)state;
	put("example.com/odd/@v/Bad.zip", "not an escaped version");
	age("example.com/odd/@v/Bad.zip", 300, 300);
	put("example.com/old/@v/notes.txt", "stray");
	/* The tree's bytes are a snapshot's: the dot-folders are not in it. */
	assert_int_equal(cache_snapshot_create(cache, "s1", &st, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(run(0, 0, 0, &r), 0);
	assert_int_equal(r.versions, 4);
	assert_true(r.tree_before == st.bytes);
	assert_true(exists(".snapshots/s1/example.com/old/@v/v1.0.0.zip"));
	assert_true(exists(".sums/example.com/old/@v/v1.0.0.zip"));
	assert_true(exists(".sumdb/sum.golang.org/tree"));
	assert_true(exists(".quarantine/20260101T000000Z-1-1.json"));
	assert_true(exists(".tmp/stale/@v/v9.0.0.zip"));
	assert_true(exists(".snapshots/old/example.com/gone/@v/v0.0.1.zip"));
	assert_true(exists(".lock"));
	assert_true(exists("sumdb/sum.golang.org/lookup/example.com/old@v1.0.0"));
	assert_true(exists("example.com/old/@v/list"));
	assert_true(exists("example.com/old/@latest"));
	assert_true(exists("example.com/odd/@v/Bad.zip"));
	assert_true(exists("example.com/old/@v/notes.txt"));
}

/* Folders left empty go, up to the root; others stay. */
static void test_empty_folders(void **state)
{
	struct cache_prune_result r;

	(void)state;
	put_version("example.org/deep/er/mod", "v1.0.0", 300);
	put_version("example.org/deep/keep", "v1.0.0", 1);
	assert_int_equal(run(30, -1, 0, &r), 0);
	assert_false(exists("example.org/deep/er"));
	assert_true(exists("example.org/deep/keep/@v/v1.0.0.zip"));
	assert_false(exists("example.com/mid"));
	assert_true(exists("example.com/old/@v/list")); /* @v keeps its list */
	assert_true(exists("example.com/new/@v/v2.0.0.mod"));
	/* The last module of a host: the host's folder goes too. */
	assert_int_equal(run(0, -1, 0, &r), 0);
	assert_false(exists("example.org"));
	assert_true(exists("example.com/old/@latest"));
	assert_true(exists(".sums/example.com/old/@v"));
}

/* A version used (or replaced) between the scan and its turn stays. */
static int touched;

static void touch_next(void *arg, const struct cache_prune_version *v,
                       enum cache_prune_outcome what, const char *error)
{
	on_each(arg, v, what, error);
	if (!touched) {
		/* A client reads mid@v0.1.0's zip now. */
		age("example.com/mid/@v/v0.1.0.zip", 0, 40);
		touched = 1;
	}
}

static void test_used_meanwhile(void **state)
{
	struct cache_prune_opts o = {.now = now, .unused_s = 30 * DAY, .max_bytes = -1};
	struct cache_prune_result r;
	char err[512];

	(void)state;
	memset(&seen, 0, sizeof(seen));
	touched = 0;
	assert_int_equal(cache_prune(cache, &o, &r, touch_next, NULL, NULL, NULL, err, sizeof(err)),
	                 0);
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.name[2], "example.com/mid@v0.1.0");
	assert_int_equal(seen.what[2], CACHE_PRUNE_BUSY);
	assert_int_equal(r.versions, 2);
	assert_int_equal(r.busy, 1);
	assert_int_equal(r.kept, 2);
	assert_true(exists("example.com/mid/@v/v0.1.0.zip"));
	assert_true(exists("example.com/mid/@v/v0.1.0.info"));
}

/* A file that cannot be removed fails its version, not the prune. The
 * folder holding it is read-only to the prune; root writes anywhere, so as
 * root the prune runs in a child that becomes nobody, the folder root's. */
static void test_failed(void **state)
{
	struct cache_prune_opts o = {.now = now, .unused_s = 30 * DAY, .max_bytes = -1};
	struct cache_prune_result r;
	char dir[512], err[512];
	int status;
	pid_t pid;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/example.com/mid/@v", cache);
	if (geteuid() != 0) {
		assert_int_equal(chmod(dir, 0555), 0);
		assert_int_equal(run(30, -1, 0, &r), 0);
		chmod(dir, 0755);
		assert_int_equal(r.failed, 1);
		assert_int_equal(r.versions, 2);
		assert_int_equal(seen.what[2], CACHE_PRUNE_FAILED);
		assert_true(exists("example.com/mid/@v/v0.1.0.zip"));
		return;
	}
	assert_int_equal(tree_give_nobody(cache), 0);
	assert_int_equal(chown(dir, 0, 0), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(TREE_NOBODY) < 0 || setuid(TREE_NOBODY) < 0)
			_exit(10);
		if (cache_prune(cache, &o, &r, NULL, NULL, NULL, NULL, err, sizeof(err)) < 0) {
			fprintf(stderr, "prune as nobody: %s\n", err);
			_exit(11);
		}
		_exit(r.failed == 1 && r.versions == 2 && r.busy == 0 ? 0 : 12);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(exists("example.com/mid/@v/v0.1.0.zip"));
	assert_false(exists("example.com/old/@v/v1.0.0.zip"));
}

/* The tools' lock is held while prune removes, and prune waits for it. */
static int lock_busy;

static void check_lock(void *arg, const struct cache_prune_version *v,
                       enum cache_prune_outcome what, const char *error)
{
	char path[400];
	int fd;

	on_each(arg, v, what, error);
	snprintf(path, sizeof(path), "%s/.lock", cache);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		lock_busy++;
	close(fd);
}

static void test_lock(void **state)
{
	struct cache_prune_opts o = {.now = now, .unused_s = 30 * DAY, .max_bytes = -1};
	struct cache_prune_result r;
	char err[512];
	int fd, status;
	pid_t pid;

	(void)state;
	lock_busy = 0;
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(cache_prune(cache, &o, &r, check_lock, NULL, NULL, NULL, err, sizeof(err)),
	                 0);
	assert_int_equal(seen.n, 3);
	assert_int_equal(lock_busy, 3);

	/* Another tool has it: prune waits, removes nothing meanwhile. */
	put_version("example.com/old", "v1.0.0", 200);
	fd = cache_tool_lock(cache, err, sizeof(err));
	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fd); /* the lock is the parent's alone */
		_exit(cache_prune(cache, &o, &r, NULL, NULL, NULL, NULL, err, sizeof(err)) == 0 &&
		              r.versions == 1
		          ? 0
		          : 1);
	}
	usleep(300 * 1000);
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	assert_true(exists("example.com/old/@v/v1.0.0.zip"));
	close(fd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_false(exists("example.com/old/@v/v1.0.0.zip"));
}

static void test_refused(void **state)
{
	struct cache_prune_opts o = {.now = now, .unused_s = 0, .max_bytes = -1};
	struct cache_prune_result r;
	char err[512], missing[400];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/none", cache);
	assert_int_equal(cache_prune(missing, &o, &r, NULL, NULL, NULL, NULL, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "none"));
	assert_true(exists("example.com/old/@v/v1.0.0.zip"));
}

/* An escaped path is shown as the module path, and removed. */
static void test_escaped(void **state)
{
	struct cache_prune_result r;

	(void)state;
	put_version("github.com/!azure/x", "v1.0.0-!r!c1", 300);
	assert_int_equal(run(150, -1, 0, &r), 0);
	assert_int_equal(r.versions, 2);
	assert_string_equal(seen.name[0], "github.com/Azure/x@v1.0.0-RC1");
	assert_false(exists("github.com"));
}

static void test_parse_duration(void **state)
{
	static const struct {
		const char *in;
		int days;
		long long ms;    /* -1: refused */
		const char *why; /* part of the error */
	} cases[] = {
	    {"90d", 1, 90LL * 86400000, NULL},
	    {"1d12h", 1, 36LL * 3600000, NULL},
	    {"12h30m", 1, 45000000, NULL},
	    {"3600", 1, 3600000, NULL},
	    {"0", 1, 0, NULL},
	    {"250ms", 0, 250, NULL},
	    {"90d", 0, -1, "unknown unit \"d\" (use ms, s, m or h)"},
	    {"", 1, -1, "empty duration"},
	    {"d", 1, -1, "bad duration"},
	    {"-5d", 1, -1, "bad duration"},
	    {"1.5d", 1, -1, "unknown unit \".\""},
	    {"5 d", 1, -1, "unknown unit \" d\""},
	    {"5D", 1, -1, "unknown unit \"D\" (use ms, s, m, h or d)"},
	    {"5w", 1, -1, "unknown unit \"w\""},
	    {"1d2", 1, -1, "missing unit after 2"},
	    {"11574d1h", 1, 11574LL * 86400000 + 3600000, NULL}, /* 1e12 ms: the limit */
	    {"11574d2h", 1, -1, "too large"},
	    {"11575d", 1, -1, "too large"},
	    {"999999999999999d", 1, -1, "too large"},
	    {"99999999999999999999d", 1, -1, "too large"},
	};
	char err[256];
	long long ms;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		ms = 7;
		rc = config_parse_duration_ms(cases[i].in, cases[i].days, &ms, err, sizeof(err));
		if (cases[i].ms >= 0) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].in, err);
			assert_int_equal(ms, cases[i].ms);
		} else {
			if (rc != -1 || !strstr(err, cases[i].why))
				fail_msg("%s: rc %d, err \"%s\", want \"%s\"", cases[i].in, rc, err,
				         cases[i].why);
			assert_int_equal(ms, 7); /* untouched */
		}
	}
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *in;
		unsigned long long bytes;
		const char *why; /* NULL: accepted */
	} cases[] = {
	    {"0", 0, NULL},
	    {"1048576", 1048576, NULL},
	    {"500M", 500ULL << 20, NULL},
	    {"50G", 50ULL << 30, NULL},
	    {"50g", 50ULL << 30, NULL},
	    {"1T", 1ULL << 40, NULL},
	    {"2k", 2048, NULL},
	    {"1048576T", 1ULL << 60, NULL},
	    {"1048577T", 0, "too large"},
	    {"1152921504606846977", 0, "too large"},
	    {"99999999999999999999999", 0, "too large"},
	    {"", 0, "bad size"},
	    {"G", 0, "bad size"},
	    {"-1G", 0, "bad size"},
	    {"+1G", 0, "bad size"},
	    {" 1G", 0, "bad size"},
	    {"1.5G", 0, "unknown unit \".5G\""},
	    {"5GB", 0, "unknown unit \"GB\""},
	    {"5GiB", 0, "unknown unit"},
	    {"5P", 0, "unknown unit \"P\" (use K, M, G or T"},
	    {"5 G", 0, "unknown unit"},
	    {"5G ", 0, "unknown unit"},
	};
	char err[256];
	unsigned long long b;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		b = 7;
		rc = config_parse_size(cases[i].in, &b, err, sizeof(err));
		if (!cases[i].why) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].in, err);
			assert_true(b == cases[i].bytes);
		} else {
			if (rc != -1 || !strstr(err, cases[i].why))
				fail_msg("%s: rc %d, err \"%s\", want \"%s\"", cases[i].in, rc, err,
				         cases[i].why);
			assert_true(b == 7);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_select),
	    cmocka_unit_test_setup_teardown(test_unused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grouping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_untouched, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_folders, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_used_meanwhile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaped, setup, teardown),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
