/*
 * direct — the go command in child processes, driven from the libevent loop.
 *
 * A request moves QUEUED -> RUNNING -> REAPED -> DONE and is then handed
 * to its caller. It is finished only when both of these hold: the child has been
 * reaped, and both pipes are closed (EOF, or closed by us). Either may come
 * first: a child's last bytes can still sit in a pipe after it exits, and a
 * grandchild (git, ssh) can hold a pipe open after the go command is gone.
 *
 * Reaping: waitid(WNOWAIT) first, so the exited child stays a zombie while
 * we SIGKILL its process group. A zombie's pid cannot be reused, so the
 * kill cannot hit a stranger; it takes down any grandchild left behind.
 * Then waitpid reaps it. Only our own pids are ever waited for. A SIGCHLD
 * signal event drives this; a slow timer while children run is the backstop
 * for a SIGCHLD that someone else's handler swallowed. A grandchild that
 * escaped the group and keeps a pipe open gets DRAIN_GRACE_MS, then the
 * pipes are closed under it.
 *
 * A finished request waits on the finished list for the pump, a zero-delay
 * event whose argument is the runner: done callbacks never run inside a
 * pipe, timer or signal callback of the request they free, nor inside
 * direct_fetch. The pump also starts queued requests as slots free up.
 */
#include "proxy/direct.h"

#include "proxy/log.h"
#include "proxy/worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_MAX_CHILDREN 4
#define DEFAULT_TIMEOUT_MS 120000L
#define DEFAULT_MAX_STDOUT (1024 * 1024)
#define DEFAULT_MAX_STDERR (64 * 1024)
#define DRAIN_GRACE_MS 1000L
#define REAP_BACKSTOP_MS 500L
#define MODULE_MAX 1024
#define QUERY_MAX 512
#define REMOVE_DEPTH_MAX 128

enum req_state {
	REQ_QUEUED,  /* on d->queued */
	REQ_RUNNING, /* on d->running, child alive */
	REQ_REAPED,  /* on d->running, child reaped, pipes may still be open */
	REQ_DONE,    /* on d->finished, result filled, done not called yet */
};

struct req_pipe {
	struct direct_req *q;
	const char *name; /* "stdout", "stderr" */
	int fd;           /* -1 once closed */
	struct event *ev;
	char *buf;
	size_t len, cap, max;
	int overflow;
};

struct direct_req {
	struct direct_result result; /* first: direct_result_release casts back */
	struct direct *d;            /* NULL once the caller owns the result */
	struct worker_pool *workers; /* for the folder removal, which may outlive d */
	enum req_state state;
	direct_done_fn done;
	void *arg;
	char *module, *query;
	char *dir; /* the request folder; NULL until spawned */
	pid_t pid;
	int wstatus;
	int lost;      /* someone else reaped our child: no exit status */
	int timed_out; /* the deadline killed it */
	int cancelled; /* direct_cancel: free without callback */
	struct req_pipe out, err;
	struct event *timer; /* deadline while RUNNING, drain grace once REAPED */
	struct timespec started;
	char *version, *sum, *gomod_sum, *errmsg;
	char *paths[4]; /* info, mod, zip, made */
	TAILQ_ENTRY(direct_req) link;
};

TAILQ_HEAD(req_list, direct_req);

struct direct {
	struct event_base *base;
	struct worker_pool *workers;
	char *go;       /* absolute path of the go binary */
	char *tmp_root; /* absolute */
	int max_children;
	long timeout_ms;
	size_t max_stdout, max_stderr;
	char **passenv; /* "NAME=value" snapshot, NULL-terminated */
	char *path_env; /* "PATH=..." */
	char *goflags;  /* "GOFLAGS=..." */
	struct event *sigchld_ev, *backstop_ev, *pump_ev;
	struct req_list queued, running, finished;
	int nqueued, nrunning;
};

/* asprintf that leaves NULL, not an undefined pointer, on failure. */
static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* ---- pure helpers -------------------------------------------------------- */

int direct_status_http(enum direct_status s)
{
	switch (s) {
	case DIRECT_OK:
		return 200;
	case DIRECT_NOT_FOUND:
		return 404;
	case DIRECT_TIMEOUT:
		return 504;
	default:
		return 502;
	}
}

const char *direct_kind_str(enum direct_kind kind)
{
	switch (kind) {
	case DIRECT_LIST:
		return "list";
	case DIRECT_INFO:
		return "info";
	case DIRECT_MOD:
		return "mod";
	case DIRECT_ZIP:
		return "zip";
	case DIRECT_LATEST:
		return "latest";
	}
	return "?";
}

/* Network trouble wins over everything: "unrecognized import path ...: i/o
 * timeout" is an outage, not an answer. What is left and matches the go
 * command's (and git's) words for a missing module, version, revision or
 * repository is an answer: 404, as proxy.golang.org says for the same
 * errors. A repository that wants credentials modgate does not have reads
 * the same to a client as one that does not exist. */
enum direct_status direct_classify(const char *text)
{
	static const char *const transient[] = {
	    "i/o timeout",
	    "timed out",
	    "timeout exceeded",
	    "connection refused",
	    "connection reset",
	    "connection timed out",
	    "network is unreachable",
	    "no route to host",
	    "temporary failure in name resolution",
	    "server misbehaving",
	    "tls handshake",
	    "could not resolve host",
	    "unexpected eof",
	    "502 bad gateway",
	    "503 service unavailable",
	    "504 gateway timeout",
	    "429 too many requests",
	};
	static const char *const not_found[] = {
	    "unknown revision",
	    "invalid version",
	    "no matching versions",
	    "not found",
	    "does not exist",
	    "protocol found for repository", /* "no (secure) protocol found ..." */
	    "unrecognized import path",
	    "malformed module path",
	    "invalid module path",
	    "module declares its path as",
	    "disallowed version string",
	    "terminal prompts disabled",
	    "could not read username",
	    "410 gone",
	};
	size_t i;

