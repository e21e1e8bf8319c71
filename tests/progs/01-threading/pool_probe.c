/*
 * pool_probe.c - the worker pool's promises, one scene per --case:
 *
 *   in-flight        N sleeping tasks on W workers: how many ran at once
 *                    (--trace dumps the spans for the test to count)
 *   after-shutdown   submit and map once shut down
 *   shutdown-waits   shutdown(wait) returns after the queue has drained
 *   cancel-futures   shutdown(wait, cancel_futures) with queued tasks
 *   no-wait          shutdown without wait returns at once; tasks still run
 *   two-executors    shutting one down leaves the other working
 *   idle-free        idle workers wait for work; idle, they exit at once
 *   self-shutdown    a task asks its own executor to shut down and wait
 *   other-shutdown   a task asks another, already joined executor to do so
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "log.h"
#include "probe.h"
#include "timeline.h"

struct sleeper {
	long ms;
	int id;
	struct timeline *tl;
	atomic_int *in_flight, *max_in_flight;
	atomic_int ran;
	struct gate *started; /* opened when it starts, if set */
	struct gate *hold;    /* if set, waited for before sleeping */
	struct executor *ex;  /* for self-shutdown */
	int shutdown_rc;
	char worker[32];
};

static int sleeper_task(void *arg, void **result, char *err, size_t errlen)
{
	struct sleeper *s = arg;
	int64_t start = clk_now_ns();

	(void)err, (void)errlen;
	atomic_fetch_add(&s->ran, 1);
	snprintf(s->worker, sizeof(s->worker), "%s", log_name());
	if (s->started)
		gate_open(s->started);
	if (s->hold && !gate_wait(s->hold))
		die("a held task was never released");
	if (s->in_flight) {
		int now = atomic_fetch_add(s->in_flight, 1) + 1;
		int seen = atomic_load(s->max_in_flight);

		while (now > seen && !atomic_compare_exchange_weak(s->max_in_flight, &seen, now))
			;
	}
	clk_sleep_ms(s->ms);
	if (s->ex)
		s->shutdown_rc = executor_shutdown(s->ex, true, false);
	if (s->in_flight)
		atomic_fetch_sub(s->in_flight, 1);
	if (s->tl) {
		char job[16];

		snprintf(job, sizeof(job), "%d", s->id);
		timeline_add(s->tl, log_name(), job, '=', start, clk_now_ns());
	}
	*result = s;
	return 0;
}

static struct sleeper *sleepers(int n, long ms)
{
	struct sleeper *s = xcalloc((size_t)n, sizeof(*s));

	for (int i = 0; i < n; i++) {
		s[i].id = i;
		s[i].ms = ms;
		atomic_init(&s[i].ran, 0);
	}
	return s;
}

static int total_ran(struct sleeper *s, int n)
{
	int ran = 0;

	for (int i = 0; i < n; i++)
		ran += atomic_load(&s[i].ran);
	return ran;
}

static void case_in_flight(int tasks, int workers, long ms, bool trace)
{
	struct sleeper *s = sleepers(tasks, ms);
	struct future **fs = xcalloc((size_t)tasks, sizeof(*fs));
	struct timeline *tl;
	atomic_int in_flight, max_in_flight;
	struct executor *ex = probe_executor(workers, "Thread");
	int rc = timeline_new(&tl, (size_t)tasks);

	if (rc)
		die_errno(-rc, "timeline_new");
	atomic_init(&in_flight, 0);
	atomic_init(&max_in_flight, 0);
	for (int i = 0; i < tasks; i++) {
		s[i].tl = tl;
		s[i].in_flight = &in_flight;
		s[i].max_in_flight = &max_in_flight;
		fs[i] = probe_submit(ex, sleeper_task, &s[i]);
	}
	for (int i = 0; i < tasks; i++) {
		rc = future_result(fs[i], 30000, NULL);
		if (rc)
			die("task %d: %s", i, executor_strerror(rc));
		future_unref(fs[i]);
	}
	executor_free(ex);
	printf("tasks=%d workers=%d ran=%d max_in_flight=%d\n", tasks, workers, total_ran(s, tasks),
	       atomic_load(&max_in_flight));
	if (trace)
		timeline_dump(tl, stdout);
	timeline_free(tl);
	free(fs);
	free(s);
}

