/*
 * Unit tests for proxy/config: defaults, GOPROXY lists, listen addresses,
 * environment precedence, every INI key and every INI error with its line,
 * pools, routes and breaker settings, and the dump loading back to the same
 * configuration.
 *
 * The group runs with PATH set to a temporary folder holding a fake "go"
 * (an executable shell script), so on_open = direct and routes to direct
 * find it whatever the machine has; the tests about "no go on PATH" set
 * PATH themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "breaker/breaker.h"
#include "proxy/config.h"
#include "tlsgen.h"

/* ---- helpers -------------------------------------------------------------- */

/* The upstream list as "entry<sep>entry<sep>...", every entry followed by '|'
 * when fallthrough_any is set and by ',' otherwise, so the separators the
 * parser recorded are all visible. */
static void render_upstreams(const struct config *c, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < c->n_upstreams && used < len; i++) {
		const struct config_upstream *u = &c->upstreams[i];
		const char *s = u->kind == CONFIG_UP_DIRECT ? "direct"
		                : u->kind == CONFIG_UP_OFF  ? "off"
		                                            : u->url;

		if (u->kind != CONFIG_UP_URL && u->url[0])
			fail_msg("keyword entry %d carries url \"%s\"", i, u->url);
		used += (size_t)snprintf(buf + used, len - used, "%s%c", s,
		                         u->fallthrough_any ? '|' : ',');
	}
}

static void assert_same_rules(const struct config_policy_rule *a, int na,
                              const struct config_policy_rule *b, int nb)
{
	assert_int_equal(na, nb);
	for (int i = 0; i < na; i++) {
		assert_string_equal(a[i].pattern, b[i].pattern);
		assert_string_equal(a[i].version, b[i].version);
		assert_string_equal(a[i].reason, b[i].reason);
	}
}

static void assert_same_config(const struct config *a, const struct config *b)
{
	assert_string_equal(a->listen_host, b->listen_host);
	assert_int_equal(a->listen_port, b->listen_port);
	assert_string_equal(a->cache_dir, b->cache_dir);
	assert_int_equal(a->n_upstreams, b->n_upstreams);
	for (int i = 0; i < a->n_upstreams; i++) {
		assert_int_equal(a->upstreams[i].kind, b->upstreams[i].kind);
		assert_string_equal(a->upstreams[i].url, b->upstreams[i].url);
		assert_int_equal(a->upstreams[i].fallthrough_any, b->upstreams[i].fallthrough_any);
		assert_int_equal(a->upstreams[i].cred, b->upstreams[i].cred);
	}
	assert_int_equal(a->n_creds, b->n_creds);
	for (int i = 0; i < a->n_creds; i++) {
		assert_int_equal(a->creds[i].kind, b->creds[i].kind);
		assert_int_equal(a->creds[i].from, b->creds[i].from);
		assert_string_equal(a->creds[i].source, b->creds[i].source);
		assert_string_equal(a->creds[i].secret, b->creds[i].secret);
	}
	assert_string_equal(a->netrc, b->netrc);
	assert_string_equal(a->sumdb_url, b->sumdb_url);
	assert_int_equal(a->sumdb_cred, b->sumdb_cred);
	assert_int_equal(a->admin_token.from, b->admin_token.from);
	assert_string_equal(a->admin_token.source, b->admin_token.source);
	assert_string_equal(a->admin_token.secret, b->admin_token.secret);
	assert_string_equal(a->noproxy, b->noproxy);
	assert_int_equal(a->list_ttl_s, b->list_ttl_s);
	assert_int_equal(a->negative_ttl_s, b->negative_ttl_s);
	assert_int_equal(a->connect_timeout_ms, b->connect_timeout_ms);
	assert_int_equal(a->first_byte_timeout_ms, b->first_byte_timeout_ms);
	assert_int_equal(a->idle_timeout_ms, b->idle_timeout_ms);
	assert_int_equal(a->workers, b->workers);
	assert_int_equal(a->max_connections, b->max_connections);
	assert_int_equal(a->stop_timeout_ms, b->stop_timeout_ms);
	assert_memory_equal(&a->breaker, &b->breaker, sizeof(a->breaker));
	assert_int_equal(a->n_pools, b->n_pools);
	for (int i = 0; i < a->n_pools; i++) {
		const struct config_pool *p = &a->pools[i], *q = &b->pools[i];

		assert_string_equal(p->name, q->name);
		assert_int_equal(p->n_upstreams, q->n_upstreams);
		for (int j = 0; j < p->n_upstreams; j++) {
			assert_string_equal(p->upstreams[j].url, q->upstreams[j].url);
			assert_int_equal(p->upstreams[j].weight, q->upstreams[j].weight);
			assert_int_equal(p->upstreams[j].backup, q->upstreams[j].backup);
			assert_int_equal(p->upstreams[j].cred, q->upstreams[j].cred);
		}
		assert_int_equal(p->on_open, q->on_open);
		assert_int_equal(p->retry_budget_pct, q->retry_budget_pct);
		assert_int_equal(p->retry_min_per_sec, q->retry_min_per_sec);
		assert_int_equal(p->hedge_ms, q->hedge_ms);
	}
	assert_int_equal(a->n_routes, b->n_routes);
	for (int i = 0; i < a->n_routes; i++) {
		assert_string_equal(a->routes[i].pattern, b->routes[i].pattern);
		assert_int_equal(a->routes[i].target, b->routes[i].target);
		assert_int_equal(a->routes[i].pool, b->routes[i].pool);
	}
	assert_string_equal(a->go_binary, b->go_binary);
	assert_int_equal(a->offline, b->offline);
	assert_string_equal(a->tls_cert, b->tls_cert);
	assert_string_equal(a->tls_key, b->tls_key);
	assert_memory_equal(a->tls_fingerprint, b->tls_fingerprint, sizeof(a->tls_fingerprint));
	assert_same_rules(a->deny, a->n_deny, b->deny, b->n_deny);
	assert_same_rules(a->allow, a->n_allow, b->allow, b->n_allow);
}

static void clear_env(void)
{
	static const char *const vars[] = {"MODGATE_CACHE", "XDG_CACHE_HOME", "HOME",
	                                   "GOPROXY",       "GONOPROXY",      "GOPRIVATE",
	                                   "NETRC",         "GOSUMDB",        "GONOSUMDB"};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

/* The folder with the fake go command, the PATH the group runs with, and
 * the PATH to restore. */
static char fake_go_dir[] = "/tmp/modgate-test-go-XXXXXX";
static char fake_go[64];
static char *saved_path;

static int cred_setup(void **state);
static int cred_teardown(void **state);

static int group_setup(void **state)
{
	FILE *f;

	(void)state;
	clear_env();
	if (!mkdtemp(fake_go_dir))
		return -1;
	snprintf(fake_go, sizeof(fake_go), "%s/go", fake_go_dir);
	f = fopen(fake_go, "w");
	if (!f)
		return -1;
	fputs("#!/bin/sh\nexit 0\n", f);
	if (fclose(f) != 0 || chmod(fake_go, 0755) != 0)
		return -1;
	saved_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
	setenv("PATH", fake_go_dir, 1);
	return cred_setup(state);
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(fake_go);
	rmdir(fake_go_dir);
	if (saved_path)
		setenv("PATH", saved_path, 1);
	free(saved_path);
	saved_path = NULL;
	return cred_teardown(state);
}

/* Loads text named "t.ini" over defaults; returns the rc, err in err. */
static int load(struct config *c, const char *text, char *err, size_t errlen)
{
	config_init_defaults(c);
	err[0] = '\0';
	return config_load_string(c, text, "t.ini", err, errlen);
}

/* ---- defaults --------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct config c;
	char ups[1024];

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	config_init_defaults(&c);
	assert_string_equal(c.listen_host, "127.0.0.1");
	assert_int_equal(c.listen_port, 8080);
	assert_string_equal(c.cache_dir, "/var/cache/modgate");
	render_upstreams(&c, ups, sizeof(ups));
	assert_string_equal(ups, "https://proxy.golang.org,direct,");
	assert_string_equal(c.noproxy, "");
	assert_int_equal(c.list_ttl_s, 60);
	assert_int_equal(c.negative_ttl_s, 60);
	assert_int_equal(c.connect_timeout_ms, 5000);
	assert_int_equal(c.first_byte_timeout_ms, 15000);
	assert_int_equal(c.idle_timeout_ms, 30000);
	assert_int_equal(c.workers, 2);
	assert_int_equal(c.max_connections, 4096);
	{
		struct breaker_config b;

		memset(&b, 0x5a, sizeof(b));
		breaker_config_default(&b);
		assert_memory_equal(&c.breaker, &b, sizeof(b));
		assert_int_equal(breaker_config_check(&c.breaker, NULL, 0), 0);
	}
	assert_int_equal(c.n_pools, 0);
	assert_int_equal(c.n_routes, 0);
	assert_string_equal(c.go_binary, "");
	assert_int_equal(config_route_for(&c, "golang.org/x/mod", NULL), CONFIG_ROUTE_CHAIN);
}

/* ---- GOPROXY ------------------------------------------------------------------ */

struct goproxy_case {
	const char *list;
	const char *want;    /* render_upstreams form, NULL for an error */
	const char *err_has; /* substring of the error */
};

static const struct goproxy_case goproxy_tests[] = {
    /* go default for the empty string */
    {"", "https://proxy.golang.org,direct,", NULL},
    {"https://proxy.golang.org,direct", "https://proxy.golang.org,direct,", NULL},
    /* separators: ',' then '|', and '|' on the last entry kept */
    {"https://a.example|https://b.example,direct", "https://a.example|https://b.example,direct,",
     NULL},
    {"https://a.example,https://b.example|direct", "https://a.example,https://b.example|direct,",
     NULL},
    {"https://a.example|", "https://a.example|", NULL},
    /* blanks trimmed, empty entries skipped with their separators */
    {"  https://a.example \t,  direct ", "https://a.example,direct,", NULL},
    {",,https://a.example,,|", "https://a.example,", NULL},
    {"https://a.example|,https://b.example", "https://a.example|https://b.example,", NULL},
    /* keywords end the list; what follows is not even checked */
    {"direct", "direct,", NULL},
    {"off", "off,", NULL},
    {"off,https://a.example", "off,", NULL},
    {"direct,ftp://ignored", "direct,", NULL},
    {"https://a.example|off", "https://a.example|off,", NULL},
    {"direct|https://a.example", "direct,", NULL},
    /* implicit https:// for host-like entries */
    {"proxy.golang.org", "https://proxy.golang.org,", NULL},
    {"localhost:3000", "https://localhost:3000,", NULL},
    {"athens.corp.example:3000/base/", "https://athens.corp.example:3000/base,", NULL},
    {"goproxy.cn,direct", "https://goproxy.cn,direct,", NULL},
    /* complete URLs, normalised */
    {"http://127.0.0.1:3000", "http://127.0.0.1:3000,", NULL},
    {"HTTPS://Proxy.Example/", "https://Proxy.Example,", NULL},
    {"https://proxy.example///", "https://proxy.example,", NULL},
    {"http://[::1]:3000/p/", "http://[::1]:3000/p,", NULL},
    {"https://user:secret@proxy.example/x", "https://user:secret@proxy.example/x,", NULL},
    {"https://proxy.example/a%20b", "https://proxy.example/a%20b,", NULL},
    {"file:///srv/goproxy/", "file:///srv/goproxy,", NULL},
    {"file:/srv/goproxy", "file:///srv/goproxy,", NULL},
    {"FILE:///", "file://,", NULL},
    /* empty lists */
    {",", NULL, "contains no entries"},
    {" ", NULL, "contains no entries"},
    {"| ,", NULL, "contains no entries"},
    /* single words are reserved, keywords are case-sensitive */
    {"corp", NULL, "missing scheme: corp"},
    {"DIRECT", NULL, "missing scheme"},
    {"noproxy", NULL, "missing scheme"},
    {"/srv/goproxy", NULL, "write file:///srv/goproxy"},
    /* schemes */
    {"ftp://mirror.example", NULL, "scheme (must be https, http, file): ftp://mirror.example"},
    {"git+ssh://mirror.example", NULL, "scheme (must be https, http, file)"},
    {"verylongscheme://mirror.example", NULL, "scheme (must be https, http, file)"},
    {"1http://x.example", NULL, "missing scheme"},
    {"://x.example", NULL, "missing scheme"},
    {"file://host/srv", NULL, "non-path elements"},
    {"file::/srv/x://", NULL, "non-path elements"}, /* opaque: found by the fuzzer */
    {"http:x.example", NULL, "bad port"},           /* becomes https://http:x.example */
    /* hosts and ports */
    {"https://", NULL, "missing host"},
    {"https://:8080", NULL, "missing host"},
    {"https:///path", NULL, "missing host"},
    {"https://a.example:99999", NULL, "bad port"},
    {"https://a.example:0", NULL, "port 0"},
    {"https://a.example:", NULL, "empty port"},
    {"https://a.example:8x", NULL, "bad port"},
    {"https://[::1", NULL, "missing ']'"},
    {"https://[zz::1]", NULL, "bad IPv6"},
    {"https://[::1]x", NULL, "after ']'"},
    {"https://a!b.example", NULL, "not allowed in a host"},
    /* characters */
    {"https://a example", NULL, "blank, control or non-ASCII"},
    {"https://a.example/\xc3\xbc", NULL, "non-ASCII"},
    {"https://a.example/?x=1", NULL, "query or fragment"},
    {"https://a.example/#frag", NULL, "query or fragment"},
    {"https://a.example/%zz", NULL, "bad %-escape"},
    {"https://a.example/%4", NULL, "bad %-escape"},
    {"https://a.example/{x}", NULL, "percent-encode '{'"},
    /* credentials never appear in messages */
    {"ftp://user:secret@mirror.example", NULL, "ftp://xxxxx@mirror.example"},
};

static void test_goproxy_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(goproxy_tests) / sizeof(goproxy_tests[0]); i++) {
		const struct goproxy_case *t = &goproxy_tests[i];
		struct config c, before;
		char err[512] = "", got[4096];
		int rc;

		config_init_defaults(&c);
		/* a non-default list, so "unchanged on error" is visible */
		assert_int_equal(config_parse_goproxy(&c, "https://before.example", NULL, 0), 0);
		before = c;
		rc = config_parse_goproxy(&c, t->list, err, sizeof(err));
		if (t->want) {
			if (rc != 0)
				fail_msg("\"%s\": rc %d (%s), want success", t->list, rc, err);
			render_upstreams(&c, got, sizeof(got));
			if (strcmp(got, t->want) != 0)
				fail_msg("\"%s\": got \"%s\", want \"%s\"", t->list, got, t->want);
			continue;
		}
		if (rc != -1)
			fail_msg("\"%s\": rc %d, want -1", t->list, rc);
		if (!strstr(err, t->err_has))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", t->list, err, t->err_has);
		if (strstr(err, "secret"))
			fail_msg("\"%s\": error \"%s\" shows the password", t->list, err);
		assert_same_config(&c, &before);
	}
}

