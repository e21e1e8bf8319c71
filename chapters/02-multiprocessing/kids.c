/*
 * kids.c - see kids.h.
 *
 * What the handler and the atexit function run is async-signal-safe: kill()
 * and waitpid() over a fixed table.
 */
#define _GNU_SOURCE /* SYS_pidfd_open */
#include "kids.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "stopsig.h"

extern char **environ;

static struct {
	pid_t pids[KIDS_MAX];
	int n;
	bool installed;
	struct sigaction prev[2];
} alive;

/* Kill every child in the table, then reap each. */
static void kill_all(void)
{
	int saved = errno;

	for (int i = 0; i < alive.n; i++)
		kill(alive.pids[i], SIGKILL);
	for (int i = 0; i < alive.n; i++)
		while (waitpid(alive.pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	alive.n = 0;
	errno = saved;
}

static void on_stop(int sig, siginfo_t *info, void *uctx)
{
	kill_all();
	stopsig_pass_on(sig, info, uctx, alive.prev);
}

static void at_exit(void)
{
	sigset_t old;

	stopsig_block(&old);
	kill_all();
	stopsig_restore(&old);
}

/* With the stop signals blocked: room for one more, the handler in place. */
static int make_room(void)
{
	if (alive.n == KIDS_MAX)
		return -EMFILE;
	if (!alive.installed) {
		int rc = stopsig_install(on_stop, alive.prev, at_exit);

		if (rc)
			return rc;
		alive.installed = true;
	}
	return 0;
}

/* In a new child, before anything else: see "A child forked here" in kids.h. */
static void child_setup(pid_t parent)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	alive.n = 0;
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGINT, &dfl, NULL) != 0 || sigaction(SIGTERM, &dfl, NULL) != 0)
		_exit(1);
	/* The parent may have died before prctl(): then nobody would tell us. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
}

pid_t kids_fork(void)
{
	pid_t parent = getpid(), pid;
	sigset_t old;
	int rc;

	fflush(NULL);
	/* Blocked until the child is in the table, or has dropped the handler. */
	stopsig_block(&old);
	rc = make_room();
	if (rc) {
		stopsig_restore(&old);
		return rc;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		stopsig_restore(&old);
		return rc;
	}
	if (pid == 0)
		child_setup(parent);
	else
		alive.pids[alive.n++] = pid;
	stopsig_restore(&old);
	return pid;
}

int kids_spawn(pid_t *pid, const char *path, char *const argv[])
{
	posix_spawnattr_t attr;
	sigset_t old;
	int rc;

	fflush(NULL);
	stopsig_block(&old);
	rc = make_room();
	if (rc)
		goto out_restore;
	/* The new program gets the mask from before the block: it hears SIGINT. */
	rc = -posix_spawnattr_init(&attr);
	if (rc)
		goto out_restore;
	rc = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	if (rc == 0)
		rc = -posix_spawnattr_setsigmask(&attr, &old);
	if (rc == 0)
		rc = -posix_spawn(pid, path, NULL, &attr, argv, environ);
	if (rc == 0)
		alive.pids[alive.n++] = *pid;
	posix_spawnattr_destroy(&attr);
out_restore:
	stopsig_restore(&old);
	return rc;
}

static void forget(pid_t pid)
{
	sigset_t old;

	stopsig_block(&old);
	for (int i = 0; i < alive.n; i++)
		if (alive.pids[i] == pid)
			alive.pids[i] = alive.pids[--alive.n];
	stopsig_restore(&old);
}

/*
 * poll()'s timeout for @deadline: -1 for none, rounded up, since a poll
 * that ended before the deadline would report a timeout too soon.
 */
static int ms_until(int64_t deadline)
{
	int64_t left;

	if (deadline == CLK_NEVER)
		return -1;
	left = (deadline - clk_now_ns() + CLK_NS_PER_MS - 1) / CLK_NS_PER_MS;
	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

int kids_reap_by(pid_t pid, int64_t deadline, int *status)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), n, err;

	if (fd < 0)
		return -errno;
	do {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		n = poll(&pfd, 1, ms_until(deadline));
	} while (n < 0 && errno == EINTR);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	if (n == 0)
		return -ETIMEDOUT;
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	forget(pid);
	return 0;
}

int kids_kill(pid_t pid, int *status)
{
	if (kill(pid, SIGKILL) != 0)
		return -errno;
	return kids_reap_by(pid, CLK_NEVER, status);
}
