/*
 * net/socks5.c: the SOCKS5 exchange the net child runs with a proxy priv
 * has connected to.  Scripted proxies (a socketpair preloaded with the
 * reply) give the reference's replies and messages, and hostile ones:
 * malformed, oversized, trickled, stalled; each is refused with a clear
 * error, nothing past the CONNECT reply is consumed, and the exchange
 * never blocks (the net's loop keeps serving priv meanwhile).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "conf_proto.h"
#include "socks5.h"

#define BS(s)	(const unsigned char *)(s), (sizeof(s) - 1)

static size_t
drain(int fd, unsigned char *buf, size_t size)
{
	size_t	len = 0;
	ssize_t	n;

	while (len < size &&
	    (n = recv(fd, buf + len, size - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	return len;
}

/* 127.0.0.1:143 */
static void
target_v4(struct socks5_req *t)
{
	memset(t, 0, sizeof(*t));
	t->atyp = SOCKS5_ATYP_IPV4;
	memcpy(t->addr, "\x7f\x00\x00\x01", 4);
	t->addrlen = 4;
	t->port = 143;
}

/* ------------------------------------------------------------------ */
/* The exchange against scripted proxies (the reference's messages) */

#define REQ_V4	"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x8f"
#define OK_V4	"\x05\x00\x00\x01\x0a\x00\x00\x01\x04\x38"
#define GREET	"* OK IMAP ready\r\n"

struct sx_case {
	const char		*desc;
	const char		*user;	/* NULL: no userinfo */
	const char		*pass;
	const unsigned char	*reply;
	size_t			 replylen;
	int			 peer;	/* 0 open, 1 EOF after reply, 2 gone */
	int			 rv;
	const char		*log;	/* after "local: SOCKSv5 ERROR: " */
	const unsigned char	*sent;	/* NULL: not checked */
	size_t			 sentlen;
	const char		*after;	/* left in the stream */
};

/* The request for t, offering user and pass (copies) if user is set. */
static void
sx_req(struct socks5_req *r, const struct socks5_req *t, const char *user,
    const char *pass)
{
	*r = *t;
	r->user = user != NULL ? strdup(user) : NULL;
	r->pass = user != NULL ? strdup(pass != NULL ? pass : "") : NULL;
}

/*
 * Runs one negotiation; returns -1 if it succeeded, else whether the
 * failure is a transient one.
 */
static int
sx_run(const struct sx_case *c, const struct socks5_req *t)
{
	struct socks5		 s;
	struct socks5_req	 r;
	unsigned char		 buf[2048];
	size_t			 n;
	int			 sv[2], rv, transient;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		OK(0, "socketpair");
		return -2;
	}
	if (c->replylen > 0 &&
	    write(sv[1], c->reply, c->replylen) != (ssize_t)c->replylen)
		OK(0, "preload");
	if (c->peer == 1)
		shutdown(sv[1], SHUT_WR);
	if (c->peer == 2) {
		close(sv[1]);
		sv[1] = -1;
	}
	sx_req(&r, t, c->user, c->pass);
	rv = socks5_run(&s, sv[0], &r, 300) == 1 ? 0 : -1;
	transient = rv == -1 ? s.transient : -1;
	IS_INT(rv, c->rv, c->desc);
	if (c->log != NULL)
		IS_STR(s.err, c->log, "error message");
	if (c->sent != NULL && sv[1] != -1) {
		n = drain(sv[1], buf, sizeof(buf));
		OK(n == c->sentlen && memcmp(buf, c->sent, n) == 0,
		    "%s: bytes sent (%zu, want %zu)", c->desc, n, c->sentlen);
	}
	if (c->after != NULL) {
		n = drain(sv[0], buf, sizeof(buf) - 1);
		buf[n] = '\0';
		IS_STR((char *)buf, c->after, "stream after the negotiation");
	}
	close(sv[0]);
	if (sv[1] != -1)
		close(sv[1]);
	return transient;
}

/*
 * Which failures --watch tries again: the proxy's connection breaking
 * or stalling, not a proxy that refuses us or breaks the protocol.
 */
static int
sx_want_transient(const char *log)
{
	if (log == NULL)
		return -1;
	return strcmp(log, "0 bytes read (got EOF)") == 0 ||
	    strcmp(log, "read: Connection timed out") == 0 ||
	    strcmp(log, "write: Broken pipe") == 0;
}

