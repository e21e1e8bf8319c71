/*
 * wait_for.c - asyncio.wait_for: await a task for at most some time.
 *
 * Two things race: a timer, and a callback on the inner task's done
 * future.  The timer does not wake the waiter: it cancels the inner task
 * and notes that time ran out.  Only the callback wakes the waiter, so
 * wait_for always returns after the inner task has finished, its cleanup
 * included; the note decides whether its -ECANCELED is reported as
 * -ETIMEDOUT.  Cancelling the waiter takes the same road.
 *
 * Exercise 03-wait-for: write the timer's callback, the inner task's
 * callback, the cancel, and the setup.  The contract is co_wait_for() in
 * chapters/03-asyncio/co.h; the lesson and the hints:
 * `build/workbook hint 03-wait-for`.
 */
#include <errno.h>

#include "clock.h"
#include "co.h"

static void expired(struct loop *loop, struct loop_timer *timer)
{
	struct co_wait_for *w = (struct co_wait_for *)(void *)((char *)timer -
							       offsetof(struct co_wait_for, timer));

	(void)loop;
	/*
	 * TODO(03-wait-for): time is up.  Do not wake the waiter: the inner
	 * task must finish (and clean up) first.
	 */
	(void)w;
}

static void inner_done(struct co_callback *cb, struct co_future *f)
{
	/*
	 * TODO(03-wait-for): the inner task has finished: the only place the
	 * waiter is woken, with the result it must see.
	 */
	(void)cb;
	(void)f;
}

static bool wait_for_detach(struct co_task *t)
{
	/*
	 * TODO(03-wait-for): the waiter is cancelled: pass it on to the inner
	 * task, and say the waiter must wait for it (see co_cancel_fn).
	 */
	(void)t;
	return true;
}

int co_wait_for(struct co_task *t, struct co_wait_for *w, struct co_task *inner, long timeout_ms)
{
	int err;

	if (co_task_done(inner))
		return inner->done.result;
	*w = (struct co_wait_for){ .waiter = t, .inner = inner, .timer = LOOP_TIMER_INIT };
	/*
	 * TODO(03-wait-for): start the timer (unless there is no limit), put
	 * inner_done on the inner task's done future, and suspend the waiter
	 * with wait_for_detach as its cancel.
	 */
	(void)err;
	(void)timeout_ms;
	(void)expired;
	(void)inner_done;
	(void)wait_for_detach;
	return -ENOSYS;
}
