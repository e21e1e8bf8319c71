/*
 * counter.h - two counters that many threads may add to at once.
 *
 * Both are opaque objects with the same small lifecycle:
 *
 *	struct mutex_counter *c;
 *	int err = mutex_counter_new(&c);  // 0, or -ENOMEM and the like
 *	mutex_counter_add(c, 1);          // from any number of threads at once
 *	long total = mutex_counter_get(c);
 *	mutex_counter_free(c);            // once no thread uses it any more
 *
 * A new counter reads 0.  add(c, n) adds n, which may be any long, negative
 * included, as long as the total stays within a long.  Every add must be
 * counted exactly once, whatever the interleaving: after T threads have
 * each added 1 M times and been joined, get() returns T * M.  get() may
 * also be called while other threads add; it returns the total of some
 * moment of the run, never a value that no moment had.  The mutex counter
 * serialises the read-modify-write with a lock; the atomic counter makes it
 * one indivisible instruction.  Neither call waits for anything but other
 * calls on the same counter: the mutex is held only for the addition or
 * the read itself.
 *
 * The implementations are this chapter's first two exercises:
 * exercises/00-gil/counter_mutex.c and exercises/00-gil/counter_atomic.c.
 */
#ifndef COUNTER_H
#define COUNTER_H

/*
 * Each _new() returns 0 and stores a counter reading 0 in *@out, or a
 * negative errno (-EINVAL for a NULL @out, -ENOMEM, or what
 * pthread_mutex_init() reported), leaving *@out untouched.  Each _free()
 * ignores NULL.
 */
struct mutex_counter;
int mutex_counter_new(struct mutex_counter **out);
void mutex_counter_add(struct mutex_counter *c, long n);
long mutex_counter_get(struct mutex_counter *c);
void mutex_counter_free(struct mutex_counter *c);

struct atomic_counter;
int atomic_counter_new(struct atomic_counter **out);
void atomic_counter_add(struct atomic_counter *c, long n);
long atomic_counter_get(struct atomic_counter *c);
void atomic_counter_free(struct atomic_counter *c);

#endif
