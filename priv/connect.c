/*
 * The transports: tunnel commands, TCP, SOCKS5 proxies (see connect.h).
 * Runs in priv; the descriptor it returns is handed to a net child.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <paths.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "conf.h"
#include "connect.h"
#include "proxy.h"

extern char **environ;

/* Shell metacharacters that make Perl hand a command to /bin/sh. */
#define PERL_SHELL_META	"$&*(){}[]'\";\\|?<>~`\n"

static int	 connect_timeout = CONNECT_TIMEOUT_MS;
static int	(*connect_abort_fn)(void);
/* The failure being reported is transient (connect_result.transient). */
static int	 cn_transient;

static int	 perl_isspace(char);
static int	 perl_isalpha(char);
static int	 perl_isword(char);
static char	*cn_strdup(const char *);
static char	**tunnel_env(void);
static int	 tunnel_spawn(const struct conf_section *, const char *,
		    struct connect_result *);
static void	 tunnel_child(int, const struct connect_cmd *, char **, int,
		    pid_t) __attribute__((noreturn));
static void	 child_fail(int, const char *, const char *, const char *,
		    int) __attribute__((noreturn));
static void	 child_signals(pid_t, int, int);
static void	 child_exec(const struct connect_cmd *, char **, int,
		    const char *) __attribute__((noreturn));
static void	 tunnel_cloexec_all(void);
static void	 cred_child(int, const struct connect_cmd *, char **, pid_t,
		    const char *, int)
		    __attribute__((noreturn));
static int	 tunnel_wait(pid_t, int, int *);
static int	 tcp_connect_one(const struct addrinfo *, int *);
static int	 tcp_connect(const char *, const char *, const char *,
		    char **, int *);
static int	 tcp_options(int, int, const char *);
static int	 proxy_connect(const char *, const char *, const char *,
		    const char *, struct connect_result *);
static int	 connect_peer_do(const struct conf_section *, int,
		    const char *, struct connect_result *);

void
connect_set_timeout(int ms)
{
	connect_timeout = ms > 0 ? ms : CONNECT_TIMEOUT_MS;
}

int
connect_get_timeout(void)
{
	return connect_timeout;
}

void
connect_set_abort(int (*fn)(void))
{
	connect_abort_fn = fn;
}

int
connect_aborted(void)
{
	return connect_abort_fn != NULL && connect_abort_fn() != 0;
}

static char *
cn_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal(EXIT_FAIL, "strdup");
	return p;
}

/* Perl's isSPACE/isALPHA/isWORDCHAR on a byte: ASCII only. */
static int
perl_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

static int
perl_isalpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
perl_isword(char c)
{
	return perl_isalpha(c) || (c >= '0' && c <= '9') || c == '_';
}

