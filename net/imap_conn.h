/*
 * One IMAP connection in the net child: the session (greeting,
 * CAPABILITY, STARTTLS, authentication, COMPRESS, ENABLE QRESYNC,
 * LOGOUT) and the machinery every command goes through (tags, the write
 * queue with literals and continuations, the read/parse pump, the
 * protocol log of --debug, the set-up and stall timers).  What the
 * engine asks for is imap_ops.c's; it builds commands with the
 * functions below.
 *
 * Event loop contract (net/net.c):
 *
 *	poll(imap_conn_fd(), imap_conn_events()) with
 *	    imap_conn_timeout() as the timeout;
 *	imap_conn_io(c) after every poll, whatever woke it up: it writes
 *	    what it can, reads and parses what it can (stopping while the
 *	    engine is congested: hooks.congested), and checks the timers;
 *	a zero timeout while imap_conn_input_pending(c).
 *
 * Errors never return: the connection logs "<side>: ERROR: ..." (or the
 * reference's unprefixed message for a missing capability) and calls
 * hooks.fatal(code), which ends the process with that code.
 *
 * Fault classes.  A transient fault is the connection's: the server
 * went away, restarted, or went silent; with --watch priv starts a new
 * net for the side and the engine resumes.  A permanent one needs
 * someone to change something (the configuration, the account, the
 * server) and ends the run.  Every way a connection ends badly:
 *
 *   what happened                                class      exit code
 *   ------------------------------------------   ---------  -------------
 *   EOF from the server: between responses,      transient  EXIT_NET_LOST
 *     inside one, after a BYE or not
 *   BYE as the greeting (too many connections,   transient  EXIT_NET_LOST
 *     shutting down: "not now")
 *   a read or write error on the socket          transient  EXIT_NET_LOST
 *     (ECONNRESET, EPIPE, ETIMEDOUT, ...; not
 *     EBADF/EFAULT/EINVAL, our bugs: stream.c)
 *   TLS: the peer gone during the handshake;     transient  EXIT_NET_LOST
 *     an established session torn down (an
 *     I/O error, an alert, a bad record)
 *   a set-up phase over IMAP_SETUP_TIMEOUT       transient  EXIT_NET_LOST
 *   a stall over IMAP_STALL_TIMEOUT (below)      transient  EXIT_NET_LOST
 *   NO [UNAVAILABLE] to LOGIN/AUTHENTICATE       transient  EXIT_NET_LOST
 *     (RFC 5530: a subsystem of the server is
 *     down, not a refusal of the credentials)
 *   untagged [NOTIFICATIONOVERFLOW] (events      transient  EXIT_NET_LOST
 *     were lost; a new session resynchronises)
 *   TLS refusing the peer: certificate chain,    permanent  EXIT_FAIL
 *     host name, SSL_fingerprint, protocol
 *     version or cipher in common
 *   authentication refused (NO/BAD)              permanent  EXIT_FAIL
 *   a capability missing, no usable mechanism,   permanent  EXIT_FAIL
 *     LOGINDISABLED, PREAUTH in plain text, a
 *     set-up command refused (NO/BAD), ENABLE
 *     QRESYNC without ENABLED
 *   untagged [BADCHARSET] or [BADEVENT]          permanent  EXIT_FAIL
 *   corrupt compressed data, a local failure     permanent  EXIT_FAIL
 *     (out of memory, zlib, TLS set-up)
 *   a protocol violation (unparsable response,   permanent  EXIT_PANIC
 *     unknown tag, stray "+", EXPUNGE under
 *     QRESYNC, a response too large to pass on)
 *
 * Not the connection's and not decided here (net.c, imap_ops.c): the
 * engine gone (LOGOUT, then EXIT_OK when priv says), priv gone
 * (EXIT_OK), a broken IPC message (EXIT_CHILD).  An EOF once LOGOUT is
 * sent is the normal end, not a fault.
 *
 * Pipelining.  Commands are written in the order they are submitted,
 * without waiting for earlier answers.  A literal is non-synchronising
 * ({N+}) when the server has LITERAL+ (or LITERAL- and N <= 4096);
 * otherwise the writer sends {N}, stops, and goes on at the server's "+"
 * (a tagged NO/BAD instead ends that command and the writer skips the
 * rest of it).  A command may be submitted before all of it is known
 * (APPEND whose message bodies are still arriving from the engine): the
 * writer sends what there is and waits for the rest.  Tagged answers are
 * matched by tag, in whatever order they come; a tag we never sent is a
 * protocol violation.
 */
