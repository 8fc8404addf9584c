/* Unit tests for cache/snapshot (snapshot, list, restore, purge) and the
 * store's switch to a restored root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cache/snapshot.h"
#include "cache/store.h"
#include "t/unit/cachetree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char top[256];   /* the cache's parent */
static char cache[300]; /* top/cache */

static void put(const char *rel, const char *text)
{
	tree_put(cache, rel, text);
}

/* The text of cache/rel, or "" when absent. */
static const char *get(const char *rel)
{
	static char buf[256];
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", cache, rel);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int exists(const char *rel)
{
	return tree_exists(cache, rel);
}

static ino_t inode(const char *rel)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", cache, rel);
	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_ino;
}

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/modgate-test-snapshot.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	snprintf(cache, sizeof(cache), "%s/cache", top);
	if (mkdir(cache, 0755) < 0)
		return -1;
	put("example.com/m/@v/v1.0.0.info", "{\"Version\":\"v1.0.0\"}");
	put("example.com/m/@v/v1.0.0.mod", "module example.com/m\n");
	put("example.com/m/@v/v1.0.0.zip", "PK-zip-bytes");
	put("example.com/m/@v/v1.1.0.mod", "module example.com/m\n// 1.1\n");
	put("example.com/m/@v/list", "v1.0.0\nv1.1.0\n");
	put("example.com/m/@latest", "{\"Version\":\"v1.1.0\"}");
	put("example.com/m/sub/@v/v0.1.0.mod", "module example.com/m/sub\n");
	put("sumdb/sum.golang.org/lookup/x", "lookup");
	put(".sums/example.com/m/@v/v1.0.0.mod", "h1:mod\n");
	put(".sums/example.com/m/@v/v1.0.0.zip", "h1:zip\n");
	put(".sumdb/sum.golang.org/tree", "tree 1\n");
	put(".quarantine/20260101T000000Z-1-1.json", "{}");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tree_remove(top);
}

