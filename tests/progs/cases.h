/*
 * cases.h - the main() of a test driver that plays one scene per run,
 * chosen with --case NAME, shared by the drivers of every chapter.
 */
#ifndef WB_CASES_H
#define WB_CASES_H

#include <stdio.h>

#include "args.h"
#include "check.h"

/*
 * The whole main() of a driver whose only option is --case NAME: run the
 * case of that name.  @names is NULL-terminated; @run matches it.
 */
static inline int probe_main(int argc, char **argv, const char *const names[],
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
