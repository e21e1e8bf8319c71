/*
 * ex_pipeline.c - the driver of exercise 04-pipeline: runs the learner's
 * pipeline_run() (chapters/04-choosing/pipeline.h) on a workload it has
 * not seen, and prints what the checks judge as key=value:
 *
 *	ex_pipeline --url http://127.0.0.1:PORT [--count N] [--delay-ms MS]
 *	            [--limit N] [--workers N] [--rounds N] [--fail-at I]
 *	            [--dead-at I]
 *
 * Item i fetches /file?size=S_i&delay_ms=MS from the server at --url, with
 * S_i different for every item, so a result in the wrong place is a wrong
 * result.  Its transform is a real kernel: --rounds passes of 64-bit
 * FNV-1a over the body, each pass seeded with the one before.  The answer
 * is checked against the same transform run here, one item after another,
 * over the body the server's pattern defines (tests/fixtures/httpd.c).
 * --fail-at I makes item I ask for status 500, --dead-at I fetch from a
 * port nobody listens on: those items must fail alone, with -EREMOTEIO and
 * -ECONNREFUSED.
 *
 * It prints one line:
 *	items=N ok=N wrong=N failed=N first_wrong=I|none
 *	err_I=CODE status_I=S      for each failed item
 *	on_caller=N   transforms run on the thread that called pipeline_run
 *	elapsed_ms=   the call's wall time
 *	main_ms= main_cpu_ms= main_wakeups=   what the calling thread spent
 */
#define _GNU_SOURCE /* RUSAGE_THREAD in usage.h */

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../usage.h"
#include "args.h"
#include "check.h"
#include "pipeline.h"

#define MAX_COUNT 1000
#define URL_MAX 160
#define SIZE_BASE 1000 /* item i's body is SIZE_BASE + SIZE_STEP * i bytes */
#define SIZE_STEP 7
#define BODY_MAX (SIZE_BASE + SIZE_STEP * MAX_COUNT)
#define FNV64_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

/* What the transform is given: its rounds, and what it counts. */
struct kernel {
	long rounds;
	pthread_t caller;
	atomic_long on_caller; /* transforms that ran on the caller's thread */
};

static uint64_t fnv_rounds(const char *body, size_t len, const void *arg)
{
	struct kernel *k = (struct kernel *)arg;
	uint64_t h = FNV64_BASIS;

	/* A transform must not run on the thread that waits for the fetches. */
	if (pthread_equal(pthread_self(), k->caller))
		atomic_fetch_add(&k->on_caller, 1);
	for (long r = 0; r < k->rounds; r++)
		for (size_t i = 0; i < len; i++)
			h = (h ^ (unsigned char)body[i]) * FNV64_PRIME;
	return h;
}

/* The server's body, byte by byte: see pattern_fill() in httpd.c. */
static void pattern(char *dst, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char line[17];

		snprintf(line, sizeof(line), "%015zx\n", i - i % 16);
		dst[i] = line[i % 16];
	}
}

static size_t item_size(size_t i)
{
	return SIZE_BASE + SIZE_STEP * i;
}

static const char *code_name(int err, char *buf, size_t len)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
		{ 0, "0" },
		{ -ECONNREFUSED, "-ECONNREFUSED" },
		{ -EREMOTEIO, "-EREMOTEIO" },
		{ -ETIMEDOUT, "-ETIMEDOUT" },
		{ -ECONNRESET, "-ECONNRESET" },
		{ -EMSGSIZE, "-EMSGSIZE" },
		{ -ECANCELED, "-ECANCELED" },
		{ -ENOMEM, "-ENOMEM" },
		{ -EIO, "-EIO" },
		{ -EINVAL, "-EINVAL" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(buf, len, "%d", err);
	return buf;
}

/*
 * A loopback port that refuses connections: bound, so nobody else gets it
 * while we run, but not listening.  Returns the socket; *port is its port.
 */
static int dead_port(int *port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die_errno(errno, "socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &alen) < 0)
		die_errno(errno, "binding a port for --dead-at");
	*port = ntohs(addr.sin_port);
	return fd;
}

static void usage(void)
{
	printf("usage: %s --url http://127.0.0.1:PORT [--count N] [--delay-ms MS]\n"
	       "       [--limit N] [--workers N] [--rounds N] [--fail-at I] [--dead-at I]\n"
	       "Run pipeline_run() (exercise 04-pipeline) over N fetches from the\n"
	       "workbook's server at --url and check every result.\n"
	       "  --count N     items (1 to %d, default 200)\n"
	       "  --delay-ms MS the server's delay for each (default 100)\n"
	       "  --limit N     fetches in flight at most (default 20)\n"
	       "  --workers N   threads for the transforms (default 2)\n"
	       "  --rounds N    passes of the transform over each body (default 200)\n"
	       "  --fail-at I   item I gets status 500\n"
	       "  --dead-at I   item I fetches from a port nobody listens on\n",
	       wb_progname(), MAX_COUNT);
}

struct options {
	const char *url;
	long count, delay_ms, limit, workers, rounds, fail_at, dead_at;
};

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "count", required_argument, NULL, 'n' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "limit", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "fail-at", required_argument, NULL, 'f' },
		{ "dead-at", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = arg_next(argc, argv, longopts)) != -1) {
		switch (c) {
		case 'u':
			o->url = optarg;
			break;
		case 'n':
			o->count = arg_long("--count", optarg, 1, MAX_COUNT);
			break;
		case 'd':
			o->delay_ms = arg_long("--delay-ms", optarg, 0, 10000);
			break;
		case 'l':
			o->limit = arg_long("--limit", optarg, 1, MAX_COUNT);
			break;
		case 'w':
			o->workers = arg_long("--workers", optarg, 1, 64);
			break;
		case 'r':
			o->rounds = arg_long("--rounds", optarg, 0, 100000);
			break;
		case 'f':
			o->fail_at = arg_long("--fail-at", optarg, 0, MAX_COUNT - 1);
			break;
		case 'D':
			o->dead_at = arg_long("--dead-at", optarg, 0, MAX_COUNT - 1);
			break;
		case 'h':
			usage();
			exit(0);
		}
	}
	arg_no_operands(argc, argv);
	if (!o->url)
		usage_error("--url is required (the workbook's server, http://127.0.0.1:PORT)");
	if (strlen(o->url) > URL_MAX - 64)
		usage_error("--url is too long");
	if (o->fail_at >= o->count || o->dead_at >= o->count)
		usage_error("--fail-at and --dead-at name an item below --count");
}

