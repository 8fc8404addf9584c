/*
 * libFuzzer target for warmparse (proxy/warmparse.c): go.sum, go.mod and
 * `go list -m -json` text as `modgate warm` reads it.
 *
 * Besides "no crash, no out-of-bounds read, no undefined behaviour, no
 * leak", it checks properties of every list it accepts:
 *   - each entry has a valid module path and a canonical version (the
 *     escaping warm uses for its URLs succeeds on both);
 *   - no two entries name the same module@version;
 *   - parsing the same text again into the same list adds nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/modpath.h"
#include "proxy/warmparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct warm_list l = {0};
	char err[300], esc[MODPATH_ESC_MAX + 1];
	size_t n;

	if (warm_parse(&l, (const char *)data, size, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < l.n; i++) {
			if (modpath_escape_path(l.v[i].module, esc, sizeof(esc), err, sizeof(err)) <
			        0 ||
			    modpath_escape_version(l.v[i].version, esc, sizeof(esc), err,
			                           sizeof(err)) < 0 ||
			    !modpath_is_canonical_version(l.v[i].version))
				abort();
			for (size_t j = 0; j < i; j++)
				if (strcmp(l.v[i].module, l.v[j].module) == 0 &&
				    strcmp(l.v[i].version, l.v[j].version) == 0)
					abort();
		}
		n = l.n;
		if (warm_parse(&l, (const char *)data, size, err, sizeof(err)) != 0 || l.n != n)
			abort();
	}
	warm_list_free(&l);
	return 0;
}
