/*
 * multiprocessing_demo.c - the guide's multiprocessing.Pool example, in C.
 *
 * Four factorials of 50000, each by the guide's loop (one multiplication
 * per factor, with GMP), run on a pool of cpu_count() worker processes
 * through procpool_map().  Each worker says which process it is; each
 * result comes back through a socket as bytes and becomes a number again
 * here.  The same work is then done one task after another in this
 * process, and the two times are compared with the ideal speed-up.
 *
 *	multiprocessing_demo [--workers N] [--tasks N] [--n N] [--kill-one]
 *	                     [--digits FILE] [--timeline] [--trace]
 *
 * --kill-one makes task 1 kill its own worker with SIGKILL halfway through
 * its loop: that task's result becomes an error naming the signal, every
 * other result still arrives, and the pool forks a replacement.
 * Ctrl-C stops the pool (its workers are killed and reaped) and the demo.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bigfact.h"
#include "check.h"
#include "clock.h"
#include "cpu.h"
#include "log.h"
#include "procpool.h"
#include "timeline.h"

/* What one task gets: everything it needs travels as bytes. */
struct task_in {
	uint64_t n;
	uint32_t index;
	uint32_t kill_halfway; /* die by SIGKILL midway: --kill-one */
};

/*
 * The timeline is mapped MAP_SHARED before the workers are forked, so
 * their spans land where this process draws them.  The pointer itself is
 * the same in every worker: it is part of the memory fork copied.
 */
static struct timeline *tl;

/* The write end of the pipe the stop signals write to (the self-pipe trick). */
static int stop_pipe = -1;

static void on_stop(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	/* write() is async-signal-safe; a full pipe already says "stop". */
	if (write(stop_pipe, &b, 1) < 0) {
	}
	errno = saved;
}

/* The task: the guide's heavy_computation(), run in a worker process. */
static int factorial_task(const void *in, size_t len, struct pp_out *out)
{
	struct task_in t;
	int64_t start = clk_now_ns();
	unsigned char *bytes;
	size_t nbytes;
	char job[16];
	mpz_t f;
	int rc;

	if (len != sizeof(t))
		return -EINVAL;
	memcpy(&t, in, sizeof(t));
	log_msg("Computing factorial of %llu...", (unsigned long long)t.n);
	mpz_init(f);
	if (t.kill_halfway) {
		bigfact_loop(f, t.n / 2);
		log_msg("killing myself with SIGKILL halfway through task %u", t.index);
		fflush(stdout);
		kill(getpid(), SIGKILL);
	}
	bigfact_loop(f, t.n);
	rc = bigfact_export(f, &bytes, &nbytes);
	mpz_clear(f);
	if (rc)
		return rc;
	rc = pp_out_write(out, bytes, nbytes);
	free(bytes);
	if (tl) {
		snprintf(job, sizeof(job), "%u", t.index);
		timeline_add(tl, log_name(), job, '=', start, clk_now_ns());
	}
	return rc;
}

static void usage(void)
{
	printf("usage: %s [--workers N] [--tasks N] [--n N] [--kill-one] [--digits FILE]\n"
	       "       [--timeline] [--trace]\n"
	       "\n"
	       "Compute factorial(N) TASKS times on a pool of worker processes, each by\n"
	       "the guide's loop, then the same work one task at a time in this process,\n"
	       "and compare the times.  Defaults are the guide's: 4 tasks of\n"
	       "factorial(50000) on cpu_count() workers.\n"
	       "\n"
	       "  --workers N     worker processes (1 to %d; default: the CPUs this\n"
	       "                  process may run on)\n"
	       "  --tasks N       how many factorials (1 to 64)\n"
	       "  --n N           which factorial (0 to 200000)\n"
	       "  --kill-one      task 1 kills its worker with SIGKILL halfway through\n"
	       "  --digits FILE   write the decimal digits of the first result to FILE\n"
	       "  --timeline      draw which process ran which task, and when\n"
	       "  --trace         print one 'span WORKER JOB MARK START END' line per task\n"
	       "  --help          show this and exit\n",
	       wb_progname(), PROCPOOL_MAX_WORKERS);
}

