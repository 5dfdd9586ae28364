/*
 * imsg-style framing over AF_UNIX stream sockets, with descriptor passing.
 *
 * Descriptors and bytes: the sender gives every frame that carries a
 * descriptor its own sendmsg(), starting at the frame's first byte, so the
 * kernel's first buffer of that frame holds the SCM_RIGHTS and nothing of
 * any other frame.  On Linux a stream recvmsg() stops right after the
 * buffer that brought descriptors, so the last byte of the read that
 * delivered a descriptor lies inside the frame it belongs to (earlier
 * frames may come in the same read, later ones never).  ipc_read()
 * remembers that byte's stream offset for each descriptor and ipc_get()
 * attaches a descriptor to the frame that contains its offset.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"

#define IPC_RBUF_MIN	(16 * 1024)	/* first allocation */
#define IPC_READ_MIN	4096		/* free space wanted before a read */
#define IPC_WRITEV_MAX	64		/* frames per sendmsg() */

/* One queued outgoing frame: header and payload, contiguous. */
struct ipc_wq {
	struct ipc_wq	*next;
	size_t		 len;		/* header + payload */
	size_t		 off;		/* bytes already written */
	int		 fd;		/* -1; goes with byte 0, then closed */
	unsigned char	 frame[];
};

static void	 ipc_seterr(struct ipc_chan *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 ipc_close_rfds(struct ipc_chan *);
static int	 ipc_check_hdr(struct ipc_chan *, const struct ipc_hdr *);
static void	 ipc_rbuf_space(struct ipc_chan *);
static void	 ipc_wq_pop(struct ipc_chan *);
static void	 ipc_get_fixed(struct ipc_rd *, void *, size_t);

static void
ipc_seterr(struct ipc_chan *chan, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(chan->err, sizeof(chan->err), fmt, ap);
	va_end(ap);
}

int
ipc_chan_init(struct ipc_chan *chan, int fd, uint32_t self, uint32_t peer)
{
	int flags;

	memset(chan, 0, sizeof(*chan));
	chan->fd = fd;
	chan->self = self;
	chan->peer = peer;
	chan->pid = getpid();
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		ipc_seterr(chan, "fcntl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
ipc_close_rfds(struct ipc_chan *chan)
{
	int i;

	for (i = 0; i < chan->nrfds; i++)
		(void)close(chan->rfds[i]);
	chan->nrfds = 0;
}

/* Frees the head of the write queue (its descriptor closed if unsent). */
static void
ipc_wq_pop(struct ipc_chan *chan)
{
	struct ipc_wq *wq = chan->wq_head;

	chan->wq_head = wq->next;
	if (chan->wq_head == NULL)
		chan->wq_tail = NULL;
	chan->wq_bytes -= wq->len - wq->off;
	if (wq->fd != -1)
		(void)close(wq->fd);
	/* Payloads may hold secrets (a net child's password). */
	freezero(wq, sizeof(*wq) + wq->len);
}

void
ipc_chan_close(struct ipc_chan *chan)
{
	if (chan->fd != -1)
		(void)close(chan->fd);
	chan->fd = -1;
	ipc_close_rfds(chan);
	while (chan->wq_head != NULL)
		ipc_wq_pop(chan);
	if (chan->rbuf != NULL)
		freezero(chan->rbuf, chan->rcap);
	chan->rbuf = NULL;
	chan->rlen = chan->rcap = chan->roff = 0;
}

/*
 * Makes room for a read: drops consumed bytes, then grows the buffer so
 * that the frame being assembled fits (its header was checked, so its
 * length is bounded) and at least IPC_READ_MIN bytes are free.
 */
static void
ipc_rbuf_space(struct ipc_chan *chan)
{
	size_t need, ncap, have;
	struct ipc_hdr hdr;
	unsigned char *p;

	if (chan->roff > 0) {
		have = chan->rlen - chan->roff;
		memmove(chan->rbuf, chan->rbuf + chan->roff, have);
		explicit_bzero(chan->rbuf + have, chan->rlen - have);
		chan->rstream += chan->roff;
		chan->rlen = have;
		chan->roff = 0;
	}
	need = chan->rlen + IPC_READ_MIN;
	if (chan->rlen >= IPC_HDR_SIZE) {
		memcpy(&hdr, chan->rbuf, sizeof(hdr));
		if (hdr.len <= IPC_MAX_PAYLOAD &&
		    need < IPC_HDR_SIZE + (size_t)hdr.len)
			need = IPC_HDR_SIZE + hdr.len;
	}
	if (need <= chan->rcap)
		return;
	ncap = chan->rcap ? chan->rcap : IPC_RBUF_MIN;
	while (ncap < need)
		ncap *= 2;
	if ((p = recallocarray(chan->rbuf, chan->rcap, ncap, 1)) == NULL)
		fatalx(EXIT_FAIL, "ipc: out of memory");
	chan->rbuf = p;
	chan->rcap = ncap;
}

ssize_t
ipc_read(struct ipc_chan *chan)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
	} cmsgbuf;
	struct msghdr msg;
	struct cmsghdr *cm;
	struct iovec iov;
	ssize_t n;
	int *fds, i, nfds;
	uint64_t at;

	if (chan->fd == -1) {
		ipc_seterr(chan, "read on a closed channel");
		errno = EBADF;
		return -1;
	}
	/*
	 * Nothing more is handed out after ipc_get() failed, so nothing
	 * more is taken in: a peer that broke the rules and goes on
	 * writing must not fill our memory (chan->err keeps the reason).
	 */
	if (chan->broken) {
		errno = EPROTO;
		return -1;
	}
	ipc_rbuf_space(chan);
	iov.iov_base = chan->rbuf + chan->rlen;
	iov.iov_len = chan->rcap - chan->rlen;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = recvmsg(chan->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			ipc_seterr(chan, "read: %s", strerror(errno));
		return -1;
	}
	if (n > 0)
		at = chan->rstream + chan->rlen + (size_t)n - 1;
	else
		at = chan->rstream + chan->rlen;
	chan->rlen += (size_t)n;

	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)CMSG_DATA(cm);
		nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfds; i++) {
			if (chan->nrfds == IPC_MAX_FDS) {
				(void)close(fds[i]);
				chan->broken = 1;
				ipc_seterr(chan, "too many descriptors");
				continue;
			}
			chan->rfds[chan->nrfds] = fds[i];
			chan->rfd_at[chan->nrfds] = at;
			chan->nrfds++;
		}
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		/* A descriptor was lost: its message can't be trusted. */
		chan->broken = 1;
		ipc_seterr(chan, "descriptors truncated");
	}
	return n;
}

