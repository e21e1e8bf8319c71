/*
 * async_server.c - an HTTP/1.1 server of coroutines on one thread.
 *
 * The guide's "web servers -> asyncio": each connection is one task
 * (co.h) that reads a request, answers it, and reads the next one on the
 * same connection (keep-alive), all on the one thread of an event loop
 * (loop.h).  A task that waits - for a client's bytes, for room to send,
 * for /delay's timer - costs its frame and nothing else, so a thousand
 * clients waiting at once cost a thousand frames, not a thousand threads.
 *
 * A server that waits for its clients can be held by them, so every wait
 * has a limit and every failure has an answer, after which the server
 * carries on serving everyone else:
 *
 *   a head larger than HEAD_MAX                431, then close
 *   a malformed head, or one with a body       400, then close
 *   a head not whole --head-timeout-ms after
 *   its first byte (or after the connect)      408, then close
 *   no new request for --idle-timeout-ms       close, without a word
 *   a reply not read for --idle-timeout-ms     a reset (close, unsent bytes dropped)
 *   more than --max-conns connections          503, then close
 *
 * Endpoints (GET or HEAD): /bytes/N answers N bytes of a known pattern,
 * /delay/MS answers after sleeping MS ms in co_sleep(), / says hello.
 * SIGINT or SIGTERM stops it: every task is cancelled, every connection
 * closed, and a summary printed.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"
#include "http_head.h"
#include "loop.h"

#define HEAD_MAX 8192		      /* the longest request head accepted */
#define BODY_MAX (INT64_C(100) << 20) /* the largest /bytes/N */
#define DELAY_MAX_MS 3600000L	      /* the longest /delay/MS */
#define CHUNK 16384		      /* body bytes generated per send() */
#define WRITE_BUDGET (16 * CHUNK)     /* bytes one task sends before it yields */
#define LINGER_MS 1000		      /* how long a closing connection is drained */
#define ACCEPT_BATCH 256	      /* accepts per wake-up, so tasks get their turn */
#define ACCEPT_PAUSE_MS 100	      /* how long accepting pauses when out of fds */
#define HEAD_TIMEOUT_MS 5000	      /* defaults of the flags */
#define IDLE_TIMEOUT_MS 10000
#define MAX_CONNS 1024
#define TIMEOUT_MAX_MS 3600000L
/* Descriptors kept back: the standard streams, the listener, the signalfd,
 * the loop's eventfd and epoll fd, the port file, a sanitizer's own. */
#define FD_RESERVE 16
/*
 * The listen queue.  A burst of 1,000 connects arrives faster than one
 * thread accepts them; whatever does not fit in the queue is dropped, and
 * the client's kernel retries its SYN only after a full second (then 2 s,
 * 4 s ...).  Python's asyncio listens with a backlog of 100, which is why
 * its server takes over a second to accept such a burst; so would this
 * one: with 100 here, the slowest of 1,000 connects takes 1.04 s, with
 * 4096 a few tens of ms (tests/03-server.bats checks it).  Linux caps the
 * value at net.core.somaxconn (4096 by default since 5.4).
 */
#define LISTEN_BACKLOG 4096

/* The statuses the server counts for its summary, in the order printed. */
static const int counted[] = { 200, 400, 404, 405, 408, 431, 503 };
#define NCOUNTED (sizeof(counted) / sizeof(counted[0]))

struct conn;

struct server {
	struct loop *loop;
	const char *backend; /* the loop's, for the summary */
	int listen_fd, signal_fd;
	bool quiet;
	bool stopping; /* a stop signal came: no more lingering */
	long head_timeout_ms, idle_timeout_ms;
	size_t max_conns;
	size_t nserving, nrefusing; /* open connections of each kind */
	struct conn *conns;	    /* every open connection, for the stop */
	struct loop_timer accept_pause;
	uint64_t accepted, requests, by_status[NCOUNTED];
};

