/*
 * cachetool — argument checks, progress and the printed results of the
 * cache tools.
 */
#include "proxy/cachetool.h"

#include "cache/prune.h"
#include "cache/snapshot.h"
#include "proxy/config.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A running server looks at its cache folder each second: a restore waits
 * this long before it merges what the server wrote meanwhile. */
#define RESTORE_SETTLE_MS 2000

struct progress {
	const char *tool;
	int tty;
	int shown;
	int64_t last_ms;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line, rewritten in place at most ten times a second. */
static void on_progress(void *arg, const char *phase, const struct cache_tool_stats *st)
{
	struct progress *p = arg;
	int64_t now = now_ms();

	if (!p->tty || now - p->last_ms < 100)
		return;
	p->last_ms = now;
	p->shown = 1;
	fprintf(stderr, "\r%s: %s %lu objects, %llu bytes\033[K", p->tool, phase, st->objects,
	        st->bytes);
	fflush(stderr);
}

static void progress_done(struct progress *p)
{
	if (p->shown)
		fprintf(stderr, "\r\033[K");
}

static void on_removed(void *arg, const char *rel)
{
	(void)arg;
	printf("removed %s\n", rel);
}

int cachetool_is_command(const char *command)
{
	return strcmp(command, "snapshot") == 0 || strcmp(command, "snapshots") == 0 ||
	       strcmp(command, "restore") == 0 || strcmp(command, "purge") == 0 ||
	       strcmp(command, "prune") == 0;
}

void cachetool_usage(const char *command, FILE *out)
{
	if (strcmp(command, "snapshot") == 0)
		fprintf(out, "usage: modgate snapshot [-c FILE] [--cache-dir DIR] NAME\n"
		             "\n"
		             "Takes an instant snapshot of the cache's GOPROXY tree as\n"
		             "<cache>/.snapshots/NAME: every object hard-linked, no bytes copied.\n"
		             "NAME: letters, digits, '.', '_', '-'; not starting with '.'; new.\n"
		             "Safe while a server runs on the cache.\n");
	else if (strcmp(command, "snapshots") == 0)
		fprintf(out,
		        "usage: modgate snapshots [-c FILE] [--cache-dir DIR] [--json]\n"
		        "\n"
		        "Lists the snapshots of the cache, oldest first: name, created (UTC),\n"
		        "objects, bytes. --json: one JSON array of {name, created, objects,\n"
		        "bytes} objects instead of the table.\n");
	else if (strcmp(command, "restore") == 0)
		fprintf(
		    out,
		    "usage: modgate restore [-c FILE] [--cache-dir DIR] NAME\n"
		    "\n"
		    "Makes snapshot NAME the live cache in one atomic exchange of folders. The\n"
		    "new tree is staged beside the cache (<parent>/.<cache>.restore-XXXXXX), so\n"
		    "the cache's parent folder must be writable and on the same file system.\n"
		    "Hash records (.sums), kept tree heads (.sumdb), the quarantine and the\n"
		    "snapshots carry over: they never roll back. The tree replaced becomes the\n"
		    "snapshot pre-restore-<UTC time>, so a restore can be undone. A running\n"
		    "server serves the restored tree within a second or two.\n");
	else if (strcmp(command, "prune") == 0)
		fprintf(
		    out,
		    "usage: modgate prune [-c FILE] [--cache-dir DIR] [--unused DURATION]\n"
		    "                     [--max-size SIZE] [--dry-run]\n"
		    "\n"
		    "Frees space by removing the module versions used least recently: a\n"
		    "version's .info, .mod and .zip together, a line for each. Last use is\n"
		    "the files' atime, never before their mtime (the fetch); with relatime\n"
		    "(Linux's default) a hit moves it at most once a day; on a noatime mount it\n"
		    "is the fetch. Never removed: @v/list, @latest, sumdb/, and the dot-folders\n"
		    "(.sums pins stay: a version fetched again must match them; .snapshots).\n"
		    "Folders left empty go. Safe while a server runs on the cache: the next\n"
		    "request for a version removed fetches and verifies it again.\n"
		    "\n"
		    "  -c, --config FILE      read [server] cache from this file\n"
		    "  -d, --cache-dir DIR    the cache folder, overriding [server] cache\n"
		    "      --unused DURATION  remove the versions not used for this long:\n"
		    "                         90d, 12h, 1d12h, 30m, or seconds\n"
		    "      --max-size SIZE    then remove more, oldest use first, until the\n"
		    "                         GOPROXY tree is at most SIZE: 500M, 50G, 1T\n"
		    "                         (powers of 1024), or bytes\n"
		    "      --dry-run          print what would go; remove nothing\n"
		    "At least one of --unused and --max-size. The summary counts bytes freed\n"
		    "(their last link went) apart from bytes still held by snapshots.\n"
		    "\n"
		    "Exit 0 done (also when nothing was old enough), 1 on any error, 2 usage.\n");
	else
		fprintf(out,
		        "usage: modgate purge [-c FILE] [--cache-dir DIR] MODULE[@VERSION]\n"
		        "\n"
		        "Removes a module's cached objects (every version, @v/list, @latest), or\n"
		        "one version's .info, .mod and .zip; the next request fetches them again.\n"
		        "The recorded hashes (.sums) stay: new bytes must match them. Prints each\n"
		        "object removed; exit 1 when nothing was cached.\n");
}

static int snapshot(const char *root, const char *name)
{
	struct progress p = {.tool = "snapshot", .tty = isatty(STDERR_FILENO)};
	struct cache_tool_stats st;
	char err[1024];
	int64_t t0 = now_ms();
	int rc = cache_snapshot_create(root, name, &st, on_progress, &p, err, sizeof(err));

	progress_done(&p);
	if (rc < 0) {
		fprintf(stderr, "modgate: %s\n", err);
		return 1;
	}
	printf("snapshot %s: %lu objects, %llu bytes, %lld ms\n", name, st.objects, st.bytes,
	       (long long)(now_ms() - t0));
	return 0;
}

/* The list as one JSON array, for scripts (jansson escapes what it must). */
static int snapshots_json(const struct cache_snapshot_info *list, int n)
{
	json_t *arr = json_array();
	char when[32];
	int i, rc = 0;

	for (i = 0; arr && i < n; i++) {
		struct tm tm;

		gmtime_r(&list[i].created, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I}", "name",
		                                         list[i].name, "created", when, "objects",
		                                         (json_int_t)list[i].objects, "bytes",
		                                         (json_int_t)list[i].bytes)) < 0)
			rc = -1;
	}
	if (!arr || rc < 0 || json_dumpf(arr, stdout, JSON_INDENT(2)) < 0) {
		fprintf(stderr, "modgate: snapshots: cannot write JSON\n");
		rc = -1;
	}
	putchar('\n');
	json_decref(arr);
	return rc;
}

