/*
 * The SQLite database, compatible with the reference's (user_version 1).
 * Only priv touches it; the engine asks through typed IPC requests.
 *
 * Names are internal names: reference removed, hierarchy delimiter
 * replaced by NUL, so they are (bytes, length) pairs, not C strings.
 */
#ifndef PRIV_DB_H
#define PRIV_DB_H

#include <stddef.h>
#include <stdint.h>

struct db;

/* Per-side state: a row of table local or remote. */
struct db_state {
	uint32_t	uidvalidity;
	uint32_t	uidnext;
	uint64_t	highestmodseq;
};

struct db_mailbox {
	int64_t		 idx;
	char		*name;		/* internal name, NUL-separated */
	size_t		 namelen;
	int		 subscribed;
	int		 has_state;	/* local and remote rows exist */
	struct db_state	 local, remote;
};

/*
 * Opens path read-write and takes the exclusive lock before anything else.
 * If the file does not exist and create is set, creates it 0600 (O_EXCL).
 * Then: a fresh (empty) database gets the schema ("Creating new schema in
 * database file <path>", a NOTICE); a v0 database is left for
 * db_migrate(); a user_version other than 0 or 1 is refused.
 * Returns NULL with a message in err (e.g. "database is locked").
 */
struct db	*db_open(const char *, int, char *, size_t);
void		 db_close(struct db *);	/* rolls back what is uncommitted */
/* 1 if the schema needs the v0 -> v1 migration (needs the delimiters). */
int		 db_needs_migration(struct db *);
/* ldelim/rdelim: the servers' delimiters, 0 for a flat namespace. */
int		 db_migrate(struct db *, int, int, char *, size_t);

int		 db_begin(struct db *);
int		 db_commit(struct db *);
int		 db_rollback(struct db *);

#endif
