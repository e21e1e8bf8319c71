/*
 * procpool.c - the process pool's workers and lifecycle, its unordered
 * iterator and async submission (see procpool.h).  Dispatching chunks,
 * the poll loop, collecting results, burying a dead worker and map itself
 * are exercise 02-pool-map, in solutions/02-multiprocessing/pool_map.c.
 */
#define _GNU_SOURCE /* sigabbrev_np */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "procpool_impl.h"

/* The largest chunk frame a worker accepts: what a frame length can say. */
#define PP_CHUNK_MAX UINT32_MAX

/* ------------------------------------------------------- the worker side */

struct pp_out {
	unsigned char *data;
	size_t len, cap;
	int err; /* a failed pp_out_write, reported instead of the result */
	char msg[PROCPOOL_ERRMAX];
};

int pp_out_write(struct pp_out *out, const void *data, size_t len)
{
	if (len > PROCPOOL_MAX_BYTES - out->len)
		return out->err = -EMSGSIZE;
	if (out->len + len > out->cap) {
		size_t cap = out->cap ? out->cap : 256;
		unsigned char *p;

		while (cap < out->len + len)
			cap *= 2;
		p = realloc(out->data, cap);
		if (!p)
			return out->err = -ENOMEM;
		out->data = p;
		out->cap = cap;
	}
	if (len)
		memcpy(out->data + out->len, data, len);
	out->len += len;
	return 0;
}

void pp_out_error(struct pp_out *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
	va_end(ap);
}

/* Run one task and send its answer.  0, or the failed send's -errno. */
static int run_task(int fd, procpool_fn *fn, uint32_t id, const void *in, size_t len)
{
	struct pp_out out = { 0 };
	int rc = fn(in, len, &out);

	if (rc == 0 && out.err)
		rc = out.err;
	if (rc == 0) {
		rc = frame_send(fd, PP_RESULT, id, out.data, out.len);
	} else {
		size_t mlen = strlen(out.msg);
		unsigned char buf[sizeof(int32_t) + PROCPOOL_ERRMAX];
		int32_t code = rc < 0 ? rc : -rc;

		memcpy(buf, &code, sizeof(code));
		memcpy(buf + sizeof(code), out.msg, mlen);
		rc = frame_send(fd, PP_ERROR, id, buf, sizeof(code) + mlen);
	}
	free(out.data);
	return rc;
}

/* Run every task of one chunk frame in order.  0, or -errno to stop. */
static int run_chunk(int fd, const struct frame *f)
{
	struct pp_chunk_hdr hdr;
	size_t pos = sizeof(hdr);

	if (f->kind != PP_CHUNK || f->len < sizeof(hdr))
		return -EPROTO;
	memcpy(&hdr, f->data, sizeof(hdr));
	for (uint32_t k = 0; k < hdr.count; k++) {
		uint32_t len;
		int rc;

		if (f->len - pos < sizeof(len))
			return -EPROTO;
		memcpy(&len, f->data + pos, sizeof(len));
		pos += sizeof(len);
		if (f->len - pos < len)
			return -EPROTO;
		rc = run_task(fd, hdr.fn, f->id + k, f->data + pos, len);
		if (rc)
			return rc;
		pos += len;
	}
	return 0;
}

/*
 * A worker's whole life: take a chunk, answer each task, until the pool
 * closes the socket (join) or goes away.  It leaves with _exit(): the
 * atexit() handlers and stdio buffers it inherited belong to the pool's
 * process, which runs them itself.  What the tasks printed is flushed.
 */
