/*
 * pathglob — Go's path.Match and module.MatchPrefixPatterns, byte for byte.
 *
 * The matcher has Go's shape on purpose: the pattern is cut into chunks, each
 * a run of single-character terms optionally preceded by stars, and a star
 * commits to the first position where its chunk matches (only the last chunk
 * must also reach the end of the name). That is linear per chunk, never
 * backtracks across chunks, and gives exactly Go's answers, quirks included,
 * which matters more here than elegance: a module is private to modgate iff
 * it is private to the user's go command.
 *
 * Everything works on [begin, end) spans because the patterns live inside a
 * comma-separated list and the names are prefixes of a module path.
 */
#include "proxy/pathglob.h"

#include "proxy/errbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RUNE_ERROR 0xFFFDu

enum { CHUNK_FAIL = 0, CHUNK_OK = 1, CHUNK_BAD = -1 };

/* Go's utf8.DecodeRune for a non-empty span: the code point and its length;
 * an invalid or truncated sequence decodes as U+FFFD of length 1 (overlong
 * forms, surrogates and values above U+10FFFF are invalid). */
static uint32_t decode_rune(const char *s, const char *end, size_t *len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t avail = (size_t)(end - s), need, i;
	unsigned char lo = 0x80, hi = 0xBF;
	uint32_t r;

	if (p[0] < 0x80) {
		*len = 1;
		return p[0];
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		need = 2;
		r = p[0] & 0x1F;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		need = 3;
		r = p[0] & 0x0F;
		if (p[0] == 0xE0)
			lo = 0xA0;
		else if (p[0] == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		need = 4;
		r = p[0] & 0x07;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		*len = 1;
		return RUNE_ERROR;
	}
	if (avail < need || p[1] < lo || p[1] > hi) {
		*len = 1;
		return RUNE_ERROR;
	}
	for (i = 1; i < need; i++) {
		if (i > 1 && (p[i] < 0x80 || p[i] > 0xBF)) {
			*len = 1;
			return RUNE_ERROR;
		}
		r = (r << 6) | (p[i] & 0x3F);
	}
	*len = need;
	return r;
}

/* Splits off the next chunk of [*pat, pend): skips leading stars (reported in
 * *star), then runs to the next star outside a character class. Escapes are
 * stepped over here and judged by match_chunk. */
static void scan_chunk(const char **pat, const char *pend, int *star, const char **cbeg,
                       const char **cend)
{
	const char *p = *pat;
	int inrange = 0;

	*star = 0;
	while (p < pend && *p == '*') {
		p++;
		*star = 1;
	}
	*cbeg = p;
	for (; p < pend; p++) {
		if (*p == '\\') {
			if (p + 1 < pend)
				p++;
		} else if (*p == '[') {
			inrange = 1;
		} else if (*p == ']') {
			inrange = 0;
		} else if (*p == '*' && !inrange) {
			break;
		}
	}
	*cend = p;
	*pat = p;
}

/* One possibly escaped character of a class, or CHUNK_BAD. Like Go, a class
 * term may not start with '-' or ']', and must not be the end of the pattern
 * (the class would be unterminated). */
static int class_char(const char **c, const char *cend, uint32_t *r)
{
	const char *p = *c;
	size_t n;

	if (p >= cend || *p == '-' || *p == ']')
		return CHUNK_BAD;
	if (*p == '\\') {
		p++;
		if (p >= cend)
			return CHUNK_BAD;
	}
	*r = decode_rune(p, cend, &n);
	if (*r == RUNE_ERROR && n == 1)
		return CHUNK_BAD;
	p += n;
	*c = p;
	if (p >= cend)
		return CHUNK_BAD;
	return CHUNK_OK;
}

/* Matches the chunk [c, cend) against the start of [s, send). On CHUNK_OK,
 * *rest is where the name continues. Once the name has stopped matching, the
 * rest of the chunk is still parsed so that a malformed pattern is reported
 * whatever the name. */
static int match_chunk(const char *c, const char *cend, const char *s, const char *send,
                       const char **rest)
{
	int failed = 0;

	while (c < cend) {
		if (!failed && s >= send)
			failed = 1;
		if (*c == '[') {
			uint32_t r = 0, lo, hi;
			int negated = 0, match = 0, nrange = 0;

			if (!failed) {
				size_t n;

				r = decode_rune(s, send, &n);
				s += n;
			}
			c++;
			if (c < cend && *c == '^') {
				negated = 1;
				c++;
			}
			for (;;) {
				if (c < cend && *c == ']' && nrange > 0) {
					c++;
					break;
				}
				if (class_char(&c, cend, &lo) != CHUNK_OK)
					return CHUNK_BAD;
				hi = lo;
				if (*c == '-') {
					c++;
					if (class_char(&c, cend, &hi) != CHUNK_OK)
						return CHUNK_BAD;
				}
				if (lo <= r && r <= hi)
					match = 1;
				nrange++;
			}
			if (match == negated)
				failed = 1;
		} else if (*c == '?') {
			if (!failed) {
				size_t n;

				if (*s == '/')
					failed = 1;
				decode_rune(s, send, &n);
				s += n;
			}
			c++;
		} else {
			if (*c == '\\') {
				c++;
				if (c >= cend)
					return CHUNK_BAD;
			}
			if (!failed) {
				if (*c != *s)
					failed = 1;
				s++;
			}
			c++;
		}
	}
	if (failed)
		return CHUNK_FAIL;
	*rest = s;
	return CHUNK_OK;
}

/* path.Match over spans. */
static int match_span(const char *pat, const char *pend, const char *name, const char *nend)
{
	while (pat < pend) {
		const char *cbeg, *cend, *t;
		int star, rc;

		scan_chunk(&pat, pend, &star, &cbeg, &cend);
		if (star && cbeg == cend)
			/* A trailing star takes the rest of the name unless it has a '/'. */
			return memchr(name, '/', (size_t)(nend - name)) == NULL;
		rc = match_chunk(cbeg, cend, name, nend, &t);
		/* The last chunk must consume the whole name; any earlier one may stop. */
		if (rc == CHUNK_OK && (t == nend || pat < pend)) {
			name = t;
			continue;
		}
		if (rc == CHUNK_BAD)
			return -1;
		if (star) {
			const char *i;
			int next = 0;

			/* Retry the chunk further on; a star never crosses a '/'. */
			for (i = name; i < nend && *i != '/'; i++) {
				rc = match_chunk(cbeg, cend, i + 1, nend, &t);
				if (rc == CHUNK_OK) {
					if (pat == pend && t < nend)
						continue;
					name = t;
					next = 1;
					break;
				}
				if (rc == CHUNK_BAD)
					return -1;
			}
			if (next)
				continue;
		}
		/* No match; still report a malformed remainder of the pattern. */
		while (pat < pend) {
			scan_chunk(&pat, pend, &star, &cbeg, &cend);
			if (match_chunk(cbeg, cend, "", "", &t) == CHUNK_BAD)
				return -1;
		}
		return 0;
	}
	return name == nend;
}

int pathglob_match(const char *pattern, const char *name)
{
	return match_span(pattern, pattern + strlen(pattern), name, name + strlen(name));
}

/* The next non-empty pattern of a comma-separated list, with one trailing '/'
 * removed; 0 at the end of the list. */
static int next_pattern(const char **list, const char **pbeg, const char **pend)
{
	const char *p = *list;

	while (*p) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);

		*pbeg = p;
		*pend = e;
		p = comma ? comma + 1 : e;
		if (*pend > *pbeg && (*pend)[-1] == '/')
			(*pend)--;
		if (*pend > *pbeg) {
			*list = p;
			return 1;
		}
	}
	*list = p;
	return 0;
}

