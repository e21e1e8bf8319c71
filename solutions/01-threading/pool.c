/*
 * pool.c - the worker pool: one FIFO queue of futures, a few threads that
 * take from it, and the start and end of an executor's life.
 *
 * Exercise 01-pool; the lesson it needs and its hints:
 * `build/workbook hint 01-pool`.
 *
 * The queue and the counts beside it are guarded by ex->lock.  A worker
 * holds it only to take work off the queue; it runs tasks with the lock
 * released, so that submitters and the other workers are never kept
 * waiting by a task.  When many tasks wait, a worker takes a few at once
 * (its batch), so that each trip through the lock buys more work.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor_impl.h"
#include "log.h"

/*
 * A worker takes a quarter of its share of the queue (the queue divided
 * among the workers), at least one task and at most BATCH_MAX: enough to
 * make the lock's cost per task small when many tasks wait, few enough
 * that a task seldom waits long behind the ones taken with it.
 */
#define BATCH_SHARE_PART 4
#define BATCH_MAX 16

/*
 * The executor whose worker the calling thread is, or NULL.  It lets
 * executor_shutdown(wait) notice that it was called from one of the
 * executor's own tasks (it would wait for itself) without comparing thread
 * IDs, which the system may hand out again once a thread has been joined.
 */
static _Thread_local const struct executor *current_executor;

/* The queue's invariants, for assert(). */
static inline bool queue_ok(const struct executor *ex)
{
	return (ex->head == NULL) == (ex->tail == NULL) &&
	       (ex->head == NULL) == (ex->queued == 0) && (!ex->tail || !ex->tail->next);
}

/*
 * Append the chain @first..@last of @n futures to the queue.  The caller
 * holds ex->lock.
 */
static void queue_append(struct executor *ex, struct future *first, struct future *last, size_t n)
{
	assert(mutex_held(&ex->lock) && queue_ok(ex) && n > 0);
	if (ex->tail)
		ex->tail->next = first;
	else
		ex->head = first;
	ex->tail = last;
	ex->queued += n;
	assert(queue_ok(ex));
}

/*
 * Detach the oldest @n futures (1 <= @n <= ex->queued) as one chain.  The
 * caller holds ex->lock.
 */
static struct future *queue_detach(struct executor *ex, size_t n)
{
	struct future *first = ex->head, *last = first;

	assert(mutex_held(&ex->lock) && queue_ok(ex));
	assert(n >= 1 && n <= ex->queued);
	for (size_t i = 1; i < n; i++)
		last = last->next;
	ex->head = last->next;
	if (!ex->head)
		ex->tail = NULL;
	last->next = NULL;
	ex->queued -= n;
	assert(queue_ok(ex));
	return first;
}

/* Detach the whole queue, or NULL if it is empty.  Under ex->lock. */
static struct future *queue_take_all(struct executor *ex)
{
	return ex->queued ? queue_detach(ex, ex->queued) : NULL;
}

/*
 * Take the oldest future for worker @w to run now, or NULL if the queue is
 * empty.  When the queue is long, also move the next few into w->batch:
 * @w runs them after this one without coming back to ex->lock.  The caller
 * holds ex->lock; w->batch is empty (the worker ran it all first).
 */
static struct future *queue_take(struct executor *ex, struct worker *w)
{
	size_t n = ex->queued / (BATCH_SHARE_PART * (size_t)ex->nworkers);
	struct future *f;

	if (!ex->queued)
		return NULL;
	if (n < 1)
		n = 1;
	if (n > BATCH_MAX)
		n = BATCH_MAX;
	f = queue_detach(ex, n);
	if (f->next) {
		PT_CHECK(pthread_mutex_lock(&w->batch_lock));
		assert(!w->batch);
		w->batch = f->next;
		PT_CHECK(pthread_mutex_unlock(&w->batch_lock));
		f->next = NULL;
	}
	return f;
}

/* The next future of @w's batch, or NULL.  Needs no ex->lock. */
static struct future *batch_pop(struct worker *w)
{
	struct future *f;