static void
test_handshake(void)
{
	static unsigned char	huge[4 + 1 + 255 + 2 + 2 + sizeof(GREET)];
	static const char	*replies[] = { NULL,
	    "general SOCKS server failure",
	    "connection not allowed by ruleset", "network unreachable",
	    "host unreachable", "connection refused", "TTL expired",
	    "command not supported", "address type not supported" };
	const struct sx_case	 cases[] = {
		{ "no auth", NULL, NULL, BS("\x05\x00" OK_V4 GREET), 0, 0,
		    NULL, BS("\x05\x01\x00" REQ_V4), GREET },
		{ "user/pass", "user", "pass",
		    BS("\x05\x02\x01\x00" OK_V4 GREET), 0, 0, NULL,
		    BS("\x05\x02\x02\x00\x01\x04user\x04pass" REQ_V4), GREET },
		{ "creds offered, none needed", "user", "pass",
		    BS("\x05\x00" OK_V4), 0, 0, NULL,
		    BS("\x05\x02\x02\x00" REQ_V4), "" },
		{ "empty user and password", "", "",
		    BS("\x05\x02\x01\x00" OK_V4), 0, 0, NULL,
		    BS("\x05\x02\x02\x00\x01\x00\x00" REQ_V4), "" },
		{ "auth failed", "user", "bad",
		    BS("\x05\x02\x01\x01"), 0, -1, "Authentication failed",
		    NULL, 0, NULL },
		{ "auth reply version", "user", "pass",
		    BS("\x05\x02\x05\x00"), 0, -1, "Invalid protocol",
		    NULL, 0, NULL },
		{ "no acceptable method", NULL, NULL, BS("\x05\xff"), 0, -1,
		    "No acceptable authentication methods", NULL, 0, NULL },
		{ "user/pass picked but not offered", NULL, NULL,
		    BS("\x05\x02"), 0, -1,
		    "No acceptable authentication methods", NULL, 0, NULL },
		{ "GSSAPI picked", "u", "p", BS("\x05\x01"), 0, -1,
		    "No acceptable authentication methods", NULL, 0, NULL },
		{ "method reply version", NULL, NULL, BS("\x04\x00"), 0, -1,
		    "Invalid protocol", NULL, 0, NULL },
		{ "reply version", NULL, NULL,
		    BS("\x05\x00\x04\x00\x00\x01"), 0, -1, "Invalid protocol",
		    NULL, 0, NULL },
		{ "reply RSV", NULL, NULL, BS("\x05\x00\x05\x00\x01\x01"), 0,
		    -1, "Invalid protocol", NULL, 0, NULL },
		{ "reply code 9", NULL, NULL, BS("\x05\x00\x05\x09\x00\x01"),
		    0, -1, "Unknown reply code 9", NULL, 0, NULL },
		{ "reply code 255", NULL, NULL,
		    BS("\x05\x00\x05\xff\x00\x01"), 0, -1,
		    "Unknown reply code 255", NULL, 0, NULL },
		{ "bad ATYP", NULL, NULL, BS("\x05\x00\x05\x00\x00\x02"), 0,
		    -1, "Invalid address type 2", NULL, 0, NULL },
		{ "ATYP 0", NULL, NULL, BS("\x05\x00\x05\x00\x00\x00"), 0,
		    -1, "Invalid address type 0", NULL, 0, NULL },
		{ "IPv6 bound address", NULL, NULL,
		    BS("\x05\x00\x05\x00\x00\x04" "0123456789abcdef" "\x01\x02"
		    GREET), 0, 0, NULL, NULL, 0, GREET },
		{ "domain bound address", NULL, NULL,
		    BS("\x05\x00\x05\x00\x00\x03\x0b" "example.org" "\x01\x02"
		    GREET), 0, 0, NULL, NULL, 0, GREET },
		{ "empty domain bound address", NULL, NULL,
		    BS("\x05\x00\x05\x00\x00\x03\x00\x01\x02" GREET), 0, 0,
		    NULL, NULL, 0, GREET },
		{ "huge domain, truncated", NULL, NULL,
		    BS("\x05\x00\x05\x00\x00\x03\xff" "0123456789"), 1, -1,
		    "0 bytes read (got EOF)", NULL, 0, NULL },
		{ "huge domain, stalled", NULL, NULL,
		    BS("\x05\x00\x05\x00\x00\x03\xff" "0123456789"), 0, -1,
		    "read: Connection timed out", NULL, 0, NULL },
		{ "nothing, EOF", NULL, NULL, BS(""), 1, -1,
		    "0 bytes read (got EOF)", BS("\x05\x01\x00"), NULL },
		{ "one byte, EOF", NULL, NULL, BS("\x05"), 1, -1,
		    "0 bytes read (got EOF)", NULL, 0, NULL },
		{ "EOF before CONNECT reply", NULL, NULL, BS("\x05\x00"), 1,
		    -1, "0 bytes read (got EOF)", BS("\x05\x01\x00" REQ_V4),
		    NULL },
		{ "short CONNECT reply, EOF", NULL, NULL,
		    BS("\x05\x00\x05\x00\x00\x01\x7f\x00"), 1, -1,
		    "0 bytes read (got EOF)", NULL, 0, NULL },
		{ "stalled", NULL, NULL, BS("\x05"), 0, -1,
		    "read: Connection timed out", NULL, 0, NULL },
		{ "proxy gone", NULL, NULL, BS(""), 2, -1,
		    "write: Broken pipe", NULL, 0, NULL },
	};
	struct socks5_req	 t, tdom;
	struct sx_case		 c;
	char			 longuser[300], desc[64];
	unsigned char		 reply[64];
	size_t			 i, n;

	target_v4(&t);
	memset(&tdom, 0, sizeof(tdom));
	tdom.atyp = SOCKS5_ATYP_DOMAIN;
	memcpy(tdom.addr, "imap.example.org", 16);
	tdom.addrlen = 16;
	tdom.port = 993;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		IS_INT(sx_run(&cases[i], &t), sx_want_transient(cases[i].log),
		    "transient failure (errno)");

	/* Every reply code of RFC 1928. */
	for (i = 1; i <= 8; i++) {
		memcpy(reply, "\x05\x00\x05\x00\x00\x01", 6);
		reply[3] = (unsigned char)i;
		(void)snprintf(desc, sizeof(desc), "reply code %zu", i);
		memset(&c, 0, sizeof(c));
		c.desc = desc;
		c.reply = reply;
		c.replylen = 6;
		c.rv = -1;
		c.log = replies[i];
		/* The proxy could not reach the server: it may later. */
		IS_INT(sx_run(&c, &t), i == 1 || (i >= 3 && i <= 6),
		    "reply code: transient failure");
		IS_STR(socks5_reply_text((unsigned int)i), replies[i],
		    "reply text");
	}
	OK(socks5_reply_text(0) == NULL && socks5_reply_text(9) == NULL,
	    "no text for 0 and 9");

	/* A domain-name target (socks5h). */
	memset(&c, 0, sizeof(c));
	c.desc = "socks5h CONNECT";
	c.reply = (const unsigned char *)"\x05\x00" OK_V4;
	c.replylen = 2 + 10;
	c.sent = (const unsigned char *)"\x05\x01\x00"
	    "\x05\x01\x00\x03\x10imap.example.org\x03\xe1";
	c.sentlen = 3 + 5 + 16 + 2;
	c.after = "";
	sx_run(&c, &tdom);

	/* The largest bound address: 255 bytes of name, all consumed. */
	n = 0;
	memcpy(huge, "\x05\x00\x05\x00\x00\x03\xff", 7);
	n = 7;
	memset(huge + n, 'x', 255);
	n += 255;
	memcpy(huge + n, "\x01\x02" GREET, 2 + sizeof(GREET) - 1);
	n += 2 + sizeof(GREET) - 1;
	memset(&c, 0, sizeof(c));
	c.desc = "255-byte bound name";
	c.reply = huge;
	c.replylen = n;
	c.after = GREET;
	sx_run(&c, &t);

	/* RFC 1929 fields are one byte long. */
	memset(longuser, 'u', 256);
	longuser[256] = '\0';
	memset(&c, 0, sizeof(c));
	c.desc = "user name too long";
	c.user = longuser;
	c.pass = "pw";
	c.reply = (const unsigned char *)"\x05\x02";
	c.replylen = 2;
	c.rv = -1;
	c.log = "Username or password too long";
	c.sent = (const unsigned char *)"\x05\x02\x02\x00";
	c.sentlen = 4;
	sx_run(&c, &t);
}


