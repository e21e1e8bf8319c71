/*
 * uv_pool.c - libuv's thread pool against chapter 01's executor: the same
 * N blocking tasks, the same results.
 *
 * Each task blocks for D ms (nanosleep: a stand-in for a sqlite3 query or
 * a disk read, a call that cannot be made non-blocking) and then computes
 * a value from its index.  libuv runs them with uv_queue_work(): the work
 * callback on a pool thread, the after-work callback back on the loop
 * thread, where the result is stored.  Its pool has UV_THREADPOOL_SIZE
 * threads (default 4), one pool per process, fixed once the first work is
 * queued.  The executor runs the same tasks on as many workers with
 * executor_map().  Both results must match, in input order.
 *
 *	uv_pool [--tasks N] [--block-ms D]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "executor.h"

#define MAX_TASKS 10000

/* A value from @i that both runs must reproduce: a few xorshift rounds. */
static uint64_t uvx_value(uint64_t i)
{
	uint64_t x = i * 0x9E3779B97F4A7C15ull + 1;

	for (int k = 0; k < 1000; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

static void uvx_block(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One libuv work item: its request, its input and its result. */
struct uvx_job {
	uv_work_t req; /* req.data points back here */
	uint64_t index;
	long block_ms;
	uint64_t result; /* written on a pool thread, read after uv_run() */
	uint64_t *stored;
};

static void uvx_work(uv_work_t *req)
{
	struct uvx_job *j = req->data;

	uvx_block(j->block_ms);
	j->result = uvx_value(j->index);
}

/* On the loop thread: the pool's hand-off orders the result's write before this. */
static void uvx_after(uv_work_t *req, int status)
{
	struct uvx_job *j = req->data;

	if (status)
		die("uv_queue_work: %s", uv_strerror(status));
	j->stored[j->index] = j->result;
}

/* The executor's task: @arg is a struct uvx_job; the result is stored in it. */
static int uvx_exec_task(void *arg, void **result, char *err, size_t errlen)
{
	struct uvx_job *j = arg;

	(void)err;
	(void)errlen;
	uvx_block(j->block_ms);
	j->result = uvx_value(j->index);
	*result = &j->result;
	return 0;
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--block-ms D]\n"
	       "N tasks blocking D ms each, on libuv's thread pool and on the executor.\n",
	       wb_progname());
}

int main(int argc, char **argv)
{
	enum { OPT_TASKS = 1, OPT_BLOCK, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "block-ms", required_argument, NULL, OPT_BLOCK },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long tasks = 8, block_ms = 100;
	struct uvx_job *jobs;
	uint64_t *uv_results;
	void **args, **results;
	struct executor *ex;
	char err[EXECUTOR_ERRMAX];
	double uv_s, ex_s;
	int64_t start;
	uv_loop_t loop;
	size_t n;
	int c, rc, workers, same = 1;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, MAX_TASKS);
			break;
		case OPT_BLOCK:
			block_ms = arg_long("--block-ms", optarg, 0, 10000);
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	n = (size_t)tasks;
	jobs = xcalloc(n, sizeof(*jobs));
	uv_results = xcalloc(n, sizeof(*uv_results));
	args = xcalloc(n, sizeof(*args));
	results = xcalloc(n, sizeof(*results));

	/* libuv: queue every job; uv_run() returns when all after-work ran. */
	start = clk_now_ns();
	rc = uv_loop_init(&loop);
	if (rc)
		die("uv_loop_init: %s", uv_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		jobs[i] = (struct uvx_job){ .index = i,
					    .block_ms = block_ms,
					    .stored = uv_results };
		jobs[i].req.data = &jobs[i];
		rc = uv_queue_work(&loop, &jobs[i].req, uvx_work, uvx_after);
		if (rc)
			die("uv_queue_work: %s", uv_strerror(rc));
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc)
		die("uv_loop_close: %s", uv_strerror(rc));
	uv_s = clk_since(start);

	/* The executor, as many workers as libuv's pool has threads. */
	{
		const char *env = getenv("UV_THREADPOOL_SIZE");

		workers = env && atoi(env) > 0 ? atoi(env) : 4;
		if (workers > 1024)
			workers = 1024; /* libuv's own cap */
	}
	for (size_t i = 0; i < n; i++) {
		jobs[i].result = 0;
		args[i] = &jobs[i];
	}
	start = clk_now_ns();
	rc = executor_new(&ex, workers, "exec");
	if (rc)
		die("executor_new: %s", executor_strerror(rc));
	rc = executor_map(ex, uvx_exec_task, args, n, results, -1, err, sizeof(err));
	if (rc)
		die("executor_map: %s", *err ? err : executor_strerror(rc));
	executor_shutdown(ex, true, false);
	executor_free(ex);
	ex_s = clk_since(start);

	for (size_t i = 0; i < n; i++)
		if (*(uint64_t *)results[i] != uv_results[i] || uv_results[i] != uvx_value(i))
			same = 0;
	printf("%zu tasks of %ld ms: libuv's pool %.3f s, the executor %.3f s on %d threads; "
	       "results %s\n",
	       n, block_ms, uv_s, ex_s, workers, same ? "identical, in input order" : "DIFFER");
	printf("tasks=%zu block_ms=%ld threads=%d uv=%.3f executor=%.3f ideal=%.3f same=%d "
	       "first=%016llx\n",
	       n, block_ms, workers, uv_s, ex_s,
	       (double)((n + (size_t)workers - 1) / (size_t)workers) * (double)block_ms / 1000,
	       same, (unsigned long long)uv_results[0]);
	free(results);
	free(args);
	free(uv_results);
	free(jobs);
	return same ? 0 : 1;
}
