/*
 * uv_fetch.c - chapter 03's downloads on libuv: libcurl's multi handle
 * driven by libuv's poll handles and one libuv timer, against the same
 * downloads on the workbook's own loop (http_get.h), in one run.
 *
 *	uv_fetch [--count N] [--limit N] [--delay-ms MS] [--size BYTES]
 *	         [--port PORT]
 *
 * The wiring is the one chapter 03's http_get.c does by hand, with libuv's
 * pieces in place of the workbook's loop:
 *
 *   curl says                          this program does
 *   "watch socket S for IN/OUT"        uv_poll_init_socket() once per
 *                                      socket, then uv_poll_start()
 *   "socket S: nothing more"           uv_poll_stop(), uv_close()
 *   "call me back in N ms" / "never"   uv_timer_start() / uv_timer_stop()
 *   libuv says
 *   "S is ready", "the timer is due"   curl_multi_socket_action(), then
 *                                      collect finished transfers and
 *                                      start queued ones up to --limit
 *
 * curl_multi_assign() hangs each socket's poll handle on curl's own record
 * of the socket, so the callback finds it again without a table.  A
 * "0 ms" from curl starts a timer due at once, which libuv runs on the
 * loop's next turn, never inside curl's call.
 *
 * Both ways fetch the same URLs: file i is --size + i % 16 bytes after
 * --delay-ms, and every tenth asks for status 404, so statuses and sizes
 * differ from file to file.  Each way records, per file, the status, the
 * bytes and the body's FNV-1a hash; both must match what the server's
 * pattern says, file by file, or the program says which file and exits 1.
 *
 * The ideal time for each way: ceil(N / limit) rounds of one delay.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"
#include "http_get.h"
#include "loopback.h"

#define MAX_COUNT 10000
#define MAX_LIMIT 500 /* the server is started with room for this many */
#define MAX_SIZE (1L << 20)
#define URL_MAX 128
#define FNV_BASIS 2166136261u

/* What one download came back with, whichever way fetched it. */
struct file {
	int err;       /* 0 or a negative errno: the transfer failed */
	long status;   /* the HTTP status */
	size_t bytes;  /* body bytes received */
	uint32_t hash; /* FNV-1a of the body */
	size_t cap;    /* the most bytes it may have (the uv way's limit) */
};

/* What each way reports: its time, its peak and its thread's costs. */
struct way {
	const char *name, *what;
	struct file *files;
	double seconds;
	size_t peak; /* transfers in curl's hands at once, at most */
	double cpu_ms;
	long wakeups;
};

static uint32_t fnv1a(uint32_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* What file @i must be: the server's pattern of its size, and its status. */
static struct file expected(size_t i, long size)
{
	struct file f = { .status = i % 10 == 9 ? 404 : 200, .hash = FNV_BASIS };
	char line[32];

	f.bytes = (size_t)size + i % 16;
	/* byte k is byte k % 16 of the line printf("%015x\n", k - k % 16) */
	for (size_t off = 0; off < f.bytes; off += 16) {
		size_t n = f.bytes - off < 16 ? f.bytes - off : 16;

		snprintf(line, sizeof line, "%015zx\n", off);
		f.hash = fnv1a(f.hash, line, n);
	}
	return f;
}

/* ------------------------------------------------------- the libuv way */

struct uvf {
	uv_loop_t loop;
	uv_timer_t timer; /* the one timeout curl asks for */
	CURLM *multi;
	char (*urls)[URL_MAX];
	struct file *files;
	CURL **easies; /* file i's transfer while curl has it, else NULL */
	size_t n, next, running, finished, peak, limit;
	int err; /* the first failure of the wiring (not of a download) */
};

/* A socket curl asked to watch: its poll handle, freed when closed. */
struct uvf_socket {
	uv_poll_t poll;
	struct uvf *u;
	curl_socket_t fd;
};

/* Stop the run: the wiring failed (@err < 0), or every file is done. */
static void uvf_finish(struct uvf *u, int err)
{
	if (err && !u->err)
		u->err = err;
	uv_stop(&u->loop);
}

static size_t uvf_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct file *f = arg;
	size_t len = size * nmemb;

	if (len > f->cap - f->bytes) {
		f->err = -EMSGSIZE;
		return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
	}
	f->hash = fnv1a(f->hash, data, len);
	f->bytes += len;
	return len;
}

