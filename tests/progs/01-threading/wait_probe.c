/*
 * wait_probe.c - every blocking call of the executor sleeps while it waits.
 * One scene per --case; in each, a thread blocks for WAIT_MS while nothing
 * it waits for can happen, and the driver prints what the wait cost it:
 *
 *   result         future_result() with no time limit
 *   result-timed   future_result() with a limit it does not reach
 *   result-negative  future_result() with a negative timeout: no limit
 *   map            executor_map() while its tasks are held back
 *   next           as_completed_next() with no time limit
 *   next-timed     as_completed_next() with a limit it does not reach
 *   idle           the workers of an executor with nothing to do
 *
 * The cost is "waiter_cpu_ms" (CPU time the waiting thread used) and
 * "waiter_wakeups" (times it went to sleep and woke: voluntary context
 * switches).  A condition-variable wait costs a few wake-ups and well under
 * a millisecond; a spin loop burns the whole wait in CPU, and a sleep-poll
 * wakes up once per period.  What is waited for is held back by a gate that
 * another thread opens after WAIT_MS, so no scene depends on luck.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../usage.h"
#include "args.h"
#include "probe.h"

#define WAIT_MS 300

/* "waiter_ms=... waiter_cpu_ms=... waiter_wakeups=...", one line. */
static void print_cost(struct usage before, struct usage after)
{
	usage_print("waiter", before, after);
	printf("\n");
}

/* A thread that opens a gate after WAIT_MS: the end of every wait here. */
struct opener {
	pthread_t thread;
	struct gate *gate;
};

static void *opener_main(void *arg)
{
	struct opener *o = arg;

	clk_sleep_ms(WAIT_MS);
	gate_open(o->gate);
	return NULL;
}

static void opener_start(struct opener *o, struct gate *g)
{
	int rc;

	o->gate = g;
	rc = pthread_create(&o->thread, NULL, opener_main, o);
	if (rc)
		die_errno(rc, "pthread_create");
}

static void opener_join(struct opener *o)
{
	PT_CHECK(pthread_join(o->thread, NULL));
}

/* A task that waits for its gate, then succeeds. */
static int gated_task(void *arg, void **result, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	if (!gate_wait(arg))
		return -ETIMEDOUT;
	*result = "ok";
	return 0;
}

static void wait_for_result(long timeout_ms)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate release;
	struct opener opener;
	struct future *f;
	struct usage before, after;
	int64_t t0;
	int rc;

	gate_init(&release);
	f = probe_submit(ex, gated_task, &release);
	/* The clock starts first: the gate opens WAIT_MS after this at the earliest. */
	t0 = clk_now_ns();
	opener_start(&opener, &release);
	before = usage_now();
	rc = future_result(f, timeout_ms, NULL);
	after = usage_now();
	printf("rc=%s waited=%.3f\n", errname(rc), clk_since(t0));
	print_cost(before, after);
	opener_join(&opener);
	executor_free(ex);
	future_unref(f);
	gate_destroy(&release);
}

static void case_result(void)
{
	wait_for_result(-1);
}

static void case_result_timed(void)
{
	wait_for_result(20 * WAIT_MS);
}

static void case_result_negative(void)
{
	wait_for_result(-5);
}

static void case_map(void)
{
	enum { N = 4 };
	struct executor *ex = probe_executor(N, "worker");
	void *args[N], *results[N];
	char err[EXECUTOR_ERRMAX];
	struct gate release;
	struct opener opener;
	struct usage before, after;
	int64_t t0;
	int rc;

	gate_init(&release);
	for (int i = 0; i < N; i++)
		args[i] = &release;
	/* The clock starts first: the gate opens WAIT_MS after this at the earliest. */
	t0 = clk_now_ns();
	opener_start(&opener, &release);
	before = usage_now();
	rc = executor_map(ex, gated_task, args, N, results, 20 * WAIT_MS, err, sizeof(err));
	after = usage_now();
	printf("rc=%s waited=%.3f\n", errname(rc), clk_since(t0));
	print_cost(before, after);
	opener_join(&opener);
	executor_free(ex);
	gate_destroy(&release);
}

