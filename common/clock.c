#include "clock.h"

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
	clk_sleep_until(clk_deadline_ms(ms));
}

int64_t clk_deadline_ms(long ms)
{
	int64_t now = clk_now_ns();

	/* Saturate instead of overflowing: a huge timeout means "never". */
	if (ms > (CLK_NEVER - now) / CLK_NS_PER_MS)
		return CLK_NEVER;
	return now + (int64_t)ms * CLK_NS_PER_MS;
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
