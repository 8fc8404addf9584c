/*
 * test_modpath — the module path, version and request rules against the
 * cases golang.org/x/mod tests itself with (module/module_test.go,
 * semver/semver_test.go), plus the GOPROXY request paths a client or an
 * attacker can send us. Every row names its input when it fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proxy/modpath.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

/* One line, printable ASCII, not empty: what a client is shown. */
static int is_one_line(const char *s)
{
	if (s[0] == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	}
	return 1;
}

static int has_bad_byte(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '\\' || c == ':')
			return 1;
	}
	return 0;
}

/* Safe to join under a cache directory as a relative path of elements. */
static int safe_rel_path(const char *p)
{
	const char *e = p;

	if (p[0] == '\0' || p[0] == '/' || has_bad_byte(p))
		return 0;
	for (;;) {
		size_t n = strcspn(e, "/");

		if (n == 0 || (n == 1 && e[0] == '.') || (n == 2 && e[0] == '.' && e[1] == '.'))
			return 0;
		if (e[n] == '\0')
			return 1;
		e += n + 1;
	}
}

/* Safe as one file name. */
static int safe_elem(const char *v)
{
	return safe_rel_path(v) && strchr(v, '/') == NULL;
}

/* ---- module.CheckPath --------------------------------------------------- */

struct path_case {
	const char *path;
	int ok;
};

/* checkPathTests from module_test.go: the path and its CheckPath column. */
static const struct path_case check_path_tests[] = {
    {"x.y/z", 1},
    {"x.y", 1},
    {"", 0},
    {"x.y/\xFFz", 0},
    {"/x.y/z", 0},
    {"x./z", 0},
    {".x/z", 0},
    {"-x/z", 0},
    {"x..y/z", 1},
    {"x.y/z/../../w", 0},
    {"x.y//z", 0},
    {"x.y/z//w", 0},
    {"x.y/z/", 0},
    {"x.y/z/v0", 0},
    {"x.y/z/v1", 0},
    {"x.y/z/v2", 1},
    {"x.y/z/v2.0", 0},
    {"X.y/z", 0},
    {"!x.y/z", 0},
    {"_x.y/z", 0},
    {"x.y!/z", 0},
    {"x.y\"/z", 0},
    {"x.y#/z", 0},
    {"x.y$/z", 0},
    {"x.y%/z", 0},
    {"x.y&/z", 0},
    {"x.y'/z", 0},
    {"x.y(/z", 0},
    {"x.y)/z", 0},
    {"x.y*/z", 0},
    {"x.y+/z", 0},
    {"x.y,/z", 0},
    {"x.y-/z", 1},
    {"x.y./zt", 0},
    {"x.y:/z", 0},
    {"x.y;/z", 0},
    {"x.y</z", 0},
    {"x.y=/z", 0},
    {"x.y>/z", 0},
    {"x.y?/z", 0},
    {"x.y@/z", 0},
    {"x.y[/z", 0},
    {"x.y\\/z", 0},
    {"x.y]/z", 0},
    {"x.y^/z", 0},
    {"x.y_/z", 0},
    {"x.y`/z", 0},
    {"x.y{/z", 0},
    {"x.y}/z", 0},
    {"x.y~/z", 0},
    {"x.y/z!", 0},
    {"x.y/z\"", 0},
    {"x.y/z#", 0},
    {"x.y/z$", 0},
    {"x.y/z%", 0},
    {"x.y/z&", 0},
    {"x.y/z'", 0},
    {"x.y/z(", 0},
    {"x.y/z)", 0},
    {"x.y/z*", 0},
    {"x.y/z++", 0},
    {"x.y/z,", 0},
    {"x.y/z-", 1},
    {"x.y/z.t", 1},
    {"x.y/z/t", 1},
    {"x.y/z:", 0},
    {"x.y/z;", 0},
    {"x.y/z<", 0},
    {"x.y/z=", 0},
    {"x.y/z>", 0},
    {"x.y/z?", 0},
    {"x.y/z@", 0},
    {"x.y/z[", 0},
    {"x.y/z\\", 0},
    {"x.y/z]", 0},
    {"x.y/z^", 0},
    {"x.y/z_", 1},
    {"x.y/z`", 0},
    {"x.y/z{", 0},
    {"x.y/z}", 0},
    {"x.y/z~", 1},
    {"x.y/x.foo", 1},
    {"x.y/aux.foo", 0},
    {"x.y/prn", 0},
    {"x.y/prn2", 1},
    {"x.y/com", 1},
    {"x.y/com1", 0},
    {"x.y/com1.txt", 0},
    {"x.y/calm1", 1},
    {"x.y/z~0", 0},
    {"x.y/z~09", 0},
    {"x.y/z09", 1},
    {"x.y/z09~", 1},
    {"x.y/z09~09z", 1},
    {"x.y/z09~09z~09", 0},
    {"github.com/!123/logrus", 0},
    {"github.com/user/unicode/испытание", 0},
    {"../x", 0},
    {"./y", 0},
    {"x:y", 0},
    {"\\temp\\foo", 0},
    {".gitignore", 0},
    {".github/ISSUE_TEMPLATE", 0},
    {"x☺y", 0},
    /* splitPathVersionTests and the gopkg.in rules of SplitPathVersion. */
    {"x.y/z/v3", 1},
    {"x.y/v", 1},
    {"x.y/z/v02", 0},
    {"x.y/z/v10", 1},
    {"x.y/z/v2/w", 1},
    {"gopkg.in/yaml.v0", 1},
    {"gopkg.in/yaml.v1", 1},
    {"gopkg.in/yaml.v2", 1},
    {"gopkg.in/yaml.v3", 1},
    {"gopkg.in/yaml.v01", 0},
    {"gopkg.in/yaml", 0},
    {"gopkg.in/yaml.v2-unstable", 1},
    {"gopkg.in/yaml.v0-unstable", 0},
    {"gopkg.in/yaml.v-unstable", 1},
    {"gopkg.in/user/yaml.v2", 1},
    {"gopkg.in/yaml/v2", 0},
    /* More of the rules, one each. */
    {"-x.y", 0},
    {"x.y/-z", 1},
    {"x-.y", 1},
    {"x.y/.z", 0},
    {"x.y/z.", 0},
    {"x.y/CON", 0},
    {"x.y/con.txt", 0},
    {"x.y/Lpt9", 0},
    {"x.y/lpt0", 1},
    {"x.y/z~1", 0},
    {"x.y/z~a1", 1},
    {"x.y/z~1.go", 0},
    {"x.y/.", 0},
    {"x.y/..", 0},
    {"x.y/...", 0},
    {"localhost/z", 0},
    {"x.Y/z", 0},
    {"x_y.z/w", 0},
    {"x.y/Z", 1},
    {"github.com/GoogleCloudPlatform/omega", 1},
    {"x.y/a b", 0},
    {"x.y/a\tb", 0},
    {"x.y/\xd0", 0},
};

