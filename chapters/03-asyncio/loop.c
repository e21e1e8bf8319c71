/*
 * loop.c - the event loop: fd watches, a timer heap, soon calls and posts
 * around one backend's wait.  loop.h has the contract, loop_impl.h the
 * structures, loop_epoll.c and loop_poll.c the two ways to wait.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "check.h"
#include "clock.h"
#include "loop_impl.h"

/* ------------------------------------------------------------ soon calls */

static void list_init(struct loop_call *head)
{
	head->next = head->prev = head;
}

static bool list_empty(const struct loop_call *head)
{
	return head->next == head;
}

static void list_unlink(struct loop_call *call)
{
	call->prev->next = call->next;
	call->next->prev = call->prev;
	call->next = call->prev = NULL;
}

void loop_call_soon(struct loop *loop, struct loop_call *call, loop_call_fn *fn)
{
	if (call->prev)
		return; /* already queued: it runs once */
	call->fn = fn;
	call->prev = loop->soon.prev;
	call->next = &loop->soon;
	loop->soon.prev->next = call;
	loop->soon.prev = call;
}

void loop_call_cancel(struct loop *loop, struct loop_call *call)
{
	(void)loop;
	if (call->prev)
		list_unlink(call);
}

/* Run the calls queued before this step, FIFO.  The batch is a list of the
 * loop's own, not a local one, so that a callback may cancel a call of the
 * batch that has not run yet: unlinking works on whichever list holds it. */
static void run_soon(struct loop *loop)
{
	if (list_empty(&loop->soon))
		return;
	loop->batch.next = loop->soon.next;
	loop->batch.prev = loop->soon.prev;
	loop->batch.next->prev = &loop->batch;
	loop->batch.prev->next = &loop->batch;
	list_init(&loop->soon);

	while (!list_empty(&loop->batch)) {
		struct loop_call *call = loop->batch.next;

		list_unlink(call);
		call->fn(loop, call);
	}
}

/* ---------------------------------------------------------------- posts */

void loop_post(struct loop *loop, struct loop_call *call, loop_call_fn *fn)
{
	uint64_t one = 1;
	int err = 0;

	call->fn = fn;
	call->next = NULL;
	pthread_mutex_lock(&loop->post_mu);
	if (loop->post_tail)
		loop->post_tail->next = call;
	else
		loop->post_head = call;
	loop->post_tail = call;
	atomic_fetch_add(&loop->posts_pending, 1);
	/*
	 * The write stays under the lock.  A loop woken by an earlier post
	 * may take this call as soon as the lock is free, run it, find no
	 * work left and close the eventfd: written after the unlock, this
	 * write could meet a closed descriptor, or another file that took
	 * its number.  The counter saturating (EAGAIN) still leaves the fd
	 * readable; any other failure would be a bug in how the fd was made.
	 */
	if (write(loop->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
		err = errno;
	pthread_mutex_unlock(&loop->post_mu);
	if (err)
		die_errno(err, "loop_post: write to the wake-up eventfd");
}

/* The wake-up fd is readable: reset it, then move the posts onto the soon
 * queue, in the order they were posted. */
static void take_posts(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct loop_call *call;
	uint64_t count;

	(void)events;
	(void)arg;
	if (read(fd, &count, sizeof count) < 0 && errno != EAGAIN)
		die_errno(errno, "loop: read from the wake-up eventfd");

	pthread_mutex_lock(&loop->post_mu);
	call = loop->post_head;
	loop->post_head = loop->post_tail = NULL;
	pthread_mutex_unlock(&loop->post_mu);

	while (call) {
		struct loop_call *next = call->next;

		call->next = call->prev = NULL;
		loop_call_soon(loop, call, call->fn);
		atomic_fetch_sub(&loop->posts_pending, 1);
		call = next;
	}
}

void loop_ref(struct loop *loop)
{
	loop->refs++;
}

void loop_unref(struct loop *loop)
{
	if (loop->refs == 0)
		die("loop_unref: more unrefs than refs");
	loop->refs--;
}

/* --------------------------------------------------------------- timers */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_put(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->slot = i;
}

static void sift_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, loop->heap[parent]))
			break;
		heap_put(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_put(loop, i, t);
}

static void sift_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap &&
		    timer_before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!timer_before(loop->heap[child], t))
			break;
		heap_put(loop, i, loop->heap[child]);
		i = child;
	}
	heap_put(loop, i, t);
}

/* Take the timer at heap index @i out of the heap. */
static void heap_remove(struct loop *loop, size_t i)
{
	struct loop_timer *last = loop->heap[--loop->nheap];

	loop->heap[i]->slot = LOOP_TIMER_IDLE;
	if (i == loop->nheap)
		return;
	heap_put(loop, i, last);
	sift_up(loop, i);
	sift_down(loop, last->slot);
}

