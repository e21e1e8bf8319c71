/*
 * cost_fact.c - how long one factorial takes with GMP, by the guide's loop
 * (bigfact_loop: one mpz_mul_ui per factor) and by GMP's own algorithm
 * (bigfact_fast: mpz_fac_ui), for tests/bench to set beside Python's loop
 * and math.factorial.  The two results must be equal.
 *
 *	cost_fact [--n N] [--runs N]
 *
 * Prints one line: n=N runs=R loop_s=SECONDS fac_s=SECONDS, each the median
 * of the runs.
 */
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

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	enum { OPT_N = 1, OPT_RUNS, OPT_HELP };
	static const struct option opts[] = {
		{ "n", required_argument, NULL, OPT_N },
		{ "runs", required_argument, NULL, OPT_RUNS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	double loop_s[MAX_RUNS], fac_s[MAX_RUNS];
	long n = 50000, runs = 5;
	int64_t start;
	mpz_t loop, fast;
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
		case OPT_HELP:
			printf("usage: %s [--n N] [--runs N]\n"
			       "Time factorial(N) (default 50000) by the loop and by mpz_fac_ui,\n"
			       "RUNS times (default 5, at most %d), and print the medians.\n",
			       wb_progname(), MAX_RUNS);
			return 0;
		}
	}
	arg_no_operands(argc, argv);

	mpz_init(loop);
	mpz_init(fast);
	/* Taking turns, so that a machine busier for a while slows both alike. */
	for (long r = 0; r < runs; r++) {
		start = clk_now_ns();
		bigfact_loop(loop, (unsigned long)n);
		loop_s[r] = clk_since(start);
		start = clk_now_ns();
		bigfact_fast(fast, (unsigned long)n);
		fac_s[r] = clk_since(start);
		if (mpz_cmp(loop, fast) != 0)
			die("the loop's factorial(%ld) differs from mpz_fac_ui's", n);
	}
	mpz_clear(fast);
	mpz_clear(loop);
	printf("n=%ld runs=%ld loop_s=%.6f fac_s=%.6f\n", n, runs, median(loop_s, (int)runs),
	       median(fac_s, (int)runs));
	return 0;
}
