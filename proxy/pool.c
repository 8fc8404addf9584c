/*
 * pool — upstreams, breakers, smooth weighted round robin and the walk.
 *
 * Smooth weighted round robin (nginx's ngx_http_upstream_get_peer): every
 * pick adds each eligible member's weight to its running score, takes the
 * highest, and takes the total back from the winner. Over any window the
 * picks follow the weights, and no member gets a burst.
 *
 * Eligibility is asked of the breaker's state (which may move an open
 * breaker whose cool-down is over to half-open, but takes no probe slot),
 * and only the chosen member's breaker is asked for a permit, so a
 * half-open breaker hands out its probe slots to real attempts only.
 */
#include "proxy/pool.h"

#include "proxy/config.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Points up at its credential (1-based into cfg->creds, 0 for none): a
 * copy, so the upstream may outlive the config. */
static void set_cred(struct upstream *up, const struct config *cfg, int cred)
{
	if (cred > 0 && cred <= cfg->n_creds) {
		up->cred_value = cfg->creds[cred - 1];
		up->cred = &up->cred_value;
	} else {
		memset(&up->cred_value, 0, sizeof(up->cred_value));
		up->cred = NULL;
	}
}

static void upstream_unref(struct upstream *up)
{
	if (--up->refs > 0)
		return;
	/* The secret does not linger in freed memory. */
	memset(&up->cred_value, 0, sizeof(up->cred_value));
	free(up);
}

/* The upstream for url in s, made on first sight: taken over from prev when
 * it has the URL, else new. The config gives one URL one credential; an
 * upstream taken over gets it (and the new breaker settings) only once the
 * whole set is built (adopt), so that a failed build changes nothing. */
static struct upstream *find_or_add(struct pool_set *s, const struct pool_set *prev,
                                    const char *url, int cred, uint64_t seed, int *creds)
{
	struct upstream *up = NULL;
	struct config_upstream tmp = {.kind = CONFIG_UP_URL};
	int i;

	for (i = 0; i < s->n_ups; i++)
		if (strcmp(s->ups[i]->url, url) == 0)
			return s->ups[i];
	if (s->n_ups >= POOL_MAX_UPSTREAMS)
		return NULL;
	for (i = 0; prev && i < prev->n_ups && !up; i++)
		if (strcmp(prev->ups[i]->url, url) == 0)
			up = prev->ups[i];
	if (up) {
		up->refs++;
	} else {
		up = calloc(1, sizeof(*up));
		if (!up)
			return NULL;
		up->refs = 1;
		snprintf(up->url, sizeof(up->url), "%s", url);
		snprintf(tmp.url, sizeof(tmp.url), "%s", url);
		config_upstream_redacted(&tmp, up->shown, sizeof(up->shown));
		if (breaker_init(&up->breaker, &s->cfg.breaker, seed ^ (uint64_t)s->n_ups) < 0) {
			free(up);
			return NULL;
		}
	}
	creds[s->n_ups] = cred;
	s->ups[s->n_ups++] = up;
	if (up->refs == 1)
		set_cred(up, &s->cfg, cred);
	return up;
}

struct pool_set *pool_set_ref(struct pool_set *s)
{
	s->refs++;
	return s;
}

void pool_set_unref(struct pool_set *s)
{
	int i;

	if (!s || --s->refs > 0)
		return;
	for (i = 0; i < s->n_ups; i++)
		upstream_unref(s->ups[i]);
	/* No secret left in freed memory. */
	OPENSSL_cleanse(s->cfg.creds, sizeof(s->cfg.creds));
	OPENSSL_cleanse(&s->cfg.admin_token, sizeof(s->cfg.admin_token));
	free(s);
}

/* Builds s's pools and upstreams from s->cfg. 0, or -1 with err (what was
 * added so far is s's, freed with it). */
