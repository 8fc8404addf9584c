/*
 * flight — single-flight upstream fetches streaming into the cache.
 *
 * Life of a flight:
 *   join (first waiter) -> try upstream 0 -> on 404/410 or a fall-through
 *   error try the next -> 200: STREAMING, bytes go to the temp file and
 *   waiters are poked -> complete and length-checked: COMPLETE, a worker
 *   commits -> commit done: leave the index, free when the last waiter goes.
 *   Any other end: FAILED with a status and a line for the client.
 *
 * Once a waiter may have sent body bytes, a broken transfer is final for
 * this flight: a client must get an error, never bytes from two upstreams.
 */
#include "proxy/flight.h"

#include "cache/negcache.h"
#include "cache/store.h"
#include "proxy/config.h"
#include "proxy/direct.h"
#include "proxy/fetch.h"
#include "proxy/log.h"
#include "proxy/modpath.h"
#include "proxy/strmap.h"
#include "proxy/verify.h"
#include "proxy/worker.h"

#include <errno.h>
#include <event2/buffer.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY_ERR_MAX 511

static void try_next(struct flight *f, int failed);
static void fail(struct flight *f, int status, int answered, const char *msg);
static void drop_body(struct flight *f);
static void cancel_hedge(struct flight *f);
static void continue_walk(struct flight *f, int failed);

int64_t flight_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t flight_now_ms(void)
{
	return flight_now_us() / 1000;
}

/* Frees f; its transfers are over and nothing refers to it. */
static void flight_destroy(struct flight *f)
{
	if (f->body_fd >= 0)
		close(f->body_fd);
	if (f->hedge.body)
		evbuffer_free(f->hedge.body);
	event_free(f->notify_ev);
	event_free(f->budget_ev);
	if (f->hedge_ev)
		event_free(f->hedge_ev);
	pool_set_unref(f->set);
	free(f);
}

static void flight_unref(struct flight *f)
{
	if (--f->refs > 0)
		return;
	if (strmap_get(f->env->flights, f->rel) == f)
		strmap_del(f->env->flights, f->rel);
	flight_destroy(f);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct flight *f = arg;
	struct flight_waiter *w, *next;

	(void)fd;
	(void)what;
	/* A waiter may leave (and the flight lose its last reference) while we
	 * walk the list: hold one ourselves. */
	f->refs++;
	for (w = TAILQ_FIRST(&f->waiters); w; w = next) {
		next = TAILQ_NEXT(w, link);
		w->notify(w);
	}
	flight_unref(f);
}

/* Stops the running upstream attempt, if any; its breaker learns nothing. */
static void cancel_attempt(struct flight *f)
{
	if (!f->fetch)
		return;
	fetch_cancel(f->fetch);
	f->fetch = NULL;
	breaker_release(&f->member->up->breaker, &f->permit);
}

/* Stops every transfer of f (its attempt, hedge or child go command); the
 * breakers are told nothing: we stopped them, they did not fail. */
static void stop_transfers(struct flight *f)
{
	cancel_hedge(f);
	f->walk_paused = 0;
	cancel_attempt(f);
	verify_cancel(f);
	if (f->direct) {
		direct_cancel(f->direct);
		f->direct = NULL;
	}
	drop_body(f);
}

/* The client has waited the whole budget for a first byte: stop trying
 * (release the breaker's permit: this says nothing about the upstream) and
 * answer 504 with what was tried. */
static void on_budget(evutil_socket_t fd, short what, void *arg)
{
	struct flight *f = arg;
	char msg[1200];

	(void)fd;
	(void)what;
	if (f->state != FLIGHT_WAITING)
		return;
	stop_transfers(f);
	/* The budget the timer was armed with: the flight's generation's,
	 * not the current one's (a reload may have changed it since). */
	snprintf(msg, sizeof(msg), "modgate: no answer for %.300s within %d ms%s%.600s", f->rel,
	         f->set->cfg.budget_ms, f->last_error[0] ? "; last error: " : "",
	         f->last_error[0] ? f->last_error + strlen("modgate: ") : "");
	log_warn("%s", msg + strlen("modgate: "));
	fail(f, 504, 0, msg);
}

static void poke(struct flight *f)
{
	event_active(f->notify_ev, EV_TIMEOUT, 1);
}

/* The flight no longer holds itself alive: its fetch and commit are over. */
static void deactivate(struct flight *f)
{
	if (!f->active)
		return;
	f->active = 0;
	flight_unref(f);
}

