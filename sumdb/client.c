/*
 * sumdb client — a lookup, proven.
 *
 * Life of a lookup:
 *   fetch "lookup/M@V" -> parse the record, open the signed tree note with
 *   the key -> choose the larger of (answer's tree, kept tree) as the tree
 *   to read from and list the stored hashes needed: the record's leaf, and
 *   the consistency proof between the two trees -> fetch the tiles holding
 *   them (all at once) -> check the tiles against the larger tree's hash ->
 *   prove consistency, compare the leaf with the record's hash -> advance
 *   the kept tree, hand the fetched tiles to the cache, call back.
 *
 * If another lookup moved the kept tree while this one fetched tiles, the
 * proof was made against a head that is no longer the kept one: the tile
 * phase runs again against the new head (a bounded number of times).
 */
#include "sumdb/client.h"

#include "sumdb/tlog.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define MAX_TILES 128
#define MAX_RESTARTS 4

struct tile_slot {
	struct sumdb_lookup *l;
	uint8_t *data;
	size_t len;
	int cached;
};

struct sumdb_lookup {
	struct sumdb_client *c;
	LIST_ENTRY(sumdb_lookup) link;
	sumdb_lookup_fn done;
	void *arg;
	char *esc, *module, *version;
	int pending;   /* fetches not yet answered */
	int cancelled; /* freed once pending reaches 0 */
	int restarts;
	int failed; /* a fetch of this phase failed: result says why */
	struct sumdb_client_result result;

	/* The answer. */
	int64_t id;
	char *record; /* text, NUL-terminated */
	size_t record_len;
	char *note;
	size_t note_len;
	char *answer; /* the lookup answer as fetched */
	size_t answer_len;
	struct sumdb_tree tree;

	/* The tile phase. */
	struct sumdb_tree kept;   /* the kept head the proof is made against */
	unsigned kept_generation; /* c->generation when the phase started */
	struct sumdb_tlog_tile tiles[MAX_TILES];
	struct tile_slot slots[MAX_TILES];
	size_t ntiles;
	struct tile_slot lookup_slot;
};

struct sumdb_client {
	struct sumdb_verifier verifier;
	struct sumdb_client_ops ops;
	struct sumdb_tree kept;
	unsigned generation; /* bumped each time kept moves */
	LIST_HEAD(, sumdb_lookup) lookups;
};

static void set_result(struct sumdb_lookup *l, enum sumdb_client_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_result(struct sumdb_lookup *l, enum sumdb_client_verdict v, const char *fmt, ...)
{
	va_list ap;

	l->result.verdict = v;
	va_start(ap, fmt);
	vsnprintf(l->result.error, sizeof(l->result.error), fmt, ap);
	va_end(ap);
}

static void free_tiles(struct sumdb_lookup *l)
{
	for (size_t i = 0; i < l->ntiles; i++) {
		free(l->slots[i].data);
		l->slots[i].data = NULL;
	}
	l->ntiles = 0;
}

static void lookup_free(struct sumdb_lookup *l)
{
	LIST_REMOVE(l, link);
	free_tiles(l);
	free(l->esc);
	free(l->module);
	free(l->version);
	free(l->record);
	free(l->note);
	free(l->answer);
	free(l);
}

/* The lookup is over: call back (unless cancelled) and free it. */
static void finish(struct sumdb_lookup *l)
{
	if (!l->cancelled)
		l->done(l->arg, &l->result);
	lookup_free(l);
}

int sumdb_parse_record(const char *msg, size_t len, int64_t *id, const char **text,
                       size_t *text_len, const char **note, size_t *note_len, char *err,
                       size_t errlen)
{
	const char *nl = memchr(msg, '\n', len), *p, *end = msg + len;
	int64_t v = 0;

	if (!nl || nl == msg || nl - msg > 19 || (msg[0] == '0' && nl - msg > 1)) {
		snprintf(err, errlen, "malformed record: no record id on the first line");
		return -1;
	}
	for (p = msg; p < nl; p++) {
		/* 19 digits can exceed int64 (strconv.ParseInt refuses it). */
		if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10) {
			snprintf(err, errlen, "malformed record: bad record id");
			return -1;
		}
		v = v * 10 + (*p - '0');
	}
	for (p = nl + 1; p + 1 < end; p++)
		if (p[0] == '\n' && p[1] == '\n')
			break;
	if (p + 1 >= end) {
		snprintf(err, errlen, "malformed record: no blank line after the record text");
		return -1;
	}
	for (const char *q = nl + 1; q <= p; q++) {
		if ((*q < 0x20 && *q != '\n') || (unsigned char)*q >= 0x7f) {
			snprintf(err, errlen,
			         "malformed record: control or non-ASCII byte in text");
			return -1;
		}
	}
	*id = v;
	*text = nl + 1;
	*text_len = (size_t)(p + 1 - (nl + 1));
	*note = p + 2;
	*note_len = (size_t)(end - (p + 2));
	return 0;
}

