/*
 * counter_atomic.c - exercise 00-atomic: a counter made of one C11 atomic.
 *
 * A mutex works, but every add then takes and releases a lock.  The CPU can
 * do the whole read-modify-write as one indivisible instruction instead
 * (`lock xadd` on x86, an LL/SC loop on ARM), and C11 exposes it through
 * <stdatomic.h>.  Your job: make the value atomic and add to it atomically.
 * The lesson it needs and its hints: `build/workbook hint 00-atomic`.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "counter.h"

struct atomic_counter {
	/* TODO(00-atomic): a plain long cannot be updated atomically. */
	/* >>> solution */
	atomic_long value;
	/* <<< solution */
	/* >>> skeleton
	long value;
	<<< skeleton */
};

int atomic_counter_new(struct atomic_counter **out)
{
	struct atomic_counter *c;

	if (!out)
		return -EINVAL;
	c = malloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* >>> solution */
	atomic_init(&c->value, 0);
	/* <<< solution */
	/* >>> skeleton
	c->value = 0;
	<<< skeleton */
	*out = c;
	return 0;
}

void atomic_counter_add(struct atomic_counter *c, long n)
{
	/*
	 * TODO(00-atomic): add n in one atomic step: a load followed by a
	 * store, even two atomic ones, lets another thread's add slip in
	 * between and be lost.  Relaxed ordering is enough: the counter
	 * guards no other data, so nothing else needs to become visible with
	 * it, and a reader still sees the adds of one variable in the one
	 * order they happened.  The final total is read after joining the
	 * threads, and the join orders everything they did before it.
	 */
	/* >>> solution */
	atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
	/* <<< solution */
	/* >>> skeleton
	c->value += n;
	<<< skeleton */
}

long atomic_counter_get(struct atomic_counter *c)
{
	/* TODO(00-atomic): read the value with one atomic load, too. */
	/* >>> solution */
	return atomic_load_explicit(&c->value, memory_order_relaxed);
	/* <<< solution */
	/* >>> skeleton
	return c->value;
	<<< skeleton */
}

void atomic_counter_free(struct atomic_counter *c)
{
	free(c);
}
