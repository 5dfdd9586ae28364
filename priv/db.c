/*
 * The database file: opening with the exclusive lock, validation, schema
 * creation, the v0 -> v1 migration and transactions.  The typed
 * operations are in db_ops.c.
 *
 * The schema must stay byte-for-byte the reference's (the CREATE TABLE
 * text is what sqlite_master keeps), so that either program can run on a
 * database the other wrote.  The one table of ours, flagstate
 * (DB_FLAGSTATE_TABLE), is added only when a sync-method plain server
 * needs it (db_flagstate_create()); the reference ignores it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "db_proto.h"
#include "db.h"
#include "db_int.h"

#define DB_VERSION	1

/*
 * The table definitions, column by column as the reference joins them
 * (", " between definitions): the text lands in sqlite_master as is.
 */
#define MAILBOXES_COLUMNS						\
	"idx        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "	\
	"mailbox    BLOB COLLATE BINARY NOT NULL "			\
	    "CHECK (mailbox != '') UNIQUE, "				\
	"subscribed BOOLEAN NOT NULL"
#define STATE_COLUMNS							\
	"idx           INTEGER         NOT NULL PRIMARY KEY "		\
	    "REFERENCES mailboxes(idx), "				\
	"UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), " \
	"UIDNEXT       UNSIGNED INT    NOT NULL, "			\
	"HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL"
#define MAPPING_COLUMNS							\
	"idx  INTEGER      NOT NULL REFERENCES mailboxes(idx), "	\
	"lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), "			\
	"rUID UNSIGNED INT NOT NULL CHECK (rUID > 0), "			\
	"PRIMARY KEY (idx,lUID), "					\
	"UNIQUE      (idx,rUID)"

/* Creation order matters only for sqlite_master's order: keep it. */
static const char *const schema[] = {
	"CREATE TABLE mailboxes (" MAILBOXES_COLUMNS ")",
	"CREATE TABLE local (" STATE_COLUMNS ")",
	"CREATE TABLE remote (" STATE_COLUMNS ")",
	"CREATE TABLE mapping (" MAPPING_COLUMNS ")",
};

static const char *const tables[] = {
	"mailboxes", "local", "remote", "mapping",
};

/* A mailbox row with both sides' state, as db_ops.c reads it. */
#define MAILBOX_ROWS							\
	"SELECT m.idx, m.mailbox, m.subscribed,"			\
	" l.UIDVALIDITY, l.UIDNEXT, l.HIGHESTMODSEQ,"			\
	" r.UIDVALIDITY, r.UIDNEXT, r.HIGHESTMODSEQ,"			\
	" l.idx IS NOT NULL AND r.idx IS NOT NULL"			\
	" FROM mailboxes m"						\
	" LEFT JOIN local l ON l.idx = m.idx"				\
	" LEFT JOIN remote r ON r.idx = m.idx"