#ifndef NET_IMAP_CONN_H
#define NET_IMAP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "traffic.h"

struct imap_conn;
struct imap_cmd;
struct imap_resp;
struct imap_event;
struct tls_ctx;

/* Connection types (the `type` key). */
enum imap_type {
	IMAP_TYPE_TUNNEL = 0,
	IMAP_TYPE_IMAP,
	IMAP_TYPE_IMAPS,
};

/*
 * Timers (REFERENCE-BEHAVIOUR.md 4.1 and 9.5: the reference sets a 30 s
 * socket timeout for the whole session, which also aborts slow answers).
 *
 * Set-up.  The greeting, the TLS handshake (imaps, or after STARTTLS's
 * OK) and the answer to each set-up command (CAPABILITY, STARTTLS,
 * LOGIN or AUTHENTICATE with its continuations, COMPRESS, ENABLE) must
 * come within IMAP_SETUP_TIMEOUT of the start of that phase, however
 * the bytes trickle: "No greeting from the server within 30 s", "TLS
 * handshake did not complete within 30 s", "No answer to LOGIN within
 * 30 s".  30 s as the reference: these answers are small and quick.
 *
 * The session.  The server is stalled when, for IMAP_STALL_TIMEOUT,
 *  - it owes an answer and sent nothing: the clock starts when the last
 *    byte of the oldest command it owes went out (or when it started to
 *    owe a "+"), and restarts with every byte received: "The server sent
 *    nothing for 120 s while an answer was due"; or
 *  - our output is blocked (the socket takes nothing) and not a byte
 *    moved either way: "The server took none of our data for 120 s".
 * Not a stall: a slow answer (bytes come), a big literal going out
 * (bytes go), a command still being written at the engine's pace,
 * nothing in flight, an IDLE that got its "+" (events come when they
 * come; the engine probes an idle session itself), or the engine behind
 * (we stopped reading: the server waits for us, and the clock restarts
 * when we read again).  120 s: four times the reference's bound, which
 * was too short for a server working on a big mailbox (a SELECT or
 * EXPUNGE on a cold index, an APPEND to slow storage take tens of
 * seconds without a byte), yet a hung server (its TCP alive, its
 * process not) is given up in two minutes, not ten; a dead peer or
 * path is the business of TCP keepalive (priv sets it for --watch).
 *
 * A READY connection idle for IMAP_IDLE_PROBE gets a NOOP, so that a
 * peer that died while we were idle is noticed.
 *
 * Every timeout is a transient fault (EXIT_NET_LOST).  A test hook (the
 * test build only, ipc/testhooks.h) replaces both bounds, and the probe
 * interval becomes half of it.
 */
#define IMAP_SETUP_TIMEOUT	30
#define IMAP_STALL_TIMEOUT	120
#define IMAP_IDLE_PROBE		300

/* Flow control: bytes of commands queued but not yet written. */
#define IMAP_OUT_HWM		(256 * 1024)	/* given to the stream */
#define IMAP_QUEUE_HWM		(1024 * 1024) /* then stop the engine */

/*
 * The section's connection settings, as net.c read them.  Strings are
 * borrowed; password is wiped by its owner once imap_conn_free() or the
 * "ready" hook has been called (the connection keeps no copy past the
 * authentication command, whose bytes are wiped as they are written).
 */
/*
 * How a mailbox's changes since the last sync are found (`sync-method'):
 * QRESYNC (RFC 7162: the SELECT reports expunges and flag changes), or
 * CONDSTORE alone (flag changes with CHANGEDSINCE, expunges by comparing
 * the server's UID list with the UIDs below the last synced UIDNEXT,
 * imap_ops.c), or PLAIN IMAP4rev1 (the same UID list, and the flags of
 * every known message, which the engine compares with those it kept
 * from the last sync).  AUTO: the best the server offers.
 */