static int build(struct pool_set *s, const struct pool_set *prev, uint64_t seed, int *creds,
                 char *err, size_t errlen)
{
	const struct config *cfg = &s->cfg;
	struct pool *p;
	int i, j;

	for (i = 0; i < cfg->n_pools; i++) {
		const struct config_pool *cp = &cfg->pools[i];

		p = &s->pools[s->n_pools++];
		snprintf(p->name, sizeof(p->name), "%s", cp->name);
		p->on_open = cp->on_open;
		p->hedge_ms = cp->hedge_ms;
		if (budget_init(&p->budget, cp->retry_budget_pct / 100.0, cp->retry_min_per_sec,
		                BUDGET_DEFAULT_TTL_MS) < 0) {
			budget_config_check(cp->retry_budget_pct / 100.0, cp->retry_min_per_sec,
			                    BUDGET_DEFAULT_TTL_MS, err, errlen);
			return -1;
		}
		for (j = 0; j < cp->n_upstreams; j++) {
			struct pool_member *m = &p->members[p->n++];

			m->kind = CONFIG_UP_URL;
			m->up = find_or_add(s, prev, cp->upstreams[j].url, cp->upstreams[j].cred,
			                    seed, creds);
			m->weight = cp->upstreams[j].weight;
			m->backup = cp->upstreams[j].backup;
			if (!m->up) {
				snprintf(err, errlen, "too many upstreams (or out of memory)");
				return -1;
			}
		}
	}
	if (cfg->n_pools > 0)
		return 0;
	/* No pools: the GOPROXY chain serves every module. */
	p = &s->pools[s->n_pools++];
	s->chain = p;
	snprintf(p->name, sizeof(p->name), "GOPROXY");
	p->chain = 1;
	p->on_open = CONFIG_ON_OPEN_503;
	budget_init(&p->budget, BUDGET_DEFAULT_RATIO, BUDGET_DEFAULT_MIN_PER_SEC,
	            BUDGET_DEFAULT_TTL_MS);
	for (j = 0; j < cfg->n_upstreams; j++) {
		struct pool_member *m = &p->members[p->n++];

		m->kind = cfg->upstreams[j].kind;
		m->weight = 1;
		m->fallthrough_any = cfg->upstreams[j].fallthrough_any;
		if (m->kind != CONFIG_UP_URL)
			continue;
		m->up = find_or_add(s, prev, cfg->upstreams[j].url, cfg->upstreams[j].cred, seed,
		                    creds);
		if (!m->up) {
			snprintf(err, errlen, "too many upstreams (or out of memory)");
			return -1;
		}
	}
	return 0;
}