static int snapshots(const char *root, int json)
{
	struct cache_snapshot_info *list;
	char err[1024], when[32];
	int i, rc = 0, n = cache_snapshot_list(root, &list, err, sizeof(err));

	if (n < 0) {
		fprintf(stderr, "modgate: %s\n", err);
		return 1;
	}
	if (json) {
		rc = snapshots_json(list, n) < 0 ? 1 : 0;
		free(list);
		return rc;
	}
	printf("%-36s %-20s %10s %14s\n", "NAME", "CREATED", "OBJECTS", "BYTES");
	for (i = 0; i < n; i++) {
		struct tm tm;

		gmtime_r(&list[i].created, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%-36s %-20s %10lu %14llu\n", list[i].name, when, list[i].objects,
		       list[i].bytes);
	}
	free(list);
	return rc;
}

static int restore(const char *root, const char *name)
{
	struct progress p = {.tool = "restore", .tty = isatty(STDERR_FILENO)};
	struct cache_tool_stats st;
	char err[1024], pre[CACHE_SNAPSHOT_NAME_MAX + 1] = "";
	int64_t t0 = now_ms();
	int rc = cache_snapshot_restore(root, name, RESTORE_SETTLE_MS, pre, sizeof(pre), &st,
	                                on_progress, &p, err, sizeof(err));

	progress_done(&p);
	if (rc < 0) {
		fprintf(stderr, "modgate: %s\n", err);
		return 1;
	}
	printf("restored %s: %lu objects, %llu bytes, %lld ms; the previous tree is snapshot %s\n",
	       name, st.objects, st.bytes, (long long)(now_ms() - t0), pre);
	return 0;
}

static int purge(const char *root, const char *arg)
{
	char module[2048], err[1024];
	const char *at = strchr(arg, '@');
	int n;

	if (strlen(arg) >= sizeof(module)) {
		fprintf(stderr, "modgate: purge: argument too long\n");
		return 2;
	}
	snprintf(module, sizeof(module), "%.*s", at ? (int)(at - arg) : (int)strlen(arg), arg);
	if (at && !at[1]) {
		fprintf(stderr, "modgate: purge: empty version in %s\n", arg);
		return 2;
	}
	n = cache_purge(root, module, at ? at + 1 : NULL, on_removed, NULL, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "modgate: purge %s: %s\n", arg, err);
		return 1;
	}
	if (n == 0) {
		printf("nothing cached for %s\n", arg);
		return 1;
	}
	printf("purged %s: %d objects (hash records in .sums kept)\n", arg, n);
	return 0;
}

