/*
 * Unit tests for sumdb/client: proven lookups.
 *
 * The vectors in t/unit/testdata/client_vectors.inc come from the real
 * golang.org/x/mod/sumdb (regenerate with
 * `cd t && go run ./unit/testdata/gen_client.go`): a sumdb.Server over a
 * log grown in stages (3 ... 1000 records) and over a fork of it (same
 * key, the first CV_SHARED records shared, other records after), the
 * /lookup answers and /tile/ bodies it serves at each stage (each genuine
 * answer proven by a real sumdb.Client), a forged signature, a corrupted
 * tile, a tree head signed by another key, and tlog.ParseRecord verdicts.
 *
 * Only the transport is a test double: ops.fetch queues the path and the
 * test delivers the recorded bytes later, from its own steps, in the order
 * it chooses (never from inside fetch); tree_advanced, tile_verified and
 * lookup_verified record what they are given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sumdb/client.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t/unit/testdata/client_vectors.h"

/* ---- vector look-ups ------------------------------------------------------ */

static const struct cv_stage *stage(int log, int64_t n)
{
	for (size_t i = 0; i < NVEC(cv_stages); i++)
		if (cv_stages[i].log == log && cv_stages[i].n == n)
			return &cv_stages[i];
	fail_msg("no stage %d/%" PRId64, log, n);
	return NULL;
}

static const struct cv_answer *answer(int log, int64_t n, int64_t id)
{
	for (size_t i = 0; i < NVEC(cv_answers); i++)
		if (cv_answers[i].log == log && cv_answers[i].n == n && cv_answers[i].id == id)
			return &cv_answers[i];
	fail_msg("no answer %d/%" PRId64 "/%" PRId64, log, n, id);
	return NULL;
}

static const struct cv_tile *tile(int log, const char *path)
{
	for (size_t i = 0; i < NVEC(cv_tiles); i++)
		if (cv_tiles[i].log == log && strcmp(cv_tiles[i].path, path) == 0)
			return &cv_tiles[i];
	return NULL;
}

/* ---- the transport double ------------------------------------------------- */

#define QMAX 256
#define SEEN_MAX 512

struct fetch {
	char path[2100];
	sumdb_fetched_fn done;
	void *arg;
};

struct seen {
	char path[2100];
	char *data;
	size_t len;
};

struct net {
	struct fetch q[QMAX];
	size_t nq;
	int refuse_after; /* fetch returns -1 once this many were started (-1: never) */
	int started;
	int advanced;
	char *advanced_note;
	size_t advanced_len;
	struct seen tiles[SEEN_MAX]; /* tile_verified */
	size_t ntiles;
	struct seen lookups[SEEN_MAX]; /* lookup_verified */
	size_t nlookups;
	char fetched[SEEN_MAX][2100]; /* every path asked for, in order */
	size_t nfetched;
};

static int net_fetch(void *arg, const char *path, sumdb_fetched_fn done, void *done_arg)
{
	struct net *n = arg;

	if (n->refuse_after >= 0 && n->started >= n->refuse_after)
		return -1;
	assert_true(n->nq < QMAX);
	assert_true(strlen(path) < sizeof(n->q[0].path));
	snprintf(n->q[n->nq].path, sizeof(n->q[0].path), "%s", path);
	n->q[n->nq].done = done;
	n->q[n->nq].arg = done_arg;
	n->nq++;
	n->started++;
	if (n->nfetched < SEEN_MAX)
		snprintf(n->fetched[n->nfetched++], sizeof(n->fetched[0]), "%s", path);
	return 0;
}

static void keep(struct seen *s, const char *path, const void *data, size_t len)
{
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->data = malloc(len ? len : 1);
	assert_non_null(s->data);
	memcpy(s->data, data, len);
	s->len = len;
}

static void net_advanced(void *arg, const char *note, size_t len)
{
	struct net *n = arg;

	n->advanced++;
	free(n->advanced_note);
	n->advanced_note = malloc(len ? len : 1);
	assert_non_null(n->advanced_note);
	memcpy(n->advanced_note, note, len);
	n->advanced_len = len;
}

static void net_tile_verified(void *arg, const char *path, const uint8_t *data, size_t len)
{
	struct net *n = arg;

	assert_true(n->ntiles < SEEN_MAX);
	keep(&n->tiles[n->ntiles++], path, data, len);
}

static void net_lookup_verified(void *arg, const char *path, const char *body, size_t len)
{
	struct net *n = arg;

	assert_true(n->nlookups < SEEN_MAX);
	keep(&n->lookups[n->nlookups++], path, body, len);
}

static void net_init(struct net *n)
{
	memset(n, 0, sizeof(*n));
	n->refuse_after = -1;
}

