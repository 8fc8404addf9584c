/*
 * modpath — the path and version rules of golang.org/x/mod, in C.
 *
 * The rules are ported from module/module.go and semver/semver.go; the Go
 * source is the authority, and the comments below say where a rule comes
 * from. Everything works on (pointer, length) spans so that the request
 * parser can check pieces of one decoded buffer without copying them.
 *
 * Why so strict: the module path and version we return become directory and
 * file names in the cache. CheckPath (no empty, "." or ".." element, no leading
 * dot, a small ASCII alphabet) and checkElem in file-path mode (no "/", "\",
 * ":" or control byte) are what make that join safe, so we apply them in full
 * rather than trusting the HTTP layer.
 */
#include "proxy/modpath.h"

#include "proxy/errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum path_kind { KIND_MODULE, KIND_FILE };

/* Room for one reason line; untrusted text in it is quoted and truncated. */
#define WHY_MAX 512
/* Untrusted strings are quoted up to this many bytes, then "...". */
#define QUOTE_MAX 80

/* Writes s[0..n) as a double-quoted string with Go-like escapes for '"', '\'
 * and every byte outside printable ASCII, cut after QUOTE_MAX input bytes.
 * dst must hold at least 4 * QUOTE_MAX + 8 bytes. */
static void quote(char *dst, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, j = 0;

	dst[j++] = '"';
	for (i = 0; i < n && i < QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			dst[j++] = '\\';
			dst[j++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			dst[j++] = '\\';
			dst[j++] = 'x';
			dst[j++] = hex[c >> 4];
			dst[j++] = hex[c & 15];
		} else {
			dst[j++] = (char)c;
		}
	}
	dst[j++] = '"';
	if (n > QUOTE_MAX) {
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = '\0';
}

#define QUOTED_SIZE (4 * QUOTE_MAX + 8)

/* The rune literal Go's %q prints for an ASCII byte; '\xNN' otherwise. */
static void quote_char(char *dst, unsigned char c)
{
	if (c == '\'' || c == '\\')
		snprintf(dst, 8, "'\\%c'", c);
	else if (c < 0x20 || c >= 0x7f)
		snprintf(dst, 8, "'\\x%02x'", c);
	else
		snprintf(dst, 8, "'%c'", c);
}

/* utf8.ValidString: well-formed, shortest-form, no surrogates, <= U+10FFFF. */
static int utf8_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t len, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			unsigned char d = (unsigned char)s[i + k];

			if (d < (k == 1 ? lo : 0x80) || d > (k == 1 ? hi : 0xbf))
				return 0;
		}
		i += len;
	}
	return 1;
}

static int is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static int is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum(unsigned char c)
{
	return is_lower(c) || is_upper(c) || is_digit(c);
}

/* firstPathOK: the first element is a lower-case LDH domain name. */
static int first_char_ok(unsigned char c)
{
	return c == '-' || c == '.' || is_digit(c) || is_lower(c);
}

/* modPathOK: ASCII letters, digits and - . _ ~; nothing that changes meaning
 * in a URL ('%', '+') or on a command line. */
static int mod_char_ok(unsigned char c)
{
	return c == '-' || c == '.' || c == '_' || c == '~' || is_alnum(c);
}

/* fileNameOK, ASCII part: all punctuation but " ' * < > ? ` | / \ and :,
 * which shells or file systems give meaning to. Space is allowed. Go also
 * allows non-ASCII letters; unescaping never produces them, so we don't. */
static int file_char_ok(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&()+,-.=@[]^_{}~ ", c) != NULL);
}

/* badWindowsNames, compared case-insensitively with the element up to its
 * first dot. */
static int bad_windows_name(const char *s, size_t n)
{
	static const char *const names[] = {
	    "CON",  "PRN",  "AUX",  "NUL",  "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
	    "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"};
	size_t i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) != n)
			continue;
		for (k = 0; k < n; k++) {
			unsigned char c = (unsigned char)s[k];

			if (is_lower(c))
				c = (unsigned char)(c - 'a' + 'A');
			if (c != (unsigned char)names[i][k])
				break;
		}
		if (k == n)
			return 1;
	}
	return 0;
}