/* Reads the zip and go.mod hashes of l's module@version out of the record
 * text, as the go command picks its go.sum lines. 0, or -1 if neither is
 * there. */
static int record_hashes(struct sumdb_lookup *l)
{
	size_t mlen = strlen(l->module), vlen = strlen(l->version);
	const char *p = l->record, *end = l->record + l->record_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *h;
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *dst = NULL;

		if (n > mlen + vlen + 2 && memcmp(p, l->module, mlen) == 0 && p[mlen] == ' ' &&
		    memcmp(p + mlen + 1, l->version, vlen) == 0) {
			h = p + mlen + 1 + vlen;
			if (*h == ' ') {
				dst = l->result.zip_h1;
				h++;
			} else if ((size_t)(end - h) > 8 && memcmp(h, "/go.mod ", 8) == 0) {
				dst = l->result.mod_h1;
				h += 8;
			}
			if (dst && (size_t)(p + n - h) <= SUMDB_H1_LEN &&
			    !memchr(h, ' ', p + n - h)) {
				memcpy(dst, h, (size_t)(p + n - h));
				dst[p + n - h] = '\0';
			}
		}
		p += n + 1;
	}
	return l->result.mod_h1[0] || l->result.zip_h1[0] ? 0 : -1;
}

static void start_tiles(struct sumdb_lookup *l);

/* Every tile of this phase is in: check them and prove what the lookup
 * needs. Fills l->result. */
static void prove(struct sumdb_lookup *l)
{
	struct sumdb_client *c = l->c;
	const struct sumdb_tree *big = &l->tree, *small = &l->kept;
	uint8_t proof[SUMDB_TLOG_PROOF_MAX][SUMDB_TLOG_HASH_SIZE], leaf[SUMDB_TLOG_HASH_SIZE],
	    got[SUMDB_TLOG_HASH_SIZE];
	const uint8_t *data[MAX_TILES];
	size_t lens[MAX_TILES], plen;
	char err[300];

	if (l->kept.n > l->tree.n) {
		big = &l->kept;
		small = &l->tree;
	}
	for (size_t i = 0; i < l->ntiles; i++) {
		data[i] = l->slots[i].data;
		lens[i] = l->slots[i].len;
	}
	struct sumdb_tlog_tileset set = {
	    .h = SUMDB_CLIENT_TILE_HEIGHT,
	    .tree_n = big->n,
	    .tiles = l->tiles,
	    .data = data,
	    .len = lens,
	    .count = l->ntiles,
	};
	struct sumdb_tlog_reader rd = {.read = sumdb_tlog_tileset_read, .arg = &set};

	if (sumdb_tlog_check_tiles(&set, big->hash, err, sizeof(err)) < 0) {
		set_result(l, SUMDB_SECURITY,
		           "checksum database %s: tiles do not match its signed tree of %" PRId64
		           " records: %s",
		           c->verifier.name, big->n, err);
		return;
	}
	if (small->n > 0 && small->n < big->n) {
		if (sumdb_tlog_prove_tree(big->n, small->n, &rd, proof, &plen, err, sizeof(err)) <
		        0 ||
		    sumdb_tlog_check_tree(proof, plen, big->n, big->hash, small->n, small->hash,
		                          err, sizeof(err)) < 0) {
			set_result(l, SUMDB_SECURITY,
			           "checksum database %s: SECURITY: its tree of %" PRId64
			           " records is not consistent with the tree of %" PRId64
			           " records modgate kept (%s): the log was forked or rolled back",
			           c->verifier.name, l->tree.n, l->kept.n, err);
			return;
		}
	}
	if (sumdb_tlog_record_hash(l->record, l->record_len, leaf, err, sizeof(err)) < 0 ||
	    sumdb_tlog_tileset_read(&set, sumdb_tlog_stored_hash_index(0, l->id), got, err,
	                            sizeof(err)) < 0) {
		set_result(l, SUMDB_UNAVAILABLE, "checksum database %s: %s", c->verifier.name, err);
		return;
	}
	if (memcmp(leaf, got, sizeof(leaf)) != 0) {
		set_result(l, SUMDB_SECURITY,
		           "checksum database %s: record %" PRId64
		           " for %s@%s is not the one in its signed tree",
		           c->verifier.name, l->id, l->module, l->version);
		return;
	}
	/* Proven. Move the kept head forward, keep the tiles. */
	if (l->tree.n > c->kept.n) {
		c->kept = l->tree;
		c->generation++;
		if (c->ops.tree_advanced)
			c->ops.tree_advanced(c->ops.arg, l->note, l->note_len);
	}
	for (size_t i = 0; i < l->ntiles; i++) {
		char path[SUMDB_TLOG_PATH_MAX];

		if (l->slots[i].cached || !c->ops.tile_verified ||
		    sumdb_tlog_tile_path(&l->tiles[i], path, sizeof(path)) < 0)
			continue;
		c->ops.tile_verified(c->ops.arg, path, l->slots[i].data, l->slots[i].len);
	}
	if (c->ops.lookup_verified && l->answer) {
		char path[16 + 2048];

		if ((size_t)snprintf(path, sizeof(path), "lookup/%s", l->esc) < sizeof(path))
			c->ops.lookup_verified(c->ops.arg, path, l->answer, l->answer_len);
	}
	l->result.verdict = SUMDB_FOUND;
	l->result.record_id = l->id;
	l->result.tree_n = big->n;
	l->result.error[0] = '\0';
}

