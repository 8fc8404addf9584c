/*
 * Unit tests for sumdb/tlog: stored hash numbering, tiles and tile paths,
 * tree hashes, record and tree proofs.
 *
 * Expected values come from golang.org/x/mod/sumdb/tlog itself, through
 * t/unit/testdata/gen_tlog.go (run from t/: go run ./unit/testdata/gen_tlog.go),
 * which writes tlog_vectors.txt: a log of 1000 records "record %d\n". The
 * test rebuilds the same log in C, checks it against the Go digest, then
 * checks every vector and a set of tampered variants of each proof.
 *
 * Test data is looked up in $MODGATE_TESTDATA, else next to this file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sumdb/tlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define HS SUMDB_TLOG_HASH_SIZE
#define RECORDS 1000

/* ---- the log --------------------------------------------------------------- */

struct log {
	uint8_t (*stored)[HS];
	int64_t count;
	unsigned long reads;
};

static struct log lg;

static int log_read(void *arg, int64_t index, uint8_t out[HS], char *err, size_t errlen)
{
	struct log *l = arg;

	if (index < 0 || index >= l->count) {
		snprintf(err, errlen, "test: no stored hash %" PRId64, index);
		return -1;
	}
	memcpy(out, l->stored[index], HS);
	l->reads++;
	return 0;
}

static const struct sumdb_tlog_reader log_reader = {log_read, &lg};

static void record_data(int64_t i, char *buf, size_t len)
{
	snprintf(buf, len, "record %" PRId64 "\n", i);
}

/* tlog's StoredHashes, appending record n's hashes to the log. */
static void log_append(struct log *l, int64_t n)
{
	char data[64], err[128];
	uint8_t h[HS];

	record_data(n, data, sizeof(data));
	assert_int_equal(sumdb_tlog_record_hash(data, strlen(data), h, err, sizeof(err)), 0);
	memcpy(l->stored[l->count++], h, HS);
	for (int i = 0; ((uint64_t)(n + 1) >> i & 1) == 0; i++) {
		int64_t x = sumdb_tlog_stored_hash_index(i, (n >> i) - 1);

		assert_true(x >= 0 && x < l->count);
		assert_int_equal(sumdb_tlog_node_hash(l->stored[x], h, h, err, sizeof(err)), 0);
		memcpy(l->stored[l->count++], h, HS);
	}
}

/* ---- vectors ------------------------------------------------------------------ */

static const char *testdata_dir(void)
{
	static char dir[1024];
	const char *env = getenv("MODGATE_TESTDATA"), *slash = strrchr(__FILE__, '/');

	if (env)
		return env;
	snprintf(dir, sizeof(dir), "%.*stestdata", slash ? (int)(slash - __FILE__ + 1) : 0,
	         __FILE__);
	return dir;
}

static char **vec;
static size_t nvec;

static int setup(void **state)
{
	char path[1200], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/tlog_vectors.txt", testdata_dir());
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr,
		        "open %s: %s (run from the repository root or set MODGATE_TESTDATA)\n",
		        path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		vec = realloc(vec, (nvec + 1) * sizeof(*vec));
		vec[nvec++] = strdup(line);
	}
	free(line);
	fclose(f);
	lg.stored = calloc(4 * RECORDS, HS);
	for (int64_t i = 0; i < RECORDS; i++)
		log_append(&lg, i);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nvec; i++)
		free(vec[i]);
	free(vec);
	vec = NULL;
	free(lg.stored);
	lg.stored = NULL;
	return 0;
}

