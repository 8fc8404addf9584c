#include "proxy/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	min_level = level;
}

int log_parse_level(const char *s, enum log_level *level)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char line[2048];
	struct tm tm;
	time_t now;
	va_list ap;
	int n, m;

	if (level < min_level)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	n += snprintf(line + n, sizeof(line) - n, "%s ", names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = m < 0 ? n : n + m;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line keeps lines whole when threads log at once. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* stderr gone: nowhere left to say so */
	}
}

int log_enabled(enum log_level level)
{
	return level >= min_level;
}

void log_line(enum log_level level, const char *line)
{
	struct iovec iov[2] = {{(void *)line, strlen(line)}, {"\n", 1}};

	if (level < min_level)
		return;
	/* One writev per line keeps lines whole when threads log at once. */
	if (writev(STDERR_FILENO, iov, 2) < 0) {
		/* stderr gone: nowhere left to say so */
	}
}
