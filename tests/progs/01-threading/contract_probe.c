/*
 * contract_probe.c - the promises of executor.h that the other drivers do
 * not reach, read clause by clause.  One scene per --case:
 *
 *   new-args         the worker counts and prefixes executor_new() takes,
 *                    and exactly that many threads, all gone after
 *                    shutdown(wait)
 *   names            workers call themselves "PREFIX-N", N from 1, and
 *                    "worker-N" when the prefix is NULL
 *   fifo             one worker takes the queued tasks oldest first
 *   busy-submit      submit returns while every worker is busy
 *   after-shutdown   a refused submit leaves *out NULL; a refused map
 *                    leaves every result NULL
 *   shutdown-again   a second shutdown is harmless, and a later one with
 *                    wait still waits
 *   cancel-later     shutdown(cancel_futures) after a plain shutdown still
 *                    cancels the queue, callbacks in the calling thread
 *   reentrant        tasks and done callbacks call into their own executor
 *   edge-args        -EINVAL for missing arguments; NULL ignored where the
 *                    header says so
 *   nomem            -ENOMEM from every allocation that can fail
 *   no-threads       -EAGAIN when the system has no thread to give
 *   task-contract    what a task finds on entry; the longest message; a
 *                    task that itself returns -ETIMEDOUT or -ECANCELED
 *   states           pending, running, done, read without blocking, and no
 *                    message before the end
 *   pending-timeout  result() with a timeout on a task still queued
 *   finished-final   a finished future never changes again
 *   cancel-wakes     threads blocked on a queued future wake when it is
 *                    cancelled
 *   strerror         executor_strerror()'s sentences and its fallback
 *   map-err          map's @err: "" on success, NULL allowed; no timeout
 *   map-running      after a failure or a timeout, map leaves the tasks
 *                    already running to finish on their own
 *   ac-empty         as_completed of no futures, and calls after the end
 *   ac-refs          handed-out futures stay valid after the caller has
 *                    dropped its own references
 *
 * Only the public API is used.  Orders are forced with gates.  Where a
 * scene must show that a call does not return early, what the call waits
 * for is held back until the call has returned, so a call that returns too
 * soon finds it unfinished; only where nothing but time tells that a thread
 * is blocked (shutdown-again, cancel-wakes) is the hold bounded by a few
 * hundred milliseconds.  Every wait has a limit, so a broken exercise makes
 * a scene report wrong facts, never hang.  nomem and no-threads need the
 * plain build; under the sanitizers they print "skipped=sanitizer".
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "args.h"
#include "log.h"
#include "probe.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#ifndef SANITIZED
/*
 * Allocation failures on demand.  glibc lets a program replace malloc()
 * and its kin; these hand every call on to glibc's own allocator, except
 * that a thread may ask for its allocations to fail once it has made a
 * given number more.  Only the thread that asked is affected, so workers
 * and the C library's other threads allocate as usual.  The sanitizers
 * bring their own malloc(), so their builds go without these scenes.
 */
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t count, size_t size);
void *__libc_realloc(void *ptr, size_t size);
void __libc_free(void *ptr);

static _Thread_local long alloc_budget = -1; /* -1: no limit */

static bool may_allocate(void)
{
	if (alloc_budget < 0)
		return true;
	if (alloc_budget == 0) {
		errno = ENOMEM;
		return false;
	}
	alloc_budget--;
	return true;
}

void *malloc(size_t size)
{
	return may_allocate() ? __libc_malloc(size) : NULL;
}

void *calloc(size_t count, size_t size)
{
	return may_allocate() ? __libc_calloc(count, size) : NULL;
}

void *realloc(void *ptr, size_t size)
{
	return may_allocate() ? __libc_realloc(ptr, size) : NULL;
}

void free(void *ptr)
{
	__libc_free(ptr);
}

/* Let the calling thread make @n more allocations, then fail the rest. */
static void fail_allocations_after(long n)
{
	alloc_budget = n;
}

static void allocate_freely(void)
{
	alloc_budget = -1;
}
#endif

/* A value no call stores: a slot still holding it was never written. */
static char sentinel_byte;
#define SENTINEL ((void *)&sentinel_byte)

/* probe.h's errname(), plus the one code only executor_new() returns. */
static const char *code(int rc)
{
	return rc == -EAGAIN ? "-EAGAIN" : errname(rc);
}

/* What a pointer a call may write came back as: NULL, untouched, set. */
static const char *pointer(const void *p)
{
	return !p ? "NULL" : p == SENTINEL ? "untouched" : "set";
}

/* ---------------------------------------------------------------- tasks */

struct job {
	int id;
	struct gate *started; /* opened as the task starts, if set */
	struct gate *release; /* then waited for, if set */
	long ms;	      /* then slept, as the task's work */
	int fail;	      /* returned, if non-zero */
	const char *msg;      /* left in @err, if set */
	atomic_int ran;
	bool released; /* @release opened within its time limit */
	bool finished; /* the task reached its end */
	int *order;    /* if set, order[(*next)++] = id as it starts */
	atomic_int *next;
};

static int job_task(void *arg, void **result, char *err, size_t errlen)
{
	struct job *j = arg;

	atomic_fetch_add(&j->ran, 1);
	if (j->order)
		j->order[atomic_fetch_add(j->next, 1)] = j->id;
	if (j->started)
		gate_open(j->started);
	if (j->release)
		j->released = gate_wait(j->release);
	if (j->ms)
		clk_sleep_ms(j->ms);
	if (j->msg)
		snprintf(err, errlen, "%s", j->msg);
	j->finished = true;
	if (j->fail)
		return j->fail;
	*result = j;
	return 0;
}

/* A task many futures share: it only counts its runs. */
static int count_task(void *arg, void **result, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	atomic_fetch_add((atomic_int *)arg, 1);
	*result = arg;
	return 0;
}

/* How often a done callback ran, and in which thread it ran last. */
struct seen {
	atomic_int calls;
	char thread[32];
};

static void seen_callback(struct future *f, void *data)
{
	struct seen *s = data;

	(void)f;
	snprintf(s->thread, sizeof(s->thread), "%s", log_name());
	atomic_fetch_add(&s->calls, 1);
}

static void open_gate(struct future *f, void *data)
{
	(void)f;
	gate_open(data);
}

/*
 * A meeting point for @want threads: each waits (at most GATE_LIMIT_MS)
 * until all have arrived, so no thread can leave to take other work first.
 */
struct meet {
	atomic_int arrived;
	int want;
	struct gate all_in;
};

