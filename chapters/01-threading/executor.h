/*
 * executor.h - a thread-pool executor with futures, the C twin of Python's
 * concurrent.futures.ThreadPoolExecutor.
 *
 * An executor owns a fixed set of worker threads and one FIFO queue of
 * tasks.  executor_submit() puts a task on the queue and hands back a
 * future: the place where that task's result (or failure) will appear.  A
 * worker takes the oldest task, runs it, and settles its future.  Tasks
 * leave the queue in the order they were submitted, so one worker starts
 * them in that order.  When many tasks wait, a worker takes the oldest few
 * at once (at most 16, and only a quarter of its share of the queue) and
 * runs them one after another: that saves a trip through the queue's lock
 * per task, and it costs this: a task taken that way may wait for the
 * tasks taken before it, even when another worker has become idle.
 *
 * A future moves through one state machine, and only forwards:
 *
 *	PENDING --worker takes it--> RUNNING --task returns--> DONE
 *	   |
 *	   +------future_cancel() or shutdown(cancel_futures)--> CANCELLED
 *
 * Once DONE or CANCELLED ("finished") it never changes again, so whatever
 * a caller read from a finished future stays true.
 *
 * Ownership.  Futures are reference counted: whoever holds a pointer to one
 * holds a reference and drops it with future_unref().  executor_submit()
 * gives the caller one reference; the executor keeps its own until the
 * worker is done with the task, so a caller may drop its reference early
 * ("fire and forget") and the task still runs.  A future never points back
 * at its executor, so futures may outlive executor_free().  The argument
 * and the result of a task belong to the caller; the executor only passes
 * the pointers along.
 *
 * Lifecycle of an executor:
 *
 *	executor_new()       start max_workers threads, all idle
 *	executor_submit()    any number of times, from any thread
 *	executor_map()       likewise
 *	executor_shutdown()  refuse new tasks; optionally cancel the queued
 *	                     ones; optionally wait until the workers exit
 *	executor_free()      wait for the workers (shutting down first if that
 *	                     was not done) and release everything
 *
 * Every function may be called from any thread, the tasks included, with
 * one exception: a task must not wait for its own worker to exit.  So a
 * task may not call executor_free() on its own executor, and its
 * executor_shutdown() with wait returns -EDEADLK.  A task that waits for
 * another task of the same executor can deadlock when every worker is
 * waiting: give such work its own executor.
 *
 * Errors are values: functions return 0 or a negative errno code, and
 * executor_strerror() turns a code into a sentence.  Nothing here prints or
 * exits; only a broken invariant (a pthread call that cannot fail, failing,
 * or an assert() about the queue, a lock or a count) aborts.  Two
 * executors share nothing.
 *
 * Where the code is: the executor is this chapter's four exercises, in
 * solutions/01-threading/ (the finished files; exercises/01-threading/
 * holds the learner's): pool.c (the queue, the workers, new, submit,
 * shutdown, free), future.c (the future_* calls), map.c (executor_map)
 * and as_completed.c (as_completed_*).  They share the private structures
 * of executor_impl.h.  names.c here holds executor_strerror() and
 * future_state_name().
 */
#ifndef WB_EXECUTOR_H
#define WB_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>

struct executor;
struct future;

/*
 * A task: compute something from @arg and store it in *@result (NULL on
 * entry), then return 0.  To fail, return a negative errno code (a positive
 * one is taken as its negation) and, if there is more to say, write a
 * message into @err, a buffer of @errlen bytes that starts out empty.  C has
 * no exceptions; this code and message are how a failure reaches whoever
 * asks for the result.  The task runs on a worker thread: whatever it
 * shares with other threads must be protected.
 */
typedef int executor_task_fn(void *arg, void **result, char *err, size_t errlen);

/* How long a message a task may leave in @err, terminator included. */
#define EXECUTOR_ERRMAX 256

