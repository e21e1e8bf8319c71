/*
 * wait_for.c - asyncio.wait_for: await a task for at most some time.
 *
 * Two things race: a timer, and a callback on the inner task's done
 * future.  The timer does not wake the waiter: it cancels the inner task
 * and notes that time ran out.  Only the callback wakes the waiter, so
 * wait_for always returns after the inner task has finished, its cleanup
 * included; the note decides whether its -ECANCELED is reported as
 * -ETIMEDOUT.  Cancelling the waiter takes the same road.
 */
#include <errno.h>

#include "clock.h"
#include "co.h"

static void expired(struct loop *loop, struct loop_timer *timer)
{
	struct co_wait_for *w = (struct co_wait_for *)(void *)((char *)timer -
							       offsetof(struct co_wait_for, timer));

	(void)loop;
	w->timed_out = true;
	co_task_cancel(w->inner);
}

static void inner_done(struct co_callback *cb, struct co_future *f)
{
	struct co_wait_for *w = cb->arg;
	int result = f->result;

	loop_timer_stop(co_loop(w->waiter), &w->timer);
	if (w->cancelled)
		result = -ECANCELED;
	else if (w->timed_out && result == -ECANCELED)
		result = -ETIMEDOUT;
	co_task_wake(w->waiter, result);
}

static bool wait_for_detach(struct co_task *t)
{
	struct co_wait_for *w = t->wait.data;

	loop_timer_stop(co_loop(t), &w->timer);
	w->cancelled = true;
	co_task_cancel(w->inner);
	return false; /* inner_done() wakes us once the inner task is done */
}

int co_wait_for(struct co_task *t, struct co_wait_for *w, struct co_task *inner, long timeout_ms)
{
	int err;

	if (co_task_done(inner))
		return inner->done.result;
	*w = (struct co_wait_for){ .waiter = t, .inner = inner, .timer = LOOP_TIMER_INIT };
	if (timeout_ms >= 0) {
		err = loop_timer_start(co_loop(t), &w->timer,
				       clk_now_ns() + (int64_t)timeout_ms * CLK_NS_PER_MS, expired);
		if (err)
			return err;
	}
	co_future_add(&inner->done, &w->cb, inner_done, w);
	t->wait.data = w;
	return co_task_suspend(t, wait_for_detach);
}
