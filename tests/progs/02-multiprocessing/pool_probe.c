/*
 * pool_probe.c - the process pool's promises, one scene per --case:
 *
 *   order      task 0 is held until tasks 1 and 2 have been answered (the
 *              pool sends task 3, which opens task 0's gate, only to a
 *              worker that answered its last chunk); map still returns
 *              every result in input order
 *   chunksize  Python's rule, and the number of chunk frames map sends
 *   death      a task's worker dies by SIGKILL mid-chunk: that task's
 *              error names the pid, the signal and the task; every other
 *              result arrives; the dead worker is reaped and replaced
 *   crash      likewise for a worker that aborts (SIGABRT)
 *   wait       map waiting on busy workers sleeps in poll
 *   parallel   two tasks meet each other (both running at once); exactly
 *              N worker processes exist
 *   unordered  imap_unordered hands results out in finishing order: the
 *              probe opens the gates of tasks 3, 2, 1, 0 one by one
 *   async      get() times out on one deadline while the task is blocked,
 *              then returns its result once the probe opens its gate
 *   interrupt  the wakeup descriptor ends map with -EINTR; terminate
 *              leaves no worker behind
 *   lifecycle  bad arguments, map after close, join
 *
 * The orders are forced with pipes made before the pool forks, so that
 * the workers inherit them: a task waits for a byte on its gate (with a
 * time limit, so a broken pool fails instead of hanging) and another task
 * or the probe writes it.  A watchdog (a timerfd as the pool's wakeup
 * descriptor) ends any map that would hang with -EINTR.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD in usage.h */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../cases.h"
#include "../usage.h"
#include "args.h"
#include "check.h"
#include "clock.h"
#include "procpool.h"

#define GATES 8
#define GATE_MS 3000
#define WATCHDOG_S 6

/* Pipes the workers inherit: gate[i][0] is read by a task, [1] written. */
static int gate[GATES][2];

enum action { ECHO, OPENER, KILL9, ABORT, SLEEP, MEET, GATED };

struct job {
	int32_t index, action, arg;
};

static const char *errname(int rc)
{
	static char buf[32];

	switch (rc) {
	case 0:
		return "0";
	case -EINTR:
		return "-EINTR";
	case -ECHILD:
		return "-ECHILD";
	case -ETIMEDOUT:
		return "-ETIMEDOUT";
	case -ESHUTDOWN:
		return "-ESHUTDOWN";
	case -EINVAL:
		return "-EINVAL";
	case -EALREADY:
		return "-EALREADY";
	case -ENOSYS:
		return "-ENOSYS";
	}
	snprintf(buf, sizeof(buf), "%d", rc);
	return buf;
}

static bool gate_wait(int g)
{
	struct pollfd pfd = { .fd = gate[g][0], .events = POLLIN };
	unsigned char b;

	return poll(&pfd, 1, GATE_MS) == 1 && read(gate[g][0], &b, 1) == 1;
}

static void gate_open(int g)
{
	if (write(gate[g][1], "x", 1) != 1)
		die_errno(errno, "gate write");
}

/* The task: do what the job says, then answer "r<index>:<pid>". */
static int probe_task(const void *in, size_t len, struct pp_out *out)
{
	struct job j;
	char buf[64];

	if (len != sizeof(j))
		return -EINVAL;
	memcpy(&j, in, sizeof(j));
	switch (j.action) {
	case OPENER:
		gate_open(j.arg);
		break;
	case KILL9:
		kill(getpid(), SIGKILL);
		break;
	case ABORT:
		abort();
	case SLEEP:
		clk_sleep_ms(j.arg);
		break;
	case MEET: /* say I started, then wait until the other one has */
		gate_open(j.index);
		if (!gate_wait(1 - j.index)) {
			pp_out_error(out, "task %d: the other task never started", j.index);
			return -ETIMEDOUT;
		}
		break;
	case GATED:
		if (!gate_wait(j.arg == 0 ? 0 : j.index)) {
			pp_out_error(out, "task %d: the gate never opened", j.index);
			return -ETIMEDOUT;
		}
		break;
	}
	snprintf(buf, sizeof(buf), "r%d:%d", j.index, (int)getpid());
	return pp_out_write(out, buf, strlen(buf));
}

static struct procpool *new_pool(int workers)
{
	struct itimerspec its = { .it_value = { .tv_sec = WATCHDOG_S } };
	struct procpool *p;
	int rc, tfd;

	for (int i = 0; i < GATES; i++)
		if (pipe(gate[i]) != 0)
			die_errno(errno, "pipe");
	rc = procpool_new(&p, workers);
	if (rc)
		die("procpool_new: %s", procpool_strerror(rc));
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) != 0)
		die_errno(errno, "timerfd");
	procpool_set_wakeup_fd(p, tfd);
	return p;
}

