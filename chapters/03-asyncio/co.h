/*
 * co.h - stackless coroutines on the event loop of loop.h: tasks, futures,
 * await, and asyncio's primitives (sleep, gather, Semaphore, wait_for,
 * timeout, Event, Queue, TaskGroup, run_in_executor).
 *
 * A coroutine here is a function that can stop in the middle and carry on
 * later, without a stack of its own.  Its local state lives in a frame: a
 * struct of the caller's that begins with a struct co_task.  Its body is a
 * step function, called once to start and once more each time what it
 * awaits is ready; a resume point in the task records where it stopped, and
 * the macros below turn that into a jump back to the line after the await:
 *
 *	struct fetch {				// the frame
 *		struct co_task task;		// first member
 *		int id;				// arguments and every value
 *		long bytes;			// that lives across an await
 *	};
 *
 *	static int fetch_step(struct co_task *t)
 *	{
 *		struct fetch *f = (struct fetch *)t;
 *		int err;			// valid only until the next await
 *
 *		CO_BEGIN(t);
 *		CO_AWAIT(t, co_sleep(t, 500), &err);
 *		if (err)
 *			CO_RETURN(t, err);	// e.g. -ECANCELED
 *		f->bytes = 1024;
 *		CO_RETURN(t, 0);
 *		CO_END(t);
 *	}
 *
 * Rules of the macros (each one is a consequence of "an await is a return
 * plus a case label"):
 *   - CO_BEGIN opens a switch on the resume point and CO_END closes it, so
 *     no CO_AWAIT may stand inside a switch statement of the body: its case
 *     label would belong to the inner switch.
 *   - The resume point is __LINE__: one CO_AWAIT per line.
 *   - Ordinary locals do not survive an await (the function returned in
 *     between).  What must survive lives in the frame; every pointer handed
 *     to an awaiting call (an output such as co_queue_get()'s item) must
 *     point into the frame or further out, never at a local.
 *
 * Awaitable calls.  CO_AWAIT(t, CALL, &err) works with any call that either
 * finishes at once and returns its result (0 or a negative errno), or
 * arranges for the task to be woken later and returns CO_PENDING.  Every
 * co_* function below that takes the awaiting task is one.  After the
 * await, err holds the result; -ECANCELED means the task was cancelled
 * while it waited (Python's CancelledError): the task may clean up, await
 * more, and should then return.
 *
 * Tasks.  co_task_start() schedules a frame's first step on the next loop
 * iteration (asyncio.create_task).  When the step function returns a value
 * other than CO_PENDING the task is finished and its future, task->done,
 * settles with that value.  Another task awaits it with co_await(&x->done).
 * co_task_cancel() makes the task's current (or next) await return
 * -ECANCELED.  co_run() is asyncio.run(): it runs a loop until one main
 * task is finished.
 *
 * Ownership.  Frames belong to whoever made them (usually on its own stack
 * for the main task, in an array or another frame otherwise, never freed
 * while in use).  A frame must stay alive and in place from
 * co_task_start() until its task is finished and nothing awaits it any
 * more.  Nothing in this library allocates per task or per await; gather,
 * wait_for, the queue and the task group keep what they need in objects
 * the caller places in its frame.
 *
 * Threads.  Everything here runs on the loop's thread, except the worker
 * half of co_run_in_executor().  Nothing blocks the thread: a task that
 * calls a blocking function stops every other task until it returns.
 *
 * Where the code is: co.c (tasks, futures, await, sleep, cancel, run),
 * co_sync.c (Event, Queue, TaskGroup, timeout), co_executor.c
 * (run_in_executor) here; the exercises' files in solutions/03-asyncio/:
 * gather.c (co_gather), semaphore.c (co_sem_*) and wait_for.c
 * (co_wait_for).
 */
#ifndef WB_CO_H
#define WB_CO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

/* An awaitable call's "not yet; the task will be woken". */
#define CO_PENDING INT_MIN

struct co_task;
struct co_future;

/* ---------------------------------------------------------------- futures */

/*
 * A future is a result that is not there yet: PENDING until
 * co_future_set() settles it, once, with 0 or a negative errno.  Callbacks
 * added to it run, in the order they were added, inside that call; a task
 * awaiting it is only scheduled from there, so task code never runs inside
 * another task's step.
 */
struct co_callback;
typedef void co_callback_fn(struct co_callback *cb, struct co_future *f);
struct co_callback {
	struct co_callback *next, *prev; /* NULL unless added to a future */
	co_callback_fn *fn;
};

