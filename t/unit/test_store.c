/* Unit tests for cache/store, cache/negcache, proxy/strmap and proxy/worker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cache/negcache.h"
#include "cache/store.h"
#include "proxy/strmap.h"
#include "proxy/worker.h"

#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char root[256];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/modgate-test-store.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void write_all(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void read_rel(struct cache_store *s, const char *rel, char *buf, size_t len)
{
	struct cache_stat st;
	int fd = cache_open(s, rel, &st);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_int_equal(st.size, n);
	close(fd);
}

static struct cache_store *open_store(const char *sub)
{
	char path[300], err[256];
	struct cache_store *s;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	s = cache_store_open(path, err, sizeof(err));
	if (!s)
		fail_msg("cache_store_open: %s", err);
	return s;
}

static void test_commit_creates_goproxy_tree(void **state)
{
	struct cache_store *s = open_store("c1/deep");
	char name[96], err[256], buf[64], path[400];
	int fd;

	(void)state;
	fd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	assert_true(fd >= 0);
	assert_true(strncmp(name, ".tmp/", 5) == 0);
	write_all(fd, "module example.com/m\n");
	assert_int_equal(
	    cache_commit(s, fd, name, "example.com/!m/@v/v1.0.0.mod", 1, err, sizeof(err)),
	    CACHE_COMMITTED);
	close(fd);
	read_rel(s, "example.com/!m/@v/v1.0.0.mod", buf, sizeof(buf));
	assert_string_equal(buf, "module example.com/m\n");
	/* A plain file in the GOPROXY layout, nothing left in .tmp. */
	snprintf(path, sizeof(path), "%s/c1/deep/example.com/!m/@v/v1.0.0.mod", root);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/c1/deep/.tmp", root);
	assert_int_equal(count_entries(path), 0);
	cache_store_free(s);
}

static void test_immutable_never_overwritten(void **state)
{
	struct cache_store *s = open_store("c2");
	char name[96], err[256], buf[64];
	int fd;

	(void)state;
	fd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	write_all(fd, "first");
	assert_int_equal(cache_commit(s, fd, name, "m/@v/v1.0.0.info", 1, err, sizeof(err)),
	                 CACHE_COMMITTED);
	close(fd);
	fd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	write_all(fd, "second");
	assert_int_equal(cache_commit(s, fd, name, "m/@v/v1.0.0.info", 1, err, sizeof(err)),
	                 CACHE_EXISTS);
	close(fd);
	read_rel(s, "m/@v/v1.0.0.info", buf, sizeof(buf));
	assert_string_equal(buf, "first");
	/* Mutable objects are replaced. */
	fd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	write_all(fd, "v1.0.0\n");
	assert_int_equal(cache_commit(s, fd, name, "m/@v/list", 0, err, sizeof(err)),
	                 CACHE_COMMITTED);
	close(fd);
	fd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	write_all(fd, "v1.0.0\nv1.1.0\n");
	assert_int_equal(cache_commit(s, fd, name, "m/@v/list", 0, err, sizeof(err)),
	                 CACHE_COMMITTED);
	close(fd);
	read_rel(s, "m/@v/list", buf, sizeof(buf));
	assert_string_equal(buf, "v1.0.0\nv1.1.0\n");
	cache_store_free(s);
}