/* Hand file u->next to curl. */
static int uvf_start_next(struct uvf *u)
{
	struct file *f = &u->files[u->next];
	CURL *e = curl_easy_init();
	CURLcode rc;
	CURLMcode mrc;

	if (!e)
		return -ENOMEM;
	rc = curl_easy_setopt(e, CURLOPT_URL, u->urls[u->next]);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PRIVATE, f);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, uvf_on_body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	if (rc != CURLE_OK) {
		curl_easy_cleanup(e);
		return hg_errno(rc);
	}
	mrc = curl_multi_add_handle(u->multi, e);
	if (mrc != CURLM_OK) {
		curl_easy_cleanup(e);
		return mrc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	u->easies[u->next++] = e;
	if (++u->running > u->peak)
		u->peak = u->running;
	return 0;
}

/* Record every finished transfer, then refill up to the limit. */
static void uvf_collect(struct uvf *u)
{
	CURLMsg *msg;
	int left, err;

	while ((msg = curl_multi_info_read(u->multi, &left)) != NULL) {
		CURL *e = msg->easy_handle;
		CURLcode result = msg->data.result; /* msg dies with the handle */
		struct file *f = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&f);
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &f->status);
		if (f->err == 0) /* the body's own verdict wins over curl's */
			f->err = hg_errno(result);
		curl_multi_remove_handle(u->multi, e);
		curl_easy_cleanup(e);
		u->easies[f - u->files] = NULL;
		u->running--;
		u->finished++;
	}
	while (u->running < u->limit && u->next < u->n) {
		err = uvf_start_next(u);
		if (err) {
			uvf_finish(u, err);
			return;
		}
	}
	if (u->finished == u->n)
		uvf_finish(u, 0);
}

static void uvf_on_ready(uv_poll_t *poll, int status, int events)
{
	struct uvf_socket *s = poll->data;
	struct uvf *u = s->u; /* curl may close @poll during its call */
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(u->multi, s->fd, flags, &running);
	uvf_collect(u);
}

static void uvf_on_timer(uv_timer_t *timer)
{
	struct uvf *u = timer->data;
	int running;

	curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	uvf_collect(u);
}

static void uvf_free_socket(uv_handle_t *h)
{
	free(h->data);
}

/* curl's CURLMOPT_SOCKETFUNCTION: what to watch on @fd. */
static int uvf_on_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct uvf *u = arg;
	struct uvf_socket *s = sockp;
	int events = 0, rc;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			uv_poll_stop(&s->poll);
			curl_multi_assign(u->multi, fd, NULL);
			uv_close((uv_handle_t *)&s->poll, uvf_free_socket);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s) {
			uvf_finish(u, -ENOMEM);
			return -1;
		}
		rc = uv_poll_init_socket(&u->loop, &s->poll, fd);
		if (rc) {
			free(s);
			uvf_finish(u, rc);
			return -1;
		}
		s->poll.data = s;
		s->u = u;
		s->fd = fd;
		curl_multi_assign(u->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	rc = uv_poll_start(&s->poll, events, uvf_on_ready);
	if (rc) {
		uvf_finish(u, rc);
		return -1;
	}
	return 0;
}

/* curl's CURLMOPT_TIMERFUNCTION: call me back in @ms, or never (-1). */
static int uvf_on_timeout(CURLM *multi, long ms, void *arg)
{
	struct uvf *u = arg;

	(void)multi;
	if (ms < 0)
		return uv_timer_stop(&u->timer) ? -1 : 0;
	/* 0 ms: due at once, run on the loop's next turn, not from here. */
	return uv_timer_start(&u->timer, uvf_on_timer, (uint64_t)ms, 0) ? -1 : 0;
}

static void uvf_close_one(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h->type == UV_POLL ? uvf_free_socket : NULL);
}