static void test_goproxy_limits(void **state)
{
	struct config c;
	char list[2048] = "", err[512], got[4096], url[1024];
	size_t used = 0;

	(void)state;
	config_init_defaults(&c);
	/* 16 entries fit (the 16th a keyword), 17 do not */
	for (int i = 0; i < 15; i++)
		used +=
		    (size_t)snprintf(list + used, sizeof(list) - used, "https://p%d.example|", i);
	snprintf(list + used, sizeof(list) - used, "direct");
	assert_int_equal(config_parse_goproxy(&c, list, err, sizeof(err)), 0);
	assert_int_equal(c.n_upstreams, 16);
	assert_int_equal(c.upstreams[14].fallthrough_any, 1);
	assert_int_equal(c.upstreams[15].kind, CONFIG_UP_DIRECT);
	render_upstreams(&c, got, sizeof(got));
	assert_non_null(strstr(got, "https://p14.example|direct,"));

	snprintf(list + used, sizeof(list) - used, "https://p15.example,direct");
	assert_int_equal(config_parse_goproxy(&c, list, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 16 entries"));
	assert_int_equal(c.n_upstreams, 16); /* unchanged */

	/* the longest URL that fits, and one byte more */
	memset(url, 'x', sizeof(url));
	memcpy(url, "https://", 8);
	url[CONFIG_URL_MAX - 1] = '\0';
	assert_int_equal(config_parse_goproxy(&c, url, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.upstreams[0].url), CONFIG_URL_MAX - 1);
	url[CONFIG_URL_MAX - 1] = 'x';
	url[CONFIG_URL_MAX] = '\0';
	assert_int_equal(config_parse_goproxy(&c, url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 511 bytes"));
	/* the implicit https:// counts too: 503 bytes become 511, 504 become 512 */
	memset(url, 'x', sizeof(url));
	url[1] = '.';
	url[503] = '\0';
	assert_int_equal(config_parse_goproxy(&c, url, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.upstreams[0].url), CONFIG_URL_MAX - 1);
	assert_int_equal(strncmp(c.upstreams[0].url, "https://x.xx", 12), 0);
	url[503] = 'x';
	url[504] = '\0';
	assert_int_equal(config_parse_goproxy(&c, url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 511 bytes"));
}

/* ---- listen ------------------------------------------------------------------- */

struct listen_case {
	const char *in;
	const char *host; /* NULL for an error */
	int port;
	const char *err_has;
};

static const struct listen_case listen_tests[] = {
    {"127.0.0.1:8080", "127.0.0.1", 8080, NULL},
    {"[::1]:8080", "::1", 8080, NULL},
    {"[::]:443", "::", 443, NULL},
    {":8080", "", 8080, NULL},
    {"localhost:80", "localhost", 80, NULL},
    {"0.0.0.0:65535", "0.0.0.0", 65535, NULL},
    {"gw-1.corp_x.example:1", "gw-1.corp_x.example", 1, NULL},
    {"[fe80::1%eth0]:80", "fe80::1%eth0", 80, NULL},
    {"", NULL, 0, "empty listen address"},
    {"localhost", NULL, 0, "missing port (write localhost:8080)"},
    {"8080", NULL, 0, "write :8080"},
    {"::1:8080", NULL, 0, "must be in brackets"},
    {"[::1]", NULL, 0, "missing port"},
    {"[::1]8080", NULL, 0, "missing port"},
    {"[::1:8080", NULL, 0, "missing ']'"},
    {"[]:80", NULL, 0, "bad IPv6"},
    {"[zz::1]:80", NULL, 0, "bad IPv6"},
    {"[1.2.3.4]:80", NULL, 0, "bad IPv6"},
    {"host:0", NULL, 0, "1 to 65535"},
    {"host:65536", NULL, 0, "1 to 65535"},
    {"host:-1", NULL, 0, "1 to 65535"},
    {"host:80x", NULL, 0, "1 to 65535"},
    {"host:", NULL, 0, "1 to 65535"},
    {"host: 80", NULL, 0, "1 to 65535"},
    {"*:8080", NULL, 0, "character '*'"},
    {"a b:80", NULL, 0, "character ' '"},
};

static void test_listen_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(listen_tests) / sizeof(listen_tests[0]); i++) {
		const struct listen_case *t = &listen_tests[i];
		char host[CONFIG_HOST_MAX] = "unset", err[256] = "";
		int port = -1;
		int rc = config_parse_listen(t->in, host, sizeof(host), &port, err, sizeof(err));

		if (t->host) {
			if (rc != 0)
				fail_msg("\"%s\": rc %d (%s), want success", t->in, rc, err);
			if (strcmp(host, t->host) != 0 || port != t->port)
				fail_msg("\"%s\": got \"%s\" %d, want \"%s\" %d", t->in, host, port,
				         t->host, t->port);
			continue;
		}
		if (rc != -1)
			fail_msg("\"%s\": rc %d, want -1", t->in, rc);
		if (!strstr(err, t->err_has))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", t->in, err, t->err_has);
	}
}

static void test_listen_host_too_long(void **state)
{
	char host[9], err[256];
	int port;

	(void)state;
	assert_int_equal(
	    config_parse_listen("12345678:80", host, sizeof(host), &port, err, sizeof(err)), 0);
	assert_string_equal(host, "12345678");
	assert_int_equal(
	    config_parse_listen("123456789:80", host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
}

/* ---- environment -------------------------------------------------------------- */

static void test_env_cache_precedence(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	clear_env();
	config_init_defaults(&c);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/var/cache/modgate");

	setenv("HOME", "/home/u", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/home/u/.cache/modgate");

	setenv("HOME", "/home/a ;b", 1); /* could not be dumped back */
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "HOME: \"/home/a ;b/.cache/modgate\": a ';' after a blank"));
	assert_string_equal(c.cache_dir, "/home/u/.cache/modgate");

	setenv("HOME", "/", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/.cache/modgate");

	setenv("XDG_CACHE_HOME", "relative/dir", 1); /* ignored: not absolute */
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/.cache/modgate");

	setenv("XDG_CACHE_HOME", "/xdg/", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/xdg/modgate");

	{
		char longdir[CONFIG_PATH_MAX];

		memset(longdir, 'd', sizeof(longdir));
		longdir[0] = '/';
		longdir[sizeof(longdir) - 8] = '\0'; /* + "/modgate" no longer fits */
		setenv("XDG_CACHE_HOME", longdir, 1);
		assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "XDG_CACHE_HOME: path longer than 4095 bytes"));
		longdir[sizeof(longdir) - 9] = '\0'; /* exactly fits */
		setenv("XDG_CACHE_HOME", longdir, 1);
		assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
		assert_int_equal(strlen(c.cache_dir), CONFIG_PATH_MAX - 1);
		setenv("XDG_CACHE_HOME", "/xdg/", 1);
		assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	}

	setenv("MODGATE_CACHE", "/srv/modgate", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/srv/modgate");

	setenv("MODGATE_CACHE", "", 1); /* empty is unset: back to XDG */
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/xdg/modgate");

	setenv("MODGATE_CACHE", " /srv/x", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MODGATE_CACHE: \" /srv/x\": blank at the start"));
	assert_string_equal(c.cache_dir, "/xdg/modgate");

	/* what config_dump could not write back is refused up front */
	setenv("MODGATE_CACHE", "/srv/a ;b", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "MODGATE_CACHE: \"/srv/a ;b\": a ';' after a blank"));
	setenv("MODGATE_CACHE", "\"/srv/x\"", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot start with '\"'"));
	setenv("MODGATE_CACHE", "/srv/a\nb", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "control character"));
	assert_string_equal(c.cache_dir, "/xdg/modgate");
	clear_env();
}

static void test_env_goproxy(void **state)
{
	struct config c, before;
	char err[512], got[1024];

	(void)state;
	clear_env();
	config_init_defaults(&c);
	setenv("GOPROXY", "", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	render_upstreams(&c, got, sizeof(got));
	assert_string_equal(got, "https://proxy.golang.org,direct,");

	setenv("GOPROXY", "https://a.example|goproxy.cn,direct", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	render_upstreams(&c, got, sizeof(got));
	assert_string_equal(got, "https://a.example|https://goproxy.cn,direct,");

	before = c;
	setenv("GOPROXY", "ftp://x.example", 1);
	setenv("MODGATE_CACHE", "/would/change", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GOPROXY: invalid proxy URL scheme"));
	assert_same_config(&c, &before); /* nothing applied, not even the cache */

	setenv("GOPROXY", ",", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GOPROXY: GOPROXY list is not the empty string"));
	clear_env();
}

static void test_env_noproxy(void **state)
{
	struct config c, before;
	char err[512];

	(void)state;
	clear_env();
	config_init_defaults(&c);
	setenv("GOPRIVATE", "*.corp.example,rsc.io/private", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.noproxy, "*.corp.example,rsc.io/private");

	setenv("GONOPROXY", "git.corp.example", 1); /* GONOPROXY beats GOPRIVATE */
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.noproxy, "git.corp.example");

	setenv("GONOPROXY", "none", 1); /* the go command's idiom for "none" */
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.noproxy, "none");
	assert_int_equal(config_is_noproxy(&c, "git.corp.example/x"), 0);

	setenv("GONOPROXY", "", 1); /* empty is unset: GOPRIVATE again */
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.noproxy, "*.corp.example,rsc.io/private");

	before = c;
	setenv("GOPRIVATE", "ok.example,[", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GOPRIVATE: bad pattern \"[\""));
	assert_same_config(&c, &before);

	setenv("GONOPROXY", "a.example, b.example", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GONOPROXY: pattern \" b.example\" contains a blank"));
	assert_same_config(&c, &before);
	clear_env();
}

static void test_env_then_file(void **state)
{
	struct config c;
	char err[512], got[1024];

	(void)state;
	clear_env();
	setenv("GOPROXY", "https://env.example", 1);
	setenv("GOPRIVATE", "*.env.example", 1);
	setenv("MODGATE_CACHE", "/env/cache", 1);
	config_init_defaults(&c);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_int_equal(config_load_string(&c,
	                                    "[upstream]\n"
	                                    "proxy = https://file.example,direct\n"
	                                    "[server]\n"
	                                    "workers = 4\n",
	                                    "t.ini", err, sizeof(err)),
	                 0);
	render_upstreams(&c, got, sizeof(got));
	assert_string_equal(got, "https://file.example,direct,"); /* file wins */
	assert_string_equal(c.noproxy, "*.env.example");          /* env kept */
	assert_string_equal(c.cache_dir, "/env/cache");           /* env kept */
	assert_int_equal(c.workers, 4);                           /* file */
	assert_int_equal(c.listen_port, 8080);                    /* default */

	assert_int_equal(
	    config_load_string(&c, "[upstream]\nnoproxy =\n", "t.ini", err, sizeof(err)), 0);
	assert_string_equal(c.noproxy, ""); /* an empty value clears it */
	clear_env();
}

/* ---- INI: values ------------------------------------------------------------------ */

static const char every_key_ini[] =
    "; every key, none at its default\n"
    "[server]\n"
    "listen = [::1]:9090\n"
    "cache = /srv/modgate/cache\n"
    "workers = 8\n"
    "max_connections = 100\n"
    "stop_timeout = 2m\n"
    "\n"
    "[upstream]\n"
    "proxy = https://athens.corp.example:3000|https://goproxy.cn,direct\n"
    "noproxy = *.corp.example,rsc.io/private\n"
    "\n"
    "[cache]\n"
    "list_ttl = 5m\n"
    "negative_ttl = 0\n"
    "\n"
    "[timeouts]\n"
    "connect = 250ms\n"
    "first_byte = 1m30s\n"
    "idle = 1h\n";

static void test_ini_every_key(void **state)
{
	struct config c;
	char err[512], got[1024];

	(void)state;
	assert_int_equal(load(&c, every_key_ini, err, sizeof(err)), 0);
	assert_string_equal(c.listen_host, "::1");
	assert_int_equal(c.listen_port, 9090);
	assert_string_equal(c.cache_dir, "/srv/modgate/cache");
	assert_int_equal(c.workers, 8);
	assert_int_equal(c.max_connections, 100);
	assert_int_equal(c.stop_timeout_ms, 120000);
	render_upstreams(&c, got, sizeof(got));
	assert_string_equal(got, "https://athens.corp.example:3000|https://goproxy.cn,direct,");
	assert_string_equal(c.noproxy, "*.corp.example,rsc.io/private");
	assert_int_equal(c.list_ttl_s, 300);
	assert_int_equal(c.negative_ttl_s, 0);
	assert_int_equal(c.connect_timeout_ms, 250);
	assert_int_equal(c.first_byte_timeout_ms, 90000);
	assert_int_equal(c.idle_timeout_ms, 3600000);
}

static void test_ini_layout(void **state)
{
	struct config c, d;
	char err[512];

	(void)state;
	config_init_defaults(&d);
	/* nothing but comments and blanks changes nothing */
	assert_int_equal(load(&c, "", err, sizeof(err)), 0);
	assert_same_config(&c, &d);
	assert_int_equal(load(&c, "; a\n# b\n\n   \n[server]\n[cache]\n", err, sizeof(err)), 0);
	assert_same_config(&c, &d);

	/* CRLF, a byte order mark, inline comments, no final newline */
	assert_int_equal(load(&c,
	                      "\xEF\xBB\xBF[server]\r\n"
	                      "workers = 3 ; three\r\n"
	                      "listen = :81",
	                      err, sizeof(err)),
	                 0);
	assert_int_equal(c.workers, 3);
	assert_string_equal(c.listen_host, "");
	assert_int_equal(c.listen_port, 81);

	/* an indented key is a key, not a continuation of the one before */
	assert_int_equal(load(&c,
	                      "[server]\n"
	                      "    listen = :82\n"
	                      "    workers = 5\n"
	                      "\t[cache]\n"
	                      "\tlist_ttl = 2m\n",
	                      err, sizeof(err)),
	                 0);
	assert_int_equal(c.listen_port, 82);
	assert_int_equal(c.workers, 5);
	assert_int_equal(c.list_ttl_s, 120);

	/* '#' inside a value is data: only ';' after a blank starts a comment */
	assert_int_equal(load(&c, "[server]\ncache = /srv/a#b;c\n", err, sizeof(err)), 0);
	assert_string_equal(c.cache_dir, "/srv/a#b;c");
}

static void test_ini_long_lines(void **state)
{
	struct config c;
	char err[512];
	size_t n = 4000, i, used;
	char *text = malloc(16384);

	(void)state;
	assert_non_null(text);
	/* a 4000-byte pattern list: far past inih's default 200-byte line */
	used = (size_t)sprintf(text, "[upstream]\nnoproxy = ");
	for (i = 0; used + 20 < 11 + 10 + n; i++)
		used += (size_t)sprintf(text + used, "m%04zu.example,", i);
	sprintf(text + used, "last.example\n[server]\nworkers = 7\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.workers, 7);
	assert_true(strlen(c.noproxy) > 3900);
	assert_int_equal(config_is_noproxy(&c, "last.example/x"), 1);
	assert_int_equal(config_is_noproxy(&c, "m0007.example"), 1);

	/* a line past the limit is an error on that line, never cut in two */
	used = (size_t)sprintf(text, "[server]\nworkers = 1\n[upstream]\nnoproxy = ");
	memset(text + used, 'x', 9000);
	sprintf(text + used + 9000, "\n[server]\nlisten = :1\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:4: line longer than 8190 bytes");
	free(text);
}

struct duration_case {
	const char *key; /* "[section]\nkey = " prefix */
	const char *value;
	long long want; /* in the field's unit; -1: an error */
	const char *err_has;
};

static const struct duration_case duration_tests[] = {
    {"[timeouts]\nidle = ", "250ms", 250, NULL},
    {"[timeouts]\nidle = ", "30s", 30000, NULL},
    {"[timeouts]\nidle = ", "5m", 300000, NULL},
    {"[timeouts]\nidle = ", "1h", 3600000, NULL},
    {"[timeouts]\nidle = ", "1m30s", 90000, NULL},
    {"[timeouts]\nidle = ", "30s1m", 90000, NULL},
    {"[timeouts]\nidle = ", "1s500ms", 1500, NULL},
    {"[timeouts]\nidle = ", "90", 90000, NULL},
    {"[timeouts]\nidle = ", "1ms", 1, NULL},
    {"[timeouts]\nidle = ", "3600000ms", 3600000, NULL},
    {"[timeouts]\nidle = ", "007s", 7000, NULL},
    {"[timeouts]\nidle = ", "3600001ms", -1, "out of range 1ms..1h"},
    {"[timeouts]\nidle = ", "0", -1, "out of range 1ms..1h"},
    {"[timeouts]\nidle = ", "0ms", -1, "out of range"},
    {"[timeouts]\nconnect = ", "61m", -1, "out of range"},
    {"[timeouts]\nfirst_byte = ", "2h", -1, "out of range"},
    {"[timeouts]\nidle = ", "99999999999999999999s", -1, "too large"},
    {"[timeouts]\nidle = ", "999999999999h", -1, "too large"},
    {"[timeouts]\nidle = ", "1.5s", -1, "unknown unit \".\""},
    {"[timeouts]\nidle = ", "-1s", -1, "bad duration"},
    {"[timeouts]\nidle = ", "+1s", -1, "bad duration"},
    {"[timeouts]\nidle = ", "s", -1, "bad duration"},
    {"[timeouts]\nidle = ", "5 s", -1, "unknown unit \" s\""},
    {"[timeouts]\nidle = ", "7d", -1, "unknown unit \"d\" (use ms, s, m or h)"},
    {"[timeouts]\nidle = ", "5S", -1, "unknown unit \"S\""},
    {"[timeouts]\nidle = ", "1m30", -1, "missing unit after 30"},
    {"[timeouts]\nidle = ", "", -1, "empty duration"},
    {"[cache]\nlist_ttl = ", "0", 0, NULL},
    {"[cache]\nlist_ttl = ", "0s", 0, NULL},
    {"[cache]\nlist_ttl = ", "168h", 604800, NULL},
    {"[cache]\nlist_ttl = ", "2m", 120, NULL},
    {"[cache]\nlist_ttl = ", "2000ms", 2, NULL},
    {"[cache]\nlist_ttl = ", "1500ms", -1, "not a whole number of seconds"},
    {"[cache]\nlist_ttl = ", "169h", -1, "out of range 0s..168h"},
    {"[cache]\nlist_ttl = ", "7d", -1, "unknown unit"},
    {"[cache]\nnegative_ttl = ", "604801", -1, "out of range"},
    {"[cache]\nnegative_ttl = ", "10m", 600, NULL},
};

static long long field_for(const struct config *c, const char *key)
{
	if (strstr(key, "idle"))
		return c->idle_timeout_ms;
	if (strstr(key, "connect"))
		return c->connect_timeout_ms;
	if (strstr(key, "first_byte"))
		return c->first_byte_timeout_ms;
	if (strstr(key, "list_ttl"))
		return c->list_ttl_s;
	return c->negative_ttl_s;
}

static void test_ini_durations(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(duration_tests) / sizeof(duration_tests[0]); i++) {
		const struct duration_case *t = &duration_tests[i];
		struct config c;
		char text[256], err[512];
		int rc;

		snprintf(text, sizeof(text), "%s%s\n", t->key, t->value);
		rc = load(&c, text, err, sizeof(err));
		if (t->want >= 0) {
			if (rc != 0)
				fail_msg("\"%s\": rc %d (%s)", t->value, rc, err);
			if (field_for(&c, t->key) != t->want)
				fail_msg("\"%s\": got %lld, want %lld", t->value,
				         field_for(&c, t->key), t->want);
			continue;
		}
		if (rc != -1)
			fail_msg("\"%s\": rc %d, want -1", t->value, rc);
		if (strncmp(err, "t.ini:2: ", 9) != 0 || !strstr(err, t->err_has))
			fail_msg("\"%s\": error \"%s\" is not t.ini:2 with \"%s\"", t->value, err,
			         t->err_has);
	}
}

/* ---- INI: errors ------------------------------------------------------------------- */

struct ini_error_case {
	const char *text;
	int line;
	const char *err_has;
};

static const struct ini_error_case ini_error_tests[] = {
    /* structure */
    {"[bogus]\n", 1,
     "unknown section [bogus] (known: [server], [upstream], [cache], "
     "[timeouts], [breaker], [admin], [sumdb], [log], [pool \"NAME\"], [route], [deny], "
     "[allow])"},
    {"[server]\nworkers = 2\n[bogus]\n", 3, "unknown section [bogus]"},
    {"[server]\nworkers = 2\n[nope]", 3, "unknown section [nope]"},
    {"[Server]\nworkers = 2\n", 1, "unknown section [Server]"},
    {"[ server ]\n", 1, "unknown section [ server ]"},
    {"[server]\n  [bogus]\n", 2, "unknown section [bogus]"},
    {"[server]\nbogus = 1\n", 2,
     "unknown key 'bogus' in [server] (known: listen, cache, workers, stop_timeout, "
     "max_connections, offline, tls_cert, tls_key)"},
    {"[upstream]\nlisten = :80\n", 2,
     "unknown key 'listen' in [upstream] (known: proxy, noproxy, netrc)"},
    {"[cache]\nttl = 1s\n", 2, "unknown key 'ttl' in [cache] (known: list_ttl, negative_ttl)"},
    {"[timeouts]\ntotal = 1s\n", 2,
     "unknown key 'total' in [timeouts] (known: connect, first_byte, idle, metadata, budget)"},
    {"[server]\n= 1\n", 2, "unknown key '' in [server]"},
    {"[server]\nWorkers = 1\n", 2, "unknown key 'Workers'"},
    {"listen = :80\n", 1, "key 'listen' comes before any [section]"},
    {"; c\n\nlisten = :80\n", 3, "before any [section]"},
    {"[server]\nlisten = :80\nlisten = :81\n", 3,
     "duplicate key 'listen' in [server] (first set on line 2)"},
    {"[server]\nworkers = 2\n[cache]\n[server]\nworkers = 3\n", 5,
     "duplicate key 'workers' in [server] (first set on line 2)"},
    {"[upstream]\nnoproxy =\nnoproxy = x.example\n", 3, "duplicate key 'noproxy'"},
    {"[server\n", 1, "section header without a closing ']'"},
    {"[server]\n[cache ; note]\n", 2, "unknown section [cache ; note]"},
    {"[server]\njunk\n", 2, "expected 'key = value', '[section]' or a ';' comment"},
    {"\xEF\xBB\xBFjunk\n", 1, "expected 'key = value'"},
    {"\xEF\xBB\xBF[bogus]\n", 1, "unknown section [bogus]"}, /* no key to catch it */
    {"; one\n# two\n\n[server]\nworkers = 0\n", 5, "workers: 0 is out of range 1..64"},
    {"[server]\r\nworkers = 0\r\n", 2, "out of range"},
    {"\xEF\xBB\xBF[server]\nworkers = 0\n", 2, "out of range"},
    /* the first error wins, whatever found it */
    {"[server]\nworkers = 0\nlisten = x\n", 2, "workers"},
    {"[server]\njunk\nworkers = 0\n", 2, "expected 'key = value'"},
    {"[server]\nworkers = 0\njunk\n", 2, "workers"},
    {"[server]\nlisten = :80\n    workers = 0\n", 3, "workers"}, /* not a continuation */
    /* [server] */
    {"[server]\nlisten = 127.0.0.1\n", 2, "[server] listen: \"127.0.0.1\": missing port"},
    {"[server]\nlisten =\n", 2, "empty listen address"},
    {"[server]\nlisten = 127.0.0.1:8080 # main\n", 2, "(only ';' starts a comment after a value)"},
    {"[server]\nlisten = \"127.0.0.1:8080\"\n", 2, "values are not quoted"},
    {"[server]\ncache =\n", 2, "[server] cache: empty path"},
    {"[server]\ncache = '/srv/x'\n", 2, "values are not quoted"},
    {"[server]\ncache=;x\n", 2, "cannot start with ';'"}, /* found by the fuzzer */
    {"[upstream]\nnoproxy=;x\n", 2, "cannot start with ';'"},
    {"[server]\nworkers = 65\n", 2, "65 is out of range 1..64"},
    {"[server]\nworkers = two\n", 2, "\"two\" is not a whole decimal number"},
    {"[server]\nworkers = -1\n", 2, "not a whole decimal number"},
    {"[server]\nworkers = 2.5\n", 2, "not a whole decimal number"},
    {"[server]\nworkers =\n", 2, "empty value"},
    {"[server]\nworkers = 99999999999999999999\n", 2, "out of range"},
    {"[server]\nmax_connections = 0\n", 2, "out of range 1..1000000"},
    {"[server]\nstop_timeout = 2h\n", 2, "out of range 0s..1h"},
    {"[server]\nstop_timeout = soon\n", 2, "soon"},
    {"[server]\nmax_connections = 1000001\n", 2, "out of range 1..1000000"},
    /* [upstream] */
    {"[upstream]\nproxy =\n", 2, "empty proxy list (write off"},
    {"[upstream]\nproxy = ftp://mirror.example\n", 2,
     "[upstream] proxy: invalid proxy URL scheme (must be https, http, file)"},
    {"[upstream]\nproxy = ,\n", 2, "contains no entries"},
    {"[upstream]\nproxy = corp\n", 2, "missing scheme"},
    {"[upstream]\nnoproxy = [\n", 2, "[upstream] noproxy: bad pattern \"[\""},
    {"[upstream]\nnoproxy = a.example, b.example\n", 2, "contains a blank"},
    /* [cache] and [timeouts]: the duration table covers the syntax */
    {"[cache]\nlist_ttl = 7d\n", 2, "[cache] list_ttl: bad duration \"7d\": unknown unit"},
    {"[cache]\nnegative_ttl = 1500ms\n", 2, "[cache] negative_ttl: 1500ms is not a whole"},
    {"[timeouts]\nconnect = 0\n", 2, "[timeouts] connect: 0 is out of range 1ms..1h"},
    {"[timeouts]\nfirst_byte = 2h\n", 2, "[timeouts] first_byte: 2h is out of range"},
    {"[timeouts]\nidle = 1.5s\n", 2, "[timeouts] idle: bad duration"},
};

/* Each case fails to load, on its line, with its message, and leaves the
 * config as it was. */
static void check_error_cases(const struct ini_error_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ini_error_case *t = &cases[i];
		struct config c, d;
		char err[1024], prefix[32];
		int rc = load(&c, t->text, err, sizeof(err));

		snprintf(prefix, sizeof(prefix), "t.ini:%d: ", t->line);
		if (rc != -1)
			fail_msg("case %zu: rc %d, want -1 for:\n%s", i, rc, t->text);
		if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, t->err_has))
			fail_msg("case %zu: error \"%s\", want \"%s...%s\"", i, err, prefix,
			         t->err_has);
		config_init_defaults(&d);
		assert_same_config(&c, &d); /* a failed load changes nothing */
	}
}

