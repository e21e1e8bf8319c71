/*
 * hg_probe.c - the promises of http_get.h's callback API, one scene per
 * first argument:
 *
 *   get [--timeout-ms MS] URL...
 *                  start every GET at once on one loop and report each
 *                  one's ending: err, status, bytes, Content-Length, and
 *                  whether the body is the loopback server's pattern
 *                  (tests/fixtures/httpd.c); then the most in flight, the
 *                  descriptors left open, and what the loop's thread spent
 *                  while it waited
 *   chain N URL    N GETs of URL one after another, each started by the
 *                  completion callback of the one before
 *   cancel         a GET to a listener of the driver's own, cancelled once
 *                  the request has arrived: no callback, the socket closed
 *                  (the listener sees end-of-file), no descriptor left
 *   await URL MS   a task awaits hg_get(URL) under co_wait_for(MS): what
 *                  wait_for returned, and the inner task's own result
 *   await-cancel   a task in hg_get() to the driver's listener is
 *                  cancelled once its request has arrived: the await
 *                  returns -ECANCELED, the socket is closed, nothing left
 *   closed         the loop itself: unwatching a descriptor after it was
 *                  closed is harmless, and its number, reused, works
 *
 * It prints facts as "key=value" for tests/03-curl.bats to judge; the
 * loop backend is WB_LOOP_BACKEND's.
 *
 * The driver also stands between http_get.c and three of libcurl's entry
 * points (see "Watching curl's entry points"), to count calls into curl
 * made while a call into curl was still running: none may be made.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD (usage.h), strerrorname_np */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../usage.h"
#include "check.h"
#include "clock.h"
#include "co.h"
#include "http_get.h"
#include "loop.h"

#define BODY_CAP (1u << 20)

/* ------------------------------------------ watching curl's entry points */

/*
 * These definitions take the place of libcurl's in this program (a symbol
 * the executable defines wins over a shared library's), and pass each call
 * on to the real one.  curl calls its socket and timer callbacks from
 * inside these calls; a callback that called curl back from there, say to
 * act on a 0 ms timeout at once, would show up as a call made at depth > 0.
 */
static int curl_depth;
static long curl_reentered, curl_actions;

#define REAL(name) ((__typeof__(name) *)real_fn(#name))

static void *real_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn)
		die("dlsym(%s): %s", name, dlerror());
	return fn;
}

CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t s, int ev, int *running)
{
	CURLMcode rc;

	curl_reentered += curl_depth > 0;
	curl_actions++;
	curl_depth++;
	rc = REAL(curl_multi_socket_action)(multi, s, ev, running);
	curl_depth--;
	return rc;
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *easy)
{
	CURLMcode rc;

	curl_reentered += curl_depth > 0;
	curl_depth++;
	rc = REAL(curl_multi_add_handle)(multi, easy);
	curl_depth--;
	return rc;
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *easy)
{
	CURLMcode rc;

	curl_reentered += curl_depth > 0;
	curl_depth++;
	rc = REAL(curl_multi_remove_handle)(multi, easy);
	curl_depth--;
	return rc;
}

static const char *errname(int err)
{
	const char *name;

	if (err == 0)
		return "0";
	name = strerrorname_np(-err);
	return name ? name : "unknown";
}

/* Open descriptors, counted in /proc/self/fd (the directory's own not). */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		die_errno(errno, "opendir /proc/self/fd");
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

/* Whether @body's @len bytes are the first @len of httpd's pattern. */
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

static struct loop *new_loop(void)
{
	struct loop *loop;
	int err = loop_new(&loop, LOOP_DEFAULT);

	if (err)
		die_errno(-err, "loop_new");
	return loop;
}

static struct hg *new_hg(struct loop *loop)
{
	struct hg *hg;
	int err = hg_new(&hg, loop);

	if (err)
		die_errno(-err, "hg_new");
	return hg;
}

/* ------------------------------------------------------------------ get */

struct probe_req {
	struct hg_request req;
	int index;
	int calls; /* how often the callback ran: once */
};

static void report(struct hg_request *req, void *arg)
{
	struct probe_req *p = arg;
	const char *body = "-";

	p->calls++;
	if (req->err == 0 && req->status == 200)
		body = is_pattern(req->body, req->bytes) ? "pattern" : "garbled";
	printf("req=%d err=%s status=%ld bytes=%zu length=%lld body=%s curl=%d errmsg='%s'\n",
	       p->index, errname(req->err), req->status, req->bytes, (long long)req->length, body,
	       (int)req->code, req->errmsg);
}

