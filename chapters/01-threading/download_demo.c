/*
 * download_demo.c - the guide's "download 5 files with threads", for real.
 *
 * Every URL becomes one task on an executor; the task fetches it with
 * libcurl's easy interface and streams the body through an FNV-1a hash
 * instead of keeping it.  A failure - a refused connection, a timeout, an
 * HTTP error status, a connection cut short - belongs to its own task: it
 * comes back through that task's future, and the other downloads carry on.
 *
 *	download_demo [--workers N] [--timeout-ms MS] [--timeline] [--trace]
 *	              [URL...]
 *
 * With no URL, the demo starts the workbook's loopback server
 * (tests/fixtures/httpd.c, built into build/fixtures/) and fetches the
 * guide's example from it: five files that each take half a second, on
 * three workers, so the whole run takes two rounds, about 1.0 s.  Starting,
 * stopping and reaping the server, and removing the directory it writes its
 * port to, whatever ends the demo, is the job of common/loopback.h.  A URL
 * that libcurl's parser refuses is bad input.
 *
 * libcurl's rules for threads, which this program follows:
 *   - curl_global_init() is not thread-safe: call it once, in main, before
 *     any other thread exists; curl_global_cleanup() once, at the end;
 *   - an easy handle must never be used by two threads at once: each task
 *     creates its own and cleans it up before it returns;
 *   - CURLOPT_NOSIGNAL: a multi-threaded program must not let libcurl use
 *     signals (alarm() for DNS timeouts) - a signal hits whichever thread
 *     the kernel picks, not the one that asked for it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "executor.h"
#include "log.h"
#include "loopback.h"
#include "timeline.h"

#define FNV_BASIS UINT32_C(0x811c9dc5)
#define FNV_PRIME UINT32_C(0x01000193)
#define MAX_WORKERS 256
#define MAX_URLS 10000

/* The guide's example: five files, half a second each, a few sizes. */
#define DEFAULT_DELAY_MS 500
static const long default_sizes[] = { 1024, 65536, 300000, 12345, 2000000 };

/* One download: the task's argument, and where it leaves what it found. */
struct transfer {
	/* Set by main before the task is submitted. */
	int index;
	const char *url;
	long timeout_ms;
	struct timeline *tl; /* where to record the span, or NULL */
	/* Written by the task; main reads them after future_result(). */
	long status;	 /* HTTP status, 0 if no response came */
	uint64_t bytes;	 /* body bytes received */
	uint32_t fnv;	 /* FNV-1a of those bytes */
	bool body_whole; /* the transfer itself completed */
	double seconds;
	/* Set by main from the future. */
	int rc;
	char error[EXECUTOR_ERRMAX];
};

/* ------------------------------------------------------------- the task */

static uint32_t fnv1a(uint32_t h, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/*
 * libcurl hands the body over in pieces as it arrives.  Hashing each piece
 * and forgetting it keeps memory flat however large the file is.  Returning
 * anything but @len would abort the transfer.
 */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct transfer *t = userdata;
	size_t len = size * nmemb;

	t->fnv = fnv1a(t->fnv, data, len);
	t->bytes += len;
	return len;
}

/* Configure @easy for @t; the first failing option's code, or CURLE_OK. */
static CURLcode easy_setup(CURL *easy, struct transfer *t, char *errbuf)
{
	CURLcode rc = curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);

	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_URL, t->url);
		/* Plain HTTP only (and redirects are not followed). */
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 deprecated the bitmask */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http");
#else
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, t->timeout_ms);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	/* The loopback server must be reached directly, whatever *_proxy says. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(easy, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	return rc;
}

/* A task reports failure as a negative errno; pick the nearest one. */
static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/*
 * Fetch one URL.  The easy handle lives and dies inside this call, so no
 * other thread ever sees it.  Everything the task learns goes into its own
 * struct transfer, which no other thread touches until the future is done.
 */
static int download(void *arg, void **result, char *err, size_t errlen)
{
	struct transfer *t = arg;
	char curl_err[CURL_ERROR_SIZE] = "";
	int64_t start = clk_now_ns();
	char job[16];
	CURL *easy;
	CURLcode rc;
	int ret = 0;

	log_msg("Starting download %d...", t->index);
	t->fnv = FNV_BASIS;
	easy = curl_easy_init();
	if (!easy) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -ENOMEM;
	}
	rc = easy_setup(easy, t, curl_err);
	if (rc == CURLE_OK)
		rc = curl_easy_perform(easy);
	t->body_whole = rc == CURLE_OK;
	/* Asked even after a failure: 0 means no response line arrived. */
	if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->status) != CURLE_OK)
		t->status = 0;
	curl_easy_cleanup(easy);
	t->seconds = clk_since(start);

	if (rc != CURLE_OK) {
		/* The error buffer has the details ("... port 8080 after 0 ms"). */
		snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
		ret = curl_errno(rc);
	} else if (t->status >= 400) {
		/* libcurl calls any complete response a success; we do not. */
		snprintf(err, errlen, "HTTP status %ld", t->status);
		ret = -EPROTO;
	}
	if (ret)
		log_msg("Download %d failed: %s", t->index, err);
	else
		log_msg("Download %d complete!", t->index);
	if (t->tl) {
		snprintf(job, sizeof(job), "%d", t->index);
		/* '.' is the chart's mark for "waiting on I/O". */
		timeline_add(t->tl, log_name(), job, '.', start, clk_now_ns());
	}
	if (ret == 0)
		*result = t;
	return ret;
}

