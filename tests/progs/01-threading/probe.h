/*
 * probe.h - small helpers shared by chapter 01's test drivers.
 *
 * The drivers print facts as "key=value" and leave the judging to
 * tests/01-threading.bats.  They must not hang on an unfinished exercise,
 * so every wait here has a time limit.
 */
#ifndef WB_PROBE_H
#define WB_PROBE_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "../cases.h"
#include "../gate.h"
#include "args.h"
#include "check.h"
#include "clock.h"
#include "executor.h"

/* "0", "-ETIMEDOUT", ...: the codes the executor's contract names. */
static inline const char *errname(int rc)
{
	switch (rc) {
	case 0:
		return "0";
	case -ETIMEDOUT:
		return "-ETIMEDOUT";
	case -ECANCELED:
		return "-ECANCELED";
	case -ESHUTDOWN:
		return "-ESHUTDOWN";
	case -EBUSY:
		return "-EBUSY";
	case -EALREADY:
		return "-EALREADY";
	case -EDEADLK:
		return "-EDEADLK";
	case -EINVAL:
		return "-EINVAL";
	case -ENOMEM:
		return "-ENOMEM";
	case -ENOSYS:
		return "-ENOSYS";
	case -EIO:
		return "-EIO";
	case -EPERM:
		return "-EPERM";
	}
	return "other";
}

static inline struct executor *probe_executor(int workers, const char *prefix)
{
	struct executor *ex;
	int rc = executor_new(&ex, workers, prefix);

	if (rc)
		die("executor_new: %s", executor_strerror(rc));
	return ex;
}

static inline struct future *probe_submit(struct executor *ex, executor_task_fn *fn, void *arg)
{
	struct future *f;
	int rc = executor_submit(ex, fn, arg, &f);

	if (rc)
		die("executor_submit: %s", executor_strerror(rc));
	return f;
}

#endif