static void one_line(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t n = 0;

	while (n < len && src[n] != '\n' && src[n] != '\r' && src[n] != '\0')
		n++;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Keeps an upstream's 404/410 (its first line of reason, if it gave one)
 * for the answer when no later upstream has the object. */
static void note_answer(struct flight *f, struct pool_member *m, long status, const char *body,
                        size_t len)
{
	f->last_answer = (int)status;
	f->answered_by = m;
	if (len > 0)
		one_line(f->last_answer_msg, sizeof(f->last_answer_msg), body, len);
	else
		snprintf(f->last_answer_msg, sizeof(f->last_answer_msg),
		         "not found: %.300s (upstream %.150s: %ld)", f->rel, m->up->shown, status);
}

static void fail(struct flight *f, int status, int answered, const char *msg)
{
	f->state = FLIGHT_FAILED;
	f->status = status;
	f->answered = answered;
	snprintf(f->message, sizeof(f->message), "%s", msg);
	/* An answer from a generation a reload replaced is the old upstreams'
	 * word; the new ones are asked next time. */
	if (answered && f->set == f->env->pools)
		cache_neg_put(f->env->neg, f->rel, status, msg, time(NULL),
		              f->env->cfg->negative_ttl_s);
	/* Out of the index now, so the next request starts afresh (or hits
	 * the negative cache) instead of joining a dead flight. */
	if (strmap_get(f->env->flights, f->rel) == f)
		strmap_del(f->env->flights, f->rel);
	poke(f);
	deactivate(f);
}

static void drop_body(struct flight *f)
{
	if (f->body_fd >= 0) {
		close(f->body_fd);
		f->body_fd = -1;
		cache_temp_discard(f->env->store, f->tmp_name);
	}
	f->written = 0;
	f->content_length = -1;
}

static int on_response(void *arg, long status, off_t content_length)
{
	struct flight *f = arg;
	char err[256];

	f->http_status = (int)status;
	f->body_err_len = 0;
	f->headers_ms = flight_now_ms() - f->attempt_start;
	if (status != 200)
		return 0;
	f->body_fd =
	    cache_temp_create(f->env->store, f->tmp_name, sizeof(f->tmp_name), err, sizeof(err));
	if (f->body_fd < 0) {
		log_error("flight %s: %s", f->rel, err);
		return -1;
	}
	f->content_length = content_length;
	/* A verified object reaches its waiters only once whole: the budget
	 * for a first byte ends when an upstream starts sending it. */
	if (f->flags & FLIGHT_F_VERIFY)
		evtimer_del(f->budget_ev);
	return 0;
}

static int on_data(void *arg, const char *buf, size_t len)
{
	struct flight *f = arg;
	ssize_t n;

	if (f->http_status != 200) {
		/* Keep the start of an error body: its first line goes to the
		 * client, so the go command prints the upstream's reason. */
		size_t room = BODY_ERR_MAX - f->body_err_len;

		if (len > room)
			len = room;
		memcpy(f->body_err + f->body_err_len, buf, len);
		f->body_err_len += len;
		f->body_err[f->body_err_len] = '\0';
		return 0;
	}
	if (f->content_length >= 0 && f->written + (off_t)len > f->content_length) {
		log_warn("flight %s: upstream sent more than its Content-Length", f->rel);
		return -1;
	}
	while (len > 0) {
		n = write(f->body_fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error("flight %s: writing temp file: %s", f->rel, strerror(errno));
			return -1;
		}
		buf += n;
		len -= n;
		f->written += n;
	}
	/* Unverified bytes are never shown to a waiter. */
	if (f->flags & FLIGHT_F_VERIFY)
		return 0;
	if (f->state == FLIGHT_WAITING)
		f->state = FLIGHT_STREAMING;
	poke(f);
	return 0;
}

struct commit_job {
	struct flight *f; /* NULL for a sibling file of a direct download */
	struct flight_env *env;
	struct cache_store *store;
	int fd;
	char tmp_name[96];
	char rel[FLIGHT_REL_MAX + 1];
	int immutable;
	enum cache_commit_result result;
	char err[512];
};

static void commit_run(void *arg)
{
	struct commit_job *j = arg;

	j->result = cache_commit(j->store, j->fd, j->tmp_name, j->rel, j->immutable, j->err,
	                         sizeof(j->err));
}

static void commit_done(void *arg)
{
	struct commit_job *j = arg;
	struct flight *f = j->f;

	switch (j->result) {
	case CACHE_COMMITTED:
		j->env->commits++;
		cache_neg_forget(j->env->neg, j->rel);
		log_debug("cached %s", j->rel);
		break;
	case CACHE_EXISTS:
		/* Expected for the sibling files of a direct download. */
		log_msg(f ? LOG_WARN : LOG_DEBUG,
		        "%s was already in the cache; kept the committed copy", j->rel);
		break;
	case CACHE_COMMIT_ERROR:
		log_error("could not cache %s: %s", j->rel, j->err);
		break;
	}
	if (!f) {
		close(j->fd);
		free(j);
		return;
	}
	free(j);
	if (strmap_get(f->env->flights, f->rel) == f)
		strmap_del(f->env->flights, f->rel);
	deactivate(f);
}

static void start_commit(struct flight *f)
{
	struct commit_job *j = calloc(1, sizeof(*j));

	if (!j) {
		log_error("could not cache %s: out of memory", f->rel);
		deactivate(f);
		return;
	}
	j->f = f;
	j->env = f->env;
	j->store = f->env->store;
	j->fd = f->body_fd;
	j->immutable = f->immutable;
	snprintf(j->tmp_name, sizeof(j->tmp_name), "%s", f->tmp_name);
	snprintf(j->rel, sizeof(j->rel), "%s", f->rel);
	if (worker_submit(f->env->workers, commit_run, commit_done, j) < 0) {
		free(j);
		cache_temp_discard(f->env->store, f->tmp_name);
		deactivate(f);
	}
}

/* What the attempt taught us about the upstream: 5xx, 429 and broken
 * transfers count against its breaker; any other status is an answer. */
static enum breaker_outcome outcome_of(enum fetch_result res, long status)
{
	switch (res) {
	case FETCH_OK:
		return status >= 500 || status == 429 ? BREAKER_FAILURE : BREAKER_SUCCESS;
	case FETCH_ABORTED:
		return BREAKER_IGNORED; /* we stopped it (temp file, size) */
	default:
		return BREAKER_FAILURE;
	}
}

/* Tells an attempt's upstream, its counters and its breaker how it went. */
static void record_outcome(struct pool_member *m, struct breaker_permit *permit, int64_t start,
                           int64_t headers_ms, enum breaker_outcome o)
{
	struct upstream *up = m->up;
	struct breaker_counters bc;
	int64_t now = flight_now_ms();

	if (o == BREAKER_FAILURE)
		up->failures++;
	else if (o == BREAKER_SUCCESS)
		up->answers++;
	const char *from = breaker_state_name(breaker_state(&up->breaker, now)), *to;

	if (headers_ms >= 0)
		pool_observe_latency(up, headers_ms);
	if (!breaker_record(&up->breaker, permit, o, headers_ms >= 0 ? headers_ms : now - start,
	                    now))
		return;
	breaker_counters(&up->breaker, &bc);
	to = breaker_state_name(breaker_state(&up->breaker, now));
	log_event(LOG_WARN, "breaker",
	          (const char *const[]){"upstream", up->shown, "from", from, "to", to, "reason",
	                                breaker_reason_name(bc.last_reason), NULL},
	          "upstream %s: breaker %s (%s; %u failures in a row, %d%% of the last %u calls)",
	          up->shown, to, breaker_reason_name(bc.last_reason), bc.consecutive_failures,
	          bc.failure_rate_pct, bc.window_calls);
}

static void record_attempt(struct pool_member *m, struct breaker_permit *permit, int64_t start,
                           int64_t headers_ms, enum fetch_result res, long status)
{
	record_outcome(m, permit, start, headers_ms, outcome_of(res, status));
}

/* A NO_COMMIT flight's body is whole: show it to the waiters, keep nothing. */
static void complete_uncommitted(struct flight *f)
{
	cache_temp_discard(f->env->store, f->tmp_name);
	f->state = FLIGHT_COMPLETE;
	if (strmap_get(f->env->flights, f->rel) == f)
		strmap_del(f->env->flights, f->rel);
	poke(f);
	deactivate(f);
}

void flight_verified(struct flight *f, const struct verify_outcome *o)
{
	struct pool_member *m = f->member;

	f->check = NULL;
	switch (o->verdict) {
	case VERIFY_OK:
		if (m)
			record_outcome(m, &f->permit, f->attempt_start, f->headers_ms,
			               BREAKER_SUCCESS);
		f->state = FLIGHT_COMPLETE;
		if (strmap_get(f->env->flights, f->rel) == f)
			strmap_del(f->env->flights, f->rel);
		poke(f);
		deactivate(f);
		return;
	case VERIFY_BAD:
		/* The temp file is the quarantine's now: close, do not remove. */
		close(f->body_fd);
		f->body_fd = -1;
		f->written = 0;
		f->content_length = -1;
		snprintf(f->last_error, sizeof(f->last_error), "%s", o->message);
		f->last_error_timeout = 0;
		if (!m) {
			fail(f, 502, 0, o->message);
			return;
		}
		/* Bytes that fail verification count against the upstream. */
		record_outcome(m, &f->permit, f->attempt_start, f->headers_ms, BREAKER_FAILURE);
		try_next(f, 1);
		return;
	case VERIFY_REFUSED:
		if (m)
			record_outcome(m, &f->permit, f->attempt_start, f->headers_ms,
			               BREAKER_SUCCESS);
		drop_body(f);
		fail(f, o->status, o->status == 404, o->message);
		return;
	}
}

static void on_done(void *arg, enum fetch_result res, long status, const char *errmsg)
{
	struct flight *f = arg;
	const char *shown = f->member->up->shown;
	char msg[1024];

	f->fetch = NULL;
	if (res == FETCH_OK && status == 200 && f->content_length >= 0 &&
	    f->written != f->content_length) {
		res = FETCH_BROKEN;
		errmsg = "body shorter than its Content-Length";
	}
	if (res == FETCH_OK && status == 200 && (f->flags & FLIGHT_F_VERIFY)) {
		/* The breaker hears about this attempt with the verdict. */
		cancel_hedge(f);
		verify_object(f->env->verify, f);
		return;
	}
	record_attempt(f->member, &f->permit, f->attempt_start, f->headers_ms, res, status);
	if (res == FETCH_OK && status == 200) {
		cancel_hedge(f);
		if (f->flags & FLIGHT_F_NO_COMMIT) {
			complete_uncommitted(f);
			return;
		}
		f->state = FLIGHT_COMPLETE;
		poke(f);
		start_commit(f);
		return;
	}
	if (f->state == FLIGHT_STREAMING) {
		/* Waiters may have sent bytes already: this flight is over. */
		log_warn("upstream %s broke off %s after %lld bytes: %s", shown, f->rel,
		         (long long)f->written, errmsg);
		drop_body(f);
		cancel_hedge(f);
		snprintf(msg, sizeof(msg), "modgate: upstream %.200s broke off %.300s: %.300s",
		         shown, f->rel, errmsg);
		fail(f, 502, 0, msg);
		return;
	}
	drop_body(f);
	if (res == FETCH_OK && (status == 404 || status == 410)) {
		note_answer(f, f->member, status, f->body_err, f->body_err_len);
		continue_walk(f, 0);
		return;
	}
	if (res == FETCH_OK) {
		char line[256];

		one_line(line, sizeof(line), f->body_err, f->body_err_len);
		snprintf(f->last_error, sizeof(f->last_error),
		         "modgate: upstream %.200s answered %ld for %.300s%s%.250s", shown, status,
		         f->rel, line[0] ? ": " : "", line);
	} else {
		snprintf(f->last_error, sizeof(f->last_error),
		         "modgate: upstream %.200s: %s: %.300s", shown, fetch_result_str(res),
		         errmsg);
	}
	f->last_error_timeout = res == FETCH_TIMEOUT;
	log_warn("%s", f->last_error + strlen("modgate: "));
	continue_walk(f, 1);
}

static const struct fetch_callbacks flight_fetch_cb = {
    .on_response = on_response,
    .on_data = on_data,
    .on_done = on_done,
};

/* The deadlines of one upstream attempt for f: its generation's, like its
 * pool and budget, whatever a reload has set since. */
static struct fetch_opts attempt_opts(const struct flight *f)
{
	const struct config *cfg = &f->set->cfg;
	struct fetch_opts o = {
	    .connect_timeout_ms = cfg->connect_timeout_ms,
	    .first_byte_timeout_ms = cfg->first_byte_timeout_ms,
	    .idle_timeout_ms = cfg->idle_timeout_ms,
	    /* Metadata is small: a transfer that drags on is a sick upstream.
	     * A zip may be large and slow but alive: idle bounds it. */
	    .total_timeout_ms = f->kind == MODPATH_ZIP ? 0 : cfg->metadata_timeout_ms,
	    .request_id = f->request_id,
	};

	return o;
}

/* The credential of the upstream the attempt goes to, if it has one. */
static void with_upstream_auth(struct fetch_opts *o, const struct upstream *up)
{
	o->auth = FETCH_AUTH_NONE;
	o->secret = NULL;
	if (!up->cred)
		return;
	o->auth = up->cred->kind == CONFIG_CRED_BEARER ? FETCH_AUTH_BEARER : FETCH_AUTH_BASIC;
	o->secret = up->cred->secret;
}

/* ---- hedged metadata requests --------------------------------------------- */

/* A hedged answer is metadata, held in memory: past this it is not one. */
#define HEDGE_BODY_MAX (1024 * 1024)

static void cancel_hedge(struct flight *f)
{
	if (f->hedge.fetch) {
		fetch_cancel(f->hedge.fetch);
		f->hedge.fetch = NULL;
		breaker_release(&f->hedge.member->up->breaker, &f->hedge.permit);
	}
	if (f->hedge.body) {
		evbuffer_free(f->hedge.body);
		f->hedge.body = NULL;
	}
	if (f->hedge_ev)
		evtimer_del(f->hedge_ev);
}

/* The first attempt ended without a body: go on with the walk, unless the
 * hedge is still running, whose answer may yet do. */
static void continue_walk(struct flight *f, int failed)
{
	if (f->hedge.fetch) {
		f->walk_paused = 1;
		f->paused_failed = failed;
		return;
	}
	try_next(f, failed);
}

static int hedge_on_response(void *arg, long status, off_t content_length)
{
	struct flight *f = arg;

	f->hedge.status = status;
	f->hedge.headers_ms = flight_now_ms() - f->hedge.start;
	return status == 200 && content_length > HEDGE_BODY_MAX ? -1 : 0;
}

static int hedge_on_data(void *arg, const char *buf, size_t len)
{
	struct flight *f = arg;

	if (f->hedge.status != 200)
		return 0;
	if (evbuffer_get_length(f->hedge.body) + len > HEDGE_BODY_MAX)
		return -1;
	return evbuffer_add(f->hedge.body, buf, len);
}

/* The hedge won: its body becomes the flight's, the first attempt stops. */
static void hedge_wins(struct flight *f)
{
	char err[256];
	size_t len = evbuffer_get_length(f->hedge.body);
	const char *data = (const char *)evbuffer_pullup(f->hedge.body, -1);

	cancel_attempt(f);
	drop_body(f);
	f->body_fd =
	    cache_temp_create(f->env->store, f->tmp_name, sizeof(f->tmp_name), err, sizeof(err));
	if (f->body_fd < 0 || (len > 0 && write(f->body_fd, data, len) != (ssize_t)len)) {
		log_error("flight %s: %s", f->rel, f->body_fd < 0 ? err : strerror(errno));
		drop_body(f);
		fail(f, 502, 0, "modgate: could not keep a hedged answer");
		return;
	}
	f->member = f->hedge.member;
	f->written = f->content_length = (off_t)len;
	log_debug("%s: the hedged request to %s answered first", f->rel, f->member->up->shown);
	if (f->flags & FLIGHT_F_NO_COMMIT) {
		complete_uncommitted(f);
		return;
	}
	f->state = FLIGHT_COMPLETE;
	poke(f);
	start_commit(f);
}

static void hedge_on_done(void *arg, enum fetch_result res, long status, const char *errmsg)
{
	struct flight *f = arg;

	(void)errmsg;
	/* Failing the flight may drop its last reference: hold one. */
	f->refs++;
	f->hedge.fetch = NULL;
	record_attempt(f->hedge.member, &f->hedge.permit, f->hedge.start, f->hedge.headers_ms, res,
	               status);
	if (res == FETCH_OK && status == 200 && f->state == FLIGHT_WAITING) {
		hedge_wins(f);
	} else if (f->walk_paused) {
		/* Both ended without a body: the walk goes on (the hedge's
		 * upstream is already marked tried). */
		if (res == FETCH_OK && (status == 404 || status == 410) && !f->last_answer)
			note_answer(f, f->hedge.member, status, NULL, 0);
		f->walk_paused = 0;
		try_next(f, f->paused_failed);
	}
	if (f->hedge.body) {
		evbuffer_free(f->hedge.body);
		f->hedge.body = NULL;
	}
	flight_unref(f);
}

static const struct fetch_callbacks hedge_fetch_cb = {
    .on_response = hedge_on_response,
    .on_data = hedge_on_data,
    .on_done = hedge_on_done,
};

/* The first attempt has not started answering within the pool's hedge
 * delay: ask the next upstream of the walk as well, if the retry budget
 * allows. */
static void on_hedge_timer(evutil_socket_t fd, short what, void *arg)
{
	struct flight *f = arg;
	struct pool *pool = f->walk.pool;
	char url[CONFIG_URL_MAX + 3 * sizeof(f->rel) + 2];
	char esc[3 * sizeof(f->rel)];
	int64_t now = flight_now_ms();
	struct fetch_opts opts = attempt_opts(f);

	(void)fd;
	(void)what;
	if (f->state != FLIGHT_WAITING || !f->fetch || f->headers_ms >= 0 || f->hedge.sent)
		return;
	if (modpath_url_escape(f->rel, esc, sizeof(esc)) < 0 ||
	    !budget_try_withdraw(&pool->budget, now))
		return;
	if (pool_walk_next(&f->walk, 0, now, &f->hedge.member, &f->hedge.permit) !=
	    POOL_NEXT_UPSTREAM) {
		/* A direct or off entry, or nobody left: nothing to hedge to. */
		return;
	}
	f->hedge.sent = 1;
	f->hedge.body = evbuffer_new();
	f->hedge.start = now;
	f->hedge.headers_ms = -1;
	f->hedge.status = 0;
	snprintf(url, sizeof(url), "%s/%s", f->hedge.member->up->url, esc);
	with_upstream_auth(&opts, f->hedge.member->up);
	f->hedge.fetch =
	    f->hedge.body ? fetch_start(f->env->fetch, url, &opts, &hedge_fetch_cb, f) : NULL;
	if (!f->hedge.fetch) {
		breaker_release(&f->hedge.member->up->breaker, &f->hedge.permit);
		if (f->hedge.body)
			evbuffer_free(f->hedge.body);
		f->hedge.body = NULL;
		return;
	}
	f->env->upstream_requests++;
	log_debug("%s: %s has not answered in %d ms; hedging to %s", f->rel, f->member->up->shown,
	          pool->hedge_ms, f->hedge.member->up->shown);
}

/* ---- direct: the module's origin, through a child go command ------------ */

static enum direct_kind direct_kind_of(enum modpath_kind k)
{
	switch (k) {
	case MODPATH_LIST:
		return DIRECT_LIST;
	case MODPATH_INFO:
		return DIRECT_INFO;
	case MODPATH_MOD:
		return DIRECT_MOD;
	case MODPATH_ZIP:
		return DIRECT_ZIP;
	case MODPATH_LATEST:
		break;
	}
	return DIRECT_LATEST;
}

/* Caches one more file of a direct download (the .info, .mod or .zip the
 * client did not ask for this time), without a flight: a commit job alone. */
static void ingest_sibling(struct flight_env *env, const char *esc_module, const char *version,
                           const char *ext, const struct direct_file *file)
{
	char esc_version[MODPATH_ESC_MAX + 1], err[512];
	struct commit_job *j;

	if (!file->path ||
	    modpath_escape_version(version, esc_version, sizeof(esc_version), err, sizeof(err)) < 0)
		return;
	j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->env = env;
	j->store = env->store;
	j->immutable = 1;
	snprintf(j->rel, sizeof(j->rel), "%s/@v/%s%s", esc_module, esc_version, ext);
	j->fd = cache_temp_link(env->store, file->path, j->tmp_name, sizeof(j->tmp_name), err,
	                        sizeof(err));
	if (j->fd < 0) {
		log_warn("direct: not caching %s: %s", j->rel, err);
		free(j);
		return;
	}
	if (worker_submit(env->workers, commit_run, commit_done, j) < 0) {
		cache_temp_discard(env->store, j->tmp_name);
		close(j->fd);
		free(j);
	}
}

static void on_direct_done(void *arg, struct direct_result *r)
{
	struct flight *f = arg;
	char msg[600], err[512], esc_module[MODPATH_ESC_MAX + 1];
	const char *slash;

	f->direct = NULL;
	if (r->status != DIRECT_OK) {
		snprintf(msg, sizeof(msg), "modgate: direct: %.500s",
		         r->error ? r->error : "failed");
		log_warn("%s: %s", f->rel, msg + strlen("modgate: "));
		fail(f, direct_status_http(r->status), r->status == DIRECT_NOT_FOUND, msg);
		direct_result_release(r);
		return;
	}
	f->body_fd = cache_temp_link(f->env->store, r->body->path, f->tmp_name, sizeof(f->tmp_name),
	                             err, sizeof(err));
	if (f->body_fd < 0) {
		log_error("direct: %s", err);
		fail(f, 502, 0,
		     "modgate: direct: could not take the downloaded file into the cache");
		direct_result_release(r);
		return;
	}
	f->written = f->content_length = r->body->size;
	log_info("%s came from its origin (direct) in %ld ms", f->rel, r->elapsed_ms);
	if (f->flags & FLIGHT_F_VERIFY)
		verify_object(f->env->verify, f);
	else {
		f->state = FLIGHT_COMPLETE;
		poke(f);
	}
	/* The go command fetched .info, .mod and .zip of the resolved version
	 * together: keep the ones not asked for as well. */
	slash = strstr(f->rel, "/@v/");
	if (r->version && slash && (size_t)(slash - f->rel) < sizeof(esc_module) &&
	    f->kind != MODPATH_LIST && f->kind != MODPATH_LATEST) {
		memcpy(esc_module, f->rel, slash - f->rel);
		esc_module[slash - f->rel] = '\0';
		if (&r->info != r->body || !f->immutable)
			ingest_sibling(f->env, esc_module, r->version, ".info", &r->info);
		/* A .mod or .zip enters the cache only through the verifier:
		 * those siblings are fetched again when asked for. */
	}
	if (!(f->flags & FLIGHT_F_VERIFY))
		start_commit(f);
	direct_result_release(r);
}

/* Asks the module's origin, through a child go command: the pool's
 * on_open = direct, or a route to direct. */
static void start_direct(struct flight *f)
{
	if (!f->env->direct) {
		fail(f, 503, 0, "modgate: direct fetching is not set up in this modgate");
		return;
	}
	f->direct = direct_fetch(f->env->direct, direct_kind_of(f->kind), f->module,
	                         f->version[0] ? f->version : "latest", on_direct_done, f);
	if (!f->direct)
		fail(f, 503, 0, "modgate: direct: could not start the go command");
}

/* Every upstream the walk allows was asked, or the walk stopped: answer
 * with the best we know. */
static void give_up(struct flight *f, enum pool_next why)
{
	struct pool *pool = f->walk.pool;
	char msg[1024], states[600];
	int64_t now = flight_now_ms(), ms;

	if (f->last_answer) {
		fail(f, f->last_answer, 1, f->last_answer_msg);
		return;
	}
	/* No upstream could answer: the pool's on_open policy (a checksum
	 * database has no origin to fetch it from with the go command). */
	if (pool->on_open == CONFIG_ON_OPEN_DIRECT && why != POOL_NEXT_STOP &&
	    strncmp(f->rel, "sumdb/", 6) != 0) {
		log_warn("no usable upstream in pool %s for %s: fetching it direct", pool->name,
		         f->rel);
		start_direct(f);
		return;
	}
	if (why == POOL_NEXT_OPEN || (why == POOL_NEXT_EXHAUSTED && !f->last_error[0])) {
		/* Nothing was asked because every breaker refuses: a fast 503
		 * that says when to come back, not a hang. */
		ms = pool_retry_after_ms(pool, now);
		f->retry_after_s = ms < 0 ? 0 : (int)((ms + 999) / 1000);
		pool_describe(pool, now, states, sizeof(states));
		snprintf(msg, sizeof(msg), "modgate: no usable upstream in pool %s: %.600s%s%.300s",
		         pool->name, states, f->last_error[0] ? "; last error: " : "",
		         f->last_error[0] ? f->last_error + strlen("modgate: ") : "");
		fail(f, 503, 0, msg);
		return;
	}
	if (why == POOL_NEXT_BUDGET) {
		snprintf(msg, sizeof(msg), "%.800s (no retry: pool %s's retry budget is spent)",
		         f->last_error, pool->name);
		fail(f, f->last_error_timeout ? 504 : 502, 0, msg);
		return;
	}
	fail(f, f->last_error_timeout ? 504 : 502, 0, f->last_error);
}

/* Metadata through a pool with a hedge delay: arm the timer for the
 * attempt just started (once per flight). */
static void arm_hedge(struct flight *f)
{
	int ms = f->walk.pool ? f->walk.pool->hedge_ms : 0;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};

	if (ms <= 0 || f->hedge.sent || f->kind == MODPATH_MOD || f->kind == MODPATH_ZIP)
		return;
	if (!f->hedge_ev)
		f->hedge_ev = evtimer_new(f->env->base, on_hedge_timer, f);
	if (f->hedge_ev)
		evtimer_add(f->hedge_ev, &tv);
}

