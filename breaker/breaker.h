/*
 * breaker — one upstream's circuit breaker: a state machine that turns the
 * outcomes of past calls into "may the next call go?".
 *
 *   CLOSED --(K failures in a row, or failure rate >= F% over the last N
 *             calls, or slow-call rate >= W% over them; the rates once M
 *             calls are in the window)--> OPEN
 *   OPEN   --(cool-down over)--> HALF_OPEN
 *   HALF_OPEN --(S probe successes)--> CLOSED (back-off reset, window cleared)
 *   HALF_OPEN --(a probe fails, or is slow)--> OPEN (next, longer cool-down)
 *
 * The n-th open in a row lasts base * 2^(n-1), capped at max, then moved by
 * up to +-jitter% (reflected below max, so it never exceeds max) from a
 * splitmix64 generator that lives in the struct: a fleet seeded differently
 * does not probe in lockstep, and a test seeded the same sees the same
 * numbers.
 *
 * Every allowed call gets a permit carrying the breaker's epoch, which moves
 * on every transition. An outcome whose permit is from an older epoch (a
 * call that started before the breaker opened and timed out after) still
 * counts in the totals but never moves the state machine: a late burst of
 * 30-second deadline misses cannot reopen a breaker that a probe just closed,
 * nor be taken for a probe's answer.
 *
 * Pure code: no I/O, no clock, no allocation, no global state. Time is the
 * caller's monotonic clock in milliseconds. The owner embeds struct breaker
 * (see breaker-t.h) and is its only user: loop thread only, never shared
 * between threads. Any function may be called from inside a libcurl or
 * libevhtp callback on the loop thread; none calls back.
 */
#ifndef MODGATE_BREAKER_H
#define MODGATE_BREAKER_H

#include <stddef.h>
#include <stdint.h>

#include "breaker/breaker-t.h"

/* Fills *c with the defaults (each one is justified in breaker.c). */
void breaker_config_default(struct breaker_config *c);

/* 0 if *c is usable, or -1 with one line in err naming the first bad field
 * and its accepted range (err may be NULL; the line is cut to errlen).
 * *c is borrowed. */
int breaker_config_check(const struct breaker_config *c, char *err, size_t errlen);

/* Starts *b closed, automatic, with empty counters and a copy of *c; seed
 * feeds the jitter (any value, 0 included). 0, or -1 when *c fails
 * breaker_config_check (then *b is untouched). *b is the caller's (usually
 * embedded in an upstream); nothing to free. */
int breaker_init(struct breaker *b, const struct breaker_config *c, uint64_t seed);

/* Gives a running breaker new settings (a config reload) without forgetting
 * what it knows: its state, mode (forced or drained by an operator), the
 * current cool-down, the back-off step, permits in flight and the totals
 * stay. Only a change of window_size empties the window, whose slots would
 * no longer line up. 0, or -1 when *c fails breaker_config_check (then *b is
 * untouched). */
int breaker_reconfigure(struct breaker *b, const struct breaker_config *c);

/* May a call go to this upstream now? 1 and *p filled, or 0 (refused; *p
 * cleared, and the refusal is counted). Turns OPEN into HALF_OPEN when the
 * cool-down is over; in HALF_OPEN it takes one of the probe slots, which the
 * call holds until its permit is recorded or released. Every 1 must be
 * followed by exactly one breaker_record() or breaker_release() of *p; *p is
 * the caller's, embedded in the attempt. */
int breaker_allow(struct breaker *b, int64_t now, struct breaker_permit *p);

/* Records how the call holding *p ended and spends *p (a spent or zeroed
 * permit is ignored: 0). latency_ms is what the call took (negative counts as
 * 0); above slow_ms the call is slow, whatever its outcome. Measure to the
 * response headers rather than to the end of the body, or every large .zip
 * counts as slow. Returns 1 if this outcome changed the state (log it), 0
 * otherwise. */
int breaker_record(struct breaker *b, struct breaker_permit *p, enum breaker_outcome o,
                   int64_t latency_ms, int64_t now);

/* The call holding *p ended without an outcome (cancelled by us): frees its
 * probe slot, counts nowhere, spends *p. A spent or zeroed permit is ignored,
 * so a request's cleanup may call this unconditionally, even twice. */
void breaker_release(struct breaker *b, struct breaker_permit *p);

/* The state at now (OPEN turns HALF_OPEN once its cool-down is over; this
 * counts as the transition). Forced modes show as OPEN or CLOSED. */
enum breaker_state breaker_state(struct breaker *b, int64_t now);

/* Who decides the state now. */
enum breaker_mode breaker_mode(const struct breaker *b);

/* Hands the state to an operator or back to the state machine:
 *   BREAKER_FORCED_OPEN    refuse everything (drain); no automatic half-open;
 *   BREAKER_FORCED_CLOSED  allow everything, never trip; the window is
 *                          cleared and keeps filling, for the status page;
 *   BREAKER_AUTO           from forced open: HALF_OPEN, so probes decide
 *                          before traffic returns; from forced closed: stays
 *                          CLOSED with the window it has (it may trip on the
 *                          next outcome); from auto: nothing.
 * Forcing resets the back-off and makes every outstanding permit late. An
 * unknown m does nothing. Returns 1 if the state the pool sees changed. */
int breaker_set_mode(struct breaker *b, enum breaker_mode m);

/* Milliseconds until the breaker turns half-open, for Retry-After: 0 when it
 * is not open (or the cool-down is already over), -1 when forced open (no
 * automatic end). */
int64_t breaker_ms_until_half_open(const struct breaker *b, int64_t now);

/* Fills *out with a snapshot of the counters (see breaker-t.h). Does not
 * advance the state: call breaker_state() first for an up-to-date view. */
void breaker_counters(const struct breaker *b, struct breaker_counters *out);

/* Static lower-case names for logs and JSON: "closed", "open", "half-open";
 * "auto", "forced-open", "forced-closed"; "none", "consecutive failures",
 * "failure rate", "slow calls", "probe failed", "forced"; "success",
 * "failure", "ignored". An unknown value gives "?". */
const char *breaker_state_name(enum breaker_state s);
const char *breaker_mode_name(enum breaker_mode m);
const char *breaker_reason_name(enum breaker_reason r);
const char *breaker_outcome_name(enum breaker_outcome o);

#endif
