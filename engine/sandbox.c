/*
 * The engine's seccomp policy.  The engine only computes and talks to its
 * three channels (priv, net(local), net(remote)): what every child may do
 * (ipc/sandbox.c: IPC, memory, time, locks) is all it gets.  No file, no
 * socket, no process, no executable memory.
 *
 * A feature that needs a new call adds it here, in the same commit, with
 * a reason.
 */
#include <stddef.h>

#include "sandbox.h"
#include "engine_sandbox.h"

void
engine_sandbox(void)
{
	sandbox_seccomp(NULL, 0);
}
