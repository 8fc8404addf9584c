/* Unit tests for proxy/reload: which changes a reload applies, which need a
 * restart, and how each is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proxy/config.h"
#include "proxy/reload.h"

#include <stdio.h>
#include <string.h>

static struct config a, b;

static void load(struct config *c, const char *ini)
{
	char err[512];

	config_init_defaults(c);
	if (config_load_string(c, ini, "t.ini", err, sizeof(err)) < 0)
		fail_msg("config: %s", err);
}

#define BASE                                                                                       \
	"[server]\nlisten = 127.0.0.1:8080\ncache = /srv/cache\nworkers = 2\n"                     \
	"[admin]\nlisten = 127.0.0.1:8081\n"

static void test_same_config_changes_nothing(void **state)
{
	char buf[512];

	(void)state;
	load(&a, BASE "[pool \"p\"]\nupstream = http://a.example\n");
	load(&b, BASE "[pool \"p\"]\nupstream = http://a.example\n");
	assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "nothing");
}

static void test_restart_keys(void **state)
{
	static const struct {
		const char *ini, *want;
	} cases[] = {
	    {"[server]\nlisten = 127.0.0.1:9090\n",
	     "[server] listen 127.0.0.1:8080 -> 127.0.0.1:9090"},
	    {"[server]\nlisten = [::1]:8080\n", "[server] listen 127.0.0.1:8080 -> [::1]:8080"},
	    {"[admin]\nlisten = off\n", "[admin] listen 127.0.0.1:8081 -> off"},
	    {"[server]\ncache = /srv/other\n", "[server] cache /srv/cache -> /srv/other"},
	    {"[server]\nworkers = 4\n", "[server] workers 2 -> 4"},
	    {"[sumdb]\ndatabase = off\n", "[sumdb] database sum.golang.org -> off"},
	};
	char buf[512], ini[512];
	size_t i;

	(void)state;
	load(&a, "[server]\nlisten = 127.0.0.1:8080\ncache = /srv/cache\nworkers = 2\n"
	         "[admin]\nlisten = 127.0.0.1:8081\n[sumdb]\ndatabase = sum.golang.org\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The base, with the one key of the case replaced (a key set
		 * twice is an error): later sections override by loading
		 * the case over the base. */
		b = a;
		snprintf(ini, sizeof(ini), "%s", cases[i].ini);
		{
			char err[512];

			if (config_load_string(&b, ini, "t2.ini", err, sizeof(err)) < 0)
				fail_msg("config: %s", err);
		}
		assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 1);
		assert_string_equal(buf, cases[i].want);
	}
	/* Two at once are both named. */
	b = a;
	b.workers = 3;
	b.listen_port = 1;
	assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "[server] listen 127.0.0.1:8080 -> 127.0.0.1:1; "
	                         "[server] workers 2 -> 3");
	/* Cut short, never overrun. */
	assert_int_equal(reload_restart_needed(&a, &b, buf, 10), 2);
	assert_int_equal(strlen(buf), 9);
}

