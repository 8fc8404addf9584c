/*
 * conns — the client connections of one libevhtp listener, counted and
 * bounded, so a listener can refuse one too many and close them all at
 * shutdown (libevhtp's evhtp_free leaves open connections behind).
 *
 * Ownership: the listener's owner embeds the set; each tracked connection
 * has a small node freed by its on_connection_fini hook. Loop thread only.
 */
#ifndef MODGATE_CONNS_H
#define MODGATE_CONNS_H

#include <evhtp.h>
#include <stdint.h>
#include <sys/queue.h>

struct conn_node;

struct conn_set {
	LIST_HEAD(, conn_node) all;
	int n;
	int max;          /* 0: no bound */
	uint64_t refused; /* connections refused for max */
	const char *what; /* names the listener in the log line of a refusal */
	/* Called when the last tracked connection has closed, if set (the
	 * graceful stop waits for it). From a libevhtp callback. */
	void (*on_empty)(void *arg);
	void *on_empty_arg;
};

void conn_set_init(struct conn_set *s, int max, const char *what);

/* For evhtp_set_post_accept_cb with the set as arg: tracks conn, sets
 * TCP_NODELAY, or refuses it (logged) when the set is full. */
evhtp_res conn_set_on_accept(evhtp_connection_t *conn, void *arg);

/* The address of conn's client as text ("127.0.0.1", "::1") in buf (len
 * bytes; INET6_ADDRSTRLEN is enough). 0; or -1 with buf "" when conn or
 * its address is unknown. */
int conn_peer_text(evhtp_connection_t *conn, char *buf, size_t len);

/* The port a bound libevhtp listener got (useful with port 0), or -1. */
int conn_listener_port(evhtp_t *htp);

/* Binds htp to host:port ("" for every address, an IPv6 literal without
 * brackets). 0, or -1 with err filled. */
int conn_listener_bind(evhtp_t *htp, const char *host, int port, char *err, size_t errlen);

/* Frees every tracked connection (their requests' fini hooks run). */
void conn_set_close_all(struct conn_set *s);

/* For a graceful stop: frees every connection that has no request under
 * way (an idle keep-alive one), and makes each busy one close once its
 * response has gone out (keep-alive off). */
void conn_set_close_idle(struct conn_set *s);

#endif