/* ------------------------------------------------------------------ */
/* Hostile proxies */

static void
test_hostile(void)
{
	static unsigned char	 big[1 << 20];
	struct socks5		 s;
	struct socks5_req	 t, r;
	struct timespec		 t0, t1;
	unsigned char		 buf[64];
	size_t			 n;
	ssize_t			 w;
	long			 ms;
	int			 sv[2], rv, i;

	target_v4(&t);

	/*
	 * Oversized: a good method reply, then 1 MB of junk where the
	 * CONNECT reply should be.  Refused at its first four bytes; the
	 * rest is left in the socket, never read.
	 */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	n = 256 * 1024;		/* what the socket takes at once */
	memcpy(big, "\x05\x00", 2);
	memset(big + 2, 'A', sizeof(big) - 2);
	(void)fcntl(sv[1], F_SETFL, O_NONBLOCK);
	w = write(sv[1], big, n);
	OK(w > 4, "oversized: %zd bytes preloaded", w);
	sx_req(&r, &t, NULL, NULL);
	IS_INT(socks5_run(&s, sv[0], &r, 1000), -1, "oversized reply");
	IS_STR(s.err, "Invalid protocol", "oversized: message");
	IS_INT(s.transient, 0, "oversized: not transient");
	n = drain(sv[0], big, sizeof(big));
	IS_INT((long)n, (long)w - 6, "oversized: only 2 + 4 bytes consumed");
	close(sv[0]);
	close(sv[1]);

	/* A reply code past RFC 1928's, with a long tail. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	memcpy(big, "\x05\x00\x05\x9b\x00\x03\xff", 7);
	memset(big + 7, 0x9b, 4096);
	(void)!write(sv[1], big, 7 + 4096);
	sx_req(&r, &t, NULL, NULL);
	IS_INT(socks5_run(&s, sv[0], &r, 1000), -1, "reply code 0x9b");
	IS_STR(s.err, "Unknown reply code 155", "reply code 0x9b: message");
	close(sv[0]);
	close(sv[1]);

	/* A bound name announced 255 bytes long, 254 sent, then EOF. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	memcpy(big, "\x05\x00\x05\x00\x00\x03\xff", 7);
	memset(big + 7, 'x', 254);
	(void)!write(sv[1], big, 7 + 254);
	shutdown(sv[1], SHUT_WR);
	sx_req(&r, &t, NULL, NULL);
	IS_INT(socks5_run(&s, sv[0], &r, 1000), -1, "short bound name");
	IS_STR(s.err, "0 bytes read (got EOF)", "short bound name: message");
	close(sv[0]);
	close(sv[1]);

	/*
	 * Non-blocking: with nothing from the proxy, socks5_io() returns at
	 * once, waiting for POLLIN; bytes trickled one at a time move it
	 * on; the deadline holds for a trickle too.
	 */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	sx_req(&r, &t, "u", "secret");
	socks5_init(&s, &r, 400);
	OK(r.user == NULL && r.pass == NULL, "the request's strings moved");
	IS_INT(socks5_events(&s), POLLOUT, "first, the methods go out");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	IS_INT(socks5_io(&s, sv[0]), 0, "nothing to read: not done");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	OK(ms < 100, "socks5_io() does not block (%ld ms)", ms);
	IS_INT(socks5_events(&s), POLLIN, "then it waits to read");
	n = drain(sv[1], buf, sizeof(buf));
	OK(n == 4 && memcmp(buf, "\x05\x02\x02\x00", 4) == 0,
	    "methods: user/pass, none");
	(void)!write(sv[1], "\x05", 1);
	IS_INT(socks5_io(&s, sv[0]), 0, "one byte of two");
	(void)!write(sv[1], "\x02", 1);
	IS_INT(socks5_io(&s, sv[0]), 0, "method chosen, auth sent");
	n = drain(sv[1], buf, sizeof(buf));
	OK(n == 10 && memcmp(buf, "\x01\x01u\x06secret", 10) == 0,
	    "RFC 1929 request");
	(void)!write(sv[1], "\x01\x00", 2);
	IS_INT(socks5_io(&s, sv[0]), 0, "authenticated, CONNECT sent");
	n = drain(sv[1], buf, sizeof(buf));
	OK(n == 10 && memcmp(buf, "\x05\x01\x00\x01\x7f\x00\x00\x01"
	    "\x00\x8f", 10) == 0, "CONNECT request");
	(void)!write(sv[1], "\x05\x00\x00\x03\xff", 5);
	rv = 0;
	for (i = 0; i < 40 && rv == 0; i++) {
		(void)!write(sv[1], "x", 1);
		usleep(50 * 1000);
		rv = socks5_io(&s, sv[0]);
	}
	IS_INT(rv, -1, "a trickle past the deadline");
	IS_STR(s.err, "read: Connection timed out", "trickle: message");
	IS_INT(s.transient, 1, "trickle: transient");
	OK(i >= 6 && i <= 12, "trickle: ended at the deadline (%d bytes)", i);
	socks5_clear(&s);
	close(sv[0]);
	close(sv[1]);

	/* Odd requests never reach the wire. */
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	sx_req(&r, &t, NULL, NULL);
	r.addrlen = 5;
	IS_INT(socks5_run(&s, sv[0], &r, 300), -1, "IPv4 of 5 bytes");
	IS_STR(s.err, "bad request", "bad request: message");
	IS_INT((long)drain(sv[1], buf, sizeof(buf)), 0, "bad request: "
	    "nothing sent");
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_handshake();
	test_hostile();
	return tap_done();
}
