/*
 * child.c - see child.h.
 *
 * Between fork() and exec() the child may make only async-signal-safe
 * calls: another thread of the parent may have held a lock (malloc's,
 * stdio's) at the moment of the fork, and in the child nobody is left to
 * release it.  So the child's set-up is a few system calls, and a failure
 * travels back to the parent as one errno value through a pipe that exec
 * closes.  The signal handler is held to the same rule.
 *
 * pidfd_open() and pidfd_send_signal() are called through syscall(): the C
 * libraries of a few years ago (glibc before 2.36) have no wrappers yet.
 */
#define _GNU_SOURCE
#include "child.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "stopsig.h"
#include "clock.h"

/*
 * A slot's life: FREE -> BUSY (claimed, being filled in) -> LIVE ->
 * STOPPING (child_stop at work) -> FREE.  The handler and the atexit
 * function stop LIVE and STOPPING children.  Doing it twice is harmless: a
 * pidfd names one process for good, so a signal sent through it can never
 * reach another that was given the same pid later.
 */
enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_LIVE, SLOT_STOPPING };

struct slot {
	atomic_int state; /* written last, read first */
	pid_t owner;	  /* the process that started the child */
	pid_t pid;
	int pidfd;
};

/* The module's one global, for the signal handler (see child.h). */
static struct {
	pthread_once_t once;
	int install_err;	  /* why installing the handlers failed */
	struct sigaction prev[2]; /* SIGINT's and SIGTERM's before ours */
	struct slot slots[CHILD_MAX];
} live = { .once = PTHREAD_ONCE_INIT };

struct child {
	struct slot *slot; /* its entry in the table, while it runs */
	pid_t pid;
	int pidfd;
	bool reaped; /* then wstatus and err say how it went */
	int wstatus;
	int err;
};

static int pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* ------------------------------------------------------------ stopping */

/* Milliseconds from now until @deadline, rounded up, as poll() takes them. */
static int ms_left(int64_t deadline)
{
	int64_t ns;

	if (deadline == CLK_NEVER)
		return -1;
	ns = deadline - clk_now_ns();
	if (ns <= 0)
		return 0;
	ns = (ns + CLK_NS_PER_MS - 1) / CLK_NS_PER_MS;
	return ns > INT_MAX ? INT_MAX : (int)ns;
}

/*
 * Give the child until @deadline to exit (its pidfd turns readable when it
 * does), then SIGKILL it, and reap it.  0 or -errno.  Async-signal-safe.
 */
