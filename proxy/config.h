/*
 * config — modgate's settings: built-in defaults, then the go command's
 * environment variables (GOPROXY, GONOPROXY, GOPRIVATE) and MODGATE_CACHE,
 * then an optional INI file (etc/modgate.ini documents every key). A later
 * source overrides an earlier one key by key.
 *
 * Ownership: struct config is a plain value owned by the caller; every
 * string argument is borrowed for the duration of the call. Every function
 * that can fail leaves *c untouched on failure and explains itself in err
 * (err may be NULL; a message longer than errlen is cut short).
 *
 * Loading (config_apply_env, config_load_file, config_load_string) is for the
 * main thread at start-up or reload, never from inside a libcurl or libevhtp
 * callback: it reads files or the environment, and the INI loader briefly
 * changes a libinih setting that is process-wide. The queries
 * (config_is_noproxy, config_route_for) are pure and may be called from
 * anywhere.
 */
#ifndef MODGATE_CONFIG_H
#define MODGATE_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "proxy/config-t.h"

/* Fills *c with the built-in defaults only; reads no environment. */
void config_init_defaults(struct config *c);

/* Applies the environment over *c:
 *   MODGATE_CACHE, else XDG_CACHE_HOME (if absolute) + "/modgate", else
 *   HOME + "/.cache/modgate"       -> cache_dir (none set: unchanged)
 *   GOPROXY                        -> upstreams (empty or unset: unchanged)
 *   GONOPROXY, else GOPRIVATE      -> noproxy   (both empty: unchanged)
 *   GOSUMDB                        -> sumdb_name, sumdb_key, sumdb_url
 *   GONOSUMDB, else GOPRIVATE      -> nosumdb
 *   NETRC, else HOME + "/.netrc"   -> netrc, netrc_optional = 1
 * with the go command's syntax and meaning; then the upstreams without a
 * credential, and the database's URL, take their netrc entry, as
 * config_load_file says. A GOPROXY
 * URL may carry user[:password]@ here, as for the go command. 0, or -1 with err naming the
 * variable. */
int config_apply_env(struct config *c, char *err, size_t errlen);

/* Replaces the upstream list with a GOPROXY-syntax list: entries separated by
 * ',' (next on 404/410) or '|' (next on any error), blanks trimmed, empty
 * entries skipped, the keywords "direct" and "off" ending the list; an entry
 * with '.', ':' or '/' but no ":/" that is not an absolute path gets
 * "https://" in front; URLs must be http, https or file. The empty string
 * means the go command's default, "https://proxy.golang.org,direct"; a
 * non-empty list with no entry in it (",") is an error, as in Go.
 * 0, or -1 with err. */
int config_parse_goproxy(struct config *c, const char *list, char *err, size_t errlen);

/* Sets the checksum database from a GOSUMDB-syntax value: "off"; a name the
 * go command knows the key of (sum.golang.org, sum.golang.google.cn); or
 * "name+hash+keydata", optionally followed by the database's URL (reached
 * directly instead of through the upstreams). 0, or -1 with err. */
int config_parse_gosumdb(struct config *c, const char *value, char *err, size_t errlen);

/* 1 when module_path is not checked against the checksum database (the
 * database is off, or the path matches nosumdb): it is pinned instead. */
int config_is_nosumdb(const struct config *c, const char *module_path);

/* Loads the INI file at path over *c. 0; or -1 with err as "PATH:LINE: what"
 * (or "PATH: what" when the file cannot be read). Unknown sections and keys,
 * a key set twice, and bad values are all errors.
 *
 * Keys of [server], [upstream], [cache], [timeouts] and [breaker] override
 * *c one by one. Pools, routes, [deny] and [allow] rules and go_binary are
 * replaced as a whole by what the file declares (none if it declares none).
 * A [deny] key is a route pattern, optionally followed by "@" and a version
 * glob (a literal must be a canonical version), its value a non-empty
 * reason; an [allow] key is a route pattern without version, its value a
 * note (may be empty); a rule given twice, and an [allow] section without
 * rules, are errors. Checked once the whole file
 * is read, each error on the line it names: a pool without an upstream (its
 * header), a route to an unknown pool (the route), [route] without pools
 * (its header), several pools without [route] (the second pool's header),
 * breaker settings that breaker_config_check refuses (the key at fault, or
 * the last [breaker] key). on_open = direct and routes to direct look for
 * "go" in the absolute directories of $PATH at the line that asks.
 *
 * Credentials: a pool upstream's token_file=, token_env=, basic_file= or
 * basic_env= is read while its line is (an error names that line; a secret
 * file group or others may read is logged as a warning); URLs with
 * user[:password]@ and inline secrets (token=...) are refused. Once the file
 * is read, every upstream without a credential, and the checksum database's
 * URL (sumdb_cred), takes the netrc entry of its host[:port] (see netrc.h)
 * from c->netrc, if any.
 *
 * TLS: [server] tls_cert and tls_key are absolute paths, both or neither.
 * Once the rest of the file is good, the pair is read and checked
 * (tls_pair_check: the key belongs to the certificate, OpenSSL accepts it)
 * and tls_fingerprint set; a failure names the line of the file at fault. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/* As config_load_file, from the NUL-terminated text; name stands for the
 * file name in messages. */