static bool meet_all(struct meet *m)
{
	if (atomic_fetch_add(&m->arrived, 1) + 1 == m->want)
		gate_open(&m->all_in);
	return gate_wait(&m->all_in);
}

/* A thread that opens @opens once @wait_for opens or @ms have passed. */
struct releaser {
	pthread_t thread;
	struct gate *wait_for, *opens;
	long ms;
};

static void *releaser_main(void *arg)
{
	struct releaser *r = arg;

	gate_wait_ms(r->wait_for, r->ms);
	gate_open(r->opens);
	return NULL;
}

static void releaser_start(struct releaser *r)
{
	int rc = pthread_create(&r->thread, NULL, releaser_main, r);

	if (rc)
		die_errno(rc, "pthread_create");
}

/* --------------------------------------------------------------- threads */

/* How many threads this process has, as the kernel counts them. */
static int thread_count(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;

	if (!fp)
		die_errno(errno, "/proc/self/status");
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(fp);
	if (n < 0)
		die("/proc/self/status has no Threads line");
	return n;
}

/*
 * pthread_join() returns once the kernel has cleared the thread's ID, a
 * moment before the kernel stops counting the thread.  So wait, a little
 * at a time and at most 2 s, for the count to come down to @want.
 */
static int threads_settle(int want)
{
	int64_t deadline = clk_deadline_ms(2000);
	int n;

	while ((n = thread_count()) > want && !clk_passed(deadline))
		clk_sleep_ms(1);
	return n;
}

static void *noop_main(void *arg)
{
	return arg;
}

/*
 * Start and join one thread, so that a runtime which starts a helper
 * thread with the first one (ThreadSanitizer does) has done so before the
 * threads are counted.
 */
static void settle_runtime(void)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, noop_main, NULL);

	if (rc)
		die_errno(rc, "pthread_create");
	PT_CHECK(pthread_join(t, NULL));
}

/* What executor_new() answers; an executor it does start is freed. */
static int try_new(int workers, const char *prefix)
{
	struct executor *ex;
	int rc = executor_new(&ex, workers, prefix);

	if (rc == 0)
		executor_free(ex);
	return rc;
}

/* ------------------------------------------------------------- executor */

static void case_new_args(void)
{
	struct executor *ex;
	int base, rc_one, one = 0, rc_max, max = 0, left = 0, rc_down = 1;

	settle_runtime();
	base = thread_count();
	printf("zero=%s negative=%s above_max=%s int_min=%s\n", code(try_new(0, "w")),
	       code(try_new(-1, "w")), code(try_new(EXECUTOR_MAX_WORKERS + 1, "w")),
	       code(try_new(INT_MIN, "w")));
	printf("prefix_15=%s prefix_16=%s prefix_null=%s\n", code(try_new(1, "abcdefghijklmno")),
	       code(try_new(1, "abcdefghijklmnop")), code(try_new(1, NULL)));

	threads_settle(base);
	rc_one = executor_new(&ex, 1, "one");
	if (rc_one == 0) {
		one = thread_count() - base;
		executor_free(ex);
	}
	threads_settle(base);
	rc_max = executor_new(&ex, EXECUTOR_MAX_WORKERS, "max");
	if (rc_max == 0) {
		max = thread_count() - base;
		rc_down = executor_shutdown(ex, true, false);
		left = threads_settle(base) - base;
		executor_free(ex);
	}
	printf("one=%s one_threads=%d max_workers=%d max=%s max_threads=%d\n", code(rc_one), one,
	       EXECUTOR_MAX_WORKERS, code(rc_max), max);
	printf("shutdown=%s threads_left=%d\n", code(rc_down), left);
}

struct namer {
	struct meet *meet; /* if set, met before returning */
	char name[32];
};

static int name_task(void *arg, void **result, char *err, size_t errlen)
{
	struct namer *n = arg;

	(void)err, (void)errlen;
	snprintf(n->name, sizeof(n->name), "%s", log_name());
	log_msg("ran a task");
	*result = n;
	return n->meet && !meet_all(n->meet) ? -ETIMEDOUT : 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct namer *)a)->name, ((const struct namer *)b)->name);
}

static void case_names(void)
{
	enum { N = 3 };
	struct executor *ex = probe_executor(N, "abcdefghijklmno");
	struct executor *plain;
	struct meet meet = { .want = N };
	struct namer named[N], unnamed = { 0 };
	struct future *fs[N], *f;
	int rc, failed = 0;

	/* Each task waits for the other two: three tasks, three workers. */
	atomic_init(&meet.arrived, 0);
	gate_init(&meet.all_in);
	for (int i = 0; i < N; i++) {
		named[i] = (struct namer){ .meet = &meet };
		fs[i] = probe_submit(ex, name_task, &named[i]);
	}
	for (int i = 0; i < N; i++) {
		failed += future_result(fs[i], 10000, NULL) != 0;
		future_unref(fs[i]);
	}
	/* Numbering is per executor: this one starts at 1 again. */
	rc = executor_new(&plain, 1, NULL);
	if (rc)
		die("executor_new(NULL prefix): %s", executor_strerror(rc));
	f = probe_submit(plain, name_task, &unnamed);
	failed += future_result(f, 10000, NULL) != 0;
	future_unref(f);
	executor_free(plain);
	executor_free(ex);

	qsort(named, N, sizeof(named[0]), cmp_name);
	printf("failed=%d names=%s,%s,%s default=%s\n", failed, named[0].name, named[1].name,
	       named[2].name, unnamed.name);
	gate_destroy(&meet.all_in);
}

static void case_fifo(void)
{
	enum { N = 8 };
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release;
	struct job hold = { .started = &started, .release = &release };
	struct job jobs[N];
	struct future *fh, *fs[N];
	int order[N] = { 0 }, taken;
	atomic_int next;

	gate_init(&started);
	gate_init(&release);
	atomic_init(&next, 0);
	fh = probe_submit(ex, job_task, &hold);
	if (!gate_wait(&started))
		die("the first task never started");
	/* The one worker is busy: all eight wait in the queue together. */
	for (int i = 0; i < N; i++) {
		jobs[i] = (struct job){ .id = i + 1, .order = order, .next = &next };
		fs[i] = probe_submit(ex, job_task, &jobs[i]);
	}
	gate_open(&release);
	executor_free(ex);

	taken = atomic_load(&next);
	printf("held_released=%d started=%d order=", hold.released, taken);
	for (int i = 0; i < taken && i < N; i++)
		printf("%s%d", i ? "," : "", order[i]);
	printf("\n");
	future_unref(fh);
	for (int i = 0; i < N; i++)
		future_unref(fs[i]);
	gate_destroy(&started);
	gate_destroy(&release);
}

