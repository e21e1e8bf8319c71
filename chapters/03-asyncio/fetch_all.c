/*
 * fetch_all.c - many real HTTP downloads on one thread: libcurl's multi
 * handle in the event loop (http_get.h), one task per download, at most
 * --limit of them on the network at once (a Semaphore), each under
 * wait_for (--timeout-ms).  The guide's "asyncio for many downloads", with
 * the numbers measured:
 *
 *	fetch_all [--count N] [--limit N] [--delay-ms MS] [--size BYTES]
 *	          [--timeout-ms MS] [--port PORT | --url URL...]
 *
 * Each download is this task (the C of Python's
 * "async with sem: return await asyncio.wait_for(get(url), timeout)"):
 *
 *	acquire a permit  ->  wait_for(a task that awaits hg_get(url))
 *	                  ->  release the permit, check the body
 *
 * and main gathers them all.  The files come from the workbook's loopback
 * server (tests/fixtures/httpd.c): the one at --port, or one this program
 * starts and stops.  Its bodies are a pattern in which every byte can be
 * checked from its offset, and every byte is.  With --url the URLs are the
 * caller's (still that server's: a body that is not the pattern counts as
 * a failure).
 *
 * The ideal time: N downloads of --delay-ms each, --limit at a time, take
 * ceil(N / limit) rounds of delay.  Whatever the run took beyond that, the
 * loop, libcurl and the server cost.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"
#include "http_get.h"
#include "loopback.h"

#define MAX_COUNT 100000
#define MAX_LIMIT 1000 /* the server's default --max-conns is 1024 */
#define MAX_BODY (4L << 20)
#define URL_MAX 128
#define PROGRESS_MS 100
#define BAR_WIDTH 40
#define FD_RESERVE 64 /* the standard streams, the loop's, a sanitizer's */

/* How one download ended. */
enum outcome { FETCH_OK, FETCH_FAILED, FETCH_TIMED_OUT };

struct fetch;

/* The inner task: the GET itself, which wait_for may cancel. */
struct get {
	struct co_task task;
	struct hg *hg;
	struct hg_request req;
};

/* One download's frame: the permit, the deadline and what it found. */
struct download {
	struct co_task task;
	struct fetch *f;
	const char *url;
	struct get get;
	struct co_wait_for wf;
	int err; /* wait_for's result */
	enum outcome outcome;
	char why[CURL_ERROR_SIZE]; /* a failure in words */
};

/* What every download shares, and main's frame. */
struct fetch {
	struct co_task task;
	struct hg *hg;
	struct co_sem sem;
	long timeout_ms;
	size_t body_cap; /* room for one body */
	size_t n, finished, holding, peak_holding, peak_transfers;
	struct download *downloads;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather gather;
	struct loop_timer progress; /* redraws the bar, on a terminal only */
	bool bar;
	int err;
};

/* ------------------------------------------------------ one download */

static int get_step(struct co_task *t)
{
	struct get *g = (struct get *)t;
	int err;

	CO_BEGIN(t);
	CO_AWAIT(t, hg_get(t, g->hg, &g->req), &err);
	CO_RETURN(t, err);
	CO_END(t);
}

/* Whether @len bytes at @body are the start of the server's pattern:
 * byte i is byte i % 16 of the line printf("%015x\n", i - i % 16). */
static bool is_pattern(const char *body, size_t len)
{
	char line[32];

	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;

		snprintf(line, sizeof line, "%015zx\n", off);
		if (memcmp(body + off, line, n) != 0)
			return false;
	}
	return true;
}

/* Decide how @d ended, from wait_for's result and the request's. */
static void judge(struct download *d)
{
	const struct hg_request *req = &d->get.req;

	d->outcome = FETCH_FAILED;
	if (d->err == -ETIMEDOUT) {
		d->outcome = FETCH_TIMED_OUT;
		snprintf(d->why, sizeof d->why, "timed out after %ld ms", d->f->timeout_ms);
	} else if (d->err) {
		snprintf(d->why, sizeof d->why, "%s",
			 req->errmsg[0] ? req->errmsg : strerror(-d->err));
	} else if (req->status < 200 || req->status > 299) {
		snprintf(d->why, sizeof d->why, "HTTP status %ld", req->status);
	} else if (req->length >= 0 && (uint64_t)req->length != req->bytes) {
		snprintf(d->why, sizeof d->why, "%zu bytes of %" PRId64, req->bytes, req->length);
	} else if (!is_pattern(req->body, req->bytes)) {
		snprintf(d->why, sizeof d->why, "the body is not the server's pattern");
	} else {
		d->outcome = FETCH_OK;
	}
}

