/*
 * Unit tests for proxy/pathglob: path.Match cases from Go's
 * src/path/match_test.go, MatchPrefixPatterns cases from golang.org/x/mod
 * module/module_test.go, plus the GOPRIVATE shapes users actually write.
 * (The implementation was also checked against the real Go functions on two
 * million random pattern/name pairs; these tables pin the behaviour.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proxy/pathglob.h"

#define BAD (-1)

struct match_case {
	const char *pattern, *name;
	int want; /* 1 match, 0 no match, BAD malformed pattern */
};

/* Go's matchTests, in order. */
static const struct match_case go_match_tests[] = {
    {"abc", "abc", 1},
    {"*", "abc", 1},
    {"*c", "abc", 1},
    {"a*", "a", 1},
    {"a*", "abc", 1},
    {"a*", "ab/c", 0},
    {"a*/b", "abc/b", 1},
    {"a*/b", "a/c/b", 0},
    {"a*b*c*d*e*/f", "axbxcxdxe/f", 1},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/f", 1},
    {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", 0},
    {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", 0},
    {"a*b?c*x", "abxbbxdbxebxczzx", 1},
    {"a*b?c*x", "abxbbxdbxebxczzy", 0},
    {"ab[c]", "abc", 1},
    {"ab[b-d]", "abc", 1},
    {"ab[e-g]", "abc", 0},
    {"ab[^c]", "abc", 0},
    {"ab[^b-d]", "abc", 0},
    {"ab[^e-g]", "abc", 1},
    {"a\\*b", "a*b", 1},
    {"a\\*b", "ab", 0},
    {"a?b",
     "a\xe2\x98\xba"
     "b",
     1}, /* a☺b */
    {"a[^a]b",
     "a\xe2\x98\xba"
     "b",
     1},
    {"a???b",
     "a\xe2\x98\xba"
     "b",
     0},
    {"a[^a][^a][^a]b",
     "a\xe2\x98\xba"
     "b",
     0},
    {"[a-\xce\xb6]*", "\xce\xb1", 1}, /* [a-ζ]* vs α */
    {"*[a-\xce\xb6]", "A", 0},
    {"a?b", "a/b", 0},
    {"a*b", "a/b", 0},
    {"[\\]a]", "]", 1},
    {"[\\-]", "-", 1},
    {"[x\\-]", "x", 1},
    {"[x\\-]", "-", 1},
    {"[x\\-]", "z", 0},
    {"[\\-x]", "x", 1},
    {"[\\-x]", "-", 1},
    {"[\\-x]", "a", 0},
    {"[]a]", "]", BAD},
    {"[-]", "-", BAD},
    {"[x-]", "x", BAD},
    {"[x-]", "-", BAD},
    {"[x-]", "z", BAD},
    {"[-x]", "x", BAD},
    {"[-x]", "-", BAD},
    {"[-x]", "a", BAD},
    {"\\", "a", BAD},
    {"[a-b-c]", "a", BAD},
    {"[", "a", BAD},
    {"[^", "a", BAD},
    {"[^bc", "a", BAD},
    {"a[", "a", BAD},
    {"a[", "ab", BAD},
    {"a[", "x", BAD},
    {"a/b[", "x", BAD},
    {"*x", "xxx", 1},
};

/* Corners Go's table leaves implicit. */
static const struct match_case more_match_tests[] = {
    {"", "", 1},
    {"", "a", 0},
    {"*", "", 1},
    {"**", "ab", 1},
    {"*", "a/b", 0},
    {"*/*", "a/b", 1},
    {"?", "", 0},
    {"?", "\xff", 1},          /* an invalid byte is one character */
    {"??", "\xe2\x98\xba", 0}, /* a valid sequence is one, not three */
    {"[\xff]", "a", BAD},      /* invalid UTF-8 inside a class */
    {"a\\", "a", BAD},
    {"x*[", "xyz", BAD}, /* reported even though the name failed early */
    {"b*[", "xyz", BAD},
    {"*[", "", BAD},
    {"git.corp.example", "git.corp.example", 1},
    {"*.corp.example", "git.corp.example", 1},
    {"*.corp.example", "corp.example", 0},
    {"[a-c]*.example", "bb.example", 1},
    {"[^a-c]*.example", "bb.example", 0},
};

static void run_match_table(const struct match_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = pathglob_match(t[i].pattern, t[i].name);

		if (got != t[i].want)
			fail_msg("pathglob_match(\"%s\", \"%s\") = %d, want %d", t[i].pattern,
			         t[i].name, got, t[i].want);
	}
}

static void test_match_go_table(void **state)
{
	(void)state;
	run_match_table(go_match_tests, sizeof(go_match_tests) / sizeof(go_match_tests[0]));
}

static void test_match_more(void **state)
{
	(void)state;
	run_match_table(more_match_tests, sizeof(more_match_tests) / sizeof(more_match_tests[0]));
}

struct prefix_case {
	const char *patterns, *path;
	int want;
};

/* x/mod's TestMatchPrefixPatterns, in order. */
static const struct prefix_case go_prefix_tests[] = {
    {"", "rsc.io/quote", 0},
    {"/", "rsc.io/quote", 0},
    {"*/quote", "rsc.io/quote", 1},
    {"*/quo", "rsc.io/quote", 0},
    {"*/quo??", "rsc.io/quote", 1},
    {"*/quo*", "rsc.io/quote", 1},
    {"*quo*", "rsc.io/quote", 0},
    {"rsc.io", "rsc.io/quote", 1},
    {"*.io", "rsc.io/quote", 1},
    {"rsc.io/", "rsc.io/quote", 1},
    {"rsc", "rsc.io/quote", 0},
    {"rsc*", "rsc.io/quote", 1},

    {"rsc.io", "rsc.io/quote/v3", 1},
    {"*/quote", "rsc.io/quote/v3", 1},
    {"*/quote/", "rsc.io/quote/v3", 1},
    {"*/quote/*", "rsc.io/quote/v3", 1},
    {"*/quote/*/", "rsc.io/quote/v3", 1},
    {"*/v3", "rsc.io/quote/v3", 0},
    {"*/*/v3", "rsc.io/quote/v3", 1},
    {"*/*/*", "rsc.io/quote/v3", 1},
    {"*/*/*/", "rsc.io/quote/v3", 1},
    {"*/*/*", "rsc.io/quote", 0},
    {"*/*/*/", "rsc.io/quote", 0},

    {"*/*/*,,", "rsc.io/quote", 0},
    {"*/*/*,,*/quote", "rsc.io/quote", 1},
    {",,*/quote", "rsc.io/quote", 1},
};

/* The GOPRIVATE shapes from 'go help private', and Go's quirks kept. */
static const struct prefix_case more_prefix_tests[] = {
    {"*.corp.example", "git.corp.example/team/mod", 1},
    {"*.corp.example", "corp.example/team/mod", 0},
    {"*.corp.example,rsc.io/private", "rsc.io/private/sub", 1},
    {"*.corp.example,rsc.io/private", "rsc.io/privateer", 0},
    {"*.corp.example,rsc.io/private", "rsc.io/quote", 0},
    {"git.corp.example", "git.corp.example", 1},
    {"git.corp.example/team", "git.corp.example", 0},
    {"[,git.corp.example", "git.corp.example/x", 1}, /* a malformed pattern is skipped */
    {"[", "[", 0},
    {" git.corp.example", "git.corp.example/x", 0},  /* Go does not trim blanks */
    {"git.corp.example//", "git.corp.example/x", 0}, /* only one '/' is dropped */
    {"git.corp.example//", "git.corp.example//x", 1},
    {"none", "none/x", 1},       /* "none" is an ordinary pattern ... */
    {"none", "golang.org/x", 0}, /* ... matching nothing with a dot */
    {"*", "anything.example/at/all", 1},
    {"", "", 0},
    {"*", "", 1},
};

static void run_prefix_table(const struct prefix_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int got = pathglob_match_prefix(t[i].patterns, t[i].path);

		if (got != t[i].want)
			fail_msg("pathglob_match_prefix(\"%s\", \"%s\") = %d, want %d",
			         t[i].patterns, t[i].path, got, t[i].want);
	}
}

