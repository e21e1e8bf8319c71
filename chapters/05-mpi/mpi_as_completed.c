/*
 * mpi_as_completed.c - chapter 01's as_completed, over MPI.
 *
 * Rank 0 deals one task to each worker (or several, round robin), posts a
 * non-blocking receive for every result and prints each as it completes
 * (mpool_as_completed, the exercise): the order of the lines is the order
 * the workers finished, not the order of the tasks.  Each line carries its
 * task's index, so nothing is lost by that.
 *
 *	mpirun -n 4 mpi_as_completed [--tasks N] [--n N] [--uneven] [--long N]
 *
 * --uneven makes task 0 a long one: with one task per worker it is printed
 * last, whatever its place in the input.
 */
#include <stdbool.h>
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
	long tasks, n, long_n;
	bool uneven;
};

/* What the callback needs between calls: the checks and the count. */
struct progress {
	int64_t start;
	long order, exact;
	mpz_t want, got;
};

static void usage(void)
{
	printf("usage: mpirun -n RANKS %s [--tasks N] [--n N] [--uneven] [--long N]\n"
	       "\n"
	       "Deal TASKS factorials to the worker ranks, post a non-blocking receive\n"
	       "for each result, and print each result as it completes (MPI_Waitany).\n"
	       "Defaults: one task per worker, factorial(50000).\n"
	       "\n"
	       "  --tasks N       how many factorials (1 to %d; default: one per worker)\n"
	       "  --n N           which factorial (0 to %d)\n"
	       "  --uneven        task 0 is a long one: factorial(--long) instead\n"
	       "  --long N        the long task's factorial (0 to %d; default 8 x --n,\n"
	       "                  at most %d); implies --uneven\n"
	       "  --help          show this and exit\n",
	       wb_progname(), MAX_TASKS, MAX_N, MAX_N, MAX_N);
}

static void parse(int argc, char **argv, void *arg)
{
	enum { OPT_TASKS = 1, OPT_N, OPT_UNEVEN, OPT_LONG, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "n", required_argument, NULL, OPT_N },
		{ "uneven", no_argument, NULL, OPT_UNEVEN },
		{ "long", required_argument, NULL, OPT_LONG },
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
		case OPT_UNEVEN:
			o->uneven = true;
			break;
		case OPT_LONG:
			o->long_n = arg_long("--long", optarg, 0, MAX_N);
			o->uneven = true;
			break;
		case OPT_HELP:
			usage();
			wb_exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (o->long_n < 0)
		o->long_n = o->n * 8 < MAX_N ? o->n * 8 : MAX_N;
}

/* One result, as it completes: checked against GMP and printed at once. */
static int print_done(void *arg, const struct mpool_task *t, int rank, const unsigned char *bytes,
		      size_t len)
{
	struct progress *p = arg;
	bool ok;

	bigfact_fast(p->want, (unsigned long)t->n);
	bigfact_import(p->got, bytes, len);
	ok = mpz_cmp(p->got, p->want) == 0;
	p->exact += ok;
	printf("done=%ld task=%llu n=%llu rank=%d ok=%s at=%.3f\n", p->order++,
	       (unsigned long long)t->index, (unsigned long long)t->n, rank, ok ? "yes" : "no",
	       clk_since(p->start));
	fflush(stdout);
	return 0;
}

static int run_master(struct options *o, int size)
{
	struct mpool_task *tasks;
	struct progress p = { 0 };
	int rc;

	if (size < 2) {
		fprintf(stderr, "%s: needs at least 2 ranks (mpirun -n 4 %s)\n", wb_progname(),
			wb_progname());
		return 2;
	}
	if (o->tasks == 0)
		o->tasks = size - 1;
	tasks = xcalloc((size_t)o->tasks, sizeof(*tasks));
	for (long i = 0; i < o->tasks; i++) {
		tasks[i].index = (uint64_t)i;
		tasks[i].n = (uint64_t)(o->uneven && i == 0 ? o->long_n : o->n);
	}
	printf("%d ranks: %ld task(s) of factorial(%ld)%s dealt to %d workers; "
	       "each printed as it completes\n",
	       size, o->tasks, o->n, o->uneven ? ", task 0 a long one," : "", size - 1);
	fflush(stdout);
	mpz_init(p.want);
	mpz_init(p.got);
	p.start = clk_now_ns();
	rc = mpool_as_completed(MPI_COMM_WORLD, tasks, (size_t)o->tasks, print_done, &p);
	if (rc) {
		fprintf(stderr, "%s: as_completed failed: %s; see chapters/05-mpi/README.md\n",
			wb_progname(), mpool_strerror(rc));
		fflush(NULL);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	printf("ranks=%d tasks=%ld done=%ld exact=%ld elapsed=%.3f\n", size, o->tasks, p.order,
	       p.exact, clk_since(p.start));
	mpz_clear(p.want);
	mpz_clear(p.got);
	free(tasks);
	return p.exact == o->tasks ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct options o = { .tasks = 0, .n = 50000, .long_n = -1 };
	int rank, size, rc;

	wb_init(argv[0]);
	mpool_init(&argc, &argv, &rank, &size);
	mpool_parse(rank, parse, argc, argv, &o);

	if (rank == MPOOL_MASTER)
		return run_master(&o, size);
	rc = mpool_worker(MPI_COMM_WORLD);
	if (rc) {
		fprintf(stderr, "%s: rank %d: worker: %s\n", wb_progname(), rank,
			mpool_strerror(rc));
		fflush(NULL);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	return 0;
}
