/*
 * srv_load.c - many keep-alive clients at once, every reply checked, for
 * the checks of async_server in tests/03-server.bats.
 *
 *   srv_load --port N [--conns C] [--requests R] [--path PATH] [--wait-ms MS]
 *            [--abort-ms MS]
 *
 * It starts C connects to 127.0.0.1:N at once (a burst, as a load
 * generator does), then sends R requests "GET PATH" one after another on
 * each connection, each after the reply to the one before.  A reply
 * counts as ok only if it is "HTTP/1.1 200", keeps the connection open
 * (until the last), and its body is exactly what PATH promises: for
 * /bytes/N, N bytes of the server's pattern; for /delay/MS, "slept\n".
 * Then it prints one line:
 *
 *   ok=REPLIES failed=F connect_max_ms=MS elapsed_ms=MS
 *
 * and, for each failed connection (the first ten), "fail conn=I why=...".
 * A connection not done within --wait-ms fails with why=timeout; the
 * program always ends.  With --abort-ms, every connection still open after
 * that long is reset (a client that gives up and vanishes) and fails with
 * why=aborted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"

#define CONNS_MAX 5000
#define REQUESTS_MAX 1000
#define WAIT_MAX_MS 600000L
#define HEAD_MAX 4096
#define FAILS_SHOWN 10

enum phase { CONNECTING, WRITING, READING_HEAD, READING_BODY, DONE };

struct client {
	int fd;
	enum phase phase;
	long replies;	   /* replies checked so far */
	const char *why;   /* why it failed, or NULL */
	int64_t start_ns;  /* just before connect() */
	double connect_ms; /* from then until the connection was made */
	size_t sent;	   /* bytes of the request sent */
	size_t head_len;   /* bytes of the reply's head received */
	uint64_t body_off; /* bytes of the body received and checked */
	uint64_t body_len;
	char head[HEAD_MAX];
};

struct options {
	long port, conns, requests, wait_ms, abort_ms;
	const char *path;
};

/* What PATH promises: a pattern of @pattern_len bytes, or the text @text. */
struct expect {
	bool pattern;
	uint64_t pattern_len;
	const char *text;
	char request[256];
	size_t request_len;
};

/* The server's pattern: byte i is byte i % 16 of printf("%015x\n", i - i % 16). */
static char pattern_byte(uint64_t i)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t line = i - i % 16;
	unsigned col = (unsigned)(i % 16);

	return col == 15 ? '\n' : hex[(line >> (4 * (14 - col))) & 15];
}

