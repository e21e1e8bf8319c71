/*
 * executor_impl.h - PRIVATE to the executor's .c files (pool.c, future.c,
 * map.c, as_completed.c).  Programs include executor.h only.
 *
 * The executor is split into files with one job each, and they meet here:
 * the two structures, and the few calls one file makes into another.
 *
 * Locking: ex->lock guards the queue and the executor's flags; a
 * worker's batch_lock guards its batch; f->lock guards one future.  When
 * two are needed, they are taken in that order.  No callback ever runs
 * with any of them held.
 */
#ifndef WB_EXECUTOR_IMPL_H
#define WB_EXECUTOR_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "clock.h"
#include "executor.h"

/* A done callback waiting for its future to finish (a FIFO list). */
struct future_callback {
	future_callback_fn *fn;
	void *data;
	struct future_callback *next;
};

struct future {
	pthread_mutex_t lock;	/* guards every field up to refs */
	pthread_cond_t done_cv; /* broadcast when the future finishes */
	enum future_state state;
	int error;    /* DONE: the task's code; CANCELLED: -ECANCELED */
	void *result; /* DONE with error 0: what the task stored */
	char *errmsg; /* DONE with error: a copy of its message, or NULL */
	struct future_callback *callbacks, **callbacks_tail;

	atomic_int refs; /* see future_ref(); needs no lock */

	/* Set once by future_new(), read-only afterwards. */
	executor_task_fn *fn;
	void *arg;

	/* The executor's queue link, guarded by ex->lock, not f->lock. */
	struct future *next;
};

struct worker {
	struct executor *ex;
	pthread_t thread;
	int id; /* 1, 2, ... as in "Thread-1" */

	/*
	 * Futures this worker took off the queue along with the one it runs,
	 * none started yet: a FIFO chain, filled under ex->lock and then
	 * batch_lock (in that order), emptied under batch_lock alone.
	 */
	pthread_mutex_t batch_lock;
	struct future *batch;
};

struct executor {
	pthread_mutex_t lock;	/* guards the queue and the fields below */
	pthread_cond_t work_cv; /* work arrived, or shutdown began */
	/* FIFO of queued futures; tail is NULL exactly when head is. */
	struct future *head, *tail;
	size_t queued; /* how many; 0 exactly when head is NULL */
	int idle;      /* workers blocked on work_cv */
	bool waking;   /* a worker was sent for and has not looked yet */
	bool shutdown; /* no more submissions */

	/* Whoever joins the workers holds join_lock, so it happens once. */
	pthread_mutex_t join_lock;
	bool joined;

	int nworkers;
	struct worker *workers;
	char name_prefix[16];
};

/*
 * For assert(): whether @mu is locked.  It cannot tell by whom, but it
 * catches the usual mistake, a function that expects its caller to hold
 * the lock called without it.
 */
static inline bool mutex_held(pthread_mutex_t *mu)
{
	if (pthread_mutex_trylock(mu) != 0)
		return true;
	PT_CHECK(pthread_mutex_unlock(mu));
	return false;
}

/* ------------------------------------------------ future.c, for the others */

/*
 * A new PENDING future for @fn(@arg), with one reference, in *@out.
 * Returns 0, or -ENOMEM (or another -errno from pthread) and leaves *@out
 * alone.  Whoever hands the future on takes a reference for the taker with
 * future_ref().
 */
int future_new(struct future **out, executor_task_fn *fn, void *arg);

/*
 * Run @f's task in the calling worker: PENDING -> RUNNING -> DONE, then
 * wake the waiters and run the callbacks.  A future cancelled while it was
 * queued is skipped.  The caller keeps its reference.
 */
void future_run(struct future *f);

/*
 * Block until @f is finished or the monotonic clock reaches @deadline_ns
 * (CLK_NEVER: no limit; see clk_deadline_ms()).  Returns 0 (finished) or
 * -ETIMEDOUT.
 */
int future_wait_until(struct future *f, int64_t deadline_ns);

/* -------------------------------------------------- pool.c, for the others */

/*
 * Queue @n futures for @fn(args[i]) under one acquisition of the lock,
 * storing them in @out (one reference each, the caller's).  All or nothing:
 * returns 0, or -ESHUTDOWN, -EINVAL, -ENOMEM with nothing queued and @out
 * all NULL.
 */
int executor_submit_many(struct executor *ex, executor_task_fn *fn, void *const args[], size_t n,
			 struct future *out[]);

#endif
