/*
 * libFuzzer target for the INI loader (and, through it, the GOPROXY, listen,
 * duration, pattern, pool, route, breaker, [deny] and [allow] parsers).
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
 *       proxy/config.c proxy/pathglob.c breaker/breaker.c t/fuzz/fuzz_config.c -linih \
 *       -o fuzz_config
 *   ./fuzz_config -max_total_time=60 -dict=t/fuzz/fuzz_config.dict corpus/
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks properties:
 *   - a failed load leaves the config exactly as it was and says why, with
 *     the name in front;
 *   - a successful load dumps to text that loads back to the same config,
 *     pools, routes (in their match order) and breaker settings included;
 *   - a loaded config is consistent: breaker_config_check accepts it, every
 *     pool has 1..16 upstreams with weights in range, every route's pool
 *     exists, routes are in specificity order, and config_route_for agrees
 *     with a plain walk over the routes;
 *   - every [deny] and [allow] rule holds a well-formed pattern and version
 *     glob, a [deny] rule a reason, and the policy verdicts agree with a
 *     plain walk over the rules;
 *   - a pattern is malformed for every name or for none (pathglob reports
 *     syntax errors whatever the name), and pathglob_check_patterns agrees.
 *
 * on_open = direct and routes to direct look for "go" on $PATH: with no go
 * command there, such inputs are (rightly) refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "breaker/breaker.h"
#include "proxy/config.h"
#include "proxy/pathglob.h"
#include "proxy/policy.h"

static int same_config(const struct config *a, const struct config *b)
{
	if (strcmp(a->listen_host, b->listen_host) || a->listen_port != b->listen_port ||
	    strcmp(a->cache_dir, b->cache_dir) || a->n_upstreams != b->n_upstreams ||
	    strcmp(a->noproxy, b->noproxy) || a->list_ttl_s != b->list_ttl_s ||
	    a->negative_ttl_s != b->negative_ttl_s ||
	    a->connect_timeout_ms != b->connect_timeout_ms ||
	    a->first_byte_timeout_ms != b->first_byte_timeout_ms ||
	    a->idle_timeout_ms != b->idle_timeout_ms || a->workers != b->workers ||
	    a->max_connections != b->max_connections)
		return 0;
	for (int i = 0; i < a->n_upstreams; i++)
		if (a->upstreams[i].kind != b->upstreams[i].kind ||
		    strcmp(a->upstreams[i].url, b->upstreams[i].url) ||
		    a->upstreams[i].fallthrough_any != b->upstreams[i].fallthrough_any)
			return 0;
	if (memcmp(&a->breaker, &b->breaker, sizeof(a->breaker)) || a->n_pools != b->n_pools ||
	    a->n_routes != b->n_routes || strcmp(a->go_binary, b->go_binary))
		return 0;
	for (int i = 0; i < a->n_pools; i++) {
		const struct config_pool *p = &a->pools[i], *q = &b->pools[i];

		if (strcmp(p->name, q->name) || p->n_upstreams != q->n_upstreams ||
		    p->on_open != q->on_open || p->retry_budget_pct != q->retry_budget_pct ||
		    p->retry_min_per_sec != q->retry_min_per_sec || p->hedge_ms != q->hedge_ms)
			return 0;
		for (int j = 0; j < p->n_upstreams; j++)
			if (strcmp(p->upstreams[j].url, q->upstreams[j].url) ||
			    p->upstreams[j].weight != q->upstreams[j].weight ||
			    p->upstreams[j].backup != q->upstreams[j].backup ||
			    p->upstreams[j].cred != q->upstreams[j].cred)
				return 0;
	}
	/* Credentials (token_env=PATH and the like reach real variables):
	 * the dump names their sources, and loading it reads the same. */
	if (a->n_creds != b->n_creds || strcmp(a->netrc, b->netrc))
		return 0;
	for (int i = 0; i < a->n_creds; i++)
		if (a->creds[i].kind != b->creds[i].kind || a->creds[i].from != b->creds[i].from ||
		    strcmp(a->creds[i].source, b->creds[i].source) ||
		    strcmp(a->creds[i].secret, b->creds[i].secret))
			return 0;
	for (int i = 0; i < a->n_routes; i++)
		if (strcmp(a->routes[i].pattern, b->routes[i].pattern) ||
		    a->routes[i].target != b->routes[i].target ||
		    a->routes[i].pool != b->routes[i].pool)
			return 0;
	if (a->offline != b->offline || a->n_deny != b->n_deny || a->n_allow != b->n_allow)
		return 0;
	for (int i = 0; i < a->n_deny; i++)
		if (strcmp(a->deny[i].pattern, b->deny[i].pattern) ||
		    strcmp(a->deny[i].version, b->deny[i].version) ||
		    strcmp(a->deny[i].reason, b->deny[i].reason))
			return 0;
	for (int i = 0; i < a->n_allow; i++)
		if (strcmp(a->allow[i].pattern, b->allow[i].pattern) ||
		    strcmp(a->allow[i].version, b->allow[i].version) ||
		    strcmp(a->allow[i].reason, b->allow[i].reason))
			return 0;
	return 1;
}

