/*
 * http_get.c - libcurl's multi handle on the loop: curl's socket and timer
 * callbacks mapped onto loop watches and one loop timer, finished transfers
 * collected after each curl call (http_get.h has the contract).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "http_get.h"

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct hg {
	struct loop *loop;
	CURLM *multi;
	struct loop_timer timer;  /* the one timer curl asks for */
	struct hg_request active; /* sentinel of the running requests */
	size_t in_flight, peak;
};

/* ------------------------------------------------- curl asks, the loop does */

static void check_done(struct hg *hg);

/* The loop saw socket @fd ready: tell curl, then collect what finished. */
static void on_ready(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct hg *hg = arg;
	int how = 0, running;

	(void)loop;
	if (events & LOOP_READ)
		how |= CURL_CSELECT_IN;
	if (events & LOOP_WRITE)
		how |= CURL_CSELECT_OUT;
	if (events & LOOP_ERROR)
		how |= CURL_CSELECT_ERR;
	/* Its result is curl's business: a transfer that failed here is
	 * reported as finished, with its own error, by check_done(). */
	curl_multi_socket_action(hg->multi, fd, how, &running);
	check_done(hg);
}

/* CURLMOPT_SOCKETFUNCTION: what to watch @s for, or to stop watching it. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct hg *hg = userp;
	unsigned events = 0;

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		/* Maybe closed already (see on_close): then there is no watch
		 * left, and loop_unwatch() does nothing. */
		loop_unwatch(hg->loop, s);
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= LOOP_READ;
	if (what & CURL_POLL_OUT)
		events |= LOOP_WRITE;
	/* -1 tells curl the socket cannot be waited for: it fails the
	 * transfers that use it instead of waiting forever. */
	return loop_watch(hg->loop, s, events, on_ready, hg) ? -1 : 0;
}

/* The loop timer is due: curl's timeouts (and its "act now") are handled. */
static void on_timer(struct loop *loop, struct loop_timer *timer)
{
	struct hg *hg = container_of(timer, struct hg, timer);
	int running;

	(void)loop;
	curl_multi_socket_action(hg->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(hg);
}

/*
 * CURLMOPT_TIMERFUNCTION: curl wants to be called back in @timeout_ms, or
 * not at all (-1).  Only the timer is set here: curl may ask for 0 ms from
 * inside curl_multi_add_handle() or curl_multi_socket_action(), and calling
 * curl back from there would re-enter it.  A due timer runs in the loop's
 * next timer step instead.  The deadline counts from the clock, not the
 * loop's cached time, so curl is never called early.
 */
static int on_timeout(CURLM *multi, long timeout_ms, void *userp)
{
	struct hg *hg = userp;

	(void)multi;
	if (timeout_ms < 0) {
		loop_timer_stop(hg->loop, &hg->timer);
		return 0;
	}
	return loop_timer_start(hg->loop, &hg->timer, clk_now_ns() + timeout_ms * CLK_NS_PER_MS,
				on_timer)
		       ? -1
		       : 0;
}

/*
 * CURLOPT_CLOSESOCKETFUNCTION: every socket curl opens is closed here,
 * unwatched first.  curl means to send REMOVE before it closes, but has not
 * always done so; closing here makes the order ours.  A watch left on a
 * closed number would otherwise meet the next socket to get that number.
 */
static int on_close(void *clientp, curl_socket_t s)
{
	struct hg *hg = clientp;

	loop_unwatch(hg->loop, s);
	return close(s);
}

/* ------------------------------------------------------------- requests */

static void list_add(struct hg *hg, struct hg_request *req)
{
	req->prev = hg->active.prev;
	req->next = &hg->active;
	hg->active.prev->next = req;
	hg->active.prev = req;
	if (hg->in_flight++ == 0)
		loop_ref(hg->loop); /* a transfer in curl's hands is work to wait for */
	if (hg->in_flight > hg->peak)
		hg->peak = hg->in_flight;
}

/* Take @req out of curl and out of the list, and free its easy handle. */
static void detach(struct hg_request *req)
{
	struct hg *hg = req->hg;

	curl_multi_remove_handle(hg->multi, req->easy);
	curl_easy_cleanup(req->easy);
	req->easy = NULL;
	req->prev->next = req->next;
	req->next->prev = req->prev;
	req->next = req->prev = NULL;
	if (--hg->in_flight == 0)
		loop_unref(hg->loop);
}

/* Body bytes as they arrive: into the caller's buffer, or only counted. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct hg_request *req = userdata;
	size_t len = size * nmemb;

	if (req->body) {
		if (len > req->body_cap - req->bytes) {
			req->err = -EMSGSIZE;
			return 0; /* anything but len aborts the transfer */
		}
		memcpy(req->body + req->bytes, data, len);
	}
	req->bytes += len;
	return len;
}

