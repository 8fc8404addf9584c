/*
 * log — event lines on stderr: "2026-11-25T03:17:12Z level message".
 * One process-wide level, set once at start. Messages must never carry
 * credentials. Any thread (each line is one write()).
 */
#ifndef MODGATE_LOG_H
#define MODGATE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn", "error"; -1 if none of them. */
int log_parse_level(const char *s, enum log_level *level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
