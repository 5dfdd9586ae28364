/*
 * net/imap_conn.c, net/imap_cmd.c and net/imap_ops.c in one process,
 * against a scripted server on a socketpair and an engine on a real IPC
 * channel: the session steps, pipelining, synchronising and
 * non-synchronising literals (accepted, refused, streamed), AUTHENTICATE
 * with a continuation, COMPRESS with bytes compressed right after the OK,
 * answers in request order, streamed FETCH bodies, VANISHED, UID set
 * splitting, and the fatal ends (unknown tag, stray continuation,
 * EXPUNGE under QRESYNC, BYE then EOF, silence).  The fault classes of
 * imap_conn.h (which ends are transient: EXIT_NET_LOST), the set-up
 * phases' bounds, and stall detection against a slow but live server,
 * a big literal going out, a slow engine, an idle session and IDLE.
 * Run under the sanitizers in CI, like every unit test.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "imap_proto.h"
#include "compress.h"
#include "imap_conn.h"
#include "imap_fmt.h"
#include "imap_ops.h"
#include "tls.h"
#include "tap.h"

static struct {
	int			 srv;		/* the server's end */
	struct ipc_chan		 eng, net;	/* the engine's, net's ends */
	struct imap_conn	*c;
	struct imap_ops		*o;
	struct imap_conn_conf	 cc;
	char			 password[32];
	jmp_buf			 jb;
	int			 fatal;		/* -1: none */
	int			 closed;
	struct imap_buf		 log;		/* log lines */
	struct imap_buf		 out;		/* what the client wrote */
	struct imap_buf		 ev;		/* what the engine got */
	struct compress		 z;		/* the server's COMPRESS */
	size_t			 databytes;	/* BODY_DATA received */
	int			 zon;
	struct imap_buf		 pend;		/* server bytes to write */
	size_t			 pendoff;
	size_t			 srv_read_max;	/* per pump; 0: all */
	int			 srv_deaf;	/* the server reads nothing */
	int			 eng_deaf;	/* the engine reads nothing */
} t;

/* ---- plumbing ----------------------------------------------------------- */

static void
sink(int level, const char *name, const char *mailbox, const char *text)
{
	imap_buf_printf(&t.log, "%s%s%s%s: %s\n", name, mailbox != NULL &&
	    *mailbox != '\0' ? "(" : "", mailbox != NULL ? mailbox : "",
	    mailbox != NULL && *mailbox != '\0' ? ")" : "", text);
}

static void h_ready(void *a) { imap_ops_ready(t.o); }
static void h_untagged(void *a, const struct imap_resp *r)
{ imap_ops_untagged(t.o, r); }
static void h_body(void *a, const struct imap_event *ev)
{ imap_ops_body(t.o, ev); }
static int h_congested(void *a) { return imap_ops_congested(t.o); }
static void h_closed(void *a) { t.closed = 1; imap_ops_closed(t.o); }
static void h_fatal(void *a, int code) { t.fatal = code; longjmp(t.jb, 1); }

static const struct imap_conn_hooks hooks = {
	h_ready, h_untagged, h_body, h_congested, h_closed, h_fatal, NULL
};

/* The connection's settings; setup_start() then starts it. */
static void
setup_conf(enum imap_type type, int compress)
{
	memset(&t.cc, 0, sizeof(t.cc));
	t.cc.type = type;
	t.cc.host = "localhost";
	t.cc.auth = "PLAIN LOGIN";
	t.cc.username = "user";
	(void)strlcpy(t.password, "secret", sizeof(t.password));
	t.cc.password = t.password;
	t.cc.compress = compress;
}

static void
setup_start(void)
{
	int sv[2], ev[2];

	t.fatal = -1;
	t.closed = 0;
	t.zon = 0;
	t.pendoff = 0;
	t.srv_read_max = 0;
	t.srv_deaf = t.eng_deaf = 0;
	imap_buf_reset(&t.log);
	imap_buf_reset(&t.out);
	imap_buf_reset(&t.ev);
	imap_buf_reset(&t.pend);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ev) == -1)
		abort();
	t.srv = sv[1];
	(void)fcntl(t.srv, F_SETFL, O_NONBLOCK);
	if (ipc_chan_init(&t.net, ev[0], PROC_NET, PROC_ENGINE) == -1 ||
	    ipc_chan_init(&t.eng, ev[1], PROC_ENGINE, PROC_NET) == -1)
		abort();
	t.o = imap_ops_new(&t.net);
	t.c = imap_conn_new(&t.cc, &hooks);
	imap_ops_set_conn(t.o, t.c);
	imap_conn_start(t.c, sv[0]);
}

static void
setup(enum imap_type type, int compress)
{
	setup_conf(type, compress);
	setup_start();
}

static void
teardown(void)
{
	imap_conn_free(t.c);
	imap_ops_free(t.o);
	t.c = NULL;
	t.o = NULL;
	(void)close(t.srv);
	ipc_chan_close(&t.net);
	ipc_chan_close(&t.eng);
	if (t.zon)
		compress_free(&t.z);
	t.zon = 0;
}

/* What the server sends (deflated once the server compresses). */
static void
srv_send(const char *fmt, ...)
{
	struct compress_buf zb;
	char err[128], *s;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (t.zon) {
		compress_buf_init(&zb);
		if (compress_deflate(&t.z, s, (size_t)n, Z_SYNC_FLUSH, &zb,
		    err, sizeof(err)) == -1)
			abort();
		if (write(t.srv, zb.data + zb.off, compress_buf_pending(&zb))
		    != (ssize_t)compress_buf_pending(&zb))
			abort();
		compress_buf_free(&zb);
	} else if (write(t.srv, s, (size_t)n) != n)
		abort();
	free(s);
}

static void
srv_send_raw(const void *p, size_t n)
{
	if (write(t.srv, p, n) != (ssize_t)n)
		abort();
}

/* What the client wrote since the last call (inflated if need be). */
static void
srv_drain(void)
{
	struct compress_buf in;
	unsigned char buf[65536], out[65536];
	char err[128];
	ssize_t n, m;
	size_t want;

	if (t.srv_deaf)
		return;
	want = t.srv_read_max > 0 && t.srv_read_max < sizeof(buf) ?
	    t.srv_read_max : sizeof(buf);
	while ((n = read(t.srv, buf, want)) > 0) {
		if (!t.zon) {
			imap_buf_add(&t.out, buf, (size_t)n);
			if (t.srv_read_max > 0)
				break;
			continue;
		}
		compress_buf_init(&in);
		(void)compress_buf_add(&in, buf, (size_t)n);
		do {
			m = compress_inflate(&t.z, &in, out, sizeof(out), err,
			    sizeof(err));
			if (m > 0)
				imap_buf_add(&t.out, out, (size_t)m);
		} while (m > 0 || (m == 0 && compress_buf_pending(&in) > 0 &&
		    t.z.in_more));
		compress_buf_free(&in);
		if (t.srv_read_max > 0)
			break;
	}
}

/* Server bytes queued with srv_queue(): as many as the socket takes. */
static void
srv_flush(void)
{
	ssize_t n;

	while (t.pendoff < t.pend.len && (n = write(t.srv, t.pend.data +
	    t.pendoff, t.pend.len - t.pendoff)) > 0)
		t.pendoff += (size_t)n;
}

static void
srv_queue(const void *p, size_t n)
{
	imap_buf_add(&t.pend, p, n);
	srv_flush();
}

