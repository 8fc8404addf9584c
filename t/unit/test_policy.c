/*
 * Unit tests for proxy/policy: module and version verdicts from [deny] and
 * [allow] as the loader builds them, @v/list filtering (including lines
 * dressed up to slip a denied version past a naive filter), reading the
 * version of a .info answer as encoding/json would, and the messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/policy.h"

static struct config *load(const char *text)
{
	struct config *c = malloc(sizeof(*c));
	char err[512];

	assert_non_null(c);
	config_init_defaults(c);
	if (config_load_string(c, text, "t.ini", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return c;
}

static const char deny_ini[] = "[deny]\n"
                               "example.com/x@v1.2.3 = known-bad release, see INC-123\n"
                               "example.com/x@v1.3.* = CVE-2024-0001\n"
                               "example.com/gone = abandoned\n"
                               "*.corp.example/*@v0.0.0-2023* = old snapshots\n"
                               "example.com/x@v1.2.3+incompatible = twin\n";

static void test_module_verdicts(void **state)
{
	struct config *c = load(deny_ini);
	const struct config_policy_rule *r = (void *)1;

	(void)state;
	/* no [allow]: every module is allowed; only whole-module rules deny */
	assert_int_equal(policy_check_module(c, "example.com/x", &r), POLICY_OK);
	assert_null(r);
	assert_int_equal(policy_check_module(c, "example.com/gone", &r), POLICY_DENIED);
	assert_string_equal(r->reason, "abandoned");
	/* a pattern covers the modules below it, as GOPRIVATE does */
	assert_int_equal(policy_check_module(c, "example.com/gone/v2", &r), POLICY_DENIED);
	assert_int_equal(policy_check_module(c, "example.com/goner", NULL), POLICY_OK);
	assert_int_equal(policy_check_module(c, "example.com", NULL), POLICY_OK);

	assert_int_equal(policy_filters(c, "example.com/x"), 1);
	assert_int_equal(policy_filters(c, "example.com/x/sub"), 1);
	assert_int_equal(policy_filters(c, "git.corp.example/team"), 1);
	assert_int_equal(policy_filters(c, "git.corp.example"), 0);
	assert_int_equal(policy_filters(c, "example.com/gone"), 0); /* no version rule */
	assert_int_equal(policy_filters(c, "example.com/y"), 0);
	free(c);
}

static void test_version_verdicts(void **state)
{
	struct config *c = load(deny_ini);
	const struct config_policy_rule *r;

	(void)state;
	assert_int_equal(policy_check_version(c, "example.com/x", "v1.2.3", &r), POLICY_DENIED);
	assert_string_equal(r->reason, "known-bad release, see INC-123");
	assert_int_equal(policy_check_version(c, "example.com/x", "v1.2.4", &r), POLICY_OK);
	assert_null(r);
	/* exact means exact: a pre-release or +incompatible is another version */
	assert_int_equal(policy_check_version(c, "example.com/x", "v1.2.3-rc.1", NULL), POLICY_OK);
	assert_int_equal(policy_check_version(c, "example.com/x", "v1.2.3+incompatible", &r),
	                 POLICY_DENIED);
	assert_string_equal(r->reason, "twin");
	assert_int_equal(policy_check_version(c, "example.com/x", "v1.3.0", &r), POLICY_DENIED);
	assert_string_equal(r->reason, "CVE-2024-0001");
	assert_int_equal(policy_check_version(c, "example.com/x", "v1.3.7-pre", NULL),
	                 POLICY_DENIED);
	assert_int_equal(policy_check_version(c, "example.com/x", "v1.30.0", NULL), POLICY_OK);
	assert_int_equal(policy_check_version(c, "example.com/x/v2", "v1.3.0", NULL),
	                 POLICY_DENIED);
	assert_int_equal(policy_check_version(c, "example.com/y", "v1.2.3", NULL), POLICY_OK);
	/* a whole-module rule denies every version */
	assert_int_equal(policy_check_version(c, "example.com/gone", "v0.1.0", &r), POLICY_DENIED);
	assert_string_equal(r->reason, "abandoned");
	assert_int_equal(
	    policy_check_version(c, "git.corp.example/a", "v0.0.0-20231231235959-abcdefabcdef", &r),
	    POLICY_DENIED);
	assert_int_equal(
	    policy_check_version(c, "git.corp.example/a", "v0.0.0-20240101000000-abcdefabcdef", &r),
	    POLICY_OK);
	free(c);
}

