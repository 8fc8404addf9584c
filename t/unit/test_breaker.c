/*
 * Unit tests for breaker/breaker: the config checks, every transition, the
 * window arithmetic, the exponential cool-down and its cap, jitter bounds
 * over many seeds, half-open probe limits, late outcomes, forced states, and
 * a randomised run that checks the probe-slot and window bookkeeping after
 * every step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "breaker/breaker.h"

/* ---- helpers -------------------------------------------------------------- */

#define FAST_MS 10
#define SLOW_MS 100 /* slow_ms in every config built by plain() */

/* A config with every trigger off, no jitter, one probe, one success: each
 * test turns on only what it looks at. */
static struct breaker_config plain(void)
{
	struct breaker_config c;

	breaker_config_default(&c);
	c.consecutive_failures = 0;
	c.failure_rate_pct = 0;
	c.slow_rate_pct = 0;
	c.slow_ms = SLOW_MS;
	c.jitter_pct = 0;
	c.open_base_ms = 1000;
	c.open_max_ms = 60000;
	c.half_open_probes = 1;
	c.half_open_successes = 1;
	return c;
}

static void init_ok(struct breaker *b, const struct breaker_config *c, uint64_t seed)
{
	char err[256] = "";

	if (breaker_config_check(c, err, sizeof(err)) < 0)
		fail_msg("config refused: %s", err);
	assert_int_equal(breaker_init(b, c, seed), 0);
}

/* One call: allowed (asserted), then recorded. Returns breaker_record's value. */
static int call(struct breaker *b, int64_t now, enum breaker_outcome o, int64_t latency)
{
	struct breaker_permit p;

	if (!breaker_allow(b, now, &p))
		fail_msg("call at %lld refused in state %s", (long long)now,
		         breaker_state_name(b->state));
	return breaker_record(b, &p, o, latency, now);
}

static struct breaker_counters counters(const struct breaker *b)
{
	struct breaker_counters k;

	breaker_counters(b, &k);
	return k;
}

/* Trips a closed breaker with consecutive_failures == 1 at now; returns the
 * cool-down it got. */
static int64_t trip(struct breaker *b, int64_t now)
{
	assert_int_equal(breaker_state(b, now), BREAKER_CLOSED);
	assert_int_equal(call(b, now, BREAKER_FAILURE, FAST_MS), 1);
	assert_int_equal(breaker_state(b, now), BREAKER_OPEN);
	return breaker_ms_until_half_open(b, now);
}

/* From OPEN, waits out the cool-down and fails one probe; returns the new
 * cool-down and moves *now to the time of the probe. */
static int64_t fail_probe(struct breaker *b, int64_t *now)
{
	*now += breaker_ms_until_half_open(b, *now);
	assert_int_equal(breaker_state(b, *now), BREAKER_HALF_OPEN);
	assert_int_equal(call(b, *now, BREAKER_FAILURE, FAST_MS), 1);
	assert_int_equal(breaker_state(b, *now), BREAKER_OPEN);
	return breaker_ms_until_half_open(b, *now);
}

/* ---- configuration -------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct breaker_config c;
	char err[256] = "";

	(void)state;
	breaker_config_default(&c);
	assert_int_equal(breaker_config_check(&c, err, sizeof(err)), 0);
	assert_int_equal(c.consecutive_failures, 5);
	assert_int_equal(c.window_size, 20);
	assert_int_equal(c.window_min_calls, 10);
	assert_int_equal(c.failure_rate_pct, 50);
	assert_int_equal(c.slow_ms, 5000);
	assert_int_equal(c.slow_rate_pct, 50);
	assert_int_equal(c.open_base_ms, 1000);
	assert_int_equal(c.open_max_ms, 60000);
	assert_int_equal(c.jitter_pct, 20);
	assert_int_equal(c.half_open_probes, 1);
	assert_int_equal(c.half_open_successes, 1);
}

struct check_case {
	const char *field; /* also what err must name */
	size_t offset;     /* of the int field in struct breaker_config */
	int value;
	int ok;
};

#define F(name) #name, offsetof(struct breaker_config, name)

static const struct check_case check_cases[] = {
    {F(consecutive_failures), 0, 1},
    {F(consecutive_failures), -1, 0},
    {F(consecutive_failures), BREAKER_CONSECUTIVE_MAX, 1},
    {F(consecutive_failures), BREAKER_CONSECUTIVE_MAX + 1, 0},
    {F(window_size), 0, 0},
    {F(window_size), 1, 0}, /* below the default window_min_calls of 10 */
    {F(window_size), 10, 1},
    {F(window_size), BREAKER_WINDOW_MAX, 1},
    {F(window_size), BREAKER_WINDOW_MAX + 1, 0},
    {F(window_min_calls), 0, 0},
    {F(window_min_calls), 1, 1},
    {F(window_min_calls), 20, 1},
    {F(window_min_calls), 21, 0},
    {F(failure_rate_pct), 0, 1},
    {F(failure_rate_pct), 100, 1},
    {F(failure_rate_pct), 101, 0},
    {F(failure_rate_pct), -5, 0},
    {F(slow_ms), 0, 0},
    {F(slow_ms), 1, 1},
    {F(slow_ms), BREAKER_MS_MAX, 1},
    {F(slow_ms), BREAKER_MS_MAX + 1, 0},
    {F(slow_rate_pct), 0, 1},
    {F(slow_rate_pct), 101, 0},
    {F(open_base_ms), 0, 0},
    {F(open_base_ms), 60000, 1},
    {F(open_base_ms), 60001, 0}, /* above open_max_ms: open_max_ms is named */
    {F(open_max_ms), 999, 0},
    {F(open_max_ms), 1000, 1},
    {F(open_max_ms), BREAKER_MS_MAX, 1},
    {F(open_max_ms), BREAKER_MS_MAX + 1, 0},
    {F(jitter_pct), 0, 1},
    {F(jitter_pct), 99, 1},
    {F(jitter_pct), 100, 0},
    {F(jitter_pct), -1, 0},
    {F(half_open_probes), 0, 0},
    {F(half_open_probes), 1, 1},
    {F(half_open_probes), BREAKER_PROBES_MAX, 1},
    {F(half_open_probes), BREAKER_PROBES_MAX + 1, 0},
    {F(half_open_successes), 0, 0},
    {F(half_open_successes), 7, 1},
    {F(half_open_successes), BREAKER_PROBES_MAX + 1, 0},
};

