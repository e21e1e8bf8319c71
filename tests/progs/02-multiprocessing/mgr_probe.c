/*
 * mgr_probe.c - the manager's promises, one scene per --case, each printing
 * what it saw as key=value words or fixed lines for the checks to compare:
 *
 *   contents   several processes each write entries; the parent reads the
 *              whole dictionary back, deletes one, asks for a missing key
 *   incr       --procs processes x --ops increments of one counter at once
 *   malformed  broken and wrong requests sent by hand on raw connections,
 *              each answered as the protocol says, the dictionary intact
 *   death      a process killed halfway through sending a request
 *   full       one client more than max_clients
 *   timeouts   a silent client and a client stuck inside a frame are closed
 *   idle       the server's CPU time while its clients are silent
 *   emfile     the server out of descriptors while a client waits to be
 *              accepted: its CPU time, the waiting client's answer, and a
 *              client served once a place is free
 *   shutdown   what manager_shutdown() leaves behind
 *   lock       --procs x --ops get-then-set under manager_lock(): exact
 *   lockfifo   waiters granted in the order they asked; the lock's errors
 *   lockdeath  a holder killed, a waiter gone: the next waiter is granted
 *   locktime   a timed-out lock request leaves the queue; the proxy goes on
 *   lockwait   a process waiting for a lock, asleep (its CPU time)
 *   lockidle   a silent holder keeps its connection; a silent proxy does not
 *   floor      round trips over a bare socketpair beside the manager's
 *
 * Every scene also prints server=PID, so the checks can see that no
 * process outlives the probe.  Each wait on the server is bounded by the
 * proxies' reply timeout (--reply-ms) or the raw sockets' receive timeout,
 * so a broken server makes a scene fail with a message, not hang.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "clock.h"
#include "manager_impl.h"

#define IDLE_WINDOW_MS 500

static long reply_ms = 3000;

static struct manager *start(const struct manager_opts *o)
{
	struct manager_opts opts = o ? *o : (struct manager_opts){ 0 };
	struct manager *m;
	int rc;

	opts.reply_ms = reply_ms;
	rc = manager_start(&m, &opts);
	if (rc)
		die("manager_start: %s", manager_strerror(rc));
	printf("server=%d\n", (int)manager_pid(m));
	fflush(stdout);
	return m;
}

static struct manager_client *connect_or_die(struct manager *m)
{
	struct manager_client *c;
	int rc = manager_connect(m, &c);

	if (rc)
		die("manager_connect: %s", manager_strerror(rc));
	return c;
}

static void stop(struct manager *m)
{
	int status, rc = manager_shutdown(m, &status);

	if (rc)
		die("manager_shutdown: %s", manager_strerror(rc));
	if (status != 0)
		die("the server did not stop cleanly: wait status %d", status);
}

/* "name" of an error code, for exact lines: ENOENT, EPROTO ... */
static const char *code_name(int rc)
{
	static const struct {
		int code;
		const char *name;
	} names[] = { { 0, "ok" },
		      { -ENOENT, "ENOENT" },
		      { -EINVAL, "EINVAL" },
		      { -EBADRQC, "EBADRQC" },
		      { -EILSEQ, "EILSEQ" },
		      { -ERANGE, "ERANGE" },
		      { -EMSGSIZE, "EMSGSIZE" },
		      { -EPROTO, "EPROTO" },
		      { -EUSERS, "EUSERS" },
		      { -EMFILE, "EMFILE" },
		      { -ETIMEDOUT, "ETIMEDOUT" },
		      { -ECONNRESET, "ECONNRESET" },
		      { -EDEADLK, "EDEADLK" },
		      { -EPERM, "EPERM" },
		      { -ENOSYS, "ENOSYS" } };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == rc)
			return names[i].name;
	return manager_strerror(rc);
}

/*
 * Fork @n children running @fn(@m, i, @arg); they start together when the
 * gate opens and the parent waits for all.  Dies if one failed.
 */
