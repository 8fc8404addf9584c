/*
 * Unit tests for proxy/config: defaults, GOPROXY lists, listen addresses,
 * environment precedence, every INI key and every INI error with its line,
 * and the dump loading back to the same configuration.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/config.h"

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
	}
	assert_string_equal(a->noproxy, b->noproxy);
	assert_int_equal(a->list_ttl_s, b->list_ttl_s);
	assert_int_equal(a->negative_ttl_s, b->negative_ttl_s);
	assert_int_equal(a->connect_timeout_ms, b->connect_timeout_ms);
	assert_int_equal(a->first_byte_timeout_ms, b->first_byte_timeout_ms);
	assert_int_equal(a->idle_timeout_ms, b->idle_timeout_ms);
	assert_int_equal(a->workers, b->workers);
	assert_int_equal(a->max_connections, b->max_connections);
}

static void clear_env(void)
{
	static const char *const vars[] = {"MODGATE_CACHE", "XDG_CACHE_HOME", "HOME",
	                                   "GOPROXY",       "GONOPROXY",      "GOPRIVATE"};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static int group_setup(void **state)
{
	(void)state;
	clear_env();
	return 0;
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
    {"ftp://user:secret@mirror.example", NULL, "ftp://user:xxxxx@mirror.example"},
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
     "[timeouts])"},
    {"[server]\nworkers = 2\n[bogus]\n", 3, "unknown section [bogus]"},
    {"[server]\nworkers = 2\n[nope]", 3, "unknown section [nope]"},
    {"[Server]\nworkers = 2\n", 1, "unknown section [Server]"},
    {"[ server ]\n", 1, "unknown section [ server ]"},
    {"[server]\n  [bogus]\n", 2, "unknown section [bogus]"},
    {"[server]\nbogus = 1\n", 2,
     "unknown key 'bogus' in [server] (known: listen, cache, workers, max_connections)"},
    {"[upstream]\nlisten = :80\n", 2, "unknown key 'listen' in [upstream] (known: proxy, noproxy)"},
    {"[cache]\nttl = 1s\n", 2, "unknown key 'ttl' in [cache] (known: list_ttl, negative_ttl)"},
    {"[timeouts]\ntotal = 1s\n", 2,
     "unknown key 'total' in [timeouts] (known: connect, first_byte, idle)"},
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

static void test_ini_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ini_error_tests) / sizeof(ini_error_tests[0]); i++) {
		const struct ini_error_case *t = &ini_error_tests[i];
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
	assert_string_equal(err, "<string>:1: unknown section [x] (known: [server], [upstream], "
	                         "[cache], [timeouts])");
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
	                    "https://user:xxxxx@a.example/p");
	assert_string_equal(config_upstream_redacted(&c.upstreams[1], buf, sizeof(buf)),
	                    "http://token@b.example"); /* no password: as Go, kept */
	assert_string_equal(config_upstream_redacted(&c.upstreams[2], buf, sizeof(buf)),
	                    "https://c.example:1/x@y"); /* '@' in the path is no userinfo */
	assert_string_equal(config_upstream_redacted(&c.upstreams[3], buf, sizeof(buf)), "direct");
	assert_int_equal(config_parse_goproxy(&c, "off", err, sizeof(err)), 0);
	assert_string_equal(config_upstream_redacted(&c.upstreams[0], buf, sizeof(buf)), "off");
	assert_int_equal(config_parse_goproxy(&c, "https://u:p@a.example", err, sizeof(err)), 0);
	assert_string_equal(config_upstream_redacted(&c.upstreams[0], small, sizeof(small)),
	                    "https://u:x");
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
	                                    "[upstream]\nproxy = off\nnoproxy = zz.example\n",
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
	                    "max_connections = 4096\n"
	                    "\n"
	                    "[upstream]\n"
	                    "proxy = https://proxy.golang.org,direct\n"
	                    "noproxy = \n"
	                    "\n"
	                    "[cache]\n"
	                    "list_ttl = 60s\n"
	                    "negative_ttl = 60s\n"
	                    "\n"
	                    "[timeouts]\n"
	                    "connect = 5s\n"
	                    "first_byte = 15s\n"
	                    "idle = 30s\n");
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

/* etc/modgate.ini, as shipped, changes nothing; with every ";key = value"
 * line uncommented it still loads, and gives exactly the built-in defaults:
 * the documented defaults are the real ones. Runs from the source root, as
 * make test does; skipped elsewhere. */
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

	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		size_t n = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_");

		if (line[0] == ';' && n > 0 && strncmp(line + 1 + n, " =", 2) == 0) {
			line++;
			keys++;
		}
		used += (size_t)snprintf(out + used, (1 << 20) - used, "%s\n", line);
	}
	assert_int_equal(keys, 11); /* every key of every section */
	c = d;
	c.workers = 64; /* so the file has to set it back */
	if (config_load_string(&c, out, "uncommented.ini", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_same_config(&c, &d);
	free(text);
	free(out);
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
	    cmocka_unit_test(test_example_file),
	};

	return cmocka_run_group_tests_name("config", tests, group_setup, NULL);
}