/*
 * Both workers are held until every submit has returned.  A submit that
 * waited for a free worker (or for a running task) would still be waiting
 * when the held tasks gave up on their gate, and they would say so.
 */
static void case_busy_submit(void)
{
	enum { WORKERS = 2, N = 1000 };
	struct executor *ex = probe_executor(WORKERS, "worker");
	struct gate started[WORKERS], release;
	struct job hold[WORKERS];
	struct future *fh[WORKERS];
	int failures = 0, released = 0;
	atomic_int quick;

	atomic_init(&quick, 0);
	gate_init(&release);
	for (int i = 0; i < WORKERS; i++) {
		gate_init(&started[i]);
		hold[i] = (struct job){ .started = &started[i], .release = &release };
		fh[i] = probe_submit(ex, job_task, &hold[i]);
	}
	for (int i = 0; i < WORKERS; i++)
		if (!gate_wait(&started[i]))
			die("held task %d never started", i);
	for (int i = 0; i < N; i++) {
		struct future *f;

		if (executor_submit(ex, count_task, &quick, &f) == 0)
			future_unref(f);
		else
			failures++;
	}
	gate_open(&release);
	executor_free(ex);
	for (int i = 0; i < WORKERS; i++) {
		released += hold[i].released;
		future_unref(fh[i]);
		gate_destroy(&started[i]);
	}
	printf("submitted=%d failed=%d held_released=%d ran=%d\n", N, failures, released,
	       atomic_load(&quick));
	gate_destroy(&release);
}

static void case_after_shutdown(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct job j = { 0 };
	void *args[2] = { &j, &j }, *results[2] = { SENTINEL, SENTINEL };
	char err[EXECUTOR_ERRMAX] = "stale";
	struct future *f = SENTINEL;
	int rc_submit, rc_map;

	executor_shutdown(ex, false, false);
	rc_submit = executor_submit(ex, job_task, &j, &f);
	rc_map = executor_map(ex, job_task, args, 2, results, -1, err, sizeof(err));
	executor_free(ex);
	printf("submit=%s out=%s map=%s results=%s,%s ran=%d\n", code(rc_submit), pointer(f),
	       code(rc_map), pointer(results[0]), pointer(results[1]), atomic_load(&j.ran));
	if (f && f != SENTINEL)
		future_unref(f);
}

/*
 * One worker, held, and two tasks queued behind it.  Two shutdowns without
 * wait must return at once.  Then shutdown(wait): the held task is let go
 * once that call has returned, or after 0.3 s, whichever comes first - so
 * a call that returns without waiting finds the held task still running.
 */
static void case_shutdown_again(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release, returned;
	struct job hold = { .started = &started, .release = &release };
	struct job queued[2] = { { .id = 1 }, { .id = 2 } };
	struct releaser r = { .wait_for = &returned, .opens = &release, .ms = 300 };
	struct future *fh, *fq[2];
	int first, second, waited, again, done = 0;
	double no_wait;
	int64_t t0;

	gate_init(&started);
	gate_init(&release);
	gate_init(&returned);
	fh = probe_submit(ex, job_task, &hold);
	for (int i = 0; i < 2; i++)
		fq[i] = probe_submit(ex, job_task, &queued[i]);
	if (!gate_wait(&started))
		die("the first task never started");

	t0 = clk_now_ns();
	first = executor_shutdown(ex, false, false);
	second = executor_shutdown(ex, false, false);
	no_wait = clk_since(t0);

	releaser_start(&r);
	waited = executor_shutdown(ex, true, false);
	done += future_state(fh) == FUTURE_DONE;
	for (int i = 0; i < 2; i++)
		done += future_state(fq[i]) == FUTURE_DONE;
	gate_open(&returned);
	PT_CHECK(pthread_join(r.thread, NULL));

	again = executor_shutdown(ex, true, true);
	executor_free(ex);
	printf("first=%s second=%s no_wait_elapsed=%.3f waited=%s done_at_return=%d again=%s\n",
	       code(first), code(second), no_wait, code(waited), done, code(again));
	printf("ran=%d held_released=%d\n",
	       atomic_load(&hold.ran) + atomic_load(&queued[0].ran) + atomic_load(&queued[1].ran),
	       hold.released);
	future_unref(fh);
	for (int i = 0; i < 2; i++)
		future_unref(fq[i]);
	gate_destroy(&started);
	gate_destroy(&release);
	gate_destroy(&returned);
}

static void case_cancel_later(void)
{
	enum { N = 3 };
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release;
	struct job hold = { .started = &started, .release = &release };
	struct job queued[N];
	struct seen seen[N];
	struct future *fh, *fq[N];
	int plain, cancel, before = 0, at_return = 0, in_caller = 0;
	int cancelled = 0, ran = 0;

	gate_init(&started);
	gate_init(&release);
	fh = probe_submit(ex, job_task, &hold);
	for (int i = 0; i < N; i++) {
		queued[i] = (struct job){ .id = i };
		seen[i] = (struct seen){ .thread = "none" };
		fq[i] = probe_submit(ex, job_task, &queued[i]);
		if (future_add_done_callback(fq[i], seen_callback, &seen[i]))
			die("future_add_done_callback failed");
	}
	if (!gate_wait(&started))
		die("the first task never started");

	plain = executor_shutdown(ex, false, false);
	for (int i = 0; i < N; i++)
		before += atomic_load(&seen[i].calls);
	cancel = executor_shutdown(ex, false, true);
	for (int i = 0; i < N; i++) {
		at_return += atomic_load(&seen[i].calls);
		in_caller += strcmp(seen[i].thread, log_name()) == 0;
		cancelled += future_state(fq[i]) == FUTURE_CANCELLED;
	}
	gate_open(&release);
	executor_free(ex);
	for (int i = 0; i < N; i++)
		ran += atomic_load(&queued[i].ran);
	printf("plain=%s calls_before=%d cancel=%s calls_at_return=%d in_caller=%d callback_thread=%s\n",
	       code(plain), before, code(cancel), at_return, in_caller, seen[0].thread);
	printf("cancelled=%d queued_ran=%d held_done=%d\n", cancelled, ran,
	       future_state(fh) == FUTURE_DONE);
	future_unref(fh);
	for (int i = 0; i < N; i++)
		future_unref(fq[i]);
	gate_destroy(&started);
	gate_destroy(&release);
}

