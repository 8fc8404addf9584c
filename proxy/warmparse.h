/*
 * warmparse — the module versions a go.sum, a go.mod or the output of
 * `go list -m -json all` names, for `modgate warm`.
 *
 * go.sum: "MODULE VERSION h1:..." wants the zip (and so .info and .mod),
 * "MODULE VERSION/go.mod h1:..." the .mod alone. go.mod: every require
 * (line or block) and every replace whose target has a version; local
 * replacements (a path, no version) are skipped. `go list -m -json`: one
 * JSON object per module; the main module (no Version) is skipped, a
 * Replace with a version replaces the module. Every path is checked with
 * modpath_check_path and every version must be canonical; duplicates are
 * merged (a zip wanted once is wanted).
 *
 * Ownership: the list owns its entries; plain data otherwise. Any thread.
 */
#ifndef MODGATE_WARMPARSE_H
#define MODGATE_WARMPARSE_H

#include <stddef.h>

#include "proxy/modpath.h"

struct warm_entry {
	char module[MODPATH_MAX + 1];
	char version[MODPATH_MAX + 1];
	int want_zip; /* 0: .info and .mod; 1: .info, .mod and .zip */
};

struct warm_list {
	struct warm_entry *v;
	size_t n, cap;
};

/* Appends what text (len bytes, borrowed; the format is told by its content)
 * names to list, skipping duplicates. 0, or -1 with err naming the first bad
 * line ("go.sum line 3: ..."); entries added before it stay. */
int warm_parse(struct warm_list *list, const char *text, size_t len, char *err, size_t errlen);

void warm_list_free(struct warm_list *list);

#endif
