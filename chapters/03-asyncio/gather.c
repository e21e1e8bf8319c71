/*
 * gather.c - asyncio.gather: wait for many tasks, results in argument order.
 *
 * The results never move: each stays in its own task, so "in argument
 * order" costs nothing.  What gather keeps is a count of the tasks still
 * running, decremented by a callback on each task's done future; the last
 * one wakes the waiter.  Without return_exceptions the first failure wakes
 * it at once instead, after taking the other callbacks off (the waiter's
 * frame, where they live, may be gone before those tasks finish).
 */
#include <errno.h>

#include "co.h"

static void forget_rest(struct co_gather *g)
{
	for (size_t i = 0; i < g->n; i++)
		co_future_remove(&g->cbs[i]);
}

static void one_done(struct co_callback *cb, struct co_future *f)
{
	struct co_gather *g = cb->arg;

	g->left--;
	if (f->result < 0 && !g->return_exceptions && !g->cancelled) {
		forget_rest(g);
		co_task_wake(g->waiter, f->result);
		return;
	}
	if (g->left == 0)
		co_task_wake(g->waiter, g->cancelled ? -ECANCELED : 0);
}

/* The waiter is cancelled: cancel what is still running, and report the
 * cancel only once all of it has finished. */
static bool gather_detach(struct co_task *t)
{
	struct co_gather *g = t->wait.data;

	g->cancelled = true;
	for (size_t i = 0; i < g->n; i++)
		co_task_cancel(g->tasks[i]);
	return false;
}

int co_gather(struct co_task *t, struct co_gather *g, struct co_task **tasks,
	      struct co_callback *cbs, size_t n, bool return_exceptions)
{
	*g = (struct co_gather){ .waiter = t,
				 .tasks = tasks,
				 .cbs = cbs,
				 .n = n,
				 .return_exceptions = return_exceptions };
	for (size_t i = 0; i < n; i++) {
		cbs[i].link.next = cbs[i].link.prev = NULL;
		if (!co_task_done(tasks[i]))
			g->left++;
		else if (tasks[i]->done.result < 0 && !return_exceptions)
			return tasks[i]->done.result; /* failed already */
	}
	if (g->left == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!co_task_done(tasks[i]))
			co_future_add(&tasks[i]->done, &cbs[i], one_done, g);
	t->wait.data = g;
	return co_task_suspend(t, gather_detach);
}
