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

#include "../gate.h"
#include "../usage.h"
#include "check.h"
#include "clock.h"

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