static int scene_get(int n, char **urls, long timeout_ms)
{
	struct probe_req *ps = xcalloc((size_t)n, sizeof *ps);
	int fds = count_fds(), err, calls = 0;
	struct loop *loop = new_loop();
	struct hg *hg = new_hg(loop);
	struct usage before, after;

	for (int i = 0; i < n; i++) {
		ps[i].index = i;
		ps[i].req.url = urls[i];
		ps[i].req.timeout_ms = timeout_ms;
		ps[i].req.body = xmalloc(BODY_CAP);
		ps[i].req.body_cap = BODY_CAP;
		err = hg_start(hg, &ps[i].req, report, &ps[i]);
		if (err)
			die_errno(-err, "hg_start %s", urls[i]);
	}
	printf("started=%d started_in_flight=%zu\n", n, hg_in_flight(hg));
	before = usage_now();
	err = loop_run(loop);
	after = usage_now();
	if (err)
		die_errno(-err, "loop_run");
	for (int i = 0; i < n; i++) {
		calls += ps[i].calls;
		free(ps[i].req.body);
	}
	printf("callbacks=%d peak=%zu in_flight=%zu backend=%s curl_actions=%ld reentered=%ld ",
	       calls, hg_peak_in_flight(hg), hg_in_flight(hg), loop_backend_name(loop),
	       curl_actions, curl_reentered);
	hg_free(hg);
	loop_free(loop);
	printf("fds_left=%d ", count_fds() - fds);
	usage_print("wait", before, after);
	printf("\n");
	free(ps);
	return 0;
}

/* ---------------------------------------------------------------- chain */

struct chain {
	struct hg *hg;
	struct hg_request req;
	long left, ok, failed;
};

static void chain_next(struct hg_request *req, void *arg)
{
	struct chain *c = arg;
	int err;

	if (req->err == 0 && req->status == 200)
		c->ok++;
	else
		c->failed++;
	if (--c->left == 0)
		return;
	/* From inside a completion callback: the request is free again. */
	err = hg_start(c->hg, &c->req, chain_next, c);
	if (err)
		die_errno(-err, "hg_start from a callback");
}

static int scene_chain(long n, const char *url)
{
	struct loop *loop = new_loop();
	struct chain c = { .hg = new_hg(loop), .left = n };
	int err;

	c.req.url = url;
	c.req.timeout_ms = 5000;
	err = hg_start(c.hg, &c.req, chain_next, &c);
	if (err)
		die_errno(-err, "hg_start");
	err = loop_run(loop);
	if (err)
		die_errno(-err, "loop_run");
	printf("ok=%ld failed=%ld left=%ld peak=%zu reentered=%ld\n", c.ok, c.failed, c.left,
	       hg_peak_in_flight(c.hg), curl_reentered);
	hg_free(c.hg);
	loop_free(loop);
	return 0;
}

/* --------------------------------------------------------------- cancel */

/*
 * The driver is the server: a listener on the same loop.  The order is
 * forced by what the listener sees, not by time: the request has arrived
 * (so curl's socket is connected and in use) before the cancel, and the
 * peer's end-of-file after it shows that the socket was really closed.
 */
struct cancel {
	struct loop *loop;
	struct hg *hg;
	struct probe_req p;
	int listen_fd, conn_fd;
	size_t got;
	char head[4096];
	int fds_before, fds_during, fds_after;
	bool peer_eof;
};

static void on_conn(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct cancel *c = arg;
	ssize_t n;

	(void)events;
	n = read(fd, c->head + c->got, sizeof c->head - 1 - c->got);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		c->got += (size_t)n;
		c->head[c->got] = '\0';
		if (hg_running(&c->p.req) && strstr(c->head, "\r\n\r\n")) {
			c->fds_during = count_fds();
			hg_cancel(&c->p.req);
			c->fds_after = count_fds();
		}
		return;
	}
	/* End-of-file (or an error): the client's socket is gone. */
	c->peer_eof = n == 0 && !hg_running(&c->p.req);
	loop_unwatch(loop, fd);
	close(fd);
	c->conn_fd = -1;
	loop_stop(loop);
}

static void on_accept(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct cancel *c = arg;
	int err;

	(void)events;
	c->conn_fd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c->conn_fd < 0)
		die_errno(errno, "accept4");
	loop_unwatch(loop, fd);
	err = loop_watch(loop, c->conn_fd, LOOP_READ, on_conn, c);
	if (err)
		die_errno(-err, "loop_watch");
}

static int listen_loopback(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die_errno(errno, "socket");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		die_errno(errno, "listening on 127.0.0.1");
	*port = ntohs(a.sin_port);
	return fd;
}