/* checkElem: 0, or -1 with the reason in why. */
static int check_elem(const char *e, size_t n, enum path_kind kind, char *why)
{
	char q[QUOTED_SIZE];
	size_t i, dots = 0, short_n;
	const char *dot;

	if (n == 0) {
		snprintf(why, WHY_MAX, "empty path element");
		return -1;
	}
	for (i = 0; i < n; i++)
		dots += e[i] == '.';
	if (dots == n) {
		quote(q, e, n);
		snprintf(why, WHY_MAX, "invalid path element %s", q);
		return -1;
	}
	if (e[0] == '.' && kind == KIND_MODULE) {
		snprintf(why, WHY_MAX, "leading dot in path element");
		return -1;
	}
	if (e[n - 1] == '.') {
		snprintf(why, WHY_MAX, "trailing dot in path element");
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)e[i];

		if (!(kind == KIND_MODULE ? mod_char_ok(c) : file_char_ok(c))) {
			quote_char(q, c);
			snprintf(why, WHY_MAX, "invalid char %s", q);
			return -1;
		}
	}
	/* Windows reserves these names whatever the extension. */
	dot = memchr(e, '.', n);
	short_n = dot != NULL ? (size_t)(dot - e) : n;
	if (bad_windows_name(e, short_n)) {
		quote(q, e, short_n);
		snprintf(why, WHY_MAX, "%s disallowed as path element component on Windows", q);
		return -1;
	}
	if (kind == KIND_FILE)
		return 0;
	/* "name~1" looks like a Windows short name, which could alias another
	 * element; only import and module paths care. */
	for (i = short_n; i > 0 && e[i - 1] != '~'; i--)
		;
	if (i > 0 && i < short_n) {
		size_t k;

		for (k = i; k < short_n && is_digit((unsigned char)e[k]); k++)
			;
		if (k == short_n) {
			snprintf(why, WHY_MAX, "trailing tilde and digits in path element");
			return -1;
		}
	}
	return 0;
}

/* splitGopkgIn's verdict: gopkg.in paths end in .vN (N may be 0), optionally
 * followed by -unstable; .v0N is refused but .v0 is fine. */
static int gopkgin_ok(const char *p, size_t n)
{
	static const char unstable[] = "-unstable";
	const size_t ul = sizeof(unstable) - 1;
	size_t i = n, major_n;

	if (n >= ul && memcmp(p + n - ul, unstable, ul) == 0)
		i -= ul;
	while (i > 0 && is_digit((unsigned char)p[i - 1]))
		i--;
	if (i <= 1 || p[i - 1] != 'v' || p[i - 2] != '.')
		return 0;
	major_n = n - (i - 2);
	if (major_n <= 2)
		return 0;
	if (p[i] == '0' && major_n != 3) /* .v0 is fine, .v01 is not */
		return 0;
	return 1;
}

/* SplitPathVersion's ok result: a final element /vN must have N >= 2, with no
 * leading zero and no dots. */
static int split_path_version_ok(const char *p, size_t n)
{
	size_t i = n, major_n;
	int dot = 0;

	if (n >= 9 && memcmp(p, "gopkg.in/", 9) == 0)
		return gopkgin_ok(p, n);
	while (i > 0 && (is_digit((unsigned char)p[i - 1]) || p[i - 1] == '.')) {
		if (p[i - 1] == '.')
			dot = 1;
		i--;
	}
	if (i <= 1 || i == n || p[i - 1] != 'v' || p[i - 2] != '/')
		return 1;
	major_n = n - (i - 2);
	if (dot || major_n <= 2 || p[i] == '0' || (major_n == 3 && p[i] == '1'))
		return 0;
	return 1;
}

/* CheckPath (checkPath in module mode plus the module-only rules): 0, or -1
 * with the reason in why. */
