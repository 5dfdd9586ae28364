/*
 * The test hooks (testhooks.h), linked into interimap-test only: what
 * the test suite asks for through the environment.  Nothing here is in
 * the installed binary.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "ipc.h"
#include "log.h"
#include "sandbox.h"
#include "testhooks.h"
/* The other layers' headers: this file is linked with all of them. */
#include "conf.h"
#include "db.h"
#include "testclient.h"

#define HOOK_ENV_DUMP_CONFIG	"INTERIMAP_TEST_DUMP_CONFIG"
#define HOOK_ENV_DB_ONLY	"INTERIMAP_TEST_DB_ONLY"
#define HOOK_ENV_HOLD		"INTERIMAP_TEST_HOLD"
#define HOOK_ENV_SANDBOX	"INTERIMAP_TEST_SANDBOX"
#define HOOK_ENV_KILL_AT	"INTERIMAP_TEST_KILL_AT"
#define HOOK_ENV_KILL_BEFORE	"INTERIMAP_TEST_KILL_BEFORE"
#define HOOK_ENV_TIMEOUT	"INTERIMAP_TEST_TIMEOUT"
#define HOOK_ENV_ENGINE_SCRIPT	"INTERIMAP_TEST_ENGINE_SCRIPT"
#define HOOK_ENV_TRAP		"INTERIMAP_SECCOMP_TRAP"
/* The test harness's marker (tests/lib/common.sh), for its sweeps. */
#define HOOK_ENV_SCRATCH	"INTERIMAP_TEST_SCRATCH"

/* Syscall names for the trap handler, resolved before the filter. */
#define HOOK_MAXNR		1024

/* SANDBOX_TEST_ALLOC: its step, and how far past the bound it gives up. */
#define HOOK_ALLOC_STEP		((rlim_t)1024 * 1024)
#define HOOK_ALLOC_MARGIN	(64 * HOOK_ALLOC_STEP)

/* What each kind of child reads: hook_child_env(). */
static const char *const hook_env_engine[] = {
	HOOK_ENV_ENGINE_SCRIPT,
	HOOK_ENV_TRAP,
	HOOK_ENV_SCRATCH,
	NULL
};
static const char *const hook_env_net[] = {
	HOOK_ENV_TIMEOUT,
	HOOK_ENV_TRAP,
	HOOK_ENV_SCRATCH,
	NULL
};

static struct {
	char	 progname[32];		/* "interimap" */
	char	 who[64];		/* "net(local)" */
	char	*names[HOOK_MAXNR];
} trap;

static int	 hook_flag(const char *);
static void	 hook_sigsys(int, siginfo_t *, void *);
static size_t	 hook_utoa(char *, unsigned long);
static void	 hook_test_flood(struct ipc_chan *, uint32_t,
		    const struct ipc_buf *) __attribute__((noreturn));
static void	 hook_test_ipc(struct ipc_chan *, uint32_t);
static void	 hook_test_alloc(void) __attribute__((noreturn));

/* The variable is set to "1". */
static int
hook_flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && strcmp(v, "1") == 0;
}

int
hook_priv_conf(const struct conf *conf, int create)
{
	struct db *db;
	char err[1024];

	if (hook_flag(HOOK_ENV_DUMP_CONFIG)) {
		conf_dump(conf, stdout);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	}
	if (hook_flag(HOOK_ENV_DB_ONLY)) {
		if ((db = db_open(conf->database, create, err,
		    sizeof(err))) == NULL) {
			log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s", err);
			return EXIT_DB;
		}
		db_close(db);
		return EXIT_OK;
	}
	return -1;
}

int
hook_hold(void)
{
	return hook_flag(HOOK_ENV_HOLD);
}

