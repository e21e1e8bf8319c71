/*
 * kids_probe.c - the promises of kids.h, one scene per --case, each
 * printing what it saw as key=value words for the checks to compare:
 *
 *   exit      three children alive when the program dies (die(), status
 *             1): prints their pids first; the exit kills and reaps them.
 *             They turn PR_SET_PDEATHSIG off, so only the exit handler
 *             can end them.
 *   sibling   a child that leaves with exit() runs the exit handlers it
 *             inherited: its brother must live on
 *   full      KIDS_MAX children alive: the next kids_fork() says -EMFILE
 *             and makes no process; the others are killed and reaped
 *   deadline  kids_reap_by() on a child that never ends: -ETIMEDOUT at
 *             the deadline, not before, asleep meanwhile; then kids_kill()
 *
 * Every child waits in pause() for a signal; a scene that goes wrong
 * still ends, since its children are killed by whatever it does next or,
 * failing that, by PR_SET_PDEATHSIG (all but the exit scene's).
 */
#define _GNU_SOURCE /* RUSAGE_THREAD in usage.h */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../usage.h"
#include "args.h"
#include "check.h"
#include "clock.h"
#include "kids.h"

#define DEADLINE_MS 300
#define BROTHER_MS 200

/* A child that waits for a signal; @orphan: one its parent's death spares. */
static pid_t sleeper(int orphan)
{
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pid_t pid;

	if (devnull < 0)
		die_errno(errno, "/dev/null");
	pid = kids_fork();
	if (pid < 0)
		die_errno((int)-pid, "kids_fork");
	if (pid > 0) {
		close(devnull);
		return pid;
	}
	if (orphan && prctl(PR_SET_PDEATHSIG, 0) != 0)
		_exit(1);
	/*
	 * Off the probe's output and every other descriptor: a child left
	 * behind must not hold a pipe the checks (or bats) read, or they
	 * would wait for it instead of failing.
	 */
	if (dup2(devnull, STDOUT_FILENO) < 0 || dup2(devnull, STDERR_FILENO) < 0 ||
	    close_range(3, ~0U, 0) != 0)
		_exit(1);
	for (;;)
		pause();
}

static const char *how(int status)
{
	static char text[32];

	if (WIFSIGNALED(status))
		snprintf(text, sizeof(text), "SIG%s", sigabbrev_np(WTERMSIG(status)));
	else
		snprintf(text, sizeof(text), "exit%d", WEXITSTATUS(status));
	return text;
}

static void case_exit(void)
{
	printf("kids=");
	for (int i = 0; i < 3; i++)
		printf("%s%d", i ? "," : "", (int)sleeper(1));
	printf("\n");
	die("ends with its children alive");
}

static void case_sibling(void)
{
	pid_t brother = sleeper(0), leaver = kids_fork();
	int status, rc, alive;

	if (leaver < 0)
		die_errno((int)-leaver, "kids_fork");
	if (leaver == 0)
		exit(0); /* the exit handlers, on purpose */
	if ((rc = kids_reap_by(leaver, CLK_NEVER, &status)))
		die_errno(-rc, "reap");
	printf("leaver=%s ", how(status));
	/*
	 * A SIGKILL the leaver sent on its way out is pending by now, but the
	 * brother dies when it next runs: give it a moment to, in a wait that
	 * ends as soon as it does.
	 */
	rc = kids_reap_by(brother, clk_deadline_ms(BROTHER_MS), &status);
	alive = rc == -ETIMEDOUT;
	printf("brother_alive=%s\n", alive ? "yes" : rc ? strerror(-rc) : how(status));
	if (alive && (rc = kids_kill(brother, &status)))
		die_errno(-rc, "kids_kill");
}

static void case_full(void)
{
	pid_t pids[KIDS_MAX], extra;
	int status, rc, killed = 0;

	for (int i = 0; i < KIDS_MAX; i++)
		pids[i] = sleeper(0);
	extra = kids_fork();
	if (extra == 0)
		_exit(0);
	printf("over_the_limit=%s\n", extra == -EMFILE ? "EMFILE"
				      : extra > 0      ? "forked"
						       : strerror((int)-extra));
	if (extra > 0)
		waitpid(extra, &status, 0);
	for (int i = 0; i < KIDS_MAX; i++) {
		if ((rc = kids_kill(pids[i], &status)))
			die_errno(-rc, "kids_kill");
		killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	}
	printf("killed=%d kids_max=%d\n", killed, KIDS_MAX);
	/* Room again: the table forgot each child it reaped. */
	extra = kids_fork();
	if (extra == 0)
		_exit(0);
	printf("after=%s\n", extra > 0 ? "forked" : strerror((int)-extra));
	if (extra > 0 && (rc = kids_reap_by(extra, CLK_NEVER, &status)))
		die_errno(-rc, "reap");
}

static void case_deadline(void)
{
	pid_t pid = sleeper(0);
	struct usage before, after;
	int status, rc;

	before = usage_now();
	rc = kids_reap_by(pid, clk_deadline_ms(DEADLINE_MS), &status);
	after = usage_now();
	printf("reap_by=%s deadline_ms=%d ", rc == -ETIMEDOUT ? "ETIMEDOUT" : strerror(-rc),
	       DEADLINE_MS);
	usage_print("waiter", before, after);
	printf("\n");
	rc = kids_kill(pid, &status);
	printf("kill=%s status=%s\n", rc ? strerror(-rc) : "ok", how(status));
}

static void usage(void)
{
	printf("usage: %s --case exit|sibling|full|deadline\n", wb_progname());
}

int main(int argc, char **argv)
{
	static const char *const cases[] = { "exit", "sibling", "full", "deadline", NULL };
	static const struct option opts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int which = -1, c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		if (c == 'h') {
			usage();
			return 0;
		}
		which = arg_choice("--case", optarg, cases);
	}
	arg_no_operands(argc, argv);
	switch (which) {
	case 0:
		case_exit();
		break;
	case 1:
		case_sibling();
		break;
	case 2:
		case_full();
		break;
	case 3:
		case_deadline();
		break;
	default:
		usage_error("--case is required");
	}
	return 0;
}