static void test_config_check_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
		const struct check_case *t = &check_cases[i];
		struct breaker_config c;
		struct breaker b;
		char err[256] = "";
		const char *named = t->field;

		breaker_config_default(&c);
		c.open_base_ms = 1000;
		memcpy((char *)&c + t->offset, &t->value, sizeof(int));
		if (t->ok) {
			if (breaker_config_check(&c, err, sizeof(err)) != 0)
				fail_msg("case %zu (%s = %d) refused: %s", i, t->field, t->value,
				         err);
			assert_int_equal(breaker_init(&b, &c, 1), 0);
			continue;
		}
		if (breaker_config_check(&c, err, sizeof(err)) != -1)
			fail_msg("case %zu (%s = %d) accepted", i, t->field, t->value);
		/* A window shorter than window_min_calls and a base above the
		 * max are reported on the field that depends on the other. */
		if (strcmp(t->field, "window_size") == 0 && t->value >= 1 &&
		    t->value <= BREAKER_WINDOW_MAX)
			named = "window_min_calls";
		if (strcmp(t->field, "open_base_ms") == 0 && t->value >= 1 &&
		    t->value <= BREAKER_MS_MAX)
			named = "open_max_ms";
		if (!strstr(err, named))
			fail_msg("case %zu: \"%s\" does not name %s", i, err, named);
		/* Also without a message buffer, and with a tiny one. */
		assert_int_equal(breaker_config_check(&c, NULL, 0), -1);
		assert_int_equal(breaker_config_check(&c, err, 4), -1);
		assert_int_equal(strlen(err), 3);
		/* init refuses it and leaves the breaker untouched. */
		memset(&b, 0xab, sizeof(b));
		assert_int_equal(breaker_init(&b, &c, 1), -1);
		assert_int_equal(((unsigned char *)&b)[0], 0xab);
		assert_int_equal(((unsigned char *)&b)[sizeof(b) - 1], 0xab);
	}
}

/* ---- closed -> open: the triggers and the window ------------------------- */

static void test_consecutive_failures(void **state)
{
	static const int ks[] = {1, 2, 5, 17};

	(void)state;
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		struct breaker_config c = plain();
		struct breaker b;
		int k = ks[i];

		c.consecutive_failures = k;
		init_ok(&b, &c, 1);
		/* K-1 failures, a success: the run starts again. */
		for (int j = 0; j < k - 1; j++)
			assert_int_equal(call(&b, 0, BREAKER_FAILURE, FAST_MS), 0);
		assert_int_equal(counters(&b).consecutive_failures, k - 1);
		assert_int_equal(call(&b, 0, BREAKER_SUCCESS, FAST_MS), 0);
		assert_int_equal(counters(&b).consecutive_failures, 0);
		/* An ignored call neither breaks nor extends the run. */
		for (int j = 0; j < k - 1; j++) {
			assert_int_equal(call(&b, 0, BREAKER_FAILURE, FAST_MS), 0);
			assert_int_equal(call(&b, 0, BREAKER_IGNORED, FAST_MS), 0);
		}
		assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
		assert_int_equal(counters(&b).consecutive_failures, k - 1);
		/* The K-th in a row trips it, and says so. */
		assert_int_equal(call(&b, 0, BREAKER_FAILURE, FAST_MS), 1);
		assert_int_equal(breaker_state(&b, 0), BREAKER_OPEN);
		assert_int_equal(counters(&b).last_reason, BREAKER_REASON_CONSECUTIVE);
		assert_int_equal(counters(&b).failures, 2 * k - 1);
		assert_int_equal(counters(&b).successes, 1);
		/* 2k-1 failures and one success, in a window of 20. */
		assert_int_equal(counters(&b).window_calls, 2 * k <= 20 ? 2 * k : 20);
	}
}

/* A script of calls and the state expected after each. Calls: 'S' success,
 * 'F' failure, 's' slow success, 'f' slow failure, 'e' a success taking
 * exactly slow_ms (not slow). States: 'C' closed, 'O' open. */
struct window_case {
	const char *name;
	int n, m, fail_pct, slow_pct;
	const char *calls;
	const char *states;
	enum breaker_reason reason; /* at the end */
	int calls_in_window, failures_in_window, slow_in_window;
};

static const struct window_case window_cases[] = {
    {"rate reached only with M calls", 10, 10, 50, 0, "FSFSFSFSFS", "CCCCCCCCCO",
     BREAKER_REASON_FAILURE_RATE, 10, 5, 0},
    {"below M nothing trips", 10, 10, 50, 0, "FFFFFFFFF", "CCCCCCCCC", BREAKER_REASON_NONE, 9, 9,
     0},
    {"M below N", 10, 4, 50, 0, "SSSFFF", "CCCCCO", BREAKER_REASON_FAILURE_RATE, 6, 3, 0},
    {"just under the rate", 10, 10, 50, 0, "FSFSFSFSSS", "CCCCCCCCCC", BREAKER_REASON_NONE, 10, 4,
     0},
    /* Oldest success evicted: [F S S F] is 50%; 2/5 without eviction. */
    {"eviction of a success", 4, 4, 50, 0, "SFSSF", "CCCCO", BREAKER_REASON_FAILURE_RATE, 4, 2, 0},
    /* Old failures evicted: 5 of 8 overall, but 3 of the last 4. */
    {"eviction of failures", 4, 4, 75, 0, "FFSSSFFF", "CCCCCCCO", BREAKER_REASON_FAILURE_RATE, 4, 3,
     0},
    {"window keeps sliding", 5, 5, 60, 0, "FFSSSSSFFSS", "CCCCCCCCCCC", BREAKER_REASON_NONE, 5, 2,
     0},
    {"100% needs every call", 4, 4, 100, 0, "FFFSFFFF", "CCCCCCCO", BREAKER_REASON_FAILURE_RATE, 4,
     4, 0},
    {"slow successes trip the slow rate", 4, 4, 0, 50, "sSSs", "CCCO", BREAKER_REASON_SLOW_RATE, 4,
     0, 2},
    {"exactly slow_ms is not slow", 4, 4, 0, 50, "eeese", "CCCCC", BREAKER_REASON_NONE, 4, 0, 1},
    {"slow failures count twice", 4, 4, 75, 50, "fSfS", "CCCO", BREAKER_REASON_SLOW_RATE, 4, 2, 2},
    {"failure rate is checked first", 4, 4, 50, 50, "fSfS", "CCCO", BREAKER_REASON_FAILURE_RATE, 4,
     2, 2},
    {"slow rate alone, failures ignored", 3, 3, 0, 100, "FFFsss", "CCCCCO",
     BREAKER_REASON_SLOW_RATE, 3, 0, 3},
    {"every trigger off", 3, 1, 0, 0, "ffffffffff", "CCCCCCCCCC", BREAKER_REASON_NONE, 3, 3, 3},
    {"window of one", 1, 1, 100, 0, "SSSF", "CCCO", BREAKER_REASON_FAILURE_RATE, 1, 1, 0},
};