static void wait_for_next(long timeout_ms)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate release;
	struct opener opener;
	struct as_completed *ac;
	struct future *f, *got = NULL;
	struct usage before, after;
	int64_t t0;
	int rc;

	gate_init(&release);
	f = probe_submit(ex, gated_task, &release);
	rc = as_completed_new(&ac, &f, 1, timeout_ms);
	if (rc)
		die("as_completed_new: %s", executor_strerror(rc));
	/* The clock starts first: the gate opens WAIT_MS after this at the earliest. */
	t0 = clk_now_ns();
	opener_start(&opener, &release);
	before = usage_now();
	rc = as_completed_next(ac, &got);
	after = usage_now();
	printf("rc=%d waited=%.3f got_it=%d\n", rc, clk_since(t0), got == f);
	print_cost(before, after);
	opener_join(&opener);
	as_completed_free(ac);
	executor_free(ex);
	future_unref(f);
	gate_destroy(&release);
}

static void case_next(void)
{
	wait_for_next(-1);
}

static void case_next_timed(void)
{
	wait_for_next(20 * WAIT_MS);
}

/*
 * The idle workers' cost is read through each worker's CPU clock; their
 * wake-ups are not visible from outside, so a sleep-poll is caught by the
 * CPU its many wake-ups add up to over a longer wait.  To learn each
 * worker's thread, one task per worker records it: the tasks wait at a
 * barrier, so no worker can take two of them.
 */
struct idle {
	pthread_barrier_t all_in;
	pthread_t threads[4];
	atomic_int next;
};

static int record_worker(void *arg, void **result, char *err, size_t errlen)
{
	struct idle *idle = arg;
	int i = atomic_fetch_add(&idle->next, 1);

	(void)result, (void)err, (void)errlen;
	idle->threads[i] = pthread_self();
	pthread_barrier_wait(&idle->all_in);
	return 0;
}

static int64_t workers_cpu_ns(const struct idle *idle, int n)
{
	int64_t total = 0;

	for (int i = 0; i < n; i++) {
		clockid_t clock;
		struct timespec ts;
		int rc = pthread_getcpuclockid(idle->threads[i], &clock);

		if (rc)
			die_errno(rc, "pthread_getcpuclockid");
		if (clock_gettime(clock, &ts) != 0)
			die_errno(errno, "clock_gettime(worker clock)");
		total += (int64_t)ts.tv_sec * CLK_NS_PER_SEC + ts.tv_nsec;
	}
	return total;
}

static void case_idle(void)
{
	enum { N = 4 };
	struct executor *ex = probe_executor(N, "worker");
	struct idle idle;
	struct future *fs[N];
	int64_t before, after, deadline = clk_deadline_ms(5000);
	int done = 0;

	PT_CHECK(pthread_barrier_init(&idle.all_in, NULL, N));
	atomic_init(&idle.next, 0);
	for (int i = 0; i < N; i++)
		fs[i] = probe_submit(ex, record_worker, &idle);
	for (int i = 0; i < N; i++) {
		long left = (long)((deadline - clk_now_ns()) / CLK_NS_PER_MS);

		done += future_result(fs[i], left > 0 ? left : 0, NULL) == 0;
	}
	/* Every worker has been through the barrier; now nobody has work. */
	before = workers_cpu_ns(&idle, done == N ? N : 0);
	clk_sleep_ms(3 * WAIT_MS);
	after = workers_cpu_ns(&idle, done == N ? N : 0);
	printf("recorded=%d idle=%.3f\nworkers_cpu_ms=%.3f\n", done, 3 * WAIT_MS / 1000.0,
	       (double)(after - before) / (double)CLK_NS_PER_MS);
	executor_free(ex);
	for (int i = 0; i < N; i++)
		future_unref(fs[i]);
	PT_CHECK(pthread_barrier_destroy(&idle.all_in));
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"result", "result-timed", "result-negative", "map", "next", "next-timed",
		"idle",	  NULL,
	};
	static void (*const run[])(void) = {
		case_result,	 case_result_timed, case_result_negative, case_map, case_next,
		case_next_timed, case_idle,
	};

	return probe_main(argc, argv, cases, run);
}
