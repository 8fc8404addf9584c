/*
 * verify — the checker between a finished download and the cache.
 *
 * Life of a check (struct check, one per flight being verified):
 *   verify_object: dup the body, start the database lookup (unless the
 *   module is pinned instead), hash on a worker (reading the object's
 *   recorded hash in the same job) -> both in: decide -> OK: a worker writes
 *   the record and commits, then flight_verified; BAD: flight_verified at
 *   once (the flight moves on), a worker quarantines the temp file;
 *   REFUSED: flight_verified.
 * At shutdown (v->closing) every callback only cleans up.
 */
#include "proxy/verify.h"

#include "cache/store.h"
#include "proxy/config.h"
#include "proxy/fetch.h"
#include "proxy/log.h"
#include "proxy/pool.h"
#include "proxy/strmap.h"
#include "proxy/worker.h"
#include "sumdb/client.h"
#include "sumdb/dirhash.h"
#include "sumdb/zipcheck.h"

#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TREE_MAX 8192 /* a signed tree note is a few hundred bytes */

/* Proven answers kept in memory, so that a version's .mod and .zip cost
 * one lookup; past this many the memory starts afresh. */
#define FOUND_MAX 20000

struct check;
struct db_share;

static void decide_file(struct check *c);

/* One fetch of a checksum database path, for modgate's own database client
 * or for a client's /sumdb/ request. */
struct verify_dbfetch {
	struct verify *v;
	LIST_ENTRY(verify_dbfetch) link;
	sumdb_fetched_fn done;
	void *arg;
	struct flight_waiter w;            /* through the pools */
	struct db_share *share;            /* from the database's own URL */
	LIST_ENTRY(verify_dbfetch) sharer; /* ... among share->fetches */
	struct event *ev;                  /* an answer from the cache, delivered later */
	char *data;                        /* ... its bytes */
	size_t len;
};

/* One transfer from the database's own URL: every fetch of its path that
 * starts while it runs joins it (as flights share an upstream object), so
 * twenty clients asking one lookup cost the database one request, and all
 * get the same answer. A fetch that leaves never stops it for the others;
 * it dies with its last fetch, or once it has answered them all. */
struct db_share {
	struct verify *v;
	char *path;           /* below /sumdb/NAME/: the key in v->shares */
	struct fetch *fetch;  /* NULL once done */
	struct evbuffer *buf; /* the body so far */
	long status;
	int answering;                       /* url_on_done is handing the answer out */
	LIST_HEAD(, verify_dbfetch) fetches; /* who waits for the answer */
};

struct verify {
	struct flight_env *env;
	struct sumdb_client *client; /* NULL when the database is off */
	char tree_rel[64 + CONFIG_HOST_MAX];
	char *tree_pending; /* a head to save once the running save ends */
	size_t tree_pending_len;
	int tree_saving;
	int closing;
	LIST_HEAD(, verify_dbfetch) fetches;
	struct strmap *shares; /* path -> struct db_share running */
	struct strmap *found;  /* "module@version" -> struct sumdb_client_result */
	struct verify_stats stats;
};

struct check {
	struct verify *v;
	struct flight *f; /* NULL once the flight has its verdict or left */
	int fd;           /* a dup of the body: ours to read and close */
	int gomod_fd;     /* the committed .mod, for a zip; -1 if none */
	enum modpath_kind kind;
	char rel[FLIGHT_REL_MAX + 1];
	char sums_rel[FLIGHT_REL_MAX + 16];
	char module[MODPATH_MAX + 1];
	char version[MODPATH_MAX + 1];
	char tmp_name[FLIGHT_REL_MAX + 1]; /* fsck: the committed object itself */
	char upstream[CONFIG_URL_MAX + 32];
	char request_id[72];
	int use_sumdb;
	int busy;                 /* a worker job of ours is queued or running */
	verify_file_fn file_done; /* fsck: who waits for the verdict on a committed file */
	void *file_arg;
	struct verify_file_result fr;

	/* The worker's results. */
	int hashed;
	int hash_rc; /* SUMDB_ZIP_OK, _INVALID or _ERROR */
	char h1[SUMDB_H1_LEN + 1];
	char hash_err[400];
	int has_record;
	char recorded[SUMDB_H1_LEN + 16];

	/* The database's answer. */
	struct sumdb_lookup *lookup; /* running */
	int looked_up;
	struct sumdb_client_result lr;

	/* After the decision. */
	char *json;      /* the quarantine record */
	char stem[128];  /* where the quarantine put it */
	char reason[16]; /* why: mismatch, tamper, invalid */
	enum cache_commit_result commit_rc;
	char err[512];
};

/* ---- the database client's fetches --------------------------------------- */

static void share_free(struct db_share *s)
{
	if (s->path && strmap_get(s->v->shares, s->path) == s)
		strmap_del(s->v->shares, s->path);
	if (s->fetch)
		fetch_cancel(s->fetch);
	if (s->buf)
		evbuffer_free(s->buf);
	free(s->path);
	free(s);
}

/* q no longer waits for its share's answer; the last one to leave stops the
 * transfer, unless it is handing its answer out (url_on_done frees it). */
static void share_leave(struct verify_dbfetch *q)
{
	struct db_share *s = q->share;

	LIST_REMOVE(q, sharer);
	q->share = NULL;
	if (LIST_EMPTY(&s->fetches) && !s->answering)
		share_free(s);
}

static void dbfetch_free(struct verify_dbfetch *q)
{
	LIST_REMOVE(q, link);
	flight_leave(&q->w);
	if (q->share)
		share_leave(q);
	if (q->ev)
		event_free(q->ev);
	free(q->data);
	free(q);
}

