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

#define IPC_CATALOGUE_VERSION	9
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
	/* the connected peer stream (fd attached); u32 transport,	\
	 * then the SOCKS5 request if any (ipc/conf_proto.h) */		\
	X(IMSG_NET_STREAM,	PROC_PRIV, PROC_NET, 4, 8192)		\
	/*								\
	 * the credentials of a lane other than 0 (NET_CONF_SPARE),	\
	 * right before its stream: str password, str oauth-token	\
	 * (either empty: none); lane 0's come with IMSG_NET_CONF	\
	 */								\
	X(IMSG_NET_SECRETS,	PROC_PRIV, PROC_NET, 8, 65536)		\
	/* traffic counters for the summary: 4 x u64 */		\
	X(IMSG_NET_STATS,	PROC_NET, PROC_PRIV, 32, 32)		\
	/* --- priv <-> engine ----------------------------------------- */\
	/* u32 debug, u32 flags, u32 command, ... (engine/engine.c) */	\
	X(IMSG_ENGINE_CONF,	PROC_PRIV, PROC_ENGINE, 12, IPC_ANYLEN)	\
	/* the engine is done; u32 exit code */				\
	X(IMSG_ENGINE_DONE,	PROC_ENGINE, PROC_PRIV, 4, 4)		\
	/*								\
	 * where the run stands (watch mode: after each pass), for	\
	 * sd_notify STATUS= and the log: u32 state (ENGINE_ST_*),	\
	 * u32 mailboxes synchronised, u64 end of the last complete	\
	 * pass (seconds since the epoch, 0 if none yet)		\
	 */								\
	X(IMSG_ENGINE_STATUS,	PROC_ENGINE, PROC_PRIV, 16, 16)		\
	/*								\
	 * a pass's progress, for the terminal's progress line (sent	\
	 * with ENGINE_CONF_PROGRESS only): u32 mailboxes done, u32	\
	 * mailboxes in the pass (0: the pass is over), u64 messages	\
	 * copied, u64 bytes copied, u64 messages expected (an estimate	\
	 * from the servers' UIDNEXT)					\
	 */								\
	X(IMSG_ENGINE_PROGRESS,	PROC_ENGINE, PROC_PRIV, 32, 32)		\
	/* synchronise now (SIGHUP): every mailbox is looked at again */\
	X(IMSG_ENGINE_WAKE,	PROC_PRIV, PROC_ENGINE, 0, 0)		\
	/*								\
	 * connect the nets of lanes 1 .. n - 1 too (ipc/proc.h): u32	\
	 * n, from 2 to the run's lanes; jobs are waiting for one	\
	 */								\
	X(IMSG_ENGINE_LANES,	PROC_ENGINE, PROC_PRIV, 4, 4)		\
	/* --- engine <-> net: IMAP operations (net/imap_ops.c) -------- */\
	/*								\
	 * Requests carry a request id in hdr.peerid; every answer	\
	 * (data and the final IMSG_IMAP_DONE) carries the same id.	\
	 * Untagged data the server sends on its own (EXISTS, FETCH,	\
	 * VANISHED, codes) carries the id of the oldest request in	\
	 * flight, or 0.  Layouts are in ipc/imap_proto.h.		\
	 */								\
	/* the session is established; u32 capability bits, u64 the */	\
	/* server's APPENDLIMIT or 0 */					\
	X(IMSG_IMAP_READY,	PROC_NET, PROC_ENGINE, 12, 12)		\
	X(IMSG_IMAP_LIST,	PROC_ENGINE, PROC_NET, 16, 65536)	\
	X(IMSG_IMAP_SELECT,	PROC_ENGINE, PROC_NET, 8, 65536)	\
	X(IMSG_IMAP_UNSELECT,	PROC_ENGINE, PROC_NET, 0, 0)		\
	X(IMSG_IMAP_NOOP,	PROC_ENGINE, PROC_NET, 0, 0)		\
	X(IMSG_IMAP_FETCH,	PROC_ENGINE, PROC_NET, 16, 65536)	\
	X(IMSG_IMAP_STORE,	PROC_ENGINE, PROC_NET, 16, 65536)	\
	X(IMSG_IMAP_EXPUNGE,	PROC_ENGINE, PROC_NET, 4, 65536)	\
	X(IMSG_IMAP_MAILBOX,	PROC_ENGINE, PROC_NET, 12, 65536)	\
	X(IMSG_IMAP_APPEND,	PROC_ENGINE, PROC_NET, 4, 65536)	\
	X(IMSG_IMAP_APPEND_MSG,	PROC_ENGINE, PROC_NET, 16, 65536)	\
	X(IMSG_IMAP_APPEND_DATA, PROC_ENGINE, PROC_NET, 1, 131072)	\
	X(IMSG_IMAP_APPEND_END,	PROC_ENGINE, PROC_NET, 0, 0)		\
	X(IMSG_IMAP_LOGOUT,	PROC_ENGINE, PROC_NET, 0, 0)		\
	X(IMSG_IMAP_NOTIFY,	PROC_ENGINE, PROC_NET, 8, 65536)	\
	X(IMSG_IMAP_IDLE,	PROC_ENGINE, PROC_NET, 0, 0)		\
	X(IMSG_IMAP_IDLE_DONE,	PROC_ENGINE, PROC_NET, 0, 0)		\
	X(IMSG_IMAP_LIST_ITEM,	PROC_NET, PROC_ENGINE, 12, 65536)	\
	X(IMSG_IMAP_STATUS_ITEM, PROC_NET, PROC_ENGINE, 28, 65536)	\
	X(IMSG_IMAP_CODE,	PROC_NET, PROC_ENGINE, 12, 65536)	\
	X(IMSG_IMAP_EXISTS,	PROC_NET, PROC_ENGINE, 4, 4)		\
	X(IMSG_IMAP_VANISHED,	PROC_NET, PROC_ENGINE, 8, 65536)	\
	X(IMSG_IMAP_FETCH_ITEM,	PROC_NET, PROC_ENGINE, 32, 65536)	\
	X(IMSG_IMAP_BODY_DATA,	PROC_NET, PROC_ENGINE, 1, 131072)	\
	X(IMSG_IMAP_BODY_END,	PROC_NET, PROC_ENGINE, 4, 4)		\
	X(IMSG_IMAP_DONE,	PROC_NET, PROC_ENGINE, 12, 65536)	\
	/* --- engine <-> priv: database (layouts: ipc/db_proto.h) ----- */\
	X(IMSG_DB_MIGRATE,	PROC_ENGINE, PROC_PRIV, 8, 8)		\
	X(IMSG_DB_LOAD,		PROC_ENGINE, PROC_PRIV, 0, 0)		\
	X(IMSG_DB_INTERRUPTED,	PROC_ENGINE, PROC_PRIV, 0, 0)		\
	X(IMSG_DB_MAP_LOAD,	PROC_ENGINE, PROC_PRIV, 12, 12)		\
	X(IMSG_DB_MAILBOX_ADD,	PROC_ENGINE, PROC_PRIV, 8, 65536)	\
	X(IMSG_DB_SUBSCRIBE,	PROC_ENGINE, PROC_PRIV, 12, 12)		\
	X(IMSG_DB_STATE_INIT,	PROC_ENGINE, PROC_PRIV, 16, 16)		\
	X(IMSG_DB_STATE_SET,	PROC_ENGINE, PROC_PRIV, 36, 36)		\
	X(IMSG_DB_MAP_ADD,	PROC_ENGINE, PROC_PRIV, 12, IPC_ANYLEN)	\
	X(IMSG_DB_MAP_DEL,	PROC_ENGINE, PROC_PRIV, 16, IPC_ANYLEN)	\
	X(IMSG_DB_FLAGS_SET,	PROC_ENGINE, PROC_PRIV, 16, IPC_ANYLEN)	\
	X(IMSG_DB_DELETE,	PROC_ENGINE, PROC_PRIV, 4, 65536)	\
	X(IMSG_DB_RENAME,	PROC_ENGINE, PROC_PRIV, 8, 65536)	\
	X(IMSG_DB_COMMIT,	PROC_ENGINE, PROC_PRIV, 0, 0)		\
	X(IMSG_DB_MAILBOX_ROW,	PROC_PRIV, PROC_ENGINE, 48, 65536)	\
	X(IMSG_DB_MAP_ROWS,	PROC_PRIV, PROC_ENGINE, 12, IPC_ANYLEN)	\
	X(IMSG_DB_FLAG_ROWS,	PROC_PRIV, PROC_ENGINE, 16, IPC_ANYLEN)	\
	X(IMSG_DB_RESULT,	PROC_PRIV, PROC_ENGINE, 16, 65536)	\

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
