#include "cache/negcache.h"

#include "proxy/strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cache_neg {
	struct strmap *map;
	size_t max;
};

struct cache_neg *cache_neg_new(size_t max_entries)
{
	struct cache_neg *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->map = strmap_new();
	if (!n->map) {
		free(n);
		return NULL;
	}
	n->max = max_entries;
	return n;
}

static int drop_all(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
	return 1;
}

void cache_neg_clear(struct cache_neg *n)
{
	strmap_sweep(n->map, drop_all, NULL);
}

void cache_neg_free(struct cache_neg *n)
{
	if (!n)
		return;
	cache_neg_clear(n);
	strmap_free(n->map);
	free(n);
}

static int drop_expired(const char *key, void *value, void *arg)
{
	struct cache_neg_entry *e = value;
	time_t now = *(const time_t *)arg;

	(void)key;
	if (e->expires > now)
		return 0;
	free(e);
	return 1;
}

void cache_neg_put(struct cache_neg *n, const char *rel, int status, const char *body, time_t now,
                   int ttl)
{
	struct cache_neg_entry *e;
	size_t len;

	if (ttl <= 0)
		return;
	e = strmap_get(n->map, rel);
	if (!e) {
		if (strmap_len(n->map) >= n->max)
			strmap_sweep(n->map, drop_expired, &now);
		if (strmap_len(n->map) >= n->max)
			return;
		e = malloc(sizeof(*e));
		if (!e)
			return;
		if (strmap_put(n->map, rel, e) < 0) {
			free(e);
			return;
		}
	}
	e->status = status;
	e->expires = now + ttl;
	len = strcspn(body, "\r\n");
	if (len >= sizeof(e->body))
		len = sizeof(e->body) - 1;
	memcpy(e->body, body, len);
	e->body[len] = '\0';
}

const struct cache_neg_entry *cache_neg_get(struct cache_neg *n, const char *rel, time_t now)
{
	struct cache_neg_entry *e = strmap_get(n->map, rel);

	if (e && e->expires <= now) {
		free(strmap_del(n->map, rel));
		return NULL;
	}
	return e;
}

void cache_neg_forget(struct cache_neg *n, const char *rel)
{
	free(strmap_del(n->map, rel));
}

size_t cache_neg_len(const struct cache_neg *n)
{
	return strmap_len(n->map);
}