static int check_path_n(const char *p, size_t n, char *why)
{
	char q[QUOTED_SIZE];
	size_t i, start, first_n;
	const char *slash;
	int dot;

	if (!utf8_valid(p, n)) {
		snprintf(why, WHY_MAX, "invalid UTF-8");
		return -1;
	}
	if (n == 0) {
		snprintf(why, WHY_MAX, "empty string");
		return -1;
	}
	if (p[0] == '-') {
		snprintf(why, WHY_MAX, "leading dash");
		return -1;
	}
	for (i = 0; i + 1 < n; i++) {
		if (p[i] == '/' && p[i + 1] == '/') {
			snprintf(why, WHY_MAX, "double slash");
			return -1;
		}
	}
	if (p[n - 1] == '/') {
		snprintf(why, WHY_MAX, "trailing slash");
		return -1;
	}
	start = 0;
	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (check_elem(p + start, i - start, KIND_MODULE, why) < 0)
				return -1;
			start = i + 1;
		}
	}
	slash = memchr(p, '/', n);
	first_n = slash != NULL ? (size_t)(slash - p) : n;
	if (first_n == 0) {
		snprintf(why, WHY_MAX, "leading slash");
		return -1;
	}
	dot = memchr(p, '.', first_n) != NULL;
	if (!dot) {
		snprintf(why, WHY_MAX, "missing dot in first path element");
		return -1;
	}
	for (i = 0; i < first_n; i++) {
		if (!first_char_ok((unsigned char)p[i])) {
			quote_char(q, (unsigned char)p[i]);
			snprintf(why, WHY_MAX, "invalid char %s in first path element", q);
			return -1;
		}
	}
	if (!split_path_version_ok(p, n)) {
		snprintf(why, WHY_MAX, "invalid version");
		return -1;
	}
	return 0;
}

/* checkElem in file-path mode over ASCII: 0, or -1 with the reason. */
static int check_version_n(const char *v, size_t n, char *why)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)v[i] >= 0x80) {
			snprintf(why, WHY_MAX, "non-ASCII character");
			return -1;
		}
	}
	return check_elem(v, n, KIND_FILE, why);
}

/* escapeString: "!" + lowercase for each uppercase letter. The input has been
 * checked, so it holds no "!" and no non-ASCII byte. 0, or -1 when out (with
 * its NUL) would exceed outlen. */
static int case_escape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, j = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t need = is_upper(c) ? 2 : 1;

		if (outlen - j < need + 1)
			goto toolong;
		if (is_upper(c)) {
			out[j++] = '!';
			out[j++] = (char)(c - 'A' + 'a');
		} else {
			out[j++] = (char)c;
		}
	}
	if (outlen == 0)
		return -1;
	out[j] = '\0';
	return 0;
toolong:
	if (outlen > 0)
		out[0] = '\0';
	return -1;
}

enum unescape_result { UNESC_OK, UNESC_MALFORMED, UNESC_TOOLONG };

/* unescapeString: the inverse of case_escape. Malformed when a byte is
 * non-ASCII, an uppercase letter appears bare, or "!" is not followed by a
 * lowercase letter. */
static enum unescape_result case_unescape(const char *esc, size_t n, char *out, size_t outlen,
                                          size_t *outn)
{
	size_t i, j = 0;
	int toolong = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)esc[i];

		if (c >= 0x80 || is_upper(c))
			goto malformed;
		if (c == '!') {
			if (i + 1 == n || !is_lower((unsigned char)esc[i + 1]))
				goto malformed;
			c = (unsigned char)(esc[++i] - 'a' + 'A');
		}
		/* Keep scanning when out is full, so a malformed input is
		 * reported as malformed, not as too long. */
		if (j + 1 < outlen)
			out[j++] = (char)c;
		else
			toolong = 1;
	}
	if (toolong || outlen == 0)
		goto fail_toolong;
	out[j] = '\0';
	*outn = j;
	return UNESC_OK;
malformed:
	if (outlen > 0)
		out[0] = '\0';
	return UNESC_MALFORMED;
fail_toolong:
	if (outlen > 0)
		out[0] = '\0';
	return UNESC_TOOLONG;
}

/* UnescapePath or UnescapeVersion over a span: undo the case-encoding, then
 * check the result with check (check_path_n or check_version_n); what names
 * the thing in messages ("module path", "version"). */
