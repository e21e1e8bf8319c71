#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/*
 * Every value from the command line is quoted through wb_show() before it
 * goes into a message: a newline in it would make the one line two, and a
 * value of a thousand digits would push the reason off the end.
 */

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wb_vreport(" (see --help)", fmt, ap);
	va_end(ap);
	wb_exit(2);
}

/* The length of a "--name" or "--name=value" word's name. */
static size_t name_len(const char *word)
{
	const char *eq = strchr(word, '=');

	return eq ? (size_t)(eq - word - 2) : strlen(word + 2);
}

/* @word as typed, up to any "=value", shown for a message in @out. */
static const char *show_option(char out[WB_SHOW_VALUE], const char *word)
{
	char *name = strndup(word, name_len(word) + 2);

	if (!name)
		die_errno(ENOMEM, "strndup");
	wb_show(out, WB_SHOW_VALUE, name);
	free(name);
	return out;
}

/* Explain why getopt_long() rejected @word, in one line, and exit 2. */
static noreturn void reject(const char *word, const struct option *longopts)
{
	bool is_long = strncmp(word, "--", 2) == 0;
	size_t n = is_long ? name_len(word) : 0;
	char shown[WB_SHOW_VALUE];
	int matches = 0;

	if (optopt) {
		/*
		 * optopt holds the val of a long option that was given a value
		 * it does not take - or an unknown short option's letter.
		 */
		char letter[] = { '-', (char)optopt, '\0' };

		for (const struct option *o = longopts; is_long && o->name; o++)
			if (o->val == optopt && o->has_arg == no_argument && n <= strlen(o->name) &&
			    strncmp(o->name, word + 2, n) == 0)
				usage_error("option '--%s' takes no value", o->name);
		usage_error("unknown option '%s'", wb_show(shown, sizeof(shown), letter));
	}
	for (const struct option *o = longopts; is_long && o->name; o++)
		if (strncmp(o->name, word + 2, n) == 0)
			matches++;
	if (matches > 1)
		usage_error("option '%s' is ambiguous (it starts more than one option)",
			    show_option(shown, word));
	usage_error("unknown option '%s'", wb_show(shown, sizeof(shown), word));
}

int arg_next(int argc, char **argv, const struct option *longopts)
{
	char shown[WB_SHOW_VALUE];
	int c;

	opterr = 0; /* we print our own, single-line messages */
	c = getopt_long(argc, argv, ":", longopts, NULL);
	if (c == '?')
		reject(argv[optind - 1], longopts);
	if (c == ':')
		usage_error("%s needs a value", wb_show(shown, sizeof(shown), argv[optind - 1]));
	return c;
}

long arg_long(const char *flag, const char *text, long min, long max)
{
	char shown[WB_SHOW_VALUE], *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (end == text || *end != '\0' || isspace((unsigned char)text[0]) || text[0] == '+')
		usage_error("%s: '%s' is not a whole number", flag,
			    wb_show(shown, sizeof(shown), text));
	if (errno == ERANGE || v < min || v > max)
		usage_error("%s: %s is out of range (%ld to %ld)", flag,
			    wb_show(shown, sizeof(shown), text), min, max);
	return v;
}

int arg_choice(const char *flag, const char *text, const char *const choices[])
{
	char list[256] = "", shown[WB_SHOW_VALUE];

	for (int i = 0; choices[i]; i++) {
		if (strcmp(text, choices[i]) == 0)
			return i;
		if (i)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
		strncat(list, choices[i], sizeof(list) - strlen(list) - 1);
	}
	usage_error("%s: '%s' is not one of %s", flag, wb_show(shown, sizeof(shown), text), list);
}

void arg_no_operands(int argc, char **argv)
{
	char shown[WB_SHOW_VALUE];

	if (optind < argc)
		usage_error("unexpected argument '%s'",
			    wb_show(shown, sizeof(shown), argv[optind]));
}
