/*
 * wait_for_demo.c - a slow operation under a deadline: asyncio.wait_for and
 * asyncio.timeout, with the cancelled task's cleanup shown running.
 *
 * A task "talks to a server" by waiting --work-ms (2 s).  The main task
 * gives it --timeout-ms (0.5 s) with co_wait_for().  When the time is up,
 * wait_for does not simply walk away: it cancels the task, whose await
 * returns -ECANCELED; the task closes its connection (and, with
 * --cleanup-ms, waits for that to finish), and only once it has returned
 * does wait_for return -ETIMEDOUT.  Then the same operation gets a deadline
 * it can meet and its result comes back.  Last, the same deadline as a
 * scope in the main task itself (co_timeout_enter ... co_timeout_exit,
 * Python 3.11's "async with asyncio.timeout()"), which needs no second
 * task at all.
 *
 *	wait_for_demo [--work-ms MS] [--timeout-ms MS] [--long-timeout-ms MS]
 *	              [--cleanup-ms MS]
 *
 * Each scene ends with a line for tests to read:
 *	scene=NAME timeout_ms=MS result=CODE elapsed=SECONDS cleanup=0|1
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"
#include "log.h"

#define MAX_MS 120000

struct options {
	long work_ms, timeout_ms, long_timeout_ms, cleanup_ms;
};

/* The slow operation: a task of its own, for wait_for to cancel. */
struct slow_op {
	struct co_task task;
	long work_ms, cleanup_ms;
	int err;      /* what its work's await returned */
	bool cleaned; /* its cleanup has run to the end */
	char name[16];
};

/* The main task: three scenes one after another. */
struct demo {
	struct co_task task;
	const struct options *o;
	struct slow_op ops[2]; /* one per wait_for scene: a task runs once */
	struct co_wait_for w;
	struct co_timeout scope;
	int64_t start;
	int err, cleanup_err;
	bool cleaned; /* the scope scene's cleanup has run */
	int failures; /* scenes that did not end as they should */
};

/* "-ETIMEDOUT", "-ECANCELED": the codes an await here may return, named. */
static const char *code_name(int code)
{
	switch (code) {
	case 0:
		return "0";
	case -ETIMEDOUT:
		return "-ETIMEDOUT";
	case -ECANCELED:
		return "-ECANCELED";
	default:
		return "an unexpected code";
	}
}

static int slow_step(struct co_task *t)
{
	struct slow_op *op = (struct slow_op *)t;
	int err;

	CO_BEGIN(t);
	log_as(op->name, "connected; working for %.3f s", (double)op->work_ms / 1000);
	CO_AWAIT(t, co_sleep(t, op->work_ms), &op->err);
	if (op->err)
		log_as(op->name, "cancelled at its await (%s)", code_name(op->err));
	else
		log_as(op->name, "work done");
	/*
	 * The cleanup runs however the work ended, as a finally: block would.
	 * It may await too: a cancel is delivered once, so this await is not
	 * cancelled again, and wait_for waits until the task has returned.
	 */
	log_as(op->name, "cleanup: closing the connection");
	if (op->cleanup_ms) {
		CO_AWAIT(t, co_sleep(t, op->cleanup_ms), &err);
		log_as(op->name, "cleanup: connection closed (%s)", code_name(err));
	}
	op->cleaned = true;
	CO_RETURN(t, op->err ? op->err : 42);
	CO_END(t);
}

/* Print how scene @name ended and check it against what should happen. */
static void scene_report(struct demo *d, const char *name, long timeout_ms, bool cleaned)
{
	double elapsed = clk_since(d->start);
	bool ok;

	if (d->err == -ETIMEDOUT) {
		log_as("main", "timed out after %.2f s, cleanup %s", elapsed,
		       cleaned ? "done" : "NOT done");
		ok = cleaned;
	} else if (d->err >= 0) {
		log_as("main", "finished in %.2f s with result %d", elapsed, d->err);
		ok = true;
	} else {
		log_as("main", "failed after %.2f s: %s", elapsed, strerror(-d->err));
		ok = false;
	}
	if (!ok)
		d->failures++;
	printf("scene=%s timeout_ms=%ld result=", name, timeout_ms);
	if (d->err == -ETIMEDOUT || d->err == -ECANCELED)
		printf("%s", code_name(d->err));
	else
		printf("%d", d->err);
	printf(" elapsed=%.3f cleanup=%d\n", elapsed, cleaned ? 1 : 0);
	fflush(stdout);
}

/* Print the scene's title and start slow operation @i. */
static void scene_start(struct demo *d, int i, long timeout_ms)
{
	struct slow_op *op = &d->ops[i];

	printf("\n%s operation of %.3f s under wait_for with a %.3f s timeout\n",
	       i == 0 ? "A slow" : "The same", (double)d->o->work_ms / 1000,
	       (double)timeout_ms / 1000);
	fflush(stdout); /* log lines are written directly; keep the order */
	op->work_ms = d->o->work_ms;
	op->cleanup_ms = d->o->cleanup_ms;
	snprintf(op->name, sizeof(op->name), "slow-%d", i + 1);
	d->start = clk_now_ns();
	co_task_start(co_loop(&d->task), &op->task, slow_step, op->name);
}

