/*
 * warmparse — three small readers over one list.
 */
#include "proxy/warmparse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 100000
#define MAX_FIELDS 8

static int add(struct warm_list *l, const char *module, size_t mlen, const char *version,
               size_t vlen, int want_zip, char *why, size_t whylen)
{
	struct warm_entry e = {0}, *grown;

	if (mlen > MODPATH_MAX || vlen > MODPATH_MAX) {
		snprintf(why, whylen, "path or version too long");
		return -1;
	}
	memcpy(e.module, module, mlen);
	memcpy(e.version, version, vlen);
	if (modpath_check_path(e.module, why, whylen) < 0)
		return -1;
	if (!modpath_is_canonical_version(e.version)) {
		snprintf(why, whylen, "%.200s is not a canonical version", e.version);
		return -1;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].module, e.module) == 0 &&
		    strcmp(l->v[i].version, e.version) == 0) {
			l->v[i].want_zip |= want_zip;
			return 0;
		}
	}
	if (l->n == MAX_ENTRIES) {
		snprintf(why, whylen, "more than %d module versions", MAX_ENTRIES);
		return -1;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		grown = realloc(l->v, l->cap * sizeof(*l->v));
		if (!grown) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		l->v = grown;
	}
	e.want_zip = want_zip;
	l->v[l->n++] = e;
	return 0;
}

/* Splits line (len bytes) into blank-separated fields, up to max; a "//"
 * field ends the line. Returns the count. */
static int fields(const char *line, size_t len, const char *f[], size_t fl[], int max)
{
	size_t i = 0;
	int n = 0;

	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i >= len || (i + 1 < len && line[i] == '/' && line[i + 1] == '/'))
			break;
		if (n == max)
			return max + 1;
		f[n] = line + i;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			i++;
		fl[n] = (size_t)(line + i - f[n]);
		/* The go.mod syntax allows a quoted path. */
		if (fl[n] >= 2 && f[n][0] == '"' && f[n][fl[n] - 1] == '"') {
			f[n]++;
			fl[n] -= 2;
		}
		n++;
	}
	return n;
}

static int is(const char *f, size_t fl, const char *word)
{
	return fl == strlen(word) && memcmp(f, word, fl) == 0;
}

static int parse_gosum_line(struct warm_list *l, const char *f[], size_t fl[], int n, char *why,
                            size_t whylen)
{
	int zip = 1;
	size_t vl;

	if (n != 3 || fl[2] < 4 || memcmp(f[2], "h1:", 3) != 0) {
		snprintf(why, whylen, "want \"MODULE VERSION[/go.mod] h1:HASH\"");
		return -1;
	}
	vl = fl[1];
	if (vl > 7 && memcmp(f[1] + vl - 7, "/go.mod", 7) == 0) {
		vl -= 7;
		zip = 0;
	}
	return add(l, f[0], fl[0], f[1], vl, zip, why, whylen);
}

/* One line of a go.mod: block is the verb of the block we are in, or "". */
static int parse_gomod_line(struct warm_list *l, const char *f[], size_t fl[], int n,
                            char block[16], char *why, size_t whylen)
{
	const char *verb;
	int k = 0;

	if (n == 0)
		return 0;
	if (block[0] && n == 1 && is(f[0], fl[0], ")")) {
		block[0] = '\0';
		return 0;
	}
	if (!block[0]) {
		if (n == 2 && is(f[1], fl[1], "(") && fl[0] < 16) {
			memcpy(block, f[0], fl[0]);
			block[fl[0]] = '\0';
			return 0;
		}
		verb = NULL;
		if (is(f[0], fl[0], "require"))
			verb = "require";
		else if (is(f[0], fl[0], "replace"))
			verb = "replace";
		if (!verb)
			return 0; /* module, go, toolchain, exclude, retract, godebug... */
		k = 1;
	} else {
		verb = block;
	}
	if (strcmp(verb, "require") == 0) {
		if (n - k != 2) {
			snprintf(why, whylen, "want \"require MODULE VERSION\"");
			return -1;
		}
		return add(l, f[k], fl[k], f[k + 1], fl[k + 1], 1, why, whylen);
	}
	if (strcmp(verb, "replace") == 0) {
		/* OLD [V] => NEW [V]: only a target with a version is a module. */
		int arrow = -1;

		for (int i = k; i < n; i++)
			if (is(f[i], fl[i], "=>"))
				arrow = i;
		if (arrow < 0 || n - arrow - 1 < 1 || n - arrow - 1 > 2) {
			snprintf(why, whylen, "want \"replace OLD [VERSION] => NEW [VERSION]\"");
			return -1;
		}
		if (n - arrow - 1 == 2)
			return add(l, f[arrow + 1], fl[arrow + 1], f[arrow + 2], fl[arrow + 2], 1,
			           why, whylen);
	}
	return 0;
}

