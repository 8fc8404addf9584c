/*
 * server — GOPROXY over libevhtp.
 *
 * A request is answered in one of four ways, cheapest first:
 *   hit       the object is committed (and fresh, if mutable): headers, then
 *             the file handed to the socket with sendfile;
 *   negative  every upstream said 404/410 a moment ago: that answer again;
 *   miss      join the object's flight, pause the request, and stream the
 *             temp file to the client as the flight's notifications arrive
 *             and as the socket drains (on_write);
 *   stale     the flight failed, but an expired copy of mutable metadata is
 *             on disk: serve it, marked "X-Modgate-Cache: STALE".
 *
 * A streamed response announces the upstream's Content-Length, so a flight
 * that breaks off mid-body is seen by the client as a short read: we close
 * the connection rather than ever send a short body that looks whole.
 */
#include "proxy/server.h"

#include "cache/negcache.h"
#include "cache/store.h"
#include "proxy/admin.h"
#include "proxy/config.h"
#include "proxy/direct.h"
#include "proxy/conns.h"
#include "proxy/fetch.h"
#include "proxy/flight.h"
#include "proxy/log.h"
#include "proxy/metrics.h"
#include "proxy/modpath.h"
#include "proxy/policy.h"
#include "proxy/pool.h"
#include "proxy/reload.h"
#include "proxy/strmap.h"
#include "proxy/tls.h"
#include "proxy/worker.h"
#include "proxy/statuspage.h"
#include "proxy/verify.h"
#include "proxy/version.h"
#include "sumdb/proxypath.h"

#include <errno.h>
#include <arpa/inet.h>
#include <evhtp.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How much of a streamed body may sit in a socket's output buffer: enough
 * to keep a fast client busy, little enough that 200 slow ones cost little
 * (the bytes are file segments, not copies, in any case). */
#define STREAM_HIGH_WATER (512 * 1024)
#define STREAM_CHUNK (1024 * 1024)

/* The current configuration is env.pools (one generation: its pools,
 * upstreams and its own copy of the config, env.cfg = &env.pools->cfg). A
 * reload builds the next generation beside it and swaps the pointers
 * between two events; flights and requests keep a reference to the one
 * they started with. */
struct server {
	struct event_base *base;
	evhtp_t *htp;
	int port;
	struct conn_set clients;
	struct tls_listener *tls; /* NULL: the client listener speaks plain HTTP */
	struct flight_env env;
	struct admin *admin;      /* NULL when [admin] listen = off */
	struct event *root_check; /* each second: has `modgate restore` swapped the cache? */
	int root_check_failing;   /* warned once until the check succeeds again */
	int usage_running;        /* a cache usage scan is on a worker */
	int usage_known;          /* one has finished */
	uint64_t usage_bytes, usage_objects;
	int64_t usage_at_ms; /* when the last walk finished */
	struct metrics metrics;
	uint64_t id_seed, id_seq; /* request ids made here */
	server_load_fn load;      /* reads the configuration again, for a reload */
	void *load_arg;
	unsigned generation; /* reloads accepted */
	/* For /metrics and the status page: `systemctl reload` succeeds even
	 * when modgate refuses the file, so the refusal must show somewhere
	 * an operator looks. */
	time_t started;
	uint64_t reloads_refused;
	time_t last_reload_at; /* 0: none yet */
	int last_reload_ok;
	int stopping; /* server_stop: the listener is closed */
	struct event *stop_ev;
};

/* What the access log says of a request, from its start to its end. */
struct access {
	struct server *srv;
	int64_t start_us;     /* flight_now_us() at its arrival */
	int64_t end_ms;       /* when its last byte was queued; 0: at its end */
	char id[72];          /* X-Request-Id: the client's, or made here */
	const char *upstream; /* the upstream that answered (borrowed from the pool set) */
	int attempts;         /* upstream attempts its flight made */
	int status;           /* the status sent, when libevhtp's cannot be trusted */
};

/* One per paused request; freed in on_request_fini. */
struct request_ctx {
	struct access acc; /* first: a plain request's fini hook gets just this */
	struct server *srv;
	evhtp_request_t *req;
	struct flight_waiter waiter;
	enum modpath_kind kind;
	const char *ctype; /* Content-Type of the answer */
	int status;        /* the status sent, for /metrics (0: none yet) */
	int head;
	int immutable;
	int started;  /* response headers sent */
	int finished; /* last body byte queued (or the connection dropped) */
	int chunked;
	off_t sent;
	int stale_fd; /* expired copy of mutable metadata, or -1 */
	off_t stale_size;
	int hooked; /* our on_write hook is set on the connection */
	/* [deny] has versions of this module and the answer is a list or a
	 * query's: it is read whole and checked (reply_checked), never
	 * streamed. module is then a copy of the module path. */
	int filter;
	char *module;
	/* The generation the request started in: acc.upstream points into
	 * it, and it must outlive the access line. */
	struct pool_set *set;
	/* A /sumdb/ request asked at the database's own URL instead of a
	 * flight: the fetch while it runs, and the cache path (for the
	 * negative cache). */
	struct verify_dbfetch *db;
	char *rel;
};

static const char *content_type(enum modpath_kind kind)
{
	switch (kind) {
	case MODPATH_INFO:
	case MODPATH_LATEST:
		return "application/json";
	case MODPATH_ZIP:
		return "application/zip";
	case MODPATH_LIST:
	case MODPATH_MOD:
		break;
	}
	return "text/plain; charset=utf-8";
}

/* val is copied. */
static void add_header(evhtp_request_t *req, const char *key, const char *val)
{
	evhtp_headers_add_header(req->headers_out, evhtp_header_new(key, val, 0, 1));
}

/* val must outlive the request (a literal): no copy on the hit path. */
static void add_static_header(evhtp_request_t *req, const char *key, const char *val)
{
	evhtp_headers_add_header(req->headers_out, evhtp_header_new(key, val, 0, 0));
}

static void add_length(evhtp_request_t *req, off_t len)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)len);
	add_header(req, "Content-Length", buf);
}

static struct evbuffer *output_of(evhtp_request_t *req)
{
	return bufferevent_get_output(evhtp_connection_get_bev(evhtp_request_get_connection(req)));
}

static int is_head(evhtp_request_t *req)
{
	return evhtp_request_get_method(req) == htp_method_HEAD;
}

/* Sends status with one line of text: what the go command shows its user. */
static void reply_text(evhtp_request_t *req, int status, const char *cache_state, const char *line)
{
	size_t len = strlen(line);

	add_header(req, "Content-Type", "text/plain; charset=utf-8");
	add_header(req, "Cache-Control", "no-store");
	if (cache_state)
		add_header(req, "X-Modgate-Cache", cache_state);
	if (is_head(req)) {
		add_length(req, (off_t)len + 1);
	} else {
		evbuffer_add(req->buffer_out, line, len);
		evbuffer_add(req->buffer_out, "\n", 1);
	}
	evhtp_send_reply(req, status);
}

/* Queues len bytes of fd from off on the socket, without copying them:
 * sendfile on a plain connection; over TLS, where the kernel cannot
 * encrypt, libevent maps the segment and OpenSSL reads it from there. fd
 * stays the caller's. 0 or -1. */
static int queue_file(struct evbuffer *out, int fd, off_t off, off_t len)
{
	struct evbuffer_file_segment *seg;
	int d, rc;

	if (len == 0)
		return 0;
	d = dup(fd);
	if (d < 0)
		return -1;
	seg = evbuffer_file_segment_new(d, off, len, EVBUF_FS_CLOSE_ON_FREE);
	if (!seg) {
		close(d);
		return -1;
	}
	rc = evbuffer_add_file_segment(out, seg, 0, len);
	evbuffer_file_segment_free(seg); /* the buffer holds its own reference */
	return rc;
}