static void usage(void)
{
	printf("usage: %s --port N [--conns C] [--requests R] [--path PATH] [--wait-ms MS]\n"
	       "Open C connections to 127.0.0.1:N at once and send R requests for PATH\n"
	       "on each, one after the other (keep-alive), checking every reply.\n"
	       "  --conns C      connections (default 1, at most %d)\n"
	       "  --requests R   requests per connection (default 1, at most %d)\n"
	       "  --path PATH    /bytes/N (checked byte by byte) or /delay/MS (default /)\n"
	       "  --wait-ms MS   give up on what is not done after MS (default 30000)\n"
	       "  --abort-ms MS  reset every connection still open after MS\n",
	       wb_progname(), CONNS_MAX, REQUESTS_MAX);
}

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'r' },
		{ "path", required_argument, NULL, 'P' },
		{ "wait-ms", required_argument, NULL, 'w' },
		{ "abort-ms", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = arg_next(argc, argv, longopts)) != -1) {
		if (c == 'p')
			opt->port = arg_long("--port", optarg, 1, 65535);
		else if (c == 'c')
			opt->conns = arg_long("--conns", optarg, 1, CONNS_MAX);
		else if (c == 'r')
			opt->requests = arg_long("--requests", optarg, 1, REQUESTS_MAX);
		else if (c == 'P')
			opt->path = optarg;
		else if (c == 'w')
			opt->wait_ms = arg_long("--wait-ms", optarg, 1, WAIT_MAX_MS);
		else if (c == 'a')
			opt->abort_ms = arg_long("--abort-ms", optarg, 1, WAIT_MAX_MS);
		else if (c == 'h') {
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (!opt->port)
		usage_error("--port is required");
	if (opt->path[0] != '/' || strlen(opt->path) > 200 || strpbrk(opt->path, " \r\n"))
		usage_error("--path must be a short /path without spaces");
}

static void make_expect(struct expect *e, const char *path)
{
	char *end;

	e->pattern = strncmp(path, "/bytes/", 7) == 0;
	if (e->pattern) {
		errno = 0;
		e->pattern_len = strtoull(path + 7, &end, 10);
		if (errno || *end || end == path + 7)
			usage_error("--path: /bytes/N needs a number");
	} else {
		e->text = strncmp(path, "/delay/", 7) == 0 ? "slept\n" : NULL;
	}
	e->request_len = (size_t)snprintf(e->request, sizeof(e->request),
					  "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
}

static void fail(struct client *cl, const char *why)
{
	if (!cl->why)
		cl->why = why;
	cl->phase = DONE;
	close(cl->fd);
	cl->fd = -1;
}

/* Reset the connection: a zero linger time makes close() send RST. */
static void abort_client(struct client *cl)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (setsockopt(cl->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		die_errno(errno, "setsockopt(SO_LINGER)");
	fail(cl, "aborted");
}

static void start(struct client *cl, long port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	cl->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (cl->fd < 0)
		die_errno(errno, "socket");
	cl->start_ns = clk_now_ns();
	cl->phase = CONNECTING;
	if (connect(cl->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
		fail(cl, "connect");
}

/* The reply's head is whole: check it and learn the body's length. */
static void take_head(struct client *cl, const struct expect *e, bool last)
{
	const char *cl_hdr = strstr(cl->head, "\r\nContent-Length: ");

	if (strncmp(cl->head, "HTTP/1.1 200 ", 13) != 0)
		return fail(cl, "status");
	if (!cl_hdr)
		return fail(cl, "no-length");
	cl->body_len = strtoull(cl_hdr + 18, NULL, 10);
	if (!last && strstr(cl->head, "\r\nConnection: close"))
		return fail(cl, "closed-early");
	if (e->pattern ? cl->body_len != e->pattern_len
		       : e->text && cl->body_len != strlen(e->text))
		return fail(cl, "length");
	cl->body_off = 0;
	cl->phase = READING_BODY;
}

/* Check body bytes as they come. */
static void take_body(struct client *cl, const struct expect *e, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++, cl->body_off++) {
		char want = e->pattern ? pattern_byte(cl->body_off)
			    : e->text  ? e->text[cl->body_off]
				       : p[i];

		if (p[i] != want)
			return fail(cl, "body");
	}
}

/* A reply is done: the next request, or the end. */
static void reply_done(struct client *cl, const struct options *opt)
{
	cl->replies++;
	cl->head_len = 0;
	if (cl->replies == opt->requests) {
		cl->phase = DONE;
		close(cl->fd);
		cl->fd = -1;
	} else {
		cl->sent = 0;
		cl->phase = WRITING;
	}
}

static void on_readable(struct client *cl, const struct options *opt, const struct expect *e)
{
	char buf[65536];
	ssize_t n = recv(cl->fd, buf, sizeof(buf), 0);
	size_t off = 0;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return fail(cl, n == 0 ? "eof" : "reset");
	while (off < (size_t)n && cl->phase != DONE) {
		if (cl->phase == READING_HEAD) {
			char *end;

			if (cl->head_len == HEAD_MAX - 1)
				return fail(cl, "head-too-long");
			cl->head[cl->head_len++] = buf[off++];
			cl->head[cl->head_len] = '\0';
			end = cl->head_len >= 4 ? cl->head + cl->head_len - 4 : NULL;
			if (end && memcmp(end, "\r\n\r\n", 4) == 0)
				take_head(cl, e, cl->replies + 1 == opt->requests);
		} else if (cl->phase == READING_BODY) {
			uint64_t want = cl->body_len - cl->body_off;
			size_t take = (size_t)n - off < want ? (size_t)n - off : (size_t)want;

			take_body(cl, e, buf + off, take);
			off += take;
		} else {
			return fail(cl, "unasked-bytes");
		}
		if (cl->phase == READING_BODY && cl->body_off == cl->body_len)
			reply_done(cl, opt);
	}
}

static void on_writable(struct client *cl, const struct expect *e)
{
	if (cl->phase == CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(cl->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err)
			return fail(cl, "connect");
		cl->phase = WRITING;
		cl->connect_ms = (double)(clk_now_ns() - cl->start_ns) / CLK_NS_PER_MS;
	}
	while (cl->sent < e->request_len) {
		ssize_t n = send(cl->fd, e->request + cl->sent, e->request_len - cl->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			return fail(cl, "send");
		cl->sent += (size_t)n;
	}
	cl->phase = READING_HEAD;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl); /* fewer connections, then */
	}
}

int main(int argc, char **argv)
{
	struct options opt = { .conns = 1, .requests = 1, .wait_ms = 30000, .path = "/" };
	struct expect e = { 0 };
	struct client *cls;
	struct pollfd *pfds;
	int64_t t0, deadline;
	long open_left, ok = 0, failed = 0, shown = 0;
	double connect_max_ms = 0;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	make_expect(&e, opt.path);
	raise_fd_limit();
	cls = xcalloc((size_t)opt.conns, sizeof(*cls));
	pfds = xcalloc((size_t)opt.conns, sizeof(*pfds));
	t0 = clk_now_ns();
	deadline = t0 + opt.wait_ms * CLK_NS_PER_MS;
	if (opt.abort_ms && opt.abort_ms < opt.wait_ms)
		deadline = t0 + opt.abort_ms * CLK_NS_PER_MS;
	for (long i = 0; i < opt.conns; i++)
		start(&cls[i], opt.port);

	open_left = opt.conns;
	while (open_left > 0 && !clk_passed(deadline)) {
		int ms = (int)((deadline - clk_now_ns()) / CLK_NS_PER_MS) + 1;

		for (long i = 0; i < opt.conns; i++) {
			short ev = cls[i].phase == CONNECTING || cls[i].phase == WRITING ? POLLOUT
											 : POLLIN;

			pfds[i] = (struct pollfd){ .fd = cls[i].fd, .events = ev };
		}
		if (poll(pfds, (nfds_t)opt.conns, ms) < 0 && errno != EINTR)
			die_errno(errno, "poll");
		open_left = 0;
		for (long i = 0; i < opt.conns; i++) {
			struct client *cl = &cls[i];

			if (cl->fd >= 0 && pfds[i].revents & (POLLOUT | POLLERR | POLLHUP) &&
			    (cl->phase == CONNECTING || cl->phase == WRITING))
				on_writable(cl, &e);
			else if (cl->fd >= 0 && pfds[i].revents)
				on_readable(cl, &opt, &e);
			open_left += cl->phase != DONE;
		}
	}

	for (long i = 0; i < opt.conns; i++) {
		struct client *cl = &cls[i];

		if (cl->phase != DONE && opt.abort_ms)
			abort_client(cl);
		else if (cl->phase != DONE)
			fail(cl, "timeout");
		ok += cl->replies;
		if (cl->why) {
			failed++;
			if (shown++ < FAILS_SHOWN)
				printf("fail conn=%ld why=%s replies=%ld\n", i, cl->why,
				       cl->replies);
		} else if (cl->connect_ms > connect_max_ms) {
			connect_max_ms = cl->connect_ms;
		}
	}
	printf("ok=%ld failed=%ld connect_max_ms=%.1f elapsed_ms=%.1f\n", ok, failed,
	       connect_max_ms, (double)(clk_now_ns() - t0) / CLK_NS_PER_MS);
	free(pfds);
	free(cls);
	return 0;
}
