/*
 * co_sync.c - asyncio's timeout scope, Event, Queue and TaskGroup on top of
 * the tasks of co.c.  Each is a little state plus a FIFO of waiting tasks;
 * none of them allocates.
 */
#include <errno.h>

#include "clock.h"
#include "co.h"

/* ---------------------------------------------------------------- timeout */

static void scope_expired(struct loop *loop, struct loop_timer *timer)
{
	struct co_timeout *s = (struct co_timeout *)(void *)((char *)timer -
							     offsetof(struct co_timeout, timer));

	(void)loop;
	s->expired = true;
	co_task_cancel(s->task);
}

int co_timeout_enter(struct co_task *t, struct co_timeout *s, long timeout_ms)
{
	*s = (struct co_timeout){ .task = t, .timer = LOOP_TIMER_INIT };
	return loop_timer_start(co_loop(t), &s->timer,
				clk_now_ns() + (int64_t)timeout_ms * CLK_NS_PER_MS, scope_expired);
}

int co_timeout_exit(struct co_timeout *s, int result)
{
	loop_timer_stop(co_loop(s->task), &s->timer);
	if (!s->expired)
		return result;
	/* The expiry's cancel, if no await took it yet, must not leak out of
	 * the scope into the task's next await. */
	s->task->cancel = false;
	return result == -ECANCELED ? -ETIMEDOUT : result;
}

/* ---------------------------------------------------------------- Event */

void co_event_init(struct co_event *e)
{
	e->set = false;
	co_list_init(&e->waiters);
}

void co_event_set(struct co_event *e)
{
	struct co_task *t;

	e->set = true;
	while ((t = co_list_pop(&e->waiters)))
		co_task_wake(t, 0);
}

void co_event_clear(struct co_event *e)
{
	e->set = false;
}

int co_event_wait(struct co_task *t, struct co_event *e)
{
	if (e->set)
		return 0;
	return co_wait_in(t, &e->waiters, e);
}

/* ---------------------------------------------------------------- Queue */

/*
 * Invariants: getters wait only while the ring is empty, putters only
 * while it is full.  So an item put while a getter waits goes straight to
 * that getter, and the room a get makes is filled at once from the oldest
 * waiting putter: nobody who arrives later can overtake a waiter.
 */

int co_queue_init(struct co_queue *q, void **slots, size_t cap)
{
	if (cap == 0)
		return -EINVAL;
	*q = (struct co_queue){ .slots = slots, .cap = cap };
	co_list_init(&q->getters);
	co_list_init(&q->putters);
	return 0;
}

static void ring_push(struct co_queue *q, void *item)
{
	q->slots[(q->head + q->len) % q->cap] = item;
	q->len++;
}

static void *ring_pop(struct co_queue *q)
{
	void *item = q->slots[q->head];

	q->head = (q->head + 1) % q->cap;
	q->len--;
	return item;
}

int co_queue_put(struct co_task *t, struct co_queue *q, void *item)
{
	struct co_task *getter = co_list_pop(&q->getters);

	if (getter) {
		*(void **)getter->wait.cb.arg = item;
		co_task_wake(getter, 0);
		return 0;
	}
	if (q->len < q->cap) {
		ring_push(q, item);
		return 0;
	}
	return co_wait_in(t, &q->putters, item);
}

int co_queue_get(struct co_task *t, struct co_queue *q, void **item)
{
	struct co_task *putter;

	if (q->len == 0)
		return co_wait_in(t, &q->getters, item);
	*item = ring_pop(q);
	putter = co_list_pop(&q->putters);
	if (putter) {
		ring_push(q, putter->wait.cb.arg);
		co_task_wake(putter, 0);
	}
	return 0;
}

/* ---------------------------------------------------------------- TaskGroup */

void co_group_init(struct co_group *g, struct loop *loop)
{
	*g = (struct co_group){ .loop = loop };
}

static void cancel_members(struct co_group *g)
{
	for (struct co_member *m = g->members; m; m = m->next)
		co_task_cancel(m->task);
}

static void member_done(struct co_callback *cb, struct co_future *f)
{
	struct co_group *g = cb->arg;

	g->left--;
	if (f->result < 0 && f->result != -ECANCELED && g->first_error == 0) {
		g->first_error = f->result;
		cancel_members(g);
	}
	if (g->left == 0 && g->waiter) {
		struct co_task *waiter = g->waiter;

		g->waiter = NULL;
		co_task_wake(waiter, g->cancelled ? -ECANCELED : g->first_error);
	}
}

void co_group_start(struct co_group *g, struct co_member *m, struct co_task *child,
		    co_step_fn *step, const char *name)
{
	m->task = child;
	m->next = g->members;
	g->members = m;
	g->left++;
	co_task_start(g->loop, child, step, name);
	co_future_add(&child->done, &m->cb, member_done, g);
	if (g->first_error || g->cancelled)
		co_task_cancel(child); /* the group is failing: it never runs */
}

static bool group_detach(struct co_task *t)
{
	struct co_group *g = t->wait.data;

	g->cancelled = true;
	cancel_members(g);
	return false; /* member_done() wakes us once all have finished */
}

int co_group_wait(struct co_task *t, struct co_group *g)
{
	if (g->left == 0)
		return g->first_error;
	g->waiter = t;
	t->wait.data = g;
	return co_task_suspend(t, group_detach);
}