static void test_ini_errors(void **state)
{
	(void)state;
	check_error_cases(ini_error_tests, sizeof(ini_error_tests) / sizeof(ini_error_tests[0]));
}

static void test_ini_error_keeps_config(void **state)
{
	struct config c, before;
	char err[512];

	(void)state;
	assert_int_equal(load(&c, every_key_ini, err, sizeof(err)), 0);
	before = c;
	/* four good keys first, then a bad one: none of the four sticks */
	assert_int_equal(config_load_string(&c,
	                                    "[server]\nworkers = 1\nlisten = :1\n"
	                                    "[upstream]\nproxy = off\nnoproxy =\n"
	                                    "[cache]\nlist_ttl = 1x\n",
	                                    "reload.ini", err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "reload.ini:8: [cache] list_ttl: bad duration \"1x\": unknown "
	                         "unit \"x\" (use ms, s, m or h)");
	assert_same_config(&c, &before);

	/* a NULL name and a NULL err are allowed */
	assert_int_equal(config_load_string(&c, "[x]\n", NULL, NULL, 0), -1);
	assert_int_equal(config_load_string(&c, "[x]\n", NULL, err, sizeof(err)), -1);
	assert_string_equal(
	    err,
	    "<string>:1: unknown section [x] (known: [server], [upstream], "
	    "[cache], [timeouts], [breaker], [admin], [sumdb], [log], [pool \"NAME\"], [route], "
	    "[deny], [allow])");
	/* a message longer than the buffer is cut, and terminated */
	assert_int_equal(config_load_string(&c, "[x]\n", "t.ini", err, 12), -1);
	assert_string_equal(err, "t.ini:1: un");
}

/* ---- files ----------------------------------------------------------------------------- */

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/modgate-test-config-XXXXXX", path[128], err[512], expect[256];
	struct config c;
	static const char nul_text[] = "[server]\nworkers = 3\nlisten = :8\0\n";
	char *big;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/modgate.ini", dir);

	write_file(path, every_key_ini, strlen(every_key_ini));
	config_init_defaults(&c);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.workers, 8);
	assert_int_equal(c.idle_timeout_ms, 3600000);

	write_file(path, "[server]\n\nworkers = 100\n", 24);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:3: [server] workers: 100 is out of range 1..64", path);
	assert_string_equal(err, expect);
	assert_int_equal(c.workers, 8);

	/* a NUL byte is an error on its line, not the end of the file */
	write_file(path, nul_text, sizeof(nul_text) - 1);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s:3: NUL byte in the line", path);
	assert_string_equal(err, expect);

	/* too big */
	big = malloc(1024 * 1024 + 2);
	assert_non_null(big);
	memset(big, ';', 1024 * 1024 + 1);
	write_file(path, big, 1024 * 1024 + 1);
	free(big);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than 1048576 bytes"));

	assert_int_equal(unlink(path), 0);
	assert_int_equal(config_load_file(&c, path, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s: No such file or directory", path);
	assert_string_equal(err, expect);

	/* a directory opens but does not read */
	assert_int_equal(config_load_file(&c, dir, err, sizeof(err)), -1);
	snprintf(expect, sizeof(expect), "%s: ", dir);
	assert_int_equal(strncmp(err, expect, strlen(expect)), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(c.workers, 8);
}

/* ---- queries and dump -------------------------------------------------------------------- */

static void test_is_noproxy(void **state)
{
	struct config c;

	(void)state;
	config_init_defaults(&c);
	assert_int_equal(config_is_noproxy(&c, "git.corp.example/x"), 0); /* "" is none */
	snprintf(c.noproxy, sizeof(c.noproxy), "*.corp.example,rsc.io/private");
	assert_int_equal(config_is_noproxy(&c, "git.corp.example/team/mod"), 1);
	assert_int_equal(config_is_noproxy(&c, "git.corp.example"), 1);
	assert_int_equal(config_is_noproxy(&c, "corp.example/x"), 0);
	assert_int_equal(config_is_noproxy(&c, "rsc.io/private/v2"), 1);
	assert_int_equal(config_is_noproxy(&c, "rsc.io/quote"), 0);
	assert_int_equal(config_is_noproxy(&c, "golang.org/x/mod"), 0);
}

static void test_upstream_redacted(void **state)
{
	struct config c;
	char err[512], buf[CONFIG_URL_MAX], small[12];

	(void)state;
	config_init_defaults(&c);
	assert_int_equal(
	    config_parse_goproxy(&c,
	                         "https://user:s3cret@a.example/p|"
	                         "http://token@b.example,https://c.example:1/x@y,direct",
	                         err, sizeof(err)),
	    0);
	assert_string_equal(config_upstream_redacted(&c.upstreams[0], buf, sizeof(buf)),
	                    "https://xxxxx@a.example/p");
	/* Go keeps a user name; a token is often passed as one: gone too. */
	assert_string_equal(config_upstream_redacted(&c.upstreams[1], buf, sizeof(buf)),
	                    "http://xxxxx@b.example");
	assert_string_equal(config_upstream_redacted(&c.upstreams[2], buf, sizeof(buf)),
	                    "https://c.example:1/x@y"); /* '@' in the path is no userinfo */
	assert_string_equal(config_upstream_redacted(&c.upstreams[3], buf, sizeof(buf)), "direct");
	assert_int_equal(config_parse_goproxy(&c, "off", err, sizeof(err)), 0);
	assert_string_equal(config_upstream_redacted(&c.upstreams[0], buf, sizeof(buf)), "off");
	assert_int_equal(config_parse_goproxy(&c, "https://u:p@a.example", err, sizeof(err)), 0);
	assert_string_equal(config_upstream_redacted(&c.upstreams[0], small, sizeof(small)),
	                    "https://xxx");
	assert_ptr_equal(config_upstream_redacted(&c.upstreams[0], small, 0), small);
}

static char *dump_to_string(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	config_dump(c, f);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void roundtrip(const struct config *c)
{
	struct config back;
	char err[512];
	char *text = dump_to_string(c);

	config_init_defaults(&back);
	/* load over a different config, so every key must be in the dump */
	assert_int_equal(config_load_string(&back,
	                                    "[server]\nlisten = 10.0.0.1:1\nworkers = 64\n"
	                                    "[upstream]\nproxy = off\nnoproxy = zz.example\n"
	                                    "[breaker]\nfailures = 99\nwindow = 512\n"
	                                    "[pool \"zz\"]\non_open = direct\n"
	                                    "upstream = https://zz.example\n",
	                                    "other.ini", err, sizeof(err)),
	                 0);
	if (config_load_string(&back, text, "dump.ini", err, sizeof(err)) != 0)
		fail_msg("dump does not load: %s\n%s", err, text);
	assert_same_config(&back, c);
	free(text);
}

static void test_dump_defaults(void **state)
{
	struct config c;
	char *text;

	(void)state;
	config_init_defaults(&c);
	text = dump_to_string(&c);
	assert_string_equal(text,
	                    "; modgate effective configuration: defaults, then environment, then "
	                    "file\n"
	                    "[server]\n"
	                    "listen = 127.0.0.1:8080\n"
	                    "cache = /var/cache/modgate\n"
	                    "workers = 2\n"
	                    "stop_timeout = 30s\n"
	                    "max_connections = 4096\n"
	                    "offline = off\n"
	                    ";tls_cert =\n"
	                    ";tls_key =\n"
	                    "\n"
	                    "[upstream]\n"
	                    "proxy = https://proxy.golang.org,direct\n"
	                    "noproxy = \n"
	                    "netrc = off\n"
	                    "\n"
	                    "[cache]\n"
	                    "list_ttl = 60s\n"
	                    "negative_ttl = 60s\n"
	                    "\n"
	                    "[timeouts]\n"
	                    "connect = 5s\n"
	                    "first_byte = 15s\n"
	                    "idle = 30s\n"
	                    "metadata = 30s\n"
	                    "budget = 60s\n"
	                    "\n"
	                    "[admin]\n"
	                    "listen = 127.0.0.1:8081\n"
	                    ";token_file =\n"
	                    ";token_env =\n"
	                    "\n"
	                    "[sumdb]\n"
	                    "database = sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+"
	                    "s3Ux18htTTAD8OuAn8\n"
	                    "nosumdb = \n"
	                    "\n"
	                    "[log]\n"
	                    "level = info\n"
	                    "format = text\n"
	                    "output = stderr\n"
	                    "\n"
	                    "[breaker]\n"
	                    "failures = 5\n"
	                    "window = 20\n"
	                    "min_calls = 10\n"
	                    "failure_rate = 50%\n"
	                    "slow = 5s\n"
	                    "slow_rate = 50%\n"
	                    "open = 1s\n"
	                    "open_max = 60s\n"
	                    "jitter = 20%\n"
	                    "probes = 1\n"
	                    "probe_successes = 1\n");
	free(text);
	roundtrip(&c);
}

static void test_dump_roundtrip(void **state)
{
	struct config c;
	char err[512], *text;

	(void)state;
	assert_int_equal(load(&c, every_key_ini, err, sizeof(err)), 0);
	text = dump_to_string(&c);
	assert_non_null(strstr(text, "\nlisten = [::1]:9090\n"));
	assert_non_null(
	    strstr(text, "\nproxy = https://athens.corp.example:3000|https://goproxy.cn,direct\n"));
	assert_non_null(strstr(text, "\nlist_ttl = 300s\n"));
	assert_non_null(strstr(text, "\nnegative_ttl = 0s\n"));
	assert_non_null(strstr(text, "\nconnect = 250ms\n"));
	assert_non_null(strstr(text, "\nfirst_byte = 90s\n"));
	assert_non_null(strstr(text, "\nidle = 1h\n"));
	free(text);
	roundtrip(&c);

	/* the awkward ones: every address, a trailing '|', file URLs, ms */
	assert_int_equal(load(&c,
	                      "[server]\nlisten = :1\n"
	                      "[upstream]\nproxy = localhost:3000|file:///srv/p/|\n"
	                      "noproxy = ,a\\*b,[^x]y/,\n"
	                      "[cache]\nlist_ttl = 168h\n"
	                      "[timeouts]\nidle = 3599999ms\nconnect = 1ms\n",
	                      err, sizeof(err)),
	                 0);
	text = dump_to_string(&c);
	assert_non_null(strstr(text, "\nlisten = :1\n"));
	assert_non_null(strstr(text, "\nproxy = https://localhost:3000|file:///srv/p|\n"));
	assert_non_null(strstr(text, "\nlist_ttl = 168h\n"));
	assert_non_null(strstr(text, "\nidle = 3599999ms\n"));
	free(text);
	roundtrip(&c);

	assert_int_equal(load(&c, "[upstream]\nproxy = file:///\n", err, sizeof(err)), 0);
	roundtrip(&c);
	assert_int_equal(load(&c, "[upstream]\nproxy = off\n", err, sizeof(err)), 0);
	roundtrip(&c);
	assert_int_equal(load(&c, "[server]\nlisten = [fe80::1%eth0]:80\n", err, sizeof(err)), 0);
	roundtrip(&c);
}

/* ---- breaker ------------------------------------------------------------------------------- */

static void test_admin_listen(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	config_init_defaults(&c);
	assert_string_equal(c.admin_host, "127.0.0.1");
	assert_int_equal(c.admin_port, 8081);
	assert_int_equal(
	    config_load_string(&c, "[admin]\nlisten = [::1]:9191\n", "t.ini", err, sizeof(err)), 0);
	assert_string_equal(c.admin_host, "::1");
	assert_int_equal(c.admin_port, 9191);
	assert_int_equal(
	    config_load_string(&c, "[admin]\nlisten = off\n", "t.ini", err, sizeof(err)), 0);
	assert_int_equal(c.admin_port, 0);
	roundtrip(&c);
	assert_int_equal(
	    config_load_string(&c, "[admin]\n\nlisten = nowhere\n", "t.ini", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.ini:3:"));
	assert_int_equal(c.admin_port, 0); /* a failed load changes nothing */
}

static void test_breaker_every_key(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	assert_int_equal(load(&c,
	                      "[breaker]\n"
	                      "failures = 0\n"
	                      "window = 100\n"
	                      "min_calls = 100\n"
	                      "failure_rate = 0%\n"
	                      "slow = 1500ms\n"
	                      "slow_rate = 100%\n"
	                      "open = 250ms\n"
	                      "open_max = 24h\n"
	                      "jitter = 0%\n"
	                      "probes = 3\n"
	                      "probe_successes = 2\n",
	                      err, sizeof(err)),
	                 0);
	assert_int_equal(c.breaker.consecutive_failures, 0);
	assert_int_equal(c.breaker.window_size, 100);
	assert_int_equal(c.breaker.window_min_calls, 100);
	assert_int_equal(c.breaker.failure_rate_pct, 0);
	assert_int_equal(c.breaker.slow_ms, 1500);
	assert_int_equal(c.breaker.slow_rate_pct, 100);
	assert_int_equal(c.breaker.open_base_ms, 250);
	assert_int_equal(c.breaker.open_max_ms, 86400000);
	assert_int_equal(c.breaker.jitter_pct, 0);
	assert_int_equal(c.breaker.half_open_probes, 3);
	assert_int_equal(c.breaker.half_open_successes, 2);
	assert_int_equal(c.n_pools, 0); /* [breaker] alone needs no pool */

	/* keys not given keep the value they had, as in every table section */
	assert_int_equal(
	    config_load_string(&c, "[breaker]\nwindow = 200\n", "t.ini", err, sizeof(err)), 0);
	assert_int_equal(c.breaker.window_size, 200);
	assert_int_equal(c.breaker.window_min_calls, 100);
	assert_int_equal(c.breaker.half_open_probes, 3);
}

/* ---- pools ----------------------------------------------------------------------------------- */

/* The design card's example, and then some. */
static const char pools_ini[] = "[pool \"public\"]\n"                                   /* 1 */
                                "upstream = https://proxy.golang.org  weight=3\n"       /* 2 */
                                "upstream = goproxy.cn weight=1\n"                      /* 3 */
                                "upstream = https://goproxy.io/ backup\n"               /* 4 */
                                "hedge = off\n"                                         /* 5 */
                                "retry_budget = 10%\n"                                  /* 6 */
                                "retry_min_per_sec = 0\n"                               /* 7 */
                                "\n"                                                    /* 8 */
                                "[pool \"corp\"]\n"                                     /* 9 */
                                "upstream = http://athens.corp.example:3000\n"          /* 10 */
                                "upstream = https://proxy.golang.org backup weight=2\n" /* 11 */
                                "on_open  = direct ; no go command, no start\n"         /* 12 */
                                "\n"                                                    /* 13 */
                                "[route]\n"                                             /* 14 */
                                "*                   = public\n"                        /* 15 */
                                "git.corp.example/*  = corp\n"                          /* 16 */
                                "rsc.io/private      = direct\n"                        /* 17 */
                                "example.com/blocked = off\n";                          /* 18 */

static void test_pool_every_key(void **state)
{
	struct config c;
	char err[512], ups[1024];
	const struct config_pool *p;

	(void)state;
	assert_int_equal(load(&c, pools_ini, err, sizeof(err)), 0);
	assert_int_equal(c.n_pools, 2);

	p = &c.pools[0];
	assert_string_equal(p->name, "public");
	assert_int_equal(p->n_upstreams, 3);
	assert_string_equal(p->upstreams[0].url, "https://proxy.golang.org");
	assert_int_equal(p->upstreams[0].weight, 3);
	assert_int_equal(p->upstreams[0].backup, 0);
	assert_string_equal(p->upstreams[1].url, "https://goproxy.cn");
	assert_int_equal(p->upstreams[1].weight, 1);
	assert_int_equal(p->upstreams[1].backup, 0);
	assert_string_equal(p->upstreams[2].url, "https://goproxy.io");
	assert_int_equal(p->upstreams[2].weight, 1);
	assert_int_equal(p->upstreams[2].backup, 1);
	assert_int_equal(p->on_open, CONFIG_ON_OPEN_503);
	assert_int_equal(p->retry_budget_pct, 10);
	assert_int_equal(p->retry_min_per_sec, 0);
	assert_int_equal(p->hedge_ms, 0);

	p = &c.pools[1];
	assert_string_equal(p->name, "corp");
	assert_int_equal(p->n_upstreams, 2);
	assert_string_equal(p->upstreams[0].url, "http://athens.corp.example:3000");
	assert_int_equal(p->upstreams[0].weight, 1);
	/* the same URL as in "public": allowed, one upstream at run time */
	assert_string_equal(p->upstreams[1].url, "https://proxy.golang.org");
	assert_int_equal(p->upstreams[1].weight, 2);
	assert_int_equal(p->upstreams[1].backup, 1);
	assert_int_equal(p->on_open, CONFIG_ON_OPEN_DIRECT);
	/* the defaults */
	assert_int_equal(p->retry_budget_pct, 20);
	assert_int_equal(p->retry_min_per_sec, 3);
	assert_int_equal(p->hedge_ms, 0);
	assert_string_equal(c.go_binary, fake_go);

	/* match order: most specific first, "*" last */
	assert_int_equal(c.n_routes, 4);
	assert_string_equal(c.routes[0].pattern, "rsc.io/private");
	assert_int_equal(c.routes[0].target, CONFIG_ROUTE_DIRECT);
	assert_int_equal(c.routes[0].pool, -1);
	assert_string_equal(c.routes[1].pattern, "example.com/blocked");
	assert_int_equal(c.routes[1].target, CONFIG_ROUTE_OFF);
	assert_int_equal(c.routes[1].pool, -1);
	assert_string_equal(c.routes[2].pattern, "git.corp.example/*");
	assert_int_equal(c.routes[2].target, CONFIG_ROUTE_POOL);
	assert_int_equal(c.routes[2].pool, 1);
	assert_string_equal(c.routes[3].pattern, "*");
	assert_int_equal(c.routes[3].target, CONFIG_ROUTE_POOL);
	assert_int_equal(c.routes[3].pool, 0);

	/* the GOPROXY chain is left as it was, unused while there are pools */
	render_upstreams(&c, ups, sizeof(ups));
	assert_string_equal(ups, "https://proxy.golang.org,direct,");

	/* a pool with nothing but an upstream has every default */
	assert_int_equal(
	    load(&c, "[pool \"only\"]\nupstream = https://a.example\n", err, sizeof(err)), 0);
	assert_int_equal(c.pools[0].n_upstreams, 1);
	assert_int_equal(c.pools[0].upstreams[0].weight, 1);
	assert_int_equal(c.pools[0].upstreams[0].backup, 0);
	assert_int_equal(c.pools[0].on_open, CONFIG_ON_OPEN_503);
	assert_int_equal(c.pools[0].retry_budget_pct, 20);
	assert_int_equal(c.pools[0].retry_min_per_sec, 3);
	assert_int_equal(c.pools[0].hedge_ms, 0);
	assert_string_equal(c.go_binary, ""); /* nothing asked for it */

	/* the other values of each key */
	assert_int_equal(load(&c,
	                      "[pool \"p\"]\nupstream = https://a.example\non_open = 503\n"
	                      "retry_budget = 100%\nretry_min_per_sec = 1000\nhedge = off\n",
	                      err, sizeof(err)),
	                 0);
	assert_int_equal(c.pools[0].on_open, CONFIG_ON_OPEN_503);
	assert_int_equal(c.pools[0].retry_budget_pct, 100);
	assert_int_equal(c.pools[0].retry_min_per_sec, 1000);
	assert_int_equal(c.pools[0].hedge_ms, 0);
	assert_int_equal(load(&c, "[pool \"p\"]\nupstream = https://a.example\nretry_budget = 0%\n",
	                      err, sizeof(err)),
	                 0);
	assert_int_equal(c.pools[0].retry_budget_pct, 0);
	/* hedge: off, or a delay from 1ms to 1h */
	assert_int_equal(
	    load(&c, "[pool \"p\"]\nupstream = https://a.example\nhedge = 1ms\n", err, sizeof(err)),
	    0);
	assert_int_equal(c.pools[0].hedge_ms, 1);
	assert_int_equal(
	    load(&c, "[pool \"p\"]\nupstream = https://a.example\nhedge = 1h\n", err, sizeof(err)),
	    0);
	assert_int_equal(c.pools[0].hedge_ms, 3600000);
}

struct pool_upstream_case {
	const char *value;
	const char *url; /* NULL for an error */
	int weight, backup;
	const char *err_has;
};

static const struct pool_upstream_case pool_upstream_tests[] = {
    {"https://a.example", "https://a.example", 1, 0, NULL},
    {"https://a.example weight=1000", "https://a.example", 1000, 0, NULL},
    {"https://a.example weight=1", "https://a.example", 1, 0, NULL},
    {"https://a.example weight=007", "https://a.example", 7, 0, NULL},
    {"a.example:3000/base/ backup", "https://a.example:3000/base", 1, 1, NULL},
    {"file:///srv/p/ backup weight=7", "file:///srv/p", 7, 1, NULL},
    {"https://a.example\tweight=2\t backup", "https://a.example", 2, 1, NULL},
    {"HTTPS://A.example/", "https://A.example", 1, 0, NULL},
    {"http://[::1]:3000", "http://[::1]:3000", 1, 0, NULL},
    {"https://a.example/x;y", "https://a.example/x;y", 1, 0, NULL},
    /* weights */
    {"https://a.example weight=0", NULL, 0, 0,
     "bad weight=0: the weight is a whole number from 1 to 1000"},
    {"https://a.example weight=1001", NULL, 0, 0, "bad weight=1001"},
    {"https://a.example weight=-1", NULL, 0, 0, "bad weight=-1"},
    {"https://a.example weight=", NULL, 0, 0, "bad weight="},
    {"https://a.example weight=2.5", NULL, 0, 0, "bad weight=2.5"},
    {"https://a.example weight=2 weight=3", NULL, 0, 0, "weight given twice"},
    {"https://a.example backup backup", NULL, 0, 0, "backup given twice"},
    {"https://a.example weight = 3", NULL, 0, 0,
     "unknown option \"weight\" after the URL (write weight=N without blanks)"},
    {"https://a.example primary", NULL, 0, 0,
     "unknown option \"primary\" after the URL (write weight=N, backup, token_file="},
    {"https://a.example Backup", NULL, 0, 0, "unknown option \"Backup\""},
    /* one URL, and a real one */
    {"", NULL, 0, 0, "empty value (write upstream = URL [weight=N] [backup] [token_file=PATH])"},
    {"direct", NULL, 0, 0, "direct is not an upstream"},
    {"off", NULL, 0, 0, "off is not an upstream"},
    {"https://a.example,https://b.example", NULL, 0, 0, "one URL per upstream line"},
    {"https://a.example|https://b.example", NULL, 0, 0, "one URL per upstream line"},
    {"https://a.example,direct", NULL, 0, 0, "one URL per upstream line"},
    {"ftp://a.example", NULL, 0, 0, "invalid proxy URL scheme (must be https, http, file)"},
    {"corp", NULL, 0, 0, "missing scheme"},
    {"weight=2", NULL, 0, 0, "missing scheme"},
    {"/srv/p", NULL, 0, 0, "write file:///srv/p"},
    {"https://a.example/?x=1", NULL, 0, 0, "query or fragment"},
    {"https://a.example:0", NULL, 0, 0, "port 0"},
    {"https://[::1", NULL, 0, 0, "missing ']'"},
    {"https://u:secret@a.example:99999", NULL, 0, 0, "https://xxxxx@a.example:99999"},
    /* credentials: never inline in the file */
    {"https://u:secret@a.example", NULL, 0, 0,
     "invalid proxy URL https://xxxxx@a.example: credentials in a URL are refused in the "
     "config file"},
    {"https://tok3n@a.example", NULL, 0, 0, "https://xxxxx@a.example: credentials in a URL"},
    {"https://a.example token=s3cret", NULL, 0, 0,
     "token= would put the credential itself in the config file, which modgate refuses"},
    {"https://a.example password=s3cret", NULL, 0, 0, "password= would put the credential itself"},
    {"https://a.example token_file=/x token_env=T", NULL, 0, 0,
     "one credential per upstream: token_file= and token_env both given"},
    {"https://a.example basic_env=B token_file=/x", NULL, 0, 0,
     "one credential per upstream: basic_env= and token_file both given"},
    {"https://a.example token_file=", NULL, 0, 0, "token_file= needs a path"},
    {"https://a.example basic_env=", NULL, 0, 0, "basic_env= needs a variable name"},
    {"https://a.example token_file=relative/tok", NULL, 0, 0,
     "token_file=relative/tok: the path must be absolute"},
    {"https://a.example token_env=1BAD", NULL, 0, 0, "token_env=1BAD: not a variable name"},
    {"https://a.example token_env=BAD-NAME", NULL, 0, 0, "token_env=BAD-NAME: not a variable name"},
    {"https://a.example basic_env=A.B", NULL, 0, 0, "basic_env=A.B: not a variable name"},
    {"https://a.example token_file=/nonexistent/modgate-test/token", NULL, 0, 0,
     "token_file=/nonexistent/modgate-test/token: No such file or directory"},
    {"https://a.example token_file=/", NULL, 0, 0, "token_file=/: not a regular file"},
    {"https://a.example token_env=MODGATE_TEST_UNSET_VAR", NULL, 0, 0,
     "token_env=MODGATE_TEST_UNSET_VAR: the environment variable is not set"},
    {"https://a.example Token_file=/x", NULL, 0, 0, "unknown option \"Token_file=/x\""},
};

static void test_pool_upstream_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pool_upstream_tests) / sizeof(pool_upstream_tests[0]); i++) {
		const struct pool_upstream_case *t = &pool_upstream_tests[i];
		struct config c;
		char text[1024], err[1024], prefix[64];
		int rc;

		snprintf(text, sizeof(text), "[pool \"p\"]\nupstream = %s\n", t->value);
		rc = load(&c, text, err, sizeof(err));
		if (t->url) {
			if (rc != 0)
				fail_msg("\"%s\": rc %d (%s), want success", t->value, rc, err);
			if (c.n_pools != 1 || c.pools[0].n_upstreams != 1 ||
			    strcmp(c.pools[0].upstreams[0].url, t->url) != 0 ||
			    c.pools[0].upstreams[0].weight != t->weight ||
			    c.pools[0].upstreams[0].backup != t->backup)
				fail_msg("\"%s\": got \"%s\" weight %d backup %d", t->value,
				         c.pools[0].upstreams[0].url,
				         c.pools[0].upstreams[0].weight,
				         c.pools[0].upstreams[0].backup);
			continue;
		}
		snprintf(prefix, sizeof(prefix), "t.ini:2: [pool \"p\"] upstream: ");
		if (rc != -1)
			fail_msg("\"%s\": rc %d, want -1", t->value, rc);
		if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, t->err_has))
			fail_msg("\"%s\": error \"%s\", want \"%s...%s\"", t->value, err, prefix,
			         t->err_has);
		if (strstr(err, "secret"))
			fail_msg("\"%s\": error \"%s\" shows the password", t->value, err);
	}
}