static void on_tile(void *arg, int status, const char *body, size_t len, int cached,
                    const char *err)
{
	struct tile_slot *s = arg;
	struct sumdb_lookup *l = s->l;
	size_t i = (size_t)(s - l->slots);
	char path[SUMDB_TLOG_PATH_MAX] = "";

	l->pending--;
	if (!l->failed && !l->cancelled) {
		sumdb_tlog_tile_path(&l->tiles[i], path, sizeof(path));
		if (status != 200) {
			l->failed = 1;
			if (status == 0)
				set_result(l, SUMDB_UNAVAILABLE, "checksum database %s: %s: %s",
				           l->c->verifier.name, path, err ? err : "fetch failed");
			else
				set_result(l, SUMDB_UNAVAILABLE,
				           "checksum database %s: %s: HTTP %d%s%.200s",
				           l->c->verifier.name, path, status,
				           err && *err ? ": " : "", err ? err : "");
		} else if (!(s->data = malloc(len ? len : 1))) {
			l->failed = 1;
			set_result(l, SUMDB_UNAVAILABLE, "out of memory");
		} else {
			memcpy(s->data, body, len);
			s->len = len;
			s->cached = cached;
		}
	}
	if (l->pending > 0)
		return;
	if (l->cancelled || l->failed) {
		finish(l);
		return;
	}
	if (l->kept_generation != l->c->generation) {
		/* The kept head moved under us: prove against the new one. A
		 * proof against the old one would not show l's tree consistent
		 * with the kept head it may replace. */
		if (l->restarts++ < MAX_RESTARTS) {
			free_tiles(l);
			start_tiles(l);
		} else {
			set_result(l, SUMDB_UNAVAILABLE,
			           "checksum database %s: its tree head moved %d times while "
			           "the proof for %s was fetched",
			           l->c->verifier.name, MAX_RESTARTS + 1, l->esc);
			finish(l);
		}
		return;
	}
	prove(l);
	finish(l);
}

/* Lists and fetches the tiles the proofs need, against the kept head as it
 * is now. On a failure to start, finishes l (we are inside a fetch
 * callback). */
