/*
 * breaker — the circuit breaker state machine (see breaker.h for the
 * picture). Read top to bottom: defaults and checks, the window, the
 * cool-down, the transitions, then the calls the pool makes.
 */
#include "breaker/breaker.h"

#include "proxy/errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One call in the window ring. */
#define SLOT_FAILED 0x1
#define SLOT_SLOW 0x2

/* ---- configuration ------------------------------------------------------- */

void breaker_config_default(struct breaker_config *c)
{
	memset(c, 0, sizeof(*c));
	/* Five in a row: one reset or one 502 in a burst of parallel go
	 * commands is ordinary and must not drain an upstream, but a dead one
	 * (connection refused costs microseconds) is cut off within the first
	 * handful of requests of a single `go mod download`. */
	c->consecutive_failures = 5;
	/* The last 20 calls give the rate a 5% resolution and forget an
	 * incident after 20 calls; at least 10 of them so that 1 failure in 2
	 * calls after a restart is not taken for a 50% failure rate. */
	c->window_size = 20;
	c->window_min_calls = 10;
	/* Half the calls failing: from there on, failing over to the next
	 * upstream serves the client better than insisting. Below it, an
	 * intermittent upstream keeps its share and failover inside the
	 * request absorbs the errors. */
	c->failure_rate_pct = 50;
	/* A module proxy answers metadata in tens to hundreds of milliseconds
	 * (to the response headers); 5 s leaves room for an Athens filling a
	 * cold miss from the origin, and half the window being that slow is a
	 * brown-out, not bad luck. */
	c->slow_ms = 5000;
	c->slow_rate_pct = 50;
	/* One second first: a blip heals almost at once and a dead upstream
	 * costs at most one probe a second. Doubling while it stays bad, up to
	 * a minute: a dead upstream then costs one probe (one deadline for one
	 * client) a minute, and a healed one is back within a minute. */
	c->open_base_ms = 1000;
	c->open_max_ms = 60000;
	/* +-20%: gateways in a fleet, and the breakers of several pools opened
	 * by the same outage, spread their probes instead of probing in
	 * lockstep; small enough that each step stays longer than the last
	 * (1.2x < 0.8 * 2x). */
	c->jitter_pct = 20;
	/* One probe at a time: one request is enough to learn whether the
	 * upstream answers, and every extra probe to a still-dead upstream
	 * makes one more client wait out a deadline. One success closes: a
	 * still-flaky upstream trips again on the closed-state triggers. */
	c->half_open_probes = 1;
	c->half_open_successes = 1;
}

/* 0 if lo <= v <= hi, else -1 with the message "name (v) must be ...". */
static int in_range(const char *name, int v, int lo, int hi, const char *hint, char *err,
                    size_t errlen)
{
	if (v >= lo && v <= hi)
		return 0;
	errbuf_set(err, errlen, "breaker: %s (%d) must be between %d and %d%s", name, v, lo, hi,
	           hint);
	return -1;
}

int breaker_config_check(const struct breaker_config *c, char *err, size_t errlen)
{
	if (in_range("consecutive_failures", c->consecutive_failures, 0, BREAKER_CONSECUTIVE_MAX,
	             " (0 turns it off)", err, errlen) < 0 ||
	    in_range("window_size", c->window_size, 1, BREAKER_WINDOW_MAX, "", err, errlen) < 0 ||
	    in_range("window_min_calls", c->window_min_calls, 1, c->window_size,
	             " (the window size)", err, errlen) < 0 ||
	    in_range("failure_rate_pct", c->failure_rate_pct, 0, 100, " (0 turns it off)", err,
	             errlen) < 0 ||
	    in_range("slow_ms", c->slow_ms, 1, BREAKER_MS_MAX, "", err, errlen) < 0 ||
	    in_range("slow_rate_pct", c->slow_rate_pct, 0, 100, " (0 turns it off)", err, errlen) <
	        0 ||
	    in_range("open_base_ms", c->open_base_ms, 1, BREAKER_MS_MAX, "", err, errlen) < 0 ||
	    in_range("open_max_ms", c->open_max_ms, c->open_base_ms, BREAKER_MS_MAX,
	             " (at least open_base_ms)", err, errlen) < 0 ||
	    in_range("jitter_pct", c->jitter_pct, 0, 99, "", err, errlen) < 0 ||
	    in_range("half_open_probes", c->half_open_probes, 1, BREAKER_PROBES_MAX, "", err,
	             errlen) < 0 ||
	    in_range("half_open_successes", c->half_open_successes, 1, BREAKER_PROBES_MAX, "", err,
	             errlen) < 0)
		return -1;
	return 0;
}