int
connect_cmd_parse(const char *command, struct connect_cmd *c)
{
	char	*cmd, *s, *t, *p;
	size_t	 n;

	memset(c, 0, sizeof(*c));
	c->buf = cn_strdup(command);
	for (cmd = c->buf; *cmd != '\0' && perl_isspace(*cmd); cmd++)
		;
	c->shell_cmd = cmd;
	if (*cmd == '\0')
		return -1;

	if (cmd[0] == '.' && perl_isspace(cmd[1]))
		goto shell;
	if (strncmp(cmd, "exec", 4) == 0 && perl_isspace(cmd[4]))
		goto shell;
	for (s = cmd; perl_isword(*s); s++)
		;
	if (*s == '=')		/* VAR=value command */
		goto shell;

	for (s = cmd; *s != '\0'; s++) {
		if (*s == ' ' || perl_isalpha(*s) ||
		    strchr(PERL_SHELL_META, *s) == NULL)
			continue;
		if (*s == '\n' && s[1] == '\0') {
			*s = '\0';
			break;
		}
		/* A final "2>&1" is done by us: stderr to the socket. */
		if (*s == '>' && s[1] == '&' && s[2] == '1' && s > cmd + 1 &&
		    s[-1] == '2' && perl_isspace(s[-2]) &&
		    (s[3] == '\0' || perl_isspace(s[3]))) {
			for (t = s + 3; *t != '\0' && perl_isspace(*t); t++)
				;
			if (*t == '\0') {
				c->stderr_to_stdout = 1;
				s[-2] = '\0';
				break;
			}
		}
		goto shell;
	}

	/* Split on whitespace; a copy, shell_cmd stays for ENOEXEC. */
	c->argbuf = cn_strdup(cmd);
	n = strlen(c->argbuf) / 2 + 2;
	if ((c->argv = calloc(n, sizeof(*c->argv))) == NULL)
		fatal(EXIT_FAIL, "calloc");
	n = 0;
	for (p = c->argbuf; *p != '\0';) {
		while (*p != '\0' && perl_isspace(*p))
			p++;
		if (*p != '\0')
			c->argv[n++] = p;
		while (*p != '\0' && !perl_isspace(*p))
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	c->argv[n] = NULL;
	return n == 0 ? -1 : 0;

 shell:
	c->use_shell = 1;
	return 0;
}

void
connect_cmd_free(struct connect_cmd *c)
{
	free(c->argv);
	free(c->argbuf);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

/*
 * The tunnel's environment: ours without the variables that change how a
 * shell parses or what it runs first (the reference's taint mode removed
 * them too).  PATH is kept (§9.18).  The strings are environ's.
 */
static char **
tunnel_env(void)
{
	static const char *const drop[] = { "IFS=", "CDPATH=", "ENV=",
	    "BASH_ENV=" };
	char	**env;
	size_t	  n, i, j, k;

	for (n = 0; environ != NULL && environ[n] != NULL; n++)
		;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		fatal(EXIT_FAIL, "calloc");
	for (i = 0, j = 0; i < n; i++) {
		for (k = 0; k < sizeof(drop) / sizeof(drop[0]); k++)
			if (strncmp(environ[i], drop[k], strlen(drop[k])) == 0)
				break;
		if (k == sizeof(drop) / sizeof(drop[0]))
			env[j++] = environ[i];
	}
	env[j] = NULL;
	return env;
}

/*
 * Marks every descriptor from 3 up close-on-exec, so the command gets
 * stdin, stdout, stderr and nothing else of priv's, while the saved
 * stderr stays usable for the exec failure message.
 */
static void
tunnel_cloexec_all(void)
{
	struct rlimit	rl;
	rlim_t		fd, max = 65536;

	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = rl.rlim_cur;
	for (fd = 3; fd < max; fd++)
		(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
}

/* A forked child's own failure: "<who>: <what><arg>: <strerror>". */
static void
child_fail(int errfd, const char *who, const char *what, const char *arg,
    int err)
{
	char	msg[1024];

	(void)strlcpy(msg, who, sizeof(msg));
	(void)strlcat(msg, ": ", sizeof(msg));
	(void)strlcat(msg, what, sizeof(msg));
	(void)strlcat(msg, arg, sizeof(msg));
	(void)strlcat(msg, ": ", sizeof(msg));
	(void)strlcat(msg, strerror(err), sizeof(msg));
	(void)strlcat(msg, "\n", sizeof(msg));
	(void)!write(errfd, msg, strlen(msg));
	_exit(127);
}

/*
 * A forked child's signals as a fresh process has them (SIGINT ignored
 * and blocked if ignore_int), and deathsig when priv dies.  Exits if
 * priv (ppid) is already gone.
 */
static void
child_signals(pid_t ppid, int ignore_int, int deathsig)
{
	struct sigaction	 sa;
	sigset_t		 set;
	int			 sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	if (ignore_int) {
		sa.sa_handler = SIG_IGN;
		(void)sigaction(SIGINT, &sa, NULL);
		sigaddset(&set, SIGINT);
	}
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
	(void)prctl(PR_SET_PDEATHSIG, deathsig);
	if (getppid() != ppid)
		_exit(127);
}

/*
 * Executes cmd as the reference would (a shell only for shell syntax, or
 * when the program is a script without #!), every descriptor past 2
 * closed; a failure is said on errfd as who's.
 */
static void
child_exec(const struct connect_cmd *cmd, char **envp, int errfd,
    const char *who)
{
	const char	*shargv[4];

	tunnel_cloexec_all();
	if (!cmd->use_shell) {
		execvpe(cmd->argv[0], cmd->argv, envp);
		if (errno != ENOEXEC)
			child_fail(errfd, who, "can't exec ", cmd->argv[0],
			    errno);
	}
	shargv[0] = "sh";
	shargv[1] = "-c";
	shargv[2] = cmd->shell_cmd;
	shargv[3] = NULL;
	execve(_PATH_BSHELL, (char *const *)shargv, envp);
	child_fail(errfd, who, "can't exec ", _PATH_BSHELL, errno);
}

/* In the forked child: set up the descriptors and signals, exec. */
static void
tunnel_child(int s, const struct connect_cmd *cmd, char **envp,
    int null_stderr, pid_t ppid)
{
	int	 errfd, sfd, nfd = -1;

	/*
	 * SIGINT ignored and blocked, so a ^C on the terminal reaches
	 * interimap, which ends cleanly and closes the socket, and not the
	 * tunnel directly.  Never outlive priv, even if it is SIGKILLed.
	 */
	child_signals(ppid, 1, SIGTERM);

	/* The original stderr, for our own failure message. */
	if ((errfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) == -1)
		errfd = STDERR_FILENO;
	/* Out of the way of 0-2 first: s may be one of them. */
	if ((sfd = fcntl(s, F_DUPFD_CLOEXEC, 3)) == -1)
		child_fail(errfd, "tunnel", "dup", "", errno);
	if (null_stderr &&
	    (nfd = open(_PATH_DEVNULL, O_WRONLY | O_CLOEXEC)) == -1)
		child_fail(errfd, "tunnel", "open ", _PATH_DEVNULL, errno);
	if (dup2(sfd, STDIN_FILENO) == -1 || dup2(sfd, STDOUT_FILENO) == -1)
		child_fail(errfd, "tunnel", "dup2", "", errno);
	if (null_stderr && dup2(nfd, STDERR_FILENO) == -1)
		child_fail(errfd, "tunnel", "dup2", "", errno);
	/* Perl does this after null-stderr: 2>&1 wins. */
	if (cmd->stderr_to_stdout && dup2(STDOUT_FILENO, STDERR_FILENO) == -1)
		child_fail(errfd, "tunnel", "dup2", "", errno);
	child_exec(cmd, envp, errfd, "tunnel");
}

/*
 * password-command: the child.  Unless interimap runs on a terminal, no
 * controlling terminal (setsid), so that no prompt can appear, and stdin
 * from /dev/null; stdout to the pipe, stderr as ours (the helper's own
 * complaints, or its prompt, reach the user).
 */
static void
cred_child(int out, const struct connect_cmd *cmd, char **envp, pid_t ppid,
    const char *what, int tty)
{
	int	 ofd, nfd;

	child_signals(ppid, 0, SIGKILL);
	if ((ofd = fcntl(out, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    dup2(ofd, STDOUT_FILENO) == -1)
		_exit(127);
	/* On a terminal, the user is there to answer a prompt. */
	if (!tty) {
		(void)setsid();
		if ((nfd = open(_PATH_DEVNULL, O_RDONLY | O_CLOEXEC)) == -1 ||
		    dup2(nfd, STDIN_FILENO) == -1)
			_exit(127);
	}
	child_exec(cmd, envp, STDERR_FILENO, what);
}

int
connect_cmd_output(const char *command, const char *name, const char *what,
    int timeout_ms, char **linep)
{
	struct connect_cmd	 cmd;
	struct pollfd		 pfd;
	struct timespec		 t0, now;
	char			 buf[CONNECT_CMD_OUT_MAX], **envp;
	size_t			 len = 0, n;
	ssize_t			 r;
	long			 left;
	pid_t			 pid, ppid;
	int			 pp[2], status, timedout = 0, rc = -1, tty;
	char			*nl;

	*linep = NULL;
	/* Someone to type a passphrase: more time. */
	if ((tty = isatty(STDIN_FILENO)) && timeout_ms < CONNECT_CMD_TTY_MS)
		timeout_ms = CONNECT_CMD_TTY_MS;
	if (connect_cmd_parse(command, &cmd) == -1) {
		connect_cmd_free(&cmd);
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: %s: empty command", what);
		return -1;
	}
	if (pipe2(pp, O_CLOEXEC) == -1) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: pipe: %s",
		    strerror(errno));
		connect_cmd_free(&cmd);
		return -1;
	}
	envp = tunnel_env();
	ppid = getpid();
	(void)fflush(NULL);
	if ((pid = fork()) == -1) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: fork: %s",
		    strerror(errno));
		close(pp[0]);
		close(pp[1]);
		free(envp);
		connect_cmd_free(&cmd);
		return -1;
	}
	if (pid == 0) {
		close(pp[0]);
		cred_child(pp[1], &cmd, envp, ppid, what, tty);
	}
	close(pp[1]);
	free(envp);
	connect_cmd_free(&cmd);
	/* Not the command: it may hold a secret of its own. */
	log_msg(LOG_LVL_DEBUG, name, NULL, "%s: pid %ld",
	    what, (long)pid);
	log_msg(LOG_LVL_AUDIT, name, NULL, "START %s pid=%ld", what,
	    (long)pid);

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		(void)clock_gettime(CLOCK_MONOTONIC, &now);
		left = timeout_ms - ((now.tv_sec - t0.tv_sec) * 1000L +
		    (now.tv_nsec - t0.tv_nsec) / 1000000L);
		if (left <= 0) {
			timedout = 1;
			break;
		}
		pfd.fd = pp[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd.revents == 0)
			continue;
		/* Past the buffer, the rest is read and dropped. */
		if (len < sizeof(buf))
			r = read(pp[0], buf + len, sizeof(buf) - len);
		else {
			char junk[512];

			r = read(pp[0], junk, sizeof(junk));
			explicit_bzero(junk, sizeof(junk));
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (len < sizeof(buf))
			len += (size_t)r;
	}
	close(pp[0]);
	if (timedout) {
		/* Its whole session: what it started goes too. */
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	connect_audit_end(name, what, pid, status);
	if (timedout) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: %s: "
		    "no answer within %d s", what, timeout_ms / 1000);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: %s: "
		    "killed by signal %d", what, WTERMSIG(status));
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: %s: "
		    "exited with status %d", what, WEXITSTATUS(status));
		goto out;
	}
	n = len;
	if ((nl = memchr(buf, '\n', len)) != NULL)
		n = (size_t)(nl - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: %s: "
		    "printed nothing", what);
		goto out;
	}
	if (n == sizeof(buf) || memchr(buf, '\0', n) != NULL) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: %s: "
		    "its first line is not usable (%s)", what, n == sizeof(buf) ?
		    "too long" : "a NUL byte");
		goto out;
	}
	if ((*linep = malloc(n + 1)) == NULL) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: out of memory");
		goto out;
	}
	memcpy(*linep, buf, n);
	(*linep)[n] = '\0';
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

