/*
 * net/stream.c and net/compress.c without TLS: COMPRESS=DEFLATE against
 * a zlib peer (a forked child doing raw inflate/deflate itself), the
 * counters, bounded memory for huge literals and decompression bombs,
 * and the traffic summary formatter (ipc/traffic.c).
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "compress.h"
#include "stream.h"
#include "tap.h"
#include "traffic.h"

/* ------------------------------------------------------------------ */
/* (9) the summary formatter */

static void
test_traffic(void)
{
	static const struct {
		uint64_t	 n;
		const char	*want;
	} sizes[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ 1023, "1023" },
		{ 1024, "1.00K" },
		{ 3318, "3.24K" },
		{ 1048575, "1024.00K" },
		{ 1048576, "1.00M" },
		{ 5452595, "5.20M" },
		{ 1073741823, "1024.00M" },
		{ 1073741824, "1.00G" },
		{ 5368709120ULL, "5.00G" },
		{ UINT64_MAX, "17179869184.00G" },
	};
	static const struct {
		struct traffic_stats	 st;
		const char		*want;
	} lines[] = {
		{ { 0, 0, 0, 0 }, "IMAP traffic (bytes): recv 0 sent 0" },
		{ { 3318, 0, 590, 0 },
		    "IMAP traffic (bytes): recv 3.24K sent 590" },
		{ { 1023, 0, 1024, 0 },
		    "IMAP traffic (bytes): recv 1023 sent 1.00K" },
		{ { 10000, 2500, 2048, 1024 },
		    "IMAP traffic (bytes): recv 9.77K (compr. 2.44K, factor "
		    "0.25) sent 2.00K (compr. 1.00K, factor 0.50)" },
		{ { 3145728, 1048576, 100, 150 },
		    "IMAP traffic (bytes): recv 3.00M (compr. 1.00M, factor "
		    "0.33) sent 100 (compr. 150, factor 1.50)" },
		{ { 0, 40, 7, 7 },
		    "IMAP traffic (bytes): recv 0 sent 7 (compr. 7, factor "
		    "1.00)" },
		{ { 2147483648ULL, 1073741824, 0, 0 },
		    "IMAP traffic (bytes): recv 2.00G (compr. 1.00G, factor "
		    "0.50) sent 0" },
	};
	char buf[TRAFFIC_LINE_MAX], sz[TRAFFIC_SIZE_MAX];
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		IS_STR(traffic_size(sz, sizeof(sz), sizes[i].n), sizes[i].want,
		    "traffic_size");
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		IS_STR(traffic_format(buf, sizeof(buf), &lines[i].st),
		    lines[i].want, "traffic_format");
	IS_STR(traffic_format(buf, 20, &lines[3].st), "IMAP traffic (bytes",
	    "traffic_format truncates safely");
}

/* ------------------------------------------------------------------ */
/* The codec alone */