static int download_step(struct co_task *t)
{
	struct download *d = (struct download *)t;
	struct fetch *f = d->f;

	CO_BEGIN(t);
	CO_AWAIT(t, co_sem_acquire(t, &f->sem), &d->err);
	if (d->err) {
		judge(d); /* cancelled before it began */
		f->finished++;
		CO_RETURN(t, d->err);
	}
	if (++f->holding > f->peak_holding)
		f->peak_holding = f->holding;
	/* The buffer lives only while the permit is held: --limit of them. */
	d->get.hg = f->hg;
	d->get.req.url = d->url;
	d->get.req.body = malloc(f->body_cap + 1);
	d->get.req.body_cap = f->body_cap;
	if (d->get.req.body) {
		co_task_start(co_loop(t), &d->get.task, get_step, "get");
		CO_AWAIT(t, co_wait_for(t, &d->wf, &d->get.task, f->timeout_ms), &d->err);
	} else {
		d->err = -ENOMEM;
	}
	f->holding--;
	co_sem_release(&f->sem);
	judge(d);
	free(d->get.req.body);
	d->get.req.body = NULL;
	f->finished++;
	CO_RETURN(t, d->outcome == FETCH_OK ? 0 : -EIO);
	CO_END(t);
}

/* ------------------------------------------------------------ main task */

