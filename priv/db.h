/*
 * The SQLite database, compatible with the reference's (user_version 1).
 * Only priv touches it; the engine asks through typed IPC requests.
 *
 * Names are internal names: reference removed, hierarchy delimiter
 * replaced by NUL, so they are (bytes, length) pairs, not C strings.
 *
 * Transactions follow the reference: a write opens a transaction (BEGIN
 * IMMEDIATE) when none is open, and nothing is durable before
 * db_commit(); db_close() rolls back what is uncommitted.  No function
 * but db_commit() commits.
 *
 * Errors: functions return -1 and leave a message in db_error(), which
 * names the operation ("add mapping (idx,lUID,rUID) = (1,2,3): UNIQUE
 * constraint failed: ...").  Lookups return 1 (found) or 0 (not found).
 */
#ifndef PRIV_DB_H
#define PRIV_DB_H

#include <stddef.h>
#include <stdint.h>

struct db;

enum db_side {
	DB_LOCAL = 0,
	DB_REMOTE = 1,
};

/* Per-side state: a row of table local or remote. */
struct db_state {
	uint32_t	uidvalidity;
	uint32_t	uidnext;
	uint64_t	highestmodseq;
};

struct db_mailbox {
	int64_t		 idx;
	char		*name;		/* internal name, NUL-separated */
	size_t		 namelen;	/* name[namelen] is an extra NUL */
	int		 subscribed;
	int		 has_state;	/* local and remote rows exist */
	struct db_state	 local, remote;
};

/* One row of table mapping. */
struct db_pair {
	uint32_t	luid;
	uint32_t	ruid;
};

/* One row of table flagstate, for one side. */
struct db_flagrow {
	uint32_t	 uid;
	char		*flags;		/* NUL-terminated */
	size_t		 len;		/* strlen(flags) */
};

/*
 * The longest flags text stored: what one IPC message carries with room
 * to spare, and far beyond any real message's flags.
 */
#define DB_FLAGS_MAX	65535

/*
 * Opens path read-write and takes the exclusive lock before anything else.
 * If the file does not exist and create is set, creates it 0600 (O_EXCL).
 * Then: a fresh (empty) database gets the schema ("Creating new schema in
 * database file <path>", a NOTICE); a v0 database is left for
 * db_migrate(); a user_version other than 0 or 1, a file that is not a
 * database or is corrupt, or one without the four tables is refused
 * without writing to it.
 * Returns NULL with a message in err (e.g. "<path>: database is locked").
 */
struct db	*db_open(const char *, int, char *, size_t);
void		 db_close(struct db *);	/* rolls back what is uncommitted */
/* The last error message (never NULL). */
const char	*db_error(const struct db *);

/* 1 if the schema needs the v0 -> v1 migration (needs the delimiters). */
int		 db_needs_migration(struct db *);
/*
 * ldelim/rdelim: the servers' delimiters, 0 for a flat namespace.
 * Logs "Upgrading database version from 0" (NOTICE) and migrates in one
 * transaction.  Returns 0; -1 with err to print unprefixed ("ERROR:
 * <err>", e.g. the differing delimiters); or -2 with err belonging to the
 * component "database" (the broken referential integrity).  Nothing is
 * written on failure.  A no-op if no migration is needed.
 */
int		 db_migrate(struct db *, int, int, char *, size_t);

/* db_begin is a no-op inside a transaction; commit/rollback outside. */
int		 db_begin(struct db *);
int		 db_commit(struct db *);
int		 db_rollback(struct db *);
int		 db_in_transaction(struct db *);

/*
 * Mailboxes.  db_mailbox_list: every row of table mailboxes ordered by
 * name, with the state of both sides when both rows exist (has_state).
 * The array and its names are the caller's: db_mailboxes_free().
 */
int		 db_mailbox_list(struct db *, struct db_mailbox **, size_t *);
void		 db_mailboxes_free(struct db_mailbox *, size_t);
/* Frees the name of one db_mailbox (not the struct itself). */
void		 db_mailbox_clear(struct db_mailbox *);
/* Fills *mb (caller clears) if found: 1, 0 not found, -1 error. */
int		 db_mailbox_find(struct db *, const char *, size_t,
		    struct db_mailbox *);
/* Inserts (name, subscribed); *idx receives the new index. */
int		 db_mailbox_add(struct db *, const char *, size_t, int,
		    int64_t *);
