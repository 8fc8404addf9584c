/*
 * breaker-t.h — the types of one upstream's circuit breaker.
 *
 * Everything is a plain value with fixed-size fields and no pointers: the
 * owner (an upstream of a pool) embeds a struct breaker and a
 * struct breaker_config, and each in-flight attempt embeds the
 * struct breaker_permit it was given. No allocation, no global state.
 */
#ifndef MODGATE_BREAKER_T_H
#define MODGATE_BREAKER_T_H

#include <stdint.h>

/* Longest sliding window of calls (window_size); one byte per call. */
#define BREAKER_WINDOW_MAX 512
/* Longest duration any setting accepts: one day, in milliseconds. */
#define BREAKER_MS_MAX (24 * 3600 * 1000)
/* Most probes or probe successes half-open may ask for. */
#define BREAKER_PROBES_MAX 1000
/* Most consecutive failures the K trigger may ask for. */
#define BREAKER_CONSECUTIVE_MAX 100000

/* The state the pool sees. A forced mode shows as OPEN or CLOSED; ask
 * breaker_mode() to tell a forced state from an automatic one. */
enum breaker_state {
	BREAKER_CLOSED,    /* calls go through; outcomes fill the window */
	BREAKER_OPEN,      /* calls are refused until the cool-down ends */
	BREAKER_HALF_OPEN, /* at most half_open_probes calls at once go through */
};

/* Who decides the state: the state machine, or an operator. */
enum breaker_mode {
	BREAKER_AUTO,          /* the state machine */
	BREAKER_FORCED_OPEN,   /* refuse every call until told otherwise (drain) */
	BREAKER_FORCED_CLOSED, /* allow every call, never trip (the breaker is wrong) */
};

/* What a permitted call taught us about the upstream. */
enum breaker_outcome {
	/* The upstream answered. Includes 404 and 410: those are answers about
	 * the module, not failures of the upstream. */
	BREAKER_SUCCESS,
	/* Connect error, deadline miss, reset, 5xx, 429, bytes that failed
	 * verification. */
	BREAKER_FAILURE,
	/* Nothing learned: we cancelled the call ourselves (hedge loser, client
	 * gone, shutdown). Frees a probe slot, counts nowhere; the same as
	 * breaker_release(). */
	BREAKER_IGNORED,
};

/* Why the breaker last opened (for logs and the status page). */
enum breaker_reason {
	BREAKER_REASON_NONE,         /* it never opened */
	BREAKER_REASON_CONSECUTIVE,  /* consecutive_failures in a row */
	BREAKER_REASON_FAILURE_RATE, /* failure rate over the window */
	BREAKER_REASON_SLOW_RATE,    /* slow-call rate over the window */
	BREAKER_REASON_PROBE,        /* a half-open probe failed or was slow */
	BREAKER_REASON_FORCED,       /* an operator forced it open */
};

/* The settings of one breaker; breaker_config_default() explains the
 * defaults and breaker_config_check() the accepted ranges. A trigger set to
 * 0 is off. */
struct breaker_config {
	int consecutive_failures; /* K: open after K failures in a row; 0 = off */
	int window_size;          /* N: the sliding window holds the last N calls */
	int window_min_calls;     /* M: the rate triggers need >= M calls in the window */
	int failure_rate_pct;     /* open when failures*100 >= pct*calls; 0 = off */
	int slow_ms;              /* a call whose latency is > slow_ms is slow */
	int slow_rate_pct;        /* open when slow*100 >= pct*calls; 0 = off */
	int open_base_ms;         /* the first cool-down */
	int open_max_ms;          /* no cool-down is longer, jitter included */
	int jitter_pct;           /* each cool-down is moved by up to +-pct% */
	int half_open_probes;     /* P: probes in flight at once when half-open */
	int half_open_successes;  /* S: probe successes that close the breaker */
};

/* Given by breaker_allow() to one call, handed back to breaker_record() or
 * breaker_release(). All zero (or spent) means "holds nothing": recording or
 * releasing it again does nothing, so a request's cleanup may always release. */
struct breaker_permit {
	uint32_t epoch; /* the breaker's epoch when the call was allowed */
	uint8_t held;   /* 1 until recorded or released */
	uint8_t probe;  /* 1 if the call holds a half-open probe slot */
};

/* A snapshot for metrics and the status page. */
struct breaker_counters {
	uint64_t transitions;          /* changes of the state the pool sees */
	uint64_t opens;                /* times it entered OPEN, forced ones included */
	uint64_t successes;            /* every SUCCESS recorded, late ones included */
	uint64_t failures;             /* every FAILURE recorded, late ones included */
	uint64_t slow;                 /* every recorded call slower than slow_ms */
	uint64_t rejected;             /* calls breaker_allow() refused */
	uint64_t late;                 /* outcomes of calls allowed before the last transition */
	uint32_t consecutive_failures; /* since the last success or close */
	uint32_t consecutive_opens;    /* opens since the last close: the back-off step */
	uint32_t window_calls;         /* calls in the window (cleared on close) */
	uint32_t window_failures;
	uint32_t window_slow;
	int failure_rate_pct; /* window_failures*100/window_calls, rounded down; 0 if empty */
	int slow_rate_pct;    /* window_slow*100/window_calls, rounded down; 0 if empty */
	int probes_in_flight; /* half-open probe slots taken */
	int probe_successes;  /* in the current half-open period */
	enum breaker_reason last_reason;
};

/* One upstream's breaker. Fields are private to breaker.c: read them through
 * breaker.h. */
struct breaker {
	struct breaker_config cfg;
	enum breaker_state state;
	enum breaker_mode mode;
	enum breaker_reason last_reason;
	uint32_t epoch;     /* bumped on every transition: older permits are late */
	int64_t open_until; /* OPEN (auto): when it turns half-open */
	uint64_t rng;       /* splitmix64 state for the jitter */
	uint32_t consecutive_failures;
	uint32_t consecutive_opens;
	int probes_in_flight;
	int probe_successes;
	/* The window: a ring of the last window_size calls, one byte each. */
	uint8_t ring[BREAKER_WINDOW_MAX];
	uint32_t ring_head; /* where the next call goes */
	uint32_t window_calls;
	uint32_t window_failures;
	uint32_t window_slow;
	/* Totals. */
	uint64_t transitions;
	uint64_t opens;
	uint64_t successes;
	uint64_t failures;
	uint64_t slow;
	uint64_t rejected;
	uint64_t late;
};

#endif
