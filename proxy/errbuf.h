/*
 * errbuf — the one way modgate's parsers and checkers explain a failure:
 * one line written into the caller's buffer (char *err, size_t errlen).
 * Pure; any thread, any callback.
 */
#ifndef MODGATE_ERRBUF_H
#define MODGATE_ERRBUF_H

#include <stddef.h>

/* Formats the message into err, cut to errlen bytes; does nothing when err
 * is NULL or errlen is 0. */
void errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