static int scene_cancel(void)
{
	struct cancel c = { .conn_fd = -1 };
	char url[64];
	int port, err;

	c.fds_before = count_fds();
	c.loop = new_loop();
	c.hg = new_hg(c.loop);
	c.listen_fd = listen_loopback(&port);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/never-answered", port);
	c.p.req.url = url;
	err = loop_watch(c.loop, c.listen_fd, LOOP_READ, on_accept, &c);
	if (err)
		die_errno(-err, "loop_watch");
	err = hg_start(c.hg, &c.p.req, report, &c.p);
	if (err)
		die_errno(-err, "hg_start");
	err = loop_run(c.loop);
	if (err)
		die_errno(-err, "loop_run");
	printf("callbacks=%d err=%s in_flight=%zu peer_eof=%d closed_by_cancel=%d ", c.p.calls,
	       errname(c.p.req.err), hg_in_flight(c.hg), c.peer_eof, c.fds_during - c.fds_after);
	hg_free(c.hg);
	loop_free(c.loop);
	if (c.conn_fd >= 0)
		close(c.conn_fd);
	close(c.listen_fd);
	printf("fds_left=%d\n", count_fds() - c.fds_before);
	return 0;
}

/* ---------------------------------------------------------------- await */

/* The task that awaits the GET; its cleanup after the await is recorded. */
struct getter {
	struct co_task task;
	struct hg *hg;
	struct hg_request req;
	int err;
	bool cleaned_up;
};

static int getter_step(struct co_task *t)
{
	struct getter *g = (struct getter *)t;

	CO_BEGIN(t);
	CO_AWAIT(t, hg_get(t, g->hg, &g->req), &g->err);
	g->cleaned_up = true; /* runs whether the GET ended or was cancelled */
	CO_RETURN(t, g->err);
	CO_END(t);
}

struct await_main {
	struct co_task task;
	struct getter get;
	struct co_wait_for wf;
	long timeout_ms;
	int err;
	int64_t start;
};

static int await_step(struct co_task *t)
{
	struct await_main *m = (struct await_main *)t;
	int err;

	CO_BEGIN(t);
	err = hg_new(&m->get.hg, co_loop(t));
	if (err)
		CO_RETURN(t, err);
	m->get.req.body = xmalloc(BODY_CAP);
	m->get.req.body_cap = BODY_CAP;
	m->start = clk_now_ns();
	co_task_start(co_loop(t), &m->get.task, getter_step, "get");
	CO_AWAIT(t, co_wait_for(t, &m->wf, &m->get.task, m->timeout_ms), &m->err);
	printf("wait_for=%s get=%s cleaned_up=%d in_flight=%zu status=%ld bytes=%zu body=%s "
	       "elapsed_ms=%.1f\n",
	       errname(m->err), errname(m->get.err), m->get.cleaned_up, hg_in_flight(m->get.hg),
	       m->get.req.status, m->get.req.bytes,
	       m->get.req.status == 200 && is_pattern(m->get.req.body, m->get.req.bytes) ? "pattern"
											 : "-",
	       (double)(clk_now_ns() - m->start) / CLK_NS_PER_MS);
	hg_free(m->get.hg);
	free(m->get.req.body);
	CO_RETURN(t, 0);
	CO_END(t);
}

static int scene_await(const char *url, long timeout_ms)
{
	struct await_main m = { .timeout_ms = timeout_ms };
	int fds = count_fds(), err;

	m.get.req.url = url;
	err = co_run(&m.task, await_step);
	if (err)
		die_errno(-err, "co_run");
	printf("fds_left=%d\n", count_fds() - fds);
	return 0;
}

/*
 * The cancel scene again, with a task in hg_get() and co_task_cancel():
 * the listener of the driver's own cancels the task once the request has
 * arrived, and sees the socket close.
 */
struct await_cancel {
	struct co_task task;
	struct getter get;
	int listen_fd, conn_fd;
	size_t got;
	char head[4096];
	int fds_during, fds_after;
	bool peer_eof;
};

static void ac_on_conn(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct await_cancel *c = arg;
	ssize_t n;

	(void)events;
	n = read(fd, c->head + c->got, sizeof c->head - 1 - c->got);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		c->got += (size_t)n;
		c->head[c->got] = '\0';
		if (strstr(c->head, "\r\n\r\n") && !co_task_done(&c->get.task)) {
			c->fds_during = count_fds();
			co_task_cancel(&c->get.task);
			c->fds_after = count_fds();
		}
		return;
	}
	c->peer_eof = n == 0;
	loop_unwatch(loop, fd);
	close(fd);
	c->conn_fd = -1;
}

static void ac_on_accept(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct await_cancel *c = arg;
	int err;

	(void)events;
	c->conn_fd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c->conn_fd < 0)
		die_errno(errno, "accept4");
	loop_unwatch(loop, fd);
	err = loop_watch(loop, c->conn_fd, LOOP_READ, ac_on_conn, c);
	if (err)
		die_errno(-err, "loop_watch");
}

