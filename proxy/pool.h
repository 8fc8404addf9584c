/*
 * pool — the upstreams at run time, and the walk one request takes through
 * them.
 *
 * Every distinct upstream URL is one struct upstream with one breaker,
 * however many pools name it. A pool is a weighted set of upstreams
 * (primaries, then backups), picked by smooth weighted round robin — the
 * interleaving nginx uses, so weights 3:1 give a b a a, never a burst. With no
 * [pool] sections the GOPROXY chain is one more pool, walked in order with the
 * go command's separators: after ',' only 404/410 move on; after '|' any
 * failure does.
 *
 * A walk answers "which upstream next?" for one request: each upstream at
 * most once, skipping those whose breaker refuses, with retries after a
 * failure limited by the pool's retry budget.
 *
 * A pool set is one generation of the configuration: it holds its own copy
 * of the struct config it was built from and never changes after
 * pool_set_new, so a reload builds a new set and swaps a pointer. Sets are
 * reference-counted: the server holds the current one, and every flight
 * (and request that names an upstream) holds the set it started with, so a
 * walk's pool and member pointers stay valid until it ends. Upstreams are
 * reference-counted too and shared between generations by URL: an
 * upstream that is still configured keeps its breaker, drain flag and
 * counters across a reload, and late outcomes of old flights land on the
 * same breaker the new set consults.
 *
 * Ownership: the server owns its reference to the current set; walks are
 * embedded in flights. Loop thread only. Time is passed in (monotonic
 * milliseconds).
 */
#ifndef MODGATE_POOL_H
#define MODGATE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "breaker/breaker.h"
#include "breaker/budget.h"
#include "proxy/config-t.h"

#define POOL_MAX_UPSTREAMS (CONFIG_MAX_POOLS * CONFIG_MAX_POOL_UPSTREAMS + CONFIG_MAX_UPSTREAMS)
#define POOL_MAX_MEMBERS                                                                           \
	(CONFIG_MAX_POOL_UPSTREAMS > CONFIG_MAX_UPSTREAMS ? CONFIG_MAX_POOL_UPSTREAMS              \
	                                                  : CONFIG_MAX_UPSTREAMS)

/* Latency buckets: upper bounds 1, 2, 4 ... 2^(n-2) ms, then everything. */
#define POOL_LATENCY_BUCKETS 20

struct upstream {
	int refs; /* pool sets that hold it */
	char url[CONFIG_URL_MAX];
	char shown[CONFIG_URL_MAX]; /* url without credentials, for logs and bodies */
	/* Sent with every request to this upstream; NULL for none, else
	 * &cred_value (a copy, so it outlives the config it came from; a
	 * reload replaces it). Never printed: admin and logs show
	 * cred->source. */
	const struct config_cred *cred;
	struct config_cred cred_value;
	struct breaker breaker;
	int drained;       /* an operator took it out of rotation; in-flight work finishes */
	uint64_t requests; /* attempts started */
	uint64_t failures; /* attempts that counted against the breaker */
	uint64_t answers;  /* any other end: 200, 404, 410, 403 ... */
	uint64_t latency[POOL_LATENCY_BUCKETS]; /* time to response headers */
};

struct pool_member {
	struct upstream *up; /* NULL for a chain's direct/off entry */
	enum config_upstream_kind kind;
	int weight;
	int backup;
	int fallthrough_any; /* chain: '|' after this entry */
	int current;         /* smooth weighted round robin state */
};

struct pool {
	char name[40];
	int chain; /* the GOPROXY chain: ordered, separators matter */
	struct pool_member members[POOL_MAX_MEMBERS];
	int n;
	enum config_on_open on_open;
	int hedge_ms; /* metadata: ask a second upstream after this long; 0: never */
	struct budget budget;
};

struct pool_set {
	int refs;
	struct upstream *ups[POOL_MAX_UPSTREAMS]; /* each held once by this set */
	int n_ups;
	struct pool pools[CONFIG_MAX_POOLS + 1]; /* the last one used is the chain */
	int n_pools;
	struct pool *chain; /* NULL when [pool] sections are configured */
	struct config cfg;  /* the generation's settings; never changed */
};

/* Builds the run-time upstreams and pools of cfg (copied into the set),
 * with one reference for the caller. prev (borrowed; NULL at start) is the
 * set being replaced: an upstream whose URL it also has is taken over —
 * same object, breaker state, drain flag and counters — with the new
 * credential and breaker settings. seed feeds new breakers' jitter. NULL
 * with err filled on failure (prev is then untouched). */
struct pool_set *pool_set_new(const struct config *cfg, const struct pool_set *prev, uint64_t seed,
                              char *err, size_t errlen);

/* Takes one more reference to s and returns s. */
struct pool_set *pool_set_ref(struct pool_set *s);

/* Drops one reference; the last frees the set and the upstreams no other
 * set holds. NULL is a no-op. */
void pool_set_unref(struct pool_set *s);

enum pool_route {
	POOL_ROUTE_POOL,   /* *pool is set */
	POOL_ROUTE_DIRECT, /* the route says direct */
	POOL_ROUTE_OFF,    /* the route says off */
	POOL_ROUTE_NONE,   /* no route matches */
};

/* Where module's requests go. */
enum pool_route pool_route(struct pool_set *s, const char *module, struct pool **pool);

struct pool_walk {
	struct pool *pool;
	uint64_t tried; /* bit i: member i was tried or refused by its breaker */
	int attempts;
	int failed;   /* the last attempt failed (not an answer) */
	int chain_at; /* chain: next entry to consider */
	int chain_stop;
};

enum pool_next {
	POOL_NEXT_UPSTREAM,  /* try *member; *permit must be recorded or released */
	POOL_NEXT_EXHAUSTED, /* every usable upstream was tried */
	POOL_NEXT_OPEN,      /* upstreams remain, but their breakers refuse */
	POOL_NEXT_BUDGET,    /* a retry after a failure was refused by the budget */
	POOL_NEXT_STOP,      /* chain: a failure before ',' ends the walk */
	POOL_NEXT_DIRECT,    /* chain: "direct" reached */
	POOL_NEXT_OFF,       /* chain: "off" reached */
};

/* Starts a walk through pool. */
void pool_walk_init(struct pool_walk *w, struct pool *pool);

/* The next upstream to try. failed says how the previous attempt ended
 * (1: a failure, 0: an answer such as 404, or no previous attempt). */
enum pool_next pool_walk_next(struct pool_walk *w, int failed, int64_t now,
                              struct pool_member **member, struct breaker_permit *permit);

/* Milliseconds until the first of the pool's open breakers turns half-open
 * (for Retry-After); -1 when none will by itself (forced open, or none open). */
int64_t pool_retry_after_ms(struct pool *p, int64_t now);

/* One line naming each upstream of the pool and its breaker state, for a
 * 503 body: "a: open (retry in 4.2s), b: half-open". */
void pool_describe(struct pool *p, int64_t now, char *buf, size_t len);

/* Counts one attempt's time to its response headers. */
void pool_observe_latency(struct upstream *up, int64_t ms);

/* The q-quantile (0 < q <= 1) of observed latencies, as the upper bound of
 * its bucket in ms; 0 when nothing was observed. */
int64_t pool_latency_quantile(const struct upstream *up, double q);

/* May the walk send anything to up now (not drained, breaker not open)? */
int pool_upstream_usable(struct upstream *up, int64_t now);

/* Smooth weighted round robin over members[0..n) for which eligible[i] is
 * set: the index picked, or -1 if none is eligible. Pure; exported for tests. */
int pool_swrr_pick(struct pool_member *members, int n, const int *eligible);

#endif
