/*
 * dm_ways.c - see dm_ways.h.
 */
#define _GNU_SOURCE /* accept4 */
#include "dm_ways.h"

#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "co.h"
#include "http_get.h"

/* ------------------------------------------------------- the blocking ways */

/* A thread's view of one item: the answer lands in its own slot. */
struct slot {
	const struct dm_job *job;
	uint64_t out;
};

/* Run @j, holding its host's permit while it runs, if it has a host. */
static int run_limited(const struct dm_job *j, uint64_t *out, char *err, size_t errlen)
{
	int rc;

	if (j->host < 0)
		return dm_job_run(j, out, err, errlen);
	while (sem_wait(j->host_sem) != 0)
		if (errno != EINTR)
			return -errno;
	rc = dm_job_run(j, out, err, errlen);
	sem_post(j->host_sem);
	return rc;
}

static int slot_task(void *arg, void **result, char *err, size_t errlen)
{
	struct slot *s = arg;

	(void)result;
	return run_limited(s->job, &s->out, err, errlen);
}

static int pool_task(const void *in, size_t len, struct pp_out *out)
{
	struct dm_job j;
	char err[PROCPOOL_ERRMAX] = "";
	uint64_t v;
	int rc;

	if (len != sizeof j)
		return -EINVAL;
	memcpy(&j, in, sizeof j);
	rc = run_limited(&j, &v, err, sizeof err);
	if (rc) {
		pp_out_error(out, "%s", err);
		return rc;
	}
	return pp_out_write(out, &v, sizeof v);
}