static void case_after_shutdown(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct sleeper *s = sleepers(1, 0);
	void *args[1] = { s }, *results[1];
	struct future *f = NULL;
	int rc_submit, rc_map;

	executor_shutdown(ex, false, false);
	rc_submit = executor_submit(ex, sleeper_task, s, &f);
	rc_map = executor_map(ex, sleeper_task, args, 1, results, -1, NULL, 0);
	executor_free(ex);
	printf("submit=%s map=%s ran=%d\n", errname(rc_submit), errname(rc_map), total_ran(s, 1));
	if (rc_submit == 0)
		future_unref(f);
	free(s);
}

/* Queue @n sleepers on @ex; the first one opens @started if given. */
static struct future **queue_sleepers(struct executor *ex, struct sleeper *s, int n,
				      struct gate *started)
{
	struct future **fs = xcalloc((size_t)n, sizeof(*fs));

	s[0].started = started;
	for (int i = 0; i < n; i++)
		fs[i] = probe_submit(ex, sleeper_task, &s[i]);
	return fs;
}

/*
 * One worker runs task 1 while 19 tasks wait behind it, some perhaps in
 * the batch the worker took along with task 1 (the queue was long).  None
 * of the 19 has started, wherever it waits, so shutdown(cancel_futures)
 * must cancel every one of them, and none may run.
 */
static void case_cancel_batched(void)
{
	enum { N = 21 };
	struct executor *ex = probe_executor(1, "worker");
	struct sleeper *s = sleepers(N, 0);
	struct future *fs[N];
	struct gate first_started, first_release, second_started, second_release;
	int rc_cancel, cancelled = 0;

	gate_init(&first_started);
	gate_init(&first_release);
	gate_init(&second_started);
	gate_init(&second_release);
	s[0].started = &first_started;
	s[0].hold = &first_release;
	s[1].started = &second_started;
	s[1].hold = &second_release;
	fs[0] = probe_submit(ex, sleeper_task, &s[0]);
	if (!gate_wait(&first_started))
		die("the first task never started");
	for (int i = 1; i < N; i++)
		fs[i] = probe_submit(ex, sleeper_task, &s[i]);
	/* The worker comes back to a long queue, and may take a batch. */
	gate_open(&first_release);
	if (!gate_wait(&second_started))
		die("the second task never started");
	rc_cancel = executor_shutdown(ex, false, true);
	gate_open(&second_release);
	executor_free(ex);
	for (int i = 0; i < N; i++) {
		cancelled += future_state(fs[i]) == FUTURE_CANCELLED;
		future_unref(fs[i]);
	}
	printf("cancel=%s ran=%d cancelled=%d\n", errname(rc_cancel), total_ran(s, N), cancelled);
	gate_destroy(&first_started);
	gate_destroy(&first_release);
	gate_destroy(&second_started);
	gate_destroy(&second_release);
	free(s);
}

static void case_shutdown_waits(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct sleeper *s = sleepers(4, 200);
	int64_t t0 = clk_now_ns();
	struct future **fs = queue_sleepers(ex, s, 4, NULL);
	int rc = executor_shutdown(ex, true, false);
	double elapsed = clk_since(t0);
	int ran = total_ran(s, 4), done = 0;

	for (int i = 0; i < 4; i++) {
		done += future_state(fs[i]) == FUTURE_DONE;
		future_unref(fs[i]);
	}
	printf("shutdown=%s elapsed=%.3f ran=%d done=%d\n", errname(rc), elapsed, ran, done);
	executor_free(ex);
	free(fs);
	free(s);
}

static void count_callback(struct future *f, void *data)
{
	(void)f;
	atomic_fetch_add((atomic_int *)data, 1);
}

