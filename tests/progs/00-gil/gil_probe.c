/*
 * gil_probe.c - the promises of gil.h, one scene per --case:
 *
 *   new       gil_new() refuses bad arguments; a new GIL is free
 *   alone     a lone thread takes a free GIL at once; gil_yield() with
 *             nobody waiting keeps it, so another thread must still wait
 *   block     a thread blocked in gil_acquire() sleeps, and wakes as soon
 *             as the holder releases; the holder's other calls never wait
 *   yield     a waiter asks after one switch interval; gil_yield() hands
 *             over, sleeps, and returns after the other thread is done
 *   fresh     a waiter whose interval began before the GIL changed hands
 *             does not ask the new holder to drop it at once
 *   pingpong  two threads that yield whenever asked take strict turns
 *   count     many threads taking the GIL many times: one holder at a
 *             time, every acquisition counted
 *   release-free, release-other, yield-free, acquire-twice
 *             misuse that the reference implementation's asserts catch
 *
 * Each scene keeps some plain data that only the GIL's holder touches, as
 * CPython's threads keep the interpreter's data: under ThreadSanitizer a
 * GIL that lets two threads in, or does not order one holder's writes
 * before the next holder's reads, is reported even when no overlap
 * happened to be seen.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <stdatomic.h>
#include <stdlib.h>

#include "args.h"
#include "gil.h"
#include "probe.h"

/* How long a holder keeps the GIL while another thread waits for it. */
#define HOLD_MS 300
/* How long a thread polls for a drop request before calling it "never". */
#define ASK_LIMIT_MS 2000

struct scene {
	struct gil *gil;
	atomic_int inside;   /* threads that hold the GIL, by their own account */
	atomic_int overlaps; /* times a thread took it while another held it */
	long guarded;	     /* touched only by the GIL's holder */
};

static void scene_init(struct scene *s, long interval_ms)
{
	int err = gil_new(&s->gil, interval_ms);

	if (err)
		die_errno(-err, "gil_new");
	atomic_init(&s->inside, 0);
	atomic_init(&s->overlaps, 0);
	s->guarded = 0;
}

/* Call right after taking the GIL, and scene_leave() right before giving it up. */
static void scene_enter(struct scene *s)
{
	if (atomic_fetch_add(&s->inside, 1) != 0)
		atomic_fetch_add(&s->overlaps, 1);
	s->guarded++;
}

static void scene_leave(struct scene *s)
{
	s->guarded++;
	atomic_fetch_sub(&s->inside, 1);
}

static void scene_print(struct scene *s, unsigned long acquisitions)
{
	printf("overlaps=%d acquisitions=%lu\n", atomic_load(&s->overlaps), acquisitions);
	gil_free(s->gil);
}

/* Poll for a drop request as a holder does; when was it first seen? */
static int64_t poll_request(struct gil *g, long limit_ms)
{
	int64_t limit = clk_deadline_ms(limit_ms);

	while (!gil_drop_requested(g)) {
		if (clk_passed(limit))
			return 0;
		clk_sleep_ms(1);
	}
	return clk_now_ns();
}

static void print_ms(const char *key, int64_t from, int64_t to)
{
	if (from && to)
		printf("%s=%.1f ", key, ms_between(from, to));
	else
		printf("%s=never ", key);
}

/* ------------------------------------------------------------ new */

static void case_new(void)
{
	struct gil *const sentinel = (struct gil *)&sentinel;
	struct gil *g = sentinel;
	int zero, negative, huge, max, null_out, ok;
	bool untouched;

	zero = gil_new(&g, 0);
	negative = gil_new(&g, -5);
	huge = gil_new(&g, GIL_MAX_INTERVAL_MS + 1);
	null_out = gil_new(NULL, 5);
	untouched = g == sentinel;
	max = gil_new(&g, GIL_MAX_INTERVAL_MS);
	if (!max)
		gil_free(g);
	g = NULL;
	ok = gil_new(&g, 5);
	printf("zero=%s negative=%s huge=%s null_out=%s untouched=%s max=%s ok=%s\n", errname(zero),
	       errname(negative), errname(huge), errname(null_out), untouched ? "yes" : "no",
	       errname(max), errname(ok));
	if (ok)
		return;
	printf("fresh_acquisitions=%lu fresh_request=%s\n", gil_acquisitions(g),
	       gil_drop_requested(g) ? "yes" : "no");
	gil_free(g);
	gil_free(NULL);
}

/* ------------------------------------------------------------ alone, block */