/* ------------------------------------------------- the loopback server */

/* Stop the server at the end of a normal run; false if it did not exit 0. */
static bool server_stop(struct loopback *srv)
{
	char why[160];
	int rc = loopback_stop(srv);

	if (rc == 0) {
		printf("Stopped the loopback server (pid %ld)\n", (long)srv->pid);
		return true;
	}
	fflush(stdout);
	fprintf(stderr, "%s: the loopback server %s\n", wb_progname(),
		loopback_explain(srv, rc, why, sizeof why));
	return false;
}

/* ----------------------------------------------------------- reporting */

/*
 * The best the pool could do with these transfers: each one's own time,
 * handed in order to whichever worker is free first, exactly as the queue
 * does.  Whatever the run took beyond this, the pool itself cost.
 */
static double ideal_time(const struct transfer *ts, size_t n, int workers)
{
	double free_at[MAX_WORKERS] = { 0 }, end = 0;

	for (size_t i = 0; i < n; i++) {
		int first = 0;

		for (int w = 1; w < workers; w++)
			if (free_at[w] < free_at[first])
				first = w;
		free_at[first] += ts[i].seconds;
		if (free_at[first] > end)
			end = free_at[first];
	}
	return end;
}

static void print_table(const struct transfer *ts, size_t n)
{
	printf("\n%3s  %-6s  %6s  %9s  %-8s  %9s  %s\n", "#", "result", "status", "bytes", "fnv1a",
	       "time", "url");
	for (size_t i = 0; i < n; i++) {
		const struct transfer *t = &ts[i];
		char status[24] = "-", fnv[16] = "-";

		if (t->status > 0)
			snprintf(status, sizeof(status), "%ld", t->status);
		/* A checksum of half a body would only mislead. */
		if (t->body_whole)
			snprintf(fnv, sizeof(fnv), "%08" PRIx32, t->fnv);
		printf("%3d  %-6s  %6s  %9" PRIu64 "  %-8s  %7.3f s  %s%s%s\n", t->index,
		       t->rc ? "FAILED" : "ok", status, t->bytes, fnv, t->seconds, t->url,
		       t->rc ? "  " : "", t->rc ? t->error : "");
	}
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	printf("usage: %s [--workers N] [--timeout-ms MS] [--timeline] [--trace] [URL...]\n"
	       "\n"
	       "Download each URL as one task on a pool of worker threads, with one\n"
	       "libcurl easy handle per task, and report per file, in input order: the\n"
	       "HTTP status, the bytes received, the FNV-1a checksum of the body, the\n"
	       "time taken, or what went wrong for that file alone.  An HTTP status of\n"
	       "400 or more counts as a failure.\n"
	       "\n"
	       "With no URL, start the workbook's loopback server (build/fixtures/httpd)\n"
	       "and fetch the guide's example from it: 5 files of 0.5 s each.\n"
	       "\n"
	       "The ideal time is the transfers' own times handed out in order to the\n"
	       "first free worker: what the run would take if the pool cost nothing.\n"
	       "\n"
	       "  --workers N      threads in the pool (1 to %d, default 3)\n"
	       "  --timeout-ms MS  give up on a transfer after MS milliseconds\n"
	       "                   (1 to 3600000, default 10000)\n"
	       "  --timeline       draw which thread downloaded which file, and when\n"
	       "  --trace          print one 'span WORKER JOB MARK START END' line per file\n"
	       "  --help           show this and exit\n"
	       "\n"
	       "Each URL must be one that libcurl's URL parser accepts, with the scheme\n"
	       "http:// written out and a port from 1 to 65535, if any; anything else is\n"
	       "bad input, refused before any download starts; at most %d URLs.\n"
	       "Exit status: 0 if every download succeeded, 1 if any failed (or the\n"
	       "server would not start), 2 for bad input.\n",
	       wb_progname(), MAX_WORKERS, MAX_URLS);
}

