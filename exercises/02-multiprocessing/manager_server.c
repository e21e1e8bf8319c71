/*
 * manager_server.c - the manager's server: one process, one thread, one
 * poll() over the listening socket and every client, and a dictionary that
 * only this loop touches.
 *
 * Exercise 02-manager; the lesson it needs and its hints:
 * `build/workbook hint 02-manager`.
 *
 * The loop never blocks on one client: it reads what a client has sent so
 * far, keeps it in that client's buffer, and answers once a whole request is
 * there.  Because one request is answered before the next is looked at,
 * every request is atomic, the increment included, with no lock anywhere.
 * A client is a stranger: whatever it sends, or however it dies, it may
 * cost its own connection, never the dictionary or the other clients.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "manager_impl.h"

/*
 * One connection.  Bytes of the current request arrive into hdr until the
 * header is whole, then into req.data; got counts both.  deadline is when
 * the connection is closed if nothing more arrives: the idle limit between
 * requests, the head limit inside one.
 */
struct client {
	int fd;
	unsigned char hdr[FRAME_HEADER];
	size_t got;
	struct frame req;
	int64_t deadline;
};

struct server {
	const struct manager_opts *o;
	struct mgr_dict dict;
	struct mgr_locks locks;
	struct mgr_reply reply; /* built for each request; its buffer is kept */
	struct client *clients; /* o->max_clients of them */
	size_t n;
	struct pollfd *pfds;   /* the stop fd, the listener, then the clients */
	int spare_fd;	       /* held for the moment none is left: see turn_away() */
	int64_t accept_resume; /* accept nothing until then: see accept_clients() */
};

/* How long the listener is ignored after accept() failed for want of resources. */
#define ACCEPT_PAUSE_MS 100

static int64_t after_ms(long ms)
{
	return clk_now_ns() + (int64_t)ms * CLK_NS_PER_MS;
}

/*
 * Send @r as the reply to request @id.  The socket is blocking with a send
 * timeout (set at accept), so a client that stops reading its replies
 * holds the loop up for at most head_ms, then loses its connection.
 */
static int send_reply(struct client *c, uint32_t id, struct mgr_reply *r)
{
	return mgr_reply_send(c->fd, id, r);
}

/* Tell @c why its connection ends (MGR_NO_ID), and return @code. */
static int last_word(struct client *c, int code)
{
	uint32_t err = (uint32_t)-code;

	frame_send(c->fd, MGR_ERR, MGR_NO_ID, &err, sizeof(err));
	return code;
}

/* INCR: the old value (0 if none) plus the delta, stored as text. */
static int incr(struct mgr_dict *d, const char *key, const unsigned char *arg, size_t arglen,
		struct mgr_reply *r)
{
	struct mgr_entry *e = mgr_dict_find(d, key);
	int64_t old = 0, delta, sum;
	char text[24];
	int rc;

	if (arglen != sizeof(delta))
		return -EINVAL;
	memcpy(&delta, arg, sizeof(delta));
	if (e && (rc = mgr_parse_int64(e->value, e->len, &old)))
		return rc;
	if (__builtin_add_overflow(old, delta, &sum))
		return -ERANGE;
	snprintf(text, sizeof(text), "%lld", (long long)sum);
	rc = mgr_dict_set(d, key, text, strlen(text));
	return rc ? rc : mgr_reply_add(r, &sum, sizeof(sum));
}