int breaker_init(struct breaker *b, const struct breaker_config *c, uint64_t seed)
{
	if (breaker_config_check(c, NULL, 0) < 0)
		return -1;
	memset(b, 0, sizeof(*b));
	b->cfg = *c;
	b->state = BREAKER_CLOSED;
	b->mode = BREAKER_AUTO;
	b->last_reason = BREAKER_REASON_NONE;
	b->rng = seed;
	return 0;
}

/* ---- the window ---------------------------------------------------------- */

/* The window is a ring of the last window_size calls with running counts, so
 * pushing a call and reading a rate are O(1). Until the ring is full, slots
 * [0, window_calls) hold calls in order and ring_head == window_calls; once
 * full, ring_head points at the oldest call, which the next push replaces. */

static void window_clear(struct breaker *b)
{
	memset(b->ring, 0, sizeof(b->ring));
	b->ring_head = 0;
	b->window_calls = 0;
	b->window_failures = 0;
	b->window_slow = 0;
}

int breaker_reconfigure(struct breaker *b, const struct breaker_config *c)
{
	if (breaker_config_check(c, NULL, 0) < 0)
		return -1;
	if (c->window_size != b->cfg.window_size)
		window_clear(b);
	b->cfg = *c;
	return 0;
}

static void window_push(struct breaker *b, int failed, int slow)
{
	uint32_t n = (uint32_t)b->cfg.window_size;
	uint8_t v = (uint8_t)((failed ? SLOT_FAILED : 0) | (slow ? SLOT_SLOW : 0));

	if (b->window_calls == n) {
		uint8_t old = b->ring[b->ring_head];

		b->window_failures -= (old & SLOT_FAILED) ? 1 : 0;
		b->window_slow -= (old & SLOT_SLOW) ? 1 : 0;
	} else {
		b->window_calls++;
	}
	b->ring[b->ring_head] = v;
	b->window_failures += failed ? 1 : 0;
	b->window_slow += slow ? 1 : 0;
	b->ring_head = (b->ring_head + 1) % n;
}

/* Why the closed breaker must open now, or BREAKER_REASON_NONE. The rates are
 * compared in integers: failures/calls >= pct/100 as failures*100 >= pct*calls
 * (both sides well inside 32 bits: calls <= BREAKER_WINDOW_MAX). */
static enum breaker_reason trip_reason(const struct breaker *b)
{
	const struct breaker_config *c = &b->cfg;

	if (c->consecutive_failures > 0 &&
	    b->consecutive_failures >= (uint32_t)c->consecutive_failures)
		return BREAKER_REASON_CONSECUTIVE;
	if (b->window_calls < (uint32_t)c->window_min_calls)
		return BREAKER_REASON_NONE;
	if (c->failure_rate_pct > 0 &&
	    b->window_failures * 100 >= (uint32_t)c->failure_rate_pct * b->window_calls)
		return BREAKER_REASON_FAILURE_RATE;
	if (c->slow_rate_pct > 0 &&
	    b->window_slow * 100 >= (uint32_t)c->slow_rate_pct * b->window_calls)
		return BREAKER_REASON_SLOW_RATE;
	return BREAKER_REASON_NONE;
}

/* ---- the cool-down ------------------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood 2014): one add and two multiply-xorshifts,
 * good output from any seed including 0. Not for secrets; for spreading. */