int hg_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* A finished transfer: its results into @req, then its callback. */
static void finish(struct hg_request *req, CURLcode rc)
{
	curl_off_t length = -1;

	if (curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->status) != CURLE_OK)
		req->status = 0;
	if (curl_easy_getinfo(req->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) != CURLE_OK)
		length = -1;
	req->length = length;
	req->code = rc;
	/* on_body's own verdict wins over curl's "write error". */
	if (req->err == 0)
		req->err = hg_errno(rc);
	if (req->err == 0)
		req->errmsg[0] = '\0';
	else if (req->err == -EMSGSIZE) /* curl's words would be "write error" */
		snprintf(req->errmsg, sizeof(req->errmsg),
			 "the body is larger than its %zu-byte buffer", req->body_cap);
	else if (req->errmsg[0] == '\0')
		snprintf(req->errmsg, sizeof(req->errmsg), "%s", curl_easy_strerror(rc));
	detach(req);
	req->done(req, req->arg);
}

/*
 * Hand every finished transfer to its callback.  A callback may start or
 * cancel transfers: removing a handle also drops its queued message, so
 * the next curl_multi_info_read() never returns a cancelled one.
 */
static void check_done(struct hg *hg)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(hg->multi, &left))) {
		char *priv;

		if (msg->msg != CURLMSG_DONE)
			continue;
		if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK)
			continue;
		finish((struct hg_request *)(void *)priv, msg->data.result);
	}
}

/* Configure @req's easy handle; the first failing option's code. */
static CURLcode setup(struct hg *hg, struct hg_request *req)
{
	CURL *e = req->easy;
	CURLcode rc = curl_easy_setopt(e, CURLOPT_URL, req->url);

	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PRIVATE, req);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->errmsg);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, hg);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	/* No signals (alarm() for DNS timeouts): the program owns them. */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		/* Plain HTTP, straight to the server, whatever *_proxy says. */
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 deprecated the bitmask */
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
#else
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	return rc;
}

int hg_start(struct hg *hg, struct hg_request *req, hg_done_fn *done, void *arg)
{
	CURLcode rc;

	if (req->easy)
		return -EBUSY;
	req->hg = hg;
	req->done = done;
	req->arg = arg;
	req->err = 0;
	req->status = 0;
	req->bytes = 0;
	req->length = -1;
	req->code = CURLE_OK;
	req->errmsg[0] = '\0';
	req->easy = curl_easy_init();
	if (!req->easy)
		return -ENOMEM;
	rc = setup(hg, req);
	if (rc != CURLE_OK) {
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		return rc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
	}
	/* Adding asks for a 0 ms timeout (on_timeout): the transfer begins on
	 * the loop's next timer step, not inside this call. */
	if (curl_multi_add_handle(hg->multi, req->easy) != CURLM_OK) {
		curl_easy_cleanup(req->easy);
		req->easy = NULL;
		return -ENOMEM;
	}
	list_add(hg, req);
	return 0;
}

void hg_cancel(struct hg_request *req)
{
	if (!req->easy)
		return;
	/* Removing a transfer that has not finished closes its connection:
	 * curl cannot reuse one with a response half read. */
	detach(req);
	req->err = -ECANCELED;
	snprintf(req->errmsg, sizeof(req->errmsg), "cancelled");
}

bool hg_running(const struct hg_request *req)
{
	return req->easy != NULL;
}

size_t hg_in_flight(const struct hg *hg)
{
	return hg->in_flight;
}

size_t hg_peak_in_flight(const struct hg *hg)
{
	return hg->peak;
}

/* ---------------------------------------------------------- the awaitable */

/* The transfer ended: the task's await returns its err. */
static void wake_task(struct hg_request *req, void *arg)
{
	co_task_wake(arg, req->err);
}

/* The task was cancelled while it waited: the transfer goes with it, at
 * once, so the await can return -ECANCELED now. */
static bool cancel_get(struct co_task *t)
{
	hg_cancel(t->wait.data);
	return true;
}

int hg_get(struct co_task *t, struct hg *hg, struct hg_request *req)
{
	int err = hg_start(hg, req, wake_task, t);

	if (err)
		return err;
	t->wait.data = req;
	return co_task_suspend(t, cancel_get);
}

/* ------------------------------------------------------------- the handle */

int hg_new(struct hg **out, struct loop *loop)
{
	struct hg *hg = calloc(1, sizeof *hg);
	CURLMcode rc;

	if (!hg)
		return -ENOMEM;
	hg->loop = loop;
	hg->timer = (struct loop_timer)LOOP_TIMER_INIT;
	hg->active.next = hg->active.prev = &hg->active;
	hg->multi = curl_multi_init();
	if (!hg->multi) {
		free(hg);
		return -ENOMEM;
	}
	rc = curl_multi_setopt(hg->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(hg->multi, CURLMOPT_SOCKETDATA, hg);
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(hg->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(hg->multi, CURLMOPT_TIMERDATA, hg);
	if (rc != CURLM_OK) {
		curl_multi_cleanup(hg->multi);
		free(hg);
		return -ENOMEM;
	}
	*out = hg;
	return 0;
}

void hg_free(struct hg *hg)
{
	if (!hg)
		return;
	while (hg->active.next != &hg->active)
		hg_cancel(hg->active.next);
	/* Closes the connections curl kept, through on_close. */
	curl_multi_cleanup(hg->multi);
	loop_timer_stop(hg->loop, &hg->timer);
	free(hg);
}
