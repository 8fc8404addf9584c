/*
 * admin — upstream status and manual control over HTTP.
 *
 * Every answer is computed from the pool set at the moment of the request:
 * there is no second copy of the state to drift. Changes take effect for
 * the next pick; transfers already running finish.
 */
#include "proxy/admin.h"

#include "proxy/config.h"
#include "proxy/conns.h"
#include "proxy/flight.h"
#include "proxy/log.h"
#include "proxy/pool.h"

#include <evhtp.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct admin {
	evhtp_t *htp;
	struct pool_set *pools;
	admin_metrics_fn metrics;
	admin_reload_fn reload;
	void *arg;
	admin_metrics_fn page; /* GET /: the status page, or NULL */
	void *page_arg;
	struct conn_set conns;
	int port;
	uint64_t denied; /* POSTs refused for want of the token */
};

static void reply(evhtp_request_t *req, int status, const char *type, const char *body)
{
	evhtp_headers_add_header(req->headers_out, evhtp_header_new("Content-Type", type, 0, 0));
	evhtp_headers_add_header(req->headers_out,
	                         evhtp_header_new("Cache-Control", "no-store", 0, 0));
	evbuffer_add(req->buffer_out, body, strlen(body));
	evhtp_send_reply(req, status);
}

static void reply_line(evhtp_request_t *req, int status, const char *line)
{
	char buf[1400];

	snprintf(buf, sizeof(buf), "%s\n", line);
	reply(req, status, "text/plain; charset=utf-8", buf);
}

/* The pools that name up, and its weight in each, e.g. "public:3 corp:1b". */
static void memberships(struct pool_set *ps, struct upstream *up, char *buf, size_t len)
{
	size_t off = 0;
	int i, j, n;

	buf[0] = '\0';
	for (i = 0; i < ps->n_pools; i++) {
		for (j = 0; j < ps->pools[i].n; j++) {
			struct pool_member *m = &ps->pools[i].members[j];

			if (m->up != up || off >= len)
				continue;
			n = snprintf(buf + off, len - off, "%s%s:%d%s", off ? " " : "",
			             ps->pools[i].name, m->weight, m->backup ? "b" : "");
			if (n > 0)
				off += (size_t)n;
		}
	}
}

static const char *mode_of(struct upstream *up)
{
	return up->drained ? "drained" : breaker_mode_name(breaker_mode(&up->breaker));
}

static json_t *upstream_json(struct pool_set *ps, struct upstream *up, int64_t now)
{
	struct breaker_counters bc;
	json_t *o = json_object(), *pools = json_array();
	enum breaker_state st = breaker_state(&up->breaker, now);
	char auth[CONFIG_CRED_SOURCE_MAX + 64];
	int i, j;

	breaker_counters(&up->breaker, &bc);
	for (i = 0; i < ps->n_pools; i++) {
		for (j = 0; j < ps->pools[i].n; j++) {
			struct pool_member *m = &ps->pools[i].members[j];

			if (m->up != up)
				continue;
			json_array_append_new(pools, json_pack("{s:s, s:i, s:b}", "pool",
			                                       ps->pools[i].name, "weight",
			                                       m->weight, "backup", m->backup));
		}
	}
	json_object_set_new(o, "url", json_string(up->shown));
	json_object_set_new(o, "auth",
	                    json_string(config_cred_describe(up->cred, auth, sizeof(auth))));
	json_object_set_new(o, "state", json_string(breaker_state_name(st)));
	json_object_set_new(o, "mode", json_string(mode_of(up)));
	json_object_set_new(o, "drained", json_boolean(up->drained));
	json_object_set_new(o, "pools", pools);
	json_object_set_new(o, "requests", json_integer((json_int_t)up->requests));
	json_object_set_new(o, "failures", json_integer((json_int_t)up->failures));
	json_object_set_new(o, "answers", json_integer((json_int_t)up->answers));
	json_object_set_new(o, "consecutive_failures",
	                    json_integer((json_int_t)bc.consecutive_failures));
	json_object_set_new(o, "window_calls", json_integer((json_int_t)bc.window_calls));
	json_object_set_new(o, "failure_rate_pct", json_integer(bc.failure_rate_pct));
	json_object_set_new(o, "opens", json_integer((json_int_t)bc.opens));
	json_object_set_new(o, "last_open_reason",
	                    json_string(breaker_reason_name(bc.last_reason)));
	json_object_set_new(o, "ms_until_half_open",
	                    json_integer(breaker_ms_until_half_open(&up->breaker, now)));
	json_object_set_new(o, "latency_ms",
	                    json_pack("{s:I, s:I, s:I}", "p50",
	                              (json_int_t)pool_latency_quantile(up, 0.50), "p95",
	                              (json_int_t)pool_latency_quantile(up, 0.95), "p99",
	                              (json_int_t)pool_latency_quantile(up, 0.99)));
	return o;
}

