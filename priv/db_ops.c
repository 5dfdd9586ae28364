/*
 * The typed database operations the sync needs: mailboxes, per-side
 * state, UID mappings, interrupted syncs, --delete and --rename, and the
 * last synced flags of sync-method plain servers (table flagstate).  Every
 * one is a prepared statement from db.c with bound values; names are
 * bound as BLOBs (they contain NUL for the hierarchy delimiter).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "db.h"
#include "db_int.h"

/* Steps a write statement to its end; err names what on failure. */
static int
db_step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
	int	rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		db_sqlerr(db, what);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

/* A column that must hold a 32-bit unsigned value (>= min). */
static int
db_col_u32(struct db *db, sqlite3_stmt *st, int col, uint32_t min,
    uint32_t *v, const char *what)
{
	int64_t	x;

	x = sqlite3_column_int64(st, col);
	if (x < (int64_t)min || x > (int64_t)UINT32_MAX) {
		db_seterr(db, "%s: invalid value %" PRId64 " in column %s",
		    what, x, sqlite3_column_name(st, col));
		return -1;
	}
	*v = (uint32_t)x;
	return 0;
}

/*
 * Reads a row of the mailbox queries: idx, mailbox, subscribed, local
 * state (3 columns), remote state (3 columns), has_state, into elem, a
 * struct db_mailbox (a db_row_fn).  The name is copied with an extra
 * NUL; the caller clears it.
 */
static int
db_read_mailbox(struct db *db, sqlite3_stmt *st, void *elem, void *arg,
    const char *what)
{
	struct db_mailbox	*mb = elem;
	const void		*name;
	int			 len;

	memset(mb, 0, sizeof(*mb));
	mb->idx = sqlite3_column_int64(st, 0);
	name = sqlite3_column_blob(st, 1);
	len = sqlite3_column_bytes(st, 1);
	if (mb->idx <= 0 || len <= 0 || name == NULL) {
		db_seterr(db, "%s: invalid row (idx %" PRId64 ")", what,
		    mb->idx);
		return -1;
	}
	if ((mb->name = malloc((size_t)len + 1)) == NULL) {
		db_seterr(db, "%s: out of memory", what);
		return -1;
	}
	memcpy(mb->name, name, (size_t)len);
	mb->name[len] = '\0';
	mb->namelen = (size_t)len;
	mb->subscribed = sqlite3_column_int64(st, 2) != 0;
	mb->has_state = sqlite3_column_int(st, 9) != 0;
	if (mb->has_state) {
		if (db_col_u32(db, st, 3, 1, &mb->local.uidvalidity, what) ||
		    db_col_u32(db, st, 4, 0, &mb->local.uidnext, what) ||
		    db_col_u32(db, st, 6, 1, &mb->remote.uidvalidity, what) ||
		    db_col_u32(db, st, 7, 0, &mb->remote.uidnext, what)) {
			db_mailbox_clear(mb);
			return -1;
		}
		mb->local.highestmodseq =
		    db_modseq_from_sql(sqlite3_column_int64(st, 5));
		mb->remote.highestmodseq =
		    db_modseq_from_sql(sqlite3_column_int64(st, 8));
	}
	return 0;
}

void
db_mailbox_clear(struct db_mailbox *mb)
{
	free(mb->name);
	mb->name = NULL;
	mb->namelen = 0;
}

void
db_mailboxes_free(struct db_mailbox *mbs, size_t n)
{
	size_t	i;

	if (mbs == NULL)
		return;
	for (i = 0; i < n; i++)
		free(mbs[i].name);
	free(mbs);
}

/*
 * Reads one row of a query into the array element elem (arg: the
 * caller's): 0, 1 if the row is not wanted (elem left empty), or -1.
 */
typedef int	db_row_fn(struct db *, sqlite3_stmt *, void *, void *,
		    const char *);

/*
 * Runs a query to its end, each row read by fn into a growing array of
 * elements of size bytes: *out (caller frees) and *nout.  On failure,
 * clear(array, rows read) frees what the rows hold and the array.
 */