static int
tunnel_spawn(const struct conf_section *sec, const char *name,
    struct connect_result *res)
{
	struct connect_cmd	  cmd;
	const char		 *command;
	char			**envp;
	pid_t			  pid, ppid;
	int			  sv[2], null_stderr;

	if ((command = conf_get(sec, "command")) == NULL) {
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: Missing tunnel command");
		return -1;
	}
	if (connect_cmd_parse(command, &cmd) == -1) {
		connect_cmd_free(&cmd);
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: Missing tunnel command");
		return -1;
	}
	/* As the reference: the tunnel's stderr is shown when debugging. */
	null_stderr = conf_get_bool(sec, "null-stderr", 0) &&
	    log_debug_level() == 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: socketpair: %s",
		    strerror(errno));
		connect_cmd_free(&cmd);
		return -1;
	}
	envp = tunnel_env();
	ppid = getpid();
	(void)fflush(NULL);
	if ((pid = fork()) == -1) {
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: fork: %s",
		    strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(envp);
		connect_cmd_free(&cmd);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		tunnel_child(sv[1], &cmd, envp, null_stderr, ppid);
	}
	close(sv[1]);
	free(envp);
	connect_cmd_free(&cmd);
	res->fd = sv[0];
	res->pid = pid;
	/* Not the command: it may hold credentials. */
	log_msg(LOG_LVL_DEBUG, name, NULL, "tunnel: pid %ld", (long)pid);
	log_msg(LOG_LVL_AUDIT, name, NULL, "START tunnel pid=%ld", (long)pid);
	return 0;
}