/* 16 of each fit, one more is an error on its own line. */
static void test_pool_limits(void **state)
{
	struct config c;
	char err[1024], name[40];
	char *text = malloc(65536);
	size_t used;

	(void)state;
	assert_non_null(text);

	/* upstreams per pool */
	used = (size_t)sprintf(text, "[pool \"p\"]\n");
	for (int i = 0; i < 16; i++)
		used += (size_t)sprintf(text + used, "upstream = https://u%d.example\n", i);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.pools[0].n_upstreams, 16);
	assert_string_equal(c.pools[0].upstreams[15].url, "https://u15.example");
	sprintf(text + used, "upstream = https://u16.example\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:18: [pool \"p\"] upstream: more than 16 upstreams in one "
	                         "pool");

	/* pools */
	used = (size_t)sprintf(text, "[route]\n* = p0\n");
	for (int i = 0; i < 16; i++)
		used += (size_t)sprintf(text + used,
		                        "[pool \"p%d\"]\nupstream = https://a.example\n", i);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.n_pools, 16);
	assert_string_equal(c.pools[15].name, "p15");
	sprintf(text + used, "[pool \"p16\"]\nupstream = https://a.example\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:35: more than 16 pools");

	/* routes */
	used = (size_t)sprintf(text, "[pool \"p\"]\nupstream = https://a.example\n[route]\n");
	for (int i = 0; i < 64; i++)
		used += (size_t)sprintf(text + used, "m%d.example = p\n", i);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.n_routes, 64);
	sprintf(text + used, "m64.example = p\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:68: [route] more than 64 routes");

	/* names: 32 characters fit, 33 do not */
	memset(name, 'a', sizeof(name));
	name[32] = '\0';
	sprintf(text, "[pool \"%s\"]\nupstream = https://a.example\n", name);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_string_equal(c.pools[0].name, name);
	name[32] = 'a';
	name[33] = '\0';
	sprintf(text, "[pool \"%s\"]\nupstream = https://a.example\n", name);
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.ini:1: bad pool name"));

	/* a route pattern of 255 bytes fits, 256 do not */
	used = (size_t)sprintf(text, "[pool \"p\"]\nupstream = https://a.example\n[route]\n");
	memset(text + used, 'x', 255);
	sprintf(text + used + 255, " = p\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.routes[0].pattern), 255);
	memset(text + used, 'x', 256);
	sprintf(text + used + 256, " = p\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.ini:4: [route] pattern longer than 255 bytes"));

	free(text);
}

/* Pools, routes and the go binary come from the file alone: a file without
 * pools, loaded over a config with some, leaves none. */