static int
db_rows(struct db *db, sqlite3_stmt *st, size_t size, db_row_fn *fn,
    void *arg, void (*clear)(void *, size_t), void **out, size_t *nout,
    const char *what)
{
	unsigned char	*rows = NULL, *tmp;
	size_t		 n = 0, cap = 0;
	int		 rc, r;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((tmp = reallocarray(rows, cap, size)) == NULL) {
				db_seterr(db, "%s: out of memory", what);
				goto fail;
			}
			rows = tmp;
		}
		if ((r = fn(db, st, rows + n * size, arg, what)) == -1)
			goto fail;
		if (r == 0)
			n++;
	}
	if (rc != SQLITE_DONE) {
		db_sqlerr(db, what);
		goto fail;
	}
	sqlite3_reset(st);
	*out = rows;
	*nout = n;
	return 0;
 fail:
	sqlite3_reset(st);
	clear(rows, n);
	return -1;
}

static void
db_mailbox_rows_free(void *mbs, size_t n)
{
	db_mailboxes_free(mbs, n);
}

/* The mailbox rows statement id gives, in a new array. */
static int
db_mailboxes_query(struct db *db, enum db_stmt id, struct db_mailbox **out,
    size_t *n, const char *what)
{
	sqlite3_stmt	*st;
	void		*rows;

	*out = NULL;
	*n = 0;
	if ((st = db_stmt(db, id)) == NULL)
		return -1;
	if (db_rows(db, st, sizeof(**out), db_read_mailbox, NULL,
	    db_mailbox_rows_free, &rows, n, what) == -1)
		return -1;
	*out = rows;
	return 0;
}

int
db_mailbox_list(struct db *db, struct db_mailbox **out, size_t *n)
{
	return db_mailboxes_query(db, ST_MBX_LIST, out, n, "list mailboxes");
}

static int
db_bind_name(struct db *db, sqlite3_stmt *st, int col, const char *name,
    size_t len, const char *what)
{
	if (len == 0 || len > INT32_MAX) {
		db_seterr(db, "%s: invalid mailbox name length %zu", what,
		    len);
		return -1;
	}
	if (sqlite3_bind_blob(st, col, name, (int)len, SQLITE_STATIC) !=
	    SQLITE_OK)
		return db_sqlerr(db, what);
	return 0;
}

int
db_mailbox_find(struct db *db, const char *name, size_t len,
    struct db_mailbox *mb)
{
	sqlite3_stmt	*st;
	const char	*what = "find mailbox";
	int		 rc;

	memset(mb, 0, sizeof(*mb));
	if ((st = db_stmt(db, ST_MBX_FIND)) == NULL ||
	    db_bind_name(db, st, 1, name, len, what) == -1)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_sqlerr(db, what);
		sqlite3_reset(st);
		return -1;
	}
	if (db_read_mailbox(db, st, mb, NULL, what) == -1) {
		sqlite3_reset(st);
		return -1;
	}
	/* The column is UNIQUE; a second row means a broken database. */
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		if (rc == SQLITE_ROW)
			db_seterr(db, "%s: more than one row for one name",
			    what);
		else
			db_sqlerr(db, what);
		sqlite3_reset(st);
		db_mailbox_clear(mb);
		return -1;
	}
	sqlite3_reset(st);
	return 1;
}

int
db_mailbox_add(struct db *db, const char *name, size_t len, int subscribed,
    int64_t *idx)
{
	sqlite3_stmt	*st;
	const char	*what = "insert mailbox";

	if ((st = db_stmt(db, ST_MBX_INSERT)) == NULL ||
	    db_bind_name(db, st, 1, name, len, what) == -1 ||
	    db_write_begin(db, what) == -1)
		return -1;
	sqlite3_bind_int(st, 2, subscribed ? 1 : 0);
	if (db_step_done(db, st, what) == -1)
		return -1;
	*idx = sqlite3_last_insert_rowid(db->h);
	return 0;
}

/* Runs a one-row write for idx; exactly one row must change. */
static int
db_write_one(struct db *db, sqlite3_stmt *st, const char *what,
    int64_t idx)
{
	if (db_write_begin(db, what) == -1 ||
	    db_step_done(db, st, what) == -1)
		return -1;
	if (sqlite3_changes(db->h) != 1) {
		db_seterr(db, "%s: no row for idx %" PRId64, what, idx);
		return -1;
	}
	return 0;
}

