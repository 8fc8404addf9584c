/*
 * metrics — plain counters written on demand; nothing is computed on the
 * request path but an index into a fixed table.
 */
#include "proxy/metrics.h"

#include "cache/store.h"
#include "proxy/pool.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The last slot, 0, stands for every other status. */
static const int codes[METRICS_CODES] = {200, 304, 400, 403, 404, 405, 410, 500, 502, 503, 504, 0};
static const char *kind_names[METRICS_KINDS] = {"list",   "info",  "mod",  "zip",
                                                "latest", "sumdb", "other"};
static const char *cache_names[METRICS_CACHE] = {"hit", "miss", "stale", "negative"};
static const char *refusal_names[METRICS_REFUSALS] = {"deny", "allow", "offline"};

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static enum metrics_kind kind_of(const char *path)
{
	size_t n = path ? strlen(path) : 0;

	if (n == 0)
		return METRICS_OTHER;
	if (strncmp(path, "/sumdb/", 7) == 0)
		return METRICS_SUMDB;
	if (ends_with(path, n, "/@v/list"))
		return METRICS_LIST;
	if (ends_with(path, n, "/@latest"))
		return METRICS_LATEST;
	if (strstr(path, "/@v/")) {
		if (ends_with(path, n, ".info"))
			return METRICS_INFO;
		if (ends_with(path, n, ".mod"))
			return METRICS_MOD;
		if (ends_with(path, n, ".zip"))
			return METRICS_ZIP;
	}
	return METRICS_OTHER;
}

/* The upper bounds of the request duration buckets, in µs: a cache hit
 * lands in the first ones, an upstream fetch in the middle, a deadline or a
 * big zip at the end. */
static const int64_t duration_le_us[METRICS_DURATION_BUCKETS - 1] = {
    1000,   5000,    10000,   25000,   50000,    100000,   250000,
    500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000};

void metrics_request(struct metrics *m, const char *path, int status, const char *cache_state,
                     uint64_t bytes, int64_t us)
{
	int c, i, b, kind = kind_of(path);

	/* The last slot counts every status not in the table. */
	for (c = 0; c < METRICS_CODES - 1 && codes[c] != status; c++)
		;
	m->requests[kind][c]++;
	if (us < 0)
		us = 0;
	for (b = 0; b < METRICS_DURATION_BUCKETS - 1 && us > duration_le_us[b]; b++)
		;
	m->duration[kind][b]++;
	m->duration_us_sum[kind] += (uint64_t)us;
	m->bytes_served += bytes;
	if (!cache_state)
		return;
	for (i = 0; i < METRICS_CACHE; i++) {
		if (strcasecmp(cache_state, cache_names[i]) == 0) {
			m->cache[i]++;
			return;
		}
	}
}

void metrics_refusal(struct metrics *m, enum metrics_refusal why)
{
	m->refusals[why]++;
}

void metrics_write(const struct metrics *m, struct pool_set *ps, uint64_t joins,
                   uint64_t upstream_requests, struct cache_store *store, int64_t now,
                   struct evbuffer *out)
{
	int k, c, i, b;
	char why[512];