/* Hands the answer to the client and forgets the fetch. */
static void deliver(struct verify_dbfetch *q, int status, const char *body, size_t len, int cached,
                    const char *err)
{
	sumdb_fetched_fn done = q->done;
	void *arg = q->arg;
	char msg[600];

	snprintf(msg, sizeof(msg), "%s", err ? err : "");
	if (!q->v->closing)
		done(arg, status, body, len, cached, msg);
	dbfetch_free(q);
}

static void on_cached(evutil_socket_t fd, short what, void *arg)
{
	struct verify_dbfetch *q = arg;

	(void)fd;
	(void)what;
	deliver(q, 200, q->data, q->len, 1, NULL);
}

static void on_db_flight(struct flight_waiter *w)
{
	struct verify_dbfetch *q =
	    (struct verify_dbfetch *)((char *)w - offsetof(struct verify_dbfetch, w));
	struct flight *f = w->flight;
	char *body;
	ssize_t n;

	if (f->state == FLIGHT_FAILED) {
		int status = f->answered ? f->status : 0;
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", f->message);
		flight_leave(w);
		deliver(q, status, NULL, 0, 0, msg);
		return;
	}
	if (f->state != FLIGHT_COMPLETE)
		return;
	if (f->written > SUMDB_CLIENT_BODY_MAX) {
		flight_leave(w);
		deliver(q, 0, NULL, 0, 0, "answer too large");
		return;
	}
	body = malloc((size_t)f->written + 1);
	n = body ? pread(f->body_fd, body, (size_t)f->written, 0) : -1;
	flight_leave(w);
	if (n != (ssize_t)f->written)
		deliver(q, 0, NULL, 0, 0, "cannot read the answer");
	else
		deliver(q, 200, body, (size_t)n, 0, NULL);
	free(body);
}

static int url_on_response(void *arg, long status, off_t content_length)
{
	struct db_share *s = arg;

	s->status = status;
	return content_length > SUMDB_CLIENT_BODY_MAX ? -1 : 0;
}

static int url_on_data(void *arg, const char *buf, size_t len)
{
	struct db_share *s = arg;

	if (evbuffer_get_length(s->buf) + len > SUMDB_CLIENT_BODY_MAX)
		return -1;
	return evbuffer_add(s->buf, buf, len);
}

/* The transfer is over: every fetch that joined it gets the same answer.
 * The share leaves the map first, so a fetch of the path started by a
 * done callback asks the database afresh; a done callback that drops
 * another waiting fetch only takes it off the list. */
static void url_on_done(void *arg, enum fetch_result res, long status, const char *errmsg)
{
	struct db_share *s = arg;
	size_t len = evbuffer_get_length(s->buf), n;
	const char *body = len ? (const char *)evbuffer_pullup(s->buf, -1) : "";
	char msg[400] = "";
	struct verify_dbfetch *q;

	s->fetch = NULL;
	s->answering = 1;
	strmap_del(s->v->shares, s->path);
	if (res != FETCH_OK) {
		snprintf(msg, sizeof(msg), "%s: %.300s", fetch_result_str(res), errmsg);
		status = 0;
	} else if (status != 200) {
		/* The first line of the database's own explanation, for whoever
		 * shows the failure to a person. */
		for (n = 0; n < len && n < 300 && body[n] != '\n' && body[n] != '\r'; n++)
			;
		snprintf(msg, sizeof(msg), "%.*s", (int)n, body);
	}
	while ((q = LIST_FIRST(&s->fetches))) {
		share_leave(q);
		if (status == 200)
			deliver(q, 200, body, len, 0, NULL);
		else
			deliver(q, (int)status, NULL, 0, 0, msg);
	}
	share_free(s);
}

static const struct fetch_callbacks url_cb = {
    .on_response = url_on_response,
    .on_data = url_on_data,
    .on_done = url_on_done,
};

/* Asks the database's own URL ([sumdb] database = KEY URL) for path, with
 * the deadlines of metadata from an upstream and the netrc entry of its
 * host, if any (libcurl's own auth: never sent on to another host); q
 * joins the transfer of path already running, if there is one (which
 * carries the request id of the fetch that started it). 0, or -1 when the
 * transfer cannot start. */
static int url_fetch(struct verify *v, struct verify_dbfetch *q, const char *path,
                     const char *request_id)
{
	const struct config *cfg = v->env->cfg;
	struct db_share *s = strmap_get(v->shares, path);
	const struct config_cred *cred = config_cred_of(cfg, cfg->sumdb_cred);
	char url[CONFIG_URL_MAX + FLIGHT_REL_MAX + 8];
	struct fetch_opts o = {
	    .connect_timeout_ms = cfg->connect_timeout_ms,
	    .first_byte_timeout_ms = cfg->first_byte_timeout_ms,
	    .idle_timeout_ms = cfg->idle_timeout_ms,
	    .total_timeout_ms = cfg->metadata_timeout_ms,
	    .request_id = request_id,
	    .auth = !cred                             ? FETCH_AUTH_NONE
	            : cred->kind == CONFIG_CRED_BASIC ? FETCH_AUTH_BASIC
	                                              : FETCH_AUTH_BEARER,
	    .secret = cred ? cred->secret : NULL,
	};

	if (!s) {
		if ((size_t)snprintf(url, sizeof(url), "%s/%s", cfg->sumdb_url, path) >=
		        sizeof(url) ||
		    !(s = calloc(1, sizeof(*s))))
			return -1;
		s->v = v;
		LIST_INIT(&s->fetches);
		if (!(s->path = strdup(path)) || !(s->buf = evbuffer_new()) ||
		    strmap_put(v->shares, path, s) < 0 ||
		    !(s->fetch = fetch_start(v->env->fetch, url, &o, &url_cb, s))) {
			share_free(s);
			return -1;
		}
	}
	q->share = s;
	LIST_INSERT_HEAD(&s->fetches, q, sharer);
	return 0;
}