static int wants_json(evhtp_request_t *req)
{
	const char *accept = evhtp_header_find(req->headers_in, "Accept");
	const char *q = req->uri && req->uri->query_raw ? (const char *)req->uri->query_raw : "";

	return strstr(q, "format=json") || (accept && strstr(accept, "application/json"));
}

static void status_json(struct admin *a, evhtp_request_t *req, int64_t now)
{
	json_t *arr = json_array();
	char *text;
	int i;

	for (i = 0; i < a->pools->n_ups; i++)
		json_array_append_new(arr, upstream_json(a->pools, a->pools->ups[i], now));
	text = json_dumps(arr, JSON_INDENT(2));
	json_decref(arr);
	if (!text) {
		reply_line(req, 500, "modgate: out of memory");
		return;
	}
	reply(req, 200, "application/json", text);
	free(text);
}

static void status_text(struct admin *a, evhtp_request_t *req, int64_t now)
{
	struct evbuffer *out = evbuffer_new();
	size_t len;
	char *body;
	int i;

	evbuffer_add_printf(out, "%-40s %-9s %-13s %-16s %8s %8s %8s %5s %6s %9s %s\n", "UPSTREAM",
	                    "STATE", "MODE", "POOLS:WEIGHT", "REQUESTS", "FAILURES", "IN-A-ROW",
	                    "FAIL%", "P95MS", "RETRY-IN", "LAST-OPEN");
	for (i = 0; i < a->pools->n_ups; i++) {
		struct upstream *up = a->pools->ups[i];
		struct breaker_counters bc;
		enum breaker_state st = breaker_state(&up->breaker, now);
		int64_t ms = breaker_ms_until_half_open(&up->breaker, now);
		char pools[200], retry[32];

		breaker_counters(&up->breaker, &bc);
		memberships(a->pools, up, pools, sizeof(pools));
		if (ms > 0)
			snprintf(retry, sizeof(retry), "%.1fs", ms / 1000.0);
		else
			snprintf(retry, sizeof(retry), "%s", ms < 0 ? "never" : "-");
		evbuffer_add_printf(out,
		                    "%-40s %-9s %-13s %-16s %8llu %8llu %8u %5d %6lld %9s %s\n",
		                    up->shown, breaker_state_name(st), mode_of(up),
		                    pools[0] ? pools : "GOPROXY", (unsigned long long)up->requests,
		                    (unsigned long long)up->failures, bc.consecutive_failures,
		                    bc.failure_rate_pct, (long long)pool_latency_quantile(up, 0.95),
		                    retry, breaker_reason_name(bc.last_reason));
	}
	len = evbuffer_get_length(out);
	body = malloc(len + 1);
	if (body) {
		evbuffer_remove(out, body, len);
		body[len] = '\0';
		reply(req, 200, "text/plain; charset=utf-8", body);
		free(body);
	} else {
		reply_line(req, 500, "modgate: out of memory");
	}
	evbuffer_free(out);
}

/* The upstream NAME names: its shown URL, or a part of it matching one. */
static struct upstream *find(struct admin *a, const char *name, char *err, size_t errlen)
{
	struct upstream *hit = NULL;
	int i, n = 0;

	if (!name || !name[0]) {
		snprintf(err, errlen, "modgate: name an upstream: ?name=URL or a part of it");
		return NULL;
	}
	for (i = 0; i < a->pools->n_ups; i++)
		if (strcmp(a->pools->ups[i]->shown, name) == 0)
			return a->pools->ups[i];
	for (i = 0; i < a->pools->n_ups; i++) {
		if (strstr(a->pools->ups[i]->shown, name)) {
			hit = a->pools->ups[i];
			n++;
		}
	}
	if (n == 1)
		return hit;
	snprintf(err, errlen, "modgate: %s upstream matches %.200s", n ? "more than one" : "no",
	         name);
	return NULL;
}

