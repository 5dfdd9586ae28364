/*
 * priv's side of the servers (priv_net.c): connecting each side once its
 * net child is READY and passing the stream to it (IMSG_NET_STREAM), the
 * traffic counters the nets report (IMSG_NET_STATS) and the summary
 * printed at the end, the tunnel processes, and, with --watch or
 * --notify, when to connect again after a side lost its connection.
 * One run per process: the state is priv_net.c's own.
 *
 * A side's life in watch mode:
 *
 *	IDLE --connect ok--> UP --net exits EXIT_NET_LOST--> RESPAWN
 *	  |                                                    |
 *	  +--connect fails, transient--> RETRY --due-->        |
 *	  ^                    (same net, connect again)       |
 *	  +--- due: priv starts all three children again ------+
 *	       (priv.c; the other side's link is closed too)
 *
 * Each wait is priv_net_backoff() of the failures since the link last
 * stayed up PRIV_NET_STABLE_MS.  Without --watch there is no RETRY nor
 * RESPAWN: a failure ends the run.
 */
#ifndef PRIV_PRIV_NET_H
#define PRIV_PRIV_NET_H

#include <stdint.h>
#include <time.h>

struct conf;
struct ipc_msg;
struct proc_child;

/* The reconnection schedule: 1 s doubling to 5 min, +/- 20 %. */
#define PRIV_NET_BACKOFF_MIN_MS		1000U
#define PRIV_NET_BACKOFF_MAX_MS		(5U * 60U * 1000U)
#define PRIV_NET_BACKOFF_JITTER_PCT	20U
/* A link up this long was a good one: the schedule starts again. */
#define PRIV_NET_STABLE_MS		(60U * 1000U)

/* watch: --watch/--notify (reconnections, TCP keepalives). */
void	 priv_net_init(int);

/*
 * Should the net of side and lane be connected now?  It has not had a
 * stream yet, or (lane 0) the retry after a failed connect is due.  The caller checks that the
 * net is READY.
 */
int	 priv_net_want_connect(uint32_t, uint32_t, const struct timespec *);
/*
 * Connects side (connect_peer()) and passes the stream to c, the net
 * child of that side and lane, so that one side's TLS and login run while the other connects.
 * Returns 0 (passed on), 1 (watch mode: a transient failure, logged, and
 * a retry scheduled), or -1 (logged: the run ends, unless a signal cut
 * the attempt short: see connect_set_abort()).
 */
int	 priv_net_connect(const struct conf *, uint32_t, uint32_t,
	    struct proc_child *, const struct timespec *);
/*
 * Watch mode: the net of side exited with EXIT_NET_LOST (it has said
 * why).  Logs "<side>: connection lost; reconnecting in N s" and
 * schedules a new net; its tunnel, if any, is left to see EOF and is
 * reaped later.
 */
void	 priv_net_lost(uint32_t, const struct timespec *);
/*
 * The net of side exited EXIT_AUTH_RETRY (its OAuth token refused): may
 * it be started again with a new token?  Once, until a link of that side
 * has stayed up PRIV_NET_STABLE_MS.  priv_net_auth_retry() says so and
 * makes the restart due at once.
 */
int	 priv_net_auth_retry_ok(uint32_t);
void	 priv_net_auth_retry(uint32_t, const struct timespec *);
/* Is side's wait after its lost connection (priv_net_lost()) over? */
int	 priv_net_respawn_due(uint32_t, const struct timespec *);
/* Are both sides connected (their nets given their streams)? */
int	 priv_net_connected(void);
/*
 * Watch mode, every child gone and the run to go on with new ones: the
 * tunnels are reaped, and each side not waiting for its reconnection
 * will be connected once its new net is READY.
 */
void	 priv_net_ended(void);
/* The wait is over, new children started: every side connects. */
void	 priv_net_restarted(void);
/* A lost net's schedule is void (the run is ending): forget it. */
void	 priv_net_cancel(uint32_t);
/* Milliseconds until the next retry or respawn is due, -1 if none. */
int	 priv_net_timeout(const struct timespec *);
/*
 * The wait before attempt n (0: the first after a good link): rnd, a
 * uniform 32-bit random number, places it within the jitter.  In ms.
 */
unsigned int priv_net_backoff(unsigned int, uint32_t);

/*
 * IMSG_NET_STATS from child c: NULL (counted), or why it is broken and
 * not counted: not from a net, before its IMSG_CHILD_READY, a second one
 * from the same net, a bad layout.  Whoever reads a net's messages (the
 * loop, or a dead child's last words) passes them through here.
 */
const char *priv_net_stats(const struct proc_child *, const struct ipc_msg *);
/*
 * A net that exited with EXIT_FAIL, EXIT_PANIC or EXIT_NET_LOST has said
 * why itself: the status for priv to exit with, quietly (EXIT_FAIL for a
 * lost connection that is not connected again).  -1 for anything else
 * (priv names the child and its fate).
 */
int	 priv_net_exitcode(const struct proc_child *);
/* SIGCHLD: reaps the tunnels of lost nets that have left (WNOHANG). */
void	 priv_net_reap(void);
/*
 * At the end, children gone: "local: IMAP traffic (bytes): ..." then
 * remote (LOG_LVL_INFO: not with -q) for each side that reported its
 * counters or failed to connect, each the sum of all the side's
 * connections; and the tunnels reaped.
 */
void	 priv_net_finish(void);

#endif
