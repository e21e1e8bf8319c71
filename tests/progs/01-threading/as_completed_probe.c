/*
 * as_completed_probe.c - as_completed's promises, one scene per --case:
 *
 *   order           futures come out in the order they finish
 *   finished-first  futures finished beforehand come out at once, and
 *                   every future comes out exactly once
 *   timeout         the overall deadline, and what happens after it
 *   one-deadline    the deadline counts from as_completed_new(), not from
 *                   each call: a wait that follows a slow first future
 *                   gets only what is left
 *   cancelled       a cancelled future counts as finished
 *   consumers       two threads taking from one as_completed
 *   early-free      freeing it while futures are still running
 *
 * Finishing orders are forced with gates opened by done callbacks, so
 * they are the same in every interleaving.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "probe.h"

struct task {
	struct gate *wait_for; /* finish only once this opens, if set */
	atomic_int ran;
};

static int gated_task(void *arg, void **result, char *err, size_t errlen)
{
	struct task *t = arg;

	(void)err, (void)errlen;
	atomic_fetch_add(&t->ran, 1);
	if (t->wait_for && !gate_wait(t->wait_for))
		return -ETIMEDOUT;
	*result = t;
	return 0;
}

static void open_gate(struct future *f, void *data)
{
	(void)f;
	gate_open(data);
}

static int index_of(struct future *const fs[], int n, struct future *f)
{
	for (int i = 0; i < n; i++)
		if (fs[i] == f)
			return i;
	return -1;
}

static struct as_completed *watch(struct future *const fs[], int n, long timeout_ms)
{
	struct as_completed *ac;
	int rc = as_completed_new(&ac, fs, (size_t)n, timeout_ms);

	if (rc)
		die("as_completed_new: %s", executor_strerror(rc));
	return ac;
}

/* Print "order=2,0,3,1 end=0": what as_completed_next() handed out. */
static void drain(struct as_completed *ac, struct future *const fs[], int n)
{
	struct future *f;
	int rc, k = 0;

	printf("order=");
	while ((rc = as_completed_next(ac, &f)) > 0)
		printf("%s%d", k++ ? "," : "", index_of(fs, n, f));
	printf(" end=%s\n", errname(rc));
}

static void case_order(void)
{
	enum { N = 4 };
	static const int chain[N] = { 2, 0, 3, 1 }; /* finishing order */
	struct executor *ex = probe_executor(N, "worker");
	struct task tasks[N];
	struct gate gates[N];
	struct future *fs[N];
	struct as_completed *ac;

	for (int i = 0; i < N; i++) {
		gate_init(&gates[i]);
		tasks[i] = (struct task){ .wait_for = &gates[i] };
		fs[i] = probe_submit(ex, gated_task, &tasks[i]);
	}
	ac = watch(fs, N, -1);
	/*
	 * Added after as_completed's own callbacks, these run after them:
	 * the next task in the chain may finish only once this one has been
	 * queued for handing out.
	 */
	for (int k = 0; k + 1 < N; k++)
		if (future_add_done_callback(fs[chain[k]], open_gate, &gates[chain[k + 1]]))
			die("future_add_done_callback failed");
	gate_open(&gates[chain[0]]);
	drain(ac, fs, N);
	as_completed_free(ac);
	executor_free(ex);
	for (int i = 0; i < N; i++) {
		future_unref(fs[i]);
		gate_destroy(&gates[i]);
	}
}

static void case_finished_first(void)
{
	enum { N = 5 };
	struct executor *ex = probe_executor(N, "worker");
	struct task tasks[N];
	struct gate later;
	struct future *fs[N], *f;
	struct as_completed *ac;
	int seen[N] = { 0 }, delivered = 0, distinct = 0, quick_done = 0, rc;
	int64_t t0;
	double quick;

	gate_init(&later);
	/* 0, 2 and 4 finish before as_completed sees them; 1 and 3 later. */
	for (int i = 0; i < N; i++) {
		tasks[i] = (struct task){ .wait_for = i % 2 ? &later : NULL };
		fs[i] = probe_submit(ex, gated_task, &tasks[i]);
	}
	for (int i = 0; i < N; i += 2)
		if (future_result(fs[i], 5000, NULL) != 0)
			die("task %d did not finish", i);
	ac = watch(fs, N, 10000);

	t0 = clk_now_ns();
	for (int k = 0; k < 3; k++) {
		rc = as_completed_next(ac, &f);
		if (rc <= 0)
			break;
		quick_done += index_of(fs, N, f) % 2 == 0;
		seen[index_of(fs, N, f)]++;
		delivered++;
	}
	quick = clk_since(t0);
	gate_open(&later);
	while ((rc = as_completed_next(ac, &f)) > 0) {
		seen[index_of(fs, N, f)]++;
		delivered++;
	}
	for (int i = 0; i < N; i++)
		distinct += seen[i] == 1;
	printf("delivered=%d distinct=%d finished_first=%d first_three_elapsed=%.3f end=%s\n",
	       delivered, distinct, quick_done, quick, errname(rc));
	as_completed_free(ac);
	executor_free(ex);
	for (int i = 0; i < N; i++)
		future_unref(fs[i]);
	gate_destroy(&later);
}

