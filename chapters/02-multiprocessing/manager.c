/*
 * manager.c - the manager's process and its proxies: starting and stopping
 * the server, the client's round trip, and the dictionary the server keeps.
 * The server's loop is the exercise manager_server.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "manager_impl.h"
#include "tmpdir.h"

struct manager {
	pid_t pid;
	struct tmpdir *dir;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct manager_opts opts;
};

struct manager_client {
	int fd;
	uint32_t next_id;
	int broken;	    /* 0, or the error that broke the connection */
	long reply_ms;	    /* the limit on each direction of a round trip */
	long rcv_ms;	    /* the receive limit the socket has now */
	unsigned char *out; /* the request being sent, kept for the next */
	size_t out_cap;
};

/* Replies may be as large as a request, plus the keys listing. */
#define MGR_REPLY_MAX (UINT32_MAX / 2)

/* ---------------------------------------------------------------- dictionary */

/* Binary search: the index of @key, or where it would go (*found false). */
static size_t dict_index(const struct mgr_dict *d, const char *key, bool *found)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, d->entries[mid].key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*found = false;
	return lo;
}

struct mgr_entry *mgr_dict_find(struct mgr_dict *d, const char *key)
{
	bool found;
	size_t i = dict_index(d, key, &found);

	return found ? &d->entries[i] : NULL;
}

int mgr_dict_set(struct mgr_dict *d, const char *key, const void *value, size_t len)
{
	bool found;
	size_t i = dict_index(d, key, &found);
	unsigned char *copy = malloc(len + 1);
	struct mgr_entry *e;

	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, value, len);
	copy[len] = '\0';
	if (found) {
		e = &d->entries[i];
		free(e->value);
		e->value = copy;
		e->len = len;
		return 0;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		struct mgr_entry *grown = realloc(d->entries, cap * sizeof(*grown));

		if (!grown)
			goto out_free_copy;
		d->entries = grown;
		d->cap = cap;
	}
	e = &d->entries[i];
	/* The key is copied last, so that a failure leaves the table as it was. */
	char *k = strdup(key);
	if (!k)
		goto out_free_copy;
	memmove(e + 1, e, (d->n - i) * sizeof(*e));
	*e = (struct mgr_entry){ .key = k, .value = copy, .len = len };
	d->n++;
	return 0;

out_free_copy:
	free(copy);
	return -ENOMEM;
}

int mgr_dict_delete(struct mgr_dict *d, const char *key)
{
	bool found;
	size_t i = dict_index(d, key, &found);

	if (!found)
		return -ENOENT;
	free(d->entries[i].key);
	free(d->entries[i].value);
	memmove(&d->entries[i], &d->entries[i + 1], (d->n - i - 1) * sizeof(d->entries[0]));
	d->n--;
	return 0;
}

void mgr_dict_free(struct mgr_dict *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->entries[i].key);
		free(d->entries[i].value);
	}
	free(d->entries);
	*d = (struct mgr_dict){ 0 };
}

