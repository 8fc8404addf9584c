/*
 * metrics — counters for /metrics (Prometheus text format, on the admin
 * listener): requests by endpoint kind and status, cache results, bytes
 * served, single-flight joins, and from the pool set the upstreams'
 * requests, outcomes, latency histograms and breaker states.
 *
 * Ownership: the server embeds the counters. Loop thread only.
 */
#ifndef MODGATE_METRICS_H
#define MODGATE_METRICS_H

#include <stdint.h>

struct evbuffer;
struct pool_set;
struct cache_store;

enum metrics_kind {
	METRICS_LIST,
	METRICS_INFO,
	METRICS_MOD,
	METRICS_ZIP,
	METRICS_LATEST,
	METRICS_SUMDB,
	METRICS_OTHER,
	METRICS_KINDS
};

#define METRICS_DURATION_BUCKETS 15 /* 14 bounds from 1 ms to 60 s, and +Inf */

#define METRICS_CODES 12 /* the 11 statuses modgate answers, and "other" */

enum metrics_cache { METRICS_HIT, METRICS_MISS, METRICS_STALE, METRICS_NEGATIVE, METRICS_CACHE };

/* Why a request was refused without asking an upstream. */
enum metrics_refusal {
	METRICS_REFUSED_DENY,    /* a [deny] rule (403) */
	METRICS_REFUSED_ALLOW,   /* not on the [allow] list (403) */
	METRICS_REFUSED_OFFLINE, /* offline, and not in the cache (404) */
	METRICS_REFUSALS
};

struct metrics {
	uint64_t requests[METRICS_KINDS][METRICS_CODES];
	/* Time from a request's arrival to its end, per kind: counts per
	 * bucket of metrics_duration_le (not cumulative; the last is +Inf). */
	uint64_t duration[METRICS_KINDS][METRICS_DURATION_BUCKETS];
	uint64_t duration_us_sum[METRICS_KINDS];
	uint64_t cache[METRICS_CACHE];
	uint64_t bytes_served;
	uint64_t refusals[METRICS_REFUSALS];
	uint64_t filtered_versions; /* denied versions left out of @v/list answers */
	int offline;                /* [server] offline: shown as a gauge */
};

/* Counts one finished request: its URL path (for the kind), status, the
 * X-Modgate-Cache value it carried (NULL if none), body bytes sent and how
 * long it took, in microseconds. */
void metrics_request(struct metrics *m, const char *path, int status, const char *cache_state,
                     uint64_t bytes, int64_t us);

/* Counts one refusal. */
void metrics_refusal(struct metrics *m, enum metrics_refusal why);

/* Writes every metric, in the Prometheus text exposition format, into out.
 * joins: single-flight joins so far; store: for the disk's free space. */
void metrics_write(const struct metrics *m, struct pool_set *ps, uint64_t joins,
                   uint64_t upstream_requests, struct cache_store *store, int64_t now,
                   struct evbuffer *out);

#endif
