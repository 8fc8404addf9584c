/*
 * budget — a retry budget for one pool: retries may add at most a fraction of
 * the pool's traffic, so a brown-out does not become a retry storm (the idea
 * of Finagle's RetryBudget and Envoy's retry budget).
 *
 * Every first attempt deposits one token, every retry (a failover to the next
 * upstream) withdraws one. Both are kept in a ring of one-second buckets and
 * expire with their bucket, so the budget only remembers the last ttl.
 * A retry is allowed when, counting the second now falls in and the
 * ttl_s - 1 before it (ttl_s = ttl_ms rounded up to whole seconds),
 *
 *     retries + 1  <=  floor(ratio * first_attempts) + min_per_sec * ttl_s
 *
 * computed in integers as
 *
 *     (retries + 1) * 1000  <=  first_attempts * ratio_pm + min_per_sec * ttl_s * 1000
 *
 * with ratio_pm = ratio in thousandths, rounded. So over any such window,
 * retries never exceed ratio x first attempts plus a reserve of
 * min_per_sec x ttl_s: under steady traffic of R first attempts a second,
 * retries settle at ratio x R + min_per_sec a second; a quiet pool can still
 * retry (the reserve), and a burst of failures can spend at most what the
 * window holds. A deposit or withdrawal made at t counts until the start of
 * the second ttl_s seconds after t's, that is for between ttl_s - 1 and
 * ttl_s seconds.
 *
 * Pure code: no I/O, no clock, no allocation, no global state; time is the
 * caller's monotonic clock in milliseconds. The owner (a pool) embeds struct
 * budget and is its only user: loop thread only. Any function may be called
 * from inside a libcurl or libevhtp callback on the loop thread.
 */
#ifndef MODGATE_BUDGET_H
#define MODGATE_BUDGET_H

#include <stddef.h>
#include <stdint.h>

/* Longest ttl: one bucket per second. */
#define BUDGET_BUCKETS_MAX 60
#define BUDGET_TTL_MAX_MS (BUDGET_BUCKETS_MAX * 1000)
/* Largest ratio: ten retries per first attempt is already no budget. */
#define BUDGET_RATIO_MAX 10.0
#define BUDGET_MIN_PER_SEC_MAX 100000

/* Finagle's defaults: 20% extra load, 10 retries a second for a quiet pool,
 * remembered for 10 s. */
#define BUDGET_DEFAULT_RATIO 0.2
#define BUDGET_DEFAULT_MIN_PER_SEC 10
#define BUDGET_DEFAULT_TTL_MS 10000

/* One second of traffic. Private to budget.c. */
struct budget_bucket {
	int64_t sec;         /* which second (now_ms / 1000, rounded down) it holds */
	int64_t deposits;    /* first attempts in that second */
	int64_t withdrawals; /* retries allowed in that second */
};

/* One pool's budget. Fields are private to budget.c: read them through
 * budget_counters(). */
struct budget {
	int64_t ratio_pm; /* retries allowed per 1000 first attempts */
	int64_t reserve;  /* min_per_sec * n_buckets retries */
	int n_buckets;    /* ttl in seconds; 0 = not initialised: refuse every retry */
	struct budget_bucket buckets[BUDGET_BUCKETS_MAX];
	uint64_t deposits_total;
	uint64_t retries_total;
	uint64_t refused_total;
};

/* A snapshot for metrics and the status page. */
struct budget_counters {
	uint64_t deposits; /* first attempts ever */
	uint64_t retries;  /* retries ever allowed */
	uint64_t refused;  /* retries ever refused */
	int64_t window_deposits;
	int64_t window_retries;
	int64_t available; /* retries allowed right now, >= 0 */
};

/* 0 if the arguments are usable: 0 <= ratio <= BUDGET_RATIO_MAX (not NaN),
 * 0 <= min_per_sec <= BUDGET_MIN_PER_SEC_MAX, 1 <= ttl_ms <=
 * BUDGET_TTL_MAX_MS; else -1 with one line in err naming the bad one (err
 * may be NULL; the line is cut to errlen). */
int budget_config_check(double ratio, int min_per_sec, int64_t ttl_ms, char *err, size_t errlen);

/* Starts *b empty. 0; or -1 when the arguments fail budget_config_check, and
 * then *b refuses every retry. ratio = 0 and min_per_sec = 0 together mean
 * "never retry". *b is the caller's (embedded); nothing to free. */
int budget_init(struct budget *b, double ratio, int min_per_sec, int64_t ttl_ms);

/* Counts one first attempt at now (every request the pool sends to its first
 * upstream; not retries, not hedges unless the caller decides so). */
void budget_deposit(struct budget *b, int64_t now);

/* Asks for one retry at now: 1 and the retry is counted, or 0 (refused, and
 * counted as refused). Ask only when a retry would really be sent. */
int budget_try_withdraw(struct budget *b, int64_t now);

/* Fills *out as at now (does not change *b). */
void budget_counters(const struct budget *b, int64_t now, struct budget_counters *out);

#endif
