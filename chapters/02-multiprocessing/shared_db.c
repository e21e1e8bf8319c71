/*
 * shared_db - several processes insert into one SQLite database at once.
 *
 * SQLite lets many processes use one database file: they agree through
 * locks on the file itself, and in WAL mode (write-ahead log) readers never
 * wait, while writers still take turns - one write transaction at a time.
 * A writer that finds the write lock taken gets SQLITE_BUSY at once,
 * unless its connection has a busy handler, which sleeps and tries again
 * (sqlite3_busy_timeout() installs one that gives up after a time).  Two
 * rows, N processes x M inserts each, every insert its own transaction:
 *   busy-timeout  a busy timeout of BUSY_TIMEOUT_MS: every row arrives
 *   no-handler    no busy handler: each SQLITE_BUSY is shown and counted,
 *                 and exactly N x M minus that many rows arrive
 *
 *	shared_db [--mode busy-timeout|no-handler|all] [--procs N] [--rows M]
 *	          [--db PATH]
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "dbfile.h"
#include "frame.h"
#include "kids.h"
#include "tmpdir.h"

enum mode { MODE_BUSY_TIMEOUT, MODE_NO_HANDLER, MODE_ALL };
static const char *const mode_names[] = { "busy-timeout", "no-handler", "all", NULL };

#define MAX_PROCS 64

/* The longest a writer sleeps waiting for the write lock before it fails. */
#define BUSY_TIMEOUT_MS 10000

/* What a child sends back, one frame: its counts, or why it failed. */
enum { REPORT_COUNTS = 1, REPORT_ERROR = 2 };
#define REPORT_MAX 512

/* One writer process: what it needs, all set before fork(). */
struct writer {
	const char *path;
	enum mode mode;
	int index;
	long rows;
	int start;  /* read end of the start line: EOF means go */
	int report; /* its end of a socketpair to the parent */
};

/* Open @path read-write, no creation, never a symbolic link or a URI. */
static int db_open(const char *path, sqlite3 **out)
{
	int flags = SQLITE_OPEN_READWRITE;

#ifdef SQLITE_OPEN_NOFOLLOW /* SQLite 3.31 and later */
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	*out = NULL;
	return sqlite3_open_v2(path, out, flags, NULL);
}

/*
 * The child's whole life: open a connection of its own, insert, report.
 *
 * Why its own connection, opened after fork()?  SQLite's locks are POSIX
 * record locks on the file, and those belong to a process: a child never
 * inherits them, so a connection copied by fork() would believe it holds
 * locks that nobody holds, and two processes could write at once - SQLite's
 * documentation names this as a way to corrupt a database.  The parent
 * therefore has no connection open when it forks.
 */
static int writer_run(const struct writer *w, char *msg, size_t len, long counts[2])
{
	static const char sql[] = "INSERT INTO inserts (row, proc, seq) VALUES (?1, ?2, ?3)";
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc = db_open(w->path, &db);

	if (rc != SQLITE_OK) {
		snprintf(msg, len, "cannot open the database: %s",
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto out_close;
	}
	/*
	 * Preparing reads the schema, which can meet a busy lock too; only the
	 * inserts, whose failures are counted, go without the handler.
	 */
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* In WAL mode NORMAL syncs at checkpoints, not at every commit. */
	if (sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(msg, len, "PRAGMA synchronous: %s", sqlite3_errmsg(db));
		goto out_close;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		snprintf(msg, len, "%s: %s", sql, sqlite3_errmsg(db));
		goto out_close;
	}
	if (w->mode == MODE_NO_HANDLER)
		sqlite3_busy_timeout(db, 0); /* 0 removes the handler */
	for (long seq = 0; seq < w->rows; seq++) {
		if (sqlite3_bind_text(st, 1, mode_names[w->mode], -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int(st, 2, w->index) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, seq) != SQLITE_OK) {
			snprintf(msg, len, "bind: %s", sqlite3_errmsg(db));
			goto out_close;
		}
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			counts[0]++;
		} else if ((rc & 0xff) == SQLITE_BUSY) {
			/* The statement was rolled back: this row is not there. */
			if (counts[1]++ == 0)
				snprintf(msg, len, "%s", sqlite3_errmsg(db));
		} else {
			snprintf(msg, len, "insert %ld: %s", seq, sqlite3_errmsg(db));
			goto out_close;
		}
		/* It repeats the step's error, handled above. */
		sqlite3_reset(st);
	}
	rc = SQLITE_OK;
out_close:
	sqlite3_finalize(st);
	if (sqlite3_close(db) != SQLITE_OK && rc == SQLITE_OK) {
		snprintf(msg, len, "sqlite3_close: %s", sqlite3_errmsg(db));
		rc = SQLITE_ERROR;
	}
	return rc;
}

