/*
 * co_sync_probe.c - the promises of co.h's primitives, one scene per --case:
 *
 *   gather-sleep    10 tasks of 500 ms gathered: about 500 ms in all
 *   gather-order    tasks finishing in another order than they were given:
 *                   their results are read back in argument order
 *   gather-fail     without return_exceptions: the first failure returns at
 *                   once, and the other tasks keep running
 *   gather-collect  with return_exceptions: every task finishes, each keeps
 *                   its own error, gather returns 0
 *   gather-cancel   cancelling the gathering task cancels the tasks, waits
 *                   for their cleanup, then returns -ECANCELED
 *   sem             12 tasks through Semaphore(3): never more than 3 inside,
 *                   served in arrival order
 *   sem-barge       a release with a waiter hands it the permit: the
 *                   releaser, asking again at once, waits its turn
 *   sem-cancel      a waiter cancelled while it waits leaves the queue; one
 *                   cancelled after it was handed the permit, before it ran,
 *                   passes it on: no permit lost
 *   wait-for-timeout  the inner task is cancelled at 100 ms and cleans up
 *                   for 50 ms: -ETIMEDOUT after the cleanup, at about 150 ms
 *   wait-for-fast   an inner task that finishes in time: its result, and the
 *                   timer is gone (co_run returns without waiting for it)
 *   wait-for-cancel cancelling the waiter cancels the inner task, waits for
 *                   its cleanup and returns -ECANCELED
 *   timeout         a 100 ms scope around a 500 ms sleep: -ETIMEDOUT at
 *                   100 ms, no cancel leaks past it; a scope left in time
 *                   stops its timer
 *   event           waiters wake when the event is set, a cancelled one
 *                   with -ECANCELED; a set event does not wait
 *   queue           a producer and a slow consumer through a queue of 2:
 *                   FIFO, never more than 2 inside, the producer waits
 *   queue-cancel    cancelled getters and putters lose no item: one cancelled
 *                   while it waits takes none, one handed an item keeps it
 *   group-fail      one child fails: its siblings are cancelled, and the
 *                   wait returns the failure after their cleanup
 *   group-ok        every child succeeds: the wait returns 0 after the last
 *   group-cancel    cancelling the waiter cancels every child
 *   fd              a wait for a pipe to become readable; one cancelled
 *
 * Facts are printed as key=value for tests/03-core.bats.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "co_probe.h"

#define LONG_MS 10000
#define MAXJOBS 12

/* What the scene's tasks record, in the order it happens. */
struct trace {
	int order[MAXJOBS * 2];
	size_t n;
	int inside, peak; /* tasks between acquire and release */
};

static void trace_add(struct trace *tr, int id)
{
	if (tr->n < sizeof tr->order / sizeof tr->order[0])
		tr->order[tr->n++] = id;
}

/* "1,2,3" into @buf. */
static const char *trace_str(const struct trace *tr, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < tr->n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%d", i ? "," : "",
					 tr->order[i]);
	if (tr->n == 0)
		snprintf(buf, size, "none");
	return buf;
}

/*
 * A job: sleep ms, then record its id and return ret.  Cancelled, it sleeps
 * cleanup_ms as its cleanup and returns what its sleep saw.
 */
struct job {
	struct co_task task;
	int id;
	long ms, cleanup_ms;
	int ret;
	int seen;
	int value; /* id * 10 + 1 once it has slept */
	bool started, cleaned;
	struct trace *tr;
};

static int job_step(struct co_task *t)
{
	struct job *j = (struct job *)t;
	int err;

	CO_BEGIN(t);
	j->started = true;
	CO_AWAIT(t, co_sleep(t, j->ms), &j->seen);
	if (j->seen == 0) {
		j->value = j->id * 10 + 1;
		if (j->tr)
			trace_add(j->tr, j->id);
		CO_RETURN(t, j->ret);
	}
	CO_AWAIT(t, co_sleep(t, j->cleanup_ms), &err);
	j->cleaned = err == 0;
	CO_RETURN(t, j->seen);
	CO_END(t);
}