static void worker_main(int fd, pid_t parent)
{
	int status = 0;

	/* Die with the parent; it may have died before this took effect. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	/*
	 * Ctrl-C reaches the whole process group.  The pool's process decides
	 * what it means (a wakeup descriptor, then terminate); a worker that
	 * died of it first would only be reported as lost.
	 */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	/* Python names them Process-N; a pid says which one died. */
	log_set_name("Process-%d", (int)getpid());
	for (;;) {
		struct frame f;
		int rc = frame_recv(fd, &f, PP_CHUNK_MAX);

		if (rc <= 0) {
			status = rc < 0;
			break;
		}
		rc = run_chunk(fd, &f);
		frame_release(&f);
		if (rc) {
			status = 1;
			break;
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		status = 1;
	_exit(status);
}

int pp_fork_worker(struct procpool *p, struct pp_worker *w)
{
	pid_t parent = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	/* Whatever is buffered now would be written twice: here and there. */
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		/*
		 * The child holds a copy of every descriptor: keep only its own
		 * end, so that each other worker's socket reports the end of
		 * the stream as soon as that worker dies.
		 */
		close(sv[0]);
		for (int i = 0; i < p->size; i++)
			if (p->workers[i].fd >= 0)
				close(p->workers[i].fd);
		worker_main(sv[1], parent);
	}
	close(sv[1]);
	*w = (struct pp_worker){ .pid = pid, .fd = sv[0] };
	p->stats.forked++;
	return 0;
}

void pp_reap(struct pp_worker *w, char *buf, size_t len)
{
	int st = 0;

	/* It has closed its socket; make sure it is going, then wait. */
	kill(w->pid, SIGKILL);
	while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	if (WIFSIGNALED(st)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(st));

		if (abbrev)
			snprintf(buf, len, "killed by SIG%s", abbrev);
		else
			snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	} else {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
	}
}

/* ------------------------------------------------------------ the queue */

int pp_queue_push(struct procpool *p, struct pp_chunk c, bool front)
{
	if (p->qlen == p->qcap) {
		size_t cap = p->qcap ? 2 * p->qcap : 16;
		struct pp_chunk *q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < p->qlen; i++)
			q[i] = p->queue[(p->qhead + i) % p->qcap];
		free(p->queue);
		p->queue = q;
		p->qcap = cap;
		p->qhead = 0;
	}
	if (front) {
		p->qhead = (p->qhead + p->qcap - 1) % p->qcap;
		p->queue[p->qhead] = c;
	} else {
		p->queue[(p->qhead + p->qlen) % p->qcap] = c;
	}
	p->qlen++;
	return 0;
}

bool pp_queue_pop(struct procpool *p, struct pp_chunk *c)
{
	if (p->qlen == 0)
		return false;
	*c = p->queue[p->qhead];
	p->qhead = (p->qhead + 1) % p->qcap;
	p->qlen--;
	return true;
}

int pp_send_chunk(struct procpool *p, struct pp_worker *w, struct pp_chunk c)
{
	struct pp_chunk_hdr hdr = { .fn = c.job->fn, .count = (uint32_t)c.count };
	size_t total = sizeof(hdr), pos;
	unsigned char *buf;
	int rc;

	for (size_t i = c.first; i < c.first + c.count; i++)
		total += sizeof(uint32_t) + c.job->inputs[i].len;
	if (total > PP_CHUNK_MAX)
		return -EMSGSIZE;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &hdr, sizeof(hdr));
	pos = sizeof(hdr);
	for (size_t i = c.first; i < c.first + c.count; i++) {
		uint32_t len = (uint32_t)c.job->inputs[i].len;

		memcpy(buf + pos, &len, sizeof(len));
		pos += sizeof(len);
		if (len)
			memcpy(buf + pos, c.job->inputs[i].data, len);
		pos += len;
	}
	rc = frame_send(w->fd, PP_CHUNK, (uint32_t)c.first, buf, total);
	free(buf);
	if (rc == 0) {
		w->busy = true;
		w->chunk = c;
		w->answered = 0;
		p->stats.chunks_sent++;
	}
	return rc;
}

/* ------------------------------------------------------------- the jobs */

int pp_job_init(struct pp_job *job, procpool_fn *fn, const struct pp_blob *inputs, size_t n,
		struct pp_result *outcomes)
{
	*job = (struct pp_job){ .fn = fn, .inputs = inputs, .n = n, .outcomes = outcomes };
	job->finished = calloc(n ? n : 1, sizeof(*job->finished));
	job->order = calloc(n ? n : 1, sizeof(*job->order));
	if (!job->finished || !job->order) {
		pp_job_destroy(job);
		return -ENOMEM;
	}
	return 0;
}

void pp_job_destroy(struct pp_job *job)
{
	free(job->finished);
	free(job->order);
	job->finished = NULL;
	job->order = NULL;
}

