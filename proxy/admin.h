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
 *   POST /reload                        load the configuration again (as SIGHUP):
 *                                       200 and what changed, or 409 and why
 *                                       it was refused (the old one stays)
 *
 * GETs are open to whoever reaches the listener (they hold no secret).
 * POSTs need "Authorization: Bearer TOKEN" when [admin] token_file or
 * token_env is set (401 otherwise), and without a token are taken from
 * loopback clients only (403 otherwise). A POST a browser sent (Origin,
 * or Sec-Fetch-Site other than none) is refused either way (403). The
 * token is the current pool set's, so a reload rotates it.
 *
 * NAME is an upstream's URL as shown (without credentials) or any part of
 * it that matches exactly one upstream, such as its host.
 *
 * Ownership: the server owns the admin listener; it borrows the current pool
 * set (admin_set_pools after a reload). Loop thread only.
 */
#ifndef MODGATE_ADMIN_H
#define MODGATE_ADMIN_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

struct admin;
struct pool_set;

struct evbuffer;
struct sockaddr;

/* Writes the Prometheus text of GET /metrics into out. */
typedef void (*admin_metrics_fn)(void *arg, struct evbuffer *out);

/* Reloads the configuration: 0 accepted, -1 refused; msg (len bytes) says
 * what changed or why not, in one line. */
typedef int (*admin_reload_fn)(void *arg, char *msg, size_t len);

/* Listens on host:port (port 0 picks one); metrics(arg, out) answers
 * GET /metrics and reload(arg, ...) POST /reload. NULL with err filled on
 * failure. */
struct admin *admin_new(struct event_base *base, struct pool_set *pools, admin_metrics_fn metrics,
                        admin_reload_fn reload, void *arg, const char *host, int port, char *err,
                        size_t errlen);

/* The pool set answers are computed from from now on (borrowed). */
void admin_set_pools(struct admin *a, struct pool_set *pools);

/* page(arg, out) answers GET / with the status page's HTML. */
void admin_set_page(struct admin *a, admin_metrics_fn page, void *arg);

/* 1 when a client at sa is on this host, so may change things without a
 * token: 127.0.0.0/8, ::1, or ::ffff:127.x.y.z (a dual-stack listener). 0
 * for anything else, NULL included. Pure. */
int admin_peer_is_local(const struct sockaddr *sa);

/* POSTs refused so far (no token, wrong token, not from this host). */
uint64_t admin_denied(const struct admin *a);

/* The port bound. */
int admin_port(const struct admin *a);

/* Closes the listener and its connections. */
void admin_free(struct admin *a);

#endif
