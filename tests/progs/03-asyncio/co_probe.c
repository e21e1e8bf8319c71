/*
 * co_probe.c - the promises of co.h's tasks, one scene per --case:
 *
 *   sleep        10 tasks each sleep 500 ms, awaited one after another:
 *                they sleep at once, so the whole takes about 500 ms
 *   cancel-sleep a task cancelled in its sleep sees -ECANCELED there,
 *                awaits once more in its cleanup, and finishes
 *   cancel-new   a task cancelled before it started never runs its body
 *   cancel-kept  a cancel that arrives while a task is queued is kept for
 *                its next await that has to wait; an await that does not
 *                wait is not disturbed
 *   leftovers    main returns while 3 tasks still sleep for 10 s: co_run
 *                cancels them, runs their cleanup and returns main's result
 *   deadlock     main awaits a future nobody will settle: -EDEADLK
 *   sizes        what a task costs: sizeof(struct co_task)
 */
#include <stdlib.h>
#include <string.h>

#include "co_probe.h"

#define DELAY_MS 500
#define NTASKS 10
#define LONG_MS 10000

struct sleeper {
	struct co_task task;
	long ms;
	int seen;     /* what its sleep returned */
	bool cleaned; /* its cleanup ran */
	bool started; /* its body ran */
};

/* Sleep; on a cancel, sleep 20 ms more as cleanup (an await after the
 * cancel works as usual), then report the cancel. */
static int sleeper_step(struct co_task *t)
{
	struct sleeper *s = (struct sleeper *)t;
	int err;

	CO_BEGIN(t);
	s->started = true;
	CO_AWAIT(t, co_sleep(t, s->ms), &s->seen);
	if (s->seen == 0)
		CO_RETURN(t, 0);
	CO_AWAIT(t, co_sleep(t, 20), &err);
	s->cleaned = err == 0;
	CO_RETURN(t, s->seen);
	CO_END(t);
}

/* ---------------------------------------------------------------- sleep */

struct many {
	struct co_task task;
	struct sleeper kids[NTASKS];
	size_t i;
	int failed;
	const char *backend;
};