/* Ends a response that cannot be completed: the connection closes once what
 * is queued has gone out, so the client sees fewer bytes than announced (or
 * no last chunk) and reports an error instead of trusting a short body.
 * Safe from any callback: libevhtp does the closing from its own. */
static void cut_short(evhtp_request_t *req)
{
	/* Not evhtp_request_set_keepalive(req, 0): a no-op in libevhtp 1.2.18. */
	evhtp_request_disable_flag(req, EVHTP_REQ_FLAG_KEEPALIVE);
	evhtp_send_reply_end(req);
	bufferevent_trigger(evhtp_connection_get_bev(evhtp_request_get_connection(req)), EV_WRITE,
	                    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void add_cache_headers(struct server *s, evhtp_request_t *req, int immutable,
                              const char *state)
{
	char buf[64];

	if (immutable) {
		add_static_header(req, "Cache-Control", "public, max-age=31536000, immutable");
	} else {
		snprintf(buf, sizeof(buf), "public, max-age=%d", s->env.cfg->list_ttl_s);
		add_header(req, "Cache-Control", buf);
	}
	add_static_header(req, "X-Modgate-Cache", state);
}

/* Files up to this size are read and sent with the headers in one write;
 * larger ones go by sendfile. A .info or .mod is a few hundred bytes: a
 * pread beats setting up a file segment and a second system call. */
#define SMALL_FILE (16 * 1024)

/* Sends a whole committed file; takes fd. */
static void reply_file(struct server *s, evhtp_request_t *req, const char *ctype, int immutable,
                       const char *state, int fd, off_t size)
{
	char small[SMALL_FILE];

	add_static_header(req, "Content-Type", ctype);
	add_cache_headers(s, req, immutable, state);
	add_length(req, size);
	if (!is_head(req) && size <= SMALL_FILE) {
		if (pread(fd, small, (size_t)size, 0) == size) {
			evbuffer_add(req->buffer_out, small, (size_t)size);
			evhtp_send_reply(req, EVHTP_RES_OK);
			close(fd);
			return;
		}
		/* Short or failed: let the segment path below report it. */
	}
	evhtp_send_reply(req, EVHTP_RES_OK);
	if (!is_head(req) && queue_file(output_of(req), fd, 0, size) < 0) {
		log_error("cannot queue a cached file: %s", strerror(errno));
		cut_short(req);
	}
	close(fd);
}

/* The largest list or query answer read whole to be checked against [deny]:
 * far beyond any real module's (a few KB), still small enough to hold. */
#define CHECKED_BODY_MAX (16 * 1024 * 1024)

/* Longest refusal line: a module and a version (MODPATH_MAX each), a reason. */
#define REFUSAL_MAX (2 * MODPATH_MAX + CONFIG_REASON_MAX + 128)

/* Sends buf (n bytes, copied) as a 200 answer. */
static void reply_bytes(struct server *s, evhtp_request_t *req, const char *ctype, int immutable,
                        const char *state, const char *buf, size_t n)
{
	add_static_header(req, "Content-Type", ctype);
	add_cache_headers(s, req, immutable, state);
	add_length(req, (off_t)n);
	if (!is_head(req))
		evbuffer_add(req->buffer_out, buf, n);
	evhtp_send_reply(req, EVHTP_RES_OK);
}

/* Answers with the list or query answer in fd (size bytes from offset 0; fd
 * stays the caller's) of a module that [deny] has versions of: the list
 * without the denied versions (the cache keeps the upstream's whole list),
 * or the query's answer once the version it names is known not to be
 * denied, else 403 with the rule's reason. An answer whose version cannot be
 * read is refused (502): the go command might read one there. Returns the
 * status sent. */
static int reply_checked(struct server *s, evhtp_request_t *req, enum modpath_kind kind,
                         const char *module, const char *ctype, const char *state, int fd,
                         off_t size)
{
	char *body = NULL, *out = NULL, version[MODPATH_MAX + 1], line[REFUSAL_MAX];
	const struct config_policy_rule *rule;
	enum policy_verdict v;
	size_t n, dropped;
	int status;

	if (size > CHECKED_BODY_MAX) {
		snprintf(line, sizeof(line),
		         "modgate: the answer for %s is too large to check against the deny list",
		         module);
		reply_text(req, 502, NULL, line);
		return 502;
	}
	body = malloc((size_t)size + 1);
	out = kind == MODPATH_LIST ? malloc((size_t)size + 1) : NULL;
	if (!body || (kind == MODPATH_LIST && !out)) {
		status = 503;
		reply_text(req, status, NULL, "modgate: out of memory");
		goto out;
	}
	if (pread(fd, body, (size_t)size, 0) != size) {
		log_error("cannot read an answer to check it: %s", strerror(errno));
		status = 503;
		reply_text(req, status, NULL, "modgate: cannot read the answer back");
		goto out;
	}
	status = 200;
	if (kind == MODPATH_LIST) {
		n = policy_filter_list(s->env.cfg, module, body, (size_t)size, out, &dropped);
		s->metrics.filtered_versions += dropped;
		reply_bytes(s, req, ctype, 0, state, out, n);
	} else if (policy_info_version(body, (size_t)size, version, sizeof(version)) < 0) {
		snprintf(line, sizeof(line),
		         "modgate: cannot tell which version of %s the answer names, so cannot "
		         "check it against the deny list",
		         module);
		status = 502;
		reply_text(req, status, NULL, line);
	} else if ((v = policy_check_version(s->env.cfg, module, version, &rule)) != POLICY_OK) {
		metrics_refusal(&s->metrics,
		                v == POLICY_DENIED ? METRICS_REFUSED_DENY : METRICS_REFUSED_ALLOW);
		status = 403;
		reply_text(req, status, NULL,
		           policy_message(v, rule, module, version, line, sizeof(line)));
	} else {
		reply_bytes(s, req, ctype, 0, state, body, (size_t)size);
	}
out:
	free(body);
	free(out);
	return status;
}

static evhtp_res on_write(evhtp_connection_t *conn, void *arg);

static void unhook(struct request_ctx *c)
{
	if (!c->hooked)
		return;
	evhtp_connection_unset_hook(evhtp_request_get_connection(c->req), evhtp_hook_on_write);
	c->hooked = 0;
}

/* Counts a finished request for /metrics: kind from its path, its status,
 * how the cache answered it, the body bytes it announced. */
/* One JSON line per request on stderr (log level info). */
static void access_log(struct access *a, evhtp_request_t *req, const char *path, int status,
                       const char *cache, uint64_t bytes, int64_t us)
{
	struct modpath_req *mp;
	char client[INET6_ADDRSTRLEN] = "", err[64], when[32], *line;
	int pstatus;
	time_t now = time(NULL);
	struct tm tm;
	json_t *o;

	if (!log_enabled(LOG_INFO))
		return;
	conn_peer_text(evhtp_request_get_connection(req), client, sizeof(client));
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:i, s:I, s:I, s:s?, s:s?, s:i}", "time", when,
	              "id", a->id, "client", client, "method",
	              evhtp_request_get_method(req) == htp_method_HEAD ? "HEAD" : "GET", "path",
	              path, "status", status, "bytes", (json_int_t)bytes, "ms",
	              (json_int_t)(us / 1000), "cache", cache, "upstream", a->upstream, "attempts",
	              a->attempts);
	mp = path && strncmp(path, "/sumdb/", 7) != 0 ? malloc(sizeof(*mp)) : NULL;
	if (o && mp && modpath_parse_request(path, mp, &pstatus, err, sizeof(err)) == 0) {
		json_object_set_new(o, "module", json_string(mp->module));
		if (mp->version[0])
			json_object_set_new(o, "version", json_string(mp->version));
	}
	free(mp);
	line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (line)
		log_line(LOG_INFO, line);
	free(line);
	json_decref(o);
}

