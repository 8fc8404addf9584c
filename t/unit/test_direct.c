/*
 * Unit tests for proxy/direct: a real libevent loop, real child processes.
 *
 * The real go command fetches example.test/repo.git from a bare git
 * repository the fixture builds on disk, reached offline through git's
 * url.<base>.insteadOf (GIT_CONFIG_COUNT/KEY/VALUE in the environment,
 * passed through to the child like any GIT_* variable). Deadlines, output
 * bounds, the concurrency limit and the child's environment are checked
 * with fake go binaries: small shell scripts written into the fixture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proxy/direct.h"
#include "proxy/worker.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODULE "example.test/repo.git"

static char root[256];     /* everything the tests make */
static char tmp_root[300]; /* direct's request folders */
static char master_hash[64];
static char *ref_sum, *ref_gomod_sum, *ref_zip;
static size_t ref_zip_len;
static int have_go;

/* ---- helpers ---------------------------------------------------------------- */

static void xsetenv(const char *name, const char *value)
{
	assert_int_equal(setenv(name, value, 1), 0);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
}

static char *read_path(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (lenp)
		*lenp = (size_t)n;
	return buf;
}

/* The whole file behind a result's descriptor, from offset 0. */
static char *read_file(const struct direct_file *f, size_t *lenp)
{
	char *buf;
	ssize_t n;
	size_t off = 0;

	assert_true(f->fd >= 0);
	buf = malloc((size_t)f->size + 1);
	assert_non_null(buf);
	while (off < (size_t)f->size) {
		n = pread(f->fd, buf + off, (size_t)f->size - off, (off_t)off);
		assert_true(n > 0);
		off += (size_t)n;
	}
	buf[off] = '\0';
	if (lenp)
		*lenp = off;
	return buf;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A zombie child of ours, left unreaped? Looks without reaping. */
static int have_zombie(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return 0; /* ECHILD: no children at all */
	return si.si_pid != 0;
}

/* Gone, or a zombie waiting for whoever adopted it. */
static int process_dead(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static void wait_dead(pid_t pid)
{
	long t0 = now_ms();

	while (!process_dead(pid)) {
		if (now_ms() - t0 > 3000)
			fail_msg("process %d still alive", (int)pid);
		usleep(10000);
	}
}

static pid_t read_pid(const char *name)
{
	char path[400], *s;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	s = read_path(path, NULL);
	if (!s)
		fail_msg("no pid file %s", path);
	pid = (pid_t)atoi(s);
	free(s);
	assert_true(pid > 1);
	return pid;
}

/* Writes an executable fake go binary; returns its path (static). */
static const char *fake_go(const char *name, const char *body)
{
	static char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

/* ---- fixture: one loop, one worker, one runner per test ------------------------ */

struct fix {
	struct event_base *base;
	struct worker_pool *workers;
	struct direct *d;
	struct event *tick;
};

struct got {
	int done;
	int seq;
	struct direct_result *r;
};

static int done_seq;

static void on_done(void *arg, struct direct_result *r)
{
	struct got *g = arg;

	assert_int_equal(g->done, 0);
	g->done = 1;
	g->seq = ++done_seq;
	g->r = r;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void fix_start(struct fix *f, const struct direct_opts *o)
{
	struct timeval tv = {0, 20000};
	char err[512];

	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	assert_non_null(f->base);
	f->workers = worker_pool_new(f->base, 1);
	assert_non_null(f->workers);
	f->d = direct_new(f->base, o, f->workers, err, sizeof(err));
	if (!f->d)
		fail_msg("direct_new: %s", err);
	/* wakes the loop now and then, so run_until can give up */
	f->tick = event_new(f->base, -1, EV_PERSIST, on_tick, NULL);
	event_add(f->tick, &tv);
}

static int got_done(void *arg)
{
	return ((struct got *)arg)->done;
}

static int no_children(void *arg)
{
	struct fix *f = arg;

	return direct_running(f->d) == 0 && direct_queued(f->d) == 0;
}

static int removals_done(void *arg)
{
	struct fix *f = arg;

	return worker_pending(f->workers) == 0;
}

static void run_until(struct fix *f, int (*cond)(void *), void *arg, long max_ms)
{
	long t0 = now_ms();

	while (!cond(arg)) {
		if (now_ms() - t0 > max_ms)
			fail_msg("no result within %ld ms", max_ms);
		event_base_loop(f->base, EVLOOP_ONCE);
	}
}

static struct direct_result *fetch_wait(struct fix *f, enum direct_kind kind, const char *module,
                                        const char *version, struct got *g)
{
	memset(g, 0, sizeof(*g));
	assert_non_null(direct_fetch(f->d, kind, module, version, on_done, g));
	run_until(f, got_done, g, 30000);
	return g->r;
}

/* Releases nothing: every result must be released by the test. Checks that
 * request folders are gone and no child is left unreaped. */
static void fix_stop(struct fix *f)
{
	if (f->d)
		run_until(f, removals_done, f, 10000);
	direct_free(f->d);
	worker_pool_free(f->workers);
	event_free(f->tick);
	event_base_free(f->base);
	assert_int_equal(count_entries(tmp_root), 0);
	assert_false(have_zombie());
}

static void release_and_check_removed(struct fix *f, struct direct_result *r)
{
	direct_result_release(r);
	run_until(f, removals_done, f, 10000);
	assert_int_equal(count_entries(tmp_root), 0);
}

static struct direct_opts real_opts(void)
{
	struct direct_opts o = {
	    .go_binary = "go", .tmp_root = tmp_root, .max_children = 2, .timeout_ms = 60000};

	return o;
}

static struct direct_opts fake_opts(const char *go)
{
	struct direct_opts o = {
	    .go_binary = go, .tmp_root = tmp_root, .max_children = 4, .timeout_ms = 10000};

	return o;
}

static int setup_group(void **state)
{
	char path[400], cmd[1200], *out, *zip;
	json_t *o;
	FILE *p;

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as modgate does: children must not inherit it */
	snprintf(root, sizeof(root), "/tmp/modgate-test-direct.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(tmp_root, sizeof(tmp_root), "%s/tmp", root);
	sh("mkdir -p '%s' '%s/git' '%s/ref'", tmp_root, root, root);
	have_go = system("command -v go >/dev/null 2>&1 && command -v git >/dev/null 2>&1") == 0;
	if (!have_go)
		return 0;

	/* a module with two tags and one commit past the last */
	sh("cd '%s' && mkdir src && cd src && git init -q -b master && "
	   "printf 'module " MODULE "\\n\\ngo 1.21\\n' > go.mod && "
	   "printf 'package repo\\n\\nconst V = 1\\n' > repo.go && "
	   "git add . && git -c user.email=t@t -c user.name=t commit -qm one && git tag v1.0.0 && "
	   "printf 'package repo\\n\\nconst V = 2\\n' > repo.go && "
	   "git -c user.email=t@t -c user.name=t commit -qam two && git tag v1.1.0 && "
	   "printf 'package repo\\n\\nconst V = 3\\n' > repo.go && "
	   "git -c user.email=t@t -c user.name=t commit -qam three && "
	   "git clone -q --bare . '%s/git/repo.git'",
	   root, root);
	snprintf(cmd, sizeof(cmd), "git -C '%s/src' rev-parse master", root);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(master_hash, sizeof(master_hash), p));
	pclose(p);
	master_hash[strcspn(master_hash, "\n")] = '\0';

	/* https://example.test/X is file://<root>/git/X, for every git the go command runs */
	snprintf(path, sizeof(path), "url.file://%s/git/.insteadOf", root);
	xsetenv("GIT_CONFIG_COUNT", "2");
	xsetenv("GIT_CONFIG_KEY_0", path);
	xsetenv("GIT_CONFIG_VALUE_0", "https://example.test/");
	xsetenv("GIT_CONFIG_KEY_1", "protocol.file.allow");
	xsetenv("GIT_CONFIG_VALUE_1", "always");
	xsetenv("GOPRIVATE", "example.test");
	xsetenv("GOINSECURE", "example.test");
	/* direct builds the child's environment itself: this must not matter */
	xsetenv("GOPROXY", "off");

	/* What the go command itself says, run by hand. */
	snprintf(cmd, sizeof(cmd),
	         "cd '%s/ref' && GOPROXY=direct GOFLAGS=-modcacherw GOMODCACHE='%s/ref/mod' "
	         "GOPATH='%s/ref/gopath' GOCACHE='%s/ref/cache' go mod download -json " MODULE
	         "@v1.0.0",
	         root, root, root, root);
	p = popen(cmd, "r");
	assert_non_null(p);
	out = calloc(1, 65536);
	assert_non_null(out);
	assert_true(fread(out, 1, 65535, p) > 0);
	assert_int_equal(pclose(p), 0);
	o = json_loads(out, 0, NULL);
	assert_non_null(o);
	ref_sum = strdup(json_string_value(json_object_get(o, "Sum")));
	ref_gomod_sum = strdup(json_string_value(json_object_get(o, "GoModSum")));
	zip = (char *)json_string_value(json_object_get(o, "Zip"));
	assert_non_null(zip);
	ref_zip = read_path(zip, &ref_zip_len);
	assert_non_null(ref_zip);
	assert_true(strncmp(ref_sum, "h1:", 3) == 0);
	json_decref(o);
	free(out);
	return 0;
}

static int teardown_group(void **state)
{
	char cmd[400];

	(void)state;
	free(ref_sum);
	free(ref_gomod_sum);
	free(ref_zip);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* Each test starts clean even when the one before failed half-way (cmocka
 * leaves a failed test by longjmp): empty folder, no zombie left over. */
static int setup_test(void **state)
{
	char cmd[700];

	(void)state;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir '%s'", tmp_root, tmp_root);
	return system(cmd) == 0 ? 0 : -1;
}

#define NEED_GO()                                                                                  \
	do {                                                                                       \
		if (!have_go)                                                                      \
			skip();                                                                    \
	} while (0)

/* ---- the real go command ------------------------------------------------------- */

static void test_download_version(void **state)
{
	struct direct_opts o = real_opts();
	struct fix f;
	struct got g;
	struct direct_result *r;
	char *info, *mod, *zip;
	size_t zip_len;
	json_t *j;

	(void)state;
	NEED_GO();
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_INFO, MODULE, "v1.0.0", &g);
	if (r->status != DIRECT_OK)
		fail_msg("download failed: %s", r->error);
	assert_int_equal(direct_status_http(r->status), 200);
	assert_string_equal(r->error, "");
	assert_string_equal(r->module, MODULE);
	assert_string_equal(r->query, "v1.0.0");
	assert_string_equal(r->version, "v1.0.0");
	assert_string_equal(r->sum, ref_sum);
	assert_string_equal(r->gomod_sum, ref_gomod_sum);
	assert_ptr_equal(r->body, &r->info);
	/* all three files, inside the request folder */
	assert_true(strncmp(r->info.path, tmp_root, strlen(tmp_root)) == 0);
	assert_true(strncmp(r->zip.path, tmp_root, strlen(tmp_root)) == 0);
	info = read_file(&r->info, NULL);
	j = json_loads(info, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "Version")), "v1.0.0");
	assert_non_null(json_string_value(json_object_get(j, "Time")));
	json_decref(j);
	mod = read_file(&r->mod, NULL);
	assert_string_equal(mod, "module " MODULE "\n\ngo 1.21\n");
	zip = read_file(&r->zip, &zip_len);
	assert_int_equal(zip_len, ref_zip_len);
	assert_memory_equal(zip, ref_zip, zip_len);
	assert_int_equal(r->made.fd, -1);
	free(info);
	free(mod);
	free(zip);
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

static void test_download_query_is_pseudo_version(void **state)
{
	struct direct_opts o = real_opts();
	struct fix f;
	struct got g;
	struct direct_result *r;
	char suffix[32];

	(void)state;
	NEED_GO();
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_ZIP, MODULE, "master", &g);
	if (r->status != DIRECT_OK)
		fail_msg("download failed: %s", r->error);
	assert_string_equal(r->query, "master");
	/* v1.1.1-0.<14-digit time>-<12 hex of the commit> */
	assert_true(strncmp(r->version, "v1.1.1-0.", 9) == 0);
	assert_int_equal(strlen(r->version), 9 + 14 + 1 + 12);
	snprintf(suffix, sizeof(suffix), "-%.12s", master_hash);
	assert_string_equal(r->version + strlen(r->version) - 13, suffix);
	assert_ptr_equal(r->body, &r->zip);
	assert_true(r->zip.size > 0);
	assert_true(strncmp(r->sum, "h1:", 3) == 0);
	assert_true(r->info.fd >= 0 && r->mod.fd >= 0);
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

static void test_list(void **state)
{
	struct direct_opts o = real_opts();
	struct fix f;
	struct got g;
	struct direct_result *r;
	char *body;

	(void)state;
	NEED_GO();
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_LIST, MODULE, NULL, &g);
	if (r->status != DIRECT_OK)
		fail_msg("list failed: %s", r->error);
	assert_ptr_equal(r->body, &r->made);
	assert_null(r->version);
	assert_null(r->sum);
	assert_string_equal(r->query, "");
	body = read_file(&r->made, NULL);
	assert_string_equal(body, "v1.0.0\nv1.1.0\n");
	assert_int_equal(r->made.size, 14);
	free(body);
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

static void test_latest(void **state)
{
	struct direct_opts o = real_opts();
	struct fix f;
	struct got g;
	struct direct_result *r;
	char *body;
	json_t *j;

	(void)state;
	NEED_GO();
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_LATEST, MODULE, NULL, &g);
	if (r->status != DIRECT_OK)
		fail_msg("latest failed: %s", r->error);
	assert_string_equal(r->version, "v1.1.0");
	body = read_file(r->body, NULL);
	assert_true(strncmp(body, "{\"Version\":\"v1.1.0\",\"Time\":\"", 28) == 0);
	assert_string_equal(body + strlen(body) - 2, "\"}");
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 2);
	json_decref(j);
	free(body);
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

static void assert_clean_line(const char *s)
{
	const char *p;

	assert_true(strlen(s) > 0 && strlen(s) <= DIRECT_ERR_MAX);
	for (p = s; *p; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	assert_null(strstr(s, root)); /* no server paths */
}

static void test_not_found(void **state)
{
	struct direct_opts o = real_opts();
	struct fix f;
	struct got g;
	struct direct_result *r;

	(void)state;
	NEED_GO();
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_INFO, MODULE, "v9.9.9", &g);
	assert_int_equal(r->status, DIRECT_NOT_FOUND);
	assert_int_equal(direct_status_http(r->status), 404);
	assert_non_null(strstr(r->error, "unknown revision v9.9.9"));
	assert_clean_line(r->error);
	assert_null(r->body);
	assert_int_equal(r->zip.fd, -1);
	direct_result_release(r);

	r = fetch_wait(&f, DIRECT_LIST, "example.test/nope.git", NULL, &g);
	assert_int_equal(r->status, DIRECT_NOT_FOUND);
	assert_clean_line(r->error);
	direct_result_release(r);

	r = fetch_wait(&f, DIRECT_LATEST, "example.test/nope.git", NULL, &g);
	assert_int_equal(r->status, DIRECT_NOT_FOUND);
	assert_non_null(strstr(r->error, "example.test/nope.git@latest"));
	assert_clean_line(r->error);
	direct_result_release(r);
	fix_stop(&f);
}

static void test_real_go_deadline(void **state)
{
	struct direct_opts o = real_opts();
	struct fix f;
	struct got g;
	struct direct_result *r;

	(void)state;
	NEED_GO();
	o.timeout_ms = 1;
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_ZIP, MODULE, "v1.1.0", &g);
	assert_int_equal(r->status, DIRECT_TIMEOUT);
	assert_int_equal(direct_status_http(r->status), 504);
	assert_non_null(strstr(r->error, "1 ms deadline"));
	assert_true(r->elapsed_ms < 2000);
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

/* ---- fake go binaries -------------------------------------------------------------- */

static void test_deadline_kills_process_group(void **state)
{
	char script[1024];
	struct direct_opts o;
	struct fix f;
	struct got g;
	struct direct_result *r;
	long t0;

	(void)state;
	snprintf(script, sizeof(script),
	         "echo $$ > '%s/dl.pid'\n"
	         "sleep 30 &\n"
	         "echo $! > '%s/dl-child.pid'\n"
	         "wait\n",
	         root, root);
	o = fake_opts(fake_go("go-sleep", script));
	o.timeout_ms = 300;
	fix_start(&f, &o);
	t0 = now_ms();
	r = fetch_wait(&f, DIRECT_MOD, "example.test/slow", "v1.0.0", &g);
	assert_int_equal(r->status, DIRECT_TIMEOUT);
	assert_non_null(strstr(r->error, "300 ms deadline"));
	assert_true(now_ms() - t0 < 3000);
	assert_true(r->elapsed_ms >= 250); /* libevent's cached time may fire it a little early */
	/* the go command and what it started, both gone */
	wait_dead(read_pid("dl.pid"));
	wait_dead(read_pid("dl-child.pid"));
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

static void test_stdout_bound(void **state)
{
	struct direct_opts o = fake_opts(fake_go("go-yes", "exec yes modgate\n"));
	struct fix f;
	struct got g;
	struct direct_result *r;

	(void)state;
	o.max_stdout = 65536;
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_LIST, "example.test/chatty", NULL, &g);
	assert_int_equal(r->status, DIRECT_FAILED);
	assert_int_equal(direct_status_http(r->status), 502);
	assert_string_equal(r->error,
	                    "direct: the go command wrote more than 65536 bytes to stdout "
	                    "and was killed");
	assert_true(r->elapsed_ms < 3000);
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

static void test_stderr_bound(void **state)
{
	struct direct_opts o = fake_opts(fake_go("go-yes-err", "exec yes modgate >&2\n"));
	struct fix f;
	struct got g;
	struct direct_result *r;

	(void)state;
	o.max_stderr = 4096;
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_ZIP, "example.test/chatty", "v1.0.0", &g);
	assert_int_equal(r->status, DIRECT_FAILED);
	assert_non_null(strstr(r->error, "more than 4096 bytes to stderr"));
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

/* 5 requests, 2 children at a time: never more than 2 at once, started in
 * the order asked. The script logs start and end lines (appends are atomic). */
static void test_concurrency_limit(void **state)
{
	char script[1024], path[400], *log, *line, *save;
	struct direct_opts o;
	struct fix f;
	struct got g[5];
	char mod[5][32];
	int i, cur = 0, max = 0, starts = 0;
	long t0;

	(void)state;
	snprintf(script, sizeof(script),
	         "echo \"start $6\" >> '%s/conc.log'\n"
	         "sleep 0.3\n"
	         "echo \"end $6\" >> '%s/conc.log'\n"
	         "printf '{\"Path\":\"%%s\",\"Versions\":[]}' \"$6\"\n",
	         root, root);
	o = fake_opts(fake_go("go-conc", script));
	o.max_children = 2;
	fix_start(&f, &o);
	t0 = now_ms();
	memset(g, 0, sizeof(g));
	for (i = 0; i < 5; i++) {
		snprintf(mod[i], sizeof(mod[i]), "example.test/m%d", i);
		assert_non_null(direct_fetch(f.d, DIRECT_LIST, mod[i], NULL, on_done, &g[i]));
	}
	assert_int_equal(direct_queued(f.d), 5);
	event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(direct_running(f.d), 2);
	assert_int_equal(direct_queued(f.d), 3);
	for (i = 0; i < 5; i++)
		run_until(&f, got_done, &g[i], 10000);
	assert_true(now_ms() - t0 >= 800); /* three rounds of 0.3 s */
	for (i = 0; i < 5; i++) {
		assert_int_equal(g[i].r->status, DIRECT_OK);
		assert_int_equal(g[i].r->made.size, 0); /* no versions: an empty list */
		direct_result_release(g[i].r);
	}
	snprintf(path, sizeof(path), "%s/conc.log", root);
	log = read_path(path, NULL);
	assert_non_null(log);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "start ", 6) == 0) {
			int k = -1;

			/* In the order asked, but two children started together may
			 * write their lines either way round. */
			for (i = 0; i < 5; i++)
				if (strcmp(line + 6, mod[i]) == 0)
					k = i;
			assert_true(k >= 0);
			assert_in_range(k, starts > 0 ? starts - 1 : 0, starts + 1);
			starts++;
			cur++;
		} else {
			cur--;
		}
		if (cur > max)
			max = cur;
	}
	assert_int_equal(starts, 5);
	assert_int_equal(max, 2);
	free(log);
	fix_stop(&f);
}

