/*
 * A net child's seccomp policy: the engine's, plus what TLS and DEFLATE
 * need at run time once their contexts are built, plus I/O on the peer
 * stream priv passes (SCM_RIGHTS, hence recvmsg).  No file, no socket of
 * its own, no connect, no process, no executable memory.  Every
 * descriptor it holds was given to it (fds 0-4 after the re-exec, the
 * stream later), so I/O calls need no descriptor filter.
 *
 * A feature that needs a new call adds it here, in the same commit, with
 * a reason.
 */
#include <sys/mman.h>

#include <fcntl.h>

#include "sandbox.h"
#include "net_sandbox.h"

static const struct sandbox_rule net_policy[] = {
	/* IPC with priv and the engine, stderr for the runtime */
	SANDBOX_ALLOW(read),
	SANDBOX_ALLOW(write),
	SANDBOX_ALLOW(readv),
	SANDBOX_ALLOW(writev),
	SANDBOX_ALLOW(recvmsg),
	SANDBOX_ALLOW(sendmsg),
	SANDBOX_ALLOW(close),
	/* the peer stream: a socket or a tunnel's pipe/socketpair */
	SANDBOX_ALLOW(recvfrom),
	SANDBOX_ALLOW(sendto),
	SANDBOX_ALLOW(shutdown),
	SANDBOX_ALLOW(getsockopt),
	/* waiting for messages and the server */
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
	/* OpenSSL: randomness for TLS, time for certificates and sessions */
	SANDBOX_ALLOW(getrandom),
	SANDBOX_ALLOW(clock_gettime),
	SANDBOX_ALLOW(gettimeofday),
	/* libc and OpenSSL locks */
	SANDBOX_ALLOW(futex),
};

void
net_sandbox(void)
{
	sandbox_seccomp(net_policy, SANDBOX_NRULES(net_policy));
}