static void test_window_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(window_cases) / sizeof(window_cases[0]); i++) {
		const struct window_case *t = &window_cases[i];
		struct breaker_config c = plain();
		struct breaker b;
		struct breaker_counters k;
		size_t len = strlen(t->calls);

		assert_int_equal(len, strlen(t->states));
		c.window_size = t->n;
		c.window_min_calls = t->m;
		c.failure_rate_pct = t->fail_pct;
		c.slow_rate_pct = t->slow_pct;
		init_ok(&b, &c, 1);
		for (size_t j = 0; j < len; j++) {
			char ch = t->calls[j];
			enum breaker_outcome o =
			    (ch == 'F' || ch == 'f') ? BREAKER_FAILURE : BREAKER_SUCCESS;
			int64_t lat = (ch == 's' || ch == 'f') ? SLOW_MS + 1
			              : ch == 'e'              ? SLOW_MS
			                                       : FAST_MS;
			int changed = call(&b, (int64_t)j, o, lat);
			char got = breaker_state(&b, (int64_t)j) == BREAKER_OPEN ? 'O' : 'C';

			if (got != t->states[j])
				fail_msg("%s: after call %zu (%c) state %c, want %c", t->name, j,
				         ch, got, t->states[j]);
			assert_int_equal(changed, t->states[j] == 'O');
		}
		k = counters(&b);
		if (k.last_reason != t->reason)
			fail_msg("%s: reason %s, want %s", t->name,
			         breaker_reason_name(k.last_reason),
			         breaker_reason_name(t->reason));
		if ((int)k.window_calls != t->calls_in_window ||
		    (int)k.window_failures != t->failures_in_window ||
		    (int)k.window_slow != t->slow_in_window)
			fail_msg("%s: window %u calls %u failed %u slow, want %d %d %d", t->name,
			         k.window_calls, k.window_failures, k.window_slow,
			         t->calls_in_window, t->failures_in_window, t->slow_in_window);
		assert_int_equal(k.failure_rate_pct,
		                 k.window_calls ? (int)(k.window_failures * 100 / k.window_calls)
		                                : 0);
	}
}

static void test_rates_rounding(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;

	(void)state;
	c.window_size = 3;
	c.window_min_calls = 3;
	init_ok(&b, &c, 1);
	assert_int_equal(counters(&b).failure_rate_pct, 0);
	call(&b, 0, BREAKER_FAILURE, SLOW_MS + 1);
	call(&b, 0, BREAKER_SUCCESS, FAST_MS);
	call(&b, 0, BREAKER_SUCCESS, FAST_MS);
	assert_int_equal(counters(&b).failure_rate_pct, 33);
	assert_int_equal(counters(&b).slow_rate_pct, 33);
	call(&b, 0, BREAKER_FAILURE, FAST_MS);
	call(&b, 0, BREAKER_FAILURE, FAST_MS);
	assert_int_equal(counters(&b).failure_rate_pct, 66);
	assert_int_equal(counters(&b).slow_rate_pct, 0);
	/* 33% over 3 calls: 1*100 >= 33*3 trips, 1*100 >= 34*3 does not. */
	c.failure_rate_pct = 34;
	init_ok(&b, &c, 1);
	assert_int_equal(call(&b, 0, BREAKER_FAILURE, FAST_MS) +
	                     call(&b, 0, BREAKER_SUCCESS, FAST_MS) +
	                     call(&b, 0, BREAKER_SUCCESS, FAST_MS),
	                 0);
	c.failure_rate_pct = 33;
	init_ok(&b, &c, 1);
	call(&b, 0, BREAKER_FAILURE, FAST_MS);
	call(&b, 0, BREAKER_SUCCESS, FAST_MS);
	assert_int_equal(call(&b, 0, BREAKER_SUCCESS, FAST_MS), 1);
}

/* ---- open -> half-open -> closed / open --------------------------------- */

static void test_open_until_cooldown(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	struct breaker_permit p;
	struct breaker_counters k;

	(void)state;
	c.consecutive_failures = 1;
	init_ok(&b, &c, 1);
	assert_int_equal(breaker_ms_until_half_open(&b, 0), 0);
	assert_int_equal(trip(&b, 100), 1000);
	assert_int_equal(breaker_ms_until_half_open(&b, 600), 500);
	/* Refused (and counted) for the whole cool-down. */
	for (int64_t t = 100; t < 1100; t += 111) {
		assert_int_equal(breaker_allow(&b, t, &p), 0);
		assert_int_equal(p.held, 0);
	}
	assert_int_equal(breaker_allow(&b, 1099, &p), 0);
	assert_int_equal(breaker_ms_until_half_open(&b, 1099), 1);
	assert_int_equal(breaker_state(&b, 1099), BREAKER_OPEN);
	assert_int_equal(counters(&b).rejected, 11);
	/* Exactly at the end: half-open. */
	assert_int_equal(breaker_ms_until_half_open(&b, 1100), 0);
	assert_int_equal(breaker_state(&b, 1100), BREAKER_HALF_OPEN);
	assert_int_equal(breaker_ms_until_half_open(&b, 1100), 0);
	k = counters(&b);
	assert_int_equal(k.transitions, 2);
	assert_int_equal(k.opens, 1);
	/* One probe, then a success closes it; everything flows again. */
	assert_int_equal(call(&b, 1200, BREAKER_SUCCESS, FAST_MS), 1);
	assert_int_equal(breaker_state(&b, 1200), BREAKER_CLOSED);
	for (int i = 0; i < 50; i++)
		assert_int_equal(call(&b, 1200, BREAKER_SUCCESS, FAST_MS), 0);
	k = counters(&b);
	assert_int_equal(k.transitions, 3);
	assert_int_equal(k.consecutive_opens, 0);
	assert_int_equal(k.window_calls, 20);
}