static int unescape_n(const char *esc, size_t n, char *out, size_t outlen, const char *what,
                      int (*check)(const char *, size_t, char *), char *err, size_t errlen)
{
	char q[QUOTED_SIZE], why[WHY_MAX];
	size_t outn;

	quote(q, esc, n);
	switch (case_unescape(esc, n, out, outlen, &outn)) {
	case UNESC_OK:
		break;
	case UNESC_MALFORMED:
		errbuf_set(err, errlen, "invalid escaped %s %s: malformed case-encoding", what, q);
		return -1;
	case UNESC_TOOLONG:
		errbuf_set(err, errlen, "invalid escaped %s %s: too long", what, q);
		return -1;
	}
	if (check(out, outn, why) < 0) {
		out[0] = '\0';
		errbuf_set(err, errlen, "invalid escaped %s %s: %s", what, q, why);
		return -1;
	}
	return 0;
}

static int unescape_path_n(const char *esc, size_t n, char *out, size_t outlen, char *err,
                           size_t errlen)
{
	return unescape_n(esc, n, out, outlen, "module path", check_path_n, err, errlen);
}

static int unescape_version_n(const char *esc, size_t n, char *out, size_t outlen, char *err,
                              size_t errlen)
{
	return unescape_n(esc, n, out, outlen, "version", check_version_n, err, errlen);
}

int modpath_check_path(const char *path, char *err, size_t errlen)
{
	char q[QUOTED_SIZE], why[WHY_MAX];
	size_t n = strlen(path);

	if (check_path_n(path, n, why) == 0)
		return 0;
	quote(q, path, n);
	errbuf_set(err, errlen, "malformed module path %s: %s", q, why);
	return -1;
}

int modpath_check_version_elem(const char *v, char *err, size_t errlen)
{
	char q[QUOTED_SIZE], why[WHY_MAX];
	size_t n = strlen(v);

	if (check_version_n(v, n, why) == 0)
		return 0;
	quote(q, v, n);
	errbuf_set(err, errlen, "invalid version %s: %s", q, why);
	return -1;
}

int modpath_escape_path(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
	char q[QUOTED_SIZE];

	if (outlen > 0)
		out[0] = '\0';
	if (modpath_check_path(path, err, errlen) < 0)
		return -1;
	if (case_escape(path, strlen(path), out, outlen) < 0) {
		quote(q, path, strlen(path));
		errbuf_set(err, errlen, "module path %s: escaped form too long", q);
		return -1;
	}
	return 0;
}

int modpath_unescape_path(const char *esc, char *out, size_t outlen, char *err, size_t errlen)
{
	return unescape_path_n(esc, strlen(esc), out, outlen, err, errlen);
}

int modpath_escape_version(const char *v, char *out, size_t outlen, char *err, size_t errlen)
{
	char q[QUOTED_SIZE];
	size_t n = strlen(v);

	if (outlen > 0)
		out[0] = '\0';
	if (modpath_check_version_elem(v, err, errlen) < 0)
		return -1;
	if (memchr(v, '!', n) != NULL) {
		/* "!" is the escape character, so a literal one has no
		 * encoding; Go refuses it here for the same reason. */
		quote(q, v, n);
		errbuf_set(err, errlen, "invalid version %s: disallowed version string", q);
		return -1;
	}
	if (case_escape(v, n, out, outlen) < 0) {
		quote(q, v, n);
		errbuf_set(err, errlen, "version %s: escaped form too long", q);
		return -1;
	}
	return 0;
}

int modpath_unescape_version(const char *esc, char *out, size_t outlen, char *err, size_t errlen)
{
	return unescape_version_n(esc, strlen(esc), out, outlen, err, errlen);
}

/* ---- semver ------------------------------------------------------------ */

struct semver {
	size_t build;  /* offset of the "+build" suffix, or the length */
	int shorthand; /* vMAJOR or vMAJOR.MINOR: Canonical() would append */
};

/* parseInt: digits without an extra leading zero, starting at *i. */
static int semver_int(const char *v, size_t n, size_t *i)
{
	size_t start = *i;

	while (*i < n && is_digit((unsigned char)v[*i]))
		(*i)++;
	if (*i == start)
		return 0;
	return !(v[start] == '0' && *i - start > 1);
}