static void start_tiles(struct sumdb_lookup *l)
{
	struct sumdb_client *c = l->c;
	const struct sumdb_tree *big = &l->tree, *small = &c->kept;
	int64_t idx[1 + SUMDB_TLOG_INDEX_MAX];
	size_t nidx = 1, n = 0, started;
	char err[300], path[SUMDB_TLOG_PATH_MAX];

	l->kept = c->kept;
	l->kept_generation = c->generation;
	l->failed = 0;
	if (c->kept.n > l->tree.n) {
		big = &c->kept;
		small = &l->tree;
	}
	if (l->tree.n == c->kept.n && memcmp(l->tree.hash, c->kept.hash, 32) != 0) {
		set_result(l, SUMDB_SECURITY,
		           "checksum database %s: SECURITY: two different signed trees of %" PRId64
		           " records: the log was forked",
		           c->verifier.name, l->tree.n);
		finish(l);
		return;
	}
	if (l->id >= big->n) {
		set_result(l, SUMDB_SECURITY,
		           "checksum database %s: record %" PRId64 " is beyond its tree of %" PRId64
		           " records",
		           c->verifier.name, l->id, big->n);
		finish(l);
		return;
	}
	idx[0] = sumdb_tlog_stored_hash_index(0, l->id);
	if (small->n > 0 && small->n < big->n &&
	    sumdb_tlog_tree_proof_indexes(big->n, small->n, idx + 1, SUMDB_TLOG_INDEX_MAX, &n, err,
	                                  sizeof(err)) < 0) {
		set_result(l, SUMDB_UNAVAILABLE, "checksum database %s: %s", c->verifier.name, err);
		finish(l);
		return;
	}
	nidx += n;
	if (sumdb_tlog_tiles_for_indexes(SUMDB_CLIENT_TILE_HEIGHT, big->n, idx, nidx, l->tiles,
	                                 MAX_TILES, &l->ntiles, err, sizeof(err)) < 0) {
		l->ntiles = 0;
		set_result(l, SUMDB_UNAVAILABLE, "checksum database %s: %s", c->verifier.name, err);
		finish(l);
		return;
	}
	for (size_t i = 0; i < l->ntiles; i++)
		l->slots[i] = (struct tile_slot){.l = l};
	/* pending counts the fetches started so far plus one, so that an
	 * answer cannot finish the phase before every fetch has started. */
	l->pending = 1;
	for (started = 0; started < l->ntiles; started++) {
		sumdb_tlog_tile_path(&l->tiles[started], path, sizeof(path));
		l->pending++;
		if (c->ops.fetch(c->ops.arg, path, on_tile, &l->slots[started]) < 0) {
			l->pending--;
			l->failed = 1;
			set_result(l, SUMDB_UNAVAILABLE, "checksum database %s: cannot fetch %s",
			           c->verifier.name, path);
			break;
		}
	}
	/* Drop our own count the way an answer would. */
	l->pending--;
	if (l->pending == 0) {
		if (l->failed || l->cancelled)
			finish(l);
		else {
			prove(l);
			finish(l);
		}
	}
}