static int finish(pid_t pid, int pidfd, int64_t deadline, int *wstatus)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, ms_left(deadline));
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		(void)pidfd_signal(pidfd, SIGKILL);
	while (waitpid(pid, wstatus, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/*
 * Stop every child this process started and has not reaped: SIGTERM to
 * all of them first, so that they exit side by side, then one grace period
 * for all.  Async-signal-safe.
 */
static void stop_all(void)
{
	int64_t deadline = clk_now_ns() + CHILD_GRACE_MS * CLK_NS_PER_MS;
	bool mine[CHILD_MAX];
	pid_t me = getpid();

	for (int i = 0; i < CHILD_MAX; i++) {
		struct slot *s = &live.slots[i];
		int state = atomic_load_explicit(&s->state, memory_order_acquire);

		mine[i] = (state == SLOT_LIVE || state == SLOT_STOPPING) && s->owner == me;
		if (mine[i])
			(void)pidfd_signal(s->pidfd, SIGTERM);
	}
	for (int i = 0; i < CHILD_MAX; i++)
		if (mine[i])
			(void)finish(live.slots[i].pid, live.slots[i].pidfd, deadline, NULL);
}

/* ------------------------------------------------------ exit and signals */

/* Clean up, then let the signal go on to end the process (stopsig.h). */
static void on_stop_signal(int sig, siginfo_t *info, void *uctx)
{
	int saved = errno;

	stop_all();
	stopsig_pass_on(sig, info, uctx, live.prev);
	errno = saved;
}

static void at_exit(void)
{
	stop_all();
}

static void install(void)
{
	live.install_err = stopsig_install(on_stop_signal, live.prev, at_exit);
}

/* ------------------------------------------------------------ starting */

/* Claim a free slot for this thread: the slot, or NULL if all are taken. */
static struct slot *slot_claim(void)
{
	for (int i = 0; i < CHILD_MAX; i++) {
		int want = SLOT_FREE;

		if (atomic_compare_exchange_strong(&live.slots[i].state, &want, SLOT_BUSY))
			return &live.slots[i];
	}
	return NULL;
}

/*
 * Move a new descriptor (or -1 from a failed call) to 3 or above; returns
 * it, or -errno.  A program started with stdin, stdout or stderr closed
 * gets those numbers back from its next open(), and then a printf() meant
 * for the terminal lands in our pipe.  So this module keeps clear of them.
 */
static int fd_high(int fd)
{
	int high;

	if (fd < 0)
		return -errno;
	if (fd > STDERR_FILENO)
		return fd;
	high = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	if (high < 0)
		high = -errno;
	close(fd);
	return high;
}

/* The pipe the child reports a failed exec through, both ends close-on-exec. */
static int report_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fds[0] = fd_high(fds[0]);
	fds[1] = fd_high(fds[1]);
	if (fds[0] >= 0 && fds[1] >= 0)
		return 0;
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return fds[0] < 0 ? fds[0] : fds[1];
}

/*
 * In the child: point standard input and output at /dev/null.  If the
 * parent runs with fd 0 or 1 closed, open() returns that very number; then
 * dup2() onto it changes nothing, and closing "the spare" afterwards would
 * close the new stdout with it.  So only a descriptor above 2 is closed.
 */
static int stdio_to_null(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return -1;
	if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
		return -1;
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

/*
 * In the child, between fork and exec: become @argv[0], or send errno up
 * @report and exit.  @mask is the signal mask the program should start with.
 */
static noreturn void exec_child(char *const argv[], int report, pid_t parent, const sigset_t *mask)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	ssize_t n;
	int err;

	/*
	 * If the parent is killed outright, none of its handlers runs, but the
	 * kernel still sends us SIGTERM.  Checking the parent afterwards covers
	 * one that died before prctl() took effect.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		goto fail;
	if (getppid() != parent) {
		errno = ESRCH;
		goto fail;
	}
	if (stdio_to_null() < 0)
		goto fail;
	/* exec keeps an ignored signal ignored; the child starts afresh. */
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGPIPE, &dfl, NULL) < 0 || sigprocmask(SIG_SETMASK, mask, NULL) < 0)
		goto fail;
	execv(argv[0], argv);
fail:
	err = errno;
	n = write(report, &err, sizeof(err));
	(void)n;
	_exit(127);
}

