/*
 * frame.c - length-prefixed frames over a stream socket (see frame.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "frame.h"

void frame_encode(unsigned char hdr[FRAME_HEADER], uint32_t kind, uint32_t id, uint32_t len)
{
	const uint32_t word[4] = { FRAME_MAGIC, kind, id, len };

	memcpy(hdr, word, FRAME_HEADER);
}

int frame_decode(const unsigned char hdr[FRAME_HEADER], struct frame *f, uint32_t max)
{
	uint32_t word[4];

	memcpy(word, hdr, FRAME_HEADER);
	if (word[0] != FRAME_MAGIC || word[3] > max)
		return -EPROTO;
	*f = (struct frame){ .kind = word[1], .id = word[2], .len = word[3] };
	return 0;
}

/* Send all @len bytes, however many calls that takes. */
static int send_all(int fd, const unsigned char *p, size_t len, int more)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | more);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int frame_send(int fd, uint32_t kind, uint32_t id, const void *data, size_t len)
{
	unsigned char hdr[FRAME_HEADER];
	int rc;

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	frame_encode(hdr, kind, id, (uint32_t)len);
	/* MSG_MORE: the header waits for its payload instead of leaving alone. */
	rc = send_all(fd, hdr, sizeof(hdr), len > 0 ? MSG_MORE : 0);
	if (rc == 0 && len > 0)
		rc = send_all(fd, data, len, 0);
	return rc;
}

/*
 * Read exactly @len bytes.  Returns the number read, which is less than
 * @len only at the end of the stream, or a negative errno.
 */
static ssize_t recv_all(int fd, unsigned char *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, p + got, len - got, 0);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int frame_recv(int fd, struct frame *f, uint32_t max)
{
	unsigned char hdr[FRAME_HEADER];
	ssize_t n;
	int rc;

	*f = (struct frame){ 0 };
	n = recv_all(fd, hdr, sizeof(hdr));
	if (n < 0)
		return (int)n;
	if (n == 0)
		return 0;
	if (n < FRAME_HEADER)
		return -EPROTO;
	rc = frame_decode(hdr, f, max);
	if (rc < 0)
		return rc;
	if (f->len == 0)
		return 1;
	f->data = malloc((size_t)f->len + 1);
	if (!f->data)
		return -ENOMEM;
	n = recv_all(fd, f->data, f->len);
	if (n != (ssize_t)f->len) {
		frame_release(f);
		return n < 0 ? (int)n : -EPROTO;
	}
	f->data[f->len] = '\0';
	return 1;
}

void frame_release(struct frame *f)
{
	free(f->data);
	f->data = NULL;
	f->len = 0;
}
