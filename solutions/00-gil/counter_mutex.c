/*
 * counter_mutex.c - exercise 00-mutex: a counter protected by a mutex.
 *
 * `value++` compiles to three steps: load the value, add one, store it.  Two
 * threads that interleave those steps both store the same result and one
 * increment is lost.  Your job: make the three steps happen as one, by
 * holding c->lock around them.  The lesson it needs and its hints:
 * `build/workbook hint 00-mutex`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "counter.h"

struct mutex_counter {
	pthread_mutex_t lock; /* guards value */
	long value;
};

int mutex_counter_new(struct mutex_counter **out)
{
	struct mutex_counter *c;
	int err;

	if (!out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = -pthread_mutex_init(&c->lock, NULL);
	if (err) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void mutex_counter_add(struct mutex_counter *c, long n)
{
	/* TODO(00-mutex): hold c->lock while you read, add and write back. */
	/* >>> solution */
	PT_CHECK(pthread_mutex_lock(&c->lock));
	c->value += n;
	PT_CHECK(pthread_mutex_unlock(&c->lock));
	/* <<< solution */
	/* >>> skeleton
	c->value += n;
	<<< skeleton */
}

long mutex_counter_get(struct mutex_counter *c)
{
	long v;

	/*
	 * TODO(00-mutex): a reader needs the lock too, or it may see a value
	 * that another thread is halfway through changing.
	 */
	/* >>> solution */
	PT_CHECK(pthread_mutex_lock(&c->lock));
	v = c->value;
	PT_CHECK(pthread_mutex_unlock(&c->lock));
	/* <<< solution */
	/* >>> skeleton
	v = c->value;
	<<< skeleton */
	return v;
}

void mutex_counter_free(struct mutex_counter *c)
{
	if (!c)
		return;
	PT_CHECK(pthread_mutex_destroy(&c->lock));
	free(c);
}