int		 db_mailbox_set_subscribed(struct db *, int64_t, int);
/*
 * --delete: the rows of mapping, local, remote, mailboxes for idx, and
 * of flagstate if it exists.
 */
int		 db_mailbox_delete(struct db *, int64_t);
/*
 * --rename: renames SRC and every SRC+NUL+... row, prefix replaced; fails
 * if DST already exists or a new name collides (then nothing changed).
 * *nrenamed receives the number of rows renamed.
 */
int		 db_mailbox_rename(struct db *, const char *, size_t,
		    const char *, size_t, int *);

/* Per-side state (tables local and remote). */
int		 db_state_insert(struct db *, int64_t, const struct db_state *,
		    const struct db_state *);
/* Both: found 1 (l and r filled), 0 none, -1 error. */
int		 db_state_get(struct db *, int64_t, struct db_state *,
		    struct db_state *);
/*
 * One side's UIDNEXT and/or HIGHESTMODSEQ (what: DB_STATE_* bits), the
 * row must exist.  UIDVALIDITY never changes.
 */
#define DB_STATE_UIDNEXT	0x1
#define DB_STATE_MODSEQ		0x2
int		 db_state_set(struct db *, int64_t, enum db_side, unsigned int,
		    const struct db_state *);
/* UIDNEXT and HIGHESTMODSEQ of both sides (UIDVALIDITY is kept). */
int		 db_state_update(struct db *, int64_t, const struct db_state *,
		    const struct db_state *);
/* HIGHESTMODSEQ only, local then remote. */
int		 db_state_update_modseq(struct db *, int64_t, uint64_t,
		    uint64_t);

/* Mapping rows. */
int		 db_mapping_add(struct db *, int64_t, uint32_t, uint32_t);
/*
 * Deletes the row of (idx, UID of side): 1 deleted; 0 if no such row,
 * after logging the reference's "database: WARNING: Can't delete
 * (idx,lUID) = (i,u)" ("rUID" for DB_REMOTE).  If table flagstate
 * exists, the flags of that UID go too, and those of the other side's
 * UID of the pair deleted.
 */
int		 db_mapping_delete(struct db *, int64_t, enum db_side,
		    uint32_t);
/* The other side's UID for a UID of side: 1 found, 0 not, -1 error. */
int		 db_mapping_lookup(struct db *, int64_t, enum db_side, uint32_t,
		    uint32_t *);
int		 db_mapping_count(struct db *, int64_t, uint64_t *);
/*
 * The QRESYNC sample: up to max UIDs of one side in descending order
 * into uids (caller's array); *n receives how many.
 */
int		 db_mapping_last(struct db *, int64_t, enum db_side,
		    uint32_t *, size_t, size_t *);
/* Every pair of idx, ordered by lUID; *pairs is the caller's (free). */
int		 db_mapping_list(struct db *, int64_t, struct db_pair **,
		    size_t *);

/*
 * Interrupted syncs: the mailboxes (with state) having a mapping row
 * with lUID >= local.UIDNEXT or rUID >= remote.UIDNEXT, ordered by idx
 * (db_mailboxes_free), and for one idx those pairs, ordered by lUID.
 */
int		 db_interrupted_list(struct db *, struct db_mailbox **,
		    size_t *);
int		 db_interrupted_pairs(struct db *, int64_t, struct db_pair **,
		    size_t *);

/*
 * The flags a server synced without CONDSTORE had when last synced:
 * table flagstate, beside the reference's schema (which it ignores).
 * It is created by the first db_flags_set(), inside the open write
 * transaction, never by opening or by any other operation, so that a
 * database nobody synced that way keeps the reference's schema.
 *
 * db_flagstate_exists: 1 if the table exists, 0 if not (looked up once,
 * then known), -1 on error.
 */
int		 db_flagstate_exists(struct db *);
/* 1 if flags (len bytes) may be stored: short enough, no control byte. */
int		 db_flags_valid(const char *, size_t);
/* Inserts or replaces the flags of (idx, side, UID). */
int		 db_flags_set(struct db *, int64_t, enum db_side, uint32_t,
		    const char *, size_t);
/*
 * The rows of (idx, side) ordered by UID, none if the table does not
 * exist; *rows is the caller's: db_flagrows_free().
 */
int		 db_flags_list(struct db *, int64_t, enum db_side,
		    struct db_flagrow **, size_t *);
void		 db_flagrows_free(struct db_flagrow *, size_t);

#endif
