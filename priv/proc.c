/*
 * Starting, reaping and ending priv's children.
 *
 * Each child is a fork of priv re-executed as the same binary with the
 * hidden flag (--proc=engine, --proc=net-local, --proc=net-remote), so
 * it starts from a fresh address space: no secret of another peer, no
 * heap of priv's, its own ASLR layout.  Between fork and exec only
 * async-signal-safe calls are made.
 *
 * A child's environment is built, not inherited: only the variables it
 * needs for its work (proc_env()), so that nothing else of priv's (a
 * secret a user keeps there, what a tunnel command is given) reaches a
 * process that talks to a server.
 *
 * The channels, for lanes k = 0 .. lanes - 1 (ipc/proc.h; one lane
 * unless the configuration asks for more connections):
 *	priv <-> engine			engine fd 3
 *	priv <-> each net		the net's fd 3
 *	engine <-> net(local) of k	engine fd 4 + 2k, the net's fd 4
 *	engine <-> net(remote) of k	engine fd 5 + 2k, the net's fd 4
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "ipc.h"
#include "log.h"
#include "proc.h"
#include "testhooks.h"

#define PROC_SELF_EXE	"/proc/self/exe"
#define PROC_ARGV0	"interimap"
#define PROC_MAXFD	(1 + 2 * IPC_LANES_MAX)	/* the engine's, from 3 */
#define PROC_POLL_MS	5		/* reaping granularity */
#define PROC_MAXENV	32		/* variables a child may be given */

extern char **environ;

/*
 * What every child is given (when priv has it), beside the test build's
 * hooks (hook_child_env()): the sanitizers' options in their builds.
 */
static const char *const proc_env_child[] = {
#ifdef INTERIMAP_SANITIZE
	"ASAN_OPTIONS",
	"UBSAN_OPTIONS",
	"LSAN_OPTIONS",
#endif
	NULL
};
/*
 * And what a net needs: OpenSSL's configuration and providers, the time
 * zone (certificate dates: net.c's tzset()); the variables of OpenSSL's
 * default CA locations are added by proc_env() (net/tls.c reads them).
 */
static const char *const proc_env_net[] = {
	"TZ",
	"OPENSSL_CONF",
	"OPENSSL_MODULES",
	NULL
};

/* The flags; a net's side is all it is told (every lane's is alike). */
static const char *const proc_flag[] = {
	IPC_PROC_FLAG "net-local",
	IPC_PROC_FLAG "net-remote",
};
static const char proc_flag_engine[] = IPC_PROC_FLAG "engine";

static char	*proc_fallback(const char *);
static void	 proc_env_add(char **, size_t *, const char *);
static void	 proc_env(const struct proc_child *, char **);
static void	 proc_exec(const struct proc_child *, const int *, int, int,
		    pid_t, const char *, const sigset_t *, char **)
		    __attribute__((noreturn));
static int	 proc_reap_one(struct proc_child *);
static void	 proc_sleep(int);
static long	 proc_elapsed_ms(const struct timespec *);

void
proc_init(struct proc_child *c, unsigned int lanes)
{
	int i;

	for (i = 0; i < PROC_NSLOTS; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].pid = -1;
		c[i].chan.fd = -1;
		if (i == PROC_SLOT_ENGINE) {
			c[i].label = "engine";
			c[i].flag = proc_flag_engine;
			c[i].kind = PROC_ENGINE;
			c[i].side = SIDE_NONE;
			continue;
		}
		c[i].kind = PROC_NET;
		c[i].side = (uint32_t)(i - 1) % 2;
		c[i].lane = (uint32_t)(i - 1) / 2;
		c[i].flag = proc_flag[c[i].side];
		c[i].label = ipc_net_label(c[i].side, c[i].lane);
		/* Not in this run: as if it had come and gone. */
		if (c[i].lane >= lanes) {
			c[i].reaped = 1;
			c[i].status = 0;
		}
	}
}

