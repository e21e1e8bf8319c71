/*
 * names.c - the executor's words: a sentence for each error code and a
 * name for each state.  The rest of the executor is the chapter's four
 * exercises (see executor.h).
 */
#include <errno.h>
#include <string.h>

#include "executor.h"

const char *executor_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ETIMEDOUT:
		return "timed out before the task finished";
	case -ECANCELED:
		return "the task was cancelled before it started";
	case -ESHUTDOWN:
		return "the executor is shut down and takes no new tasks";
	case -EBUSY:
		return "the task is running and can no longer be cancelled";
	case -EALREADY:
		return "the task has already finished";
	case -EDEADLK:
		return "a worker cannot wait for itself to exit";
	case -EINVAL:
		return "invalid argument";
	case -ENOMEM:
		return "out of memory";
	case -ENOSYS:
		return "not implemented yet (an exercise's TODO?)";
	}
	return strerror(err < 0 ? -err : err);
}

const char *future_state_name(enum future_state state)
{
	switch (state) {
	case FUTURE_PENDING:
		return "pending";
	case FUTURE_RUNNING:
		return "running";
	case FUTURE_DONE:
		return "done";
	case FUTURE_CANCELLED:
		return "cancelled";
	}
	return "invalid";
}
