/*
 * cpu.h - how many CPUs this process may run on, Python's
 * os.process_cpu_count() (and what multiprocessing.cpu_count() should be).
 *
 * The machine may have more CPUs online than the process is allowed to
 * use: `taskset -c 0 prog`, a container's cpuset, or a batch scheduler
 * restrict its affinity mask.  Sizing a pool by the online count then
 * starts workers that only take turns on the same CPUs.
 */
#ifndef WB_CPU_H
#define WB_CPU_H

/*
 * The number of CPUs in the calling thread's affinity mask
 * (sched_getaffinity, with a mask sized for any number of CPUs), or, if
 * that cannot be read, the number online; at least 1.
 */
int cpu_count(void);

/* The number of CPUs online (sysconf), whatever the affinity; at least 1. */
int cpu_online(void);

#endif