/* A connection's task: the frame of conn_step(). */
struct conn {
	struct co_task task; /* first: the frame starts with its task */
	struct server *srv;
	struct conn *next, *prev; /* in srv->conns */
	struct co_callback finished;
	struct loop_call reap;
	struct loop_timer timer; /* the limit of the current wait */
	int fd;
	bool refused; /* over the cap: answer 503 and go */
	bool idle;    /* waiting for a next request's first byte */
	bool close;   /* close once the reply is sent */
	bool http10;  /* the request was HTTP/1.0 */
	bool reset;   /* close with a reset: the client stopped reading */
	bool waiting; /* in conn_wait(): conn_ready() may wake the task */
	int err;      /* what the last await returned */
	int status;   /* of the reply being sent */
	int parse;    /* what http_head_parse() said */
	int64_t deadline_ns;
	long delay_ms; /* /delay's sleep, 0 if none */
	size_t budget; /* bytes left to send before yielding */
	/* The request: head bytes, then maybe the next request's first ones. */
	size_t in_len;
	char in[HEAD_MAX];
	/* The reply: out[] (head and a short body), then pattern bytes. */
	size_t out_len, out_off;
	uint64_t body_off, body_end;
	char out[CHUNK];
};

/* ---- the body pattern ------------------------------------------------- */

/*
 * Byte i of /bytes/N is byte i % 16 of the line printf("%015x\n", i - i % 16),
 * as in the chapter 01 test server, so a client can check every byte from
 * its offset alone and a body is generated as it is sent.
 */
static void pattern_fill(char *dst, uint64_t off, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char line[16];

	while (len > 0) {
		size_t col = (size_t)(off % 16), n = 16 - col;
		uint64_t v = off - col;

		for (int i = 14; i >= 0; i--, v >>= 4)
			line[i] = hex[v & 15];
		line[15] = '\n';
		if (n > len)
			n = len;
		memcpy(dst, line + col, n);
		dst += n;
		off += n;
		len -= n;
	}
}

/* ---- replies (no I/O here) -------------------------------------------- */

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	}
	return "Unknown";
}

static void count_status(struct server *srv, int status)
{
	srv->requests++;
	for (size_t i = 0; i < NCOUNTED; i++)
		if (counted[i] == status)
			srv->by_status[i]++;
}

/* The Connection field a reply needs, if any. */
static const char *connection_field(const struct conn *c)
{
	if (c->close)
		return "Connection: close\r\n";
	/* HTTP/1.0 closes unless both sides say keep-alive. */
	return c->http10 ? "Connection: keep-alive\r\n" : "";
}

/*
 * Put a reply in @c's buffer: the head, then either @text or @size bytes
 * of the pattern (@text NULL).  @body false (HEAD) sends the head alone.
 */
static void reply(struct conn *c, int status, const char *text, uint64_t size, bool body)
{
	int n;

	if (text)
		size = strlen(text);
	n = snprintf(c->out, sizeof(c->out),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %" PRIu64
		     "\r\n%s%s\r\n%s",
		     status, reason(status), size, status == 405 ? "Allow: GET, HEAD\r\n" : "",
		     connection_field(c), text && body ? text : "");
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->body_off = 0;
	c->body_end = !text && body ? size : 0;
	c->budget = WRITE_BUDGET;
	c->status = status;
}

/* Digits only, in [0, max]: "/bytes/+1" and "/bytes/1x" are not found. */
static bool parse_decimal(const char *s, size_t len, int64_t max, int64_t *out)
{
	int64_t v = 0;

	if (len == 0 || len > 18)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return v <= max;
}

static bool prefixed(const struct http_head *h, const char *prefix)
{
	size_t n = strlen(prefix);

	return h->target_len > n && memcmp(h->target, prefix, n) == 0;
}

/* Decide the reply to a whole, well-formed head; /delay only sets delay_ms. */
static void route(struct conn *c, const struct http_head *h)
{
	bool get = http_head_method_is(h, "GET"), body = !http_head_method_is(h, "HEAD");
	int64_t v;

	c->close = !h->keep_alive;
	c->http10 = h->minor == 0;
	if (h->has_body) {
		/* The server reads no bodies, so it cannot find the next request. */
		c->close = true;
		reply(c, 400, "request bodies are not accepted\n", 0, true);
	} else if (!get && body) {
		reply(c, 405, "GET or HEAD only\n", 0, true);
	} else if (h->target_len == 1 && h->target[0] == '/') {
		reply(c, 200, "async_server: GET /bytes/N or /delay/MS\n", 0, body);
	} else if (prefixed(h, "/bytes/") &&
		   parse_decimal(h->target + 7, h->target_len - 7, BODY_MAX, &v)) {
		reply(c, 200, NULL, (uint64_t)v, body);
	} else if (prefixed(h, "/delay/") &&
		   parse_decimal(h->target + 7, h->target_len - 7, DELAY_MAX_MS, &v)) {
		c->delay_ms = (long)v;
		reply(c, 200, "slept\n", 0, body);
	} else {
		reply(c, 404, "not found: GET /bytes/N or /delay/MS\n", 0, body);
	}
	if (!c->srv->quiet)
		printf("%.*s %.*s -> %d\n", (int)h->method_len, h->method, (int)h->target_len,
		       h->target, c->status);
}