/* allow() turns an overdue OPEN into HALF_OPEN by itself, with no state()
 * call in between, long after the cool-down ended. */
static void test_allow_advances_late(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	struct breaker_permit p;

	(void)state;
	c.consecutive_failures = 1;
	init_ok(&b, &c, 1);
	trip(&b, 0);
	assert_int_equal(breaker_allow(&b, 1000000, &p), 1);
	assert_int_equal(p.probe, 1);
	assert_int_equal(breaker_state(&b, 1000000), BREAKER_HALF_OPEN);
	assert_int_equal(breaker_record(&b, &p, BREAKER_SUCCESS, FAST_MS, 1000000), 1);
	assert_int_equal(breaker_state(&b, 1000000), BREAKER_CLOSED);
}

struct backoff_case {
	int base, max;
	int64_t want[12]; /* cool-downs of consecutive opens; 0 ends */
};

static const struct backoff_case backoff_cases[] = {
    {1000, 60000, {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 0}},
    {300, 1000, {300, 600, 1000, 1000, 1000, 0}},
    {500, 500, {500, 500, 500, 0}},
    {1, 5, {1, 2, 4, 5, 5, 0}},
    {1000, 4000, {1000, 2000, 4000, 4000, 0}},
};

static void test_exponential_backoff_and_cap(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(backoff_cases) / sizeof(backoff_cases[0]); i++) {
		const struct backoff_case *t = &backoff_cases[i];
		struct breaker_config c = plain();
		struct breaker b;
		int64_t now = 0;

		c.consecutive_failures = 1;
		c.open_base_ms = t->base;
		c.open_max_ms = t->max;
		init_ok(&b, &c, 1);
		assert_int_equal(trip(&b, now), t->want[0]);
		for (int j = 1; t->want[j]; j++) {
			int64_t got = fail_probe(&b, &now);

			if (got != t->want[j])
				fail_msg("base %d max %d: open %d lasted %lld, want %lld", t->base,
				         t->max, j + 1, (long long)got, (long long)t->want[j]);
			assert_int_equal(counters(&b).consecutive_opens, j + 1);
			assert_int_equal(counters(&b).last_reason, BREAKER_REASON_PROBE);
		}
		/* A probe success closes it and resets the back-off. */
		now += breaker_ms_until_half_open(&b, now);
		assert_int_equal(call(&b, now, BREAKER_SUCCESS, FAST_MS), 1);
		assert_int_equal(counters(&b).consecutive_opens, 0);
		assert_int_equal(trip(&b, now), t->want[0]);
	}
}

/* Thousands of opens in a row neither overflow nor pass the cap. */
static void test_backoff_long_outage(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	int64_t now = 0, d;

	(void)state;
	c.consecutive_failures = 1;
	c.open_base_ms = 1;
	c.open_max_ms = BREAKER_MS_MAX;
	c.jitter_pct = 50;
	init_ok(&b, &c, 7);
	trip(&b, now);
	for (int i = 0; i < 3000; i++) {
		d = fail_probe(&b, &now);
		assert_true(d >= 1 && d <= BREAKER_MS_MAX);
		if (i > 40)
			assert_true(d >= BREAKER_MS_MAX / 2);
	}
	assert_int_equal(counters(&b).consecutive_opens, 3001);
}

static void test_jitter_bounds_over_seeds(void **state)
{
	struct breaker_config c = plain();
	int64_t lo = INT64_MAX, hi = 0, sum = 0, cap_lo = INT64_MAX, cap_hi = 0;
	int at_cap = 0, distinct_first = 0;
	const int seeds = 10000;
	int64_t first_of_seed0 = -1;

	(void)state;
	c.consecutive_failures = 1;
	c.jitter_pct = 20;
	for (int s = 0; s < seeds; s++) {
		struct breaker b;
		int64_t now = 0, d;

		init_ok(&b, &c, (uint64_t)s * 0x1234567ULL);
		d = trip(&b, now);
		/* First open: 1000 +- 20%. */
		assert_true(d >= 800 && d <= 1200);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += d;
		if (s == 0)
			first_of_seed0 = d;
		else if (d != first_of_seed0)
			distinct_first = 1;
		/* Each later step stays within +-20% of its nominal length, so
		 * it is always longer than the step before. */
		for (int j = 2; j <= 9; j++) {
			int64_t prev = d, nominal = 1000LL << (j - 1);

			d = fail_probe(&b, &now);
			if (nominal < 60000) {
				assert_true(d >= nominal * 8 / 10 && d <= nominal * 12 / 10);
				assert_true(d > prev);
			} else {
				/* At the cap: [48000, 60000], never above max. */
				assert_true(d >= 48000 && d <= 60000);
				cap_lo = d < cap_lo ? d : cap_lo;
				cap_hi = d > cap_hi ? d : cap_hi;
				at_cap += d == 60000;
			}
		}
	}
	/* The draws cover the range, centred on the nominal value... */
	assert_true(distinct_first);
	assert_true(lo <= 805 && hi >= 1195);
	assert_true(sum / seeds >= 990 && sum / seeds <= 1010);
	/* ...and at the cap they spread out instead of piling up on max
	 * (4 capped steps a seed; exactly 60000 should be about 1 in 12000). */
	assert_true(cap_lo <= 48200 && cap_hi >= 59800);
	assert_true(at_cap < 20);
}

/* The same seed gives the same cool-downs; the reflection below the cap keeps
 * a partly capped step inside [d - s, max]. */
static void test_jitter_deterministic_and_reflected(void **state)
{
	struct breaker_config c = plain();
	int64_t a[20], now;

	(void)state;
	c.consecutive_failures = 1;
	c.jitter_pct = 30;
	for (int round = 0; round < 2; round++) {
		struct breaker b;

		init_ok(&b, &c, 42);
		now = 0;
		for (int i = 0; i < 20; i++) {
			int64_t d = i == 0 ? trip(&b, 0) : fail_probe(&b, &now);

			if (round == 0)
				a[i] = d;
			else
				assert_int_equal(a[i], d);
		}
	}
	c.open_base_ms = 1000;
	c.open_max_ms = 1100;
	c.jitter_pct = 20;
	for (uint64_t s = 0; s < 2000; s++) {
		struct breaker b;
		int64_t d;

		init_ok(&b, &c, s);
		d = trip(&b, 0);
		assert_true(d >= 800 && d <= 1100);
	}
}