/* Messages the engine got, as text lines. */
static void
eng_drain(void)
{
	struct ipc_msg m;
	struct ipc_rd rd;
	const void *p;
	size_t len;
	uint32_t a, b;
	uint64_t v;
	char *s1, *s2, *s3;

	if (t.eng_deaf)
		return;
	(void)ipc_read(&t.eng);
	while (ipc_get(&t.eng, &m) == 1) {
		ipc_rd_init(&rd, &m);
		switch (m.hdr.type) {
		case IMSG_IMAP_READY:
			imap_buf_printf(&t.ev, "READY %#x\n", ipc_get_u32(&rd));
			break;
		case IMSG_IMAP_DONE:
			a = ipc_get_u32(&rd);
			b = ipc_get_u32(&rd);
			s1 = ipc_get_str(&rd);
			s2 = ipc_get_str(&rd);
			imap_buf_printf(&t.ev, "#%u DONE %u %u [%s] %s\n",
			    m.hdr.peerid, a, b, s1, s2);
			free(s1);
			free(s2);
			break;
		case IMSG_IMAP_LIST_ITEM:
			a = ipc_get_u32(&rd);
			b = ipc_get_u32(&rd);
			p = ipc_get_data(&rd, &len);
			imap_buf_printf(&t.ev, "#%u LIST %#x %c %.*s\n",
			    m.hdr.peerid, a, (int)b, (int)len,
			    (const char *)p);
			break;
		case IMSG_IMAP_FETCH_ITEM:
			(void)ipc_get_u32(&rd);
			a = ipc_get_u32(&rd);
			v = ipc_get_u64(&rd);
			b = ipc_get_u32(&rd);
			s1 = ipc_get_str(&rd);
			s2 = ipc_get_str(&rd);
			len = (size_t)ipc_get_u64(&rd);
			s3 = ipc_get_str(&rd);
			imap_buf_printf(&t.ev, "#%u FETCH uid=%u modseq=%llu "
			    "mask=%#x flags=(%s) date=%s size=%zu env=%s\n",
			    m.hdr.peerid, a, (unsigned long long)v, b, s1, s2,
			    len, s3);
			free(s1);
			free(s2);
			free(s3);
			break;
		case IMSG_IMAP_BODY_DATA:
			t.databytes += m.len;
			if (m.len <= 100)
				imap_buf_printf(&t.ev, "#%u DATA %.*s\n",
				    m.hdr.peerid, (int)m.len,
				    (const char *)m.data);
			break;
		case IMSG_IMAP_BODY_END:
			imap_buf_printf(&t.ev, "#%u END %u\n", m.hdr.peerid,
			    ipc_get_u32(&rd));
			break;
		case IMSG_IMAP_VANISHED:
			a = ipc_get_u32(&rd);
			s1 = ipc_get_str(&rd);
			imap_buf_printf(&t.ev, "#%u VANISHED %u %s\n",
			    m.hdr.peerid, a, s1);
			free(s1);
			break;
		case IMSG_IMAP_EXISTS:
			imap_buf_printf(&t.ev, "#%u EXISTS %u\n", m.hdr.peerid,
			    ipc_get_u32(&rd));
			break;
		case IMSG_IMAP_CODE:
			a = ipc_get_u32(&rd);
			v = ipc_get_u64(&rd);
			s1 = ipc_get_str(&rd);
			imap_buf_printf(&t.ev, "#%u CODE %u %llu\n",
			    m.hdr.peerid, a, (unsigned long long)v);
			free(s1);
			break;
		default:
			imap_buf_printf(&t.ev, "%s\n",
			    ipc_type_name(m.hdr.type));
			break;
		}
		ipc_msg_free(&m);
	}
}

/* Lets the net side do everything it can now. */
static void
pump(void)
{
	struct ipc_msg m;
	int i;

	for (i = 0; i < 6; i++) {
		srv_flush();
		(void)ipc_flush(&t.eng);
		(void)ipc_read(&t.net);
		while (imap_ops_accepting(t.o) && ipc_get(&t.net, &m) == 1) {
			imap_ops_request(t.o, &m);
			ipc_msg_free(&m);
		}
		imap_conn_io(t.c);
		(void)ipc_flush(&t.net);
	}
	srv_drain();
	eng_drain();
}

/* A request from the engine. */
static void
req(uint32_t type, uint32_t id, struct ipc_buf *b)
{
	if (ipc_send(&t.eng, type, id, -1, b) == -1)
		abort();
	ipc_buf_free(b);
}

static void
req_empty(uint32_t type, uint32_t id)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	req(type, id, &b);
}

static const char *
out(void)
{
	return t.out.data != NULL ? t.out.data : "";
}

static const char *
evs(void)
{
	return t.ev.data != NULL ? t.ev.data : "";
}

static const char *
logs(void)
{
	return t.log.data != NULL ? t.log.data : "";
}

static void
clear(void)
{
	imap_buf_reset(&t.out);
	imap_buf_reset(&t.ev);
}

#define CAPS	"IMAP4rev1 LITERAL+ ENABLE QRESYNC LIST-EXTENDED "	\
		"LIST-STATUS UIDPLUS MULTIAPPEND"
#define CAPS_SYNC	"IMAP4rev1 ENABLE QRESYNC LIST-EXTENDED "	\
		"LIST-STATUS UIDPLUS MULTIAPPEND"

/* PREAUTH, ENABLE: a session ready to serve the engine. */
static void
ready(const char *caps)
{
	srv_send("* PREAUTH [CAPABILITY %s] hi\r\n", caps);
	pump();
	IS_STR(out(), "000000 ENABLE QRESYNC\r\n", "ENABLE first");
	srv_send("* ENABLED QRESYNC\r\n000000 OK enabled\r\n");
	pump();
	OK(strncmp(evs(), "READY ", 6) == 0, "READY sent");
	clear();
}

/* ---- the tests ----------------------------------------------------------- */

