/*
 * pool_map.c - the process pool's engine: cut the work into chunks, hand
 * them to idle workers, sleep in poll(2) until a worker answers or dies,
 * put each answer in its place, bury a dead worker, and procpool_map().
 *
 * Exercise 02-pool-map; the lesson it needs and its hints:
 * `build/workbook hint 02-pool-map`.
 *
 * Everything happens in the pool's one thread, inside whichever call is
 * waiting: there is no thread in the background to do it.  So every wait
 * is a loop of pp_step(), and one step is: dispatch, sleep, handle.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "procpool_impl.h"

size_t procpool_chunksize(size_t n, int workers)
{
	size_t per = 4 * (size_t)(workers > 0 ? workers : 1), c;

	/*
	 * TODO(02-pool-map): Python's rule, ceil(n / (4 * workers)): four
	 * chunks per worker, so that a worker that finishes early finds work
	 * left, while each chunk still saves round trips.
	 */
	/* >>> solution */
	c = n / per + (n % per != 0);
	/* <<< solution */
	/* >>> skeleton
	c = 1;
	(void)per;
	(void)n;
	<<< skeleton */
	return c ? c : 1;
}

int pp_submit(struct procpool *p, struct pp_job *job, size_t chunksize)
{
	if (chunksize == 0)
		chunksize = procpool_chunksize(job->n, p->size);
	for (size_t first = 0; first < job->n; first += chunksize) {
		size_t left = job->n - first;
		struct pp_chunk c = { job, first, left < chunksize ? left : chunksize };
		int rc = pp_queue_push(p, c, false);

		if (rc) {
			pp_abandon(p, job);
			return rc;
		}
	}
	return 0;
}

/*
 * Worker @w is gone: its socket ended, broke, or refused a chunk.  Reap
 * it, turn the task it was running into an error that says how it died,
 * queue the rest of its chunk again, and fork a replacement.
 */
static int bury(struct procpool *p, struct pp_worker *w)
{
	pid_t pid = w->pid;
	char how[64];

	pp_reap(w, how, sizeof(how));
	p->stats.lost++;
	/*
	 * TODO(02-pool-map): if the worker was busy, the task it was running
	 * is w->chunk.first + w->answered.  Give that task (when the chunk's
	 * job is not NULL) an outcome with err -ECHILD and the message
	 * "worker PID HOW while running task N" through pp_finish(), and put
	 * the rest of the chunk back at the FRONT of the queue.  Then the
	 * worker is no longer busy, and a replacement must be forked into the
	 * same slot (pp_fork_worker), or the pool shrinks with every death.
	 */
	/* >>> solution */
	if (w->busy && w->chunk.job) {
		struct pp_chunk c = w->chunk;
		size_t running = c.first + w->answered;
		struct pp_result r = { .err = -ECHILD };

		snprintf(r.msg, sizeof(r.msg), "worker %d %s while running task %zu", (int)pid, how,
			 running);
		pp_finish(c.job, running, &r);
		if (w->answered + 1 < c.count) {
			struct pp_chunk rest = { c.job, running + 1, c.count - w->answered - 1 };
			int rc = pp_queue_push(p, rest, true);

			if (rc)
				return rc;
		}
	}
	w->busy = false;
	return pp_fork_worker(p, w);
	/* <<< solution */
	/* >>> skeleton
	(void)pid;
	return -ENOSYS;
	<<< skeleton */
}

/*
 * Read one answer from busy worker @w and file it.  An answer that is not
 * the one expected (the wrong task, a broken frame, an end of stream)
 * means the worker is gone or broken: bury it.
 */
static int receive(struct procpool *p, struct pp_worker *w)
{
	struct pp_result r = { 0 };
	struct frame f;
	size_t index;
	int rc = frame_recv(w->fd, &f, PROCPOOL_MAX_BYTES + PROCPOOL_ERRMAX);

	if (rc <= 0 || !w->busy || f.id != w->chunk.first + w->answered ||
	    (f.kind != PP_RESULT && f.kind != PP_ERROR)) {
		frame_release(&f);
		return bury(p, w);
	}
	index = f.id;
	if (f.kind == PP_RESULT) {
		r.data = f.data;
		r.len = f.len;
		f.data = NULL;
	} else {
		int32_t code = -EIO;

		if (f.len >= sizeof(code))
			memcpy(&code, f.data, sizeof(code));
		r.err = code < 0 ? code : -EIO;
		if (f.len > sizeof(code))
			snprintf(r.msg, sizeof(r.msg), "%s", (const char *)f.data + sizeof(code));
	}
	frame_release(&f);
	p->stats.results++;
	if (++w->answered == w->chunk.count)
		w->busy = false;
	if (!w->chunk.job) {
		/* Its job was abandoned: nobody waits for this answer. */
		pp_result_release(&r);
		return 0;
	}
	/*
	 * TODO(02-pool-map): file the outcome under the task it answers, so
	 * that the results come out in input order however the workers
	 * race: pp_finish(job, INDEX, &r).
	 */
	/* >>> solution */
	pp_finish(w->chunk.job, index, &r);
	/* <<< solution */
	/* >>> skeleton
	(void)index;
	pp_result_release(&r);
	<<< skeleton */
	return 0;
}

