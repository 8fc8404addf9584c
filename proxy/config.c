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
 * section with no keys under it is still an error, and a [pool "NAME"] is
 * created (and checked) at its header, keys or none.
 *
 * Keys of the fixed sections are rows of one table: adding a setting is a
 * field in config-t.h, a row here, a default in config_init_defaults and a
 * paragraph in etc/modgate.ini. The dump walks the same table, so
 * `modgate -t` prints every key there is. [pool "NAME"] (a repeated section
 * with a repeatable key), [route], [deny] and [allow] (whose keys are
 * patterns) have handlers of their own, and what depends on the whole file (a route naming a pool
 * defined further down, a pool left empty, breaker settings that must agree
 * with each other) is checked once it is read, each error on its own line.
 */
#include "proxy/config.h"

#include "proxy/errbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "breaker/breaker.h"
#include "proxy/log.h"
#include "proxy/modpath.h"
#include "proxy/netrc.h"
#include "proxy/pathglob.h"
#include "proxy/tls.h"
#include "sumdb/note.h"

_Static_assert(CONFIG_TLS_FINGERPRINT_LEN == TLS_FINGERPRINT_LEN, "one fingerprint size");

#define CONFIG_MAX_LINE 8192              /* longest line of the INI file, bytes */
#define CONFIG_FILE_MAX (1024 * 1024)     /* largest INI file read */
#define DURATION_LIMIT_MS 1000000000000LL /* 31 years: far past any range */

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
		errbuf_set(err, errlen, "empty value, expected a number");
		return -1;
	}
	for (; *p; p++) {
		if (!is_digit(*p)) {
			errbuf_set(err, errlen, "\"%s\" is not a whole decimal number", s);
			return -1;
		}
		v = v * 10 + (*p - '0');
		if (v > max) {
			errbuf_set(err, errlen, "%s is out of range %lld..%lld", s, min, max);
			return -1;
		}
	}
	if (v < min) {
		errbuf_set(err, errlen, "%s is out of range %lld..%lld", s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* Whole numbers only: a config that says 1.5s probably meant something
 * else, and 1500ms says it exactly. Days only where asked for: the keys'
 * durations are seconds to hours, and "7d" there is more likely a slip
 * than a wish. */
int config_parse_duration_ms(const char *s, int days, long long *out, char *err, size_t errlen)
{
	const char *p = s;
	const char *units = days ? "ms, s, m, h or d" : "ms, s, m or h";
	long long total = 0;

	if (!*p) {
		errbuf_set(err, errlen, "empty duration (write %s or a number of seconds)",
		           days ? "90d, 12h, 30m" : "250ms, 30s, 5m, 1h");
		return -1;
	}
	while (*p) {
		long long n = 0, unit;
		const char *num = p;

		if (!is_digit(*p)) {
			errbuf_set(err, errlen,
			           "bad duration \"%s\" (write %s or a number of seconds)", s,
			           days ? "90d, 12h, 1d12h, 30m" : "250ms, 30s, 5m, 1h, 1h30m");
			return -1;
		}
		while (is_digit(*p)) {
			n = n * 10 + (*p++ - '0');
			if (n > DURATION_LIMIT_MS) {
				errbuf_set(err, errlen, "duration \"%s\" is too large", s);
				return -1;
			}
		}
		if (p[0] == 'm' && p[1] == 's') {
			unit = 1;
			p += 2;
		} else if (*p == 'd' && days) {
			unit = 86400000;
			p++;
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
			errbuf_set(err, errlen, "bad duration \"%s\": missing unit after %lld", s,
			           n);
			return -1;
		} else {
			const char *u = p;

			while (*p && !is_digit(*p))
				p++;
			errbuf_set(err, errlen,
			           "bad duration \"%s\": unknown unit \"%.*s\" (use %s)", s,
			           (int)(p - u), u, units);
			return -1;
		}
		/* Checked before the product: a day's 864e5 ms times a 1e12 n would
		 * overflow. */
		if (n > (DURATION_LIMIT_MS - total) / unit) {
			errbuf_set(err, errlen, "duration \"%s\" is too large", s);
			return -1;
		}
		total += n * unit;
	}
	*out = total;
	return 0;
}

/* The configuration's durations: no days. */
static int parse_duration_ms(const char *s, long long *out, char *err, size_t errlen)
{
	return config_parse_duration_ms(s, 0, out, err, errlen);
}

/* K, M, G, T: powers of 1024, as du -h and systemd print them. */
#define SIZE_LIMIT (1ULL << 60)

int config_parse_size(const char *s, unsigned long long *out, char *err, size_t errlen)
{
	const char *p = s;
	unsigned long long n = 0, unit = 1;

	if (!is_digit(*p)) {
		errbuf_set(err, errlen,
		           "bad size \"%s\" (write 500M, 50G, 1T or a number of bytes)", s);
		return -1;
	}
	for (; is_digit(*p); p++) {
		n = n * 10 + (unsigned long long)(*p - '0');
		if (n > SIZE_LIMIT) {
			errbuf_set(err, errlen, "size \"%s\" is too large", s);
			return -1;
		}
	}
	if (*p) {
		/* K is 2^10, M 2^20, G 2^30, T 2^40. */
		static const char units[] = "kKmMgGtT";
		const char *u = strchr(units, *p);

		unit = u && !p[1] ? 1ULL << (10 * ((u - units) / 2 + 1)) : 0;
	}
	if (unit == 0) {
		errbuf_set(
		    err, errlen,
		    "bad size \"%s\": unknown unit \"%s\" (use K, M, G or T, powers of 1024, "
		    "or none for bytes)",
		    s, p);
		return -1;
	}
	if (n > SIZE_LIMIT / unit) {
		errbuf_set(err, errlen, "size \"%s\" is too large", s);
		return -1;
	}
	*out = n * unit;
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

/* Writes u with its whole userinfo replaced by "xxxxx", so that error
 * messages, logs, metrics and the admin endpoint never carry a credential.
 * Go's URL.Redacted keeps the user name; we do not, because a token is often
 * passed as the user name (https://TOKEN@host). */
static void redact_url(const char *u, char *out, size_t outlen)
{
	const char *auth = strstr(u, "://"), *end, *at;

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
	if (!at) {
		snprintf(out, outlen, "%s", u);
		return;
	}
	snprintf(out, outlen, "%.*sxxxxx%s", (int)(auth - u), u, at);
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
			errbuf_set(why, whylen, "missing ']' after the IPv6 address");
			return -1;
		}
		n = strcspn(b + 1, "%]"); /* without any %zone */
		if (n >= sizeof(addr)) {
			errbuf_set(why, whylen, "bad IPv6 address");
			return -1;
		}
		memcpy(addr, b + 1, n);
		addr[n] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, addr, &a6) != 1) {
			errbuf_set(why, whylen, "bad IPv6 address \"%s\"", addr);
			return -1;
		}
		if (close + 1 < e) {
			if (close[1] != ':') {
				errbuf_set(why, whylen, "unexpected text after ']'");
				return -1;
			}
			port = close + 2;
		}
	} else {
		const char *p;

		for (p = b; p < e && *p != ':'; p++) {
			if (!is_alnum(*p) && !strchr("-._~%", *p)) {
				errbuf_set(why, whylen,
				           "character '%c' is not allowed in a host name", *p);
				return -1;
			}
		}
		if (p == b) {
			errbuf_set(why, whylen, "missing host");
			return -1;
		}
		if (p < e)
			port = p + 1;
	}
	if (port) {
		long long v = 0;
		const char *p;

		if (port == e) {
			errbuf_set(why, whylen, "empty port");
			return -1;
		}
		for (p = port; p < e; p++) {
			if (!is_digit(*p) || (v = v * 10 + (*p - '0')) > 65535) {
				errbuf_set(why, whylen, "bad port \"%.*s\"", (int)(e - port), port);
				return -1;
			}
		}
		if (v == 0) {
			errbuf_set(why, whylen, "port 0");
			return -1;
		}
	}
	return 0;
}

/* Turns one GOPROXY entry (not a keyword, blanks trimmed) into the base URL
 * stored in config_upstream.url: scheme lowered, "https://" supplied the way
 * the go command supplies it, trailing slashes dropped, file URLs written
 * "file://" + path. Messages follow the go command's where it has them. */
static int parse_proxy_url(const char *entry, int allow_userinfo, char *out, size_t outlen,
                           char *err, size_t errlen)
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
		errbuf_set(err, errlen, "invalid proxy URL: longer than %d bytes",
		           CONFIG_URL_MAX - 1);
		return -1;
	}
	redact_url(u, shown, sizeof(shown));

	for (p = u; *p; p++) {
		if (!url_char_ok(*p)) {
			if (*p > 0x20 && *p < 0x7f)
				errbuf_set(err, errlen, "invalid proxy URL %s: percent-encode '%c'",
				           shown, *p);
			else
				errbuf_set(err, errlen,
				           "invalid proxy URL %s: blank, control or non-ASCII byte "
				           "(percent-encode it)",
				           shown);
			return -1;
		}
		if (*p == '?' || *p == '#') {
			errbuf_set(err, errlen,
			           "invalid proxy URL %s: a query or fragment is not allowed",
			           shown);
			return -1;
		}
		if (*p == '%' && !(is_hex(p[1]) && is_hex(p[2]))) {
			errbuf_set(err, errlen, "invalid proxy URL %s: bad %%-escape", shown);
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
			errbuf_set(err, errlen,
			           "invalid proxy URL missing scheme: %s (for a directory, write "
			           "file://%s)",
			           shown, u);
		else
			errbuf_set(
			    err, errlen,
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
				errbuf_set(
				    err, errlen,
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
			errbuf_set(err, errlen,
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
			errbuf_set(err, errlen, "invalid proxy URL %s: expected %s://host", shown,
			           scheme);
			return -1;
		}
		hp = rest + 2;
		auth_end = hp + strcspn(hp, "/");
		for (p = hp; p < auth_end; p++)
			if (*p == '@')
				at = p;
		/* The go command takes user[:password]@ in GOPROXY, and so do we
		 * from the environment (kept as written). A config file is copied,
		 * backed up and printed by modgate -t: it holds no secret. */
		if (at && !allow_userinfo) {
			errbuf_set(err, errlen,
			           "invalid proxy URL %s: credentials in a URL are refused in the "
			           "config file (write token_file=, token_env=, basic_file= or "
			           "basic_env= after a pool's upstream URL, or use netrc)",
			           shown);
			return -1;
		}
		if (at)
			hp = at + 1;
		if (check_hostport(hp, auth_end, why, sizeof(why)) < 0) {
			errbuf_set(err, errlen, "invalid proxy URL %s: %s", shown, why);
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
		errbuf_set(err, errlen, "invalid proxy URL: longer than %zu bytes", outlen - 1);
		return -1;
	}
	return 0;

bad_scheme:
	errbuf_set(err, errlen, "invalid proxy URL scheme (must be https, http, file): %s", shown);
	return -1;
}

static int parse_goproxy(struct config *c, const char *list, int allow_userinfo, char *err,
                         size_t errlen)
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
			errbuf_set(err, errlen, "more than %d entries in the proxy list",
			           CONFIG_MAX_UPSTREAMS);
			return -1;
		}
		if ((size_t)(e - b) >= sizeof(entry)) {
			errbuf_set(err, errlen, "invalid proxy URL: longer than %d bytes",
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
		if (parse_proxy_url(entry, allow_userinfo, ups[n].url, sizeof(ups[n].url), err,
		                    errlen) < 0)
			return -1;
		ups[n].kind = CONFIG_UP_URL;
		ups[n].fallthrough_any = any;
		n++;
	}
	if (n == 0) {
		errbuf_set(err, errlen,
		           "GOPROXY list is not the empty string, but contains no entries");
		return -1;
	}
	memcpy(c->upstreams, ups, sizeof(ups));
	c->n_upstreams = n;
	return 0;
}

int config_parse_goproxy(struct config *c, const char *list, char *err, size_t errlen)
{
	return parse_goproxy(c, list, 1, err, errlen);
}

/* ---- listen, paths, patterns ----------------------------------------------- */

int config_parse_listen(const char *s, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen)
{
	const char *hb, *he, *colon, *p;
	long long v;

	if (!*s) {
		errbuf_set(err, errlen,
		           "empty listen address (write host:port, [v6]:port or :port)");
		return -1;
	}
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		char addr[64];
		size_t n;

		if (!close) {
			errbuf_set(err, errlen, "\"%s\": missing ']' after the IPv6 address", s);
			return -1;
		}
		hb = s + 1;
		he = close;
		n = (size_t)(he - hb);
		if (n == 0 || n >= sizeof(addr)) {
			errbuf_set(err, errlen, "\"%s\": bad IPv6 address", s);
			return -1;
		}
		memcpy(addr, hb, n);
		addr[n] = '\0';
		addr[strcspn(addr, "%")] = '\0'; /* a %zone is left to the kernel */
		struct in6_addr a6;
		if (inet_pton(AF_INET6, addr, &a6) != 1) {
			errbuf_set(err, errlen, "\"%s\": bad IPv6 address", s);
			return -1;
		}
		for (p = hb; p < he; p++) {
			if (!is_alnum(*p) && !strchr(":.%-_", *p)) {
				errbuf_set(err, errlen, "\"%s\": bad IPv6 address", s);
				return -1;
			}
		}
		if (close[1] != ':') {
			errbuf_set(err, errlen, "\"%s\": missing port (write [%.*s]:8080)", s,
			           (int)n, hb);
			return -1;
		}
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			if (is_digit(s[0]) && s[strspn(s, "0123456789")] == '\0')
				errbuf_set(err, errlen,
				           "\"%s\": missing host (write :%s for every address)", s,
				           s);
			else
				errbuf_set(err, errlen, "\"%s\": missing port (write %s:8080)", s,
				           s);
			return -1;
		}
		hb = s;
		he = colon;
		for (p = hb; p < he; p++) {
			if (*p == ':') {
				errbuf_set(
				    err, errlen,
				    "\"%s\": an IPv6 address must be in brackets, as [::1]:8080",
				    s);
				return -1;
			}
			if (!is_alnum(*p) && *p != '-' && *p != '.' && *p != '_') {
				errbuf_set(
				    err, errlen,
				    "\"%s\": character '%c' is not allowed in a host (write :port "
				    "for "
				    "every address)",
				    s, *p);
				return -1;
			}
		}
	}
	if (parse_int(colon + 1, 1, 65535, &v, NULL, 0) < 0) {
		errbuf_set(err, errlen, "\"%s\": port must be a number from 1 to 65535", s);
		return -1;
	}
	if ((size_t)(he - hb) >= hostlen) {
		errbuf_set(err, errlen, "\"%s\": host name too long", s);
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
		errbuf_set(err, errlen, "\"%s\" cannot start with '%c' in modgate.ini", v, v[0]);
		return -1;
	}
	for (const char *p = v; *p; p++) {
		if (p[0] == ';' && p > v && is_blank(p[-1])) {
			errbuf_set(err, errlen,
			           "\"%s\": a ';' after a blank starts a comment in modgate.ini",
			           v);
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
		errbuf_set(err, errlen, "empty path");
		return -1;
	}
	if (is_blank(v[0]) || is_blank(v[n - 1])) {
		errbuf_set(err, errlen, "\"%s\": blank at the start or end of the path", v);
		return -1;
	}
	if (check_writable(v, err, errlen) < 0)
		return -1;
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			errbuf_set(err, errlen, "control character in the path");
			return -1;
		}
	}
	if (copy_str(dst, dstlen, v) < 0) {
		errbuf_set(err, errlen, "path longer than %zu bytes", dstlen - 1);
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
		errbuf_set(err, errlen, "path longer than %zu bytes", sizeof(buf) - 1);
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
			errbuf_set(
			    err, errlen,
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
		errbuf_set(err, errlen, "pattern list longer than %zu bytes", dstlen - 1);
		return -1;
	}
	return 0;
}

