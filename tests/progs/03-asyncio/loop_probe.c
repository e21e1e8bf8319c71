/*
 * loop_probe.c - the event loop's promises, one scene per --case, each
 * printing "key=value" facts for tests/03-asyncio.bats to judge.  Every
 * scene runs on the backend WB_LOOP_BACKEND names (epoll when unset), so
 * the same checks prove both.
 *
 *   backend      which backend loop_new(LOOP_DEFAULT) picked, or its error
 *   timer-order  deadlines in order; equal deadlines in start order
 *   due-first    due timers are collected before any runs: one started by
 *                a callback waits for the next iteration, one stopped by
 *                a callback does not run
 *   heap         10,000 timers started and stopped at random: those left
 *                fire in (deadline, start) order, the stopped ones never
 *   fd           a pipe's read end becomes readable when a timer writes
 *   unwatch      two fds ready at once; the first callback unwatches the
 *                other, whose callback then does not run
 *   soon-fair    a soon call that requeues itself for ever does not
 *                starve a timer
 *   soon-fd      nor a readable fd, though the loop skips the kernel
 *                while calls are queued (it still asks every 50 us)
 *   post         threads post 4,000 calls; every one runs on the loop's
 *                thread, and the loop lives until the last one
 *   stop         loop_stop() ends loop_run() with a watch still in place
 *   idle         a loop waiting on an fd for 300 ms, what it cost
 *   idle-timer   the same with a timer 10 s away
 *   slack        the thread's timer slack before, during and after a run
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../cases.h"
#include "../usage.h"
#include "args.h"
#include "check.h"
#include "clock.h"
#include "loop.h"

#define WAIT_MS 300

static struct loop *new_loop(void)
{
	struct loop *loop;
	int err = loop_new(&loop, LOOP_DEFAULT);

	if (err)
		die_errno(-err, "loop_new");
	return loop;
}

static void run(struct loop *loop)
{
	int err = loop_run(loop);

	if (err)
		die_errno(-err, "loop_run");
}

/* A timer that appends its name to a shared line when it fires. */
struct named_timer {
	struct loop_timer timer; /* first: the callback casts back */
	const char *name;
	char *line;
};

static void named_fired(struct loop *loop, struct loop_timer *timer)
{
	struct named_timer *nt = (struct named_timer *)timer;

	(void)loop;
	if (*nt->line)
		strcat(nt->line, ",");
	strcat(nt->line, nt->name);
}

static void start_named(struct loop *loop, struct named_timer *nt, const char *name, char *line,
			int64_t deadline)
{
	*nt = (struct named_timer){ .timer = LOOP_TIMER_INIT, .name = name, .line = line };
	if (loop_timer_start(loop, &nt->timer, deadline, named_fired))
		die("loop_timer_start failed");
}

static void case_backend(void)
{
	struct loop *loop;
	int err = loop_new(&loop, LOOP_DEFAULT);

	if (err) {
		printf("new=%s\n", err == -EINVAL ? "-EINVAL" : "other");
		return;
	}
	printf("new=0 backend=%s\n", loop_backend_name(loop));
	loop_free(loop);
}

static void case_timer_order(void)
{
	struct loop *loop = new_loop();
	struct named_timer t[5];
	char line[64] = "";
	int64_t base = clk_now_ns();

	/* Started in this order; they must fire as D,A,B,C,E. */
	start_named(loop, &t[0], "A", line, base + 20 * CLK_NS_PER_MS);
	start_named(loop, &t[1], "B", line, base + 20 * CLK_NS_PER_MS);
	start_named(loop, &t[2], "E", line, base + 30 * CLK_NS_PER_MS);
	start_named(loop, &t[3], "C", line, base + 20 * CLK_NS_PER_MS);
	start_named(loop, &t[4], "D", line, base + 10 * CLK_NS_PER_MS);
	run(loop);
	printf("order=%s\n", line);
	loop_free(loop);
}

