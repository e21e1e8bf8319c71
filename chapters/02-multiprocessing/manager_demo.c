/*
 * manager_demo.c - the guide's Manager example, then the lost update.
 *
 * Two processes each write one entry into a dictionary that a manager
 * process owns, and the parent prints it: {"a": 1, "b": 2}.  Then several
 * processes each add 1 to one counter many times, first as the guide's
 * d[k] = d[k] + 1 (a get, then a set: two round trips with a gap between
 * them), then with the server's incr (one request), then as get-then-set
 * inside the manager's lock, and last with no manager at all: a counter in
 * shared memory behind a robust process-shared mutex (shm_counter.h).  The
 * first loses updates, the other three none; each is timed, and the
 * round-trip rate is what every proxy call costs.
 *
 *	manager_demo [--procs N] [--ops M]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "manager.h"
#include "shm_counter.h"

/* What a worker process does with its proxy. */
enum job { JOB_WRITE, JOB_GET_SET, JOB_INCR, JOB_LOCKED, JOB_SHM };

/* A lock held by nobody for this long is a bug, not a busy counter. */
#define LOCK_WAIT_MS 30000L

struct race {
	struct manager *m;
	struct shm_counter *shm; /* JOB_SHM's, mapped before the fork */
	enum job job;
	long ops;
	char key[16];
	int value; /* JOB_WRITE's */
};

/* The body of a worker process.  Returns its exit status. */
/* d[k] = d[k] + 1 as two round trips: another process may set k between them. */
static int get_then_set(struct manager_client *c, const char *key)
{
	char buf[24], *old;
	size_t len;
	int rc = manager_get(c, key, &old, &len);

	if (rc)
		return rc;
	snprintf(buf, sizeof(buf), "%lld", strtoll(old, NULL, 10) + 1);
	free(old);
	return manager_set(c, key, buf, strlen(buf));
}

/* The same inside the manager's lock: nothing comes between them now. */
static int locked_get_then_set(struct manager_client *c, const char *key)
{
	int rc = manager_lock(c, key, LOCK_WAIT_MS), unlock_rc;

	if (rc)
		return rc;
	rc = get_then_set(c, key);
	unlock_rc = manager_unlock(c, key);
	return rc ? rc : unlock_rc;
}

/* The shared-memory worker: no manager, no messages, one mutex in shared pages. */
static int shm_worker(const struct race *r, int gate)
{
	char b;
	int rc = 0;

	while (read(gate, &b, 1) < 0 && errno == EINTR)
		;
	for (long i = 0; i < r->ops && rc == 0; i++)
		rc = shm_counter_add(r->shm, 1);
	if (rc)
		fprintf(stderr, "%s: worker %d: shm_counter_add: %s\n", wb_progname(),
			(int)getpid(), strerror(-rc));
	return rc != 0;
}

static int worker(const struct race *r, int gate)
{
	struct manager_client *c;
	char buf[24];
	int64_t n;
	int rc;

	if (r->job == JOB_SHM)
		return shm_worker(r, gate);
	rc = manager_connect(r->m, &c);
	if (rc)
		goto out_report;
	/* Wait until every worker is connected: the gate is closed for all at once. */
	while (read(gate, buf, 1) < 0 && errno == EINTR)
		;
	for (long i = 0; i < r->ops && rc == 0; i++) {
		switch (r->job) {
		case JOB_WRITE:
			snprintf(buf, sizeof(buf), "%d", r->value);
			rc = manager_set(c, r->key, buf, strlen(buf));
			break;
		case JOB_GET_SET:
			rc = get_then_set(c, r->key);
			break;
		case JOB_INCR:
			rc = manager_incr(c, r->key, 1, &n);
			break;
		case JOB_LOCKED:
			rc = locked_get_then_set(c, r->key);
			break;
		case JOB_SHM:
			break; /* shm_worker's */
		}
	}
	manager_close(c);
out_report:
	if (rc)
		fprintf(stderr, "%s: worker %d: %s\n", wb_progname(), (int)getpid(),
			manager_strerror(rc));
	return rc != 0;
}