/* Fetch every URL on a uv loop; 0, or a libuv or negative errno code. */
static int uvf_run(struct uvf *u)
{
	CURLMcode mrc;
	int rc, rc2;

	rc = uv_loop_init(&u->loop);
	if (rc)
		return rc;
	rc = uv_timer_init(&u->loop, &u->timer);
	if (rc)
		goto close_loop;
	u->timer.data = u;
	u->multi = curl_multi_init();
	if (!u->multi) {
		rc = -ENOMEM;
		goto close_loop;
	}
	mrc = curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, uvf_on_socket);
	if (mrc == CURLM_OK)
		mrc = curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
	if (mrc == CURLM_OK)
		mrc = curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, uvf_on_timeout);
	if (mrc == CURLM_OK)
		mrc = curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
	if (mrc != CURLM_OK) {
		rc = -EIO;
		goto cleanup_multi;
	}
	uvf_collect(u); /* starts the first --limit files */
	if (!u->err && u->finished < u->n)
		uv_run(&u->loop, UV_RUN_DEFAULT);
	rc = u->err;
	if (!rc && u->finished < u->n)
		rc = -EPROTO; /* the loop ran dry with files unfinished */

cleanup_multi:
	/* Transfers still in curl's hands (after a failure) end here; its
	 * REMOVE calls close their poll handles. */
	for (size_t i = 0; i < u->n; i++) {
		if (u->easies[i]) {
			curl_multi_remove_handle(u->multi, u->easies[i]);
			curl_easy_cleanup(u->easies[i]);
			u->easies[i] = NULL;
		}
	}
	curl_multi_cleanup(u->multi);
close_loop:
	/* Every handle closed, and its close run, before the loop goes. */
	uv_walk(&u->loop, uvf_close_one, NULL);
	uv_run(&u->loop, UV_RUN_DEFAULT);
	rc2 = uv_loop_close(&u->loop);
	return rc ? rc : rc2;
}

/* ------------------------------------------- the workbook's loop's way */

struct cof;

/* One download: a task that holds a permit while its GET runs. */
struct cof_item {
	struct co_task task; /* first: the library finds the frame from it */
	struct cof *c;
	size_t i;
	struct hg_request req;
	int err;
};

struct cof {
	struct co_task task;
	struct hg *hg;
	struct co_sem sem; /* --limit permits */
	const char (*urls)[URL_MAX];
	struct file *files;
	struct cof_item *items;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather gather;
	size_t n, peak;
};

static int cof_item_step(struct co_task *t)
{
	struct cof_item *it = (struct cof_item *)t;
	struct file *f = &it->c->files[it->i];

	CO_BEGIN(t);
	CO_AWAIT(t, co_sem_acquire(t, &it->c->sem), &it->err);
	if (it->err)
		CO_RETURN(t, it->err);
	it->req.url = it->c->urls[it->i];
	it->req.body_cap = f->cap;
	it->req.body = malloc(f->cap ? f->cap : 1);
	it->err = -ENOMEM;
	if (it->req.body)
		CO_AWAIT(t, hg_get(t, it->c->hg, &it->req), &it->err);
	co_sem_release(&it->c->sem);
	f->err = it->err;
	f->status = it->req.status;
	f->bytes = it->req.bytes;
	f->hash = fnv1a(FNV_BASIS, it->req.body, it->req.bytes);
	free(it->req.body);
	it->req.body = NULL;
	CO_RETURN(t, 0);
	CO_END(t);
}

static int cof_main_step(struct co_task *t)
{
	struct cof *c = (struct cof *)t;
	int err;

	CO_BEGIN(t);
	err = hg_new(&c->hg, co_loop(t));
	if (err)
		CO_RETURN(t, err);
	for (size_t i = 0; i < c->n; i++) {
		c->items[i].c = c;
		c->items[i].i = i;
		c->tasks[i] = &c->items[i].task;
		co_task_start(co_loop(t), c->tasks[i], cof_item_step, "fetch");
	}
	CO_AWAIT(t, co_gather(t, &c->gather, c->tasks, c->cbs, c->n, false), &err);
	c->peak = hg_peak_in_flight(c->hg);
	hg_free(c->hg);
	CO_RETURN(t, err);
	CO_END(t);
}

static int cof_run(struct cof *c)
{
	int err;

	c->items = xcalloc(c->n, sizeof *c->items);
	c->tasks = xcalloc(c->n, sizeof *c->tasks);
	c->cbs = xcalloc(c->n, sizeof *c->cbs);
	err = co_run(&c->task, cof_main_step);
	free(c->cbs);
	free(c->tasks);
	free(c->items);
	return err;
}

/* ---------------------------------------------------------------- main */

