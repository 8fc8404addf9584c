/*
 * Unit tests for sumdb/zipcheck: the module zip rules of
 * golang.org/x/mod/zip (CheckZip) and module.CheckFilePath, and the go.mod
 * comparison, each checked in the same pass as the h1: hash.
 *
 * Every rule has a zip that breaks it, built here with libzip's writer (or
 * byte by byte where libzip refuses to write it: a NUL in a name, the same
 * name twice) into an unlinked temp file. The good zips are the test data of
 * test_dirhash.c, whose sums the go command computed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sumdb/dirhash.h"
#include "sumdb/zipcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

/* ---- helpers ------------------------------------------------------------ */

static const char *testdata_dir(void)
{
	static char dir[1024];
	const char *env = getenv("MODGATE_TESTDATA"), *slash = strrchr(__FILE__, '/');

	if (env)
		return env;
	snprintf(dir, sizeof(dir), "%.*stestdata", slash ? (int)(slash - __FILE__ + 1) : 0,
	         __FILE__);
	return dir;
}

static char *read_testdata(const char *name, size_t *len, int *fdp)
{
	char path[1200], *buf;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", testdata_dir(), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("open %s: %s (run from the repository root or set MODGATE_TESTDATA)", path,
		         strerror(errno));
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	if (fdp)
		*fdp = fd;
	else
		close(fd);
	return buf;
}

static int one_line(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* With MODGATE_TEST_DUMP=DIR, every zip checked here is saved there and
 * listed in DIR/index.txt as "file module version good|bad", so that Go's
 * zip.CheckZip can be run on the same bytes for comparison. */
static void dump(int fd, const char *module, const char *version, int good)
{
	const char *dir = getenv("MODGATE_TEST_DUMP");
	static int seq;
	char path[1200], buf[65536];
	off_t off = 0;
	ssize_t n;
	FILE *idx;
	int out;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%03d.zip", dir, ++seq);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		assert_int_equal(write(out, buf, (size_t)n), n);
		off += n;
	}
	close(out);
	snprintf(path, sizeof(path), "%s/index.txt", dir);
	idx = fopen(path, "a");
	assert_non_null(idx);
	fprintf(idx, "%03d.zip %s %s %s\n", seq, module, version, good ? "good" : "bad");
	fclose(idx);
}

struct zf {
	const char *name;
	const void *data;
	size_t len;
};

#define S(s) (s), sizeof(s) - 1

/* A zip written by libzip (deflated), as a read-write descriptor on an
 * unlinked temp file. */
