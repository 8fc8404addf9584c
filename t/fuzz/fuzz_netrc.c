/*
 * libFuzzer target for the netrc reader (proxy/netrc.c).
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
 *       proxy/netrc.c proxy/errbuf.c t/fuzz/fuzz_netrc.c -o fuzz_netrc
 *   ./fuzz_netrc -max_total_time=60 -dict=t/fuzz/fuzz_netrc.dict corpus/
 *
 * The input's first line is the machine looked up, the rest the file.
 * Besides "no crash, no out-of-bounds read, no undefined behaviour", it
 * checks properties:
 *   - the answer is -1, 0 or 1; on -1 there is a message; on 0 the output
 *     buffers are untouched;
 *   - on 1 the login and password are non-empty blank-free tokens of the
 *     text, the login has no ':', and both fit their buffers;
 *   - a "default" line and an entry for the machine appended after the text
 *     change nothing (default ends the file, or a macro swallows both);
 *   - a second lookup gives the same answer (no hidden state).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/netrc.h"

#define LOGIN_MAX 64
#define PASS_MAX 128

struct answer {
	int rc;
	char login[LOGIN_MAX], pass[PASS_MAX], err[200];
};

static void lookup(const char *text, size_t len, const char *machine, struct answer *a)
{
	memset(a->login, 'L', sizeof(a->login));
	memset(a->pass, 'P', sizeof(a->pass));
	a->err[0] = '\0';
	a->rc = netrc_lookup(text, len, machine, a->login, sizeof(a->login), a->pass,
	                     sizeof(a->pass), a->err, sizeof(a->err));
}

static int same(const struct answer *a, const struct answer *b)
{
	if (a->rc != b->rc)
		return 0;
	if (a->rc == 1)
		return strcmp(a->login, b->login) == 0 && strcmp(a->pass, b->pass) == 0;
	return 1;
}

static void check_token(const char *tok, size_t max, const char *text, size_t len)
{
	size_t n = strnlen(tok, max);

	if (n == 0 || n == max || strpbrk(tok, " \t\n\v\f\r"))
		abort();
	if (!memmem(text, len, tok, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	char machine[256], *text, *more;
	size_t mlen, len, extra;
	struct answer a, b, c;

	if (!nl)
		return 0;
	mlen = (size_t)(nl - (const char *)data);
	if (mlen >= sizeof(machine) || memchr(data, '\0', mlen))
		return 0;
	memcpy(machine, data, mlen);
	machine[mlen] = '\0';
	len = size - mlen - 1;
	/* An exact-size copy, so ASan sees any read past the end. */
	text = malloc(len ? len : 1);
	if (!text)
		return 0;
	memcpy(text, nl + 1, len);

	lookup(text, len, machine, &a);
	if (a.rc < -1 || a.rc > 1)
		abort();
	if (a.rc == -1 && !a.err[0])
		abort();
	if (a.rc == 0 && (a.login[0] != 'L' || a.pass[0] != 'P'))
		abort();
	if (a.rc == 1) {
		check_token(a.login, sizeof(a.login), text, len);
		check_token(a.pass, sizeof(a.pass), text, len);
		if (strchr(a.login, ':'))
			abort();
	}

	lookup(text, len, machine, &b);
	if (!same(&a, &b))
		abort();

	if (mlen > 0 && !memchr(machine, ' ', mlen) && !memchr(machine, '\t', mlen) &&
	    !strpbrk(machine, "\r\v\f")) {
		extra = len + mlen + 64;
		more = malloc(extra);
		if (more) {
			int n;

			memcpy(more, text, len);
			n = snprintf(more + len, extra - len,
			             "\ndefault\nmachine %s login x password y\n", machine);
			lookup(more, len + (size_t)n, machine, &c);
			if (!same(&a, &c))
				abort();
			free(more);
		}
	}
	free(text);
	return 0;
}
