/*
 * SOCKS5 client side (RFC 1928, RFC 1929): the proxy URI, the CONNECT
 * target, and the negotiation on an already connected socket.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proc.h"
#include "connect.h"
#include "socks5.h"

#define SOCKS5_VERSION		0x05
#define SOCKS5_AUTH_VERSION	0x01	/* RFC 1929 subnegotiation */
#define SOCKS5_METHOD_NONE	0x00
#define SOCKS5_METHOD_USERPASS	0x02
#define SOCKS5_CMD_CONNECT	0x01

static int	 sx_isalnum(unsigned char);
static int	 sx_iscntrl(unsigned char);
static int	 sx_alnum_run(const char *, size_t);
static int	 sx_hostport(const char *, size_t, size_t *, const char **,
		    size_t *);
static char	*sx_strndup(const char *, size_t);
static int	 sx_ms_left(const struct timespec *);
static int	 sx_wait(int, short, const struct timespec *);
static int	 sx_write(int, const void *, size_t, const struct timespec *,
		    const char *);
static int	 sx_read(int, void *, size_t, const struct timespec *,
		    const char *);
static void	 sx_error(const char *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

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

const char *
socks5_reply_text(unsigned int code)
{
	if (code == 0 || code >= sizeof(sx_replies) / sizeof(sx_replies[0]))
		return NULL;
	return sx_replies[code];
}

int
socks5_reply_errno(unsigned int code)
{
	switch (code) {
	case 1:		/* general failure: often the proxy's own upstream */
		return ECONNABORTED;
	case 2:
		return EACCES;
	case 3:
		return ENETUNREACH;
	case 4:
		return EHOSTUNREACH;
	case 5:
		return ECONNREFUSED;
	case 6:
		return ETIMEDOUT;
	default:
		return EPROTO;
	}
}

/* ASCII only: the reference's classes are not locale-dependent. */
static int
sx_isalnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Unicode category Cc on a Latin-1 byte, as Perl's \p{Control}. */
static int
sx_iscntrl(unsigned char c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

static int
sx_alnum_run(const char *s, size_t n)
{
	size_t	i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!sx_isalnum((unsigned char)s[i]))
			return 0;
	return 1;
}

/*
 * Does h[0..n) match HOST(:PORT)? to the end, with the reference's two
 * HOST alternatives tried in its order: a run of non-':' bytes first,
 * then "[" non-']' bytes "]"?  Sets the host length and the port span
 * (*port NULL when absent).
 */
static int
sx_hostport(const char *h, size_t n, size_t *hostlen, const char **port,
    size_t *portlen)
{
	const char	*colon, *rb, *after;
	size_t		 rest;

	*port = NULL;
	*portlen = 0;
	colon = memchr(h, ':', n);
	if (colon == NULL) {
		if (n > 0) {
			*hostlen = n;
			return 1;
		}
	} else if (colon > h) {
		rest = n - (size_t)(colon + 1 - h);
		if (sx_alnum_run(colon + 1, rest)) {
			*hostlen = (size_t)(colon - h);
			*port = colon + 1;
			*portlen = rest;
			return 1;
		}
	}
	if (n < 3 || h[0] != '[')
		return 0;
	rb = memchr(h + 1, ']', n - 1);
	if (rb == NULL || rb == h + 1)
		return 0;
	after = rb + 1;
	rest = n - (size_t)(after - h);
	if (rest == 0) {
		*hostlen = n;
		return 1;
	}
	if (after[0] != ':' || !sx_alnum_run(after + 1, rest - 1))
		return 0;
	*hostlen = (size_t)(after - h);
	*port = after + 1;
	*portlen = rest - 1;
	return 1;
}

static char *
sx_strndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		fatal(EXIT_FAIL, "strndup");
	return p;
}

