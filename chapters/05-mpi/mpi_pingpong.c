/*
 * mpi_pingpong.c - what one message costs: a round trip between two ranks.
 *
 * Rank 0 sends --bytes bytes to rank 1, which sends them straight back;
 * --rounds such round trips are timed after a few untimed ones (the first
 * messages also set up the connection).  Which way the bytes travel is
 * mpirun's choice, not the program's: between ranks on one machine Open MPI
 * uses shared memory (the "vader" transport); `--mca btl tcp,self` forces
 * TCP, as between machines.  The same binary measures both.
 *
 *	mpirun -n 2 mpi_pingpong [--bytes N] [--rounds N]
 *	mpirun -n 2 --mca btl tcp,self --mca btl_tcp_if_include lo mpi_pingpong
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "mpool.h"

#define WARMUP 10

struct options {
	long bytes, rounds;
};

static void usage(void)
{
	printf("usage: mpirun -n 2 %s [--bytes N] [--rounds N]\n"
	       "\n"
	       "Time round trips of a message between rank 0 and rank 1; ranks past 1\n"
	       "only wait.  Run it again with --mca btl tcp,self to force TCP.\n"
	       "\n"
	       "  --bytes N       the message's size (0 to 16777216; default 8)\n"
	       "  --rounds N      timed round trips (1 to 1000000; default 10000)\n"
	       "  --help          show this and exit\n",
	       wb_progname());
}

static void parse(int argc, char **argv, void *arg)
{
	enum { OPT_BYTES = 1, OPT_ROUNDS, OPT_HELP };
	static const struct option opts[] = {
		{ "bytes", required_argument, NULL, OPT_BYTES },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct options *o = arg;
	int c;

	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_BYTES:
			o->bytes = arg_long("--bytes", optarg, 0, 16L << 20);
			break;
		case OPT_ROUNDS:
			o->rounds = arg_long("--rounds", optarg, 1, 1000000);
			break;
		case OPT_HELP:
			usage();
			wb_exit(0);
		}
	}
	arg_no_operands(argc, argv);
}

/* @rounds round trips of @buf between ranks 0 and 1: 0 or -EIO. */
static int bounce(int rank, char *buf, int len, long rounds)
{
	int peer = 1 - rank;

	for (long i = 0; i < rounds; i++) {
		int rc;

		if (rank == 0) {
			rc = MPI_Send(buf, len, MPI_BYTE, peer, 0, MPI_COMM_WORLD);
			if (rc == MPI_SUCCESS)
				rc = MPI_Recv(buf, len, MPI_BYTE, peer, 0, MPI_COMM_WORLD,
					      MPI_STATUS_IGNORE);
		} else {
			rc = MPI_Recv(buf, len, MPI_BYTE, peer, 0, MPI_COMM_WORLD,
				      MPI_STATUS_IGNORE);
			if (rc == MPI_SUCCESS)
				rc = MPI_Send(buf, len, MPI_BYTE, peer, 0, MPI_COMM_WORLD);
		}
		if (rc != MPI_SUCCESS)
			return -EIO;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .bytes = 8, .rounds = 10000 };
	int rank, size, rc = 0;
	int64_t start;
	double elapsed;
	char *buf;

	wb_init(argv[0]);
	mpool_init(&argc, &argv, &rank, &size);
	mpool_parse(rank, parse, argc, argv, &o);
	if (size < 2) {
		fprintf(stderr, "%s: needs 2 ranks (mpirun -n 2 %s)\n", wb_progname(),
			wb_progname());
		return 2;
	}
	if (rank > 1)
		return 0;
	buf = xcalloc(1, (size_t)o.bytes + 1);
	rc = bounce(rank, buf, (int)o.bytes, WARMUP);
	start = clk_now_ns();
	if (!rc)
		rc = bounce(rank, buf, (int)o.bytes, o.rounds);
	elapsed = clk_since(start);
	free(buf);
	if (rc) {
		fprintf(stderr, "%s: rank %d: a send or receive failed\n", wb_progname(), rank);
		fflush(NULL);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	if (rank == 0) {
		printf("%ld round trips of %ld bytes between rank 0 and rank 1\n", o.rounds,
		       o.bytes);
		printf("bytes=%ld rounds=%ld elapsed=%.3f rtt_us=%.2f mb_per_s=%.1f\n", o.bytes,
		       o.rounds, elapsed, elapsed / (double)o.rounds * 1e6,
		       2.0 * (double)o.bytes * (double)o.rounds / elapsed / 1e6);
	}
	return 0;
}
