/*
 * gil.h - a simulated Global Interpreter Lock, built the way CPython builds
 * its own.
 *
 * At most one thread holds the GIL at any moment, and only the holder runs
 * "Python" (here: the CPU-bound work of gil_sim), so data that only holders
 * touch needs no other lock.  A thread that wants the GIL waits; if it has
 * waited a whole switch interval (CPython's default is 5 ms) without the
 * GIL changing hands, it asks the holder to drop it.  The holder polls that
 * request between small pieces of work and, when asked, hands over with
 * gil_yield(), which lets a waiting thread take the GIL before it queues to
 * get the GIL back.  A thread about to block on I/O releases the GIL first,
 * exactly as CPython does around a system call.
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
 * gil_acquire() and gil_yield() block, asleep: a waiting thread uses no
 * CPU beyond waking once per switch interval.  The other calls never wait
 * for the GIL.  Only the holder may call gil_release() or gil_yield(), and
 * the holder must not call gil_acquire() again (it would wait for itself);
 * the reference implementation asserts all three.
 *
 * The implementation is exercise 00-gil: exercises/00-gil/gil.c.
 */
#ifndef GIL_H
#define GIL_H

#include <stdbool.h>

struct gil;

/* The longest switch interval gil_new() accepts: one hour. */
#define GIL_MAX_INTERVAL_MS 3600000L

/*
 * Make a free GIL with the given switch interval, in milliseconds.
 * Returns 0 and stores it in *@out, or -EINVAL (@out is NULL, or the
 * interval is not 1 to GIL_MAX_INTERVAL_MS) or -ENOMEM, leaving *@out
 * untouched.
 */
int gil_new(struct gil **out, long switch_interval_ms);

/* Free a GIL that no thread holds or waits for; NULL is ignored. */
void gil_free(struct gil *g);

/* Block until the calling thread holds the GIL. */
void gil_acquire(struct gil *g);

/*
 * Give the GIL up, waking one waiter.  Unlike gil_yield() it does not wait
 * for the waiter to take it: the caller is about to do something else.
 */
void gil_release(struct gil *g);

/*
 * Has a waiter asked the holder to hand over?  Taking the GIL clears the
 * request.  Any thread may call this at any time, as often as it likes,
 * without a data race and without waiting for the GIL.
 */
bool gil_drop_requested(struct gil *g);

/*
 * Hand the GIL to a waiting thread, then wait to get it back: it returns
 * only after another thread has taken the GIL and given it up again.  If
 * no thread is waiting, the caller simply keeps it and the call returns
 * at once.
 */
void gil_yield(struct gil *g);

/*
 * How many times a thread has taken the GIL so far: one for each return
 * from gil_acquire(), and one for each gil_yield() that handed the GIL
 * over and took it back.
 */
unsigned long gil_acquisitions(struct gil *g);

#endif
