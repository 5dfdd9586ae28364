/*
 * The IPC library: framing under partial and batched I/O, the catalogue's
 * checks on both ends, descriptor passing, the payload helpers, a full
 * socket buffer, and the logging client's IMSG_LOG.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "tap.h"

/* ipc.c's first read buffer (IPC_RBUF_MIN there). */
#define IPC_RBUF_MIN_TEST	(16 * 1024)

static void	pair(int [2]);
static void	chans(struct ipc_chan *, uint32_t, struct ipc_chan *, uint32_t);
static void	raw_frame(int, uint32_t, uint32_t, const void *, size_t);
static void	raw_bytes_fd(int, const void *, size_t, int);
static void	raw_frame_fd(int, uint32_t, uint32_t, const void *, size_t,
		    int);
static int	fd_open(int);
static void	test_catalogue(void);
static void	test_roundtrip(void);
static void	test_partial(void);
static void	test_batch(void);
static void	test_oversize(void);
static void	test_broken_read(void);
static void	test_unknown(void);
static void	test_direction(void);
static void	test_length(void);
static void	test_eof(void);
static void	test_fd(void);
static void	test_fd_rules(void);
static void	test_pack(void);
static void	test_eagain(void);
static void	test_sync(void);
static void	expect_log(struct ipc_chan *, int, const char *, const char *,
		    const char *, const char *);
static void	test_log(void);

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		exit(1);
	}
}

/* a is kind ka talking to b of kind kb. */
static void
chans(struct ipc_chan *a, uint32_t ka, struct ipc_chan *b, uint32_t kb)
{
	int sv[2];

	pair(sv);
	if (ipc_chan_init(a, sv[0], ka, kb) == -1 ||
	    ipc_chan_init(b, sv[1], kb, ka) == -1) {
		fprintf(stderr, "ipc_chan_init: %s\n", a->err);
		exit(1);
	}
}

