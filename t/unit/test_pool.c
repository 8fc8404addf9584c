/* Unit tests for proxy/pool: smooth weighted round robin, walks through
 * pools and the GOPROXY chain, breakers and the retry budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proxy/config.h"
#include "proxy/pool.h"

#include <stdio.h>
#include <string.h>

static struct config cfg;
static struct pool_set *set;

static void load(const char *ini)
{
	char err[512];

	config_init_defaults(&cfg);
	if (config_load_string(&cfg, ini, "t.ini", err, sizeof(err)) < 0)
		fail_msg("config: %s", err);
	pool_set_unref(set);
	set = pool_set_new(&cfg, NULL, 42, err, sizeof(err));
	if (!set)
		fail_msg("pool_set_new: %s", err);
}

static void test_swrr_follows_weights_without_bursts(void **state)
{
	struct pool_member m[3] = {{.weight = 5}, {.weight = 1}, {.weight = 1}};
	int eligible[3] = {1, 1, 1};
	int counts[3] = {0, 0, 0};
	int seq[7], i, run = 0, longest = 0, prev = -1;

	(void)state;
	/* nginx's example: weights 5,1,1 give a a b a c a a. */
	for (i = 0; i < 7; i++)
		seq[i] = pool_swrr_pick(m, 3, eligible);
	assert_int_equal(seq[0], 0);
	assert_int_equal(seq[1], 0);
	assert_int_equal(seq[2], 1);
	assert_int_equal(seq[3], 0);
	assert_int_equal(seq[4], 2);
	assert_int_equal(seq[5], 0);
	assert_int_equal(seq[6], 0);
	for (i = 0; i < 10000; i++) {
		int p = pool_swrr_pick(m, 3, eligible);

		counts[p]++;
		run = p == prev ? run + 1 : 1;
		prev = p;
		if (run > longest)
			longest = run;
	}
	/* 10,000 picks: exact shares, up to rounding at the cycle's edge. */
	assert_in_range(counts[0], 7142 - 5, 7142 + 5);
	assert_in_range(counts[1], 1428 - 5, 1428 + 5);
	assert_in_range(counts[2], 1428 - 5, 1428 + 5);
	/* a a b a c a a | a a b ...: at most 4 in a row across cycles, where
	 * plain weighted round robin gives 5 (a a a a a b c). */
	assert_true(longest <= 4);
	/* Ineligible members are skipped; none eligible gives -1. */
	eligible[0] = 0;
	for (i = 0; i < 100; i++)
		assert_int_not_equal(pool_swrr_pick(m, 3, eligible), 0);
	eligible[1] = eligible[2] = 0;
	assert_int_equal(pool_swrr_pick(m, 3, eligible), -1);
}

static void test_chain_separators(void **state)
{
	struct pool_walk w;
	struct pool_member *m;
	struct breaker_permit p;
	struct pool *pool;

	(void)state;
	load("[upstream]\nproxy = http://a.example|http://b.example,http://c.example,direct\n");
	assert_int_equal(pool_route(set, "x.example/m", &pool), POOL_ROUTE_POOL);
	assert_true(pool->chain);
	pool_walk_init(&w, pool);
	assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_UPSTREAM);
	assert_string_equal(m->up->url, "http://a.example");
	breaker_record(&m->up->breaker, &p, BREAKER_FAILURE, 10, 1000);
	/* '|' after a: a failure moves on. */
	assert_int_equal(pool_walk_next(&w, 1, 1000, &m, &p), POOL_NEXT_UPSTREAM);
	assert_string_equal(m->up->url, "http://b.example");
	breaker_record(&m->up->breaker, &p, BREAKER_FAILURE, 10, 1000);
	/* ',' after b: a failure ends the walk. */
	assert_int_equal(pool_walk_next(&w, 1, 1000, &m, &p), POOL_NEXT_STOP);

	/* A 404 moves on after either separator, to direct at the end. */
	pool_walk_init(&w, pool);
	assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_UPSTREAM);
	breaker_record(&m->up->breaker, &p, BREAKER_SUCCESS, 10, 1000);
	assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_UPSTREAM);
	breaker_record(&m->up->breaker, &p, BREAKER_SUCCESS, 10, 1000);
	assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_UPSTREAM);
	assert_string_equal(m->up->url, "http://c.example");
	breaker_record(&m->up->breaker, &p, BREAKER_SUCCESS, 10, 1000);
	assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_DIRECT);

	load("[upstream]\nproxy = off\n");
	pool_route(set, "x.example/m", &pool);
	pool_walk_init(&w, pool);
	assert_int_equal(pool_walk_next(&w, 0, 0, &m, &p), POOL_NEXT_OFF);
}