/* T1 starts T3, already due, and stops T4, due in the same iteration. */
struct due_scene {
	struct named_timer t[4];
	char line[64];
};

static void t1_fired(struct loop *loop, struct loop_timer *timer)
{
	struct due_scene *s = (struct due_scene *)timer;

	named_fired(loop, timer);
	start_named(loop, &s->t[2], "T3", s->line, loop_now(loop) - CLK_NS_PER_MS);
	loop_timer_stop(loop, &s->t[3].timer);
	printf("t4_active_after_stop=%d\n", loop_timer_active(&s->t[3].timer));
}

static void case_due_first(void)
{
	struct loop *loop = new_loop();
	struct due_scene s = { .line = "" };
	int64_t due = clk_now_ns() + 5 * CLK_NS_PER_MS;

	start_named(loop, &s.t[0], "T1", s.line, due);
	s.t[0].timer.fn = t1_fired; /* started first, so it runs first */
	start_named(loop, &s.t[1], "T2", s.line, due);
	start_named(loop, &s.t[3], "T4", s.line, due);
	run(loop);
	printf("order=%s\n", s.line);
	loop_free(loop);
}

/* 10,000 timers; a quarter stopped again; the rest must fire sorted. */
#define HEAP_N 10000
struct heap_scene;
struct heap_timer {
	struct loop_timer timer;
	struct heap_scene *scene;
	int64_t deadline;
	uint64_t order; /* start order */
	bool stopped, fired;
};

struct heap_scene {
	int64_t last_deadline;
	uint64_t last_order;
	long fired, out_of_order, fired_stopped;
};

static void heap_fired(struct loop *loop, struct loop_timer *timer)
{
	struct heap_timer *h = (struct heap_timer *)timer;
	struct heap_scene *s = h->scene;

	(void)loop;
	if (h->stopped)
		s->fired_stopped++;
	if (h->deadline < s->last_deadline ||
	    (h->deadline == s->last_deadline && h->order < s->last_order))
		s->out_of_order++;
	s->last_deadline = h->deadline;
	s->last_order = h->order;
	h->fired = true;
	s->fired++;
}

static void case_heap(void)
{
	struct loop *loop = new_loop();
	struct heap_timer *t = calloc(HEAP_N, sizeof *t);
	struct heap_scene s = { 0 };
	int64_t base = clk_now_ns() + 5 * CLK_NS_PER_MS;
	unsigned seed = 12345;
	long stopped = 0;

	if (!t)
		die("out of memory");
	for (int i = 0; i < HEAP_N; i++) {
		/* 50 distinct deadlines, so many timers share one. */
		t[i].deadline = base + (rand_r(&seed) % 50) * CLK_NS_PER_MS / 2;
		t[i].order = (uint64_t)i;
		t[i].scene = &s;
		t[i].timer = (struct loop_timer)LOOP_TIMER_INIT;
		if (loop_timer_start(loop, &t[i].timer, t[i].deadline, heap_fired))
			die("loop_timer_start failed");
		if (i > 0 && rand_r(&seed) % 4 == 0) {
			int victim = rand_r(&seed) % i;

			if (!t[victim].stopped) {
				loop_timer_stop(loop, &t[victim].timer);
				t[victim].stopped = true;
				stopped++;
			}
		}
	}
	printf("started=%d stopped=%ld count=%zu\n", HEAP_N, stopped, loop_timer_count(loop));
	run(loop);
	printf("fired=%ld out_of_order=%ld fired_stopped=%ld left=%zu\n", s.fired, s.out_of_order,
	       s.fired_stopped, loop_timer_count(loop));
	free(t);
	loop_free(loop);
}

/* A timer writes a byte into a pipe; the read watch gets it. */
struct fd_scene {
	struct loop_timer timer;
	int p[2];
	int reads;
	char got;
};

