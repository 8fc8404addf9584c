/*
 * budget — the retry budget (see budget.h for the arithmetic).
 *
 * The ring holds BUDGET_BUCKETS_MAX slots but uses n_buckets of them; second
 * s lives in slot s % n_buckets and the slot remembers which second it holds,
 * so a slot whose second has gone by is recognised and reused without any
 * sweeping: reading the window is one pass over at most 60 slots, which is
 * nothing next to the transfer a retry starts.
 */
#include "breaker/budget.h"

#include "proxy/errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int budget_config_check(double ratio, int min_per_sec, int64_t ttl_ms, char *err, size_t errlen)
{
	/* Written so that NaN fails too. */
	if (!(ratio >= 0.0 && ratio <= BUDGET_RATIO_MAX)) {
		errbuf_set(err, errlen, "retry budget: ratio (%g) must be between 0 and %g", ratio,
		           BUDGET_RATIO_MAX);
		return -1;
	}
	if (min_per_sec < 0 || min_per_sec > BUDGET_MIN_PER_SEC_MAX) {
		errbuf_set(err, errlen, "retry budget: min_per_sec (%d) must be between 0 and %d",
		           min_per_sec, BUDGET_MIN_PER_SEC_MAX);
		return -1;
	}
	if (ttl_ms < 1 || ttl_ms > BUDGET_TTL_MAX_MS) {
		errbuf_set(err, errlen, "retry budget: ttl_ms (%lld) must be between 1 and %d",
		           (long long)ttl_ms, BUDGET_TTL_MAX_MS);
		return -1;
	}
	return 0;
}

int budget_init(struct budget *b, double ratio, int min_per_sec, int64_t ttl_ms)
{
	memset(b, 0, sizeof(*b));
	if (budget_config_check(ratio, min_per_sec, ttl_ms, NULL, 0) < 0)
		return -1; /* n_buckets == 0: every retry refused */
	b->n_buckets = (int)((ttl_ms + 999) / 1000);
	b->ratio_pm = (int64_t)(ratio * 1000.0 + 0.5);
	b->reserve = (int64_t)min_per_sec * b->n_buckets;
	for (int i = 0; i < BUDGET_BUCKETS_MAX; i++)
		b->buckets[i].sec = INT64_MIN;
	return 0;
}

/* now_ms / 1000 rounded down, negative times included. */
static int64_t second_of(int64_t now)
{
	return now >= 0 ? now / 1000 : -((-now + 999) / 1000);
}

/* The slot for now's second, emptied first if it held an older second. */
static struct budget_bucket *current(struct budget *b, int64_t now)
{
	int64_t sec = second_of(now);
	int64_t i = sec % b->n_buckets;
	struct budget_bucket *k = &b->buckets[i < 0 ? i + b->n_buckets : i];

	if (k->sec != sec) {
		k->sec = sec;
		k->deposits = 0;
		k->withdrawals = 0;
	}
	return k;
}

/* Sums the buckets of the window ending with now's second: seconds in
 * (sec - n_buckets, sec]. A slot holding a later second (the caller's clock
 * went backwards) is left out rather than trusted. */
static void window(const struct budget *b, int64_t now, int64_t *deposits, int64_t *withdrawals)
{
	int64_t sec = second_of(now);

	*deposits = 0;
	*withdrawals = 0;
	for (int i = 0; i < b->n_buckets; i++) {
		const struct budget_bucket *k = &b->buckets[i];

		if (k->sec > sec - b->n_buckets && k->sec <= sec) {
			*deposits += k->deposits;
			*withdrawals += k->withdrawals;
		}
	}
}

/* Retries still allowed in the window: floor((d * ratio_pm) / 1000) +
 * reserve - w, never negative. Equivalent to the test in budget.h. */
static int64_t available(const struct budget *b, int64_t d, int64_t w)
{
	int64_t a = d * b->ratio_pm / 1000 + b->reserve - w;

	return a > 0 ? a : 0;
}

void budget_deposit(struct budget *b, int64_t now)
{
	if (b->n_buckets == 0)
		return;
	current(b, now)->deposits++;
	b->deposits_total++;
}

int budget_try_withdraw(struct budget *b, int64_t now)
{
	int64_t d, w;

	if (b->n_buckets == 0) {
		b->refused_total++;
		return 0;
	}
	window(b, now, &d, &w);
	if (available(b, d, w) < 1) {
		b->refused_total++;
		return 0;
	}
	current(b, now)->withdrawals++;
	b->retries_total++;
	return 1;
}

void budget_counters(const struct budget *b, int64_t now, struct budget_counters *out)
{
	memset(out, 0, sizeof(*out));
	out->deposits = b->deposits_total;
	out->retries = b->retries_total;
	out->refused = b->refused_total;
	if (b->n_buckets == 0)
		return;
	window(b, now, &out->window_deposits, &out->window_retries);
	out->available = available(b, out->window_deposits, out->window_retries);
}