void
connect_audit_end(const char *name, const char *what, pid_t pid, int status)
{
	if (status == -1)
		log_msg(LOG_LVL_AUDIT, name, NULL, "END %s pid=%ld", what,
		    (long)pid);
	else if (WIFSIGNALED(status))
		log_msg(LOG_LVL_AUDIT, name, NULL, "END %s pid=%ld signal=%d",
		    what, (long)pid, WTERMSIG(status));
	else
		log_msg(LOG_LVL_AUDIT, name, NULL, "END %s pid=%ld status=%d",
		    what, (long)pid, WEXITSTATUS(status));
}

/* Polls for pid's exit for up to ms: 1 exited (*status), 0 not, -1. */
static int
tunnel_wait(pid_t pid, int ms, int *status)
{
	struct timespec	ts = { 0, 10 * 1000000 };
	pid_t		r;
	int		waited = 0;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 1;
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;	/* ECHILD: not ours (any more) */
		if (waited >= ms)
			return 0;
		(void)nanosleep(&ts, NULL);
		waited += 10;
	}
}

int
connect_tunnel_reap(pid_t pid)
{
	pid_t	r;
	int	status, rv;

	if (pid <= 0)
		return -1;
	if ((rv = tunnel_wait(pid, CONNECT_REAP_EOF_MS, &status)) != 0)
		return rv == 1 ? status : -1;
	(void)kill(pid, SIGTERM);
	if ((rv = tunnel_wait(pid, CONNECT_REAP_GRACE_MS, &status)) != 0)
		return rv == 1 ? status : -1;
	(void)kill(pid, SIGKILL);
	while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	return r == pid ? status : -1;
}