static void
test_codec(void)
{
	struct compress c, peer;
	struct compress_buf out, in;
	char err[256], text[64];
	unsigned char big[100000];
	size_t i, total;
	ssize_t n;

	OK(compress_init(&c, err, sizeof(err)) == 0, "compress_init");
	compress_buf_init(&out);
	OK(compress_deflate(&c, "a NOOP\r\n", 8, Z_SYNC_FLUSH, &out, err,
	    sizeof(err)) == 0, "deflate a command");
	OK(out.len >= 4 && memcmp(out.data + out.len - 4, "\0\0\377\377",
	    4) == 0, "sync flush: ends in an empty stored block");
	/* A repeated flush with nothing new is harmless. */
	i = out.len;
	OK(compress_deflate(&c, NULL, 0, Z_SYNC_FLUSH, &out, err,
	    sizeof(err)) == 0, "repeated sync flush");
	OK(out.len - i <= 5, "repeated flush adds at most a marker");

	/* Inflate it back with our own inflater (a second instance). */
	OK(compress_init(&peer, err, sizeof(err)) == 0, "second codec");
	n = compress_inflate(&peer, &out, text, sizeof(text), err,
	    sizeof(err));
	OK(n == 8 && memcmp(text, "a NOOP\r\n", 8) == 0, "inflate back");
	IS_INT(compress_buf_pending(&out), 0, "all input consumed");

	/* Output bounded by the caller's buffer: 100000 bytes in 64s. */
	memset(big, 'z', sizeof(big));
	OK(compress_deflate(&c, big, sizeof(big), Z_SYNC_FLUSH, &out, err,
	    sizeof(err)) == 0, "deflate 100000 bytes");
	OK(out.len < 1000, "they compress to %zu bytes", out.len);
	total = 0;
	while ((n = compress_inflate(&peer, &out, text, sizeof(text), err,
	    sizeof(err))) > 0) {
		if (n > (ssize_t)sizeof(text))
			break;
		total += (size_t)n;
	}
	IS_INT(total, sizeof(big), "inflated in bounded pieces");
	OK(!peer.in_more, "nothing left inside zlib");

	/* Garbage. */
	compress_buf_init(&in);
	(void)compress_buf_add(&in, "\xff\xff\xff\xff\xff", 5);
	n = compress_inflate(&peer, &in, text, sizeof(text), err,
	    sizeof(err));
	OK(n == -1 && strncmp(err, "Inflation failed: ", 18) == 0,
	    "garbage: %s", err);

	/* The queue wipes what it consumed and reuses its front. */
	compress_buf_free(&in);
	(void)compress_buf_add(&in, "secret", 6);
	compress_buf_consume(&in, 6);
	OK(in.off == 0 && in.len == 0 && in.data[0] == 0,
	    "consumed bytes wiped");
	compress_buf_free(&in);
	compress_buf_free(&out);
	compress_free(&c);
	compress_free(&peer);
}

/* ------------------------------------------------------------------ */
/* The zlib peer */

struct peer {
	int		 fd;
	z_stream	 zi, zo;
	int		 zon;
	uint64_t	 raw_in, plain_in, raw_out, plain_out;
};

static void
xwrite(struct peer *p, const void *buf, size_t len)
{
	const unsigned char *b = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(p->fd, b, len)) <= 0)
			_exit(10);
		b += n;
		len -= (size_t)n;
		p->raw_out += (uint64_t)n;
	}
}

/* Deflates and sends (raw), with the given flush. */
static void
peer_send(struct peer *p, const void *data, size_t len, int flush)
{
	unsigned char out[65536];

	p->plain_out += len;
	if (!p->zon) {
		xwrite(p, data, len);
		return;
	}
	p->zo.next_in = (unsigned char *)(uintptr_t)data;
	p->zo.avail_in = (uInt)len;
	do {
		p->zo.next_out = out;
		p->zo.avail_out = sizeof(out);
		if (deflate(&p->zo, flush) == Z_STREAM_ERROR)
			_exit(11);
		xwrite(p, out, sizeof(out) - p->zo.avail_out);
	} while (p->zo.avail_out == 0);
}

/* Receives and inflates some bytes into out: length, 0 on EOF. */
static size_t
peer_recv(struct peer *p, unsigned char *out, size_t outlen)
{
	/* zlib keeps pointing into it between calls. */
	static unsigned char raw[16384];
	ssize_t n;
	int r;

	if (!p->zon) {
		if ((n = read(p->fd, out, outlen)) < 0)
			_exit(12);
		p->raw_in += (uint64_t)n;
		p->plain_in += (uint64_t)n;
		return (size_t)n;
	}
	for (;;) {
		if (p->zi.avail_in == 0) {
			if ((n = read(p->fd, raw, sizeof(raw))) < 0)
				_exit(12);
			if (n == 0)
				return 0;
			p->raw_in += (uint64_t)n;
			p->zi.next_in = raw;
			p->zi.avail_in = (uInt)n;
		}
		p->zi.next_out = out;
		p->zi.avail_out = (uInt)outlen;
		r = inflate(&p->zi, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR)
			_exit(13);
		if (outlen - p->zi.avail_out > 0) {
			p->plain_in += outlen - p->zi.avail_out;
			return outlen - p->zi.avail_out;
		}
	}
}

/* Reads one line in plain text (before compression). */
static void
peer_line(struct peer *p, char *buf, size_t len)
{
	size_t n = 0;

	while (n < len - 1 && peer_recv(p, (unsigned char *)buf + n, 1) == 1)
		if (buf[n++] == '\n')
			break;
	buf[n] = '\0';
}

