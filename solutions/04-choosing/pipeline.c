/*
 * pipeline.c - fetch many URLs, at most job->limit at a time, and put each
 * body through a CPU-heavy transform, results in input order.
 *
 * Exercise 04-pipeline: write pipeline_run(), in any approach that keeps
 * the contract in chapters/04-choosing/pipeline.h; the lesson and the
 * hints: `build/workbook hint 04-pipeline`.
 */
#include <errno.h>
#include <stdlib.h>

#include "co.h"
#include "executor.h"
#include "http_get.h"
#include "pipeline.h"

/*
 * TODO(04-pipeline): choose the approach, and build it with the
 * workbook's libraries: the fetches bounded by job->limit, each transform
 * off the calling thread, every item's result in its own place, and one
 * failure ending only its own item.
 */
/* >>> solution */
/*
 * The approach chosen here: the fetches mostly wait, so they go to the
 * event loop of chapter 03 (one task per URL, libcurl's multi handle on
 * the loop), and a Semaphore of job->limit permits bounds them.  The
 * transforms only compute, and on the loop's thread each one would stop
 * every fetch for as long as it ran, so each goes to a thread of chapter
 * 01's executor through co_run_in_executor(), and the task sleeps in that
 * await meanwhile.  C has no GIL: those threads run the transforms on
 * every core at once.  A permit is given back as soon as its fetch ends,
 * so the next fetch waits for the network, never for a transform.
 *
 * Each task writes its own item's result, so the results are in input
 * order whatever order the tasks finish in, and a failed item is one
 * result with an error, never the end of the run.
 */
struct run;

/* One URL's task: its fetch, then its transform on a worker thread. */
struct item {
	struct co_task task; /* first: the frame of a task */
	struct run *run;
	size_t i;
	char *body;
	struct hg_request req;
	struct co_exec call;
	int err;
};

/* The main task's frame: what every item shares. */
struct run {
	struct co_task task;
	const struct pipeline_job *job;
	struct pipeline_result *results;
	struct executor *ex;
	struct hg *hg;
	struct co_sem fetches; /* job->limit permits: the fetches in flight */
	struct item *items;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather gather;
	int err;
};

/* On a worker thread: the transform of one item's body. */
static int transform_job(void *arg, void **result, char *err, size_t errlen)
{
	struct item *it = arg;
	const struct pipeline_job *job = it->run->job;

	(void)result;
	(void)err;
	(void)errlen;
	it->run->results[it->i].value = job->transform(it->body, it->req.bytes, job->transform_arg);
	return 0;
}

static int item_step(struct co_task *t)
{
	struct item *it = (struct item *)t;
	struct run *r = it->run;
	struct pipeline_result *res = &r->results[it->i];

	CO_BEGIN(t);
	CO_AWAIT(t, co_sem_acquire(t, &r->fetches), &it->err);
	if (it->err)
		goto out;
	it->body = malloc(r->job->body_max ? r->job->body_max : 1);
	if (!it->body) {
		it->err = -ENOMEM;
		co_sem_release(&r->fetches);
		goto out;
	}
	it->req = (struct hg_request){ .url = r->job->urls[it->i],
				       .timeout_ms = r->job->timeout_ms,
				       .body = it->body,
				       .body_cap = r->job->body_max };
	CO_AWAIT(t, hg_get(t, r->hg, &it->req), &it->err);
	/* The fetch is over: the next one may start while this body is worked on. */
	co_sem_release(&r->fetches);
	res->status = it->req.status;
	if (!it->err && it->req.status != 200)
		it->err = -EREMOTEIO;
	if (it->err)
		goto out;
	CO_AWAIT(t, co_run_in_executor(t, &it->call, r->ex, transform_job, it), &it->err);
out:
	free(it->body);
	it->body = NULL;
	res->err = it->err;
	if (it->err)
		res->value = 0;
	CO_RETURN(t, 0); /* the item's outcome is in its result, not the run's */
	CO_END(t);
}

static int run_step(struct co_task *t)
{
	struct run *r = (struct run *)t;
	size_t n = r->job->n;

	CO_BEGIN(t);
	r->err = hg_new(&r->hg, co_loop(t));
	if (r->err)
		CO_RETURN(t, r->err);
	co_sem_init(&r->fetches, (long)r->job->limit);
	for (size_t i = 0; i < n; i++) {
		r->items[i] = (struct item){ .run = r, .i = i };
		r->tasks[i] = &r->items[i].task;
		co_task_start(co_loop(t), r->tasks[i], item_step, "item");
	}
	CO_AWAIT(t, co_gather(t, &r->gather, r->tasks, r->cbs, n, true), &r->err);
	hg_free(r->hg);
	CO_RETURN(t, r->err);
	CO_END(t);
}
/* <<< solution */

int pipeline_run(const struct pipeline_job *job, struct pipeline_result results[])
{
	/* >>> solution */
	struct run r = { .job = job, .results = results };
	int err;

	if (!job->transform || job->limit == 0 || job->workers < 1 || job->limit > LONG_MAX)
		return -EINVAL;
	r.items = calloc(job->n ? job->n : 1, sizeof(*r.items));
	r.tasks = calloc(job->n ? job->n : 1, sizeof(*r.tasks));
	r.cbs = calloc(job->n ? job->n : 1, sizeof(*r.cbs));
	err = -ENOMEM;
	if (!r.items || !r.tasks || !r.cbs)
		goto out_free;
	err = executor_new(&r.ex, job->workers, "transform");
	if (err)
		goto out_free;
	err = co_run(&r.task, run_step);
	executor_free(r.ex);
out_free:
	free(r.cbs);
	free(r.tasks);
	free(r.items);
	return err;
	/* <<< solution */
	/* >>> skeleton
	(void)job;
	(void)results;
	return -ENOSYS;
	<<< skeleton */
}