/* Writes a frame by hand, bypassing ipc_compose()'s checks. */
static void
raw_frame(int fd, uint32_t type, uint32_t len, const void *data, size_t n)
{
	struct ipc_hdr hdr = { type, len, 0, (uint32_t)getpid() };

	if (write(fd, &hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    (n > 0 && write(fd, data, n) != (ssize_t)n)) {
		perror("write");
		exit(1);
	}
}

/* Sends bytes with a descriptor attached, in one sendmsg(). */
static void
raw_bytes_fd(int sock, const void *data, size_t n, int fd)
{
	union {
		struct cmsghdr	hdr;
		unsigned char	buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *cm;

	memset(&msg, 0, sizeof(msg));
	memset(&cmsgbuf, 0, sizeof(cmsgbuf));
	iov.iov_base = (void *)(uintptr_t)data;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != (ssize_t)n) {
		perror("sendmsg");
		exit(1);
	}
}

/* A whole frame with a descriptor attached to its first byte. */
static void
raw_frame_fd(int sock, uint32_t type, uint32_t len, const void *data,
    size_t n, int fd)
{
	struct ipc_hdr hdr = { type, len, 0, (uint32_t)getpid() };
	unsigned char frame[IPC_HDR_SIZE + 64];

	if (n > 64)
		exit(1);
	memcpy(frame, &hdr, sizeof(hdr));
	memcpy(frame + IPC_HDR_SIZE, data, n);
	raw_bytes_fd(sock, frame, IPC_HDR_SIZE + n, fd);
}

static int
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static void
test_catalogue(void)
{
	const struct ipc_catalogue_entry *e, *f;
	uint32_t t, u;
	int sane = 1, named = 1, unique = 1;

	OK(ipc_catalogue(IMSG_NONE) == NULL, "IMSG_NONE is not a message");
	OK(ipc_catalogue(IMSG_MAX) == NULL, "IMSG_MAX is not a message");
	OK(ipc_catalogue(0xffffffffU) == NULL, "huge type unknown");
	for (t = 1; t < IMSG_MAX; t++) {
		e = ipc_catalogue(t);
		if (e == NULL || e->name == NULL ||
		    strncmp(e->name, "IMSG_", 5) != 0 ||
		    strcmp(ipc_type_name(t), e->name) != 0) {
			named = 0;
			continue;
		}
		if (e->minlen > e->maxlen || e->maxlen > IPC_MAX_PAYLOAD ||
		    e->from == 0 || e->to == 0 || (e->from & ~PROC_ANY) ||
		    (e->to & ~PROC_ANY))
			sane = 0;
		for (u = 1; u < t; u++)
			if ((f = ipc_catalogue(u)) != NULL &&
			    strcmp(f->name, e->name) == 0)
				unique = 0;
	}
	OK(named, "every type has its IMSG_ name");
	OK(sane, "every type has sane bounds and directions");
	OK(unique, "names are unique");
	IS_STR(ipc_type_name(IMSG_LOG), "IMSG_LOG", "name of IMSG_LOG");
	IS_STR(ipc_type_name(IMSG_NET_STREAM), "IMSG_NET_STREAM",
	    "name of IMSG_NET_STREAM");
	IS_STR(ipc_type_name(9999), "IMSG_#9999", "name of an unknown type");
	IS_STR(ipc_type_name(0), "IMSG_#0", "name of type 0");
	IS_INT(ipc_type_fd(IMSG_NET_STREAM), IPC_FDOPT_MUST,
	    "IMSG_NET_STREAM carries a descriptor");
	IS_INT(ipc_type_fd(IMSG_LOG), IPC_FDOPT_NONE, "IMSG_LOG carries none");
	IS_INT(ipc_type_fd(9999), IPC_FDOPT_NONE, "unknown type carries none");
	IS_STR(ipc_side_name(SIDE_LOCAL), "local", "side local");
	IS_STR(ipc_side_name(SIDE_REMOTE), "remote", "side remote");
	IS_STR(ipc_side_name(SIDE_NONE), "", "side none");
	IS_STR(ipc_side_name(7), "", "side unknown");
}

static void
test_roundtrip(void)
{
	struct ipc_chan p, n;
	struct ipc_msg m;
	unsigned char conf[12] = "abcdefghijk";

	chans(&p, PROC_PRIV, &n, PROC_NET);
	IS_INT(ipc_compose(&p, IMSG_NET_CONF, SIDE_REMOTE, -1, conf,
	    sizeof(conf)), 0, "compose IMSG_NET_CONF");
	IS_INT(ipc_compose(&p, IMSG_SHUTDOWN, 42, -1, NULL, 0), 0,
	    "compose empty IMSG_SHUTDOWN");
	IS_INT(ipc_pending(&p), 2 * IPC_HDR_SIZE + 12, "bytes pending");
	IS_INT(ipc_flush(&p), 0, "flush");
	IS_INT(ipc_pending(&p), 0, "nothing pending");
	IS_INT(ipc_get(&n, &m), 0, "nothing before a read");
	OK(ipc_read(&n) == 2 * IPC_HDR_SIZE + 12, "read both frames");
	IS_INT(ipc_get(&n, &m), 1, "get first");
	IS_INT(m.hdr.type, IMSG_NET_CONF, "type");
	IS_INT(m.hdr.len, 12, "hdr.len");
	IS_INT(m.len, 12, "len");
	IS_INT(m.hdr.peerid, SIDE_REMOTE, "peerid");
	IS_INT(m.hdr.pid, getpid(), "pid stamped");
	IS_INT(m.fd, -1, "no descriptor");
	OK(m.data != NULL && memcmp(m.data, conf, 12) == 0, "payload");
	ipc_msg_free(&m);
	IS_INT(ipc_get(&n, &m), 1, "get second");
	IS_INT(m.hdr.type, IMSG_SHUTDOWN, "second type");
	IS_INT(m.hdr.peerid, 42, "second peerid");
	IS_INT(m.len, 0, "empty payload");
	ipc_msg_free(&m);
	IS_INT(ipc_get(&n, &m), 0, "then nothing");
	errno = 0;
	OK(ipc_read(&n) == -1 && errno == EAGAIN, "read: EAGAIN when empty");
	ipc_chan_close(&p);
	IS_INT(ipc_read(&n), 0, "EOF after the peer closed");
	IS_INT(ipc_get_sync(&n, &m), 0, "get_sync: clean EOF");
	ipc_chan_close(&n);
}

/* A frame arriving one byte at a time is handed out only when complete. */
static void
test_partial(void)
{
	struct ipc_chan c;
	struct ipc_msg m;
	struct ipc_hdr hdr = { IMSG_CHILD_READY, 4, SIDE_NONE, 1234 };
	unsigned char frame[IPC_HDR_SIZE + 4 + IPC_HDR_SIZE];
	uint32_t v = IPC_CATALOGUE_VERSION;
	int sv[2], early = 0, wrong = 0;
	size_t i;

	memcpy(frame, &hdr, sizeof(hdr));
	memcpy(frame + IPC_HDR_SIZE, &v, 4);
	hdr.type = IMSG_LOG;		/* then a second frame's header */
	hdr.len = 16;
	memcpy(frame + IPC_HDR_SIZE + 4, &hdr, sizeof(hdr));

	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_PRIV, PROC_ENGINE);
	for (i = 0; i < IPC_HDR_SIZE + 4 - 1; i++) {
		if (write(sv[0], frame + i, 1) != 1 || ipc_read(&c) != 1)
			wrong = 1;
		if (ipc_get(&c, &m) != 0)
			early = 1;
	}
	OK(!wrong, "one byte per read");
	OK(!early, "nothing handed out before the frame is complete");
	OK(write(sv[0], frame + i, 1) == 1 && ipc_read(&c) == 1, "last byte");
	IS_INT(ipc_get(&c, &m), 1, "complete frame handed out");
	IS_INT(m.hdr.type, IMSG_CHILD_READY, "its type");
	IS_INT(m.hdr.pid, 1234, "its pid");
	OK(m.len == 4 && memcmp(m.data, &v, 4) == 0, "its payload");
	ipc_msg_free(&m);
	/* The next header, in two pieces. */
	OK(write(sv[0], frame + IPC_HDR_SIZE + 4, 7) == 7 && ipc_read(&c) == 7,
	    "part of the next header");
	IS_INT(ipc_get(&c, &m), 0, "partial header: need more");
	OK(write(sv[0], frame + IPC_HDR_SIZE + 11, 9) == 9 &&
	    ipc_read(&c) == 9, "rest of the header");
	IS_INT(ipc_get(&c, &m), 0, "header without payload: need more");
	close(sv[0]);
	IS_INT(ipc_read(&c), 0, "EOF");
	IS_INT(ipc_get(&c, &m), 0, "still incomplete after EOF");
	IS_INT(ipc_get_sync(&c, &m), -1, "get_sync: EOF inside a frame");
	OK(c.err[0] != '\0', "err set: %s", c.err);
	ipc_chan_close(&c);
}