/* KEYS: every key with its '\0', in the dictionary's (sorted) order. */
static int keys(struct mgr_dict *d, struct mgr_reply *r)
{
	for (size_t i = 0; i < d->n; i++) {
		int rc = mgr_reply_add(r, d->entries[i].key, strlen(d->entries[i].key) + 1);

		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Carry out one whole request @req on the dictionary and build its reply
 * in @r: MGR_OK with the answer, or the error reply.
 */
static void dispatch(struct mgr_dict *d, const struct frame *req, struct mgr_reply *r)
{
	const unsigned char *arg = NULL;
	const char *key = NULL;
	size_t arglen = 0;
	int rc;

	r->kind = MGR_OK;
	r->len = 0;
	/*
	 * TODO(02-manager): answer the request.  Every kind but MGR_KEYS
	 * carries "key\0argument": split it with mgr_split() (a bad payload
	 * is -EINVAL).  Then, by req->kind:
	 *   MGR_GET     the value (mgr_dict_find, mgr_reply_add), or -ENOENT
	 *   MGR_SET     mgr_dict_set with the argument as the value
	 *   MGR_DELETE  mgr_dict_delete (-ENOENT when there was no key)
	 *   MGR_KEYS    keys() (an empty payload; anything else is -EINVAL)
	 *   MGR_INCR    incr(): read, add and store in this one request
	 *   anything else  -EBADRQC
	 * Every failure becomes the reply: mgr_reply_error(r, rc).  Never
	 * leave a request without a reply: its client waits for one.
	 */
	(void)arg, (void)key, (void)arglen, (void)rc, (void)req, (void)d;
	(void)incr, (void)keys;
	mgr_reply_error(r, -ENOSYS);
}

/*
 * A whole header has arrived: check it against the bounds before a byte of
 * its payload is read or allocated.
 */
static int take_header(struct server *s, struct client *c)
{
	int rc = frame_decode(c->hdr, &c->req, UINT32_MAX);

	if (rc)
		return last_word(c, -EPROTO); /* not our protocol: no id to trust */
	if (c->req.len > s->o->max_frame)
		return last_word(c, -EMSGSIZE);
	c->req.data = malloc((size_t)c->req.len + 1);
	if (!c->req.data)
		return last_word(c, -ENOMEM);
	return 0;
}

/*
 * A whole request has arrived: answer it and get ready for the next.  The
 * locks' requests go to the locks (manager.c), whose waiters are answered
 * later, when they are granted or give up.
 */
static int answer(struct server *s, struct client *c)
{
	struct mgr_reply *r = &s->reply;
	int rc = 0;

	c->req.data[c->req.len] = '\0';
	if (c->req.kind == MGR_LOCK || c->req.kind == MGR_UNLOCK) {
		if (mgr_locks_request(&s->locks, c->fd, &c->req, clk_now_ns(), r) == 0)
			rc = send_reply(c, c->req.id, r);
	} else {
		dispatch(&s->dict, &c->req, r);
		rc = send_reply(c, c->req.id, r);
	}
	if (r->cap > 65536) { /* a large reply's buffer is not kept */
		free(r->buf);
		*r = (struct mgr_reply){ 0 };
	}
	frame_release(&c->req);
	c->got = 0;
	c->deadline = after_ms(s->o->idle_ms);
	return rc;
}

/*
 * @c's socket is readable: take what it has, at most up to the end of the
 * current frame, and answer once the frame is whole.  Returns 0 to keep
 * the client, or a negative errno to close its connection.
 */
static int client_readable(struct server *s, struct client *c)
{
	/*
	 * TODO(02-manager): read the next piece of the request without
	 * blocking.  Until FRAME_HEADER bytes have arrived they go into
	 * c->hdr, then into c->req.data; c->got counts both.  Ask recv() with
	 * MSG_DONTWAIT for no more than the rest of the current frame: a read
	 * may bring any part of it, one byte or all.  On the first byte of a
	 * frame, c->deadline becomes after_ms(s->o->head_ms).  When the header
	 * is whole, take_header() checks it; when the payload is whole,
	 * answer() replies.  recv() returning 0 means the client is gone,
	 * perhaps halfway through a frame: that is -ECONNRESET for it alone.
	 * EAGAIN and EINTR mean "nothing yet": return 0.  A read that got all
	 * it asked for may have left more behind: read on (a header's payload
	 * was most likely sent with it), rather than wait for poll() to say so.
	 */
	(void)take_header, (void)answer;
	(void)s;
	return last_word(c, -ENOSYS);
}

static int open_spare(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * With every descriptor in use, accept() fails with EMFILE while the client
 * waits in the listen queue, so the listener stays readable and a loop that
 * only retried would spin in poll().  The spare descriptor, held for this
 * moment, is given up so that one waiting client can be accepted and told
 * why it is refused; then it is taken back.  Returns 0 when one was turned
 * away, else -errno from accept() (-EAGAIN: nobody was waiting after all).
 */
static int turn_away(struct server *s, int listen_fd)
{
	struct client tmp = { 0 };
	int err = 0;

	if (s->spare_fd < 0 && (s->spare_fd = open_spare()) < 0)
		return -EMFILE;
	close(s->spare_fd);
	tmp.fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (tmp.fd < 0) {
		err = -errno;
	} else {
		/* A new socket's send buffer is empty: this small frame cannot block. */
		last_word(&tmp, -EMFILE);
		close(tmp.fd);
	}
	/* Only another process taking the freed slot (ENFILE) can make this fail. */
	s->spare_fd = open_spare();
	return err;
}

/* Accept every waiting connection: greet it, or refuse it when full. */
static void accept_clients(struct server *s, int listen_fd)
{
	long ms = s->o->head_ms;
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	struct client tmp = { 0 };
	int fd, err;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		err = fd < 0 ? -errno : 0;
		/* 0 after this: one client was turned away, so on to the next. */
		if (err == -EMFILE || err == -ENFILE)
			err = turn_away(s, listen_fd);
		if (fd < 0 && (err == 0 || err == -EINTR || err == -ECONNABORTED))
			continue;
		if (err == -EAGAIN || err == -EWOULDBLOCK)
			return; /* nobody is waiting */
		if (err) {
			/*
			 * Out of memory, or of descriptors with the spare gone
			 * too: the client stays queued and the listener readable.
			 * Look away from it for a moment rather than spin; the
			 * client's own timeout reports it if this lasts.
			 */
			s->accept_resume = after_ms(ACCEPT_PAUSE_MS);
			return;
		}
		tmp.fd = fd;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (s->n == (size_t)s->o->max_clients) {
			last_word(&tmp, -EUSERS);
			close(fd);
			continue;
		}
		if (frame_send(fd, MGR_HELLO, 0, NULL, 0) != 0) {
			close(fd);
			continue;
		}
		s->clients[s->n++] = (struct client){ .fd = fd,
						      .deadline = after_ms(s->o->idle_ms) };
	}
}

/* Close client @i; the last one takes its place. */
static void drop_client(struct server *s, size_t i)
{
	mgr_locks_drop(&s->locks, s->clients[i].fd);
	close(s->clients[i].fd);
	frame_release(&s->clients[i].req);
	s->clients[i] = s->clients[--s->n];
}

/*
 * How long poll() may sleep: until the nearest client deadline or lock
 * waiter's deadline, or forever.
 */
static int poll_timeout(const struct server *s)
{
	int64_t first = mgr_locks_deadline(&s->locks), ms;

	if (s->accept_resume && s->accept_resume < first)
		first = s->accept_resume;

	for (size_t i = 0; i < s->n; i++)
		if (s->clients[i].deadline < first)
			first = s->clients[i].deadline;
	if (first == CLK_NEVER)
		return -1;
	ms = (first - clk_now_ns() + CLK_NS_PER_MS - 1) / CLK_NS_PER_MS;
	return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

static int serve_loop(struct server *s, int listen_fd, int stop_fd)
{
	for (;;) {
		s->pfds[0] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		/* A negative fd is one poll() skips: the listener, while accepts pause. */
		if (s->accept_resume && clk_passed(s->accept_resume))
			s->accept_resume = 0;
		s->pfds[1] = (struct pollfd){ .fd = s->accept_resume ? -1 : listen_fd,
					      .events = POLLIN };
		for (size_t i = 0; i < s->n; i++)
			s->pfds[2 + i] = (struct pollfd){ .fd = s->clients[i].fd,
							  .events = POLLIN };
		if (poll(s->pfds, 2 + s->n, poll_timeout(s)) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (s->pfds[0].revents)
			return 0;
		/*
		 * From the last client down: dropping client i moves the last one
		 * into its place, and that one has had its turn already.
		 */
		for (size_t i = s->n; i-- > 0;) {
			struct client *c = &s->clients[i];

			if (s->pfds[2 + i].revents && client_readable(s, c) < 0)
				drop_client(s, i);
			else if (!clk_passed(c->deadline))
				continue;
			else if (c->got == 0 && mgr_locks_busy(&s->locks, c->fd))
				c->deadline = after_ms(s->o->idle_ms); /* quiet, but in a lock */
			else
				drop_client(s, i);
		}
		mgr_locks_expire(&s->locks, clk_now_ns());
		if (s->pfds[1].revents)
			accept_clients(s, listen_fd);
	}
}

int mgr_serve(int listen_fd, int stop_fd, const struct manager_opts *o)
{
	struct server s = { .o = o, .spare_fd = open_spare() };
	int flags = fcntl(listen_fd, F_GETFL);
	int rc;

	/* Non-blocking, so accept() returns when a queued client gave up. */
	if (s.spare_fd < 0 || flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
		rc = -errno;
		if (s.spare_fd >= 0)
			close(s.spare_fd);
		return rc;
	}
	s.clients = calloc((size_t)o->max_clients, sizeof(*s.clients));
	s.pfds = calloc((size_t)o->max_clients + 2, sizeof(*s.pfds));
	rc = s.clients && s.pfds ? serve_loop(&s, listen_fd, stop_fd) : -ENOMEM;
	while (s.n)
		drop_client(&s, s.n - 1);
	free(s.pfds);
	free(s.clients);
	free(s.reply.buf);
	if (s.spare_fd >= 0)
		close(s.spare_fd);
	mgr_locks_free(&s.locks);
	mgr_dict_free(&s.dict);
	return rc;
}
