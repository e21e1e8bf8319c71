/*
 * uv_gather.c - the guide's gather on libuv: N timers on one uv_loop.
 *
 * The same run as chapter 03's asyncio_demo, with libuv's loop in place of
 * the workbook's: each "fetch" is a uv_timer_t of D ms, all started at once
 * on one thread, so N waits of D ms take D ms, not N x D.  Results land in
 * an array indexed by the task, so they come back in argument order
 * whichever timer fires first (--stagger-ms makes later tasks fire first).
 *
 *	uv_gather [--tasks N] [--delay-ms MS] [--stagger-ms MS]
 *
 * Prints the results, then one key=value line for make bench.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "args.h"
#include "check.h"
#include "clock.h"

#define MAX_TASKS 100000
#define MAX_SHOWN 10 /* results printed in full; the rest are counted */

/* One task: its timer, and where it writes its result. */
struct fetch {
	uv_timer_t timer; /* timer.data points back here */
	int id;
	char data[24]; /* "Data 3" */
	int *finished; /* the shared finishing order, and its length */
	size_t *nfinished;
};

static void fetch_done(uv_timer_t *timer)
{
	struct fetch *f = timer->data;

	snprintf(f->data, sizeof(f->data), "Data %d", f->id);
	f->finished[(*f->nfinished)++] = f->id;
	/* A one-shot timer stops itself; nothing is left to do on the loop. */
}

static void on_closed(uv_handle_t *h)
{
	(void)h; /* the fetches are freed after the loop is closed */
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--delay-ms MS] [--stagger-ms MS]\n"
	       "N timers of MS ms on one libuv loop, gathered in argument order.\n",
	       wb_progname());
}

int main(int argc, char **argv)
{
	enum { OPT_TASKS = 1, OPT_DELAY, OPT_STAGGER, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "stagger-ms", required_argument, NULL, OPT_STAGGER },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long tasks = 10, delay_ms = 500, stagger_ms = 0;
	struct fetch *fetches;
	int *finished;
	size_t n, nfinished = 0;
	uv_loop_t loop;
	double elapsed, ideal;
	int64_t start;
	int c, rc;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, MAX_TASKS);
			break;
		case OPT_DELAY:
			delay_ms = arg_long("--delay-ms", optarg, 0, 60000);
			break;
		case OPT_STAGGER:
			stagger_ms = arg_long("--stagger-ms", optarg, 0, 10000);
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (stagger_ms * (tasks - 1) > 600000)
		usage_error("--stagger-ms %ld with %ld tasks adds more than 600 s to task 0's wait",
			    stagger_ms, tasks);
	n = (size_t)tasks;
	fetches = xcalloc(n, sizeof(*fetches));
	finished = xcalloc(n, sizeof(*finished));

	/* From making the loop to closing it, as co_run() and asyncio.run do. */
	start = clk_now_ns();
	rc = uv_loop_init(&loop);
	if (rc)
		die("uv_loop_init: %s", uv_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		struct fetch *f = &fetches[i];
		uint64_t ms = (uint64_t)(delay_ms + (long)(n - 1 - i) * stagger_ms);

		f->id = (int)i;
		f->finished = finished;
		f->nfinished = &nfinished;
		uv_timer_init(&loop, &f->timer); /* cannot fail: no allocation */
		f->timer.data = f;
		rc = uv_timer_start(&f->timer, fetch_done, ms, 0);
		if (rc)
			die("uv_timer_start: %s", uv_strerror(rc));
	}
	rc = uv_run(&loop, UV_RUN_DEFAULT);
	/* Every handle must be closed before uv_loop_close() frees the loop. */
	for (size_t i = 0; i < n; i++)
		uv_close((uv_handle_t *)&fetches[i].timer, on_closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc)
		die("uv_loop_close: %s", uv_strerror(rc));
	elapsed = clk_since(start);

	printf("Fetched %zu items\nResults:", n);
	for (size_t i = 0; i < n && i < MAX_SHOWN; i++)
		printf("%s %s", i ? "," : "", fetches[i].data);
	if (n > MAX_SHOWN)
		printf(", ... (%zu in all)", n);
	ideal = (double)(delay_ms + (long)(n - 1) * stagger_ms) / 1000;
	printf("\n%zu timers in %.3f s (ideal %.3f s)\n", n, elapsed, ideal);
	printf("tasks=%zu delay_ms=%ld stagger_ms=%ld mode=uv elapsed=%.3f ideal=%.3f "
	       "finish_order=",
	       n, delay_ms, stagger_ms, elapsed, ideal);
	for (size_t i = 0; i < nfinished && i < MAX_SHOWN; i++)
		printf("%s%d", i ? "," : "", finished[i]);
	printf("%s\n", nfinished > MAX_SHOWN ? ",..." : "");
	free(finished);
	free(fetches);
	return 0;
}
