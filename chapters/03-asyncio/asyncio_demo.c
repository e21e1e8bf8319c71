/*
 * asyncio_demo.c - the guide's asyncio example, in C.
 *
 * Ten coroutines each "fetch" data by waiting half a second.  They run on
 * one thread: each task starts its wait and gives the thread back, so the
 * ten waits overlap and the whole run takes 0.5 s instead of the 5.0 s of
 * one fetch after another.  co_gather() collects them, and the results come
 * back in the order the tasks were given, whichever finished first.
 *
 *	asyncio_demo [--tasks N] [--delay-ms MS] [--stagger-ms MS]
 *	             [--sequential] [--timeline] [--trace]
 *
 * --stagger-ms makes later tasks finish first (task i waits MS less than
 * task i-1), to show that gather's order is the argument order and not the
 * finishing order.  --sequential awaits each task before starting the next,
 * which is what a program without a loop would do.
 *
 * The loop thread's own CPU time and sleeps are printed too: a loop that
 * waits on ten timers spends the half second asleep in epoll_wait (or
 * poll), not looking at the clock.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"
#include "log.h"
#include "timeline.h"

#define MAX_TASKS 100000
#define MAX_CHART_TASKS 100 /* a chart row per task: more would not be read */
#define MAX_SHOWN 100	    /* per-task log lines and results shown in full */

/* One fetch: the frame of one task. */
struct fetch {
	struct co_task task; /* first: the library finds the frame from it */
	int id;
	long delay_ms;
	bool chatty;	   /* log "Sending request..." and "Data received!" */
	struct demo *demo; /* where to record the finishing order and span */
	int64_t start_ns;
	char name[24]; /* "Task-3" */
	char data[24]; /* the result: "Data 3" */
};

/* The main task's frame, and what the program reads after co_run(). */
struct demo {
	struct co_task task;
	struct fetch *fetches;
	struct co_task **tasks;	 /* &fetches[i].task, for gather */
	struct co_callback *cbs; /* gather's callbacks, one per task */
	struct co_gather gather;
	size_t n, next; /* next: the sequential run's position */
	bool sequential;
	struct timeline *tl; /* or NULL */
	int *finished;	     /* ids in the order the tasks finished */
	size_t nfinished;
};

static int fetch_step(struct co_task *t)
{
	struct fetch *f = (struct fetch *)t;
	struct demo *d = f->demo;
	int err;

	CO_BEGIN(t);
	f->start_ns = clk_now_ns();
	if (f->chatty)
		log_as(f->name, "Sending request...");
	/* The await: the task stops here, and the thread runs the others. */
	CO_AWAIT(t, co_sleep(t, f->delay_ms), &err);
	if (err)
		CO_RETURN(t, err);
	if (f->chatty)
		log_as(f->name, "Data received!");
	snprintf(f->data, sizeof(f->data), "Data %d", f->id);
	d->finished[d->nfinished++] = f->id;
	if (d->tl) {
		char job[16];

		snprintf(job, sizeof(job), "%d", f->id);
		/* '.' is the chart's mark for "waiting on I/O". */
		timeline_add(d->tl, f->name, job, '.', f->start_ns, clk_now_ns());
	}
	CO_RETURN(t, 0);
	CO_END(t);
}

static int main_step(struct co_task *t)
{
	struct demo *d = (struct demo *)t;
	int err;

	CO_BEGIN(t);
	if (d->sequential) {
		/* One at a time: start a task, await it, only then the next. */
		for (d->next = 0; d->next < d->n; d->next++) {
			struct fetch *f = &d->fetches[d->next];

			co_task_start(co_loop(t), &f->task, fetch_step, f->name);
			CO_AWAIT(t, co_await(t, &d->fetches[d->next].task.done), &err);
			if (err)
				CO_RETURN(t, err);
		}
		CO_RETURN(t, 0);
	}
	/* asyncio.create_task for each, then one gather for all of them. */
	for (size_t i = 0; i < d->n; i++)
		co_task_start(co_loop(t), d->tasks[i], fetch_step, d->fetches[i].name);
	CO_AWAIT(t, co_gather(t, &d->gather, d->tasks, d->cbs, d->n, false), &err);
	CO_RETURN(t, err);
	CO_END(t);
}

