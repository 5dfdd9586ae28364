/*
 * The SOCKS5 exchange (RFC 1928, with RFC 1929 username/password
 * authentication), in the net child: priv connects to the proxy and
 * passes the socket with what to ask (IMSG_NET_STREAM, ipc/conf_proto.h);
 * the net offers its methods, authenticates if the proxy asks, sends
 * CONNECT and reads the reply here, before TLS and IMAP start on the same
 * socket.  So the proxy's bytes are parsed in the sandbox, never in priv.
 *
 * The proxy is not trusted more than the server behind it: every reply
 * is read with exact, bounded lengths (nothing past the CONNECT reply is
 * consumed, so an IMAP greeting that follows it stays in the socket) and
 * every field is checked before use.  Non-blocking: the net's loop polls
 * socks5_events() and calls socks5_io(), so that priv's IMSG_SHUTDOWN
 * (a ^C) ends a wait for a silent proxy at once.
 */
#ifndef NET_SOCKS5_H
#define NET_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

/* What to ask the proxy: owned by the struct socks5 it is given to. */
struct socks5_req {
	uint8_t		 atyp;		/* SOCKS5_ATYP_* (conf_proto.h) */
	uint8_t		 addr[255];	/* 4, 16, or the name (no NUL) */
	size_t		 addrlen;
	uint16_t	 port;		/* host byte order */
	char		*user;		/* NULL: offer no authentication */
	char		*pass;		/* with user; wiped when done */
};

struct socks5 {
	int		 state;		/* SX_* (socks5.c) */
	struct socks5_req req;
	unsigned char	 buf[520];	/* one message: out, or in */
	size_t		 len;		/* bytes to send or to read */
	size_t		 off;		/* sent or read so far */
	int64_t		 deadline;	/* CLOCK_MONOTONIC, ms */
	char		 err[160];	/* after a failure */
	int		 transient;	/* it may go away by itself */
};

/*
 * Starts the exchange: s takes req over (req's strings are then s's,
 * wiped and freed by socks5_clear()); the whole exchange must end within
 * timeout_ms.
 */
void	 socks5_init(struct socks5 *, struct socks5_req *, int);
/* POLLIN or POLLOUT: what socks5_io() waits for on the socket. */
short	 socks5_events(const struct socks5 *);
/* Milliseconds until the deadline (0 when past). */
int	 socks5_timeout(const struct socks5 *);
/*
 * Moves the exchange on the socket fd as far as it goes without
 * blocking.  Returns 1 (done: fd carries the stream to the server), 0
 * (call again when socks5_events() says so, or at socks5_timeout()), or
 * -1: s->err holds the reason, for "SOCKSv5 ERROR: <err>": one of the
 * reference's texts ("Invalid protocol", "Authentication failed", "No
 * acceptable authentication methods", the eight reply texts) or ours
 * ("0 bytes read (got EOF)", "read: <strerror>", "write: <strerror>",
 * "Unknown reply code N", "Invalid address type N", "Username or password
 * too long"); s->transient says whether trying again later makes sense
 * (the connection broke or stalled, or the proxy could not reach the
 * server), not for a proxy that refuses us or breaks the protocol.
 */
int	 socks5_io(struct socks5 *, int);
/* Wipes and frees what s holds. */
void	 socks5_clear(struct socks5 *);

/*
 * The whole exchange, waiting with poll(2) (tests and
 * tests/unit/connect_probe.c): socks5_init(), socks5_io() until done;
 * the result of the last socks5_io(), s cleared except err and transient.
 */
int	 socks5_run(struct socks5 *, int, struct socks5_req *, int);

/* The text for a CONNECT reply code 1..8; NULL otherwise. */
const char *socks5_reply_text(unsigned int);

#endif