struct co_future {
	struct loop *loop;
	bool done;
	int result;		  /* valid once done */
	struct co_callback waiters; /* list sentinel */
};

void co_future_init(struct co_future *f, struct loop *loop);
/* Settle @f with @result and run its callbacks.  Settling twice aborts. */
void co_future_set(struct co_future *f, int result);
/* Add/remove a callback (removing one never added, or already run, is a no-op). */
void co_future_add(struct co_future *f, struct co_callback *cb, co_callback_fn *fn);
void co_future_remove(struct co_future *f, struct co_callback *cb);

/* Awaitable: @f's result once it is settled. */
int co_await(struct co_task *t, struct co_future *f);

/* ---------------------------------------------------------------- tasks */

typedef int co_step_fn(struct co_task *t);

/*
 * The task part of a frame.  Zero it (or co_task_init()), then start it.
 * Fields are the library's; read only done, and name for messages.
 */
struct co_task {
	struct co_future done; /* settles with the step function's result */
	co_step_fn *step;
	const char *name;
	int resume;   /* where the step function stopped; 0 = not started */
	int wake;     /* the result the current await will see */
	bool cancel;  /* a cancel is pending */
	bool running; /* started, not finished */
	struct loop_call call; /* schedules the next step */
	union {		       /* what the task is waiting on now */
		struct loop_timer timer;
		struct co_callback cb;
	} wait;
	void (*detach)(struct co_task *t); /* undoes the current wait */
};

/*
 * Start @t (the first member of its frame) to run @step on @loop: the first
 * step runs on the next iteration.  @name may be NULL.  Restarting a
 * running task aborts.
 */
void co_task_start(struct loop *loop, struct co_task *t, co_step_fn *step, const char *name);

/*
 * Ask @t to stop: its current await (or its next one, if it is about to
 * run) returns -ECANCELED.  Returns false if @t is already finished.
 */
bool co_task_cancel(struct co_task *t);

/* True once @t has returned: t->done is settled. */
bool co_task_done(const struct co_task *t);

/*
 * asyncio.run(): make a loop (LOOP_DEFAULT backend), start @main, run until
 * it finishes, and return its result; or a negative errno if the loop could
 * not be made or its wait failed.  Tasks still running when @main finishes
 * are cancelled and run to completion first, so no frame is left in use.
 */
int co_run(struct co_task *main, co_step_fn *step);

/* The loop @t runs on. */
struct loop *co_loop(const struct co_task *t);

/* Awaitable: sleep @ms milliseconds (0: let the other ready tasks run
 * first, like asyncio.sleep(0)).  Returns 0, or -ECANCELED. */
int co_sleep(struct co_task *t, long ms);
/* Awaitable: sleep until CLOCK_MONOTONIC reaches @deadline_ns. */
int co_sleep_until(struct co_task *t, int64_t deadline_ns);

/* Low level, for building awaitable calls: mark @t as waiting (@detach
 * undoes the wait if @t is cancelled first) and return CO_PENDING; later
 * co_task_wake() schedules it with @result as the await's value. */
int co_task_suspend(struct co_task *t, void (*detach)(struct co_task *t));
void co_task_wake(struct co_task *t, int result);

/* --------------------------------------------------------------- macros */

#define CO_BEGIN(t)                                                                                \
	switch ((t)->resume) {                                                                     \
	case 0:

/* Await CALL (an awaitable call); its result goes to *(errp). */
#define CO_AWAIT(t, call, errp)                                                                    \
	do {                                                                                       \
		int co_r_ = (call);                                                                \
		if (co_r_ == CO_PENDING) {                                                         \
			(t)->resume = __LINE__;                                                    \
			return CO_PENDING;                                                         \
		case __LINE__:                                                                     \
			co_r_ = (t)->wake;                                                         \
		}                                                                                  \
		*(errp) = co_r_;                                                                   \
	} while (0)

/* Finish the task with @result (0 or a negative errno). */
#define CO_RETURN(t, result)                                                                       \
	do {                                                                                       \
		(t)->resume = -1;                                                                  \
		return (result);                                                                   \
	} while (0)

#define CO_END(t)                                                                                  \
	}                                                                                          \
	return co_bad_resume(t)

/* What CO_END returns when a step is called after its task finished, or
 * the body fell off its end: aborts with the task's name. */
int co_bad_resume(struct co_task *t);

/* ---------------------------------------------------------------- gather */

