/*
 * cache prune — drops the module versions nobody has used for a while,
 * least recently used first, so that a cache in front of CI stays bounded.
 *
 * What goes: the committed objects of module versions, <module>/@v/<v>.info,
 * .mod and .zip, a version's files together. What never goes: the dot-folders
 * (.sums pins stay, so a version fetched again must match what was recorded;
 * .sumdb, .quarantine, .snapshots, .tmp), the sumdb/ tree, @v/list and
 * @latest (small, mutable, with a TTL of their own). Folders left empty go.
 *
 * Last use of a file is its atime, but never earlier than its mtime (the
 * commit); of a version, the latest among its files. With relatime (Linux's
 * default) a read — a hit sent with sendfile — moves atime at most once a
 * day, which is all the precision an age in days needs; on a noatime mount
 * last use means "fetched". fsck reads without touching atime
 * (cache_open_noatime), so a check does not count as a use.
 *
 * Safe while a server runs on the cache: a file being sent keeps its inode
 * until closed, and the next request fetches and verifies the version
 * again. A version used between the scan and its removal is kept.
 *
 * Strings are borrowed; err buffers are the caller's. One calling thread,
 * never the server's loop: the walk blocks.
 */
#ifndef MODGATE_CACHE_PRUNE_H
#define MODGATE_CACHE_PRUNE_H

#include "cache/snapshot.h"

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* The extensions of a version's objects, in the order of files[]. */
enum { CACHE_PRUNE_INFO, CACHE_PRUNE_MOD, CACHE_PRUNE_ZIP, CACHE_PRUNE_EXTS };

struct cache_prune_version {
	char *rel;  /* "<escaped module>/@v/<escaped version>", without extension */
	char *name; /* "module@version", unescaped: for people */
	time_t last_use;
	unsigned long long bytes; /* sizes of its files */
	unsigned long long held;  /* of which other links (snapshots) hold: not freed */
	struct {
		int present;
		ino_t ino;
		unsigned long long size;
	} files[CACHE_PRUNE_EXTS];
};

struct cache_prune_opts {
	time_t now;          /* the clock, as the caller reads it */
	long long unused_s;  /* drop versions not used for this long; < 0: no limit */
	long long max_bytes; /* then until the tree is at most this big; < 0: no limit */
	int dry_run;         /* report only; remove nothing */
};

struct cache_prune_result {
	unsigned long versions;         /* removed (dry run: that would be) */
	unsigned long files;            /* their files */
	unsigned long long bytes;       /* their sizes */
	unsigned long long freed;       /* of which the last link went */
	unsigned long long held;        /* of which other links still hold (snapshots) */
	unsigned long kept;             /* versions left in the cache */
	unsigned long busy;             /* of which used while the prune ran */
	unsigned long failed;           /* versions that could not be removed */
	unsigned long long tree_before; /* bytes of the GOPROXY tree */
	unsigned long long tree_after;
};

enum cache_prune_outcome {
	CACHE_PRUNE_REMOVED, /* its files are gone */
	CACHE_PRUNE_WOULD,   /* dry run: they would go */
	CACHE_PRUNE_BUSY,    /* used (or replaced) since the scan: kept */
	CACHE_PRUNE_FAILED,  /* a file could not be removed: error says why */
};

/* Called once per version selected, in the order they go (least recently
 * used first); v and error (NULL unless FAILED) are borrowed. */
typedef void (*cache_prune_fn)(void *arg, const struct cache_prune_version *v,
                               enum cache_prune_outcome what, const char *error);

/* Sorts v[0..n) least recently used first (ties in path order) and returns
 * how many from the front go: every version last used at or before
 * o->now - o->unused_s (when unused_s >= 0), then, while the tree's
 * tree_bytes less theirs exceed o->max_bytes (when max_bytes >= 0), more.
 * Pure: no I/O, time from o. */
size_t cache_prune_select(struct cache_prune_version *v, size_t n, const struct cache_prune_opts *o,
                          unsigned long long tree_bytes);

/* Prunes the cache at root as o says: takes the cache tools' lock
 * (cache_tool_lock; waits for the tool that has it), scans the GOPROXY tree,
 * selects with cache_prune_select, removes (or with dry_run only reports)
 * each version selected through each (may be NULL), and removes the folders
 * left empty. Fills *res. progress (may be NULL) sees the scan ("scanning":
 * files, bytes) and the removal ("removing"). 0 when it ran (versions that
 * failed are in res->failed), -1 with err when it could not (cache missing
 * or unreadable, out of memory): then nothing was removed. */
int cache_prune(const char *root, const struct cache_prune_opts *o, struct cache_prune_result *res,
                cache_prune_fn each, void *arg, cache_progress_fn progress, void *parg, char *err,
                size_t errlen);

#endif
