/*
 * db_queries.c - "database queries (few): threading", measured with SQLite.
 *
 * The program fills a database with a deterministic table of orders, then
 * runs the same handful of read queries twice: one after another on one
 * connection, then as tasks on an executor, each task on a connection of
 * its own.  It prints every query's answer, checks that both runs agree,
 * and compares the times.
 *
 *	db_queries [--workers N] [--queries N] [--rows N] [--db PATH]
 *
 * SQLite has three threading modes.  Single-thread: no locks at all, one
 * thread only.  Serialized: every connection has a mutex, so threads may
 * share one - and then take turns on it, which is no concurrency at all.
 * Multi-thread: connections have no mutex, and any number of threads may
 * use SQLite as long as no connection is used by two threads at once.
 * This program opens every connection with SQLITE_OPEN_NOMUTEX (the
 * multi-thread mode) and keeps that promise by construction: a connection
 * is lent to one task at a time, through a pool (see struct conn_pool).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "dbfile.h"
#include "dbrows.h"
#include "executor.h"
#include "log.h"
#include "tmpdir.h"

#define MAX_WORKERS 256
#define MAX_QUERIES 100
#define ANSWER_MAX 512
#define CUSTOMERS 2000
#define DAYS 365

enum run { SEQUENTIAL, POOLED, RUNS };

/*
 * The queries, each a full scan of the table with one parameter ?1, so
 * that every one takes real time.  Query i is kinds[i % NKINDS] with
 * ?1 = first + (i / NKINDS) * step, modulo mod: asking for more queries
 * than there are kinds repeats them with other parameters.
 */
struct query_kind {
	const char *title;
	const char *sql;
	long first, step, mod;
};

static const struct query_kind kinds[] = {
	{ "orders and revenue, amount in [p, p+25000)",
	  "SELECT COUNT(*), SUM(amount) FROM orders"
	  " WHERE amount >= ?1 AND amount < ?1 + 25000",
	  0, 25000, 100000 },
	{ "revenue per customer % 10, from day p",
	  "SELECT customer % 10, COUNT(*), SUM(amount) FROM orders"
	  " WHERE day >= ?1 GROUP BY 1 ORDER BY 1",
	  0, 30, DAYS },
	{ "top 3 customers by revenue, weekday != p",
	  "SELECT customer, SUM(amount) AS total FROM orders WHERE day % 7 != ?1"
	  " GROUP BY customer ORDER BY total DESC, customer LIMIT 3",
	  0, 1, 7 },
	{ "busiest 3 days, customer % 10 != p",
	  "SELECT day, COUNT(*) AS n FROM orders WHERE customer % 10 != ?1"
	  " GROUP BY day ORDER BY n DESC, day LIMIT 3",
	  0, 1, 10 },
	{ "customers with 80+ orders above p",
	  "SELECT COUNT(*) FROM (SELECT customer FROM orders WHERE amount > ?1"
	  " GROUP BY customer HAVING COUNT(*) >= 80)",
	  50000, 5000, 50000 },
};
#define NKINDS (int)(sizeof(kinds) / sizeof(kinds[0]))

struct conn {
	sqlite3 *db;
	int id; /* 1, 2, ... in the order they were opened */
};

/*
 * A pool of read-only connections, one lent to each running task.
 *
 * Why not a _Thread_local connection per worker?  Opening one lazily is
 * easy, but the executor has no hook that runs when a worker exits, so
 * nothing would close it, and a thread-local belongs to the thread, not to
 * the executor it serves.  Lending from a pool gives the same guarantee -
 * while a task runs it holds its connection alone, and since at most
 * max_workers tasks run at once, at most that many are ever opened - and
 * main closes them all at the end, once every worker has been joined.
 *
 * The lock guards the list of idle connections and the count, never a
 * query.  It has a second job: a NOMUTEX connection has no lock of its
 * own, and handing it over through this mutex is what orders one task's
 * use of it before the next task's, perhaps on another thread.
 */
struct conn_pool {
	pthread_mutex_t lock;
	const char *path;
	struct conn **idle; /* cap slots; idle[0..nidle) are free to lend */
	int nidle, opened, cap;
};

