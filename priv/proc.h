/*
 * priv's children: starting them (fork + re-exec with the hidden process
 * flag), the channels to them, reaping them, ending them; and priv's
 * event loop (priv.c), which runs them to the end of the run.
 *
 * Reaping is by pid, never waitpid(-1): tunnel commands are priv's
 * children too and belong to connect_tunnel_reap() (connect.h).
 */
#ifndef PRIV_PROC_H
#define PRIV_PROC_H

#include <sys/types.h>

#include <stdint.h>

#include "ipc.h"

struct cli;
struct conf;
struct db;

/*
 * The engine, then each lane's nets (local, remote): lane 0's are
 * PROC_SLOT_NET_LOCAL and PROC_SLOT_NET_REMOTE.  A run uses the first
 * 1 + 2 * lanes slots; the others are never started (proc_init() makes
 * them reaped, exit status 0, no channel).
 */
enum proc_slot {
	PROC_SLOT_ENGINE = 0,
	PROC_SLOT_NET_LOCAL,
	PROC_SLOT_NET_REMOTE,
	PROC_NSLOTS = 1 + 2 * IPC_LANES_MAX
};
#define PROC_SLOT_NET(lane, side)	(1 + 2 * (int)(lane) + (int)(side))

struct proc_child {
	const char	*label;		/* "engine", "net(local)", "net(local#2)" */
	const char	*flag;		/* "--proc=engine", ... */
	uint32_t	 kind;		/* PROC_ENGINE or PROC_NET */
	uint32_t	 side;		/* SIDE_* of a net, SIDE_NONE */
	uint32_t	 lane;		/* a net's lane, from 0 */
	pid_t		 pid;		/* -1 before the fork */
	struct ipc_chan	 chan;		/* fd -1 once closed */
	int		 ready;		/* IMSG_CHILD_READY seen */
	int		 reaped;	/* status is valid */
	int		 status;	/* wait(2) status */
};

/*
 * Fills children[] (PROC_NSLOTS) with labels and flags for a run of
 * lanes lanes (1 to IPC_LANES_MAX); no process yet.
 */
void	 proc_init(struct proc_child *, unsigned int);
/* Looks up a child by its flag's name ("engine", "net-local", ...). */
int	 proc_slot_by_name(const char *);

/*
 * Creates the socketpairs and starts the children of the lanes given to
 * proc_init(), each with its descriptors from fd 3 up (ipc/proc.h: priv's
 * channel, then the engine's to each net, or the net's to the engine),
 * stdin and stdout on /dev/null, stderr shared.  argv0: how priv was invoked, the fallback
 * if /proc/self/exe cannot be executed.  Returns 0, or -1 after logging
 * (children already started are then ended by the caller).
 */
int	 proc_spawn(struct proc_child *, const char *);

/* Waits for any child that has exited (WNOHANG); returns how many. */
int	 proc_reap(struct proc_child *);
/* Waits for one child for up to ms milliseconds: 0 if it is reaped. */
int	 proc_wait(struct proc_child *, int);
/*
 * Ends every child still running: channels closed (a child leaves at
 * EOF), SIGTERM (for one not yet set up: once set up, children ignore
 * it), then SIGKILL after grace_ms; all reaped.  Safe to call twice.
 */
void	 proc_terminate(struct proc_child *, int);
/*
 * "exited unexpectedly (status 3)", "killed by signal SIGSYS (seccomp)"
 * for a reaped child (static buffer).
 */
const char *proc_status_text(const struct proc_child *);

/* Grace period before SIGKILL, in milliseconds. */
#define PROC_GRACE_MS	2000

/*
 * SIGINT, SIGTERM, SIGHUP and SIGCHLD go to a self-pipe that priv_run()
 * polls; installed before the database is opened, so that an early
 * signal still ends the run cleanly.  A connection attempt gives way to
 * SIGINT and SIGTERM (connect_set_abort()).  0, or -1 after logging.
 */
int	 priv_signals_init(void);

/*
 * The run, from the children's start to their end (priv.c): sends each
 * its configuration, waits for all to be READY, serves their messages,
 * and ends them.  targets: TARGET_* bits (cli_targets()).  Returns the
 * exit code for priv; children are all reaped when it returns.  db stays
 * open; the caller closes it (rolling back what is uncommitted).
 */
int	 priv_run(const struct cli *, const struct conf *, unsigned int,
	    struct db *, const char *);

#endif