enum future_state {
	FUTURE_PENDING,	  /* queued, not yet taken by a worker */
	FUTURE_RUNNING,	  /* a worker is running the task */
	FUTURE_DONE,	  /* the task returned; result or error stored */
	FUTURE_CANCELLED, /* cancelled before it started; never runs */
};

/* ------------------------------------------------------------ executor */

/*
 * Start an executor with @max_workers threads (1 to EXECUTOR_MAX_WORKERS).
 * Each worker names itself "@name_prefix-N" (N from 1) in log lines, so a
 * task's log_msg() says which thread ran it; NULL means "worker".
 * Returns 0 and stores the executor in *@out, or -EINVAL (bad count, or a
 * prefix longer than 15 bytes), -ENOMEM, or -EAGAIN (no more threads).
 */
int executor_new(struct executor **out, int max_workers, const char *name_prefix);

#define EXECUTOR_MAX_WORKERS 1024

/*
 * Queue @fn(@arg).  Returns 0 and a new future in *@out (one reference, the
 * caller's), or -ESHUTDOWN after executor_shutdown(), -EINVAL, -ENOMEM with
 * *@out set to NULL.  Never blocks on the queue (it has no size limit) or
 * on running tasks.
 */
int executor_submit(struct executor *ex, executor_task_fn *fn, void *arg, struct future **out);

/*
 * Run @fn over the @n values of @args, at most max_workers at a time, and
 * store each task's result in @results in INPUT order, whatever order the
 * tasks finish in.  Blocks until every task finished, or until @timeout_ms
 * milliseconds after the call (negative: no limit).  The timeout covers the
 * whole call, as in Python's Executor.map, not each task.
 *
 * Returns 0 when every task succeeded.  Otherwise the tasks that have not
 * started yet are cancelled, tasks already running are left to finish on
 * their own, and the return value is:
 *	-ETIMEDOUT	the deadline passed first;
 *	the code of the first task, in input order, that failed; its message,
 *			prefixed with its index ("task 3: ..."), goes to @err;
 *	-ESHUTDOWN, -EINVAL, -ENOMEM as for executor_submit() (nothing ran).
 * On failure, results[i] holds the result of every task before the first
 * one that failed or was not waited for, and NULL from there on.  @err may
 * be NULL; otherwise it gets "" on success.
 *
 * After a failure some tasks may still be running, and map has no future
 * left to hand back for them: the values in @args must stay valid, and any
 * result those tasks allocate is the task's to free, until
 * executor_shutdown(wait) or executor_free() has returned.  (Python's
 * reference counting hides this; C does not.)
 */
int executor_map(struct executor *ex, executor_task_fn *fn, void *const args[], size_t n,
		 void *results[], long timeout_ms, char *err, size_t errlen);

/*
 * Stop accepting tasks: from now on submit and map return -ESHUTDOWN.
 * With @cancel_futures, every task that has not started is cancelled,
 * those a worker took in a batch included (its future becomes CANCELLED
 * and its done callbacks run, in this thread).  Tasks already running
 * always finish.  With @wait, block until the queue is
 * empty and every worker thread has exited and been joined.  Calling it
 * again is harmless; a later call with @wait still waits.  Returns 0, or
 * -EDEADLK when asked to wait from one of this executor's own tasks.
 */
int executor_shutdown(struct executor *ex, bool wait, bool cancel_futures);

/*
 * Shut down with wait (unless already done), join the workers and release
 * the executor.  Futures the caller still holds stay valid.  Must not be
 * called from one of the executor's own tasks.  NULL is ignored.
 */
void executor_free(struct executor *ex);

/*
 * A sentence for a code returned by this library or a task, phrased for
 * the executor's own codes ("the task was cancelled before it started").
 * Falls back to strerror() for other codes.
 */
const char *executor_strerror(int err);

/* -------------------------------------------------------------- future */

