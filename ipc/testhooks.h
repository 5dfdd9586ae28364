/*
 * Test hooks: the places where the test suite reaches into a run (kill
 * priv at a commit, script the engine, shorten the timeouts, trap
 * seccomp violations, ...).  Two builds of the same libraries:
 *
 *	interimap	 the binary that is installed; these functions come
 *			 from ipc/nohooks.c (part of the ipc library): no
 *			 hook, no test code, no variable of the list below
 *			 is even read;
 *	interimap-test	 built beside it (build/testbin/interimap), never
 *			 installed; ipc/testhooks.c and engine/testclient.c
 *			 are linked in as objects, so their definitions
 *			 come before the library's and ipc/nohooks.c is not
 *			 linked at all (a hook missing from testhooks.c
 *			 makes the link fail with two definitions).
 *
 * The hooks of interimap-test, each read from the environment:
 *	INTERIMAP_TEST_DUMP_CONFIG=1	print the normalised configuration
 *					(conf_dump()) and exit
 *	INTERIMAP_TEST_DB_ONLY=1	open (or create) the database, exit
 *	INTERIMAP_TEST_HOLD=1		priv.c: keep the run until stdin's
 *					EOF once all children are READY
 *	INTERIMAP_TEST_SANDBOX=<child>:<n>
 *					priv.c: IMSG_TEST_SANDBOX n to that
 *					child after its READY (sandbox.h)
 *	INTERIMAP_TEST_KILL_AT=<n>	priv_db.c: _exit(137) right after
 *					the n-th successful commit
 *	INTERIMAP_TEST_KILL_BEFORE=<n>	... instead of the n-th commit
 *	INTERIMAP_TEST_TIMEOUT=<n>[ms]	net: both bounds of imap_conn.h
 *	INTERIMAP_TEST_ENGINE_SCRIPT=...
 *					engine: engine/testclient.h instead
 *					of the synchronisation
 *	INTERIMAP_SECCOMP_TRAP=1	children: a forbidden call is named
 *					on stderr (SIGSYS trapped) instead
 *					of killing silently, and stderr may
 *					be a growing file
 * A child is given the ones it reads (and the test harness's marker,
 * INTERIMAP_TEST_SCRATCH, by which the harness finds what a test left
 * running) by priv: hook_child_env().
 */
#ifndef IPC_TESTHOOKS_H
#define IPC_TESTHOOKS_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct ipc_chan;

/*
 * priv, once the configuration is loaded (create: whether a missing
 * database would be created): -1 to go on with the run, or the exit
 * status of a run that a hook replaced (DUMP_CONFIG, DB_ONLY).
 */
int	 hook_priv_conf(const struct conf *, int);
/* priv: INTERIMAP_TEST_HOLD=1. */
int	 hook_hold(void);
/*
 * priv: INTERIMAP_TEST_SANDBOX.  0 if unset; 1 with *slot, the child's
 * slot as lookup() gives it for its name (proc_slot_by_name(): -1 if
 * none), and *n; -1 (logged) if malformed.
 */
int	 hook_sandbox(int (*)(const char *), int *, uint32_t *);
/* priv_db: a commit is next (after 0), or has just succeeded (1). */
void	 hook_commit(int, unsigned long);
/* net: the timeout in milliseconds that replaces imap_conn.h's, or -1. */
int64_t	 hook_timeout_ms(void);
/* children: 1 if the seccomp filter should trap rather than kill. */
int	 hook_trap(void);
/* children, in trap mode: the SIGSYS handler (program name, child). */
void	 hook_trap_setup(const char *, const char *);
/* engine, READY: run the test script instead of the sync (no return). */
void	 hook_engine(struct ipc_chan *, struct ipc_chan *);
/*
 * priv: the names of the variables a child of that kind (PROC_ENGINE,
 * PROC_NET) is given beside those it needs for its work (priv/proc.c),
 * NULL-terminated: none in interimap.
 */
const char *const *hook_child_env(uint32_t);

#endif
