/*
 * verify — nothing unverified enters the cache.
 *
 * Every .mod and .zip a flight downloads is checked here before it is
 * committed: its h1: hash is computed on a worker (zip rules enforced in
 * the same pass), and compared with
 *   - the checksum database's record (sumdb/client.c, looked up in parallel
 *     with the download's hashing), for modules the database covers;
 *   - the hash recorded when modgate first committed that object
 *     (<cache>/.sums/<rel>), for every module: private (nosumdb) modules are
 *     pinned on first use, and any object whose record differs from new
 *     bytes raises the tamper alarm.
 * Good bytes get their record written and are committed; bad ones are moved
 * to <cache>/.quarantine with a JSON record and the flight tries the next
 * upstream. When nothing can be proven (database unreachable, forged) the
 * flight fails: no byte is served or cached.
 *
 * This module also gives the database client its fetches (checksum
 * database paths through the pools, or its own URL, tiles from the cache),
 * persists the kept tree head and caches tiles once they are proven. When
 * the database has a URL of its own, clients' /sumdb/ requests are fetched
 * there through the same path (verify_db_get).
 *
 * Ownership and threading: the server owns the one struct verify; loop
 * thread only. A flight being verified holds a job (f->check) until
 * flight_verified is called or verify_cancel drops it.
 */
#ifndef MODGATE_VERIFY_H
#define MODGATE_VERIFY_H

#include <event2/buffer.h>

#include "proxy/flight.h"
#include "sumdb/client.h"
#include "sumdb/dirhash.h"

struct verify;
struct verify_dbfetch;

/* What became of one flight's bytes. */
enum verify_verdict {
	VERIFY_OK,      /* proven and committed: serve them */
	VERIFY_BAD,     /* proven wrong and quarantined: the upstream lied, try the next */
	VERIFY_REFUSED, /* nothing proven: fail the request with status */
};

struct verify_outcome {
	enum verify_verdict verdict;
	int status; /* REFUSED: the HTTP status for the client */
	char message[700];
};

/* fsck's verdict on one committed file. */
enum verify_file_status {
	VERIFY_FILE_OK,        /* matches its record (and the database) */
	VERIFY_FILE_RECORDED,  /* matches the database; its missing record was written */
	VERIFY_FILE_PINNED,    /* nosumdb, no record yet: pinned now */
	VERIFY_FILE_BAD,       /* changed on disk, or not the database's: quarantined */
	VERIFY_FILE_UNCHECKED, /* could not be checked (database unreachable, read error) */
};

struct verify_file_result {
	enum verify_file_status status;
	char h1[SUMDB_H1_LEN + 1];
	char message[700];
};

typedef void (*verify_file_fn)(void *arg, const struct verify_file_result *r);

/* Counters for /metrics. */
struct verify_stats {
	unsigned long ok, mismatch, tamper, invalid, refused, quarantined, pinned;
};

/* Sets up verification for env's flights (env borrowed; its cfg, store,
 * workers, pools and fetch must outlive v): loads the kept tree head of the
 * configured checksum database from the cache. NULL with err when the kept
 * head is unreadable or does not verify (an operator must look). */
struct verify *verify_new(struct flight_env *env, char *err, size_t errlen);

/* Drops every pending lookup and fetch; jobs still on workers only clean
 * up after themselves from now on. Loop thread, after flight_cancel_all and
 * before the worker pool is freed. */
void verify_close(struct verify *v);

/* Frees v: after verify_close and after the worker pool is gone. */
void verify_free(struct verify *v);

/* 1 when the flight for mp's object must be verified before commit: .mod
 * and .zip of canonical versions. */
int verify_needed(const struct modpath_req *mp);

/* Starts checking f's complete body (f->body_fd, f->written bytes; the
 * temp file f->tmp_name). Calls flight_verified(f, ...) later, from the
 * loop, unless verify_cancel(f) runs first. On VERIFY_BAD the temp file is
 * the quarantine's; on VERIFY_OK it has been committed as f->rel. */
void verify_object(struct verify *v, struct flight *f);

/* Re-checks the committed object rel (mp: its parsed request, a .mod or
 * .zip of a canonical version) against its recorded hash and the database,
 * as a new download would be; a file proven wrong is moved to the
 * quarantine. done runs once, later. 0, or -1 when the check cannot start
 * (the file is gone, out of memory). */
int verify_file(struct verify *v, const char *rel, const struct modpath_req *mp,
                verify_file_fn done, void *arg);

/* Fetches path of the checksum database ("lookup/M@V", "tile/8/0/001",
 * "latest": below /sumdb/NAME/, borrowed) from the database's own URL
 * ([sumdb] database = KEY URL), for a client's request: the fetch modgate's
 * own lookups make there, with their deadlines (connect, first byte, idle;
 * metadata_timeout in all). Nothing is proven or cached here: the go
 * command proves what it gets, and the cache holds only what modgate's own
 * lookups proved. A fetch of a path the database is being asked for
 * already (by a client or modgate's own lookups) joins that transfer and
 * gets its answer; the database sees one request, with the request_id
 * (copied; NULL: none) of the fetch that started it. verify_db_cancel
 * never stops a transfer others still wait on.
 * done runs once, later, from the loop — never from inside this call — with
 * the status (0: no answer; err then says why, as it says the first line of
 * a non-200 answer) and a 200's body; the fetch is freed when done returns.
 * NULL when no URL is configured, at shutdown, or when the transfer cannot
 * start. Loop thread; safe from inside libevhtp callbacks. */
struct verify_dbfetch *verify_db_get(struct verify *v, const char *path, const char *request_id,
                                     sumdb_fetched_fn done, void *arg);

/* Drops q (NULL: nothing): its done never runs. Not from inside q's own
 * done. */
void verify_db_cancel(struct verify_dbfetch *q);

/* Drops f's check: flight_verified will not be called. */
void verify_cancel(struct flight *f);

void verify_stats(const struct verify *v, struct verify_stats *out);

/* Appends the status of the checksum database (name, kept tree size) as
 * Prometheus text to out. */
void verify_write_metrics(const struct verify *v, struct evbuffer *out);

#endif
