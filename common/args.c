#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

void usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "%s: %s (see --help)\n", wb_progname(), msg);
	exit(2);
}

int arg_next(int argc, char **argv, const struct option *longopts)
{
	int c;

	opterr = 0;	/* we print our own, single-line messages */
	c = getopt_long(argc, argv, ":", longopts, NULL);
	if (c == '?') {
		const char *bad = argv[optind - 1];

		const char *eq = strchr(bad, '=');

		if (optopt && strncmp(bad, "--", 2) != 0)
			usage_error("unknown option '-%c'", optopt);
		/* "--flag=x" for an option that takes no value. */
		for (const struct option *o = longopts; eq && o->name; o++)
			if (strlen(o->name) == (size_t)(eq - bad - 2) &&
			    strncmp(o->name, bad + 2, (size_t)(eq - bad - 2)) == 0)
				usage_error("option '--%s' takes no value", o->name);
		usage_error("unknown option '%s'", bad);
	}
	if (c == ':')
		usage_error("%s needs a value", argv[optind - 1]);
	return c;
}

long arg_long(const char *flag, const char *text, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (end == text || *end != '\0' || isspace((unsigned char)text[0]) ||
	    text[0] == '+')
		usage_error("%s: '%s' is not a whole number", flag, text);
	if (errno == ERANGE || v < min || v > max)
		usage_error("%s: %s is out of range (%ld to %ld)", flag, text,
			    min, max);
	return v;
}

int arg_choice(const char *flag, const char *text, const char *const choices[])
{
	char list[256] = "";

	for (int i = 0; choices[i]; i++) {
		if (strcmp(text, choices[i]) == 0)
			return i;
		if (i)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, choices[i], sizeof(list) - strlen(list) - 1);
	}
	usage_error("%s: '%s' is not one of %s", flag, text, list);
}

void arg_no_operands(int argc, char **argv)
{
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}
