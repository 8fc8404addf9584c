/*
 * worker — a small pool of threads for the blocking work the loop must never
 * do itself: fsync, rename, hashing.
 *
 * Ownership: the loop thread owns the pool and every job until it submits it;
 * from then the job belongs to one worker until its done callback runs, back
 * on the loop thread, which takes it back. Workers touch nothing but the job.
 */
#ifndef MODGATE_WORKER_H
#define MODGATE_WORKER_H

#include <event2/event.h>

struct worker_pool;

/* Runs on a worker thread; must touch only the job. */
typedef void (*worker_run_fn)(void *job);
/* Runs on the loop thread after run has returned; owns the job again. */
typedef void (*worker_done_fn)(void *job);

/* Starts nthreads (1..64) threads whose results come back on base.
 * Returns NULL on failure. Loop thread only. */
struct worker_pool *worker_pool_new(struct event_base *base, int nthreads);

/* Queues job: run(job) on a worker, then done(job) on the loop. The job is
 * borrowed by the pool until done runs. 0, or -1 if out of memory.
 * Loop thread only; safe from inside libcurl and libevhtp callbacks. */
int worker_submit(struct worker_pool *pool, worker_run_fn run, worker_done_fn done, void *job);

/* Number of jobs submitted whose done callback has not run yet. */
int worker_pending(const struct worker_pool *pool);

/* Runs every queued job to completion (their done callbacks included), stops
 * the threads and frees the pool. Loop thread only, not from a done callback. */
void worker_pool_free(struct worker_pool *pool);

#endif
