/*
 * tlog — the checksum database's tiled transparency log (golang.org/x/mod
 * sumdb/tlog): RFC 6962 record and node hashes, the numbering of stored
 * hashes, tiles and their paths, tree hashes, and the record (inclusion) and
 * tree (consistency) proofs the go command checks.
 *
 * A log of N records is a binary Merkle tree. Every complete subtree's hash
 * is "stored" once, at the index StoredHashIndex(level, n) (level 0 holds the
 * record hashes); the log serves them grouped into tiles of height H: tile
 * (H, L, K) holds the stored hashes of levels L*H .. L*H+H-1 under 2^H
 * consecutive hashes of level L*H, and is fetched as its bottom row of up to
 * 2^H hashes (W of them for a partial tile "tile/H/L/K.p/W").
 *
 * How an asynchronous caller proves something, with no I/O in here:
 *   1. sumdb_tlog_record_proof_indexes / _tree_proof_indexes /
 *      _tree_hash_indexes: the stored hashes the proof needs;
 *   2. sumdb_tlog_tiles_for_indexes: the tiles (with widths) holding those
 *      hashes plus the ones that tie them to the signed tree hash;
 *   3. fetch those tiles, then sumdb_tlog_check_tiles: they agree with the
 *      signed tree hash and with each other (the checks of tlog's
 *      TileHashReader);
 *   4. sumdb_tlog_prove_record / _prove_tree with sumdb_tlog_tileset_read (or
 *      any struct sumdb_tlog_reader), then sumdb_tlog_check_record /
 *      _check_tree against the signed tree.
 *
 * Numbers: record counts and indexes are int64_t. Tree sizes handed to the
 * functions that compute stored-hash indexes are limited to
 * SUMDB_TLOG_MAX_N, so that no index arithmetic can overflow (sum.golang.org
 * holds well under 2^27 records); the check functions take any int64_t.
 *
 * Threading: no globals, no I/O, no allocation of its own (OpenSSL's digest
 * context aside); every function is reentrant and thread-safe. A proof or a
 * tree hash costs at most a few hundred SHA-256 blocks, and hashing tiles is
 * linear in their bytes (8 KiB per full tile at height 8), so with the
 * heights real logs use every function may run anywhere, including inside a
 * libcurl or libevhtp callback. All pointers are borrowed for the call.
 *
 * Errors: 0 on success, -1 on failure with one line in err (when err is not
 * NULL and errlen > 0; truncated to fit). A proof that does not verify says
 * "invalid transparency proof", tlog's errProofFailed.
 */
#ifndef MODGATE_SUMDB_TLOG_H
#define MODGATE_SUMDB_TLOG_H

#include <stddef.h>
#include <stdint.h>

#define SUMDB_TLOG_HASH_SIZE 32

/* Largest tree size (records) the index arithmetic accepts: 2^60. */
#define SUMDB_TLOG_MAX_N ((int64_t)1 << 60)

/* Longest record or tree proof, in hashes (one per tree level, plus one). */
#define SUMDB_TLOG_PROOF_MAX 64

/* Most stored-hash indexes any proof or tree hash needs. */
#define SUMDB_TLOG_INDEX_MAX 192

/* Longest tile path, with its NUL ("tile/30/2147483647/x009/.../807.p/1073741823"). */
#define SUMDB_TLOG_PATH_MAX 96

/* Tile heights a path may carry (ParseTilePath: 1 ≤ H ≤ 30). */
#define SUMDB_TLOG_MAX_HEIGHT 30

/* tlog's Tile. h: height (1..30); l: level in the tiling, -1 for a data tile
 * (record data), else 0..63 for hashes; n: number within the level (≥ 0);
 * w: width, 1..2^h hashes (2^h is a complete tile). */
struct sumdb_tlog_tile {
	int h, l;
	int64_t n, w;
};

/* Source of stored hashes for the proof functions: read writes the stored
 * hash at index into out and returns 0, or fills err and returns -1 (which
 * ends the caller's computation with that error). Called synchronously, on
 * the calling thread, only from inside the sumdb_tlog_ function it was
 * passed to; arg is the caller's. */
struct sumdb_tlog_reader {
	int (*read)(void *arg, int64_t index, uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err,
	            size_t errlen);
	void *arg;
};

/* A set of fetched tiles, as a reader: tiles[i] with its bytes data[i]
 * (len[i] bytes, tiles[i].w hashes). All borrowed; see sumdb_tlog_tileset_read. */
struct sumdb_tlog_tileset {
	int h;                               /* tile height of the log */
	int64_t tree_n;                      /* size of the tree the tiles were chosen for */
	const struct sumdb_tlog_tile *tiles; /* as sumdb_tlog_tiles_for_indexes listed them */
	const uint8_t *const *data;
	const size_t *len;
	size_t count;
};