/* The progress bar: finished / total, and how many are on the network. */
static void draw_bar(struct fetch *f)
{
	size_t fill = f->n ? f->finished * BAR_WIDTH / f->n : BAR_WIDTH;
	char bar[BAR_WIDTH + 1];

	memset(bar, '#', fill);
	memset(bar + fill, '.', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	printf("\r[%s] %zu/%zu, %zu in flight", bar, f->finished, f->n, hg_in_flight(f->hg));
	fflush(stdout);
}

static void on_progress(struct loop *loop, struct loop_timer *timer)
{
	struct fetch *f = (struct fetch *)((char *)timer - offsetof(struct fetch, progress));

	draw_bar(f);
	f->err = loop_timer_start(loop, timer, loop_now(loop) + PROGRESS_MS * CLK_NS_PER_MS,
				  on_progress);
}

static int main_step(struct co_task *t)
{
	struct fetch *f = (struct fetch *)t;
	struct loop *loop = co_loop(t);
	int err;

	CO_BEGIN(t);
	err = hg_new(&f->hg, loop);
	if (err)
		CO_RETURN(t, err);
	for (size_t i = 0; i < f->n; i++) {
		f->downloads[i].f = f;
		f->tasks[i] = &f->downloads[i].task;
		co_task_start(loop, f->tasks[i], download_step, "download");
	}
	if (f->bar) {
		err = loop_timer_start(loop, &f->progress, loop_now(loop), on_progress);
		if (err)
			f->err = err;
	}
	/* return_exceptions: one failed download must not end the others. */
	CO_AWAIT(t, co_gather(t, &f->gather, f->tasks, f->cbs, f->n, true), &err);
	if (f->bar) {
		loop_timer_stop(loop, &f->progress);
		draw_bar(f);
		printf("\n");
	}
	f->peak_transfers = hg_peak_in_flight(f->hg);
	hg_free(f->hg);
	CO_RETURN(t, err ? err : f->err);
	CO_END(t);
}

/* ------------------------------------------------- the loopback server */

/* Stop the server; false (after saying why) if it did not exit 0. */
static bool server_stop(struct loopback *srv)
{
	char why[160];
	int rc = loopback_stop(srv);

	if (rc == 0)
		return true;
	fflush(stdout);
	fprintf(stderr, "%s: the loopback server %s\n", wb_progname(),
		loopback_explain(srv, rc, why, sizeof why));
	return false;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	printf("usage: %s [--count N] [--limit N] [--delay-ms MS] [--size BYTES]\n"
	       "       [--timeout-ms MS] [--port PORT | --url URL...]\n"
	       "\n"
	       "Download N files from the workbook's loopback server on one thread:\n"
	       "one task per file, libcurl's multi handle in the event loop, at most\n"
	       "--limit files on the network at once (a Semaphore), each under\n"
	       "wait_for (--timeout-ms).  Every byte of every body is checked against\n"
	       "the server's pattern.  A failed or timed-out file gets a line of its\n"
	       "own; the summary counts ok / failed / timed out, the bytes, the time\n"
	       "next to the ideal ceil(N / limit) x delay, and the most in flight.\n"
	       "On a terminal a progress bar shows the files done.\n"
	       "\n"
	       "  --count N        files to fetch (1 to %d, default 100)\n"
	       "  --limit N        files on the network at once (1 to %d, default 10)\n"
	       "  --delay-ms MS    the server waits MS before each reply (0 to 60000,\n"
	       "                   default 100)\n"
	       "  --size BYTES     the size of each file (0 to %ld, default 4096)\n"
	       "  --timeout-ms MS  give up on a file after MS (1 to 3600000,\n"
	       "                   default 10000), counting from when it got a permit\n"
	       "  --port PORT      fetch from the server on 127.0.0.1:PORT instead of\n"
	       "                   starting one (build/fixtures/httpd)\n"
	       "  --url URL        fetch URL, an http:// URL libcurl can parse (repeat\n"
	       "                   it; at most %d): these instead of\n"
	       "                   --count files; implies no server of its own\n"
	       "  --help           show this and exit\n"
	       "\n"
	       "Exit status: 0 if every file came whole, 1 if any did not (or the\n"
	       "server would not start), 2 for bad input.\n",
	       wb_progname(), MAX_COUNT, MAX_LIMIT, MAX_BODY, MAX_COUNT);
}

struct options {
	long count, limit, delay_ms, size, timeout_ms, port;
	bool count_set, size_set, delay_set;
	char **urls;
	size_t nurls;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum {
		OPT_COUNT = 1,
		OPT_LIMIT,
		OPT_DELAY,
		OPT_SIZE,
		OPT_TIMEOUT,
		OPT_PORT,
		OPT_URL,
		OPT_HELP
	};
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "url", required_argument, NULL, OPT_URL },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	char shown[WB_SHOW_VALUE];
	int c;

	opt->urls = xcalloc((size_t)argc, sizeof *opt->urls);
	while ((c = arg_next(argc, argv, longopts)) != -1) {
		switch (c) {
		case OPT_COUNT:
			opt->count = arg_long("--count", optarg, 1, MAX_COUNT);
			opt->count_set = true;
			break;
		case OPT_LIMIT:
			opt->limit = arg_long("--limit", optarg, 1, MAX_LIMIT);
			break;
		case OPT_DELAY:
			opt->delay_ms = arg_long("--delay-ms", optarg, 0, 60000);
			opt->delay_set = true;
			break;
		case OPT_SIZE:
			opt->size = arg_long("--size", optarg, 0, MAX_BODY);
			opt->size_set = true;
			break;
		case OPT_TIMEOUT:
			opt->timeout_ms = arg_long("--timeout-ms", optarg, 1, 3600000);
			break;
		case OPT_PORT:
			opt->port = arg_long("--port", optarg, 1, 65535);
			break;
		case OPT_URL:
			if (strncmp(optarg, "http://", 7) != 0 || strlen(optarg) >= URL_MAX)
				usage_error("--url: '%s' is not an http:// URL of under %d bytes",
					    wb_show(shown, sizeof shown, optarg), URL_MAX);
			opt->urls[opt->nurls++] = optarg;
			break;
		case OPT_HELP:
			free(opt->urls);
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (opt->nurls > MAX_COUNT)
		usage_error("too many --url (at most %d)", MAX_COUNT);
	if (opt->nurls && (opt->count_set || opt->size_set || opt->delay_set || opt->port))
		usage_error("--url names the files: --count, --size, --delay-ms and --port "
			    "do not go with it");
}

/*
 * Each --url must be one libcurl's own parser accepts, so that a URL it
 * would refuse is bad input, found before anything starts, not a download
 * that fails.  Called after curl_global_init().
 */
static void check_urls(const struct options *opt)
{
	char shown[WB_SHOW_VALUE];
	CURLU *u = curl_url();

	if (!u)
		die("curl_url: out of memory");
	for (size_t i = 0; i < opt->nurls; i++) {
		if (curl_url_set(u, CURLUPART_URL, opt->urls[i], 0) != CURLUE_OK) {
			curl_url_cleanup(u);
			usage_error("--url: libcurl cannot parse '%s'",
				    wb_show(shown, sizeof shown, opt->urls[i]));
		}
	}
	curl_url_cleanup(u);
}

/*
 * Each file on the network holds a socket, and the usual soft limit of
 * 1024 descriptors is near --limit's maximum: make room for @limit of
 * them, up to the hard limit.  Past that, bad input: a download must not
 * fail for want of a descriptor the program knew it would need.
 */
static void make_fd_room(long limit)
{
	rlim_t want = (rlim_t)limit + FD_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die_errno(errno, "getrlimit(RLIMIT_NOFILE)");
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
			usage_error("--limit %ld needs %ld descriptors; the limit is %ld", limit,
				    (long)want, (long)rl.rlim_max);
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			die_errno(errno, "setrlimit(RLIMIT_NOFILE)");
	}
}

/* The ideal time: ceil(n / limit) rounds of one delay each. */
static double ideal_seconds(const struct options *opt)
{
	long rounds = (opt->count + opt->limit - 1) / opt->limit;

	return (double)rounds * (double)opt->delay_ms / 1000.0;
}

/* One line per download that did not come whole; the totals. */
static bool report(const struct fetch *f, const struct options *opt, double elapsed)
{
	size_t ok = 0, failed = 0, timed_out = 0;
	uint64_t bytes = 0;

	for (size_t i = 0; i < f->n; i++) {
		const struct download *d = &f->downloads[i];

		bytes += d->get.req.bytes;
		if (d->outcome == FETCH_OK) {
			ok++;
			continue;
		}
		if (d->outcome == FETCH_TIMED_OUT)
			timed_out++;
		else
			failed++;
		printf("download %zu %s: %s (%s)\n", i,
		       d->outcome == FETCH_TIMED_OUT ? "timed out" : "failed", d->why, d->url);
	}
	printf("%zu downloads: %zu ok, %zu failed, %zu timed out; %" PRIu64 " bytes in %.3f s",
	       f->n, ok, failed, timed_out, bytes, elapsed);
	if (opt->nurls == 0)
		printf(" (ideal %.3f s: %ld x %ld ms, %ld at a time)", ideal_seconds(opt),
		       opt->count, opt->delay_ms, opt->limit);
	printf("; at most %zu in flight (limit %ld)\n", f->peak_transfers, opt->limit);
	/* The same, for tests: peak counts transfers in curl's hands at once,
	 * holding the tasks that held a permit at once. */
	printf("downloads=%zu ok=%zu failed=%zu timed_out=%zu bytes=%" PRIu64
	       " elapsed=%.3f ideal=%.3f peak=%zu holding=%zu limit=%ld\n",
	       f->n, ok, failed, timed_out, bytes, elapsed, opt->nurls ? 0.0 : ideal_seconds(opt),
	       f->peak_transfers, f->peak_holding, opt->limit);
	return ok == f->n;
}

int main(int argc, char **argv)
{
	struct options opt = {
		.count = 100, .limit = 10, .delay_ms = 100, .size = 4096, .timeout_ms = 10000
	};
	struct loopback srv = { .pid = 0 };
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	struct fetch f = { .progress = LOOP_TIMER_INIT };
	char(*own)[URL_MAX] = NULL;
	int64_t start;
	double elapsed;
	bool all_ok, server_ok = true;
	CURLcode crc;
	int err;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	/* No other thread exists yet: curl_global_init() is not thread-safe. */
	crc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (crc != CURLE_OK)
		die("curl_global_init: %s", curl_easy_strerror(crc));
	/* With CURLOPT_NOSIGNAL, a write to a reset connection is an error
	 * of that download, not the end of the program. */
	if (sigaction(SIGPIPE, &ignore, NULL) < 0)
		die_errno(errno, "sigaction(SIGPIPE)");
	check_urls(&opt);
	make_fd_room(opt.limit);

	f.n = opt.nurls ? opt.nurls : (size_t)opt.count;
	f.downloads = xcalloc(f.n, sizeof *f.downloads);
	f.tasks = xcalloc(f.n, sizeof *f.tasks);
	f.cbs = xcalloc(f.n, sizeof *f.cbs);
	f.timeout_ms = opt.timeout_ms;
	f.body_cap = opt.nurls ? MAX_BODY : (size_t)opt.size;
	f.bar = isatty(STDOUT_FILENO);
	co_sem_init(&f.sem, opt.limit);
	if (opt.nurls) {
		for (size_t i = 0; i < f.n; i++)
			f.downloads[i].url = opt.urls[i];
	} else {
		long port = opt.port;

		if (!port) {
			char why[160];
			int rc = loopback_start(&srv, "fetch_all", opt.limit + 16);

			if (rc)
				die("the loopback server %s",
				    loopback_explain(&srv, rc, why, sizeof why));
			port = srv.port;
			printf("Started the loopback server (pid %ld) on http://127.0.0.1:%ld\n",
			       (long)srv.pid, port);
		}
		own = xcalloc(f.n, sizeof *own);
		for (size_t i = 0; i < f.n; i++) {
			snprintf(own[i], URL_MAX, "http://127.0.0.1:%ld/file?size=%ld&delay_ms=%ld",
				 port, opt.size, opt.delay_ms);
			f.downloads[i].url = own[i];
		}
	}
	printf("Fetching %zu file%s, at most %ld at a time, each within %ld ms\n", f.n,
	       f.n == 1 ? "" : "s", opt.limit, opt.timeout_ms);
	fflush(stdout);
	start = clk_now_ns();
	err = co_run(&f.task, main_step);
	elapsed = clk_since(start);
	if (srv.pid)
		server_ok = server_stop(&srv);
	if (err)
		die_errno(-err, "fetching");
	all_ok = report(&f, &opt, elapsed);
	free(own);
	free(f.cbs);
	free(f.tasks);
	free(f.downloads);
	free(opt.urls);
	curl_global_cleanup();
	return all_ok && server_ok ? 0 : 1;
}