static void test_pool_replaced_by_file(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	assert_int_equal(load(&c, pools_ini, err, sizeof(err)), 0);
	assert_int_equal(config_load_string(&c, "[server]\nworkers = 3\n[breaker]\nprobes = 2\n",
	                                    "t.ini", err, sizeof(err)),
	                 0);
	assert_int_equal(c.n_pools, 0);
	assert_int_equal(c.n_routes, 0);
	assert_string_equal(c.go_binary, "");
	assert_int_equal(c.workers, 3);
	assert_int_equal(c.breaker.half_open_probes, 2);
	assert_int_equal(config_route_for(&c, "git.corp.example/x", NULL), CONFIG_ROUTE_CHAIN);

	/* and a failed load leaves the pools where they were */
	assert_int_equal(config_load_string(&c, pools_ini, "t.ini", err, sizeof(err)), 0);
	assert_int_equal(config_load_string(&c, "[pool \"x\"]\n", "t.ini", err, sizeof(err)), -1);
	assert_int_equal(c.n_pools, 2);
	assert_int_equal(c.n_routes, 4);
	assert_string_equal(c.go_binary, fake_go);
}

/* ---- on_open = direct and the go command ------------------------------------------------------
 */

static void test_go_on_path(void **state)
{
	static const char direct_ini[] = "[pool \"p\"]\n"
	                                 "upstream = https://a.example\n"
	                                 "on_open = direct\n";
	static const char route_ini[] = "[pool \"p\"]\n"
	                                "upstream = https://a.example\n"
	                                "[route]\n"
	                                "rsc.io = direct\n"
	                                "* = p\n";
	char empty[] = "/tmp/modgate-test-nogo-XXXXXX", sub[128], path[512], cwd[4096];
	struct config c, before;
	char err[1024];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(empty));

	/* found: the group's PATH holds the fake go */
	assert_int_equal(load(&c, direct_ini, err, sizeof(err)), 0);
	assert_string_equal(c.go_binary, fake_go);
	assert_int_equal(load(&c, route_ini, err, sizeof(err)), 0);
	assert_string_equal(c.go_binary, fake_go);
	assert_int_equal(config_route_for(&c, "rsc.io/quote", NULL), CONFIG_ROUTE_DIRECT);

	/* the first absolute directory with one wins */
	snprintf(path, sizeof(path), "%s:%s:/nonexistent", empty, fake_go_dir);
	setenv("PATH", path, 1);
	assert_int_equal(load(&c, direct_ini, err, sizeof(err)), 0);
	assert_string_equal(c.go_binary, fake_go);
	snprintf(path, sizeof(path), "%s//", fake_go_dir); /* trailing '/' are dropped */
	setenv("PATH", path, 1);
	assert_int_equal(load(&c, direct_ini, err, sizeof(err)), 0);
	assert_string_equal(c.go_binary, fake_go);

	/* none: an empty folder, no PATH, an empty PATH */
	config_init_defaults(&before);
	setenv("PATH", empty, 1);
	c = before;
	assert_int_equal(config_load_string(&c, direct_ini, "t.ini", err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:3: [pool \"p\"] on_open = direct needs the go command, and "
	                         "none is on PATH (modgate looks for an executable file go in the "
	                         "absolute directories of $PATH)");
	assert_same_config(&c, &before);
	assert_int_equal(config_load_string(&c, route_ini, "t.ini", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.ini:4: [route] rsc.io = direct needs the go command, and "
	                            "none is on PATH"));
	unsetenv("PATH");
	assert_int_equal(load(&c, direct_ini, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.ini:3: [pool \"p\"] on_open = direct needs the go command"));
	setenv("PATH", "", 1);
	assert_int_equal(load(&c, direct_ini, err, sizeof(err)), -1);

	/* relative entries are never searched, not even "." or "" */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fake_go_dir), 0);
	setenv("PATH", ".::./", 1);
	assert_int_equal(load(&c, direct_ini, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs the go command"));
	assert_int_equal(chdir(cwd), 0);

	/* a folder named go, and a go that is not executable, are not the go command */
	snprintf(sub, sizeof(sub), "%s/go", empty);
	assert_int_equal(mkdir(sub, 0755), 0);
	setenv("PATH", empty, 1);
	assert_int_equal(load(&c, direct_ini, err, sizeof(err)), -1);
	assert_int_equal(rmdir(sub), 0);
	f = fopen(sub, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(sub, 0644), 0);
	if (access(sub, X_OK) != 0) /* root may execute anything with an x bit only */
		assert_int_equal(load(&c, direct_ini, err, sizeof(err)), -1);
	assert_int_equal(unlink(sub), 0);

	/* on_open = 503 and routes to off need no go command */
	assert_int_equal(load(&c,
	                      "[pool \"p\"]\nupstream = https://a.example\non_open = 503\n"
	                      "[route]\nx.example = off\n* = p\n",
	                      err, sizeof(err)),
	                 0);
	assert_string_equal(c.go_binary, "");

	setenv("PATH", fake_go_dir, 1);
	assert_int_equal(rmdir(empty), 0);
}

/* ---- routes --------------------------------------------------------------------------------- */

/* Patterns in file order, and the order config_route_for tries them in. */
static const char *const route_order_in[] = {
    "*",                       /* catch-all: last */
    "*.example",               /* 1 element, 1 wildcard */
    "golang.org",              /* 1 element, 0 wildcards */
    "golang.org/x/*",          /* 3, 1 */
    "golang.org/x/mod",        /* 3, 0 */
    "github.com/*/*",          /* 3, 2 */
    "github.com/acme",         /* 2, 0 */
    "github.com/acme/*",       /* 3, 1 */
    "git.corp.example/team/*", /* 3, 1 */
    "?.example",               /* 1, 1 */
    "x\\*.example",            /* 1, 0: an escaped star is no wildcard */
    "a[bc]d.example",          /* 1, 1: a class counts one */
    "**",                      /* catch-all, 2 wildcards: after "*" */
    "github.com/acme2/",       /* 2, 0: the trailing '/' is dropped */
};

static const char *const route_order_out[] = {
    "golang.org/x/mod",
    "golang.org/x/*",
    "github.com/acme/*",
    "git.corp.example/team/*",
    "github.com/*/*",
    "github.com/acme",
    "github.com/acme2",
    "golang.org",
    "x\\*.example",
    "*.example",
    "?.example",
    "a[bc]d.example",
    "*",
    "**",
};

static void test_route_order(void **state)
{
	struct config c;
	char text[4096], err[512];
	size_t used, n = sizeof(route_order_in) / sizeof(route_order_in[0]);

	(void)state;
	assert_int_equal(n, sizeof(route_order_out) / sizeof(route_order_out[0]));
	used = (size_t)sprintf(text, "[route]\n");
	for (size_t i = 0; i < n; i++)
		used += (size_t)sprintf(text + used, "%s = p\n", route_order_in[i]);
	sprintf(text + used, "[pool \"p\"]\nupstream = https://a.example\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.n_routes, (int)n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(c.routes[i].pattern, route_order_out[i]) != 0)
			fail_msg("route %zu: got \"%s\", want \"%s\"", i, c.routes[i].pattern,
			         route_order_out[i]);

	/* reversing the file changes nothing but the order of equals */
	used = (size_t)sprintf(text, "[pool \"p\"]\nupstream = https://a.example\n[route]\n");
	for (size_t i = n; i-- > 0;)
		used += (size_t)sprintf(text + used, "%s = p\n", route_order_in[i]);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_string_equal(c.routes[0].pattern, "golang.org/x/mod");
	assert_string_equal(c.routes[1].pattern, "git.corp.example/team/*"); /* file order */
	assert_string_equal(c.routes[2].pattern, "github.com/acme/*");
	assert_string_equal(c.routes[3].pattern, "golang.org/x/*");
	assert_string_equal(c.routes[n - 2].pattern, "*");
	assert_string_equal(c.routes[n - 1].pattern, "**");
}

struct route_case {
	const char *module;
	int target;
	const char *pool; /* for CONFIG_ROUTE_POOL */
};

static const struct route_case route_tests[] = {
    {"golang.org/x/mod", CONFIG_ROUTE_POOL, "public"},
    {"git.corp.example/team/mod", CONFIG_ROUTE_POOL, "corp"},
    {"git.corp.example/x", CONFIG_ROUTE_POOL, "corp"},
    {"git.corp.example", CONFIG_ROUTE_POOL, "public"}, /* fewer elements than the pattern */
    {"git.corp.example2/x", CONFIG_ROUTE_POOL, "public"},
    {"rsc.io/private", CONFIG_ROUTE_DIRECT, NULL},
    {"rsc.io/private/v2", CONFIG_ROUTE_DIRECT, NULL},
    {"rsc.io/privately", CONFIG_ROUTE_POOL, "public"}, /* whole elements only */
    {"rsc.io/quote", CONFIG_ROUTE_POOL, "public"},
    {"example.com/blocked", CONFIG_ROUTE_OFF, NULL},
    {"example.com/blocked/sub/v3", CONFIG_ROUTE_OFF, NULL},
    {"example.com/blockedx", CONFIG_ROUTE_POOL, "public"},
    {"Example.com/blocked", CONFIG_ROUTE_POOL, "public"}, /* case matters, as in Go */
    {"", CONFIG_ROUTE_POOL, "public"},
};

static void test_route_for(void **state)
{
	struct config c;
	char err[512];
	int pool;

	(void)state;
	assert_int_equal(load(&c, pools_ini, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(route_tests) / sizeof(route_tests[0]); i++) {
		const struct route_case *t = &route_tests[i];
		int got;

		pool = 99;
		got = config_route_for(&c, t->module, &pool);
		if (got != t->target)
			fail_msg("\"%s\": target %d, want %d", t->module, got, t->target);
		if (t->pool && (pool < 0 || strcmp(c.pools[pool].name, t->pool) != 0))
			fail_msg("\"%s\": pool %d, want %s", t->module, pool, t->pool);
		if (!t->pool && pool != -1)
			fail_msg("\"%s\": pool %d, want -1", t->module, pool);
		assert_int_equal(config_route_for(&c, t->module, NULL), t->target);
	}

	/* no "*": a module that matches nothing has no route */
	assert_int_equal(load(&c,
	                      "[pool \"a\"]\nupstream = https://a.example\n"
	                      "[pool \"b\"]\nupstream = https://b.example\n"
	                      "[route]\n*.corp.example = a\ngolang.org/x = b\n",
	                      err, sizeof(err)),
	                 0);
	pool = 99;
	assert_int_equal(config_route_for(&c, "rsc.io/quote", &pool), CONFIG_ROUTE_NONE);
	assert_int_equal(pool, -1);
	assert_int_equal(config_route_for(&c, "git.corp.example/x", &pool), CONFIG_ROUTE_POOL);
	assert_int_equal(pool, 0);
	assert_int_equal(config_route_for(&c, "golang.org/x/mod", &pool), CONFIG_ROUTE_POOL);
	assert_int_equal(pool, 1);
	assert_int_equal(config_route_for(&c, "golang.org/y", &pool), CONFIG_ROUTE_NONE);

	/* one pool and no [route]: every module goes to it, through "* = pool" */
	assert_int_equal(
	    load(&c, "[pool \"only\"]\nupstream = https://a.example\n", err, sizeof(err)), 0);
	assert_int_equal(c.n_routes, 1);
	assert_string_equal(c.routes[0].pattern, "*");
	assert_int_equal(config_route_for(&c, "golang.org/x/mod", &pool), CONFIG_ROUTE_POOL);
	assert_int_equal(pool, 0);
	assert_int_equal(config_route_for(&c, "a/b/c/d/e", &pool), CONFIG_ROUTE_POOL);

	/* no pools: the GOPROXY chain, and noproxy, as before pools existed */
	assert_int_equal(load(&c, "[upstream]\nnoproxy = *.corp.example\n", err, sizeof(err)), 0);
	pool = 99;
	assert_int_equal(config_route_for(&c, "golang.org/x/mod", &pool), CONFIG_ROUTE_CHAIN);
	assert_int_equal(pool, -1);
	assert_int_equal(config_route_for(&c, "git.corp.example/x", &pool), CONFIG_ROUTE_CHAIN);
	assert_int_equal(config_is_noproxy(&c, "git.corp.example/x"), 1);
}

/* Errors that need the whole file, and the pool and route errors, each on
 * its line. (The generic table is test_ini_errors.) */
static const struct ini_error_case pool_error_tests[] = {
    /* headers */
    {"[pool \"Public\"]\nupstream = https://a.example\n", 1,
     "bad pool name \"Public\" (1 to 32 characters from a-z, 0-9, '_' and '-')"},
    {"[pool \"\"]\n", 1, "bad pool name \"\""},
    {"[pool \"a b\"]\n", 1, "bad pool name \"a b\""},
    {"[pool \"a.b\"]\n", 1, "bad pool name \"a.b\""},
    {"[pool]\n", 1, "bad pool header [pool] (write [pool \"NAME\"])"},
    {"[pool public]\n", 1, "bad pool header [pool public]"},
    {"[pool \"a\" ]\n", 1, "bad pool header"},
    {"[pool \"a\"x]\n", 1, "bad pool header"},
    {"[pool \"a]\n", 1, "bad pool header"},
    {"[pools]\n", 1, "unknown section [pools]"},
    {"[Pool \"a\"]\n", 1, "unknown section [Pool \"a\"]"},
    {"[pool \"direct\"]\n", 1, "pool name \"direct\" is reserved"},
    {"[pool \"off\"]\n", 1, "pool name \"off\" is reserved"},
    {"[pool \"a\"]\nupstream = https://a.example\n\n[pool \"a\"]\n", 4,
     "duplicate pool \"a\" (first defined on line 1)"},
    /* keys */
    {"[pool \"a\"]\nweight = 3\n", 2,
     "unknown key 'weight' in [pool \"a\"] (known: upstream, on_open, retry_budget, "
     "retry_min_per_sec, hedge)"},
    {"[pool \"a\"]\nupstream = https://a.example\nhedge = off\nhedge = off\n", 4,
     "duplicate key 'hedge' in [pool \"a\"] (first set on line 3)"},
    {"[pool \"a\"]\nupstream = https://a.example/\nupstream = a.example weight=2\n", 3,
     "[pool \"a\"] upstream: https://a.example is already in this pool (line 2); give it a "
     "larger weight instead"},
    {"[pool \"a\"]\nupstream = https://a.example\nupstream = "
     "https://a.example\n",
     3, "https://a.example is already in this pool"},
    {"[pool \"a\"]\nupstream = \"https://a.example\"\n", 2,
     "[pool \"a\"] upstream: values are not quoted"},
    {"[pool \"a\"]\non_open = 502\n", 2,
     "[pool \"a\"] on_open: \"502\" is not a policy (write 503 or direct)"},
    {"[pool \"a\"]\non_open = Direct\n", 2, "\"Direct\" is not a policy"},
    {"[pool \"a\"]\non_open = 503 # fast\n", 2, "(only ';' starts a comment after a value)"},
    {"[pool \"a\"]\nretry_budget = 20\n", 2,
     "[pool \"a\"] retry_budget: \"20\" is not a percentage (write 0% to 100%, with the % sign)"},
    {"[pool \"a\"]\nretry_budget = 101%\n", 2, "\"101%\" is not a percentage from 0% to 100%"},
    {"[pool \"a\"]\nretry_budget = -1%\n", 2, "is not a percentage from 0% to 100%"},
    {"[pool \"a\"]\nretry_budget = 2.5%\n", 2, "is not a percentage from 0% to 100%"},
    {"[pool \"a\"]\nretry_budget = 20 %\n", 2, "is not a percentage"},
    {"[pool \"a\"]\nretry_budget = %\n", 2, "is not a percentage"},
    {"[pool \"a\"]\nretry_budget =\n", 2, "is not a percentage"},
    {"[pool \"a\"]\nretry_min_per_sec = 1001\n", 2,
     "[pool \"a\"] retry_min_per_sec: 1001 is out of range 0..1000"},
    {"[pool \"a\"]\nretry_min_per_sec = 3/s\n", 2, "not a whole decimal number"},
    {"[pool \"a\"]\nhedge = 0\n", 2,
     "[pool \"a\"] hedge: 0 is out of range 1ms..1h (write off for no hedging)"},
    {"[pool \"a\"]\nhedge = 2h\n", 2, "2h is out of range 1ms..1h"},
    {"[pool \"a\"]\nhedge = fast\n", 2, "[pool \"a\"] hedge: bad duration \"fast\""},
    {"[pool \"a\"]\nhedge = OFF\n", 2, "bad duration"},
    {"[pool \"a\"]\nhedge = p95\n", 2, "bad duration"},
    /* a pool without upstreams */
    {"[pool \"a\"]\n", 1, "pool \"a\" has no upstream (add upstream = URL)"},
    {"[pool \"a\"]\non_open = 503\n[route]\n* = a\n", 1, "pool \"a\" has no upstream"},
    {"[pool \"a\"]\nupstream = https://a.example\n[pool \"b\"]\n[route]\n* = a\n", 3,
     "pool \"b\" has no upstream"},
    /* several pools, no routes */
    {"[pool \"a\"]\nupstream = https://a.example\n\n[pool \"b\"]\nupstream = https://b.example\n",
     4, "several pools need a [route] section to say which modules go to which pool"},
    {"[pool \"a\"]\nupstream = https://a.example\n[pool \"b\"]\nupstream = https://b.example\n"
     "[pool \"c\"]\nupstream = https://c.example\n",
     3, "several pools need a [route] section"},
    /* routes */
    {"[server]\nworkers = 2\n[route]\n* = direct\n", 3,
     "[route] needs [pool] sections (without pools, [upstream] proxy serves every module)"},
    {"[route]\n", 1, "[route] needs [pool] sections"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\n", 3,
     "[route] has no routes (write PATTERN = POOL lines, or remove the section)"},
    {"[route]\ngit.corp.example = corp\n* = public\n[pool \"public\"]\n"
     "upstream = https://a.example\n",
     2, "[route] git.corp.example: no pool named \"corp\" (pools: public)"},
    {"[pool \"a\"]\nupstream = https://a.example\n[pool \"b\"]\nupstream = https://b.example\n"
     "[route]\nx.example = a\ny.example = c\n",
     7, "[route] y.example: no pool named \"c\" (pools: a, b)"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\nx.example = Corp\n", 4,
     "[route] x.example: \"Corp\" is not a pool name, direct or off"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\nx.example = a b\n", 4,
     "\"a b\" is not a pool name, direct or off"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\nx.example =\n", 4,
     "\"\" is not a pool name, direct or off"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\nx.example = a # corp\n", 4,
     "(only ';' starts a comment after a value)"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\nx.example = \"a\"\n", 4,
     "values are not quoted"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\nx.example/[a- = a\n", 4,
     "[route] bad pattern \"x.example/[a-\": syntax error"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\nx\\ = a\n", 4, "bad pattern"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\na.example,b.example = a\n", 4,
     "one pattern per route"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\n= a\n", 4,
     "[route] empty pattern (write * for every module)"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\n/ = a\n", 4, "empty pattern"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\na// = a\n", 4,
     "[route] pattern \"a//\" ends with an empty path element"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\n// = a\n", 4, "empty path element"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\na b = a\n", 4,
     "pattern \"a b\" contains a blank"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\n\"a.example\" = a\n", 4,
     "patterns are not quoted"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\na.example = a\n* = a\na.example/ = "
     "off\n",
     6, "[route] duplicate route for a.example (first on line 4)"},
    {"[pool \"a\"]\nupstream = https://a.example\n[route]\n* = a\n[route]\nx = off\n", 5,
     "a second [route] section (the first is on line 3): put every route in one"},
    /* breaker: each value on its line, cross-field ones on the key at fault */
    {"[breaker]\nwindow = 0\n", 2, "[breaker] window: window_size (0) must be between 1 and 512"},
    {"[breaker]\nfailures = 100001\n", 2,
     "[breaker] failures: consecutive_failures (100001) must be between 0 and 100000 (0 turns "
     "it off)"},
    {"[breaker]\nwindow = 5\nmin_calls = 6\n", 3,
     "[breaker] min_calls: window_min_calls (6) must be between 1 and 5 (the window size)"},
    {"[breaker]\nwindow = 5\nslow = 1s\n", 3, /* min_calls 10 by default: the last key */
     "[breaker] min_calls: window_min_calls (10) must be between 1 and 5"},
    {"[breaker]\nopen = 2m\nopen_max = 1m\n", 3,
     "[breaker] open_max: open_max_ms (60000) must be between 120000 and 86400000 (at least "
     "open_base_ms)"},
    {"[breaker]\nopen = 2m\n\n", 2, "[breaker] open_max: open_max_ms (60000)"},
    {"[breaker]\nslow = 0\n", 2, "[breaker] slow: slow_ms (0) must be between 1 and 86400000"},
    {"[breaker]\nslow = 25h\n", 2, "[breaker] slow: 25h is out of range 0s..24h"},
    {"[breaker]\nopen = 1.5s\n", 2, "[breaker] open: bad duration"},
    {"[breaker]\njitter = 100%\n", 2,
     "[breaker] jitter: jitter_pct (100) must be between 0 and 99"},
    {"[breaker]\njitter = 20\n", 2, "[breaker] jitter: \"20\" is not a percentage"},
    {"[breaker]\nfailure_rate = 101%\n", 2, "is not a percentage from 0% to 100%"},
    {"[breaker]\nslow_rate = 50 %\n", 2, "[breaker] slow_rate: \"50 %\" is not a percentage"},
    {"[breaker]\nprobes = 0\n", 2, "[breaker] probes: half_open_probes (0) must be between 1"},
    {"[breaker]\nprobe_successes = 1001\n", 2,
     "[breaker] probe_successes: half_open_successes (1001) must be between 1 and 1000"},
    {"[breaker]\nmin_calls = -1\n", 2, "not a whole decimal number"},
    {"[breaker]\nwindow = 99999999999\n", 2, "out of range 0..2147483647"},
    {"[breaker]\nconsecutive = 3\n", 2,
     "unknown key 'consecutive' in [breaker] (known: failures, window, min_calls, "
     "failure_rate, slow, slow_rate, open, open_max, jitter, probes, probe_successes)"},
    {"[breaker]\nprobes = 2\n[server]\n[breaker]\nprobes = 3\n", 5,
     "duplicate key 'probes' in [breaker] (first set on line 2)"},
    /* of the errors found at the end, the earliest line wins */
    {"[pool \"a\"]\nupstream = https://a.example\n[breaker]\nwindow = 0\n[route]\n* = b\n", 4,
     "[breaker] window"},
    {"[route]\n* = b\n[breaker]\nwindow = 0\n[pool \"a\"]\nupstream = https://a.example\n", 2,
     "no pool named \"b\""},
    {"[pool \"a\"]\n[breaker]\nwindow = 0\n", 1, "pool \"a\" has no upstream"},
    /* a parse error stops everything, even an earlier end-of-file one */
    {"[pool \"a\"]\n[server]\nworkers = 0\n", 3, "workers: 0 is out of range"},
};

static void test_pool_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pool_error_tests) / sizeof(pool_error_tests[0]); i++) {
		const struct ini_error_case *t = &pool_error_tests[i];
		struct config c, d;
		char err[1024], prefix[32];
		int rc = load(&c, t->text, err, sizeof(err));

		snprintf(prefix, sizeof(prefix), "t.ini:%d: ", t->line);
		if (rc != -1)
			fail_msg("case %zu: rc %d, want -1 for:\n%s", i, rc, t->text);
		if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, t->err_has))
			fail_msg("case %zu: error \"%s\", want \"%s...%s\"", i, err, prefix,
			         t->err_has);
		if (strstr(err, "secret"))
			fail_msg("case %zu: error \"%s\" shows a password", i, err);
		config_init_defaults(&d);
		assert_same_config(&c, &d);
	}
}