/* Tiles are proven before they are cached, so one in the cache is good. */
static int from_cache(struct verify *v, struct verify_dbfetch *q, const char *rel)
{
	struct cache_stat st;
	int fd;

	if (strncmp(rel + strlen("sumdb/") + strlen(v->env->cfg->sumdb_name), "/tile/", 6) != 0)
		return 0;
	fd = cache_open(v->env->store, rel, &st);
	if (fd < 0)
		return 0;
	if (st.size > SUMDB_CLIENT_BODY_MAX || !(q->data = malloc(st.size ? st.size : 1)) ||
	    pread(fd, q->data, st.size, 0) != st.size) {
		close(fd);
		free(q->data);
		q->data = NULL;
		return 0;
	}
	close(fd);
	q->len = (size_t)st.size;
	q->ev = event_new(v->env->base, -1, 0, on_cached, q);
	if (!q->ev)
		return 0;
	event_active(q->ev, EV_TIMEOUT, 1);
	return 1;
}

static int db_fetch(void *arg, const char *path, sumdb_fetched_fn done, void *done_arg)
{
	struct verify *v = arg;
	const struct config *cfg = v->env->cfg;
	struct verify_dbfetch *q = calloc(1, sizeof(*q));
	char rel[FLIGHT_REL_MAX + 1];
	struct modpath_req mp = {.kind = MODPATH_INFO};
	struct pool *pool = NULL;

	if (!q)
		return -1;
	q->v = v;
	q->done = done;
	q->arg = done_arg;
	q->w.notify = on_db_flight;
	LIST_INSERT_HEAD(&v->fetches, q, link);
	if ((size_t)snprintf(rel, sizeof(rel), "sumdb/%s/%s", cfg->sumdb_name, path) >= sizeof(rel))
		goto fail;
	if (from_cache(v, q, rel))
		return 0;
	if (cfg->sumdb_url[0]) {
		if (url_fetch(v, q, path, NULL) < 0)
			goto fail;
		return 0;
	}
	snprintf(mp.module, sizeof(mp.module), "%s", cfg->sumdb_name);
	if (pool_route(v->env->pools, cfg->sumdb_name, &pool) != POOL_ROUTE_POOL || !pool) {
		log_warn("checksum database %s: no pool routes to it", cfg->sumdb_name);
		goto fail;
	}
	/* Never committed by the flight: tiles are cached once proven. */
	if (flight_join(v->env, pool, &mp, rel, FLIGHT_F_NO_COMMIT, NULL, &q->w) < 0)
		goto fail;
	return 0;
fail:
	dbfetch_free(q);
	return -1;
}

struct verify_dbfetch *verify_db_get(struct verify *v, const char *path, const char *request_id,
                                     sumdb_fetched_fn done, void *arg)
{
	struct verify_dbfetch *q;

	if (!v->env->cfg->sumdb_url[0] || v->closing || !(q = calloc(1, sizeof(*q))))
		return NULL;
	q->v = v;
	q->done = done;
	q->arg = arg;
	LIST_INSERT_HEAD(&v->fetches, q, link);
	if (url_fetch(v, q, path, request_id) < 0) {
		dbfetch_free(q);
		return NULL;
	}
	return q;
}

void verify_db_cancel(struct verify_dbfetch *q)
{
	if (q)
		dbfetch_free(q);
}

/* ---- persisting what the client proved ----------------------------------- */

struct save_job {
	struct verify *v;
	char *rel;
	char *data;
	size_t len;
	int rc;
	char err[512];
	int tree; /* the kept tree head (one save at a time) */
};

static void save_run(void *arg)
{
	struct save_job *j = arg;

	j->rc = cache_put_file(j->v->env->store, j->rel, j->data, j->len, j->err, sizeof(j->err));
}

static void save_tree_next(struct verify *v);

static void save_done(void *arg)
{
	struct save_job *j = arg;
	struct verify *v = j->v;

	if (j->rc < 0)
		log_error("could not keep %s: %s", j->rel, j->err);
	if (j->tree) {
		v->tree_saving = 0;
		if (!v->closing)
			save_tree_next(v);
	}
	free(j->rel);
	free(j->data);
	free(j);
}

static int save_bytes(struct verify *v, const char *rel, const void *data, size_t len, int tree)
{
	struct save_job *j = calloc(1, sizeof(*j));

	if (!j)
		return -1;
	j->v = v;
	j->tree = tree;
	j->rel = strdup(rel);
	j->data = malloc(len ? len : 1);
	if (!j->rel || !j->data)
		goto fail;
	memcpy(j->data, data, len);
	j->len = len;
	if (worker_submit(v->env->workers, save_run, save_done, j) < 0)
		goto fail;
	return 0;
fail:
	free(j->rel);
	free(j->data);
	free(j);
	return -1;
}

static void save_tree_next(struct verify *v)
{
	if (v->tree_saving || !v->tree_pending)
		return;
	if (save_bytes(v, v->tree_rel, v->tree_pending, v->tree_pending_len, 1) < 0) {
		log_error("could not keep the checksum database's tree head: out of memory");
		return;
	}
	v->tree_saving = 1;
	free(v->tree_pending);
	v->tree_pending = NULL;
}

