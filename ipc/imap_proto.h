/*
 * The engine <-> net conversation: IMAP operations, not IMAP text.  The
 * payload layouts of the IMSG_IMAP_* messages of catalogue.h, and the
 * constants both sides use.  "str" is ipc_put_str (u32 length + bytes, no
 * NUL), "data" is ipc_put_data (may hold NUL bytes; mailbox names are raw
 * server names, modified UTF-7 untouched).
 *
 * Ownership of the session: net decides how to phrase each request
 * (quoting, literals, LITERAL+, splitting long UID sets at 4096 bytes),
 * pipelines them in the order received, and answers in the same order.
 * The engine keeps all mailbox state (caches, VANISHED and MODIFIED
 * tables); net keeps only what the session needs (capabilities, the
 * selected mailbox name for log prefixes and, for a server synced with
 * CONDSTORE, its message sequence numbers).  The engine always speaks
 * QRESYNC: for a server without it (IMAP_CAP_CONDSTORE_SYNC), net sends
 * the commands that find the same answers and reports them as QRESYNC
 * would (net/imap_ops.c), [CLOSED] included.  For a server without
 * CONDSTORE either (IMAP_CAP_PLAIN_SYNC), the MODSEQs are net's own: a
 * SELECT from the last synced state reports [HIGHESTMODSEQ m+1] (m its
 * highestmodseq) and every FETCH_ITEM a MODSEQ above all before, the
 * flags of every known message come as changes, and the engine tells
 * the real ones from the flags it kept (engine/pflags.c).
 *
 * IMSG_IMAP_READY		u32 caps (IMAP_CAP_*), u64 appendlimit (the
 *				server's APPENDLIMIT=n, RFC 7889; 0: none)
 *
 * IMSG_IMAP_LIST		u32 flags (IMAP_LIST_*), str select-opts
 *				("" for none), data reference, u32 n,
 *				n x data pattern (none: the bare *)
 *   -> IMSG_IMAP_LIST_ITEM	u32 attrs (IMAP_MBX_*), u32 delimiter
 *				(a byte, or IMAP_DELIM_NIL), data name
 *				(INBOX normalised)
 *   -> IMSG_IMAP_STATUS_ITEM	data name, u32 mask (IMAP_ST_*),
 *				u32 uidvalidity, u32 uidnext,
 *				u64 highestmodseq, u32 messages
 *
 * IMSG_IMAP_SELECT		data mailbox, u32 flags (IMAP_SEL_*);
 *				with IMAP_SEL_QRESYNC also: u32 uidvalidity,
 *				u64 highestmodseq, str known-uids,
 *				str sample-seqset, str sample-uidset
 *				("" when no sample)
 *   -> IMSG_IMAP_CODE, IMSG_IMAP_EXISTS, IMSG_IMAP_VANISHED,
 *      IMSG_IMAP_FETCH_ITEM (flag changes), then DONE
 * IMSG_IMAP_UNSELECT, IMSG_IMAP_NOOP	(empty)
 *
 * IMSG_IMAP_FETCH		str uid-set, u32 items (IMAP_FETCH_*),
 *				u64 changedsince (0: none)
 *   -> IMSG_IMAP_FETCH_ITEM	u32 seq, u32 uid, u64 modseq, u32 mask
 *				(IMAP_FETCH_* present, IMAP_FETCH_BODY: a body
 *				follows), str flags (space-separated, \Recent
 *				removed), str internaldate, u64 size (of the
 *				body that follows, else RFC822.SIZE with
 *				IMAP_FETCH_SIZE, else 0),
 *				str envelope address ("mailbox@host" of the
 *				first of From/Sender/Reply-To, for --repair)
 *   -> IMSG_IMAP_BODY_DATA	the body bytes, in order, in chunks
 *   -> IMSG_IMAP_BODY_END	u32 uid
 *   A FETCH_ITEM with IMAP_FETCH_BODY is sent when the body literal
 *   starts, with the items seen before it; items the server sends after
 *   the literal come in a second FETCH_ITEM marked IMAP_FETCH_CONT (with
 *   the UID, wherever the server put it).
 *
 * IMSG_IMAP_STORE		str uid-set, u64 unchangedsince (0: none),
 *				u32 mode (IMAP_STORE_*), str flags
 *   -> IMSG_IMAP_FETCH_ITEM (untagged FETCH), DONE with IMAP_CODE_MODIFIED
 * IMSG_IMAP_EXPUNGE		str uid-set (UID STORE +FLAGS.SILENT (\Deleted)
 *				then UID EXPUNGE)
 *   -> IMSG_IMAP_VANISHED, DONE
 * IMSG_IMAP_MAILBOX		u32 op (IMAP_MBOP_*), data name, data new name
 *				(NULL unless RENAME)
 * IMSG_IMAP_APPEND		data mailbox; then for each message:
 * IMSG_IMAP_APPEND_MSG		str flags, str internaldate ("" none), u64 size
 * IMSG_IMAP_APPEND_DATA	size bytes in chunks, in order
 * IMSG_IMAP_APPEND_END		(empty) ends the batch (one APPEND command,
 *				MULTIAPPEND when it holds several messages;
 *				net starts writing as soon as data arrives)
 *   -> DONE with IMAP_CODE_APPENDUID ("uidvalidity uid-set")
 * IMSG_IMAP_LOGOUT		(empty) -> DONE once the session is over
 *				(LOGOUT answered, or the server closed);
 *				net exits at IMSG_SHUTDOWN; later requests
 *				get DONE BAD "session closed"
 * IMSG_IMAP_NOTIFY		u32 flags (IMAP_NOTIFY_*), u32 n,
 *				n x data mailbox:
 *				NOTIFY SET [STATUS] [(MAILBOXES (names)
 *				(MessageNew MessageExpunge FlagChange))]
 *				(SELECTED (MessageNew MessageExpunge
 *				FlagChange)) [(personal (MailboxName
 *				SubscriptionChange))] (the reference's, 6.8;
 *				no MAILBOXES group when n is 0), or NOTIFY
 *				NONE with IMAP_NOTIFY_NONE; with
 *				IMAP_NOTIFY_EVENTS the personal group asks
 *				for every event of every personal mailbox
 *				(tests/lib/NOTIFY-NOTES.md: what Dovecot
 *				pushes unprompted)
 *   -> IMSG_IMAP_STATUS_ITEM (with STATUS), DONE; afterwards the
 *      server's events arrive as untagged data (STATUS_ITEM, EXISTS,
 *      VANISHED, FETCH_ITEM, LIST_ITEM) with id 0 when idle
 * IMSG_IMAP_IDLE		(empty): IDLE; the server's events arrive
 *				with this request's id while it lasts
 * IMSG_IMAP_IDLE_DONE		(empty): ends the IDLE ("DONE"); its DONE
 *				follows.  Any other request also ends an
 *				IDLE in progress first (net sends "DONE").
 *
 * IMSG_IMAP_CODE		u32 code (IMAP_CODE_*), u64 value, str rest
 * IMSG_IMAP_EXISTS		u32 n
 * IMSG_IMAP_VANISHED		u32 earlier, str uid-set
 * IMSG_IMAP_DONE		u32 status (IMAP_DONE_*), u32 code
 *				(IMAP_CODE_*, or 0), str code data, str text
 *				(text: the resp-text as sent, "[CODE ...]"
 *				included, for messages; code data: the
 *				code's argument, "NAME arg" for
 *				IMAP_CODE_OTHER; MODIFIED sets of a split
 *				STORE joined with ",")
 */