static int heap_grow(struct loop *loop)
{
	size_t cap = loop->heap_cap ? 2 * loop->heap_cap : 64;
	struct loop_timer **heap, **due;

	heap = realloc(loop->heap, cap * sizeof *heap);
	if (!heap)
		return -ENOMEM;
	loop->heap = heap;
	due = realloc(loop->due, cap * sizeof *due);
	if (!due)
		return -ENOMEM;
	loop->due = due;
	loop->heap_cap = cap;
	return 0;
}

void loop_timer_stop(struct loop *loop, struct loop_timer *timer)
{
	if (timer->slot == LOOP_TIMER_IDLE)
		return;
	if (timer->slot & LOOP_TIMER_DUE) {
		/* Popped as due but not run yet: strike it from the list. */
		loop->due[timer->slot & ~LOOP_TIMER_DUE] = NULL;
		timer->slot = LOOP_TIMER_IDLE;
		return;
	}
	heap_remove(loop, timer->slot);
}

int loop_timer_start(struct loop *loop, struct loop_timer *timer, int64_t deadline_ns,
		     loop_timer_fn *fn)
{
	loop_timer_stop(loop, timer);
	if (loop->nheap == loop->heap_cap) {
		int err = heap_grow(loop);

		if (err)
			return err;
	}
	timer->deadline = deadline_ns;
	timer->seq = loop->next_seq++;
	timer->fn = fn;
	loop->heap[loop->nheap] = timer;
	sift_up(loop, loop->nheap++);
	return 0;
}

bool loop_timer_active(const struct loop_timer *timer)
{
	return timer->slot != LOOP_TIMER_IDLE;
}

size_t loop_timer_count(const struct loop *loop)
{
	return loop->nheap;
}

/* Collect every timer due by loop->now first, then run them: a timer that
 * a callback starts, even one already due, waits for the next iteration,
 * and one that a callback stops is struck from the list before its turn. */
static void run_timers(struct loop *loop)
{
	size_t ndue = 0;

	while (loop->nheap > 0 && loop->heap[0]->deadline <= loop->now) {
		struct loop_timer *t = loop->heap[0];

		heap_remove(loop, 0);
		loop->due[ndue] = t;
		t->slot = LOOP_TIMER_DUE | ndue;
		ndue++;
	}
	for (size_t i = 0; i < ndue; i++) {
		struct loop_timer *t = loop->due[i];

		if (!t)
			continue;
		t->slot = LOOP_TIMER_IDLE;
		t->fn(loop, t);
	}
}

/* ---------------------------------------------------------------- fds */

static int grow_watches(struct loop *loop, int fd)
{
	size_t want = loop->nwatch_slots ? loop->nwatch_slots : 64;
	struct loop_watch *w;
	struct loop_fired *fired;

	while (want <= (size_t)fd)
		want *= 2;
	w = realloc(loop->watches, want * sizeof *w);
	if (!w)
		return -ENOMEM;
	memset(w + loop->nwatch_slots, 0, (want - loop->nwatch_slots) * sizeof *w);
	loop->watches = w;
	loop->nwatch_slots = want;
	/* Never more fds fire at once than can be watched. */
	fired = realloc(loop->fired, want * sizeof *fired);
	if (!fired)
		return -ENOMEM;
	loop->fired = fired;
	loop->fired_cap = want;
	return 0;
}

int loop_watch(struct loop *loop, int fd, unsigned events, loop_io_fn *fn, void *arg)
{
	struct loop_watch *w;
	unsigned old;
	int err;

	if (fd < 0)
		return -EBADF;
	if ((size_t)fd >= loop->nwatch_slots && (err = grow_watches(loop, fd)))
		return err;
	w = &loop->watches[fd];
	old = w->fn ? w->events : LOOP_UNWATCHED;
	events &= LOOP_READ | LOOP_WRITE;
	if (old != events && (err = loop->ops->set(loop, fd, old, events)))
		return err;
	if (!w->fn && fd != loop->wake_fd)
		loop->nwatched++;
	w->fn = fn;
	w->arg = arg;
	w->events = events;
	return 0;
}

void loop_unwatch(struct loop *loop, int fd)
{
	struct loop_watch *w;

	if (fd < 0 || (size_t)fd >= loop->nwatch_slots || !loop->watches[fd].fn)
		return;
	w = &loop->watches[fd];
	/* Removing cannot fail for an fd that is still open; a closed one has
	 * already left epoll's set, and poll's array is ours. */
	(void)loop->ops->set(loop, fd, w->events, LOOP_UNWATCHED);
	w->fn = NULL;
	w->arg = NULL;
	if (fd != loop->wake_fd)
		loop->nwatched--;
}

/* Run the callbacks of the fds the backend reported.  A callback may unwatch
 * an fd later in the list; that fd is then skipped. */
static void run_fired(struct loop *loop, int nfired)
{
	for (int i = 0; i < nfired; i++) {
		int fd = loop->fired[i].fd;
		struct loop_watch *w = &loop->watches[fd];
		unsigned ev;

		if (!w->fn)
			continue;
		ev = loop->fired[i].events & (w->events | LOOP_ERROR);
		if (ev)
			w->fn(loop, fd, ev, w->arg);
	}
}