static void test_name_check(void **state)
{
	char err[256], longname[CACHE_SNAPSHOT_NAME_MAX + 2];

	(void)state;
	assert_int_equal(cache_snapshot_name_check("s1", err, sizeof(err)), 0);
	assert_int_equal(cache_snapshot_name_check("before-upgrade_2026.01", err, sizeof(err)), 0);
	assert_int_equal(cache_snapshot_name_check("", err, sizeof(err)), -1);
	assert_int_equal(cache_snapshot_name_check(".hidden", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'.'"));
	assert_int_equal(cache_snapshot_name_check("..", err, sizeof(err)), -1);
	assert_int_equal(cache_snapshot_name_check("a/b", err, sizeof(err)), -1);
	assert_int_equal(cache_snapshot_name_check("a b", err, sizeof(err)), -1);
	assert_int_equal(cache_snapshot_name_check("a\nb", err, sizeof(err)), -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(cache_snapshot_name_check(longname, err, sizeof(err)), -1);
	longname[CACHE_SNAPSHOT_NAME_MAX] = '\0';
	assert_int_equal(cache_snapshot_name_check(longname, err, sizeof(err)), 0);
}

static void test_snapshot_links(void **state)
{
	struct cache_tool_stats st;
	struct cache_snapshot_info *list;
	char err[512];
	int n;

	(void)state;
	assert_int_equal(cache_snapshot_create(cache, "s1", &st, NULL, NULL, err, sizeof(err)), 0);
	/* 8 objects of the GOPROXY tree; none of the dot-folders. */
	assert_int_equal(st.objects, 8);
	assert_string_equal(get(".snapshots/s1/example.com/m/@v/v1.0.0.zip"), "PK-zip-bytes");
	assert_true(inode(".snapshots/s1/example.com/m/@v/v1.0.0.zip") ==
	            inode("example.com/m/@v/v1.0.0.zip"));
	assert_true(inode(".snapshots/s1/sumdb/sum.golang.org/lookup/x") ==
	            inode("sumdb/sum.golang.org/lookup/x"));
	assert_false(exists(".snapshots/s1/.sums"));
	assert_false(exists(".snapshots/s1/.quarantine"));
	assert_false(exists(".snapshots/s1/.snapshots"));
	assert_false(exists(".snapshots/.build-s1"));

	/* Existing or invalid names are refused, and nothing is left. */
	assert_int_equal(cache_snapshot_create(cache, "s1", &st, NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exists"));
	assert_int_equal(cache_snapshot_create(cache, "../x", &st, NULL, NULL, err, sizeof(err)),
	                 -1);
	assert_false(exists("../x"));

	n = cache_snapshot_list(cache, &list, err, sizeof(err));
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "s1");
	assert_int_equal(list[0].objects, 8);
	assert_true(list[0].bytes > 0);
	assert_true(list[0].created > 0);
	free(list);
}

static void test_list_empty(void **state)
{
	struct cache_snapshot_info *list;
	char err[512];

	(void)state;
	assert_int_equal(cache_snapshot_list(cache, &list, err, sizeof(err)), 0);
	assert_null(list);
}

static void test_restore(void **state)
{
	struct cache_tool_stats st;
	struct cache_snapshot_info *list;
	char err[512], pre[CACHE_SNAPSHOT_NAME_MAX + 1], rel[300];
	struct stat before, after;
	DIR *d;
	struct dirent *de;
	int n, tmp_entries = 0;

	(void)state;
	assert_int_equal(cache_snapshot_create(cache, "s1", &st, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(stat(cache, &before), 0);
	/* After the snapshot: a version goes, another comes, and state grows. */
	assert_int_equal(unlink(strcat(strcpy(rel, cache), "/example.com/m/@v/v1.0.0.zip")), 0);
	put("example.com/m/@v/v2.0.0.mod", "module example.com/m/v2\n");
	put(".sums/example.com/m/@v/v2.0.0.mod", "h1:new\n");
	put(".quarantine/20260102T000000Z-1-2.json", "{}");

	assert_int_equal(cache_snapshot_restore(cache, "nope", 0, pre, sizeof(pre), &st, NULL, NULL,
	                                        err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "no snapshot nope"));
	assert_int_equal(cache_snapshot_restore(cache, "s1", 0, pre, sizeof(pre), &st, NULL, NULL,
	                                        err, sizeof(err)),
	                 0);
	assert_int_equal(st.objects, 8);
	/* The cache path names another folder now: the staged one. */
	assert_int_equal(stat(cache, &after), 0);
	assert_true(before.st_ino != after.st_ino);

	/* The snapshot's tree, hard-linked. */
	assert_string_equal(get("example.com/m/@v/v1.0.0.zip"), "PK-zip-bytes");
	assert_true(inode(".snapshots/s1/example.com/m/@v/v1.0.0.zip") ==
	            inode("example.com/m/@v/v1.0.0.zip"));
	assert_false(exists("example.com/m/@v/v2.0.0.mod"));
	/* State never rolls back. */
	assert_string_equal(get(".sums/example.com/m/@v/v2.0.0.mod"), "h1:new\n");
	assert_string_equal(get(".sums/example.com/m/@v/v1.0.0.zip"), "h1:zip\n");
	assert_string_equal(get(".sumdb/sum.golang.org/tree"), "tree 1\n");
	assert_true(exists(".quarantine/20260102T000000Z-1-2.json"));
	assert_true(exists(".quarantine/20260101T000000Z-1-1.json"));
	/* An empty .tmp, the lock, no staging folder left beside the cache. */
	d = opendir(strcat(strcpy(rel, cache), "/.tmp"));
	assert_non_null(d);
	while ((de = readdir(d)))
		tmp_entries += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(tmp_entries, 0);
	assert_true(exists(".lock"));
	d = opendir(top);
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_null(strstr(de->d_name, ".restore-"));
	closedir(d);

	/* The tree replaced is a snapshot, and can be restored in turn. */
	assert_int_equal(strncmp(pre, "pre-restore-", 12), 0);
	snprintf(rel, sizeof(rel), ".snapshots/%s/example.com/m/@v/v2.0.0.mod", pre);
	assert_string_equal(get(rel), "module example.com/m/v2\n");
	snprintf(rel, sizeof(rel), ".snapshots/%s/.sums", pre);
	assert_false(exists(rel));
	n = cache_snapshot_list(cache, &list, err, sizeof(err));
	assert_int_equal(n, 2);
	assert_string_equal(list[1].name[0] == 's' ? list[1].name : list[0].name, "s1");
	assert_int_equal(strcmp(list[0].name, pre) == 0 ? list[0].objects : list[1].objects, 8);
	free(list);

	assert_int_equal(cache_snapshot_restore(cache, pre, 0, pre, sizeof(pre), &st, NULL, NULL,
	                                        err, sizeof(err)),
	                 0);
	assert_string_equal(get("example.com/m/@v/v2.0.0.mod"), "module example.com/m/v2\n");
	assert_false(exists("example.com/m/@v/v1.0.0.zip"));
	assert_string_equal(get(".sums/example.com/m/@v/v2.0.0.mod"), "h1:new\n");
}

/* The restore as a user who may write the cache but not its parent: 0
 * when it was refused with the reason, else a code saying what went wrong.
 * As root, in a child that becomes nobody (root writes anywhere). */
static int restore_without_parent(void)
{
	struct cache_tool_stats st;
	char err[512], pre[CACHE_SNAPSHOT_NAME_MAX + 1];
	int status, rc;
	pid_t pid;

	if (geteuid() != 0) {
		if (chmod(top, 0555) < 0)
			return 10;
		rc = cache_snapshot_restore(cache, "s1", 0, pre, sizeof(pre), &st, NULL, NULL, err,
		                            sizeof(err));
		chmod(top, 0700);
		return rc == -1 && strstr(err, "must be writable") ? 0 : 11;
	}
	if (chmod(top, 0755) < 0 || tree_give_nobody(cache) != 0)
		return 12;
	pid = fork();
	if (pid < 0)
		return 13;
	if (pid == 0) {
		if (setgid(TREE_NOBODY) < 0 || setuid(TREE_NOBODY) < 0)
			_exit(14);
		rc = cache_snapshot_restore(cache, "s1", 0, pre, sizeof(pre), &st, NULL, NULL, err,
		                            sizeof(err));
		if (rc != -1 || !strstr(err, "must be writable")) {
			fprintf(stderr, "restore as nobody: %d %s\n", rc, err);
			_exit(15);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 16;
	return WEXITSTATUS(status);
}

/* The staging folder goes beside the cache: an unwritable parent is
 * refused up front, with the reason, and the live cache is untouched. */
static void test_restore_parent_unwritable(void **state)
{
	struct cache_tool_stats st;
	char err[512];
	struct stat before, after;
	DIR *d;
	struct dirent *de;

	(void)state;
	assert_int_equal(cache_snapshot_create(cache, "s1", &st, NULL, NULL, err, sizeof(err)), 0);
	put("example.com/m/@v/v2.0.0.mod", "module example.com/m/v2\n");
	assert_int_equal(stat(cache, &before), 0);
	assert_int_equal(restore_without_parent(), 0);
	assert_int_equal(stat(cache, &after), 0);
	assert_true(before.st_ino == after.st_ino);
	assert_string_equal(get("example.com/m/@v/v2.0.0.mod"), "module example.com/m/v2\n");
	assert_string_equal(get(".sums/example.com/m/@v/v1.0.0.zip"), "h1:zip\n");
	assert_true(exists(".snapshots/s1/example.com/m/@v/v1.0.0.zip"));
	d = opendir(top);
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_null(strstr(de->d_name, ".restore-"));
	closedir(d);
}

/* A cache that is the root of the file system has no parent to stage in;
 * bad names and missing caches are refused before anything is touched. */
static void test_restore_refused(void **state)
{
	struct cache_tool_stats st;
	char err[512], pre[CACHE_SNAPSHOT_NAME_MAX + 1], missing[400];

	(void)state;
	assert_int_equal(cache_snapshot_restore("/", "s1", 0, pre, sizeof(pre), &st, NULL, NULL,
	                                        err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "parent"));
	assert_int_equal(cache_snapshot_restore(cache, "../cache", 0, pre, sizeof(pre), &st, NULL,
	                                        NULL, err, sizeof(err)),
	                 -1);
	assert_int_equal(cache_snapshot_restore(cache, ".snapshots", 0, pre, sizeof(pre), &st, NULL,
	                                        NULL, err, sizeof(err)),
	                 -1);
	snprintf(missing, sizeof(missing), "%s/none", top);
	assert_int_equal(cache_snapshot_restore(missing, "s1", 0, pre, sizeof(pre), &st, NULL, NULL,
	                                        err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "none"));
	assert_int_equal(cache_snapshot_create(missing, "s1", &st, NULL, NULL, err, sizeof(err)),
	                 -1);
	assert_true(exists("example.com/m/@v/v1.0.0.zip"));
	assert_false(exists(".snapshots"));
}

/* A store opened before a restore serves the restored tree once it checks,
 * and a temp file written before the switch still commits. */
static void test_store_follows_restore(void **state)
{
	struct cache_tool_stats st;
	struct cache_stat cst;
	struct cache_store *s;
	char err[512], pre[CACHE_SNAPSHOT_NAME_MAX + 1], name[128];
	int fd, tfd;

	(void)state;
	s = cache_store_open(cache, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(cache_store_check_root(s, err, sizeof(err)), 0);
	assert_int_equal(cache_snapshot_create(cache, "s1", &st, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(cache_purge(cache, "example.com/m", NULL, NULL, NULL, err, sizeof(err)),
	                 6);
	tfd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	assert_true(tfd >= 0);
	assert_int_equal(write(tfd, "late", 4), 4);

	assert_int_equal(cache_snapshot_restore(cache, "s1", 0, pre, sizeof(pre), &st, NULL, NULL,
	                                        err, sizeof(err)),
	                 0);
	/* Still the old tree, where the module was purged. */
	fd = cache_open(s, "example.com/m/@v/v1.0.0.mod", &cst);
	assert_int_equal(fd, -1);
	assert_int_equal(cache_store_check_root(s, err, sizeof(err)), 1);
	assert_int_equal(cache_store_check_root(s, err, sizeof(err)), 0);
	fd = cache_open(s, "example.com/m/@v/v1.0.0.mod", &cst);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(
	    cache_commit(s, tfd, name, "example.com/late/@v/v1.0.0.mod", 1, err, sizeof(err)),
	    CACHE_COMMITTED);
	close(tfd);
	assert_string_equal(get("example.com/late/@v/v1.0.0.mod"), "late");
	cache_store_free(s);
}

/* The tools' lock excludes another holder, and a restore keeps it the
 * same file, so a tool waiting on the old tree excludes one on the new. */
static void test_tool_lock(void **state)
{
	struct cache_tool_stats st;
	char err[512], pre[CACHE_SNAPSHOT_NAME_MAX + 1], path[400];
	ino_t before;
	int fd, other;

	(void)state;
	fd = cache_tool_lock(cache, err, sizeof(err));
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/.lock", cache);
	other = open(path, O_RDONLY);
	assert_true(other >= 0);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), -1);
	assert_int_equal(errno, EWOULDBLOCK);
	close(fd);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	close(other);

	before = inode(".lock");
	assert_int_equal(cache_snapshot_create(cache, "s1", &st, NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(cache_snapshot_restore(cache, "s1", 0, pre, sizeof(pre), &st, NULL, NULL,
	                                        err, sizeof(err)),
	                 0);
	assert_true(inode(".lock") == before);

	snprintf(path, sizeof(path), "%s/none", top);
	assert_int_equal(cache_tool_lock(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "none"));
}

static int n_removed;

static void on_removed(void *arg, const char *rel)
{
	(void)arg;
	(void)rel;
	n_removed++;
}

static void test_purge_version(void **state)
{
	char err[512];

	(void)state;
	n_removed = 0;
	assert_int_equal(
	    cache_purge(cache, "example.com/m", "v1.0.0", on_removed, NULL, err, sizeof(err)), 3);
	assert_int_equal(n_removed, 3);
	assert_false(exists("example.com/m/@v/v1.0.0.info"));
	assert_false(exists("example.com/m/@v/v1.0.0.mod"));
	assert_false(exists("example.com/m/@v/v1.0.0.zip"));
	assert_true(exists("example.com/m/@v/v1.1.0.mod"));
	assert_true(exists("example.com/m/@v/list"));
	assert_true(exists("example.com/m/@latest"));
	assert_string_equal(get(".sums/example.com/m/@v/v1.0.0.zip"), "h1:zip\n");
	/* Again: nothing left to remove. */
	assert_int_equal(
	    cache_purge(cache, "example.com/m", "v1.0.0", on_removed, NULL, err, sizeof(err)), 0);
}

static void test_purge_module(void **state)
{
	char err[512];

	(void)state;
	n_removed = 0;
	assert_int_equal(
	    cache_purge(cache, "example.com/m", NULL, on_removed, NULL, err, sizeof(err)), 6);
	assert_int_equal(n_removed, 6);
	assert_false(exists("example.com/m/@v"));
	assert_false(exists("example.com/m/@latest"));
	/* The nested module and the pins stay. */
	assert_true(exists("example.com/m/sub/@v/v0.1.0.mod"));
	assert_string_equal(get(".sums/example.com/m/@v/v1.0.0.mod"), "h1:mod\n");

	/* Empty folders go once the last module below them does. */
	assert_int_equal(
	    cache_purge(cache, "example.com/m/sub", NULL, on_removed, NULL, err, sizeof(err)), 1);
	assert_false(exists("example.com"));
	assert_true(exists("sumdb/sum.golang.org/lookup/x"));
}

static void test_purge_escaped(void **state)
{
	char err[512];

	(void)state;
	put("github.com/!azure/x/@v/v1.0.0.mod", "module github.com/Azure/x\n");
	assert_int_equal(
	    cache_purge(cache, "github.com/Azure/x", "v1.0.0", NULL, NULL, err, sizeof(err)), 1);
	assert_false(exists("github.com/!azure/x/@v/v1.0.0.mod"));
}

static void test_purge_refused(void **state)
{
	char err[512];

	(void)state;
	assert_int_equal(cache_purge(cache, "../etc", NULL, NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(
	    cache_purge(cache, ".sums/example.com", NULL, NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(
	    cache_purge(cache, "sumdb/sum.golang.org", NULL, NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(
	    cache_purge(cache, "example.com/m", "../../x", NULL, NULL, err, sizeof(err)), -1);
	assert_int_equal(cache_purge(cache, "example.com/m", "", NULL, NULL, err, sizeof(err)), -1);
	assert_true(exists("example.com/m/@v/v1.0.0.zip"));
	assert_true(exists(".sums/example.com/m/@v/v1.0.0.zip"));
	assert_true(exists("sumdb/sum.golang.org/lookup/x"));
	/* A module never cached: nothing removed, not an error. */
	assert_int_equal(cache_purge(cache, "example.org/none", NULL, NULL, NULL, err, sizeof(err)),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_check),
	    cmocka_unit_test_setup_teardown(test_snapshot_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore_parent_unwritable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_follows_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tool_lock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_module, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_escaped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_purge_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
