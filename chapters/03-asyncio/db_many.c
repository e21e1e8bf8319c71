/*
 * db_many.c - "database queries (many): asyncio", measured with SQLite.
 *
 * SQLite's calls block: sqlite3_step() returns when the answer is there.
 * A coroutine that called it would stop the whole loop, every other task
 * with it.  So each query task hands its blocking call to chapter 01's
 * executor with co_run_in_executor(): a worker thread runs the query, and
 * the task sleeps in its await until the worker is done and the loop wakes
 * it (through the loop's eventfd).  Meanwhile the loop thread is free, and
 * a ticker task proves it: it ticks every --tick-ms through the whole run.
 * A Semaphore (--limit) bounds the queries in flight, and each task in
 * flight borrows one connection, so --limit is also the most connections
 * ever opened.
 *
 *	db_many [--queries N] [--workers N] [--limit N] [--rows N]
 *	        [--latency-ms MS] [--tick-ms MS] [--blocking]
 *
 * SQLite runs inside the process, so its "wait" is CPU spent scanning.  A
 * database server (PostgreSQL, MySQL) adds a network round trip to every
 * query, the wait asyncio is made for; --latency-ms stands for it: the
 * worker waits that long before it runs the query.  --blocking runs the
 * queries in the tasks themselves, on the loop thread, to show what the
 * ticker sees when the loop is blocked.
 *
 * The same queries run first one after another on one connection; every
 * answer of the concurrent run must be exactly that run's answer.
 */
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"
#include "dbrows.h"
#include "executor.h"
#include "log.h"
#include "tmpdir.h"

#define MAX_QUERIES 10000
#define MAX_WORKERS 256
#define MAX_LIMIT 256
#define MAX_SHOWN 20 /* rows of the results table */
#define ANSWER_MAX 256
#define CUSTOMERS 1000
#define DAYS 365

enum run { SEQUENTIAL, CONCURRENT, RUNS };

struct options {
	long queries, workers, limit, rows, latency_ms, tick_ms;
	bool blocking;
};

/*
 * The queries: each scans the whole table with one parameter ?1.  Query i
 * is kinds[i % NKINDS] with ?1 = (i / NKINDS) % mod, so many queries ask
 * different questions.
 */
struct query_kind {
	const char *title;
	const char *sql;
	long mod;
};

