/*
 * strmap — a hash map from strings to pointers, for the loop's indexes
 * (flights in progress, negative answers).
 *
 * Ownership: the map copies keys and frees its copies; values are borrowed
 * and stay the caller's. Not thread-safe: the loop thread owns each map.
 */
#ifndef MODGATE_STRMAP_H
#define MODGATE_STRMAP_H

#include <stddef.h>

struct strmap;

/* Returns an empty map, or NULL when out of memory. */
struct strmap *strmap_new(void);

/* Frees the map and its key copies, not the values. */
void strmap_free(struct strmap *m);

/* The value stored under key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/* Stores value (not NULL) under key, replacing any previous value.
 * 0, or -1 when out of memory (the map is unchanged). */
int strmap_put(struct strmap *m, const char *key, void *value);

/* Removes key; returns its value, or NULL if absent. */
void *strmap_del(struct strmap *m, const char *key);

size_t strmap_len(const struct strmap *m);

/* Calls fn for every entry; fn returns 1 to remove the entry (after fn
 * returns; fn may free the value then), 0 to keep it. fn must not otherwise
 * change the map. */
void strmap_sweep(struct strmap *m, int (*fn)(const char *key, void *value, void *arg), void *arg);

#endif