/* The log line of a reply to no request, unless --quiet. */
static void note(const struct conn *c, const char *why)
{
	if (!c->srv->quiet)
		printf("(%s) -> %d\n", why, c->status);
}

/* ---- a connection's waits: the one awaitable call this file adds ------ */

/*
 * Undo conn_wait(): the task waits no more, its timer is stopped.  The fd
 * stays watched for the same events, so that the next wait for them (the
 * next request, usually) costs no system call.  Safe to call twice; the
 * wait is always undone at once (true: a cancel returns -ECANCELED now).
 */
static bool conn_detach(struct co_task *t)
{
	struct conn *c = (struct conn *)t;

	c->waiting = false;
	loop_timer_stop(c->srv->loop, &c->timer);
	return true;
}

static void conn_ready(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;

	(void)events; /* an error shows in the recv() or send() that follows */
	if (!c->waiting) {
		/*
		 * Ready while the task does something else (sleeps in /delay,
		 * say): nobody to tell.  A hang-up or an error is reported even
		 * on a watch that asks for nothing, so only unwatching stops the
		 * loop from calling here on every turn; the next wait watches
		 * again.
		 */
		loop_unwatch(loop, fd);
		return;
	}
	(void)conn_detach(&c->task);
	co_task_wake(&c->task, 0);
}

static void conn_expired(struct loop *loop, struct loop_timer *timer)
{
	struct conn *c = (struct conn *)((char *)timer - offsetof(struct conn, timer));

	(void)loop;
	(void)conn_detach(&c->task);
	co_task_wake(&c->task, -ETIMEDOUT);
}

/*
 * Awaitable: wait until @c's fd is ready for @events, or until
 * @deadline_ns (-ETIMEDOUT).  It is co_wait_fd() with a deadline of its
 * own: co_wait_fd() inside a co_timeout scope would do the same, but a
 * scope's expiry is a cancel, and here one must never be mistaken for the
 * other (a timeout is answered with 408, a stop is not answered at all).
 */
static int conn_wait(struct conn *c, unsigned events, int64_t deadline_ns)
{
	struct loop *loop = c->srv->loop;
	int err = loop_watch(loop, c->fd, events, conn_ready, c);

	if (!err)
		err = loop_timer_start(loop, &c->timer, deadline_ns, conn_expired);
	c->waiting = !err;
	if (!err)
		err = co_task_suspend(&c->task, conn_detach);
	if (err != CO_PENDING)
		(void)conn_detach(&c->task); /* not waiting after all: undo it */
	return err;
}

/* ---- a connection's I/O (never blocks) -------------------------------- */

/* Read what has arrived after the bytes kept: 0, -EAGAIN, -EPIPE at EOF. */
static int conn_recv(struct conn *c)
{
	ssize_t n;

	if (c->in_len == sizeof(c->in))
		return 0; /* full: http_head_parse() says 431 */
	do
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return -EPIPE;
	if (c->idle) {
		/* A new request has begun: its head has head_timeout_ms to arrive. */
		c->idle = false;
		c->deadline_ns = clk_now_ns() + c->srv->head_timeout_ms * CLK_NS_PER_MS;
	}
	c->in_len += (size_t)n;
	return 0;
}

/* Send what the budget allows: 0 when all is sent, -EAGAIN, -EINPROGRESS
 * when the budget ran out first, or -errno. */
static int conn_send(struct conn *c)
{
	while (c->out_off < c->out_len || c->body_off < c->body_end) {
		ssize_t n;

		if (c->out_off == c->out_len) {
			uint64_t left = c->body_end - c->body_off;

			c->out_len = left < sizeof(c->out) ? (size_t)left : sizeof(c->out);
			pattern_fill(c->out, c->body_off, c->out_len);
			c->body_off += c->out_len;
			c->out_off = 0;
		}
		if (c->budget == 0) {
			c->budget = WRITE_BUDGET;
			return -EINPROGRESS;
		}
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		c->out_off += (size_t)n;
		c->budget = (size_t)n > c->budget ? 0 : c->budget - (size_t)n;
	}
	return 0;
}

