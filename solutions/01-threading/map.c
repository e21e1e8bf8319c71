/*
 * map.c - executor_map(): every task at once, every result in input order.
 *
 * Exercise 01-map; the lesson it needs and its hints:
 * `build/workbook hint 01-map`.
 *
 * map is submit-many plus a loop of waits.  The order of the results comes
 * from the order of the waits, not from the order in which tasks finish:
 * waiting for task 0 first may block while tasks 1..4 are already done,
 * which costs nothing, because map returns only once it has them all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "executor_impl.h"

/* "task 3: message" (or the code's sentence when the task left none). */
static void describe_failure(char *err, size_t errlen, size_t index, struct future *f, int code)
{
	const char *msg = future_errmsg(f);

	if (!err || !errlen)
		return;
	snprintf(err, errlen, "task %zu: %s", index, msg[0] ? msg : executor_strerror(code));
}

int executor_map(struct executor *ex, executor_task_fn *fn, void *const args[], size_t n,
		 void *results[], long timeout_ms, char *err, size_t errlen)
{
	/* The clock starts now, before any work is queued: one deadline. */
	int64_t deadline = clk_deadline_ms(timeout_ms);
	struct future **fs;
	size_t i = 0;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	/* No task has run yet, whatever happens next. */
	for (size_t k = 0; results && k < n; k++)
		results[k] = NULL;
	if (!ex || !fn || (n && (!args || !results)))
		return -EINVAL;
	if (n == 0)
		return 0;

	fs = calloc(n, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	rc = executor_submit_many(ex, fn, args, n, fs);
	if (rc)
		goto out_free_array;

	/*
	 * TODO(01-map): collect the results in input order.  For i = 0, 1,
	 * ...: wait for fs[i] with future_wait_until() on the one `deadline`
	 * computed above (not a fresh timeout per task); stop with
	 * -ETIMEDOUT if it passes.  Then take the outcome with
	 * future_result(fs[i], 0, &results[i]); if the task failed, report it
	 * with describe_failure() and stop with its code.  After stopping
	 * early, cancel every task from i on: those still queued then never
	 * run (the running ones finish by themselves).  The stand-in below
	 * cancels them all and reports "not implemented".
	 */
	/* >>> solution */
	for (i = 0; i < n; i++) {
		rc = future_wait_until(fs[i], deadline);
		if (rc)
			break;
		rc = future_result(fs[i], 0, &results[i]);
		if (rc) {
			describe_failure(err, errlen, i, fs[i], rc);
			break;
		}
	}
	/*
	 * Cancel from the back: the workers take from the front, so the
	 * tasks at the back are the likeliest to be still queued.
	 */
	for (size_t k = n; rc && k > i; k--)
		future_cancel(fs[k - 1]);
	/* <<< solution */
	/* >>> skeleton
	(void)deadline;
	(void)describe_failure;
	rc = -ENOSYS;
	for (i = 0; i < n; i++)
		future_cancel(fs[i]);
	<<< skeleton */

	for (size_t k = 0; k < n; k++)
		future_unref(fs[k]);
out_free_array:
	free(fs);
	return rc;
}
