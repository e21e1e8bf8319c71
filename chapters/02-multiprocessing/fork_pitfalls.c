/*
 * fork_pitfalls - why this chapter forks before it starts a thread: C's
 * twin of Python's `if __name__ == "__main__":`.
 *
 * fork() copies the whole memory of a process but only the thread that
 * called it.  A lock another thread held at that moment is copied locked,
 * and the thread that would have unlocked it does not exist in the child:
 * the child's first attempt to take it waits for ever.  Every row below
 * has a second thread hold one lock (think of malloc's or stdio's) at the
 * moment the process makes a child, and the child then takes that lock:
 *   deadlock    fork() while the thread holds it: the child never gets it;
 *               the parent gives up at --timeout-ms, kills it, reaps it
 *   fork-first  fork() before the thread exists: nothing is held
 *   atfork      pthread_atfork() handlers take the lock before fork() and
 *               release it on both sides after: fork() waits for the
 *               thread to leave its critical section
 *   spawn       posix_spawn() of a fresh program (this one, --take-lock):
 *               no memory is copied, so nothing is copied locked
 * Each row prints what the child did and how long it took.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "kids.h"
#include "stopsig.h"

enum mode { MODE_DEADLOCK, MODE_FORK_FIRST, MODE_ATFORK, MODE_SPAWN, MODE_ALL };
static const char *const mode_names[] = { "deadlock", "fork-first", "atfork", "spawn", "all", NULL };

/* How long the atfork row's thread works inside its critical section. */
#define HOLD_MS 100

/*
 * The lock every row is about.  It is global because pthread_atfork()'s
 * handlers take no argument: a library that protects its locks from
 * fork() must keep them where the handlers can find them.
 */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Handlers registered with pthread_atfork() can never be removed, and they
 * would fix the deadlock row too; they act only while the atfork row runs.
 */
static atomic_bool atfork_armed;

static void atfork_prepare(void)
{
	if (atomic_load(&atfork_armed))
		PT_CHECK(pthread_mutex_lock(&shared_lock));
}

/* Both sides of the fork hold the lock the prepare handler took. */
static void atfork_release(void)
{
	if (atomic_load(&atfork_armed))
		PT_CHECK(pthread_mutex_unlock(&shared_lock));
}

/* The thread that holds the lock, and the pipes that order it with main. */
struct holder {
	pthread_t tid;
	long hold_ms;	/* how long it keeps the lock; -1: until released */
	int held[2];	/* it writes one byte here once it holds the lock */
	int release[2]; /* main writes a byte here to make it unlock */
	atomic_bool unlocked;
};

/* Wait up to @ms (-1: no limit) for main's byte; whether it came. */
static bool await_release(struct holder *h, long ms)
{
	struct pollfd pfd = { .fd = h->release[0], .events = POLLIN };
	char byte;
	int n;

	while ((n = poll(&pfd, 1, (int)ms)) < 0 && errno == EINTR)
		;
	if (n < 0)
		die_errno(errno, "poll");
	if (n == 0)
		return false;
	while (read(h->release[0], &byte, 1) < 0 && errno == EINTR)
		;
	return true;
}

static void *hold_lock(void *arg)
{
	struct holder *h = arg;
	char byte = 'H';
	bool released;

	PT_CHECK(pthread_mutex_lock(&shared_lock));
	if (write(h->held[1], &byte, 1) != 1)
		die_errno(errno, "write");
	/* Its work: until main releases it, or for hold_ms. */
	released = await_release(h, h->hold_ms);
	atomic_store(&h->unlocked, true);
	PT_CHECK(pthread_mutex_unlock(&shared_lock));
	/*
	 * It stays until main has made its child all the same.  To
	 * ThreadSanitizer, a thread that had ended unjoined when the process
	 * forked is one the child leaked, and it says so when the child exits.
	 */
	if (!released)
		await_release(h, -1);
	return NULL;
}

/*
 * Start the holder and return once it holds the lock: the gate that makes
 * "a thread holds the lock at the moment of fork" certain, not likely.
 * The thread blocks SIGINT and SIGTERM, so the handler runs in main.
 */
