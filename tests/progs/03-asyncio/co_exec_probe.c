/*
 * co_exec_probe.c - co_run_in_executor(), one scene per --case:
 *
 *   result         a 2 s blocking call on the executor: the await returns
 *                  its result, another task's 100 ms sleep ends on time
 *                  meanwhile, and the loop thread sleeps the whole while
 *                  (loop_cpu_ms, loop_wakeups)
 *   error          a call that fails: its code and its message come back
 *   cancel-running a task cancelled while its call runs: the call runs to
 *                  its end, and only then does the await return -ECANCELED
 *   cancel-queued  a task cancelled while its call waits in the executor's
 *                  queue: the await returns -ECANCELED at once and the call
 *                  never runs
 *
 * Facts are printed as key=value for tests/03-core.bats.  The blocking
 * calls sleep on the worker thread; what they set is read by the loop
 * thread only after the executor handed their result back.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD (usage.h) */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../usage.h"
#include "co_probe.h"

#define BLOCK_MS 2000

/* A blocking call: sleep ms on the worker thread, then say so. */
struct call {
	long ms;
	int ret;
	atomic_bool ran, finished;
	long answer;
};

static int blocking_call(void *arg, void **result, char *err, size_t errlen)
{
	struct call *c = arg;

	atomic_store(&c->ran, true);
	clk_sleep_ms(c->ms);
	atomic_store(&c->finished, true);
	if (c->ret) {
		snprintf(err, errlen, "the disk is on fire");
		return c->ret;
	}
	*result = &c->answer;
	return 0;
}

struct caller {
	struct co_task task;
	struct executor *ex;
	struct call *call;
	struct co_exec exec;
	int result;
	bool finished_at_return;
	double at_ms;
	int64_t start;
};

static int caller_step(struct co_task *t)
{
	struct caller *c = (struct caller *)t;

	CO_BEGIN(t);
	c->start = clk_now_ns();
	CO_AWAIT(t, co_run_in_executor(t, &c->exec, c->ex, blocking_call, c->call), &c->result);
	c->at_ms = ms_since(c->start);
	c->finished_at_return = atomic_load(&c->call->finished);
	CO_RETURN(t, c->result);
	CO_END(t);
}

static void caller_start(struct co_task *parent, struct caller *c, struct executor *ex,
			 struct call *call)
{
	c->ex = ex;
	c->call = call;
	co_task_start(co_loop(parent), &c->task, caller_step, "caller");
}

struct scene {
	struct co_task task;
	struct executor *ex;
	struct call calls[2];
	struct caller callers[2];
	int64_t start;
	double sleeper_ms; /* when a plain sleep beside the call ended */
	struct usage before, after;
	size_t victim; /* the caller cancel_step cancels */
	int err;
};

static struct executor *new_executor(int workers)
{
	struct executor *ex;
	int rc = executor_new(&ex, workers, "blocking");

	if (rc)
		die("executor_new: %s", executor_strerror(rc));
	return ex;
}

/* ---------------------------------------------------------------- result */

static int result_step(struct co_task *t)
{
	struct scene *s = (struct scene *)t;

	CO_BEGIN(t);
	s->start = clk_now_ns();
	s->calls[0].ms = BLOCK_MS;
	caller_start(t, &s->callers[0], s->ex, &s->calls[0]);
	CO_AWAIT(t, co_sleep(t, 100), &s->err);
	s->sleeper_ms = ms_since(s->start);
	/* From here on only the call is left: the loop must sleep. */
	s->before = usage_now();
	CO_AWAIT(t, co_await(t, &s->callers[0].task.done), &s->err);
	s->after = usage_now();
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_result(void)
{
	struct scene *s = xcalloc(1, sizeof *s);
	int rc;

	s->ex = new_executor(2);
	rc = co_run(&s->task, result_step);
	printf("run=%s result=%s answer=%d at_ms=%.1f sleeper_ms=%.1f ", errname(rc),
	       errname(s->callers[0].result), s->callers[0].exec.result == &s->calls[0].answer,
	       s->callers[0].at_ms, s->sleeper_ms);
	usage_print("loop", s->before, s->after);
	printf("\n");
	executor_free(s->ex);
	free(s);
}

/* ---------------------------------------------------------------- error */

static int error_step(struct co_task *t)
{
	struct scene *s = (struct scene *)t;

	CO_BEGIN(t);
	s->calls[0].ms = 10;
	s->calls[0].ret = -EIO;
	caller_start(t, &s->callers[0], s->ex, &s->calls[0]);
	CO_AWAIT(t, co_await(t, &s->callers[0].task.done), &s->err);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_error(void)
{
	struct scene *s = xcalloc(1, sizeof *s);
	int rc;

	s->ex = new_executor(1);
	rc = co_run(&s->task, error_step);
	printf("run=%s result=%s\nmessage=%s\n", errname(rc), errname(s->callers[0].result),
	       s->callers[0].exec.err);
	executor_free(s->ex);
	free(s);
}

/* ---------------------------------------------------------------- cancels */

/* Caller 0's call holds the only worker for 300 ms; caller 1's call waits
 * in the queue.  The scene cancels caller @victim after 50 ms. */
static int cancel_step(struct co_task *t)
{
	struct scene *s = (struct scene *)t;

	CO_BEGIN(t);
	s->calls[0].ms = 300;
	s->calls[1].ms = 300;
	caller_start(t, &s->callers[0], s->ex, &s->calls[0]);
	caller_start(t, &s->callers[1], s->ex, &s->calls[1]);
	CO_AWAIT(t, co_sleep(t, 50), &s->err);
	co_task_cancel(&s->callers[s->victim].task);
	CO_AWAIT(t, co_await(t, &s->callers[0].task.done), &s->err);
	CO_AWAIT(t, co_await(t, &s->callers[1].task.done), &s->err);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void run_cancel(size_t victim)
{
	struct scene *s = xcalloc(1, sizeof *s);
	struct caller *c = &s->callers[victim];
	int rc;

	s->ex = new_executor(1);
	s->victim = victim;
	rc = co_run(&s->task, cancel_step);
	executor_free(s->ex); /* joins the worker: the calls are over */
	printf("run=%s result=%s at_ms=%.1f finished_at_return=%d ran=%d other=%s\n", errname(rc),
	       errname(c->result), c->at_ms, c->finished_at_return,
	       atomic_load(&s->calls[victim].ran), errname(s->callers[1 - victim].result));
	free(s);
}

static void case_cancel_running(void)
{
	run_cancel(0);
}

static void case_cancel_queued(void)
{
	run_cancel(1);
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"result", "error", "cancel-running", "cancel-queued", NULL,
	};
	static void (*const run[])(void) = {
		case_result,
		case_error,
		case_cancel_running,
		case_cancel_queued,
	};

	return probe_main(argc, argv, cases, run);
}