static void
peer_zstart(struct peer *p)
{
	if (deflateInit2(&p->zo, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	    -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
	    inflateInit2(&p->zi, -MAX_WBITS) != Z_OK)
		_exit(14);
	p->zon = 1;
}

/*
 * The IMAP-ish peer: plain greeting, COMPRESS, a compressed untagged
 * line sent right behind the OK, then an echo of everything (one sync
 * flush per chunk) until "QUIT\r\n"; then "* BYE\r\n" and its counters
 * on the report pipe.
 */
static void __attribute__((noreturn))
peer_echo(int fd, int report)
{
	static unsigned char buf[65536];
	struct peer p;
	char line[256], tail[8] = "";
	uint64_t counts[4];
	size_t n, i;

	memset(&p, 0, sizeof(p));
	p.fd = fd;
	peer_send(&p, "* OK plain\r\n", 12, Z_NO_FLUSH);
	peer_line(&p, line, sizeof(line));
	if (strcmp(line, "a COMPRESS DEFLATE\r\n") != 0)
		_exit(2);
	peer_send(&p, "a OK DEFLATE active\r\n", 21, Z_NO_FLUSH);
	peer_zstart(&p);
	peer_send(&p, "* untagged after compress\r\n", 27, Z_SYNC_FLUSH);
	while ((n = peer_recv(&p, buf, sizeof(buf))) > 0) {
		/* "QUIT\r\n" at the end of what arrived ends the echo. */
		for (i = 0; i < n; i++) {
			memmove(tail, tail + 1, 5);
			tail[5] = (char)buf[i];
		}
		if (memcmp(tail, "QUIT\r\n", 6) == 0)
			break;
		peer_send(&p, buf, n, Z_SYNC_FLUSH);
	}
	peer_send(&p, "* BYE\r\n", 7, Z_SYNC_FLUSH);
	counts[0] = p.raw_in;
	counts[1] = p.plain_in;
	counts[2] = p.raw_out;
	counts[3] = p.plain_out;
	if (write(report, counts, sizeof(counts)) != sizeof(counts))
		_exit(15);
	_exit(0);
}

/* A bomb: compression from the first byte, `total` zero bytes. */
static void __attribute__((noreturn))
peer_bomb(int fd, uint64_t total)
{
	static unsigned char zeros[1 << 20];
	struct peer p;

	memset(&p, 0, sizeof(p));
	p.fd = fd;
	peer_zstart(&p);
	while (total > 0) {
		size_t n = total > sizeof(zeros) ? sizeof(zeros) :
		    (size_t)total;

		peer_send(&p, zeros, n, Z_NO_FLUSH);
		total -= n;
	}
	peer_send(&p, "", 0, Z_SYNC_FLUSH);
	_exit(0);
}

static pid_t	peer_pid;

static int
peer_start(int report, uint64_t bomb)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		exit(1);
	if ((peer_pid = fork()) == -1)
		exit(1);
	if (peer_pid == 0) {
		close(sv[0]);
		if (bomb > 0)
			peer_bomb(sv[1], bomb);
		peer_echo(sv[1], report);
	}
	close(sv[1]);
	return sv[0];
}

static int
peer_wait(void)
{
	int status = -1;

	(void)waitpid(peer_pid, &status, 0);
	return status;
}

/* ------------------------------------------------------------------ */
/* The client side */

/* Sends one command: queue, sync flush, write everything. */
static int
send_cmd(struct net_stream *s, const char *cmd)
{
	if (stream_queue(s, cmd, strlen(cmd)) == -1 ||
	    stream_cmd_end(s) == -1)
		return -1;
	for (;;) {
		switch (stream_flush(s)) {
		case 0:
			return 0;
		case 1:
			if (stream_wait(s, 10000) != 1)
				return -1;
			break;
		default:
			return -1;
		}
	}
}

