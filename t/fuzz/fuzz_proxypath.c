/* libFuzzer target for sumdb/proxypath: any bytes as a request path; a
 * parsed path must be safe to join under the cache and the error one line. */
#include "sumdb/proxypath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sumdb_path p;
	char raw[8192], err[300];
	int status;

	if (size >= sizeof(raw))
		return 0;
	memcpy(raw, data, size);
	raw[size] = '\0';
	if (sumdb_parse_path(raw, &p, &status, err, sizeof(err)) == 0) {
		if (status != 200 || strstr(p.rest, "..") == p.rest || strstr(p.rest, "/../") ||
		    strchr(p.rest, '\\') || p.name[0] == '.' || strchr(p.name, '/'))
			abort();
	} else if (status == 200 || strchr(err, '\n')) {
		abort();
	}
	return 0;
}
