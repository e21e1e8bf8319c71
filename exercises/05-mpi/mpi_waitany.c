/*
 * mpi_waitany.c - as_completed over MPI: non-blocking receives and
 * MPI_Waitany, the twin of chapter 01's as_completed.
 *
 * Every task is dealt to a worker up front (mpool_deal).  Rank 0 then posts
 * one receive per task without waiting for any (MPI_Irecv gives a request,
 * a handle on a receive in progress) and asks MPI_Waitany for whichever of
 * them completes first.  Waitany sets the request it completed to
 * MPI_REQUEST_NULL, which later calls skip: so the same array, waited on
 * again, yields each task exactly once, in the order they finish.  Two
 * tasks dealt to the same worker cannot overtake each other: receives from
 * one source with one tag match its messages in the order they were posted.
 *
 * Exercise 05-waitany: post the receives and write the Waitany loop.  The
 * contract is mpool_as_completed() in chapters/05-mpi/mpool.h; the lesson
 * and the hints: `build/workbook hint 05-waitany`.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpool.h"

int mpool_as_completed(MPI_Comm comm, const struct mpool_task tasks[], size_t n, mpool_done_fn done,
		       void *arg)
{
	MPI_Request *reqs;
	unsigned char **bufs;
	size_t posted = 0;
	int size, workers, rc;

	if (MPI_Comm_size(comm, &size) != MPI_SUCCESS)
		return -EIO;
	workers = size - 1;
	if (workers < 1)
		return -EINVAL;
	if (n > (size_t)INT32_MAX)
		return -EOVERFLOW; /* Waitany counts requests in an int */
	rc = mpool_deal(comm, tasks, n);
	if (rc)
		return rc;
	reqs = calloc(n, sizeof(*reqs));
	bufs = calloc(n, sizeof(*bufs));
	if (!reqs || !bufs) {
		rc = -ENOMEM;
		goto out_free;
	}
	/*
	 * TODO(05-waitany): post one receive per task (MPI_Irecv) into a
	 * buffer of mpool_result_bound(tasks[i].n) bytes, from the worker it
	 * was dealt to, with tag MPOOL_TAG_RESULT.  Then, n times, take
	 * whichever receive completes first (MPI_Waitany on the same array:
	 * it sets the one it completed to MPI_REQUEST_NULL), find its size
	 * (MPI_Get_count) and call done() with the task, the worker and the
	 * bytes after the struct mpool_head.  Any failure: stop and return it.
	 */
	(void)done;
	(void)arg;
	rc = -ENOSYS;
	goto out_cancel;
out_cancel:
	/* A receive still posted must not write into a freed buffer. */
	for (size_t i = 0; i < posted; i++) {
		if (reqs[i] != MPI_REQUEST_NULL) {
			MPI_Cancel(&reqs[i]);
			MPI_Request_free(&reqs[i]);
		}
	}
out_free:
	if (bufs)
		for (size_t i = 0; i < n; i++)
			free(bufs[i]);
	free(bufs);
	free(reqs);
	return rc;
}
