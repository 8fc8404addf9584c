/*
 * netrc — the credentials of a .netrc file, read the way the go command
 * reads them (cmd/go/internal/auth): lines split into blank-separated
 * tokens taken two by two ("machine H", "login L", "password P"); an entry
 * counts once it has all three; "macdef" skips the lines up to the next
 * empty one; a line that starts a pair with "default" ends the file, and
 * the default entry is never used. A machine matches a URL's host exactly,
 * port included when the URL has one; the first match wins.
 *
 * Pure: no I/O, no allocation; any thread, any callback.
 */
#ifndef MODGATE_NETRC_H
#define MODGATE_NETRC_H

#include <stddef.h>

/* Looks machine up in the len bytes at text (need not be NUL-terminated).
 * 1 with the login and password of the first matching entry copied into
 * login (loginlen bytes) and password (passlen bytes); 0 if no entry
 * matches; -1 if the matching entry's login or password does not fit or
 * holds a NUL byte, or the login holds a ':' (which Basic auth cannot
 * carry) — err says which, never the value. Buffers are written only on a return of 1. */
int netrc_lookup(const char *text, size_t len, const char *machine, char *login, size_t loginlen,
                 char *password, size_t passlen, char *err, size_t errlen);

#endif