static void trip(struct upstream *up, int64_t now)
{
	struct breaker_permit p;
	int i;

	for (i = 0; i < 100 && breaker_state(&up->breaker, now) != BREAKER_OPEN; i++) {
		assert_true(breaker_allow(&up->breaker, now, &p));
		breaker_record(&up->breaker, &p, BREAKER_FAILURE, 1, now);
	}
	assert_int_equal(breaker_state(&up->breaker, now), BREAKER_OPEN);
}

static void test_chain_open_breaker(void **state)
{
	struct pool_walk w;
	struct pool_member *m;
	struct breaker_permit p;
	struct pool *pool;
	char desc[300];

	(void)state;
	load("[upstream]\nproxy = http://a.example|http://b.example,http://c.example\n");
	pool_route(set, "x.example/m", &pool);
	trip(pool->members[0].up, 1000);
	/* a is open and '|' follows it: b without an attempt on a. */
	pool_walk_init(&w, pool);
	assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_UPSTREAM);
	assert_string_equal(m->up->url, "http://b.example");
	breaker_release(&m->up->breaker, &p);
	/* b open too, ',' after it: OPEN, with a time to come back. */
	trip(pool->members[1].up, 1000);
	pool_walk_init(&w, pool);
	assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_OPEN);
	assert_in_range(pool_retry_after_ms(pool, 1000), 1, 60000);
	pool_describe(pool, 1000, desc, sizeof(desc));
	assert_non_null(strstr(desc, "http://a.example: open (retry in"));
	assert_non_null(strstr(desc, "http://c.example: closed"));
}

static const char *two_pools = "[pool \"public\"]\n"
                               "upstream = http://a.example weight=3\n"
                               "upstream = http://b.example weight=1\n"
                               "upstream = http://spare.example backup\n"
                               "[pool \"corp\"]\n"
                               "upstream = http://athens.example\n"
                               "upstream = http://a.example\n"
                               "[route]\n"
                               "corp.example/* = corp\n"
                               "corp.example/public/* = public\n"
                               "private.example = off\n"
                               "git.example = direct\n"
                               "* = public\n";

static void test_routes_and_shared_upstreams(void **state)
{
	struct pool *pool;

	(void)state;
	load(two_pools);
	assert_int_equal(pool_route(set, "corp.example/team/x", &pool), POOL_ROUTE_POOL);
	assert_string_equal(pool->name, "corp");
	assert_int_equal(pool_route(set, "corp.example/public/x", &pool), POOL_ROUTE_POOL);
	assert_string_equal(pool->name, "public");
	assert_int_equal(pool_route(set, "github.com/x/y", &pool), POOL_ROUTE_POOL);
	assert_string_equal(pool->name, "public");
	assert_int_equal(pool_route(set, "private.example/x", &pool), POOL_ROUTE_OFF);
	assert_int_equal(pool_route(set, "git.example/x", &pool), POOL_ROUTE_DIRECT);
	/* a.example is in both pools: one upstream, one breaker. */
	assert_int_equal(set->n_ups, 4);
	assert_ptr_equal(set->pools[0].members[0].up, set->pools[1].members[1].up);
}