static void test_reloadable_changes(void **state)
{
	char buf[512];

	(void)state;
	load(&a, BASE "[pool \"p\"]\nupstream = http://a.example weight=2\n"
	              "[pool \"q\"]\nupstream = http://b.example\n"
	              "[route]\ncorp.example/* = q\n* = p\n");
	/* A weight, a breaker key, a timeout, a TTL: each named; none needs a
	 * restart. */
	load(&b, BASE "[pool \"p\"]\nupstream = http://a.example weight=3\n"
	              "[pool \"q\"]\nupstream = http://b.example\n"
	              "[route]\ncorp.example/* = q\n* = p\n"
	              "[breaker]\nfailures = 9\n[timeouts]\nconnect = 1s\n"
	              "[cache]\nlist_ttl = 5s\n[server]\nmax_connections = 10\n"
	              "stop_timeout = 1s\n[log]\nlevel = debug\n[sumdb]\nnosumdb = x.example\n");
	assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 0);
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 8);
	assert_string_equal(buf, "pools, [breaker], [timeouts], [cache] ttl, [sumdb] nosumdb, "
	                         "[log] level, [server] max_connections 4096 -> 10, "
	                         "[server] stop_timeout");
	/* A route to another pool is a route change, not a pool change. */
	load(&b, BASE "[pool \"p\"]\nupstream = http://a.example weight=2\n"
	              "[pool \"q\"]\nupstream = http://b.example\n"
	              "[route]\ncorp.example/* = p\n* = p\n");
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "routes");
	/* A pool added in front moves the indexes, not the routes' meaning. */
	load(&b, BASE "[pool \"n\"]\nupstream = http://c.example\n"
	              "[pool \"p\"]\nupstream = http://a.example weight=2\n"
	              "[pool \"q\"]\nupstream = http://b.example\n"
	              "[route]\ncorp.example/* = q\n* = p\n");
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "pools");
	/* Backup and on_open are pool changes too. */
	load(&b, BASE "[pool \"p\"]\nupstream = http://a.example weight=2 backup\n"
	              "upstream = http://d.example\n"
	              "[pool \"q\"]\nupstream = http://b.example\non_open = 503\nhedge = 1s\n"
	              "[route]\ncorp.example/* = q\n* = p\n");
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "pools");
}

static void test_chain_and_credentials(void **state)
{
	char buf[512];

	(void)state;
	load(&a, BASE "[upstream]\nproxy = http://a.example,direct\n");
	load(&b, BASE "[upstream]\nproxy = http://a.example|http://b.example,direct\n"
	              "noproxy = corp.example\n");
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "[upstream] proxy, [upstream] noproxy");
	/* A secret that changed under the same source is a change; it is
	 * never printed. */
	b = a;
	b.n_creds = 1;
	snprintf(b.creds[0].secret, sizeof(b.creds[0].secret), "s3cret");
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "credentials");
	assert_null(strstr(buf, "s3cret"));
}

static void test_policy_and_offline(void **state)
{
	char buf[512];

	(void)state;
	load(&a, BASE "[deny]\nexample.com/bad@v1.0.0 = CVE-1\n");
	load(&b, BASE "[deny]\nexample.com/bad@v1.0.0 = CVE-2\n[allow]\nexample.com/* =\n"
	              "[server]\noffline = on\n");
	assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 0);
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "[deny], [allow], [server] offline on");
	/* The same rules in the same order are no change. */
	load(&b, BASE "[deny]\nexample.com/bad@v1.0.0 = CVE-1\n");
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "nothing");
}

/* TLS on or off needs a restart; a new certificate, at the same paths or
 * others, is a reload, named only when the certificate itself changed. */
static void test_tls(void **state)
{
	char buf[512];

	(void)state;
	load(&a, BASE);
	b = a;
	snprintf(b.tls_cert, sizeof(b.tls_cert), "/etc/modgate/tls.crt");
	snprintf(b.tls_key, sizeof(b.tls_key), "/etc/modgate/tls.key");
	b.tls_fingerprint[0] = 1;
	assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "[server] tls off -> on");
	assert_int_equal(reload_restart_needed(&b, &a, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "[server] tls on -> off");

	a = b;
	assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 0);
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "nothing");
	/* Renewed in place. */
	b.tls_fingerprint[31] = 7;
	assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 0);
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "[server] tls");
	/* Other paths, the same certificate: nothing served changes. */
	b = a;
	snprintf(b.tls_cert, sizeof(b.tls_cert), "/etc/letsencrypt/live/x/fullchain.pem");
	assert_int_equal(reload_restart_needed(&a, &b, buf, sizeof(buf)), 0);
	assert_int_equal(reload_changes(&a, &b, buf, sizeof(buf)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_config_changes_nothing),
	    cmocka_unit_test(test_restart_keys),
	    cmocka_unit_test(test_reloadable_changes),
	    cmocka_unit_test(test_chain_and_credentials),
	    cmocka_unit_test(test_policy_and_offline),
	    cmocka_unit_test(test_tls),
	};

	return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}
