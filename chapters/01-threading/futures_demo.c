/*
 * futures_demo.c - the guide's "common patterns" with futures, in C.
 *
 * Five short scenes, each printing what happened:
 *   1. submit four tasks and take them with as_completed: finishing order,
 *      not submission order;
 *   2. a task that fails: its error code and message surface at result();
 *   3. result() with a timeout on a slow task: "timed out", and the task
 *      carries on;
 *   4. cancel: it works on a queued task, not on a running one;
 *   5. shutdown with cancel_futures: the queued tasks never run.
 *
 *	futures_demo [--unit-ms MS]
 */
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "executor.h"

struct job {
	const char *name;
	long ms;	  /* how long it sleeps */
	const char *fail; /* if set, it fails with this message */
	sem_t *started;	  /* posted when it starts, if set */
	atomic_bool ran;
	char out[64]; /* the result */
};

static int nap_task(void *arg, void **result, char *err, size_t errlen)
{
	struct job *j = arg;

	atomic_store(&j->ran, true);
	if (j->started && sem_post(j->started) != 0)
		return -errno;
	clk_sleep_ms(j->ms);
	if (j->fail) {
		snprintf(err, errlen, "%s", j->fail);
		return -EINVAL;
	}
	snprintf(j->out, sizeof(j->out), "%s slept %ld ms", j->name, j->ms);
	*result = j->out;
	return 0;
}

static struct executor *start(int workers)
{
	struct executor *ex;
	int rc = executor_new(&ex, workers, "worker");

	if (rc)
		die("executor_new: %s", executor_strerror(rc));
	return ex;
}

static struct future *submit(struct executor *ex, struct job *j)
{
	struct future *f;
	int rc = executor_submit(ex, nap_task, j, &f);

	if (rc)
		die("executor_submit(%s): %s", j->name, executor_strerror(rc));
	return f;
}

/* Scene 1: tasks finish in their own order; as_completed follows it. */
static void scene_as_completed(long unit)
{
	struct job jobs[4] = {
		{ .name = "task 0", .ms = 4 * unit },
		{ .name = "task 1", .ms = 1 * unit },
		{ .name = "task 2", .ms = 3 * unit },
		{ .name = "task 3", .ms = 2 * unit },
	};
	struct executor *ex = start(4);
	struct future *fs[4];
	struct as_completed *ac;
	struct future *f;
	char order[32] = "";
	int64_t t0 = clk_now_ns();
	int rc;

	printf("== 1. submit + as_completed: futures in the order they finish\n");
	for (int i = 0; i < 4; i++) {
		fs[i] = submit(ex, &jobs[i]);
		printf("submitted task %d (sleeps %ld ms)\n", i, jobs[i].ms);
	}
	rc = as_completed_new(&ac, fs, 4, -1);
	if (rc)
		die("as_completed_new: %s", executor_strerror(rc));
	while ((rc = as_completed_next(ac, &f)) > 0) {
		void *value;
		int i = 0;

		while (fs[i] != f)
			i++;
		rc = future_result(f, 0, &value);
		if (rc)
			die("task %d: %s", i, executor_strerror(rc));
		printf("finished: task %d at +%.2f s: %s\n", i, clk_since(t0), (const char *)value);
		snprintf(order + strlen(order), sizeof(order) - strlen(order), "%s%d",
			 order[0] ? " " : "", i);
	}
	if (rc < 0)
		die("as_completed_next: %s", executor_strerror(rc));
	printf("completion order: %s (submitted 0 1 2 3)\n\n", order);
	as_completed_free(ac);
	for (int i = 0; i < 4; i++)
		future_unref(fs[i]);
	executor_free(ex);
}

/* Scene 2: a failure is a value that travels to whoever asks. */
static void scene_failure(long unit)
{
	struct job job = { .name = "parse settings",
			   .ms = unit,
			   .fail = "line 3: expected 'key = value'" };
	struct executor *ex = start(1);
	struct future *f;
	int rc;

	printf("== 2. a task that fails: the error reaches result()\n");
	f = submit(ex, &job);
	rc = future_result(f, -1, NULL);
	printf("result() of \"%s\" returned %d (%s)\n", job.name, rc, executor_strerror(rc));
	printf("the task's message: %s\n\n", future_errmsg(f));
	future_unref(f);
	executor_free(ex);
}

