/*
 * ex_sem.c - a driver for exercise 03-semaphore's "waiters sleep" check:
 * while tasks wait for a permit, the loop's thread sleeps in its wait for
 * the next timer instead of looking again and again.
 *
 * The scene holds Semaphore(1), starts 10 tasks that each want the permit,
 * lets them reach their acquire, then holds on for 300 ms and measures
 * what the (only) thread spent meanwhile.  It prints:
 *
 *   holder=RC       the scene's own acquire
 *   waiting=N       tasks inside their acquire when the 300 ms began
 *   order=I,...     the order the tasks got the permit in
 *   wait_ms= wait_cpu_ms= wait_wakeups=   the 300 ms, as usage.h measures
 *   value=N         free permits at the end
 */
#define _GNU_SOURCE /* RUSAGE_THREAD in usage.h */

#include <stdbool.h>
#include <stdlib.h>

#include "../usage.h"
#include "co_probe.h"

enum { WAITERS = 10, HOLD_MS = 300 };

struct waiter {
	struct co_task task;
	struct co_sem *sem;
	int *order, *got, id;
	bool entered, acquired;
	int err;
};

static int waiter_step(struct co_task *t)
{
	struct waiter *w = (struct waiter *)t;

	CO_BEGIN(t);
	w->entered = true;
	CO_AWAIT(t, co_sem_acquire(t, w->sem), &w->err);
	w->acquired = true;
	if (w->err)
		CO_RETURN(t, w->err);
	w->order[(*w->got)++] = w->id;
	co_sem_release(w->sem);
	CO_RETURN(t, 0);
	CO_END(t);
}

struct scene {
	struct co_task task;
	struct co_sem sem;
	struct waiter w[WAITERS];
	int order[WAITERS], got, holder, waiting, i, err;
	struct usage before, after;
};

static int scene_step(struct co_task *t)
{
	struct scene *s = (struct scene *)t;

	CO_BEGIN(t);
	co_sem_init(&s->sem, 1);
	CO_AWAIT(t, co_sem_acquire(t, &s->sem), &s->holder);
	for (s->i = 0; s->i < WAITERS; s->i++) {
		s->w[s->i] = (struct waiter){
			.sem = &s->sem, .order = s->order, .got = &s->got, .id = s->i
		};
		co_task_start(co_loop(t), &s->w[s->i].task, waiter_step, "waiter");
	}
	CO_AWAIT(t, co_sleep(t, 0), &s->err); /* each waiter reaches its acquire */
	for (s->i = 0; s->i < WAITERS; s->i++)
		s->waiting += s->w[s->i].entered && !s->w[s->i].acquired;
	s->before = usage_now();
	CO_AWAIT(t, co_sleep(t, HOLD_MS), &s->err);
	s->after = usage_now();
	if (s->holder == 0)
		co_sem_release(&s->sem);
	for (s->i = 0; s->i < WAITERS; s->i++)
		CO_AWAIT(t, co_await(t, &s->w[s->i].task.done), &s->err);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_asleep(void)
{
	struct scene *s = xcalloc(1, sizeof *s);
	int rc = co_run(&s->task, scene_step);

	printf("run=%s holder=%s waiting=%d order=", errname(rc), errname(s->holder), s->waiting);
	for (int i = 0; i < s->got; i++)
		printf("%s%d", i ? "," : "", s->order[i]);
	printf(" ");
	usage_print("wait", s->before, s->after);
	printf(" value=%ld\n", s->sem.value);
	free(s);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "asleep", NULL };
	static void (*const run[])(void) = { case_asleep };

	return probe_main(argc, argv, names, run);
}
