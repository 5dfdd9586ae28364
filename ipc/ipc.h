/*
 * imsg-style IPC: framed messages over AF_UNIX stream socketpairs with
 * file-descriptor passing.  Non-blocking: ipc_read() takes what the socket
 * has, ipc_get() hands out complete, validated messages one by one, and
 * ipc_flush() writes what it can, keeping the rest queued.
 *
 * Frame: struct ipc_hdr (16 bytes, host byte order) then hdr.len payload
 * bytes.  A descriptor travels with the first byte of its message.
 */
#ifndef IPC_IPC_H
#define IPC_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "catalogue.h"
#include "proc.h"

#define IPC_HDR_SIZE	16
#define IPC_MAX_PAYLOAD	(256 * 1024)	/* larger data goes in chunks */
#define IPC_MAX_FDS	16		/* received, not yet claimed */

struct ipc_hdr {
	uint32_t	type;
	uint32_t	len;		/* payload bytes, header excluded */
	uint32_t	peerid;		/* enum ipc_side, or a request id */
	uint32_t	pid;		/* sender's pid */
};

/* A received message.  data is owned by the message: ipc_msg_free(). */
struct ipc_msg {
	struct ipc_hdr	 hdr;
	unsigned char	*data;
	size_t		 len;
	int		 fd;		/* -1, or a descriptor now ours */
};

struct ipc_wq;			/* queued outgoing frames (ipc.c) */

struct ipc_chan {
	int		 fd;
	uint32_t	 self;		/* enum ipc_proc of this end */
	uint32_t	 peer;		/* enum ipc_proc of the other end */
	pid_t		 pid;		/* our pid, stamped in headers */
	unsigned char	*rbuf;
	size_t		 rlen, rcap;
	int		 rfds[IPC_MAX_FDS];
	int		 nrfds;
	struct ipc_wq	*wq_head, *wq_tail;
	size_t		 wq_bytes;	/* bytes queued, not yet written */
	char		 err[128];	/* why the last call failed */
	/* ipc.c's own bookkeeping; nobody else touches these. */
	size_t		 roff;		/* first unconsumed byte of rbuf */
	uint64_t	 rstream;	/* stream offset of rbuf[0] */
	uint64_t	 rfd_at[IPC_MAX_FDS]; /* last stream byte of the read
					   that brought rfds[i] */
	int		 broken;	/* ipc_get() failed: refuse more */
};

/* Takes ownership of fd and makes it non-blocking and close-on-exec. */
int	 ipc_chan_init(struct ipc_chan *, int, uint32_t, uint32_t);
/* Closes the socket and any unclaimed received descriptors. */
void	 ipc_chan_close(struct ipc_chan *);

/*
 * Reads what is available.  Returns >0 bytes read, 0 on EOF, -1 on error
 * (errno EAGAIN when nothing was there, EPROTO once ipc_get() has failed:
 * a broken channel takes nothing more in).
 */
ssize_t	 ipc_read(struct ipc_chan *);
/*
 * Extracts the next complete message: 1 = *msg filled, 0 = need more
 * data, -1 = the peer broke the rules (unknown type, wrong direction,
 * length outside the catalogue's bounds, oversized frame, a descriptor
 * where none belongs); chan->err says which.  Nothing is handed out after
 * an error.
 */
int	 ipc_get(struct ipc_chan *, struct ipc_msg *);
void	 ipc_msg_free(struct ipc_msg *);

/*
 * Queues one message (copying data).  fd, if not -1, is sent with it and
 * closed here once written.  Returns -1 if the type may not go from self
 * to peer or the payload is too long: a bug, so callers fatalx().
 */
int	 ipc_compose(struct ipc_chan *, uint32_t, uint32_t, int,
	    const void *, size_t);
/* Writes queued data: 0 = all written, 1 = some left (EAGAIN), -1 error. */
int	 ipc_flush(struct ipc_chan *);
/* Blocks (poll) until everything queued is written; -1 on error. */
int	 ipc_flush_sync(struct ipc_chan *);
/* Blocks until one message arrives: 1 ok, 0 EOF, -1 error. */
int	 ipc_get_sync(struct ipc_chan *, struct ipc_msg *);
int	 ipc_pending(const struct ipc_chan *);	/* bytes queued */

/* Building a payload: append, then send.  Allocation failure is fatal. */
struct ipc_buf {
	unsigned char	*data;
	size_t		 len, cap;
};
void	 ipc_buf_init(struct ipc_buf *);
void	 ipc_buf_free(struct ipc_buf *);
void	 ipc_put_u32(struct ipc_buf *, uint32_t);
void	 ipc_put_u64(struct ipc_buf *, uint64_t);
/* u32 length then the bytes; NULL is sent as length 0xffffffff. */
void	 ipc_put_data(struct ipc_buf *, const void *, size_t);
void	 ipc_put_str(struct ipc_buf *, const char *);
/* Queues the buffer as one message and empties it. */
int	 ipc_send(struct ipc_chan *, uint32_t, uint32_t, int,
	    struct ipc_buf *);

/*
 * Reading a payload in order.  A short read sets rd->error and returns
 * zeroes/NULL; ipc_rd_end() fails if any get failed or bytes are left
 * over, so handlers check once, at the end, before acting.
 */
struct ipc_rd {
	const unsigned char	*p;
	size_t			 left;
	int			 error;
};
void		 ipc_rd_init(struct ipc_rd *, const struct ipc_msg *);
uint32_t	 ipc_get_u32(struct ipc_rd *);
uint64_t	 ipc_get_u64(struct ipc_rd *);
/* Points into the message (no copy); *len set; NULL for a sent NULL. */
const void	*ipc_get_data(struct ipc_rd *, size_t *);
/* A copy, NUL-terminated; caller frees.  Embedded NUL is an error. */
char		*ipc_get_str(struct ipc_rd *);
int		 ipc_rd_end(struct ipc_rd *);

#endif