static void test_check_path(void **state)
{
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < N(check_path_tests); i++) {
		const struct path_case *c = &check_path_tests[i];
		int rc;

		err[0] = '\0';
		rc = modpath_check_path(c->path, err, sizeof(err));
		if ((rc == 0) != c->ok)
			fail_msg("check_path(\"%s\") = %d (%s), want ok=%d", c->path, rc, err,
			         c->ok);
		if (rc < 0 &&
		    (!is_one_line(err) || strncmp(err, "malformed module path \"", 23) != 0))
			fail_msg("check_path(\"%s\"): bad message \"%s\"", c->path, err);
	}
}

/* ---- module.EscapePath / UnescapePath ----------------------------------- */

struct escape_case {
	const char *path;
	const char *esc;
};

static const struct escape_case escape_tests[] = {
    {"ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789",
     "ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789"},
    {"github.com/GoogleCloudPlatform/omega", "github.com/!google!cloud!platform/omega"},
    {"github.com/Azure/azure-sdk-for-go", "github.com/!azure/azure-sdk-for-go"},
    {"github.com/Sirupsen/logrus", "github.com/!sirupsen/logrus"},
    {"x.y/ABC/v2", "x.y/!a!b!c/v2"},
    {"x.y/Z", "x.y/!z"},
};

static const char *const bad_unescape[] = {
    "github.com/GoogleCloudPlatform/omega",
    "github.com/!google!cloud!platform!/omega",
    "github.com/!0google!cloud!platform/omega",
    "github.com/!_google!cloud!platform/omega",
    "github.com/!!google!cloud!platform/omega",
    "",
    "github.com/x!",
    "github.com/!",
    "github.com/!Azure",
    "github.com/\xc3\xa9",
    "!github.com/x", /* decodes to an upper-case domain */
    "github.com/!c!o!n",
};

static void test_escape_path(void **state)
{
	char out[256], back[256], err[256];
	size_t i;

	(void)state;
	for (i = 0; i < N(escape_tests); i++) {
		const struct escape_case *c = &escape_tests[i];

		if (modpath_escape_path(c->path, out, sizeof(out), err, sizeof(err)) != 0)
			fail_msg("escape_path(\"%s\"): %s", c->path, err);
		if (strcmp(out, c->esc) != 0)
			fail_msg("escape_path(\"%s\") = \"%s\", want \"%s\"", c->path, out, c->esc);
		if (modpath_unescape_path(c->esc, back, sizeof(back), err, sizeof(err)) != 0)
			fail_msg("unescape_path(\"%s\"): %s", c->esc, err);
		if (strcmp(back, c->path) != 0)
			fail_msg("unescape_path(\"%s\") = \"%s\", want \"%s\"", c->esc, back,
			         c->path);
	}
	/* Go's TestEscapePath and TestUnescapePath: every path CheckPath refuses
	 * is refused by both, and every one it accepts round-trips. */
	for (i = 0; i < N(check_path_tests); i++) {
		const struct path_case *c = &check_path_tests[i];
		int e = modpath_escape_path(c->path, out, sizeof(out), err, sizeof(err));

		if ((e == 0) != c->ok)
			fail_msg("escape_path(\"%s\") = %d, want ok=%d", c->path, e, c->ok);
		if (e < 0) {
			assert_string_equal(out, "");
			if (modpath_unescape_path(c->path, back, sizeof(back), err, sizeof(err)) ==
			    0)
				fail_msg("unescape_path(\"%s\") succeeded, want error", c->path);
			assert_string_equal(back, "");
			continue;
		}
		if (modpath_unescape_path(out, back, sizeof(back), err, sizeof(err)) != 0 ||
		    strcmp(back, c->path) != 0)
			fail_msg("\"%s\" does not round-trip through \"%s\"", c->path, out);
	}
}

static void test_unescape_path_bad(void **state)
{
	char out[256], err[256];
	size_t i;

	(void)state;
	for (i = 0; i < N(bad_unescape); i++) {
		err[0] = '\0';
		if (modpath_unescape_path(bad_unescape[i], out, sizeof(out), err, sizeof(err)) == 0)
			fail_msg("unescape_path(\"%s\") = \"%s\", want error", bad_unescape[i],
			         out);
		if (!is_one_line(err) || strncmp(err, "invalid escaped module path \"", 29) != 0)
			fail_msg("unescape_path(\"%s\"): bad message \"%s\"", bad_unescape[i], err);
		assert_string_equal(out, "");
	}
}

/* ---- module.EscapeVersion / UnescapeVersion ----------------------------- */

struct version_case {
	const char *v;
	const char *esc; /* NULL: EscapeVersion refuses v */
};