static void fork_all(struct manager *m, int n, int (*fn)(struct manager *, int, void *), void *arg)
{
	pid_t parent = getpid(), pids[64];
	int gate[2], status, failed = 0;
	char b;

	if (pipe2(gate, O_CLOEXEC) != 0)
		die_errno(errno, "pipe");
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die_errno(errno, "fork");
		if (pids[i] == 0) {
			close(gate[1]);
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
				_exit(1);
			while (read(gate[0], &b, 1) < 0 && errno == EINTR)
				;
			int rc = fn(m, i, arg);
			fflush(stdout);
			_exit(rc != 0);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (int i = 0; i < n; i++) {
		while (waitpid(pids[i], &status, 0) < 0)
			if (errno != EINTR)
				die_errno(errno, "waitpid");
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	if (failed)
		die("a client process failed");
}

/* ------------------------------------------------------------- contents */

static int write_entries(struct manager *m, int i, void *arg)
{
	struct manager_client *c;
	char key[32], value[32];
	int rc;

	(void)arg;
	rc = manager_connect(m, &c);
	for (int k = 0; rc == 0 && k < 3; k++) {
		snprintf(key, sizeof(key), "p%d-k%d", i, k);
		snprintf(value, sizeof(value), "value %d.%d", i, k);
		rc = manager_set(c, key, value, strlen(value));
	}
	if (rc)
		fprintf(stderr, "%s: client %d: %s\n", wb_progname(), i, manager_strerror(rc));
	manager_close(c);
	return rc;
}

static void case_contents(void)
{
	struct manager *m = start(NULL);
	struct manager_client *c;
	static const unsigned char binary[] = { 'x', 0, 0xff, '\n', 'y' };
	char **keys, *v;
	size_t n, len;
	int rc;

	fork_all(m, 4, write_entries, NULL);
	c = connect_or_die(m);
	/* Values are bytes: a NUL inside and an empty value come back whole. */
	if ((rc = manager_set(c, "binary", binary, sizeof(binary))) ||
	    (rc = manager_set(c, "empty", "", 0)) || (rc = manager_delete(c, "p3-k1")))
		die("set/delete: %s", manager_strerror(rc));
	rc = manager_keys(c, &keys, &n);
	if (rc)
		die("keys: %s", manager_strerror(rc));
	printf("keys=%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		rc = manager_get(c, keys[i], &v, &len);
		if (rc)
			die("get %s: %s", keys[i], manager_strerror(rc));
		if (strcmp(keys[i], "binary") == 0)
			printf("binary %s\n", len == sizeof(binary) && !memcmp(v, binary, len)
						      ? "intact"
						      : "changed");
		else
			printf("%s=%s (%zu bytes)\n", keys[i], v, len);
		free(v);
	}
	manager_keys_free(keys, n);
	rc = manager_get(c, "p3-k1", &v, &len);
	printf("get deleted: %s\n", code_name(rc));
	printf("delete missing: %s\n", code_name(manager_delete(c, "nothing")));
	printf("incr text: %s\n", code_name(manager_incr(c, "p0-k0", 1, NULL)));
	printf("empty key: %s\n", code_name(manager_set(c, "", "x", 1)));
	manager_close(c);
	stop(m);
}

/* ------------------------------------------------------------- incr */

struct incr_run {
	long ops;
	int sums[2]; /* a pipe: each client writes the sum of what incr returned */
};

static int incr_client(struct manager *m, int i, void *arg)
{
	struct incr_run *r = arg;
	struct manager_client *c;
	long long sum = 0;
	int64_t now, last = 0;
	int rc;

	rc = manager_connect(m, &c);
	for (long k = 0; rc == 0 && k < r->ops; k++) {
		rc = manager_incr(c, "counter", 1, &now);
		/* One client's own increments can only see the counter grow. */
		if (rc == 0 && now <= last)
			rc = -EPROTO;
		last = now;
		sum += now;
	}
	if (rc) {
		fprintf(stderr, "%s: client %d: incr: %s\n", wb_progname(), i,
			manager_strerror(rc));
		manager_close(c);
		return 1;
	}
	manager_close(c);
	return write(r->sums[1], &sum, sizeof(sum)) != sizeof(sum);
}

static void case_incr(long procs, long ops)
{
	struct incr_run r = { .ops = ops };
	struct manager *m = start(NULL);
	struct manager_client *c;
	long long sum = 0, part, total = procs * ops;
	char *v;
	size_t len;
	int rc;

	if (pipe2(r.sums, O_CLOEXEC) != 0)
		die_errno(errno, "pipe");
	fork_all(m, (int)procs, incr_client, &r);
	close(r.sums[1]);
	while (read(r.sums[0], &part, sizeof(part)) == sizeof(part))
		sum += part;
	close(r.sums[0]);
	c = connect_or_die(m);
	rc = manager_get(c, "counter", &v, &len);
	if (rc)
		die("get counter: %s", manager_strerror(rc));
	/*
	 * Each increment saw a value of its own: together they saw 1, 2, ...
	 * total, whose sum is known.  A lost update shows in the count, two
	 * increments that saw the same value show in the sum.
	 */
	printf("counter=%s expected=%lld\n", v, total);
	printf("returned_sum=%s\n", sum == total * (total + 1) / 2 ? "exact" : "wrong");
	free(v);
	manager_close(c);
	stop(m);
}

/* ------------------------------------------------------------- raw frames */

/*
 * A connection to the server's socket, reads bounded by the reply timeout.
 * It returns once the connection is queued, before the server accepts it.
 */
static int raw_dial(const struct manager *m)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = reply_ms / 1000, .tv_usec = (reply_ms % 1000) * 1000 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die_errno(errno, "socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	strcpy(addr.sun_path, manager_path(m));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		die_errno(errno, "connect");
	return fd;
}

static int raw_connect(const struct manager *m)
{
	struct frame hello;
	int fd = raw_dial(m);

	if (frame_recv(fd, &hello, 64) != 1 || hello.kind != MGR_HELLO)
		die("no greeting from the server");
	frame_release(&hello);
	return fd;
}

static void raw_send(int fd, const void *p, size_t len)
{
	if (send(fd, p, len, MSG_NOSIGNAL) != (ssize_t)len)
		die_errno(errno, "send");
}

/*
 * Send a header claiming @len bytes, then @sent bytes of @payload, in one
 * send(): the server may close the connection as soon as it has read the
 * header, and a second send would then fail.
 */
static void raw_frame(int fd, uint32_t magic, uint32_t kind, uint32_t id, uint32_t len,
		      const void *payload, size_t sent)
{
	uint32_t hdr[4] = { magic, kind, id, len };
	unsigned char buf[FRAME_HEADER + 64];

	if (sent > 64)
		die("raw_frame: payload too long");
	memcpy(buf, hdr, FRAME_HEADER);
	if (sent)
		memcpy(buf + FRAME_HEADER, payload, sent);
	raw_send(fd, buf, FRAME_HEADER + sent);
}

/*
 * Wait until the server has read everything sent on @fd (SIOCOUTQ: on a
 * Unix stream socket, the bytes still queued at the peer), so that the next
 * byte arrives in a read of its own.  The kernel offers no event for this:
 * look every millisecond, for at most the reply timeout.
 */
static void wait_taken(int fd)
{
	int64_t deadline = clk_deadline_ms(reply_ms);
	int queued;

	while (ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0) {
		if (clk_passed(deadline))
			return; /* the reply, or its absence, tells the rest */
		clk_sleep_ms(1);
	}
}

/*
 * Read the reply and describe it: "ERR EPROTO id=none", "OK id=7",
 * "none (timeout)", "closed".
 */
static void raw_reply(int fd, char *out, size_t len)
{
	struct frame f;
	int rc = frame_recv(fd, &f, 1 << 20);
	uint32_t code;

	if (rc == 0) {
		snprintf(out, len, "closed");
	} else if (rc < 0) {
		snprintf(out, len, "%s", rc == -EAGAIN ? "none (timeout)" : code_name(rc));
	} else if (f.kind == MGR_ERR && f.len == 4) {
		memcpy(&code, f.data, 4);
		if (f.id == MGR_NO_ID)
			snprintf(out, len, "ERR %s id=none", code_name(-(int)code));
		else
			snprintf(out, len, "ERR %s id=%u", code_name(-(int)code), f.id);
	} else {
		snprintf(out, len, "%s id=%u", f.kind == MGR_OK ? "OK" : "kind?", f.id);
	}
	if (rc > 0)
		frame_release(&f);
}

/* After the last word, the server has closed the connection. */
static const char *closed(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, 0);

	/* A close with our bytes unread reaches us as a reset, after the reply. */
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return "closed";
	return n < 0 && errno == EAGAIN ? "still open" : "data after it";
}

static void case_malformed(void)
{
	struct manager_opts o = { .max_frame = 4096 };
	struct manager *m = start(&o);
	struct manager_client *c = connect_or_die(m);
	char got[96], *v;
	size_t len;
	int fd, rc;

	if ((rc = manager_set(c, "keep", "safe", 4)))
		die("set: %s", manager_strerror(rc));

	fd = raw_connect(m);
	raw_frame(fd, 0x12345678, MGR_GET, 1, 5, "keep", 5);
	raw_reply(fd, got, sizeof(got));
	printf("wrong magic: %s, then %s\n", got, closed(fd));
	close(fd);

	fd = raw_connect(m);
	raw_frame(fd, FRAME_MAGIC, MGR_SET, 2, 4097, NULL, 0);
	raw_reply(fd, got, sizeof(got));
	printf("oversize: %s, then %s\n", got, closed(fd));
	close(fd);

	/* Whole frames with a wrong content: answered, and the connection stays. */
	fd = raw_connect(m);
	raw_frame(fd, FRAME_MAGIC, 99, 3, 5, "keep", 5);
	raw_reply(fd, got, sizeof(got));
	printf("unknown kind: %s\n", got);
	raw_frame(fd, FRAME_MAGIC, MGR_GET, 4, 4, "keep", 4);
	raw_reply(fd, got, sizeof(got));
	printf("key without NUL: %s\n", got);
	raw_frame(fd, FRAME_MAGIC, MGR_INCR, 5, 8, "keep\0abc", 8);
	raw_reply(fd, got, sizeof(got));
	printf("incr of 3 bytes: %s\n", got);
	raw_frame(fd, FRAME_MAGIC, MGR_KEYS, 6, 2, "x", 2);
	raw_reply(fd, got, sizeof(got));
	printf("keys with a payload: %s\n", got);

	/* A good frame, one byte at a time: the server waits for the rest. */
	{
		unsigned char frame[FRAME_HEADER + 5];

		frame_encode(frame, MGR_GET, 7, 5);
		memcpy(frame + FRAME_HEADER, "keep", 5);
		for (size_t i = 0; i < sizeof(frame); i++) {
			raw_send(fd, frame + i, 1);
			wait_taken(fd);
		}
		raw_reply(fd, got, sizeof(got));
		printf("byte by byte: %s\n", got);
	}
	close(fd);

	rc = manager_get(c, "keep", &v, &len);
	printf("then a good client: %s, keep=%s\n", code_name(rc), rc ? "?" : v);
	if (!rc)
		free(v);
	manager_close(c);
	stop(m);
}

/* ------------------------------------------------------------- death */

static void case_death(void)
{
	struct manager *m = start(NULL);
	struct manager_client *c = connect_or_die(m);
	int ready[2], status, rc;
	char b, *v;
	size_t len;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) != 0)
		die_errno(errno, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die_errno(errno, "fork");
	if (pid == 0) {
		/* Half a SET of "victim": the header and 3 of its 10 bytes. */
		int fd = raw_connect(m);

		raw_frame(fd, FRAME_MAGIC, MGR_SET, 1, 10, "vic", 3);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause(); /* killed here, in the middle of its request */
		_exit(1);
	}
	close(ready[1]);
	if (read(ready[0], &b, 1) != 1)
		die("the dying client did not send its half frame");
	close(ready[0]);
	/* The server is now inside that client's frame; others still get answers. */
	rc = manager_set(c, "other", "1", 1);
	printf("while it waits: %s\n", code_name(rc));
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno(errno, "waitpid");
	/*
	 * The kill closed its socket before waitpid() returned.  A server sees
	 * that end and a new connection in the same poll() or the end first,
	 * and it reads clients before it accepts: a greeting for a new client
	 * proves the death was handled.
	 */
	{
		struct manager_client *fresh;

		rc = manager_connect(m, &fresh);
		if (!rc) {
			rc = manager_incr(fresh, "other", 1, NULL);
			manager_close(fresh);
		}
		printf("a new client after the kill: %s\n", code_name(rc));
	}
	rc = manager_incr(c, "other", 1, NULL);
	printf("the old client after the kill: %s\n", code_name(rc));
	rc = manager_get(c, "victim", &v, &len);
	printf("victim: %s\n", code_name(rc));
	if (!rc)
		free(v);
	{
		char **keys;
		size_t n;

		rc = manager_keys(c, &keys, &n);
		printf("keys: %s", code_name(rc));
		for (size_t i = 0; !rc && i < n; i++)
			printf(" %s", keys[i]);
		printf("\n");
		if (!rc)
			manager_keys_free(keys, n);
	}
	manager_close(c);
	stop(m);
}