/* Tasks and callbacks that call into the executor that runs them. */
struct reentry {
	struct executor *ex;
	struct gate go;	  /* the first task starts its work on this */
	struct job inner; /* what the task submits */
	struct future *inner_f;
	int submit_rc, wait_rc;
	struct job from_callback; /* what its done callback submits */
	struct future *callback_f;
	int callback_rc;
	struct gate callback_done;
	int shutdown_rc;
};

static int submitting_task(void *arg, void **result, char *err, size_t errlen)
{
	struct reentry *r = arg;

	(void)err, (void)errlen;
	if (!gate_wait(&r->go))
		return -ETIMEDOUT;
	r->submit_rc = executor_submit(r->ex, job_task, &r->inner, &r->inner_f);
	r->wait_rc = r->submit_rc ? r->submit_rc : future_result(r->inner_f, 5000, NULL);
	*result = r;
	return 0;
}

static void submitting_callback(struct future *f, void *data)
{
	struct reentry *r = data;

	(void)f;
	r->callback_rc = executor_submit(r->ex, job_task, &r->from_callback, &r->callback_f);
	gate_open(&r->callback_done);
}

static int shutdown_task(void *arg, void **result, char *err, size_t errlen)
{
	struct reentry *r = arg;

	(void)err, (void)errlen;
	r->shutdown_rc = executor_shutdown(r->ex, false, false);
	*result = r;
	return 0;
}

static void case_reentrant(void)
{
	struct reentry r = { .ex = probe_executor(2, "worker") };
	struct job late_job = { 0 };
	struct future *fa, *fd, *late = NULL;
	int a_rc, callback_task = 1, d_rc, late_rc;

	gate_init(&r.go);
	gate_init(&r.callback_done);
	r.callback_rc = 1;
	fa = probe_submit(r.ex, submitting_task, &r);
	if (future_add_done_callback(fa, submitting_callback, &r))
		die("future_add_done_callback failed");
	gate_open(&r.go);
	a_rc = future_result(fa, 10000, NULL);
	if (gate_wait(&r.callback_done) && r.callback_rc == 0)
		callback_task = future_result(r.callback_f, 5000, NULL);

	fd = probe_submit(r.ex, shutdown_task, &r);
	d_rc = future_result(fd, 5000, NULL);
	late_rc = executor_submit(r.ex, job_task, &late_job, &late);
	executor_free(r.ex);
	printf("task=%s task_submit=%s task_wait=%s callback_submit=%s callback_task=%s\n",
	       code(a_rc), code(r.submit_rc), code(r.wait_rc), code(r.callback_rc),
	       code(callback_task));
	printf("shutdown_task=%s task_shutdown=%s submit_after=%s\n", code(d_rc),
	       code(r.shutdown_rc), code(late_rc));
	future_unref(fa);
	future_unref(fd);
	future_unref(late);
	future_unref(r.inner_f);
	future_unref(r.callback_f);
	gate_destroy(&r.go);
	gate_destroy(&r.callback_done);
}

static void case_edge_args(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct job j = { 0 }, other = { 0 };
	void *args[2] = { &j, &j }, *results[2] = { SENTINEL, SENTINEL };
	struct future *f = NULL, *fs[2];
	struct as_completed *ac = NULL;
	int s_ex, s_fn, m_ex, m_fn, m_args, m_results, a_out, a_array, a_entry;
	bool same;

	struct future *stale = (struct future *)SENTINEL;
	int out_cleared;

	f = stale;
	s_ex = executor_submit(NULL, job_task, &j, &f);
	out_cleared = f == NULL;
	f = stale;
	s_fn = executor_submit(ex, NULL, &j, &f);
	out_cleared &= f == NULL;
	m_ex = executor_map(NULL, job_task, args, 2, results, -1, NULL, 0);
	m_fn = executor_map(ex, NULL, args, 2, results, -1, NULL, 0);
	m_args = executor_map(ex, job_task, NULL, 2, results, -1, NULL, 0);
	m_results = executor_map(ex, job_task, args, 2, NULL, -1, NULL, 0);
	printf("submit_no_executor=%s submit_no_fn=%s out_cleared=%d\n", code(s_ex), code(s_fn),
	       out_cleared);
	printf("results_cleared=%d\n", results[0] == NULL && results[1] == NULL);
	printf("map_no_executor=%s map_no_fn=%s map_no_args=%s map_no_results=%s\n", code(m_ex),
	       code(m_fn), code(m_args), code(m_results));

	fs[0] = probe_submit(ex, job_task, &other);
	fs[1] = NULL;
	a_out = as_completed_new(NULL, fs, 1, -1);
	a_array = as_completed_new(&ac, NULL, 2, -1);
	a_entry = as_completed_new(&ac, fs, 2, -1);
	printf("ac_no_out=%s ac_no_array=%s ac_null_future=%s\n", code(a_out), code(a_array),
	       code(a_entry));

	same = future_ref(fs[0]) == fs[0];
	future_unref(fs[0]);
	executor_free(NULL);
	future_unref(NULL);
	as_completed_free(NULL);
	executor_free(ex);
	printf("ref_returns_it=%d nulls_ignored=1 ran=%d\n", same, atomic_load(&j.ran));
	future_unref(fs[0]);
}

#ifndef SANITIZED
/*
 * executor_new() with its first allocation failing, then with each later
 * one: every attempt fails cleanly (-ENOMEM, or -EAGAIN when the C library
 * could not set up a thread) and leaves no thread behind, until enough
 * allocations succeed.  Prints how the first attempt and the rest went.
 */
static struct executor *new_until_it_works(int base)
{
	struct executor *ex = NULL;
	int rc = -ENOMEM, first = 1, clean = 1, tries;

	for (tries = 0; tries < 200; tries++) {
		fail_allocations_after(tries);
		rc = executor_new(&ex, 4, "worker");
		allocate_freely();
		if (tries == 0)
			first = rc;
		if (rc == 0)
			break;
		if (rc != -ENOMEM && rc != -EAGAIN)
			clean = 0;
		if (threads_settle(base) != base)
			clean = 0;
	}
	printf("new=%s new_failures_clean=%d new_works_after=%d\n", code(first), clean,
	       rc == 0 ? tries : -1);
	if (rc)
		die("executor_new never succeeded: %s", executor_strerror(rc));
	return ex;
}

/*
 * Each call runs with the calling thread's allocations failing, from the
 * first on or, for executor_new, map and as_completed_new, from each one in
 * turn until the call succeeds.  A call that fails must answer -ENOMEM and
 * undo everything it did: no thread left, no task run, no result set, no
 * callback registered.
 */
