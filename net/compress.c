/*
 * COMPRESS=DEFLATE codec: raw deflate both ways (RFC 4978, section 3).
 *
 * Memory is bounded on the way in: inflate writes only into the caller's
 * buffer, so a few kilobytes that inflate to gigabytes are handed out
 * piecemeal as the parser consumes them, never held.  zlib's own state
 * is fixed (a 32 KiB window each way).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

#define COMPRESS_CHUNK	16384		/* deflate output steps */

void
compress_buf_init(struct compress_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
compress_buf_free(struct compress_buf *b)
{
	if (b->data != NULL)
		freezero(b->data, b->cap);
	memset(b, 0, sizeof(*b));
}

int
compress_buf_reserve(struct compress_buf *b, size_t n)
{
	unsigned char *p;
	size_t pending, need, ncap;

	if (b->cap - b->len >= n)
		return 0;
	pending = b->len - b->off;
	/* Reuse the consumed front before growing. */
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, pending);
		explicit_bzero(b->data + pending, b->len - pending);
		b->off = 0;
		b->len = pending;
		if (b->cap - b->len >= n)
			return 0;
	}
	if (n > SIZE_MAX - pending) {
		errno = ENOMEM;
		return -1;
	}
	need = pending + n;
	ncap = b->cap < 4096 ? 4096 : b->cap;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	/* recallocarray wipes the old storage it frees. */
	if ((p = recallocarray(b->data, b->cap, ncap, 1)) == NULL)
		return -1;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
compress_buf_add(struct compress_buf *b, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if (compress_buf_reserve(b, len) == -1)
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

void
compress_buf_consume(struct compress_buf *b, size_t n)
{
	if (n > b->len - b->off)
		n = b->len - b->off;
	if (n == 0)
		return;
	explicit_bzero(b->data + b->off, n);
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

int
compress_init(struct compress *c, char *err, size_t errlen)
{
	int r;

	memset(c, 0, sizeof(*c));
	/* Raw deflate: negative windowBits, no zlib header or trailer. */
	r = deflateInit2(&c->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	    -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	if (r != Z_OK) {
		(void)snprintf(err, errlen, "Can't create deflation stream: %s",
		    c->out.msg != NULL ? c->out.msg : zError(r));
		return -1;
	}
	r = inflateInit2(&c->in, -MAX_WBITS);
	if (r != Z_OK) {
		(void)snprintf(err, errlen, "Can't create inflation stream: %s",
		    c->in.msg != NULL ? c->in.msg : zError(r));
		(void)deflateEnd(&c->out);
		return -1;
	}
	c->ready = 1;
	return 0;
}

void
compress_free(struct compress *c)
{
	if (c->ready) {
		(void)deflateEnd(&c->out);
		(void)inflateEnd(&c->in);
	}
	memset(c, 0, sizeof(*c));
}

int
compress_deflate(struct compress *c, const void *data, size_t len,
    int flush, struct compress_buf *out, char *err, size_t errlen)
{
	const unsigned char *p = data;
	size_t room, off = 0;
	int r;

	do {
		/*
		 * zlib counts in uInt: feed huge inputs in slices.  A flush
		 * alone comes with data NULL: no pointer arithmetic on it.
		 */
		c->out.next_in = len > 0 ? (unsigned char *)(uintptr_t)p + off :
		    NULL;
		c->out.avail_in = len > UINT32_MAX / 2 ? UINT32_MAX / 2 :
		    (uInt)len;
		off += c->out.avail_in;
		len -= c->out.avail_in;
		do {
			if (compress_buf_reserve(out, COMPRESS_CHUNK) == -1) {
				(void)snprintf(err, errlen,
				    "Deflation failed: %s", strerror(errno));
				return -1;
			}
			room = out->cap - out->len;
			if (room > UINT32_MAX / 2)
				room = UINT32_MAX / 2;
			c->out.next_out = out->data + out->len;
			c->out.avail_out = (uInt)room;
			r = deflate(&c->out, len > 0 ? Z_NO_FLUSH : flush);
			out->len += room - c->out.avail_out;
			/* Z_BUF_ERROR: nothing to do (a repeated flush). */
			if (r != Z_OK && r != Z_BUF_ERROR) {
				(void)snprintf(err, errlen,
				    "Deflation failed: %s", c->out.msg != NULL ?
				    c->out.msg : zError(r));
				return -1;
			}
		} while (c->out.avail_out == 0 || c->out.avail_in > 0);
	} while (len > 0);
	c->out.next_in = NULL;
	return 0;
}

ssize_t
compress_inflate(struct compress *c, struct compress_buf *in, void *out,
    size_t outlen, char *err, size_t errlen)
{
	size_t pending = compress_buf_pending(in);
	size_t avail_in, avail_out;
	int r;

	if (c->in_end) {
		if (pending == 0)
			return 0;
		(void)snprintf(err, errlen, "Inflation failed: "
		    "data after the end of the compressed stream");
		return -1;
	}
	if (outlen > UINT32_MAX / 2)
		outlen = UINT32_MAX / 2;
	avail_in = pending > UINT32_MAX / 2 ? UINT32_MAX / 2 : pending;
	avail_out = outlen;
	c->in.next_in = in->data + in->off;
	c->in.avail_in = (uInt)avail_in;
	c->in.next_out = out;
	c->in.avail_out = (uInt)avail_out;
	r = inflate(&c->in, Z_SYNC_FLUSH);
	compress_buf_consume(in, avail_in - c->in.avail_in);
	c->in.next_in = NULL;
	c->in.next_out = NULL;
	switch (r) {
	case Z_OK:
	case Z_BUF_ERROR:	/* no progress possible: wants input */
		break;
	case Z_STREAM_END:
		/* RFC 4978 has no end; accept it as the reference does. */
		c->in_end = 1;
		break;
	default:
		(void)snprintf(err, errlen, "Inflation failed: %d %s", r,
		    c->in.msg != NULL ? c->in.msg : zError(r));
		return -1;
	}
	/* A full output buffer may mean zlib holds more. */
	c->in_more = !c->in_end && c->in.avail_out == 0 && outlen > 0;
	return (ssize_t)(outlen - c->in.avail_out);
}
