/*
 * sharing_costs.c - what starting a process, and sharing with one, costs.
 *
 * Three pairs of measurements, each a way Python's multiprocessing works
 * next to the cheaper way C can take:
 *
 *   start a process   fork + _exit + waitpid, against posix_spawn of a
 *                     program (/bin/true) + waitpid: the twin of Python's
 *                     "spawn" start method, which starts a new program
 *                     instead of copying this one
 *   move a result     factorial(50000)'s bytes (mpz_export, the chapter's
 *                     pickling) as a frame through a socketpair to another
 *                     process, against a memcpy into MAP_SHARED memory
 *                     that process already sees
 *   count             one manager_incr() round trip to the Manager's
 *                     server, against one atomic increment of a counter
 *                     in MAP_SHARED memory
 *
 * Each figure is the median of --runs runs, and in each run every row is
 * measured once, so a machine that gets busier halfway slows all rows
 * alike.  The table ends with one key=value line for tests/bench.
 *
 * Every byte is checked: the other process (the "peer", forked at the
 * start) answers each transfer with a checksum of what it holds, and at
 * the end with the counter's value; a wrong answer is an error, not a
 * figure.  No thread is ever started: everything here forks.
 *
 *	sharing_costs [--runs N]
 */
#define _GNU_SOURCE /* environ */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "bigfact.h"
#include "check.h"
#include "clock.h"
#include "frame.h"
#include "manager.h"

/* How much each run does of each thing: a few milliseconds' worth at least. */
#define FORKS 100
#define SPAWNS 50
#define FRAMES 64
#define ROUND_TRIPS 2000
#define INCREMENTS 2000000L

#define FACT_N 50000UL
#define MAX_RUNS 100

/*
 * A counter that two processes update through their own mappings must not
 * need a lock hidden in the process that made it: a lock-free atomic is
 * one instruction on the memory itself, whatever address it is seen at.
 */
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "atomic_long must be lock-free to be shared");

/* The memory both processes see: mapped MAP_SHARED before the peer is forked. */
struct shared {
	atomic_long counter;
	size_t len;
	unsigned char bytes[]; /* len bytes: where the shared-memory copy lands */
};

/* What the parent asks the peer, one frame each; the peer answers PEER_ANSWER. */
enum peer_msg {
	PEER_DATA = 1, /* a result's bytes: keep them */
	PEER_SUM_LAST, /* the checksum of the last PEER_DATA */
	PEER_SUM_SHM,  /* the checksum of the shared bytes */
	PEER_COUNT,    /* the shared counter's value */
	PEER_ANSWER,
};

struct peer {
	pid_t pid;
	int fd;
};

/* Every row's figure in every run, and how the checks came out. */
struct figures {
	double fork_s[MAX_RUNS], spawn_s[MAX_RUNS]; /* seconds per process */
	double pipe_bps[MAX_RUNS], shm_bps[MAX_RUNS];
	double manager_ops[MAX_RUNS], atomic_ops[MAX_RUNS]; /* per second */
	int64_t manager_total;				    /* the server's last incr */
	long atomic_total;				    /* the counter, as the peer reads it */
};

/*
 * A checksum cheap enough not to weigh on the timings (8 bytes a step),
 * good enough to catch bytes that did not arrive: FNV-1a over words.
 */
