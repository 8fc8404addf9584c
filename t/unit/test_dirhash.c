/*
 * Unit tests for sumdb/dirhash: h1: hashes of go.mod files and module zips.
 *
 * Expected hashes come from the go command itself (`go mod download -json`
 * prints Sum and GoModSum): for real modules from the module proxy, for the
 * fixture upstream's modules, and for the generated modules of
 * t/unit/testdata/gen_vectors.go. The zips the tests craft byte by byte (names
 * libzip reads differently from Go) were hashed with Go's dirhash.HashZip:
 * run the test with MODGATE_TEST_DUMP=DIR to get them as files.
 *
 * Test data is looked up in $MODGATE_TESTDATA, else next to this file
 * (t/unit/testdata when run from the repository root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sumdb/dirhash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
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

static int open_testdata(const char *name)
{
	char path[1200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", testdata_dir(), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("open %s: %s (run from the repository root or set MODGATE_TESTDATA)", path,
		         strerror(errno));
	return fd;
}

static char *read_testdata(const char *name, size_t *len)
{
	int fd = open_testdata(name);
	struct stat st;
	char *buf;

	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
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

#define expect_fail(rc, want, err, needle)                                                         \
	do {                                                                                       \
		int rc_ = (rc);                                                                    \
		if (rc_ != (want))                                                                 \
			fail_msg("status %d, want %d (%s)", rc_, (want), (err));                   \
		if (!strstr((err), (needle)))                                                      \
			fail_msg("error %s: want it to mention %s", (err), (needle));              \
		if (!one_line(err))                                                                \
			fail_msg("error is not one printable line: %s", (err));                    \
	} while (0)

/* Saves a crafted zip under $MODGATE_TEST_DUMP, to hash it with Go. */
static void dump(int fd, const char *name)
{
	const char *dir = getenv("MODGATE_TEST_DUMP");
	char path[1200], buf[65536];
	ssize_t n;
	off_t off = 0;
	int out;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		assert_int_equal(write(out, buf, (size_t)n), n);
		off += n;
	}
	close(out);
}

struct zf {
	const char *name;
	const void *data;
	size_t len;
	int store;
};