static const struct query_kind kinds[] = {
	{ "orders and revenue, customer % 50 == p",
	  "SELECT COUNT(*), SUM(amount) FROM orders WHERE customer % 50 = ?1", 50 },
	{ "busiest day with day % 7 == p",
	  "SELECT day, COUNT(*) AS n FROM orders WHERE day % 7 = ?1"
	  " GROUP BY day ORDER BY n DESC, day LIMIT 1",
	  7 },
	{ "best customer, amount in [p*1000, +10000)",
	  "SELECT customer, SUM(amount) AS s FROM orders"
	  " WHERE amount >= ?1 * 1000 AND amount < ?1 * 1000 + 10000"
	  " GROUP BY customer ORDER BY s DESC, customer LIMIT 1",
	  90 },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* A connection, lent to one query at a time (see struct db_many). */
struct conn {
	sqlite3 *db; /* opened by the first worker that uses it */
	int id;
};

struct db_many;

/* One query: the frame of its task, and its answers from both runs. */
struct query {
	struct co_task task;
	struct db_many *d;
	int index;
	const struct query_kind *kind;
	long param;
	struct conn *conn;   /* while the task holds a permit */
	struct co_exec call; /* run_in_executor's state, in the frame */
	int err;
	double seconds[RUNS];
	char answer[RUNS][ANSWER_MAX];
	char errmsg[EXECUTOR_ERRMAX];
	char name[24];
};

/*
 * The main task's frame.  Everything here is touched by the loop thread
 * only, with one exception: a struct conn, which travels to a worker with
 * its query and back.  The executor's queue hands it over under a mutex
 * and the loop's post queue hands it back under another, so one thread's
 * use of a connection always happens before the next one's: SQLite's
 * NOMUTEX connections need exactly that.
 */
struct db_many {
	struct co_task task;
	const struct options *o;
	const char *path;
	struct executor *ex;
	struct query *qs;
	size_t n;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather gather;
	struct co_sem sem;
	/* The connection pool: a stack of the free ones.  A task holding a
	 * permit of sem always finds one, since there are as many as permits. */
	struct conn *conns;
	struct conn **free_conns;
	size_t nfree;
	long in_flight, peak;
	int opened; /* connections opened, counted at the end */
	/* The ticker and what it saw while the queries ran. */
	struct co_task ticker;
	bool queries_running;
	int64_t last_tick; /* the last tick, or the start of the queries */
	long ticks, ticks_during;
	int64_t max_gap;
	int err;
};

/* ---------------------------------------------------------------- SQLite */

/* Open @path (read-only unless @flags says otherwise); 0 or -EIO. */
static int conn_open(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	*out = db;
	return 0;
}

static void conn_close(sqlite3 *db)
{
	/* It fails only if a statement was left unfinalized: a bug here. */
	if (sqlite3_close(db) != SQLITE_OK)
		die("sqlite3_close: %s", sqlite3_errmsg(db));
}

/*
 * The blocking call: wait out the simulated round trip, then run @q on
 * @db and keep its answer and time for @run.  Returns 0 or -errno with a
 * message in @err.
 */
static int query_run(struct query *q, sqlite3 *db, enum run run, char *err, size_t errlen)
{
	int64_t start = clk_now_ns();
	int ret;

	clk_sleep_ms(q->d->o->latency_ms);
	ret = dbrows_query(db, q->kind->sql, q->param, q->answer[run], ANSWER_MAX, err, errlen);
	q->seconds[run] = clk_since(start);
	return ret;
}

/*
 * What a worker thread runs for co_run_in_executor(): the query on the
 * connection its task lent it, opened here the first time, so that not
 * even opening a file happens on the loop thread.
 */
static int query_job(void *arg, void **result, char *err, size_t errlen)
{
	struct query *q = arg;
	struct conn *c = q->conn;
	int rc;

	if (!c->db) {
		rc = conn_open(q->d->path, SQLITE_OPEN_READONLY, &c->db, err, errlen);
		if (rc)
			return rc;
	}
	rc = query_run(q, c->db, CONCURRENT, err, errlen);
	log_msg("query %d on connection %d: %.3f s", q->index, c->id, q->seconds[CONCURRENT]);
	*result = q;
	return rc;
}

/* ---------------------------------------------------------------- tasks */

/* Note a tick, or the end of the window, at @now: the gap since the last. */
static void window_mark(struct db_many *d, int64_t now)
{
	if (now - d->last_tick > d->max_gap)
		d->max_gap = now - d->last_tick;
	d->last_tick = now;
}

/* Tick every tick_ms until cancelled; measure the gaps while queries run. */
static int ticker_step(struct co_task *t)
{
	struct db_many *d = (struct db_many *)((char *)t - offsetof(struct db_many, ticker));
	int err;

	CO_BEGIN(t);
	for (;;) {
		CO_AWAIT(t, co_sleep(t, d->o->tick_ms), &err);
		if (err)
			CO_RETURN(t, 0); /* cancelled: the run is over */
		d->ticks++;
		if (d->queries_running) {
			d->ticks_during++;
			window_mark(d, clk_now_ns());
			/* A line about every 100 ms, among the workers' lines. */
			if (d->ticks_during % (100 / d->o->tick_ms + 1) == 0)
				log_as("ticker", "tick %ld, %ld queries in flight", d->ticks_during,
				       d->in_flight);
		}
	}
	CO_END(t);
}

static int query_step(struct co_task *t)
{
	struct query *q = (struct query *)t;
	struct db_many *d = q->d;

	CO_BEGIN(t);
	CO_AWAIT(t, co_sem_acquire(t, &d->sem), &q->err);
	if (q->err)
		CO_RETURN(t, q->err);
	if (++d->in_flight > d->peak)
		d->peak = d->in_flight;
	q->conn = d->free_conns[--d->nfree];
	if (d->o->blocking) {
		/* The wrong way: the loop thread itself waits for SQLite. */
		q->err = query_job(q, &(void *){ NULL }, q->errmsg, sizeof(q->errmsg));
	} else {
		CO_AWAIT(t, co_run_in_executor(t, &q->call, d->ex, query_job, q), &q->err);
		if (q->err)
			snprintf(q->errmsg, sizeof(q->errmsg), "%s", q->call.err);
	}
	/*
	 * Whatever the await returned, the worker is done with the connection
	 * (even a cancelled await returns only once a running call has ended),
	 * so it may go to the next task.
	 */
	d->free_conns[d->nfree++] = q->conn;
	d->in_flight--;
	co_sem_release(&d->sem);
	CO_RETURN(t, q->err);
	CO_END(t);
}

static int main_step(struct co_task *t)
{
	struct db_many *d = (struct db_many *)t;
	struct loop *loop = co_loop(t);
	int err;

	CO_BEGIN(t);
	co_task_start(loop, &d->ticker, ticker_step, "ticker");
	/* Let the ticker start its first sleep before the queries begin. */
	CO_AWAIT(t, co_sleep(t, 0), &err);
	d->queries_running = true;
	d->last_tick = clk_now_ns();
	for (size_t i = 0; i < d->n; i++)
		co_task_start(loop, d->tasks[i], query_step, d->qs[i].name);
	/* return_exceptions: every query finishes, failed or not, before we
	 * look; none is left running on a worker when the loop ends. */
	CO_AWAIT(t, co_gather(t, &d->gather, d->tasks, d->cbs, d->n, true), &d->err);
	d->queries_running = false;
	window_mark(d, clk_now_ns()); /* the silence before the end counts too */
	co_task_cancel(&d->ticker);
	CO_AWAIT(t, co_await(t, &d->ticker.done), &err);
	CO_RETURN(t, d->err);
	CO_END(t);
}

/* ---------------------------------------------------------------- runs */

/* One connection, one query after another, before any loop exists. */
static double run_sequential(const char *path, struct query *qs, size_t n)
{
	char err[EXECUTOR_ERRMAX];
	int64_t start = clk_now_ns();
	sqlite3 *db;

	if (conn_open(path, SQLITE_OPEN_READONLY, &db, err, sizeof(err)))
		die("%s", err);
	for (size_t i = 0; i < n; i++)
		if (query_run(&qs[i], db, SEQUENTIAL, err, sizeof(err)))
			die("query %zu: %s", i, err);
	conn_close(db);
	return clk_since(start);
}

/* The queries as tasks on one loop.  Returns the seconds taken. */
static double run_concurrent(struct db_many *d)
{
	const struct options *o = d->o;
	size_t nconns = (size_t)o->limit;
	int64_t start = clk_now_ns();
	int rc;

	d->conns = xcalloc(nconns, sizeof(*d->conns));
	d->free_conns = xcalloc(nconns, sizeof(*d->free_conns));
	for (size_t i = 0; i < nconns; i++) {
		d->conns[i].id = (int)(nconns - i);
		d->free_conns[d->nfree++] = &d->conns[i];
	}
	co_sem_init(&d->sem, o->limit);
	if (!o->blocking) {
		rc = executor_new(&d->ex, (int)o->workers, "db");
		if (rc)
			die("executor_new: %s", executor_strerror(rc));
	}
	rc = co_run(&d->task, main_step);
	/* Every worker joined: no thread can be using a connection now. */
	executor_free(d->ex);
	for (size_t i = 0; i < nconns; i++) {
		if (d->conns[i].db) {
			conn_close(d->conns[i].db);
			d->opened++;
		}
	}
	if (rc)
		die("co_run: %s", strerror(-rc));
	free(d->free_conns);
	free(d->conns);
	return clk_since(start);
}

/* ------------------------------------------------------- the database */

static void exec_or_die(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
}

/* xorshift64*: the same "random" orders on every run and every machine. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/*
 * Make the database in a fresh directory of our own (mode 0700: nobody
 * else can have put a file or a link there), which common/tmpdir.c
 * removes with the journal however the program ends.
 */
static struct tmpdir *build_database(char *path, size_t len, long rows)
{
	static const char insert[] =
		"INSERT INTO orders (customer, day, amount) VALUES (?1, ?2, ?3)";
	char err[EXECUTOR_ERRMAX];
	uint64_t seed = UINT64_C(0x2545f4914f6cdd1d);
	struct tmpdir *dir;
	sqlite3_stmt *st;
	sqlite3 *db;
	int rc = tmpdir_new(&dir, "db_many");

	if (rc)
		die_errno(-rc, "cannot make a temporary directory");
	if (tmpdir_join(dir, "orders.db", path, len))
		die("TMPDIR is too long: %s", tmpdir_path(dir));
	if (conn_open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &db, err, sizeof(err)))
		die("%s", err);
	exec_or_die(db, "PRAGMA synchronous = OFF"); /* scratch data */
	exec_or_die(db, "CREATE TABLE orders (id INTEGER PRIMARY KEY,"
			" customer INTEGER NOT NULL, day INTEGER NOT NULL,"
			" amount INTEGER NOT NULL)");
	exec_or_die(db, "BEGIN"); /* one transaction: one journal write */
	if (sqlite3_prepare_v2(db, insert, -1, &st, NULL) != SQLITE_OK)
		die("%s: %s", insert, sqlite3_errmsg(db));
	for (long i = 0; i < rows; i++) {
		uint64_t r = next_random(&seed);

		if (sqlite3_bind_int64(st, 1, (sqlite3_int64)(1 + r % CUSTOMERS)) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 2, (sqlite3_int64)((r >> 16) % DAYS)) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, (sqlite3_int64)(100 + (r >> 32) % 99900)) !=
			    SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
			die("inserting row %ld: %s", i + 1, sqlite3_errmsg(db));
	}
	if (sqlite3_finalize(st) != SQLITE_OK)
		die("sqlite3_finalize: %s", sqlite3_errmsg(db));
	exec_or_die(db, "COMMIT");
	conn_close(db);
	return dir;
}

