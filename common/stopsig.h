/*
 * stopsig.h - clean up before SIGINT or SIGTERM ends the process.
 *
 * A module that owns something the process must not leave behind (a
 * temporary directory, a child process) gives stopsig_install() a handler
 * of its own and a cleanup for exit().  Its handler cleans up, then calls
 * stopsig_pass_on(), which hands the signal to whatever handled it before
 * and lets it end the process with its usual status (130 for SIGINT, 143
 * for SIGTERM in a shell).  Each module installed later runs first, so the
 * last thing made is the first thing undone.
 *
 * A signal handler receives no pointer of the module's, so each module
 * keeps its state, and the two handlers it replaced, in one static
 * structure: the only kind of global the workbook's common/ allows.  While
 * a module changes that state, it blocks the stop signals in the changing
 * thread (stopsig_block ... stopsig_restore), so that its handler never
 * sees a change half made.
 */
#ifndef WB_STOPSIG_H
#define WB_STOPSIG_H

#include <signal.h>

/* Which entry of the saved array belongs to @sig (SIGINT or SIGTERM). */
#define STOPSIG_SLOT(sig) ((sig) == SIGTERM)

/*
 * Install @handler (an SA_SIGINFO handler, run with every signal blocked)
 * for SIGINT and SIGTERM, saving the handlers it replaces in @prev, and
 * register @at_exit with atexit().  Returns 0, or a negative errno.
 */
int stopsig_install(void (*handler)(int, siginfo_t *, void *), struct sigaction prev[2],
		    void (*at_exit)(void));

/*
 * From a handler installed above: let the handler in @prev have @sig too,
 * then restore the default action and raise @sig again, so that it ends
 * the process as soon as the handler returns.
 */
void stopsig_pass_on(int sig, siginfo_t *info, void *uctx, const struct sigaction prev[2]);

/* Block SIGINT and SIGTERM in the calling thread; *@old gets the old mask. */
void stopsig_block(sigset_t *old);

/* Put back the mask stopsig_block() saved. */
void stopsig_restore(const sigset_t *old);

#endif