/* A zip written by libzip, as a read-write descriptor on an unlinked file. */
static int libzip_zip(const struct zf *files, size_t n)
{
	char path[] = "/tmp/modgate-test-dirhash.XXXXXX";
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
		assert_int_equal(
		    zip_set_file_compression(z, (zip_uint64_t)idx,
		                             files[i].store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0),
		    0);
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

/* An entry of a zip built byte by byte: stored, no compression. */
struct raw {
	const char *name;
	size_t name_len; /* 0: strlen(name) */
	const char *data;
	uint16_t flags;
	const unsigned char *extra;
	size_t extra_len;
	int bad_crc;        /* wrong CRC-32 in the headers */
	int bad_descriptor; /* with flag 0x8: wrong CRC-32 in the data descriptor */
};

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

static int bytes_fd(const void *data, size_t len)
{
	char path[] = "/tmp/modgate-test-dirhash.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

static int raw_zip(const struct raw *e, size_t n)
{
	struct buf b = {0}, cd = {0};
	size_t i;
	int fd;

	for (i = 0; i < n; i++) {
		size_t nlen = e[i].name_len ? e[i].name_len : strlen(e[i].name);
		size_t dlen = strlen(e[i].data);
		uint32_t crc = crc32_of(e[i].data, dlen) ^ (e[i].bad_crc ? 1 : 0);
		uint32_t off = (uint32_t)b.len;
		int desc = e[i].flags & 0x8;

		put32(&b, 0x04034b50);
		put16(&b, 20);
		put16(&b, e[i].flags);
		put16(&b, 0);
		put16(&b, 0);
		put16(&b, 0x21);
		put32(&b, desc ? 0 : crc);
		put32(&b, desc ? 0 : (uint32_t)dlen);
		put32(&b, desc ? 0 : (uint32_t)dlen);
		put16(&b, (uint32_t)nlen);
		put16(&b, (uint32_t)e[i].extra_len);
		put(&b, e[i].name, nlen);
		put(&b, e[i].extra, e[i].extra_len);
		put(&b, e[i].data, dlen);
		if (desc) {
			put32(&b, 0x08074b50);
			put32(&b, crc ^ (e[i].bad_descriptor ? 1 : 0));
			put32(&b, (uint32_t)dlen);
			put32(&b, (uint32_t)dlen);
		}
		put32(&cd, 0x02014b50);
		put16(&cd, 20);
		put16(&cd, 20);
		put16(&cd, e[i].flags);
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0x21);
		put32(&cd, crc);
		put32(&cd, (uint32_t)dlen);
		put32(&cd, (uint32_t)dlen);
		put16(&cd, (uint32_t)nlen);
		put16(&cd, (uint32_t)e[i].extra_len);
		put16(&cd, 0);
		put16(&cd, 0);
		put16(&cd, 0);
		put32(&cd, 0);
		put32(&cd, off);
		put(&cd, e[i].name, nlen);
		put(&cd, e[i].extra, e[i].extra_len);
	}
	{
		uint32_t cdoff = (uint32_t)b.len;

		put(&b, cd.p, cd.len);
		put32(&b, 0x06054b50);
		put16(&b, 0);
		put16(&b, 0);
		put16(&b, (uint32_t)n);
		put16(&b, (uint32_t)n);
		put32(&b, (uint32_t)cd.len);
		put32(&b, cdoff);
		put16(&b, 0);
	}
	fd = bytes_fd(b.p, b.len);
	free(b.p);
	free(cd.p);
	return fd;
}

enum field { P_FLAGS, P_METHOD, P_CRC, P_CSIZE, P_USIZE };

/* Sets a field of the entry named name in its local and central headers. */
static void patch(int fd, const char *name, enum field f, uint32_t v)
{
	static const size_t loc[] = {6, 8, 14, 18, 22}, cen[] = {8, 10, 16, 20, 24};
	size_t nlen = strlen(name), i, found = 0, w = f <= P_METHOD ? 2 : 4, k;
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
			at = i + loc[f];
		else if (!memcmp(b + i, "PK\1\2", 4) && b[i + 28] == nlen && b[i + 29] == 0 &&
		         !memcmp(b + i + 46, name, nlen))
			at = i + cen[f];
		if (!at)
			continue;
		for (k = 0; k < w; k++)
			b[at + k] = (unsigned char)(v >> (8 * k));
		found++;
	}
	assert_int_equal(found, 2);
	assert_int_equal(pwrite(fd, b, (size_t)st.st_size, 0), st.st_size);
	free(b);
}

static void expect_zip_hash(int fd, const char *want)
{
	char h1[SUMDB_H1_LEN + 1], err[256] = "";
	int rc = sumdb_hash_zip_fd(fd, h1, err, sizeof(err));

	if (rc != 0)
		fail_msg("sumdb_hash_zip_fd: %d %s", rc, err);
	assert_int_equal(strlen(h1), SUMDB_H1_LEN);
	assert_string_equal(h1, want);
}

/* ---- go.mod ------------------------------------------------------------- */

static void test_gomod_protocol_vectors(void **state)
{
	char h1[SUMDB_H1_LEN + 1], err[128];

	(void)state;
	assert_int_equal(sumdb_hash_gomod(NULL, 0, h1, err, sizeof(err)), 0);
	assert_string_equal(h1, "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY=");
	assert_int_equal(sumdb_hash_gomod("module example.com/m\n", 21, h1, err, sizeof(err)), 0);
	assert_string_equal(h1, "h1:flS2VctbRrTv+sBE+VKgxx6hlkMGPVz9MGOmzMYFg3k=");
	/* One byte less is another hash. */
	assert_int_equal(sumdb_hash_gomod("module example.com/m", 20, h1, err, sizeof(err)), 0);
	assert_string_not_equal(h1, "h1:flS2VctbRrTv+sBE+VKgxx6hlkMGPVz9MGOmzMYFg3k=");
}