/* ------------------------------------------------------------ reporting */

/* Print the table (the first MAX_SHOWN rows); how many queries failed or
 * answered differently. */
static size_t print_results(const struct db_many *d)
{
	size_t bad = 0;

	printf("\n%4s  %-42s %4s  %10s  %9s  %s\n", "#", "query", "p", "one by one", "in a task",
	       "answer");
	for (size_t i = 0; i < d->n; i++) {
		const struct query *q = &d->qs[i];
		bool same = q->err == 0 &&
			    strcmp(q->answer[SEQUENTIAL], q->answer[CONCURRENT]) == 0;

		if (i < MAX_SHOWN)
			printf("%4d  %-42s %4ld  %8.3f s  %7.3f s  %s\n", q->index, q->kind->title,
			       q->param, q->seconds[SEQUENTIAL], q->seconds[CONCURRENT],
			       q->answer[SEQUENTIAL]);
		if (q->err)
			printf("      FAILED: query %d: %s\n", q->index,
			       q->errmsg[0] ? q->errmsg : strerror(-q->err));
		else if (!same)
			printf("      MISMATCH: query %d answered %s\n", q->index,
			       q->answer[CONCURRENT]);
		bad += !same;
	}
	if (d->n > MAX_SHOWN)
		printf("  ... (%zu queries in all; every answer compared)\n", d->n);
	return bad;
}