static const struct version_case version_tests[] = {
    {"v1.2.3", "v1.2.3"},
    {"v1.2.3-RC1", "v1.2.3-!r!c1"},
    {"Master", "!master"},
    {"feature-X", "feature-!x"},
    {"v1.0.0+incompatible", "v1.0.0+incompatible"},
    {"v0.0.0-20200101000000-abcdefabcdef", "v0.0.0-20200101000000-abcdefabcdef"},
    {"abcdef123456", "abcdef123456"},
    {"a b", "a b"},
    {"a#b", "a#b"},
    {"a%2e", "a%2e"},
    {"(x)[y]{z}^=,&$@~_", "(x)[y]{z}^=,&$@~_"},
    {".a", ".a"},
    {"z~1", "z~1"},
    {"com0", "com0"},
    {"..a", "..a"},
    {"", NULL},
    {"!", NULL},
    {"a!b", NULL},
    {"a/b", NULL},
    {".", NULL},
    {"..", NULL},
    {"...", NULL},
    {"a.", NULL},
    {"CON", NULL},
    {"con.txt", NULL},
    {"Aux", NULL},
    {"a:b", NULL},
    {"a\\b", NULL},
    {"a*b", NULL},
    {"a?b", NULL},
    {"a\"b", NULL},
    {"a'b", NULL},
    {"a<b", NULL},
    {"a>b", NULL},
    {"a|b", NULL},
    {"a`b", NULL},
    {"a;b", NULL},
    {"\xd0\xb8", NULL},
    {"a\tb", NULL},
    {"a\x7f", NULL},
};

static void test_escape_version(void **state)
{
	char out[256], back[256], err[256];
	size_t i;

	(void)state;
	for (i = 0; i < N(version_tests); i++) {
		const struct version_case *c = &version_tests[i];
		int rc;

		err[0] = '\0';
		rc = modpath_escape_version(c->v, out, sizeof(out), err, sizeof(err));
		if (c->esc == NULL) {
			if (rc == 0)
				fail_msg("escape_version(\"%s\") = \"%s\", want error", c->v, out);
			if (!is_one_line(err))
				fail_msg("escape_version(\"%s\"): bad message \"%s\"", c->v, err);
			assert_string_equal(out, "");
			continue;
		}
		if (rc != 0 || strcmp(out, c->esc) != 0)
			fail_msg("escape_version(\"%s\") = %d \"%s\" (%s), want \"%s\"", c->v, rc,
			         out, err, c->esc);
		if (modpath_unescape_version(out, back, sizeof(back), err, sizeof(err)) != 0 ||
		    strcmp(back, c->v) != 0)
			fail_msg("unescape_version(\"%s\") = \"%s\", want \"%s\"", out, back, c->v);
	}
}

static const struct version_case unescape_version_tests[] = {
    {"v1.2.3-!r!c1", "v1.2.3-RC1"},
    {"!master", "Master"},
    {"v1.2.3", "v1.2.3"},
    {"a b", "a b"},
    {"my!branch", "myBranch"},
    {"V1", NULL},
    {"!1", NULL},
    {"a!", NULL},
    {"!!a", NULL},
    {"!A", NULL},
    {"a/b", NULL},
    {"..", NULL},
    {"", NULL},
    {"!c!o!n", NULL},
    {"\xc3\xa9", NULL},
    {"a:b", NULL},
};

static void test_unescape_version(void **state)
{
	char out[256], err[256];
	size_t i;

	(void)state;
	for (i = 0; i < N(unescape_version_tests); i++) {
		const struct version_case *c = &unescape_version_tests[i];
		int rc;

		err[0] = '\0';
		rc = modpath_unescape_version(c->v, out, sizeof(out), err, sizeof(err));
		if (c->esc == NULL) {
			if (rc == 0)
				fail_msg("unescape_version(\"%s\") = \"%s\", want error", c->v,
				         out);
			if (!is_one_line(err) ||
			    strncmp(err, "invalid escaped version \"", 25) != 0)
				fail_msg("unescape_version(\"%s\"): bad message \"%s\"", c->v, err);
			assert_string_equal(out, "");
		} else if (rc != 0 || strcmp(out, c->esc) != 0) {
			fail_msg("unescape_version(\"%s\") = %d \"%s\" (%s), want \"%s\"", c->v, rc,
			         out, err, c->esc);
		}
	}
}

static void test_check_version_elem(void **state)
{
	char err[256];
	size_t i;

	(void)state;
	/* Valid exactly when EscapeVersion accepts it, except for "!", which
	 * is a fine file name but has no escaped form. */
	for (i = 0; i < N(version_tests); i++) {
		const struct version_case *c = &version_tests[i];
		int want = c->esc != NULL || strcmp(c->v, "!") == 0 || strcmp(c->v, "a!b") == 0;
		int rc = modpath_check_version_elem(c->v, err, sizeof(err));

		if ((rc == 0) != want)
			fail_msg("check_version_elem(\"%s\") = %d, want ok=%d", c->v, rc, want);
	}
}

/* ---- semver ------------------------------------------------------------- */

struct semver_case {
	const char *in;
	const char *canon; /* semver.Canonical(in); "" when invalid */
};

/* The table of semver_test.go. */
static const struct semver_case semver_tests[] = {
    {"bad", ""},
    {"v1-alpha.beta.gamma", ""},
    {"v1-pre", ""},
    {"v1+meta", ""},
    {"v1-pre+meta", ""},
    {"v1.2-pre", ""},
    {"v1.2+meta", ""},
    {"v1.2-pre+meta", ""},
    {"v1.0.0-alpha", "v1.0.0-alpha"},
    {"v1.0.0-alpha.1", "v1.0.0-alpha.1"},
    {"v1.0.0-alpha.beta", "v1.0.0-alpha.beta"},
    {"v1.0.0-beta", "v1.0.0-beta"},
    {"v1.0.0-beta.2", "v1.0.0-beta.2"},
    {"v1.0.0-beta.11", "v1.0.0-beta.11"},
    {"v1.0.0-rc.1", "v1.0.0-rc.1"},
    {"v1", "v1.0.0"},
    {"v1.0", "v1.0.0"},
    {"v1.0.0", "v1.0.0"},
    {"v1.2", "v1.2.0"},
    {"v1.2.0", "v1.2.0"},
    {"v1.2.3-456", "v1.2.3-456"},
    {"v1.2.3-456.789", "v1.2.3-456.789"},
    {"v1.2.3-456-789", "v1.2.3-456-789"},
    {"v1.2.3-456a", "v1.2.3-456a"},
    {"v1.2.3-pre", "v1.2.3-pre"},
    {"v1.2.3-pre+meta", "v1.2.3-pre"},
    {"v1.2.3-pre.1", "v1.2.3-pre.1"},
    {"v1.2.3-zzz", "v1.2.3-zzz"},
    {"v1.2.3", "v1.2.3"},
    {"v1.2.3+meta", "v1.2.3"},
    {"v1.2.3+meta-pre", "v1.2.3"},
    {"v1.2.3+meta-pre.sha.256a", "v1.2.3"},
};

