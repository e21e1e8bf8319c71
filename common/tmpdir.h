/*
 * tmpdir.h - a private temporary directory, removed on exit or signal.
 *
 * tmpdir_new() makes a fresh directory, $TMPDIR/PREFIX.XXXXXX (/tmp when
 * TMPDIR is unset or empty), that only its owner may enter.  The program
 * puts whatever scratch files it needs there - a database and its journal,
 * the file a child process writes its port to - and never lists them:
 * removing the directory removes everything in it, subdirectories included.
 * Symbolic links inside are removed, never followed.
 *
 * The directory goes however the program ends:
 *	tmpdir_free()             the normal way, at the end of main;
 *	exit() or a return from main (die() included): an atexit() function;
 *	SIGINT (Ctrl-C), SIGTERM  a signal handler, after which the signal
 *	                          ends the program as it would have, so the
 *	                          shell still sees 130 or 143.
 * Only SIGKILL, or a crash, leaves it behind.
 *
 * Signals.  The first tmpdir_new() installs the handler for SIGINT and
 * SIGTERM and the atexit() function; they stay for the life of the process.
 * A handler installed before is not lost: ours cleans up, calls it, then
 * lets the signal's default action end the process - even where the signal
 * was ignored before (a shell starts background jobs with SIGINT ignored).
 * Modules that clean up this way (child.h is the other one) therefore nest,
 * and the one used last cleans up first: make the directory before starting
 * a child that writes into it.  A handler installed later replaces ours,
 * unless it passes the signal on in the same way.  The handler may run in
 * any thread that does not block the two signals.  A forked child inherits all this but not the
 * directories: its exit and its signals leave its parent's alone.
 *
 * The one global.  A signal handler can see nothing else, so the module
 * keeps one table of the directories alive, at most TMPDIR_MAX at a time.
 * An entry is filled in with the signals blocked and published last,
 * atomically, so a handler sees a whole path or none.
 *
 * Errors are values: 0 or a negative errno code.  Nothing here prints or
 * exits.  Calls may come from any thread.
 */
#ifndef WB_TMPDIR_H
#define WB_TMPDIR_H

#include <stddef.h>

struct tmpdir;

/* How many directories may be alive at once, in one process. */
#define TMPDIR_MAX 16

/*
 * Make the directory PREFIX.XXXXXX under $TMPDIR, mode 0700, and register
 * it for removal.  @prefix must be a plain name: not empty, no '/'.
 * Returns 0 and the handle in *@out, or -EINVAL (bad prefix),
 * -ENAMETOOLONG ($TMPDIR too long), -EMFILE (TMPDIR_MAX directories alive),
 * -ENOMEM, or mkdtemp's own error (-ENOENT when $TMPDIR does not exist,
 * -EACCES ...); *@out is then NULL and nothing was made.
 */
int tmpdir_new(struct tmpdir **out, const char *prefix);

/*
 * The directory's path, absolute even when $TMPDIR is not.  It stays valid
 * until tmpdir_free().
 */
const char *tmpdir_path(const struct tmpdir *dir);

/*
 * Write the path of @name inside @dir into @buf, a buffer of @len bytes.
 * Returns 0, or -ENAMETOOLONG with @buf holding "".
 */
int tmpdir_join(const struct tmpdir *dir, const char *name, char *buf, size_t len);

/*
 * Remove the directory with everything in it, then free @dir (NULL is
 * ignored).  Returns 0, or the first error met (-errno); the handle is freed
 * either way and whatever could be removed is gone.  Files still open
 * elsewhere are unlinked all the same: close them first if that matters.
 */
int tmpdir_free(struct tmpdir *dir);

#endif