/* Hand queued chunks to idle workers until one or the other runs out. */
static int dispatch(struct procpool *p)
{
	for (int i = 0; i < p->size && p->qlen; i++) {
		struct pp_worker *w = &p->workers[i];
		struct pp_chunk c;
		int rc;

		if (w->busy || w->fd < 0 || !pp_queue_pop(p, &c))
			continue;
		rc = pp_send_chunk(p, w, c);
		if (rc == 0)
			continue;
		/* Not sent: it goes back first in line. */
		if (pp_queue_push(p, c, true) != 0 || rc == -ENOMEM || rc == -EMSGSIZE)
			return rc;
		/* The worker died while idle; its replacement takes the chunk. */
		rc = bury(p, w);
		if (rc)
			return rc;
		i--;
	}
	return 0;
}

/* Milliseconds from now to @deadline for poll(): -1 for none, rounded up. */
static int poll_timeout(int64_t deadline)
{
	int64_t left;

	if (deadline == CLK_NEVER)
		return -1;
	left = deadline - clk_now_ns();
	if (left <= 0)
		return 0;
	left = (left + CLK_NS_PER_MS - 1) / CLK_NS_PER_MS;
	return left > 1000000 ? 1000000 : (int)left;
}

int pp_step(struct procpool *p, int64_t deadline)
{
	bool any = false;
	int n, rc;

	rc = dispatch(p);
	if (rc)
		return rc;
	/* poll(2) skips a negative descriptor: a slot with no worker. */
	for (int i = 0; i < p->size; i++) {
		p->pfds[i] = (struct pollfd){ .fd = p->workers[i].fd, .events = POLLIN };
		any |= p->workers[i].fd >= 0;
	}
	p->pfds[p->size] = (struct pollfd){ .fd = p->wakeup_fd, .events = POLLIN };
	if (!any)
		return -ECHILD;
	/*
	 * TODO(02-pool-map): sleep until something happens: poll(2) over the
	 * p->size + 1 descriptors, with the timeout poll_timeout(deadline)
	 * gives (-1 waits as long as it takes: a wait that sleeps costs no
	 * CPU).  An interrupted poll (EINTR) is a step with nothing to
	 * handle.  When poll returns 0, the deadline may have passed
	 * (-ETIMEDOUT) or not quite (poll rounds): look with clk_passed().
	 */
	/* >>> solution */
	n = poll(p->pfds, (nfds_t)p->size + 1, poll_timeout(deadline));
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n == 0)
		return clk_passed(deadline) ? -ETIMEDOUT : 0;
	/* <<< solution */
	/* >>> skeleton
	(void)n;
	(void)deadline;
	(void)poll_timeout;
	return -ENOSYS;
	<<< skeleton */
	if (p->pfds[p->size].revents)
		return -EINTR;
	for (int i = 0; i < p->size; i++) {
		struct pp_worker *w = &p->workers[i];

		if (!p->pfds[i].revents)
			continue;
		/* An idle worker has nothing to say: readable means it ended. */
		rc = w->busy ? receive(p, w) : bury(p, w);
		if (rc)
			return rc;
	}
	return 0;
}

int procpool_map(struct procpool *p, procpool_fn *fn, const struct pp_blob inputs[], size_t n,
		 size_t chunksize, struct pp_result results[])
{
	struct pp_job job;
	int rc;

	for (size_t i = 0; results && i < n; i++)
		results[i] = (struct pp_result){ 0 };
	if (!p || !fn || (n && (!inputs || !results)) || n > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (inputs[i].len > PROCPOOL_MAX_BYTES || (inputs[i].len && !inputs[i].data))
			return -EINVAL;
	if (p->closed)
		return -ESHUTDOWN;
	if (n == 0)
		return 0;
	rc = pp_job_init(&job, fn, inputs, n, results);
	if (rc)
		return rc;
	rc = pp_submit(p, &job, chunksize);
	if (rc)
		goto out_destroy;

	/*
	 * TODO(02-pool-map): step the pool (pp_step with no deadline) until
	 * every one of the n tasks has an outcome (job.done counts them).  A
	 * step that fails (-EINTR from the wakeup descriptor, or a worker
	 * that could not be replaced) ends the map with that code: forget the
	 * job with pp_abandon(), so that no worker answers into it later.
	 */
	/* >>> solution */
	while (job.done < n) {
		rc = pp_step(p, CLK_NEVER);
		if (rc)
			break;
	}
	if (rc)
		pp_abandon(p, &job);
	/* <<< solution */
	/* >>> skeleton
	rc = -ENOSYS;
	pp_abandon(p, &job);
	<<< skeleton */

	/* Every task ran: the first failure in input order speaks for all. */
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = results[i].err;
out_destroy:
	pp_job_destroy(&job);
	return rc;
}
