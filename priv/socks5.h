/*
 * SOCKS version 5 (RFC 1928) with username/password authentication
 * (RFC 1929): the `proxy` option of an imap/imaps section.  priv parses
 * the URI, connects to the proxy and runs the whole negotiation before the
 * descriptor goes to the sandboxed net child, which then only ever sees a
 * stream to the IMAP server.
 *
 * The proxy is not trusted more than the server behind it: every reply is
 * read with exact, bounded lengths (nothing past the CONNECT reply is
 * consumed, so an IMAP greeting that follows it stays in the socket) and
 * every field is checked before use.
 */
#ifndef PRIV_SOCKS5_H
#define PRIV_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

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

/* Address types (RFC 1928 section 5). */
#define SOCKS5_ATYP_IPV4	0x01
#define SOCKS5_ATYP_DOMAIN	0x03
#define SOCKS5_ATYP_IPV6	0x04

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

/*
 * Runs the negotiation on the connected socket fd: method selection
 * (no authentication, plus username/password when uri->has_auth),
 * RFC 1929 authentication if the proxy picks it, then CONNECT to *t, and
 * reads the whole reply (the bound address is discarded).  Each step waits
 * at most until timeout_ms after the call.  fd's blocking mode is left
 * alone (socket calls use MSG_DONTWAIT after poll(2)).  Buffers that held
 * the password are wiped.
 *
 * Returns 0 with fd ready to carry the proxied stream, or -1 after
 * logging "SOCKSv5 ERROR: <text>" with name as log name, where text is
 * one of the reference's ("Invalid protocol", "Authentication failed",
 * "No acceptable authentication methods", the eight reply texts) or ours
 * for what the reference did not handle ("0 bytes read (got EOF)",
 * "read: <strerror>", "write: <strerror>", "Unknown reply code N",
 * "Invalid address type N", "Username or password too long").
 * errno then says what kind of failure it was (connect.h classifies it):
 * the I/O error (ECONNRESET for EOF, ETIMEDOUT, EINTR when
 * connect_aborted()), the CONNECT reply's socks5_reply_errno(), EACCES
 * for a refused authentication, EPROTO for a proxy that breaks the
 * protocol, EINVAL for credentials too long to send.
 */
int	 socks5_handshake(int, const struct socks5_uri *,
	    const struct socks5_target *, int, const char *);

/* The text for a CONNECT reply code 1..8; NULL otherwise. */
const char	*socks5_reply_text(unsigned int);
/*
 * The errno that stands for a CONNECT reply code: the proxy could not
 * reach the server (ENETUNREACH, EHOSTUNREACH, ECONNREFUSED, ETIMEDOUT;
 * ECONNABORTED for a general failure) or would not (EACCES; EPROTO for
 * the rest).
 */
int		 socks5_reply_errno(unsigned int);

#endif