int
connect_hostip(const char *host, char **bare, int *af, void *addr,
    const char *name)
{
	size_t	len = strlen(host);
	char	*h;
	int	 bracketed = 0;

	*bare = NULL;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		if ((h = strndup(host + 1, len - 2)) == NULL)
			fatal(EXIT_FAIL, "strndup");
		bracketed = 1;
	} else
		h = cn_strdup(host);

	/*
	 * glibc's inet_pton() takes exactly the RFC 3986 forms the
	 * reference matches: dotted quads without leading zeros, IPv6 with
	 * an optional trailing dotted quad, no zone.
	 */
	if (inet_pton(AF_INET, h, addr) == 1) {
		*af = AF_INET;
		*bare = h;
		return 1;
	}
	if (inet_pton(AF_INET6, h, addr) == 1) {
		*af = AF_INET6;
		*bare = h;
		return 1;
	}
	if (bracketed) {
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: Invalid IP literal: %s", h);
		free(h);
		return -1;
	}
	*af = AF_UNSPEC;
	*bare = h;
	return 0;
}

int
connect_resolve(const char *host, const char *port,
    const struct addrinfo *hints, struct addrinfo **res, const char *name)
{
	int	gai;

	if ((gai = getaddrinfo(host, port, hints, res)) != 0) {
		/* No network yet, or no answer from the name servers. */
		cn_transient = gai == EAI_AGAIN ||
		    (gai == EAI_SYSTEM && errno_transient(errno));
		log_msg(LOG_LVL_ERROR, name, NULL, "ERROR: getaddrinfo(%s): %s",
		    host, gai == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(gai));
		return -1;
	}
	return 0;
}

/*
 * One address: a non-blocking connect bounded by connect_timeout.
 * Returns the connected, blocking, close-on-exec socket, or -1 with *err.
 */
