/*
 * direct — the go command as the upstream of last resort (a pool's
 * "on_open = direct"): modgate runs the real go command with GOPROXY=direct
 * in a child process and hands back the files to serve and cache.
 *
 *   info, mod, zip  go mod download -json MODULE@VERSION
 *                   (all three files come back, so the caller can cache them at once)
 *   list            go list -m -versions -retracted -json MODULE
 *                   (the proxy's @v/list holds every tagged version, retracted ones
 *                   too: the go command filters retractions on the client side)
 *   latest          go list -m -json MODULE@latest
 *
 * Each child runs through posix_spawn (no shell, argv only) in a fresh folder
 * under tmp_root that is also its cwd, HOME, GOPATH, GOMODCACHE, GOCACHE and
 * TMPDIR, in a new session (so its own process group, and no controlling
 * terminal that ssh or git could prompt on). Its environment is built from
 * scratch:
 *   set by modgate  PATH (modgate's own, or /usr/local/bin:/usr/bin:/bin),
 *                   HOME, GOPATH, GOMODCACHE, GOCACHE, TMPDIR (the request folder),
 *                   GOPROXY=direct, GOTOOLCHAIN=local, GOENV=off, GOWORK=off,
 *                   GO111MODULE=on, GIT_TERMINAL_PROMPT=0, LC_ALL=C (messages in
 *                   English, which the not-found classification reads),
 *                   GOFLAGS = modgate's GOFLAGS without -mod/-modfile/-modcacherw,
 *                   then "-mod=mod -modcacherw";
 *   passed through  from modgate's environment when set, as read by direct_new:
 *                   GOSUMDB GONOSUMDB GOPRIVATE GOINSECURE GOVCS GOAUTH GOROOT
 *                   HTTP_PROXY HTTPS_PROXY NO_PROXY ALL_PROXY (and lower case)
 *                   SSL_CERT_FILE SSL_CERT_DIR SSH_AUTH_SOCK NETRC, and every GIT_*
 *                   variable (GIT_CONFIG_COUNT/KEY_n/VALUE_n, GIT_CONFIG_GLOBAL,
 *                   GIT_SSH_COMMAND, GIT_ASKPASS, ...) except those that would point
 *                   git at another repository (GIT_DIR, GIT_WORK_TREE,
 *                   GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY,
 *                   GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_COMMON_DIR, GIT_NAMESPACE).
 *   Nothing else: no ~/.gitconfig, ~/.netrc or `go env -w` settings (HOME is
 *   the request folder); point GIT_CONFIG_GLOBAL or NETRC at them instead.
 *
 * Limits: at most max_children children at once, further requests queue in
 * order; each child has a deadline (spawn to exit), after which its whole
 * process group is killed; stdout and stderr are read through pipes on the
 * loop and bounded, and a child that writes more is killed. Children are
 * reaped from a SIGCHLD signal event with waitpid(pid, WNOHANG) for each of
 * ours, never waitpid(-1): other children of modgate are left alone.
 *
 * Results: on success, open descriptors and paths to the bytes, the
 * resolved version, and the go command's h1: sums. On failure, a one-line
 * reason fit for a client (control characters removed, URL credentials and
 * the request folder hidden, at most DIRECT_ERR_MAX bytes) and a status
 * that says whether the go command answered "no such module or version"
 * (404) or failed (502; 504 for the deadline).
 *
 * Ownership and threading: everything here runs on the loop thread that owns
 * base. The caller owns struct direct; a request belongs to direct from
 * direct_fetch until its done callback runs (or direct_cancel), and its
 * result then belongs to the caller until direct_result_release, which
 * hands the removal of the request folder to a worker thread.
 */
#ifndef MODGATE_DIRECT_H
#define MODGATE_DIRECT_H

#include <event2/event.h>
#include <stddef.h>
#include <sys/types.h>

struct worker_pool;
struct direct;
struct direct_req;

/* Longest failure line handed back, in bytes, without the NUL. */
#define DIRECT_ERR_MAX 300

enum direct_kind {
	DIRECT_LIST,   /* @v/list */
	DIRECT_INFO,   /* @v/VERSION.info */
	DIRECT_MOD,    /* @v/VERSION.mod */
	DIRECT_ZIP,    /* @v/VERSION.zip */
	DIRECT_LATEST, /* @latest */
};

enum direct_status {
	DIRECT_OK = 0,
	DIRECT_NOT_FOUND, /* the go command's answer: no such module, version or revision */
	DIRECT_FAILED,    /* anything else: spawn, exit, output bound, unexpected output */
	DIRECT_TIMEOUT,   /* the deadline passed and the child was killed */
};

struct direct_opts {
	const char *go_binary; /* a path, or a name looked up in PATH; NULL: "go" */
	const char *tmp_root;  /* an existing folder outside any Go module; NULL: $TMPDIR or /tmp */
	int max_children;      /* children at once, 1..256; 0: 4 */
	long timeout_ms;       /* per child, spawn to exit; 0: 120000 */
	size_t max_stdout;     /* bytes; 0: 1 MiB */
	size_t max_stderr;     /* bytes; 0: 64 KiB */
};