/* Counts a finished request for /metrics and writes its access line. */
static void account(struct access *a, evhtp_request_t *req, int status)
{
	const char *len = evhtp_header_find(req->headers_out, "Content-Length");
	const char *cache = evhtp_header_find(req->headers_out, "X-Modgate-Cache");
	const char *path = req->uri && req->uri->path ? req->uri->path->full : NULL;
	uint64_t bytes = len && !is_head(req) ? strtoull(len, NULL, 10) : 0;
	int64_t us = flight_now_us() - a->start_us;

	metrics_request(&a->srv->metrics, path, status, cache, bytes, us);
	access_log(a, req, path, status, cache, bytes, us);
}

/* The fini hook of a request answered at once: arg is its struct access. */
static evhtp_res on_plain_fini(evhtp_request_t *req, void *arg)
{
	evhtp_request_unset_hook(req, evhtp_hook_on_request_fini);
	account(arg, req, evhtp_request_get_status_code(req));
	free(arg);
	return EVHTP_RES_OK;
}

/* Frees c, leaving its flight and dropping its database fetch; the
 * access record in it is the caller's to account first (a context that
 * never paused its request has a copy of it). */
static void free_ctx(struct request_ctx *c)
{
	flight_leave(&c->waiter);
	verify_db_cancel(c->db);
	if (c->stale_fd >= 0)
		close(c->stale_fd);
	free(c->module);
	free(c->rel);
	pool_set_unref(c->set);
	free(c);
}

static evhtp_res on_request_fini(evhtp_request_t *req, void *arg)
{
	struct request_ctx *c = arg;

	/* Runs once per request, but tolerate a second call. */
	evhtp_request_unset_hook(req, evhtp_hook_on_request_fini);
	if (!c)
		return EVHTP_RES_OK;
	/* Not evhtp_request_get_status_code: resuming a paused request resets
	 * it to 200. */
	account(&c->acc, req, c->status);
	unhook(c);
	free_ctx(c);
	return EVHTP_RES_OK;
}

/* The request is answered: hand the connection back to libevhtp. */
static void resume(struct request_ctx *c)
{
	evhtp_request_resume(c->req);
}

static void abort_stream(struct request_ctx *c, const char *why)
{
	log_warn("cutting a response short: %s", why);
	c->finished = 1;
	c->acc.end_ms = flight_now_ms();
	flight_leave(&c->waiter);
	cut_short(c->req);
}

/* Queues as much of the flight's body as the socket can take. */
static void pump(struct request_ctx *c)
{
	struct flight *f = c->waiter.flight;
	struct evbuffer *out;
	off_t n;
	int last;

	if (!f || c->finished)
		return;
	if (f->state == FLIGHT_FAILED) {
		abort_stream(c, f->message);
		return;
	}
	out = output_of(c->req);
	while (c->sent < f->written && evbuffer_get_length(out) < STREAM_HIGH_WATER) {
		n = f->written - c->sent;
		if (n > STREAM_CHUNK)
			n = STREAM_CHUNK;
		last = !c->chunked && c->sent + n == f->content_length;
		/* libevhtp finishes a request when its output drains with the
		 * FINISHED flag set: set it before the last bytes go out. */
		if (last)
			evhtp_send_reply_end(c->req);
		if (c->chunked)
			evbuffer_add_printf(out, "%llx\r\n", (unsigned long long)n);
		if (queue_file(out, f->body_fd, c->sent, n) < 0) {
			abort_stream(c, strerror(errno));
			return;
		}
		if (c->chunked)
			evbuffer_add(out, "\r\n", 2);
		c->sent += n;
		if (last)
			c->finished = 1;
		c->acc.end_ms = flight_now_ms();
	}
	if (c->chunked && f->state == FLIGHT_COMPLETE && c->sent == f->written) {
		evhtp_send_reply_end(c->req);
		evbuffer_add(out, "0\r\n\r\n", 5);
		c->finished = 1;
		c->acc.end_ms = flight_now_ms();
	}
	if (c->finished) {
		/* Every byte is queued from its own descriptor: the flight is
		 * no longer needed by this request. */
		flight_leave(&c->waiter);
	}
}

static evhtp_res on_write(evhtp_connection_t *conn, void *arg)
{
	struct request_ctx *c = arg;

	(void)conn;
	pump(c);
	return EVHTP_RES_OK;
}

static void start_stream(struct request_ctx *c)
{
	struct flight *f = c->waiter.flight;
	evhtp_request_t *req = c->req;
	evhtp_connection_t *conn = evhtp_request_get_connection(req);

	add_static_header(req, "Content-Type", c->ctype);
	add_cache_headers(c->srv, req, c->immutable, "MISS");
	if (f->content_length >= 0) {
		add_length(req, f->content_length);
	} else {
		/* The upstream did not say how long: chunked, so an early end
		 * still reads as an error on the client. */
		add_header(req, "Transfer-Encoding", "chunked");
		c->chunked = 1;
	}
	c->started = 1;
	c->status = 200;
	if (f->content_length == 0) {
		evhtp_send_reply(req, EVHTP_RES_OK);
		c->finished = 1;
		c->acc.end_ms = flight_now_ms();
		flight_leave(&c->waiter);
		resume(c);
		return;
	}
	/* evhtp adds "Content-Length: 0" to a reply with neither header. */
	evhtp_send_reply_start(req, EVHTP_RES_OK);
	evhtp_connection_set_hook(conn, evhtp_hook_on_write, (evhtp_hook)on_write, c);
	c->hooked = 1;
	resume(c);
	pump(c);
}

/* Answers with the expired copy of mutable metadata in c->stale_fd. */
static void reply_stale(struct request_ctx *c)
{
	int fd = c->stale_fd;

	c->stale_fd = -1;
	if (c->filter) {
		c->status = reply_checked(c->srv, c->req, c->kind, c->module, c->ctype, "STALE", fd,
		                          c->stale_size);
		close(fd);
	} else {
		c->status = 200;
		reply_file(c->srv, c->req, c->ctype, 0, "STALE", fd, c->stale_size);
	}
}

static void reply_failure(struct request_ctx *c)
{
	struct flight *f = c->waiter.flight;

	/* Mutable metadata that is merely old beats an error when no upstream
	 * could answer; a 404/410 is an answer and wins over the old copy. */
	if (c->stale_fd >= 0 && !f->answered && f->status >= 500) {
		log_warn("serving stale %s: %s", f->rel, f->message);
		reply_stale(c);
	} else {
		if (f->retry_after_s > 0) {
			char ra[16];

			snprintf(ra, sizeof(ra), "%d", f->retry_after_s);
			add_header(c->req, "Retry-After", ra);
		}
		c->status = f->status;
		reply_text(c->req, f->status, "MISS", f->message);
	}
	flight_leave(&c->waiter);
	c->finished = 1;
	c->acc.end_ms = flight_now_ms();
	resume(c);
}

