/*
 * manager_demo.c - the guide's Manager example, then the lost update.
 *
 * Two processes each write one entry into a dictionary that a manager
 * process owns, and the parent prints it: {"a": 1, "b": 2}.  Then several
 * processes each add 1 to one counter many times, first as the guide's
 * d[k] = d[k] + 1 (a get, then a set: two round trips with a gap between
 * them) and then with the server's incr (one request).  The first loses
 * updates, the second none; both are timed, and the round-trip rate is
 * what every proxy call costs.
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

/* What a worker process does with its proxy. */
enum job { JOB_WRITE, JOB_GET_SET, JOB_INCR };

struct race {
	struct manager *m;
	enum job job;
	long ops;
	char key[16];
	int value; /* JOB_WRITE's */
};

/* The body of a worker process.  Returns its exit status. */
static int worker(const struct race *r, int gate)
{
	struct manager_client *c;
	char buf[24], *old;
	size_t len;
	int64_t n;
	int rc;

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
			/* d[k] = d[k] + 1: another process may set k between the two. */
			rc = manager_get(c, r->key, &old, &len);
			if (rc)
				break;
			snprintf(buf, sizeof(buf), "%lld", strtoll(old, NULL, 10) + 1);
			free(old);
			rc = manager_set(c, r->key, buf, strlen(buf));
			break;
		case JOB_INCR:
			rc = manager_incr(c, r->key, 1, &n);
			break;
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

static void usage(void)
{
	printf("usage: %s [--procs N] [--ops M]\n"
	       "\n"
	       "Start a manager process that owns a dictionary; two processes write\n"
	       "\"a\" and \"b\" into it and the parent prints it.  Then N processes add 1\n"
	       "to one counter M times each, with get-then-set and with the server's\n"
	       "incr, and the counts and round-trip rates are compared.\n"
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
	struct manager *m;
	struct race *races;
	double t_getset, t_incr;
	long long expected, got_getset, got_incr;
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
	rc = manager_set(c, "getset", "0", 1);
	if (rc)
		die("set getset: %s", manager_strerror(rc));
	for (long i = 0; i < procs; i++)
		races[i] = (struct race){ .m = m, .job = JOB_GET_SET, .ops = ops, .key = "getset" };
	t_getset = run_workers(races, procs);
	got_getset = counter(c, "getset");
	printf("  d[k] = d[k] + 1 (get, then set)  %8lld  lost %lld (%.1f %%)  %.3f s\n",
	       got_getset, expected - got_getset,
	       100.0 * (double)(expected - got_getset) / (double)expected, t_getset);

	for (long i = 0; i < procs; i++)
		races[i] = (struct race){ .m = m, .job = JOB_INCR, .ops = ops, .key = "incr" };
	t_incr = run_workers(races, procs);
	got_incr = counter(c, "incr");
	printf("  incr(k, 1) in the server         %8lld  lost %lld (%.1f %%)  %.3f s\n", got_incr,
	       expected - got_incr, 100.0 * (double)(expected - got_incr) / (double)expected,
	       t_incr);
	printf("round trips: %.0f per second with %ld processes (Python's Manager: about 7,600)\n",
	       (double)expected / t_incr, procs);
	printf("expected=%lld getset=%lld incr=%lld getset_s=%.3f incr_s=%.3f ops_per_s=%.0f\n",
	       expected, got_getset, got_incr, t_getset, t_incr, (double)expected / t_incr);

	manager_close(c);
	free(races);
	rc = manager_shutdown(m, &status);
	if (rc)
		die("manager_shutdown: %s", manager_strerror(rc));
	if (status != 0)
		die("the manager's server did not stop cleanly (wait status %d)", status);
	return 0;
}
