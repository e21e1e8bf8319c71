/*
 * frame.h - length-prefixed messages over a stream socket: chapter 02's
 * wire format, shared by the process pool and the manager.  It is what
 * pickling plus a pipe is to Python's multiprocessing: a way to move bytes
 * between address spaces in whole pieces.
 *
 * A frame is a 16-byte header and a payload:
 *
 *     magic "WBF1" | kind | id | length      four uint32_t, host byte order
 *     length bytes of payload
 *
 * Both ends are processes of one program on one machine, so the byte order
 * is the host's.  kind and id mean what the protocol built on frames says
 * (a task, a result, a request...).  The magic catches a peer that is not
 * speaking this protocol at all, and every reader passes a bound on the
 * length it will accept, so a peer can never make it allocate more.
 *
 * A stream socket delivers bytes, not messages: one send may arrive in
 * several reads and a signal may interrupt either side midway.  frame_send
 * and frame_recv loop over short writes and reads and over EINTR, so a frame
 * arrives whole or its loss is reported.  frame_send uses send() with
 * MSG_NOSIGNAL, so a peer that died gives -EPIPE instead of a SIGPIPE that
 * would kill the sender: the descriptors must therefore be sockets
 * (socketpair(2) or a Unix socket), not pipes.
 *
 * Both calls block until the whole frame has moved; poll(2) the descriptor
 * first to wait for several at once.  Neither keeps any state between
 * calls, so a descriptor may be used by one sender and one receiver at a
 * time, each from one thread.
 */
#ifndef WB_FRAME_H
#define WB_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAGIC 0x31464257u /* "WBF1" in a little-endian dump */
#define FRAME_HEADER 16

struct frame {
	uint32_t kind, id;
	uint32_t len;	     /* bytes of payload */
	unsigned char *data; /* payload, malloc'd, with a '\0' after it; NULL if len is 0 */
};

/*
 * Send one frame of @len bytes from @data.  Returns 0 once every byte is in
 * the socket, -EMSGSIZE if @len does not fit a frame (over UINT32_MAX), or
 * the negative errno of the failed send(): -EPIPE or -ECONNRESET when the
 * peer has gone.  After an error part of the frame may have been sent: the
 * stream is then unusable and the caller should close it.
 */
int frame_send(int fd, uint32_t kind, uint32_t id, const void *data, size_t len);

/*
 * Receive one frame into *@f, accepting at most @max bytes of payload.
 * Returns 1 and a frame, which the caller releases with frame_release();
 * 0 at a clean end of stream (the peer closed between frames);
 * -EPROTO for a broken frame: a wrong magic, a length over @max, or an end
 * of stream in the middle of a frame (the peer died while sending);
 * -ENOMEM; or the negative errno of the failed recv().  On every result but
 * 1, *@f holds no payload.
 */
int frame_recv(int fd, struct frame *f, uint32_t max);

/* Free @f's payload; @f may be reused.  Safe on a frame that holds none. */
void frame_release(struct frame *f);

/*
 * Decode a header from @hdr (FRAME_HEADER bytes) for a reader that does its
 * own buffering, such as a server reading many clients through poll(2).
 * Returns 0, or -EPROTO for a wrong magic or a length over @max.
 */
int frame_decode(const unsigned char hdr[FRAME_HEADER], struct frame *f, uint32_t max);

/* Encode a header for a frame of @len bytes into @hdr. */
void frame_encode(unsigned char hdr[FRAME_HEADER], uint32_t kind, uint32_t id, uint32_t len);

#endif