static void case_timeout(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct gate gate, handed;
	struct task quick = { 0 }, slow = { .wait_for = &gate };
	struct future *fs[2], *f;
	struct as_completed *ac;
	int first, second, third, fourth;
	double second_elapsed;
	int64_t t0;

	gate_init(&gate);
	gate_init(&handed);
	fs[0] = probe_submit(ex, gated_task, &slow);
	fs[1] = probe_submit(ex, gated_task, &quick);
	if (future_result(fs[1], 5000, NULL) != 0)
		die("the quick task did not finish");

	t0 = clk_now_ns();
	ac = watch(fs, 2, 300);
	/* Runs after as_completed's own callback for the slow future. */
	if (future_add_done_callback(fs[0], open_gate, &handed))
		die("future_add_done_callback failed");
	first = as_completed_next(ac, &f);
	second = as_completed_next(ac, &f);
	second_elapsed = clk_since(t0);
	gate_open(&gate);
	if (!gate_wait(&handed))
		die("the slow task did not finish");
	third = as_completed_next(ac, &f);
	fourth = as_completed_next(ac, &f);
	/* 1: a future was handed out; 0: all were. */
	printf("first=%d second=%s second_elapsed=%.3f third=%d fourth=%d\n", first,
	       errname(second), second_elapsed, third, fourth);
	as_completed_free(ac);
	executor_free(ex);
	future_unref(fs[0]);
	future_unref(fs[1]);
	gate_destroy(&gate);
	gate_destroy(&handed);
}

struct slow_task {
	long ms; /* sleep this long, then succeed */
};

static int sleeping_task(void *arg, void **result, char *err, size_t errlen)
{
	struct slow_task *t = arg;

	(void)err, (void)errlen;
	clk_sleep_ms(t->ms);
	*result = t;
	return 0;
}

static void case_one_deadline(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct gate never;
	struct slow_task first_task = { .ms = 250 };
	struct task held = { .wait_for = &never };
	struct future *fs[2], *f;
	struct as_completed *ac;
	double first_at, second_at;
	int first, second;
	int64_t t0;

	gate_init(&never);
	t0 = clk_now_ns();
	fs[0] = probe_submit(ex, sleeping_task, &first_task);
	fs[1] = probe_submit(ex, gated_task, &held);
	ac = watch(fs, 2, 500);
	first = as_completed_next(ac, &f);
	first_at = clk_since(t0);
	second = as_completed_next(ac, &f);
	second_at = clk_since(t0);
	printf("first=%d first_at=%.3f second=%s second_at=%.3f\n", first, first_at,
	       errname(second), second_at);
	gate_open(&never);
	as_completed_free(ac);
	executor_free(ex);
	future_unref(fs[0]);
	future_unref(fs[1]);
	gate_destroy(&never);
}

static void case_cancelled(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate gate;
	struct task a = { .wait_for = &gate }, b = { 0 }, c = { 0 };
	struct future *fs[3], *f;
	struct as_completed *ac;
	int rc;

	gate_init(&gate);
	fs[0] = probe_submit(ex, gated_task, &a);
	fs[1] = probe_submit(ex, gated_task, &b);
	fs[2] = probe_submit(ex, gated_task, &c);
	ac = watch(fs, 3, 10000);
	rc = future_cancel(fs[2]);
	if (as_completed_next(ac, &f) > 0)
		printf("first=%d first_state=%s cancel=%s\n", index_of(fs, 3, f),
		       future_state_name(future_state(f)), errname(rc));
	else
		printf("first=none cancel=%s\n", errname(rc));
	gate_open(&gate);
	drain(ac, fs, 3);
	as_completed_free(ac);
	executor_free(ex);
	printf("c_ran=%d\n", atomic_load(&c.ran));
	for (int i = 0; i < 3; i++)
		future_unref(fs[i]);
	gate_destroy(&gate);
}

