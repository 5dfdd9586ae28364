/*
 * A net child's seccomp policy: what every child may do (ipc/sandbox.c:
 * IPC, memory, time, locks), plus I/O on the peer stream priv passes and
 * what TLS needs at run time once its context is built.  No file, no
 * socket of its own, no connect, no process, no executable memory.
 *
 * A feature that needs a new call adds it here, in the same commit, with
 * a reason.
 */
#include "sandbox.h"
#include "net_sandbox.h"

static const struct sandbox_rule net_policy[] = {
	/*
	 * The peer stream, a socket or a tunnel's socketpair: send/recv
	 * (net/stream.c), shutdown at the end; OpenSSL's socket BIO may
	 * ask it for SO_ERROR.
	 */
	SANDBOX_ALLOW(recvfrom),
	SANDBOX_ALLOW(sendto),
	SANDBOX_ALLOW(shutdown),
	SANDBOX_ALLOW(getsockopt),
	/* OpenSSL: its random generators reseed in a long (--watch) run */
	SANDBOX_ALLOW(getrandom),
};

void
net_sandbox(void)
{
	sandbox_seccomp(net_policy, SANDBOX_NRULES(net_policy));
}
