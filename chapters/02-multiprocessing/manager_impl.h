/*
 * manager_impl.h - the manager's wire protocol and the pieces its server
 * is built from; for manager.c, the exercise manager_server.c
 * (solutions/02-multiprocessing/) and the checks that speak the protocol
 * by hand.  Users of the manager need only manager.h.
 *
 * Requests (frame kind, payload; the frame id is the request's number,
 * which the reply repeats):
 *	MGR_GET      "key\0"
 *	MGR_SET      "key\0" value bytes
 *	MGR_DELETE   "key\0"
 *	MGR_KEYS     empty
 *	MGR_INCR     "key\0" and an int64_t delta (8 bytes, host order)
 *	MGR_LOCK     "name\0" and an int64_t timeout in ms (0 or more)
 *	MGR_UNLOCK   "name\0"
 * Replies:
 *	MGR_OK       GET: the value; KEYS: each key followed by '\0';
 *	             INCR: the new int64_t; SET, DELETE, LOCK, UNLOCK: empty
 *	MGR_ERR      a uint32_t positive errno code: ENOENT (no such key),
 *	             EINVAL (a malformed payload), EBADRQC (an unknown kind),
 *	             EILSEQ, ERANGE (INCR), ETIMEDOUT, EDEADLK (LOCK),
 *	             EPERM (UNLOCK), EMSGSIZE, EPROTO (a broken frame:
 *	             the server closes the connection after this reply)
 * Every request gets one reply, in the order sent, except that a LOCK
 * waiting in the lock's queue has none until it is granted or times out.
 *	MGR_HELLO    sent once by the server to each client it accepts,
 *	             before any request; a client it refuses gets MGR_ERR
 *	             EUSERS instead, and the connection is closed.
 * An MGR_ERR whose id is MGR_NO_ID answers no request in particular: it is
 * the server's last word before it closes the connection (a refusal, or a
 * frame it could not read).
 */
#ifndef WB_MANAGER_IMPL_H
#define WB_MANAGER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "manager.h"

enum {
	MGR_GET = 1,
	MGR_SET,
	MGR_DELETE,
	MGR_KEYS,
	MGR_INCR,
	MGR_LOCK,
	MGR_UNLOCK,
	MGR_OK = 0x100,
	MGR_ERR,
	MGR_HELLO,
};

#define MGR_NO_ID UINT32_MAX

/*
 * The dictionary: entries sorted by key, found by binary search.  A
 * manager holds a few hundred keys at most, so moving entries on insert
 * costs less than a hash table costs to read.
 */
struct mgr_entry {
	char *key;
	unsigned char *value;
	size_t len;
};

struct mgr_dict {
	struct mgr_entry *entries;
	size_t n, cap;
};

/* The entry for @key, or NULL. */
struct mgr_entry *mgr_dict_find(struct mgr_dict *d, const char *key);
/* Store a copy of @len bytes under @key.  Returns 0 or -ENOMEM. */
int mgr_dict_set(struct mgr_dict *d, const char *key, const void *value, size_t len);
/* Remove @key.  Returns 0 or -ENOENT. */
int mgr_dict_delete(struct mgr_dict *d, const char *key);
void mgr_dict_free(struct mgr_dict *d);

/*
 * Parse @len bytes as a decimal int64_t: an optional '-', then digits,
 * nothing else.  Returns 0, or -EILSEQ (not such a number) or -ERANGE.
 */
int mgr_parse_int64(const unsigned char *s, size_t len, int64_t *out);

/*
 * Split a request's payload into its key and the argument after it.
 * Returns 0, or -EINVAL when there is no '\0' or the key is empty or
 * longer than MANAGER_KEY_MAX.
 */
int mgr_split(const struct frame *req, const char **key, const unsigned char **arg, size_t *arglen);

/*
 * A reply being built: kind, and a payload that grows as needed.  The
 * buffer keeps FRAME_HEADER bytes in front of the payload, so that the
 * header can be written there and the frame leave in one send().
 * A zeroed struct is an empty reply; one reply may be reused (its buffer
 * kept) by setting len to 0; free(buf) releases it.
 */
struct mgr_reply {
	uint32_t kind;
	unsigned char *buf; /* the header's room, then len bytes of payload */
	size_t len, cap;    /* payload bytes; bytes of buf */
};

/* Append @len bytes to @r's payload.  Returns 0 or -ENOMEM. */
int mgr_reply_add(struct mgr_reply *r, const void *data, size_t len);
/* Make @r the error reply for @code (a negative errno). */
void mgr_reply_error(struct mgr_reply *r, int code);
/*
 * Send @r as the reply to request @id on @fd, header and payload in one
 * send() where the socket takes it.  Returns 0 or a negative errno.
 */
int mgr_reply_send(int fd, uint32_t id, struct mgr_reply *r);

/*
 * The server's named locks (manager_lock()).  Each lock has at most one
 * holder and a queue of waiters, first come first served; a connection is
 * named by its descriptor.  A waiter gets no reply until it is granted the
 * lock (MGR_OK sent to it by these functions) or its deadline passes
 * (MGR_ERR ETIMEDOUT), so the server's loop never blocks on a lock: a
 * waiting client simply has an unanswered request.  A lock exists while it
 * is held; a waiter implies a holder.
 */
struct mgr_lock;
struct mgr_locks {
	struct mgr_lock *v;
	size_t n, cap;
};

/*
 * Carry out MGR_LOCK or MGR_UNLOCK @req from connection @fd at time @now.
 * Returns 0 with the reply to send in @r, or 1 when the request waits in
 * the queue (no reply now).
 */
int mgr_locks_request(struct mgr_locks *l, int fd, const struct frame *req, int64_t now,
		      struct mgr_reply *r);
/* Connection @fd is closing: it leaves every queue and its locks pass on. */
void mgr_locks_drop(struct mgr_locks *l, int fd);
/* Answer ETIMEDOUT to every waiter whose deadline is at or before @now. */
void mgr_locks_expire(struct mgr_locks *l, int64_t now);
/* The nearest waiter's deadline, or CLK_NEVER. */
int64_t mgr_locks_deadline(const struct mgr_locks *l);
/* Whether @fd holds a lock or waits for one. */
bool mgr_locks_busy(const struct mgr_locks *l, int fd);
void mgr_locks_free(struct mgr_locks *l);

/*
 * The server (manager_server.c): serve @listen_fd until @stop_fd (a
 * signalfd) is readable, with the bounds of @o (every field filled in).
 * Returns 0 after a stop, or a negative errno if the server cannot go on
 * (poll failing).  Whatever a client does costs only its connection.
 */
int mgr_serve(int listen_fd, int stop_fd, const struct manager_opts *o);

#endif