static void fd_write(struct loop *loop, struct loop_timer *timer)
{
	struct fd_scene *s = (struct fd_scene *)timer;

	(void)loop;
	if (write(s->p[1], "x", 1) != 1)
		die_errno(errno, "write");
}

static void fd_readable(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct fd_scene *s = arg;

	printf("events=%s\n", events == LOOP_READ ? "read" : "other");
	if (read(fd, &s->got, 1) != 1)
		die_errno(errno, "read");
	s->reads++;
	loop_unwatch(loop, fd);
}

static void case_fd(void)
{
	struct loop *loop = new_loop();
	struct fd_scene s = { .timer = LOOP_TIMER_INIT };
	int err;

	if (pipe(s.p) != 0)
		die_errno(errno, "pipe");
	err = loop_watch(loop, s.p[0], LOOP_READ, fd_readable, &s);
	if (err)
		die_errno(-err, "loop_watch");
	err = loop_watch(loop, -1, LOOP_READ, fd_readable, &s);
	printf("watch_negative=%s\n", err == -EBADF ? "-EBADF" : "other");
	if (loop_timer_start(loop, &s.timer, clk_now_ns() + 20 * CLK_NS_PER_MS, fd_write))
		die("loop_timer_start failed");
	run(loop); /* ends when the watch is gone and the timer has fired */
	printf("reads=%d got=%c\n", s.reads, s.got);
	close(s.p[0]);
	close(s.p[1]);
	loop_free(loop);
}

/* Two pipes readable at once; whichever callback runs first unwatches the
 * other fd, and the other callback must not run. */
struct unwatch_scene {
	int a[2], b[2];
	int calls;
};

static void unwatch_cb(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct unwatch_scene *s = arg;

	(void)events;
	s->calls++;
	loop_unwatch(loop, s->a[0]);
	loop_unwatch(loop, s->b[0]);
	(void)fd;
}

static void case_unwatch(void)
{
	struct loop *loop = new_loop();
	struct unwatch_scene s = { 0 };

	if (pipe(s.a) != 0 || pipe(s.b) != 0)
		die_errno(errno, "pipe");
	if (write(s.a[1], "a", 1) != 1 || write(s.b[1], "b", 1) != 1)
		die_errno(errno, "write");
	if (loop_watch(loop, s.a[0], LOOP_READ, unwatch_cb, &s) ||
	    loop_watch(loop, s.b[0], LOOP_READ, unwatch_cb, &s))
		die("loop_watch failed");
	run(loop);
	printf("calls=%d\n", s.calls);
	close(s.a[0]), close(s.a[1]), close(s.b[0]), close(s.b[1]);
	loop_free(loop);
}

/* A soon call requeues itself; a timer 20 ms away must still fire. */
struct fair_scene {
	struct loop_call call;
	struct loop_timer timer;
	long spins;
	bool timer_fired;
};

static void fair_spin(struct loop *loop, struct loop_call *call)
{
	struct fair_scene *s = (struct fair_scene *)call;

	s->spins++;
	if (!s->timer_fired)
		loop_call_soon(loop, call, fair_spin);
}

static void fair_timer(struct loop *loop, struct loop_timer *timer)
{
	struct fair_scene *s = (struct fair_scene *)((char *)timer -
						     offsetof(struct fair_scene, timer));

	(void)loop;
	s->timer_fired = true;
}

static void case_soon_fair(void)
{
	struct loop *loop = new_loop();
	struct fair_scene s = { .call = LOOP_CALL_INIT, .timer = LOOP_TIMER_INIT };

	loop_call_soon(loop, &s.call, fair_spin);
	if (loop_timer_start(loop, &s.timer, clk_now_ns() + 20 * CLK_NS_PER_MS, fair_timer))
		die("loop_timer_start failed");
	run(loop);
	printf("timer_fired=%d spun=%s\n", s.timer_fired, s.spins > 1 ? "yes" : "no");
	loop_free(loop);
}