struct semver_extra {
	const char *in;
	int valid;
	int canonical; /* module.CanonicalVersion(in) == in */
};

static const struct semver_extra semver_extras[] = {
    {"v1.2.3+incompatible", 1, 1},
    {"v2.0.0+incompatible", 1, 1},
    {"v1.2.3-pre+incompatible", 1, 1},
    {"v1.2+incompatible", 0, 0},
    {"v1.2.3+incompatible.x", 1, 0},
    {"v1.2.3+Incompatible", 1, 0},
    {"v1.2.3+incompatible+incompatible", 0, 0},
    {"v0.0.0-20200101000000-abcdefabcdef", 1, 1},
    {"v1.2.4-0.20200101000000-abcdefabcdef", 1, 1},
    {"v0.0.0", 1, 1},
    {"v0", 1, 0},
    {"v01.2.3", 0, 0},
    {"v1.02.3", 0, 0},
    {"v1.2.03", 0, 0},
    {"v1.2.3-01", 0, 0},
    {"v1.2.3-0", 1, 1},
    {"v1.2.3-0a", 1, 1},
    {"v1.2.3-a.01", 0, 0},
    {"v1.2.3-", 0, 0},
    {"v1.2.3+", 0, 0},
    {"v1.2.3-a..b", 0, 0},
    {"v1.2.3-a.", 0, 0},
    {"v1.2.3+a..b", 0, 0},
    {"v1.2.3+01", 1, 0},
    {"v1.2.3-RC1", 1, 1},
    {"V1.2.3", 0, 0},
    {"1.2.3", 0, 0},
    {"", 0, 0},
    {"v", 0, 0},
    {"v1.", 0, 0},
    {"v1.2.", 0, 0},
    {"v1.2.3.4", 0, 0},
    {"v1.2.3-a_b", 0, 0},
    {"v1.2.3 ", 0, 0},
    {"v18446744073709551616.0.0", 1, 1},
};

static void test_semver(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(semver_tests); i++) {
		const struct semver_case *c = &semver_tests[i];
		int valid = c->canon[0] != '\0';
		int canonical = valid && strcmp(c->canon, c->in) == 0;

		if (modpath_semver_is_valid(c->in) != valid)
			fail_msg("semver_is_valid(\"%s\") != %d", c->in, valid);
		if (modpath_is_canonical_version(c->in) != canonical)
			fail_msg("is_canonical_version(\"%s\") != %d", c->in, canonical);
		/* Canonical(v) is itself canonical. */
		if (valid && !modpath_is_canonical_version(c->canon))
			fail_msg("is_canonical_version(\"%s\") != 1", c->canon);
	}
	for (i = 0; i < N(semver_extras); i++) {
		const struct semver_extra *c = &semver_extras[i];

		if (modpath_semver_is_valid(c->in) != c->valid)
			fail_msg("semver_is_valid(\"%s\") != %d", c->in, c->valid);
		if (modpath_is_canonical_version(c->in) != c->canonical)
			fail_msg("is_canonical_version(\"%s\") != %d", c->in, c->canonical);
	}
}

/* ---- requests ----------------------------------------------------------- */

struct req_case {
	const char *raw;
	int status;
	enum modpath_kind kind;
	const char *module, *version, *esc_module, *esc_version;
	int canonical;
};

#define BAD(r)                                                                                     \
	{                                                                                          \
		r, 400, MODPATH_LIST, NULL, NULL, NULL, NULL, 0                                    \
	}
#define NOPE(r)                                                                                    \
	{                                                                                          \
		r, 404, MODPATH_LIST, NULL, NULL, NULL, NULL, 0                                    \
	}
#define OK(r, k, m, v, em, ev, c)                                                                  \
	{                                                                                          \
		r, 200, k, m, v, em, ev, c                                                         \
	}

