/*
 * priv's side of the servers: see priv_net.h.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "conf.h"
#include "connect.h"
#include "priv_net.h"
#include "proc.h"
#include "traffic.h"

static struct {
	int			 attempted[2];	/* connect_peer() was called */
	int			 failed[2];	/* ... and failed */
	int			 got[2];	/* IMSG_NET_STATS came */
	pid_t			 tunnel[2];	/* -1: none */
	struct traffic_stats	 st[2];
} pn;

void
priv_net_init(void)
{
	memset(&pn, 0, sizeof(pn));
	pn.tunnel[SIDE_LOCAL] = pn.tunnel[SIDE_REMOTE] = -1;
}

int
priv_net_connect(const struct conf *conf, int watch,
    struct proc_child *children)
{
	static const int slots[2] = { PROC_SLOT_NET_LOCAL,
	    PROC_SLOT_NET_REMOTE };
	struct connect_result res;
	struct proc_child *c;
	struct ipc_buf buf;
	uint32_t side;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		c = &children[slots[side]];
		pn.attempted[side] = 1;
		if (connect_peer(side == SIDE_LOCAL ? &conf->local :
		    &conf->remote, watch, ipc_side_name(side), &res) == -1) {
			pn.failed[side] = 1;
			connect_result_free(&res);
			return -1;
		}
		pn.tunnel[side] = res.pid;
		ipc_buf_init(&buf);
		ipc_put_u32(&buf, (uint32_t)res.kind);
		/* The descriptor is closed here once sent. */
		if (c->chan.fd == -1 || ipc_send(&c->chan, IMSG_NET_STREAM,
		    c->side, res.fd, &buf) == -1) {
			log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s: %s",
			    c->label, c->chan.fd == -1 ? "gone" :
			    c->chan.err);
			if (c->chan.fd == -1)
				(void)close(res.fd);
			ipc_buf_free(&buf);
			connect_result_free(&res);
			return -1;
		}
		ipc_buf_free(&buf);
		(void)ipc_flush(&c->chan);
		connect_result_free(&res);
	}
	return 0;
}

const char *
priv_net_stats(uint32_t side, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct traffic_stats st;

	if (side != SIDE_LOCAL && side != SIDE_REMOTE)
		return "not from a net";
	ipc_rd_init(&rd, msg);
	st.recv = ipc_get_u64(&rd);
	st.recv_raw = ipc_get_u64(&rd);
	st.sent = ipc_get_u64(&rd);
	st.sent_raw = ipc_get_u64(&rd);
	if (ipc_rd_end(&rd) == -1)
		return "bad layout";
	if (pn.got[side])
		return "sent twice";
	pn.got[side] = 1;
	pn.st[side] = st;
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
	default:
		return -1;
	}
}

void
priv_net_finish(void)
{
	char line[TRAFFIC_LINE_MAX];
	uint32_t side;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		if (!pn.got[side] && !pn.failed[side])
			continue;
		log_msg(LOG_LVL_INFO, ipc_side_name(side), NULL, "%s",
		    traffic_format(line, sizeof(line), &pn.st[side]));
	}
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		if (pn.tunnel[side] > 0)
			(void)connect_tunnel_reap(pn.tunnel[side]);
		pn.tunnel[side] = -1;
	}
}