/* Test data: file stem, Sum and GoModSum printed by `go mod download -json`. */
static const struct vector {
	const char *stem, *module, *version, *sum, *gomodsum;
} vectors[] = {
    /* Real modules from the module proxy. */
    {"rsc.io_quote@v1.5.2", "rsc.io/quote", "v1.5.2",
     "h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=",
     "h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0="},
    {"github.com_pkg_errors@v0.9.1", "github.com/pkg/errors", "v0.9.1",
     "h1:FEBLx1zS214owpjy7qsBeixbURkuhQAwrK5UwLGTwt4=",
     "h1:bwawxfHBFNV+L2hUp1rHADufV3IMtnDRdf1r5NINEl0="},
    {"gopkg.in_yaml.v2@v2.4.0", "gopkg.in/yaml.v2", "v2.4.0",
     "h1:D8xgwECY7CYvx+Y2n4sBz93Jn9JRvxdiyyo8CTfuKaY=",
     "h1:RDklbk79AGWmwhnvt/jBztapEOGDOx6ZbXqjP6csGnQ="},
    {"golang.org_x_mod@v0.20.0", "golang.org/x/mod", "v0.20.0",
     "h1:utOm6MM3R3dnawAiJgn0y+xvuYRsm1RKM/4giyfDgV0=",
     "h1:hTbmBsO62+eylJbnUtE2MGJUyE7QWk4xUqPFrRgJ+7c="},
    /* The fixture upstream (t/fixtures/upstream). */
    {"example.com_fix_a@v1.1.0", "example.com/fix/a", "v1.1.0",
     "h1:oOM4ZOalvwrDho9t7VeAzVGXnPIA9Yn/vmRcPvvNOH0=",
     "h1:MS9iYuWlbDowpfzOveR43dh2byYO2xQmM6y4QvAicOc="},
    {"example.com_fix_Upper@v0.1.0", "example.com/fix/Upper", "v0.1.0",
     "h1:zq27T7gfx213RwxGil07Ok9lglzauov7Wa74sZlMESU=",
     "h1:Viw57B66nqc1Wozm1IjUTKK9++fKmcB2ynAXNXWlBSA="},
    {"example.com_fix_v2mod_v2@v2.0.0", "example.com/fix/v2mod/v2", "v2.0.0",
     "h1:X5uRWejypkY6RL/HBHhFp0WjvwyUiP/HfltzXdwQDYs=",
     "h1:4ahMuuvb09aX67/R4hsnbWRjlvRySQxNimuvg1ZDsDA="},
    /* t/unit/testdata/gen_vectors.go: an empty file, a deep directory,
     * Unicode and punctuation in names; explicit directory entries and a
     * stored file; no go.mod. */
    {"example.com_gen_edge@v1.0.0", "example.com/gen/edge", "v1.0.0",
     "h1:f2J4Ho9y3XIFwVKqcrVtdkp/AjYUAtmwUxwb/ULDpaY=",
     "h1:TX6jLQInjFczUyQIFDoZHHfcz51xDCZ4y/3VJNWx8gk="},
    {"example.com_gen_dirs@v1.0.0", "example.com/gen/dirs", "v1.0.0",
     "h1:HMm3nvrHWI8hJZiALOovB4mYnqZtmzPWsgzGhgDTcPk=",
     "h1:irKXNhqXPSW0ddfyXHZCDPNHblmyHuB/VlOnAh5MYpE="},
    {"example.com_gen_nogomod@v1.0.0", "example.com/gen/nogomod", "v1.0.0",
     "h1:HtlB5G5y78VXtd0BM/m+ggbBJ6nJinMUV4OYbDDSI8k=",
     "h1:GSqImwuRHH5KLXLHpLlwjDly7cElzI1L1bgtiU0AhBk="},
};

static void test_gomod_go_vectors(void **state)
{
	char h1[SUMDB_H1_LEN + 1], err[128], name[256];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		char *mod;

		snprintf(name, sizeof(name), "%s.mod", vectors[i].stem);
		mod = read_testdata(name, &len);
		assert_int_equal(sumdb_hash_gomod(mod, len, h1, err, sizeof(err)), 0);
		if (strcmp(h1, vectors[i].gomodsum))
			fail_msg("%s: %s, want %s", name, h1, vectors[i].gomodsum);
		free(mod);
	}
}

/* ---- zips: hashes the go command computes -------------------------------- */

static void test_zip_protocol_vector(void **state)
{
	static const char gomod[] = "module example.com/m\n", src[] = "package m\n";
	const struct zf files[] = {
	    {"example.com/m@v1.0.0/go.mod", gomod, sizeof(gomod) - 1, 0},
	    {"example.com/m@v1.0.0/a.go", src, sizeof(src) - 1, 1},
	};
	int fd = libzip_zip(files, 2);

	(void)state;
	expect_zip_hash(fd, "h1:SXy42eQ/QbleX7vtuAPFnaM3tNuQnfeo7rulG/p7iOw=");
	close(fd);
}