static void usage(void)
{
	printf("usage: %s [--queries N] [--workers N] [--limit N] [--rows N]\n"
	       "               [--latency-ms MS] [--tick-ms MS] [--blocking]\n"
	       "\n"
	       "Fill a temporary SQLite database with orders, run N read queries one\n"
	       "after another, then as N tasks on one event loop that each hand their\n"
	       "blocking query to a thread pool with co_run_in_executor, at most --limit\n"
	       "in flight (a Semaphore).  A ticker task ticks all the while: the loop\n"
	       "thread stays free.  Every answer must match the first run's.\n"
	       "\n"
	       "  --queries N      how many queries (1 to %d, default 20)\n"
	       "  --workers N      the executor's threads (1 to %d, default 4)\n"
	       "  --limit N        queries in flight at most, and connections (1 to %d,\n"
	       "                   default 4)\n"
	       "  --rows N         rows in the orders table (1 to 10000000, default 100000)\n"
	       "  --latency-ms MS  a database server's round trip, waited before each\n"
	       "                   query (0 to 10000, default 50)\n"
	       "  --tick-ms MS     the ticker's period (1 to 1000, default 10)\n"
	       "  --blocking       run the queries on the loop thread instead (the mistake)\n"
	       "  --help           show this and exit\n"
	       "\n"
	       "Exit status: 0 if every answer matches, 1 if not or something failed,\n"
	       "2 for bad input.\n",
	       wb_progname(), MAX_QUERIES, MAX_WORKERS, MAX_LIMIT);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_QUERIES = 1,
		OPT_WORKERS,
		OPT_LIMIT,
		OPT_ROWS,
		OPT_LATENCY,
		OPT_TICK,
		OPT_BLOCKING,
		OPT_HELP
	};
	static const struct option opts[] = {
		{ "queries", required_argument, NULL, OPT_QUERIES },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "rows", required_argument, NULL, OPT_ROWS },
		{ "latency-ms", required_argument, NULL, OPT_LATENCY },
		{ "tick-ms", required_argument, NULL, OPT_TICK },
		{ "blocking", no_argument, NULL, OPT_BLOCKING },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_QUERIES:
			o->queries = arg_long("--queries", optarg, 1, MAX_QUERIES);
			break;
		case OPT_WORKERS:
			o->workers = arg_long("--workers", optarg, 1, MAX_WORKERS);
			break;
		case OPT_LIMIT:
			o->limit = arg_long("--limit", optarg, 1, MAX_LIMIT);
			break;
		case OPT_ROWS:
			o->rows = arg_long("--rows", optarg, 1, 10000000);
			break;
		case OPT_LATENCY:
			o->latency_ms = arg_long("--latency-ms", optarg, 0, 10000);
			break;
		case OPT_TICK:
			o->tick_ms = arg_long("--tick-ms", optarg, 1, 1000);
			break;
		case OPT_BLOCKING:
			o->blocking = true;
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
}

