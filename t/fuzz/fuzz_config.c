/*
 * libFuzzer target for the INI loader (and, through it, the GOPROXY, listen,
 * duration and pattern parsers).
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
 *       proxy/config.c proxy/pathglob.c t/fuzz/fuzz_config.c -linih -o fuzz_config
 *   ./fuzz_config -max_total_time=60 corpus/
 *
 * Besides "no crash, no leak, no undefined behaviour", it checks properties:
 *   - a failed load leaves the config exactly as it was and says why, with
 *     the name in front;
 *   - a successful load dumps to text that loads back to the same config;
 *   - a pattern is malformed for every name or for none (pathglob reports
 *     syntax errors whatever the name), and pathglob_check_patterns agrees.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/config.h"
#include "proxy/pathglob.h"

static int same_config(const struct config *a, const struct config *b)
{
	if (strcmp(a->listen_host, b->listen_host) || a->listen_port != b->listen_port ||
	    strcmp(a->cache_dir, b->cache_dir) || a->n_upstreams != b->n_upstreams ||
	    strcmp(a->noproxy, b->noproxy) || a->list_ttl_s != b->list_ttl_s ||
	    a->negative_ttl_s != b->negative_ttl_s ||
	    a->connect_timeout_ms != b->connect_timeout_ms ||
	    a->first_byte_timeout_ms != b->first_byte_timeout_ms ||
	    a->idle_timeout_ms != b->idle_timeout_ms || a->workers != b->workers ||
	    a->max_connections != b->max_connections)
		return 0;
	for (int i = 0; i < a->n_upstreams; i++)
		if (a->upstreams[i].kind != b->upstreams[i].kind ||
		    strcmp(a->upstreams[i].url, b->upstreams[i].url) ||
		    a->upstreams[i].fallthrough_any != b->upstreams[i].fallthrough_any)
			return 0;
	return 1;
}

static void check_roundtrip(const struct config *c)
{
	struct config back;
	char err[1024], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	config_dump(c, f);
	if (fclose(f) != 0)
		abort();
	config_init_defaults(&back);
	back.workers = 64; /* differ from c somewhere, so every key must be dumped */
	if (config_load_string(&back, text, "dump", err, sizeof(err)) != 0) {
		fprintf(stderr, "dump does not load back: %s\n%s", err, text);
		abort();
	}
	if (!same_config(&back, c)) {
		fprintf(stderr, "dump loads back to another config:\n%s", text);
		abort();
	}
	free(text);
}

/* The first line as a pattern, the second as a name. */
static void check_glob(const char *text)
{
	char pat[256], name[256], err[512];
	const char *nl = strchr(text, '\n'), *nl2;
	size_t n;
	int m, m_empty;

	n = nl ? (size_t)(nl - text) : strlen(text);
	if (n >= sizeof(pat))
		return;
	memcpy(pat, text, n);
	pat[n] = '\0';
	name[0] = '\0';
	if (nl) {
		nl2 = strchr(nl + 1, '\n');
		n = nl2 ? (size_t)(nl2 - nl - 1) : strlen(nl + 1);
		if (n < sizeof(name)) {
			memcpy(name, nl + 1, n);
			name[n] = '\0';
		}
	}
	m = pathglob_match(pat, name);
	m_empty = pathglob_match(pat, "");
	if ((m < 0) != (m_empty < 0)) {
		fprintf(stderr, "pattern \"%s\": malformed for one name, not another\n", pat);
		abort();
	}
	/* The list checker splits at ',' and drops one trailing '/'. */
	n = strlen(pat);
	if (!strchr(pat, ',') && !(n > 0 && pat[n - 1] == '/')) {
		int rc = pathglob_check_patterns(pat, err, sizeof(err));

		if ((rc < 0) != (m < 0)) {
			fprintf(stderr, "pattern \"%s\": check %d, match %d\n", pat, rc, m);
			abort();
		}
	}
	(void)pathglob_match_prefix(pat, name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c, before;
	char err[1024];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* the string entry point stops at the first NUL */

	config_init_defaults(&c);
	before = c;
	err[0] = '\0';
	if (config_load_string(&c, text, "fuzz", err, sizeof(err)) == 0) {
		check_roundtrip(&c);
		(void)config_is_noproxy(&c, "git.corp.example/team/mod");
		(void)config_is_noproxy(&c, "");
	} else {
		if (strncmp(err, "fuzz:", 5) != 0 || !same_config(&c, &before)) {
			fprintf(stderr, "bad failure: \"%s\"\n", err);
			abort();
		}
	}
	check_glob(text);
	free(text);
	return 0;
}