static int semver_ident_char(unsigned char c)
{
	return is_alnum(c) || c == '-';
}

/* isBadNum: an all-digit identifier with a leading zero. */
static int semver_bad_num(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && is_digit((unsigned char)s[i]); i++)
		;
	return i == n && n > 1 && s[0] == '0';
}

/* parse(): vMAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]. */
static int semver_parse(const char *v, size_t n, struct semver *p)
{
	size_t i = 1, start;

	p->build = n;
	p->shorthand = 0;
	if (n == 0 || v[0] != 'v')
		return 0;
	if (!semver_int(v, n, &i))
		return 0;
	if (i == n) {
		p->shorthand = 1;
		return 1;
	}
	if (v[i++] != '.' || !semver_int(v, n, &i))
		return 0;
	if (i == n) {
		p->shorthand = 1;
		return 1;
	}
	if (v[i++] != '.' || !semver_int(v, n, &i))
		return 0;
	if (i < n && v[i] == '-') {
		start = ++i;
		for (; i < n && v[i] != '+'; i++) {
			if (v[i] == '.') {
				if (start == i || semver_bad_num(v + start, i - start))
					return 0;
				start = i + 1;
			} else if (!semver_ident_char((unsigned char)v[i])) {
				return 0;
			}
		}
		if (start == i || semver_bad_num(v + start, i - start))
			return 0;
	}
	if (i < n && v[i] == '+') {
		p->build = i;
		start = ++i;
		for (; i < n; i++) {
			if (v[i] == '.') {
				if (start == i)
					return 0;
				start = i + 1;
			} else if (!semver_ident_char((unsigned char)v[i])) {
				return 0;
			}
		}
		if (start == i)
			return 0;
	}
	return i == n;
}

int modpath_semver_is_valid(const char *v)
{
	struct semver p;

	return semver_parse(v, strlen(v), &p);
}

static int is_canonical_n(const char *v, size_t n)
{
	static const char incompat[] = "+incompatible";
	struct semver p;

	if (!semver_parse(v, n, &p) || p.shorthand)
		return 0;
	/* Canonical() drops build metadata; CanonicalVersion() keeps exactly
	 * "+incompatible", which marks a v2+ tag in a module without /vN. */
	return p.build == n || (n - p.build == sizeof(incompat) - 1 &&
	                        memcmp(v + p.build, incompat, n - p.build) == 0);
}

int modpath_is_canonical_version(const char *v)
{
	return is_canonical_n(v, strlen(v));
}

/* ---- URLs -------------------------------------------------------------- */

int modpath_url_escape(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t j = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		int keep = is_alnum(c) || (c != '\0' && strchr("-._~$&+:=@/", c) != NULL);
		size_t need = keep ? 1 : 3;

		if (outlen - j < need + 1)
			goto toolong;
		if (keep) {
			out[j++] = (char)c;
		} else {
			out[j++] = '%';
			out[j++] = hex[c >> 4];
			out[j++] = hex[c & 15];
		}
	}
	if (outlen == 0)
		return -1;
	out[j] = '\0';
	return 0;
toolong:
	if (outlen > 0)
		out[0] = '\0';
	return -1;
}

/* ---- requests ---------------------------------------------------------- */