/* Scene 3: result(timeout) gives up waiting; the task does not stop. */
static void scene_timeout(long unit)
{
	struct job job = { .name = "slow task", .ms = 6 * unit };
	struct executor *ex = start(1);
	struct future *f = submit(ex, &job);
	long timeout = 2 * unit;
	int64_t t0 = clk_now_ns();
	void *value;
	int rc;

	printf("== 3. result() with a timeout on a task of %ld ms\n", job.ms);
	rc = future_result(f, timeout, &value);
	if (rc == -ETIMEDOUT)
		printf("result(timeout %ld ms): timed out after %.2f s; the task is still %s\n",
		       timeout, clk_since(t0), future_state_name(future_state(f)));
	else
		printf("result(timeout %ld ms): %s\n", timeout, executor_strerror(rc));
	printf("timeout_elapsed=%.3f\n", clk_since(t0));
	rc = future_result(f, -1, &value);
	if (rc)
		die("future_result: %s", executor_strerror(rc));
	printf("waiting again without a limit: \"%s\" at +%.2f s\n\n", (const char *)value,
	       clk_since(t0));
	future_unref(f);
	executor_free(ex);
}

/* Scene 4: only a queued task can be cancelled. */
static void scene_cancel(long unit)
{
	sem_t started;
	struct job busy = { .name = "A", .ms = 3 * unit, .started = &started };
	struct job queued = { .name = "B", .ms = unit };
	struct job last = { .name = "C", .ms = unit };
	struct executor *ex = start(1);
	struct future *fa, *fb, *fc;
	int rc;

	if (sem_init(&started, 0, 0) != 0)
		die_errno(errno, "sem_init");
	printf("== 4. cancel: one worker runs A; B and C wait in the queue\n");
	fa = submit(ex, &busy);
	fb = submit(ex, &queued);
	fc = submit(ex, &last);
	while (sem_wait(&started) != 0)
		if (errno != EINTR)
			die_errno(errno, "sem_wait");

	rc = future_cancel(fa);
	printf("cancel(A), running: %d (%s)\n", rc, executor_strerror(rc));
	rc = future_cancel(fb);
	printf("cancel(B), queued:  %d; B is now %s\n", rc, future_state_name(future_state(fb)));
	rc = future_result(fb, -1, NULL);
	printf("result(B): %d (%s)\n", rc, executor_strerror(rc));
	rc = future_result(fc, -1, NULL);
	printf("result(C): %d; A is %s\n", rc, future_state_name(future_state(fa)));
	printf("B ran: %s, C ran: %s\n\n", atomic_load(&queued.ran) ? "yes" : "no",
	       atomic_load(&last.ran) ? "yes" : "no");
	future_unref(fa);
	future_unref(fb);
	future_unref(fc);
	executor_free(ex);
	sem_destroy(&started);
}

/* Scene 5: shutdown(wait, cancel_futures) drops what has not started. */
static void scene_shutdown(long unit)
{
	sem_t started;
	struct job jobs[5];
	struct future *fs[5];
	struct executor *ex = start(1);
	int ran = 0;

	if (sem_init(&started, 0, 0) != 0)
		die_errno(errno, "sem_init");
	printf("== 5. shutdown(wait, cancel_futures) with one worker and 5 tasks\n");
	for (int i = 0; i < 5; i++) {
		/* The first job runs long enough for main to shut down meanwhile. */
		jobs[i] = (struct job){ .name = "job",
					.ms = i == 0 ? 3 * unit : unit,
					.started = i == 0 ? &started : NULL };
		fs[i] = submit(ex, &jobs[i]);
	}
	while (sem_wait(&started) != 0)
		if (errno != EINTR)
			die_errno(errno, "sem_wait");
	executor_shutdown(ex, true, true);
	for (int i = 0; i < 5; i++) {
		printf("task %d: %s\n", i, future_state_name(future_state(fs[i])));
		ran += atomic_load(&jobs[i].ran);
		future_unref(fs[i]);
	}
	printf("ran %d of 5 tasks\n", ran);
	executor_free(ex);
	sem_destroy(&started);
}

static void usage(void)
{
	printf("usage: %s [--unit-ms MS]\n"
	       "\n"
	       "Show futures at work: as_completed, a failing task, result() with a\n"
	       "timeout, cancel, and shutdown with cancel_futures.\n"
	       "\n"
	       "  --unit-ms MS   the time unit every sleep is a multiple of\n"
	       "                 (20 to 10000; default 150); the order of events\n"
	       "                 depends on tasks differing by one unit\n"
	       "  --help         show this and exit\n",
	       wb_progname());
}

int main(int argc, char **argv)
{
	enum { OPT_UNIT = 1, OPT_HELP };
	static const struct option opts[] = {
		{ "unit-ms", required_argument, NULL, OPT_UNIT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long unit = 150;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_UNIT:
			unit = arg_long("--unit-ms", optarg, 20, 10000);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);

	scene_as_completed(unit);
	scene_failure(unit);
	scene_timeout(unit);
	scene_cancel(unit);
	scene_shutdown(unit);
	return 0;
}
