/*
 * manager.h - a dictionary owned by a server process, used from any process
 * through a client proxy: Python's multiprocessing.Manager().dict() in C.
 *
 * Processes share no memory, so a dictionary "shared" between them lives in
 * exactly one of them, the manager's server, and every other process asks
 * it: each operation on a proxy is one request frame over a Unix stream
 * socket and one reply frame back (frame.h), one round trip.  Because the
 * server runs one request at a time, each request is atomic; a sequence of
 * requests (a get, then a set of get+1) is not, which is why the increment
 * is an operation of its own, done by the server.
 *
 * The dictionary maps keys (C strings of 1 to MANAGER_KEY_MAX bytes) to
 * values (any bytes, up to the server's frame limit).  A counter is a value
 * written as a decimal integer ("42"): manager_incr() reads it, adds, and
 * stores the sum in one request, a missing key counting as 0.  keys() lists
 * the keys in byte order, so a printout is the same on every run.
 *
 * The server also keeps named locks, Python's manager.Lock(): a sequence
 * of requests between manager_lock() and manager_unlock() of one name
 * runs while no other proxy holds that name.  Waiters queue in the server
 * and are granted in the order they asked; a proxy whose connection ends
 * (its process died, say) releases what it held and leaves every queue.
 *
 * Lifecycle:
 *	manager_start()     fork the server, listening on a socket in a
 *	                    private directory; returns once clients may connect
 *	manager_connect()   a proxy: one connection for the calling process
 *	manager_get/set/delete/keys/incr()   one round trip each
 *	manager_lock/unlock()                one each; a lock's may wait
 *	manager_close()     close a proxy
 *	manager_shutdown()  stop the server, reap it, remove the socket
 *
 * Processes.  manager_start() forks, so call it while the process has one
 * thread (before any is started), and from the thread that will live
 * longest: if that thread ends, the kernel stops the server.  The server
 * keeps none of its parent's descriptors but the listening socket and
 * standard input, output and error, and it ends by itself when its parent
 * dies.  A process forked after manager_start() may connect with the same
 * struct manager (it holds only the socket's path), but must never use a
 * proxy it inherited: a connection carries one conversation, and two
 * processes talking on one socket would read each other's replies.  Only
 * the process that called manager_start() calls manager_shutdown().
 *
 * Blocking.  Every proxy call blocks for one round trip, at most the
 * reply timeout (struct manager_opts) per direction, then fails with
 * -ETIMEDOUT; after a failed round trip (time out, lost server) the proxy
 * is broken and every later call returns the same error.  manager_lock()
 * may wait its own timeout longer, asleep.  One proxy is used by one
 * thread at a time.
 *
 * The server's bounds, each a choice of struct manager_opts: requests of
 * at most max_frame bytes (a larger one is answered -EMSGSIZE and the
 * connection closed, without reading it); at most max_clients connections
 * (the next gets -EUSERS from manager_connect()); a connection idle for
 * idle_ms is closed, unless it holds or awaits a lock; one that sent part
 * of a frame and nothing more for head_ms is closed.  A malformed request
 * gets an error reply; a broken frame, or a client that dies halfway
 * through one, costs only that connection: the dictionary and the other
 * clients never notice.
 *
 * Errors are values: 0 or a negative errno code, put in words for this
 * module by manager_strerror().  Nothing here prints or exits, except the
 * server process, which says why on stderr if it fails.
 */
#ifndef WB_MANAGER_H
#define WB_MANAGER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct manager;
struct manager_client;

#define MANAGER_KEY_MAX 255
/* The defaults of struct manager_opts. */
#define MANAGER_MAX_FRAME (1u << 20)
#define MANAGER_MAX_CLIENTS 64
#define MANAGER_IDLE_MS 60000L
#define MANAGER_HEAD_MS 2000L
#define MANAGER_REPLY_MS 10000L

/* Each field 0 means its default above. */
struct manager_opts {
	uint32_t max_frame; /* the largest request payload, in bytes */
	int max_clients;    /* connections served at once */
	long idle_ms;	    /* close a connection silent this long */
	long head_ms;	    /* close one stuck this long inside a frame */
	long reply_ms;	    /* a proxy's limit on each direction */
};

/*
 * Fork the server process with @opts (NULL: every default).  Returns 0 and
 * the handle in *@out once the socket accepts connections; or -EINVAL (a
 * negative option), -ENOMEM, -EAGAIN (fork failed), or the error of the
 * socket, bind or listen call; nothing is left running or on disk then.
 */
int manager_start(struct manager **out, const struct manager_opts *opts);

/* The server's process id. */
pid_t manager_pid(const struct manager *m);

/* The path of the server's socket (for tools and checks). */
const char *manager_path(const struct manager *m);

/*
 * Stop the server (SIGTERM; it finishes the request it is on and exits),
 * reap it, remove its socket and directory, and free @m.  Stores its wait
 * status in *@wstatus unless it is NULL: status 0 is a clean stop.
 * Returns 0 or -errno if the server could not be reaped.  Proxies still
 * open get -ECONNRESET on their next call.  Blocks until the server exits.
 */
int manager_shutdown(struct manager *m, int *wstatus);

/*
 * Connect a proxy for the calling process.  Returns 0 and the proxy in
 * *@out, or -EUSERS (the server is full), -ETIMEDOUT, -ECONNREFUSED or
 * -ECONNRESET (no server), -ENOMEM, or a socket call's error.
 */
int manager_connect(const struct manager *m, struct manager_client **out);

/* Close the proxy (NULL is ignored). */
void manager_close(struct manager_client *c);

/*
 * The value of @key: a malloc'd copy in *@value, with a '\0' after its
 * *@len bytes (so a text value is a C string); the caller frees it.
 * Returns 0, -ENOENT (no such key), or an error of the round trip.
 */
int manager_get(struct manager_client *c, const char *key, char **value, size_t *len);

/* Store @len bytes of @value under @key, replacing any value it had. */
int manager_set(struct manager_client *c, const char *key, const void *value, size_t len);

/* Remove @key.  Returns 0 or -ENOENT (no such key). */
int manager_delete(struct manager_client *c, const char *key);

/*
 * Every key, in byte order: *@keys is a malloc'd array of *@n malloc'd
 * strings, released with manager_keys_free().
 */
int manager_keys(struct manager_client *c, char ***keys, size_t *n);
void manager_keys_free(char **keys, size_t n);

/*
 * Add @delta to the counter @key, in the server, as one request: no other
 * request runs between reading the old value and storing the new one.
 * Stores the new value in *@now unless it is NULL.  Returns 0, -EILSEQ
 * (the value is not a decimal integer), -ERANGE (the sum would overflow
 * int64_t; nothing changes), or an error of the round trip.
 */
int manager_incr(struct manager_client *c, const char *key, int64_t delta, int64_t *now);

/*
 * Take the lock @name (a key's rules), waiting at most @timeout_ms (0: only
 * if it is free now) behind the proxies that asked first.  Returns 0 once
 * this proxy holds it; -ETIMEDOUT when the time ran out (the proxy then
 * waits no more and stays usable); -EDEADLK if this proxy already holds or
 * awaits @name (locks are not reentrant); -EINVAL (a bad name, a negative
 * timeout); or an error of the round trip.
 */
int manager_lock(struct manager_client *c, const char *name, long timeout_ms);

/*
 * Release @name, granting it to its first waiter.  Returns 0, -EPERM if
 * this proxy does not hold it, or an error of the round trip.
 */
int manager_unlock(struct manager_client *c, const char *name);

/* A sentence for a code returned here (a negative errno). */
const char *manager_strerror(int code);

#endif
