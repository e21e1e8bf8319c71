/*
 * usage.h - what a waiting thread spent, for the test drivers that check
 * that a blocked call sleeps.  RUSAGE_THREAD is Linux's: a driver that
 * includes this defines _GNU_SOURCE before its first #include.
 */
#ifndef WB_USAGE_H
#define WB_USAGE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "clock.h"

/*
 * What the calling thread has used so far: wall time, its own CPU time,
 * and how many times it went to sleep (voluntary context switches).  A
 * thread blocked on a condition variable sleeps once and uses no CPU until
 * it is woken; a thread that polls, even with short sleeps between looks,
 * shows up in one column or the other.
 */
struct usage {
	int64_t wall_ns;
	int64_t cpu_ns;
	long wakeups;
};

static inline struct usage usage_now(void)
{
	struct usage u = { .wall_ns = clk_now_ns() };
	struct timespec ts;
	struct rusage ru;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		die_errno(errno, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		die_errno(errno, "getrusage(RUSAGE_THREAD)");
	u.cpu_ns = (int64_t)ts.tv_sec * CLK_NS_PER_SEC + ts.tv_nsec;
	u.wakeups = ru.ru_nvcsw;
	return u;
}

/* Print "PREFIX_ms=... PREFIX_cpu_ms=... PREFIX_wakeups=..." for a call. */
static inline void usage_print(const char *prefix, struct usage before, struct usage after)
{
	printf("%s_ms=%.1f %s_cpu_ms=%.2f %s_wakeups=%ld", prefix,
	       (double)(after.wall_ns - before.wall_ns) / CLK_NS_PER_MS, prefix,
	       (double)(after.cpu_ns - before.cpu_ns) / CLK_NS_PER_MS, prefix,
	       after.wakeups - before.wakeups);
}

#endif