	evbuffer_add_printf(out, "# HELP modgate_requests_total Client requests by endpoint kind "
	                         "and status.\n# TYPE modgate_requests_total counter\n");
	for (k = 0; k < METRICS_KINDS; k++) {
		for (c = 0; c < METRICS_CODES; c++) {
			char code[16];

			if (!m->requests[k][c])
				continue;
			if (codes[c])
				snprintf(code, sizeof(code), "%d", codes[c]);
			else
				snprintf(code, sizeof(code), "other");
			evbuffer_add_printf(
			    out, "modgate_requests_total{kind=\"%s\",code=\"%s\"} %llu\n",
			    kind_names[k], code, (unsigned long long)m->requests[k][c]);
		}
	}
	evbuffer_add_printf(out, "# HELP modgate_request_duration_seconds Time from a request's "
	                         "arrival to its end, by endpoint kind.\n"
	                         "# TYPE modgate_request_duration_seconds histogram\n");
	for (k = 0; k < METRICS_KINDS; k++) {
		uint64_t cum = 0;

		for (b = 0; b < METRICS_DURATION_BUCKETS - 1; b++) {
			cum += m->duration[k][b];
			evbuffer_add_printf(
			    out,
			    "modgate_request_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} "
			    "%llu\n",
			    kind_names[k], duration_le_us[b] / 1e6, (unsigned long long)cum);
		}
		cum += m->duration[k][METRICS_DURATION_BUCKETS - 1];
		evbuffer_add_printf(
		    out,
		    "modgate_request_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %llu\n"
		    "modgate_request_duration_seconds_sum{kind=\"%s\"} %.6f\n"
		    "modgate_request_duration_seconds_count{kind=\"%s\"} %llu\n",
		    kind_names[k], (unsigned long long)cum, kind_names[k],
		    m->duration_us_sum[k] / 1e6, kind_names[k], (unsigned long long)cum);
	}
	evbuffer_add_printf(out, "# HELP modgate_cache_results_total How requests were answered.\n"
	                         "# TYPE modgate_cache_results_total counter\n");
	for (i = 0; i < METRICS_CACHE; i++)
		evbuffer_add_printf(out, "modgate_cache_results_total{result=\"%s\"} %llu\n",
		                    cache_names[i], (unsigned long long)m->cache[i]);
	evbuffer_add_printf(out,
	                    "# HELP modgate_served_bytes_total Body bytes sent to clients.\n"
	                    "# TYPE modgate_served_bytes_total counter\n"
	                    "modgate_served_bytes_total %llu\n"
	                    "# HELP modgate_singleflight_joins_total Requests that joined a fetch "
	                    "already running.\n# TYPE modgate_singleflight_joins_total counter\n"
	                    "modgate_singleflight_joins_total %llu\n"
	                    "# HELP modgate_upstream_fetches_total Upstream transfers started.\n"
	                    "# TYPE modgate_upstream_fetches_total counter\n"
	                    "modgate_upstream_fetches_total %llu\n",
	                    (unsigned long long)m->bytes_served, (unsigned long long)joins,
	                    (unsigned long long)upstream_requests);
	evbuffer_add_printf(out, "# HELP modgate_upstream_requests_total Upstream attempts by "
	                         "outcome.\n# TYPE modgate_upstream_requests_total counter\n");
	for (i = 0; i < ps->n_ups; i++) {
		struct upstream *up = ps->ups[i];

		evbuffer_add_printf(
		    out,
		    "modgate_upstream_requests_total{upstream=\"%s\",outcome=\"answer\"} %llu\n",
		    up->shown, (unsigned long long)up->answers);
		evbuffer_add_printf(
		    out,
		    "modgate_upstream_requests_total{upstream=\"%s\",outcome=\"failure\"} %llu\n",
		    up->shown, (unsigned long long)up->failures);
	}
	evbuffer_add_printf(out, "# HELP modgate_upstream_response_seconds Time to an upstream's "
	                         "response headers.\n# TYPE modgate_upstream_response_seconds "
	                         "histogram\n");
	for (i = 0; i < ps->n_ups; i++) {
		struct upstream *up = ps->ups[i];
		uint64_t cum = 0;

		for (b = 0; b < POOL_LATENCY_BUCKETS - 1; b++) {
			cum += up->latency[b];
			evbuffer_add_printf(out,
			                    "modgate_upstream_response_seconds_bucket{upstream=\"%"
			                    "s\",le=\"%g\"} %llu\n",
			                    up->shown, (double)(1LL << b) / 1000.0,
			                    (unsigned long long)cum);
		}
		cum += up->latency[POOL_LATENCY_BUCKETS - 1];
		evbuffer_add_printf(
		    out,
		    "modgate_upstream_response_seconds_bucket{upstream=\"%s\",le=\"+Inf\"} %llu\n"
		    "modgate_upstream_response_seconds_count{upstream=\"%s\"} %llu\n",
		    up->shown, (unsigned long long)cum, up->shown, (unsigned long long)cum);
	}
	evbuffer_add_printf(out, "# HELP modgate_breaker_state 0 closed, 1 half-open, 2 open.\n"
	                         "# TYPE modgate_breaker_state gauge\n");
	for (i = 0; i < ps->n_ups; i++) {
		struct upstream *up = ps->ups[i];
		enum breaker_state st = breaker_state(&up->breaker, now);

		evbuffer_add_printf(out, "modgate_breaker_state{upstream=\"%s\"} %d\n", up->shown,
		                    st == BREAKER_CLOSED      ? 0
		                    : st == BREAKER_HALF_OPEN ? 1
		                                              : 2);
	}
	evbuffer_add_printf(out, "# HELP modgate_breaker_transitions_total Breaker state changes.\n"
	                         "# TYPE modgate_breaker_transitions_total counter\n");
	for (i = 0; i < ps->n_ups; i++) {
		struct breaker_counters bc;

		breaker_counters(&ps->ups[i]->breaker, &bc);
		evbuffer_add_printf(out,
		                    "modgate_breaker_transitions_total{upstream=\"%s\"} %llu\n",
		                    ps->ups[i]->shown, (unsigned long long)bc.transitions);
	}
	evbuffer_add_printf(out,
	                    "# HELP modgate_cache_ready 1 when the cache can take new objects.\n"
	                    "# TYPE modgate_cache_ready gauge\nmodgate_cache_ready %d\n",
	                    cache_store_health(store, 0, why, sizeof(why)) == 0);
	evbuffer_add_printf(out, "# HELP modgate_policy_refusals_total Requests refused by [deny], "
	                         "[allow], or for want of a cached copy while offline.\n"
	                         "# TYPE modgate_policy_refusals_total counter\n");
	for (i = 0; i < METRICS_REFUSALS; i++)
		evbuffer_add_printf(out, "modgate_policy_refusals_total{reason=\"%s\"} %llu\n",
		                    refusal_names[i], (unsigned long long)m->refusals[i]);
	evbuffer_add_printf(out,
	                    "# HELP modgate_policy_filtered_versions_total Denied versions left "
	                    "out of version lists.\n"
	                    "# TYPE modgate_policy_filtered_versions_total counter\n"
	                    "modgate_policy_filtered_versions_total %llu\n"
	                    "# HELP modgate_offline 1 when modgate serves its cache alone.\n"
	                    "# TYPE modgate_offline gauge\nmodgate_offline %d\n",
	                    (unsigned long long)m->filtered_versions, m->offline);
}