static void net_clear(struct net *n)
{
	free(n->advanced_note);
	for (size_t i = 0; i < n->ntiles; i++)
		free(n->tiles[i].data);
	for (size_t i = 0; i < n->nlookups; i++)
		free(n->lookups[i].data);
	net_init(n);
}

static struct sumdb_client_ops net_ops(struct net *n)
{
	return (struct sumdb_client_ops){
	    .fetch = net_fetch,
	    .tree_advanced = net_advanced,
	    .tile_verified = net_tile_verified,
	    .lookup_verified = net_lookup_verified,
	    .arg = n,
	};
}

/* Index of the first queued fetch of path, or -1. */
static int queued(struct net *n, const char *path)
{
	for (size_t i = 0; i < n->nq; i++)
		if (strcmp(n->q[i].path, path) == 0)
			return (int)i;
	return -1;
}

/* Takes fetch i off the queue and answers it. */
static void answer_fetch(struct net *n, size_t i, int status, const char *body, size_t len,
                         int cached, const char *err)
{
	struct fetch f;

	assert_true(i < n->nq);
	f = n->q[i];
	memmove(&n->q[i], &n->q[i + 1], (n->nq - i - 1) * sizeof(n->q[0]));
	n->nq--;
	f.done(f.arg, status, body, len, cached, err);
}

/* Answers fetch i as the database `log` would: its tile, or 404. */
static void serve_tile(struct net *n, size_t i, int log)
{
	const struct cv_tile *t;

	assert_true(i < n->nq);
	assert_true(strncmp(n->q[i].path, "tile/", 5) == 0);
	t = tile(log, n->q[i].path);
	if (t)
		answer_fetch(n, i, 200, t->data, t->len, 0, NULL);
	else
		answer_fetch(n, i, 404, NULL, 0, 0, NULL);
}

/* Serves every queued tile fetch (and those they start) from log. */
static void serve_tiles(struct net *n, int log)
{
	for (int bound = 0; n->nq > 0; bound++) {
		assert_true(bound < 1000);
		serve_tile(n, 0, log);
	}
}

struct got {
	int calls;
	struct sumdb_client_result r;
};

static void on_done(void *arg, const struct sumdb_client_result *r)
{
	struct got *g = arg;

	g->calls++;
	g->r = *r;
}

/* Starts a lookup of a's module@version; its lookup fetch is queued. */
static struct sumdb_lookup *start(struct sumdb_client *c, struct net *n, const struct cv_answer *a,
                                  struct got *g)
{
	struct sumdb_lookup *l;
	size_t before = n->nq;

	memset(g, 0, sizeof(*g));
	l = sumdb_client_lookup(c, a->esc, a->module, a->version, on_done, g);
	assert_non_null(l);
	assert_int_equal(n->nq, before + 1);
	assert_string_equal(n->q[n->nq - 1].path, a->path);
	assert_int_equal(g->calls, 0);
	return l;
}

/* Delivers body as the answer to the queued fetch of a's lookup. */
static void deliver_answer(struct net *n, const struct cv_answer *a, const char *body, size_t len)
{
	int i = queued(n, a->path);

	assert_true(i >= 0);
	answer_fetch(n, (size_t)i, 200, body, len, 0, NULL);
}

/* A whole lookup: a's answer, then tiles from tile_log. */
static void lookup(struct sumdb_client *c, struct net *n, const struct cv_answer *a, int tile_log,
                   struct got *g)
{
	start(c, n, a, g);
	deliver_answer(n, a, a->body, a->len);
	serve_tiles(n, tile_log);
	assert_int_equal(g->calls, 1);
}

static struct sumdb_client *client(struct net *n, const struct cv_stage *kept)
{
	struct sumdb_client_ops ops = net_ops(n);
	char err[600];
	struct sumdb_client *c = sumdb_client_new(
	    cv_vkey, kept ? kept->note : NULL, kept ? kept->note_len : 0, &ops, err, sizeof(err));

	if (!c)
		fail_msg("sumdb_client_new: %s", err);
	return c;
}

static void assert_found(const struct got *g, const struct cv_answer *a, int64_t tree_n)
{
	if (g->r.verdict != SUMDB_FOUND)
		fail_msg("%s@%s (log %d, tree %" PRId64 "): verdict %d: %s", a->module, a->version,
		         a->log, a->n, g->r.verdict, g->r.error);
	assert_string_equal(g->r.zip_h1, a->zip_h1);
	assert_string_equal(g->r.mod_h1, a->mod_h1);
	assert_int_equal(g->r.record_id, a->id);
	assert_int_equal(g->r.tree_n, tree_n);
}