static void fail(const char *what, const struct config *c)
{
	fprintf(stderr, "inconsistent config: %s (%d pools, %d routes)\n", what, c->n_pools,
	        c->n_routes);
	abort();
}

/* The element and wildcard counts the documented order is made of. */
static void rank(const char *pat, int *elements, int *wildcards, int *catch_all)
{
	*elements = 1;
	*wildcards = 0;
	*catch_all = strspn(pat, "*") == strlen(pat);
	for (const char *p = pat; *p; p++) {
		if (*p == '/')
			(*elements)++;
		else if (*p == '\\' && p[1])
			p++;
		else if (*p == '*' || *p == '?')
			(*wildcards)++;
		else if (*p == '[') {
			(*wildcards)++;
			for (p++; *p && *p != ']'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				break;
		}
	}
}

static void check_consistent(const struct config *c)
{
	static const char *const modules[] = {"golang.org/x/mod", "git.corp.example/team/mod", "a",
	                                      "", "rsc.io/quote/v3"};
	char err[512];

	if (breaker_config_check(&c->breaker, err, sizeof(err)) != 0)
		fail(err, c);
	if (c->n_pools < 0 || c->n_pools > CONFIG_MAX_POOLS || c->n_routes < 0 ||
	    c->n_routes > CONFIG_MAX_ROUTES || (c->n_pools == 0 && c->n_routes != 0) ||
	    (c->n_pools > 0 && c->n_routes == 0))
		fail("counts", c);
	for (int i = 0; i < c->n_pools; i++) {
		const struct config_pool *p = &c->pools[i];

		if (p->n_upstreams < 1 || p->n_upstreams > CONFIG_MAX_POOL_UPSTREAMS || !p->name[0])
			fail("pool upstreams", c);
		if (p->on_open == CONFIG_ON_OPEN_DIRECT && !c->go_binary[0])
			fail("on_open = direct without go", c);
		for (int j = 0; j < p->n_upstreams; j++) {
			const char *u = p->upstreams[j].url;

			if (p->upstreams[j].weight < CONFIG_WEIGHT_MIN ||
			    p->upstreams[j].weight > CONFIG_WEIGHT_MAX ||
			    (strncmp(u, "https://", 8) && strncmp(u, "http://", 7) &&
			     strncmp(u, "file://", 7)))
				fail("pool upstream", c);
		}
	}
	for (int i = 0; i < c->n_routes; i++) {
		const struct config_route *r = &c->routes[i];

		if ((r->target == CONFIG_ROUTE_POOL) != (r->pool >= 0 && r->pool < c->n_pools) ||
		    (r->target != CONFIG_ROUTE_POOL && r->target != CONFIG_ROUTE_DIRECT &&
		     r->target != CONFIG_ROUTE_OFF) ||
		    (r->target == CONFIG_ROUTE_DIRECT && !c->go_binary[0]))
			fail("route target", c);
		if (i > 0) {
			int e0, w0, a0, e1, w1, a1;

			rank(c->routes[i - 1].pattern, &e0, &w0, &a0);
			rank(r->pattern, &e1, &w1, &a1);
			if (a0 > a1 || (a0 == a1 && (e0 < e1 || (e0 == e1 && w0 > w1))))
				fail("route order", c);
		}
	}
	for (size_t m = 0; m < sizeof(modules) / sizeof(modules[0]); m++) {
		int pool = -2, want = c->n_pools ? CONFIG_ROUTE_NONE : CONFIG_ROUTE_CHAIN;
		int want_pool = -1, got = config_route_for(c, modules[m], &pool);

		for (int i = 0; i < c->n_routes; i++) {
			if (pathglob_match(c->routes[i].pattern, "") < 0)
				fail("malformed route pattern", c);
			if (pathglob_match_prefix(c->routes[i].pattern, modules[m]) == 1) {
				want = (int)c->routes[i].target;
				want_pool = c->routes[i].pool;
				break;
			}
		}
		if (got != want || pool != want_pool)
			fail("config_route_for", c);
	}
}

/* [deny] and [allow] as loaded, and policy's verdicts against a plain walk. */
static void check_policy(const struct config *c)
{
	static const char *const modules[] = {"golang.org/x/mod", "git.corp.example/team/mod", "a",
	                                      "example.com/x", "example.com/x/v2"};
	static const char *const versions[] = {"v1.2.3", "v0.0.0-20230101000000-abcdefabcdef",
	                                       "v1.2.3+incompatible", "v2.0.0-rc.1"};

	if (c->n_deny < 0 || c->n_deny > CONFIG_MAX_DENY || c->n_allow < 0 ||
	    c->n_allow > CONFIG_MAX_ALLOW)
		fail("policy counts", c);
	for (int i = 0; i < c->n_deny; i++)
		if (!c->deny[i].reason[0] || pathglob_match(c->deny[i].pattern, "") < 0 ||
		    (c->deny[i].version[0] && pathglob_match(c->deny[i].version, "") < 0))
			fail("deny rule", c);
	for (int i = 0; i < c->n_allow; i++)
		if (c->allow[i].version[0] || pathglob_match(c->allow[i].pattern, "") < 0)
			fail("allow rule", c);
	for (size_t m = 0; m < sizeof(modules) / sizeof(modules[0]); m++) {
		int allowed = c->n_allow == 0, filters = 0;

		for (int i = 0; i < c->n_allow; i++)
			allowed |= pathglob_match_prefix(c->allow[i].pattern, modules[m]) == 1;
		for (int i = 0; i < c->n_deny; i++)
			filters |= c->deny[i].version[0] &&
			           pathglob_match_prefix(c->deny[i].pattern, modules[m]) == 1;
		if (policy_filters(c, modules[m]) != filters)
			fail("policy_filters", c);
		for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
			enum policy_verdict want = allowed ? POLICY_OK : POLICY_NOT_ALLOWED;
			const struct config_policy_rule *r, *want_r = NULL;

			for (int i = 0; i < c->n_deny && want == POLICY_OK; i++) {
				const struct config_policy_rule *d = &c->deny[i];

				if (!d->version[0] &&
				    pathglob_match_prefix(d->pattern, modules[m]) == 1)
					want = POLICY_DENIED, want_r = d;
			}
			for (int i = 0; i < c->n_deny && want == POLICY_OK; i++) {
				const struct config_policy_rule *d = &c->deny[i];

				if (d->version[0] && pathglob_match(d->version, versions[v]) == 1 &&
				    pathglob_match_prefix(d->pattern, modules[m]) == 1)
					want = POLICY_DENIED, want_r = d;
			}
			if (policy_check_version(c, modules[m], versions[v], &r) != want ||
			    r != want_r)
				fail("policy_check_version", c);
		}
	}
}

