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
 *	struct fetch f = { .id = 1 };
 *	int rc = co_run(&f.task, fetch_step);	// asyncio.run(fetch(1))
 *
 * Rules of the macros (each one is a consequence of "an await is a return
 * plus a case label"):
 *   - CO_BEGIN opens a switch on the resume point and CO_END closes it, so
 *     no CO_AWAIT may stand inside a switch statement of the body: its case
 *     label would belong to the inner switch.
 *   - The resume point is __LINE__: one CO_AWAIT per line.
 *   - Ordinary locals do not survive an await (the function returned in
 *     between).  What must survive lives in the frame; every pointer handed
 *     to an awaiting call (an output such as co_queue_get()'s item, a
 *     co_gather or co_wait_for object) must point into the frame or further
 *     out, never at a local.
 *   - A body ends with CO_RETURN; running off CO_END aborts, naming the task.
 *
 * Awaitable calls.  CO_AWAIT(t, CALL, &err) works with any call that either
 * finishes at once and returns its result (0 or a negative errno), or
 * arranges for the task to be woken later and returns CO_PENDING.  Every
 * co_* function below that takes the awaiting task first is one.  After
 * the await, err holds the result.
 *
 * Tasks.  co_task_start() schedules a frame's first step on the next loop
 * iteration (asyncio.create_task).  When the step function returns a value
 * other than CO_PENDING the task is finished and its future, task->done,
 * settles with that value.  Another task awaits it with
 * co_await(t, &x->task.done).  co_run() is asyncio.run(): it makes a loop
 * and runs one main task on it.
 *
 * Cancellation (Python's task.cancel() and CancelledError).
 * co_task_cancel() asks a task to stop; the task sees it as -ECANCELED
 * returned by an await, and may clean up, await more (those awaits work as
 * usual) and then return.  When it arrives:
 *   - a task waiting in an await: that await returns -ECANCELED.  Awaits
 *     that own other tasks pass it on first and return only once those
 *     have finished: gather, wait_for, the task group, run_in_executor;
 *   - a task that has not started yet: it finishes with -ECANCELED and its
 *     body never runs (as in Python);
 *   - a task running, or woken and about to run: the cancel is kept, and
 *     its next await that would have to wait returns -ECANCELED instead.
 *     An await whose result was already decided keeps it (the next await
 *     reports the cancel), so a Queue item or a task's result handed over
 *     is never lost to a cancel.  The Semaphore is the exception, as in
 *     Python: a waiter handed a permit and cancelled before it ran passes
 *     the permit on, and its acquire returns -ECANCELED.
 * Cancelling a task that awaits another task with co_await() does not
 * cancel the awaited one (as if Python's shield() were around it); gather,
 * wait_for and the task group do cancel what they await.
 *
 * Ownership.  Frames belong to whoever made them (usually on its own stack
 * for the main task, in an array or another frame otherwise).  A frame
 * must be zeroed before its first start, and stay alive and in place from
 * co_task_start() until its task is finished and nothing awaits it any
 * more.  Nothing in this library allocates per task or per await (only the
 * loop's timer heap grows, by doubling); gather, wait_for, the queue and
 * the task group keep what they need in objects the caller places in its
 * frame.  struct co_task is 120 bytes on a 64-bit machine.
 *
 * Threads.  Everything here runs on the loop's thread, except the worker
 * half of co_run_in_executor().  Nothing here blocks; a task that calls a
 * blocking function itself stops every other task until it returns, which
 * is what co_run_in_executor() is for.
 *
 * Errors are values: 0 or a negative errno.  Only a broken rule (a future
 * settled twice, a step resumed after it finished, a step that returned
 * CO_PENDING without waiting for anything) aborts with a message.
 *
 * Where the code is: co.c (tasks, futures, await, sleep, cancel, run,
 * fd waits), gather.c (co_gather), semaphore.c (co_sem_*), wait_for.c
 * (co_wait_for), co_sync.c (timeout, Event, Queue, TaskGroup) and
 * co_executor.c (run_in_executor).
 */
#ifndef WB_CO_H
#define WB_CO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "executor.h"
#include "loop.h"

/* An awaitable call's "not yet; the task will be woken". */
#define CO_PENDING INT_MIN

struct co_task;
struct co_future;

/* A link of an intrusive, circular, doubly-linked list with a sentinel. */
struct co_link {
	struct co_link *next, *prev; /* NULL while not on a list */
};

/* ---------------------------------------------------------------- futures */

/*
 * A future is a result that is not there yet: pending until
 * co_future_set() settles it, once, with 0 or a negative errno.  Callbacks
 * added to it run, in the order they were added, inside that call, each
 * taken off the future before it runs.  A task awaiting a future is only
 * scheduled from there, so task code never runs inside another task's step.
 */
struct co_callback;
typedef void co_callback_fn(struct co_callback *cb, struct co_future *f);
struct co_callback {
	struct co_link link; /* on the future's list while added */
	co_callback_fn *fn;
	void *arg; /* the adder's */
};

struct co_future {
	struct co_link callbacks; /* sentinel */
	int result;		  /* valid once done */
	bool done;
};

void co_future_init(struct co_future *f);
/* Settle @f with @result and run its callbacks.  Settling twice aborts. */
void co_future_set(struct co_future *f, int result);
/*
 * Call @fn(@cb, @f) when @f settles; @cb (the caller's, with @arg stored in
 * it) stays in use until then or until co_future_remove().  On a settled
 * future @fn runs at once, before this returns.
 */
void co_future_add(struct co_future *f, struct co_callback *cb, co_callback_fn *fn, void *arg);
/* Take @cb off its future: a no-op if it is not on one (it already ran). */
void co_future_remove(struct co_callback *cb);

/* Awaitable: @f's result once it is settled. */
int co_await(struct co_task *t, struct co_future *f);

/* ---------------------------------------------------------------- tasks */

typedef int co_step_fn(struct co_task *t);

/*
 * Undo the wait of task @t, which is being cancelled.  Return true when
 * the wait is undone (the await then returns -ECANCELED at once), false
 * when the cancel was passed on to something that must finish first: the
 * awaitable then calls co_task_wake() itself, later, with its result.
 * Given to co_task_wake_revocable(), it takes back what the wake handed
 * over (true), or cannot (false: the result stands, the cancel is kept).
 */
typedef bool co_cancel_fn(struct co_task *t);

/* Where a task is: the library's, not for callers (use co_task_done()). */
enum co_state {
	CO_IDLE,       /* not started, or finished */
	CO_QUEUED,     /* its next step is queued on the loop */
	CO_RUNNING,    /* inside its step function */
	CO_WAITING,    /* suspended in an await */
	CO_CANCELLING, /* suspended, its cancel passed on, waiting for that */
};

/*
 * The task part of a frame.  Fields are the library's; read only done.
 * While a task waits, wait holds what it waits with (only one thing at a
 * time: a soon call, a timer, a callback or an awaitable's object).
 */
struct co_task {
	struct co_future done; /* settles with the step function's result */
	struct loop *loop;
	co_step_fn *step;
	const char *name;   /* for messages; may be NULL */
	struct co_link all; /* in co_run()'s list of running tasks */
	union {		    /* what the task waits with now */
		struct {
			struct loop_call call; /* queued to run its next step */
			void *arg;	       /* co_task_wake_revocable()'s */
		} queued;
		struct loop_timer timer; /* co_sleep() */
		struct co_callback cb;	 /* on a future or a waiters' list */
		int fd;			 /* co_wait_fd() */
		void *data;		 /* an awaitable's object (gather, ...) */
	} wait;
	co_cancel_fn *detach; /* undoes the current wait, or a revocable wake */
	int resume;	      /* where the step function stopped; 0: not started */
	int wake;	      /* the result the current await will see */
	unsigned char state;  /* enum co_state */
	bool cancel;	      /* a cancel is kept for the next await */
};

/*
 * Start @t (the first member of a zeroed, or finished, frame) to run @step
 * on @loop: the first step runs on the next iteration.  @name (may be NULL)
 * is kept as a pointer.  Starting a task that is still running aborts.
 */
void co_task_start(struct loop *loop, struct co_task *t, co_step_fn *step, const char *name);

/*
 * Ask @t to stop, as described under "Cancellation" above.  Returns false
 * if @t is not running (finished, or never started), true otherwise.
 */
bool co_task_cancel(struct co_task *t);

/* True once @t has returned: t->done is settled. */
bool co_task_done(const struct co_task *t);

/*
 * asyncio.run(): make a loop (the LOOP_DEFAULT backend), start @main, run
 * until it finishes, and return its result.  Tasks still running then are
 * cancelled and run to their end before co_run() frees the loop, so no
 * frame is left in use.  Returns a negative errno if the loop could not be
 * made or its wait failed, and -EDEADLK if @main (or, after it, a
 * cancelled task) waited for something nothing could ever deliver; those
 * tasks are cancelled and run out as far as they go.  Blocks.  Only
 * co_run() keeps a list of the tasks on its loop (in loop_data()): on a
 * loop of your own (loop_new, co_task_start, loop_run), cancel what you
 * started yourself.
 */
int co_run(struct co_task *main, co_step_fn *step);

/* The loop @t runs on. */
struct loop *co_loop(const struct co_task *t);

/* The name @t was started with, or "task". */
const char *co_task_name(const struct co_task *t);

/*
 * Awaitable: sleep @ms milliseconds on the task's own timer (no
 * allocation).  0 or less: let the other ready tasks run first, like
 * asyncio.sleep(0).  Returns 0, -ECANCELED, or -ENOMEM (the timer heap
 * could not grow).
 */
int co_sleep(struct co_task *t, long ms);
/* Awaitable: sleep until CLOCK_MONOTONIC reaches @deadline_ns. */
int co_sleep_until(struct co_task *t, int64_t deadline_ns);

/*
 * Awaitable: wait until @fd is ready for @events (LOOP_READ, LOOP_WRITE);
 * returns the events that are ready (LOOP_ERROR included), -ECANCELED, or
 * loop_watch()'s error.  The fd is watched only during the wait, and only
 * one task may wait on one fd at a time.
 */
int co_wait_fd(struct co_task *t, int fd, unsigned events);

/*
 * For building awaitable calls.  An awaitable arranges to be told when its
 * result is ready, then returns co_task_suspend(t, detach): CO_PENDING,
 * or -ECANCELED at once if a cancel was kept for this await (after calling
 * @detach).  Later it calls co_task_wake() with the result, which queues
 * the task's next step.  @detach undoes the wait when the task is
 * cancelled (see co_cancel_fn).
 */
int co_task_suspend(struct co_task *t, co_cancel_fn *detach);
void co_task_wake(struct co_task *t, int result);
/*
 * Wake @t with @result, something it may hand back: if @t is cancelled
 * before it runs, @undo(t) is called, with @arg in t->wait.queued.arg, to
 * pass it on (a Semaphore's permit to the next waiter), and the await
 * returns -ECANCELED instead, as in Python.
 */
void co_task_wake_revocable(struct co_task *t, int result, co_cancel_fn *undo, void *arg);

/*
 * Lists of waiting tasks, FIFO, for the primitives (Semaphore, Event,
 * Queue).  co_wait_in() is awaitable: it puts @t at the end of @list with
 * @arg (kept in t->wait.cb.arg) and waits; a waiter cancelled meanwhile
 * leaves the list.  co_list_pop() takes the oldest waiter off @list and
 * returns it (NULL if none), still waiting: wake it with co_task_wake().
 */
void co_list_init(struct co_link *list);
bool co_list_empty(const struct co_link *list);
int co_wait_in(struct co_task *t, struct co_link *list, void *arg);
struct co_task *co_list_pop(struct co_link *list);

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
 * asyncio.gather: await the @n tasks of @tasks (already started) and
 * finish when the last one does.  Results stay in each task
 * (tasks[i]->done.result, and its frame), so they are in argument order
 * whatever order the tasks finish in.  Without @return_exceptions the
 * gather returns the first failure (in time) as soon as it happens, and
 * the other tasks keep running, as in Python; with it, it waits for every
 * task and returns 0, the failures staying in each task's result.
 * Cancelling the awaiting task cancels every task not yet finished, waits
 * for them, and returns -ECANCELED.  @g and the @n callbacks of @cbs live
 * in the awaiting frame; @n may be 0.
 */
struct co_gather {
	struct co_task *waiter;
	struct co_task **tasks;
	struct co_callback *cbs; /* cbs[i] is on tasks[i]->done */
	size_t n, left;
	int first_error;
	bool return_exceptions;
	bool cancelled; /* the waiter was cancelled: report that */
};
int co_gather(struct co_task *t, struct co_gather *g, struct co_task **tasks,
	      struct co_callback *cbs, size_t n, bool return_exceptions);

/* ---------------------------------------------------------------- Semaphore */

/*
 * asyncio.Semaphore: @value permits.  co_sem_acquire() takes one at once
 * when one is free and nobody waits, else waits its turn: waiters are
 * served in arrival order.  co_sem_release() hands its permit straight to
 * the oldest waiter, or puts it back.  A waiter cancelled while it waits
 * leaves the queue; one cancelled after it was handed a permit, before it
 * ran, passes the permit on to the next; both see -ECANCELED.  So no
 * permit is lost, and at no time are more than @value out.
 */
struct co_sem {
	long value;		/* free permits */
	struct co_link waiters; /* FIFO of waiting tasks (their wait.cb) */
};
void co_sem_init(struct co_sem *s, long value);
int co_sem_acquire(struct co_task *t, struct co_sem *s); /* awaitable */
void co_sem_release(struct co_sem *s);

/* ---------------------------------------------------------------- wait_for */

/*
 * asyncio.wait_for (3.11): await @inner (started) for at most @timeout_ms
 * (negative: no limit).  If it finishes in time, its result.  Otherwise
 * @inner is cancelled, and only after it has finished (its cleanup has
 * run) does the await return -ETIMEDOUT; or @inner's own result if it
 * finished with something other than -ECANCELED despite the cancel.
 * Cancelling the awaiting task cancels @inner likewise, waits for it, and
 * returns -ECANCELED.  @w lives in the awaiting frame.
 */
struct co_wait_for {
	struct co_task *waiter, *inner;
	struct loop_timer timer;
	struct co_callback cb; /* on inner->done */
	bool timed_out, cancelled;
};
int co_wait_for(struct co_task *t, struct co_wait_for *w, struct co_task *inner, long timeout_ms);

/* ---------------------------------------------------------------- timeout */

/*
 * asyncio.timeout (3.11): a deadline over part of a task's body, with no
 * extra task.  co_timeout_enter() starts a timer; if it fires before
 * co_timeout_exit(), the task is cancelled.  co_timeout_exit() stops the
 * timer and turns the -ECANCELED that the expiry caused into -ETIMEDOUT
 * (anything else goes through), and drops the cancel if no await saw it:
 *
 *	co_timeout_enter(t, &f->scope, 100);
 *	CO_AWAIT(t, co_sleep(t, 500), &err);
 *	err = co_timeout_exit(&f->scope, err);	// -ETIMEDOUT
 *
 * Scopes nest: each one reports only its own expiry.  Enter returns 0 or
 * -ENOMEM (the timer heap could not grow; no scope was entered).
 */
struct co_timeout {
	struct co_task *task;
	struct loop_timer timer;
	bool expired;
};
int co_timeout_enter(struct co_task *t, struct co_timeout *s, long timeout_ms);
int co_timeout_exit(struct co_timeout *s, int result);

/* ---------------------------------------------------------------- Event */

/* asyncio.Event: wait returns at once while set; set wakes every waiter. */
struct co_event {
	bool set;
	struct co_link waiters;
};
void co_event_init(struct co_event *e);
void co_event_set(struct co_event *e);
void co_event_clear(struct co_event *e);
int co_event_wait(struct co_task *t, struct co_event *e); /* awaitable */

/* ---------------------------------------------------------------- Queue */

/*
 * asyncio.Queue(maxsize) of pointers, in a ring the caller provides
 * (@slots of @cap entries, @cap >= 1): put waits while the queue is full,
 * get while it is empty, each in FIFO order.  An item is handed straight
 * to the oldest waiting getter, and a waiting putter's item goes into the
 * ring the moment a get makes room, so an item is never lost to a
 * cancelled task and never overtakes an older one.  get stores the item in
 * *@item (in the frame) when it returns 0.
 */
struct co_queue {
	void **slots;
	size_t cap, head, len;
	struct co_link getters, putters; /* waiting tasks, FIFO */
};
int co_queue_init(struct co_queue *q, void **slots, size_t cap);      /* 0 or -EINVAL */
int co_queue_put(struct co_task *t, struct co_queue *q, void *item);  /* awaitable */
int co_queue_get(struct co_task *t, struct co_queue *q, void **item); /* awaitable */

/* ---------------------------------------------------------------- TaskGroup */

/*
 * asyncio.TaskGroup (3.11): tasks started in the group are awaited
 * together by co_group_wait().  The first child to fail (with anything but
 * -ECANCELED) cancels every other child; the wait returns that error once
 * all of them have finished, or 0.  Cancelling the task in
 * co_group_wait() cancels every child, waits for them, and returns
 * -ECANCELED.  Unlike Python, a failure does not cancel the task that owns
 * the group: it learns of it at co_group_wait().  Each child has a
 * struct co_member, in the owner's frame, that links it into the group.
 */
struct co_member {
	struct co_callback cb; /* on the child's done */
	struct co_task *task;
	struct co_member *next;
};
struct co_group {
	struct loop *loop;
	struct co_task *waiter;	   /* in co_group_wait(), or NULL */
	struct co_member *members; /* every child started */
	size_t left;		   /* children not finished */
	int first_error;
	bool cancelled; /* the waiter was cancelled */
};
void co_group_init(struct co_group *g, struct loop *loop);
void co_group_start(struct co_group *g, struct co_member *m, struct co_task *child,
		    co_step_fn *step, const char *name);
int co_group_wait(struct co_task *t, struct co_group *g); /* awaitable */

/* ---------------------------------------------------------- run_in_executor */

/*
 * loop.run_in_executor: run @fn(@arg) on chapter 01's executor @ex (a
 * worker thread) and wake the task when it has returned; the loop thread
 * sleeps meanwhile, and the loop stays alive (loop_ref) until the result
 * is back.  The await returns @fn's result (0 or its negative errno), with
 * its output in c->result and its message in c->err; or the executor's
 * -ESHUTDOWN / -ENOMEM.
 *
 * Cancelling the task cannot stop a thread.  A call still queued in the
 * executor is cancelled there and never runs; the await returns
 * -ECANCELED on the next iteration.  A call already running runs to its
 * end, and only then does the await return -ECANCELED (its result
 * discarded, what it allocated the caller's to free from c->result).  Python
 * returns at once and lets the thread run on; C cannot, because @arg and
 * the result live in the frame the thread is still using.
 */
struct co_exec {
	struct co_task *waiter;
	struct loop *loop;
	struct future *fut;
	struct loop_call post; /* the result's way back to the loop thread */
	void *result;
	bool cancelled;
	char err[EXECUTOR_ERRMAX];
};
int co_run_in_executor(struct co_task *t, struct co_exec *c, struct executor *ex,
		       executor_task_fn *fn, void *arg);

#endif