#ifndef IPC_IMAP_PROTO_H
#define IPC_IMAP_PROTO_H

/* IMSG_IMAP_READY capability bits. */
#define IMAP_CAP_MULTIAPPEND	0x0001
#define IMAP_CAP_UNSELECT	0x0002
#define IMAP_CAP_LITERALPLUS	0x0004
#define IMAP_CAP_NOTIFY		0x0008
#define IMAP_CAP_IDLE		0x0010
#define IMAP_CAP_QRESYNC	0x0020	/* the server's, or net's emulation: */
#define IMAP_CAP_CONDSTORE_SYNC	0x1000	/* synced with CONDSTORE, net turning
					   it into QRESYNC's answers
					   (net/imap_ops.c) */
#define IMAP_CAP_PLAIN_SYNC	0x2000	/* and without CONDSTORE either:
					   MODSEQs are net's, every known
					   message's flags are reported */
#define IMAP_CAP_CONDSTORE	0x0040
#define IMAP_CAP_LIST_EXTENDED	0x0080
#define IMAP_CAP_LIST_STATUS	0x0100
#define IMAP_CAP_UIDPLUS	0x0200
#define IMAP_CAP_MOVE		0x0400
#define IMAP_CAP_COMPRESSED	0x0800	/* COMPRESS DEFLATE is active */