static uint64_t checksum(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u, w;
	size_t i = 0;

	for (; i + sizeof(w) <= len; i += sizeof(w)) {
		memcpy(&w, p + i, sizeof(w));
		h = (h ^ w) * 0x100000001b3u;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return h;
}

/* ---------------------------------------------------------------- the peer */

/*
 * The peer's whole life: hold what it is sent, answer what it is asked,
 * until the parent closes the socket.  It leaves by _exit(): the atexit
 * handlers and stdio buffers it inherited are the parent's.
 */
static noreturn void peer_main(int fd, const struct shared *sh, pid_t parent)
{
	struct frame last = { 0 }, f;
	uint64_t answer;
	int rc;

	/* Die with the parent; it may have died before this took effect. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	/* Ctrl-C reaches the whole process group: the parent decides, we follow. */
	signal(SIGINT, SIG_IGN);
	while ((rc = frame_recv(fd, &f, (uint32_t)sh->len)) == 1) {
		switch (f.kind) {
		case PEER_DATA:
			/* Received is arrived: keep it, as an unpickled result would be. */
			frame_release(&last);
			last = f;
			continue;
		case PEER_SUM_LAST:
			answer = checksum(last.data, last.len);
			break;
		case PEER_SUM_SHM:
			answer = checksum(sh->bytes, sh->len);
			break;
		case PEER_COUNT:
			answer = (uint64_t)atomic_load(&sh->counter);
			break;
		default:
			rc = -EPROTO;
			break;
		}
		frame_release(&f);
		if (rc < 0)
			break;
		rc = frame_send(fd, PEER_ANSWER, 0, &answer, sizeof(answer));
		if (rc < 0)
			break;
	}
	frame_release(&last);
	_exit(rc < 0);
}

/* Fork the peer; it inherits @sh, mapped MAP_SHARED, and nothing else of use. */
static void peer_start(struct peer *p, const struct shared *sh)
{
	pid_t parent = getpid();
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die_errno(errno, "socketpair");
	/* What is buffered now would otherwise be written by both processes. */
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0)
		die_errno(errno, "fork");
	if (p->pid == 0) {
		close(sv[0]);
		peer_main(sv[1], sh, parent);
	}
	close(sv[1]);
	p->fd = sv[0];
}

/* Ask the peer one question (a PEER_* kind) and return its answer. */
static uint64_t peer_ask(struct peer *p, enum peer_msg what)
{
	struct frame f;
	uint64_t answer;
	int rc;

	rc = frame_send(p->fd, what, 0, NULL, 0);
	if (rc)
		die_errno(-rc, "cannot ask the peer process");
	rc = frame_recv(p->fd, &f, sizeof(answer));
	if (rc != 1 || f.kind != PEER_ANSWER || f.len != sizeof(answer))
		die("the peer process gave no answer (%s)", rc < 0 ? strerror(-rc)
							    : rc   ? "a wrong frame"
								   : "it closed the socket");
	memcpy(&answer, f.data, sizeof(answer));
	frame_release(&f);
	return answer;
}

/* Wait for @pid, which must exit with status 0: every child here should. */
static void reap(pid_t pid, const char *what)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno(errno, "waitpid %s", what);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s (pid %d) failed: wait status %#x", what, (int)pid, (unsigned)status);
}

/* Close the socket: the peer sees the end of the stream and exits. */
static void peer_stop(struct peer *p)
{
	close(p->fd);
	reap(p->pid, "the peer process");
}

/* ---------------------------------------------------------------- the rows */

/* Seconds for one fork + _exit + waitpid: the child does nothing at all. */
static double time_fork(void)
{
	int64_t start = clk_now_ns();

	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die_errno(errno, "fork");
		/* _exit: no atexit handler, no flush of the parent's buffers. */
		if (pid == 0)
			_exit(0);
		reap(pid, "a forked child");
	}
	return clk_since(start) / FORKS;
}

/*
 * Seconds for one posix_spawn of /bin/true + waitpid: a new program, as
 * Python's spawn start method runs a new interpreter.  glibc spawns with
 * vfork semantics, so no copy of this process's page tables is made.
 */
static double time_spawn(void)
{
	static char program[] = "/bin/true";
	char *const argv[] = { program, NULL };
	int64_t start = clk_now_ns();

	for (int i = 0; i < SPAWNS; i++) {
		pid_t pid;
		int rc = posix_spawn(&pid, program, NULL, NULL, argv, environ);

		if (rc)
			die_errno(rc, "posix_spawn %s", program);
		reap(pid, program);
	}
	return clk_since(start) / SPAWNS;
}

/*
 * Bytes per second from this process into the peer's memory as frames:
 * FRAMES sends, then one question, whose answer comes once the peer has
 * read every frame before it.  The answer proves the last frame whole.
 */
