/*
 * mpi_pool.c - chapter 02's Pool.map of factorial(50000), over MPI.
 *
 * Start it with mpirun: every rank runs this same program.  Rank 0 is the
 * master (mpool_master_map, the exercise): it hands the tasks out one at a
 * time to whichever worker asks and collects the results in input order.
 * The other ranks are workers (mpool_worker): each computes factorials with
 * GMP and sends them back as bytes.  Rank 0 then checks every result against
 * GMP's own factorial and prints how many tasks each rank ran and for how
 * long.  With one rank there is no worker, and rank 0 computes every task.
 *
 *	mpirun -n 4 mpi_pool [--tasks N] [--n N] [--uneven] [--long N]
 *	                     [--static] [--digits FILE] [--kill-rank R]
 *
 * --uneven makes task 0 a long one among short ones; --static splits the
 * tasks into one fixed block per worker instead, for comparison.
 * --kill-rank R makes worker rank R kill itself with SIGKILL before it
 * asks for work, once every rank has started (a barrier): unlike chapter
 * 02's pool, MPI does not carry on without it - mpirun ends the whole job.
 */
#include <errno.h>
#include <signal.h>
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
	int rank, size;
	long tasks, n, long_n, kill_rank;
	bool uneven, static_split;
	const char *digits_path;
};

static void usage(void)
{
	printf("usage: mpirun -n RANKS %s [--tasks N] [--n N] [--uneven] [--long N]\n"
	       "       [--static] [--digits FILE] [--kill-rank R]\n"
	       "\n"
	       "Compute factorial(N) TASKS times, each by the guide's loop with GMP: rank 0\n"
	       "hands the tasks to whichever worker rank asks next and collects the results\n"
	       "in input order; every other rank is a worker.  Defaults are the guide's:\n"
	       "4 tasks of factorial(50000).\n"
	       "\n"
	       "  --tasks N       how many factorials (1 to %d)\n"
	       "  --n N           which factorial (0 to %d)\n"
	       "  --uneven        task 0 is a long one: factorial(--long) instead\n"
	       "  --long N        the long task's factorial (0 to %d; default 8 x --n,\n"
	       "                  at most %d); implies --uneven\n"
	       "  --static        split the tasks into one fixed block per worker\n"
	       "  --digits FILE   write the decimal digits of the first result to FILE\n"
	       "  --kill-rank R   worker rank R kills itself with SIGKILL at the start:\n"
	       "                  the job is aborted (1 to RANKS - 1)\n"
	       "  --help          show this and exit\n",
	       wb_progname(), MAX_TASKS, MAX_N, MAX_N, MAX_N);
}

static void parse(int argc, char **argv, void *arg)
{
	enum {
		OPT_TASKS = 1,
		OPT_N,
		OPT_UNEVEN,
		OPT_LONG,
		OPT_STATIC,
		OPT_DIGITS,
		OPT_KILL,
		OPT_HELP
	};
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "n", required_argument, NULL, OPT_N },
		{ "uneven", no_argument, NULL, OPT_UNEVEN },
		{ "long", required_argument, NULL, OPT_LONG },
		{ "static", no_argument, NULL, OPT_STATIC },
		{ "digits", required_argument, NULL, OPT_DIGITS },
		{ "kill-rank", required_argument, NULL, OPT_KILL },
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
		case OPT_KILL:
			/* Every rank knows the size: all reject the same values. */
			o->kill_rank = arg_long("--kill-rank", optarg, 1, o->size - 1);
			break;
		case OPT_STATIC:
			o->static_split = true;
			break;
		case OPT_DIGITS:
			o->digits_path = optarg;
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

/* No workers: rank 0 computes every task itself, one after another. */
static int map_alone(const struct mpool_task tasks[], size_t n, struct mpool_result results[])
{
	for (size_t i = 0; i < n; i++) {
		int64_t start = clk_now_ns();
		int rc = mpool_compute(&tasks[i], &results[i].bytes, &results[i].len);

		if (rc)
			return rc;
		results[i].compute_ns = clk_now_ns() - start;
	}
	return 0;
}

static void write_digits(const char *path, const mpz_t x)
{
	size_t len;
	char *digits = bigfact_decimal(x, &len);
	FILE *f;

	if (!digits)
		die("out of memory");
	f = fopen(path, "w");
	if (!f)
		die_errno(errno, "cannot open %s", path);
	if (fwrite(digits, 1, len, f) != len || fclose(f) != 0)
		die_errno(errno, "cannot write %s", path);
	free(digits);
}

/*
 * Each result against GMP's own n!, one line per task in input order;
 * returns how many were exact.
 */