static void job_start(struct co_task *parent, struct job *j, int id, long ms, int ret,
		      struct trace *tr)
{
	j->id = id;
	j->ms = ms;
	j->ret = ret;
	j->cleanup_ms = 20;
	j->tr = tr;
	co_task_start(co_loop(parent), &j->task, job_step, "job");
}

/* A task that cancels @victim after @ms. */
struct killer {
	struct co_task task;
	struct co_task *victim;
	long ms;
};

static int killer_step(struct co_task *t)
{
	struct killer *k = (struct killer *)t;
	int err;

	CO_BEGIN(t);
	CO_AWAIT(t, co_sleep(t, k->ms), &err);
	co_task_cancel(k->victim);
	CO_RETURN(t, err);
	CO_END(t);
}

static void kill_later(struct co_task *parent, struct killer *k, struct co_task *victim, long ms)
{
	k->victim = victim;
	k->ms = ms;
	co_task_start(co_loop(parent), &k->task, killer_step, "killer");
}

/* ---------------------------------------------------------------- gather */

struct gatherer {
	struct co_task task;
	struct job jobs[MAXJOBS];
	struct co_task *ptrs[MAXJOBS];
	struct co_callback cbs[MAXJOBS];
	struct co_gather g;
	struct killer killer;
	struct trace tr;
	const long *ms;
	const int *ret;
	size_t n, i;
	bool collect;
	long cancel_ms; /* > 0: cancel the gatherer then */
	int result;
	double at_ms, after_ms;
	int64_t start;
};