static void test_dump_pools(void **state)
{
	struct config c;
	char err[512], *text;

	(void)state;
	assert_int_equal(load(&c, pools_ini, err, sizeof(err)), 0);
	text = dump_to_string(&c);
	assert_non_null(strstr(text, "; direct runs the go command found on $PATH: "));
	assert_non_null(strstr(text, fake_go));
	assert_non_null(strstr(text, "\n[upstream]\n; not used while there are pools: [route] "
	                             "decides\nproxy = "));
	assert_non_null(strstr(text, "\n\n[pool \"public\"]\n"
	                             "upstream = https://proxy.golang.org weight=3\n"
	                             "upstream = https://goproxy.cn weight=1\n"
	                             "upstream = https://goproxy.io weight=1 backup\n"
	                             "on_open = 503\n"
	                             "retry_budget = 10%\n"
	                             "retry_min_per_sec = 0\n"
	                             "hedge = off\n"
	                             "\n"
	                             "[pool \"corp\"]\n"
	                             "upstream = http://athens.corp.example:3000 weight=1\n"
	                             "upstream = https://proxy.golang.org weight=2 backup\n"
	                             "on_open = direct\n"
	                             "retry_budget = 20%\n"
	                             "retry_min_per_sec = 3\n"
	                             "hedge = off\n"
	                             "\n"
	                             "[route]\n"
	                             "rsc.io/private = direct\n"
	                             "example.com/blocked = off\n"
	                             "git.corp.example/* = corp\n"
	                             "* = public\n"));
	free(text);
	roundtrip(&c);

	/* one pool: the implied route is written out, and loads back the same */
	assert_int_equal(
	    load(&c,
	         "[pool \"only\"]\nupstream = https://a.example/x/ weight=1000\n"
	         "upstream = file:///srv/p backup\nhedge = off\n"
	         "[breaker]\nfailures = 0\nslow = 1500ms\nopen_max = 24h\njitter = 0%\n",
	         err, sizeof(err)),
	    0);
	text = dump_to_string(&c);
	assert_non_null(strstr(text, "\nupstream = https://a.example/x weight=1000\n"));
	assert_non_null(strstr(text, "\nhedge = off\n"));
	assert_non_null(strstr(text, "\n[route]\n* = only\n"));
	assert_non_null(strstr(text, "\nslow = 1500ms\n"));
	assert_non_null(strstr(text, "\nopen_max = 24h\n"));
	assert_non_null(strstr(text, "\nfailures = 0\n"));
	assert_null(strstr(text, "go command found")); /* nothing needs it */
	free(text);
	roundtrip(&c);

	/* every route order the sort can produce loads back to itself */
	{
		char buf[4096];
		size_t used = (size_t)sprintf(buf, "[pool \"p\"]\nupstream = https://a.example\n"
		                                   "[pool \"q\"]\nupstream = https://a.example\n"
		                                   "[route]\n");

		for (size_t i = 0; i < sizeof(route_order_in) / sizeof(route_order_in[0]); i++)
			used += (size_t)sprintf(buf + used, "%s = %s\n", route_order_in[i],
			                        i % 3 == 0   ? "p"
			                        : i % 3 == 1 ? "q"
			                                     : "off");
		assert_int_equal(load(&c, buf, err, sizeof(err)), 0);
		roundtrip(&c);
	}
}

/* The pools and routes example of etc/modgate.ini, as its comment says:
 * the lines from the first ";   [" after the announcement, with ";   "
 * removed and ";" alone read as a blank line, to the first other line. */
static void check_ini_example(const char *text)
{
	const char *p = strstr(text, "modgate's tests load this example");
	char *ex = calloc(1, 1 << 16), err[512];
	size_t used = 0;
	struct config c;
	int pool;

	assert_non_null(p);
	assert_non_null(ex);
	p = strstr(p, "\n;   [");
	assert_non_null(p);
	for (p++; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n >= 4 && strncmp(p, ";   ", 4) == 0)
			used += (size_t)snprintf(ex + used, (1 << 16) - used, "%.*s\n", (int)n - 4,
			                         p + 4);
		else if (n == 1 && p[0] == ';')
			used += (size_t)snprintf(ex + used, (1 << 16) - used, "\n");
		else
			break;
		p += n + (nl ? 1 : 0);
	}
	if (load(&c, ex, err, sizeof(err)) != 0)
		fail_msg("the example does not load: %s\n%s", err, ex);
	assert_int_equal(c.n_pools, 2);
	assert_string_equal(c.pools[0].name, "public");
	assert_int_equal(c.pools[0].n_upstreams, 3);
	assert_int_equal(c.pools[0].upstreams[0].weight, 3);
	assert_int_equal(c.pools[0].upstreams[2].backup, 1);
	assert_int_equal(c.pools[0].hedge_ms, 0);
	assert_string_equal(c.pools[1].name, "corp");
	assert_int_equal(c.pools[1].on_open, CONFIG_ON_OPEN_DIRECT);
	assert_int_equal(c.pools[1].retry_budget_pct, 50);
	assert_string_equal(c.go_binary, fake_go);
	assert_int_equal(config_route_for(&c, "git.corp.example/team/mod", &pool),
	                 CONFIG_ROUTE_POOL);
	assert_int_equal(pool, 1);
	assert_int_equal(config_route_for(&c, "golang.org/x/mod", &pool), CONFIG_ROUTE_POOL);
	assert_int_equal(pool, 0);
	assert_int_equal(config_route_for(&c, "example.com/abandoned/v2", &pool), CONFIG_ROUTE_OFF);
	roundtrip(&c);
	free(ex);
}

/* etc/modgate.ini, as shipped, changes nothing; with every ";key = value"
 * line uncommented it still loads, and gives exactly the built-in defaults:
 * the documented defaults are the real ones. Its example of pools and
 * routes loads too. Runs from the source root, as make test does; skipped
 * elsewhere. */
