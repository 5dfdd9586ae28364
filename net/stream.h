/*
 * The byte stream of one IMAP connection: the descriptor priv passed in,
 * then optionally TLS (imaps, or STARTTLS mid-stream), then optionally
 * COMPRESS=DEFLATE (mid-stream, after the tagged OK).  Non-blocking, for
 * an event loop:
 *
 *	poll(stream_fd(s), stream_events(s))
 *	-> stream_read() until it returns -1/EAGAIN (or stream_pending()
 *	   says nothing is left), stream_flush() while output is queued.
 *
 * Call both after any event: TLS may need to write to read, or read to
 * write, and stream_events() asks for whatever the last call needed.
 *
 * Counters (struct traffic_stats, ipc/traffic.h): recv = bytes handed
 * to the caller (after TLS and inflate); sent = bytes queued by the
 * caller (before deflate); the raw counters count the same at the TLS
 * (or socket) layer, i.e. the compressed bytes.
 *
 * Writes are queued: the queue grows with what the caller queues (only
 * compressed bytes when compressing), so a caller sending a large literal
 * queues it in pieces and flushes when stream_out_pending() is large.
 *
 * Compression flush points (decided here, documented for the session):
 * every command ends with a sync flush (stream_cmd_end(), RFC 4978
 * section 4), and, as the reference does, a literal longer than
 * STREAM_FULL_FLUSH_MIN gets a full flush point after its "{N}" header
 * (stream_literal_begin()), so the long, often incompressible, literal
 * starts a fresh dictionary and the decompressor's history isn't spent
 * on it.
 *
 * SIGPIPE: plain writes use MSG_NOSIGNAL; OpenSSL writes with write(2),
 * so the net child ignores SIGPIPE.
 */
#ifndef NET_STREAM_H
#define NET_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "traffic.h"

/* Literals longer than this get a full flush point. */
#define STREAM_FULL_FLUSH_MIN	32768

struct net_stream;
struct tls_ctx;

/*
 * Takes ownership of fd (made non-blocking).  NULL on allocation
 * failure.  stream_free() closes it (after a best-effort TLS
 * close_notify and shutdown(2)).
 */
struct net_stream *stream_new(int);
void	 stream_free(struct net_stream *);
int	 stream_fd(const struct net_stream *);

/*
 * Starts TLS on the connection (imaps at once, or after the OK to
 * STARTTLS).  host is the configured host (certificate check and SNI
 * default).  Nothing may be queued for writing.  0, or -1 (see
 * stream_error()).  The handshake then runs in stream_handshake(), or
 * implicitly in stream_read()/stream_flush().
 */
int	 stream_start_tls(struct net_stream *, struct tls_ctx *,
	    const char *);
/* 1 done (or no TLS), 0 in progress (poll stream_events()), -1 failed. */
int	 stream_handshake(struct net_stream *);

/*
 * Before STARTTLS: drops whatever the server sent beyond the OK line
 * that the stream holds or the socket has already received (in plain
 * text nothing legitimate can follow the OK before our ClientHello) and
 * returns the count.  Bytes the caller's parser already holds are the
 * caller's to drop; the caller warns "Truncating non-empty output buffer
 * (unauthenticated response injection?)" if the total is non-zero.
 */
size_t	 stream_discard_buffered(struct net_stream *);

/*
 * Starts COMPRESS=DEFLATE from the next byte in both directions (after
 * the tagged OK).  leftover/len: bytes the caller read past the OK line,
 * which are already compressed data (taken back from the recv count).
 * 0, or -1 (see stream_error()).
 */
int	 stream_start_compress(struct net_stream *, const void *, size_t);

/*
 * Reads at most len bytes: >0 bytes, 0 end of stream, -1 with errno
 * EAGAIN (nothing now: poll for stream_events()) or another errno
 * (failed: stream_error()).  Inflated output is handed out only as far
 * as len allows; the rest stays inside zlib until the next call.
 */
ssize_t	 stream_read(struct net_stream *, void *, size_t);
/*
 * Non-zero when stream_read() can make progress without polling: bytes
 * already decrypted by TLS, compressed input not yet inflated, or inflate
 * output left over from a full buffer.
 */
size_t	 stream_pending(struct net_stream *);

/* Queues bytes of a command (deflating them if compressing). 0 / -1. */
int	 stream_queue(struct net_stream *, const void *, size_t);
/* The end of a command: a sync flush point if compressing.  0 / -1. */
int	 stream_cmd_end(struct net_stream *);
/* Before the bytes of a literal of this size (after "{N}\r\n"). 0 / -1. */
int	 stream_literal_begin(struct net_stream *, size_t);
/* Writes what it can: 0 all written, 1 some left (poll), -1 failed. */
int	 stream_flush(struct net_stream *);
/* Bytes queued, not yet written (after deflate). */
size_t	 stream_out_pending(const struct net_stream *);

/* POLLIN and/or POLLOUT: what to wait for before calling again. */
int	 stream_events(const struct net_stream *);
/*
 * Only what the output waits for (TLS may need to read in order to
 * write): for a caller that will not read now.
 */
int	 stream_write_events(const struct net_stream *);
/* poll(2) for stream_events(): 1 ready, 0 timeout, -1 error. */
int	 stream_wait(const struct net_stream *, int);

/*
 * Why the last call failed: "read: Connection reset by peer", "Can't
 * initiate TLS/SSL handshake: certificate does not match host name x".
 * With stream_error_is_ssl() the caller logs "SSL ERROR: <text>" (an
 * error on an established TLS session, as the reference), otherwise
 * "ERROR: <text>".
 */
const char *stream_error(const struct net_stream *);
int	 stream_error_is_ssl(const struct net_stream *);
/*
 * 1 if the stream died with the connection: a read or write error on
 * the socket, the peer gone in the middle of the TLS handshake, an
 * established TLS session broken.  0 for the rest: TLS refusing the
 * peer (certificate, host name, pin, protocol version), corrupt
 * compressed data, a local failure.  imap_conn.h says what each means.
 */
int	 stream_error_lost(const struct net_stream *);
/*
 * 1 if only writing failed (the peer has gone: a broken pipe, a
 * reset): what it sent before may still be read; stream_error() says
 * why writing failed, until a read fails too.
 */
int	 stream_write_failed(const struct net_stream *);

int	 stream_is_tls(const struct net_stream *);
/* 1 while the TLS handshake is under way (started, not done). */
int	 stream_handshaking(const struct net_stream *);
int	 stream_is_compressed(const struct net_stream *);
const char *stream_tls_version(const struct net_stream *);
const char *stream_tls_cipher(const struct net_stream *);
/* The TLS session (SCRAM's channel binding); NULL without TLS. */
struct tls_conn *stream_tls(const struct net_stream *);

/*
 * The counters for the summary; the raw ones are 0 unless compression
 * was active at some point (see ipc/traffic.h).
 */
void	 stream_stats(const struct net_stream *, struct traffic_stats *);
/*
 * Bytes read from and written to the socket (at the TLS layer with TLS)
 * since the start, compressed or not: what tells that the peer is alive.
 */
void	 stream_raw_counts(const struct net_stream *, uint64_t *, uint64_t *);

#endif
