/*
 * map_probe.c - executor_map()'s promises, one scene per --case:
 *
 *   order      tasks finish last-to-first; results still come in input order
 *   deadline   one deadline for the whole call, not one per task
 *   error      the first failure in input order wins, message included
 *   fail-cancels  after a failure, the tasks not yet started never run
 *   timeout-queued  on a timeout, the very task map was waiting for is
 *                 cancelled too when it has not started
 *   empty      no tasks: returns at once
 *   many       100000 tiny tasks, every result in its place
 *
 * In "order" the finishing order is forced, not hoped for: task i may
 * finish only after task i+1 has (a chain of gates), so in every
 * interleaving they finish last-to-first.
 *
 * Every results array starts out filled with SENTINEL, so that a slot map
 * forgot to set shows up as "?" instead of as a stray pointer.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "probe.h"

struct item {
	int id;
	long ms;
	struct gate *wait_for; /* finish only once this opens, if set */
	struct gate *opens;    /* open this when finishing, if set */
	int fail;
	const char *msg;
	atomic_int ran;
	atomic_int *finished; /* finishing order, if set */
	int finish_rank;
	char out[16];
};

static int item_task(void *arg, void **result, char *err, size_t errlen)
{
	struct item *it = arg;

	atomic_fetch_add(&it->ran, 1);
	clk_sleep_ms(it->ms);
	if (it->wait_for && !gate_wait(it->wait_for))
		return -ETIMEDOUT;
	if (it->finished)
		it->finish_rank = atomic_fetch_add(it->finished, 1);
	if (it->opens)
		gate_open(it->opens);
	if (it->fail) {
		if (it->msg)
			snprintf(err, errlen, "%s", it->msg);
		return it->fail;
	}
	snprintf(it->out, sizeof(it->out), "r%d", it->id);
	*result = it->out;
	return 0;
}

static struct item *items(int n, long ms)
{
	struct item *it = xcalloc((size_t)n, sizeof(*it));

	for (int i = 0; i < n; i++) {
		it[i].id = i;
		it[i].ms = ms;
		atomic_init(&it[i].ran, 0);
	}
	return it;
}

/* A value no task ever stores: a slot still holding it was never set. */
static char sentinel_byte;
#define SENTINEL ((void *)&sentinel_byte)

static void fill_sentinel(void **results, int n)
{
	for (int i = 0; i < n; i++)
		results[i] = SENTINEL;
}

/* "r0,r1,-,-": the results as the caller got them ("?": never set). */
static void print_results(void **results, int n)
{
	printf("results=");
	for (int i = 0; i < n; i++)
		printf("%s%s", i ? "," : "",
		       results[i] == SENTINEL ? "?"
		       : results[i]	      ? (char *)results[i]
					      : "-");
	printf("\n");
}

static int total_ran(struct item *it, int n)
{
	int ran = 0;

	for (int i = 0; i < n; i++)
		ran += atomic_load(&it[i].ran);
	return ran;
}

static void case_order(void)
{
	enum { N = 6 };
	struct executor *ex = probe_executor(N, "worker");
	struct item *it = items(N, 0);
	struct gate gates[N];
	void *args[N], *results[N];
	atomic_int finished;
	char err[EXECUTOR_ERRMAX];
	int rc;

	/* Task i waits for gate i, which task i+1 opens as it finishes. */
	atomic_init(&finished, 0);
	for (int i = 0; i < N; i++) {
		gate_init(&gates[i]);
		it[i].finished = &finished;
		it[i].wait_for = i < N - 1 ? &gates[i] : NULL;
		it[i].opens = i > 0 ? &gates[i - 1] : NULL;
		args[i] = &it[i];
	}
	fill_sentinel(results, N);
	rc = executor_map(ex, item_task, args, N, results, 10000, err, sizeof(err));
	executor_free(ex);
	printf("rc=%s\n", errname(rc));
	print_results(results, N);
	printf("finish_order=");
	for (int rank = 0; rank < N; rank++)
		for (int i = 0; i < N; i++)
			if (it[i].finish_rank == rank && atomic_load(&it[i].ran))
				printf("%s%d", rank ? "," : "", i);
	printf("\n");
	for (int i = 0; i < N; i++)
		gate_destroy(&gates[i]);
	free(it);
}

static void case_deadline(void)
{
	enum { N = 5 };
	struct executor *ex = probe_executor(1, "worker");
	struct item *it = items(N, 300);
	void *args[N], *results[N];
	char err[EXECUTOR_ERRMAX];
	int64_t t0;
	double elapsed;
	int rc, ran_at_return, set = 0;

	for (int i = 0; i < N; i++)
		args[i] = &it[i];
	/* Each task is quicker than the timeout; all five together are not. */
	fill_sentinel(results, N);
	t0 = clk_now_ns();
	rc = executor_map(ex, item_task, args, N, results, 750, err, sizeof(err));
	elapsed = clk_since(t0);
	ran_at_return = total_ran(it, N);
	executor_free(ex);
	for (int i = 0; i < N; i++)
		set += results[i] != NULL && results[i] != SENTINEL;
	printf("rc=%s elapsed=%.3f started_by_return=%d ran_in_the_end=%d results_set=%d\n",
	       errname(rc), elapsed, ran_at_return, total_ran(it, N), set);
	print_results(results, N);
	free(it);
}

