/*
 * cost_fact.c - how long one factorial takes with GMP, by the guide's loop
 * (bigfact_loop: one mpz_mul_ui per factor) and by GMP's own algorithm
 * (bigfact_fast: mpz_fac_ui), for tests/bench to set beside Python's loop
 * and math.factorial.  Two more loops say where the first one stands:
 *
 *   floor  the same loop on GMP's bare layer (mpn_mul_1 on a limb array
 *          sized once): no mpz bookkeeping, only the multiplication the
 *          CPU must do, so no one-factor-at-a-time loop can beat it;
 *   pairs  one mpz_mul_ui per TWO factors: i * (i + 1) fits in a 64-bit
 *          limb for every i below 2^32, which halves the passes over the
 *          number.  A C programmer's first optimisation, not the guide's
 *          loop.
 *
 * Every result must equal mpz_fac_ui's.
 *
 *	cost_fact [--n N] [--runs N]
 *
 * Prints one line: n=N runs=R loop_s=S fac_s=S floor_s=S pairs_s=S, each
 * the median of the runs.
 *
 *	cost_fact --threads T [--n N] [--runs N]
 *
 * measures instead what this hardware allows a pool of T workers: T
 * threads each run the loop at once, with no pool, no processes and no
 * bytes moved.  Cores that share a multiplier (SMT siblings) or a power
 * budget (a lower clock with every core busy) make T loops at once slower
 * than one; that, not the pool, bounds the pool's speed-up.  Prints
 * threads=T alone_s=S together_s=S speedup=X (T x alone / together), the
 * medians of the runs.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "bigfact.h"
#include "check.h"
#include "clock.h"

#define MAX_RUNS 100

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* @out = n! by the guide's loop, on mpn_mul_1 over one array of limbs. */
static void floor_loop(mpz_t out, unsigned long n)
{
	/* log2(n!) < n log2(n) bits; one spare limb for the last carry. */
	size_t cap = (size_t)((double)n * (log2((double)n + 1) + 1) / GMP_NUMB_BITS) + 2;
	mp_limb_t *limbs = mpz_limbs_write(out, (mp_size_t)cap);
	mp_size_t size = 1;

	limbs[0] = 1;
	for (unsigned long i = 2; i <= n; i++) {
		mp_limb_t carry = mpn_mul_1(limbs, limbs, size, i);

		if (carry)
			limbs[size++] = carry;
	}
	mpz_limbs_finish(out, size);
}

/* @out = n!, two factors per mpz_mul_ui. */
static void pairs_loop(mpz_t out, unsigned long n)
{
	unsigned long i = 2;

	mpz_set_ui(out, 1);
	for (; i + 1 <= n; i += 2)
		mpz_mul_ui(out, out, i * (i + 1));
	if (i == n)
		mpz_mul_ui(out, out, i);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One loop on its own thread, started with the others by a barrier. */
struct racer {
	pthread_t thread;
	pthread_barrier_t *start;
	unsigned long n;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	mpz_t x;

	mpz_init(x);
	pthread_barrier_wait(r->start);
	bigfact_loop(x, r->n);
	mpz_clear(x);
	return NULL;
}

/* Seconds for @t loops of factorial(@n) at once, on @t threads. */
static double together(long t, unsigned long n)
{
	struct racer *r = calloc((size_t)t, sizeof *r);
	pthread_barrier_t start;
	int64_t begin;
	int err;

	if (!r)
		die("out of memory");
	err = pthread_barrier_init(&start, NULL, (unsigned)t + 1);
	if (err)
		die_errno(err, "pthread_barrier_init");
	for (long i = 0; i < t; i++) {
		r[i] = (struct racer){ .start = &start, .n = n };
		err = pthread_create(&r[i].thread, NULL, racer_main, &r[i]);
		if (err)
			die_errno(err, "pthread_create");
	}
	pthread_barrier_wait(&start);
	begin = clk_now_ns();
	for (long i = 0; i < t; i++)
		pthread_join(r[i].thread, NULL);
	pthread_barrier_destroy(&start);
	free(r);
	return clk_since(begin);
}

static void hardware_bound(long threads, long n, long runs)
{
	double alone[MAX_RUNS], all[MAX_RUNS], a, b;
	mpz_t x;

	mpz_init(x);
	for (long r = 0; r < runs; r++) {
		int64_t start = clk_now_ns();

		bigfact_loop(x, (unsigned long)n);
		alone[r] = clk_since(start);
		all[r] = together(threads, (unsigned long)n);
	}
	mpz_clear(x);
	a = median(alone, (int)runs);
	b = median(all, (int)runs);
	printf("threads=%ld alone_s=%.6f together_s=%.6f speedup=%.3f\n", threads, a, b,
	       b > 0 ? (double)threads * a / b : 0.0);
}

int main(int argc, char **argv)
{
	enum { OPT_N = 1, OPT_RUNS, OPT_THREADS, OPT_HELP };
	static const struct option opts[] = {
		{ "n", required_argument, NULL, OPT_N },
		{ "runs", required_argument, NULL, OPT_RUNS },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	double loop_s[MAX_RUNS], fac_s[MAX_RUNS], floor_s[MAX_RUNS], pairs_s[MAX_RUNS];
	long n = 50000, runs = 5, threads = 0;
	int64_t start;
	mpz_t loop, fast, floor, pairs;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_N:
			n = arg_long("--n", optarg, 0, (long)BIGFACT_MAX_N);
			break;
		case OPT_RUNS:
			runs = arg_long("--runs", optarg, 1, MAX_RUNS);
			break;
		case OPT_THREADS:
			threads = arg_long("--threads", optarg, 1, 1024);
			break;
		case OPT_HELP:
			printf("usage: %s [--threads T] [--n N] [--runs N]\n"
			       "Time factorial(N) (default 50000) by the loop and by mpz_fac_ui,\n"
			       "RUNS times (default 5, at most %d), and print the medians;\n"
			       "with --threads, T loops at once on T threads against one alone.\n",
			       wb_progname(), MAX_RUNS);
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (threads > 0) {
		hardware_bound(threads, n, runs);
		return 0;
	}

	mpz_inits(loop, fast, floor, pairs, NULL);
	/* Taking turns, so that a machine busier for a while slows both alike. */
	for (long r = 0; r < runs; r++) {
		start = clk_now_ns();
		bigfact_loop(loop, (unsigned long)n);
		loop_s[r] = clk_since(start);
		start = clk_now_ns();
		bigfact_fast(fast, (unsigned long)n);
		fac_s[r] = clk_since(start);
		start = clk_now_ns();
		floor_loop(floor, (unsigned long)n);
		floor_s[r] = clk_since(start);
		start = clk_now_ns();
		pairs_loop(pairs, (unsigned long)n);
		pairs_s[r] = clk_since(start);
		if (mpz_cmp(loop, fast) != 0 || mpz_cmp(floor, fast) != 0 ||
		    mpz_cmp(pairs, fast) != 0)
			die("a loop's factorial(%ld) differs from mpz_fac_ui's", n);
	}
	mpz_clears(loop, fast, floor, pairs, NULL);
	printf("n=%ld runs=%ld loop_s=%.6f fac_s=%.6f floor_s=%.6f pairs_s=%.6f\n", n, runs,
	       median(loop_s, (int)runs), median(fac_s, (int)runs), median(floor_s, (int)runs),
	       median(pairs_s, (int)runs));
	return 0;
}