/* This thread's CPU time and voluntary context switches so far. */
static void thread_costs(double *cpu_ms, long *wakeups)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) < 0)
		die_errno(errno, "getrusage");
	*cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
		  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	*wakeups = ru.ru_nvcsw;
}

/* Count the files of @w that are not what the server sent; name the first. */
static size_t check_way(const struct way *w, size_t n, long size)
{
	size_t wrong = 0;

	for (size_t i = 0; i < n; i++) {
		struct file want = expected(i, size), *got = &w->files[i];

		if (!got->err && got->status == want.status && got->bytes == want.bytes &&
		    got->hash == want.hash)
			continue;
		if (wrong++ == 0) {
			fflush(stdout);
			if (got->err)
				fprintf(stderr, "%s: %s: file %zu failed: %s\n", wb_progname(),
					w->name, i, strerror(-got->err));
			else
				fprintf(stderr,
					"%s: %s: file %zu is status %ld, %zu bytes, hash %08" PRIx32
					"; the server sent %ld, %zu bytes, hash %08" PRIx32 "\n",
					wb_progname(), w->name, i, got->status, got->bytes,
					got->hash, want.status, want.bytes, want.hash);
		}
	}
	return wrong;
}

static void usage(void)
{
	printf("usage: %s [--count N] [--limit N] [--delay-ms MS] [--size BYTES]\n"
	       "       [--port PORT]\n"
	       "\n"
	       "Download N files from the workbook's loopback server twice, at most\n"
	       "--limit at a time: with libcurl's multi handle driven by libuv (a\n"
	       "uv_poll_t per socket, one uv_timer_t for curl's timeouts), and with\n"
	       "chapter 03's http_get.h on the workbook's loop and coroutines.  File i\n"
	       "is BYTES + i %% 16 bytes long and every tenth is a 404, so each file is\n"
	       "its own.  Both ways must get every status, length and byte the server\n"
	       "sent.  Print each way's time next to the ideal ceil(N / limit) x delay.\n"
	       "\n"
	       "  --count N        files to fetch (1 to %d, default 100)\n"
	       "  --limit N        files on the network at once (1 to %d, default 10)\n"
	       "  --delay-ms MS    the server waits MS before each reply (0 to 60000,\n"
	       "                   default 100)\n"
	       "  --size BYTES     the size of file 0 (0 to %ld, default 4096)\n"
	       "  --port PORT      fetch from the server on 127.0.0.1:PORT instead of\n"
	       "                   starting one (build/fixtures/httpd)\n"
	       "  --help           show this and exit\n"
	       "\n"
	       "Exit status: 0 if both ways got every file as sent, 1 if not (or the\n"
	       "server would not start), 2 for bad input.\n",
	       wb_progname(), MAX_COUNT, MAX_LIMIT, MAX_SIZE);
}