/* Validates a header against the catalogue as soon as it is complete. */
static int
ipc_check_hdr(struct ipc_chan *chan, const struct ipc_hdr *hdr)
{
	const struct ipc_catalogue_entry *e;

	if (hdr->len > IPC_MAX_PAYLOAD) {
		ipc_seterr(chan, "oversized frame (%u bytes) type %s",
		    hdr->len, ipc_type_name(hdr->type));
		return -1;
	}
	if ((e = ipc_catalogue(hdr->type)) == NULL) {
		ipc_seterr(chan, "unknown message type %u", hdr->type);
		return -1;
	}
	if ((e->from & chan->peer) == 0 || (e->to & chan->self) == 0) {
		ipc_seterr(chan, "%s may not go from %#x to %#x", e->name,
		    chan->peer, chan->self);
		return -1;
	}
	if (hdr->len < e->minlen || hdr->len > e->maxlen) {
		ipc_seterr(chan, "%s: bad length %u (want %u..%u)", e->name,
		    hdr->len, e->minlen, e->maxlen);
		return -1;
	}
	return 0;
}

int
ipc_get(struct ipc_chan *chan, struct ipc_msg *msg)
{
	struct ipc_hdr hdr;
	size_t have, flen;
	uint64_t start, end;
	int fd, fdopt, i;

	msg->data = NULL;
	msg->len = 0;
	msg->fd = -1;
	if (chan->broken)
		return -1;
	have = chan->rlen - chan->roff;
	if (have < IPC_HDR_SIZE)
		goto partial;
	memcpy(&hdr, chan->rbuf + chan->roff, sizeof(hdr));
	if (ipc_check_hdr(chan, &hdr) == -1)
		goto broken;
	flen = IPC_HDR_SIZE + (size_t)hdr.len;
	if (have < flen)
		goto partial;

	start = chan->rstream + chan->roff;
	end = start + flen;
	fd = -1;
	while (chan->nrfds > 0 && chan->rfd_at[0] < end) {
		if (chan->rfd_at[0] < start || fd != -1) {
			ipc_seterr(chan, "%s: stray descriptor",
			    ipc_type_name(hdr.type));
			if (fd != -1)
				(void)close(fd);
			goto broken;
		}
		fd = chan->rfds[0];
		chan->nrfds--;
		for (i = 0; i < chan->nrfds; i++) {
			chan->rfds[i] = chan->rfds[i + 1];
			chan->rfd_at[i] = chan->rfd_at[i + 1];
		}
	}
	fdopt = ipc_type_fd(hdr.type);
	if ((fd != -1 && fdopt == IPC_FDOPT_NONE) ||
	    (fd == -1 && fdopt == IPC_FDOPT_MUST)) {
		ipc_seterr(chan, "%s: descriptor %s", ipc_type_name(hdr.type),
		    fd == -1 ? "missing" : "not allowed");
		if (fd != -1)
			(void)close(fd);
		goto broken;
	}

	if (hdr.len > 0) {
		if ((msg->data = malloc(hdr.len)) == NULL)
			fatalx(EXIT_FAIL, "ipc: out of memory");
		memcpy(msg->data, chan->rbuf + chan->roff + IPC_HDR_SIZE,
		    hdr.len);
	}
	explicit_bzero(chan->rbuf + chan->roff, flen);
	chan->roff += flen;
	if (chan->roff == chan->rlen) {
		chan->rstream += chan->roff;
		chan->roff = chan->rlen = 0;
	}
	msg->hdr = hdr;
	msg->len = hdr.len;
	msg->fd = fd;
	return 1;

partial:
	/* A descriptor can only belong to a frame that has started. */
	if (chan->nrfds > 0 &&
	    chan->rfd_at[0] < chan->rstream + chan->roff) {
		ipc_seterr(chan, "stray descriptor");
		goto broken;
	}
	return 0;
broken:
	chan->broken = 1;
	return -1;
}