static void test_prefix_go_table(void **state)
{
	(void)state;
	run_prefix_table(go_prefix_tests, sizeof(go_prefix_tests) / sizeof(go_prefix_tests[0]));
}

static void test_prefix_more(void **state)
{
	(void)state;
	run_prefix_table(more_prefix_tests,
	                 sizeof(more_prefix_tests) / sizeof(more_prefix_tests[0]));
}

struct check_case {
	const char *patterns;
	const char *err_has; /* NULL: must pass */
};

static const struct check_case check_tests[] = {
    {"", NULL},
    {",,,", NULL},
    {"*.corp.example,git.corp.example/team/*", NULL},
    {"rsc.io/", NULL},
    {"a\\*b,[a-z]*.example,[^x]", NULL},
    {"[", "\"[\""},
    {"ok.example,bad[.example", "\"bad[.example\""},
    {"x\\", "\"x\\\""},
    {"[-x]", "\"[-x]\""},
    {"[]a]", "\"[]a]\""},
    {"good/,[a-b-c]/", "\"[a-b-c]\""}, /* named without the ignored '/' */
    {"*[", "\"*[\""},
};

static void test_check_patterns(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(check_tests) / sizeof(check_tests[0]); i++) {
		char err[256] = "";
		int rc = pathglob_check_patterns(check_tests[i].patterns, err, sizeof(err));

		if (!check_tests[i].err_has) {
			if (rc != 0)
				fail_msg("check(\"%s\") = %d (%s), want 0", check_tests[i].patterns,
				         rc, err);
			continue;
		}
		if (rc != -1)
			fail_msg("check(\"%s\") = %d, want -1", check_tests[i].patterns, rc);
		if (!strstr(err, check_tests[i].err_has) || !strstr(err, "syntax error"))
			fail_msg("check(\"%s\"): error \"%s\" lacks %s", check_tests[i].patterns,
			         err, check_tests[i].err_has);
	}
}

static void test_check_patterns_null_err(void **state)
{
	char small[8];

	(void)state;
	assert_int_equal(pathglob_check_patterns("[", NULL, 0), -1);
	assert_int_equal(pathglob_check_patterns("[", small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1); /* cut, still terminated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_go_table),  cmocka_unit_test(test_match_more),
	    cmocka_unit_test(test_prefix_go_table), cmocka_unit_test(test_prefix_more),
	    cmocka_unit_test(test_check_patterns),  cmocka_unit_test(test_check_patterns_null_err),
	};

	return cmocka_run_group_tests_name("pathglob", tests, NULL, NULL);
}