/* Many frames in one read. */
static void
test_batch(void)
{
	struct ipc_chan e, p;
	struct ipc_msg m;
	struct ipc_buf b;
	struct ipc_rd rd;
	char text[32], *s;
	int i, bad = 0, got = 0, total, first;
	ssize_t n;

	chans(&e, PROC_ENGINE, &p, PROC_PRIV);
	ipc_buf_init(&b);
	for (i = 0; i < 500; i++) {
		ipc_put_u32(&b, LOG_LVL_INFO);
		ipc_put_str(&b, "engine");
		ipc_put_str(&b, NULL);
		(void)snprintf(text, sizeof(text), "line %d", i);
		ipc_put_str(&b, text);
		if (ipc_send(&e, IMSG_LOG, SIDE_NONE, -1, &b) != 0)
			bad = 1;
	}
	ipc_buf_free(&b);
	OK(!bad, "500 messages queued");
	total = ipc_pending(&e);
	IS_INT(ipc_flush(&e), 0, "flushed");
	OK(total > 16000, "%d bytes sent", total);
	first = -1;
	for (i = 0; got < 500;) {
		if ((n = ipc_read(&p)) <= 0)
			break;
		while (ipc_get(&p, &m) == 1) {
			ipc_rd_init(&rd, &m);
			(void)ipc_get_u32(&rd);
			free(ipc_get_str(&rd));
			free(ipc_get_str(&rd));
			s = ipc_get_str(&rd);
			(void)snprintf(text, sizeof(text), "line %d", got);
			if (ipc_rd_end(&rd) != 0 || s == NULL ||
			    strcmp(s, text) != 0)
				bad = 1;
			free(s);
			ipc_msg_free(&m);
			got++;
		}
		if (first == -1)
			first = got;
		i++;
	}
	OK(first >= 100, "%d messages out of the first read", first);
	OK(i < 10, "%d reads in all", i);
	IS_INT(got, 500, "all messages, in order");
	OK(!bad, "payloads intact");
	ipc_chan_close(&e);
	ipc_chan_close(&p);
}

/* A header announcing too much is refused before any payload arrives. */
static void
test_oversize(void)
{
	static const uint32_t lens[] = { IPC_MAX_PAYLOAD + 1, 0x7fffffffU,
	    0xffffffffU };
	struct ipc_chan c;
	struct ipc_msg m;
	int sv[2];
	size_t i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		pair(sv);
		ipc_chan_init(&c, sv[1], PROC_PRIV, PROC_NET);
		raw_frame(sv[0], IMSG_LOG, lens[i], NULL, 0);
		OK(ipc_read(&c) == IPC_HDR_SIZE, "header read");
		IS_INT(ipc_get(&c, &m), -1, "oversized header rejected");
		OK(strstr(c.err, "oversized") != NULL, "err: %s", c.err);
		(void)ipc_read(&c);
		OK(c.rcap < IPC_MAX_PAYLOAD, "no buffer sized from it (%zu)",
		    c.rcap);
		IS_INT(ipc_get(&c, &m), -1, "and the channel stays refused");
		close(sv[0]);
		ipc_chan_close(&c);
	}
}

/*
 * A peer that goes on writing after breaking the rules: whoever keeps
 * reading (priv draining a child's last words) must not buffer it all.
 */
static void
test_broken_read(void)
{
	static unsigned char junk[65536];
	struct ipc_chan c;
	struct ipc_msg m;
	ssize_t w;
	size_t total = 0;
	int sv[2], i, refused = 0;
	uint32_t v = 1;

	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_PRIV, PROC_NET);
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	raw_frame(sv[0], 0xdead, 4, &v, 4);
	(void)ipc_read(&c);
	IS_INT(ipc_get(&c, &m), -1, "broken by an unknown type");
	for (i = 0; i < 64; i++) {
		while ((w = write(sv[0], junk, sizeof(junk))) > 0)
			total += (size_t)w;
		while (ipc_read(&c) > 0)
			;
		if (errno == EPROTO)
			refused++;
	}
	OK(total > 0, "the peer wrote on (%zu bytes)", total);
	OK(c.rcap <= 2 * IPC_RBUF_MIN_TEST, "read buffer stays small (%zu)",
	    c.rcap);
	OK(refused > 0, "reads on a broken channel are refused (EPROTO)");
	IS_INT(ipc_get(&c, &m), -1, "and it stays broken");
	close(sv[0]);
	ipc_chan_close(&c);
}

static void
test_unknown(void)
{
	static const uint32_t types[] = { IMSG_NONE, IMSG_MAX, 9999,
	    0xffffffffU };
	struct ipc_chan c;
	struct ipc_msg m;
	int sv[2];
	size_t i;
	uint32_t v = 1;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		pair(sv);
		ipc_chan_init(&c, sv[1], PROC_PRIV, PROC_NET);
		raw_frame(sv[0], types[i], 4, &v, 4);
		(void)ipc_read(&c);
		IS_INT(ipc_get(&c, &m), -1, "unknown type rejected");
		OK(strstr(c.err, "unknown") != NULL, "err: %s", c.err);
		close(sv[0]);
		ipc_chan_close(&c);
	}
	/* Garbage: a valid frame, then 16 random-looking bytes. */
	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_PRIV, PROC_NET);
	raw_frame(sv[0], IMSG_CHILD_READY, 4, &v, 4);
	OK(write(sv[0], "\x01\x02\x03\x04\xfe\xff\x00\x00garbage!", 16) == 16,
	    "garbage written");
	(void)ipc_read(&c);
	IS_INT(ipc_get(&c, &m), 1, "frame before the garbage");
	ipc_msg_free(&m);
	IS_INT(ipc_get(&c, &m), -1, "garbage header rejected");
	IS_INT(ipc_get(&c, &m), -1, "nothing after an error");
	close(sv[0]);
	ipc_chan_close(&c);
}

