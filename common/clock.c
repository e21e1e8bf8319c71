#include "clock.h"

#include <assert.h>
#include <errno.h>

#include "check.h"

int64_t clk_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on a POSIX system that compiled this. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CLK_NS_PER_SEC + ts.tv_nsec;
}

double clk_since(int64_t start_ns)
{
	return (double)(clk_now_ns() - start_ns) / (double)CLK_NS_PER_SEC;
}

struct timespec clk_timespec(int64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / CLK_NS_PER_SEC),
		.tv_nsec = (long)(ns % CLK_NS_PER_SEC),
	};
	return ts;
}

void clk_sleep_until(int64_t deadline_ns)
{
	struct timespec ts = clk_timespec(deadline_ns);

	/* An absolute sleep can simply be restarted after a signal. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void clk_sleep_ms(long ms)
{
	/* Without this, a negative time would become "sleep forever". */
	if (ms > 0)
		clk_sleep_until(clk_deadline_ms(ms));
}

int64_t clk_deadline_ms(long timeout_ms)
{
	int64_t now;

	/* No time limit needs no clock, which costs a little on every wait. */
	if (timeout_ms < 0)
		return CLK_NEVER;
	now = clk_now_ns();
	/* Saturate instead of overflowing: a huge timeout means "never". */
	if (timeout_ms > (CLK_NEVER - now) / CLK_NS_PER_MS)
		return CLK_NEVER;
	return now + (int64_t)timeout_ms * CLK_NS_PER_MS;
}

bool clk_passed(int64_t deadline_ns)
{
	return clk_now_ns() >= deadline_ns;
}

int clk_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t attr;
	int err;

	err = pthread_condattr_init(&attr);
	if (err)
		return err;
	err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(cv, &attr);
	pthread_condattr_destroy(&attr);
	return err;
}

int clk_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ns)
{
	struct timespec until;
	int err;

	/* Monotonic times are never negative; one that is was never one. */
	assert(deadline_ns >= 0);
	if (deadline_ns == CLK_NEVER) {
		PT_CHECK(pthread_cond_wait(cv, mu));
		return 0;
	}
	until = clk_timespec(deadline_ns);
	err = pthread_cond_timedwait(cv, mu, &until);
	if (err == ETIMEDOUT)
		return -ETIMEDOUT;
	if (err)
		pt_fail(err, "pthread_cond_timedwait", __FILE__, __LINE__);
	return 0;
}