/* A soon call requeues itself until a pipe's read callback runs; the byte
 * is written by the spinning call itself, long after the loop last waited. */
struct busy_scene {
	struct loop_call call;
	int p[2];
	long spins;
	bool read;
};

static void busy_spin(struct loop *loop, struct loop_call *call)
{
	struct busy_scene *s = (struct busy_scene *)call;

	if (++s->spins == 1000 && write(s->p[1], "x", 1) != 1)
		die_errno(errno, "write");
	if (!s->read)
		loop_call_soon(loop, call, busy_spin);
}

static void busy_readable(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct busy_scene *s = arg;
	char c;

	(void)events;
	if (read(fd, &c, 1) == 1)
		s->read = true;
	loop_unwatch(loop, fd);
}

static void case_soon_fd(void)
{
	struct loop *loop = new_loop();
	struct busy_scene s = { .call = LOOP_CALL_INIT };

	if (pipe(s.p) != 0)
		die_errno(errno, "pipe");
	if (loop_watch(loop, s.p[0], LOOP_READ, busy_readable, &s))
		die("loop_watch failed");
	loop_call_soon(loop, &s.call, busy_spin);
	run(loop);
	printf("fd_read=%d spun=%s\n", s.read, s.spins > 1000 ? "yes" : "no");
	close(s.p[0]);
	close(s.p[1]);
	loop_free(loop);
}

/* Threads post calls; the loop counts them on its own thread. */
#define POSTERS 4
#define POSTS 1000
struct post_scene;
struct post {
	struct loop_call call; /* first: the callback casts back */
	struct post_scene *scene;
};

struct post_scene {
	struct loop *loop;
	pthread_t loop_thread;
	long received, wrong_thread;
	struct post posts[POSTERS][POSTS];
};

struct poster {
	pthread_t thread;
	struct post_scene *scene;
	int id;
};

static void post_arrived(struct loop *loop, struct loop_call *call)
{
	struct post_scene *s = ((struct post *)call)->scene;

	if (!pthread_equal(pthread_self(), s->loop_thread))
		s->wrong_thread++;
	if (++s->received == POSTERS * POSTS)
		loop_unref(loop); /* the last one: nothing more is on its way */
}

static void *poster_main(void *arg)
{
	struct poster *p = arg;

	for (int i = 0; i < POSTS; i++) {
		struct post *post = &p->scene->posts[p->id][i];

		post->scene = p->scene;
		loop_post(p->scene->loop, &post->call, post_arrived);
	}
	return NULL;
}

static void case_post(void)
{
	struct post_scene *s = calloc(1, sizeof *s);
	struct poster posters[POSTERS];

	if (!s)
		die("out of memory");
	s->loop = new_loop();
	s->loop_thread = pthread_self();
	loop_ref(s->loop); /* the posts are on their way */
	for (int i = 0; i < POSTERS; i++) {
		int err;

		posters[i] = (struct poster){ .scene = s, .id = i };
		err = pthread_create(&posters[i].thread, NULL, poster_main, &posters[i]);
		if (err)
			die_errno(err, "pthread_create");
	}
	run(s->loop);
	for (int i = 0; i < POSTERS; i++)
		pthread_join(posters[i].thread, NULL);
	printf("received=%ld wrong_thread=%ld\n", s->received, s->wrong_thread);
	loop_free(s->loop);
	free(s);
}

/* loop_stop() from a timer: loop_run() returns though a watch remains. */
static void stop_timer(struct loop *loop, struct loop_timer *timer)
{
	(void)timer;
	loop_stop(loop);
}

static void never_called(struct loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop, (void)fd, (void)events, (void)arg;
	die("a watch on a silent pipe was called");
}