static int libzip_zip(const struct zf *files, size_t n)
{
	char path[] = "/tmp/modgate-test-zipcheck.XXXXXX";
	int tfd = mkstemp(path), zerr = 0, fd;
	zip_t *z;
	size_t i;

	assert_true(tfd >= 0);
	close(tfd);
	z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
	assert_non_null(z);
	for (i = 0; i < n; i++) {
		zip_source_t *s = zip_source_buffer(z, files[i].data, files[i].len, 0);
		zip_int64_t idx;

		assert_non_null(s);
		idx = zip_file_add(z, files[i].name, s, ZIP_FL_ENC_GUESS);
		if (idx < 0) {
			zip_source_free(s);
			fail_msg("zip_file_add %s: %s", files[i].name, zip_strerror(z));
		}
	}
	if (zip_close(z) < 0)
		fail_msg("zip_close: %s", zip_strerror(z));
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

static uint32_t crc32_of(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t c = 0xffffffff;
	size_t i;
	int k;

	for (i = 0; i < len; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320 : c >> 1;
	}
	return ~c;
}

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t len)
{
	if (len == 0)
		return;
	if (b->len + len > b->cap) {
		b->cap = 2 * (b->len + len);
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void put16(struct buf *b, uint32_t v)
{
	unsigned char x[2] = {(unsigned char)v, (unsigned char)(v >> 8)};

	put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

/* A zip of stored entries built byte by byte; names are name_len bytes
 * (0: strlen), so they may hold NUL, and may repeat. */
static int raw_zip(const struct zf *e, const size_t *name_len, size_t n)
{
	char path[] = "/tmp/modgate-test-zipcheck.XXXXXX";
	struct buf b = {0}, cd = {0};
	uint32_t cdoff;
	size_t i;
	int fd;

	for (i = 0; i < n; i++) {
		size_t nlen = name_len && name_len[i] ? name_len[i] : strlen(e[i].name);
		uint32_t crc = crc32_of(e[i].data, e[i].len), off = (uint32_t)b.len;
		const uint32_t hdr[] = {20, 0, 0, 0, 0x21};
		size_t k;

		put32(&b, 0x04034b50);
		for (k = 0; k < 5; k++)
			put16(&b, hdr[k]);
		put32(&b, crc);
		put32(&b, (uint32_t)e[i].len);
		put32(&b, (uint32_t)e[i].len);
		put16(&b, (uint32_t)nlen);
		put16(&b, 0);
		put(&b, e[i].name, nlen);
		put(&b, e[i].data, e[i].len);
		put32(&cd, 0x02014b50);
		put16(&cd, 20);
		for (k = 0; k < 5; k++)
			put16(&cd, hdr[k]);
		put32(&cd, crc);
		put32(&cd, (uint32_t)e[i].len);
		put32(&cd, (uint32_t)e[i].len);
		put16(&cd, (uint32_t)nlen);
		for (k = 0; k < 4; k++)
			put16(&cd, 0);
		put32(&cd, 0);
		put32(&cd, off);
		put(&cd, e[i].name, nlen);
	}
	cdoff = (uint32_t)b.len;
	put(&b, cd.p, cd.len);
	put32(&b, 0x06054b50);
	put32(&b, 0);
	put16(&b, (uint32_t)n);
	put16(&b, (uint32_t)n);
	put32(&b, (uint32_t)cd.len);
	put32(&b, cdoff);
	put16(&b, 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, b.p, b.len), (ssize_t)b.len);
	free(b.p);
	free(cd.p);
	return fd;
}

/* Sets the declared uncompressed size of the entry named name. */
static void patch_usize(int fd, const char *name, uint32_t v)
{
	size_t nlen = strlen(name), i, found = 0, k;
	struct stat st;
	unsigned char *b;

	assert_int_equal(fstat(fd, &st), 0);
	b = malloc((size_t)st.st_size);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	for (i = 0; i + 46 + nlen <= (size_t)st.st_size; i++) {
		size_t at = 0;

		if (!memcmp(b + i, "PK\3\4", 4) && b[i + 26] == nlen && b[i + 27] == 0 &&
		    !memcmp(b + i + 30, name, nlen))
			at = i + 22;
		else if (!memcmp(b + i, "PK\1\2", 4) && b[i + 28] == nlen && b[i + 29] == 0 &&
		         !memcmp(b + i + 46, name, nlen))
			at = i + 24;
		if (!at)
			continue;
		for (k = 0; k < 4; k++)
			b[at + k] = (unsigned char)(v >> (8 * k));
		found++;
	}
	assert_int_equal(found, 2);
	assert_int_equal(pwrite(fd, b, (size_t)st.st_size, 0), st.st_size);
	free(b);
}

static const char gomod_m[] = "module example.com/m\n\ngo 1.21\n";

/* Checks a zip of module example.com/m@v1.0.0 served with gomod_m. */
static int check(int fd, char *err, size_t errlen)
{
	int rc = sumdb_zip_check_fd(fd, "example.com/m", "v1.0.0", S(gomod_m), err, errlen);

	dump(fd, "example.com/m", "v1.0.0", rc == 0);
	return rc;
}

#define expect_status(rc, want, err, needle)                                                       \
	do {                                                                                       \
		int rc_ = (rc);                                                                    \
		if (rc_ != (want))                                                                 \
			fail_msg("status %d, want %d (%s)", rc_, (want), (err));                   \
		if (!strstr((err), (needle)))                                                      \
			fail_msg("error %s: want it to mention %s", (err), (needle));              \
		if (!one_line(err))                                                                \
			fail_msg("error is not one printable line: %s", (err));                    \
	} while (0)

/* A zip of example.com/m@v1.0.0 holding go.mod and one more file named
 * "example.com/m@v1.0.0/" + rel, which must be refused with needle. */
static void expect_bad_name(const char *rel, const char *needle)
{
	char name[512], err[512] = "";
	const struct zf files[] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)},
	                           {name, S("package m\n")}};
	int fd;

	snprintf(name, sizeof(name), "example.com/m@v1.0.0/%s", rel);
	fd = libzip_zip(files, 2);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err, needle);
	close(fd);
}

/* The same for a zip of go.mod and the given files. */
static void expect_bad_zip(const struct zf *extra, size_t n, const char *needle)
{
	struct zf files[8] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)}};
	char err[512] = "";
	int fd;

	assert_true(n < 8);
	memcpy(files + 1, extra, n * sizeof(*extra));
	fd = libzip_zip(files, n + 1);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err, needle);
	close(fd);
}

static void expect_good_zip(const struct zf *files, size_t n)
{
	char err[512] = "";
	int fd = libzip_zip(files, n), rc = check(fd, err, sizeof(err));

	if (rc != 0)
		fail_msg("refused: %s", err);
	close(fd);
}

/* ---- module.CheckFilePath ------------------------------------------------- */

