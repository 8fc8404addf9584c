/*
 * tlog — a port of golang.org/x/mod sumdb/tlog (tlog.go, tile.go) to pure C.
 *
 * The Go code builds proofs with recursive functions that append to slices.
 * Here the same recursions write into fixed arrays through small cursors:
 * a proof never needs more than SUMDB_TLOG_INDEX_MAX stored hashes (one
 * ragged right edge of at most 63 subtrees on each side of the path, plus the
 * path), so everything lives on the caller's stack and nothing is allocated.
 *
 * Arithmetic: Go lets int64 shifts and products wrap; C must not. Tree sizes
 * that feed stored-hash indexes are capped at SUMDB_TLOG_MAX_N (2^60), so
 * 2*n plus a level always fits; sizes are handled as uint64_t where Go would
 * shift, and shifts by 64 or more are spelled out (Go gives 0, C is
 * undefined). The proof checkers never compute an index, so they accept any
 * int64_t like Go's.
 */
#include "sumdb/tlog.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "proxy/errbuf.h"

#define HS SUMDB_TLOG_HASH_SIZE
#define PATH_BASE 1000

static const char proof_failed[] = "invalid transparency proof";

/* SHA-256 of nothing: the hash of the empty tree. */
static const uint8_t empty_hash[HS] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* ---- hashes --------------------------------------------------------------- */

static int node(const uint8_t *l, const uint8_t *r, uint8_t *out)
{
	uint8_t buf[1 + 2 * HS];
	unsigned int n = 0;

	buf[0] = 0x01;
	memcpy(buf + 1, l, HS);
	memcpy(buf + 1 + HS, r, HS);
	if (!EVP_Digest(buf, sizeof(buf), out, &n, EVP_sha256(), NULL) || n != HS)
		return -1;
	return 0;
}

int sumdb_tlog_record_hash(const void *data, size_t len, uint8_t out[SUMDB_TLOG_HASH_SIZE],
                           char *err, size_t errlen)
{
	static const uint8_t zero = 0x00;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, &zero, 1) &&
	     (len == 0 || EVP_DigestUpdate(ctx, data, len)) && EVP_DigestFinal_ex(ctx, out, &n) &&
	     n == HS;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		errbuf_set(err, errlen, "tlog: SHA-256 failed");
		return -1;
	}
	return 0;
}

int sumdb_tlog_node_hash(const uint8_t left[SUMDB_TLOG_HASH_SIZE],
                         const uint8_t right[SUMDB_TLOG_HASH_SIZE],
                         uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen)
{
	if (node(left, right, out) < 0) {
		errbuf_set(err, errlen, "tlog: SHA-256 failed");
		return -1;
	}
	return 0;
}

/* ---- stored hash numbering ------------------------------------------------ */

/* Largest power of two below n (n ≥ 2), or 1 for n = 1, with its log2
 * (tlog's maxpow2). */
static uint64_t maxpow2(uint64_t n, int *level)
{
	int l = 0;

	while (l < 62 && ((uint64_t)1 << (l + 1)) < n)
		l++;
	if (level)
		*level = l;
	return (uint64_t)1 << l;
}

/* StoredHashIndex without checks: level 0..62, (n+1) << level ≤ 2^61. */
static int64_t stored_index(int level, uint64_t n)
{
	uint64_t i = 0;

	for (int l = level; l > 0; l--)
		n = 2 * n + 1;
	for (; n > 0; n >>= 1)
		i += n;
	return (int64_t)(i + (uint64_t)level);
}

int64_t sumdb_tlog_stored_hash_index(int level, int64_t n)
{
	if (level < 0 || level > 62 || n < 0 ||
	    (uint64_t)n + 1 > ((uint64_t)SUMDB_TLOG_MAX_N >> level))
		return -1;
	return stored_index(level, (uint64_t)n);
}

int sumdb_tlog_split_stored_hash_index(int64_t index, int *level, int64_t *n)
{
	uint64_t m, at;

	if (index < 0 || index >= 2 * SUMDB_TLOG_MAX_N)
		return -1;
	/* Record m's hash is stored at about 2m; walk forward from index/2
	 * over the records whose hashes (and the subtrees they complete)
	 * come before index. */
	m = (uint64_t)index / 2;
	at = (uint64_t)stored_index(0, m);
	if (at > (uint64_t)index)
		return -1; /* cannot happen: stored_index(0, m) ≤ 2m */
	for (;;) {
		uint64_t x = at + 1 + (uint64_t)__builtin_ctzll(m + 1);

		if (x > (uint64_t)index)
			break;
		m++;
		at = x;
	}
	*level = (int)((uint64_t)index - at);
	*n = (int64_t)(m >> *level);
	/* Only the indexes sumdb_tlog_stored_hash_index hands out. */
	return sumdb_tlog_stored_hash_index(*level, *n) == index ? 0 : -1;
}

