/*
 * priv's side of the servers (priv_net.c): connecting each side once the
 * children are READY and passing the stream to its net child
 * (IMSG_NET_STREAM), the traffic counters the nets report
 * (IMSG_NET_STATS) and the summary printed at the end, and the tunnel
 * processes, reaped at the end.  One run per process: the state is
 * priv_net.c's own.
 */
#ifndef PRIV_PRIV_NET_H
#define PRIV_PRIV_NET_H

#include <stdint.h>

struct conf;
struct ipc_msg;
struct proc_child;

void	 priv_net_init(void);
/*
 * Connects local, then remote (connect_peer()), each stream passed to
 * its net child as soon as it is connected, so that one side's TLS and
 * login run while the other connects.  watch: --watch/--notify.
 * children: priv's table (proc.h).  0, or -1 after logging.
 */
int	 priv_net_connect(const struct conf *, int, struct proc_child *);
/* IMSG_NET_STATS from the net of side: NULL, or why it is broken. */
const char *priv_net_stats(uint32_t, const struct ipc_msg *);
/*
 * A net that exited with EXIT_FAIL or EXIT_PANIC has said why itself:
 * that status, for priv to exit with, quietly.  -1 for anything else
 * (priv names the child and its fate).
 */
int	 priv_net_exitcode(const struct proc_child *);
/*
 * At the end, children gone: "local: IMAP traffic (bytes): ..." then
 * remote (LOG_LVL_INFO: not with -q) for each side that reported its
 * counters or failed to connect, and the tunnels reaped.
 */
void	 priv_net_finish(void);

#endif