/* golang.org/x/mod module_test.go checkPathTests (path, fileOK), and more. */
static const struct {
	const char *path;
	int ok;
} file_paths[] = {
    {"x.y/z", 1},
    {"x.y", 1},
    {"", 0},
    {"x.y/\377z", 0},
    {"/x.y/z", 0},
    {"x./z", 0},
    {".x/z", 1},
    {"-x/z", 1},
    {"x..y/z", 1},
    {"x.y/z/../../w", 0},
    {"x.y//z", 0},
    {"x.y/z//w", 0},
    {"x.y/z/", 0},
    {"x.y/z/v0", 1},
    {"x.y/z/v1", 1},
    {"x.y/z/v2", 1},
    {"x.y/z/v2.0", 1},
    {"X.y/z", 1},
    {"!x.y/z", 1},
    {"_x.y/z", 1},
    {"x.y!/z", 1},
    {"x.y\"/z", 0},
    {"x.y#/z", 1},
    {"x.y$/z", 1},
    {"x.y%/z", 1},
    {"x.y&/z", 1},
    {"x.y'/z", 0},
    {"x.y(/z", 1},
    {"x.y)/z", 1},
    {"x.y*/z", 0},
    {"x.y+/z", 1},
    {"x.y,/z", 1},
    {"x.y-/z", 1},
    {"x.y./zt", 0},
    {"x.y:/z", 0},
    {"x.y;/z", 0},
    {"x.y</z", 0},
    {"x.y=/z", 1},
    {"x.y>/z", 0},
    {"x.y?/z", 0},
    {"x.y@/z", 1},
    {"x.y[/z", 1},
    {"x.y\\/z", 0},
    {"x.y]/z", 1},
    {"x.y^/z", 1},
    {"x.y_/z", 1},
    {"x.y`/z", 0},
    {"x.y{/z", 1},
    {"x.y}/z", 1},
    {"x.y~/z", 1},
    {"x.y/z!", 1},
    {"x.y/z\"", 0},
    {"x.y/z#", 1},
    {"x.y/z$", 1},
    {"x.y/z%", 1},
    {"x.y/z&", 1},
    {"x.y/z'", 0},
    {"x.y/z(", 1},
    {"x.y/z)", 1},
    {"x.y/z*", 0},
    {"x.y/z++", 1},
    {"x.y/z,", 1},
    {"x.y/z-", 1},
    {"x.y/z.t", 1},
    {"x.y/z/t", 1},
    {"x.y/z:", 0},
    {"x.y/z;", 0},
    {"x.y/z<", 0},
    {"x.y/z=", 1},
    {"x.y/z>", 0},
    {"x.y/z?", 0},
    {"x.y/z@", 1},
    {"x.y/z[", 1},
    {"x.y/z\\", 0},
    {"x.y/z]", 1},
    {"x.y/z^", 1},
    {"x.y/z_", 1},
    {"x.y/z`", 0},
    {"x.y/z{", 1},
    {"x.y/z}", 1},
    {"x.y/z~", 1},
    {"x.y/x.foo", 1},
    {"x.y/aux.foo", 0},
    {"x.y/prn", 0},
    {"x.y/prn2", 1},
    {"x.y/com", 1},
    {"x.y/com1", 0},
    {"x.y/com1.txt", 0},
    {"x.y/calm1", 1},
    {"x.y/z~", 1},
    {"x.y/z~0", 1},
    {"x.y/z~09", 1},
    {"x.y/z09", 1},
    {"x.y/z09~", 1},
    {"x.y/z09~09z", 1},
    {"x.y/z09~09z~09", 1},
    {"github.com/!123/logrus", 1},
    {"github.com/user/unicode/"
     "\320\270\321\201\320\277\321\213\321\202\320\260\320\275\320\270\320\265",
     1},
    {"../x", 0},
    {"./y", 0},
    {"x:y", 0},
    {"\\temp\\foo", 0},
    {".gitignore", 1},
    {".github/ISSUE_TEMPLATE", 1},
    {"x\342\230\272y", 0},
    /* Unicode letters are allowed, other non-ASCII runes are not. */
    {"\303\251t\303\251.go", 1},              /* été.go */
    {"\320\224/\346\274\242\345\255\227", 1}, /* Д/漢字 */
    {"a\302\240b", 0},                        /* no-break space */
    {"a\342\200\213b", 0},                    /* zero width space */
    {"\360\235\224\270", 1},                  /* U+1D538, a letter above the BMP */
    {"\360\237\230\200", 0},                  /* U+1F600, not a letter */
    {"a\355\240\200", 0},                     /* a surrogate: invalid UTF-8 */
    {"a\300\257", 0},                         /* overlong "/" */
    {"a\364\220\200\200", 0},                 /* above U+10FFFF */
    {"a\001b", 0},
    {"a\177b", 0},
    {"a\tb", 0},
    {"nul.txt", 0},
    {"NUL", 0},
    {"Nul.tar.gz", 0},
    {"nul2", 1},
    {"dir/COM9/x", 0},
    {"lpt1", 0},
    {"...", 0},
    {"a/.../b", 0},
    {".a", 1},
    {"a..b", 1},
    {"a.", 0},
    {"a b/c d", 1},
    {"!#$%&()+,-.=@[]^_{}~ ", 1},
    {"\342\204\252", 1}, /* KELVIN SIGN, a letter */
};

