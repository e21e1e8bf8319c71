/*
 * cost_of_concurrency.c - what one thread, one process and one coroutine
 * cost on this machine, and how many of each it holds.
 *
 *	cost_of_concurrency [--quick] [--max-threads N] [--max-procs N]
 *	                    [--max-coroutines N]
 *
 * Creation: the mean time to start and finish one unit (pthread_create +
 * join; fork + _exit + waitpid; co_task_start + its first step).  Holding:
 * as many units as --max allows are started and kept alive at once, each
 * blocked until released, and the growth of this process's resident memory
 * (RSS) and address space (VM), from /proc/self/statm, is divided by their
 * number.  A held child's cost is its own RSS (shared pages counted in full,
 * so an upper bound).  The first EAGAIN or ENOMEM stops the count, and the
 * line says which limit it was.
 *
 * Nothing outlives the program: threads are released and joined; a held
 * child blocks reading a pipe whose write end only this process holds, so
 * it reads end-of-file and exits the moment this process is gone, Ctrl-C
 * or SIGKILL included.  The children are forked before any thread starts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"

#define CC_STACK (64 * 1024) /* held threads' stacks: small, as a pool's would be */

/* Resident and virtual size of this process (or @pid's), in bytes. */
static int cc_statm(pid_t pid, long *rss, long *vm)
{
	char path[64];
	long pages_vm, pages_rss, page = sysconf(_SC_PAGESIZE);
	FILE *f;
	int n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/statm");
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fscanf(f, "%ld %ld", &pages_vm, &pages_rss);
	fclose(f);
	if (n != 2)
		return -EIO;
	*rss = pages_rss * page;
	*vm = pages_vm * page;
	return 0;
}

/* Which limit an EAGAIN or ENOMEM at @count units most likely hit. */
static const char *cc_limit(int err, long count, bool procs)
{
	struct rlimit rl;

	if (err == ENOMEM)
		return "memory";
	if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)count + 64 >= rl.rlim_cur)
		return "RLIMIT_NPROC";
	return procs ? "pid_max/threads-max" : "threads-max";
}

struct cc_result {
	double create_us;
	long held;
	long rss_per, vm_per;
	const char *stop; /* "max" or the limit hit */
};

/* ------------------------------------------------------------- processes */

