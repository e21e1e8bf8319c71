/*
 * gil_sim - what the GIL does to CPU-bound threads, measured.
 *
 * The same job (a fixed amount of arithmetic per thread) runs three ways:
 *   gil   every thread must hold the simulated GIL (gil.h) to compute, and
 *         hands it over every switch interval, as CPython does
 *   free  no GIL: the threads run as C runs them, truly in parallel
 *   io    under the GIL again, but each thread alternates computing with
 *         waiting on "I/O" (a sleep), and releases the GIL while it waits
 * Each run draws its timeline and prints its speed-up over running the
 * threads one after another.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "gil.h"
#include "timeline.h"

enum mode { MODE_GIL, MODE_FREE, MODE_IO, MODE_ALL };
static const char *const mode_names[] = { "gil", "free", "io", "all", NULL };

/* The work is cut into chunks this long, and the GIL is checked between. */
#define CHUNK_NS (100 * 1000)

struct config {
	int threads;
	long work_ms;	      /* CPU work per thread */
	long switch_ms;	      /* the GIL's switch interval */
	long io_ms;	      /* each I/O wait in io mode */
	int rounds;	      /* compute + I/O rounds per thread in io mode */
	uint64_t chunk_iters; /* spin() iterations in one CHUNK_NS */
	bool trace;
};

struct run {
	const struct config *cfg;
	struct gil *gil; /* NULL when running free */
	long io_ms;
	int rounds;
	struct timeline *tl;
	atomic_long dropped; /* spans that did not fit in the timeline */
	pthread_barrier_t start;
};

struct worker {
	struct run *run;
	char name[24];
	uint64_t sink; /* keeps the arithmetic from being optimised out */
};