int
hook_sandbox(int (*lookup)(const char *), int *slot, uint32_t *n)
{
	const char *env, *errstr = NULL;
	char *name, *num;

	if ((env = getenv(HOOK_ENV_SANDBOX)) == NULL || *env == '\0')
		return 0;
	if ((name = strdup(env)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	if ((num = strchr(name, ':')) != NULL) {
		*num++ = '\0';
		*n = (uint32_t)strtonum(num, 0, UINT32_MAX, &errstr);
	}
	if (num == NULL || errstr != NULL || (*slot = lookup(name)) == -1) {
		log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s=%s: expected "
		    "engine|net-local|net-remote:<n>", HOOK_ENV_SANDBOX, env);
		free(name);
		return -1;
	}
	free(name);
	return 1;
}

/* The crash-resume tests: priv dies as if killed, at a commit. */
void
hook_commit(int after, unsigned long nth)
{
	const char *env, *errstr;
	long long n;

	env = getenv(after ? HOOK_ENV_KILL_AT : HOOK_ENV_KILL_BEFORE);
	if (env == NULL || *env == '\0')
		return;
	n = strtonum(env, 1, LLONG_MAX, &errstr);
	if (errstr == NULL && (unsigned long long)n == nth)
		_exit(137);
}

/* "<n>" seconds or "<n>ms"; -1 if unset or not a number. */
int64_t
hook_timeout_ms(void)
{
	const char *env, *errstr;
	char buf[16];
	size_t len;
	long long t;
	int ms = 0;

	if ((env = getenv(HOOK_ENV_TIMEOUT)) == NULL)
		return -1;
	len = strlen(env);
	if (len > 2 && strcmp(env + len - 2, "ms") == 0) {
		ms = 1;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, env, len);
	buf[len] = '\0';
	t = strtonum(buf, 1, ms ? 86400000 : 86400, &errstr);
	if (errstr != NULL)
		return -1;
	return ms ? (int64_t)t : (int64_t)t * 1000;
}

int
hook_trap(void)
{
	return hook_flag(HOOK_ENV_TRAP);
}

static size_t
hook_utoa(char *buf, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < sizeof(tmp));
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

/*
 * SIGSYS in trap mode: name the call on stderr and leave.  Only
 * async-signal-safe work: the names were resolved before the filter.
 */
static void
hook_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char buf[256];
	const char *name = NULL;
	size_t n = 0, l;
	int nr = si->si_syscall;

#define SB_PUT(s) do {							\
	l = strlen(s);							\
	if (l > sizeof(buf) - 32 - n)					\
		l = sizeof(buf) - 32 - n;				\
	memcpy(buf + n, (s), l);					\
	n += l;								\
} while (0)
	if (nr >= 0 && nr < HOOK_MAXNR)
		name = trap.names[nr];
	SB_PUT(trap.progname);
	SB_PUT(": ");
	SB_PUT(trap.who);
	SB_PUT(": seccomp: forbidden system call ");
	SB_PUT(name != NULL ? name : "?");
	SB_PUT(" (");
	n += hook_utoa(buf + n, (unsigned long)(nr < 0 ? 0 : nr));
	buf[n++] = ')';
	buf[n++] = '\n';
#undef SB_PUT
	if (write(STDERR_FILENO, buf, n) == -1)
		_exit(EXIT_CHILD);	/* nowhere to say it */
	_exit(EXIT_CHILD);
}

void
hook_trap_setup(const char *progname, const char *who)
{
	struct sigaction sa;
	int nr;

	(void)strlcpy(trap.progname, progname, sizeof(trap.progname));
	(void)strlcpy(trap.who, who, sizeof(trap.who));
	for (nr = 0; nr < HOOK_MAXNR; nr++)
		trap.names[nr] = seccomp_syscall_resolve_num_arch(
		    SCMP_ARCH_NATIVE, nr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = hook_sigsys;
	sa.sa_flags = SA_SIGINFO;
	(void)sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal(EXIT_CHILD, "sigaction(SIGSYS)");
}

void
hook_engine(struct ipc_chan *parent, struct ipc_chan *net)
{
	const char *script;

	if ((script = getenv(HOOK_ENV_ENGINE_SCRIPT)) != NULL)
		eng_testclient(parent, net, script);
}

const char *const *
hook_child_env(uint32_t kind)
{
	return kind == PROC_NET ? hook_env_net : hook_env_engine;
}

/*
 * One frame written over and over, raw, as fast as the socket takes it,
 * reading nothing, until priv ends us.
 */
static void
hook_test_flood(struct ipc_chan *chan, uint32_t type,
    const struct ipc_buf *payload)
{
	struct ipc_hdr hdr;
	struct pollfd pfd;
	unsigned char *frame;
	size_t len, off;
	ssize_t w;

	if (ipc_flush_sync(chan) == -1)
		fatalx(EXIT_CHILD, "%s", chan->err);
	len = IPC_HDR_SIZE + payload->len;
	if ((frame = malloc(len)) == NULL)
		fatalx(EXIT_CHILD, "out of memory");
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	hdr.len = (uint32_t)payload->len;
	hdr.peerid = SIDE_NONE;
	hdr.pid = (uint32_t)getpid();
	memcpy(frame, &hdr, sizeof(hdr));
	if (payload->len > 0)
		memcpy(frame + IPC_HDR_SIZE, payload->data, payload->len);
	for (off = 0;;) {
		if ((w = write(chan->fd, frame + off, len - off)) > 0) {
			off = (off + (size_t)w) % len;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno != EAGAIN)
			_exit(EXIT_CHILD);	/* priv closed the channel */
		pfd.fd = chan->fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, -1);
	}
}

/*
 * SANDBOX_TEST_ALLOC.  The chunks are chained through their first word,
 * so that only one page of each is ever touched: the bound counts the
 * address space taken, and the test costs no real memory.  They are all
 * freed before the error is reported (reporting allocates).
 */