static const struct req_case req_tests[] = {
    /* Each kind. */
    OK("/rsc.io/quote/@v/list", MODPATH_LIST, "rsc.io/quote", "", "rsc.io/quote", "", 0),
    OK("/rsc.io/quote/@latest", MODPATH_LATEST, "rsc.io/quote", "", "rsc.io/quote", "", 0),
    OK("/rsc.io/quote/@v/v1.5.2.info", MODPATH_INFO, "rsc.io/quote", "v1.5.2", "rsc.io/quote",
       "v1.5.2", 1),
    OK("/rsc.io/quote/@v/v1.5.2.mod", MODPATH_MOD, "rsc.io/quote", "v1.5.2", "rsc.io/quote",
       "v1.5.2", 1),
    OK("/rsc.io/quote/@v/v1.5.2.zip", MODPATH_ZIP, "rsc.io/quote", "v1.5.2", "rsc.io/quote",
       "v1.5.2", 1),
    /* Case-encoding, raw and percent-encoded as url.PathEscape sends it. */
    OK("/github.com/!azure/x/@v/list", MODPATH_LIST, "github.com/Azure/x", "",
       "github.com/!azure/x", "", 0),
    OK("/github.com/%21azure/x/@v/list", MODPATH_LIST, "github.com/Azure/x", "",
       "github.com/!azure/x", "", 0),
    OK("/github.com/%21azure/x/@latest", MODPATH_LATEST, "github.com/Azure/x", "",
       "github.com/!azure/x", "", 0),
    OK("/github.com/%21google%21cloud%21platform/cloudsql-proxy/@v/v1.33.2.zip", MODPATH_ZIP,
       "github.com/GoogleCloudPlatform/cloudsql-proxy", "v1.33.2",
       "github.com/!google!cloud!platform/cloudsql-proxy", "v1.33.2", 1),
    OK("/example.com/m/@v/v1.2.3-!r!c1.info", MODPATH_INFO, "example.com/m", "v1.2.3-RC1",
       "example.com/m", "v1.2.3-!r!c1", 1),
    OK("/example.com/m/@v/v1.2.3-%21r%21c1.zip", MODPATH_ZIP, "example.com/m", "v1.2.3-RC1",
       "example.com/m", "v1.2.3-!r!c1", 1),
    OK("/example.com/m/@v/!master.info", MODPATH_INFO, "example.com/m", "Master", "example.com/m",
       "!master", 0),
    OK("/example.com/m/@v/my%21branch.info", MODPATH_INFO, "example.com/m", "myBranch",
       "example.com/m", "my!branch", 0),
    /* Pseudo-versions and +incompatible. */
    OK("/golang.org/x/mod/@v/v0.0.0-20200101000000-abcdefabcdef.zip", MODPATH_ZIP,
       "golang.org/x/mod", "v0.0.0-20200101000000-abcdefabcdef", "golang.org/x/mod",
       "v0.0.0-20200101000000-abcdefabcdef", 1),
    OK("/golang.org/x/mod/@v/v0.3.1-0.20200101000000-abcdefabcdef.mod", MODPATH_MOD,
       "golang.org/x/mod", "v0.3.1-0.20200101000000-abcdefabcdef", "golang.org/x/mod",
       "v0.3.1-0.20200101000000-abcdefabcdef", 1),
    OK("/github.com/docker/docker/@v/v20.10.7+incompatible.mod", MODPATH_MOD,
       "github.com/docker/docker", "v20.10.7+incompatible", "github.com/docker/docker",
       "v20.10.7+incompatible", 1),
    OK("/github.com/docker/docker/@v/v20.10.7%2Bincompatible.zip", MODPATH_ZIP,
       "github.com/docker/docker", "v20.10.7+incompatible", "github.com/docker/docker",
       "v20.10.7+incompatible", 1),
    OK("/gopkg.in/yaml.v2/@v/v2.4.0.mod", MODPATH_MOD, "gopkg.in/yaml.v2", "v2.4.0",
       "gopkg.in/yaml.v2", "v2.4.0", 1),
    OK("/example.com/m/v2/@v/v2.0.0.zip", MODPATH_ZIP, "example.com/m/v2", "v2.0.0",
       "example.com/m/v2", "v2.0.0", 1),
    /* .info takes queries; the answer is mutable, so canonical is 0. */
    OK("/rsc.io/quote/@v/master.info", MODPATH_INFO, "rsc.io/quote", "master", "rsc.io/quote",
       "master", 0),
    OK("/rsc.io/quote/@v/abcdef123456.info", MODPATH_INFO, "rsc.io/quote", "abcdef123456",
       "rsc.io/quote", "abcdef123456", 0),
    OK("/rsc.io/quote/@v/v1.5.info", MODPATH_INFO, "rsc.io/quote", "v1.5", "rsc.io/quote", "v1.5",
       0),
    OK("/rsc.io/quote/@v/v1.5.2+meta.info", MODPATH_INFO, "rsc.io/quote", "v1.5.2+meta",
       "rsc.io/quote", "v1.5.2+meta", 0),
    OK("/example.com/m/@v/list.info", MODPATH_INFO, "example.com/m", "list", "example.com/m",
       "list", 0),
    OK("/example.com/m/@v/v1.0.0.info.info", MODPATH_INFO, "example.com/m", "v1.0.0.info",
       "example.com/m", "v1.0.0.info", 0),
    OK("/example.com/m/@v/v1.0.0~1.info", MODPATH_INFO, "example.com/m", "v1.0.0~1",
       "example.com/m", "v1.0.0~1", 0),
    /* Legal file-name bytes in a version stay literal, decoded once only. */
    OK("/example.com/m/@v/a%20b.info", MODPATH_INFO, "example.com/m", "a b", "example.com/m", "a b",
       0),
    OK("/example.com/m/@v/a%23b.info", MODPATH_INFO, "example.com/m", "a#b", "example.com/m", "a#b",
       0),
    OK("/example.com/x/@v/%252e%252e.info", MODPATH_INFO, "example.com/x", "%2e%2e",
       "example.com/x", "%2e%2e", 0),
    OK("/example.com/x/@v/.hidden.info", MODPATH_INFO, "example.com/x", ".hidden", "example.com/x",
       ".hidden", 0),
    /* Encoded bytes that are legal once decoded. */
    OK("/example.com/m%2F@v%2Flist", MODPATH_LIST, "example.com/m", "", "example.com/m", "", 0),
    OK("/example.com/m/@v/v1.0.0%2einfo", MODPATH_INFO, "example.com/m", "v1.0.0", "example.com/m",
       "v1.0.0", 1),
    OK("/%65xample.com/m/@v/list", MODPATH_LIST, "example.com/m", "", "example.com/m", "", 0),

    /* Not a GOPROXY endpoint: 404, whatever the module looks like. */
    NOPE("/foo/@v/v1.0.0.tar"),
    NOPE("/example.com/m/@v/v1.0.0.tar"),
    NOPE("/example.com/m/@v/"),
    NOPE("/example.com/m/@v/lists"),
    NOPE("/example.com/m/@v/LIST"),
    NOPE("/example.com/m/@v/v1.0.0.ZIP"),
    NOPE("/example.com/m"),
    NOPE("/example.com/m/@v"),
    NOPE("/example.com/m/@latest/"),
    NOPE("/example.com/m/@latestx"),
    NOPE("/example.com/m/@v/v1.0.0.zip/../../../etc"),
    NOPE("/example.com/m/@v/v1.0.0.info?x=1"),
    NOPE("/sumdb/sum.golang.org/supported"),
    NOPE("/"),
    NOPE("/Foo/bar"),

    /* Malformed: 400. */
    BAD(""),
    BAD("example.com/m/@v/list"),
    BAD("/@v/list"),
    BAD("/@latest"),
    BAD("/github.com/Azure/x/@v/list"),
    BAD("/example.com/%41/@v/list"), /* an encoded upper-case letter is still bare */
    BAD("/github.com/%21Azure/x/@v/list"),
    BAD("/github.com/!!azure/x/@v/list"),
    BAD("/github.com/azure!/@v/list"),
    BAD("/Example.com/m/@v/list"),
    BAD("/!example.com/m/@v/list"),
    BAD("/example.com/m/@v/v1.2.3-RC1.info"),
    BAD("/example.com/m/@v/a!.info"),
    BAD("/example.com/m/@v/%21%21.info"),
    BAD("/example.com/m/@v/.info"),
    BAD("/rsc.io/quote/@v/v1.5.mod"),
    BAD("/rsc.io/quote/@v/master.zip"),
    BAD("/rsc.io/quote/@v/v1.5.2+meta.zip"),
    BAD("/rsc.io/quote/@v/abcdef123456.mod"),
    BAD("/example.com/m/@v/v1.0.0.info.zip"),
    BAD("/example.com/a/@v/b/@v/list"),
    BAD("/example.com/m/@v/@latest"),
    BAD("/gopkg.in/yaml/@v/list"),
    BAD("/example.com/m/v1/@v/list"),
    BAD("/example.com/m~1/@v/list"),
    BAD("/localhost/m/@v/list"),
    BAD("/example.com/m/@v/v1.0.0%2.zip"),
    BAD("/example.com/m/@v/v1.0.0%zz.zip"),
    BAD("/example.com/m/@v/v1.0.0.zip%"),
    BAD("/example.com/m/@v/v1.0.0%ff.info"),
    BAD("/example.com/\xd0\xb8/@v/list"),
    BAD("/example.com/m/@v/list%7f"),
    BAD("/example.com/m/@v/list%0a"),
    BAD("/example.com/m/@v/list\t"),
    BAD("/example.com/m/@v/c:.info"),
    BAD("/example.com/m/@v/nul.info"),
    BAD("/example.com/m/@v/a*.info"),
    BAD("/example.com/m/@v/feature%2Fx.info"),
    /* Hostile: traversal, absolute paths, backslashes, NUL. */
    BAD("/../../etc/passwd/@v/list"),
    BAD("/a/%2e%2e/b/@v/list"),
    BAD("/example.com/x/@v/..%2f..%2fx.info"),
    BAD("/example.com/x/@v/%2e%2e.info"),
    BAD("/example.com/x/@v/%2E%2E%2Fetc%2Fpasswd.info"),
    BAD("/example.com/x/@v/..info"),
    BAD("/example.com/x/@v/...info"),
    BAD("/example.com/x/@v/....zip"),
    BAD("/example.com/../x/@v/list"),
    BAD("/example.com/./x/@v/list"),
    BAD("/example.com/%2e/x/@v/list"),
    BAD("/%2e%2e/@v/list"),
    BAD("/..%2f..%2fetc/@v/list"),
    BAD("//etc/passwd/@v/list"),
    BAD("/%2fetc/passwd/@v/list"),
    BAD("/example.com//x/@v/list"),
    BAD("/example.com/x/@v//v1.0.0.info"),
    BAD("/example.com/x%00/@v/list"),
    BAD("/example.com/x/@v/v1.0.0%00.zip"),
    BAD("/example.com/x/@v/v1.0.0.zip%00"),
    BAD("/example.com/x\\..\\y/@v/list"),
    BAD("/example.com/x%5c..%5cy/@v/list"),
    BAD("/example.com/x/@v/a%5cb.info"),
    BAD("/example.com/x/@v/v1.0.0%2f..%2f..%2fz.info"),
    BAD("/example.com/x/@v/../../../etc/passwd.info"),
    BAD("/example.com/x/@v/%2fetc%2fpasswd.info"),
    BAD("/C:/x/@v/list"),
    BAD("/example.com/x/@v/C:%5cwindows.info"),
    NOPE("/example.com/x/"),
    BAD("/example.com/x//@v/list"),
};