struct waiter {
	struct scene *s;
	struct gate *held;	    /* the holder has the GIL */
	struct gate calling;	    /* the waiter is about to call acquire */
	atomic_llong released_at;   /* when the holder let go; 0 before */
	struct usage before, after; /* around the waiter's gil_acquire() */
	int64_t released_seen;	    /* released_at as the waiter took it */
	bool request_after_take;
	bool gave_up; /* the holder never opened the gate */
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	if (!gate_wait(w->held)) {
		w->gave_up = true;
		return NULL;
	}
	gate_open(&w->calling);
	w->before = usage_now();
	gil_acquire(w->s->gil);
	w->after = usage_now();
	scene_enter(w->s);
	w->released_seen = atomic_load(&w->released_at);
	w->request_after_take = gil_drop_requested(w->s->gil);
	scene_leave(w->s);
	gil_release(w->s->gil);
	return NULL;
}

static void waiter_start(struct waiter *w, struct scene *s, struct gate *held, pthread_t *t)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->held = held;
	gate_init(&w->calling);
	atomic_init(&w->released_at, 0);
	probe_thread(t, waiter_main, w);
}

/* Give the GIL up, noting when, and wait for the waiter to be done. */
static double waiter_finish(struct waiter *w, struct scene *s, pthread_t t)
{
	int64_t t0;
	double release_ms;

	scene_leave(s);
	t0 = clk_now_ns();
	atomic_store(&w->released_at, t0);
	gil_release(s->gil);
	release_ms = ms_between(t0, clk_now_ns());
	PT_CHECK(pthread_join(t, NULL));
	gate_destroy(&w->calling);
	return release_ms;
}

/* The waiter's facts: how it waited, and whether it took the GIL in turn. */
static void waiter_print(struct waiter *w)
{
	printf("waiter_taken=%s ", w->gave_up	      ? "never-called"
				   : w->released_seen ? "after-release"
						      : "while-held");
	if (w->released_seen)
		print_ms("wake_latency_ms", w->released_seen, w->after.wall_ns);
	usage_print("waited", w->before, w->after);
	printf(" request_after_take=%s ", w->request_after_take ? "yes" : "no");
}

static void case_alone(void)
{
	struct scene s;
	struct gate held;
	struct waiter w;
	pthread_t t;
	int64_t t0, t1, t2;
	unsigned long after_acquire, after_yield;
	bool request;

	scene_init(&s, 50);
	gate_init(&held);
	t0 = clk_now_ns();
	gil_acquire(s.gil);
	t1 = clk_now_ns();
	scene_enter(&s);
	after_acquire = gil_acquisitions(s.gil);
	request = gil_drop_requested(s.gil);
	gil_yield(s.gil);
	t2 = clk_now_ns();
	after_yield = gil_acquisitions(s.gil);
	printf("acquire_ms=%.1f yield_ms=%.1f after_acquire=%lu after_yield=%lu "
	       "request=%s\n",
	       ms_between(t0, t1), ms_between(t1, t2), after_acquire, after_yield,
	       request ? "yes" : "no");

	/* Having kept the GIL, this thread still holds it: a newcomer waits. */
	waiter_start(&w, &s, &held, &t);
	gate_open(&held);
	if (gate_wait(&w.calling))
		clk_sleep_ms(HOLD_MS);
	waiter_finish(&w, &s, t);
	waiter_print(&w);
	gate_destroy(&held);
	scene_print(&s, gil_acquisitions(s.gil));
}

/*
 * The switch interval is longer than the hold, so a correct waiter never
 * times out here: it sleeps once and is woken by the release.
 */
#define BLOCK_INTERVAL_MS 1000

static void case_block(void)
{
	struct scene s;
	struct gate held;
	struct waiter w;
	pthread_t t;
	int64_t hold_end, slowest = 0;
	double release_ms;

	scene_init(&s, BLOCK_INTERVAL_MS);
	gate_init(&held);
	waiter_start(&w, &s, &held, &t);
	gil_acquire(s.gil);
	scene_enter(&s);
	gate_open(&held);
	gate_wait(&w.calling);
	/*
	 * Hold the GIL without ever yielding.  Meanwhile the calls that must
	 * not wait for the GIL are timed: the waiter is blocked inside
	 * gil_acquire() now, and must not be holding anything they need.
	 */
	hold_end = clk_deadline_ms(HOLD_MS);
	while (!clk_passed(hold_end)) {
		int64_t t0 = clk_now_ns(), dt;

		(void)gil_drop_requested(s.gil);
		(void)gil_acquisitions(s.gil);
		dt = clk_now_ns() - t0;
		if (dt > slowest)
			slowest = dt;
		clk_sleep_ms(10);
	}
	release_ms = waiter_finish(&w, &s, t);
	waiter_print(&w);
	printf("holder_call_ms=%.1f release_ms=%.1f ", (double)slowest / CLK_NS_PER_MS, release_ms);
	gate_destroy(&held);
	scene_print(&s, gil_acquisitions(s.gil));
}