static int unhex(const char *s, uint8_t *out, size_t max, size_t *n)
{
	size_t len = strlen(s);

	*n = 0;
	if (strcmp(s, "-") == 0)
		return 0;
	if (len % 2 || len / 2 > max)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

static void tree_hash_of(int64_t n, uint8_t out[HS])
{
	char err[256] = "";

	assert_int_equal(sumdb_tlog_tree_hash(n, &log_reader, out, err, sizeof(err)), 0);
}

static void record_hash_of(int64_t n, uint8_t out[HS])
{
	char data[64], err[128];

	record_data(n, data, sizeof(data));
	assert_int_equal(sumdb_tlog_record_hash(data, strlen(data), out, err, sizeof(err)), 0);
}

/* ---- stored hashes --------------------------------------------------------- */

static void test_stored(void **state)
{
	unsigned checked = 0;

	(void)state;
	for (size_t v = 0; v < nvec; v++) {
		int64_t a, b, c;
		char hex[80];

		if (sscanf(vec[v], "stored %" SCNd64 " %" SCNd64 " %64s", &a, &b, hex) == 3) {
			uint8_t want[HS], got[HS];
			size_t n;
			unsigned int dl;

			assert_int_equal(lg.count, b);
			assert_int_equal(sumdb_tlog_stored_hash_count(a), b);
			assert_int_equal(unhex(hex, want, HS, &n), 0);
			assert_true(EVP_Digest(lg.stored, (size_t)lg.count * HS, got, &dl,
			                       EVP_sha256(), NULL));
			assert_memory_equal(got, want, HS);
			checked++;
		} else if (sscanf(vec[v], "count %" SCNd64 " %" SCNd64, &a, &b) == 2) {
			assert_int_equal(sumdb_tlog_stored_hash_count(a), b);
			checked++;
		} else if (sscanf(vec[v], "split %" SCNd64 " %" SCNd64 " %" SCNd64, &a, &b, &c) ==
		           3) {
			int level;
			int64_t n;

			assert_int_equal(sumdb_tlog_split_stored_hash_index(a, &level, &n), 0);
			assert_int_equal(level, b);
			assert_int_equal(n, c);
			assert_int_equal(sumdb_tlog_stored_hash_index(level, n), a);
			checked++;
		}
	}
	assert_true(checked > 20);
	/* Every index of the log splits and joins back. */
	for (int64_t x = 0; x < lg.count; x++) {
		int level;
		int64_t n;

		assert_int_equal(sumdb_tlog_split_stored_hash_index(x, &level, &n), 0);
		assert_int_equal(sumdb_tlog_stored_hash_index(level, n), x);
	}
	assert_int_equal(sumdb_tlog_stored_hash_index(-1, 0), -1);
	assert_int_equal(sumdb_tlog_stored_hash_index(0, -1), -1);
	assert_int_equal(sumdb_tlog_stored_hash_index(63, 0), -1);
	assert_int_equal(sumdb_tlog_stored_hash_index(0, SUMDB_TLOG_MAX_N), -1);
	assert_true(sumdb_tlog_stored_hash_index(0, SUMDB_TLOG_MAX_N - 1) > 0);
	assert_int_equal(sumdb_tlog_stored_hash_count(-1), -1);
	assert_int_equal(sumdb_tlog_stored_hash_count(SUMDB_TLOG_MAX_N + 1), -1);
	{
		int level;
		int64_t n;

		assert_int_equal(sumdb_tlog_split_stored_hash_index(-1, &level, &n), -1);
		assert_int_equal(sumdb_tlog_split_stored_hash_index(INT64_MAX, &level, &n), -1);
	}
}

/* ---- tree hashes --------------------------------------------------------------- */

static void test_tree_hash(void **state)
{
	unsigned checked = 0;
	char err[256];
	uint8_t got[HS];

	(void)state;
	for (size_t v = 0; v < nvec; v++) {
		int64_t n;
		char hex[80];
		uint8_t want[HS];
		size_t len;

		if (sscanf(vec[v], "tree %" SCNd64 " %64s", &n, hex) != 2)
			continue;
		assert_int_equal(unhex(hex, want, HS, &len), 0);
		tree_hash_of(n, got);
		assert_memory_equal(got, want, HS);
		checked++;
	}
	assert_true(checked >= 30);
	assert_int_equal(sumdb_tlog_tree_hash(-1, &log_reader, got, err, sizeof(err)), -1);
	/* The reader's error ends the computation with that error. */
	assert_int_equal(sumdb_tlog_tree_hash(RECORDS + 1, &log_reader, got, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "test: no stored hash"));
}

/* ---- record proofs -------------------------------------------------------------- */

#define expect_record_fail(p, plen, t, th, n, h)                                                   \
	expect_record_fail_at(__LINE__, p, plen, t, th, n, h)

static void expect_record_fail_at(int line, uint8_t p[][HS], size_t plen, int64_t t,
                                  const uint8_t *th, int64_t n, const uint8_t *h)
{
	char err[256] = "";

	if (sumdb_tlog_check_record((const uint8_t(*)[HS])p, plen, t, th, n, h, NULL, 0) == 0)
		fail_msg("line %d: proof accepted: t=%" PRId64 " n=%" PRId64 " plen=%zu", line, t,
		         n, plen);
	assert_int_equal(
	    sumdb_tlog_check_record((const uint8_t(*)[HS])p, plen, t, th, n, h, err, sizeof(err)),
	    -1);
	assert_true(strcmp(err, "invalid transparency proof") == 0 ||
	            strcmp(err, "tlog: invalid inputs in CheckRecord") == 0);
}

static unsigned tampered;

static void test_record_proofs(void **state)
{
	uint8_t want[SUMDB_TLOG_PROOF_MAX + 1][HS], got[SUMDB_TLOG_PROOF_MAX][HS];
	unsigned checked = 0;

	(void)state;
	for (size_t v = 0; v < nvec; v++) {
		int64_t t, n;
		char hex[4300], err[256] = "";
		uint8_t th[HS], h[HS], tmp[HS];
		size_t len, plen, wl;

		if (sscanf(vec[v], "rproof %" SCNd64 " %" SCNd64 " %4200s", &t, &n, hex) != 3)
			continue;
		assert_int_equal(unhex(hex, &want[0][0], sizeof(want), &len), 0);
		wl = len / HS;
		assert_int_equal(
		    sumdb_tlog_prove_record(t, n, &log_reader, got, &plen, err, sizeof(err)), 0);
		assert_int_equal(plen, wl);
		if (wl)
			assert_memory_equal(got, want, len);
		tree_hash_of(t, th);
		record_hash_of(n, h);
		assert_int_equal(sumdb_tlog_check_record((const uint8_t(*)[HS])want, wl, t, th, n,
		                                         h, err, sizeof(err)),
		                 0);
		checked++;

		/* Tampered variants, each must fail. */
		for (size_t i = 0; i < wl; i++) {
			for (int bit = 0; bit < 256; bit += 85) {
				want[i][bit / 8] ^= (uint8_t)(1 << (bit % 8));
				expect_record_fail(want, wl, t, th, n, h);
				want[i][bit / 8] ^= (uint8_t)(1 << (bit % 8));
				tampered++;
			}
		}
		for (size_t i = 0; i + 1 < wl; i++) {
			if (memcmp(want[i], want[i + 1], HS) == 0)
				continue;
			memcpy(tmp, want[i], HS);
			memcpy(want[i], want[i + 1], HS);
			memcpy(want[i + 1], tmp, HS);
			expect_record_fail(want, wl, t, th, n, h);
			memcpy(want[i + 1], want[i], HS);
			memcpy(want[i], tmp, HS);
			tampered++;
		}
		if (n + 1 < t) {
			uint8_t h2[HS];

			record_hash_of(n + 1, h2);
			expect_record_fail(want, wl, t, th, n + 1, h); /* wrong n */
			expect_record_fail(want, wl, t, th, n, h2);    /* wrong record */
			tampered += 2;
		}
		if (n > 0) {
			expect_record_fail(want, wl, t, th, n - 1, h);
			tampered++;
		}
		/* Wrong N: the proof against the other tree's real hash. (With
		 * the same hash it may pass: N only shapes the proof, and a
		 * neighbouring N often has the same shape.) */
		if (t + 1 <= RECORDS) {
			uint8_t th2[HS];

			tree_hash_of(t + 1, th2);
			expect_record_fail(want, wl, t + 1, th2, n, h);
			tampered++;
		}
		if (t - 1 > n) {
			uint8_t th2[HS];

			tree_hash_of(t - 1, th2);
			expect_record_fail(want, wl, t - 1, th2, n, h);
			tampered++;
		}
		memcpy(tmp, th, HS);
		tmp[HS - 1] ^= 0x80;
		expect_record_fail(want, wl, t, tmp, n, h); /* wrong tree hash */
		if (wl > 0)
			expect_record_fail(want, wl - 1, t, th, n, h); /* dropped hash */
		memcpy(want[wl], th, HS);
		expect_record_fail(want, wl + 1, t, th, n, h); /* extra hash */
		expect_record_fail(want, wl, t, th, t, h);     /* n out of range */
		expect_record_fail(want, wl, t, th, -1, h);
		tampered += 6;
	}
	assert_true(checked >= 150);
	{
		char err[256] = "";
		size_t plen = 99;

		assert_int_equal(
		    sumdb_tlog_prove_record(5, 5, &log_reader, got, &plen, err, sizeof(err)), -1);
		assert_string_equal(err, "tlog: invalid inputs in ProveRecord");
		assert_int_equal(plen, 0);
		assert_int_equal(
		    sumdb_tlog_check_record(NULL, 0, 0, want[0], 0, want[0], err, sizeof(err)), -1);
		assert_string_equal(err, "tlog: invalid inputs in CheckRecord");
		/* Huge trees: the checker runs out of proof, never of stack. */
		assert_int_equal(sumdb_tlog_check_record((const uint8_t(*)[HS])want, 3, INT64_MAX,
		                                         want[0], INT64_MAX - 1, want[1], err,
		                                         sizeof(err)),
		                 -1);
		assert_string_equal(err, "invalid transparency proof");
	}
}

/* ---- tree proofs --------------------------------------------------------------- */

#define expect_tree_fail(p, plen, t, th, n, h) expect_tree_fail_at(__LINE__, p, plen, t, th, n, h)

static void expect_tree_fail_at(int line, uint8_t p[][HS], size_t plen, int64_t t,
                                const uint8_t *th, int64_t n, const uint8_t *h)
{
	char err[256] = "";

	if (sumdb_tlog_check_tree((const uint8_t(*)[HS])p, plen, t, th, n, h, NULL, 0) == 0)
		fail_msg("line %d: proof accepted: t=%" PRId64 " n=%" PRId64 " plen=%zu", line, t,
		         n, plen);
	assert_int_equal(
	    sumdb_tlog_check_tree((const uint8_t(*)[HS])p, plen, t, th, n, h, err, sizeof(err)),
	    -1);
	assert_true(strcmp(err, "invalid transparency proof") == 0 ||
	            strcmp(err, "tlog: invalid inputs in CheckTree") == 0);
}

static void test_tree_proofs(void **state)
{
	uint8_t want[SUMDB_TLOG_PROOF_MAX + 1][HS], got[SUMDB_TLOG_PROOF_MAX][HS];
	unsigned checked = 0;

	(void)state;
	for (size_t v = 0; v < nvec; v++) {
		int64_t t, n;
		char hex[4300], err[256] = "";
		uint8_t th[HS], h[HS], tmp[HS];
		size_t len, plen, wl;

		if (sscanf(vec[v], "tproof %" SCNd64 " %" SCNd64 " %4200s", &t, &n, hex) != 3)
			continue;
		assert_int_equal(unhex(hex, &want[0][0], sizeof(want), &len), 0);
		wl = len / HS;
		assert_int_equal(
		    sumdb_tlog_prove_tree(t, n, &log_reader, got, &plen, err, sizeof(err)), 0);
		assert_int_equal(plen, wl);
		if (wl)
			assert_memory_equal(got, want, len);
		tree_hash_of(t, th);
		tree_hash_of(n, h);
		assert_int_equal(sumdb_tlog_check_tree((const uint8_t(*)[HS])want, wl, t, th, n, h,
		                                       err, sizeof(err)),
		                 0);
		checked++;

		for (size_t i = 0; i < wl; i++) {
			for (int bit = 0; bit < 256; bit += 85) {
				want[i][bit / 8] ^= (uint8_t)(1 << (bit % 8));
				expect_tree_fail(want, wl, t, th, n, h);
				want[i][bit / 8] ^= (uint8_t)(1 << (bit % 8));
				tampered++;
			}
		}
		for (size_t i = 0; i + 1 < wl; i++) {
			if (memcmp(want[i], want[i + 1], HS) == 0)
				continue;
			memcpy(tmp, want[i], HS);
			memcpy(want[i], want[i + 1], HS);
			memcpy(want[i + 1], tmp, HS);
			expect_tree_fail(want, wl, t, th, n, h);
			memcpy(want[i + 1], want[i], HS);
			memcpy(want[i], tmp, HS);
			tampered++;
		}
		if (n < t) {
			uint8_t h2[HS];

			/* Shrinking: the new tree offered as the old one. */
			expect_tree_fail(want, wl, n, h, t, th);
			tree_hash_of(n + 1, h2);
			expect_tree_fail(want, wl, t, th, n + 1, h); /* wrong n */
			expect_tree_fail(want, wl, t, th, n, h2);    /* wrong old hash */
			expect_tree_fail(want, wl, t, th, n, th);    /* old hash = new hash */
			if (t + 1 <= RECORDS) {
				uint8_t th2[HS];

				tree_hash_of(t + 1, th2); /* wrong N, with its own hash */
				expect_tree_fail(want, wl, t + 1, th2, n, h);
			}
			memcpy(tmp, th, HS);
			tmp[0] ^= 0x01;
			expect_tree_fail(want, wl, t, tmp, n, h); /* wrong new hash */
			if (wl > 0)
				expect_tree_fail(want, wl - 1, t, th, n, h);
			tampered += 7;
		}
		if (n > 1) {
			expect_tree_fail(want, wl, t, th, n - 1, h);
			tampered++;
		}
		memcpy(want[wl], th, HS);
		expect_tree_fail(want, wl + 1, t, th, n, h); /* extra hash */
		expect_tree_fail(want, wl, t, th, 0, h);     /* n out of range */
		expect_tree_fail(want, wl, t, th, t + 1, h);
		tampered += 3;
	}
	assert_true(checked >= 150);
	{
		char err[256] = "";
		size_t plen = 99;

		assert_int_equal(
		    sumdb_tlog_prove_tree(5, 6, &log_reader, got, &plen, err, sizeof(err)), -1);
		assert_string_equal(err, "tlog: invalid inputs in ProveTree");
		assert_int_equal(
		    sumdb_tlog_prove_tree(5, 0, &log_reader, got, &plen, err, sizeof(err)), -1);
		assert_int_equal(
		    sumdb_tlog_check_tree(NULL, 0, 5, want[0], 6, want[0], err, sizeof(err)), -1);
		assert_string_equal(err, "tlog: invalid inputs in CheckTree");
		assert_int_equal(sumdb_tlog_check_tree((const uint8_t(*)[HS])want, 5, INT64_MAX,
		                                       want[0], INT64_MAX / 3, want[1], err,
		                                       sizeof(err)),
		                 -1);
		assert_string_equal(err, "invalid transparency proof");
	}
	print_message("tlog: %u tampered proofs refused\n", tampered);
}

/* ---- tile paths ------------------------------------------------------------------ */

static void test_tile_paths(void **state)
{
	unsigned checked = 0;

	(void)state;
	for (size_t v = 0; v < nvec; v++) {
		struct sumdb_tlog_tile t, p;
		char path[200], buf[SUMDB_TLOG_PATH_MAX], err[256];
		int64_t x;
		int len;

		if (sscanf(vec[v], "path %d %d %" SCNd64 " %" SCNd64 " %199s", &t.h, &t.l, &t.n,
		           &t.w, path) == 5) {
		} else if (sscanf(vec[v], "tfi %d %" SCNd64 " %d %d %" SCNd64 " %" SCNd64 " %199s",
		                  &p.h, &x, &t.h, &t.l, &t.n, &t.w, path) == 7) {
			assert_int_equal(sumdb_tlog_tile_for_index(p.h, x, &p, err, sizeof(err)),
			                 0);
			assert_int_equal(p.h, t.h);
			assert_int_equal(p.l, t.l);
			assert_int_equal(p.n, t.n);
			assert_int_equal(p.w, t.w);
		} else {
			continue;
		}
		len = sumdb_tlog_tile_path(&t, buf, sizeof(buf));
		assert_int_equal(len, (int)strlen(path));
		assert_string_equal(buf, path);
		assert_int_equal(
		    sumdb_tlog_parse_tile_path(path, strlen(path), &p, err, sizeof(err)), 0);
		assert_true(p.h == t.h && p.l == t.l && p.n == t.n && p.w == t.w);
		/* Too small a buffer is refused, not cut. */
		assert_int_equal(sumdb_tlog_tile_path(&t, buf, (size_t)len), -1);
		checked++;
	}
	assert_true(checked >= 80);
}

static void test_tile_path_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    "tile",
	    "tile/8/0",
	    "tile/8/0/",
	    "tiles/8/0/000",
	    "Tile/8/0/000",
	    "/tile/8/0/000",
	    "tile/8/0/000/",
	    "tile//0/000",
	    "tile/0/0/000",  /* H < 1 */
	    "tile/31/0/000", /* H > 30 */
	    "tile/-1/0/000",
	    "tile/08/0/000", /* leading zero */
	    "tile/+8/0/000", /* sign */
	    "tile/8/-1/000", /* L < 0 */
	    "tile/8/01/000",
	    "tile/8/+0/000",
	    "tile/8/-0/000",
	    "tile/8/2147483648/000", /* L beyond int (Go would take it) */
	    "tile/8/99999999999999999999/000",
	    "tile/8/Data/000",
	    "tile/8/data/000.p/0",
	    "tile/8/0/0", /* not 3 digits */
	    "tile/8/0/00",
	    "tile/8/0/0000",
	    "tile/8/0/1000",
	    "tile/8/0/x000", /* last element with x */
	    "tile/8/0/x001",
	    "tile/8/0/001/000",  /* inner element without x */
	    "tile/8/0/x000/001", /* leading zero group */
	    "tile/8/0/xx01/000",
	    "tile/8/0/X001/000",
	    "tile/8/0/x1000/000",
	    "tile/8/0/x-01/000",
	    "tile/8/0/x+01/000",
	    "tile/8/0/+01",
	    "tile/8/0/-01",
	    "tile/8/0/ 01",
	    "tile/8/0/000.p",
	    "tile/8/0/000.p/",
	    "tile/8/0/000.p/0",   /* W < 1 */
	    "tile/8/0/000.p/256", /* W = 2^H: must be written as a full tile */
	    "tile/8/0/000.p/257",
	    "tile/8/0/000.p/-1",
	    "tile/8/0/000.p/+5",
	    "tile/8/0/000.p/05",
	    "tile/8/0/000.p/5/",
	    "tile/8/0/000.p/5/6",
	    "tile/8/0/000.p/x5",
	    "tile/1/0/000.p/2",
	    "tile/8/0/000.P/5",
	    "tile/8/0/000.q/5",
	    "tile/8/0/x001.p/5",
	    "tile/8/0/x009/x223/x372/x036/x854/x775/808", /* 2^63 */
	    "tile/8/0/x009/x223/x372/x036/x854/x775/x807/000",
	    "tile/8/0/x001/x000/x000/x000/x000/x000/x000/000",
	    "tile/8/0/000\n",
	    "tile/8/0/000 ",
	    "tile/8/0/00\xff",
	};
	struct sumdb_tlog_tile t;
	char err[256], nul[] = "tile/8/0/000\0";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (sumdb_tlog_parse_tile_path(bad[i], strlen(bad[i]), &t, err, sizeof(err)) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_true(strncmp(err, "malformed tile path \"", 21) == 0);
		assert_null(strchr(err, '\n'));
	}
	assert_int_equal(sumdb_tlog_parse_tile_path(nul, sizeof(nul) - 1, &t, err, sizeof(err)),
	                 -1);
	assert_int_equal(sumdb_tlog_parse_tile_path("tile/8/0/000", 12, &t, err, sizeof(err)), 0);
	assert_int_equal(
	    sumdb_tlog_parse_tile_path("tile/8/2147483647/000", 21, &t, err, sizeof(err)), 0);
	assert_int_equal(t.l, 2147483647);
	assert_int_equal(
	    sumdb_tlog_parse_tile_path("tile/30/0/000.p/1073741823", 26, &t, err, sizeof(err)), 0);
	assert_int_equal(t.w, 1073741823);
	/* The tile path parser takes a length, not a NUL. */
	assert_int_equal(sumdb_tlog_parse_tile_path("tile/8/0/0001", 12, &t, err, sizeof(err)), 0);
	/* Invalid tiles have no path. */
	{
		char buf[SUMDB_TLOG_PATH_MAX];
		struct sumdb_tlog_tile inv[] = {
		    {0, 0, 0, 1},  {31, 0, 0, 1}, {8, -2, 0, 1},
		    {8, 0, -1, 1}, {8, 0, 0, 0},  {8, 0, 0, 257},
		};

		for (size_t i = 0; i < sizeof(inv) / sizeof(inv[0]); i++)
			assert_int_equal(sumdb_tlog_tile_path(&inv[i], buf, sizeof(buf)), -1);
	}
}