/*
 * asyncio.gather: await every task of @tasks (already started) and finish
 * when the last one does; results stay in each task (its frame and
 * tasks[i]->done.result), in argument order.  Without @return_exceptions
 * the gather's result is the first failure in time (the other tasks keep
 * running, as in Python); with it, failures are collected and the result
 * is 0.  Cancelling the awaiting task cancels every task not yet done.
 * @g lives in the awaiting frame; @n may be 0.
 */
struct co_gather {
	struct co_task *waiter;
	struct co_task **tasks;
	size_t n, left;
	bool return_exceptions;
	int first_error;
	struct co_callback *cbs; /* n callbacks; caller's array */
};
int co_gather(struct co_task *t, struct co_gather *g, struct co_task **tasks,
	      struct co_callback *cbs, size_t n, bool return_exceptions);

/* ---------------------------------------------------------------- Semaphore */

/*
 * asyncio.Semaphore: @value permits.  co_sem_acquire() takes one at once
 * when one is free and nobody waits, else waits in FIFO order; release
 * hands a permit to the oldest waiter.  A waiter cancelled after a permit
 * was handed to it passes the permit on.
 */
struct co_sem {
	long value;
	struct co_callback waiters; /* FIFO of waiting tasks (their wait.cb) */
	size_t nwaiting;
};
void co_sem_init(struct co_sem *s, long value);
int co_sem_acquire(struct co_task *t, struct co_sem *s); /* awaitable */
void co_sem_release(struct co_sem *s);

/* ---------------------------------------------------------------- wait_for */

/*
 * asyncio.wait_for: await @inner (started) for at most @timeout_ms.  If it
 * finishes in time, its result.  Otherwise @inner is cancelled, and only
 * after it has finished (its cleanup has run) does the await return
 * -ETIMEDOUT.  Cancelling the awaiting task cancels @inner, waits for it
 * likewise, and returns -ECANCELED.  @w lives in the awaiting frame.
 */
struct co_wait_for {
	struct co_task *waiter, *inner;
	struct loop_timer timer;
	struct co_callback cb;
	bool timed_out;
};
int co_wait_for(struct co_task *t, struct co_wait_for *w, struct co_task *inner, long timeout_ms);

/* ---------------------------------------------------------------- timeout */

/*
 * asyncio.timeout (3.11): a scope with a deadline and no extra task.  When
 * the deadline passes, the task is cancelled; co_timeout_exit() turns the
 * resulting -ECANCELED into -ETIMEDOUT (and anything else through).
 */
struct co_timeout {
	struct co_task *task;
	struct loop_timer timer;
	bool expired;
};
void co_timeout_enter(struct co_task *t, struct co_timeout *s, long timeout_ms);
int co_timeout_exit(struct co_timeout *s, int result);

/* ---------------------------------------------------------------- Event */

struct co_event {
	bool set;
	struct co_callback waiters;
};
void co_event_init(struct co_event *e);
void co_event_set(struct co_event *e);	 /* wakes every waiter */
void co_event_clear(struct co_event *e);
int co_event_wait(struct co_task *t, struct co_event *e); /* awaitable */

/* ---------------------------------------------------------------- Queue */

/*
 * asyncio.Queue(maxsize) of pointers, in a ring the caller provides
 * (@slots of @cap entries): put waits while full, get while empty, each in
 * FIFO order.  get stores the item in *@item (in the frame) when it
 * returns 0.
 */
struct co_queue {
	void **slots;
	size_t cap, head, len;
	struct co_callback getters, putters;
};
void co_queue_init(struct co_queue *q, void **slots, size_t cap);
int co_queue_put(struct co_task *t, struct co_queue *q, void *item);   /* awaitable */
int co_queue_get(struct co_task *t, struct co_queue *q, void **item); /* awaitable */

/* ---------------------------------------------------------------- TaskGroup */

/*
 * asyncio.TaskGroup (3.11): tasks started in the group are awaited
 * together by co_group_wait(); the first failure (other than -ECANCELED)
 * cancels every other task of the group, and the wait returns that error
 * once all of them have finished.
 */
struct co_group {
	struct loop *loop;
	struct co_task *waiter;
	size_t left;
	int first_error;
};
void co_group_init(struct co_group *g, struct loop *loop);
/* Start @child in the group; @cb is a callback of the caller's (in its frame). */
void co_group_start(struct co_group *g, struct co_task *child, co_step_fn *step,
		    struct co_callback *cb);
int co_group_wait(struct co_task *t, struct co_group *g); /* awaitable */

/* ---------------------------------------------------------- run_in_executor */

#endif
