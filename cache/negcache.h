/*
 * negative cache — remembers for a short TTL that every upstream answered
 * 404 or 410 for an object, so a client retrying in a loop does not turn into
 * upstream traffic. Only true answers go in: a failed transfer never does,
 * so a transient outage is never remembered as "does not exist".
 *
 * In memory on purpose: a restart forgetting a minute of 404s costs one
 * upstream request each, and keeps stale "not found" out of the disk tree.
 *
 * Ownership: the loop thread owns the cache and its entries.
 */
#ifndef MODGATE_CACHE_NEGCACHE_H
#define MODGATE_CACHE_NEGCACHE_H

#include <stddef.h>
#include <time.h>

#define CACHE_NEG_BODY_MAX 512

struct cache_neg_entry {
	int status; /* 404 or 410 */
	time_t expires;
	char body[CACHE_NEG_BODY_MAX]; /* one line for the client */
};

struct cache_neg;

/* A negative cache holding at most max_entries answers. NULL if out of memory. */
struct cache_neg *cache_neg_new(size_t max_entries);

void cache_neg_free(struct cache_neg *n);

/* Remembers status and body (copied, cut to one line) for rel until now+ttl.
 * A ttl of 0 or less stores nothing. When full, expired entries are dropped
 * first; if still full the answer is not remembered. */
void cache_neg_put(struct cache_neg *n, const char *rel, int status, const char *body, time_t now,
                   int ttl);

/* The live answer for rel, or NULL. The entry is borrowed until the next
 * call on n. Expired entries are dropped on the way. */
const struct cache_neg_entry *cache_neg_get(struct cache_neg *n, const char *rel, time_t now);

/* Forgets rel (a later commit made it exist). */
void cache_neg_forget(struct cache_neg *n, const char *rel);

/* Forgets every answer: they came from upstreams a reload replaced. */
void cache_neg_clear(struct cache_neg *n);

size_t cache_neg_len(const struct cache_neg *n);

#endif
