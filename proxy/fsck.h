/*
 * fsck — `modgate fsck`: every committed .mod and .zip of the cache hashed
 * again and checked against the hash recorded when it was committed and
 * against the checksum database, exactly as a new download is checked
 * (proxy/verify.c); a file proven wrong is moved to the quarantine, where
 * a running server then misses it and fetches it again, verified.
 *
 * Safe beside a running server on the same cache: it reads, writes hash
 * records and renames into the quarantine, and reaches the database
 * through the same pools. Runs its own event loop on the calling thread.
 */
#ifndef MODGATE_FSCK_H
#define MODGATE_FSCK_H

#include "proxy/config-t.h"

/* Checks the cache of cfg (borrowed). Findings go to stdout one per line,
 * a summary at the end; progress to stderr when it is a terminal. 0 when
 * everything checked out, 1 when anything was quarantined or could not be
 * checked, 2 when fsck itself could not run. */
int fsck_run(const struct config *cfg);

/* `modgate hash FILE...`: prints the h1: hash of each file — a module zip
 * (by its magic bytes) or a go.mod — as go.sum and quarantine records
 * write it. 0, or 1 if any file could not be hashed. */
int fsck_hash(int argc, char **argv);

#endif