struct options {
	long count, limit, delay_ms, size, port;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	enum { OPT_COUNT = 1, OPT_LIMIT, OPT_DELAY, OPT_SIZE, OPT_PORT, OPT_HELP };
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "delay-ms", required_argument, NULL, OPT_DELAY },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = arg_next(argc, argv, longopts)) != -1) {
		switch (c) {
		case OPT_COUNT:
			opt->count = arg_long("--count", optarg, 1, MAX_COUNT);
			break;
		case OPT_LIMIT:
			opt->limit = arg_long("--limit", optarg, 1, MAX_LIMIT);
			break;
		case OPT_DELAY:
			opt->delay_ms = arg_long("--delay-ms", optarg, 0, 60000);
			break;
		case OPT_SIZE:
			opt->size = arg_long("--size", optarg, 0, MAX_SIZE);
			break;
		case OPT_PORT:
			opt->port = arg_long("--port", optarg, 1, 65535);
			break;
		case OPT_HELP:
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
}

/* Fresh records for one way's run: nothing received yet. */
static struct file *new_files(size_t n, long size)
{
	struct file *files = xcalloc(n, sizeof *files);

	for (size_t i = 0; i < n; i++) {
		files[i].hash = FNV_BASIS;
		files[i].cap = (size_t)size + 16;
	}
	return files;
}

int main(int argc, char **argv)
{
	struct options opt = { .count = 100, .limit = 10, .delay_ms = 100, .size = 4096 };
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	struct loopback srv = { .pid = 0 };
	struct way ways[2] = {
		{ .name = "uv", .what = "libcurl multi on libuv (uv_poll_t + uv_timer_t)" },
		{ .name = "co", .what = "libcurl multi on chapter 03's loop (http_get.h)" },
	};
	char(*urls)[URL_MAX];
	char why[160];
	size_t n, wrong[2];
	double ideal, cpu0;
	long port, wake0;
	int64_t start;
	CURLcode crc;
	int rc;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	/* No other thread exists yet: curl_global_init() is not thread-safe. */
	crc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (crc != CURLE_OK)
		die("curl_global_init: %s", curl_easy_strerror(crc));
	/* A write to a reset connection is that download's error. */
	if (sigaction(SIGPIPE, &ignore, NULL) < 0)
		die_errno(errno, "sigaction(SIGPIPE)");

	port = opt.port;
	if (!port) {
		rc = loopback_start(&srv, "uv_fetch", MAX_LIMIT + 16);
		if (rc)
			die("the loopback server %s", loopback_explain(&srv, rc, why, sizeof why));
		port = srv.port;
	}
	n = (size_t)opt.count;
	urls = xcalloc(n, sizeof *urls);
	for (size_t i = 0; i < n; i++)
		snprintf(urls[i], URL_MAX,
			 "http://127.0.0.1:%ld/file?size=%zu&delay_ms=%ld&status=%ld", port,
			 (size_t)opt.size + i % 16, opt.delay_ms, expected(i, 0).status);
	ideal = (double)((n + (size_t)opt.limit - 1) / (size_t)opt.limit) * (double)opt.delay_ms /
		1e3;
	printf("Fetching %zu files from http://127.0.0.1:%ld, %ld at a time, each after %ld ms\n",
	       n, port, opt.limit, opt.delay_ms);
	fflush(stdout);

	for (int w = 0; w < 2; w++) {
		struct way *way = &ways[w];

		way->files = new_files(n, opt.size);
		thread_costs(&cpu0, &wake0);
		start = clk_now_ns();
		if (w == 0) {
			struct uvf u = { .urls = urls,
					 .files = way->files,
					 .n = n,
					 .limit = (size_t)opt.limit };

			u.easies = xcalloc(n, sizeof *u.easies);
			rc = uvf_run(&u);
			free(u.easies);
			way->peak = u.peak;
			if (rc)
				die("libuv: %s", rc > -4096 ? uv_strerror(rc) : "failed");
		} else {
			struct cof c = { .urls = (const char(*)[URL_MAX])urls,
					 .files = way->files,
					 .n = n };

			co_sem_init(&c.sem, opt.limit);
			rc = cof_run(&c);
			way->peak = c.peak;
			if (rc)
				die_errno(-rc, "the workbook's loop");
		}
		way->seconds = clk_since(start);
		thread_costs(&way->cpu_ms, &way->wakeups);
		way->cpu_ms -= cpu0;
		way->wakeups -= wake0;
	}
	if (srv.pid) {
		rc = loopback_stop(&srv);
		if (rc)
			die("the loopback server %s", loopback_explain(&srv, rc, why, sizeof why));
	}

	for (int w = 0; w < 2; w++) {
		const struct way *way = &ways[w];

		wrong[w] = check_way(way, n, opt.size);
		printf("  %-50s %7.3f s  (ideal %.3f s)  at most %zu in flight\n", way->what,
		       way->seconds, ideal, way->peak);
	}
	if (wrong[0] + wrong[1] == 0)
		printf("Both got every file as the server sent it: the same %zu statuses, "
		       "lengths and bytes.\n",
		       n);
	/* The same, for tests and make bench: one line of key=value. */
	printf("files=%zu limit=%ld ideal=%.3f server_pid=%ld", n, opt.limit, ideal, (long)srv.pid);
	for (int w = 0; w < 2; w++) {
		const struct way *way = &ways[w];

		printf(" %s_wrong=%zu %s_seconds=%.3f %s_peak=%zu %s_cpu_ms=%.1f %s_wakeups=%ld",
		       way->name, wrong[w], way->name, way->seconds, way->name, way->peak,
		       way->name, way->cpu_ms, way->name, way->wakeups);
	}
	printf("\n");
	for (int w = 0; w < 2; w++)
		free(ways[w].files);
	free(urls);
	curl_global_cleanup();
	return wrong[0] + wrong[1] ? 1 : 0;
}