static void test_allow_list(void **state)
{
	struct config *c = load("[allow]\n"
	                        "golang.org/x = Go\n"
	                        "*.corp.example =\n"
	                        "[deny]\n"
	                        "golang.org/x/net@v0.1.0 = CVE\n"
	                        "golang.org/x/exp = never\n");
	const struct config_policy_rule *r;

	(void)state;
	assert_int_equal(policy_check_module(c, "golang.org/x/mod", &r), POLICY_OK);
	assert_int_equal(policy_check_module(c, "git.corp.example/team/m", &r), POLICY_OK);
	assert_int_equal(policy_check_module(c, "corp.example/m", &r), POLICY_NOT_ALLOWED);
	assert_null(r);
	assert_int_equal(policy_check_module(c, "golang.org/y", &r), POLICY_NOT_ALLOWED);
	assert_int_equal(policy_check_module(c, "github.com/a/b", &r), POLICY_NOT_ALLOWED);
	/* allow does not override deny */
	assert_int_equal(policy_check_module(c, "golang.org/x/exp", &r), POLICY_DENIED);
	assert_int_equal(policy_check_version(c, "golang.org/x/net", "v0.1.0", &r), POLICY_DENIED);
	assert_string_equal(r->reason, "CVE");
	assert_int_equal(policy_check_version(c, "golang.org/x/net", "v0.2.0", &r), POLICY_OK);
	/* a module not allowed is refused as such, whatever its version */
	assert_int_equal(policy_check_version(c, "github.com/a/b", "v0.1.0", &r),
	                 POLICY_NOT_ALLOWED);
	free(c);

	/* no rules at all: everything goes */
	c = load("[server]\nworkers = 2\n");
	assert_int_equal(policy_check_version(c, "any/thing", "v1.0.0", NULL), POLICY_OK);
	assert_int_equal(policy_filters(c, "any/thing"), 0);
	free(c);
}

/* Runs the filter and returns the kept bytes as a string (static buffer). */
static const char *filter(const struct config *c, const char *module, const char *body,
                          size_t *dropped)
{
	static char out[4096];
	size_t n = policy_filter_list(c, module, body, strlen(body), out, dropped);

	assert_true(n <= strlen(body));
	out[n] = '\0';
	return out;
}

static void test_filter_list(void **state)
{
	struct config *c = load(deny_ini);
	size_t dropped;

	(void)state;
	assert_string_equal(
	    filter(c, "example.com/x", "v1.0.0\nv1.2.3\nv1.3.1\nv1.4.0\n", &dropped),
	    "v1.0.0\nv1.4.0\n");
	assert_int_equal(dropped, 2);
	/* no newline at the end; the kept lines are kept byte for byte */
	assert_string_equal(filter(c, "example.com/x", "v1.4.0 2024-01-01T00:00:00Z\nv1.2.3", NULL),
	                    "v1.4.0 2024-01-01T00:00:00Z\n");
	assert_string_equal(filter(c, "example.com/x", "v1.2.3\n", &dropped), "");
	assert_int_equal(dropped, 1);
	assert_string_equal(filter(c, "example.com/x", "", &dropped), "");
	assert_int_equal(dropped, 0);
	/* blank lines and CRLF: kept, and the version still found */
	assert_string_equal(filter(c, "example.com/x", "\n\nv1.2.3\r\nv1.1.0\r\n", &dropped),
	                    "\n\nv1.1.0\r\n");
	/* the go command takes the first field after any Unicode space
	 * (U+00A0 here), and a version ends at one: the filter sees the same */
	assert_string_equal(
	    filter(c, "example.com/x", "\xC2\xA0v1.2.3\nv1.2.3\xC2\xA0x\nv1.0.0\n", &dropped),
	    "v1.0.0\n");
	assert_int_equal(dropped, 2);
	/* another module's list is untouched by example.com/x's rules */
	assert_string_equal(filter(c, "example.com/y", "v1.2.3\nv1.3.0\n", &dropped),
	                    "v1.2.3\nv1.3.0\n");
	assert_int_equal(dropped, 0);
	free(c);
}

/* A version longer than modgate could ever serve goes when any version of
 * the module is denied, and a deny-all glob empties the list. */
