/*
 * reload — comparing two configurations, setting by setting.
 *
 * Strings are compared as strings, never with memcmp: the loaders write
 * them with snprintf, so the bytes after the NUL may differ between two
 * configs that say the same thing.
 */
#include "proxy/reload.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Appends one item to a "; " or ", " separated list in buf. */
struct list {
	char *buf;
	size_t len, off;
	const char *sep;
	int n;
};

static void add(struct list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct list *l, const char *fmt, ...)
{
	va_list ap;
	int w;

	l->n++;
	if (l->off >= l->len)
		return;
	w = snprintf(l->buf + l->off, l->len - l->off, "%s", l->n > 1 ? l->sep : "");
	if (w > 0)
		l->off += (size_t)w;
	if (l->off >= l->len)
		return;
	va_start(ap, fmt);
	w = vsnprintf(l->buf + l->off, l->len - l->off, fmt, ap);
	va_end(ap);
	if (w > 0)
		l->off += (size_t)w;
}

/* host:port as the config file writes it ("off" for port 0). */
static const char *addr(const char *host, int port, char *buf, size_t len)
{
	if (port == 0)
		snprintf(buf, len, "off");
	else
		snprintf(buf, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
	return buf;
}

int reload_restart_needed(const struct config *cur, const struct config *next, char *buf,
                          size_t len)
{
	struct list l = {buf, len, 0, "; ", 0};
	char a[CONFIG_HOST_MAX + 16], b[CONFIG_HOST_MAX + 16];

	if (len > 0)
		buf[0] = '\0';
	if (strcmp(cur->listen_host, next->listen_host) != 0 ||
	    cur->listen_port != next->listen_port)
		add(&l, "[server] listen %s -> %s",
		    addr(cur->listen_host, cur->listen_port, a, sizeof(a)),
		    addr(next->listen_host, next->listen_port, b, sizeof(b)));
	if (strcmp(cur->admin_host, next->admin_host) != 0 || cur->admin_port != next->admin_port)
		add(&l, "[admin] listen %s -> %s",
		    addr(cur->admin_host, cur->admin_port, a, sizeof(a)),
		    addr(next->admin_host, next->admin_port, b, sizeof(b)));
	if (strcmp(cur->cache_dir, next->cache_dir) != 0)
		add(&l, "[server] cache %.300s -> %.300s", cur->cache_dir, next->cache_dir);
	if (cur->workers != next->workers)
		add(&l, "[server] workers %d -> %d", cur->workers, next->workers);
	/* On or off changes what the listener speaks; new files for a listener
	 * that stays on TLS are a rotation, which a reload does. */
	if (!cur->tls_cert[0] != !next->tls_cert[0])
		add(&l, "[server] tls %s -> %s", cur->tls_cert[0] ? "on" : "off",
		    next->tls_cert[0] ? "on" : "off");
	if (strcmp(cur->sumdb_name, next->sumdb_name) != 0 ||
	    strcmp(cur->sumdb_key, next->sumdb_key) != 0 ||
	    strcmp(cur->sumdb_url, next->sumdb_url) != 0)
		add(&l, "[sumdb] database %.200s -> %.200s",
		    cur->sumdb_name[0] ? cur->sumdb_name : "off",
		    next->sumdb_name[0] ? next->sumdb_name : "off");
	return l.n;
}

static int creds_equal(const struct config *a, const struct config *b)
{
	int i;

	if (a->n_creds != b->n_creds || a->sumdb_cred != b->sumdb_cred)
		return 0;
	for (i = 0; i < a->n_creds; i++) {
		const struct config_cred *x = &a->creds[i], *y = &b->creds[i];

		if (x->kind != y->kind || x->from != y->from || strcmp(x->source, y->source) != 0 ||
		    strcmp(x->secret, y->secret) != 0)
			return 0;
	}
	return 1;
}

static int chain_equal(const struct config *a, const struct config *b)
{
	int i;

	if (a->n_upstreams != b->n_upstreams)
		return 0;
	for (i = 0; i < a->n_upstreams; i++) {
		const struct config_upstream *x = &a->upstreams[i], *y = &b->upstreams[i];

		if (x->kind != y->kind || strcmp(x->url, y->url) != 0 ||
		    x->fallthrough_any != y->fallthrough_any || x->cred != y->cred)
			return 0;
	}
	return 1;
}

static int pools_equal(const struct config *a, const struct config *b)
{
	int i, j;

	if (a->n_pools != b->n_pools)
		return 0;
	for (i = 0; i < a->n_pools; i++) {
		const struct config_pool *p = &a->pools[i], *q = &b->pools[i];

		if (strcmp(p->name, q->name) != 0 || p->n_upstreams != q->n_upstreams ||
		    p->on_open != q->on_open || p->retry_budget_pct != q->retry_budget_pct ||
		    p->retry_min_per_sec != q->retry_min_per_sec || p->hedge_ms != q->hedge_ms)
			return 0;
		for (j = 0; j < p->n_upstreams; j++) {
			const struct config_pool_upstream *x = &p->upstreams[j],
			                                  *y = &q->upstreams[j];

			if (strcmp(x->url, y->url) != 0 || x->weight != y->weight ||
			    x->backup != y->backup || x->cred != y->cred)
				return 0;
		}
	}
	return 1;
}

static int rules_equal(const struct config_policy_rule *a, int na,
                       const struct config_policy_rule *b, int nb)
{
	int i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].pattern, b[i].pattern) != 0 ||
		    strcmp(a[i].version, b[i].version) != 0 ||
		    strcmp(a[i].reason, b[i].reason) != 0)
			return 0;
	return 1;
}