/* 0 if exec succeeded (the pipe closed with nothing in it), or its -errno. */
static int exec_result(int fd)
{
	ssize_t n;
	int err;

	do
		n = read(fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	return n == (ssize_t)sizeof(err) ? -err : -EIO;
}

/*
 * Fork and exec, and publish the child in the table before the stop
 * signals get through again: a Ctrl-C at any moment finds either no child
 * or one the handler can stop.
 */
static int spawn(struct child *c, char *const argv[])
{
	pid_t parent = getpid();
	sigset_t old, mask;
	int report[2], rc;

	stopsig_block(&old);
	/* The child must hear the SIGTERM that will stop it. */
	mask = old;
	sigdelset(&mask, SIGINT);
	sigdelset(&mask, SIGTERM);
	c->slot = slot_claim();
	rc = c->slot ? report_pipe(report) : -EMFILE;
	if (rc)
		goto out_release;
	c->pid = fork();
	if (c->pid == 0)
		exec_child(argv, report[1], parent, &mask);
	close(report[1]);
	if (c->pid < 0) {
		rc = -errno;
		goto out_close;
	}
	rc = exec_result(report[0]);
	if (rc == 0) {
		c->pidfd = fd_high(pidfd_of(c->pid));
		rc = c->pidfd < 0 ? c->pidfd : 0;
	}
	if (rc) {
		/* Not reaped yet, so the pid cannot belong to anyone else. */
		(void)kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out_close;
	}
	c->slot->pid = c->pid;
	c->slot->pidfd = c->pidfd;
	c->slot->owner = parent;
	atomic_store_explicit(&c->slot->state, SLOT_LIVE, memory_order_release);
out_close:
	close(report[0]);
out_release:
	if (rc && c->slot)
		atomic_store_explicit(&c->slot->state, SLOT_FREE, memory_order_release);
	stopsig_restore(&old);
	return rc;
}

int child_new(struct child **out, char *const argv[])
{
	struct child *c;
	int rc;

	*out = NULL;
	if (!argv || !argv[0])
		return -EINVAL;
	PT_CHECK(pthread_once(&live.once, install));
	if (live.install_err)
		return live.install_err;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	rc = spawn(c, argv);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

pid_t child_pid(const struct child *c)
{
	return c->pid;
}

/* ------------------------------------------------------- learning the port */

/*
 * The port in @path: 1 to 65535; 0 while the file is missing or has no
 * newline yet; -EPROTO if it holds anything else.
 */
static int read_port(const char *path)
{
	char text[16], *end;
	ssize_t n;
	long port;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	if (!memchr(text, '\n', (size_t)n))
		return n == (ssize_t)sizeof(text) - 1 ? -EPROTO : 0;
	port = strtol(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || strcmp(end, "\n") != 0 || port < 1 || port > 65535)
		return -EPROTO;
	return (int)port;
}

/*
 * An inotify descriptor that turns readable when a file appears in the
 * directory of @path: renamed into place (IN_MOVED_TO) or written there and
 * closed (IN_CLOSE_WRITE).  The descriptor, or -errno.
 */
static int watch_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX] = ".";
	size_t len = slash ? (size_t)(slash - path) : 0;
	int fd;

	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	if (slash) {
		memcpy(dir, path, len);
		dir[len] = '\0';
		if (len == 0)
			strcpy(dir, "/");
	}
	fd = fd_high(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
	if (fd < 0)
		return fd;
	if (inotify_add_watch(fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Read away the pending events: all they say is "look again". */
static void drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int child_wait_port(struct child *c, const char *port_file, long timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? CLK_NEVER : clk_deadline_ms(timeout_ms);
	struct pollfd p[2];
	int watch, port;

	if (c->reaped)
		return -ECHILD;
	/* Watch first, then read: a file written in between is not missed. */
	watch = watch_dir_of(port_file);
	if (watch < 0)
		return watch;
	p[0] = (struct pollfd){ .fd = watch, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
	while ((port = read_port(port_file)) == 0) {
		int n;

		p[0].revents = p[1].revents = 0;
		n = poll(p, 2, ms_left(deadline));
		if (n < 0 && errno != EINTR) {
			port = -errno;
		} else if (n == 0) {
			port = -ETIMEDOUT;
		} else if (p[1].revents) {
			/* It exited: reap it now, so that it is no zombie. */
			(void)child_stop(c, NULL);
			port = -ECHILD;
		}
		if (port)
			break;
		drain(watch);
	}
	close(watch);
	return port;
}

/* ------------------------------------------------------------ stopping */

int child_stop(struct child *c, int *wstatus)
{
	sigset_t old;

	if (!c->reaped) {
		/* Signals wait until the table is right again. */
		stopsig_block(&old);
		atomic_store_explicit(&c->slot->state, SLOT_STOPPING, memory_order_release);
		/* If this fails, finish() still kills it once the time is up. */
		(void)pidfd_signal(c->pidfd, SIGTERM);
		c->err = finish(c->pid, c->pidfd, clk_deadline_ms(CHILD_GRACE_MS), &c->wstatus);
		atomic_store_explicit(&c->slot->state, SLOT_FREE, memory_order_release);
		c->slot = NULL;
		c->reaped = true;
		stopsig_restore(&old);
	}
	if (wstatus)
		*wstatus = c->wstatus;
	return c->err;
}

const char *child_describe(int wstatus, char *buf, size_t len)
{
	if (WIFEXITED(wstatus))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(wstatus),
			 strsignal(WTERMSIG(wstatus)));
	else
		snprintf(buf, len, "ended with wait status %#x", (unsigned)wstatus);
	return buf;
}

void child_free(struct child *c)
{
	if (!c)
		return;
	(void)child_stop(c, NULL);
	close(c->pidfd);
	free(c);
}

/* ------------------------------------------------------------ fixtures */

int child_find_fixture(const char *name, char *buf, size_t len)
{
	char dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *slash;

	if (n < 0)
		return -errno;
	dir[n] = '\0';
	/* BUILD/skel/ID/CHAPTER/prog is the deepest: four levels up at most. */
	for (int up = 0; up < 4 && (slash = strrchr(dir, '/')) != NULL; up++) {
		int w;

		*slash = '\0';
		w = snprintf(buf, len, "%s/fixtures/%s", dir, name);
		if (w < 0 || (size_t)w >= len)
			return -ENAMETOOLONG;
		if (access(buf, X_OK) == 0)
			return 0;
	}
	if (len)
		buf[0] = '\0';
	return -ENOENT;
}