void pp_finish(struct pp_job *job, size_t i, struct pp_result *r)
{
	/* A task has one outcome; a second one for it would be a pool bug. */
	if (i >= job->n || job->finished[i]) {
		pp_result_release(r);
		return;
	}
	job->outcomes[i] = *r;
	*r = (struct pp_result){ 0 };
	job->finished[i] = true;
	job->order[job->done++] = i;
}

void pp_abandon(struct procpool *p, struct pp_job *job)
{
	size_t kept = 0;

	/* Keep the other jobs' chunks, in their order. */
	for (size_t i = 0; i < p->qlen; i++) {
		struct pp_chunk c = p->queue[(p->qhead + i) % p->qcap];

		if (c.job != job)
			p->queue[(p->qhead + kept++) % p->qcap] = c;
	}
	p->qlen = kept;
	for (int i = 0; i < p->size; i++)
		if (p->workers[i].busy && p->workers[i].chunk.job == job)
			p->workers[i].chunk.job = NULL;
}

void pp_result_release(struct pp_result *r)
{
	free(r->data);
	*r = (struct pp_result){ 0 };
}

/* ------------------------------------------------------------- the pool */

int procpool_new(struct procpool **out, int workers)
{
	struct procpool *p;
	int rc;

	*out = NULL;
	if (workers < 1 || workers > PROCPOOL_MAX_WORKERS)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->size = workers;
	p->wakeup_fd = -1;
	p->workers = calloc((size_t)workers, sizeof(*p->workers));
	p->pfds = calloc((size_t)workers + 1, sizeof(*p->pfds));
	if (!p->workers || !p->pfds) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (int i = 0; i < workers; i++)
		p->workers[i].fd = -1;
	for (int i = 0; i < workers; i++) {
		rc = pp_fork_worker(p, &p->workers[i]);
		if (rc)
			goto out_free;
	}
	*out = p;
	return 0;

out_free:
	procpool_free(p);
	return rc;
}

int procpool_size(const struct procpool *p)
{
	return p->size;
}

pid_t procpool_pid(const struct procpool *p, int i)
{
	return i >= 0 && i < p->size ? p->workers[i].pid : 0;
}

void procpool_stats(const struct procpool *p, struct procpool_stats *s)
{
	*s = p->stats;
}

void procpool_set_wakeup_fd(struct procpool *p, int fd)
{
	p->wakeup_fd = fd;
}

void procpool_close(struct procpool *p)
{
	p->closed = true;
}

static bool pp_idle(const struct procpool *p)
{
	if (p->qlen)
		return false;
	for (int i = 0; i < p->size; i++)
		if (p->workers[i].busy)
			return false;
	return true;
}

int procpool_join(struct procpool *p)
{
	if (!p->closed)
		return -EINVAL;
	while (!pp_idle(p)) {
		int rc = pp_step(p, CLK_NEVER);

		if (rc)
			return rc;
	}
	/* The end of its stream is a worker's signal to exit. */
	for (int i = 0; i < p->size; i++) {
		struct pp_worker *w = &p->workers[i];
		int st;

		if (!w->pid)
			continue;
		close(w->fd);
		w->fd = -1;
		while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
			;
		w->pid = 0;
	}
	return 0;
}

/* Give every unfinished task of chunk @c the outcome -ESHUTDOWN. */
static void pp_drop_chunk(struct pp_chunk c, size_t from)
{
	for (size_t i = c.first + from; c.job && i < c.first + c.count; i++) {
		struct pp_result r = { .err = -ESHUTDOWN };

		snprintf(r.msg, sizeof(r.msg), "the pool was terminated before task %zu ran", i);
		pp_finish(c.job, i, &r);
	}
}

void procpool_terminate(struct procpool *p)
{
	struct pp_chunk c;
	char how[64];

	p->closed = true;
	for (int i = 0; i < p->size; i++) {
		struct pp_worker *w = &p->workers[i];

		if (!w->pid)
			continue;
		pp_reap(w, how, sizeof(how));
		if (w->busy)
			pp_drop_chunk(w->chunk, w->answered);
		*w = (struct pp_worker){ .fd = -1 };
	}
	while (pp_queue_pop(p, &c))
		pp_drop_chunk(c, 0);
}

void procpool_free(struct procpool *p)
{
	if (!p)
		return;
	if (p->workers)
		procpool_terminate(p);
	free(p->queue);
	free(p->pfds);
	free(p->workers);
	free(p);
}

