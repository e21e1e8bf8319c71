/*
 * handmade.h - a ticker task, written as the state machine that co.h's
 * macros would make of it (exercise 03-handmade).
 *
 * The ticker ticks @n times, @interval_ms apart: each time round it sleeps
 * on its own timer, then records the time of the tick.  After the last
 * tick it awaits @child, another task its caller started, keeps the
 * child's result, and finishes with the number of ticks.  Whichever way it
 * ends it first runs its cleanup once (it counts in @cleanups), as
 * Python's `finally:` would:
 *
 *	async def ticker(n, interval, child):
 *	    try:
 *	        for i in range(n):
 *	            await asyncio.sleep(interval)
 *	            ticks.append(time.monotonic())
 *	        child_result = await child
 *	        return n
 *	    finally:
 *	        cleanups += 1
 *
 *	struct ticker k = { .n = 5, .interval_ms = 100, .child = &c.task,
 *			    .ticks = times };
 *	co_task_start(loop, &k.task, ticker_step, "ticker");
 *
 * What it returns (k.task.done.result): @n; -ECANCELED if it was cancelled
 * while it slept or waited for the child (the child is not cancelled: a
 * plain await does not pass a cancel on); or the child's own error when
 * the child failed.  @child_result holds what the await of the child
 * returned: the child's result, or -ECANCELED if the ticker was cancelled
 * there.
 *
 * The frame follows co.h's rules: every value that must survive an await
 * is a member of struct ticker, never a local of ticker_step(); the resume
 * point is the task's own t->resume.  ticker_step() uses no CO_* macro:
 * it is the switch they would have written.
 */
#ifndef WB_HANDMADE_H
#define WB_HANDMADE_H

#include <stdint.h>

#include "co.h"

struct ticker {
	struct co_task task; /* first member */
	/* Arguments, set by the caller before the start. */
	int n;		       /* ticks to make, >= 0 */
	long interval_ms;      /* between ticks, > 0 */
	struct co_task *child; /* started; awaited after the last tick */
	int64_t *ticks;	       /* n entries: CLOCK_MONOTONIC ns of each tick */
	/* State that lives across awaits: the ticker's own. */
	int i;	 /* ticks made so far */
	int err; /* the result of the last await */
	/* What it leaves for the caller. */
	int child_result; /* what the await of the child returned */
	int cleanups;	  /* how many times its cleanup ran: 1 once finished */
};

/* The step function: start a zeroed frame with co_task_start(). */
int ticker_step(struct co_task *t);

#endif