/* Reads exactly len bytes. */
static int
read_exact(struct net_stream *s, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = stream_read(s, (char *)buf + got, len - got);
		if (n == -1 && errno == EAGAIN) {
			if (stream_wait(s, 10000) != 1)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	(void)getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

#define LIT_SIZE	(20 * 1024 * 1024)
#define CHUNK		65536
#define OUT_HIGH	(256 * 1024)

/* (8) COMPRESS=DEFLATE with an echoing zlib peer. */
static void
test_compress_echo(void)
{
	static unsigned char chunk[CHUNK], rbuf[16384];
	struct net_stream *s;
	struct traffic_stats st;
	uint64_t counts[4], sent_plain = 0, recv_plain = 0;
	char buf[4096], *eol;
	size_t got, off, len, queued, max_out = 0, i;
	uLong want_crc, got_crc;
	uint64_t rnd = 88172645463325252ULL;
	ssize_t n;
	long rss0;
	int pfd[2], fd, status;

	if (pipe(pfd) == -1)
		exit(1);
	fd = peer_start(pfd[1], 0);
	close(pfd[1]);
	s = stream_new(fd);

	OK(read_exact(s, buf, 12) == 0 && memcmp(buf, "* OK plain\r\n",
	    12) == 0, "plain greeting");
	recv_plain += 12;
	OK(send_cmd(s, "a COMPRESS DEFLATE\r\n") == 0, "COMPRESS sent");
	sent_plain += 20;
	/*
	 * Read as a parser would: a big buffer, which takes the OK line
	 * and the compressed bytes the peer sent right behind it.
	 */
	usleep(100000);
	got = 0;
	while ((eol = memchr(buf, '\n', got)) == NULL) {
		n = stream_read(s, buf + got, sizeof(buf) - got);
		if (n == -1 && errno == EAGAIN) {
			(void)stream_wait(s, 10000);
			continue;
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	OK(eol != NULL && strncmp(buf, "a OK DEFLATE active\r\n", 21) == 0,
	    "tagged OK to COMPRESS");
	off = eol != NULL ? (size_t)(eol - buf) + 1 : got;
	OK(got > off, "compressed bytes arrived with the OK (%zu)",
	    got - off);
	recv_plain += off;
	OK(stream_start_compress(s, buf + off, got - off) == 0,
	    "start compression with the leftover");
	OK(stream_is_compressed(s), "compressed");
	OK(read_exact(s, buf, 27) == 0 &&
	    memcmp(buf, "* untagged after compress\r\n", 27) == 0,
	    "the leftover inflates to the first compressed response");
	recv_plain += 27;
	OK(stream_start_compress(s, NULL, 0) == -1, "no second COMPRESS");

	/* Sync flush at each command end: the echo comes back whole. */
	for (i = 0; i < 20; i++) {
		(void)snprintf(buf, sizeof(buf), "b%zu NOOP\r\n", i);
		len = strlen(buf);
		if (send_cmd(s, buf) == -1 ||
		    read_exact(s, buf + 100, len) == -1 ||
		    memcmp(buf, buf + 100, len) != 0)
			break;
		sent_plain += len;
		recv_plain += len;
	}
	IS_INT(i, 20, "20 commands echoed, each flushed on its own");

	/* A 20 MiB literal, queued in chunks with back-pressure. */
	rss0 = maxrss_kib();
	(void)snprintf(buf, sizeof(buf), "c APPEND x {%d+}\r\n", LIT_SIZE);
	len = strlen(buf);
	OK(stream_queue(s, buf, len) == 0, "APPEND line");
	i = stream_out_pending(s);
	OK(stream_literal_begin(s, 100) == 0 && stream_out_pending(s) == i,
	    "no flush point for a short literal");
	OK(stream_literal_begin(s, LIT_SIZE) == 0 &&
	    stream_out_pending(s) >= i + 4,
	    "full flush point before a long literal");
	sent_plain += len;
	want_crc = crc32(0, NULL, 0);
	want_crc = crc32(want_crc, (const unsigned char *)buf, (uInt)len);
	got_crc = crc32(0, NULL, 0);
	queued = 0;
	got = 0;
	while (got < len + LIT_SIZE) {
		while (queued < LIT_SIZE &&
		    stream_out_pending(s) < OUT_HIGH) {
			/* Text, and a quarter of noise (xorshift). */
			for (i = 0; i < CHUNK; i++) {
				rnd ^= rnd << 13;
				rnd ^= rnd >> 7;
				rnd ^= rnd << 17;
				chunk[i] = (queued / CHUNK) % 4 == 1 ?
				    (unsigned char)(rnd >> 24) :
				    (unsigned char)("abcdefgh\r\n"[i % 10]);
			}
			if (stream_queue(s, chunk, CHUNK) == -1)
				break;
			want_crc = crc32(want_crc, chunk, CHUNK);
			queued += CHUNK;
			if (queued == LIT_SIZE)
				(void)stream_cmd_end(s);
		}
		if (stream_out_pending(s) > max_out)
			max_out = stream_out_pending(s);
		if (stream_flush(s) == -1)
			break;
		n = stream_read(s, rbuf, sizeof(rbuf));
		if (n > 0) {
			got_crc = crc32(got_crc, rbuf, (uInt)n);
			got += (size_t)n;
			continue;
		}
		if (n == 0 || errno != EAGAIN)
			break;
		if (stream_wait(s, 10000) != 1)
			break;
	}
	sent_plain += LIT_SIZE;
	recv_plain += got;
	OK(got == len + LIT_SIZE && got_crc == want_crc,
	    "20 MiB literal through deflate and back (%zu bytes)", got);
	OK(max_out < OUT_HIGH + 2 * CHUNK, "output queue stayed bounded "
	    "(max %zu)", max_out);
	OK(maxrss_kib() - rss0 < 8192, "memory stayed bounded (+%ld KiB)",
	    maxrss_kib() - rss0);

	OK(send_cmd(s, "QUIT\r\n") == 0, "QUIT");
	sent_plain += 6;
	OK(read_exact(s, buf, 7) == 0 && memcmp(buf, "* BYE\r\n", 7) == 0,
	    "BYE");
	recv_plain += 7;
	OK(read_exact(s, buf, 1) == -1, "then EOF");
	IS_INT(stream_read(s, buf, 1), 0, "EOF again");
	OK(read(pfd[0], counts, sizeof(counts)) == sizeof(counts),
	    "peer counters");
	status = peer_wait();
	OK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "peer exit %d",
	    status);
	stream_stats(s, &st);
	IS_INT(st.sent, sent_plain, "sent: plain bytes queued");
	IS_INT(st.sent, counts[1], "sent = what the peer inflated");
	IS_INT(st.sent_raw, counts[0], "sent_raw = what the peer received");
	IS_INT(st.recv, recv_plain, "recv: plain bytes handed out");
	IS_INT(st.recv, counts[3], "recv = what the peer deflated");
	IS_INT(st.recv_raw, counts[2], "recv_raw = what the peer sent");
	OK(st.sent_raw < st.sent / 2 && st.recv_raw < st.recv / 2,
	    "compression happened");
	traffic_format(buf, sizeof(buf), &st);
	OK(strncmp(buf, "IMAP traffic (bytes): recv 20.", 30) == 0 &&
	    strstr(buf, "M (compr. ") != NULL, "summary: %s", buf);
	close(pfd[0]);
	stream_free(s);
}

/* A few MiB that inflate to 1 GiB, read through a 16 KiB buffer. */
static void
test_bomb(void)
{
	static unsigned char rbuf[16384], zero[16384];
	struct net_stream *s;
	struct traffic_stats st;
	uint64_t total = 0, want = 1ULL << 30;
	size_t maxn = 0, pend = 0;
	ssize_t n;
	long rss0 = maxrss_kib();
	int fd, bad = 0;

	fd = peer_start(-1, want);
	s = stream_new(fd);
	OK(stream_start_compress(s, NULL, 0) == 0, "compression from the "
	    "start");
	for (;;) {
		n = stream_read(s, rbuf, sizeof(rbuf));
		if (n == -1 && errno == EAGAIN) {
			(void)stream_wait(s, 10000);
			continue;
		}
		if (n <= 0)
			break;
		if ((size_t)n > maxn)
			maxn = (size_t)n;
		if (memcmp(rbuf, zero, (size_t)n) != 0)
			bad++;
		total += (uint64_t)n;
		if (stream_pending(s) > 0)
			pend++;
	}
	IS_INT(n, 0, "bomb read to EOF");
	IS_INT(total, want, "1 GiB inflated");
	OK(maxn <= sizeof(rbuf), "never more than the buffer per read");
	OK(bad == 0, "content intact");
	OK(pend > 1000, "stream_pending reports inflate output left (%zu)",
	    pend);
	stream_stats(s, &st);
	OK(st.recv_raw < want / 500, "%llu compressed bytes",
	    (unsigned long long)st.recv_raw);
	OK(maxrss_kib() - rss0 < 8192, "memory stayed bounded (+%ld KiB)",
	    maxrss_kib() - rss0);
	(void)peer_wait();
	stream_free(s);
}

/* Plain streams: counters, errors, events. */
static void
test_plain(void)
{
	struct net_stream *s;
	struct traffic_stats st;
	char buf[64];
	int sv[2];
	ssize_t n;

	(void)socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	s = stream_new(sv[0]);
	IS_INT(stream_events(s), POLLIN, "idle: POLLIN");
	n = stream_read(s, buf, sizeof(buf));
	OK(n == -1 && errno == EAGAIN, "nothing yet: EAGAIN");
	(void)stream_queue(s, "x NOOP\r\n", 8);
	(void)stream_cmd_end(s);
	IS_INT(stream_events(s), POLLIN | POLLOUT, "queued: POLLOUT too");
	IS_INT(stream_out_pending(s), 8, "plain queue holds the bytes");
	IS_INT(stream_flush(s), 0, "flushed");
	IS_INT(read(sv[1], buf, sizeof(buf)), 8, "peer got the command");
	if (write(sv[1], "* OK hi\r\nextra", 14) != 14)
		OK(0, "write");
	IS_INT(stream_read(s, buf, 9), 9, "read a line");
	IS_INT(stream_pending(s), 0, "plain: nothing pending in the stream");
	IS_INT(stream_discard_buffered(s), 5, "discard what the socket had");
	stream_stats(s, &st);
	OK(st.recv == 9 && st.sent == 8 && st.recv_raw == 0 &&
	    st.sent_raw == 0, "plain counters");
	close(sv[1]);
	IS_INT(stream_read(s, buf, sizeof(buf)), 0, "EOF");
	IS_INT(stream_events(s), 0, "EOF: nothing to wait for");
	(void)stream_queue(s, "y\r\n", 3);
	IS_INT(stream_flush(s), -1, "write to a closed peer fails");
	IS_STR(stream_error(s), "write: Broken pipe", "write error text");
	OK(!stream_error_is_ssl(s), "not an SSL error");
	OK(stream_error_lost(s), "a write error: the connection lost");
	stream_free(s);

	/* A reset: TCP, since only TCP says ECONNRESET. */
	{
		struct sockaddr_in sin;
		struct linger lg = { 1, 0 };
		socklen_t sl = sizeof(sin);
		int ls, cs, as;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ls = socket(AF_INET, SOCK_STREAM, 0);
		cs = socket(AF_INET, SOCK_STREAM, 0);
		if (ls == -1 || cs == -1 ||
		    bind(ls, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    listen(ls, 1) == -1 ||
		    getsockname(ls, (struct sockaddr *)&sin, &sl) == -1 ||
		    connect(cs, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    (as = accept(ls, NULL, NULL)) == -1) {
			OK(0, "loopback TCP: %s", strerror(errno));
			return;
		}
		close(ls);
		s = stream_new(cs);
		/* SO_LINGER 0: close sends RST. */
		(void)setsockopt(as, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(as);
		while ((n = stream_read(s, buf, sizeof(buf))) == -1 &&
		    errno == EAGAIN)
			(void)stream_wait(s, 10000);
		OK(n == -1, "a reset fails the read");
		IS_STR(stream_error(s), "read: Connection reset by peer",
		    "reset text");
		OK(stream_error_lost(s), "a reset: the connection lost");
		stream_free(s);
	}

	/* Garbage under compression. */
	(void)socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	s = stream_new(sv[0]);
	(void)stream_start_compress(s, "\xff\xfe\xfd", 3);
	n = stream_read(s, buf, sizeof(buf));
	OK(n == -1 && errno != EAGAIN, "corrupt deflate data fails");
	OK(strncmp(stream_error(s), "Inflation failed: ", 18) == 0,
	    "inflate error: %s", stream_error(s));
	OK(!stream_error_lost(s), "corrupt data is no lost connection");
	stream_free(s);
	close(sv[1]);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_traffic();
	test_codec();
	test_plain();
	test_compress_echo();
	test_bomb();
	return tap_done();
}
