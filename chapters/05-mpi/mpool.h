/*
 * mpool.h - chapter 02's Pool.map of factorials, as a master and workers
 * that only share messages (MPI).
 *
 * The same program starts as several ranks (mpirun -n 4 prog).  Rank 0 is
 * the master: it owns the list of tasks and the results.  Every other rank
 * is a worker that runs mpool_worker() until the master tells it to stop.
 * Nothing is shared but messages on one communicator, so the same code runs
 * unchanged when the ranks are on different machines.
 *
 * The protocol, one conversation per worker, all on the communicator given:
 *
 *	worker -> master  MPOOL_TAG_READY   (empty)   "give me work"
 *	master -> worker  MPOOL_TAG_TASK    struct mpool_task
 *	worker -> master  MPOOL_TAG_RESULT  struct mpool_head + n! as bytes
 *	master -> worker  MPOOL_TAG_STOP    (empty)   "no more work: return"
 *
 * A worker's READY or RESULT is also its request for the next task, so the
 * master hands each task to whichever worker asks first (dynamic load
 * balancing).  A worker that is never sent STOP waits for ever, and with it
 * the whole job: MPI_Finalize waits for every rank.
 *
 * MPI calls here report their errors as values: callers set MPI_ERRORS_RETURN
 * on the communicator (mpool_init() does for MPI_COMM_WORLD), and a failed
 * call becomes -EIO.  Functions return 0 or a negative errno;
 * mpool_strerror() names them.  Blocking calls say so; in Open MPI a
 * blocked receive polls (it keeps its CPU busy) rather than sleeping: MPI
 * trades a core for the lowest latency.
 */
#ifndef WB_MPOOL_H
#define WB_MPOOL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

enum mpool_tag {
	MPOOL_TAG_READY = 1,
	MPOOL_TAG_TASK,
	MPOOL_TAG_RESULT,
	MPOOL_TAG_STOP,
};

/* The master's rank. */
#define MPOOL_MASTER 0

/* One task: compute factorial(n); index is its place in the input. */
struct mpool_task {
	uint64_t n;
	uint64_t index;
};

/* What precedes a result's bytes in a RESULT message. */
struct mpool_head {
	uint64_t index;
	int64_t compute_ns; /* how long the worker computed */
};

/* One result, in the master: n! as mpz_export()'s bytes (malloc'd). */
struct mpool_result {
	unsigned char *bytes;
	size_t len;
	int rank;	    /* the worker that computed it; 0 until it arrived */
	int64_t compute_ns; /* the worker's time on it */
};

/* One message the master received (mpool_recv_any). */
struct mpool_msg {
	int source;
	int tag;
	struct mpool_head head; /* RESULT only */
	unsigned char *bytes;	/* RESULT only: malloc'd, the caller frees */
	size_t len;
};

/*
 * MPI_Init, MPI_ERRORS_RETURN on MPI_COMM_WORLD, and MPI_Finalize at exit
 * (so that a usage error's exit(2) on every rank still finalizes).  Gives
 * the rank and the number of ranks.  Exits with a message on failure.
 */
void mpool_init(int *argc, char ***argv, int *rank, int *size);

/*
 * Parse the options with @parse(argc, argv, arg) on every rank: they all see
 * the same argv, so they all reach the same verdict.  Only rank 0's
 * messages are shown: the other ranks' stdout and stderr go to /dev/null
 * meanwhile, so a usage error is one line and --help one usage, however
 * many ranks exit with them.
 */
void mpool_parse(int rank, void (*parse)(int, char **, void *), int argc, char **argv, void *arg);

/*
 * The worker's loop (blocks): ask, compute, answer, until STOP.  0 once
 * stopped; -EIO, -EPROTO (a message the master should not send), -ENOMEM
 * or -EOVERFLOW (a result too big for one MPI message).
 */
int mpool_worker(MPI_Comm comm);

/* @t->n! by the guide's loop, exported as bytes; 0 or -ENOMEM. */
int mpool_compute(const struct mpool_task *t, unsigned char **bytes, size_t *len);

/*
 * Receive the next message from any worker, whatever its tag and size
 * (MPI_Probe, then MPI_Get_count for its size).  Blocks.  0, -EIO, -EPROTO
 * (a message no worker should send) or -ENOMEM.
 */
int mpool_recv_any(MPI_Comm comm, struct mpool_msg *m);

/* Send task @t, or STOP, to worker @rank.  0 or -EIO. */
int mpool_send_task(MPI_Comm comm, int rank, const struct mpool_task *t);
int mpool_send_stop(MPI_Comm comm, int rank);

/*
 * Pool.map, dynamically (the exercise, solutions/05-mpi/mpi_master.c):
 * rank 0 hands the tasks out one at a time to whichever worker asks, puts
 * each result at its task's index in @results (n zeroed entries), and
 * sends every worker STOP.  Needs at least one worker.  Blocks until all
 * is done.  0, or the first error (the job is then in an unknown state:
 * the caller aborts it).
 */
int mpool_master_map(MPI_Comm comm, const struct mpool_task tasks[], size_t n,
		     struct mpool_result results[]);

/*
 * The same map with a static split, for comparison: worker w is sent the
 * w-th contiguous block of the tasks up front, whatever it costs.  Blocks;
 * 0 or the first error, as mpool_master_map().
 */
int mpool_static_map(MPI_Comm comm, const struct mpool_task tasks[], size_t n,
		     struct mpool_result results[]);

/*
 * Store a RESULT message at its task's index in @results: the result takes
 * over m->bytes.  -EPROTO on a bad or repeated index (the bytes are freed).
 */
int mpool_store(struct mpool_msg *m, struct mpool_result results[], size_t n);

/*
 * Python's as_completed over MPI (the exercise, solutions/05-mpi/mpi_waitany.c):
 * task i goes to worker 1 + i % workers up front; rank 0 posts one
 * non-blocking receive (MPI_Irecv) per task and calls @done with each
 * result as it arrives (MPI_Waitany), in completion order, the bytes
 * lent for the call.  Blocks until every task is done.  0, the first error,
 * or @done's first non-zero return (the job is then in an unknown state).
 */
typedef int (*mpool_done_fn)(void *arg, const struct mpool_task *t, int rank,
			     const unsigned char *bytes, size_t len);
int mpool_as_completed(MPI_Comm comm, const struct mpool_task tasks[], size_t n, mpool_done_fn done,
		       void *arg);

/*
 * Deal the tasks round robin (task i to worker 1 + i % workers) after each
 * worker's READY, then STOP to every worker: mpool_as_completed()'s first
 * step.  0, -EIO or -EPROTO.
 */
int mpool_deal(MPI_Comm comm, const struct mpool_task tasks[], size_t n);

/* The most bytes a RESULT message for factorial(@n) can hold, head included. */
size_t mpool_result_bound(uint64_t n);

/* Free every result's bytes. */
void mpool_results_free(struct mpool_result results[], size_t n);

/* What a code returned above means, including -ENOSYS (not written yet). */
const char *mpool_strerror(int err);

#endif
