/* Unit tests for proxy/netrc: the go command's reading of a .netrc (its own
 * test data from cmd/go/internal/auth, then the edges: ports, long lines,
 * macros, the default entry, and what is refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proxy/netrc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The go command's own test file (cmd/go/internal/auth/netrc_test.go). */
static const char go_netrc[] = "\n"
                               "machine incomplete\n"
                               "password none\n"
                               "\n"
                               "machine api.github.com\n"
                               "  login user\n"
                               "  password pwd\n"
                               "\n"
                               "machine incomlete.host\n"
                               "  login justlogin\n"
                               "\n"
                               "machine test.host\n"
                               "login user2\n"
                               "password pwd2\n"
                               "\n"
                               "machine oneline login user3 password pwd3\n"
                               "\n"
                               "machine ignore.host macdef ignore\n"
                               "  login nobody\n"
                               "  password nothing\n"
                               "\n"
                               "machine hasmacro.too macdef ignore-next-lines login user4 "
                               "password pwd4\n"
                               "  login nobody\n"
                               "  password nothing\n"
                               "\n"
                               "default\n"
                               "login anonymous\n"
                               "password gopher@golang.org\n"
                               "\n"
                               "machine after.default\n"
                               "login oops\n"
                               "password too-late-in-file\n";

/* Looks machine up in text; "" for no entry, "!" for an error, else
 * "login password". */
static const char *look(const char *text, const char *machine)
{
	static char out[600];
	char login[256] = "untouched", pass[256] = "untouched", err[200] = "";
	int rc = netrc_lookup(text, strlen(text), machine, login, sizeof(login), pass, sizeof(pass),
	                      err, sizeof(err));

	if (rc < 0) {
		assert_true(err[0] != '\0');
		snprintf(out, sizeof(out), "!%s", err);
		return out;
	}
	if (rc == 0) {
		/* Nothing written on no match. */
		assert_string_equal(login, "untouched");
		assert_string_equal(pass, "untouched");
		return "";
	}
	assert_int_equal(rc, 1);
	snprintf(out, sizeof(out), "%s %s", login, pass);
	return out;
}

static void test_go_testdata(void **state)
{
	(void)state;
	assert_string_equal(look(go_netrc, "api.github.com"), "user pwd");
	assert_string_equal(look(go_netrc, "test.host"), "user2 pwd2");
	assert_string_equal(look(go_netrc, "oneline"), "user3 pwd3");
	assert_string_equal(look(go_netrc, "hasmacro.too"), "user4 pwd4");
	/* incomplete entries, a macro's lines, and anything after default */
	assert_string_equal(look(go_netrc, "incomplete"), "");
	assert_string_equal(look(go_netrc, "incomlete.host"), "");
	assert_string_equal(look(go_netrc, "ignore.host"), "");
	assert_string_equal(look(go_netrc, "after.default"), "");
	assert_string_equal(look(go_netrc, "anonymous"), "");
	assert_string_equal(look(go_netrc, "nobody"), "");
	assert_string_equal(look(go_netrc, ""), "");
}

static void test_matching(void **state)
{
	const char *t = "machine a.example:8443 login withport password p1\n"
	                "machine a.example login noport password p2\n"
	                "machine a.example login second password p3\n"
	                "machine A.EXAMPLE.COM login upper password p4\n";

	(void)state;
	/* The host as the URL writes it, port included: exact. */
	assert_string_equal(look(t, "a.example:8443"), "withport p1");
	assert_string_equal(look(t, "a.example"), "noport p2"); /* the first wins */
	assert_string_equal(look(t, "a.example:443"), "");
	assert_string_equal(look(t, "a.exampl"), "");
	assert_string_equal(look(t, "A.EXAMPLE.COM"), "upper p4");
	assert_string_equal(look(t, "a.example.com"), ""); /* as Go: case matters */
}

