/*
 * priv's side of the servers: see priv_net.h.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "conf.h"
#include "conf_proto.h"
#include "connect.h"
#include "priv_net.h"
#include "proc.h"
#include "traffic.h"

enum pn_state {
	PN_IDLE = 0,		/* its net has no stream: connect when READY */
	PN_UP,			/* the net has the stream, since `since' */
	PN_RETRY,		/* connecting failed: again at `due' */
	PN_RESPAWN,		/* the net lost its link: a new one at due */
};

/* More would only overflow: the schedule is at its ceiling long before. */
#define PN_ATTEMPTS_MAX	64

struct pn_side {
	enum pn_state		 state;
	unsigned int		 attempts;	/* failures since a good link */
	struct timespec		 since;		/* PN_UP: stream passed */
	struct timespec		 due;		/* PN_RETRY, PN_RESPAWN */
	int			 failed;	/* a connect failed once */
	int			 got;		/* some net's counters came */
	/*
	 * Each lane's net (one-shot runs may have several; the state
	 * above is lane 0's, the only one in watch mode).
	 */
	struct {
		int		 up;		/* its stream passed */
		int		 got_this;	/* its counters came */
		pid_t		 tunnel;	/* its tunnel, or -1 */
	}			 ln[IPC_LANES_MAX];
	pid_t			 old_tunnel;	/* lane 0's lost net's, or -1 */
	struct traffic_stats	 st;		/* plain: the sum */
	struct traffic_stats	 raw;		/* on the wire: the sum */
	int			 compr_recv;	/* some link deflated recv */
	int			 compr_sent;	/* ... sent */
	int			 auth_retried;	/* a new token asked for */
};

static struct {
	int		 watch;
	struct pn_side	 s[2];
} pn;

static long	 pn_ms_until(const struct timespec *, const struct timespec *);
static void	 pn_schedule(struct pn_side *, enum pn_state,
		    const struct timespec *);
static void	 pn_add(struct pn_side *, const struct traffic_stats *);
static int	 pn_tunnel_gone(uint32_t, pid_t);
static void	 pn_tunnel_reap(uint32_t, pid_t);
static void	 pn_tunnel_retire(struct pn_side *);
static void	 pn_lanes_reset(struct pn_side *);
static void	 pn_tunnels_reap(uint32_t);

void
priv_net_init(int watch)
{
	uint32_t side;

	memset(&pn, 0, sizeof(pn));
	pn.watch = watch;
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++)
		pn_lanes_reset(&pn.s[side]);
}

/* No lane has a stream or a tunnel. */
static void
pn_lanes_reset(struct pn_side *s)
{
	size_t k;

	for (k = 0; k < IPC_LANES_MAX; k++) {
		s->ln[k].up = s->ln[k].got_this = 0;
		s->ln[k].tunnel = -1;
	}
	s->old_tunnel = -1;
}

/* Every lane's tunnel (and lane 0's lost one) waited for. */
static void
pn_tunnels_reap(uint32_t side)
{
	struct pn_side *s = &pn.s[side];
	size_t k;

	for (k = 0; k < IPC_LANES_MAX; k++) {
		if (s->ln[k].tunnel > 0)
			pn_tunnel_reap(side, s->ln[k].tunnel);
		s->ln[k].tunnel = -1;
	}
	if (s->old_tunnel > 0)
		pn_tunnel_reap(side, s->old_tunnel);
	s->old_tunnel = -1;
}

/* b - a in milliseconds. */
static long
pn_ms_until(const struct timespec *a, const struct timespec *b)
{
	return (long)(b->tv_sec - a->tv_sec) * 1000L +
	    (b->tv_nsec - a->tv_nsec) / 1000000L;
}