/* The bytes of the request just served go; a pipelined next one stays. */
static void conn_consume(struct conn *c, size_t size)
{
	memmove(c->in, c->in + size, c->in_len - size);
	c->in_len -= size;
}

static int64_t after_ms(const struct conn *c, long ms)
{
	return loop_now(c->srv->loop) + ms * CLK_NS_PER_MS;
}

/* ---- a connection's task ---------------------------------------------- */

/*
 * The head has been read (c->parse is 1, or why not) or reading it failed
 * (c->err): choose the reply.  False if there is nobody to answer: the
 * client has gone, or stayed idle too long, or the server is stopping.
 */
static bool choose_reply(struct conn *c, const struct http_head *h)
{
	c->delay_ms = 0;
	c->http10 = false;
	if (c->err == -ETIMEDOUT && !c->idle) {
		c->err = 0;
		c->close = true;
		reply(c, 408, "the request took too long to arrive\n", 0, true);
		note(c, "head timeout");
	} else if (c->err) {
		return false;
	} else if (c->parse < 0) {
		c->close = true;
		if (c->parse == -EMSGSIZE)
			reply(c, 431, "request head too large\n", 0, true);
		else
			reply(c, 400, "malformed request\n", 0, true);
		note(c, c->parse == -EMSGSIZE ? "head too large" : "malformed head");
	} else {
		route(c, h);
		conn_consume(c, h->size);
	}
	return true;
}

/*
 * One connection from its first request to its close.  Locals do not
 * survive an await: everything that must lives in the frame (c).
 */
static int conn_step(struct co_task *t)
{
	struct conn *c = (struct conn *)t;
	struct http_head h;
	int rc = 0;

	CO_BEGIN(t);
	c->deadline_ns = after_ms(c, c->srv->head_timeout_ms);
	while (!c->refused) {
		/* Read until the head is whole, malformed or too large. */
		while ((c->parse = http_head_parse(&h, c->in, c->in_len, HEAD_MAX)) == 0) {
			rc = conn_recv(c);
			if (rc == -EAGAIN) {
				CO_AWAIT(t, conn_wait(c, LOOP_READ, c->deadline_ns), &rc);
			}
			if (rc)
				break;
		}
		c->err = c->parse == 0 ? rc : 0;
		if (!choose_reply(c, &h))
			break;
		if (c->delay_ms > 0) {
			CO_AWAIT(t, co_sleep(t, c->delay_ms), &c->err);
			if (c->err)
				break;
		}
		/* Send the reply, yielding when the client is slow to read or
		 * when this task has sent its budget and others want a turn. */
		while ((rc = conn_send(c)) != 0) {
			if (rc == -EAGAIN) {
				CO_AWAIT(t,
					 conn_wait(c, LOOP_WRITE,
						   after_ms(c, c->srv->idle_timeout_ms)),
					 &c->err);
			} else if (rc == -EINPROGRESS) {
				CO_AWAIT(t, co_sleep(t, 0), &c->err);
			} else {
				c->err = rc;
			}
			if (c->err)
				break;
		}
		c->reset = c->err == -ETIMEDOUT;
		if (c->err)
			break;
		count_status(c->srv, c->status);
		if (c->close)
			break;
		c->idle = c->in_len == 0;
		c->deadline_ns = after_ms(c, c->idle ? c->srv->idle_timeout_ms
						     : c->srv->head_timeout_ms);
	}
	if (c->refused) {
		reply(c, 503, "too many connections\n", 0, true);
		note(c, "over the cap");
		/* A short reply fits a fresh socket's buffer. */
		if (conn_send(c) == 0)
			count_status(c->srv, 503);
	}
	/*
	 * A lingering close, after a reply that ends the connection (400,
	 * 503, ...).  Closing a socket with unread bytes in it sends a reset,
	 * and a reset can destroy the reply on its way: the client would see
	 * "connection reset" instead of its 400.  So say we are done
	 * (shutdown), and read what the client still sends until it closes
	 * too, for LINGER_MS at most.  A client that is gone, or does not
	 * read, or a server that is stopping, gets a plain close.
	 */
	if (c->err == 0 && !c->srv->stopping && shutdown(c->fd, SHUT_WR) == 0) {
		c->idle = false; /* the deadline is the linger's, whatever comes */
		c->deadline_ns = after_ms(c, LINGER_MS);
		do {
			c->in_len = 0;
			rc = conn_recv(c);
			if (rc == -EAGAIN) {
				CO_AWAIT(t, conn_wait(c, LOOP_READ, c->deadline_ns), &rc);
			}
		} while (rc == 0);
	}
	CO_RETURN(t, 0);
	CO_END(t);
}