/* One file of a result. The descriptor and the file belong to the result:
 * dup() the descriptor, or link()/rename() the path out of the request
 * folder (same file system as tmp_root), to keep them past release. */
struct direct_file {
	const char *path; /* absolute, inside the request folder; NULL when absent */
	int fd;           /* open read-only (list/latest: read-write) at offset 0; -1 when absent */
	off_t size;
};

/* Every pointer is owned by the result and valid until direct_result_release. */
struct direct_result {
	enum direct_kind kind;
	enum direct_status status;
	const char *module;    /* as requested */
	const char *query;     /* the version or query as requested; "" for list and latest */
	const char *error;     /* one line, at most DIRECT_ERR_MAX bytes; "" on success */
	const char *version;   /* resolved version (info, mod, zip, latest); NULL otherwise */
	const char *sum;       /* "h1:..." of the zip (info, mod, zip); NULL otherwise */
	const char *gomod_sum; /* "h1:..." of the go.mod (info, mod, zip); NULL otherwise */
	const struct direct_file *body;    /* the requested object; NULL unless DIRECT_OK */
	struct direct_file info, mod, zip; /* info, mod, zip: all three; else absent */
	struct direct_file made;           /* list, latest: the body modgate wrote */
	long elapsed_ms;                   /* from spawn to the end of the child */
};

/* Called on the loop thread from a libevent callback of direct's own (never
 * from inside direct_fetch). r is the caller's from now on: it must be
 * passed to direct_result_release, now or later. The callback may call
 * direct_fetch, direct_cancel on other requests and direct_result_release,
 * but not direct_free. */
typedef void (*direct_done_fn)(void *arg, struct direct_result *r);

/* A runner whose children report on base. opts is read now (NULL: all
 * defaults). workers (borrowed) removes request
 * folders; it must outlive direct and every result not yet released. NULL
 * workers removes them inline, blocking the loop: for tools and tests only.
 * Snapshots the passed-through environment now. Fails (NULL, err filled)
 * when no go binary is found, tmp_root is not a folder or lies inside a Go
 * module, or opts are out of range. Loop thread only. */
struct direct *direct_new(struct event_base *base, const struct direct_opts *opts,
                          struct worker_pool *workers, char *err, size_t errlen);

/* Kills every running child (SIGKILL to its process group) and reaps it,
 * which waits for the kernel to finish it off; drops queued requests; no
 * done callback runs. Results already handed out stay valid. Loop thread,
 * not from a done callback. NULL is a no-op. */
void direct_free(struct direct *d);

/* Queues a request for one object. module and version are copied; version
 * is a version or a query ("v1.2.3", "master", "<v2") for info/mod/zip and
 * is ignored for list and latest. Neither may be empty, start with '-', or
 * hold '@', white space or control characters. done(arg, result) runs
 * later, exactly once, unless the request is cancelled. Returns a handle
 * valid until done runs, or NULL (invalid arguments, out of memory) with
 * nothing queued. Loop thread; safe from libcurl/libevhtp callbacks and from
 * done callbacks. */
struct direct_req *direct_fetch(struct direct *d, enum direct_kind kind, const char *module,
                                const char *version, direct_done_fn done, void *arg);

/* Forgets a request whose done callback has not run: a queued one is
 * dropped, a running child is killed and its folder removed once it is
 * reaped. done never runs for it. Loop thread. */
void direct_cancel(struct direct_req *q);

/* Closes the result's descriptors and frees it; its request folder is
 * removed on a worker. Loop thread; may be called after direct_free.
 * NULL is a no-op. */
void direct_result_release(struct direct_result *r);

/* Requests whose child runs (or is being reaped), and requests waiting for
 * a slot. */
int direct_running(const struct direct *d);
int direct_queued(const struct direct *d);

/* The HTTP status for a client: 200, 404, 502 or 504. */
int direct_status_http(enum direct_status s);

const char *direct_kind_str(enum direct_kind kind);

/* Pure helpers, exported for tests and for callers with the same needs. */

/* How a failure text from the go command reads: DIRECT_NOT_FOUND for its
 * "no such module/version/revision/repository" errors, DIRECT_FAILED for
 * anything else, network trouble (timeouts, refused or reset connections,
 * DNS failures) first of all. Any thread. */
enum direct_status direct_classify(const char *text);

/* Writes src as one line fit for a client into dst (dstlen >= 4): control
 * characters and runs of white space become one space, a URL's user and
 * password become "***", each occurrence of hide (when not NULL or "")
 * becomes "$WORK", and the text is cut at a UTF-8 boundary to dstlen - 1
 * bytes, ending in "..." when cut. Any thread. */
void direct_clean_message(char *dst, size_t dstlen, const char *src, const char *hide);

#endif
