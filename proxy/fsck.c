/*
 * fsck — the cache re-checked, a few files at a time.
 *
 * The walk lists every <module>/@v/<version>.mod|.zip below the root
 * (modgate's dot-folders and the proxied checksum database are not module
 * objects), then keeps FSCK_PARALLEL checks running on a private event loop
 * until the list is done.
 */
#include "proxy/fsck.h"

#include "cache/negcache.h"
#include "cache/snapshot.h"
#include "cache/store.h"
#include "proxy/fetch.h"
#include "proxy/flight.h"
#include "proxy/log.h"
#include "proxy/modpath.h"
#include "proxy/pool.h"
#include "proxy/strmap.h"
#include "proxy/verify.h"
#include "proxy/worker.h"

#include "sumdb/dirhash.h"
#include "sumdb/zipcheck.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <event2/event.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FSCK_PARALLEL 4

struct fsck {
	struct event_base *base;
	struct flight_env env;
	char **rels;
	size_t n, cap, next, done;
	int running;
	int tty;
	int64_t last_progress;
	unsigned long counts[VERIFY_FILE_UNCHECKED + 1];
	unsigned long skipped;
};

/* nftw has no argument pointer. */
static struct fsck *walking;
static size_t root_len;

static int on_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	const char *rel = path + root_len, *base = path + ftw->base;
	size_t len = strlen(rel);
	struct fsck *k = walking;
	char **grown;

	(void)sb;
	if (ftw->level == 0)
		return FTW_CONTINUE;
	/* No module path element starts with a dot: those are modgate's. */
	if (type == FTW_D && (base[0] == '.' || (ftw->level == 1 && strcmp(base, "sumdb") == 0)))
		return FTW_SKIP_SUBTREE;
	if (type != FTW_F || len < 9 || !strstr(rel, "/@v/") ||
	    (strcmp(rel + len - 4, ".mod") != 0 && strcmp(rel + len - 4, ".zip") != 0))
		return FTW_CONTINUE;
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 256;
		grown = realloc(k->rels, k->cap * sizeof(*k->rels));
		if (!grown)
			return FTW_STOP;
		k->rels = grown;
	}
	if (!(k->rels[k->n] = strdup(rel)))
		return FTW_STOP;
	k->n++;
	return FTW_CONTINUE;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned long findings(const struct fsck *k)
{
	return k->counts[VERIFY_FILE_BAD] + k->counts[VERIFY_FILE_UNCHECKED];
}

static void progress(struct fsck *k, int last)
{
	int64_t now = now_ms();

	if (!k->tty || (!last && now - k->last_progress < 100))
		return;
	k->last_progress = now;
	fprintf(stderr, "\rfsck: %zu/%zu checked, %lu findings%s", k->done, k->n, findings(k),
	        last ? "\n" : "");
	fflush(stderr);
}

static void pump(struct fsck *k);

static void on_checked(void *arg, const struct verify_file_result *r)
{
	char **slot = arg;
	struct fsck *k = walking;
	static const char *const names[] = {
	    [VERIFY_FILE_BAD] = "QUARANTINED",
	    [VERIFY_FILE_UNCHECKED] = "UNCHECKED",
	};

	k->counts[r->status]++;
	if (r->status == VERIFY_FILE_BAD || r->status == VERIFY_FILE_UNCHECKED) {
		if (k->tty)
			fputs("\r\033[K", stderr);
		printf("%s %s: %s\n", names[r->status], *slot, r->message);
		fflush(stdout);
	}
	k->done++;
	k->running--;
	progress(k, 0);
	pump(k);
}

static void pump(struct fsck *k)
{
	struct modpath_req mp;
	char path[FLIGHT_REL_MAX + 2], err[300];
	int status;

	while (k->running < FSCK_PARALLEL && k->next < k->n) {
		char **slot = &k->rels[k->next++];

		snprintf(path, sizeof(path), "/%s", *slot);
		if (modpath_parse_request(path, &mp, &status, err, sizeof(err)) < 0 ||
		    !mp.canonical) {
			/* Not a file modgate would have committed. */
			k->skipped++;
			k->done++;
			continue;
		}
		if (verify_file(k->env.verify, *slot, &mp, on_checked, slot) < 0) {
			k->counts[VERIFY_FILE_UNCHECKED]++;
			printf("UNCHECKED %s: could not start the check (gone, or out of memory)\n",
			       *slot);
			k->done++;
			continue;
		}
		k->running++;
	}
	if (k->running == 0 && k->next == k->n)
		event_base_loopexit(k->base, NULL);
}

