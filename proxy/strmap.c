/*
 * strmap — separate chaining with a power-of-two bucket array that doubles
 * when the load passes 1. Small and predictable beats clever here: the maps
 * hold in-flight fetches and short-lived negative answers, thousands at most.
 */
#include "proxy/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_entry {
	struct strmap_entry *next;
	uint64_t hash;
	void *value;
	char key[];
};

struct strmap {
	struct strmap_entry **buckets;
	size_t nbuckets; /* power of two */
	size_t len;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct strmap *strmap_new(void)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->nbuckets = 64;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return NULL;
	}
	return m;
}

void strmap_free(struct strmap *m)
{
	size_t i;
	struct strmap_entry *e, *next;

	if (!m)
		return;
	for (i = 0; i < m->nbuckets; i++) {
		for (e = m->buckets[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	free(m);
}

static struct strmap_entry **find_slot(const struct strmap *m, const char *key, uint64_t h)
{
	struct strmap_entry **pp = &m->buckets[h & (m->nbuckets - 1)];

	while (*pp && !((*pp)->hash == h && strcmp((*pp)->key, key) == 0))
		pp = &(*pp)->next;
	return pp;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_entry *e = *find_slot(m, key, hash_str(key));

	return e ? e->value : NULL;
}

static void grow(struct strmap *m)
{
	size_t n = m->nbuckets * 2, i;
	struct strmap_entry **b = calloc(n, sizeof(*b)), *e, *next;

	if (!b)
		return; /* keep the longer chains; still correct */
	for (i = 0; i < m->nbuckets; i++) {
		for (e = m->buckets[i]; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	uint64_t h = hash_str(key);
	struct strmap_entry **pp = find_slot(m, key, h), *e;
	size_t klen;

	if (*pp) {
		(*pp)->value = value;
		return 0;
	}
	klen = strlen(key);
	e = malloc(sizeof(*e) + klen + 1);
	if (!e)
		return -1;
	memcpy(e->key, key, klen + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*pp = e;
	if (++m->len > m->nbuckets)
		grow(m);
	return 0;
}

void *strmap_del(struct strmap *m, const char *key)
{
	struct strmap_entry **pp = find_slot(m, key, hash_str(key)), *e = *pp;
	void *v;

	if (!e)
		return NULL;
	*pp = e->next;
	v = e->value;
	free(e);
	m->len--;
	return v;
}

size_t strmap_len(const struct strmap *m)
{
	return m->len;
}

void strmap_sweep(struct strmap *m, int (*fn)(const char *, void *, void *), void *arg)
{
	size_t i;
	struct strmap_entry **pp, *e;

	for (i = 0; i < m->nbuckets; i++) {
		pp = &m->buckets[i];
		while ((e = *pp)) {
			if (fn(e->key, e->value, arg)) {
				*pp = e->next;
				free(e);
				m->len--;
			} else {
				pp = &e->next;
			}
		}
	}
}