static void test_filter_long_and_all(void **state)
{
	struct config *c =
	    load("[deny]\nexample.com/x@v9.9.9 = r\nexample.com/all@* = every one\n");
	char *body = malloc(3000), *out = malloc(3000);
	size_t n, dropped;

	(void)state;
	assert_non_null(body);
	assert_non_null(out);
	memset(body, 'a', 2000);
	memcpy(body, "v1.0.0-", 7);
	memcpy(body + 2000, "\nv1.0.0\n", 9);
	n = policy_filter_list(c, "example.com/x", body, strlen(body), out, &dropped);
	assert_int_equal(dropped, 1);
	assert_int_equal(n, 7);
	assert_memory_equal(out, "v1.0.0\n", 7);
	assert_string_equal(filter(c, "example.com/all", "v1.0.0\nv2.0.0+incompatible\n", &dropped),
	                    "");
	assert_int_equal(dropped, 2);
	free(body);
	free(out);
	free(c);
}

static void test_info_version(void **state)
{
	char v[64];
	static const struct {
		const char *body;
		int rc;
		const char *version;
	} cases[] = {
	    {"{\"Version\":\"v1.2.3\",\"Time\":\"2024-01-01T00:00:00Z\"}", 0, "v1.2.3"},
	    {" {\"Time\":\"2024-01-01T00:00:00Z\", \"Version\": \"v0.0.0-2023\"}\n", 0,
	     "v0.0.0-2023"},
	    /* encoding/json matches field names without case */
	    {"{\"version\":\"v1.2.3\"}", 0, "v1.2.3"},
	    {"{\"VERSION\":\"v1.2.3\"}", 0, "v1.2.3"},
	    {"{\"ver\xC5\xBFion\":\"v1.2.3\"}", 0, "v1.2.3"}, /* U+017F folds to s */
	    {"{\"Versions\":\"v1.2.3\",\"Version\":\"v1.0.0\"}", 0, "v1.0.0"},
	    /* two keys that both mean Version: which wins is not ours to guess */
	    {"{\"Version\":\"v1.0.0\",\"version\":\"v1.2.3\"}", -1, NULL},
	    {"{\"Version\":\"v1.0.0\",\"Version\":\"v1.2.3\"}", -1, NULL},
	    {"{\"Time\":\"2024-01-01T00:00:00Z\"}", -1, NULL},
	    {"{\"Version\":123}", -1, NULL},
	    {"{\"Version\":\"v1\\u0000.2.3\"}", -1, NULL},
	    {"[\"v1.2.3\"]", -1, NULL},
	    {"{\"Version\":\"v1.2.3\"} trailing", -1, NULL},
	    {"", -1, NULL},
	    {"{\"Version\":\"v1.2.3-"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	     -1, NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = policy_info_version(cases[i].body, strlen(cases[i].body), v, sizeof(v));

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
		if (rc == 0 && strcmp(v, cases[i].version) != 0)
			fail_msg("case %zu: version %s, want %s", i, v, cases[i].version);
	}
}

static void test_messages(void **state)
{
	struct config *c = load(deny_ini);
	const struct config_policy_rule *r;
	char buf[256], small[16];

	(void)state;
	assert_int_equal(policy_check_version(c, "example.com/x", "v1.2.3", &r), POLICY_DENIED);
	assert_string_equal(
	    policy_message(POLICY_DENIED, r, "example.com/x", "v1.2.3", buf, sizeof(buf)),
	    "modgate: example.com/x@v1.2.3 is denied: known-bad release, see "
	    "INC-123");
	assert_int_equal(policy_check_module(c, "example.com/gone", &r), POLICY_DENIED);
	assert_string_equal(
	    policy_message(POLICY_DENIED, r, "example.com/gone", NULL, buf, sizeof(buf)),
	    "modgate: example.com/gone is denied: abandoned");
	assert_string_equal(
	    policy_message(POLICY_NOT_ALLOWED, NULL, "example.com/b", "", buf, sizeof(buf)),
	    "modgate: example.com/b is not on this proxy's allow list");
	/* cut short, still terminated */
	assert_string_equal(
	    policy_message(POLICY_NOT_ALLOWED, NULL, "example.com/b", "", small, sizeof(small)),
	    "modgate: exampl");
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_module_verdicts),
	    cmocka_unit_test(test_version_verdicts),
	    cmocka_unit_test(test_allow_list),
	    cmocka_unit_test(test_filter_list),
	    cmocka_unit_test(test_filter_long_and_all),
	    cmocka_unit_test(test_info_version),
	    cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
