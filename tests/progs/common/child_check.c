/*
 * child_check - drives common/child.c (with common/tmpdir.c) from the tests.
 *
 *	child_check [--timeout-ms MS] [--close FD]...
 *	            [--then stop|exit|die|wait] -- PROGRAM [ARG...]
 *
 * Makes a temporary directory, starts PROGRAM with ARGs, any ARG that is
 * "{port-file}" replaced by the path of the port file in that directory,
 * and prints "dir=PATH pid=PID".  Then it waits for the port and prints
 * "port=N wait=SECONDS switches=N", the last being how often the waiting
 * thread gave up the CPU (a poll by sleeping would do it every few
 * milliseconds).  A child that fails to report a port is a fatal error,
 * reported the way a demo would.  Then, as --then says:
 *	stop	stop the child; print "stopped=HOW reaped=0|1 dir_gone=0|1"
 *	exit	exit(0) with the child running (atexit must stop it)
 *	die	die(), which exits with status 1
 *	wait	print "waiting" and sleep until a signal ends the program
 * --close FD (0 or 1, may be repeated) closes standard input or output while
 * the child starts, as a program run with "<&-" or ">&-" would have them.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "child.h"
#include "clock.h"
#include "tmpdir.h"

enum then { THEN_STOP, THEN_EXIT, THEN_DIE, THEN_WAIT };

struct options {
	long timeout_ms;
	bool close[2]; /* close stdin, stdout while starting */
	int then;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option opts[] = {
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "close", required_argument, NULL, 'c' },
		{ "then", required_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *const thens[] = { "stop", "exit", "die", "wait", NULL };
	int c;

	while ((c = arg_next(argc, argv, opts)) != -1) {
		if (c == 't')
			opt->timeout_ms = arg_long("--timeout-ms", optarg, 1, 60000);
		else if (c == 'c')
			opt->close[arg_long("--close", optarg, 0, 1)] = true;
		else
			opt->then = arg_choice("--then", optarg, thens);
	}
	if (optind >= argc)
		usage_error("no program to start (put it after --)");
}

/* Start @argv with fd 0 and/or 1 closed, as a program run with "<&- >&-". */
static int start_closed(struct child **c, char **argv, const bool close_fd[2])
{
	int saved[2], rc;

	for (int fd = 0; fd < 2; fd++) {
		saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 10);
		if (saved[fd] < 0)
			die_errno(errno, "saving fd %d", fd);
		if (close_fd[fd])
			close(fd);
	}
	rc = child_new(c, argv);
	for (int fd = 0; fd < 2; fd++) {
		if (dup2(saved[fd], fd) < 0)
			die_errno(errno, "restoring fd %d", fd);
		close(saved[fd]);
	}
	return rc;
}

/* Wait for the port, and die the way a demo would if none comes. */
static int wait_port(struct child *c, const char *port_file, long timeout_ms, const char *prog)
{
	struct rusage before, after;
	int64_t start = clk_now_ns();
	char how[64];
	int port, status;

	if (getrusage(RUSAGE_THREAD, &before) < 0)
		die_errno(errno, "getrusage");
	port = child_wait_port(c, port_file, timeout_ms);
	if (getrusage(RUSAGE_THREAD, &after) < 0)
		die_errno(errno, "getrusage");
	if (port == -ECHILD) {
		child_stop(c, &status);
		die("%s %s before it reported its port", prog,
		    child_describe(status, how, sizeof(how)));
	}
	if (port == -ETIMEDOUT)
		die("%s did not report its port within %ld ms", prog, timeout_ms);
	if (port == -EPROTO)
		die("%s wrote something other than a port number", prog);
	if (port < 0)
		die_errno(-port, "waiting for the port of %s", prog);
	printf("port=%d wait=%.3f switches=%ld\n", port, clk_since(start),
	       after.ru_nvcsw - before.ru_nvcsw);
	return port;
}

/* The normal end: stop, reap, remove, and say how each went. */
static void stop_all(struct child *c, struct tmpdir *dir)
{
	char path[PATH_MAX], how[64];
	pid_t pid = child_pid(c);
	struct stat st;
	int status, rc;

	rc = child_stop(c, &status);
	if (rc)
		die_errno(-rc, "child_stop");
	/* A zombie still answers kill(pid, 0); a reaped child does not. */
	printf("stopped=%s reaped=%d", child_describe(status, how, sizeof(how)),
	       kill(pid, 0) < 0 && errno == ESRCH);
	child_free(c);
	snprintf(path, sizeof(path), "%s", tmpdir_path(dir));
	rc = tmpdir_free(dir);
	printf(" dir_gone=%d\n", rc == 0 && lstat(path, &st) < 0 && errno == ENOENT);
}

int main(int argc, char **argv)
{
	struct options opt = { .timeout_ms = 10000, .then = THEN_STOP };
	char port_file[PATH_MAX];
	struct tmpdir *dir;
	struct child *c;
	char **args;
	int rc;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	args = &argv[optind];

	rc = tmpdir_new(&dir, "child_check");
	if (rc)
		die_errno(-rc, "tmpdir_new");
	if (tmpdir_join(dir, "port", port_file, sizeof(port_file)))
		die("the port file's path is too long");
	for (int i = 0; args[i]; i++)
		if (strcmp(args[i], "{port-file}") == 0)
			args[i] = port_file;
	rc = start_closed(&c, args, opt.close);
	if (rc)
		die_errno(-rc, "cannot run %s", args[0]);
	printf("dir=%s pid=%ld\n", tmpdir_path(dir), (long)child_pid(c));
	fflush(stdout);

	wait_port(c, port_file, opt.timeout_ms, args[0]);
	fflush(stdout);
	switch (opt.then) {
	case THEN_STOP:
		stop_all(c, dir);
		return 0;
	case THEN_EXIT:
		exit(0);
	case THEN_DIE:
		die("stopping on purpose");
	case THEN_WAIT:
		printf("waiting\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	return 1;
}
