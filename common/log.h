/*
 * log.h - a thread-safe log that says when and who.
 *
 * Every line looks like "[+0.501s] Thread-2: Download complete!": the time
 * since the program started (wb_init) and the name of whoever wrote it.  The
 * name is per thread; a forked child names itself after its pid; a coroutine
 * passes its own name to log_as().
 *
 * Each line reaches stdout in a single write, so lines from threads, or from
 * processes sharing one pipe, never interleave mid-line.  Call fflush(NULL)
 * before fork() so that a child does not inherit unwritten output.
 */
#ifndef WB_LOG_H
#define WB_LOG_H

#include <stdint.h>

/* Start the clock the log measures from; wb_init() calls it. */
void log_start(void);

/* The monotonic time log_start() recorded. */
int64_t log_t0(void);

/* Name the calling thread in its log lines ("main" until set). */
void log_set_name(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The calling thread's log name. */
const char *log_name(void);

/* Log one line as the calling thread. */
void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log one line under an explicit name (a task, a request ...). */
void log_as(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