static int hexval(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void req_clear(struct modpath_req *req)
{
	req->kind = MODPATH_LIST;
	req->module[0] = '\0';
	req->version[0] = '\0';
	req->esc_module[0] = '\0';
	req->esc_version[0] = '\0';
	req->canonical = 0;
}

/* Decodes %XX once. Refuses a truncated or non-hex escape, and any control
 * byte, raw or decoded: none can be part of a valid module path or version,
 * and NUL would cut our strings short. */
long modpath_percent_decode(const char *raw, size_t n, char *out)
{
	size_t i, j = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				return -1;
			hi = hexval((unsigned char)raw[i + 1]);
			lo = hexval((unsigned char)raw[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		out[j++] = (char)c;
	}
	return (long)j;
}

static int span_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int span_ends(const char *s, size_t n, const char *suffix, size_t *stem)
{
	size_t sl = strlen(suffix);

	if (n < sl || memcmp(s + n - sl, suffix, sl) != 0)
		return 0;
	*stem = n - sl;
	return 1;
}

int modpath_parse_request(const char *raw, struct modpath_req *req, int *status, char *err,
                          size_t errlen)
{
	char dec[MODPATH_RAW_MAX + 1];
	char q[QUOTED_SIZE];
	const char *mod, *file = NULL;
	size_t rawlen, n, split, mod_n, file_n = 0, ver_n = 0, i;
	long dn;

	req_clear(req);
	*status = 400;
	if (raw == NULL || raw[0] != '/') {
		errbuf_set(err, errlen, "request path must start with \"/\"");
		goto fail;
	}
	rawlen = strnlen(raw, MODPATH_RAW_MAX + 1);
	if (rawlen > MODPATH_RAW_MAX) {
		errbuf_set(err, errlen, "request path longer than %d bytes", MODPATH_RAW_MAX);
		goto fail;
	}
	dn = modpath_percent_decode(raw, rawlen, dec);
	if (dn < 0) {
		errbuf_set(err, errlen,
		           "malformed percent-encoding or control character in request path");
		goto fail;
	}
	n = (size_t)dn;
	dec[n] = '\0';

	/* Module paths cannot hold "@", so the last "/@v/" or a final
	 * "/@latest" is the only split that can succeed; the go command's own
	 * test proxy splits the same way. */
	mod = dec + 1;
	if (span_ends(dec, n, "/@latest", &split)) {
		req->kind = MODPATH_LATEST;
	} else {
		for (i = n >= 4 ? n - 4 + 1 : 0; i > 0; i--) {
			if (memcmp(dec + i - 1, "/@v/", 4) == 0)
				break;
		}
		if (i == 0)
			goto notfound;
		split = i - 1;
		file = dec + split + 4;
		file_n = n - split - 4;
		if (span_is(file, file_n, "list"))
			req->kind = MODPATH_LIST;
		else if (span_ends(file, file_n, ".info", &ver_n))
			req->kind = MODPATH_INFO;
		else if (span_ends(file, file_n, ".mod", &ver_n))
			req->kind = MODPATH_MOD;
		else if (span_ends(file, file_n, ".zip", &ver_n))
			req->kind = MODPATH_ZIP;
		else
			goto notfound;
	}
	/* The module lies between the leading "/" and the split ("/@v/list"
	 * has none: an empty path, refused below). */
	mod_n = split > 0 ? split - 1 : 0;

	if (unescape_path_n(mod, mod_n, req->module, sizeof(req->module), err, errlen) < 0)
		goto fail;
	/* Cannot fail: the input unescaped cleanly, so it re-escapes to itself
	 * and fits; re-escaping makes %21 and ! give the same key. */
	if (modpath_escape_path(req->module, req->esc_module, sizeof(req->esc_module), err,
	                        errlen) < 0)
		goto fail;

	if (req->kind == MODPATH_LIST || req->kind == MODPATH_LATEST)
		goto done;

	if (unescape_version_n(file, ver_n, req->version, sizeof(req->version), err, errlen) < 0)
		goto fail;
	if (modpath_escape_version(req->version, req->esc_version, sizeof(req->esc_version), err,
	                           errlen) < 0)
		goto fail;
	req->canonical = is_canonical_n(req->version, strlen(req->version));
	if (!req->canonical && (req->kind == MODPATH_MOD || req->kind == MODPATH_ZIP)) {
		quote(q, req->version, strlen(req->version));
		errbuf_set(err, errlen,
		           "version %s is not canonical: .mod and .zip need one like v1.2.3", q);
		goto fail;
	}
done:
	*status = 200;
	return 0;
notfound:
	*status = 404;
	quote(q, dec, n);
	errbuf_set(err, errlen,
	           "not a module proxy endpoint: %s (want /$module/@v/list, "
	           "/$module/@v/$version.info|.mod|.zip or /$module/@latest)",
	           q);
fail:
	req_clear(req);
	return -1;
}
