/*
 * cachetool — the command line of the cache tools: `modgate snapshot NAME`,
 * `modgate snapshots`, `modgate restore NAME`, `modgate purge
 * MODULE[@VERSION]` (the work is in cache/snapshot.c). Each is safe while a
 * server runs on the same cache. Runs on the calling thread; no event loop.
 */
#ifndef MODGATE_CACHETOOL_H
#define MODGATE_CACHETOOL_H

#include "proxy/config-t.h"

#include <stdio.h>

/* 1 when command names a cache tool. */
int cachetool_is_command(const char *command);

/* The --help text of a cache tool. */
void cachetool_usage(const char *command, FILE *out);

/* Runs command with its arguments (argv[0..argc): after the command name,
 * options removed) on the cache of cfg (borrowed); json (--json) asks
 * `snapshots` for JSON and is bad usage elsewhere. Results to stdout,
 * progress to stderr when it is a terminal. The exit status: 0, 1 when it
 * failed or found nothing to do, 2 for bad usage. */
int cachetool_run(const struct config *cfg, const char *command, int argc, char **argv, int json);

#endif
