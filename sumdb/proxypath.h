/*
 * proxypath — the checksum database paths a go command asks its proxy for:
 *   /sumdb/NAME/supported
 *   /sumdb/NAME/latest
 *   /sumdb/NAME/lookup/ESCAPED_MODULE@ESCAPED_VERSION
 *   /sumdb/NAME/tile/H/L/K[.p/W]  and  /sumdb/NAME/tile/H/data/K[.p/W]
 * split and checked so that the rest can be joined under the cache
 * directory and an upstream URL as it is.
 *
 * Pure: no I/O, no allocation; any thread, any callback.
 */
#ifndef MODGATE_SUMDB_PROXYPATH_H
#define MODGATE_SUMDB_PROXYPATH_H

#include <stddef.h>

#define SUMDB_NAME_MAX 255
#define SUMDB_REST_MAX 4096

enum sumdb_path_kind { SUMDB_SUPPORTED, SUMDB_LATEST, SUMDB_LOOKUP, SUMDB_TILE };

struct sumdb_path {
	enum sumdb_path_kind kind;
	char name[SUMDB_NAME_MAX + 1]; /* the database, e.g. sum.golang.org */
	char rest[SUMDB_REST_MAX + 1]; /* after NAME/, percent-decoded: "tile/8/0/x001/234" */
	int immutable;                 /* tiles never change, full or partial */
};

/* Parses the raw (still percent-encoded) URL path of a /sumdb/ request.
 * 0 with *p filled, or -1 with *status 404 (not a checksum database path)
 * or 400 (malformed) and one line in err. */
int sumdb_parse_path(const char *raw, struct sumdb_path *p, int *status, char *err, size_t errlen);

#endif