/* ------------------------------------------------------------ yield */

#define YIELD_INTERVAL_MS 100

struct yield_scene {
	struct scene s;
	struct gate held, calling;
	atomic_llong b_start;	 /* the waiter is about to call acquire */
	atomic_llong b_took;	 /* it returned holding the GIL */
	atomic_llong b_released; /* it is about to release */
	bool b_request_after_take;
	bool b_gave_up;
};

static void *yield_waiter(void *arg)
{
	struct yield_scene *y = arg;

	if (!gate_wait(&y->held)) {
		y->b_gave_up = true;
		return NULL;
	}
	atomic_store(&y->b_start, clk_now_ns());
	gate_open(&y->calling);
	gil_acquire(y->s.gil);
	atomic_store(&y->b_took, clk_now_ns());
	scene_enter(&y->s);
	y->b_request_after_take = gil_drop_requested(y->s.gil);
	/* Compute without looking at requests, then give the GIL up. */
	clk_sleep_ms(HOLD_MS);
	scene_leave(&y->s);
	atomic_store(&y->b_released, clk_now_ns());
	gil_release(y->s.gil);
	return NULL;
}

static void case_yield(void)
{
	struct yield_scene y;
	struct usage before, after;
	int64_t asked, took, released;
	pthread_t t;

	memset(&y, 0, sizeof(y));
	scene_init(&y.s, YIELD_INTERVAL_MS);
	gate_init(&y.held);
	gate_init(&y.calling);
	atomic_init(&y.b_start, 0);
	atomic_init(&y.b_took, 0);
	atomic_init(&y.b_released, 0);
	probe_thread(&t, yield_waiter, &y);

	gil_acquire(y.s.gil);
	scene_enter(&y.s);
	gate_open(&y.held);
	gate_wait(&y.calling);
	asked = poll_request(y.s.gil, ASK_LIMIT_MS);
	/* Asked or not, hand over: the waiter is there by now. */
	scene_leave(&y.s);
	before = usage_now();
	gil_yield(y.s.gil);
	after = usage_now();
	scene_enter(&y.s);
	scene_leave(&y.s);
	gil_release(y.s.gil);
	PT_CHECK(pthread_join(t, NULL));

	took = atomic_load(&y.b_took);
	released = atomic_load(&y.b_released);
	print_ms("request_ms", atomic_load(&y.b_start), asked);
	printf("handed_over=%s back=%s ",
	       took >= before.wall_ns && took <= after.wall_ns ? "yes" : "no",
	       !released		   ? "never-released"
	       : after.wall_ns >= released ? "after-release"
					   : "while-held");
	if (released && after.wall_ns >= released)
		print_ms("back_latency_ms", released, after.wall_ns);
	usage_print("yield", before, after);
	printf(" request_after_take=%s ", y.b_request_after_take ? "yes" : "no");
	gate_destroy(&y.calling);
	gate_destroy(&y.held);
	scene_print(&y.s, gil_acquisitions(y.s.gil));
}

/* ------------------------------------------------------------ fresh */

/*
 * Three threads, a 300 ms interval.  A holds the GIL.  B starts waiting at
 * 0 ms and asks for the GIL at 300 ms; C starts waiting at 200 ms.  A
 * finishes its piece of work and releases at about 400 ms, and B or C
 * takes it.  The other one is then in the middle of an interval that began
 * before the GIL changed hands (C's from 200 to 500 ms, or B's from 300 to
 * 600 ms): when it ends, the GIL has changed hands, so it must not ask.
 * The new holder is first asked a whole interval after some waiter's wait
 * began after the change, so never less than 300 ms after it took the GIL;
 * a waiter that asks whenever its wait times out asks after 100 or 200 ms.
 */
#define FRESH_INTERVAL_MS 300
#define FRESH_C_DELAY_MS 200
#define FRESH_FINISH_MS 100

struct fresh_scene {
	struct scene s;
	struct gate held, b_calling;
	atomic_llong b_start;
	atomic_int takers; /* B and C, in the order they took it */
	int first;	   /* 'B' or 'C' */
	int64_t first_took, first_asked;
};

