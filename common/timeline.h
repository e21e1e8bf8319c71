/*
 * timeline.h - record who ran what and when, then draw it.
 *
 * A timeline is a fixed-capacity list of spans: worker W ran job J from
 * time S to time E, drawn with mark character M ('=' for computing, '.' for
 * waiting on I/O, or whatever the program's legend says).  Drawn, it is the
 * picture of a real run:
 *
 *   Thread-1 |[0=======]  [3=======]          |
 *   Thread-2 |[1=======]  [4=======]          |
 *   Thread-3 |[2=======]                      |
 *            0s                            1.00s
 *
 * The spans live in memory mapped MAP_SHARED, so a timeline created before
 * fork() collects spans from the child processes as well as from threads.
 * timeline_add() is safe to call from any thread or process at any time;
 * drawing and dumping must happen after every writer has finished (joined or
 * reaped).  Times are clk_now_ns() values; the chart starts at the time the
 * timeline was created.
 */
#ifndef WB_TIMELINE_H
#define WB_TIMELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct timeline;

/*
 * A timeline with room for @capacity spans, in *@out.  Returns 0, -EINVAL
 * when @capacity is 0 or too large to map, or -ENOMEM.
 */
int timeline_new(struct timeline **out, size_t capacity);

/* Release it; only the process that created it may call this. */
void timeline_free(struct timeline *tl);

/*
 * Record one span.  Names longer than 23 bytes are cut short.  Returns 0, or
 * -ENOSPC once the timeline is full (the span is dropped and counted).
 */
int timeline_add(struct timeline *tl, const char *worker, const char *job, char mark,
		 int64_t start_ns, int64_t end_ns);

/* The number of spans recorded. */
size_t timeline_count(const struct timeline *tl);

/* The largest number of spans with mark @mark (0: any) open at one instant. */
int timeline_max_overlap(const struct timeline *tl, char mark);

/* Draw the chart, @width columns of time wide, one row per worker. */
void timeline_draw(const struct timeline *tl, FILE *out, int width);

/*
 * Print one machine-readable line per span, in the order recorded:
 * "span WORKER JOB MARK START END" with START and END in seconds since the
 * timeline was created.  Tests read this; people read timeline_draw().
 */
void timeline_dump(const struct timeline *tl, FILE *out);

#endif