/* ---- GOSUMDB ----------------------------------------------------------------- */

/* The go command's built-in key (cmd/go/internal/modfetch: knownGOSUMDB). */
#define KNOWN_SUMDB_NAME "sum.golang.org"
#define KNOWN_SUMDB_KEY "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

int config_parse_gosumdb(struct config *c, const char *value, char *err, size_t errlen)
{
	char first[CONFIG_SUMDB_KEY_MAX], url[CONFIG_URL_MAX] = "", why[400];
	const char *p = value + strspn(value, " \t"), *rest;
	size_t n = strcspn(p, " \t");
	struct sumdb_verifier v;

	if (n == 0) {
		errbuf_set(err, errlen, "empty checksum database (write off to disable it)");
		return -1;
	}
	if (n >= sizeof(first)) {
		errbuf_set(err, errlen, "checksum database key longer than %zu bytes",
		           sizeof(first) - 1);
		return -1;
	}
	memcpy(first, p, n);
	first[n] = '\0';
	rest = p + n + strspn(p + n, " \t");
	if (strcmp(first, "off") == 0 && !*rest) {
		c->sumdb_name[0] = c->sumdb_key[0] = c->sumdb_url[0] = '\0';
		c->sumdb_cred = 0;
		return 0;
	}
	if (*rest) {
		size_t m = strcspn(rest, " \t");

		if (rest[m + strspn(rest + m, " \t")] != '\0') {
			errbuf_set(err, errlen,
			           "checksum database: expected \"KEY [URL]\", got %.200s", value);
			return -1;
		}
		if (m >= sizeof(why)) {
			errbuf_set(err, errlen, "checksum database URL too long");
			return -1;
		}
		memcpy(why, rest, m);
		why[m] = '\0';
		if (parse_proxy_url(why, 0, url, sizeof(url), err, errlen) < 0)
			return -1;
		if (strncmp(url, "file://", 7) == 0) {
			errbuf_set(err, errlen, "checksum database URL must be http or https");
			return -1;
		}
	}
	/* A bare name must be one the go command knows the key of. */
	if (!strchr(first, '+')) {
		if (strcmp(first, "sum.golang.google.cn") == 0 && !url[0])
			snprintf(url, sizeof(url), "https://sum.golang.google.cn");
		else if (strcmp(first, KNOWN_SUMDB_NAME) != 0 &&
		         strcmp(first, "sum.golang.google.cn") != 0) {
			errbuf_set(err, errlen,
			           "unknown checksum database %.200s (give its key: "
			           "name+hash+keydata)",
			           first);
			return -1;
		}
		snprintf(first, sizeof(first), "%s", KNOWN_SUMDB_KEY);
	}
	if (sumdb_verifier_parse(first, strlen(first), &v, why, sizeof(why)) != 0) {
		errbuf_set(err, errlen, "checksum database key %.200s: %s", first, why);
		return -1;
	}
	if (v.name_len >= sizeof(c->sumdb_name) ||
	    strspn(v.name, "abcdefghijklmnopqrstuvwxyz0123456789.-_") != v.name_len) {
		errbuf_set(err, errlen, "checksum database name %.200s is not a host name", v.name);
		return -1;
	}
	snprintf(c->sumdb_name, sizeof(c->sumdb_name), "%s", v.name);
	snprintf(c->sumdb_key, sizeof(c->sumdb_key), "%s", first);
	snprintf(c->sumdb_url, sizeof(c->sumdb_url), "%s", url);
	/* The loaders look the new URL's host up in netrc afterwards. */
	c->sumdb_cred = 0;
	return 0;
}

int config_is_nosumdb(const struct config *c, const char *module_path)
{
	return !c->sumdb_name[0] || pathglob_match_prefix(c->nosumdb, module_path) == 1;
}

static const char *const log_levels[] = {"debug", "info", "warn", "error"};
/* ---- credentials ------------------------------------------------------------ */

/* The four ways an upstream line names its credential; the value after '='
 * is a path (from FILE) or a variable's name (from ENV). */
static const struct {
	const char *name;
	enum config_cred_kind kind;
	enum config_cred_from from;
} cred_options[] = {
    {"token_file", CONFIG_CRED_BEARER, CONFIG_CRED_FILE},
    {"token_env", CONFIG_CRED_BEARER, CONFIG_CRED_ENV},
    {"basic_file", CONFIG_CRED_BASIC, CONFIG_CRED_FILE},
    {"basic_env", CONFIG_CRED_BASIC, CONFIG_CRED_ENV},
};

#define N_CRED_OPTIONS (sizeof(cred_options) / sizeof(cred_options[0]))

static int option_is(const char *tok, const char *name)
{
	size_t n = strlen(name);

	return strncmp(tok, name, n) == 0 && tok[n] == '=';
}

static int is_cred_option(const char *tok)
{
	for (size_t i = 0; i < N_CRED_OPTIONS; i++)
		if (option_is(tok, cred_options[i].name))
			return 1;
	return 0;
}

/* Options that would carry the secret itself. Named so that the refusal
 * explains itself rather than calling them unknown. */
static int is_inline_secret(const char *tok)
{
	static const char *const names[] = {"token", "basic", "password", "user", "bearer"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (option_is(tok, names[i]))
			return 1;
	return 0;
}

/* The option that names spec's source, as the config file writes it. */
static const char *cred_option_name(const struct config_cred *spec)
{
	for (size_t i = 0; i < N_CRED_OPTIONS; i++)
		if (cred_options[i].kind == spec->kind && cred_options[i].from == spec->from)
			return cred_options[i].name;
	return "netrc";
}

/* A POSIX environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int env_name_ok(const char *s)
{
	if (!*s || is_digit(*s))
		return 0;
	for (; *s; s++)
		if (!is_alnum(*s) && *s != '_')
			return 0;
	return 1;
}

/* "token_file=/etc/modgate/corp.token" and the like into *spec. */
static int parse_cred_option(const char *tok, struct config_cred *spec, char *err, size_t errlen)
{
	size_t i;
	const char *v = strchr(tok, '=') + 1;

	for (i = 0; i < N_CRED_OPTIONS; i++)
		if (option_is(tok, cred_options[i].name))
			break;
	spec->kind = cred_options[i].kind;
	spec->from = cred_options[i].from;
	if (!*v) {
		errbuf_set(err, errlen, "%s= needs a %s", cred_options[i].name,
		           spec->from == CONFIG_CRED_FILE ? "path" : "variable name");
		return -1;
	}
	if (spec->from == CONFIG_CRED_ENV && !env_name_ok(v)) {
		errbuf_set(err, errlen,
		           "%s=%.64s: not a variable name (letters, digits and '_', not starting "
		           "with a digit)",
		           cred_options[i].name, v);
		return -1;
	}
	if (spec->from == CONFIG_CRED_FILE) {
		if (v[0] != '/') {
			errbuf_set(err, errlen,
			           "%s=%.200s: the path must be absolute (modgate may run from any "
			           "directory)",
			           cred_options[i].name, v);
			return -1;
		}
		if (check_writable(v, err, errlen) < 0)
			return -1;
	}
	if (copy_str(spec->source, sizeof(spec->source), v) < 0) {
		errbuf_set(err, errlen, "%s= longer than %d bytes", cred_options[i].name,
		           CONFIG_CRED_SOURCE_MAX - 1);
		return -1;
	}
	return 0;
}

/* Checks a secret just read (trailing line break and blanks already gone):
 * printable ASCII on one line; a token has no blank (RFC 6750's token68);
 * basic auth is "user:password" with a user. Messages never quote it. */
static int check_secret(enum config_cred_kind kind, const char *s, char *err, size_t errlen)
{
	const char *colon;

	if (!*s) {
		errbuf_set(err, errlen, "empty %s",
		           kind == CONFIG_CRED_BEARER ? "token" : "secret");
		return -1;
	}
	for (const char *p = s; *p; p++) {
		if (*p == '\n' || *p == '\r') {
			errbuf_set(err, errlen, "more than one line (the secret is one line)");
			return -1;
		}
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			errbuf_set(err, errlen, "a control or non-ASCII byte in the secret");
			return -1;
		}
		if (kind == CONFIG_CRED_BEARER && *p == ' ') {
			errbuf_set(err, errlen, "a blank inside the token");
			return -1;
		}
	}
	if (kind == CONFIG_CRED_BASIC) {
		colon = strchr(s, ':');
		if (!colon) {
			errbuf_set(err, errlen, "no ':' (write user:password on one line)");
			return -1;
		}
		if (colon == s) {
			errbuf_set(err, errlen, "empty user name before the ':'");
			return -1;
		}
	}
	return 0;
}

/* Drops the line break, and any blanks, at the end of a secret read from a
 * file or a variable: `echo TOKEN > file` must just work. */
static void trim_end(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
}

