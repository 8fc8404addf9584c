/* Unit tests for sumdb/proxypath: the /sumdb/ paths modgate passes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sumdb/proxypath.h"

#include <stdio.h>
#include <string.h>

struct row {
	const char *raw;
	int status; /* 200: parses */
	enum sumdb_path_kind kind;
	const char *rest;
	int immutable;
};

static const struct row rows[] = {
    {"/sumdb/sum.golang.org/supported", 200, SUMDB_SUPPORTED, "supported", 0},
    {"/sumdb/sum.golang.org/latest", 200, SUMDB_LATEST, "latest", 0},
    {"/sumdb/sum.golang.org/lookup/golang.org/x/mod@v0.20.0", 200, SUMDB_LOOKUP,
     "lookup/golang.org/x/mod@v0.20.0", 0},
    {"/sumdb/sum.golang.org/lookup/github.com/%21azure/x@v1.0.0", 200, SUMDB_LOOKUP,
     "lookup/github.com/!azure/x@v1.0.0", 0},
    {"/sumdb/sum.golang.org/lookup/example.com/m@v1.0.0+incompatible", 200, SUMDB_LOOKUP,
     "lookup/example.com/m@v1.0.0+incompatible", 0},
    {"/sumdb/sum.golang.org/tile/8/0/000", 200, SUMDB_TILE, "tile/8/0/000", 1},
    {"/sumdb/sum.golang.org/tile/8/1/x001/234", 200, SUMDB_TILE, "tile/8/1/x001/234", 1},
    {"/sumdb/sum.golang.org/tile/8/0/x001/x234/067.p/13", 200, SUMDB_TILE,
     "tile/8/0/x001/x234/067.p/13", 1},
    {"/sumdb/sum.golang.org/tile/8/data/x005/123", 200, SUMDB_TILE, "tile/8/data/x005/123", 1},
    {"/sumdb/sum.golang.org/tile/8/data/005.p/255", 200, SUMDB_TILE, "tile/8/data/005.p/255", 1},
    /* not a checksum database endpoint */
    {"/sumdb/sum.golang.org/", 404, 0, NULL, 0},
    {"/sumdb/sum.golang.org/other", 404, 0, NULL, 0},
    {"/example.com/@v/list", 404, 0, NULL, 0},
    /* malformed */
    {"/sumdb/", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org", 400, 0, NULL, 0},
    {"/sumdb/../etc/latest", 400, 0, NULL, 0},
    {"/sumdb/.hidden/latest", 400, 0, NULL, 0},
    {"/sumdb/Sum.Golang.Org/latest", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/lookup/x", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/lookup/../../x@v1.0.0", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/lookup/example.com/M@v1.0.0", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/lookup/example.com/m@", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/0/x1/234", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/0/../../x", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/08/0/000", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/0/00", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/0/0000", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/0/000.p/0", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/0/000.p/1000", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/0/000.q/1", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/x/000", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/tile/8/0/x001/", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/latest%00", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/latest%zz", 400, 0, NULL, 0},
    {"/sumdb/sum.golang.org/%0alatest", 400, 0, NULL, 0},
};

static void test_table(void **state)
{
	struct sumdb_path p;
	char err[300];
	size_t i;
	int status;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = sumdb_parse_path(rows[i].raw, &p, &status, err, sizeof(err));

		if (status != rows[i].status)
			fail_msg("%s: status %d, want %d (%s)", rows[i].raw, status, rows[i].status,
			         err);
		if (rows[i].status != 200) {
			assert_int_equal(rc, -1);
			assert_true(err[0] != '\0' && strchr(err, '\n') == NULL);
			assert_string_equal(p.rest, "");
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(p.name, "sum.golang.org");
		assert_int_equal(p.kind, rows[i].kind);
		assert_string_equal(p.rest, rows[i].rest);
		assert_int_equal(p.immutable, rows[i].immutable);
		/* Safe under a cache directory: no dot-dot element, no backslash. */
		assert_null(strstr(p.rest, "/../"));
		assert_null(strchr(p.rest, '\\'));
	}
}

static void test_too_long(void **state)
{
	static char raw[SUMDB_REST_MAX + 100];
	struct sumdb_path p;
	char err[300];
	int status;

	(void)state;
	snprintf(raw, sizeof(raw), "/sumdb/sum.golang.org/lookup/");
	memset(raw + strlen(raw), 'a', sizeof(raw) - strlen(raw) - 1);
	assert_int_equal(sumdb_parse_path(raw, &p, &status, err, sizeof(err)), -1);
	assert_int_equal(status, 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_too_long),
	};

	return cmocka_run_group_tests_name("proxypath", tests, NULL, NULL);
}
