/*
 * server — the HTTP side: libevhtp on the one loop, GOPROXY routing, cache
 * hits sent with sendfile, misses joined to flights and streamed as they
 * grow, stale answers when every upstream fails, negative answers.
 *
 * Ownership: main owns the server; the server owns its configuration (one
 * reference-counted generation, see pool.h), the cache store, the fetch context, the worker pool,
 * the flight index and every per-request context (freed in on_request_fini). Loop thread only.
 */
#ifndef MODGATE_SERVER_H
#define MODGATE_SERVER_H

#include <event2/event.h>
#include <stddef.h>

#include "proxy/config-t.h"

struct server;

/* Opens the cache, starts the workers and binds the listener described by
 * cfg (copied). NULL with err filled on failure. */
struct server *server_new(struct event_base *base, const struct config *cfg, char *err,
                          size_t errlen);

/* Reads the configuration again for a reload, exactly as at start
 * (defaults, environment, file, command line), into *out. 0, or -1 with
 * err. */
typedef int (*server_load_fn)(void *arg, struct config *out, char *err, size_t errlen);

/* The loader server_reload uses (arg borrowed). */
void server_set_loader(struct server *s, server_load_fn load, void *arg);

/* Reloads (SIGHUP, POST /reload): loads the configuration with the loader
 * and applies it — pools, routes, upstreams, credentials, breaker
 * settings, timeouts, TTLs, nosumdb, noproxy, log settings,
 * max_connections, stop_timeout — for requests that start from now on;
 * requests in flight finish with the generation they started in.
 * Upstreams still configured keep their breaker state and drain flag. A
 * config that does not load, or that changes what needs a restart (see
 * reload.h), is refused and the running one stays. 0 accepted, -1
 * refused; msg (len bytes) gets one line saying what changed or why not;
 * one event line is logged either way. Loop thread (a signal event or
 * the admin endpoint's callback). */
int server_reload(struct server *s, char *msg, size_t len);

/* Graceful stop (SIGTERM): closes the listener (new connections are
 * refused), closes idle keep-alive connections, and lets requests in
 * flight finish, each connection closing after its response. The loop
 * is ended (event_base_loopexit) when the last one is done, or when
 * stop_timeout is over; then server_free cuts what is left. A second
 * call ends the loop at once. Loop thread. */
void server_stop(struct server *s);

/* The port actually bound (useful with port 0). */
int server_port(const struct server *s);

/* The admin endpoint's port, 0 when it is off. */
int server_admin_port(const struct server *s);

/* Stops listening, cancels fetches, waits for pending commits and frees
 * everything. Call after the loop has stopped. */
void server_free(struct server *s);

#endif