/* What the calling thread has used so far: CPU time and times it slept. */
static void thread_usage(double *cpu_ms, long *sleeps)
{
	struct timespec ts;
	struct rusage ru;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		die_errno(errno, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		die_errno(errno, "getrusage(RUSAGE_THREAD)");
	*cpu_ms = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
	*sleeps = ru.ru_nvcsw; /* voluntary context switches */
}

/* How many of @n results to list: all of a few, the first ten of many. */
static size_t shown(size_t n)
{
	return n <= MAX_SHOWN ? n : 10;
}

/* "0,1,2" for the test's eyes. */
static void print_ids(const char *key, const int *ids, size_t n)
{
	printf(" %s=", key);
	for (size_t i = 0; i < shown(n); i++)
		printf("%s%d", i ? "," : "", ids[i]);
	if (shown(n) < n)
		printf(",...");
}

static void print_results(const struct demo *d)
{
	printf("Fetched %zu items\n", d->n);
	printf("Results:");
	for (size_t i = 0; i < shown(d->n); i++) {
		/* tasks[i], not fetches[i]: gather's argument order. */
		const struct fetch *f = (const struct fetch *)d->tasks[i];

		printf("%s %s", i ? "," : "", f->data);
	}
	if (shown(d->n) < d->n)
		printf(", ... (%zu in all)", d->n);
	printf("\n");
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--delay-ms MS] [--stagger-ms MS] [--sequential]\n"
	       "                    [--timeline] [--trace]\n"
	       "\n"
	       "Start N coroutines on one thread, each \"fetching\" data by waiting MS\n"
	       "milliseconds, gather them, and compare the time taken with the ideal and\n"
	       "with one fetch after another.  Defaults are the guide's: 10 tasks, 500 ms.\n"
	       "\n"
	       "  --tasks N        how many tasks (1 to %d, default 10)\n"
	       "  --delay-ms MS    how long each fetch waits (0 to 60000, default 500)\n"
	       "  --stagger-ms MS  task i waits MS more than task i+1, so the last task\n"
	       "                   finishes first (0 to 10000, default 0; at most 600 s\n"
	       "                   more for the first task)\n"
	       "  --sequential     await each task before starting the next\n"
	       "  --timeline       draw one row per task: when it waited (up to %d tasks)\n"
	       "  --trace          print one 'span TASK ID MARK START END' line per task\n"
	       "  --help           show this and exit\n",
	       wb_progname(), MAX_TASKS, MAX_CHART_TASKS);
}

struct options {
	long tasks, delay_ms, stagger_ms;
	bool sequential, draw, trace;
};

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_TASKS = 1, OPT_DELAY, OPT_STAGGER, OPT_SEQ, OPT_TIMELINE, OPT_TRACE, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "stagger-ms", required_argument, NULL, OPT_STAGGER },
		{ "sequential", no_argument, NULL, OPT_SEQ },
		{ "timeline", no_argument, NULL, OPT_TIMELINE },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			o->tasks = arg_long("--tasks", optarg, 1, MAX_TASKS);
			break;
		case OPT_DELAY:
			o->delay_ms = arg_long("--delay-ms", optarg, 0, 60000);
			break;
		case OPT_STAGGER:
			o->stagger_ms = arg_long("--stagger-ms", optarg, 0, 10000);
			break;
		case OPT_SEQ:
			o->sequential = true;
			break;
		case OPT_TIMELINE:
			o->draw = true;
			break;
		case OPT_TRACE:
			o->trace = true;
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (o->draw && o->tasks > MAX_CHART_TASKS)
		usage_error("--timeline draws one row per task: at most %d tasks, not %ld",
			    MAX_CHART_TASKS, o->tasks);
	/* The longest wait must stay within what co_sleep() is asked for. */
	if (o->stagger_ms * (o->tasks - 1) > 600000)
		usage_error("--stagger-ms %ld with %ld tasks adds more than 600 s to task 0's wait",
			    o->stagger_ms, o->tasks);
}

