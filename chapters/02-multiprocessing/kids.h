/*
 * kids.h - forked children that die with the program: the chapter's demos'
 * helper processes, never left running, never left as zombies.
 *
 * A demo forks children to show what processes do (add to a counter,
 * insert into a database, deadlock on a copied lock).  However the demo
 * ends, they must end too and be reaped:
 *	normally        the demo reaps each one: kids_reap_by(), or
 *	                kids_kill() for one that will not end by itself;
 *	exit() or die() an atexit() function kills (SIGKILL) and reaps every
 *	                child still in the table;
 *	SIGINT, SIGTERM a handler does the same, then passes the signal on
 *	                (stopsig.h), so the shell still sees 130 or 143;
 *	SIGKILL         the kernel kills each child (PR_SET_PDEATHSIG).
 * SIGKILL, not SIGTERM: these children hold nothing that needs a goodbye,
 * and one deadlocked on a lock would never act on a gentler signal.
 *
 * The first kids_fork() or kids_spawn() installs the handler and the
 * atexit() function, through stopsig_install(); they stay for the life of
 * the process.  Install order is cleanup order, last first: make a
 * tmpdir.h directory before the first child, so that the children are
 * gone before the files they write in are removed.
 *
 * A child forked here starts with SIGINT and SIGTERM back at their default
 * actions (the parent's handler would kill its siblings), an empty table
 * (its parent's children are not its own), and PR_SET_PDEATHSIG SIGKILL.
 * It should leave with _exit(): the parent's exit handlers are not its own.
 *
 * The one global: a table of the children alive, at most KIDS_MAX, for
 * the handler, which can see nothing else.  It is changed only with SIGINT
 * and SIGTERM blocked, so the handler never sees it half changed.  Call
 * this module from one thread at a time: the demos call it from main.
 *
 * Errors are values: 0 or a negative errno code.  Nothing here prints or
 * exits, except a child that cannot set itself up (it _exit()s with 1).
 */
#ifndef WB_KIDS_H
#define WB_KIDS_H

#include <stdint.h>
#include <sys/types.h>

/* How many children may be alive at once. */
#define KIDS_MAX 72

/*
 * fork(), the child entered in the table.  Returns the child's pid in the
 * parent and 0 in the child, like fork(); or -EAGAIN or -ENOMEM (fork
 * failed), -EMFILE (KIDS_MAX children alive already), or stopsig_install()'s
 * error, with no child made.  Standard I/O is flushed first, so that
 * nothing buffered is written twice.
 */
pid_t kids_fork(void);

/*
 * posix_spawn() of @path with @argv and the caller's environment, the
 * child entered in the table.  It runs a fresh program, with the caller's
 * signal mask and, as exec gives it, default actions for the signals the
 * caller handles; no PR_SET_PDEATHSIG (a program sets that for itself).
 * Returns 0 and the pid in *@pid, or -EMFILE, stopsig_install()'s error,
 * or posix_spawn()'s error (negated).
 */
int kids_spawn(pid_t *pid, const char *path, char *const argv[]);

/*
 * Reap child @pid, waiting until @deadline (CLOCK_MONOTONIC ns, clock.h;
 * CLK_NEVER: no limit) at most.  Returns 0 with its wait status in
 * *@status and the child gone from the table; or -ETIMEDOUT with it still
 * running; or -errno (pidfd_open, poll or waitpid failed).  It sleeps in
 * poll() on a pidfd, which becomes readable when the child ends: no CPU
 * is spent waiting.
 */
int kids_reap_by(pid_t pid, int64_t deadline, int *status);

/* SIGKILL child @pid and reap it: kids_reap_by() without a deadline. */
int kids_kill(pid_t pid, int *status);

#endif