static double time_socket(struct peer *p, const unsigned char *bytes, size_t len, uint64_t sum)
{
	int64_t start = clk_now_ns();
	double secs;

	for (int i = 0; i < FRAMES; i++) {
		int rc = frame_send(p->fd, PEER_DATA, (uint32_t)i, bytes, len);

		if (rc)
			die_errno(-rc, "cannot send a frame to the peer process");
	}
	if (peer_ask(p, PEER_SUM_LAST) != sum)
		die("the bytes the peer received through the socket are not the ones sent");
	secs = clk_since(start);
	return (double)FRAMES * (double)len / secs;
}

/*
 * The same bytes, the same number of times, written where the peer can
 * read them in place, then the same one question.
 */
static double time_shm(struct peer *p, struct shared *sh, const unsigned char *bytes, uint64_t sum)
{
	int64_t start = clk_now_ns();
	double secs;

	for (int i = 0; i < FRAMES; i++) {
		memcpy(sh->bytes, bytes, sh->len);
		/*
		 * Nothing in this process reads the copy, so a compiler could
		 * keep only the last one; the fence makes it write each.
		 */
		atomic_signal_fence(memory_order_seq_cst);
	}
	if (peer_ask(p, PEER_SUM_SHM) != sum)
		die("the bytes the peer reads in shared memory are not the ones written");
	secs = clk_since(start);
	return (double)FRAMES * (double)sh->len / secs;
}

/* Round trips per second: manager_incr() of one counter, ROUND_TRIPS times. */
static double time_manager(struct manager_client *c, int64_t *now)
{
	int64_t start = clk_now_ns();

	for (int i = 0; i < ROUND_TRIPS; i++) {
		int rc = manager_incr(c, "n", 1, now);

		if (rc)
			die("manager_incr: %s", manager_strerror(rc));
	}
	return ROUND_TRIPS / clk_since(start);
}

/* Increments per second of the shared counter: one atomic instruction each. */
static double time_atomic(struct shared *sh)
{
	int64_t start = clk_now_ns();

	for (long i = 0; i < INCREMENTS; i++)
		atomic_fetch_add(&sh->counter, 1);
	return (double)INCREMENTS / clk_since(start);
}

/* ---------------------------------------------------------------- report */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @v's @n values (sorts @v). */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void report(struct figures *f, int runs, size_t len, const struct peer *p,
		   const struct manager *m)
{
	double fork_us = median(f->fork_s, runs) * 1e6, spawn_us = median(f->spawn_s, runs) * 1e6;
	double pipe = median(f->pipe_bps, runs) / 1e6, shm = median(f->shm_bps, runs) / 1e6;
	double mgr = median(f->manager_ops, runs), atom = median(f->atomic_ops, runs);

	printf("\nWhat sharing costs, median of %d run%s:\n\n", runs, runs == 1 ? "" : "s");
	printf("  start a process\n");
	printf("    fork + _exit + waitpid                  %12.1f us\n", fork_us);
	printf("    posix_spawn /bin/true + waitpid         %12.1f us    %.2fx the fork\n",
	       spawn_us, spawn_us / fork_us);
	printf("  move factorial(%lu)'s %zu bytes\n", FACT_N, len);
	printf("    as frames through a socketpair          %12.0f MB/s\n", pipe);
	printf("    by memcpy into MAP_SHARED memory        %12.0f MB/s  %.2fx the socket\n", shm,
	       shm / pipe);
	printf("  add 1 to a counter\n");
	printf("    manager_incr: a round trip to a server  %12.0f /s\n", mgr);
	printf("    atomic_fetch_add in MAP_SHARED memory   %12.0f /s    %.0fx the manager\n", atom,
	       atom / mgr);
	printf("\nIn Python: os.fork takes a millisecond or two (the interpreter is a big\n"
	       "process to copy); the spawn start method about 0.1 s (a new interpreter\n"
	       "imports its modules); a Manager dict manages thousands to tens of thousands\n"
	       "of round trips a second.  make bench measures them beside these.\n");
	printf("runs=%d bytes=%zu fork_us=%.1f spawn_us=%.1f spawn_vs_fork=%.2f pipe_mb_s=%.0f "
	       "shm_mb_s=%.0f shm_vs_pipe=%.2f manager_ops_s=%.0f atomic_ops_s=%.0f "
	       "atomic_vs_manager=%.0f manager_ops=%d manager_total=%lld atomic_ops=%ld "
	       "atomic_total=%ld peer=%d manager=%d\n",
	       runs, len, fork_us, spawn_us, spawn_us / fork_us, pipe, shm, shm / pipe, mgr, atom,
	       atom / mgr, ROUND_TRIPS, (long long)f->manager_total, INCREMENTS, f->atomic_total,
	       (int)p->pid, (int)manager_pid(m));
}

