/*
 * clock_check - measures common/clock.c against itself: a sleep, a sleep to
 * an absolute deadline, and a condition-variable wait that times out on a
 * monotonic deadline.  Prints key=value pairs in seconds for the tests.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>

#include "check.h"
#include "clock.h"

int main(int argc, char **argv)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	struct timespec ts;
	int64_t t0, deadline;
	int err;

	(void)argc;
	wb_init(argv[0]);

	t0 = clk_now_ns();
	clk_sleep_ms(100);
	printf("sleep=%.4f\n", clk_since(t0));

	t0 = clk_now_ns();
	deadline = clk_deadline_ms(150);
	clk_sleep_until(deadline);
	printf("until=%.4f passed=%d\n", clk_since(t0), clk_passed(deadline));
	printf("never=%d\n", clk_deadline_ms(LONG_MAX) == CLK_NEVER &&
			      clk_deadline_ms(0) != CLK_NEVER);

	PT_CHECK(clk_cond_init(&cv));
	PT_CHECK(pthread_mutex_lock(&mu));
	t0 = clk_now_ns();
	ts = clk_timespec(clk_deadline_ms(120));
	/* Nobody signals: every wake-up before the deadline is spurious. */
	do
		err = pthread_cond_timedwait(&cv, &mu, &ts);
	while (err == 0);
	PT_CHECK(pthread_mutex_unlock(&mu));
	printf("timedwait=%.4f timedout=%d\n", clk_since(t0), err == ETIMEDOUT);
	PT_CHECK(pthread_cond_destroy(&cv));
	return 0;
}