struct query {
	int index;
	const struct query_kind *kind;
	long param;
	struct conn_pool *pool;	       /* the pooled run lends from here */
	char answer[RUNS][ANSWER_MAX]; /* "col,col; col,col" per run */
	double seconds[RUNS];
};

/* --------------------------------------------------------- connections */

/*
 * Open @path with @flags; 0, or -EIO with SQLite's reason in @err.  Every
 * connection is NOMUTEX: it has no lock of its own, because this program,
 * not SQLite, makes sure that only one thread at a time ever touches it.
 * None may create the file (main did, see dbfile.h), none follows a
 * symbolic link in its last step, and SQLITE_OPEN_URI is never given: the
 * name is a plain file name.
 */
static int conn_open(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc;

#ifdef SQLITE_OPEN_NOFOLLOW /* SQLite 3.31 and later */
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

	if (rc != SQLITE_OK) {
		/* Even a failed open usually returns a handle to explain and free. */
		snprintf(err, errlen, "cannot open %s: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	*out = db;
	return 0;
}

/* Close @db; it fails only if a statement was left unfinalized. */
static void conn_close(sqlite3 *db)
{
	if (sqlite3_close(db) != SQLITE_OK)
		die("sqlite3_close: %s", sqlite3_errmsg(db));
}

static void pool_init(struct conn_pool *p, const char *path, int cap)
{
	PT_CHECK(pthread_mutex_init(&p->lock, NULL));
	p->path = path;
	p->idle = xcalloc((size_t)cap, sizeof(*p->idle));
	p->nidle = p->opened = 0;
	p->cap = cap;
}

/* Borrow a connection: an idle one, or a new one.  0 or -errno. */
static int pool_get(struct conn_pool *p, struct conn **out, char *err, size_t errlen)
{
	struct conn *c = NULL;
	int id = 0, rc;

	PT_CHECK(pthread_mutex_lock(&p->lock));
	if (p->nidle > 0)
		c = p->idle[--p->nidle];
	else if (p->opened < p->cap)
		id = ++p->opened; /* reserve the slot now, open it unlocked */
	PT_CHECK(pthread_mutex_unlock(&p->lock));
	if (c) {
		*out = c;
		return 0;
	}
	if (id == 0) {
		/* Only possible if more tasks ran at once than there are workers. */
		snprintf(err, errlen, "all %d connections are lent out", p->cap);
		return -EAGAIN;
	}
	/* Opening touches the disk; nobody should wait on the lock for it. */
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	} else {
		c->id = id;
		rc = conn_open(p->path, SQLITE_OPEN_READONLY, &c->db, err, errlen);
	}
	if (rc) {
		free(c);
		PT_CHECK(pthread_mutex_lock(&p->lock));
		p->opened--;
		PT_CHECK(pthread_mutex_unlock(&p->lock));
		return rc;
	}
	*out = c;
	return 0;
}

static void pool_put(struct conn_pool *p, struct conn *c)
{
	PT_CHECK(pthread_mutex_lock(&p->lock));
	/* Never more out than opened, so there is always a free slot. */
	p->idle[p->nidle++] = c;
	PT_CHECK(pthread_mutex_unlock(&p->lock));
}

/* Close every connection; only once no task can be running. */
static void pool_destroy(struct conn_pool *p)
{
	if (p->nidle != p->opened)
		die("%d connections were never given back", p->opened - p->nidle);
	for (int i = 0; i < p->nidle; i++) {
		conn_close(p->idle[i]->db);
		free(p->idle[i]);
	}
	free(p->idle);
	PT_CHECK(pthread_mutex_destroy(&p->lock));
}

/* ------------------------------------------------------------- queries */

/*
 * Run @q on @db and store its answer and time for @run.  dbrows_query()
 * finalizes its statement before it returns, so nothing of it is left on
 * the connection when it goes back to the pool: a statement is as
 * single-threaded as its connection.
 */
static int query_run(struct query *q, sqlite3 *db, enum run run, char *err, size_t errlen)
{
	int64_t start = clk_now_ns();
	int ret = dbrows_query(db, q->kind->sql, q->param, q->answer[run], ANSWER_MAX, err, errlen);

	q->seconds[run] = clk_since(start);
	return ret;
}

/* The task: borrow a connection, run the query, give the connection back. */
static int query_task(void *arg, void **result, char *err, size_t errlen)
{
	struct query *q = arg;
	struct conn *c;
	int rc = pool_get(q->pool, &c, err, errlen);

	if (rc)
		return rc;
	rc = query_run(q, c->db, POOLED, err, errlen);
	log_msg("query %d on connection %d: %.3f s", q->index, c->id, q->seconds[POOLED]);
	pool_put(q->pool, c);
	if (rc == 0)
		*result = q;
	return rc;
}

/* One connection, one query after another.  Returns the seconds taken. */
static double run_sequential(const char *path, struct query *qs, int n)
{
	char err[EXECUTOR_ERRMAX];
	int64_t start = clk_now_ns();
	sqlite3 *db;

	if (conn_open(path, SQLITE_OPEN_READONLY, &db, err, sizeof(err)))
		die("%s", err);
	for (int i = 0; i < n; i++)
		if (query_run(&qs[i], db, SEQUENTIAL, err, sizeof(err)))
			die("query %d: %s", i, err);
	conn_close(db);
	return clk_since(start);
}

/*
 * The same queries as tasks on @workers threads, each on a borrowed
 * connection.  Returns the seconds taken, connections closed included, as
 * in the sequential run; *@opened gets how many connections were opened.
 */
static double run_pooled(const char *path, struct query *qs, int n, int workers, int *opened)
{
	struct future **fs = xcalloc((size_t)n, sizeof(*fs));
	char failure[EXECUTOR_ERRMAX + 32] = "";
	int64_t start = clk_now_ns();
	struct conn_pool pool;
	struct executor *ex;
	double elapsed;
	int rc;

	pool_init(&pool, path, workers);
	rc = executor_new(&ex, workers, "Thread");
	if (rc)
		die("executor_new: %s", executor_strerror(rc));
	for (int i = 0; i < n; i++) {
		qs[i].pool = &pool;
		rc = executor_submit(ex, query_task, &qs[i], &fs[i]);
		if (rc)
			die("executor_submit: %s", executor_strerror(rc));
	}
	for (int i = 0; i < n; i++) {
		rc = future_result(fs[i], -1, NULL);
		if (rc && !failure[0])
			snprintf(failure, sizeof(failure), "query %d: %s", i,
				 future_errmsg(fs[i])[0] ? future_errmsg(fs[i])
							 : executor_strerror(rc));
		future_unref(fs[i]);
	}
	/* Every worker joined: no thread can be using a connection now. */
	executor_free(ex);
	*opened = pool.opened;
	pool_destroy(&pool);
	elapsed = clk_since(start);
	free(fs);
	if (failure[0])
		die("%s", failure);
	return elapsed;
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

static void build_database(const char *path, long rows)
{
	static const char insert[] =
		"INSERT INTO orders (customer, day, amount) VALUES (?1, ?2, ?3)";
	char err[EXECUTOR_ERRMAX];
	uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
	sqlite3_stmt *st;
	sqlite3 *db;

	if (conn_open(path, SQLITE_OPEN_READWRITE, &db, err, sizeof(err)))
		die("%s", err);
	/* Scratch data: no need to wait for the disk at every commit. */
	exec_or_die(db, "PRAGMA synchronous = OFF");
	exec_or_die(db, "CREATE TABLE orders (id INTEGER PRIMARY KEY,"
			" customer INTEGER NOT NULL, day INTEGER NOT NULL,"
			" amount INTEGER NOT NULL)");
	/* One transaction: one journal write instead of one per row. */
	exec_or_die(db, "BEGIN");
	if (sqlite3_prepare_v2(db, insert, -1, &st, NULL) != SQLITE_OK)
		die("%s: %s", insert, sqlite3_errmsg(db));
	for (long i = 0; i < rows; i++) {
		uint64_t r = next_random(&seed);
		sqlite3_int64 customer = (sqlite3_int64)(1 + r % CUSTOMERS);
		sqlite3_int64 day = (sqlite3_int64)((r >> 16) % DAYS);
		sqlite3_int64 cents = (sqlite3_int64)(100 + (r >> 32) % 99900);

		if (sqlite3_bind_int64(st, 1, customer) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 2, day) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, cents) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK)
			die("inserting row %ld: %s", i + 1, sqlite3_errmsg(db));
	}
	if (sqlite3_finalize(st) != SQLITE_OK)
		die("sqlite3_finalize: %s", sqlite3_errmsg(db));
	exec_or_die(db, "COMMIT");
	conn_close(db);
}