int config_load_string(struct config *c, const char *text, const char *name, char *err,
                       size_t errlen);

/* Whether the loaders read and check the TLS pair ([server] tls_cert and
 * tls_key; on by default). The commands that never serve turn it off: the
 * key is often readable by the service's user alone, and `modgate upstream
 * status` must not need it. Both-or-neither and the paths are checked
 * either way. Main thread, before loading. */
void config_read_tls_pair(int on);

/* Parses a listen address: "127.0.0.1:8080", "[::1]:8080", "localhost:80",
 * or ":8080" (every local address: *host = ""). The host is copied without
 * brackets into host (hostlen bytes), the port (1..65535) into *port. Also
 * used by the command line's --listen. 0, or -1 with err (host and port are
 * then unspecified). */
int config_parse_listen(const char *s, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen);

/* Parses a duration as the configuration's keys take it: "250ms", "30s",
 * "5m", "1h", "1h30m" (Go's order-free sums of whole numbers), or a bare
 * number of seconds, into *ms (at most about 31 years). With days set, "d"
 * (24 hours) is a unit too, for the command line's `prune --unused 90d`; the
 * keys refuse it. 0, or -1 with err (*ms untouched). Pure. */
int config_parse_duration_ms(const char *s, int days, long long *ms, char *err, size_t errlen);

/* Parses a size for the command line's `prune --max-size`: a whole number of
 * bytes, optionally followed by one of K, M, G, T (either case; powers of
 * 1024: 50G is 50 GiB), at most 2^60 bytes, into *bytes. 0, or -1 with err
 * (*bytes untouched). Pure. */
int config_parse_size(const char *s, unsigned long long *bytes, char *err, size_t errlen);

/* 1 if module_path (unescaped, as in go.mod) matches c->noproxy and must be
 * fetched direct rather than through the upstream proxies, else 0. */
int config_is_noproxy(const struct config *c, const char *module_path);

/* Where the module at module_path (unescaped, as in go.mod) is fetched from:
 *   no pools                       CONFIG_ROUTE_CHAIN (the GOPROXY chain and
 *                                  noproxy decide, as without pools)
 *   the first route that matches   CONFIG_ROUTE_POOL with *pool_index set,
 *                                  CONFIG_ROUTE_DIRECT or CONFIG_ROUTE_OFF
 *   no route matches               CONFIG_ROUTE_NONE
 * Routes are tried most specific first: a pattern with more path elements
 * before one with fewer; among equals, fewer wildcards ('*', '?', a [class])
 * first; a pattern of only '*' (every module) last; ties in file order. Each
 * matches as one GOPRIVATE pattern does (pathglob_match_prefix). With pools,
 * noproxy is not consulted: [route] alone decides. *pool_index (may be NULL)
 * is set to the pool for CONFIG_ROUTE_POOL and to -1 otherwise. Pure. */
int config_route_for(const struct config *c, const char *module_path, int *pool_index);

/* Writes the upstream as text for logs and messages into buf (len bytes,
 * cut short if need be) and returns buf: "direct", "off", or the URL with
 * any user[:password] replaced by "xxxxx" (more than Go's URL.Redacted,
 * which keeps the user name: a token is often passed as one). Pure;
 * callable from anywhere. */
const char *config_upstream_redacted(const struct config_upstream *u, char *buf, size_t len);

/* The credential a 1-based cred index (config_upstream.cred, sumdb_cred,
 * ...) names in c->creds, or NULL for 0 or an index out of range. Borrowed
 * from c. Pure; callable from anywhere. */
const struct config_cred *config_cred_of(const struct config *c, int cred);

/* Writes how a credential is found, for logs and the admin endpoint, into
 * buf (len bytes, cut short if need be) and returns buf: "none" for NULL,
 * "bearer from token_file=/etc/modgate/corp.token", "basic from netrc
 * (machine host:port)". Never the secret. Pure; callable from anywhere. */
const char *config_cred_describe(const struct config_cred *k, char *buf, size_t len);

/* Writes the effective configuration to out as an INI file that loads back
 * to the same struct config (modgate -t): every key of every section, then
 * the pools and routes (routes in match order, the implied one included).
 * URLs are written redacted (only $GOPROXY can give one credentials, and the
 * file refuses them); a pool upstream's credential as its option
 * (token_file=PATH ...), never the secret, which is read again on load.
 * go_binary, and a netrc path found through $NETRC or $HOME, are comments:
 * they are found again when the dump is loaded. */
void config_dump(const struct config *c, FILE *out);

#endif
