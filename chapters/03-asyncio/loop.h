/*
 * loop.h - a single-threaded event loop, the machinery under asyncio.
 *
 * One thread asks the kernel "which of these descriptors is ready, or how
 * long until the next timer?", sleeps until one of them is, and runs the
 * callbacks that were waiting for it.  Everything else in this chapter
 * (tasks, sleep, gather, the HTTP server, libcurl's sockets) is built from
 * the four things a loop can wait for:
 *
 *   an fd watch   loop_watch(): call back when an fd is readable/writable;
 *   a timer       loop_timer_start(): call back at an absolute deadline;
 *   a soon call   loop_call_soon(): call back on the next iteration;
 *   a post        loop_post(): like a soon call, but from another thread.
 *
 * One iteration of loop_run():
 *
 *   1. wait in the backend (epoll_wait or poll) until an fd is ready, the
 *      earliest timer is due, or a post arrives; without timers and soon
 *      calls the wait has no time limit, so an idle loop burns no CPU.
 *      With soon calls queued the wait would return at once, and the loop
 *      makes it only if 50 us have passed since the last one: tasks that
 *      hand control to each other do not pay a system call per hand-over,
 *      and a ready fd is noticed within 50 us plus one batch of calls;
 *   2. run the callbacks of the ready fds;
 *   3. collect every timer due by now, then run them in deadline order,
 *      equal deadlines in the order they were started (FIFO): a timer a
 *      callback starts during this step waits for the next iteration;
 *   4. run the soon calls queued before this step began, FIFO; those they
 *      queue run on the next iteration, so a callback that keeps queueing
 *      itself cannot starve the fds and timers.
 *
 * The loop runs until loop_stop() is called or nothing is left that could
 * ever call back: no watch, no timer, no soon call and no reference taken
 * with loop_ref() (work on another thread that will post its result).
 *
 * Timer slack.  Linux lets the kernel wake a sleeping thread up to its
 * "timer slack" late (50 us by default), so that it can wake several
 * sleepers at once and save power.  A loop's timers are deadlines it has
 * promised to its callbacks, so while loop_run() runs, its thread's slack
 * is 1 ns (prctl PR_SET_TIMERSLACK); loop_run() puts the old value back
 * when it returns.
 *
 * Ownership.  Timers and soon calls are intrusive: the caller owns the
 * struct loop_timer or struct loop_call (usually inside its own struct,
 * such as a task's frame) and keeps it alive and in place until it has run
 * or been stopped.  So starting a timer allocates nothing, which is what
 * lets a loop hold a million sleeping tasks.  Watches are kept by the loop,
 * one per fd; closing an fd without loop_unwatch() first is a bug.
 *
 * Threads.  Every function must be called on the loop's own thread (the one
 * running loop_run(), or before it starts), except loop_post(), which any
 * thread may call while the loop exists.
 *
 * Backends.  How the loop waits is behind a small table of operations
 * (loop_impl.h): epoll (Linux's, the default) and poll (POSIX's, everywhere;
 * it costs O(fds) per wait).  Both are always built; WB_LOOP_BACKEND=poll
 * in the environment makes loop_new(LOOP_DEFAULT) choose poll, which is how
 * the tests run everything on both.
 *
 * Errors are values: 0 or a negative errno.  Nothing here prints or exits.
 */
#ifndef WB_LOOP_H
#define WB_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

enum loop_backend {
	LOOP_DEFAULT, /* epoll, or what WB_LOOP_BACKEND names */
	LOOP_EPOLL,
	LOOP_POLL,
};

/* Events of an fd watch.  LOOP_ERROR (a hang-up or an error on the fd) is
 * reported whether or not it was asked for, as poll(2) does. */
#define LOOP_READ 0x1u
#define LOOP_WRITE 0x2u
#define LOOP_ERROR 0x4u

typedef void loop_io_fn(struct loop *loop, int fd, unsigned events, void *arg);

struct loop_timer;
typedef void loop_timer_fn(struct loop *loop, struct loop_timer *timer);

/* A timer: fill nothing in, just start it.  The fields are the loop's. */
struct loop_timer {
	int64_t deadline;  /* CLOCK_MONOTONIC ns */
	uint64_t seq;	   /* start order, for FIFO among equal deadlines */
	size_t slot;	   /* index in the heap, or LOOP_TIMER_IDLE */
	loop_timer_fn *fn; /* find your struct with container_of-style math */
};
#define LOOP_TIMER_IDLE SIZE_MAX
#define LOOP_TIMER_INIT                                                                            \
	{                                                                                          \
		.slot = LOOP_TIMER_IDLE                                                            \
	}

