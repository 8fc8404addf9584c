/*
 * fuzz_zipcheck — libFuzzer target for sumdb/dirhash.c and sumdb/zipcheck.c.
 *
 * Feeds a zip, through a memfd so that the production path (pread on a
 * descriptor, our central directory reader, libzip over our source) is what
 * runs, to sumdb_hash_zip_fd and sumdb_zip_check_hash_fd, and checks what
 * must hold whatever the bytes. A broken invariant aborts, which libFuzzer
 * reports as a crash with the input saved.
 *
 * Two ways to read the input, so the name rules get explored even from an
 * empty corpus:
 *   - starting with "PK": the zip itself, byte for byte;
 *   - anything else: a list of entries, one per line, "name=content"
 *     (no "=": empty content), each name put under "example.com/m@v1.0.0/"
 *     unless the line starts with "!"; stored into a well-formed zip here.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -D_GNU_SOURCE \
 *       sumdb/dirhash.c sumdb/zipcheck.c t/fuzz/fuzz_zipcheck.c \
 *       -lzip -lcrypto -o fuzz_zipcheck
 *   ./fuzz_zipcheck -max_len=65536 -max_total_time=60 CORPUS t/unit/testdata
 *
 * The test data folder's zips make a good seed corpus.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sumdb/dirhash.h"
#include "sumdb/zipcheck.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static int one_line(const char *s)
{
	if (s[0] == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static int is_h1(const char *h)
{
	size_t i;

	if (strlen(h) != SUMDB_H1_LEN || memcmp(h, "h1:", 3) != 0 || h[SUMDB_H1_LEN - 1] != '=')
		return 0;
	for (i = 3; i < SUMDB_H1_LEN - 1; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		            h[i]))
			return 0;
	return 1;
}

static uint32_t crc32_of(const uint8_t *p, size_t len)
{
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

static void put(int fd, const void *p, size_t len)
{
	CHECK(len == 0 || write(fd, p, len) == (ssize_t)len);
}

static void put16(int fd, uint32_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(fd, b, 2);
}

static void put32(int fd, uint32_t v)
{
	put16(fd, v & 0xffff);
	put16(fd, v >> 16);
}

#define MAX_ENTRIES 64

/* Writes the entries listed in data as a zip of stored files into fd. */
static void build_zip(int fd, const uint8_t *data, size_t size)
{
	static const char prefix[] = "example.com/m@v1.0.0/";
	struct {
		const uint8_t *name, *content;
		size_t nlen, clen;
		int raw;
		uint32_t crc, off;
	} e[MAX_ENTRIES];
	size_t n = 0, at = 0, i, cdlen = 0;
	uint32_t cdoff, pos = 0;

	while (at < size && n < MAX_ENTRIES) {
		const uint8_t *line = data + at, *nl = memchr(line, '\n', size - at), *eq;
		size_t len = nl ? (size_t)(nl - line) : size - at;

		at += len + 1;
		e[n].raw = len > 0 && line[0] == '!';
		line += e[n].raw;
		len -= (size_t)e[n].raw;
		eq = memchr(line, '=', len);
		e[n].name = line;
		e[n].nlen = eq ? (size_t)(eq - line) : len;
		e[n].content = eq ? eq + 1 : line + len;
		e[n].clen = eq ? len - e[n].nlen - 1 : 0;
		e[n].crc = crc32_of(e[n].content, e[n].clen);
		n++;
	}
	for (i = 0; i < n; i++) {
		size_t nlen = e[i].nlen + (e[i].raw ? 0 : sizeof(prefix) - 1);

		e[i].off = pos;
		put32(fd, 0x04034b50);
		put16(fd, 20);
		put16(fd, 0);
		put16(fd, 0);
		put32(fd, 0);
		put32(fd, e[i].crc);
		put32(fd, (uint32_t)e[i].clen);
		put32(fd, (uint32_t)e[i].clen);
		put16(fd, (uint32_t)nlen);
		put16(fd, 0);
		if (!e[i].raw)
			put(fd, prefix, sizeof(prefix) - 1);
		put(fd, e[i].name, e[i].nlen);
		put(fd, e[i].content, e[i].clen);
		pos += (uint32_t)(30 + nlen + e[i].clen);
	}
	cdoff = pos;
	for (i = 0; i < n; i++) {
		size_t nlen = e[i].nlen + (e[i].raw ? 0 : sizeof(prefix) - 1);

		put32(fd, 0x02014b50);
		put16(fd, 20);
		put16(fd, 20);
		put16(fd, 0);
		put16(fd, 0);
		put32(fd, 0);
		put32(fd, e[i].crc);
		put32(fd, (uint32_t)e[i].clen);
		put32(fd, (uint32_t)e[i].clen);
		put16(fd, (uint32_t)nlen);
		put32(fd, 0);
		put32(fd, 0);
		put32(fd, 0);
		put32(fd, e[i].off);
		if (!e[i].raw)
			put(fd, prefix, sizeof(prefix) - 1);
		put(fd, e[i].name, e[i].nlen);
		cdlen += 46 + nlen;
	}
	put32(fd, 0x06054b50);
	put32(fd, 0);
	put16(fd, (uint32_t)n);
	put16(fd, (uint32_t)n);
	put32(fd, (uint32_t)cdlen);
	put32(fd, cdoff);
	put16(fd, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char gomod[] = "module example.com/m\n";
	char hash[SUMDB_H1_LEN + 1], checked[SUMDB_H1_LEN + 1], err[512];
	size_t done = 0;
	int fd, hrc, crc, crc2;

	fd = memfd_create("fuzz-zip", MFD_CLOEXEC);
	CHECK(fd >= 0);
	if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
		while (done < size) {
			ssize_t n = write(fd, data + done, size - done);

			CHECK(n > 0);
			done += (size_t)n;
		}
	} else {
		build_zip(fd, data, size);
	}

	/* The bytes never make a local failure: only 0 or INVALID. */
	hrc = sumdb_hash_zip_fd(fd, hash, err, sizeof(err));
	CHECK(hrc == 0 || hrc == SUMDB_ZIP_INVALID);
	CHECK(hrc == 0 ? is_h1(hash) : hash[0] == '\0' && one_line(err));

	crc = sumdb_zip_check_hash_fd(fd, "example.com/m", "v1.0.0", NULL, 0, checked, err,
	                              sizeof(err));
	CHECK(crc == 0 || crc == SUMDB_ZIP_INVALID);
	if (crc == 0) {
		/* The rules add to the hash pass, never relax it, and the hash
		 * is the same one. */
		CHECK(hrc == 0);
		CHECK(strcmp(hash, checked) == 0);
	} else {
		CHECK(checked[0] == '\0' && one_line(err));
	}

	/* With a served .mod, the verdict can only get stricter. */
	crc2 = sumdb_zip_check_fd(fd, "example.com/m", "v1.0.0", gomod, sizeof(gomod) - 1, err,
	                          sizeof(err));
	CHECK(crc2 == 0 || crc2 == SUMDB_ZIP_INVALID);
	CHECK(crc2 != 0 || crc == 0);
	if (crc2)
		CHECK(one_line(err));

	/* Same bytes, same answer: no state survives a call. */
	CHECK(sumdb_hash_zip_fd(fd, checked, err, sizeof(err)) == hrc);
	if (hrc == 0)
		CHECK(strcmp(hash, checked) == 0);
	close(fd);
	return 0;
}
