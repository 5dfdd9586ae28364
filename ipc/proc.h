/*
 * The processes of interimap and what they share: who is who, which file
 * descriptors a re-executed child finds, the entry points main() dispatches
 * to, and the exit codes.
 */
#ifndef IPC_PROC_H
#define IPC_PROC_H

#include <stdint.h>

/* Process kinds, as bits so the catalogue can name several senders. */
enum ipc_proc {
	PROC_PRIV = 0x1,
	PROC_ENGINE = 0x2,
	PROC_NET = 0x4,
};
#define PROC_CHILD	(PROC_ENGINE | PROC_NET)
#define PROC_ANY	(PROC_PRIV | PROC_ENGINE | PROC_NET)

/* peerid values: which server a message concerns. */
enum ipc_side {
	SIDE_LOCAL = 0,
	SIDE_REMOTE = 1,
	SIDE_NONE = 0xffffffffU,
};
const char	*ipc_side_name(uint32_t);	/* "local", "remote", "" */

/*
 * Children are the same binary re-executed as
 *	interimap --proc=engine | --proc=net-local | --proc=net-remote
 * with these descriptors open and nothing else.
 */
#define IPC_PROC_FLAG		"--proc="
#define IPC_FD_PARENT		3	/* every child: channel to priv */
#define IPC_FD_ENGINE		4	/* net: channel to the engine */
#define IPC_FD_NET_LOCAL	4	/* engine: channel to net(local) */
#define IPC_FD_NET_REMOTE	5	/* engine: channel to net(remote) */
/*
 * Lanes: a run may have up to IPC_LANES_MAX connections to each server,
 * each its own net child (the `connections' key).  Lane k's nets are
 * the engine's descriptors IPC_FD_NET_LOCAL + 2k (local) and
 * IPC_FD_NET_LOCAL + 2k + 1 (remote); lane 0 is the pair above.
 */
#define IPC_LANES_MAX		8
#define IPC_FD_NET(lane, side)	(IPC_FD_NET_LOCAL + 2 * (lane) + (side))
/*
 * The process name of the net of side and lane: "net(local)" for lane 0,
 * "net(local#2)" for lane 1 and so on (priv's labels, the identity it
 * stamps on the net's lines); "net" for anything else.
 */
const char	*ipc_net_label(uint32_t, uint32_t);

int	 engine_main(int, char **);
int	 net_main(int, char **, uint32_t /* side */);

/*
 * Exit codes (documented in interimap(1), EXIT STATUS).  The reference
 * exits with whatever errno happened to hold; ours are fixed.
 */
#define EXIT_OK		0	/* success, --help, --version, SIGTERM */
#define EXIT_FAIL	1	/* usage error, server or sync error, SIGINT */
#define EXIT_CONFIG	2	/* configuration file or command-line value */
#define EXIT_DB		3	/* database: locked, corrupt, unusable */
#define EXIT_CHILD	4	/* a child process died or broke the IPC rules */
#define EXIT_PANIC	255	/* a server violated the protocol */

/*
 * A net's own exit code, never priv's: the connection was lost or the
 * server went silent (EOF, a read or write error, no answer in time), a
 * transient fault.  With --watch priv connects again; otherwise the run
 * ends with EXIT_FAIL.  Permanent faults (authentication, certificate,
 * protocol) keep EXIT_FAIL / EXIT_PANIC.
 */
#define EXIT_NET_LOST	5

/*
 * The classification behind it, for priv's connect and the net's SOCKS5
 * exchange alike (ipc/transient.c): is errno value e a network condition
 * that may clear by itself?
 */
int	 errno_transient(int);
/*
 * A net's own status too: the server refused the OAuth access token
 * (XOAUTH2, OAUTHBEARER), which may only have expired.  priv asks
 * oauth-token-command for a new one and starts again, once per side;
 * refused again, the run ends with EXIT_FAIL.
 */
#define EXIT_AUTH_RETRY	6

/* IMSG_ENGINE_STATUS states. */
#define ENGINE_ST_SYNCING	1	/* a pass is running */
#define ENGINE_ST_IDLE		2	/* waiting for changes or the timer */
#define ENGINE_ST_RECONNECT	3	/* a server is being reconnected */

#endif