static void assert_verdict(const struct got *g, enum sumdb_client_verdict v, const char *needle)
{
	assert_int_equal(g->calls, 1);
	if (g->r.verdict != v)
		fail_msg("verdict %d, want %d: %s", g->r.verdict, v, g->r.error);
	if (needle && !strstr(g->r.error, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", g->r.error, needle);
	for (const char *s = g->r.error; *s; s++)
		assert_true((unsigned char)*s >= 0x20 && (unsigned char)*s != 0x7f);
	assert_true(g->r.error[0] != '\0');
}

static void assert_kept(struct sumdb_client *c, const struct cv_stage *s)
{
	struct sumdb_tree t;

	sumdb_client_kept(c, &t);
	assert_int_equal(t.n, s ? s->n : 0);
	if (s)
		assert_memory_equal(t.hash, s->hash, 32);
}

static void assert_advanced_to(const struct net *n, const struct cv_stage *s)
{
	assert_non_null(n->advanced_note);
	assert_int_equal(n->advanced_len, s->note_len);
	assert_memory_equal(n->advanced_note, s->note, s->note_len);
}

/* ---- tests ---------------------------------------------------------------- */

/* Every recorded answer, genuine and forked, proven by a fresh client (a
 * client with no kept tree accepts a fork, as sumdb.Client does); every
 * tile it hands to the cache is the database's. Covers record ids on both
 * sides of each tile boundary (255/256, 511/512, 767/768) and trees of one
 * partial tile up to trees with level-1 tiles. */
static void test_every_answer_fresh(void **state)
{
	static struct net n;
	struct got g;

	(void)state;
	for (size_t i = 0; i < NVEC(cv_answers); i++) {
		const struct cv_answer *a = &cv_answers[i];
		struct sumdb_client *c;

		net_init(&n);
		c = client(&n, NULL);
		lookup(c, &n, a, a->log, &g);
		assert_found(&g, a, a->n);
		assert_kept(c, stage(a->log, a->n));
		assert_int_equal(n.advanced, 1);
		assert_advanced_to(&n, stage(a->log, a->n));
		assert_true(n.ntiles >= 1);
		for (size_t j = 0; j < n.ntiles; j++) {
			const struct cv_tile *t = tile(a->log, n.tiles[j].path);

			assert_non_null(t);
			assert_int_equal(n.tiles[j].len, t->len);
			assert_memory_equal(n.tiles[j].data, t->data, t->len);
		}
		assert_int_equal(n.nlookups, 1);
		assert_string_equal(n.lookups[0].path, a->path);
		assert_int_equal(n.lookups[0].len, a->len);
		assert_memory_equal(n.lookups[0].data, a->body, a->len);
		sumdb_client_free(c);
		net_clear(&n);
	}
}

/* The special records: an escaped path, a go.mod-only record, a
 * +incompatible version; the done callback never runs inside lookup. */
static void test_small_tree(void **state)
{
	static struct net n;
	struct got g;
	struct sumdb_client *c;
	const struct cv_answer *up = answer(CV_GENUINE, 20, 2),
	                       *modonly = answer(CV_GENUINE, 20, 7),
	                       *inc = answer(CV_GENUINE, 20, 9);

	(void)state;
	net_init(&n);
	c = client(&n, NULL);
	assert_string_equal(sumdb_client_name(c), "sum.example.test");
	assert_kept(c, NULL);
	assert_string_equal(up->esc, "example.com/!upper@v1.0.0");
	lookup(c, &n, up, CV_GENUINE, &g);
	assert_found(&g, up, 20);
	lookup(c, &n, modonly, CV_GENUINE, &g);
	assert_found(&g, modonly, 20);
	assert_string_equal(g.r.zip_h1, "");
	assert_true(strncmp(g.r.mod_h1, "h1:", 3) == 0);
	lookup(c, &n, inc, CV_GENUINE, &g);
	assert_found(&g, inc, 20);
	assert_int_equal(n.advanced, 1);
	/* Tiles answered from modgate's cache are not handed back to it. */
	for (size_t i = 0; i < n.ntiles; i++)
		free(n.tiles[i].data);
	n.ntiles = 0;
	start(c, &n, up, &g);
	deliver_answer(&n, up, up->body, up->len);
	assert_int_equal(n.nq, 1);
	answer_fetch(&n, 0, 200, tile(CV_GENUINE, n.q[0].path)->data,
	             tile(CV_GENUINE, n.q[0].path)->len, 1, NULL);
	assert_found(&g, up, 20);
	assert_int_equal(n.ntiles, 0);
	sumdb_client_free(c);
	net_clear(&n);
}

/* One client through the stages: the kept tree advances with each larger
 * answer (tree_advanced gets the new signed note), never backwards; an
 * answer with an older tree than the kept one is still proven, against the
 * kept tree. */
static void test_kept_advances(void **state)
{
	static const int64_t path[] = {3, 20, 60, 300, 700, 1000};
	static struct net n;
	struct got g;
	struct sumdb_client *c;
	int advanced = 0;

	(void)state;
	net_init(&n);
	c = client(&n, NULL);
	for (size_t i = 0; i < NVEC(path); i++) {
		const struct cv_answer *a = answer(CV_GENUINE, path[i], path[i] - 1);

		lookup(c, &n, a, CV_GENUINE, &g);
		assert_found(&g, a, path[i]);
		assert_int_equal(n.advanced, ++advanced);
		assert_advanced_to(&n, stage(CV_GENUINE, path[i]));
		assert_kept(c, stage(CV_GENUINE, path[i]));
	}
	/* Older answers: proven in the kept tree of 1000, no advance. */
	for (int64_t s = 3; s <= 700; s = s == 3 ? 300 : s + 400) {
		const struct cv_answer *a = answer(CV_GENUINE, s, 2);

		lookup(c, &n, a, CV_GENUINE, &g);
		assert_found(&g, a, 1000);
		assert_int_equal(n.advanced, advanced);
		assert_kept(c, stage(CV_GENUINE, 1000));
	}
	/* The same tree again. */
	lookup(c, &n, answer(CV_GENUINE, 1000, 512), CV_GENUINE, &g);
	assert_found(&g, answer(CV_GENUINE, 1000, 512), 1000);
	assert_int_equal(n.advanced, advanced);
	sumdb_client_free(c);
	net_clear(&n);
}

/* A client started with a kept note (a restart): an older answer is
 * proven against it (the tiles are those of the kept tree), a newer one
 * advances it. */
static void test_kept_note_older_answer(void **state)
{
	static struct net n;
	struct got g;
	struct sumdb_client *c;
	const struct cv_answer *old = answer(CV_GENUINE, 20, 9),
	                       *newer = answer(CV_GENUINE, 1000, 768);
	int tree700 = 0;

	(void)state;
	net_init(&n);
	c = client(&n, stage(CV_GENUINE, 700));
	assert_kept(c, stage(CV_GENUINE, 700));
	lookup(c, &n, old, CV_GENUINE, &g);
	assert_found(&g, old, 700);
	assert_int_equal(n.advanced, 0);
	for (size_t i = 0; i < n.nfetched; i++)
		tree700 |= strcmp(n.fetched[i], "tile/8/0/002.p/188") == 0;
	assert_true(tree700);
	lookup(c, &n, newer, CV_GENUINE, &g);
	assert_found(&g, newer, 1000);
	assert_int_equal(n.advanced, 1);
	assert_advanced_to(&n, stage(CV_GENUINE, 1000));
	sumdb_client_free(c);
	net_clear(&n);
}

/* A fork refused by a client that kept a genuine tree past the fork
 * point: a larger forked tree (inconsistent), the same size with another
 * hash, a smaller forked tree read through the kept tree's tiles. Nothing
 * is kept, cached or advanced. A forked tree inside the shared prefix is
 * the genuine tree and is accepted. */
static void test_fork_refused(void **state)
{
	static const struct {
		int64_t kept, fork, id, tile_log;
	} cases[] = {
	    {300, 1000, 512, CV_FORK}, {300, 1000, 999, CV_FORK},    {700, 1000, 150, CV_FORK},
	    {300, 300, 150, CV_FORK},  {1000, 300, 150, CV_GENUINE}, {700, 300, 299, CV_GENUINE},
	};
	static struct net n;
	struct got g;
	struct sumdb_client *c;

	(void)state;
	for (size_t i = 0; i < NVEC(cases); i++) {
		const struct cv_answer *a = answer(CV_FORK, cases[i].fork, cases[i].id);

		net_init(&n);
		c = client(&n, stage(CV_GENUINE, cases[i].kept));
		lookup(c, &n, a, (int)cases[i].tile_log, &g);
		assert_verdict(&g, SUMDB_SECURITY, "forked");
		assert_kept(c, stage(CV_GENUINE, cases[i].kept));
		assert_int_equal(n.advanced, 0);
		assert_int_equal(n.ntiles, 0);
		assert_int_equal(n.nlookups, 0);
		/* The genuine database still answers. */
		lookup(c, &n, answer(CV_GENUINE, 1000, 999), CV_GENUINE, &g);
		assert_found(&g, answer(CV_GENUINE, 1000, 999), 1000);
		sumdb_client_free(c);
		net_clear(&n);
	}
	/* The fork's tree of 80 records is the genuine one. */
	net_init(&n);
	c = client(&n, stage(CV_GENUINE, 300));
	lookup(c, &n, answer(CV_FORK, 80, 50), CV_GENUINE, &g);
	assert_found(&g, answer(CV_GENUINE, 80, 50), 300);
	assert_memory_equal(stage(CV_FORK, 80)->hash, stage(CV_GENUINE, 80)->hash, 32);
	sumdb_client_free(c);
	net_clear(&n);
}

/* A signature that does not verify with the key: refused before any tile
 * is fetched. */
static void test_forged_signature(void **state)
{
	static struct net n;
	struct got g;
	struct sumdb_client *c;
	const struct cv_answer *a = answer(CV_GENUINE, 300, 50);

	(void)state;
	net_init(&n);
	c = client(&n, NULL);
	assert_int_equal(strlen(cv_forged), a->len);
	assert_memory_not_equal(cv_forged, a->body, a->len);
	start(c, &n, a, &g);
	deliver_answer(&n, a, cv_forged, strlen(cv_forged));
	assert_int_equal(n.nq, 0);
	assert_verdict(&g, SUMDB_SECURITY, "does not verify");
	assert_kept(c, NULL);
	assert_int_equal(n.advanced + (int)n.ntiles + (int)n.nlookups, 0);
	sumdb_client_free(c);
	net_clear(&n);
}

/* A tile with one flipped byte: refused, and neither it nor any other tile
 * of the lookup goes to the cache. A short tile likewise. */
static void test_bad_tile(void **state)
{
	const struct cv_answer *a = answer(CV_GENUINE, 300, 50);
	const struct cv_tile *good = tile(CV_GENUINE, "tile/8/0/000");
	static struct net n;
	struct got g;
	struct sumdb_client *c;

	(void)state;
	assert_int_equal(CV_BAD_TILE_LEN, good->len);
	for (int variant = 0; variant < 2; variant++) {
		int i;

		net_init(&n);
		c = client(&n, NULL);
		start(c, &n, a, &g);
		deliver_answer(&n, a, a->body, a->len);
		i = queued(&n, "tile/8/0/000");
		assert_true(i >= 0);
		if (variant == 0)
			answer_fetch(&n, (size_t)i, 200, cv_bad_tile, CV_BAD_TILE_LEN, 0, NULL);
		else
			answer_fetch(&n, (size_t)i, 200, good->data, good->len - 32, 0, NULL);
		serve_tiles(&n, CV_GENUINE);
		assert_verdict(&g, SUMDB_SECURITY, "tiles do not match");
		assert_int_equal(n.ntiles, 0);
		assert_int_equal(n.advanced, 0);
		assert_int_equal(n.nlookups, 0);
		assert_kept(c, NULL);
		sumdb_client_free(c);
		net_clear(&n);
	}
}

/* 404 and 410: not found, no tiles. */
static void test_not_found(void **state)
{
	static const int statuses[] = {404, 410};
	const struct cv_answer *a = answer(CV_GENUINE, 300, 50);
	static struct net n;
	struct got g;
	struct sumdb_client *c;

	(void)state;
	for (size_t i = 0; i < NVEC(statuses); i++) {
		net_init(&n);
		c = client(&n, NULL);
		start(c, &n, a, &g);
		answer_fetch(&n, 0, statuses[i], "not found", 9, 0, NULL);
		assert_verdict(&g, SUMDB_NOT_FOUND, a->module);
		assert_int_equal(n.nq, 0);
		sumdb_client_free(c);
		net_clear(&n);
	}
}

/* No usable answer: no status (the transport's reason is kept), other
 * statuses, a tile that cannot be had, a fetch that cannot start. */
static void test_unavailable(void **state)
{
	const struct cv_answer *a = answer(CV_GENUINE, 700, 512);
	static struct net n;
	struct got g;
	struct sumdb_client *c;
	struct sumdb_client_ops ops;
	char err[600];

	(void)state;
	net_init(&n);
	c = client(&n, NULL);
	start(c, &n, a, &g);
	answer_fetch(&n, 0, 0, NULL, 0, 0, "connection refused by the test");
	assert_verdict(&g, SUMDB_UNAVAILABLE, "connection refused by the test");
	start(c, &n, a, &g);
	answer_fetch(&n, 0, 503, "busy", 4, 0, NULL);
	assert_verdict(&g, SUMDB_UNAVAILABLE, "503");
	/* A tile: no status, 404, 500; the others still answered. */
	for (int status = 0; status < 3; status++) {
		start(c, &n, a, &g);
		deliver_answer(&n, a, a->body, a->len);
		assert_true(n.nq >= 2);
		answer_fetch(&n, 0,
		             status == 0   ? 0
		             : status == 1 ? 404
		                           : 500,
		             NULL, 0, 0, status == 0 ? "tile timed out" : NULL);
		assert_int_equal(g.calls, 0);
		serve_tiles(&n, CV_GENUINE);
		assert_verdict(&g, SUMDB_UNAVAILABLE, status == 0 ? "tile timed out" : "tile/8/");
	}
	assert_kept(c, NULL);
	assert_int_equal(n.advanced + (int)n.ntiles + (int)n.nlookups, 0);
	sumdb_client_free(c);
	net_clear(&n);

	/* fetch refuses: the lookup cannot start; a tile fetch cannot start. */
	for (int after = 0; after < 3; after++) {
		net_init(&n);
		n.refuse_after = after;
		c = client(&n, NULL);
		memset(&g, 0, sizeof(g));
		if (after == 0) {
			assert_null(
			    sumdb_client_lookup(c, a->esc, a->module, a->version, on_done, &g));
		} else {
			start(c, &n, a, &g);
			deliver_answer(&n, a, a->body, a->len);
			serve_tiles(&n, CV_GENUINE);
			assert_verdict(&g, SUMDB_UNAVAILABLE, "cannot fetch");
		}
		assert_int_equal(g.calls, after == 0 ? 0 : 1);
		sumdb_client_free(c);
		net_clear(&n);
	}

	/* sumdb_client_new: bad keys and kept heads. */
	ops = net_ops(&n);
	assert_null(sumdb_client_new("not a key", NULL, 0, &ops, err, sizeof(err)));
	assert_non_null(strstr(err, "key"));
	assert_null(sumdb_client_new(cv_vkey, "garbage\n", 8, &ops, err, sizeof(err)));
	assert_non_null(strstr(err, "does not verify"));
}

/* Malformed answers are unavailable; answers that parse but do not prove
 * are security errors. */
static void test_malformed(void **state)
{
	const struct cv_answer *a = answer(CV_GENUINE, 300, 150);
	const char *nl = memchr(a->body, '\n', a->len);
	const char *blank = strstr(a->body, "\n\n");
	static struct net n;
	struct got g;
	struct sumdb_client *c;
	char buf[4096];
	size_t len;

	(void)state;
	assert_true(a->len < sizeof(buf) - 16 && nl && blank);
	net_init(&n);
	c = client(&n, NULL);
	struct {
		const char *what;
		size_t cut; /* keep this many bytes */
		enum sumdb_client_verdict v;
	} cuts[] = {
	    {"empty", 0, SUMDB_UNAVAILABLE},
	    {"id only", (size_t)(nl - a->body) + 1, SUMDB_UNAVAILABLE},
	    {"no blank line", (size_t)(blank - a->body) + 1, SUMDB_UNAVAILABLE},
	    {"no note", (size_t)(blank - a->body) + 2, SUMDB_UNAVAILABLE},
	    {"half the note", (size_t)(blank - a->body) + 40, SUMDB_UNAVAILABLE},
	    {"last newline lost", a->len - 1, SUMDB_UNAVAILABLE},
	};
	for (size_t i = 0; i < NVEC(cuts); i++) {
		start(c, &n, a, &g);
		deliver_answer(&n, a, a->body, cuts[i].cut);
		assert_int_equal(n.nq, 0);
		if (g.r.verdict != cuts[i].v)
			fail_msg("%s: verdict %d: %s", cuts[i].what, g.r.verdict, g.r.error);
		assert_verdict(&g, cuts[i].v, NULL);
	}
	/* A record id beyond the tree. */
	len = (size_t)snprintf(buf, sizeof(buf), "300%.*s", (int)(a->len - (size_t)(nl - a->body)),
	                       nl);
	start(c, &n, a, &g);
	deliver_answer(&n, a, buf, len);
	assert_verdict(&g, SUMDB_SECURITY, "beyond");
	/* Another record's id: its leaf is not this record. */
	len = (size_t)snprintf(buf, sizeof(buf), "151%.*s", (int)(a->len - (size_t)(nl - a->body)),
	                       nl);
	start(c, &n, a, &g);
	deliver_answer(&n, a, buf, len);
	serve_tiles(&n, CV_GENUINE);
	assert_verdict(&g, SUMDB_SECURITY, "not the one in its signed tree");
	/* The record's hash changed under a valid signature. */
	memcpy(buf, a->body, a->len);
	char *h = strstr(buf, " h1:") + 5;
	*h = *h == 'A' ? 'B' : 'A';
	start(c, &n, a, &g);
	deliver_answer(&n, a, buf, a->len);
	serve_tiles(&n, CV_GENUINE);
	assert_verdict(&g, SUMDB_SECURITY, "not the one in its signed tree");
	/* The answer of another module. */
	start(c, &n, a, &g);
	deliver_answer(&n, a, answer(CV_GENUINE, 300, 99)->body, answer(CV_GENUINE, 300, 99)->len);
	assert_verdict(&g, SUMDB_SECURITY, "lists no");
	/* A tree head signed by another key with this key's name. */
	len = (size_t)(blank - a->body) + 2;
	memcpy(buf, a->body, len);
	memcpy(buf + len, cv_other_note, strlen(cv_other_note));
	start(c, &n, a, &g);
	deliver_answer(&n, a, buf, len + strlen(cv_other_note));
	assert_verdict(&g, SUMDB_SECURITY, "does not verify");
	assert_kept(c, NULL);
	assert_int_equal(n.advanced + (int)n.ntiles + (int)n.nlookups, 0);
	sumdb_client_free(c);
	net_clear(&n);
}

/* Cancelled with fetches pending: done never runs, nothing leaks (ASan
 * checks it under make SAN=1), the client goes on. */
static void test_cancel(void **state)
{
	const struct cv_answer *a = answer(CV_GENUINE, 1000, 999);
	static struct net n;
	struct got g;
	struct sumdb_client *c;
	struct sumdb_lookup *l;

	(void)state;
	net_init(&n);
	c = client(&n, stage(CV_GENUINE, 300));
	/* Before the answer. */
	l = start(c, &n, a, &g);
	sumdb_lookup_cancel(l);
	deliver_answer(&n, a, a->body, a->len);
	assert_int_equal(n.nq, 0);
	assert_int_equal(g.calls, 0);
	/* With tiles pending, some answered before and some after. */
	l = start(c, &n, a, &g);
	deliver_answer(&n, a, a->body, a->len);
	assert_true(n.nq >= 3);
	serve_tile(&n, 0, CV_GENUINE);
	sumdb_lookup_cancel(l);
	serve_tile(&n, 0, CV_GENUINE);
	answer_fetch(&n, 0, 0, NULL, 0, 0, "late failure");
	serve_tiles(&n, CV_GENUINE);
	assert_int_equal(g.calls, 0);
	assert_int_equal(n.advanced + (int)n.ntiles + (int)n.nlookups, 0);
	assert_kept(c, stage(CV_GENUINE, 300));
	/* The client still works. */
	lookup(c, &n, a, CV_GENUINE, &g);
	assert_found(&g, a, 1000);
	/* Cancelled, then the client freed with its fetches never answered. */
	l = start(c, &n, answer(CV_GENUINE, 1000, 0), &g);
	sumdb_lookup_cancel(l);
	start(c, &n, answer(CV_GENUINE, 1000, 2), &g);
	sumdb_client_free(c);
	assert_int_equal(g.calls, 0);
	net_clear(&n);
}

/* Runs a whole genuine lookup on c while others wait. */
static void side_lookup(struct sumdb_client *c, struct net *n, const struct cv_answer *b)
{
	struct got g;
	size_t before = n->nq;

	start(c, n, b, &g);
	deliver_answer(n, b, b->body, b->len);
	/* Serve only the fetches b started (queued after the waiting ones). */
	for (int bound = 0; n->nq > before; bound++) {
		assert_true(bound < 1000);
		serve_tile(n, before, CV_GENUINE);
	}
	assert_found(&g, b, b->n);
}

/* The kept tree moves (another lookup proved a larger tree) while a
 * lookup fetches its tiles: the lookup fetches the tiles again and proves
 * against the new kept tree. Against a fork that the old kept tree could
 * not tell apart, the new one catches it. */
static void test_restart(void **state)
{
	const struct cv_answer *a = answer(CV_GENUINE, 300, 150);
	const struct cv_answer *f = answer(CV_FORK, 1000, 999);
	static struct net n;
	struct got g;
	struct sumdb_client *c;
	size_t first;
	int refetched = 0;

	(void)state;
	net_init(&n);
	c = client(&n, stage(CV_GENUINE, 20));
	start(c, &n, a, &g);
	deliver_answer(&n, a, a->body, a->len);
	assert_true(n.nq > 0);
	first = n.nfetched;
	side_lookup(c, &n, answer(CV_GENUINE, 700, 512));
	assert_kept(c, stage(CV_GENUINE, 700));
	serve_tiles(&n, CV_GENUINE);
	assert_found(&g, a, 700);
	assert_int_equal(n.advanced, 1);
	for (size_t i = first; i < n.nfetched; i++)
		refetched |= strcmp(n.fetched[i], "tile/8/0/002.p/188") == 0;
	assert_true(refetched);
	sumdb_client_free(c);
	net_clear(&n);

	/* The fork: consistent with the kept tree of 20, not with 700. */
	net_init(&n);
	c = client(&n, stage(CV_GENUINE, 20));
	start(c, &n, f, &g);
	deliver_answer(&n, f, f->body, f->len);
	side_lookup(c, &n, answer(CV_GENUINE, 700, 512));
	serve_tiles(&n, CV_FORK);
	assert_verdict(&g, SUMDB_SECURITY, "forked");
	assert_kept(c, stage(CV_GENUINE, 700));
	assert_int_equal(n.advanced, 1);
	sumdb_client_free(c);
	net_clear(&n);
}

/* The kept tree keeps moving while a lookup fetches tiles, more times than
 * the lookup restarts: it must not prove against a kept tree that is no
 * longer the kept one. Here the first kept trees (20 ... 80 records) are
 * inside the prefix the fork shares, the last (300) is not: the forked
 * tree of 1000 is consistent with the stale kept tree of 80 only, and must
 * not replace the kept tree of 300. */
static void test_restart_exhausted(void **state)
{
	static const int64_t moves[] = {20, 40, 60, 80, 300};
	const struct cv_answer *f = answer(CV_FORK, 1000, 999);
	static struct net n;
	struct got g;
	struct sumdb_client *c;

	(void)state;
	net_init(&n);
	c = client(&n, stage(CV_GENUINE, 3));
	start(c, &n, f, &g);
	deliver_answer(&n, f, f->body, f->len);
	for (size_t i = 0; i < NVEC(moves); i++) {
		assert_int_equal(g.calls, 0);
		assert_true(n.nq > 0);
		side_lookup(c, &n, answer(CV_GENUINE, moves[i], 2));
		assert_kept(c, stage(CV_GENUINE, moves[i]));
		/* Answer the waiting tiles; the lookup starts again or ends. */
		for (size_t k = n.nq; k > 0 && g.calls == 0; k--)
			serve_tile(&n, 0, CV_FORK);
	}
	serve_tiles(&n, CV_FORK);
	assert_verdict(&g, SUMDB_UNAVAILABLE, "moved");
	assert_kept(c, stage(CV_GENUINE, 300));
	assert_int_equal(n.advanced, (int)NVEC(moves));
	assert_advanced_to(&n, stage(CV_GENUINE, 300));
	sumdb_client_free(c);
	net_clear(&n);
}

/* sumdb_client_new takes a kept head signed by its key only. */
static void test_client_new_kept(void **state)
{
	static struct net n;
	struct sumdb_client_ops ops = net_ops(&n);
	struct sumdb_client *c;
	char err[600];

	(void)state;
	net_init(&n);
	assert_null(sumdb_client_new(cv_vkey, cv_other_note, strlen(cv_other_note), &ops, err,
	                             sizeof(err)));
	assert_non_null(strstr(err, "does not verify"));
	assert_non_null(strstr(err, "sum.example.test"));
	/* The other key opens it: the note is good, only the key differs. */
	c = sumdb_client_new(cv_other_vkey, cv_other_note, strlen(cv_other_note), &ops, err,
	                     sizeof(err));
	assert_non_null(c);
	sumdb_client_free(c);
	for (size_t i = 0; i < NVEC(cv_stages); i++) {
		c = sumdb_client_new(cv_vkey, cv_stages[i].note, cv_stages[i].note_len, &ops, err,
		                     sizeof(err));
		assert_non_null(c);
		assert_kept(c, &cv_stages[i]);
		sumdb_client_free(c);
	}
	/* A genuine note cut short. */
	assert_null(sumdb_client_new(cv_vkey, cv_stages[0].note, cv_stages[0].note_len - 2, &ops,
	                             err, sizeof(err)));
	assert_int_equal(n.started, 0);
}

/* sumdb_parse_record reaches tlog.ParseRecord's verdict, but for the
 * records it refuses on purpose (strict). */
static void test_parse_record(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVEC(cv_records); i++) {
		const struct cv_record *v = &cv_records[i];
		int64_t id = -1;
		const char *text = NULL, *note = NULL;
		size_t text_len = 0, note_len = 0;
		char err[300] = "";
		int rc = sumdb_parse_record(v->msg, v->len, &id, &text, &text_len, &note, &note_len,
		                            err, sizeof(err));

		if (v->ok && !v->strict) {
			if (rc != 0)
				fail_msg("%s: refused (%s), Go accepts it", v->what, err);
			assert_int_equal(id, v->id);
			assert_int_equal(text_len, v->text_len);
			assert_ptr_equal(text, (const char *)memchr(v->msg, '\n', v->len) + 1);
			assert_int_equal(note_len, v->rest_len);
			assert_ptr_equal(note, v->msg + v->len - v->rest_len);
		} else {
			if (rc != -1)
				fail_msg("%s: accepted (id %" PRId64 "), want refused", v->what,
				         id);
			assert_true(strncmp(err, "malformed record", 16) == 0);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_answer_fresh),
	    cmocka_unit_test(test_small_tree),
	    cmocka_unit_test(test_kept_advances),
	    cmocka_unit_test(test_kept_note_older_answer),
	    cmocka_unit_test(test_fork_refused),
	    cmocka_unit_test(test_forged_signature),
	    cmocka_unit_test(test_bad_tile),
	    cmocka_unit_test(test_not_found),
	    cmocka_unit_test(test_unavailable),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_restart),
	    cmocka_unit_test(test_restart_exhausted),
	    cmocka_unit_test(test_client_new_kept),
	    cmocka_unit_test(test_parse_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
