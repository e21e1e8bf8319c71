/*
 * loop_poll.c - the loop's portable backend: one poll(2) over an array of
 * every watched fd.  Each wait hands the kernel the whole array, so it
 * costs O(watched fds) where epoll costs O(ready fds); for the few dozen
 * fds of most programs the difference does not show, and poll exists on
 * every POSIX system.
 *
 * The array stays dense: removing an fd moves the last entry into its
 * place, and each watch remembers its index (pidx) so that updates are
 * O(1).  The timeout is a timespec (ppoll), for the same reason as epoll's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "clock.h"
#include "loop_impl.h"

struct poll_state {
	struct pollfd *fds;
	size_t n, cap;
};

static int poll_init(struct loop *loop)
{
	struct poll_state *st = calloc(1, sizeof *st);

	if (!st)
		return -ENOMEM;
	loop->backend = st;
	return 0;
}

static void poll_done(struct loop *loop)
{
	struct poll_state *st = loop->backend;

	free(st->fds);
	free(st);
}

static short poll_events(unsigned events)
{
	return (short)((events & LOOP_READ ? POLLIN : 0) | (events & LOOP_WRITE ? POLLOUT : 0));
}

static int poll_set(struct loop *loop, int fd, unsigned old_events, unsigned new_events)
{
	struct poll_state *st = loop->backend;
	struct loop_watch *w = &loop->watches[fd];

	if (new_events == LOOP_UNWATCHED) {
		struct pollfd last = st->fds[--st->n];

		if (w->pidx != st->n) {
			st->fds[w->pidx] = last;
			loop->watches[last.fd].pidx = w->pidx;
		}
		return 0;
	}
	if (old_events == LOOP_UNWATCHED) {
		if (st->n == st->cap) {
			size_t cap = st->cap ? 2 * st->cap : 64;
			struct pollfd *fds = realloc(st->fds, cap * sizeof *fds);

			if (!fds)
				return -ENOMEM;
			st->fds = fds;
			st->cap = cap;
		}
		w->pidx = st->n++;
		st->fds[w->pidx].fd = fd;
	}
	st->fds[w->pidx].events = poll_events(new_events);
	st->fds[w->pidx].revents = 0;
	return 0;
}

static int poll_wait_ns(struct loop *loop, int64_t timeout_ns)
{
	struct poll_state *st = loop->backend;
	struct timespec ts = {
		.tv_sec = timeout_ns / CLK_NS_PER_SEC,
		.tv_nsec = timeout_ns % CLK_NS_PER_SEC,
	};
	int n = ppoll(st->fds, st->n, timeout_ns < 0 ? NULL : &ts, NULL);
	int nfired = 0;

	if (n < 0)
		return -errno;
	for (size_t i = 0; i < st->n && nfired < n; i++) {
		short r = st->fds[i].revents;
		unsigned ev = 0;

		if (!r)
			continue;
		if (r & POLLIN)
			ev |= LOOP_READ;
		if (r & POLLOUT)
			ev |= LOOP_WRITE;
		if (r & (POLLERR | POLLHUP | POLLNVAL))
			ev |= LOOP_ERROR;
		loop->fired[nfired].fd = st->fds[i].fd;
		loop->fired[nfired].events = ev;
		nfired++;
	}
	return nfired;
}

const struct loop_backend_ops loop_poll_ops = {
	.name = "poll",
	.init = poll_init,
	.done = poll_done,
	.set = poll_set,
	.wait = poll_wait_ns,
};