/* ------------------------------------------------------------- full, timeouts */

static void case_full(void)
{
	struct manager_opts o = { .max_clients = 2 };
	struct manager *m = start(&o);
	struct manager_client *a = connect_or_die(m), *b = connect_or_die(m), *x;
	int rc;

	rc = manager_connect(m, &x);
	printf("third client: %s\n", code_name(rc));
	if (!rc)
		manager_close(x);
	printf("the first two still served: %s %s\n", code_name(manager_set(a, "k", "1", 1)),
	       code_name(manager_incr(b, "k", 1, NULL)));
	manager_close(a);
	rc = manager_connect(m, &x);
	printf("after one left: %s\n", code_name(rc));
	if (!rc) {
		printf("and it is served: %s\n", code_name(manager_incr(x, "k", 1, NULL)));
		manager_close(x);
	}
	manager_close(b);
	stop(m);
}

static void case_timeouts(void)
{
	struct manager_opts o = { .idle_ms = 300, .head_ms = 300 };
	struct manager *m = start(&o);
	struct manager_client *c = connect_or_die(m);
	char got[96];
	int fd = raw_connect(m);
	int64_t t0;

	/* Half a header, then nothing: the server closes it after head_ms. */
	raw_send(fd, "WBF1", 4);
	t0 = clk_now_ns();
	raw_reply(fd, got, sizeof(got));
	printf("stuck inside a frame: %s after_ms=%.0f\n", got, clk_since(t0) * 1000);
	close(fd);
	/* The proxy has been silent since its greeting: closed after idle_ms. */
	fd = raw_connect(m);
	t0 = clk_now_ns();
	raw_reply(fd, got, sizeof(got));
	printf("silent: %s idle_after_ms=%.0f\n", got, clk_since(t0) * 1000);
	close(fd);
	printf("the idle proxy: %s\n", code_name(manager_set(c, "k", "1", 1)));
	manager_close(c);
	stop(m);
}

