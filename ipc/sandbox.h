/*
 * The set-up every child (engine, net) goes through after the re-exec,
 * in the order HOUSE-STYLE.md prescribes:
 *
 *	sandbox_child_init()	name the process, close stray fds, signals
 *	sandbox_drop_privs()	chroot + unprivileged user, when root
 *	sandbox_rlimits()	no files, no core, no processes, bounded
 *				memory
 *	(load what touches files: CA store, zlib, ...)
 *	sandbox_seccomp()	the process's system call policy
 *	log "sandbox loaded", and only then read from a server
 *
 * Every failure here is fatal (EXIT_CHILD): a child that cannot confine
 * itself must not run.
 */
#ifndef IPC_SANDBOX_H
#define IPC_SANDBOX_H

#include <sys/types.h>
#include <sys/resource.h>

#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

/*
 * Descriptors a child may hold: stdio, its channels (the engine: priv's
 * and one per net, up to IPC_LANES_MAX lanes of two), one peer stream.
 */
#define SANDBOX_NOFILE		24
/*
 * RLIMIT_DATA of each child: the heap and every private writable mapping
 * (malloc's brk and mmap alike), counted as address space, not as pages
 * in use.  Far above what legitimate work takes, so that only a runaway
 * meets it, as a malloc(3) that fails.  Documented in interimap(1).
 *
 * The engine holds the UID mappings and the per-mailbox state of the
 * sync: at most 150 bytes per message measured (bench/memory.sh: under
 * 20 MiB at its peak, heap under 8 MiB today, for a first sync of
 * 100,000 messages), so 1 GiB leaves room for mailboxes of millions of
 * messages.
 *
 * A net holds TLS and DEFLATE state, the CA store, one response of at
 * most 1 MiB (16 MiB parsed), 64 KiB literals and queues bounded at
 * 1 MiB each way: under 10 MiB at its peak (heap under 3 MiB) in the
 * same measures, whether 100,000 messages or one of 50 MiB, and nothing
 * that grows with a mailbox.
 *
 * RLIMIT_DATA rather than RLIMIT_AS: the address space also counts the
 * code, the stack and reservations never filled, so a bound on it says
 * less about the memory a child takes, and would need more slack.
 *
 * Not under the sanitizers: ASan's shadow memory is one huge private
 * writable mapping (VmData about 14 TiB), already beyond any such bound
 * when the child starts, and every allocation after the limit would
 * fail.
 */
#define SANDBOX_DATA_ENGINE	(1024UL * 1024 * 1024)
#define SANDBOX_DATA_NET	(256UL * 1024 * 1024)
/* Who the children become when priv runs as root. */
#define SANDBOX_USER		"nobody"

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
/*
 * RLIMIT_NOFILE SANDBOX_NOFILE, RLIMIT_FSIZE 0, RLIMIT_CORE 0, NPROC 0,
 * RLIMIT_DATA SANDBOX_DATA_* by the child's name (sandbox_child_init()).
 */
void	 sandbox_rlimits(void);
/* This child's RLIMIT_DATA bound, whether or not in force. */
rlim_t	 sandbox_data_bound(void);
/*
 * Loads the policy: the allowances every child needs (exit, signal
 * return, abort(3) on itself, IPC, memory, time, locks, the sanitizer
 * runtime: ipc/sandbox.c), then rules (may be NULL if nrules is 0).  The
 * default action kills the process (SIGSYS); the test build can trap and
 * name the call on stderr instead (testhooks.h).
 */
void	 sandbox_seccomp(const struct sandbox_rule *, size_t);
/* 1 once sandbox_seccomp() has succeeded. */
int	 sandbox_active(void);
/*
 * IMSG_TEST_SANDBOX n, received on the channel to priv; the test build
 * only (ipc/testhooks.c: the installed binary ends the child):
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
 *		fill its memory;
 *	106	allocate memory, 1 MiB at a time, until malloc(3) fails: it
 *		must fail at the child's RLIMIT_DATA bound, and the child
 *		ends with an out-of-memory error (EXIT_CHILD); if it gets
 *		64 MiB past the bound (the sanitizers' builds, which have
 *		none), that is said and fatal too;
 *	107	write terminal escape sequences to the standard error, then go
 *		on as if nothing happened: they must reach nobody (a child's
 *		stderr is /dev/null once it is in its sandbox).
 * Any other n is fatal.
 */
#define SANDBOX_TEST_READY_TWICE	101
#define SANDBOX_TEST_UNKNOWN_TYPE	102
#define SANDBOX_TEST_BAD_LOG		103
#define SANDBOX_TEST_UNREAD		104
#define SANDBOX_TEST_DB_DELETE		105	/* engine: --delete's request */
#define SANDBOX_TEST_ALLOC		106
#define SANDBOX_TEST_STDERR		107
struct ipc_chan;
void	 sandbox_test(struct ipc_chan *, uint32_t);

#endif
