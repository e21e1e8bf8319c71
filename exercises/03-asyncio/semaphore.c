/*
 * semaphore.c - asyncio.Semaphore: permits handed out in arrival order.
 *
 * The one idea: a release with someone waiting does not put the permit
 * back for anyone to grab, it hands it to the oldest waiter.  So a task
 * that arrives later can never overtake a waiter (FIFO), and the count of
 * permits out never exceeds the value, even for a moment.  A waiter that
 * is cancelled while it waits simply leaves the queue (co_wait_in() does
 * that), and the next release serves the task behind it.
 *
 * Exercise 03-semaphore: write acquire and release.  The contract is
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

void co_sem_release(struct co_sem *s)
{
	/*
	 * TODO(03-semaphore): the permit goes to the task that has waited
	 * longest, woken with the permit in hand; only with nobody waiting
	 * does it go back to the count.
	 */
	(void)s;
}
