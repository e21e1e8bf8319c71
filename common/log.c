#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"

static int64_t t0_ns;
static _Thread_local char thread_name[32] = "main";

void log_start(void)
{
	t0_ns = clk_now_ns();
}

int64_t log_t0(void)
{
	return t0_ns;
}

void log_set_name(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(thread_name, sizeof(thread_name), fmt, ap);
	va_end(ap);
}

const char *log_name(void)
{
	return thread_name;
}

__attribute__((format(printf, 2, 0))) static void vlog(const char *who, const char *fmt, va_list ap)
{
	char line[1024];
	size_t len;
	int n;

	n = snprintf(line, sizeof(line), "[+%.3fs] %s: ", clk_since(t0_ns), who);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* A line too long for the buffer is cut, but still ends the line. */
	len = strlen(line);
	if (len == sizeof(line) - 1)
		len--;
	line[len++] = '\n';
	/*
	 * Holding the stream lock keeps the line whole among threads.  Among
	 * processes sharing a pipe, the line must reach the kernel in one
	 * write(): so first flush whatever the program printed before (or the
	 * line could be split to top up a part-full buffer), then the line.
	 */
	flockfile(stdout);
	fflush(stdout);
	fwrite(line, 1, len, stdout);
	fflush(stdout);
	funlockfile(stdout);
}

void log_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(thread_name, fmt, ap);
	va_end(ap);
}

void log_as(const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(who, fmt, ap);
	va_end(ap);
}
