/*
 * cache snapshot — the cache tools: hard-link snapshots of the GOPROXY tree,
 * an atomic restore of one, and the purge of a module or a version.
 *
 * Why hard links are enough: the store never changes a file in place (it
 * writes a temp file and renames it over), so a link taken now keeps these
 * bytes for as long as the snapshot lives, whatever a running server commits
 * later. A snapshot costs one directory entry per object and no data.
 *
 *   <root>/.snapshots/<NAME>/            the GOPROXY tree (non-dot top-level
 *                                        entries of the cache, recursively)
 *   <root>/.snapshots/<NAME>/.snapshot   "created <unix time>\nobjects N\nbytes B\n"
 *   <root>/.lock                         flock'ed by every tool: one at a time
 *
 * Every function here is safe while a server runs on the same cache, blocks
 * (file system walks), and serialises with the other tools through flock on
 * <root>/.lock. They are for the command line (proxy/cachetool.c) and the
 * tests: one calling thread, never the server's loop.
 *
 * Strings are borrowed; err buffers are the caller's; 0 (or a count) on
 * success, -1 with err filled on failure.
 */
#ifndef MODGATE_CACHE_SNAPSHOT_H
#define MODGATE_CACHE_SNAPSHOT_H

#include <stddef.h>
#include <time.h>

#define CACHE_SNAPSHOT_NAME_MAX 128

struct cache_tool_stats {
	unsigned long objects;    /* files linked, counted or removed */
	unsigned long long bytes; /* their sizes */
};

/* Called now and then during a long walk with the totals so far; may print.
 * phase is a short word ("linking", "counting"). */
typedef void (*cache_progress_fn)(void *arg, const char *phase, const struct cache_tool_stats *st);

/* 0 when name can name a snapshot: 1..CACHE_SNAPSHOT_NAME_MAX bytes of
 * [A-Za-z0-9._-], not starting with '.'. Else -1 with the reason. Pure. */
int cache_snapshot_name_check(const char *name, char *err, size_t errlen);

/* Snapshots the GOPROXY tree of the cache at root as .snapshots/name: built
 * under a dot name, made durable (syncfs), renamed into place when complete.
 * name must be valid and new. Fills *st; progress may be NULL. */
int cache_snapshot_create(const char *root, const char *name, struct cache_tool_stats *st,
                          cache_progress_fn progress, void *arg, char *err, size_t errlen);

struct cache_snapshot_info {
	char name[CACHE_SNAPSHOT_NAME_MAX + 1];
	time_t created;
	unsigned long objects;
	unsigned long long bytes;
};

/* The snapshots of the cache at root, oldest first, in *out (returned to
 * free; NULL when there are none). The count, or -1 with err. */
int cache_snapshot_list(const char *root, struct cache_snapshot_info **out, char *err,
                        size_t errlen);

/* Makes snapshot name the live cache, atomically for anyone opening paths
 * below root:
 *   1. a staged tree is built beside the cache, <parent>/.<base>.restore-XXXXXX
 *      (so the cache's parent folder must be writable), as hard links to the
 *      snapshot;
 *   2. the live cache's dot-folders (.sums, .sumdb, .quarantine, .snapshots,
 *      .direct: everything but .tmp) move into it, and it gets an empty .tmp —
 *      pins, kept tree heads and the quarantine never roll back;
 *   3. renameat2(RENAME_EXCHANGE) swaps the staged folder and the cache;
 *   4. after settle_ms (a running server notices the swap within a second;
 *      what it wrote to the old tree's dot-folders meanwhile is merged in),
 *      the old tree becomes the snapshot pre-restore-<UTC stamp>, whose name
 *      goes to pre — a restore loses nothing and can be undone.
 * root must be the cache folder itself or a symlink to it (the real folder
 * is swapped). Fills *st with the restored tree's totals. */
int cache_snapshot_restore(const char *root, const char *name, int settle_ms, char *pre,
                           size_t prelen, struct cache_tool_stats *st, cache_progress_fn progress,
                           void *arg, char *err, size_t errlen);

/* Takes the lock every cache tool holds while it works (flock on
 * <root>/.lock; a restore keeps it the same file), waiting for the tool
 * that has it (saying so on stderr): for other tools that must not overlap
 * a restore, such as fsck. The descriptor to close to release it, or -1. */
int cache_tool_lock(const char *root, char *err, size_t errlen);

/* rmdir of dir (relative to root_fd; changed in place: pass a copy) and of
 * each of its parents that is left empty, the root itself never: for the
 * tools that remove objects. A folder a server fills meanwhile stays (rmdir
 * refuses it); one it is about to fill it makes again (cache_commit). */
void cache_tool_remove_empty(int root_fd, char *dir);

/* Called with each object purge removed (rel to root, borrowed). */
typedef void (*cache_purge_fn)(void *arg, const char *rel);

/* Removes the committed objects of module (unescaped, checked with
 * modpath): with version NULL every file of <module>/@v (each version,
 * @v/list) and <module>/@latest; with a version its .info, .mod and .zip.
 * Never the .sums records (pins keep later bytes honest), never another
 * module's folders (a nested module shares the path prefix). Empty folders
 * left behind are removed. The count removed (0: nothing was cached), or -1. */
int cache_purge(const char *root, const char *module, const char *version, cache_purge_fn removed,
                void *arg, char *err, size_t errlen);

#endif