/* Reads up to max bytes of the file at path into buf (size max + 1) and NUL
 * terminates it; *n is the count, which is max + 1 when the file is larger.
 * Warns when group or others may read it. -1 with errno set. */
static int read_secret_file(const char *path, char *buf, size_t max, size_t *n, const char *what)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO named by mistake must not hang the load. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), saved;
	FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;

	if (!f) {
		saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return -1;
	}
	if (fstat(fileno(f), &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_warn("%s %s is readable by %s: chmod 600 it (or 640 for a group of its own)",
		         what, path, st.st_mode & S_IROTH ? "every user" : "its group");
	*n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		errno = errno ? errno : EIO;
		goto fail;
	}
	buf[*n < max + 1 ? *n : max] = '\0';
	fclose(f);
	return 0;
fail:
	saved = errno;
	fclose(f);
	errno = saved;
	return -1;
}

/* Reads spec's secret from its file or variable into spec->secret. */
static int read_secret(struct config_cred *spec, char *err, size_t errlen)
{
	char buf[CONFIG_SECRET_MAX + 1], why[160];
	const char *opt = cred_option_name(spec);
	size_t n = 0;

	if (spec->from == CONFIG_CRED_ENV) {
		const char *v = getenv(spec->source);

		if (!v || !*v) {
			errbuf_set(err, errlen, "%s=%s: the environment variable is %s", opt,
			           spec->source, v ? "empty" : "not set");
			return -1;
		}
		n = strlen(v);
		if (n < sizeof(buf))
			memcpy(buf, v, n + 1);
	} else if (read_secret_file(spec->source, buf, CONFIG_SECRET_MAX, &n, "secret file") < 0) {
		errbuf_set(err, errlen, "%s=%s: %s", opt, spec->source,
		           errno == EINVAL ? "not a regular file" : strerror(errno));
		return -1;
	}
	if (n >= CONFIG_SECRET_MAX) {
		errbuf_set(err, errlen, "%s=%s: the secret is longer than %d bytes", opt,
		           spec->source, CONFIG_SECRET_MAX - 1);
		goto fail;
	}
	if (strlen(buf) != n) {
		errbuf_set(err, errlen, "%s=%s: a NUL byte in the secret", opt, spec->source);
		goto fail;
	}
	trim_end(buf);
	if (check_secret(spec->kind, buf, why, sizeof(why)) < 0) {
		errbuf_set(err, errlen, "%s=%s: %s", opt, spec->source, why);
		goto fail;
	}
	memcpy(spec->secret, buf, strlen(buf) + 1);
	memset(buf, 0, sizeof(buf));
	return 0;
fail:
	memset(buf, 0, sizeof(buf));
	return -1;
}

/* The 1-based index of the credential with spec's kind, origin and source
 * in c->creds, or 0. One source read once gives one secret, so these three
 * name a credential. */
static int find_cred(const struct config *c, const struct config_cred *spec)
{
	for (int i = 0; i < c->n_creds; i++) {
		const struct config_cred *k = &c->creds[i];

		if (k->kind == spec->kind && k->from == spec->from &&
		    strcmp(k->source, spec->source) == 0)
			return i + 1;
	}
	return 0;
}

/* Adds spec (secret read) to c->creds: its 1-based index, or -1 when the
 * table is full. */
static int add_cred(struct config *c, const struct config_cred *spec, char *err, size_t errlen)
{
	int idx = find_cred(c, spec);

	if (idx)
		return idx;
	if (c->n_creds == CONFIG_MAX_CREDS) {
		errbuf_set(err, errlen, "more than %d distinct credentials", CONFIG_MAX_CREDS);
		return -1;
	}
	c->creds[c->n_creds++] = *spec;
	return c->n_creds;
}

/* Forgets the credentials that came from netrc, keeping the others and the
 * upstreams' references to them. */
static void drop_netrc_creds(struct config *c)
{
	int map[CONFIG_MAX_CREDS + 1] = {0}, n = 0;

	for (int i = 0; i < c->n_creds; i++) {
		if (c->creds[i].from == CONFIG_CRED_NETRC)
			continue;
		if (n != i)
			c->creds[n] = c->creds[i];
		map[i + 1] = ++n;
	}
	memset(&c->creds[n], 0, sizeof(c->creds[0]) * (size_t)(CONFIG_MAX_CREDS - n));
	c->n_creds = n;
	for (int i = 0; i < c->n_upstreams; i++)
		c->upstreams[i].cred = map[c->upstreams[i].cred];
	c->sumdb_cred = map[c->sumdb_cred];
	for (int i = 0; i < c->n_pools; i++)
		for (int j = 0; j < c->pools[i].n_upstreams; j++)
			c->pools[i].upstreams[j].cred = map[c->pools[i].upstreams[j].cred];
}

/* The host[:port] of an http(s) URL, as a netrc machine is written; 0 when
 * the URL is a file:// one or carries credentials of its own. */
static int url_machine(const char *url, char *out, size_t outlen)
{
	const char *h = strstr(url, "://");
	size_t n;

	if (!h || strncmp(url, "file:", 5) == 0)
		return 0;
	h += 3;
	n = strcspn(h, "/");
	if (memchr(h, '@', n) || n >= outlen)
		return 0;
	memcpy(out, h, n);
	out[n] = '\0';
	return 1;
}

/* Gives every upstream without a credential of its own, and the checksum
 * database's URL, the netrc entry of its host, if c->netrc has one. 0, or
 * -1 with err. */
static int apply_netrc(struct config *c, char *err, size_t errlen)
{
	char *text = NULL, login[CONFIG_SECRET_MAX], password[CONFIG_SECRET_MAX], why[160];
	size_t n = 0;
	int rc = -1;
	int *refs[CONFIG_MAX_UPSTREAMS + CONFIG_MAX_POOLS * CONFIG_MAX_POOL_UPSTREAMS + 1];
	const char *urls[CONFIG_MAX_UPSTREAMS + CONFIG_MAX_POOLS * CONFIG_MAX_POOL_UPSTREAMS + 1];
	int n_refs = 0;

	drop_netrc_creds(c);
	c->sumdb_cred = 0;
	if (!c->netrc[0])
		return 0;
	if (c->sumdb_url[0]) {
		refs[n_refs] = &c->sumdb_cred;
		urls[n_refs++] = c->sumdb_url;
	}
	for (int i = 0; i < c->n_upstreams; i++) {
		if (c->upstreams[i].kind != CONFIG_UP_URL || c->upstreams[i].cred)
			continue;
		refs[n_refs] = &c->upstreams[i].cred;
		urls[n_refs++] = c->upstreams[i].url;
	}
	for (int i = 0; i < c->n_pools; i++) {
		for (int j = 0; j < c->pools[i].n_upstreams; j++) {
			if (c->pools[i].upstreams[j].cred)
				continue;
			refs[n_refs] = &c->pools[i].upstreams[j].cred;
			urls[n_refs++] = c->pools[i].upstreams[j].url;
		}
	}
	text = malloc(CONFIG_FILE_MAX + 1);
	if (!text) {
		errbuf_set(err, errlen, "netrc %s: out of memory", c->netrc);
		return -1;
	}
	if (read_secret_file(c->netrc, text, CONFIG_FILE_MAX, &n, "netrc file") < 0) {
		if (errno == ENOENT && c->netrc_optional) {
			rc = 0;
			goto out;
		}
		errbuf_set(err, errlen, "netrc %s: %s", c->netrc,
		           errno == EINVAL ? "not a regular file" : strerror(errno));
		goto out;
	}
	if (n > CONFIG_FILE_MAX) {
		errbuf_set(err, errlen, "netrc %s: larger than %d bytes", c->netrc,
		           CONFIG_FILE_MAX);
		goto out;
	}
	for (int i = 0; i < n_refs; i++) {
		struct config_cred spec = {.kind = CONFIG_CRED_BASIC, .from = CONFIG_CRED_NETRC};
		int found, idx;

		if (!url_machine(urls[i], spec.source, sizeof(spec.source)))
			continue;
		found = netrc_lookup(text, n, spec.source, login, sizeof(login), password,
		                     sizeof(password), why, sizeof(why));
		if (found < 0) {
			errbuf_set(err, errlen, "netrc %s: %s", c->netrc, why);
			goto out;
		}
		if (found == 0)
			continue;
		if ((size_t)snprintf(spec.secret, sizeof(spec.secret), "%s:%s", login, password) >=
		        sizeof(spec.secret) ||
		    check_secret(CONFIG_CRED_BASIC, spec.secret, why, sizeof(why)) < 0) {
			errbuf_set(err, errlen, "netrc %s: the entry for %s: %s", c->netrc,
			           spec.source, "login:password is too long or not printable");
			memset(&spec, 0, sizeof(spec));
			goto out;
		}
		idx = add_cred(c, &spec, err, errlen);
		memset(&spec, 0, sizeof(spec));
		if (idx < 0)
			goto out;
		*refs[i] = idx;
	}
	rc = 0;
out:
	memset(login, 0, sizeof(login));
	memset(password, 0, sizeof(password));
	if (text)
		memset(text, 0, n < CONFIG_FILE_MAX ? n : CONFIG_FILE_MAX);
	free(text);
	return rc;
}

/* ---- the key table ----------------------------------------------------------- */

enum key_kind {
	KEY_LISTEN,   /* listen_host + listen_port */
	KEY_ADMIN,    /* admin_host + admin_port, or "off" */
	KEY_PATH,     /* char[] at off */
	KEY_INT,      /* int at off, in [min, max] */
	KEY_TTL,      /* int seconds at off, a duration in [min, max] seconds */
	KEY_TIMEOUT,  /* int milliseconds at off, a duration in [min, max] ms */
	KEY_GOPROXY,  /* upstreams + n_upstreams */
	KEY_PATTERNS, /* char[] at off, GONOPROXY syntax */
	KEY_PERCENT,  /* int at off, written "50%", in [min, max] */
	KEY_SUMDB,    /* sumdb_name + sumdb_key + sumdb_url, GOSUMDB syntax */
	KEY_LOGLEVEL, /* int at off: debug, info, warn, error */
	KEY_LOGFMT,   /* int at off: text 0, json 1 */
	KEY_LOGOUT,   /* char[] at off: stderr, syslog or an absolute path */
	KEY_NETRC,    /* netrc + netrc_optional: a path, or "off" */
	KEY_ONOFF,    /* int at off: on 1, off 0 */
	KEY_TOKEN,    /* admin_token, from a file or variable: min is its config_cred_from */
	KEY_TLSFILE,  /* char[] at off: an absolute path, "" when unset (a comment in the dump) */
};