/* Run @n jobs of @action (with @arg) through map and print what came back. */
static int run_map(struct procpool *p, int n, const enum action act[], int arg, size_t chunksize,
		   struct pp_result *res)
{
	struct job *jobs = xcalloc((size_t)n, sizeof(*jobs));
	struct pp_blob *in = xcalloc((size_t)n, sizeof(*in));
	int rc;

	for (int i = 0; i < n; i++) {
		jobs[i] = (struct job){ i, act[i], arg };
		in[i] = (struct pp_blob){ &jobs[i], sizeof(jobs[i]) };
	}
	rc = procpool_map(p, probe_task, in, (size_t)n, chunksize, res);
	printf("map=%s results=", errname(rc));
	for (int i = 0; i < n; i++) {
		const char *d = res[i].data ? (const char *)res[i].data : "?";

		if (res[i].err)
			printf("%s%s", i ? "," : "", errname(res[i].err));
		else
			printf("%s%.*s", i ? "," : "", (int)strcspn(d, ":"), d);
	}
	printf("\n");
	free(in);
	free(jobs);
	return rc;
}

static void release(struct pp_result *res, int n)
{
	for (int i = 0; i < n; i++)
		pp_result_release(&res[i]);
}

/* How many children this process has, and how many of them are zombies. */
static void count_children(int *alive, int *zombies)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int me = (int)getpid();

	*alive = *zombies = 0;
	if (!d)
		die_errno(errno, "/proc");
	while ((e = readdir(d))) {
		char path[300], line[512], state;
		const char *close_paren;
		int ppid;
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f) && (close_paren = strrchr(line, ')')) &&
		    sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == me) {
			if (state == 'Z')
				++*zombies;
			else
				++*alive;
		}
		fclose(f);
	}
	closedir(d);
}

static void print_children(const struct procpool *p)
{
	int alive, zombies, live_pids = 0;

	count_children(&alive, &zombies);
	for (int i = 0; p && i < procpool_size(p); i++)
		live_pids += procpool_pid(p, i) > 0 && kill(procpool_pid(p, i), 0) == 0;
	printf("children=%d zombies=%d pool_alive=%d\n", alive, zombies, live_pids);
}

static void case_order(void)
{
	enum action act[4] = { GATED, ECHO, ECHO, OPENER };
	struct pp_result res[4];
	struct procpool *p = new_pool(2);

	run_map(p, 4, act, 0, 1, res);
	release(res, 4);
	procpool_free(p);
}

static void case_chunksize(void)
{
	enum action act[10] = { ECHO, ECHO, ECHO, ECHO, ECHO, ECHO, ECHO, ECHO, ECHO, ECHO };
	struct pp_result res[10];
	struct procpool_stats st;
	struct procpool *p = new_pool(2);

	printf("rule=%zu,%zu,%zu,%zu,%zu\n", procpool_chunksize(100, 4), procpool_chunksize(1, 8),
	       procpool_chunksize(16, 4), procpool_chunksize(17, 4), procpool_chunksize(10, 2));
	run_map(p, 10, act, 0, 0, res);
	release(res, 10);
	procpool_stats(p, &st);
	printf("default_chunks=%lu\n", st.chunks_sent);
	run_map(p, 7, act, 0, 3, res);
	release(res, 7);
	procpool_stats(p, &st);
	printf("chunks_of_3=%lu\n", st.chunks_sent - 5);
	procpool_free(p);
}

static void death(enum action how)
{
	enum action act[6] = { ECHO, how, ECHO, ECHO, ECHO, ECHO };
	struct pp_result res[6];
	struct procpool_stats st;
	struct procpool *p = new_pool(2);
	pid_t before[2] = { procpool_pid(p, 0), procpool_pid(p, 1) };

	/* Chunks of 3: the dead worker had tasks 0 and 2 in its chunk as well. */
	run_map(p, 6, act, 0, 3, res);
	printf("message=%s\n", res[1].msg);
	printf("pids_before=%d,%d\n", (int)before[0], (int)before[1]);
	release(res, 6);
	procpool_stats(p, &st);
	printf("lost=%lu forked=%lu\n", st.lost, st.forked);
	print_children(p);
	/* The pool keeps working with its replacement. */
	act[1] = ECHO;
	run_map(p, 6, act, 0, 1, res);
	release(res, 6);
	procpool_free(p);
	print_children(NULL);
}

static void case_death(void)
{
	death(KILL9);
}

static void case_crash(void)
{
	death(ABORT);
}

static void case_wait(void)
{
	enum action act[2] = { SLEEP, SLEEP };
	struct pp_result res[2];
	struct procpool *p = new_pool(2);
	struct usage before, after;

	before = usage_now();
	run_map(p, 2, act, 400, 1, res);
	after = usage_now();
	usage_print("map", before, after);
	printf("\n");
	release(res, 2);
	procpool_free(p);
}