int64_t sumdb_tlog_stored_hash_count(int64_t n)
{
	uint64_t count, i;

	if (n < 0 || n > SUMDB_TLOG_MAX_N)
		return -1;
	if (n == 0)
		return 0;
	count = (uint64_t)stored_index(0, (uint64_t)n - 1) + 1;
	for (i = (uint64_t)n - 1; i & 1; i >>= 1)
		count++;
	return (int64_t)count;
}

/* ---- index lists and hash cursors ------------------------------------------ */

struct idx_list {
	int64_t *v;
	size_t len, cap;
	int full; /* an index did not fit */
};

static void idx_push(struct idx_list *l, int64_t x)
{
	if (l->len < l->cap)
		l->v[l->len++] = x;
	else
		l->full = 1;
}

/* subTreeIndex: the stored hashes of the complete subtrees covering
 * records [lo, hi), largest first. */
static void subtree_index(uint64_t lo, uint64_t hi, struct idx_list *l)
{
	while (lo < hi) {
		int level;
		uint64_t k = maxpow2(hi - lo + 1, &level);

		idx_push(l, stored_index(level, lo >> level));
		lo += k;
	}
}

static void leaf_proof_index(uint64_t lo, uint64_t hi, uint64_t n, struct idx_list *l)
{
	uint64_t k;

	if (lo + 1 == hi)
		return;
	k = maxpow2(hi - lo, NULL);
	if (n < lo + k) {
		leaf_proof_index(lo, lo + k, n, l);
		subtree_index(lo + k, hi, l);
	} else {
		subtree_index(lo, lo + k, l);
		leaf_proof_index(lo + k, hi, n, l);
	}
}

static void tree_proof_index(uint64_t lo, uint64_t hi, uint64_t n, struct idx_list *l)
{
	uint64_t k;

	if (n == hi) {
		if (lo != 0)
			subtree_index(lo, hi, l);
		return;
	}
	k = maxpow2(hi - lo, NULL);
	if (n <= lo + k) {
		tree_proof_index(lo, lo + k, n, l);
		subtree_index(lo + k, hi, l);
	} else {
		subtree_index(lo, lo + k, l);
		tree_proof_index(lo + k, hi, n, l);
	}
}

/* Hashes read for an index list, consumed in order by the builders. */
struct hash_cur {
	const uint8_t (*h)[HS];
	size_t pos, len;
};

/* subTreeHash: folds the next hashes (one per complete subtree of
 * [lo, hi)) into the hash of that range. */
static int subtree_hash(uint64_t lo, uint64_t hi, struct hash_cur *c, uint8_t out[HS])
{
	size_t num = 0;

	while (lo < hi) {
		lo += maxpow2(hi - lo + 1, NULL);
		num++;
	}
	if (num == 0 || c->len - c->pos < num)
		return -1;
	memcpy(out, c->h[c->pos + num - 1], HS);
	for (size_t i = num - 1; i-- > 0;) {
		if (node(c->h[c->pos + i], out, out) < 0)
			return -1;
	}
	c->pos += num;
	return 0;
}

struct proof_out {
	uint8_t (*p)[HS];
	size_t len;
};

static int proof_push(struct proof_out *p, const uint8_t h[HS])
{
	if (p->len >= SUMDB_TLOG_PROOF_MAX)
		return -1;
	memcpy(p->p[p->len++], h, HS);
	return 0;
}

static int leaf_proof(uint64_t lo, uint64_t hi, uint64_t n, struct hash_cur *c, struct proof_out *p)
{
	uint8_t th[HS];
	uint64_t k;

	if (lo + 1 == hi)
		return 0;
	k = maxpow2(hi - lo, NULL);
	if (n < lo + k) {
		if (leaf_proof(lo, lo + k, n, c, p) < 0 || subtree_hash(lo + k, hi, c, th) < 0)
			return -1;
	} else {
		if (subtree_hash(lo, lo + k, c, th) < 0 || leaf_proof(lo + k, hi, n, c, p) < 0)
			return -1;
	}
	return proof_push(p, th);
}

static int tree_proof(uint64_t lo, uint64_t hi, uint64_t n, struct hash_cur *c, struct proof_out *p)
{
	uint8_t th[HS];
	uint64_t k;

	if (n == hi) {
		if (lo == 0)
			return 0;
		if (subtree_hash(lo, hi, c, th) < 0)
			return -1;
		return proof_push(p, th);
	}
	k = maxpow2(hi - lo, NULL);
	if (n <= lo + k) {
		if (tree_proof(lo, lo + k, n, c, p) < 0 || subtree_hash(lo + k, hi, c, th) < 0)
			return -1;
	} else {
		if (subtree_hash(lo, lo + k, c, th) < 0 || tree_proof(lo + k, hi, n, c, p) < 0)
			return -1;
	}
	return proof_push(p, th);
}

