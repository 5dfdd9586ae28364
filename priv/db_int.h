/*
 * Internals shared by db.c (opening, schema, transactions) and db_ops.c
 * (the typed operations).  Not for use outside these two files.
 */
#ifndef PRIV_DB_INT_H
#define PRIV_DB_INT_H

#include <sqlite3.h>
#include <stdint.h>

/*
 * Every statement the operations use; prepared once, kept, reset.  Those
 * before ST_NALWAYS are on the reference's tables and db_prepare_all()
 * prepares them at open, so that a schema missing a column is refused
 * then.  Those after it are on table flagstate, which most databases do
 * not have (db_flagstate_exists()): each is prepared when first used.
 */
enum db_stmt {
	ST_MBX_LIST = 0,
	ST_MBX_FIND,
	ST_MBX_INSERT,
	ST_MBX_SUBSCRIBE,
	ST_MBX_NAMES,
	ST_MBX_SETNAME,
	ST_LOCAL_INSERT,
	ST_REMOTE_INSERT,
	ST_STATE_GET,
	ST_LOCAL_UPDATE,
	ST_REMOTE_UPDATE,
	ST_LOCAL_MODSEQ,
	ST_REMOTE_MODSEQ,
	ST_LOCAL_UIDNEXT,
	ST_REMOTE_UIDNEXT,
	ST_MAP_INSERT,
	ST_MAP_DELETE_L,
	ST_MAP_DELETE_R,
	ST_MAP_RUID,
	ST_MAP_LUID,
	ST_MAP_COUNT,
	ST_MAP_LAST_L,
	ST_MAP_LAST_R,
	ST_MAP_LIST,
	ST_INT_LIST,
	ST_INT_PAIRS,
	ST_DEL_MAPPING,
	ST_DEL_LOCAL,
	ST_DEL_REMOTE,
	ST_DEL_MAILBOX,
	ST_NALWAYS,
	ST_FS_SET = ST_NALWAYS,
	ST_FS_LIST,
	ST_FS_DELETE,
	ST_FS_DEL_MAILBOX,
	ST_COUNT
};

struct db {
	sqlite3		*h;
	char		*path;
	int		 migrate;	/* v0 schema: db_migrate() first */
	sqlite3_stmt	*st[ST_COUNT];
	/*
	 * Table flagstate: -1 not looked for yet, 0 absent, 1 present.
	 * We hold the exclusive lock, so only we can create it; but the
	 * transaction that did (flagstate_txn set until its COMMIT) may be
	 * rolled back, taking the table with it.
	 */
	int		 flagstate;
	int		 flagstate_txn;
	char		 err[1024];
};

/* db.c */
void		 db_seterr(struct db *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* Sets err to "<what>: <sqlite message>" and returns -1. */
int		 db_sqlerr(struct db *, const char *);
/* The cached statement, reset and unbound; NULL (err set) on failure. */
sqlite3_stmt	*db_stmt(struct db *, enum db_stmt);
/* Opens a transaction unless one is open; err names what. */
int		 db_write_begin(struct db *, const char *);
int		 db_exec(struct db *, const char *);
/* Creates table flagstate in the open transaction (db_flags_set()). */
int		 db_flagstate_create(struct db *);

/* HIGHESTMODSEQ is stored as the signed reinterpretation of the value. */
int64_t		 db_modseq_to_sql(uint64_t);
uint64_t	 db_modseq_from_sql(int64_t);

#endif
