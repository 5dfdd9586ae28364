/*
 * Confining a child: process title, descriptors, credentials, resource
 * limits and the seccomp filter.  Shared by net and engine; each keeps
 * its own policy table beside the code that needs it (net/sandbox.c,
 * engine/sandbox.c) and hands it to sandbox_seccomp().
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#ifdef INTERIMAP_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif

#include "ipc.h"
#include "log.h"
#include "sandbox.h"
#include "testhooks.h"

/* Empty roots, in order of preference; the second is made if needed. */
#define SANDBOX_EMPTY_SYSTEM	"/var/empty"
#define SANDBOX_EMPTY_RUN	"/run/interimap-empty"

/* Each child's RLIMIT_DATA (sandbox.h), by its sandbox_child_init() name. */
static const struct {
	const char	*who;
	rlim_t		 data;
} sandbox_data[] = {
	{ "engine",	 SANDBOX_DATA_ENGINE },
	{ "net(local)",	 SANDBOX_DATA_NET },
	{ "net(remote)", SANDBOX_DATA_NET },
};

static struct {
	pid_t	 ppid;			/* priv */
	int	 active;		/* the filter is loaded */
	int	 trap;			/* testhooks.h: hook_trap() */
	char	 progname[32];		/* "interimap" */
	char	 who[64];		/* "net(local)" */
} sb;

static void	 sandbox_parent_check(void);
static void	 sandbox_title(int, char **, const char *);
static const char *sandbox_emptydir(void);
static int	 sandbox_dir_ok(const char *);
static void	 sandbox_setrlimit(int, rlim_t, const char *);
static void	 sandbox_add(scmp_filter_ctx, const struct sandbox_rule *);
static void	 sandbox_quiet_stderr(void);

/*
 * What every child needs whatever its job, since each talks IPC and
 * allocates memory.  Its own policy (net/sandbox.c, engine/sandbox.c)
 * adds the rest.  Every descriptor a child holds was given to it (the
 * re-exec left its channels and stdio, RLIMIT_NOFILE bounds the rest and
 * nothing here can create one), so I/O calls need no descriptor filter.
 */
static const struct sandbox_rule sandbox_base[] = {
	/* leaving */
	SANDBOX_ALLOW(exit),
	SANDBOX_ALLOW(exit_group),
	/* signals: return from a handler, restart, abort(3) masks first */
	SANDBOX_ALLOW(rt_sigreturn),
	SANDBOX_ALLOW(restart_syscall),
	SANDBOX_ALLOW(rt_sigprocmask),
	SANDBOX_ALLOW(getpid),
	SANDBOX_ALLOW(gettid),
	/*
	 * IPC: framed messages (descriptors ride on sendmsg/recvmsg);
	 * write and writev for stderr (the trap handler, glibc's fatal
	 * messages, the sanitizers), read for a net's peer stream.
	 */
	SANDBOX_ALLOW(read),
	SANDBOX_ALLOW(write),
	SANDBOX_ALLOW(writev),
	SANDBOX_ALLOW(recvmsg),
	SANDBOX_ALLOW(sendmsg),
	SANDBOX_ALLOW(close),
	/* waiting for messages (and a net for its server) */
	SANDBOX_ALLOW(poll),
	SANDBOX_ALLOW(ppoll),
	/* descriptor flags only (non-blocking, close-on-exec) */
	SANDBOX_ALLOW_IF(fcntl, SANDBOX_ARG(1, SCMP_CMP_EQ, F_GETFL, 0)),
	SANDBOX_ALLOW_IF(fcntl, SANDBOX_ARG(1, SCMP_CMP_EQ, F_SETFL, 0)),
	SANDBOX_ALLOW_IF(fcntl, SANDBOX_ARG(1, SCMP_CMP_EQ, F_GETFD, 0)),
	SANDBOX_ALLOW_IF(fcntl, SANDBOX_ARG(1, SCMP_CMP_EQ, F_SETFD, 0)),
	/* malloc(3): memory, never executable */
	SANDBOX_ALLOW(brk),
	SANDBOX_ALLOW_IF(mmap,
	    SANDBOX_ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),
	SANDBOX_ALLOW_IF(mprotect,
	    SANDBOX_ARG(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)),
	SANDBOX_ALLOW(munmap),
	SANDBOX_ALLOW(mremap),
	SANDBOX_ALLOW(madvise),
	/* time, when the vDSO cannot answer */
	SANDBOX_ALLOW(clock_gettime),
	SANDBOX_ALLOW(gettimeofday),
	/* libc locks */
	SANDBOX_ALLOW(futex),
	/*
	 * glibc's qsort() asks sysconf(_SC_PHYS_PAGES), i.e. sysinfo, before
	 * sorting a large array (the engine's UID lists, a net's flags of a
	 * FETCH with many keywords): read-only.
	 */
	SANDBOX_ALLOW(sysinfo),
#ifdef INTERIMAP_SANITIZE
	/*
	 * ASan/UBSan runtime: its signal wrapper looks at the alternate
	 * stack before running a handler (the SIGSYS trap's included).
	 * Never in a production build.
	 */
	SANDBOX_ALLOW(sigaltstack),
#endif
};