/* ---- half-open ------------------------------------------------------------ */

static void test_half_open_probe_limit(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	struct breaker_permit p1, p2, p3, p4, p5;

	(void)state;
	c.consecutive_failures = 1;
	c.half_open_probes = 2;
	c.half_open_successes = 3;
	init_ok(&b, &c, 1);
	trip(&b, 0);
	/* Two at once, the third waits. */
	assert_int_equal(breaker_allow(&b, 1000, &p1), 1);
	assert_int_equal(breaker_allow(&b, 1000, &p2), 1);
	assert_int_equal(p1.probe && p2.probe, 1);
	assert_int_equal(breaker_allow(&b, 1000, &p3), 0);
	assert_int_equal(counters(&b).probes_in_flight, 2);
	/* A success frees its slot but does not close yet. */
	assert_int_equal(breaker_record(&b, &p1, BREAKER_SUCCESS, FAST_MS, 1001), 0);
	assert_int_equal(counters(&b).probe_successes, 1);
	assert_int_equal(counters(&b).probes_in_flight, 1);
	assert_int_equal(breaker_allow(&b, 1001, &p3), 1);
	assert_int_equal(breaker_allow(&b, 1001, &p4), 0);
	/* A release frees a slot without counting. */
	breaker_release(&b, &p2);
	assert_int_equal(counters(&b).probes_in_flight, 1);
	assert_int_equal(counters(&b).probe_successes, 1);
	/* An ignored outcome is a release. */
	assert_int_equal(breaker_allow(&b, 1002, &p4), 1);
	assert_int_equal(breaker_record(&b, &p4, BREAKER_IGNORED, FAST_MS, 1002), 0);
	assert_int_equal(counters(&b).probes_in_flight, 1);
	assert_int_equal(counters(&b).successes, 1);
	assert_int_equal(breaker_allow(&b, 1002, &p4), 1);
	assert_int_equal(breaker_allow(&b, 1002, &p5), 0);
	assert_int_equal(breaker_record(&b, &p3, BREAKER_SUCCESS, FAST_MS, 1003), 0);
	assert_int_equal(breaker_state(&b, 1003), BREAKER_HALF_OPEN);
	/* The third success closes. */
	assert_int_equal(breaker_record(&b, &p4, BREAKER_SUCCESS, FAST_MS, 1004), 1);
	assert_int_equal(breaker_state(&b, 1004), BREAKER_CLOSED);
	assert_int_equal(counters(&b).probes_in_flight, 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(breaker_allow(&b, 1005, &p1), 1);
		assert_int_equal(p1.probe, 0);
	}
}

/* With P probes out, one failing reopens with the next cool-down; the others
 * come back late and touch neither the slots nor the successes of the next
 * half-open period. */
static void test_probe_failure_reopens(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	struct breaker_permit p1, p2, p3, q;

	(void)state;
	c.consecutive_failures = 1;
	c.half_open_probes = 3;
	init_ok(&b, &c, 1);
	trip(&b, 0);
	assert_int_equal(breaker_allow(&b, 1000, &p1), 1);
	assert_int_equal(breaker_allow(&b, 1000, &p2), 1);
	assert_int_equal(breaker_allow(&b, 1000, &p3), 1);
	assert_int_equal(breaker_record(&b, &p1, BREAKER_FAILURE, FAST_MS, 1010), 1);
	assert_int_equal(breaker_state(&b, 1010), BREAKER_OPEN);
	assert_int_equal(breaker_ms_until_half_open(&b, 1010), 2000);
	assert_int_equal(counters(&b).last_reason, BREAKER_REASON_PROBE);
	/* Next half-open period; one new probe out. */
	assert_int_equal(breaker_allow(&b, 3010, &q), 1);
	assert_int_equal(counters(&b).probes_in_flight, 1);
	/* The old probes answer now: a late success must not close it, a
	 * late release must not free the new probe's slot. */
	assert_int_equal(breaker_record(&b, &p2, BREAKER_SUCCESS, FAST_MS, 3020), 0);
	breaker_release(&b, &p3);
	assert_int_equal(breaker_state(&b, 3020), BREAKER_HALF_OPEN);
	assert_int_equal(counters(&b).probes_in_flight, 1);
	assert_int_equal(counters(&b).probe_successes, 0);
	assert_int_equal(counters(&b).late, 1);
	assert_int_equal(counters(&b).successes, 1);
	/* The real probe decides. */
	assert_int_equal(breaker_record(&b, &q, BREAKER_SUCCESS, FAST_MS, 3030), 1);
	assert_int_equal(breaker_state(&b, 3030), BREAKER_CLOSED);
}

static void test_slow_probe(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;

	(void)state;
	c.consecutive_failures = 1;
	/* Slow calls can trip the breaker: a slow probe reopens it. */
	c.slow_rate_pct = 50;
	init_ok(&b, &c, 1);
	trip(&b, 0);
	assert_int_equal(call(&b, 1000, BREAKER_SUCCESS, SLOW_MS + 1), 1);
	assert_int_equal(breaker_state(&b, 1000), BREAKER_OPEN);
	assert_int_equal(counters(&b).last_reason, BREAKER_REASON_PROBE);
	assert_int_equal(breaker_ms_until_half_open(&b, 1000), 2000);
	/* A probe at exactly slow_ms is fine. */
	assert_int_equal(call(&b, 3000, BREAKER_SUCCESS, SLOW_MS), 1);
	assert_int_equal(breaker_state(&b, 3000), BREAKER_CLOSED);
	/* Slow calls cannot trip it: a slow probe success closes. */
	c.slow_rate_pct = 0;
	init_ok(&b, &c, 1);
	trip(&b, 0);
	assert_int_equal(call(&b, 1000, BREAKER_SUCCESS, SLOW_MS + 1), 1);
	assert_int_equal(breaker_state(&b, 1000), BREAKER_CLOSED);
	assert_int_equal(counters(&b).slow, 1);
}