/* ------------------------------------------------------------- locks */

#define LOCK_WAIT_MS 10000L

/* d[k] = d[k] + 1 inside the lock: a get and a set that nothing comes between. */
static int locked_add(struct manager_client *c, const char *key)
{
	char buf[24], *old;
	size_t len;
	int rc = manager_lock(c, "L", LOCK_WAIT_MS);

	if (rc)
		return rc;
	rc = manager_get(c, key, &old, &len);
	if (rc == 0) {
		snprintf(buf, sizeof(buf), "%lld", strtoll(old, NULL, 10) + 1);
		free(old);
		rc = manager_set(c, key, buf, strlen(buf));
	}
	int urc = manager_unlock(c, "L");
	return rc ? rc : urc;
}

static int lock_client(struct manager *m, int i, void *arg)
{
	const long *ops = arg;
	struct manager_client *c;
	int rc = manager_connect(m, &c);

	for (long k = 0; rc == 0 && k < *ops; k++)
		rc = locked_add(c, "n");
	if (rc)
		fprintf(stderr, "%s: client %d: %s\n", wb_progname(), i, manager_strerror(rc));
	manager_close(c);
	return rc != 0;
}

static void case_lock(long procs, long ops)
{
	struct manager *m = start(NULL);
	struct manager_client *c = connect_or_die(m);
	char *v;
	size_t len;
	int rc;

	if ((rc = manager_set(c, "n", "0", 1)))
		die("set: %s", manager_strerror(rc));
	fork_all(m, (int)procs, lock_client, &ops);
	if ((rc = manager_get(c, "n", &v, &len)))
		die("get: %s", manager_strerror(rc));
	printf("locked=%s expected=%lld\n", v, (long long)procs * ops);
	free(v);
	manager_close(c);
	stop(m);
}