static void check_req(const struct req_case *c)
{
	struct modpath_req req;
	char err[512];
	int status = -1, rc;

	memset(&req, 0x55, sizeof(req));
	err[0] = '\0';
	rc = modpath_parse_request(c->raw, &req, &status, err, sizeof(err));
	if (status != c->status || (rc == 0) != (c->status == 200))
		fail_msg("parse(\"%s\") = %d status %d (%s), want status %d", c->raw, rc, status,
		         err, c->status);
	if (c->status != 200) {
		if (!is_one_line(err))
			fail_msg("parse(\"%s\"): bad message \"%s\"", c->raw, err);
		if (req.module[0] || req.version[0] || req.esc_module[0] || req.esc_version[0])
			fail_msg("parse(\"%s\"): failed but left data in req", c->raw);
		return;
	}
	if (req.kind != c->kind || strcmp(req.module, c->module) != 0 ||
	    strcmp(req.version, c->version) != 0 || strcmp(req.esc_module, c->esc_module) != 0 ||
	    strcmp(req.esc_version, c->esc_version) != 0 || req.canonical != c->canonical)
		fail_msg(
		    "parse(\"%s\") = kind %d \"%s\" \"%s\" \"%s\" \"%s\" %d, want kind %d \"%s\" "
		    "\"%s\" \"%s\" \"%s\" %d",
		    c->raw, req.kind, req.module, req.version, req.esc_module, req.esc_version,
		    req.canonical, c->kind, c->module, c->version, c->esc_module, c->esc_version,
		    c->canonical);
	/* Whatever was asked, what we return is safe under a cache directory. */
	if (!safe_rel_path(req.module) || !safe_rel_path(req.esc_module))
		fail_msg("parse(\"%s\"): unsafe module \"%s\"", c->raw, req.module);
	if (c->kind != MODPATH_LIST && c->kind != MODPATH_LATEST &&
	    (!safe_elem(req.version) || !safe_elem(req.esc_version)))
		fail_msg("parse(\"%s\"): unsafe version \"%s\"", c->raw, req.version);
}

static void test_parse_request(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(req_tests); i++)
		check_req(&req_tests[i]);
}