struct fresh_thread {
	struct fresh_scene *f;
	int name;
};

static void *fresh_main(void *arg)
{
	struct fresh_thread *ft = arg;
	struct fresh_scene *f = ft->f;
	int64_t took;

	if (!gate_wait(ft->name == 'B' ? &f->held : &f->b_calling))
		return NULL;
	if (ft->name == 'B') {
		atomic_store(&f->b_start, clk_now_ns());
		gate_open(&f->b_calling);
	} else {
		clk_sleep_until(atomic_load(&f->b_start) + FRESH_C_DELAY_MS * CLK_NS_PER_MS);
	}
	gil_acquire(f->s.gil);
	took = clk_now_ns();
	scene_enter(&f->s);
	if (atomic_fetch_add(&f->takers, 1) == 0) {
		/* The first to take it watches for the next request. */
		f->first = ft->name;
		f->first_took = took;
		f->first_asked = poll_request(f->s.gil, ASK_LIMIT_MS);
	}
	scene_leave(&f->s);
	gil_release(f->s.gil);
	return NULL;
}

static void case_fresh(void)
{
	struct fresh_scene f;
	struct fresh_thread b = { &f, 'B' }, c = { &f, 'C' };
	pthread_t tb, tc;
	int64_t asked;

	memset(&f, 0, sizeof(f));
	scene_init(&f.s, FRESH_INTERVAL_MS);
	gate_init(&f.held);
	gate_init(&f.b_calling);
	atomic_init(&f.b_start, 0);
	atomic_init(&f.takers, 0);
	probe_thread(&tb, fresh_main, &b);
	probe_thread(&tc, fresh_main, &c);

	gil_acquire(f.s.gil);
	scene_enter(&f.s);
	gate_open(&f.held);
	gate_wait(&f.b_calling);
	asked = poll_request(f.s.gil, ASK_LIMIT_MS);
	/* The piece of work under way is finished before letting go. */
	clk_sleep_ms(FRESH_FINISH_MS);
	scene_leave(&f.s);
	gil_release(f.s.gil);
	PT_CHECK(pthread_join(tb, NULL));
	PT_CHECK(pthread_join(tc, NULL));

	print_ms("first_request_ms", atomic_load(&f.b_start), asked);
	printf("first_taker=%c ", f.first ? f.first : '-');
	print_ms("turn_ms", f.first_took, f.first_asked);
	gate_destroy(&f.b_calling);
	gate_destroy(&f.held);
	scene_print(&f.s, gil_acquisitions(f.s.gil));
}

/* ------------------------------------------------------------ pingpong */

#define PING_INTERVAL_MS 20
#define PING_YIELDS 10

struct ping_scene {
	struct scene s;
	char order[4 * PING_YIELDS + 4]; /* who took the GIL, in turn */
	size_t n;			 /* guarded by the GIL, too */
	atomic_int done;		 /* threads that have finished */
	atomic_int stuck;		 /* threads never asked to yield */
};

struct ping_thread {
	struct ping_scene *p;
	char name;
};

/* Under the GIL: note who holds it now. */
static void ping_took(struct ping_thread *pt)
{
	struct ping_scene *p = pt->p;

	scene_enter(&p->s);
	if (p->n < sizeof(p->order) - 1)
		p->order[p->n++] = pt->name;
}

static void *ping_main(void *arg)
{
	struct ping_thread *pt = arg;
	struct ping_scene *p = pt->p;

	gil_acquire(p->s.gil);
	ping_took(pt);
	for (int yields = 0; yields < PING_YIELDS; yields++) {
		int64_t limit = clk_deadline_ms(ASK_LIMIT_MS);

		/* Work in small pieces until asked, or the other is done. */
		while (!gil_drop_requested(p->s.gil) && !atomic_load(&p->done)) {
			if (clk_passed(limit)) {
				atomic_fetch_add(&p->stuck, 1);
				goto out;
			}
			clk_sleep_ms(1);
		}
		if (atomic_load(&p->done))
			break;
		scene_leave(&p->s);
		gil_yield(p->s.gil);
		ping_took(pt);
	}
out:
	atomic_fetch_add(&p->done, 1);
	scene_leave(&p->s);
	gil_release(p->s.gil);
	return NULL;
}