static void cc_procs(long max, long rounds, struct cc_result *r)
{
	pid_t *kids = xcalloc((size_t)max, sizeof(*kids));
	int fds[2], err = 0;
	long rss = 0, vm = 0;
	int64_t start;

	start = clk_now_ns();
	for (long i = 0; i < rounds; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die_errno(errno, "fork");
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, NULL, 0) < 0)
			die_errno(errno, "waitpid");
	}
	r->create_us = clk_since(start) * 1e6 / (double)rounds;

	if (pipe2(fds, O_CLOEXEC) < 0)
		die_errno(errno, "pipe");
	r->stop = "max";
	for (r->held = 0; r->held < max; r->held++) {
		pid_t pid = fork();

		if (pid < 0) {
			err = errno;
			if (err != EAGAIN && err != ENOMEM)
				die_errno(err, "fork");
			r->stop = cc_limit(err, r->held, true);
			break;
		}
		if (pid == 0) {
			char b;

			/* End-of-file when the parent closes its end or dies. */
			close(fds[1]);
			while (read(fds[0], &b, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
		kids[r->held] = pid;
	}
	if (r->held > 0 && cc_statm(kids[0], &rss, &vm) == 0) {
		r->rss_per = rss;
		r->vm_per = vm;
	}
	close(fds[1]); /* release them all */
	close(fds[0]);
	for (long i = 0; i < r->held; i++)
		while (waitpid(kids[i], NULL, 0) < 0)
			if (errno != EINTR)
				die_errno(errno, "waitpid");
	free(kids);
}

/* --------------------------------------------------------------- threads */

struct cc_gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
};

static void *cc_nothing(void *arg)
{
	return arg;
}

static void *cc_held(void *arg)
{
	struct cc_gate *g = arg;

	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

static void cc_threads(long max, long rounds, struct cc_result *r)
{
	struct cc_gate g = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	pthread_t *th = xcalloc((size_t)max, sizeof(*th));
	long rss0, vm0, rss1, vm1;
	pthread_attr_t attr;
	int64_t start;
	int rc;

	start = clk_now_ns();
	for (long i = 0; i < rounds; i++) {
		pthread_t t;

		rc = pthread_create(&t, NULL, cc_nothing, NULL);
		if (rc)
			die_errno(rc, "pthread_create");
		pthread_join(t, NULL);
	}
	r->create_us = clk_since(start) * 1e6 / (double)rounds;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CC_STACK);
	if (cc_statm(0, &rss0, &vm0))
		die("cannot read /proc/self/statm");
	r->stop = "max";
	for (r->held = 0; r->held < max; r->held++) {
		rc = pthread_create(&th[r->held], &attr, cc_held, &g);
		if (rc) {
			if (rc != EAGAIN && rc != ENOMEM)
				die_errno(rc, "pthread_create");
			r->stop = cc_limit(rc, r->held, false);
			break;
		}
	}
	pthread_attr_destroy(&attr);
	if (cc_statm(0, &rss1, &vm1))
		die("cannot read /proc/self/statm");
	if (r->held > 0) {
		r->rss_per = (rss1 - rss0) / r->held;
		r->vm_per = (vm1 - vm0) / r->held;
	}
	pthread_mutex_lock(&g.mu);
	g.open = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	for (long i = 0; i < r->held; i++)
		pthread_join(th[i], NULL);
	free(th);
}

/* ------------------------------------------------------------ coroutines */

struct cc_co {
	struct co_task task; /* first: the library finds the frame from it */
	struct co_event *gate;
};

struct cc_co_main {
	struct co_task task;
	struct cc_co *co;
	long n;
	struct co_event gate;
	int64_t start;
	double create_s;
	long rss0, vm0, rss1, vm1;
};

static int cc_co_step(struct co_task *t)
{
	struct cc_co *c = (struct cc_co *)t;
	int err;

	CO_BEGIN(t);
	CO_AWAIT(t, co_event_wait(t, c->gate), &err);
	CO_RETURN(t, err);
	CO_END(t);
}

static int cc_co_main_step(struct co_task *t)
{
	struct cc_co_main *m = (struct cc_co_main *)t;
	int err;

	CO_BEGIN(t);
	co_event_init(&m->gate);
	if (cc_statm(0, &m->rss0, &m->vm0))
		CO_RETURN(t, -EIO);
	m->start = clk_now_ns();
	for (long i = 0; i < m->n; i++) {
		m->co[i].gate = &m->gate;
		co_task_start(co_loop(t), &m->co[i].task, cc_co_step, "held");
	}
	/* One turn of the loop: every task runs its first step to the gate. */
	CO_AWAIT(t, co_sleep(t, 0), &err);
	m->create_s = clk_since(m->start);
	if (cc_statm(0, &m->rss1, &m->vm1))
		CO_RETURN(t, -EIO);
	co_event_set(&m->gate);
	/* Let them all finish before co_run() ends the loop. */
	CO_AWAIT(t, co_sleep(t, 0), &err);
	CO_RETURN(t, err);
	CO_END(t);
}

static void cc_coroutines(long max, struct cc_result *r)
{
	struct cc_co_main m = { .n = max };
	int rc;

	/* The frames, touched now, so their pages are not counted as growth. */
	m.co = xcalloc((size_t)max, sizeof(*m.co));
	memset(m.co, 0, (size_t)max * sizeof(*m.co));
	rc = co_run(&m.task, cc_co_main_step);
	if (rc)
		die("co_run: %s", strerror(-rc));
	r->held = max;
	r->stop = "max";
	r->create_us = m.create_s * 1e6 / (double)max;
	/* A frame is exactly its size; the loop's own growth comes on top. */
	r->rss_per = (long)sizeof(struct cc_co) + (m.rss1 - m.rss0) / max;
	r->vm_per = (long)sizeof(struct cc_co) + (m.vm1 - m.vm0) / max;
	free(m.co);
}

static void usage(void)
{
	printf("usage: %s [--quick] [--max-threads N] [--max-procs N] [--max-coroutines N]\n"
	       "\n"
	       "Measure what one thread, one process and one coroutine (chapter 03's task)\n"
	       "cost to create (microseconds) and to keep (bytes of RSS and of address\n"
	       "space), and how many of each this machine holds at once, up to the --max\n"
	       "given or the first EAGAIN/ENOMEM, whose limit is named.\n"
	       "\n"
	       "  --max-threads N     (1 to 100000, default 10000; threads of 64 KiB stacks)\n"
	       "  --max-procs N       (1 to 20000, default 2000)\n"
	       "  --max-coroutines N  (1 to 10000000, default 1000000)\n"
	       "  --quick             200 threads, 50 processes, 10000 coroutines, fewer rounds\n"
	       "  --help              show this and exit\n",
	       wb_progname());
}

static void row(const char *what, const char *key, const struct cc_result *r)
{
	printf("%-11s %10.2f %12ld %12ld %9ld  %s\n", what, r->create_us, r->rss_per, r->vm_per,
	       r->held, r->stop);
	printf("kind=%s create_us=%.2f rss_bytes=%ld vm_bytes=%ld held=%ld stopped_by=%s\n", key,
	       r->create_us, r->rss_per, r->vm_per, r->held, r->stop);
}

int main(int argc, char **argv)
{
	enum { OPT_QUICK = 1, OPT_THREADS, OPT_PROCS, OPT_COS, OPT_HELP };
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "max-threads", required_argument, NULL, OPT_THREADS },
		{ "max-procs", required_argument, NULL, OPT_PROCS },
		{ "max-coroutines", required_argument, NULL, OPT_COS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long max_t = 0, max_p = 0, max_c = 0, rounds;
	struct cc_result th = { 0 }, pr = { 0 }, co = { 0 };
	bool quick = false;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_QUICK:
			quick = true;
			break;
		case OPT_THREADS:
			max_t = arg_long("--max-threads", optarg, 1, 100000);
			break;
		case OPT_PROCS:
			max_p = arg_long("--max-procs", optarg, 1, 20000);
			break;
		case OPT_COS:
			max_c = arg_long("--max-coroutines", optarg, 1, 10000000);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (!max_t)
		max_t = quick ? 200 : 10000;
	if (!max_p)
		max_p = quick ? 50 : 2000;
	if (!max_c)
		max_c = quick ? 10000 : 1000000;
	rounds = quick ? 50 : 1000;

	/* Processes first: fork while this process has one thread. */
	cc_procs(max_p, rounds, &pr);
	cc_threads(max_t, rounds, &th);
	cc_coroutines(max_c, &co);

	printf("%-11s %10s %12s %12s %9s  %s\n", "unit", "create_us", "rss_bytes", "vm_bytes",
	       "held", "stopped by");
	row("thread", "thread", &th);
	row("process", "process", &pr);
	row("coroutine", "coroutine", &co);
	printf("(thread and coroutine bytes: this process's growth per unit held; process\n"
	       " bytes: one held child's own RSS and address space, shared pages included)\n");
	return 0;
}