static void case_nomem(void)
{
	enum { N = 3 };
	struct executor *ex;
	struct gate release, started;
	struct job lost = { 0 }, jobs[N], held[2];
	struct seen early = { 0 }, late = { 0 };
	void *args[N], *results[N];
	char err[EXECUTOR_ERRMAX];
	struct future *f = SENTINEL, *fh[2], *fl;
	struct as_completed *ac = NULL;
	int rc, map_fails = 0, map_clean = 1, ac_fails = 0, ac_clean = 1;
	int submit_rc, early_rc, late_rc, delivered = 0, ran = 0;

	settle_runtime();
	ex = new_until_it_works(thread_count());

	fail_allocations_after(0);
	submit_rc = executor_submit(ex, job_task, &lost, &f);
	allocate_freely();
	printf("submit=%s out=%s\n", code(submit_rc), pointer(f));

	/* map is all or nothing: whichever allocation fails, nothing runs. */
	for (int i = 0; i < N; i++) {
		jobs[i] = (struct job){ .id = i };
		args[i] = &jobs[i];
	}
	for (long n = 0; n < 100; n++) {
		for (int i = 0; i < N; i++)
			results[i] = SENTINEL;
		fail_allocations_after(n);
		rc = executor_map(ex, job_task, args, N, results, 10000, err, sizeof(err));
		allocate_freely();
		if (rc == 0)
			break;
		map_fails++;
		map_clean &= rc == -ENOMEM;
		for (int i = 0; i < N; i++)
			map_clean &= results[i] == NULL;
	}
	printf("map_failures=%d map_failures_clean=%d map_finally=%s\n", map_fails, map_clean,
	       code(rc));

	/* Callbacks: one for a running future, one for a finished one. */
	gate_init(&started);
	gate_init(&release);
	held[0] = (struct job){ .started = &started, .release = &release };
	held[1] = (struct job){ .release = &release };
	for (int i = 0; i < 2; i++)
		fh[i] = probe_submit(ex, job_task, &held[i]);
	if (!gate_wait(&started))
		die("the held task never started");
	fail_allocations_after(0);
	early_rc = future_add_done_callback(fh[0], seen_callback, &early);
	allocate_freely();

	/* as_completed_new on two unfinished futures, failing at each step. */
	for (long n = 0; n < 100; n++) {
		fail_allocations_after(n);
		rc = as_completed_new(&ac, fh, 2, 10000);
		allocate_freely();
		if (rc == 0)
			break;
		ac_fails++;
		ac_clean &= rc == -ENOMEM;
	}
	gate_open(&release);
	if (rc == 0) {
		while (as_completed_next(ac, &fl) > 0)
			delivered++;
		as_completed_free(ac);
	}
	fail_allocations_after(0);
	late_rc = future_add_done_callback(fh[0], seen_callback, &late);
	allocate_freely();
	printf("ac_failures=%d ac_failures_clean=%d ac_finally=%s delivered=%d\n", ac_fails,
	       ac_clean, code(rc), delivered);

	executor_free(ex);
	for (int i = 0; i < N; i++)
		ran += atomic_load(&jobs[i].ran);
	printf("callback=%s callback_calls=%d late_callback=%s late_calls=%d lost_ran=%d map_ran=%d\n",
	       code(early_rc), atomic_load(&early.calls), code(late_rc), atomic_load(&late.calls),
	       atomic_load(&lost.ran), ran);
	if (f && f != SENTINEL)
		future_unref(f);
	for (int i = 0; i < 2; i++)
		future_unref(fh[i]);
	gate_destroy(&started);
	gate_destroy(&release);
}

/* The process's address space in use, in bytes. */
static rlim_t address_space(void)
{
	FILE *fp = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long kb = 0;

	if (!fp)
		die_errno(errno, "/proc/self/status");
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmSize: %lu kB", &kb) == 1)
			break;
	fclose(fp);
	if (!kb)
		die("/proc/self/status has no VmSize line");
	return (rlim_t)kb * 1024;
}

/*
 * Give new threads 64 MiB stacks and the process room for three more of
 * them: executor_new() of eight workers starts some, then the system has
 * no thread to give.  It must answer -EAGAIN and take the ones it started
 * down with it.
 */
static void case_no_threads(void)
{
	const size_t stack = (size_t)64 << 20;
	struct executor *ex;
	pthread_attr_t saved, big;
	struct rlimit old, tight;
	int base, rc, again, left;

	settle_runtime();
	base = thread_count();
	if (getrlimit(RLIMIT_AS, &old))
		die_errno(errno, "getrlimit");
	PT_CHECK(pthread_getattr_default_np(&saved));
	PT_CHECK(pthread_attr_init(&big));
	PT_CHECK(pthread_attr_setstacksize(&big, stack));
	PT_CHECK(pthread_setattr_default_np(&big));
	tight = (struct rlimit){
		.rlim_cur = address_space() + 3 * stack + stack / 2,
		.rlim_max = old.rlim_max,
	};
	if (setrlimit(RLIMIT_AS, &tight))
		die_errno(errno, "setrlimit");
	rc = executor_new(&ex, 8, "worker");
	if (setrlimit(RLIMIT_AS, &old))
		die_errno(errno, "setrlimit");
	PT_CHECK(pthread_setattr_default_np(&saved));
	PT_CHECK(pthread_attr_destroy(&big));
	PT_CHECK(pthread_attr_destroy(&saved));
	if (rc == 0)
		executor_free(ex);
	left = threads_settle(base) - base;
	/* Nothing stays broken: with room again, an executor starts. */
	again = try_new(8, "worker");
	printf("rc=%s threads_left=%d again=%s\n", code(rc), left, code(again));
}
#else
static void case_nomem(void)
{
	printf("skipped=sanitizer\n");
}

static void case_no_threads(void)
{
	printf("skipped=sanitizer\n");
}
#endif

/* --------------------------------------------------------------- future */

/* What each task found on entry, counted over every task that ran. */
struct inspect {
	atomic_int calls, result_null, err_empty, errlen_enough;
	int fail;
};

static int inspect_task(void *arg, void **result, char *err, size_t errlen)
{
	struct inspect *in = arg;

	atomic_fetch_add(&in->calls, 1);
	atomic_fetch_add(&in->result_null, *result == NULL);
	atomic_fetch_add(&in->err_empty, errlen > 0 && err[0] == '\0');
	atomic_fetch_add(&in->errlen_enough, errlen >= EXECUTOR_ERRMAX);
	/* Leave both behind: the next task must not find them. */
	*result = in;
	snprintf(err, errlen, "left over");
	return in->fail;
}