/* ---- connections: open, finish, stop ---------------------------------- */

/* After the task has finished, on the next turn of the loop: free it. */
static void conn_reap(struct loop *loop, struct loop_call *call)
{
	struct conn *c = (struct conn *)((char *)call - offsetof(struct conn, reap));

	(void)loop;
	free(c);
}

/* The task has finished: close its socket and let go of it. */
static void conn_finished(struct co_callback *cb, struct co_future *f)
{
	struct conn *c = cb->arg;
	struct server *srv = c->srv;

	(void)f;
	loop_unwatch(srv->loop, c->fd);
	/*
	 * A plain close() of a socket whose client does not read leaves the
	 * kernel holding the unsent bytes and trying to deliver them, for
	 * minutes.  A zero linger time throws them away and sends a reset.
	 */
	if (c->reset && setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 },
				   sizeof(struct linger)) < 0)
		fprintf(stderr, "%s: setsockopt(SO_LINGER): %s\n", wb_progname(), strerror(errno));
	if (close(c->fd) < 0)
		fprintf(stderr, "%s: close: %s\n", wb_progname(), strerror(errno));
	if (c->refused)
		srv->nrefusing--;
	else
		srv->nserving--;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	/* The library may still be settling the task's future: free it later. */
	loop_call_soon(srv->loop, &c->reap, conn_reap);
}

/* Start a task for a connection just accepted; 0 or -ENOMEM. */
static int conn_open(struct server *srv, int fd, bool refused)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->srv = srv;
	c->fd = fd;
	c->refused = refused;
	c->timer = (struct loop_timer)LOOP_TIMER_INIT;
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	if (refused)
		srv->nrefusing++;
	else
		srv->nserving++;
	co_task_start(srv->loop, &c->task, conn_step, "conn");
	co_future_add(&c->task.done, &c->finished, conn_finished, c);
	return 0;
}

static void accept_resume(struct loop *loop, struct loop_timer *timer);

/* The listener is readable: accept what waits, a batch at a time. */
static void on_accept(struct loop *loop, int lfd, unsigned events, void *arg)
{
	struct server *srv = arg;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), err;
		bool over = srv->nserving >= srv->max_conns;

		if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
			       errno == ECONNABORTED))
			return;
		if (fd < 0) {
			/*
			 * Out of descriptors or memory.  The client stays queued and the
			 * listener readable, so accepting again at once would spin: wait
			 * a moment for connections to close.
			 */
			fprintf(stderr, "%s: accept: %s\n", wb_progname(), strerror(errno));
			(void)loop_watch(loop, lfd, 0, on_accept, srv);
			(void)loop_timer_start(loop, &srv->accept_pause,
					       loop_now(loop) + ACCEPT_PAUSE_MS * CLK_NS_PER_MS,
					       accept_resume);
			return;
		}
		srv->accepted++;
		/* Turned-away clients hold a descriptor while they linger; past as
		 * many again as the cap, there is not even room to say no. */
		if (over && srv->nrefusing >= srv->max_conns) {
			close(fd);
			continue;
		}
		err = conn_open(srv, fd, over);
		if (err) {
			fprintf(stderr, "%s: %s\n", wb_progname(), strerror(-err));
			close(fd);
		}
	}
}

static void accept_resume(struct loop *loop, struct loop_timer *timer)
{
	struct server *srv = (struct server *)((char *)timer -
					       offsetof(struct server, accept_pause));

	if (srv->listen_fd >= 0)
		(void)loop_watch(loop, srv->listen_fd, LOOP_READ, on_accept, srv);
}

/* SIGINT or SIGTERM: stop listening and cancel every connection's task.
 * Each one closes its socket as it finishes; then the loop has nothing
 * left and loop_run() returns. */