	if (!text || !*text)
		return DIRECT_FAILED;
	for (i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strcasestr(text, transient[i]))
			return DIRECT_FAILED;
	for (i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++)
		if (strcasestr(text, not_found[i]))
			return DIRECT_NOT_FOUND;
	return DIRECT_FAILED;
}

/* Appends one byte to a line of at most max bytes, folding control
 * characters and white space into one space and dropping leading space. A
 * byte that does not fit sets *cut (a space never does: it would be
 * trimmed anyway). */
static void line_put(char *dst, size_t max, size_t *len, int *cut, unsigned char c)
{
	if (c < 0x20 || c == 0x7f || c == ' ') {
		if (*len == 0 || dst[*len - 1] == ' ' || *len >= max)
			return;
		c = ' ';
	}
	if (*len >= max) {
		*cut = 1;
		return;
	}
	dst[(*len)++] = (char)c;
}

static void line_puts(char *dst, size_t max, size_t *len, int *cut, const char *s)
{
	while (*s)
		line_put(dst, max, len, cut, (unsigned char)*s++);
}

void direct_clean_message(char *dst, size_t dstlen, const char *src, const char *hide)
{
	size_t max, len = 0, hlen = hide ? strlen(hide) : 0;
	const char *p = src ? src : "", *end, *at;
	int cut = 0;

	if (dstlen < 4) {
		if (dstlen)
			dst[0] = '\0';
		return;
	}
	max = dstlen - 1;
	while (*p && !cut) {
		if (hlen && strncmp(p, hide, hlen) == 0) {
			line_puts(dst, max, &len, &cut, "$WORK");
			p += hlen;
			continue;
		}
		if (strncmp(p, "://", 3) == 0) {
			/* userinfo: anything up to an '@' before the authority ends */
			end = p + 3 + strcspn(p + 3, "/?# \t\r\n\"'<>");
			at = memchr(p + 3, '@', (size_t)(end - (p + 3)));
			if (at) {
				line_puts(dst, max, &len, &cut, "://***");
				p = at;
				continue;
			}
		}
		line_put(dst, max, &len, &cut, (unsigned char)*p++);
	}
	if (cut) {
		/* room for "...", and never half a UTF-8 sequence */
		if (len > max - 3)
			len = max - 3;
		while (len > 0 && ((unsigned char)dst[len] & 0xc0) == 0x80)
			len--;
	}
	while (len > 0 && dst[len - 1] == ' ')
		len--;
	if (cut) {
		memcpy(dst + len, "...", 3);
		len += 3;
	}
	dst[len] = '\0';
}

/* ---- removal of request folders (worker threads) ------------------------- */

/* Removes name under parent, recursively, without following symlinks. The
 * go command makes module folders read-only (unless -modcacherw, which we
 * set, but a cache may come from elsewhere): each folder is made writable
 * before its entries go. */
static void remove_at(int parent, const char *name, int depth)
{
	struct stat st;
	struct dirent *de;
	DIR *dp;
	int fd, removed;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlinkat(parent, name, 0);
		return;
	}
	if (depth < REMOVE_DEPTH_MAX) {
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			if ((st.st_mode & 0700) != 0700)
				fchmod(fd, 0700);
			dp = fdopendir(fd);
			if (!dp) {
				close(fd);
			} else {
				/* Deleting while reading may hide entries: rescan until clean. */
				do {
					removed = 0;
					rewinddir(dp);
					while ((de = readdir(dp))) {
						if (strcmp(de->d_name, ".") == 0 ||
						    strcmp(de->d_name, "..") == 0)
							continue;
						remove_at(dirfd(dp), de->d_name, depth + 1);
						removed++;
					}
				} while (removed && depth < REMOVE_DEPTH_MAX);
				closedir(dp);
			}
		}
	}
	unlinkat(parent, name, AT_REMOVEDIR);
}

struct remove_job {
	char *dir;
};

static void remove_run(void *arg)
{
	struct remove_job *j = arg;

	remove_at(AT_FDCWD, j->dir, 0);
}

static void remove_done(void *arg)
{
	struct remove_job *j = arg;

	free(j->dir);
	free(j);
}

/* Takes dir. On a worker when there is one and it accepts the job, else
 * inline. */
static void remove_later(struct worker_pool *workers, char *dir)
{
	struct remove_job *j;

	if (!dir)
		return;
	if (workers) {
		j = malloc(sizeof(*j));
		if (j) {
			j->dir = dir;
			if (worker_submit(workers, remove_run, remove_done, j) == 0)
				return;
			free(j);
		}
	}
	remove_at(AT_FDCWD, dir, 0);
	free(dir);
}

