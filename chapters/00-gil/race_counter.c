/*
 * race_counter - N threads add 1 to one shared counter M times each.
 *
 * Three ways to do it, one per --mode:
 *   none    no synchronisation at all: updates are lost (the deliberate race)
 *   mutex   a pthread mutex around each increment (counter_mutex.c)
 *   atomic  a C11 atomic fetch-and-add (counter_atomic.c)
 * Each mode prints the count it expected, the count it got and the time it
 * took, so the cost of being correct is measured next to the cost of not.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "counter.h"

enum mode { MODE_NONE, MODE_MUTEX, MODE_ATOMIC, MODE_ALL };
static const char *const mode_names[] = { "none", "mutex", "atomic", "all", NULL };

/*
 * The deliberately racy counter.  Threads load, add and store this plain
 * variable with no synchronisation: a data race, which C11 calls undefined
 * behaviour, kept here only so it can be watched failing (and caught by
 * ThreadSanitizer).  `volatile` stops the compiler from turning the loop
 * into a single addition; it does nothing to make the increment atomic.
 */
struct racy_counter {
	volatile long value;
};

struct run {
	enum mode mode;
	long iterations;
	pthread_barrier_t start; /* every thread begins at the same moment */
	struct racy_counter racy;
	struct mutex_counter *mutexed;
	struct atomic_counter *atomic;
};

static void *worker(void *arg)
{
	struct run *r = arg;
	int err = pthread_barrier_wait(&r->start);

	if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
		pt_fail(err, "pthread_barrier_wait", __FILE__, __LINE__);
	for (long i = 0; i < r->iterations; i++) {
		switch (r->mode) {
		case MODE_NONE:
			r->racy.value++;
			break;
		case MODE_MUTEX:
			mutex_counter_add(r->mutexed, 1);
			break;
		default:
			atomic_counter_add(r->atomic, 1);
			break;
		}
	}
	return NULL;
}

/* The counter's value now: after the joins, the final count. */
static long read_count(struct run *r)
{
	switch (r->mode) {
	case MODE_NONE:
		return r->racy.value;
	case MODE_MUTEX:
		return mutex_counter_get(r->mutexed);
	default:
		return atomic_counter_get(r->atomic);
	}
}

/* Run one mode to the end and print its line. */
static void run_mode(enum mode mode, int threads, long iterations)
{
	struct run r = { .mode = mode, .iterations = iterations };
	pthread_t *tids = xcalloc((size_t)threads, sizeof(*tids));
	long expected = (long)threads * iterations, counted, midway;
	int64_t t0;
	int err;

	err = mutex_counter_new(&r.mutexed);
	if (err)
		die_errno(-err, "mutex_counter_new");
	err = atomic_counter_new(&r.atomic);
	if (err)
		die_errno(-err, "atomic_counter_new");
	err = pthread_barrier_init(&r.start, NULL, (unsigned)threads + 1);
	if (err)
		die_errno(err, "pthread_barrier_init");
	for (int i = 0; i < threads; i++) {
		err = pthread_create(&tids[i], NULL, worker, &r);
		if (err)
			die_errno(err, "pthread_create (thread %d of %d)", i + 1, threads);
	}
	t0 = clk_now_ns();
	err = pthread_barrier_wait(&r.start);
	if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
		pt_fail(err, "pthread_barrier_wait", __FILE__, __LINE__);
	/*
	 * Look at the counter while the threads are still adding, as a
	 * progress display would: reading shared data needs the same care as
	 * writing it.
	 */
	midway = read_count(&r);
	for (int i = 0; i < threads; i++)
		PT_CHECK(pthread_join(tids[i], NULL));
	counted = read_count(&r);
	printf("%-6s  expected=%ld counted=%ld lost=%ld time=%.3fs midway=%ld%s\n",
	       mode_names[mode], expected, counted, expected - counted, clk_since(t0), midway,
	       mode == MODE_NONE ? "   (racy on purpose)" : "");
	PT_CHECK(pthread_barrier_destroy(&r.start));
	atomic_counter_free(r.atomic);
	mutex_counter_free(r.mutexed);
	free(tids);
}

static void usage(void)
{
	printf("usage: race_counter [--mode none|mutex|atomic|all] [--threads N] [--iterations M]\n"
	       "\n"
	       "N threads each add 1 to one shared counter M times, then the total is\n"
	       "compared with N * M.\n"
	       "  --mode MODE       none: no synchronisation (a deliberate data race: updates\n"
	       "                    are lost); mutex: a pthread mutex; atomic: a C11 atomic;\n"
	       "                    all: the three in turn (default)\n"
	       "  --threads N       threads, 1 to 256 (default 4)\n"
	       "  --iterations M    increments per thread, 1 to 100000000 (default 1000000)\n"
	       "  --help            this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum mode mode = MODE_ALL;
	int threads = 4;
	long iterations = 1000000;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'm':
			mode = (enum mode)arg_choice("--mode", optarg, mode_names);
			break;
		case 't':
			threads = (int)arg_long("--threads", optarg, 1, 256);
			break;
		case 'i':
			iterations = arg_long("--iterations", optarg, 1, 100000000);
			break;
		case 'h':
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);

	printf("%d threads x %ld increments of one shared counter\n", threads, iterations);
	if (mode == MODE_ALL) {
		for (enum mode m = MODE_NONE; m < MODE_ALL; m++)
			run_mode(m, threads, iterations);
	} else {
		run_mode(mode, threads, iterations);
	}
	return 0;
}
