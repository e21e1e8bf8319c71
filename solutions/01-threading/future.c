/*
 * future.c - one task's result, which arrives later.
 *
 * Exercise 01-timeout; the lesson it needs and its hints:
 * `build/workbook hint 01-timeout`.
 *
 * A future is a small monitor: one mutex guards its state, one condition
 * variable tells waiters that the state became final.  The state only ever
 * moves forwards (PENDING -> RUNNING -> DONE, or PENDING -> CANCELLED), and
 * settle() is the one place where a future becomes finished.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "executor_impl.h"

static bool finished(const struct future *f)
{
	return f->state == FUTURE_DONE || f->state == FUTURE_CANCELLED;
}

int future_new(struct future **out, executor_task_fn *fn, void *arg)
{
	struct future *f = malloc(sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	err = -pthread_mutex_init(&f->lock, NULL);
	if (err)
		goto out_free;
	/* The deadline of a timed wait is on CLOCK_MONOTONIC; so is this cv. */
	err = -clk_cond_init(&f->done_cv);
	if (err)
		goto out_destroy_lock;
	f->state = FUTURE_PENDING;
	f->error = 0;
	f->result = NULL;
	f->errmsg = NULL;
	f->callbacks = NULL;
	f->callbacks_tail = &f->callbacks;
	atomic_init(&f->refs, 1);
	f->fn = fn;
	f->arg = arg;
	f->next = NULL;
	*out = f;
	return 0;

out_destroy_lock:
	PT_CHECK(pthread_mutex_destroy(&f->lock));
out_free:
	free(f);
	return err;
}

struct future *future_ref(struct future *f)
{
	int old;

	/* Taking a reference needs one already: no ordering to establish. */
	old = atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	assert(old > 0);
	(void)old; /* read only by the assert */
	return f;
}

void future_unref(struct future *f)
{
	struct future_callback *cb, *next;
	int old;

	if (!f)
		return;
	/*
	 * Release: our writes to the future happen before the free.  The
	 * thread that drops the last reference also acquires, so it sees
	 * every other holder's writes before it frees.
	 */
	old = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
	assert(old > 0);
	if (old != 1)
		return;
	/* One discarded before it was ever queued never ran its callbacks. */
	for (cb = f->callbacks; cb; cb = next) {
		next = cb->next;
		free(cb);
	}
	free(f->errmsg);
	PT_CHECK(pthread_cond_destroy(&f->done_cv));
	PT_CHECK(pthread_mutex_destroy(&f->lock));
	free(f);
}

/*
 * Make @f finished: store the outcome, release the lock, wake every waiter
 * and run the callbacks.  The caller holds f->lock on entry (and has
 * checked that @f is not finished yet); it is released on return.  The
 * caller also holds a reference, so @f stays alive throughout.
 */
static void settle(struct future *f, enum future_state state, int error, void *result, char *errmsg)
{
	struct future_callback *cb, *next;

	assert(mutex_held(&f->lock) && !finished(f));
	f->state = state;
	f->error = error;
	f->result = result;
	f->errmsg = errmsg;
	cb = f->callbacks;
	f->callbacks = NULL;
	f->callbacks_tail = &f->callbacks;

	PT_CHECK(pthread_mutex_unlock(&f->lock));

	/*
	 * TODO(01-timeout): wake the threads waiting in future_wait_until().
	 * Several threads may wait for one future: wake them all.  (With
	 * nobody waiting, a broadcast returns without a system call.)  The
	 * state changed under the lock, so a waiter cannot miss this; waking
	 * it after the unlock spares it from waking into a lock still held.
	 */
	/* >>> solution */
	PT_CHECK(pthread_cond_broadcast(&f->done_cv));
	/* <<< solution */

	/* The list is ours now: nobody can add to a finished future's list. */
	for (; cb; cb = next) {
		next = cb->next;
		cb->fn(f, cb->data);
		free(cb);
	}
}

void future_run(struct future *f)
{
	char err[EXECUTOR_ERRMAX];
	void *result = NULL;
	char *errmsg = NULL;
	int rc;

	PT_CHECK(pthread_mutex_lock(&f->lock));
	/*
	 * TODO(01-timeout): only a PENDING future may start.  One that was
	 * cancelled while it sat in the queue must not run: unlock and
	 * return.  Otherwise it becomes RUNNING, from which there is no
	 * cancelling.
	 */
	/* >>> solution */
	if (f->state != FUTURE_PENDING) {
		PT_CHECK(pthread_mutex_unlock(&f->lock));
		return;
	}
	/* <<< solution */
	f->state = FUTURE_RUNNING;
	PT_CHECK(pthread_mutex_unlock(&f->lock));

	err[0] = '\0';
	rc = f->fn(f->arg, &result, err, sizeof(err));
	if (rc > 0)
		rc = -rc;
	if (rc != 0) {
		result = NULL;
		err[sizeof(err) - 1] = '\0';
		/* Out of memory just loses the message, not the error. */
		if (err[0])
			errmsg = strdup(err);
	}

	PT_CHECK(pthread_mutex_lock(&f->lock));
	settle(f, FUTURE_DONE, rc, result, errmsg);
}

