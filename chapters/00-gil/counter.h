/*
 * counter.h - two counters that many threads may add to at once.
 *
 * Both are opaque objects with the same small lifecycle:
 *
 *	struct mutex_counter *c = mutex_counter_new();   // NULL: out of memory
 *	mutex_counter_add(c, 1);        // from any number of threads at once
 *	long total = mutex_counter_get(c);
 *	mutex_counter_free(c);          // once no thread uses it any more
 *
 * Every add must be counted exactly once, whatever the interleaving: after
 * T threads have each added 1 M times and been joined, get() returns T * M.
 * The mutex counter serialises the read-modify-write with a lock; the atomic
 * counter makes it one indivisible instruction.  Neither call blocks for
 * long: the mutex is held only for the addition itself.
 *
 * The implementations are this chapter's first two exercises:
 * exercises/00-gil/counter_mutex.c and exercises/00-gil/counter_atomic.c.
 */
#ifndef COUNTER_H
#define COUNTER_H

struct mutex_counter;
struct mutex_counter *mutex_counter_new(void);
void mutex_counter_add(struct mutex_counter *c, long n);
long mutex_counter_get(struct mutex_counter *c);
void mutex_counter_free(struct mutex_counter *c);

struct atomic_counter;
struct atomic_counter *atomic_counter_new(void);
void atomic_counter_add(struct atomic_counter *c, long n);
long atomic_counter_get(struct atomic_counter *c);
void atomic_counter_free(struct atomic_counter *c);

#endif