/* SQLite's process-wide settings, made before anything initializes it. */
static void sqlite_start(void)
{
	/* 0: built without any locking; no two threads may use it at all. */
	if (!sqlite3_threadsafe())
		die("this SQLite %s was built with SQLITE_THREADSAFE=0", sqlite3_libversion());
	/* The path is a file name, never a URI (Debian enables URIs). */
	if (sqlite3_config(SQLITE_CONFIG_URI, 0) != SQLITE_OK)
		die("sqlite3_config(SQLITE_CONFIG_URI): SQLite is already initialized");
}

static void make_queries(struct db_many *d, size_t n)
{
	d->n = n;
	d->qs = xcalloc(n, sizeof(*d->qs));
	d->tasks = xcalloc(n, sizeof(*d->tasks));
	d->cbs = xcalloc(n, sizeof(*d->cbs));
	for (size_t i = 0; i < n; i++) {
		struct query *q = &d->qs[i];

		q->d = d;
		q->index = (int)i;
		q->kind = &kinds[i % NKINDS];
		q->param = (long)(i / NKINDS) % q->kind->mod;
		snprintf(q->name, sizeof(q->name), "query-%d", q->index);
		d->tasks[i] = &q->task;
	}
}

int main(int argc, char **argv)
{
	struct options o = {
		.queries = 20,
		.workers = 4,
		.limit = 4,
		.rows = 100000,
		.latency_ms = 50,
		.tick_ms = 10,
	};
	struct db_many d = { .o = &o };
	char path[PATH_MAX];
	struct tmpdir *dir;
	double sequential, concurrent, ideal;
	long lanes;
	int64_t start;
	size_t bad;
	bool match;
	int rc;

	wb_init(argv[0]);
	parse_options(argc, argv, &o);
	sqlite_start();
	start = clk_now_ns();
	dir = build_database(path, sizeof(path), o.rows);
	d.path = path;
	printf("SQLite %s: built %s with %ld orders in %.3f s\n", sqlite3_libversion(), path,
	       o.rows, clk_since(start));
	make_queries(&d, (size_t)o.queries);

	printf("%ld queries, each after a %.3f s round trip: one after another on one "
	       "connection\n",
	       o.queries, (double)o.latency_ms / 1000);
	fflush(stdout); /* log lines are written directly; keep the order */
	sequential = run_sequential(path, d.qs, d.n);
	if (o.blocking)
		printf("then as tasks that run them ON THE LOOP THREAD (--blocking), at most %ld "
		       "in flight\n",
		       o.limit);
	else
		printf("then as tasks through co_run_in_executor on %ld worker threads, at most "
		       "%ld in flight\n",
		       o.workers, o.limit);
	fflush(stdout);
	concurrent = run_concurrent(&d);

	bad = print_results(&d);
	match = bad == 0;
	/* Round trips overlap as far as both the permits and the threads allow. */
	lanes = o.blocking ? 1 : o.limit < o.workers ? o.limit : o.workers;
	ideal = (double)((o.queries + lanes - 1) / lanes) * (double)o.latency_ms / 1000;
	printf("\n%ld queries: %.3f s one after another, %.3f s in tasks (round trips alone: "
	       "%.3f s); %d connection%s opened; results %s\n",
	       o.queries, sequential, concurrent, ideal, d.opened, d.opened == 1 ? "" : "s",
	       match ? "match" : "DIFFER");
	printf("The ticker ticked %ld time%s while the queries ran (every %ld ms); the loop's "
	       "longest silence was %.1f ms\n",
	       d.ticks_during, d.ticks_during == 1 ? "" : "s", o.tick_ms,
	       (double)d.max_gap / CLK_NS_PER_MS);
	printf("queries=%ld workers=%ld limit=%ld mode=%s sequential=%.3f concurrent=%.3f "
	       "ideal=%.3f results_match=%d peak_in_flight=%ld connections=%d ticks=%ld "
	       "ticks_during=%ld max_gap_ms=%.1f tick_ms=%ld\n",
	       o.queries, o.workers, o.limit, o.blocking ? "blocking" : "executor", sequential,
	       concurrent, ideal, match ? 1 : 0, d.peak, d.opened, d.ticks, d.ticks_during,
	       (double)d.max_gap / CLK_NS_PER_MS, o.tick_ms);

	free(d.cbs);
	free(d.tasks);
	free(d.qs);
	rc = tmpdir_free(dir);
	if (rc)
		die_errno(-rc, "cannot remove the temporary database");
	if (bad)
		die("%zu of %zu queries failed or answered differently", bad, d.n);
	return 0;
}
