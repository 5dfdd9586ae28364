/*
 * The connection's byte stream: socket, then TLS, then DEFLATE.
 *
 * Reading: without compression, bytes go straight from the socket (or
 * SSL_read) into the caller's buffer, so the stream itself holds nothing
 * but what OpenSSL holds.  With compression, compressed input sits in a
 * fixed-size buffer (rbuf) and inflates into the caller's buffer.
 *
 * Writing: the caller's bytes (deflated when compressing) go into one
 * queue (obuf) that stream_flush() drains; written bytes are wiped.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compress.h"
#include "stream.h"
#include "tls.h"

#define STREAM_RBUF	16384	/* compressed input: one TLS record */

struct net_stream {
	int			 fd;
	struct tls_conn		*tls;
	int			 handshaken;
	struct compress		 z;
	int			 zactive;
	int			 zever;		/* was ever active */
	struct compress_buf	 rbuf;		/* compressed input */
	struct compress_buf	 obuf;		/* output queue */
	int			 rd_want;	/* last read blocked on */
	int			 wr_want;	/* last write blocked on */
	int			 hs_want;	/* handshake blocked on */
	int			 eof;
	int			 failed;
	int			 wfailed;	/* writes only: reads go on */
	int			 lost;		/* the connection's fault */
	int			 err_ssl;
	struct traffic_stats	 st;		/* raw counted always */
	char			 err[512];
};