/* ---- late outcomes, permits ---------------------------------------------- */

static void test_late_outcomes(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	struct breaker_permit a, x, y, z;

	(void)state;
	c.consecutive_failures = 2;
	init_ok(&b, &c, 1);
	assert_int_equal(breaker_allow(&b, 0, &a), 1);
	assert_int_equal(breaker_allow(&b, 0, &x), 1);
	assert_int_equal(breaker_allow(&b, 0, &y), 1);
	assert_int_equal(breaker_allow(&b, 0, &z), 1);
	assert_int_equal(breaker_record(&b, &a, BREAKER_FAILURE, FAST_MS, 10), 0);
	assert_int_equal(breaker_record(&b, &x, BREAKER_FAILURE, FAST_MS, 10), 1);
	/* Started before the trip, failing after it: counted, but it moves
	 * nothing (no longer cool-down, no window entry). */
	assert_int_equal(breaker_record(&b, &y, BREAKER_FAILURE, 30000, 30), 0);
	assert_int_equal(breaker_ms_until_half_open(&b, 30), 980);
	assert_int_equal(counters(&b).failures, 3);
	assert_int_equal(counters(&b).slow, 1);
	assert_int_equal(counters(&b).late, 1);
	assert_int_equal(counters(&b).window_calls, 2);
	assert_int_equal(counters(&b).consecutive_failures, 2);
	/* Half-open: a late success is not the probe's answer. */
	assert_int_equal(breaker_state(&b, 1010), BREAKER_HALF_OPEN);
	assert_int_equal(breaker_record(&b, &z, BREAKER_SUCCESS, FAST_MS, 1010), 0);
	assert_int_equal(breaker_state(&b, 1010), BREAKER_HALF_OPEN);
	assert_int_equal(counters(&b).probes_in_flight, 0);
	assert_int_equal(counters(&b).late, 2);
	/* After the close, the old run of failures is forgotten. */
	assert_int_equal(call(&b, 1020, BREAKER_SUCCESS, FAST_MS), 1);
	assert_int_equal(call(&b, 1030, BREAKER_FAILURE, FAST_MS), 0);
	assert_int_equal(breaker_state(&b, 1030), BREAKER_CLOSED);
}

static void test_permits_spend_once(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	struct breaker_permit p, zero;
	struct breaker_counters before, after;

	(void)state;
	c.consecutive_failures = 1;
	init_ok(&b, &c, 1);
	memset(&zero, 0, sizeof(zero));
	/* A zeroed permit records and releases nothing. */
	p = zero;
	assert_int_equal(breaker_record(&b, &p, BREAKER_FAILURE, FAST_MS, 0), 0);
	breaker_release(&b, &p);
	assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
	assert_int_equal(counters(&b).failures, 0);
	/* Recorded once; the second record and a release are no-ops. */
	assert_int_equal(breaker_allow(&b, 0, &p), 1);
	assert_int_equal(breaker_record(&b, &p, BREAKER_SUCCESS, FAST_MS, 0), 0);
	assert_int_equal(p.held, 0);
	before = counters(&b);
	assert_int_equal(breaker_record(&b, &p, BREAKER_FAILURE, FAST_MS, 0), 0);
	breaker_release(&b, &p);
	breaker_release(&b, &p);
	after = counters(&b);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
	/* A half-open probe released twice frees one slot only. */
	trip(&b, 0);
	assert_int_equal(breaker_allow(&b, 1000, &p), 1);
	breaker_release(&b, &p);
	breaker_release(&b, &p);
	assert_int_equal(counters(&b).probes_in_flight, 0);
	/* A refused allow leaves nothing held. */
	assert_int_equal(breaker_allow(&b, 1000, &p), 1);
	{
		struct breaker_permit q;

		assert_int_equal(breaker_allow(&b, 1000, &q), 0);
		assert_int_equal(q.held, 0);
		breaker_release(&b, &q);
		assert_int_equal(counters(&b).probes_in_flight, 1);
	}
	/* An unknown outcome value is treated as ignored. */
	assert_int_equal(breaker_record(&b, &p, (enum breaker_outcome)77, FAST_MS, 1000), 0);
	assert_int_equal(counters(&b).probes_in_flight, 0);
	assert_int_equal(breaker_state(&b, 1000), BREAKER_HALF_OPEN);
}

/* ---- manual control ------------------------------------------------------ */

static void test_forced_open(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	struct breaker_permit p, old;
	struct breaker_counters k;

	(void)state;
	c.consecutive_failures = 1;
	init_ok(&b, &c, 1);
	/* Drive the back-off up first: forcing resets it. */
	{
		int64_t now = 0;

		trip(&b, 0);
		fail_probe(&b, &now);
		fail_probe(&b, &now);
		now += breaker_ms_until_half_open(&b, now);
		assert_int_equal(call(&b, now, BREAKER_SUCCESS, FAST_MS), 1);
	}
	assert_int_equal(breaker_allow(&b, 10000, &old), 1);
	k = counters(&b);
	assert_int_equal(breaker_set_mode(&b, BREAKER_FORCED_OPEN), 1);
	assert_int_equal(breaker_set_mode(&b, BREAKER_FORCED_OPEN), 0);
	assert_int_equal(breaker_mode(&b), BREAKER_FORCED_OPEN);
	assert_int_equal(counters(&b).transitions, k.transitions + 1);
	assert_int_equal(counters(&b).opens, k.opens + 1);
	assert_int_equal(counters(&b).last_reason, BREAKER_REASON_FORCED);
	/* No automatic end: refused forever, Retry-After unknown. */
	for (int64_t t = 10000; t < 10000000; t += 99999) {
		assert_int_equal(breaker_allow(&b, t, &p), 0);
		assert_int_equal(breaker_state(&b, t), BREAKER_OPEN);
		assert_int_equal(breaker_ms_until_half_open(&b, t), -1);
	}
	/* A call from before the drain ends late; a success changes nothing. */
	assert_int_equal(breaker_record(&b, &old, BREAKER_SUCCESS, FAST_MS, 20000), 0);
	assert_int_equal(counters(&b).late, k.late + 1);
	assert_int_equal(breaker_state(&b, 20000), BREAKER_OPEN);
	/* Back to auto: half-open, the probe decides. */
	assert_int_equal(breaker_set_mode(&b, BREAKER_AUTO), 1);
	assert_int_equal(breaker_mode(&b), BREAKER_AUTO);
	assert_int_equal(breaker_state(&b, 20000), BREAKER_HALF_OPEN);
	/* A failing probe: the back-off was reset by the drain, so base. */
	assert_int_equal(call(&b, 20000, BREAKER_FAILURE, FAST_MS), 1);
	assert_int_equal(breaker_ms_until_half_open(&b, 20000), 1000);
	/* Forced open while automatically open still counts one open only. */
	k = counters(&b);
	assert_int_equal(breaker_set_mode(&b, BREAKER_FORCED_OPEN), 0);
	assert_int_equal(counters(&b).opens, k.opens);
	assert_int_equal(counters(&b).transitions, k.transitions);
	/* An unknown mode value is refused. */
	assert_int_equal(breaker_set_mode(&b, (enum breaker_mode)9), 0);
	assert_int_equal(breaker_mode(&b), BREAKER_FORCED_OPEN);
}

