/* A net child's system call policy (net/sandbox.c). */
#ifndef NET_NET_SANDBOX_H
#define NET_NET_SANDBOX_H

/* Loads the filter; fatal on failure. */
void	 net_sandbox(void);

#endif
