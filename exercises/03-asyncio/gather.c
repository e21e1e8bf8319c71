/*
 * gather.c - asyncio.gather: wait for many tasks, results in argument order.
 *
 * The results never move: each stays in its own task, so "in argument
 * order" costs nothing.  What gather keeps is a count of the tasks still
 * running, decremented by a callback on each task's done future; the last
 * one wakes the waiter.  Without return_exceptions the first failure wakes
 * it at once instead, after taking the other callbacks off (the waiter's
 * frame, where they live, may be gone before those tasks finish).
 *
 * Exercise 03-gather: write the callback, the cancel, and the setup in
 * co_gather().  The contract is co_gather() in chapters/03-asyncio/co.h;
 * the lesson and the hints: `build/workbook hint 03-gather`.
 */
#include <errno.h>

#include "co.h"

static void forget_rest(struct co_gather *g)
{
	for (size_t i = 0; i < g->n; i++)
		co_future_remove(&g->cbs[i]);
}

/* A gathered task has finished: @cb is its callback, @f its done. */
static void one_done(struct co_callback *cb, struct co_future *f)
{
	/*
	 * TODO(03-gather): count the task off; wake the waiter (co_task_wake)
	 * when the last one is done, or at once with the first failure unless
	 * errors are collected or the waiter was cancelled - and then the
	 * other callbacks must come off their tasks first.
	 */
	(void)cb;
	(void)f;
	(void)forget_rest;
}

/* The waiter is cancelled: cancel what is still running, and report the
 * cancel only once all of it has finished. */
static bool gather_detach(struct co_task *t)
{
	/*
	 * TODO(03-gather): cancel every gathered task, and say that the
	 * waiter may not go on before they have finished (see co_cancel_fn
	 * in co.h).
	 */
	(void)t;
	return true;
}

int co_gather(struct co_task *t, struct co_gather *g, struct co_task **tasks,
	      struct co_callback *cbs, size_t n, bool return_exceptions)
{
	*g = (struct co_gather){ .waiter = t,
				 .tasks = tasks,
				 .cbs = cbs,
				 .n = n,
				 .return_exceptions = return_exceptions };
	/*
	 * TODO(03-gather): count the tasks still running (a task that has
	 * already failed settles the gather at once, unless errors are
	 * collected), put one_done on each of them, and suspend the waiter
	 * with gather_detach as its cancel.
	 */
	(void)one_done;
	(void)gather_detach;
	return -ENOSYS;
}
