/*
 * co_bench.c - what the coroutine layer costs, for tests/bench to set
 * beside asyncio's figures (tests/bench-py/asyncio_bench.py prints the
 * same keys).  One scene per run, one line of key=value facts:
 *
 *   --scene gather   --n N --ms MS   N tasks each sleeping MS, gathered:
 *                    n wall_s ideal_s bytes_per_task
 *   --scene create   --n N           create a task and await it, N times:
 *                    n us_per_task
 *   --scene switch   --n N           two tasks taking turns with sleep(0):
 *                    n ns_per_switch
 *   --scene sem      --n N --limit L --ms MS   N tasks through a
 *                    Semaphore(L), each holding it MS: n wall_s ideal_s peak
 *   --scene wait_for --n RUNS --ms MS   wait_for(MS) on a 10 s sleep:
 *                    runs overshoot_ms (the median)
 *   --scene floor    --n RUNS --ms MS   a bare epoll_pwait2 of MS, no
 *                    loop at all, with the timer slack the loop runs with:
 *                    runs overshoot_ms (the median) - how late this
 *                    machine's kernel wakes a sleeper, the floor under
 *                    every timer figure above
 *
 * bytes_per_task is the growth of the resident set from before the frames
 * were allocated to the moment every task is asleep, divided by N: the
 * frame, its slots in the gather's arrays and in the timer heap, all of it.
 */
#define _GNU_SOURCE /* epoll_pwait2 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"