int mgr_parse_int64(const unsigned char *s, size_t len, int64_t *out)
{
	bool neg = len > 0 && s[0] == '-';
	size_t i = neg;
	uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

	if (i == len)
		return -EILSEQ;
	for (; i < len; i++) {
		unsigned d = (unsigned)s[i] - '0';

		if (d > 9)
			return -EILSEQ;
		if (v > (limit - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	/* -(INT64_MAX + 1) is representable; negate in unsigned arithmetic. */
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int mgr_split(const struct frame *req, const char **key, const unsigned char **arg, size_t *arglen)
{
	const unsigned char *nul = req->len ? memchr(req->data, '\0', req->len) : NULL;
	size_t klen;

	if (!nul)
		return -EINVAL;
	klen = (size_t)(nul - req->data);
	if (klen == 0 || klen > MANAGER_KEY_MAX)
		return -EINVAL;
	*key = (const char *)req->data;
	*arg = nul + 1;
	*arglen = req->len - klen - 1;
	return 0;
}

int mgr_reply_add(struct mgr_reply *r, const void *data, size_t len)
{
	size_t off = FRAME_HEADER + r->len; /* where these bytes go */

	if (r->cap < off || r->cap - off < len) {
		size_t cap = r->cap ? r->cap : 128;
		unsigned char *grown;

		while (cap < off || cap - off < len)
			cap *= 2;
		grown = realloc(r->buf, cap);
		if (!grown)
			return -ENOMEM;
		r->buf = grown;
		r->cap = cap;
	}
	if (len)
		memcpy(r->buf + off, data, len);
	r->len += len;
	return 0;
}

void mgr_reply_error(struct mgr_reply *r, int code)
{
	uint32_t c = (uint32_t)-code;

	r->kind = MGR_ERR;
	r->len = 0;
	/*
	 * Out of memory even for four bytes, the reply goes out empty, and
	 * the client reports a malformed reply instead of waiting forever.
	 */
	if (mgr_reply_add(r, &c, sizeof(c)) != 0)
		r->len = 0;
}

/* Send all @len bytes of @p, however many calls that takes. */
static int send_whole(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int mgr_reply_send(int fd, uint32_t id, struct mgr_reply *r)
{
	unsigned char hdr[FRAME_HEADER];

	if (r->len > UINT32_MAX)
		return -EMSGSIZE;
	if (!r->buf) { /* nothing was added: the header is the whole frame */
		frame_encode(hdr, r->kind, id, 0);
		return send_whole(fd, hdr, sizeof(hdr));
	}
	frame_encode(r->buf, r->kind, id, (uint32_t)r->len);
	return send_whole(fd, r->buf, FRAME_HEADER + r->len);
}

/* ---------------------------------------------------------------- locks */

/* A connection waiting for a lock: its request's id, and when it gives up. */
struct mgr_waiter {
	int fd;
	uint32_t id;
	int64_t deadline;
};

struct mgr_lock {
	char *name;
	int holder;		  /* the holding connection */
	struct mgr_waiter *queue; /* the waiters, in the order they asked */
	size_t n, cap;
};

/*
 * Tell waiter @w how its request ended: granted (0) or not (@code).  A
 * send that fails means the waiter is gone; the loop sees its connection
 * close and drops it, which passes the lock on again.
 */
static void lock_answer(const struct mgr_waiter *w, int code)
{
	struct mgr_reply r = { .kind = MGR_OK };

	if (code)
		mgr_reply_error(&r, code);
	mgr_reply_send(w->fd, w->id, &r);
	free(r.buf);
}

static struct mgr_lock *lock_find(const struct mgr_locks *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

/* Remove waiter @k from @lk's queue, keeping the order of the others. */
static void lock_unqueue(struct mgr_lock *lk, size_t k)
{
	memmove(&lk->queue[k], &lk->queue[k + 1], (lk->n - k - 1) * sizeof(lk->queue[0]));
	lk->n--;
}

/*
 * The holder of lock @i lets go: the first waiter becomes the holder and
 * gets its reply, or, with no one waiting, the lock ceases to exist.
 */
static void lock_release(struct mgr_locks *l, size_t i)
{
	struct mgr_lock *lk = &l->v[i];

	if (lk->n) {
		struct mgr_waiter first = lk->queue[0];

		lock_unqueue(lk, 0);
		lk->holder = first.fd;
		lock_answer(&first, 0);
		return;
	}
	free(lk->name);
	free(lk->queue);
	l->v[i] = l->v[--l->n];
}

/* A lock held by @fd, made on first use.  NULL when out of memory. */
static struct mgr_lock *lock_new(struct mgr_locks *l, const char *name, int fd)
{
	char *copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct mgr_lock *grown = realloc(l->v, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		l->v = grown;
		l->cap = cap;
	}
	copy = strdup(name);
	if (!copy)
		return NULL;
	l->v[l->n] = (struct mgr_lock){ .name = copy, .holder = fd };
	return &l->v[l->n++];
}

static int lock_enqueue(struct mgr_lock *lk, struct mgr_waiter w)
{
	if (lk->n == lk->cap) {
		size_t cap = lk->cap ? 2 * lk->cap : 4;
		struct mgr_waiter *grown = realloc(lk->queue, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		lk->queue = grown;
		lk->cap = cap;
	}
	lk->queue[lk->n++] = w;
	return 0;
}

static bool lock_waits(const struct mgr_lock *lk, int fd)
{
	for (size_t k = 0; k < lk->n; k++)
		if (lk->queue[k].fd == fd)
			return true;
	return false;
}

/* MGR_LOCK: granted now (0), queued (1), or refused (a negative errno). */
static int lock_acquire(struct mgr_locks *l, int fd, const struct frame *req, int64_t now,
			const char *name, const unsigned char *arg, size_t arglen)
{
	struct mgr_lock *lk = lock_find(l, name);
	int64_t ms;

	if (arglen != sizeof(ms))
		return -EINVAL;
	memcpy(&ms, arg, sizeof(ms));
	if (ms < 0)
		return -EINVAL;
	if (!lk)
		return lock_new(l, name, fd) ? 0 : -ENOMEM;
	if (lk->holder == fd || lock_waits(lk, fd))
		return -EDEADLK; /* not reentrant: it would wait for itself */
	if (ms == 0)
		return -ETIMEDOUT; /* a try-lock that found it taken */
	if (ms > (CLK_NEVER - now) / CLK_NS_PER_MS)
		ms = (CLK_NEVER - now) / CLK_NS_PER_MS;
	struct mgr_waiter w = { .fd = fd, .id = req->id, .deadline = now + ms * CLK_NS_PER_MS };
	return lock_enqueue(lk, w) ? -ENOMEM : 1;
}

int mgr_locks_request(struct mgr_locks *l, int fd, const struct frame *req, int64_t now,
		      struct mgr_reply *r)
{
	const unsigned char *arg;
	const char *name;
	size_t arglen;
	int rc = mgr_split(req, &name, &arg, &arglen);

	r->kind = MGR_OK;
	r->len = 0;
	if (rc == 0 && req->kind == MGR_LOCK) {
		rc = lock_acquire(l, fd, req, now, name, arg, arglen);
		if (rc == 1)
			return 1;
	} else if (rc == 0) {
		struct mgr_lock *lk = lock_find(l, name);

		if (arglen)
			rc = -EINVAL;
		else if (!lk || lk->holder != fd)
			rc = -EPERM; /* only the holder may unlock */
		else
			lock_release(l, (size_t)(lk - l->v));
	}
	if (rc)
		mgr_reply_error(r, rc);
	return 0;
}

void mgr_locks_drop(struct mgr_locks *l, int fd)
{
	/* From the end: a released lock with no waiter takes the last one's place. */
	for (size_t i = l->n; i-- > 0;) {
		struct mgr_lock *lk = &l->v[i];

		for (size_t k = lk->n; k-- > 0;)
			if (lk->queue[k].fd == fd)
				lock_unqueue(lk, k);
		if (lk->holder == fd)
			lock_release(l, i);
	}
}

void mgr_locks_expire(struct mgr_locks *l, int64_t now)
{
	for (size_t i = 0; i < l->n; i++) {
		struct mgr_lock *lk = &l->v[i];

		for (size_t k = lk->n; k-- > 0;) {
			if (lk->queue[k].deadline <= now) {
				struct mgr_waiter w = lk->queue[k];

				lock_unqueue(lk, k);
				lock_answer(&w, -ETIMEDOUT);
			}
		}
	}
}

int64_t mgr_locks_deadline(const struct mgr_locks *l)
{
	int64_t first = CLK_NEVER;

	for (size_t i = 0; i < l->n; i++)
		for (size_t k = 0; k < l->v[i].n; k++)
			if (l->v[i].queue[k].deadline < first)
				first = l->v[i].queue[k].deadline;
	return first;
}

bool mgr_locks_busy(const struct mgr_locks *l, int fd)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].holder == fd || lock_waits(&l->v[i], fd))
			return true;
	return false;
}

void mgr_locks_free(struct mgr_locks *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].queue);
	}
	free(l->v);
	*l = (struct mgr_locks){ 0 };
}

/* ---------------------------------------------------------------- the process */

/*
 * The server side of the fork.  It keeps only the listener: another
 * module's pipes or sockets held open here would hide their peers' exit.
 * SIGINT and SIGTERM are read from a signalfd, so a stop always lands
 * between two requests and the server leaves through one door.
 */
static noreturn void server_main(int listen_fd, pid_t parent, const struct manager_opts *o)
{
	sigset_t stop;
	int stop_fd, rc = 0;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	/* The parent's death sends SIGTERM; it may have died before this line. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(1);
	if (listen_fd > 3)
		close_range(3, (unsigned)listen_fd - 1, 0);
	close_range((unsigned)listen_fd + 1, ~0u, 0);
	stop_fd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (stop_fd < 0)
		rc = -errno;
	else
		rc = mgr_serve(listen_fd, stop_fd, o);
	if (rc < 0) {
		fprintf(stderr, "%s: manager server: %s\n", wb_progname(), manager_strerror(rc));
	}
	/*
	 * _exit: the atexit handlers are the parent's (its stdout check, its
	 * temporary directory), and its buffered output is not ours to print.
	 */
	_exit(rc < 0);
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 128) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int manager_start(struct manager **out, const struct manager_opts *opts)
{
	struct manager_opts o = opts ? *opts : (struct manager_opts){ 0 };
	struct manager *m;
	int lfd, rc;

	*out = NULL;
	if (o.max_clients < 0 || o.idle_ms < 0 || o.head_ms < 0 || o.reply_ms < 0)
		return -EINVAL;
	o.max_frame = o.max_frame ? o.max_frame : MANAGER_MAX_FRAME;
	o.max_clients = o.max_clients ? o.max_clients : MANAGER_MAX_CLIENTS;
	o.idle_ms = o.idle_ms ? o.idle_ms : MANAGER_IDLE_MS;
	o.head_ms = o.head_ms ? o.head_ms : MANAGER_HEAD_MS;
	o.reply_ms = o.reply_ms ? o.reply_ms : MANAGER_REPLY_MS;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->opts = o;
	rc = tmpdir_new(&m->dir, "wb-manager");
	if (rc)
		goto out_free;
	rc = tmpdir_join(m->dir, "socket", m->path, sizeof(m->path));
	if (rc)
		goto out_free_dir;
	lfd = listen_on(m->path);
	if (lfd < 0) {
		rc = lfd;
		goto out_free_dir;
	}
	/*
	 * The socket listens before the fork, so a client may connect as soon
	 * as this returns: the kernel queues it until the server accepts.
	 */
	pid_t parent = getpid();
	m->pid = fork();
	if (m->pid < 0) {
		rc = -errno;
		close(lfd);
		goto out_free_dir;
	}
	if (m->pid == 0)
		server_main(lfd, parent, &m->opts);
	close(lfd);
	*out = m;
	return 0;

out_free_dir:
	tmpdir_free(m->dir);
out_free:
	free(m);
	return rc;
}

pid_t manager_pid(const struct manager *m)
{
	return m->pid;
}

const char *manager_path(const struct manager *m)
{
	return m->path;
}

int manager_shutdown(struct manager *m, int *wstatus)
{
	int status = 0, rc = 0;

	if (!m)
		return -EINVAL;
	kill(m->pid, SIGTERM);
	while (waitpid(m->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	if (wstatus)
		*wstatus = status;
	tmpdir_free(m->dir);
	free(m);
	return rc;
}

/* ---------------------------------------------------------------- the proxy */

/* Both directions of @fd give up after @ms: a lost server is an error. */
static int set_timeouts(int fd, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return -errno;
	return 0;
}

/* A transport error in the words of the manager: what the caller can act on. */
static int transport_error(int rc)
{
	if (rc == -EAGAIN || rc == -EWOULDBLOCK)
		return -ETIMEDOUT;
	if (rc == 0 || rc == -EPIPE)
		return -ECONNRESET; /* the server closed the connection */
	return rc;
}

/* The code carried by an MGR_ERR frame, as a negative errno. */
static int error_of(const struct frame *f)
{
	uint32_t code;

	if (f->len != sizeof(code))
		return -EPROTO;
	memcpy(&code, f->data, sizeof(code));
	return code > 0 && code < 4096 ? -(int)code : -EPROTO;
}

int manager_connect(const struct manager *m, struct manager_client **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct manager_client *c;
	struct frame hello;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->reply_ms = c->rcv_ms = m->opts.reply_ms;
	c->next_id = 1;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = -errno;
		goto out_free;
	}
	rc = set_timeouts(c->fd, c->reply_ms);
	if (rc)
		goto out_close;
	strcpy(addr.sun_path, m->path);
	while (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		if (errno != EINTR) {
			rc = -errno;
			goto out_close;
		}
	}
	/* The server greets each client it accepts, or says why it will not. */
	rc = frame_recv(c->fd, &hello, 64);
	if (rc <= 0) {
		rc = transport_error(rc);
		goto out_close;
	}
	rc = hello.kind == MGR_HELLO ? 0 : hello.kind == MGR_ERR ? error_of(&hello) : -EPROTO;
	frame_release(&hello);
	if (rc)
		goto out_close;
	*out = c;
	return 0;

out_close:
	close(c->fd);
out_free:
	free(c);
	return rc;
}

void manager_close(struct manager_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->out);
	free(c);
}

static int check_key(const char *key)
{
	size_t len = key ? strnlen(key, MANAGER_KEY_MAX + 1) : 0;

	return len == 0 || len > MANAGER_KEY_MAX ? -EINVAL : 0;
}

/*
 * Make @c's receive limit @ms, if it is not already: a lock's request
 * waits for its grant longer than any other waits for its reply.
 */
static int set_rcv_ms(struct manager_client *c, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (ms == c->rcv_ms)
		return 0;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		return -errno;
	c->rcv_ms = ms;
	return 0;
}

/*
 * Receive the reply to the request just sent into *@f: as frame_recv(),
 * but a small reply, the usual one, arrives in one recv() with its header.
 * Only one request is ever unanswered, so no byte of a later frame can be
 * read by mistake; a reply longer than its header says is broken.
 */
static int recv_reply(int fd, struct frame *f)
{
	unsigned char first[FRAME_HEADER + 240];
	size_t got = 0, have;
	int rc;

	*f = (struct frame){ 0 };
	while (got < FRAME_HEADER) {
		ssize_t n = recv(fd, first + got, sizeof(first) - got, 0);

		if (n == 0)
			return got ? -EPROTO : 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	rc = frame_decode(first, f, MGR_REPLY_MAX);
	if (rc)
		return rc;
	have = got - FRAME_HEADER;
	if (have > f->len)
		return -EPROTO;
	if (f->len == 0)
		return 1;
	f->data = malloc((size_t)f->len + 1);
	if (!f->data)
		return -ENOMEM;
	memcpy(f->data, first + FRAME_HEADER, have);
	while (have < f->len) {
		ssize_t n = recv(fd, f->data + have, f->len - have, 0);

		if (n <= 0 && !(n < 0 && errno == EINTR)) {
			rc = n == 0 ? -EPROTO : -errno;
			frame_release(f);
			return rc;
		}
		if (n > 0)
			have += (size_t)n;
	}
	f->data[f->len] = '\0';
	return 1;
}

/*
 * One round trip: send request @kind with payload "key\0" @arg (no payload
 * when @key is NULL) and wait for its reply, up to @wait_ms more than the
 * reply timeout.  Returns 0 and an MGR_OK reply in *@reply (the caller
 * releases it), the server's error code, or a transport error, which
 * breaks the proxy for good: after a timeout the late reply could still
 * arrive and be taken for the next one's.
 *
 * The request leaves in one send() and its reply comes back, usually, in
 * one recv(): a round trip is two system calls here and a wake-up on each
 * side, which is most of what it costs.
 */
static int round_trip(struct manager_client *c, uint32_t kind, const char *key, const void *arg,
		      size_t arglen, long wait_ms, struct frame *reply)
{
	size_t klen = key ? strlen(key) + 1 : 0, need = FRAME_HEADER + klen + arglen;
	uint32_t id = c->next_id++;
	int rc;

	if (c->next_id == MGR_NO_ID) /* that id is the server's, for no request */
		c->next_id = 1;
	*reply = (struct frame){ 0 };
	if (c->broken)
		return c->broken;
	if (klen + arglen > UINT32_MAX)
		return -EMSGSIZE;
	if (need > c->out_cap) {
		unsigned char *grown = realloc(c->out, need);

		if (!grown)
			return -ENOMEM;
		c->out = grown;
		c->out_cap = need;
	}
	frame_encode(c->out, kind, id, (uint32_t)(klen + arglen));
	if (klen)
		memcpy(c->out + FRAME_HEADER, key, klen);
	if (arglen)
		memcpy(c->out + FRAME_HEADER + klen, arg, arglen);
	rc = set_rcv_ms(c, wait_ms > LONG_MAX - c->reply_ms ? LONG_MAX : c->reply_ms + wait_ms);
	if (rc == 0)
		rc = send_whole(c->fd, c->out, need);
	if (rc == 0)
		rc = recv_reply(c->fd, reply);
	if (rc <= 0) {
		c->broken = transport_error(rc);
		return c->broken;
	}
	if (reply->kind == MGR_ERR && reply->id == MGR_NO_ID) {
		/* The server's last word: it closes the connection after it. */
		rc = c->broken = error_of(reply);
	} else if (reply->id != id || (reply->kind != MGR_OK && reply->kind != MGR_ERR)) {
		rc = c->broken = -EPROTO;
	} else if (reply->kind == MGR_OK) {
		return 0;
	} else {
		rc = error_of(reply);
	}
	frame_release(reply);
	return rc;
}

int manager_get(struct manager_client *c, const char *key, char **value, size_t *len)
{
	struct frame r;
	int rc;

	*value = NULL;
	*len = 0;
	if ((rc = check_key(key)))
		return rc;
	rc = round_trip(c, MGR_GET, key, NULL, 0, 0, &r);
	if (rc)
		return rc;
	if (!r.data) {
		/* frame_recv gives no buffer for an empty payload; a value is one. */
		r.data = calloc(1, 1);
		if (!r.data)
			return -ENOMEM;
	}
	*value = (char *)r.data;
	*len = r.len;
	return 0;
}

int manager_set(struct manager_client *c, const char *key, const void *value, size_t len)
{
	struct frame r;
	int rc;

	if ((rc = check_key(key)))
		return rc;
	rc = round_trip(c, MGR_SET, key, value, len, 0, &r);
	frame_release(&r);
	return rc;
}

int manager_delete(struct manager_client *c, const char *key)
{
	struct frame r;
	int rc;

	if ((rc = check_key(key)))
		return rc;
	rc = round_trip(c, MGR_DELETE, key, NULL, 0, 0, &r);
	frame_release(&r);
	return rc;
}

void manager_keys_free(char **keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
}

int manager_keys(struct manager_client *c, char ***keys, size_t *n)
{
	struct frame r;
	size_t count = 0, k = 0;
	char **out;
	int rc;

	*keys = NULL;
	*n = 0;
	rc = round_trip(c, MGR_KEYS, NULL, NULL, 0, 0, &r);
	if (rc)
		return rc;
	for (size_t i = 0; i < r.len; i++)
		count += r.data[i] == '\0';
	if (r.len && r.data[r.len - 1] != '\0') {
		rc = -EPROTO;
		goto out_release;
	}
	out = calloc(count ? count : 1, sizeof(*out));
	if (!out) {
		rc = -ENOMEM;
		goto out_release;
	}
	for (size_t i = 0; i < r.len; i += strlen((char *)r.data + i) + 1) {
		out[k] = strdup((char *)r.data + i);
		if (!out[k]) {
			manager_keys_free(out, k);
			rc = -ENOMEM;
			goto out_release;
		}
		k++;
	}
	*keys = out;
	*n = count;
out_release:
	frame_release(&r);
	return rc;
}

int manager_incr(struct manager_client *c, const char *key, int64_t delta, int64_t *now)
{
	struct frame r;
	int rc;

	if ((rc = check_key(key)))
		return rc;
	rc = round_trip(c, MGR_INCR, key, &delta, sizeof(delta), 0, &r);
	if (rc)
		return rc;
	if (r.len != sizeof(int64_t))
		rc = -EPROTO;
	else if (now)
		memcpy(now, r.data, sizeof(*now));
	frame_release(&r);
	return rc;
}

int manager_lock(struct manager_client *c, const char *name, long timeout_ms)
{
	int64_t ms = timeout_ms;
	struct frame r;
	int rc;

	if ((rc = check_key(name)))
		return rc;
	if (timeout_ms < 0)
		return -EINVAL;
	rc = round_trip(c, MGR_LOCK, name, &ms, sizeof(ms), timeout_ms, &r);
	frame_release(&r);
	return rc;
}

int manager_unlock(struct manager_client *c, const char *name)
{
	struct frame r;
	int rc;

	if ((rc = check_key(name)))
		return rc;
	rc = round_trip(c, MGR_UNLOCK, name, NULL, 0, 0, &r);
	frame_release(&r);
	return rc;
}

const char *manager_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
	case -ENOENT:
		return "no such key";
	case -EINVAL:
		return "bad request: an empty key, a key over 255 bytes, or a malformed payload";
	case -EBADRQC:
		return "the manager does not know this request";
	case -EILSEQ:
		return "the value is not a decimal integer";
	case -ERANGE:
		return "the counter would overflow";
	case -EMSGSIZE:
		return "request too large for the manager";
	case -EPROTO:
		return "broken frame: the peer does not speak the manager's protocol";
	case -EUSERS:
		return "the manager already serves its maximum number of clients";
	case -ETIMEDOUT:
		return "timed out: no reply, or no lock, in time";
	case -EDEADLK:
		return "this proxy already holds or awaits that lock";
	case -EPERM:
		return "unlock of a lock this proxy does not hold";
	case -ECONNRESET:
	case -ECONNREFUSED:
		return "the manager is gone";
	case -ENOSYS:
		return "not implemented yet";
	default:
		return code < 0 ? strerror(-code) : "unknown error";
	}
}
