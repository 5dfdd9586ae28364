/*
 * Reaching a server: the transports of a [local] or [remote] section,
 * done in priv before the connected descriptor is passed to the sandboxed
 * net child.  Three ways, as in the reference (REFERENCE-BEHAVIOUR.md
 * §4.1):
 *
 *  - type = tunnel: `command` is run with one end of an AF_UNIX
 *    socketpair as its stdin and stdout; the other end is the stream.
 *  - type = imap / imaps: a TCP connection to host:port, every address
 *    getaddrinfo(3) gives tried in order, each for at most
 *    CONNECT_TIMEOUT_MS.
 *  - the same with `proxy = socks5[h]://...`: a TCP connection to the
 *    proxy, and what to ask it (proxy.h); the SOCKS5 exchange itself is
 *    the net child's (net/socks5.c), so that priv parses nothing that
 *    came from the network.  The proxy's password goes to that net only.
 *
 * TLS (imaps, STARTTLS) is not done here: it belongs to the net child,
 * which gets res->host to verify the certificate against.
 *
 * Differences from the reference, on purpose:
 *  - no SO_RCVTIMEO/SO_SNDTIMEO on the socket (§9.5): a slow server must
 *    not abort a long FETCH; liveness is the net child's business;
 *  - a connect timeout per address, so a black-holed address does not
 *    hang the run (the next address is tried);
 *  - "Can't connect to H:P" ends with the last error (": Connection
 *    refused");
 *  - the tunnel keeps the caller's PATH (§9.18), so commands in
 *    /usr/local/bin or ~/bin are found; IFS, CDPATH, ENV and BASH_ENV are
 *    removed from its environment, as the reference's taint mode does;
 *  - a tunnel that cannot be executed prints "tunnel: can't exec <cmd>:
 *    <strerror>" on the original stderr and exits 127 (the reference
 *    printed a Perl panic and exited 255); the net child then sees EOF;
 *  - the tunnel gets PR_SET_PDEATHSIG(SIGTERM) and is reaped at exit
 *    (connect_tunnel_reap()), so it never outlives interimap;
 *  - the proxy URI's scheme is checked before connecting to the proxy;
 *  - "Invalid proxy URI" shows the URI with its userinfo (the SOCKS
 *    password) replaced by "********" (socks5_uri_redact());
 *  - errors during the SOCKS negotiation (the net's) are all "SOCKSv5
 *    ERROR: ...", and a malformed reply is an error, never a crash.
 */
#ifndef PRIV_CONNECT_H
#define PRIV_CONNECT_H

#include <sys/types.h>

#include "proxy.h"

struct conf_section;

#define CONNECT_TIMEOUT_MS	60000	/* per address, and the SOCKS talk */
#define CONNECT_REAP_EOF_MS	500	/* EOF -> SIGTERM */
#define CONNECT_REAP_GRACE_MS	2000	/* SIGTERM -> SIGKILL */
/* With --watch on TCP: a dead peer is noticed in IDLE + INTVL * CNT. */
#define CONNECT_KEEPIDLE	60
#define CONNECT_KEEPINTVL	15
#define CONNECT_KEEPCNT		4

enum connect_kind {
	CONNECT_TUNNEL = 0,
	CONNECT_TCP = 1,		/* direct or through a proxy */
};

struct connect_result {
	int		 fd;		/* the stream: blocking, cloexec */
	pid_t		 pid;		/* tunnel process, or -1 */
	enum connect_kind kind;
	/*
	 * TCP: the name or address to verify the server's certificate
	 * against (the configured host, brackets removed; with a proxy, the
	 * target, not the proxy).  NULL for a tunnel.  Caller frees
	 * (connect_result_free()).
	 */
	char		*host;
	int		 is_ip_literal;	/* host is an IPv4/IPv6 literal */
	/*
	 * TCP through a SOCKS5 proxy: fd is connected to the proxy, which
	 * has been sent nothing; the net child asks it for socks_target,
	 * offering socks_user and socks_pass (NULL without a userinfo; the
	 * password is wiped by connect_result_free()).
	 */
	int		 proxied;
	struct socks5_target socks_target;
	char		*socks_user;
	char		*socks_pass;
	/*
	 * After a failure: 1 if it may go away by itself (refused, reset,
	 * timed out, unreachable, a temporary DNS failure, a SOCKS proxy
	 * that could not reach the server), so that --watch tries again
	 * later; 0 for what needs the user (configuration, a proxy that
	 * refuses us) and for an attempt cut short (connect_set_abort()).
	 */
	int		 transient;
};

/*
 * Connects to the server of section sec (an effective section: defaults
 * applied, values validated).  watch: --watch/--notify is on, so TCP
 * streams get keepalives (CONNECT_KEEP*).  name: the log name ("local",
 * "remote") for error messages.
 *
 * Returns 0 with *res filled, or -1 after logging the error (log name:
 * name; "ERROR: Can't connect to H:P: ...", "ERROR: getaddrinfo(H): ...",
 * "ERROR: Missing tunnel command", "ERROR: Invalid proxy URI U",
 * "SOCKSv5 ERROR: Host name too long", ...); *res then holds fd -1, pid
 * -1, host NULL.
 *
 * The caller owns res->fd (it passes it to the net child and closes its
 * copy), res->host, and res->pid: it must call connect_tunnel_reap() on
 * it before exiting, unless it has reaped that pid itself.
 */
int	 connect_peer(const struct conf_section *, int, const char *,
	    struct connect_result *);