static int index_result(struct idx_list *l, size_t *n_out, char *err, size_t errlen)
{
	if (l->full) {
		errbuf_set(err, errlen, "tlog: more than %zu stored hash indexes", l->cap);
		return -1;
	}
	*n_out = l->len;
	return 0;
}

int sumdb_tlog_tree_hash_indexes(int64_t n, int64_t *out, size_t cap, size_t *n_out, char *err,
                                 size_t errlen)
{
	struct idx_list l = {out, 0, cap, 0};

	if (n < 1 || n > SUMDB_TLOG_MAX_N) {
		errbuf_set(err, errlen, "tlog: invalid inputs in TreeHash");
		return -1;
	}
	subtree_index(0, (uint64_t)n, &l);
	return index_result(&l, n_out, err, errlen);
}

int sumdb_tlog_record_proof_indexes(int64_t t, int64_t n, int64_t *out, size_t cap, size_t *n_out,
                                    char *err, size_t errlen)
{
	struct idx_list l = {out, 0, cap, 0};

	if (t < 0 || n < 0 || n >= t || t > SUMDB_TLOG_MAX_N) {
		errbuf_set(err, errlen, "tlog: invalid inputs in ProveRecord");
		return -1;
	}
	leaf_proof_index(0, (uint64_t)t, (uint64_t)n, &l);
	return index_result(&l, n_out, err, errlen);
}

int sumdb_tlog_tree_proof_indexes(int64_t t, int64_t n, int64_t *out, size_t cap, size_t *n_out,
                                  char *err, size_t errlen)
{
	struct idx_list l = {out, 0, cap, 0};

	if (t < 1 || n < 1 || n > t || t > SUMDB_TLOG_MAX_N) {
		errbuf_set(err, errlen, "tlog: invalid inputs in ProveTree");
		return -1;
	}
	tree_proof_index(0, (uint64_t)t, (uint64_t)n, &l);
	return index_result(&l, n_out, err, errlen);
}

