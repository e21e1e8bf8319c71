/*
 * decision_matrix.c - the guide's decision matrix, measured: each row's
 * workload run four ways on the workbook's own machinery, timed, and the
 * fastest named beside the guide's (Python's) recommendation.
 *
 *	decision_matrix [--quick] [--rows LIST] [--workers N] [--json FILE]
 *	                [--kv] [--quiet]
 *
 * The four ways:
 *	sequential   one item after another, on the main thread
 *	threads      chapter 01's executor (executor_map)
 *	processes    chapter 02's pool (procpool_map), forked first thing in
 *	             main, before any thread exists, and kept for every row
 *	event loop   chapter 03's coroutines: libcurl's multi handle for the
 *	             fetches, a task per client for the server, and for what
 *	             has no non-blocking form (CPU work, SQLite) what asyncio
 *	             does: the loop's own thread, or run_in_executor
 * (dm_ways.h runs a row each way; dm_work.h has what one item does.)
 * Every item of a row gives a 64-bit answer (dm_work.h); each way's
 * answers, folded in item order, must equal the sequential ones, or the
 * program says which row and way differ and exits 1.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "cpu.h"
#include "dbfile.h"
#include "dm_ways.h"
#include "dm_work.h"
#include "executor.h"
#include "loopback.h"
#include "procpool.h"
#include "stopsig.h"
#include "tmpdir.h"

#define IO_THREADS 50  /* the thread pool for I/O rows */
#define LOOP_LIMIT 100 /* transfers the event loop has on the network at once */
#define HOST_LIMIT 2   /* fetches per host at once, when scraping */
#define ERRMAX 512

enum approach { SEQ, THREADS, PROCS, LOOP, NAPPROACH };
static const char *const APPROACH_NAME[NAPPROACH] = { "sequential", "threads", "processes",
						      "event loop" };
static const char *const APPROACH_KEY[NAPPROACH] = { "sequential", "threads", "processes",
						     "event_loop" };

enum row_id { FEW, MANY, IMAGES, CRUNCH, FEWQ, MANYQ, SCRAPE, SERVER, NROWS };

/* A row of the guide's matrix: what it runs and what the guide recommends. */
struct row_def {
	const char *id;	  /* for --rows, --kv and the JSON */
	int kind;	  /* enum dm_kind of its items */
	enum approach py; /* the guide's answer */
	bool cpu;	  /* CPU-bound: threads are sized like the process pool */
};
static const struct row_def ROWS[NROWS] = {
	[FEW] = { "few-downloads", DM_FETCH, THREADS, false },
	[MANY] = { "many-downloads", DM_FETCH, LOOP, false },
	[IMAGES] = { "images", DM_IMAGE, PROCS, true },
	[CRUNCH] = { "crunching", DM_FACT, PROCS, true },
	[FEWQ] = { "few-queries", DM_QUERY, THREADS, false },
	[MANYQ] = { "many-queries", DM_QUERY, LOOP, false },
	[SCRAPE] = { "scraping", DM_FETCH, LOOP, false },
	[SERVER] = { "server", DM_SERVE, LOOP, false },
};

/*
 * How big each row is: the full run, or --quick.  The delays are chosen so
 * that waiting dominates every sleeping row by far, even under the
 * sanitizers: --quick's 100 downloads take 3 s one by one and about a
 * tenth of a second 50 or 100 at a time.
 */
struct sizes {
	long few, few_ms;	   /* download a few files, each after a delay */
	long many, many_ms;	   /* download many */
	long images, side;	   /* images of side x side pixels */
	long facts, fact_n;	   /* factorials of fact_n, fact_n + 1, ... */
	long fewq, manyq, db_rows; /* queries, and the table's size */
	long hosts, pages, scrape_ms;
	long clients, rounds, backend_ms;
};
static const struct sizes FULL = {
	.few = 5,
	.few_ms = 200,
	.many = 1000,
	.many_ms = 10,
	.images = 100,
	.side = 512,
	.facts = 8,
	.fact_n = 30000,
	.fewq = 10,
	.manyq = 1000,
	.db_rows = 20000,
	.hosts = 4,
	.pages = 10,
	.scrape_ms = 50,
	.clients = 16,
	.rounds = 5,
	.backend_ms = 20,
};
static const struct sizes QUICK = {
	.few = 5,
	.few_ms = 100,
	.many = 100,
	.many_ms = 30,
	.images = 100,
	.side = 192,
	.facts = 8,
	.fact_n = 12000,
	.fewq = 5,
	.manyq = 100,
	.db_rows = 2000,
	.hosts = 4,
	.pages = 5,
	.scrape_ms = 30,
	.clients = 8,
	.rounds = 3,
	.backend_ms = 10,
};