int main(int argc, char **argv)
{
	struct options o = { .tasks = 10, .delay_ms = 500 };
	struct demo d = { 0 };
	double elapsed, ideal, sequential, cpu0, cpu1;
	long sleeps0, sleeps1;
	int64_t start;
	size_t n;
	int rc;

	wb_init(argv[0]);
	parse_options(argc, argv, &o);
	n = (size_t)o.tasks;

	if (o.draw || o.trace) {
		rc = timeline_new(&d.tl, n);
		if (rc)
			die_errno(-rc, "timeline_new");
	}
	d.n = n;
	d.sequential = o.sequential;
	d.fetches = xcalloc(n, sizeof(*d.fetches));
	d.tasks = xcalloc(n, sizeof(*d.tasks));
	d.cbs = xcalloc(n, sizeof(*d.cbs));
	d.finished = xcalloc(n, sizeof(*d.finished));
	for (size_t i = 0; i < n; i++) {
		struct fetch *f = &d.fetches[i];

		f->id = (int)i;
		f->delay_ms = o.delay_ms + (long)(n - 1 - i) * o.stagger_ms;
		f->chatty = n <= MAX_SHOWN;
		f->demo = &d;
		snprintf(f->name, sizeof(f->name), "Task-%d", f->id);
		d.tasks[i] = &f->task;
	}

	printf("%s %zu task%s %s, each waiting %.3f s%s\n", o.sequential ? "Awaiting" : "Gathering",
	       n, n == 1 ? "" : "s", o.sequential ? "one after another" : "on one thread",
	       (double)o.delay_ms / 1000, o.stagger_ms ? " plus the stagger" : "");
	if (!d.fetches[0].chatty)
		printf("(per-task lines are shown for up to %d tasks)\n", MAX_SHOWN);
	fflush(stdout); /* log lines are written directly; keep the order */

	/* Everything from making the loop to freeing it, as asyncio.run. */
	thread_usage(&cpu0, &sleeps0);
	start = clk_now_ns();
	rc = co_run(&d.task, main_step);
	elapsed = clk_since(start);
	thread_usage(&cpu1, &sleeps1);
	if (rc)
		die("co_run: %s", strerror(-rc));

	print_results(&d);
	/* The longest wait is the first task's; one at a time, the waits add up. */
	ideal = (double)(o.delay_ms + (long)(n - 1) * o.stagger_ms) / 1000;
	sequential = ((double)n * (double)o.delay_ms +
		      (double)o.stagger_ms * (double)n * (double)(n - 1) / 2) /
		     1000;
	if (o.sequential)
		printf("%zu tasks one at a time in %.3f s (computed %.3f s; ideal %.3f s "
		       "gathered)\n",
		       n, elapsed, sequential, ideal);
	else
		printf("%zu tasks in %.3f s (ideal %.3f s; %.3f s one at a time)\n", n, elapsed,
		       ideal, sequential);
	printf("The loop thread used %.1f ms of CPU and went to sleep %ld time%s\n", cpu1 - cpu0,
	       sleeps1 - sleeps0, sleeps1 - sleeps0 == 1 ? "" : "s");
	printf("tasks=%zu delay_ms=%ld stagger_ms=%ld mode=%s elapsed=%.3f ideal=%.3f "
	       "sequential=%.3f loop_cpu_ms=%.2f loop_wakeups=%ld",
	       n, o.delay_ms, o.stagger_ms, o.sequential ? "sequential" : "gather", elapsed, ideal,
	       sequential, cpu1 - cpu0, sleeps1 - sleeps0);
	print_ids("finish_order", d.finished, d.nfinished);
	printf("\n");

	if (o.draw) {
		printf("\n");
		timeline_draw(d.tl, stdout, 60);
		printf("(one row per task; [N....] is task N waiting, all on one thread)\n");
	}
	if (o.trace)
		timeline_dump(d.tl, stdout);

	timeline_free(d.tl);
	free(d.finished);
	free(d.cbs);
	free(d.tasks);
	free(d.fetches);
	return 0;
}
