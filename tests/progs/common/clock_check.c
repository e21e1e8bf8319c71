/*
 * clock_check - measures common/clock.c against itself: a sleep, a sleep to
 * an absolute deadline, deadlines made from timeouts, and the one timed
 * wait on a condition variable, timing out and being woken.  Prints
 * key=value pairs (times in seconds) for tests/common.bats.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "check.h"
#include "clock.h"

/* One thread waits once, another wakes it; see wake_one_waiter(). */
struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;	 /* what the waiter waits on */
	pthread_cond_t ready_cv; /* the waiter is about to wait */
	bool waiting;
	int64_t deadline;
	int rc;
	double elapsed;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	int64_t t0;

	PT_CHECK(pthread_mutex_lock(&w->mu));
	w->waiting = true;
	PT_CHECK(pthread_cond_signal(&w->ready_cv));
	/*
	 * The mutex is released only inside the wait, so whoever sees
	 * `waiting` under it knows this thread is asleep on cv.
	 */
	t0 = clk_now_ns();
	w->rc = clk_cond_wait_until(&w->cv, &w->mu, w->deadline);
	w->elapsed = clk_since(t0);
	PT_CHECK(pthread_mutex_unlock(&w->mu));
	return NULL;
}

/*
 * Start a thread that waits once until @deadline, signal it once it is
 * asleep, and return what its one call to clk_cond_wait_until() returned.
 */
static int wake_one_waiter(int64_t deadline, double *elapsed)
{
	struct waiter w = { .deadline = deadline };
	pthread_t tid;

	PT_CHECK(pthread_mutex_init(&w.mu, NULL));
	PT_CHECK(clk_cond_init(&w.cv));
	PT_CHECK(clk_cond_init(&w.ready_cv));
	PT_CHECK(pthread_create(&tid, NULL, waiter_main, &w));
	PT_CHECK(pthread_mutex_lock(&w.mu));
	while (!w.waiting)
		PT_CHECK(pthread_cond_wait(&w.ready_cv, &w.mu));
	PT_CHECK(pthread_cond_signal(&w.cv));
	PT_CHECK(pthread_mutex_unlock(&w.mu));
	PT_CHECK(pthread_join(tid, NULL));
	PT_CHECK(pthread_cond_destroy(&w.ready_cv));
	PT_CHECK(pthread_cond_destroy(&w.cv));
	PT_CHECK(pthread_mutex_destroy(&w.mu));
	*elapsed = w.elapsed;
	return w.rc;
}

/* "0", "-ETIMEDOUT" or the number: what clk_cond_wait_until() returned. */
static const char *rc_name(int rc)
{
	static char buf[16];

	if (rc == 0)
		return "0";
	if (rc == -ETIMEDOUT)
		return "-ETIMEDOUT";
	snprintf(buf, sizeof(buf), "%d", rc);
	return buf;
}

static void deadlines(void)
{
	int64_t before = clk_now_ns(), zero = clk_deadline_ms(0);
	int64_t second = clk_deadline_ms(1000), after = clk_now_ns();

	printf("never_huge=%d never_negative=%d never_minus_one=%d\n",
	       clk_deadline_ms(LONG_MAX) == CLK_NEVER, clk_deadline_ms(LONG_MIN) == CLK_NEVER,
	       clk_deadline_ms(-1) == CLK_NEVER);
	printf("zero_is_now=%d\n", zero >= before && zero <= after);
	printf("deadline_ms=%d\n",
	       second - before >= 1000 * CLK_NS_PER_MS && second - after <= 1000 * CLK_NS_PER_MS);
}

static void timed_waits(void)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	int64_t t0, deadline;
	double elapsed;
	int err = 0, calls = 0;

	PT_CHECK(clk_cond_init(&cv));
	PT_CHECK(pthread_mutex_lock(&mu));
	/* Nobody signals: every 0 before the deadline is a spurious wake-up. */
	t0 = clk_now_ns();
	deadline = clk_deadline_ms(120);
	while (!err) {
		err = clk_cond_wait_until(&cv, &mu, deadline);
		calls++;
	}
	printf("timedwait=%.4f timedout=%s calls=%d\n", clk_since(t0), rc_name(err), calls);

	t0 = clk_now_ns();
	err = clk_cond_wait_until(&cv, &mu, clk_deadline_ms(0));
	printf("past_rc=%s past_elapsed=%.4f\n", rc_name(err), clk_since(t0));
	PT_CHECK(pthread_mutex_unlock(&mu));
	PT_CHECK(pthread_cond_destroy(&cv));

	err = wake_one_waiter(clk_deadline_ms(5000), &elapsed);
	printf("signalled_rc=%s signalled_elapsed=%.4f\n", rc_name(err), elapsed);
	err = wake_one_waiter(CLK_NEVER, &elapsed);
	printf("never_rc=%s never_elapsed=%.4f\n", rc_name(err), elapsed);
}

int main(int argc, char **argv)
{
	int64_t t0, deadline;

	(void)argc;
	wb_init(argv[0]);

	t0 = clk_now_ns();
	clk_sleep_ms(100);
	printf("sleep=%.4f\n", clk_since(t0));
	t0 = clk_now_ns();
	clk_sleep_ms(-100);
	printf("sleep_negative=%.4f\n", clk_since(t0));

	t0 = clk_now_ns();
	deadline = clk_deadline_ms(150);
	clk_sleep_until(deadline);
	printf("until=%.4f passed=%d\n", clk_since(t0), clk_passed(deadline));

	deadlines();
	timed_waits();
	return 0;
}