static void holder_start(struct holder *h, long hold_ms)
{
	sigset_t old;
	char byte;
	ssize_t n;

	h->hold_ms = hold_ms;
	atomic_init(&h->unlocked, false);
	if (pipe2(h->held, O_CLOEXEC) != 0 || pipe2(h->release, O_CLOEXEC) != 0)
		die_errno(errno, "pipe2");
	stopsig_block(&old);
	PT_CHECK(pthread_create(&h->tid, NULL, hold_lock, h));
	stopsig_restore(&old);
	do
		n = read(h->held[0], &byte, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		die("the thread never took the lock");
}

static void holder_finish(struct holder *h)
{
	char byte = 'R';

	/*
	 * A byte, not the end of the pipe: a forked child holds a copy of the
	 * write end, so closing ours would not wake the thread.
	 */
	if (write(h->release[1], &byte, 1) != 1)
		die_errno(errno, "write");
	PT_CHECK(pthread_join(h->tid, NULL));
	close(h->release[0]);
	close(h->release[1]);
	close(h->held[0]);
	close(h->held[1]);
}

/*
 * Fork a child that takes the lock, lets it go and exits 0.  It dies with
 * its parent (kids.h), so a deadlocked child never outlives the program.
 * Between fork() and _exit() the child of a process with threads may only
 * rely on what the copy left consistent; the deadlock row is what happens
 * when it relies on more.
 */
static pid_t fork_taker(void)
{
	pid_t pid = kids_fork();

	if (pid < 0)
		die_errno((int)-pid, "fork");
	if (pid > 0)
		return pid;
	PT_CHECK(pthread_mutex_lock(&shared_lock));
	PT_CHECK(pthread_mutex_unlock(&shared_lock));
	_exit(0);
}

/*
 * Start this program again, fresh, with --take-lock.  posix_spawn() makes
 * the new process without copying this one's memory (glibc uses
 * clone(CLONE_VM | CLONE_VFORK) and exec), so the lock the thread holds
 * here is not in it at all, and no pthread_atfork() handler runs.
 */
static pid_t spawn_taker(void)
{
	char *argv[] = { (char *)wb_progname(), "--take-lock", NULL };
	pid_t pid;
	int rc = kids_spawn(&pid, "/proc/self/exe", argv);

	if (rc)
		die_errno(-rc, "posix_spawn");
	return pid;
}

/* Reap @pid by @deadline: 0 and its status, or -ETIMEDOUT with it running. */
static int reap_by(pid_t pid, int64_t deadline, int *status)
{
	int rc = kids_reap_by(pid, deadline, status);

	if (rc && rc != -ETIMEDOUT)
		die_errno(-rc, "cannot reap process %d", (int)pid);
	return rc;
}

/*
 * Wait for the child until @timeout_ms after @t0; print its row.  A child
 * still there then is stuck on the lock: it is killed and reaped.
 */
static void finish_row(enum mode mode, pid_t pid, int64_t t0, long timeout_ms, const char *extra,
		       const char *why)
{
	int64_t deadline = t0 + timeout_ms * CLK_NS_PER_MS;
	int status;

	if (reap_by(pid, deadline, &status) == -ETIMEDOUT) {
		double waited = clk_since(t0);
		int rc = kids_kill(pid, &status);

		if (rc)
			die_errno(-rc, "cannot kill process %d", (int)pid);
		printf("%-10s  outcome=deadlocked child=%d waited=%.3fs%s\n", mode_names[mode],
		       (int)pid, waited, extra);
		printf("            the child still waited for the lock after %ld ms: it was "
		       "copied locked, and the thread that\n"
		       "            would unlock it was not copied; killed by SIGKILL and reaped\n",
		       timeout_ms);
		return;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s: child %d failed (wait status %#x)", mode_names[mode], (int)pid,
		    (unsigned)status);
	printf("%-10s  outcome=took-lock child=%d time=%.3fs%s\n", mode_names[mode], (int)pid,
	       clk_since(t0), extra);
	printf("            %s\n", why);
}

static void run_deadlock(long timeout_ms)
{
	struct holder h;
	int64_t t0;
	pid_t pid;

	holder_start(&h, -1);
	t0 = clk_now_ns();
	pid = fork_taker();
	/* The parent's lock is free again at once; the child's copy never is. */
	holder_finish(&h);
	finish_row(MODE_DEADLOCK, pid, t0, timeout_ms, "", "");
}

static void run_fork_first(long timeout_ms)
{
	struct holder h;
	int64_t t0 = clk_now_ns();
	pid_t pid = fork_taker(); /* one thread: nothing can be held */

	holder_start(&h, -1);
	holder_finish(&h);
	finish_row(MODE_FORK_FIRST, pid, t0, timeout_ms, "",
		   "forked while the process had one thread: no lock could be held");
}

static void run_atfork(long timeout_ms)
{
	char extra[64];
	struct holder h;
	int64_t t0;
	pid_t pid;

	holder_start(&h, HOLD_MS);
	atomic_store(&atfork_armed, true);
	t0 = clk_now_ns();
	pid = fork_taker(); /* the prepare handler waits until the thread unlocks */
	/* The handler took the lock after the thread let it go: never "no". */
	snprintf(extra, sizeof(extra), " fork_waited=%.3fs after_unlock=%s", clk_since(t0),
		 atomic_load(&h.unlocked) ? "yes" : "no");
	atomic_store(&atfork_armed, false);
	holder_finish(&h);
	finish_row(MODE_ATFORK, pid, t0, timeout_ms, extra,
		   "fork() took the lock first: the child's copy is held by its one thread");
}

static void run_spawn(long timeout_ms)
{
	struct holder h;
	int64_t t0;
	pid_t pid;

	holder_start(&h, -1);
	t0 = clk_now_ns();
	pid = spawn_taker();
	holder_finish(&h);
	finish_row(MODE_SPAWN, pid, t0, timeout_ms, "",
		   "a fresh program copies no memory, so its lock starts free");
}

static void usage(void)
{
	printf("usage: fork_pitfalls [--mode deadlock|fork-first|atfork|spawn|all] "
	       "[--timeout-ms MS]\n"
	       "\n"
	       "A second thread holds a lock while the process makes a child, and the\n"
	       "child then takes the same lock:\n"
	       "  deadlock    fork() while the thread holds it: the child waits for ever\n"
	       "              (the parent kills and reaps it after --timeout-ms)\n"
	       "  fork-first  fork() before the thread starts: the child gets the lock\n"
	       "  atfork      pthread_atfork() handlers take the lock around fork()\n"
	       "  spawn       posix_spawn() of a fresh program: nothing is copied\n"
	       "  --mode MODE      one row, or all of them in turn (default all)\n"
	       "  --timeout-ms MS  how long a child may take, 1 to 60000 (default 500)\n"
	       "  --take-lock      take a fresh lock and exit (what the spawn row runs)\n"
	       "  --help           this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "take-lock", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum mode mode = MODE_ALL;
	long timeout_ms = 500;
	bool take_lock = false;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'm':
			mode = (enum mode)arg_choice("--mode", optarg, mode_names);
			break;
		case 't':
			timeout_ms = arg_long("--timeout-ms", optarg, 1, 60000);
			break;
		case 'k':
			take_lock = true;
			break;
		case 'h':
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (take_lock) {
		/* A fresh process: its copy of the lock is the initial, free one. */
		PT_CHECK(pthread_mutex_lock(&shared_lock));
		PT_CHECK(pthread_mutex_unlock(&shared_lock));
		return 0;
	}
	PT_CHECK(pthread_atfork(atfork_prepare, atfork_release, atfork_release));

	printf("A thread holds a lock while the process makes a child that takes it "
	       "(limit %ld ms)\n",
	       timeout_ms);
	if (mode == MODE_DEADLOCK || mode == MODE_ALL)
		run_deadlock(timeout_ms);
	if (mode == MODE_FORK_FIRST || mode == MODE_ALL)
		run_fork_first(timeout_ms);
	if (mode == MODE_ATFORK || mode == MODE_ALL)
		run_atfork(timeout_ms);
	if (mode == MODE_SPAWN || mode == MODE_ALL)
		run_spawn(timeout_ms);
	return 0;
}
