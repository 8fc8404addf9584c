/*
 * fetch — libcurl multi on libevent, in the shape of curl's hiperfifo
 * example: curl tells us which sockets to watch (socket callback) and when
 * to call it back (timer callback); we call curl_multi_socket_action from
 * libevent events and drain curl_multi_info_read after each call.
 *
 * Completed transfers are reported from check_done, which runs after
 * curl_multi_socket_action has returned, so on_done may start or cancel
 * transfers freely.
 */
#include "proxy/fetch.h"

#include <curl/curl.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fetch_ctx {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	int running;
	LIST_HEAD(, fetch) all; /* for fetch_ctx_free */
};

struct fetch {
	struct fetch_ctx *ctx;
	CURL *easy;
	const struct fetch_callbacks *cb;
	void *arg;
	int response_seen; /* on_response has run */
	int first_byte;    /* the response has started (a header line came) */
	long first_byte_timeout_ms;
	struct event *first_byte_ev; /* connect + first-byte deadline */
	int aborted;                 /* a callback returned -1 */
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers; /* X-Request-Id, freed with the transfer */
	LIST_ENTRY(fetch) link;
};

/* One per socket curl asks us to watch; freed when curl says REMOVE. */
struct fetch_sock {
	struct event *ev;
	struct fetch_ctx *ctx;
};

static void check_done(struct fetch_ctx *ctx);

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct fetch_ctx *ctx = arg;
	int flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ctx->multi, fd, flags, &ctx->running);
	check_done(ctx);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fetch_ctx *ctx = arg;

	(void)fd;
	(void)what;
	curl_multi_socket_action(ctx->multi, CURL_SOCKET_TIMEOUT, 0, &ctx->running);
	check_done(ctx);
}

static int curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct fetch_ctx *ctx = userp;
	struct fetch_sock *fs = socketp;
	short kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (fs) {
			event_free(fs->ev);
			free(fs);
		}
		curl_multi_assign(ctx->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (!fs) {
		fs = calloc(1, sizeof(*fs));
		if (!fs)
			return -1;
		fs->ctx = ctx;
		curl_multi_assign(ctx->multi, s, fs);
	} else {
		event_free(fs->ev);
	}
	fs->ev = event_new(ctx->base, s, kind, on_socket_event, ctx);
	if (!fs->ev)
		return -1;
	event_add(fs->ev, NULL);
	return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct fetch_ctx *ctx = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(ctx->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(ctx->timer, &tv);
	return 0;
}

static int deliver_response(struct fetch *f)
{
	long status = 0;
	curl_off_t cl = -1;

	f->response_seen = 1;
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	if (f->cb->on_response(f->arg, status, (off_t)cl) < 0) {
		f->aborted = 1;
		return -1;
	}
	return 0;
}

static size_t curl_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct fetch *f = userdata;
	size_t len = size * nmemb;

	if (!f->response_seen && deliver_response(f) < 0)
		return 0;
	if (f->cb->on_data(f->arg, ptr, len) < 0) {
		f->aborted = 1;
		return 0;
	}
	return len;
}

static size_t curl_header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct fetch *f = userdata;

	(void)buf;
	if (!f->first_byte) {
		f->first_byte = 1;
		evtimer_del(f->first_byte_ev);
	}
	return size * nitems;
}

/* Connected, request about to go out: the first-byte deadline starts now. */
static int curl_prereq_cb(void *userdata, char *conn_primary_ip, char *conn_local_ip,
                          int conn_primary_port, int conn_local_port)
{
	struct fetch *f = userdata;
	struct timeval tv = {.tv_sec = f->first_byte_timeout_ms / 1000,
	                     .tv_usec = f->first_byte_timeout_ms % 1000 * 1000};

	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	if (!f->first_byte)
		evtimer_add(f->first_byte_ev, &tv);
	return CURL_PREREQFUNC_OK;
}

static enum fetch_result classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return FETCH_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return FETCH_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return FETCH_TIMEOUT;
	default:
		return FETCH_BROKEN;
	}
}