struct options {
	bool quick, kv, quiet;
	bool rows[NROWS];
	long workers;
	const char *json;
};

/* One row's items and what the runs of it found. */
struct row_run {
	enum row_id id;
	char name[40];
	struct dm_job *jobs;
	size_t n;
	uint64_t *out;		    /* the answers of the way being run */
	uint64_t answer[NAPPROACH]; /* folded */
	double seconds[NAPPROACH];
	enum approach winner;
};

/* Everything the ways share, made once in main. */
struct bench {
	const struct options *opt;
	const struct sizes *sz;
	struct procpool *pool;
	struct executor *io, *cpu;
	long http_port;
	int listen_fd;
	long listen_port;
	char db[DM_PATH_MAX];
	/* The scraping row's per-host limits: process-shared semaphores in
	 * memory mapped before the pool forks, so that a worker process and
	 * a thread of this one wait on the same count. */
	sem_t *host_sems;
	bool tty;
	int progress_width;
};

/*
 * The pool's workers die with this process however it ends (each asked for
 * PR_SET_PDEATHSIG), but a worker that outlives its parent even for a
 * moment is left for init to reap.  So on Ctrl-C, SIGTERM or an exit
 * before the pool was joined, a stopsig.h handler kills and reaps them
 * itself.  A signal handler sees only statics: the table of pids is the
 * one place it can look, changed only with the stop signals blocked.
 */
static struct {
	pid_t owner; /* this process: a worker forked later inherits the table */
	pid_t pids[PROCPOOL_MAX_WORKERS];
	int n;
	struct sigaction prev[2];
} reaper;

