/*
 * The engine <-> priv conversation about the database: typed requests,
 * never SQL text.  priv checks each request against the schema's
 * invariants (known idx, UIDs > 0, UIDVALIDITY > 0) and answers every
 * request, in order, with IMSG_DB_RESULT (after any IMSG_DB_MAILBOX_ROW /
 * IMSG_DB_MAP_ROWS data).  A request priv refuses is fatal for the run:
 * the answer carries the error text and the engine stops.
 *
 * Names are internal names (reference removed, delimiter = NUL) as data.
 *
 * IMSG_DB_MIGRATE	u32 local delimiter, u32 remote delimiter (a byte, or
 *			IMAP_DELIM_NIL for a flat namespace).  Runs the v0->v1
 *			migration if the database needs it.
 * IMSG_DB_LOAD		(empty) -> IMSG_DB_MAILBOX_ROW for every mailbox:
 *			u64 idx, data name, u32 subscribed, u32 has_state,
 *			then per side (local, remote): u32 uidvalidity,
 *			u32 uidnext, u64 highestmodseq
 * IMSG_DB_INTERRUPTED	(empty) -> IMSG_DB_MAP_ROWS (u64 idx, u32 n, n x
 *			(u32 luid, u32 ruid)) for every mailbox with mapping
 *			rows beyond its UIDNEXT (an interrupted sync, §6.5)
 * IMSG_DB_MAP_LOAD	u64 idx, u32 sides (DB_FLAGS_LOCAL | DB_FLAGS_REMOTE:
 *			whose last synced flags to load too) ->
 *			IMSG_DB_MAP_ROWS, as many as needed, then for each
 *			side asked IMSG_DB_FLAG_ROWS, as many as needed
 *			(none when the table `flagstate' does not exist)
 * IMSG_DB_MAILBOX_ADD	data name, u32 subscribed -> RESULT value = idx
 * IMSG_DB_SUBSCRIBE	u64 idx, u32 subscribed
 * IMSG_DB_STATE_INIT	u64 idx, u32 local uidvalidity, u32 remote
 *			uidvalidity (UIDNEXT and HIGHESTMODSEQ 0)
 * IMSG_DB_STATE_SET	u64 idx, u32 which (DB_SET_*), then per side
 *			(local, remote): u32 uidnext, u64 highestmodseq
 * IMSG_DB_MAP_ADD	u64 idx, u32 n, n x (u32 luid, u32 ruid)
 * IMSG_DB_MAP_DEL	u64 idx, u32 side (SIDE_LOCAL: by lUID, SIDE_REMOTE:
 *			by rUID), u32 n, n x u32 uid.  RESULT value = rows
 *			deleted; a missing row is reported by priv with the
 *			reference's "Can't delete" warning.  The flagstate
 *			rows of both UIDs of a deleted pair go with it.
 * IMSG_DB_FLAGS_SET	u64 idx, u32 side (SIDE_*), u32 n, n x (u32 uid,
 *			str flags): the flags a server synced without
 *			CONDSTORE (sync-method plain) had for these UIDs
 *			when last synced, inserted or replaced in
 *			`flagstate' (created at the first such write)
 * IMSG_DB_FLAG_ROWS	u64 idx, u32 side, u32 n, n x (u32 uid, str flags)
 * IMSG_DB_DELETE	data name (--delete) -> RESULT value 1 if removed
 *			(its flagstate rows go too)
 * IMSG_DB_RENAME	data from, data to (--rename) -> RESULT value = rows
 * IMSG_DB_COMMIT	(empty): commit the open transaction (priv opens one
 *			lazily at the first write)
 * IMSG_DB_RESULT	u32 status (0 ok, 1 error), u64 value, str error
 */
#ifndef IPC_DB_PROTO_H
#define IPC_DB_PROTO_H

#define DB_SET_UIDNEXT_LOCAL		0x1
#define DB_SET_MODSEQ_LOCAL		0x2
#define DB_SET_UIDNEXT_REMOTE		0x4
#define DB_SET_MODSEQ_REMOTE		0x8

/* IMSG_DB_MAP_LOAD sides. */
#define DB_FLAGS_LOCAL			0x1
#define DB_FLAGS_REMOTE			0x2

/*
 * The table beside the reference's schema, created only once a server
 * synced with sync-method plain needs it (the reference ignores it):
 * the flags each such message had on its server when last synced.
 */
#define DB_FLAGSTATE_TABLE						\
	"CREATE TABLE flagstate ("					\
	"idx INTEGER NOT NULL, "					\
	"side INTEGER NOT NULL CHECK (side IN (0, 1)), "		\
	"UID UNSIGNED INT NOT NULL CHECK (UID > 0), "			\
	"flags TEXT NOT NULL, "						\
	"PRIMARY KEY (idx, side, UID))"

#define DB_RESULT_OK			0
#define DB_RESULT_ERROR			1

#endif
