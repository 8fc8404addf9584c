/*
 * log — one write per line, to one descriptor (or syslog).
 *
 * The descriptor is swapped atomically on reopen; a writer racing the swap
 * writes to the old file, which stays open until the next reopen.
 */
/* syslog.h names its priorities LOG_DEBUG, LOG_INFO...: take what we need
 * from it before log.h's own names take over. */
#include <syslog.h>

static const int syslog_prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
static const int syslog_opt = LOG_PID, syslog_facility = LOG_DAEMON;

#undef LOG_DEBUG
#undef LOG_INFO
#undef LOG_WARN
#undef LOG_ERROR

#include "proxy/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum output { OUT_FD, OUT_SYSLOG };

static const char *const names[] = {"debug", "info", "warn", "error"};
static enum log_level min_level = LOG_INFO;
static enum output out_kind = OUT_FD;
static _Atomic int out_fd = STDERR_FILENO;
static int old_fd = -1; /* the file before the last reopen */
static int json_events;
static char out_path[4096];

void log_set_level(enum log_level level)
{
	min_level = level;
}

int log_parse_level(const char *s, enum log_level *level)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static int open_file(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		snprintf(err, errlen, "cannot open log file %s: %s", path, strerror(errno));
	return fd;
}

/* Makes fd the output; the one before it is closed at the swap after. */
static void swap_fd(int fd)
{
	int prev = atomic_exchange(&out_fd, fd);

	if (old_fd >= 0)
		close(old_fd);
	old_fd = prev == STDERR_FILENO ? -1 : prev;
}

int log_configure(const char *output, int json, char *err, size_t errlen)
{
	int fd;

	if (!output || !*output || strcmp(output, "stderr") == 0) {
		swap_fd(STDERR_FILENO);
		out_kind = OUT_FD;
		out_path[0] = '\0';
	} else if (strcmp(output, "syslog") == 0) {
		openlog("modgate", syslog_opt, syslog_facility);
		out_kind = OUT_SYSLOG;
		out_path[0] = '\0';
	} else {
		if (output[0] != '/' || strlen(output) >= sizeof(out_path)) {
			snprintf(err, errlen,
			         "log output must be stderr, syslog or an absolute path");
			return -1;
		}
		fd = open_file(output, err, errlen);
		if (fd < 0)
			return -1;
		swap_fd(fd);
		out_kind = OUT_FD;
		snprintf(out_path, sizeof(out_path), "%s", output);
	}
	json_events = json;
	return 0;
}

int log_reopen(char *err, size_t errlen)
{
	int fd;

	if (out_kind != OUT_FD || !out_path[0])
		return 0;
	fd = open_file(out_path, err, errlen);
	if (fd < 0)
		return -1;
	swap_fd(fd);
	return 0;
}

static void emit(enum log_level level, const char *line, size_t len)
{
	struct iovec iov[2] = {{(void *)line, len}, {"\n", 1}};

	if (out_kind == OUT_SYSLOG) {
		syslog(syslog_prio[level], "%.*s", (int)len, line);
		return;
	}
	/* One writev per line keeps lines whole when threads log at once. */
	if (writev(atomic_load(&out_fd), iov, 2) < 0) {
		/* the log is gone: nowhere left to say so */
	}
}

/* Appends s as the inside of a JSON string. */
static size_t json_escape(char *dst, size_t room, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < room; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			dst[n++] = '\\';
			dst[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(dst + n, room - n, "\\u%04x", c);
		} else {
			dst[n++] = (char)c;
		}
	}
	return n;
}

/* One event line: msg formatted, with event and kv (see log_event) in the
 * json format. */
static void vlog(enum log_level level, const char *event, const char *const *kv, const char *fmt,
                 va_list ap)
{
	char msg[2048], line[6200], stamp[32];
	struct tm tm;
	time_t now;
	size_t n;

	if (level < min_level)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (json_events) {
		n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\"", stamp,
		                     names[level]);
		if (event) {
			n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"event\":\"");
			n += json_escape(line + n, sizeof(line) - n - 3, event);
			line[n++] = '"';
		}
		for (; kv && kv[0] && n + 600 < sizeof(line); kv += 2) {
			if (!kv[1])
				continue;
			line[n++] = ',';
			line[n++] = '"';
			n += json_escape(line + n, 64, kv[0]);
			n += (size_t)snprintf(line + n, sizeof(line) - n, "\":\"");
			n += json_escape(line + n, 512, kv[1]);
			line[n++] = '"';
		}
		n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"msg\":\"");
		n += json_escape(line + n, sizeof(line) - n - 3, msg);
		line[n++] = '"';
		line[n++] = '}';
	} else if (out_kind == OUT_SYSLOG) {
		/* syslog stamps lines itself. */
		n = (size_t)snprintf(line, sizeof(line), "%s %s", names[level], msg);
	} else {
		n = (size_t)snprintf(line, sizeof(line), "%s %s %s", stamp, names[level], msg);
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	emit(level, line, n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_event(enum log_level level, const char *event, const char *const *kv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, event, kv, fmt, ap);
	va_end(ap);
}

int log_enabled(enum log_level level)
{
	return level >= min_level;
}

void log_line(enum log_level level, const char *line)
{
	if (level < min_level)
		return;
	emit(level, line, strlen(line));
}
