/*
 * config — defaults, then environment, then INI file, each filling a copy of
 * the struct that replaces the caller's only when every value was good, so a
 * bad reload leaves the running configuration as it was.
 *
 * The INI file goes through libinih, but through ini_parse_stream with our
 * own line reader rather than ini_parse. The reader buys three things inih
 * cannot give through its handler: the line number of every value (for
 * "FILE:LINE:" messages), a clean error for an over-long line (inih would
 * cut it and parse the tail as a line of its own), and indented keys that
 * mean what they look like (inih would take "  cache = /x" after a key as a
 * continuation of that key's value; the reader strips leading blanks, so no
 * line is ever a continuation). It also sees section headers, so an unknown
 * section with no keys under it is still an error.
 *
 * Keys are rows of one table: adding a setting is a field in config-t.h, a
 * row here, a default in config_init_defaults and a paragraph in
 * etc/modgate.ini. The dump walks the same table, so `modgate -t` prints
 * every key there is.
 */
#include "proxy/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/pathglob.h"

#define CONFIG_MAX_LINE 8192              /* longest line of the INI file, bytes */
#define CONFIG_FILE_MAX (1024 * 1024)     /* largest INI file read */
#define DURATION_LIMIT_MS 1000000000000LL /* 31 years: far past any range */

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The C locale's isspace, without the locale. */
static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_hex(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* Copies src into a dst of size dstlen; -1 (dst untouched) if it does not fit. */
static int copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* ---- numbers and durations ------------------------------------------------ */

/* A plain decimal number in [min, max]: no sign, no blanks, no suffix. */
static int parse_int(const char *s, long long min, long long max, long long *out, char *err,
                     size_t errlen)
{
	long long v = 0;
	const char *p = s;

	if (!*p) {
		errf(err, errlen, "empty value, expected a number");
		return -1;
	}
	for (; *p; p++) {
		if (!is_digit(*p)) {
			errf(err, errlen, "\"%s\" is not a whole decimal number", s);
			return -1;
		}
		v = v * 10 + (*p - '0');
		if (v > max) {
			errf(err, errlen, "%s is out of range %lld..%lld", s, min, max);
			return -1;
		}
	}
	if (v < min) {
		errf(err, errlen, "%s is out of range %lld..%lld", s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* "250ms", "30s", "5m", "1h", "1h30m" (Go's order-free sums), or a bare number
 * of seconds, into milliseconds. Whole numbers only: a config that says 1.5s
 * probably meant something else, and 1500ms says it exactly. */
static int parse_duration_ms(const char *s, long long *out, char *err, size_t errlen)
{
	const char *p = s;
	long long total = 0;

	if (!*p) {
		errf(err, errlen,
		     "empty duration (write 250ms, 30s, 5m, 1h or a number of seconds)");
		return -1;
	}
	while (*p) {
		long long n = 0, unit;
		const char *num = p;

		if (!is_digit(*p)) {
			errf(err, errlen,
			     "bad duration \"%s\" (write 250ms, 30s, 5m, 1h, 1h30m or a number of "
			     "seconds)",
			     s);
			return -1;
		}
		while (is_digit(*p)) {
			n = n * 10 + (*p++ - '0');
			if (n > DURATION_LIMIT_MS) {
				errf(err, errlen, "duration \"%s\" is too large", s);
				return -1;
			}
		}
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else if (*p == 'h') {
			unit = 3600000;
			p++;
		} else if (*p == 'm') {
			unit = 60000;
			p++;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (!*p && num == s) {
			unit = 1000; /* a bare number is seconds */
		} else if (!*p) {
			errf(err, errlen, "bad duration \"%s\": missing unit after %lld", s, n);
			return -1;
		} else {
			const char *u = p;

			while (*p && !is_digit(*p))
				p++;
			errf(err, errlen,
			     "bad duration \"%s\": unknown unit \"%.*s\" (use ms, s, m or h)", s,
			     (int)(p - u), u);
			return -1;
		}
		total += n * unit;
		if (total > DURATION_LIMIT_MS) {
			errf(err, errlen, "duration \"%s\" is too large", s);
			return -1;
		}
	}
	*out = total;
	return 0;
}

/* The shortest exact spelling of ms that parse_duration_ms reads back. */
static void format_duration(long long ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lldh", ms / 3600000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llds", ms / 1000);
	else
		snprintf(buf, len, "%lldms", ms);
}

/* ---- GOPROXY -------------------------------------------------------------- */

/* Writes u with any password replaced by "xxxxx", as Go's URL.Redacted does,
 * so that error messages and logs never carry a credential. */
static void redact_url(const char *u, char *out, size_t outlen)
{
	const char *auth = strstr(u, "://"), *end, *at, *colon;

	if (!auth) {
		snprintf(out, outlen, "%s", u);
		return;
	}
	auth += 3;
	end = auth + strcspn(auth, "/");
	at = NULL;
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon) {
		snprintf(out, outlen, "%s", u);
		return;
	}
	snprintf(out, outlen, "%.*s:xxxxx%s", (int)(colon - u), u, at);
}

/* Characters the fetch layer would have to escape; we ask for them escaped. */
static int url_char_ok(char ch)
{
	return ch > 0x20 && ch < 0x7f && !strchr("\"<>\\^`{}", ch);
}

/* Checks the host[:port] of an http(s) URL: a name or IPv4 address, or an
 * IPv6 address in brackets, and an optional port 1..65535. */
static int check_hostport(const char *b, const char *e, char *why, size_t whylen)
{
	const char *port = NULL;

	if (b < e && *b == '[') {
		const char *close = memchr(b, ']', (size_t)(e - b));
		char addr[64];
		size_t n;

		if (!close) {
			errf(why, whylen, "missing ']' after the IPv6 address");
			return -1;
		}
		n = strcspn(b + 1, "%]"); /* without any %zone */
		if (n >= sizeof(addr)) {
			errf(why, whylen, "bad IPv6 address");
			return -1;
		}
		memcpy(addr, b + 1, n);
		addr[n] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, addr, &a6) != 1) {
			errf(why, whylen, "bad IPv6 address \"%s\"", addr);
			return -1;
		}
		if (close + 1 < e) {
			if (close[1] != ':') {
				errf(why, whylen, "unexpected text after ']'");
				return -1;
			}
			port = close + 2;
		}
	} else {
		const char *p;

		for (p = b; p < e && *p != ':'; p++) {
			if (!is_alnum(*p) && !strchr("-._~%", *p)) {
				errf(why, whylen, "character '%c' is not allowed in a host name",
				     *p);
				return -1;
			}
		}
		if (p == b) {
			errf(why, whylen, "missing host");
			return -1;
		}
		if (p < e)
			port = p + 1;
	}
	if (port) {
		long long v = 0;
		const char *p;

		if (port == e) {
			errf(why, whylen, "empty port");
			return -1;
		}
		for (p = port; p < e; p++) {
			if (!is_digit(*p) || (v = v * 10 + (*p - '0')) > 65535) {
				errf(why, whylen, "bad port \"%.*s\"", (int)(e - port), port);
				return -1;
			}
		}
		if (v == 0) {
			errf(why, whylen, "port 0");
			return -1;
		}
	}
	return 0;
}

/* Turns one GOPROXY entry (not a keyword, blanks trimmed) into the base URL
 * stored in config_upstream.url: scheme lowered, "https://" supplied the way
 * the go command supplies it, trailing slashes dropped, file URLs written
 * "file://" + path. Messages follow the go command's where it has them. */
static int parse_proxy_url(const char *entry, char *out, size_t outlen, char *err, size_t errlen)
{
	char u[CONFIG_URL_MAX + 16], shown[CONFIG_URL_MAX + 32], why[160];
	char scheme[8];
	const char *p, *rest, *auth_end, *path;
	size_t n, plen;

	/* Single words are reserved for keywords; anything with ":/" or that is
	 * an absolute path must be a complete URL; the rest is a host name. */
	if (strpbrk(entry, ".:/") && !strstr(entry, ":/") && entry[0] != '/')
		n = (size_t)snprintf(u, sizeof(u), "https://%s", entry);
	else
		n = (size_t)snprintf(u, sizeof(u), "%s", entry);
	if (n >= CONFIG_URL_MAX) {
		errf(err, errlen, "invalid proxy URL: longer than %d bytes", CONFIG_URL_MAX - 1);
		return -1;
	}
	redact_url(u, shown, sizeof(shown));

	for (p = u; *p; p++) {
		if (!url_char_ok(*p)) {
			if (*p > 0x20 && *p < 0x7f)
				errf(err, errlen, "invalid proxy URL %s: percent-encode '%c'",
				     shown, *p);
			else
				errf(err, errlen,
				     "invalid proxy URL %s: blank, control or non-ASCII byte "
				     "(percent-encode it)",
				     shown);
			return -1;
		}
		if (*p == '?' || *p == '#') {
			errf(err, errlen,
			     "invalid proxy URL %s: a query or fragment is not allowed", shown);
			return -1;
		}
		if (*p == '%' && !(is_hex(p[1]) && is_hex(p[2]))) {
			errf(err, errlen, "invalid proxy URL %s: bad %%-escape", shown);
			return -1;
		}
	}

	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	n = 0;
	if ((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z'))
		while (is_alnum(u[n]) || u[n] == '+' || u[n] == '-' || u[n] == '.')
			n++;
	if (n == 0 || u[n] != ':') {
		if (u[0] == '/')
			errf(err, errlen,
			     "invalid proxy URL missing scheme: %s (for a directory, write "
			     "file://%s)",
			     shown, u);
		else
			errf(err, errlen,
			     "invalid proxy URL missing scheme: %s (single words are reserved for "
			     "direct and off)",
			     shown);
		return -1;
	}
	if (n >= sizeof(scheme))
		goto bad_scheme;
	for (size_t i = 0; i < n; i++)
		scheme[i] = (char)(u[i] >= 'A' && u[i] <= 'Z' ? u[i] - 'A' + 'a' : u[i]);
	scheme[n] = '\0';
	rest = u + n + 1;

	if (strcmp(scheme, "file") == 0) {
		if (rest[0] == '/' && rest[1] == '/') {
			auth_end = rest + 2 + strcspn(rest + 2, "/");
			if (auth_end != rest + 2) {
				errf(err, errlen,
				     "invalid file:// proxy URL with non-path elements: %s (write "
				     "file:///path)",
				     shown);
				return -1;
			}
			path = auth_end;
		} else if (rest[0] == '/') {
			path = rest; /* "file:/srv/x" */
		} else {
			/* "file:x" is an opaque URL to Go, refused for the same reason */
			errf(err, errlen,
			     "invalid file:// proxy URL with non-path elements: %s (write "
			     "file:///path)",
			     shown);
			return -1;
		}
		plen = strlen(path);
		while (plen > 0 && path[plen - 1] == '/')
			plen--;
		n = (size_t)snprintf(out, outlen, "file://%.*s", (int)plen, path);
	} else if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
		const char *hp, *at = NULL;

		if (rest[0] != '/' || rest[1] != '/') {
			errf(err, errlen, "invalid proxy URL %s: expected %s://host", shown,
			     scheme);
			return -1;
		}
		hp = rest + 2;
		auth_end = hp + strcspn(hp, "/");
		for (p = hp; p < auth_end; p++)
			if (*p == '@')
				at = p;
		if (at)
			hp = at + 1; /* user[:password]@ is kept as written */
		if (check_hostport(hp, auth_end, why, sizeof(why)) < 0) {
			errf(err, errlen, "invalid proxy URL %s: %s", shown, why);
			return -1;
		}
		path = auth_end;
		plen = strlen(path);
		while (plen > 0 && path[plen - 1] == '/')
			plen--;
		n = (size_t)snprintf(out, outlen, "%s://%.*s%.*s", scheme,
		                     (int)(auth_end - rest - 2), rest + 2, (int)plen, path);
	} else {
		goto bad_scheme;
	}
	if (n >= outlen) {
		errf(err, errlen, "invalid proxy URL: longer than %zu bytes", outlen - 1);
		return -1;
	}
	return 0;

bad_scheme:
	errf(err, errlen, "invalid proxy URL scheme (must be https, http, file): %s", shown);
	return -1;
}

int config_parse_goproxy(struct config *c, const char *list, char *err, size_t errlen)
{
	struct config_upstream ups[CONFIG_MAX_UPSTREAMS];
	char entry[CONFIG_URL_MAX];
	const char *p;
	int n = 0;

	memset(ups, 0, sizeof(ups));
	if (list[0] == '\0')
		list = CONFIG_DEFAULT_GOPROXY; /* unset means the go command's default */
	for (p = list; *p;) {
		const char *b = p, *e = p + strcspn(p, ",|");
		int any = *e == '|';

		p = *e ? e + 1 : e;
		while (b < e && is_blank(*b))
			b++;
		while (e > b && is_blank(e[-1]))
			e--;
		if (b == e)
			continue;
		if (n == CONFIG_MAX_UPSTREAMS) {
			errf(err, errlen, "more than %d entries in the proxy list",
			     CONFIG_MAX_UPSTREAMS);
			return -1;
		}
		if ((size_t)(e - b) >= sizeof(entry)) {
			errf(err, errlen, "invalid proxy URL: longer than %d bytes",
			     CONFIG_URL_MAX - 1);
			return -1;
		}
		memcpy(entry, b, (size_t)(e - b));
		entry[e - b] = '\0';
		/* Like the go command, stop at "off" and "direct": what follows
		 * them is ignored, not even checked. */
		if (strcmp(entry, "off") == 0) {
			ups[n++].kind = CONFIG_UP_OFF;
			break;
		}
		if (strcmp(entry, "direct") == 0) {
			ups[n++].kind = CONFIG_UP_DIRECT;
			break;
		}
		if (parse_proxy_url(entry, ups[n].url, sizeof(ups[n].url), err, errlen) < 0)
			return -1;
		ups[n].kind = CONFIG_UP_URL;
		ups[n].fallthrough_any = any;
		n++;
	}
	if (n == 0) {
		errf(err, errlen, "GOPROXY list is not the empty string, but contains no entries");
		return -1;
	}
	memcpy(c->upstreams, ups, sizeof(ups));
	c->n_upstreams = n;
	return 0;
}

/* ---- listen, paths, patterns ----------------------------------------------- */

int config_parse_listen(const char *s, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen)
{
	const char *hb, *he, *colon, *p;
	long long v;

	if (!*s) {
		errf(err, errlen, "empty listen address (write host:port, [v6]:port or :port)");
		return -1;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		char addr[64];
		size_t n;

		if (!close) {
			errf(err, errlen, "\"%s\": missing ']' after the IPv6 address", s);
			return -1;
		}
		hb = s + 1;
		he = close;
		n = (size_t)(he - hb);
		if (n == 0 || n >= sizeof(addr)) {
			errf(err, errlen, "\"%s\": bad IPv6 address", s);
			return -1;
		}
		memcpy(addr, hb, n);
		addr[n] = '\0';
		addr[strcspn(addr, "%")] = '\0'; /* a %zone is left to the kernel */
		struct in6_addr a6;
		if (inet_pton(AF_INET6, addr, &a6) != 1) {
			errf(err, errlen, "\"%s\": bad IPv6 address", s);
			return -1;
		}
		for (p = hb; p < he; p++) {
			if (!is_alnum(*p) && !strchr(":.%-_", *p)) {
				errf(err, errlen, "\"%s\": bad IPv6 address", s);
				return -1;
			}
		}
		if (close[1] != ':') {
			errf(err, errlen, "\"%s\": missing port (write [%.*s]:8080)", s, (int)n,
			     hb);
			return -1;
		}
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			if (is_digit(s[0]) && s[strspn(s, "0123456789")] == '\0')
				errf(err, errlen,
				     "\"%s\": missing host (write :%s for every address)", s, s);
			else
				errf(err, errlen, "\"%s\": missing port (write %s:8080)", s, s);
			return -1;
		}
		hb = s;
		he = colon;
		for (p = hb; p < he; p++) {
			if (*p == ':') {
				errf(err, errlen,
				     "\"%s\": an IPv6 address must be in brackets, as [::1]:8080",
				     s);
				return -1;
			}
			if (!is_alnum(*p) && *p != '-' && *p != '.' && *p != '_') {
				errf(err, errlen,
				     "\"%s\": character '%c' is not allowed in a host (write :port "
				     "for "
				     "every address)",
				     s, *p);
				return -1;
			}
		}
	}
	if (parse_int(colon + 1, 1, 65535, &v, NULL, 0) < 0) {
		errf(err, errlen, "\"%s\": port must be a number from 1 to 65535", s);
		return -1;
	}
	if ((size_t)(he - hb) >= hostlen) {
		errf(err, errlen, "\"%s\": host name too long", s);
		return -1;
	}
	memcpy(host, hb, (size_t)(he - hb));
	host[he - hb] = '\0';
	*port = (int)v;
	return 0;
}

/* 0 if v, written after "key = ", reads back as v: inih would take a ';'
 * at the start or after a blank for a comment, and we refuse quotes. */
static int check_writable(const char *v, char *err, size_t errlen)
{
	if (v[0] == ';' || v[0] == '"' || v[0] == '\'') {
		errf(err, errlen, "\"%s\" cannot start with '%c' in modgate.ini", v, v[0]);
		return -1;
	}
	for (const char *p = v; *p; p++) {
		if (p[0] == ';' && p > v && is_blank(p[-1])) {
			errf(err, errlen,
			     "\"%s\": a ';' after a blank starts a comment in modgate.ini", v);
			return -1;
		}
	}
	return 0;
}

/* A directory path as given: not empty, no control characters, nothing that
 * could not be written back to the INI file by config_dump. */
static int set_path(char *dst, size_t dstlen, const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0) {
		errf(err, errlen, "empty path");
		return -1;
	}
	if (is_blank(v[0]) || is_blank(v[n - 1])) {
		errf(err, errlen, "\"%s\": blank at the start or end of the path", v);
		return -1;
	}
	if (check_writable(v, err, errlen) < 0)
		return -1;
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			errf(err, errlen, "control character in the path");
			return -1;
		}
	}
	if (copy_str(dst, dstlen, v) < 0) {
		errf(err, errlen, "path longer than %zu bytes", dstlen - 1);
		return -1;
	}
	return 0;
}