	PT_CHECK(pthread_mutex_lock(&w->batch_lock));
	f = w->batch;
	if (f) {
		w->batch = f->next;
		f->next = NULL;
	}
	PT_CHECK(pthread_mutex_unlock(&w->batch_lock));
	return f;
}

/*
 * Run @f, then whatever is left of @w's batch, dropping the queue's
 * reference to each.  Called without ex->lock.
 */
static void run_taken(struct worker *w, struct future *f)
{
	do {
		future_run(f);
		future_unref(f);
	} while ((f = batch_pop(w)));
}

/*
 * Whether to send a sleeping worker to the queue: yes if work waits there
 * and a worker sleeps, unless one is on its way already (woken earlier, it
 * has not looked yet; when it takes a task it asks this again, for the
 * tasks left).  So workers wake one at a time and only while tasks wait,
 * and a submitter whose tasks are taken as fast as it queues them wakes
 * nobody.  Called under ex->lock; on true, ex->waking is set and the
 * caller signals work_cv once it has released the lock, so that the woken
 * worker does not wake up into a lock that is still held.
 */
static bool should_wake_worker(struct executor *ex)
{
	assert(mutex_held(&ex->lock));
	if (!ex->head || ex->idle == 0 || ex->waking)
		return false;
	ex->waking = true;
	return true;
}

/*
 * Give the calling worker its log name as its thread name too, so that a
 * debugger, `top -H` and the hang report of a timed-out check call it
 * "worker-2" as well.  The system keeps 15 bytes of a name; a longer one
 * is cut, and a name is a convenience, so its failure is ignored.
 */
static void name_thread(const struct executor *ex, const struct worker *w)
{
	char name[16];

	/* A name cut short is still a name; only a failed format is none. */
	if (snprintf(name, sizeof(name), "%s-%d", ex->name_prefix, w->id) < 0)
		return;
	(void)pthread_setname_np(pthread_self(), name);
}

/*
 * The worker loop.  Returns when the executor is shut down and the queue
 * is empty: a shutdown lets the queued tasks run unless they were
 * cancelled first.
 */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct executor *ex = w->ex;

	log_set_name("%s-%d", ex->name_prefix, w->id);
	name_thread(ex, w);
	current_executor = ex;

	/*
	 * TODO(01-pool): the worker loop.  Under ex->lock: while the queue is
	 * empty and the executor is not shut down, wait on ex->work_cv,
	 * counting yourself in ex->idle while you wait; once awake, clear
	 * ex->waking (whoever was sent for has arrived).  Then take work with
	 * queue_take(): NULL means the executor is shut down, so leave the
	 * loop.  Otherwise ask should_wake_worker() whether the tasks left
	 * need another worker, release the lock, signal ex->work_cv if so, run
	 * what you took with run_taken(), and go round again.
	 */
	/* >>> solution */
	PT_CHECK(pthread_mutex_lock(&ex->lock));
	for (;;) {
		struct future *f;
		bool wake;

		/* A while, not an if: a wake-up is a hint, not a promise. */
		while (!ex->head && !ex->shutdown) {
			ex->idle++;
			PT_CHECK(pthread_cond_wait(&ex->work_cv, &ex->lock));
			ex->idle--;
			ex->waking = false;
		}
		f = queue_take(ex, w);
		if (!f)
			break;
		wake = should_wake_worker(ex);
		PT_CHECK(pthread_mutex_unlock(&ex->lock));

		if (wake)
			PT_CHECK(pthread_cond_signal(&ex->work_cv));
		run_taken(w, f);
		PT_CHECK(pthread_mutex_lock(&ex->lock));
	}
	PT_CHECK(pthread_mutex_unlock(&ex->lock));
	/* <<< solution */
	/* >>> skeleton
	(void)queue_take;
	(void)run_taken;
	<<< skeleton */
	return NULL;
}

