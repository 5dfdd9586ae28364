/*
 * The `proxy` option: the SOCKS5 proxy URI, and the CONNECT target the
 * net child will ask the proxy for (see proxy.h).  Nothing here reads
 * from the network: the exchange with the proxy is net/socks5.c's.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "conf_proto.h"
#include "connect.h"
#include "proxy.h"

static int	 sx_isalnum(unsigned char);
static int	 sx_iscntrl(unsigned char);
static int	 sx_alnum_run(const char *, size_t);
static int	 sx_hostport(const char *, size_t, size_t *, const char **,
		    size_t *);
static char	*sx_strndup(const char *, size_t);

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