static void db_tree_advanced(void *arg, const char *note, size_t len)
{
	struct verify *v = arg;
	struct sumdb_tree t;

	free(v->tree_pending);
	v->tree_pending = malloc(len ? len : 1);
	if (!v->tree_pending)
		return;
	memcpy(v->tree_pending, note, len);
	v->tree_pending_len = len;
	sumdb_client_kept(v->client, &t);
	log_info("checksum database %s: kept tree head now %lld records", v->env->cfg->sumdb_name,
	         (long long)t.n);
	save_tree_next(v);
}

/* Caches a proven answer of the database at its path, where clients ask. */
static void keep_proven(struct verify *v, const char *path, const void *data, size_t len)
{
	char rel[FLIGHT_REL_MAX + 1];

	if ((size_t)snprintf(rel, sizeof(rel), "sumdb/%s/%s", v->env->cfg->sumdb_name, path) <
	    sizeof(rel))
		save_bytes(v, rel, data, len, 0);
}

static void db_tile_verified(void *arg, const char *path, const uint8_t *data, size_t len)
{
	keep_proven(arg, path, data, len);
}

/* Proven lookup answers are kept (replaced by each newer one) so that
 * clients looking a cached module up while every upstream is down get the
 * last good answer, served stale. */
static void db_lookup_verified(void *arg, const char *path, const char *body, size_t len)
{
	keep_proven(arg, path, body, len);
}

/* ---- checking one flight's bytes ----------------------------------------- */

static void check_free(struct check *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->gomod_fd >= 0)
		close(c->gomod_fd);
	free(c->json);
	free(c);
}

/* Frees c when nothing refers to it any more. */
static void check_release(struct check *c)
{
	if (!c->f && !c->file_done && !c->busy && !c->lookup)
		check_free(c);
}

static void hash_run(void *arg)
{
	struct check *c = arg;
	struct verify *v = c->v;
	char *gomod = NULL;
	ssize_t n, glen = 0;

	n = cache_get_file(v->env->store, c->sums_rel, c->recorded, sizeof(c->recorded) - 1);
	if (n > 0) {
		c->recorded[n] = '\0';
		c->recorded[strcspn(c->recorded, "\n")] = '\0';
		c->has_record = 1;
	}
	if (c->kind == MODPATH_ZIP) {
		if (c->gomod_fd >= 0) {
			struct stat st;

			if (fstat(c->gomod_fd, &st) == 0 && st.st_size <= SUMDB_ZIP_MAX_GOMOD &&
			    (gomod = malloc(st.st_size ? st.st_size : 1)) &&
			    (glen = pread(c->gomod_fd, gomod, st.st_size, 0)) != st.st_size) {
				free(gomod);
				gomod = NULL;
			}
		}
		c->hash_rc =
		    sumdb_zip_check_hash_fd(c->fd, c->module, c->version, gomod, (size_t)glen,
		                            c->h1, c->hash_err, sizeof(c->hash_err));
		free(gomod);
		return;
	}
	{
		struct stat st;
		char *buf = NULL;

		if (fstat(c->fd, &st) < 0 || st.st_size > SUMDB_ZIP_MAX_GOMOD) {
			c->hash_rc = SUMDB_ZIP_INVALID;
			snprintf(c->hash_err, sizeof(c->hash_err), "go.mod larger than %u bytes",
			         SUMDB_ZIP_MAX_GOMOD);
			return;
		}
		buf = malloc(st.st_size ? st.st_size : 1);
		if (!buf || pread(c->fd, buf, st.st_size, 0) != st.st_size) {
			c->hash_rc = SUMDB_ZIP_ERROR;
			snprintf(c->hash_err, sizeof(c->hash_err), "cannot read the body: %s",
			         strerror(errno));
		} else {
			c->hash_rc = sumdb_hash_gomod(buf, (size_t)st.st_size, c->h1, c->hash_err,
			                              sizeof(c->hash_err)) < 0
			                 ? SUMDB_ZIP_ERROR
			                 : SUMDB_ZIP_OK;
		}
		free(buf);
	}
}

static void commit_run(void *arg)
{
	struct check *c = arg;
	struct cache_store *s = c->v->env->store;
	char line[SUMDB_H1_LEN + 2];

	/* The record first: an object is never in the cache without one. */
	if (!c->has_record) {
		snprintf(line, sizeof(line), "%s\n", c->h1);
		if (cache_put_file(s, c->sums_rel, line, strlen(line), c->err, sizeof(c->err)) <
		    0) {
			c->commit_rc = CACHE_COMMIT_ERROR;
			cache_temp_discard(s, c->tmp_name);
			return;
		}
	}
	c->commit_rc = cache_commit(s, c->fd, c->tmp_name, c->rel, 1, c->err, sizeof(c->err));
}

static void quarantine_run(void *arg)
{
	struct check *c = arg;

	if (cache_quarantine(c->v->env->store, c->tmp_name, c->json, strlen(c->json), c->stem,
	                     sizeof(c->stem), c->err, sizeof(c->err)) < 0)
		c->stem[0] = '\0';
}

static void commit_done(void *arg)
{
	struct check *c = arg;
	struct verify_outcome o = {.verdict = VERIFY_OK, .status = 200};
	struct flight *f = c->f;

	c->busy = 0;
	switch (c->commit_rc) {
	case CACHE_COMMITTED:
		c->v->env->commits++;
		log_debug("verified and cached %s (%s)", c->rel, c->h1);
		break;
	case CACHE_EXISTS:
		log_warn("%s was already in the cache; kept the committed copy", c->rel);
		break;
	case CACHE_COMMIT_ERROR:
		/* Verified bytes: serve them, even if they could not be kept. */
		log_error("could not cache %s: %s", c->rel, c->err);
		break;
	}
	c->f = NULL;
	if (f && !c->v->closing) {
		f->check = NULL;
		flight_verified(f, &o);
	}
	check_release(c);
}

