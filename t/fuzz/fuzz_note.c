/*
 * fuzz_note — libFuzzer target for sumdb/note.c.
 *
 * Feeds the input to every entry point and checks what must hold whatever
 * the bytes: an opened note's text is a prefix of the input ending in a
 * newline and its signatures point inside the input; a text the rules allow
 * (valid UTF-8, no control byte but newline, final newline), once signed,
 * opens with the signer's key and gives the whole text back; a verifier key
 * that parses formats and parses back to itself; a parsed tree size is not
 * negative; every error is one line without control bytes. A broken
 * invariant aborts, which libFuzzer reports as a crash with the input saved.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -D_GNU_SOURCE \
 *       sumdb/note.c proxy/errbuf.c t/fuzz/fuzz_note.c -lcrypto -o fuzz_note
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sumdb/note.h"

/* Longest input tried: a few hundred signature lines. */
#define FUZZ_MAX 65536

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static const unsigned char seed[32] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

static void check_err(const char *err)
{
	const unsigned char *s = (const unsigned char *)err;

	CHECK(s[0] != '\0');
	for (; *s; s++)
		CHECK(*s >= 0x20 && *s != 0x7f);
}

/* The text rules of note.Open, written the slow and obvious way. */
static int text_allowed(const uint8_t *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || s[n - 1] != '\n')
		return 0;
	while (i < n) {
		unsigned c = s[i], need, j;
		uint32_t r;

		if (c < 0x80) {
			if (c < 0x20 && c != '\n')
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, r = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, r = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, r = c & 0x07;
		else
			return 0;
		if (i + need >= n)
			return 0;
		for (j = 1; j <= need; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			r = r << 6 | (s[i + j] & 0x3f);
		}
		if ((need == 2 && r < 0x800) || (need == 3 && (r < 0x10000 || r > 0x10ffff)) ||
		    (r >= 0xd800 && r <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sum_key[] =
	    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
	struct sumdb_verifier known[2], v, back;
	struct sumdb_note *note;
	struct sumdb_tree tree;
	const char *msg = (const char *)data;
	char err[512], key[SUMDB_VERIFIER_KEY_MAX + 1];
	size_t i;
	int rc;

	if (size > FUZZ_MAX)
		return 0;
	note = malloc(sizeof(*note));
	CHECK(note != NULL);
	CHECK(sumdb_verifier_from_seed("fuzz.example", seed, &known[0], err, sizeof(err)) == 0);
	CHECK(sumdb_verifier_parse(sum_key, sizeof(sum_key) - 1, &known[1], err, sizeof(err)) == 0);

	/* The input as a signed note. */
	err[0] = '\0';
	rc = sumdb_note_open(msg, size, known, 2, note, err, sizeof(err));
	CHECK(rc == SUMDB_NOTE_OK || rc == SUMDB_NOTE_MALFORMED || rc == SUMDB_NOTE_UNVERIFIED ||
	      rc == SUMDB_NOTE_BAD_SIG);
	if (rc != SUMDB_NOTE_OK)
		check_err(err);
	if (rc == SUMDB_NOTE_OK || rc == SUMDB_NOTE_UNVERIFIED) {
		CHECK(note->text == msg);
		CHECK(note->text_len > 0 && note->text_len + 2 < size);
		CHECK(msg[note->text_len - 1] == '\n' && msg[note->text_len] == '\n');
		CHECK(text_allowed(data, note->text_len));
		CHECK((rc == SUMDB_NOTE_OK) == (note->nsigs > 0));
		CHECK(note->nsigs <= 2 && note->nunverified <= SUMDB_NOTE_MAX_SIGS);
		for (i = 0; i < note->nsigs; i++) {
			CHECK(note->sigs[i].verifier < 2);
			CHECK(note->sigs[i].hash == known[note->sigs[i].verifier].hash);
		}
		for (i = 0; i < note->nunverified; i++) {
			const struct sumdb_note_sig *u = &note->unverified[i];

			CHECK(u->name > msg + note->text_len && u->name_len > 0);
			CHECK(u->b64 + u->b64_len < msg + size && u->b64[u->b64_len] == '\n');
		}
	}

	/* The input as a note text: signed, it must open, whole. */
	if (size + 200 < FUZZ_MAX) {
		char *out = malloc(size + 200);
		size_t used = 0;

		CHECK(out != NULL);
		rc = sumdb_note_sign(msg, size, "fuzz.example", seed, out, size + 200, &used, err,
		                     sizeof(err));
		CHECK(rc == SUMDB_NOTE_OK || rc == SUMDB_NOTE_MALFORMED);
		CHECK((rc == SUMDB_NOTE_OK) == (size > 0 && msg[size - 1] == '\n'));
		if (rc == SUMDB_NOTE_OK) {
			rc = sumdb_note_open(out, used, known, 2, note, err, sizeof(err));
			if (text_allowed(data, size)) {
				CHECK(rc == SUMDB_NOTE_OK);
				CHECK(note->text_len == size && note->nsigs == 1);
				CHECK(note->sigs[0].verifier == 0 && note->nunverified == 0);
			} else {
				CHECK(rc == SUMDB_NOTE_MALFORMED);
			}
		}
		free(out);
	}

	/* The input as a verifier key. */
	rc = sumdb_verifier_parse(msg, size, &v, err, sizeof(err));
	CHECK(rc == SUMDB_NOTE_OK || rc == SUMDB_NOTE_MALFORMED);
	if (rc == SUMDB_NOTE_OK) {
		CHECK(v.alg == 1 && v.name_len > 0 && v.name_len <= SUMDB_NOTE_NAME_MAX);
		CHECK(strlen(v.name) == v.name_len);
		CHECK(sumdb_verifier_format(&v, key, sizeof(key), err, sizeof(err)) == 0);
		CHECK(sumdb_verifier_parse(key, strlen(key), &back, err, sizeof(err)) == 0);
		CHECK(back.hash == v.hash && back.name_len == v.name_len);
		CHECK(memcmp(back.name, v.name, v.name_len) == 0);
		CHECK(memcmp(back.key, v.key, 32) == 0);
	} else {
		check_err(err);
	}

	/* The input as a tree note text. */
	rc = sumdb_tree_parse(msg, size, &tree, err, sizeof(err));
	CHECK(rc == SUMDB_NOTE_OK || rc == SUMDB_NOTE_MALFORMED);
	if (rc == SUMDB_NOTE_OK)
		CHECK(tree.n >= 0 && size > 21 && memcmp(msg, "go.sum database tree\n", 21) == 0);
	else
		check_err(err);

	free(note);
	return 0;
}
