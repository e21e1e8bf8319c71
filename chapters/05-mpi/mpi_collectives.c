/*
 * mpi_collectives.c - the sweep with MPI's collectives: a static split by
 * MPI_Scatter, fixed-size answers back by MPI_Gather, a sum by MPI_Reduce.
 *
 * A collective is one call that every rank of the communicator makes; MPI
 * moves the data between them (as a tree, over the best transport), so
 * there is no master loop to write.  The price is rigidity: MPI_Scatter
 * deals the same number of tasks to every rank, rank 0 included, whatever
 * each task costs, and MPI_Gather brings back the same number of bytes from
 * each.  So each rank sends back a fixed-size summary of its results (the
 * bits of each n!), never the numbers themselves, and MPI_Reduce adds up
 * one figure - the total of those bits - on the way to rank 0.
 *
 * The sweep is factorial(n), factorial(2n), ... factorial(TASKS * n): the
 * costs climb, so the last rank's block is the heaviest.  Compare the time
 * with mpi_pool's dynamic map (make bench runs both).
 *
 *	mpirun -n 4 mpi_collectives [--tasks N] [--n N]
 */
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "bigfact.h"
#include "check.h"
#include "clock.h"
#include "mpool.h"

#define MAX_TASKS 1024
#define MAX_N 200000

struct options {
	int size; /* the number of ranks, which the checks need */
	long tasks, n;
};

static void usage(void)
{
	printf("usage: mpirun -n RANKS %s [--tasks N] [--n N]\n"
	       "\n"
	       "Compute factorial(N), factorial(2N) ... factorial(TASKS x N), dealt to the\n"
	       "ranks in equal blocks by MPI_Scatter; MPI_Gather brings back the bits of\n"
	       "each, MPI_Reduce their sum.  TASKS must be a multiple of RANKS.\n"
	       "\n"
	       "  --tasks N       how many factorials (1 to %d; default 2 per rank)\n"
	       "  --n N           the sweep's step (0 to %d; TASKS x N at most %d;\n"
	       "                  default 5000)\n"
	       "  --help          show this and exit\n",
	       wb_progname(), MAX_TASKS, MAX_N, MAX_N);
}

static void parse(int argc, char **argv, void *arg)
{
	enum { OPT_TASKS = 1, OPT_N, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "n", required_argument, NULL, OPT_N },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct options *o = arg;
	int c;

	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			o->tasks = arg_long("--tasks", optarg, 1, MAX_TASKS);
			break;
		case OPT_N:
			o->n = arg_long("--n", optarg, 0, MAX_N);
			break;
		case OPT_HELP:
			usage();
			wb_exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (o->tasks == 0)
		o->tasks = 2L * o->size;
	if (o->tasks % o->size != 0)
		usage_error("--tasks %ld is not a multiple of the %d ranks: MPI_Scatter deals "
			    "equal blocks",
			    o->tasks, o->size);
	if (o->tasks * o->n > MAX_N)
		usage_error("--tasks x --n is %ld, more than %d", o->tasks * o->n, MAX_N);
}

int main(int argc, char **argv)
{
	struct options o = { .tasks = 0, .n = 5000 };
	uint64_t *ns = NULL, *bits = NULL, *my_ns, *my_bits, my_sum = 0, sum = 0, want = 0;
	int rank, size, per;
	long wrong = 0;
	int64_t start;
	mpz_t f;

	wb_init(argv[0]);
	mpool_init(&argc, &argv, &rank, &size);
	o.size = size;
	mpool_parse(rank, parse, argc, argv, &o);
	per = (int)(o.tasks / size);

	if (rank == MPOOL_MASTER) {
		printf("%d ranks: factorial(%ld) to factorial(%ld), %d per rank by MPI_Scatter\n",
		       size, o.n, o.n * o.tasks, per);
		fflush(stdout);
		ns = xcalloc((size_t)o.tasks, sizeof(*ns));
		bits = xcalloc((size_t)o.tasks, sizeof(*bits));
		for (long i = 0; i < o.tasks; i++)
			ns[i] = (uint64_t)(o.n * (i + 1));
	}
	my_ns = xcalloc((size_t)per, sizeof(*my_ns));
	my_bits = xcalloc((size_t)per, sizeof(*my_bits));

	start = clk_now_ns();
	/* Rank 0's array is cut in equal blocks, one per rank, its own too. */
	if (MPI_Scatter(ns, per, MPI_UINT64_T, my_ns, per, MPI_UINT64_T, MPOOL_MASTER,
			MPI_COMM_WORLD) != MPI_SUCCESS)
		die("MPI_Scatter failed");
	mpz_init(f);
	for (int i = 0; i < per; i++) {
		bigfact_loop(f, (unsigned long)my_ns[i]);
		my_bits[i] = mpz_sgn(f) ? mpz_sizeinbase(f, 2) : 0;
		my_sum += my_bits[i];
	}
	/* The blocks come back in rank order: input order, by construction. */
	if (MPI_Gather(my_bits, per, MPI_UINT64_T, bits, per, MPI_UINT64_T, MPOOL_MASTER,
		       MPI_COMM_WORLD) != MPI_SUCCESS ||
	    MPI_Reduce(&my_sum, &sum, 1, MPI_UINT64_T, MPI_SUM, MPOOL_MASTER, MPI_COMM_WORLD) !=
		    MPI_SUCCESS)
		die("MPI_Gather or MPI_Reduce failed");

	if (rank == MPOOL_MASTER) {
		double elapsed = clk_since(start);

		for (long i = 0; i < o.tasks; i++) {
			bigfact_fast(f, (unsigned long)ns[i]);
			want += mpz_sizeinbase(f, 2);
			wrong += bits[i] != mpz_sizeinbase(f, 2);
			printf("task=%ld n=%llu rank=%ld bits=%llu\n", i, (unsigned long long)ns[i],
			       i / per, (unsigned long long)bits[i]);
		}
		printf("ranks=%d tasks=%ld bits_sum=%llu want_sum=%llu wrong=%ld elapsed=%.3f\n",
		       size, o.tasks, (unsigned long long)sum, (unsigned long long)want, wrong,
		       elapsed);
	}
	mpz_clear(f);
	free(my_ns);
	free(my_bits);
	free(ns);
	free(bits);
	return rank == MPOOL_MASTER && (wrong || sum != want) ? 1 : 0;
}
