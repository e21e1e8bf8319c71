/*
 * child.h - start a helper process that listens on a port, learn the port,
 * then stop it and reap it.
 *
 * The demos start their own loopback server (tests/fixtures/httpd) and talk
 * to it.  This module does the process side of that: fork and exec the
 * program, wait until it says which port it listens on, and at the end stop
 * it and collect its exit status, so that no server outlives the demo and no
 * zombie is left behind.
 *
 * The port.  The child writes it to a file as a decimal number and a
 * newline, ideally under another name first and then renamed into place, so
 * the file is never seen half written (httpd --port-file does this).  The
 * caller chooses the file and passes it in the child's arguments; a tmpdir.h
 * directory, made before the child starts, is the place for it.
 *
 * Lifecycle:
 *	child_new()        fork and exec the program; returns once it runs
 *	child_wait_port()  block until the port file names a port, the child
 *	                   dies, or the time is up
 *	child_stop()       SIGTERM; SIGKILL if it is still there CHILD_GRACE_MS
 *	                   later; reap it and hand back its wait status
 *	child_free()       stop it if that was not done, release the handle
 * The handle is the caller's; use it from one thread at a time.
 *
 * What the child gets: standard input and output on /dev/null (its chatter
 * would mix with the demo's report), the caller's standard error (so its
 * complaints are seen), the caller's signal mask less SIGINT and SIGTERM
 * (it must hear the SIGTERM that stops it), SIGPIPE's default action, and
 * none of this module's descriptors.  Should the parent die
 * without a chance to stop it (SIGKILL), the kernel sends it SIGTERM.
 *
 * Exit and signals work as in tmpdir.h.  The first child_new() installs a
 * handler for SIGINT and SIGTERM and an atexit() function; each stops and
 * reaps every child still running (SIGTERM, CHILD_GRACE_MS, SIGKILL).  The
 * handler then passes the signal on to the handler installed before it -
 * tmpdir's, when the directory was made first - and the signal ends the
 * program.  A forked child leaves its parent's children alone.
 *
 * The one global: a table of the children alive, at most CHILD_MAX, with
 * their pids and pidfds (descriptors that name a process and can be waited
 * on with poll(), Linux 5.3 and later), for the handler.
 *
 * Errors are values: 0 or a negative errno code.  Nothing here prints or
 * exits.
 */
#ifndef WB_CHILD_H
#define WB_CHILD_H

#include <stddef.h>
#include <sys/types.h>

struct child;

/* How many children may be alive at once, in one process. */
#define CHILD_MAX 16

/* How long a child has to exit after SIGTERM before SIGKILL. */
#define CHILD_GRACE_MS 2000

/*
 * Start @argv[0], a path to a program (no PATH search), with the NULL-
 * terminated arguments @argv.  Blocks only until the program has started,
 * or failed to.  Returns 0 and the handle in *@out, or -EINVAL (no
 * program), -EMFILE (CHILD_MAX children alive), -ENOMEM, -EAGAIN (fork
 * failed), or the error exec met (-ENOENT, -EACCES ...: nothing is left
 * running); *@out is then NULL.
 */
int child_new(struct child **out, char *const argv[]);

/*
 * Block until @port_file holds a port (see above), @c exits, or @timeout_ms
 * milliseconds pass (-1: no limit).  Sleeps in poll() on the file's
 * directory and on the child: it does not poll by sleeping.  Returns the
 * port (1 to 65535), or:
 *	-ECHILD		the child exited first; it has been reaped, and
 *			child_stop() hands back how it ended;
 *	-ETIMEDOUT	no port in time; the child still runs;
 *	-EPROTO		the file holds something other than a port;
 *	other < 0	a failed system call (the directory cannot be watched).
 */
int child_wait_port(struct child *c, const char *port_file, long timeout_ms);

/* The child's process id (it stays readable after the child is reaped). */
pid_t child_pid(const struct child *c);

/*
 * Stop @c and reap it, unless that was done already: SIGTERM, then SIGKILL
 * if it has not exited within CHILD_GRACE_MS.  Stores its wait status (see
 * waitpid(2); child_describe() puts it in words) in *@wstatus unless it is
 * NULL.  Returns 0, or -errno if it could not be reaped.  Blocks up to
 * CHILD_GRACE_MS and a little more, with SIGINT and SIGTERM held back
 * until it is done; calling it again returns at once.
 */
int child_stop(struct child *c, int *wstatus);

/*
 * Write "exited with status N" or "was killed by signal N (name)" for the
 * wait status @wstatus into @buf of @len bytes, and return @buf.
 */
const char *child_describe(int wstatus, char *buf, size_t len);

/* Stop the child if that was not done, then release @c.  NULL is ignored. */
void child_free(struct child *c);

/*
 * Find the workbook's fixture program @name ("httpd"), built into
 * BUILD/fixtures/.  The calling program lies in BUILD/VARIANT/CHAPTER/,
 * a level or two deeper for the exercise variants, so this looks for
 * fixtures/@name in each directory above it, nearest first, and writes the
 * path into @buf of @len bytes.  Returns 0, -ENOENT (not built),
 * -ENAMETOOLONG, or readlink's error on /proc/self/exe.
 */
int child_find_fixture(const char *name, char *buf, size_t len);

#endif