static int gatherer_step(struct co_task *t)
{
	struct gatherer *g = (struct gatherer *)t;

	CO_BEGIN(t);
	g->start = clk_now_ns();
	for (g->i = 0; g->i < g->n; g->i++) {
		job_start(t, &g->jobs[g->i], (int)g->i, g->ms[g->i], g->ret ? g->ret[g->i] : 0,
			  &g->tr);
		g->ptrs[g->i] = &g->jobs[g->i].task;
	}
	if (g->cancel_ms > 0)
		kill_later(t, &g->killer, t, g->cancel_ms);
	CO_AWAIT(t, co_gather(t, &g->g, g->ptrs, g->cbs, g->n, g->collect), &g->result);
	g->at_ms = ms_since(g->start);
	/* Whatever gather did, every job must still be awaitable. */
	for (g->i = 0; g->i < g->n; g->i++) {
		int err;

		CO_AWAIT(t, co_await(t, &g->jobs[g->i].task.done), &err);
		(void)err;
	}
	g->after_ms = ms_since(g->start);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void print_gather(struct gatherer *g, int rc)
{
	char buf[256];

	printf("run=%s gather=%s at_ms=%.1f after_ms=%.1f finished=%s results=", errname(rc),
	       errname(g->result), g->at_ms, g->after_ms, trace_str(&g->tr, buf, sizeof buf));
	for (size_t i = 0; i < g->n; i++)
		printf("%s%s", i ? "," : "", errname(g->jobs[i].task.done.result));
	/* The values, read back through the array gather was given. */
	printf(" values=");
	for (size_t i = 0; i < g->n; i++)
		printf("%s%d", i ? "," : "", ((struct job *)g->ptrs[i])->value);
	printf(" cleaned=");
	for (size_t i = 0; i < g->n; i++)
		printf("%d", g->jobs[i].cleaned);
	printf("\n");
}

static void run_gather(const long *ms, const int *ret, size_t n, bool collect, long cancel_ms)
{
	struct gatherer *g = xcalloc(1, sizeof *g);
	int rc;

	g->ms = ms;
	g->ret = ret;
	g->n = n;
	g->collect = collect;
	g->cancel_ms = cancel_ms;
	rc = co_run(&g->task, gatherer_step);
	print_gather(g, rc);
	free(g);
}

static void case_gather_sleep(void)
{
	static const long ms[10] = { 500, 500, 500, 500, 500, 500, 500, 500, 500, 500 };

	run_gather(ms, NULL, 10, false, 0);
}

static void case_gather_order(void)
{
	static const long ms[5] = { 300, 100, 200, 0, 50 };

	run_gather(ms, NULL, 5, false, 0);
}

static void case_gather_fail(void)
{
	static const long ms[3] = { 100, 50, 200 };
	static const int ret[3] = { 0, -EIO, -EPERM };

	run_gather(ms, ret, 3, false, 0);
}

static void case_gather_collect(void)
{
	static const long ms[3] = { 100, 50, 200 };
	static const int ret[3] = { 0, -EIO, -EPERM };

	run_gather(ms, ret, 3, true, 0);
}

static void case_gather_cancel(void)
{
	static const long ms[3] = { LONG_MS, 10, LONG_MS };

	run_gather(ms, NULL, 3, false, 50);
}

/* ---------------------------------------------------------------- Semaphore */

struct sem_user {
	struct co_task task;
	int id;
	long hold_ms;
	struct co_sem *sem;
	struct trace *tr;
	int acquired, next; /* what acquire, then the await after it, returned */
};

static int sem_user_step(struct co_task *t)
{
	struct sem_user *u = (struct sem_user *)t;

	CO_BEGIN(t);
	CO_AWAIT(t, co_sem_acquire(t, u->sem), &u->acquired);
	if (u->acquired)
		CO_RETURN(t, u->acquired);
	trace_add(u->tr, u->id);
	if (++u->tr->inside > u->tr->peak)
		u->tr->peak = u->tr->inside;
	CO_AWAIT(t, co_sleep(t, u->hold_ms), &u->next);
	u->tr->inside--;
	co_sem_release(u->sem);
	CO_RETURN(t, u->next);
	CO_END(t);
}

struct sem_scene {
	struct co_task task;
	struct co_sem sem;
	struct sem_user users[MAXJOBS];
	struct trace tr;
	size_t i;
	int mine; /* the scene's own acquire, after its release */
	int64_t start;
	double elapsed_ms;
};

static void user_start(struct sem_scene *s, size_t i, long hold_ms)
{
	s->users[i].id = (int)i;
	s->users[i].hold_ms = hold_ms;
	s->users[i].sem = &s->sem;
	s->users[i].tr = &s->tr;
	co_task_start(co_loop(&s->task), &s->users[i].task, sem_user_step, "user");
}

static int sem_step(struct co_task *t)
{
	struct sem_scene *s = (struct sem_scene *)t;
	int err;

	CO_BEGIN(t);
	s->start = clk_now_ns();
	co_sem_init(&s->sem, 3);
	for (s->i = 0; s->i < MAXJOBS; s->i++)
		user_start(s, s->i, 50);
	for (s->i = 0; s->i < MAXJOBS; s->i++)
		CO_AWAIT(t, co_await(t, &s->users[s->i].task.done), &err);
	s->elapsed_ms = ms_since(s->start);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_sem(void)
{
	struct sem_scene *s = xcalloc(1, sizeof *s);
	char buf[256];
	int rc = co_run(&s->task, sem_step);

	printf("run=%s order=%s peak=%d value=%ld elapsed_ms=%.1f\n", errname(rc),
	       trace_str(&s->tr, buf, sizeof buf), s->tr.peak, s->sem.value, s->elapsed_ms);
	free(s);
}

/* sem-barge: the scene holds Semaphore(1), user 0 waits; the scene
 * releases and at once asks again: user 0 must go first. */
static int barge_step(struct co_task *t)
{
	struct sem_scene *s = (struct sem_scene *)t;
	int err;

	CO_BEGIN(t);
	co_sem_init(&s->sem, 1);
	CO_AWAIT(t, co_sem_acquire(t, &s->sem), &err);
	user_start(s, 0, 20);
	CO_AWAIT(t, co_sleep(t, 10), &err); /* user 0 is waiting now */
	co_sem_release(&s->sem);
	CO_AWAIT(t, co_sem_acquire(t, &s->sem), &s->mine);
	trace_add(&s->tr, 99);
	co_sem_release(&s->sem);
	CO_AWAIT(t, co_await(t, &s->users[0].task.done), &err);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_sem_barge(void)
{
	struct sem_scene *s = xcalloc(1, sizeof *s);
	char buf[256];
	int rc = co_run(&s->task, barge_step);

	printf("run=%s order=%s mine=%s value=%ld\n", errname(rc),
	       trace_str(&s->tr, buf, sizeof buf), errname(s->mine), s->sem.value);
	free(s);
}

/*
 * sem-cancel: Semaphore(1) held by the scene; users 0, 1, 2 wait in that
 * order.  User 1 is cancelled while it waits.  The scene releases, which
 * hands the permit to user 0, and cancels user 0 before it runs: user 0's
 * acquire returns -ECANCELED and the permit passes to user 2.
 */
static int sem_cancel_step(struct co_task *t)
{
	struct sem_scene *s = (struct sem_scene *)t;
	int err;

	CO_BEGIN(t);
	co_sem_init(&s->sem, 1);
	CO_AWAIT(t, co_sem_acquire(t, &s->sem), &err);
	for (s->i = 0; s->i < 3; s->i++)
		user_start(s, s->i, 20);
	CO_AWAIT(t, co_sleep(t, 10), &err); /* all three wait now */
	co_task_cancel(&s->users[1].task);
	co_sem_release(&s->sem);
	co_task_cancel(&s->users[0].task);
	for (s->i = 0; s->i < 3; s->i++)
		CO_AWAIT(t, co_await(t, &s->users[s->i].task.done), &err);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_sem_cancel(void)
{
	struct sem_scene *s = xcalloc(1, sizeof *s);
	char buf[256];
	int rc = co_run(&s->task, sem_cancel_step);

	printf("run=%s order=%s u0_acquire=%s u0_next=%s u1_acquire=%s u2_acquire=%s "
	       "u2_next=%s peak=%d value=%ld\n",
	       errname(rc), trace_str(&s->tr, buf, sizeof buf), errname(s->users[0].acquired),
	       errname(s->users[0].next), errname(s->users[1].acquired),
	       errname(s->users[2].acquired), errname(s->users[2].next), s->tr.peak, s->sem.value);
	free(s);
}

/* ---------------------------------------------------------------- wait_for */

struct waiter {
	struct co_task task;
	struct job inner;
	struct co_wait_for w;
	struct killer killer;
	long inner_ms, timeout_ms, cancel_ms;
	int result;
	bool cleaned_at_return; /* the inner cleanup had run when wait_for returned */
	int inner_result_at_return;
	double at_ms;
	int64_t start;
};

static int waiter_step(struct co_task *t)
{
	struct waiter *w = (struct waiter *)t;

	CO_BEGIN(t);
	w->start = clk_now_ns();
	job_start(t, &w->inner, 0, w->inner_ms, 0, NULL);
	w->inner.cleanup_ms = 50;
	if (w->cancel_ms > 0)
		kill_later(t, &w->killer, t, w->cancel_ms);
	CO_AWAIT(t, co_wait_for(t, &w->w, &w->inner.task, w->timeout_ms), &w->result);
	w->at_ms = ms_since(w->start);
	w->cleaned_at_return = w->inner.cleaned;
	w->inner_result_at_return = co_task_done(&w->inner.task) ? w->inner.task.done.result : 1;
	CO_RETURN(t, 0);
	CO_END(t);
}

static void run_wait_for(long inner_ms, long timeout_ms, long cancel_ms)
{
	struct waiter w = { .inner_ms = inner_ms,
			    .timeout_ms = timeout_ms,
			    .cancel_ms = cancel_ms };
	int64_t start = clk_now_ns();
	int rc = co_run(&w.task, waiter_step);

	printf("run=%s result=%s at_ms=%.1f cleaned=%d inner=%s total_ms=%.1f\n", errname(rc),
	       errname(w.result), w.at_ms, w.cleaned_at_return, errname(w.inner_result_at_return),
	       ms_since(start));
}

static void case_wait_for_timeout(void)
{
	run_wait_for(LONG_MS, 100, 0);
}

static void case_wait_for_fast(void)
{
	run_wait_for(20, 1000, 0);
}

static void case_wait_for_cancel(void)
{
	run_wait_for(LONG_MS, 5000, 50);
}

/* ---------------------------------------------------------------- timeout */

struct scoped {
	struct co_task task;
	struct co_timeout scope;
	int inside, left, after, other;
	double at_ms;
	int64_t start;
};

static int scoped_step(struct co_task *t)
{
	struct scoped *s = (struct scoped *)t;

	CO_BEGIN(t);
	s->start = clk_now_ns();
	if (co_timeout_enter(t, &s->scope, 100))
		CO_RETURN(t, -ENOMEM);
	CO_AWAIT(t, co_sleep(t, 500), &s->inside);
	s->left = co_timeout_exit(&s->scope, s->inside);
	s->at_ms = ms_since(s->start);
	CO_AWAIT(t, co_sleep(t, 10), &s->after); /* no cancel leaks out */
	/* A scope left in time: its timer must not keep the loop alive. */
	if (co_timeout_enter(t, &s->scope, 2000))
		CO_RETURN(t, -ENOMEM);
	CO_AWAIT(t, co_sleep(t, 10), &s->other);
	s->other = co_timeout_exit(&s->scope, s->other);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_timeout(void)
{
	struct scoped s = { 0 };
	int64_t start = clk_now_ns();
	int rc = co_run(&s.task, scoped_step);

	printf("run=%s inside=%s left=%s at_ms=%.1f after=%s other=%s total_ms=%.1f\n", errname(rc),
	       errname(s.inside), errname(s.left), s.at_ms, errname(s.after), errname(s.other),
	       ms_since(start));
}

/* ---------------------------------------------------------------- Event */

struct ev_waiter {
	struct co_task task;
	struct co_event *ev;
	int seen;
	double at_ms;
	int64_t start;
};

static int ev_waiter_step(struct co_task *t)
{
	struct ev_waiter *w = (struct ev_waiter *)t;

	CO_BEGIN(t);
	CO_AWAIT(t, co_event_wait(t, w->ev), &w->seen);
	w->at_ms = ms_since(w->start);
	CO_RETURN(t, w->seen);
	CO_END(t);
}

struct ev_scene {
	struct co_task task;
	struct co_event ev;
	struct ev_waiter w[4];
	size_t i;
	int again;
	int64_t start;
};

static int ev_step(struct co_task *t)
{
	struct ev_scene *s = (struct ev_scene *)t;
	int err;

	CO_BEGIN(t);
	s->start = clk_now_ns();
	co_event_init(&s->ev);
	for (s->i = 0; s->i < 4; s->i++) {
		s->w[s->i].ev = &s->ev;
		s->w[s->i].start = s->start;
		co_task_start(co_loop(t), &s->w[s->i].task, ev_waiter_step, "waiter");
	}
	CO_AWAIT(t, co_sleep(t, 10), &err);
	co_task_cancel(&s->w[3].task);
	CO_AWAIT(t, co_sleep(t, 20), &err);
	co_event_set(&s->ev);
	CO_AWAIT(t, co_event_wait(t, &s->ev), &s->again);
	for (s->i = 0; s->i < 4; s->i++)
		CO_AWAIT(t, co_await(t, &s->w[s->i].task.done), &err);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_event(void)
{
	struct ev_scene s = { 0 };
	int rc = co_run(&s.task, ev_step);

	printf("run=%s seen=%s,%s,%s,%s at_ms=%.1f,%.1f,%.1f,%.1f again=%s\n", errname(rc),
	       errname(s.w[0].seen), errname(s.w[1].seen), errname(s.w[2].seen),
	       errname(s.w[3].seen), s.w[0].at_ms, s.w[1].at_ms, s.w[2].at_ms, s.w[3].at_ms,
	       errname(s.again));
}

/* ---------------------------------------------------------------- Queue */

struct q_scene {
	struct co_task task;
	struct co_queue q;
	void *slots[2];
	struct {
		struct co_task task;
		long i;
		int err;
		size_t maxlen;
	} producer;
	struct trace tr;
	void *item;
	long i;
	int err;
};

static int producer_step(struct co_task *t)
{
	struct q_scene *s = (struct q_scene *)((char *)t - offsetof(struct q_scene, producer));

	CO_BEGIN(t);
	for (s->producer.i = 1; s->producer.i <= 6; s->producer.i++) {
		CO_AWAIT(t, co_queue_put(t, &s->q, (void *)s->producer.i), &s->producer.err);
		if (s->producer.err)
			CO_RETURN(t, s->producer.err);
		if (s->q.len > s->producer.maxlen)
			s->producer.maxlen = s->q.len;
	}
	CO_RETURN(t, 0);
	CO_END(t);
}

static int q_step(struct co_task *t)
{
	struct q_scene *s = (struct q_scene *)t;

	CO_BEGIN(t);
	if (co_queue_init(&s->q, s->slots, 2))
		CO_RETURN(t, -EINVAL);
	co_task_start(co_loop(t), &s->producer.task, producer_step, "producer");
	for (s->i = 0; s->i < 6; s->i++) {
		CO_AWAIT(t, co_sleep(t, 10), &s->err); /* a slow consumer */
		if (s->q.len > s->producer.maxlen)
			s->producer.maxlen = s->q.len;
		CO_AWAIT(t, co_queue_get(t, &s->q, &s->item), &s->err);
		if (s->err)
			CO_RETURN(t, s->err);
		trace_add(&s->tr, (int)(long)s->item);
	}
	CO_AWAIT(t, co_await(t, &s->producer.task.done), &s->err);
	CO_RETURN(t, s->err);
	CO_END(t);
}

static void case_queue(void)
{
	struct q_scene s = { 0 };
	char buf[128];
	int rc = co_run(&s.task, q_step);

	printf("run=%s order=%s maxlen=%zu left=%zu\n", errname(rc),
	       trace_str(&s.tr, buf, sizeof buf), s.producer.maxlen, s.q.len);
}

/* queue-cancel: tasks that each do one get or one put; the scene cancels
 * some of them while they wait and checks that no item was lost. */
struct q_user {
	struct co_task task;
	struct co_queue *q;
	bool put;
	void *item;
	int result;
};

static int q_user_step(struct co_task *t)
{
	struct q_user *u = (struct q_user *)t;

	CO_BEGIN(t);
	if (u->put)
		CO_AWAIT(t, co_queue_put(t, u->q, u->item), &u->result);
	else
		CO_AWAIT(t, co_queue_get(t, u->q, &u->item), &u->result);
	CO_RETURN(t, u->result);
	CO_END(t);
}

struct qc_scene {
	struct co_task task;
	struct co_queue q;
	void *slots[1];
	struct q_user g1, g2, g3, p1, p2;
	void *got[2];
	int err;
};

static void q_user_start(struct qc_scene *s, struct q_user *u, bool put, long item)
{
	u->q = &s->q;
	u->put = put;
	u->item = (void *)item;
	co_task_start(co_loop(&s->task), &u->task, q_user_step, put ? "putter" : "getter");
}

static int qc_step(struct co_task *t)
{
	struct qc_scene *s = (struct qc_scene *)t;

	CO_BEGIN(t);
	if (co_queue_init(&s->q, s->slots, 1))
		CO_RETURN(t, -EINVAL);
	/* Getters: g1 and g2 wait on the empty queue; g1 is cancelled; the
	 * item put next must reach g2. */
	q_user_start(s, &s->g1, false, 0);
	q_user_start(s, &s->g2, false, 0);
	CO_AWAIT(t, co_sleep(t, 10), &s->err);
	co_task_cancel(&s->g1.task);
	CO_AWAIT(t, co_queue_put(t, &s->q, (void *)7L), &s->err);
	CO_AWAIT(t, co_await(t, &s->g2.task.done), &s->err);
	CO_AWAIT(t, co_await(t, &s->g1.task.done), &s->err);
	/* A getter handed an item and cancelled before it runs keeps it. */
	q_user_start(s, &s->g3, false, 0);
	CO_AWAIT(t, co_sleep(t, 10), &s->err);
	CO_AWAIT(t, co_queue_put(t, &s->q, (void *)9L), &s->err);
	co_task_cancel(&s->g3.task);
	CO_AWAIT(t, co_await(t, &s->g3.task.done), &s->err);
	/* Putters: the queue holds 1; p1 (item 1) and p2 (item 2) wait; p1 is
	 * cancelled: its item must not enter, p2's must. */
	CO_AWAIT(t, co_queue_put(t, &s->q, (void *)5L), &s->err);
	q_user_start(s, &s->p1, true, 1);
	q_user_start(s, &s->p2, true, 2);
	CO_AWAIT(t, co_sleep(t, 10), &s->err);
	co_task_cancel(&s->p1.task);
	CO_AWAIT(t, co_queue_get(t, &s->q, &s->got[0]), &s->err);
	CO_AWAIT(t, co_queue_get(t, &s->q, &s->got[1]), &s->err);
	CO_AWAIT(t, co_await(t, &s->p1.task.done), &s->err);
	CO_AWAIT(t, co_await(t, &s->p2.task.done), &s->err);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_queue_cancel(void)
{
	struct qc_scene s = { 0 };
	int rc = co_run(&s.task, qc_step);

	printf("run=%s g1=%s g2=%s g2_item=%ld g3=%s g3_item=%ld p1=%s p2=%s got=%ld,%ld "
	       "left=%zu\n",
	       errname(rc), errname(s.g1.result), errname(s.g2.result), (long)s.g2.item,
	       errname(s.g3.result), (long)s.g3.item, errname(s.p1.result), errname(s.p2.result),
	       (long)s.got[0], (long)s.got[1], s.q.len);
}

/* ---------------------------------------------------------------- TaskGroup */

struct grouper {
	struct co_task task;
	struct co_group g;
	struct co_member members[3];
	struct job jobs[3];
	struct killer killer;
	const long *ms;
	const int *ret;
	long cancel_ms;
	size_t i;
	int result;
	double at_ms;
	int64_t start;
};

static int grouper_step(struct co_task *t)
{
	struct grouper *g = (struct grouper *)t;

	CO_BEGIN(t);
	g->start = clk_now_ns();
	co_group_init(&g->g, co_loop(t));
	for (g->i = 0; g->i < 3; g->i++) {
		struct job *j = &g->jobs[g->i];

		j->id = (int)g->i;
		j->ms = g->ms[g->i];
		j->ret = g->ret[g->i];
		j->cleanup_ms = 20;
		co_group_start(&g->g, &g->members[g->i], &j->task, job_step, "child");
	}
	if (g->cancel_ms > 0)
		kill_later(t, &g->killer, t, g->cancel_ms);
	CO_AWAIT(t, co_group_wait(t, &g->g), &g->result);
	g->at_ms = ms_since(g->start);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void run_group(const long *ms, const int *ret, long cancel_ms)
{
	struct grouper g = { .ms = ms, .ret = ret, .cancel_ms = cancel_ms };
	int rc = co_run(&g.task, grouper_step);

	printf("run=%s result=%s at_ms=%.1f results=%s,%s,%s cleaned=%d%d%d\n", errname(rc),
	       errname(g.result), g.at_ms, errname(g.jobs[0].task.done.result),
	       errname(g.jobs[1].task.done.result), errname(g.jobs[2].task.done.result),
	       g.jobs[0].cleaned, g.jobs[1].cleaned, g.jobs[2].cleaned);
}

static void case_group_fail(void)
{
	static const long ms[3] = { LONG_MS, 50, LONG_MS };
	static const int ret[3] = { 0, -EIO, 0 };

	run_group(ms, ret, 0);
}

static void case_group_ok(void)
{
	static const long ms[3] = { 10, 30, 20 };
	static const int ret[3] = { 0, 0, 0 };

	run_group(ms, ret, 0);
}

static void case_group_cancel(void)
{
	static const long ms[3] = { LONG_MS, LONG_MS, LONG_MS };
	static const int ret[3] = { 0, 0, 0 };

	run_group(ms, ret, 50);
}

/* ---------------------------------------------------------------- fds */

struct fd_scene {
	struct co_task task;
	struct {
		struct co_task task;
		int fd;
		int seen;
	} reader, stuck;
	int fds[2], other[2];
	int err;
};

static int fd_reader_step(struct co_task *t)
{
	struct fd_scene *s = (struct fd_scene *)((char *)t - offsetof(struct fd_scene, reader));

	CO_BEGIN(t);
	CO_AWAIT(t, co_wait_fd(t, s->reader.fd, LOOP_READ), &s->reader.seen);
	CO_RETURN(t, 0);
	CO_END(t);
}

static int fd_stuck_step(struct co_task *t)
{
	struct fd_scene *s = (struct fd_scene *)((char *)t - offsetof(struct fd_scene, stuck));

	CO_BEGIN(t);
	CO_AWAIT(t, co_wait_fd(t, s->stuck.fd, LOOP_READ), &s->stuck.seen);
	CO_RETURN(t, 0);
	CO_END(t);
}

static int fd_step(struct co_task *t)
{
	struct fd_scene *s = (struct fd_scene *)t;

	CO_BEGIN(t);
	s->reader.fd = s->fds[0];
	s->stuck.fd = s->other[0];
	co_task_start(co_loop(t), &s->reader.task, fd_reader_step, "reader");
	co_task_start(co_loop(t), &s->stuck.task, fd_stuck_step, "stuck");
	CO_AWAIT(t, co_sleep(t, 20), &s->err);
	if (write(s->fds[1], "x", 1) != 1)
		CO_RETURN(t, -EIO);
	co_task_cancel(&s->stuck.task);
	CO_AWAIT(t, co_await(t, &s->reader.task.done), &s->err);
	CO_AWAIT(t, co_await(t, &s->stuck.task.done), &s->err);
	CO_RETURN(t, 0);
	CO_END(t);
}

static void case_fd(void)
{
	struct fd_scene s = { 0 };
	int64_t start = clk_now_ns();
	int rc;

	if (pipe(s.fds) || pipe(s.other))
		die_errno(errno, "pipe");
	rc = co_run(&s.task, fd_step);
	printf("run=%s reader=%d stuck=%s total_ms=%.1f\n", errname(rc), s.reader.seen,
	       errname(s.stuck.seen), ms_since(start));
	close(s.fds[0]);
	close(s.fds[1]);
	close(s.other[0]);
	close(s.other[1]);
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"gather-sleep",
		"gather-order",
		"gather-fail",
		"gather-collect",
		"gather-cancel",
		"sem",
		"sem-barge",
		"sem-cancel",
		"wait-for-timeout",
		"wait-for-fast",
		"wait-for-cancel",
		"timeout",
		"event",
		"queue",
		"queue-cancel",
		"group-fail",
		"group-ok",
		"group-cancel",
		"fd",
		NULL,
	};
	static void (*const run[])(void) = {
		case_gather_sleep,
		case_gather_order,
		case_gather_fail,
		case_gather_collect,
		case_gather_cancel,
		case_sem,
		case_sem_barge,
		case_sem_cancel,
		case_wait_for_timeout,
		case_wait_for_fast,
		case_wait_for_cancel,
		case_timeout,
		case_event,
		case_queue,
		case_queue_cancel,
		case_group_fail,
		case_group_ok,
		case_group_cancel,
		case_fd,
	};

	return probe_main(argc, argv, cases, run);
}
