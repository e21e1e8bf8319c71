/*
 * counter_atomic.c - exercise 00-atomic: a counter made of one C11 atomic.
 *
 * A mutex works, but every add then takes and releases a lock.  The CPU can
 * do the whole read-modify-write as one indivisible instruction instead
 * (`lock xadd` on x86, an LL/SC loop on ARM), and C11 exposes it through
 * <stdatomic.h>.  Your job: make the value atomic and add to it atomically.
 * Lesson: chapters/00-gil/README.md, section "Atomics: one indivisible
 * instruction".
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "counter.h"

struct atomic_counter {
	/* TODO(00-atomic): a plain long cannot be updated atomically. */
	long value;
};

struct atomic_counter *atomic_counter_new(void)
{
	struct atomic_counter *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	c->value = 0;
	return c;
}

void atomic_counter_add(struct atomic_counter *c, long n)
{
	/*
	 * TODO(00-atomic): add n in one atomic step.  Relaxed ordering is
	 * enough: the counter guards no other data, and whoever reads the
	 * total first joins the threads, which orders everything before it.
	 */
	c->value += n;
}

long atomic_counter_get(struct atomic_counter *c)
{
	return c->value;
}

void atomic_counter_free(struct atomic_counter *c)
{
	free(c);
}
