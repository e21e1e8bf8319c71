/*
 * uv_pool.c - libuv's thread pool against chapter 01's executor: the same
 * blocking tasks, the same results.
 *
 *	uv_pool [--tasks N] [--delay-ms MS]
 *
 * Each task blocks for MS milliseconds (a stand-in for a query or a read
 * that has no asynchronous form) and then computes a checksum of its index.
 * libuv runs the blocking part, uv_queue_work's work callback, on one of
 * its pool's threads, and the after-work callback on the loop's thread,
 * where the result is stored.  The pool is process-wide and fixed:
 * UV_THREADPOOL_SIZE threads (default 4), read once, at its first use.
 * The executor runs the same tasks on as many threads through
 * executor_map(), which hands the results back in input order.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "executor.h"

#define UVP_MAX_TASKS 1000

struct uvp_item {
	uv_work_t req; /* req.data points back here */
	long index, delay_ms;
	uint64_t value;	    /* set by the work, on a pool thread */
	uint64_t stored;    /* copied by after-work, on the loop thread */
	pthread_t loop;	    /* the loop's thread */
	bool after_on_loop; /* after-work ran there */
};

/* The task: block, then a result only the right index gives. */
static uint64_t uvp_compute(long index, long delay_ms)
{
	struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
	uint64_t h = 14695981039346656037ULL;

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	for (int i = 0; i < 1000; i++)
		h = (h ^ (uint64_t)(index + i)) * 1099511628211ULL;
	return h;
}

static void uvp_work(uv_work_t *req)
{
	struct uvp_item *it = req->data;

	it->value = uvp_compute(it->index, it->delay_ms);
}

static void uvp_after(uv_work_t *req, int status)
{
	struct uvp_item *it = req->data;

	it->after_on_loop = pthread_equal(pthread_self(), it->loop);
	it->stored = status == 0 ? it->value : 0;
}

/* Run every item's work on libuv's pool; 0 or a libuv error. */
static int uvp_run(struct uvp_item *items, size_t n)
{
	uv_loop_t loop;
	int rc, rc2;

	rc = uv_loop_init(&loop);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		items[i].req.data = &items[i];
		items[i].loop = pthread_self();
		rc = uv_queue_work(&loop, &items[i].req, uvp_work, uvp_after);
	}
	/* Even after a failed queueing, the queued ones must finish first. */
	rc2 = uv_run(&loop, UV_RUN_DEFAULT);
	if (!rc && rc2)
		rc = -EAGAIN;
	rc2 = uv_loop_close(&loop);
	return rc ? rc : rc2;
}

static int uvp_task(void *arg, void **result, char *err, size_t errlen)
{
	struct uvp_item *it = arg;

	(void)err;
	(void)errlen;
	it->value = uvp_compute(it->index, it->delay_ms);
	*result = it;
	return 0;
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--delay-ms MS]\n"
	       "\n"
	       "Run N tasks that each block MS milliseconds and compute a checksum, on\n"
	       "libuv's thread pool (uv_queue_work, UV_THREADPOOL_SIZE threads, default 4)\n"
	       "and on chapter 01's executor with as many threads; check that both give\n"
	       "the same results in the same order and print the times.\n"
	       "\n"
	       "  --tasks N      how many tasks (1 to %d, default 8)\n"
	       "  --delay-ms MS  how long each blocks (0 to 10000, default 100)\n"
	       "  --help         show this and exit\n",
	       wb_progname(), UVP_MAX_TASKS);
}

int main(int argc, char **argv)
{
	enum { OPT_TASKS = 1, OPT_DELAY, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long tasks = 8, ms = 100, pool = 4, rounds;
	struct uvp_item *uv, *ex_items;
	void **args, **results;
	struct executor *ex;
	double uv_s, ex_s;
	char err[EXECUTOR_ERRMAX];
	const char *env;
	uint64_t sum = 0;
	int64_t start;
	int c, rc, off_loop = 0, differ = 0;
	size_t n;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, UVP_MAX_TASKS);
			break;
		case OPT_DELAY:
			ms = arg_long("--delay-ms", optarg, 0, 10000);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	n = (size_t)tasks;
	/* libuv's own rule: 1 to 1024, anything else unset means 4. */
	env = getenv("UV_THREADPOOL_SIZE");
	if (env && atol(env) > 0)
		pool = atol(env) > 1024 ? 1024 : atol(env);

	uv = xcalloc(n, sizeof(*uv));
	ex_items = xcalloc(n, sizeof(*ex_items));
	args = xcalloc(n, sizeof(*args));
	results = xcalloc(n, sizeof(*results));
	for (size_t i = 0; i < n; i++) {
		uv[i].index = ex_items[i].index = (long)i;
		uv[i].delay_ms = ex_items[i].delay_ms = ms;
		args[i] = &ex_items[i];
	}

	start = clk_now_ns();
	rc = uvp_run(uv, n);
	uv_s = clk_since(start);
	if (rc)
		die("libuv: %s", uv_strerror(rc));

	rc = executor_new(&ex, (int)pool, "pool");
	if (rc)
		die_errno(-rc, "executor_new");
	start = clk_now_ns();
	rc = executor_map(ex, uvp_task, args, n, results, -1, err, sizeof(err));
	ex_s = clk_since(start);
	executor_free(ex);
	if (rc)
		die("executor_map: %s", err[0] ? err : strerror(-rc));

	for (size_t i = 0; i < n; i++) {
		const struct uvp_item *r = results[i];

		off_loop += !uv[i].after_on_loop;
		differ += r->index != (long)i || r->value != uv[i].stored;
		sum ^= uv[i].stored;
	}
	if (off_loop)
		die("%d after-work callback(s) ran off the loop's thread", off_loop);
	if (differ)
		die("%d result(s) differ between libuv's pool and the executor", differ);

	rounds = (tasks + pool - 1) / pool;
	printf("%ld tasks blocking %.3f s each on %ld threads (ideal %.3f s: %ld round%s)\n", tasks,
	       (double)ms / 1000, pool, (double)(rounds * ms) / 1000, rounds,
	       rounds == 1 ? "" : "s");
	printf("  %-26s %8.3f s\n", "libuv uv_queue_work", uv_s);
	printf("  %-26s %8.3f s\n", "workbook executor_map", ex_s);
	printf("Both gave the same %ld results in order; libuv's after-work ran on the loop's "
	       "thread\n",
	       tasks);
	printf("tasks=%ld delay_ms=%ld pool=%ld ideal=%.3f uv_s=%.3f executor_s=%.3f same=yes "
	       "checksum=%016llx\n",
	       tasks, ms, pool, (double)(rounds * ms) / 1000, uv_s, ex_s, (unsigned long long)sum);
	free(results);
	free(args);
	free(ex_items);
	free(uv);
	return 0;
}