static void usage(void)
{
	printf("usage: %s [--runs N]\n"
	       "\n"
	       "Measure what processes cost to start and to share with, as a table:\n"
	       "fork against posix_spawn of /bin/true; factorial(%lu)'s bytes sent\n"
	       "through a socketpair against written into shared memory; a Manager\n"
	       "round trip against an atomic increment in shared memory.  Each figure\n"
	       "is the median of the runs.\n"
	       "\n"
	       "  --runs N   how many runs (1 to %d; default 5)\n"
	       "  --help     show this and exit\n",
	       wb_progname(), FACT_N, MAX_RUNS);
}

/* factorial(FACT_N) as the bytes a worker would send back: malloc'd. */
static unsigned char *factorial_bytes(size_t *len)
{
	unsigned char *bytes;
	mpz_t f;
	int rc;

	mpz_init(f);
	bigfact_fast(f, FACT_N);
	rc = bigfact_export(f, &bytes, len);
	mpz_clear(f);
	if (rc)
		die_errno(-rc, "bigfact_export");
	return bytes;
}

int main(int argc, char **argv)
{
	enum { OPT_RUNS = 1, OPT_HELP };
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, OPT_RUNS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static struct figures fig;
	struct manager_client *client;
	struct manager *m;
	struct shared *sh;
	struct peer peer;
	unsigned char *bytes;
	size_t len, map_len;
	uint64_t sum;
	int runs = 5, c, rc, status;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_RUNS:
			runs = (int)arg_long("--runs", optarg, 1, MAX_RUNS);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);

	bytes = factorial_bytes(&len);
	sum = checksum(bytes, len);
	map_len = sizeof(*sh) + len;
	sh = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die_errno(errno, "mmap");
	atomic_init(&sh->counter, 0);
	sh->len = len;

	/* Both helpers are forked first, while this process has one thread. */
	peer_start(&peer, sh);
	rc = manager_start(&m, NULL);
	if (rc)
		die("manager_start: %s", manager_strerror(rc));
	rc = manager_connect(m, &client);
	if (rc)
		die("manager_connect: %s", manager_strerror(rc));
	printf("peer process %d, manager server %d; measuring %d run%s...\n", (int)peer.pid,
	       (int)manager_pid(m), runs, runs == 1 ? "" : "s");
	fflush(stdout);

	for (int r = 0; r < runs; r++) {
		fig.fork_s[r] = time_fork();
		fig.spawn_s[r] = time_spawn();
		fig.pipe_bps[r] = time_socket(&peer, bytes, len, sum);
		fig.shm_bps[r] = time_shm(&peer, sh, bytes, sum);
		fig.manager_ops[r] = time_manager(client, &fig.manager_total);
		fig.atomic_ops[r] = time_atomic(sh);
	}
	/* The other process sees every increment: the memory is one. */
	fig.atomic_total = (long)peer_ask(&peer, PEER_COUNT);
	if (fig.atomic_total != (long)runs * INCREMENTS)
		die("the peer counts %ld increments, not %ld", fig.atomic_total,
		    (long)runs * INCREMENTS);
	if (fig.manager_total != (int64_t)runs * ROUND_TRIPS)
		die("the manager counts %lld increments, not %lld", (long long)fig.manager_total,
		    (long long)runs * ROUND_TRIPS);

	report(&fig, runs, len, &peer, m);

	manager_close(client);
	rc = manager_shutdown(m, &status);
	if (rc)
		die("manager_shutdown: %s", manager_strerror(rc));
	if (status != 0)
		die("the manager's server did not stop cleanly (wait status %d)", status);
	peer_stop(&peer);
	munmap(sh, map_len);
	free(bytes);
	return 0;
}