static void on_flight(struct flight_waiter *w)
{
	struct request_ctx *c =
	    (struct request_ctx *)((char *)w - offsetof(struct request_ctx, waiter));
	struct flight *f = w->flight;

	if (f->state != FLIGHT_WAITING) {
		/* The upstream named below belongs to the flight's generation,
		 * which may be older than the request's (it joined a flight
		 * started before a reload): hold that one instead. */
		if (c->set != f->set) {
			pool_set_unref(c->set);
			c->set = pool_set_ref(f->set);
		}
		c->acc.attempts = f->walk.attempts;
		if (f->member)
			c->acc.upstream = f->member->up->shown;
		else if (f->state == FLIGHT_FAILED && f->answered && f->answered_by)
			c->acc.upstream = f->answered_by->up->shown;
		else
			c->acc.upstream = f->walk.pool ? NULL : "direct";
	}
	if (c->filter) {
		/* Checked whole: wait for the last byte. */
		if (f->state == FLIGHT_WAITING || f->state == FLIGHT_STREAMING)
			return;
		if (f->state == FLIGHT_FAILED) {
			reply_failure(c);
			return;
		}
		c->status = reply_checked(c->srv, c->req, c->kind, c->module, c->ctype, "MISS",
		                          f->body_fd, f->written);
		c->started = c->finished = 1;
		c->acc.end_ms = flight_now_ms();
		flight_leave(w);
		resume(c);
		return;
	}
	if (c->started) {
		pump(c);
		return;
	}
	switch (f->state) {
	case FLIGHT_WAITING:
		return;
	case FLIGHT_FAILED:
		reply_failure(c);
		return;
	case FLIGHT_STREAMING:
		/* A HEAD reply needs the length, which a chunked upstream tells
		 * only at the end. */
		if (c->head && f->content_length < 0)
			return;
		break;
	case FLIGHT_COMPLETE:
		break;
	}
	if (c->head) {
		add_static_header(c->req, "Content-Type", c->ctype);
		add_cache_headers(c->srv, c->req, c->immutable, "MISS");
		add_length(c->req, f->content_length >= 0 ? f->content_length : f->written);
		evhtp_send_reply(c->req, EVHTP_RES_OK);
		c->status = 200;
		c->started = c->finished = 1;
		c->acc.end_ms = flight_now_ms();
		flight_leave(w);
		resume(c);
		return;
	}
	start_stream(c);
}

/* The database's own URL answered a client's /sumdb/ request (or could not):
 * passed on as it came, as a flight through a pool passes it on (the go
 * command proves it; the cache keeps only what modgate's own lookups
 * proved). 404/410 is an answer, kept a moment in the negative cache; a
 * failure serves the expired copy of a kept lookup answer if there is one,
 * as for any mutable answer when every upstream fails. */
static void on_db_answer(void *arg, int status, const char *body, size_t len, int cached,
                         const char *err)
{
	struct request_ctx *c = arg;
	struct server *s = c->srv;
	const struct config *cfg = &c->set->cfg;
	char line[1024];

	(void)cached;
	c->db = NULL;
	c->acc.upstream = cfg->sumdb_url;
	c->acc.attempts = 1;
	if (status == 200) {
		c->status = 200;
		reply_bytes(s, c->req, c->ctype, c->immutable, "MISS", body, len);
	} else if (status == 404 || status == 410) {
		if (err[0])
			snprintf(line, sizeof(line), "%.900s", err);
		else
			snprintf(line, sizeof(line),
			         "not found: %.300s (checksum database %.300s: %d)", c->rel,
			         cfg->sumdb_url, status);
		cache_neg_put(s->env.neg, c->rel, status, line, time(NULL), cfg->negative_ttl_s);
		c->status = status;
		reply_text(c->req, status, "MISS", line);
	} else {
		if (status == 0)
			snprintf(line, sizeof(line), "modgate: checksum database %.300s: %.600s",
			         cfg->sumdb_url, err);
		else
			snprintf(line, sizeof(line),
			         "modgate: checksum database %.300s answered %d for %.300s%s%.300s",
			         cfg->sumdb_url, status, c->rel, err[0] ? ": " : "", err);
		log_warn("%s", line + strlen("modgate: "));
		if (c->stale_fd >= 0) {
			log_warn("serving stale %s", c->rel);
			reply_stale(c);
		} else {
			c->status = 502;
			reply_text(c->req, 502, "MISS", line);
		}
	}
	c->started = c->finished = 1;
	c->acc.end_ms = flight_now_ms();
	resume(c);
}

/* Modules that no proxy upstream may serve: the client fetches them itself
 * (404 lets GOPROXY=modgate,direct go on), or nobody does. */
static void refuse_route(evhtp_request_t *req, enum pool_route route, const char *module)
{
	char line[600];

	switch (route) {
	case POOL_ROUTE_DIRECT:
		snprintf(line, sizeof(line),
		         "modgate: %.400s matches GONOPROXY or a direct route: it is never fetched "
		         "through a proxy",
		         module);
		reply_text(req, 404, NULL, line);
		return;
	case POOL_ROUTE_OFF:
		snprintf(line, sizeof(line), "modgate: module lookup disabled by route for %.400s",
		         module);
		reply_text(req, 403, NULL, line);
		return;
	default:
		snprintf(line, sizeof(line), "modgate: no route for %.400s", module);
		reply_text(req, 404, NULL, line);
		return;
	}
}

/* The cache's size and object count, for /metrics: a walk of the whole
 * tree, so on a worker, started by a scrape when the last figures are older
 * than this (the scrape shows the last finished walk). */
#define USAGE_MAX_AGE_MS 2000

struct usage_job {
	struct server *srv;
	uint64_t bytes, objects;
};

static void usage_run(void *arg)
{
	struct usage_job *j = arg;

	cache_usage_scan(j->srv->env.store, &j->bytes, &j->objects);
}

static void usage_done(void *arg)
{
	struct usage_job *j = arg;

	j->srv->usage_bytes = j->bytes;
	j->srv->usage_objects = j->objects;
	j->srv->usage_known = 1;
	j->srv->usage_running = 0;
	j->srv->usage_at_ms = flight_now_ms();
	free(j);
}

static void start_usage_scan(struct server *s)
{
	struct usage_job *j;

	if (s->usage_running || !(j = calloc(1, sizeof(*j))))
		return;
	j->srv = s;
	if (worker_submit(s->env.workers, usage_run, usage_done, j) < 0) {
		free(j);
		return;
	}
	s->usage_running = 1;
}

/* GET / on the admin listener: the status page. */
static void write_page(void *arg, struct evbuffer *out)
{
	struct server *s = arg;
	struct statuspage_info in = {
	    .cache_dir = s->env.cfg->cache_dir,
	    .usage_known = s->usage_known,
	    .cache_bytes = s->usage_bytes,
	    .cache_objects = s->usage_objects,
	    .hits = s->metrics.cache[METRICS_HIT],
	    .misses = s->metrics.cache[METRICS_MISS],
	    .stale = s->metrics.cache[METRICS_STALE],
	    .negative = s->metrics.cache[METRICS_NEGATIVE],
	    .offline = s->env.cfg->offline,
	    .version = MODGATE_VERSION,
	    .started = s->started,
	    .reloads = s->generation,
	    .reloads_refused = s->reloads_refused,
	    .last_reload_at = s->last_reload_at,
	    .last_reload_ok = s->last_reload_ok,
	    .tls_not_after = tls_listener_not_after(s->tls),
	};

	if (!s->usage_known || flight_now_ms() - s->usage_at_ms > USAGE_MAX_AGE_MS)
		start_usage_scan(s);
	in.disk_known = cache_disk_free(s->env.store, &in.disk_free) == 0;
	verify_stats(s->env.verify, &in.verify);
	statuspage_write(out, s->env.pools, &in, flight_now_ms());
}

