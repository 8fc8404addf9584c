/*
 * libFuzzer target for the policy module's two readers of upstream bytes:
 * the @v/list filter and the .info/@latest version reader. The input is
 * both a list body and an info body; the rules are fixed.
 *
 *   sh t/fuzz/run.sh    (builds it with the rest)
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks:
 *   - the filtered list is the input's lines, in order, some left out, each
 *     kept one byte for byte;
 *   - no kept line holds a denied version where the go command would look
 *     for one (the first field once Unicode spaces are skipped; here: the
 *     first run of version characters), and every line left out does;
 *   - filtering the filtered list leaves it as it is;
 *   - a version read from an info body is a NUL-free string that fits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/policy.h"

static const char rules[] = "[deny]\n"
                            "example.com/x@v1.2.3 = one\n"
                            "example.com/x@v1.3.* = some\n"
                            "example.com/x@v0.0.0-2023* = old\n"
                            "example.com/x@v?.?.?-rc.[0-9] = release candidates\n";

static struct config *cfg;

static int version_char(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       ch == '.' || ch == '-' || ch == '+';
}

/* 1 if the line (n bytes) holds a denied version where the filter looks. */
static int line_denied(const char *p, size_t n)
{
	char v[2048];
	size_t b = 0, e;

	while (b < n && !version_char((unsigned char)p[b]))
		b++;
	for (e = b; e < n && version_char((unsigned char)p[e]); e++)
		;
	if (e == b)
		return 0;
	if (e - b >= sizeof(v) || e - b > 1024)
		return 1; /* too long to serve: left out while rules exist */
	memcpy(v, p + b, e - b);
	v[e - b] = '\0';
	return policy_check_version(cfg, "example.com/x", v, NULL) == POLICY_DENIED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *ip = in, *iend = in + size;
	char *out = malloc(size + 1), *again = malloc(size + 1), version[128];
	size_t n, n2, dropped, dropped2, op = 0;

	if (!cfg) {
		char err[512];

		cfg = malloc(sizeof(*cfg));
		if (!cfg)
			abort();
		config_init_defaults(cfg);
		if (config_load_string(cfg, rules, "rules", err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			abort();
		}
	}
	if (!out || !again)
		abort();

	n = policy_filter_list(cfg, "example.com/x", in, size, out, &dropped);
	if (n > size)
		abort();
	/* Walk the input's lines: each is either the next bytes of out
	 * (kept) or denied (left out). */
	while (ip < iend) {
		const char *nl = memchr(ip, '\n', (size_t)(iend - ip));
		size_t len = (size_t)((nl ? nl + 1 : iend) - ip);
		int denied = line_denied(ip, len);

		if (denied) {
			dropped--;
		} else {
			if (op + len > n || memcmp(out + op, ip, len) != 0) {
				fprintf(stderr, "a line not denied was changed or lost\n");
				abort();
			}
			op += len;
		}
		ip += len;
	}
	if (op != n || dropped != 0) {
		fprintf(stderr, "filter output and the lines left out disagree\n");
		abort();
	}
	n2 = policy_filter_list(cfg, "example.com/x", out, n, again, &dropped2);
	if (n2 != n || dropped2 != 0 || memcmp(out, again, n) != 0)
		abort();

	if (policy_info_version(in, size, version, sizeof(version)) == 0) {
		if (memchr(version, '\0', sizeof(version)) == NULL)
			abort();
	}
	free(out);
	free(again);
	return 0;
}