struct pool_set *pool_set_new(const struct config *cfg, const struct pool_set *prev, uint64_t seed,
                              char *err, size_t errlen)
{
	struct pool_set *s;
	int creds[POOL_MAX_UPSTREAMS], i;

	if (breaker_config_check(&cfg->breaker, err, errlen) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->refs = 1;
	s->cfg = *cfg;
	if (build(s, prev, seed, creds, err, errlen) < 0) {
		pool_set_unref(s);
		return NULL;
	}
	/* Built: the upstreams taken over from prev get the new settings;
	 * their state, drain flag and counters carry over. */
	for (i = 0; i < s->n_ups; i++) {
		if (s->ups[i]->refs == 1)
			continue;
		breaker_reconfigure(&s->ups[i]->breaker, &s->cfg.breaker);
		set_cred(s->ups[i], &s->cfg, creds[i]);
	}
	return s;
}

enum pool_route pool_route(struct pool_set *s, const char *module, struct pool **pool)
{
	int idx = -1;

	*pool = NULL;
	if (s->chain) {
		*pool = s->chain;
		return POOL_ROUTE_POOL;
	}
	switch (config_route_for(&s->cfg, module, &idx)) {
	case CONFIG_ROUTE_POOL:
		*pool = &s->pools[idx];
		return POOL_ROUTE_POOL;
	case CONFIG_ROUTE_DIRECT:
		return POOL_ROUTE_DIRECT;
	case CONFIG_ROUTE_OFF:
		return POOL_ROUTE_OFF;
	default:
		return POOL_ROUTE_NONE;
	}
}

int pool_swrr_pick(struct pool_member *members, int n, const int *eligible)
{
	int i, best = -1, total = 0;

	for (i = 0; i < n; i++) {
		if (!eligible[i])
			continue;
		members[i].current += members[i].weight;
		total += members[i].weight;
		if (best < 0 || members[i].current > members[best].current)
			best = i;
	}
	if (best >= 0)
		members[best].current -= total;
	return best;
}

void pool_observe_latency(struct upstream *up, int64_t ms)
{
	int b = 0;

	while (b < POOL_LATENCY_BUCKETS - 1 && ms > (1LL << b))
		b++;
	up->latency[b]++;
}

int64_t pool_latency_quantile(const struct upstream *up, double q)
{
	uint64_t total = 0, seen = 0;
	int b;

	for (b = 0; b < POOL_LATENCY_BUCKETS; b++)
		total += up->latency[b];
	if (total == 0)
		return 0;
	for (b = 0; b < POOL_LATENCY_BUCKETS; b++) {
		seen += up->latency[b];
		if ((double)seen >= q * (double)total)
			break;
	}
	if (b >= POOL_LATENCY_BUCKETS - 1)
		b = POOL_LATENCY_BUCKETS - 2; /* the last bucket has no bound: show the one below */
	return 1LL << b;
}

int pool_upstream_usable(struct upstream *up, int64_t now)
{
	return !up->drained && breaker_state(&up->breaker, now) != BREAKER_OPEN;
}

void pool_walk_init(struct pool_walk *w, struct pool *pool)
{
	memset(w, 0, sizeof(*w));
	w->pool = pool;
}

static enum pool_next next_in_chain(struct pool_walk *w, int64_t now, struct pool_member **member,
                                    struct breaker_permit *permit)
{
	struct pool *p = w->pool;
	struct pool_member *m;

	while (w->chain_at < p->n) {
		m = &p->members[w->chain_at++];
		if (m->kind == CONFIG_UP_DIRECT)
			return POOL_NEXT_DIRECT;
		if (m->kind == CONFIG_UP_OFF)
			return POOL_NEXT_OFF;
		if (!m->up->drained && breaker_allow(&m->up->breaker, now, permit)) {
			*member = m;
			return POOL_NEXT_UPSTREAM;
		}
		/* An open breaker is a failure we did not wait for: after ','
		 * the go command's meaning is to stop here. */
		if (!m->fallthrough_any)
			return POOL_NEXT_OPEN;
	}
	return POOL_NEXT_EXHAUSTED;
}

static enum pool_next next_in_pool(struct pool_walk *w, int64_t now, struct pool_member **member,
                                   struct breaker_permit *permit)
{
	struct pool *p = w->pool;
	int eligible[POOL_MAX_MEMBERS];
	int i, idx, backups, any_open;

	for (;;) {
		any_open = 0;
		idx = -1;
		/* Primaries first; backups only when no primary is usable. */
		for (backups = 0; backups <= 1 && idx < 0; backups++) {
			for (i = 0; i < p->n; i++) {
				int open = !pool_upstream_usable(p->members[i].up, now);

				eligible[i] = !(w->tried & (1ULL << i)) &&
				              p->members[i].backup == backups && !open;
				if (open && !(w->tried & (1ULL << i)))
					any_open = 1;
			}
			idx = pool_swrr_pick(p->members, p->n, eligible);
		}
		if (idx < 0)
			return any_open ? POOL_NEXT_OPEN : POOL_NEXT_EXHAUSTED;
		w->tried |= 1ULL << idx;
		if (breaker_allow(&p->members[idx].up->breaker, now, permit)) {
			*member = &p->members[idx];
			return POOL_NEXT_UPSTREAM;
		}
		/* Half-open with its probe slots taken: look further. */
	}
}

enum pool_next pool_walk_next(struct pool_walk *w, int failed, int64_t now,
                              struct pool_member **member, struct breaker_permit *permit)
{
	struct pool *p = w->pool;
	enum pool_next r;

	*member = NULL;
	/* After a failure the go command's ',' ends the chain here. */
	if (w->attempts > 0 && failed && p->chain && !p->members[w->chain_at - 1].fallthrough_any)
		return POOL_NEXT_STOP;
	if (w->attempts == 0)
		budget_deposit(&p->budget, now);
	r = p->chain ? next_in_chain(w, now, member, permit) : next_in_pool(w, now, member, permit);
	if (r != POOL_NEXT_UPSTREAM)
		return r;
	/* A retry after a failure spends the pool's retry budget; asked only
	 * once there is an upstream to retry on. */
	if (w->attempts > 0 && failed && !budget_try_withdraw(&p->budget, now)) {
		breaker_release(&(*member)->up->breaker, permit);
		*member = NULL;
		return POOL_NEXT_BUDGET;
	}
	w->attempts++;
	(*member)->up->requests++;
	return r;
}

int64_t pool_retry_after_ms(struct pool *p, int64_t now)
{
	int64_t best = -1, ms;
	int i;

	for (i = 0; i < p->n; i++) {
		if (!p->members[i].up)
			continue;
		/* Only breakers that will turn half-open by themselves count:
		 * closed ones (0) are not why we refused, forced ones (-1) have
		 * no end. */
		ms = breaker_ms_until_half_open(&p->members[i].up->breaker, now);
		if (ms > 0 && (best < 0 || ms < best))
			best = ms;
	}
	return best;
}

void pool_describe(struct pool *p, int64_t now, char *buf, size_t len)
{
	size_t off = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; i < p->n && off < len; i++) {
		struct upstream *up = p->members[i].up;
		enum breaker_state st;
		int64_t ms;

		if (!up)
			continue;
		st = breaker_state(&up->breaker, now);
		ms = breaker_ms_until_half_open(&up->breaker, now);
		if (up->drained)
			n = snprintf(buf + off, len - off, "%s%s: drained", off ? ", " : "",
			             up->shown);
		else if (st == BREAKER_OPEN && ms > 0)
			n = snprintf(buf + off, len - off, "%s%s: open (retry in %.1fs)",
			             off ? ", " : "", up->shown, ms / 1000.0);
		else
			n = snprintf(buf + off, len - off, "%s%s: %s%s", off ? ", " : "", up->shown,
			             breaker_state_name(st),
			             breaker_mode(&up->breaker) != BREAKER_AUTO ? " (forced)" : "");
		if (n < 0)
			break;
		off += (size_t)n;
	}
}