static void test_forced_closed(void **state)
{
	struct breaker_config c = plain();
	struct breaker b;
	struct breaker_counters k;
	struct breaker_permit p;

	(void)state;
	c.consecutive_failures = 3;
	c.window_size = 10;
	c.window_min_calls = 5;
	c.failure_rate_pct = 50;
	init_ok(&b, &c, 1);
	call(&b, 0, BREAKER_FAILURE, FAST_MS);
	call(&b, 0, BREAKER_FAILURE, FAST_MS);
	assert_int_equal(call(&b, 0, BREAKER_FAILURE, FAST_MS), 1);
	/* Forced closed from open: allowed, window cleared, never trips. */
	assert_int_equal(breaker_set_mode(&b, BREAKER_FORCED_CLOSED), 1);
	assert_int_equal(breaker_mode(&b), BREAKER_FORCED_CLOSED);
	assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
	assert_int_equal(counters(&b).window_calls, 0);
	assert_int_equal(counters(&b).consecutive_opens, 0);
	for (int i = 0; i < 30; i++)
		assert_int_equal(call(&b, i, BREAKER_FAILURE, SLOW_MS + 1), 0);
	assert_int_equal(breaker_state(&b, 100), BREAKER_CLOSED);
	assert_int_equal(breaker_ms_until_half_open(&b, 100), 0);
	/* ...but keeps score for the status page. */
	k = counters(&b);
	assert_int_equal(k.window_calls, 10);
	assert_int_equal(k.window_failures, 10);
	assert_int_equal(k.failure_rate_pct, 100);
	assert_int_equal(k.consecutive_failures, 30);
	/* Back to auto: still closed; the next failure trips it. */
	assert_int_equal(breaker_set_mode(&b, BREAKER_AUTO), 0);
	assert_int_equal(breaker_state(&b, 100), BREAKER_CLOSED);
	assert_int_equal(breaker_allow(&b, 100, &p), 1);
	assert_int_equal(breaker_record(&b, &p, BREAKER_FAILURE, FAST_MS, 100), 1);
	assert_int_equal(breaker_state(&b, 100), BREAKER_OPEN);
	assert_int_equal(breaker_ms_until_half_open(&b, 100), 1000);
	/* Forced open -> forced closed -> auto: closed, fresh window. */
	assert_int_equal(breaker_set_mode(&b, BREAKER_FORCED_OPEN), 0);
	assert_int_equal(breaker_set_mode(&b, BREAKER_FORCED_CLOSED), 1);
	assert_int_equal(counters(&b).window_calls, 0);
	assert_int_equal(breaker_set_mode(&b, BREAKER_AUTO), 0);
	assert_int_equal(call(&b, 200, BREAKER_FAILURE, FAST_MS), 0);
	assert_int_equal(breaker_state(&b, 200), BREAKER_CLOSED);
}

/* ---- names ---------------------------------------------------------------- */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(breaker_state_name(BREAKER_CLOSED), "closed");
	assert_string_equal(breaker_state_name(BREAKER_OPEN), "open");
	assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half-open");
	assert_string_equal(breaker_state_name((enum breaker_state)42), "?");
	assert_string_equal(breaker_mode_name(BREAKER_AUTO), "auto");
	assert_string_equal(breaker_mode_name(BREAKER_FORCED_OPEN), "forced-open");
	assert_string_equal(breaker_mode_name(BREAKER_FORCED_CLOSED), "forced-closed");
	assert_string_equal(breaker_mode_name((enum breaker_mode) - 1), "?");
	assert_string_equal(breaker_reason_name(BREAKER_REASON_NONE), "none");
	assert_string_equal(breaker_reason_name(BREAKER_REASON_CONSECUTIVE),
	                    "consecutive failures");
	assert_string_equal(breaker_reason_name(BREAKER_REASON_FAILURE_RATE), "failure rate");
	assert_string_equal(breaker_reason_name(BREAKER_REASON_SLOW_RATE), "slow calls");
	assert_string_equal(breaker_reason_name(BREAKER_REASON_PROBE), "probe failed");
	assert_string_equal(breaker_reason_name(BREAKER_REASON_FORCED), "forced");
	assert_string_equal(breaker_reason_name((enum breaker_reason)99), "?");
	assert_string_equal(breaker_outcome_name(BREAKER_SUCCESS), "success");
	assert_string_equal(breaker_outcome_name(BREAKER_FAILURE), "failure");
	assert_string_equal(breaker_outcome_name(BREAKER_IGNORED), "ignored");
	assert_string_equal(breaker_outcome_name((enum breaker_outcome)5), "?");
}

/* ---- randomised bookkeeping ---------------------------------------------- */

static uint64_t test_rng = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
	test_rng ^= test_rng << 13;
	test_rng ^= test_rng >> 7;
	test_rng ^= test_rng << 17;
	return (uint32_t)(test_rng % n);
}

/* Random allows, records, releases, clock steps and mode changes; after
 * every step the probe slots taken must equal the probe permits of the
 * current epoch still held, never above P, and the window counts must equal a
 * recount of the ring. */