enum imap_method {
	IMAP_METHOD_AUTO = 0,
	IMAP_METHOD_QRESYNC,
	IMAP_METHOD_CONDSTORE,
	IMAP_METHOD_PLAIN,
};

struct imap_conn_conf {
	enum imap_type	 type;
	const char	*host;		/* for TLS (certificate, SNI) */
	int		 starttls;	/* STARTTLS = YES (type imap only) */
	const char	*auth;		/* `auth`: "PLAIN LOGIN" */
	const char	*username;	/* NULL if unset */
	char		*password;	/* NULL if unset */
	char		*oauth_token;	/* from oauth-token-command, or NULL */
	int		 compress;	/* COMPRESS=DEFLATE wanted */
	int		 notify;	/* --notify: LIST-STATUS not needed */
	/*
	 * One of the extra connections (`connections', NET_CONF_SPARE):
	 * failing before the session is established is a warning, the
	 * run going on without it.
	 */
	int		 spare;
	enum imap_method method;	/* `sync-method' */
	struct tls_ctx	*tls;		/* imaps or STARTTLS; else NULL */
};

struct imap_conn_hooks {
	/*
	 * The session is established (capabilities checked, QRESYNC or
	 * CONDSTORE on).
	 */
	void	(*ready)(void *);
	/* An untagged response once ready (not CAPABILITY/ENABLED/BYE). */
	void	(*untagged)(void *, const struct imap_resp *);
	/* IMAP_EV_BODY_BEGIN/CHUNK/END/TOOBIG of a FETCH, once ready. */
	void	(*body)(void *, const struct imap_event *);
	/* Non-zero: stop parsing until the engine has caught up. */
	int	(*congested)(void *);
	/* The session is over after imap_conn_logout() (or EOF then). */
	void	(*closed)(void *);
	/* A fatal error was logged: end the process with this code. */
	void	(*fatal)(void *, int);
	void	*arg;
};

/* A command's completion: the tagged response (NULL never). */
typedef void (*imap_cmd_cb)(struct imap_conn *, struct imap_cmd *,
    const struct imap_resp *, void *);

/* ---- the connection ----------------------------------------------------- */

/* NULL if out of memory.  conf is copied (strings borrowed). */
/*
 * The credentials of an extra connection, given before its stream
 * (NET_CONF_SPARE): they replace the configuration's, which had none.
 */
void	 imap_conn_set_secrets(struct imap_conn *, char *, char *);
struct imap_conn *imap_conn_new(const struct imap_conn_conf *,
		    const struct imap_conn_hooks *);
/*
 * Replaces both bounds (IMAP_SETUP_TIMEOUT, IMAP_STALL_TIMEOUT) by ms
 * milliseconds, the idle probe by half of it: the tests' short timers.
 */
void	 imap_conn_set_timeout(struct imap_conn *, int64_t);
/* Closes the stream (after a best-effort TLS close_notify). */
void	 imap_conn_free(struct imap_conn *);
/*
 * The connected descriptor priv passed: the session starts (TLS at once
 * for imaps, then the greeting).  Takes ownership of fd.
 */
void	 imap_conn_start(struct imap_conn *, int);
int	 imap_conn_started(const struct imap_conn *);
int	 imap_conn_fd(const struct imap_conn *);	/* -1 before start */
short	 imap_conn_events(const struct imap_conn *);
/*
 * 1 if imap_conn_io() has bytes of the server's to process without
 * waiting for the descriptor (held back while the engine was behind, or
 * decrypted/inflated already): poll with a zero timeout then.
 */
int	 imap_conn_input_pending(const struct imap_conn *);
/* Milliseconds until the next timer (-1: none). */
int	 imap_conn_timeout(const struct imap_conn *);
/* Writes, reads, parses, checks timers.  Errors end the process. */
void	 imap_conn_io(struct imap_conn *);