static void quarantine_done(void *arg)
{
	struct check *c = arg;

	c->busy = 0;
	if (c->stem[0]) {
		char record[CONFIG_PATH_MAX + 200];

		snprintf(record, sizeof(record), "%s/%s/%s.json",
		         cache_store_root(c->v->env->store), CACHE_QUARANTINE_DIR, c->stem);
		log_event(LOG_ERROR, "quarantine",
		          (const char *const[]){"module", c->module, "version", c->version, "kind",
		                                c->kind == MODPATH_ZIP ? "zip" : "mod", "upstream",
		                                c->upstream, "reason", c->reason, "record", record,
		                                NULL},
		          "quarantined %s from %s as %s", c->rel, c->upstream, record);
	} else
		log_error("could not quarantine %s: %s", c->rel, c->err);
	if (c->stem[0])
		c->v->stats.quarantined++;
	check_release(c);
}

static char *quarantine_record(const struct check *c, const char *reason, const char *expected,
                               const char *detail)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	json_t *o;
	char *s;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "time", stamp,
	              "reason", reason, "rel", c->rel, "module", c->module, "version", c->version,
	              "kind", c->kind == MODPATH_ZIP ? "zip" : "mod", "upstream", c->upstream,
	              "expected", expected, "received", c->h1[0] ? c->h1 : "", "request_id",
	              c->request_id, "detail", detail);
	if (!o)
		return NULL;
	s = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	return s;
}

/* Bytes proven wrong: quarantine them, tell the flight to move on. */
static void reject(struct check *c, const char *reason, const char *expected, const char *detail)
{
	struct verify_outcome o = {.verdict = VERIFY_BAD, .status = 502};
	struct flight *f = c->f;

	snprintf(o.message, sizeof(o.message),
	         "modgate: %.300s from %.150s failed verification (%s): %.200s", c->rel,
	         c->upstream, reason, detail);
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	c->json = quarantine_record(c, reason, expected, detail);
	if (c->json && worker_submit(c->v->env->workers, quarantine_run, quarantine_done, c) == 0)
		c->busy = 1;
	else
		cache_temp_discard(c->v->env->store, c->tmp_name);
	c->f = NULL;
	f->check = NULL;
	flight_verified(f, &o);
	check_release(c);
}

static void refuse(struct check *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void refuse(struct check *c, int status, const char *fmt, ...)
{
	struct verify_outcome o = {.verdict = VERIFY_REFUSED, .status = status};
	struct flight *f = c->f;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o.message, sizeof(o.message), fmt, ap);
	va_end(ap);
	c->v->stats.refused++;
	log_warn("%s", o.message + strlen("modgate: "));
	c->f = NULL;
	f->check = NULL;
	flight_verified(f, &o);
	check_release(c);
}

/* Both the hash and (when asked) the database's answer are in. */
static void decide(struct check *c)
{
	struct verify *v = c->v;
	const char *expected = NULL;
	char detail[700];

	if (!c->hashed || (c->use_sumdb && !c->looked_up) || !c->f)
		return;
	if (c->hash_rc == SUMDB_ZIP_INVALID) {
		v->stats.invalid++;
		reject(c, "invalid", "", c->hash_err);
		return;
	}
	if (c->hash_rc != SUMDB_ZIP_OK) {
		refuse(c, 500, "modgate: cannot hash %.300s: %.300s", c->rel, c->hash_err);
		return;
	}
	if (c->has_record && strcmp(c->recorded, c->h1) != 0) {
		v->stats.tamper++;
		snprintf(detail, sizeof(detail),
		         "TAMPER: modgate committed %.400s with %s before; now received %s", c->rel,
		         c->recorded, c->h1);
		log_event(LOG_ERROR, "tamper",
		          (const char *const[]){"module", c->module, "version", c->version,
		                                "upstream", c->upstream, "recorded", c->recorded,
		                                "received", c->h1, NULL},
		          "ALARM: upstream %s served different bytes for %s than modgate committed "
		          "before (recorded %s, received %s); refused",
		          c->upstream, c->rel, c->recorded, c->h1);
		reject(c, "tamper", c->recorded, detail);
		return;
	}
	if (c->use_sumdb) {
		switch (c->lr.verdict) {
		case SUMDB_FOUND:
			expected = c->kind == MODPATH_ZIP ? c->lr.zip_h1 : c->lr.mod_h1;
			break;
		case SUMDB_NOT_FOUND:
			refuse(
			    c, 404,
			    "modgate: %.300s: %.300s; a private module belongs in [sumdb] nosumdb "
			    "(GONOSUMDB)",
			    c->rel, c->lr.error);
			return;
		case SUMDB_SECURITY:
			log_event(
			    LOG_ERROR, "sumdb_alarm",
			    (const char *const[]){"module", c->module, "version", c->version, NULL},
			    "ALARM: %s", c->lr.error);
			refuse(c, 502, "modgate: cannot verify %.200s: %.450s", c->rel,
			       c->lr.error);
			return;
		case SUMDB_UNAVAILABLE:
			refuse(c, 502, "modgate: cannot verify %.200s: %.450s", c->rel,
			       c->lr.error);
			return;
		}
		if (!expected[0]) {
			refuse(c, 502,
			       "modgate: checksum database record for %.300s has no %s hash",
			       c->rel, c->kind == MODPATH_ZIP ? "zip" : "go.mod");
			return;
		}
		if (strcmp(expected, c->h1) != 0) {
			v->stats.mismatch++;
			snprintf(
			    detail, sizeof(detail),
			    "checksum mismatch: checksum database %.200s (record %lld) has %s, "
			    "upstream %.200s served %s",
			    v->env->cfg->sumdb_name, (long long)c->lr.record_id, expected,
			    c->upstream, c->h1);
			log_error("%s: %s", c->rel, detail);
			reject(c, "mismatch", expected, detail);
			return;
		}
	} else if (!c->has_record) {
		v->stats.pinned++;
		log_info("pinned %s at %s (not in the checksum database: nosumdb)", c->rel, c->h1);
	}
	v->stats.ok++;
	c->busy = 1;
	if (worker_submit(v->env->workers, commit_run, commit_done, c) < 0) {
		c->busy = 0;
		cache_temp_discard(v->env->store, c->tmp_name);
		refuse(c, 503, "modgate: cannot commit %.300s (out of memory)", c->rel);
	}
}