/*
 * A child whose parent is gone must not run on: the death signal armed
 * before the exec covers priv dying later, this covers it having died
 * already.  Credential changes disarm it, so it is armed again here.
 */
static void
sandbox_parent_check(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		fatal(EXIT_CHILD, "prctl(PR_SET_PDEATHSIG)");
	if (getppid() != sb.ppid)
		_exit(EXIT_CHILD);
}

/*
 * The title goes where the kernel shows argv (/proc/PID/cmdline, ps):
 * the argv strings are one block, "interimap\0--proc=net-remote\0",
 * always longer than "interimap: net(remote)".  Only argv is rewritten,
 * never the environment after it (which setproctitle(3) would take):
 * tests find leftover processes by a marker there.
 */
static void
sandbox_title(int argc, char **argv, const char *title)
{
	char buf[128], *start, *end;
	size_t len;
	int i;

	if (argc < 1 || argv[0] == NULL)
		return;
	start = argv[0];
	end = start + strlen(start) + 1;
	for (i = 1; i < argc && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	(void)snprintf(buf, sizeof(buf), "%s: %s", sb.progname, title);
	len = strlen(buf);
	if (len > (size_t)(end - start) - 1)
		len = (size_t)(end - start) - 1;
	memset(start, 0, (size_t)(end - start));
	memcpy(start, buf, len);
}

void
sandbox_child_init(int argc, char **argv, const char *title, int nfds)
{
	sigset_t none;

	/*
	 * Who started us: alive, since the death signal priv armed before
	 * the exec (and its check) would have ended us otherwise.
	 */
	sb.ppid = getppid();

	/* getprogname() points into argv[0], which the title rewrites. */
	(void)strlcpy(sb.progname, getprogname(), sizeof(sb.progname));
	(void)strlcpy(sb.who, title, sizeof(sb.who));
	sandbox_title(argc, argv, title);
	/* The comm of an exec of /proc/self/exe would be "exe". */
	if (prctl(PR_SET_NAME, sb.progname, 0, 0, 0) == -1)
		fatal(EXIT_CHILD, "prctl(PR_SET_NAME)");

	closefrom(nfds);

	/* No setuid gains, no core files, no ptrace by other users. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal(EXIT_CHILD, "prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal(EXIT_CHILD, "prctl(PR_SET_DUMPABLE)");
	sandbox_parent_check();

	/*
	 * ^C reaches the whole process group, and a service manager's
	 * SIGTERM the whole cgroup: priv alone says what they mean, and
	 * ends us by closing our channel (EOF), SIGKILL if we linger.
	 * Writes to a closed socket are errors, not deaths.
	 */
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGTERM, SIG_IGN);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* A root directory must be a directory only root can change. */
static int
sandbox_dir_ok(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return -1;
	return 0;
}

static const char *
sandbox_emptydir(void)
{
	if (sandbox_dir_ok(SANDBOX_EMPTY_SYSTEM) == 0)
		return SANDBOX_EMPTY_SYSTEM;
	/* Several children may race here: EEXIST is fine, checked below. */
	if (mkdir(SANDBOX_EMPTY_RUN, 0755) == -1 && errno != EEXIST)
		fatal(EXIT_CHILD, "mkdir %s", SANDBOX_EMPTY_RUN);
	if (sandbox_dir_ok(SANDBOX_EMPTY_RUN) == -1)
		fatalx(EXIT_CHILD, "%s is not a root-owned directory that "
		    "only root can write", SANDBOX_EMPTY_RUN);
	return SANDBOX_EMPTY_RUN;
}

void
sandbox_drop_privs(const char *user)
{
	struct passwd *pw;
	const char *root;
	uid_t uid, ruid, euid, suid;
	gid_t gid, rgid, egid, sgid;

	if (geteuid() != 0)
		return;
	if (user == NULL)
		user = SANDBOX_USER;
	/* The user database is out of reach once chrooted. */
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (errno != 0)
			fatal(EXIT_CHILD, "getpwnam %s", user);
		fatalx(EXIT_CHILD, "no such user %s", user);
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		fatalx(EXIT_CHILD, "user %s is root", user);
	endpwent();

	root = sandbox_emptydir();
	if (chroot(root) == -1)
		fatal(EXIT_CHILD, "chroot %s", root);
	if (chdir("/") == -1)
		fatal(EXIT_CHILD, "chdir /");

	if (setgroups(1, &gid) == -1)
		fatal(EXIT_CHILD, "setgroups");
	if (setresgid(gid, gid, gid) == -1)
		fatal(EXIT_CHILD, "setresgid %lu", (unsigned long)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal(EXIT_CHILD, "setresuid %lu", (unsigned long)uid);

	/* Trust, but verify: no way back to root may remain. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal(EXIT_CHILD, "getresuid");
	if (ruid != uid || euid != uid || suid != uid || rgid != gid ||
	    egid != gid || sgid != gid)
		fatalx(EXIT_CHILD, "privileges not dropped");
	if (setresuid(0, 0, 0) != -1 || setegid(0) != -1)
		fatalx(EXIT_CHILD, "could regain root after dropping it");

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal(EXIT_CHILD, "prctl(PR_SET_DUMPABLE)");
	sandbox_parent_check();
}

static void
sandbox_setrlimit(int resource, rlim_t value, const char *name)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = value;
	if (setrlimit(resource, &rl) == -1)
		fatal(EXIT_CHILD, "setrlimit(%s)", name);
}

void
sandbox_rlimits(void)
{
	sandbox_setrlimit(RLIMIT_NOFILE, SANDBOX_NOFILE, "RLIMIT_NOFILE");
	sandbox_setrlimit(RLIMIT_CORE, 0, "RLIMIT_CORE");
	/*
	 * No file may grow: not even stdout/stderr redirected to a file.
	 * The trap handler and the sanitizers report on stderr, which may
	 * be such a file, so debugging builds and runs keep it.
	 */
#ifndef INTERIMAP_SANITIZE
	if (!hook_trap())
		sandbox_setrlimit(RLIMIT_FSIZE, 0, "RLIMIT_FSIZE");
#endif
	/*
	 * No new process.  Only counts for a non-root user, which we are
	 * by now if we started as root; seccomp forbids fork anyway.
	 */
	sandbox_setrlimit(RLIMIT_NPROC, 0, "RLIMIT_NPROC");
	/*
	 * Bounded memory.  Not under the sanitizers: their shadow memory
	 * alone is far beyond any bound (sandbox.h).
	 */
#ifndef INTERIMAP_SANITIZE
	sandbox_setrlimit(RLIMIT_DATA, sandbox_data_bound(), "RLIMIT_DATA");
#else
	(void)sandbox_data_bound();	/* every child has one all the same */
#endif
}

rlim_t
sandbox_data_bound(void)
{
	size_t i;

	for (i = 0; i < sizeof(sandbox_data) / sizeof(sandbox_data[0]); i++)
		if (strcmp(sb.who, sandbox_data[i].who) == 0)
			return sandbox_data[i].data;
	/* A new kind of child needs a bound of its own. */
	fatalx(EXIT_CHILD, "no memory bound for a child named \"%s\"",
	    sb.who);
}

static void
sandbox_add(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	char *name;
	int rc;

	rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, r->nr, r->argc,
	    r->argv);
	if (rc == 0)
		return;
	/* A pseudo number: the call does not exist here. */
	if (r->nr < 0)
		return;
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r->nr);
	fatalx(EXIT_CHILD, "seccomp: rule for %s: %s",
	    name != NULL ? name : "?", strerror(-rc));
}