int executor_new(struct executor **out, int max_workers, const char *name_prefix)
{
	struct executor *ex;
	int err, nlocks = 0;

	if (!out || max_workers < 1 || max_workers > EXECUTOR_MAX_WORKERS)
		return -EINVAL;
	if (!name_prefix)
		name_prefix = "worker";
	if (strlen(name_prefix) >= sizeof(ex->name_prefix))
		return -EINVAL;

	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	strcpy(ex->name_prefix, name_prefix);
	ex->workers = calloc((size_t)max_workers, sizeof(*ex->workers));
	if (!ex->workers) {
		err = -ENOMEM;
		goto out_free_ex;
	}
	err = -pthread_mutex_init(&ex->lock, NULL);
	if (err)
		goto out_free_workers;
	err = -pthread_cond_init(&ex->work_cv, NULL);
	if (err)
		goto out_destroy_lock;
	err = -pthread_mutex_init(&ex->join_lock, NULL);
	if (err)
		goto out_destroy_cv;
	for (; nlocks < max_workers; nlocks++) {
		struct worker *w = &ex->workers[nlocks];

		err = -pthread_mutex_init(&w->batch_lock, NULL);
		if (err)
			goto out_destroy_batch_locks;
	}

	for (int i = 0; i < max_workers; i++) {
		struct worker *w = &ex->workers[i];

		w->ex = ex;
		w->id = i + 1;
		err = -pthread_create(&w->thread, NULL, worker_main, w);
		if (err)
			goto out_stop_workers;
		ex->nworkers++;
	}
	*out = ex;
	return 0;

out_stop_workers:
	/* The workers that did start are idle; let them exit, then join. */
	PT_CHECK(pthread_mutex_lock(&ex->lock));
	ex->shutdown = true;
	PT_CHECK(pthread_cond_broadcast(&ex->work_cv));
	PT_CHECK(pthread_mutex_unlock(&ex->lock));
	for (int i = 0; i < ex->nworkers; i++)
		PT_CHECK(pthread_join(ex->workers[i].thread, NULL));
out_destroy_batch_locks:
	while (nlocks-- > 0) {
		struct worker *w = &ex->workers[nlocks];

		PT_CHECK(pthread_mutex_destroy(&w->batch_lock));
	}
	PT_CHECK(pthread_mutex_destroy(&ex->join_lock));
out_destroy_cv:
	PT_CHECK(pthread_cond_destroy(&ex->work_cv));
out_destroy_lock:
	PT_CHECK(pthread_mutex_destroy(&ex->lock));
out_free_workers:
	free(ex->workers);
out_free_ex:
	free(ex);
	return err;
}

int executor_submit_many(struct executor *ex, executor_task_fn *fn, void *const args[], size_t n,
			 struct future *out[])
{
	struct future *first = NULL, *last = NULL;
	bool wake = false;
	int err = 0;

	if (!ex || !fn || (n && (!args || !out)))
		return -EINVAL;

	/*
	 * Allocate outside the lock, and link the new futures into a chain
	 * that joins the queue in one step, so that a map of a million tasks
	 * takes the lock once instead of a million times.
	 */
	for (size_t i = 0; i < n; i++) {
		struct future *f;

		err = future_new(&out[i], fn, args[i]);
		if (err)
			goto out_discard;
		/* out[i] is the caller's reference, the chain the queue's. */
		f = future_ref(out[i]);
		if (last)
			last->next = f;
		else
			first = f;
		last = f;
	}

	PT_CHECK(pthread_mutex_lock(&ex->lock));
	/*
	 * TODO(01-pool): refuse work once the executor is shut down
	 * (err = -ESHUTDOWN).  Otherwise, unless the chain is empty (n may be
	 * 0), add it to the queue with queue_append() and set `wake` to what
	 * should_wake_worker() says: the workers must hear that there is work.
	 */
	/* >>> solution */
	if (ex->shutdown) {
		err = -ESHUTDOWN;
	} else if (first) {
		queue_append(ex, first, last, n);
		wake = should_wake_worker(ex);
	}
	/* <<< solution */
	/* >>> skeleton
	err = -ENOSYS;
	(void)queue_append;
	(void)should_wake_worker;
	<<< skeleton */
	PT_CHECK(pthread_mutex_unlock(&ex->lock));
	/* Outside the lock: see should_wake_worker(). */
	if (wake)
		PT_CHECK(pthread_cond_signal(&ex->work_cv));
	if (!err)
		return 0;

out_discard:
	/*
	 * Never queued, never seen by anyone: drop the queue's reference and
	 * the caller's.
	 */
	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	while (first) {
		struct future *next = first->next;

		first->next = NULL;
		future_unref(first);
		future_unref(first);
		first = next;
	}
	return err;
}