/*
 * One worker, five tasks: the first is running (held on a gate, so that no
 * scheduling delay can let the second start) when shutdown(cancel_futures)
 * comes; the four queued behind it must be cancelled.
 */
static void case_cancel_futures(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct sleeper *s = sleepers(5, 200);
	struct gate started, release;
	struct future **fs;
	atomic_int callbacks;
	int64_t t0;
	double elapsed;
	int rc, rc_cancel, done = 0, cancelled = 0, ecanceled = 0;

	gate_init(&started);
	gate_init(&release);
	atomic_init(&callbacks, 0);
	s[0].hold = &release;
	fs = queue_sleepers(ex, s, 5, &started);
	for (int i = 0; i < 5; i++)
		if (future_add_done_callback(fs[i], count_callback, &callbacks))
			die("future_add_done_callback failed");
	if (!gate_wait(&started))
		die("the first task never started");
	rc_cancel = executor_shutdown(ex, false, true);
	gate_open(&release);
	t0 = clk_now_ns();
	rc = executor_shutdown(ex, true, false);
	elapsed = clk_since(t0);
	for (int i = 0; i < 5; i++) {
		done += future_state(fs[i]) == FUTURE_DONE;
		cancelled += future_state(fs[i]) == FUTURE_CANCELLED;
		ecanceled += future_result(fs[i], 0, NULL) == -ECANCELED;
		future_unref(fs[i]);
	}
	printf("shutdown=%s cancel=%s elapsed=%.3f ran=%d done=%d cancelled=%d ecanceled=%d callbacks=%d\n",
	       errname(rc), errname(rc_cancel), elapsed, total_ran(s, 5), done, cancelled,
	       ecanceled, atomic_load(&callbacks));
	executor_free(ex);
	gate_destroy(&release);
	gate_destroy(&started);
	free(fs);
	free(s);
}

static void case_no_wait(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct sleeper *s = sleepers(3, 200);
	struct future **fs = queue_sleepers(ex, s, 3, NULL);
	int64_t t0 = clk_now_ns();
	int rc = executor_shutdown(ex, false, false);
	double elapsed = clk_since(t0);
	int last;

	last = future_result(fs[2], 10000, NULL);
	printf("shutdown=%s elapsed=%.3f last=%s total=%.3f ran=%d\n", errname(rc), elapsed,
	       errname(last), clk_since(t0), total_ran(s, 3));
	executor_free(ex);
	for (int i = 0; i < 3; i++)
		future_unref(fs[i]);
	free(fs);
	free(s);
}

static void case_two_executors(void)
{
	struct executor *a = probe_executor(1, "A");
	struct executor *b = probe_executor(1, "B");
	struct sleeper *sa = sleepers(3, 400), *sb = sleepers(1, 0);
	struct gate started;
	struct future **fa, *fb, *late = NULL;
	int64_t t0;
	int rc_b, rc_a;
	double b_elapsed;

	gate_init(&started);
	fa = queue_sleepers(a, sa, 3, &started);
	if (!gate_wait(&started))
		die("A's first task never started");
	/* A stops taking work and drops its queue; B must not notice. */
	executor_shutdown(a, false, true);
	rc_a = executor_submit(a, sleeper_task, &sa[2], &late);
	future_unref(late);
	t0 = clk_now_ns();
	fb = probe_submit(b, sleeper_task, sb);
	rc_b = future_result(fb, 10000, NULL);
	b_elapsed = clk_since(t0);
	printf("a_submit=%s b_result=%s b_elapsed=%.3f a_worker=%s b_worker=%s\n", errname(rc_a),
	       errname(rc_b), b_elapsed, sa[0].worker, sb[0].worker);
	executor_free(b);
	executor_free(a);
	printf("a_ran=%d b_ran=%d\n", total_ran(sa, 3), total_ran(sb, 1));
	for (int i = 0; i < 3; i++)
		future_unref(fa[i]);
	future_unref(fb);
	gate_destroy(&started);
	free(fa);
	free(sa);
	free(sb);
}