/* ---------------------------------------------------------------- loop */

int loop_new(struct loop **out, enum loop_backend backend)
{
	struct loop *loop;
	int err;

	if (backend == LOOP_DEFAULT) {
		const char *name = getenv("WB_LOOP_BACKEND");

		if (!name || !*name || strcmp(name, "epoll") == 0)
			backend = LOOP_EPOLL;
		else if (strcmp(name, "poll") == 0)
			backend = LOOP_POLL;
		else
			return -EINVAL;
	}
	if (backend != LOOP_EPOLL && backend != LOOP_POLL)
		return -EINVAL;

	loop = calloc(1, sizeof *loop);
	if (!loop)
		return -ENOMEM;
	loop->ops = backend == LOOP_EPOLL ? &loop_epoll_ops : &loop_poll_ops;
	list_init(&loop->soon);
	list_init(&loop->batch);
	pthread_mutex_init(&loop->post_mu, NULL);
	atomic_init(&loop->posts_pending, 0);
	loop->now = clk_now_ns();

	loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wake_fd < 0) {
		err = -errno;
		goto out_free_loop;
	}
	err = loop->ops->init(loop);
	if (err)
		goto out_close_wake;
	err = loop_watch(loop, loop->wake_fd, LOOP_READ, take_posts, NULL);
	if (err)
		goto out_backend_done;
	*out = loop;
	return 0;

out_backend_done:
	loop->ops->done(loop);
out_close_wake:
	close(loop->wake_fd);
out_free_loop:
	free(loop->watches);
	free(loop->fired);
	pthread_mutex_destroy(&loop->post_mu);
	free(loop);
	return err;
}

const char *loop_backend_name(const struct loop *loop)
{
	return loop->ops->name;
}

void loop_free(struct loop *loop)
{
	if (!loop)
		return;
	loop_unwatch(loop, loop->wake_fd);
	loop->ops->done(loop);
	close(loop->wake_fd);
	pthread_mutex_destroy(&loop->post_mu);
	free(loop->watches);
	free(loop->fired);
	free(loop->heap);
	free(loop->due);
	free(loop);
}

int64_t loop_now(const struct loop *loop)
{
	return loop->now;
}

void loop_update_time(struct loop *loop)
{
	loop->now = clk_now_ns();
}

void loop_set_data(struct loop *loop, void *data)
{
	loop->data = data;
}

void *loop_data(const struct loop *loop)
{
	return loop->data;
}

void loop_stop(struct loop *loop)
{
	loop->stopped = true;
}

/* Whether anything is left that could ever call back. */
static bool loop_alive(struct loop *loop)
{
	return loop->nwatched > 0 || loop->nheap > 0 || !list_empty(&loop->soon) ||
	       loop->refs > 0 || atomic_load(&loop->posts_pending) > 0;
}

/* How long the backend may sleep: not at all when calls are queued, until
 * the earliest timer when there is one, else without a limit. */
static int64_t wait_ns(struct loop *loop)
{
	int64_t left;

	if (!list_empty(&loop->soon))
		return 0;
	if (loop->nheap == 0)
		return -1;
	left = loop->heap[0]->deadline - clk_now_ns();
	return left > 0 ? left : 0;
}

/* While calls are queued, the loop asks the kernel about its fds at most
 * this often, and runs the queued calls in between without a system call:
 * tasks handing control back and forth (create a task, await it) should
 * not pay an epoll_wait per hand-over, and a ready fd still waits at most
 * this long.  Timers are checked on every iteration either way. */
#define POLL_EVERY_NS (50 * 1000)

/* The loop's thread wakes on time: see loop.h, "Timer slack". */
#define LOOP_TIMER_SLACK_NS 1UL

static int iterate(struct loop *loop)
{
	int64_t last_poll = 0;

	while (!loop->stopped && loop_alive(loop)) {
		int64_t timeout = wait_ns(loop);
		int nfired = 0;

		if (timeout != 0 || clk_now_ns() - last_poll >= POLL_EVERY_NS) {
			nfired = loop->ops->wait(loop, timeout);
			if (nfired == -EINTR)
				continue;
			if (nfired < 0)
				return nfired;
			loop_update_time(loop);
			last_poll = loop->now;
		} else {
			loop_update_time(loop);
		}
		run_fired(loop, nfired);
		run_timers(loop);
		run_soon(loop);
	}
	return 0;
}

int loop_run(struct loop *loop)
{
	int slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	int err;

	/* Failing to change the slack costs precision, not correctness. */
	if (slack > 0)
		(void)prctl(PR_SET_TIMERSLACK, LOOP_TIMER_SLACK_NS, 0, 0, 0);
	loop->stopped = false;
	err = iterate(loop);
	if (slack > 0)
		(void)prctl(PR_SET_TIMERSLACK, (unsigned long)slack, 0, 0, 0);
	return err;
}
