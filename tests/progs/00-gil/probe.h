/*
 * probe.h - small helpers shared by chapter 00's test drivers.
 *
 * The drivers print facts as "key=value" and leave the judging to
 * tests/00-gil.bats.  They must end even when the exercise under test is
 * a skeleton or wrong, so every wait of their own has a time limit, and a
 * watchdog ends a case whose library call never returns, with a message.
 */
#ifndef WB_PROBE00_H
#define WB_PROBE00_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"

/* How long a gate may stay shut before a driver gives up on it. */
#define GATE_LIMIT_MS 5000

/* "0", "-EINVAL", ...: the codes the chapter's contracts name. */
static inline const char *errname(int rc)
{
	switch (rc) {
	case 0:
		return "0";
	case -EINVAL:
		return "-EINVAL";
	case -ENOMEM:
		return "-ENOMEM";
	case -EAGAIN:
		return "-EAGAIN";
	}
	return "other";
}

/* A gate: shut until opened, then open for good.  Waits are bounded. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool open;
};

static inline void gate_init(struct gate *g)
{
	PT_CHECK(pthread_mutex_init(&g->lock, NULL));
	PT_CHECK(clk_cond_init(&g->cv));
	g->open = false;
}

static inline void gate_destroy(struct gate *g)
{
	PT_CHECK(pthread_cond_destroy(&g->cv));
	PT_CHECK(pthread_mutex_destroy(&g->lock));
}

static inline void gate_open(struct gate *g)
{
	PT_CHECK(pthread_mutex_lock(&g->lock));
	g->open = true;
	PT_CHECK(pthread_cond_broadcast(&g->cv));
	PT_CHECK(pthread_mutex_unlock(&g->lock));
}

/* Wait until @g opens: true, or false after GATE_LIMIT_MS. */
static inline bool gate_wait(struct gate *g)
{
	int64_t deadline = clk_deadline_ms(GATE_LIMIT_MS);
	int rc = 0;
	bool open;

	PT_CHECK(pthread_mutex_lock(&g->lock));
	while (!g->open && !rc)
		rc = clk_cond_wait_until(&g->cv, &g->lock, deadline);
	open = g->open;
	PT_CHECK(pthread_mutex_unlock(&g->lock));
	return open;
}

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

/* Milliseconds from @from to @to, both clk_now_ns() values. */
static inline double ms_between(int64_t from, int64_t to)
{
	return (double)(to - from) / CLK_NS_PER_MS;
}

static inline void probe_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	int err = pthread_create(t, NULL, fn, arg);

	if (err)
		die_errno(err, "pthread_create");
}

/*
 * The watchdog: a case still running after @seconds is stuck in a call
 * that never returns.  Say so in one line and exit with status 3, so the
 * check fails with a message rather than being killed by its timeout.
 */
static const char *watchdog_case = "";

static void watchdog_fire(int sig)
{
	static const char msg[] = ": a call into the exercise never returned "
				  "(a wait that nothing ends?); stopped by the "
				  "driver's watchdog\n";
	const char *name = wb_progname();

	(void)sig;
	/* Only async-signal-safe calls here: write() and _exit(). */
	if (write(STDERR_FILENO, name, strlen(name)) < 0 ||
	    write(STDERR_FILENO, " --case ", 8) < 0 ||
	    write(STDERR_FILENO, watchdog_case, strlen(watchdog_case)) < 0 ||
	    write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

static inline void watchdog_start(const char *case_name, unsigned seconds)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog_fire;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		die_errno(errno, "sigaction(SIGALRM)");
	watchdog_case = case_name;
	/* Output written so far must survive the _exit() above. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(seconds);
}

#endif
