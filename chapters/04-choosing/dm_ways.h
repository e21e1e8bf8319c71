/*
 * dm_ways.h - the four ways decision_matrix runs a row's items: one by
 * one, on chapter 01's executor, on chapter 02's process pool, and as
 * chapter 03's coroutines on an event loop.
 *
 * A batch is a row's items (dm_work.h) and the array their answers go to,
 * answer i for item i whatever order they finish in.  Each way runs every
 * item once and returns 0, or the first failure it met (a negative errno)
 * with a message in @err; the answers are then incomplete.  Every call
 * blocks until the batch is done; none keeps anything once it returns.
 *
 * Limits.  The executor's and the pool's sizes are their callers'; the
 * event loop takes its own: at most @limit fetches on the network at once.
 * An item with a host (job->host >= 0) also holds that host's permit while
 * it runs: a Semaphore per host of @host_limit permits on the loop, and
 * job->host_sem, a process-shared POSIX semaphore, on threads and in
 * processes.  Sequentially every limit holds by itself.
 *
 * How the loop runs what has no non-blocking form: CPU work (DM_IMAGE,
 * DM_FACT) runs on the loop's own thread, item after item, as asyncio does;
 * SQLite (DM_QUERY) goes through co_run_in_executor() on @ex, as asyncio's
 * run_in_executor does.  DM_FETCH uses libcurl's multi handle on the loop
 * (chapter 03's http_get.h).  The caller has called curl_global_init().
 */
#ifndef WB_DM_WAYS_H
#define WB_DM_WAYS_H

#include <stddef.h>
#include <stdint.h>

#include "dm_work.h"
#include "executor.h"
#include "procpool.h"

/* The most hosts the event loop keeps a Semaphore for. */
#define DM_MAX_HOSTS 8

struct dm_batch {
	const struct dm_job *jobs;
	size_t n;
	uint64_t *out; /* n answers */
};

int dm_run_seq(const struct dm_batch *b, char *err, size_t errlen);
int dm_run_threads(struct executor *ex, const struct dm_batch *b, char *err, size_t errlen);
/* One item per chunk, so that an item that sleeps never holds up the next. */
int dm_run_procs(struct procpool *pool, const struct dm_batch *b, char *err, size_t errlen);
int dm_run_loop(struct executor *ex, const struct dm_batch *b, long limit, long host_limit,
		char *err, size_t errlen);

/*
 * The event loop's server for the server row: accept @b->n clients on
 * @listen_fd (DM_SERVE's socket), one task per connection, each waiting
 * @backend_ms before each reply (co_sleep, so every client waits at once).
 * out[i] gets how many requests connection i was answered.  The clients
 * are the caller's, on threads of their own.
 */
int dm_serve_loop(int listen_fd, long backend_ms, const struct dm_batch *b, char *err,
		  size_t errlen);

#endif