struct config_key {
	const char *section;
	const char *name;
	enum key_kind kind;
	size_t off, size;
	long long min, max;
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

/* The [breaker] rows only keep each value an int of the right shape;
 * breaker_config_check judges the settings together once the file is read
 * (min_calls depends on window, open_max on open), so that the ranges live
 * in one place, the breaker module. */
static const struct config_key keys[] = {
    {"server", "listen", KEY_LISTEN, 0, 0, 0, 0},
    {"server", "cache", KEY_PATH, FIELD(cache_dir), 0, 0},
    {"server", "workers", KEY_INT, FIELD(workers), CONFIG_WORKERS_MIN, CONFIG_WORKERS_MAX},
    {"server", "stop_timeout", KEY_TIMEOUT, FIELD(stop_timeout_ms), 0, CONFIG_TIMEOUT_MAX_MS},
    {"server", "max_connections", KEY_INT, FIELD(max_connections), CONFIG_MAX_CONNECTIONS_MIN,
     CONFIG_MAX_CONNECTIONS_MAX},
    {"server", "offline", KEY_ONOFF, FIELD(offline), 0, 0},
    {"server", "tls_cert", KEY_TLSFILE, FIELD(tls_cert), 0, 0},
    {"server", "tls_key", KEY_TLSFILE, FIELD(tls_key), 0, 0},
    {"upstream", "proxy", KEY_GOPROXY, 0, 0, 0, 0},
    {"upstream", "noproxy", KEY_PATTERNS, FIELD(noproxy), 0, 0},
    {"upstream", "netrc", KEY_NETRC, 0, 0, 0, 0},
    {"cache", "list_ttl", KEY_TTL, FIELD(list_ttl_s), 0, CONFIG_TTL_MAX_S},
    {"cache", "negative_ttl", KEY_TTL, FIELD(negative_ttl_s), 0, CONFIG_TTL_MAX_S},
    {"timeouts", "connect", KEY_TIMEOUT, FIELD(connect_timeout_ms), CONFIG_TIMEOUT_MIN_MS,
     CONFIG_TIMEOUT_MAX_MS},
    {"timeouts", "first_byte", KEY_TIMEOUT, FIELD(first_byte_timeout_ms), CONFIG_TIMEOUT_MIN_MS,
     CONFIG_TIMEOUT_MAX_MS},
    {"timeouts", "idle", KEY_TIMEOUT, FIELD(idle_timeout_ms), CONFIG_TIMEOUT_MIN_MS,
     CONFIG_TIMEOUT_MAX_MS},
    {"timeouts", "metadata", KEY_TIMEOUT, FIELD(metadata_timeout_ms), CONFIG_TIMEOUT_MIN_MS,
     CONFIG_TIMEOUT_MAX_MS},
    {"timeouts", "budget", KEY_TIMEOUT, FIELD(budget_ms), CONFIG_TIMEOUT_MIN_MS,
     CONFIG_TIMEOUT_MAX_MS},
    {"admin", "listen", KEY_ADMIN, 0, 0, 0, 0},
    {"admin", "token_file", KEY_TOKEN, 0, 0, CONFIG_CRED_FILE, 0},
    {"admin", "token_env", KEY_TOKEN, 0, 0, CONFIG_CRED_ENV, 0},
    {"sumdb", "database", KEY_SUMDB, 0, 0, 0, 0},
    {"sumdb", "nosumdb", KEY_PATTERNS, FIELD(nosumdb), 0, 0},
    {"log", "level", KEY_LOGLEVEL, FIELD(log_level), 0, 0},
    {"log", "format", KEY_LOGFMT, FIELD(log_json), 0, 0},
    {"log", "output", KEY_LOGOUT, FIELD(log_output), 0, 0},
    {"breaker", "failures", KEY_INT, FIELD(breaker.consecutive_failures), 0, INT_MAX},
    {"breaker", "window", KEY_INT, FIELD(breaker.window_size), 0, INT_MAX},
    {"breaker", "min_calls", KEY_INT, FIELD(breaker.window_min_calls), 0, INT_MAX},
    {"breaker", "failure_rate", KEY_PERCENT, FIELD(breaker.failure_rate_pct), 0, 100},
    {"breaker", "slow", KEY_TIMEOUT, FIELD(breaker.slow_ms), 0, BREAKER_MS_MAX},
    {"breaker", "slow_rate", KEY_PERCENT, FIELD(breaker.slow_rate_pct), 0, 100},
    {"breaker", "open", KEY_TIMEOUT, FIELD(breaker.open_base_ms), 0, BREAKER_MS_MAX},
    {"breaker", "open_max", KEY_TIMEOUT, FIELD(breaker.open_max_ms), 0, BREAKER_MS_MAX},
    {"breaker", "jitter", KEY_PERCENT, FIELD(breaker.jitter_pct), 0, 100},
    {"breaker", "probes", KEY_INT, FIELD(breaker.half_open_probes), 0, INT_MAX},
    {"breaker", "probe_successes", KEY_INT, FIELD(breaker.half_open_successes), 0, INT_MAX},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

/* How breaker_config_check names each field in its messages ("breaker:
 * window_min_calls (30) must be ..."), so that its verdict is reported on
 * the line of the key at fault. */
static const struct {
	const char *key, *field;
} breaker_fields[] = {
    {"failures", "consecutive_failures"},
    {"window", "window_size"},
    {"min_calls", "window_min_calls"},
    {"failure_rate", "failure_rate_pct"},
    {"slow", "slow_ms"},
    {"slow_rate", "slow_rate_pct"},
    {"open", "open_base_ms"},
    {"open_max", "open_max_ms"},
    {"jitter", "jitter_pct"},
    {"probes", "half_open_probes"},
    {"probe_successes", "half_open_successes"},
};

#define N_BREAKER_FIELDS (sizeof(breaker_fields) / sizeof(breaker_fields[0]))

static const char *const sections[] = {"server",  "upstream", "cache", "timeouts",
                                       "breaker", "admin",    "sumdb", "log"};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

#define KNOWN_SECTIONS                                                                             \
	"known: [server], [upstream], [cache], [timeouts], [breaker], [admin], [sumdb], [log], "   \
	"[pool \"NAME\"], [route], [deny], [allow]"

static int table_section(const char *name, size_t len)
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
	errbuf_set(err, errlen, "%s is out of range %s..%s", v, lo, hi);
	return -1;
}

/* "20%": a whole number in [min, max] and a '%' sign. The sign is required:
 * "retry_budget = 20" might as well mean 20 retries. */
static int parse_percent(const char *v, long long min, long long max, long long *out, char *err,
                         size_t errlen)
{
	char num[24];
	size_t n = strlen(v);

	if (n == 0 || v[n - 1] != '%' || n - 1 >= sizeof(num)) {
		errbuf_set(err, errlen,
		           "\"%s\" is not a percentage (write %lld%% to %lld%%, with the %% sign)",
		           v, min, max);
		return -1;
	}
	memcpy(num, v, n - 1);
	num[n - 1] = '\0';
	if (parse_int(num, min, max, out, NULL, 0) < 0) {
		errbuf_set(err, errlen, "\"%s\" is not a percentage from %lld%% to %lld%%", v, min,
		           max);
		return -1;
	}
	return 0;
}

/* [admin] token_file = PATH or token_env = NAME: read now, like an
 * upstream's credential, so that a reload is what rotates it. */
static int set_admin_token(struct config *c, const struct config_key *k, const char *v, char *err,
                           size_t errlen)
{
	struct config_cred spec = {.kind = CONFIG_CRED_BEARER};
	char opt[CONFIG_CRED_SOURCE_MAX + 16];

	if (c->admin_token.source[0] && c->admin_token.from != (enum config_cred_from)k->min) {
		errbuf_set(err, errlen, "%s is set too: keep one of the two",
		           k->min == CONFIG_CRED_FILE ? "token_env" : "token_file");
		return -1;
	}
	snprintf(opt, sizeof(opt), "%s=%s", k->name, v);
	if (parse_cred_option(opt, &spec, err, errlen) < 0 || read_secret(&spec, err, errlen) < 0)
		return -1;
	c->admin_token = spec;
	memset(&spec, 0, sizeof(spec));
	return 0;
}

static int set_value(struct config *c, const struct config_key *k, const char *v, char *err,
                     size_t errlen)
{
	long long n;

	switch (k->kind) {
	case KEY_LISTEN:
		return config_parse_listen(v, c->listen_host, sizeof(c->listen_host),
		                           &c->listen_port, err, errlen);
	case KEY_ADMIN:
		if (strcmp(v, "off") == 0) {
			c->admin_host[0] = '\0';
			c->admin_port = 0;
			return 0;
		}
		return config_parse_listen(v, c->admin_host, sizeof(c->admin_host), &c->admin_port,
		                           err, errlen);
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
			errbuf_set(err, errlen, "%s is not a whole number of seconds", v);
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
			errbuf_set(
			    err, errlen,
			    "empty proxy list (write off to disable upstreams, or remove the key "
			    "for the default %s)",
			    CONFIG_DEFAULT_GOPROXY);
			return -1;
		}
		return parse_goproxy(c, v, 0, err, errlen);
	case KEY_PATTERNS:
		return set_patterns((char *)c + k->off, k->size, v, err, errlen);
	case KEY_PERCENT:
		if (parse_percent(v, k->min, k->max, &n, err, errlen) < 0)
			return -1;
		*int_field(c, k) = (int)n;
		return 0;
	case KEY_SUMDB:
		return config_parse_gosumdb(c, v, err, errlen);
	case KEY_LOGLEVEL:
		for (n = 0; n < 4; n++) {
			if (strcmp(v, log_levels[n]) == 0) {
				*int_field(c, k) = (int)n;
				return 0;
			}
		}
		errbuf_set(err, errlen, "\"%s\" is not a log level (debug, info, warn, error)", v);
		return -1;
	case KEY_LOGFMT:
		if (strcmp(v, "text") != 0 && strcmp(v, "json") != 0) {
			errbuf_set(err, errlen, "\"%s\" is not a log format (text, json)", v);
			return -1;
		}
		*int_field(c, k) = strcmp(v, "json") == 0;
		return 0;
	case KEY_LOGOUT:
		if (strcmp(v, "stderr") != 0 && strcmp(v, "syslog") != 0 && v[0] != '/') {
			errbuf_set(err, errlen,
			           "log output \"%s\" must be stderr, syslog or an absolute path",
			           v);
			return -1;
		}
		if (copy_str((char *)c + k->off, k->size, strcmp(v, "stderr") == 0 ? "" : v) < 0) {
			errbuf_set(err, errlen, "log output path too long");
			return -1;
		}
		return 0;
	case KEY_NETRC:
		/* Named in the file: it must exist, unlike the default one. */
		c->netrc_optional = 0;
		if (strcmp(v, "off") == 0) {
			c->netrc[0] = '\0';
			return 0;
		}
		if (v[0] != '/') {
			errbuf_set(err, errlen, "\"%s\": write an absolute path, or off", v);
			return -1;
		}
		return set_path(c->netrc, sizeof(c->netrc), v, err, errlen);
	case KEY_ONOFF:
		if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
			errbuf_set(err, errlen, "\"%s\" is neither on nor off", v);
			return -1;
		}
		*int_field(c, k) = strcmp(v, "on") == 0;
		return 0;
	case KEY_TOKEN:
		return set_admin_token(c, k, v, err, errlen);
	case KEY_TLSFILE:
		/* Read once the whole file is, with its partner (check_tls). */
		if (v[0] != '/') {
			errbuf_set(err, errlen, "\"%s\": write an absolute path", v);
			return -1;
		}
		return set_path((char *)c + k->off, k->size, v, err, errlen);
	}
	errbuf_set(err, errlen, "internal error: unknown key kind");
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
	case KEY_ADMIN:
		if (c->admin_port == 0)
			fputs("off", out);
		else if (strchr(c->admin_host, ':'))
			fprintf(out, "[%s]:%d", c->admin_host, c->admin_port);
		else
			fprintf(out, "%s:%d", c->admin_host, c->admin_port);
		break;
	case KEY_PATH:
	case KEY_PATTERNS:
	case KEY_TLSFILE:
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

			char shown[CONFIG_URL_MAX + 8];

			/* Credentials from $GOPROXY are not printed: the file
			 * refuses them anyway. */
			fputs(config_upstream_redacted(u, shown, sizeof(shown)), out);
			/* A '|' after the last entry changes nothing, but keeping
			 * it makes the dump load back to the very same struct. */
			if (i + 1 < c->n_upstreams || u->fallthrough_any)
				fputc(u->fallthrough_any ? '|' : ',', out);
		}
		break;
	case KEY_PERCENT:
		fprintf(out, "%d%%", *(const int *)((const char *)c + k->off));
		break;
	case KEY_LOGLEVEL:
		fputs(log_levels[*(const int *)((const char *)c + k->off) & 3], out);
		break;
	case KEY_LOGFMT:
		fputs(*(const int *)((const char *)c + k->off) ? "json" : "text", out);
		break;
	case KEY_LOGOUT:
		fputs(c->log_output[0] ? c->log_output : "stderr", out);
		break;
	case KEY_SUMDB:
		if (!c->sumdb_name[0])
			fputs("off", out);
		else
			fprintf(out, "%s%s%s", c->sumdb_key, c->sumdb_url[0] ? " " : "",
			        c->sumdb_url);
		break;
	case KEY_NETRC:
		fputs(c->netrc[0] ? c->netrc : "off", out);
		break;
	case KEY_ONOFF:
		fputs(*(const int *)((const char *)c + k->off) ? "on" : "off", out);
		break;
	case KEY_TOKEN: /* the source, never the secret */
		fputs(c->admin_token.source, out);
		break;
	}
}

/* ---- pools and routes ------------------------------------------------------------ */

/* The keys of a [pool "NAME"] section. upstream repeats; the others are set
 * at most once per pool. */
enum pool_key {
	POOL_UPSTREAM,
	POOL_ON_OPEN,
	POOL_RETRY_BUDGET,
	POOL_RETRY_MIN_PER_SEC,
	POOL_HEDGE,
	N_POOL_KEYS
};

static const char *const pool_keys[N_POOL_KEYS] = {"upstream", "on_open", "retry_budget",
                                                   "retry_min_per_sec", "hedge"};