static void test_check_file_path_table(void **state)
{
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(file_paths) / sizeof(file_paths[0]); i++) {
		int rc = sumdb_check_file_path(file_paths[i].path, strlen(file_paths[i].path), err,
		                               sizeof(err));

		if (file_paths[i].ok && rc != 0)
			fail_msg("CheckFilePath(%s) refused: %s", file_paths[i].path, err);
		if (!file_paths[i].ok && rc != SUMDB_ZIP_INVALID)
			fail_msg("CheckFilePath(%s) accepted", file_paths[i].path);
		if (rc && !one_line(err))
			fail_msg("error is not one line: %s", err);
	}
	/* Length-delimited: a NUL is a byte to refuse. */
	assert_int_equal(sumdb_check_file_path("a\0b", 3, err, sizeof(err)), SUMDB_ZIP_INVALID);
	assert_string_equal(err, "malformed file path \"a\\x00b\": invalid char '\\x00'");
	assert_int_equal(sumdb_check_file_path("ab", 2, err, sizeof(err)), 0);
}

static void test_check_file_path_messages(void **state)
{
	static const struct {
		const char *path, *msg;
	} m[] = {
	    {"", "malformed file path \"\": empty string"},
	    {"a//b", "malformed file path \"a//b\": double slash"},
	    {"a/", "malformed file path \"a/\": trailing slash"},
	    {"/a", "malformed file path \"/a\": empty path element"},
	    {"a/../b", "malformed file path \"a/../b\": invalid path element \"..\""},
	    {"a.", "malformed file path \"a.\": trailing dot in path element"},
	    {"a\\b", "malformed file path \"a\\\\b\": invalid char '\\\\'"},
	    {"a:b", "malformed file path \"a:b\": invalid char ':'"},
	    {"x/com1.txt",
	     "malformed file path \"x/com1.txt\": \"com1\" disallowed as path element component "
	     "on Windows"},
	    {"\377", "malformed file path \"\\xff\": invalid UTF-8"},
	    {"a\342\230\272", "malformed file path \"a\\xe2\\x98\\xba\": invalid char U+263A"},
	};
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		assert_int_equal(
		    sumdb_check_file_path(m[i].path, strlen(m[i].path), err, sizeof(err)),
		    SUMDB_ZIP_INVALID);
		assert_string_equal(err, m[i].msg);
	}
}

/* ---- good zips ------------------------------------------------------------ */

static const struct {
	const char *stem, *module, *version, *sum;
} vectors[] = {
    {"rsc.io_quote@v1.5.2", "rsc.io/quote", "v1.5.2",
     "h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y="},
    {"github.com_pkg_errors@v0.9.1", "github.com/pkg/errors", "v0.9.1",
     "h1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4="},
    {"gopkg.in_yaml.v2@v2.4.0", "gopkg.in/yaml.v2", "v2.4.0",
     "h1:D8xgwECY7CYvx+Y2n4sBz93Jn9JRvxdiyyo8CTfuKaY="},
    {"golang.org_x_mod@v0.20.0", "golang.org/x/mod", "v0.20.0",
     "h1:utOm6MM3R3dnawAiJgn0y+xvuYRsm1RKM/4giyfDgV0="},
    {"example.com_fix_a@v1.1.0", "example.com/fix/a", "v1.1.0",
     "h1:oOM4ZOalvwrDho9t7VeAzVGXnPIA9Yn/vmRcPvvNOH0="},
    {"example.com_fix_Upper@v0.1.0", "example.com/fix/Upper", "v0.1.0",
     "h1:zq27T7gfx213RwxGil07Ok9lglzauov7Wa74sZlMESU="},
    {"example.com_fix_v2mod_v2@v2.0.0", "example.com/fix/v2mod/v2", "v2.0.0",
     "h1:X5uRWejypkY6RL/HBHhFp0WjvwyUiP/HfltzXdwQDYs="},
    {"example.com_gen_edge@v1.0.0", "example.com/gen/edge", "v1.0.0",
     "h1:f2J4Ho9y3XIFwVKqcrVtdkp/AjYUAtmwUxwb/ULDpaY="},
    {"example.com_gen_dirs@v1.0.0", "example.com/gen/dirs", "v1.0.0",
     "h1:HMm3nvrHWI8hJZiALOovB4mYnqZtmzPWsgzGhgDTcPk="},
    {"example.com_gen_nogomod@v1.0.0", "example.com/gen/nogomod", "v1.0.0",
     "h1:HtlB5G5y78VXtd0BM/m+ggbBJ6nJinMUV4OYbDDSI8k="},
};

/* Every good zip passes every rule with its served .mod, in one call that
 * also returns the go command's Sum; the same zip under another module or
 * version, or with another .mod, does not. */
