/*
 * check.h - the program name, fatal errors, checked allocation, and output
 * that is known to have arrived.
 *
 * Demo programs call wb_init(argv[0]) first; after that every message starts
 * with the program's name.  Chapter libraries never call die(): they return
 * error codes and let the program decide.
 *
 * Lost output is an error.  wb_init() arranges for a check at exit: if
 * anything the program printed on stdout could not be written (a full disk,
 * /dev/full, a closed stdout, a reader that went away), the program says
 * "prog: cannot write output: REASON" on stderr and exits with status 1
 * instead of 0.  A program that prints nothing may run with stdout closed.
 * Because the check runs at exit(), a process that leaves with _exit() -
 * a forked child, say - must flush and check its own output first.
 *
 * PT_CHECK() wraps a pthread call that cannot fail in a correct program (for
 * example unlocking a mutex the caller holds).  If it does fail, the program
 * is already broken, so it reports the call and aborts, which leaves a core
 * dump or a sanitizer report instead of a silently wrong answer.
 */
#ifndef WB_CHECK_H
#define WB_CHECK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdnoreturn.h>

/*
 * Remember the program's name, start the log clock, and set up the check
 * of stdout at exit described above.  Also occupies any of descriptors 0,
 * 1 and 2 that the program was started without (see check.c), so that no
 * file it opens later can take their place.  Call it first, once.
 */
void wb_init(const char *argv0);

/* The name given to wb_init(), without its directory. */
const char *wb_progname(void);

/*
 * exit(@status) for a program that has already said why it fails.  The
 * status stays @status even if stdout's output was lost as well, and that
 * loss gets no second message: one failure, one line.  The first thread to
 * fail exits; one that fails after it (in die(), die_errno() or here)
 * prints nothing and sleeps until that exit ends the program.
 */
noreturn void wb_exit(int status);

/* Print "prog: message" on stderr and exit with status 1. */
noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "prog: message: strerror(err)" on stderr and exit with status 1. */
noreturn void die_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * How every fatal message is printed: flush stdout, so that what the
 * program printed comes first, then "prog: MESSAGE@after" as one line on
 * stderr.  MESSAGE, made from @fmt, goes through wb_show() with room for
 * about 140 bytes; @after ("" or, say, " (see --help)") is kept whole.
 * die() and usage_error() are built on it; use those.
 */
void wb_vreport(const char *after, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Print "prog: call failed at file:line: strerror(err)" and abort(). */
noreturn void pt_fail(int err, const char *call, const char *file, int line);

#define PT_CHECK(call)                                                                             \
	do {                                                                                       \
		int pt_err_ = (call);                                                              \
		if (pt_err_ != 0)                                                                  \
			pt_fail(pt_err_, #call, __FILE__, __LINE__);                               \
	} while (0)

/*
 * Make @text fit in one line of a message, in @out of @size bytes (at
 * least 8): a newline, tab or carriage return becomes "\n", "\t" or "\r",
 * any other control byte "\xHH".  If that is longer than @size - 1 bytes,
 * the middle goes and "..." marks the gap, so that both ends still show
 * and whatever follows in the message is never cut off.  Bytes from 0x80
 * up are kept (UTF-8 text stays readable), and a cut never splits a UTF-8
 * character.  A backslash stays as it is, so that showing a shown text
 * changes nothing (a typed "\n" and a newline look alike: the message is
 * for people).  Returns @out.
 */
const char *wb_show(char *out, size_t size, const char *text);

/* Room for one value quoted in a message: 63 bytes shown at most. */
#define WB_SHOW_VALUE 64

/* Allocation that dies with a message instead of returning NULL. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
char *xstrdup(const char *s);

#endif
