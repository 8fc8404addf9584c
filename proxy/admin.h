/*
 * admin — the operator's endpoint, on its own listener (loopback by
 * default): every upstream's state as text for people and JSON for
 * machines, and the manual controls that are the first step of every
 * runbook.
 *
 *   GET  /upstreams                     text table (JSON with ?format=json
 *                                       or Accept: application/json)
 *   POST /upstreams/drain?name=NAME     take out of rotation; in-flight work finishes
 *   POST /upstreams/undrain?name=NAME   back into rotation
 *   POST /upstreams/open?name=NAME      force its breaker open
 *   POST /upstreams/close?name=NAME     force its breaker closed
 *   POST /upstreams/auto?name=NAME      give the breaker back to its state machine
 *
 * NAME is an upstream's URL as shown (without credentials) or any part of
 * it that matches exactly one upstream, such as its host.
 *
 * Ownership: the server owns the admin listener; it borrows the pool set.
 * Loop thread only.
 */
#ifndef MODGATE_ADMIN_H
#define MODGATE_ADMIN_H

#include <event2/event.h>
#include <stddef.h>

struct admin;
struct pool_set;

struct evbuffer;

/* Writes the Prometheus text of GET /metrics into out. */
typedef void (*admin_metrics_fn)(void *arg, struct evbuffer *out);

/* Listens on host:port (port 0 picks one); metrics(metrics_arg, out) answers
 * GET /metrics. NULL with err filled on failure. */
struct admin *admin_new(struct event_base *base, struct pool_set *pools, admin_metrics_fn metrics,
                        void *metrics_arg, const char *host, int port, char *err, size_t errlen);

/* page(arg, out) answers GET / with the status page's HTML. */
void admin_set_page(struct admin *a, admin_metrics_fn page, void *arg);

/* The port bound. */
int admin_port(const struct admin *a);

/* Closes the listener and its connections. */
void admin_free(struct admin *a);

#endif
