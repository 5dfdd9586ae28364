/*
 * priv/priv_net.c: the reconnection schedule (backoff, jitter, reset
 * after a good link), what a lost side and a failed connect do in watch
 * mode and without it, the stream handed to the net, and the traffic
 * summary that adds up all the connections of a side.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "ipc.h"
#include "log.h"
#include "conf.h"
#include "priv_net.h"
/* priv/proc.h (struct proc_child), not ipc/proc.h of the same name. */
#include "../../priv/proc.h"

/* ------------------------------------------------------------------ */
/* Log capture: every line but debug, "name: text", joined by " | ". */

static char	 logbuf[16384];

static void
capture(int level, const char *name, const char *mailbox, const char *text)
{
	size_t len = strlen(logbuf);

	(void)mailbox;
	if (level == LOG_LVL_DEBUG)
		return;
	(void)snprintf(logbuf + len, sizeof(logbuf) - len, "%s%s%s%s",
	    len > 0 ? " | " : "", name, *name != '\0' ? ": " : "", text);
}

/* ------------------------------------------------------------------ */
/* Time */

static struct timespec
at_ms(long ms)
{
	struct timespec t;

	/* Far from 0, as CLOCK_MONOTONIC is after a while. */
	t.tv_sec = 100000 + ms / 1000;
	t.tv_nsec = (ms % 1000) * 1000000L;
	return t;
}

/*
 * The instant a respawn of side becomes due, found from the outside
 * (priv_net_timeout() from `from'), in ms since at_ms(0).
 */
static long
due_at(uint32_t side, long from)
{
	struct timespec now = at_ms(from);
	int t;

	t = priv_net_timeout(&now);
	if (t < 0)
		return -1;
	/* priv_net_timeout() rounds up by 1 ms. */
	now = at_ms(from + t - 1);
	if (!priv_net_respawn_due(side, &now)) {
		now = at_ms(from + t);
		return priv_net_respawn_due(side, &now) ? from + t : -2;
	}
	now = at_ms(from + t - 2);
	if (priv_net_respawn_due(side, &now))
		return -3;		/* due earlier than it said */
	return from + t - 1;
}

/* ------------------------------------------------------------------ */
/* Hand-made config */

struct sec {
	struct conf_section	s;
	struct conf_kv		kv[8];
};

/* key, value, ... NULL, keys in strcmp order (conf_get() bisects) */
static void
sec_init(struct sec *sec, ...)
{
	va_list ap;
	const char *k, *v;

	memset(sec, 0, sizeof(*sec));
	sec->s.kv = sec->kv;
	va_start(ap, sec);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		sec->kv[sec->s.nkv].key = strdup(k);
		sec->kv[sec->s.nkv].value = strdup(v);
		sec->s.nkv++;
	}
	va_end(ap);
}

static void
sec_free(struct sec *sec)
{
	size_t i;

	for (i = 0; i < sec->s.nkv; i++) {
		free(sec->kv[i].key);
		free(sec->kv[i].value);
	}
}

/* A TCP port on 127.0.0.1 that nothing listens on any more. */
static void
closed_port(char *buf, size_t size)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s == -1 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(s, (struct sockaddr *)&sin, &len) == -1) {
		OK(0, "closed_port");
		buf[0] = '\0';
	} else
		(void)snprintf(buf, size, "%u", ntohs(sin.sin_port));
	if (s != -1)
		close(s);
}

/* A net child's slot whose channel's other end is *peer. */
static void
fake_net(struct proc_child *c, uint32_t side, int *peer)
{
	int sv[2];

	memset(c, 0, sizeof(*c));
	c->label = side == SIDE_LOCAL ? "net(local)" : "net(remote)";
	c->kind = PROC_NET;
	c->side = side;
	c->pid = -1;
	c->chan.fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    ipc_chan_init(&c->chan, sv[0], PROC_PRIV, PROC_NET) == -1) {
		OK(0, "fake_net");
		*peer = -1;
		return;
	}
	*peer = sv[1];
}

/* The message the fake net got: its type, and its descriptor (closed). */
static uint32_t
net_got(int peer, int *hadfd)
{
	struct ipc_chan ch;
	struct ipc_msg msg;
	uint32_t type = 0;

	*hadfd = 0;
	if (ipc_chan_init(&ch, dup(peer), PROC_NET, PROC_PRIV) == -1)
		return 0;
	if (ipc_get_sync(&ch, &msg) == 1) {
		type = msg.hdr.type;
		*hadfd = msg.fd != -1;
		ipc_msg_free(&msg);
	}
	ipc_chan_close(&ch);
	return type;
}