static void try_next(struct flight *f, int failed)
{
	struct fetch_opts opts = attempt_opts(f);
	char url[CONFIG_URL_MAX + 3 * sizeof(f->rel) + 2];
	char esc[3 * sizeof(f->rel)];
	char msg[1024];
	enum pool_next next;

	/* A version may hold bytes a URL cannot carry as they are ('#', '%'). */
	if (modpath_url_escape(f->rel, esc, sizeof(esc)) < 0) {
		fail(f, 400, 0, "modgate: path too long");
		return;
	}
	for (;;) {
		next = pool_walk_next(&f->walk, failed, flight_now_ms(), &f->member, &f->permit);
		switch (next) {
		case POOL_NEXT_UPSTREAM:
			break;
		case POOL_NEXT_OFF:
			fail(f, 403, 0, "modgate: module lookup disabled by GOPROXY=off");
			return;
		case POOL_NEXT_DIRECT:
			/* An answer from a proxy before "direct" says more than we can. */
			if (f->last_answer) {
				fail(f, f->last_answer, 1, f->last_answer_msg);
			} else {
				snprintf(msg, sizeof(msg),
				         "modgate: %.400s is not on any upstream proxy; this "
				         "modgate does not fetch from version control (direct)",
				         f->module);
				fail(f, 404, 0, msg);
			}
			return;
		default:
			give_up(f, next);
			return;
		}
		snprintf(url, sizeof(url), "%s/%s", f->member->up->url, esc);
		with_upstream_auth(&opts, f->member->up);
		f->attempt_start = flight_now_ms();
		f->headers_ms = -1;
		f->fetch = fetch_start(f->env->fetch, url, &opts, &flight_fetch_cb, f);
		if (f->fetch) {
			f->env->upstream_requests++;
			arm_hedge(f);
			return;
		}
		breaker_release(&f->member->up->breaker, &f->permit);
		snprintf(f->last_error, sizeof(f->last_error),
		         "modgate: could not start a transfer to %.200s", f->member->up->shown);
		log_error("%s", f->last_error + strlen("modgate: "));
		failed = 1;
	}
}