const char *procpool_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ECHILD:
		return "the worker running the task died";
	case -ESHUTDOWN:
		return "the pool is closed or terminated";
	case -EINTR:
		return "interrupted (the wakeup descriptor fired)";
	case -EMSGSIZE:
		return "an input or a result is too large for one frame";
	case -ENOSYS:
		return "not implemented yet (an exercise's TODO?)";
	}
	return strerror(err < 0 ? -err : err);
}

/* --------------------------------------------------- imap_unordered */

struct pp_iter {
	struct procpool *pool;
	struct pp_job job;
	struct pp_result *outcomes;
	size_t handed;
};

int procpool_imap_unordered(struct procpool *p, procpool_fn *fn, const struct pp_blob inputs[],
			    size_t n, size_t chunksize, struct pp_iter **out)
{
	struct pp_iter *it;
	int rc;

	*out = NULL;
	if (!p || !fn || (n && !inputs) || n > UINT32_MAX)
		return -EINVAL;
	if (p->closed)
		return -ESHUTDOWN;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->pool = p;
	it->outcomes = calloc(n ? n : 1, sizeof(*it->outcomes));
	if (!it->outcomes) {
		free(it);
		return -ENOMEM;
	}
	rc = pp_job_init(&it->job, fn, inputs, n, it->outcomes);
	if (rc == 0)
		rc = pp_submit(p, &it->job, chunksize);
	if (rc) {
		pp_iter_free(it);
		return rc;
	}
	*out = it;
	return 0;
}

int pp_iter_next(struct pp_iter *it, size_t *index, struct pp_result *r)
{
	size_t i;

	while (it->handed == it->job.done) {
		int rc;

		if (it->handed == it->job.n)
			return 0;
		rc = pp_step(it->pool, CLK_NEVER);
		if (rc)
			return rc;
	}
	i = it->job.order[it->handed++];
	*index = i;
	*r = it->outcomes[i];
	it->outcomes[i] = (struct pp_result){ 0 };
	return 1;
}

void pp_iter_free(struct pp_iter *it)
{
	if (!it)
		return;
	pp_abandon(it->pool, &it->job);
	for (size_t i = 0; i < it->job.n; i++)
		pp_result_release(&it->outcomes[i]);
	pp_job_destroy(&it->job);
	free(it->outcomes);
	free(it);
}

/* ------------------------------------------------------------- async */

struct pp_async {
	struct procpool *pool;
	struct pp_job job;
	struct pp_blob input; /* a copy of the caller's bytes */
	struct pp_result outcome;
	bool taken;
};

int procpool_apply_async(struct procpool *p, procpool_fn *fn, const void *in, size_t len,
			 struct pp_async **out)
{
	struct pp_async *a;
	void *copy = NULL;
	int rc;

	*out = NULL;
	if (!p || !fn || (len && !in) || len > PROCPOOL_MAX_BYTES)
		return -EINVAL;
	if (p->closed)
		return -ESHUTDOWN;
	a = calloc(1, sizeof(*a));
	if (len)
		copy = malloc(len);
	if (!a || (len && !copy)) {
		free(a);
		free(copy);
		return -ENOMEM;
	}
	if (len)
		memcpy(copy, in, len);
	a->pool = p;
	a->input = (struct pp_blob){ copy, len };
	rc = pp_job_init(&a->job, fn, &a->input, 1, &a->outcome);
	if (rc == 0)
		rc = pp_submit(p, &a->job, 1);
	if (rc) {
		pp_async_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

int pp_async_get(struct pp_async *a, long timeout_ms, struct pp_result *r)
{
	/* One deadline, however many other tasks' events wake the wait. */
	int64_t deadline = clk_deadline_ms(timeout_ms);

	if (a->taken)
		return -EALREADY;
	while (a->job.done == 0) {
		int rc = pp_step(a->pool, deadline);

		if (rc)
			return rc;
	}
	*r = a->outcome;
	a->outcome = (struct pp_result){ 0 };
	a->taken = true;
	return 0;
}

void pp_async_free(struct pp_async *a)
{
	if (!a)
		return;
	pp_abandon(a->pool, &a->job);
	pp_result_release(&a->outcome);
	pp_job_destroy(&a->job);
	free((void *)a->input.data);
	free(a);
}