/* Clears the progress line before a line of results; it comes back at
 * the next tick, still at most ten times a second. */
static void progress_clear(struct progress *p)
{
	if (p->shown) {
		fprintf(stderr, "\r\033[K");
		p->shown = 0;
	}
}

static void on_pruned(void *arg, const struct cache_prune_version *v, enum cache_prune_outcome what,
                      const char *error)
{
	char when[32], held[64] = "";
	struct tm tm;

	progress_clear(arg);
	gmtime_r(&v->last_use, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (v->held)
		snprintf(held, sizeof(held), ", %llu held by snapshots", v->held);
	switch (what) {
	case CACHE_PRUNE_REMOVED:
	case CACHE_PRUNE_WOULD:
		printf("%s %s (last used %s, %llu bytes%s)\n",
		       what == CACHE_PRUNE_REMOVED ? "removed" : "would remove", v->name, when,
		       v->bytes, held);
		break;
	case CACHE_PRUNE_BUSY:
		printf("kept %s: used while the prune ran\n", v->name);
		break;
	case CACHE_PRUNE_FAILED:
		fflush(stdout);
		fprintf(stderr, "modgate: prune: %s: %s\n", v->name, error);
		break;
	}
}

static int prune(const char *root, const struct cachetool_opts *t)
{
	struct progress p = {.tool = "prune", .tty = isatty(STDERR_FILENO)};
	struct cache_prune_opts o = {
	    .now = time(NULL), .unused_s = -1, .max_bytes = -1, .dry_run = t->dry_run};
	struct cache_prune_result r;
	unsigned long long size;
	long long ms;
	char err[1024];
	int64_t t0 = now_ms();
	int rc;

	if (!t->unused && !t->max_size) {
		fprintf(stderr,
		        "modgate: prune: give --unused DURATION, --max-size SIZE or both\n");
		cachetool_usage("prune", stderr);
		return 2;
	}
	if (t->unused) {
		if (config_parse_duration_ms(t->unused, 1, &ms, err, sizeof(err)) < 0) {
			fprintf(stderr, "modgate: prune: --unused: %s\n", err);
			return 2;
		}
		o.unused_s = ms / 1000;
	}
	if (t->max_size) {
		if (config_parse_size(t->max_size, &size, err, sizeof(err)) < 0) {
			fprintf(stderr, "modgate: prune: --max-size: %s\n", err);
			return 2;
		}
		o.max_bytes = (long long)size;
	}
	rc = cache_prune(root, &o, &r, on_pruned, &p, on_progress, &p, err, sizeof(err));
	progress_done(&p);
	if (rc < 0) {
		fprintf(stderr, "modgate: prune: %s\n", err);
		return 1;
	}
	printf("%s %lu version%s, %llu bytes freed, %llu bytes still held by snapshots; "
	       "the GOPROXY tree %s %llu bytes (was %llu), %lu version%s kept, %lld ms\n",
	       o.dry_run ? "would prune" : "pruned", r.versions, r.versions == 1 ? "" : "s",
	       r.freed, r.held, o.dry_run ? "would be" : "is now", r.tree_after, r.tree_before,
	       r.kept, r.kept == 1 ? "" : "s", (long long)(now_ms() - t0));
	if (o.max_bytes >= 0 && r.tree_after > (unsigned long long)o.max_bytes)
		printf("the tree stays above --max-size %s: what is left is %s@v/list, @latest "
		       "and sumdb/, which prune keeps\n",
		       t->max_size, r.busy ? "versions used meanwhile, " : "");
	if (r.failed) {
		fprintf(stderr, "modgate: prune: %lu versions could not be removed\n", r.failed);
		return 1;
	}
	return 0;
}

int cachetool_run(const struct config *cfg, const char *command, int argc, char **argv,
                  const struct cachetool_opts *o)
{
	int listing = strcmp(command, "snapshots") == 0, pruning = strcmp(command, "prune") == 0;

	if (argc != (listing || pruning ? 0 : 1) || (o->json && !listing) ||
	    ((o->unused || o->max_size || o->dry_run) && !pruning)) {
		cachetool_usage(command, stderr);
		return 2;
	}
	if (pruning)
		return prune(cfg->cache_dir, o);
	if (strcmp(command, "snapshot") == 0)
		return snapshot(cfg->cache_dir, argv[0]);
	if (listing)
		return snapshots(cfg->cache_dir, o->json);
	if (strcmp(command, "restore") == 0)
		return restore(cfg->cache_dir, argv[0]);
	return purge(cfg->cache_dir, argv[0]);
}
