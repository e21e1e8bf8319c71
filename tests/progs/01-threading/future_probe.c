/*
 * future_probe.c - a future's promises, one scene per --case:
 *
 *   timeout    result(timeout) gives up in time; the task runs on
 *   stretch    wake-ups that change nothing do not move the deadline
 *   wait       result(-1) waits as long as it takes
 *   error      a task's code and message reach result()
 *   cancel     cancel works only while the task is queued
 *   waiters    several threads waiting on one future all wake
 *   callbacks  done callbacks: when, where and how often they run
 *   refs       a future outlives whoever forgets it, and the executor
 *
 * This driver peeks at one private field (the future's condition
 * variable, in "stretch"), so it includes executor_impl.h.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "executor_impl.h"
#include "log.h"
#include "probe.h"

struct job {
	long ms;	      /* sleep this long */
	struct gate *started; /* opened when the task starts, if set */
	struct gate *release; /* then wait for this, if set */
	int fail;	      /* return this code, if non-zero */
	const char *msg;      /* with this message, if set */
	atomic_int ran;
};

static int job_task(void *arg, void **result, char *err, size_t errlen)
{
	struct job *j = arg;

	atomic_fetch_add(&j->ran, 1);
	if (j->started)
		gate_open(j->started);
	if (j->release && !gate_wait(j->release))
		return -ETIMEDOUT;
	clk_sleep_ms(j->ms);
	if (j->msg)
		snprintf(err, errlen, "%s", j->msg);
	if (j->fail)
		return j->fail;
	*result = "ok";
	return 0;
}

static const char *text(void *value)
{
	return value ? (const char *)value : "none";
}

static void case_timeout(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct job job = { .ms = 800 };
	int64_t t0 = clk_now_ns();
	struct future *f = probe_submit(ex, job_task, &job);
	void *value = NULL;
	int timed, poll, final;
	double timed_elapsed, poll_elapsed;
	int64_t t1;

	timed = future_result(f, 250, &value);
	timed_elapsed = clk_since(t0);
	printf("state=%s\n", future_state_name(future_state(f)));
	t1 = clk_now_ns();
	poll = future_result(f, 0, &value);
	poll_elapsed = clk_since(t1);
	final = future_result(f, 5000, &value);
	printf("timed=%s timed_elapsed=%.3f poll=%s poll_elapsed=%.3f final=%s value=%s total=%.3f\n",
	       errname(timed), timed_elapsed, errname(poll), poll_elapsed, errname(final),
	       text(value), clk_since(t0));
	future_unref(f);
	executor_free(ex);
}

struct poker {
	struct future *f;
	atomic_bool stop;
	atomic_int pokes;
};

/* Wake the future's waiters every 20 ms without finishing it. */
static void *poker_main(void *arg)
{
	struct poker *p = arg;

	while (!atomic_load(&p->stop)) {
		clk_sleep_ms(20);
		PT_CHECK(pthread_mutex_lock(&p->f->lock));
		PT_CHECK(pthread_cond_broadcast(&p->f->done_cv));
		PT_CHECK(pthread_mutex_unlock(&p->f->lock));
		atomic_fetch_add(&p->pokes, 1);
	}
	return NULL;
}

static void case_stretch(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct job job = { .ms = 1500 };
	struct poker p = { .f = probe_submit(ex, job_task, &job) };
	pthread_t tid;
	int64_t t0;
	double elapsed;
	int rc;

	atomic_init(&p.stop, false);
	atomic_init(&p.pokes, 0);
	rc = pthread_create(&tid, NULL, poker_main, &p);
	if (rc)
		die_errno(rc, "pthread_create");
	t0 = clk_now_ns();
	rc = future_result(p.f, 300, NULL);
	elapsed = clk_since(t0);
	atomic_store(&p.stop, true);
	PT_CHECK(pthread_join(tid, NULL));
	printf("rc=%s elapsed=%.3f pokes=%d\n", errname(rc), elapsed, atomic_load(&p.pokes));
	future_unref(p.f);
	executor_free(ex);
}

static void case_wait(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct job job = { .ms = 300 };
	int64_t t0 = clk_now_ns();
	struct future *f = probe_submit(ex, job_task, &job);
	void *value = NULL;
	int rc = future_result(f, -1, &value);

	printf("rc=%s value=%s elapsed=%.3f state=%s\n", errname(rc), text(value), clk_since(t0),
	       future_state_name(future_state(f)));
	future_unref(f);
	executor_free(ex);
}

