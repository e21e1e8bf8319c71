/*
 * ex_handmade.c - the checks' driver for exercise 03-handmade: it runs the
 * hand-written ticker of handmade.h in one scene per --case and prints
 * what happened as key=value, for tests/03-ex.bats to judge.
 *
 *   ticks       5 ticks 40 ms apart, then the child (400 ms, returns 7),
 *               still running, is awaited: result=5, child_result=7
 *   cancel      5 ticks 100 ms apart, the ticker cancelled at 150 ms, in
 *               its second sleep: result=-ECANCELED after one tick
 *   ready       2 ticks 20 ms apart, the child finished before the ticker
 *               started: awaited without suspending (3 steps in all)
 *   child-fails the child fails with -EIO: the ticker returns that
 *
 * The scenes run on a loop of the driver's own, not co_run(), so that a
 * wrong step function cannot hang it: a watchdog timer stops the loop
 * after 2 s and the driver reports stuck=1 with whatever it saw.  A step
 * function that returns CO_PENDING without waiting for anything is
 * stopped by co.c itself, with a message.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "co_probe.h"
#include "handmade.h"

/* The scenes ask for at most 5 ticks; the rest is room for a wrong loop
 * that writes past the end of the ticks it was given. */
enum { MAXTICKS = 256, WATCHDOG_MS = 2000 };

/* The ticker's frame, with the step count the driver keeps around it. */
struct probe {
	struct ticker k; /* first member: the task */
	int steps;	 /* calls of ticker_step() */
};

static int counting_step(struct co_task *t)
{
	struct probe *p = (struct probe *)t;

	p->steps++;
	return ticker_step(t);
}

/* The child: sleeps @ms (none if 0) and returns @ret. */
struct child {
	struct co_task task;
	long ms;
	int ret, err;
};

static int child_step(struct co_task *t)
{
	struct child *c = (struct child *)t;

	CO_BEGIN(t);
	if (c->ms > 0) {
		CO_AWAIT(t, co_sleep(t, c->ms), &c->err);
		if (c->err)
			CO_RETURN(t, c->err);
	}
	CO_RETURN(t, c->ret);
	CO_END(t);
}

struct scene {
	struct loop *loop;
	struct probe p;
	struct child c;
	int64_t ticks[MAXTICKS];
	int64_t start_ns;
	struct loop_timer watchdog, canceller;
	struct co_callback on_ticker, on_child;
	double done_ms;	      /* when the ticker finished */
	int cleanups_at_done; /* its cleanups, seen the moment it finished */
	bool stuck;
};

static struct scene *scene_of(struct loop_timer *timer, size_t offset)
{
	return (struct scene *)(void *)((char *)timer - offset);
}

static void watchdog_fired(struct loop *loop, struct loop_timer *timer)
{
	scene_of(timer, offsetof(struct scene, watchdog))->stuck = true;
	loop_stop(loop);
}

static void cancel_fired(struct loop *loop, struct loop_timer *timer)
{
	(void)loop;
	co_task_cancel(&scene_of(timer, offsetof(struct scene, canceller))->p.k.task);
}

/* Once both tasks have finished, the watchdog goes and the loop ends. */
static void task_done(struct co_callback *cb, struct co_future *f)
{
	struct scene *s = cb->arg;

	if (f == &s->p.k.task.done) {
		s->done_ms = ms_since(s->start_ns);
		s->cleanups_at_done = s->p.k.cleanups;
	}
	if (co_task_done(&s->p.k.task) && co_task_done(&s->c.task)) {
		loop_timer_stop(s->loop, &s->watchdog);
		loop_timer_stop(s->loop, &s->canceller);
	}
}

enum { UNSET = INT_MAX }; /* child_result before the ticker sets it */

/* A result as the checks read it: a count, an errno's name, or "unset". */
static const char *rcstr(int rc, char *buf, size_t size)
{
	if (rc == UNSET)
		return "unset";
	if (rc == -ENOSYS)
		return "-ENOSYS";
	if (rc < 0 && strcmp(errname(rc), "other") != 0)
		return errname(rc);
	snprintf(buf, size, "%d", rc);
	return buf;
}