int
socks5_uri_parse(const char *uri, struct socks5_uri *out)
{
	const char	*p, *rest, *at, *port = NULL;
	size_t		 rn, ctl, i, hostlen = 0, portlen = 0;
	int		 found = 0;

	memset(out, 0, sizeof(*out));

	/* SCHEME "://" */
	for (p = uri; sx_isalnum((unsigned char)*p); p++)
		;
	if (p == uri || strncmp(p, "://", 3) != 0)
		return SOCKS5_URI_INVALID;
	rest = p + 3;
	rn = strlen(rest);

	/*
	 * The userinfo is greedy: try the last '@' first, then earlier
	 * ones, then none; only a non-control run can come before it.
	 */
	for (ctl = 0; ctl < rn && !sx_iscntrl((unsigned char)rest[ctl]); ctl++)
		;
	at = NULL;
	for (i = ctl; i > 0; i--) {
		if (rest[i - 1] != '@')
			continue;
		if (sx_hostport(rest + i, rn - i, &hostlen, &port, &portlen)) {
			at = rest + i - 1;
			found = 1;
			break;
		}
	}
	if (!found) {
		if (!sx_hostport(rest, rn, &hostlen, &port, &portlen))
			return SOCKS5_URI_INVALID;
	}

	out->scheme = sx_strndup(uri, (size_t)(p - uri));
	if (strcmp(out->scheme, "socks5h") == 0)
		out->remote_resolve = 1;
	else if (strcmp(out->scheme, "socks5") != 0)
		return SOCKS5_URI_UNSUPPORTED;

	if (at != NULL) {
		const char	*colon;
		size_t		 ulen = (size_t)(at - rest);

		/* USER ":" PASS, split at the first ':'. */
		out->has_auth = 1;
		colon = memchr(rest, ':', ulen);
		if (colon == NULL) {
			out->user = sx_strndup(rest, ulen);
			out->pass = sx_strndup("", 0);
		} else {
			out->user = sx_strndup(rest, (size_t)(colon - rest));
			out->pass = sx_strndup(colon + 1,
			    (size_t)(at - colon - 1));
		}
		rest = at + 1;
	}
	out->host = sx_strndup(rest, hostlen);
	out->port = port != NULL ? sx_strndup(port, portlen) :
	    sx_strndup(SOCKS5_DEFAULT_PORT, strlen(SOCKS5_DEFAULT_PORT));
	return SOCKS5_URI_OK;
}

void
socks5_uri_free(struct socks5_uri *u)
{
	free(u->scheme);
	free(u->user);
	if (u->pass != NULL)
		freezero(u->pass, strlen(u->pass));
	free(u->host);
	free(u->port);
	memset(u, 0, sizeof(*u));
}

char *
socks5_uri_redact(const char *uri)
{
	const char	*from, *at;
	char		*r;

	from = (from = strstr(uri, "://")) != NULL ? from + 3 : uri;
	if ((at = strrchr(from, '@')) == NULL)
		return sx_strndup(uri, strlen(uri));
	if (asprintf(&r, "%.*s********%s", (int)(from - uri), uri, at) == -1)
		fatal(EXIT_FAIL, "asprintf");
	return r;
}