static void case_error(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct gate release;
	struct job a = { .fail = -EIO, .msg = "disk is full", .release = &release };
	struct job b = { .fail = EPERM }; /* positive: taken as -EPERM */
	struct job c = { .msg = "a success leaves no message" };
	struct future *fa, *fb, *fc;
	void *va = "untouched", *vc = NULL;
	int early, ra, rb, rc;

	gate_init(&release);
	fa = probe_submit(ex, job_task, &a);
	fb = probe_submit(ex, job_task, &b);
	fc = probe_submit(ex, job_task, &c);
	/* Task a cannot end before its gate opens: this wait must time out. */
	early = future_result(fa, 10, &va);
	gate_open(&release);
	ra = future_result(fa, 5000, &va);
	rb = future_result(fb, 5000, NULL);
	rc = future_result(fc, 5000, &vc);

	printf("early=%s a=%s a_value=%s b=%s c=%s c_value=%s\n", errname(early), errname(ra),
	       text(va), errname(rb), errname(rc), text(vc));
	printf("a_msg=[%s]\nb_msg=[%s]\nc_msg=[%s]\n", future_errmsg(fa), future_errmsg(fb),
	       future_errmsg(fc));
	future_unref(fa);
	future_unref(fb);
	future_unref(fc);
	executor_free(ex);
	gate_destroy(&release);
}

static void case_cancel(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct gate started, release;
	struct job a = { .started = &started, .release = &release };
	struct job b = { 0 };
	struct future *fa, *fb;
	int running, queued, again, result_b, done, result_a;
	double result_b_elapsed;
	int64_t t0;

	gate_init(&started);
	gate_init(&release);
	fa = probe_submit(ex, job_task, &a);
	fb = probe_submit(ex, job_task, &b);
	if (!gate_wait(&started))
		die("the first task never started");

	running = future_cancel(fa);
	queued = future_cancel(fb);
	again = future_cancel(fb);
	t0 = clk_now_ns();
	result_b = future_result(fb, 2000, NULL);
	result_b_elapsed = clk_since(t0);
	printf("b_state=%s\n", future_state_name(future_state(fb)));

	gate_open(&release);
	result_a = future_result(fa, 5000, NULL);
	done = future_cancel(fa);
	executor_shutdown(ex, true, false);
	printf("cancel_running=%s cancel_queued=%s cancel_again=%s result_cancelled=%s result_cancelled_elapsed=%.3f\n",
	       errname(running), errname(queued), errname(again), errname(result_b),
	       result_b_elapsed);
	printf("result_running=%s cancel_done=%s a_state=%s a_ran=%d b_ran=%d\n", errname(result_a),
	       errname(done), future_state_name(future_state(fa)), atomic_load(&a.ran),
	       atomic_load(&b.ran));
	future_unref(fa);
	future_unref(fb);
	executor_free(ex);
	gate_destroy(&started);
	gate_destroy(&release);
}

struct waiter {
	struct future *f;
	int64_t t0; /* when the task was submitted */
	pthread_t thread;
	int rc;
	double elapsed;
	void *value;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = future_result(w->f, 3000, &w->value);
	w->elapsed = clk_since(w->t0);
	return NULL;
}

static void case_waiters(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct job job = { .ms = 300 };
	int64_t t0 = clk_now_ns();
	struct future *f = probe_submit(ex, job_task, &job);
	struct waiter w[4];
	double max = 0;
	int ok = 0;

	for (int i = 0; i < 4; i++) {
		int rc;

		w[i] = (struct waiter){ .f = f, .t0 = t0 };
		rc = pthread_create(&w[i].thread, NULL, waiter_main, &w[i]);
		if (rc)
			die_errno(rc, "pthread_create");
	}
	for (int i = 0; i < 4; i++) {
		PT_CHECK(pthread_join(w[i].thread, NULL));
		ok += w[i].rc == 0 && w[i].value && strcmp(w[i].value, "ok") == 0;
		if (w[i].elapsed > max)
			max = w[i].elapsed;
	}
	printf("waiters=4 woken=%d max_elapsed=%.3f\n", ok, max);
	future_unref(f);
	executor_free(ex);
}

/* What one callback saw: how often it ran, where, and in which order. */
struct seen {
	pthread_mutex_t lock;
	char order[16];
	int calls[5];
	char thread[5][32];
	enum future_state state[5];
};

struct tag {
	struct seen *seen;
	int id;
};

static void record_callback(struct future *f, void *data)
{
	struct tag *t = data;
	struct seen *s = t->seen;
	size_t len;

	PT_CHECK(pthread_mutex_lock(&s->lock));
	s->calls[t->id]++;
	snprintf(s->thread[t->id], sizeof(s->thread[t->id]), "%s", log_name());
	s->state[t->id] = future_state(f);
	len = strlen(s->order);
	if (len + 1 < sizeof(s->order)) {
		s->order[len] = (char)('0' + t->id);
		s->order[len + 1] = '\0';
	}
	PT_CHECK(pthread_mutex_unlock(&s->lock));
}

