/*
 * shm_probe.c - the promises of shm_counter.h, one scene per --case:
 *
 *   exact          --procs N processes add 1 --ops M times each to one
 *                  robust counter: the total is N * M
 *   hold           a process holds the lock midway through an add for
 *                  WAIT_MS while another waits for it: the waiter sleeps,
 *                  and wakes when the holder lets go
 *   kill           a process is SIGKILLed holding the lock midway through
 *                  an add of 1000: the reader waiting for it recovers the
 *                  lock, sees the add rolled back, and later processes
 *                  add as usual
 *   unrecoverable  a lock recovered and unlocked without being marked
 *                  consistent is unusable for good: add and get say
 *                  -ENOTRECOVERABLE instead of hanging
 *   attrs          the attributes shm_counter_new() makes its mutex with
 *   atomic         --procs N processes add 1 --ops M times each to the
 *                  atomic counter: the total is N * M
 *
 * The driver prints facts as "key=value" for tests/02-multiprocessing-shm.bats
 * to judge.  It must end even when the exercise under test is a skeleton or
 * wrong - a waiter that never wakes, a lock that is never recovered - so
 * each process it waits for gets a deadline, after which it is killed,
 * reaped and reported; orders are forced with pipes, never with sleeps.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD (usage.h), pidfds */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../usage.h"
#include "args.h"
#include "check.h"
#include "clock.h"
#include "shm_counter.h"

#define WAIT_MS 300	     /* how long a holder keeps a waiter waiting */
#define REPORT_LIMIT_MS 5000 /* the longest the driver waits for any process */

static const char *errname(int rc)
{
	static char other[32];

	switch (rc) {
	case 0:
		return "0";
	case -ENOSYS:
		return "-ENOSYS";
	case -ENOTRECOVERABLE:
		return "-ENOTRECOVERABLE";
	case -EOWNERDEAD:
		return "-EOWNERDEAD";
	case -EINVAL:
		return "-EINVAL";
	case -EPERM:
		return "-EPERM";
	case -EDEADLK:
		return "-EDEADLK";
	}
	snprintf(other, sizeof(other), "%d", rc);
	return other;
}

/* ------------------------------------------------------------ children */

/* What a child sends back through its pipe before it exits. */
struct report {
	int rc, rc2;
	long value;
	double cpu_ms, wall_ms;
	long wakeups;
};

struct kid {
	pid_t pid;
	int fd;	   /* the read end of the child's report pipe */
	int pidfd; /* to wait for its end with poll() */
	bool reaped;
};

typedef void kid_fn(struct report *rep, void *arg);

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(4);
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Fork a child that runs @fn, sends its report and leaves with _exit(): it
 * shares the parent's stdio buffers and exit handlers, which are not its
 * own to run.  It dies with the driver, whatever ends the driver.
 */
static struct kid kid_start(kid_fn *fn, void *arg)
{
	struct kid k = { .reaped = false };
	int p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		die_errno(errno, "pipe2");
	fflush(NULL);
	k.pid = fork();
	if (k.pid < 0)
		die_errno(errno, "fork");
	if (k.pid == 0) {
		struct report rep = { .rc = 0 };

		close(p[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
			_exit(4);
		fn(&rep, arg);
		write_all(p[1], &rep, sizeof(rep));
		_exit(0);
	}
	close(p[1]);
	k.fd = p[0];
	k.pidfd = (int)syscall(SYS_pidfd_open, k.pid, 0);
	if (k.pidfd < 0)
		die_errno(errno, "pidfd_open");
	return k;
}

/* Wait until @fd is readable or @deadline passes: true if readable. */
static bool readable_by(int fd, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - clk_now_ns();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n;

		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, (int)((left + CLK_NS_PER_MS - 1) / CLK_NS_PER_MS));
		if (n > 0)
			return true;
		if (n == 0)
			return false;
		if (errno != EINTR)
			die_errno(errno, "poll");
	}
}

/* The child's report, if it sends one by @deadline: true and *@rep. */
static bool kid_report(struct kid *k, int64_t deadline, struct report *rep)
{
	ssize_t n;

	if (!readable_by(k->fd, deadline))
		return false;
	do
		n = read(k->fd, rep, sizeof(*rep));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*rep);
}

/*
 * Reap @k, killing it first if it has not ended by @deadline.  Returns its
 * wait status; *@killed says whether the driver had to kill it.
 */