static void case_idle_free(void)
{
	struct executor *ex = probe_executor(8, "worker");
	struct sleeper *s = sleepers(1, 0);
	struct future *f = NULL;
	int64_t t0;
	int rc;

	/* Idle workers must wait for work, not give up on an empty queue. */
	clk_sleep_ms(100);
	rc = executor_submit(ex, sleeper_task, s, &f);
	if (rc == 0)
		rc = future_result(f, 2000, NULL);
	future_unref(f);
	/* Then, all idle again, they must notice the shutdown at once. */
	t0 = clk_now_ns();
	executor_free(ex);
	printf("late_task=%s elapsed=%.3f\n", errname(rc), clk_since(t0));
	free(s);
}

static void case_self_shutdown(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct sleeper *s = sleepers(1, 0);
	struct future *f;
	int rc;

	s->ex = ex;
	s->shutdown_rc = 1;
	f = probe_submit(ex, sleeper_task, s);
	rc = future_result(f, 10000, NULL);
	printf("result=%s self_shutdown=%s\n", errname(rc),
	       s->shutdown_rc == 1 ? "none" : errname(s->shutdown_rc));
	future_unref(f);
	executor_free(ex);
	free(s);
}

/*
 * A task of executor B waits for the shutdown of executor A, whose workers
 * were joined before B's were created - so the system may have given B's
 * worker the thread ID one of A's had.  That is no deadlock.
 */
static void case_other_shutdown(void)
{
	struct executor *a = probe_executor(1, "old");
	struct executor *b;
	struct sleeper *s = sleepers(1, 0);
	struct future *f;
	int rc;

	executor_shutdown(a, true, false);
	b = probe_executor(1, "new");
	s->ex = a;
	s->shutdown_rc = 1;
	f = probe_submit(b, sleeper_task, s);
	rc = future_result(f, 10000, NULL);
	printf("result=%s other_shutdown=%s\n", errname(rc),
	       s->shutdown_rc == 1 ? "none" : errname(s->shutdown_rc));
	future_unref(f);
	executor_free(b);
	executor_free(a);
	free(s);
}

int main(int argc, char **argv)
{
	enum { OPT_CASE = 1, OPT_TASKS, OPT_WORKERS, OPT_DELAY, OPT_TRACE, OPT_HELP };
	static const struct option opts[] = {
		{ "case", required_argument, NULL, OPT_CASE },
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const cases[] = {
		"in-flight",
		"after-shutdown",
		"shutdown-waits",
		"cancel-futures",
		"no-wait",
		"two-executors",
		"idle-free",
		"self-shutdown",
		"other-shutdown",
		"cancel-batched",
		NULL,
	};
	long tasks = 12, workers = 3, ms = 100;
	bool trace = false;
	int which = -1, c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_CASE:
			which = arg_choice("--case", optarg, cases);
			break;
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, 100000);
			break;
		case OPT_WORKERS:
			workers = arg_long("--workers", optarg, 1, 256);
			break;
		case OPT_DELAY:
			ms = arg_long("--delay-ms", optarg, 0, 10000);
			break;
		case OPT_TRACE:
			trace = true;
			break;
		case OPT_HELP:
			printf("usage: %s --case NAME [--tasks N] [--workers N] [--delay-ms MS] [--trace]\n",
			       wb_progname());
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (which < 0)
		usage_error("--case is required");

	switch (which) {
	case 0:
		case_in_flight((int)tasks, (int)workers, ms, trace);
		break;
	case 1:
		case_after_shutdown();
		break;
	case 2:
		case_shutdown_waits();
		break;
	case 3:
		case_cancel_futures();
		break;
	case 4:
		case_no_wait();
		break;
	case 5:
		case_two_executors();
		break;
	case 6:
		case_idle_free();
		break;
	case 7:
		case_self_shutdown();
		break;
	case 8:
		case_other_shutdown();
		break;
	case 9:
		case_cancel_batched();
		break;
	}
	return 0;
}
