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
 * (config_is_noproxy) are pure and may be called from anywhere.
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
 * with the go command's syntax and meaning. 0, or -1 with err naming the
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

/* Loads the INI file at path over *c. 0; or -1 with err as "PATH:LINE: what"
 * (or "PATH: what" when the file cannot be read). Unknown sections and keys,
 * a key set twice, and bad values are all errors. */
int config_load_file(struct config *c, const char *path, char *err, size_t errlen);

/* As config_load_file, from the NUL-terminated text; name stands for the
 * file name in messages. */
int config_load_string(struct config *c, const char *text, const char *name, char *err,
                       size_t errlen);

/* Parses a listen address: "127.0.0.1:8080", "[::1]:8080", "localhost:80",
 * or ":8080" (every local address: *host = ""). The host is copied without
 * brackets into host (hostlen bytes), the port (1..65535) into *port. Also
 * used by the command line's --listen. 0, or -1 with err (host and port are
 * then unspecified). */
int config_parse_listen(const char *s, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen);

/* 1 if module_path (unescaped, as in go.mod) matches c->noproxy and must be
 * fetched direct rather than through the upstream proxies, else 0. */
int config_is_noproxy(const struct config *c, const char *module_path);

/* Writes the upstream as text for logs and messages into buf (len bytes,
 * cut short if need be) and returns buf: "direct", "off", or the URL with
 * any password replaced by "xxxxx", as Go's URL.Redacted does. Pure; callable
 * from anywhere. */
const char *config_upstream_redacted(const struct config_upstream *u, char *buf, size_t len);

/* Writes the effective configuration to out as an INI file that loads back
 * to the same struct config (modgate -t). URLs are written in full,
 * credentials included, like nginx -T. */
void config_dump(const struct config *c, FILE *out);

#endif