static void case_task_contract(void)
{
	enum { N = 4 };
	struct executor *ex = probe_executor(1, "worker");
	struct inspect in = { 0 };
	struct job longest = { .fail = -EIO }, timed = { .fail = -ETIMEDOUT };
	struct job cancelled = { .fail = -ECANCELED };
	char msg[EXECUTOR_ERRMAX];
	void *args[N], *results[N];
	struct future *f, *fl, *ft, *fc;
	int rc_l, rc_t, rc_c;

	/* Every other task fails, after leaving a result and a message. */
	for (int i = 0; i < N; i++) {
		in.fail = i % 2 ? -EIO : 0;
		f = probe_submit(ex, inspect_task, &in);
		future_result(f, 5000, NULL);
		future_unref(f);
	}
	in.fail = 0;
	for (int i = 0; i < N; i++)
		args[i] = &in;
	executor_map(ex, inspect_task, args, N, results, 5000, NULL, 0);
	printf("tasks=%d result_null=%d err_empty=%d errlen_enough=%d\n", atomic_load(&in.calls),
	       atomic_load(&in.result_null), atomic_load(&in.err_empty),
	       atomic_load(&in.errlen_enough));

	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	longest.msg = msg;
	fl = probe_submit(ex, job_task, &longest);
	rc_l = future_result(fl, 5000, NULL);
	printf("longest=%s longest_len=%zu longest_whole=%d\n", code(rc_l),
	       strlen(future_errmsg(fl)), strcmp(future_errmsg(fl), msg) == 0);

	/* Codes that look like the executor's own, returned by tasks. */
	ft = probe_submit(ex, job_task, &timed);
	fc = probe_submit(ex, job_task, &cancelled);
	rc_t = future_result(ft, 5000, NULL);
	rc_c = future_result(fc, 5000, NULL);
	printf("own_timedout=%s own_timedout_state=%s own_timedout_ran=%d\n", code(rc_t),
	       future_state_name(future_state(ft)), atomic_load(&timed.ran));
	printf("own_cancelled=%s own_cancelled_state=%s own_cancelled_ran=%d\n", code(rc_c),
	       future_state_name(future_state(fc)), atomic_load(&cancelled.ran));
	executor_free(ex);
	future_unref(fl);
	future_unref(ft);
	future_unref(fc);
}

/*
 * One worker runs A, held; B waits in the queue.  While both are
 * unfinished, state, done and errmsg are read; they must answer at once
 * (A is let go only afterwards, so an answer that waited for A would come
 * after A had given up on its gate).  Then both finish.
 */
static void case_states(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release, a_end, b_end;
	struct job a = {
		.started = &started, .release = &release, .fail = -EIO, .msg = "it broke at the end"
	};
	struct job b = { .fail = -EPERM, .msg = "so did this" };
	struct future *fa, *fb;
	enum future_state as, bs;
	bool ad, bd;
	char am[64], bm[64];

	gate_init(&started);
	gate_init(&release);
	gate_init(&a_end);
	gate_init(&b_end);
	fa = probe_submit(ex, job_task, &a);
	fb = probe_submit(ex, job_task, &b);
	if (future_add_done_callback(fa, open_gate, &a_end) ||
	    future_add_done_callback(fb, open_gate, &b_end))
		die("future_add_done_callback failed");
	if (!gate_wait(&started))
		die("the first task never started");

	as = future_state(fa);
	bs = future_state(fb);
	ad = future_done(fa);
	bd = future_done(fb);
	snprintf(am, sizeof(am), "%s", future_errmsg(fa));
	snprintf(bm, sizeof(bm), "%s", future_errmsg(fb));
	gate_open(&release);
	printf("a_state=%s b_state=%s a_done=%d b_done=%d\n", future_state_name(as),
	       future_state_name(bs), ad, bd);
	printf("a_msg_running=[%s]\nb_msg_pending=[%s]\n", am, bm);

	if (!gate_wait(&a_end) || !gate_wait(&b_end))
		die("the tasks never finished");
	printf("a_state_end=%s b_state_end=%s a_done_end=%d b_done_end=%d\n",
	       future_state_name(future_state(fa)), future_state_name(future_state(fb)),
	       future_done(fa), future_done(fb));
	executor_free(ex);
	/* Our references keep the messages, executor or not. */
	printf("a_msg_end=[%s]\nb_msg_end=[%s]\nheld_released=%d\n", future_errmsg(fa),
	       future_errmsg(fb), a.released);
	printf("names=%s,%s,%s,%s\n", future_state_name(FUTURE_PENDING),
	       future_state_name(FUTURE_RUNNING), future_state_name(FUTURE_DONE),
	       future_state_name(FUTURE_CANCELLED));
	future_unref(fa);
	future_unref(fb);
	gate_destroy(&started);
	gate_destroy(&release);
	gate_destroy(&a_end);
	gate_destroy(&b_end);
}

static void case_pending_timeout(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release;
	struct job hold = { .started = &started, .release = &release };
	struct job b = { 0 };
	struct future *fh, *fb;
	void *value = SENTINEL;
	int poll, timed, b_ran, final;
	enum future_state after;
	double poll_elapsed, timed_elapsed;
	int64_t t0;

	gate_init(&started);
	gate_init(&release);
	fh = probe_submit(ex, job_task, &hold);
	fb = probe_submit(ex, job_task, &b);
	if (!gate_wait(&started))
		die("the first task never started");

	t0 = clk_now_ns();
	poll = future_result(fb, 0, &value);
	poll_elapsed = clk_since(t0);
	t0 = clk_now_ns();
	timed = future_result(fb, 150, &value);
	timed_elapsed = clk_since(t0);
	after = future_state(fb);
	b_ran = atomic_load(&b.ran);
	printf("poll=%s poll_elapsed=%.3f timed=%s timed_elapsed=%.3f\n", code(poll), poll_elapsed,
	       code(timed), timed_elapsed);
	printf("state_after=%s ran_before_release=%d value_after_timeout=%s\n",
	       future_state_name(after), b_ran, pointer(value));

	gate_open(&release);
	final = future_result(fb, 5000, &value);
	printf("final=%s value=%s\n", code(final), value == &b ? "own" : pointer(value));
	executor_free(ex);
	future_unref(fh);
	future_unref(fb);
	gate_destroy(&started);
	gate_destroy(&release);
}

