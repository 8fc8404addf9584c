/* sumdb/client: the lookup answer parser (tlog.ParseRecord's rules) and
 * the client's refusal of a bad key or kept tree head. The proofs
 * themselves are tested end to end against x/mod's database
 * (t/integration/integrity_test.go). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sumdb/client.h"

static void test_parse_record(void **state)
{
	static const struct {
		const char *msg;
		int ok;
		int64_t id;
		const char *text, *note;
	} cases[] = {
	    {"7\nexample.com/a v1.0.0 h1:x=\n\ngo.sum database tree\n", 1, 7,
	     "example.com/a v1.0.0 h1:x=\n", "go.sum database tree\n"},
	    {"0\nt\n\n", 1, 0, "t\n", ""},
	    {"1234567890123456789\na\n\nn", 1, 1234567890123456789LL, "a\n", "n"},
	    {"07\na\n\nn", 0, 0, NULL, NULL},                   /* leading zero */
	    {"-1\na\n\nn", 0, 0, NULL, NULL},                   /* sign */
	    {"+1\na\n\nn", 0, 0, NULL, NULL},                   /* sign */
	    {"12345678901234567890\na\n\nn", 0, 0, NULL, NULL}, /* 20 digits */
	    {"\na\n\nn", 0, 0, NULL, NULL},                     /* no id */
	    {"1 \na\n\nn", 0, 0, NULL, NULL},                   /* blank after id */
	    {"1\na\nn", 0, 0, NULL, NULL},                      /* no blank line */
	    {"1", 0, 0, NULL, NULL},                            /* no newline */
	    {"1\na\tb\n\nn", 0, 0, NULL, NULL},                 /* control byte */
	    {"1\na\xc3\xa9\n\nn", 0, 0, NULL, NULL},            /* non-ASCII */
	    {"1\na\x7f\n\nn", 0, 0, NULL, NULL},                /* DEL */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *text = NULL, *note = NULL;
		size_t tl = 0, nl = 0;
		int64_t id = -1;
		char err[200] = "";
		int rc = sumdb_parse_record(cases[i].msg, strlen(cases[i].msg), &id, &text, &tl,
		                            &note, &nl, err, sizeof(err));

		if (cases[i].ok) {
			if (rc != 0)
				fail_msg("case %zu: refused: %s", i, err);
			assert_int_equal(id, cases[i].id);
			assert_int_equal(tl, strlen(cases[i].text));
			assert_memory_equal(text, cases[i].text, tl);
			assert_int_equal(nl, strlen(cases[i].note));
			assert_memory_equal(note, cases[i].note, nl);
		} else if (rc != -1 || !strstr(err, "malformed record")) {
			fail_msg("case %zu: rc %d err \"%s\", want a refusal", i, rc, err);
		}
	}
}

static int no_fetch(void *arg, const char *path, sumdb_fetched_fn done, void *done_arg)
{
	(void)arg;
	(void)path;
	(void)done;
	(void)done_arg;
	return -1;
}

static void done_never(void *arg, const struct sumdb_client_result *r)
{
	(void)arg;
	(void)r;
	fail_msg("done called for a lookup that could not start");
}

static void test_client_new(void **state)
{
	static const char key[] =
	    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
	struct sumdb_client_ops ops = {.fetch = no_fetch};
	struct sumdb_client *c;
	struct sumdb_tree t;
	char err[400];

	(void)state;
	c = sumdb_client_new(key, NULL, 0, &ops, err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(sumdb_client_name(c), "sum.golang.org");
	sumdb_client_kept(c, &t);
	assert_int_equal(t.n, 0);
	/* a fetch that cannot start: no lookup, and done is never called */
	assert_null(sumdb_client_lookup(c, "example.com/a@v1.0.0", "example.com/a", "v1.0.0",
	                                done_never, NULL));
	sumdb_client_free(c);

	assert_null(sumdb_client_new("sum.golang.org+033de0af+Ac4zctda0e5eza+HJyk9SxEdh+"
	                             "s3Ux18htTTAD8OuAn8",
	                             NULL, 0, &ops, err, sizeof(err)));
	assert_non_null(strstr(err, "checksum database key"));
	/* a kept head that is no signed note of this database */
	assert_null(
	    sumdb_client_new(key, "go.sum database tree\n5\nAAAA\n\n", 29, &ops, err, sizeof(err)));
	assert_non_null(strstr(err, "does not verify"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_record),
	    cmocka_unit_test(test_client_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
