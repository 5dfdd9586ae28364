/*
 * The engine's seccomp policy.  The engine only computes and talks to its
 * three channels (priv, net(local), net(remote)): no file, no socket, no
 * process, no executable memory.  Every descriptor it holds was given to
 * it (the re-exec left fds 0-5, RLIMIT_NOFILE bounds the rest and nothing
 * here can create one), so I/O calls need no descriptor filter.
 *
 * A feature that needs a new call adds it here, in the same commit, with
 * a reason.
 */
#include <sys/mman.h>

#include <fcntl.h>

#include "sandbox.h"
#include "engine_sandbox.h"

static const struct sandbox_rule engine_policy[] = {
	/* IPC: framed messages on the channels, stderr for the runtime */
	SANDBOX_ALLOW(read),
	SANDBOX_ALLOW(write),
	SANDBOX_ALLOW(readv),
	SANDBOX_ALLOW(writev),
	SANDBOX_ALLOW(recvmsg),
	SANDBOX_ALLOW(sendmsg),
	SANDBOX_ALLOW(close),
	/* waiting for messages */
	SANDBOX_ALLOW(poll),
	SANDBOX_ALLOW(ppoll),
	/* descriptor flags only (non-blocking, close-on-exec) */
	SANDBOX_ALLOW_IF(fcntl, SANDBOX_ARG(1, SCMP_CMP_EQ, F_GETFL, 0)),
	SANDBOX_ALLOW_IF(fcntl, SANDBOX_ARG(1, SCMP_CMP_EQ, F_SETFL, 0)),
	SANDBOX_ALLOW_IF(fcntl, SANDBOX_ARG(1, SCMP_CMP_EQ, F_GETFD, 0)),
	SANDBOX_ALLOW_IF(fcntl, SANDBOX_ARG(1, SCMP_CMP_EQ, F_SETFD, 0)),
	/* memory, never executable */
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
	 * sorting a large array (UID lists, flag changes): read-only.
	 */
	SANDBOX_ALLOW(sysinfo),
};

void
engine_sandbox(void)
{
	sandbox_seccomp(engine_policy, SANDBOX_NRULES(engine_policy));
}
