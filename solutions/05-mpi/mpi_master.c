/*
 * mpi_master.c - the master's loop of chapter 05's pool: Pool.map over MPI.
 *
 * Rank 0 waits for a message from any worker.  Whatever it is, READY or a
 * RESULT, it is that worker asking for more: the master answers it with
 * the next task, or with STOP once every task is out.  A RESULT goes to
 * its task's index, so the results come back in input order whichever
 * worker finished first.  The loop ends when every worker has been told to
 * stop: only then can every rank reach MPI_Finalize.
 *
 * Exercise 05-master: write the loop.  The contract is mpool_master_map()
 * in chapters/05-mpi/mpool.h; the lesson and the hints:
 * `build/workbook hint 05-master`.
 */
#include <errno.h>
#include <stdlib.h>

#include "mpool.h"

int mpool_master_map(MPI_Comm comm, const struct mpool_task tasks[], size_t n,
		     struct mpool_result results[])
{
	size_t next = 0, done = 0;
	int size, workers, stopped = 0, rc;

	if (MPI_Comm_size(comm, &size) != MPI_SUCCESS)
		return -EIO;
	workers = size - 1;
	if (workers < 1)
		return -EINVAL;
	/*
	 * TODO(05-master): until every worker has been sent STOP, receive the
	 * next message from any worker (mpool_recv_any); store a RESULT at its
	 * task's index (mpool_store); answer the worker that sent it - not
	 * some other one - with the next task (mpool_send_task), or with STOP
	 * (mpool_send_stop) when none is left.  Return the first error.
	 */
	/* >>> solution */
	while (stopped < workers) {
		struct mpool_msg m;

		rc = mpool_recv_any(comm, &m);
		if (rc)
			return rc;
		if (m.tag == MPOOL_TAG_RESULT) {
			rc = mpool_store(&m, results, n);
			if (rc)
				return rc;
			done++;
		}
		/* Whoever spoke is idle now: it gets the next task. */
		if (next < n) {
			rc = mpool_send_task(comm, m.source, &tasks[next]);
			next++;
		} else {
			rc = mpool_send_stop(comm, m.source);
			stopped++;
		}
		if (rc)
			return rc;
	}
	/* Every worker asked once more after its last result: all are in. */
	return done == n ? 0 : -EPROTO;
	/* <<< solution */
	/* >>> skeleton
	(void)tasks;
	(void)n;
	(void)results;
	(void)next;
	(void)done;
	(void)stopped;
	(void)rc;
	return -ENOSYS;
	<<< skeleton */
}
