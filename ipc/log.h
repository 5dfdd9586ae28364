/*
 * Logging.  Every process calls the same functions; in a child they become
 * IMSG_LOG messages to priv, in priv they go to the sink, which applies the
 * log-prefix, -q, --debug and the logfile.
 *
 * name is the %n of the log-prefix ("local", "remote", "database", or ""
 * for global messages); mailbox is %m (NULL or "" for none).
 */
#ifndef IPC_LOG_H
#define IPC_LOG_H

#include <stdarg.h>
#include <stdint.h>

struct ipc_chan;

enum log_level {
	LOG_LVL_ERROR = 0,	/* never silenced; text carries "ERROR: " */
	LOG_LVL_WARN = 1,	/* never silenced; text carries "WARNING: " */
	LOG_LVL_NOTICE = 2,	/* never silenced (Created mailbox in db, ...) */
	LOG_LVL_INFO = 3,	/* silenced by -q */
	LOG_LVL_DEBUG = 4,	/* shown with --debug */
	LOG_LVL_AUDIT = 5,	/* shown with --audit or audit = yes, not
				 * silenced by -q; priv stamps the process */
	LOG_LVL_MAX = 5,
};

/* The sink priv installs; children leave it NULL and set a channel. */
typedef void (*log_sink_fn)(int, const char *, const char *, const char *);

void	 log_set_sink(log_sink_fn);
void	 log_set_chan(struct ipc_chan *);
/* --debug count: 0 none, 1 debug with credentials redacted, 2+ all. */
void	 log_set_debug(int);
int	 log_debug_level(void);
/* Default %n for the short forms below ("local" in net(local)). */
void	 log_set_name(const char *);
const char *log_get_name(void);
/* Default %m for the short forms below; NULL clears it. */
void	 log_set_mailbox(const char *);
/*
 * LOG_LVL_AUDIT lines go out only after log_set_audit(1): in priv with
 * --audit, in a child when priv's configuration says so.
 */
void	 log_set_audit(int);
int	 log_audit(void);

/*
 * log_msg(level, name, mailbox, fmt, ...): the text goes out as given (no
 * "ERROR: "/"WARNING: " added); NULL name or mailbox means "".  The short
 * forms below add "ERROR: " (log_error) or "WARNING: " (log_warnx,
 * log_warn) themselves.  None of these change errno.
 */
void	 log_msg(int, const char *, const char *, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
void	 log_vmsg(int, const char *, const char *, const char *, va_list);

/* Short forms with the default name and mailbox. */
void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/*
 * An audit line (LOG_LVL_AUDIT) with the default name and mailbox: one
 * change interimap made, "VERB key=value ...", never a message's content
 * or a secret.  priv adds "AUDIT[process] " from the channel it came by.
 */
void	 audit(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * fatal: "ERROR: <text>: <strerror(errno)>", fatalx: "ERROR: <text>";
 * both flush the log channel and exit with the given code.
 */
void	 fatal(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	 fatalx(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#endif