static void test_random_bookkeeping(void **state)
{
	enum { OUT = 64 };
	(void)state;
	for (int cfgi = 0; cfgi < 6; cfgi++) {
		struct breaker_config c;
		struct breaker b;
		struct breaker_permit out[OUT];
		int64_t now = 0;
		uint64_t allowed = 0, opens_seen = 0;

		breaker_config_default(&c);
		c.consecutive_failures = (int)rnd(6);
		c.window_size = 1 + (int)rnd(30);
		c.window_min_calls = 1 + (int)rnd((uint32_t)c.window_size);
		c.failure_rate_pct = (int)rnd(101);
		c.slow_rate_pct = (int)rnd(101);
		c.slow_ms = SLOW_MS;
		c.open_base_ms = 1 + (int)rnd(500);
		c.open_max_ms = c.open_base_ms * (1 + (int)rnd(40));
		c.jitter_pct = (int)rnd(100);
		c.half_open_probes = 1 + (int)rnd(4);
		c.half_open_successes = 1 + (int)rnd(4);
		init_ok(&b, &c, (uint64_t)cfgi);
		memset(out, 0, sizeof(out));
		for (int step = 0; step < 200000; step++) {
			int i = (int)rnd(OUT), held = 0;
			uint32_t op = rnd(100);
			uint32_t ring_calls, f = 0, s = 0;

			if (op < 40) {
				if (!out[i].held && breaker_allow(&b, now, &out[i]))
					allowed++;
			} else if (op < 75) {
				int r = breaker_record(
				    &b, &out[i], rnd(10) < 4 ? BREAKER_FAILURE : BREAKER_SUCCESS,
				    rnd(2 * SLOW_MS), now);
				if (r && b.state == BREAKER_OPEN) {
					int64_t d = breaker_ms_until_half_open(&b, now);

					opens_seen++;
					assert_true(d >= 1 && d <= c.open_max_ms);
				}
			} else if (op < 85) {
				breaker_release(&b, &out[i]);
			} else if (op < 99) {
				now += rnd(200);
			} else if (rnd(10) == 0) {
				breaker_set_mode(&b, (enum breaker_mode)rnd(3));
			}
			for (int j = 0; j < OUT; j++)
				held += out[j].held && out[j].probe && out[j].epoch == b.epoch;
			assert_int_equal(held, b.probes_in_flight);
			assert_true(b.probes_in_flight <= c.half_open_probes);
			if (b.state != BREAKER_HALF_OPEN)
				assert_int_equal(b.probes_in_flight, 0);
			ring_calls = b.window_calls;
			assert_true(ring_calls <= (uint32_t)c.window_size);
			for (uint32_t j = 0; j < ring_calls; j++) {
				f += b.ring[j] & 1;
				s += (b.ring[j] >> 1) & 1;
			}
			assert_int_equal(f, b.window_failures);
			assert_int_equal(s, b.window_slow);
		}
		/* The run exercised the machine, not just one state. */
		assert_true(allowed > 1000);
		assert_true(opens_seen > 10 ||
		            c.consecutive_failures + c.failure_rate_pct + c.slow_rate_pct == 0);
	}
}

/* A reload gives new settings to a running breaker: its state, cool-down,
 * mode and totals stay; only a new window size empties the window. */
static void test_reconfigure_keeps_state(void **state)
{
	struct breaker_config c = plain(), d;
	struct breaker b;
	struct breaker_permit held;

	(void)state;
	c.consecutive_failures = 3;
	c.window_size = 20;
	c.window_min_calls = 5;
	init_ok(&b, &c, 1);
	for (int j = 0; j < 3; j++)
		call(&b, 0, BREAKER_FAILURE, FAST_MS);
	assert_int_equal(breaker_state(&b, 10), BREAKER_OPEN);
	/* Bad settings change nothing. */
	d = c;
	d.window_size = 0;
	assert_int_equal(breaker_reconfigure(&b, &d), -1);
	assert_int_equal(b.cfg.window_size, 20);
	/* New trigger, same window: still open, same cool-down, window kept. */
	d = c;
	d.consecutive_failures = 10;
	assert_int_equal(breaker_reconfigure(&b, &d), 0);
	assert_int_equal(breaker_state(&b, 10), BREAKER_OPEN);
	assert_int_equal(breaker_ms_until_half_open(&b, 10), 990);
	assert_int_equal(counters(&b).window_calls, 3);
	assert_int_equal(counters(&b).opens, 1);
	/* Half-open with its one probe out; a reload lets it land. */
	assert_true(breaker_allow(&b, 1000, &held));
	assert_int_equal(breaker_state(&b, 1000), BREAKER_HALF_OPEN);
	d.window_size = 50;
	assert_int_equal(breaker_reconfigure(&b, &d), 0);
	assert_int_equal(counters(&b).window_calls, 0);
	assert_int_equal(counters(&b).probes_in_flight, 1);
	assert_int_equal(breaker_record(&b, &held, BREAKER_SUCCESS, FAST_MS, 1001), 1);
	assert_int_equal(breaker_state(&b, 1001), BREAKER_CLOSED);
	/* A forced mode survives a reload. */
	breaker_set_mode(&b, BREAKER_FORCED_OPEN);
	assert_int_equal(breaker_reconfigure(&b, &c), 0);
	assert_int_equal(breaker_mode(&b), BREAKER_FORCED_OPEN);
	assert_int_equal(breaker_state(&b, 2000), BREAKER_OPEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_config_check_table),
	    cmocka_unit_test(test_consecutive_failures),
	    cmocka_unit_test(test_window_table),
	    cmocka_unit_test(test_rates_rounding),
	    cmocka_unit_test(test_open_until_cooldown),
	    cmocka_unit_test(test_allow_advances_late),
	    cmocka_unit_test(test_exponential_backoff_and_cap),
	    cmocka_unit_test(test_backoff_long_outage),
	    cmocka_unit_test(test_jitter_bounds_over_seeds),
	    cmocka_unit_test(test_jitter_deterministic_and_reflected),
	    cmocka_unit_test(test_half_open_probe_limit),
	    cmocka_unit_test(test_probe_failure_reopens),
	    cmocka_unit_test(test_slow_probe),
	    cmocka_unit_test(test_late_outcomes),
	    cmocka_unit_test(test_permits_spend_once),
	    cmocka_unit_test(test_forced_open),
	    cmocka_unit_test(test_reconfigure_keeps_state),
	    cmocka_unit_test(test_forced_closed),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_random_bookkeeping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