static long report_tasks(const struct options *o, const struct mpool_task tasks[],
			 const struct mpool_result results[])
{
	long exact = 0;
	mpz_t want, got;

	mpz_init(want);
	mpz_init(got);
	for (long i = 0; i < o->tasks; i++) {
		bool ok;

		bigfact_fast(want, (unsigned long)tasks[i].n);
		bigfact_import(got, results[i].bytes, results[i].len);
		ok = mpz_cmp(got, want) == 0;
		exact += ok;
		printf("task=%ld n=%llu rank=%d bits=%zu ok=%s compute=%.3f\n", i,
		       (unsigned long long)tasks[i].n, results[i].rank,
		       mpz_sgn(got) ? mpz_sizeinbase(got, 2) : 0, ok ? "yes" : "no",
		       (double)results[i].compute_ns / 1e9);
		if (i == 0 && o->digits_path)
			write_digits(o->digits_path, got);
	}
	mpz_clear(want);
	mpz_clear(got);
	return exact;
}

/* How many tasks each rank ran, and how long it computed. */
static void report_ranks(const struct options *o, int size, const struct mpool_result results[])
{
	for (int r = size > 1 ? 1 : 0; r < size; r++) {
		long count = 0;
		int64_t busy = 0;

		for (long i = 0; i < o->tasks; i++) {
			if (results[i].rank == r) {
				count++;
				busy += results[i].compute_ns;
			}
		}
		printf("rank=%d tasks=%ld busy=%.3f\n", r, count, (double)busy / 1e9);
	}
}

static int run_master(const struct options *o, int size)
{
	struct mpool_task *tasks = xcalloc((size_t)o->tasks, sizeof(*tasks));
	struct mpool_result *results = xcalloc((size_t)o->tasks, sizeof(*results));
	const char *mode = size < 2 ? "alone" : o->static_split ? "static" : "dynamic";
	int64_t start;
	double elapsed;
	long exact;
	int rc;

	for (long i = 0; i < o->tasks; i++) {
		tasks[i].index = (uint64_t)i;
		tasks[i].n = (uint64_t)(o->uneven && i == 0 ? o->long_n : o->n);
	}
	printf("%d rank(s): %s; %ld task(s) of factorial(%ld)%s\n", size,
	       size < 2		 ? "no workers, rank 0 computes every task"
	       : o->static_split ? "rank 0 splits the tasks into one block per worker"
				 : "rank 0 hands each task to whichever worker asks",
	       o->tasks, o->n, o->uneven ? ", task 0 a long one" : "");
	fflush(stdout);

	start = clk_now_ns();
	if (size < 2)
		rc = map_alone(tasks, (size_t)o->tasks, results);
	else if (o->static_split)
		rc = mpool_static_map(MPI_COMM_WORLD, tasks, (size_t)o->tasks, results);
	else
		rc = mpool_master_map(MPI_COMM_WORLD, tasks, (size_t)o->tasks, results);
	elapsed = clk_since(start);
	if (rc) {
		/*
		 * The workers' state is unknown (one may wait for a task that
		 * never comes): only ending the whole job is sure to end them.
		 */
		fprintf(stderr, "%s: the map failed: %s; see chapters/05-mpi/README.md\n",
			wb_progname(), mpool_strerror(rc));
		fflush(NULL);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}

	exact = report_tasks(o, tasks, results);
	report_ranks(o, size, results);
	printf("ranks=%d workers=%d mode=%s tasks=%ld n=%ld exact=%ld elapsed=%.3f\n", size,
	       size - 1, mode, o->tasks, o->n, exact, elapsed);
	mpool_results_free(results, (size_t)o->tasks);
	free(results);
	free(tasks);
	return exact == o->tasks ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct options o = { .tasks = 4, .n = 50000, .long_n = -1 };
	int size, rc;

	wb_init(argv[0]);
	mpool_init(&argc, &argv, &o.rank, &size);
	o.size = size;
	mpool_parse(o.rank, parse, argc, argv, &o);

	/* Every rank past its start-up before one dies: a rank lost while
	 * the others are still wiring up can leave mpirun itself stuck. */
	if (o.kill_rank)
		MPI_Barrier(MPI_COMM_WORLD);
	if (o.rank == MPOOL_MASTER)
		return run_master(&o, size);
	if (o.rank == o.kill_rank) {
		fprintf(stderr, "%s: rank %d kills itself with SIGKILL\n", wb_progname(), o.rank);
		fflush(NULL);
		raise(SIGKILL);
	}
	rc = mpool_worker(MPI_COMM_WORLD);
	if (rc) {
		fprintf(stderr, "%s: rank %d: worker: %s\n", wb_progname(), o.rank,
			mpool_strerror(rc));
		fflush(NULL);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	return 0;
}
