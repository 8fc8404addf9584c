/*
 * proxypath — strict on purpose: a path that the go command would not send
 * is refused, so nothing odd reaches the cache or an upstream.
 */
#include "sumdb/proxypath.h"

#include "proxy/errbuf.h"
#include "proxy/modpath.h"

#include <string.h>

static int is_digits(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* A canonical decimal number of at most maxlen digits (no leading zero). */
static int is_number(const char *s, size_t n, size_t maxlen)
{
	return is_digits(s, n) && n <= maxlen && (n == 1 || s[0] != '0');
}

/* tile/H/L/K[.p/W], L a number or "data", K in 3-digit elements all but the
 * last prefixed with x: the shapes tlog.Tile.Path writes. */
static int check_tile(const char *t)
{
	const char *e;
	size_t n;

	e = strchr(t, '/');
	if (!e || !is_number(t, (size_t)(e - t), 2))
		return -1;
	t = e + 1;
	e = strchr(t, '/');
	if (!e)
		return -1;
	n = (size_t)(e - t);
	if (!(n == 4 && strncmp(t, "data", 4) == 0) && !is_number(t, n, 2))
		return -1;
	t = e + 1;
	/* x001/x234/067, then optionally .p/W */
	for (;;) {
		if (t[0] == 'x') {
			if (!is_digits(t + 1, 3) || t[4] != '/')
				return -1;
			t += 5;
			continue;
		}
		if (!is_digits(t, 3))
			return -1;
		t += 3;
		break;
	}
	if (*t == '\0')
		return 0;
	if (strncmp(t, ".p/", 3) != 0)
		return -1;
	t += 3;
	n = strlen(t);
	/* a partial tile holds 1..255 hashes at height 8: W in 1..2^H-1 */
	return is_number(t, n, 3) && t[0] != '0' ? 0 : -1;
}

static int check_lookup(const char *q, char *err, size_t errlen)
{
	char mod[MODPATH_ESC_MAX + 1], out[MODPATH_MAX + 1];
	const char *at = strrchr(q, '@');

	if (!at || (size_t)(at - q) >= sizeof(mod)) {
		errbuf_set(err, errlen, "lookup wants MODULE@VERSION");
		return -1;
	}
	memcpy(mod, q, (size_t)(at - q));
	mod[at - q] = '\0';
	if (modpath_unescape_path(mod, out, sizeof(out), err, errlen) < 0 ||
	    modpath_unescape_version(at + 1, out, sizeof(out), err, errlen) < 0)
		return -1;
	return 0;
}

int sumdb_parse_path(const char *raw, struct sumdb_path *p, int *status, char *err, size_t errlen)
{
	char path[SUMDB_NAME_MAX + SUMDB_REST_MAX + 16];
	const char *name, *slash;
	size_t n, rawlen;
	long dn;

	memset(p, 0, sizeof(*p));
	*status = 404;
	if (strncmp(raw, "/sumdb/", 7) != 0) {
		errbuf_set(err, errlen, "not a checksum database path");
		return -1;
	}
	*status = 400;
	rawlen = strnlen(raw + 7, sizeof(path));
	dn = rawlen < sizeof(path) ? modpath_percent_decode(raw + 7, rawlen, path) : -1;
	if (dn < 0) {
		errbuf_set(err, errlen, "malformed checksum database path");
		return -1;
	}
	path[dn] = '\0';
	name = path;
	slash = strchr(name, '/');
	n = slash ? (size_t)(slash - name) : 0;
	if (!slash || n == 0 || n > SUMDB_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789.-_") < n || name[0] == '.') {
		errbuf_set(err, errlen, "malformed checksum database name");
		return -1;
	}
	memcpy(p->name, name, n);
	p->name[n] = '\0';
	if (strlen(slash + 1) > SUMDB_REST_MAX) {
		errbuf_set(err, errlen, "checksum database path too long");
		return -1;
	}
	strcpy(p->rest, slash + 1);
	if (strcmp(p->rest, "supported") == 0) {
		p->kind = SUMDB_SUPPORTED;
	} else if (strcmp(p->rest, "latest") == 0) {
		p->kind = SUMDB_LATEST;
	} else if (strncmp(p->rest, "lookup/", 7) == 0) {
		if (check_lookup(p->rest + 7, err, errlen) < 0)
			goto bad;
		p->kind = SUMDB_LOOKUP;
	} else if (strncmp(p->rest, "tile/", 5) == 0) {
		if (check_tile(p->rest + 5) < 0) {
			errbuf_set(err, errlen, "malformed tile path %.100s", p->rest);
			goto bad;
		}
		p->kind = SUMDB_TILE;
		p->immutable = 1;
	} else {
		*status = 404;
		errbuf_set(err, errlen, "not a checksum database endpoint: %.100s", p->rest);
		goto bad;
	}
	*status = 200;
	return 0;
bad:
	memset(p, 0, sizeof(*p));
	return -1;
}
