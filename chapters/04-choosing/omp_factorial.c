/*
 * omp_factorial.c - the number-crunching row with OpenMP, against chapter
 * 02's process pool and a plain loop, in one run.
 *
 * The guide's CPU-bound example: T factorials of N by one multiplication
 * per factor (GMP, bigfact_loop).  Three ways:
 *   - chapter 02's procpool: T tasks on min(T, cpus) worker processes, each
 *     result sent back as bytes;
 *   - `#pragma omp parallel for schedule(dynamic)`: the same loop on
 *     threads of this process, each writing its own mpz_t;
 *   - one after another, on this thread.
 * Every result must equal mpz_fac_ui(N); the digits and trailing zeros are
 * the ones multiprocessing_demo prints for the same N.
 *
 *	omp_factorial [--tasks T] [--n N] [--threads K]
 *
 * The pool runs first: it forks, and a process must fork before it has
 * threads (libgomp's stay alive after the parallel region).
 */
#include <errno.h>
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

#define MAX_TASKS 64

/* A pool task: @in is the uint64_t n; the result is n! as exported bytes. */
static int omp_pool_task(const void *in, size_t len, struct pp_out *out)
{
	unsigned char *bytes;
	size_t nbytes;
	uint64_t n;
	mpz_t f;
	int rc;

	if (len != sizeof(n))
		return -EINVAL;
	memcpy(&n, in, sizeof(n));
	mpz_init(f);
	bigfact_loop(f, (unsigned long)n);
	rc = bigfact_export(f, &bytes, &nbytes);
	mpz_clear(f);
	if (rc)
		return rc;
	rc = pp_out_write(out, bytes, nbytes);
	free(bytes);
	return rc;
}

/* The pool's run: seconds, or dies; every result checked against @want. */
static double omp_run_pool(long tasks, long workers, uint64_t n, const mpz_t want)
{
	struct pp_blob *blobs = xcalloc((size_t)tasks, sizeof(*blobs));
	struct pp_result *results = xcalloc((size_t)tasks, sizeof(*results));
	struct procpool *pool;
	double elapsed;
	int64_t start;
	mpz_t got;
	int rc;

	for (long i = 0; i < tasks; i++)
		blobs[i] = (struct pp_blob){ &n, sizeof(n) };
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
	procpool_free(pool);
	if (rc)
		die("procpool_join: %s", procpool_strerror(rc));
	elapsed = clk_since(start);

	mpz_init(got);
	for (long i = 0; i < tasks; i++) {
		if (results[i].err)
			die("pool task %ld: %s", i, results[i].msg);
		bigfact_import(got, results[i].data, results[i].len);
		if (mpz_cmp(got, want) != 0)
			die("pool task %ld: the result is not factorial(%llu)", i,
			    (unsigned long long)n);
		pp_result_release(&results[i]);
	}
	mpz_clear(got);
	free(results);
	free(blobs);
	return elapsed;
}

/* The OpenMP run on @threads threads; every result checked against @want. */
static double omp_run_parallel(long tasks, long threads, uint64_t n, const mpz_t want)
{
	mpz_t *f = xcalloc((size_t)tasks, sizeof(*f));
	double elapsed;
	int64_t start;

	for (long i = 0; i < tasks; i++)
		mpz_init(f[i]);
	start = clk_now_ns();
	/* Each iteration writes only its own f[i]: nothing is shared. */
#pragma omp parallel for schedule(dynamic) num_threads((int)threads)
	for (long i = 0; i < tasks; i++)
		bigfact_loop(f[i], (unsigned long)n);
	elapsed = clk_since(start);
	for (long i = 0; i < tasks; i++) {
		if (mpz_cmp(f[i], want) != 0)
			die("OpenMP task %ld: the result is not factorial(%llu)", i,
			    (unsigned long long)n);
		mpz_clear(f[i]);
	}
	free(f);
	return elapsed;
}

static void usage(void)
{
	printf("usage: %s [--tasks T] [--n N] [--threads K]\n"
	       "T factorials of N on chapter 02's process pool, with OpenMP on K threads\n"
	       "(default min(T, cpus)), and one after another; every result checked.\n",
	       wb_progname());
}

int main(int argc, char **argv)
{
	enum { OPT_TASKS = 1, OPT_N, OPT_THREADS, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "n", required_argument, NULL, OPT_N },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long tasks = 4, n = 50000, threads = 0;
	int cpus = cpu_count();
	double pool_s, omp_s, seq_s;
	size_t ndigits, zeros;
	char *digits;
	int64_t start;
	mpz_t want, got;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, MAX_TASKS);
			break;
		case OPT_N:
			n = arg_long("--n", optarg, 0, (long)BIGFACT_MAX_N);
			break;
		case OPT_THREADS:
			threads = arg_long("--threads", optarg, 1, MAX_TASKS);
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (!threads)
		threads = tasks < cpus ? tasks : cpus;

	mpz_init(want);
	bigfact_fast(want, (unsigned long)n);
	/* Fork the pool while this process has one thread. */
	pool_s = omp_run_pool(tasks, threads, (uint64_t)n, want);
	omp_s = omp_run_parallel(tasks, threads, (uint64_t)n, want);

	mpz_init(got);
	start = clk_now_ns();
	for (long i = 0; i < tasks; i++)
		bigfact_loop(got, (unsigned long)n);
	seq_s = clk_since(start);
	if (mpz_cmp(got, want) != 0)
		die("the loop's factorial(%ld) differs from mpz_fac_ui's", n);
	mpz_clear(got);

	digits = bigfact_decimal(want, &ndigits);
	if (!digits)
		die("out of memory");
	zeros = bigfact_trailing_zeros(digits, ndigits);
	free(digits);
	mpz_clear(want);

	printf("factorial(%ld) has %zu digits and %zu trailing zeros\n", n, ndigits, zeros);
	printf("%ld tasks: procpool %.3f s, OpenMP %.3f s on %ld threads, one at a time %.3f s\n",
	       tasks, pool_s, omp_s, threads, seq_s);
	printf("cpus=%d threads=%ld tasks=%ld n=%ld digits=%zu zeros=%zu pool=%.3f omp=%.3f "
	       "sequential=%.3f\n",
	       cpus, threads, tasks, n, ndigits, zeros, pool_s, omp_s, seq_s);
	return 0;
}
