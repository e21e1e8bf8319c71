/*
 * timeline_check - exercises common/timeline.c.
 *   --fixed    three hand-made spans with a known shape: draw and dump them
 *   --stress   THREADS threads and CHILDREN forked processes each add SPANS
 *              spans at once; prints how many arrived (every one must)
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "timeline.h"

#define THREADS 4
#define CHILDREN 3
#define SPANS 500

static struct timeline *tl;

static void add_spans(const char *who)
{
	for (int i = 0; i < SPANS; i++) {
		int64_t t = clk_now_ns();

		if (timeline_add(tl, who, "x", '=', t, t + 1000) != 0)
			die("timeline_add failed for %s", who);
	}
}

static void *thread_main(void *arg)
{
	char who[24];

	snprintf(who, sizeof(who), "Thread-%d", (int)(long)arg);
	add_spans(who);
	return NULL;
}

static void stress(void)
{
	pthread_t tids[THREADS];
	pid_t pids[CHILDREN];
	int status;

	for (int i = 0; i < CHILDREN; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die_errno(errno, "fork");
		if (pids[i] == 0) {
			char who[24];

			snprintf(who, sizeof(who), "Process-%d", i + 1);
			add_spans(who);
			_exit(0);
		}
	}
	for (int i = 0; i < THREADS; i++)
		PT_CHECK(pthread_create(&tids[i], NULL, thread_main, (void *)(long)(i + 1)));
	for (int i = 0; i < THREADS; i++)
		PT_CHECK(pthread_join(tids[i], NULL));
	for (int i = 0; i < CHILDREN; i++)
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			die("child %d failed", i + 1);
	printf("recorded=%zu expected=%d\n", timeline_count(tl), (THREADS + CHILDREN) * SPANS);
}

static void fixed(void)
{
	int64_t t0 = clk_now_ns(), ms = CLK_NS_PER_MS;

	/* A and B overlap from 50 to 100 ms; C starts just as A ends. */
	timeline_add(tl, "Worker-A", "1", '=', t0, t0 + 100 * ms);
	timeline_add(tl, "Worker-B", "2", '=', t0 + 50 * ms, t0 + 150 * ms);
	timeline_add(tl, "Worker-10", "3", '.', t0 + 100 * ms, t0 + 200 * ms);
	timeline_draw(tl, stdout, 40);
	timeline_dump(tl, stdout);
	printf("max_overlap=%d max_overlap_eq=%d\n", timeline_max_overlap(tl, 0),
	       timeline_max_overlap(tl, '='));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fixed", no_argument, NULL, 'f' },
		{ "stress", no_argument, NULL, 's' },
		{ 0 },
	};
	int c, rc, mode = 'f';

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1)
		mode = c;
	arg_no_operands(argc, argv);

	rc = timeline_new(&tl, (THREADS + CHILDREN) * SPANS);
	if (rc)
		die_errno(-rc, "timeline_new");
	if (mode == 'f')
		fixed();
	else
		stress();
	timeline_free(tl);
	return 0;
}