static void test_good_zips(void **state)
{
	char name[256], err[512], h1[SUMDB_H1_LEN + 1], other[16];
	size_t i, zlen, mlen;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		char *mod, *zip;
		int fd, rc;

		snprintf(name, sizeof(name), "%s.mod", vectors[i].stem);
		mod = read_testdata(name, &mlen, NULL);
		snprintf(name, sizeof(name), "%s.zip", vectors[i].stem);
		zip = read_testdata(name, &zlen, &fd);
		rc = sumdb_zip_check_hash_fd(fd, vectors[i].module, vectors[i].version, mod, mlen,
		                             h1, err, sizeof(err));
		if (rc != 0)
			fail_msg("%s: refused: %s", name, err);
		assert_string_equal(h1, vectors[i].sum);
		assert_int_equal(sumdb_zip_check_fd(fd, vectors[i].module, vectors[i].version, mod,
		                                    mlen, err, sizeof(err)),
		                 0);
		/* The .mod comparison may be skipped. */
		assert_int_equal(sumdb_zip_check_fd(fd, vectors[i].module, vectors[i].version, NULL,
		                                    0, err, sizeof(err)),
		                 0);
		/* Same major version, other version: the names do not match. */
		snprintf(other, sizeof(other), "%.2s.99.0", vectors[i].version);
		expect_status(sumdb_zip_check_hash_fd(fd, vectors[i].module, other, mod, mlen, h1,
		                                      err, sizeof(err)),
		              SUMDB_ZIP_INVALID, err, "does not have prefix");
		assert_string_equal(h1, "");
		expect_status(sumdb_zip_check_fd(fd, "example.com/other", "v1.0.0", mod, mlen, err,
		                                 sizeof(err)),
		              SUMDB_ZIP_INVALID, err, "does not have prefix");
		mod[mlen - 1] ^= 1;
		expect_status(sumdb_zip_check_fd(fd, vectors[i].module, vectors[i].version, mod,
		                                 mlen, err, sizeof(err)),
		              SUMDB_ZIP_INVALID, err, "go.mod");
		close(fd);
		free(mod);
		free(zip);
	}
}

/* ---- names ---------------------------------------------------------------- */

static void test_prefix(void **state)
{
	const struct zf upper[] = {{"Example.com/m@v1.0.0/a.go", S("package m\n")}};
	const struct zf version[] = {{"example.com/m@v1.0.1/a.go", S("package m\n")}};
	const struct zf noslash[] = {{"example.com/m@v1.0.0a.go", S("package m\n")}};
	const struct zf bare[] = {{"a.go", S("package m\n")}};
	const struct zf abs[] = {{"/example.com/m@v1.0.0/a.go", S("package m\n")}};
	const struct zf root[] = {{"example.com/m@v1.0.0/", NULL, 0},
	                          {"example.com/m@v1.0.0/go.mod", S(gomod_m)}};

	(void)state;
	expect_bad_zip(upper, 1,
	               "\"Example.com/m@v1.0.0/a.go\": path does not have prefix "
	               "\"example.com/m@v1.0.0/\"");
	expect_bad_zip(version, 1, "does not have prefix");
	expect_bad_zip(noslash, 1, "does not have prefix");
	expect_bad_zip(bare, 1, "does not have prefix");
	expect_bad_zip(abs, 1, "does not have prefix");
	/* The prefix alone, as a directory entry, is allowed. */
	expect_good_zip(root, 2);
}

static void test_unclean_and_traversal(void **state)
{
	(void)state;
	expect_bad_name("a//b.go", "file path is not clean");
	expect_bad_name("./a.go", "file path is not clean");
	expect_bad_name("a/./b.go", "file path is not clean");
	expect_bad_name("a/../b.go", "file path is not clean");
	expect_bad_name("../a.go", "invalid path element \"..\"");
	expect_bad_name("../../etc/passwd", "invalid path element");
	expect_bad_name("..", "invalid path element");
	expect_bad_name("/etc/passwd", "empty path element"); /* path.Clean keeps it */
	expect_bad_name("a/b/..", "file path is not clean");
	expect_bad_name(".", "invalid path element");
}

static void test_bad_chars(void **state)
{
	static const char *const bad[] = {
	    "a\\b.go", "c:\\x.go", "a:b", "a*b", "a?b",    "a<b",    "a>b",  "a\"b",
	    "a'b",     "a`b",      "a|b", "a;b", "a\001b", "a\177b", "a\tb",
	};
	const struct zf nul[] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)},
	                         {"example.com/m@v1.0.0/a\0b.go", S("package m\n")}};
	const size_t nul_len[] = {0, sizeof("example.com/m@v1.0.0/a\0b.go") - 1};
	char err[512] = "";
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_bad_name(bad[i], "invalid char");
	expect_bad_name("\377.go", "invalid UTF-8");
	expect_bad_name("a\355\240\200.go", "invalid UTF-8");
	expect_bad_name("a\302\240.go", "invalid char U+00A0");
	/* libzip would read this name as "a b.go": the check sees the NUL. */
	fd = raw_zip(nul, nul_len, 2);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "\"example.com/m@v1.0.0/a\\x00b.go\": malformed file path "
	              "\"a\\x00b.go\": invalid char '\\x00'");
	close(fd);
}