static int many_step(struct co_task *t)
{
	struct many *m = (struct many *)t;
	int err;

	CO_BEGIN(t);
	m->backend = loop_backend_name(co_loop(t));
	for (m->i = 0; m->i < NTASKS; m->i++) {
		m->kids[m->i].ms = DELAY_MS;
		co_task_start(co_loop(t), &m->kids[m->i].task, sleeper_step, "sleeper");
	}
	for (m->i = 0; m->i < NTASKS; m->i++) {
		CO_AWAIT(t, co_await(t, &m->kids[m->i].task.done), &err);
		if (err)
			m->failed++;
	}
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_sleep(void)
{
	struct many m = { 0 };
	int64_t start = clk_now_ns();
	int rc = co_run(&m.task, many_step);

	printf("run=%s backend=%s tasks=%d failed=%d elapsed_ms=%.1f\n", errname(rc), m.backend,
	       NTASKS, m.failed, ms_since(start));
}

/* ---------------------------------------------------------------- cancels */

struct canceller {
	struct co_task task;
	struct sleeper kid;
	long wait_ms; /* how long to let the kid run first (-1: not at all) */
	int kid_result;
	bool cancel_ok;
};

static int canceller_step(struct co_task *t)
{
	struct canceller *c = (struct canceller *)t;
	int err;

	CO_BEGIN(t);
	co_task_start(co_loop(t), &c->kid.task, sleeper_step, "sleeper");
	if (c->wait_ms >= 0)
		CO_AWAIT(t, co_sleep(t, c->wait_ms), &err);
	c->cancel_ok = co_task_cancel(&c->kid.task);
	CO_AWAIT(t, co_await(t, &c->kid.task.done), &c->kid_result);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void print_cancel(const struct canceller *c, int rc, int64_t start)
{
	printf("run=%s cancel=%d started=%d seen=%s cleaned=%d result=%s again=%d "
	       "elapsed_ms=%.1f\n",
	       errname(rc), c->cancel_ok, c->kid.started, errname(c->kid.seen), c->kid.cleaned,
	       errname(c->kid_result), co_task_cancel((struct co_task *)&c->kid.task),
	       ms_since(start));
}

static void case_cancel_sleep(void)
{
	struct canceller c = { .kid.ms = LONG_MS, .wait_ms = 50 };
	int64_t start = clk_now_ns();
	int rc = co_run(&c.task, canceller_step);

	print_cancel(&c, rc, start);
}

static void case_cancel_new(void)
{
	struct canceller c = { .kid.ms = LONG_MS, .wait_ms = -1 };
	int64_t start = clk_now_ns();
	int rc = co_run(&c.task, canceller_step);

	print_cancel(&c, rc, start);
}

/*
 * cancel-kept: the kid is woken by an event (so it is queued, its await's
 * result decided) and cancelled before it runs.  Its event wait still
 * returns 0; a sleep(0) that does not have to wait... does wait (it yields),
 * so it reports the kept cancel.
 */
struct kept {
	struct co_task task;
	struct co_event ev;
	struct {
		struct co_task task;
		struct co_event *ev;
		int first, second, third;
	} kid;
	int kid_result;
};

static int kept_kid_step(struct co_task *t)
{
	struct kept *k = (struct kept *)((char *)t - offsetof(struct kept, kid));

	CO_BEGIN(t);
	CO_AWAIT(t, co_event_wait(t, &k->ev), &k->kid.first);
	/* Set already: returns at once, without waiting: no cancel here. */
	CO_AWAIT(t, co_event_wait(t, &k->ev), &k->kid.second);
	CO_AWAIT(t, co_sleep(t, 0), &k->kid.third);
	CO_RETURN(t, k->kid.third);
	CO_END(t);
}

static int kept_step(struct co_task *t)
{
	struct kept *k = (struct kept *)t;
	int err;

	CO_BEGIN(t);
	co_event_init(&k->ev);
	co_task_start(co_loop(t), &k->kid.task, kept_kid_step, "kid");
	CO_AWAIT(t, co_sleep(t, 10), &err); /* the kid waits on the event */
	co_event_set(&k->ev);		    /* the kid is queued... */
	co_task_cancel(&k->kid.task);	    /* ...and cancelled before it runs */
	CO_AWAIT(t, co_await(t, &k->kid.task.done), &k->kid_result);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_cancel_kept(void)
{
	struct kept k = { 0 };
	int rc = co_run(&k.task, kept_step);

	printf("run=%s first=%s second=%s third=%s result=%s\n", errname(rc), errname(k.kid.first),
	       errname(k.kid.second), errname(k.kid.third), errname(k.kid_result));
}

/* ---------------------------------------------------------------- co_run */

struct leaver {
	struct co_task task;
	struct sleeper kids[3];
	size_t i;
};

static int leaver_step(struct co_task *t)
{
	struct leaver *l = (struct leaver *)t;
	int err;

	CO_BEGIN(t);
	for (l->i = 0; l->i < 3; l->i++) {
		l->kids[l->i].ms = LONG_MS;
		co_task_start(co_loop(t), &l->kids[l->i].task, sleeper_step, "leftover");
	}
	CO_AWAIT(t, co_sleep(t, 10), &err); /* they are asleep now */
	CO_RETURN(t, -EIO);		    /* a result co_run must hand back */
	CO_END(t);
}

static void case_leftovers(void)
{
	struct leaver l = { 0 };
	int64_t start = clk_now_ns();
	int rc = co_run(&l.task, leaver_step);
	int started = 0, cleaned = 0, done = 0;

	for (size_t i = 0; i < 3; i++) {
		started += l.kids[i].started;
		cleaned += l.kids[i].cleaned;
		done += co_task_done(&l.kids[i].task);
	}
	printf("run=%s started=%d cleaned=%d done=%d elapsed_ms=%.1f\n", errname(rc), started,
	       cleaned, done, ms_since(start));
}

struct stuck {
	struct co_task task;
	struct co_future never;
	int seen;
};

static int stuck_step(struct co_task *t)
{
	struct stuck *s = (struct stuck *)t;

	CO_BEGIN(t);
	co_future_init(&s->never);
	CO_AWAIT(t, co_await(t, &s->never), &s->seen);
	CO_RETURN(t, s->seen);
	CO_END(t);
}

static void case_deadlock(void)
{
	struct stuck s = { 0 };
	int rc = co_run(&s.task, stuck_step);

	printf("run=%s seen=%s done=%d\n", errname(rc), errname(s.seen), co_task_done(&s.task));
}

static void case_sizes(void)
{
	printf("task_bytes=%zu sleeper_bytes=%zu\n", sizeof(struct co_task),
	       sizeof(struct sleeper));
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"sleep",     "cancel-sleep", "cancel-new", "cancel-kept",
		"leftovers", "deadlock",     "sizes",	   NULL,
	};
	static void (*const run[])(void) = {
		case_sleep,	case_cancel_sleep, case_cancel_new, case_cancel_kept,
		case_leftovers, case_deadlock,	   case_sizes,
	};

	return probe_main(argc, argv, cases, run);
}