static void test_missing_and_symlink_are_misses(void **state)
{
	struct cache_store *s = open_store("c3");
	struct cache_stat st;
	char link[420], dir[400];

	(void)state;
	assert_int_equal(cache_open(s, "nope/@v/list", &st), -1);
	/* A symlink planted in the cache never leads outside it. */
	snprintf(dir, sizeof(dir), "%s/c3/m", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/c3/m/@v", root);
	mkdir(dir, 0755);
	snprintf(link, sizeof(link), "%s/list", dir);
	assert_int_equal(symlink("/etc/passwd", link), 0);
	assert_int_equal(cache_open(s, "m/@v/list", &st), -1);
	/* A folder is not an object. */
	assert_int_equal(cache_open(s, "m/@v", &st), -1);
	cache_store_free(s);
}

/* atime of root/rel. */
static time_t atime_of(const char *rel)
{
	char path[600];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_atime;
}

/* fsck reads through cache_open_noatime: its reads leave atime alone, so
 * `modgate prune` does not count a check as a use. A client's read
 * (cache_open) moves it, where the mount records reads at all. */
static void test_open_noatime(void **state)
{
	struct cache_store *s = open_store("c9");
	struct cache_stat st;
	struct timespec ts[2] = {{time(NULL) - 10 * 86400, 0}, {time(NULL) - 10 * 86400, 0}};
	char name[96], err[256], buf[16], path[600];
	time_t before;
	int fd;

	(void)state;
	fd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	write_all(fd, "PK-zip");
	assert_int_equal(cache_commit(s, fd, name, "m/@v/v1.0.0.zip", 1, err, sizeof(err)),
	                 CACHE_COMMITTED);
	close(fd);
	snprintf(path, sizeof(path), "%s/c9/m/@v/v1.0.0.zip", root);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	before = atime_of("c9/m/@v/v1.0.0.zip");

	fd = cache_open_noatime(s, "m/@v/v1.0.0.zip", &st);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	close(fd);
	assert_true(atime_of("c9/m/@v/v1.0.0.zip") == before);

	fd = cache_open(s, "m/@v/v1.0.0.zip", &st);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	close(fd);
	if (atime_of("c9/m/@v/v1.0.0.zip") == before)
		print_message("note: %s is on a mount that does not record reads (noatime)\n",
		              root);
	assert_int_equal(cache_open_noatime(s, "m/@v/none.zip", &st), -1);
	cache_store_free(s);
}

static void test_leftover_temp_files_removed_at_open(void **state)
{
	struct cache_store *s = open_store("c4");
	char name[96], err[256], path[400];
	int fd;

	(void)state;
	fd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	write_all(fd, "half a zip");
	close(fd);
	cache_store_free(s);
	snprintf(path, sizeof(path), "%s/c4/.tmp", root);
	assert_int_equal(count_entries(path), 1);
	s = open_store("c4");
	assert_int_equal(count_entries(path), 0);
	cache_store_free(s);
}

static void test_discard_and_unwritable_root(void **state)
{
	struct cache_store *s = open_store("c5");
	char name[96], err[256], path[400];
	int fd;

	(void)state;
	fd = cache_temp_create(s, name, sizeof(name), err, sizeof(err));
	close(fd);
	cache_temp_discard(s, name);
	snprintf(path, sizeof(path), "%s/c5/.tmp", root);
	assert_int_equal(count_entries(path), 0);
	cache_store_free(s);
	/* A path through a regular file cannot be a cache. */
	snprintf(path, sizeof(path), "%s/file", root);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	snprintf(path, sizeof(path), "%s/file/cache", root);
	assert_null(cache_store_open(path, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot create cache directory"));
}

static void test_health(void **state)
{
	struct cache_store *s = open_store("c6");
	char why[512], path[400];

	(void)state;
	assert_int_equal(cache_store_health(s, 0, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "writable"));
	/* No file system is more than 100% free. */
	assert_int_equal(cache_store_health(s, 101, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "free"));
	snprintf(path, sizeof(path), "%s/c6/.tmp", root);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(cache_store_health(s, 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "not writable"));
	cache_store_free(s);
}

static void test_negcache_ttl_and_bounds(void **state)
{
	struct cache_neg *n = cache_neg_new(2);
	const struct cache_neg_entry *e;

	(void)state;
	cache_neg_put(n, "a/@v/v9.info", 404, "not found: a@v9\nsecond line", 100, 60);
	e = cache_neg_get(n, "a/@v/v9.info", 159);
	assert_non_null(e);
	assert_int_equal(e->status, 404);
	assert_string_equal(e->body, "not found: a@v9");
	assert_null(cache_neg_get(n, "a/@v/v9.info", 160));
	assert_int_equal(cache_neg_len(n), 0);
	/* ttl 0 stores nothing */
	cache_neg_put(n, "x", 410, "gone", 100, 0);
	assert_null(cache_neg_get(n, "x", 100));
	/* full: expired entries make room, live ones are kept */
	cache_neg_put(n, "p", 404, "p", 100, 10);
	cache_neg_put(n, "q", 404, "q", 100, 100);
	cache_neg_put(n, "r", 404, "r", 105, 10);
	assert_null(cache_neg_get(n, "r", 105));
	cache_neg_put(n, "r", 404, "r", 111, 10);
	assert_non_null(cache_neg_get(n, "r", 111));
	assert_non_null(cache_neg_get(n, "q", 111));
	cache_neg_forget(n, "q");
	assert_null(cache_neg_get(n, "q", 111));
	/* a reload forgets everything; the cache is usable afterwards */
	cache_neg_clear(n);
	assert_int_equal(cache_neg_len(n), 0);
	assert_null(cache_neg_get(n, "r", 111));
	cache_neg_put(n, "s", 404, "s", 111, 10);
	assert_non_null(cache_neg_get(n, "s", 111));
	cache_neg_free(n);
}

static int sweep_odd(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	return (int)(intptr_t)value % 2;
}

static void test_strmap(void **state)
{
	struct strmap *m = strmap_new();
	char key[32];
	intptr_t i;

	(void)state;
	for (i = 1; i <= 1000; i++) {
		snprintf(key, sizeof(key), "k%ld", (long)i);
		assert_int_equal(strmap_put(m, key, (void *)i), 0);
	}
	assert_int_equal(strmap_len(m), 1000);
	assert_ptr_equal(strmap_get(m, "k777"), (void *)777);
	assert_null(strmap_get(m, "k0"));
	assert_int_equal(strmap_put(m, "k777", (void *)7770), 0);
	assert_int_equal(strmap_len(m), 1000);
	assert_ptr_equal(strmap_del(m, "k777"), (void *)7770);
	assert_null(strmap_del(m, "k777"));
	strmap_sweep(m, sweep_odd, NULL);
	assert_int_equal(strmap_len(m), 500); /* the 499 odd ones left after k777 went */
	assert_null(strmap_get(m, "k1"));
	assert_ptr_equal(strmap_get(m, "k2"), (void *)2);
	strmap_free(m);
}

struct job {
	int in, out, done_on_loop;
	struct event_base *base;
	int *remaining;
};

static void job_run(void *arg)
{
	struct job *j = arg;

	j->out = j->in * 2;
}

static void job_done(void *arg)
{
	struct job *j = arg;

	j->done_on_loop = 1;
	if (--*j->remaining == 0)
		event_base_loopexit(j->base, NULL);
}

static void test_worker_results_come_back_on_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct worker_pool *p = worker_pool_new(base, 3);
	struct job jobs[50];
	int i, remaining = 50;

	(void)state;
	assert_non_null(p);
	for (i = 0; i < 50; i++) {
		jobs[i] = (struct job){.in = i, .base = base, .remaining = &remaining};
		assert_int_equal(worker_submit(p, job_run, job_done, &jobs[i]), 0);
	}
	assert_int_equal(worker_pending(p), 50);
	event_base_dispatch(base);
	assert_int_equal(remaining, 0);
	assert_int_equal(worker_pending(p), 0);
	for (i = 0; i < 50; i++) {
		assert_int_equal(jobs[i].out, 2 * i);
		assert_int_equal(jobs[i].done_on_loop, 1);
	}
	assert_null(worker_pool_new(base, 0));
	worker_pool_free(p);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commit_creates_goproxy_tree),
	    cmocka_unit_test(test_immutable_never_overwritten),
	    cmocka_unit_test(test_missing_and_symlink_are_misses),
	    cmocka_unit_test(test_open_noatime),
	    cmocka_unit_test(test_leftover_temp_files_removed_at_open),
	    cmocka_unit_test(test_discard_and_unwritable_root),
	    cmocka_unit_test(test_health),
	    cmocka_unit_test(test_negcache_ttl_and_bounds),
	    cmocka_unit_test(test_strmap),
	    cmocka_unit_test(test_worker_results_come_back_on_loop),
	};

	return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