static int
tcp_connect_one(const struct addrinfo *ai, int *err)
{
	struct pollfd	 pfd;
	struct timespec	 start, now;
	socklen_t	 len;
	long long	 elapsed;
	int		 s, n, soerr, flags;

	s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (s == -1) {
		*err = errno;
		return -1;
	}
	if (connect(s, ai->ai_addr, ai->ai_addrlen) == -1) {
		/* EINTR: the connection goes on in the background. */
		if (errno != EINPROGRESS && errno != EINTR) {
			*err = errno;
			close(s);
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &start);
		for (;;) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			elapsed = (long long)(now.tv_sec - start.tv_sec) *
			    1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
			if (elapsed >= connect_timeout) {
				*err = ETIMEDOUT;
				close(s);
				return -1;
			}
			pfd.fd = s;
			pfd.events = POLLOUT;
			pfd.revents = 0;
			n = poll(&pfd, 1, (int)(connect_timeout - elapsed));
			if (n == -1 && errno == EINTR && connect_aborted()) {
				*err = EINTR;
				close(s);
				return -1;
			}
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				*err = errno;
				close(s);
				return -1;
			}
			if (n > 0)
				break;
		}
		len = sizeof(soerr);
		if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
			soerr = errno;
		if (soerr != 0) {
			*err = soerr;
			close(s);
			return -1;
		}
	}
	if ((flags = fcntl(s, F_GETFL)) == -1 ||
	    fcntl(s, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		*err = errno;
		close(s);
		return -1;
	}
	return s;
}

/*
 * host:port as configured (host may be "[literal]").  Returns the socket,
 * or -1 after logging.  *bare (caller frees) and *lit describe the host
 * for TLS; NULL bare is fine.
 */
static int
tcp_connect(const char *host, const char *port, const char *name,
    char **barep, int *litp)
{
	struct addrinfo	 hints, *res, *ai;
	unsigned char	 addr[16];
	char		*bare;
	int		 lit, af, s = -1, err = ECONNREFUSED;

	if ((lit = connect_hostip(host, &bare, &af, addr, name)) == -1)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_family = lit ? af : AF_UNSPEC;
	if (lit)
		hints.ai_flags |= AI_NUMERICHOST;
	if (connect_resolve(bare, port, &hints, &res, name) == -1) {
		free(bare);
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((s = tcp_connect_one(ai, &err)) != -1 || err == EINTR)
			break;
	}
	freeaddrinfo(res);
	if (s == -1) {
		cn_transient = errno_transient(err);
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: Can't connect to %s:%s: %s", host, port,
		    strerror(err));
		free(bare);
		return -1;
	}
	if (barep != NULL)
		*barep = bare;
	else
		free(bare);
	if (litp != NULL)
		*litp = lit;
	return s;
}

/*
 * The socket's options: no Nagle, and with watch the keepalive probes.
 * No Nagle: a command written while another is unacknowledged
 * (pipelining, or the engine's next request right after net's own)
 * would otherwise wait a round trip for the server's ACK; net writes
 * whole buffers, so segments stay full where there is more.
 */
