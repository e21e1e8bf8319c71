/*
 * dm_work.h - one item of each row of the guide's decision matrix, as a
 * plain blocking function that any approach can call: decision_matrix
 * runs the same items one by one, on threads, in worker processes and
 * (where the row has no coroutine of its own) on the event loop's thread.
 *
 * An item is described by a struct dm_job, plain bytes, so that it can
 * travel to a worker process as a task's input unchanged.  Its one pointer,
 * host_sem, points into shared memory mapped before the pool forked, which
 * lies at the same address in every worker.  An
 * item's answer is one 64-bit number (a hash of what it fetched, computed
 * or read): a row's answer is those numbers folded in item order, so two
 * approaches agree exactly when every item gave the same answer.
 *
 * Errors are values: dm_job_run() returns 0 or a negative errno, with a
 * message in its @err buffer.  Nothing here prints or exits, and nothing
 * keeps state between calls: any thread or process may run any item.
 */
#ifndef WB_DM_WORK_H
#define WB_DM_WORK_H

#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>

/* What an item does. */
enum dm_kind {
	DM_FETCH, /* GET /file?size=&delay_ms= from the loopback server */
	DM_IMAGE, /* a 3x3 box blur over generated grey pixels */
	DM_FACT,  /* n! by the guide's loop, with GMP */
	DM_QUERY, /* one SQLite query on its own connection */
	DM_SERVE, /* accept one client and answer its requests (the server row) */
};

/* The longest database path an item carries. */
#define DM_PATH_MAX 256

struct dm_job {
	int kind;	 /* enum dm_kind */
	unsigned index;	 /* which item of its row */
	long port;	 /* DM_FETCH: the server's port */
	long delay_ms;	 /* DM_FETCH: the server's delay; DM_SERVE: the backend's */
	long size;	 /* DM_FETCH: body bytes; DM_IMAGE: width and height */
	unsigned long n; /* DM_FACT: which factorial; DM_SERVE: requests per client */
	int fd;		 /* DM_SERVE: the listening socket */
	int host;	 /* whose per-host limit applies (dm_ways.h), -1 none */
	sem_t *host_sem; /* that host's semaphore, in memory shared with the pool */
	char db[DM_PATH_MAX];
};

/*
 * Run @j and store its answer in *@out.  Blocks for as long as the item
 * takes (a fetch, its delay included).  Returns 0, or a negative errno with
 * a message in @err (@errlen bytes).
 */
int dm_job_run(const struct dm_job *j, uint64_t *out, char *err, size_t errlen);

/* FNV-1a over @len bytes at @p, continuing from @h (start: DM_FNV_START). */
#define DM_FNV_START UINT64_C(0xcbf29ce484222325)
uint64_t dm_fnv(uint64_t h, const void *p, size_t len);

/* The URL of a DM_FETCH item, into @buf of @len bytes. */
void dm_fetch_url(const struct dm_job *j, char *buf, size_t len);

/*
 * Build the database the DM_QUERY items read, in @path, a new empty file
 * (dbfile.h): @rows rows of orders.  Returns 0 or -EIO with a message.
 */
int dm_db_build(const char *path, long rows, char *err, size_t errlen);

/* --------------------------------------------------- the real-time server */

/*
 * The server row's protocol, one line each way: a client sends
 * "CLIENT ROUND\n", the server waits its backend's delay and answers with
 * dm_reply() of that line in decimal and "\n".  A client's answer is the
 * sum of its replies.
 */
uint64_t dm_reply(const char *line, size_t len);

/*
 * A listening TCP socket on 127.0.0.1, a free port, blocking, close-on-exec,
 * whose accept() and reads give up after DM_IO_TIMEOUT_MS.  Returns the fd
 * and stores the port in *@port, or a negative errno.
 */
int dm_listen(long *port);

/* How long a socket of the server row waits for its peer at most. */
#define DM_IO_TIMEOUT_MS 10000

/*
 * One client: connect to 127.0.0.1:@port and do @rounds round trips as
 * client @id; *@out gets the sum of the replies.  0 or a negative errno.
 */
int dm_client(long port, unsigned id, unsigned long rounds, uint64_t *out, char *err,
	      size_t errlen);

/*
 * Read one request line from @fd into @line (@cap bytes, '\n' dropped,
 * '\0' added); returns its length, 0 at end of stream, or a negative errno.
 * Blocks unless @fd is readable.
 */
long dm_read_line(int fd, char *line, size_t cap);

/* Write the reply to request @line on @fd.  0 or a negative errno. */
int dm_write_reply(int fd, const char *line, size_t len);

#endif