void
sandbox_seccomp(const struct sandbox_rule *rules, size_t nrules)
{
	const struct sandbox_rule abrt = SANDBOX_ALLOW_IF2(tgkill,
	    SANDBOX_ARG(0, SCMP_CMP_EQ, getpid(), 0),
	    SANDBOX_ARG(2, SCMP_CMP_EQ, SIGABRT, 0));
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	if ((sb.trap = hook_trap()))
		hook_trap_setup(sb.progname, sb.who);
	ctx = seccomp_init(sb.trap ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL)
		fatalx(EXIT_CHILD, "seccomp_init failed");
	for (i = 0; i < SANDBOX_NRULES(sandbox_base); i++)
		sandbox_add(ctx, &sandbox_base[i]);
	sandbox_add(ctx, &abrt);
	for (i = 0; i < nrules; i++)
		sandbox_add(ctx, &rules[i]);
	sandbox_quiet_stderr();
	if ((rc = seccomp_load(ctx)) != 0)
		fatalx(EXIT_CHILD, "seccomp_load: %s", strerror(-rc));
	seccomp_release(ctx);
	sb.active = 1;
}

/*
 * Once in its sandbox a child speaks only through priv (IMSG_LOG, whose
 * text priv neutralises): its stderr becomes the /dev/null it has as
 * stdin (priv/proc.c), so that nothing it writes there, a subverted
 * child's escape sequences included, reaches the terminal raw.  Kept in
 * the sanitizers' builds (their reports) and in the test build's TRAP
 * mode (the trap handler's report).
 */
static void
sandbox_quiet_stderr(void)
{
#ifndef INTERIMAP_SANITIZE
	struct stat st;

	if (sb.trap)
		return;
	if (fstat(STDIN_FILENO, &st) == 0 && S_ISCHR(st.st_mode) &&
	    dup2(STDIN_FILENO, STDERR_FILENO) == -1)
		fatal(EXIT_CHILD, "dup2");
#endif
}

int
sandbox_active(void)
{
	return sb.active;
}

#ifdef INTERIMAP_SANITIZE
/*
 * LeakSanitizer checks at exit from a helper thread (clone, ptrace) that
 * reads /proc: impossible, and pointless, inside the filter; and it
 * fails loudly where /proc is not mounted.  priv checks otherwise.
 */
int
__lsan_is_turned_off(void)
{
	return sb.active || access("/proc/self/task", R_OK) == -1;
}
#endif