static void case_error(void)
{
	enum { N = 5 };
	struct executor *ex = probe_executor(N, "worker");
	struct item *it = items(N, 0);
	void *args[N], *results[N];
	char err[EXECUTOR_ERRMAX];
	int rc;

	/* Task 3 fails at once, task 1 only later: 1 is first in input order. */
	it[1].ms = 300;
	it[1].fail = -EIO;
	it[1].msg = "bad input in task one";
	it[3].fail = -EPERM;
	it[3].msg = "bad input in task three";
	for (int i = 0; i < N; i++)
		args[i] = &it[i];
	fill_sentinel(results, N);
	rc = executor_map(ex, item_task, args, N, results, 10000, err, sizeof(err));
	executor_free(ex);
	printf("rc=%s\n", errname(rc));
	printf("err=[%s]\n", err);
	print_results(results, N);
	free(it);
}

/*
 * One worker.  Task 0 fails at once; every later task waits for a gate that
 * opens only after map has returned.  So while map reacts to the failure the
 * worker can have taken at most task 1, and tasks 2.. are still queued in
 * every interleaving: map must cancel them, and they must never run, even
 * once the gate opens and the worker is free again.
 */
static void case_fail_cancels(void)
{
	enum { N = 10 };
	struct executor *ex = probe_executor(1, "worker");
	struct item *it = items(N, 0);
	void *args[N], *results[N];
	char err[EXECUTOR_ERRMAX];
	struct gate hold;
	int rc, later = 0;

	gate_init(&hold);
	it[0].fail = -EIO;
	for (int i = 0; i < N; i++) {
		it[i].wait_for = i ? &hold : NULL;
		args[i] = &it[i];
	}
	fill_sentinel(results, N);
	rc = executor_map(ex, item_task, args, N, results, 10000, err, sizeof(err));
	gate_open(&hold);
	executor_free(ex);
	for (int i = 2; i < N; i++)
		later += atomic_load(&it[i].ran);
	printf("rc=%s first_ran=%d later_ran=%d\n", errname(rc), atomic_load(&it[0].ran), later);
	print_results(results, N);
	gate_destroy(&hold);
	free(it);
}

/*
 * The one worker is held by a task submitted before map, until map has
 * returned; so every task of the map is still queued when its 0.2 s run
 * out, task 0 (the one map was waiting for) included.  None may ever run.
 */
static void case_timeout_queued(void)
{
	enum { N = 3 };
	struct executor *ex = probe_executor(1, "worker");
	struct item *it = items(N, 0), blocker = { .id = -1 };
	void *args[N], *results[N];
	char err[EXECUTOR_ERRMAX];
	struct gate hold;
	struct future *held;
	int rc;

	gate_init(&hold);
	blocker.wait_for = &hold;
	held = probe_submit(ex, item_task, &blocker);
	for (int i = 0; i < N; i++)
		args[i] = &it[i];
	fill_sentinel(results, N);
	rc = executor_map(ex, item_task, args, N, results, 200, err, sizeof(err));
	gate_open(&hold);
	executor_free(ex);
	printf("rc=%s ran_in_the_end=%d\n", errname(rc), total_ran(it, N));
	print_results(results, N);
	future_unref(held);
	gate_destroy(&hold);
	free(it);
}

static void case_empty(void)
{
	struct executor *ex = probe_executor(2, "worker");
	char err[EXECUTOR_ERRMAX] = "stale";
	int64_t t0 = clk_now_ns();
	int rc = executor_map(ex, item_task, NULL, 0, NULL, 1000, err, sizeof(err));

	printf("rc=%s elapsed=%.3f\nerr=[%s]\n", errname(rc), clk_since(t0), err);
	executor_free(ex);
}

static int echo_task(void *arg, void **result, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	*result = arg;
	return 0;
}

static void case_many(void)
{
	size_t n = 100000, wrong = 0;
	struct executor *ex = probe_executor(4, "worker");
	void **args = xcalloc(n, sizeof(*args));
	void **results = xcalloc(n, sizeof(*results));
	char err[EXECUTOR_ERRMAX];
	int rc;

	for (size_t i = 0; i < n; i++) {
		args[i] = (void *)(uintptr_t)(i + 1);
		results[i] = SENTINEL;
	}
	rc = executor_map(ex, echo_task, args, n, results, 60000, err, sizeof(err));
	for (size_t i = 0; i < n; i++)
		wrong += results[i] != args[i];
	printf("rc=%s tasks=%zu wrong=%zu\n", errname(rc), n, wrong);
	executor_free(ex);
	free(results);
	free(args);
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"order",	  "deadline", "error", "fail-cancels",
		"timeout-queued", "empty",    "many",  NULL,
	};
	static void (*const run[])(void) = {
		case_order,	     case_deadline, case_error, case_fail_cancels,
		case_timeout_queued, case_empty,    case_many,
	};

	return probe_main(argc, argv, cases, run);
}