int future_cancel(struct future *f)
{
	int err = 0;

	PT_CHECK(pthread_mutex_lock(&f->lock));
	/*
	 * TODO(01-timeout): cancelling succeeds only while the task waits in
	 * the queue.  PENDING: settle() it as CANCELLED with error -ECANCELED
	 * (settle unlocks) and return 0.  Already CANCELLED: 0 as well.
	 * RUNNING: -EBUSY.  DONE: -EALREADY.  The worker that later takes it
	 * off the queue will skip it (see future_run).
	 */
	/* >>> solution */
	switch (f->state) {
	case FUTURE_PENDING:
		settle(f, FUTURE_CANCELLED, -ECANCELED, NULL, NULL);
		return 0;
	case FUTURE_CANCELLED:
		err = 0;
		break;
	case FUTURE_RUNNING:
		err = -EBUSY;
		break;
	case FUTURE_DONE:
		err = -EALREADY;
		break;
	}
	/* <<< solution */
	/* >>> skeleton
	err = -ENOSYS;
	<<< skeleton */
	PT_CHECK(pthread_mutex_unlock(&f->lock));
	return err;
}

int future_wait_until(struct future *f, int64_t deadline_ns)
{
	int err = 0;

	PT_CHECK(pthread_mutex_lock(&f->lock));
	/*
	 * TODO(01-timeout): wait on f->done_cv until the future is finished
	 * or the clock reaches deadline_ns; then return 0 if it is finished,
	 * -ETIMEDOUT if not.  One clk_cond_wait_until() is one wait: call it
	 * in a loop, with the SAME deadline every time round, so that wake-ups
	 * that change nothing never stretch the wait.  The stand-in below does
	 * not wait at all.
	 */
	/* >>> solution */
	while (!finished(f) && !err)
		err = clk_cond_wait_until(&f->done_cv, &f->lock, deadline_ns);
	/* Finished just as the time ran out still counts as finished. */
	err = finished(f) ? 0 : -ETIMEDOUT;
	/* <<< solution */
	/* >>> skeleton
	(void)deadline_ns;
	err = finished(f) ? 0 : -ENOSYS;
	<<< skeleton */
	PT_CHECK(pthread_mutex_unlock(&f->lock));
	return err;
}

int future_result(struct future *f, long timeout_ms, void **result)
{
	int err = future_wait_until(f, clk_deadline_ms(timeout_ms));

	if (err)
		return err;
	/* Finished: nothing below changes any more, but read it locked. */
	PT_CHECK(pthread_mutex_lock(&f->lock));
	err = f->error;
	if (err == 0 && result)
		*result = f->result;
	PT_CHECK(pthread_mutex_unlock(&f->lock));
	return err;
}

bool future_done(struct future *f)
{
	bool done;

	PT_CHECK(pthread_mutex_lock(&f->lock));
	done = finished(f);
	PT_CHECK(pthread_mutex_unlock(&f->lock));
	return done;
}

enum future_state future_state(struct future *f)
{
	enum future_state state;

	PT_CHECK(pthread_mutex_lock(&f->lock));
	state = f->state;
	PT_CHECK(pthread_mutex_unlock(&f->lock));
	return state;
}

const char *future_errmsg(struct future *f)
{
	const char *msg;

	PT_CHECK(pthread_mutex_lock(&f->lock));
	msg = f->errmsg ? f->errmsg : "";
	PT_CHECK(pthread_mutex_unlock(&f->lock));
	return msg;
}

int future_add_done_callback(struct future *f, future_callback_fn *fn, void *data)
{
	struct future_callback *cb = malloc(sizeof(*cb));

	if (!cb)
		return -ENOMEM;
	cb->fn = fn;
	cb->data = data;
	cb->next = NULL;

	PT_CHECK(pthread_mutex_lock(&f->lock));
	if (!finished(f)) {
		*f->callbacks_tail = cb;
		f->callbacks_tail = &cb->next;
		PT_CHECK(pthread_mutex_unlock(&f->lock));
		return 0;
	}
	PT_CHECK(pthread_mutex_unlock(&f->lock));

	/* Already finished: nothing will call it later, so call it now. */
	fn(f, data);
	free(cb);
	return 0;
}