static void check_roundtrip(const struct config *c)
{
	struct config back;
	char err[1024], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	config_dump(c, f);
	if (fclose(f) != 0)
		abort();
	config_init_defaults(&back);
	back.workers = 64; /* differ from c somewhere, so every key must be dumped */
	if (config_load_string(&back, text, "dump", err, sizeof(err)) != 0) {
		fprintf(stderr, "dump does not load back: %s\n%s", err, text);
		abort();
	}
	if (!same_config(&back, c)) {
		fprintf(stderr, "dump loads back to another config:\n%s", text);
		abort();
	}
	free(text);
}

/* The first line as a pattern, the second as a name. */
static void check_glob(const char *text)
{
	char pat[256], name[256], err[512];
	const char *nl = strchr(text, '\n'), *nl2;
	size_t n;
	int m, m_empty;

	n = nl ? (size_t)(nl - text) : strlen(text);
	if (n >= sizeof(pat))
		return;
	memcpy(pat, text, n);
	pat[n] = '\0';
	name[0] = '\0';
	if (nl) {
		nl2 = strchr(nl + 1, '\n');
		n = nl2 ? (size_t)(nl2 - nl - 1) : strlen(nl + 1);
		if (n < sizeof(name)) {
			memcpy(name, nl + 1, n);
			name[n] = '\0';
		}
	}
	m = pathglob_match(pat, name);
	m_empty = pathglob_match(pat, "");
	if ((m < 0) != (m_empty < 0)) {
		fprintf(stderr, "pattern \"%s\": malformed for one name, not another\n", pat);
		abort();
	}
	/* The list checker splits at ',' and drops one trailing '/'. */
	n = strlen(pat);
	if (!strchr(pat, ',') && !(n > 0 && pat[n - 1] == '/')) {
		int rc = pathglob_check_patterns(pat, err, sizeof(err));

		if ((rc < 0) != (m < 0)) {
			fprintf(stderr, "pattern \"%s\": check %d, match %d\n", pat, rc, m);
			abort();
		}
	}
	(void)pathglob_match_prefix(pat, name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c, before;
	char err[1024];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* the string entry point stops at the first NUL */

	config_init_defaults(&c);
	before = c;
	err[0] = '\0';
	if (config_load_string(&c, text, "fuzz", err, sizeof(err)) == 0) {
		check_roundtrip(&c);
		check_consistent(&c);
		check_policy(&c);
		(void)config_is_noproxy(&c, "git.corp.example/team/mod");
		(void)config_is_noproxy(&c, "");
	} else {
		if (strncmp(err, "fuzz:", 5) != 0 || !same_config(&c, &before)) {
			fprintf(stderr, "bad failure: \"%s\"\n", err);
			abort();
		}
	}
	check_glob(text);
	free(text);
	return 0;
}