static int	stream_fail(struct net_stream *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	stream_refuse(struct net_stream *, const char *);
static int	stream_io_fail(struct net_stream *, const char *, int);

/* A call made at the wrong time: refused, the stream stays usable. */
static int
stream_refuse(struct net_stream *s, const char *why)
{
	(void)strlcpy(s->err, why, sizeof(s->err));
	s->err_ssl = 0;
	return -1;
}

/* Records why the stream is dead; later calls repeat the error. */
static int
stream_fail(struct net_stream *s, int ssl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->failed = 1;
	s->err_ssl = ssl;
	return -1;
}

/*
 * A read or write on the socket (or the tunnel's socketpair) failed:
 * that is the connection's end whatever errno says (reset, broken pipe,
 * keepalive timeout, network unreachable), except for the errors only a
 * bug of ours can cause.
 */
static int
stream_io_fail(struct net_stream *s, const char *what, int e)
{
	(void)stream_fail(s, 0, "%s: %s", what, strerror(e));
	s->lost = e != EBADF && e != EFAULT && e != EINVAL;
	errno = e;
	return -1;
}

/* Writing is over: the stream failed, or its writes did. */
static int
stream_wdead(const struct net_stream *s)
{
	return s->failed || s->wfailed;
}

/*
 * A write failed because the peer has gone (broken pipe, reset).  What
 * it sent before (a BYE saying why) may still wait to be read: reads go
 * on until they fail or end too, writes fail from now on with this
 * error, and the output queued is dropped.
 */
static int
stream_write_lost(struct net_stream *s, int e)
{
	if (e == EBADF || e == EFAULT || e == EINVAL)
		return stream_io_fail(s, "write", e);
	(void)snprintf(s->err, sizeof(s->err), "write: %s", strerror(e));
	s->err_ssl = s->tls != NULL;
	s->lost = 1;
	s->wfailed = 1;
	compress_buf_consume(&s->obuf, compress_buf_pending(&s->obuf));
	errno = e;
	return -1;
}

struct net_stream *
stream_new(int fd)
{
	struct net_stream *s;
	int fl;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fd = fd;
	compress_buf_init(&s->rbuf);
	compress_buf_init(&s->obuf);
	if ((fl = fcntl(fd, F_GETFL)) != -1 && (fl & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return s;
}

void
stream_free(struct net_stream *s)
{
	if (s == NULL)
		return;
	if (s->tls != NULL) {
		tls_conn_shutdown(s->tls);
		tls_conn_free(s->tls);
	}
	if (s->fd != -1) {
		(void)shutdown(s->fd, SHUT_RDWR);
		(void)close(s->fd);
	}
	if (s->zactive)
		compress_free(&s->z);
	compress_buf_free(&s->rbuf);
	compress_buf_free(&s->obuf);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

int
stream_fd(const struct net_stream *s)
{
	return s->fd;
}

int
stream_start_tls(struct net_stream *s, struct tls_ctx *ctx, const char *host)
{
	char err[512];

	if (s->failed)
		return -1;
	if (s->tls != NULL)
		return stream_refuse(s, "TLS is already active");
	if (s->zactive)
		return stream_refuse(s, "TLS can't start under compression");
	if (compress_buf_pending(&s->obuf) > 0)
		return stream_refuse(s, "TLS can't start with output queued");
	if ((s->tls = tls_conn_new(ctx, s->fd, host, err, sizeof(err))) ==
	    NULL)
		return stream_fail(s, 0, "Can't initiate TLS/SSL handshake: %s",
		    err);
	s->handshaken = 0;
	s->hs_want = POLLOUT;
	return 0;
}

int
stream_handshake(struct net_stream *s)
{
	int r, want;

	if (s->failed)
		return -1;
	if (s->tls == NULL || s->handshaken)
		return 1;
	r = tls_conn_handshake(s->tls, &want, s->err, sizeof(s->err));
	if (r == -1) {
		s->failed = 1;
		s->lost = tls_conn_lost(s->tls);
		s->err_ssl = 0;
		return -1;
	}
	if (r == 0) {
		s->hs_want = want;
		return 0;
	}
	s->handshaken = 1;
	s->hs_want = 0;
	return 1;
}

size_t
stream_discard_buffered(struct net_stream *s)
{
	unsigned char scratch[4096];
	size_t n;
	ssize_t r;

	n = compress_buf_pending(&s->rbuf);
	compress_buf_consume(&s->rbuf, n);
	if (s->tls != NULL || s->failed)
		return n;
	/* Whatever the kernel already has: read without waiting. */
	for (;;) {
		r = recv(s->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == ENOTSOCK)
			r = read(s->fd, scratch, sizeof(scratch));
		if (r <= 0)
			break;
		n += (size_t)r;
		s->st.recv_raw += (uint64_t)r;
	}
	explicit_bzero(scratch, sizeof(scratch));
	return n;
}

int
stream_start_compress(struct net_stream *s, const void *leftover,
    size_t len)
{
	char err[256];

	if (s->failed)
		return -1;
	if (s->zactive)
		return stream_refuse(s, "Compression is already active");
	if (compress_init(&s->z, err, sizeof(err)) == -1)
		return stream_fail(s, 0, "%s", err);
	s->zactive = s->zever = 1;
	if (compress_buf_reserve(&s->rbuf, len > STREAM_RBUF ? len :
	    STREAM_RBUF) == -1 ||
	    compress_buf_add(&s->rbuf, leftover, len) == -1)
		return stream_fail(s, 0, "%s", strerror(errno));
	/* Those bytes were counted as plain; they were compressed. */
	s->st.recv -= len < s->st.recv ? len : s->st.recv;
	return 0;
}

/* One read at the TLS/socket layer; counts raw bytes. */
static ssize_t
stream_raw_read(struct net_stream *s, void *buf, size_t len)
{
	ssize_t n;
	int want;

	if (s->tls != NULL) {
		n = tls_conn_read(s->tls, buf, len, &want, s->err,
		    sizeof(s->err));
		if (n == -1 && errno == EAGAIN) {
			s->rd_want = want;
			return -1;
		}
		if (n == -1) {
			s->failed = 1;
			s->lost = tls_conn_lost(s->tls);
			s->err_ssl = 1;
			return -1;
		}
	} else {
		do
			n = read(s->fd, buf, len);
		while (n == -1 && errno == EINTR);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			s->rd_want = POLLIN;
			errno = EAGAIN;
			return -1;
		}
		if (n == -1)
			return stream_io_fail(s, "read", errno);
	}
	s->rd_want = 0;
	if (n == 0)
		s->eof = 1;
	s->st.recv_raw += (uint64_t)n;
	return n;
}

ssize_t
stream_read(struct net_stream *s, void *buf, size_t len)
{
	ssize_t n;
	size_t room;
	int r;

	if (s->failed) {
		errno = EIO;
		return -1;
	}
	if ((r = stream_handshake(s)) != 1) {
		errno = r == 0 ? EAGAIN : EIO;
		return -1;
	}
	if (len == 0)
		return 0;
	if (!s->zactive) {
		if (s->eof)
			return 0;
		if ((n = stream_raw_read(s, buf, len)) > 0)
			s->st.recv += (uint64_t)n;
		return n;
	}
	for (;;) {
		if (compress_buf_pending(&s->rbuf) > 0 || s->z.in_more) {
			n = compress_inflate(&s->z, &s->rbuf, buf, len, s->err,
			    sizeof(s->err));
			if (n == -1) {
				s->failed = 1;
				s->err_ssl = 0;
				errno = EIO;
				return -1;
			}
			if (n > 0) {
				s->st.recv += (uint64_t)n;
				return n;
			}
		}
		if (s->eof)
			return 0;
		/* Fixed room: compressed input never piles up. */
		if (compress_buf_reserve(&s->rbuf, STREAM_RBUF) == -1)
			return stream_fail(s, 0, "%s", strerror(errno));
		room = s->rbuf.cap - s->rbuf.len;
		if (room > STREAM_RBUF)
			room = STREAM_RBUF;
		n = stream_raw_read(s, s->rbuf.data + s->rbuf.len, room);
		if (n <= 0)
			return n;
		s->rbuf.len += (size_t)n;
	}
}

size_t
stream_pending(struct net_stream *s)
{
	size_t n = 0;

	if (s->failed)
		return 0;
	if (s->zactive)
		n += compress_buf_pending(&s->rbuf) + (s->z.in_more ? 1 : 0);
	if (s->tls != NULL && s->handshaken)
		n += tls_conn_pending(s->tls);
	return n;
}

int
stream_queue(struct net_stream *s, const void *data, size_t len)
{
	char err[256];

	if (stream_wdead(s))
		return -1;
	s->st.sent += (uint64_t)len;
	if (!s->zactive) {
		if (compress_buf_add(&s->obuf, data, len) == -1)
			return stream_fail(s, 0, "%s", strerror(errno));
		return 0;
	}
	if (compress_deflate(&s->z, data, len, Z_NO_FLUSH, &s->obuf, err,
	    sizeof(err)) == -1)
		return stream_fail(s, 0, "%s", err);
	return 0;
}

static int
stream_zflush(struct net_stream *s, int how)
{
	char err[256];

	if (stream_wdead(s))
		return -1;
	if (!s->zactive)
		return 0;
	if (compress_deflate(&s->z, NULL, 0, how, &s->obuf, err,
	    sizeof(err)) == -1)
		return stream_fail(s, 0, "%s", err);
	return 0;
}

int
stream_cmd_end(struct net_stream *s)
{
	return stream_zflush(s, Z_SYNC_FLUSH);
}

int
stream_literal_begin(struct net_stream *s, size_t len)
{
	if (len <= STREAM_FULL_FLUSH_MIN)
		return stream_wdead(s) ? -1 : 0;
	return stream_zflush(s, Z_FULL_FLUSH);
}

/* One write at the TLS/socket layer; counts raw bytes. */
static ssize_t
stream_raw_write(struct net_stream *s, const void *buf, size_t len)
{
	ssize_t n;
	int want;

	if (s->tls != NULL) {
		n = tls_conn_write(s->tls, buf, len, &want, s->err,
		    sizeof(s->err));
		if (n == -1 && errno == EAGAIN) {
			s->wr_want = want;
			return -1;
		}
		/*
		 * The socket's error (TLS said nothing): reading what came
		 * before goes on, as without TLS.
		 */
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return stream_write_lost(s, errno);
		if (n == -1) {
			s->failed = 1;
			s->lost = tls_conn_lost(s->tls);
			s->err_ssl = 1;
			return -1;
		}
	} else {
		do {
			n = send(s->fd, buf, len, MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK)
				n = write(s->fd, buf, len);
		} while (n == -1 && errno == EINTR);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			s->wr_want = POLLOUT;
			errno = EAGAIN;
			return -1;
		}
		if (n == -1)
			return stream_write_lost(s, errno);
	}
	s->wr_want = 0;
	s->st.sent_raw += (uint64_t)n;
	return n;
}

int
stream_flush(struct net_stream *s)
{
	ssize_t n;
	int r;

	if (stream_wdead(s))
		return -1;
	if ((r = stream_handshake(s)) != 1)
		return r == 0 ? 1 : -1;
	while (compress_buf_pending(&s->obuf) > 0) {
		n = stream_raw_write(s, s->obuf.data + s->obuf.off,
		    compress_buf_pending(&s->obuf));
		if (n == -1)
			return errno == EAGAIN && !stream_wdead(s) ? 1 : -1;
		compress_buf_consume(&s->obuf, (size_t)n);
	}
	return 0;
}

size_t
stream_out_pending(const struct net_stream *s)
{
	return compress_buf_pending(&s->obuf);
}

int
stream_events(const struct net_stream *s)
{
	int ev = 0;

	if (s->failed)
		return 0;
	if (s->tls != NULL && !s->handshaken)
		return stream_write_events(s);
	if (!s->eof)
		ev |= s->rd_want != 0 ? s->rd_want : POLLIN;
	return ev | stream_write_events(s);
}

int
stream_write_events(const struct net_stream *s)
{
	if (s->failed)
		return 0;
	if (s->tls != NULL && !s->handshaken)
		return s->hs_want != 0 ? s->hs_want : POLLIN | POLLOUT;
	if (compress_buf_pending(&s->obuf) > 0)
		return s->wr_want != 0 ? s->wr_want : POLLOUT;
	return 0;
}

int
stream_wait(const struct net_stream *s, int timeout)
{
	struct pollfd pfd;
	int r;

	pfd.fd = s->fd;
	pfd.events = (short)stream_events(s);
	pfd.revents = 0;
	do
		r = poll(&pfd, 1, timeout);
	while (r == -1 && errno == EINTR);
	return r > 0 ? 1 : r;
}

const char *
stream_error(const struct net_stream *s)
{
	return s->err;
}

int
stream_error_is_ssl(const struct net_stream *s)
{
	return s->err_ssl;
}

int
stream_error_lost(const struct net_stream *s)
{
	return stream_wdead(s) && s->lost;
}

int
stream_write_failed(const struct net_stream *s)
{
	return s->wfailed && !s->failed;
}

int
stream_handshaking(const struct net_stream *s)
{
	return s->tls != NULL && !s->handshaken && !s->failed;
}

int
stream_is_tls(const struct net_stream *s)
{
	return s->tls != NULL;
}

int
stream_is_compressed(const struct net_stream *s)
{
	return s->zactive;
}

const char *
stream_tls_version(const struct net_stream *s)
{
	return s->tls != NULL ? tls_conn_version(s->tls) : NULL;
}

const char *
stream_tls_cipher(const struct net_stream *s)
{
	return s->tls != NULL ? tls_conn_cipher(s->tls) : NULL;
}

struct tls_conn *
stream_tls(const struct net_stream *s)
{
	return s->tls;
}

void
stream_raw_counts(const struct net_stream *s, uint64_t *in, uint64_t *out)
{
	*in = s->st.recv_raw;
	*out = s->st.sent_raw;
}

void
stream_stats(const struct net_stream *s, struct traffic_stats *st)
{
	*st = s->st;
	if (!s->zever)
		st->recv_raw = st->sent_raw = 0;
}
