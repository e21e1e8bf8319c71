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

/* The task handed a permit was cancelled before it ran. */
static bool pass_on(struct co_task *t)
{
	co_sem_release(t->wait.queued.arg);
	return true;
}

void co_sem_release(struct co_sem *s)
{
	struct co_task *next = co_list_pop(&s->waiters);

	if (next)
		co_task_wake_revocable(next, 0, pass_on, s); /* the permit goes to it */
	else
		s->value++;
}