/* GET /metrics on the admin listener. */
static void write_metrics(void *arg, struct evbuffer *out)
{
	struct server *s = arg;
	uint64_t free_bytes = 0;

	metrics_write(&s->metrics, s->env.pools, s->env.joins, s->env.upstream_requests,
	              s->env.store, flight_now_ms(), out);
	verify_write_metrics(s->env.verify, out);
	if (!s->usage_known || flight_now_ms() - s->usage_at_ms > USAGE_MAX_AGE_MS)
		start_usage_scan(s);
	if (s->usage_known)
		evbuffer_add_printf(
		    out,
		    "# HELP modgate_cache_size_bytes Bytes of committed objects, as of the "
		    "last walk.\n# TYPE modgate_cache_size_bytes gauge\n"
		    "modgate_cache_size_bytes %llu\n"
		    "# HELP modgate_cache_objects Committed objects, as of the last walk "
		    "(a scrape starts one when it is over 2 s old).\n"
		    "# TYPE modgate_cache_objects gauge\n"
		    "modgate_cache_objects %llu\n",
		    (unsigned long long)s->usage_bytes, (unsigned long long)s->usage_objects);
	if (cache_disk_free(s->env.store, &free_bytes) == 0)
		evbuffer_add_printf(out,
		                    "# HELP modgate_disk_free_bytes Free bytes on the cache's file "
		                    "system.\n# TYPE modgate_disk_free_bytes gauge\n"
		                    "modgate_disk_free_bytes %llu\n",
		                    (unsigned long long)free_bytes);
	evbuffer_add_printf(
	    out,
	    "# HELP modgate_build_info The running release.\n# TYPE modgate_build_info gauge\n"
	    "modgate_build_info{version=\"%s\"} 1\n"
	    "# HELP process_start_time_seconds When modgate started, in Unix time.\n"
	    "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %lld\n"
	    "# HELP modgate_reloads_total Configuration reloads by result.\n"
	    "# TYPE modgate_reloads_total counter\n"
	    "modgate_reloads_total{result=\"accepted\"} %u\n"
	    "modgate_reloads_total{result=\"refused\"} %llu\n"
	    "# HELP modgate_config_last_reload_successful 0 when the last reload was refused: "
	    "the file on disk is not what runs.\n"
	    "# TYPE modgate_config_last_reload_successful gauge\n"
	    "modgate_config_last_reload_successful %d\n"
	    "# HELP modgate_client_connections Open client connections.\n"
	    "# TYPE modgate_client_connections gauge\nmodgate_client_connections %d\n"
	    "# HELP modgate_client_connections_refused_total Client connections closed at "
	    "once: max_connections were open.\n"
	    "# TYPE modgate_client_connections_refused_total counter\n"
	    "modgate_client_connections_refused_total %llu\n"
	    "# HELP modgate_upstream_fetches_in_progress Fetches under way (one per object, "
	    "however many clients wait for it).\n"
	    "# TYPE modgate_upstream_fetches_in_progress gauge\n"
	    "modgate_upstream_fetches_in_progress %zu\n",
	    MODGATE_VERSION, (long long)s->started, s->generation,
	    (unsigned long long)s->reloads_refused, s->last_reload_ok, s->clients.n,
	    (unsigned long long)s->clients.refused, strmap_len(s->env.flights));
	if (s->tls)
		evbuffer_add_printf(
		    out,
		    "# HELP modgate_tls_certificate_expiry_timestamp_seconds When the "
		    "certificate served expires (its notAfter), in Unix time.\n"
		    "# TYPE modgate_tls_certificate_expiry_timestamp_seconds gauge\n"
		    "modgate_tls_certificate_expiry_timestamp_seconds %lld\n",
		    (long long)tls_listener_not_after(s->tls));
	evbuffer_add_printf(out,
	                    "# HELP modgate_admin_denied_total Admin changes refused: no or "
	                    "wrong token, or no token and not from this host.\n"
	                    "# TYPE modgate_admin_denied_total counter\n"
	                    "modgate_admin_denied_total %llu\n",
	                    (unsigned long long)admin_denied(s->admin));
}

/* Free space under which the cache is "not ready": writes would fail soon. */
#define READY_MIN_FREE_PCT 2

/* /healthz: the loop turns (it answered). /readyz: the cache can take new
 * objects (503 if not: this modgate cannot do its job), and which pools
 * have no usable upstream (still 200: cached modules are served, so taking
 * modgate out of a load balancer would only make things worse). */
static void health(struct server *s, evhtp_request_t *req, int ready)
{
	char body[2048], why[512];
	size_t off = 0;
	int i, j, usable, degraded = 0;
	int64_t now = flight_now_ms();

	if (!ready) {
		reply_text(req, 200, NULL, "ok");
		return;
	}
	if (cache_store_health(s->env.store, READY_MIN_FREE_PCT, why, sizeof(why)) < 0) {
		snprintf(body, sizeof(body), "not ready: %s%s",
		         s->env.cfg->offline ? "offline, " : "", why);
		reply_text(req, 503, NULL, body);
		return;
	}
	if (s->env.cfg->offline) {
		/* No upstream is asked: their breakers say nothing of this
		 * modgate's use. */
		snprintf(body, sizeof(body), "ready: offline, serving only what is cached; %s",
		         why);
		reply_text(req, 200, NULL, body);
		return;
	}
	for (i = 0; i < s->env.pools->n_pools && off < sizeof(body); i++) {
		struct pool *p = &s->env.pools->pools[i];

		for (usable = 0, j = 0; j < p->n; j++)
			usable |= !p->members[j].up || pool_upstream_usable(p->members[j].up, now);
		if (!usable) {
			off += (size_t)snprintf(
			    body + off, sizeof(body) - off, "%spool %s",
			    degraded++ ? ", " : "degraded: no usable upstream in ", p->name);
		}
	}
	if (!degraded)
		snprintf(body, sizeof(body), "ready: %s", why);
	/* Degraded still serves (the cache, stale metadata, fast 503s): a
	 * 2xx keeps it in rotation, a status of its own lets a probe that
	 * wants full health ask for exactly 200. */
	reply_text(req, degraded ? 203 : 200, NULL, body);
}

/* A /sumdb/ request: the checksum database named by GOSUMDB is passed
 * through to its own URL when [sumdb] database gives one, else to the
 * upstreams (proxy.golang.org and others serve it under /sumdb/); tiles
 * modgate has proven are cached for good; the go command verifies what it
 * gets as it would from the database itself. Anything else is a 404, which
 * sends the go command to its database directly. Fills mp (the database
 * name stands for the module, for routing), rel, immutable and ctype, or
 * answers the request and returns -1. */
static int sumdb_request(struct server *s, evhtp_request_t *req, const char *path,
                         struct modpath_req *mp, char *rel, size_t rellen, int *immutable,
                         const char **ctype)
{
	struct sumdb_path *sp = calloc(1, sizeof(*sp));
	char err[300], line[600];
	int status;

	if (!sp) {
		reply_text(req, 503, NULL, "modgate: out of memory");
		return -1;
	}
	if (sumdb_parse_path(path, sp, &status, err, sizeof(err)) < 0) {
		snprintf(line, sizeof(line), "modgate: %s", err);
		reply_text(req, status, NULL, line);
		free(sp);
		return -1;
	}
	if (!s->env.cfg->sumdb_name[0] || strcmp(sp->name, s->env.cfg->sumdb_name) != 0) {
		snprintf(line, sizeof(line),
		         "modgate: checksum database %.200s is not proxied here (GOSUMDB=%.200s); "
		         "ask it directly",
		         sp->name, s->env.cfg->sumdb_name[0] ? s->env.cfg->sumdb_name : "off");
		reply_text(req, 404, NULL, line);
		free(sp);
		return -1;
	}
	if (sp->kind == SUMDB_SUPPORTED) {
		/* modgate verifies against this database itself, so it serves it:
		 * no need to ask an upstream (which may be down). */
		reply_text(req, 200, "HIT", "");
		free(sp);
		return -1;
	}
	if ((size_t)snprintf(rel, rellen, "sumdb/%s/%s", sp->name, sp->rest) >= rellen) {
		reply_text(req, 400, NULL, "modgate: request path too long");
		free(sp);
		return -1;
	}
	memset(mp, 0, sizeof(*mp));
	mp->kind = MODPATH_INFO; /* small metadata: the same deadlines */
	snprintf(mp->module, sizeof(mp->module), "%s", sp->name);
	*immutable = sp->immutable;
	*ctype = sp->kind == SUMDB_TILE ? "application/octet-stream" : "text/plain; charset=utf-8";
	free(sp);
	return 0;
}