void
ipc_msg_free(struct ipc_msg *msg)
{
	if (msg->data != NULL)
		freezero(msg->data, msg->len);
	msg->data = NULL;
	msg->len = 0;
	if (msg->fd != -1)
		(void)close(msg->fd);
	msg->fd = -1;
}

int
ipc_compose(struct ipc_chan *chan, uint32_t type, uint32_t peerid, int fd,
    const void *data, size_t len)
{
	const struct ipc_catalogue_entry *e;
	struct ipc_hdr hdr;
	struct ipc_wq *wq;
	int fdopt;

	if ((e = ipc_catalogue(type)) == NULL) {
		ipc_seterr(chan, "compose: unknown message type %u", type);
		return -1;
	}
	if ((e->from & chan->self) == 0 || (e->to & chan->peer) == 0) {
		ipc_seterr(chan, "compose: %s may not go from %#x to %#x",
		    e->name, chan->self, chan->peer);
		return -1;
	}
	if (len > IPC_MAX_PAYLOAD || len < e->minlen || len > e->maxlen) {
		ipc_seterr(chan, "compose: %s: bad length %zu (want %u..%u)",
		    e->name, len, e->minlen, e->maxlen);
		return -1;
	}
	fdopt = ipc_type_fd(type);
	if ((fd != -1 && fdopt == IPC_FDOPT_NONE) ||
	    (fd == -1 && fdopt == IPC_FDOPT_MUST)) {
		ipc_seterr(chan, "compose: %s: descriptor %s", e->name,
		    fd == -1 ? "missing" : "not allowed");
		return -1;
	}
	if (len > 0 && data == NULL) {
		ipc_seterr(chan, "compose: %s: no data", e->name);
		return -1;
	}

	if ((wq = malloc(sizeof(*wq) + IPC_HDR_SIZE + len)) == NULL)
		fatalx(EXIT_FAIL, "ipc: out of memory");
	hdr.type = type;
	hdr.len = (uint32_t)len;
	hdr.peerid = peerid;
	hdr.pid = (uint32_t)chan->pid;
	memcpy(wq->frame, &hdr, sizeof(hdr));
	if (len > 0)
		memcpy(wq->frame + IPC_HDR_SIZE, data, len);
	wq->next = NULL;
	wq->len = IPC_HDR_SIZE + len;
	wq->off = 0;
	wq->fd = fd;
	if (chan->wq_tail != NULL)
		chan->wq_tail->next = wq;
	else
		chan->wq_head = wq;
	chan->wq_tail = wq;
	chan->wq_bytes += wq->len;
	return 0;
}