/* Wait at the start line, insert, send the report; the exit status. */
static int writer_main(const struct writer *w)
{
	char msg[REPORT_MAX - 64] = "", report[REPORT_MAX];
	long counts[2] = { 0, 0 }; /* inserted, busy */
	char byte;
	int n, rc;

	/*
	 * All writers start together, so that they really compete for the
	 * write lock: read() sleeps until the parent closes the line.
	 */
	while (read(w->start, &byte, 1) < 0 && errno == EINTR)
		;
	rc = writer_run(w, msg, sizeof(msg), counts);
	if (rc == SQLITE_OK)
		n = snprintf(report, sizeof(report), "%ld %ld %s", counts[0], counts[1], msg);
	else
		n = snprintf(report, sizeof(report), "%s", msg);
	if (frame_send(w->report, rc == SQLITE_OK ? REPORT_COUNTS : REPORT_ERROR,
		       (uint32_t)w->index, report, (size_t)n) != 0)
		return 1;
	return 0;
}

/*
 * Fork writer @w.  It dies with its parent, however the parent ends
 * (kids.h), and leaves with _exit(): the parent's exit handlers (tmpdir's
 * among them) are not its own, and it prints nothing.
 */
static pid_t writer_fork(struct writer *w, int start_w, int *report_r)
{
	pid_t pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die_errno(errno, "socketpair");
	pid = kids_fork();
	if (pid < 0)
		die_errno((int)-pid, "fork");
	if (pid > 0) {
		close(sv[1]);
		*report_r = sv[0];
		return pid;
	}
	/* Its own copy of the start line's write end would keep the line shut. */
	close(start_w);
	close(sv[0]);
	w->report = sv[1];
	_exit(writer_main(w));
}

static void exec_or_die(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
}

