/*
 * worker — thread pool whose results come back to the libevent loop.
 *
 * Jobs go into a queue guarded by a mutex and a condition variable; finished
 * jobs go into a second queue and the worker writes one byte into a pipe that
 * the loop watches. The pipe, not event_active() from another thread, keeps
 * libevent free of locking: the loop stays the only thread touching it.
 */
#include "proxy/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct worker_job {
	worker_run_fn run;
	worker_done_fn done;
	void *arg;
	struct worker_job *next;
};

struct job_queue {
	struct worker_job *head, *tail;
};

struct worker_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job_queue queued;
	struct job_queue done;
	int stopping;
	int nthreads;
	pthread_t threads[64];
	int wake[2]; /* workers write, the loop reads */
	struct event *wake_ev;
	int pending; /* loop thread only */
};

static void queue_push(struct job_queue *q, struct worker_job *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct worker_job *queue_pop(struct job_queue *q)
{
	struct worker_job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
	}
	return j;
}

static void *worker_main(void *arg)
{
	struct worker_pool *p = arg;
	struct worker_job *j;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->queued.head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		j = queue_pop(&p->queued);
		if (!j)
			break; /* stopping and drained */
		pthread_mutex_unlock(&p->lock);
		j->run(j->arg);
		pthread_mutex_lock(&p->lock);
		queue_push(&p->done, j);
		/* A full pipe already holds a wake-up; losing this byte is fine. */
		if (write(p->wake[1], "", 1) < 0 && errno != EAGAIN) {
			/* nothing better to do: the loop drains on the next byte */
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void drain_done(struct worker_pool *p)
{
	struct job_queue done;
	struct worker_job *j;

	pthread_mutex_lock(&p->lock);
	done = p->done;
	p->done.head = p->done.tail = NULL;
	pthread_mutex_unlock(&p->lock);
	while ((j = queue_pop(&done))) {
		p->pending--;
		j->done(j->arg);
		free(j);
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker_pool *p = arg;
	char buf[256];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	drain_done(p);
}

struct worker_pool *worker_pool_new(struct event_base *base, int nthreads)
{
	struct worker_pool *p;
	int i;

	if (nthreads < 1 || nthreads > 64)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) < 0)
		goto err_free;
	p->wake_ev = event_new(base, p->wake[0], EV_READ | EV_PERSIST, on_wake, p);
	if (!p->wake_ev || event_add(p->wake_ev, NULL) < 0)
		goto err_pipe;
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
			goto err_threads;
		p->nthreads++;
	}
	return p;

err_threads:
	worker_pool_free(p);
	return NULL;
err_pipe:
	if (p->wake_ev)
		event_free(p->wake_ev);
	close(p->wake[0]);
	close(p->wake[1]);
err_free:
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	return NULL;
}

int worker_submit(struct worker_pool *p, worker_run_fn run, worker_done_fn done, void *arg)
{
	struct worker_job *j = malloc(sizeof(*j));

	if (!j)
		return -1;
	j->run = run;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	queue_push(&p->queued, j);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	p->pending++;
	return 0;
}

int worker_pending(const struct worker_pool *p)
{
	return p->pending;
}

void worker_pool_free(struct worker_pool *p)
{
	int i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	drain_done(p);
	event_free(p->wake_ev);
	close(p->wake[0]);
	close(p->wake[1]);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