/* ---- fsck: a committed file ------------------------------------------------ */

static void file_finish(struct check *c, enum verify_file_status st)
{
	verify_file_fn done = c->file_done;

	c->fr.status = st;
	snprintf(c->fr.h1, sizeof(c->fr.h1), "%s", c->h1);
	c->file_done = NULL;
	if (!c->v->closing)
		done(c->file_arg, &c->fr);
	check_release(c);
}

static void file_record_run(void *arg)
{
	struct check *c = arg;
	char line[SUMDB_H1_LEN + 2];

	snprintf(line, sizeof(line), "%s\n", c->h1);
	if (cache_put_file(c->v->env->store, c->sums_rel, line, strlen(line), c->err,
	                   sizeof(c->err)) < 0)
		c->commit_rc = CACHE_COMMIT_ERROR;
}

static void file_record_done(void *arg)
{
	struct check *c = arg;

	c->busy = 0;
	if (c->commit_rc == CACHE_COMMIT_ERROR) {
		snprintf(c->fr.message, sizeof(c->fr.message), "cannot record its hash: %s",
		         c->err);
		file_finish(c, VERIFY_FILE_UNCHECKED);
		return;
	}
	file_finish(c, c->fr.status);
}

static void file_quarantine_done(void *arg)
{
	struct check *c = arg;

	c->busy = 0;
	if (c->stem[0]) {
		c->v->stats.quarantined++;
		log_error("fsck: quarantined %s as %s/%s.json: %s", c->rel, CACHE_QUARANTINE_DIR,
		          c->stem, c->fr.message);
	} else {
		log_error("fsck: could not quarantine %s: %s", c->rel, c->err);
	}
	file_finish(c, VERIFY_FILE_BAD);
}

/* A committed file proven wrong: out of the cache, into the quarantine. */
static void file_reject(struct check *c, const char *reason, const char *expected)
{
	c->json = quarantine_record(c, reason, expected, c->fr.message);
	c->busy = 1;
	if (!c->json ||
	    worker_submit(c->v->env->workers, quarantine_run, file_quarantine_done, c) < 0) {
		c->busy = 0;
		file_finish(c, VERIFY_FILE_BAD);
	}
}

/* Records the hash of a file that checked out but had none recorded. */
static void file_record(struct check *c, enum verify_file_status st)
{
	c->fr.status = st;
	c->busy = 1;
	if (worker_submit(c->v->env->workers, file_record_run, file_record_done, c) < 0) {
		c->busy = 0;
		file_finish(c, VERIFY_FILE_UNCHECKED);
	}
}

static void decide_file(struct check *c)
{
	const char *expected;

	if (!c->hashed || (c->use_sumdb && !c->looked_up))
		return;
	if (c->hash_rc == SUMDB_ZIP_INVALID) {
		snprintf(c->fr.message, sizeof(c->fr.message), "not a valid module zip: %s",
		         c->hash_err);
		file_reject(c, "invalid", "");
		return;
	}
	if (c->hash_rc != SUMDB_ZIP_OK) {
		snprintf(c->fr.message, sizeof(c->fr.message), "cannot hash: %s", c->hash_err);
		file_finish(c, VERIFY_FILE_UNCHECKED);
		return;
	}
	if (c->has_record && strcmp(c->recorded, c->h1) != 0) {
		snprintf(c->fr.message, sizeof(c->fr.message),
		         "changed on disk: recorded %s at commit, now %s", c->recorded, c->h1);
		file_reject(c, "changed", c->recorded);
		return;
	}
	if (!c->use_sumdb) {
		if (c->has_record)
			file_finish(c, VERIFY_FILE_OK);
		else
			file_record(c, VERIFY_FILE_PINNED);
		return;
	}
	if (c->lr.verdict != SUMDB_FOUND) {
		snprintf(c->fr.message, sizeof(c->fr.message), "%s", c->lr.error);
		file_finish(c, VERIFY_FILE_UNCHECKED);
		return;
	}
	expected = c->kind == MODPATH_ZIP ? c->lr.zip_h1 : c->lr.mod_h1;
	if (strcmp(expected, c->h1) != 0) {
		snprintf(c->fr.message, sizeof(c->fr.message),
		         "checksum mismatch: checksum database %.200s has %s, the cache holds %s",
		         c->v->env->cfg->sumdb_name, expected, c->h1);
		file_reject(c, "mismatch", expected);
		return;
	}
	if (c->has_record)
		file_finish(c, VERIFY_FILE_OK);
	else
		file_record(c, VERIFY_FILE_RECORDED);
}

static void hash_done(void *arg)
{
	struct check *c = arg;

	c->busy = 0;
	c->hashed = 1;
	if (c->v->closing || (!c->f && !c->file_done)) {
		c->file_done = NULL;
		check_release(c);
		return;
	}
	if (c->file_done)
		decide_file(c);
	else
		decide(c);
}

