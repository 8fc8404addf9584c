/*
 * fuzz_tlog — libFuzzer target for sumdb/tlog.c.
 *
 * The first byte picks what the rest feeds:
 *   0  a tile path: if it parses, it must print back byte for byte; any
 *      error is one printable line;
 *   1  proof checks with arbitrary sizes, indexes and hashes (huge trees,
 *      any proof length): must return, never crash;
 *   2  a real proof from a small log, with input bytes XORed into it: it
 *      must verify exactly when the bytes are unchanged (anything else would
 *      be a SHA-256 collision);
 *   3  tile lists for arbitrary indexes and trees, checked against tile data
 *      taken from the input, and read back;
 *   4  stored hash numbering and tiles: split/join and path/parse round
 *      trips for arbitrary indexes.
 * A broken invariant aborts, which libFuzzer reports with the input saved.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -D_GNU_SOURCE \
 *       sumdb/tlog.c proxy/errbuf.c t/fuzz/fuzz_tlog.c -lcrypto -o fuzz_tlog
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sumdb/tlog.h"

#define HS SUMDB_TLOG_HASH_SIZE
#define LOG_N 300

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static int one_line(const char *s)
{
	if (s[0] == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	}
	return 1;
}

/* A small real log, built once. */
static uint8_t stored[4 * LOG_N][HS];
static int64_t nstored;

static int log_read(void *arg, int64_t index, uint8_t out[HS], char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	if (index < 0 || index >= nstored)
		return -1;
	memcpy(out, stored[index], HS);
	return 0;
}

static const struct sumdb_tlog_reader reader = {log_read, NULL};

static void build_log(void)
{
	if (nstored)
		return;
	for (int64_t n = 0; n < LOG_N; n++) {
		uint8_t h[HS];
		char rec[2] = {(char)n, (char)(n >> 8)};

		CHECK(sumdb_tlog_record_hash(rec, sizeof(rec), h, NULL, 0) == 0);
		memcpy(stored[nstored++], h, HS);
		for (int i = 0; ((uint64_t)(n + 1) >> i & 1) == 0; i++) {
			int64_t x = sumdb_tlog_stored_hash_index(i, (n >> i) - 1);

			CHECK(sumdb_tlog_node_hash(stored[x], h, h, NULL, 0) == 0);
			memcpy(stored[nstored++], h, HS);
		}
	}
}

static int64_t take64(const uint8_t **p, size_t *n)
{
	uint64_t v = 0;

	for (int i = 0; i < 8 && *n > 0; i++, (*p)++, (*n)--)
		v = v << 8 | **p;
	return (int64_t)v;
}

static void fuzz_path(const uint8_t *d, size_t n)
{
	struct sumdb_tlog_tile t;
	char err[600], buf[SUMDB_TLOG_PATH_MAX];
	int len;

	err[0] = '\0';
	if (sumdb_tlog_parse_tile_path((const char *)d, n, &t, err, sizeof(err)) < 0) {
		CHECK(one_line(err));
		CHECK(strncmp(err, "malformed tile path \"", 21) == 0);
		return;
	}
	len = sumdb_tlog_tile_path(&t, buf, sizeof(buf));
	CHECK(len >= 0 && (size_t)len == n && memcmp(buf, d, n) == 0);
	CHECK(t.h >= 1 && t.h <= 30 && t.l >= -1 && t.n >= 0 && t.w >= 1 &&
	      t.w <= ((int64_t)1 << t.h));
}

static void fuzz_check_raw(const uint8_t *d, size_t n)
{
	uint8_t th[HS] = {0}, h[HS] = {0}, proof[80][HS];
	int64_t t = take64(&d, &n), m = take64(&d, &n);
	size_t plen;
	char err[256];

	memcpy(th, d, n < HS ? n : HS);
	memcpy(h, d + (n > 2 * HS ? HS : 0), n > 2 * HS ? HS : 0);
	plen = n / HS;
	if (plen > 80)
		plen = 80;
	memset(proof, 0, sizeof(proof));
	memcpy(proof, d, plen * HS);
	err[0] = '\0';
	if (sumdb_tlog_check_record((const uint8_t(*)[HS])proof, plen, t, th, m, h, err,
	                            sizeof(err)) < 0)
		CHECK(one_line(err));
	err[0] = '\0';
	if (sumdb_tlog_check_tree((const uint8_t(*)[HS])proof, plen, t, th, m, h, err,
	                          sizeof(err)) < 0)
		CHECK(one_line(err));
}

