/*
 * stress.c - many tiny tasks from several threads: does each run exactly
 * once, and does each result reach its caller?
 *
 *	stress [--tasks N] [--workers N] [--submitters N] [--mode submit|map]
 *
 * Task i adds one to runs[i].  Submitters take every S-th task (submit
 * mode; half of those futures are dropped at once, "fire and forget") or
 * a slice (map mode).  After executor_free() every count must be 1.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "args.h"
#include "probe.h"

struct stress {
	struct executor *ex;
	atomic_int *runs;
	size_t tasks;
	int submitters;
	bool map;
	atomic_long wrong; /* results that came back wrong */
};

struct submitter {
	struct stress *st;
	int index;
	pthread_t thread;
};

static int count_task(void *arg, void **result, char *err, size_t errlen)
{
	atomic_int *slot = arg;

	(void)err, (void)errlen;
	atomic_fetch_add_explicit(slot, 1, memory_order_relaxed);
	*result = slot;
	return 0;
}

static void submit_share(struct stress *st, int index)
{
	size_t n = (st->tasks + (size_t)st->submitters - 1) / (size_t)st->submitters;
	struct future **fs = xcalloc(n, sizeof(*fs));
	size_t k = 0;

	for (size_t i = (size_t)index; i < st->tasks; i += (size_t)st->submitters) {
		struct future *f = probe_submit(st->ex, count_task, &st->runs[i]);

		if (k % 2) {
			future_unref(f); /* fire and forget */
			fs[k++] = NULL;
		} else {
			fs[k++] = f;
		}
	}
	/*
	 * One deadline for all the waits: a broken pool that loses tasks then
	 * shows up as wrong results within a minute, not as one 10 s wait per
	 * lost task.
	 */
	int64_t deadline = clk_deadline_ms(60000);

	k = 0;
	for (size_t i = (size_t)index; i < st->tasks; i += (size_t)st->submitters, k++) {
		void *value = NULL;
		int64_t left_ms = (deadline - clk_now_ns()) / CLK_NS_PER_MS;
		int rc;

		if (!fs[k])
			continue;
		rc = future_result(fs[k], left_ms > 0 ? left_ms : 0, &value);
		if (rc != 0 || value != &st->runs[i])
			atomic_fetch_add(&st->wrong, 1);
		future_unref(fs[k]);
	}
	free(fs);
}

static void map_slice(struct stress *st, int index)
{
	size_t per = (st->tasks + (size_t)st->submitters - 1) / (size_t)st->submitters;
	size_t from = (size_t)index * per;
	size_t to = from + per < st->tasks ? from + per : st->tasks;
	size_t n = from < to ? to - from : 0;
	void **args = xcalloc(n, sizeof(*args));
	void **results = xcalloc(n, sizeof(*results));
	char err[EXECUTOR_ERRMAX];
	int rc;

	for (size_t i = 0; i < n; i++)
		args[i] = &st->runs[from + i];
	rc = executor_map(st->ex, count_task, args, n, results, 60000, err, sizeof(err));
	if (rc)
		die("executor_map: %s", err[0] ? err : executor_strerror(rc));
	for (size_t i = 0; i < n; i++)
		if (results[i] != args[i])
			atomic_fetch_add(&st->wrong, 1);
	free(results);
	free(args);
}

static void *submitter_main(void *arg)
{
	struct submitter *s = arg;

	if (s->st->map)
		map_slice(s->st, s->index);
	else
		submit_share(s->st, s->index);
	return NULL;
}

int main(int argc, char **argv)
{
	enum { OPT_TASKS = 1, OPT_WORKERS, OPT_SUBMITTERS, OPT_MODE, OPT_HELP };
	static const struct option opts[] = {
		{ "tasks", required_argument, NULL, OPT_TASKS },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "submitters", required_argument, NULL, OPT_SUBMITTERS },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const modes[] = { "submit", "map", NULL };
	struct stress st = { .tasks = 100000, .submitters = 2 };
	struct submitter *subs;
	long workers = 4, once = 0, never = 0, more = 0;
	int c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_TASKS:
			st.tasks = (size_t)arg_long("--tasks", optarg, 1, 1000000);
			break;
		case OPT_WORKERS:
			workers = arg_long("--workers", optarg, 1, 64);
			break;
		case OPT_SUBMITTERS:
			st.submitters = (int)arg_long("--submitters", optarg, 1, 16);
			break;
		case OPT_MODE:
			st.map = arg_choice("--mode", optarg, modes) == 1;
			break;
		case OPT_HELP:
			printf("usage: %s [--tasks N (at most 1000000)] [--workers N] [--submitters N] [--mode submit|map]\n",
			       wb_progname());
			return 0;
		}
	}
	arg_no_operands(argc, argv);

	st.runs = xcalloc(st.tasks, sizeof(*st.runs));
	for (size_t i = 0; i < st.tasks; i++)
		atomic_init(&st.runs[i], 0);
	atomic_init(&st.wrong, 0);
	st.ex = probe_executor((int)workers, "stress");

	subs = xcalloc((size_t)st.submitters, sizeof(*subs));
	for (int i = 0; i < st.submitters; i++) {
		int rc;

		subs[i] = (struct submitter){ .st = &st, .index = i };
		rc = pthread_create(&subs[i].thread, NULL, submitter_main, &subs[i]);
		if (rc)
			die_errno(rc, "pthread_create");
	}
	for (int i = 0; i < st.submitters; i++)
		PT_CHECK(pthread_join(subs[i].thread, NULL));
	/* Every task, the forgotten ones included, has run once this returns. */
	executor_free(st.ex);

	for (size_t i = 0; i < st.tasks; i++) {
		int n = atomic_load(&st.runs[i]);

		once += n == 1;
		never += n == 0;
		more += n > 1;
	}
	printf("tasks=%zu once=%ld never=%ld more=%ld wrong_results=%ld\n", st.tasks, once, never,
	       more, atomic_load(&st.wrong));
	free(subs);
	free(st.runs);
	return 0;
}