struct dir_case {
	uint32_t	self, peer, type;
	size_t		len;
	int		ok;
};

static void
test_direction(void)
{
	static const struct dir_case cases[] = {
		{ PROC_NET, PROC_PRIV, IMSG_LOG, 16, 1 },
		{ PROC_ENGINE, PROC_PRIV, IMSG_LOG, 16, 1 },
		{ PROC_PRIV, PROC_NET, IMSG_LOG, 16, 0 },
		{ PROC_ENGINE, PROC_NET, IMSG_LOG, 16, 0 },
		{ PROC_PRIV, PROC_NET, IMSG_NET_CONF, 12, 1 },
		{ PROC_PRIV, PROC_ENGINE, IMSG_NET_CONF, 12, 0 },
		{ PROC_NET, PROC_PRIV, IMSG_NET_CONF, 12, 0 },
		{ PROC_NET, PROC_PRIV, IMSG_NET_STATS, 32, 1 },
		{ PROC_ENGINE, PROC_PRIV, IMSG_NET_STATS, 32, 0 },
		{ PROC_NET, PROC_ENGINE, IMSG_IMAP_READY, 12, 1 },
		{ PROC_ENGINE, PROC_NET, IMSG_IMAP_READY, 12, 0 },
		{ PROC_PRIV, PROC_ENGINE, IMSG_ENGINE_CONF, 12, 1 },
		{ PROC_PRIV, PROC_NET, IMSG_ENGINE_CONF, 12, 0 },
		{ PROC_ENGINE, PROC_PRIV, IMSG_ENGINE_DONE, 4, 1 },
		{ PROC_NET, PROC_PRIV, IMSG_ENGINE_DONE, 4, 0 },
		{ PROC_PRIV, PROC_NET, IMSG_SHUTDOWN, 0, 1 },
		{ PROC_NET, PROC_ENGINE, IMSG_SHUTDOWN, 0, 0 },
	};
	unsigned char buf[64];
	struct ipc_chan a, b, c;
	struct ipc_msg m;
	size_t i;
	int sv[2];

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* compose checks self -> peer */
		chans(&a, cases[i].self, &b, cases[i].peer);
		IS_INT(ipc_compose(&a, cases[i].type, 0, -1, buf,
		    cases[i].len), cases[i].ok ? 0 : -1, ipc_type_name(
		    cases[i].type));
		ipc_chan_close(&a);
		ipc_chan_close(&b);
		/* get checks peer -> self, whatever the sender claims */
		pair(sv);
		ipc_chan_init(&c, sv[1], cases[i].peer, cases[i].self);
		raw_frame(sv[0], cases[i].type, (uint32_t)cases[i].len, buf,
		    cases[i].len);
		(void)ipc_read(&c);
		IS_INT(ipc_get(&c, &m), cases[i].ok ? 1 : -1,
		    ipc_type_name(cases[i].type));
		ipc_msg_free(&m);
		close(sv[0]);
		ipc_chan_close(&c);
	}
}

struct len_case {
	uint32_t	type;
	size_t		len;
	int		ok;
};

static void
test_length(void)
{
	static const struct len_case cases[] = {
		{ IMSG_CHILD_READY, 3, 0 },
		{ IMSG_CHILD_READY, 4, 1 },
		{ IMSG_CHILD_READY, 5, 0 },
		{ IMSG_CHILD_READY, 0, 0 },
		{ IMSG_LOG, 15, 0 },
		{ IMSG_LOG, 16, 1 },
		{ IMSG_LOG, 65536, 1 },
		{ IMSG_LOG, 65537, 0 },
		{ IMSG_NET_STATS, 31, 0 },
		{ IMSG_NET_STATS, 33, 0 },
	};
	static unsigned char buf[70000];
	struct ipc_chan a, b, c;
	struct ipc_msg m;
	size_t i;
	int sv[2];
	char what[64];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		(void)snprintf(what, sizeof(what), "%s len %zu",
		    ipc_type_name(cases[i].type), cases[i].len);
		chans(&a, PROC_NET, &b, PROC_PRIV);
		IS_INT(ipc_compose(&a, cases[i].type, 0, -1, buf,
		    cases[i].len), cases[i].ok ? 0 : -1, what);
		ipc_chan_close(&a);
		ipc_chan_close(&b);

		pair(sv);
		ipc_chan_init(&c, sv[1], PROC_PRIV, PROC_NET);
		raw_frame(sv[0], cases[i].type, (uint32_t)cases[i].len, buf,
		    cases[i].len);
		while (ipc_read(&c) > 0)
			;
		IS_INT(ipc_get_sync(&c, &m), cases[i].ok ? 1 : -1, what);
		ipc_msg_free(&m);
		close(sv[0]);
		ipc_chan_close(&c);
	}
	chans(&a, PROC_NET, &b, PROC_PRIV);
	IS_INT(ipc_compose(&a, IMSG_LOG, 0, -1, NULL, 16), -1,
	    "compose: length without data");
	IS_INT(ipc_compose(&a, IMSG_LOG, 0, -1, buf, IPC_MAX_PAYLOAD + 1), -1,
	    "compose: over IPC_MAX_PAYLOAD");
	IS_INT(ipc_pending(&a), 0, "nothing queued by failed composes");
	ipc_chan_close(&a);
	ipc_chan_close(&b);
}

