/*
 * as_completed.c - hand out futures in the order they finish.
 *
 * Exercise 01-as-completed; the lesson it needs and its hints:
 * `build/workbook hint 01-as-completed`.
 *
 * Nobody polls.  Each watched future gets a done callback that appends it
 * to a small queue, and as_completed_next() waits on a condition variable
 * until that queue has something in it.  Every future finishes exactly
 * once, so the queue never needs more than n slots.
 *
 * The callbacks may fire after the caller has freed the object (a future
 * can still be running), so the object is reference counted: the caller
 * holds one reference, and each callback not yet fired holds one more.
 */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "executor_impl.h"

struct as_completed {
	pthread_mutex_t lock;	 /* guards the fields up to `ntaken` */
	pthread_cond_t ready_cv; /* something was appended to ready[] */
	struct future **ready;	 /* finished futures, in finishing order */
	size_t nready;		 /* appended so far */
	size_t ntaken;		 /* handed out so far: ntaken <= nready <= n */

	atomic_int refs;
	size_t n;
	int64_t deadline;
	struct future **all; /* the watched futures, one reference each */
};

static void ac_unref(struct as_completed *ac)
{
	if (atomic_fetch_sub_explicit(&ac->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < ac->n; i++)
		future_unref(ac->all[i]);
	PT_CHECK(pthread_cond_destroy(&ac->ready_cv));
	PT_CHECK(pthread_mutex_destroy(&ac->lock));
	free(ac->ready);
	free(ac->all);
	free(ac);
}

/* The done callback: runs once per watched future, in whichever thread
 * finished it. */
static void on_finished(struct future *f, void *data)
{
	struct as_completed *ac = data;

	/*
	 * TODO(01-as-completed): under ac->lock, append f to ac->ready (at
	 * index ac->nready) and wake one waiting consumer: one future is
	 * enough for one consumer.
	 */
	/* >>> solution */
	PT_CHECK(pthread_mutex_lock(&ac->lock));
	/* Each watched future finishes once: ready[] has a slot for each. */
	assert(ac->nready < ac->n);
	ac->ready[ac->nready++] = f;
	PT_CHECK(pthread_cond_signal(&ac->ready_cv));
	PT_CHECK(pthread_mutex_unlock(&ac->lock));
	/* <<< solution */
	/* >>> skeleton
	(void)f;
	<<< skeleton */
	ac_unref(ac); /* this callback's reference */
}

int as_completed_new(struct as_completed **out, struct future *const fs[], size_t n,
		     long timeout_ms)
{
	int64_t deadline = clk_deadline_ms(timeout_ms);
	struct as_completed *ac;
	int err;

	if (!out || (n && !fs))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!fs[i])
			return -EINVAL;

	ac = calloc(1, sizeof(*ac));
	if (!ac)
		return -ENOMEM;
	ac->all = calloc(n ? n : 1, sizeof(*ac->all));
	ac->ready = calloc(n ? n : 1, sizeof(*ac->ready));
	if (!ac->all || !ac->ready) {
		err = -ENOMEM;
		goto out_free;
	}
	err = -pthread_mutex_init(&ac->lock, NULL);
	if (err)
		goto out_free;
	err = -clk_cond_init(&ac->ready_cv);
	if (err)
		goto out_destroy_lock;
	atomic_init(&ac->refs, 1);
	ac->deadline = deadline;
	ac->n = n;
	for (size_t i = 0; i < n; i++)
		ac->all[i] = future_ref(fs[i]);

	/*
	 * From here on, callbacks can fire (those of finished futures fire at
	 * once, right here), so failing means dropping our reference and
	 * letting the registered callbacks release the rest.
	 */
	for (size_t i = 0; i < n; i++) {
		atomic_fetch_add_explicit(&ac->refs, 1, memory_order_relaxed);
		err = future_add_done_callback(fs[i], on_finished, ac);
		if (err) {
			ac_unref(ac); /* the callback's, never registered */
			ac_unref(ac); /* ours */
			return err;
		}
	}
	*out = ac;
	return 0;

out_destroy_lock:
	PT_CHECK(pthread_mutex_destroy(&ac->lock));
out_free:
	free(ac->ready);
	free(ac->all);
	free(ac);
	return err;
}

int as_completed_next(struct as_completed *ac, struct future **f)
{
	int rc = 0;

	PT_CHECK(pthread_mutex_lock(&ac->lock));
	assert(ac->ntaken <= ac->nready && ac->nready <= ac->n);
	/*
	 * TODO(01-as-completed): while nothing is ready (ntaken == nready)
	 * and some future is still to come (ntaken < n), wait on ready_cv
	 * with clk_cond_wait_until() until ac->deadline (the same deadline
	 * every time round; CLK_NEVER waits without a limit).  Then: something
	 * ready -> *f = ready[ntaken++], return 1; all handed out -> 0;
	 * otherwise the time ran out -> -ETIMEDOUT.
	 */
	/* >>> solution */
	while (ac->ntaken == ac->nready && ac->ntaken < ac->n && !rc)
		rc = clk_cond_wait_until(&ac->ready_cv, &ac->lock, ac->deadline);
	if (ac->ntaken < ac->nready) {
		*f = ac->ready[ac->ntaken++];
		rc = 1;
	} else if (ac->ntaken == ac->n) {
		rc = 0;
	} else {
		rc = -ETIMEDOUT;
	}
	/* <<< solution */
	/* >>> skeleton
	(void)f;
	rc = -ENOSYS;
	<<< skeleton */
	PT_CHECK(pthread_mutex_unlock(&ac->lock));
	return rc;
}

void as_completed_free(struct as_completed *ac)
{
	if (ac)
		ac_unref(ac);
}
