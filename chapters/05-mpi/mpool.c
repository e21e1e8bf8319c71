/*
 * mpool.c - the worker's loop, the messages and the static split of
 * mpool.h.  The dynamic master is the exercise: solutions/05-mpi/mpi_master.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bigfact.h"
#include "check.h"
#include "clock.h"
#include "mpool.h"

/* An MPI call's status as one of ours: MPI has its own error classes. */
static int mpi_rc(int rc)
{
	return rc == MPI_SUCCESS ? 0 : -EIO;
}

/*
 * Registered with atexit() after MPI_Init: every way out of the program,
 * a usage error's exit(2) included, finalizes MPI, so that mpirun sees a
 * rank that ended properly rather than one that vanished.
 */
static void finalize_at_exit(void)
{
	int up = 0, down = 0;

	MPI_Initialized(&up);
	MPI_Finalized(&down);
	if (up && !down)
		MPI_Finalize();
}

void mpool_init(int *argc, char ***argv, int *rank, int *size)
{
	if (MPI_Init(argc, argv) != MPI_SUCCESS)
		die("MPI_Init failed");
	if (atexit(finalize_at_exit) != 0)
		die("atexit failed");
	if (MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN) != MPI_SUCCESS ||
	    MPI_Comm_rank(MPI_COMM_WORLD, rank) != MPI_SUCCESS ||
	    MPI_Comm_size(MPI_COMM_WORLD, size) != MPI_SUCCESS)
		die("cannot set up MPI_COMM_WORLD");
}

void mpool_parse(int rank, void (*parse)(int, char **, void *), int argc, char **argv, void *arg)
{
	int saved_out = -1, saved_err = -1, null = -1;

	if (rank != MPOOL_MASTER) {
		/* fflush first: nothing written before may land in /dev/null. */
		fflush(stdout);
		fflush(stderr);
		saved_out = dup(STDOUT_FILENO);
		saved_err = dup(STDERR_FILENO);
		null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (saved_out < 0 || saved_err < 0 || null < 0 || dup2(null, STDOUT_FILENO) < 0 ||
		    dup2(null, STDERR_FILENO) < 0)
			die_errno(errno, "cannot silence rank %d", rank);
	}
	parse(argc, argv, arg);
	if (rank != MPOOL_MASTER) {
		fflush(stdout);
		if (dup2(saved_out, STDOUT_FILENO) < 0 || dup2(saved_err, STDERR_FILENO) < 0)
			die_errno(errno, "cannot restore rank %d's output", rank);
		close(saved_out);
		close(saved_err);
		close(null);
	}
}

int mpool_compute(const struct mpool_task *t, unsigned char **bytes, size_t *len)
{
	mpz_t f;
	int rc;

	mpz_init(f);
	bigfact_loop(f, (unsigned long)t->n);
	rc = bigfact_export(f, bytes, len);
	mpz_clear(f);
	return rc;
}

/* One task: compute, then send the head and the bytes as one message. */
static int work_on(MPI_Comm comm, const struct mpool_task *t)
{
	struct mpool_head head = { .index = t->index };
	int64_t start = clk_now_ns();
	unsigned char *bytes, *msg;
	size_t len;
	int rc;

	rc = mpool_compute(t, &bytes, &len);
	if (rc)
		return rc;
	head.compute_ns = clk_now_ns() - start;
	if (len > (size_t)INT32_MAX - sizeof(head)) {
		free(bytes);
		return -EOVERFLOW; /* MPI counts are ints */
	}
	msg = malloc(sizeof(head) + len);
	if (!msg) {
		free(bytes);
		return -ENOMEM;
	}
	memcpy(msg, &head, sizeof(head));
	if (len)
		memcpy(msg + sizeof(head), bytes, len);
	free(bytes);
	rc = mpi_rc(MPI_Send(msg, (int)(sizeof(head) + len), MPI_BYTE, MPOOL_MASTER,
			     MPOOL_TAG_RESULT, comm));
	free(msg);
	return rc;
}

int mpool_worker(MPI_Comm comm)
{
	struct mpool_task t;
	MPI_Status st;
	int rc, count;

	rc = mpi_rc(MPI_Send(NULL, 0, MPI_BYTE, MPOOL_MASTER, MPOOL_TAG_READY, comm));
	while (!rc) {
		/* A TASK fills the buffer; a STOP is empty. */
		rc = mpi_rc(MPI_Recv(&t, (int)sizeof(t), MPI_BYTE, MPOOL_MASTER, MPI_ANY_TAG, comm,
				     &st));
		if (rc)
			break;
		if (st.MPI_TAG == MPOOL_TAG_STOP)
			return 0;
		if (st.MPI_TAG != MPOOL_TAG_TASK ||
		    MPI_Get_count(&st, MPI_BYTE, &count) != MPI_SUCCESS || count != (int)sizeof(t))
			return -EPROTO;
		rc = work_on(comm, &t);
	}
	return rc;
}

