/*
 * omp_factorial.c - the number-crunching row three ways: OpenMP threads,
 * chapter 02's process pool, and one task after another.
 *
 *	omp_factorial [--tasks N] [--n N] [--workers N]
 *
 * Each task is the guide's factorial(N) by the loop (bigfact_loop, GMP).
 * OpenMP spreads the tasks over threads with one pragma; the pool forks
 * worker processes and ships each result back as bytes.  Every result must
 * equal mpz_fac_ui(N), and the three runs print the same digest.
 *
 * The pool forks first, while this process still has one thread: libgomp
 * starts its threads at the first parallel region and keeps them, and a
 * fork after that would copy a process whose other threads are gone.
 */
#include <errno.h>
#include <gmp.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bigfact.h"
#include "check.h"
#include "clock.h"
#include "cpu.h"
#include "procpool.h"

#define OMP_MAX_TASKS 64

/* The pool's task: the argument is n, the result n!'s magnitude as bytes. */
static int omp_pool_task(const void *in, size_t len, struct pp_out *out)
{
	unsigned long n;
	unsigned char *bytes;
	size_t nbytes;
	mpz_t f;
	int rc;

	if (len != sizeof(n))
		return -EINVAL;
	memcpy(&n, in, sizeof(n));
	mpz_init(f);
	bigfact_loop(f, n);
	rc = bigfact_export(f, &bytes, &nbytes);
	mpz_clear(f);
	if (rc)
		return rc;
	rc = pp_out_write(out, bytes, nbytes);
	free(bytes);
	return rc;
}

/* FNV-1a of the decimal digits: a short name for a 213,237-digit number. */
static uint64_t omp_fnv1a(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--n N] [--workers N]\n"
	       "\n"
	       "Compute factorial(N) TASKS times by the guide's loop three ways: on OpenMP\n"
	       "threads (#pragma omp parallel for, schedule dynamic), on chapter 02's pool\n"
	       "of worker processes, and one task after another; check every result against\n"
	       "mpz_fac_ui(N) and print the times.  Defaults: 4 tasks of factorial(50000)\n"
	       "on min(TASKS, cpu_count()) threads and workers.\n"
	       "\n"
	       "  --tasks N    how many factorials (1 to %d, default 4)\n"
	       "  --n N        which factorial (0 to 200000, default 50000)\n"
	       "  --workers N  threads and pool workers (1 to %d)\n"
	       "  --help       show this and exit\n",
	       wb_progname(), OMP_MAX_TASKS, PROCPOOL_MAX_WORKERS);
}

int main(int argc, char **argv)
{
	enum { OPT_TASKS = 1, OPT_N, OPT_WORKERS, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "n", required_argument, NULL, OPT_N },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long tasks = 4, n = 50000, workers = 0;
	int cpus = cpu_count(), c, rc, bad = 0;
	struct pp_blob *blobs;
	struct pp_result *results;
	struct procpool *pool;
	double pool_s, omp_s, seq_s, bound;
	unsigned long un;
	mpz_t want, got;
	char *digits;
	size_t ndigits;
	int64_t start;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, OMP_MAX_TASKS);
			break;
		case OPT_N:
			n = arg_long("--n", optarg, 0, 200000);
			break;
		case OPT_WORKERS:
			workers = arg_long("--workers", optarg, 1, PROCPOOL_MAX_WORKERS);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (!workers)
		workers = tasks < cpus ? tasks : cpus;
	un = (unsigned long)n;

	mpz_init(want);
	mpz_init(got);
	bigfact_fast(want, un);

	/* The pool first: fork while there is one thread. */
	blobs = xcalloc((size_t)tasks, sizeof(*blobs));
	results = xcalloc((size_t)tasks, sizeof(*results));
	for (long i = 0; i < tasks; i++)
		blobs[i] = (struct pp_blob){ &un, sizeof(un) };
	start = clk_now_ns();
	rc = procpool_new(&pool, (int)workers);
	if (rc)
		die("procpool_new: %s", procpool_strerror(rc));
	rc = procpool_map(pool, omp_pool_task, blobs, (size_t)tasks, 1, results);
	if (rc) {
		procpool_free(pool);
		die("procpool_map: %s", procpool_strerror(rc));
	}
	procpool_close(pool);
	rc = procpool_join(pool);
	pool_s = clk_since(start);
	procpool_free(pool);
	if (rc)
		die("procpool_join: %s", procpool_strerror(rc));
	for (long i = 0; i < tasks; i++) {
		if (results[i].err)
			die("pool task %ld: %s", i, results[i].msg);
		bigfact_import(got, results[i].data, results[i].len);
		pp_result_release(&results[i]);
		if (mpz_cmp(got, want) != 0)
			die("pool task %ld: the result is not factorial(%ld)", i, n);
	}

	/*
	 * OpenMP: one pragma, each thread takes the next task when it is done
	 * (dynamic), and each task keeps its own number, so nothing is shared
	 * but the array of answers, one slot per task.
	 */
	{
		mpz_t *out = xcalloc((size_t)tasks, sizeof(*out));

		for (long i = 0; i < tasks; i++)
			mpz_init(out[i]);
		start = clk_now_ns();
#pragma omp parallel for schedule(dynamic) num_threads((int)workers)
		for (long i = 0; i < tasks; i++)
			bigfact_loop(out[i], un);
		omp_s = clk_since(start);
		for (long i = 0; i < tasks; i++) {
			if (mpz_cmp(out[i], want) != 0)
				bad++;
			mpz_clear(out[i]);
		}
		free(out);
		if (bad)
			die("%d OpenMP task(s): the result is not factorial(%ld)", bad, n);
	}

	start = clk_now_ns();
	for (long i = 0; i < tasks; i++)
		bigfact_loop(got, un);
	seq_s = clk_since(start);
	if (mpz_cmp(got, want) != 0)
		die("the sequential factorial(%ld) differs from mpz_fac_ui's", n);

	digits = bigfact_decimal(want, &ndigits);
	if (!digits)
		die("out of memory");
	/* No run beats one task per core: the sequential time over the cores used. */
	bound = seq_s / (double)(workers < cpus ? workers : cpus);
	printf("%ld x factorial(%ld) by the loop, all equal to mpz_fac_ui(%ld)\n", tasks, n, n);
	printf("  %-22s %8.3f s\n", "sequential", seq_s);
	printf("  %-22s %8.3f s\n", "OpenMP threads", omp_s);
	printf("  %-22s %8.3f s\n", "procpool processes", pool_s);
	printf("  %-22s %8.3f s  (sequential / min(%ld workers, %d cpus))\n", "bound", bound,
	       workers, cpus);
	printf("factorial(%ld) has %zu digits and %zu trailing zeros\n", n, ndigits,
	       bigfact_trailing_zeros(digits, ndigits));
	printf("tasks=%ld n=%ld workers=%ld cpus=%d omp_s=%.3f procpool_s=%.3f sequential_s=%.3f "
	       "bound_s=%.3f digits=%zu zeros=%zu digest=%016llx\n",
	       tasks, n, workers, cpus, omp_s, pool_s, seq_s, bound, ndigits,
	       bigfact_trailing_zeros(digits, ndigits),
	       (unsigned long long)omp_fnv1a(digits, ndigits));
	free(digits);
	free(results);
	free(blobs);
	mpz_clear(got);
	mpz_clear(want);
	return 0;
}