int fsck_run(const struct config *cfg)
{
	struct fsck k = {0};
	char err[1024];
	int rc = 2, lock_fd = -1;
	int64_t start = now_ms();

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "modgate fsck: cannot initialise libcurl\n");
		return 2;
	}
	k.tty = isatty(2);
	k.base = event_base_new();
	k.env.base = k.base;
	k.env.pools =
	    k.base ? pool_set_new(cfg, NULL, (uint64_t)time(NULL), err, sizeof(err)) : NULL;
	if (!k.env.pools)
		goto out;
	k.env.cfg = &k.env.pools->cfg;
	k.env.store = cache_store_open(cfg->cache_dir, err, sizeof(err));
	if (!k.env.store)
		goto out;
	/* Not beside a restore: its moves would land in the tree swapped out. */
	if ((lock_fd = cache_tool_lock(cfg->cache_dir, err, sizeof(err))) < 0)
		goto out;
	k.env.neg = cache_neg_new(1000);
	k.env.flights = strmap_new();
	k.env.fetch = fetch_ctx_new(k.base);
	k.env.workers = worker_pool_new(k.base, cfg->workers);
	if (!k.env.neg || !k.env.flights || !k.env.fetch || !k.env.workers) {
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	k.env.verify = verify_new(&k.env, err, sizeof(err));
	if (!k.env.verify)
		goto out;

	walking = &k;
	root_len = strlen(cfg->cache_dir);
	while (root_len > 1 && cfg->cache_dir[root_len - 1] == '/')
		root_len--;
	root_len++; /* and the '/' after it */
	if (nftw(cfg->cache_dir, on_entry, 32, FTW_PHYS | FTW_ACTIONRETVAL) != 0) {
		snprintf(err, sizeof(err), "cannot walk %.900s (or out of memory)", cfg->cache_dir);
		goto out;
	}
	pump(&k);
	if (k.running > 0)
		event_base_dispatch(k.base);
	progress(&k, 1);
	printf("fsck: %zu objects in %lld ms: %lu ok, %lu recorded now, %lu pinned now, "
	       "%lu quarantined, %lu unchecked, %lu skipped\n",
	       k.n, (long long)(now_ms() - start), k.counts[VERIFY_FILE_OK],
	       k.counts[VERIFY_FILE_RECORDED], k.counts[VERIFY_FILE_PINNED],
	       k.counts[VERIFY_FILE_BAD], k.counts[VERIFY_FILE_UNCHECKED], k.skipped);
	rc = findings(&k) ? 1 : 0;
out:
	if (rc == 2)
		fprintf(stderr, "modgate fsck: %s\n", err);
	if (k.env.flights)
		flight_cancel_all(&k.env);
	verify_close(k.env.verify);
	if (k.env.workers)
		worker_pool_free(k.env.workers);
	verify_free(k.env.verify);
	if (k.env.fetch)
		fetch_ctx_free(k.env.fetch);
	if (k.env.flights)
		strmap_free(k.env.flights);
	if (k.env.neg)
		cache_neg_free(k.env.neg);
	if (k.env.store)
		cache_store_free(k.env.store);
	if (lock_fd >= 0)
		close(lock_fd);
	pool_set_unref(k.env.pools);
	for (size_t i = 0; i < k.n; i++)
		free(k.rels[i]);
	free(k.rels);
	if (k.base) {
		event_base_loop(k.base, EVLOOP_NONBLOCK);
		event_base_free(k.base);
	}
	curl_global_cleanup();
	walking = NULL;
	return rc;
}

int fsck_hash(int argc, char **argv)
{
	int rc = 0;

	for (int i = 0; i < argc; i++) {
		char h1[SUMDB_H1_LEN + 1], err[400], magic[4] = {0};
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		struct stat st;
		char *buf = NULL;
		int ok = -1;

		if (fd < 0 || fstat(fd, &st) < 0) {
			snprintf(err, sizeof(err), "%s", strerror(errno));
		} else if (pread(fd, magic, 4, 0) == 4 && memcmp(magic, "PK\003\004", 4) == 0) {
			ok = sumdb_hash_zip_fd(fd, h1, err, sizeof(err));
		} else if (st.st_size > SUMDB_ZIP_MAX_GOMOD) {
			snprintf(err, sizeof(err), "neither a zip nor a go.mod (%lld bytes)",
			         (long long)st.st_size);
		} else if (!(buf = malloc(st.st_size ? st.st_size : 1)) ||
		           pread(fd, buf, st.st_size, 0) != st.st_size) {
			snprintf(err, sizeof(err), "cannot read it");
		} else {
			ok = sumdb_hash_gomod(buf, (size_t)st.st_size, h1, err, sizeof(err));
		}
		free(buf);
		if (fd >= 0)
			close(fd);
		if (ok == 0) {
			printf("%s  %s\n", h1, argv[i]);
		} else {
			fprintf(stderr, "modgate hash: %s: %s\n", argv[i], err);
			rc = 1;
		}
	}
	return rc;
}