/* A raw LOCK or UNLOCK request for @name, sent without waiting for its reply. */
static void raw_lock(int fd, uint32_t kind, uint32_t id, const char *name, int64_t ms)
{
	unsigned char p[64];
	size_t n = strlen(name) + 1;

	memcpy(p, name, n);
	if (kind == MGR_LOCK) {
		memcpy(p + n, &ms, sizeof(ms));
		n += sizeof(ms);
	}
	raw_frame(fd, FRAME_MAGIC, kind, id, (uint32_t)n, p, n);
}

/*
 * Four waiters queue behind a holder, each after the server has taken the
 * one before (wait_taken): their order is forced.  Each, once granted,
 * unlocks, which must grant the next one and no other.
 */
static void case_lockfifo(void)
{
	struct manager *m = start(NULL);
	struct manager_client *h = connect_or_die(m), *o = connect_or_die(m);
	int w[4], early = 0;
	char got[64], b;

	printf("holder: %s\n", code_name(manager_lock(h, "L", 0)));
	printf("try-lock while held: %s\n", code_name(manager_lock(o, "L", 0)));
	printf("lock twice: %s\n", code_name(manager_lock(h, "L", 0)));
	printf("unlock by another: %s\n", code_name(manager_unlock(o, "L")));
	printf("unlock of no lock: %s\n", code_name(manager_unlock(o, "none")));
	for (int i = 0; i < 4; i++) {
		w[i] = raw_connect(m);
		raw_lock(w[i], MGR_LOCK, 100 + (uint32_t)i, "L", LOCK_WAIT_MS);
		wait_taken(w[i]);
	}
	printf("holder unlocks: %s\n", code_name(manager_unlock(h, "L")));
	printf("grants:");
	for (int i = 0; i < 4; i++) {
		raw_reply(w[i], got, sizeof(got));
		printf(" [%s]", got);
		/* Until it unlocks, the waiters behind it have nothing to read. */
		for (int j = i + 1; j < 4; j++)
			if (recv(w[j], &b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0)
				early++;
		raw_lock(w[i], MGR_UNLOCK, 200 + (uint32_t)i, "L", 0);
		raw_reply(w[i], got, sizeof(got));
		printf(" [%s]", got);
	}
	printf("\n");
	printf("granted early: %d\n", early);
	printf("free again: %s\n", code_name(manager_lock(o, "L", 0)));
	for (int i = 0; i < 4; i++)
		close(w[i]);
	manager_close(o);
	manager_close(h);
	stop(m);
}

/*
 * A child takes the lock and waits on a pipe; two waiters queue behind it,
 * the first of which hangs up.  The child is killed: the second waiter is
 * granted, the dead holder's lock and the gone waiter's place passed on.
 */
static void case_lockdeath(void)
{
	struct manager *m = start(NULL);
	int ready[2], hold[2], status, w1, w2;
	pid_t parent = getpid(), pid;
	char got[64], b;

	if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(hold, O_CLOEXEC) != 0)
		die_errno(errno, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die_errno(errno, "fork");
	if (pid == 0) {
		struct manager_client *c;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(1);
		if (manager_connect(m, &c) != 0 || manager_lock(c, "L", 0) != 0)
			_exit(1);
		b = 'y';
		if (write(ready[1], &b, 1) != 1)
			_exit(1);
		while (read(hold[0], &b, 1) < 0 && errno == EINTR)
			; /* the parent kills us while we hold the lock */
		_exit(1);
	}
	close(ready[1]);
	if (read(ready[0], &b, 1) != 1)
		die("the holder could not take the lock");
	w1 = raw_connect(m);
	raw_lock(w1, MGR_LOCK, 1, "L", LOCK_WAIT_MS);
	wait_taken(w1);
	w2 = raw_connect(m);
	raw_lock(w2, MGR_LOCK, 2, "L", LOCK_WAIT_MS);
	wait_taken(w2);
	close(w1); /* the first waiter gives up and hangs up */
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno(errno, "waitpid");
	printf("holder: %s\n", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
	raw_reply(w2, got, sizeof(got));
	printf("the waiter behind them: %s\n", got);
	close(w2);
	close(ready[0]);
	close(hold[0]);
	close(hold[1]);
	stop(m);
}

/* A lock request that times out leaves the queue, and its proxy works on. */
static void case_locktime(void)
{
	struct manager *m = start(NULL);
	struct manager_client *h = connect_or_die(m), *c = connect_or_die(m);
	int64_t t0;
	int rc;

	printf("holder: %s\n", code_name(manager_lock(h, "L", 0)));
	t0 = clk_now_ns();
	rc = manager_lock(c, "L", 300);
	printf("timed out: %s waited_ms=%.0f\n", code_name(rc), clk_since(t0) * 1000);
	printf("the proxy after it: %s\n", code_name(manager_incr(c, "k", 1, NULL)));
	/* Were it still queued, this unlock would grant it a lock it gave up. */
	printf("holder unlocks: %s\n", code_name(manager_unlock(h, "L")));
	printf("free for it now: %s\n", code_name(manager_lock(c, "L", 0)));
	printf("the holder now waits its turn: %s\n", code_name(manager_lock(h, "L", 0)));
	manager_close(c);
	manager_close(h);
	stop(m);
}

/* Silence costs a connection its place, unless it holds a lock. */
static void case_lockidle(void)
{
	struct manager *m = start(&(struct manager_opts){ .idle_ms = 200 });
	struct manager_client *h = connect_or_die(m), *o = connect_or_die(m);

	printf("holder: %s\n", code_name(manager_lock(h, "L", 0)));
	clk_sleep_ms(600); /* three idle limits */
	printf("a silent proxy without a lock: %s\n", code_name(manager_incr(o, "k", 1, NULL)));
	printf("the silent holder unlocks: %s\n", code_name(manager_unlock(h, "L")));
	manager_close(o);
	manager_close(h);
	stop(m);
}

/* ------------------------------------------------------------- idle, shutdown */

/* CPU time (ms) and voluntary context switches of process @pid. */
static void proc_usage(pid_t pid, double *cpu_ms, long *wakeups)
{
	char path[64], line[256];
	unsigned long utime, stime;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	/* Fields 14 and 15, after the ")" that ends the command name. */
	if (!f || !fgets(line, sizeof(line), f) || !strrchr(line, ')') ||
	    sscanf(strrchr(line, ')') + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
		   &utime, &stime) != 2)
		die("cannot read %s", path);
	fclose(f);
	*cpu_ms = (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	*wakeups = -1;
	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "voluntary_ctxt_switches: %ld", wakeups);
	if (f)
		fclose(f);
	if (*wakeups < 0)
		die("cannot read %s", path);
}

static void case_idle(void)
{
	struct manager *m = start(NULL);
	struct manager_client *c[8];
	double cpu0, cpu1;
	long w0, w1;
	int rc;

	for (int i = 0; i < 8; i++) {
		c[i] = connect_or_die(m);
		if ((rc = manager_incr(c[i], "k", 1, NULL)))
			die("incr: %s", manager_strerror(rc));
	}
	/* Every client has had its answer; now all are connected and silent. */
	proc_usage(manager_pid(m), &cpu0, &w0);
	clk_sleep_ms(IDLE_WINDOW_MS);
	proc_usage(manager_pid(m), &cpu1, &w1);
	printf("server_ms=%d server_cpu_ms=%.0f server_wakeups=%ld\n", IDLE_WINDOW_MS, cpu1 - cpu0,
	       w1 - w0);
	printf("still serving: %s\n", code_name(manager_incr(c[0], "k", 1, NULL)));
	for (int i = 0; i < 8; i++)
		manager_close(c[i]);
	stop(m);
}

/* The number of descriptors process @pid has open. */
static int open_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (!(d = opendir(path)))
		die_errno(errno, "opendir %s", path);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * The server's descriptor limit is lowered (prlimit) to what it has open
 * plus one: one client more is served, and the next waits in the listen
 * queue while accept() fails with EMFILE.  The server's CPU time is taken
 * while that client waits; then what the client was told, and whether the
 * server serves a new client once one has left.
 */
static void case_emfile(void)
{
	struct manager *m = start(NULL);
	struct manager_client *a = connect_or_die(m), *b, *x;
	pid_t pid = manager_pid(m);
	struct rlimit lim;
	double cpu0, cpu1;
	long w0, w1;
	char got[96];
	int fd, rc;

	/* A round trip: the server is in its loop, every descriptor it keeps open. */
	if ((rc = manager_incr(a, "k", 1, NULL)))
		die("incr: %s", manager_strerror(rc));
	if (prlimit(pid, RLIMIT_NOFILE, NULL, &lim) != 0)
		die_errno(errno, "prlimit");
	lim.rlim_cur = (rlim_t)open_fds(pid) + 1;
	if (prlimit(pid, RLIMIT_NOFILE, &lim, NULL) != 0)
		die_errno(errno, "prlimit");
	b = connect_or_die(m);
	printf("the client that takes the last descriptor: %s\n",
	       code_name(manager_incr(b, "k", 1, NULL)));
	fd = raw_dial(m);
	proc_usage(pid, &cpu0, &w0);
	clk_sleep_ms(IDLE_WINDOW_MS);
	proc_usage(pid, &cpu1, &w1);
	printf("server_ms=%d server_cpu_ms=%.0f server_wakeups=%ld\n", IDLE_WINDOW_MS, cpu1 - cpu0,
	       w1 - w0);
	raw_reply(fd, got, sizeof(got));
	printf("the client past the limit: %s, then %s\n", got, closed(fd));
	close(fd);
	printf("the clients within it still served: %s %s\n",
	       code_name(manager_incr(a, "k", 1, NULL)), code_name(manager_incr(b, "k", 1, NULL)));
	manager_close(a);
	rc = manager_connect(m, &x);
	printf("after one left: %s\n", code_name(rc));
	if (!rc) {
		printf("and it is served: %s\n", code_name(manager_incr(x, "k", 1, NULL)));
		manager_close(x);
	}
	manager_close(b);
	stop(m);
}

/*
 * A child waits for a lock the parent holds; the parent measures the
 * child's CPU time meanwhile, then unlocks, and the child reports the grant.
 */
static void case_lockwait(void)
{
	struct manager *m = start(NULL);
	struct manager_client *h = connect_or_die(m);
	int ready[2], status, rc;
	pid_t parent = getpid(), pid;
	double cpu0, cpu1;
	long w0, w1;
	char b;

	if ((rc = manager_lock(h, "L", 0)))
		die("lock: %s", manager_strerror(rc));
	if (pipe2(ready, O_CLOEXEC) != 0)
		die_errno(errno, "pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die_errno(errno, "fork");
	if (pid == 0) {
		struct manager_client *c;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(1);
		if (manager_connect(m, &c) != 0)
			_exit(1);
		b = 'y';
		if (write(ready[1], &b, 1) != 1)
			_exit(1);
		rc = manager_lock(c, "L", LOCK_WAIT_MS);
		printf("the waiter's lock: %s\n", code_name(rc));
		fflush(stdout);
		_exit(rc != 0);
	}
	close(ready[1]);
	if (read(ready[0], &b, 1) != 1)
		die("the waiter did not connect");
	close(ready[0]);
	proc_usage(pid, &cpu0, &w0);
	clk_sleep_ms(IDLE_WINDOW_MS);
	proc_usage(pid, &cpu1, &w1);
	printf("waiter_ms=%d waiter_cpu_ms=%.0f waiter_wakeups=%ld\n", IDLE_WINDOW_MS, cpu1 - cpu0,
	       w1 - w0);
	fflush(stdout);
	printf("holder unlocks: %s\n", code_name(manager_unlock(h, "L")));
	fflush(stdout);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno(errno, "waitpid");
	printf("waiter: %s\n",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "granted" : "failed");
	manager_close(h);
	stop(m);
}

/* ------------------------------------------------------------- floor */

/*
 * What a round trip costs with nothing but the kernel: a 24-byte message
 * (a header and an 8-byte delta) to a process that sends it back, over a
 * socketpair, beside manager_incr() in the same run.
 */
static void case_floor(long ops)
{
	struct manager *m = start(NULL);
	struct manager_client *c = connect_or_die(m);
	unsigned char msg[FRAME_HEADER + 8] = { 0 };
	double t_floor, t_mgr;
	int sv[2], status;
	pid_t parent = getpid(), pid;
	int64_t t0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die_errno(errno, "socketpair");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die_errno(errno, "fork");
	if (pid == 0) {
		close(sv[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
			_exit(1);
		for (;;) {
			ssize_t n = recv(sv[1], msg, sizeof(msg), 0);

			if (n <= 0 || send(sv[1], msg, (size_t)n, MSG_NOSIGNAL) != n)
				_exit(n != 0);
		}
	}
	close(sv[1]);
	t0 = clk_now_ns();
	for (long i = 0; i < ops; i++)
		if (send(sv[0], msg, sizeof(msg), MSG_NOSIGNAL) != sizeof(msg) ||
		    recv(sv[0], msg, sizeof(msg), MSG_WAITALL) != sizeof(msg))
			die_errno(errno, "ping-pong");
	t_floor = clk_since(t0);
	close(sv[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno(errno, "waitpid");
	t0 = clk_now_ns();
	for (long i = 0; i < ops; i++) {
		int rc = manager_incr(c, "n", 1, NULL);

		if (rc)
			die("incr: %s", manager_strerror(rc));
	}
	t_mgr = clk_since(t0);
	printf("floor_ops_s=%.0f manager_ops_s=%.0f manager_vs_floor=%.2f\n", (double)ops / t_floor,
	       (double)ops / t_mgr, t_floor / t_mgr);
	manager_close(c);
	stop(m);
}

static void case_shutdown(void)
{
	struct manager *m = start(NULL);
	struct manager_client *c = connect_or_die(m);
	pid_t pid = manager_pid(m);
	char path[128];
	struct stat st;
	int status, rc;

	snprintf(path, sizeof(path), "%s", manager_path(m));
	printf("served: %s\n", code_name(manager_set(c, "k", "v", 1)));
	rc = manager_shutdown(m, &status);
	printf("shutdown: %s, status %d\n", code_name(rc), status);
	printf("server process: %s\n",
	       kill(pid, 0) != 0 && errno == ESRCH ? "gone" : "still there");
	printf("socket file: %s\n",
	       stat(path, &st) != 0 && errno == ENOENT ? "gone" : "still there");
	printf("a proxy after it: %s\n", code_name(manager_set(c, "k", "v", 1)));
	manager_close(c);
}

static void usage(void)
{
	printf("usage: %s --case NAME [--procs N] [--ops M] [--reply-ms MS]\n"
	       "cases: contents incr malformed death full timeouts idle shutdown\n"
	       "       lock lockfifo lockdeath locktime lockwait lockidle floor emfile\n",
	       wb_progname());
}

int main(int argc, char **argv)
{
	static const char *const cases[] = { "contents", "incr",     "malformed", "death",
					     "full",	 "timeouts", "idle",	  "shutdown",
					     "lock",	 "lockfifo", "lockdeath", "locktime",
					     "lockwait", "lockidle", "floor",	  "emfile",
					     NULL };
	enum { OPT_CASE = 1, OPT_PROCS, OPT_OPS, OPT_REPLY, OPT_HELP };
	static const struct option opts[] = {
		{ "case", required_argument, NULL, OPT_CASE },
		{ "procs", required_argument, NULL, OPT_PROCS },
		{ "ops", required_argument, NULL, OPT_OPS },
		{ "reply-ms", required_argument, NULL, OPT_REPLY },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	long procs = 4, ops = 1000;
	int which = -1, c;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		switch (c) {
		case OPT_CASE:
			which = arg_choice("--case", optarg, cases);
			break;
		case OPT_PROCS:
			procs = arg_long("--procs", optarg, 1, 64);
			break;
		case OPT_OPS:
			ops = arg_long("--ops", optarg, 1, 1000000);
			break;
		case OPT_REPLY:
			reply_ms = arg_long("--reply-ms", optarg, 1, 60000);
			break;
		case OPT_HELP:
			usage();
			return 0;
		}
	}
	arg_no_operands(argc, argv);
	switch (which) {
	case 0:
		case_contents();
		break;
	case 1:
		case_incr(procs, ops);
		break;
	case 2:
		case_malformed();
		break;
	case 3:
		case_death();
		break;
	case 4:
		case_full();
		break;
	case 5:
		case_timeouts();
		break;
	case 6:
		case_idle();
		break;
	case 7:
		case_shutdown();
		break;
	case 8:
		case_lock(procs, ops);
		break;
	case 9:
		case_lockfifo();
		break;
	case 10:
		case_lockdeath();
		break;
	case 11:
		case_locktime();
		break;
	case 12:
		case_lockwait();
		break;
	case 13:
		case_lockidle();
		break;
	case 14:
		case_floor(ops);
		break;
	case 15:
		case_emfile();
		break;
	default:
		usage_error("--case is required");
	}
	return 0;
}
