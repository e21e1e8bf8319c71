/*
 * threading_demo.c - the guide's ThreadPoolExecutor example, in C.
 *
 * Five "downloads" that each wait half a second run on three worker
 * threads through executor_map().  Three start at once, two follow when
 * workers come free, so the whole run takes two rounds, 1.0 s, instead of
 * 2.5 s one after another; the results still come back in input order.
 *
 *	threading_demo [--tasks N] [--workers N] [--delay-ms MS]
 *	               [--timeline] [--trace]
 *
 * The downloads are simulated with a sleep, which is all the guide's
 * example does too.  download_demo does them for real, with libcurl,
 * against the workbook's loopback server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "executor.h"
#include "log.h"
#include "timeline.h"

struct download {
	int id;
	long delay_ms;
	struct timeline *tl; /* where to record the span, or NULL */
	char name[32];	     /* the result: "file_3.dat" */
};

/* An I/O-bound task: it spends all its time waiting. */
static int simulated_download(void *arg, void **result, char *err, size_t errlen)
{
	struct download *d = arg;
	int64_t start = clk_now_ns();
	char job[16];

	(void)err, (void)errlen; /* a sleep cannot fail */
	log_msg("Starting download %d...", d->id);
	clk_sleep_ms(d->delay_ms);
	snprintf(d->name, sizeof(d->name), "file_%d.dat", d->id);
	log_msg("Download %d complete!", d->id);
	if (d->tl) {
		snprintf(job, sizeof(job), "%d", d->id);
		/* '.' is the chart's mark for "waiting on I/O". */
		timeline_add(d->tl, log_name(), job, '.', start, clk_now_ns());
	}
	*result = d->name;
	return 0;
}

static void usage(void)
{
	printf("usage: %s [--tasks N] [--workers N] [--delay-ms MS] [--timeline] [--trace]\n"
	       "\n"
	       "Run N simulated downloads, each waiting MS milliseconds, on a pool of\n"
	       "worker threads with executor_map(), and compare the time taken with\n"
	       "the ideal.  Defaults are the guide's: 5 tasks, 3 workers, 500 ms.\n"
	       "\n"
	       "  --tasks N       how many downloads (1 to 10000)\n"
	       "  --workers N     threads in the pool (1 to 256)\n"
	       "  --delay-ms MS   how long each download waits (0 to 60000)\n"
	       "  --timeline      draw which thread ran which download, and when\n"
	       "  --trace         print one 'span WORKER JOB MARK START END' line per download\n"
	       "  --help          show this and exit\n",
	       wb_progname());
}

int main(int argc, char **argv)
{
	enum { OPT_TASKS = 1, OPT_WORKERS, OPT_DELAY, OPT_TIMELINE, OPT_TRACE, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "timeline", no_argument, NULL, OPT_TIMELINE },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long tasks = 5, workers = 3, delay_ms = 500;
	bool draw = false, trace = false;
	struct timeline *tl = NULL;
	struct download *downloads;
	void **args, **results;
	struct executor *ex;
	char err[EXECUTOR_ERRMAX];
	double elapsed, ideal, sequential;
	int64_t start;
	int c, rc;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, 10000);
			break;
		case OPT_WORKERS:
			workers = arg_long("--workers", optarg, 1, 256);
			break;
		case OPT_DELAY:
			delay_ms = arg_long("--delay-ms", optarg, 0, 60000);
			break;
		case OPT_TIMELINE:
			draw = true;
			break;
		case OPT_TRACE:
			trace = true;
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);

	if (draw || trace) {
		rc = timeline_new(&tl, (size_t)tasks);
		if (rc)
			die_errno(-rc, "timeline_new");
	}
	downloads = xcalloc((size_t)tasks, sizeof(*downloads));
	args = xcalloc((size_t)tasks, sizeof(*args));
	results = xcalloc((size_t)tasks, sizeof(*results));
	for (long i = 0; i < tasks; i++) {
		downloads[i].id = (int)i;
		downloads[i].delay_ms = delay_ms;
		downloads[i].tl = tl;
		args[i] = &downloads[i];
	}

	printf("Downloading %ld files on %ld worker threads, %.3f s each\n", tasks, workers,
	       (double)delay_ms / 1000);
	fflush(stdout);

	/* The pool's whole life is timed, as Python's "with" block would be. */
	start = clk_now_ns();
	rc = executor_new(&ex, (int)workers, "Thread");
	if (rc)
		die("executor_new: %s", executor_strerror(rc));
	rc = executor_map(ex, simulated_download, args, (size_t)tasks, results, -1, err,
			  sizeof(err));
	executor_free(ex);
	elapsed = clk_since(start);
	if (rc)
		die("executor_map: %s", err[0] ? err : executor_strerror(rc));

	printf("Results: ");
	for (long i = 0; i < tasks; i++)
		printf("%s%s", i ? ", " : "", (const char *)results[i]);
	printf("\n");

	/* Full rounds of `workers` tasks each, one delay per round. */
	ideal = (double)((tasks + workers - 1) / workers) * (double)delay_ms / 1000;
	sequential = (double)tasks * (double)delay_ms / 1000;
	printf("%ld tasks in %.3f s (ideal %.3f s with %ld workers; %.3f s one at a time)\n", tasks,
	       elapsed, ideal, workers, sequential);
	printf("tasks=%ld workers=%ld delay_ms=%ld elapsed=%.3f ideal=%.3f sequential=%.3f\n",
	       tasks, workers, delay_ms, elapsed, ideal, sequential);

	if (draw) {
		printf("\n");
		timeline_draw(tl, stdout, 60);
		printf("(one row per worker thread; [N....] is download N waiting on the network)\n");
	}
	if (trace)
		timeline_dump(tl, stdout);

	timeline_free(tl);
	free(results);
	free(args);
	free(downloads);
	return 0;
}
