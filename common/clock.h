/*
 * clock.h - monotonic time, sleeping and absolute deadlines.
 *
 * Every duration in the workbook is measured on CLOCK_MONOTONIC, which never
 * jumps when the wall clock is changed.  Times are int64_t nanoseconds since
 * an arbitrary origin; only differences and comparisons mean anything.
 *
 * Deadlines are absolute: compute one with clk_deadline_ms() when the wait
 * starts, then hand the same value to every timed wait, so that spurious
 * wake-ups and retries never stretch the total time waited.
 */
#ifndef WB_CLOCK_H
#define WB_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CLK_NS_PER_MS INT64_C(1000000)
#define CLK_NS_PER_SEC INT64_C(1000000000)

/* A deadline that never comes; clk_deadline_ms() saturates to it. */
#define CLK_NEVER INT64_MAX

/* Now, in nanoseconds on CLOCK_MONOTONIC. */
int64_t clk_now_ns(void);

/* Seconds elapsed since @start_ns (a value from clk_now_ns()). */
double clk_since(int64_t start_ns);

/* Sleep for @ms milliseconds, resuming after signals until the time is up. */
void clk_sleep_ms(long ms);

/* Sleep until the absolute monotonic time @deadline_ns. */
void clk_sleep_until(int64_t deadline_ns);

/*
 * The absolute monotonic time @ms milliseconds from now, or CLK_NEVER when
 * that lies beyond what the clock can count (about 292 years of uptime).
 */
int64_t clk_deadline_ms(long ms);

/* True once the monotonic clock has reached @deadline_ns. */
bool clk_passed(int64_t deadline_ns);

/* Convert an absolute monotonic time to the timespec pthread calls take. */
struct timespec clk_timespec(int64_t ns);

/*
 * Initialise @cv so that pthread_cond_timedwait() measures its deadline on
 * CLOCK_MONOTONIC (the default is the wall clock).  Returns 0 or an errno.
 */
int clk_cond_init(pthread_cond_t *cv);

#endif