struct consumer {
	struct as_completed *ac;
	pthread_t thread;
	struct future **got;
	int n;
	int end;
};

static void *consumer_main(void *arg)
{
	struct consumer *c = arg;
	struct future *f;
	int rc;

	while ((rc = as_completed_next(c->ac, &f)) > 0)
		c->got[c->n++] = f;
	c->end = rc;
	return NULL;
}

static int cmp_ptr(const void *a, const void *b)
{
	const void *x = *(void *const *)a, *y = *(void *const *)b;

	return (x > y) - (x < y);
}

static void case_consumers(void)
{
	enum { N = 200 };
	struct executor *ex = probe_executor(2, "worker");
	struct task *tasks = xcalloc(N, sizeof(*tasks));
	struct future **fs = xcalloc(N, sizeof(*fs));
	struct future **all = xcalloc(2 * N, sizeof(*all));
	struct consumer cs[2];
	struct as_completed *ac;
	struct gate go;
	int delivered = 0, distinct = 0;

	/* Hold the tasks back until both consumers are taking. */
	gate_init(&go);
	for (int i = 0; i < N; i++) {
		tasks[i].wait_for = &go;
		fs[i] = probe_submit(ex, gated_task, &tasks[i]);
	}
	ac = watch(fs, N, 10000);
	for (int i = 0; i < 2; i++) {
		int rc;

		cs[i] = (struct consumer){ .ac = ac, .got = xcalloc(N, sizeof(*fs)) };
		rc = pthread_create(&cs[i].thread, NULL, consumer_main, &cs[i]);
		if (rc)
			die_errno(rc, "pthread_create");
	}
	gate_open(&go);
	for (int i = 0; i < 2; i++) {
		PT_CHECK(pthread_join(cs[i].thread, NULL));
		memcpy(all + delivered, cs[i].got, (size_t)cs[i].n * sizeof(*all));
		delivered += cs[i].n;
	}
	qsort(all, (size_t)delivered, sizeof(*all), cmp_ptr);
	for (int i = 0; i < delivered; i++)
		distinct += i == 0 || all[i] != all[i - 1];
	printf("futures=%d delivered=%d distinct=%d ends=%s,%s\n", N, delivered, distinct,
	       errname(cs[0].end), errname(cs[1].end));
	as_completed_free(ac);
	executor_free(ex);
	for (int i = 0; i < N; i++)
		future_unref(fs[i]);
	free(cs[0].got);
	free(cs[1].got);
	free(all);
	free(fs);
	free(tasks);
	gate_destroy(&go);
}

static void case_early_free(void)
{
	enum { N = 4 };
	struct executor *ex = probe_executor(N, "worker");
	struct gate gate;
	struct task tasks[N];
	struct future *fs[N], *f;
	struct as_completed *ac;
	int took, ok = 0;

	/* Task 0 finishes at once; 1..3 wait for the gate. */
	gate_init(&gate);
	for (int i = 0; i < N; i++) {
		tasks[i] = (struct task){ .wait_for = i ? &gate : NULL };
		fs[i] = probe_submit(ex, gated_task, &tasks[i]);
	}
	ac = watch(fs, N, 5000);
	took = as_completed_next(ac, &f);
	if (took > 0)
		took = index_of(fs, N, f);
	/* Enough: stop early, while the other callbacks have yet to fire. */
	as_completed_free(ac);
	gate_open(&gate);
	for (int i = 0; i < N; i++)
		ok += future_result(fs[i], 5000, NULL) == 0;
	executor_free(ex);
	for (int i = 0; i < N; i++)
		future_unref(fs[i]);
	if (took < 0)
		printf("took=%s", errname(took));
	else
		printf("took=%d", took);
	printf(" finished=%d\n", ok);
	gate_destroy(&gate);
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"order",     "finished-first", "timeout",    "one-deadline",
		"cancelled", "consumers",      "early-free", NULL,
	};
	static void (*const run[])(void) = {
		case_order,	case_finished_first, case_timeout,    case_one_deadline,
		case_cancelled, case_consumers,	     case_early_free,
	};

	return probe_main(argc, argv, cases, run);
}
