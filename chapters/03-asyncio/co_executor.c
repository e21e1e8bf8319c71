/*
 * co_executor.c - loop.run_in_executor: a blocking call on chapter 01's
 * thread pool, its result carried back to the loop thread by a post.
 *
 * The worker thread touches only the future and the post: its done
 * callback posts c->post to the loop, whose eventfd wakes the loop's wait.
 * Everything else happens on the loop thread, in posted(): so the task
 * frame is never shared between threads, and the loop keeps a reference
 * (loop_ref) from submit until that post has run, or it would stop for
 * lack of work while the thread is still busy.
 */
#include <errno.h>
#include <stdio.h>

#include "co.h"

static void posted(struct loop *loop, struct loop_call *call)
{
	struct co_exec *c = (struct co_exec *)(void *)((char *)call -
						       offsetof(struct co_exec, post));
	int result;

	loop_unref(loop);
	result = future_result(c->fut, 0, &c->result);
	if (result < 0 && result != -ECANCELED)
		snprintf(c->err, sizeof c->err, "%s", future_errmsg(c->fut));
	future_unref(c->fut);
	c->fut = NULL;
	co_task_wake(c->waiter, c->cancelled ? -ECANCELED : result);
}

/* On the worker thread (or in future_cancel(), on the loop thread). */
static void finished(struct future *f, void *data)
{
	struct co_exec *c = data;

	(void)f;
	loop_post(c->loop, &c->post, posted);
}

/* The task is cancelled: a queued call never starts; a running one cannot
 * be stopped, and posted() reports the cancel once it has returned. */
static bool exec_detach(struct co_task *t)
{
	struct co_exec *c = t->wait.data;

	c->cancelled = true;
	future_cancel(c->fut);
	return false;
}

int co_run_in_executor(struct co_task *t, struct co_exec *c, struct executor *ex,
		       executor_task_fn *fn, void *arg)
{
	int err;

	c->waiter = t;
	c->loop = co_loop(t);
	c->result = NULL;
	c->cancelled = false;
	c->err[0] = '\0';
	c->post = (struct loop_call)LOOP_CALL_INIT;
	err = executor_submit(ex, fn, arg, &c->fut);
	if (err)
		return err;
	loop_ref(c->loop);
	err = future_add_done_callback(c->fut, finished, c);
	if (err) {
		/* Nothing would tell us when it ends: take it back if it has
		 * not started, else wait for it here (this thread blocks, but
		 * only when memory ran out). */
		future_cancel(c->fut);
		future_result(c->fut, -1, NULL);
		future_unref(c->fut);
		c->fut = NULL;
		loop_unref(c->loop);
		return err;
	}
	t->wait.data = c;
	return co_task_suspend(t, exec_detach);
}