static long resident_bytes(void)
{
	long size = 0, pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%ld %ld", &size, &pages) != 2)
		die("cannot read /proc/self/statm");
	fclose(f);
	return pages * sysconf(_SC_PAGESIZE);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---------------------------------------------------------------- gather */

struct sleeper {
	struct co_task task;
	long ms;
};

static int sleeper_step(struct co_task *t)
{
	struct sleeper *s = (struct sleeper *)t;
	int err;

	CO_BEGIN(t);
	CO_AWAIT(t, co_sleep(t, s->ms), &err);
	CO_RETURN(t, err);
	CO_END(t);
}

struct gather_main {
	struct co_task task;
	long n, ms;
	struct sleeper *frames;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather g;
	long rss_before, rss_asleep;
	int64_t start;
};

static int gather_step(struct co_task *t)
{
	struct gather_main *m = (struct gather_main *)t;
	int err;

	CO_BEGIN(t);
	m->rss_before = resident_bytes();
	m->start = clk_now_ns();
	m->frames = calloc((size_t)m->n, sizeof *m->frames);
	m->tasks = calloc((size_t)m->n, sizeof *m->tasks);
	m->cbs = calloc((size_t)m->n, sizeof *m->cbs);
	if (!m->frames || !m->tasks || !m->cbs)
		CO_RETURN(t, -ENOMEM);
	for (long i = 0; i < m->n; i++) {
		m->frames[i].ms = m->ms;
		m->tasks[i] = &m->frames[i].task;
		co_task_start(co_loop(t), m->tasks[i], sleeper_step, NULL);
	}
	/* Let every task run its first step and fall asleep. */
	CO_AWAIT(t, co_sleep(t, 0), &err);
	m->rss_asleep = resident_bytes();
	CO_AWAIT(t, co_gather(t, &m->g, m->tasks, m->cbs, (size_t)m->n, false), &err);
	CO_RETURN(t, err);
	CO_END(t);
}

static void scene_gather(long n, long ms)
{
	struct gather_main m = { .n = n, .ms = ms };
	int err = co_run(&m.task, gather_step);
	double wall = clk_since(m.start);

	if (err)
		die_errno(-err, "gather of %ld tasks", n);
	printf("n=%ld wall_s=%.6f ideal_s=%.6f bytes_per_task=%.0f\n", n, wall, ms / 1000.0,
	       (double)(m.rss_asleep - m.rss_before) / (double)n);
	free(m.frames);
	free(m.tasks);
	free(m.cbs);
}

/* ---------------------------------------------------------------- create */

struct trivial {
	struct co_task task;
};

static int trivial_step(struct co_task *t)
{
	CO_BEGIN(t);
	CO_RETURN(t, 1);
	CO_END(t);
}

struct create_main {
	struct co_task task;
	long n, i;
	struct trivial child;
	int64_t start, end;
};

static int create_step(struct co_task *t)
{
	struct create_main *m = (struct create_main *)t;
	int err;

	CO_BEGIN(t);
	m->start = clk_now_ns();
	for (m->i = 0; m->i < m->n; m->i++) {
		/* A finished frame may be started again (co_task_start). */
		co_task_start(co_loop(t), &m->child.task, trivial_step, NULL);
		CO_AWAIT(t, co_await(t, &m->child.task.done), &err);
		if (err != 1)
			CO_RETURN(t, -EPROTO);
	}
	m->end = clk_now_ns();
	CO_RETURN(t, 0);
	CO_END(t);
}

static void scene_create(long n)
{
	struct create_main m = { .n = n };
	int err = co_run(&m.task, create_step);

	if (err)
		die_errno(-err, "create");
	printf("n=%ld us_per_task=%.4f\n", n, (double)(m.end - m.start) / 1000.0 / (double)n);
}

/* ---------------------------------------------------------------- switch */

struct pinger {
	struct co_task task;
	long n, i;
};

static int pinger_step(struct co_task *t)
{
	struct pinger *p = (struct pinger *)t;
	int err;

	CO_BEGIN(t);
	for (p->i = 0; p->i < p->n; p->i++) {
		CO_AWAIT(t, co_sleep(t, 0), &err);
		if (err)
			CO_RETURN(t, err);
	}
	CO_RETURN(t, 0);
	CO_END(t);
}

struct switch_main {
	struct co_task task;
	long n;
	struct pinger p[2];
	struct co_task *tasks[2];
	struct co_callback cbs[2];
	struct co_gather g;
	int64_t start, end;
};

static int switch_step(struct co_task *t)
{
	struct switch_main *m = (struct switch_main *)t;
	int err;

	CO_BEGIN(t);
	m->start = clk_now_ns();
	for (int i = 0; i < 2; i++) {
		m->p[i].n = m->n;
		m->tasks[i] = &m->p[i].task;
		co_task_start(co_loop(t), m->tasks[i], pinger_step, NULL);
	}
	CO_AWAIT(t, co_gather(t, &m->g, m->tasks, m->cbs, 2, false), &err);
	m->end = clk_now_ns();
	CO_RETURN(t, err);
	CO_END(t);
}

static void scene_switch(long n)
{
	struct switch_main m = { .n = n };
	int err = co_run(&m.task, switch_step);

	if (err)
		die_errno(-err, "switch");
	/* 2n resumptions, each a switch from the other task. */
	printf("n=%ld ns_per_switch=%.2f\n", n, (double)(m.end - m.start) / (2.0 * (double)n));
}

/* ---------------------------------------------------------------- sem */

struct sem_main;
struct holder {
	struct co_task task;
	struct sem_main *m;
};

struct sem_main {
	struct co_task task;
	long n, limit, ms, inside, peak;
	struct co_sem sem;
	struct holder *frames;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather g;
	int64_t start, end;
};

static int holder_step(struct co_task *t)
{
	struct holder *h = (struct holder *)t;
	int err;

	CO_BEGIN(t);
	CO_AWAIT(t, co_sem_acquire(t, &h->m->sem), &err);
	if (err)
		CO_RETURN(t, err);
	if (++h->m->inside > h->m->peak)
		h->m->peak = h->m->inside;
	CO_AWAIT(t, co_sleep(t, h->m->ms), &err);
	h->m->inside--;
	co_sem_release(&h->m->sem);
	CO_RETURN(t, err);
	CO_END(t);
}

static int sem_step(struct co_task *t)
{
	struct sem_main *m = (struct sem_main *)t;
	int err;

	CO_BEGIN(t);
	co_sem_init(&m->sem, m->limit);
	m->frames = calloc((size_t)m->n, sizeof *m->frames);
	m->tasks = calloc((size_t)m->n, sizeof *m->tasks);
	m->cbs = calloc((size_t)m->n, sizeof *m->cbs);
	if (!m->frames || !m->tasks || !m->cbs)
		CO_RETURN(t, -ENOMEM);
	m->start = clk_now_ns();
	for (long i = 0; i < m->n; i++) {
		m->frames[i].m = m;
		m->tasks[i] = &m->frames[i].task;
		co_task_start(co_loop(t), m->tasks[i], holder_step, NULL);
	}
	CO_AWAIT(t, co_gather(t, &m->g, m->tasks, m->cbs, (size_t)m->n, false), &err);
	m->end = clk_now_ns();
	CO_RETURN(t, err);
	CO_END(t);
}

static void scene_sem(long n, long limit, long ms)
{
	struct sem_main m = { .n = n, .limit = limit, .ms = ms };
	int err = co_run(&m.task, sem_step);

	if (err)
		die_errno(-err, "sem");
	printf("n=%ld wall_s=%.6f ideal_s=%.6f peak=%ld\n", n, (double)(m.end - m.start) / 1e9,
	       (double)((n + limit - 1) / limit) * (double)ms / 1000.0, m.peak);
	free(m.frames);
	free(m.tasks);
	free(m.cbs);
}

/* ---------------------------------------------------------------- wait_for */

#define MAX_RUNS 1000
struct wait_main {
	struct co_task task;
	long runs, ms, r;
	struct sleeper inner;
	struct co_wait_for w;
	int64_t start;
	double over_ms[MAX_RUNS];
};

static int wait_step(struct co_task *t)
{
	struct wait_main *m = (struct wait_main *)t;
	int err;

	CO_BEGIN(t);
	for (m->r = 0; m->r < m->runs; m->r++) {
		m->inner.ms = 10000;
		m->start = clk_now_ns();
		co_task_start(co_loop(t), &m->inner.task, sleeper_step, NULL);
		CO_AWAIT(t, co_wait_for(t, &m->w, &m->inner.task, m->ms), &err);
		if (err != -ETIMEDOUT)
			CO_RETURN(t, err ? err : -EPROTO);
		m->over_ms[m->r] = (double)(clk_now_ns() - m->start) / 1e6 - (double)m->ms;
	}
	CO_RETURN(t, 0);
	CO_END(t);
}

static void scene_wait_for(long runs, long ms)
{
	struct wait_main *m = calloc(1, sizeof *m);
	int err;

	if (!m)
		die("out of memory");
	m->runs = runs;
	m->ms = ms;
	err = co_run(&m->task, wait_step);
	if (err)
		die_errno(-err, "wait_for");
	qsort(m->over_ms, (size_t)runs, sizeof m->over_ms[0], cmp_double);
	printf("runs=%ld overshoot_ms=%.4f\n", runs, m->over_ms[runs / 2]);
	free(m);
}

/* ---------------------------------------------------------------- floor */

static void scene_floor(long runs, long ms)
{
	double over_ms[MAX_RUNS];
	struct epoll_event ev;
	int epfd = epoll_create1(EPOLL_CLOEXEC);

	if (epfd < 0)
		die_errno(errno, "epoll_create1");
	/* As loop_run() does (loop.h, "Timer slack"). */
	if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) != 0)
		die_errno(errno, "prctl(PR_SET_TIMERSLACK)");
	for (long r = 0; r < runs; r++) {
		struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * CLK_NS_PER_MS };
		int64_t start = clk_now_ns();

		if (epoll_pwait2(epfd, &ev, 1, &ts, NULL) < 0 && errno != EINTR)
			die_errno(errno, "epoll_pwait2");
		over_ms[r] = (double)(clk_now_ns() - start) / 1e6 - (double)ms;
	}
	close(epfd);
	qsort(over_ms, (size_t)runs, sizeof over_ms[0], cmp_double);
	printf("runs=%ld overshoot_ms=%.4f\n", runs, over_ms[runs / 2]);
}

