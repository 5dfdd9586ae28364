/*
 * The message catalogue: every IPC message type, who may send it, who may
 * receive it, and the bounds of its payload length.  ipc_get() and
 * ipc_compose() enforce these before any handler runs.
 *
 * X(name, senders, receivers, minlen, maxlen)
 *
 * Adding a message touches three places: a line here, its pack/unpack pair,
 * its handler.  Bump IPC_CATALOGUE_VERSION on any change (children are the
 * same binary, so this only guards against stale builds in tests).
 */
#ifndef IPC_CATALOGUE_H
#define IPC_CATALOGUE_H

#include <stdint.h>

#include "proc.h"

#define IPC_CATALOGUE_VERSION	1
#define IPC_ANYLEN		(256 * 1024)

#define IPC_MESSAGES(X)							\
	/* --- every child <-> priv ------------------------------------ */\
	/* u32 level, str name, str mailbox, str text */		\
	X(IMSG_LOG,		PROC_CHILD, PROC_PRIV, 16, 65536)	\
	/* the child has entered its sandbox; u32 catalogue version */	\
	X(IMSG_CHILD_READY,	PROC_CHILD, PROC_PRIV, 4, 4)		\
	/* test hook: attempt the forbidden call numbered u32 */	\
	X(IMSG_TEST_SANDBOX,	PROC_PRIV, PROC_CHILD, 4, 4)		\
	/* end cleanly: finish, flush, exit 0 */			\
	X(IMSG_SHUTDOWN,	PROC_PRIV, PROC_CHILD, 0, 0)		\
	/* --- priv <-> net -------------------------------------------- */\
	/* u32 debug, u32 flags, u32 nkeys, then nkeys x (str, str) */	\
	X(IMSG_NET_CONF,	PROC_PRIV, PROC_NET, 12, 65536)		\
	/* the connected peer stream (fd attached); u32 transport */	\
	X(IMSG_NET_STREAM,	PROC_PRIV, PROC_NET, 4, 4)		\
	/* traffic counters for the summary: 4 x u64 */		\
	X(IMSG_NET_STATS,	PROC_NET, PROC_PRIV, 32, 32)		\
	/* --- priv <-> engine ----------------------------------------- */\
	/* u32 debug, u32 flags, u32 command, ... (engine/engine.c) */	\
	X(IMSG_ENGINE_CONF,	PROC_PRIV, PROC_ENGINE, 12, IPC_ANYLEN)	\
	/* the engine is done; u32 exit code */				\
	X(IMSG_ENGINE_DONE,	PROC_ENGINE, PROC_PRIV, 4, 4)		\
	/* --- engine <-> net: IMAP operations (net/imap_ops.c) -------- */\
	/* the session is established; u32 capability bits */		\
	X(IMSG_IMAP_READY,	PROC_NET, PROC_ENGINE, 4, 4)		\
	/* --- engine <-> priv: database requests (priv/db.c) ---------- */\
	/* (issue: Engine) */

enum ipc_type {
	IMSG_NONE = 0,
#define IPC_ENUM(name, from, to, min, max)	name,
	IPC_MESSAGES(IPC_ENUM)
#undef IPC_ENUM
	IMSG_MAX
};

struct ipc_catalogue_entry {
	const char	*name;
	uint32_t	 from, to;
	uint32_t	 minlen, maxlen;
};

/* NULL for an unknown type. */
const struct ipc_catalogue_entry *ipc_catalogue(uint32_t);
/* "IMSG_LOG", or "IMSG_#17" for an unknown type (static buffer). */
const char	*ipc_type_name(uint32_t);

/*
 * Which types travel with a descriptor: IPC_FDOPT_NONE (every type not
 * listed in catalogue.c), IPC_FDOPT_MAY or IPC_FDOPT_MUST.  ipc_get() and
 * ipc_compose() enforce it.
 */
#define IPC_FDOPT_NONE	0
#define IPC_FDOPT_MAY	1
#define IPC_FDOPT_MUST	2
int		 ipc_type_fd(uint32_t);

#endif