static void finish(struct fetch *f, CURLcode rc)
{
	enum fetch_result res = classify(rc);
	long status = 0;
	const char *msg;

	curl_multi_remove_handle(f->ctx->multi, f->easy);
	if (f->aborted)
		res = FETCH_ABORTED;
	/* A body-less response (204, a HEAD-like 404) never reached the write
	 * callback: report its headers now. */
	if (res == FETCH_OK && !f->response_seen && deliver_response(f) < 0)
		res = FETCH_ABORTED;
	curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
	msg = f->errbuf[0] ? f->errbuf : curl_easy_strerror(rc);
	if (res == FETCH_ABORTED)
		msg = "aborted by modgate";
	LIST_REMOVE(f, link);
	event_free(f->first_byte_ev);
	f->cb->on_done(f->arg, res, status, res == FETCH_OK ? "" : msg);
	curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	free(f);
}

static void check_done(struct fetch_ctx *ctx)
{
	CURLMsg *msg;
	int left;
	struct fetch *f;

	while ((msg = curl_multi_info_read(ctx->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&f);
		finish(f, msg->data.result);
	}
}

/* libcurl has a connect timeout and a stall timeout (low speed) but no
 * "the server accepted and never answers" deadline: this is it. Armed at
 * start for connect + first byte (a backstop), re-armed for first byte
 * alone once connected. */
static void on_first_byte_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	char msg[128];

	(void)fd;
	(void)what;
	curl_multi_remove_handle(f->ctx->multi, f->easy);
	LIST_REMOVE(f, link);
	event_free(f->first_byte_ev);
	snprintf(msg, sizeof(msg), "no response within %ld ms", f->first_byte_timeout_ms);
	f->cb->on_done(f->arg, FETCH_TIMEOUT, 0, msg);
	curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	free(f);
}

struct fetch_ctx *fetch_ctx_new(struct event_base *base)
{
	struct fetch_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	ctx->base = base;
	LIST_INIT(&ctx->all);
	ctx->multi = curl_multi_init();
	ctx->timer = evtimer_new(base, on_timer, ctx);
	if (!ctx->multi || !ctx->timer) {
		fetch_ctx_free(ctx);
		return NULL;
	}
	curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETDATA, ctx);
	curl_multi_setopt(ctx->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(ctx->multi, CURLMOPT_TIMERDATA, ctx);
	/* Reuse upstream connections across requests; bound them so a burst of
	 * misses cannot open thousands of sockets to one upstream. */
	curl_multi_setopt(ctx->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
	curl_multi_setopt(ctx->multi, CURLMOPT_MAXCONNECTS, 128L);
	return ctx;
}

void fetch_ctx_free(struct fetch_ctx *ctx)
{
	if (!ctx)
		return;
	while (!LIST_EMPTY(&ctx->all))
		fetch_cancel(LIST_FIRST(&ctx->all));
	if (ctx->multi)
		curl_multi_cleanup(ctx->multi);
	if (ctx->timer)
		event_free(ctx->timer);
	free(ctx);
}

/* Hands the credential to libcurl's own auth rather than as a custom
 * header: libcurl sends its auth only while the transfer stays on the first
 * scheme, host and port (Curl_auth_allowed_to_host, 7.83.0 and later), so
 * a redirect to signed storage or anywhere else goes out without it, while
 * a custom "Authorization:" header has been forwarded across hosts by some
 * versions. CURLOPT_UNRESTRICTED_AUTH stays off, said out loud. Older
 * libcurls compared host names only: there a credentialed transfer does not
 * follow redirects at all. */
static int set_auth(CURL *easy, const struct fetch_opts *opts)
{
	char user[1024];
	const char *colon;
	size_t n;

	if (opts->auth == FETCH_AUTH_NONE || !opts->secret)
		return 0;
	curl_easy_setopt(easy, CURLOPT_UNRESTRICTED_AUTH, 0L);
	if (curl_version_info(CURLVERSION_NOW)->version_num < 0x075300)
		curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	if (opts->auth == FETCH_AUTH_BEARER) {
		if (curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER) != CURLE_OK ||
		    curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, opts->secret) != CURLE_OK)
			return -1;
		return 0;
	}
	colon = strchr(opts->secret, ':');
	n = colon ? (size_t)(colon - opts->secret) : 0;
	if (!colon || n >= sizeof(user))
		return -1;
	memcpy(user, opts->secret, n);
	user[n] = '\0';
	if (curl_easy_setopt(easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_USERNAME, user) != CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_PASSWORD, colon + 1) != CURLE_OK) {
		memset(user, 0, sizeof(user));
		return -1;
	}
	memset(user, 0, sizeof(user));
	return 0;
}