int	 imap_conn_ready(const struct imap_conn *);
/* IMAP_CAP_* bits (ipc/imap_proto.h) of the established session. */
uint32_t imap_conn_capbits(const struct imap_conn *);
/* APPENDLIMIT=n (RFC 7889) as advertised, or 0. */
uint64_t imap_conn_appendlimit(const struct imap_conn *);
/* 1 if the server advertised cap (case-insensitive). */
int	 imap_conn_has_cap(const struct imap_conn *, const char *);
/* 1 if cap is in the ENABLED list (QRESYNC). */
int	 imap_conn_enabled(const struct imap_conn *, const char *);
/*
 * The method of the established session: IMAP_METHOD_QRESYNC,
 * IMAP_METHOD_CONDSTORE or IMAP_METHOD_PLAIN (never AUTO once ready).
 */
enum imap_method imap_conn_method(const struct imap_conn *);
/* Bytes of commands not yet written (flow control). */
size_t	 imap_conn_queued(const struct imap_conn *);
/*
 * A number that changes whenever the connection moved bytes (read,
 * written, queued): the event loop runs until it stops changing before
 * it polls, since data already inside our buffers never wakes poll.
 */
uint64_t imap_conn_progress(const struct imap_conn *);
/* 1 while some command awaits its tagged answer. */
int	 imap_conn_busy(const struct imap_conn *);
/*
 * Ends the session politely: LOGOUT (once), then the stream is closed
 * when the server answers or closes, or after a short grace period.
 * hooks.fatal(EXIT_OK) is not called: imap_conn_closed() turns 1.
 */
void	 imap_conn_logout(struct imap_conn *);
int	 imap_conn_closed(const struct imap_conn *);
/* Traffic counters for the summary (zeros before start). */
void	 imap_conn_stats(const struct imap_conn *, struct traffic_stats *);
/*
 * Logs "ERROR: <text>" and ends the process with code (hooks.fatal).
 * For imap_ops.c: a server answer it cannot accept.
 */
void	 imap_conn_fail(struct imap_conn *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4), noreturn));

/* ---- commands ----------------------------------------------------------- */

/*
 * A new command "<tag> " with completion cb(arg).  name ("SELECT") is
 * for messages.  Build it with the functions below, then submit it; it
 * is freed by the connection after cb has run.  Allocation failure is
 * fatal.
 */
struct imap_cmd *imap_cmd_new(struct imap_conn *, const char *, imap_cmd_cb,
		    void *);
const char *imap_cmd_tag(const struct imap_cmd *);
const char *imap_cmd_name(const struct imap_cmd *);
/* Raw text (no CR, LF or NUL: the caller has checked). */
void	 imap_cmd_text(struct imap_cmd *, const void *, size_t);
void	 imap_cmd_str(struct imap_cmd *, const char *);
void	 imap_cmd_printf(struct imap_cmd *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Text that --debug shows as "[REDACTED]" (unless given twice), and
 * that is wiped from memory once written.  Everything after it in the
 * same command is treated alike.
 */
void	 imap_cmd_secret(struct imap_cmd *, const void *, size_t);
/* A string argument: atom, quoted string or literal (imap_fmt.h). */
void	 imap_cmd_astring(struct imap_cmd *, const void *, size_t);
/* The same, wiped and redacted like imap_cmd_secret(). */
void	 imap_cmd_astring_secret(struct imap_cmd *, const void *, size_t);
/* A literal header {N} or {N+}; its N bytes follow with imap_cmd_data(). */
void	 imap_cmd_literal(struct imap_cmd *, uint64_t);
void	 imap_cmd_data(struct imap_cmd *, const void *, size_t);
/* CRLF, then wait for a "+" continuation (AUTHENTICATE, IDLE). */
void	 imap_cmd_cont(struct imap_cmd *);
/* The final CRLF: nothing more will be added. */
void	 imap_cmd_end(struct imap_cmd *);
/* Queues the command for writing (complete or not yet). */
void	 imap_cmd_submit(struct imap_cmd *);
/* 1 once the tagged answer came (the rest of it is dropped). */
int	 imap_cmd_finished(const struct imap_cmd *);

/*
 * The resp-text of a status response as the server sent it, for
 * messages: "[CODE arg] text" or "text".  Caller frees; NULL if out of
 * memory.
 */
char	*imap_resp_text(const struct imap_resp *);
/* "OK", "NO", "BAD", "PREAUTH", "BYE". */
const char *imap_cond_name(int);

#endif