static int build_rel(const struct modpath_req *mp, char *rel, size_t len)
{
	static const char *ext[] = {
	    [MODPATH_INFO] = ".info", [MODPATH_MOD] = ".mod", [MODPATH_ZIP] = ".zip"};
	int n;

	switch (mp->kind) {
	case MODPATH_LIST:
		n = snprintf(rel, len, "%s/@v/list", mp->esc_module);
		break;
	case MODPATH_LATEST:
		n = snprintf(rel, len, "%s/@latest", mp->esc_module);
		break;
	default:
		n = snprintf(rel, len, "%s/@v/%s%s", mp->esc_module, mp->esc_version,
		             ext[mp->kind]);
		break;
	}
	return n > 0 && (size_t)n < len ? 0 : -1;
}

/* A request id from the client's X-Request-Id when it is a plain token,
 * else one made here; echoed to the client, sent to the upstream, logged. */
static struct access *start_access(struct server *s, evhtp_request_t *req)
{
	struct access *a = calloc(1, sizeof(*a));
	const char *given = evhtp_header_find(req->headers_in, "X-Request-Id");
	size_t n = given ? strlen(given) : 0;

	if (!a)
		return NULL;
	a->srv = s;
	a->start_us = flight_now_us();
	if (n > 0 && n <= 64 &&
	    strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") ==
	        n)
		snprintf(a->id, sizeof(a->id), "%s", given);
	else
		snprintf(a->id, sizeof(a->id), "%016llx",
		         (unsigned long long)((s->id_seed + ++s->id_seq) * 0x9E3779B97F4A7C15ULL));
	add_header(req, "X-Request-Id", a->id);
	return a;
}

/* [allow] and [deny] on what the request names: the module, and the
 * version when the path gives a canonical one (a query's is checked once
 * known, by reply_checked). Checked before the cache: a cached version that
 * has since been denied is refused too. 1 when the request was refused. */
static int policy_refused(struct server *s, evhtp_request_t *req, const struct modpath_req *mp)
{
	const struct config_policy_rule *rule;
	enum policy_verdict v;
	char line[REFUSAL_MAX];
	int versioned = mp->kind != MODPATH_LIST && mp->kind != MODPATH_LATEST && mp->canonical;

	v = versioned ? policy_check_version(s->env.cfg, mp->module, mp->version, &rule)
	              : policy_check_module(s->env.cfg, mp->module, &rule);
	if (v == POLICY_OK)
		return 0;
	/* 403, not 404: with GOPROXY=modgate,direct the go command moves on
	 * after 404 or 410 only, and a refused version must not be fetched
	 * from elsewhere behind modgate's back. */
	metrics_refusal(&s->metrics,
	                v == POLICY_DENIED ? METRICS_REFUSED_DENY : METRICS_REFUSED_ALLOW);
	reply_text(req, 403, NULL,
	           policy_message(v, rule, mp->module, versioned ? mp->version : NULL, line,
	                          sizeof(line)));
	return 1;
}

/* Offline and not in the cache: a 404 that says so at once. 404 rather than
 * 410: the object may well exist, and modgate will have it when online. */
static void refuse_offline(struct server *s, evhtp_request_t *req, const struct modpath_req *mp,
                           int sumdb, const char *path)
{
	char line[REFUSAL_MAX];

	metrics_refusal(&s->metrics, METRICS_REFUSED_OFFLINE);
	if (sumdb)
		snprintf(line, sizeof(line),
		         "modgate is offline: checksum database answer %.1024s is not in its cache",
		         path + 7);
	else if (mp->kind == MODPATH_LIST)
		snprintf(line, sizeof(line),
		         "modgate is offline: the version list of %s is not in its cache",
		         mp->module);
	else if (mp->kind == MODPATH_LATEST)
		snprintf(line, sizeof(line),
		         "modgate is offline: the latest version of %s is not in its cache",
		         mp->module);
	else
		snprintf(line, sizeof(line), "modgate is offline: %s@%s is not in its cache",
		         mp->module, mp->version);
	reply_text(req, 404, NULL, line);
}

/* The context of a request that will be answered later: takes fd (the
 * expired copy of mutable metadata, or -1). NULL when out of memory (then
 * the request is answered and fd closed). */
static struct request_ctx *new_ctx(struct server *s, evhtp_request_t *req, const struct access *acc,
                                   const struct modpath_req *mp, const char *ctype, int immutable,
                                   int fd, const struct cache_stat *st)
{
	struct request_ctx *c = calloc(1, sizeof(*c));

	if (!c) {
		if (fd >= 0)
			close(fd);
		reply_text(req, 503, NULL, "modgate: out of memory");
		return NULL;
	}
	c->acc = *acc;
	c->srv = s;
	c->req = req;
	c->kind = mp->kind;
	c->ctype = ctype;
	c->head = is_head(req);
	c->immutable = immutable;
	c->stale_fd = fd;
	c->stale_size = fd >= 0 ? st->size : 0;
	c->waiter.notify = on_flight;
	c->set = pool_set_ref(s->env.pools);
	return c;
}

/* The request waits for c's answer; from here c carries the access record
 * (acc is freed) and dies in on_request_fini. */
static void pause_request(struct request_ctx *c, struct access *acc)
{
	evhtp_request_set_hook(c->req, evhtp_hook_on_request_fini, (evhtp_hook)on_request_fini, c);
	free(acc);
	evhtp_request_pause(c->req);
}

/* A /sumdb/ request for a database with a URL of its own: fetched there
 * (verify_db_get), answered by on_db_answer. rel is "sumdb/NAME/PATH"; fd
 * (taken) is an expired copy of a kept answer, or -1. */
static void ask_database(struct server *s, evhtp_request_t *req, struct access *acc,
                         const struct modpath_req *mp, const char *rel, const char *ctype,
                         int immutable, int fd, const struct cache_stat *st)
{
	struct request_ctx *c = new_ctx(s, req, acc, mp, ctype, immutable, fd, st);
	const char *path = rel + strlen("sumdb/") + strlen(s->env.cfg->sumdb_name) + 1;

	if (!c)
		return;
	c->rel = strdup(rel);
	c->db = c->rel ? verify_db_get(s->env.verify, path, acc->id, on_db_answer, c) : NULL;
	if (!c->db) {
		free_ctx(c);
		reply_text(req, 503, NULL,
		           "modgate: cannot start a fetch from the checksum database");
		return;
	}
	pause_request(c, acc);
}