static void case_parallel(void)
{
	enum action act[10] = { MEET, MEET, ECHO, ECHO, ECHO, ECHO, ECHO, ECHO, ECHO, ECHO };
	struct pp_result res[8];
	struct procpool *p = new_pool(3);
	char seen[8][16];
	int distinct = 0;

	print_children(p);
	run_map(p, 2, act, 0, 1, res);
	release(res, 2);
	/* Eight quick tasks, one per chunk: which processes answered? */
	run_map(p, 8, act + 2, 0, 1, res);
	for (int i = 0; i < 8; i++) {
		const char *pid = res[i].data ? strchr((char *)res[i].data, ':') : NULL;
		bool known = false;

		snprintf(seen[distinct], sizeof(seen[0]), "%s", pid ? pid + 1 : "?");
		for (int k = 0; k < distinct; k++)
			known |= strcmp(seen[k], seen[distinct]) == 0;
		distinct += !known;
	}
	release(res, 8);
	printf("distinct_pids=%d\n", distinct);
	procpool_free(p);
}

static void case_unordered(void)
{
	struct job jobs[4];
	struct pp_blob in[4];
	struct procpool *p = new_pool(4);
	struct pp_iter *it;
	struct pp_result r;
	size_t index;
	int rc;

	/* arg 1: each task waits on the gate of its own index. */
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){ i, GATED, 1 };
		in[i] = (struct pp_blob){ &jobs[i], sizeof(jobs[i]) };
	}
	rc = procpool_imap_unordered(p, probe_task, in, 4, 1, &it);
	if (rc)
		die("imap_unordered: %s", procpool_strerror(rc));
	printf("unordered=");
	for (int g = 3; g >= -1; g--) {
		if (g >= 0)
			gate_open(g);
		rc = pp_iter_next(it, &index, &r);
		if (rc != 1)
			break;
		printf("%zu%s,", index, r.err ? "!" : "");
		pp_result_release(&r);
	}
	printf(" end=%s\n", errname(rc));
	pp_iter_free(it);
	procpool_free(p);
}

static void case_async(void)
{
	struct job j = { 0, GATED, 0 };
	struct procpool *p = new_pool(1);
	struct pp_async *a;
	struct pp_result r;
	int64_t start;
	int rc;

	rc = procpool_apply_async(p, probe_task, &j, sizeof(j), &a);
	if (rc)
		die("apply_async: %s", procpool_strerror(rc));
	start = clk_now_ns();
	rc = pp_async_get(a, 200, &r);
	printf("first=%s first_s=%.3f\n", errname(rc), clk_since(start));
	gate_open(0);
	rc = pp_async_get(a, -1, &r);
	printf("second=%s value=%.2s\n", errname(rc), rc == 0 && r.data ? (char *)r.data : "?");
	if (rc == 0)
		pp_result_release(&r);
	printf("third=%s\n", errname(pp_async_get(a, 0, &r)));
	pp_async_free(a);
	procpool_free(p);
}

static void case_interrupt(void)
{
	enum action act[2] = { GATED, GATED };
	struct pp_result res[2];
	struct procpool *p = new_pool(2);
	pid_t pids[2] = { procpool_pid(p, 0), procpool_pid(p, 1) };
	int wake[2];

	if (pipe(wake) != 0 || write(wake[1], "x", 1) != 1)
		die_errno(errno, "pipe");
	procpool_set_wakeup_fd(p, wake[0]);
	run_map(p, 2, act, 0, 1, res);
	release(res, 2);
	procpool_terminate(p);
	printf("gone=%d\n", kill(pids[0], 0) != 0 && kill(pids[1], 0) != 0);
	print_children(p);
	procpool_free(p);
}

static void case_lifecycle(void)
{
	enum action act[3] = { ECHO, ECHO, ECHO };
	struct pp_result res[3];
	struct procpool *p = NULL;

	printf("new0=%s ", errname(procpool_new(&p, 0)));
	printf("new_too_many=%s ", errname(procpool_new(&p, PROCPOOL_MAX_WORKERS + 1)));
	p = new_pool(2);
	printf("nofn=%s\n", errname(procpool_map(p, NULL, NULL, 0, 0, res)));
	run_map(p, 3, act, 0, 0, res);
	release(res, 3);
	procpool_close(p);
	run_map(p, 3, act, 0, 0, res);
	release(res, 3);
	printf("join=%s\n", errname(procpool_join(p)));
	print_children(p);
	procpool_free(p);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "order",	  "chunksize", "death",	    "crash",
					     "wait",	  "parallel",  "unordered", "async",
					     "interrupt", "lifecycle", NULL };
	static void (*const run[])(void) = { case_order,     case_chunksize, case_death,
					     case_crash,     case_wait,	     case_parallel,
					     case_unordered, case_async,     case_interrupt,
					     case_lifecycle };
	return probe_main(argc, argv, names, run);
}
