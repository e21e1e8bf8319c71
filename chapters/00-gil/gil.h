/*
 * gil.h - a simulated Global Interpreter Lock, built the way CPython builds
 * its own.
 *
 * At most one thread holds the GIL at any moment, and only the holder runs
 * "Python" (here: the CPU-bound work of gil_sim).  A thread that wants the
 * GIL waits; if it has waited a whole switch interval (CPython's default is
 * 5 ms) without the GIL changing hands, it asks the holder to drop it.  The
 * holder polls that request between small pieces of work and, when asked,
 * hands over with gil_yield(), which lets a waiting thread take the GIL
 * before it queues to get the GIL back.  A thread about to block on I/O
 * releases the GIL first, exactly as CPython does around a system call.
 *
 * Lifecycle: gil_new() ... gil_free() once no thread uses it.  Per thread:
 *
 *	gil_acquire(g);
 *	while (work left) {
 *		do a little work;
 *		if (gil_drop_requested(g))
 *			gil_yield(g);
 *	}
 *	gil_release(g);
 *
 * gil_acquire() and gil_yield() block; the other calls do not.  Calling
 * gil_release() or gil_yield() without holding the GIL is a bug.
 *
 * The implementation is exercise 00-gil: exercises/00-gil/gil.c.
 */
#ifndef GIL_H
#define GIL_H

#include <stdbool.h>

struct gil;

/* A free GIL with the given switch interval, or NULL (errno set). */
struct gil *gil_new(long switch_interval_ms);
void gil_free(struct gil *g);

/* Block until the calling thread holds the GIL. */
void gil_acquire(struct gil *g);

/*
 * Give the GIL up, waking one waiter.  Unlike gil_yield() it does not wait
 * for the waiter to take it: the caller is about to do something else.
 */
void gil_release(struct gil *g);

/* Has a waiter asked the holder to hand over?  Cheap enough to poll often. */
bool gil_drop_requested(struct gil *g);

/*
 * Hand the GIL to a waiting thread, then wait to get it back.  If no thread
 * is waiting, the caller simply keeps it.
 */
void gil_yield(struct gil *g);

/* How many times a thread has taken the GIL so far. */
unsigned long gil_acquisitions(struct gil *g);

#endif