/* A soon call or a post: the fields are the loop's while it is queued. */
struct loop_call;
typedef void loop_call_fn(struct loop *loop, struct loop_call *call);
struct loop_call {
	struct loop_call *next, *prev; /* prev is NULL unless queued */
	loop_call_fn *fn;
};
#define LOOP_CALL_INIT                                                                             \
	{                                                                                          \
		0                                                                                  \
	}

/*
 * Make a loop that waits with @backend.  Returns 0 and the loop in *@out,
 * or -ENOMEM, -EINVAL (an unknown backend, or WB_LOOP_BACKEND naming one),
 * or the errno of epoll_create1/eventfd.
 */
int loop_new(struct loop **out, enum loop_backend backend);

/* The backend's name: "epoll" or "poll". */
const char *loop_backend_name(const struct loop *loop);

/*
 * Free @loop.  Watches, timers and soon calls still registered are
 * forgotten without being called; the fds are not closed.
 */
void loop_free(struct loop *loop);

/*
 * Run iterations until loop_stop() or until nothing is left that could
 * call back.  Blocks.  Returns 0, or a negative errno if the backend's wait
 * failed (EINTR is retried, not returned).
 */
int loop_run(struct loop *loop);

/* Make loop_run() return after the current iteration. */
void loop_stop(struct loop *loop);

/*
 * The time this iteration started waking callbacks (CLOCK_MONOTONIC ns),
 * cached so that every callback of one iteration sees the same "now";
 * loop_update_time() reads the clock again.
 */
int64_t loop_now(const struct loop *loop);
void loop_update_time(struct loop *loop);

/*
 * Watch @fd for @events (LOOP_READ, LOOP_WRITE or both): @fn(loop, fd,
 * ready, arg) runs in each iteration in which @fd is ready.  Watching an fd
 * already watched replaces its events, callback and argument.  @events 0
 * keeps the watch but asks for nothing (and keeps the loop alive).
 * Returns 0, -EBADF (a negative fd) or -ENOMEM, or the backend's errno
 * (epoll refuses regular files with -EPERM).
 */
int loop_watch(struct loop *loop, int fd, unsigned events, loop_io_fn *fn, void *arg);

/* Stop watching @fd (no-op if it is not watched).  Call before close(fd). */
void loop_unwatch(struct loop *loop, int fd);

/*
 * Start @timer: @fn(loop, timer) runs once, in the first iteration after
 * CLOCK_MONOTONIC reaches @deadline_ns.  A running timer is restarted.
 * Returns 0 or -ENOMEM (the heap could not grow; the timer is not started).
 */
int loop_timer_start(struct loop *loop, struct loop_timer *timer, int64_t deadline_ns,
		     loop_timer_fn *fn);

/* Stop @timer if it is running.  Safe on a timer that has fired. */
void loop_timer_stop(struct loop *loop, struct loop_timer *timer);

/* True while @timer is started and has not fired or been stopped. */
bool loop_timer_active(const struct loop_timer *timer);

/*
 * Queue @call: @fn(loop, call) runs once, on the next iteration, after the
 * calls queued before it.  Queueing a call that is already queued changes
 * nothing (it still runs once).
 */
void loop_call_soon(struct loop *loop, struct loop_call *call, loop_call_fn *fn);

/* Take @call off the queue if it is there (it will not run). */
void loop_call_cancel(struct loop *loop, struct loop_call *call);

/*
 * From any thread: queue @call to run on the loop's thread, and wake the
 * loop if it is waiting (one write to an eventfd).  The caller must not
 * touch @call again until @fn has run.  Never blocks for long: the lock
 * it takes guards the queue of posts and that one write, so the loop can
 * take the call, and end, only once the write is done.
 */
void loop_post(struct loop *loop, struct loop_call *call, loop_call_fn *fn);

/*
 * Keep loop_run() from returning for lack of work while something outside
 * the loop (a thread that will loop_post() a result) is still on its way.
 * Each loop_ref() needs one loop_unref(), on the loop's thread.
 */
void loop_ref(struct loop *loop);
void loop_unref(struct loop *loop);

/* How many timers are running: the size of the heap (for tests and demos). */
size_t loop_timer_count(const struct loop *loop);

/*
 * One pointer for the layer built on the loop (libuv's loop->data): the
 * coroutine layer keeps its list of running tasks there.  NULL at first;
 * the loop never reads it.
 */
void loop_set_data(struct loop *loop, void *data);
void *loop_data(const struct loop *loop);

#endif
