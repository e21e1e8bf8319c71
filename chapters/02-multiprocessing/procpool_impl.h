/*
 * procpool_impl.h - the process pool's private structures, shared by
 * procpool.c (the workers and their lifecycle) and pool_map.c (exercise
 * 02-pool-map: dispatch, the poll loop, collection, a dead worker, map).
 * Users of the pool include procpool.h only.
 */
#ifndef WB_PROCPOOL_IMPL_H
#define WB_PROCPOOL_IMPL_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "frame.h"
#include "procpool.h"

/* Frame kinds: pool -> worker, and worker -> pool. */
enum {
	PP_CHUNK = 1, /* id: first task; payload: struct pp_chunk_hdr, then the tasks */
	PP_RESULT,    /* id: the task; payload: the result bytes */
	PP_ERROR,     /* id: the task; payload: int32_t code, then the message */
};

/*
 * A chunk frame's payload starts with the function and the task count;
 * each task follows as a uint32_t length and its bytes.  The function
 * pointer means the same function in the worker: it was forked, not
 * exec'd, from this very program.
 */
struct pp_chunk_hdr {
	procpool_fn *fn;
	uint32_t count;
};

/*
 * One batch of work: a map, an unordered iterator, or one async task.
 * outcomes[i] holds task i's outcome once finished[i] is set; order[] lists
 * the finished tasks in the order they finished (the unordered iterator
 * hands them out from there).
 */
struct pp_job {
	procpool_fn *fn;
	const struct pp_blob *inputs;
	size_t n;
	struct pp_result *outcomes;
	bool *finished;
	size_t *order;
	size_t done; /* tasks with an outcome: the length of order[] */
};

/* Tasks first .. first + count - 1 of @job. */
struct pp_chunk {
	struct pp_job *job;
	size_t first, count;
};

/*
 * A worker as the pool sees it.  While busy, it runs @chunk and has
 * answered the first @answered tasks of it, so the task it is running now
 * is chunk.first + answered.  A chunk whose job was abandoned keeps job
 * NULL: its answers are read and dropped.
 */
struct pp_worker {
	pid_t pid; /* 0: no process (after join or terminate) */
	int fd;	   /* the pool's end of the socketpair, or -1 */
	bool busy;
	struct pp_chunk chunk;
	size_t answered;
};

struct procpool {
	int size;
	struct pp_worker *workers;
	struct pollfd *pfds; /* size + 1: the workers, then the wakeup fd */
	int wakeup_fd;
	/* Chunks waiting for an idle worker: a ring of qcap slots. */
	struct pp_chunk *queue;
	size_t qhead, qlen, qcap;
	bool closed;
	struct procpool_stats stats;
};

/* ----------------------------------------------------------- procpool.c */

/* Fork a fresh worker into slot @w (replacing nobody).  0 or -errno. */
int pp_fork_worker(struct procpool *p, struct pp_worker *w);

/* Put @c at the back (or, to re-run it first, the front) of the queue. */
int pp_queue_push(struct procpool *p, struct pp_chunk c, bool front);

/* Take the chunk at the front of the queue; false when it is empty. */
bool pp_queue_pop(struct procpool *p, struct pp_chunk *c);

/* Send chunk @c to idle worker @w as one frame: 0 or -errno (-EPIPE: it died). */
int pp_send_chunk(struct procpool *p, struct pp_worker *w, struct pp_chunk c);

/*
 * Wait for worker @w's process to end (killing it first, so that the wait
 * is certain to end), close its socket, and describe how it ended into
 * @buf ("killed by SIGKILL", "exited with status 3").
 */
void pp_reap(struct pp_worker *w, char *buf, size_t len);

/* Record task @i of @job as finished with outcome @r (moved in). */
void pp_finish(struct pp_job *job, size_t i, struct pp_result *r);

/* Drop @job's queued chunks, and let busy workers' answers for it fall. */
void pp_abandon(struct procpool *p, struct pp_job *job);

/* Allocate and release a job's tracking arrays (its outcomes are the caller's). */
int pp_job_init(struct pp_job *job, procpool_fn *fn, const struct pp_blob *inputs, size_t n,
		struct pp_result *outcomes);
void pp_job_destroy(struct pp_job *job);

/* ------------------------------------------------------------ pool_map.c */

/* Cut @job into chunks of @chunksize (0: the default rule) and queue them. */
int pp_submit(struct procpool *p, struct pp_job *job, size_t chunksize);

/*
 * One step of every wait: hand queued chunks to idle workers, then sleep
 * in poll(2) until a worker answers or dies, the wakeup descriptor fires
 * or @deadline (clock.h) passes, and handle what happened.  Returns 0
 * after handling events, -ETIMEDOUT, -EINTR, or another -errno.
 */
int pp_step(struct procpool *p, int64_t deadline);

#endif