int mpool_recv_any(MPI_Comm comm, struct mpool_msg *m)
{
	unsigned char *buf = NULL;
	MPI_Status st;
	int count, rc;

	*m = (struct mpool_msg){ 0 };
	/* Probe first: the message's size says how much to allocate. */
	rc = mpi_rc(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &st));
	if (!rc)
		rc = mpi_rc(MPI_Get_count(&st, MPI_BYTE, &count));
	if (rc)
		return rc;
	if (count > 0) {
		buf = malloc((size_t)count);
		if (!buf)
			return -ENOMEM;
	}
	/* From the probed source with the probed tag: exactly that message. */
	rc = mpi_rc(
		MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, comm, MPI_STATUS_IGNORE));
	if (rc)
		goto out_free;
	m->source = st.MPI_SOURCE;
	m->tag = st.MPI_TAG;
	if (m->tag == MPOOL_TAG_READY && count == 0)
		return 0;
	if (m->tag != MPOOL_TAG_RESULT || (size_t)count < sizeof(m->head)) {
		rc = -EPROTO;
		goto out_free;
	}
	memcpy(&m->head, buf, sizeof(m->head));
	m->len = (size_t)count - sizeof(m->head);
	/* Keep the bytes where they are: the head is only a prefix. */
	memmove(buf, buf + sizeof(m->head), m->len);
	m->bytes = buf;
	return 0;

out_free:
	free(buf);
	return rc;
}

int mpool_send_task(MPI_Comm comm, int rank, const struct mpool_task *t)
{
	return mpi_rc(MPI_Send(t, (int)sizeof(*t), MPI_BYTE, rank, MPOOL_TAG_TASK, comm));
}

int mpool_send_stop(MPI_Comm comm, int rank)
{
	return mpi_rc(MPI_Send(NULL, 0, MPI_BYTE, rank, MPOOL_TAG_STOP, comm));
}

int mpool_store(struct mpool_msg *m, struct mpool_result results[], size_t n)
{
	struct mpool_result *r;

	if (m->tag != MPOOL_TAG_RESULT || m->head.index >= n || results[m->head.index].rank) {
		free(m->bytes);
		m->bytes = NULL;
		return -EPROTO;
	}
	r = &results[m->head.index];
	*r = (struct mpool_result){ m->bytes, m->len, m->source, m->head.compute_ns };
	m->bytes = NULL; /* the result owns them now */
	return 0;
}

int mpool_static_map(MPI_Comm comm, const struct mpool_task tasks[], size_t n,
		     struct mpool_result results[])
{
	size_t block, left;
	int size, rc;

	if (MPI_Comm_size(comm, &size) != MPI_SUCCESS)
		return -EIO;
	if (size < 2)
		return -EINVAL;
	block = (n + (size_t)size - 2) / (size_t)(size - 1);
	/*
	 * Everything goes out first: tasks are small, so each send completes
	 * at once (MPI's eager protocol), and each worker's STOP queues behind
	 * its block (messages between two ranks never overtake each other).
	 */
	for (size_t i = 0; i < n; i++) {
		rc = mpool_send_task(comm, 1 + (int)(i / block), &tasks[i]);
		if (rc)
			return rc;
	}
	for (int w = 1; w < size; w++) {
		rc = mpool_send_stop(comm, w);
		if (rc)
			return rc;
	}
	/* Then one READY per worker and one RESULT per task, in any order. */
	for (left = n + (size_t)size - 1; left > 0; left--) {
		struct mpool_msg m;

		rc = mpool_recv_any(comm, &m);
		if (!rc && m.tag == MPOOL_TAG_RESULT)
			rc = mpool_store(&m, results, n);
		if (rc)
			return rc;
	}
	return 0;
}

void mpool_results_free(struct mpool_result results[], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(results[i].bytes);
		results[i].bytes = NULL;
	}
}

const char *mpool_strerror(int err)
{
	switch (err) {
	case -ENOSYS:
		return "not written yet (the exercise's TODO)";
	case -EIO:
		return "an MPI call failed";
	case -EPROTO:
		return "a message broke the protocol (a wrong tag, size or task index)";
	default:
		return strerror(-err);
	}
}

int mpool_deal(MPI_Comm comm, const struct mpool_task tasks[], size_t n)
{
	int size, rc;

	if (MPI_Comm_size(comm, &size) != MPI_SUCCESS)
		return -EIO;
	if (size < 2)
		return -EINVAL;
	/* Each worker's first word is READY: take it before dealing. */
	for (int w = 1; w < size; w++) {
		rc = mpi_rc(
			MPI_Recv(NULL, 0, MPI_BYTE, w, MPOOL_TAG_READY, comm, MPI_STATUS_IGNORE));
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		rc = mpool_send_task(comm, 1 + (int)(i % (size_t)(size - 1)), &tasks[i]);
		if (rc)
			return rc;
	}
	for (int w = 1; w < size; w++) {
		rc = mpool_send_stop(comm, w);
		if (rc)
			return rc;
	}
	return 0;
}

size_t mpool_result_bound(uint64_t n)
{
	/* n! < n^n, so it has fewer than n * (bits in n) bits. */
	uint64_t bits_in_n = 0;

	for (uint64_t v = n; v; v >>= 1)
		bits_in_n++;
	return sizeof(struct mpool_head) + (size_t)(n * bits_in_n / 8 + 1);
}
