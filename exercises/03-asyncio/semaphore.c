/*
 * semaphore.c - asyncio.Semaphore: permits handed out in arrival order.
 *
 * The one idea: a release with someone waiting does not put the permit
 * back for anyone to grab, it hands it to the oldest waiter.  So a task
 * that arrives later can never overtake a waiter (FIFO), and the count of
 * permits out never exceeds the value, even for a moment.  A waiter that
 * is cancelled while it waits simply leaves the queue (co_wait_in() does
 * that).  One cancelled after it was handed the permit but before it ran
 * must not sit on it: it passes the permit on, as a release would.
 *
 * Exercise 03-semaphore: write acquire, release, and the passing on of a
 * permit whose task was cancelled before it could use it.  The contract is
 * struct co_sem in chapters/03-asyncio/co.h; the lesson and the hints:
 * `build/workbook hint 03-semaphore`.
 */
#include <errno.h>

#include "co.h"

void co_sem_init(struct co_sem *s, long value)
{
	s->value = value;
	co_list_init(&s->waiters);
}

int co_sem_acquire(struct co_task *t, struct co_sem *s)
{
	/*
	 * TODO(03-semaphore): take a free permit at once - but only if nobody
	 * is waiting for one already - or wait at the end of the queue.
	 */
	(void)t;
	(void)s;
	return -ENOSYS;
}

/* The task handed a permit was cancelled before it ran. */
static bool pass_on(struct co_task *t)
{
	/*
	 * TODO(03-semaphore): the permit must not stay with a task that will
	 * never use it; hand it on, and say it was taken back (see
	 * co_task_wake_revocable() in co.h).
	 */
	(void)t;
	return false;
}

void co_sem_release(struct co_sem *s)
{
	/*
	 * TODO(03-semaphore): the permit goes to the task that has waited
	 * longest, woken with the permit in hand; only with nobody waiting
	 * does it go back to the count.
	 */
	(void)s;
	(void)pass_on;
}
