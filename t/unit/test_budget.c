/*
 * Unit tests for breaker/budget: argument checks, the retry ratio under
 * steady traffic, bursts against an idle and a busy budget, the floor for
 * quiet pools, expiry of deposits and withdrawals, and every decision of a
 * randomised run checked against an independent per-second model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h> /* NAN, INFINITY only: no libm needed */
#include <stdio.h>
#include <string.h>

#include "breaker/budget.h"

static void init_ok(struct budget *b, double ratio, int min_per_sec, int64_t ttl_ms)
{
	char err[256] = "";

	if (budget_config_check(ratio, min_per_sec, ttl_ms, err, sizeof(err)) < 0)
		fail_msg("refused: %s", err);
	assert_int_equal(budget_init(b, ratio, min_per_sec, ttl_ms), 0);
}

static int64_t available(const struct budget *b, int64_t now)
{
	struct budget_counters k;

	budget_counters(b, now, &k);
	return k.available;
}

/* Asks for n retries at now; returns how many were allowed. */
static int withdraw_n(struct budget *b, int64_t now, int n)
{
	int got = 0;

	for (int i = 0; i < n; i++)
		got += budget_try_withdraw(b, now);
	return got;
}

/* ---- arguments ------------------------------------------------------------ */

struct arg_case {
	double ratio;
	int min_per_sec;
	int64_t ttl_ms;
	const char *bad; /* the name err must hold, or NULL if accepted */
};

