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

int pipeline_run(const struct pipeline_job *job, struct pipeline_result results[])
{
	(void)job;
	(void)results;
	return -ENOSYS;
}