static void case_pingpong(void)
{
	struct ping_scene p;
	struct ping_thread a = { &p, 'A' }, b = { &p, 'B' };
	pthread_t ta, tb;
	int repeats = 0;

	memset(&p, 0, sizeof(p));
	scene_init(&p.s, PING_INTERVAL_MS);
	atomic_init(&p.done, 0);
	atomic_init(&p.stuck, 0);
	probe_thread(&ta, ping_main, &a);
	probe_thread(&tb, ping_main, &b);
	PT_CHECK(pthread_join(ta, NULL));
	PT_CHECK(pthread_join(tb, NULL));
	for (size_t i = 1; i < p.n; i++)
		repeats += p.order[i] == p.order[i - 1];
	printf("order=%s turns=%zu repeats=%d stuck=%d ", p.order, p.n, repeats,
	       atomic_load(&p.stuck));
	scene_print(&p.s, gil_acquisitions(p.s.gil));
}

/* ------------------------------------------------------------ count */

#define COUNT_THREADS 4
#define COUNT_ROUNDS 1000
/* One round in this many holds the GIL across a 1 ms sleep. */
#define COUNT_SLOW_EVERY 20

struct count_scene {
	struct scene s;
	pthread_barrier_t start;
};

static void *count_main(void *arg)
{
	struct count_scene *cs = arg;
	int err = pthread_barrier_wait(&cs->start);

	if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
		pt_fail(err, "pthread_barrier_wait", __FILE__, __LINE__);
	for (int i = 0; i < COUNT_ROUNDS; i++) {
		gil_acquire(cs->s.gil);
		scene_enter(&cs->s);
		/*
		 * Now and then the holder sleeps, as a thread preempted in
		 * the middle of its turn does: a GIL that admits a second
		 * thread then surely does, while this one still counts
		 * itself inside.
		 */
		if (i % COUNT_SLOW_EVERY == 0)
			clk_sleep_ms(1);
		scene_leave(&cs->s);
		gil_release(cs->s.gil);
	}
	return NULL;
}

static void case_count(void)
{
	struct count_scene cs;
	pthread_t t[COUNT_THREADS];

	scene_init(&cs.s, 5);
	PT_CHECK(pthread_barrier_init(&cs.start, NULL, COUNT_THREADS));
	for (int i = 0; i < COUNT_THREADS; i++)
		probe_thread(&t[i], count_main, &cs);
	for (int i = 0; i < COUNT_THREADS; i++)
		PT_CHECK(pthread_join(t[i], NULL));
	PT_CHECK(pthread_barrier_destroy(&cs.start));
	/* Every enter and leave added one to the guarded count. */
	printf("expected=%d guarded=%ld ", 2 * COUNT_THREADS * COUNT_ROUNDS, cs.s.guarded);
	scene_print(&cs.s, gil_acquisitions(cs.s.gil));
}

/* ------------------------------------------------------------ misuse */

/*
 * Each of these is a bug in the caller.  The reference implementation
 * asserts against it, so the case ends in abort() before its last line.
 */
static struct gil *misuse_gil(void)
{
	struct gil *g;
	int err = gil_new(&g, 5);

	if (err)
		die_errno(-err, "gil_new");
	return g;
}

static void case_release_free(void)
{
	gil_release(misuse_gil());
	puts("returned");
}

static void *hold_forever(void *arg)
{
	gil_acquire(arg);
	return NULL;
}

static void case_release_other(void)
{
	struct gil *g = misuse_gil();
	pthread_t t;

	probe_thread(&t, hold_forever, g);
	PT_CHECK(pthread_join(t, NULL));
	gil_release(g);
	puts("returned");
}

static void case_yield_free(void)
{
	gil_yield(misuse_gil());
	puts("returned");
}

static void case_acquire_twice(void)
{
	struct gil *g = misuse_gil();

	gil_acquire(g);
	gil_acquire(g);
	puts("returned");
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"new",	 "alone",	 "block",	  "yield",	"fresh",	 "pingpong",
		"count", "release-free", "release-other", "yield-free", "acquire-twice", NULL,
	};
	static void (*const run[])(void) = {
		case_new,	    case_alone,	     case_block,	 case_yield,
		case_fresh,	    case_pingpong,   case_count,	 case_release_free,
		case_release_other, case_yield_free, case_acquire_twice,
	};
	static const struct option opts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int which = -1, c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'c':
			which = arg_choice("--case", optarg, names);
			break;
		case 'h':
			printf("usage: gil_probe --case NAME\n");
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (which < 0)
		usage_error("--case is required");
	watchdog_start(names[which], 20);
	run[which]();
	return 0;
}
