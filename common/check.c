#include "check.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Long enough for any real program name; a stranger argv[0] is shortened. */
static char progname[40] = "workbook";

/*
 * The status wb_exit() was given; 0 while the program has not failed.
 * Atomic because any thread may fail, and read by the exit handler.
 */
static atomic_int failing;

/*
 * A program started with descriptor 0, 1 or 2 closed hands that number to
 * the next file it opens: its printf() would then write into a database or
 * a socket, and a child would inherit the file as its stdout.  So each
 * closed one gets /dev/null, opened the other way round (stdin for
 * writing, stdout and stderr for reading): a read or write through it
 * still fails with EBADF, as it would have, and nothing else can take its
 * number.
 */
static void occupy_closed_std_fds(void)
{
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		int got;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		/* The lower ones are open by now: open() returns fd itself. */
		got = open("/dev/null", fd == STDIN_FILENO ? O_WRONLY : O_RDONLY);
		if (got >= 0 && got != fd)
			close(got);
	}
}

/*
 * At exit: did everything printed on stdout reach it?  stdio keeps output
 * in a buffer, so a full disk or a closed stdout often shows only now, when
 * fclose() writes the last of it; an earlier failed write leaves just the
 * stream's error flag.  Closing, not only flushing, also catches an error
 * the file system reports at close (NFS does).  This is gnulib's
 * close_stdout(), the check every GNU tool makes.
 */
static void close_stdout(void)
{
	bool failed = ferror(stdout), pending = __fpending(stdout) > 0;
	int err = 0;

	/* The error flag keeps no errno; a write of nothing often tells why. */
	if (failed && write(STDOUT_FILENO, "", 0) < 0)
		err = errno;
	if (fclose(stdout) == 0) {
		if (!failed)
			return;
	} else if (errno == EBADF && !failed && !pending) {
		/*
		 * stdout was closed (and no /dev/null could hold its place),
		 * but nothing was printed, so nothing was lost.
		 */
		return;
	} else {
		err = errno;
	}
	/* A program that already failed has said so; its status stands. */
	if (atomic_load(&failing))
		return;
	fprintf(stderr, "%s: cannot write output: %s\n", progname,
		err ? strerror(err) : "an earlier write failed");
	_exit(1);
}

void wb_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0)
		wb_show(progname, sizeof(progname), slash ? slash + 1 : argv0);
	occupy_closed_std_fds();
	/* Registered first, so it runs last: after any handler that prints. */
	if (atexit(close_stdout) != 0)
		die("atexit failed");
	log_start();
}

const char *wb_progname(void)
{
	return progname;
}

/*
 * One failure, one line, one exit.  exit() runs the exit handlers and
 * flushes stdio, which two threads must not do at once, and two workers
 * that fail together would each print their own message.  So the first
 * thread to fail claims the exit; any other that fails after it sleeps
 * until that exit ends the whole program.  The thread that claimed it may
 * claim again (die() claims, then calls wb_exit()).
 */
static void claim_exit(void)
{
	static atomic_flag claimed = ATOMIC_FLAG_INIT;
	static _Thread_local bool mine;

	if (mine)
		return;
	if (atomic_flag_test_and_set(&claimed))
		for (;;)
			pause();
	mine = true;
}

void wb_exit(int status)
{
	claim_exit();
	atomic_store(&failing, status);
	exit(status);
}

/* The bytes @c takes when shown: 1, 2 for "\n", or 4 for "\x01". */
static size_t shown_len(unsigned char c)
{
	if (c == '\n' || c == '\t' || c == '\r')
		return 2;
	return c < 0x20 || c == 0x7f ? 4 : 1;
}

static char *put_shown(char *p, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	static const char plain[] = "\n\t\r", escaped[] = "ntr";
	const char *e = c ? strchr(plain, c) : NULL;

	if (e) {
		*p++ = '\\';
		*p++ = escaped[e - plain];
	} else if (shown_len(c) == 4) {
		*p++ = '\\';
		*p++ = 'x';
		*p++ = hex[c >> 4];
		*p++ = hex[c & 15];
	} else {
		*p++ = (char)c;
	}
	return p;
}

/* A UTF-8 continuation byte: it belongs to the byte before it. */
static bool utf8_continues(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

const char *wb_show(char *out, size_t size, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text), room = size - 1, used = 0, head, tail;
	char *p = out;

	assert(size >= 8);
	for (head = 0; head < len && used <= room; head++)
		used += shown_len(s[head]);
	if (used <= room) {
		tail = len; /* it all fits: no gap */
	} else {
		/* The head gets half of the room left beside "...", the tail the rest. */
		room -= 3;
		used = 0;
		for (head = 0; used + shown_len(s[head]) <= room / 2; head++)
			used += shown_len(s[head]);
		while (head > 0 && utf8_continues(s[head]))
			used -= shown_len(s[--head]);
		for (tail = len; tail > head && used + shown_len(s[tail - 1]) <= room; tail--)
			used += shown_len(s[tail - 1]);
		while (tail < len && utf8_continues(s[tail]))
			tail++;
	}
	for (size_t i = 0; i < head; i++)
		p = put_shown(p, s[i]);
	if (head < tail) {
		memcpy(p, "...", 3);
		p += 3;
	}
	for (size_t i = tail; i < len; i++)
		p = put_shown(p, s[i]);
	*p = '\0';
	return out;
}

/* A message's room when shown, so that a whole line stays near 200 bytes. */
#define MESSAGE_SHOWN 144

void wb_vreport(const char *after, const char *fmt, va_list ap)
{
	char fixed[256], shown[MESSAGE_SHOWN], *msg = fixed;
	va_list again;
	int n;

	/* Format it whole, however long, so that its end can be shown too. */
	va_copy(again, ap);
	n = vsnprintf(fixed, sizeof(fixed), fmt, ap);
	if (n < 0) {
		snprintf(fixed, sizeof(fixed), "(unprintable message: %s)", fmt);
	} else if (n >= (int)sizeof(fixed)) {
		msg = malloc((size_t)n + 1);
		if (msg)
			vsnprintf(msg, (size_t)n + 1, fmt, again);
		else
			msg = fixed; /* out of memory: its start will do */
	}
	va_end(again);
	fflush(stdout);
	fprintf(stderr, "%s: %s%s\n", progname, wb_show(shown, sizeof(shown), msg), after);
	if (msg != fixed)
		free(msg);
}

/* wb_vreport() with ": strerror(err)" after the message. */
__attribute__((format(printf, 2, 0))) static void vreport_errno(int err, const char *fmt,
								va_list ap)
{
	char after[128];

	snprintf(after, sizeof(after), ": %s", strerror(err));
	wb_vreport(after, fmt, ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	claim_exit();
	va_start(ap, fmt);
	wb_vreport("", fmt, ap);
	va_end(ap);
	wb_exit(1);
}

void die_errno(int err, const char *fmt, ...)
{
	va_list ap;

	claim_exit();
	va_start(ap, fmt);
	vreport_errno(err, fmt, ap);
	va_end(ap);
	wb_exit(1);
}

void pt_fail(int err, const char *call, const char *file, int line)
{
	fprintf(stderr, "%s: %s failed at %s:%d: %s\n", progname, call, file, line, strerror(err));
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