/* ---- requests -------------------------------------------------------------- */

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void pipe_close(struct req_pipe *p)
{
	if (p->ev) {
		event_free(p->ev);
		p->ev = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

static void file_close(struct direct_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Frees a request that is on no list and has no child left. */
static void req_free(struct direct_req *q)
{
	int i;

	pipe_close(&q->out);
	pipe_close(&q->err);
	if (q->timer)
		event_free(q->timer);
	free(q->out.buf);
	free(q->err.buf);
	file_close(&q->result.info);
	file_close(&q->result.mod);
	file_close(&q->result.zip);
	file_close(&q->result.made);
	remove_later(q->workers, q->dir);
	q->dir = NULL;
	for (i = 0; i < 4; i++)
		free(q->paths[i]);
	free(q->version);
	free(q->sum);
	free(q->gomod_sum);
	free(q->errmsg);
	free(q->module);
	free(q->query);
	free(q);
}

void direct_result_release(struct direct_result *r)
{
	if (r)
		req_free((struct direct_req *)r);
}

static int valid_arg(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == 0x7f || c == '@')
			return 0;
	}
	return 1;
}

/* The failure line: the go command's Error field when there is one, else
 * stderr from its last "go: " line on (git's reasons follow on indented
 * lines), else its last non-empty line. */
static void failure_line(struct direct_req *q, const char *json_error, char *dst, size_t dstlen)
{
	const char *from = NULL;
	char *copy;
	size_t n, i;

	if (json_error && *json_error) {
		direct_clean_message(dst, dstlen, json_error, q->dir);
		return;
	}
	copy = strndup(q->err.buf ? q->err.buf : "", q->err.len);
	if (!copy) {
		dst[0] = '\0';
		return;
	}
	n = strlen(copy);
	while (n > 0 && strchr("\n\r\t ", copy[n - 1]))
		copy[--n] = '\0';
	for (i = 0; i < n; i++)
		if ((i == 0 || copy[i - 1] == '\n') && strncmp(copy + i, "go: ", 4) == 0)
			from = copy + i;
	if (!from) {
		from = strrchr(copy, '\n');
		from = from ? from + 1 : copy;
	}
	direct_clean_message(dst, dstlen, from, q->dir);
	free(copy);
}

static void set_failure(struct direct_req *q, enum direct_status status, const char *msg)
{
	free(q->errmsg);
	q->errmsg = strdup(msg);
	q->result.status = status;
	q->result.error = q->errmsg ? q->errmsg : "out of memory";
	q->result.body = NULL;
}

/* A path the go command printed must lie inside the request folder. */
static int inside_dir(const struct direct_req *q, const char *path)
{
	size_t n = strlen(q->dir);

	return strncmp(path, q->dir, n) == 0 && path[n] == '/' && !strstr(path, "/../") &&
	       !strstr(path, "/./");
}

static int open_file(struct direct_req *q, struct direct_file *f, int slot, const char *path)
{
	struct stat st;
	int fd;

	if (!inside_dir(q, path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	q->paths[slot] = strdup(path);
	if (!q->paths[slot]) {
		close(fd);
		return -1;
	}
	f->path = q->paths[slot];
	f->fd = fd;
	f->size = st.st_size;
	return 0;
}

/* Writes the body modgate makes for list and latest into the request
 * folder. A few bytes into a fresh local file: fine on the loop. */
static int write_made(struct direct_req *q, const char *body, size_t len)
{
	struct direct_file *f = &q->result.made;
	size_t off = 0;
	ssize_t n;
	int fd;

	q->paths[3] =
	    str_printf("%s/%s", q->dir, q->result.kind == DIRECT_LIST ? "list" : "latest");
	if (!q->paths[3])
		return -1;
	fd = open(q->paths[3], O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (off < len) {
		n = write(fd, body + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	f->path = q->paths[3];
	f->fd = fd;
	f->size = (off_t)len;
	return 0;
}

static const char *json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A version as the go command prints it: something to put in a cache path. */
static int valid_version(const char *v)
{
	return v && valid_arg(v, QUERY_MAX) && !strchr(v, '/') && strcmp(v, ".") != 0 &&
	       strcmp(v, "..") != 0;
}

static int take_str(char **dst, const char *s)
{
	*dst = strdup(s);
	return *dst ? 0 : -1;
}

/* The child exited 0 with this JSON: turn it into the result. Returns a
 * static reason on failure. */
static const char *ingest(struct direct_req *q, json_t *o)
{
	struct direct_result *r = &q->result;
	const char *path = json_str(o, "Path"), *version = json_str(o, "Version");
	const char *info, *mod, *zip, *sum, *gomod_sum, *time;
	json_t *versions, *v, *latest;
	char *body;
	size_t i, len, cap;
	int rc;

	if (!path || strcmp(path, q->module) != 0)
		return "the go command answered for another module";
	switch (r->kind) {
	case DIRECT_INFO:
	case DIRECT_MOD:
	case DIRECT_ZIP:
		info = json_str(o, "Info");
		mod = json_str(o, "GoMod");
		zip = json_str(o, "Zip");
		sum = json_str(o, "Sum");
		gomod_sum = json_str(o, "GoModSum");
		if (!valid_version(version) || !info || !mod || !zip || !sum || !gomod_sum)
			return "the go command's answer lacks a field (Version, Info, GoMod, Zip, "
			       "Sum, GoModSum)";
		if (open_file(q, &r->info, 0, info) < 0 || open_file(q, &r->mod, 1, mod) < 0 ||
		    open_file(q, &r->zip, 2, zip) < 0)
			return "cannot open the files the go command downloaded";
		if (take_str(&q->version, version) < 0 || take_str(&q->sum, sum) < 0 ||
		    take_str(&q->gomod_sum, gomod_sum) < 0)
			return "out of memory";
		r->version = q->version;
		r->sum = q->sum;
		r->gomod_sum = q->gomod_sum;
		r->body = r->kind == DIRECT_INFO  ? &r->info
		          : r->kind == DIRECT_MOD ? &r->mod
		                                  : &r->zip;
		return NULL;
	case DIRECT_LIST:
		versions = json_object_get(o, "Versions");
		if (versions && !json_is_array(versions))
			return "the go command's Versions is not a list";
		cap = 1;
		json_array_foreach(versions, i, v)
		{
			if (!json_is_string(v) || !valid_version(json_string_value(v)))
				return "the go command listed an invalid version";
			cap += json_string_length(v) + 1;
		}
		body = malloc(cap);
		if (!body)
			return "out of memory";
		len = 0;
		json_array_foreach(versions, i, v)
		{
			memcpy(body + len, json_string_value(v), json_string_length(v));
			len += json_string_length(v);
			body[len++] = '\n';
		}
		rc = write_made(q, body, len);
		free(body);
		if (rc < 0)
			return "cannot write the version list";
		r->body = &r->made;
		return NULL;
	case DIRECT_LATEST:
		time = json_str(o, "Time");
		if (!valid_version(version))
			return "the go command's answer lacks a Version";
		latest = json_object();
		if (!latest || json_object_set_new(latest, "Version", json_string(version)) < 0 ||
		    (time && json_object_set_new(latest, "Time", json_string(time)) < 0)) {
			json_decref(latest);
			return "out of memory";
		}
		body = json_dumps(latest, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(latest);
		if (!body)
			return "out of memory";
		rc = write_made(q, body, strlen(body));
		free(body);
		if (rc < 0)
			return "cannot write the latest answer";
		if (take_str(&q->version, version) < 0)
			return "out of memory";
		r->version = q->version;
		r->body = &r->made;
		return NULL;
	}
	return "unknown kind";
}

/* Fills q->result from how the child ended and what it printed. */
static void conclude(struct direct_req *q)
{
	struct direct *d = q->d;
	char line[DIRECT_ERR_MAX + 1], msg[DIRECT_ERR_MAX + 64];
	const char *why, *json_error = NULL;
	json_t *o = NULL;
	char *text;
	int code;

	q->result.elapsed_ms = ms_since(&q->started);
	if (q->timed_out) {
		snprintf(msg, sizeof(msg),
		         "direct: the go command ran past its %ld ms deadline and was killed",
		         d->timeout_ms);
		set_failure(q, DIRECT_TIMEOUT, msg);
		return;
	}
	if (q->out.overflow || q->err.overflow) {
		struct req_pipe *p = q->out.overflow ? &q->out : &q->err;
		snprintf(msg, sizeof(msg),
		         "direct: the go command wrote more than %zu bytes to %s and was killed",
		         p->max, p->name);
		set_failure(q, DIRECT_FAILED, msg);
		return;
	}
	if (q->lost) {
		set_failure(q, DIRECT_FAILED, "direct: lost the go command's exit status");
		return;
	}
	if (WIFSIGNALED(q->wstatus)) {
		snprintf(msg, sizeof(msg), "direct: the go command was killed by signal %d",
		         WTERMSIG(q->wstatus));
		set_failure(q, DIRECT_FAILED, msg);
		return;
	}
	code = WIFEXITED(q->wstatus) ? WEXITSTATUS(q->wstatus) : -1;
	if (q->out.len > 0)
		o = json_loadb(q->out.buf, q->out.len, 0, NULL);
	if (o && json_is_object(o))
		json_error = json_str(o, "Error");
	if (code == 0 && o && json_is_object(o) && !json_error) {
		why = ingest(q, o);
		json_decref(o);
		if (why) {
			snprintf(msg, sizeof(msg), "direct: %s", why);
			set_failure(q, DIRECT_FAILED, msg);
		} else {
			q->result.status = DIRECT_OK;
		}
		return;
	}
	failure_line(q, json_error, line, sizeof(line));
	if (!line[0])
		snprintf(line, sizeof(line), "direct: the go command exited with status %d%s", code,
		         code == 0 ? " but printed no answer" : "");
	/* Classify on everything it said, not just the line kept. */
	text = str_printf("%s\n%.*s", json_error ? json_error : "", (int)q->err.len,
	                  q->err.buf ? q->err.buf : "");
	set_failure(q,
	            code == 0 && !json_error ? DIRECT_FAILED : direct_classify(text ? text : line),
	            line);
	free(text);
	json_decref(o);
}

/* ---- the runner ------------------------------------------------------------ */

static void kill_group(struct direct_req *q)
{
	if (q->pid > 0 && q->state == REQ_RUNNING)
		kill(-q->pid, SIGKILL);
}

static void arm_timer(struct direct_req *q, long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};

	evtimer_add(q->timer, &tv);
}

/* Moves a request to the finished list for the pump to deliver. */
static void post(struct direct_req *q)
{
	struct direct *d = q->d;
	struct direct_result *r = &q->result;

	q->state = REQ_DONE;
	TAILQ_INSERT_TAIL(&d->finished, q, link);
	event_active(d->pump_ev, EV_TIMEOUT, 0);
	if (r->status == DIRECT_OK)
		log_info("direct: %s %s%s%s -> %s in %ld ms", direct_kind_str(r->kind), q->module,
		         *q->query ? "@" : "", q->query, r->version ? r->version : "ok",
		         r->elapsed_ms);
	else
		log_warn("direct: %s %s%s%s failed (%d) in %ld ms: %s", direct_kind_str(r->kind),
		         q->module, *q->query ? "@" : "", q->query, direct_status_http(r->status),
		         r->elapsed_ms, r->error);
}

/* Takes q off the running list: its result goes to the finished list, or
 * it is freed when cancelled. Its slot goes to the next queued request. */
static void finish(struct direct_req *q)
{
	struct direct *d = q->d;

	TAILQ_REMOVE(&d->running, q, link);
	d->nrunning--;
	pipe_close(&q->out);
	pipe_close(&q->err);
	event_del(q->timer);
	if (d->nrunning == 0)
		evtimer_del(d->backstop_ev);
	if (d->nqueued > 0)
		event_active(d->pump_ev, EV_TIMEOUT, 0);
	if (q->cancelled) {
		req_free(q);
		return;
	}
	conclude(q);
	post(q);
}

/* Non-blocking: is our child gone? See the top of the file for the order. */
static void try_reap(struct direct_req *q)
{
	siginfo_t si;

	if (q->state != REQ_RUNNING)
		return;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)q->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno == EINTR)
			return;
		q->lost = 1; /* ECHILD: reaped behind our back (SIGCHLD set to SIG_IGN?) */
	} else if (si.si_pid == 0) {
		return; /* still running */
	} else {
		kill(-q->pid, SIGKILL);
		while (waitpid(q->pid, &q->wstatus, 0) < 0 && errno == EINTR)
			; /* a zombie: returns at once */
	}
	q->state = REQ_REAPED;
	event_del(q->timer);
	if (q->out.fd >= 0 || q->err.fd >= 0)
		arm_timer(q, DRAIN_GRACE_MS);
}

static int ready(const struct direct_req *q)
{
	return q->state == REQ_REAPED && q->out.fd < 0 && q->err.fd < 0;
}

/* Finishes every request that is ready. */
static void check_ready(struct direct *d)
{
	struct direct_req *q, *next;

	for (q = TAILQ_FIRST(&d->running); q; q = next) {
		next = TAILQ_NEXT(q, link);
		if (ready(q))
			finish(q);
	}
}

static void reap_all(struct direct *d)
{
	struct direct_req *q;

	for (q = TAILQ_FIRST(&d->running); q; q = TAILQ_NEXT(q, link))
		try_reap(q);
	check_ready(d);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	reap_all(arg);
}

static void on_backstop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reap_all(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct direct_req *q = arg;
	struct direct *d = q->d;

	(void)fd;
	(void)what;
	if (q->state == REQ_RUNNING) {
		/* The deadline; but an exit not reaped yet is an exit in time
		 * (and try_reap arms the drain grace). */
		try_reap(q);
		if (q->state == REQ_RUNNING) {
			/* Unless it was killed already for its output. The group
			 * dies now; SIGCHLD reaps the leader. */
			if (!q->cancelled && !q->out.overflow && !q->err.overflow)
				q->timed_out = 1;
			kill_group(q);
			return;
		}
		check_ready(d);
		return;
	}
	/* Drain grace over: a grandchild outside the group holds a pipe. */
	pipe_close(&q->out);
	pipe_close(&q->err);
	check_ready(d);
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct req_pipe *p = arg;
	struct direct_req *q = p->q;
	struct direct *d = q->d;
	char buf[65536];
	ssize_t n;
	size_t room;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pipe_close(p);
		if (q->state == REQ_RUNNING)
			try_reap(q);
		check_ready(d);
		return;
	}
	room = p->max - p->len;
	if ((size_t)n > room) {
		/* Past the bound: kill it, keep what fits, stop listening. */
		p->overflow = 1;
		n = (ssize_t)room;
		kill_group(q);
	}
	if (p->len + (size_t)n > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		char *nb;

		while (cap < p->len + (size_t)n)
			cap *= 2;
		if (cap > p->max)
			cap = p->max;
		nb = realloc(p->buf, cap);
		if (!nb) {
			p->overflow = 1;
			kill_group(q);
			pipe_close(p);
			check_ready(d);
			return;
		}
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, buf, (size_t)n);
	p->len += (size_t)n;
	if (p->overflow) {
		pipe_close(p);
		check_ready(d);
	}
}

static int make_pipe(struct direct *d, struct req_pipe *p, int *wfd)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	/* Only our end is non-blocking; the child's stays an ordinary pipe. */
	if (fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	p->fd = fds[0];
	*wfd = fds[1];
	p->ev = event_new(d->base, p->fd, EV_READ | EV_PERSIST, on_pipe, p);
	return p->ev ? 0 : -1;
}

/* Builds argv for q's kind into argv (room for 8); the one argument that
 * needs building goes to *alloc, the caller's to free. */
static int build_argv(struct direct_req *q, char *argv[8], char **alloc)
{
	int i = 0;

	*alloc = NULL;
	argv[i++] = "go";
	switch (q->result.kind) {
	case DIRECT_INFO:
	case DIRECT_MOD:
	case DIRECT_ZIP:
		if (!(*alloc = str_printf("%s@%s", q->module, q->query)))
			return -1;
		argv[i++] = "mod";
		argv[i++] = "download";
		argv[i++] = "-json";
		argv[i++] = *alloc;
		break;
	case DIRECT_LIST:
		argv[i++] = "list";
		argv[i++] = "-m";
		argv[i++] = "-versions";
		argv[i++] = "-retracted";
		argv[i++] = "-json";
		argv[i++] = q->module;
		break;
	case DIRECT_LATEST:
		if (!(*alloc = str_printf("%s@latest", q->module)))
			return -1;
		argv[i++] = "list";
		argv[i++] = "-m";
		argv[i++] = "-json";
		argv[i++] = *alloc;
		break;
	}
	argv[i] = NULL;
	return 0;
}

#define REQ_ENV 5 /* the per-request entries build_env allocates */

/* envp = what modgate sets, then the snapshot. The strings in mine[] are
 * the caller's to free (NULL where not made), the rest are borrowed. */
static char **build_env(struct direct *d, struct direct_req *q, char *mine[REQ_ENV])
{
	static char *const fixed[] = {
	    "GOPROXY=direct",
	    "GOTOOLCHAIN=local",
	    "GOENV=off",
	    "GOWORK=off",
	    "GO111MODULE=on",
	    "GIT_TERMINAL_PROMPT=0",
	    "LC_ALL=C",
	    /* modgate checks what the child brings against the database
	     * itself, reached through its own pools: the child need not (and
	     * behind a firewall could not) reach it. */
	    "GOSUMDB=off",
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), n = 0, i = 0, k;
	char **envp;

	mine[0] = str_printf("HOME=%s", q->dir);
	mine[1] = str_printf("GOPATH=%s/gopath", q->dir);
	mine[2] = str_printf("GOMODCACHE=%s/gopath/pkg/mod", q->dir);
	mine[3] = str_printf("GOCACHE=%s/cache", q->dir);
	mine[4] = str_printf("TMPDIR=%s/tmp", q->dir);
	while (d->passenv[n])
		n++;
	envp = calloc(REQ_ENV + 2 + nfixed + n + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (k = 0; k < REQ_ENV; k++) {
		if (!mine[k]) {
			free(envp);
			return NULL;
		}
		envp[i++] = mine[k];
	}
	envp[i++] = d->path_env;
	envp[i++] = d->goflags;
	for (k = 0; k < nfixed; k++)
		envp[i++] = fixed[k];
	for (k = 0; k < n; k++)
		envp[i++] = d->passenv[k];
	envp[i] = NULL;
	return envp;
}

/* Makes the request folder and starts the child. 0, or -1 with msg filled
 * (and whatever was made left for req_free). */
static int spawn_child(struct direct *d, struct direct_req *q, char *msg, size_t msglen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t def, mask;
	char *argv[8], *arg = NULL, *mine[REQ_ENV] = {0}, **envp = NULL, sub[PATH_MAX];
	const char *subs[] = {"gopath", "cache", "tmp"};
	int outw = -1, errw = -1, rc, i;

	q->dir = str_printf("%s/modgate-direct-XXXXXX", d->tmp_root);
	if (!q->dir) {
		snprintf(msg, msglen, "direct: out of memory");
		return -1;
	}
	if (!mkdtemp(q->dir)) {
		snprintf(msg, msglen, "direct: cannot make a folder in %s: %s", d->tmp_root,
		         strerror(errno));
		free(q->dir);
		q->dir = NULL;
		return -1;
	}
	for (i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", q->dir, subs[i]);
		if (mkdir(sub, 0700) < 0) {
			snprintf(msg, msglen, "direct: cannot make %s: %s", subs[i],
			         strerror(errno));
			return -1;
		}
	}
	q->timer = evtimer_new(d->base, on_timer, q);
	if (!q->timer || make_pipe(d, &q->out, &outw) < 0 || make_pipe(d, &q->err, &errw) < 0 ||
	    build_argv(q, argv, &arg) < 0 || !(envp = build_env(d, q, mine))) {
		snprintf(msg, msglen, "direct: cannot set up the child: %s", strerror(errno));
		rc = -1;
		goto out_fds;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outw, 1);
	posix_spawn_file_actions_adddup2(&fa, errw, 2);
	/* Nothing of modgate's (client sockets, cache files) leaks into git. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, q->dir);
	/* A new session: a process group of its own to kill as one, and no
	 * controlling terminal for ssh or git to prompt on. Signals back to
	 * their defaults (modgate ignores SIGPIPE) and none blocked. */
	sigfillset(&def);
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	sigemptyset(&mask);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setsigmask(&attr, &mask);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
	                                    POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawn(&q->pid, d->go, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		snprintf(msg, msglen, "direct: cannot run %s: %s", d->go, strerror(rc));
		q->pid = 0;
		rc = -1;
		goto out_fds;
	}
	clock_gettime(CLOCK_MONOTONIC, &q->started);
	q->state = REQ_RUNNING;
	event_add(q->out.ev, NULL);
	event_add(q->err.ev, NULL);
	arm_timer(q, d->timeout_ms);
	if (!evtimer_pending(d->backstop_ev, NULL)) {
		struct timeval tv = {.tv_sec = REAP_BACKSTOP_MS / 1000,
		                     .tv_usec = REAP_BACKSTOP_MS % 1000 * 1000};
		evtimer_add(d->backstop_ev, &tv);
	}
	log_debug("direct: started %s %s %s (pid %d)", d->go, argv[1], argv[2], (int)q->pid);
	rc = 0;
out_fds:
	if (outw >= 0)
		close(outw);
	if (errw >= 0)
		close(errw);
	for (i = 0; i < REQ_ENV; i++)
		free(mine[i]);
	free(envp);
	free(arg);
	return rc;
}

static void start_queued(struct direct *d)
{
	struct direct_req *q;
	char msg[DIRECT_ERR_MAX + 1];

	while (d->nrunning < d->max_children && (q = TAILQ_FIRST(&d->queued))) {
		TAILQ_REMOVE(&d->queued, q, link);
		d->nqueued--;
		if (spawn_child(d, q, msg, sizeof(msg)) < 0) {
			clock_gettime(CLOCK_MONOTONIC, &q->started);
			pipe_close(&q->out);
			pipe_close(&q->err);
			set_failure(q, DIRECT_FAILED, msg);
			post(q);
			continue;
		}
		TAILQ_INSERT_TAIL(&d->running, q, link);
		d->nrunning++;
	}
}

/* The zero-delay event: starts what fits, delivers what finished. */
static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	struct direct *d = arg;
	struct direct_req *q;

	(void)fd;
	(void)what;
	start_queued(d);
	while ((q = TAILQ_FIRST(&d->finished))) {
		TAILQ_REMOVE(&d->finished, q, link);
		q->d = NULL; /* the caller's now */
		q->done(q->arg, &q->result);
	}
	/* done callbacks may have queued more */
	start_queued(d);
}

struct direct_req *direct_fetch(struct direct *d, enum direct_kind kind, const char *module,
                                const char *version, direct_done_fn done, void *arg)
{
	struct direct_req *q;
	int download = kind == DIRECT_INFO || kind == DIRECT_MOD || kind == DIRECT_ZIP;

	if (!module || !valid_arg(module, MODULE_MAX) || !done ||
	    (download && (!version || !valid_arg(version, QUERY_MAX))) ||
	    (unsigned)kind > DIRECT_LATEST)
		return NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->module = strdup(module);
	q->query = strdup(download ? version : "");
	if (!q->module || !q->query) {
		free(q->module);
		free(q->query);
		free(q);
		return NULL;
	}
	q->d = d;
	q->workers = d->workers;
	q->state = REQ_QUEUED;
	q->done = done;
	q->arg = arg;
	q->out = (struct req_pipe){.q = q, .name = "stdout", .fd = -1, .max = d->max_stdout};
	q->err = (struct req_pipe){.q = q, .name = "stderr", .fd = -1, .max = d->max_stderr};
	q->result.kind = kind;
	q->result.status = DIRECT_FAILED;
	q->result.module = q->module;
	q->result.query = q->query;
	q->result.error = "";
	q->result.info.fd = q->result.mod.fd = q->result.zip.fd = q->result.made.fd = -1;
	TAILQ_INSERT_TAIL(&d->queued, q, link);
	d->nqueued++;
	event_active(d->pump_ev, EV_TIMEOUT, 0);
	return q;
}

void direct_cancel(struct direct_req *q)
{
	struct direct *d;

	if (!q || !q->d)
		return;
	d = q->d;
	if (q->state == REQ_QUEUED || q->state == REQ_DONE) {
		if (q->state == REQ_QUEUED) {
			TAILQ_REMOVE(&d->queued, q, link);
			d->nqueued--;
		} else {
			TAILQ_REMOVE(&d->finished, q, link);
		}
		req_free(q);
		return;
	}
	q->cancelled = 1;
	kill_group(q);
}

int direct_running(const struct direct *d)
{
	return d->nrunning;
}

int direct_queued(const struct direct *d)
{
	return d->nqueued;
}

/* ---- construction ---------------------------------------------------------- */

static int passed_through(const char *entry)
{
	static const char *const names[] = {
	    "GOPRIVATE",     "GOINSECURE",  "GOVCS",     "GOAUTH",        "GOROOT",
	    "HTTP_PROXY",    "HTTPS_PROXY", "NO_PROXY",  "ALL_PROXY",     "http_proxy",
	    "https_proxy",   "no_proxy",    "all_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
	    "SSH_AUTH_SOCK", "NETRC",
	};
	/* These would point git at some other repository than the one the go
	 * command means; GIT_TERMINAL_PROMPT is always 0. */
	static const char *const git_kept_out[] = {
	    "GIT_DIR",
	    "GIT_WORK_TREE",
	    "GIT_INDEX_FILE",
	    "GIT_OBJECT_DIRECTORY",
	    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
	    "GIT_COMMON_DIR",
	    "GIT_NAMESPACE",
	    "GIT_TERMINAL_PROMPT",
	};
	size_t n = strcspn(entry, "="), i;

	if (entry[n] != '=' || n == 0)
		return 0;
	if (n > 4 && strncmp(entry, "GIT_", 4) == 0) {
		for (i = 0; i < sizeof(git_kept_out) / sizeof(git_kept_out[0]); i++)
			if (strlen(git_kept_out[i]) == n && strncmp(entry, git_kept_out[i], n) == 0)
				return 0;
		return 1;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncmp(entry, names[i], n) == 0)
			return 1;
	return 0;
}

/* "GOFLAGS=" + modgate's GOFLAGS without the flags that pick a go.mod or
 * its mode, + ours. */
static char *merge_goflags(const char *inherited)
{
	static const char *const dropped[] = {"-mod=",     "--mod=",      "-modfile",
	                                      "--modfile", "-modcacherw", "--modcacherw"};
	size_t cap =
	    strlen("GOFLAGS=-mod=mod -modcacherw") + (inherited ? strlen(inherited) : 0) + 2;
	char *out = malloc(cap), *copy, *tok, *save;
	size_t i;
	int keep;

	if (!out)
		return NULL;
	strcpy(out, "GOFLAGS=");
	if (inherited) {
		copy = strdup(inherited);
		if (!copy) {
			free(out);
			return NULL;
		}
		for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
			keep = 1;
			for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
				if (strncmp(tok, dropped[i], strlen(dropped[i])) == 0)
					keep = 0;
			if (keep) {
				strcat(out, tok);
				strcat(out, " ");
			}
		}
		free(copy);
	}
	strcat(out, "-mod=mod -modcacherw");
	return out;
}

/* The go binary as an absolute path: name with a '/' as is, else the first
 * executable match in PATH. */
static char *find_go(const char *name, const char *path)
{
	char cand[PATH_MAX], *resolved;
	const char *p = path, *colon;
	size_t n;

	if (strchr(name, '/')) {
		resolved = realpath(name, NULL);
		if (resolved && access(resolved, X_OK) == 0)
			return resolved;
		free(resolved);
		return NULL;
	}
	while (p && *p) {
		colon = strchr(p, ':');
		n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0 &&
		    snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, p, name) < (int)sizeof(cand)) {
			resolved = realpath(cand, NULL);
			if (resolved && access(resolved, X_OK) == 0)
				return resolved;
			free(resolved);
		}
		p = colon ? colon + 1 : NULL;
	}
	return NULL;
}