/* "!" and "%21" name the same module, and so the same cache key. */
static void test_parse_same_key(void **state)
{
	struct modpath_req a, b;
	char err[256];
	int st;

	(void)state;
	assert_int_equal(modpath_parse_request("/github.com/!burnt!sushi/toml/@v/v1.3.2.zip", &a,
	                                       &st, err, sizeof(err)),
	                 0);
	assert_int_equal(modpath_parse_request("/github.com/%21burnt%21sushi/toml/@v/v1.3.2.zip",
	                                       &b, &st, err, sizeof(err)),
	                 0);
	assert_string_equal(a.esc_module, b.esc_module);
	assert_string_equal(a.esc_module, "github.com/!burnt!sushi/toml");
	assert_string_equal(a.module, "github.com/BurntSushi/toml");
}

static void test_parse_messages(void **state)
{
	struct modpath_req req;
	char err[512], out[64];
	int st;

	(void)state;
	assert_int_equal(
	    modpath_parse_request("/github.com/Azure/x/@v/list", &req, &st, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid escaped module path \"github.com/Azure/x\": "
	                         "malformed case-encoding");
	assert_int_equal(modpath_parse_request("/x.y/z/v1/@v/list", &req, &st, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "invalid escaped module path \"x.y/z/v1\": invalid version");
	assert_int_equal(modpath_parse_request("/x.y/@v/v1.5.zip", &req, &st, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "version \"v1.5\" is not canonical: .mod and .zip need one like "
	                         "v1.2.3");
	assert_int_equal(modpath_parse_request("/x.y/@v/v1.0.0.tar", &req, &st, err, sizeof(err)),
	                 -1);
	assert_int_equal(st, 404);
	assert_non_null(strstr(err, "not a module proxy endpoint: \"/x.y/@v/v1.0.0.tar\""));
	/* A decoded "\" is quoted, not passed through raw. */
	assert_int_equal(modpath_parse_request("/x.y/a%5cb/@v/list", &req, &st, err, sizeof(err)),
	                 -1);
	assert_string_equal(err, "invalid escaped module path \"x.y/a\\\\b\": invalid char '\\\\'");
	assert_int_equal(modpath_check_path("x.y/a\tb", err, sizeof(err)), -1);
	assert_string_equal(err, "malformed module path \"x.y/a\\x09b\": invalid char '\\x09'");
	assert_int_equal(modpath_check_path("x.y/com1", err, sizeof(err)), -1);
	assert_string_equal(err, "malformed module path \"x.y/com1\": \"com1\" disallowed as path "
	                         "element component on Windows");
	/* The reasons Go gives, where a later rule would refuse the path too. */
	assert_int_equal(modpath_check_path("x.y/\xff", err, sizeof(err)), -1);
	assert_string_equal(err, "malformed module path \"x.y/\\xff\": invalid UTF-8");
	assert_int_equal(modpath_check_path("x.y/\xd0\xb8", err, sizeof(err)), -1);
	assert_string_equal(err, "malformed module path \"x.y/\\xd0\\xb8\": invalid char '\\xd0'");
	assert_int_equal(modpath_check_path("x.y/../z", err, sizeof(err)), -1);
	assert_string_equal(err, "malformed module path \"x.y/../z\": invalid path element \"..\"");
	assert_int_equal(modpath_check_version_elem("..", err, sizeof(err)), -1);
	assert_string_equal(err, "invalid version \"..\": invalid path element \"..\"");
	assert_int_equal(modpath_escape_version("a!b", out, sizeof(out), err, sizeof(err)), -1);
	assert_string_equal(err, "invalid version \"a!b\": disallowed version string");
}

/* ---- limits and buffers ------------------------------------------------- */

static void test_parse_lengths(void **state)
{
	static char raw[3 * MODPATH_RAW_MAX], mod[2 * MODPATH_MAX + 1], esc[2 * MODPATH_MAX + 1];
	struct modpath_req req;
	char err[512];
	size_t i;
	int st;

	(void)state;
	/* A module path of exactly MODPATH_MAX bytes, then one more. */
	memset(mod, 0, sizeof(mod));
	memcpy(mod, "example.com/", 12);
	memset(mod + 12, 'a', MODPATH_MAX - 12);
	snprintf(raw, sizeof(raw), "/%s/@v/list", mod);
	assert_int_equal(modpath_parse_request(raw, &req, &st, err, sizeof(err)), 0);
	assert_int_equal(strlen(req.module), MODPATH_MAX);
	mod[MODPATH_MAX] = 'a';
	snprintf(raw, sizeof(raw), "/%s/@v/list", mod);
	assert_int_equal(modpath_parse_request(raw, &req, &st, err, sizeof(err)), -1);
	assert_int_equal(st, 400);

	/* All upper case: MODPATH_MAX unescaped, twice that escaped, %21 on
	 * the wire — still within the raw limit. */
	memset(esc, 0, sizeof(esc));
	memcpy(esc, "example.com/", 12);
	for (i = 12; i < MODPATH_MAX; i++)
		memcpy(esc + 12 + 2 * (i - 12), "!q", 2);
	snprintf(raw, sizeof(raw), "/%s/@latest", esc);
	assert_int_equal(modpath_parse_request(raw, &req, &st, err, sizeof(err)), 0);
	assert_int_equal(strlen(req.module), MODPATH_MAX);
	assert_int_equal(strlen(req.esc_module), 2 * MODPATH_MAX - 12);
	assert_string_equal(req.esc_module, esc);

	/* A version of exactly MODPATH_MAX bytes (all upper case), then one more. */
	memset(esc, 0, sizeof(esc));
	for (i = 0; i < MODPATH_MAX; i++)
		memcpy(esc + 2 * i, "!v", 2);
	snprintf(raw, sizeof(raw), "/x.y/@v/%s.info", esc);
	assert_int_equal(modpath_parse_request(raw, &req, &st, err, sizeof(err)), 0);
	assert_int_equal(strlen(req.version), MODPATH_MAX);
	assert_int_equal(strlen(req.esc_version), 2 * MODPATH_MAX);
	snprintf(raw, sizeof(raw), "/x.y/@v/%sv.info", esc);
	assert_int_equal(modpath_parse_request(raw, &req, &st, err, sizeof(err)), -1);
	assert_int_equal(st, 400);

	/* The raw limit on its own: both parts short once decoded, the raw
	 * path exactly MODPATH_RAW_MAX bytes, then one more. */
	for (i = 0; i < 2; i++) {
		size_t n = 0, k;

		n += (size_t)snprintf(raw + n, sizeof(raw) - n, "/example.com/");
		for (k = 0; k < 1000; k++)
			n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%%61");
		n += (size_t)snprintf(raw + n, sizeof(raw) - n, "/@v/");
		for (k = 0; k < 350; k++)
			n += (size_t)snprintf(raw + n, sizeof(raw) - n, "%%61");
		for (k = 0; k < 24 + i; k++)
			raw[n++] = 'c';
		n += (size_t)snprintf(raw + n, sizeof(raw) - n, ".info");
		assert_int_equal(n, MODPATH_RAW_MAX + i);
		assert_int_equal(modpath_parse_request(raw, &req, &st, err, sizeof(err)),
		                 i == 0 ? 0 : -1);
		assert_int_equal(st, i == 0 ? 200 : 400);
	}
	/* Far longer than the limit. */
	memset(raw, 'a', sizeof(raw) - 1);
	raw[0] = '/';
	raw[sizeof(raw) - 1] = '\0';
	assert_int_equal(modpath_parse_request(raw, &req, &st, err, sizeof(err)), -1);
	assert_int_equal(st, 400);
	assert_string_equal(err, "request path longer than 4096 bytes");
}

static void test_small_buffers(void **state)
{
	char out[64], err[128];

	(void)state;
	/* "github.com/!azure" is 17 bytes: fits in 18, not in 17. */
	assert_int_equal(modpath_escape_path("github.com/Azure", out, 18, err, sizeof(err)), 0);
	assert_string_equal(out, "github.com/!azure");
	assert_int_equal(modpath_escape_path("github.com/Azure", out, 17, err, sizeof(err)), -1);
	assert_string_equal(out, "");
	assert_int_equal(modpath_escape_path("x.y", out, 0, err, sizeof(err)), -1);
	assert_int_equal(modpath_unescape_path("github.com/!azure", out, 17, err, sizeof(err)), 0);
	assert_string_equal(out, "github.com/Azure");
	assert_int_equal(modpath_unescape_path("github.com/!azure", out, 16, err, sizeof(err)), -1);
	assert_string_equal(out, "");
	assert_string_equal(err, "invalid escaped module path \"github.com/!azure\": too long");
	/* Malformed wins over too long. */
	assert_int_equal(modpath_unescape_path("github.com/Azure", out, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "malformed case-encoding"));
	assert_int_equal(modpath_escape_version("Master", out, 8, err, sizeof(err)), 0);
	assert_string_equal(out, "!master");
	assert_int_equal(modpath_escape_version("Master", out, 7, err, sizeof(err)), -1);
	assert_string_equal(out, "");
	assert_int_equal(modpath_unescape_version("!master", out, 7, err, sizeof(err)), 0);
	assert_int_equal(modpath_unescape_version("!master", out, 6, err, sizeof(err)), -1);
	assert_int_equal(modpath_unescape_version("", out, 0, err, sizeof(err)), -1);
	/* err may be NULL, or too short: the line is cut, still terminated. */
	assert_int_equal(modpath_check_path("", NULL, 0), -1);
	assert_int_equal(modpath_unescape_path("X", out, sizeof(out), NULL, 0), -1);
	memset(err, 'z', sizeof(err));
	assert_int_equal(modpath_check_path("x.y/z/v1", err, 10), -1);
	assert_int_equal(strlen(err), 9);
	assert_int_equal(err[10], 'z');
}

static void test_long_message_is_cut(void **state)
{
	static char path[2 * MODPATH_MAX];
	char err[1024];

	(void)state;
	memset(path, 'A', sizeof(path) - 1);
	assert_int_equal(modpath_check_path(path, err, sizeof(err)), -1);
	assert_true(is_one_line(err));
	/* The input is quoted up to 80 bytes and marked as cut. */
	assert_true(strlen(err) < 200);
	assert_non_null(strstr(err, "\"..."));
}

/* ---- URLs --------------------------------------------------------------- */

struct url_case {
	const char *in, *out;
};

static const struct url_case url_tests[] = {
    {"github.com/!azure/x", "github.com/%21azure/x"}, /* as the go command sends it */
    {"a b", "a%20b"},
    {"a#b", "a%23b"},
    {"a%b", "a%25b"},
    {"v1.0.0+incompatible", "v1.0.0+incompatible"},
    {"$&+:=@", "$&+:=@"},
    {"~_.-/", "~_.-/"},
    {",;?", "%2C%3B%3F"},
    {"[]{}()", "%5B%5D%7B%7D%28%29"},
    {"\xff\x01", "%FF%01"},
    {"", ""},
};

static void test_url_escape(void **state)
{
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < N(url_tests); i++) {
		if (modpath_url_escape(url_tests[i].in, out, sizeof(out)) != 0 ||
		    strcmp(out, url_tests[i].out) != 0)
			fail_msg("url_escape(\"%s\") = \"%s\", want \"%s\"", url_tests[i].in, out,
			         url_tests[i].out);
	}
	/* "a%20b" is 5 bytes: fits in 6, not in 5; nothing fits in 0. */
	assert_int_equal(modpath_url_escape("a b", out, 6), 0);
	assert_int_equal(modpath_url_escape("a b", out, 5), -1);
	assert_string_equal(out, "");
	assert_int_equal(modpath_url_escape("", out, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_path),
	    cmocka_unit_test(test_escape_path),
	    cmocka_unit_test(test_unescape_path_bad),
	    cmocka_unit_test(test_escape_version),
	    cmocka_unit_test(test_unescape_version),
	    cmocka_unit_test(test_check_version_elem),
	    cmocka_unit_test(test_semver),
	    cmocka_unit_test(test_parse_request),
	    cmocka_unit_test(test_parse_same_key),
	    cmocka_unit_test(test_parse_messages),
	    cmocka_unit_test(test_parse_lengths),
	    cmocka_unit_test(test_small_buffers),
	    cmocka_unit_test(test_long_message_is_cut),
	    cmocka_unit_test(test_url_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