int
ipc_flush(struct ipc_chan *chan)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec iov[IPC_WRITEV_MAX];
	struct msghdr msg;
	struct cmsghdr *cm;
	struct ipc_wq *wq;
	ssize_t n;
	size_t left;
	int niov;

	while (chan->wq_head != NULL) {
		if (chan->fd == -1) {
			ipc_seterr(chan, "write on a closed channel");
			errno = EBADF;
			return -1;
		}
		memset(&msg, 0, sizeof(msg));
		wq = chan->wq_head;
		niov = 0;
		if (wq->fd != -1) {
			/* Alone, from byte 0: see the comment at the top. */
			iov[niov].iov_base = wq->frame + wq->off;
			iov[niov].iov_len = wq->len - wq->off;
			niov++;
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			msg.msg_control = cmsgbuf.buf;
			msg.msg_controllen = sizeof(cmsgbuf.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &wq->fd, sizeof(int));
		} else {
			for (; wq != NULL && wq->fd == -1 &&
			    niov < IPC_WRITEV_MAX; wq = wq->next) {
				iov[niov].iov_base = wq->frame + wq->off;
				iov[niov].iov_len = wq->len - wq->off;
				niov++;
			}
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = niov;
		do {
			n = sendmsg(chan->fd, &msg, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
		} while (n == -1 && errno == EINTR);
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			ipc_seterr(chan, "write: %s", strerror(errno));
			return -1;
		}
		if (chan->wq_head->fd != -1) {
			/* The descriptor went with the first byte. */
			(void)close(chan->wq_head->fd);
			chan->wq_head->fd = -1;
		}
		for (left = (size_t)n; left > 0 && chan->wq_head != NULL;) {
			wq = chan->wq_head;
			if (left < wq->len - wq->off) {
				wq->off += left;
				chan->wq_bytes -= left;
				break;
			}
			left -= wq->len - wq->off;
			ipc_wq_pop(chan);
		}
	}
	return 0;
}

