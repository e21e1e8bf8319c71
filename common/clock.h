/*
 * clock.h - monotonic time, sleeping, absolute deadlines and timed waits.
 *
 * Every duration in the workbook is measured on CLOCK_MONOTONIC, which never
 * jumps when the wall clock is changed.  Times are int64_t nanoseconds since
 * an arbitrary origin; only differences and comparisons mean anything.
 *
 * Deadlines are absolute: turn a timeout into one with clk_deadline_ms()
 * when the wait starts, then hand the same value to every timed wait, so
 * that spurious wake-ups and retries never stretch the total time waited.
 * CLK_NEVER is the deadline of a wait without a time limit.
 *
 * Every timed wait on a condition variable goes through
 * clk_cond_wait_until(), on a variable made by clk_cond_init():
 *
 *	int64_t deadline = clk_deadline_ms(timeout_ms);   // once
 *	int err = 0;
 *
 *	pthread_mutex_lock(&mu);
 *	while (!ready && !err)
 *		err = clk_cond_wait_until(&cv, &mu, deadline);
 *	// ready, or err == -ETIMEDOUT and still not ready
 */
#ifndef WB_CLOCK_H
#define WB_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CLK_NS_PER_MS INT64_C(1000000)
#define CLK_NS_PER_SEC INT64_C(1000000000)

/* A deadline that never comes: a wait until CLK_NEVER has no time limit. */
#define CLK_NEVER INT64_MAX

/* Now, in nanoseconds on CLOCK_MONOTONIC. */
int64_t clk_now_ns(void);

/* Seconds elapsed since @start_ns (a value from clk_now_ns()). */
double clk_since(int64_t start_ns);

/*
 * Sleep for @ms milliseconds, resuming after signals until the time is up.
 * Returns at once when @ms is zero or negative.
 */
void clk_sleep_ms(long ms);

/* Sleep until the absolute monotonic time @deadline_ns. */
void clk_sleep_until(int64_t deadline_ns);

/*
 * The deadline of a wait of @timeout_ms milliseconds that starts now: an
 * absolute monotonic time.  A negative @timeout_ms means "no time limit",
 * like Python's timeout=None, and gives CLK_NEVER; so does a timeout that
 * ends beyond what the clock can count (about 292 years of uptime).
 * Zero gives now: a wait that only looks and does not block.
 */
int64_t clk_deadline_ms(long timeout_ms);

/* True once the monotonic clock has reached @deadline_ns. */
bool clk_passed(int64_t deadline_ns);

/* Convert an absolute monotonic time to the timespec pthread calls take. */
struct timespec clk_timespec(int64_t ns);

/*
 * Initialise @cv so that its timed waits measure their deadline on
 * CLOCK_MONOTONIC (the default is the wall clock).  Returns 0 or an errno.
 */
int clk_cond_init(pthread_cond_t *cv);

/*
 * Wait once on @cv, made by clk_cond_init(), releasing @mu while asleep:
 * the caller holds @mu, and holds it again on return.  Returns 0 when the
 * wait ended before @deadline_ns (a signal, a broadcast, or a spurious
 * wake-up: the caller looks at its condition again), or -ETIMEDOUT once the
 * deadline has passed; at CLK_NEVER it has no time limit and returns only
 * 0.  One call is one wait: the caller's while loop decides whether to wait
 * again, with the same deadline.  Blocks; other failures abort.
 */
int clk_cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t deadline_ns);

#endif