/* ------------------------------------------------------------------ */

static void
test_backoff(void)
{
	static const unsigned int base[] = { 1000, 2000, 4000, 8000, 16000,
	    32000, 64000, 128000, 256000, 300000, 300000, 300000 };
	unsigned int i, d, lo, hi, prev, n;
	uint32_t r;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		lo = priv_net_backoff(i, 0);
		hi = priv_net_backoff(i, UINT32_MAX);
		d = priv_net_backoff(i, 1U << 31);
		IS_INT(lo, base[i] - base[i] / 5, "backoff: lowest of the "
		    "jitter");
		IS_INT(hi, base[i] + base[i] / 5 > 300000 ? 300000 :
		    base[i] + base[i] / 5, "backoff: highest of the jitter, "
		    "5 minutes at most");
		OK(d >= base[i] - 1 && d <= base[i] + 1,
		    "backoff: attempt %u, middle of the jitter: %u", i, d);
	}
	IS_INT(priv_net_backoff(1000000, UINT32_MAX), 300000,
	    "backoff: no overflow far past the ceiling");
	IS_INT(priv_net_backoff(1000000, 0), 240000,
	    "backoff: the ceiling is jittered too");

	/* Spread over the whole jitter, never outside. */
	for (i = 0; i < 3; i++) {
		lo = UINT32_MAX;
		hi = prev = 0;
		for (n = 0; n < 2000; n++) {
			r = arc4random();
			d = priv_net_backoff(i, r);
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		OK(lo >= base[i] * 4 / 5 && lo < base[i] * 17 / 20,
		    "backoff %u: random waits reach down to -20%% (%u)", i,
		    lo);
		OK(hi <= base[i] * 6 / 5 && hi > base[i] * 23 / 20,
		    "backoff %u: and up to +20%% (%u)", i, hi);
		(void)prev;
	}
}

/* Losses: the waits double, and start again after a good link. */
static void
test_schedule(void)
{
	struct conf conf;
	struct sec tun;
	struct proc_child c;
	struct timespec now;
	long t, due, want[] = { 1000, 2000, 4000, 8000 };
	unsigned int i;
	int peer, hadfd;

	priv_net_init(1);
	memset(&conf, 0, sizeof(conf));
	now = at_ms(0);
	IS_INT(priv_net_timeout(&now), -1, "nothing scheduled");
	OK(priv_net_want_connect(SIDE_REMOTE, 0, &now),
	    "a new side wants connecting");
	OK(!priv_net_respawn_due(SIDE_REMOTE, &now), "nothing to respawn");

	t = 0;
	for (i = 0; i < 4; i++) {
		logbuf[0] = '\0';
		now = at_ms(t);
		priv_net_lost(SIDE_REMOTE, &now);
		OK(!priv_net_want_connect(SIDE_REMOTE, 0, &now),
		    "lost: no connecting before a new net");
		due = due_at(SIDE_REMOTE, t);
		OK(due - t >= want[i] * 4 / 5 && due - t <= want[i] * 6 / 5,
		    "loss %u: respawn after %ld ms (%ld +/- 20%%)", i + 1,
		    due - t, want[i]);
		{
			char line[128];

			(void)snprintf(line, sizeof(line), "remote: connection "
			    "lost; reconnecting in %ld s",
			    (due - t + 500) / 1000);
			IS_STR(logbuf, line, "the line that says so");
		}
		now = at_ms(due);
		OK(priv_net_respawn_due(SIDE_REMOTE, &now), "due then");
		OK(!priv_net_respawn_due(SIDE_LOCAL, &now),
		    "the other side is left alone");
		priv_net_ended();
		priv_net_restarted();
		IS_INT(priv_net_timeout(&now), -1, "respawned: nothing due");
		OK(priv_net_want_connect(SIDE_REMOTE, 0, &now),
		    "the new net wants connecting");
		t = due;
	}

	/* Connected (a tunnel that reads nothing), lost after 59 s. */
	sec_init(&tun, "command", "exec sleep 60", "type", "tunnel", NULL);
	conf.remote = tun.s;
	fake_net(&c, SIDE_REMOTE, &peer);
	now = at_ms(t);
	IS_INT(priv_net_connect(&conf, SIDE_REMOTE, 0, &c, &now), 0,
	    "connect through a tunnel");
	IS_INT(net_got(peer, &hadfd), IMSG_NET_STREAM,
	    "the net got IMSG_NET_STREAM");
	OK(hadfd, "with the stream");
	OK(!priv_net_want_connect(SIDE_REMOTE, 0, &now), "up: no connecting");
	now = at_ms(t + 59000);
	priv_net_lost(SIDE_REMOTE, &now);
	due = due_at(SIDE_REMOTE, t + 59000);
	OK(due - (t + 59000) >= 16000 * 4 / 5,
	    "up 59 s: not long enough, the wait goes on growing (%ld ms)",
	    due - (t + 59000));
	t = due;
	now = at_ms(t);
	priv_net_ended();
	priv_net_restarted();
	IS_INT(priv_net_connect(&conf, SIDE_REMOTE, 0, &c, &now), 0,
	    "connect again");
	IS_INT(net_got(peer, &hadfd), IMSG_NET_STREAM, "IMSG_NET_STREAM");
	now = at_ms(t + 60000);
	priv_net_lost(SIDE_REMOTE, &now);
	due = due_at(SIDE_REMOTE, t + 60000);
	OK(due - (t + 60000) >= 800 && due - (t + 60000) <= 1200,
	    "up 60 s: the schedule starts again at 1 s (%ld ms)",
	    due - (t + 60000));

	/* A schedule the run no longer wants. */
	priv_net_cancel(SIDE_REMOTE);
	now = at_ms(due + 1000);
	OK(!priv_net_respawn_due(SIDE_REMOTE, &now), "cancelled");
	IS_INT(priv_net_timeout(&now), -1, "cancelled: nothing due");

	close(peer);
	ipc_chan_close(&c.chan);
	/* The tunnels (sleep) are ended and reaped. */
	priv_net_finish();
	OK(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	    "no tunnel left behind");
	sec_free(&tun);
}

