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
 * Replies:
 *	MGR_OK       GET: the value; KEYS: each key followed by '\0';
 *	             INCR: the new int64_t; SET, DELETE: empty
 *	MGR_ERR      a uint32_t positive errno code: ENOENT (no such key),
 *	             EINVAL (a malformed payload), EBADRQC (an unknown kind),
 *	             EILSEQ, ERANGE (INCR), EMSGSIZE, EPROTO (a broken frame:
 *	             the server closes the connection after this reply)
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
 * A reply being built: kind, and a payload that grows as needed.
 */
struct mgr_reply {
	uint32_t kind;
	unsigned char *data;
	size_t len, cap;
};

/* Append @len bytes to @r's payload.  Returns 0 or -ENOMEM. */
int mgr_reply_add(struct mgr_reply *r, const void *data, size_t len);
/* Make @r the error reply for @code (a negative errno). */
void mgr_reply_error(struct mgr_reply *r, int code);

/*
 * The server (manager_server.c): serve @listen_fd until @stop_fd (a
 * signalfd) is readable, with the bounds of @o (every field filled in).
 * Returns 0 after a stop, or a negative errno if the server cannot go on
 * (poll failing).  Whatever a client does costs only its connection.
 */
int mgr_serve(int listen_fd, int stop_fd, const struct manager_opts *o);

#endif