static void test_zip_go_vectors(void **state)
{
	char name[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		char h1[SUMDB_H1_LEN + 1], err[256] = "";
		int fd, rc;

		snprintf(name, sizeof(name), "%s.zip", vectors[i].stem);
		fd = open_testdata(name);
		rc = sumdb_hash_zip_fd(fd, h1, err, sizeof(err));
		if (rc != 0 || strcmp(h1, vectors[i].sum))
			fail_msg("%s: %d %s %s, want %s", name, rc, h1, err, vectors[i].sum);
		close(fd);
	}
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* example.com/gen/big@v1.0.0 of gen_vectors.go, written by libzip: 3 MiB + 5
 * bytes of pseudo-random data (stored) and 1 MiB of text (deflated). */
static int big_zip(char **random, char **text)
{
	static const char gomod[] = "module example.com/gen/big\n\ngo 1.21\n",
	                  src[] = "package big\n";
	size_t rlen = (3u << 20) + 5, tlen = 1u << 20, i, o = 0;
	uint64_t seed = 20240101;
	char *r = malloc(rlen + 8), *t = malloc(tlen + 32);
	int fd;

	assert_non_null(r);
	assert_non_null(t);
	for (i = 0; i < rlen; i += 8) {
		uint64_t v = splitmix64(&seed);
		int k;

		for (k = 0; k < 8; k++)
			r[i + (size_t)k] = (char)(v >> (8 * k));
	}
	for (i = 0; o < tlen; i++)
		o += (size_t)snprintf(t + o, 32, "line %zu\n", i);
	{
		const struct zf files[] = {
		    {"example.com/gen/big@v1.0.0/go.mod", gomod, sizeof(gomod) - 1, 0},
		    {"example.com/gen/big@v1.0.0/testdata/random.bin", r, rlen, 1},
		    {"example.com/gen/big@v1.0.0/big.go", src, sizeof(src) - 1, 0},
		    {"example.com/gen/big@v1.0.0/testdata/lines.txt", t, tlen, 0},
		};
		fd = libzip_zip(files, 4);
	}
	*random = r;
	*text = t;
	return fd;
}

#define BIG_SUM "h1:mxxOL4yfyXKFnL5jbCf18IFagy/VbPdc6/ArFrSl1lg="

static void test_zip_big(void **state)
{
	char *r, *t;
	int fd = big_zip(&r, &t);
	struct stat st;

	(void)state;
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_size >= 2 << 20);
	expect_zip_hash(fd, BIG_SUM);
	close(fd);
	free(r);
	free(t);
}

