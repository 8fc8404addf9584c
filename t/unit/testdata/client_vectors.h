/*
 * The checksum-database vectors of client_vectors.inc (written by
 * gen_client.go from the real golang.org/x/mod/sumdb), for test_client and
 * fuzz_client: the types, then the tables. Include once per program.
 */
#ifndef MODGATE_CLIENT_VECTORS_H
#define MODGATE_CLIENT_VECTORS_H

#include <stddef.h>
#include <stdint.h>

/* A signed tree head of log 0 (the main one) or 1 (its fork) at size n. */
struct cv_stage {
	int log;
	int64_t n;
	const char *hash;
	const char *note;
	size_t note_len;
};

/* A /lookup answer the log served at size n, and what it proves. */
struct cv_answer {
	int log;
	int64_t n, id;
	const char *module, *version, *esc, *path, *zip_h1, *mod_h1, *body;
	size_t len;
};

/* A /tile/ body of a log. */
struct cv_tile {
	int log;
	const char *path;
	size_t len;
	const char *data;
};

/* A record text and tlog.ParseRecord's verdict on it. */
struct cv_record {
	const char *what, *msg;
	size_t len;
	int ok;     /* tlog.ParseRecord accepts it */
	int strict; /* Go accepts it, modgate refuses it on purpose */
	int64_t id;
	size_t text_len, rest_len;
};

#include "t/unit/testdata/client_vectors.inc"

#define NVEC(a) (sizeof(a) / sizeof((a)[0]))

#endif