static int parse_json(struct warm_list *l, const char *text, size_t len, char *err, size_t errlen)
{
	size_t off = 0;
	int n = 0;
	char why[300];

	while (off < len) {
		json_error_t je;
		json_t *o, *rep;
		const char *path, *ver;

		while (off < len && strchr(" \t\r\n", text[off]))
			off++;
		if (off >= len)
			break;
		o = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &je);
		n++;
		if (!o || !json_is_object(o)) {
			snprintf(err, errlen, "go list -m -json object %d: %s", n,
			         o ? "not an object" : je.text);
			json_decref(o);
			return -1;
		}
		off += je.position;
		rep = json_object_get(o, "Replace");
		if (json_is_object(rep) && json_is_string(json_object_get(rep, "Version"))) {
			path = json_string_value(json_object_get(rep, "Path"));
			ver = json_string_value(json_object_get(rep, "Version"));
		} else {
			path = json_string_value(json_object_get(o, "Path"));
			ver = json_string_value(json_object_get(o, "Version"));
		}
		/* The main module and local replacements have no version. */
		if (path && ver && !(json_is_object(rep) && !json_object_get(rep, "Version")) &&
		    add(l, path, strlen(path), ver, strlen(ver), 1, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "go list -m -json object %d: %s", n, why);
			json_decref(o);
			return -1;
		}
		json_decref(o);
	}
	return 0;
}

int warm_parse(struct warm_list *list, const char *text, size_t len, char *err, size_t errlen)
{
	const char *p = text, *end = text + len, *f[MAX_FIELDS];
	size_t fl[MAX_FIELDS], skip = 0;
	int lineno = 0, gomod = 0, n;
	char block[16] = "", why[300];

	while (skip < len && strchr(" \t\r\n", text[skip]))
		skip++;
	if (skip < len && text[skip] == '{')
		return parse_json(list, text, len, err, errlen);
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "a NUL byte: not a go.sum, go.mod or JSON text");
		return -1;
	}
	/* A go.mod names its module; a go.sum line never starts so. */
	for (const char *q = text; q < end; q++)
		if ((q == text || q[-1] == '\n') && end - q > 7 && memcmp(q, "module ", 7) == 0)
			gomod = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);

		lineno++;
		n = fields(p, ll, f, fl, MAX_FIELDS);
		if (n > MAX_FIELDS) {
			snprintf(err, errlen, "%s line %d: too many fields",
			         gomod ? "go.mod" : "go.sum", lineno);
			return -1;
		}
		if (gomod ? parse_gomod_line(list, f, fl, n, block, why, sizeof(why)) < 0
		          : n > 0 && parse_gosum_line(list, f, fl, n, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s line %d: %s", gomod ? "go.mod" : "go.sum", lineno,
			         why);
			return -1;
		}
		p += ll + 1;
	}
	return 0;
}

void warm_list_free(struct warm_list *list)
{
	free(list->v);
	list->v = NULL;
	list->n = list->cap = 0;
}