static int await_cancel_step(struct co_task *t)
{
	struct await_cancel *c = (struct await_cancel *)t;
	int err;

	CO_BEGIN(t);
	err = hg_new(&c->get.hg, co_loop(t));
	if (err)
		CO_RETURN(t, err);
	err = loop_watch(co_loop(t), c->listen_fd, LOOP_READ, ac_on_accept, c);
	if (err)
		CO_RETURN(t, err);
	co_task_start(co_loop(t), &c->get.task, getter_step, "get");
	CO_AWAIT(t, co_await(t, &c->get.task.done), &err);
	/* The listener's end-of-file may still be on its way: wait for it. */
	while (c->conn_fd >= 0) {
		CO_AWAIT(t, co_wait_fd(t, c->conn_fd, LOOP_READ), &err);
		ac_on_conn(co_loop(t), c->conn_fd, LOOP_READ, c);
	}
	printf("get=%s cleaned_up=%d in_flight=%zu peer_eof=%d closed_by_cancel=%d ",
	       errname(c->get.err), c->get.cleaned_up, hg_in_flight(c->get.hg), c->peer_eof,
	       c->fds_during - c->fds_after);
	hg_free(c->get.hg);
	CO_RETURN(t, 0);
	CO_END(t);
}

static int scene_await_cancel(void)
{
	struct await_cancel c = { .conn_fd = -1 };
	int fds = count_fds(), port, err;
	char url[64];

	c.listen_fd = listen_loopback(&port);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/never-answered", port);
	c.get.req.url = url;
	err = co_run(&c.task, await_cancel_step);
	if (err)
		die_errno(-err, "co_run");
	close(c.listen_fd);
	printf("fds_left=%d\n", count_fds() - fds);
	return 0;
}

/* --------------------------------------------------------------- closed */

static void on_readable(struct loop *loop, int fd, unsigned events, void *arg)
{
	int *fired = arg;
	char b;

	(void)events;
	if (read(fd, &b, 1) == 1)
		(*fired)++;
	loop_unwatch(loop, fd);
}

/*
 * curl's REMOVE that comes after the socket was closed, and a new socket
 * that gets the same number: the loop must forget the old watch quietly
 * and serve the new one.
 */
static int scene_closed(void)
{
	struct loop *loop = new_loop();
	int sv[2], sv2[2], fired = 0, err;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die_errno(errno, "socketpair");
	err = loop_watch(loop, sv[0], LOOP_READ, on_readable, &fired);
	if (err)
		die_errno(-err, "loop_watch");
	close(sv[0]);
	loop_unwatch(loop, sv[0]);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv2) < 0)
		die_errno(errno, "socketpair");
	err = loop_watch(loop, sv2[0], LOOP_READ, on_readable, &fired);
	if (write(sv2[1], "x", 1) != 1)
		die_errno(errno, "write");
	if (!err)
		err = loop_run(loop);
	printf("reused=%d watch=%s fired=%d backend=%s\n", sv2[0] == sv[0], errname(err), fired,
	       loop_backend_name(loop));
	loop_free(loop);
	close(sv[1]);
	close(sv2[0]);
	close(sv2[1]);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	CURLcode rc;
	int status = 2;

	wb_init(argv[0]);
	/* With CURLOPT_NOSIGNAL, a write to a reset connection must be an
	 * error, not the end of the program. */
	if (sigaction(SIGPIPE, &ignore, NULL) < 0)
		die_errno(errno, "sigaction");
	rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		die("curl_global_init: %s", curl_easy_strerror(rc));
	if (argc >= 5 && strcmp(argv[1], "get") == 0 && strcmp(argv[2], "--timeout-ms") == 0)
		status = scene_get(argc - 4, argv + 4, atol(argv[3]));
	else if (argc >= 3 && strcmp(argv[1], "get") == 0)
		status = scene_get(argc - 2, argv + 2, 5000);
	else if (argc == 4 && strcmp(argv[1], "chain") == 0)
		status = scene_chain(atol(argv[2]), argv[3]);
	else if (argc == 2 && strcmp(argv[1], "cancel") == 0)
		status = scene_cancel();
	else if (argc == 4 && strcmp(argv[1], "await") == 0)
		status = scene_await(argv[2], atol(argv[3]));
	else if (argc == 2 && strcmp(argv[1], "await-cancel") == 0)
		status = scene_await_cancel();
	else if (argc == 2 && strcmp(argv[1], "closed") == 0)
		status = scene_closed();
	else
		fprintf(stderr,
			"usage: %s get [--timeout-ms MS] URL... | chain N URL | cancel | await URL MS | "
			"await-cancel | closed\n",
			argv[0]);
	curl_global_cleanup();
	return status;
}