static void
test_eof(void)
{
	struct ipc_chan c;
	struct ipc_msg m;
	uint32_t v = 1;
	int sv[2];

	/* EOF in the middle of a payload. */
	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_PRIV, PROC_NET);
	raw_frame(sv[0], IMSG_CHILD_READY, 4, &v, 2);
	close(sv[0]);
	IS_INT(ipc_get_sync(&c, &m), -1, "EOF mid-payload");
	IS_INT(ipc_get(&c, &m), -1, "refused afterwards");
	ipc_chan_close(&c);

	/* A complete frame, then EOF: the frame, then a clean EOF. */
	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_PRIV, PROC_NET);
	raw_frame(sv[0], IMSG_CHILD_READY, 4, &v, 4);
	close(sv[0]);
	IS_INT(ipc_get_sync(&c, &m), 1, "frame before EOF");
	ipc_msg_free(&m);
	IS_INT(ipc_get_sync(&c, &m), 0, "then EOF");
	ipc_chan_close(&c);

	/* Writing to a closed peer is an error, not a SIGPIPE. */
	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_NET, PROC_PRIV);
	close(sv[0]);
	IS_INT(ipc_compose(&c, IMSG_CHILD_READY, 0, -1, &v, 4), 0, "queued");
	IS_INT(ipc_flush(&c), -1, "flush to a closed peer fails");
	OK(strstr(c.err, "write") != NULL, "err: %s", c.err);
	IS_INT(ipc_flush_sync(&c), -1, "flush_sync too");
	ipc_chan_close(&c);
}

static void
test_fd(void)
{
	struct ipc_chan p, n;
	struct ipc_msg m[5];
	unsigned char conf[12] = { 0 };
	uint32_t tr = 7;
	int pa[2], pb[2], i, sent_a, sent_b;
	char buf[16];

	chans(&p, PROC_PRIV, &n, PROC_NET);
	if (pipe(pa) == -1 || pipe(pb) == -1)
		exit(1);
	sent_a = pa[1];
	sent_b = pb[1];
	/* Frames with and without descriptors, all in one flush. */
	IS_INT(ipc_compose(&p, IMSG_NET_CONF, 0, -1, conf, 12), 0, "conf");
	IS_INT(ipc_compose(&p, IMSG_NET_STREAM, 1, pa[1], &tr, 4), 0,
	    "stream with pipe a");
	IS_INT(ipc_compose(&p, IMSG_SHUTDOWN, 2, -1, NULL, 0), 0, "shutdown");
	IS_INT(ipc_compose(&p, IMSG_NET_STREAM, 3, pb[1], &tr, 4), 0,
	    "stream with pipe b");
	IS_INT(ipc_compose(&p, IMSG_NET_CONF, 4, -1, conf, 12), 0, "conf");
	OK(fd_open(sent_a), "descriptor still ours until written");
	IS_INT(ipc_flush(&p), 0, "flush");
	OK(!fd_open(sent_a) && !fd_open(sent_b),
	    "sent descriptors closed by the sender");
	for (i = 0; i < 5; i++) {
		if (ipc_get_sync(&n, &m[i]) != 1) {
			OK(0, "get %d: %s", i, n.err);
			return;
		}
		IS_INT(m[i].hdr.peerid, i, "in order");
	}
	IS_INT(m[0].fd, -1, "no descriptor on the first conf");
	OK(m[1].fd != -1, "descriptor on the first stream");
	IS_INT(m[2].fd, -1, "no descriptor on shutdown");
	OK(m[3].fd != -1, "descriptor on the second stream");
	IS_INT(m[4].fd, -1, "no descriptor on the last conf");
	OK(fcntl(m[1].fd, F_GETFD) & FD_CLOEXEC, "received close-on-exec");
	OK(write(m[1].fd, "via a", 5) == 5 && read(pa[0], buf, sizeof(buf)) ==
	    5 && memcmp(buf, "via a", 5) == 0, "first descriptor is pipe a");
	OK(write(m[3].fd, "via b", 5) == 5 && read(pb[0], buf, sizeof(buf)) ==
	    5 && memcmp(buf, "via b", 5) == 0, "second descriptor is pipe b");
	for (i = 0; i < 5; i++)
		ipc_msg_free(&m[i]);
	close(pa[0]);
	close(pb[0]);

	/* Unclaimed descriptors are closed with the channel. */
	if (pipe(pa) == -1)
		exit(1);
	IS_INT(ipc_compose(&p, IMSG_NET_STREAM, 0, pa[1], &tr, 4), 0,
	    "one more stream");
	IS_INT(ipc_flush(&p), 0, "flush");
	OK(ipc_read(&n) > 0 && n.nrfds == 1, "descriptor received, unclaimed");
	i = n.rfds[0];
	ipc_chan_close(&n);
	OK(!fd_open(i), "closed with the channel");
	close(pa[0]);
	ipc_chan_close(&p);
}