static void print_scene(struct scene *s, int run)
{
	char rbuf[16], cbuf[16];
	struct ticker *k = &s->p.k;
	double first = -1, min_gap = -1;
	bool in_order = true;
	int made = k->i < 0 ? 0 : k->i > k->n ? k->n : k->i; /* the times recorded */

	for (int i = 0; i < made; i++) {
		if (s->ticks[i] == 0) { /* a tick counted but never recorded */
			in_order = false;
			continue;
		}
		double gap = (double)(s->ticks[i] - (i ? s->ticks[i - 1] : s->start_ns)) /
			     CLK_NS_PER_MS;

		if (i == 0)
			first = gap;
		else if (min_gap < 0 || gap < min_gap)
			min_gap = gap;
		if (gap < 0)
			in_order = false;
	}
	printf("run=%s stuck=%d result=%s ticks=%d child_result=%s cleanups=%d "
	       "cleanups_at_done=%d steps=%d first_ms=%.1f min_gap_ms=%.1f in_order=%d "
	       "done_ms=%.1f\n",
	       errname(run), s->stuck,
	       co_task_done(&k->task) ? rcstr(k->task.done.result, rbuf, sizeof rbuf) : "none",
	       k->i, rcstr(k->child_result, cbuf, sizeof cbuf), k->cleanups, s->cleanups_at_done,
	       s->p.steps, first, min_gap, in_order, s->done_ms);
}

/*
 * One scene: the child starts first (so a child of 0 ms has finished
 * before the ticker's first step), then the ticker; cancel_ms > 0 cancels
 * the ticker then.
 */
static void run_scene(int n, long interval_ms, long child_ms, int child_ret, long cancel_ms)
{
	struct scene *s = xcalloc(1, sizeof *s);
	int err;

	err = loop_new(&s->loop, LOOP_DEFAULT);
	if (err)
		die("loop_new: %s", strerror(-err));
	s->watchdog = (struct loop_timer)LOOP_TIMER_INIT;
	s->canceller = (struct loop_timer)LOOP_TIMER_INIT;
	s->c.ms = child_ms;
	s->c.ret = child_ret;
	s->p.k.n = n;
	s->p.k.interval_ms = interval_ms;
	s->p.k.child = &s->c.task;
	s->p.k.ticks = s->ticks;
	s->p.k.child_result = UNSET;
	s->start_ns = clk_now_ns();
	co_task_start(s->loop, &s->c.task, child_step, "child");
	if (child_ms == 0) { /* let the child finish before the ticker exists */
		err = loop_run(s->loop);
		if (err)
			die("loop_run: %s", strerror(-err));
	}
	co_task_start(s->loop, &s->p.k.task, counting_step, "ticker");
	co_future_add(&s->p.k.task.done, &s->on_ticker, task_done, s);
	co_future_add(&s->c.task.done, &s->on_child, task_done, s);
	err = loop_timer_start(s->loop, &s->watchdog, s->start_ns + WATCHDOG_MS * CLK_NS_PER_MS,
			       watchdog_fired);
	if (!err && cancel_ms > 0)
		err = loop_timer_start(s->loop, &s->canceller,
				       s->start_ns + cancel_ms * CLK_NS_PER_MS, cancel_fired);
	if (!err)
		err = loop_run(s->loop);
	print_scene(s, err);
	/* After a watchdog stop the tasks still wait: their timers and
	 * callbacks point into the scene, which goes with the loop. */
	co_future_remove(&s->on_ticker);
	co_future_remove(&s->on_child);
	loop_free(s->loop);
	free(s);
}

static void case_ticks(void)
{
	run_scene(5, 40, 400, 7, 0);
}

static void case_cancel(void)
{
	run_scene(5, 100, 300, 7, 150);
}

static void case_ready(void)
{
	run_scene(2, 20, 0, 7, 0);
}

static void case_child_fails(void)
{
	run_scene(1, 10, 100, -EIO, 0);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "ticks", "cancel", "ready", "child-fails", NULL };
	static void (*const run[])(void) = { case_ticks, case_cancel, case_ready,
					     case_child_fails };

	return probe_main(argc, argv, names, run);
}