/*
 * The default: a database in a temporary directory of its own, which
 * common/tmpdir.c removes with the journal however the program ends.
 * Returns the directory; the database's path goes into @path.
 */
static struct tmpdir *create_temp_db(char *path, size_t len)
{
	struct tmpdir *dir;
	const char *taken;
	int rc = tmpdir_new(&dir, "db_queries");

	if (rc)
		die_errno(-rc, "cannot make a temporary directory");
	if (tmpdir_join(dir, "orders.db", path, len))
		die("TMPDIR is too long: %s", tmpdir_path(dir));
	rc = dbfile_create(path, &taken);
	if (rc)
		die_errno(-rc, "cannot create %s", path);
	return dir;
}

/* ----------------------------------------------------------- reporting */

/* Long answers are cut for the table; the comparison uses all of them. */
static void print_answer(const char *answer)
{
	if (strlen(answer) <= 44)
		printf("%s\n", answer);
	else
		printf("%.41s...\n", answer);
}

static bool print_results(const struct query *qs, int n)
{
	bool match = true;

	printf("\n%3s  %-44s %6s  %10s  %9s  %s\n", "#", "query", "p", "one by one", "pooled",
	       "answer");
	for (int i = 0; i < n; i++) {
		const struct query *q = &qs[i];

		printf("%3d  %-44s %6ld  %8.3f s  %7.3f s  ", i, q->kind->title, q->param,
		       q->seconds[SEQUENTIAL], q->seconds[POOLED]);
		print_answer(q->answer[SEQUENTIAL]);
		if (strcmp(q->answer[SEQUENTIAL], q->answer[POOLED]) != 0) {
			printf("     MISMATCH: pooled answer was %s\n", q->answer[POOLED]);
			match = false;
		}
	}
	return match;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	printf("usage: %s [--workers N] [--queries N] [--rows N] [--db PATH]\n"
	       "\n"
	       "Fill an SQLite database with N rows of orders, then run a few read\n"
	       "queries twice: one after another on one connection, and as tasks on a\n"
	       "pool of worker threads where each running task has a connection of its\n"
	       "own.  Print every answer, check that both runs agree, and compare times.\n"
	       "\n"
	       "  --workers N   threads in the pool (1 to %d, default 3)\n"
	       "  --queries N   how many queries (1 to %d, default 5)\n"
	       "  --rows N      rows in the orders table (1 to 10000000, default 300000)\n"
	       "  --db PATH     build the database in PATH, a new file this program\n"
	       "                creates, and keep it (default: a temporary file,\n"
	       "                deleted at exit)\n"
	       "  --help        show this and exit\n"
	       "\n"
	       "PATH is a plain file name, never an SQLite URI (\"file:x.db\" is a file\n"
	       "of that name).  A PATH that exists - a file, a directory, a symbolic\n"
	       "link, even a dangling one - or its -journal, -wal or -shm, a PATH ending in\n"
	       "'/', or one in a directory that does not exist is bad input.  Exit\n"
	       "status: 0 if both runs agree, 1 if they differ or something failed (a\n"
	       "PATH the program may not create, a full disk ...), 2 for bad input.\n",
	       wb_progname(), MAX_WORKERS, MAX_QUERIES);
}