int
proc_slot_by_name(const char *name)
{
	if (strcmp(name, proc_flag_engine + strlen(IPC_PROC_FLAG)) == 0)
		return PROC_SLOT_ENGINE;
	if (strcmp(name, proc_flag[SIDE_LOCAL] + strlen(IPC_PROC_FLAG)) == 0)
		return PROC_SLOT_NET_LOCAL;
	if (strcmp(name, proc_flag[SIDE_REMOTE] + strlen(IPC_PROC_FLAG)) == 0)
		return PROC_SLOT_NET_REMOTE;
	return -1;
}

/* Is slot i part of the run (proc_init())? */
static int
proc_in_run(const struct proc_child *c)
{
	return c->kind == PROC_ENGINE || c->pid > 0 || !c->reaped;
}

/*
 * Where the binary is if /proc is not mounted: argv[0] as a path, or
 * found in PATH as the shell found it.  NULL if neither works; caller
 * frees.
 */
static char *
proc_fallback(const char *argv0)
{
	char *path, *dir, *p, *save, *cand;
	char resolved[PATH_MAX];

	if (argv0 == NULL || *argv0 == '\0')
		return NULL;
	if (strchr(argv0, '/') != NULL)
		return realpath(argv0, resolved) != NULL ?
		    strdup(resolved) : NULL;
	if ((p = getenv("PATH")) == NULL || (path = strdup(p)) == NULL)
		return NULL;
	cand = NULL;
	for (dir = strtok_r(path, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		if (asprintf(&cand, "%s/%s", *dir ? dir : ".", argv0) == -1) {
			cand = NULL;
			break;
		}
		if (access(cand, X_OK) == 0 &&
		    realpath(cand, resolved) != NULL) {
			free(cand);
			cand = strdup(resolved);
			break;
		}
		free(cand);
		cand = NULL;
	}
	free(path);
	return cand;
}

/* Adds priv's NAME=value entry for name, if it has one. */
static void
proc_env_add(char **envp, size_t *n, const char *name)
{
	size_t len = strlen(name), i;
	char **e;

	for (i = 0; i < *n; i++)	/* named twice */
		if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
			return;
	for (e = environ; e != NULL && *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') {
			if (*n >= PROC_MAXENV)
				fatalx(EXIT_FAIL, "proc_env: too many variables");
			envp[(*n)++] = *e;
			return;
		}
}

/*
 * A child's environment (PROC_MAXENV + 1 slots, NULL-terminated),
 * pointing into priv's: built before the fork, kept until the exec.
 */
static void
proc_env(const struct proc_child *c, char **envp)
{
	const char *const *names;
	size_t n = 0;

	for (names = proc_env_child; *names != NULL; names++)
		proc_env_add(envp, &n, *names);
	if (c->kind == PROC_NET) {
		for (names = proc_env_net; *names != NULL; names++)
			proc_env_add(envp, &n, *names);
		proc_env_add(envp, &n, X509_get_default_cert_file_env());
		proc_env_add(envp, &n, X509_get_default_cert_dir_env());
	}
	for (names = hook_child_env(c->kind); *names != NULL; names++)
		proc_env_add(envp, &n, *names);
	envp[n] = NULL;
}

/*
 * In the child, between fork and exec: async-signal-safe calls only.
 * fds[i] becomes descriptor 3 + i; stdin and stdout read and write
 * /dev/null (a child never uses them; a test's HOLD reads priv's stdin);
 * stderr stays for the sanitizers and the seccomp trap.
 */
static void
proc_exec(const struct proc_child *c, const int *fds, int nfds, int devnull,
    pid_t ppid, const char *fallback, const sigset_t *mask, char **envp)
{
	char *argv[3];
	struct sigaction sa;
	int tmp[PROC_MAXFD], i;

	/* Die with priv, and not at all if priv is already gone. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		_exit(127);
	if (getppid() != ppid)
		_exit(127);
	/* priv's handlers write to priv's self-pipe: not ours. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGCHLD, &sa, NULL);
	/*
	 * SIGHUP asks priv to reopen its log (logrotate, a service
	 * manager's reload that signals the whole group): the children
	 * have nothing to do with it and must not die of it.  Ignored
	 * stays ignored across the exec.
	 */
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigprocmask(SIG_SETMASK, mask, NULL);

	/* Out of the way of 3..5 first, in case a source is one of them. */
	for (i = 0; i < nfds; i++)
		if ((tmp[i] = fcntl(fds[i], F_DUPFD, 3 + PROC_MAXFD)) == -1)
			_exit(127);
	if (dup2(devnull, STDIN_FILENO) == -1 ||
	    dup2(devnull, STDOUT_FILENO) == -1)
		_exit(127);
	/* dup2() leaves close-on-exec clear on the new descriptor. */
	for (i = 0; i < nfds; i++)
		if (dup2(tmp[i], 3 + i) == -1)
			_exit(127);
	closefrom(3 + nfds);

	argv[0] = (char *)PROC_ARGV0;
	argv[1] = (char *)c->flag;
	argv[2] = NULL;
	(void)execve(PROC_SELF_EXE, argv, envp);
	if (fallback != NULL)
		(void)execve(fallback, argv, envp);
	_exit(127);
}

int
proc_spawn(struct proc_child *c, const char *argv0)
{
	/*
	 * sp[i]: priv's channel to child i (priv keeps [0]), and for a
	 * net, en[i] its channel to the engine (the engine's end is [0]).
	 */
	int sp[PROC_NSLOTS][2], en[PROC_NSLOTS][2];
	int fds[PROC_NSLOTS][PROC_MAXFD], nfds[PROC_NSLOTS];
	char *envp[PROC_NSLOTS][PROC_MAXENV + 1];
	int devnull = -1, i, j, n, rc = -1;
	char *fallback;
	sigset_t all, old;
	pid_t ppid = getpid(), pid;

	for (i = 0; i < PROC_NSLOTS; i++)
		sp[i][0] = sp[i][1] = en[i][0] = en[i][1] = -1;
	for (n = 1; n < PROC_NSLOTS && proc_in_run(&c[n]); n++)
		;
	fallback = proc_fallback(argv0);
	for (i = 0; i < n; i++)
		proc_env(&c[i], envp[i]);
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: /dev/null: %s",
		    strerror(errno));
		goto out;
	}
	for (i = 0; i < n; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sp[i]) == -1 || (i != PROC_SLOT_ENGINE &&
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    en[i]) == -1)) {
			log_msg(LOG_LVL_ERROR, NULL, NULL,
			    "ERROR: socketpair: %s", strerror(errno));
			goto out;
		}
	for (i = 0; i < n; i++) {
		fds[i][0] = sp[i][1];
		nfds[i] = 1;
		if (i == PROC_SLOT_ENGINE)
			for (j = 1; j < n; j++)
				fds[i][nfds[i]++] = en[j][0];
		else
			fds[i][nfds[i]++] = en[i][1];
	}

	/* No handler of priv's may run in a child before its exec. */
	(void)sigfillset(&all);
	(void)sigprocmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		if ((pid = fork()) == -1) {
			(void)sigprocmask(SIG_SETMASK, &old, NULL);
			log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: fork: %s",
			    strerror(errno));
			goto out;
		}
		if (pid == 0)
			proc_exec(&c[i], fds[i], nfds[i], devnull, ppid,
			    fallback, &old, envp[i]);
		c[i].pid = pid;
		audit("START %s pid=%ld", c[i].label, (long)pid);
		/* The channel owns priv's end from now on. */
		if (ipc_chan_init(&c[i].chan, sp[i][0], PROC_PRIV,
		    c[i].kind) == -1) {
			sp[i][0] = -1;
			(void)sigprocmask(SIG_SETMASK, &old, NULL);
			log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s: %s",
			    c[i].label, c[i].chan.err);
			goto out;
		}
		sp[i][0] = -1;
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	rc = 0;
out:
	/* The children's ends, and ours that no channel took. */
	for (i = 0; i < PROC_NSLOTS; i++)
		for (j = 0; j < 2; j++) {
			if (sp[i][j] != -1)
				(void)close(sp[i][j]);
			if (en[i][j] != -1)
				(void)close(en[i][j]);
		}
	if (devnull != -1)
		(void)close(devnull);
	free(fallback);
	return rc;
}