int
ipc_flush_sync(struct ipc_chan *chan)
{
	struct pollfd pfd;
	int r;

	for (;;) {
		if ((r = ipc_flush(chan)) != 1)
			return r;
		pfd.fd = chan->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR) {
			ipc_seterr(chan, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

int
ipc_get_sync(struct ipc_chan *chan, struct ipc_msg *msg)
{
	struct pollfd pfd;
	ssize_t n;
	int r;

	for (;;) {
		if ((r = ipc_get(chan, msg)) != 0)
			return r;
		n = ipc_read(chan);
		if (n > 0)
			continue;
		if (n == 0) {
			if (chan->rlen > chan->roff) {
				ipc_seterr(chan, "end of file inside a "
				    "message");
				chan->broken = 1;
				return -1;
			}
			return 0;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		pfd.fd = chan->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR) {
			ipc_seterr(chan, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

int
ipc_pending(const struct ipc_chan *chan)
{
	return chan->wq_bytes > INT32_MAX ? INT32_MAX : (int)chan->wq_bytes;
}

/* Payload building. */

void
ipc_buf_init(struct ipc_buf *buf)
{
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

void
ipc_buf_free(struct ipc_buf *buf)
{
	if (buf->data != NULL)
		freezero(buf->data, buf->cap);
	ipc_buf_init(buf);
}

static void	ipc_buf_add(struct ipc_buf *, const void *, size_t);

static void
ipc_buf_add(struct ipc_buf *buf, const void *p, size_t len)
{
	unsigned char *n;
	size_t ncap;

	if (len > SIZE_MAX / 2 - buf->len)
		fatalx(EXIT_FAIL, "ipc: payload too large");
	if (buf->len + len > buf->cap) {
		ncap = buf->cap ? buf->cap : 256;
		while (ncap < buf->len + len)
			ncap *= 2;
		/* recallocarray clears the old copy: payloads hold secrets. */
		if ((n = recallocarray(buf->data, buf->cap, ncap, 1)) == NULL)
			fatalx(EXIT_FAIL, "ipc: out of memory");
		buf->data = n;
		buf->cap = ncap;
	}
	if (len > 0)
		memcpy(buf->data + buf->len, p, len);
	buf->len += len;
}

void
ipc_put_u32(struct ipc_buf *buf, uint32_t v)
{
	ipc_buf_add(buf, &v, sizeof(v));
}

void
ipc_put_u64(struct ipc_buf *buf, uint64_t v)
{
	ipc_buf_add(buf, &v, sizeof(v));
}

void
ipc_put_data(struct ipc_buf *buf, const void *p, size_t len)
{
	if (p == NULL) {
		ipc_put_u32(buf, UINT32_MAX);
		return;
	}
	if (len >= UINT32_MAX)
		fatalx(EXIT_FAIL, "ipc: data too large");
	ipc_put_u32(buf, (uint32_t)len);
	ipc_buf_add(buf, p, len);
}

void
ipc_put_str(struct ipc_buf *buf, const char *s)
{
	ipc_put_data(buf, s, s == NULL ? 0 : strlen(s));
}

int
ipc_send(struct ipc_chan *chan, uint32_t type, uint32_t peerid, int fd,
    struct ipc_buf *buf)
{
	int r;

	r = ipc_compose(chan, type, peerid, fd, buf->data, buf->len);
	if (buf->data != NULL)
		explicit_bzero(buf->data, buf->len);
	buf->len = 0;
	return r;
}

/* Payload reading. */

void
ipc_rd_init(struct ipc_rd *rd, const struct ipc_msg *msg)
{
	rd->p = msg->data;
	rd->left = msg->data == NULL ? 0 : msg->len;
	rd->error = 0;
}

/* The next n bytes into v, or zeroes and rd->error. */
static void
ipc_get_fixed(struct ipc_rd *rd, void *v, size_t n)
{
	if (rd->error || rd->left < n) {
		rd->error = 1;
		memset(v, 0, n);
		return;
	}
	memcpy(v, rd->p, n);
	rd->p += n;
	rd->left -= n;
}

uint32_t
ipc_get_u32(struct ipc_rd *rd)
{
	uint32_t v;

	ipc_get_fixed(rd, &v, sizeof(v));
	return v;
}

uint64_t
ipc_get_u64(struct ipc_rd *rd)
{
	uint64_t v;

	ipc_get_fixed(rd, &v, sizeof(v));
	return v;
}

const void *
ipc_get_data(struct ipc_rd *rd, size_t *lenp)
{
	const void *p;
	uint32_t len;

	*lenp = 0;
	len = ipc_get_u32(rd);
	if (rd->error)
		return NULL;
	if (len == UINT32_MAX)
		return NULL;
	if (len > rd->left) {
		rd->error = 1;
		return NULL;
	}
	p = rd->p;
	rd->p += len;
	rd->left -= len;
	*lenp = len;
	return p;
}

char *
ipc_get_str(struct ipc_rd *rd)
{
	const char *p;
	char *s;
	size_t len;

	if ((p = ipc_get_data(rd, &len)) == NULL)
		return NULL;
	if (memchr(p, '\0', len) != NULL) {
		rd->error = 1;
		return NULL;
	}
	if ((s = malloc(len + 1)) == NULL)
		fatalx(EXIT_FAIL, "ipc: out of memory");
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

int
ipc_rd_end(struct ipc_rd *rd)
{
	if (rd->error || rd->left != 0) {
		rd->error = 1;
		return -1;
	}
	return 0;
}
