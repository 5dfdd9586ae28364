/*
 * The test hooks of the installed binary: none (testhooks.h).  Every
 * function says "not asked for"; nothing here reads the environment.
 */
#include <stddef.h>
#include <stdint.h>

#include "ipc.h"
#include "log.h"
#include "sandbox.h"
#include "testhooks.h"

static const char *const nohooks_env[] = { NULL };

int
hook_priv_conf(const struct conf *conf, int create)
{
	return -1;
}

int
hook_hold(void)
{
	return 0;
}

int
hook_sandbox(int (*lookup)(const char *), int *slot, uint32_t *n)
{
	return 0;
}

void
hook_commit(int after, unsigned long nth)
{
}

int64_t
hook_timeout_ms(void)
{
	return -1;
}

int
hook_trap(void)
{
	return 0;
}

void
hook_trap_setup(const char *progname, const char *who)
{
}

void
hook_engine(struct ipc_chan *parent, struct ipc_chan *net)
{
}

const char *const *
hook_child_env(uint32_t kind)
{
	return nohooks_env;
}

/* priv never sends IMSG_TEST_SANDBOX from this binary. */
void
sandbox_test(struct ipc_chan *chan, uint32_t n)
{
	fatalx(EXIT_CHILD, "IMSG_TEST_SANDBOX: not a test build");
}