static void
test_fd_rules(void)
{
	struct ipc_chan p, n, c;
	struct ipc_msg m;
	unsigned char conf[12] = { 0 };
	uint32_t tr = 1;
	int pa[2], sv[2];

	chans(&p, PROC_PRIV, &n, PROC_NET);
	if (pipe(pa) == -1)
		exit(1);
	IS_INT(ipc_compose(&p, IMSG_NET_CONF, 0, pa[1], conf, 12), -1,
	    "compose: descriptor on a type that carries none");
	OK(fd_open(pa[1]), "left to the caller on failure");
	IS_INT(ipc_compose(&p, IMSG_NET_STREAM, 0, -1, &tr, 4), -1,
	    "compose: IMSG_NET_STREAM without a descriptor");
	ipc_chan_close(&p);
	ipc_chan_close(&n);

	/* Forged by hand: a descriptor on IMSG_NET_CONF. */
	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_NET, PROC_PRIV);
	raw_frame_fd(sv[0], IMSG_NET_CONF, 12, conf, 12, pa[1]);
	IS_INT(ipc_get_sync(&c, &m), -1, "get: descriptor not allowed");
	OK(strstr(c.err, "descriptor") != NULL, "err: %s", c.err);
	IS_INT(c.nrfds, 0, "and it was closed");
	close(sv[0]);
	ipc_chan_close(&c);

	/* IMSG_NET_STREAM without its descriptor. */
	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_NET, PROC_PRIV);
	raw_frame(sv[0], IMSG_NET_STREAM, 4, &tr, 4);
	IS_INT(ipc_get_sync(&c, &m), -1, "get: descriptor missing");
	close(sv[0]);
	ipc_chan_close(&c);

	/* Two descriptors on one frame: header and half, then the rest. */
	pair(sv);
	ipc_chan_init(&c, sv[1], PROC_NET, PROC_PRIV);
	{
		struct ipc_hdr hdr = { IMSG_NET_STREAM, 4, 0, 1 };
		unsigned char frame[IPC_HDR_SIZE + 4];

		memcpy(frame, &hdr, sizeof(hdr));
		memcpy(frame + IPC_HDR_SIZE, &tr, 4);
		raw_bytes_fd(sv[0], frame, IPC_HDR_SIZE + 2, pa[0]);
		raw_bytes_fd(sv[0], frame + IPC_HDR_SIZE + 2, 2, pa[1]);
	}
	IS_INT(ipc_get_sync(&c, &m), -1, "get: two descriptors in one frame");
	close(sv[0]);
	ipc_chan_close(&c);
	close(pa[0]);
	close(pa[1]);
}

static void
test_pack(void)
{
	struct ipc_buf b;
	struct ipc_msg m;
	struct ipc_rd rd;
	const void *d;
	size_t len;
	char *s, *e, *z;

	ipc_buf_init(&b);
	ipc_put_u32(&b, 0xdeadbeefU);
	ipc_put_u64(&b, 0x0123456789abcdefULL);
	ipc_put_str(&b, "hello");
	ipc_put_data(&b, "a\0b", 3);
	ipc_put_str(&b, NULL);
	ipc_put_str(&b, "");
	ipc_put_data(&b, NULL, 0);
	ipc_put_u64(&b, UINT64_MAX);
	IS_INT(b.len, 4 + 8 + 4 + 5 + 4 + 3 + 4 + 4 + 4 + 8, "packed length");
	memset(&m, 0, sizeof(m));
	m.data = b.data;
	m.len = b.len;
	m.fd = -1;
	ipc_rd_init(&rd, &m);
	IS_INT(ipc_get_u32(&rd), 0xdeadbeefU, "u32");
	OK(ipc_get_u64(&rd) == 0x0123456789abcdefULL, "u64");
	s = ipc_get_str(&rd);
	IS_STR(s, "hello", "str");
	d = ipc_get_data(&rd, &len);
	OK(d != NULL && len == 3 && memcmp(d, "a\0b", 3) == 0, "data with NUL");
	OK(ipc_get_str(&rd) == NULL && !rd.error, "NULL str");
	e = ipc_get_str(&rd);
	IS_STR(e, "", "empty str");
	d = ipc_get_data(&rd, &len);
	OK(d == NULL && len == 0 && !rd.error, "NULL data");
	OK(ipc_get_u64(&rd) == UINT64_MAX, "u64 max");
	IS_INT(ipc_rd_end(&rd), 0, "at end");
	free(s);
	free(e);

	/* Leftover bytes. */
	ipc_rd_init(&rd, &m);
	(void)ipc_get_u32(&rd);
	IS_INT(ipc_rd_end(&rd), -1, "leftover bytes fail");
	/* Short reads. */
	m.len = 10;
	ipc_rd_init(&rd, &m);
	(void)ipc_get_u32(&rd);
	OK(ipc_get_u64(&rd) == 0 && rd.error, "short u64 reads 0");
	OK(ipc_get_u32(&rd) == 0, "after an error, zeroes");
	IS_INT(ipc_rd_end(&rd), -1, "short read fails at end");
	/* A string running past the end. */
	m.len = 4 + 8 + 4 + 3;
	ipc_rd_init(&rd, &m);
	(void)ipc_get_u32(&rd);
	(void)ipc_get_u64(&rd);
	OK(ipc_get_str(&rd) == NULL && rd.error, "truncated str");
	IS_INT(ipc_rd_end(&rd), -1, "truncated str fails at end");
	/* Embedded NUL in a str. */
	m.data = b.data + 4 + 8 + 4 + 5;
	m.len = 4 + 3;
	ipc_rd_init(&rd, &m);
	z = ipc_get_str(&rd);
	OK(z == NULL && rd.error, "str with NUL refused");
	IS_INT(ipc_rd_end(&rd), -1, "and fails at end");
	/* Empty message. */
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	ipc_rd_init(&rd, &m);
	IS_INT(ipc_rd_end(&rd), 0, "empty message at end");
	(void)ipc_get_u32(&rd);
	IS_INT(ipc_rd_end(&rd), -1, "u32 from an empty message");
	ipc_buf_free(&b);
	OK(b.data == NULL && b.len == 0, "buf freed");
}