static void test_windows_names(void **state)
{
	(void)state;
	expect_bad_name("CON", "\"CON\" disallowed as path element component on Windows");
	expect_bad_name("con.go", "disallowed as path element component on Windows");
	expect_bad_name("dir/Aux/x.go", "disallowed");
	expect_bad_name("com1.tar.gz", "disallowed");
	expect_bad_name("LPT9", "disallowed");
	expect_bad_name("prn", "disallowed");
	expect_bad_name("a.", "trailing dot in path element");
	expect_bad_name("...", "invalid path element");
}

static void test_collisions(void **state)
{
	const struct zf ascii[] = {{"example.com/m@v1.0.0/README", S("a")},
	                           {"example.com/m@v1.0.0/readme", S("b")}};
	/* U+212A KELVIN SIGN folds to k. */
	const struct zf kelvin[] = {{"example.com/m@v1.0.0/k.go", S("a")},
	                            {"example.com/m@v1.0.0/\342\204\252.go", S("b")}};
	/* Final sigma and sigma share an orbit with capital sigma. */
	const struct zf sigma[] = {{"example.com/m@v1.0.0/\317\203.go", S("a")},
	                           {"example.com/m@v1.0.0/\317\202.go", S("b")}};
	/* U+1E9E CAPITAL SHARP S folds to U+00DF. */
	const struct zf sharp[] = {{"example.com/m@v1.0.0/\303\237", S("a")},
	                           {"example.com/m@v1.0.0/\341\272\236", S("b")}};
	/* A directory spelled two ways. */
	const struct zf dirs[] = {{"example.com/m@v1.0.0/Dir/a.go", S("a")},
	                          {"example.com/m@v1.0.0/dir/b.go", S("b")}};
	const struct zf file_dir[] = {{"example.com/m@v1.0.0/x", S("a")},
	                              {"example.com/m@v1.0.0/x/y.go", S("b")}};
	const struct zf dir_file[] = {{"example.com/m@v1.0.0/x/y.go", S("a")},
	                              {"example.com/m@v1.0.0/x", S("b")}};
	const struct zf direntry_file[] = {{"example.com/m@v1.0.0/x/", NULL, 0},
	                                   {"example.com/m@v1.0.0/x", S("b")}};
	const struct zf dup[] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)},
	                         {"example.com/m@v1.0.0/a.go", S("one")},
	                         {"example.com/m@v1.0.0/a.go", S("two")}};
	/* Accepted: a directory named by many files and by its own entry;
	 * names that differ only outside letters. */
	const struct zf fine[] = {
	    {"example.com/m@v1.0.0/go.mod", S(gomod_m)}, {"example.com/m@v1.0.0/d/", NULL, 0},
	    {"example.com/m@v1.0.0/d/a.go", S("a")},     {"example.com/m@v1.0.0/d/e/", NULL, 0},
	    {"example.com/m@v1.0.0/d/e/b.go", S("b")},   {"example.com/m@v1.0.0/d/b.go", S("b")},
	    {"example.com/m@v1.0.0/d/b_go", S("b")}};
	char err[512] = "";
	int fd;

	(void)state;
	expect_bad_zip(ascii, 2,
	               "case-insensitive file name collision: \"README\" and "
	               "\"readme\"");
	expect_bad_zip(kelvin, 2, "case-insensitive file name collision");
	expect_bad_zip(sigma, 2, "case-insensitive file name collision");
	expect_bad_zip(sharp, 2, "case-insensitive file name collision");
	expect_bad_zip(dirs, 2, "case-insensitive file name collision: \"Dir\" and \"dir\"");
	expect_bad_zip(file_dir, 2, "entry \"x\" is both a file and a directory");
	expect_bad_zip(dir_file, 2, "entry \"x\" is both a file and a directory");
	expect_bad_zip(direntry_file, 2, "is both a file and a directory");
	/* libzip will not write a name twice. */
	fd = raw_zip(dup, NULL, 3);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "multiple entries for file \"a.go\"");
	close(fd);
	expect_good_zip(fine, 7);
}