/* A connect that fails: tried again in watch mode, the end otherwise. */
static void
test_connect_fail(void)
{
	struct conf conf;
	struct sec tcp, bad;
	struct proc_child c;
	struct timespec now;
	char port[16], line[256];
	long due;
	int peer, r;

	closed_port(port, sizeof(port));
	sec_init(&tcp, "host", "127.0.0.1", "port", port, "type", "imap",
	    NULL);
	sec_init(&bad, "host", "[nonsense]", "port", port, "type", "imap",
	    NULL);
	memset(&conf, 0, sizeof(conf));
	conf.local = tcp.s;
	fake_net(&c, SIDE_LOCAL, &peer);

	priv_net_init(0);
	logbuf[0] = '\0';
	now = at_ms(0);
	IS_INT(priv_net_connect(&conf, SIDE_LOCAL, 0, &c, &now), -1,
	    "one-shot: refused ends the run");
	(void)snprintf(line, sizeof(line), "local: ERROR: Can't connect to "
	    "127.0.0.1:%s: Connection refused", port);
	IS_STR(logbuf, line, "one-shot: only the error");
	IS_INT(priv_net_timeout(&now), -1, "one-shot: nothing scheduled");

	priv_net_init(1);
	logbuf[0] = '\0';
	r = priv_net_connect(&conf, SIDE_LOCAL, 0, &c, &now);
	IS_INT(r, 1, "watch: refused is tried again");
	due = priv_net_timeout(&now);
	OK(due >= 800 && due <= 1201, "after about a second (%ld ms)", due);
	(void)snprintf(line, sizeof(line), "local: ERROR: Can't connect to "
	    "127.0.0.1:%s: Connection refused | local: connection failed; "
	    "reconnecting in 1 s", port);
	IS_STR(logbuf, line, "watch: the error, then what happens next");
	OK(!priv_net_want_connect(SIDE_LOCAL, 0, &now), "not before it is due");
	OK(!priv_net_respawn_due(SIDE_LOCAL, &now), "no new net for that");
	now = at_ms(due);
	OK(priv_net_want_connect(SIDE_LOCAL, 0, &now), "due: connect again");
	IS_INT(priv_net_connect(&conf, SIDE_LOCAL, 0, &c, &now), 1,
	    "refused again");
	due = priv_net_timeout(&now);
	OK(due >= 1600 && due <= 2401, "the wait doubles (%ld ms)", due);

	/* A configuration error is not tried again, --watch or not. */
	conf.local = bad.s;
	logbuf[0] = '\0';
	now = at_ms(10000);
	IS_INT(priv_net_connect(&conf, SIDE_LOCAL, 0, &c, &now), -1,
	    "watch: a bad host ends the run");
	IS_STR(logbuf, "local: ERROR: Invalid IP literal: nonsense",
	    "only the error");

	close(peer);
	ipc_chan_close(&c.chan);
	priv_net_finish();
	sec_free(&tcp);
	sec_free(&bad);
}