struct options {
	long workers, queries, rows;
	const char *db;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_WORKERS = 1, OPT_QUERIES, OPT_ROWS, OPT_DB, OPT_HELP };
	static const struct option longopts[] = {
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "queries", required_argument, NULL, OPT_QUERIES },
		{ "rows", required_argument, NULL, OPT_ROWS },
		{ "db", required_argument, NULL, OPT_DB },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = arg_next(argc, argv, longopts)) != -1) {
		switch (c) {
		case OPT_WORKERS:
			opt->workers = arg_long("--workers", optarg, 1, MAX_WORKERS);
			break;
		case OPT_QUERIES:
			opt->queries = arg_long("--queries", optarg, 1, MAX_QUERIES);
			break;
		case OPT_ROWS:
			opt->rows = arg_long("--rows", optarg, 1, 10000000);
			break;
		case OPT_DB:
			opt->db = optarg;
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (opt->db && !*opt->db)
		usage_error("--db needs a file name");
}

/*
 * SQLite's process-wide settings, made before anything initializes it.
 * URI names go off for good: Debian's SQLite, among others, is built with
 * SQLITE_USE_URI=1, under which "--db file:x.db?mode=rwc" would open
 * whatever file the URI names instead of the one this program created.
 */
static void sqlite_start(void)
{
	/* 0 means the library was built without any locking at all. */
	if (!sqlite3_threadsafe())
		die("this SQLite %s was built with SQLITE_THREADSAFE=0: no thread may share it",
		    sqlite3_libversion());
	if (sqlite3_config(SQLITE_CONFIG_URI, 0) != SQLITE_OK)
		die("sqlite3_config(SQLITE_CONFIG_URI): SQLite is already initialized");
}

/* Query i is kind i % NKINDS, with its parameter stepped every round. */
static struct query *make_queries(int n)
{
	struct query *qs = xcalloc((size_t)n, sizeof(*qs));

	for (int i = 0; i < n; i++) {
		const struct query_kind *k = &kinds[i % NKINDS];

		qs[i].index = i;
		qs[i].kind = k;
		qs[i].param = k->first + ((long)(i / NKINDS) * k->step) % k->mod;
	}
	return qs;
}

static void print_summary(const struct options *opt, int n, double sequential, double pooled,
			  int opened, bool match)
{
	printf("\n%d queries: %.3f s one after another, %.3f s on %ld workers "
	       "(%.2fx), %d connections opened; results %s\n",
	       n, sequential, pooled, opt->workers, sequential / pooled, opened,
	       match ? "match" : "DIFFER");
	printf("queries=%d workers=%ld rows=%ld sequential=%.3f pooled=%.3f "
	       "speedup=%.2f connections=%d results_match=%d\n",
	       n, opt->workers, opt->rows, sequential, pooled, sequential / pooled, opened,
	       match ? 1 : 0);
	if (opt->db)
		printf("The database stays at %s\n", opt->db);
}

int main(int argc, char **argv)
{
	struct options opt = { .workers = 3, .queries = 5, .rows = 300000 };
	struct tmpdir *dir = NULL;
	char tmp_path[PATH_MAX];
	const char *path = tmp_path;
	struct query *qs;
	double sequential, pooled;
	int n, opened, rc;
	bool match;
	int64_t start;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	n = (int)opt.queries;
	sqlite_start();
	if (opt.db) {
		dbfile_create_arg("--db", opt.db);
		path = opt.db;
	} else {
		dir = create_temp_db(tmp_path, sizeof(tmp_path));
	}
	printf("SQLite %s, thread-safe build; connections use SQLITE_OPEN_NOMUTEX "
	       "(multi-thread mode)\n",
	       sqlite3_libversion());

	start = clk_now_ns();
	build_database(path, opt.rows);
	printf("Built %s: %ld orders in %.3f s\n", path, opt.rows, clk_since(start));
	qs = make_queries(n);
	printf("Running %d queries one after another on one connection, then on "
	       "%ld worker threads\n",
	       n, opt.workers);
	fflush(stdout); /* log lines are written directly; keep the order */
	sequential = run_sequential(path, qs, n);
	pooled = run_pooled(path, qs, n, (int)opt.workers, &opened);

	match = print_results(qs, n);
	print_summary(&opt, n, sequential, pooled, opened, match);
	free(qs);
	rc = tmpdir_free(dir);
	if (rc)
		die_errno(-rc, "cannot remove the temporary database");
	return match ? 0 : 1;
}