static void test_example_file(void **state)
{
	static const char path[] = "etc/modgate.ini";
	struct config c, d;
	char err[512], *text, *out, *line;
	size_t len, used = 0;
	int keys = 0;
	FILE *f;

	(void)state;
	f = fopen(path, "rb");
	if (!f)
		skip();
	text = calloc(1, 1 << 20);
	out = calloc(1, 1 << 20);
	assert_non_null(text);
	assert_non_null(out);
	len = fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(len > 0);

	config_init_defaults(&d);
	c = d;
	if (config_load_file(&c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_same_config(&c, &d);
	check_ini_example(text);

	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		size_t n = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_");

		if (line[0] == ';' && n > 0 && strncmp(line + 1 + n, " =", 2) == 0) {
			line++;
			keys++;
		}
		used += (size_t)snprintf(out + used, (1 << 20) - used, "%s\n", line);
	}
	assert_int_equal(keys, 33); /* every key of every section */
	c = d;
	c.workers = 64; /* so the file has to set them back */
	c.breaker.window_size = 512;
	c.breaker.jitter_pct = 0;
	if (config_load_string(&c, out, "uncommented.ini", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_same_config(&c, &d);
	free(text);
	free(out);
}

/* GOSUMDB, as the go command reads it, and [sumdb] database. */
static void test_gosumdb(void **state)
{
	struct config c, before;
	char err[512];

	(void)state;
	config_init_defaults(&c);
	assert_string_equal(c.sumdb_name, "sum.golang.org");
	assert_string_equal(c.sumdb_url, "");

	/* The go command's own key for its default database. */
	assert_int_equal(config_parse_gosumdb(&c, "sum.golang.org", err, sizeof(err)), 0);
	assert_non_null(strstr(c.sumdb_key, "+033de0ae+"));
	/* The mirror in China: the same database, another address. */
	assert_int_equal(config_parse_gosumdb(&c, "sum.golang.google.cn", err, sizeof(err)), 0);
	assert_string_equal(c.sumdb_name, "sum.golang.org");
	assert_string_equal(c.sumdb_url, "https://sum.golang.google.cn");

	/* A key and a URL: the database's name comes from the key. */
	assert_int_equal(config_parse_gosumdb(&c,
	                                      "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+"
	                                      "s3Ux18htTTAD8OuAn8 sumdb.example:8443",
	                                      err, sizeof(err)),
	                 0);
	assert_string_equal(c.sumdb_url, "https://sumdb.example:8443");
	assert_int_equal(config_is_nosumdb(&c, "rsc.io/quote"), 0);

	assert_int_equal(config_parse_gosumdb(&c, "off", err, sizeof(err)), 0);
	assert_string_equal(c.sumdb_name, "");
	assert_int_equal(config_is_nosumdb(&c, "rsc.io/quote"), 1);

	config_init_defaults(&c);
	before = c;
	/* A name the go command has no key for. */
	assert_int_equal(config_parse_gosumdb(&c, "sum.example.com", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown checksum database sum.example.com"));
	/* A key whose hash does not match its name and data. */
	assert_int_equal(config_parse_gosumdb(
	                     &c,
	                     "sum.golang.org+033de0af+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
	                     err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "checksum database key"));
	assert_int_equal(config_parse_gosumdb(&c, "", err, sizeof(err)), -1);
	assert_int_equal(config_parse_gosumdb(&c, "sum.golang.org a b", err, sizeof(err)), -1);
	assert_int_equal(config_parse_gosumdb(&c, "sum.golang.org file:///x", err, sizeof(err)),
	                 -1);
	assert_same_config(&c, &before);

	/* GONOSUMDB, else GOPRIVATE. */
	clear_env();
	setenv("GOPRIVATE", "*.corp.example", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_int_equal(config_is_nosumdb(&c, "git.corp.example/x"), 1);
	assert_int_equal(config_is_nosumdb(&c, "rsc.io/quote"), 0);
	setenv("GONOSUMDB", "rsc.io", 1);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_int_equal(config_is_nosumdb(&c, "rsc.io/quote"), 1);
	setenv("GOSUMDB", "nope.example", 1);
	before = c;
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "GOSUMDB: unknown checksum database"));
	assert_same_config(&c, &before);
	clear_env();

	/* The INI key. */
	config_init_defaults(&c);
	assert_int_equal(config_load_string(&c, "[sumdb]\ndatabase = off\nnosumdb = a.example\n",
	                                    "t.ini", err, sizeof(err)),
	                 0);
	assert_string_equal(c.sumdb_name, "");
	assert_string_equal(c.nosumdb, "a.example");
}

/* ---- credentials -------------------------------------------------------------- */

static char cred_dir[] = "/tmp/modgate-test-creds-XXXXXX";

/* Writes content to cred_dir/name (mode 0600) and returns the path. */
static const char *cred_file(const char *name, const char *content)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];
	FILE *f;

	snprintf(p, 256, "%s/%s", cred_dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, 0600), 0);
	return p;
}

/* Loads one pool with upstream = URL OPTS; rc, err in err. */
static int load_upstream(struct config *c, const char *opts, char *err, size_t errlen)
{
	char text[1024];

	snprintf(text, sizeof(text), "[pool \"p\"]\nupstream = https://a.example %s\n", opts);
	return load(c, text, err, errlen);
}

static const struct config_cred *cred_of(const struct config *c, int cred)
{
	assert_true(cred >= 1 && cred <= c->n_creds);
	return &c->creds[cred - 1];
}

static int cred_setup(void **state)
{
	(void)state;
	return mkdtemp(cred_dir) ? 0 : -1;
}

static int cred_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cred_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_cred_sources(void **state)
{
	struct config c;
	char err[1024], opt[600];
	const struct config_cred *k;

	(void)state;
	/* a token file, its line break dropped */
	snprintf(opt, sizeof(opt), "weight=3 token_file=%s backup",
	         cred_file("tok", "t0k3n-Abc.~+/=\n"));
	assert_int_equal(load_upstream(&c, opt, err, sizeof(err)), 0);
	k = cred_of(&c, c.pools[0].upstreams[0].cred);
	assert_int_equal(k->kind, CONFIG_CRED_BEARER);
	assert_int_equal(k->from, CONFIG_CRED_FILE);
	assert_string_equal(k->secret, "t0k3n-Abc.~+/=");
	assert_int_equal(c.pools[0].upstreams[0].weight, 3);
	assert_int_equal(c.pools[0].upstreams[0].backup, 1);
	/* basic from a file: the first ':' splits, the password may hold more */
	snprintf(opt, sizeof(opt), "basic_file=%s", cred_file("basic", "al ice:pa:ss w\r\n"));
	assert_int_equal(load_upstream(&c, opt, err, sizeof(err)), 0);
	k = cred_of(&c, c.pools[0].upstreams[0].cred);
	assert_int_equal(k->kind, CONFIG_CRED_BASIC);
	assert_string_equal(k->secret, "al ice:pa:ss w");
	/* from the environment */
	setenv("MODGATE_T_TOKEN", "envtok\n", 1);
	setenv("MODGATE_T_BASIC", "bob:pw", 1);
	assert_int_equal(load_upstream(&c, "token_env=MODGATE_T_TOKEN", err, sizeof(err)), 0);
	k = cred_of(&c, c.pools[0].upstreams[0].cred);
	assert_int_equal(k->from, CONFIG_CRED_ENV);
	assert_string_equal(k->source, "MODGATE_T_TOKEN");
	assert_string_equal(k->secret, "envtok");
	assert_int_equal(load_upstream(&c, "basic_env=MODGATE_T_BASIC", err, sizeof(err)), 0);
	assert_string_equal(cred_of(&c, c.pools[0].upstreams[0].cred)->secret, "bob:pw");
	/* none: no credential */
	assert_int_equal(load_upstream(&c, "", err, sizeof(err)), 0);
	assert_int_equal(c.pools[0].upstreams[0].cred, 0);
	assert_int_equal(c.n_creds, 0);
	unsetenv("MODGATE_T_TOKEN");
	unsetenv("MODGATE_T_BASIC");
}

/* Secrets that cannot be used: refused on the line, never quoted. */
static void test_cred_bad_secrets(void **state)
{
	static const struct {
		const char *file, *content, *opt, *err_has;
	} cases[] = {
	    {"empty", "", "token_file", "empty token"},
	    {"blank", " \n\t\n", "token_file", "empty token"},
	    {"lines", "SeCrEt1\nSeCrEt2\n", "token_file", "more than one line"},
	    {"inner", "SeCrEt 1\n", "token_file", "a blank inside the token"},
	    {"ctl", "SeCrEt\x01x", "token_file", "a control or non-ASCII byte"},
	    {"utf8", "SeCrEt\xc3\xa9", "token_file", "a control or non-ASCII byte"},
	    {"nocolon", "SeCrEt\n", "basic_file", "no ':' (write user:password on one line)"},
	    {"nouser", ":SeCrEt\n", "basic_file", "empty user name before the ':'"},
	    {"emptyb", "\n", "basic_file", "empty secret"},
	};
	struct config c, before;
	char err[1024], opt[600], big[CONFIG_SECRET_MAX + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = cred_file(cases[i].file, cases[i].content);

		snprintf(opt, sizeof(opt), "%s=%s", cases[i].opt, path);
		assert_int_equal(load_upstream(&c, opt, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].err_has) || !strstr(err, "t.ini:2:") ||
		    !strstr(err, path))
			fail_msg("%s: error \"%s\", want \"%s\"", cases[i].file, err,
			         cases[i].err_has);
		if (strstr(err, "SeCrEt"))
			fail_msg("%s: error \"%s\" shows the secret", cases[i].file, err);
	}
	/* one byte too long, and a NUL inside */
	memset(big, 'a', sizeof(big));
	big[CONFIG_SECRET_MAX] = '\0';
	snprintf(opt, sizeof(opt), "token_file=%s", cred_file("big", big));
	assert_int_equal(load_upstream(&c, opt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "the secret is longer than 1023 bytes"));
	big[CONFIG_SECRET_MAX - 1] = '\0';
	snprintf(opt, sizeof(opt), "token_file=%s", cred_file("fits", big));
	assert_int_equal(load_upstream(&c, opt, err, sizeof(err)), 0);
	{
		FILE *f = fopen(cred_file("nul", ""), "w");

		assert_non_null(f);
		assert_int_equal(fwrite("ab\0cd", 1, 5, f), 5);
		assert_int_equal(fclose(f), 0);
	}
	snprintf(opt, sizeof(opt), "token_file=%s/nul", cred_dir);
	assert_int_equal(load_upstream(&c, opt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a NUL byte in the secret"));
	/* a directory, an unreadable path, an empty variable */
	snprintf(opt, sizeof(opt), "token_file=%s", cred_dir);
	assert_int_equal(load_upstream(&c, opt, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	setenv("MODGATE_T_EMPTY", "", 1);
	assert_int_equal(load_upstream(&c, "basic_env=MODGATE_T_EMPTY", err, sizeof(err)), -1);
	assert_non_null(
	    strstr(err, "basic_env=MODGATE_T_EMPTY: the environment variable is empty"));
	unsetenv("MODGATE_T_EMPTY");
	/* a failed load leaves the config as it was */
	assert_int_equal(load_upstream(&before, "", err, sizeof(err)), 0);
	c = before;
	assert_int_equal(config_load_string(&c,
	                                    "[pool \"p\"]\nupstream = https://a.example "
	                                    "token_env=MODGATE_T_UNSET\n",
	                                    "t.ini", err, sizeof(err)),
	                 -1);
	assert_memory_equal(&c, &before, sizeof(c));
}

/* One source is one credential; one URL has one credential. */
static void test_cred_sharing(void **state)
{
	struct config c;
	char err[1024], text[2048];
	const char *tok = cred_file("shared", "sh4red\n");

	(void)state;
	snprintf(text, sizeof(text),
	         "[pool \"a\"]\nupstream = https://a.example token_file=%s\n"
	         "upstream = https://b.example token_file=%s\n"
	         "[pool \"b\"]\nupstream = https://a.example weight=5 token_file=%s\n"
	         "[route]\nx.example = b\n* = a\n",
	         tok, tok, tok);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.n_creds, 1);
	assert_int_equal(c.pools[0].upstreams[0].cred, 1);
	assert_int_equal(c.pools[0].upstreams[1].cred, 1);
	assert_int_equal(c.pools[1].upstreams[0].cred, 1);
	/* the same URL with another credential, or with none */
	setenv("MODGATE_T_TOKEN", "other", 1);
	snprintf(text, sizeof(text),
	         "[pool \"a\"]\nupstream = https://a.example token_file=%s\n"
	         "[pool \"b\"]\nupstream = https://a.example token_env=MODGATE_T_TOKEN\n"
	         "[route]\nx.example = b\n* = a\n",
	         tok);
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_string_equal(err, "t.ini:4: [pool \"b\"] upstream: https://a.example has other "
	                         "credentials in pool \"a\" (line 2); one URL is one upstream, "
	                         "with one credential");
	snprintf(text, sizeof(text),
	         "[pool \"a\"]\nupstream = https://a.example token_file=%s\n"
	         "[pool \"b\"]\nupstream = https://a.example\n[route]\nx.example = b\n* = a\n",
	         tok);
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.ini:4: [pool \"b\"] upstream: https://a.example has other "
	                            "credentials in pool \"a\" (line 2)"));
	unsetenv("MODGATE_T_TOKEN");
}

static void test_cred_netrc(void **state)
{
	struct config c;
	char err[1024], text[2048];
	const char *netrc = cred_file("netrc", "machine a.example login na password np\n"
	                                       "machine b.example:8443 login nb password nq\n");
	const char *tok = cred_file("tok2", "tok\n");

	(void)state;
	/* pool upstreams without credentials of their own take netrc's */
	snprintf(text, sizeof(text),
	         "[upstream]\nnetrc = %s\n"
	         "[pool \"p\"]\nupstream = https://a.example\nupstream = https://b.example:8443/x\n"
	         "upstream = https://b.example\nupstream = http://a.example:80\n"
	         "upstream = https://a.example/y token_file=%s\n",
	         netrc, tok);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_string_equal(cred_of(&c, c.pools[0].upstreams[0].cred)->secret, "na:np");
	assert_int_equal(cred_of(&c, c.pools[0].upstreams[0].cred)->from, CONFIG_CRED_NETRC);
	assert_string_equal(cred_of(&c, c.pools[0].upstreams[0].cred)->source, "a.example");
	assert_string_equal(cred_of(&c, c.pools[0].upstreams[1].cred)->secret, "nb:nq");
	assert_int_equal(c.pools[0].upstreams[2].cred, 0); /* no port: another machine */
	assert_int_equal(c.pools[0].upstreams[3].cred, 0); /* port written: another machine */
	assert_string_equal(cred_of(&c, c.pools[0].upstreams[4].cred)->secret, "tok");
	assert_int_equal(c.n_creds, 3);
	roundtrip(&c);
	/* the GOPROXY chain too */
	snprintf(text, sizeof(text),
	         "[upstream]\nproxy = https://a.example|https://c.example,direct\nnetrc = %s\n",
	         netrc);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_string_equal(cred_of(&c, c.upstreams[0].cred)->secret, "na:np");
	assert_int_equal(c.upstreams[1].cred, 0);
	assert_int_equal(c.upstreams[2].cred, 0);
	roundtrip(&c);
	/* off, and a named file that is missing or bad */
	assert_int_equal(
	    load(&c, "[upstream]\nproxy = https://a.example\nnetrc = off\n", err, sizeof(err)), 0);
	assert_int_equal(c.upstreams[0].cred, 0);
	snprintf(text, sizeof(text), "[upstream]\nproxy = https://a.example\n\nnetrc = %s/none\n",
	         cred_dir);
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.ini:4: netrc "));
	assert_non_null(strstr(err, "/none: No such file or directory"));
	assert_int_equal(load(&c, "[upstream]\nnetrc = relative\n", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.ini:2: [upstream] netrc: \"relative\": write an absolute "
	                            "path, or off"));
	snprintf(text, sizeof(text), "[upstream]\nproxy = https://a.example\nnetrc = %s\n",
	         cred_file("badnetrc", "machine a.example login a:SeCrEt password SeCrEt\n"));
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "holds a ':'"));
	assert_null(strstr(err, "SeCrEt"));
}

#define TEST_SUMDB_KEY "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

/* The secret of the database's credential once a config with netrc (a
 * path, or "off") and "[sumdb] database = KEY url" (no URL when url is "")
 * loads, or "" when it has none. */
static const char *sumdb_secret(struct config *c, const char *netrc, const char *url)
{
	char err[1024], text[2048];

	snprintf(text, sizeof(text), "[upstream]\nnetrc = %s\n[sumdb]\ndatabase = %s %s\n", netrc,
	         TEST_SUMDB_KEY, url);
	assert_int_equal(load(c, text, err, sizeof(err)), 0);
	return c->sumdb_cred ? config_cred_of(c, c->sumdb_cred)->secret : "";
}

/* The checksum database's URL takes the netrc entry of its host[:port], as
 * the go command's GOSUMDB does; another machine's entry is not its. */
static void test_cred_netrc_sumdb(void **state)
{
	struct config c;
	char err[1024], text[2048], desc[200];
	const char *netrc = cred_file("dbnetrc", "machine a.example login na password np\n"
	                                         "machine db.example login dl password DbSeCrEt\n"
	                                         "machine db2.example:8443 login pl password pp\n");

	(void)state;
	snprintf(text, sizeof(text),
	         "[upstream]\nproxy = https://a.example\nnetrc = %s\n"
	         "[sumdb]\ndatabase = %s https://db.example/sumdb\n",
	         netrc, TEST_SUMDB_KEY);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_string_equal(config_cred_of(&c, c.sumdb_cred)->secret, "dl:DbSeCrEt");
	assert_int_equal(config_cred_of(&c, c.sumdb_cred)->from, CONFIG_CRED_NETRC);
	assert_string_equal(
	    config_cred_describe(config_cred_of(&c, c.sumdb_cred), desc, sizeof(desc)),
	    "basic from netrc (machine db.example)");
	assert_string_equal(cred_of(&c, c.upstreams[0].cred)->secret, "na:np");
	assert_int_equal(c.n_creds, 2);
	roundtrip(&c);
	{
		char *dump = dump_to_string(&c);

		assert_null(strstr(dump, "DbSeCrEt"));
		free(dump);
	}
	/* another host's entry is not the database's */
	assert_string_equal(sumdb_secret(&c, netrc, "https://other.example"), "");
	/* a URL with a port matches host:port only, and host:port only a URL
	 * with that port */
	assert_string_equal(sumdb_secret(&c, netrc, "https://db.example:8443"), "");
	assert_string_equal(sumdb_secret(&c, netrc, "https://db2.example"), "");
	assert_string_equal(sumdb_secret(&c, netrc, "https://db2.example:8443/x"), "pl:pp");
	/* no URL of its own, or netrc off: no credential */
	assert_string_equal(sumdb_secret(&c, netrc, ""), "");
	assert_string_equal(sumdb_secret(&c, "off", "https://db.example"), "");
	assert_int_equal(c.n_creds, 0);
	/* GOSUMDB and $NETRC, as the go command reads them */
	snprintf(text, sizeof(text), "%s https://db.example", TEST_SUMDB_KEY);
	setenv("GOSUMDB", text, 1);
	setenv("NETRC", netrc, 1);
	config_init_defaults(&c);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(config_cred_of(&c, c.sumdb_cred)->secret, "dl:DbSeCrEt");
	/* a file naming another database drops the old one's credential */
	snprintf(text, sizeof(text), "[sumdb]\ndatabase = %s https://db.example:8443\n",
	         TEST_SUMDB_KEY);
	assert_int_equal(config_load_string(&c, text, "t.ini", err, sizeof(err)), 0);
	assert_int_equal(c.sumdb_cred, 0);
	assert_int_equal(c.n_creds, 0);
	clear_env();
}

/* The environment: $NETRC, else ~/.netrc, either may be missing; GOPROXY
 * may carry user:password, as for the go command, shown redacted. */
static void test_cred_env(void **state)
{
	struct config c;
	char err[1024], home[300], buf[CONFIG_URL_MAX];

	(void)state;
	cred_file("envnetrc", "machine a.example login ea password ep\n");
	snprintf(home, sizeof(home), "%s/envnetrc", cred_dir);
	setenv("NETRC", home, 1);
	setenv("GOPROXY", "https://a.example,https://u:SeCrEt@b.example", 1);
	config_init_defaults(&c);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_string_equal(c.netrc, home);
	assert_int_equal(c.netrc_optional, 1);
	assert_string_equal(cred_of(&c, c.upstreams[0].cred)->secret, "ea:ep");
	assert_int_equal(c.upstreams[1].cred, 0); /* its own userinfo wins */
	assert_string_equal(config_upstream_redacted(&c.upstreams[1], buf, sizeof(buf)),
	                    "https://xxxxx@b.example");
	{
		char *text = dump_to_string(&c);

		assert_null(strstr(text, "SeCrEt"));
		assert_null(strstr(text, "ea:ep"));
		assert_non_null(strstr(text, "\n; netrc = "));
		free(text);
	}
	/* a file loaded over it keeps the netrc, and applies it to its pools */
	assert_int_equal(config_load_string(&c, "[pool \"p\"]\nupstream = https://a.example\n",
	                                    "t.ini", err, sizeof(err)),
	                 0);
	assert_string_equal(cred_of(&c, c.pools[0].upstreams[0].cred)->secret, "ea:ep");
	assert_int_equal(c.n_creds, 1);
	/* missing: fine, as for the go command; ~/.netrc when NETRC is unset */
	snprintf(home, sizeof(home), "%s/missing", cred_dir);
	setenv("NETRC", home, 1);
	config_init_defaults(&c);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.upstreams[0].cred, 0);
	unsetenv("NETRC");
	setenv("HOME", cred_dir, 1);
	config_init_defaults(&c);
	assert_int_equal(config_apply_env(&c, err, sizeof(err)), 0);
	snprintf(home, sizeof(home), "%s/.netrc", cred_dir);
	assert_string_equal(c.netrc, home);
	clear_env();
}

/* The dump names each credential's source and never its secret; it loads
 * back (reading the secret again) to the same config. */
static void test_cred_dump(void **state)
{
	struct config c;
	char err[1024], text[1024], want[600];
	const char *tok = cred_file("dumptok", "DuMpSeCrEt\n");
	char *out;

	(void)state;
	setenv("MODGATE_T_BASIC", "u:DuMpPw", 1);
	snprintf(text, sizeof(text),
	         "[pool \"p\"]\nupstream = https://a.example token_file=%s\n"
	         "upstream = https://b.example backup basic_env=MODGATE_T_BASIC\n",
	         tok);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	out = dump_to_string(&c);
	snprintf(want, sizeof(want), "\nupstream = https://a.example weight=1 token_file=%s\n",
	         tok);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(
	    out, "\nupstream = https://b.example weight=1 backup basic_env=MODGATE_T_BASIC\n"));
	assert_null(strstr(out, "DuMp"));
	free(out);
	roundtrip(&c);
	config_cred_describe(&c.creds[0], text, sizeof(text));
	assert_non_null(strstr(text, "bearer from token_file=/tmp/modgate-test-creds-"));
	assert_string_equal(config_cred_describe(&c.creds[1], text, sizeof(text)),
	                    "basic from basic_env=MODGATE_T_BASIC");
	assert_string_equal(config_cred_describe(NULL, text, sizeof(text)), "none");
	unsetenv("MODGATE_T_BASIC");
}

/* [admin] token_file / token_env: read like an upstream's credential, one
 * of the two, the source (never the secret) in the dump. */
