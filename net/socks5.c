/*
 * The SOCKS5 exchange with a proxy, in the net child (see socks5.h).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf_proto.h"
#include "proc.h"
#include "clock.h"
#include "socks5.h"

#define SOCKS5_VERSION		0x05
#define SOCKS5_AUTH_VERSION	0x01	/* RFC 1929 subnegotiation */
#define SOCKS5_METHOD_NONE	0x00
#define SOCKS5_METHOD_USERPASS	0x02
#define SOCKS5_CMD_CONNECT	0x01

/* Where the exchange stands: sending (SX_SEND_*) or reading. */
enum {
	SX_SEND_METHODS = 0,
	SX_READ_METHOD,		/* VER METHOD */
	SX_SEND_AUTH,
	SX_READ_AUTH,		/* VER STATUS */
	SX_SEND_CONNECT,
	SX_READ_REPLY,		/* VER REP RSV ATYP */
	SX_READ_NAMELEN,	/* the bound name's length */
	SX_READ_BOUND,		/* BND.ADDR BND.PORT: read, not used */
	SX_DONE,
	SX_FAILED,
};

static const char *const sx_replies[] = {
	NULL,
	"general SOCKS server failure",
	"connection not allowed by ruleset",
	"network unreachable",
	"host unreachable",
	"connection refused",
	"TTL expired",
	"command not supported",
	"address type not supported",
};