/* Sets dst to base + "/" + leaf (base's trailing slashes dropped), checked
 * like any other path. */
static int set_joined_path(char *dst, size_t dstlen, const char *base, const char *leaf, char *err,
                           size_t errlen)
{
	char buf[CONFIG_PATH_MAX];
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	if ((size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, base, leaf) >= sizeof(buf)) {
		errf(err, errlen, "path longer than %zu bytes", sizeof(buf) - 1);
		return -1;
	}
	return set_path(dst, dstlen, buf, err, errlen);
}

/* A GONOPROXY-style list. On top of the syntax check, a pattern holding a
 * blank is refused: the go command does not trim patterns, so
 * "a.example, b.example" never matches b.example there, and refusing beats
 * silently disagreeing with the user's go command. */
static int set_patterns(char *dst, size_t dstlen, const char *v, char *err, size_t errlen)
{
	const char *p;

	for (p = v; *p; p++) {
		if (is_blank(*p) || (unsigned char)*p < 0x20 || *p == 0x7f) {
			size_t b = (size_t)(p - v), e = b;

			while (b > 0 && v[b - 1] != ',')
				b--;
			e += strcspn(p, ",");
			errf(err, errlen,
			     "pattern \"%.*s\" contains a blank or control character; the go "
			     "command "
			     "does not trim patterns, so it would never match (write a,b without "
			     "spaces)",
			     (int)(e - b), v + b);
			return -1;
		}
	}
	if (pathglob_check_patterns(v, err, errlen) < 0 || check_writable(v, err, errlen) < 0)
		return -1;
	if (copy_str(dst, dstlen, v) < 0) {
		errf(err, errlen, "pattern list longer than %zu bytes", dstlen - 1);
		return -1;
	}
	return 0;
}