static void case_callbacks(void)
{
	struct executor *ex = probe_executor(1, "worker");
	struct seen seen = { .order = "" };
	struct tag tags[5];
	struct gate started, release;
	struct job first = { .started = &started, .release = &release };
	struct job second = { 0 }, third = { 0 };
	struct future *f1, *f2, *f3;
	int immediate, on_cancel, cancel_rc;

	PT_CHECK(pthread_mutex_init(&seen.lock, NULL));
	for (int i = 0; i < 5; i++)
		tags[i] = (struct tag){ &seen, i };
	gate_init(&started);
	gate_init(&release);

	/* 1 and 2 wait for f1, which a worker will finish. */
	f1 = probe_submit(ex, job_task, &first);
	f2 = probe_submit(ex, job_task, &second); /* to be cancelled */
	if (future_add_done_callback(f1, record_callback, &tags[1]) ||
	    future_add_done_callback(f1, record_callback, &tags[2]) ||
	    future_add_done_callback(f2, record_callback, &tags[3]))
		die("future_add_done_callback failed");
	if (!gate_wait(&started))
		die("the first task never started");

	/* 3 runs in this thread, inside future_cancel(). */
	cancel_rc = future_cancel(f2);
	PT_CHECK(pthread_mutex_lock(&seen.lock));
	on_cancel = seen.calls[3];
	PT_CHECK(pthread_mutex_unlock(&seen.lock));

	gate_open(&release);
	f3 = probe_submit(ex, job_task, &third);
	if (future_result(f3, 5000, NULL) != 0)
		die("the third task did not finish");
	/* 4 is added to a finished future: it runs at once, right here. */
	if (future_add_done_callback(f3, record_callback, &tags[4]))
		die("future_add_done_callback failed");
	PT_CHECK(pthread_mutex_lock(&seen.lock));
	immediate = seen.calls[4];
	PT_CHECK(pthread_mutex_unlock(&seen.lock));

	/* After the join, every callback that will ever run has run. */
	executor_shutdown(ex, true, false);
	printf("order=%s cancel=%s\n", seen.order, errname(cancel_rc));
	printf("done_calls=%d,%d done_thread=%s done_state=%s\n", seen.calls[1], seen.calls[2],
	       seen.thread[1], future_state_name(seen.state[1]));
	printf("cancel_calls=%d cancel_during=%d cancel_thread=%s cancel_state=%s\n", seen.calls[3],
	       on_cancel, seen.thread[3], future_state_name(seen.state[3]));
	printf("late_calls=%d late_during=%d late_thread=%s\n", seen.calls[4], immediate,
	       seen.thread[4]);
	future_unref(f1);
	future_unref(f2);
	future_unref(f3);
	executor_free(ex);
	gate_destroy(&started);
	gate_destroy(&release);
	PT_CHECK(pthread_mutex_destroy(&seen.lock));
}

/* A callback that keeps the future it was given, past everyone else. */
static void keep_callback(struct future *f, void *data)
{
	*(struct future **)data = future_ref(f);
}

static void case_refs(void)
{
	struct executor *ex = probe_executor(2, "worker");
	struct job forgotten = { .ms = 100 }, kept = { 0 }, outliving = { 0 };
	struct job shared = { .ms = 200 };
	struct future *f, *g, *w, *held = NULL;
	int after_free, kept_rc, waiter_rc;

	/* Dropped at once: the executor's own reference keeps it going. */
	future_unref(probe_submit(ex, job_task, &forgotten));

	/* The submitter forgets it; a waiter with its own reference waits on. */
	f = probe_submit(ex, job_task, &shared);
	w = future_ref(f);
	future_unref(f);
	waiter_rc = future_result(w, 5000, NULL);
	future_unref(w);

	g = probe_submit(ex, job_task, &kept);
	if (future_add_done_callback(g, keep_callback, &held))
		die("future_add_done_callback failed");
	future_unref(g);

	f = probe_submit(ex, job_task, &outliving);
	executor_free(ex); /* waits for all three */

	after_free = future_result(f, 0, NULL);
	kept_rc = held ? future_result(held, 0, NULL) : 1;
	printf("forgotten_ran=%d waiter=%s after_free=%s kept_by_callback=%s\n",
	       atomic_load(&forgotten.ran), errname(waiter_rc), errname(after_free),
	       held ? errname(kept_rc) : "lost");
	future_unref(held);
	future_unref(f);
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"timeout", "stretch",	"wait", "error", "cancel",
		"waiters", "callbacks", "refs", NULL,
	};
	static void (*const run[])(void) = {
		case_timeout, case_stretch, case_wait,	    case_error,
		case_cancel,  case_waiters, case_callbacks, case_refs,
	};

	return probe_main(argc, argv, cases, run);
}