/* Deep nesting: every parent is checked, once. */
static void test_deep_paths(void **state)
{
	size_t depth = 3000, i;
	char *deep = malloc(20 + 2 * depth + 8), *deep2 = malloc(20 + 2 * depth + 8), *p;
	struct zf files[3] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)}};
	char err[512] = "";
	int fd;

	(void)state;
	assert_non_null(deep);
	assert_non_null(deep2);
	p = deep + sprintf(deep, "example.com/m@v1.0.0/");
	for (i = 0; i < depth; i++)
		p += sprintf(p, "d/");
	strcpy(p, "x.go");
	strcpy(deep2, deep);
	deep2[strlen(deep2) - 4] = 'y';
	files[1] = (struct zf){deep, S("a")};
	files[2] = (struct zf){deep2, S("b")};
	expect_good_zip(files, 3);
	/* The same depth with one parent spelled differently. */
	deep2[21 + 2 * 1500] = 'D';
	fd = libzip_zip(files, 3);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "case-insensitive file name collision");
	close(fd);
	free(deep);
	free(deep2);
}

/* ---- go.mod ---------------------------------------------------------------- */

static void test_gomod_rules(void **state)
{
	const struct zf sub[] = {
	    {"example.com/m@v1.0.0/sub/go.mod", S("module example.com/m/sub\n")}};
	const struct zf upper[] = {{"example.com/m@v1.0.0/GO.MOD", S(gomod_m)}};
	const struct zf upper_sub[] = {{"example.com/m@v1.0.0/sub/Go.mod", S(gomod_m)}};
	const struct zf no_gomod[] = {{"example.com/m@v1.0.0/a.go", S("package m\n")}};
	const struct zf other_gomod[] = {
	    {"example.com/m@v1.0.0/go.mod", S("module example.com/m\n\ngo 1.22\n")}};
	char err[512] = "";
	int fd;

	(void)state;
	fd = libzip_zip(sub, 1);
	expect_status(
	    check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	    "\"example.com/m@v1.0.0/sub/go.mod\": go.mod file not in module root directory");
	close(fd);
	fd = libzip_zip(upper, 1);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "go.mod files must have lowercase names");
	close(fd);
	fd = libzip_zip(upper_sub, 1);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "go.mod file not in module root directory");
	close(fd);

	/* The go.mod in the zip is the served .mod, byte for byte. */
	fd = libzip_zip(other_gomod, 1);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "go.mod in the zip differs from the served .mod");
	assert_int_equal(sumdb_zip_check_fd(fd, "example.com/m", "v1.0.0",
	                                    S("module example.com/m\n\ngo 1.22\n"), err,
	                                    sizeof(err)),
	                 0);
	/* A prefix of it is not it. */
	expect_status(sumdb_zip_check_fd(fd, "example.com/m", "v1.0.0",
	                                 S("module example.com/m\n\ngo 1.22"), err, sizeof(err)),
	              SUMDB_ZIP_INVALID, err, "differs");
	close(fd);

	/* No go.mod in the zip: the .mod must be the synthesized one. */
	fd = libzip_zip(no_gomod, 1);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "zip has no go.mod, and the served .mod is not \"module example.com/m\\n\"");
	assert_int_equal(sumdb_zip_check_fd(fd, "example.com/m", "v1.0.0",
	                                    S("module example.com/m\n"), err, sizeof(err)),
	                 0);
	expect_status(sumdb_zip_check_fd(fd, "example.com/m", "v1.0.0", S("module example.com/m"),
	                                 err, sizeof(err)),
	              SUMDB_ZIP_INVALID, err, "no go.mod");
	close(fd);
}

/* ---- sizes ------------------------------------------------------------------ */

static void test_size_rules(void **state)
{
	size_t max = SUMDB_ZIP_MAX_GOMOD;
	char *zeros = calloc(1, max + 1), err[512] = "";
	const struct zf gomod_big[] = {{"example.com/m@v1.0.0/go.mod", zeros, max + 1}};
	const struct zf license_big[] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)},
	                                 {"example.com/m@v1.0.0/LICENSE", zeros, max + 1}};
	const struct zf license_max[] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)},
	                                 {"example.com/m@v1.0.0/LICENSE", zeros, max}};
	const struct zf sub_license[] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)},
	                                 {"example.com/m@v1.0.0/sub/LICENSE", zeros, max + 1},
	                                 {"example.com/m@v1.0.0/license", S("x")}};
	int fd;

	(void)state;
	assert_non_null(zeros);
	fd = libzip_zip(gomod_big, 1);
	expect_status(sumdb_zip_check_fd(fd, "example.com/m", "v1.0.0", NULL, 0, err, sizeof(err)),
	              SUMDB_ZIP_INVALID, err, "go.mod file too large (max size is 16777216 bytes)");
	close(fd);
	fd = libzip_zip(license_big, 2);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "LICENSE file too large (max size is 16777216 bytes)");
	close(fd);
	expect_good_zip(license_max, 2);
	/* Only the module root's LICENSE is limited (and "license" is another
	 * file, though it folds like "LICENSE": no collision without one). */
	expect_good_zip(sub_license, 3);
	free(zeros);
}