static void on_signal(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct server *srv = arg;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) < 0 && errno != EAGAIN)
		fprintf(stderr, "%s: read(signalfd): %s\n", wb_progname(), strerror(errno));
	srv->stopping = true;
	loop_unwatch(loop, srv->signal_fd);
	loop_unwatch(loop, srv->listen_fd);
	loop_timer_stop(loop, &srv->accept_pause);
	close(srv->listen_fd);
	srv->listen_fd = -1;
	for (struct conn *c = srv->conns; c; c = c->next)
		co_task_cancel(&c->task);
}

/* ---- setup ------------------------------------------------------------ */

static int listen_loopback(long port)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int one = 1, fd, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Restarting on a fixed port must not wait out TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Block SIGINT and SIGTERM and receive them as reads on an fd instead, so
 * that a signal is one more event for the loop, handled between tasks.
 * A shell starts a background job with SIGINT ignored, and an ignored
 * signal is discarded before it could be read: the default action is put
 * back first, so that a SIGINT sent on purpose stops the server too.
 */
static int signal_fd_open(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || sigaction(SIGINT, &dfl, NULL) < 0 ||
	    sigaction(SIGTERM, &dfl, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Write to a temporary name, then rename: a reader sees all or nothing. */
static int write_port_file(const char *path, int port)
{
	char tmp[PATH_MAX], text[16];
	int fd, len, err = 0;
	ssize_t n;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	len = snprintf(text, sizeof(text), "%d\n", port);
	n = write(fd, text, (size_t)len);
	if (n != len)
		err = n < 0 ? -errno : -EIO;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp); /* best effort; err is what gets reported */
	return err;
}

/* Tell the world the port, as the chapter 01 test server does: the
 * listening line on stdout, then the port file if asked for. */
static int announce(int listen_fd, const char *port_file, const char **what)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);

	*what = "getsockname";
	if (getsockname(listen_fd, (struct sockaddr *)&addr, &len) < 0)
		return -errno;
	*what = "stdout";
	if (printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port)) < 0 ||
	    fflush(stdout) == EOF)
		return -errno;
	*what = port_file;
	return port_file ? write_port_file(port_file, ntohs(addr.sin_port)) : 0;
}

/*
 * Raise the soft descriptor limit to the hard one and return how many
 * connections it leaves room for: each served connection may be joined by
 * one being turned away, so half of what is left.
 */