static void on_request(evhtp_request_t *req, void *arg)
{
	struct server *s = arg;
	struct modpath_req mp;
	struct cache_stat st;
	const struct cache_neg_entry *neg;
	struct request_ctx *c;
	struct access *acc;
	char rel[FLIGHT_REL_MAX + 1];
	char err[512];
	int status, fd, immutable, sumdb = 0, filter = 0;
	const char *ctype;
	enum pool_route route;
	struct pool *pool = NULL;
	htp_method method = evhtp_request_get_method(req);
	const char *path = req->uri && req->uri->path ? req->uri->path->full : NULL;
	time_t now = time(NULL);

	/* Stopping: this connection closes once the answer has gone out. */
	if (s->stopping)
		evhtp_request_disable_flag(req, EVHTP_REQ_FLAG_KEEPALIVE);
	acc = start_access(s, req);
	if (!acc) {
		reply_text(req, 503, NULL, "modgate: out of memory");
		return;
	}
	evhtp_request_set_hook(req, evhtp_hook_on_request_fini, (evhtp_hook)on_plain_fini, acc);
	if (method != htp_method_GET && method != htp_method_HEAD) {
		add_header(req, "Allow", "GET, HEAD");
		reply_text(req, 405, NULL, "modgate: only GET and HEAD are served");
		return;
	}
	if (!path) {
		reply_text(req, 400, NULL, "modgate: no request path");
		return;
	}
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0) {
		health(s, req, path[1] == 'r');
		return;
	}
	if (strncmp(path, "/sumdb/", 7) == 0) {
		if (sumdb_request(s, req, path, &mp, rel, sizeof(rel), &immutable, &ctype) < 0)
			return;
		sumdb = 1;
	} else {
		if (modpath_parse_request(path, &mp, &status, err, sizeof(err)) < 0) {
			char line[600];

			snprintf(line, sizeof(line), "modgate: %s", err);
			reply_text(req, status, NULL, line);
			return;
		}
		if (build_rel(&mp, rel, sizeof(rel)) < 0) {
			reply_text(req, 400, NULL, "modgate: request path too long");
			return;
		}
		immutable = mp.kind != MODPATH_LIST && mp.kind != MODPATH_LATEST && mp.canonical;
		ctype = content_type(mp.kind);
		if (policy_refused(s, req, &mp))
			return;
		filter = !immutable && policy_filters(s->env.cfg, mp.module);
	}
	fd = cache_open(s->env.store, rel, &st);
	/* Offline, an expired copy is the best there is: served, marked STALE. */
	if (fd >= 0 &&
	    (immutable || now - st.mtime < s->env.cfg->list_ttl_s || s->env.cfg->offline)) {
		const char *state =
		    immutable || now - st.mtime < s->env.cfg->list_ttl_s ? "HIT" : "STALE";

		if (filter) {
			reply_checked(s, req, mp.kind, mp.module, ctype, state, fd, st.size);
			close(fd);
		} else {
			reply_file(s, req, ctype, immutable, state, fd, st.size);
		}
		return;
	}
	if (s->env.cfg->offline) {
		/* Never an upstream, a child go command or the negative cache
		 * (whose answers came from upstreams): what is not here is not
		 * to be had. (A cached copy, fresh or not, was served above.) */
		refuse_offline(s, req, &mp, sumdb, path);
		return;
	}
	neg = cache_neg_get(s->env.neg, rel, now);
	if (neg) {
		if (fd >= 0)
			close(fd);
		reply_text(req, neg->status, "NEGATIVE", neg->body);
		return;
	}
	/* A database with a URL of its own ([sumdb] database = KEY URL) is
	 * asked there, as modgate's own lookups are: no pool need route its
	 * name. */
	if (sumdb && s->env.cfg->sumdb_url[0]) {
		ask_database(s, req, acc, &mp, rel, ctype, immutable, fd, &st);
		return;
	}
	/* GONOPROXY belongs to the GOPROXY chain; with pools, [route] decides. */
	if (s->env.pools->chain && config_is_noproxy(s->env.cfg, mp.module))
		route = POOL_ROUTE_DIRECT;
	else
		route = pool_route(s->env.pools, mp.module, &pool);
	/* A [route] to direct is served by modgate from the origin; GONOPROXY
	 * (the chain's) leaves direct fetching to the client. */
	if (route == POOL_ROUTE_DIRECT && s->env.pools->chain == NULL && s->env.direct && !sumdb)
		route = POOL_ROUTE_POOL; /* with pool NULL: the flight goes direct */
	if (route != POOL_ROUTE_POOL) {
		if (fd >= 0)
			close(fd);
		refuse_route(req, route, mp.module);
		return;
	}
	c = new_ctx(s, req, acc, &mp, ctype, immutable, fd, &st);
	if (!c)
		return;
	c->filter = filter;
	if (filter && !(c->module = strdup(mp.module))) {
		free_ctx(c);
		reply_text(req, 503, NULL, "modgate: out of memory");
		return;
	}
	if (flight_join(&s->env, pool, &mp, rel,
	                (immutable ? FLIGHT_F_IMMUTABLE : 0) | (sumdb ? FLIGHT_F_NO_COMMIT : 0) |
	                    (!sumdb && verify_needed(&mp) ? FLIGHT_F_VERIFY : 0),
	                acc->id, &c->waiter) < 0) {
		free_ctx(c);
		reply_text(req, 503, NULL,
		           "modgate: cannot start an upstream fetch (out of memory)");
		return;
	}
	pause_request(c, acc);
}

/* `modgate restore` exchanges the cache folder under us; the store's root
 * descriptor would keep serving the old tree until it looks again. */
static void on_root_check(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	char err[512];
	int rc;

	(void)fd;
	(void)what;
	rc = cache_store_check_root(s->env.store, err, sizeof(err));
	if (rc > 0)
		log_info("cache %s: the folder was replaced (modgate restore); serving the new one",
		         s->env.cfg->cache_dir);
	if (rc < 0 && !s->root_check_failing)
		log_warn("cache root check: %s; still serving the folder opened before", err);
	s->root_check_failing = rc < 0;
}

/* Child go commands, when a pool's on_open or a route says direct. Their
 * folders live under the cache (.direct) so results are linked, not copied. */
static int start_direct(struct server *s, const struct config *cfg, char *err, size_t errlen)
{
	struct direct_opts o = {0};
	char root[CONFIG_PATH_MAX + 16];
	int i, needed = 0;

	for (i = 0; i < cfg->n_pools; i++)
		needed |= cfg->pools[i].on_open == CONFIG_ON_OPEN_DIRECT;
	for (i = 0; i < cfg->n_routes; i++)
		needed |= cfg->routes[i].target == CONFIG_ROUTE_DIRECT;
	/* Set up once, when first needed (at start or by a reload); a later
	 * reload that routes nothing direct leaves it idle. */
	if (!needed || s->env.direct)
		return 0;
	snprintf(root, sizeof(root), "%s/.direct", cfg->cache_dir);
	if (mkdir(root, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", root, strerror(errno));
		return -1;
	}
	o.go_binary = cfg->go_binary[0] ? cfg->go_binary : NULL;
	o.tmp_root = root;

	s->env.direct = direct_new(s->base, &o, s->env.workers, err, errlen);
	return s->env.direct ? 0 : -1;
}

/* ---- reload ------------------------------------------------------------- */

/* One JSON event line per reload: {"event":"reload","result":"accepted",
 * "generation":N,"changed":"pools, routes"} or "result":"refused" with
 * "reason". */
static void reload_event(struct server *s, int accepted, const char *detail)
{
	char when[32], *line;
	time_t now = time(NULL);
	struct tm tm;
	json_t *o;

	s->last_reload_at = now;
	s->last_reload_ok = accepted;
	if (!accepted)
		s->reloads_refused++;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "time", when, "level",
	              accepted ? "info" : "warn", "event", "reload", "result",
	              accepted ? "accepted" : "refused", "generation", (json_int_t)s->generation,
	              accepted ? "changed" : "reason", detail);
	line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (line)
		log_line(accepted ? LOG_INFO : LOG_WARN, line);
	else
		log_warn("reload %s: %s", accepted ? "accepted" : "refused", detail);
	free(line);
	json_decref(o);
}

static int refuse(struct server *s, char *msg, size_t len, const char *why)
{
	snprintf(msg, len, "reload refused: %s (the running configuration stays)", why);
	reload_event(s, 0, why);
	return -1;
}

/* Applies next (a complete, checked config) unless it changes what needs a
 * restart. Everything that can fail is done before the swap. */
static int apply(struct server *s, struct config *next, char *msg, size_t len)
{
	const struct config *cur = s->env.cfg;
	struct pool_set *set, *old;
	char err[CONFIG_PATH_MAX * 2 + 512], what[1200];

	if (reload_restart_needed(cur, next, what, sizeof(what)) > 0) {
		snprintf(err, sizeof(err), "needs a restart: %.900s", what);
		return refuse(s, msg, len, err);
	}
	/* Every reload reads the pair again, changed paths or not: certbot
	 * renews in place. The fingerprint of what will be served replaces
	 * the one the load computed, should the files have changed since. */
	if (s->tls && tls_listener_prepare(s->tls, next->tls_cert, next->tls_key,
	                                   next->tls_fingerprint, err, sizeof(err)) < 0)
		return refuse(s, msg, len, err);
	set = pool_set_new(next, s->env.pools, (uint64_t)time(NULL) ^ s->generation, err,
	                   sizeof(err));
	if (!set)
		goto refused;
	if (start_direct(s, next, err, sizeof(err)) < 0)
		goto refused_set;
	if ((next->log_json != cur->log_json || strcmp(next->log_output, cur->log_output) != 0) &&
	    log_configure(next->log_output, next->log_json, err, sizeof(err)) < 0)
		goto refused_set;
	if (s->tls)
		tls_listener_commit(s->tls);
	reload_changes(cur, next, what, sizeof(what));
	/* The swap: from the next event on, requests route through set. The
	 * old generation lives on while a flight or request holds it. */
	old = s->env.pools;
	s->env.pools = set;
	s->env.cfg = &set->cfg;
	if (s->admin)
		admin_set_pools(s->admin, set);
	pool_set_unref(old);
	cache_neg_clear(s->env.neg);
	s->clients.max = s->env.cfg->max_connections;
	s->metrics.offline = s->env.cfg->offline;
	log_set_level((enum log_level)s->env.cfg->log_level);
	s->generation++;
	reload_event(s, 1, what);
	snprintf(msg, len, "reload accepted (generation %u): changed %s", s->generation, what);
	return 0;
refused_set:
	pool_set_unref(set);
refused:
	if (s->tls)
		tls_listener_abort(s->tls);
	return refuse(s, msg, len, err);
}

