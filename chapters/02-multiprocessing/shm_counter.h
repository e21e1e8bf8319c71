/*
 * shm_counter.h - counters that live in shared memory, for processes made
 * with fork() to add to at once.
 *
 * Two counters, each in a MAP_SHARED | MAP_ANONYMOUS mapping of its own:
 * made before fork(), every child inherits the same pages, so an add in one
 * process is seen by all.  Threads share memory by default; processes must
 * ask for it, and everything that guards the memory must work across
 * processes too.
 *
 *	struct shm_counter *c;
 *	int err = shm_counter_new(&c);     // before fork()
 *	... fork; in each child: shm_counter_add(c, 1) ...
 *	long total;
 *	err = shm_counter_get(c, &total);  // after the children are reaped
 *	shm_counter_free(c);               // in the process that made it
 *
 * The robust counter (struct shm_counter) guards its value with a pthread
 * mutex that is PTHREAD_PROCESS_SHARED (it works between processes) and
 * PTHREAD_MUTEX_ROBUST (a holder that dies does not take the lock with it).
 * When a process dies holding the lock - killed by SIGKILL in the middle of
 * an add, say - the next process to lock it is told so (EOWNERDEAD), and
 * this module repairs the value before it goes on:
 *
 *	An add that had not committed when its process died did not happen:
 *	the next locker rolls it back.  An add commits when its undo record
 *	is cleared (see struct shm_counter), just before the unlock, so an
 *	add that returned has always counted, and one whose process died
 *	inside it has counted exactly when it got as far as that.
 *
 * So after any set of processes has added and been reaped, killed ones
 * included, the total is the sum of the committed adds: exact, never torn.
 *
 * Errors are values.  The calls that lock return 0, or -ENOTRECOVERABLE if
 * the mutex was left unusable for good (a process recovered it and unlocked
 * it without marking it consistent: no process may use it again), or
 * another negative errno of pthread_mutex_lock().  They block while another
 * process holds the lock, asleep in the kernel (a futex), and only that
 * long: no call waits for anything but the lock.
 *
 * The robust counter is exercise 02-robust: solutions/02-multiprocessing/
 * robust_counter.c (exercises/02-multiprocessing/robust_counter.c is the
 * learner's).  The atomic counter is in shm_counter.c.
 */
#ifndef WB_SHM_COUNTER_H
#define WB_SHM_COUNTER_H

#include <pthread.h>
#include <stdatomic.h>

/*
 * The robust counter's layout is public because it is memory that several
 * processes map: they all read it the same way.  Only this module and the
 * checks touch the fields; callers use the functions.
 *
 * The undo record: an add first saves the value it starts from in
 * @before, then sets @busy, then changes @value, then clears @busy (its
 * commit).  A process that finds the owner dead and @busy set knows the
 * add did not commit and puts @before back.
 */
struct shm_counter {
	pthread_mutex_t lock; /* process-shared, robust; guards the rest */
	long value;
	long before; /* the value the add under way started from */
	int busy;    /* an add is under way and has not committed */
};

/*
 * Map a new counter reading 0 and initialise its mutex with both
 * attributes.  Returns 0 and the counter in *@out, or -EINVAL (NULL @out),
 * -ENOMEM (no mapping), or the error of the pthread call that failed;
 * *@out is then untouched and nothing is left mapped.
 */
int shm_counter_new(struct shm_counter **out);

/* Add @n (any long, as long as the total stays one).  0 or -errno. */
int shm_counter_add(struct shm_counter *c, long n);

/*
 * shm_counter_add() with a hook: @midway(@arg) runs inside the critical
 * section, after the value has changed and before the add commits - the
 * moment at which a holder's death leaves the most to repair.  The demo
 * and the checks kill a process there.  @midway may be NULL.
 */
int shm_counter_add_midway(struct shm_counter *c, long n, void (*midway)(void *), void *arg);

/* The committed total in *@value.  Locks, so it never sees an add midway. */
int shm_counter_get(struct shm_counter *c, long *value);

/*
 * Unmap the counter.  Only in the process that made it, once no other
 * process uses it (children that inherited the mapping lose it at exit).
 * NULL is ignored.
 */
void shm_counter_free(struct shm_counter *c);

/*
 * The atomic counter: one atomic_long in shared memory, added to with a
 * single atomic read-modify-write instruction.  Lock-free atomics work
 * between processes because they are instructions on memory, not calls
 * into a library that keeps state per process.  Nothing to lock, nothing
 * to recover: a process killed anywhere has either added or not.
 */
struct shm_atomic {
	atomic_long value;
};

/* 0 and a counter reading 0 in *@out, or -EINVAL or -ENOMEM. */
int shm_atomic_new(struct shm_atomic **out);
void shm_atomic_add(struct shm_atomic *a, long n);
long shm_atomic_get(struct shm_atomic *a);
/* As shm_counter_free().  NULL is ignored. */
void shm_atomic_free(struct shm_atomic *a);

#endif