/* A full socket buffer: flush says 1, draining the peer lets it finish. */
static void
test_eagain(void)
{
	static unsigned char big[IPC_ANYLEN];
	struct ipc_chan p, e;
	struct ipc_msg m;
	int i, r, got = 0, bad = 0, rounds = 0;

	chans(&p, PROC_PRIV, &e, PROC_ENGINE);
	for (i = 0; i < 64; i++) {
		memset(big, 'a' + i % 26, sizeof(big));
		if (ipc_compose(&p, IMSG_ENGINE_CONF, (uint32_t)i, -1, big,
		    sizeof(big)) != 0)
			bad = 1;
	}
	OK(!bad, "16 MiB queued");
	IS_INT(ipc_flush(&p), 1, "flush: socket full, some left");
	OK(ipc_pending(&p) > 0 && ipc_pending(&p) < 64 * (int)sizeof(big),
	    "partly written (%d pending)", ipc_pending(&p));
	IS_INT(ipc_flush(&p), 1, "flush again: still full");
	for (;;) {
		r = ipc_flush(&p);
		if (r == -1)
			break;
		while (ipc_read(&e) > 0)
			;
		while (ipc_get(&e, &m) == 1) {
			if (m.hdr.peerid != (uint32_t)got ||
			    m.len != sizeof(big) ||
			    m.data[0] != 'a' + got % 26 ||
			    m.data[m.len - 1] != 'a' + got % 26)
				bad = 1;
			got++;
			ipc_msg_free(&m);
		}
		rounds++;
		if (r == 0 && got == 64)
			break;
	}
	IS_INT(r, 0, "flush completes once drained");
	IS_INT(ipc_pending(&p), 0, "nothing pending");
	IS_INT(got, 64, "all 64 frames received");
	OK(!bad, "in order and intact");
	OK(rounds > 1, "took %d rounds", rounds);
	ipc_chan_close(&p);
	ipc_chan_close(&e);
}

/* The blocking forms across a fork. */
static void
test_sync(void)
{
	static unsigned char big[200000];
	struct ipc_chan c;
	struct ipc_msg m;
	int sv[2], i, status, got = 0, bad = 0;
	pid_t pid;

	pair(sv);
	if ((pid = fork()) == -1)
		exit(1);
	if (pid == 0) {
		close(sv[1]);
		ipc_chan_init(&c, sv[0], PROC_PRIV, PROC_ENGINE);
		for (i = 0; i < 40; i++) {
			memset(big, i, sizeof(big));
			if (ipc_compose(&c, IMSG_ENGINE_CONF, (uint32_t)i, -1,
			    big, sizeof(big)) != 0)
				_exit(2);
		}
		_exit(ipc_flush_sync(&c) == 0 ? 0 : 3);
	}
	close(sv[0]);
	ipc_chan_init(&c, sv[1], PROC_ENGINE, PROC_PRIV);
	while ((i = ipc_get_sync(&c, &m)) == 1) {
		if (m.hdr.peerid != (uint32_t)got || m.len != sizeof(big) ||
		    m.data[0] != got || m.data[m.len - 1] != got ||
		    m.hdr.pid != (uint32_t)pid)
			bad = 1;
		got++;
		ipc_msg_free(&m);
	}
	IS_INT(i, 0, "get_sync ends with EOF");
	IS_INT(got, 40, "40 x 200 KB through flush_sync/get_sync");
	OK(!bad, "intact, pid of the sender");
	OK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "sender's flush_sync succeeded");
	ipc_chan_close(&c);
}

/* Reads one IMSG_LOG from c and checks it. */
static void
expect_log(struct ipc_chan *c, int level, const char *name,
    const char *mailbox, const char *text, const char *what)
{
	struct ipc_msg m;
	struct ipc_rd rd;
	char *n, *mb, *t;
	uint32_t l;

	if (ipc_get_sync(c, &m) != 1 || m.hdr.type != IMSG_LOG) {
		OK(0, "%s: no IMSG_LOG (%s)", what, c->err);
		return;
	}
	ipc_rd_init(&rd, &m);
	l = ipc_get_u32(&rd);
	n = ipc_get_str(&rd);
	mb = ipc_get_str(&rd);
	t = ipc_get_str(&rd);
	OK(ipc_rd_end(&rd) == 0, "%s: well-formed", what);
	IS_INT(l, level, what);
	IS_STR(n, name, what);
	if (mailbox == NULL)
		OK(mb == NULL, "%s: no mailbox", what);
	else
		IS_STR(mb, mailbox, what);
	if (text != NULL)
		IS_STR(t, text, what);
	else
		OK(t != NULL && m.len == 65536, "%s: cut to the bound (%zu)",
		    what, m.len);
	free(n);
	free(mb);
	free(t);
	ipc_msg_free(&m);
}

