/*
 * robust_counter.c - exercise 02-robust: a counter in shared memory whose
 * lock survives the death of the process holding it.
 *
 * The counter is mapped MAP_SHARED before fork(), so every process adds to
 * the same memory; a pthread mutex in that memory keeps the adds whole.
 * Two things make that mutex fit for processes: it must be process-shared,
 * and it must be robust, so that a holder killed inside its critical
 * section hands the next locker EOWNERDEAD instead of a lock that nobody
 * will ever unlock.  Your job: give the mutex both attributes, and write
 * the lock that recovers from a dead holder.  The contract is in
 * chapters/02-multiprocessing/shm_counter.h; the lesson and the hints:
 * `build/workbook hint 02-robust`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>

#include "check.h"
#include "shm_counter.h"

int shm_counter_new(struct shm_counter **out)
{
	struct shm_counter *c;
	pthread_mutexattr_t attr;
	int err;

	if (!out)
		return -EINVAL;
	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED)
		return -ENOMEM;
	err = pthread_mutexattr_init(&attr);
	if (err)
		goto out_unmap;
	/*
	 * TODO(02-robust): a mutex is private to its process unless told
	 * otherwise, and dies with its holder unless told otherwise.  Set
	 * both attributes on attr before the mutex is made from it.
	 */
	/* >>> solution */
	err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (!err)
		err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	/* <<< solution */
	if (!err)
		err = pthread_mutex_init(&c->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (err)
		goto out_unmap;
	*out = c;
	return 0;

out_unmap:
	munmap(c, sizeof(*c));
	return -err;
}

/*
 * Take the lock.  Returns 0 with the lock held and the counter whole, or
 * -ENOTRECOVERABLE (or another -errno) without it.
 */
static int counter_lock(struct shm_counter *c)
{
	int err;

	/*
	 * TODO(02-robust): take c->lock.  When its last holder died holding
	 * it, pthread_mutex_lock() says EOWNERDEAD - and you hold the lock
	 * now.  The dead holder may have been midway through an add: undo
	 * what it did not commit (see the undo record in shm_counter.h),
	 * then mark the mutex consistent again, or it becomes unusable for
	 * good (ENOTRECOVERABLE) as soon as you unlock it.
	 */
	/* >>> solution */
	err = pthread_mutex_lock(&c->lock);
	if (err == EOWNERDEAD) {
		if (c->busy) {
			c->value = c->before;
			c->busy = 0;
		}
		PT_CHECK(pthread_mutex_consistent(&c->lock));
		err = 0;
	}
	/* <<< solution */
	/* >>> skeleton
	(void)c;
	err = ENOSYS;
	<<< skeleton */
	return -err;
}

static void counter_unlock(struct shm_counter *c)
{
	PT_CHECK(pthread_mutex_unlock(&c->lock));
}

int shm_counter_add_midway(struct shm_counter *c, long n, void (*midway)(void *), void *arg)
{
	int err = counter_lock(c);

	if (err)
		return err;
	/*
	 * The undo record, step by step.  A process can be killed between
	 * any two instructions, so each step must reach memory in this order:
	 * atomic_signal_fence() stops the compiler from reordering or merging
	 * the stores across it (the hardware keeps one thread's stores in
	 * order as that thread sees them, and the next locker is ordered after
	 * them by the lock).
	 */
	c->before = c->value;
	atomic_signal_fence(memory_order_seq_cst);
	c->busy = 1;
	atomic_signal_fence(memory_order_seq_cst);
	c->value = c->before + n;
	if (midway)
		midway(arg);
	atomic_signal_fence(memory_order_seq_cst);
	c->busy = 0; /* the commit */
	atomic_signal_fence(memory_order_seq_cst);
	counter_unlock(c);
	return 0;
}

int shm_counter_add(struct shm_counter *c, long n)
{
	return shm_counter_add_midway(c, n, NULL, NULL);
}

int shm_counter_get(struct shm_counter *c, long *value)
{
	/*
	 * TODO(02-robust): a reader locks too.  Without the lock it could
	 * read a value that an add has changed but not committed, and that
	 * is rolled back if its process dies.
	 */
	/* >>> solution */
	int err = counter_lock(c);

	if (err)
		return err;
	*value = c->value;
	counter_unlock(c);
	return 0;
	/* <<< solution */
	/* >>> skeleton
	(void)c, (void)value;
	return -ENOSYS;
	<<< skeleton */
}

void shm_counter_free(struct shm_counter *c)
{
	if (!c)
		return;
	/* A robust mutex whose holder died may still count as locked. */
	pthread_mutex_destroy(&c->lock);
	munmap(c, sizeof(*c));
}
