/*
 * args.h - strict command-line parsing.
 *
 * A program declares its options with getopt_long's struct option table and
 * reads them with arg_next().  Anything wrong on the command line - an
 * unknown option, a missing value, "abc" where a number belongs, a number
 * out of range or too large for a long - produces exactly one line on
 * stderr, "prog: what is wrong (see --help)", and exit status 2.  A program
 * never falls back to a default in silence.
 *
 * One line means one line: the value quoted in a message is shown through
 * wb_show() (check.h), with control bytes escaped ("\n", "\x01") and a
 * very long value cut in the middle ("1234...6789"), so that the line stays
 * under about 200 bytes and always ends with the reason.  A program that
 * quotes a value in its own usage_error() does the same with wb_show().
 */
#ifndef WB_ARGS_H
#define WB_ARGS_H

#include <getopt.h>
#include <stdnoreturn.h>

/*
 * getopt_long() over @longopts (long options only), reporting mistakes as
 * described above.  Returns the option's val, or -1 at the first operand.
 */
int arg_next(int argc, char **argv, const struct option *longopts);

/* Parse @text as a whole number in [@min, @max] for option @flag. */
long arg_long(const char *flag, const char *text, long min, long max);

/* Parse @text as one of @choices (NULL-terminated); returns its index. */
int arg_choice(const char *flag, const char *text, const char *const choices[]);

/* Reject operands left after the options (argv[optind] onwards). */
void arg_no_operands(int argc, char **argv);

/*
 * Report a usage mistake in the standard form and exit with status 2
 * (through wb_exit(): a usage mistake stays status 2).
 */
noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