static void test_pool_walk_weights_backups_budget(void **state)
{
	struct pool_walk w;
	struct pool_member *m;
	struct breaker_permit p;
	struct pool *pool;
	int a = 0, b = 0, i;

	(void)state;
	load(two_pools);
	pool_route(set, "github.com/x/y", &pool);
	/* First attempts follow the weights 3:1; the backup gets none. */
	for (i = 0; i < 400; i++) {
		pool_walk_init(&w, pool);
		assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_UPSTREAM);
		assert_false(m->backup);
		if (strcmp(m->up->url, "http://a.example") == 0)
			a++;
		else
			b++;
		breaker_record(&m->up->breaker, &p, BREAKER_SUCCESS, 1, 1000);
	}
	assert_int_equal(a, 300);
	assert_int_equal(b, 100);
	/* A 404 walk asks every primary once, then the backup, then ends. */
	pool_walk_init(&w, pool);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_UPSTREAM);
		assert_int_equal(m->backup, i == 2);
		breaker_record(&m->up->breaker, &p, BREAKER_SUCCESS, 1, 1000);
	}
	assert_int_equal(pool_walk_next(&w, 0, 1000, &m, &p), POOL_NEXT_EXHAUSTED);
	/* Both primaries open: the backup serves; all open: OPEN. */
	trip(pool->members[0].up, 2000);
	trip(pool->members[1].up, 2000);
	pool_walk_init(&w, pool);
	assert_int_equal(pool_walk_next(&w, 0, 2000, &m, &p), POOL_NEXT_UPSTREAM);
	assert_string_equal(m->up->url, "http://spare.example");
	breaker_record(&m->up->breaker, &p, BREAKER_SUCCESS, 1, 2000);
	trip(pool->members[2].up, 2000);
	pool_walk_init(&w, pool);
	assert_int_equal(pool_walk_next(&w, 0, 2000, &m, &p), POOL_NEXT_OPEN);

	/* The retry budget: with every first attempt failing, retries stop
	 * once they pass the budget (20% plus a floor of 3/s over 10 s). */
	load("[pool \"p\"]\nupstream = http://x.example\nupstream = http://y.example\n"
	     "retry_budget = 20%\nretry_min_per_sec = 3\n[breaker]\nfailures = 0\nfailure_rate = "
	     "0%\n"
	     "slow_rate = 0%\n");
	pool = &set->pools[0];
	{
		int retries = 0, refused = 0;

		for (i = 0; i < 1000; i++) {
			pool_walk_init(&w, pool);
			assert_int_equal(pool_walk_next(&w, 0, 5000, &m, &p), POOL_NEXT_UPSTREAM);
			breaker_record(&m->up->breaker, &p, BREAKER_FAILURE, 1, 5000);
			switch (pool_walk_next(&w, 1, 5000, &m, &p)) {
			case POOL_NEXT_UPSTREAM:
				retries++;
				breaker_record(&m->up->breaker, &p, BREAKER_FAILURE, 1, 5000);
				break;
			case POOL_NEXT_BUDGET:
				refused++;
				break;
			default:
				fail_msg("unexpected walk result");
			}
		}
		assert_in_range(retries, 200, 200 + 30 + 5);
		assert_int_equal(retries + refused, 1000);
	}
}

static struct upstream *up_named(struct pool_set *s, const char *url)
{
	int i;

	for (i = 0; i < s->n_ups; i++)
		if (strcmp(s->ups[i]->url, url) == 0)
			return s->ups[i];
	return NULL;
}

/* A reload builds a new set from the old one: an upstream still configured
 * is the same object (open breaker, drain flag, forced mode, counters and
 * permits in flight carry over) with the new settings; a new one starts
 * closed; the old set stays usable until its last reference goes. */