static void
test_log(void)
{
	struct ipc_chan n, p;
	struct ipc_msg m;
	char *huge;
	int sv[2], status, saved, fd;
	pid_t pid;
	char out[256];
	ssize_t r;

	chans(&n, PROC_NET, &p, PROC_PRIV);
	log_set_chan(&n);
	log_set_name("local");
	log_set_debug(0);
	log_info("Created mailbox %s", "foo");
	expect_log(&p, LOG_LVL_INFO, "local", NULL, "Created mailbox foo",
	    "log_info");
	log_set_mailbox("INBOX");
	log_warnx("No match for %d vanished", 3);
	expect_log(&p, LOG_LVL_WARN, "local", "INBOX",
	    "WARNING: No match for 3 vanished", "log_warnx");
	log_set_mailbox(NULL);
	errno = EACCES;
	log_warn("open %s", "x");
	IS_INT(errno, EACCES, "errno preserved");
	expect_log(&p, LOG_LVL_WARN, "local", NULL,
	    "WARNING: open x: Permission denied", "log_warn");
	log_error("Lost connection");
	expect_log(&p, LOG_LVL_ERROR, "local", NULL, "ERROR: Lost connection",
	    "log_error");
	log_notice("n");
	expect_log(&p, LOG_LVL_NOTICE, "local", NULL, "n", "log_notice");
	log_msg(LOG_LVL_INFO, "remote", "a/b", "x%s", "y");
	expect_log(&p, LOG_LVL_INFO, "remote", "a/b", "xy", "log_msg");
	log_msg(LOG_LVL_INFO, NULL, "", "z");
	expect_log(&p, LOG_LVL_INFO, "", NULL, "z", "log_msg NULL name");

	log_debug("C: secret");
	IS_INT(ipc_pending(&n), 0, "debug dropped when not debugging");
	IS_INT(ipc_get(&p, &m), 0, "nothing sent");
	errno = 0;
	OK(ipc_read(&p) == -1 && errno == EAGAIN, "nothing on the wire");
	log_set_debug(1);
	IS_INT(log_debug_level(), 1, "debug level");
	log_debug("S: * OK");
	expect_log(&p, LOG_LVL_DEBUG, "local", NULL, "S: * OK", "log_debug");
	log_set_debug(0);

	if ((huge = malloc(100000)) == NULL)
		exit(1);
	memset(huge, 'x', 99999);
	huge[99999] = '\0';
	log_info("%s", huge);
	expect_log(&p, LOG_LVL_INFO, "local", NULL, NULL, "long text");
	free(huge);
	log_set_chan(NULL);
	ipc_chan_close(&n);
	ipc_chan_close(&p);

	/* Neither sink nor channel: stderr, no prefix. */
	pair(sv);
	fflush(stderr);
	saved = dup(2);
	dup2(sv[0], 2);
	log_set_name("local");
	log_info("early %d", 1);
	log_error("bad");
	dup2(saved, 2);
	close(saved);
	close(sv[0]);
	r = read(sv[1], out, sizeof(out) - 1);
	out[r < 0 ? 0 : r] = '\0';
	OK(strcmp(out, "early 1\nERROR: bad\n") == 0,
	    "stderr fallback: two plain lines");
	close(sv[1]);

	/* fatalx in a child: the message is flushed, the code is exited. */
	chans(&n, PROC_ENGINE, &p, PROC_PRIV);
	if ((pid = fork()) == -1)
		exit(1);
	if (pid == 0) {
		ipc_chan_close(&p);
		log_set_chan(&n);
		log_set_name("");
		log_info("queued before");
		fatalx(EXIT_CHILD, "broken %s", "pipe");
	}
	fd = n.fd;
	n.fd = -1;
	close(fd);
	ipc_chan_close(&n);
	expect_log(&p, LOG_LVL_INFO, "", NULL, "queued before",
	    "child's info");
	expect_log(&p, LOG_LVL_ERROR, "", NULL, "ERROR: broken pipe",
	    "child's fatalx");
	OK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EXIT_CHILD, "fatalx exit code");
	ipc_chan_close(&p);

	/* fatal adds strerror. */
	chans(&n, PROC_NET, &p, PROC_PRIV);
	if ((pid = fork()) == -1)
		exit(1);
	if (pid == 0) {
		ipc_chan_close(&p);
		log_set_chan(&n);
		log_set_name("remote");
		errno = ECONNREFUSED;
		fatal(EXIT_FAIL, "connect");
	}
	fd = n.fd;
	n.fd = -1;
	close(fd);
	ipc_chan_close(&n);
	expect_log(&p, LOG_LVL_ERROR, "remote", NULL,
	    "ERROR: connect: Connection refused", "child's fatal");
	OK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == EXIT_FAIL, "fatal exit code");
	ipc_chan_close(&p);
}

int
main(void)
{
	signal(SIGPIPE, SIG_DFL);	/* MSG_NOSIGNAL must make this safe */
	test_catalogue();
	test_roundtrip();
	test_partial();
	test_batch();
	test_oversize();
	test_broken_read();
	test_unknown();
	test_direction();
	test_length();
	test_eof();
	test_fd();
	test_fd_rules();
	test_pack();
	test_eagain();
	test_sync();
	test_log();
	return tap_done();
}
