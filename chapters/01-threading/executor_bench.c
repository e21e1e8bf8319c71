/*
 * executor_bench.c - what does the executor cost per task?
 *
 * Trivial tasks (they return their argument) measure the machinery and
 * nothing else: how many tasks per second pass through submit + result
 * and through map, and how long one task takes from submit to result,
 * each compared with starting one thread per task.  Every figure is the
 * median of several runs; the machine is shared and noisy.
 *
 *	executor_bench [--tasks N] [--runs N] [--workers N]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "executor.h"

/* Starting a thread per task is slow; this many is plenty to time it. */
#define THREAD_TASKS_MAX 10000L
#define LATENCY_SAMPLES 2000

/*
 * A run holds every task at once: its future and three pointers (argument,
 * future, result).  That measures at about 200 bytes a task; the check of
 * --tasks counts 256, to err on the safe side.  The cap keeps a run within
 * a few GiB whatever the machine.
 */
#define BYTES_PER_TASK 256
#define TASKS_MAX 10000000L

static int trivial_task(void *arg, void **result, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	*result = arg;
	return 0;
}

static void *trivial_thread(void *arg)
{
	return arg;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct executor *start_executor(int workers)
{
	struct executor *ex;
	int rc = executor_new(&ex, workers, "bench");

	if (rc)
		die("executor_new: %s", executor_strerror(rc));
	return ex;
}

/* Submit every task, then collect every result: seconds taken. */
static double time_submit(int workers, void **args, size_t n)
{
	struct executor *ex = start_executor(workers);
	struct future **fs = xcalloc(n, sizeof(*fs));
	int64_t start = clk_now_ns();
	double secs;

	for (size_t i = 0; i < n; i++) {
		int rc = executor_submit(ex, trivial_task, args[i], &fs[i]);

		if (rc)
			die("executor_submit: %s", executor_strerror(rc));
	}
	for (size_t i = 0; i < n; i++) {
		void *value;
		int rc = future_result(fs[i], -1, &value);

		if (rc || value != args[i])
			die("future_result: task %zu: %s", i, executor_strerror(rc));
		future_unref(fs[i]);
	}
	secs = clk_since(start);
	executor_free(ex);
	free(fs);
	return secs;
}

static double time_map(int workers, void **args, size_t n)
{
	struct executor *ex = start_executor(workers);
	void **results = xcalloc(n, sizeof(*results));
	char err[EXECUTOR_ERRMAX];
	int64_t start = clk_now_ns();
	double secs;
	int rc;

	rc = executor_map(ex, trivial_task, args, n, results, -1, err,
			  sizeof(err));
	secs = clk_since(start);
	if (rc)
		die("executor_map: %s", err[0] ? err : executor_strerror(rc));
	for (size_t i = 0; i < n; i++)
		if (results[i] != args[i])
			die("executor_map: result %zu is wrong", i);
	executor_free(ex);
	free(results);
	return secs;
}

/* One pthread_create + pthread_join per task, `workers` at a time. */
static double time_threads(int workers, void **args, size_t n)
{
	pthread_t *tids = xcalloc((size_t)workers, sizeof(*tids));
	int64_t start = clk_now_ns();
	double secs;

	for (size_t i = 0; i < n; i += (size_t)workers) {
		size_t batch = n - i < (size_t)workers ? n - i : (size_t)workers;

		for (size_t k = 0; k < batch; k++) {
			int rc = pthread_create(&tids[k], NULL, trivial_thread,
						args[i + k]);

			if (rc)
				die_errno(rc, "pthread_create");
		}
		for (size_t k = 0; k < batch; k++)
			PT_CHECK(pthread_join(tids[k], NULL));
	}
	secs = clk_since(start);
	free(tids);
	return secs;
}

/* The median time from submit to result of one task on an idle pool. */
static double latency_executor(int workers)
{
	struct executor *ex = start_executor(workers);
	double samples[LATENCY_SAMPLES];

	for (int i = 0; i < LATENCY_SAMPLES; i++) {
		int64_t start = clk_now_ns();
		struct future *f;
		int rc = executor_submit(ex, trivial_task, NULL, &f);

		if (rc)
			die("executor_submit: %s", executor_strerror(rc));
		rc = future_result(f, -1, NULL);
		if (rc)
			die("future_result: %s", executor_strerror(rc));
		samples[i] = clk_since(start);
		future_unref(f);
	}
	executor_free(ex);
	return median(samples, LATENCY_SAMPLES);
}

static double latency_thread(void)
{
	double samples[LATENCY_SAMPLES];

	for (int i = 0; i < LATENCY_SAMPLES; i++) {
		int64_t start = clk_now_ns();
		pthread_t tid;
		int rc = pthread_create(&tid, NULL, trivial_thread, NULL);

		if (rc)
			die_errno(rc, "pthread_create");
		PT_CHECK(pthread_join(tid, NULL));
		samples[i] = clk_since(start);
	}
	return median(samples, LATENCY_SAMPLES);
}

typedef double timed_fn(int workers, void **args, size_t n);

/* The median over @runs runs of @fn, in seconds. */
static double median_of_runs(timed_fn *fn, int runs, int workers,
			     void **args, size_t n)
{
	double *secs = xcalloc((size_t)runs, sizeof(*secs));
	double m;

	for (int r = 0; r < runs; r++)
		secs[r] = fn(workers, args, n);
	m = median(secs, (size_t)runs);
	free(secs);
	return m;
}

static void row(const char *what, size_t n, double secs)
{
	printf("%-32s %9zu %14.0f %12.3f\n", what, n, (double)n / secs,
	       secs * 1e6 / (double)n);
}

/*
 * Refuse a --tasks the machine cannot hold, before allocating anything: a
 * run may take half of the memory, or what a ulimit on this process
 * allows, whichever is less.  Otherwise the kernel's OOM killer, or a
 * failed malloc halfway through a run, would say it less clearly.
 */
static void check_memory(long tasks)
{
	const double gib = 1024.0 * 1024 * 1024;
	double need = (double)tasks * BYTES_PER_TASK;
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	static const struct { int resource; const char *name; } limits[] = {
		{ RLIMIT_AS, "ulimit -v" }, { RLIMIT_DATA, "ulimit -d" },
	};
	struct rlimit rl;

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (getrlimit(limits[i].resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    need > (double)rl.rlim_cur)
			usage_error("--tasks %ld needs about %.1f GiB of memory, more than "
				    "this process may have (%.1f GiB, %s)", tasks, need / gib,
				    (double)rl.rlim_cur / gib, limits[i].name);
	if (pages > 0 && page > 0 && need > (double)pages * (double)page / 2)
		usage_error("--tasks %ld needs about %.1f GiB of memory, more than half "
			    "of this machine's %.1f GiB", tasks, need / gib,
			    (double)pages * (double)page / gib);
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--runs N] [--workers N]\n"
	       "\n"
	       "Time trivial tasks through the executor (submit + result, and map)\n"
	       "and one task's submit-to-result latency, against one thread per\n"
	       "task.  Each figure is the median of the runs.\n"
	       "\n"
	       "  --tasks N     tasks per run (1 to %ld; default 1000000), and no\n"
	       "                more than half of the memory (or a ulimit) holds at\n"
	       "                %d bytes a task; a thread per task is timed on at\n"
	       "                most %ld of them\n"
	       "  --runs N      runs per figure (1 to 99; default 5)\n"
	       "  --workers N   worker threads (1 to 1024; default: one per CPU)\n"
	       "  --help        show this and exit\n",
	       wb_progname(), TASKS_MAX, BYTES_PER_TASK, THREAD_TASKS_MAX);
}