unsigned int
priv_net_backoff(unsigned int attempt, uint32_t rnd)
{
	uint64_t base, jitter, d;

	/* 1000 << 9 is past the ceiling already. */
	if (attempt >= 9)
		base = PRIV_NET_BACKOFF_MAX_MS;
	else
		base = (uint64_t)PRIV_NET_BACKOFF_MIN_MS << attempt;
	if (base > PRIV_NET_BACKOFF_MAX_MS)
		base = PRIV_NET_BACKOFF_MAX_MS;
	/*
	 * Spread over +/- jitter, so that many clients cut off together
	 * (a server restart) do not all come back in the same second.
	 */
	jitter = base * PRIV_NET_BACKOFF_JITTER_PCT / 100;
	d = base - jitter + (((uint64_t)rnd * (2 * jitter + 1)) >> 32);
	if (d > PRIV_NET_BACKOFF_MAX_MS)
		d = PRIV_NET_BACKOFF_MAX_MS;
	return (unsigned int)d;
}

/* The next wait of side s, from now; logs nothing. */
static void
pn_schedule(struct pn_side *s, enum pn_state state,
    const struct timespec *now)
{
	unsigned int ms;

	ms = priv_net_backoff(s->attempts, arc4random());
	if (s->attempts < PN_ATTEMPTS_MAX)
		s->attempts++;
	s->state = state;
	s->due = *now;
	s->due.tv_sec += ms / 1000;
	s->due.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (s->due.tv_nsec >= 1000000000L) {
		s->due.tv_sec++;
		s->due.tv_nsec -= 1000000000L;
	}
}

int
priv_net_want_connect(uint32_t side, uint32_t lane,
    const struct timespec *now)
{
	const struct pn_side *s = &pn.s[side];

	if (lane != 0)
		return !s->ln[lane].up;
	return s->state == PN_IDLE ||
	    (s->state == PN_RETRY && pn_ms_until(now, &s->due) <= 0);
}

int
priv_net_connect(const struct conf *conf, uint32_t side, uint32_t lane,
    struct proc_child *c, const struct timespec *now)
{
	struct pn_side *s = &pn.s[side];
	struct connect_result res;
	struct ipc_buf buf;
	const char *name = ipc_side_name(side);

	if (connect_peer(side == SIDE_LOCAL ? &conf->local : &conf->remote,
	    pn.watch, name, &res) == -1) {
		s->failed = 1;
		connect_result_free(&res);
		/* Only lane 0 is tried again (watch mode has no other). */
		if (!pn.watch || !res.transient || lane != 0)
			return -1;
		/* connect_peer() said why. */
		pn_schedule(s, PN_RETRY, now);
		log_msg(LOG_LVL_NOTICE, name, NULL, "connection failed; "
		    "reconnecting in %ld s",
		    (pn_ms_until(now, &s->due) + 500) / 1000);
		return 1;
	}
	s->ln[lane].tunnel = res.pid;
	s->ln[lane].up = 1;
	ipc_buf_init(&buf);
	if (res.proxied) {
		/* The net asks the proxy: priv reads nothing it says. */
		ipc_put_u32(&buf, NET_STREAM_SOCKS5);
		ipc_put_u32(&buf, res.socks_target.atyp);
		ipc_put_data(&buf, res.socks_target.addr,
		    res.socks_target.addrlen);
		ipc_put_u32(&buf, res.socks_target.port);
		ipc_put_u32(&buf, (uint32_t)connect_get_timeout());
		ipc_put_str(&buf, res.socks_user);
		ipc_put_str(&buf, res.socks_pass);
	} else
		ipc_put_u32(&buf, res.kind == CONNECT_TUNNEL ?
		    NET_STREAM_TUNNEL : NET_STREAM_TCP);
	/* The descriptor is closed by the channel once sent. */
	if (c->chan.fd == -1 || ipc_send(&c->chan, IMSG_NET_STREAM,
	    c->side, res.fd, &buf) == -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s: %s",
		    c->label, c->chan.fd == -1 ? "gone" : c->chan.err);
		(void)close(res.fd);
		ipc_buf_free(&buf);
		connect_result_free(&res);
		return -1;
	}
	ipc_buf_free(&buf);
	(void)ipc_flush(&c->chan);
	connect_result_free(&res);
	if (lane != 0)
		return 0;
	if (s->attempts > 0)
		log_debug("%s: connected again after %u failure(s)", name,
		    s->attempts);
	s->state = PN_UP;
	s->since = *now;
	return 0;
}