static int drop_found(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
	return 1;
}

static void remember(struct verify *v, const char *module, const char *version,
                     const struct sumdb_client_result *r)
{
	char key[2 * MODPATH_MAX + 2];
	struct sumdb_client_result *copy;

	snprintf(key, sizeof(key), "%s@%s", module, version);
	if (strmap_get(v->found, key))
		return;
	if (strmap_len(v->found) >= FOUND_MAX)
		strmap_sweep(v->found, drop_found, NULL);
	copy = malloc(sizeof(*copy));
	if (copy && strmap_put(v->found, key, copy) == 0)
		*copy = *r;
	else
		free(copy);
}

static void on_lookup(void *arg, const struct sumdb_client_result *r)
{
	struct check *c = arg;

	c->lookup = NULL;
	c->lr = *r;
	c->looked_up = 1;
	if (r->verdict == SUMDB_FOUND && !c->v->closing)
		remember(c->v, c->module, c->version, r);
	if (c->file_done) {
		decide_file(c);
		return;
	}
	if (!c->f) {
		check_release(c);
		return;
	}
	decide(c);
}

/* Starts c's lookup, or takes a proven answer already in memory. */
static void start_lookup(struct check *c, const char *esc)
{
	struct verify *v = c->v;
	char key[2 * MODPATH_MAX + 2];
	const struct sumdb_client_result *known;

	snprintf(key, sizeof(key), "%s@%s", c->module, c->version);
	if ((known = strmap_get(v->found, key))) {
		c->lr = *known;
		c->looked_up = 1;
		return;
	}
	c->lookup = sumdb_client_lookup(v->client, esc, c->module, c->version, on_lookup, c);
	if (!c->lookup) {
		c->looked_up = 1;
		c->lr.verdict = SUMDB_UNAVAILABLE;
		snprintf(c->lr.error, sizeof(c->lr.error),
		         "checksum database %s: cannot start a lookup", v->env->cfg->sumdb_name);
	}
}

/* c's rel, kind and use_sumdb are set: opens the committed .mod a zip is
 * compared with, queues the hashing and starts the lookup. 0, or -1 when
 * the hashing could not be queued (then nothing has started). */
static int check_start(struct check *c)
{
	struct verify *v = c->v;
	char esc[FLIGHT_REL_MAX + 1], gomod_rel[FLIGHT_REL_MAX + 1];
	const char *at = strstr(c->rel, "/@v/");
	size_t n = at ? (size_t)(at - c->rel) : 0;
	struct cache_stat st;

	if (c->kind == MODPATH_ZIP) {
		snprintf(gomod_rel, sizeof(gomod_rel), "%s", c->rel);
		memcpy(gomod_rel + strlen(gomod_rel) - 4, ".mod", 4);
		c->gomod_fd = cache_open_noatime(v->env->store, gomod_rel, &st);
	}
	c->busy = 1;
	if (worker_submit(v->env->workers, hash_run, hash_done, c) < 0) {
		c->busy = 0;
		return -1;
	}
	if (c->use_sumdb) {
		/* rel is "<esc module>/@v/<esc version>.mod|.zip"; the lookup
		 * wants "<esc module>@<esc version>". */
		snprintf(esc, sizeof(esc), "%.*s@%s", (int)n, c->rel, at ? at + 4 : "");
		esc[strlen(esc) - 4] = '\0';
		start_lookup(c, esc);
	}
	return 0;
}

int verify_needed(const struct modpath_req *mp)
{
	return mp->canonical && (mp->kind == MODPATH_MOD || mp->kind == MODPATH_ZIP);
}

void verify_object(struct verify *v, struct flight *f)
{
	struct check *c = calloc(1, sizeof(*c));
	struct verify_outcome o = {.verdict = VERIFY_REFUSED, .status = 503};

	if (!c || (c->fd = dup(f->body_fd)) < 0) {
		free(c);
		snprintf(o.message, sizeof(o.message), "modgate: cannot verify %.300s: %s", f->rel,
		         strerror(errno));
		flight_verified(f, &o);
		return;
	}
	c->v = v;
	c->f = f;
	c->gomod_fd = -1;
	c->kind = f->kind;
	snprintf(c->rel, sizeof(c->rel), "%s", f->rel);
	snprintf(c->sums_rel, sizeof(c->sums_rel), "%s/%s", CACHE_SUMS_DIR, f->rel);
	snprintf(c->module, sizeof(c->module), "%s", f->module);
	snprintf(c->version, sizeof(c->version), "%s", f->version);
	snprintf(c->tmp_name, sizeof(c->tmp_name), "%s", f->tmp_name);
	snprintf(c->upstream, sizeof(c->upstream), "%s",
	         f->member ? f->member->up->shown : "direct");
	snprintf(c->request_id, sizeof(c->request_id), "%s", f->request_id);
	c->use_sumdb = v->client && !config_is_nosumdb(v->env->cfg, f->module);
	f->check = c;
	if (check_start(c) < 0)
		refuse(c, 503, "modgate: cannot verify %.300s (out of memory)", c->rel);
}