static void test_zip_empty_archive(void **state)
{
	int fd = raw_zip(NULL, 0);

	(void)state;
	/* No files: the SHA-256 of an empty summary, as dirhash.HashZip. */
	expect_zip_hash(fd, "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	close(fd);
}

/* Names as Go reads them, where libzip reads them otherwise. Expected values
 * from golang.org/x/mod/sumdb/dirhash.HashZip on the same bytes. */
static void test_zip_names_as_go_reads_them(void **state)
{
	/* Info-ZIP Unicode Path field naming the entry m@v1/b.go: libzip
	 * reports that name, Go the stored one. The field carries the CRC-32
	 * of the stored name, filled in below. */
	unsigned char upath[] = {0x75, 0x70, 14,  0,   1,   0,   0,   0,   0,
	                         'm',  '@',  'v', '1', '/', 'b', '.', 'g', 'o'};
	const struct raw nul[] = {{.name = "m@v1/a\0b", .name_len = 8, .data = "x"}};
	const struct raw up[] = {
	    {.name = "m@v1/a.go", .data = "x", .extra = upath, .extra_len = sizeof(upath)}};
	/* The same name twice: Go's map keeps the last entry and hashes its
	 * content for both lines; it never opens the first one. */
	const struct raw dup[] = {{.name = "m@v1/a", .data = "first"},
	                          {.name = "m@v1/b", .data = "b"},
	                          {.name = "m@v1/a", .data = "second"}};
	const struct raw dup_badfirst[] = {{.name = "m@v1/a", .data = "first", .bad_crc = 1},
	                                   {.name = "m@v1/b", .data = "b"},
	                                   {.name = "m@v1/a", .data = "second"}};
	uint32_t crc = crc32_of("m@v1/a.go", 9);
	int fd, k;

	(void)state;
	for (k = 0; k < 4; k++)
		upath[5 + k] = (unsigned char)(crc >> (8 * k));

	fd = raw_zip(nul, 1);
	dump(fd, "nul.zip");
	expect_zip_hash(fd, "h1:Nq5NkuY+qMctYLF8Z2t94NRgy93pscgZjrAES9iCm/8=");
	close(fd);

	fd = raw_zip(up, 1);
	dump(fd, "unicode-path.zip");
	expect_zip_hash(fd, "h1:Uiw5lugdyjcbI2yO523GCvppZDPzzb94ZWmhws3YY+g=");
	close(fd);

	fd = raw_zip(dup, 3);
	dump(fd, "dup.zip");
	expect_zip_hash(fd, "h1:PqEr+aWdIDvnKGQlfyfaBB1dNye4+bF81d1LqekGvcM=");
	close(fd);

	fd = raw_zip(dup_badfirst, 3);
	dump(fd, "dup-badfirst.zip");
	expect_zip_hash(fd, "h1:PqEr+aWdIDvnKGQlfyfaBB1dNye4+bF81d1LqekGvcM=");
	close(fd);
}

/* ---- zips Go refuses to read --------------------------------------------- */

static void test_zip_not_a_zip(void **state)
{
	static const char src[] = "package m\n";
	const struct zf files[] = {{"m@v1/a.go", src, sizeof(src) - 1, 0}};
	char h1[SUMDB_H1_LEN + 1], err[256], *bytes;
	struct stat st;
	int fd, good;

	(void)state;
	fd = bytes_fd("", 0);
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "not a valid zip file");
	assert_string_equal(h1, "");
	close(fd);

	fd = bytes_fd("this is not a zip file at all, just some words", 46);
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "not a valid zip file");
	close(fd);

	/* A good zip, truncated, and with bytes in front of it. */
	good = libzip_zip(files, 1);
	assert_int_equal(fstat(good, &st), 0);
	bytes = malloc((size_t)st.st_size + 100);
	assert_non_null(bytes);
	memset(bytes, 'x', 100);
	assert_int_equal(pread(good, bytes + 100, (size_t)st.st_size, 0), st.st_size);
	close(good);

	fd = bytes_fd(bytes + 100, (size_t)st.st_size - 10);
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "not a valid zip file");
	close(fd);

	fd = bytes_fd(bytes, (size_t)st.st_size + 100);
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "data before its first entry");
	close(fd);
	free(bytes);

	/* Not a regular file: the caller's mistake, not the zip's. */
	fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_ERROR, err,
	            "not a regular file");
	close(fd);
	expect_fail(sumdb_hash_zip_fd(-1, h1, err, sizeof(err)), SUMDB_ZIP_ERROR, err, "stat");
}

/* A zip bomb lies about its sizes: the inflated bytes are counted. */
static void test_zip_size_lies(void **state)
{
	size_t big = 64u << 20;
	char *zeros = calloc(1, big), h1[SUMDB_H1_LEN + 1], err[256];
	static const char src[] = "package m\n\nfunc F() {}\n";
	const struct zf bomb[] = {{"m@v1/bomb.bin", zeros, big, 0}};
	const struct zf small[] = {{"m@v1/a.go", src, sizeof(src) - 1, 0}};
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(zeros);
	fd = libzip_zip(bomb, 1);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(st.st_size < 1 << 20); /* 64 MiB inflate from under 1 MiB */
	patch(fd, "m@v1/bomb.bin", P_USIZE, 1000);
	dump(fd, "bomb.zip");
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "larger than declared size (1000 bytes)");
	close(fd);
	free(zeros);

	fd = libzip_zip(small, 1);
	patch(fd, "m@v1/a.go", P_USIZE, sizeof(src) + 100);
	dump(fd, "short.zip");
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "smaller than declared size");
	close(fd);

	fd = libzip_zip(small, 1);
	patch(fd, "m@v1/a.go", P_CRC, 0x12345678);
	dump(fd, "crc.zip");
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err, "CRC");
	close(fd);
}