/* ---- hashes --------------------------------------------------------------- */

/* SHA-256(0x00 || data): the hash of a record (data borrowed, may be NULL
 * when len is 0). 0, or -1 if OpenSSL fails. */
int sumdb_tlog_record_hash(const void *data, size_t len, uint8_t out[SUMDB_TLOG_HASH_SIZE],
                           char *err, size_t errlen);

/* SHA-256(0x01 || left || right): an interior node. out may alias left or
 * right. 0, or -1 if OpenSSL fails. */
int sumdb_tlog_node_hash(const uint8_t left[SUMDB_TLOG_HASH_SIZE],
                         const uint8_t right[SUMDB_TLOG_HASH_SIZE],
                         uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen);

/* Index in the stored-hash sequence of the hash of the n'th subtree at level
 * (level 0: record n). -1 when level is outside 0..62 or n is negative or
 * the index would pass SUMDB_TLOG_MAX_N * 2. */
int64_t sumdb_tlog_stored_hash_index(int level, int64_t n);

/* The inverse: level and n of stored hash index. 0, or -1 when index is
 * negative or not among the stored hashes of SUMDB_TLOG_MAX_N records. */
int sumdb_tlog_split_stored_hash_index(int64_t index, int *level, int64_t *n);

/* Number of hashes stored for a tree of n records (0 ≤ n ≤
 * SUMDB_TLOG_MAX_N); -1 for n out of range. */
int64_t sumdb_tlog_stored_hash_count(int64_t n);

/* ---- tiles ---------------------------------------------------------------- */

/* The tile of height h holding stored hash index, with the smallest width
 * that contains it (tlog's TileForIndex). 0, or -1 (err filled) when h is
 * outside 1..30 or index is invalid. */
int sumdb_tlog_tile_for_index(int h, int64_t index, struct sumdb_tlog_tile *t, char *err,
                              size_t errlen);

/* Writes the path of t, "tile/H/L/x001/x234/067[.p/W]" ("data" for L = -1),
 * into out (SUMDB_TLOG_PATH_MAX is enough for any valid tile). Returns its
 * length, or -1 when t is not a valid tile (h 1..30, l -1..INT_MAX, n ≥ 0,
 * w 1..2^h) or out is too small. */
int sumdb_tlog_tile_path(const struct sumdb_tlog_tile *t, char *out, size_t outlen);

/* Parses a tile path (path borrowed, len bytes, need not be NUL-terminated)
 * exactly as tlog's ParseTilePath: "tile", then H (1..30), L (≥ 0, or
 * "data" for -1), K in 3-digit elements with every element but the last
 * prefixed by "x", and an optional ".p/W" with 1 ≤ W < 2^H; anything that is
 * not the canonical spelling of the tile it names is refused (signs, leading
 * zeros, "x000" leading elements, a ".p" full width, ...). One deviation: L
 * above INT_MAX is refused (Go's int is 64 bits). 0 with *t filled, or -1
 * with err = "malformed tile path \"...\"". */
int sumdb_tlog_parse_tile_path(const char *path, size_t len, struct sumdb_tlog_tile *t, char *err,
                               size_t errlen);

/* The stored hash index computed from tile t's bytes data (len bytes; at
 * least t->w hashes), as tlog's HashFromTile: t must hold index. 0 with out
 * filled, or -1 (invalid tile, data too short, index not in t). */
int sumdb_tlog_hash_from_tile(const struct sumdb_tlog_tile *t, const uint8_t *data, size_t len,
                              int64_t index, uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err,
                              size_t errlen);

/* The tiles of height h a reader must fetch to read the stored hashes
 * indexes[0..count) in the tree of tree_n records, and check them against
 * that tree's hash: exactly the list, order and widths tlog's TileHashReader
 * asks its TileReader for (first the tiles of the tree's complete subtrees,
 * then for each index the tile holding it and any missing ancestors, parents
 * before children, no duplicates). Widths are cut to what a tree of tree_n
 * records has. Writes up to cap tiles to out and their number to *n_out.
 * 0, or -1 (h outside 1..30, tree_n outside 1..SUMDB_TLOG_MAX_N, an index
 * not in the tree, more than cap tiles). */
int sumdb_tlog_tiles_for_indexes(int h, int64_t tree_n, const int64_t *indexes, size_t count,
                                 struct sumdb_tlog_tile *out, size_t cap, size_t *n_out, char *err,
                                 size_t errlen);

