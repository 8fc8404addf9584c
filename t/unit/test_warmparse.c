/* warmparse: the three formats, duplicates, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/warmparse.h"

static int parse(struct warm_list *l, const char *text, char *err)
{
	return warm_parse(l, text, strlen(text), err, 300);
}

static const struct warm_entry *find(const struct warm_list *l, const char *m, const char *v)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].module, m) == 0 && strcmp(l->v[i].version, v) == 0)
			return &l->v[i];
	return NULL;
}

static void test_gosum(void **state)
{
	struct warm_list l = {0};
	char err[300];

	(void)state;
	assert_int_equal(
	    parse(
	        &l,
	        "example.com/fix/a v1.1.0 h1:oOM4ZOalvwrDho9t7VeAzVGXnPIA9Yn/vmRcPvvNOH0=\n"
	        "example.com/fix/a v1.1.0/go.mod h1:MS9iYuWlbDowpfzOveR43dh2byYO2xQmM6y4QvAicOc=\n"
	        "example.com/fix/b v1.0.0/go.mod h1:T+TTtyehZFdPh0G/Sc6r+SyjR+5+0d2AYxdEJgRcFWo=\n"
	        "\n",
	        err),
	    0);
	assert_int_equal(l.n, 2);
	assert_int_equal(find(&l, "example.com/fix/a", "v1.1.0")->want_zip, 1);
	assert_int_equal(find(&l, "example.com/fix/b", "v1.0.0")->want_zip, 0);
	/* the same file again: nothing new */
	assert_int_equal(parse(&l, "example.com/fix/b v1.0.0 h1:x=\n", err), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(find(&l, "example.com/fix/b", "v1.0.0")->want_zip, 1);
	warm_list_free(&l);
}

static void test_gomod(void **state)
{
	struct warm_list l = {0};
	char err[300];

	(void)state;
	assert_int_equal(parse(&l,
	                       "module example.com/me\n\ngo 1.21\n\n"
	                       "require example.com/one v1.0.0\n"
	                       "require (\n\texample.com/two v0.2.0 // indirect\n"
	                       "\t\"example.com/three\" v3.0.0+incompatible\n)\n"
	                       "exclude example.com/one v0.9.0\n"
	                       "retract (\n\tv1.0.1 // broken\n)\n"
	                       "replace example.com/two => example.com/fork v0.2.1\n"
	                       "replace example.com/local => ../local\n",
	                       err),
	                 0);
	assert_int_equal(l.n, 4);
	assert_non_null(find(&l, "example.com/one", "v1.0.0"));
	assert_non_null(find(&l, "example.com/two", "v0.2.0"));
	assert_non_null(find(&l, "example.com/three", "v3.0.0+incompatible"));
	assert_non_null(find(&l, "example.com/fork", "v0.2.1"));
	assert_null(find(&l, "example.com/one", "v0.9.0"));
	warm_list_free(&l);
}

static void test_json(void **state)
{
	struct warm_list l = {0};
	char err[300];

	(void)state;
	assert_int_equal(
	    parse(&l,
	          "{\"Path\":\"example.com/me\",\"Main\":true}\n"
	          "{\"Path\":\"example.com/a\",\"Version\":\"v1.2.3\"}\n"
	          "{\"Path\":\"example.com/b\",\"Version\":\"v0.1.0\",\"Replace\":{\"Path\":"
	          "\"example.com/bfork\",\"Version\":\"v0.1.1\"}}\n"
	          "{\"Path\":\"example.com/c\",\"Version\":\"v0.1.0\",\"Replace\":{\"Path\":\"../"
	          "c\"}}\n",
	          err),
	    0);
	assert_int_equal(l.n, 2);
	assert_non_null(find(&l, "example.com/a", "v1.2.3"));
	assert_non_null(find(&l, "example.com/bfork", "v0.1.1"));
	warm_list_free(&l);
}

static void test_refused(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"example.com/a v1.0.0\n", "go.sum line 1: want"},
	    {"example.com/a latest h1:x=\n", "not a canonical version"},
	    {"example.com/a v1.0 h1:x=\n", "not a canonical version"},
	    {"Example..com/a v1.0.0 h1:x=\n", "go.sum line 1"},
	    {"ok.example/a v1.0.0 h1:x=\n../x v1.0.0 h1:y=\n", "go.sum line 2"},
	    {"module m\nrequire example.com/a\n", "go.mod line 2: want"},
	    {"module m\nreplace a => \n", "go.mod line 2"},
	    {"{\"Path\":1}", NULL},
	    {"{\"Path\":\"example.com/a\",\"Version\":\"master\"}", "not a canonical version"},
	    {"{not json", "go list -m -json object 1"},
	    {"a b c d e f g h i j\n", "too many fields"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct warm_list l = {0};
		char err[300] = "";
		int rc = parse(&l, cases[i].text, err);

		if (!cases[i].want) {
			/* A JSON object without a string Path is skipped. */
			assert_int_equal(rc, 0);
			assert_int_equal(l.n, 0);
		} else if (rc != -1 || !strstr(err, cases[i].want)) {
			fail_msg("case %zu: rc %d, err \"%s\", want \"%s\"", i, rc, err,
			         cases[i].want);
		}
		warm_list_free(&l);
	}
	{
		struct warm_list l = {0};
		char err[300];

		assert_int_equal(warm_parse(&l, "a\0b", 3, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "NUL"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gosum),
	    cmocka_unit_test(test_gomod),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
