/*
 * dm_work.c - see dm_work.h.
 */
#define _GNU_SOURCE /* accept4 */
#include "dm_work.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <gmp.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bigfact.h"
#include "clock.h"
#include "dbrows.h"

#define FETCH_TIMEOUT_MS 30000L
#define DB_ROWS_TEXT 4096

uint64_t dm_fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* ------------------------------------------------------------ fetch */

void dm_fetch_url(const struct dm_job *j, char *buf, size_t len)
{
	snprintf(buf, len, "http://127.0.0.1:%ld/file?size=%ld&delay_ms=%ld", j->port, j->size,
		 j->delay_ms);
}

struct body_hash {
	uint64_t h;
	size_t bytes;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body_hash *b = arg;

	b->h = dm_fnv(b->h, data, size * nmemb);
	b->bytes += size * nmemb;
	return size * nmemb;
}

/* One GET on an easy handle of its own: chapter 01's download, blocking. */
static int fetch(const struct dm_job *j, uint64_t *out, char *err, size_t errlen)
{
	struct body_hash b = { .h = DM_FNV_START };
	char url[128], why[CURL_ERROR_SIZE] = "";
	CURL *easy = curl_easy_init();
	CURLcode rc;
	long status = 0;

	if (!easy) {
		snprintf(err, errlen, "curl_easy_init failed");
		return -ENOMEM;
	}
	dm_fetch_url(j, url, sizeof url);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	/* No SIGALRM for timeouts: this runs on threads. */
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, why);
	rc = curl_easy_perform(easy);
	if (rc == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(easy);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", url, why[0] ? why : curl_easy_strerror(rc));
		return -EIO;
	}
	if (status != 200 || b.bytes != (size_t)j->size) {
		snprintf(err, errlen, "%s: status %ld, %zu bytes", url, status, b.bytes);
		return -EIO;
	}
	*out = b.h;
	return 0;
}

/* ------------------------------------------------------------ image */

/* xorshift64*: the same pixels on every run, in every process. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/*
 * Generate image @index (@side x @side grey pixels), blur it with a 3x3
 * box (the edge pixels keep their value), and hash the result: all of it
 * real memory traffic and arithmetic, nothing that waits.
 */
static int blur(const struct dm_job *j, uint64_t *out, char *err, size_t errlen)
{
	size_t side = (size_t)j->size, n = side * side;
	unsigned char *src = malloc(n), *dst = malloc(n);
	uint64_t seed = UINT64_C(0x9e3779b97f4a7c15) + j->index;

	if (!src || !dst) {
		free(src);
		free(dst);
		snprintf(err, errlen, "no memory for a %zux%zu image", side, side);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		src[i] = (unsigned char)(next_random(&seed) >> 56);
	memcpy(dst, src, n);
	for (size_t y = 1; y + 1 < side; y++) {
		for (size_t x = 1; x + 1 < side; x++) {
			unsigned sum = 0;

			for (size_t dy = 0; dy < 3; dy++)
				for (size_t dx = 0; dx < 3; dx++)
					sum += src[(y + dy - 1) * side + x + dx - 1];
			dst[y * side + x] = (unsigned char)(sum / 9);
		}
	}
	*out = dm_fnv(DM_FNV_START, dst, n);
	free(src);
	free(dst);
	return 0;
}

/* ------------------------------------------------------------ factorial */

static int factorial(const struct dm_job *j, uint64_t *out, char *err, size_t errlen)
{
	unsigned char *bytes;
	size_t len;
	mpz_t x;
	int rc;

	mpz_init(x);
	bigfact_loop(x, j->n);
	rc = bigfact_export(x, &bytes, &len);
	mpz_clear(x);
	if (rc) {
		snprintf(err, errlen, "no memory for %lu!", j->n);
		return rc;
	}
	*out = dm_fnv(DM_FNV_START, bytes, len);
	free(bytes);
	return 0;
}

/* ------------------------------------------------------------ database */

static const char QUERY[] = "SELECT day, COUNT(*), SUM(amount) FROM orders"
			    " WHERE customer % 13 = ?1 GROUP BY day ORDER BY day";

static int db_open(const char *path, int flags, sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc;

#ifdef SQLITE_OPEN_NOFOLLOW
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return -EIO;
	}
	/* Readers of one file wait for each other's locks rather than fail. */
	sqlite3_busy_timeout(db, 10000);
	*out = db;
	return 0;
}

/* One query on a connection of its own, as a request handler would. */
static int query(const struct dm_job *j, uint64_t *out, char *err, size_t errlen)
{
	char *rows = malloc(DB_ROWS_TEXT);
	sqlite3 *db;
	int rc;

	if (!rows) {
		snprintf(err, errlen, "no memory for a query's rows");
		return -ENOMEM;
	}
	rc = db_open(j->db, SQLITE_OPEN_READONLY, &db, err, errlen);
	if (rc == 0) {
		rc = dbrows_query(db, QUERY, (int64_t)(j->index % 13), rows, DB_ROWS_TEXT, err,
				  errlen);
		sqlite3_close(db);
	}
	if (rc == 0)
		*out = dm_fnv(DM_FNV_START, rows, strlen(rows));
	free(rows);
	return rc;
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", sql, sqlite3_errmsg(db));
	return -EIO;
}

