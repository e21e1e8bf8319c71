/*
 * co.c - tasks, futures, await, sleep, cancel and run: the core of the
 * coroutine layer (co.h has the contract).
 *
 * A task is a little state machine (enum co_state) driven by three calls:
 * the loop runs its step (QUEUED -> RUNNING), the step suspends in an await
 * (RUNNING -> WAITING) or returns (-> IDLE, done settled), and whatever it
 * waited for wakes it (WAITING -> QUEUED).  Cancellation only ever acts on
 * a WAITING task, through the detach function its await left, or on a
 * QUEUED one woken with something it can hand back; in every other case
 * it is kept for the next await.
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "clock.h"
#include "co.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---------------------------------------------------------------- lists */

static void link_init(struct co_link *head)
{
	head->next = head->prev = head;
}

static bool link_empty(const struct co_link *head)
{
	return head->next == head;
}

static void link_append(struct co_link *head, struct co_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static void link_remove(struct co_link *l)
{
	if (!l->prev)
		return;
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->next = l->prev = NULL;
}

/* -------------------------------------------------------------- futures */

void co_future_init(struct co_future *f)
{
	link_init(&f->callbacks);
	f->result = 0;
	f->done = false;
}

void co_future_set(struct co_future *f, int result)
{
	if (f->done)
		die("co_future_set: a future settled twice (%d, then %d)", f->result, result);
	f->done = true;
	f->result = result;
	/* Take each callback off before it runs: a callback may remove the
	 * ones after it (a gather that gives up early does). */
	while (!link_empty(&f->callbacks)) {
		struct co_callback *cb = container_of(f->callbacks.next, struct co_callback, link);

		link_remove(&cb->link);
		cb->fn(cb, f);
	}
}

void co_future_add(struct co_future *f, struct co_callback *cb, co_callback_fn *fn, void *arg)
{
	cb->fn = fn;
	cb->arg = arg;
	cb->link.next = cb->link.prev = NULL;
	if (f->done) {
		fn(cb, f);
		return;
	}
	link_append(&f->callbacks, &cb->link);
}

void co_future_remove(struct co_callback *cb)
{
	link_remove(&cb->link);
}

/* ---------------------------------------------------------------- tasks */

static void run_step(struct loop *loop, struct loop_call *call);

struct loop *co_loop(const struct co_task *t)
{
	return t->loop;
}

const char *co_task_name(const struct co_task *t)
{
	return t->name ? t->name : "task";
}

bool co_task_done(const struct co_task *t)
{
	return t->done.done;
}

/* Queue the task's next step.  The call shares the wait union with what
 * the task waited with, which is over by now. */
static void queue_step(struct co_task *t)
{
	t->state = CO_QUEUED;
	t->wait.queued.call = (struct loop_call)LOOP_CALL_INIT;
	loop_call_soon(t->loop, &t->wait.queued.call, run_step);
}

void co_task_start(struct loop *loop, struct co_task *t, co_step_fn *step, const char *name)
{
	struct co_link *all = loop_data(loop);

	if (t->state != CO_IDLE)
		die("co_task_start: task %s is still running", co_task_name(t));
	co_future_init(&t->done);
	t->loop = loop;
	t->step = step;
	t->name = name;
	t->resume = 0;
	t->wake = 0;
	t->cancel = false;
	t->detach = NULL;
	t->all.next = t->all.prev = NULL;
	if (all) /* co_run()'s loop: it must know every task to cancel it */
		link_append(all, &t->all);
	queue_step(t);
}

static void finish(struct co_task *t, int result)
{
	t->state = CO_IDLE;
	t->cancel = false;
	link_remove(&t->all);
	/* The last use of t: a callback may let its owner reuse the frame. */
	co_future_set(&t->done, result);
}

static void run_step(struct loop *loop, struct loop_call *call)
{
	struct co_task *t = container_of(call, struct co_task, wait.queued.call);
	int r;

	(void)loop;
	t->state = CO_RUNNING;
	t->detach = NULL; /* what it was handed is its own now */
	if (t->resume == 0 && t->cancel) {
		/* Cancelled before it started: the body never runs. */
		finish(t, -ECANCELED);
		return;
	}
	r = t->step(t);
	if (r != CO_PENDING) {
		finish(t, r);
		return;
	}
	if (t->state == CO_RUNNING)
		die("task %s returned CO_PENDING but waits for nothing "
		    "(an awaitable must end with co_task_suspend())",
		    co_task_name(t));
}

int co_task_suspend(struct co_task *t, co_cancel_fn *detach)
{
	if (t->state != CO_RUNNING)
		die("co_task_suspend: task %s is not running", co_task_name(t));
	if (t->cancel) {
		/* The cancel kept since the task last ran lands here. */
		t->cancel = false;
		if (detach(t))
			return -ECANCELED;
		t->state = CO_CANCELLING;
		return CO_PENDING;
	}
	t->state = CO_WAITING;
	t->detach = detach;
	return CO_PENDING;
}

void co_task_wake_revocable(struct co_task *t, int result, co_cancel_fn *undo, void *arg)
{
	if (t->state != CO_WAITING && t->state != CO_CANCELLING)
		die("co_task_wake: task %s is not waiting", co_task_name(t));
	/* A task woken while its cancel is passed on gets no take-back: the
	 * cancel has been dealt with already. */
	t->detach = t->state == CO_WAITING ? undo : NULL;
	t->wake = result;
	queue_step(t);
	t->wait.queued.arg = arg;
}

void co_task_wake(struct co_task *t, int result)
{
	co_task_wake_revocable(t, result, NULL, NULL);
}

bool co_task_cancel(struct co_task *t)
{
	switch (t->state) {
	case CO_IDLE:
		return false;
	case CO_WAITING: {
		co_cancel_fn *detach = t->detach;

		t->detach = NULL;
		t->state = CO_CANCELLING;
		if (detach(t))
			co_task_wake(t, -ECANCELED);
		return true;
	}
	case CO_CANCELLING:
		return true; /* already passed on; the await reports it */
	case CO_QUEUED:
		if (t->detach) {
			/* Woken with something it may hand back (a permit). */
			co_cancel_fn *undo = t->detach;

			t->detach = NULL;
			if (undo(t)) {
				t->wake = -ECANCELED;
				return true;
			}
		}
		t->cancel = true; /* for its next await */
		return true;
	default:
		t->cancel = true; /* RUNNING: for its next await */
		return true;
	}
}

int co_bad_resume(struct co_task *t)
{
	die("task %s resumed at %d: its body ran off CO_END, or it ran after it finished",
	    co_task_name(t), t->resume);
}

/* ---------------------------------------------------------------- await */

static void await_settled(struct co_callback *cb, struct co_future *f)
{
	co_task_wake(cb->arg, f->result);
}

static bool await_detach(struct co_task *t)
{
	co_future_remove(&t->wait.cb);
	return true;
}

int co_await(struct co_task *t, struct co_future *f)
{
	if (f->done)
		return f->result;
	co_future_add(f, &t->wait.cb, await_settled, t);
	return co_task_suspend(t, await_detach);
}

/* ---------------------------------------------------------------- waiters */

void co_list_init(struct co_link *list)
{
	link_init(list);
}

bool co_list_empty(const struct co_link *list)
{
	return link_empty(list);
}

int co_wait_in(struct co_task *t, struct co_link *list, void *arg)
{
	t->wait.cb.fn = NULL;
	t->wait.cb.arg = arg;
	link_append(list, &t->wait.cb.link);
	return co_task_suspend(t, await_detach);
}

struct co_task *co_list_pop(struct co_link *list)
{
	struct co_task *t;

	if (link_empty(list))
		return NULL;
	t = container_of(list->next, struct co_task, wait.cb.link);
	link_remove(&t->wait.cb.link);
	return t;
}

/* ---------------------------------------------------------------- sleep */

static void sleep_fired(struct loop *loop, struct loop_timer *timer)
{
	(void)loop;
	co_task_wake(container_of(timer, struct co_task, wait.timer), 0);
}

static bool sleep_detach(struct co_task *t)
{
	loop_timer_stop(t->loop, &t->wait.timer);
	return true;
}

int co_sleep_until(struct co_task *t, int64_t deadline_ns)
{
	int err;

	t->wait.timer = (struct loop_timer)LOOP_TIMER_INIT;
	err = loop_timer_start(t->loop, &t->wait.timer, deadline_ns, sleep_fired);
	if (err)
		return err;
	return co_task_suspend(t, sleep_detach);
}

static bool yield_detach(struct co_task *t)
{
	(void)t;
	return true; /* nothing was arranged */
}

int co_sleep(struct co_task *t, long ms)
{
	int r;

	if (ms > 0)
		return co_sleep_until(t, clk_now_ns() + (int64_t)ms * CLK_NS_PER_MS);
	/* sleep(0): wait, and be woken at once, behind the tasks already queued. */
	r = co_task_suspend(t, yield_detach);
	if (r == CO_PENDING)
		co_task_wake(t, 0);
	return r;
}

/* ---------------------------------------------------------------- fd waits */

static void fd_ready(struct loop *loop, int fd, unsigned events, void *arg)
{
	loop_unwatch(loop, fd);
	co_task_wake(arg, (int)events);
}

static bool fd_detach(struct co_task *t)
{
	loop_unwatch(t->loop, t->wait.fd);
	return true;
}

int co_wait_fd(struct co_task *t, int fd, unsigned events)
{
	int err = loop_watch(t->loop, fd, events, fd_ready, t);

	if (err)
		return err;
	t->wait.fd = fd;
	return co_task_suspend(t, fd_detach);
}

/* ---------------------------------------------------------------- run */

static void main_done(struct co_callback *cb, struct co_future *f)
{
	(void)f;
	loop_stop(cb->arg);
}

/* Cancel every task still running and run the loop until it has nothing
 * left; again while that makes progress, since a cancelled task may wait
 * once more (for its cleanup) before it ends.  Returns 0, -EDEADLK if some
 * task still waits for something that will never come, or the loop's
 * error. */
static int cancel_all(struct loop *loop, struct co_link *all)
{
	size_t left = SIZE_MAX, before;

	do {
		int err;

		before = left;
		left = 0;
		for (struct co_link *l = all->next; l != all; l = l->next)
			co_task_cancel(container_of(l, struct co_task, all));
		err = loop_run(loop);
		if (err)
			return err;
		for (struct co_link *l = all->next; l != all; l = l->next)
			left++;
	} while (left > 0 && left < before);
	return left > 0 ? -EDEADLK : 0;
}

int co_run(struct co_task *main, co_step_fn *step)
{
	struct co_callback stop;
	struct co_link all;
	struct loop *loop;
	bool stuck;
	int err, result;

	err = loop_new(&loop, LOOP_DEFAULT);
	if (err)
		return err;
	link_init(&all);
	loop_set_data(loop, &all);
	co_task_start(loop, main, step, "main");
	co_future_add(&main->done, &stop, main_done, loop);
	err = loop_run(loop);
	co_future_remove(&stop);
	/* The loop ran out of work while main still waited: nothing can ever
	 * wake it.  Cancelling it (with the rest) lets it clean up. */
	stuck = !err && !co_task_done(main);
	if (!err)
		err = cancel_all(loop, &all);
	result = main->done.result;
	loop_free(loop);
	if (err)
		return err;
	return stuck ? -EDEADLK : result;
}
