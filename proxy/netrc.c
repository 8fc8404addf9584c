/*
 * netrc — a transcription of the go command's parseNetrc, not of the GNU
 * grammar: modgate stands in for the go command, so a .netrc must mean to
 * modgate what it means to `go mod download`. Two of its quirks follow:
 * tokens pair up per line (a "login" at the end of a line with its value
 * on the next is dropped, as in Go), and quoted values do not exist.
 *
 * libcurl's own netrc support is not used: it reads a default entry that
 * the go command ignores, matches host names without the port, and some
 * versions sent the first host's netrc password after a redirect to
 * another host (CVE-2024-11053).
 */
#include "proxy/netrc.h"

#include <string.h>

#include "proxy/errbuf.h"

#define NETRC_MAX_TOKENS 64 /* per line; more are taken 64 at a time */

struct span {
	const char *p;
	size_t n;
};

static int is_space(char ch)
{
	/* strings.Fields splits on Unicode space; these are the ASCII ones. */
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static int span_is(struct span s, const char *word)
{
	size_t n = strlen(word);

	return s.n == n && memcmp(s.p, word, n) == 0;
}

struct entry {
	struct span machine, login, password;
};

/* What one line did to the parse. */
enum line_end { LINE_GO_ON, LINE_MACRO, LINE_DEFAULT, LINE_FOUND };

/* Feeds the tokens of one line into *e, as Go's loop body does; LINE_FOUND
 * when an entry for machine completed. */
static enum line_end parse_line(const char *b, const char *e, struct entry *cur,
                                const char *machine, struct entry *found)
{
	struct span f[NETRC_MAX_TOKENS + 1];
	int n = 0, i, macro = 0;
	const char *p = b;

	for (;;) {
		/* Gather up to NETRC_MAX_TOKENS + 1 tokens; pairs are taken from
		 * the front, and an odd last one waits for more, so long lines
		 * are handled in chunks without changing the pairing. */
		while (n <= NETRC_MAX_TOKENS && p < e) {
			while (p < e && is_space(*p))
				p++;
			if (p == e)
				break;
			f[n].p = p;
			while (p < e && !is_space(*p))
				p++;
			f[n].n = (size_t)(p - f[n].p);
			n++;
		}
		for (i = 0; i + 1 < n; i += 2) {
			if (span_is(f[i], "machine")) {
				memset(cur, 0, sizeof(*cur));
				cur->machine = f[i + 1];
			} else if (span_is(f[i], "login")) {
				cur->login = f[i + 1];
			} else if (span_is(f[i], "password")) {
				cur->password = f[i + 1];
			} else if (span_is(f[i], "macdef")) {
				macro = 1;
			}
			if (cur->machine.n && cur->login.n && cur->password.n) {
				if (span_is(cur->machine, machine)) {
					*found = *cur;
					return LINE_FOUND;
				}
				memset(cur, 0, sizeof(*cur));
			}
		}
		if (p == e)
			break;
		/* Keep the unpaired token, if any, for the next chunk. */
		if (i < n)
			f[0] = f[i];
		n = i < n ? 1 : 0;
	}
	if (i < n && span_is(f[i], "default"))
		return LINE_DEFAULT;
	return macro ? LINE_MACRO : LINE_GO_ON;
}

int netrc_lookup(const char *text, size_t len, const char *machine, char *login, size_t loginlen,
                 char *password, size_t passlen, char *err, size_t errlen)
{
	const char *p = text, *end = text + len;
	struct entry cur, found;
	int in_macro = 0;

	memset(&cur, 0, sizeof(cur));
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		enum line_end r;

		if (in_macro) {
			/* Go splits on "\n" alone: only a truly empty line ends a
			 * macro, not one holding "\r" or blanks. */
			if (e == p)
				in_macro = 0;
		} else {
			r = parse_line(p, e, &cur, machine, &found);
			if (r == LINE_FOUND)
				goto match;
			if (r == LINE_DEFAULT)
				return 0;
			in_macro = r == LINE_MACRO;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;

match:
	/* A NUL would cut the value short where C strings carry it. */
	if (memchr(found.login.p, '\0', found.login.n) ||
	    memchr(found.password.p, '\0', found.password.n)) {
		errbuf_set(err, errlen, "the login or password for %s holds a NUL byte", machine);
		return -1;
	}
	if (memchr(found.login.p, ':', found.login.n)) {
		errbuf_set(err, errlen,
		           "the login for %s holds a ':', which Basic auth cannot carry", machine);
		return -1;
	}
	if (found.login.n >= loginlen || found.password.n >= passlen) {
		errbuf_set(err, errlen, "the login or password for %s is too long", machine);
		return -1;
	}
	memcpy(login, found.login.p, found.login.n);
	login[found.login.n] = '\0';
	memcpy(password, found.password.p, found.password.n);
	password[found.password.n] = '\0';
	return 1;
}
