/*
 * cpu.c - the CPUs this process may use (see cpu.h).
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ALLOC */
#include <errno.h>
#include <sched.h>
#include <unistd.h>

#include "cpu.h"

int cpu_online(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

int cpu_count(void)
{
	/*
	 * A cpu_set_t holds 1024 CPUs, and the kernel refuses a mask smaller
	 * than its own with EINVAL: grow the mask until it fits.
	 */
	for (int ncpus = 1024; ncpus <= (1 << 22); ncpus *= 2) {
		cpu_set_t *set = CPU_ALLOC((size_t)ncpus);
		size_t size = CPU_ALLOC_SIZE((size_t)ncpus);
		int count = 0, err = 0;

		if (!set)
			break;
		CPU_ZERO_S(size, set);
		if (sched_getaffinity(0, size, set) == 0)
			count = CPU_COUNT_S(size, set);
		else
			err = errno;
		CPU_FREE(set);
		if (count > 0)
			return count;
		if (err != EINVAL)
			break;
	}
	return cpu_online();
}
