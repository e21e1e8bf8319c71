/*
 * loop_epoll.c - the loop's Linux backend: one epoll instance holds the
 * watched fds, so a wait costs O(ready fds), not O(watched fds).
 *
 * The wait takes its timeout as a timespec (epoll_pwait2, Linux 5.11):
 * epoll_wait's milliseconds would wake a 10 ms timer up to a millisecond
 * late.  On an older kernel it falls back to epoll_wait, rounding the
 * timeout up so that a timer is never run early.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "clock.h"
#include "loop_impl.h"

#define MAX_EVENTS 256 /* more ready fds wait for the next iteration */

struct epoll_state {
	int epfd;
	bool no_pwait2;
	struct epoll_event events[MAX_EVENTS];
};

static int epoll_init(struct loop *loop)
{
	struct epoll_state *st = calloc(1, sizeof *st);

	if (!st)
		return -ENOMEM;
	st->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (st->epfd < 0) {
		int err = -errno;

		free(st);
		return err;
	}
	loop->backend = st;
	return 0;
}

static void epoll_done(struct loop *loop)
{
	struct epoll_state *st = loop->backend;

	close(st->epfd);
	free(st);
}

static int epoll_set(struct loop *loop, int fd, unsigned old_events, unsigned new_events)
{
	struct epoll_state *st = loop->backend;
	struct epoll_event ev = { .data.fd = fd };
	int op;

	if (new_events == LOOP_UNWATCHED)
		op = EPOLL_CTL_DEL;
	else if (old_events == LOOP_UNWATCHED)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (new_events != LOOP_UNWATCHED) {
		if (new_events & LOOP_READ)
			ev.events |= EPOLLIN;
		if (new_events & LOOP_WRITE)
			ev.events |= EPOLLOUT;
	}
	return epoll_ctl(st->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

static int epoll_wait_ns(struct loop *loop, int64_t timeout_ns)
{
	struct epoll_state *st = loop->backend;
	/* loop->fired has room for at least 64 (the first watch table). */
	int max = loop->fired_cap < MAX_EVENTS ? (int)loop->fired_cap : MAX_EVENTS;
	int n = -1;

	if (!st->no_pwait2) {
		struct timespec ts = {
			.tv_sec = timeout_ns / CLK_NS_PER_SEC,
			.tv_nsec = timeout_ns % CLK_NS_PER_SEC,
		};

		n = epoll_pwait2(st->epfd, st->events, max, timeout_ns < 0 ? NULL : &ts, NULL);
		if (n < 0 && errno == ENOSYS)
			st->no_pwait2 = true;
	}
	if (st->no_pwait2) {
		int64_t ms = (timeout_ns + CLK_NS_PER_MS - 1) / CLK_NS_PER_MS;

		n = epoll_wait(st->epfd, st->events, max,
			       timeout_ns < 0 ? -1
			       : ms > 1000000 ? 1000000
					      : (int)ms);
	}
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		uint32_t e = st->events[i].events;
		unsigned ev = 0;

		if (e & EPOLLIN)
			ev |= LOOP_READ;
		if (e & EPOLLOUT)
			ev |= LOOP_WRITE;
		if (e & (EPOLLERR | EPOLLHUP))
			ev |= LOOP_ERROR;
		loop->fired[i].fd = st->events[i].data.fd;
		loop->fired[i].events = ev;
	}
	return n;
}

const struct loop_backend_ops loop_epoll_ops = {
	.name = "epoll",
	.init = epoll_init,
	.done = epoll_done,
	.set = epoll_set,
	.wait = epoll_wait_ns,
};