int verify_file(struct verify *v, const char *rel, const struct modpath_req *mp,
                verify_file_fn done, void *arg)
{
	struct check *c = calloc(1, sizeof(*c));
	struct cache_stat st;

	if (!c || !strstr(rel, "/@v/") || strlen(rel) < 8)
		goto fail;
	c->v = v;
	c->gomod_fd = -1;
	c->kind = mp->kind;
	c->file_done = done;
	c->file_arg = arg;
	snprintf(c->rel, sizeof(c->rel), "%s", rel);
	snprintf(c->tmp_name, sizeof(c->tmp_name), "%s", rel);
	snprintf(c->sums_rel, sizeof(c->sums_rel), "%s/%s", CACHE_SUMS_DIR, rel);
	snprintf(c->module, sizeof(c->module), "%s", mp->module);
	snprintf(c->version, sizeof(c->version), "%s", mp->version);
	snprintf(c->upstream, sizeof(c->upstream), "(the cache, by fsck)");
	c->use_sumdb = v->client && !config_is_nosumdb(v->env->cfg, mp->module);
	/* A check is no use: prune's last use stays the clients'. */
	c->fd = cache_open_noatime(v->env->store, rel, &st);
	if (c->fd < 0 || check_start(c) < 0)
		goto fail;
	return 0;
fail:
	if (c) {
		if (c->fd > 0)
			close(c->fd);
		if (c->gomod_fd >= 0)
			close(c->gomod_fd);
		free(c);
	}
	return -1;
}

void verify_cancel(struct flight *f)
{
	struct check *c = f->check;

	if (!c)
		return;
	f->check = NULL;
	c->f = NULL;
	if (c->lookup) {
		sumdb_lookup_cancel(c->lookup);
		c->lookup = NULL;
	}
	check_release(c);
}

/* ---- set-up ----------------------------------------------------------------- */

struct verify *verify_new(struct flight_env *env, char *err, size_t errlen)
{
	struct verify *v = calloc(1, sizeof(*v));
	const struct config *cfg = env->cfg;
	struct sumdb_client_ops ops = {
	    .fetch = db_fetch,
	    .tree_advanced = db_tree_advanced,
	    .tile_verified = db_tile_verified,
	    .lookup_verified = db_lookup_verified,
	};
	char kept[TREE_MAX];
	ssize_t n;

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->env = env;
	LIST_INIT(&v->fetches);
	v->shares = strmap_new();
	v->found = strmap_new();
	if (!v->shares || !v->found) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!cfg->sumdb_name[0])
		return v;
	snprintf(v->tree_rel, sizeof(v->tree_rel), "%s/%s/tree", CACHE_SUMDB_DIR, cfg->sumdb_name);
	n = cache_get_file(env->store, v->tree_rel, kept, sizeof(kept));
	if (n < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot read %s/%s: %s", cache_store_root(env->store),
		         v->tree_rel, strerror(errno));
		goto fail;
	}
	ops.arg = v;
	v->client = sumdb_client_new(cfg->sumdb_key, n > 0 ? kept : NULL, n > 0 ? (size_t)n : 0,
	                             &ops, err, errlen);
	if (!v->client) {
		if (n > 0) {
			size_t used = strlen(err);

			snprintf(err + used, errlen - used,
			         " (%s/%s; if the database's key changed on purpose, remove that "
			         "file to trust the database afresh)",
			         cache_store_root(env->store), v->tree_rel);
		}
		goto fail;
	}
	if (n > 0) {
		struct sumdb_tree t;

		sumdb_client_kept(v->client, &t);
		log_info("checksum database %s: kept tree head of %lld records", cfg->sumdb_name,
		         (long long)t.n);
	}
	return v;
fail:
	if (v->shares)
		strmap_free(v->shares);
	if (v->found)
		strmap_free(v->found);
	free(v);
	return NULL;
}

void verify_close(struct verify *v)
{
	if (!v)
		return;
	v->closing = 1;
	while (!LIST_EMPTY(&v->fetches))
		dbfetch_free(LIST_FIRST(&v->fetches));
	sumdb_client_free(v->client);
	v->client = NULL;
	free(v->tree_pending);
	v->tree_pending = NULL;
}

void verify_free(struct verify *v)
{
	if (!v)
		return;
	strmap_sweep(v->found, drop_found, NULL);
	strmap_free(v->found);
	strmap_free(v->shares);
	free(v);
}

void verify_stats(const struct verify *v, struct verify_stats *out)
{
	*out = v->stats;
}

void verify_write_metrics(const struct verify *v, struct evbuffer *out)
{
	struct sumdb_tree t = {0};
	static const char *const results[] = {"ok", "mismatch", "tamper", "invalid", "refused"};
	unsigned long counts[] = {v->stats.ok, v->stats.mismatch, v->stats.tamper, v->stats.invalid,
	                          v->stats.refused};

	evbuffer_add_printf(out, "# HELP modgate_verify_total Downloaded .mod/.zip files checked "
	                         "before caching, by result.\n"
	                         "# TYPE modgate_verify_total counter\n");
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		evbuffer_add_printf(out, "modgate_verify_total{result=\"%s\"} %lu\n", results[i],
		                    counts[i]);
	evbuffer_add_printf(out,
	                    "# HELP modgate_quarantined_total Objects moved to the quarantine.\n"
	                    "# TYPE modgate_quarantined_total counter\n"
	                    "modgate_quarantined_total %lu\n"
	                    "# HELP modgate_pinned_total Objects of nosumdb modules pinned on "
	                    "first use.\n"
	                    "# TYPE modgate_pinned_total counter\n"
	                    "modgate_pinned_total %lu\n",
	                    v->stats.quarantined, v->stats.pinned);
	if (v->client) {
		sumdb_client_kept(v->client, &t);
		evbuffer_add_printf(out,
		                    "# HELP modgate_sumdb_tree_size Records in the kept tree head "
		                    "of the checksum database.\n"
		                    "# TYPE modgate_sumdb_tree_size gauge\n"
		                    "modgate_sumdb_tree_size{db=\"%s\"} %lld\n",
		                    sumdb_client_name(v->client), (long long)t.n);
	}
}