static void on_done_never(void *arg, struct direct_result *r)
{
	(void)arg;
	(void)r;
	fail_msg("done ran for a cancelled request");
}

static void test_cancel(void **state)
{
	char script[512], path[400];
	struct direct_opts o;
	struct direct_req *a, *b;
	struct fix f;
	pid_t pid;

	(void)state;
	snprintf(script, sizeof(script), "echo $$ > '%s/cancel.pid'\nexec sleep 30\n", root);
	o = fake_opts(fake_go("go-cancel", script));
	o.max_children = 1;
	fix_start(&f, &o);
	a = direct_fetch(f.d, DIRECT_ZIP, "example.test/a", "v1.0.0", on_done_never, NULL);
	b = direct_fetch(f.d, DIRECT_ZIP, "example.test/b", "v1.0.0", on_done_never, NULL);
	assert_non_null(a);
	assert_non_null(b);
	event_base_loop(f.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	assert_int_equal(direct_running(f.d), 1);
	assert_int_equal(direct_queued(f.d), 1);
	direct_cancel(b); /* queued: simply dropped */
	assert_int_equal(direct_queued(f.d), 0);
	/* wait until the script is running, then cancel it */
	snprintf(path, sizeof(path), "%s/cancel.pid", root);
	while (access(path, F_OK) != 0)
		event_base_loop(f.base, EVLOOP_ONCE);
	usleep(50000);
	pid = read_pid("cancel.pid");
	direct_cancel(a);
	run_until(&f, no_children, &f, 3000);
	wait_dead(pid);
	fix_stop(&f);
}

/* What the child sees: argv, cwd, session, signals, descriptors, and an
 * environment built from scratch. */
static void test_child_environment(void **state)
{
	char script[2048], path[400], home[600], want[700], *dump;
	struct direct_opts o;
	struct fix f;
	struct got g;
	struct direct_result *r;
	char *body, *p, *goflags = getenv("GOFLAGS") ? strdup(getenv("GOFLAGS")) : NULL;
	int leak_fd, pid, pgrp, sid;
	unsigned long long ign;

	(void)state;
	leak_fd = open("/dev/null", O_RDONLY); /* without O_CLOEXEC on purpose */
	assert_true(leak_fd >= 3);
	snprintf(script, sizeof(script),
	         "out='%s/env.dump'\n"
	         /* builtins only, before the shell forks (it blocks signals while waiting) */
	         "while read -r k v; do case $k in SigIgn:|SigBlk:) echo \"$k $v\";; esac; "
	         "done < /proc/$$/status > \"$out.sig\"\n"
	         "{ echo \"ARGS $*\"; echo \"PWD $(pwd)\"; env | sed 's/^/ENV /';\n"
	         "  cat \"$out.sig\"; echo \"STAT $(cat /proc/$$/stat)\";\n"
	         "  [ -e /proc/$$/fd/%d ] && echo LEAK; } > \"$out\"\n"
	         "printf '{\"Path\":\"example.test/env\",\"Version\":\"v0.1.0\","
	         "\"Time\":\"2020-01-01T00:00:00Z\"}'\n",
	         root, leak_fd);
	o = fake_opts(fake_go("go-env", script));
	xsetenv("MODGATE_TEST_SECRET", "hunter2");
	xsetenv("GIT_DIR", "/nonexistent");
	xsetenv("GIT_CONFIG_GLOBAL", "/etc/modgate-test-gitconfig");
	xsetenv("GOFLAGS", "-buildvcs=false -mod=vendor -modfile=/etc/x.mod");
	fix_start(&f, &o); /* the environment is read here */
	unsetenv("MODGATE_TEST_SECRET");
	unsetenv("GIT_DIR");
	unsetenv("GIT_CONFIG_GLOBAL");
	if (goflags)
		xsetenv("GOFLAGS", goflags);
	else
		unsetenv("GOFLAGS");
	free(goflags);
	r = fetch_wait(&f, DIRECT_LATEST, "example.test/env", NULL, &g);
	close(leak_fd);
	if (r->status != DIRECT_OK)
		fail_msg("latest failed: %s", r->error);
	assert_string_equal(r->version, "v0.1.0");
	body = read_file(r->body, NULL);
	assert_string_equal(body, "{\"Version\":\"v0.1.0\",\"Time\":\"2020-01-01T00:00:00Z\"}");
	free(body);

	snprintf(path, sizeof(path), "%s/env.dump", root);
	dump = read_path(path, NULL);
	assert_non_null(dump);
	assert_non_null(strstr(dump, "ARGS list -m -json example.test/env@latest\n"));
	p = strstr(dump, "\nENV HOME=");
	assert_non_null(p);
	snprintf(home, sizeof(home), "%.*s", (int)strcspn(p + 10, "\n"), p + 10);
	assert_true(strncmp(home, tmp_root, strlen(tmp_root)) == 0);
	snprintf(want, sizeof(want), "PWD %s\n", home);
	assert_non_null(strstr(dump, want));
	snprintf(want, sizeof(want), "\nENV GOMODCACHE=%s/gopath/pkg/mod\n", home);
	assert_non_null(strstr(dump, want));
	snprintf(want, sizeof(want), "\nENV GOPATH=%s/gopath\n", home);
	assert_non_null(strstr(dump, want));
	snprintf(want, sizeof(want), "\nENV GOCACHE=%s/cache\n", home);
	assert_non_null(strstr(dump, want));
	snprintf(want, sizeof(want), "\nENV TMPDIR=%s/tmp\n", home);
	assert_non_null(strstr(dump, want));
	assert_non_null(strstr(dump, "\nENV GOPROXY=direct\n"));
	assert_non_null(strstr(dump, "\nENV GOTOOLCHAIN=local\n"));
	assert_non_null(strstr(dump, "\nENV GIT_TERMINAL_PROMPT=0\n"));
	assert_non_null(strstr(dump, "\nENV GOFLAGS=-buildvcs=false -mod=mod -modcacherw\n"));
	assert_non_null(strstr(dump, "\nENV GIT_CONFIG_GLOBAL=/etc/modgate-test-gitconfig\n"));
	assert_non_null(strstr(dump, "\nENV PATH="));
	if (have_go) {
		assert_non_null(strstr(dump, "\nENV GOPRIVATE=example.test\n"));
		assert_non_null(strstr(dump, "\nENV GOINSECURE=example.test\n"));
		assert_non_null(strstr(dump, "\nENV GIT_CONFIG_COUNT=2\n"));
	}
	assert_null(strstr(dump, "hunter2"));
	assert_null(strstr(dump, "GIT_DIR"));
	assert_null(strstr(dump, "GOPROXY=off"));
	assert_null(strstr(dump, "LEAK"));
	/* Signal dispositions back to default (the test ignores SIGPIPE, as
	 * modgate does), none blocked. glibc's posix_spawn leaves its own two
	 * internal real-time signals (32, 33) ignored: only 1..31 are ours. */
	p = strstr(dump, "\nSigIgn: ");
	assert_non_null(p);
	ign = strtoull(p + 9, NULL, 16);
	assert_int_equal(ign & 0x7fffffffULL, 0);
	assert_non_null(strstr(dump, "\nSigBlk: 0000000000000000\n"));
	/* its own session and process group */
	p = strstr(dump, "STAT ");
	assert_non_null(p);
	pid = atoi(p + 5);
	p = strrchr(p, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %d %d", &pgrp, &sid), 2);
	assert_int_equal(pgrp, pid);
	assert_int_equal(sid, pid);
	free(dump);
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

/* One fake go that fails in the ways the go command does, chosen by the
 * module@version argument ($4). */
static const char fail_script[] =
    "case \"$4\" in\n"
    "example.test/nf@*) printf 'go: downloading example.test/nf v1.0.0\\n"
    "go: example.test/nf@v1.0.0: reading https://bob:hunter2@example.test/nf/@v/v1.0.0.info: "
    "404 Not Found\\n\\tserver response: not found\\001\\033[31m\\n' >&2; exit 1;;\n"
    "example.test/net@*) echo 'go: example.test/net@v1.0.0: unrecognized import path "
    "\"example.test/net\": https fetch: dial tcp 10.0.0.1:443: i/o timeout' >&2; exit 1;;\n"
    "example.test/quiet@*) exit 3;;\n"
    "example.test/json@*) printf "
    "'{\"Path\":\"example.test/json\",\"Error\":\"example.test/json@v1: "
    "git ls-remote -q origin in %s/gopath/pkg/mod/cache/vcs/abc: exit status 128:\\\\n\\\\tfatal: "
    "unknown revision\"}' \"$HOME\"; exit 1;;\n"
    "example.test/long@*) for i in 1 2 3 4 5 6 7 8 9 10; do printf 'go: "
    "ééééééééééééééééééééééééééééééééééééééééééééééééééé'; done >&2; exit 1;;\n"
    "example.test/garbage@*) echo 'not json'; exit 0;;\n"
    "example.test/outside@*) printf '{\"Path\":\"example.test/outside\",\"Version\":\"v1.0.0\","
    "\"Info\":\"/etc/passwd\",\"GoMod\":\"/etc/passwd\",\"Zip\":\"/etc/passwd\",\"Sum\":\"h1:x\","
    "\"GoModSum\":\"h1:y\"}'; exit 0;;\n"
    "example.test/other@*) printf '{\"Path\":\"example.test/else\",\"Version\":\"v1.0.0\"}'; "
    "exit 0;;\n"
    "esac\n"
    "exit 9\n";

static struct direct_result *fail_fetch(struct fix *f, const char *module, struct got *g)
{
	return fetch_wait(f, DIRECT_INFO, module, "v1.0.0", g);
}

static void test_failure_lines(void **state)
{
	struct direct_opts o = fake_opts(fake_go("go-fail", fail_script));
	struct fix f;
	struct got g;
	struct direct_result *r;

	(void)state;
	fix_start(&f, &o);

	r = fail_fetch(&f, "example.test/nf", &g);
	assert_int_equal(r->status, DIRECT_NOT_FOUND);
	/* from the last "go: " line on, one line, no credentials, no control bytes */
	assert_string_equal(r->error, "go: example.test/nf@v1.0.0: reading "
	                              "https://***@example.test/nf/@v/v1.0.0.info: 404 Not Found "
	                              "server response: not found [31m");
	assert_clean_line(r->error);
	direct_result_release(r);

	r = fail_fetch(&f, "example.test/net", &g);
	assert_int_equal(r->status, DIRECT_FAILED); /* an outage, not an answer */
	assert_non_null(strstr(r->error, "i/o timeout"));
	direct_result_release(r);

	r = fail_fetch(&f, "example.test/quiet", &g);
	assert_int_equal(r->status, DIRECT_FAILED);
	assert_string_equal(r->error, "direct: the go command exited with status 3");
	direct_result_release(r);

	r = fail_fetch(&f, "example.test/json", &g);
	assert_int_equal(r->status, DIRECT_NOT_FOUND);
	assert_string_equal(r->error, "example.test/json@v1: git ls-remote -q origin in "
	                              "$WORK/gopath/pkg/mod/cache/vcs/abc: exit status 128: fatal: "
	                              "unknown revision");
	assert_clean_line(r->error);
	direct_result_release(r);

	r = fail_fetch(&f, "example.test/long", &g);
	assert_int_equal(r->status, DIRECT_FAILED);
	assert_true(strlen(r->error) <= DIRECT_ERR_MAX);
	assert_true(strlen(r->error) > DIRECT_ERR_MAX - 8);
	assert_string_equal(r->error + strlen(r->error) - strlen("é..."), "é...");
	direct_result_release(r);

	r = fail_fetch(&f, "example.test/garbage", &g);
	assert_int_equal(r->status, DIRECT_FAILED);
	assert_string_equal(r->error,
	                    "direct: the go command exited with status 0 but printed no answer");
	direct_result_release(r);

	r = fail_fetch(&f, "example.test/outside", &g);
	assert_int_equal(r->status, DIRECT_FAILED);
	assert_string_equal(r->error, "direct: cannot open the files the go command downloaded");
	assert_int_equal(r->info.fd, -1);
	direct_result_release(r);

	r = fail_fetch(&f, "example.test/other", &g);
	assert_int_equal(r->status, DIRECT_FAILED);
	assert_string_equal(r->error, "direct: the go command answered for another module");
	direct_result_release(r);
	fix_stop(&f);
}

/* The go command exits but something it started holds the pipes: in its
 * process group it dies with it; outside (a new session) the pipes are
 * closed after a grace period. */
static void test_grandchild_holds_pipe(void **state)
{
	char script[1024];
	struct direct_opts o;
	struct fix f;
	struct got g;
	struct direct_result *r;
	pid_t escaped;
	long t0;

	(void)state;
	snprintf(script, sizeof(script),
	         "case \"$6\" in\n"
	         "example.test/group) sleep 30 & echo $! > '%s/gc.pid';;\n"
	         "*) setsid sh -c 'echo $$ > %s/esc.pid; exec sleep 30' & "
	         "while [ ! -s '%s/esc.pid' ]; do sleep 0.01; done;;\n"
	         "esac\n"
	         "printf '{\"Path\":\"%%s\",\"Versions\":[\"v1.0.0\"]}' \"$6\"\n",
	         root, root, root);
	o = fake_opts(fake_go("go-gc", script));
	fix_start(&f, &o);

	t0 = now_ms();
	r = fetch_wait(&f, DIRECT_LIST, "example.test/group", NULL, &g);
	assert_int_equal(r->status, DIRECT_OK);
	assert_true(now_ms() - t0 < 900);
	wait_dead(read_pid("gc.pid"));
	direct_result_release(r);

	t0 = now_ms();
	r = fetch_wait(&f, DIRECT_LIST, "example.test/escaped", NULL, &g);
	escaped = read_pid("esc.pid");
	assert_int_equal(r->status, DIRECT_OK);
	assert_true(now_ms() - t0 >= 900);
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(r->made.size, 7);
	kill(escaped, SIGKILL);
	direct_result_release(r);
	fix_stop(&f);
}

/* The go command leaves module folders read-only (without -modcacherw):
 * the removal must still empty the request folder. Only meaningful when
 * not run as root, which may unlink anything anyway. */
static void test_removes_read_only_tree(void **state)
{
	struct direct_opts o =
	    fake_opts(fake_go("go-ro", "mkdir -p \"$HOME/gopath/pkg/mod/m@v1/a/b\"\n"
	                               "echo x > \"$HOME/gopath/pkg/mod/m@v1/a/b/f.go\"\n"
	                               "chmod -R a-w \"$HOME/gopath/pkg/mod\"\n"
	                               "printf '{\"Path\":\"%s\",\"Versions\":[]}' \"$6\"\n"));
	struct fix f;
	struct got g;
	struct direct_result *r;

	(void)state;
	fix_start(&f, &o);
	r = fetch_wait(&f, DIRECT_LIST, "example.test/ro", NULL, &g);
	assert_int_equal(r->status, DIRECT_OK);
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

static void test_free_kills_running(void **state)
{
	char script[512], path[400];
	struct direct_opts o;
	struct fix f;
	pid_t pid;

	(void)state;
	snprintf(script, sizeof(script), "echo $$ > '%s/free.pid'\nexec sleep 30\n", root);
	o = fake_opts(fake_go("go-free", script));
	fix_start(&f, &o);
	assert_non_null(direct_fetch(f.d, DIRECT_ZIP, "example.test/a", "v1", on_done_never, NULL));
	assert_non_null(direct_fetch(f.d, DIRECT_ZIP, "example.test/b", "v1", on_done_never, NULL));
	snprintf(path, sizeof(path), "%s/free.pid", root);
	while (access(path, F_OK) != 0)
		event_base_loop(f.base, EVLOOP_ONCE);
	usleep(50000);
	pid = read_pid("free.pid");
	direct_free(f.d);
	f.d = NULL;
	assert_true(process_dead(pid));
	fix_stop(&f); /* removals run when the pool stops */
}

static void test_spawn_failure(void **state)
{
	struct direct_opts o = fake_opts(fake_go("go-gone", "exit 0\n"));
	struct fix f;
	struct got g;
	struct direct_result *r;

	(void)state;
	fix_start(&f, &o);
	assert_int_equal(unlink(o.go_binary), 0);
	r = fetch_wait(&f, DIRECT_ZIP, "example.test/a", "v1.0.0", &g);
	assert_int_equal(r->status, DIRECT_FAILED);
	assert_non_null(strstr(r->error, "cannot run"));
	assert_non_null(strstr(r->error, "No such file or directory"));
	release_and_check_removed(&f, r);
	fix_stop(&f);
}

static void test_new_refuses(void **state)
{
	struct event_base *base = event_base_new();
	struct direct_opts o = fake_opts("/nonexistent/go");
	char err[512], dir[400];

	(void)state;
	assert_null(direct_new(base, &o, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "no go binary found"));

	o.go_binary = "modgate-no-such-go";
	assert_null(direct_new(base, &o, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "in PATH"));

	/* a temp folder inside a Go module would make the go command use it */
	sh("mkdir -p '%s/inmod/sub' && echo 'module x' > '%s/inmod/go.mod'", root, root);
	snprintf(dir, sizeof(dir), "%s/inmod/sub", root);
	o = fake_opts(fake_go("go-ok", "exit 0\n"));
	o.tmp_root = dir;
	assert_null(direct_new(base, &o, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "inside the Go module"));

	o.tmp_root = "/nonexistent/tmp";
	assert_null(direct_new(base, &o, NULL, err, sizeof(err)));

	o = fake_opts(fake_go("go-ok", "exit 0\n"));
	o.max_children = 1000;
	assert_null(direct_new(base, &o, NULL, err, sizeof(err)));
	event_base_free(base);
}

static void test_fetch_rejects_arguments(void **state)
{
	struct direct_opts o = fake_opts(fake_go("go-ok", "exit 0\n"));
	struct fix f;
	struct got g;

	(void)state;
	fix_start(&f, &o);
	assert_null(direct_fetch(f.d, DIRECT_ZIP, "-modfile=/x", "v1.0.0", on_done, &g));
	assert_null(direct_fetch(f.d, DIRECT_ZIP, "example.test/a", "-x", on_done, &g));
	assert_null(direct_fetch(f.d, DIRECT_ZIP, "example.test/a", "", on_done, &g));
	assert_null(direct_fetch(f.d, DIRECT_ZIP, "example.test/a", NULL, on_done, &g));
	assert_null(direct_fetch(f.d, DIRECT_ZIP, "example.test/a@v1", "v1.0.0", on_done, &g));
	assert_null(direct_fetch(f.d, DIRECT_ZIP, "example.test/a", "v1 v2", on_done, &g));
	assert_null(direct_fetch(f.d, DIRECT_ZIP, "example.test/a", "v1\n", on_done, &g));
	assert_null(direct_fetch(f.d, DIRECT_LIST, "", NULL, on_done, &g));
	assert_null(direct_fetch(f.d, (enum direct_kind)42, "example.test/a", "v1", on_done, &g));
	assert_int_equal(direct_queued(f.d), 0);
	fix_stop(&f);
}

/* ---- pure helpers ------------------------------------------------------------------- */

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(direct_classify("go: m@v9: invalid version: unknown revision v9"),
	                 DIRECT_NOT_FOUND);
	assert_int_equal(direct_classify("go: module m: no matching versions for query \"v2\""),
	                 DIRECT_NOT_FOUND);
	assert_int_equal(direct_classify("fatal: remote error: Repository not found."),
	                 DIRECT_NOT_FOUND);
	assert_int_equal(direct_classify("go: no protocol found for repository"), DIRECT_NOT_FOUND);
	assert_int_equal(direct_classify("fatal: could not read Username for 'https://h': terminal "
	                                 "prompts disabled"),
	                 DIRECT_NOT_FOUND);
	assert_int_equal(direct_classify("unrecognized import path \"x.invalid/m\": https fetch: "
	                                 "dial tcp: lookup x.invalid: no such host"),
	                 DIRECT_NOT_FOUND);
	assert_int_equal(direct_classify("unrecognized import path \"h/m\": https fetch: dial tcp "
	                                 "1.2.3.4:443: connect: connection refused"),
	                 DIRECT_FAILED);
	assert_int_equal(direct_classify("fatal: unable to access 'https://h/': Could not resolve "
	                                 "host: h"),
	                 DIRECT_FAILED);
	assert_int_equal(direct_classify("TLS handshake timeout"), DIRECT_FAILED);
	assert_int_equal(direct_classify("verifying module: checksum mismatch"), DIRECT_FAILED);
	assert_int_equal(direct_classify(""), DIRECT_FAILED);
	assert_int_equal(direct_classify(NULL), DIRECT_FAILED);
	assert_int_equal(direct_status_http(DIRECT_OK), 200);
	assert_int_equal(direct_status_http(DIRECT_NOT_FOUND), 404);
	assert_int_equal(direct_status_http(DIRECT_FAILED), 502);
	assert_int_equal(direct_status_http(DIRECT_TIMEOUT), 504);
	assert_string_equal(direct_kind_str(DIRECT_LATEST), "latest");
}

static void test_clean_message(void **state)
{
	char buf[DIRECT_ERR_MAX + 1], small[12], big[1000];

	(void)state;
	direct_clean_message(buf, sizeof(buf), "  a\tb\r\n\n\x01 c\x7f ", NULL);
	assert_string_equal(buf, "a b c");
	direct_clean_message(buf, sizeof(buf),
	                     "get https://u:p@h/x and ssh://git@h/y, http://h/z@w", NULL);
	assert_string_equal(buf, "get https://***@h/x and ssh://***@h/y, http://h/z@w");
	direct_clean_message(buf, sizeof(buf), "in /tmp/w/x/gopath: /tmp/w/x", "/tmp/w/x");
	assert_string_equal(buf, "in $WORK/gopath: $WORK");
	direct_clean_message(small, sizeof(small), "0123456789abcdef", NULL);
	assert_string_equal(small, "01234567...");
	direct_clean_message(small, sizeof(small), "0123456789a", NULL);
	assert_string_equal(small, "0123456789a");
	/* never half a UTF-8 sequence: "é" is 2 bytes */
	direct_clean_message(small, sizeof(small), "0123456é89abcdef", NULL);
	assert_string_equal(small, "0123456...");
	direct_clean_message(small, sizeof(small), "01234567        x", NULL);
	assert_string_equal(small, "01234567 x");
	direct_clean_message(small, sizeof(small), "0123456 89abcdef", NULL);
	assert_string_equal(small, "0123456...");
	direct_clean_message(small, sizeof(small), "0123456789a     ", NULL);
	assert_string_equal(small, "0123456789a");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	direct_clean_message(buf, sizeof(buf), big, NULL);
	assert_int_equal(strlen(buf), DIRECT_ERR_MAX);
	direct_clean_message(buf, sizeof(buf), NULL, NULL);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_classify, setup_test),
	    cmocka_unit_test_setup(test_clean_message, setup_test),
	    cmocka_unit_test_setup(test_new_refuses, setup_test),
	    cmocka_unit_test_setup(test_fetch_rejects_arguments, setup_test),
	    cmocka_unit_test_setup(test_download_version, setup_test),
	    cmocka_unit_test_setup(test_download_query_is_pseudo_version, setup_test),
	    cmocka_unit_test_setup(test_list, setup_test),
	    cmocka_unit_test_setup(test_latest, setup_test),
	    cmocka_unit_test_setup(test_not_found, setup_test),
	    cmocka_unit_test_setup(test_real_go_deadline, setup_test),
	    cmocka_unit_test_setup(test_deadline_kills_process_group, setup_test),
	    cmocka_unit_test_setup(test_stdout_bound, setup_test),
	    cmocka_unit_test_setup(test_stderr_bound, setup_test),
	    cmocka_unit_test_setup(test_concurrency_limit, setup_test),
	    cmocka_unit_test_setup(test_cancel, setup_test),
	    cmocka_unit_test_setup(test_child_environment, setup_test),
	    cmocka_unit_test_setup(test_failure_lines, setup_test),
	    cmocka_unit_test_setup(test_grandchild_holds_pipe, setup_test),
	    cmocka_unit_test_setup(test_removes_read_only_tree, setup_test),
	    cmocka_unit_test_setup(test_free_kills_running, setup_test),
	    cmocka_unit_test_setup(test_spawn_failure, setup_test),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