/* The go command looks for go.mod in its cwd and every parent: a request
 * folder inside a module would run in that module. Returns the go.mod
 * found, or NULL. */
static char *enclosing_gomod(const char *dir)
{
	char probe[PATH_MAX];
	size_t n = strlen(dir); /* absolute, from realpath */

	for (;;) {
		snprintf(probe, sizeof(probe), "%.*s/go.mod", (int)n, dir);
		if (access(probe, F_OK) == 0)
			return strdup(probe);
		if (n == 0)
			return NULL;
		while (n > 0 && dir[n - 1] != '/')
			n--;
		if (n > 0)
			n--; /* and the slash: "" stands for the root */
	}
}

struct direct *direct_new(struct event_base *base, const struct direct_opts *opts,
                          struct worker_pool *workers, char *err, size_t errlen)
{
	static const struct direct_opts defaults;
	struct direct *d;
	const char *path = getenv("PATH"), *root, *name;
	char *gomod;
	struct stat st;
	size_t n = 0, i;

	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	TAILQ_INIT(&d->queued);
	TAILQ_INIT(&d->running);
	TAILQ_INIT(&d->finished);
	if (!opts)
		opts = &defaults;
	d->base = base;
	d->workers = workers;
	d->max_children = opts->max_children ? opts->max_children : DEFAULT_MAX_CHILDREN;
	d->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	d->max_stdout = opts->max_stdout ? opts->max_stdout : DEFAULT_MAX_STDOUT;
	d->max_stderr = opts->max_stderr ? opts->max_stderr : DEFAULT_MAX_STDERR;
	if (d->max_children < 1 || d->max_children > 256 || d->timeout_ms < 1) {
		snprintf(err, errlen,
		         "direct: max_children must be 1..256 and the timeout positive");
		goto fail;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	name = opts->go_binary ? opts->go_binary : "go";
	d->go = find_go(name, path);
	if (!d->go) {
		snprintf(err, errlen,
		         "direct: no go binary found (looked for %s%s); install Go or set its path",
		         name, strchr(name, '/') ? "" : " in PATH");
		goto fail;
	}
	root = opts->tmp_root ? opts->tmp_root : getenv("TMPDIR");
	if (!root || !*root)
		root = "/tmp";
	d->tmp_root = realpath(root, NULL);
	if (!d->tmp_root || stat(d->tmp_root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "direct: temp folder %s: %s", root,
		         d->tmp_root ? "not a folder" : strerror(errno));
		goto fail;
	}
	gomod = enclosing_gomod(d->tmp_root);
	if (gomod) {
		snprintf(err, errlen,
		         "direct: temp folder %s lies inside the Go module of %s; the go command "
		         "would run in that module: choose another folder",
		         d->tmp_root, gomod);
		free(gomod);
		goto fail;
	}
	d->path_env = str_printf("PATH=%s", path);
	if (!d->path_env)
		goto oom;
	d->goflags = merge_goflags(getenv("GOFLAGS"));
	if (!d->goflags)
		goto oom;
	for (i = 0; environ && environ[i]; i++)
		n += passed_through(environ[i]);
	d->passenv = calloc(n + 1, sizeof(char *));
	if (!d->passenv)
		goto oom;
	for (i = 0, n = 0; environ && environ[i]; i++)
		if (passed_through(environ[i]) && !(d->passenv[n++] = strdup(environ[i])))
			goto oom;
	d->sigchld_ev = evsignal_new(base, SIGCHLD, on_sigchld, d);
	d->backstop_ev = evtimer_new(base, on_backstop, d);
	d->pump_ev = event_new(base, -1, 0, on_pump, d);
	if (!d->sigchld_ev || !d->backstop_ev || !d->pump_ev ||
	    evsignal_add(d->sigchld_ev, NULL) < 0)
		goto oom;
	return d;

oom:
	snprintf(err, errlen, "direct: out of memory");
fail:
	direct_free(d);
	return NULL;
}

void direct_free(struct direct *d)
{
	struct direct_req *q;
	size_t i;

	if (!d)
		return;
	while ((q = TAILQ_FIRST(&d->queued))) {
		TAILQ_REMOVE(&d->queued, q, link);
		req_free(q);
	}
	while ((q = TAILQ_FIRST(&d->running))) {
		TAILQ_REMOVE(&d->running, q, link);
		if (q->state == REQ_RUNNING) {
			/* SIGKILL cannot be caught: the wait is the kernel's teardown. */
			kill(-q->pid, SIGKILL);
			while (waitpid(q->pid, &q->wstatus, 0) < 0 && errno == EINTR)
				;
		}
		req_free(q);
	}
	while ((q = TAILQ_FIRST(&d->finished))) {
		TAILQ_REMOVE(&d->finished, q, link);
		req_free(q);
	}
	if (d->sigchld_ev)
		event_free(d->sigchld_ev);
	if (d->backstop_ev)
		event_free(d->backstop_ev);
	if (d->pump_ev)
		event_free(d->pump_ev);
	for (i = 0; d->passenv && d->passenv[i]; i++)
		free(d->passenv[i]);
	free(d->passenv);
	free(d->path_env);
	free(d->goflags);
	free(d->go);
	free(d->tmp_root);
	free(d);
}
