/*
 * priv's end of logging: formats the reference's log-prefix, honours -q and
 * --debug, writes to stderr and the logfile.  Until logsink_init() is
 * called, messages go to stderr with no prefix (config errors).
 */
#ifndef PRIV_LOGSINK_H
#define PRIV_LOGSINK_H

#include <stddef.h>

struct ipc_msg;

/*
 * logsink_init(fmt, quiet, debug, logfile); installs logsink_emit() with
 * log_set_sink() and calls log_set_debug(debug) on success.
 * fmt: the log-prefix (NULL = default "%?n?%?m?%n(%m)&%n?: ?").
 * quiet: -q (drops LOG_LVL_INFO); debug: the --debug count.
 * logfile: NULL or an absolute path opened for appending.
 * Returns -1 (message printed) if the logfile cannot be opened.
 */
int	 logsink_init(const char *, int, int, const char *);
/* Where lines go besides stderr and the logfile (logsink_config()). */
#define LOGSINK_SYSLOG_NONE	0
#define LOGSINK_SYSLOG		1	/* RFC 3164 datagrams */
#define LOGSINK_JOURNAL		2	/* systemd-journald's native protocol */
#define LOGSINK_SYSLOG_SOCKET	"/dev/log"
#define LOGSINK_JOURNAL_SOCKET	"/run/systemd/journal/socket"

/*
 * logsink_config(audit, mode, socket, facility), after logsink_init():
 * audit lines shown (1) or dropped (0); mode LOGSINK_*; socket NULL for
 * the mode's default; facility the syslog code (LOG_MAIL >> 3 = 2...).
 * 0, or -1 (logged) if the socket cannot be made (nothing goes to
 * syslog then).  A slow receiver is waited for, 2 seconds at most; a
 * line it does not take is lost, with one warning on stderr per run,
 * and from then on no line waits.
 */
int	 logsink_config(int, int, const char *, int);
/* The log_sink_fn installed with log_set_sink(). */
void	 logsink_emit(int, const char *, const char *, const char *);
/*
 * SIGHUP: the logfile is opened again by name (after logrotate moved
 * it), if there is one.  0, or -1 (logged) with the old file kept.
 */
int	 logsink_reopen(void);
/*
 * Handles an IMSG_LOG from a child: 0, or -1 if it is malformed.  With
 * names non-NULL (a NULL-terminated list), the line's name must be one of
 * them (or be empty, for an error), or it is not shown and the result
 * is -2: a child names only
 * itself (a net, its own side), so that no child can write a line that
 * passes for another's (a net's "database: ..." or the other side's
 * "Added" lines).  logsink_names() gives a child's list.
 */
int	 logsink_imsg(const struct ipc_msg *, const char *const *);
/*
 * The names a child of kind PROC_* and side SIDE_* may log under; for a
 * net of another lane than 0 (ipc/proc.h), logsink_net_names(): the same
 * names, another identity (net(local#2)...).
 */
const char *const *logsink_names(uint32_t, uint32_t);
const char *const *logsink_net_names(uint32_t, uint32_t, uint32_t);
/*
 * The process (engine, net(local), net(remote), net(local#2)...; "child"
 * for another list)
 * a list from logsink_names() stands for: the identity logsink_imsg()
 * stamps on the child's lines (%p, the syslog ident, AUDIT[...]).
 */
const char *logsink_proc(const char *const *);
void	 logsink_close(void);

/*
 * Expands a log-prefix format for %n=name and %m=mailbox (either may be
 * NULL or ""): returns a string the caller frees.
 */
char	*logsink_prefix(const char *, const char *, const char *);
/* The same, with %p = the process given (logsink_prefix: "priv"). */
char	*logsink_prefix_proc(const char *, const char *, const char *,
	    const char *);

#endif