static int routes_equal(const struct config *a, const struct config *b)
{
	int i;

	if (a->n_routes != b->n_routes)
		return 0;
	for (i = 0; i < a->n_routes; i++) {
		const struct config_route *x = &a->routes[i], *y = &b->routes[i];

		/* Pools are compared by name: an index may move when one is
		 * added before it. */
		if (strcmp(x->pattern, y->pattern) != 0 || x->target != y->target ||
		    (x->target == CONFIG_ROUTE_POOL &&
		     strcmp(a->pools[x->pool].name, b->pools[y->pool].name) != 0))
			return 0;
	}
	return 1;
}

int reload_changes(const struct config *cur, const struct config *next, char *buf, size_t len)
{
	struct list l = {buf, len, 0, ", ", 0};

	if (len > 0)
		buf[0] = '\0';
	if (!pools_equal(cur, next))
		add(&l, "pools");
	if (!routes_equal(cur, next))
		add(&l, "routes");
	if (!chain_equal(cur, next))
		add(&l, "[upstream] proxy");
	if (strcmp(cur->noproxy, next->noproxy) != 0)
		add(&l, "[upstream] noproxy");
	if (strcmp(cur->netrc, next->netrc) != 0)
		add(&l, "[upstream] netrc");
	if (!creds_equal(cur, next))
		add(&l, "credentials");
	if (memcmp(&cur->breaker, &next->breaker, sizeof(cur->breaker)) != 0)
		add(&l, "[breaker]");
	if (cur->connect_timeout_ms != next->connect_timeout_ms ||
	    cur->first_byte_timeout_ms != next->first_byte_timeout_ms ||
	    cur->idle_timeout_ms != next->idle_timeout_ms ||
	    cur->metadata_timeout_ms != next->metadata_timeout_ms ||
	    cur->budget_ms != next->budget_ms)
		add(&l, "[timeouts]");
	if (cur->list_ttl_s != next->list_ttl_s || cur->negative_ttl_s != next->negative_ttl_s)
		add(&l, "[cache] ttl");
	if (strcmp(cur->nosumdb, next->nosumdb) != 0)
		add(&l, "[sumdb] nosumdb");
	if (cur->log_level != next->log_level)
		add(&l, "[log] level");
	if (cur->log_json != next->log_json || strcmp(cur->log_output, next->log_output) != 0)
		add(&l, "[log] output");
	if (!rules_equal(cur->deny, cur->n_deny, next->deny, next->n_deny))
		add(&l, "[deny]");
	if (!rules_equal(cur->allow, cur->n_allow, next->allow, next->n_allow))
		add(&l, "[allow]");
	if (cur->offline != next->offline)
		add(&l, "[server] offline %s", next->offline ? "on" : "off");
	if (cur->max_connections != next->max_connections)
		add(&l, "[server] max_connections %d -> %d", cur->max_connections,
		    next->max_connections);
	if (cur->stop_timeout_ms != next->stop_timeout_ms)
		add(&l, "[server] stop_timeout");
	/* The certificates themselves: the same paths may hold a renewal. */
	if (memcmp(cur->tls_fingerprint, next->tls_fingerprint, sizeof(cur->tls_fingerprint)) != 0)
		add(&l, "[server] tls");
	/* The secret compared too: rotating the file's content is a change. */
	if (memcmp(&cur->admin_token, &next->admin_token, sizeof(cur->admin_token)) != 0)
		add(&l, "[admin] token");
	if (l.n == 0 && len > 0)
		snprintf(buf, len, "nothing");
	return l.n;
}