static void
hook_test_alloc(void)
{
	rlim_t bound = sandbox_data_bound(), got = 0;
	void **chunk, **last = NULL;

	while (got < bound + HOOK_ALLOC_MARGIN &&
	    (chunk = malloc(HOOK_ALLOC_STEP)) != NULL) {
		*chunk = last;
		last = chunk;
		got += HOOK_ALLOC_STEP;
	}
	while (last != NULL) {
		chunk = *last;
		free(last);
		last = chunk;
	}
	if (got >= bound + HOOK_ALLOC_MARGIN)
		fatalx(EXIT_CHILD, "sandbox test: %llu MiB allocated, past "
		    "the memory bound of %llu MiB: no RLIMIT_DATA in force",
		    (unsigned long long)(got >> 20),
		    (unsigned long long)(bound >> 20));
	fatalx(EXIT_CHILD, "out of memory: the bound of %llu MiB (RLIMIT_DATA) "
	    "reached, %llu MiB allocated by the sandbox test",
	    (unsigned long long)(bound >> 20),
	    (unsigned long long)(got >> 20));
}

/* Protocol violations for priv to catch (SANDBOX_TEST_*). */
static void
hook_test_ipc(struct ipc_chan *chan, uint32_t n)
{
	struct ipc_hdr hdr;
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	switch (n) {
	case SANDBOX_TEST_READY_TWICE:
		ipc_put_u32(&buf, IPC_CATALOGUE_VERSION);
		if (ipc_send(chan, IMSG_CHILD_READY, SIDE_NONE, -1, &buf) == -1)
			fatalx(EXIT_CHILD, "%s", chan->err);
		break;
	case SANDBOX_TEST_UNKNOWN_TYPE:
		/* ipc_compose() refuses it: straight to the socket. */
		if (ipc_flush_sync(chan) == -1)
			fatalx(EXIT_CHILD, "%s", chan->err);
		memset(&hdr, 0, sizeof(hdr));
		hdr.type = 0xdead;
		hdr.peerid = SIDE_NONE;
		hdr.pid = (uint32_t)getpid();
		if (write(chan->fd, &hdr, sizeof(hdr)) != sizeof(hdr))
			fatal(EXIT_CHILD, "write");
		break;
	case SANDBOX_TEST_BAD_LOG:
		/* Level, then string lengths far beyond the payload. */
		ipc_put_u32(&buf, LOG_LVL_ERROR);
		ipc_put_u32(&buf, 0x7fffffff);
		ipc_put_u32(&buf, 0x7fffffff);
		ipc_put_u32(&buf, 0x7fffffff);
		if (ipc_send(chan, IMSG_LOG, SIDE_NONE, -1, &buf) == -1)
			fatalx(EXIT_CHILD, "%s", chan->err);
		break;
	case SANDBOX_TEST_UNREAD:
		hook_test_flood(chan, IMSG_DB_LOAD, &buf);
		break;
	case SANDBOX_TEST_DB_DELETE:
		/* A request only --delete may make (the engine's end only). */
		ipc_put_data(&buf, "INBOX", 5);
		if (ipc_send(chan, IMSG_DB_DELETE, SIDE_NONE, -1, &buf) == -1)
			fatalx(EXIT_CHILD, "%s", chan->err);
		break;
	}
	ipc_buf_free(&buf);
	if (ipc_flush_sync(chan) == -1)
		fatalx(EXIT_CHILD, "%s", chan->err);
}

void
sandbox_test(struct ipc_chan *chan, uint32_t n)
{
	char *const argv[] = { (char *)"true", NULL };
	char *const envp[] = { NULL };
	const char *what;
	struct iovec iov;
	char byte[1];
	pid_t pid;
	int fd;

	switch (n) {
	case SANDBOX_TEST_READY_TWICE:
	case SANDBOX_TEST_UNKNOWN_TYPE:
	case SANDBOX_TEST_BAD_LOG:
	case SANDBOX_TEST_UNREAD:
	case SANDBOX_TEST_DB_DELETE:
		hook_test_ipc(chan, n);
		return;
	case SANDBOX_TEST_ALLOC:
		hook_test_alloc();
		/* NOTREACHED */
	case SANDBOX_TEST_STDERR: {
		/* A title, a cleared screen, a bell: raw, past priv. */
		static const char seq[] = "\033]0;owned\007\033[2J\033[H"
		    "\233" "2J child stderr\n";

		/* Whatever comes of it (a file: RLIMIT_FSIZE is 0). */
		if (write(STDERR_FILENO, seq, sizeof(seq) - 1) == -1)
			errno = 0;
		return;
	}
	case 1:
		what = "openat";
		if ((fd = openat(AT_FDCWD, "/etc/passwd", O_RDONLY)) != -1)
			(void)close(fd);
		break;
	case 2:
		what = "socket";
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1)
			(void)close(fd);
		break;
	case 3:
		what = "execve";
		(void)execve("/bin/true", argv, envp);
		break;
	case 4:
		what = "fork";
		if ((pid = fork()) == 0)
			_exit(0);
		break;
	case 5:
		what = "readv";
		iov.iov_base = byte;
		iov.iov_len = sizeof(byte);
		if (readv(STDIN_FILENO, &iov, 1) == -1)
			fatal(EXIT_CHILD, "readv");
		break;
	default:
		fatalx(EXIT_CHILD, "sandbox test: no forbidden call %u", n);
	}
	fatalx(EXIT_CHILD, "sandbox test %u: %s was not stopped", n, what);
}
