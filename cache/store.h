/*
 * cache store — the on-disk cache, laid out as a valid GOPROXY tree:
 *   <root>/<escaped module>/@v/<escaped version>.info|.mod|.zip, @v/list
 *   <root>/<escaped module>/@latest
 * beside modgate's own files in dot-folders (.tmp for files being written).
 * Module paths never have an element starting with a dot, so the two never
 * meet, and GOPROXY=file://<root> works as it is.
 *
 * Files are written to .tmp, fsynced and renamed into place; nothing is ever
 * modified in place. Immutable objects are committed with RENAME_NOREPLACE so
 * a committed version is never overwritten.
 *
 * Threading: the store is created and freed on the loop thread; cache_commit
 * and the other blocking calls may run on worker threads while the loop uses
 * the rest. The one field that changes is the root descriptor, replaced
 * atomically by cache_store_check_root when `modgate restore` swaps the
 * folder the root path names; replaced descriptors stay open until
 * cache_store_free, so a commit that started on the old tree finishes.
 *
 * Paths ("rel") are relative to the root and must come from modpath (already
 * validated: no "..", no absolute path, no empty element).
 */
#ifndef MODGATE_CACHE_STORE_H
#define MODGATE_CACHE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct cache_store;

struct cache_stat {
	off_t size;
	time_t mtime; /* when the object was committed */
};

/* Opens (creating if needed) the cache at root and empties its .tmp folder
 * of files that processes no longer running left half-written (another
 * process may use the same cache: a server, and fsck beside it). NULL with err filled on
 * failure. Loop thread. */
struct cache_store *cache_store_open(const char *root, char *err, size_t errlen);

void cache_store_free(struct cache_store *s);

/* Notices that the root path now names another folder (`modgate restore`
 * exchanged it) and opens that one for every later call; temp files made
 * in the old folder still commit, into the new one. 1 when it switched, 0
 * when unchanged, -1 with err (the old root stays in use). Loop thread:
 * one stat when nothing changed, so a 1-second timer can call it. */
int cache_store_check_root(struct cache_store *s, char *err, size_t errlen);

/* 0 when the cache can take new objects: its temp folder is writable and
 * its file system has at least min_free_pct percent of its space free;
 * else -1 with the reason in why. Loop thread (two cheap system calls). */
int cache_store_health(struct cache_store *s, int min_free_pct, char *why, size_t whylen);

/* The root path given to cache_store_open (borrowed). */
const char *cache_store_root(const struct cache_store *s);

/* Opens the committed object rel for reading. Returns a descriptor the
 * caller owns and fills *st, or -1 (errno ENOENT when absent). Loop thread. */
int cache_open(struct cache_store *s, const char *rel, struct cache_stat *st);

/* As cache_open, for readers that are not clients (fsck): the reads leave
 * the file's atime alone (O_NOATIME, where the process owns the file or is
 * root; else a plain open), so `modgate prune` does not take a check for a
 * use. Loop thread. */
int cache_open_noatime(struct cache_store *s, const char *rel, struct cache_stat *st);

/* Creates a new empty temp file in .tmp. Returns a read-write descriptor
 * the caller owns and writes its name (relative to the root) into name, or
 * -1 with err filled. Loop thread. */
int cache_temp_create(struct cache_store *s, char *name, size_t namelen, char *err, size_t errlen);

/* Makes a new temp file in .tmp that is a hard link to path (which must be
 * on the cache's file system), so bytes written elsewhere (by a child go
 * command under the cache's .direct folder) are committed without a copy.
 * Returns a read-only descriptor the caller owns and the temp file's name,
 * or -1 with err filled. Loop thread (one link and one open). */
int cache_temp_link(struct cache_store *s, const char *path, char *name, size_t namelen, char *err,
                    size_t errlen);

/* Removes a temp file that will not be committed. Any thread. */
void cache_temp_discard(struct cache_store *s, const char *name);

enum cache_commit_result {
	CACHE_COMMITTED = 0,
	CACHE_EXISTS = 1, /* immutable object already committed: temp discarded, original kept */
	CACHE_COMMIT_ERROR = -1,
};

/* Makes the temp file name (written through fd, which stays the caller's)
 * the object rel: fsync, create parent folders, rename, fsync the folder.
 * With immutable set an existing object is kept and the temp discarded.
 * Blocking: run it on a worker thread. */
enum cache_commit_result cache_commit(struct cache_store *s, int fd, const char *name,
                                      const char *rel, int immutable, char *err, size_t errlen);

/* modgate's own folders beside the GOPROXY tree. */
#define CACHE_SUMS_DIR ".sums"             /* recorded h1: of each committed .mod/.zip */
#define CACHE_QUARANTINE_DIR ".quarantine" /* refused bytes and their records */
#define CACHE_SUMDB_DIR ".sumdb"           /* the kept tree head of each database */
#define CACHE_SNAPSHOTS_DIR ".snapshots"   /* hard-link snapshots (cache/snapshot.h) */

/* Writes len bytes of data as the file rel, which may lie in one of
 * modgate's own folders: temp file, fsync, rename over any old one, fsync
 * the folder. 0, or -1 with err. Blocking: worker thread. */
int cache_put_file(struct cache_store *s, const char *rel, const void *data, size_t len, char *err,
                   size_t errlen);

/* Reads at most cap bytes of the file rel into buf: the count, or -1 with
 * errno (ENOENT when absent). For small files; any thread. */
ssize_t cache_get_file(struct cache_store *s, const char *rel, void *buf, size_t cap);

/* Moves the temp file name into the quarantine folder as STEM.body and
 * writes json (json_len bytes) beside it as STEM.json; STEM (UTC time, pid,
 * a sequence number) goes to stem. On failure the temp file is removed.
 * 0, or -1 with err. Blocking: worker thread. */
int cache_quarantine(struct cache_store *s, const char *name, const char *json, size_t json_len,
                     char *stem, size_t stemlen, char *err, size_t errlen);

/* Sums the size and count of the committed objects (the GOPROXY tree,
 * without modgate's dot-folders). Blocking (a walk of the whole cache):
 * worker thread. */
void cache_usage_scan(struct cache_store *s, uint64_t *bytes, uint64_t *objects);

/* Bytes free for unprivileged writers on the cache's file system. 0, or -1.
 * One system call: any thread. */
int cache_disk_free(struct cache_store *s, uint64_t *bytes);

#endif