/* Item i's URL; --fail-at and --dead-at bend two of them. */
static void make_url(char *url, const struct options *o, long i, int dead)
{
	if (i == o->dead_at)
		snprintf(url, URL_MAX, "http://127.0.0.1:%d/file", dead);
	else if (i == o->fail_at)
		snprintf(url, URL_MAX, "%s/file?size=%zu&delay_ms=%ld&status=500", o->url,
			 item_size((size_t)i), o->delay_ms);
	else
		snprintf(url, URL_MAX, "%s/file?size=%zu&delay_ms=%ld", o->url,
			 item_size((size_t)i), o->delay_ms);
}

int main(int argc, char **argv)
{
	struct options o = { .count = 200,
			     .delay_ms = 100,
			     .limit = 20,
			     .workers = 2,
			     .rounds = 200,
			     .fail_at = -1,
			     .dead_at = -1 };
	struct kernel k;
	struct pipeline_result *res;
	struct usage before, after;
	char(*urls)[URL_MAX], *body, code[16];
	const char **list;
	long ok = 0, wrong = 0, failed = 0, first_wrong = -1, on_caller;
	int rc, dead = 0, dead_fd = -1;
	CURLcode crc;

	wb_init(argv[0]);
	parse_options(argc, argv, &o);
	/* No other thread exists yet: curl_global_init() is not thread-safe. */
	crc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (crc != CURLE_OK)
		die("curl_global_init: %s", curl_easy_strerror(crc));
	if (o.dead_at >= 0)
		dead_fd = dead_port(&dead);
	urls = xcalloc((size_t)o.count, sizeof(*urls));
	list = xcalloc((size_t)o.count, sizeof(*list));
	res = xcalloc((size_t)o.count, sizeof(*res));
	for (long i = 0; i < o.count; i++) {
		make_url(urls[i], &o, i, dead);
		list[i] = urls[i];
		res[i] = (struct pipeline_result){ .err = 1, .status = -1, .value = 0 };
	}
	k = (struct kernel){ .rounds = o.rounds, .caller = pthread_self() };
	atomic_init(&k.on_caller, 0);

	struct pipeline_job job = { .urls = list,
				    .n = (size_t)o.count,
				    .limit = (size_t)o.limit,
				    .workers = (int)o.workers,
				    .body_max = BODY_MAX,
				    .timeout_ms = 10000,
				    .transform = fnv_rounds,
				    .transform_arg = &k };
	before = usage_now();
	rc = pipeline_run(&job, res);
	after = usage_now();
	on_caller = atomic_load(&k.on_caller);
	if (dead_fd >= 0)
		close(dead_fd);
	if (rc == -ENOSYS)
		die("pipeline_run is not written yet: see TODO(04-pipeline) in "
		    "exercises/04-choosing/pipeline.c and `build/workbook hint 04-pipeline`");
	if (rc)
		die("pipeline_run: %s", strerror(-rc));

	/* The reference: the same transform, one item after another, here. */
	body = xmalloc(BODY_MAX);
	pattern(body, BODY_MAX);
	printf("items=%ld", o.count);
	for (long i = 0; i < o.count; i++) {
		uint64_t want;

		if (res[i].err) {
			failed++;
			printf(" err_%ld=%s status_%ld=%ld", i,
			       code_name(res[i].err, code, sizeof(code)), i, res[i].status);
			continue;
		}
		want = fnv_rounds(body, item_size((size_t)i), &k);
		if (res[i].value == want) {
			ok++;
		} else {
			wrong++;
			if (first_wrong < 0)
				first_wrong = i;
		}
	}
	printf(" ok=%ld wrong=%ld failed=%ld first_wrong=", ok, wrong, failed);
	if (first_wrong < 0)
		printf("none");
	else
		printf("%ld", first_wrong);
	printf(" on_caller=%ld elapsed_ms=%.0f ", on_caller,
	       (double)(after.wall_ns - before.wall_ns) / CLK_NS_PER_MS);
	usage_print("main", before, after);
	printf("\n");
	free(body);
	free(res);
	free(list);
	free(urls);
	curl_global_cleanup();
	return 0;
}
