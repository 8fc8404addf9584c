/*
 * server — the HTTP side: libevhtp on the one loop, GOPROXY routing, cache
 * hits sent with sendfile, misses joined to flights and streamed as they
 * grow, stale answers when every upstream fails, negative answers.
 *
 * Ownership: main owns the server; the server owns its config copy, the
 * cache store, the fetch context, the worker pool, the flight index and
 * every per-request context (freed in on_request_fini). Loop thread only.
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

/* The port actually bound (useful with port 0). */
int server_port(const struct server *s);

/* The admin endpoint's port, 0 when it is off. */
int server_admin_port(const struct server *s);

/* Stops listening, cancels fetches, waits for pending commits and frees
 * everything. Call after the loop has stopped. */
/* Graceful stop: closes the listener (new connections are refused), lets
 * the requests in flight finish, and ends the event loop once none is left
 * or after cfg's stop_timeout. Loop thread; idempotent. */
void server_stop(struct server *s);

/* The event loop s runs on (borrowed). */
struct event_base *server_base(const struct server *s);

void server_free(struct server *s);

#endif