/* Reads every index through r into hashes. */
static int read_all(const struct sumdb_tlog_reader *r, const int64_t *idx, size_t n,
                    uint8_t (*hashes)[HS], char *err, size_t errlen)
{
	if (n > 0 && (!r || !r->read)) {
		errbuf_set(err, errlen, "tlog: no hash reader");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (r->read(r->arg, idx[i], hashes[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

int sumdb_tlog_tree_hash(int64_t n, const struct sumdb_tlog_reader *r,
                         uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen)
{
	int64_t idx[SUMDB_TLOG_INDEX_MAX];
	uint8_t hashes[SUMDB_TLOG_INDEX_MAX][HS];
	struct hash_cur c = {(const uint8_t(*)[HS])hashes, 0, 0};
	size_t count;

	if (n == 0) {
		memcpy(out, empty_hash, HS);
		return 0;
	}
	if (sumdb_tlog_tree_hash_indexes(n, idx, SUMDB_TLOG_INDEX_MAX, &count, err, errlen) < 0 ||
	    read_all(r, idx, count, hashes, err, errlen) < 0)
		return -1;
	c.len = count;
	if (subtree_hash(0, (uint64_t)n, &c, out) < 0 || c.pos != c.len) {
		errbuf_set(err, errlen, "tlog: SHA-256 failed");
		return -1;
	}
	return 0;
}

int sumdb_tlog_prove_record(int64_t t, int64_t n, const struct sumdb_tlog_reader *r,
                            uint8_t proof[][SUMDB_TLOG_HASH_SIZE], size_t *plen, char *err,
                            size_t errlen)
{
	int64_t idx[SUMDB_TLOG_INDEX_MAX];
	uint8_t hashes[SUMDB_TLOG_INDEX_MAX][HS];
	struct hash_cur c = {(const uint8_t(*)[HS])hashes, 0, 0};
	struct proof_out p = {proof, 0};
	size_t count;

	*plen = 0;
	if (sumdb_tlog_record_proof_indexes(t, n, idx, SUMDB_TLOG_INDEX_MAX, &count, err, errlen) <
	        0 ||
	    read_all(r, idx, count, hashes, err, errlen) < 0)
		return -1;
	c.len = count;
	if (leaf_proof(0, (uint64_t)t, (uint64_t)n, &c, &p) < 0 || c.pos != c.len) {
		errbuf_set(err, errlen, "tlog: SHA-256 failed");
		return -1;
	}
	*plen = p.len;
	return 0;
}

int sumdb_tlog_prove_tree(int64_t t, int64_t n, const struct sumdb_tlog_reader *r,
                          uint8_t proof[][SUMDB_TLOG_HASH_SIZE], size_t *plen, char *err,
                          size_t errlen)
{
	int64_t idx[SUMDB_TLOG_INDEX_MAX];
	uint8_t hashes[SUMDB_TLOG_INDEX_MAX][HS];
	struct hash_cur c = {(const uint8_t(*)[HS])hashes, 0, 0};
	struct proof_out p = {proof, 0};
	size_t count;

	*plen = 0;
	if (sumdb_tlog_tree_proof_indexes(t, n, idx, SUMDB_TLOG_INDEX_MAX, &count, err, errlen) <
	        0 ||
	    read_all(r, idx, count, hashes, err, errlen) < 0)
		return -1;
	c.len = count;
	if (tree_proof(0, (uint64_t)t, (uint64_t)n, &c, &p) < 0 || c.pos != c.len) {
		errbuf_set(err, errlen, "tlog: SHA-256 failed");
		return -1;
	}
	*plen = p.len;
	return 0;
}

/* ---- proof checks --------------------------------------------------------- */

/* The results of the proof runners: ok, proof does not fit, hashing failed. */
enum run_status { RUN_OK = 0, RUN_FAILED = -1, RUN_SHA = -2 };

/* runRecordProof: the tree hash of [lo, hi) implied by the proof p[0..plen)
 * (innermost first) and leaf, the hash of record n. */
static enum run_status run_record_proof(const uint8_t (*p)[HS], size_t plen, uint64_t lo,
                                        uint64_t hi, uint64_t n, const uint8_t *leaf,
                                        uint8_t out[HS])
{
	enum run_status s;
	uint8_t th[HS];
	uint64_t k;

	if (lo + 1 == hi) {
		if (plen != 0)
			return RUN_FAILED;
		memcpy(out, leaf, HS);
		return RUN_OK;
	}
	if (plen == 0)
		return RUN_FAILED;
	k = maxpow2(hi - lo, NULL);
	if (n < lo + k) {
		if ((s = run_record_proof(p, plen - 1, lo, lo + k, n, leaf, th)) != RUN_OK)
			return s;
		return node(th, p[plen - 1], out) < 0 ? RUN_SHA : RUN_OK;
	}
	if ((s = run_record_proof(p, plen - 1, lo + k, hi, n, leaf, th)) != RUN_OK)
		return s;
	return node(p[plen - 1], th, out) < 0 ? RUN_SHA : RUN_OK;
}

/* runTreeProof: the hashes of the old tree [lo, n) and the new tree
 * [lo, hi) implied by the proof and old, the old tree's hash. */
static enum run_status run_tree_proof(const uint8_t (*p)[HS], size_t plen, uint64_t lo, uint64_t hi,
                                      uint64_t n, const uint8_t *old, uint8_t oh[HS],
                                      uint8_t th[HS])
{
	enum run_status s;
	uint64_t k;

	if (n == hi) {
		if (lo == 0) {
			if (plen != 0)
				return RUN_FAILED;
			memcpy(oh, old, HS);
			memcpy(th, old, HS);
			return RUN_OK;
		}
		if (plen != 1)
			return RUN_FAILED;
		memcpy(oh, p[0], HS);
		memcpy(th, p[0], HS);
		return RUN_OK;
	}
	if (plen == 0)
		return RUN_FAILED;
	k = maxpow2(hi - lo, NULL);
	if (n <= lo + k) {
		if ((s = run_tree_proof(p, plen - 1, lo, lo + k, n, old, oh, th)) != RUN_OK)
			return s;
		return node(th, p[plen - 1], th) < 0 ? RUN_SHA : RUN_OK;
	}
	if ((s = run_tree_proof(p, plen - 1, lo + k, hi, n, old, oh, th)) != RUN_OK)
		return s;
	if (node(p[plen - 1], oh, oh) < 0 || node(p[plen - 1], th, th) < 0)
		return RUN_SHA;
	return RUN_OK;
}

static int run_result(enum run_status s, char *err, size_t errlen)
{
	errbuf_set(err, errlen, "%s", s == RUN_SHA ? "tlog: SHA-256 failed" : proof_failed);
	return -1;
}

int sumdb_tlog_check_record(const uint8_t proof[][SUMDB_TLOG_HASH_SIZE], size_t plen, int64_t t,
                            const uint8_t th[SUMDB_TLOG_HASH_SIZE], int64_t n,
                            const uint8_t h[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen)
{
	enum run_status s;
	uint8_t th2[HS];

	if (t < 0 || n < 0 || n >= t) {
		errbuf_set(err, errlen, "tlog: invalid inputs in CheckRecord");
		return -1;
	}
	s = run_record_proof(proof, plen, 0, (uint64_t)t, (uint64_t)n, h, th2);
	if (s != RUN_OK)
		return run_result(s, err, errlen);
	if (memcmp(th2, th, HS) != 0)
		return run_result(RUN_FAILED, err, errlen);
	return 0;
}

int sumdb_tlog_check_tree(const uint8_t proof[][SUMDB_TLOG_HASH_SIZE], size_t plen, int64_t t,
                          const uint8_t th[SUMDB_TLOG_HASH_SIZE], int64_t n,
                          const uint8_t h[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen)
{
	enum run_status s;
	uint8_t h2[HS], th2[HS];

	if (t < 1 || n < 1 || n > t) {
		errbuf_set(err, errlen, "tlog: invalid inputs in CheckTree");
		return -1;
	}
	s = run_tree_proof(proof, plen, 0, (uint64_t)t, (uint64_t)n, h, h2, th2);
	if (s != RUN_OK)
		return run_result(s, err, errlen);
	if (memcmp(th2, th, HS) != 0 || memcmp(h2, h, HS) != 0)
		return run_result(RUN_FAILED, err, errlen);
	return 0;
}

/* ---- tiles ---------------------------------------------------------------- */

/* Writes s (len bytes, untrusted) into dst as a double-quoted string fit for
 * an error line: printable ASCII as is, '"' and '\\' escaped, other bytes as
 * \\xNN, cut with "..." after 100 input bytes. */
static const char *quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t o = 0;

	if (dstlen < 8)
		return "";
	dst[o++] = '"';
	for (size_t i = 0; i < len && o + 8 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == 100) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			dst[o++] = (char)c;
		} else {
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", c);
		}
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

static int tile_eq(const struct sumdb_tlog_tile *a, const struct sumdb_tlog_tile *b)
{
	return a->h == b->h && a->l == b->l && a->n == b->n && a->w == b->w;
}

/* tileForIndex for a valid h and index: the tile and the byte range
 * [*start, *end) of the hashes under index within the tile's data. */
static int tile_for_index(int h, int64_t index, struct sumdb_tlog_tile *t, uint64_t *start,
                          uint64_t *end)
{
	int level;
	int64_t sn;
	uint64_t n;

	if (sumdb_tlog_split_stored_hash_index(index, &level, &sn) < 0)
		return -1;
	n = (uint64_t)sn;
	t->h = h;
	t->l = level / h;
	level -= t->l * h; /* level within the tile */
	t->n = (int64_t)((n << level) >> h);
	n -= ((uint64_t)t->n << h) >> level; /* n within the tile, at that level */
	t->w = (int64_t)((n + 1) << level);
	if (start)
		*start = (n << level) * HS;
	if (end)
		*end = ((n + 1) << level) * HS;
	return 0;
}

int sumdb_tlog_tile_for_index(int h, int64_t index, struct sumdb_tlog_tile *t, char *err,
                              size_t errlen)
{
	if (h < 1 || h > SUMDB_TLOG_MAX_HEIGHT) {
		errbuf_set(err, errlen, "tlog: invalid tile height %d", h);
		return -1;
	}
	if (tile_for_index(h, index, t, NULL, NULL) < 0) {
		errbuf_set(err, errlen, "tlog: invalid stored hash index %lld", (long long)index);
		return -1;
	}
	return 0;
}

int sumdb_tlog_tile_path(const struct sumdb_tlog_tile *t, char *out, size_t outlen)
{
	char num[40], lstr[16], pstr[32];
	int group[8], ng = 0;
	size_t o = 0;
	int64_t n = t->n;
	int len;

	if (t->h < 1 || t->h > SUMDB_TLOG_MAX_HEIGHT || t->l < -1 || t->n < 0 || t->w < 1 ||
	    t->w > ((int64_t)1 << t->h))
		return -1;
	/* Base-1000 digits, least significant first; all but the last
	 * (least significant) printed with an "x". */
	do {
		group[ng++] = (int)(n % PATH_BASE);
		n /= PATH_BASE;
	} while (n > 0);
	while (ng-- > 0)
		o += (size_t)snprintf(num + o, sizeof(num) - o, ng > 0 ? "x%03d/" : "%03d",
		                      group[ng]);
	pstr[0] = '\0';
	if (t->w != ((int64_t)1 << t->h))
		snprintf(pstr, sizeof(pstr), ".p/%lld", (long long)t->w);
	if (t->l == -1)
		memcpy(lstr, "data", 5);
	else
		snprintf(lstr, sizeof(lstr), "%d", t->l);
	len = snprintf(out, outlen, "tile/%d/%s/%s%s", t->h, lstr, num, pstr);
	if (len < 0 || (size_t)len >= outlen)
		return -1;
	return len;
}

/* strconv.Atoi on 64-bit Go: an optional sign and at least one decimal
 * digit, nothing else, within int64. */
static int go_atoi(const char *s, size_t len, int64_t *v)
{
	uint64_t x = 0, limit;
	int neg = 0;
	size_t i = 0;

	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return -1;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9 || x > (limit - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = neg ? (x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x) : (int64_t)x;
	return 0;
}

/* A path element: start and length within the path. */
struct field {
	const char *s;
	size_t len;
};

/* More elements than any tile path has ("tile", H, L, seven groups of K, W):
 * a path with more can never equal the path of the tile it parses to, which
 * ParseTilePath requires, so refusing it early changes nothing. */
#define MAX_FIELDS 16

int sumdb_tlog_parse_tile_path(const char *path, size_t len, struct sumdb_tlog_tile *t, char *err,
                               size_t errlen)
{
	struct field f[MAX_FIELDS];
	struct sumdb_tlog_tile tile;
	char canon[SUMDB_TLOG_PATH_MAX], quoted[512];
	size_t nf = 0, start = 0;
	int64_t h, l, w, n = 0;
	int is_data = 0, clen;

	memset(t, 0, sizeof(*t));
	if (!path)
		path = "";
	/* Same argument as MAX_FIELDS: no canonical path is this long. */
	if (len >= SUMDB_TLOG_PATH_MAX)
		goto bad;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || path[i] == '/') {
			if (nf == MAX_FIELDS)
				goto bad;
			f[nf].s = path + start;
			f[nf].len = i - start;
			nf++;
			start = i + 1;
		}
	}
	if (nf < 4 || f[0].len != 4 || memcmp(f[0].s, "tile", 4) != 0)
		goto bad;
	if (go_atoi(f[1].s, f[1].len, &h) < 0)
		goto bad;
	if (f[2].len == 4 && memcmp(f[2].s, "data", 4) == 0) {
		is_data = 1;
		l = 0;
	} else if (go_atoi(f[2].s, f[2].len, &l) < 0) {
		goto bad;
	}
	if (h < 1 || l < 0 || h > SUMDB_TLOG_MAX_HEIGHT)
		goto bad;
	w = (int64_t)1 << h;
	if (f[nf - 2].len >= 2 && memcmp(f[nf - 2].s + f[nf - 2].len - 2, ".p", 2) == 0) {
		int64_t ww;

		if (go_atoi(f[nf - 1].s, f[nf - 1].len, &ww) < 0 || ww <= 0 || ww >= w)
			goto bad;
		w = ww;
		f[nf - 2].len -= 2;
		nf--;
	}
	for (size_t i = 3; i < nf; i++) {
		const char *s = f[i].s;
		size_t sl = f[i].len;
		int64_t nn;

		if (sl > 0 && s[0] == 'x') {
			s++;
			sl--;
		}
		if (go_atoi(s, sl, &nn) < 0 || nn < 0 || nn >= PATH_BASE)
			goto bad;
		/* Go wraps here; a wrapped n never prints back as this path. */
		if (n > (INT64_MAX - nn) / PATH_BASE)
			goto bad;
		n = n * PATH_BASE + nn;
	}
	if (is_data)
		l = -1;
	if (l > INT_MAX)
		goto bad;
	tile.h = (int)h;
	tile.l = (int)l;
	tile.n = n;
	tile.w = w;
	clen = sumdb_tlog_tile_path(&tile, canon, sizeof(canon));
	if (clen < 0 || (size_t)clen != len || memcmp(canon, path, len) != 0)
		goto bad;
	*t = tile;
	return 0;
bad:
	errbuf_set(err, errlen, "malformed tile path %s", quote(quoted, sizeof(quoted), path, len));
	return -1;
}

/* tileHash: the hash of the subtree whose bottom row is data (a power of two
 * of hashes). */
static int tile_hash(const uint8_t *data, size_t len, uint8_t out[HS])
{
	uint8_t l[HS], r[HS];

	if (len == HS) {
		memcpy(out, data, HS);
		return 0;
	}
	if (tile_hash(data, len / 2, l) < 0 || tile_hash(data + len / 2, len / 2, r) < 0)
		return -1;
	return node(l, r, out);
}

static int tile_desc(const struct sumdb_tlog_tile *t, char *buf, size_t buflen)
{
	if (sumdb_tlog_tile_path(t, buf, buflen) < 0)
		snprintf(buf, buflen, "{%d %d %lld %lld}", t->h, t->l, (long long)t->n,
		         (long long)t->w);
	return 0;
}

int sumdb_tlog_hash_from_tile(const struct sumdb_tlog_tile *t, const uint8_t *data, size_t len,
                              int64_t index, uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err,
                              size_t errlen)
{
	struct sumdb_tlog_tile t1;
	char p[SUMDB_TLOG_PATH_MAX], p1[SUMDB_TLOG_PATH_MAX];
	uint64_t start, end;

	if (t->h < 1 || t->h > SUMDB_TLOG_MAX_HEIGHT || t->l < 0 || t->l >= 64 || t->w < 1 ||
	    t->w > ((int64_t)1 << t->h) || t->n < 0) {
		tile_desc(t, p, sizeof(p));
		errbuf_set(err, errlen, "invalid tile %s", p);
		return -1;
	}
	if (len / HS < (uint64_t)t->w) {
		tile_desc(t, p, sizeof(p));
		errbuf_set(err, errlen, "data len %zu too short for tile %s", len, p);
		return -1;
	}
	if (tile_for_index(t->h, index, &t1, &start, &end) < 0) {
		errbuf_set(err, errlen, "tlog: invalid stored hash index %lld", (long long)index);
		return -1;
	}
	if (t->l != t1.l || t->n != t1.n || t->w < t1.w) {
		tile_desc(t, p, sizeof(p));
		tile_desc(&t1, p1, sizeof(p1));
		errbuf_set(err, errlen, "index %lld is in %s not %s", (long long)index, p1, p);
		return -1;
	}
	if (tile_hash(data + start, end - start, out) < 0) {
		errbuf_set(err, errlen, "tlog: SHA-256 failed");
		return -1;
	}
	return 0;
}

/* Go's x >> s for s ≥ 0: 0 once s reaches the width. */
static uint64_t shr(uint64_t x, int64_t s)
{
	return s >= 64 ? 0 : x >> s;
}

/* tileParent: the tile k levels of tiles above t, its width cut to what a
 * tree of n records has; 0 with *p set, or -1 for Go's empty Tile{} (no
 * such tile in the tree). */
static int tile_parent(const struct sumdb_tlog_tile *t, int k, int64_t n, struct sumdb_tlog_tile *p)
{
	uint64_t max, base;

	*p = *t;
	p->l += k;
	p->n = (int64_t)shr((uint64_t)p->n, (int64_t)k * p->h);
	p->w = (int64_t)1 << p->h;
	max = shr((uint64_t)n, (int64_t)p->l * p->h);
	base = shr((uint64_t)p->n << p->h, 0);
	if (p->n > (INT64_MAX >> p->h))
		return -1; /* beyond any tree we accept */
	if (base + (uint64_t)p->w >= max) {
		if (base >= max)
			return -1;
		p->w = (int64_t)(max - base);
	}
	return 0;
}

static size_t tile_find(const struct sumdb_tlog_tile *tiles, size_t count,
                        const struct sumdb_tlog_tile *t)
{
	for (size_t i = 0; i < count; i++) {
		if (tile_eq(&tiles[i], t))
			return i;
	}
	return SIZE_MAX;
}

/* The tile TileHashReader reads stored hash x from: x's tile with the
 * width the tree of n records gives it. */
static int index_tile(int h, int64_t n, int64_t x, struct sumdb_tlog_tile *t)
{
	struct sumdb_tlog_tile t0;

	if (tile_for_index(h, x, &t0, NULL, NULL) < 0)
		return -1;
	return tile_parent(&t0, 0, n, t);
}

int sumdb_tlog_tiles_for_indexes(int h, int64_t tree_n, const int64_t *indexes, size_t count,
                                 struct sumdb_tlog_tile *out, size_t cap, size_t *n_out, char *err,
                                 size_t errlen)
{
	int64_t stx[SUMDB_TLOG_INDEX_MAX], limit;
	size_t nstx, nt = 0;

	*n_out = 0;
	if (h < 1 || h > SUMDB_TLOG_MAX_HEIGHT) {
		errbuf_set(err, errlen, "tlog: invalid tile height %d", h);
		return -1;
	}
	if (sumdb_tlog_tree_hash_indexes(tree_n, stx, SUMDB_TLOG_INDEX_MAX, &nstx, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < nstx; i++) {
		struct sumdb_tlog_tile t;

		if (index_tile(h, tree_n, stx[i], &t) < 0)
			goto bad_math;
		if (tile_find(out, nt, &t) != SIZE_MAX)
			continue;
		if (nt == cap)
			goto full;
		out[nt++] = t;
	}
	limit = stored_index(0, (uint64_t)tree_n);
	for (size_t i = 0; i < count; i++) {
		struct sumdb_tlog_tile t, p;
		int k;

		if (indexes[i] < 0 || indexes[i] >= limit) {
			errbuf_set(err, errlen, "indexes not in tree");
			return -1;
		}
		if (tile_for_index(h, indexes[i], &t, NULL, NULL) < 0)
			goto bad_math;
		/* Climb to the first ancestor already listed (the tiles of
		 * the tree's subtrees cover the top), then list the missing
		 * ones top down, so a parent always precedes its child. */
		for (k = 0;; k++) {
			if (k > 64)
				goto bad_math;
			if (tile_parent(&t, k, tree_n, &p) == 0 &&
			    tile_find(out, nt, &p) != SIZE_MAX)
				break;
		}
		for (k--; k >= 0; k--) {
			if (tile_parent(&t, k, tree_n, &p) < 0 || p.w != ((int64_t)1 << p.h))
				goto bad_math;
			if (nt == cap)
				goto full;
			out[nt++] = p;
		}
	}
	*n_out = nt;
	return 0;
full:
	errbuf_set(err, errlen, "tlog: more than %zu tiles needed", cap);
	return -1;
bad_math:
	errbuf_set(err, errlen, "bad math in tileHashReader: tree %lld", (long long)tree_n);
	return -1;
}

int sumdb_tlog_check_tiles(const struct sumdb_tlog_tileset *set,
                           const uint8_t tree_hash[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen)
{
	int64_t stx[SUMDB_TLOG_INDEX_MAX];
	size_t nstx, last = 0;
	uint8_t th[HS], hh[HS];
	char p[SUMDB_TLOG_PATH_MAX];

	if (set->h < 1 || set->h > SUMDB_TLOG_MAX_HEIGHT) {
		errbuf_set(err, errlen, "tlog: invalid tile height %d", set->h);
		return -1;
	}
	for (size_t i = 0; i < set->count; i++) {
		const struct sumdb_tlog_tile *t = &set->tiles[i];

		if (t->h != set->h || t->l < 0 || t->l > 63 || t->n < 0 || t->w < 1 ||
		    t->w > ((int64_t)1 << t->h) || set->len[i] != (size_t)t->w * HS) {
			tile_desc(t, p, sizeof(p));
			errbuf_set(err, errlen, "TileReader returned bad result slice (%s len=%zu)",
			           p, set->len[i]);
			return -1;
		}
	}
	if (sumdb_tlog_tree_hash_indexes(set->tree_n, stx, SUMDB_TLOG_INDEX_MAX, &nstx, err,
	                                 errlen) < 0)
		return -1;
	/* The tiles holding the complete subtrees must hash to the tree. */
	for (size_t i = nstx; i-- > 0;) {
		struct sumdb_tlog_tile t;
		size_t j;

		if (index_tile(set->h, set->tree_n, stx[i], &t) < 0 ||
		    (j = tile_find(set->tiles, set->count, &t)) == SIZE_MAX) {
			errbuf_set(err, errlen, "tlog: tile list does not cover tree %lld",
			           (long long)set->tree_n);
			return -1;
		}
		if (i == nstx - 1)
			last = j;
		if (sumdb_tlog_hash_from_tile(&t, set->data[j], set->len[j], stx[i], hh, err,
		                              errlen) < 0)
			return -1;
		if (i == nstx - 1)
			memcpy(th, hh, HS);
		else if (node(hh, th, th) < 0)
			goto sha;
	}
	if (memcmp(th, tree_hash, HS) != 0)
		goto inconsistent;
	/* Every other tile must hash to the entry its parent holds for it. */
	for (size_t i = last + 1; i < set->count; i++) {
		const struct sumdb_tlog_tile *t = &set->tiles[i];
		struct sumdb_tlog_tile par;
		int64_t x;
		size_t j;

		if (t->w != ((int64_t)1 << t->h) || tile_parent(t, 1, set->tree_n, &par) < 0 ||
		    (j = tile_find(set->tiles, set->count, &par)) == SIZE_MAX ||
		    (x = sumdb_tlog_stored_hash_index(par.l * par.h, t->n)) < 0) {
			tile_desc(t, p, sizeof(p));
			errbuf_set(err, errlen,
			           "bad math in tileHashReader %lld: lost parent of %s",
			           (long long)set->tree_n, p);
			return -1;
		}
		if (sumdb_tlog_hash_from_tile(&par, set->data[j], set->len[j], x, hh, err, errlen) <
		    0)
			return -1;
		if (tile_hash(set->data[i], set->len[i], th) < 0)
			goto sha;
		if (memcmp(th, hh, HS) != 0)
			goto inconsistent;
	}
	return 0;
inconsistent:
	errbuf_set(err, errlen, "downloaded inconsistent tile");
	return -1;
sha:
	errbuf_set(err, errlen, "tlog: SHA-256 failed");
	return -1;
}

int sumdb_tlog_tileset_read(void *arg, int64_t index, uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err,
                            size_t errlen)
{
	const struct sumdb_tlog_tileset *set = arg;
	struct sumdb_tlog_tile t;
	size_t j;

	if (set->h < 1 || set->h > SUMDB_TLOG_MAX_HEIGHT || index < 0 ||
	    index_tile(set->h, set->tree_n, index, &t) < 0 ||
	    (j = tile_find(set->tiles, set->count, &t)) == SIZE_MAX) {
		errbuf_set(err, errlen, "tlog: stored hash %lld is in no fetched tile",
		           (long long)index);
		return -1;
	}
	return sumdb_tlog_hash_from_tile(&t, set->data[j], set->len[j], index, out, err, errlen);
}