/* Checks fetched tiles the way TileHashReader does before trusting them:
 * each data[i] holds exactly tiles[i].w hashes, the tiles of the tree's
 * complete subtrees hash to tree_hash, and every later tile hashes to the
 * entry its parent tile holds for it. set->tiles must be a list made by
 * sumdb_tlog_tiles_for_indexes for set->h and set->tree_n. 0, or -1 with
 * "downloaded inconsistent tile" or another reason. */
int sumdb_tlog_check_tiles(const struct sumdb_tlog_tileset *set,
                           const uint8_t tree_hash[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen);

/* A sumdb_tlog_reader read function over a struct sumdb_tlog_tileset (arg),
 * for tiles already passed through sumdb_tlog_check_tiles: finds the tile
 * holding index (as TileHashReader would) and reads the hash from it. */
int sumdb_tlog_tileset_read(void *arg, int64_t index, uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err,
                            size_t errlen);

/* ---- trees and proofs ----------------------------------------------------- */

/* Stored hash indexes needed for the tree hash of n records (1 ≤ n ≤
 * SUMDB_TLOG_MAX_N), for a record proof of record n in a tree of t records
 * (0 ≤ n < t), and for a tree proof of the tree of n records within the tree
 * of t (1 ≤ n ≤ t). Writes up to cap indexes (SUMDB_TLOG_INDEX_MAX is always
 * enough) into out and their number into *n_out. 0, or -1 for bad inputs. */
int sumdb_tlog_tree_hash_indexes(int64_t n, int64_t *out, size_t cap, size_t *n_out, char *err,
                                 size_t errlen);
int sumdb_tlog_record_proof_indexes(int64_t t, int64_t n, int64_t *out, size_t cap, size_t *n_out,
                                    char *err, size_t errlen);
int sumdb_tlog_tree_proof_indexes(int64_t t, int64_t n, int64_t *out, size_t cap, size_t *n_out,
                                  char *err, size_t errlen);

/* The hash of the tree of n records (0 ≤ n ≤ SUMDB_TLOG_MAX_N; n = 0 gives
 * SHA-256 of nothing), from stored hashes read through r (tlog's TreeHash).
 * 0 with out filled, or -1 (bad n, or the reader's error). */
int sumdb_tlog_tree_hash(int64_t n, const struct sumdb_tlog_reader *r,
                         uint8_t out[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen);

/* tlog's ProveRecord: the proof that record n is in the tree of t records,
 * written into proof (room for SUMDB_TLOG_PROOF_MAX hashes) with its length
 * in *plen (0 when t = 1). 0, or -1 ("tlog: invalid inputs in ProveRecord"
 * unless 0 ≤ n < t ≤ SUMDB_TLOG_MAX_N, or the reader's error). */
int sumdb_tlog_prove_record(int64_t t, int64_t n, const struct sumdb_tlog_reader *r,
                            uint8_t proof[][SUMDB_TLOG_HASH_SIZE], size_t *plen, char *err,
                            size_t errlen);

/* tlog's CheckRecord: proof (plen hashes) shows that the record with hash h
 * is record n of the tree of t records whose hash is th. 0, or -1 ("tlog:
 * invalid inputs in CheckRecord" unless 0 ≤ n < t; else "invalid
 * transparency proof"). Any plen and t are safe. */
int sumdb_tlog_check_record(const uint8_t proof[][SUMDB_TLOG_HASH_SIZE], size_t plen, int64_t t,
                            const uint8_t th[SUMDB_TLOG_HASH_SIZE], int64_t n,
                            const uint8_t h[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen);

/* tlog's ProveTree: the proof that the tree of n records is a prefix of the
 * tree of t records, into proof (room for SUMDB_TLOG_PROOF_MAX hashes), its
 * length in *plen (0 when n = t). 0, or -1 ("tlog: invalid inputs in
 * ProveTree" unless 1 ≤ n ≤ t ≤ SUMDB_TLOG_MAX_N, or the reader's error). */
int sumdb_tlog_prove_tree(int64_t t, int64_t n, const struct sumdb_tlog_reader *r,
                          uint8_t proof[][SUMDB_TLOG_HASH_SIZE], size_t *plen, char *err,
                          size_t errlen);

/* tlog's CheckTree: proof (plen hashes) shows that the tree of n records
 * with hash h is a prefix of the tree of t records with hash th: the log
 * only grew. 0, or -1 ("tlog: invalid inputs in CheckTree" unless 1 ≤ n ≤
 * t, so a shrinking log is refused there; else "invalid transparency
 * proof"). Any plen and t are safe. */
int sumdb_tlog_check_tree(const uint8_t proof[][SUMDB_TLOG_HASH_SIZE], size_t plen, int64_t t,
                          const uint8_t th[SUMDB_TLOG_HASH_SIZE], int64_t n,
                          const uint8_t h[SUMDB_TLOG_HASH_SIZE], char *err, size_t errlen);

#endif