static void reap_workers(void)
{
	if (getpid() != reaper.owner)
		return;
	for (int i = 0; i < reaper.n; i++) {
		kill(reaper.pids[i], SIGKILL);
		while (waitpid(reaper.pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	reaper.n = 0;
}

static void reap_on_stop(int sig, siginfo_t *info, void *uctx)
{
	int saved = errno;

	reap_workers();
	errno = saved;
	stopsig_pass_on(sig, info, uctx, reaper.prev);
}

/* Remember the pool's workers (@pool non-NULL) or forget them (NULL). */
static void reaper_track(const struct procpool *pool)
{
	sigset_t old;

	stopsig_block(&old);
	reaper.owner = getpid();
	reaper.n = pool ? procpool_size(pool) : 0;
	for (int i = 0; i < reaper.n; i++)
		reaper.pids[i] = procpool_pid(pool, i);
	stopsig_restore(&old);
}

/* -------------------------------------------------------------- progress */

static void progress(struct bench *b, const char *row, const char *way)
{
	char line[100];
	int n;

	if (b->opt->quiet)
		return;
	n = snprintf(line, sizeof line, "%s: %s...", row, way);
	if (b->tty)
		fprintf(stderr, "\r%-*s", b->progress_width > n ? b->progress_width : n, line);
	else
		fprintf(stderr, "%s\n", line);
	if (n > b->progress_width)
		b->progress_width = n;
}

static void progress_done(struct bench *b)
{
	if (!b->opt->quiet && b->tty)
		fprintf(stderr, "\r%*s\r", b->progress_width, "");
}

struct client {
	long port;
	unsigned id;
	unsigned long rounds;
	uint64_t sum;
};

static int client_task(void *arg, void **result, char *err, size_t errlen)
{
	struct client *c = arg;

	(void)result;
	return dm_client(c->port, c->id, c->rounds, &c->sum, err, errlen);
}

/*
 * Start the clients, run the server @way, wait for the clients.  The
 * row's answer is what the clients received, one sum per client; the
 * server's own count of requests served must come to clients x rounds.
 */
static int run_server(struct bench *b, struct row_run *r, enum approach way, char *err,
		      size_t errlen)
{
	struct dm_batch batch = { r->jobs, r->n, r->out };
	struct client *cl = xcalloc(r->n, sizeof *cl);
	struct future **fs = xcalloc(r->n, sizeof *fs);
	unsigned long served = 0;
	struct executor *clients;
	int rc = executor_new(&clients, (int)r->n, "client"), crc = 0;

	if (rc) {
		snprintf(err, errlen, "cannot start the clients: %s", executor_strerror(rc));
		goto out_free;
	}
	for (size_t i = 0; i < r->n && !rc; i++) {
		cl[i] = (struct client){ .port = b->listen_port,
					 .id = (unsigned)i,
					 .rounds = (unsigned long)b->sz->rounds };
		rc = executor_submit(clients, client_task, &cl[i], &fs[i]);
	}
	if (rc) {
		snprintf(err, errlen, "cannot start the clients: %s", executor_strerror(rc));
	} else if (way == SEQ) {
		rc = dm_run_seq(&batch, err, errlen);
	} else if (way == THREADS) {
		rc = dm_run_threads(b->io, &batch, err, errlen);
	} else if (way == PROCS) {
		rc = dm_run_procs(b->pool, &batch, err, errlen);
	} else {
		rc = dm_serve_loop(b->listen_fd, b->sz->backend_ms, &batch, err, errlen);
	}
	/* Each client gives up within DM_IO_TIMEOUT_MS if the server failed. */
	for (size_t i = 0; i < r->n && fs[i]; i++) {
		int one = future_result(fs[i], -1, NULL);

		if (one && !crc) {
			crc = one;
			if (!rc)
				snprintf(err, errlen, "client %zu: %s", i, future_errmsg(fs[i]));
		}
		future_unref(fs[i]);
	}
	executor_free(clients);
	for (size_t i = 0; !rc && i < r->n; i++)
		served += r->out[i];
	if (!rc && crc)
		rc = crc;
	if (!rc && served != r->n * (unsigned long)b->sz->rounds) {
		snprintf(err, errlen, "the server answered %lu requests of %lu", served,
			 r->n * (unsigned long)b->sz->rounds);
		rc = -EPROTO;
	}
	/* The answer the row compares: what the clients were told. */
	for (size_t i = 0; !rc && i < r->n; i++)
		r->out[i] = cl[i].sum;
out_free:
	free(fs);
	free(cl);
	return rc;
}

/* ----------------------------------------------------------------- rows */

static void make_jobs(struct bench *b, struct row_run *r)
{
	const struct sizes *sz = b->sz;
	struct dm_job base = { .kind = ROWS[r->id].kind, .host = -1, .port = b->http_port };
	long n = 0;

	switch (r->id) {
	case FEW:
	case MANY:
		n = r->id == FEW ? sz->few : sz->many;
		base.delay_ms = r->id == FEW ? sz->few_ms : sz->many_ms;
		snprintf(r->name, sizeof r->name, "download %ld files", n);
		break;
	case IMAGES:
		n = sz->images;
		base.size = sz->side;
		snprintf(r->name, sizeof r->name, "process %ld images", n);
		break;
	case CRUNCH:
		n = sz->facts;
		snprintf(r->name, sizeof r->name, "number crunching");
		break;
	case FEWQ:
	case MANYQ:
		n = r->id == FEWQ ? sz->fewq : sz->manyq;
		snprintf(base.db, sizeof base.db, "%s", b->db);
		snprintf(r->name, sizeof r->name, "%s DB queries (%ld)",
			 r->id == FEWQ ? "few" : "many", n);
		break;
	case SCRAPE:
		n = sz->hosts * sz->pages;
		base.delay_ms = sz->scrape_ms;
		snprintf(r->name, sizeof r->name, "web scraping");
		break;
	case SERVER:
		n = sz->clients;
		base.fd = b->listen_fd;
		base.delay_ms = sz->backend_ms;
		snprintf(r->name, sizeof r->name, "real-time server");
		break;
	case NROWS:
		break;
	}
	r->n = (size_t)n;
	r->jobs = xcalloc(r->n, sizeof *r->jobs);
	r->out = xcalloc(r->n, sizeof *r->out);
	for (size_t i = 0; i < r->n; i++) {
		struct dm_job *j = &r->jobs[i];

		*j = base;
		j->index = (unsigned)i;
		/* Files of different sizes, so that each answer is its own. */
		j->size = base.kind == DM_FETCH ? 1024 + (long)(i % 97) * 61 : base.size;
		j->n = base.kind == DM_FACT ? (unsigned long)sz->fact_n + i
					    : (unsigned long)sz->rounds;
		if (r->id == SCRAPE) {
			j->host = (int)(i % (size_t)sz->hosts);
			j->host_sem = &b->host_sems[j->host];
		}
	}
}

static uint64_t fold(const uint64_t *out, size_t n)
{
	return dm_fnv(DM_FNV_START, out, n * sizeof *out);
}

/* Run row @r every way; false (after saying why) if a way failed or disagreed. */
static bool run_row(struct bench *b, struct row_run *r)
{
	struct dm_batch batch = { r->jobs, r->n, r->out };

	for (int a = 0; a < NAPPROACH; a++) {
		struct executor *ex = ROWS[r->id].cpu ? b->cpu : b->io;
		char err[ERRMAX] = "";
		int64_t start;
		int rc;

		progress(b, r->name, APPROACH_NAME[a]);
		memset(r->out, 0, r->n * sizeof *r->out);
		if (r->id == SCRAPE)
			for (int h = 0; h < DM_MAX_HOSTS; h++)
				if (sem_init(&b->host_sems[h], 1, HOST_LIMIT) != 0)
					die_errno(errno, "sem_init");
		start = clk_now_ns();
		if (r->id == SERVER)
			rc = run_server(b, r, (enum approach)a, err, sizeof err);
		else if (a == SEQ)
			rc = dm_run_seq(&batch, err, sizeof err);
		else if (a == THREADS)
			rc = dm_run_threads(ex, &batch, err, sizeof err);
		else if (a == PROCS)
			rc = dm_run_procs(b->pool, &batch, err, sizeof err);
		else
			rc = dm_run_loop(b->io, &batch, LOOP_LIMIT, HOST_LIMIT, err, sizeof err);
		r->seconds[a] = clk_since(start);
		if (rc) {
			progress_done(b);
			fflush(stdout);
			fprintf(stderr, "%s: %s, %s: %s\n", wb_progname(), r->name,
				APPROACH_NAME[a], err[0] ? err : strerror(-rc));
			return false;
		}
		r->answer[a] = fold(r->out, r->n);
		if (r->answer[a] != r->answer[SEQ]) {
			progress_done(b);
			fflush(stdout);
			fprintf(stderr,
				"%s: %s: %s's answer %016" PRIx64
				" differs from sequential's %016" PRIx64 "\n",
				wb_progname(), r->name, APPROACH_NAME[a], r->answer[a],
				r->answer[SEQ]);
			return false;
		}
		if (r->seconds[a] < r->seconds[r->winner])
			r->winner = (enum approach)a;
	}
	return true;
}

/* ------------------------------------------------------------ the report */

/* Python's pick loses clearly in C: more than 10% slower than C's winner. */
static bool differs(const struct row_run *r)
{
	return r->seconds[ROWS[r->id].py] > 1.10 * r->seconds[r->winner];
}

static void print_table(const struct bench *b, struct row_run *rows, size_t n)
{
	bool cpu_note = false, other_note = false;

	printf("%-24s %10s %10s %10s %10s  %-10s %s\n", "row", "sequential", "threads", "processes",
	       "event loop", "C winner", "Python's");
	for (size_t i = 0; i < n; i++) {
		const struct row_run *r = &rows[i];
		bool mark = differs(r);

		printf("%-24s", r->name);
		for (int a = 0; a < NAPPROACH; a++)
			printf(" %8.3f s", r->seconds[a]);
		printf("  %-10s %s%s\n", APPROACH_NAME[r->winner], APPROACH_NAME[ROWS[r->id].py],
		       mark ? " *" : "");
		if (mark && ROWS[r->id].cpu && r->winner == THREADS)
			cpu_note = true;
		else if (mark)
			other_note = true;
	}
	printf("\nEvery way gave the same answer in every row.\n");
	if (cpu_note)
		printf("* CPU-bound: C has no GIL, so threads run on every core, as processes"
		       " do, without\n  forking or copying.\n");
	if (other_note)
		printf("* Python's pick is over 10%% slower than C's winner on this machine.\n");
	printf("threads: a pool of %d (CPU rows: %d); processes: a pool of %d;"
	       " event loop: %d at once.\n",
	       IO_THREADS, (int)b->opt->workers, (int)b->opt->workers, LOOP_LIMIT);
	printf("Scraping: %ld hosts, at most %d fetches per host at once, every way.\n",
	       b->sz->hosts, HOST_LIMIT);
	printf("Event loop: CPU rows run on its one thread; SQLite, which cannot wait"
	       " without\nblocking, runs in run_in_executor's threads (as with asyncio).\n");
}

static long ceil_div(long a, long b)
{
	return (a + b - 1) / b;
}

/*
 * The time way @a could take at best on a row whose items sleep: the
 * sleeps alone, as many at once as its limits allow; 0 for a row bound by
 * the CPU or the disk, which has no such bound.
 */
static double ideal_seconds(const struct bench *b, const struct row_run *r, enum approach a)
{
	const struct sizes *sz = b->sz;
	long n = (long)r->n, at_once[NAPPROACH] = { 1, IO_THREADS, b->opt->workers, LOOP_LIMIT };
	long rounds;

	switch (r->id) {
	case FEW:
	case MANY:
		return (double)ceil_div(n, at_once[a]) * (double)r->jobs[0].delay_ms / 1000;
	case SCRAPE:
		/* Each host's pages go HOST_LIMIT at a time, whatever the pool. */
		rounds = ceil_div(n, at_once[a]);
		if (a != SEQ && rounds < ceil_div(sz->pages, HOST_LIMIT))
			rounds = ceil_div(sz->pages, HOST_LIMIT);
		return (double)rounds * (double)sz->scrape_ms / 1000;
	case SERVER:
		/* The loop serves every client at once; the others one per worker. */
		rounds = a == LOOP ? 1 : ceil_div(n, at_once[a]);
		return (double)(rounds * sz->rounds * sz->backend_ms) / 1000;
	default:
		return 0;
	}
}

/* One line per cell, for make bench: ideal= only where there is one. */
static void print_kv(const struct bench *b, const struct row_run *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (int a = 0; a < NAPPROACH; a++) {
			double ideal = ideal_seconds(b, &rows[i], (enum approach)a);

			printf("row=%s approach=%s seconds=%.6f", ROWS[rows[i].id].id,
			       APPROACH_KEY[a], rows[i].seconds[a]);
			if (ideal > 0)
				printf(" ideal=%.6f", ideal);
			printf("\n");
		}
	}
}

static void write_json(const struct bench *b, const struct row_run *rows, size_t n)
{
	FILE *f = fopen(b->opt->json, "w");

	if (!f)
		die_errno(errno, "cannot open %s", b->opt->json);
	fprintf(f, "{\"quick\": %s, \"workers\": %ld, \"approaches\": [",
		b->opt->quick ? "true" : "false", b->opt->workers);
	for (int a = 0; a < NAPPROACH; a++)
		fprintf(f, "%s\"%s\"", a ? ", " : "", APPROACH_KEY[a]);
	fprintf(f, "],\n \"rows\": [");
	for (size_t i = 0; i < n; i++) {
		const struct row_run *r = &rows[i];

		fprintf(f,
			"%s\n  {\"id\": \"%s\", \"name\": \"%s\", \"items\": %zu, \"seconds\": {",
			i ? "," : "", ROWS[r->id].id, r->name, r->n);
		for (int a = 0; a < NAPPROACH; a++)
			fprintf(f, "%s\"%s\": %.6f", a ? ", " : "", APPROACH_KEY[a], r->seconds[a]);
		fprintf(f,
			"}, \"winner\": \"%s\", \"python\": \"%s\", \"differs\": %s,"
			" \"answer\": \"%016" PRIx64 "\", \"same_answer\": true}",
			APPROACH_KEY[r->winner], APPROACH_KEY[ROWS[r->id].py],
			differs(r) ? "true" : "false", r->answer[SEQ]);
	}
	fprintf(f, "\n ]}\n");
	if (ferror(f) | (fclose(f) != 0))
		die("cannot write %s", b->opt->json);
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	printf("usage: %s [--quick] [--rows LIST] [--workers N] [--json FILE] [--kv]\n"
	       "       [--quiet]\n"
	       "\n"
	       "Run each row of the guide's decision matrix four ways - sequential,\n"
	       "threads (chapter 01's executor), processes (chapter 02's pool), event\n"
	       "loop (chapter 03's coroutines) - on the workbook's loopback server and\n"
	       "a temporary SQLite database, time each, check that every way gave the\n"
	       "same answer, and print the matrix with each row's fastest way next to\n"
	       "the guide's (Python's) choice.  A row where Python's choice is clearly\n"
	       "slower in C is marked with '*'.\n"
	       "\n"
	       "  --quick        small sizes: the whole run takes a few seconds\n"
	       "  --rows LIST    only these rows, comma-separated: few-downloads,\n"
	       "                 many-downloads, images, crunching, few-queries,\n"
	       "                 many-queries, scraping, server\n"
	       "  --workers N    processes in the pool, threads for CPU rows (1 to 64;\n"
	       "                 default: the CPUs this process may run on)\n"
	       "  --json FILE    also write the matrix to FILE as JSON\n"
	       "  --kv           also print 'row=ID approach=WAY seconds=S' per cell, with\n"
	       "                 ideal=S, the sleeps alone, where the row's items sleep\n"
	       "  --quiet        no progress lines on stderr\n"
	       "  --help         show this and exit\n"
	       "\n"
	       "Exit status: 0 if every way of every row gave the same answer, 1 if\n"
	       "not (or something failed), 2 for bad input.\n",
	       wb_progname());
}

static void parse_rows(struct options *opt, const char *list)
{
	char *copy = xstrdup(list), *save = NULL, shown[WB_SHOW_VALUE];
	bool any = false;

	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int r;

		for (r = 0; r < NROWS && strcmp(w, ROWS[r].id) != 0; r++)
			;
		if (r == NROWS) {
			wb_show(shown, sizeof shown, w);
			free(copy);
			usage_error("--rows: no row '%s'", shown);
		}
		opt->rows[r] = any = true;
	}
	free(copy);
	if (!any)
		usage_error("--rows: name at least one row");
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_QUICK = 1, OPT_ROWS, OPT_WORKERS, OPT_JSON, OPT_KV, OPT_QUIET, OPT_HELP };
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "rows", required_argument, NULL, OPT_ROWS },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "kv", no_argument, NULL, OPT_KV },
		{ "quiet", no_argument, NULL, OPT_QUIET },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	bool rows_set = false;
	int c;

	while ((c = arg_next(argc, argv, longopts)) != -1) {
		switch (c) {
		case OPT_QUICK:
			opt->quick = true;
			break;
		case OPT_ROWS:
			memset(opt->rows, 0, sizeof opt->rows);
			parse_rows(opt, optarg);
			rows_set = true;
			break;
		case OPT_WORKERS:
			opt->workers = arg_long("--workers", optarg, 1, 64);
			break;
		case OPT_JSON:
			if (!optarg[0])
				usage_error("--json: the file name is empty");
			opt->json = optarg;
			break;
		case OPT_KV:
			opt->kv = true;
			break;
		case OPT_QUIET:
			opt->quiet = true;
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (!rows_set)
		for (int r = 0; r < NROWS; r++)
			opt->rows[r] = true;
}

int main(int argc, char **argv)
{
	struct options opt = { .workers = 0 };
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	struct bench b = { .opt = &opt, .listen_fd = -1 };
	struct row_run rows[NROWS];
	struct loopback srv = { .pid = 0 };
	struct tmpdir *dir = NULL;
	size_t nrows = 0;
	bool ok = true, http = false;
	char err[ERRMAX];
	CURLcode crc;
	int rc;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	if (!opt.workers)
		opt.workers = cpu_count() < 64 ? cpu_count() : 64;
	b.sz = opt.quick ? &QUICK : &FULL;
	b.tty = isatty(STDERR_FILENO);
	http = opt.rows[FEW] || opt.rows[MANY] || opt.rows[SCRAPE];

	/* Everything a worker process inherits is made before the pool forks:
	 * curl's global state, SIGPIPE ignored, the host semaphores' memory and
	 * the server row's listening socket.  No thread exists yet. */
	crc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (crc != CURLE_OK)
		die("curl_global_init: %s", curl_easy_strerror(crc));
	if (sigaction(SIGPIPE, &ignore, NULL) < 0)
		die_errno(errno, "sigaction(SIGPIPE)");
	b.host_sems = mmap(NULL, DM_MAX_HOSTS * sizeof *b.host_sems, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b.host_sems == MAP_FAILED)
		die_errno(errno, "mmap");
	if (opt.rows[SERVER]) {
		b.listen_fd = dm_listen(&b.listen_port);
		if (b.listen_fd < 0)
			die_errno(-b.listen_fd, "cannot listen on 127.0.0.1");
	}
	rc = procpool_new(&b.pool, (int)opt.workers);
	if (rc)
		die("cannot start the process pool: %s", procpool_strerror(rc));
	reaper_track(b.pool);
	rc = stopsig_install(reap_on_stop, reaper.prev, reap_workers);
	if (rc)
		die_errno(-rc, "cannot install the handler for SIGINT and SIGTERM");

	/* The directory before the server: on Ctrl-C the server goes first. */
	rc = tmpdir_new(&dir, "decision_matrix");
	if (rc)
		die_errno(-rc, "cannot make a temporary directory");
	if (http) {
		rc = loopback_start(&srv, "decision_matrix", 200);
		if (rc)
			die("the loopback server %s", loopback_explain(&srv, rc, err, sizeof err));
		b.http_port = srv.port;
	}
	if (opt.rows[FEWQ] || opt.rows[MANYQ]) {
		const char *taken;

		if (tmpdir_join(dir, "orders.db", b.db, sizeof b.db))
			die("TMPDIR is too long: %s", tmpdir_path(dir));
		rc = dbfile_create(b.db, &taken);
		if (rc)
			die_errno(-rc, "cannot create %s", b.db);
		if (dm_db_build(b.db, b.sz->db_rows, err, sizeof err))
			die("%s", err);
	}
	rc = executor_new(&b.io, IO_THREADS, "io");
	if (!rc)
		rc = executor_new(&b.cpu, (int)opt.workers, "cpu");
	if (rc)
		die("cannot start the thread pools: %s", executor_strerror(rc));

	for (int r = 0; r < NROWS && ok; r++) {
		if (!opt.rows[r])
			continue;
		rows[nrows] = (struct row_run){ .id = (enum row_id)r };
		make_jobs(&b, &rows[nrows]);
		ok = run_row(&b, &rows[nrows]);
		nrows++;
	}
	progress_done(&b);

	executor_free(b.cpu);
	executor_free(b.io);
	procpool_close(b.pool);
	rc = procpool_join(b.pool);
	procpool_free(b.pool);
	reaper_track(NULL);
	if (rc)
		die("cannot join the process pool: %s", procpool_strerror(rc));
	rc = loopback_stop(&srv);
	if (rc) {
		fflush(stdout);
		fprintf(stderr, "%s: the loopback server %s\n", wb_progname(),
			loopback_explain(&srv, rc, err, sizeof err));
		ok = false;
	}
	rc = tmpdir_free(dir);
	if (rc)
		die_errno(-rc, "cannot remove the temporary directory");
	if (b.listen_fd >= 0)
		close(b.listen_fd);
	munmap(b.host_sems, DM_MAX_HOSTS * sizeof *b.host_sems);
	curl_global_cleanup();

	if (ok) {
		print_table(&b, rows, nrows);
		if (opt.kv)
			print_kv(&b, rows, nrows);
		if (opt.json)
			write_json(&b, rows, nrows);
	}
	for (size_t i = 0; i < nrows; i++) {
		free(rows[i].jobs);
		free(rows[i].out);
	}
	return ok ? 0 : 1;
}