static int kid_reap(struct kid *k, int64_t deadline, bool *killed)
{
	int status;

	*killed = false;
	if (!readable_by(k->pidfd, deadline)) {
		*killed = true;
		kill(k->pid, SIGKILL);
	}
	while (waitpid(k->pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno(errno, "waitpid");
	close(k->fd);
	close(k->pidfd);
	k->reaped = true;
	return status;
}

/*
 * Wait until @pid is asleep in the kernel (state S in /proc/PID/stat),
 * which for the waiters here means blocked on the lock.  true, or false
 * after REPORT_LIMIT_MS.  Looking every millisecond is the driver's way of
 * watching from outside; the program under test does no such thing.
 */
static bool wait_asleep(pid_t pid)
{
	int64_t deadline = clk_deadline_ms(REPORT_LIMIT_MS);
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (!clk_passed(deadline)) {
		FILE *f = fopen(path, "r");
		char *p = NULL;

		if (f) {
			if (fgets(buf, sizeof(buf), f))
				p = strrchr(buf, ')'); /* the name may hold spaces */
			fclose(f);
		}
		if (p && p[1] == ' ' && p[2] == 'S')
			return true;
		if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
			return false;
		clk_sleep_ms(1);
	}
	return false;
}

/* ------------------------------------------------------------ the holder */

/*
 * The holder stops midway through its add: it tells the driver it holds
 * the lock, then waits for a byte (or the end) on the release pipe, or
 * for the SIGKILL that ends it there.
 */
struct holder {
	struct shm_counter *c;
	long n;
	int held[2], release[2];
};

static void holder_midway(void *arg)
{
	struct holder *h = arg;
	char byte = 'H';
	ssize_t n;

	write_all(h->held[1], &byte, 1);
	do
		n = read(h->release[0], &byte, 1);
	while (n < 0 && errno == EINTR);
}

static void holder_main(struct report *rep, void *arg)
{
	struct holder *h = arg;

	close(h->held[0]);
	close(h->release[1]);
	rep->rc = shm_counter_add_midway(h->c, h->n, holder_midway, h);
}

/*
 * Start a holder of @c adding @n and wait until it holds the lock midway.
 * Returns true, or false (and prints why) if it never got there.
 */
static bool holder_start(struct holder *h, struct kid *k, struct shm_counter *c, long n)
{
	struct report rep;
	bool killed;
	char byte;

	h->c = c;
	h->n = n;
	if (pipe2(h->held, O_CLOEXEC) != 0 || pipe2(h->release, O_CLOEXEC) != 0)
		die_errno(errno, "pipe2");
	*k = kid_start(holder_main, h);
	close(h->held[1]);
	close(h->release[0]);
	if (readable_by(h->held[0], clk_deadline_ms(REPORT_LIMIT_MS)) &&
	    read(h->held[0], &byte, 1) == 1) {
		printf("held=yes ");
		return true;
	}
	/* It returned without reaching the middle, or never returned. */
	if (kid_report(k, clk_deadline_ms(REPORT_LIMIT_MS), &rep))
		printf("held=no holder_rc=%s\n", errname(rep.rc));
	else
		printf("held=no holder_rc=none\n");
	kid_reap(k, clk_deadline_ms(0), &killed);
	close(h->held[0]);
	close(h->release[1]);
	return false;
}

static void holder_done(struct holder *h)
{
	close(h->held[0]);
	close(h->release[1]);
}

/* -------------------------------------------------------------- scenes */

struct adder {
	struct shm_counter *c;
	struct shm_atomic *a;
	long ops, n;
};

static void adder_main(struct report *rep, void *arg)
{
	struct adder *ad = arg;

	for (long i = 0; i < ad->ops && !rep->rc; i++) {
		if (ad->a)
			shm_atomic_add(ad->a, ad->n);
		else
			rep->rc = shm_counter_add(ad->c, ad->n);
	}
}

/* @procs processes add 1 @ops times; print what they added. */
static void case_exact(long procs, long ops, bool atomic)
{
	struct adder ad = { .ops = ops, .n = 1 };
	struct kid *kids = xcalloc((size_t)procs, sizeof(*kids));
	int64_t deadline = clk_deadline_ms(4 * REPORT_LIMIT_MS);
	long finished = 0, failed = 0, total = 0;
	int first_rc = 0, rc = 0;

	if (atomic)
		rc = shm_atomic_new(&ad.a);
	else
		rc = shm_counter_new(&ad.c);
	if (rc)
		die_errno(-rc, "new");
	for (long i = 0; i < procs; i++)
		kids[i] = kid_start(adder_main, &ad);
	for (long i = 0; i < procs; i++) {
		struct report rep;
		bool killed;

		if (kid_report(&kids[i], deadline, &rep)) {
			finished++;
			if (rep.rc && !first_rc)
				first_rc = rep.rc;
			failed += rep.rc != 0;
		}
		kid_reap(&kids[i], deadline, &killed);
	}
	if (atomic)
		total = shm_atomic_get(ad.a);
	else if (finished == procs)
		rc = shm_counter_get(ad.c, &total);
	else
		rc = -EDEADLK; /* a process never finished: the lock may be stuck */
	printf("procs=%ld ops=%ld finished=%ld failed=%ld add_rc=%s get_rc=%s expected=%ld "
	       "counted=%ld\n",
	       procs, ops, finished, failed, errname(first_rc), errname(rc), procs * ops,
	       rc ? -1 : total);
	shm_atomic_free(ad.a);
	shm_counter_free(ad.c);
	free(kids);
}

/* A waiter blocks in get() (and then adds 1); it reports what that cost. */
static void waiter_main(struct report *rep, void *arg)
{
	struct shm_counter *c = arg;
	struct usage before = usage_now(), after;

	rep->rc = shm_counter_get(c, &rep->value);
	after = usage_now();
	rep->cpu_ms = (double)(after.cpu_ns - before.cpu_ns) / CLK_NS_PER_MS;
	rep->wall_ms = (double)(after.wall_ns - before.wall_ns) / CLK_NS_PER_MS;
	rep->wakeups = after.wakeups - before.wakeups;
	rep->rc2 = shm_counter_add(c, 1);
}

static void print_waiter(const struct report *w)
{
	printf("waiter_rc=%s seen=%ld add_rc=%s waiter_ms=%.1f waiter_cpu_ms=%.2f "
	       "waiter_wakeups=%ld ",
	       errname(w->rc), w->value, errname(w->rc2), w->wall_ms, w->cpu_ms, w->wakeups);
}

/*
 * A holder stops midway through an add of 1000 after 5 were added; a
 * waiter blocks on the lock.  Then the holder is released (@kill false)
 * or killed (@kill true), and the waiter must go on within the limit.
 */
static void case_holder(bool kill_it)
{
	struct shm_counter *c;
	struct holder h;
	struct kid holder, waiter;
	struct report w, r;
	bool killed, woke, asleep;
	int rc = shm_counter_new(&c), status;
	long total = -1, expected = 5 + 1;
	int64_t t_end;

	if (rc)
		die_errno(-rc, "shm_counter_new");
	rc = shm_counter_add(c, 5);
	if (rc) {
		printf("first_add_rc=%s\n", errname(rc));
		shm_counter_free(c);
		return;
	}
	if (!holder_start(&h, &holder, c, 1000)) {
		shm_counter_free(c);
		return;
	}
	waiter = kid_start(waiter_main, c);
	asleep = wait_asleep(waiter.pid);
	printf("waiter_asleep=%s ", asleep ? "yes" : "no");
	clk_sleep_ms(WAIT_MS); /* the wait whose cost the waiter measures */
	t_end = clk_now_ns();
	if (kill_it) {
		kill(holder.pid, SIGKILL);
	} else {
		char byte = 'R';

		write_all(h.release[1], &byte, 1);
		expected += 1000;
	}
	status = kid_reap(&holder, clk_deadline_ms(REPORT_LIMIT_MS), &killed);
	printf("holder=%s ", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
	holder_done(&h);
	woke = kid_report(&waiter, clk_deadline_ms(kill_it ? 2000 : REPORT_LIMIT_MS), &w);
	printf("%s=%s after_ms=%.1f ", kill_it ? "recovered" : "woken", woke ? "yes" : "no",
	       (double)(clk_now_ns() - t_end) / CLK_NS_PER_MS);
	kid_reap(&waiter, clk_deadline_ms(0), &killed);
	if (!woke) {
		printf("\n");
		shm_counter_free(c);
		return;
	}
	print_waiter(&w);
	if (kill_it) {
		/* Later lockers: two more processes add 100 each. */
		struct adder ad = { .c = c, .ops = 1, .n = 100 };
		int later = 0;

		for (int i = 0; i < 2; i++) {
			struct kid k = kid_start(adder_main, &ad);

			if (!kid_report(&k, clk_deadline_ms(REPORT_LIMIT_MS), &r))
				r.rc = -EDEADLK;
			kid_reap(&k, clk_deadline_ms(0), &killed);
			if (r.rc && !later)
				later = r.rc;
			expected += 100;
		}
		printf("later_rc=%s ", errname(later));
	}
	rc = shm_counter_get(c, &total);
	printf("get_rc=%s expected=%ld counted=%ld\n", errname(rc), expected, total);
	shm_counter_free(c);
}

/* Die holding the lock; taken directly, as a crashed caller would have. */
static void die_holding(struct report *rep, void *arg)
{
	struct shm_counter *c = arg;

	rep->rc = -pthread_mutex_lock(&c->lock);
	if (rep->rc == 0)
		_exit(0); /* no unlock, no report: the lock's owner is gone */
}

/* Recover the lock, then unlock it without marking it consistent. */
static void poison(struct report *rep, void *arg)
{
	struct shm_counter *c = arg;

	rep->rc = -pthread_mutex_lock(&c->lock);
	if (rep->rc == -EOWNERDEAD)
		rep->rc2 = -pthread_mutex_unlock(&c->lock);
}

static void case_unrecoverable(void)
{
	struct shm_counter *c;
	struct report r;
	struct kid k;
	bool killed, got;
	long v = -1;
	int rc = shm_counter_new(&c), add_rc, get_rc;

	if (rc)
		die_errno(-rc, "shm_counter_new");
	k = kid_start(die_holding, c);
	got = kid_report(&k, clk_deadline_ms(REPORT_LIMIT_MS), &r);
	kid_reap(&k, clk_deadline_ms(REPORT_LIMIT_MS), &killed);
	if (got) {
		printf("died_holding=no lock_rc=%s\n", errname(r.rc));
		shm_counter_free(c);
		return;
	}
	k = kid_start(poison, c);
	got = kid_report(&k, clk_deadline_ms(REPORT_LIMIT_MS), &r);
	kid_reap(&k, clk_deadline_ms(0), &killed);
	printf("poisoned=%s lock_rc=%s ", got && r.rc == -EOWNERDEAD && r.rc2 == 0 ? "yes" : "no",
	       got ? errname(r.rc) : "none");
	if (!got || r.rc != -EOWNERDEAD) {
		/* The mutex is not robust: it cannot be poisoned, nor used. */
		printf("\n");
		return; /* not freed: its lock word names a dead owner */
	}
	add_rc = shm_counter_add(c, 1);
	get_rc = shm_counter_get(c, &v);
	printf("add_rc=%s get_rc=%s\n", errname(add_rc), errname(get_rc));
	shm_counter_free(c);
}

/*
 * POSIX can set a mutex's attributes but cannot read them back from the
 * mutex, and glibc cannot be asked either: it makes every robust mutex
 * process-shared inside, whatever the attribute said, so no behaviour
 * shows a missing PTHREAD_PROCESS_SHARED there - yet POSIX promises
 * nothing without it, and another C library need not be so kind.  So the
 * driver looks where the attributes are given: it defines
 * pthread_mutex_init() itself, which the exercise's call reaches before
 * the C library's (the executable comes first in the dynamic linker's
 * search), reads the attribute object with POSIX's getters, and hands the
 * call on to the real function.
 */
static struct {
	bool seen, pshared, robust;
} made;

int pthread_mutex_init(pthread_mutex_t *m, const pthread_mutexattr_t *attr)
{
	static int (*real)(pthread_mutex_t *, const pthread_mutexattr_t *);
	int pshared = PTHREAD_PROCESS_PRIVATE, robust = PTHREAD_MUTEX_STALLED;

	if (!real) {
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_mutex_init");
		if (!real)
			abort();
	}
	if (attr) {
		pthread_mutexattr_getpshared(attr, &pshared);
		pthread_mutexattr_getrobust(attr, &robust);
	}
	made.seen = true;
	made.pshared = pshared == PTHREAD_PROCESS_SHARED;
	made.robust = robust == PTHREAD_MUTEX_ROBUST;
	return real(m, attr);
}

static void case_attrs(void)
{
	struct shm_counter *c;
	int rc;

	made.seen = false;
	rc = shm_counter_new(&c);
	if (rc)
		die_errno(-rc, "shm_counter_new");
	printf("initialised=%s pshared=%s robust=%s\n", made.seen ? "yes" : "no",
	       made.pshared ? "yes" : "no", made.robust ? "yes" : "no");
	shm_counter_free(c);
}

int main(int argc, char **argv)
{
	static const char *const cases[] = { "exact", "hold",	"kill", "unrecoverable",
					     "attrs", "atomic", NULL };
	static const struct option opts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ "procs", required_argument, NULL, 'p' },
		{ "ops", required_argument, NULL, 'o' },
		{ 0 },
	};
	int which = -1, c;
	long procs = 4, ops = 20000;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'c':
			which = arg_choice("--case", optarg, cases);
			break;
		case 'p':
			procs = arg_long("--procs", optarg, 1, 64);
			break;
		case 'o':
			ops = arg_long("--ops", optarg, 1, 10000000);
			break;
		}
	}
	arg_no_operands(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	switch (which) {
	case 0:
		case_exact(procs, ops, false);
		break;
	case 1:
		case_holder(false);
		break;
	case 2:
		case_holder(true);
		break;
	case 3:
		case_unrecoverable();
		break;
	case 4:
		case_attrs();
		break;
	case 5:
		case_exact(procs, ops, true);
		break;
	default:
		usage_error("--case is required");
	}
	return 0;
}
