/*
 * pipeline.h - exercise 04-pipeline: fetch many URLs and put each body
 * through a CPU-heavy transform, as fast as the machine allows without
 * ever having more than a given number of fetches in flight.
 *
 * The workload mixes the guide's two kinds of work: each fetch mostly
 * waits (the server delays its reply), each transform only computes.  The
 * approach is the learner's to choose from the workbook's own libraries:
 * the event loop of chapter 03 with a Semaphore for the fetches and its
 * co_run_in_executor() to put each transform on chapter 01's threads;
 * threads for both; processes for the transform.  Whatever it is, it must
 * keep the contract below.
 *
 *	struct pipeline_job job = {
 *		.urls = urls, .n = 200,
 *		.limit = 20,		// never more than 20 fetches at once
 *		.workers = 2,		// threads (or processes) for transforms
 *		.body_max = 65536,
 *		.transform = checksum, .transform_arg = &rounds,
 *	};
 *	struct pipeline_result res[200];
 *	int rc = pipeline_run(&job, res);
 *
 * Results.  res[i] is the outcome of urls[i], in input order whatever order
 * the items finished in: err 0 and value = transform(body of urls[i]), or
 * err < 0 and value 0.  An item fails alone: the others still run to their
 * end.  An item's err is what the fetch reported (-ECONNREFUSED, -ETIMEDOUT,
 * -ECONNRESET, -EMSGSIZE for a body over body_max, ... as in http_get.h),
 * or -EREMOTEIO when the server answered with a status other than 200
 * (status says which); its transform does not run then.
 *
 * Threads.  The transform runs on worker threads (or in worker
 * processes), never on the calling thread, which only waits: it may run
 * several at once, so it must not touch shared state without its own
 * synchronisation.  pipeline_run() itself blocks until every item has
 * ended, and leaves no thread, process or socket behind.
 *
 * Returns 0 when every item has ended (each result says how), -EINVAL for
 * a job it cannot run (limit or workers 0, no transform), or -ENOMEM and
 * the like when it could not set itself up; the results are undefined then.
 * Call curl_global_init() once in main before pipeline_run() (libcurl's
 * rule: it is not thread-safe).
 */
#ifndef WB_PIPELINE_H
#define WB_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

/* A pure function of the body's bytes; @arg is the job's transform_arg. */
typedef uint64_t pipeline_transform_fn(const char *body, size_t len, const void *arg);

struct pipeline_job {
	const char *const *urls; /* n URLs, the caller's */
	size_t n;
	size_t limit;	 /* most fetches in flight at once, >= 1 */
	int workers;	 /* threads (or processes) for the transforms, >= 1 */
	size_t body_max; /* a longer body fails its item with -EMSGSIZE */
	long timeout_ms; /* per fetch; 0: none */
	pipeline_transform_fn *transform;
	const void *transform_arg;
};

struct pipeline_result {
	int err;	/* 0, or why this item failed */
	long status;	/* the HTTP status, 0 if no response came */
	uint64_t value; /* transform(body) when err is 0 */
};

int pipeline_run(const struct pipeline_job *job, struct pipeline_result results[]);

#endif