int server_reload(struct server *s, char *msg, size_t len)
{
	struct config *next;
	char err[1024];
	int rc;

	if (s->stopping)
		return refuse(s, msg, len, "modgate is stopping");
	/* logrotate sends SIGHUP after moving the file: reopen it even when
	 * the configuration turns out to be refused. The old file stays open
	 * on failure: worth a line, not a refusal. */
	if (log_reopen(err, sizeof(err)) < 0)
		log_warn("reload: %s", err);
	if (!s->load)
		return refuse(s, msg, len, "no way to read the configuration again");
	/* A struct config is large: not on the stack of a callback. */
	next = malloc(sizeof(*next));
	if (!next)
		return refuse(s, msg, len, "out of memory");
	if (s->load(s->load_arg, next, err, sizeof(err)) < 0)
		rc = refuse(s, msg, len, err);
	else
		rc = apply(s, next, msg, len);
	OPENSSL_cleanse(next, sizeof(*next)); /* its secrets were copied, or refused */
	free(next);
	return rc;
}

void server_set_loader(struct server *s, server_load_fn load, void *arg)
{
	s->load = load;
	s->load_arg = arg;
}

/* POST /reload on the admin endpoint. */
static int admin_reload(void *arg, char *msg, size_t len)
{
	return server_reload(arg, msg, len);
}

/* ---- graceful stop -------------------------------------------------------- */

static void on_clients_gone(void *arg)
{
	struct server *s = arg;

	log_info("stop: every request in flight has finished");
	event_base_loopexit(s->base, NULL);
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	(void)fd;
	(void)what;
	log_warn("stop: stop_timeout (%d ms) is over; cutting %d connection(s) short",
	         s->env.cfg->stop_timeout_ms, s->clients.n);
	event_base_loopexit(s->base, NULL);
}

void server_stop(struct server *s)
{
	int ms = s->env.cfg->stop_timeout_ms;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};

	if (s->stopping) {
		log_warn("stop: asked again; stopping now, cutting %d connection(s) short",
		         s->clients.n);
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->stopping = 1;
	evhtp_unbind_socket(s->htp);
	conn_set_close_idle(&s->clients);
	log_info("stop: listener closed; waiting up to %d ms for %d connection(s) with a request "
	         "in flight",
	         ms, s->clients.n);
	if (s->clients.n == 0 || ms == 0) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->clients.on_empty = on_clients_gone;
	s->clients.on_empty_arg = s;
	s->stop_ev = evtimer_new(s->base, on_stop_deadline, s);
	if (!s->stop_ev || evtimer_add(s->stop_ev, &tv) < 0)
		event_base_loopexit(s->base, NULL);
}

struct server *server_new(struct event_base *base, const struct config *cfg, char *err,
                          size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	struct timeval read_to = {.tv_sec = 120}, write_to = {.tv_sec = 120};

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->started = time(NULL);
	s->last_reload_ok = 1;
	s->base = base;
	s->metrics.offline = cfg->offline;
	s->id_seed = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	conn_set_init(&s->clients, cfg->max_connections, "client");
	s->env.base = base;
	s->env.pools =
	    pool_set_new(cfg, NULL, (uint64_t)time(NULL) ^ (uint64_t)getpid(), err, errlen);
	if (!s->env.pools)
		goto fail;
	s->env.cfg = &s->env.pools->cfg;
	s->env.store = cache_store_open(cfg->cache_dir, err, errlen);

	if (!s->env.store)
		goto fail;
	s->env.neg = cache_neg_new(100000);
	s->env.flights = strmap_new();
	s->env.fetch = fetch_ctx_new(base);
	s->env.workers = worker_pool_new(base, cfg->workers);
	s->htp = evhtp_new(base, NULL);
	if (!s->env.neg || !s->env.flights || !s->env.fetch || !s->env.workers || !s->htp) {
		snprintf(err, errlen, "cannot set up the server (out of memory or threads)");
		goto fail;
	}
	if (start_direct(s, cfg, err, errlen) < 0)
		goto fail;
	s->root_check = event_new(base, -1, EV_PERSIST, on_root_check, s);
	if (!s->root_check || event_add(s->root_check, &(struct timeval){.tv_sec = 1}) < 0) {
		snprintf(err, errlen, "cannot set up the cache root timer");
		goto fail;
	}
	s->env.verify = verify_new(&s->env, err, errlen);
	if (!s->env.verify)
		goto fail;
	evhtp_set_gencb(s->htp, on_request, s);
	evhtp_set_post_accept_cb(s->htp, conn_set_on_accept, &s->clients);
	evhtp_set_timeouts(s->htp, &read_to, &write_to);
	/* Clients send GET and HEAD: a body is never needed. */
	evhtp_set_max_body_size(s->htp, 64 * 1024);
	if (cfg->tls_cert[0]) {
		s->tls = tls_listener_new(s->htp, cfg->tls_cert, cfg->tls_key, err, errlen);
		if (!s->tls)
			goto fail;
	}
	if (conn_listener_bind(s->htp, cfg->listen_host, cfg->listen_port, err, errlen) < 0)
		goto fail;
	s->port = conn_listener_port(s->htp);
	if (cfg->admin_port > 0) {
		s->admin = admin_new(base, s->env.pools, write_metrics, admin_reload, s,
		                     cfg->admin_host, cfg->admin_port, err, errlen);
		if (!s->admin)
			goto fail;
		admin_set_page(s->admin, write_page, s);
	}
	return s;
fail:
	server_free(s);
	return NULL;
}

int server_port(const struct server *s)
{
	return s->port;
}

int server_admin_port(const struct server *s)
{
	return s->admin ? admin_port(s->admin) : 0;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	if (s->root_check)
		event_free(s->root_check);
	admin_free(s->admin);
	/* Closing what is left is no reason to end a loop again. */
	s->clients.on_empty = NULL;
	conn_set_close_all(&s->clients);
	if (s->stop_ev)
		event_free(s->stop_ev);
	if (s->htp) {
		if (!s->stopping)
			evhtp_unbind_socket(s->htp);
		evhtp_free(s->htp);
	}
	/* After evhtp_free, which frees the context and used the settings. */
	tls_listener_free(s->tls);
	if (s->env.flights)
		flight_cancel_all(&s->env);
	verify_close(s->env.verify);
	/* Before the workers: pending folder removals run on them. */
	direct_free(s->env.direct);
	/* Commits in progress finish before the store goes away. */
	worker_pool_free(s->env.workers);
	verify_free(s->env.verify);
	fetch_ctx_free(s->env.fetch);
	strmap_free(s->env.flights);
	cache_neg_free(s->env.neg);
	cache_store_free(s->env.store);
	/* Last: every flight and request that held a generation is gone. */
	pool_set_unref(s->env.pools);
	free(s);
}
