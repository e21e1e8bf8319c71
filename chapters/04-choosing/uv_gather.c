/*
 * uv_gather.c - the guide's gather on libuv, and on the workbook's own
 * loop, in one program.
 *
 *	uv_gather [--tasks N] [--delay-ms MS]
 *
 * libuv has no coroutines: a "task" is a uv_timer_t and a callback that
 * stores the result.  The order of the results is the order of the array,
 * whatever order the callbacks ran in, which is all gather promises.  The
 * workbook's co layer (chapter 03) runs the same N waits as tasks awaited
 * by co_gather().  Both must take about one wait, not N of them.
 *
 * Memory per task is the size of what each task needs to exist: libuv's
 * timer handle plus the result, against the co task's frame and gather's
 * callback.  Both are allocated by the program, in one array, so the
 * figure is exact bytes, not a guess from RSS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"

#define UVX_MAX_TASKS 100000
#define UVX_SHOWN 10

/* One libuv task: the timer handle and where its callback writes. */
struct uvx_fetch {
	uv_timer_t timer; /* timer.data points back here */
	int id;
	int *order;	  /* the finishing order, shared by all */
	size_t *nordered; /* how many have finished */
	char data[16];	  /* the result: "Data 3" */
};

static void uvx_fired(uv_timer_t *timer)
{
	struct uvx_fetch *f = timer->data;

	snprintf(f->data, sizeof(f->data), "Data %d", f->id);
	f->order[(*f->nordered)++] = f->id;
}

static void uvx_close_one(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Run @n timers of @ms on one loop; returns 0 or a libuv error (< 0). */
static int uvx_gather(struct uvx_fetch *f, size_t n, long ms, int *order)
{
	size_t done = 0;
	uv_loop_t loop;
	int rc, rc2;

	rc = uv_loop_init(&loop);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		f[i].id = (int)i;
		f[i].order = order;
		f[i].nordered = &done;
		rc = uv_timer_init(&loop, &f[i].timer);
		if (rc)
			break;
		f[i].timer.data = &f[i];
		rc = uv_timer_start(&f[i].timer, uvx_fired, (uint64_t)ms, 0);
	}
	/* A one-shot timer that fired is inactive: the run ends when all did. */
	if (!rc)
		rc = uv_run(&loop, UV_RUN_DEFAULT) ? -EAGAIN : 0;
	if (!rc && done != n)
		rc = -EPROTO;
	/* Every handle closed and its close processed before the loop goes. */
	uv_walk(&loop, uvx_close_one, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	rc2 = uv_loop_close(&loop);
	return rc ? rc : rc2;
}

/* The same on the workbook's loop: one co task per wait. */
struct co_fetch {
	struct co_task task; /* first: the library finds the frame from it */
	int id;
	long ms;
	char data[16];
};

struct co_main {
	struct co_task task;
	struct co_fetch *f;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather gather;
	size_t n;
};

static int co_fetch_step(struct co_task *t)
{
	struct co_fetch *f = (struct co_fetch *)t;
	int err;

	CO_BEGIN(t);
	CO_AWAIT(t, co_sleep(t, f->ms), &err);
	if (err)
		CO_RETURN(t, err);
	snprintf(f->data, sizeof(f->data), "Data %d", f->id);
	CO_RETURN(t, 0);
	CO_END(t);
}

static int co_main_step(struct co_task *t)
{
	struct co_main *m = (struct co_main *)t;
	int err;

	CO_BEGIN(t);
	for (size_t i = 0; i < m->n; i++)
		co_task_start(co_loop(t), m->tasks[i], co_fetch_step, "fetch");
	CO_AWAIT(t, co_gather(t, &m->gather, m->tasks, m->cbs, m->n, false), &err);
	CO_RETURN(t, err);
	CO_END(t);
}

/*
 * "Data_0,Data_1,..." for the first few results, in array order: '_' for
 * the space, so that the value stays one key=value word.
 */
static void print_results(const char *key, const char *first, size_t stride, size_t n)
{
	printf(" %s=", key);
	for (size_t i = 0; i < n && i < UVX_SHOWN; i++) {
		const char *d = first + i * stride;

		printf("%s", i ? "," : "");
		for (size_t j = 0; j < 16 && d[j]; j++)
			putchar(d[j] == ' ' ? '_' : d[j]);
	}
	if (n > UVX_SHOWN)
		printf(",...");
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--delay-ms MS]\n"
	       "\n"
	       "Gather N waits of MS milliseconds on one thread twice: as libuv timers on a\n"
	       "uv_loop, and as chapter 03's coroutines on the workbook's loop.  Print both\n"
	       "times (ideal: one wait), the results in order, and the bytes each task\n"
	       "needs.  Defaults are the guide's: 10 tasks, 500 ms.\n"
	       "\n"
	       "  --tasks N      how many waits (1 to %d, default 10)\n"
	       "  --delay-ms MS  how long each waits (0 to 60000, default 500)\n"
	       "  --help         show this and exit\n",
	       wb_progname(), UVX_MAX_TASKS);
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
	long tasks = 10, ms = 500;
	struct uvx_fetch *uf;
	struct co_main m = { 0 };
	double uv_s, co_s;
	size_t n, uv_bytes, co_bytes;
	int *order, c, rc;
	int64_t start;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, UVX_MAX_TASKS);
			break;
		case OPT_DELAY:
			ms = arg_long("--delay-ms", optarg, 0, 60000);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	n = (size_t)tasks;

	uf = xcalloc(n, sizeof(*uf));
	order = xcalloc(n, sizeof(*order));
	start = clk_now_ns();
	rc = uvx_gather(uf, n, ms, order);
	uv_s = clk_since(start);
	if (rc)
		die("libuv: %s", uv_strerror(rc));

	m.n = n;
	m.f = xcalloc(n, sizeof(*m.f));
	m.tasks = xcalloc(n, sizeof(*m.tasks));
	m.cbs = xcalloc(n, sizeof(*m.cbs));
	for (size_t i = 0; i < n; i++) {
		m.f[i].id = (int)i;
		m.f[i].ms = ms;
		m.tasks[i] = &m.f[i].task;
	}
	start = clk_now_ns();
	rc = co_run(&m.task, co_main_step);
	co_s = clk_since(start);
	if (rc)
		die("co_run: %s", strerror(-rc));

	uv_bytes = sizeof(struct uvx_fetch);
	co_bytes = sizeof(struct co_fetch) + sizeof(struct co_task *) + sizeof(struct co_callback);
	printf("%zu waits of %.3f s gathered on one thread (ideal %.3f s, %.3f s one at a time)\n",
	       n, (double)ms / 1000, (double)ms / 1000, (double)n * (double)ms / 1000);
	printf("  %-24s %8.3f s  %5zu bytes per task\n", "libuv timers", uv_s, uv_bytes);
	printf("  %-24s %8.3f s  %5zu bytes per task\n", "workbook co tasks", co_s, co_bytes);
	printf("tasks=%zu delay_ms=%ld ideal=%.3f uv_s=%.3f co_s=%.3f uv_bytes=%zu co_bytes=%zu", n,
	       ms, (double)ms / 1000, uv_s, co_s, uv_bytes, co_bytes);
	print_results("uv_results", uf[0].data, sizeof(*uf), n);
	print_results("co_results", m.f[0].data, sizeof(*m.f), n);
	printf("\n");
	free(m.cbs);
	free(m.tasks);
	free(m.f);
	free(order);
	free(uf);
	return 0;
}