/* Pure CPU work: a xorshift generator that touches no memory. */
static uint64_t spin(uint64_t iters, uint64_t x)
{
	for (uint64_t i = 0; i < iters; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

/* How many spin() iterations take CHUNK_NS on this machine, in this build. */
static uint64_t calibrate(void)
{
	const uint64_t probe = 1u << 20;
	int64_t best = INT64_MAX;
	uint64_t x = 88172645463325252u;

	for (int i = 0; i < 5; i++) {
		int64_t t0 = clk_now_ns(), dt;

		x = spin(probe, x);
		dt = clk_now_ns() - t0;
		if (dt < best)
			best = dt;
	}
	if (x == 0) /* never true; makes x observable */
		puts("");
	return best > 0 ? (uint64_t)((double)probe * CHUNK_NS / (double)best) + 1 : probe;
}

static void record(struct worker *w, char mark, int64_t from, int64_t to)
{
	/* A full timeline loses part of the picture, not the run; say so later. */
	if (timeline_add(w->run->tl, w->name, "", mark, from, to) != 0)
		atomic_fetch_add(&w->run->dropped, 1);
}

/*
 * Compute @chunks chunks of work, recording one span per stretch of
 * uninterrupted running.  Under the GIL the caller holds it, and a stretch
 * ends when another thread asks for it; running free, stretches are cut at
 * the same interval only so that both pictures have the same grain.
 */
static void compute(struct worker *w, long chunks)
{
	const struct config *cfg = w->run->cfg;
	struct gil *gil = w->run->gil;
	int64_t began = clk_now_ns();

	for (long i = 0; i < chunks; i++) {
		w->sink = spin(cfg->chunk_iters, w->sink);
		if (gil && gil_drop_requested(gil)) {
			/* The span must end before the GIL is given away. */
			record(w, '=', began, clk_now_ns());
			gil_yield(gil);
			began = clk_now_ns();
		} else if (!gil && clk_now_ns() - began >= cfg->switch_ms * CLK_NS_PER_MS) {
			int64_t now = clk_now_ns();

			record(w, '=', began, now);
			began = now;
		}
	}
	record(w, '=', began, clk_now_ns());
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	long chunks = run->cfg->work_ms * (CLK_NS_PER_MS / CHUNK_NS);
	int err = pthread_barrier_wait(&run->start);

	if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
		pt_fail(err, "pthread_barrier_wait", __FILE__, __LINE__);
	for (int r = 0; r < run->rounds; r++) {
		/* Split the work evenly; the first rounds take any remainder. */
		long mine = chunks / run->rounds + (r < chunks % run->rounds);

		if (run->gil)
			gil_acquire(run->gil);
		compute(w, mine);
		/* Like CPython around a blocking call: release, wait, retake. */
		if (run->gil)
			gil_release(run->gil);
		if (run->io_ms > 0) {
			int64_t t0 = clk_now_ns();

			clk_sleep_ms(run->io_ms);
			record(w, '.', t0, clk_now_ns());
		}
	}
	return NULL;
}

/* Run the threads once; returns the elapsed seconds. */
static double run_threads(struct run *run, int threads)
{
	struct worker *ws = xcalloc((size_t)threads, sizeof(*ws));
	pthread_t *tids = xcalloc((size_t)threads, sizeof(*tids));
	int64_t t0;
	int err;

	atomic_init(&run->dropped, 0);
	err = pthread_barrier_init(&run->start, NULL, (unsigned)threads + 1);
	if (err)
		die_errno(err, "pthread_barrier_init");
	for (int i = 0; i < threads; i++) {
		ws[i].run = run;
		ws[i].sink = 0x9e3779b97f4a7c15u + (uint64_t)i;
		snprintf(ws[i].name, sizeof(ws[i].name), "Thread-%d", i + 1);
		err = pthread_create(&tids[i], NULL, worker_main, &ws[i]);
		if (err)
			die_errno(err, "pthread_create (thread %d of %d)", i + 1, threads);
	}
	t0 = clk_now_ns();
	err = pthread_barrier_wait(&run->start);
	if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
		pt_fail(err, "pthread_barrier_wait", __FILE__, __LINE__);
	for (int i = 0; i < threads; i++)
		PT_CHECK(pthread_join(tids[i], NULL));
	PT_CHECK(pthread_barrier_destroy(&run->start));
	free(tids);
	free(ws);
	return clk_since(t0);
}

static struct timeline *new_timeline(void)
{
	struct timeline *tl;
	int rc = timeline_new(&tl, 100000);

	if (rc)
		die_errno(-rc, "timeline_new");
	return tl;
}

/* One thread's work alone, no GIL: the unit every speed-up is measured in. */
static double measure_alone(const struct config *cfg)
{
	struct run run = { .cfg = cfg, .rounds = 1, .tl = new_timeline() };
	double t = run_threads(&run, 1);

	timeline_free(run.tl);
	return t;
}

static void run_mode(const struct config *cfg, enum mode mode, double alone)
{
	struct run run = { .cfg = cfg, .rounds = 1, .tl = new_timeline() };
	static const char *const titles[] = {
		"under a simulated GIL: one thread computes at a time",
		"free, as C runs threads: all compute at once",
		"under the GIL, releasing it while waiting on I/O",
	};
	double elapsed, sequential;
	unsigned long acquisitions = 0;

	if (mode != MODE_FREE) {
		int err = gil_new(&run.gil, cfg->switch_ms);

		if (err)
			die_errno(-err, "gil_new");
	}
	if (mode == MODE_IO) {
		run.rounds = cfg->rounds;
		run.io_ms = cfg->io_ms;
	}
	elapsed = run_threads(&run, cfg->threads);
	if (run.gil)
		acquisitions = gil_acquisitions(run.gil);
	sequential = cfg->threads * (alone + (double)(run.rounds * run.io_ms) / 1000.0);

	printf("\n%s: %d threads %s\n", mode_names[mode], cfg->threads, titles[mode]);
	timeline_draw(run.tl, stdout, 72);
	if (cfg->trace)
		timeline_dump(run.tl, stdout);
	if (atomic_load(&run.dropped))
		printf("(the timeline was full: %ld spans were not recorded)\n",
		       atomic_load(&run.dropped));
	printf("mode=%s threads=%d elapsed=%.3f sequential=%.3f speedup=%.2f "
	       "acquisitions=%lu max_running=%d\n",
	       mode_names[mode], cfg->threads, elapsed, sequential, sequential / elapsed,
	       acquisitions, timeline_max_overlap(run.tl, '='));
	gil_free(run.gil);
	timeline_free(run.tl);
}

static void usage(void)
{
	printf("usage: gil_sim [--mode gil|free|io|all] [--threads N] [--work-ms MS]\n"
	       "               [--switch-ms MS] [--io-ms MS] [--rounds R] [--trace]\n"
	       "\n"
	       "CPU-bound threads under a simulated GIL, free, and with I/O waits that\n"
	       "release the GIL; each run draws its timeline ('=' computing, '.' waiting\n"
	       "on I/O, blank: waiting for the GIL) and prints its speed-up over running\n"
	       "the threads one after another.\n"
	       "  --mode MODE       gil, free, io, or all three (default all)\n"
	       "  --threads N       threads, 1 to 64 (default 2)\n"
	       "  --work-ms MS      CPU work per thread, 1 to 10000 (default 200)\n"
	       "  --switch-ms MS    the GIL's switch interval, 1 to 1000 (default 5,\n"
	       "                    CPython's)\n"
	       "  --io-ms MS        length of each I/O wait in io mode, 0 to 10000\n"
	       "                    (default 50)\n"
	       "  --rounds R        compute + I/O rounds per thread in io mode, 1 to 100\n"
	       "                    (default 4)\n"
	       "  --trace           also print every span: span WORKER JOB MARK START END\n"
	       "  --help            this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "work-ms", required_argument, NULL, 'w' },
		{ "switch-ms", required_argument, NULL, 's' },
		{ "io-ms", required_argument, NULL, 'i' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "trace", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct config cfg = {
		.threads = 2,
		.work_ms = 200,
		.switch_ms = 5,
		.io_ms = 50,
		.rounds = 4,
	};
	enum mode mode = MODE_ALL;
	double alone;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'm':
			mode = (enum mode)arg_choice("--mode", optarg, mode_names);
			break;
		case 't':
			cfg.threads = (int)arg_long("--threads", optarg, 1, 64);
			break;
		case 'w':
			cfg.work_ms = arg_long("--work-ms", optarg, 1, 10000);
			break;
		case 's':
			cfg.switch_ms = arg_long("--switch-ms", optarg, 1, 1000);
			break;
		case 'i':
			cfg.io_ms = arg_long("--io-ms", optarg, 0, 10000);
			break;
		case 'r':
			cfg.rounds = (int)arg_long("--rounds", optarg, 1, 100);
			break;
		case 'T':
			cfg.trace = true;
			break;
		case 'h':
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);

	cfg.chunk_iters = calibrate();
	alone = measure_alone(&cfg);
	printf("one thread alone: %.3f s for %ld ms of work; %d threads one after "
	       "another: %.3f s\n",
	       alone, cfg.work_ms, cfg.threads, alone * cfg.threads);
	for (enum mode m = MODE_GIL; m < MODE_ALL; m++)
		if (mode == MODE_ALL || mode == m)
			run_mode(&cfg, m, alone);
	return 0;
}