/*
 * The net of s is gone: its tunnel becomes the old one, reaped when it
 * leaves.  A tunnel before it that has not left yet (it had a whole wait
 * and a SIGTERM) is not waited for any longer.
 */
static void
pn_tunnel_retire(struct pn_side *s)
{
	uint32_t side = (uint32_t)(s - pn.s);
	int status;

	if (s->old_tunnel > 0 && !pn_tunnel_gone(side, s->old_tunnel)) {
		(void)kill(s->old_tunnel, SIGKILL);
		status = -1;
		while (waitpid(s->old_tunnel, &status, 0) == -1 &&
		    errno == EINTR)
			;
		connect_audit_end(ipc_side_name(side), "tunnel",
		    s->old_tunnel, status);
	}
	s->old_tunnel = s->ln[0].tunnel;
	s->ln[0].tunnel = -1;
}

void
priv_net_lost(uint32_t side, const struct timespec *now)
{
	struct pn_side *s = &pn.s[side];

	if (s->state == PN_UP &&
	    pn_ms_until(&s->since, now) >= (long)PRIV_NET_STABLE_MS) {
		s->attempts = 0;
		/* That token worked: the next one may be refused once. */
		s->auth_retried = 0;
	}
	pn_tunnel_retire(s);
	pn_schedule(s, PN_RESPAWN, now);
	/* The net has said why; this says what happens next. */
	log_msg(LOG_LVL_NOTICE, ipc_side_name(side), NULL, "connection lost; "
	    "reconnecting in %ld s", (pn_ms_until(now, &s->due) + 500) / 1000);
}

int
priv_net_auth_retry_ok(uint32_t side)
{
	return !pn.s[side].auth_retried;
}

void
priv_net_auth_retry(uint32_t side, const struct timespec *now)
{
	struct pn_side *s = &pn.s[side];

	s->auth_retried = 1;
	pn_tunnel_retire(s);
	s->state = PN_RESPAWN;
	s->due = *now;
	log_msg(LOG_LVL_NOTICE, ipc_side_name(side), NULL, "access token "
	    "refused; asking oauth-token-command for a new one");
}

int
priv_net_respawn_due(uint32_t side, const struct timespec *now)
{
	const struct pn_side *s = &pn.s[side];

	return s->state == PN_RESPAWN && pn_ms_until(now, &s->due) <= 0;
}

int
priv_net_connected(void)
{
	return pn.s[SIDE_LOCAL].state == PN_UP &&
	    pn.s[SIDE_REMOTE].state == PN_UP;
}

void
priv_net_ended(void)
{
	struct pn_side *s;
	uint32_t side;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		s = &pn.s[side];
		/*
		 * Every net has gone: the tunnels see EOF (or SIGTERM,
		 * from connect_tunnel_reap()) and are waited for, so
		 * that none is left behind by a run that goes on.
		 */
		pn_tunnels_reap(side);
		pn_lanes_reset(s);
		if (s->state != PN_RESPAWN)
			s->state = PN_IDLE;
	}
}

void
priv_net_restarted(void)
{
	uint32_t side;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++)
		pn.s[side].state = PN_IDLE;
}

void
priv_net_cancel(uint32_t side)
{
	struct pn_side *s = &pn.s[side];

	if (s->state == PN_RESPAWN || s->state == PN_RETRY)
		s->state = PN_IDLE;
}

int
priv_net_timeout(const struct timespec *now)
{
	const struct pn_side *s;
	uint32_t side;
	long ms, best = -1;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		s = &pn.s[side];
		if (s->state != PN_RETRY && s->state != PN_RESPAWN)
			continue;
		ms = pn_ms_until(now, &s->due);
		if (ms < 0)
			ms = 0;
		/* Rounded up: woken a little early, nothing would be due. */
		if (best == -1 || ms + 1 < best)
			best = ms + 1;
	}
	return (int)best;
}

