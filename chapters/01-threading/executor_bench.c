/*
 * executor_bench.c - what does the executor cost per task, and does that
 * cost stay flat as workers are added?
 *
 * Trivial tasks (they return their argument) measure the machinery and
 * nothing else: how many tasks per second pass through submit + result
 * and through map with 1, 2, 4, 8 and 16 workers, and how long one task
 * takes from submit to result on an idle pool.  Two yardsticks come from
 * the same run: one thread per task, and a bare condition-variable
 * ping-pong between two threads, which is what handing work to a sleeping
 * thread and getting an answer back costs at the least: the floor under
 * one task's latency.  Within each run the worker counts take turns, so a
 * machine that gets busier halfway slows them all alike; every figure is
 * the median over the runs.
 *
 *	executor_bench [--tasks N] [--runs N] [--workers N]
 */
/* For pthread_setaffinity_np(): round trips are timed on chosen CPUs. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
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
/*
 * A run holds every task at once: its future and three pointers (argument,
 * future, result).  That measures at about 200 bytes a task; the check of
 * --tasks counts 256, to err on the safe side.  The cap keeps a run within
 * a few GiB whatever the machine.
 */
#define BYTES_PER_TASK 256
#define TASKS_MAX 10000000L
/* One-task round trips timed per method, spread over the runs. */
#define LATENCY_SAMPLES 2000

/* The worker counts compared when --workers does not pick one. */
static const int ladder[] = { 1, 2, 4, 8, 16 };
#define LADDER_LEN (sizeof(ladder) / sizeof(ladder[0]))

/*
 * Where the two ends of a round trip run.  Waking a thread that sleeps on
 * another CPU costs far more than waking one on the waker's own CPU (on a
 * 2-CPU virtual machine about 35 us a round trip against 10), and left to
 * itself the kernel placed the threads one way in one run and the other
 * way in the next, so that the same figure doubled or halved from run to
 * run.  So every round trip is timed twice, with its threads pinned: all
 * on one CPU, and the thread that is woken on a second one.
 */
enum placement { SAME_CPU, ACROSS_CPUS, PLACEMENTS };

static const char *const placement_name[PLACEMENTS] = {
	"same CPU",
	"across CPUs",
};

struct cpus {
	cpu_set_t allowed; /* this process's CPUs, given back after */
	int first, second; /* two of them; second is -1 if there is one */
};

/* Everything measured for one worker count. */
struct figures {
	int workers;
	double *submit;		     /* seconds for all tasks, one per run */
	double *map;		     /* likewise */
	double *latency[PLACEMENTS]; /* seconds for one task, per sample */
};

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

	rc = executor_map(ex, trivial_task, args, n, results, -1, err, sizeof(err));
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