int
socks5_target(struct socks5_target *t, const char *host, const char *port,
    int remote_resolve, const char *name)
{
	struct addrinfo	 hints, *res, *ai;
	unsigned char	 addr[16];
	char		*bare = NULL;
	const char	*p;
	unsigned long	 n;
	int		 af, lit;

	memset(t, 0, sizeof(*t));

	/* The port: digits, or a service name. */
	for (p = port; *p >= '0' && *p <= '9'; p++)
		;
	if (*port != '\0' && *p == '\0') {
		errno = 0;
		n = strtoul(port, NULL, 10);
		if (errno != 0 || n > 65535) {
			log_msg(LOG_LVL_ERROR, name, NULL,
			    "ERROR: Invalid port number %s", port);
			return -1;
		}
		t->port = (uint16_t)n;
	} else {
		struct servent	*se;

		if ((se = getservbyname(port, "tcp")) == NULL) {
			log_msg(LOG_LVL_ERROR, name, NULL,
			    "ERROR: Can't getservbyname %s", port);
			return -1;
		}
		t->port = ntohs((uint16_t)se->s_port);
	}

	if ((lit = connect_hostip(host, &bare, &af, addr, name)) == -1)
		return -1;
	if (lit == 1) {
		t->atyp = af == AF_INET ? SOCKS5_ATYP_IPV4 : SOCKS5_ATYP_IPV6;
		t->addrlen = af == AF_INET ? 4 : 16;
		memcpy(t->addr, addr, t->addrlen);
		free(bare);
		return 0;
	}
	if (remote_resolve) {
		size_t	len = strlen(bare);

		if (len > sizeof(t->addr)) {
			log_msg(LOG_LVL_ERROR, name, NULL,
			    "SOCKSv5 ERROR: Host name too long");
			free(bare);
			return -1;
		}
		t->atyp = SOCKS5_ATYP_DOMAIN;
		t->addrlen = len;
		memcpy(t->addr, bare, len);
		free(bare);
		return 0;
	}

	/* socks5: resolve here and send the first address. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (connect_resolve(bare, NULL, &hints, &res, name) == -1) {
		free(bare);
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sin =
			    (const struct sockaddr_in *)ai->ai_addr;

			t->atyp = SOCKS5_ATYP_IPV4;
			t->addrlen = 4;
			memcpy(t->addr, &sin->sin_addr, 4);
			break;
		}
		if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sin6 =
			    (const struct sockaddr_in6 *)ai->ai_addr;

			t->atyp = SOCKS5_ATYP_IPV6;
			t->addrlen = 16;
			memcpy(t->addr, &sin6->sin6_addr, 16);
			break;
		}
	}
	freeaddrinfo(res);
	if (ai == NULL) {
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: getaddrinfo(%s): no IPv4 or IPv6 address", bare);
		free(bare);
		return -1;
	}
	free(bare);
	return 0;
}

static void
sx_error(const char *name, const char *fmt, ...)
{
	char	 text[256];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERROR, name, NULL, "SOCKSv5 ERROR: %s", text);
}

/* Milliseconds until deadline, at least 0. */
static int
sx_ms_left(const struct timespec *deadline)
{
	struct timespec	now;
	long long	ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms < 0)
		return 0;
	if (ms > INT32_MAX)
		return INT32_MAX;
	return (int)ms;
}

