/*
 * check.h - the program name, fatal errors and checked allocation.
 *
 * Demo programs call wb_init(argv[0]) first; after that every message starts
 * with the program's name.  Chapter libraries never call die(): they return
 * error codes and let the program decide.
 *
 * PT_CHECK() wraps a pthread call that cannot fail in a correct program (for
 * example unlocking a mutex the caller holds).  If it does fail, the program
 * is already broken, so it reports the call and aborts, which leaves a core
 * dump or a sanitizer report instead of a silently wrong answer.
 */
#ifndef WB_CHECK_H
#define WB_CHECK_H

#include <stddef.h>
#include <stdnoreturn.h>

/* Remember the program's name and start the log clock. */
void wb_init(const char *argv0);

/* The name given to wb_init(), without its directory. */
const char *wb_progname(void);

/* Print "prog: message" on stderr and exit with status 1. */
noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "prog: message: strerror(err)" on stderr and exit with status 1. */
noreturn void die_errno(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "prog: call failed at file:line: strerror(err)" and abort(). */
noreturn void pt_fail(int err, const char *call, const char *file, int line);

#define PT_CHECK(call)                                                  \
	do {                                                            \
		int pt_err_ = (call);                                   \
		if (pt_err_ != 0)                                       \
			pt_fail(pt_err_, #call, __FILE__, __LINE__);    \
	} while (0)

/* Allocation that dies with a message instead of returning NULL. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
char *xstrdup(const char *s);

#endif