static void
test_pipelining(void)
{
	struct ipc_buf b;

	if (setjmp(t.jb) != 0) {
		OK(0, "pipelining: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS);

	ipc_buf_init(&b);
	ipc_put_u32(&b, IMAP_LIST_RET_SUBSCRIBED | IMAP_LIST_RET_STATUS);
	ipc_put_str(&b, "");
	ipc_put_data(&b, "", 0);
	ipc_put_u32(&b, 2);
	ipc_put_data(&b, "INBOX", 5);
	ipc_put_data(&b, "a b*", 4);
	req(IMSG_IMAP_LIST, 7, &b);
	req_empty(IMSG_IMAP_NOOP, 8);
	req_empty(IMSG_IMAP_NOOP, 9);
	pump();
	IS_STR(out(), "000001 LIST \"\" (INBOX \"a b*\") RETURN (SUBSCRIBED "
	    "STATUS (UIDVALIDITY UIDNEXT HIGHESTMODSEQ))\r\n"
	    "000002 NOOP\r\n000003 NOOP\r\n",
	    "three commands written before any answer");
	IS_STR(evs(), "", "nothing answered yet");

	/* The last first: the engine still hears them in order. */
	srv_send("000003 OK third\r\n* LIST (\\Subscribed) \"/\" INBOX\r\n"
	    "000002 OK second\r\n");
	pump();
	IS_STR(evs(), "#7 LIST 0x4 / INBOX\n",
	    "untagged data goes with the oldest request; DONEs wait");
	srv_send("000001 OK first\r\n");
	pump();
	IS_STR(evs(), "#7 LIST 0x4 / INBOX\n#7 DONE 0 0 [] first\n"
	    "#8 DONE 0 0 [] second\n#9 DONE 0 0 [] third\n",
	    "DONEs in request order");
	teardown();
}

/* APPEND: MSG, DATA, END messages for one message of text. */
static void
append(uint32_t id, const char *mbox, const char *flags, const char *date,
    const char *text, size_t split)
{
	struct ipc_buf b;
	size_t len = strlen(text);

	ipc_buf_init(&b);
	ipc_put_data(&b, mbox, strlen(mbox));
	req(IMSG_IMAP_APPEND, id, &b);
	ipc_buf_init(&b);
	ipc_put_str(&b, flags);
	ipc_put_str(&b, date);
	ipc_put_u64(&b, len);
	req(IMSG_IMAP_APPEND_MSG, id, &b);
	if (split > 0 && split < len) {
		if (ipc_compose(&t.eng, IMSG_IMAP_APPEND_DATA, id, -1, text,
		    split) == -1)
			abort();
		pump();
		text += split;
		len -= split;
	}
	if (len > 0 && ipc_compose(&t.eng, IMSG_IMAP_APPEND_DATA, id, -1,
	    text, len) == -1)
		abort();
	req_empty(IMSG_IMAP_APPEND_END, id);
}

static void
test_literals(void)
{
	if (setjmp(t.jb) != 0) {
		OK(0, "literals: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}

	/* LITERAL+: written as the bytes arrive. */
	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS);
	append(1, "INBOX", "\\Seen \\Recent x", "01-Jan-2020 10:00:00 +0100",
	    "0123456789", 4);
	pump();
	IS_STR(out(), "000001 APPEND INBOX (\\Seen x) \"01-Jan-2020 10:00:00 "
	    "+0100\" {10+}\r\n0123456789\r\n",
	    "LITERAL+: {N+}, \\Recent dropped, the body streamed");
	srv_send("000001 OK [APPENDUID 42 7] done\r\n");
	pump();
	IS_STR(evs(), "#1 DONE 0 9 [42 7] [APPENDUID 42 7] done\n",
	    "APPENDUID in DONE");
	teardown();

	/* Synchronising: nothing after {N} before the "+". */
	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS_SYNC);
	append(2, "a \"q\"", "", "", "hello", 0);
	req_empty(IMSG_IMAP_NOOP, 3);
	pump();
	IS_STR(out(), "000001 APPEND \"a \\\"q\\\"\" () {5}\r\n",
	    "synchronising literal: the writer waits for \"+\"");
	clear();
	srv_send("+ go ahead\r\n");
	pump();
	IS_STR(out(), "hello\r\n000002 NOOP\r\n",
	    "after \"+\": the bytes, then the next command");
	srv_send("000001 OK appended\r\n000002 OK noop\r\n");
	pump();
	IS_STR(evs(), "#2 DONE 0 0 [] appended\n#3 DONE 0 0 [] noop\n",
	    "both answered");
	clear();

	/* Refused: the rest of the command is never sent. */
	append(4, "nosuch", "", "", "refused bytes", 0);
	req_empty(IMSG_IMAP_NOOP, 5);
	pump();
	IS_STR(out(), "000003 APPEND nosuch () {13}\r\n", "waiting again");
	srv_send("000003 NO [TRYCREATE] no such mailbox\r\n");
	pump();
	IS_STR(out(), "000003 APPEND nosuch () {13}\r\n000004 NOOP\r\n",
	    "refused literal: the next command follows, the bytes never");
	srv_send("000004 OK noop\r\n");
	pump();
	IS_STR(evs(), "#4 DONE 1 11 [] [TRYCREATE] no such mailbox\n"
	    "#5 DONE 0 0 [] noop\n", "the refusal reaches the engine");
	teardown();
}

static void
test_auth_compress(void)
{
	char err[128];
	const char *p;

	if (setjmp(t.jb) != 0) {
		OK(0, "auth: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	log_set_debug(1);
	setup(IMAP_TYPE_TUNNEL, 1);
	srv_send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n");
	pump();
	IS_STR(out(), "000000 AUTHENTICATE PLAIN\r\n",
	    "no SASL-IR: the command alone");
	OK(t.password[0] == '\0', "the password is wiped once used");
	clear();
	srv_send("+ \r\n");
	pump();
	IS_STR(out(), "AHVzZXIAc2VjcmV0\r\n", "the response after the \"+\"");
	OK(strstr(logs(), "AHVzZXIA") == NULL && strstr(logs(), "secret") ==
	    NULL, "--debug: nothing of it in the log");
	OK(strstr(logs(), "C: 000000 AUTHENTICATE PLAIN\n") != NULL,
	    "--debug: the command shown");
	clear();
	srv_send("000000 OK [CAPABILITY IMAP4rev1 ENABLE QRESYNC "
	    "LIST-EXTENDED LIST-STATUS UIDPLUS COMPRESS=DEFLATE] in\r\n");
	pump();
	/* COMPRESS waits for the session's first commands. */
	IS_STR(out(), "000001 ENABLE QRESYNC\r\n", "ENABLE, COMPRESS not yet");
	p = evs();
	OK(strncmp(p, "READY ", 6) == 0 &&
	    (strtoul(p + 6, NULL, 16) & IMAP_CAP_COMPRESSED),
	    "READY, compressed (to be)");
	clear();
	req_empty(IMSG_IMAP_NOOP, 5);
	pump();
	IS_STR(out(), "000002 NOOP\r\n000003 COMPRESS DEFLATE\r\n",
	    "COMPRESS right behind the first command, in one round trip");
	clear();
	req_empty(IMSG_IMAP_NOOP, 6);
	pump();
	IS_STR(out(), "", "nothing after COMPRESS before its answer");
	/* The answers before it plain; its OK and compressed bytes in one
	   write. */
	if (compress_init(&t.z, err, sizeof(err)) == -1)
		abort();
	srv_send("* ENABLED QRESYNC\r\n000001 OK enabled\r\n"
	    "000002 OK noop\r\n");
	srv_send_raw("000003 OK go\r\n", 14);
	t.zon = 1;
	srv_send("* OK [ALERT] compressed already\r\n");
	pump();
	OK(strstr(logs(), "[ALERT] compressed already") != NULL,
	    "bytes after the OK inflated");
	OK(strstr(evs(), "#5 DONE 0 0 [] noop\n") != NULL,
	    "the first command's answer read plain");
	IS_STR(out(), "000004 NOOP\r\n", "the held command, deflated");
	srv_send("000004 OK noop\r\n");
	pump();
	OK(strstr(evs(), "#6 DONE 0 0 [] noop\n") != NULL,
	    "and its answer inflated");
	log_set_debug(0);
	teardown();

	/* A session whose first command is LOGOUT: no COMPRESS. */
	setup(IMAP_TYPE_TUNNEL, 1);
	ready(CAPS " COMPRESS=DEFLATE");
	req_empty(IMSG_IMAP_LOGOUT, 5);
	pump();
	IS_STR(out(), "000001 LOGOUT\r\n", "LOGOUT first: no COMPRESS after it");
	teardown();

	/* A server that refuses it: the session goes on, uncompressed. */
	setup(IMAP_TYPE_TUNNEL, 1);
	ready(CAPS " COMPRESS=DEFLATE");
	req_empty(IMSG_IMAP_NOOP, 5);
	pump();
	IS_STR(out(), "000001 NOOP\r\n000002 COMPRESS DEFLATE\r\n",
	    "refused: COMPRESS behind the first command");
	clear();
	req_empty(IMSG_IMAP_NOOP, 6);
	pump();
	IS_STR(out(), "", "refused: nothing after it before its answer");
	srv_send("000001 OK noop\r\n000002 BAD not while busy\r\n");
	pump();
	IS_STR(out(), "000003 NOOP\r\n", "refused: the held command, plain");
	OK(strstr(logs(), "local: WARNING: COMPRESS DEFLATE: BAD not while "
	    "busy; going on without compression") != NULL,
	    "refused: a warning says so: %s", logs());
	srv_send("000003 OK noop\r\n");
	pump();
	OK(strstr(evs(), "#6 DONE 0 0 [] noop\n") != NULL,
	    "refused: the session goes on");
	log_set_debug(0);
	teardown();
}

static void
test_fetch(void)
{
	struct ipc_buf b;
	char set[5200];
	size_t i, n;

	if (setjmp(t.jb) != 0) {
		OK(0, "fetch: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS);
	ipc_buf_init(&b);
	ipc_put_str(&b, "1:*");
	ipc_put_u32(&b, IMAP_FETCH_FLAGS | IMAP_FETCH_BODY);
	ipc_put_u64(&b, 0);
	req(IMSG_IMAP_FETCH, 4, &b);
	pump();
	IS_STR(out(), "000001 UID FETCH 1:* (FLAGS BODY.PEEK[])\r\n",
	    "UID FETCH");
	srv_send("* 1 FETCH (UID 5 FLAGS (\\Seen \\Recent) BODY[] {10}\r\n"
	    "01234");
	pump();
	srv_send("56789 MODSEQ (9))\r\n* 2 FETCH (UID 6 BODY[] NIL)\r\n"
	    "* VANISHED (EARLIER) 1:3,7\r\n* 3 EXISTS\r\n");
	pump();
	IS_STR(evs(), "#4 FETCH uid=5 modseq=0 mask=0x2a flags=(\\Seen) "
	    "date= size=10 env=\n"
	    "#4 DATA 01234\n#4 DATA 56789\n#4 END 5\n"
	    "#4 FETCH uid=5 modseq=9 mask=0x61 flags=() date= size=0 env=\n"
	    "#4 FETCH uid=6 modseq=0 mask=0x28 flags=() date= size=0 env=\n"
	    "#4 END 6\n"
	    "#4 VANISHED 1 1:3,7\n#4 EXISTS 3\n",
	    "body streamed as it came; items after it; NIL; VANISHED");
	srv_send("000001 OK fetched\r\n");
	pump();
	clear();

	/* A set longer than 4096 bytes: two commands, one answer. */
	for (i = 0, n = 0; n < 5000; i++)
		n += (size_t)snprintf(set + n, sizeof(set) - n, "%s%zu",
		    i > 0 ? "," : "", 2 * i + 1000);
	ipc_buf_init(&b);
	ipc_put_str(&b, set);
	ipc_put_u64(&b, 12);
	ipc_put_u32(&b, IMAP_STORE_ADD);
	ipc_put_str(&b, "\\Seen foo");
	req(IMSG_IMAP_STORE, 5, &b);
	pump();
	OK(strncmp(out(), "000002 UID STORE 1000,", 22) == 0 &&
	    strstr(out(), " (UNCHANGEDSINCE 12) +FLAGS.SILENT (\\Seen foo)"
	    "\r\n000003 UID STORE ") != NULL,
	    "a long set split in two commands");
	srv_send("000002 OK [MODIFIED 1000] a\r\n000003 OK [MODIFIED 9998] b"
	    "\r\n");
	pump();
	IS_STR(evs(), "#5 DONE 0 10 [1000,9998] [MODIFIED 9998] b\n",
	    "one DONE, the MODIFIED sets of both");
	teardown();
}

/*
 * A server without QRESYNC or CONDSTORE, synced plain: no ENABLE; the
 * SELECT from the last synced state becomes SELECT, the UID list and
 * the flags of the known UIDs, reported with net's MODSEQs above the
 * state's (the server's own HIGHESTMODSEQ dropped); STORE without
 * UNCHANGEDSINCE and not silent; FETCH without MODSEQ or CHANGEDSINCE.
 */
static void
test_plain(void)
{
	struct ipc_buf b;

	if (setjmp(t.jb) != 0) {
		OK(0, "plain: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	setup(IMAP_TYPE_TUNNEL, 0);
	srv_send("* PREAUTH [CAPABILITY IMAP4rev1 ENABLE UIDPLUS "
	    "LIST-EXTENDED LIST-STATUS] hi\r\n");
	pump();
	IS_STR(out(), "", "plain: no ENABLE");
	OK(strncmp(evs(), "READY ", 6) == 0 &&
	    (strtoul(evs() + 6, NULL, 16) & (IMAP_CAP_PLAIN_SYNC |
	    IMAP_CAP_CONDSTORE_SYNC | IMAP_CAP_QRESYNC)) ==
	    (IMAP_CAP_PLAIN_SYNC | IMAP_CAP_CONDSTORE_SYNC | IMAP_CAP_QRESYNC),
	    "plain: READY with PLAIN_SYNC (%s)", evs());
	OK(strstr(logs(), "Server lacks QRESYNC and CONDSTORE: syncing with "
	    "plain IMAP4rev1") != NULL, "plain: said once (%s)", logs());
	IS_INT(imap_conn_method(t.c), IMAP_METHOD_PLAIN, "plain: the method");
	clear();

	ipc_buf_init(&b);
	ipc_put_data(&b, "INBOX", 5);
	ipc_put_u32(&b, IMAP_SEL_QRESYNC);
	ipc_put_u32(&b, 7);
	ipc_put_u64(&b, 41);
	ipc_put_str(&b, "1:5");
	ipc_put_str(&b, "");
	ipc_put_str(&b, "");
	req(IMSG_IMAP_SELECT, 3, &b);
	pump();
	IS_STR(out(), "000000 SELECT INBOX\r\n"
	    "000001 UID SEARCH UID 1:50000\r\n"
	    "000002 UID FETCH 1:5 (FLAGS)\r\n",
	    "plain: SELECT, the UID list, the known UIDs' flags");
	srv_send("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
	    "* OK [UIDNEXT 6] n\r\n* OK [HIGHESTMODSEQ 900] theirs\r\n"
	    "000000 OK [READ-WRITE] selected\r\n");
	pump();
	srv_send("* SEARCH 1 3 5\r\n000001 OK searched\r\n"
	    "* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n"
	    "* 2 FETCH (FLAGS () UID 3)\r\n"
	    "* 3 FETCH (UID 5 FLAGS (\\Flagged $X) MODSEQ (950))\r\n"
	    "000002 OK fetched\r\n");
	pump();
	IS_STR(evs(), "#3 EXISTS 3\n#3 CODE 1 7\n#3 CODE 2 6\n#3 CODE 3 42\n"
	    "#3 VANISHED 1 2,4\n"
	    "#3 FETCH uid=1 modseq=43 mask=0x23 flags=(\\Seen) date= "
	    "size=0 env=\n"
	    "#3 FETCH uid=3 modseq=44 mask=0x23 flags=() date= size=0 env=\n"
	    "#3 FETCH uid=5 modseq=45 mask=0x23 flags=($X \\Flagged) date= "
	    "size=0 env=\n"
	    "#3 DONE 0 8 [] [READ-WRITE] selected\n",
	    "plain: net's MODSEQs, the server's HIGHESTMODSEQ dropped");
	clear();

	ipc_buf_init(&b);
	ipc_put_str(&b, "3");
	ipc_put_u64(&b, 45);
	ipc_put_u32(&b, IMAP_STORE_REPLACE);
	ipc_put_str(&b, "\\Seen");
	req(IMSG_IMAP_STORE, 4, &b);
	ipc_buf_init(&b);
	ipc_put_str(&b, "5");
	ipc_put_u32(&b, IMAP_FETCH_FLAGS | IMAP_FETCH_MODSEQ);
	ipc_put_u64(&b, 45);
	req(IMSG_IMAP_FETCH, 5, &b);
	pump();
	IS_STR(out(), "000003 UID STORE 3 FLAGS (\\Seen)\r\n"
	    "000004 UID FETCH 5 (FLAGS)\r\n",
	    "plain: STORE answered with the flags, FETCH without MODSEQ");
	srv_send("* 2 FETCH (FLAGS (\\Seen))\r\n000003 OK stored\r\n"
	    "000004 OK fetched\r\n");
	pump();
	IS_STR(evs(), "#4 FETCH uid=3 modseq=46 mask=0x23 flags=(\\Seen) "
	    "date= size=0 env=\n#4 DONE 0 0 [] stored\n#5 DONE 0 0 [] "
	    "fetched\n", "plain: a FETCH without UID completed from the list");
	/* The selected mailbox's log prefix is no later test's. */
	log_set_mailbox(NULL);
	teardown();
}

/* A session that must end badly: code and message. */
static void
fatal_case(const char *what, const char *server, int eof, int code,
    const char *msg)
{
	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, code, what);
		OK(strstr(logs(), msg) != NULL, "%s: \"%s\" in %s", what, msg,
		    logs());
		teardown();
		return;
	}
	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS);
	req_empty(IMSG_IMAP_NOOP, 1);
	pump();
	srv_send("%s", server);
	if (eof)
		(void)shutdown(t.srv, SHUT_WR);
	pump();
	OK(0, "%s: did not fail", what);
	teardown();
}

static void
test_fatal(void)
{
	fatal_case("unknown tag", "999999 OK no\r\n", 0, EXIT_PANIC,
	    "local: ERROR: Protocol error: unexpected tagged response "
	    "\"999999 OK\"");
	fatal_case("stray continuation", "+ more\r\n", 0, EXIT_PANIC,
	    "unexpected continuation request");
	fatal_case("EXPUNGE", "* 3 EXPUNGE\r\n", 0, EXIT_PANIC,
	    "RFC 7162 violation!");
	fatal_case("BYE then EOF", "* BYE going away\r\n", 1, EXIT_NET_LOST,
	    "local: ERROR: Connection closed by the server: going away");
	fatal_case("garbage", "\x01\x02\r\n", 0, EXIT_PANIC,
	    "Protocol error");
	fatal_case("EOF mid-response", "* LIST () \"/\" {5}\r\nab", 1,
	    EXIT_NET_LOST, "connection closed inside a literal");
	fatal_case("EOF", "", 1, EXIT_NET_LOST,
	    "local: ERROR: Connection closed by the server (0 bytes read, "
	    "got EOF)");
	fatal_case("NOTIFICATIONOVERFLOW",
	    "* OK [NOTIFICATIONOVERFLOW] too many events\r\n", 0,
	    EXIT_NET_LOST, "local: ERROR: [NOTIFICATIONOVERFLOW] too many "
	    "events");
	fatal_case("BADEVENT", "* NO [BADEVENT (MessageNew)] not here\r\n",
	    0, EXIT_FAIL, "local: ERROR: [BADEVENT (MessageNew)] not here");
}

static void
test_logout(void)
{
	if (setjmp(t.jb) != 0) {
		OK(0, "logout: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS);
	req_empty(IMSG_IMAP_LOGOUT, 3);
	req_empty(IMSG_IMAP_NOOP, 4);
	pump();
	IS_STR(out(), "000001 LOGOUT\r\n", "LOGOUT, nothing after");
	/* No round trip for its answer: closed once it is written. */
	OK(t.closed && imap_conn_closed(t.c), "closed once LOGOUT is sent");
	IS_STR(evs(), "#3 DONE 0 0 [] \n#4 DONE 2 0 [] session closed\n",
	    "LOGOUT done; a later request refused");
	teardown();
}

static void
test_idle_notify(void)
{
	struct ipc_buf b;

	if (setjmp(t.jb) != 0) {
		OK(0, "idle: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS " NOTIFY IDLE");
	ipc_buf_init(&b);
	ipc_put_u32(&b, IMAP_NOTIFY_STATUS | IMAP_NOTIFY_PERSONAL);
	ipc_put_u32(&b, 2);
	ipc_put_data(&b, "INBOX", 5);
	ipc_put_data(&b, "a b", 3);
	req(IMSG_IMAP_NOTIFY, 1, &b);
	req_empty(IMSG_IMAP_IDLE, 2);
	pump();
	IS_STR(out(), "000001 NOTIFY SET STATUS (MAILBOXES (INBOX \"a b\") "
	    "(MessageNew MessageExpunge FlagChange)) (SELECTED (MessageNew "
	    "MessageExpunge FlagChange)) (personal (MailboxName "
	    "SubscriptionChange))\r\n000002 IDLE\r\n",
	    "NOTIFY SET as the reference words it, then IDLE");
	srv_send("000001 OK notify\r\n+ idling\r\n* 4 EXISTS\r\n");
	pump();
	IS_STR(evs(), "#1 DONE 0 0 [] notify\n#2 EXISTS 4\n",
	    "events while idling go with the IDLE");
	clear();
	req_empty(IMSG_IMAP_NOOP, 3);
	pump();
	IS_STR(out(), "DONE\r\n000003 NOOP\r\n",
	    "another request ends the IDLE first");
	srv_send("000002 OK idle over\r\n000003 OK noop\r\n");
	pump();
	IS_STR(evs(), "#2 DONE 0 0 [] idle over\n#3 DONE 0 0 [] noop\n",
	    "IDLE answered, then the NOOP");
	clear();
	req_empty(IMSG_IMAP_IDLE, 4);
	pump();
	req_empty(IMSG_IMAP_IDLE_DONE, 4);
	pump();
	IS_STR(out(), "000004 IDLE\r\n", "DONE waits for the \"+\"");
	srv_send("+ idling\r\n");
	pump();
	IS_STR(out(), "000004 IDLE\r\nDONE\r\n", "then DONE");
	teardown();
}

/*
 * The engine falls behind: parsing stops with server bytes in hand; when
 * it catches up, those bytes must be processed without waiting for the
 * socket (which has nothing new): imap_conn_input_pending() says so, and
 * net.c polls with a zero timeout then.  (A lost wake-up once hung large
 * transfers.)
 */
static void
backpressure(void)
{
	static const size_t size = 3 * 1024 * 1024;
	struct ipc_buf b;
	struct ipc_msg m;
	char *data, head[64];
	size_t len, off = 0, hlen;
	ssize_t n;
	int i, stalled = 0, resumed = 0;

	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS);
	ipc_buf_init(&b);
	ipc_put_str(&b, "1");
	ipc_put_u32(&b, IMAP_FETCH_BODY);
	ipc_put_u64(&b, 0);
	req(IMSG_IMAP_FETCH, 9, &b);
	pump();
	hlen = (size_t)snprintf(head, sizeof(head),
	    "* 1 FETCH (UID 1 BODY[] {%zu}\r\n", size);
	len = hlen + size + 22;
	if ((data = malloc(len + 1)) == NULL)
		abort();
	memcpy(data, head, hlen);
	memset(data + hlen, 'x', size);
	memcpy(data + hlen + size, ")\r\n000001 OK fetched\r\n", 23);
	t.databytes = 0;
	for (i = 0; i < 10000 && off < len; i++) {
		/* The server writes, the net works, the engine sleeps. */
		while (off < len && (n = write(t.srv, data + off,
		    len - off)) > 0)
			off += (size_t)n;
		imap_conn_io(t.c);
		(void)ipc_flush(&t.net);
		if (off < len && !stalled && imap_ops_congested(t.o)) {
			stalled = 1;
			OK(!imap_conn_input_pending(t.c),
			    "engine behind: nothing to do but wait");
			/* The engine catches up... */
			(void)ipc_read(&t.eng);
			while (ipc_get(&t.eng, &m) == 1) {
				if (m.hdr.type == IMSG_IMAP_BODY_DATA)
					t.databytes += m.len;
				ipc_msg_free(&m);
			}
			while (ipc_flush(&t.net) == 1) {
				(void)ipc_read(&t.eng);
				while (ipc_get(&t.eng, &m) == 1) {
					if (m.hdr.type ==
					    IMSG_IMAP_BODY_DATA)
						t.databytes += m.len;
					ipc_msg_free(&m);
				}
			}
			resumed = imap_conn_input_pending(t.c);
			OK(resumed, "caught up: the held bytes are work to do "
			    "now, without a socket event");
		}
		if (stalled)
			eng_drain();
	}
	OK(stalled, "the engine's pace stopped the parser");
	IS_INT(off, len, "the server could write everything");
	for (i = 0; i < 20; i++) {
		imap_conn_io(t.c);
		(void)ipc_flush(&t.net);
		eng_drain();
	}
	IS_INT(t.databytes, size, "every body byte reached the engine");
	OK(strstr(evs(), "#9 DONE 0 0 [] fetched\n") != NULL,
	    "and the FETCH's DONE");
	free(data);
	teardown();
}

static void
test_backpressure(void)
{
	if (setjmp(t.jb) != 0) {
		OK(0, "backpressure: unexpected fatal %d: %s", t.fatal,
		    logs());
		teardown();
		return;
	}
	backpressure();
}

/* ---- fault classes and timers ------------------------------------------ */

/*
 * The set-up's ends, from the greeting on: each server line is sent
 * after the client has written what the previous one called for.
 */
static const struct {
	const char	*what;
	const char	*lines[3];
	int		 eof;
	int		 code;
	const char	*msg;
} setup_faults[] = {
	{ "EOF before the greeting", { NULL }, 1, EXIT_NET_LOST,
	    "local: ERROR: Connection closed by the server (0 bytes read, "
	    "got EOF)" },
	{ "BYE greeting", { "* BYE Too many connections\r\n" }, 0,
	    EXIT_NET_LOST, "local: ERROR: Server refused the connection: "
	    "BYE Too many connections" },
	{ "EOF after LOGIN", { "* OK [CAPABILITY IMAP4rev1] hi\r\n" }, 1,
	    EXIT_NET_LOST, "local: ERROR: Connection closed by the server" },
	{ "LOGIN refused", { "* OK [CAPABILITY IMAP4rev1] hi\r\n",
	    "000000 NO [AUTHENTICATIONFAILED] wrong\r\n" }, 0, EXIT_FAIL,
	    "local: ERROR: Authentication failed: NO "
	    "[AUTHENTICATIONFAILED] wrong" },
	{ "LOGIN: the server can't check now",
	    { "* OK [CAPABILITY IMAP4rev1] hi\r\n",
	    "000000 NO [UNAVAILABLE] directory down\r\n" }, 0, EXIT_NET_LOST,
	    "local: ERROR: Authentication failed: NO [UNAVAILABLE] "
	    "directory down" },
	{ "AUTHENTICATE refused",
	    { "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", "+ \r\n",
	    "000000 NO wrong\r\n" }, 0, EXIT_FAIL,
	    "local: ERROR: Authentication failed: NO wrong" },
	{ "not IMAP4rev1", { "* OK [CAPABILITY IMAP2] hi\r\n" }, 0,
	    EXIT_FAIL, "local: ERROR: Missing IMAP4rev1 CAPABILITY." },
	{ "ENABLE refused", { "* PREAUTH [CAPABILITY " CAPS "] hi\r\n",
	    "000000 NO not today\r\n" }, 0, EXIT_FAIL,
	    "local: ERROR: ENABLE QRESYNC: NO not today" },
	{ "garbage greeting", { "\x16\x03\x01 garbage\r\n" }, 0, EXIT_PANIC,
	    "local: ERROR: Protocol error" },
};

static void
test_setup_faults(void)
{
	volatile size_t i;
	size_t j;

	for (i = 0; i < sizeof(setup_faults) / sizeof(setup_faults[0]);
	    i++) {
		if (setjmp(t.jb) != 0) {
			IS_INT(t.fatal, setup_faults[i].code,
			    setup_faults[i].what);
			OK(strstr(logs(), setup_faults[i].msg) != NULL,
			    "%s: \"%s\" in %s", setup_faults[i].what,
			    setup_faults[i].msg, logs());
			teardown();
			continue;
		}
		setup(IMAP_TYPE_TUNNEL, 0);
		for (j = 0; j < 3 && setup_faults[i].lines[j] != NULL; j++) {
			srv_send("%s", setup_faults[i].lines[j]);
			pump();
		}
		if (setup_faults[i].eof)
			(void)shutdown(t.srv, SHUT_WR);
		pump();
		OK(0, "%s: did not fail", setup_faults[i].what);
		teardown();
	}
}

/*
 * A reset: the server closes its end with our command unread in it
 * (a socketpair says ECONNRESET then, as TCP would after an RST).
 */
static void
test_reset(void)
{
	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, "reset: EXIT_NET_LOST");
		OK(strstr(logs(), "local: ERROR: read: Connection reset by "
		    "peer") != NULL, "reset: the error says so: %s", logs());
		teardown();
		return;
	}
	setup(IMAP_TYPE_TUNNEL, 0);
	ready(CAPS);
	req_empty(IMSG_IMAP_NOOP, 1);
	t.srv_deaf = 1;
	pump();
	(void)close(t.srv);
	t.srv = -1;
	pump();
	OK(0, "reset: did not fail");
	teardown();
}

/* The bound the timer tests set (imap_conn_set_timeout()). */
#define TEST_BOUND_MS	500

static int64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection with the timers shortened to TEST_BOUND_MS. */
static void
setup_timed(enum imap_type type, int compress, struct tls_ctx *tls,
    int starttls)
{
	setup_conf(type, compress);
	t.cc.tls = tls;
	t.cc.starttls = starttls;
	setup_start();
	imap_conn_set_timeout(t.c, TEST_BOUND_MS);
}

/*
 * Sleeps until the connection's timer is due, then lets it act (what
 * it does is the test's to check).  -1 if no timer was set.
 */
static int
expire(void)
{
	int ms = imap_conn_timeout(t.c);

	if (ms < 0)
		return -1;
	(void)usleep(((useconds_t)ms + 10) * 1000);
	pump();
	return ms;
}

/* Pumps every 20 ms for ms milliseconds. */
static void
run_for(int ms)
{
	int64_t end = now_ms() + ms;

	while (now_ms() < end) {
		pump();
		(void)usleep(20000);
	}
}

/*
 * A phase that must time out: the server says the lines (after each,
 * the client does what it can), then nothing; the connection must fail
 * with EXIT_NET_LOST and msg once its timer is due.
 */
static void
phase_case(const char *what, enum imap_type type, int compress, int starttls,
    const char *lines[], const char *msg)
{
	static struct tls_ctx *tls;
	struct tls_config cfg;
	char *err = NULL;
	size_t i;

	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, what);
		OK(strstr(logs(), msg) != NULL, "%s: \"%s\" in %s", what, msg,
		    logs());
		teardown();
		return;
	}
	if (type != IMAP_TYPE_TUNNEL && tls == NULL) {
		tls_config_init(&cfg);
		tls = tls_ctx_new(&cfg, &err);
		tls_config_free(&cfg);
		if (tls == NULL) {
			OK(0, "%s: tls_ctx_new: %s", what, err);
			free(err);
			return;
		}
	}
	setup_timed(type, compress, type != IMAP_TYPE_TUNNEL ? tls : NULL,
	    starttls);
	for (i = 0; lines != NULL && lines[i] != NULL; i++) {
		srv_send("%s", lines[i]);
		pump();
	}
	OK(expire() >= 0, "%s: a timer is set", what);
	OK(0, "%s: did not time out", what);
	teardown();
}

static void
test_phase_timeouts(void)
{
	static const char *capa[] = { "* OK hi\r\n", NULL };
	static const char *login[] = { "* OK [CAPABILITY IMAP4rev1] hi\r\n",
	    NULL };
	static const char *plain[] = {
	    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", NULL };
	static const char *plain_cont[] = {
	    "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n", "+ \r\n", NULL };
	static const char *starttls[] = {
	    "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n",
	    "000000 OK begin TLS\r\n", NULL };
	static const char *enable[] = {
	    "* PREAUTH [CAPABILITY " CAPS "] hi\r\n", NULL };

	phase_case("greeting", IMAP_TYPE_TUNNEL, 0, 0, NULL,
	    "local: ERROR: No greeting from the server within 500 ms");
	phase_case("imaps handshake", IMAP_TYPE_IMAPS, 0, 0, NULL,
	    "local: ERROR: TLS handshake did not complete within 500 ms");
	phase_case("STARTTLS handshake", IMAP_TYPE_IMAP, 0, 1, starttls,
	    "local: ERROR: TLS handshake did not complete within 500 ms");
	phase_case("CAPABILITY", IMAP_TYPE_TUNNEL, 0, 0, capa,
	    "local: ERROR: No answer to CAPABILITY within 500 ms");
	phase_case("LOGIN", IMAP_TYPE_TUNNEL, 0, 0, login,
	    "local: ERROR: No answer to LOGIN within 500 ms");
	phase_case("AUTHENTICATE, no \"+\"", IMAP_TYPE_TUNNEL, 0, 0, plain,
	    "local: ERROR: No answer to AUTHENTICATE PLAIN within 500 ms");
	phase_case("AUTHENTICATE, after the \"+\"", IMAP_TYPE_TUNNEL, 0, 0,
	    plain_cont,
	    "local: ERROR: No answer to AUTHENTICATE PLAIN within 500 ms");
	/*
	 * ENABLE is not waited for (the session is ready once it is sent):
	 * its missing answer is the ready session's dead-peer timer; so is
	 * COMPRESS's, sent behind the session's first commands
	 * (test_auth_compress).
	 */
	phase_case("ENABLE", IMAP_TYPE_TUNNEL, 0, 0, enable,
	    "local: ERROR: The server sent nothing for 500 ms while an "
	    "answer was due");
}

/*
 * A phase's bound holds however the bytes trickle (a byte every 50 ms
 * would keep an inactivity timer happy forever); and each phase has a
 * bound of its own (a set-up of three phases, each well within it, may
 * take longer than one bound in all).
 */
static void
test_phase_bounds(void)
{
	static const char greeting[] = "* PREAUTH [CAPABILITY " CAPS "] a "
	    "greeting long enough to take a while\r\n";
	int64_t start;
	size_t i;

	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, "trickled greeting");
		OK(strstr(logs(), "No greeting from the server within 500 ms")
		    != NULL, "trickled greeting: timed out: %s", logs());
		teardown();
		goto phases;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	for (i = 0; i < sizeof(greeting) - 1; i++) {
		srv_send_raw(greeting + i, 1);
		pump();
		(void)usleep(50000);
	}
	OK(0, "trickled greeting: %zu bytes over %zu ms, no timeout", i,
	    i * 50);
	teardown();

phases:
	if (setjmp(t.jb) != 0) {
		OK(0, "three quick phases: unexpected fatal %d: %s", t.fatal,
		    logs());
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	start = now_ms();
	run_for(TEST_BOUND_MS / 2);
	srv_send("* OK [CAPABILITY IMAP4rev1] hi\r\n");
	run_for(TEST_BOUND_MS / 2);
	IS_STR(out(), "000000 LOGIN user secret\r\n",
	    "LOGIN after the greeting");
	srv_send("000000 OK in\r\n");
	run_for(TEST_BOUND_MS / 2);
	srv_send("* CAPABILITY " CAPS "\r\n000001 OK done\r\n");
	run_for(TEST_BOUND_MS / 2);
	srv_send("* ENABLED QRESYNC\r\n000002 OK enabled\r\n");
	pump();
	OK(imap_conn_ready(t.c), "three quick phases: ready after %lld ms "
	    "in all, more than one bound", (long long)(now_ms() - start));
	teardown();
}

/* FETCH 1 BODY[] (request 4). */
static void
req_fetch_body(void)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_str(&b, "1");
	ipc_put_u32(&b, IMAP_FETCH_BODY);
	ipc_put_u64(&b, 0);
	req(IMSG_IMAP_FETCH, 4, &b);
}

/* The server stops in the middle of a FETCH response. */
static void
test_stall(void)
{
	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, "stall mid-FETCH");
		OK(strstr(logs(), "local: ERROR: The server sent nothing for "
		    "500 ms while an answer was due") != NULL,
		    "stall mid-FETCH: the error says so: %s", logs());
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	req_fetch_body();
	pump();
	srv_send("* 1 FETCH (UID 5 BODY[] {10}\r\n01234");
	pump();
	OK(expire() >= 0, "stall mid-FETCH: a timer is set");
	OK(0, "stall mid-FETCH: no timeout");
	teardown();
}

/*
 * The server reads what we send but answers nothing: new commands going
 * out (the engine's own probes, say) do not make up for the answer due
 * to the first.
 */
static void
test_stall_busy(void)
{
	volatile uint32_t id = 1;
	int64_t start;

	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, "stall under new commands");
		OK(strstr(logs(), "while an answer was due") != NULL,
		    "stall under new commands: %s", logs());
		OK(id > 3, "stall under new commands: %u commands written",
		    (unsigned)id);
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	start = now_ms();
	/* A NOOP every 100 ms, all read by the server, none answered. */
	while (now_ms() - start < 20 * TEST_BOUND_MS) {
		req_empty(IMSG_IMAP_NOOP, id++);
		pump();
		(void)usleep(100000);
	}
	OK(0, "stall under new commands: no timeout");
	teardown();
}

/* A slow but live server: the answer comes a few bytes at a time. */
static void
test_slow_server(void)
{
	static const char resp[] = "* 1 FETCH (UID 5 BODY[] {40}\r\n"
	    "0123456789012345678901234567890123456789)\r\n000001 OK done\r\n";
	int64_t start;
	size_t i;

	if (setjmp(t.jb) != 0) {
		OK(0, "slow server: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	req_fetch_body();
	pump();
	start = now_ms();
	for (i = 0; i < sizeof(resp) - 1; i += 3) {
		srv_send_raw(resp + i, sizeof(resp) - 1 - i < 3 ?
		    sizeof(resp) - 1 - i : 3);
		pump();
		(void)usleep(40000);
	}
	pump();
	OK(strstr(evs(), "#4 DONE 0 0 [] done\n") != NULL,
	    "slow server: the FETCH answered after %lld ms, no timeout",
	    (long long)(now_ms() - start));
	OK(now_ms() - start > TEST_BOUND_MS, "slow server: longer than the "
	    "bound in all");
	teardown();
}

/* APPEND of size bytes of 'x' as request 1, in chunks of at most 60000. */
static void
append_big(size_t size, size_t chunk)
{
	static char buf[60000];
	struct ipc_buf b;
	size_t n;

	memset(buf, 'x', sizeof(buf));
	ipc_buf_init(&b);
	ipc_put_data(&b, "INBOX", 5);
	req(IMSG_IMAP_APPEND, 1, &b);
	ipc_buf_init(&b);
	ipc_put_str(&b, "");
	ipc_put_str(&b, "");
	ipc_put_u64(&b, size);
	req(IMSG_IMAP_APPEND_MSG, 1, &b);
	for (; size > 0; size -= n) {
		n = size < chunk ? size : chunk;
		if (ipc_compose(&t.eng, IMSG_IMAP_APPEND_DATA, 1, -1, buf,
		    n) == -1)
			abort();
	}
	req_empty(IMSG_IMAP_APPEND_END, 1);
}

/*
 * A big literal going out to a server that reads it slowly: bytes move,
 * no stall; then one that stops reading it: "took none of our data".
 */
static void
test_big_literal(void)
{
	static const size_t size = 2 * 1024 * 1024;
	int64_t start;
	size_t before;

	if (setjmp(t.jb) != 0) {
		OK(0, "big literal: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		goto deaf;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	append_big(size, 60000);
	t.srv_read_max = 16384;
	start = now_ms();
	do {
		before = t.out.len;
		pump();
		(void)usleep(10000);
	} while (t.out.len < size || t.out.len != before);
	OK(t.out.len > size, "big literal: all of it read, slowly, in %lld "
	    "ms", (long long)(now_ms() - start));
	OK(now_ms() - start > TEST_BOUND_MS, "big literal: longer than the "
	    "bound in all");
	srv_send("000001 OK [APPENDUID 42 7] done\r\n");
	pump();
	OK(strstr(evs(), "#1 DONE 0 9 [42 7]") != NULL,
	    "big literal: APPEND answered, no timeout");
	teardown();

deaf:
	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, "deaf server");
		OK(strstr(logs(), "local: ERROR: The server took none of our "
		    "data for 500 ms") != NULL, "deaf server: the error says "
		    "so: %s", logs());
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	append_big(size, 60000);
	t.srv_deaf = 1;
	pump();
	pump();
	OK(imap_conn_queued(t.c) > 0, "deaf server: our output waits");
	OK(expire() >= 0, "deaf server: a timer is set");
	OK(0, "deaf server: no timeout");
	teardown();
}

/*
 * The engine streams an APPEND slowly: the command is not all out, the
 * server owes nothing, no timer runs.
 */
static void
test_slow_engine_append(void)
{
	static char chunk[1000];
	struct ipc_buf b;
	int64_t start;
	volatile int timers = 0;
	int i;

	if (setjmp(t.jb) != 0) {
		OK(0, "slow engine: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	memset(chunk, 'y', sizeof(chunk));
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	ipc_buf_init(&b);
	ipc_put_data(&b, "INBOX", 5);
	req(IMSG_IMAP_APPEND, 1, &b);
	ipc_buf_init(&b);
	ipc_put_str(&b, "");
	ipc_put_str(&b, "");
	ipc_put_u64(&b, 20 * sizeof(chunk));
	req(IMSG_IMAP_APPEND_MSG, 1, &b);
	start = now_ms();
	for (i = 0; i < 20; i++) {
		if (ipc_compose(&t.eng, IMSG_IMAP_APPEND_DATA, 1, -1, chunk,
		    sizeof(chunk)) == -1)
			abort();
		pump();
		if (imap_conn_timeout(t.c) != -1)
			timers++;
		(void)usleep(50000);
	}
	IS_INT(timers, 0, "slow engine: no timer while the APPEND waits for "
	    "its bytes");
	req_empty(IMSG_IMAP_APPEND_END, 1);
	pump();
	OK(imap_conn_timeout(t.c) >= 0, "slow engine: all out, the answer "
	    "is due: a timer");
	srv_send("000001 OK [APPENDUID 42 7] done\r\n");
	pump();
	OK(strstr(evs(), "#1 DONE 0 9 [42 7]") != NULL,
	    "slow engine: APPEND done after %lld ms, no timeout",
	    (long long)(now_ms() - start));
	teardown();
}

/* The server's FETCH answer of UID 1 with a body of size 'x's, queued. */
static void
srv_queue_body(size_t size)
{
	char head[64], *data;
	size_t hlen;

	hlen = (size_t)snprintf(head, sizeof(head),
	    "* 1 FETCH (UID 1 BODY[] {%zu}\r\n", size);
	if ((data = malloc(size)) == NULL)
		abort();
	memset(data, 'x', size);
	srv_queue(head, hlen);
	srv_queue(data, size);
	free(data);
}

/*
 * The engine behind: the net stops reading a big FETCH; the server
 * waits for us, which is no stall however long it lasts.
 */
static void
test_engine_behind(void)
{
	static const size_t size = 3 * 1024 * 1024;

	if (setjmp(t.jb) != 0) {
		OK(0, "engine behind: unexpected fatal %d: %s", t.fatal,
		    logs());
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	req_fetch_body();
	pump();
	t.eng_deaf = 1;
	srv_queue_body(size);
	srv_queue(")\r\n000001 OK fetched\r\n", 22);
	run_for(3 * TEST_BOUND_MS);
	OK(imap_ops_congested(t.o), "engine behind: the net stopped reading");
	OK(t.pendoff < t.pend.len, "engine behind: the server waits to write");
	t.eng_deaf = 0;
	t.databytes = 0;
	while (t.pendoff < t.pend.len || strstr(evs(), "#4 DONE") == NULL)
		pump();
	IS_INT(t.databytes, size, "engine behind: every byte once it caught "
	    "up");
	OK(strstr(evs(), "#4 DONE 0 0 [] fetched\n") != NULL,
	    "engine behind: the FETCH done, no timeout");
	teardown();
}

/*
 * The engine behind and the server not reading either: each waits for
 * the other, and the net has nothing to do but wait for the socket to
 * take more.  The server's unread answer must not wake its poll(2): a
 * net that asks for POLLIN there gets it at once, again and again.
 */
static void
test_congested_poll(void)
{
	static const size_t size = 3 * 1024 * 1024;
	struct pollfd pfd;
	int unread = 0;

	if (setjmp(t.jb) != 0) {
		OK(0, "both wait: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	req_fetch_body();
	pump();
	t.eng_deaf = 1;
	t.srv_deaf = 1;
	srv_queue_body(size);
	append_big(size, 60000);
	pump();
	pump();
	OK(imap_ops_congested(t.o), "both wait: the net stopped reading");
	OK(imap_conn_queued(t.c) > 0, "both wait: our output waits");
	if (ioctl(imap_conn_fd(t.c), FIONREAD, &unread) == -1)
		unread = -1;
	OK(unread > 0, "both wait: the server's answer sits unread (%d "
	    "bytes)", unread);
	pfd.fd = imap_conn_fd(t.c);
	pfd.events = imap_conn_events(t.c);
	pfd.revents = 0;
	OK((pfd.events & POLLIN) == 0, "both wait: no POLLIN asked for");
	OK((pfd.events & POLLOUT) != 0, "both wait: POLLOUT asked for");
	IS_INT(poll(&pfd, 1, 0), 0, "both wait: poll(2) has nothing to say");
	OK(imap_conn_input_pending(t.c) == 0, "both wait: nothing held to "
	    "parse now");
	teardown();
}

/*
 * The server says why it goes (a BYE) and closes while our APPEND is
 * still going out: the next write fails before anything is read.  The
 * error is the server's reason, not our write's "Broken pipe"; without
 * a BYE, it is the end of the connection.
 */
static void
gone_case(const char *bye, const char *want)
{
	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, "gone mid-APPEND: transient");
		OK(strstr(logs(), want) != NULL, "gone mid-APPEND: the error "
		    "says \"%s\": %s", want, logs());
		OK(strstr(logs(), "Broken pipe") == NULL, "gone mid-APPEND: "
		    "not our write's error");
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	append_big(3 * 1024 * 1024, 60000);
	t.srv_deaf = 1;
	pump();
	OK(imap_conn_queued(t.c) > 0, "gone mid-APPEND: our APPEND waits");
	if (bye != NULL)
		srv_send("* BYE %s\r\n", bye);
	(void)close(t.srv);
	t.srv = -1;
	pump();
	OK(0, "gone mid-APPEND: no error");
	teardown();
}

static void
test_gone_mid_append(void)
{
	gone_case("Server shutting down.", "local: ERROR: Connection "
	    "closed by the server: Server shutting down.");
	/* Unread bytes at the close: a reset (unix(7) as TCP). */
	gone_case(NULL, "local: ERROR: read: Connection reset by peer");
}

/*
 * Idle with nothing in flight: no stall, only our probe, which a live
 * server answers; a dead one does not, and that is a stall.
 */
static void
test_idle_probe(void)
{
	int i;

	if (setjmp(t.jb) != 0) {
		OK(0, "idle: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		goto dead;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	for (i = 1; i <= 3; i++) {
		OK(expire() >= 0, "idle: a timer (the probe) %d", i);
		IS_STR(out(), i == 1 ? "000001 NOOP\r\n" : i == 2 ?
		    "000002 NOOP\r\n" : "000003 NOOP\r\n", "idle: our NOOP");
		srv_send("%s OK still here\r\n", i == 1 ? "000001" : i == 2 ?
		    "000002" : "000003");
		pump();
		clear();
	}
	IS_STR(evs(), "", "idle: the probes are not the engine's business");
	OK(t.fatal == -1, "idle: three probe intervals, no timeout");
	teardown();

dead:
	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, "probe unanswered");
		OK(strstr(logs(), "local: ERROR: The server sent nothing for "
		    "500 ms while an answer was due") != NULL,
		    "probe unanswered: a stall: %s", logs());
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS);
	OK(expire() >= 0, "probe unanswered: the probe's timer");
	IS_STR(out(), "000001 NOOP\r\n", "probe unanswered: our NOOP");
	OK(expire() >= 0, "probe unanswered: its answer's timer");
	OK(0, "probe unanswered: no timeout");
	teardown();
}

/*
 * IDLE waits for events as long as it takes: no timer once the "+"
 * came; before it, and once DONE is out, an answer is due.
 */
static void
test_idle_command(void)
{
	if (setjmp(t.jb) != 0) {
		OK(0, "IDLE: unexpected fatal %d: %s", t.fatal, logs());
		teardown();
		goto silent;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS " IDLE");
	req_empty(IMSG_IMAP_IDLE, 2);
	pump();
	IS_STR(out(), "000001 IDLE\r\n", "IDLE sent");
	OK(imap_conn_timeout(t.c) >= 0, "IDLE: its \"+\" is due: a timer");
	srv_send("+ idling\r\n");
	pump();
	IS_INT(imap_conn_timeout(t.c), -1, "IDLE: idling, no timer at all");
	run_for(3 * TEST_BOUND_MS);
	srv_send("* 3 EXISTS\r\n");
	run_for(3 * TEST_BOUND_MS);
	IS_STR(evs(), "#2 EXISTS 3\n", "IDLE: an event after a long wait");
	req_empty(IMSG_IMAP_IDLE_DONE, 2);
	pump();
	OK(imap_conn_timeout(t.c) >= 0, "IDLE: DONE out, the answer is due: "
	    "a timer");
	srv_send("000001 OK idle over\r\n");
	pump();
	OK(strstr(evs(), "#2 DONE 0 0 [] idle over\n") != NULL,
	    "IDLE: over, no timeout");
	teardown();

silent:
	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_NET_LOST, "IDLE without \"+\"");
		OK(strstr(logs(), "while an answer was due") != NULL,
		    "IDLE without \"+\": a stall: %s", logs());
		teardown();
		return;
	}
	setup_timed(IMAP_TYPE_TUNNEL, 0, NULL, 0);
	ready(CAPS " IDLE");
	req_empty(IMSG_IMAP_IDLE, 2);
	pump();
	OK(expire() >= 0, "IDLE without \"+\": a timer");
	OK(0, "IDLE without \"+\": no timeout");
	teardown();
}

int
main(void)
{
	log_set_sink(sink);
	log_set_name("local");
	imap_buf_init(&t.log);
	imap_buf_init(&t.out);
	imap_buf_init(&t.ev);
	imap_buf_init(&t.pend);

	test_pipelining();
	test_literals();
	test_auth_compress();
	test_fetch();
	test_plain();
	test_fatal();
	test_logout();
	test_idle_notify();
	test_backpressure();
	test_setup_faults();
	test_reset();
	test_phase_timeouts();
	test_phase_bounds();
	test_stall();
	test_stall_busy();
	test_slow_server();
	test_big_literal();
	test_slow_engine_append();
	test_engine_behind();
	test_congested_poll();
	test_gone_mid_append();
	test_idle_probe();
	test_idle_command();

	imap_buf_free(&t.log);
	imap_buf_free(&t.out);
	imap_buf_free(&t.ev);
	imap_buf_free(&t.pend);
	log_set_mailbox(NULL);
	return tap_done();
}
