/*
 * co_probe.h - small helpers shared by chapter 03's coroutine drivers
 * (co_*.c): they print facts as "key=value" and leave the judging to
 * tests/03-core.bats.  A driver never hangs on a broken library: every
 * scene either ends by itself or is bounded by a timer of its own.
 */
#ifndef WB_CO_PROBE_H
#define WB_CO_PROBE_H

#include <errno.h>
#include <stdio.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"

/* "0", "-ECANCELED", ...: the codes co.h names. */
static inline const char *errname(int rc)
{
	switch (rc) {
	case 0:
		return "0";
	case -ECANCELED:
		return "-ECANCELED";
	case -ETIMEDOUT:
		return "-ETIMEDOUT";
	case -EDEADLK:
		return "-EDEADLK";
	case -EINVAL:
		return "-EINVAL";
	case -ENOMEM:
		return "-ENOMEM";
	case -EIO:
		return "-EIO";
	case -EPERM:
		return "-EPERM";
	case -ENOENT:
		return "-ENOENT";
	case -ESHUTDOWN:
		return "-ESHUTDOWN";
	}
	return "other";
}

/* Milliseconds since @start_ns, for "elapsed_ms=". */
static inline double ms_since(int64_t start_ns)
{
	return (double)(clk_now_ns() - start_ns) / CLK_NS_PER_MS;
}

/*
 * The whole main() of a driver whose only option is --case NAME: run the
 * case of that name.  @names is NULL-terminated; @run matches it.
 */
static inline int co_probe_main(int argc, char **argv, const char *const names[],
				void (*const run[])(void))
{
	enum { OPT_CASE = 1, OPT_HELP };
	static const struct option opts[] = {
		{ "case", required_argument, NULL, OPT_CASE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int which = -1, c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_CASE:
			which = arg_choice("--case", optarg, names);
			break;
		case OPT_HELP:
			printf("usage: %s --case NAME\n", wb_progname());
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	if (which < 0)
		usage_error("--case is required");
	run[which]();
	return 0;
}

#endif