int main(int argc, char **argv)
{
	enum { OPT_SCENE = 1, OPT_N, OPT_MS, OPT_LIMIT, OPT_HELP };
	static const struct option opts[] = {
		{ "scene", required_argument, NULL, OPT_SCENE },
		{ "n", required_argument, NULL, OPT_N },
		{ "ms", required_argument, NULL, OPT_MS },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const scenes[] = { "gather",	  "create", "switch", "sem",
					      "wait_for", "floor",  NULL };
	long n = 1000, ms = 10, limit = 10;
	int scene = -1, c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_SCENE:
			scene = arg_choice("--scene", optarg, scenes);
			break;
		case OPT_N:
			n = arg_long("--n", optarg, 1, 10000000);
			break;
		case OPT_MS:
			ms = arg_long("--ms", optarg, 0, 60000);
			break;
		case OPT_LIMIT:
			limit = arg_long("--limit", optarg, 1, 1000000);
			break;
		case OPT_HELP:
			printf("usage: %s --scene gather|create|switch|sem|wait_for|floor [--n N] [--ms MS] "
			       "[--limit L]\n",
			       wb_progname());
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	switch (scene) {
	case 0:
		scene_gather(n, ms);
		break;
	case 1:
		scene_create(n);
		break;
	case 2:
		scene_switch(n);
		break;
	case 3:
		scene_sem(n, limit, ms);
		break;
	case 4:
	case 5:
		if (n > MAX_RUNS)
			usage_error("--n must be at most %d for %s", MAX_RUNS, scenes[scene]);
		if (scene == 4)
			scene_wait_for(n, ms);
		else
			scene_floor(n, ms);
		break;
	default:
		usage_error("--scene is required");
	}
	return 0;
}
