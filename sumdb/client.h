/*
 * sumdb client — looks up module versions in a checksum database and
 * proves every answer, the way the go command's sumdb.Client does: the
 * signed tree head in the answer must verify with the database's key, the
 * record must be in that tree (its leaf hash read through tiles that are
 * themselves checked against the tree hash), and the tree must be
 * consistent with the last tree head this client kept. The kept head only
 * ever moves forward; the caller persists it (tree_advanced) and hands it
 * back at the next start, so a rollback or fork of the log is caught across
 * restarts.
 *
 * The client does no I/O of its own: it asks its ops to fetch paths of the
 * database ("lookup/M@V", "tile/8/0/001") and to keep verified tiles and
 * tree heads. proxy/verify.c provides them over modgate's pools and cache.
 *
 * Ownership and threading: loop thread only. The client owns its lookups;
 * a lookup's done callback runs once, from inside an ops fetch callback,
 * never from inside sumdb_client_lookup. The ops owner must stop delivering
 * fetch callbacks before sumdb_client_free (which drops pending lookups
 * without calling them back).
 */
#ifndef MODGATE_SUMDB_CLIENT_H
#define MODGATE_SUMDB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "sumdb/dirhash.h"
#include "sumdb/note.h"

/* The tile height of every Go checksum database (sumdb.Client's). */
#define SUMDB_CLIENT_TILE_HEIGHT 8

/* Largest lookup or tile answer accepted. */
#define SUMDB_CLIENT_BODY_MAX (1 << 20)

enum sumdb_client_verdict {
	SUMDB_FOUND,       /* proven: zip_h1 and mod_h1 are the database's */
	SUMDB_NOT_FOUND,   /* the database answered 404/410 for module@version */
	SUMDB_UNAVAILABLE, /* no usable answer: unreachable, or malformed */
	SUMDB_SECURITY,    /* an answer failed its proof: forged signature, a
	                      tree inconsistent with the kept one, a bad tile */
};

struct sumdb_client_result {
	enum sumdb_client_verdict verdict;
	char zip_h1[SUMDB_H1_LEN + 1]; /* FOUND: "h1:..." of the zip, "" if not listed */
	char mod_h1[SUMDB_H1_LEN + 1]; /* FOUND: "h1:..." of the go.mod */
	int64_t record_id;             /* FOUND: the record's index in the log */
	int64_t tree_n;                /* FOUND: size of the tree it was proven in */
	char error[600];               /* otherwise: one line saying why */
};

/* A fetch's answer: status is the HTTP status (0 when there is none; err
 * says why), body/len the body of a 200 (borrowed for the call), cached set
 * when it came from modgate's own cache (already verified). */
typedef void (*sumdb_fetched_fn)(void *arg, int status, const char *body, size_t len, int cached,
                                 const char *err);

struct sumdb_client_ops {
	/* Fetches path (under /sumdb/NAME/) and calls done(done_arg, ...) once,
	 * later, from the loop. 0, or -1 when it cannot start (done never
	 * runs). */
	int (*fetch)(void *arg, const char *path, sumdb_fetched_fn done, void *done_arg);
	/* The kept tree head moved forward: note (len bytes, borrowed) is its
	 * signed note, to persist. */
	void (*tree_advanced)(void *arg, const char *note, size_t len);
	/* A tile fetched from the network passed its check: cache it. */
	void (*tile_verified)(void *arg, const char *path, const uint8_t *data, size_t len);
	/* A lookup answer (path "lookup/M@V", the answer's bytes as fetched)
	 * was proven: it may be kept for clients. May be NULL. */
	void (*lookup_verified)(void *arg, const char *path, const char *body, size_t len);
	void *arg;
};

struct sumdb_client;
struct sumdb_lookup;

typedef void (*sumdb_lookup_fn)(void *arg, const struct sumdb_client_result *r);

/* A client of the database whose verifier key is vkey ("name+hash+data",
 * borrowed). kept/kept_len: the signed tree head persisted by an earlier
 * run (borrowed), or NULL; it must verify with vkey. ops is copied. NULL
 * with err on a bad key or kept head. */
struct sumdb_client *sumdb_client_new(const char *vkey, const char *kept, size_t kept_len,
                                      const struct sumdb_client_ops *ops, char *err, size_t errlen);

/* Frees c and every pending lookup, without calling them back. */
void sumdb_client_free(struct sumdb_client *c);

/* The database's name (borrowed from c). */
const char *sumdb_client_name(const struct sumdb_client *c);

/* The kept tree head; n is 0 before the first proven answer. */
void sumdb_client_kept(const struct sumdb_client *c, struct sumdb_tree *t);

/* Starts looking up module@version (both borrowed, unescaped); esc is the
 * "M@V" of the lookup path, escaped as the go command escapes it. done runs
 * once, later. NULL when it cannot start (out of memory, fetch refused). */
struct sumdb_lookup *sumdb_client_lookup(struct sumdb_client *c, const char *esc,
                                         const char *module, const char *version,
                                         sumdb_lookup_fn done, void *arg);

/* Drops l: its done never runs. Not from inside l's own done. */
void sumdb_lookup_cancel(struct sumdb_lookup *l);

/* tlog.ParseRecord: splits a lookup answer into the record id, its text
 * (ending in one newline) and the signed tree note after the blank line.
 * Pointers borrow msg. 0, or -1 with err when malformed. */
int sumdb_parse_record(const char *msg, size_t len, int64_t *id, const char **text,
                       size_t *text_len, const char **note, size_t *note_len, char *err,
                       size_t errlen);

#endif
