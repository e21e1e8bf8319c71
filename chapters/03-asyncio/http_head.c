/*
 * http_head.c - parse an HTTP/1.x request head with limits; see http_head.h.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http_head.h"

/* The fields of the head the parse keeps while it walks the header lines. */
struct fields {
	bool close, keep_alive, has_body;
};

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* A line ends at its LF; a CR just before the LF belongs to the ending. */
static const char *line_end(const char *line, const char *nl)
{
	return nl > line && nl[-1] == '\r' ? nl - 1 : nl;
}

/* "METHOD SP /target SP HTTP/1.x", nothing more and nothing less. */
static int parse_request_line(struct http_head *h, const char *p, const char *end)
{
	const char *sp1 = memchr(p, ' ', (size_t)(end - p)), *sp2, *s;

	if (!sp1 || sp1 == p || sp1 - p > HTTP_HEAD_METHOD_MAX)
		return -EBADMSG;
	for (s = p; s < sp1; s++)
		if (*s < 'A' || *s > 'Z')
			return -EBADMSG;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1 || sp1[1] != '/')
		return -EBADMSG;
	for (s = sp1 + 1; s < sp2; s++)
		if (*s <= ' ' || *s > '~')
			return -EBADMSG;
	if (end - sp2 - 1 != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return -EBADMSG;
	h->method = p;
	h->method_len = (size_t)(sp1 - p);
	h->target = sp1 + 1;
	h->target_len = (size_t)(sp2 - sp1 - 1);
	h->minor = sp2[8] - '0';
	return 0;
}

static bool span_equals_nocase(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

/* "Connection: close", "Connection: Keep-Alive, Upgrade": a list of tokens. */
static void parse_connection(struct fields *f, const char *v, const char *end)
{
	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		const char *stop = comma ? comma : end, *tok_end = stop;

		while (v < stop && is_ows(*v))
			v++;
		while (tok_end > v && is_ows(tok_end[-1]))
			tok_end--;
		if (span_equals_nocase(v, (size_t)(tok_end - v), "close"))
			f->close = true;
		else if (span_equals_nocase(v, (size_t)(tok_end - v), "keep-alive"))
			f->keep_alive = true;
		v = comma ? comma + 1 : end;
	}
}

/* Digits only; any value but 0 means a body follows the head. */
static int parse_content_length(struct fields *f, const char *v, const char *end)
{
	if (v == end)
		return -EBADMSG;
	for (const char *s = v; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EBADMSG;
		if (*s != '0')
			f->has_body = true;
	}
	return 0;
}

/* "Name: value": a token, a colon, then a value with no control bytes. */
static int parse_header_line(struct fields *f, const char *p, const char *end)
{
	const char *colon = memchr(p, ':', (size_t)(end - p)), *v, *vend;

	/* A line starting with a space would continue the one before it: the
	 * obsolete line folding, which RFC 9112 lets a server reject. */
	if (!colon || colon == p)
		return -EBADMSG;
	for (const char *s = p; s < colon; s++)
		if (!is_tchar((unsigned char)*s))
			return -EBADMSG;
	for (const char *s = colon + 1; s < end; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch < ' ' && ch != '\t') || ch == 0x7f)
			return -EBADMSG;
	}
	for (v = colon + 1; v < end && is_ows(*v); v++)
		;
	for (vend = end; vend > v && is_ows(vend[-1]); vend--)
		;
	if (span_equals_nocase(p, (size_t)(colon - p), "connection"))
		parse_connection(f, v, vend);
	else if (span_equals_nocase(p, (size_t)(colon - p), "content-length"))
		return parse_content_length(f, v, vend);
	else if (span_equals_nocase(p, (size_t)(colon - p), "transfer-encoding"))
		f->has_body = true;
	return 0;
}

int http_head_parse(struct http_head *h, const char *buf, size_t len, size_t max)
{
	const char *end = buf + (len < max ? len : max), *p = buf, *nl;
	struct http_head head = { 0 };
	struct fields f = { 0 };
	int err;

	/* Walk the whole lines received so far, judging each as it comes. */
	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		const char *eol = line_end(p, nl);

		if (p == buf) {
			err = parse_request_line(&head, p, eol);
		} else if (eol == p) {
			head.keep_alive = head.minor == 1 ? !f.close : f.keep_alive && !f.close;
			head.has_body = f.has_body;
			head.size = (size_t)(nl + 1 - buf);
			*h = head;
			return 1;
		} else {
			err = parse_header_line(&f, p, eol);
		}
		if (err)
			return err;
		p = nl + 1;
	}
	return len >= max ? -EMSGSIZE : 0;
}

bool http_head_method_is(const struct http_head *h, const char *method)
{
	return h->method_len == strlen(method) && memcmp(h->method, method, h->method_len) == 0;
}