int
db_mailbox_set_subscribed(struct db *db, int64_t idx, int subscribed)
{
	sqlite3_stmt	*st;

	if ((st = db_stmt(db, ST_MBX_SUBSCRIBE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int(st, 2, subscribed ? 1 : 0);
	return db_write_one(db, st, "set subscribed", idx);
}

int
db_mailbox_delete(struct db *db, int64_t idx)
{
	/*
	 * Referencing tables first, for the foreign keys.  flagstate has
	 * none (the reference, which does not know it, deletes mailboxes
	 * without it), but goes first all the same.
	 */
	static const enum db_stmt order[] = {
		ST_FS_DEL_MAILBOX, ST_DEL_MAPPING, ST_DEL_LOCAL, ST_DEL_REMOTE,
		ST_DEL_MAILBOX,
	};
	sqlite3_stmt	*st;
	size_t		 i;
	int		 fs;

	if ((fs = db_flagstate_exists(db)) == -1 ||
	    db_write_begin(db, "delete mailbox") == -1)
		return -1;
	for (i = fs ? 0 : 1; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((st = db_stmt(db, order[i])) == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, idx);
		if (db_step_done(db, st, "delete mailbox") == -1)
			return -1;
	}
	return 0;
}

/* The renamed rows of db_mailbox_rename(). */
struct db_rename {
	int64_t	 idx;
	char	*name;
	size_t	 len;
};

static void
db_renames_free(void *renames, size_t n)
{
	struct db_rename	*rn = renames;
	size_t			 i;

	for (i = 0; i < n; i++)
		free(rn[i].name);
	free(rn);
}

/* What db_rename_row() renames: from (flen bytes) into to (tlen). */
struct db_rename_arg {
	const char	*from, *to;
	size_t		 flen, tlen;
};

/*
 * A row to rename, with its new name, if it is SRC itself or an
 * SRC+NUL+rest, which becomes DST+NUL+rest (a db_row_fn).  Done on bytes
 * in C rather than with SUBSTR() in SQL, which counts characters on TEXT
 * values.
 */
static int
db_rename_row(struct db *db, sqlite3_stmt *st, void *elem, void *arg,
    const char *what)
{
	struct db_rename	*rn = elem;
	struct db_rename_arg	*a = arg;
	const char		*name;
	size_t			 len, rest;

	name = sqlite3_column_blob(st, 1);
	len = (size_t)sqlite3_column_bytes(st, 1);
	if (name == NULL || len < a->flen ||
	    memcmp(name, a->from, a->flen) != 0 ||
	    (len > a->flen && name[a->flen] != '\0'))
		return 1;
	rest = len - a->flen;
	if ((rn->name = malloc(a->tlen + rest + 1)) == NULL) {
		db_seterr(db, "%s: out of memory", what);
		return -1;
	}
	/* A leading byte 0xff, for the collision-free first pass. */
	rn->name[0] = '\xff';
	memcpy(rn->name + 1, a->to, a->tlen);
	memcpy(rn->name + 1 + a->tlen, name + a->flen, rest);
	rn->len = a->tlen + rest;
	rn->idx = sqlite3_column_int64(st, 0);
	return 0;
}

/* Collects the rows to rename (db_rename_row()); the caller frees. */
static int
db_rename_collect(struct db *db, const char *from, size_t flen,
    const char *to, size_t tlen, struct db_rename **out, size_t *nout)
{
	struct db_rename_arg	 a = { from, to, flen, tlen };
	sqlite3_stmt		*st;
	void			*rows;

	*out = NULL;
	*nout = 0;
	if ((st = db_stmt(db, ST_MBX_NAMES)) == NULL)
		return -1;
	if (db_rows(db, st, sizeof(**out), db_rename_row, &a, db_renames_free,
	    &rows, nout, "rename mailbox") == -1)
		return -1;
	*out = rows;
	return 0;
}

static int
db_rename_set(struct db *db, int64_t idx, const char *name, size_t len)
{
	sqlite3_stmt	*st;
	const char	*what = "rename mailbox";

	if ((st = db_stmt(db, ST_MBX_SETNAME)) == NULL ||
	    db_bind_name(db, st, 2, name, len, what) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	return db_write_one(db, st, what, idx);
}

int
db_mailbox_rename(struct db *db, const char *from, size_t flen,
    const char *to, size_t tlen, int *nrenamed)
{
	struct db_mailbox	 mb;
	struct db_rename	*rn = NULL;
	size_t			 n = 0, i;
	int			 r;

	*nrenamed = 0;
	if (flen == 0 || tlen == 0) {
		db_seterr(db, "rename mailbox: empty name");
		return -1;
	}
	if ((r = db_mailbox_find(db, to, tlen, &mb)) == -1)
		return -1;
	if (r == 1) {
		db_mailbox_clear(&mb);
		db_seterr(db, "rename mailbox: destination exists (idx %"
		    PRId64 ")", mb.idx);
		return -1;
	}
	if (db_rename_collect(db, from, flen, to, tlen, &rn, &n) == -1)
		return -1;
	if (n == 0) {
		free(rn);
		return 0;
	}
	if (db_write_begin(db, "rename mailbox") == -1 ||
	    db_exec(db, "SAVEPOINT db_rename") == -1)
		goto fail;
	/*
	 * Two passes: first to names no real mailbox has (a leading 0xff
	 * is never valid in IMAP's modified UTF-7), then to the final
	 * names, so rows renamed into each other's old names do not trip
	 * the UNIQUE constraint half-way.  A clash with a row that is not
	 * renamed still does, and undoes everything.
	 */
	for (i = 0; i < n; i++)
		if (db_rename_set(db, rn[i].idx, rn[i].name, rn[i].len + 1))
			goto undo;
	for (i = 0; i < n; i++)
		if (db_rename_set(db, rn[i].idx, rn[i].name + 1, rn[i].len))
			goto undo;
	if (db_exec(db, "RELEASE db_rename") == -1)
		goto undo;
	db_renames_free(rn, n);
	*nrenamed = (int)n;
	return 0;
 undo:
	sqlite3_exec(db->h, "ROLLBACK TO db_rename", NULL, NULL, NULL);
	sqlite3_exec(db->h, "RELEASE db_rename", NULL, NULL, NULL);
 fail:
	db_renames_free(rn, n);
	return -1;
}

static void
db_bind_state(sqlite3_stmt *st, int64_t idx, const struct db_state *s)
{
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, s->uidvalidity);
	sqlite3_bind_int64(st, 3, s->uidnext);
	sqlite3_bind_int64(st, 4, db_modseq_to_sql(s->highestmodseq));
}

int
db_state_insert(struct db *db, int64_t idx, const struct db_state *l,
    const struct db_state *r)
{
	sqlite3_stmt	*st;

	if ((st = db_stmt(db, ST_LOCAL_INSERT)) == NULL ||
	    db_write_begin(db, "insert local state") == -1)
		return -1;
	db_bind_state(st, idx, l);
	if (db_step_done(db, st, "insert local state") == -1)
		return -1;
	if ((st = db_stmt(db, ST_REMOTE_INSERT)) == NULL)
		return -1;
	db_bind_state(st, idx, r);
	return db_step_done(db, st, "insert remote state");
}

int
db_state_get(struct db *db, int64_t idx, struct db_state *l,
    struct db_state *r)
{
	sqlite3_stmt	*st;
	const char	*what = "get state";
	int		 rc;

	if ((st = db_stmt(db, ST_STATE_GET)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_sqlerr(db, what);
		sqlite3_reset(st);
		return -1;
	}
	if (db_col_u32(db, st, 0, 1, &l->uidvalidity, what) == -1 ||
	    db_col_u32(db, st, 1, 0, &l->uidnext, what) == -1 ||
	    db_col_u32(db, st, 3, 1, &r->uidvalidity, what) == -1 ||
	    db_col_u32(db, st, 4, 0, &r->uidnext, what) == -1) {
		sqlite3_reset(st);
		return -1;
	}
	l->highestmodseq = db_modseq_from_sql(sqlite3_column_int64(st, 2));
	r->highestmodseq = db_modseq_from_sql(sqlite3_column_int64(st, 5));
	sqlite3_reset(st);
	return 1;
}

int
db_state_set(struct db *db, int64_t idx, enum db_side side,
    unsigned int what, const struct db_state *s)
{
	sqlite3_stmt	*st;
	enum db_stmt	 id;
	const char	*op;
	int		 local = side == DB_LOCAL;

	switch (what) {
	case DB_STATE_UIDNEXT | DB_STATE_MODSEQ:
		id = local ? ST_LOCAL_UPDATE : ST_REMOTE_UPDATE;
		op = local ? "update local state" : "update remote state";
		break;
	case DB_STATE_MODSEQ:
		id = local ? ST_LOCAL_MODSEQ : ST_REMOTE_MODSEQ;
		op = local ? "update local HIGHESTMODSEQ" :
		    "update remote HIGHESTMODSEQ";
		break;
	case DB_STATE_UIDNEXT:
		id = local ? ST_LOCAL_UIDNEXT : ST_REMOTE_UIDNEXT;
		op = local ? "update local UIDNEXT" : "update remote UIDNEXT";
		break;
	default:
		db_seterr(db, "update state: invalid fields 0x%x", what);
		return -1;
	}
	if ((st = db_stmt(db, id)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	/* The statements take ?2 UIDNEXT, ?3 HIGHESTMODSEQ, or just ?2. */
	if (what & DB_STATE_UIDNEXT) {
		sqlite3_bind_int64(st, 2, s->uidnext);
		if (what & DB_STATE_MODSEQ)
			sqlite3_bind_int64(st, 3,
			    db_modseq_to_sql(s->highestmodseq));
	} else
		sqlite3_bind_int64(st, 2, db_modseq_to_sql(s->highestmodseq));
	return db_write_one(db, st, op, idx);
}

int
db_state_update(struct db *db, int64_t idx, const struct db_state *l,
    const struct db_state *r)
{
	const unsigned int	what = DB_STATE_UIDNEXT | DB_STATE_MODSEQ;

	if (db_state_set(db, idx, DB_LOCAL, what, l) == -1)
		return -1;
	return db_state_set(db, idx, DB_REMOTE, what, r);
}

int
db_state_update_modseq(struct db *db, int64_t idx, uint64_t lmodseq,
    uint64_t rmodseq)
{
	struct db_state	l, r;

	memset(&l, 0, sizeof(l));
	memset(&r, 0, sizeof(r));
	l.highestmodseq = lmodseq;
	r.highestmodseq = rmodseq;
	if (db_state_set(db, idx, DB_LOCAL, DB_STATE_MODSEQ, &l) == -1)
		return -1;
	return db_state_set(db, idx, DB_REMOTE, DB_STATE_MODSEQ, &r);
}

int
db_mapping_add(struct db *db, int64_t idx, uint32_t luid, uint32_t ruid)
{
	sqlite3_stmt	*st;
	char		 what[128];

	snprintf(what, sizeof(what), "add mapping (idx,lUID,rUID) = "
	    "(%" PRId64 ",%" PRIu32 ",%" PRIu32 ")", idx, luid, ruid);
	if ((st = db_stmt(db, ST_MAP_INSERT)) == NULL ||
	    db_write_begin(db, what) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, luid);
	sqlite3_bind_int64(st, 3, ruid);
	return db_step_done(db, st, what);
}

/* Deletes the flagstate row of (idx, side, uid), if any. */
static int
db_flags_delete(struct db *db, int64_t idx, enum db_side side, uint32_t uid)
{
	sqlite3_stmt	*st;

	if ((st = db_stmt(db, ST_FS_DELETE)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int(st, 2, (int)side);
	sqlite3_bind_int64(st, 3, uid);
	return db_step_done(db, st, "delete flags");
}

int
db_mapping_delete(struct db *db, int64_t idx, enum db_side side,
    uint32_t uid)
{
	sqlite3_stmt	*st;
	const char	*col = side == DB_LOCAL ? "lUID" : "rUID";
	char		 what[128];
	uint32_t	 other = 0;
	int		 n, fs, found = 0;

	snprintf(what, sizeof(what), "delete mapping (idx,%s) = "
	    "(%" PRId64 ",%" PRIu32 ")", col, idx, uid);
	/* The pair's other UID, whose flags go too: read before it goes. */
	if ((fs = db_flagstate_exists(db)) == -1 ||
	    (fs && (found = db_mapping_lookup(db, idx, side, uid, &other)) ==
	    -1))
		return -1;
	st = db_stmt(db, side == DB_LOCAL ? ST_MAP_DELETE_L : ST_MAP_DELETE_R);
	if (st == NULL || db_write_begin(db, what) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, uid);
	if (db_step_done(db, st, what) == -1)
		return -1;
	n = sqlite3_changes(db->h);
	if (n > 1) {
		db_seterr(db, "%s: %d rows deleted", what, n);
		return -1;
	}
	/*
	 * Flags are kept for mapped messages only: a UID without a pair
	 * (the warning below) has none worth keeping either.
	 */
	if (fs && (db_flags_delete(db, idx, side, uid) == -1 ||
	    (n == 1 && found == 1 && db_flags_delete(db, idx,
	    side == DB_LOCAL ? DB_REMOTE : DB_LOCAL, other) == -1)))
		return -1;
	if (n == 0) {
		log_msg(LOG_LVL_WARN, "database", NULL,
		    "WARNING: Can't delete (idx,%s) = (%" PRId64 ",%" PRIu32
		    ")", col, idx, uid);
		return 0;
	}
	return 1;
}

int
db_mapping_lookup(struct db *db, int64_t idx, enum db_side side,
    uint32_t uid, uint32_t *other)
{
	sqlite3_stmt	*st;
	const char	*what = side == DB_LOCAL ? "get remote UID" :
			    "get local UID";
	int		 rc;

	st = db_stmt(db, side == DB_LOCAL ? ST_MAP_RUID : ST_MAP_LUID);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, uid);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		db_sqlerr(db, what);
		sqlite3_reset(st);
		return -1;
	}
	if (db_col_u32(db, st, 0, 1, other, what) == -1) {
		sqlite3_reset(st);
		return -1;
	}
	/* (idx,lUID) and (idx,rUID) are both unique keys. */
	if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
		if (rc == SQLITE_ROW)
			db_seterr(db, "%s: more than one row for UID %" PRIu32,
			    what, uid);
		else
			db_sqlerr(db, what);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 1;
}

int
db_mapping_count(struct db *db, int64_t idx, uint64_t *count)
{
	sqlite3_stmt	*st;

	if ((st = db_stmt(db, ST_MAP_COUNT)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	if (sqlite3_step(st) != SQLITE_ROW) {
		db_sqlerr(db, "count mappings");
		sqlite3_reset(st);
		return -1;
	}
	*count = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int
db_mapping_last(struct db *db, int64_t idx, enum db_side side,
    uint32_t *uids, size_t max, size_t *n)
{
	sqlite3_stmt	*st;
	const char	*what = "list last UIDs";
	int		 rc = SQLITE_DONE;

	*n = 0;
	st = db_stmt(db, side == DB_LOCAL ? ST_MAP_LAST_L : ST_MAP_LAST_R);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (db_col_u32(db, st, 0, 1, &uids[*n], what) == -1) {
			sqlite3_reset(st);
			return -1;
		}
		(*n)++;
	}
	if (*n < max && rc != SQLITE_DONE) {
		db_sqlerr(db, what);
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

static int
db_pair_row(struct db *db, sqlite3_stmt *st, void *elem, void *arg,
    const char *what)
{
	struct db_pair	*p = elem;

	if (db_col_u32(db, st, 0, 1, &p->luid, what) == -1 ||
	    db_col_u32(db, st, 1, 1, &p->ruid, what) == -1)
		return -1;
	return 0;
}

static void
db_pairs_free(void *pairs, size_t n)
{
	free(pairs);
}

/* The (lUID, rUID) rows statement id gives for idx, in a new array. */
static int
db_pairs_query(struct db *db, enum db_stmt id, int64_t idx,
    struct db_pair **pairs, size_t *n, const char *what)
{
	sqlite3_stmt	*st;
	void		*rows;

	*pairs = NULL;
	*n = 0;
	if ((st = db_stmt(db, id)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	if (db_rows(db, st, sizeof(**pairs), db_pair_row, NULL, db_pairs_free,
	    &rows, n, what) == -1)
		return -1;
	*pairs = rows;
	return 0;
}

int
db_mapping_list(struct db *db, int64_t idx, struct db_pair **pairs,
    size_t *n)
{
	return db_pairs_query(db, ST_MAP_LIST, idx, pairs, n,
	    "list mappings");
}

int
db_interrupted_list(struct db *db, struct db_mailbox **out, size_t *n)
{
	return db_mailboxes_query(db, ST_INT_LIST, out, n,
	    "list interrupted syncs");
}

int
db_interrupted_pairs(struct db *db, int64_t idx, struct db_pair **pairs,
    size_t *n)
{
	return db_pairs_query(db, ST_INT_PAIRS, idx, pairs, n,
	    "list interrupted pairs");
}

int
db_flags_valid(const char *flags, size_t len)
{
	size_t	i;

	if (flags == NULL || len > DB_FLAGS_MAX)
		return 0;
	/* NUL among them: the text is handed on as a C string. */
	for (i = 0; i < len; i++)
		if ((unsigned char)flags[i] < 0x20 || flags[i] == 0x7f)
			return 0;
	return 1;
}

int
db_flags_set(struct db *db, int64_t idx, enum db_side side, uint32_t uid,
    const char *flags, size_t len)
{
	sqlite3_stmt	*st;
	char		 what[128];
	int		 fs;

	snprintf(what, sizeof(what), "set flags (idx,side,UID) = "
	    "(%" PRId64 ",%d,%" PRIu32 ")", idx, (int)side, uid);
	if (!db_flags_valid(flags, len)) {
		db_seterr(db, "%s: invalid flags", what);
		return -1;
	}
	if ((fs = db_flagstate_exists(db)) == -1 ||
	    db_write_begin(db, what) == -1)
		return -1;
	/* In the open transaction: undone with it. */
	if (fs == 0 && db_flagstate_create(db) == -1)
		return -1;
	if ((st = db_stmt(db, ST_FS_SET)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int(st, 2, (int)side);
	sqlite3_bind_int64(st, 3, uid);
	if (sqlite3_bind_text(st, 4, flags, (int)len, SQLITE_STATIC) !=
	    SQLITE_OK)
		return db_sqlerr(db, what);
	return db_step_done(db, st, what);
}

/* A flagstate row: UID > 0, flags as db_flags_valid() wants them. */
static int
db_flag_row(struct db *db, sqlite3_stmt *st, void *elem, void *arg,
    const char *what)
{
	struct db_flagrow	*f = elem;
	const char		*text;
	int			 len;

	memset(f, 0, sizeof(*f));
	if (db_col_u32(db, st, 0, 1, &f->uid, what) == -1)
		return -1;
	text = (const char *)sqlite3_column_text(st, 1);
	len = sqlite3_column_bytes(st, 1);
	if (text == NULL || len < 0 || !db_flags_valid(text, (size_t)len)) {
		db_seterr(db, "%s: invalid flags for UID %" PRIu32, what,
		    f->uid);
		return -1;
	}
	if ((f->flags = malloc((size_t)len + 1)) == NULL) {
		db_seterr(db, "%s: out of memory", what);
		return -1;
	}
	memcpy(f->flags, text, (size_t)len);
	f->flags[len] = '\0';
	f->len = (size_t)len;
	return 0;
}

void
db_flagrows_free(struct db_flagrow *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++)
		free(rows[i].flags);
	free(rows);
}

static void
db_flag_rows_free(void *rows, size_t n)
{
	db_flagrows_free(rows, n);
}

int
db_flags_list(struct db *db, int64_t idx, enum db_side side,
    struct db_flagrow **out, size_t *n)
{
	sqlite3_stmt	*st;
	void		*rows;
	int		 fs;

	*out = NULL;
	*n = 0;
	if ((fs = db_flagstate_exists(db)) != 1)
		return fs;
	if ((st = db_stmt(db, ST_FS_LIST)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, idx);
	sqlite3_bind_int(st, 2, (int)side);
	if (db_rows(db, st, sizeof(**out), db_flag_row, NULL,
	    db_flag_rows_free, &rows, n, "list flags") == -1)
		return -1;
	*out = rows;
	return 0;
}