static void case_finished_final(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release;
	struct job h = { .started = &started, .release = &release };
	struct job c = { 0 };
	struct seen sh = { 0 }, sc = { 0 };
	struct future *fh, *fc;
	void *value = NULL;
	int cancel_c, rh, h_cancel, h_result, c_result, c_again;

	gate_init(&started);
	gate_init(&release);
	fh = probe_submit(ex, job_task, &h);
	fc = probe_submit(ex, job_task, &c);
	if (future_add_done_callback(fh, seen_callback, &sh) ||
	    future_add_done_callback(fc, seen_callback, &sc))
		die("future_add_done_callback failed");
	if (!gate_wait(&started))
		die("the first task never started");
	cancel_c = future_cancel(fc);
	gate_open(&release);
	rh = future_result(fh, 5000, NULL);
	/* The worker has now passed over the cancelled task, or skipped it. */
	executor_shutdown(ex, true, false);

	c_result = future_result(fc, 0, NULL);
	c_again = future_cancel(fc);
	printf("cancel=%s c_state=%s c_result=%s c_done=%d c_again=%s c_ran=%d c_calls=%d\n",
	       code(cancel_c), future_state_name(future_state(fc)), code(c_result), future_done(fc),
	       code(c_again), atomic_load(&c.ran), atomic_load(&sc.calls));
	h_cancel = future_cancel(fh);
	h_result = future_result(fh, 0, &value);
	printf("h=%s h_cancel=%s h_state=%s h_result=%s h_value=%s h_calls=%d\n", code(rh),
	       code(h_cancel), future_state_name(future_state(fh)), code(h_result),
	       value == &h ? "own" : pointer(value), atomic_load(&sh.calls));
	executor_free(ex);
	future_unref(fh);
	future_unref(fc);
	gate_destroy(&started);
	gate_destroy(&release);
}

struct waiter {
	struct future *f;
	long limit;
	pthread_t thread;
	struct gate returned;
	int rc;
	int64_t at;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = future_result(w->f, w->limit, NULL);
	w->at = clk_now_ns();
	gate_open(&w->returned);
	return NULL;
}

/*
 * Two threads wait on a queued future, one without a limit and one with
 * 3 s.  Neither may return while it is queued: 0.2 s of them not
 * returning is taken as "both are blocked".  Then it is cancelled, and
 * both must wake at once with -ECANCELED.
 */
static void case_cancel_wakes(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release;
	struct job hold = { .started = &started, .release = &release };
	struct job queued = { 0 };
	struct waiter w[2] = { { .limit = -1 }, { .limit = 3000 } };
	struct future *fh, *fq;
	int early, cancel, woken = 0;
	double slowest = 0;
	int64_t t0;

	gate_init(&started);
	gate_init(&release);
	fh = probe_submit(ex, job_task, &hold);
	fq = probe_submit(ex, job_task, &queued);
	if (!gate_wait(&started))
		die("the first task never started");
	for (int i = 0; i < 2; i++) {
		int rc;

		w[i].f = fq;
		gate_init(&w[i].returned);
		rc = pthread_create(&w[i].thread, NULL, waiter_main, &w[i]);
		if (rc)
			die_errno(rc, "pthread_create");
	}
	early = gate_wait_ms(&w[0].returned, 200);
	early += gate_wait_ms(&w[1].returned, 0);

	t0 = clk_now_ns();
	cancel = future_cancel(fq);
	for (int i = 0; i < 2; i++) {
		if (!gate_wait(&w[i].returned))
			continue;
		woken++;
		if ((double)(w[i].at - t0) / CLK_NS_PER_SEC > slowest)
			slowest = (double)(w[i].at - t0) / CLK_NS_PER_SEC;
	}
	printf("early_returns=%d cancel=%s woken=%d wake_elapsed=%.3f\n", early, code(cancel),
	       woken, slowest);
	if (woken < 2) {
		/* A waiter is stuck for good: report, and leave it there. */
		printf("unlimited=%s timed=%s\n", "stuck", "stuck");
		fflush(stdout);
		_exit(0);
	}
	for (int i = 0; i < 2; i++)
		PT_CHECK(pthread_join(w[i].thread, NULL));
	printf("unlimited=%s timed=%s queued_ran=%d\n", code(w[0].rc), code(w[1].rc),
	       atomic_load(&queued.ran));
	gate_open(&release);
	executor_free(ex);
	future_unref(fh);
	future_unref(fq);
	for (int i = 0; i < 2; i++)
		gate_destroy(&w[i].returned);
	gate_destroy(&started);
	gate_destroy(&release);
}

static void case_strerror(void)
{
	static const int own[] = {
		-ETIMEDOUT, -ECANCELED, -ESHUTDOWN, -EBUSY, -EALREADY, -EDEADLK,
	};
	static const int other[] = { -EIO, -ENOENT, -EPIPE, -4242 };
	size_t n_own = sizeof(own) / sizeof(own[0]);
	size_t n_other = sizeof(other) / sizeof(other[0]);
	int phrased = 0, fallback = 0;
	char mine[256];

	for (size_t i = 0; i < n_own; i++) {
		snprintf(mine, sizeof(mine), "%s", executor_strerror(own[i]));
		phrased += mine[0] && strcmp(mine, strerror(-own[i])) != 0;
	}
	/* strerror() may reuse one buffer: compare a copy. */
	for (size_t i = 0; i < n_other; i++) {
		snprintf(mine, sizeof(mine), "%s", executor_strerror(other[i]));
		fallback += strcmp(mine, strerror(-other[i])) == 0;
	}
	printf("own=%zu phrased=%d other=%zu fallback=%d\n", n_own, phrased, n_other, fallback);
	printf("ecanceled=[%s]\n", executor_strerror(-ECANCELED));
}

/* ------------------------------------------------------------------ map */

static void case_map_err(void)
{
	enum { N = 3 };
	struct executor *ex = probe_executor(N, "worker");
	struct job jobs[N], failing = { .fail = -EIO, .msg = "no good" };
	void *args[N], *results[N];
	char err[EXECUTOR_ERRMAX] = "stale";
	int rc, rc_null, rc_null_fail, in_place = 0;
	double elapsed;
	int64_t t0;

	/* Three tasks of 0.3 s and no time limit: map waits them out. */
	for (int i = 0; i < N; i++) {
		jobs[i] = (struct job){ .id = i, .ms = 300 };
		args[i] = &jobs[i];
		results[i] = SENTINEL;
	}
	t0 = clk_now_ns();
	rc = executor_map(ex, job_task, args, N, results, -1, err, sizeof(err));
	elapsed = clk_since(t0);
	for (int i = 0; i < N; i++)
		in_place += results[i] == &jobs[i];
	printf("rc=%s elapsed=%.3f in_place=%d\nerr=[%s]\n", code(rc), elapsed, in_place, err);

	for (int i = 0; i < N; i++)
		jobs[i].ms = 0;
	rc_null = executor_map(ex, job_task, args, N, results, 5000, NULL, EXECUTOR_ERRMAX);
	args[1] = &failing;
	rc_null_fail = executor_map(ex, job_task, args, N, results, 5000, NULL, EXECUTOR_ERRMAX);
	printf("null_err=%s null_err_failure=%s\n", code(rc_null), code(rc_null_fail));
	executor_free(ex);
}