/* The operations' statements, indexed by enum db_stmt. */
static const char *const stmt_sql[ST_COUNT] = {
	[ST_MBX_LIST] = MAILBOX_ROWS " ORDER BY m.mailbox, m.idx",
	[ST_MBX_FIND] = MAILBOX_ROWS " WHERE m.mailbox = ?1",
	[ST_MBX_INSERT] =
	    "INSERT INTO mailboxes (mailbox, subscribed) VALUES (?1, ?2)",
	[ST_MBX_SUBSCRIBE] =
	    "UPDATE mailboxes SET subscribed = ?2 WHERE idx = ?1",
	[ST_MBX_NAMES] =
	    "SELECT idx, mailbox FROM mailboxes ORDER BY idx",
	[ST_MBX_SETNAME] =
	    "UPDATE mailboxes SET mailbox = ?2 WHERE idx = ?1",
	[ST_LOCAL_INSERT] =
	    "INSERT INTO local (idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[ST_REMOTE_INSERT] =
	    "INSERT INTO remote (idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[ST_STATE_GET] =
	    "SELECT l.UIDVALIDITY, l.UIDNEXT, l.HIGHESTMODSEQ,"
	    " r.UIDVALIDITY, r.UIDNEXT, r.HIGHESTMODSEQ"
	    " FROM local l JOIN remote r ON l.idx = r.idx"
	    " WHERE l.idx = ?1",
	[ST_LOCAL_UPDATE] =
	    "UPDATE local SET UIDNEXT = ?2, HIGHESTMODSEQ = ?3 WHERE idx = ?1",
	[ST_REMOTE_UPDATE] =
	    "UPDATE remote SET UIDNEXT = ?2, HIGHESTMODSEQ = ?3"
	    " WHERE idx = ?1",
	[ST_LOCAL_MODSEQ] =
	    "UPDATE local SET HIGHESTMODSEQ = ?2 WHERE idx = ?1",
	[ST_REMOTE_MODSEQ] =
	    "UPDATE remote SET HIGHESTMODSEQ = ?2 WHERE idx = ?1",
	[ST_MAP_INSERT] =
	    "INSERT INTO mapping (idx, lUID, rUID) VALUES (?1, ?2, ?3)",
	[ST_LOCAL_UIDNEXT] =
	    "UPDATE local SET UIDNEXT = ?2 WHERE idx = ?1",
	[ST_REMOTE_UIDNEXT] =
	    "UPDATE remote SET UIDNEXT = ?2 WHERE idx = ?1",
	[ST_MAP_DELETE_L] =
	    "DELETE FROM mapping WHERE idx = ?1 AND lUID = ?2",
	[ST_MAP_DELETE_R] =
	    "DELETE FROM mapping WHERE idx = ?1 AND rUID = ?2",
	[ST_MAP_RUID] =
	    "SELECT rUID FROM mapping WHERE idx = ?1 AND lUID = ?2",
	[ST_MAP_LUID] =
	    "SELECT lUID FROM mapping WHERE idx = ?1 AND rUID = ?2",
	[ST_MAP_COUNT] =
	    "SELECT COUNT(*) FROM mapping WHERE idx = ?1",
	[ST_MAP_LAST_L] =
	    "SELECT lUID FROM mapping WHERE idx = ?1"
	    " ORDER BY lUID DESC LIMIT ?2",
	[ST_MAP_LAST_R] =
	    "SELECT rUID FROM mapping WHERE idx = ?1"
	    " ORDER BY rUID DESC LIMIT ?2",
	[ST_MAP_LIST] =
	    "SELECT lUID, rUID FROM mapping WHERE idx = ?1 ORDER BY lUID",
	[ST_INT_LIST] =
	    "SELECT m.idx, m.mailbox, m.subscribed,"
	    " l.UIDVALIDITY, l.UIDNEXT, l.HIGHESTMODSEQ,"
	    " r.UIDVALIDITY, r.UIDNEXT, r.HIGHESTMODSEQ, 1"
	    " FROM mailboxes m"
	    " JOIN local l ON l.idx = m.idx"
	    " JOIN remote r ON r.idx = m.idx"
	    " WHERE EXISTS (SELECT 1 FROM mapping p WHERE p.idx = m.idx"
	    "  AND (p.lUID >= l.UIDNEXT OR p.rUID >= r.UIDNEXT))"
	    " ORDER BY m.idx",
	[ST_INT_PAIRS] =
	    "SELECT p.lUID, p.rUID FROM mapping p"
	    " JOIN local l ON l.idx = p.idx"
	    " JOIN remote r ON r.idx = p.idx"
	    " WHERE p.idx = ?1 AND (p.lUID >= l.UIDNEXT OR p.rUID >= r.UIDNEXT)"
	    " ORDER BY p.lUID",
	/* Referencing tables first, for the foreign keys. */
	[ST_DEL_MAPPING] = "DELETE FROM mapping WHERE idx = ?1",
	[ST_DEL_LOCAL] = "DELETE FROM local WHERE idx = ?1",
	[ST_DEL_REMOTE] = "DELETE FROM remote WHERE idx = ?1",
	[ST_DEL_MAILBOX] = "DELETE FROM mailboxes WHERE idx = ?1",
	/* Table flagstate: prepared on demand, once it exists. */
	[ST_FS_SET] =
	    "INSERT OR REPLACE INTO flagstate (idx, side, UID, flags)"
	    " VALUES (?1, ?2, ?3, ?4)",
	[ST_FS_LIST] =
	    "SELECT UID, flags FROM flagstate WHERE idx = ?1 AND side = ?2"
	    " ORDER BY UID",
	[ST_FS_DELETE] =
	    "DELETE FROM flagstate WHERE idx = ?1 AND side = ?2 AND UID = ?3",
	[ST_FS_DEL_MAILBOX] = "DELETE FROM flagstate WHERE idx = ?1",
};

