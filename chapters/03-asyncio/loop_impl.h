/*
 * loop_impl.h - the loop's private structures and its backend interface,
 * shared by loop.c and the two backends (loop_epoll.c, loop_poll.c).
 * Nothing outside those three files includes it.
 */
#ifndef WB_LOOP_IMPL_H
#define WB_LOOP_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "loop.h"

/* One fd the backend reported ready, and how. */
struct loop_fired {
	int fd;
	unsigned events;
};

/*
 * How a loop waits: the one thing that differs between epoll and poll.
 * set() is told the fd's old and new events, with LOOP_UNWATCHED for "not
 * watched", so that epoll can choose between ADD, MOD and DEL.  wait()
 * sleeps at most @timeout_ns (negative: no limit), fills loop->fired and
 * returns how many it filled, or a negative errno (-EINTR included: the
 * loop retries).
 */
#define LOOP_UNWATCHED (~0u)
struct loop_backend_ops {
	const char *name;
	int (*init)(struct loop *loop);
	void (*done)(struct loop *loop);
	int (*set)(struct loop *loop, int fd, unsigned old_events, unsigned new_events);
	int (*wait)(struct loop *loop, int64_t timeout_ns);
};

extern const struct loop_backend_ops loop_epoll_ops;
extern const struct loop_backend_ops loop_poll_ops;

/* What the loop keeps for a watched fd (watches[] is indexed by fd). */
struct loop_watch {
	loop_io_fn *fn; /* NULL: not watched */
	void *arg;
	unsigned events;
	size_t pidx; /* the poll backend's index of this fd in its array */
};

/* A timer popped as due and waiting its turn in this iteration carries
 * its index in loop->due in slot, with this bit set. */
#define LOOP_TIMER_DUE (SIZE_MAX ^ (SIZE_MAX >> 1))

struct loop {
	const struct loop_backend_ops *ops;
	void *backend; /* the backend's own state */

	struct loop_watch *watches; /* indexed by fd; nwatch_slots of them */
	size_t nwatch_slots;
	size_t nwatched;	  /* watched fds, the wake-up fd excepted */
	struct loop_fired *fired; /* filled by the backend's wait() */
	size_t fired_cap;

	/* Timers: a binary min-heap on (deadline, seq).  due[] has the same
	 * capacity, so collecting the due timers never allocates. */
	struct loop_timer **heap;
	struct loop_timer **due;
	size_t nheap, heap_cap;
	uint64_t next_seq;

	/* Soon calls: circular doubly-linked lists through a sentinel.
	 * soon is the next iteration's; batch is the one being run. */
	struct loop_call soon, batch;

	/* Posts from other threads: a singly-linked queue under post_mu,
	 * moved onto soon by the wake-up fd's callback. */
	pthread_mutex_t post_mu;
	struct loop_call *post_head, *post_tail; /* guarded by post_mu */
	atomic_size_t posts_pending;		 /* posts not yet moved */
	int wake_fd;				 /* an eventfd */

	size_t refs;
	bool stopped;
	int64_t now;
	void *data; /* loop_data(): the layer above's, never read here */
};

#endif