static void test_reload_carries_upstreams_over(void **state)
{
	struct config next;
	struct pool_set *old, *cur;
	struct upstream *a, *b, *c;
	struct breaker_permit held, p;
	struct pool_walk w;
	struct pool_member *m;
	char err[512];
	int i;

	(void)state;
	load("[breaker]\nfailures = 3\nopen = 10s\n"
	     "[pool \"p\"]\nupstream = http://a.example weight=3\n"
	     "upstream = http://b.example\nupstream = http://d.example\n");
	old = pool_set_ref(set);
	a = up_named(old, "http://a.example");
	b = up_named(old, "http://b.example");
	c = up_named(old, "http://d.example");
	/* a trips open; b is drained; d is forced closed; a holds one more
	 * permit in flight when the reload comes. */
	for (i = 0; i < 3; i++) {
		assert_true(breaker_allow(&a->breaker, 1000, &p));
		breaker_record(&a->breaker, &p, BREAKER_FAILURE, 5, 1000);
	}
	assert_int_equal(breaker_state(&a->breaker, 1000), BREAKER_OPEN);
	b->drained = 1;
	b->requests = 7;
	breaker_set_mode(&c->breaker, BREAKER_FORCED_CLOSED);
	assert_true(breaker_allow(&c->breaker, 1000, &held));

	config_init_defaults(&next);
	if (config_load_string(&next,
	                       "[breaker]\nfailures = 5\nopen = 10s\n"
	                       "[pool \"p\"]\nupstream = http://a.example\n"
	                       "upstream = http://b.example weight=2\n"
	                       "upstream = http://c.example backup\n"
	                       "upstream = http://d.example\n",
	                       "t2.ini", err, sizeof(err)) < 0)
		fail_msg("config: %s", err);
	cur = pool_set_new(&next, old, 7, err, sizeof(err));
	if (!cur)
		fail_msg("pool_set_new: %s", err);
	/* Same objects, same state, new settings. */
	assert_ptr_equal(up_named(cur, "http://a.example"), a);
	assert_ptr_equal(up_named(cur, "http://b.example"), b);
	assert_ptr_equal(up_named(cur, "http://d.example"), c);
	assert_int_equal(breaker_state(&a->breaker, 2000), BREAKER_OPEN);
	assert_true(breaker_ms_until_half_open(&a->breaker, 2000) > 0);
	assert_int_equal(a->breaker.cfg.consecutive_failures, 5);
	assert_int_equal(b->drained, 1);
	assert_int_equal(b->requests, 7);
	assert_int_equal(breaker_mode(&c->breaker), BREAKER_FORCED_CLOSED);
	assert_int_equal(cur->pools[0].members[1].weight, 2);
	assert_int_equal(old->pools[0].members[0].weight, 3);
	/* The new upstream starts closed; a walk of the new set skips open a
	 * and drained b, so d (primary) answers, then backup c. */
	assert_int_equal(breaker_state(&up_named(cur, "http://c.example")->breaker, 2000),
	                 BREAKER_CLOSED);
	pool_walk_init(&w, &cur->pools[0]);
	assert_int_equal(pool_walk_next(&w, 0, 2000, &m, &p), POOL_NEXT_UPSTREAM);
	assert_string_equal(m->up->url, "http://d.example");
	breaker_release(&m->up->breaker, &p);
	assert_int_equal(pool_walk_next(&w, 0, 2000, &m, &p), POOL_NEXT_UPSTREAM);
	assert_string_equal(m->up->url, "http://c.example");
	breaker_release(&m->up->breaker, &p);
	/* The old generation's walk still works, and the permit from before
	 * the reload lands on the breaker the new set consults. */
	pool_walk_init(&w, &old->pools[0]);
	assert_int_equal(pool_walk_next(&w, 0, 2000, &m, &p), POOL_NEXT_UPSTREAM);
	assert_ptr_equal(m->up, c);
	breaker_release(&m->up->breaker, &p);
	assert_int_equal(breaker_record(&c->breaker, &held, BREAKER_SUCCESS, 5, 2000), 0);
	pool_set_unref(old); /* the set of load() */
	pool_set_unref(old); /* our reference: freed now; cur's upstreams live on */
	assert_string_equal(up_named(cur, "http://a.example")->shown, "http://a.example");
	set = cur;
}

/* Settings a reload refuses leave the running set untouched. */
static void test_reload_refused_changes_nothing(void **state)
{
	struct config next;
	struct pool_set *cur;
	char err[512];

	(void)state;
	load("[pool \"p\"]\nupstream = http://a.example\n");
	next = cfg;
	next.breaker.window_size = 0; /* breaker_config_check refuses it */
	cur = pool_set_new(&next, set, 1, err, sizeof(err));
	assert_null(cur);
	assert_non_null(strstr(err, "window_size"));
	assert_int_equal(set->ups[0]->refs, 1);
	assert_int_equal(set->ups[0]->breaker.cfg.window_size, cfg.breaker.window_size);
}

static int teardown(void **state)
{
	(void)state;
	pool_set_unref(set);
	set = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_swrr_follows_weights_without_bursts),
	    cmocka_unit_test(test_chain_separators),
	    cmocka_unit_test(test_chain_open_breaker),
	    cmocka_unit_test(test_routes_and_shared_upstreams),
	    cmocka_unit_test(test_pool_walk_weights_backups_budget),
	    cmocka_unit_test(test_reload_carries_upstreams_over),
	    cmocka_unit_test(test_reload_refused_changes_nothing),
	};

	return cmocka_run_group_tests_name("pool", tests, NULL, teardown);
}