/* [a-z0-9_-]{1,32}, as a span. */
static int pool_name_ok(const char *s, size_t n)
{
	if (n == 0 || n >= CONFIG_POOL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static void pool_defaults(struct config_pool *p)
{
	memset(p, 0, sizeof(*p));
	p->on_open = CONFIG_ON_OPEN_503;
	p->retry_budget_pct = CONFIG_DEFAULT_RETRY_BUDGET_PCT;
	p->retry_min_per_sec = CONFIG_DEFAULT_RETRY_MIN_PER_SEC;
	p->hedge_ms = CONFIG_DEFAULT_HEDGE_MS;
}

/* Parses "URL [weight=N] [backup] [token_file=PATH | token_env=NAME |
 * basic_file=PATH | basic_env=NAME]" into *u, and the credential option, if
 * any, into *spec (kind, from and source; the secret is read by the caller)
 * with *has_cred set. The URL is checked exactly like a GOPROXY entry, but
 * it must be one URL: direct and off are what on_open and routes say, and
 * ',' or '|' would be a list. */
static int parse_pool_upstream(const char *v, struct config_pool_upstream *u,
                               struct config_cred *spec, int *has_cred, char *err, size_t errlen)
{
	char tok[CONFIG_URL_MAX];
	const char *p = v;
	int n = 0, have_weight = 0;

	memset(u, 0, sizeof(*u));
	memset(spec, 0, sizeof(*spec));
	*has_cred = 0;
	u->weight = CONFIG_DEFAULT_WEIGHT;
	while (*p) {
		const char *b, *e;
		long long w;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		b = p;
		while (*p && !is_blank(*p))
			p++;
		e = p;
		if ((size_t)(e - b) >= sizeof(tok)) {
			errbuf_set(err, errlen, "invalid proxy URL: longer than %d bytes",
			           CONFIG_URL_MAX - 1);
			return -1;
		}
		memcpy(tok, b, (size_t)(e - b));
		tok[e - b] = '\0';
		if (n++ == 0) {
			if (strcmp(tok, "direct") == 0 || strcmp(tok, "off") == 0) {
				errbuf_set(
				    err, errlen,
				    "%s is not an upstream (a pool's on_open = direct, or a route "
				    "to direct or off, says that)",
				    tok);
				return -1;
			}
			if (strpbrk(tok, ",|")) {
				errbuf_set(
				    err, errlen,
				    "one URL per upstream line: repeat the key for more (',' and "
				    "'|' separate the entries of a GOPROXY list, not of a pool)");
				return -1;
			}
			if (parse_proxy_url(tok, 0, u->url, sizeof(u->url), err, errlen) < 0)
				return -1;
		} else if (is_cred_option(tok)) {
			if (*has_cred) {
				errbuf_set(err, errlen,
				           "one credential per upstream: %s= and %.*s both given",
				           cred_option_name(spec), (int)strcspn(tok, "="), tok);
				return -1;
			}
			if (parse_cred_option(tok, spec, err, errlen) < 0)
				return -1;
			*has_cred = 1;
		} else if (is_inline_secret(tok)) {
			errbuf_set(
			    err, errlen,
			    "%.*s= would put the credential itself in the config file, which "
			    "modgate refuses: write token_file=PATH or token_env=NAME "
			    "(basic_file=, "
			    "basic_env= for user:password)",
			    (int)strcspn(tok, "="), tok);
			return -1;
		} else if (strncmp(tok, "weight=", 7) == 0) {
			if (have_weight++) {
				errbuf_set(err, errlen, "weight given twice");
				return -1;
			}
			if (parse_int(tok + 7, CONFIG_WEIGHT_MIN, CONFIG_WEIGHT_MAX, &w, NULL, 0) <
			    0) {
				errbuf_set(err, errlen,
				           "bad %s: the weight is a whole number from %d to %d",
				           tok, CONFIG_WEIGHT_MIN, CONFIG_WEIGHT_MAX);
				return -1;
			}
			u->weight = (int)w;
		} else if (strcmp(tok, "backup") == 0) {
			if (u->backup++) {
				errbuf_set(err, errlen, "backup given twice");
				return -1;
			}
		} else {
			errbuf_set(
			    err, errlen,
			    "unknown option \"%.64s\" after the URL (write weight=N%s)", tok,
			    strncmp(tok, "weight", 6) == 0
			        ? " without blanks"
			        : ", backup, token_file=, token_env=, basic_file= or basic_env=");
			return -1;
		}
	}
	if (n == 0) {
		errbuf_set(err, errlen,
		           "empty value (write upstream = URL [weight=N] [backup] "
		           "[token_file=PATH])");
		return -1;
	}
	return 0;
}

/* One route pattern as a key: a single path.Match glob that config_dump can
 * write back as a key. One trailing '/' is dropped, as the go command drops
 * it, so "a/" and "a" are the same route; "a//" is refused. */
static int set_route_pattern(char *dst, size_t dstlen, const char *k, char *err, size_t errlen)
{
	size_t n = strlen(k);

	if (n > 0 && k[n - 1] == '/')
		n--;
	if (n == 0) {
		errbuf_set(err, errlen, "empty pattern (write * for every module)");
		return -1;
	}
	/* pathglob would drop a second '/' too, at match time: refuse what
	 * has no single meaning, so the stored pattern is what matches. */
	if (k[n - 1] == '/') {
		errbuf_set(err, errlen, "pattern \"%s\" ends with an empty path element", k);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (is_blank(k[i]) || (unsigned char)k[i] < 0x20 || k[i] == 0x7f) {
			errbuf_set(err, errlen,
			           "pattern \"%s\" contains a blank or control character", k);
			return -1;
		}
	}
	if (memchr(k, ',', n)) {
		errbuf_set(err, errlen,
		           "\"%s\": one pattern per route (a ',' list is GOPRIVATE's syntax, not a "
		           "route's: write one line per pattern)",
		           k);
		return -1;
	}
	if (k[0] == '"' || k[0] == '\'') {
		errbuf_set(err, errlen, "patterns are not quoted; remove the quotes");
		return -1;
	}
	if (n >= dstlen) {
		errbuf_set(err, errlen, "pattern longer than %zu bytes", dstlen - 1);
		return -1;
	}
	memcpy(dst, k, n);
	dst[n] = '\0';
	return pathglob_check_patterns(dst, err, errlen);
}

/* The specificity of a route pattern: its path elements, and its wildcards
 * ('*', '?' and each [class] count one; "\c" is a literal). */
static void route_rank(const char *pat, int *elements, int *wildcards, int *catch_all)
{
	const char *p;

	*elements = 1;
	*wildcards = 0;
	*catch_all = pat[0] != '\0';
	for (p = pat; *p; p++) {
		if (*p != '*')
			*catch_all = 0;
		if (*p == '/') {
			(*elements)++;
		} else if (*p == '\\') {
			if (p[1])
				p++;
		} else if (*p == '*' || *p == '?') {
			(*wildcards)++;
		} else if (*p == '[') {
			(*wildcards)++;
			for (p++; *p && *p != ']'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				break;
		}
	}
}

/* 1 if route a must be tried before route b: more path elements first, then
 * fewer wildcards, and a pattern of only '*' last of all. Equal ranks keep
 * their order (the sort is stable), which is file order. */
static int route_before(const struct config_route *a, const struct config_route *b)
{
	int ea, wa, ca, eb, wb, cb;

	route_rank(a->pattern, &ea, &wa, &ca);
	route_rank(b->pattern, &eb, &wb, &cb);
	if (ca != cb)
		return cb;
	if (ea != eb)
		return ea > eb;
	return wa < wb;
}

static void sort_routes(struct config_route *r, int n)
{
	/* Insertion sort: stable, and n is at most CONFIG_MAX_ROUTES. */
	for (int i = 1; i < n; i++) {
		struct config_route cur = r[i];
		int j = i;

		for (; j > 0 && route_before(&cur, &r[j - 1]); j--)
			r[j] = r[j - 1];
		r[j] = cur;
	}
}

/* Looks for an executable regular file "go" in the absolute directories of
 * $PATH, into out. Relative entries (and the empty entry, which means ".")
 * are skipped: where modgate happens to start must not pick the binary it
 * will run, the rule Go's own exec.LookPath adopted. 0 or -1. */
static int find_go(char *out, size_t outlen)
{
	const char *path = getenv("PATH"), *p;

	for (p = path ? path : ""; *p;) {
		const char *e = p + strcspn(p, ":"), *d = e;
		char cand[CONFIG_PATH_MAX];
		struct stat st;
		int bad = 0;

		/* Control characters would break the comment config_dump
		 * writes the path into. */
		for (const char *q = p; q < e; q++)
			bad |= (unsigned char)*q < 0x20 || *q == 0x7f;
		while (d > p + 1 && d[-1] == '/')
			d--;
		if (p[0] == '/' && !bad &&
		    (size_t)snprintf(cand, sizeof(cand), "%.*s/go", d == p + 1 ? 0 : (int)(d - p),
		                     p) < sizeof(cand) &&
		    stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0 &&
		    copy_str(out, outlen, cand) == 0)
			return 0;
		p = *e ? e + 1 : e;
	}
	return -1;
}

/* ---- the INI loader ---------------------------------------------------------- */

/* The kind of section the reader last saw a header for. */
enum section_kind {
	SECT_NONE,  /* before the first header */
	SECT_TABLE, /* [server], [upstream], [cache], [timeouts], [breaker]: keys[] */
	SECT_POOL,  /* [pool "NAME"]: loader.pool */
	SECT_ROUTE, /* [route] */
	SECT_DENY,  /* [deny] */
	SECT_ALLOW, /* [allow] */
};

struct loader {
	struct config *c;    /* the copy being filled */
	const char *p, *end; /* text not yet handed to inih */
	int line;            /* the physical line inih is working on */
	int failed;          /* 1 once an error is recorded */
	int err_line;        /* the line of the error (0: none in particular) */
	char msg[1024];      /* its message, without "FILE:LINE: " */
	int seen[N_KEYS];    /* line where each key was set, 0 if not */

	enum section_kind sect;
	int pool;                                                 /* SECT_POOL: which one */
	int pool_line[CONFIG_MAX_POOLS];                          /* line of each header */
	int pool_seen[CONFIG_MAX_POOLS][N_POOL_KEYS];             /* line per key, as seen[] */
	int up_line[CONFIG_MAX_POOLS][CONFIG_MAX_POOL_UPSTREAMS]; /* line per upstream */
	int route_header;                                         /* line of [route], 0 if none */
	int breaker_header;                                       /* line of the first [breaker] */
	int breaker_last;                                       /* line of the last [breaker] key */
	int route_line[CONFIG_MAX_ROUTES];                      /* line per route, file order */
	char route_to[CONFIG_MAX_ROUTES][CONFIG_POOL_NAME_MAX]; /* the pool named */
	int go_searched;                                        /* find_go ran (go_binary) */
	int deny_header, allow_header;                          /* their lines, 0 if none */
	int deny_line[CONFIG_MAX_DENY], allow_line[CONFIG_MAX_ALLOW]; /* line per rule */
};

static void loader_vfail(struct loader *ld, int line, const char *fmt, va_list ap)
{
	ld->failed = 1;
	ld->err_line = line;
	vsnprintf(ld->msg, sizeof(ld->msg), fmt, ap);
}

static void loader_fail(struct loader *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records an error on the current line, unless one is recorded already:
 * parsing stops at the first. */
static void loader_fail(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	if (ld->failed)
		return;
	va_start(ap, fmt);
	loader_vfail(ld, ld->line, fmt, ap);
	va_end(ap);
}

static void loader_fail_at(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records an error found once the whole file is read, on the line given:
 * of several such errors, the one on the earliest line is reported. */
static void loader_fail_at(struct loader *ld, int line, const char *fmt, ...)
{
	va_list ap;

	if (ld->failed && ld->err_line <= line)
		return;
	va_start(ap, fmt);
	loader_vfail(ld, line, fmt, ap);
	va_end(ap);
}

/* Makes sure go_binary is set for something on the current line that needs
 * the go command; 0, or -1 with the error recorded. */
static int need_go(struct loader *ld, const char *what)
{
	if (!ld->go_searched) {
		ld->go_searched = 1;
		if (find_go(ld->c->go_binary, sizeof(ld->c->go_binary)) < 0)
			ld->c->go_binary[0] = '\0';
	}
	if (ld->c->go_binary[0])
		return 0;
	loader_fail(ld,
	            "%s needs the go command, and none is on PATH (modgate looks for an "
	            "executable file go in the absolute directories of $PATH)",
	            what);
	return -1;
}

/* A section header seen by the reader: name is what stands between '[' and
 * the first ']'. Pools are created here, so that a pool with no keys is still
 * a pool (and an error). 0, or -1 with the error recorded. */
static int loader_section(struct loader *ld, const char *name, size_t len)
{
	struct config *c = ld->c;

	if (table_section(name, len)) {
		ld->sect = SECT_TABLE;
		if (len == 7 && memcmp(name, "breaker", 7) == 0 && !ld->breaker_header)
			ld->breaker_header = ld->line;
		return 0;
	}
	if (len == 5 && memcmp(name, "route", 5) == 0) {
		if (ld->route_header) {
			loader_fail(ld,
			            "a second [route] section (the first is on line %d): put "
			            "every route in one",
			            ld->route_header);
			return -1;
		}
		ld->route_header = ld->line;
		ld->sect = SECT_ROUTE;
		return 0;
	}
	if ((len == 4 && memcmp(name, "deny", 4) == 0) ||
	    (len == 5 && memcmp(name, "allow", 5) == 0)) {
		int deny = len == 4;
		int *header = deny ? &ld->deny_header : &ld->allow_header;

		if (*header) {
			loader_fail(ld,
			            "a second [%s] section (the first is on line %d): put every "
			            "rule in one",
			            deny ? "deny" : "allow", *header);
			return -1;
		}
		*header = ld->line;
		ld->sect = deny ? SECT_DENY : SECT_ALLOW;
		return 0;
	}
	if (len >= 4 && memcmp(name, "pool", 4) == 0 &&
	    (len == 4 || is_blank(name[4]) || name[4] == '"')) {
		const char *p = name + 4, *end = name + len, *q;
		struct config_pool *pool;

		while (p < end && is_blank(*p))
			p++;
		q = p < end ? memchr(p + 1, '"', (size_t)(end - p - 1)) : NULL;
		if (p == end || *p != '"' || !q || q + 1 != end) {
			loader_fail(ld, "bad pool header [%.*s] (write [pool \"NAME\"])", (int)len,
			            name);
			return -1;
		}
		p++;
		if (!pool_name_ok(p, (size_t)(q - p))) {
			loader_fail(ld,
			            "bad pool name \"%.*s\" (1 to %d characters from a-z, 0-9, '_' "
			            "and '-')",
			            (int)(q - p), p, CONFIG_POOL_NAME_MAX - 1);
			return -1;
		}
		if ((q - p == 6 && memcmp(p, "direct", 6) == 0) ||
		    (q - p == 3 && memcmp(p, "off", 3) == 0)) {
			loader_fail(ld,
			            "pool name \"%.*s\" is reserved: a route's value %.*s means no "
			            "pool",
			            (int)(q - p), p, (int)(q - p), p);
			return -1;
		}
		for (int i = 0; i < c->n_pools; i++) {
			if (strlen(c->pools[i].name) == (size_t)(q - p) &&
			    memcmp(c->pools[i].name, p, (size_t)(q - p)) == 0) {
				loader_fail(ld, "duplicate pool \"%s\" (first defined on line %d)",
				            c->pools[i].name, ld->pool_line[i]);
				return -1;
			}
		}
		if (c->n_pools == CONFIG_MAX_POOLS) {
			loader_fail(ld, "more than %d pools", CONFIG_MAX_POOLS);
			return -1;
		}
		pool = &c->pools[c->n_pools];
		pool_defaults(pool);
		memcpy(pool->name, p, (size_t)(q - p));
		pool->name[q - p] = '\0';
		ld->pool_line[c->n_pools] = ld->line;
		ld->pool = c->n_pools++;
		ld->sect = SECT_POOL;
		return 0;
	}
	loader_fail(ld, "unknown section [%.*s] (" KNOWN_SECTIONS ")", (int)len, name);
	return -1;
}

/* inih's fgets: one physical line per call, so inih's line count is ours.
 * Returning NULL ends the parse, which is how a reader error stops it. */
static char *ini_read_line(char *str, int num, void *stream)
{
	struct loader *ld = stream;
	const char *b = ld->p, *nl, *e;
	size_t len;

	if (ld->failed || b >= ld->end)
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
		if (close && loader_section(ld, str + 1, (size_t)(close - str - 1)) < 0)
			return NULL;
	}
	return str;
}

/* A key of the current [pool "NAME"]. 1, or 0 with the error recorded. */
static int pool_value(struct loader *ld, const char *name, const char *value)
{
	struct config_pool *pool = &ld->c->pools[ld->pool];
	char why[768], what[64];
	long long n;
	int k;

	for (k = 0; k < N_POOL_KEYS; k++)
		if (strcmp(pool_keys[k], name) == 0)
			break;
	if (k == N_POOL_KEYS) {
		loader_fail(ld,
		            "unknown key '%s' in [pool \"%s\"] (known: upstream, on_open, "
		            "retry_budget, retry_min_per_sec, hedge)",
		            name, pool->name);
		return 0;
	}
	if (k != POOL_UPSTREAM) {
		if (ld->pool_seen[ld->pool][k]) {
			loader_fail(ld,
			            "duplicate key '%s' in [pool \"%s\"] (first set on line %d)",
			            name, pool->name, ld->pool_seen[ld->pool][k]);
			return 0;
		}
		ld->pool_seen[ld->pool][k] = ld->line;
	}
	if (value[0] == '"' || value[0] == '\'') {
		loader_fail(ld, "[pool \"%s\"] %s: values are not quoted; remove the quotes",
		            pool->name, name);
		return 0;
	}
	switch (k) {
	case POOL_UPSTREAM: {
		struct config_pool_upstream u;
		struct config_cred spec;
		int has_cred;

		if (pool->n_upstreams == CONFIG_MAX_POOL_UPSTREAMS) {
			loader_fail(ld,
			            "[pool \"%s\"] upstream: more than %d upstreams in one pool",
			            pool->name, CONFIG_MAX_POOL_UPSTREAMS);
			return 0;
		}
		if (parse_pool_upstream(value, &u, &spec, &has_cred, why, sizeof(why)) < 0)
			goto bad;
		if (has_cred && !(u.cred = find_cred(ld->c, &spec))) {
			if (read_secret(&spec, why, sizeof(why)) < 0 ||
			    (u.cred = add_cred(ld->c, &spec, why, sizeof(why))) < 0) {
				memset(&spec, 0, sizeof(spec));
				goto bad;
			}
		}
		memset(&spec, 0, sizeof(spec));
		/* One URL is one upstream at run time, with one credential. */
		for (int i = 0; i < ld->pool; i++) {
			for (int j = 0; j < ld->c->pools[i].n_upstreams; j++) {
				const struct config_pool_upstream *o =
				    &ld->c->pools[i].upstreams[j];
				char shown[CONFIG_URL_MAX + 32];

				if (strcmp(o->url, u.url) != 0 || o->cred == u.cred)
					continue;
				redact_url(u.url, shown, sizeof(shown));
				loader_fail(
				    ld,
				    "[pool \"%s\"] upstream: %s has other credentials in pool "
				    "\"%s\" (line %d); one URL is one upstream, with one "
				    "credential",
				    pool->name, shown, ld->c->pools[i].name, ld->up_line[i][j]);
				return 0;
			}
		}
		for (int i = 0; i < pool->n_upstreams; i++) {
			if (strcmp(pool->upstreams[i].url, u.url) == 0) {
				char shown[CONFIG_URL_MAX + 32];

				redact_url(u.url, shown, sizeof(shown));
				loader_fail(
				    ld,
				    "[pool \"%s\"] upstream: %s is already in this pool (line "
				    "%d); give it a larger weight instead",
				    pool->name, shown, ld->up_line[ld->pool][i]);
				return 0;
			}
		}
		ld->up_line[ld->pool][pool->n_upstreams] = ld->line;
		pool->upstreams[pool->n_upstreams++] = u;
		return 1;
	}
	case POOL_ON_OPEN:
		if (strcmp(value, "503") == 0) {
			pool->on_open = CONFIG_ON_OPEN_503;
			return 1;
		}
		if (strcmp(value, "direct") == 0) {
			snprintf(what, sizeof(what), "[pool \"%s\"] on_open = direct", pool->name);
			if (need_go(ld, what) < 0)
				return 0;
			pool->on_open = CONFIG_ON_OPEN_DIRECT;
			return 1;
		}
		errbuf_set(why, sizeof(why), "\"%s\" is not a policy (write 503 or direct)", value);
		goto bad;
	case POOL_RETRY_BUDGET:
		if (parse_percent(value, 0, 100, &n, why, sizeof(why)) < 0)
			goto bad;
		pool->retry_budget_pct = (int)n;
		return 1;
	case POOL_RETRY_MIN_PER_SEC:
		if (parse_int(value, 0, CONFIG_RETRY_MIN_PER_SEC_MAX, &n, why, sizeof(why)) < 0)
			goto bad;
		pool->retry_min_per_sec = (int)n;
		return 1;
	case POOL_HEDGE:
		if (strcmp(value, "off") == 0) {
			pool->hedge_ms = 0;
			return 1;
		}
		if (parse_duration_ms(value, &n, why, sizeof(why)) < 0)
			goto bad;
		if (n < CONFIG_HEDGE_MIN_MS || n > CONFIG_HEDGE_MAX_MS) {
			size_t used;

			out_of_range(value, CONFIG_HEDGE_MIN_MS, CONFIG_HEDGE_MAX_MS, why,
			             sizeof(why));
			used = strlen(why);
			snprintf(why + used, sizeof(why) - used, " (write off for no hedging)");
			goto bad;
		}
		pool->hedge_ms = (int)n;
		return 1;
	}
	errbuf_set(why, sizeof(why), "internal error: unknown pool key");
bad:
	loader_fail(ld, "[pool \"%s\"] %s: %s%s", pool->name, name, why,
	            strstr(value, " #") ? " (only ';' starts a comment after a value)" : "");
	return 0;
}

/* A "PATTERN = POOL | direct | off" line of [route]. The pool is looked up
 * once the whole file is read: [route] may come before the pools. 1, or 0
 * with the error recorded. */
static int route_value(struct loader *ld, const char *name, const char *value)
{
	struct config *c = ld->c;
	struct config_route *r;
	char why[768];

	if (c->n_routes == CONFIG_MAX_ROUTES) {
		loader_fail(ld, "[route] more than %d routes", CONFIG_MAX_ROUTES);
		return 0;
	}
	r = &c->routes[c->n_routes];
	memset(r, 0, sizeof(*r));
	r->pool = -1;
	if (set_route_pattern(r->pattern, sizeof(r->pattern), name, why, sizeof(why)) < 0) {
		loader_fail(ld, "[route] %s", why);
		return 0;
	}
	for (int i = 0; i < c->n_routes; i++) {
		if (strcmp(c->routes[i].pattern, r->pattern) == 0) {
			loader_fail(ld, "[route] duplicate route for %s (first on line %d)",
			            r->pattern, ld->route_line[i]);
			return 0;
		}
	}
	if (value[0] == '"' || value[0] == '\'') {
		loader_fail(ld, "[route] %s: values are not quoted; remove the quotes", r->pattern);
		return 0;
	}
	if (strcmp(value, "direct") == 0) {
		r->target = CONFIG_ROUTE_DIRECT;
		snprintf(why, sizeof(why), "[route] %s = direct", r->pattern);
		if (need_go(ld, why) < 0)
			return 0;
	} else if (strcmp(value, "off") == 0) {
		r->target = CONFIG_ROUTE_OFF;
	} else if (pool_name_ok(value, strlen(value))) {
		r->target = CONFIG_ROUTE_POOL;
		memcpy(ld->route_to[c->n_routes], value, strlen(value) + 1);
	} else {
		loader_fail(
		    ld, "[route] %s: \"%s\" is not a pool name, direct or off%s", r->pattern, value,
		    strstr(value, " #") ? " (only ';' starts a comment after a value)" : "");
		return 0;
	}
	ld->route_line[c->n_routes++] = ld->line;
	return 1;
}

/* The version part of a [deny] key, after '@': one path.Match glob. A
 * literal must be a canonical version, since that is all the go command asks
 * for by name ("v1.2" would never match; v1.2.* is what was meant). */
static int set_version_glob(char *dst, size_t dstlen, const char *v, char *err, size_t errlen)
{
	if (!*v) {
		errbuf_set(err, errlen,
		           "empty version after '@' (write PATTERN for every version, or "
		           "PATTERN@v1.2.3, PATTERN@v1.2.*)");
		return -1;
	}
	if (strlen(v) >= dstlen) {
		errbuf_set(err, errlen, "version pattern longer than %zu bytes", dstlen - 1);
		return -1;
	}
	for (const char *p = v; *p; p++) {
		if (is_blank(*p) || (unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' ||
		    *p == '@' || *p == ',') {
			errbuf_set(err, errlen,
			           "version pattern \"%s\" contains a blank, control character, "
			           "'/', '@' or ','",
			           v);
			return -1;
		}
	}
	/* pathglob checks the whole pattern whatever the name: -1 is a bad
	 * pattern, never a mere mismatch. */
	if (pathglob_match(v, "v") < 0) {
		errbuf_set(err, errlen, "malformed version pattern \"%s\"", v);
		return -1;
	}
	if (!strpbrk(v, "*?[\\") && !modpath_is_canonical_version(v)) {
		errbuf_set(err, errlen,
		           "\"%s\" is not a canonical version (write v1.2.3, or a pattern such "
		           "as v1.2.* for several)",
		           v);
		return -1;
	}
	if (is_digit(v[0])) {
		errbuf_set(err, errlen, "version pattern \"%s\": versions start with v", v);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* A "PATTERN[@VERSION] = REASON" line of [deny] (deny = 1), or a
 * "PATTERN = NOTE" line of [allow]. 1, or 0 with the error recorded. */
static int policy_value(struct loader *ld, const char *name, const char *value, int deny)
{
	struct config *c = ld->c;
	const char *sect = deny ? "deny" : "allow";
	struct config_policy_rule *rules = deny ? c->deny : c->allow, *r;
	int *n = deny ? &c->n_deny : &c->n_allow;
	int *lines = deny ? ld->deny_line : ld->allow_line;
	int max = deny ? CONFIG_MAX_DENY : CONFIG_MAX_ALLOW;
	char pat[CONFIG_ROUTE_PATTERN_MAX + 1], why[768];
	const char *at = strchr(name, '@');
	size_t plen = at ? (size_t)(at - name) : strlen(name);

	if (*n == max) {
		loader_fail(ld, "[%s] more than %d rules", sect, max);
		return 0;
	}
	r = &rules[*n];
	memset(r, 0, sizeof(*r));
	if (plen >= sizeof(pat)) {
		loader_fail(ld, "[%s] pattern longer than %zu bytes", sect, sizeof(r->pattern) - 1);
		return 0;
	}
	memcpy(pat, name, plen);
	pat[plen] = '\0';
	if (set_route_pattern(r->pattern, sizeof(r->pattern), pat, why, sizeof(why)) < 0) {
		loader_fail(ld, "[%s] %s", sect, why);
		return 0;
	}
	if (at && !deny) {
		loader_fail(ld,
		            "[allow] %s: allow lists modules, not versions (refuse versions in "
		            "[deny])",
		            name);
		return 0;
	}
	if (at && set_version_glob(r->version, sizeof(r->version), at + 1, why, sizeof(why)) < 0) {
		loader_fail(ld, "[deny] %s: %s", name, why);
		return 0;
	}
	for (int i = 0; i < *n; i++) {
		if (strcmp(rules[i].pattern, r->pattern) == 0 &&
		    strcmp(rules[i].version, r->version) == 0) {
			loader_fail(ld, "[%s] duplicate rule for %s (first on line %d)", sect, name,
			            lines[i]);
			return 0;
		}
	}
	if (value[0] == '"' || value[0] == '\'') {
		loader_fail(ld, "[%s] %s: values are not quoted; remove the quotes", sect, name);
		return 0;
	}
	if (deny && !*value) {
		loader_fail(ld,
		            "[deny] %s: empty reason (clients are shown it: say why, e.g. "
		            "\"known-bad release, see INC-123\")",
		            name);
		return 0;
	}
	for (const char *p = value; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			loader_fail(ld, "[%s] %s: control character in the %s", sect, name,
			            deny ? "reason" : "note");
			return 0;
		}
	}
	if (copy_str(r->reason, sizeof(r->reason), value) < 0) {
		loader_fail(ld, "[%s] %s: %s longer than %zu bytes", sect, name,
		            deny ? "reason" : "note", sizeof(r->reason) - 1);
		return 0;
	}
	lines[(*n)++] = ld->line;
	return 1;
}

static int ini_on_value(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const struct config_key *k;
	char why[768];
	size_t i;

	if (ld->failed)
		return 0;
	if (!*section) {
		loader_fail(ld, "key '%s' comes before any [section]", name);
		return 0;
	}
	/* The reader saw every header inih saw, so its idea of the section is
	 * the one this key is under. */
	if (ld->sect == SECT_POOL)
		return pool_value(ld, name, value);
	if (ld->sect == SECT_ROUTE)
		return route_value(ld, name, value);
	if (ld->sect == SECT_DENY || ld->sect == SECT_ALLOW)
		return policy_value(ld, name, value, ld->sect == SECT_DENY);
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
	if (strcmp(section, "breaker") == 0)
		ld->breaker_last = ld->line;
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

/* Runs breaker_config_check over [breaker] as a whole and reports its verdict
 * on the line of the key at fault when the file set it, else on the last
 * [breaker] key (whose value made the defaults disagree), else on the
 * header. */
static void check_breaker(struct loader *ld)
{
	char why[512];
	const char *msg, *key = NULL;
	int line = ld->breaker_last ? ld->breaker_last : ld->breaker_header;

	if (breaker_config_check(&ld->c->breaker, why, sizeof(why)) == 0)
		return;
	msg = strncmp(why, "breaker: ", 9) == 0 ? why + 9 : why;
	for (size_t i = 0; i < N_BREAKER_FIELDS; i++) {
		size_t n = strlen(breaker_fields[i].field);

		if (strncmp(msg, breaker_fields[i].field, n) == 0 && msg[n] == ' ') {
			const struct config_key *k = find_key("breaker", breaker_fields[i].key);

			key = breaker_fields[i].key;
			if (k && ld->seen[k - keys])
				line = ld->seen[k - keys];
			break;
		}
	}
	if (key)
		loader_fail_at(ld, line, "[breaker] %s: %s", key, msg);
	else
		loader_fail_at(ld, line, "[breaker] %s", msg);
}

/* [server] tls_cert and tls_key: both or neither, and a pair that loads,
 * read now so that `modgate -t` and a reload see what the listener would.
 * The paths may come from the config loaded over, not this file: read
 * them anyway (certbot renews in place). */
/* Off for the commands that never serve (config_read_tls_pair). */
static int read_tls_pair = 1;

void config_read_tls_pair(int on)
{
	read_tls_pair = on;
}

static void check_tls(struct loader *ld)
{
	struct config *c = ld->c;
	int cert_line = ld->seen[find_key("server", "tls_cert") - keys];
	int key_line = ld->seen[find_key("server", "tls_key") - keys];
	enum tls_fault fault;
	char why[CONFIG_PATH_MAX * 2 + 256];

	memset(c->tls_fingerprint, 0, sizeof(c->tls_fingerprint));
	if (!c->tls_cert[0] && !c->tls_key[0])
		return;
	if (!c->tls_key[0]) {
		loader_fail_at(
		    ld, cert_line,
		    "[server] tls_cert: tls_key is not set (TLS needs both, or neither)");
		return;
	}
	if (!c->tls_cert[0]) {
		loader_fail_at(
		    ld, key_line,
		    "[server] tls_key: tls_cert is not set (TLS needs both, or neither)");
		return;
	}
	if (read_tls_pair && tls_pair_check(c->tls_cert, c->tls_key, c->tls_fingerprint, &fault,
	                                    why, sizeof(why)) < 0)
		loader_fail_at(ld, fault == TLS_FAULT_KEY ? key_line : cert_line, "[server] %s: %s",
		               fault == TLS_FAULT_KEY ? "tls_key" : "tls_cert", why);
}

/* The checks that need the whole file; each error goes on the line it is
 * about, and the earliest line is reported. */
static void loader_finish(struct loader *ld)
{
	struct config *c = ld->c;

	for (int i = 0; i < c->n_pools; i++)
		if (c->pools[i].n_upstreams == 0)
			loader_fail_at(ld, ld->pool_line[i],
			               "pool \"%s\" has no upstream (add upstream = URL)",
			               c->pools[i].name);
	if (ld->route_header && c->n_pools == 0)
		loader_fail_at(ld, ld->route_header,
		               "[route] needs [pool] sections (without pools, [upstream] proxy "
		               "serves every module)");
	else if (ld->route_header && c->n_routes == 0)
		loader_fail_at(ld, ld->route_header,
		               "[route] has no routes (write PATTERN = POOL lines, or remove the "
		               "section)");
	if (!ld->route_header && c->n_pools > 1)
		loader_fail_at(ld, ld->pool_line[1],
		               "several pools need a [route] section to say which modules go to "
		               "which pool");
	for (int i = 0; i < c->n_routes && c->n_pools > 0; i++) {
		struct config_route *r = &c->routes[i];
		char names[CONFIG_MAX_POOLS * (CONFIG_POOL_NAME_MAX + 2)] = "";
		size_t used = 0;

		if (r->target != CONFIG_ROUTE_POOL)
			continue;
		for (int j = 0; j < c->n_pools; j++)
			if (strcmp(c->pools[j].name, ld->route_to[i]) == 0)
				r->pool = j;
		if (r->pool >= 0)
			continue;
		for (int j = 0; j < c->n_pools; j++)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
			                         j ? ", " : "", c->pools[j].name);
		loader_fail_at(ld, ld->route_line[i],
		               "[route] %s: no pool named \"%s\" (pools: %s)", r->pattern,
		               ld->route_to[i], names);
	}
	if (!ld->route_header && c->n_pools == 1) {
		/* One pool serves every module: say so in the struct, so that
		 * routing and the dump need no special case. */
		memset(&c->routes[0], 0, sizeof(c->routes[0]));
		c->routes[0].pattern[0] = '*';
		c->routes[0].target = CONFIG_ROUTE_POOL;
		c->routes[0].pool = 0;
		c->n_routes = 1;
	}
	sort_routes(c->routes, c->n_routes);
	if (ld->allow_header && c->n_allow == 0)
		loader_fail_at(
		    ld, ld->allow_header,
		    "[allow] has no patterns: it would refuse every module (write "
		    "PATTERN = NOTE lines, or remove the section to serve every module)");
	check_breaker(ld);
	if (!ld->failed)
		check_tls(ld);
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
		errbuf_set(err, errlen, "%s:%d: section header without a closing ']'", name, line);
	else
		errbuf_set(err, errlen,
		           "%s:%d: expected 'key = value', '[section]' or a ';' comment", name,
		           line);
}

static int load_text(struct config *c, const char *text, size_t len, const char *name, char *err,
                     size_t errlen)
{
	/* Both are large (the config ~170 KB, the loader ~15 KB): off the
	 * stack, which the server's callers may want for themselves. */
	struct config *tmp = malloc(sizeof(*tmp));
	struct loader *ld = calloc(1, sizeof(*ld));
	int rc, saved_max_line, ret = -1;

	if (!tmp || !ld) {
		errbuf_set(err, errlen, "%s: out of memory", name);
		goto out;
	}
	*tmp = *c;
	/* Pools, routes and the go command they need come from the file alone. */
	memset(tmp->pools, 0, sizeof(tmp->pools));
	memset(tmp->routes, 0, sizeof(tmp->routes));
	tmp->n_pools = 0;
	tmp->n_routes = 0;
	memset(tmp->go_binary, 0, sizeof(tmp->go_binary));
	/* So do [deny] and [allow]: a rule removed from the file is gone. */
	memset(tmp->deny, 0, sizeof(tmp->deny));
	memset(tmp->allow, 0, sizeof(tmp->allow));
	tmp->n_deny = 0;
	tmp->n_allow = 0;
	/* Pools bring their credentials; the chain's come from netrc below. */
	memset(tmp->creds, 0, sizeof(tmp->creds));
	tmp->n_creds = 0;
	for (int i = 0; i < tmp->n_upstreams; i++)
		tmp->upstreams[i].cred = 0;
	tmp->sumdb_cred = 0;
	ld->c = tmp;
	ld->p = text;
	ld->end = text + len;
	/* Debian's libinih exposes its compile-time limits as variables; raise
	 * the 200-byte line limit for this parse only. Our reader refuses lines
	 * that do not fit whatever the limit is, so a libinih without this
	 * variable would give a clear error, never a silently cut line. */
	saved_max_line = ini_max_line;
	ini_max_line = CONFIG_MAX_LINE;
	rc = ini_parse_stream(ini_read_line, ld, ini_on_value, ld);
	ini_max_line = saved_max_line;

	if (rc < 0) {
		errbuf_set(err, errlen, "%s: %s", name, rc == -2 ? "out of memory" : "cannot read");
		goto out;
	}
	if (rc > 0 && (!ld->failed || rc < ld->err_line)) {
		syntax_error(text, len, name, rc, err, errlen);
		goto out;
	}
	if (!ld->failed)
		loader_finish(ld);
	if (!ld->failed && apply_netrc(tmp, ld->msg, sizeof(ld->msg)) < 0) {
		const struct config_key *k = find_key("upstream", "netrc");

		ld->failed = 1;
		ld->err_line = ld->seen[k - keys];
	}
	if (ld->failed) {
		if (ld->err_line > 0)
			errbuf_set(err, errlen, "%s:%d: %s", name, ld->err_line, ld->msg);
		else
			errbuf_set(err, errlen, "%s: %s", name, ld->msg);
		goto out;
	}
	*c = *tmp;
	ret = 0;
out:
	if (tmp) { /* no secret left in freed memory */
		memset(tmp->creds, 0, sizeof(tmp->creds));
		memset(&tmp->admin_token, 0, sizeof(tmp->admin_token));
	}
	free(ld);
	free(tmp);
	return ret;
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
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		errbuf_set(err, errlen, "%s: out of memory", path);
		goto out_close;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
		goto out_free;
	}
	if (n > CONFIG_FILE_MAX) {
		errbuf_set(err, errlen, "%s: larger than %d bytes", path, CONFIG_FILE_MAX);
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
	snprintf(c->admin_host, sizeof(c->admin_host), "%s", CONFIG_DEFAULT_LISTEN_HOST);
	snprintf(c->sumdb_name, sizeof(c->sumdb_name), "%s", KNOWN_SUMDB_NAME);
	snprintf(c->sumdb_key, sizeof(c->sumdb_key), "%s", KNOWN_SUMDB_KEY);
	c->admin_port = CONFIG_DEFAULT_ADMIN_PORT;
	snprintf(c->cache_dir, sizeof(c->cache_dir), "%s", CONFIG_DEFAULT_CACHE_DIR);
	/* Cannot fail: the default list is a constant the parser accepts. */
	config_parse_goproxy(c, CONFIG_DEFAULT_GOPROXY, NULL, 0);
	c->noproxy[0] = '\0';
	c->list_ttl_s = CONFIG_DEFAULT_LIST_TTL_S;
	c->negative_ttl_s = CONFIG_DEFAULT_NEGATIVE_TTL_S;
	c->connect_timeout_ms = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS;
	c->first_byte_timeout_ms = CONFIG_DEFAULT_FIRST_BYTE_TIMEOUT_MS;
	c->metadata_timeout_ms = CONFIG_DEFAULT_METADATA_TIMEOUT_MS;
	c->budget_ms = CONFIG_DEFAULT_BUDGET_MS;
	c->idle_timeout_ms = CONFIG_DEFAULT_IDLE_TIMEOUT_MS;
	c->workers = CONFIG_DEFAULT_WORKERS;
	c->stop_timeout_ms = CONFIG_DEFAULT_STOP_TIMEOUT_MS;
	c->log_level = 1; /* info */
	c->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	breaker_config_default(&c->breaker);
	/* No pools, no routes, no go binary: the GOPROXY chain serves all. */
}

/* Patterns from the variable name, else from GOPRIVATE, as the go command
 * reads GONOPROXY and GONOSUMDB; both unset or empty leave dst as it is. */
static int env_patterns(char *dst, size_t len, const char *name, char *err, size_t errlen)
{
	const char *v = getenv(name);
	char why[768];

	if (!v || !*v) {
		name = "GOPRIVATE";
		v = getenv(name);
	}
	if (v && *v && set_patterns(dst, len, v, why, sizeof(why)) < 0) {
		errbuf_set(err, errlen, "%s: %s", name, why);
		return -1;
	}
	return 0;
}

int config_apply_env(struct config *c, char *err, size_t errlen)
{
	struct config tmp = *c;
	const char *v, *var;
	char why[768];

	/* The go command's own rule is that a variable set to "" is unset. */
	if ((v = getenv("MODGATE_CACHE")) && *v) {
		if (set_path(tmp.cache_dir, sizeof(tmp.cache_dir), v, why, sizeof(why)) < 0) {
			errbuf_set(err, errlen, "MODGATE_CACHE: %s", why);
			return -1;
		}
	} else if ((v = getenv("XDG_CACHE_HOME")) && v[0] == '/') {
		/* The XDG spec says to ignore a relative XDG_CACHE_HOME. */
		if (set_joined_path(tmp.cache_dir, sizeof(tmp.cache_dir), v, "modgate", why,
		                    sizeof(why)) < 0) {
			errbuf_set(err, errlen, "XDG_CACHE_HOME: %s", why);
			return -1;
		}
	} else if ((v = getenv("HOME")) && *v) {
		if (set_joined_path(tmp.cache_dir, sizeof(tmp.cache_dir), v, ".cache/modgate", why,
		                    sizeof(why)) < 0) {
			errbuf_set(err, errlen, "HOME: %s", why);
			return -1;
		}
	}

	if ((v = getenv("GOPROXY")) && *v) {
		if (config_parse_goproxy(&tmp, v, why, sizeof(why)) < 0) {
			errbuf_set(err, errlen, "GOPROXY: %s", why);
			return -1;
		}
	}

	/* The go command's netrc: $NETRC, else ~/.netrc; either may be
	 * missing. */
	var = "NETRC";
	v = getenv(var);
	if (!v || !*v) {
		var = "HOME";
		v = getenv(var);
	}
	if (v && *v) {
		int rc = strcmp(var, "NETRC") == 0
		             ? set_path(tmp.netrc, sizeof(tmp.netrc), v, why, sizeof(why))
		             : set_joined_path(tmp.netrc, sizeof(tmp.netrc), v, ".netrc", why,
		                               sizeof(why));

		if (rc < 0) {
			errbuf_set(err, errlen, "%s: %s", var, why);
			return -1;
		}
		tmp.netrc_optional = 1;
	}

	if ((v = getenv("GOSUMDB")) && *v) {
		if (config_parse_gosumdb(&tmp, v, why, sizeof(why)) < 0) {
			errbuf_set(err, errlen, "GOSUMDB: %s", why);
			return -1;
		}
	}

	if (env_patterns(tmp.noproxy, sizeof(tmp.noproxy), "GONOPROXY", err, errlen) < 0 ||
	    env_patterns(tmp.nosumdb, sizeof(tmp.nosumdb), "GONOSUMDB", err, errlen) < 0 ||
	    apply_netrc(&tmp, err, errlen) < 0)
		return -1;
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

const struct config_cred *config_cred_of(const struct config *c, int cred)
{
	return cred > 0 && cred <= c->n_creds ? &c->creds[cred - 1] : NULL;
}

const char *config_cred_describe(const struct config_cred *k, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (!k)
		snprintf(buf, len, "none");
	else if (k->from == CONFIG_CRED_NETRC)
		snprintf(buf, len, "basic from netrc (machine %s)", k->source);
	else
		snprintf(buf, len, "%s from %s=%s",
		         k->kind == CONFIG_CRED_BEARER ? "bearer" : "basic", cred_option_name(k),
		         k->source);
	return buf;
}

int config_is_noproxy(const struct config *c, const char *module_path)
{
	return pathglob_match_prefix(c->noproxy, module_path);
}

int config_route_for(const struct config *c, const char *module_path, int *pool_index)
{
	if (pool_index)
		*pool_index = -1;
	if (c->n_pools == 0)
		return CONFIG_ROUTE_CHAIN;
	for (int i = 0; i < c->n_routes; i++) {
		const struct config_route *r = &c->routes[i];

		/* A pattern holds no ',', so it is a list of one. */
		if (pathglob_match_prefix(r->pattern, module_path) != 1)
			continue;
		if (r->target == CONFIG_ROUTE_POOL && pool_index)
			*pool_index = r->pool;
		return r->target;
	}
	return CONFIG_ROUTE_NONE;
}

/* An optional key with nothing to write: the dump shows it as a comment,
 * since an empty value would not load back. */
static int optional_unset(const struct config *c, const struct config_key *k)
{
	if (k->kind == KEY_TOKEN)
		return !c->admin_token.source[0] ||
		       c->admin_token.from != (enum config_cred_from)k->min;
	return k->kind == KEY_TLSFILE && !*((const char *)c + k->off);
}

void config_dump(const struct config *c, FILE *out)
{
	const char *section = NULL;

	fputs("; modgate effective configuration: defaults, then environment, then file\n", out);
	if (c->go_binary[0])
		fprintf(out, "; direct runs the go command found on $PATH: %s\n", c->go_binary);
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!section || strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			fprintf(out, "%s[%s]\n", i ? "\n" : "", section);
			if (c->n_pools > 0 && strcmp(section, "upstream") == 0)
				fputs("; not used while there are pools: [route] decides\n", out);
		}
		if (optional_unset(c, &keys[i])) {
			fprintf(out, ";%s =\n", keys[i].name);
			continue;
		}
		if (keys[i].kind == KEY_NETRC && c->netrc_optional) {
			/* Found the go command's way: written as a comment, since
			 * the key would make the file required. */
			fprintf(out, "; netrc = %s  ($NETRC or ~/.netrc; used if it exists)\n",
			        c->netrc);
			continue;
		}
		fprintf(out, "%s = ", keys[i].name);
		put_value(c, &keys[i], out);
		fputc('\n', out);
	}
	for (int i = 0; i < c->n_pools; i++) {
		const struct config_pool *p = &c->pools[i];
		char buf[32];

		fprintf(out, "\n[pool \"%s\"]\n", p->name);
		for (int j = 0; j < p->n_upstreams; j++) {
			const struct config_pool_upstream *u = &p->upstreams[j];
			const struct config_cred *k = u->cred ? &c->creds[u->cred - 1] : NULL;

			fprintf(out, "upstream = %s weight=%d%s", u->url, u->weight,
			        u->backup ? " backup" : "");
			/* The source, never the secret; netrc's are found again. */
			if (k && k->from != CONFIG_CRED_NETRC)
				fprintf(out, " %s=%s", cred_option_name(k), k->source);
			fputc('\n', out);
		}
		fprintf(out, "on_open = %s\n",
		        p->on_open == CONFIG_ON_OPEN_DIRECT ? "direct" : "503");
		fprintf(out, "retry_budget = %d%%\n", p->retry_budget_pct);
		fprintf(out, "retry_min_per_sec = %d\n", p->retry_min_per_sec);
		if (p->hedge_ms)
			format_duration(p->hedge_ms, buf, sizeof(buf));
		fprintf(out, "hedge = %s\n", p->hedge_ms ? buf : "off");
	}
	if (c->n_routes > 0)
		fputs("\n[route]\n", out);
	for (int i = 0; i < c->n_routes; i++) {
		const struct config_route *r = &c->routes[i];

		fprintf(out, "%s = %s\n", r->pattern,
		        r->target == CONFIG_ROUTE_DIRECT ? "direct"
		        : r->target == CONFIG_ROUTE_OFF  ? "off"
		                                         : c->pools[r->pool].name);
	}
	if (c->n_deny > 0)
		fputs("\n[deny]\n", out);
	for (int i = 0; i < c->n_deny; i++)
		fprintf(out, "%s%s%s = %s\n", c->deny[i].pattern, c->deny[i].version[0] ? "@" : "",
		        c->deny[i].version, c->deny[i].reason);
	if (c->n_allow > 0)
		fputs("\n[allow]\n", out);
	for (int i = 0; i < c->n_allow; i++)
		fprintf(out, "%s =%s%s\n", c->allow[i].pattern, c->allow[i].reason[0] ? " " : "",
		        c->allow[i].reason);
}