void
db_seterr(struct db *db, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(db->err, sizeof(db->err), fmt, ap);
	va_end(ap);
}

int
db_sqlerr(struct db *db, const char *what)
{
	db_seterr(db, "%s: %s", what, sqlite3_errmsg(db->h));
	return -1;
}

const char *
db_error(const struct db *db)
{
	return db->err[0] != '\0' ? db->err : "no error";
}

int
db_exec(struct db *db, const char *sql)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_sqlerr(db, sql);
	return 0;
}

sqlite3_stmt *
db_stmt(struct db *db, enum db_stmt id)
{
	sqlite3_stmt	*st;

	if (db->migrate) {
		db_seterr(db, "database %s needs its schema upgraded first",
		    db->path);
		return NULL;
	}
	if ((st = db->st[id]) == NULL) {
		if (sqlite3_prepare_v3(db->h, stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			db_seterr(db, "database %s: unexpected schema: %s",
			    db->path, sqlite3_errmsg(db->h));
			return NULL;
		}
		db->st[id] = st;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/*
 * The transaction that created table flagstate ended other than by
 * db_commit() (SQLite rolls back by itself on some errors): the table
 * went with it, and must be looked for again.
 */
static void
db_flagstate_recheck(struct db *db)
{
	if (db->flagstate_txn && sqlite3_get_autocommit(db->h)) {
		db->flagstate = -1;
		db->flagstate_txn = 0;
	}
}

int
db_write_begin(struct db *db, const char *what)
{
	if (!sqlite3_get_autocommit(db->h))
		return 0;
	db_flagstate_recheck(db);
	if (sqlite3_exec(db->h, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return db_sqlerr(db, what);
	return 0;
}

int64_t
db_modseq_to_sql(uint64_t v)
{
	/* Two's complement reinterpretation, spelt out portably. */
	if (v > (uint64_t)INT64_MAX)
		return -(int64_t)(UINT64_MAX - v) - 1;
	return (int64_t)v;
}

uint64_t
db_modseq_from_sql(int64_t v)
{
	return (uint64_t)v;
}

/* One integer from a single-row query (a PRAGMA); -1 and err on error. */
static int
db_int_query(struct db *db, const char *sql, int64_t *v)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return db_sqlerr(db, sql);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		*v = 0;
	else {
		db_sqlerr(db, sql);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/*
 * Reads the whole file through SQLite's own checker, so that a truncated
 * or damaged file is refused before we (or the reference later) build on
 * it.  quick_check is linear in the file size, a few milliseconds for a
 * large mapping table.
 */
static int
db_check_integrity(struct db *db)
{
	sqlite3_stmt	*st;
	const char	*msg;
	char		*p;
	int		 rc;

	if (sqlite3_prepare_v2(db->h, "PRAGMA quick_check", -1, &st, NULL) !=
	    SQLITE_OK) {
		db_seterr(db, "%s: %s", db->path, sqlite3_errmsg(db->h));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		db_seterr(db, "%s: %s", db->path, sqlite3_errmsg(db->h));
		sqlite3_finalize(st);
		return -1;
	}
	msg = (const char *)sqlite3_column_text(st, 0);
	if (msg == NULL || strcmp(msg, "ok") != 0) {
		db_seterr(db, "%s: database disk image is malformed (%s)",
		    db->path, msg != NULL ? msg : "?");
		/* The checker's report spans lines; ours is one. */
		for (p = db->err; *p != '\0'; p++)
			if (*p == '\n')
				*p = ' ';
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/*
 * Counts the user tables and checks that ours are there.  *ntables gets
 * the count; a missing table is an error only if some table exists.
 * Other tables are let be: flagstate, once we added it, and whatever
 * else a user keeps beside ours.
 */
static int
db_check_tables(struct db *db, int64_t *ntables)
{
	sqlite3_stmt	*st;
	unsigned int	 seen = 0;
	size_t		 i;
	int		 rc;

	*ntables = 0;
	if (sqlite3_prepare_v2(db->h, "SELECT name FROM sqlite_master"
	    " WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
	    -1, &st, NULL) != SQLITE_OK) {
		db_seterr(db, "%s: %s", db->path, sqlite3_errmsg(db->h));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		(*ntables)++;
		for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
			if (name != NULL && strcmp(name, tables[i]) == 0)
				seen |= 1U << i;
	}
	if (rc != SQLITE_DONE) {
		db_seterr(db, "%s: %s", db->path, sqlite3_errmsg(db->h));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	if (*ntables == 0)
		return 0;
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (!(seen & (1U << i))) {
			db_seterr(db, "%s: not an interimap database "
			    "(no table `%s')", db->path, tables[i]);
			return -1;
		}
	return 0;
}

/*
 * Prepares every statement on the reference's tables once: a column
 * missing shows here.  Not those on flagstate: the table is usually
 * absent, and is checked when first used.
 */
static int
db_prepare_all(struct db *db)
{
	int	i;

	for (i = 0; i < ST_NALWAYS; i++)
		if (db_stmt(db, (enum db_stmt)i) == NULL)
			return -1;
	return 0;
}

static int
db_create_schema(struct db *db)
{
	size_t	i;

	log_msg(LOG_LVL_NOTICE, "", NULL,
	    "Creating new schema in database file %s", db->path);
	if (db_exec(db, "BEGIN IMMEDIATE") == -1)
		return -1;
	for (i = 0; i < sizeof(schema) / sizeof(schema[0]); i++)
		if (db_exec(db, schema[i]) == -1)
			goto fail;
	if (db_exec(db, "PRAGMA user_version = 1") == -1 ||
	    db_exec(db, "COMMIT") == -1)
		goto fail;
	return 0;
 fail:
	sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * A database we could read but not write would fail at its first write,
 * after mail has moved (the copies then have no mapping rows): found
 * now instead.  SQLite opens a file it may not write read-only; and its
 * rollback journal is created beside the file, so the directory must
 * be writable too (a read-only mount says so even to root).
 */
static int
db_check_writable(struct db *db)
{
	char *dir, *slash;
	int r = 0;

	if (sqlite3_db_readonly(db->h, "main") == 1) {
		db_seterr(db, "%s: the database is read-only", db->path);
		return -1;
	}
	if ((dir = strdup(db->path)) == NULL) {
		db_seterr(db, "%s: %s", db->path, strerror(errno));
		return -1;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", strlen(dir) + 1);
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK) == -1) {
		db_seterr(db, "%s: can't write in %s, where its journal goes: "
		    "%s", db->path, dir, strerror(errno));
		r = -1;
	}
	free(dir);
	return r;
}

struct db *
db_open(const char *path, int create, char *err, size_t errlen)
{
	struct db	*db;
	int64_t		 version, ntables;
	int		 fd, rc;

	if (create) {
		/* Ours, not SQLite's: the mode must be 0600. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST) {
			snprintf(err, errlen, "Can't create %s: %s", path,
			    strerror(errno));
			return NULL;
		}
		if (fd != -1)
			close(fd);
	}

	if ((db = calloc(1, sizeof(*db))) == NULL ||
	    (db->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(db);
		return NULL;
	}
	db->flagstate = -1;
	rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		db_seterr(db, "%s: %s", path, db->h != NULL ?
		    sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(db->h, 1);
	sqlite3_busy_timeout(db->h, 250);
	if (db_check_writable(db) == -1)
		goto fail;

	/*
	 * Take the write lock before any network traffic and keep it for
	 * the process lifetime, so a second instance fails at once.  An
	 * empty exclusive transaction writes nothing, even to a file that
	 * turns out not to be ours.
	 */
	if (sqlite3_exec(db->h, "PRAGMA locking_mode = EXCLUSIVE", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_exec(db->h, "BEGIN EXCLUSIVE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		db_seterr(db, "%s: %s", path, sqlite3_errmsg(db->h));
		goto fail;
	}
	if (db_int_query(db, "PRAGMA user_version", &version) == -1) {
		db_seterr(db, "%s: %s", path, sqlite3_errmsg(db->h));
		goto fail;
	}
	if (version > DB_VERSION) {
		db_seterr(db, "database %s has user_version %lld, newer than "
		    "this interimap understands", path, (long long)version);
		goto fail;
	}
	if (version < 0) {
		db_seterr(db, "database %s has invalid user_version %lld",
		    path, (long long)version);
		goto fail;
	}
	if (db_check_integrity(db) == -1 || db_check_tables(db, &ntables) == -1)
		goto fail;
	if (version == DB_VERSION && ntables == 0) {
		db_seterr(db, "%s: not an interimap database (user_version %d "
		    "but no tables)", path, DB_VERSION);
		goto fail;
	}
	if (db_exec(db, "COMMIT") == -1)
		goto fail;

	/* Must be changed outside a transaction to take effect. */
	if (db_exec(db, "PRAGMA foreign_keys = OFF") == -1)
		goto fail;
	if (version == 0 && ntables == 0) {
		if (db_create_schema(db) == -1)
			goto fail;
	} else if (version == 0) {
		/* Left with foreign keys off for db_migrate(). */
		db->migrate = 1;
		strlcpy(err, "", errlen);
		return db;
	}
	if (db_exec(db, "PRAGMA foreign_keys = ON") == -1 ||
	    db_prepare_all(db) == -1)
		goto fail;
	strlcpy(err, "", errlen);
	db->err[0] = '\0';
	return db;

 fail:
	strlcpy(err, db->err, errlen);
	db_close(db);
	return NULL;
}

void
db_close(struct db *db)
{
	int	i;

	if (db == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(db->st[i]);
	if (db->h != NULL) {
		if (!sqlite3_get_autocommit(db->h))
			sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close_v2(db->h);
	}
	free(db->path);
	free(db);
}

int
db_needs_migration(struct db *db)
{
	return db->migrate;
}

/* The reference's rendering of a delimiter in messages. */
static void
db_delim_str(int d, char *buf, size_t len)
{
	if (d == 0)
		snprintf(buf, len, "NIL");
	else if (d == '\\' || d == '"')
		snprintf(buf, len, "\"\\%c\"", d);
	else
		snprintf(buf, len, "\"%c\"", d);
}

/* Any row from PRAGMA foreign_key_check: 1; none: 0; -1 error. */
static int
db_fk_broken(struct db *db)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db->h, "PRAGMA foreign_key_check", -1, &st,
	    NULL) != SQLITE_OK)
		return db_sqlerr(db, "PRAGMA foreign_key_check");
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return db_sqlerr(db, "PRAGMA foreign_key_check");
	return 0;
}

int
db_migrate(struct db *db, int ldelim, int rdelim, char *err, size_t errlen)
{
	sqlite3_stmt	*st = NULL;
	char		 l[8], r[8], d;
	int		 rc, ret = -1;

	if (!db->migrate)
		return 0;
	log_msg(LOG_LVL_NOTICE, "", NULL, "Upgrading database version from 0");
	if (ldelim != 0 && rdelim != 0 && ldelim != rdelim) {
		db_delim_str(ldelim, l, sizeof(l));
		db_delim_str(rdelim, r, sizeof(r));
		/* "hierachy" (sic) is the reference's text. */
		snprintf(err, errlen, "Local and remote hierachy delimiters "
		    "differ (local %s, remote %s), refusing to update table "
		    "`mailboxes`.", l, r);
		return -1;
	}

	/*
	 * SQLite's recipe for changing a column's type: new table, copy,
	 * drop, rename, all in one transaction with foreign keys off.  The
	 * names become BLOBs with NUL for the delimiter; a flat namespace
	 * keeps the bytes, also cast to BLOB so that lookups (which bind
	 * BLOBs) find them.
	 */
	if (db_exec(db, "BEGIN IMMEDIATE") == -1 ||
	    db_exec(db, "CREATE TABLE _tmp1_mailboxes (" MAILBOXES_COLUMNS
	    ")") == -1)
		goto fail;
	if (ldelim != 0) {
		d = (char)ldelim;
		if (sqlite3_prepare_v2(db->h, "INSERT INTO _tmp1_mailboxes"
		    " SELECT idx, CAST(REPLACE(mailbox, ?1, x'00') AS BLOB),"
		    " subscribed FROM mailboxes", -1, &st, NULL) != SQLITE_OK) {
			db_sqlerr(db, "copy mailboxes");
			goto fail;
		}
		sqlite3_bind_text(st, 1, &d, 1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			db_sqlerr(db, "copy mailboxes");
			goto fail;
		}
	} else if (db_exec(db, "INSERT INTO _tmp1_mailboxes SELECT idx,"
	    " CAST(mailbox AS BLOB), subscribed FROM mailboxes") == -1)
		goto fail;
	if (db_exec(db, "DROP TABLE mailboxes") == -1 ||
	    db_exec(db, "ALTER TABLE _tmp1_mailboxes RENAME TO mailboxes") ==
	    -1)
		goto fail;
	switch (db_fk_broken(db)) {
	case 0:
		break;
	case 1:
		db_seterr(db, "Broken referential integrity! Refusing to "
		    "commit changes.");
		ret = -2;
		goto fail;
	default:
		goto fail;
	}
	if (db_exec(db, "PRAGMA user_version = 1") == -1 ||
	    db_exec(db, "COMMIT") == -1)
		goto fail;
	db->migrate = 0;
	if (db_exec(db, "PRAGMA foreign_keys = ON") == -1 ||
	    db_prepare_all(db) == -1) {
		strlcpy(err, db->err, errlen);
		return -1;
	}
	return 0;

 fail:
	strlcpy(err, db->err, errlen);
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int
db_begin(struct db *db)
{
	return db_write_begin(db, "begin transaction");
}

/* Ends the open transaction, if any, with sql (COMMIT or ROLLBACK). */
static int
db_end(struct db *db, const char *sql, const char *what)
{
	if (sqlite3_get_autocommit(db->h))
		return 0;
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_sqlerr(db, what);
	return 0;
}

int
db_commit(struct db *db)
{
	if (db_end(db, "COMMIT", "commit") == -1)
		return -1;
	/* A table flagstate created in it is there for good. */
	db->flagstate_txn = 0;
	return 0;
}

int
db_rollback(struct db *db)
{
	int	r;

	r = db_end(db, "ROLLBACK", "rollback");
	db_flagstate_recheck(db);
	return r;
}

int
db_flagstate_exists(struct db *db)
{
	sqlite3_stmt	*st;
	const char	*what = "look for table flagstate";
	int		 rc;

	if (db->migrate) {
		db_seterr(db, "database %s needs its schema upgraded first",
		    db->path);
		return -1;
	}
	db_flagstate_recheck(db);
	if (db->flagstate != -1)
		return db->flagstate;
	if (sqlite3_prepare_v2(db->h, "SELECT 1 FROM sqlite_master"
	    " WHERE type = 'table' AND name = 'flagstate' COLLATE NOCASE", -1,
	    &st, NULL) != SQLITE_OK)
		return db_sqlerr(db, what);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_sqlerr(db, what);
	/*
	 * Known from now on: we hold the exclusive lock, so nobody else
	 * creates or drops it while we run.
	 */
	db->flagstate = rc == SQLITE_ROW;
	return db->flagstate;
}

int
db_flagstate_create(struct db *db)
{
	if (sqlite3_get_autocommit(db->h)) {
		db_seterr(db, "create table flagstate: no open transaction");
		return -1;
	}
	if (db_exec(db, DB_FLAGSTATE_TABLE) == -1)
		return -1;
	db->flagstate = 1;
	db->flagstate_txn = 1;
	return 0;
}

int
db_in_transaction(struct db *db)
{
	return !sqlite3_get_autocommit(db->h);
}