static void on_lookup(void *arg, int status, const char *body, size_t len, int cached,
                      const char *errmsg)
{
	struct tile_slot *s = arg;
	struct sumdb_lookup *l = s->l;
	struct sumdb_client *c = l->c;
	struct sumdb_note note;
	const char *text, *nt;
	size_t text_len, nt_len;
	char err[300];
	int rc;

	(void)cached;
	l->pending--;
	if (l->cancelled) {
		finish(l);
		return;
	}
	if (status == 404 || status == 410) {
		set_result(l, SUMDB_NOT_FOUND, "checksum database %s has no %s@%s (HTTP %d)",
		           c->verifier.name, l->module, l->version, status);
		finish(l);
		return;
	}
	if (status != 200) {
		if (status == 0)
			set_result(l, SUMDB_UNAVAILABLE, "checksum database %s: lookup %s: %s",
			           c->verifier.name, l->esc, errmsg ? errmsg : "fetch failed");
		else
			set_result(l, SUMDB_UNAVAILABLE,
			           "checksum database %s: lookup %s: HTTP %d%s%.200s",
			           c->verifier.name, l->esc, status, errmsg && *errmsg ? ": " : "",
			           errmsg ? errmsg : "");
		finish(l);
		return;
	}
	if (sumdb_parse_record(body, len, &l->id, &text, &text_len, &nt, &nt_len, err,
	                       sizeof(err)) < 0) {
		set_result(l, SUMDB_UNAVAILABLE, "checksum database %s: lookup %s: %s",
		           c->verifier.name, l->esc, err);
		finish(l);
		return;
	}
	rc = sumdb_note_open(nt, nt_len, &c->verifier, 1, &note, err, sizeof(err));
	if (rc == SUMDB_NOTE_BAD_SIG || rc == SUMDB_NOTE_UNVERIFIED) {
		set_result(l, SUMDB_SECURITY,
		           "checksum database %s: SECURITY: the tree head in the answer for %s "
		           "does not verify with its key: %s",
		           c->verifier.name, l->esc, err);
		finish(l);
		return;
	}
	if (rc != 0 || sumdb_tree_parse(note.text, note.text_len, &l->tree, err, sizeof(err)) < 0) {
		set_result(l, SUMDB_UNAVAILABLE, "checksum database %s: lookup %s: %s",
		           c->verifier.name, l->esc, err);
		finish(l);
		return;
	}
	l->record = malloc(text_len + 1);
	l->note = malloc(nt_len ? nt_len : 1);
	l->answer = malloc(len);
	if (!l->record || !l->note || !l->answer) {
		set_result(l, SUMDB_UNAVAILABLE, "out of memory");
		finish(l);
		return;
	}
	memcpy(l->record, text, text_len);
	l->record[text_len] = '\0';
	l->record_len = text_len;
	memcpy(l->note, nt, nt_len);
	l->note_len = nt_len;
	memcpy(l->answer, body, len);
	l->answer_len = len;
	if (record_hashes(l) < 0) {
		set_result(l, SUMDB_SECURITY,
		           "checksum database %s: its record for %s lists no %s@%s",
		           c->verifier.name, l->esc, l->module, l->version);
		finish(l);
		return;
	}
	start_tiles(l);
}

struct sumdb_client *sumdb_client_new(const char *vkey, const char *kept, size_t kept_len,
                                      const struct sumdb_client_ops *ops, char *err, size_t errlen)
{
	struct sumdb_client *c = calloc(1, sizeof(*c));
	struct sumdb_note note;
	char why[300];

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sumdb_verifier_parse(vkey, strlen(vkey), &c->verifier, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "checksum database key: %s", why);
		goto fail;
	}
	if (kept &&
	    (sumdb_note_open(kept, kept_len, &c->verifier, 1, &note, why, sizeof(why)) != 0 ||
	     sumdb_tree_parse(note.text, note.text_len, &c->kept, why, sizeof(why)) < 0)) {
		snprintf(err, errlen, "the kept tree head of %s does not verify: %s",
		         c->verifier.name, why);
		goto fail;
	}
	c->ops = *ops;
	LIST_INIT(&c->lookups);
	return c;
fail:
	free(c);
	return NULL;
}

void sumdb_client_free(struct sumdb_client *c)
{
	if (!c)
		return;
	while (!LIST_EMPTY(&c->lookups))
		lookup_free(LIST_FIRST(&c->lookups));
	free(c);
}

const char *sumdb_client_name(const struct sumdb_client *c)
{
	return c->verifier.name;
}

void sumdb_client_kept(const struct sumdb_client *c, struct sumdb_tree *t)
{
	*t = c->kept;
}

struct sumdb_lookup *sumdb_client_lookup(struct sumdb_client *c, const char *esc,
                                         const char *module, const char *version,
                                         sumdb_lookup_fn done, void *arg)
{
	struct sumdb_lookup *l = calloc(1, sizeof(*l));
	char path[16 + 2048];

	if (!l)
		return NULL;
	l->c = c;
	l->done = done;
	l->arg = arg;
	l->esc = strdup(esc);
	l->module = strdup(module);
	l->version = strdup(version);
	LIST_INSERT_HEAD(&c->lookups, l, link);
	if (!l->esc || !l->module || !l->version ||
	    (size_t)snprintf(path, sizeof(path), "lookup/%s", esc) >= sizeof(path))
		goto fail;
	l->lookup_slot.l = l;
	l->pending = 1;
	if (c->ops.fetch(c->ops.arg, path, on_lookup, &l->lookup_slot) < 0)
		goto fail;
	return l;
fail:
	lookup_free(l);
	return NULL;
}

void sumdb_lookup_cancel(struct sumdb_lookup *l)
{
	if (!l)
		return;
	l->cancelled = 1;
	if (l->pending == 0)
		lookup_free(l);
}
