/*
 * procpool.h - a pool of forked worker processes, the C twin of Python's
 * multiprocessing.Pool.
 *
 * procpool_new() forks the workers at once.  Each worker is a copy of the
 * calling process and talks to the pool over its own socketpair(2), in
 * frames (frame.h).  Work travels as a function pointer plus an input
 * blob; the result travels back as a result blob.  Because the workers are
 * forked and never exec, a function has the same address in the pool's
 * process and in every worker: sending the pointer is how a task names its
 * function, as Python pickles a function by its name.  Everything else a
 * task needs must travel in its input bytes: the worker's memory is a copy
 * taken at fork time, and nothing it changes is seen by the pool.
 *
 * Fork before threads.  fork() copies only the calling thread; a lock held
 * by any other thread at that instant stays locked forever in the child.
 * The pool forks in procpool_new() and again whenever it replaces a dead
 * worker, so create it before the program starts any thread and call it
 * only while no other thread runs.  The pool cannot see other threads:
 * this is the caller's promise.  The pool itself starts none.
 *
 * Tasks.  A task function runs in a worker:
 *
 *	int fn(const void *in, size_t len, struct pp_out *out);
 *
 * reads @len bytes at @in, appends its result with pp_out_write(), and
 * returns 0; or returns a negative errno code, with a message set by
 * pp_out_error() if there is more to say.  A task may print; it must not
 * call exit() (that would end the worker, and the pool would report the
 * task as lost).
 *
 * Chunks.  Tasks go to the workers in chunks of consecutive inputs, one
 * frame per chunk, and a worker answers each task of its chunk with one
 * frame as soon as it is done.  A worker gets a new chunk only once it has
 * answered every task of the last one.  chunksize 0 asks for Python's rule:
 * ceil(n / (4 * workers)).
 *
 * Worker death.  A worker that dies while running a task (a crash, kill -9,
 * the OOM killer) turns THAT task into an error, code -ECHILD and a
 * message such as "worker 4123 killed by SIGKILL while running task 2";
 * the pool reaps it, forks a replacement, and queues the rest of that
 * worker's chunk again, so every other task still runs.  A worker that dies
 * idle is replaced in silence.  Workers die with the pool's process: each
 * asks the kernel for SIGKILL when its parent goes (PR_SET_PDEATHSIG).
 *
 * Waiting.  The pool is single-threaded: nothing happens in the background.
 * Every call that waits (map, the unordered iterator's next, get, join)
 * sends the queued chunks to idle workers and reads the results, sleeping
 * in poll(2) over the workers' sockets between events.  A descriptor given
 * to procpool_set_wakeup_fd() ends any wait with -EINTR as soon as it is
 * readable: the way to stop a long map on Ctrl-C (a signal handler writes a
 * byte to a pipe) or after a time (a timerfd).
 *
 * Lifecycle:
 *	procpool_new()        fork the workers, all idle
 *	procpool_map(), procpool_imap_unordered(), procpool_apply_async()
 *	procpool_close()      refuse new work; queued work still runs
 *	procpool_join()       after close: run what is queued, end the workers,
 *	                      reap them
 *	procpool_terminate()  SIGKILL every worker now and reap it; queued and
 *	                      running tasks are lost (their results, -ESHUTDOWN)
 *	procpool_free()       terminate unless joined, release everything
 * The pool belongs to the process that created it; call it from one thread.
 *
 * Results.  A struct pp_result holds one task's outcome: err (0 or a
 * negative errno), the result bytes (malloc'd; pp_result_release() frees
 * them) and a message.  Errors of the pool's own calls are values: 0 or a
 * negative errno, put into words by procpool_strerror().  Nothing here
 * prints or exits.
 *
 * Where the code is: procpool.c (the workers, their lifecycle, the
 * unordered iterator and async submission) and, as exercise 02-pool-map,
 * solutions/02-multiprocessing/pool_map.c (dispatching chunks, the poll
 * loop, collecting results, burying a dead worker, and procpool_map).
 */
#ifndef WB_PROCPOOL_H
#define WB_PROCPOOL_H

#include <stddef.h>
#include <sys/types.h>

struct procpool;
struct pp_out;

/* The most workers one pool may have. */
#define PROCPOOL_MAX_WORKERS 256

/* The largest input or result of one task, in bytes. */
#define PROCPOOL_MAX_BYTES (64u << 20)

/* How long a task's or the pool's message may be, terminator included. */
#define PROCPOOL_ERRMAX 160

/* A task: see above.  Runs in a worker process. */
typedef int procpool_fn(const void *in, size_t len, struct pp_out *out);

/* Append @len bytes to the task's result.  Returns 0 or -ENOMEM / -EMSGSIZE. */
int pp_out_write(struct pp_out *out, const void *data, size_t len);