/* One pthread_create + pthread_join per task, `at_once` at a time. */
static double time_threads(int at_once, void **args, size_t n)
{
	pthread_t *tids = xcalloc((size_t)at_once, sizeof(*tids));
	int64_t start = clk_now_ns();
	double secs;

	for (size_t i = 0; i < n; i += (size_t)at_once) {
		size_t batch = n - i < (size_t)at_once ? n - i : (size_t)at_once;

		for (size_t k = 0; k < batch; k++) {
			int rc = pthread_create(&tids[k], NULL, trivial_thread, args[i + k]);

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

static void cpus_init(struct cpus *c)
{
	int err = pthread_getaffinity_np(pthread_self(), sizeof(c->allowed), &c->allowed);

	if (err)
		die_errno(err, "pthread_getaffinity_np");
	c->first = c->second = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && c->second < 0; cpu++) {
		if (!CPU_ISSET(cpu, &c->allowed))
			continue;
		if (c->first < 0)
			c->first = cpu;
		else
			c->second = cpu;
	}
	if (c->first < 0)
		die("this process may run on no CPU");
}

/* Run the calling thread, and the threads it starts from now on, on @cpu. */
static void pin(int cpu)
{
	cpu_set_t set;
	int err;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (err)
		die_errno(err, "pthread_setaffinity_np(CPU %d)", cpu);
}

static void unpin(const struct cpus *c)
{
	int err = pthread_setaffinity_np(pthread_self(), sizeof(c->allowed), &c->allowed);

	if (err)
		die_errno(err, "pthread_setaffinity_np");
}

/*
 * Time @m tasks one after another on an idle pool, submit to result, with
 * the workers and the caller placed as @where says.
 */
static void sample_executor(int workers, double *samples, size_t m, const struct cpus *c,
			    enum placement where)
{
	struct executor *ex;

	/* The workers start on the CPU the caller is on when it starts them. */
	pin(where == SAME_CPU ? c->first : c->second);
	ex = start_executor(workers);
	pin(c->first);

	for (size_t i = 0; i < m; i++) {
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
	unpin(c);
}

static void sample_thread(double *samples, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		int64_t start = clk_now_ns();
		pthread_t tid;
		int rc = pthread_create(&tid, NULL, trivial_thread, NULL);

		if (rc)
			die_errno(rc, "pthread_create");
		PT_CHECK(pthread_join(tid, NULL));
		samples[i] = clk_since(start);
	}
}

/*
 * The ping-pong: main hands the ball to a partner thread that sleeps on a
 * condition variable, and sleeps on another one until it comes back: the
 * two wake-ups of a one-task round trip, and nothing else.  Each side
 * signals after releasing the lock, as the executor does, so that the
 * thread it wakes does not run into a lock that is still held.
 */
struct pingpong {
	pthread_mutex_t lock;
	pthread_cond_t ping_cv; /* the ball went to the partner */
	pthread_cond_t pong_cv; /* the ball came back */
	unsigned long ball;	/* odd: the partner's turn; even: main's */
	bool stop;
};

static void *pong_main(void *arg)
{
	struct pingpong *pp = arg;

	PT_CHECK(pthread_mutex_lock(&pp->lock));
	for (;;) {
		while (!(pp->ball & 1) && !pp->stop)
			PT_CHECK(pthread_cond_wait(&pp->ping_cv, &pp->lock));
		if (pp->stop)
			break;
		pp->ball++;
		PT_CHECK(pthread_mutex_unlock(&pp->lock));
		PT_CHECK(pthread_cond_signal(&pp->pong_cv));
		PT_CHECK(pthread_mutex_lock(&pp->lock));
	}
	PT_CHECK(pthread_mutex_unlock(&pp->lock));
	return NULL;
}

static void sample_pingpong(double *samples, size_t m, const struct cpus *c, enum placement where)
{
	struct pingpong pp = { .ball = 0 };
	pthread_t partner;
	int rc;

	PT_CHECK(pthread_mutex_init(&pp.lock, NULL));
	PT_CHECK(pthread_cond_init(&pp.ping_cv, NULL));
	PT_CHECK(pthread_cond_init(&pp.pong_cv, NULL));
	pin(where == SAME_CPU ? c->first : c->second);
	rc = pthread_create(&partner, NULL, pong_main, &pp);
	if (rc)
		die_errno(rc, "pthread_create");
	pin(c->first);
	for (size_t i = 0; i < m; i++) {
		int64_t start = clk_now_ns();

		PT_CHECK(pthread_mutex_lock(&pp.lock));
		pp.ball++;
		PT_CHECK(pthread_mutex_unlock(&pp.lock));
		PT_CHECK(pthread_cond_signal(&pp.ping_cv));
		PT_CHECK(pthread_mutex_lock(&pp.lock));
		while (pp.ball & 1)
			PT_CHECK(pthread_cond_wait(&pp.pong_cv, &pp.lock));
		PT_CHECK(pthread_mutex_unlock(&pp.lock));
		samples[i] = clk_since(start);
	}
	PT_CHECK(pthread_mutex_lock(&pp.lock));
	pp.stop = true;
	PT_CHECK(pthread_cond_signal(&pp.ping_cv));
	PT_CHECK(pthread_mutex_unlock(&pp.lock));
	PT_CHECK(pthread_join(partner, NULL));
	PT_CHECK(pthread_cond_destroy(&pp.pong_cv));
	PT_CHECK(pthread_cond_destroy(&pp.ping_cv));
	PT_CHECK(pthread_mutex_destroy(&pp.lock));
	unpin(c);
}

static void row(const char *what, int workers, size_t n, double secs)
{
	printf("%-32s %7d %9zu %12.0f %9.3f\n", what, workers, n, (double)n / secs,
	       secs * 1e6 / (double)n);
}

/* One row of the latency table: a figure for each placement measured. */
static void latency_row(const char *what, const char *workers, const double secs[], int nplaces)
{
	printf("%-32s %7s", what, workers);
	for (int p = 0; p < nplaces; p++)
		printf(" %9.1f us", secs[p] * 1e6);
	printf("\n");
}

/* Everything one invocation measures; the medians are taken at the end. */
struct bench {
	size_t n;	 /* tasks per throughput run */
	size_t nthreads; /* tasks for the thread-per-task run */
	int runs;
	size_t per_run; /* round trips timed per method and run */
	size_t ncounts;
	struct figures fig[LADDER_LEN];
	double *thread_secs;	      /* one per run */
	double *thread_lat;	      /* runs * per_run round trips, unpinned */
	double *pingpong[PLACEMENTS]; /* runs * per_run round trips */
	struct cpus cpus;
	int nplaces; /* ACROSS_CPUS only with two CPUs or more */
	void **args; /* the tasks' arguments: 1, 2, ... n */
};

static void bench_init(struct bench *b, size_t n, int runs, int workers)
{
	size_t nsamples;

	b->n = n;
	b->nthreads = n < THREAD_TASKS_MAX ? n : (size_t)THREAD_TASKS_MAX;
	b->runs = runs;
	b->per_run = LATENCY_SAMPLES / (size_t)runs;
	if (b->per_run == 0)
		b->per_run = 1;
	nsamples = b->per_run * (size_t)runs;
	cpus_init(&b->cpus);
	b->nplaces = b->cpus.second < 0 ? 1 : PLACEMENTS;
	b->ncounts = workers ? 1 : LADDER_LEN;
	for (size_t k = 0; k < b->ncounts; k++) {
		struct figures *f = &b->fig[k];

		f->workers = workers ? workers : ladder[k];
		f->submit = xcalloc((size_t)runs, sizeof(double));
		f->map = xcalloc((size_t)runs, sizeof(double));
		for (int p = 0; p < PLACEMENTS; p++)
			f->latency[p] = xcalloc(nsamples, sizeof(double));
	}
	b->thread_secs = xcalloc((size_t)runs, sizeof(double));
	b->thread_lat = xcalloc(nsamples, sizeof(double));
	for (int p = 0; p < PLACEMENTS; p++)
		b->pingpong[p] = xcalloc(nsamples, sizeof(double));
	b->args = xcalloc(n, sizeof(*b->args));
	for (size_t i = 0; i < n; i++)
		b->args[i] = (void *)(i + 1);
}

static void bench_free(struct bench *b)
{
	for (size_t k = 0; k < b->ncounts; k++) {
		for (int p = 0; p < PLACEMENTS; p++)
			free(b->fig[k].latency[p]);
		free(b->fig[k].map);
		free(b->fig[k].submit);
	}
	free(b->args);
	for (int p = 0; p < PLACEMENTS; p++)
		free(b->pingpong[p]);
	free(b->thread_lat);
	free(b->thread_secs);
}

/* The largest worker count measured: threads per task start as many. */
static int bench_at_once(const struct bench *b)
{
	return b->fig[b->ncounts - 1].workers;
}

/* The @j-th worker count measured in round @r. */
static struct figures *turn(struct bench *b, int r, size_t j)
{
	return &b->fig[(j + (size_t)r) % b->ncounts];
}

/*
 * Every measurement, in rounds.  Within a round the worker counts take
 * turns, each round starting with another one, so that none is always
 * measured first or on a machine that has just got busier.  The round
 * trips come first, while nothing else has run in this process yet.
 */
static void bench_measure(struct bench *b)
{
	for (int r = 0; r < b->runs; r++) {
		size_t from = (size_t)r * b->per_run;

		for (int p = 0; p < b->nplaces; p++) {
			for (size_t j = 0; j < b->ncounts; j++) {
				struct figures *f = turn(b, r, j);

				sample_executor(f->workers, f->latency[p] + from, b->per_run,
						&b->cpus, p);
			}
			sample_pingpong(b->pingpong[p] + from, b->per_run, &b->cpus, p);
		}
		sample_thread(b->thread_lat + from, b->per_run);
	}
	for (int r = 0; r < b->runs; r++) {
		for (size_t j = 0; j < b->ncounts; j++) {
			struct figures *f = turn(b, r, j);

			f->submit[r] = time_submit(f->workers, b->args, b->n);
			f->map[r] = time_map(f->workers, b->args, b->n);
		}
		b->thread_secs[r] = time_threads(bench_at_once(b), b->args, b->nthreads);
	}
}

/* The median of each placement's samples, into @out. */
static void placed_medians(double *const samples[], int nplaces, size_t nsamples, double out[])
{
	for (int p = 0; p < nplaces; p++)
		out[p] = median(samples[p], nsamples);
}

/* The medians: a table for people, then key=value lines for tests/bench. */
static void bench_print(struct bench *b)
{
	size_t runs = (size_t)b->runs, nsamples = b->per_run * runs;
	double thread_lat = median(b->thread_lat, nsamples);
	double thread_secs = median(b->thread_secs, runs);
	double floor[PLACEMENTS], lat[PLACEMENTS];

	printf("%-32s %7s %9s %12s %9s\n", "method", "workers", "tasks", "tasks/s", "us/task");
	for (size_t k = 0; k < b->ncounts; k++)
		row("executor: submit + result", b->fig[k].workers, b->n,
		    median(b->fig[k].submit, runs));
	for (size_t k = 0; k < b->ncounts; k++)
		row("executor: map", b->fig[k].workers, b->n, median(b->fig[k].map, runs));
	row("pthread_create + join per task", bench_at_once(b), b->nthreads, thread_secs);

	printf("\nlatency of one task, median of %zu:\n", nsamples);
	printf("%-32s %7s", "method", "workers");
	for (int p = 0; p < b->nplaces; p++)
		printf(" %12s", placement_name[p]);
	printf("\n");
	for (size_t k = 0; k < b->ncounts; k++) {
		char label[16];

		snprintf(label, sizeof(label), "%d", b->fig[k].workers);
		placed_medians(b->fig[k].latency, b->nplaces, nsamples, lat);
		latency_row("executor: submit -> result", label, lat, b->nplaces);
	}
	placed_medians(b->pingpong, b->nplaces, nsamples, floor);
	latency_row("condition-variable ping-pong", "-", floor, b->nplaces);
	printf("%-32s %7s %9.1f us (not pinned)\n", "pthread_create -> join", "-",
	       thread_lat * 1e6);

	printf("\n");
	for (size_t k = 0; k < b->ncounts; k++) {
		const struct figures *f = &b->fig[k];

		/* The arrays are sorted by now: median() is cheap again. */
		placed_medians(f->latency, b->nplaces, nsamples, lat);
		printf("workers=%d submit_per_sec=%.0f map_per_sec=%.0f "
		       "latency_us=%.1f",
		       f->workers, (double)b->n / median(f->submit, runs),
		       (double)b->n / median(f->map, runs), lat[SAME_CPU] * 1e6);
		if (b->nplaces > 1)
			printf(" latency_across_us=%.1f", lat[ACROSS_CPUS] * 1e6);
		printf("\n");
	}
	printf("pingpong_us=%.1f", floor[SAME_CPU] * 1e6);
	if (b->nplaces > 1)
		printf(" pingpong_across_us=%.1f", floor[ACROSS_CPUS] * 1e6);
	printf(" thread_per_sec=%.0f thread_latency_us=%.1f\n", (double)b->nthreads / thread_secs,
	       thread_lat * 1e6);
}

/* Measure @n tasks per run, @runs times, with @workers (0: the ladder). */
static void bench(size_t n, int runs, int workers)
{
	struct bench b;

	bench_init(&b, n, runs, workers);
	printf("trivial tasks, %zu per run, median of %d runs, %ld CPUs\n", n, runs,
	       sysconf(_SC_NPROCESSORS_ONLN));
	fflush(stdout);
	bench_measure(&b);
	bench_print(&b);
	bench_free(&b);
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
	static const struct {
		int resource;
		const char *name;
	} limits[] = {
		{ RLIMIT_AS, "ulimit -v" },
		{ RLIMIT_DATA, "ulimit -d" },
	};
	struct rlimit rl;

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		if (getrlimit(limits[i].resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    need > (double)rl.rlim_cur)
			usage_error("--tasks %ld needs about %.1f GiB of memory, more than "
				    "this process may have (%.1f GiB, %s)",
				    tasks, need / gib, (double)rl.rlim_cur / gib, limits[i].name);
	if (pages > 0 && page > 0 && need > (double)pages * (double)page / 2)
		usage_error("--tasks %ld needs about %.1f GiB of memory, more than half "
			    "of this machine's %.1f GiB",
			    tasks, need / gib, (double)pages * (double)page / gib);
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--runs N] [--workers N]\n"
	       "\n"
	       "Time trivial tasks through the executor (submit + result, and map)\n"
	       "and one task's submit-to-result latency, for each number of\n"
	       "workers, against one thread per task and a condition-variable\n"
	       "ping-pong.  Each figure is the median of the runs.\n"
	       "\n"
	       "  --tasks N     tasks per run (1 to %ld; default 1000000), and no\n"
	       "                more than half of the memory (or a ulimit) holds at\n"
	       "                %d bytes a task; a thread per task is timed on at\n"
	       "                most %ld of them\n"
	       "  --runs N      runs per figure (1 to 99; default 5)\n"
	       "  --workers N   worker threads (1 to 1024; default: 1, 2, 4, 8\n"
	       "                and 16 in turn)\n"
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
	long tasks = 1000000, runs = 5, workers = 0;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, TASKS_MAX);
			break;
		case OPT_RUNS:
			runs = arg_long("--runs", optarg, 1, 99);
			break;
		case OPT_WORKERS:
			workers = arg_long("--workers", optarg, 1, EXECUTOR_MAX_WORKERS);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	check_memory(tasks);

	bench((size_t)tasks, (int)runs, (int)workers);
	return 0;
}