static int
tcp_options(int s, int watch, const char *name)
{
	static const struct {
		int		 level, opt, val;
		const char	*what;
	} opts[] = {
		{ IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY" },
		/* With watch only, from here. */
		{ SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE" },
		{ IPPROTO_TCP, TCP_KEEPIDLE, CONNECT_KEEPIDLE, "TCP_KEEPIDLE" },
		{ IPPROTO_TCP, TCP_KEEPINTVL, CONNECT_KEEPINTVL,
		    "TCP_KEEPINTVL" },
		{ IPPROTO_TCP, TCP_KEEPCNT, CONNECT_KEEPCNT, "TCP_KEEPCNT" },
	};
	size_t	i, n = watch ? sizeof(opts) / sizeof(opts[0]) : 1;

	for (i = 0; i < n; i++) {
		if (setsockopt(s, opts[i].level, opts[i].opt, &opts[i].val,
		    sizeof(opts[i].val)) == -1) {
			log_msg(LOG_LVL_ERROR, name, NULL,
			    "ERROR: setsockopt %s: %s", opts[i].what,
			    strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * The socket to the proxy for host:port, or -1 after logging; res gets
 * what the net child will ask the proxy.  Nothing is sent nor read here.
 */
static int
proxy_connect(const char *proxy, const char *host, const char *port,
    const char *name, struct connect_result *res)
{
	struct socks5_uri	 u;
	char			*shown;
	int			 rv, s;

	rv = socks5_uri_parse(proxy, &u);
	if (rv == SOCKS5_URI_INVALID) {
		/* Not the reference's whole URI: it may hold a password. */
		shown = socks5_uri_redact(proxy);
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: Invalid proxy URI %s", shown);
		free(shown);
		socks5_uri_free(&u);
		return -1;
	}
	if (rv == SOCKS5_URI_UNSUPPORTED) {
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: Unsupported proxy protocol %s", u.scheme);
		socks5_uri_free(&u);
		return -1;
	}
	/* Everything that can fail without the network, first. */
	if (socks5_target(&res->socks_target, host, port, u.remote_resolve,
	    name) == -1) {
		socks5_uri_free(&u);
		return -1;
	}
	if ((s = tcp_connect(u.host, u.port, name, NULL, NULL)) == -1) {
		socks5_uri_free(&u);
		return -1;
	}
	res->proxied = 1;
	if (u.has_auth) {
		res->socks_user = cn_strdup(u.user);
		res->socks_pass = cn_strdup(u.pass);
	}
	socks5_uri_free(&u);
	return s;
}

int
connect_peer(const struct conf_section *sec, int watch, const char *name,
    struct connect_result *res)
{
	int	 rv;

	cn_transient = 0;
	rv = connect_peer_do(sec, watch, name, res);
	res->transient = rv == -1 && cn_transient;
	return rv;
}

static int
connect_peer_do(const struct conf_section *sec, int watch, const char *name,
    struct connect_result *res)
{
	const char	*type, *host, *port, *proxy;
	unsigned char	 addr[16];
	char		*bare;
	int		 lit, af;

	memset(res, 0, sizeof(*res));
	res->fd = -1;
	res->pid = -1;
	if (name == NULL)
		name = "";

	if ((type = conf_get(sec, "type")) == NULL)
		type = "imaps";
	if (strcmp(type, "tunnel") == 0) {
		res->kind = CONNECT_TUNNEL;
		return tunnel_spawn(sec, name, res);
	}
	res->kind = CONNECT_TCP;
	if ((host = conf_get(sec, "host")) == NULL) {
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: Missing option host");
		return -1;
	}
	if ((port = conf_get(sec, "port")) == NULL) {
		log_msg(LOG_LVL_ERROR, name, NULL,
		    "ERROR: Missing option port");
		return -1;
	}

	if ((proxy = conf_get(sec, "proxy")) != NULL) {
		/* The TLS identity is the target's, not the proxy's. */
		if ((lit = connect_hostip(host, &bare, &af, addr, name)) == -1)
			return -1;
		res->fd = proxy_connect(proxy, host, port, name, res);
		if (res->fd == -1) {
			free(bare);
			return -1;
		}
		res->host = bare;
		res->is_ip_literal = lit;
	} else {
		res->fd = tcp_connect(host, port, name, &res->host,
		    &res->is_ip_literal);
		if (res->fd == -1)
			return -1;
	}

	if (tcp_options(res->fd, watch, name) == -1) {
		close(res->fd);
		res->fd = -1;
		connect_result_free(res);
		return -1;
	}
	return 0;
}

void
connect_result_free(struct connect_result *res)
{
	free(res->host);
	res->host = NULL;
	free(res->socks_user);
	res->socks_user = NULL;
	if (res->socks_pass != NULL)
		freezero(res->socks_pass, strlen(res->socks_pass));
	res->socks_pass = NULL;
	explicit_bzero(&res->socks_target, sizeof(res->socks_target));
	res->proxied = 0;
}
