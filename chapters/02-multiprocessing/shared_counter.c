/*
 * shared_counter - N processes add 1 to one counter in shared memory, M
 * times each.
 *
 * The counter is mapped MAP_SHARED before fork(), so every process adds to
 * the same memory (shm_counter.h).  One row per --mode:
 *   unlocked  a plain long, no synchronisation: updates are lost (the
 *             deliberate race of this chapter, as race_counter's is in
 *             chapter 00)
 *   robust    a process-shared, robust pthread mutex (exercise 02-robust)
 *   atomic    a C11 atomic_long: one indivisible instruction
 *   kill      a process holding the robust lock is killed by SIGKILL
 *             midway through an add; the processes waiting for the lock
 *             recover it, roll the half-done add back, and count exactly
 * Each row prints the count it expected, the count it got and the time.
 */
#define _GNU_SOURCE /* pipe2, sigabbrev_np */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "kids.h"
#include "shm_counter.h"

enum mode { MODE_UNLOCKED, MODE_ROBUST, MODE_ATOMIC, MODE_KILL, MODE_ALL };
static const char *const mode_names[] = { "unlocked", "robust", "atomic", "kill", "all", NULL };

#define MAX_PROCS 64

/* How long the kill row waits for the lock to be recovered. */
#define RECOVERY_LIMIT_MS 10000

/*
 * The deliberately racy counter: processes load, add and store it with no
 * synchronisation.  `volatile` only stops the compiler from folding the
 * loop into one addition; it makes nothing atomic.
 */
struct racy {
	volatile long value;
};

/* Everything a row's children share: mapped before they are forked. */
struct row {
	enum mode mode;
	long ops;
	struct racy *racy;
	struct shm_counter *robust;
	struct shm_atomic *atomic;
	int start[2];		 /* the adders wait until its write end closes */
	int held[2], release[2]; /* the kill row's holder and the parent */
};

/*
 * Fork a child that runs @fn(@r) and exits.  It dies with its parent,
 * however the parent ends (kids.h), so that Ctrl-C leaves no process
 * adding behind it.
 */
static pid_t spawn(int (*fn)(struct row *), struct row *r)
{
	pid_t pid = kids_fork();

	if (pid < 0)
		die_errno((int)-pid, "fork");
	if (pid == 0)
		_exit(fn(r));
	return pid;
}

static int add_ops(struct row *r)
{
	char byte;

	/*
	 * Wait at the start line until every adder exists, so that they all
	 * add at once: a process that finished before the next one was
	 * forked would lose nothing, even unlocked.  read() sleeps until the
	 * parent closes the pipe's write end.
	 */
	close(r->start[1]);
	while (read(r->start[0], &byte, 1) < 0 && errno == EINTR)
		;
	for (long i = 0; i < r->ops; i++) {
		switch (r->mode) {
		case MODE_UNLOCKED:
			r->racy->value++;
			break;
		case MODE_ATOMIC:
			shm_atomic_add(r->atomic, 1);
			break;
		default:
			if (shm_counter_add(r->robust, 1) != 0)
				return 1;
		}
	}
	return 0;
}

/*
 * The kill row's holder.  Midway through its add - the value changed, the
 * add not committed - it tells the parent it holds the lock and waits
 * there for the SIGKILL the parent then sends.
 */
static void hold_here(void *arg)
{
	struct row *r = arg;
	char byte = 'H';

	if (write(r->held[1], &byte, 1) != 1)
		_exit(1);
	while (read(r->release[0], &byte, 1) < 0 && errno == EINTR)
		;
	_exit(1); /* released without being killed: the parent has gone */
}

static int hold_and_die(struct row *r)
{
	close(r->held[0]);
	close(r->release[1]);
	return shm_counter_add_midway(r->robust, 1000, hold_here, r) ? 1 : 0;
}

/* Reap @pid by @deadline: 0 and its status, or -ETIMEDOUT with it running. */
static int reap_by(pid_t pid, int64_t deadline, int *status)
{
	int rc = kids_reap_by(pid, deadline, status);

	if (rc && rc != -ETIMEDOUT)
		die_errno(-rc, "cannot reap process %d", (int)pid);
	return rc;
}

/* Reap @n children by @deadline; kill and reap the rest.  How many failed. */
static int reap_all(pid_t *pids, int n, int64_t deadline, int *late)
{
	int failed = 0, status;

	*late = 0;
	for (int i = 0; i < n; i++) {
		if (reap_by(pids[i], deadline, &status) == -ETIMEDOUT) {
			int rc = kids_kill(pids[i], &status);

			if (rc)
				die_errno(-rc, "cannot kill process %d", (int)pids[i]);
			++*late;
		}
		failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	return failed;
}

static void *map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die_errno(errno, "mmap");
	return p;
}

