/*
 * log — event lines: "2026-11-25T03:17:12Z level message", or with the json
 * format {"time":"...","level":"...","msg":"..."} (plus "event" and its
 * fields for the events worth matching: log_event); and access lines
 * written as they are (log_line, one JSON object each). They go to stderr
 * (the default: journald takes it), syslog, or a file opened for appending
 * (log_reopen opens it again, for logrotate).
 *
 * Set-up (log_set_level, log_configure, log_reopen) from the main thread,
 * before threads start or from the loop; writing from any thread (each line
 * is one write()). Messages must never carry credentials.
 */
#ifndef MODGATE_LOG_H
#define MODGATE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn", "error"; -1 if none of them. */
int log_parse_level(const char *s, enum log_level *level);

/* Where lines go and in what form: output "" or "stderr", "syslog", or an
 * absolute file path (borrowed, copied); json set for JSON event lines.
 * 0, or -1 with err (the file cannot be opened); the old settings stay. */
int log_configure(const char *output, int json, char *err, size_t errlen);

/* Opens the log file again (after logrotate moved it). 0, or -1 with err;
 * a no-op for stderr and syslog. */
int log_reopen(char *err, size_t errlen);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An event a log pipeline may want to match on: with the json format
 * {"time":...,"level":...,"event":EVENT,KEY:VALUE...,"msg":...}, where kv is
 * a NULL-terminated list of key, value strings (a NULL value is left
 * out); with the text format the line of log_msg(level, fmt, ...). */
void log_event(enum log_level level, const char *event, const char *const *kv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Whether lines at level are written. */
int log_enabled(enum log_level level);

/* Writes line as it is (one JSON object, say) plus a newline, if level is
 * enabled. */
void log_line(enum log_level level, const char *line);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