/* Has tunnel pid left (reaped now or before)? */
static int
pn_tunnel_gone(uint32_t side, pid_t pid)
{
	pid_t r;
	int status;

	while ((r = waitpid(pid, &status, WNOHANG)) == -1 && errno == EINTR)
		;
	if (r == pid)
		connect_audit_end(ipc_side_name(side), "tunnel", pid, status);
	return r != 0;		/* reaped, or not ours any more */
}

/* Tunnel pid of side waited for (EOF, SIGTERM, SIGKILL), and audited. */
static void
pn_tunnel_reap(uint32_t side, pid_t pid)
{
	connect_audit_end(ipc_side_name(side), "tunnel", pid,
	    connect_tunnel_reap(pid));
}

void
priv_net_reap(void)
{
	uint32_t side;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++)
		if (pn.s[side].old_tunnel > 0 &&
		    pn_tunnel_gone(side, pn.s[side].old_tunnel))
			pn.s[side].old_tunnel = -1;
}

/*
 * One connection's counters into the side's sums.  A link that never
 * deflated has no raw counts: its plain bytes are what went on the wire,
 * and count as such once another link of the side did deflate.
 */
static void
pn_add(struct pn_side *s, const struct traffic_stats *st)
{
	s->st.recv += st->recv;
	s->st.sent += st->sent;
	s->raw.recv += st->recv_raw != 0 ? st->recv_raw : st->recv;
	s->raw.sent += st->sent_raw != 0 ? st->sent_raw : st->sent;
	s->compr_recv |= st->recv_raw != 0;
	s->compr_sent |= st->sent_raw != 0;
}

const char *
priv_net_stats(const struct proc_child *c, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct traffic_stats st;
	struct pn_side *s;

	/*
	 * The child's state first: every way a message comes in (the loop,
	 * or the last words read after its end) goes through here.
	 */
	if (c->kind != PROC_NET ||
	    (c->side != SIDE_LOCAL && c->side != SIDE_REMOTE))
		return "not from a net";
	if (!c->ready)
		return "before IMSG_CHILD_READY";
	s = &pn.s[c->side];
	if (c->lane >= IPC_LANES_MAX || s->ln[c->lane].got_this)
		return "sent twice";
	ipc_rd_init(&rd, msg);
	st.recv = ipc_get_u64(&rd);
	st.recv_raw = ipc_get_u64(&rd);
	st.sent = ipc_get_u64(&rd);
	st.sent_raw = ipc_get_u64(&rd);
	if (ipc_rd_end(&rd) == -1)
		return "bad layout";
	s->ln[c->lane].got_this = s->got = 1;
	pn_add(s, &st);
	return NULL;
}

int
priv_net_exitcode(const struct proc_child *c)
{
	if (c->kind != PROC_NET || !c->reaped || !WIFEXITED(c->status))
		return -1;
	switch (WEXITSTATUS(c->status)) {
	case EXIT_FAIL:
	case EXIT_PANIC:
		return WEXITSTATUS(c->status);
	case EXIT_NET_LOST:
	case EXIT_AUTH_RETRY:
		return EXIT_FAIL;
	default:
		return -1;
	}
}

void
priv_net_finish(void)
{
	char line[TRAFFIC_LINE_MAX];
	struct traffic_stats st;
	struct pn_side *s;
	uint32_t side;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		s = &pn.s[side];
		if (!s->got && !s->failed)
			continue;
		st.recv = s->st.recv;
		st.sent = s->st.sent;
		st.recv_raw = s->compr_recv ? s->raw.recv : 0;
		st.sent_raw = s->compr_sent ? s->raw.sent : 0;
		log_msg(LOG_LVL_INFO, ipc_side_name(side), NULL, "%s",
		    traffic_format(line, sizeof(line), &st));
	}
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++)
		pn_tunnels_reap(side);
}