/*
 * Fork @n workers for @races, let them go at once, and wait for them all.
 * Returns the seconds from the gate's opening to the last one's end, or
 * dies if one failed.
 */
static double run_workers(const struct race *races, long n)
{
	pid_t *pids = xcalloc((size_t)n, sizeof(*pids));
	int gate[2], status, failed = 0;
	pid_t parent = getpid();
	int64_t start;

	if (pipe2(gate, O_CLOEXEC) != 0)
		die_errno(errno, "pipe");
	/* A child's _exit must not find our unwritten output in its copy. */
	fflush(stdout);
	for (long i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die_errno(errno, "fork"); /* the started ones see the gate close */
		if (pids[i] == 0) {
			close(gate[1]);
			/* Should the parent die first, this worker follows it. */
			if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
				_exit(1);
			_exit(worker(&races[i], gate[0]));
		}
	}
	close(gate[0]);
	start = clk_now_ns();
	close(gate[1]); /* every worker's read() returns 0: go */
	for (long i = 0; i < n; i++) {
		while (waitpid(pids[i], &status, 0) < 0)
			if (errno != EINTR)
				die_errno(errno, "waitpid");
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	free(pids);
	if (failed)
		die("a worker process failed");
	return clk_since(start);
}

/* The value of @key as a number ("5523"), 0 when there is none. */
static long long counter(struct manager_client *c, const char *key)
{
	long long v;
	size_t len;
	char *s;
	int rc = manager_get(c, key, &s, &len);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		die("get %s: %s", key, manager_strerror(rc));
	v = strtoll(s, NULL, 10);
	free(s);
	return v;
}

/* Print the whole dictionary as Python would: {"a": 1, "b": 2}. */
static void print_dict(struct manager_client *c)
{
	char **keys, *v;
	size_t n, len;
	int rc = manager_keys(c, &keys, &n);

	if (rc)
		die("keys: %s", manager_strerror(rc));
	printf("{");
	for (size_t i = 0; i < n; i++) {
		rc = manager_get(c, keys[i], &v, &len);
		if (rc)
			die("get %s: %s", keys[i], manager_strerror(rc));
		/* A number prints bare, anything else quoted. */
		bool number = len > 0 && strspn(v, "-0123456789") == len;
		printf(number ? "%s\"%s\": %s" : "%s\"%s\": \"%s\"", i ? ", " : "", keys[i], v);
		free(v);
	}
	printf("}\n");
	manager_keys_free(keys, n);
}

/* One row of the race's table: the count, what was lost, the time. */
static void report(const char *how, long long got, long long expected, double secs)
{
	printf("  %-32s %8lld  lost %lld (%.1f %%)  %.3f s\n", how, got, expected - got,
	       100.0 * (double)(expected - got) / (double)expected, secs);
}

static void usage(void)
{
	printf("usage: %s [--procs N] [--ops M]\n"
	       "\n"
	       "Start a manager process that owns a dictionary; two processes write\n"
	       "\"a\" and \"b\" into it and the parent prints it.  Then N processes add 1\n"
	       "to one counter M times each: with get-then-set, with the server's incr,\n"
	       "with get-then-set inside the manager's lock, and in shared memory under\n"
	       "a robust mutex; the counts and the times are compared.\n"
	       "Defaults: 4 processes, 2500 increments each.\n"
	       "\n"
	       "  --procs N   processes in the race (2 to 64)\n"
	       "  --ops M     increments per process (1 to 1000000)\n"
	       "  --help      show this and exit\n",
	       wb_progname());
}

int main(int argc, char **argv)
{
	enum { OPT_PROCS = 1, OPT_OPS, OPT_HELP };
	static const struct option opts[] = {
		{ "procs", required_argument, NULL, OPT_PROCS },
		{ "ops", required_argument, NULL, OPT_OPS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long procs = 4, ops = 2500;
	struct manager_client *c;
	struct shm_counter *shm;
	struct manager *m;
	struct race *races;
	double t_getset, t_incr, t_locked, t_shm;
	long long expected, got_getset, got_incr, got_locked;
	long got_shm;
	int c_opt, rc, status;

	wb_init(argv[0]);
	while ((c_opt = arg_next(argc, argv, opts)) != -1) {
		switch (c_opt) {
		case OPT_PROCS:
			procs = arg_long("--procs", optarg, 2, 64);
			break;
		case OPT_OPS:
			ops = arg_long("--ops", optarg, 1, 1000000);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	expected = (long long)procs * ops;

	/* The manager first, while this process has one thread. */
	rc = manager_start(&m, NULL);
	if (rc)
		die("manager_start: %s", manager_strerror(rc));
	printf("manager: server process %d, socket %s\n", (int)manager_pid(m), manager_path(m));

	races = xcalloc((size_t)procs, sizeof(*races));
	races[0] = (struct race){ .m = m, .job = JOB_WRITE, .ops = 1, .key = "a", .value = 1 };
	races[1] = (struct race){ .m = m, .job = JOB_WRITE, .ops = 1, .key = "b", .value = 2 };
	run_workers(races, 2);
	rc = manager_connect(m, &c);
	if (rc)
		die("manager_connect: %s", manager_strerror(rc));
	printf("two processes wrote \"a\" and \"b\"; the parent reads: ");
	print_dict(c);

	printf("\n%ld processes add 1 to one counter %ld times each (expected %lld):\n", procs, ops,
	       expected);
	/* Python's d[k] = d[k] + 1 needs d[k] to exist: start it at 0. */
	if ((rc = manager_set(c, "getset", "0", 1)) || (rc = manager_set(c, "locked", "0", 1)))
		die("set: %s", manager_strerror(rc));
	/* Mapped before the workers fork, so that they all share its pages. */
	rc = shm_counter_new(&shm);
	if (rc)
		die("shm_counter_new: %s", strerror(-rc));

	for (long i = 0; i < procs; i++)
		races[i] = (struct race){ .m = m, .job = JOB_GET_SET, .ops = ops, .key = "getset" };
	t_getset = run_workers(races, procs);
	got_getset = counter(c, "getset");
	report("d[k] = d[k] + 1 (get, then set)", got_getset, expected, t_getset);

	for (long i = 0; i < procs; i++)
		races[i] = (struct race){ .m = m, .job = JOB_INCR, .ops = ops, .key = "incr" };
	t_incr = run_workers(races, procs);
	got_incr = counter(c, "incr");
	report("incr(k, 1) in the server", got_incr, expected, t_incr);

	for (long i = 0; i < procs; i++)
		races[i] = (struct race){ .m = m, .job = JOB_LOCKED, .ops = ops, .key = "locked" };
	t_locked = run_workers(races, procs);
	got_locked = counter(c, "locked");
	report("lock; d[k] = d[k] + 1; unlock", got_locked, expected, t_locked);

	for (long i = 0; i < procs; i++)
		races[i] = (struct race){ .shm = shm, .job = JOB_SHM, .ops = ops };
	t_shm = run_workers(races, procs);
	rc = shm_counter_get(shm, &got_shm);
	if (rc)
		die("shm_counter_get: %s", strerror(-rc));
	report("shared memory, robust mutex", got_shm, expected, t_shm);
	shm_counter_free(shm);

	printf("round trips: %.0f per second with %ld processes (Python's Manager: about 7,600)\n",
	       (double)expected / t_incr, procs);
	printf("expected=%lld getset=%lld incr=%lld locked=%lld shm=%ld getset_s=%.3f incr_s=%.3f "
	       "locked_s=%.3f shm_s=%.3f ops_per_s=%.0f\n",
	       expected, got_getset, got_incr, got_locked, got_shm, t_getset, t_incr, t_locked,
	       t_shm, (double)expected / t_incr);

	manager_close(c);
	free(races);
	rc = manager_shutdown(m, &status);
	if (rc)
		die("manager_shutdown: %s", manager_strerror(rc));
	if (status != 0)
		die("the manager's server did not stop cleanly (wait status %d)", status);
	return 0;
}
