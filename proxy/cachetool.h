/*
 * cachetool — the command line of the cache tools: `modgate snapshot NAME`,
 * `modgate snapshots`, `modgate restore NAME`, `modgate purge
 * MODULE[@VERSION]` (the work is in cache/snapshot.c), `modgate prune`
 * (cache/prune.c). Each is safe while a server runs on the same cache.
 * Runs on the calling thread; no event loop.
 */
#ifndef MODGATE_CACHETOOL_H
#define MODGATE_CACHETOOL_H

#include "proxy/config-t.h"

#include <stdio.h>

/* 1 when command names a cache tool. */
int cachetool_is_command(const char *command);

/* The --help text of a cache tool. */
void cachetool_usage(const char *command, FILE *out);

/* The options only some cache tools take; the command line's strings,
 * borrowed. Bad usage for any other tool. */
struct cachetool_opts {
	int json;             /* --json: snapshots */
	const char *unused;   /* --unused DURATION: prune */
	const char *max_size; /* --max-size SIZE: prune */
	int dry_run;          /* --dry-run: prune */
};

/* Runs command with its arguments (argv[0..argc): after the command name,
 * options removed) and its options o on the cache of cfg (all borrowed).
 * Results to stdout, progress to stderr when it is a terminal. The exit
 * status: 0, 1 when it failed (purge: or found nothing to do), 2 for bad
 * usage. */
int cachetool_run(const struct config *cfg, const char *command, int argc, char **argv,
                  const struct cachetool_opts *o);

#endif
