/*
 * srv_head.c - the promises of http_head.h, for tests/03-server.bats.
 *
 *   srv_head [--max N] HEAD
 *
 * parses HEAD (the bytes a client sent; a test writes CR and LF with
 * bash's $'...') the way a server that reads it a piece at a time would:
 * every prefix of it, one byte longer each time.  Each prefix must say
 * "not yet" until one prefix decides, and every longer prefix must decide
 * the same way: a parse that changed its mind as more bytes came would
 * serve one request in two ways depending on how the network cut it.  It
 * prints what was decided, and after how many bytes:
 *
 *   complete at=N size=N method=GET target=/x minor=1 keep_alive=1 has_body=0
 *   too_large at=N
 *   malformed at=N
 *   incomplete
 *
 * or "inconsistent at=N" (status 1) if a longer prefix disagreed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "check.h"
#include "http_head.h"

#define MAX_LIMIT 65536L

static const char *verdict(int rc)
{
	switch (rc) {
	case 1:
		return "complete";
	case 0:
		return "incomplete";
	case -EMSGSIZE:
		return "too_large";
	case -EBADMSG:
		return "malformed";
	}
	return "unknown";
}

static void usage(void)
{
	printf("usage: %s [--max N] HEAD\n"
	       "Parse HEAD one byte more at a time with http_head_parse(); say what\n"
	       "was decided and after how many bytes.\n"
	       "  --max N   the most bytes of head accepted (default 8192, at most %ld)\n",
	       wb_progname(), MAX_LIMIT);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "max", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_head h, first = { 0 };
	long max = 8192;
	const char *text;
	size_t len, at = 0;
	int c, decided = 0;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, longopts)) != -1) {
		if (c == 'm')
			max = arg_long("--max", optarg, 1, MAX_LIMIT);
		if (c == 'h') {
			usage();
			return 0;
		}
	}
	if (argc - optind != 1)
		usage_error("expected one HEAD operand");
	text = argv[optind];
	len = strlen(text);

	for (size_t n = 0; n <= len; n++) {
		int rc = http_head_parse(&h, text, n, (size_t)max);

		if (!decided && rc != 0) {
			decided = rc;
			at = n;
			if (rc == 1)
				first = h;
		} else if (decided && (rc != decided || (rc == 1 && h.size != first.size))) {
			printf("inconsistent at=%zu was=%s now=%s\n", n, verdict(decided),
			       verdict(rc));
			return 1;
		}
	}
	if (decided == 1)
		printf("complete at=%zu size=%zu method=%.*s target=%.*s minor=%d keep_alive=%d "
		       "has_body=%d\n",
		       at, first.size, (int)first.method_len, first.method, (int)first.target_len,
		       first.target, first.minor, first.keep_alive, first.has_body);
	else if (decided)
		printf("%s at=%zu\n", verdict(decided), at);
	else
		printf("incomplete\n");
	return 0;
}