static long fd_room(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die_errno(errno, "getrlimit(RLIMIT_NOFILE)");
	if (rl.rlim_cur != rl.rlim_max) {
		struct rlimit raised = { rl.rlim_max, rl.rlim_max };

		/* A container may forbid it; that only means room for fewer. */
		if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
			rl = raised;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		return (INT_MAX - FD_RESERVE) / 2;
	return ((long)rl.rlim_cur - FD_RESERVE) / 2;
}

static void usage(void)
{
	printf("usage: %s [--port N] [--port-file FILE] [--quiet]\n"
	       "       [--head-timeout-ms MS] [--idle-timeout-ms MS] [--max-conns N]\n"
	       "An HTTP/1.1 server on 127.0.0.1: one coroutine per connection, one thread.\n"
	       "  --port N          listen on 127.0.0.1:N (default 0: any free port)\n"
	       "  --port-file FILE  also write the port number to FILE\n"
	       "  --quiet           no line per request\n"
	       "  --head-timeout-ms MS  a request head must be whole MS after its first\n"
	       "                    byte (after the connect, for the first): else 408\n"
	       "                    (default %d)\n"
	       "  --idle-timeout-ms MS  close a connection with no new request, or a\n"
	       "                    reply not read, for MS (default %d)\n"
	       "  --max-conns N     serve N connections at once; answer more with 503\n"
	       "                    (default %d, fewer if the descriptor limit is low)\n"
	       "Endpoints (GET or HEAD, keep-alive): /bytes/N  N bytes (at most %" PRId64 "),\n"
	       "byte i being byte i%%16 of printf(\"%%015x\\n\", i - i%%16); /delay/MS  a\n"
	       "reply after MS ms (at most %ld); /  a greeting.  Timeouts are 1 to %ld ms.\n"
	       "SIGINT or SIGTERM closes every connection and prints a summary.\n",
	       wb_progname(), HEAD_TIMEOUT_MS, IDLE_TIMEOUT_MS, MAX_CONNS, BODY_MAX, DELAY_MAX_MS,
	       TIMEOUT_MAX_MS);
}

struct options {
	long port;
	const char *port_file;
	bool quiet;
	long head_timeout_ms, idle_timeout_ms;
	long max_conns; /* 0: not given */
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "head-timeout-ms", required_argument, NULL, 'H' },
		{ "idle-timeout-ms", required_argument, NULL, 'I' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long room;
	int c;

	while ((c = arg_next(argc, argv, longopts)) != -1) {
		if (c == 'p')
			opt->port = arg_long("--port", optarg, 0, 65535);
		else if (c == 'f')
			opt->port_file = optarg;
		else if (c == 'q')
			opt->quiet = true;
		else if (c == 'H')
			opt->head_timeout_ms = arg_long("--head-timeout-ms", optarg, 1,
							TIMEOUT_MAX_MS);
		else if (c == 'I')
			opt->idle_timeout_ms = arg_long("--idle-timeout-ms", optarg, 1,
							TIMEOUT_MAX_MS);
		else if (c == 'm')
			opt->max_conns = arg_long("--max-conns", optarg, 1, INT_MAX);
		else if (c == 'h') {
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	room = fd_room();
	if (room < 1)
		die("the descriptor limit (ulimit -n) leaves no room for clients");
	if (opt->max_conns > room)
		usage_error(
			"--max-conns: %ld is more than the descriptor limit leaves room for (%ld)",
			opt->max_conns, room);
	if (!opt->max_conns)
		opt->max_conns = room < MAX_CONNS ? room : MAX_CONNS;
}

/* Set up, serve until a stop signal, tear down.  Returns 0 or -errno,
 * with *@what naming the step that failed. */
static int serve(struct server *srv, const struct options *opt, const char **what)
{
	int err;

	*what = "loop_new";
	err = loop_new(&srv->loop, LOOP_DEFAULT);
	if (err == -EINVAL)
		usage_error("WB_LOOP_BACKEND must be epoll or poll");
	if (err)
		return err;
	srv->backend = loop_backend_name(srv->loop);
	*what = "signalfd";
	srv->signal_fd = err = signal_fd_open();
	if (err < 0)
		goto out_free_loop;
	*what = "listen on 127.0.0.1";
	srv->listen_fd = err = listen_loopback(opt->port);
	if (err < 0)
		goto out_close_signal;
	*what = "watch";
	err = loop_watch(srv->loop, srv->signal_fd, LOOP_READ, on_signal, srv);
	if (!err)
		err = loop_watch(srv->loop, srv->listen_fd, LOOP_READ, on_accept, srv);
	if (!err)
		err = announce(srv->listen_fd, opt->port_file, what);
	if (!err) {
		*what = "loop_run";
		err = loop_run(srv->loop);
	}
	/* After a failure, tasks may still hold connections: close them. */
	for (struct conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		loop_unwatch(srv->loop, c->fd);
		close(c->fd);
		free(c);
	}
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
out_close_signal:
	close(srv->signal_fd);
out_free_loop:
	loop_free(srv->loop);
	return err < 0 ? err : 0;
}

int main(int argc, char **argv)
{
	struct options opt = { .head_timeout_ms = HEAD_TIMEOUT_MS,
			       .idle_timeout_ms = IDLE_TIMEOUT_MS };
	struct server srv = { .listen_fd = -1, .signal_fd = -1 };
	const char *what;
	int err;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	srv.quiet = opt.quiet;
	srv.head_timeout_ms = opt.head_timeout_ms;
	srv.idle_timeout_ms = opt.idle_timeout_ms;
	srv.max_conns = (size_t)opt.max_conns;
	srv.accept_pause = (struct loop_timer)LOOP_TIMER_INIT;
	/* Log lines appear as requests are served, even into a file. */
	if (!opt.quiet && setvbuf(stdout, NULL, _IOLBF, 0) != 0)
		die("setvbuf: cannot make stdout line-buffered");
	err = serve(&srv, &opt, &what);
	/* The port could not be announced: the check at exit says why. */
	if (err && strcmp(what, "stdout") == 0)
		exit(1);
	if (err)
		die_errno(-err, "%s", what);
	printf("stopped: backend=%s connections=%" PRIu64 " replies=%" PRIu64, srv.backend,
	       srv.accepted, srv.requests);
	for (size_t i = 0; i < NCOUNTED; i++)
		printf(" status_%d=%" PRIu64, counted[i], srv.by_status[i]);
	printf("\n");
	return 0;
}
