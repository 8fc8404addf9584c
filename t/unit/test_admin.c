/* admin_peer_is_local: who may change things without the admin token. The
 * integration tests can only connect from 127.0.0.1 (test servers listen
 * on loopback alone), so the other addresses are checked here. */
#include "proxy/admin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static int local4(const char *addr)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};

	assert_int_equal(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	return admin_peer_is_local((const struct sockaddr *)&sa);
}

static int local6(const char *addr)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};

	assert_int_equal(inet_pton(AF_INET6, addr, &sa.sin6_addr), 1);
	return admin_peer_is_local((const struct sockaddr *)&sa);
}

static void test_peer_is_local(void **state)
{
	static const struct {
		const char *addr;
		int local;
	} cases[] = {
	    {"127.0.0.1", 1},
	    {"127.0.0.2", 1},
	    {"127.255.255.254", 1},
	    {"10.0.0.1", 0},
	    {"192.168.1.127", 0},
	    {"128.0.0.1", 0},
	    {"0.0.0.0", 0},
	    {"126.255.255.255", 0},
	    {"172.17.0.1", 0},
	    {"::1", 1},
	    {"::ffff:127.0.0.1", 1},
	    {"::ffff:127.9.9.9", 1},
	    {"::", 0},
	    {"::2", 0},
	    {"fe80::1", 0},
	    {"fd00::1", 0},
	    {"::ffff:10.0.0.1", 0},
	    {"::127.0.0.1", 0},
	    {"2001:db8::1", 0},
	};
	struct sockaddr sa = {.sa_family = AF_UNIX};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *a = cases[i].addr;

		if ((strchr(a, ':') ? local6(a) : local4(a)) != cases[i].local)
			fail_msg("%s: want %s", a, cases[i].local ? "this host" : "another host");
	}
	assert_int_equal(admin_peer_is_local(NULL), 0);
	assert_int_equal(admin_peer_is_local(&sa), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_peer_is_local),
	};

	return cmocka_run_group_tests_name("admin", tests, NULL, NULL);
}