/* ---- the key table ----------------------------------------------------------- */

enum key_kind {
	KEY_LISTEN,   /* listen_host + listen_port */
	KEY_PATH,     /* char[] at off */
	KEY_INT,      /* int at off, in [min, max] */
	KEY_TTL,      /* int seconds at off, a duration in [min, max] seconds */
	KEY_TIMEOUT,  /* int milliseconds at off, a duration in [min, max] ms */
	KEY_GOPROXY,  /* upstreams + n_upstreams */
	KEY_PATTERNS, /* char[] at off, GONOPROXY syntax */
};

struct config_key {
	const char *section;
	const char *name;
	enum key_kind kind;
	size_t off, size;
	long long min, max;
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct config_key keys[] = {
    {"server", "listen", KEY_LISTEN, 0, 0, 0, 0},
    {"server", "cache", KEY_PATH, FIELD(cache_dir), 0, 0},
    {"server", "workers", KEY_INT, FIELD(workers), CONFIG_WORKERS_MIN, CONFIG_WORKERS_MAX},
    {"server", "max_connections", KEY_INT, FIELD(max_connections), CONFIG_MAX_CONNECTIONS_MIN,
     CONFIG_MAX_CONNECTIONS_MAX},
    {"upstream", "proxy", KEY_GOPROXY, 0, 0, 0, 0},
    {"upstream", "noproxy", KEY_PATTERNS, FIELD(noproxy), 0, 0},
    {"cache", "list_ttl", KEY_TTL, FIELD(list_ttl_s), 0, CONFIG_TTL_MAX_S},
    {"cache", "negative_ttl", KEY_TTL, FIELD(negative_ttl_s), 0, CONFIG_TTL_MAX_S},
    {"timeouts", "connect", KEY_TIMEOUT, FIELD(connect_timeout_ms), CONFIG_TIMEOUT_MIN_MS,
     CONFIG_TIMEOUT_MAX_MS},
    {"timeouts", "first_byte", KEY_TIMEOUT, FIELD(first_byte_timeout_ms), CONFIG_TIMEOUT_MIN_MS,
     CONFIG_TIMEOUT_MAX_MS},
    {"timeouts", "idle", KEY_TIMEOUT, FIELD(idle_timeout_ms), CONFIG_TIMEOUT_MIN_MS,
     CONFIG_TIMEOUT_MAX_MS},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = {"server", "upstream", "cache", "timeouts"};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

static int known_section(const char *name, size_t len)
{
	for (size_t i = 0; i < N_SECTIONS; i++)
		if (strlen(sections[i]) == len && memcmp(sections[i], name, len) == 0)
			return 1;
	return 0;
}

static const struct config_key *find_key(const char *section, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int *int_field(struct config *c, const struct config_key *k)
{
	return (int *)((char *)c + k->off);
}

static int out_of_range(const char *v, long long min_ms, long long max_ms, char *err, size_t errlen)
{
	char lo[32], hi[32];

	format_duration(min_ms, lo, sizeof(lo));
	format_duration(max_ms, hi, sizeof(hi));
	errf(err, errlen, "%s is out of range %s..%s", v, lo, hi);
	return -1;
}

static int set_value(struct config *c, const struct config_key *k, const char *v, char *err,
                     size_t errlen)
{
	long long n;

	switch (k->kind) {
	case KEY_LISTEN:
		return config_parse_listen(v, c->listen_host, sizeof(c->listen_host),
		                           &c->listen_port, err, errlen);
	case KEY_PATH:
		return set_path((char *)c + k->off, k->size, v, err, errlen);
	case KEY_INT:
		if (parse_int(v, k->min, k->max, &n, err, errlen) < 0)
			return -1;
		*int_field(c, k) = (int)n;
		return 0;
	case KEY_TTL:
		if (parse_duration_ms(v, &n, err, errlen) < 0)
			return -1;
		if (n % 1000 != 0) {
			errf(err, errlen, "%s is not a whole number of seconds", v);
			return -1;
		}
		if (n / 1000 < k->min || n / 1000 > k->max)
			return out_of_range(v, k->min * 1000, k->max * 1000, err, errlen);
		*int_field(c, k) = (int)(n / 1000);
		return 0;
	case KEY_TIMEOUT:
		if (parse_duration_ms(v, &n, err, errlen) < 0)
			return -1;
		if (n < k->min || n > k->max)
			return out_of_range(v, k->min, k->max, err, errlen);
		*int_field(c, k) = (int)n;
		return 0;
	case KEY_GOPROXY:
		if (!*v) {
			/* In a file, an empty list is more likely a slip than a
			 * wish for the default; say which one was meant. */
			errf(err, errlen,
			     "empty proxy list (write off to disable upstreams, or remove the key "
			     "for the default %s)",
			     CONFIG_DEFAULT_GOPROXY);
			return -1;
		}
		return config_parse_goproxy(c, v, err, errlen);
	case KEY_PATTERNS:
		return set_patterns((char *)c + k->off, k->size, v, err, errlen);
	}
	errf(err, errlen, "internal error: unknown key kind");
	return -1;
}

static void put_value(const struct config *c, const struct config_key *k, FILE *out)
{
	char buf[32];

	switch (k->kind) {
	case KEY_LISTEN:
		if (strchr(c->listen_host, ':'))
			fprintf(out, "[%s]:%d", c->listen_host, c->listen_port);
		else
			fprintf(out, "%s:%d", c->listen_host, c->listen_port);
		break;
	case KEY_PATH:
	case KEY_PATTERNS:
		fputs((const char *)c + k->off, out);
		break;
	case KEY_INT:
		fprintf(out, "%d", *(const int *)((const char *)c + k->off));
		break;
	case KEY_TTL:
		format_duration(1000LL * *(const int *)((const char *)c + k->off), buf,
		                sizeof(buf));
		fputs(buf, out);
		break;
	case KEY_TIMEOUT:
		format_duration(*(const int *)((const char *)c + k->off), buf, sizeof(buf));
		fputs(buf, out);
		break;
	case KEY_GOPROXY:
		for (int i = 0; i < c->n_upstreams; i++) {
			const struct config_upstream *u = &c->upstreams[i];

			fputs(u->kind == CONFIG_UP_DIRECT ? "direct"
			      : u->kind == CONFIG_UP_OFF  ? "off"
			                                  : u->url,
			      out);
			/* A '|' after the last entry changes nothing, but keeping
			 * it makes the dump load back to the very same struct. */
			if (i + 1 < c->n_upstreams || u->fallthrough_any)
				fputc(u->fallthrough_any ? '|' : ',', out);
		}
		break;
	}
}

/* ---- the INI loader ---------------------------------------------------------- */

struct loader {
	struct config *c;    /* the copy being filled */
	const char *p, *end; /* text not yet handed to inih */
	int line;            /* the physical line inih is working on */
	int err_line;        /* the first error we found, 0 if none yet */
	char msg[1024];      /* its message, without "FILE:LINE: " */
	int seen[N_KEYS];    /* line where each key was set, 0 if not */
};

static void loader_fail(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void loader_fail(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->err_line)
		return;
	ld->err_line = ld->line;
	va_start(ap, fmt);
	vsnprintf(ld->msg, sizeof(ld->msg), fmt, ap);
	va_end(ap);
}

/* inih's fgets: one physical line per call, so inih's line count is ours.
 * Returning NULL ends the parse, which is how a reader error stops it. */
static char *ini_read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	const char *b = ld->p, *nl, *e;
	size_t len;

	if (ld->err_line || b >= ld->end)
		return NULL;
	nl = memchr(b, '\n', (size_t)(ld->end - b));
	e = nl ? nl : ld->end;
	ld->p = nl ? nl + 1 : ld->end;
	ld->line++;
	if (ld->line == 1 && e - b >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0)
		b += 3; /* a UTF-8 byte order mark */
	if (memchr(b, '\0', (size_t)(e - b))) {
		loader_fail(ld, "NUL byte in the line");
		return NULL;
	}
	while (b < e && is_blank(*b))
		b++;
	len = (size_t)(e - b);
	if (num < 3 || len > (size_t)num - 2) {
		loader_fail(ld, "line longer than %d bytes", num < 3 ? 0 : num - 2);
		return NULL;
	}
	memcpy(str, b, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	if (str[0] == '[') {
		const char *close = memchr(str, ']', len);

		/* Without ']' it is inih's syntax error to report. */
		if (close && !known_section(str + 1, (size_t)(close - str - 1))) {
			loader_fail(ld,
			            "unknown section [%.*s] (known: [server], [upstream], [cache], "
			            "[timeouts])",
			            (int)(close - str - 1), str + 1);
			return NULL;
		}
	}
	return str;
}

static int ini_on_value(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const struct config_key *k;
	char why[768];
	size_t i;

	if (ld->err_line)
		return 0;
	if (!*section) {
		loader_fail(ld, "key '%s' comes before any [section]", name);
		return 0;
	}
	k = find_key(section, name);
	if (!k) {
		char known[256] = "";
		size_t used = 0;

		for (i = 0; i < N_KEYS; i++)
			if (strcmp(keys[i].section, section) == 0 && used < sizeof(known))
				used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
				                         used ? ", " : "", keys[i].name);
		if (!known[0])
			loader_fail(ld, "unknown section [%s]", section);
		else
			loader_fail(ld, "unknown key '%s' in [%s] (known: %s)", name, section,
			            known);
		return 0;
	}
	i = (size_t)(k - keys);
	if (ld->seen[i]) {
		loader_fail(ld, "duplicate key '%s' in [%s] (first set on line %d)", name, section,
		            ld->seen[i]);
		return 0;
	}
	ld->seen[i] = ld->line;
	if (value[0] == '"' || value[0] == '\'') {
		loader_fail(ld, "[%s] %s: values are not quoted; remove the quotes", section, name);
		return 0;
	}
	if (set_value(ld->c, k, value, why, sizeof(why)) < 0) {
		loader_fail(ld, "[%s] %s: %s%s", section, name, why,
		            strstr(value, " #") ? " (only ';' starts a comment after a value)"
		                                : "");
		return 0;
	}
	return 1;
}

/* inih found the error itself: describe the line from the text. */
static void syntax_error(const char *text, size_t len, const char *name, int line, char *err,
                         size_t errlen)
{
	const char *p = text, *end = text + len;

	for (int i = 1; i < line && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		p = nl ? nl + 1 : end;
	}
	if (line == 1 && end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end && is_blank(*p) && *p != '\n')
		p++;
	if (p < end && *p == '[')
		errf(err, errlen, "%s:%d: section header without a closing ']'", name, line);
	else
		errf(err, errlen, "%s:%d: expected 'key = value', '[section]' or a ';' comment",
		     name, line);
}

static int load_text(struct config *c, const char *text, size_t len, const char *name, char *err,
                     size_t errlen)
{
	struct config tmp = *c;
	struct loader ld;
	int rc, saved_max_line;

	memset(&ld, 0, sizeof(ld));
	ld.c = &tmp;
	ld.p = text;
	ld.end = text + len;
	/* Debian's libinih exposes its compile-time limits as variables; raise
	 * the 200-byte line limit for this parse only. Our reader refuses lines
	 * that do not fit whatever the limit is, so a libinih without this
	 * variable would give a clear error, never a silently cut line. */
	saved_max_line = ini_max_line;
	ini_max_line = CONFIG_MAX_LINE;
	rc = ini_parse_stream(ini_read_line, &ld, ini_on_value, &ld);
	ini_max_line = saved_max_line;

	if (rc < 0) {
		errf(err, errlen, "%s: %s", name, rc == -2 ? "out of memory" : "cannot read");
		return -1;
	}
	if (rc > 0 && (ld.err_line == 0 || rc < ld.err_line)) {
		syntax_error(text, len, name, rc, err, errlen);
		return -1;
	}
	if (ld.err_line) {
		errf(err, errlen, "%s:%d: %s", name, ld.err_line, ld.msg);
		return -1;
	}
	*c = tmp;
	return 0;
}

int config_load_string(struct config *c, const char *text, const char *name, char *err,
                       size_t errlen)
{
	return load_text(c, text, strlen(text), name ? name : "<string>", err, errlen);
}

int config_load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *buf;
	size_t n;
	int rc = -1;

	f = fopen(path, "rb");
	if (!f) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		errf(err, errlen, "%s: out of memory", path);
		goto out_close;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		errf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
		goto out_free;
	}
	if (n > CONFIG_FILE_MAX) {
		errf(err, errlen, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
		goto out_free;
	}
	buf[n] = '\0';
	rc = load_text(c, buf, n, path, err, errlen);
out_free:
	free(buf);
out_close:
	fclose(f);
	return rc;
}

/* ---- defaults, environment, queries, dump ------------------------------------ */

void config_init_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_host, sizeof(c->listen_host), "%s", CONFIG_DEFAULT_LISTEN_HOST);
	c->listen_port = CONFIG_DEFAULT_LISTEN_PORT;
	snprintf(c->cache_dir, sizeof(c->cache_dir), "%s", CONFIG_DEFAULT_CACHE_DIR);
	/* Cannot fail: the default list is a constant the parser accepts. */
	config_parse_goproxy(c, CONFIG_DEFAULT_GOPROXY, NULL, 0);
	c->noproxy[0] = '\0';
	c->list_ttl_s = CONFIG_DEFAULT_LIST_TTL_S;
	c->negative_ttl_s = CONFIG_DEFAULT_NEGATIVE_TTL_S;
	c->connect_timeout_ms = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS;
	c->first_byte_timeout_ms = CONFIG_DEFAULT_FIRST_BYTE_TIMEOUT_MS;
	c->idle_timeout_ms = CONFIG_DEFAULT_IDLE_TIMEOUT_MS;
	c->workers = CONFIG_DEFAULT_WORKERS;
	c->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
}

