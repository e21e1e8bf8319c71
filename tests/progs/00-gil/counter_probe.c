/*
 * counter_probe.c - the promises of counter.h, one scene per --case:
 *
 *   new      the constructors' contract, for both counters
 *   sizes    add(c, n) adds n, whatever n is: one thread, then several
 *            threads adding different amounts at once
 *   hammer   threads add as fast as they can for --ms milliseconds while
 *            a reader watches the total: no add lost, and the reader never
 *            sees the total go down or pass the final count
 *
 * --counter mutex|atomic picks the counter (sizes, hammer).  hammer runs
 * for a time rather than a number of adds, so the threads overlap for the
 * whole run however fast the machine is.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD, in probe.h */
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "args.h"
#include "counter.h"
#include "probe.h"

/* One interface over the two counters, so each scene is written once. */
struct counter {
	struct mutex_counter *m; /* exactly one of the two is set */
	struct atomic_counter *a;
};

static struct counter counter_make(bool atomic)
{
	struct counter c = { NULL, NULL };
	int err = atomic ? atomic_counter_new(&c.a) : mutex_counter_new(&c.m);

	if (err)
		die_errno(-err, atomic ? "atomic_counter_new" : "mutex_counter_new");
	return c;
}

static void counter_add(struct counter *c, long n)
{
	if (c->a)
		atomic_counter_add(c->a, n);
	else
		mutex_counter_add(c->m, n);
}

static long counter_get(struct counter *c)
{
	return c->a ? atomic_counter_get(c->a) : mutex_counter_get(c->m);
}

static void counter_drop(struct counter *c)
{
	atomic_counter_free(c->a);
	mutex_counter_free(c->m);
}

/* ------------------------------------------------------------ new */

static void case_new(void)
{
	struct mutex_counter *const msent = (struct mutex_counter *)&msent;
	struct atomic_counter *const asent = (struct atomic_counter *)&asent;
	struct mutex_counter *m = msent;
	struct atomic_counter *a = asent;
	int mnull = mutex_counter_new(NULL), anull = atomic_counter_new(NULL);
	int mok = mutex_counter_new(&m), aok = atomic_counter_new(&a);

	printf("mutex_null=%s atomic_null=%s mutex_ok=%s atomic_ok=%s\n", errname(mnull),
	       errname(anull), errname(mok), errname(aok));
	if (mok || aok || m == msent || a == asent)
		return;
	printf("mutex_fresh=%ld atomic_fresh=%ld\n", mutex_counter_get(m), atomic_counter_get(a));
	mutex_counter_free(m);
	atomic_counter_free(a);
	mutex_counter_free(NULL);
	atomic_counter_free(NULL);
}

/* ------------------------------------------------------------ sizes */

#define SIZES_THREADS 4
#define SIZES_ADDS 20000

struct sizer {
	struct counter *c;
	long n;
	pthread_barrier_t *start;
	pthread_t thread;
};

static void barrier_wait(pthread_barrier_t *b)
{
	int err = pthread_barrier_wait(b);

	if (err && err != PTHREAD_BARRIER_SERIAL_THREAD)
		pt_fail(err, "pthread_barrier_wait", __FILE__, __LINE__);
}

static void *sizer_main(void *arg)
{
	struct sizer *s = arg;

	barrier_wait(s->start);
	for (int i = 0; i < SIZES_ADDS; i++)
		counter_add(s->c, s->n);
	return NULL;
}

static void case_sizes(bool atomic)
{
	/* Thread i adds amounts[i] each time; one of them subtracts. */
	static const long amounts[SIZES_THREADS] = { 1, 7, -3, 1000 };
	struct counter c = counter_make(atomic);
	struct sizer s[SIZES_THREADS];
	pthread_barrier_t start;
	long fresh, one, big, expected = 0;

	fresh = counter_get(&c);
	counter_add(&c, 5);
	counter_add(&c, -2);
	counter_add(&c, 0);
	one = counter_get(&c);
	counter_add(&c, LONG_MAX - 3);
	big = counter_get(&c);
	counter_add(&c, -(LONG_MAX - 3) - 3);
	printf("fresh=%ld after_5_-2_0=%ld after_big=%ld back_to=%ld\n", fresh, one, big,
	       counter_get(&c));

	PT_CHECK(pthread_barrier_init(&start, NULL, SIZES_THREADS));
	for (int i = 0; i < SIZES_THREADS; i++) {
		s[i] = (struct sizer){ .c = &c, .n = amounts[i], .start = &start };
		expected += amounts[i] * SIZES_ADDS;
		probe_thread(&s[i].thread, sizer_main, &s[i]);
	}
	for (int i = 0; i < SIZES_THREADS; i++)
		PT_CHECK(pthread_join(s[i].thread, NULL));
	PT_CHECK(pthread_barrier_destroy(&start));
	printf("expected=%ld counted=%ld\n", expected, counter_get(&c));
	counter_drop(&c);
}