/* 1 if the child was reaped just now, 0 otherwise. */
static int
proc_reap_one(struct proc_child *c)
{
	pid_t r;
	int status;

	if (c->pid <= 0 || c->reaped)
		return 0;
	do {
		r = waitpid(c->pid, &status, WNOHANG);
	} while (r == -1 && errno == EINTR);
	if (r == 0)
		return 0;
	if (r == -1)		/* not ours any more: nothing to wait for */
		status = W_EXITCODE(127, 0);
	c->reaped = 1;
	c->status = status;
	audit("END %s pid=%ld %s=%d", c->label, (long)c->pid,
	    WIFSIGNALED(status) ? "signal" : "status", WIFSIGNALED(status) ?
	    WTERMSIG(status) : WEXITSTATUS(status));
	return 1;
}

int
proc_reap(struct proc_child *c)
{
	int i, n = 0;

	for (i = 0; i < PROC_NSLOTS; i++)
		n += proc_reap_one(&c[i]);
	return n;
}

static void
proc_sleep(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	(void)nanosleep(&ts, NULL);	/* EINTR: early is fine */
}

static long
proc_elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000L +
	    (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

int
proc_wait(struct proc_child *c, int ms)
{
	struct timespec t0;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		(void)proc_reap_one(c);
		if (c->pid <= 0 || c->reaped)
			return 0;
		if (proc_elapsed_ms(&t0) >= ms)
			return -1;
		proc_sleep(PROC_POLL_MS);
	}
}