static void control(struct admin *a, evhtp_request_t *req, const char *action)
{
	const char *name =
	    req->uri && req->uri->query ? evhtp_kv_find(req->uri->query, "name") : NULL;
	char err[400], line[600], *decoded = NULL;
	struct upstream *up;

	if (name) {
		/* evhtp leaves query values percent-encoded; it decodes into a
		 * buffer we provide, and moves our pointer to the end of what
		 * it wrote. */
		unsigned char *buf = calloc(1, strlen(name) + 1), *end = buf;

		if (buf && evhtp_unescape_string(&end, (unsigned char *)name, strlen(name)) == 0)
			decoded = (char *)buf;
		else
			free(buf);
	}
	up = find(a, decoded ? decoded : name, err, sizeof(err));
	if (!up) {
		reply_line(req, strstr(err, "more than one") ? 409 : 404, err);
		free(decoded);
		return;
	}
	if (strcmp(action, "drain") == 0)
		up->drained = 1;
	else if (strcmp(action, "undrain") == 0)
		up->drained = 0;
	else if (strcmp(action, "open") == 0)
		breaker_set_mode(&up->breaker, BREAKER_FORCED_OPEN);
	else if (strcmp(action, "close") == 0)
		breaker_set_mode(&up->breaker, BREAKER_FORCED_CLOSED);
	else
		breaker_set_mode(&up->breaker, BREAKER_AUTO);
	log_warn("admin: %s %s: now %s, %s", action, up->shown,
	         breaker_state_name(breaker_state(&up->breaker, flight_now_ms())), mode_of(up));
	snprintf(line, sizeof(line), "modgate: %s %s: now %s, %s", action, up->shown,
	         breaker_state_name(breaker_state(&up->breaker, flight_now_ms())), mode_of(up));
	reply_line(req, 200, line);
	free(decoded);
}

int admin_peer_is_local(const struct sockaddr *sa)
{
	if (sa && sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a6) ||
		       (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
	}
	return 0;
}

static int from_loopback(evhtp_request_t *req)
{
	evhtp_connection_t *conn = evhtp_request_get_connection(req);

	return admin_peer_is_local(conn ? conn->saddr : NULL);
}

/* Refuses a change: counted, logged with the client's address and why
 * (never a token), answered with status and body. Returns 0, for
 * may_change. */
static int deny(struct admin *a, evhtp_request_t *req, const char *path, int status,
                const char *why, const char *body)
{
	char peer[INET6_ADDRSTRLEN];

	if (conn_peer_text(evhtp_request_get_connection(req), peer, sizeof(peer)) < 0)
		snprintf(peer, sizeof(peer), "?");
	a->denied++;
	log_warn("admin: refused POST %s from %s: %s", path, peer, why);
	reply_line(req, status, body);
	return 0;
}

/* Whether a request that changes something may: with [admin] token_file or
 * token_env, it must carry "Authorization: Bearer TOKEN"; without one, only
 * this host may change anything, since GET /metrics is what brings the
 * listener off loopback and scraping must not hand out the controls. When
 * not, the refusal is sent and 0 returned. */
static int may_change(struct admin *a, evhtp_request_t *req, const char *path)
{
	const struct config_cred *tok = &a->pools->cfg.admin_token;
	const char *auth = evhtp_header_find(req->headers_in, "Authorization");
	const char *origin = evhtp_header_find(req->headers_in, "Origin");
	const char *site = evhtp_header_find(req->headers_in, "Sec-Fetch-Site");
	size_t n = strlen(tok->secret);
	char why[300];

	/* No browser controls modgate: a web page (or a DNS-rebinding one)
	 * open on this host could POST here without a preflight and pass the
	 * loopback rule. Browsers send Origin with every POST, and
	 * Sec-Fetch-Site; curl and modgate's own commands send neither. */
	if (origin || (site && strcmp(site, "none") != 0)) {
		snprintf(why, sizeof(why), "sent by a browser (Origin %.200s)",
		         origin ? origin : "none");
		return deny(a, req, path, 403, why,
		            "modgate admin: changes are not taken from a browser");
	}
	if (!tok->source[0]) {
		if (from_loopback(req))
			return 1;
		return deny(a, req, path, 403,
		            "changes from another host need [admin] token_file or token_env",
		            "modgate admin: changes from another host need a token: set [admin] "
		            "token_file (or token_env) and send Authorization: Bearer TOKEN");
	}
	/* Constant time over the token's length: a timing must not tell how
	 * much of a guess was right. */
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && strlen(auth + 7) == n &&
	    CRYPTO_memcmp(auth + 7, tok->secret, n) == 0)
		return 1;
	evhtp_headers_add_header(
	    req->headers_out,
	    evhtp_header_new("WWW-Authenticate", "Bearer realm=\"modgate admin\"", 0, 0));
	return deny(a, req, path, 401, auth ? "wrong token" : "no Authorization header",
	            auth ? "modgate admin: wrong token"
	                 : "modgate admin: this endpoint needs Authorization: Bearer TOKEN (the "
	                   "[admin] token); modgate reload and upstream send $MODGATE_ADMIN_TOKEN "
	                   "or the token of the config they read");
}

