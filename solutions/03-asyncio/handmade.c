/*
 * handmade.c - exercise 03-handmade: a coroutine written by hand, as the
 * state machine that co.h's macros turn a body into.
 *
 * With the macros, the ticker of handmade.h reads top to bottom:
 *
 *	int ticker_step(struct co_task *t)
 *	{
 *		struct ticker *k = (struct ticker *)t;
 *
 *		CO_BEGIN(t);
 *		for (k->i = 0; k->i < k->n; k->i++) {
 *			CO_AWAIT(t, co_sleep(t, k->interval_ms), &k->err);
 *			if (k->err)
 *				CO_RETURN(t, finish(k, k->err));
 *			k->ticks[k->i] = clk_now_ns();
 *		}
 *		CO_AWAIT(t, co_await(t, &k->child->done), &k->err);
 *		k->child_result = k->err;
 *		CO_RETURN(t, finish(k, k->err < 0 ? k->err : k->n));
 *		CO_END(t);
 *	}
 *
 * Each CO_AWAIT is "call; if the call said CO_PENDING, note where we are
 * and return; a case label for the way back in".  Written out, the body is
 * a switch on t->resume with one case per place it can carry on from:
 *
 *	START     the first step: the loop begins
 *	SLEPT     a co_sleep() that suspended has ended: t->wake is its result
 *	AWAITED   the child has finished: t->wake is its result
 *
 * Your job: write ticker_step() so, without a CO_* macro.  Three rules:
 *   - an awaitable call returns CO_PENDING (then record the state in
 *     t->resume and return CO_PENDING: the task is woken later, and
 *     t->wake holds the result), or its result at once (then carry on in
 *     this same step: there is nothing to wait for, and nothing would
 *     ever wake the task);
 *   - a local variable dies at every return: the loop counter and
 *     whatever else must outlive an await live in the frame;
 *   - every way out runs finish() (the cleanup) once.
 * The contract is chapters/03-asyncio/handmade.h; the lesson and hints:
 * `build/workbook hint 03-handmade`.
 */
#include <errno.h>

#include "clock.h"
#include "co.h"
#include "handmade.h"

/* The resume points.  0 is what co_task_start() leaves in t->resume;
 * -1 is "finished", as CO_RETURN writes it. */
enum { START = 0, SLEPT, AWAITED, FINISHED = -1 };

/* A tick: its time, and one more done.  The array holds n times: a loop
 * that ticks too often is counted, but cannot write past its end. */
static void record_tick(struct ticker *k)
{
	if (k->i < k->n)
		k->ticks[k->i] = clk_now_ns();
	k->i++;
}

/* Every way out: the cleanup (the `finally:`), then the result. */
static int finish(struct ticker *k, int result)
{
	k->cleanups++;
	k->task.resume = FINISHED;
	return result;
}

int ticker_step(struct co_task *t)
{
	struct ticker *k = (struct ticker *)t;

	/*
	 * TODO(03-handmade): a switch on t->resume that carries on where the
	 * last step stopped, then the loop of sleeps and the await of the
	 * child, each awaitable call followed by the CO_PENDING test.
	 */
	/* >>> solution */
	int r;

	switch (t->resume) {
	case START:
		k->i = 0;
		break; /* on to the loop's test */
	case SLEPT:
		if (t->wake)
			return finish(k, t->wake); /* -ECANCELED, or the timer's -ENOMEM */
		record_tick(k);
		break; /* back to the loop's test */
	case AWAITED:
		k->child_result = t->wake;
		return finish(k, t->wake < 0 ? t->wake : k->n);
	default:
		return co_bad_resume(t); /* run again after it finished */
	}
	while (k->i < k->n) {
		r = co_sleep(t, k->interval_ms);
		if (r == CO_PENDING) {
			t->resume = SLEPT;
			return CO_PENDING;
		}
		if (r)
			return finish(k, r);
		record_tick(k);
	}
	r = co_await(t, &k->child->done);
	if (r == CO_PENDING) {
		t->resume = AWAITED;
		return CO_PENDING;
	}
	/* The child had finished already: its result, with no suspension. */
	k->child_result = r;
	return finish(k, r < 0 ? r : k->n);
	/* <<< solution */
	/* >>> skeleton
	(void)k;
	(void)record_tick;
	(void)finish;
	return -ENOSYS;
	<<< skeleton */
}
