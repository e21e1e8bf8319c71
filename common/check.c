#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *progname = "workbook";

void wb_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0)
		progname = slash ? slash + 1 : argv0;
	log_start();
}

const char *wb_progname(void)
{
	return progname;
}

__attribute__((format(printf, 2, 0)))
static void vreport(int err, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Anything the program printed so far must appear before the error. */
	fflush(stdout);
	if (err)
		fprintf(stderr, "%s: %s: %s\n", progname, msg, strerror(err));
	else
		fprintf(stderr, "%s: %s\n", progname, msg);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(0, fmt, ap);
	va_end(ap);
	exit(1);
}

void die_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(err, fmt, ap);
	va_end(ap);
	exit(1);
}

void pt_fail(int err, const char *call, const char *file, int line)
{
	fprintf(stderr, "%s: %s failed at %s:%d: %s\n", progname, call, file,
		line, strerror(err));
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		die_errno(ENOMEM, "malloc(%zu)", size);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (!p)
		die_errno(ENOMEM, "calloc(%zu, %zu)", count, size);
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die_errno(ENOMEM, "strdup");
	return p;
}
