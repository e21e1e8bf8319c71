/*
 * semaphore.c - asyncio.Semaphore: permits handed out in arrival order.
 *
 * The one idea: a release with someone waiting does not put the permit
 * back for anyone to grab, it hands it to the oldest waiter.  So a task
 * that arrives later can never overtake a waiter (FIFO), and the count of
 * permits out never exceeds the value, even for a moment.  A waiter that
 * is cancelled while it waits simply leaves the queue (co_wait_in() does
 * that), and the next release serves the task behind it.
 */
#include "co.h"

void co_sem_init(struct co_sem *s, long value)
{
	s->value = value;
	co_list_init(&s->waiters);
}

int co_sem_acquire(struct co_task *t, struct co_sem *s)
{
	if (s->value > 0 && co_list_empty(&s->waiters)) {
		s->value--;
		return 0;
	}
	return co_wait_in(t, &s->waiters, s);
}

void co_sem_release(struct co_sem *s)
{
	struct co_task *next = co_list_pop(&s->waiters);

	if (next)
		co_task_wake(next, 0); /* the permit goes straight to it */
	else
		s->value++;
}