/* ------------------------------------------------------------ hammer */

struct hammer {
	struct counter *c;
	atomic_bool stop;
	pthread_barrier_t start;
};

struct adder {
	struct hammer *h;
	long adds; /* this thread's own count */
	pthread_t thread;
};

static void *adder_main(void *arg)
{
	struct adder *a = arg;

	barrier_wait(&a->h->start);
	while (!atomic_load_explicit(&a->h->stop, memory_order_relaxed)) {
		counter_add(a->h->c, 1);
		a->adds++;
	}
	return NULL;
}

struct reader {
	struct hammer *h;
	long reads, backwards, last;
	pthread_t thread;
};

/* Read the total over and over while the adders run. */
static void *reader_main(void *arg)
{
	struct reader *r = arg;

	barrier_wait(&r->h->start);
	while (!atomic_load_explicit(&r->h->stop, memory_order_relaxed)) {
		long v = counter_get(r->h->c);

		if (v < r->last)
			r->backwards++;
		r->last = v;
		r->reads++;
	}
	return NULL;
}

static void case_hammer(bool atomic, int threads, long ms)
{
	struct counter c = counter_make(atomic);
	struct hammer h = { .c = &c };
	struct adder *adders = xcalloc((size_t)threads, sizeof(*adders));
	struct reader r = { .h = &h };
	long expected = 0, counted;

	atomic_init(&h.stop, false);
	PT_CHECK(pthread_barrier_init(&h.start, NULL, (unsigned)threads + 2));
	for (int i = 0; i < threads; i++) {
		adders[i].h = &h;
		probe_thread(&adders[i].thread, adder_main, &adders[i]);
	}
	probe_thread(&r.thread, reader_main, &r);
	barrier_wait(&h.start);
	clk_sleep_ms(ms);
	atomic_store(&h.stop, true);
	for (int i = 0; i < threads; i++) {
		PT_CHECK(pthread_join(adders[i].thread, NULL));
		expected += adders[i].adds;
	}
	PT_CHECK(pthread_join(r.thread, NULL));
	PT_CHECK(pthread_barrier_destroy(&h.start));
	counted = counter_get(&c);
	printf("threads=%d expected=%ld counted=%ld lost=%ld reads=%ld "
	       "backwards=%ld last_read=%ld above_final=%s\n",
	       threads, expected, counted, expected - counted, r.reads, r.backwards, r.last,
	       r.last > counted ? "yes" : "no");
	free(adders);
	counter_drop(&c);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "new", "sizes", "hammer", NULL };
	static const char *const kinds[] = { "mutex", "atomic", NULL };
	static const struct option opts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ "counter", required_argument, NULL, 'k' },
		{ "threads", required_argument, NULL, 't' },
		{ "ms", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int which = -1, threads = 4, c;
	bool atomic = false;
	long ms = 300;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'c':
			which = arg_choice("--case", optarg, names);
			break;
		case 'k':
			atomic = arg_choice("--counter", optarg, kinds) == 1;
			break;
		case 't':
			threads = (int)arg_long("--threads", optarg, 1, 256);
			break;
		case 'm':
			ms = arg_long("--ms", optarg, 1, 10000);
			break;
		case 'h':
			printf("usage: counter_probe --case new|sizes|hammer "
			       "[--counter mutex|atomic] [--threads N] [--ms MS]\n");
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (which < 0)
		usage_error("--case is required");
	watchdog_start(names[which], 60);
	switch (which) {
	case 0:
		case_new();
		break;
	case 1:
		case_sizes(atomic);
		break;
	default:
		case_hammer(atomic, threads, ms);
		break;
	}
	return 0;
}