int pathglob_match_prefix(const char *patterns, const char *path)
{
	const char *pbeg, *pend, *list = patterns;
	const char *path_end = path + strlen(path);

	while (next_pattern(&list, &pbeg, &pend)) {
		const char *q, *prefix_end = path_end;
		size_t slashes = 0;

		for (q = pbeg; q < pend; q++)
			slashes += *q == '/';
		/* A pattern of N+1 elements is matched against the first N+1
		 * elements of the path, which end just before its N+1'th slash. */
		for (q = path; q < path_end; q++) {
			if (*q != '/')
				continue;
			if (slashes == 0) {
				prefix_end = q;
				break;
			}
			slashes--;
		}
		if (slashes > 0)
			continue; /* the path has fewer elements than the pattern */
		if (match_span(pbeg, pend, path, prefix_end) == 1)
			return 1;
	}
	return 0;
}

int pathglob_check_patterns(const char *patterns, char *err, size_t errlen)
{
	const char *pbeg, *pend, *list = patterns;

	while (next_pattern(&list, &pbeg, &pend)) {
		/* Matching the empty name walks every chunk, so it reports any
		 * syntax error the pattern has. */
		if (match_span(pbeg, pend, "", "") < 0) {
			errbuf_set(err, errlen,
			           "bad pattern \"%.*s\": syntax error (path.Match syntax: *, ?, "
			           "[a-z], [^a-z], \\c)",
			           (int)(pend - pbeg), pbeg);
			return -1;
		}
	}
	return 0;
}