static void test_zip_limits(void **state)
{
	static const char src[] = "package m\n";
	const struct zf files[] = {{"m@v1/a.go", src, sizeof(src) - 1, 0},
	                           {"m@v1/b.go", src, sizeof(src) - 1, 0}};
	char h1[SUMDB_H1_LEN + 1], err[256];
	int fd;

	(void)state;
	/* Over 500 MiB on disk (sparse): refused before reading. */
	fd = bytes_fd("", 0);
	assert_int_equal(ftruncate(fd, (off_t)SUMDB_ZIP_MAX_SIZE + 1), 0);
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "module zip file is too large");
	close(fd);

	/* Declared sizes adding up to over 500 MiB: refused before inflating. */
	fd = libzip_zip(files, 2);
	patch(fd, "m@v1/a.go", P_USIZE, 300u << 20);
	patch(fd, "m@v1/b.go", P_USIZE, 300u << 20);
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "total uncompressed size of module contents too large");
	close(fd);

	/* Exactly at the limit is fine as far as the totals go (then the
	 * lie is found while inflating). */
	fd = libzip_zip(files, 2);
	patch(fd, "m@v1/a.go", P_USIZE, 250u << 20);
	patch(fd, "m@v1/b.go", P_USIZE, 250u << 20);
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "smaller than declared size");
	close(fd);
}

static void test_zip_methods_and_flags(void **state)
{
	static const char src[] = "package m\n";
	const struct zf files[] = {{"m@v1/a.go", src, sizeof(src) - 1, 0}};
	const struct raw dir_data[] = {{.name = "m@v1/d/", .data = "x"}};
	const struct raw newline[] = {{.name = "m@v1/a\nb", .data = "x"}};
	const struct raw desc_ok[] = {{.name = "m@v1/a", .data = "abc", .flags = 0x8}};
	const struct raw desc_bad[] = {
	    {.name = "m@v1/a", .data = "abc", .flags = 0x8, .bad_descriptor = 1}};
	char h1[SUMDB_H1_LEN + 1], err[256];
	int fd;

	(void)state;
	fd = libzip_zip(files, 1);
	patch(fd, "m@v1/a.go", P_METHOD, 12); /* bzip2: Go reads store and deflate only */
	dump(fd, "method.zip");
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "unsupported compression method 12");
	close(fd);

	fd = libzip_zip(files, 1);
	patch(fd, "m@v1/a.go", P_FLAGS, 1);
	dump(fd, "encrypted.zip");
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "encrypted");
	close(fd);

	fd = raw_zip(dir_data, 1);
	dump(fd, "dir-data.zip");
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "directory entry has content");
	close(fd);

	fd = raw_zip(newline, 1);
	dump(fd, "newline.zip");
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "\"m@v1/a\\x0ab\": file names with newlines are not supported");
	close(fd);

	/* Go checks a data descriptor's CRC-32 (the go command's own zips
	 * have descriptors: the fixture zips above pass through this). */
	fd = raw_zip(desc_ok, 1);
	dump(fd, "descriptor.zip");
	expect_zip_hash(fd, "h1:Mq2c6IMKGtYKpYvy5NOi0sK7toROOpuiM+tvCo6mhl4=");
	close(fd);
	fd = raw_zip(desc_bad, 1);
	dump(fd, "descriptor-bad.zip");
	expect_fail(sumdb_hash_zip_fd(fd, h1, err, sizeof(err)), SUMDB_ZIP_INVALID, err,
	            "data descriptor checksum mismatch");
	close(fd);
}

/* ---- hooks, threads, helpers ---------------------------------------------- */

struct seen {
	int listed, hashed;
	size_t n;
	int fail_listed;
};

static int on_listed(void *arg, const struct sumdb_zip_entry *f, size_t n, char *err, size_t errlen)
{
	struct seen *s = arg;

	s->listed++;
	s->n = n;
	/* Zip order, raw names, declared sizes; nothing hashed yet. */
	assert_int_equal(n, 2);
	assert_int_equal(f[0].name_len, 27);
	assert_memory_equal(f[0].name, "example.com/m@v1.0.0/go.mod", 27);
	assert_int_equal(f[0].size, 21);
	assert_int_equal(f[1].size, 10);
	if (s->fail_listed) {
		snprintf(err, errlen, "no thanks");
		return SUMDB_ZIP_INVALID;
	}
	return 0;
}

static int on_hashed(void *arg, const struct sumdb_zip_entry *f, size_t n, char *err, size_t errlen)
{
	struct seen *s = arg;
	unsigned char want[32];

	(void)err;
	(void)errlen;
	s->hashed++;
	assert_int_equal(n, 2);
	assert_true(EVP_Digest("package m\n", 10, want, NULL, EVP_sha256(), NULL));
	assert_memory_equal(f[1].sha256, want, 32);
	return 0;
}

