/*
 * pool.c - the worker pool: one FIFO queue of futures, a few threads that
 * take from it, and the start and end of an executor's life.
 *
 * Exercise 01-pool.  Lesson: chapters/01-threading/README.md, sections
 * "The pool: one queue, a few workers" and "Shutting down".
 *
 * Everything here is guarded by ex->lock.  A worker holds it only to take
 * a future off the queue; it runs the task with the lock released, so
 * that submitters and the other workers are never kept waiting by a task.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "executor_impl.h"
#include "log.h"

/*
 * The executor whose worker the calling thread is, or NULL.  It lets
 * executor_shutdown(wait) notice that it was called from one of the
 * executor's own tasks (it would wait for itself) without comparing thread
 * IDs, which the system may hand out again once a thread has been joined.
 */
static _Thread_local const struct executor *current_executor;

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
	current_executor = ex;

	/*
	 * TODO(01-pool): the worker loop.  Under ex->lock: while the queue is
	 * empty and the executor is not shut down, wait on ex->work_cv
	 * (counting yourself in ex->idle while you wait, so submitters know
	 * whom to wake).  Then, if the queue is empty the executor is shut
	 * down: leave the loop.  Otherwise take the head of the queue (when you
	 * take the last one, set ex->tail to NULL as well: the queue's
	 * invariant), release the lock, run it with future_run(), drop the
	 * queue's reference with future_unref(), and go round again.
	 */
	(void)ex;
	return NULL;
}

int executor_new(struct executor **out, int max_workers,
		 const char *name_prefix)
{
	struct executor *ex;
	int err;

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

int executor_submit_many(struct executor *ex, executor_task_fn *fn,
			 void *const args[], size_t n, struct future *out[])
{
	struct future *first = NULL, *last = NULL;
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
		/* The caller's reference is out[i]; the chain holds the queue's. */
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
	 * (err = -ESHUTDOWN).  Otherwise append the chain first..last to the
	 * queue (ex->head, ex->tail; it may be empty, and n may be 0) and wake
	 * the idle workers: one per new task, at most ex->idle of them.  Wake
	 * nobody when nobody is idle: a busy worker looks at the queue before
	 * it waits.
	 */
	err = -ENOSYS;
	PT_CHECK(pthread_mutex_unlock(&ex->lock));
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

int executor_submit(struct executor *ex, executor_task_fn *fn, void *arg,
		    struct future **out)
{
	return executor_submit_many(ex, fn, &arg, 1, out);
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
	 * into `queued` (the workers must not start any of it).
	 */
	(void)cancel_futures;

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
		pt_fail(-err, "executor_free() from one of its own tasks",
			__FILE__, __LINE__);
	PT_CHECK(pthread_mutex_destroy(&ex->join_lock));
	PT_CHECK(pthread_cond_destroy(&ex->work_cv));
	PT_CHECK(pthread_mutex_destroy(&ex->lock));
	free(ex->workers);
	free(ex);
}