/* IMSG_IMAP_NOTIFY flags. */
#define IMAP_NOTIFY_STATUS	0x1	/* STATUS for the MAILBOXES at once */
#define IMAP_NOTIFY_PERSONAL	0x2	/* (personal (MailboxName ...)) */
#define IMAP_NOTIFY_NONE	0x4	/* NOTIFY NONE */
#define IMAP_NOTIFY_EVENTS	0x8	/* (personal (MessageNew MessageExpunge
					   FlagChange MailboxName
					   SubscriptionChange)) instead */

/* IMSG_IMAP_LIST flags. */
#define IMAP_LIST_RET_SUBSCRIBED 0x1
#define IMAP_LIST_RET_STATUS	0x2	/* STATUS (UIDVALIDITY UIDNEXT HIGHESTMODSEQ) */

/* Mailbox attributes (LIST). */
#define IMAP_MBX_NOSELECT	0x0001
#define IMAP_MBX_NONEXISTENT	0x0002
#define IMAP_MBX_SUBSCRIBED	0x0004
#define IMAP_MBX_HASCHILDREN	0x0008
#define IMAP_MBX_HASNOCHILDREN	0x0010
#define IMAP_MBX_NOINFERIORS	0x0020
#define IMAP_MBX_MARKED		0x0040
#define IMAP_MBX_UNMARKED	0x0080
#define IMAP_MBX_REMOTE		0x0100
#define IMAP_DELIM_NIL		0x100

/* STATUS items present. */
#define IMAP_ST_UIDVALIDITY	0x1
#define IMAP_ST_UIDNEXT		0x2
#define IMAP_ST_HIGHESTMODSEQ	0x4
#define IMAP_ST_MESSAGES	0x8

/* SELECT flags. */
#define IMAP_SEL_QRESYNC	0x1
#define IMAP_SEL_EXAMINE	0x2

/* FETCH items (request) and presence mask (FETCH_ITEM). */
#define IMAP_FETCH_MODSEQ	0x01
#define IMAP_FETCH_FLAGS	0x02
#define IMAP_FETCH_INTERNALDATE	0x04
#define IMAP_FETCH_BODY		0x08	/* BODY.PEEK[] */
#define IMAP_FETCH_ENVELOPE	0x10
#define IMAP_FETCH_UID		0x20	/* presence only */
#define IMAP_FETCH_CONT		0x40	/* items after the previous body */
#define IMAP_FETCH_SIZE		0x80	/* RFC822.SIZE, in the size field */

/* STORE modes. */
#define IMAP_STORE_REPLACE	0	/* FLAGS.SILENT */
#define IMAP_STORE_ADD		1	/* +FLAGS.SILENT */
#define IMAP_STORE_REMOVE	2	/* -FLAGS.SILENT */

/* Mailbox operations. */
#define IMAP_MBOP_CREATE	1
#define IMAP_MBOP_DELETE	2
#define IMAP_MBOP_RENAME	3
#define IMAP_MBOP_SUBSCRIBE	4
#define IMAP_MBOP_UNSUBSCRIBE	5

/* Response codes forwarded to the engine. */
#define IMAP_CODE_NONE		0
#define IMAP_CODE_UIDVALIDITY	1
#define IMAP_CODE_UIDNEXT	2
#define IMAP_CODE_HIGHESTMODSEQ	3
#define IMAP_CODE_NOMODSEQ	4
#define IMAP_CODE_UIDNOTSTICKY	5
#define IMAP_CODE_CLOSED	6
#define IMAP_CODE_READ_ONLY	7
#define IMAP_CODE_READ_WRITE	8
#define IMAP_CODE_APPENDUID	9
#define IMAP_CODE_MODIFIED	10
#define IMAP_CODE_TRYCREATE	11
#define IMAP_CODE_OTHER		12

/* DONE status. */
#define IMAP_DONE_OK		0
#define IMAP_DONE_NO		1
#define IMAP_DONE_BAD		2

#endif