int main(int argc, char **argv)
{
	enum { OPT_TASKS = 1, OPT_RUNS, OPT_WORKERS, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "runs", required_argument, NULL, OPT_RUNS },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long tasks = 1000000, runs = 5, workers = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n, nthreads;
	void **args;
	double t_submit, t_map, t_threads, lat_ex, lat_thread;
	int c;

	wb_init(argv[0]);
	if (workers < 1)
		workers = 2;
	if (workers > EXECUTOR_MAX_WORKERS)
		workers = EXECUTOR_MAX_WORKERS;
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, TASKS_MAX);
			break;
		case OPT_RUNS:
			runs = arg_long("--runs", optarg, 1, 99);
			break;
		case OPT_WORKERS:
			workers = arg_long("--workers", optarg, 1,
					   EXECUTOR_MAX_WORKERS);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	check_memory(tasks);

	n = (size_t)tasks;
	nthreads = tasks < THREAD_TASKS_MAX ? n : (size_t)THREAD_TASKS_MAX;
	args = xcalloc(n, sizeof(*args));
	for (size_t i = 0; i < n; i++)
		args[i] = (void *)(i + 1);

	printf("trivial tasks, %ld workers, median of %ld runs\n", workers, runs);
	fflush(stdout);
	t_submit = median_of_runs(time_submit, (int)runs, (int)workers, args, n);
	t_map = median_of_runs(time_map, (int)runs, (int)workers, args, n);
	t_threads = median_of_runs(time_threads, (int)runs, (int)workers, args,
				   nthreads);
	lat_ex = latency_executor((int)workers);
	lat_thread = latency_thread();

	printf("%-32s %9s %14s %12s\n", "method", "tasks", "tasks/s", "us/task");
	row("executor: submit + result", n, t_submit);
	row("executor: map", n, t_map);
	row("pthread_create + join per task", nthreads, t_threads);
	printf("\nlatency of one task, median of %d:\n", LATENCY_SAMPLES);
	printf("%-32s %12.1f us\n", "executor: submit -> result", lat_ex * 1e6);
	printf("%-32s %12.1f us\n", "pthread_create -> join", lat_thread * 1e6);
	printf("submit_per_sec=%.0f map_per_sec=%.0f thread_per_sec=%.0f "
	       "latency_us=%.1f thread_latency_us=%.1f\n",
	       (double)n / t_submit, (double)n / t_map,
	       (double)nthreads / t_threads, lat_ex * 1e6, lat_thread * 1e6);

	free(args);
	return 0;
}
