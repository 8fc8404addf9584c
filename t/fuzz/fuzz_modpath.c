/*
 * fuzz_modpath — libFuzzer target for proxy/modpath.c.
 *
 * Feeds the input to every entry point and checks what must hold whatever
 * the bytes: a parsed request is safe to join under a cache directory, its
 * escaped and unescaped forms round-trip, .mod/.zip versions are canonical,
 * and every error is one printable line. A broken invariant aborts, which
 * libFuzzer reports as a crash with the input saved.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -D_GNU_SOURCE \
 *       proxy/modpath.c t/fuzz/fuzz_modpath.c -o fuzz_modpath
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/modpath.h"

/* Longest input tried: twice what modpath_parse_request looks at. */
#define FUZZ_MAX (2 * MODPATH_RAW_MAX)

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static int one_line(const char *s)
{
	if (s[0] == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	}
	return 1;
}

/* Relative, no empty/"."/".." element, no backslash, colon or control byte. */
static int safe_rel_path(const char *p)
{
	const char *e = p, *s;

	if (p[0] == '\0' || p[0] == '/')
		return 0;
	for (s = p; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '\\' ||
		    *s == ':')
			return 0;
	}
	for (;;) {
		size_t n = strcspn(e, "/");

		if (n == 0 || (n == 1 && e[0] == '.') || (n == 2 && e[0] == '.' && e[1] == '.'))
			return 0;
		if (e[n] == '\0')
			return 1;
		e += n + 1;
	}
}

static void check_request(const char *s)
{
	static struct modpath_req req;
	char err[512], buf[MODPATH_ESC_MAX + 1];
	int status = 0;

	err[0] = '\0';
	if (modpath_parse_request(s, &req, &status, err, sizeof(err)) < 0) {
		CHECK(status == 400 || status == 404);
		CHECK(one_line(err));
		CHECK(req.module[0] == '\0' && req.version[0] == '\0');
		CHECK(req.esc_module[0] == '\0' && req.esc_version[0] == '\0');
		return;
	}
	CHECK(status == 200);
	CHECK(strlen(req.module) <= MODPATH_MAX && strlen(req.version) <= MODPATH_MAX);
	CHECK(safe_rel_path(req.module) && safe_rel_path(req.esc_module));
	CHECK(modpath_check_path(req.module, NULL, 0) == 0);
	CHECK(modpath_escape_path(req.module, buf, sizeof(buf), NULL, 0) == 0);
	CHECK(strcmp(buf, req.esc_module) == 0);
	CHECK(modpath_unescape_path(req.esc_module, buf, sizeof(buf), NULL, 0) == 0);
	CHECK(strcmp(buf, req.module) == 0);
	if (req.kind == MODPATH_LIST || req.kind == MODPATH_LATEST) {
		CHECK(req.version[0] == '\0' && req.esc_version[0] == '\0' && !req.canonical);
		return;
	}
	CHECK(req.kind == MODPATH_INFO || req.kind == MODPATH_MOD || req.kind == MODPATH_ZIP);
	CHECK(safe_rel_path(req.version) && strchr(req.version, '/') == NULL);
	CHECK(safe_rel_path(req.esc_version) && strchr(req.esc_version, '/') == NULL);
	CHECK(modpath_check_version_elem(req.version, NULL, 0) == 0);
	CHECK(modpath_escape_version(req.version, buf, sizeof(buf), NULL, 0) == 0);
	CHECK(strcmp(buf, req.esc_version) == 0);
	CHECK(modpath_unescape_version(req.esc_version, buf, sizeof(buf), NULL, 0) == 0);
	CHECK(strcmp(buf, req.version) == 0);
	CHECK(req.canonical == modpath_is_canonical_version(req.version));
	if (req.kind != MODPATH_INFO)
		CHECK(req.canonical);
}

/* The pieces on their own: each direction inverts the other. */
static void check_pieces(const char *s)
{
	static char a[3 * FUZZ_MAX + 1], b[3 * FUZZ_MAX + 1]; /* url_escape triples */
	char err[512];

	err[0] = '\0';
	if (modpath_check_path(s, err, sizeof(err)) == 0) {
		CHECK(safe_rel_path(s));
		CHECK(modpath_escape_path(s, a, sizeof(a), NULL, 0) == 0);
		CHECK(modpath_unescape_path(a, b, sizeof(b), NULL, 0) == 0 && strcmp(b, s) == 0);
	} else {
		CHECK(one_line(err));
		CHECK(modpath_escape_path(s, a, sizeof(a), NULL, 0) < 0 && a[0] == '\0');
	}
	err[0] = '\0';
	if (modpath_unescape_path(s, a, sizeof(a), err, sizeof(err)) == 0) {
		CHECK(modpath_escape_path(a, b, sizeof(b), NULL, 0) == 0 && strcmp(b, s) == 0);
	} else {
		CHECK(one_line(err) && a[0] == '\0');
	}
	err[0] = '\0';
	if (modpath_escape_version(s, a, sizeof(a), err, sizeof(err)) == 0) {
		CHECK(modpath_check_version_elem(s, NULL, 0) == 0);
		CHECK(modpath_unescape_version(a, b, sizeof(b), NULL, 0) == 0 && strcmp(b, s) == 0);
	} else {
		CHECK(one_line(err) && a[0] == '\0');
	}
	err[0] = '\0';
	if (modpath_unescape_version(s, a, sizeof(a), err, sizeof(err)) == 0) {
		CHECK(modpath_escape_version(a, b, sizeof(b), NULL, 0) == 0 && strcmp(b, s) == 0);
		CHECK(strchr(a, '/') == NULL && strcmp(a, ".") != 0 && strcmp(a, "..") != 0);
	} else {
		CHECK(one_line(err) && a[0] == '\0');
	}
	if (modpath_is_canonical_version(s))
		CHECK(modpath_semver_is_valid(s));
	CHECK(modpath_url_escape(s, a, sizeof(a)) == 0);
	CHECK(strlen(a) >= strlen(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > FUZZ_MAX)
		return 0;
	s = malloc(size + 2);
	if (s == NULL)
		return 0;
	/* As it comes, then as a path: most inputs lack the leading "/". */
	memcpy(s, data, size);
	s[size] = '\0';
	check_request(s);
	check_pieces(s);
	s[0] = '/';
	memcpy(s + 1, data, size);
	s[size + 1] = '\0';
	check_request(s);
	free(s);
	return 0;
}
