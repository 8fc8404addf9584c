/*
 * flight — one upstream fetch per cache object, however many clients ask.
 *
 * The first request for an object that is not in the cache starts a flight;
 * every request for the same object while it runs joins it as a waiter. The
 * flight walks the upstream list (GOPROXY semantics: 404/410 move on; other
 * errors move on only after a '|'), writes a 200 body into one temp file as
 * it arrives, and tells its waiters how far it has got so each can stream
 * the growing file to its client. When the body is complete and
 * length-checked a worker fsyncs and renames it into the cache.
 *
 * Ownership: the loop thread owns every flight. A flight lives while its
 * fetch or commit runs or any waiter is attached, and frees itself after the
 * last of those ends. Waiters are owned by their requests; they must leave
 * before they die. Waiters are notified from a zero-delay event, never from
 * inside flight_join, a libcurl callback or another waiter's notification.
 */
#ifndef MODGATE_FLIGHT_H
#define MODGATE_FLIGHT_H

#include <event2/event.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "proxy/config-t.h"
#include "proxy/modpath.h"
#include "proxy/pool.h"

/* Longest cache path of one object: module, "/@v/", version, suffix. */
#define FLIGHT_REL_MAX (2 * MODPATH_ESC_MAX + 16)

struct fetch_ctx;
struct fetch;
struct cache_store;
struct cache_neg;
struct worker_pool;
struct strmap;
struct direct;
struct direct_req;
struct verify;
struct check;
struct verify_outcome;

/* What every flight needs; owned by the server, borrowed by flights. */
struct flight_env {
	struct event_base *base;
	/* The current generation: cfg is &pools->cfg. A reload swaps both
	 * between two events; a flight holds its own generation (set). */
	const struct config *cfg;
	struct fetch_ctx *fetch;
	struct cache_store *store;
	struct cache_neg *neg;
	struct worker_pool *workers;
	struct strmap *flights;          /* rel -> struct flight *, owned by this module */
	struct pool_set *pools;          /* the upstreams and their breakers (current) */
	struct direct *direct;           /* child go commands; NULL when nothing routes direct */
	struct verify *verify;           /* checks .mod/.zip before commit */
	unsigned long upstream_requests; /* counters, for /metrics */
	unsigned long joins;             /* requests that joined a running flight */
	unsigned long commits;
};

enum flight_state {
	FLIGHT_WAITING,   /* no usable answer yet */
	FLIGHT_STREAMING, /* 200 from an upstream; body arriving in the temp file */
	FLIGHT_COMPLETE,  /* 200; whole, length-checked body in the temp file */
	FLIGHT_FAILED,    /* no body: status and message say why */
};

struct flight_waiter;
typedef void (*flight_notify_fn)(struct flight_waiter *w);

struct flight_waiter {
	flight_notify_fn notify;
	struct flight *flight; /* set by flight_join, NULL after flight_leave */
	TAILQ_ENTRY(flight_waiter) link;
};

/* Waiters may read these fields from their notify callback. */
struct flight {
	enum flight_state state;
	int body_fd;          /* the temp file holding the body so far */
	off_t written;        /* bytes of body in body_fd */
	off_t content_length; /* from the upstream, -1 when not announced */
	int status;           /* FLIGHT_FAILED: the status for the client */
	int retry_after_s;    /* FLIGHT_FAILED with 503: when to come back, 0 if unknown */
	int answered; /* FLIGHT_FAILED: status is an upstream's answer (404/410), not a failure */
	char message[512]; /* FLIGHT_FAILED: one line for the client */

	/* Private to flight.c. */
	struct flight_env *env;
	char rel[FLIGHT_REL_MAX + 1];
	char module[MODPATH_MAX + 1];
	char version[MODPATH_MAX + 1]; /* unescaped; "" for list and latest */
	enum modpath_kind kind;
	struct direct_req *direct; /* the child go command fetching this, if any */
	char request_id[72];       /* of the request that started it, sent upstream */
	int immutable;
	int flags;           /* FLIGHT_F_* */
	struct check *check; /* the verifier's, while it checks the body */
	/* The pool set (config generation) the flight started in, held until
	 * it is freed: walk, member and hedge.member point into it, and a
	 * reload must not free it under them. */
	struct pool_set *set;
	struct pool_walk walk;
	struct pool_member *member;   /* the upstream being tried */
	struct breaker_permit permit; /* its breaker's permit for this attempt */
	int64_t attempt_start;        /* monotonic ms */
	int64_t headers_ms;           /* time to the response headers, -1 before */
	char last_error[1024];        /* the last failure, one line for the client */
	int last_error_timeout;
	struct fetch *fetch;
	char tmp_name[96];
	int http_status;    /* of the current attempt */
	char body_err[512]; /* start of a non-200 body */
	size_t body_err_len;
	int last_answer; /* 404/410 seen from an earlier upstream, else 0 */
	char last_answer_msg[512];
	struct pool_member *answered_by; /* the upstream of last_answer */
	int active;                      /* fetch or commit running: holds a reference */
	int refs;
	struct event *notify_ev;
	struct event *budget_ev; /* the client's wait for a first byte */
	struct event *hedge_ev;  /* when to ask a second upstream (metadata) */
	struct {
		struct fetch *fetch; /* running, or NULL */
		struct pool_member *member;
		struct breaker_permit permit;
		int64_t start, headers_ms;
		long status;
		struct evbuffer *body; /* a 200 body, held in memory */
		int sent;              /* one hedge per flight */
	} hedge;
	int walk_paused;   /* the first attempt ended while the hedge runs */
	int paused_failed; /* ... and how: try_next's failed argument */
	TAILQ_HEAD(, flight_waiter) waiters;
};

/* flight_join flags. */
enum {
	FLIGHT_F_IMMUTABLE = 1, /* never replaced once committed */
	FLIGHT_F_NO_COMMIT = 2, /* never committed (checksum database answers: the
	                           verifier caches what it has proven) */
	FLIGHT_F_VERIFY = 4,    /* downloaded whole, verified, committed, and only
	                           then shown to waiters (.mod and .zip) */
};

/* Attaches w to the flight for rel (escaped cache path of module), starting
 * one through pool (borrowed, from env->pools; NULL: straight to the origin
 * through env->direct) if none runs. mp names the object; request_id (copied)
 * goes upstream with its transfers. flags: FLIGHT_F_*. w is borrowed until
 * flight_leave. 0, or -1 if no flight could be created (out of memory);
 * w->notify then never runs. Loop thread; safe from inside libevhtp
 * callbacks. */
int flight_join(struct flight_env *env, struct pool *pool, const struct modpath_req *mp,
                const char *rel, int flags, const char *request_id, struct flight_waiter *w);

/* The verifier's verdict on f's body (see proxy/verify.h): OK shows the
 * committed bytes to the waiters; BAD counts against the upstream and tries
 * the next; REFUSED fails the flight. Loop thread. */
void flight_verified(struct flight *f, const struct verify_outcome *o);

/* The monotonic clock in milliseconds, as breakers and walks count time. */
int64_t flight_now_ms(void);

/* The same clock in microseconds, for durations shorter than a few ms. */
int64_t flight_now_us(void);

/* Detaches w. The flight keeps running for the cache if others need it or
 * its fetch is still going. Idempotent. Loop thread, also from inside w's
 * own notify callback. */
void flight_leave(struct flight_waiter *w);

/* Cancels every flight's fetch (waiters are told FAILED) — for shutdown. */
void flight_cancel_all(struct flight_env *env);

#endif