/*
 * Wait until @f is finished, or until @timeout_ms milliseconds have passed
 * (negative: no limit; 0: do not wait), then report how it ended:
 *	0		DONE, the task succeeded; *@result (if non-NULL) is set;
 *	-ETIMEDOUT	still PENDING or RUNNING when the time was up; the task
 *			is not affected and the caller may wait again;
 *	-ECANCELED	CANCELLED;
 *	other < 0	DONE, the task failed with that code; future_errmsg()
 *			has its message.
 * A task may itself return -ETIMEDOUT or -ECANCELED; future_state() tells
 * the cases apart.  Blocks (unless @timeout_ms is 0).
 */
int future_result(struct future *f, long timeout_ms, void **result);

/*
 * Cancel @f if it has not started.  Returns 0 if @f is now CANCELLED (also
 * when it already was): it will never run, its waiters wake with
 * -ECANCELED and its done callbacks run in this thread before this returns.
 * Returns -EBUSY if it is RUNNING and -EALREADY if it is DONE; a running
 * task cannot be stopped from outside.  Never blocks on the task.
 */
int future_cancel(struct future *f);

/* Whether @f is finished (DONE or CANCELLED).  Never blocks. */
bool future_done(struct future *f);

/* The state of @f at this instant.  Never blocks. */
enum future_state future_state(struct future *f);

/* "pending", "running", "done" or "cancelled". */
const char *future_state_name(enum future_state state);

/*
 * The message a failed task left, or "" (also while not yet finished).  The
 * text stays valid as long as the caller holds its reference.
 */
const char *future_errmsg(struct future *f);

/*
 * A done callback: @f has just finished; @data is what was registered.  It
 * runs in the thread that finished @f (a worker, or the one that cancelled
 * it), after @f's lock has been released, so it may call any function here,
 * submit included.  @f is valid during the call; keep it longer with
 * future_ref().
 */
typedef void future_callback_fn(struct future *f, void *data);

/*
 * Call @fn(@f, @data) once @f is finished.  Callbacks added before @f
 * finished run in the order they were added.  If @f is already finished,
 * @fn runs at once, in the calling thread, before this returns - possibly
 * while the thread that finished @f is still running the earlier ones.
 * Returns 0, or -ENOMEM (nothing registered).
 */
int future_add_done_callback(struct future *f, future_callback_fn *fn, void *data);

/* Take one more reference to @f; returns @f. */
struct future *future_ref(struct future *f);

/* Drop one reference; the last one frees @f.  NULL is ignored. */
void future_unref(struct future *f);

/* -------------------------------------------------------- as_completed */

/*
 * Futures in the order they finish, like concurrent.futures.as_completed.
 * An as_completed object holds a reference to each future it was given and
 * is fed by their done callbacks, so a future that is already finished is
 * handed out first and no future is handed out twice, even when several
 * threads call as_completed_next().
 */
struct as_completed;

/*
 * Watch the @n futures in @fs.  The overall deadline is @timeout_ms
 * milliseconds from now (negative: none), as with Python's
 * as_completed(fs, timeout).  Returns 0 and the object in *@out, or
 * -EINVAL, -ENOMEM.
 */
int as_completed_new(struct as_completed **out, struct future *const fs[], size_t n,
		     long timeout_ms);

/*
 * Hand out the next finished future (DONE or CANCELLED) in *@f, waiting for
 * one if none is ready.  The pointer is borrowed: it stays valid until
 * as_completed_free().  Returns 1 with a future, 0 once all @n futures have
 * been handed out, or -ETIMEDOUT when the deadline passed with none ready
 * (futures that finish later can still be taken by calling again).  Blocks.
 */
int as_completed_next(struct as_completed *ac, struct future **f);

/*
 * Release the object and its references.  Safe while some futures are
 * still running: their callbacks keep the internals alive until they have
 * fired.  NULL is ignored.
 */
void as_completed_free(struct as_completed *ac);

#endif
