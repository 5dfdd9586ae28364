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
 *			username, password, compress, sync-method, SSL_*;
 *			never proxy
 *			or command, which are priv's), defaults applied,
 *			sorted by key.  Keys are unique and non-empty,
 *			values never NULL.
 *
 * IMSG_NET_STREAM	(the connected stream attached) u32 transport
 *			(NET_STREAM_*); for NET_STREAM_SOCKS5 only, what
 *			the net asks the proxy: u32 atyp (SOCKS5_ATYP_*),
 *			data addr (4 or 16 bytes of address, or 1..255
 *			bytes of name for socks5h), u32 port, u32
 *			timeout (ms, for the whole exchange), str user, str
 *			password (both NULL without a userinfo in the URI,
 *			else both set; the password is the proxy's secret
 *			and goes to this net only).  priv connects to the
 *			proxy and nothing more: the SOCKS5 exchange and
 *			every byte the proxy answers are the net's.
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
#define NET_CONF_AUDIT		0x8	/* --audit: send the audit lines */
#define NET_CONF_SPARE		0x10	/* a lane other than 0 (ipc/proc.h) */

/* IMSG_NET_CONF bounds a net enforces. */
#define NET_CONF_MAXKEYS	256

/* IMSG_NET_STREAM transports. */
#define NET_STREAM_TUNNEL	0	/* a tunnel command's socketpair */
#define NET_STREAM_TCP		1	/* the server itself */
#define NET_STREAM_SOCKS5	2	/* a SOCKS5 proxy, not yet asked */
/* IMSG_NET_STREAM bounds a net enforces. */
#define NET_STREAM_MAXTIMEOUT	(10 * 60 * 1000)
#define NET_STREAM_MAXLEN	8192	/* user and password < 3 KiB each */

/* SOCKS5 address types (RFC 1928 section 5). */
#define SOCKS5_ATYP_IPV4	0x01
#define SOCKS5_ATYP_DOMAIN	0x03
#define SOCKS5_ATYP_IPV6	0x04

/* IMSG_ENGINE_CONF flags. */
#define ENGINE_CONF_WATCH	0x1	/* --watch or --notify */
#define ENGINE_CONF_NOTIFY	0x2	/* --notify */
#define ENGINE_CONF_QUIET	0x4	/* -q */
#define ENGINE_CONF_PROGRESS	0x8	/* send IMSG_ENGINE_PROGRESS */
#define ENGINE_CONF_AUDIT	0x10	/* --audit: send the audit lines */

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