static void on_request(evhtp_request_t *req, void *arg)
{
	struct admin *a = arg;
	const char *path = req->uri && req->uri->path ? req->uri->path->full : "";
	htp_method m = evhtp_request_get_method(req);
	static const char *actions[] = {"drain", "undrain", "open", "close", "auto"};
	size_t i;

	if (strcmp(path, "/metrics") == 0 && (m == htp_method_GET || m == htp_method_HEAD)) {
		evhtp_headers_add_header(
		    req->headers_out,
		    evhtp_header_new("Content-Type", "text/plain; version=0.0.4; charset=utf-8", 0,
		                     0));
		a->metrics(a->arg, req->buffer_out);
		evhtp_send_reply(req, 200);
		return;
	}
	if (strcmp(path, "/") == 0 && a->page && (m == htp_method_GET || m == htp_method_HEAD)) {
		evhtp_headers_add_header(
		    req->headers_out,
		    evhtp_header_new("Content-Type", "text/html; charset=utf-8", 0, 0));
		evhtp_headers_add_header(req->headers_out,
		                         evhtp_header_new("Cache-Control", "no-store", 0, 0));
		a->page(a->page_arg, req->buffer_out);
		evhtp_send_reply(req, 200);
		return;
	}
	if (strcmp(path, "/upstreams") == 0 && (m == htp_method_GET || m == htp_method_HEAD)) {
		if (wants_json(req))
			status_json(a, req, flight_now_ms());
		else
			status_text(a, req, flight_now_ms());
		return;
	}
	if (strcmp(path, "/reload") == 0) {
		char msg[1200];

		if (m != htp_method_POST) {
			reply_line(req, 405, "modgate: use POST to reload");
			return;
		}
		if (!may_change(a, req, path))
			return;
		if (a->reload(a->arg, msg, sizeof(msg)) < 0)
			reply_line(req, 409, msg);
		else
			reply_line(req, 200, msg);
		return;
	}
	for (i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strncmp(path, "/upstreams/", 11) == 0 && strcmp(path + 11, actions[i]) == 0) {
			if (m != htp_method_POST) {
				reply_line(req, 405, "modgate: use POST to change an upstream");
				return;
			}
			if (may_change(a, req, path))
				control(a, req, actions[i]);
			return;
		}
	}
	reply_line(req, 404,
	           "modgate admin: GET / (status page), GET /metrics, GET /upstreams, POST "
	           "/upstreams/{drain,undrain,open,close,auto}?name=UPSTREAM, POST /reload");
}

struct admin *admin_new(struct event_base *base, struct pool_set *pools, admin_metrics_fn metrics,
                        admin_reload_fn reload, void *arg, const char *host, int port, char *err,
                        size_t errlen)
{
	struct admin *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->pools = pools;
	a->metrics = metrics;
	a->reload = reload;
	a->arg = arg;
	conn_set_init(&a->conns, 64, "admin");
	a->htp = evhtp_new(base, NULL);
	if (!a->htp) {
		snprintf(err, errlen, "cannot create the admin listener");
		free(a);
		return NULL;
	}
	evhtp_set_gencb(a->htp, on_request, a);
	evhtp_set_post_accept_cb(a->htp, conn_set_on_accept, &a->conns);
	evhtp_set_max_body_size(a->htp, 4096);
	if (conn_listener_bind(a->htp, host, port, err, errlen) < 0) {
		evhtp_free(a->htp);
		free(a);
		return NULL;
	}
	a->port = conn_listener_port(a->htp);
	return a;
}

void admin_set_page(struct admin *a, admin_metrics_fn page, void *arg)
{
	a->page = page;
	a->page_arg = arg;
}

void admin_set_pools(struct admin *a, struct pool_set *pools)
{
	a->pools = pools;
}

uint64_t admin_denied(const struct admin *a)
{
	return a ? a->denied : 0;
}

int admin_port(const struct admin *a)
{
	return a->port;
}

void admin_free(struct admin *a)
{
	if (!a)
		return;
	conn_set_close_all(&a->conns);
	evhtp_unbind_socket(a->htp);
	evhtp_free(a->htp);
	free(a);
}
