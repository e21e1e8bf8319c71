/*
 * loopback.h - the workbook's loopback HTTP server (tests/fixtures/httpd),
 * started by a demo for its own downloads and stopped at its end.
 *
 * Nothing outside the machine can be reached, so every demo that downloads
 * starts this server on 127.0.0.1 and fetches from it.  loopback_start()
 * finds the server next to the program's build (child_find_fixture()),
 * makes a private directory for the file it reports its port in, starts it
 * on a free port and waits until it listens.  loopback_stop() stops and
 * reaps it and removes the directory.  A program that exits early or is
 * interrupted leaves neither behind: child.h and tmpdir.h clean up on exit
 * and on SIGINT and SIGTERM.
 *
 * The handle is the caller's (on main's stack, say); use it from one
 * thread.  Errors are values: 0 or a negative errno code, which
 * loopback_explain() puts in words.  Nothing here prints or exits.
 */
#ifndef WB_LOOPBACK_H
#define WB_LOOPBACK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How long the server has to report its port. */
#define LOOPBACK_START_MS 10000

struct loopback {
	char path[PATH_MAX]; /* the server program */
	struct tmpdir *dir;  /* its port file's directory */
	struct child *proc;  /* NULL when not running */
	long port;	     /* where it listens, once started */
	pid_t pid;	     /* its process id, once started (kept once stopped) */
	int wstatus;	     /* how it ended (waitpid's status), once stopped */
};

/*
 * Start the server, serving at most @max_conns connections at once (0:
 * the server's default), with
 * its port file in a directory named after @tag (a plain name, as
 * tmpdir_new() wants).  Returns 0 with @lb->port set, or:
 *	-ENOENT     no fixtures/httpd in the build ("make programs" builds it);
 *	-ECHILD     it exited before it listened (@lb->wstatus says how);
 *	-ETIMEDOUT  no port within LOOPBACK_START_MS;
 *	other < 0   what failed while starting it.
 * On an error nothing is left running and nothing needs stopping.
 */
int loopback_start(struct loopback *lb, const char *tag, long max_conns);

/*
 * Stop the server (SIGTERM), reap it and remove its directory.  Returns 0
 * if it exited with status 0, -ECHILD if it ended any other way
 * (@lb->wstatus says how), or the error met reaping it or removing the
 * directory.  A no-op returning 0 on a server not running.
 */
int loopback_stop(struct loopback *lb);

/*
 * What went wrong, for @err from loopback_start() or loopback_stop(), in
 * words that fit after "the loopback server ": written into @buf of @len
 * bytes, which is returned.
 */
const char *loopback_explain(const struct loopback *lb, int err, char *buf, size_t len);

#endif