/*
 * Map must return as soon as its answer is known, without waiting for the
 * tasks that are running.  The running task here is held until map has
 * returned; if map waited for it, it would give up on its gate first.
 *
 *   failure: task 0 fails once task 1 is running; task 1 runs on;
 *   timeout: task 0 runs past map's 0.5 s, on a worker that was idle.
 */
static void case_map_running(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct gate one_started, failed_map, timed_map;
	struct job fails = { .fail = -EIO, .release = &one_started };
	struct job runs = { .started = &one_started, .release = &failed_map };
	struct job slow = { .release = &timed_map };
	void *args[2] = { &fails, &runs }, *results[2], *slow_args[1] = { &slow };
	char err[EXECUTOR_ERRMAX];
	int fail_rc, timeout_rc;
	double fail_elapsed, timeout_elapsed;
	int64_t t0;

	gate_init(&one_started);
	gate_init(&failed_map);
	gate_init(&timed_map);
	t0 = clk_now_ns();
	fail_rc = executor_map(ex, job_task, args, 2, results, 10000, err, sizeof(err));
	fail_elapsed = clk_since(t0);
	gate_open(&failed_map);

	t0 = clk_now_ns();
	timeout_rc = executor_map(ex, job_task, slow_args, 1, results, 500, err, sizeof(err));
	timeout_elapsed = clk_since(t0);
	gate_open(&timed_map);
	executor_free(ex);
	printf("fail=%s fail_elapsed=%.3f running_released=%d running_finished=%d\n", code(fail_rc),
	       fail_elapsed, runs.released, runs.finished);
	printf("timeout=%s timeout_elapsed=%.3f slow_ran=%d slow_released=%d slow_finished=%d\n",
	       code(timeout_rc), timeout_elapsed, atomic_load(&slow.ran), slow.released,
	       slow.finished);
	gate_destroy(&one_started);
	gate_destroy(&failed_map);
	gate_destroy(&timed_map);
}

/* --------------------------------------------------------- as_completed */

static void case_ac_empty(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct future *none[1] = { NULL }, *fs[2], *f;
	struct job jobs[2] = { { .id = 0 }, { .id = 1 } };
	struct as_completed *ac;
	int rc, e1 = 1, e2 = 1, n[4];
	double elapsed = 0;
	int64_t t0;

	/* A limit, so that a next() that waits for nothing still returns. */
	rc = as_completed_new(&ac, none, 0, 2000);
	if (rc == 0) {
		t0 = clk_now_ns();
		e1 = as_completed_next(ac, &f);
		e2 = as_completed_next(ac, &f);
		elapsed = clk_since(t0);
		as_completed_free(ac);
	}
	printf("new=%s empty_next=%s,%s empty_elapsed=%.3f\n", code(rc), code(e1), code(e2),
	       elapsed);

	for (int i = 0; i < 2; i++) {
		fs[i] = probe_submit(ex, job_task, &jobs[i]);
		if (future_result(fs[i], 5000, NULL) != 0)
			die("task %d did not finish", i);
	}
	ac = NULL;
	if (as_completed_new(&ac, fs, 2, 2000))
		die("as_completed_new failed");
	for (int i = 0; i < 4; i++)
		n[i] = as_completed_next(ac, &f);
	printf("calls=%d,%d,%d,%d\n", n[0], n[1], n[2], n[3]);
	as_completed_free(ac);
	executor_free(ex);
	for (int i = 0; i < 2; i++)
		future_unref(fs[i]);
}

static int index_of(struct future *const fs[], int n, struct future *f)
{
	for (int i = 0; i < n; i++)
		if (fs[i] == f)
			return i;
	return -1;
}

/*
 * Three futures on one held worker: A will succeed, B fail, C is
 * cancelled while queued.  The caller drops its own references as soon as
 * as_completed has them; what as_completed hands out must still be whole.
 */
static void case_ac_refs(void)
{
	enum { N = 3 };
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release;
	struct job a = { .started = &started, .release = &release };
	struct job b = { .fail = -EIO, .msg = "b-failed" }, c = { 0 };
	struct future *fs[N], *mine[N], *f;
	struct as_completed *ac;
	int rc, k = 0;

	gate_init(&started);
	gate_init(&release);
	fs[0] = probe_submit(ex, job_task, &a);
	fs[1] = probe_submit(ex, job_task, &b);
	fs[2] = probe_submit(ex, job_task, &c);
	if (!gate_wait(&started))
		die("the first task never started");
	rc = as_completed_new(&ac, fs, N, 10000);
	if (rc)
		die("as_completed_new: %s", executor_strerror(rc));
	future_cancel(fs[2]);
	gate_open(&release);
	/* From here on only as_completed keeps them. */
	memcpy(mine, fs, sizeof(mine));
	for (int i = 0; i < N; i++)
		future_unref(fs[i]);

	printf("handed=");
	while ((rc = as_completed_next(ac, &f)) > 0) {
		void *value = NULL;
		int res = future_result(f, 0, &value);

		printf("%s%d:%s:%s:[%s]", k++ ? "," : "", index_of(mine, N, f),
		       future_state_name(future_state(f)), code(res), future_errmsg(f));
	}
	printf(" end=%s\n", code(rc));
	as_completed_free(ac);
	executor_free(ex);
	gate_destroy(&started);
	gate_destroy(&release);
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"new-args",	"names",	   "fifo",
		"busy-submit",	"after-shutdown",  "shutdown-again",
		"cancel-later", "reentrant",	   "edge-args",
		"nomem",	"no-threads",	   "task-contract",
		"states",	"pending-timeout", "finished-final",
		"cancel-wakes", "strerror",	   "map-err",
		"map-running",	"ac-empty",	   "ac-refs",
		NULL,
	};
	static void (*const run[])(void) = {
		case_new_args,	     case_names,	   case_fifo,		case_busy_submit,
		case_after_shutdown, case_shutdown_again,  case_cancel_later,	case_reentrant,
		case_edge_args,	     case_nomem,	   case_no_threads,	case_task_contract,
		case_states,	     case_pending_timeout, case_finished_final, case_cancel_wakes,
		case_strerror,	     case_map_err,	   case_map_running,	case_ac_empty,
		case_ac_refs,
	};

	return probe_main(argc, argv, cases, run);
}
