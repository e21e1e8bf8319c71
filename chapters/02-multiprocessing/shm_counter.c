/*
 * shm_counter.c - the atomic counter of shm_counter.h.  (The robust one is
 * exercise 02-robust: solutions/02-multiprocessing/robust_counter.c.)
 */
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "shm_counter.h"

/*
 * An atomic that is not lock-free is emulated with a lock that lives in
 * the process, not in the shared page: another process would not see it.
 * Only the always-lock-free kind is safe to share.
 */
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "atomic_long must be lock-free to be shared");

int shm_atomic_new(struct shm_atomic **out)
{
	struct shm_atomic *a;

	if (!out)
		return -EINVAL;
	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return -ENOMEM;
	/* A new anonymous mapping is zero-filled; say what we mean anyway. */
	atomic_init(&a->value, 0);
	*out = a;
	return 0;
}

void shm_atomic_add(struct shm_atomic *a, long n)
{
	/*
	 * Relaxed is enough: the count needs no other memory ordered with it,
	 * and the parent reads it after waitpid(), which orders everything
	 * the child did before it exited.
	 */
	atomic_fetch_add_explicit(&a->value, n, memory_order_relaxed);
}

long shm_atomic_get(struct shm_atomic *a)
{
	return atomic_load_explicit(&a->value, memory_order_relaxed);
}

void shm_atomic_free(struct shm_atomic *a)
{
	if (a)
		munmap(a, sizeof(*a));
}