int flight_join(struct flight_env *env, struct pool *pool, const struct modpath_req *mp,
                const char *rel, int flags, const char *request_id, struct flight_waiter *w)
{
	struct flight *f = strmap_get(env->flights, rel);
	int fresh = !f;

	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			return -1;
		f->env = env;
		f->body_fd = -1;
		f->content_length = -1;
		f->immutable = (flags & FLIGHT_F_IMMUTABLE) != 0;
		f->flags = flags;
		snprintf(f->rel, sizeof(f->rel), "%s", rel);
		snprintf(f->module, sizeof(f->module), "%s", mp->module);
		snprintf(f->version, sizeof(f->version), "%s", mp->version);
		snprintf(f->request_id, sizeof(f->request_id), "%s", request_id ? request_id : "");
		f->kind = mp->kind;
		TAILQ_INIT(&f->waiters);
		f->notify_ev = event_new(env->base, -1, 0, on_notify, f);
		f->budget_ev = evtimer_new(env->base, on_budget, f);
		if (!f->notify_ev || !f->budget_ev || strmap_put(env->flights, rel, f) < 0) {
			if (f->notify_ev)
				event_free(f->notify_ev);
			if (f->budget_ev)
				event_free(f->budget_ev);
			free(f);
			return -1;
		}
		{
			struct timeval tv = {.tv_sec = env->cfg->budget_ms / 1000,
			                     .tv_usec = env->cfg->budget_ms % 1000 * 1000};

			evtimer_add(f->budget_ev, &tv);
		}
		f->active = 1;
		f->refs = 1;
		f->set = pool_set_ref(env->pools);
	}
	if (!fresh)
		env->joins++;
	w->flight = f;
	TAILQ_INSERT_TAIL(&f->waiters, w, link);
	f->refs++;
	/* Only now may the flight fail, with w holding it alive. */
	if (fresh && pool) {
		pool_walk_init(&f->walk, pool);
		try_next(f, 0);
	} else if (fresh) {
		start_direct(f);
	}
	/* A late joiner may find the flight already streaming or finished:
	 * let it catch up from the next loop turn. */
	if (f->state != FLIGHT_WAITING)
		poke(f);
	return 0;
}

void flight_leave(struct flight_waiter *w)
{
	struct flight *f = w->flight;

	if (!f)
		return;
	TAILQ_REMOVE(&f->waiters, w, link);
	w->flight = NULL;
	flight_unref(f);
}

static int cancel_one(const char *key, void *value, void *arg)
{
	struct flight *f = value;

	(void)key;
	(void)arg;
	if (f->fetch || f->direct || f->hedge.fetch || f->check) {
		stop_transfers(f);
		f->state = FLIGHT_FAILED;
		f->status = 503;
		snprintf(f->message, sizeof(f->message), "modgate: shutting down");
		poke(f);
		/* Removed from the index by the sweep; drop the fetch's hold. */
		f->active = 0;
		f->refs--;
		if (f->refs == 0)
			flight_destroy(f);
		return 1;
	}
	return 0;
}

void flight_cancel_all(struct flight_env *env)
{
	strmap_sweep(env->flights, cancel_one, NULL);
}