int config_apply_env(struct config *c, char *err, size_t errlen)
{
	struct config tmp = *c;
	const char *v, *var;
	char why[768];

	/* The go command's own rule is that a variable set to "" is unset. */
	if ((v = getenv("MODGATE_CACHE")) && *v) {
		if (set_path(tmp.cache_dir, sizeof(tmp.cache_dir), v, why, sizeof(why)) < 0) {
			errf(err, errlen, "MODGATE_CACHE: %s", why);
			return -1;
		}
	} else if ((v = getenv("XDG_CACHE_HOME")) && v[0] == '/') {
		/* The XDG spec says to ignore a relative XDG_CACHE_HOME. */
		if (set_joined_path(tmp.cache_dir, sizeof(tmp.cache_dir), v, "modgate", why,
		                    sizeof(why)) < 0) {
			errf(err, errlen, "XDG_CACHE_HOME: %s", why);
			return -1;
		}
	} else if ((v = getenv("HOME")) && *v) {
		if (set_joined_path(tmp.cache_dir, sizeof(tmp.cache_dir), v, ".cache/modgate", why,
		                    sizeof(why)) < 0) {
			errf(err, errlen, "HOME: %s", why);
			return -1;
		}
	}

	if ((v = getenv("GOPROXY")) && *v) {
		if (config_parse_goproxy(&tmp, v, why, sizeof(why)) < 0) {
			errf(err, errlen, "GOPROXY: %s", why);
			return -1;
		}
	}

	var = "GONOPROXY";
	v = getenv(var);
	if (!v || !*v) {
		var = "GOPRIVATE";
		v = getenv(var);
	}
	if (v && *v) {
		if (set_patterns(tmp.noproxy, sizeof(tmp.noproxy), v, why, sizeof(why)) < 0) {
			errf(err, errlen, "%s: %s", var, why);
			return -1;
		}
	}
	*c = tmp;
	return 0;
}

const char *config_upstream_redacted(const struct config_upstream *u, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (u->kind == CONFIG_UP_DIRECT)
		snprintf(buf, len, "direct");
	else if (u->kind == CONFIG_UP_OFF)
		snprintf(buf, len, "off");
	else
		redact_url(u->url, buf, len);
	return buf;
}

int config_is_noproxy(const struct config *c, const char *module_path)
{
	return pathglob_match_prefix(c->noproxy, module_path);
}

void config_dump(const struct config *c, FILE *out)
{
	const char *section = NULL;

	fputs("; modgate effective configuration: defaults, then environment, then file\n", out);
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!section || strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
		}
		fprintf(out, "%s = ", keys[i].name);
		put_value(c, &keys[i], out);
		fputc('\n', out);
	}
}