static void test_check_table(void **state)
{
	const struct arg_case cases[] = {
	    {BUDGET_DEFAULT_RATIO, BUDGET_DEFAULT_MIN_PER_SEC, BUDGET_DEFAULT_TTL_MS, NULL},
	    {0.0, 0, 1, NULL},
	    {BUDGET_RATIO_MAX, BUDGET_MIN_PER_SEC_MAX, BUDGET_TTL_MAX_MS, NULL},
	    {-0.01, 10, 10000, "ratio"},
	    {10.01, 10, 10000, "ratio"},
	    {NAN, 10, 10000, "ratio"},
	    {INFINITY, 10, 10000, "ratio"},
	    {0.2, -1, 10000, "min_per_sec"},
	    {0.2, BUDGET_MIN_PER_SEC_MAX + 1, 10000, "min_per_sec"},
	    {0.2, 10, 0, "ttl_ms"},
	    {0.2, 10, -1000, "ttl_ms"},
	    {0.2, 10, BUDGET_TTL_MAX_MS + 1, "ttl_ms"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct arg_case *t = &cases[i];
		char err[256] = "";
		struct budget b;
		int rc = budget_config_check(t->ratio, t->min_per_sec, t->ttl_ms, err, sizeof(err));

		if (!t->bad) {
			if (rc != 0)
				fail_msg("case %zu refused: %s", i, err);
			assert_int_equal(budget_init(&b, t->ratio, t->min_per_sec, t->ttl_ms), 0);
			continue;
		}
		if (rc != -1)
			fail_msg("case %zu accepted", i);
		if (!strstr(err, t->bad))
			fail_msg("case %zu: \"%s\" does not name %s", i, err, t->bad);
		assert_int_equal(budget_config_check(t->ratio, t->min_per_sec, t->ttl_ms, NULL, 0),
		                 -1);
		/* A refused init leaves a budget that refuses every retry. */
		memset(&b, 0x5a, sizeof(b));
		assert_int_equal(budget_init(&b, t->ratio, t->min_per_sec, t->ttl_ms), -1);
		for (int j = 0; j < 100; j++)
			budget_deposit(&b, 0);
		assert_int_equal(budget_try_withdraw(&b, 0), 0);
		assert_int_equal(available(&b, 0), 0);
	}
}

/* ---- steady traffic ------------------------------------------------------- */

struct steady_case {
	double ratio;
	int min_per_sec;
	int64_t ttl_ms;
	int rps;             /* first attempts a second, every one of them failing */
	double want_per_sec; /* retries a second once the window is full */
};

/* Every first attempt fails and asks for one retry at once. After the first
 * ttl, retries must settle at min(rps, ratio * rps + min_per_sec) a second. */
static void test_steady_ratio_table(void **state)
{
	const struct steady_case cases[] = {
	    {0.2, 0, 10000, 100, 20},   {0.2, 10, 10000, 100, 30}, {0.5, 0, 5000, 10, 5},
	    {0.1, 1, 10000, 1000, 101}, {0.0, 0, 10000, 100, 0},   {1.0, 0, 10000, 50, 50},
	    {1.0, 5, 10000, 50, 50},    {0.05, 0, 30000, 200, 10}, {0.2, 10, 1000, 100, 30},
	    {0.25, 2, 2500, 40, 12},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct steady_case *t = &cases[i];
		struct budget b;
		int64_t retries_late = 0, measured_s = 60, total_s = 120;

		init_ok(&b, t->ratio, t->min_per_sec, t->ttl_ms);
		for (int64_t n = 0; n < total_s * t->rps; n++) {
			int64_t now = n * 1000 / t->rps;
			int ok;

			budget_deposit(&b, now);
			ok = budget_try_withdraw(&b, now);
			if (now >= (total_s - measured_s) * 1000)
				retries_late += ok;
		}
		{
			double got = (double)retries_late / (double)measured_s;
			double tol = t->want_per_sec * 0.02 + 0.5;
			double diff = got - t->want_per_sec;

			if (diff > tol || -diff > tol)
				fail_msg("case %zu: %.2f retries/s, want %.2f", i, got,
				         t->want_per_sec);
		}
	}
}

/* ---- bursts --------------------------------------------------------------- */

static void test_burst_on_idle_budget(void **state)
{
	struct budget b;
	struct budget_counters k;

	(void)state;
	init_ok(&b, 0.2, 10, 10000);
	/* An idle pool holds the reserve only: 10/s over 10 s. */
	assert_int_equal(available(&b, 5000), 100);
	assert_int_equal(withdraw_n(&b, 5000, 1000), 100);
	budget_counters(&b, 5000, &k);
	assert_int_equal(k.retries, 100);
	assert_int_equal(k.refused, 900);
	assert_int_equal(k.available, 0);
	/* Each first attempt earns a fifth of a retry, rounded down. */
	for (int i = 0; i < 4; i++)
		budget_deposit(&b, 5100);
	assert_int_equal(budget_try_withdraw(&b, 5100), 0);
	budget_deposit(&b, 5100);
	assert_int_equal(budget_try_withdraw(&b, 5100), 1);
	for (int i = 0; i < 50; i++)
		budget_deposit(&b, 5200);
	assert_int_equal(withdraw_n(&b, 5200, 100), 10);
}

static void test_burst_after_steady_traffic(void **state)
{
	struct budget b;

	(void)state;
	init_ok(&b, 0.2, 0, 10000);
	/* 100 first attempts a second for 20 s, no retries. */
	for (int64_t n = 0; n < 2000; n++)
		budget_deposit(&b, n * 10);
	/* At 19.999 s the window holds seconds 10..19: 1000 deposits. */
	assert_int_equal(available(&b, 19999), 200);
	assert_int_equal(withdraw_n(&b, 19999, 5000), 200);
	/* The burst spent the window: nothing more until it slides. */
	assert_int_equal(withdraw_n(&b, 20500, 10), 0);
	/* At 29.999 s the burst's withdrawals (second 19) still count; second
	 * 19's deposits too: 100 deposits, 200 withdrawals. */
	assert_int_equal(available(&b, 29999), 0);
	/* At 30 s both are gone: an empty window, no reserve. */
	assert_int_equal(available(&b, 30000), 0);
	budget_deposit(&b, 30000);
	budget_deposit(&b, 30000);
	budget_deposit(&b, 30000);
	budget_deposit(&b, 30000);
	assert_int_equal(budget_try_withdraw(&b, 30000), 0);
	budget_deposit(&b, 30001);
	assert_int_equal(budget_try_withdraw(&b, 30001), 1);
}

/* ---- quiet pools ---------------------------------------------------------- */

static void test_floor_for_quiet_pool(void **state)
{
	struct budget b;
	int got = 0;

	(void)state;
	/* One request every 10 s, each failing: it can always retry. */
	init_ok(&b, 0.2, 1, 10000);
	for (int64_t t = 0; t < 600000; t += 10000) {
		budget_deposit(&b, t);
		assert_int_equal(budget_try_withdraw(&b, t), 1);
	}
	/* Retries with no traffic at all, 3 asked a second for 60 s: the
	 * reserve (10) first, then 1 a second, and never more than 10 in any
	 * 10-second window. */
	init_ok(&b, 0.2, 1, 10000);
	{
		int per_sec[60] = {0};

		for (int64_t t = 0; t < 60000; t += 333) {
			int ok = budget_try_withdraw(&b, t);

			got += ok;
			per_sec[t / 1000] += ok;
		}
		for (int s = 0; s + 10 <= 60; s++) {
			int w = 0;

			for (int j = s; j < s + 10; j++)
				w += per_sec[j];
			assert_true(w <= 10);
		}
	}
	assert_true(got >= 55 && got <= 60);
	/* ratio 0 and no floor: never. */
	init_ok(&b, 0.0, 0, 10000);
	for (int i = 0; i < 1000; i++)
		budget_deposit(&b, i);
	assert_int_equal(withdraw_n(&b, 1000, 10), 0);
}

/* ---- expiry --------------------------------------------------------------- */

static void test_expiry(void **state)
{
	struct budget b;
	struct budget_counters k;

	(void)state;
	init_ok(&b, 0.5, 0, 10000);
	for (int i = 0; i < 100; i++)
		budget_deposit(&b, 0);
	/* Deposits of second 0 count through second 9, gone at 10 s. */
	assert_int_equal(available(&b, 0), 50);
	assert_int_equal(available(&b, 9999), 50);
	assert_int_equal(available(&b, 10000), 0);
	assert_int_equal(budget_try_withdraw(&b, 10000), 0);

	/* Withdrawals expire with their second too. */
	init_ok(&b, 0.5, 0, 10000);
	for (int i = 0; i < 100; i++)
		budget_deposit(&b, 0);
	assert_int_equal(withdraw_n(&b, 0, 60), 50);
	for (int i = 0; i < 10; i++)
		budget_deposit(&b, 5000);
	/* floor(0.5 * 110) - 50 */
	assert_int_equal(available(&b, 5000), 5);
	/* Second 0 gone: second 5 alone, 10 deposits, 0 withdrawals. */
	assert_int_equal(available(&b, 10000), 5);
	budget_counters(&b, 10000, &k);
	assert_int_equal(k.window_deposits, 10);
	assert_int_equal(k.window_retries, 0);
	assert_int_equal(k.deposits, 110);
	assert_int_equal(k.retries, 50);
	assert_int_equal(k.refused, 10);
	assert_int_equal(available(&b, 15000), 0);

	/* A ttl that is not whole seconds is rounded up: 1500 ms = 2 s. */
	init_ok(&b, 1.0, 0, 1500);
	budget_deposit(&b, 0);
	assert_int_equal(available(&b, 1999), 1);
	assert_int_equal(available(&b, 2000), 0);
	/* 1 ms: the current second only. */
	init_ok(&b, 1.0, 0, 1);
	budget_deposit(&b, 999);
	assert_int_equal(available(&b, 999), 1);
	assert_int_equal(available(&b, 1000), 0);
	/* The reserve scales with the rounded ttl too. */
	init_ok(&b, 0.0, 3, 2500);
	assert_int_equal(available(&b, 0), 9);

	/* A slot reused by a later second forgets the earlier one. */
	init_ok(&b, 1.0, 0, 3000);
	budget_deposit(&b, 1000);
	budget_deposit(&b, 4000); /* same slot as second 1 */
	assert_int_equal(available(&b, 4000), 1);
	/* After a long silence, everything is gone at once. */
	assert_int_equal(available(&b, 1000000), 0);
}

/* Clock oddities: negative times work like any other; a slot holding a later
 * second than now (a clock that went back) is not counted. */
static void test_clock_edges(void **state)
{
	struct budget b;

	(void)state;
	init_ok(&b, 1.0, 0, 2000);
	budget_deposit(&b, -1500); /* second -2 */
	assert_int_equal(available(&b, -1), 1);
	assert_int_equal(available(&b, 0), 0);
	init_ok(&b, 1.0, 0, 10000);
	budget_deposit(&b, 5000);
	assert_int_equal(available(&b, 3000), 0);
	assert_int_equal(budget_try_withdraw(&b, 3000), 0);
	assert_int_equal(available(&b, 5000), 1);
}

/* ---- against a model ------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* Random traffic with quiet spells and bursts over 400 s; every withdrawal
 * decision must equal the rule of budget.h evaluated on per-second totals the
 * test keeps itself: (w + 1) * 1000 <= d * ratio_pm + min * ttl_s * 1000
 * over the seconds (now_s - ttl_s, now_s]. */
static void test_matches_model(void **state)
{
	enum { SECS = 400 };
	const struct {
		double ratio;
		int min_per_sec;
		int64_t ttl_ms;
	} cfgs[] = {
	    {0.2, 10, 10000}, {0.1, 0, 5000},  {0.333, 1, 1500},
	    {1.5, 0, 60000},  {0.01, 2, 7000}, {0.2, 0, 1},
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cfgs) / sizeof(cfgs[0]); c++) {
		static int64_t dep[SECS], wd[SECS];
		struct budget b;
		int64_t ttl_s = (cfgs[c].ttl_ms + 999) / 1000;
		int64_t ratio_pm = (int64_t)(cfgs[c].ratio * 1000.0 + 0.5);
		int64_t now = 0, allowed = 0, refused = 0;

		memset(dep, 0, sizeof(dep));
		memset(wd, 0, sizeof(wd));
		init_ok(&b, cfgs[c].ratio, cfgs[c].min_per_sec, cfgs[c].ttl_ms);
		while (now < SECS * 1000) {
			int64_t s = now / 1000, d = 0, w = 0;
			uint32_t phase = (uint32_t)(s / 20) % 4; /* quiet, steady, storm, burst */
			uint32_t op = rnd(100);

			if (op < (phase == 0 ? 10u : phase == 2 ? 30u : 60u)) {
				budget_deposit(&b, now);
				dep[s]++;
			} else if (op < (phase == 2 ? 95u : 80u)) {
				int ok;

				for (int64_t j = s - ttl_s + 1; j <= s; j++)
					if (j >= 0) {
						d += dep[j];
						w += wd[j];
					}
				ok = budget_try_withdraw(&b, now);
				if (ok != ((w + 1) * 1000 <=
				           d * ratio_pm + cfgs[c].min_per_sec * ttl_s * 1000))
					fail_msg("cfg %zu at %lld ms: got %d with d=%lld w=%lld", c,
					         (long long)now, ok, (long long)d, (long long)w);
				wd[s] += ok;
				allowed += ok;
				refused += !ok;
			}
			now += phase == 3 ? (rnd(50) == 0 ? 3000 : 0) : rnd(phase == 0 ? 400 : 15);
		}
		/* Both answers happened, or the run proved little. */
		assert_true(allowed > 100 && refused > 100);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_table),
	    cmocka_unit_test(test_steady_ratio_table),
	    cmocka_unit_test(test_burst_on_idle_budget),
	    cmocka_unit_test(test_burst_after_steady_traffic),
	    cmocka_unit_test(test_floor_for_quiet_pool),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_clock_edges),
	    cmocka_unit_test(test_matches_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