struct fetch *fetch_start(struct fetch_ctx *ctx, const char *url, const struct fetch_opts *opts,
                          const struct fetch_callbacks *cb, void *arg)
{
	struct fetch *f = calloc(1, sizeof(*f));
	struct timeval deadline;
	long idle_s;

	if (!f)
		return NULL;
	f->ctx = ctx;
	f->cb = cb;
	f->arg = arg;
	f->easy = curl_easy_init();
	if (!f->easy) {
		free(f);
		return NULL;
	}
	curl_easy_setopt(f->easy, CURLOPT_URL, url);
	curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, curl_write_cb);
	curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_HEADERFUNCTION, curl_header_cb);
	curl_easy_setopt(f->easy, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_PREREQFUNCTION, curl_prereq_cb);
	curl_easy_setopt(f->easy, CURLOPT_PREREQDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "modgate/0.1");
	/* proxy.golang.org answers .zip with a redirect to signed storage: follow
	 * it here and cache only the final body, never the redirect. */
	curl_easy_setopt(f->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(f->easy, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(f->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT_MS, opts->connect_timeout_ms);
	/* curl measures stalls in whole seconds: round up, never to zero. */
	idle_s = (opts->idle_timeout_ms + 999) / 1000;
	curl_easy_setopt(f->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(f->easy, CURLOPT_LOW_SPEED_TIME, idle_s > 0 ? idle_s : 1L);
	curl_easy_setopt(f->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	if (opts->total_timeout_ms > 0)
		curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, opts->total_timeout_ms);
	if (set_auth(f->easy, opts) < 0) {
		curl_easy_cleanup(f->easy);
		free(f);
		return NULL;
	}
	if (opts->request_id && opts->request_id[0]) {
		char h[128];

		snprintf(h, sizeof(h), "X-Request-Id: %.64s", opts->request_id);
		f->headers = curl_slist_append(NULL, h);
		if (f->headers)
			curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->headers);
	}
	f->first_byte_timeout_ms = opts->first_byte_timeout_ms;
	f->first_byte_ev = evtimer_new(ctx->base, on_first_byte_timeout, f);
	deadline.tv_sec = (opts->connect_timeout_ms + opts->first_byte_timeout_ms) / 1000;
	deadline.tv_usec = (opts->connect_timeout_ms + opts->first_byte_timeout_ms) % 1000 * 1000;
	if (!f->first_byte_ev || evtimer_add(f->first_byte_ev, &deadline) < 0 ||
	    curl_multi_add_handle(ctx->multi, f->easy) != CURLM_OK) {
		if (f->first_byte_ev)
			event_free(f->first_byte_ev);
		curl_easy_cleanup(f->easy);
		curl_slist_free_all(f->headers);
		free(f);
		return NULL;
	}
	LIST_INSERT_HEAD(&ctx->all, f, link);
	return f;
}

void fetch_cancel(struct fetch *f)
{
	if (!f)
		return;
	LIST_REMOVE(f, link);
	event_free(f->first_byte_ev);
	curl_multi_remove_handle(f->ctx->multi, f->easy);
	curl_easy_cleanup(f->easy);
	curl_slist_free_all(f->headers);
	free(f);
}

int fetch_running(const struct fetch_ctx *ctx)
{
	return ctx->running;
}

const char *fetch_result_str(enum fetch_result r)
{
	switch (r) {
	case FETCH_OK:
		return "ok";
	case FETCH_CONNECT:
		return "connect failed";
	case FETCH_TIMEOUT:
		return "timed out";
	case FETCH_BROKEN:
		return "transfer broken";
	case FETCH_ABORTED:
		return "aborted";
	}
	return "?";
}