/* Start the kill row's holder and wait until it holds the lock midway. */
static pid_t start_holder(struct row *r)
{
	pid_t pid;
	char byte;
	ssize_t n;

	if (pipe2(r->held, O_CLOEXEC) != 0 || pipe2(r->release, O_CLOEXEC) != 0)
		die_errno(errno, "pipe2");
	pid = spawn(hold_and_die, r);
	close(r->held[1]);
	close(r->release[0]);
	do
		n = read(r->held[0], &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		die("the holder ended before it held the lock (is shm_counter_add_midway done?)");
	return pid;
}

static long read_total(struct row *r)
{
	long total;
	int rc;

	switch (r->mode) {
	case MODE_UNLOCKED:
		return r->racy->value;
	case MODE_ATOMIC:
		return shm_atomic_get(r->atomic);
	default:
		rc = shm_counter_get(r->robust, &total);
		if (rc)
			die_errno(-rc, "shm_counter_get");
		return total;
	}
}

/* Run one mode to the end and print its line. */
static void run_mode(enum mode mode, int procs, long ops)
{
	struct row r = { .mode = mode, .ops = ops };
	pid_t *pids = xcalloc((size_t)procs, sizeof(*pids)), holder = 0;
	long expected = (long)procs * ops, counted;
	int64_t t0, deadline = CLK_NEVER;
	int rc, failed, late, status;

	r.racy = map_shared(sizeof(*r.racy));
	rc = shm_atomic_new(&r.atomic);
	if (!rc)
		rc = shm_counter_new(&r.robust);
	if (rc)
		die_errno(-rc, "a counter in shared memory");
	if (mode == MODE_KILL)
		holder = start_holder(&r);
	if (pipe2(r.start, O_CLOEXEC) != 0)
		die_errno(errno, "pipe2");
	for (int i = 0; i < procs; i++)
		pids[i] = spawn(add_ops, &r);
	t0 = clk_now_ns();
	close(r.start[1]); /* go */
	close(r.start[0]);
	if (mode == MODE_KILL) {
		/* The adders queue up behind the holder, which dies holding the lock. */
		kill(holder, SIGKILL);
		reap_by(holder, CLK_NEVER, &status);
		close(r.held[0]);
		close(r.release[1]);
		deadline = clk_deadline_ms(RECOVERY_LIMIT_MS);
	}
	failed = reap_all(pids, procs, deadline, &late);
	if (late)
		die("%d of %d processes were still waiting for the lock %d s after its holder "
		    "died: it was never recovered (is the mutex robust?)",
		    late, procs, RECOVERY_LIMIT_MS / 1000);
	if (failed)
		die("%d of %d processes failed to add", failed, procs);
	counted = read_total(&r);
	printf("%-8s  expected=%ld counted=%ld lost=%ld time=%.3fs", mode_names[mode], expected,
	       counted, expected - counted, clk_since(t0));
	if (mode == MODE_UNLOCKED)
		printf("   (racy on purpose)");
	if (mode == MODE_KILL)
		printf(" holder=%d killed by SIG%s mid-add of 1000, rolled back", (int)holder,
		       WIFSIGNALED(status) ? sigabbrev_np(WTERMSIG(status)) : "nothing");
	printf("\n");
	shm_counter_free(r.robust);
	shm_atomic_free(r.atomic);
	munmap(r.racy, sizeof(*r.racy));
	free(pids);
}

static void usage(void)
{
	printf("usage: shared_counter [--mode unlocked|robust|atomic|kill|all] [--procs N] "
	       "[--ops M]\n"
	       "\n"
	       "N processes each add 1 to one counter in shared memory M times, then the\n"
	       "total is compared with N * M.\n"
	       "  --mode MODE   unlocked: no synchronisation (a deliberate race: updates\n"
	       "                are lost); robust: a process-shared robust mutex; atomic:\n"
	       "                a C11 atomic; kill: the robust mutex, while its holder is\n"
	       "                killed by SIGKILL midway through an add; all: each in turn\n"
	       "                (default)\n"
	       "  --procs N     processes, 1 to 64 (default 4)\n"
	       "  --ops M       increments per process, 1 to 10000000 (default 1000000)\n"
	       "  --help        this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "procs", required_argument, NULL, 'p' },
		{ "ops", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum mode mode = MODE_ALL;
	int procs = 4, c;
	long ops = 1000000;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'm':
			mode = (enum mode)arg_choice("--mode", optarg, mode_names);
			break;
		case 'p':
			procs = (int)arg_long("--procs", optarg, 1, MAX_PROCS);
			break;
		case 'o':
			ops = arg_long("--ops", optarg, 1, 10000000);
			break;
		case 'h':
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);

	printf("%d processes x %ld increments of one counter in shared memory\n", procs, ops);
	if (mode == MODE_ALL) {
		for (enum mode m = MODE_UNLOCKED; m < MODE_ALL; m++)
			run_mode(m, procs, ops);
	} else {
		run_mode(mode, procs, ops);
	}
	return 0;
}