static int main_step(struct co_task *t)
{
	struct demo *d = (struct demo *)t;
	const struct options *o = d->o;

	CO_BEGIN(t);
	/* 1. wait_for with a deadline the operation cannot meet. */
	scene_start(d, 0, o->timeout_ms);
	CO_AWAIT(t, co_wait_for(t, &d->w, &d->ops[0].task, o->timeout_ms), &d->err);
	scene_report(d, "wait_for", o->timeout_ms, d->ops[0].cleaned);

	/* 2. The same with a deadline it meets: its result comes through. */
	scene_start(d, 1, o->long_timeout_ms);
	CO_AWAIT(t, co_wait_for(t, &d->w, &d->ops[1].task, o->long_timeout_ms), &d->err);
	scene_report(d, "wait_for_long", o->long_timeout_ms, d->ops[1].cleaned);

	/* 3. The deadline as a scope around this task's own await. */
	printf("\nThe first deadline again, as a timeout scope in the main task: no second "
	       "task\n");
	fflush(stdout);
	d->start = clk_now_ns();
	d->err = co_timeout_enter(t, &d->scope, o->timeout_ms);
	if (d->err)
		CO_RETURN(t, d->err); /* -ENOMEM: no scope was entered */
	log_as("main", "working for %.3f s", (double)o->work_ms / 1000);
	CO_AWAIT(t, co_sleep(t, o->work_ms), &d->err);
	if (d->err)
		log_as("main", "cancelled at its await (%s)", code_name(d->err));
	else
		log_as("main", "work done");
	log_as("main", "cleanup: closing the connection");
	if (o->cleanup_ms) {
		CO_AWAIT(t, co_sleep(t, o->cleanup_ms), &d->cleanup_err);
		log_as("main", "cleanup: connection closed (%s)", code_name(d->cleanup_err));
	}
	d->cleaned = true;
	/* The scope's exit turns its own cancellation into -ETIMEDOUT. */
	d->err = co_timeout_exit(&d->scope, d->err);
	scene_report(d, "timeout", o->timeout_ms, d->cleaned);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void usage(void)
{
	printf("usage: %s [--work-ms MS] [--timeout-ms MS] [--long-timeout-ms MS]\n"
	       "                     [--cleanup-ms MS]\n"
	       "\n"
	       "Run a slow operation (a task that waits --work-ms) under co_wait_for with\n"
	       "a deadline it cannot meet: the task is cancelled, runs its cleanup, and\n"
	       "only then does wait_for return -ETIMEDOUT.  Then the same with a deadline\n"
	       "it meets, and the first deadline again as a timeout scope.\n"
	       "\n"
	       "  --work-ms MS          how long the operation takes (0 to %d, default 2000)\n"
	       "  --timeout-ms MS       the short deadline (0 to %d, default 500)\n"
	       "  --long-timeout-ms MS  the deadline of the second run (0 to %d, default\n"
	       "                        twice --work-ms plus 100)\n"
	       "  --cleanup-ms MS       how long the cleanup itself waits (0 to %d,\n"
	       "                        default 0)\n"
	       "  --help                show this and exit\n"
	       "\n"
	       "Exit status: 0 when every deadline that passed found the cleanup done,\n"
	       "1 otherwise, 2 for bad input.\n",
	       wb_progname(), MAX_MS, MAX_MS, MAX_MS, MAX_MS);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_WORK = 1, OPT_TIMEOUT, OPT_LONG, OPT_CLEANUP, OPT_HELP };
	static const struct option opts[] = {
		{ "work-ms", required_argument, NULL, OPT_WORK },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "long-timeout-ms", required_argument, NULL, OPT_LONG },
		{ "cleanup-ms", required_argument, NULL, OPT_CLEANUP },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->long_timeout_ms = -1;
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_WORK:
			o->work_ms = arg_long("--work-ms", optarg, 0, MAX_MS);
			break;
		case OPT_TIMEOUT:
			o->timeout_ms = arg_long("--timeout-ms", optarg, 0, MAX_MS);
			break;
		case OPT_LONG:
			o->long_timeout_ms = arg_long("--long-timeout-ms", optarg, 0, MAX_MS);
			break;
		case OPT_CLEANUP:
			o->cleanup_ms = arg_long("--cleanup-ms", optarg, 0, MAX_MS);
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (o->long_timeout_ms < 0)
		o->long_timeout_ms = 2 * o->work_ms + 100;
}

int main(int argc, char **argv)
{
	struct options o = { .work_ms = 2000, .timeout_ms = 500, .cleanup_ms = 0 };
	struct demo d = { .o = &o };
	int rc;

	wb_init(argv[0]);
	parse_options(argc, argv, &o);
	rc = co_run(&d.task, main_step);
	if (rc)
		die("co_run: %s", strerror(-rc));
	if (d.failures)
		die("%d scene%s did not end as wait_for promises", d.failures,
		    d.failures == 1 ? "" : "s");
	return 0;
}
