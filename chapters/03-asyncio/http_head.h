/*
 * http_head.h - the head of an HTTP/1.x request, parsed with limits.
 *
 * A server reads a request a piece at a time and must decide, after each
 * piece, one of three things: the head is complete (serve it), it is not
 * yet (read more), or it never will be (answer with an error and close).
 * http_head_parse() makes that decision from the bytes received so far,
 * and is pure: no I/O, no allocation, no state between calls, so that it
 * can be tested byte by byte without a socket.
 *
 * What it accepts (RFC 9112, section 2-3, kept strict):
 *   - a request line "METHOD SP target SP HTTP/1.0|HTTP/1.1", the method
 *     of capital letters, the target in origin form ("/...") of visible
 *     ASCII;
 *   - header lines "Name: value", the name a token with no space before
 *     the colon, the value free of control bytes (a NUL or a stray CR
 *     would let two readers see two different requests); no folded lines;
 *   - lines ending in CRLF or a bare LF; the head ends at an empty line.
 *
 * The request line is judged as soon as it is whole, so a client that
 * sends garbage learns so at once rather than when its head times out.
 *
 * The parsed head points into the caller's buffer: valid while the buffer
 * is, and unchanged.
 */
#ifndef WB_HTTP_HEAD_H
#define WB_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

/* The longest method accepted ("OPTIONS" has 7 letters). */
#define HTTP_HEAD_METHOD_MAX 16

struct http_head {
	const char *method; /* not NUL-terminated: use the lengths */
	size_t method_len;
	const char *target;
	size_t target_len;
	int minor;	 /* HTTP/1.minor: 0 or 1 */
	bool keep_alive; /* 1.1 unless "Connection: close"; 1.0 only if asked */
	bool has_body;	 /* a non-zero Content-Length or any Transfer-Encoding */
	size_t size;	 /* bytes of the head, its empty line included */
};

/*
 * Parse the request head at the start of @buf (@len bytes received so
 * far), accepting at most @max bytes of head.  Returns:
 *   1            the head is complete: *@h describes it, and h->size bytes
 *                of @buf are its (what follows may be the next request);
 *   0            not yet: read more (there is still room, @len < @max);
 *   -EMSGSIZE    no end within @max bytes (HTTP's 431);
 *   -EBADMSG     malformed (HTTP's 400).
 * *@h is written only when the result is 1.
 */
int http_head_parse(struct http_head *h, const char *buf, size_t len, size_t max);

/* True if @h's method is @method (case-sensitive, as HTTP's are). */
bool http_head_method_is(const struct http_head *h, const char *method);

#endif
