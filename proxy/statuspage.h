/*
 * statuspage — GET / on the admin listener: one small HTML page, no
 * external assets, refreshing itself every 5 s, showing the pools and
 * upstreams (breaker state, mode, weight, latency, error rate), the cache
 * (size, objects, hit ratio, free disk), verification counters and the
 * newest quarantine records.
 *
 * Loop thread (cheap: the pools in memory, and at most a listing of the
 * quarantine folder plus 10 small JSON files). Every string is escaped.
 */
#ifndef MODGATE_STATUSPAGE_H
#define MODGATE_STATUSPAGE_H

#include <stdint.h>

#include "proxy/verify.h"

#include <stdint.h>
#include <time.h>

struct evbuffer;
struct pool_set;

/* What the server knows beyond the pools; plain data. */
struct statuspage_info {
	const char *cache_dir; /* borrowed */
	int usage_known;       /* the cache has been walked at least once */
	uint64_t cache_bytes, cache_objects;
	int disk_known;
	uint64_t disk_free;
	uint64_t hits, misses, stale, negative;
	struct verify_stats verify;
	int offline;
	const char *version; /* borrowed */
	time_t started;
	unsigned reloads; /* accepted */
	uint64_t reloads_refused;
	time_t last_reload_at; /* 0: none */
	int last_reload_ok;
	time_t tls_not_after; /* the served certificate's expiry; 0: no TLS */
};

/* The newest records this page lists. */
#define STATUSPAGE_QUARANTINE_MAX 10

/* Appends the page to out. ps borrowed; now in monotonic ms. */
void statuspage_write(struct evbuffer *out, struct pool_set *ps, const struct statuspage_info *info,
                      int64_t now);

/* Appends s to out with &, <, >, " and ' escaped. */
void statuspage_escape(struct evbuffer *out, const char *s);

#endif