static uint64_t next_random(struct breaker *b)
{
	uint64_t z = (b->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The cool-down for the consecutive_opens-th open in a row (>= 1):
 *   d = min(base * 2^(n-1), max)            doubled step by step, so no shift
 *                                            can overflow whatever n is;
 *   x = d - s + uniform[0, 2s], s = d*j/100  the jitter, +-j% of d;
 *   x > max: x = 2*max - x                   reflected, so x stays in
 *                                            [d - s, max] and at the cap the
 *                                            draws spread over [max - s, max]
 *                                            instead of piling up on max.
 * The modulo bias of uniform[0, 2s] is below 2s / 2^64: nothing. */
static int64_t cooldown_ms(struct breaker *b)
{
	int64_t base = b->cfg.open_base_ms, max = b->cfg.open_max_ms;
	int64_t d = base, s, x;

	for (uint32_t i = 1; i < b->consecutive_opens && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	s = d * b->cfg.jitter_pct / 100;
	x = d;
	if (s > 0)
		x = d - s + (int64_t)(next_random(b) % (uint64_t)(2 * s + 1));
	if (x > max)
		x = 2 * max - x;
	return x < 1 ? 1 : x;
}

/* ---- transitions --------------------------------------------------------- */

/* Every transition moves the epoch, so permits given before it are late, and
 * starts a fresh half-open period (no probes out, none succeeded). */
static void enter(struct breaker *b, enum breaker_state s)
{
	if (b->state != s)
		b->transitions++;
	b->state = s;
	b->epoch++;
	b->probes_in_flight = 0;
	b->probe_successes = 0;
}

/* Closing forgets the past: the window, the run of failures and the back-off
 * step start again from zero. */
static void enter_closed(struct breaker *b)
{
	enter(b, BREAKER_CLOSED);
	window_clear(b);
	b->consecutive_failures = 0;
	b->consecutive_opens = 0;
}

/* The window is kept as it was when the breaker tripped, so the status page
 * can show why. */
static void enter_open(struct breaker *b, enum breaker_reason why, int64_t now)
{
	enter(b, BREAKER_OPEN);
	b->opens++;
	b->last_reason = why;
	if (b->consecutive_opens < UINT32_MAX)
		b->consecutive_opens++;
	b->open_until = now + cooldown_ms(b);
}

/* OPEN turns HALF_OPEN once its cool-down is over; nothing else moves with
 * time alone. 1 if it did. */
static int advance(struct breaker *b, int64_t now)
{
	if (b->mode != BREAKER_AUTO || b->state != BREAKER_OPEN || now < b->open_until)
		return 0;
	enter(b, BREAKER_HALF_OPEN);
	return 1;
}

/* ---- calls --------------------------------------------------------------- */

int breaker_allow(struct breaker *b, int64_t now, struct breaker_permit *p)
{
	memset(p, 0, sizeof(*p));
	advance(b, now);
	switch (b->state) {
	case BREAKER_CLOSED:
		break;
	case BREAKER_HALF_OPEN:
		if (b->probes_in_flight >= b->cfg.half_open_probes)
			goto refuse;
		b->probes_in_flight++;
		p->probe = 1;
		break;
	default:
		goto refuse;
	}
	p->epoch = b->epoch;
	p->held = 1;
	return 1;
refuse:
	b->rejected++;
	return 0;
}

void breaker_release(struct breaker *b, struct breaker_permit *p)
{
	if (!p->held)
		return;
	if (p->probe && p->epoch == b->epoch && b->probes_in_flight > 0)
		b->probes_in_flight--;
	memset(p, 0, sizeof(*p));
}

int breaker_record(struct breaker *b, struct breaker_permit *p, enum breaker_outcome o,
                   int64_t latency_ms, int64_t now)
{
	struct breaker_permit held = *p;
	int failed, slow;
	enum breaker_reason why;

	if (!held.held)
		return 0;
	if (o != BREAKER_SUCCESS && o != BREAKER_FAILURE) {
		breaker_release(b, p);
		return 0;
	}
	memset(p, 0, sizeof(*p));
	failed = o == BREAKER_FAILURE;
	slow = latency_ms > b->cfg.slow_ms;
	if (failed)
		b->failures++;
	else
		b->successes++;
	if (slow)
		b->slow++;
	if (held.epoch != b->epoch) {
		/* Allowed before the last transition: what it says is about the
		 * upstream as it was then. */
		b->late++;
		return 0;
	}
	if (failed) {
		if (b->consecutive_failures < UINT32_MAX)
			b->consecutive_failures++;
	} else {
		b->consecutive_failures = 0;
	}

	switch (b->state) {
	case BREAKER_CLOSED:
		window_push(b, failed, slow);
		if (b->mode != BREAKER_AUTO)
			return 0;
		why = trip_reason(b);
		if (why == BREAKER_REASON_NONE)
			return 0;
		enter_open(b, why, now);
		return 1;
	case BREAKER_HALF_OPEN:
		/* Only probes hold a permit of a half-open epoch. A slow answer
		 * is no proof of health when slow calls can trip the breaker:
		 * closing on it would let window_min_calls more slow calls
		 * through before the rate trips again, on every cycle. */
		if (held.probe && b->probes_in_flight > 0)
			b->probes_in_flight--;
		if (failed || (slow && b->cfg.slow_rate_pct > 0)) {
			enter_open(b, BREAKER_REASON_PROBE, now);
			return 1;
		}
		if (++b->probe_successes < b->cfg.half_open_successes)
			return 0;
		enter_closed(b);
		return 1;
	default:
		/* OPEN gives no permits, so none can be of its epoch. */
		return 0;
	}
}

/* ---- queries and manual control ------------------------------------------ */

enum breaker_state breaker_state(struct breaker *b, int64_t now)
{
	advance(b, now);
	return b->state;
}

enum breaker_mode breaker_mode(const struct breaker *b)
{
	return b->mode;
}

int breaker_set_mode(struct breaker *b, enum breaker_mode m)
{
	enum breaker_state before = b->state;
	enum breaker_mode was = b->mode;

	if (m == was)
		return 0;
	switch (m) {
	case BREAKER_FORCED_OPEN:
		b->mode = m;
		if (b->state != BREAKER_OPEN)
			b->opens++;
		enter(b, BREAKER_OPEN);
		b->last_reason = BREAKER_REASON_FORCED;
		b->consecutive_opens = 0;
		break;
	case BREAKER_FORCED_CLOSED:
		b->mode = m;
		enter_closed(b);
		break;
	case BREAKER_AUTO:
		b->mode = m;
		/* Probes first after a drain; after forced closed, the window
		 * collected meanwhile speaks for the upstream. */
		if (was == BREAKER_FORCED_OPEN)
			enter(b, BREAKER_HALF_OPEN);
		break;
	default:
		return 0;
	}
	return b->state != before;
}

int64_t breaker_ms_until_half_open(const struct breaker *b, int64_t now)
{
	if (b->mode == BREAKER_FORCED_OPEN)
		return -1;
	if (b->state != BREAKER_OPEN || now >= b->open_until)
		return 0;
	return b->open_until - now;
}

void breaker_counters(const struct breaker *b, struct breaker_counters *out)
{
	memset(out, 0, sizeof(*out));
	out->transitions = b->transitions;
	out->opens = b->opens;
	out->successes = b->successes;
	out->failures = b->failures;
	out->slow = b->slow;
	out->rejected = b->rejected;
	out->late = b->late;
	out->consecutive_failures = b->consecutive_failures;
	out->consecutive_opens = b->consecutive_opens;
	out->window_calls = b->window_calls;
	out->window_failures = b->window_failures;
	out->window_slow = b->window_slow;
	if (b->window_calls > 0) {
		out->failure_rate_pct = (int)(b->window_failures * 100 / b->window_calls);
		out->slow_rate_pct = (int)(b->window_slow * 100 / b->window_calls);
	}
	out->probes_in_flight = b->probes_in_flight;
	out->probe_successes = b->probe_successes;
	out->last_reason = b->last_reason;
}

const char *breaker_state_name(enum breaker_state s)
{
	switch (s) {
	case BREAKER_CLOSED:
		return "closed";
	case BREAKER_OPEN:
		return "open";
	case BREAKER_HALF_OPEN:
		return "half-open";
	}
	return "?";
}

const char *breaker_mode_name(enum breaker_mode m)
{
	switch (m) {
	case BREAKER_AUTO:
		return "auto";
	case BREAKER_FORCED_OPEN:
		return "forced-open";
	case BREAKER_FORCED_CLOSED:
		return "forced-closed";
	}
	return "?";
}

const char *breaker_reason_name(enum breaker_reason r)
{
	switch (r) {
	case BREAKER_REASON_NONE:
		return "none";
	case BREAKER_REASON_CONSECUTIVE:
		return "consecutive failures";
	case BREAKER_REASON_FAILURE_RATE:
		return "failure rate";
	case BREAKER_REASON_SLOW_RATE:
		return "slow calls";
	case BREAKER_REASON_PROBE:
		return "probe failed";
	case BREAKER_REASON_FORCED:
		return "forced";
	}
	return "?";
}

const char *breaker_outcome_name(enum breaker_outcome o)
{
	switch (o) {
	case BREAKER_SUCCESS:
		return "success";
	case BREAKER_FAILURE:
		return "failure";
	case BREAKER_IGNORED:
		return "ignored";
	}
	return "?";
}
