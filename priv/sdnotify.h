/*
 * priv's word to a service manager (sdnotify.c): the sd_notify(3)
 * protocol without libsystemd.  Every function is a no-op when the
 * service manager gave no $NOTIFY_SOCKET, and none ever blocks or fails
 * the run: a message the manager cannot take is dropped.
 *
 * What priv says, and when (priv.c):
 *	READY=1		the children are confined and both servers are
 *			connected (not after the first pass, which may take
 *			hours on a new mirror)
 *	STATUS=...	where the run stands, from the engine's
 *			IMSG_ENGINE_STATUS (sdnotify_status_text())
 *	WATCHDOG=1	from priv's poll loop, at half of $WATCHDOG_USEC
 *	STOPPING=1	once priv starts ending the run
 */
#ifndef PRIV_SDNOTIFY_H
#define PRIV_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SDNOTIFY_ENV_SOCKET	"NOTIFY_SOCKET"
#define SDNOTIFY_ENV_WD_USEC	"WATCHDOG_USEC"
#define SDNOTIFY_ENV_WD_PID	"WATCHDOG_PID"
#define SDNOTIFY_STATUS_MAX	128	/* sdnotify_status_text()'s output */

/*
 * Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID and removes
 * them from the environment, so that no child or tunnel command inherits
 * them (they would speak for the service, or be taken for it).  A socket
 * name that is neither a path nor "@abstract" is ignored (logged at
 * --debug).  Call once, before any child is started.
 */
void	 sdnotify_init(void);
/* 1 if there is a manager to tell, 0 otherwise. */
int	 sdnotify_enabled(void);
/* Sends one datagram of "KEY=VALUE\n..." lines as it is. */
void	 sdnotify_send(const char *);
/* READY=1 with a STATUS= line (status may be NULL). */
void	 sdnotify_ready(const char *);
void	 sdnotify_status(const char *);
/* STOPPING=1, once; later calls do nothing. */
void	 sdnotify_stopping(void);
/*
 * STATUS= from an IMSG_ENGINE_STATUS: state ENGINE_ST_*, the mailboxes
 * of the last pass, its end (epoch seconds, 0: none yet), and the side
 * being reconnected (SIDE_NONE when unknown).
 */
void	 sdnotify_engine_status(uint32_t, uint32_t, uint64_t, uint32_t);
/*
 * The text of such a STATUS= line into buf (SDNOTIFY_STATUS_MAX bytes
 * are always enough), "now" deciding whether the last pass is shown
 * with its date or only its local time:
 *	syncing
 *	syncing, last sync 10:42
 *	idle, 12 mailboxes, last sync 10:42
 *	idle, 1 mailbox, last sync 2026-12-02 23:59
 *	reconnecting remote, last sync 10:42
 * Returns buf.
 */
char	*sdnotify_status_text(char *, size_t, uint32_t, uint32_t, uint64_t,
	    uint32_t, time_t);
/*
 * The poll timeout (ms) that wakes priv up for its next WATCHDOG=1:
 * timeout itself (-1: none) when no watchdog is asked for or it is
 * sooner.
 */
int	 sdnotify_poll_timeout(int);
/* WATCHDOG=1 if half the interval has passed since the last one. */
void	 sdnotify_watchdog(void);
/* Closes the socket; the state is that of a run without a manager. */
void	 sdnotify_close(void);

#endif
