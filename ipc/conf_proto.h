/*
 * priv -> child configuration: the payload layouts of IMSG_NET_CONF and
 * IMSG_ENGINE_CONF (catalogue.h) and their constants.  Each child gets
 * exactly what it needs and nothing of another's: a net its own section
 * only (so net(local) never holds the remote password), the engine no
 * secret at all.  Both arrive before the child enters its sandbox, so the
 * debug level is known when it says "sandbox loaded".  "str" is
 * ipc_put_str (u32 length + bytes, 0xffffffff for NULL), "data" is
 * ipc_put_data (may hold NUL bytes).
 *
 * IMSG_NET_CONF	u32 debug (--debug count), u32 flags (NET_CONF_*),
 *			u32 nkeys, then nkeys x (str key, str value): the
 *			keys a net uses of the effective [local] or
 *			[remote] section (type, host, STARTTLS, auth,
 *			username, password, compress, SSL_*; never proxy
 *			or command, which are priv's), defaults applied,
 *			sorted by key.  Keys are unique and non-empty,
 *			values never NULL.
 *
 * IMSG_ENGINE_CONF	u32 debug, u32 flags (ENGINE_CONF_*),
 *			u32 command (ENGINE_CMD_*),
 *			u32 targets (ENGINE_TARGET_*; all three unless
 *			    --delete/--rename restrict them),
 *			u32 watch (seconds between passes; 0: one pass),
 *			u32 nmailbox, nmailbox x data (the MAILBOX
 *			    arguments, INBOX normalised, local delimiter),
 *			u32 npattern, npattern x data (list-mailbox, a NUL
 *			    byte standing for the delimiter; 0 when unset),
 *			str list-select-opts (upper-cased; NULL if unset),
 *			str ignore-mailbox (PCRE2 source; NULL if unset),
 *			str local list-reference, str remote list-reference
 *			    ("" by default)
 */
#ifndef IPC_CONF_PROTO_H
#define IPC_CONF_PROTO_H

/* IMSG_NET_CONF flags. */
#define NET_CONF_WATCH		0x1	/* --watch or --notify */
#define NET_CONF_COMPRESS	0x2	/* compress: YES by default */
#define NET_CONF_NOTIFY		0x4	/* --notify: LIST-STATUS not required */

/* IMSG_NET_CONF bounds a net enforces. */
#define NET_CONF_MAXKEYS	256

/* IMSG_ENGINE_CONF flags. */
#define ENGINE_CONF_WATCH	0x1	/* --watch or --notify */
#define ENGINE_CONF_NOTIFY	0x2	/* --notify */
#define ENGINE_CONF_QUIET	0x4	/* -q */
#define ENGINE_CONF_PROGRESS	0x8	/* send IMSG_ENGINE_PROGRESS */

/* IMSG_ENGINE_CONF commands. */
#define ENGINE_CMD_SYNC		0
#define ENGINE_CMD_REPAIR	1
#define ENGINE_CMD_DELETE	2
#define ENGINE_CMD_RENAME	3

/* IMSG_ENGINE_CONF targets. */
#define ENGINE_TARGET_LOCAL	0x1
#define ENGINE_TARGET_REMOTE	0x2
#define ENGINE_TARGET_DATABASE	0x4

/* Bounds the engine enforces. */
#define ENGINE_CONF_MAXLIST	65536	/* mailboxes or patterns */

#endif