/* IMSG_NET_STATS of one connection, from a child of kind and state. */
static const char *
stats_from(uint32_t kind, int ready, uint32_t side, uint64_t recv,
    uint64_t recv_raw, uint64_t sent, uint64_t sent_raw)
{
	struct proc_child c;
	struct ipc_buf buf;
	struct ipc_msg msg;
	const char *why;

	memset(&c, 0, sizeof(c));
	c.label = "net";
	c.kind = kind;
	c.side = side;
	c.ready = ready;
	c.chan.fd = -1;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, recv);
	ipc_put_u64(&buf, recv_raw);
	ipc_put_u64(&buf, sent);
	ipc_put_u64(&buf, sent_raw);
	memset(&msg, 0, sizeof(msg));
	msg.hdr.type = IMSG_NET_STATS;
	msg.hdr.len = (uint32_t)buf.len;
	msg.data = buf.data;
	msg.len = buf.len;
	msg.fd = -1;
	why = priv_net_stats(&c, &msg);
	ipc_buf_free(&buf);
	return why;
}

/* ... from a net that is READY. */
static const char *
stats(uint32_t side, uint64_t recv, uint64_t recv_raw, uint64_t sent,
    uint64_t sent_raw)
{
	return stats_from(PROC_NET, 1, side, recv, recv_raw, sent, sent_raw);
}

/*
 * A message out of the child's state is refused and counts for nothing,
 * whoever reads it (the loop, or a dead child's last words).
 */
static void
test_stats_state(void)
{
	priv_net_init(0);
	IS_STR(stats_from(PROC_NET, 0, SIDE_LOCAL, 7, 0, 7, 0),
	    "before IMSG_CHILD_READY", "IMSG_NET_STATS before READY");
	IS_STR(stats_from(PROC_ENGINE, 1, SIDE_NONE, 7, 0, 7, 0),
	    "not from a net", "IMSG_NET_STATS from the engine");
	IS_STR(stats_from(PROC_NET, 1, 7, 7, 0, 7, 0), "not from a net",
	    "IMSG_NET_STATS from a net of no side");
	logbuf[0] = '\0';
	priv_net_finish();
	IS_STR(logbuf, "", "nothing counted: no summary");
	OK(stats(SIDE_LOCAL, 5, 0, 6, 0) == NULL, "after READY: counted");
	IS_STR(stats(SIDE_LOCAL, 5, 0, 6, 0), "sent twice",
	    "a second one is refused");
	logbuf[0] = '\0';
	priv_net_finish();
	IS_STR(logbuf, "local: IMAP traffic (bytes): recv 5 sent 6",
	    "the first one only");
}

static void
test_summary(void)
{
	struct timespec now = at_ms(0);

	priv_net_init(1);
	OK(stats(SIDE_REMOTE, 1000, 0, 100, 0) == NULL, "first connection");
	IS_STR(stats(SIDE_REMOTE, 1, 0, 1, 0), "sent twice",
	    "one net reports once");
	priv_net_lost(SIDE_REMOTE, &now);
	priv_net_ended();
	priv_net_restarted();
	OK(stats(SIDE_REMOTE, 2000, 0, 200, 0) == NULL, "second connection");
	priv_net_lost(SIDE_REMOTE, &now);
	priv_net_ended();
	priv_net_restarted();
	OK(stats(SIDE_REMOTE, 48, 0, 24, 0) == NULL, "third connection");
	OK(stats(SIDE_NONE, 1, 0, 1, 0) != NULL, "not from a net");
	logbuf[0] = '\0';
	priv_net_finish();
	IS_STR(logbuf, "remote: IMAP traffic (bytes): recv 2.98K sent 324",
	    "the summary adds the connections up (3048 and 324 bytes)");

	/* One link deflated, one did not: its plain bytes are its raw. */
	priv_net_init(1);
	OK(stats(SIDE_LOCAL, 4096, 1024, 512, 256) == NULL, "compressed");
	priv_net_lost(SIDE_LOCAL, &now);
	priv_net_ended();
	priv_net_restarted();
	OK(stats(SIDE_LOCAL, 1024, 0, 256, 0) == NULL, "not compressed");
	logbuf[0] = '\0';
	priv_net_finish();
	IS_STR(logbuf, "local: IMAP traffic (bytes): recv 5.00K (compr. "
	    "2.00K, factor 0.40) sent 768 (compr. 512, factor 0.67)",
	    "compression counted over all the connections");
}

int
main(void)
{
	log_set_sink(capture);
	test_backoff();
	test_schedule();
	test_connect_fail();
	test_summary();
	test_stats_state();
	return tap_done();
}
