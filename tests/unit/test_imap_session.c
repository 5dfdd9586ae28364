/*
 * net/imap_conn.c, net/imap_cmd.c and net/imap_ops.c in one process,
 * against a scripted server on a socketpair and an engine on a real IPC
 * channel: the session steps, pipelining, synchronising and
 * non-synchronising literals (accepted, refused, streamed), AUTHENTICATE
 * with a continuation, COMPRESS with bytes compressed right after the OK,
 * answers in request order, streamed FETCH bodies, VANISHED, UID set
 * splitting, and the fatal ends (unknown tag, stray continuation,
 * EXPUNGE under QRESYNC, BYE then EOF, silence).  Run under the
 * sanitizers in CI, like every unit test.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "imap_proto.h"
#include "compress.h"
#include "imap_conn.h"
#include "imap_fmt.h"
#include "imap_ops.h"
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

static void
setup(enum imap_type type, int compress)
{
	int sv[2], ev[2];

	memset(&t.cc, 0, sizeof(t.cc));
	t.cc.type = type;
	t.cc.host = "localhost";
	t.cc.auth = "PLAIN LOGIN";
	t.cc.username = "user";
	(void)strlcpy(t.password, "secret", sizeof(t.password));
	t.cc.password = t.password;
	t.cc.compress = compress;
	t.fatal = -1;
	t.closed = 0;
	t.zon = 0;
	imap_buf_reset(&t.log);
	imap_buf_reset(&t.out);
	imap_buf_reset(&t.ev);
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

	while ((n = read(t.srv, buf, sizeof(buf))) > 0) {
		if (!t.zon) {
			imap_buf_add(&t.out, buf, (size_t)n);
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
	}
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
	IS_STR(out(), "000001 COMPRESS DEFLATE\r\n", "COMPRESS asked for");
	clear();
	/* The OK and the first compressed bytes in one write. */
	if (compress_init(&t.z, err, sizeof(err)) == -1)
		abort();
	srv_send_raw("000001 OK go\r\n", 14);
	t.zon = 1;
	srv_send("* OK [ALERT] compressed already\r\n");
	pump();
	OK(strstr(logs(), "[ALERT] compressed already") != NULL,
	    "bytes after the OK inflated");
	IS_STR(out(), "000002 ENABLE QRESYNC\r\n", "ENABLE, deflated");
	srv_send("* ENABLED QRESYNC\r\n000002 OK enabled\r\n");
	pump();
	p = evs();
	OK(strncmp(p, "READY ", 6) == 0 &&
	    (strtoul(p + 6, NULL, 16) & IMAP_CAP_COMPRESSED),
	    "READY, compressed");
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
	fatal_case("BYE then EOF", "* BYE going away\r\n", 1, EXIT_FAIL,
	    "local: ERROR: Connection closed by the server: going away");
	fatal_case("garbage", "\x01\x02\r\n", 0, EXIT_PANIC,
	    "Protocol error");
	fatal_case("EOF mid-response", "* LIST () \"/\" {5}\r\nab", 1,
	    EXIT_FAIL, "connection closed inside a literal");
	fatal_case("EOF", "", 1, EXIT_FAIL,
	    "local: ERROR: Connection closed by the server (0 bytes read, "
	    "got EOF)");
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
	srv_send("* BYE bye\r\n000001 OK out\r\n");
	pump();
	OK(t.closed && imap_conn_closed(t.c), "closed after LOGOUT's OK");
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

static void
test_timeout(void)
{
	if (setjmp(t.jb) != 0) {
		IS_INT(t.fatal, EXIT_FAIL, "silence: EXIT_FAIL");
		OK(strstr(logs(), "local: ERROR: Connection timed out") !=
		    NULL, "silence: timed out");
		teardown();
		return;
	}
	setenv(IMAP_ENV_TEST_TIMEOUT, "1", 1);
	setup(IMAP_TYPE_TUNNEL, 0);
	unsetenv(IMAP_ENV_TEST_TIMEOUT);
	pump();
	OK(imap_conn_timeout(t.c) >= 0 && imap_conn_timeout(t.c) <= 1000,
	    "a timer while waiting for the greeting");
	sleep(2);
	pump();
	OK(0, "silence: no timeout");
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

	test_pipelining();
	test_literals();
	test_auth_compress();
	test_fetch();
	test_fatal();
	test_logout();
	test_idle_notify();
	test_backpressure();
	test_timeout();

	imap_buf_free(&t.log);
	imap_buf_free(&t.out);
	imap_buf_free(&t.ev);
	log_set_mailbox(NULL);
	return tap_done();
}