/* Waits for ev on fd: 0 ready (or error to be seen), -1 errno set. */
static int
sx_wait(int fd, short ev, const struct timespec *deadline)
{
	struct pollfd	pfd;
	int		ms, n;

	for (;;) {
		if ((ms = sx_ms_left(deadline)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms);
		if (n == -1 && errno == EINTR && connect_aborted())
			return -1;		/* errno EINTR */
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		return 0;	/* readable, writable, HUP or ERR */
	}
}

static int
sx_write(int fd, const void *buf, size_t len, const struct timespec *dl,
    const char *name)
{
	const unsigned char	*p = buf;
	ssize_t			 n;

	while (len > 0) {
		n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (sx_wait(fd, POLLOUT, dl) == 0)
				continue;
		}
		sx_error(name, "write: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads exactly len bytes: never more, the stream goes on after. */
static int
sx_read(int fd, void *buf, size_t len, const struct timespec *dl,
    const char *name)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0) {
			sx_error(name, "0 bytes read (got EOF)");
			errno = ECONNRESET;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (sx_wait(fd, POLLIN, dl) == 0)
				continue;
		}
		sx_error(name, "read: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
socks5_handshake(int fd, const struct socks5_uri *u,
    const struct socks5_target *t, int timeout_ms, const char *name)
{
	/* The largest message: auth, 1 + 1 + 255 + 1 + 255 bytes. */
	unsigned char	 buf[520];
	struct timespec	 dl;
	size_t		 len, ulen, plen;
	unsigned int	 rep;
	int		 rv = -1;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}

	/* Method selection: user/pass first when we have credentials. */
	len = 0;
	buf[len++] = SOCKS5_VERSION;
	if (u->has_auth) {
		buf[len++] = 2;
		buf[len++] = SOCKS5_METHOD_USERPASS;
		buf[len++] = SOCKS5_METHOD_NONE;
	} else {
		buf[len++] = 1;
		buf[len++] = SOCKS5_METHOD_NONE;
	}
	if (sx_write(fd, buf, len, &dl, name) == -1 ||
	    sx_read(fd, buf, 2, &dl, name) == -1)
		goto out;
	if (buf[0] != SOCKS5_VERSION) {
		sx_error(name, "Invalid protocol");
		errno = EPROTO;
		goto out;
	}
	if (buf[1] == SOCKS5_METHOD_USERPASS && u->has_auth) {
		ulen = strlen(u->user);
		plen = strlen(u->pass);
		if (ulen > 255 || plen > 255) {
			sx_error(name, "Username or password too long");
			errno = EINVAL;
			goto out;
		}
		len = 0;
		buf[len++] = SOCKS5_AUTH_VERSION;
		buf[len++] = (unsigned char)ulen;
		memcpy(buf + len, u->user, ulen);
		len += ulen;
		buf[len++] = (unsigned char)plen;
		memcpy(buf + len, u->pass, plen);
		len += plen;
		if (sx_write(fd, buf, len, &dl, name) == -1)
			goto out;
		explicit_bzero(buf, sizeof(buf));
		if (sx_read(fd, buf, 2, &dl, name) == -1)
			goto out;
		if (buf[0] != SOCKS5_AUTH_VERSION) {
			sx_error(name, "Invalid protocol");
			errno = EPROTO;
			goto out;
		}
		if (buf[1] != 0x00) {
			sx_error(name, "Authentication failed");
			errno = EACCES;
			goto out;
		}
	} else if (buf[1] != SOCKS5_METHOD_NONE) {
		/* 0xFF, or a method we did not offer. */
		sx_error(name, "No acceptable authentication methods");
		errno = EACCES;
		goto out;
	}

	/* CONNECT */
	if (t->addrlen > sizeof(t->addr) || (t->atyp == SOCKS5_ATYP_IPV4 &&
	    t->addrlen != 4) || (t->atyp == SOCKS5_ATYP_IPV6 &&
	    t->addrlen != 16) || (t->atyp == SOCKS5_ATYP_DOMAIN &&
	    t->addrlen == 0))
		fatalx(EXIT_FAIL, "socks5_handshake: bad target");
	len = 0;
	buf[len++] = SOCKS5_VERSION;
	buf[len++] = SOCKS5_CMD_CONNECT;
	buf[len++] = 0x00;
	buf[len++] = t->atyp;
	if (t->atyp == SOCKS5_ATYP_DOMAIN)
		buf[len++] = (unsigned char)t->addrlen;
	memcpy(buf + len, t->addr, t->addrlen);
	len += t->addrlen;
	buf[len++] = (unsigned char)(t->port >> 8);
	buf[len++] = (unsigned char)(t->port & 0xff);
	if (sx_write(fd, buf, len, &dl, name) == -1)
		goto out;

	/* Reply: VER REP RSV ATYP BND.ADDR BND.PORT */
	if (sx_read(fd, buf, 4, &dl, name) == -1)
		goto out;
	if (buf[0] != SOCKS5_VERSION || buf[2] != 0x00) {
		sx_error(name, "Invalid protocol");
		errno = EPROTO;
		goto out;
	}
	rep = buf[1];
	if (rep != 0x00) {
		if (socks5_reply_text(rep) != NULL)
			sx_error(name, "%s", socks5_reply_text(rep));
		else
			sx_error(name, "Unknown reply code %u", rep);
		errno = socks5_reply_errno(rep);
		goto out;
	}
	switch (buf[3]) {
	case SOCKS5_ATYP_IPV4:
		len = 4;
		break;
	case SOCKS5_ATYP_IPV6:
		len = 16;
		break;
	case SOCKS5_ATYP_DOMAIN:
		if (sx_read(fd, buf, 1, &dl, name) == -1)
			goto out;
		len = buf[0];	/* at most 255: fits buf with the port */
		break;
	default:
		sx_error(name, "Invalid address type %u", buf[3]);
		errno = EPROTO;
		goto out;
	}
	if (sx_read(fd, buf, len + 2, &dl, name) == -1)
		goto out;
	rv = 0;
 out:
	explicit_bzero(buf, sizeof(buf));	/* errno left as it is */
	return rv;
}