static void case_stop(void)
{
	struct loop *loop = new_loop();
	struct loop_timer timer = LOOP_TIMER_INIT;
	int p[2];

	if (pipe(p) != 0)
		die_errno(errno, "pipe");
	if (loop_watch(loop, p[0], LOOP_READ, never_called, NULL) ||
	    loop_timer_start(loop, &timer, clk_now_ns() + 10 * CLK_NS_PER_MS, stop_timer))
		die("could not set the scene");
	run(loop);
	printf("stopped=1\n");
	loop_unwatch(loop, p[0]);
	close(p[0]);
	close(p[1]);
	loop_free(loop);
}

/* The loop waits for a pipe that a thread writes after WAIT_MS; the wait's
 * cost is the loop thread's CPU time and wake-ups. */
struct idle_scene {
	int p[2];
	bool got;
};

static void *idle_writer(void *arg)
{
	struct idle_scene *s = arg;

	clk_sleep_ms(WAIT_MS);
	if (write(s->p[1], "x", 1) != 1)
		die_errno(errno, "write");
	return NULL;
}

static void idle_readable(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct idle_scene *s = arg;
	char c;

	(void)events;
	if (read(fd, &c, 1) == 1)
		s->got = true;
	loop_unwatch(loop, fd);
	loop_stop(loop); /* the far timer of idle-timer may still be running */
}

static void far_timer(struct loop *loop, struct loop_timer *timer)
{
	(void)loop, (void)timer;
	die("a timer 10 s away fired");
}

static void idle(bool with_timer)
{
	struct loop *loop = new_loop();
	struct loop_timer timer = LOOP_TIMER_INIT;
	struct idle_scene s = { 0 };
	struct usage before, after;
	pthread_t writer;
	int err;

	if (pipe(s.p) != 0)
		die_errno(errno, "pipe");
	if (loop_watch(loop, s.p[0], LOOP_READ, idle_readable, &s))
		die("loop_watch failed");
	if (with_timer &&
	    loop_timer_start(loop, &timer, clk_now_ns() + 10 * CLK_NS_PER_SEC, far_timer))
		die("loop_timer_start failed");
	err = pthread_create(&writer, NULL, idle_writer, &s);
	if (err)
		die_errno(err, "pthread_create");
	before = usage_now();
	run(loop);
	after = usage_now();
	pthread_join(writer, NULL);
	usage_print("loop", before, after);
	printf(" got=%d\n", s.got);
	loop_timer_stop(loop, &timer);
	close(s.p[0]);
	close(s.p[1]);
	loop_free(loop);
}

static void case_idle(void)
{
	idle(false);
}

static void case_idle_timer(void)
{
	idle(true);
}

/* The calling thread's timer slack, in ns. */
static long thread_slack(void)
{
	int ns = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	if (ns < 0)
		die_errno(errno, "prctl(PR_GET_TIMERSLACK)");
	return ns;
}

static void slack_timer(struct loop *loop, struct loop_timer *timer)
{
	(void)loop, (void)timer;
	printf("slack_during=%ld\n", thread_slack());
}

static void case_slack(void)
{
	struct loop *loop = new_loop();
	struct loop_timer timer = LOOP_TIMER_INIT;

	printf("slack_before=%ld\n", thread_slack());
	if (loop_timer_start(loop, &timer, clk_now_ns() + CLK_NS_PER_MS, slack_timer))
		die("loop_timer_start failed");
	run(loop);
	printf("slack_after=%ld\n", thread_slack());
	loop_free(loop);
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"backend", "timer-order", "due-first", "heap", "fd",	     "unwatch", "soon-fair",
		"soon-fd", "post",	  "stop",      "idle", "idle-timer", "slack",	NULL,
	};
	static void (*const cases[])(void) = {
		case_backend, case_timer_order, case_due_first, case_heap, case_fd,
		case_unwatch, case_soon_fair,	case_soon_fd,	case_post, case_stop,
		case_idle,    case_idle_timer,	case_slack,
	};
	return probe_main(argc, argv, names, cases);
}