static void test_admin_token(void **state)
{
	struct config c, before;
	char err[1024], text[1024];
	const char *tok = cred_file("admintok", "AdMiNtOk-1\n");
	char *out;

	(void)state;
	config_init_defaults(&c);
	assert_string_equal(c.admin_token.source, "");
	snprintf(text, sizeof(text), "[admin]\ntoken_file = %s\n", tok);
	assert_int_equal(config_load_string(&c, text, "t.ini", err, sizeof(err)), 0);
	assert_int_equal(c.admin_token.kind, CONFIG_CRED_BEARER);
	assert_int_equal(c.admin_token.from, CONFIG_CRED_FILE);
	assert_string_equal(c.admin_token.source, tok);
	assert_string_equal(c.admin_token.secret, "AdMiNtOk-1");
	out = dump_to_string(&c);
	snprintf(text, sizeof(text), "\ntoken_file = %s\n;token_env =\n", tok);
	assert_non_null(strstr(out, text));
	assert_null(strstr(out, "AdMiN"));
	free(out);
	roundtrip(&c);

	setenv("MODGATE_T_ADMIN", "AdMiNeNv\n", 1);
	config_init_defaults(&c);
	assert_int_equal(config_load_string(&c, "[admin]\ntoken_env = MODGATE_T_ADMIN\n", "t.ini",
	                                    err, sizeof(err)),
	                 0);
	assert_int_equal(c.admin_token.from, CONFIG_CRED_ENV);
	assert_string_equal(c.admin_token.secret, "AdMiNeNv");
	out = dump_to_string(&c);
	assert_non_null(strstr(out, "\n;token_file =\ntoken_env = MODGATE_T_ADMIN\n"));
	free(out);
	roundtrip(&c);

	/* refusals: each names its line, none quotes a secret, none changes c */
	before = c;
	snprintf(text, sizeof(text), "[admin]\ntoken_env = MODGATE_T_ADMIN\ntoken_file = %s\n",
	         tok);
	assert_int_equal(config_load_string(&c, text, "t.ini", err, sizeof(err)), -1);
	if (!strstr(err, "t.ini:3: [admin] token_file: token_env is set too: keep one of the two"))
		fail_msg("%s", err);
	assert_memory_equal(&c, &before, sizeof(c));
	config_init_defaults(&c);
	before = c;
	assert_int_equal(config_load_string(&c, "[admin]\ntoken_file = admin.token\n", "t.ini", err,
	                                    sizeof(err)),
	                 -1);
	assert_non_null(strstr(
	    err, "t.ini:2: [admin] token_file: token_file=admin.token: the path must be absolute"));
	assert_int_equal(config_load_string(&c, "[admin]\ntoken_env = MODGATE_T_UNSET\n", "t.ini",
	                                    err, sizeof(err)),
	                 -1);
	assert_non_null(
	    strstr(err, "token_env=MODGATE_T_UNSET: the environment variable is not set"));
	snprintf(text, sizeof(text), "[admin]\ntoken_file = %s\n",
	         cred_file("admintok2", "AdMiN tOk\n"));
	assert_int_equal(config_load_string(&c, text, "t.ini", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a blank inside the token"));
	assert_null(strstr(err, "AdMiN"));
	assert_memory_equal(&c, &before, sizeof(c));
	unsetenv("MODGATE_T_ADMIN");
}

/* ---- offline, [deny], [allow] ------------------------------------------------ */

/* Loads text, which must fail with want in the message and leave c as
 * it was. */
static void assert_load_refused(struct config *c, const char *text, const char *want)
{
	struct config before = *c;
	char err[2048];

	assert_int_equal(config_load_string(c, text, "t.ini", err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("\"%s\" not in \"%s\"", want, err);
	assert_memory_equal(c, &before, sizeof(*c));
}

/* [server] tls_cert and tls_key: both or neither, absolute, a pair that
 * loads; the fingerprint follows the certificate, not the path. */
static void test_tls_keys(void **state)
{
	static const unsigned char zero[CONFIG_TLS_FINGERPRINT_LEN];
	unsigned char fp[CONFIG_TLS_FINGERPRINT_LEN];
	char crt[256], key[256], okey[256], text[2048], want[1024], err[1024], *out;
	struct config c;

	(void)state;
	snprintf(crt, sizeof(crt), "%s/tls.crt", cred_dir);
	snprintf(key, sizeof(key), "%s/tls.key", cred_dir);
	snprintf(okey, sizeof(okey), "%s/other.key", cred_dir);
	tlsgen_pair(crt, key, 1, 0);
	snprintf(text, sizeof(text), "%s/other.crt", cred_dir);
	tlsgen_pair(text, okey, 2, 0);

	config_init_defaults(&c);
	assert_string_equal(c.tls_cert, "");
	assert_memory_equal(c.tls_fingerprint, zero, sizeof(zero));
	snprintf(text, sizeof(text), "[server]\ntls_cert = %s\ntls_key = %s\n", crt, key);
	if (config_load_string(&c, text, "t.ini", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.tls_cert, crt);
	assert_string_equal(c.tls_key, key);
	assert_memory_not_equal(c.tls_fingerprint, zero, sizeof(zero));
	memcpy(fp, c.tls_fingerprint, sizeof(fp));
	out = dump_to_string(&c);
	snprintf(want, sizeof(want), "\noffline = off\ntls_cert = %s\ntls_key = %s\n", crt, key);
	if (!strstr(out, want))
		fail_msg("\"%s\" not in the dump:\n%s", want, out);
	free(out);
	roundtrip(&c);

	/* Loaded again: the same fingerprint. Renewed in place: another. */
	config_init_defaults(&c);
	assert_int_equal(config_load_string(&c, text, "t.ini", err, sizeof(err)), 0);
	assert_memory_equal(c.tls_fingerprint, fp, sizeof(fp));
	tlsgen_pair(crt, key, 3, 0);
	config_init_defaults(&c);
	assert_int_equal(config_load_string(&c, text, "t.ini", err, sizeof(err)), 0);
	assert_memory_not_equal(c.tls_fingerprint, fp, sizeof(fp));

	/* Refusals, each on the line at fault, none changing c. */
	config_init_defaults(&c);
	snprintf(text, sizeof(text), "[server]\ntls_cert = %s\n", crt);
	assert_load_refused(
	    &c, text,
	    "t.ini:2: [server] tls_cert: tls_key is not set (TLS needs both, or neither)");
	snprintf(text, sizeof(text), "[server]\noffline = off\ntls_key = %s\n", key);
	assert_load_refused(
	    &c, text,
	    "t.ini:3: [server] tls_key: tls_cert is not set (TLS needs both, or neither)");
	snprintf(text, sizeof(text), "[server]\ntls_cert = tls.crt\ntls_key = %s\n", key);
	assert_load_refused(&c, text,
	                    "t.ini:2: [server] tls_cert: \"tls.crt\": write an absolute path");
	snprintf(text, sizeof(text), "[server]\ntls_cert = %s\ntls_key = ./tls.key\n", crt);
	assert_load_refused(&c, text,
	                    "t.ini:3: [server] tls_key: \"./tls.key\": write an absolute path");
	snprintf(text, sizeof(text), "[server]\ntls_cert = %s\ntls_key = %s\n", crt, okey);
	snprintf(want, sizeof(want),
	         "t.ini:3: [server] tls_key: %s: the private key does not belong to the "
	         "certificate in %s (OpenSSL: key values mismatch)",
	         okey, crt);
	assert_load_refused(&c, text, want);
	snprintf(text, sizeof(text), "[server]\ntls_key = %s\ntls_cert = %s/none.crt\n", key,
	         cred_dir);
	snprintf(want, sizeof(want),
	         "t.ini:3: [server] tls_cert: %s/none.crt: cannot read the certificate: No such "
	         "file or directory",
	         cred_dir);
	assert_load_refused(&c, text, want);
	snprintf(text, sizeof(text), "[server]\ntls_cert = %s\ntls_key = %s\ntls_cert = %s\n", crt,
	         key, crt);
	assert_load_refused(&c, text, "t.ini:4: duplicate key 'tls_cert' in [server]");
	/* The file is read only once the rest of the file is good. */
	snprintf(text, sizeof(text), "[server]\ntls_cert = %s\ntls_key = %s\nworkers = 0\n", crt,
	         okey);
	assert_load_refused(&c, text, "t.ini:4: [server] workers:");
}

static void test_offline_key(void **state)
{
	struct config c;
	char err[512];

	(void)state;
	config_init_defaults(&c);
	assert_int_equal(c.offline, 0);
	assert_int_equal(load(&c, "[server]\noffline = on\n", err, sizeof(err)), 0);
	assert_int_equal(c.offline, 1);
	roundtrip(&c);
	assert_int_equal(load(&c, "[server]\noffline = off\n", err, sizeof(err)), 0);
	assert_int_equal(c.offline, 0);
}

static const char policy_ini[] = "[deny]\n"
                                 "example.com/x@v1.2.3 = known-bad release, see INC-123\n"
                                 "example.com/y/ = abandoned; use example.com/z ; a comment\n"
                                 "*.corp.example/*@v0.0.0-2023* = pre-2024 snapshots\n"
                                 "example.com/x@v1.[45].* = CVE-2024-0001\n"
                                 "[allow]\n"
                                 "example.com = public fixtures\n"
                                 "git.corp.example/team/* =\n";

static void test_policy_sections(void **state)
{
	struct config c;
	char err[512], *text;

	(void)state;
	if (load(&c, policy_ini, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(c.n_deny, 4);
	assert_string_equal(c.deny[0].pattern, "example.com/x");
	assert_string_equal(c.deny[0].version, "v1.2.3");
	assert_string_equal(c.deny[0].reason, "known-bad release, see INC-123");
	/* one trailing '/' dropped, as for routes; a ';' starts a comment only
	 * after a blank */
	assert_string_equal(c.deny[1].pattern, "example.com/y");
	assert_string_equal(c.deny[1].version, "");
	assert_string_equal(c.deny[1].reason, "abandoned; use example.com/z");
	assert_string_equal(c.deny[2].pattern, "*.corp.example/*");
	assert_string_equal(c.deny[2].version, "v0.0.0-2023*");
	assert_string_equal(c.deny[3].version, "v1.[45].*");
	assert_int_equal(c.n_allow, 2);
	assert_string_equal(c.allow[0].pattern, "example.com");
	assert_string_equal(c.allow[0].reason, "public fixtures");
	assert_string_equal(c.allow[1].pattern, "git.corp.example/team/*");
	assert_string_equal(c.allow[1].reason, "");

	text = dump_to_string(&c);
	assert_non_null(strstr(text, "\n[deny]\n"
	                             "example.com/x@v1.2.3 = known-bad release, see INC-123\n"
	                             "example.com/y = abandoned; use example.com/z\n"
	                             "*.corp.example/*@v0.0.0-2023* = pre-2024 snapshots\n"
	                             "example.com/x@v1.[45].* = CVE-2024-0001\n"
	                             "\n[allow]\n"
	                             "example.com = public fixtures\n"
	                             "git.corp.example/team/* =\n"));
	free(text);
	roundtrip(&c);

	/* The rules come from the file alone: loading another file drops them. */
	assert_int_equal(
	    config_load_string(&c, "[server]\nworkers = 3\n", "b.ini", err, sizeof(err)), 0);
	assert_int_equal(c.n_deny, 0);
	assert_int_equal(c.n_allow, 0);
}

static const struct ini_error_case policy_error_tests[] = {
    /* patterns */
    {"[deny]\nexample.com/[x = bad\n", 2, "[deny] bad pattern \"example.com/[x\""},
    {"[deny]\nexample.com/x\\ = bad\n", 2, "[deny] bad pattern"},
    {"[allow]\nexample.com/[ =\n", 2, "[allow] bad pattern"},
    {"[deny]\n@v1.0.0 = bad\n", 2, "[deny] empty pattern"},
    {"[deny]\na,b = bad\n", 2, "one pattern per route"},
    {"[deny]\nexample.com// = bad\n", 2, "ends with an empty path element"},
    /* versions */
    {"[deny]\nexample.com/x@ = bad\n", 2, "[deny] example.com/x@: empty version after '@'"},
    {"[deny]\nexample.com/x@v1.[ = bad\n", 2, "malformed version pattern \"v1.[\""},
    {"[deny]\nexample.com/x@v1.2 = bad\n", 2, "\"v1.2\" is not a canonical version"},
    {"[deny]\nexample.com/x@1.2.* = bad\n", 2, "versions start with v"},
    {"[deny]\nexample.com/x@v1/2 = bad\n", 2, "contains a blank, control character, '/'"},
    {"[deny]\nexample.com/x@v1@v2 = bad\n", 2, "contains a blank, control character, '/'"},
    {"[deny]\nexample.com/x@v1.0.0-this-is-a-very-long-pre-release-name-indeed-yes-really-"
     "long = bad\n",
     2, "version pattern longer than 63 bytes"},
    {"[allow]\nexample.com/x@v1.0.0 = ok\n", 2, "allow lists modules, not versions"},
    /* reasons */
    {"[deny]\nexample.com/x =\n", 2, "[deny] example.com/x: empty reason"},
    {"[deny]\nexample.com/x = ; only a comment\n", 2, "empty reason"},
    {"[deny]\nexample.com/x = \"quoted\"\n", 2, "values are not quoted"},
    /* structure */
    {"[deny]\na = x\n[deny]\nb = y\n", 3, "a second [deny] section (the first is on line 1)"},
    {"[allow]\na =\n[server]\nworkers = 2\n[allow]\n", 5, "a second [allow] section"},
    {"[deny]\nexample.com/x@v1.0.0 = a\nexample.com/x@v1.0.0 = b\n", 3,
     "[deny] duplicate rule for example.com/x@v1.0.0 (first on line 2)"},
    {"[deny]\nexample.com/x/@v1.0.0 = a\nexample.com/x@v1.0.0 = b\n", 3, "duplicate rule"},
    {"[server]\nworkers = 2\n[allow]\n; nothing yet\n", 3, "[allow] has no patterns"},
    /* offline */
    {"[server]\noffline = yes\n", 2, "[server] offline: \"yes\" is neither on nor off"},
    {"[server]\noffline = on\noffline = off\n", 3, "duplicate key 'offline'"},
    {"[server]\nofline = on\n", 2,
     "unknown key 'ofline' in [server] (known: listen, cache, "
     "workers, stop_timeout, max_connections, offline, tls_cert, tls_key)"},
};

static void test_policy_errors(void **state)
{
	(void)state;
	check_error_cases(policy_error_tests,
	                  sizeof(policy_error_tests) / sizeof(policy_error_tests[0]));
}

/* A control character in a reason (here a tab: the reader takes every other
 * byte as part of the line) is refused; so is a rule past the limit. */
static void test_policy_limits(void **state)
{
	struct config c;
	char err[1024], *text = calloc(1, 1 << 16);
	size_t used;

	(void)state;
	assert_non_null(text);
	assert_int_equal(load(&c, "[deny]\nexample.com/x = a\tb\n", err, sizeof(err)), -1);
	assert_non_null(
	    strstr(err, "t.ini:2: [deny] example.com/x: control character in the reason"));

	used = (size_t)snprintf(text, 1 << 16, "[deny]\n");
	for (int i = 0; i < CONFIG_MAX_DENY; i++)
		used += (size_t)snprintf(text + used, (1 << 16) - used, "example.com/m%d = r\n", i);
	assert_int_equal(load(&c, text, err, sizeof(err)), 0);
	assert_int_equal(c.n_deny, CONFIG_MAX_DENY);
	snprintf(text + used, (1 << 16) - used, "example.com/one-too-many = r\n");
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "[deny] more than 64 rules"));

	memset(text, 'r', CONFIG_REASON_MAX + 20);
	memcpy(text, "[deny]\na = ", 11);
	text[CONFIG_REASON_MAX + 20] = '\0';
	assert_int_equal(load(&c, text, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "reason longer than 199 bytes"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_goproxy_table),
	    cmocka_unit_test(test_goproxy_limits),
	    cmocka_unit_test(test_listen_table),
	    cmocka_unit_test(test_listen_host_too_long),
	    cmocka_unit_test(test_env_cache_precedence),
	    cmocka_unit_test(test_env_goproxy),
	    cmocka_unit_test(test_env_noproxy),
	    cmocka_unit_test(test_env_then_file),
	    cmocka_unit_test(test_ini_every_key),
	    cmocka_unit_test(test_ini_layout),
	    cmocka_unit_test(test_ini_long_lines),
	    cmocka_unit_test(test_ini_durations),
	    cmocka_unit_test(test_ini_errors),
	    cmocka_unit_test(test_ini_error_keeps_config),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_is_noproxy),
	    cmocka_unit_test(test_upstream_redacted),
	    cmocka_unit_test(test_dump_defaults),
	    cmocka_unit_test(test_dump_roundtrip),
	    cmocka_unit_test(test_admin_listen),
	    cmocka_unit_test(test_gosumdb),
	    cmocka_unit_test(test_breaker_every_key),
	    cmocka_unit_test(test_pool_every_key),
	    cmocka_unit_test(test_pool_upstream_table),
	    cmocka_unit_test(test_pool_limits),
	    cmocka_unit_test(test_pool_replaced_by_file),
	    cmocka_unit_test(test_go_on_path),
	    cmocka_unit_test(test_route_order),
	    cmocka_unit_test(test_route_for),
	    cmocka_unit_test(test_pool_errors),
	    cmocka_unit_test(test_dump_pools),
	    cmocka_unit_test(test_example_file),
	    cmocka_unit_test(test_cred_sources),
	    cmocka_unit_test(test_cred_bad_secrets),
	    cmocka_unit_test(test_cred_sharing),
	    cmocka_unit_test(test_cred_netrc),
	    cmocka_unit_test(test_cred_netrc_sumdb),
	    cmocka_unit_test(test_cred_env),
	    cmocka_unit_test(test_cred_dump),
	    cmocka_unit_test(test_admin_token),
	    cmocka_unit_test(test_offline_key),
	    cmocka_unit_test(test_tls_keys),
	    cmocka_unit_test(test_policy_sections),
	    cmocka_unit_test(test_policy_errors),
	    cmocka_unit_test(test_policy_limits),
	};

	return cmocka_run_group_tests_name("config", tests, group_setup, group_teardown);
}