/* A go.mod that says it is 30 bytes and inflates to 64 MiB: the lie is
 * caught after 31 bytes, whatever the declared sizes promised. */
static void test_gomod_bomb(void **state)
{
	size_t big = 64u << 20;
	char *bomb = calloc(1, big), err[512] = "";
	const struct zf files[] = {{"example.com/m@v1.0.0/go.mod", bomb, big}};
	int fd;

	(void)state;
	assert_non_null(bomb);
	memcpy(bomb, gomod_m, sizeof(gomod_m) - 1);
	fd = libzip_zip(files, 1);
	patch_usize(fd, "example.com/m@v1.0.0/go.mod", sizeof(gomod_m) - 1);
	expect_status(check(fd, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	              "larger than declared size (30 bytes)");
	close(fd);
	free(bomb);
}

/* ---- module path and version ------------------------------------------------ */

static void test_major_version(void **state)
{
	const struct zf v2[] = {{"example.com/m/v2@v1.0.0/go.mod", S("module example.com/m/v2\n")}};
	const struct zf incompat[] = {{"example.com/m@v2.0.0+incompatible/a.go", S("package m\n")}};
	const struct zf gopkg[] = {{"gopkg.in/x.v1@v1.0.0/x.go", S("package x\n")}};
	char err[512] = "";
	int fd;

	(void)state;
	fd = libzip_zip(v2, 1);
	expect_status(
	    sumdb_zip_check_fd(fd, "example.com/m/v2", "v1.0.0", NULL, 0, err, sizeof(err)),
	    SUMDB_ZIP_ERROR, err, "example.com/m/v2@v1.0.0: invalid version: should be v2, not v1");
	close(fd);
	fd = libzip_zip(incompat, 1);
	assert_int_equal(sumdb_zip_check_fd(fd, "example.com/m", "v2.0.0+incompatible",
	                                    S("module example.com/m\n"), err, sizeof(err)),
	                 0);
	expect_status(sumdb_zip_check_fd(fd, "example.com/m", "v2.0.0", NULL, 0, err, sizeof(err)),
	              SUMDB_ZIP_ERROR, err, "should be v0 or v1, not v2");
	close(fd);
	fd = libzip_zip(gopkg, 1);
	assert_int_equal(
	    sumdb_zip_check_fd(fd, "gopkg.in/x.v1", "v1.0.0", NULL, 0, err, sizeof(err)), 0);
	expect_status(sumdb_zip_check_fd(fd, "gopkg.in/x.v1", "v2.0.0", NULL, 0, err, sizeof(err)),
	              SUMDB_ZIP_ERROR, err, "should be v1, not v2");
	close(fd);
}

static void test_bad_arguments(void **state)
{
	const struct zf files[] = {{"example.com/m@v1.0.0/go.mod", S(gomod_m)}};
	char err[512] = "", h1[SUMDB_H1_LEN + 1];
	int fd = libzip_zip(files, 1);

	(void)state;
	expect_status(sumdb_zip_check_hash_fd(fd, NULL, "v1.0.0", NULL, 0, h1, err, sizeof(err)),
	              SUMDB_ZIP_ERROR, err, "no module path");
	assert_string_equal(h1, "");
	expect_status(sumdb_zip_check_fd(fd, "", "v1.0.0", NULL, 0, err, sizeof(err)),
	              SUMDB_ZIP_ERROR, err, "bad module path or version");
	expect_status(sumdb_zip_check_fd(fd, "example.com/m", "", NULL, 0, err, sizeof(err)),
	              SUMDB_ZIP_ERROR, err, "bad module path or version");
	expect_status(
	    sumdb_zip_check_fd(fd, "example.com/m@v1.0.0", "v1.0.0", NULL, 0, err, sizeof(err)),
	    SUMDB_ZIP_ERROR, err, "bad module path or version");
	expect_status(sumdb_zip_check_fd(-1, "example.com/m", "v1.0.0", NULL, 0, err, sizeof(err)),
	              SUMDB_ZIP_ERROR, err, "stat");
	/* err may be NULL. */
	assert_int_equal(sumdb_zip_check_fd(fd, "", "v1.0.0", NULL, 0, NULL, 0), SUMDB_ZIP_ERROR);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_file_path_table),
	    cmocka_unit_test(test_check_file_path_messages),
	    cmocka_unit_test(test_good_zips),
	    cmocka_unit_test(test_prefix),
	    cmocka_unit_test(test_unclean_and_traversal),
	    cmocka_unit_test(test_bad_chars),
	    cmocka_unit_test(test_windows_names),
	    cmocka_unit_test(test_collisions),
	    cmocka_unit_test(test_deep_paths),
	    cmocka_unit_test(test_gomod_rules),
	    cmocka_unit_test(test_size_rules),
	    cmocka_unit_test(test_gomod_bomb),
	    cmocka_unit_test(test_major_version),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests_name("zipcheck", tests, NULL, NULL);
}
