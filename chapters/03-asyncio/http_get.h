/*
 * http_get.h - HTTP GETs on libcurl's multi interface, driven by the loop
 * of loop.h: many transfers at once on one thread, none of them blocking.
 *
 * libcurl's "multi socket" API turns curl inside out.  Instead of waiting
 * itself, curl tells the program what to wait for, through two callbacks,
 * and the program tells curl when it happened:
 *
 *   curl says                            hg does
 *   "watch socket S for IN/OUT"          loop_watch(S)
 *   "socket S: nothing more" (REMOVE)    loop_unwatch(S)
 *   "call me back in N ms"               start its one loop timer
 *   "no timeout any more" (-1)           stop that timer
 *   loop says                            hg does
 *   "S is ready", "the timer is due"     curl_multi_socket_action()
 *   then                                 collect finished transfers
 *                                        (curl_multi_info_read) and call
 *                                        their completion callbacks
 *
 * Curl's callbacks only ever record what to wait for: a 0 ms timeout
 * becomes a timer due at once, which the loop runs in a later step, never
 * inside curl's own call.  Completion callbacks run outside curl too, so
 * they may start or cancel transfers.
 *
 * Sockets are closed by hg (CURLOPT_CLOSESOCKETFUNCTION), which unwatches
 * each one first.  So the loop never holds a watch on a closed descriptor,
 * whatever order curl reports a removal in: a REMOVE that comes after the
 * close finds nothing to unwatch, and one that never comes (curl has had
 * such bugs) leaves nothing behind.
 *
 * Lifecycle:
 *	hg_new()       a multi handle on a loop
 *	hg_start()     begin a GET; its callback runs once, when it ends
 *	hg_get()       the same, awaited by a task of co.h
 *	hg_cancel()    end a transfer early: no callback, nothing left open
 *	hg_free()      cancel what is still running, free the handle
 *
 * Ownership.  A struct hg_request is the caller's (in a task's frame, say)
 * and must stay in place from hg_start() until its callback has run or it
 * was cancelled.  So must the body buffer it points to.  hg allocates one
 * curl easy handle per transfer, freed when the transfer ends.
 *
 * Threads.  Everything runs on the loop's thread.  Call
 * curl_global_init() once in main before anything here (libcurl's rule:
 * it is not thread-safe).  The programs use numeric addresses such as
 * 127.0.0.1, which curl connects to without starting a resolver thread.
 *
 * Errors are values: 0 or a negative errno.  Nothing here prints or exits.
 */
#ifndef WB_HTTP_GET_H
#define WB_HTTP_GET_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "co.h"
#include "loop.h"

struct hg;

struct hg_request;
typedef void hg_done_fn(struct hg_request *req, void *arg);

/*
 * One GET.  The caller sets the inputs, zeroing the rest; the results are
 * valid in the completion callback (or after hg_get() returns).
 */
struct hg_request {
	/* Inputs. */
	const char *url;
	long timeout_ms; /* curl gives up after this long; 0: no limit */
	char *body;	 /* where the body goes, or NULL to count it only */
	size_t body_cap; /* room at body; a longer body fails with -EMSGSIZE */

	/* Results. */
	int err;		      /* 0: a whole response arrived (any status); see below */
	long status;		      /* the HTTP status, 0 if no response line arrived */
	size_t bytes;		      /* body bytes received (and stored, if body) */
	int64_t length;		      /* the Content-Length announced, -1 if none */
	CURLcode code;		      /* curl's own result, CURLE_OK if none */
	char errmsg[CURL_ERROR_SIZE]; /* curl's words for err, "" if 0 */

	/* The library's. */
	struct hg *hg;
	CURL *easy; /* NULL when the request is not running */
	hg_done_fn *done;
	void *arg;
	struct hg_request *next, *prev; /* in hg's list of running requests */
};

/*
 * What err holds: 0, or -ECONNREFUSED (nobody listens), -ETIMEDOUT
 * (timeout_ms passed), -ECONNRESET (the connection broke or closed early,
 * a body cut short included), -EMSGSIZE (the body outgrew body_cap),
 * -EINVAL (a URL curl refuses), -ENOMEM, -EIO (anything else curl
 * reports), or -ECANCELED (hg_cancel() or a cancelled hg_get()).  A
 * response with an error status (404, 503) is err 0: the status says it.
 */

/*
 * The err above for curl's result @rc, for a program that drives libcurl
 * itself and wants the same words for the same failures.  CURLE_OK is 0.
 */
int hg_errno(CURLcode rc);

/*
 * A multi handle on @loop.  Returns 0 and the handle in *@out, or -ENOMEM.
 * @loop must outlive the handle.
 */
int hg_new(struct hg **out, struct loop *loop);

/*
 * Cancel every transfer still running (their callbacks do not run; a task
 * in hg_get() must not be left waiting: cancel those tasks first) and free
 * @hg, closing every socket it opened.  Not from inside a callback of @hg.
 */
void hg_free(struct hg *hg);

/*
 * Start @req (url, timeout_ms, body, body_cap set): @done(@req, @arg) runs
 * once, on the loop's thread, when it ends.  Returns 0, or -ENOMEM,
 * -EINVAL (an option curl refuses) or -EBUSY (@req is running already),
 * with nothing started and no callback to come.  A request may be started
 * again once it has ended, from its own callback too.
 */
int hg_start(struct hg *hg, struct hg_request *req, hg_done_fn *done, void *arg);

/*
 * End @req now if it is running: the transfer leaves curl, its socket is
 * closed, its callback will not run, and err becomes -ECANCELED.  A no-op
 * on a request that is not running.
 */
void hg_cancel(struct hg_request *req);

/* True from hg_start() until the callback runs or hg_cancel(). */
bool hg_running(const struct hg_request *req);

/*
 * Awaitable: GET @req on @hg from task @t; returns req->err once it ends
 * (the results are in @req), or hg_start()'s error.  Cancelling @t (or a
 * co_wait_for() timing out around it) cancels the transfer with
 * hg_cancel() and the await returns -ECANCELED.  @req lives in @t's frame.
 */
int hg_get(struct co_task *t, struct hg *hg, struct hg_request *req);

/* Transfers running now, and the most that ever ran at once. */
size_t hg_in_flight(const struct hg *hg);
size_t hg_peak_in_flight(const struct hg *hg);

#endif