int executor_submit(struct executor *ex, executor_task_fn *fn, void *arg, struct future **out)
{
	/* Whatever the failure, the caller is left no stale pointer. */
	if (out)
		*out = NULL;
	return executor_submit_many(ex, fn, &arg, 1, out);
}

/*
 * Detach what every worker holds in its batch, followed by the chain
 * @queued, as one chain.  Once the queue is shut down and empty no batch
 * fills again, so the chain is complete.
 */
static struct future *take_batches(struct executor *ex, struct future *queued)
{
	struct future *chain = NULL, **tail = &chain;

	for (int i = 0; i < ex->nworkers; i++) {
		struct worker *w = &ex->workers[i];

		PT_CHECK(pthread_mutex_lock(&w->batch_lock));
		*tail = w->batch;
		w->batch = NULL;
		PT_CHECK(pthread_mutex_unlock(&w->batch_lock));
		while (*tail)
			tail = &(*tail)->next;
	}
	*tail = queued;
	return chain;
}

/* Join every worker, once, whichever thread asks first. */
static int join_workers(struct executor *ex)
{
	if (current_executor == ex)
		return -EDEADLK;

	PT_CHECK(pthread_mutex_lock(&ex->join_lock));
	if (!ex->joined) {
		for (int i = 0; i < ex->nworkers; i++)
			PT_CHECK(pthread_join(ex->workers[i].thread, NULL));
		ex->joined = true;
	}
	PT_CHECK(pthread_mutex_unlock(&ex->join_lock));
	return 0;
}

int executor_shutdown(struct executor *ex, bool wait, bool cancel_futures)
{
	struct future *queued = NULL;

	if (!ex)
		return -EINVAL;

	/*
	 * TODO(01-pool): under ex->lock, mark the executor shut down and wake
	 * every idle worker, so that each one finds out and exits once the
	 * queue is empty.  With cancel_futures, also detach the whole queue
	 * into `queued` with queue_take_all() (no worker may start any of it).
	 */
	/* >>> solution */
	PT_CHECK(pthread_mutex_lock(&ex->lock));
	ex->shutdown = true;
	if (cancel_futures)
		queued = queue_take_all(ex);
	PT_CHECK(pthread_cond_broadcast(&ex->work_cv));
	PT_CHECK(pthread_mutex_unlock(&ex->lock));
	/* <<< solution */
	/* >>> skeleton
	(void)queue_take_all;
	<<< skeleton */

	/*
	 * The tasks workers took in their batches have not started either,
	 * and are older than the rest: they are cancelled first.
	 */
	if (cancel_futures)
		queued = take_batches(ex, queued);

	/*
	 * Cancel outside the lock: cancelling runs done callbacks, and a
	 * callback may call back into this executor.  The chain is ours alone
	 * now, and so are the queue's references to it.
	 */
	while (queued) {
		struct future *next = queued->next;

		queued->next = NULL;
		future_cancel(queued);
		future_unref(queued);
		queued = next;
	}
	return wait ? join_workers(ex) : 0;
}

void executor_free(struct executor *ex)
{
	int err;

	if (!ex)
		return;
	err = executor_shutdown(ex, true, false);
	if (err)
		pt_fail(-err, "executor_free() from one of its own tasks", __FILE__, __LINE__);
	/* The workers exit only once the queue is empty, and it stays so. */
	assert(queue_ok(ex) && !ex->head);
	for (int i = 0; i < ex->nworkers; i++) {
		assert(!ex->workers[i].batch);
		PT_CHECK(pthread_mutex_destroy(&ex->workers[i].batch_lock));
	}
	PT_CHECK(pthread_mutex_destroy(&ex->join_lock));
	PT_CHECK(pthread_cond_destroy(&ex->work_cv));
	PT_CHECK(pthread_mutex_destroy(&ex->lock));
	free(ex->workers);
	free(ex);
}