/* Catch SIGINT and SIGTERM into a pipe that ends the pool's waits. */
static int install_stop_pipe(void)
{
	struct sigaction sa = { .sa_handler = on_stop };
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
		die_errno(errno, "pipe2");
	stop_pipe = fds[1];
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		die_errno(errno, "sigaction");
	return fds[0];
}

/* Stopped by a signal: the pool is gone; end as that signal would have. */
static void stop_by_signal(int stop_read)
{
	unsigned char sig = SIGINT;

	if (read(stop_read, &sig, 1) != 1)
		sig = SIGINT;
	printf("Interrupted: the workers were stopped and reaped.\n");
	fflush(stdout);
	signal(sig, SIG_DFL);
	raise(sig);
	wb_exit(128 + sig);
}

static void write_digits(const char *path, const char *digits, size_t len)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die_errno(errno, "cannot open %s", path);
	if (fwrite(digits, 1, len, f) != len || fclose(f) != 0)
		die_errno(errno, "cannot write %s", path);
}

int main(int argc, char **argv)
{
	enum {
		OPT_WORKERS = 1,
		OPT_TASKS,
		OPT_N,
		OPT_KILL,
		OPT_DIGITS,
		OPT_TIMELINE,
		OPT_TRACE,
		OPT_HELP
	};
	static const struct option opts[] = {
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "n", required_argument, NULL, OPT_N },
		{ "kill-one", no_argument, NULL, OPT_KILL },
		{ "digits", required_argument, NULL, OPT_DIGITS },
		{ "timeline", no_argument, NULL, OPT_TIMELINE },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long workers = 0, tasks = 4, n = 50000;
	bool kill_one = false, draw = false, trace = false;
	const char *digits_path = NULL;
	struct task_in *in;
	struct pp_blob *blobs;
	struct pp_result *results;
	struct procpool *pool;
	struct procpool_stats st;
	int cpus = cpu_count(), stop_read, c, rc, failed = 0;
	double elapsed, sequential, ideal;
	char *digits;
	size_t ndigits;
	int64_t start;
	mpz_t want, got;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_WORKERS:
			workers = arg_long("--workers", optarg, 1, PROCPOOL_MAX_WORKERS);
			break;
		case OPT_TASKS:
			tasks = arg_long("--tasks", optarg, 1, 64);
			break;
		case OPT_N:
			n = arg_long("--n", optarg, 0, 200000);
			break;
		case OPT_KILL:
			kill_one = true;
			break;
		case OPT_DIGITS:
			digits_path = optarg;
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
	if (kill_one && tasks < 2)
		usage_error("--kill-one needs at least 2 tasks");
	if (!workers)
		workers = cpus;

	printf("System has %d CPUs (%d online)\n", cpus, cpu_online());
	if (draw || trace) {
		rc = timeline_new(&tl, (size_t)tasks);
		if (rc)
			die_errno(-rc, "timeline_new");
	}
	in = xcalloc((size_t)tasks, sizeof(*in));
	blobs = xcalloc((size_t)tasks, sizeof(*blobs));
	results = xcalloc((size_t)tasks, sizeof(*results));
	for (long i = 0; i < tasks; i++) {
		in[i] = (struct task_in){ .n = (uint64_t)n, .index = (uint32_t)i };
		in[i].kill_halfway = kill_one && i == 1;
		blobs[i] = (struct pp_blob){ &in[i], sizeof(in[i]) };
	}
	stop_read = install_stop_pipe();

	/* Fork first, while this process has one thread: nothing else runs. */
	start = clk_now_ns();
	rc = procpool_new(&pool, (int)workers);
	if (rc)
		die("procpool_new: %s", procpool_strerror(rc));
	procpool_set_wakeup_fd(pool, stop_read);
	printf("Pool of %ld worker processes:", workers);
	for (int i = 0; i < procpool_size(pool); i++)
		printf(" %d", (int)procpool_pid(pool, i));
	printf("\n");
	fflush(stdout);

	/* chunksize 1: four big tasks, one per worker, as Pool.map does here. */
	rc = procpool_map(pool, factorial_task, blobs, (size_t)tasks, 1, results);
	if (rc == -EINTR) {
		procpool_free(pool);
		stop_by_signal(stop_read);
	}
	if (rc && rc != -ECHILD)
		die("procpool_map: %s", procpool_strerror(rc));
	procpool_stats(pool, &st);
	if (st.lost) {
		printf("The pool lost %lu worker(s) and forked replacements:", st.lost);
		for (int i = 0; i < procpool_size(pool); i++)
			printf(" %d", (int)procpool_pid(pool, i));
		printf("\n");
	}
	procpool_close(pool);
	rc = procpool_join(pool);
	if (rc == -EINTR) {
		procpool_free(pool);
		stop_by_signal(stop_read);
	}
	elapsed = clk_since(start);
	procpool_free(pool);

	/* Every result must be exactly n!, as GMP's own algorithm says. */
	mpz_init(want);
	mpz_init(got);
	bigfact_fast(want, (unsigned long)n);
	for (long i = 0; i < tasks; i++) {
		if (results[i].err) {
			printf("Task %ld failed: %s\n", i, results[i].msg);
			failed++;
			continue;
		}
		bigfact_import(got, results[i].data, results[i].len);
		if (mpz_cmp(got, want) != 0)
			die("task %ld: the result is not factorial(%ld)", i, n);
	}
	printf("Results computed across %ld processes: %ld of %ld equal mpz_fac_ui(%ld)\n", workers,
	       tasks - failed, tasks, n);

	/* The same work, one task after another, in this process. */
	start = clk_now_ns();
	for (long i = 0; i < tasks; i++)
		bigfact_loop(got, (unsigned long)n);
	sequential = clk_since(start);
	if (mpz_cmp(got, want) != 0)
		die("the loop's factorial(%ld) differs from mpz_fac_ui's", n);

	digits = bigfact_decimal(want, &ndigits);
	if (!digits)
		die("out of memory");
	if (digits_path)
		write_digits(digits_path, digits, ndigits);
	printf("factorial(%ld) has %zu digits and %zu trailing zeros\n", n, ndigits,
	       bigfact_trailing_zeros(digits, ndigits));

	/* Equal tasks in full rounds of `workers`, no more parallel than the CPUs. */
	{
		long par = workers < cpus ? workers : cpus;
		long rounds = (tasks + par - 1) / par;

		ideal = (double)tasks / (double)rounds;
	}
	printf("%ld tasks in %.3f s on %ld workers, %.3f s one at a time: speed-up %.2fx "
	       "(ideal %.2fx)\n",
	       tasks, elapsed, workers, sequential, sequential / elapsed, ideal);
	printf("cpus=%d workers=%ld tasks=%ld n=%ld digits=%zu zeros=%zu failed=%d lost=%lu "
	       "elapsed=%.3f sequential=%.3f speedup=%.2f ideal=%.2f\n",
	       cpus, workers, tasks, n, ndigits, bigfact_trailing_zeros(digits, ndigits), failed,
	       st.lost, elapsed, sequential, sequential / elapsed, ideal);
	if (draw) {
		printf("\n");
		timeline_draw(tl, stdout, 60);
		printf("(one row per worker process; [N====] is task N computing)\n");
	}
	if (trace)
		timeline_dump(tl, stdout);

	free(digits);
	mpz_clear(got);
	mpz_clear(want);
	for (long i = 0; i < tasks; i++)
		pp_result_release(&results[i]);
	free(results);
	free(blobs);
	free(in);
	timeline_free(tl);
	close(stop_read);
	close(stop_pipe);
	return 0;
}
