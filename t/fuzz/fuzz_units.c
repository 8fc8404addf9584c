/*
 * libFuzzer target for the duration and size parsers of the command line
 * (proxy/config.c: config_parse_duration_ms with days, config_parse_size),
 * as `modgate prune --unused DURATION --max-size SIZE` reads them.
 *
 * Besides "no crash, no out-of-bounds read, no undefined behaviour", it
 * checks properties of every input:
 *   - a failure leaves the output untouched and says why;
 *   - what the keys accept (no days), the command line accepts with the
 *     same value; a duration is within 0..1e12 ms;
 *   - an accepted duration is digits and units only, and a sum: doubling
 *     it as text (s + s) parses to twice the value, or is refused as too
 *     large;
 *   - an accepted size is at most 2^60, its unit is K, M, G or T in either
 *     case (same value), and its bytes written back as a number parse to
 *     the same size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"

#define LIMIT_MS 1000000000000LL

static void check_duration(const char *s, size_t len)
{
	char err[256] = "", twice[2 * 64 + 1];
	long long ms = -7, keys = -7, again = -7;
	int rc = config_parse_duration_ms(s, 1, &ms, err, sizeof(err));

	if (rc != 0) {
		if (rc != -1 || ms != -7 || !err[0])
			abort();
	} else if (ms < 0 || ms > LIMIT_MS || strspn(s, "0123456789msdh") != len) {
		abort();
	}
	if (config_parse_duration_ms(s, 0, &keys, err, sizeof(err)) == 0 && (rc != 0 || keys != ms))
		abort();
	/* "1h" + "1h" is "1h1h": a sum. A bare number is seconds only alone. */
	if (rc == 0 && len <= 64 && strspn(s, "0123456789") != len) {
		snprintf(twice, sizeof(twice), "%s%s", s, s);
		err[0] = '\0';
		if (config_parse_duration_ms(twice, 1, &again, err, sizeof(err)) == 0) {
			if (again != 2 * ms)
				abort();
		} else if (!strstr(err, "too large")) {
			abort();
		}
	}
}

static void check_size(const char *s, size_t len)
{
	char err[256] = "", text[32], other[64];
	unsigned long long b = 7, c = 7;
	int rc = config_parse_size(s, &b, err, sizeof(err));

	if (rc != 0) {
		if (rc != -1 || b != 7 || !err[0])
			abort();
		return;
	}
	if (b > (1ULL << 60) || len == 0)
		abort();
	if (strspn(s, "0123456789") < len - 1 || !strchr("0123456789kKmMgGtT", s[len - 1]))
		abort();
	snprintf(text, sizeof(text), "%llu", b);
	if (config_parse_size(text, &c, err, sizeof(err)) != 0 || c != b)
		abort();
	/* The unit's other case means the same. */
	if (len >= sizeof(other))
		return; /* leading zeros */
	memcpy(other, s, len + 1);
	if (other[len - 1] >= 'a' && other[len - 1] <= 'z')
		other[len - 1] = (char)(other[len - 1] - 'a' + 'A');
	else if (other[len - 1] >= 'A' && other[len - 1] <= 'Z')
		other[len - 1] = (char)(other[len - 1] - 'A' + 'a');
	c = 7;
	if (config_parse_size(other, &c, err, sizeof(err)) != 0 || c != b)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* An embedded NUL ends the argument, as in argv. */
	check_duration(s, strlen(s));
	check_size(s, strlen(s));
	free(s);
	return 0;
}