static void test_layout(void **state)
{
	(void)state;
	/* no final newline, tabs, CR LF, blanks everywhere */
	assert_string_equal(look("machine h login u password p", "h"), "u p");
	assert_string_equal(look("\tmachine\th\r\n\tlogin\tu\r\n password p\r\n", "h"), "u p");
	/* a key at the end of a line pairs with nothing: dropped, as in Go */
	assert_string_equal(look("machine h login\nu password p\n", "h"), "");
	/* order within an entry is free; unknown pairs are skipped */
	assert_string_equal(look("machine h account x password p login u\n", "h"), "u p");
	/* a new machine resets a half-read entry */
	assert_string_equal(look("machine h login u\nmachine k password p\n", "h"), "");
	assert_string_equal(look("machine h login u\nmachine k password p\n", "k"), "");
	/* a macro ends at a truly empty line only */
	assert_string_equal(look("macdef m\nmachine h login u password p\n \n"
	                         "machine k login v password q\n\nmachine j login w password r\n",
	                         "k"),
	                    "");
	assert_string_equal(look("macdef m\nmachine h login u password p\n \n"
	                         "machine k login v password q\n\nmachine j login w password r\n",
	                         "j"),
	                    "w r");
	/* default ends the file only where a pair would start */
	assert_string_equal(look("machine h login default password p\nmachine k login v "
	                         "password q\n",
	                         "k"),
	                    "v q");
	assert_string_equal(look("machine h login u password p default\nmachine k login v "
	                         "password q\n",
	                         "k"),
	                    "");
	assert_string_equal(look("default login x password y\nmachine k login v password q\n", "k"),
	                    "v q"); /* "default login" is a pair: Go goes on */
	assert_string_equal(look("", "h"), "");
	assert_string_equal(look("\n\n\n", "h"), "");
}

/* More tokens on one line than the parser holds at once: the pairing must
 * not shift between chunks. */
static void test_long_line(void **state)
{
	char *t = malloc(64 * 1024);
	size_t n = 0;

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(t + n, 64 * 1024 - n, "machine m%d login u%d password p%d ",
		                      i, i, i);
	assert_string_equal(look(t, "m0"), "u0 p0");
	assert_string_equal(look(t, "m21"), "u21 p21");
	assert_string_equal(look(t, "m22"), "u22 p22");
	assert_string_equal(look(t, "m199"), "u199 p199");
	assert_string_equal(look(t, "m200"), "");
	/* An odd count puts every pair one off: the lone "x" at the front
	 * makes "x machine" a pair, and then "m0 login" and so on. */
	n = (size_t)snprintf(t, 64 * 1024, "x ");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(t + n, 64 * 1024 - n, "machine m%d login u%d password p%d ",
		                      i, i, i);
	assert_string_equal(look(t, "m5"), "");
	free(t);
}

static void test_refused(void **state)
{
	char login[8], pass[8], err[200];
	char big[1024];

	(void)state;
	/* Basic auth cannot carry a ':' in the user name. */
	assert_string_equal(look("machine h login a:b password p\n", "h"),
	                    "!the login for h holds a ':', which Basic auth cannot carry");
	/* Too long for the caller's buffers: an error, not a cut secret. */
	snprintf(big, sizeof(big), "machine h login u password %0300d\n", 7);
	assert_string_equal(look(big, "h"), "!the login or password for h is too long");
	assert_int_equal(netrc_lookup("machine h login 12345678 password p", 35, "h", login,
	                              sizeof(login), pass, sizeof(pass), err, sizeof(err)),
	                 -1);
	assert_int_equal(netrc_lookup("machine h login 1234567 password p", 34, "h", login,
	                              sizeof(login), pass, sizeof(pass), err, sizeof(err)),
	                 1);
	assert_string_equal(login, "1234567");
	/* The messages never carry the values. */
	assert_null(strstr(look("machine h login a:SeCrEt password SeCrEt2\n", "h"), "SeCrEt"));
	/* A NUL inside the matching entry's values: refused, not cut short. */
	assert_int_equal(netrc_lookup("machine h login u password p\0q", 30, "h", login,
	                              sizeof(login), pass, sizeof(pass), err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "the login or password for h holds a NUL byte");
	/* len bounds the text: a match past it is not seen. */
	assert_int_equal(netrc_lookup("machine h login u password p", 20, "h", login, sizeof(login),
	                              pass, sizeof(pass), err, sizeof(err)),
	                 0);
	/* NUL bytes are ordinary bytes of a token. */
	assert_int_equal(netrc_lookup("machine h\0 login u password p", 29, "h", login,
	                              sizeof(login), pass, sizeof(pass), err, sizeof(err)),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_go_testdata), cmocka_unit_test(test_matching),
	    cmocka_unit_test(test_layout),      cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