static void test_hooks(void **state)
{
	static const char gomod[] = "module example.com/m\n", src[] = "package m\n";
	const struct zf files[] = {
	    {"example.com/m@v1.0.0/go.mod", gomod, sizeof(gomod) - 1, 0},
	    {"example.com/m@v1.0.0/a.go", src, sizeof(src) - 1, 0},
	};
	struct seen s = {0};
	struct sumdb_zip_hooks hooks = {on_listed, on_hashed, &s};
	char h1[SUMDB_H1_LEN + 1], err[256];
	int fd = libzip_zip(files, 2);

	(void)state;
	assert_int_equal(sumdb_hash_zip_fd_hooks(fd, &hooks, h1, err, sizeof(err)), 0);
	assert_int_equal(s.listed, 1);
	assert_int_equal(s.hashed, 1);
	assert_string_equal(h1, "h1:SXy42eQ/QbleX7vtuAPFnaM3tNuQnfeo7rulG/p7iOw=");
	/* No out buffer: the verdict only. */
	assert_int_equal(sumdb_hash_zip_fd_hooks(fd, &hooks, NULL, err, sizeof(err)), 0);
	/* A refusal from listed ends the pass before anything is inflated. */
	s = (struct seen){.fail_listed = 1};
	expect_fail(sumdb_hash_zip_fd_hooks(fd, &hooks, h1, err, sizeof(err)), SUMDB_ZIP_INVALID,
	            err, "no thanks");
	assert_int_equal(s.listed, 1);
	assert_int_equal(s.hashed, 0);
	assert_string_equal(h1, "");
	close(fd);
}

struct job {
	int fd, rc;
	char h1[SUMDB_H1_LEN + 1];
};

static void *hash_job(void *arg)
{
	struct job *j = arg;
	char err[256];

	j->rc = sumdb_hash_zip_fd(j->fd, j->h1, err, sizeof(err));
	return NULL;
}

/* Workers may hash the same descriptor at once; its offset never moves. */
static void test_threads_share_fd(void **state)
{
	char *r, *t;
	int fd = big_zip(&r, &t), i;
	struct job jobs[4];
	pthread_t th[4];

	(void)state;
	assert_int_equal(lseek(fd, 123, SEEK_SET), 123);
	for (i = 0; i < 4; i++) {
		jobs[i] = (struct job){.fd = fd};
		assert_int_equal(pthread_create(&th[i], NULL, hash_job, &jobs[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(jobs[i].rc, 0);
		assert_string_equal(jobs[i].h1, BIG_SUM);
	}
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 123);
	close(fd);
	free(r);
	free(t);
}

static void test_quote(void **state)
{
	char q[300], small[8];
	char long_name[200];

	(void)state;
	assert_string_equal(sumdb_quote(q, sizeof(q), "a\"b\\c\n\0\xff", 8),
	                    "\"a\\\"b\\\\c\\x0a\\x00\\xff\"");
	memset(long_name, 'a', sizeof(long_name));
	sumdb_quote(q, sizeof(q), long_name, sizeof(long_name));
	assert_int_equal(strlen(q), 1 + 120 + 1 + 3);
	assert_string_equal(q + 122, "...");
	assert_string_equal(sumdb_quote(small, sizeof(small), "abcdefgh", 8), "\"abcdef");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gomod_protocol_vectors),
	    cmocka_unit_test(test_gomod_go_vectors),
	    cmocka_unit_test(test_zip_protocol_vector),
	    cmocka_unit_test(test_zip_go_vectors),
	    cmocka_unit_test(test_zip_big),
	    cmocka_unit_test(test_zip_empty_archive),
	    cmocka_unit_test(test_zip_names_as_go_reads_them),
	    cmocka_unit_test(test_zip_not_a_zip),
	    cmocka_unit_test(test_zip_size_lies),
	    cmocka_unit_test(test_zip_limits),
	    cmocka_unit_test(test_zip_methods_and_flags),
	    cmocka_unit_test(test_hooks),
	    cmocka_unit_test(test_threads_share_fd),
	    cmocka_unit_test(test_quote),
	};

	return cmocka_run_group_tests_name("dirhash", tests, NULL, NULL);
}
