/*
 * reload — what a configuration reload (SIGHUP, POST /reload, modgate
 * reload) may change, and what it changed.
 *
 * A reload applies everything that lives in the pool set or is read per
 * request: pools, routes, upstreams and their weights, backup, on_open,
 * hedge and retry budget, credentials, breaker settings, timeouts, TTLs,
 * nosumdb, noproxy, log settings, max_connections, stop_timeout, and the
 * TLS certificate and key (read again at every reload). What was bound or
 * opened once at start needs a restart: the listen and admin addresses,
 * TLS on or off, the cache directory, the worker threads and the checksum
 * database (its name, key and URL: the verifier's kept tree head belongs
 * to it). A reload that changes one of those is refused as a whole: a
 * partial one would leave the file saying something the process does not
 * do.
 *
 * Pure functions of two configs; callable from anywhere.
 */
#ifndef MODGATE_RELOAD_H
#define MODGATE_RELOAD_H

#include <stddef.h>

#include "proxy/config-t.h"

/* Writes into buf (len bytes, cut short if need be) the settings that
 * differ between cur and next and need a restart, with their old and new
 * values, e.g. "listen 127.0.0.1:8080 -> 127.0.0.1:9090; workers 2 -> 4";
 * "" when none. Returns how many. */
int reload_restart_needed(const struct config *cur, const struct config *next, char *buf,
                          size_t len);

/* Writes into buf (len bytes, cut short if need be) the reloadable
 * settings that differ, briefly: "pools, routes, [breaker]"; "nothing"
 * when none. Returns how many. */
int reload_changes(const struct config *cur, const struct config *next, char *buf, size_t len);

#endif