static int	 sx_fail(struct socks5 *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 sx_send(struct socks5 *, int);
static void	 sx_read(struct socks5 *, int, size_t);
static void	 sx_connect_req(struct socks5 *);
static int	 sx_step(struct socks5 *);

const char *
socks5_reply_text(unsigned int code)
{
	if (code == 0 || code >= sizeof(sx_replies) / sizeof(sx_replies[0]))
		return NULL;
	return sx_replies[code];
}

static int
sx_fail(struct socks5 *s, int transient, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->transient = transient;
	s->state = SX_FAILED;
	explicit_bzero(s->buf, sizeof(s->buf));
	return -1;
}

/* The next state sends s->buf[0..len). */
static void
sx_send(struct socks5 *s, int state)
{
	s->state = state;
	s->off = 0;
}

/* The next state reads exactly len bytes (at most sizeof(buf)). */
static void
sx_read(struct socks5 *s, int state, size_t len)
{
	s->state = state;
	s->len = len;
	s->off = 0;
}

static void
sx_connect_req(struct socks5 *s)
{
	const struct socks5_req	*r = &s->req;
	size_t			 len = 0;

	s->buf[len++] = SOCKS5_VERSION;
	s->buf[len++] = SOCKS5_CMD_CONNECT;
	s->buf[len++] = 0x00;
	s->buf[len++] = r->atyp;
	if (r->atyp == SOCKS5_ATYP_DOMAIN)
		s->buf[len++] = (unsigned char)r->addrlen;
	memcpy(s->buf + len, r->addr, r->addrlen);
	len += r->addrlen;
	s->buf[len++] = (unsigned char)(r->port >> 8);
	s->buf[len++] = (unsigned char)(r->port & 0xff);
	s->len = len;
	sx_send(s, SX_SEND_CONNECT);
}

void
socks5_init(struct socks5 *s, struct socks5_req *req, int timeout_ms)
{
	size_t	len = 0;

	memset(s, 0, sizeof(*s));
	s->req = *req;
	explicit_bzero(req, sizeof(*req));	/* the strings are ours now */
	s->deadline = clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	/* Odd requests are the caller's bug, caught before any byte goes. */
	if (s->req.addrlen > sizeof(s->req.addr) ||
	    (s->req.atyp == SOCKS5_ATYP_IPV4 && s->req.addrlen != 4) ||
	    (s->req.atyp == SOCKS5_ATYP_IPV6 && s->req.addrlen != 16) ||
	    (s->req.atyp == SOCKS5_ATYP_DOMAIN && s->req.addrlen == 0) ||
	    (s->req.atyp != SOCKS5_ATYP_IPV4 &&
	    s->req.atyp != SOCKS5_ATYP_IPV6 &&
	    s->req.atyp != SOCKS5_ATYP_DOMAIN) ||
	    (s->req.user == NULL) != (s->req.pass == NULL)) {
		(void)sx_fail(s, 0, "bad request");
		return;
	}

	/* Method selection: user/pass first when we have credentials. */
	s->buf[len++] = SOCKS5_VERSION;
	if (s->req.user != NULL) {
		s->buf[len++] = 2;
		s->buf[len++] = SOCKS5_METHOD_USERPASS;
		s->buf[len++] = SOCKS5_METHOD_NONE;
	} else {
		s->buf[len++] = 1;
		s->buf[len++] = SOCKS5_METHOD_NONE;
	}
	s->len = len;
	sx_send(s, SX_SEND_METHODS);
}

short
socks5_events(const struct socks5 *s)
{
	switch (s->state) {
	case SX_SEND_METHODS:
	case SX_SEND_AUTH:
	case SX_SEND_CONNECT:
		return POLLOUT;
	case SX_DONE:
	case SX_FAILED:
		return 0;
	default:
		return POLLIN;
	}
}

int
socks5_timeout(const struct socks5 *s)
{
	int64_t	left = s->deadline - clock_ms();

	if (left < 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* A whole message has been sent or read: what it means, what is next. */
static int
sx_step(struct socks5 *s)
{
	size_t		 ulen, plen, len;
	unsigned int	 rep;

	switch (s->state) {
	case SX_SEND_METHODS:
		sx_read(s, SX_READ_METHOD, 2);
		return 0;
	case SX_READ_METHOD:
		if (s->buf[0] != SOCKS5_VERSION)
			return sx_fail(s, 0, "Invalid protocol");
		if (s->buf[1] == SOCKS5_METHOD_USERPASS &&
		    s->req.user != NULL) {
			ulen = strlen(s->req.user);
			plen = strlen(s->req.pass);
			if (ulen > 255 || plen > 255)
				return sx_fail(s, 0,
				    "Username or password too long");
			len = 0;
			s->buf[len++] = SOCKS5_AUTH_VERSION;
			s->buf[len++] = (unsigned char)ulen;
			memcpy(s->buf + len, s->req.user, ulen);
			len += ulen;
			s->buf[len++] = (unsigned char)plen;
			memcpy(s->buf + len, s->req.pass, plen);
			len += plen;
			s->len = len;
			sx_send(s, SX_SEND_AUTH);
			return 0;
		}
		if (s->buf[1] != SOCKS5_METHOD_NONE)
			/* 0xFF, or a method we did not offer. */
			return sx_fail(s, 0,
			    "No acceptable authentication methods");
		sx_connect_req(s);
		return 0;
	case SX_SEND_AUTH:
		/* The password has done its job. */
		explicit_bzero(s->buf, sizeof(s->buf));
		explicit_bzero(s->req.pass, strlen(s->req.pass));
		sx_read(s, SX_READ_AUTH, 2);
		return 0;
	case SX_READ_AUTH:
		if (s->buf[0] != SOCKS5_AUTH_VERSION)
			return sx_fail(s, 0, "Invalid protocol");
		if (s->buf[1] != 0x00)
			return sx_fail(s, 0, "Authentication failed");
		sx_connect_req(s);
		return 0;
	case SX_SEND_CONNECT:
		sx_read(s, SX_READ_REPLY, 4);
		return 0;
	case SX_READ_REPLY:
		if (s->buf[0] != SOCKS5_VERSION || s->buf[2] != 0x00)
			return sx_fail(s, 0, "Invalid protocol");
		rep = s->buf[1];
		if (rep != 0x00) {
			/* Could not reach the server: it may, later. */
			int transient = rep == 1 || (rep >= 3 && rep <= 6);

			if (socks5_reply_text(rep) != NULL)
				return sx_fail(s, transient, "%s",
				    socks5_reply_text(rep));
			return sx_fail(s, 0, "Unknown reply code %u", rep);
		}
		switch (s->buf[3]) {
		case SOCKS5_ATYP_IPV4:
			sx_read(s, SX_READ_BOUND, 4 + 2);
			return 0;
		case SOCKS5_ATYP_IPV6:
			sx_read(s, SX_READ_BOUND, 16 + 2);
			return 0;
		case SOCKS5_ATYP_DOMAIN:
			sx_read(s, SX_READ_NAMELEN, 1);
			return 0;
		default:
			return sx_fail(s, 0, "Invalid address type %u",
			    s->buf[3]);
		}
	case SX_READ_NAMELEN:
		/* At most 255 + 2: fits the buffer. */
		sx_read(s, SX_READ_BOUND, (size_t)s->buf[0] + 2);
		return 0;
	case SX_READ_BOUND:
		s->state = SX_DONE;
		return 1;
	default:
		return sx_fail(s, 0, "bad state %d", s->state);
	}
}

int
socks5_io(struct socks5 *s, int fd)
{
	ssize_t	n;
	int	r;

	/* A proxy that trickles its bytes is bounded too. */
	if (s->state != SX_DONE && s->state != SX_FAILED &&
	    socks5_timeout(s) == 0)
		return sx_fail(s, 1, "%s: %s", socks5_events(s) == POLLOUT ?
		    "write" : "read", strerror(ETIMEDOUT));
	for (;;) {
		if (s->state == SX_DONE)
			return 1;
		if (s->state == SX_FAILED)
			return -1;
		if (s->len > sizeof(s->buf))
			return sx_fail(s, 0, "bad length");
		if (socks5_events(s) == POLLOUT) {
			if (s->off == s->len) {
				if ((r = sx_step(s)) != 0)
					return r;
				continue;
			}
			n = send(fd, s->buf + s->off, s->len - s->off,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				s->off += (size_t)n;
				continue;
			}
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK)) {
				if (socks5_timeout(s) == 0)
					return sx_fail(s, 1, "write: %s",
					    strerror(ETIMEDOUT));
				return 0;
			}
			return sx_fail(s, errno_transient(errno),
			    "write: %s", strerror(errno));
		}
		if (s->off == s->len) {
			if ((r = sx_step(s)) != 0)
				return r;
			continue;
		}
		/* Exactly what is missing: never a byte of the stream. */
		n = recv(fd, s->buf + s->off, s->len - s->off, MSG_DONTWAIT);
		if (n > 0) {
			s->off += (size_t)n;
			continue;
		}
		if (n == 0)
			return sx_fail(s, 1, "0 bytes read (got EOF)");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (socks5_timeout(s) == 0)
				return sx_fail(s, 1, "read: %s",
				    strerror(ETIMEDOUT));
			return 0;
		}
		return sx_fail(s, errno_transient(errno), "read: %s",
		    strerror(errno));
	}
}

void
socks5_clear(struct socks5 *s)
{
	if (s->req.user != NULL)
		freezero(s->req.user, strlen(s->req.user));
	if (s->req.pass != NULL)
		freezero(s->req.pass, strlen(s->req.pass));
	s->req.user = s->req.pass = NULL;
	explicit_bzero(&s->req, sizeof(s->req));
	explicit_bzero(s->buf, sizeof(s->buf));
}

int
socks5_run(struct socks5 *s, int fd, struct socks5_req *req, int timeout_ms)
{
	struct pollfd	pfd;
	int		r;

	socks5_init(s, req, timeout_ms);
	while ((r = socks5_io(s, fd)) == 0) {
		pfd.fd = fd;
		pfd.events = socks5_events(s);
		pfd.revents = 0;
		if (poll(&pfd, 1, socks5_timeout(s)) == -1 && errno != EINTR) {
			r = sx_fail(s, errno_transient(errno), "poll: %s",
			    strerror(errno));
			break;
		}
	}
	socks5_clear(s);
	return r;
}