static void fuzz_tamper(const uint8_t *d, size_t n)
{
	uint8_t proof[SUMDB_TLOG_PROOF_MAX + 1][HS], th[HS], h[HS];
	int64_t t, m;
	size_t plen, use;
	int tree, changed = 0, rc;
	char err[256];

	if (n < 3)
		return;
	build_log();
	tree = d[0] & 1;
	t = 1 + (int64_t)(((unsigned)d[1] << 8 | d[2]) % LOG_N);
	m = tree ? 1 + (int64_t)(d[0] >> 1) % t : (int64_t)(d[0] >> 1) % t;
	d += 3;
	n -= 3;
	CHECK(sumdb_tlog_tree_hash(t, &reader, th, err, sizeof(err)) == 0);
	if (tree) {
		CHECK(sumdb_tlog_prove_tree(t, m, &reader, proof, &plen, err, sizeof(err)) == 0);
		CHECK(sumdb_tlog_tree_hash(m, &reader, h, err, sizeof(err)) == 0);
	} else {
		CHECK(sumdb_tlog_prove_record(t, m, &reader, proof, &plen, err, sizeof(err)) == 0);
		memcpy(h, stored[sumdb_tlog_stored_hash_index(0, m)], HS);
	}
	use = n < plen * HS ? n : plen * HS;
	for (size_t i = 0; i < use; i++) {
		proof[i / HS][i % HS] ^= d[i];
		changed |= d[i];
	}
	rc = tree ? sumdb_tlog_check_tree((const uint8_t(*)[HS])proof, plen, t, th, m, h, err,
	                                  sizeof(err))
	          : sumdb_tlog_check_record((const uint8_t(*)[HS])proof, plen, t, th, m, h, err,
	                                    sizeof(err));
	CHECK(rc == (changed ? -1 : 0));
}

static void fuzz_tiles(const uint8_t *d, size_t n)
{
	struct sumdb_tlog_tile tiles[64];
	const uint8_t *data[64];
	size_t lens[64], ntiles, nidx = 0, off = 0;
	int64_t idx[8], tn;
	uint8_t th[HS] = {0}, out[HS];
	struct sumdb_tlog_tileset set;
	char err[256];
	int h;

	if (n < 2)
		return;
	h = d[0] % 32;
	d++;
	n--;
	tn = take64(&d, &n) & (SUMDB_TLOG_MAX_N * 2 - 1);
	while (nidx < 8 && n >= 8 && (d[0] & 0x80) == 0)
		idx[nidx++] = take64(&d, &n) % (2 * tn + 3);
	err[0] = '\0';
	if (sumdb_tlog_tiles_for_indexes(h, tn, idx, nidx, tiles, 64, &ntiles, err, sizeof(err)) <
	    0) {
		CHECK(one_line(err));
		return;
	}
	CHECK(h >= 1 && h <= 30 && tn >= 1);
	for (size_t i = 0; i < ntiles; i++) {
		size_t want = (size_t)tiles[i].w * HS;

		CHECK(tiles[i].h == h && tiles[i].l >= 0 && tiles[i].n >= 0 && tiles[i].w >= 1 &&
		      tiles[i].w <= ((int64_t)1 << h));
		/* Data from the input (cut short when it runs out). */
		lens[i] = n - off < want ? n - off : want;
		data[i] = d + off;
		off += lens[i];
	}
	memcpy(th, d, n < HS ? n : HS);
	set = (struct sumdb_tlog_tileset){h, tn, tiles, data, lens, ntiles};
	err[0] = '\0';
	if (sumdb_tlog_check_tiles(&set, th, err, sizeof(err)) < 0)
		CHECK(one_line(err));
	for (size_t i = 0; i < nidx; i++) {
		err[0] = '\0';
		if (sumdb_tlog_tileset_read(&set, idx[i], out, err, sizeof(err)) < 0)
			CHECK(one_line(err));
	}
}

static void fuzz_numbers(const uint8_t *d, size_t n)
{
	int64_t x = take64(&d, &n);
	int level, h = n > 0 ? d[0] % 32 : 8;
	int64_t m;
	struct sumdb_tlog_tile t, p;
	char buf[SUMDB_TLOG_PATH_MAX], err[256];
	int len;

	if (sumdb_tlog_split_stored_hash_index(x, &level, &m) == 0)
		CHECK(sumdb_tlog_stored_hash_index(level, m) == x);
	err[0] = '\0';
	if (sumdb_tlog_tile_for_index(h, x, &t, err, sizeof(err)) < 0) {
		CHECK(one_line(err));
		return;
	}
	len = sumdb_tlog_tile_path(&t, buf, sizeof(buf));
	CHECK(len > 0);
	CHECK(sumdb_tlog_parse_tile_path(buf, (size_t)len, &p, err, sizeof(err)) == 0);
	CHECK(memcmp(&p, &t, sizeof(p)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_path(data + 1, size - 1);
		break;
	case 1:
		fuzz_check_raw(data + 1, size - 1);
		break;
	case 2:
		fuzz_tamper(data + 1, size - 1);
		break;
	case 3:
		fuzz_tiles(data + 1, size - 1);
		break;
	default:
		fuzz_numbers(data + 1, size - 1);
		break;
	}
	return 0;
}
