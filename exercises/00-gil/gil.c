/*
 * gil.c - exercise 00-gil: the simulated GIL's hand-over.
 *
 * The state is small: whether the GIL is held, how many times it has
 * changed hands, how many threads wait for it, and a "please drop it" flag.
 * Everything but the flag is guarded by g->lock; the flag is an atomic
 * because the holder polls it between pieces of work without the lock.
 * The lesson it needs and its hints: `build/workbook hint 00-gil`.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "clock.h"
#include "gil.h"

struct gil {
	pthread_mutex_t lock;
	pthread_cond_t released; /* the GIL became free */
	pthread_cond_t taken;	 /* a thread took the GIL */
	bool held;
	int waiters;
	unsigned long acquisitions;
	atomic_bool drop_request;
	int64_t interval_ns;
};

int gil_new(struct gil **out, long switch_interval_ms)
{
	struct gil *g;
	pthread_mutexattr_t attr;
	int err;

	if (!out || switch_interval_ms < 1 || switch_interval_ms > GIL_MAX_INTERVAL_MS)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->interval_ns = switch_interval_ms * CLK_NS_PER_MS;
	atomic_init(&g->drop_request, false);
	/*
	 * An error-checking mutex turns "locked it twice" into EDEADLK, which
	 * PT_CHECK reports, instead of a silent hang.
	 */
	err = -pthread_mutexattr_init(&attr);
	if (err)
		goto out_free;
	err = -pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	if (!err)
		err = -pthread_mutex_init(&g->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (err)
		goto out_free;
	err = -clk_cond_init(&g->released);
	if (err)
		goto out_destroy_lock;
	err = -clk_cond_init(&g->taken);
	if (err)
		goto out_destroy_released;
	*out = g;
	return 0;

out_destroy_released:
	pthread_cond_destroy(&g->released);
out_destroy_lock:
	pthread_mutex_destroy(&g->lock);
out_free:
	free(g);
	return err;
}

void gil_free(struct gil *g)
{
	if (!g)
		return;
	PT_CHECK(pthread_cond_destroy(&g->taken));
	PT_CHECK(pthread_cond_destroy(&g->released));
	PT_CHECK(pthread_mutex_destroy(&g->lock));
	free(g);
}

void gil_acquire(struct gil *g)
{
	PT_CHECK(pthread_mutex_lock(&g->lock));
	/*
	 * TODO(00-gil): count yourself in g->waiters while you wait.  While
	 * the GIL is held, wait on g->released with clk_cond_wait_until(), but
	 * never past one switch interval from now: a condition-variable wait
	 * sleeps, where a loop that looks again and again burns the CPU the
	 * holder needs.
	 * When a wait times out and nobody has taken the GIL since the wait
	 * began (g->acquisitions has not moved), set g->drop_request so the
	 * holder hands over.  A wait can end without the GIL being free (a
	 * time-out, or another waiter was faster), so look again after every
	 * one.  Then take the GIL: mark it held, clear the request and
	 * broadcast g->taken (a yielding thread waits for that).  The
	 * acquisition is counted below.
	 */
	g->acquisitions++;
	PT_CHECK(pthread_mutex_unlock(&g->lock));
}

void gil_release(struct gil *g)
{
	PT_CHECK(pthread_mutex_lock(&g->lock));
	/* TODO(00-gil): mark the GIL free and wake one waiter. */
	PT_CHECK(pthread_mutex_unlock(&g->lock));
}

bool gil_drop_requested(struct gil *g)
{
	/* TODO(00-gil): report the request flag a waiter sets. */
	(void)g;
	return false;
}

void gil_yield(struct gil *g)
{
	PT_CHECK(pthread_mutex_lock(&g->lock));
	/*
	 * TODO(00-gil): if nobody waits (g->waiters is 0), keep the GIL and
	 * return.  Otherwise release it, then wait on g->taken until another
	 * thread has taken it (g->acquisitions moves), so that this thread
	 * cannot grab it straight back - CPython calls this "forced
	 * switching".  Then unlock g->lock and call gil_acquire(), which
	 * takes g->lock itself.
	 */
	PT_CHECK(pthread_mutex_unlock(&g->lock));
}

unsigned long gil_acquisitions(struct gil *g)
{
	unsigned long n;

	PT_CHECK(pthread_mutex_lock(&g->lock));
	n = g->acquisitions;
	PT_CHECK(pthread_mutex_unlock(&g->lock));
	return n;
}