int dm_run_seq(const struct dm_batch *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->n; i++) {
		int rc = dm_job_run(&r->jobs[i], &r->out[i], err, errlen);

		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Submit every item, then wait for every future, failed or not: a task
 * must not outlive the slots it writes to, so nothing is left running
 * when this returns, whatever happened.
 */
int dm_run_threads(struct executor *ex, const struct dm_batch *r, char *err, size_t errlen)
{
	struct slot *slots = xcalloc(r->n, sizeof *slots);
	struct future **fs = xcalloc(r->n, sizeof *fs);
	int rc = 0;

	for (size_t i = 0; i < r->n && !rc; i++) {
		slots[i].job = &r->jobs[i];
		rc = executor_submit(ex, slot_task, &slots[i], &fs[i]);
		if (rc)
			snprintf(err, errlen, "item %zu: %s", i, executor_strerror(rc));
	}
	for (size_t i = 0; i < r->n && fs[i]; i++) {
		int one = future_result(fs[i], -1, NULL);

		if (one && !rc) {
			rc = one;
			snprintf(err, errlen, "item %zu: %s", i,
				 future_errmsg(fs[i])[0] ? future_errmsg(fs[i])
							 : executor_strerror(one));
		}
		if (!one)
			r->out[i] = slots[i].out;
		future_unref(fs[i]);
	}
	free(fs);
	free(slots);
	return rc;
}

int dm_run_procs(struct procpool *pool, const struct dm_batch *r, char *err, size_t errlen)
{
	struct pp_blob *in = xcalloc(r->n, sizeof *in);
	struct pp_result *res = xcalloc(r->n, sizeof *res);
	int rc;

	err[0] = '\0';
	for (size_t i = 0; i < r->n; i++)
		in[i] = (struct pp_blob){ &r->jobs[i], sizeof r->jobs[i] };
	rc = procpool_map(pool, pool_task, in, r->n, 1, res);
	for (size_t i = 0; i < r->n; i++) {
		if (!rc && res[i].len != sizeof r->out[i]) {
			snprintf(err, errlen, "item %zu: an answer of %zu bytes", i, res[i].len);
			rc = -EPROTO;
		}
		if (!rc)
			memcpy(&r->out[i], res[i].data, sizeof r->out[i]);
		else if (res[i].err && !err[0])
			snprintf(err, errlen, "item %zu: %s", i,
				 res[i].msg[0] ? res[i].msg : procpool_strerror(res[i].err));
		pp_result_release(&res[i]);
	}
	free(res);
	free(in);
	return rc;
}

/* ------------------------------------------------------------ the loop */

/* One task per item, gathered by the main task. */
struct litem {
	struct co_task task;
	struct lrun *run;
	size_t i;
	struct hg_request req;
	char url[128];
	struct slot slot;
	struct co_exec exec; /* run_in_executor, for SQLite */
	int err;
	char why[CURL_ERROR_SIZE + 160];
};

struct lrun {
	struct co_task task;
	const struct dm_batch *r;
	struct executor *ex;
	struct hg *hg;
	struct co_sem limit, hosts[DM_MAX_HOSTS];
	struct litem *items;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather gather;
};

/* A fetch on the loop: the host's permit, then one of the loop's. */
static int lfetch_step(struct co_task *t)
{
	struct litem *it = (struct litem *)t;
	struct lrun *lr = it->run;
	const struct dm_job *j = &lr->r->jobs[it->i];

	CO_BEGIN(t);
	if (j->host >= 0) {
		CO_AWAIT(t, co_sem_acquire(t, &lr->hosts[j->host]), &it->err);
		if (it->err)
			CO_RETURN(t, it->err);
	}
	CO_AWAIT(t, co_sem_acquire(t, &lr->limit), &it->err);
	if (!it->err) {
		dm_fetch_url(j, it->url, sizeof it->url);
		it->req.url = it->url;
		it->req.body_cap = (size_t)j->size;
		it->req.body = malloc(it->req.body_cap + 1);
		if (it->req.body)
			CO_AWAIT(t, hg_get(t, lr->hg, &it->req), &it->err);
		else
			it->err = -ENOMEM;
		co_sem_release(&lr->limit);
	}
	if (j->host >= 0)
		co_sem_release(&lr->hosts[j->host]);
	if (it->err) {
		snprintf(it->why, sizeof it->why, "%s: %s", it->url,
			 it->req.errmsg[0] ? it->req.errmsg : strerror(-it->err));
	} else if (it->req.status != 200 || it->req.bytes != (size_t)j->size) {
		snprintf(it->why, sizeof it->why, "%s: status %ld, %zu bytes", it->url,
			 it->req.status, it->req.bytes);
		it->err = -EIO;
	} else {
		lr->r->out[it->i] = dm_fnv(DM_FNV_START, it->req.body, it->req.bytes);
	}
	free(it->req.body);
	it->req.body = NULL;
	CO_RETURN(t, it->err);
	CO_END(t);
}

/* SQLite has no non-blocking calls: asyncio's answer is a thread. */
static int lquery_step(struct co_task *t)
{
	struct litem *it = (struct litem *)t;
	struct lrun *lr = it->run;

	CO_BEGIN(t);
	it->slot.job = &lr->r->jobs[it->i];
	CO_AWAIT(t, co_run_in_executor(t, &it->exec, lr->ex, slot_task, &it->slot), &it->err);
	if (it->err)
		snprintf(it->why, sizeof it->why, "%s",
			 it->exec.err[0] ? it->exec.err : strerror(-it->err));
	else
		lr->r->out[it->i] = it->slot.out;
	CO_RETURN(t, it->err);
	CO_END(t);
}

/* CPU work on the loop runs on the loop's one thread, item after item. */
static int lcpu_step(struct co_task *t)
{
	struct litem *it = (struct litem *)t;
	const struct dm_batch *r = it->run->r;

	CO_BEGIN(t);
	it->err = dm_job_run(&r->jobs[it->i], &r->out[it->i], it->why, sizeof it->why);
	CO_RETURN(t, it->err);
	CO_END(t);
}

static int lmain_step(struct co_task *t)
{
	struct lrun *lr = (struct lrun *)t;
	const struct dm_batch *r = lr->r;
	co_step_fn *step = r->jobs[0].kind == DM_FETCH	 ? lfetch_step
			   : r->jobs[0].kind == DM_QUERY ? lquery_step
							 : lcpu_step;
	int err;

	CO_BEGIN(t);
	if (step == lfetch_step) {
		err = hg_new(&lr->hg, co_loop(t));
		if (err)
			CO_RETURN(t, err);
	}
	for (size_t i = 0; i < r->n; i++) {
		lr->items[i].run = lr;
		lr->items[i].i = i;
		lr->tasks[i] = &lr->items[i].task;
		co_task_start(co_loop(t), lr->tasks[i], step, "item");
	}
	/* return_exceptions: every item finishes before the row is judged. */
	CO_AWAIT(t, co_gather(t, &lr->gather, lr->tasks, lr->cbs, r->n, true), &err);
	hg_free(lr->hg);
	CO_RETURN(t, err);
	CO_END(t);
}

int dm_run_loop(struct executor *ex, const struct dm_batch *r, long limit, long host_limit,
		char *err, size_t errlen)
{
	struct lrun lr = { .r = r, .ex = ex };
	int rc;

	co_sem_init(&lr.limit, limit);
	for (int h = 0; h < DM_MAX_HOSTS; h++)
		co_sem_init(&lr.hosts[h], host_limit);
	lr.items = xcalloc(r->n, sizeof *lr.items);
	lr.tasks = xcalloc(r->n, sizeof *lr.tasks);
	lr.cbs = xcalloc(r->n, sizeof *lr.cbs);
	rc = co_run(&lr.task, lmain_step);
	if (rc)
		snprintf(err, errlen, "the event loop: %s", strerror(-rc));
	for (size_t i = 0; !rc && i < r->n; i++) {
		if (lr.items[i].err) {
			rc = lr.items[i].err;
			snprintf(err, errlen, "item %zu: %s", i, lr.items[i].why);
		}
	}
	free(lr.cbs);
	free(lr.tasks);
	free(lr.items);
	return rc;
}

/* ------------------------------------------------- the loop's server */

/* One connection: read a request, sleep the backend's delay, reply. */
struct lconn {
	struct co_task task;
	struct lsrv *srv;
	int fd;
	long len;
	char line[32];
	unsigned long served;
	int err;
};

struct lsrv {
	struct co_task task;
	int listen_fd;
	long backend_ms;
	size_t n, accepted;
	struct lconn *conns;
	struct co_task **tasks;
	struct co_callback *cbs;
	struct co_gather gather;
	int err;
};

static int lconn_step(struct co_task *t)
{
	struct lconn *c = (struct lconn *)t;
	int err;

	CO_BEGIN(t);
	for (;;) {
		CO_AWAIT(t, co_wait_fd(t, c->fd, LOOP_READ), &err);
		if (err < 0) {
			c->err = err;
			break;
		}
		c->len = dm_read_line(c->fd, c->line, sizeof c->line);
		if (c->len <= 0) {
			c->err = (int)c->len;
			break;
		}
		CO_AWAIT(t, co_sleep(t, c->srv->backend_ms), &err);
		c->err = err ? err : dm_write_reply(c->fd, c->line, (size_t)c->len);
		if (c->err)
			break;
		c->served++;
	}
	close(c->fd);
	CO_RETURN(t, c->err);
	CO_END(t);
}

static int lsrv_step(struct co_task *t)
{
	struct lsrv *s = (struct lsrv *)t;
	int err, fd;

	CO_BEGIN(t);
	while (s->accepted < s->n) {
		CO_AWAIT(t, co_wait_fd(t, s->listen_fd, LOOP_READ), &err);
		fd = err < 0 ? err : accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			s->err = err < 0 ? err : -errno;
			break;
		}
		s->conns[s->accepted].srv = s;
		s->conns[s->accepted].fd = fd;
		s->tasks[s->accepted] = &s->conns[s->accepted].task;
		co_task_start(co_loop(t), s->tasks[s->accepted], lconn_step, "conn");
		s->accepted++;
	}
	CO_AWAIT(t, co_gather(t, &s->gather, s->tasks, s->cbs, s->accepted, true), &err);
	CO_RETURN(t, s->err ? s->err : err);
	CO_END(t);
}

int dm_serve_loop(int listen_fd, long backend_ms, const struct dm_batch *r, char *err,
		  size_t errlen)
{
	struct lsrv s = { .listen_fd = listen_fd, .backend_ms = backend_ms, .n = r->n };
	int rc;

	s.conns = xcalloc(r->n, sizeof *s.conns);
	s.tasks = xcalloc(r->n, sizeof *s.tasks);
	s.cbs = xcalloc(r->n, sizeof *s.cbs);
	rc = co_run(&s.task, lsrv_step);
	for (size_t i = 0; i < s.accepted; i++) {
		if (!rc && s.conns[i].err)
			rc = s.conns[i].err;
		r->out[i] = s.conns[i].served;
	}
	if (rc)
		snprintf(err, errlen, "the event loop's server: %s", strerror(-rc));
	free(s.cbs);
	free(s.tasks);
	free(s.conns);
	return rc;
}
