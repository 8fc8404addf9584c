/*
 * fetch — upstream HTTP transfers: libcurl's multi interface driven by the
 * libevent loop (one event per socket through curl_multi_assign, one timer
 * for curl's timeouts). No call here ever blocks the loop.
 *
 * Ownership: the loop owns the fetch context; a transfer belongs to the
 * context from fetch_start until its on_done has returned (then it is
 * freed) or until fetch_cancel. Loop thread only.
 */
#ifndef MODGATE_FETCH_H
#define MODGATE_FETCH_H

#include <event2/event.h>
#include <stddef.h>
#include <sys/types.h>

struct fetch_ctx;
struct fetch;

enum fetch_result {
	FETCH_OK,      /* a complete response, whatever its status */
	FETCH_CONNECT, /* could not connect (refused, DNS, TLS) */
	FETCH_TIMEOUT, /* a deadline passed (connect, idle) */
	FETCH_BROKEN,  /* reset, truncated or otherwise broken transfer */
	FETCH_ABORTED, /* a callback asked to stop */
};

/* What a transfer sends in its Authorization header. */
enum fetch_auth {
	FETCH_AUTH_NONE,
	FETCH_AUTH_BEARER, /* secret is the token */
	FETCH_AUTH_BASIC,  /* secret is "user:password", split at the first ':' */
};

struct fetch_opts {
	long connect_timeout_ms;
	long first_byte_timeout_ms; /* after connecting, until the response starts */
	long idle_timeout_ms;       /* no byte for this long aborts the transfer */
	long total_timeout_ms;      /* the whole transfer; 0: no bound */
	const char *request_id;     /* sent as X-Request-Id (copied); NULL: none */
	/* The upstream's credential (copied). It goes to the URL's own scheme,
	 * host and port only: a redirect elsewhere is followed without it. */
	enum fetch_auth auth;
	const char *secret;
};

/* Callbacks run on the loop thread, from inside libcurl's callbacks for
 * on_response and on_data (so they must not call fetch_* or curl), and
 * outside them for on_done. */
struct fetch_callbacks {
	/* The final response's status line and headers have arrived.
	 * content_length is -1 when unknown. Return 0 to go on, -1 to abort. */
	int (*on_response)(void *arg, long status, off_t content_length);
	/* Body bytes of the final response (borrowed). 0 to go on, -1 to abort. */
	int (*on_data)(void *arg, const char *buf, size_t len);
	/* The transfer is over; status is the final HTTP status (0 if none),
	 * errmsg a one-line reason when result is not FETCH_OK. The transfer is
	 * freed when on_done returns; it may start new transfers. */
	void (*on_done)(void *arg, enum fetch_result result, long status, const char *errmsg);
};

/* A context whose transfers run on base; NULL on failure. Call
 * curl_global_init once before the first one. */
struct fetch_ctx *fetch_ctx_new(struct event_base *base);

/* Cancels every transfer (without callbacks) and frees the context. */
void fetch_ctx_free(struct fetch_ctx *ctx);

/* Starts GET url (copied). cb is borrowed and must outlive the transfer; arg
 * is passed back. Returns the transfer, or NULL with nothing started.
 * Not from inside on_response / on_data. */
struct fetch *fetch_start(struct fetch_ctx *ctx, const char *url, const struct fetch_opts *opts,
                          const struct fetch_callbacks *cb, void *arg);

/* Stops a transfer; none of its callbacks run afterwards. Not from inside
 * on_response / on_data. */
void fetch_cancel(struct fetch *f);

/* Number of transfers running. */
int fetch_running(const struct fetch_ctx *ctx);

const char *fetch_result_str(enum fetch_result r);

#endif
