/*
 * The set-up every child (engine, net) goes through after the re-exec,
 * in the order HOUSE-STYLE.md prescribes:
 *
 *	sandbox_child_init()	name the process, close stray fds, signals
 *	sandbox_drop_privs()	chroot + unprivileged user, when root
 *	sandbox_rlimits()	no files, no core, no processes
 *	(load what touches files: CA store, zlib, ...)
 *	sandbox_seccomp()	the process's system call policy
 *	log "sandbox loaded", and only then read from a server
 *
 * Every failure here is fatal (EXIT_CHILD): a child that cannot confine
 * itself must not run.
 */
#ifndef IPC_SANDBOX_H
#define IPC_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

/* Descriptors a child may hold: its channels, stdio, one peer stream. */
#define SANDBOX_NOFILE		16
/* Who the children become when priv runs as root. */
#define SANDBOX_USER		"nobody"
/* Set to 1 for SIGSYS traps that name the call instead of a silent kill. */
#define SANDBOX_TRAP_ENV	"INTERIMAP_SECCOMP_TRAP"

/*
 * One allow rule: a system call, and up to SANDBOX_MAXARGS argument
 * comparisons that must all hold (argc 0: any arguments).  A call this
 * architecture lacks (SCMP_SYS() gives a negative pseudo number) is
 * skipped, so tables can name both poll and ppoll.
 */
#define SANDBOX_MAXARGS		2
struct sandbox_rule {
	int			 nr;
	unsigned int		 argc;
	struct scmp_arg_cmp	 argv[SANDBOX_MAXARGS];
};

#define SANDBOX_ALLOW(call)						\
	{ SCMP_SYS(call), 0, { { 0, 0, 0, 0 }, { 0, 0, 0, 0 } } }
/* Argument n compared with op to a (and b for SCMP_CMP_MASKED_EQ). */
#define SANDBOX_ARG(n, op, a, b)					\
	{ (n), (op), (scmp_datum_t)(a), (scmp_datum_t)(b) }
#define SANDBOX_ALLOW_IF(call, c1)					\
	{ SCMP_SYS(call), 1, { c1, { 0, 0, 0, 0 } } }
#define SANDBOX_ALLOW_IF2(call, c1, c2)					\
	{ SCMP_SYS(call), 2, { c1, c2 } }
#define SANDBOX_NRULES(t)	(sizeof(t) / sizeof((t)[0]))

/*
 * First thing after the re-exec: process title "interimap: <title>"
 * (and the kernel's comm name), close every descriptor >= nfds, refuse
 * new privileges and core dumps, ignore SIGINT and SIGTERM (priv alone
 * decides what they mean) and SIGPIPE.  argv is main()'s: the title
 * overwrites its strings, so they are unusable afterwards.
 */
void	 sandbox_child_init(int, char **, const char *, int);
/*
 * If running as root: chroot to an empty root-owned directory and become
 * user (NULL: SANDBOX_USER), dropping all groups.  A no-op otherwise.
 */
void	 sandbox_drop_privs(const char *);
/* RLIMIT_NOFILE SANDBOX_NOFILE, RLIMIT_FSIZE 0, RLIMIT_CORE 0, NPROC 0. */
void	 sandbox_rlimits(void);
/*
 * Loads the policy: the allowances every child needs (exit, signal
 * return, abort(3) on itself, IPC, memory, time, locks, the sanitizer
 * runtime: ipc/sandbox.c), then rules (may be NULL if nrules is 0).  The
 * default action kills the process (SIGSYS), or traps and names the call
 * on stderr when INTERIMAP_SECCOMP_TRAP=1.
 */
void	 sandbox_seccomp(const struct sandbox_rule *, size_t);
/* 1 once sandbox_seccomp() has succeeded. */
int	 sandbox_active(void);
/*
 * IMSG_TEST_SANDBOX n, received on the channel to priv:
 *	1..5	attempt a forbidden call (1 openat /etc/passwd, 2 socket
 *		AF_INET, 3 execve /bin/true, 4 fork, 5 readv on stdin); if
 *		the filter lets it through, that is fatal;
 *	101	send IMSG_CHILD_READY a second time,
 *	102	send a frame of an unknown type,
 *	103	send an IMSG_LOG that breaks its layout:
 *		priv must find the child broken and end it (the child goes
 *		on as if nothing happened);
 *	104	(engine) send IMSG_DB_LOAD requests forever and read none
 *		of the answers: priv must end the child before the answers
 *		fill its memory.
 * Any other n is fatal.
 */
#define SANDBOX_TEST_READY_TWICE	101
#define SANDBOX_TEST_UNKNOWN_TYPE	102
#define SANDBOX_TEST_BAD_LOG		103
#define SANDBOX_TEST_UNREAD		104
#define SANDBOX_TEST_DB_DELETE		105	/* engine: --delete's request */
struct ipc_chan;
void	 sandbox_test(struct ipc_chan *, uint32_t);

#endif