struct options {
	long workers, timeout_ms;
	bool draw, trace;
};

/* Parse the options; argv[optind] onwards are then the URLs. */
static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_WORKERS = 1, OPT_TIMEOUT, OPT_TIMELINE, OPT_TRACE, OPT_HELP };
	static const struct option longopts[] = {
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "timeline", no_argument, NULL, OPT_TIMELINE },
		{ "trace", no_argument, NULL, OPT_TRACE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = arg_next(argc, argv, longopts)) != -1) {
		switch (c) {
		case OPT_WORKERS:
			opt->workers = arg_long("--workers", optarg, 1, MAX_WORKERS);
			break;
		case OPT_TIMEOUT:
			opt->timeout_ms = arg_long("--timeout-ms", optarg, 1, 3600000);
			break;
		case OPT_TIMELINE:
			opt->draw = true;
			break;
		case OPT_TRACE:
			opt->trace = true;
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	if (argc - optind > MAX_URLS)
		usage_error("too many URLs (at most %d)", MAX_URLS);
}

/*
 * What is wrong with @url, or NULL if the demo can fetch it.  libcurl's own
 * parser judges it, so that a URL it would refuse is bad input, found
 * before any download starts, and not a download that fails.  Flags 0 mean
 * the scheme must be written out (no CURLU_DEFAULT_SCHEME) and be one this
 * libcurl supports; of those the demo takes http alone.  A message that
 * needs libcurl's words is built in @buf.
 */
static const char *url_problem(const char *url, char *buf, size_t len)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *port = NULL;
	const char *why = NULL;
	CURLUcode rc;

	if (!u)
		die("curl_url: out of memory");
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_BAD_SCHEME || rc == CURLUE_UNSUPPORTED_SCHEME) {
		why = "is not an http:// URL";
	} else if (rc != CURLUE_OK) {
#if LIBCURL_VERSION_NUM >= 0x075000 /* curl_url_strerror came in 7.80.0 */
		snprintf(buf, len, "is not a valid URL: %s", curl_url_strerror(rc));
#else
		snprintf(buf, len, "is not a valid URL (libcurl's code %d)", (int)rc);
#endif
		why = buf;
	} else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		   strcmp(scheme, "http") != 0) {
		why = "is not an http:// URL";
	} else if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
		   strcmp(port, "0") == 0) {
		why = "names port 0, where no server can listen";
	} else if (url[strcspn(url, " \t\r\n")] != '\0') {
		why = "contains white space";
	}
	curl_free(scheme);
	curl_free(port);
	curl_url_cleanup(u);
	return why;
}

/* Refuse the first URL the demo could not fetch, as bad input. */
static void check_urls(char *const urls[], size_t n)
{
	char buf[160], shown[WB_SHOW_VALUE];
	const char *why;

	for (size_t i = 0; i < n; i++) {
		why = url_problem(urls[i], buf, sizeof(buf));
		if (why)
			usage_error("'%s' %s", wb_show(shown, sizeof(shown), urls[i]), why);
	}
}

/* libcurl's process-wide set-up, while main is the only thread. */
static void curl_start(void)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		die("curl_global_init: %s", curl_easy_strerror(rc));
	/*
	 * With CURLOPT_NOSIGNAL libcurl no longer ignores SIGPIPE for us; a
	 * write to a connection the server has reset must be an error, not
	 * the end of the program.
	 */
	if (sigaction(SIGPIPE, &ignore, NULL) < 0)
		die_errno(errno, "sigaction(SIGPIPE)");
}

/*
 * Run every transfer on a pool of @workers threads and fill in how each
 * one ended.  Returns the seconds the pool's whole life took.
 */
static double run_pool(struct transfer *ts, size_t n, int workers)
{
	struct future **fs = xcalloc(n, sizeof(*fs));
	struct executor *ex;
	sigset_t stop, old;
	int64_t start = clk_now_ns();
	double elapsed;
	int rc;

	/*
	 * Workers inherit the signal mask of the thread that creates them.
	 * Creating them with SIGINT and SIGTERM blocked leaves main as the only
	 * thread those signals can interrupt, so the handlers that stop the
	 * server run in one place.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	PT_CHECK(pthread_sigmask(SIG_BLOCK, &stop, &old));
	rc = executor_new(&ex, workers, "Thread");
	PT_CHECK(pthread_sigmask(SIG_SETMASK, &old, NULL));
	if (rc)
		die("executor_new: %s", executor_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		rc = executor_submit(ex, download, &ts[i], &fs[i]);
		if (rc)
			die("executor_submit: %s", executor_strerror(rc));
	}
	/* In input order, as map would, but one failure stops nothing. */
	for (size_t i = 0; i < n; i++) {
		ts[i].rc = future_result(fs[i], -1, NULL);
		snprintf(ts[i].error, sizeof(ts[i].error), "%s", future_errmsg(fs[i]));
		future_unref(fs[i]);
	}
	executor_free(ex);
	elapsed = clk_since(start);
	free(fs);
	return elapsed;
}

