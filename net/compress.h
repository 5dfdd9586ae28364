/*
 * COMPRESS=DEFLATE (RFC 4978): raw deflate (no zlib header, windowBits
 * -15) in both directions, started mid-stream.  This is the codec only;
 * net/stream.c decides when bytes go through it.
 */
#ifndef NET_COMPRESS_H
#define NET_COMPRESS_H

#include <stddef.h>
#include <sys/types.h>
#include <zlib.h>

/*
 * A growable byte queue: bytes [off, len) are pending.  Consumed bytes
 * are wiped (commands may carry credentials before compression starts).
 */
struct compress_buf {
	unsigned char	*data;
	size_t		 off, len, cap;
};

void	 compress_buf_init(struct compress_buf *);
/* Wipes and frees the storage. */
void	 compress_buf_free(struct compress_buf *);
/* Makes room for n more bytes at data + len; -1 on overflow/ENOMEM. */
int	 compress_buf_reserve(struct compress_buf *, size_t);
int	 compress_buf_add(struct compress_buf *, const void *, size_t);
/* Drops n pending bytes from the front (wiping them). */
void	 compress_buf_consume(struct compress_buf *, size_t);
#define compress_buf_pending(b)	((b)->len - (b)->off)

struct compress {
	z_stream	 in;		/* inflate: server -> us */
	z_stream	 out;		/* deflate: us -> server */
	int		 ready;		/* both streams initialised */
	int		 in_end;	/* the server ended its stream */
	int		 in_more;	/* inflate may hold output */
};

/* 0, or -1 with the reason in err. */
int	 compress_init(struct compress *, char *, size_t);
void	 compress_free(struct compress *);

/*
 * Compresses len bytes onto the end of out.  flush is Z_NO_FLUSH,
 * Z_SYNC_FLUSH (end of a command) or Z_FULL_FLUSH (before a long
 * literal).  0, or -1 with the reason in err.
 */
int	 compress_deflate(struct compress *, const void *, size_t, int,
	    struct compress_buf *, char *, size_t);

/*
 * Inflates from in (consuming what zlib took) into at most outlen bytes
 * of out: the output never exceeds the caller's buffer, whatever the
 * compression ratio.  Returns the bytes produced (0: more input needed),
 * or -1 with the reason in err.  c->in_more is set when output may
 * remain without more input: call again before polling.
 */
ssize_t	 compress_inflate(struct compress *, struct compress_buf *,
	    void *, size_t, char *, size_t);

#endif