int dm_db_build(const char *path, long rows, char *err, size_t errlen)
{
	static const char insert[] = "INSERT INTO orders (customer, day, amount)"
				     " VALUES (?1, ?2, ?3)";
	uint64_t seed = UINT64_C(0x2545f4914f6cdd1d);
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc = db_open(path, SQLITE_OPEN_READWRITE, &db, err, errlen);

	if (rc)
		return rc;
	/* Scratch data, in one transaction: no waiting for the disk per row. */
	rc = exec_sql(db, "PRAGMA synchronous = OFF", err, errlen);
	if (!rc)
		rc = exec_sql(db,
			      "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER,"
			      " day INTEGER, amount INTEGER); BEGIN",
			      err, errlen);
	if (!rc && sqlite3_prepare_v2(db, insert, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", insert, sqlite3_errmsg(db));
		rc = -EIO;
	}
	for (long i = 0; !rc && i < rows; i++) {
		uint64_t r = next_random(&seed);

		if (sqlite3_bind_int64(st, 1, (sqlite3_int64)(r % 1000)) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 2, (sqlite3_int64)((r >> 16) % 30)) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, (sqlite3_int64)((r >> 32) % 100000)) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE || sqlite3_reset(st) != SQLITE_OK) {
			snprintf(err, errlen, "inserting row %ld: %s", i + 1, sqlite3_errmsg(db));
			rc = -EIO;
		}
	}
	sqlite3_finalize(st);
	if (!rc)
		rc = exec_sql(db, "COMMIT", err, errlen);
	sqlite3_close(db);
	return rc;
}

/* ------------------------------------------------------------ server row */

uint64_t dm_reply(const char *line, size_t len)
{
	return dm_fnv(DM_FNV_START, line, len) % 1000000007u;
}

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = DM_IO_TIMEOUT_MS / 1000 };

	/* Best effort: without them a lost peer could only hang the row. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int dm_listen(long *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	/* Clients all connect at once; the sequential server takes them in turn. */
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	set_timeouts(fd);
	*port = ntohs(a.sin_port);
	return fd;
}

long dm_read_line(int fd, char *line, size_t cap)
{
	size_t len = 0;

	/* A byte at a time: requests are a dozen bytes, and nothing read
	 * past the newline can be lost between two requests. */
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return len ? -EPROTO : 0;
		if (c == '\n')
			break;
		if (len + 1 >= cap)
			return -EMSGSIZE;
		line[len++] = c;
	}
	line[len] = '\0';
	return (long)len;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int dm_write_reply(int fd, const char *line, size_t len)
{
	char reply[32];
	int n = snprintf(reply, sizeof reply, "%" PRIu64 "\n", dm_reply(line, len));

	return write_all(fd, reply, (size_t)n);
}

int dm_client(long port, unsigned id, unsigned long rounds, uint64_t *out, char *err, size_t errlen)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0;
	uint64_t sum = 0;
	char line[32];

	if (fd < 0) {
		snprintf(err, errlen, "client %u: socket: %s", id, strerror(errno));
		return -errno;
	}
	set_timeouts(fd);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		rc = -errno;
		snprintf(err, errlen, "client %u: connect: %s", id, strerror(errno));
	}
	for (unsigned long r = 0; !rc && r < rounds; r++) {
		int n = snprintf(line, sizeof line, "%u %lu\n", id, r);
		long got;

		rc = write_all(fd, line, (size_t)n);
		got = rc ? rc : dm_read_line(fd, line, sizeof line);
		if (got <= 0) {
			rc = got ? (int)got : -ECONNRESET;
			snprintf(err, errlen, "client %u, round %lu: %s", id, r, strerror(-rc));
		} else {
			sum += strtoull(line, NULL, 10);
		}
	}
	close(fd);
	if (!rc)
		*out = sum;
	return rc;
}

/* Accept one client and answer each of its requests after the backend's delay. */
static int serve(const struct dm_job *j, uint64_t *out, char *err, size_t errlen)
{
	int fd = accept4(j->fd, NULL, NULL, SOCK_CLOEXEC);
	unsigned long served = 0;
	char line[32];
	long len;
	int rc = 0;

	if (fd < 0) {
		rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
		snprintf(err, errlen, "accept: %s", strerror(-rc));
		return rc;
	}
	set_timeouts(fd);
	while ((len = dm_read_line(fd, line, sizeof line)) > 0) {
		clk_sleep_ms(j->delay_ms);
		rc = dm_write_reply(fd, line, (size_t)len);
		if (rc)
			break;
		served++;
	}
	close(fd);
	if (!rc && len < 0)
		rc = (int)len;
	if (rc) {
		snprintf(err, errlen, "serving a client: %s", strerror(-rc));
		return rc;
	}
	*out = served;
	return 0;
}

int dm_job_run(const struct dm_job *j, uint64_t *out, char *err, size_t errlen)
{
	switch (j->kind) {
	case DM_FETCH:
		return fetch(j, out, err, errlen);
	case DM_IMAGE:
		return blur(j, out, err, errlen);
	case DM_FACT:
		return factorial(j, out, err, errlen);
	case DM_QUERY:
		return query(j, out, err, errlen);
	case DM_SERVE:
		return serve(j, out, err, errlen);
	}
	snprintf(err, errlen, "no such kind of item: %d", j->kind);
	return -EINVAL;
}