/* ---- tiles for proofs ------------------------------------------------------------ */

/* tlog's ReadTileData over the log. */
static uint8_t *tile_data(const struct sumdb_tlog_tile *t, size_t *len)
{
	uint8_t *d = malloc((size_t)t->w * HS);

	for (int64_t i = 0; i < t->w; i++) {
		int64_t x = sumdb_tlog_stored_hash_index(t->h * t->l, (t->n << t->h) + i);

		assert_true(x >= 0 && x < lg.count);
		memcpy(d + i * HS, lg.stored[x], HS);
	}
	*len = (size_t)t->w * HS;
	return d;
}

static void test_tiles(void **state)
{
	unsigned checked = 0, flips = 0;

	(void)state;
	for (size_t v = 0; v < nvec; v++) {
		int h, pos;
		int64_t tn, idx[SUMDB_TLOG_INDEX_MAX];
		size_t nidx = 0, ntiles, nwant = 0;
		struct sumdb_tlog_tile tiles[64], want[64];
		uint8_t *data[64], th[HS], got[HS];
		size_t lens[64];
		char err[256] = "", *s, *tok, *save;
		struct sumdb_tlog_tileset set;
		struct sumdb_tlog_reader r = {sumdb_tlog_tileset_read, &set};

		if (sscanf(vec[v], "tiles %d %" SCNd64 " %n", &h, &tn, &pos) != 2)
			continue;
		s = strdup(vec[v] + pos);
		tok = strtok_r(s, " ", &save);
		for (char *q = strtok_r(tok, ",", &tok); q; q = strtok_r(NULL, ",", &tok))
			idx[nidx++] = strtoll(q, NULL, 10);
		tok = strtok_r(NULL, " ", &save);
		for (char *q = strtok_r(tok, ",", &tok); q; q = strtok_r(NULL, ",", &tok)) {
			assert_int_equal(sumdb_tlog_parse_tile_path(q, strlen(q), &want[nwant++],
			                                            err, sizeof(err)),
			                 0);
		}
		free(s);
		assert_int_equal(sumdb_tlog_tiles_for_indexes(h, tn, idx, nidx, tiles, 64, &ntiles,
		                                              err, sizeof(err)),
		                 0);
		assert_int_equal(ntiles, nwant);
		for (size_t i = 0; i < ntiles; i++)
			assert_memory_equal(&tiles[i], &want[i], sizeof(tiles[i]));
		for (size_t i = 0; i < ntiles; i++)
			data[i] = tile_data(&tiles[i], &lens[i]);
		set = (struct sumdb_tlog_tileset){h,    tn,    tiles, (const uint8_t *const *)data,
		                                  lens, ntiles};
		tree_hash_of(tn, th);
		assert_int_equal(sumdb_tlog_check_tiles(&set, th, err, sizeof(err)), 0);
		for (size_t i = 0; i < nidx; i++) {
			assert_int_equal(
			    sumdb_tlog_tileset_read(&set, idx[i], got, err, sizeof(err)), 0);
			assert_memory_equal(got, lg.stored[idx[i]], HS);
		}
		/* The tiles alone prove: tree hash, and a record proof. */
		assert_int_equal(sumdb_tlog_tree_hash(tn, &r, got, err, sizeof(err)), 0);
		assert_memory_equal(got, th, HS);
		/* A flipped bit anywhere in any tile is caught. */
		for (size_t i = 0; i < ntiles; i++) {
			size_t at[2] = {0, lens[i] - 1};

			for (int j = 0; j < 2; j++) {
				data[i][at[j]] ^= 0x10;
				assert_int_equal(sumdb_tlog_check_tiles(&set, th, err, sizeof(err)),
				                 -1);
				data[i][at[j]] ^= 0x10;
				flips++;
			}
		}
		/* A short tile, a wrong tree hash. */
		lens[0] -= HS;
		assert_int_equal(sumdb_tlog_check_tiles(&set, th, err, sizeof(err)), -1);
		lens[0] += HS;
		th[5] ^= 1;
		assert_int_equal(sumdb_tlog_check_tiles(&set, th, err, sizeof(err)), -1);
		assert_string_equal(err, "downloaded inconsistent tile");
		for (size_t i = 0; i < ntiles; i++)
			free(data[i]);
		checked++;
	}
	assert_true(checked >= 100);
	print_message("tlog: %u tile lists, %u tile bit flips refused\n", checked, flips);
	{
		struct sumdb_tlog_tile out[4];
		size_t n;
		int64_t x = 5000;
		char err[256];

		assert_int_equal(
		    sumdb_tlog_tiles_for_indexes(8, 1000, &x, 1, out, 4, &n, err, sizeof(err)), -1);
		assert_string_equal(err, "indexes not in tree");
		assert_int_equal(
		    sumdb_tlog_tiles_for_indexes(0, 1000, &x, 0, out, 4, &n, err, sizeof(err)), -1);
		assert_int_equal(
		    sumdb_tlog_tiles_for_indexes(8, 0, &x, 0, out, 4, &n, err, sizeof(err)), -1);
		x = 0;
		assert_int_equal(
		    sumdb_tlog_tiles_for_indexes(1, 1000, &x, 1, out, 4, &n, err, sizeof(err)),
		    -1); /* more than cap */
	}
}

