/*
 * args_check - drives common/args.c and common/check.c from the tests:
 * parses --count (1..10), --big (any long) and --color (red|green), then
 * prints what it read.  --fail shows how die_errno() reports a failed call;
 * --open PATH creates PATH as a program creates its own files (and dies
 * naming PATH if it cannot); --say TEXT prints TEXT at once, so that what
 * happens after output was printed can be tried; --quiet prints nothing.
 * --fail-together has four threads call die() at the same moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "args.h"
#include "check.h"

/* Each thread waits until all have arrived, then they fail at once. */
static void *fail_at_once(void *barrier)
{
	pthread_barrier_wait(barrier);
	die("a thread failed");
}

static void fail_together(void)
{
	pthread_barrier_t barrier;
	pthread_t t[4];

	PT_CHECK(pthread_barrier_init(&barrier, NULL, 4));
	for (int i = 0; i < 4; i++)
		PT_CHECK(pthread_create(&t[i], NULL, fail_at_once, &barrier));
	for (int i = 0; i < 4; i++)
		PT_CHECK(pthread_join(t[i], NULL));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "big", required_argument, NULL, 'b' },
		{ "color", required_argument, NULL, 'o' },
		{ "flag", no_argument, NULL, 'f' },
		{ "fail", no_argument, NULL, 'F' },
		{ "fail-together", no_argument, NULL, 'T' },
		{ "open", required_argument, NULL, 'O' },
		{ "say", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 },
	};
	static const char *const colors[] = { "red", "green", NULL };
	long count = 1, big = 0;
	int color = 0, flag = 0, quiet = 0, fd = -1, c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case 'c':
			count = arg_long("--count", optarg, 1, 10);
			break;
		case 'b':
			big = arg_long("--big", optarg, LONG_MIN, LONG_MAX);
			break;
		case 'o':
			color = arg_choice("--color", optarg, colors);
			break;
		case 'f':
			flag = 1;
			break;
		case 'F':
			die_errno(ENOENT, "opening %s", "nowhere.txt");
		case 'T':
			fail_together();
			break;
		case 'O':
			if (fd >= 0)
				close(fd);
			fd = open(optarg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0)
				die_errno(errno, "cannot create %s", optarg);
			break;
		case 's':
			printf("%s\n", optarg);
			break;
		case 'q':
			quiet = 1;
			break;
		}
	}
	arg_no_operands(argc, argv);
	if (!quiet)
		printf("count=%ld big=%ld color=%s flag=%d\n", count, big, colors[color], flag);
	if (fd >= 0)
		close(fd);
	return 0;
}