/* Frees res->host and the proxy's credentials; leaves fd and pid alone. */
void	 connect_result_free(struct connect_result *);

/*
 * Makes sure the tunnel process pid is gone: if it has not exited within
 * CONNECT_REAP_EOF_MS (time to act on the EOF of its stdin, e.g. for ssh
 * to close its session), it gets SIGTERM, then SIGKILL after
 * CONNECT_REAP_GRACE_MS more, and is waited for.  Call it at exit
 * (normal or error) for every tunnel still running, after the stream has
 * been closed.  Returns the wait(2) status,
 * or -1 if pid is not a child of ours any more (already reaped: ECHILD)
 * or pid <= 0.
 *
 * SIGCHLD in priv: the tunnel is priv's child like the net and engine
 * children.  Do not set SIGCHLD to SIG_IGN (children would be reaped
 * behind our back).  If priv reaps with waitpid(-1, ..., WNOHANG) in its
 * loop, a pid that is a tunnel is not an error by itself (the net child
 * will see EOF and report it): record it as reaped and never pass that
 * pid here afterwards, since it may have been reused.  A tunnel that dies
 * while priv is SIGKILLed is covered by PR_SET_PDEATHSIG instead.  Only
 * the tunnel process is signalled, never its process group (it is priv's
 * own, and the terminal's); what the tunnel started itself sees EOF on
 * the socket.
 */
int	 connect_tunnel_reap(pid_t);
/*
 * The audit line of a tunnel or credential command that ended: "END
 * <what> pid=N status=S" (or signal=N; status -1: reaped elsewhere).
 */
void	 connect_audit_end(const char *, const char *, pid_t, int);

/*
 * password-command, oauth-token-command (what: the key, for the
 * messages): runs command with the tunnel's rules (a shell only
 * for shell syntax, the same environment), without a controlling
 * terminal and with /dev/null as its input unless interimap's own input
 * is a terminal (then it may prompt there, within 2 minutes), and gives its first line of
 * output (CR LF or LF removed) in *line, which the caller wipes and
 * frees.  Bounded by timeout_ms (then the command's session is killed).
 * 0, or -1 after logging "<name>: ERROR: <what>: ..." (it
 * failed, exited non-zero, printed nothing, did not answer in time).
 */
#define CONNECT_CMD_OUT_MAX	4096
#define CONNECT_CMD_TTY_MS	120000	/* the bound when on a terminal */
int	 connect_cmd_output(const char *, const char *, const char *, int,
	    char **);

/*
 * How `command` is executed, following Perl's exec STRING rules (what the
 * reference does): leading whitespace is skipped; the string goes to
 * "/bin/sh -c" if it starts with ". " or "exec " (any whitespace), or
 * with a word of [A-Za-z0-9_]* followed by '=', or if it contains one of
 * $&*(){}[]'";\|?<>~` or a newline, except that a single trailing
 * newline is dropped and a trailing " 2>&1" (then only whitespace) is
 * removed and done by us (stderr_to_stdout); otherwise it is split on
 * whitespace (space, \t, \n, \v, \f, \r) and run with execvp(3), falling
 * back to /bin/sh -c on ENOEXEC.
 */
struct connect_cmd {
	int	  use_shell;
	int	  stderr_to_stdout;
	char	 *shell_cmd;	/* for sh -c (also the ENOEXEC fallback) */
	char	**argv;		/* !use_shell: NULL-terminated */
	char	 *buf, *argbuf;	/* storage of the above */
};

/*
 * Fills *c (overwritten).  Returns 0, or -1 if command is empty or blank
 * (nothing to run).  The caller calls connect_cmd_free() in both cases.
 * Allocation failure is fatal.
 */
int	 connect_cmd_parse(const char *, struct connect_cmd *);
void	 connect_cmd_free(struct connect_cmd *);

/*
 * The reference's IP-literal rule for a configured host: "[x]" must be an
 * IPv4 or IPv6 literal; a bare IPv4 or IPv6 literal is one too.  Returns
 * 1 (a literal: *af is AF_INET or AF_INET6 and addr, 16 bytes, holds 4 or
 * 16 bytes of address), 0 (a host name), or -1 after logging "ERROR:
 * Invalid IP literal: x" (log name: name).  *bare gets host without its
 * brackets, or NULL on -1; caller frees.
 */
int	 connect_hostip(const char *, char **, int *, void *, const char *);

/*
 * getaddrinfo(3) for host and port (NULL: none), or -1 after logging the
 * reference's "ERROR: getaddrinfo(H): <reason>" (log name: name).  The
 * caller frees *res with freeaddrinfo(3).
 */
struct addrinfo;
int	 connect_resolve(const char *, const char *, const struct addrinfo *,
	    struct addrinfo **, const char *);

/* Test hook: the per-address connect and SOCKS timeout, in ms. */
void	 connect_set_timeout(int);
/* That timeout: the net bounds the SOCKS exchange with it. */
int	 connect_get_timeout(void);

/*
 * A connection attempt waits (a TCP handshake) for up to
 * CONNECT_TIMEOUT_MS per address: too long for a signal that asks to end
 * the run.  fn (NULL: none) is asked each time a signal interrupts such
 * a wait; when it returns non-zero the attempt ends there, as failed
 * with EINTR ("Interrupted system call"), not transient.
 */
void	 connect_set_abort(int (*)(void));
/* Has the abort function asked to stop? */
int	 connect_aborted(void);

#endif