/*
 * No URLs given: start the loopback server and return the guide's example
 * on its port, @n URLs in a block the caller frees.
 */
static char **default_urls(struct loopback *srv, size_t *n)
{
	enum { URL_MAX = 96 };
	size_t count = sizeof(default_sizes) / sizeof(default_sizes[0]);
	char why[160], **urls;
	int rc = loopback_start(srv, "download_demo", 0);

	if (rc)
		die("the loopback server %s", loopback_explain(srv, rc, why, sizeof why));
	printf("Started the loopback server %s (pid %ld) on http://127.0.0.1:%ld\n", srv->path,
	       (long)srv->pid, srv->port);
	/* The pointers and the strings in one allocation: one free(). */
	urls = xcalloc(count, sizeof(*urls) + URL_MAX);
	for (size_t i = 0; i < count; i++) {
		urls[i] = (char *)(urls + count) + i * URL_MAX;
		snprintf(urls[i], URL_MAX, "http://127.0.0.1:%ld/file?size=%ld&delay_ms=%d",
			 srv->port, default_sizes[i], DEFAULT_DELAY_MS);
	}
	*n = count;
	return urls;
}

/* One transfer per URL, with what every task needs to know. */
static struct transfer *new_transfers(char *const urls[], size_t n, const struct options *opt,
				      struct timeline *tl)
{
	struct transfer *ts = xcalloc(n, sizeof(*ts));

	for (size_t i = 0; i < n; i++) {
		ts[i].index = (int)i;
		ts[i].url = urls[i];
		ts[i].timeout_ms = opt->timeout_ms;
		ts[i].tl = tl;
	}
	return ts;
}

/* The totals, for people and then for tests; true if every file came. */
static bool print_summary(const struct transfer *ts, size_t n, int workers, double elapsed)
{
	double ideal = ideal_time(ts, n, workers), sequential = 0;
	uint64_t bytes = 0;
	size_t ok = 0;

	for (size_t i = 0; i < n; i++) {
		ok += ts[i].rc == 0;
		bytes += ts[i].bytes;
		sequential += ts[i].seconds;
	}
	printf("\n%zu files, %zu ok, %zu failed, %" PRIu64 " bytes in %.3f s "
	       "(ideal %.3f s with %d workers; %.3f s one at a time)\n",
	       n, ok, n - ok, bytes, elapsed, ideal, workers, sequential);
	printf("files=%zu ok=%zu failed=%zu bytes=%" PRIu64 " workers=%d "
	       "elapsed=%.3f ideal=%.3f sequential=%.3f\n",
	       n, ok, n - ok, bytes, workers, elapsed, ideal, sequential);
	return ok == n;
}

/* The chart and the spans, if asked for. */
static void print_timeline(struct timeline *tl, const struct options *opt)
{
	if (opt->draw) {
		printf("\n");
		timeline_draw(tl, stdout, 60);
		printf("(one row per worker thread; [N....] is file N on the network)\n");
	}
	if (opt->trace)
		timeline_dump(tl, stdout);
}

int main(int argc, char **argv)
{
	struct options opt = { .workers = 3, .timeout_ms = 10000 };
	struct loopback srv = { .pid = 0 };
	char **own_urls = NULL, **urls;
	struct timeline *tl = NULL;
	struct transfer *ts;
	size_t n;
	double elapsed;
	bool all_ok, server_ok = true;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	/* Before any thread exists: curl_global_init() is not thread-safe. */
	curl_start();
	urls = &argv[optind];
	n = (size_t)(argc - optind);
	check_urls(urls, n);
	if (n == 0)
		urls = own_urls = default_urls(&srv, &n);
	if (opt.draw || opt.trace) {
		int rc = timeline_new(&tl, n);

		if (rc)
			die_errno(-rc, "timeline_new");
	}
	ts = new_transfers(urls, n, &opt, tl);

	printf("Downloading %zu files on %ld worker threads\n", n, opt.workers);
	fflush(stdout); /* log lines are written directly; keep the order */
	elapsed = run_pool(ts, n, (int)opt.workers);
	if (own_urls)
		server_ok = server_stop(&srv);

	print_table(ts, n);
	all_ok = print_summary(ts, n, (int)opt.workers, elapsed);
	print_timeline(tl, &opt);

	timeline_free(tl);
	free(ts);
	free(own_urls);
	curl_global_cleanup();
	return all_ok && server_ok ? 0 : 1;
}
