#include "timeline.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"

#define NAME_LEN 24

struct span {
	int64_t start_ns, end_ns;
	char worker[NAME_LEN];
	char job[NAME_LEN];
	char mark;
};

/*
 * The whole timeline is one shared mapping: this header, then the spans.
 * Writers claim a slot with one atomic increment, so threads and processes
 * never write the same slot and never wait for each other.
 */
struct timeline {
	size_t capacity;
	size_t map_size;
	int64_t t0_ns;
	atomic_size_t claimed;
	struct span spans[];
};

int timeline_new(struct timeline **out, size_t capacity)
{
	size_t size;
	struct timeline *tl;

	if (capacity == 0 || capacity > (SIZE_MAX - sizeof(struct timeline)) / sizeof(struct span))
		return -EINVAL;
	size = sizeof(struct timeline) + capacity * sizeof(struct span);
	/* Shared, so that forked children record into the parent's copy. */
	tl = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tl == MAP_FAILED)
		return -ENOMEM;
	tl->capacity = capacity;
	tl->map_size = size;
	tl->t0_ns = clk_now_ns();
	atomic_init(&tl->claimed, 0);
	*out = tl;
	return 0;
}

void timeline_free(struct timeline *tl)
{
	if (tl)
		munmap(tl, tl->map_size);
}

int timeline_add(struct timeline *tl, const char *worker, const char *job, char mark,
		 int64_t start_ns, int64_t end_ns)
{
	size_t i = atomic_fetch_add(&tl->claimed, 1);
	struct span *s;

	if (i >= tl->capacity)
		return -ENOSPC;
	s = &tl->spans[i];
	s->start_ns = start_ns;
	s->end_ns = end_ns < start_ns ? start_ns : end_ns;
	snprintf(s->worker, NAME_LEN, "%s", worker);
	snprintf(s->job, NAME_LEN, "%s", job ? job : "");
	s->mark = mark ? mark : '=';
	return 0;
}

size_t timeline_count(const struct timeline *tl)
{
	size_t n = atomic_load(&((struct timeline *)tl)->claimed);

	return n < tl->capacity ? n : tl->capacity;
}

struct event {
	int64_t t;
	int delta;
};

static int event_cmp(const void *a, const void *b)
{
	const struct event *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	/* A span that ends exactly when another starts does not overlap it. */
	return x->delta - y->delta;
}

int timeline_max_overlap(const struct timeline *tl, char mark)
{
	size_t n = timeline_count(tl), k = 0;
	struct event *ev = malloc(2 * n * sizeof(*ev) + 1);
	int open = 0, best = 0;

	if (!ev)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct span *s = &tl->spans[i];

		if (mark && s->mark != mark)
			continue;
		ev[k++] = (struct event){ s->start_ns, +1 };
		ev[k++] = (struct event){ s->end_ns, -1 };
	}
	qsort(ev, k, sizeof(*ev), event_cmp);
	for (size_t i = 0; i < k; i++) {
		open += ev[i].delta;
		if (open > best)
			best = open;
	}
	free(ev);
	return best;
}

/* Order "Thread-2" before "Thread-10": compare digit runs by value. */
static int natural_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			unsigned long x = strtoul(a, (char **)&a, 10);
			unsigned long y = strtoul(b, (char **)&b, 10);

			if (x != y)
				return x < y ? -1 : 1;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		a++, b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

static int name_cmp(const void *a, const void *b)
{
	return natural_cmp(*(const char *const *)a, *(const char *const *)b);
}

/* Distinct worker names in natural order; the strings point into @tl. */
static size_t worker_names(const struct timeline *tl, const char **names)
{
	size_t n = timeline_count(tl), rows = 0;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t r = 0; r < rows && !seen; r++)
			seen = strcmp(names[r], tl->spans[i].worker) == 0;
		if (!seen)
			names[rows++] = tl->spans[i].worker;
	}
	qsort(names, rows, sizeof(*names), name_cmp);
	return rows;
}

static int column(int64_t t, int64_t t0, int64_t span, int width)
{
	int c = (int)((double)(t - t0) / (double)span * width + 0.5);

	return c < 0 ? 0 : c > width ? width : c;
}

static void draw_row(const struct timeline *tl, const char *worker, int64_t span_ns, int width,
		     char *cells)
{
	size_t n = timeline_count(tl);

	memset(cells, ' ', (size_t)width);
	for (size_t i = 0; i < n; i++) {
		const struct span *s = &tl->spans[i];
		int c0, c1;
		size_t len;

		if (strcmp(s->worker, worker) != 0)
			continue;
		c0 = column(s->start_ns, tl->t0_ns, span_ns, width);
		c1 = column(s->end_ns, tl->t0_ns, span_ns, width);
		if (c1 <= c0)
			c1 = c0 + 1;
		if (c1 > width)
			c0 = width - 1, c1 = width;
		memset(cells + c0, s->mark, (size_t)(c1 - c0));
		/* Label the span "[job===]" when the label fits inside it. */
		len = strlen(s->job);
		if (len && (size_t)(c1 - c0) >= len + 2) {
			cells[c0] = '[';
			memcpy(cells + c0 + 1, s->job, len);
			cells[c1 - 1] = ']';
		}
	}
}

void timeline_draw(const struct timeline *tl, FILE *out, int width)
{
	size_t n = timeline_count(tl), rows, label = 6;
	const char **names;
	int64_t end = tl->t0_ns + 1;
	char *cells;

	if (n == 0) {
		fprintf(out, "(empty timeline)\n");
		return;
	}
	if (width < 10)
		width = 10;
	names = malloc(n * sizeof(*names));
	cells = malloc((size_t)width + 1);
	if (!names || !cells) {
		fprintf(out, "(timeline: out of memory)\n");
		goto out_free;
	}
	for (size_t i = 0; i < n; i++)
		if (tl->spans[i].end_ns > end)
			end = tl->spans[i].end_ns;
	rows = worker_names(tl, names);
	for (size_t r = 0; r < rows; r++)
		if (strlen(names[r]) > label)
			label = strlen(names[r]);
	for (size_t r = 0; r < rows; r++) {
		draw_row(tl, names[r], end - tl->t0_ns, width, cells);
		fprintf(out, "%-*s |%.*s|\n", (int)label, names[r], width, cells);
	}
	fprintf(out, "%-*s  0s%*.*fs\n", (int)label, "", width - 2, 2,
		(double)(end - tl->t0_ns) / (double)CLK_NS_PER_SEC);
out_free:
	free(cells);
	free(names);
}

void timeline_dump(const struct timeline *tl, FILE *out)
{
	size_t n = timeline_count(tl);

	for (size_t i = 0; i < n; i++) {
		const struct span *s = &tl->spans[i];

		fprintf(out, "span %s %s %c %.6f %.6f\n", s->worker, s->job[0] ? s->job : "-",
			s->mark, (double)(s->start_ns - tl->t0_ns) / (double)CLK_NS_PER_SEC,
			(double)(s->end_ns - tl->t0_ns) / (double)CLK_NS_PER_SEC);
	}
}