static sqlite3 *open_or_die(const char *path)
{
	sqlite3 *db;
	int rc = db_open(path, &db);

	if (rc != SQLITE_OK)
		die("cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	return db;
}

static void close_or_die(sqlite3 *db)
{
	if (sqlite3_close(db) != SQLITE_OK)
		die("sqlite3_close: %s", sqlite3_errmsg(db));
}

/* Switch the new, empty database to WAL and make the table; close it. */
static void setup_database(const char *path)
{
	sqlite3 *db = open_or_die(path);
	sqlite3_stmt *st;

	/* journal_mode answers with the mode it is now in. */
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		die("PRAGMA journal_mode = WAL: %s", sqlite3_errmsg(db));
	if (strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0)
		die("%s cannot use WAL mode (it stays in %s)", path, sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	exec_or_die(db, "CREATE TABLE inserts (id INTEGER PRIMARY KEY, row TEXT NOT NULL,"
			" proc INTEGER NOT NULL, seq INTEGER NOT NULL)");
	close_or_die(db);
}

static long count_rows(const char *path, enum mode mode)
{
	static const char sql[] = "SELECT COUNT(*) FROM inserts WHERE row = ?1";
	sqlite3 *db = open_or_die(path);
	sqlite3_stmt *st;
	long n;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, mode_names[mode], -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		die("%s: %s", sql, sqlite3_errmsg(db));
	n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	close_or_die(db);
	return n;
}

/* Read writer @i's report: add its counts, keep the first busy message. */
static void read_report(int fd, int i, long *inserted, long *busy, char *first, size_t len)
{
	struct frame f;
	long ins, bsy;
	int used = 0, rc = frame_recv(fd, &f, REPORT_MAX);

	if (rc < 0)
		die_errno(-rc, "the report of process %d", i);
	if (rc == 0)
		die("process %d ended without a report", i);
	if (f.kind == REPORT_ERROR)
		die("process %d: %s", i, (const char *)f.data);
	if (f.kind != REPORT_COUNTS || !f.data ||
	    sscanf((const char *)f.data, "%ld %ld %n", &ins, &bsy, &used) != 2)
		die("process %d sent a report that makes no sense", i);
	*inserted += ins;
	*busy += bsy;
	if (bsy > 0 && !first[0])
		snprintf(first, len, "%s", (const char *)f.data + used);
	frame_release(&f);
}

/* Run one row: @procs writers of @rows each; print its line.  Exact? */
static bool run_mode(const char *path, enum mode mode, int procs, long rows)
{
	pid_t *pids = xcalloc((size_t)procs, sizeof(*pids));
	int *reports = xcalloc((size_t)procs, sizeof(*reports));
	long expected = (long)procs * rows, inserted = 0, busy = 0, counted;
	char first[REPORT_MAX] = "";
	int start[2], failed = 0, status;
	struct writer w = { .path = path, .mode = mode, .rows = rows };
	int64_t t0;
	bool exact;

	if (pipe2(start, O_CLOEXEC) != 0)
		die_errno(errno, "pipe2");
	w.start = start[0];
	for (int i = 0; i < procs; i++) {
		w.index = i;
		pids[i] = writer_fork(&w, start[1], &reports[i]);
	}
	t0 = clk_now_ns();
	close(start[1]); /* go */
	close(start[0]);
	for (int i = 0; i < procs; i++) {
		read_report(reports[i], i, &inserted, &busy, first, sizeof(first));
		close(reports[i]);
	}
	for (int i = 0; i < procs; i++) {
		int rc = kids_reap_by(pids[i], CLK_NEVER, &status);

		if (rc)
			die_errno(-rc, "cannot reap process %d", (int)pids[i]);
		failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	if (failed)
		die("%d of %d processes failed", failed, procs);
	counted = count_rows(path, mode);
	exact = counted == inserted && inserted + busy == expected;
	printf("%-12s  expected=%ld inserted=%ld busy=%ld counted=%ld lost=%ld time=%.3fs\n",
	       mode_names[mode], expected, inserted, busy, counted, expected - busy - counted,
	       clk_since(t0));
	if (first[0])
		printf("              SQLITE_BUSY %ld times, first: \"%s\"\n", busy, first);
	free(reports);
	free(pids);
	return exact;
}

/* The default: a database in a private directory, removed however we end. */
static struct tmpdir *create_temp_db(char *path, size_t len)
{
	struct tmpdir *dir;
	const char *taken;
	int rc = tmpdir_new(&dir, "shared_db");

	if (rc)
		die_errno(-rc, "cannot make a temporary directory");
	if (tmpdir_join(dir, "inserts.db", path, len))
		die("TMPDIR is too long: %s", tmpdir_path(dir));
	rc = dbfile_create(path, &taken);
	if (rc)
		die_errno(-rc, "cannot create %s", path);
	return dir;
}

static void usage(void)
{
	printf("usage: shared_db [--mode busy-timeout|no-handler|all] [--procs N] [--rows M]\n"
	       "                 [--db PATH]\n"
	       "\n"
	       "N processes each insert M rows, one transaction per row, into one SQLite\n"
	       "database in WAL mode, each on a connection it opens itself; then the rows\n"
	       "are counted.\n"
	       "  --mode MODE   busy-timeout: a writer that finds the write lock taken\n"
	       "                sleeps and retries for up to %d ms, and every row\n"
	       "                arrives; no-handler: it gets SQLITE_BUSY at once, and\n"
	       "                that row is counted as failed; all: both (default)\n"
	       "  --procs N     processes, 1 to %d (default 4)\n"
	       "  --rows M      rows per process, 1 to 100000 (default 1000)\n"
	       "  --db PATH     use PATH, a new file this program creates, and keep it\n"
	       "                (default: a temporary file, deleted at exit)\n"
	       "  --help        this text\n"
	       "\n"
	       "PATH is a plain file name, never an SQLite URI.  A PATH that exists, or\n"
	       "its -journal, -wal or -shm, a PATH ending in '/', or one in a directory\n"
	       "that does not exist is bad input.  Exit status: 0 if every row is\n"
	       "accounted for, 1 if rows were lost or something failed, 2 for bad input.\n",
	       BUSY_TIMEOUT_MS, MAX_PROCS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' }, { "procs", required_argument, NULL, 'p' },
		{ "rows", required_argument, NULL, 'r' }, { "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },	  { 0 },
	};
	enum mode mode = MODE_ALL;
	int procs = 4, c, rc;
	long rows = 1000;
	const char *db = NULL, *path;
	struct tmpdir *dir = NULL;
	char tmp_path[PATH_MAX];
	bool exact = true;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'm':
			mode = (enum mode)arg_choice("--mode", optarg, mode_names);
			break;
		case 'p':
			procs = (int)arg_long("--procs", optarg, 1, MAX_PROCS);
			break;
		case 'r':
			rows = arg_long("--rows", optarg, 1, 100000);
			break;
		case 'd':
			db = optarg;
			break;
		case 'h':
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (db && !*db)
		usage_error("--db needs a file name");
	/* URI names off for good: --db is a file name (see db_queries.c). */
	if (sqlite3_config(SQLITE_CONFIG_URI, 0) != SQLITE_OK)
		die("sqlite3_config(SQLITE_CONFIG_URI): SQLite is already initialized");
	if (db) {
		dbfile_create_arg("--db", db);
		path = db;
	} else {
		dir = create_temp_db(tmp_path, sizeof(tmp_path));
		path = tmp_path;
	}
	setup_database(path);

	printf("SQLite %s, WAL mode: %d processes x %ld inserts into %s\n", sqlite3_libversion(),
	       procs, rows, path);
	for (enum mode m = MODE_BUSY_TIMEOUT; m < MODE_ALL; m++)
		if (mode == m || mode == MODE_ALL)
			exact = run_mode(path, m, procs, rows) && exact;
	if (!exact)
		printf("ROWS LOST: the database does not hold every row that was inserted\n");
	if (db)
		printf("The database stays at %s\n", db);
	rc = tmpdir_free(dir);
	if (rc)
		die_errno(-rc, "cannot remove the temporary database");
	return exact ? 0 : 1;
}