static void test_hash_from_tile(void **state)
{
	struct sumdb_tlog_tile t = {8, 0, 0, 256}, t2;
	uint8_t *d, got[HS];
	size_t len;
	char err[256];

	(void)state;
	d = tile_data(&t, &len);
	/* Every stored hash under the first full tile, from the tile. */
	for (int64_t x = 0; x < lg.count; x++) {
		assert_int_equal(sumdb_tlog_tile_for_index(8, x, &t2, err, sizeof(err)), 0);
		if (t2.l != 0 || t2.n != 0)
			continue;
		assert_int_equal(sumdb_tlog_hash_from_tile(&t, d, len, x, got, err, sizeof(err)),
		                 0);
		assert_memory_equal(got, lg.stored[x], HS);
	}
	assert_int_equal(sumdb_tlog_hash_from_tile(&t, d, len - 1, 0, got, err, sizeof(err)), -1);
	assert_string_equal(err, "data len 8191 too short for tile tile/8/0/000");
	t2 = (struct sumdb_tlog_tile){8, 0, 0, 3};
	assert_int_equal(sumdb_tlog_hash_from_tile(&t2, d, len, 6, got, err, sizeof(err)), -1);
	assert_string_equal(err, "index 6 is in tile/8/0/000.p/4 not tile/8/0/000.p/3");
	t2 = (struct sumdb_tlog_tile){8, -1, 0, 3};
	assert_int_equal(sumdb_tlog_hash_from_tile(&t2, d, len, 0, got, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid tile tile/8/data/000.p/3");
	free(d);
	assert_int_equal(sumdb_tlog_tile_for_index(0, 0, &t2, err, sizeof(err)), -1);
	assert_int_equal(sumdb_tlog_tile_for_index(8, -1, &t2, err, sizeof(err)), -1);
}

/* A log of any size whose records are all the same: every complete subtree
 * of a level has the same hash, so stored hash x is level_hash[level of x]. A
 * real Merkle tree, small enough to describe, huge enough to stress the index
 * arithmetic and the proof lengths. */
static uint8_t level_hash[63][HS];

static int same_read(void *arg, int64_t index, uint8_t out[HS], char *err, size_t errlen)
{
	int level;
	int64_t n;

	(void)arg;
	if (sumdb_tlog_split_stored_hash_index(index, &level, &n) < 0) {
		snprintf(err, errlen, "test: bad index %" PRId64, index);
		return -1;
	}
	memcpy(out, level_hash[level], HS);
	return 0;
}

static void test_huge_trees(void **state)
{
	static const int64_t sizes[] = {SUMDB_TLOG_MAX_N, SUMDB_TLOG_MAX_N - 1,
	                                ((int64_t)1 << 59) + 12345, (SUMDB_TLOG_MAX_N / 3) * 2 + 1,
	                                123456789012345};
	const struct sumdb_tlog_reader r = {same_read, NULL};
	uint8_t p[SUMDB_TLOG_PROOF_MAX][HS], th[HS], h[HS];
	int64_t idx[SUMDB_TLOG_INDEX_MAX];
	size_t plen, nidx, most = 0;
	char err[256] = "";

	(void)state;
	record_hash_of(7, level_hash[0]);
	for (int l = 1; l < 63; l++)
		assert_int_equal(sumdb_tlog_node_hash(level_hash[l - 1], level_hash[l - 1],
		                                      level_hash[l], err, sizeof(err)),
		                 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int64_t t = sizes[i], ns[] = {0, 1, t / 3, t / 2, t - 2, t - 1};

		assert_int_equal(sumdb_tlog_tree_hash(t, &r, th, err, sizeof(err)), 0);
		for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
			int64_t n = ns[j];

			assert_int_equal(sumdb_tlog_record_proof_indexes(t, n, idx,
			                                                 SUMDB_TLOG_INDEX_MAX,
			                                                 &nidx, err, sizeof(err)),
			                 0);
			most = nidx > most ? nidx : most;
			assert_int_equal(
			    sumdb_tlog_prove_record(t, n, &r, p, &plen, err, sizeof(err)), 0);
			memcpy(h, level_hash[0], HS);
			assert_int_equal(sumdb_tlog_check_record((const uint8_t(*)[HS])p, plen, t,
			                                         th, n, h, err, sizeof(err)),
			                 0);
			if (n == 0)
				continue;
			assert_int_equal(sumdb_tlog_tree_proof_indexes(t, n, idx,
			                                               SUMDB_TLOG_INDEX_MAX, &nidx,
			                                               err, sizeof(err)),
			                 0);
			most = nidx > most ? nidx : most;
			assert_int_equal(
			    sumdb_tlog_prove_tree(t, n, &r, p, &plen, err, sizeof(err)), 0);
			assert_int_equal(sumdb_tlog_tree_hash(n, &r, h, err, sizeof(err)), 0);
			assert_int_equal(sumdb_tlog_check_tree((const uint8_t(*)[HS])p, plen, t, th,
			                                       n, h, err, sizeof(err)),
			                 0);
		}
	}
	assert_true(most <= SUMDB_TLOG_INDEX_MAX);
	print_message("tlog: at most %zu stored hashes per proof at 2^60 records\n", most);
	assert_int_equal(sumdb_tlog_tree_hash(SUMDB_TLOG_MAX_N + 1, &r, th, err, sizeof(err)), -1);
	assert_int_equal(
	    sumdb_tlog_prove_record(SUMDB_TLOG_MAX_N + 1, 0, &r, p, &plen, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stored),        cmocka_unit_test(test_tree_hash),
	    cmocka_unit_test(test_record_proofs), cmocka_unit_test(test_tree_proofs),
	    cmocka_unit_test(test_tile_paths),    cmocka_unit_test(test_tile_path_rejects),
	    cmocka_unit_test(test_tiles),         cmocka_unit_test(test_hash_from_tile),
	    cmocka_unit_test(test_huge_trees),
	};

	return cmocka_run_group_tests_name("tlog", tests, setup, teardown);
}