void
proc_terminate(struct proc_child *c, int grace_ms)
{
	struct timespec t0;
	int i, left;

	for (i = 0; i < PROC_NSLOTS; i++) {
		if (c[i].chan.fd != -1)
			ipc_chan_close(&c[i].chan);
		if (c[i].pid > 0 && !c[i].reaped)
			(void)kill(c[i].pid, SIGTERM);
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		(void)proc_reap(c);
		for (i = left = 0; i < PROC_NSLOTS; i++)
			if (c[i].pid > 0 && !c[i].reaped)
				left++;
		if (left == 0)
			return;
		if (proc_elapsed_ms(&t0) >= grace_ms)
			break;
		proc_sleep(PROC_POLL_MS);
	}
	for (i = 0; i < PROC_NSLOTS; i++) {
		if (c[i].pid <= 0 || c[i].reaped)
			continue;
		(void)kill(c[i].pid, SIGKILL);
		while (waitpid(c[i].pid, &c[i].status, 0) == -1 &&
		    errno == EINTR)
			;
		c[i].reaped = 1;
		audit("END %s pid=%ld killed (SIGKILL)", c[i].label,
		    (long)c[i].pid);
	}
}

const char *
proc_status_text(const struct proc_child *c)
{
	static char buf[128];
	const char *name;
	int sig;

	if (WIFSIGNALED(c->status)) {
		sig = WTERMSIG(c->status);
		name = sigabbrev_np(sig);
		if (name != NULL)
			(void)snprintf(buf, sizeof(buf),
			    "killed by signal SIG%s%s", name,
			    sig == SIGSYS ? " (seccomp)" : "");
		else
			(void)snprintf(buf, sizeof(buf),
			    "killed by signal %d", sig);
	} else
		(void)snprintf(buf, sizeof(buf),
		    "exited unexpectedly (status %d)",
		    WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1);
	return buf;
}
