/*
 * libFuzzer target for sumdb_parse_record (sumdb/client.c): a lookup
 * answer from a checksum database, as tlog.ParseRecord splits it.
 *
 * Besides "no crash, no out-of-bounds read, no undefined behaviour", it
 * checks that an accepted answer splits exactly: the id is the decimal
 * first line without a leading zero, the text starts after it, ends in a
 * newline, holds only printable ASCII and newlines and no blank line, and
 * the note is everything after the first blank line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sumdb/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data, *text, *note;
	size_t tl, nl, idlen;
	int64_t id;
	char err[200], digits[32];

	if (sumdb_parse_record(msg, size, &id, &text, &tl, &note, &nl, err, sizeof(err)) != 0)
		return 0;
	idlen = (size_t)snprintf(digits, sizeof(digits), "%lld", (long long)id);
	if (id < 0 || idlen + 1 > size || memcmp(msg, digits, idlen) != 0 || msg[idlen] != '\n' ||
	    text != msg + idlen + 1 || tl == 0 || text[tl - 1] != '\n' || text[tl] != '\n' ||
	    note != text + tl + 1 || note + nl != msg + size)
		abort();
	for (size_t i = 0; i < tl; i++) {
		unsigned char c = (unsigned char)text[i];

		if ((c < 0x20 && c != '\n') || c >= 0x7f ||
		    (c == '\n' && i + 1 < tl && text[i + 1] == '\n'))
			abort();
	}
	return 0;
}
