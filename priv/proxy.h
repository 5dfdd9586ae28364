/*
 * The `proxy` option of an imap/imaps section: SOCKS version 5 (RFC 1928)
 * with username/password authentication (RFC 1929).  priv parses the URI,
 * works out the CONNECT target (resolving the name itself for socks5://,
 * as the reference does) and connects to the proxy; the descriptor then
 * goes to the sandboxed net child with the target and the credentials
 * (IMSG_NET_STREAM, ipc/conf_proto.h), and the net runs the exchange
 * (net/socks5.c).  priv never reads a byte the proxy sends.
 */
#ifndef PRIV_PROXY_H
#define PRIV_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "conf_proto.h"

#define SOCKS5_DEFAULT_PORT	"1080"

/* socks5_uri_parse() results. */
#define SOCKS5_URI_OK		0
#define SOCKS5_URI_INVALID	(-1)	/* "Invalid proxy URI <uri>" */
#define SOCKS5_URI_UNSUPPORTED	(-2)	/* "Unsupported proxy protocol <s>" */

/*
 * A parsed proxy URI, SCHEME://[USER[:PASS]@]HOST[:PORT] with the
 * reference's grammar: SCHEME alphanumeric; the userinfo is any run of
 * non-control bytes and ends at the last '@' that leaves a valid
 * HOST[:PORT]; HOST is either a run of bytes other than ':' or "[...]"
 * (an IPv6 literal; the brackets are kept here and stripped, and checked,
 * when connecting); PORT is alphanumeric (a number or a service name).
 * All strings are owned by the struct: socks5_uri_free().
 */
struct socks5_uri {
	char	*scheme;	/* as written; set even for UNSUPPORTED */
	int	 remote_resolve;/* socks5h: the proxy resolves the name */
	int	 has_auth;	/* userinfo present: offer RFC 1929 */
	char	*user;		/* has_auth: "" if empty; else NULL */
	char	*pass;		/* has_auth: "" if no ':'; wiped on free */
	char	*host;		/* brackets kept, e.g. "[::1]" */
	char	*port;		/* SOCKS5_DEFAULT_PORT when absent */
};

/*
 * Parses uri into *out (which is overwritten).  Returns SOCKS5_URI_OK, or
 * SOCKS5_URI_INVALID / SOCKS5_URI_UNSUPPORTED (out->scheme is then set
 * for the message, everything else NULL); the caller logs, and always
 * calls socks5_uri_free().  Allocation failure is fatal.
 */
int	 socks5_uri_parse(const char *, struct socks5_uri *);
/* Frees the strings, wiping the password first.  NULL-safe members. */
void	 socks5_uri_free(struct socks5_uri *);
/*
 * uri as a message may show it, valid or not: whatever stands between
 * "://" (or the start) and the last '@' (a userinfo, so a password) is
 * replaced by "********".  Caller frees; allocation failure is fatal.
 */
char	*socks5_uri_redact(const char *);

/* What the CONNECT request asks the proxy to reach. */
struct socks5_target {
	uint8_t		 atyp;		/* SOCKS5_ATYP_* */
	uint8_t		 addr[255];	/* 4, 16, or the name (no NUL) */
	size_t		 addrlen;
	uint16_t	 port;		/* host byte order */
};

/*
 * Fills *t for host:port as configured.  port: digits, or a service name
 * looked up with getservbyname(3) ("Can't getservbyname <port>").  host:
 * an IP literal (bracketed or not; "[x]" must be one: "Invalid IP
 * literal: x") is sent as an address; otherwise, with remote_resolve
 * (socks5h) the name is sent as is (at most 255 bytes), else it is
 * resolved here and its first address is sent.  Returns 0, or -1 after
 * logging (log name: name).
 */
int	 socks5_target(struct socks5_target *, const char *, const char *,
	    int, const char *);

#endif