/* Set the message that goes with the task's error code. */
void pp_out_error(struct pp_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One task's input: @len bytes at @data (NULL when @len is 0). */
struct pp_blob {
	const void *data;
	size_t len;
};

/* One task's outcome. */
struct pp_result {
	int err;		   /* 0, the task's code, or -ECHILD (its worker died) */
	unsigned char *data;	   /* the result bytes, malloc'd, '\0' after them; or NULL */
	size_t len;		   /* how many */
	char msg[PROCPOOL_ERRMAX]; /* "" or what went wrong */
};

/* Free @r's bytes (and forget its outcome).  Safe to call twice. */
void pp_result_release(struct pp_result *r);

/* What the pool has done so far: for demos and tests. */
struct procpool_stats {
	unsigned long chunks_sent; /* chunk frames sent to workers */
	unsigned long results;	   /* task results received (errors included) */
	unsigned long lost;	   /* workers that died and were reaped */
	unsigned long forked;	   /* workers forked, replacements included */
};

/* ------------------------------------------------------------------ pool */

/*
 * Fork @workers worker processes (1 to PROCPOOL_MAX_WORKERS), each with its
 * own socketpair.  Call before any thread exists (see above); stdio
 * buffers are flushed first, so the workers do not print them again.
 * Returns 0 and the pool in *@out, or -EINVAL, -ENOMEM, -EMFILE, or the
 * errno of a failed fork (-EAGAIN): the workers already forked are then
 * killed and reaped, and *@out is NULL.
 */
int procpool_new(struct procpool **out, int workers);

/* How many workers the pool keeps. */
int procpool_size(const struct procpool *p);

/* The pid of worker @i (0 <= i < size): it changes when a worker is replaced. */
pid_t procpool_pid(const struct procpool *p, int i);

/* The counters above. */
void procpool_stats(const struct procpool *p, struct procpool_stats *s);

/*
 * From now on every wait of the pool ends with -EINTR once @fd is readable
 * (the pool never reads it; the caller drains it).  -1 removes it.
 */
void procpool_set_wakeup_fd(struct procpool *p, int fd);

/*
 * Python's default chunksize for @n tasks on @workers workers:
 * ceil(n / (4 * workers)), and at least 1.
 */
size_t procpool_chunksize(size_t n, int workers);

/*
 * Run @fn over the @n inputs, @chunksize tasks per chunk (0: the rule
 * above), and store each outcome in @results[i] in INPUT order, whatever
 * order the workers finish in.  Blocks until every task has an outcome.
 * Returns 0 when every task succeeded; otherwise the code of the first
 * failed task in input order (every other result is still there; each
 * results[i].err says how task i went); or, with nothing useful in
 * @results: -EINVAL, -ESHUTDOWN after close, -ENOMEM, or -EINTR when the
 * wakeup descriptor fired (the tasks still running are abandoned: their
 * answers are read and dropped by later calls).  Release every result with
 * pp_result_release() in any case.
 */
int procpool_map(struct procpool *p, procpool_fn *fn, const struct pp_blob inputs[], size_t n,
		 size_t chunksize, struct pp_result results[]);

/* --------------------------------------------------- imap_unordered */

/*
 * The outcomes of a map in the order the tasks FINISH, one at a time, like
 * Pool.imap_unordered.  The inputs are borrowed: keep them valid until the
 * iterator is freed.  Returns 0 and the iterator in *@out, or -EINVAL,
 * -ESHUTDOWN, -ENOMEM.
 */
struct pp_iter;
int procpool_imap_unordered(struct procpool *p, procpool_fn *fn, const struct pp_blob inputs[],
			    size_t n, size_t chunksize, struct pp_iter **out);

/*
 * Wait for the next task to finish and move its outcome into *@r (the
 * caller releases it), with its input's index in *@index.  Returns 1, 0
 * once all were handed out, or -EINTR (wakeup descriptor).  Blocks.
 */
int pp_iter_next(struct pp_iter *it, size_t *index, struct pp_result *r);

/* Release the iterator; tasks still queued are dropped.  NULL is ignored. */
void pp_iter_free(struct pp_iter *it);

/* ------------------------------------------------------------- async */

/*
 * Queue one task, like Pool.apply_async: the input bytes are copied, and
 * the task runs while the caller does other things with the pool (a wait
 * of any kind moves it along).  Returns 0 and a handle in *@out, or
 * -EINVAL, -ESHUTDOWN, -ENOMEM.
 */
struct pp_async;
int procpool_apply_async(struct procpool *p, procpool_fn *fn, const void *in, size_t len,
			 struct pp_async **out);

/*
 * Wait until the task has an outcome, at most @timeout_ms milliseconds in
 * all (negative: no limit; one monotonic deadline, however many events
 * come first), and move it into *@r.  Returns 0 (look at r->err),
 * -ETIMEDOUT (the task goes on; call again), -EALREADY (taken already), or
 * -EINTR.  Blocks.
 */
int pp_async_get(struct pp_async *a, long timeout_ms, struct pp_result *r);

/* Release the handle; a task still queued is dropped.  NULL is ignored. */
void pp_async_free(struct pp_async *a);

/* ------------------------------------------------------------- the end */

/* Refuse new work from now on (-ESHUTDOWN); queued work still runs. */
void procpool_close(struct procpool *p);

/*
 * After procpool_close(): wait until every queued task has run (their
 * outcomes go to whoever asked for them), then let the workers exit and
 * reap them.  Returns 0, -EINVAL before close, or -EINTR.  Blocks.
 */
int procpool_join(struct procpool *p);

/* Kill every worker with SIGKILL now and reap it; drop every queued task. */
void procpool_terminate(struct procpool *p);

/*
 * Terminate unless joined, and release the pool.  Iterators and async
 * handles must be freed first.  NULL is ignored.
 */
void procpool_free(struct procpool *p);

/* A sentence for a code returned here, the pool's own codes phrased for it. */
const char *procpool_strerror(int err);

#endif
