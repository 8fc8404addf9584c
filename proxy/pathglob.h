/*
 * pathglob — the go command's module path patterns: Go's path.Match, and
 * golang.org/x/mod module.MatchPrefixPatterns on top of it (GOPRIVATE,
 * GONOPROXY, GONOSUMDB, GOINSECURE lists).
 *
 * Pure functions: no I/O, no allocation, no global state. Every string is
 * borrowed for the duration of the call. Safe from any thread and from inside
 * libcurl and libevhtp callbacks.
 */
#ifndef MODGATE_PATHGLOB_H
#define MODGATE_PATHGLOB_H

#include <stddef.h>

/* Reports whether name matches the shell pattern, with path.Match's syntax:
 *   '*'        any run of characters other than '/'
 *   '?'        one character (a UTF-8 sequence counts as one) other than '/'
 *   '[...]'    a non-empty character class: 'c', 'lo-hi', '\c'; '[^...]'
 *              negates it; ranges compare code points
 *   '\c'       the character c itself
 * The whole name must match. Returns 1 on a match, 0 on none, -1 when the
 * pattern is malformed; like Go, the whole pattern is checked even when the
 * name stopped matching early, so a bad pattern is always reported. */
int pathglob_match(const char *pattern, const char *name);

/* module.MatchPrefixPatterns: 1 if some pattern in the comma-separated list
 * matches a leading part of path holding as many '/'-separated elements as
 * the pattern itself ("*.corp.example" matches "git.corp.example/team/mod"),
 * else 0. Empty patterns and malformed ones are skipped; one trailing '/' on
 * a pattern is ignored. Whitespace is not trimmed, exactly as in Go. */
int pathglob_match_prefix(const char *patterns, const char *path);

/* Checks the syntax of every pattern in a comma-separated list, the way
 * pathglob_match_prefix will split it. 0 when all are well formed; -1 with
 * the first bad pattern named in err. */
int pathglob_check_patterns(const char *patterns, char *err, size_t errlen);

#endif
