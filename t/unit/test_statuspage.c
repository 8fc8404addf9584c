/* statuspage: escaping, and the quarantine listing from a real folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "proxy/pool.h"
#include "proxy/statuspage.h"

static char *text_of(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static void test_escape(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	(void)state;
	statuspage_escape(b, "<script>alert('x')</script> & \"q\"");
	s = text_of(b);
	assert_string_equal(s,
	                    "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
	free(s);
	evbuffer_free(b);
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/.quarantine/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_page(void **state)
{
	char dir[] = "/tmp/modgate-statuspage-XXXXXX", sub[600], cmd[700];
	struct pool_set *ps = calloc(1, sizeof(*ps));
	struct statuspage_info in = {
	    .usage_known = 1, .cache_bytes = 3 << 20, .cache_objects = 7, .hits = 3, .misses = 1};
	struct evbuffer *b = evbuffer_new();
	char *s;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/.quarantine", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	put(dir, "20261125T010000Z-1-1.json",
	    "{\"time\":\"t1\",\"module\":\"example.com/<evil>\",\"version\":\"v1.0.0\","
	    "\"kind\":\"zip\",\"upstream\":\"http://u\",\"reason\":\"mismatch\"}");
	put(dir, "20261125T020000Z-1-2.json", "{not json");
	put(dir, "20261125T030000Z-1-3.json",
	    "{\"time\":\"t3\",\"module\":\"example.com/"
	    "b\",\"version\":\"v2.0.0\",\"reason\":\"tamper\"}");
	in.cache_dir = dir;
	statuspage_write(b, ps, &in, 0);
	s = text_of(b);
	/* newest first, the malformed one skipped, every string escaped */
	assert_non_null(strstr(s, "example.com/b@v2.0.0"));
	assert_non_null(strstr(s, "example.com/&lt;evil&gt;@v1.0.0"));
	assert_null(strstr(s, "<evil>"));
	assert_true(strstr(s, "example.com/b@v2.0.0") < strstr(s, "example.com/&lt;evil&gt;"));
	assert_non_null(strstr(s, "<td>3.0 MiB</td>"));
	assert_non_null(strstr(s, "<td>75.0%</td>"));
	assert_non_null(strstr(s, "http-equiv=\"refresh\""));
	assert_non_null(
	    strstr(s, "<p>modgate ?, up 0d 00h 00m; reloads: 0 accepted, 0 refused.</p>"));
	free(s);

	/* release, uptime, and a refused last reload in red */
	in.version = "9.8.7";
	in.started = time(NULL) - (2 * 86400 + 3 * 3600 + 4 * 60 + 5);
	in.reloads = 2;
	in.reloads_refused = 1;
	in.last_reload_at = 1764032400; /* 2025-11-25 01:00:00 UTC */
	in.last_reload_ok = 0;
	statuspage_write(b, ps, &in, 0);
	s = text_of(b);
	assert_non_null(strstr(s,
	                       "<p>modgate 9.8.7, up 2d 03h 04m; reloads: 2 accepted, 1 refused; "
	                       "the last one, 2025-11-25 01:00:00 UTC, was <b class=\"refused\""));
	free(s);
	in.last_reload_ok = 1;
	statuspage_write(b, ps, &in, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "was accepted.</p>"));
	assert_null(strstr(s, "refused:"));
	assert_null(strstr(s, "TLS certificate"));
	free(s);

	/* TLS: the expiry, in red from two weeks before */
	in.tls_not_after = time(NULL) + 40 * 86400 + 3600;
	statuspage_write(b, ps, &in, 0);
	s = text_of(b);
	assert_non_null(strstr(s, " (in 40 days).</p>"));
	assert_null(strstr(s, "renew it"));
	free(s);
	in.tls_not_after = time(NULL) + 86400 + 3600;
	statuspage_write(b, ps, &in, 0);
	s = text_of(b);
	assert_non_null(strstr(s, " (in 1 day): <b class=\"expiring\""));
	free(s);
	in.tls_not_after = 1764032400; /* 2025-11-25 01:00:00 UTC */
	statuspage_write(b, ps, &in, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "<p>TLS certificate expired 2025-11-25 01:00:00 UTC ("));
	assert_non_null(strstr(s, " days ago): <b class=\"expiring\""));
	free(s);

	/* no quarantine folder at all: "none" */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	statuspage_write(b, ps, &in, 0);
	s = text_of(b);
	assert_non_null(strstr(s, "<td colspan=\"5\">none</td>"));
	free(s);
	evbuffer_free(b);
	free(ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
