/*
 * priv's handler of the engine's database requests (priv_db.h): layout
 * checks, invariants, then one db.h operation each, and the answer.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "db_proto.h"
#include "imap_proto.h"
#include "db.h"
#include "priv_db.h"
#include "testhooks.h"

/* Rows per IMSG_DB_MAP_ROWS (12 + 8n bytes, far below IPC_ANYLEN). */
#define PRIV_DB_PAIRS_PER_MSG	16384
/*
 * Payload bytes per IMSG_DB_FLAG_ROWS: its rows are of any length up to
 * DB_FLAGS_MAX, so they are counted in bytes.  The longest row fits
 * with room to spare, and the whole stays at half IPC_MAX_PAYLOAD.
 */
#define PRIV_DB_FLAG_BYTES	(128 * 1024)
_Static_assert(16 + 8 + DB_FLAGS_MAX <= PRIV_DB_FLAG_BYTES &&
    PRIV_DB_FLAG_BYTES <= IPC_MAX_PAYLOAD / 2,
    "an IMSG_DB_FLAG_ROWS holds any row and stays well below the bound");

/* The indexes the engine may name: every row it was told about. */
static int64_t	*priv_db_idx;
static size_t	 priv_db_nidx, priv_db_capidx;
static unsigned long priv_db_commits;
/*
 * Set by the run's first request that failed or was refused (priv_db.h):
 * from then on nothing reaches SQLite.
 */
static int	 priv_db_closed;
/*
 * The mailboxes whose UIDNEXT the open transaction stores, and on which
 * sides (1 << DB_LOCAL | 1 << DB_REMOTE): at COMMIT, every mapped UID of
 * such a side must lie below the UIDNEXT stored.  Not before: the engine
 * commits an APPEND batch's mapping rows before it moves the UIDNEXTs
 * past them (REFERENCE-BEHAVIOUR §5.4), and such rows are how an
 * interrupted sync is found (§6.5).
 */
struct priv_db_moved {
	int64_t		 idx;
	unsigned int	 sides;
};
static struct priv_db_moved *priv_db_moved;
static size_t	 priv_db_nmoved, priv_db_capmoved;
/* The local delimiter (IMSG_DB_MIGRATE), to show internal names. */
static int	 priv_db_ldelim = '/';

static void	 priv_db_idx_add(int64_t);
static int	 priv_db_idx_known(int64_t);
static void	 priv_db_result(struct ipc_chan *, uint32_t, uint64_t,
		    const char *);
static void	 priv_db_shut(struct db *, struct ipc_chan *, const char *);
static int	 priv_db_fail(struct db *, struct ipc_chan *, const char *);
static int	 priv_db_refuse(struct db *, struct ipc_chan *, const char *,
		    ...) __attribute__((format(printf, 3, 4)));
static void	 priv_db_send(struct ipc_chan *, uint32_t, struct ipc_buf *);
static void	 priv_db_pairs(struct ipc_chan *, int64_t,
		    const struct db_pair *, size_t);
static void	 priv_db_flagrows(struct ipc_chan *, int64_t, uint32_t,
		    const struct db_flagrow *, size_t);
static const char *priv_db_flags_set(struct db *, struct ipc_chan *,
		    struct ipc_rd *);
static void	 priv_db_idx_del(int64_t);
static void	 priv_db_moved_add(int64_t, unsigned int);
static const char *priv_db_mbname(struct db *, int64_t);
static int	 priv_db_check_state(struct db *, struct ipc_chan *, int64_t,
		    uint32_t, const struct db_state *);
static int	 priv_db_check_commit(struct db *, struct ipc_chan *);

void
priv_db_init(void)
{
	free(priv_db_idx);
	priv_db_idx = NULL;
	priv_db_nidx = priv_db_capidx = 0;
	priv_db_commits = 0;
	priv_db_closed = 0;
	free(priv_db_moved);
	priv_db_moved = NULL;
	priv_db_nmoved = priv_db_capmoved = 0;
	priv_db_ldelim = '/';
}

int
priv_db_failed(void)
{
	return priv_db_closed;
}

int
priv_db_is_request(unsigned int type)
{
	switch (type) {
	case IMSG_DB_MIGRATE:
	case IMSG_DB_LOAD:
	case IMSG_DB_INTERRUPTED:
	case IMSG_DB_MAP_LOAD:
	case IMSG_DB_MAILBOX_ADD:
	case IMSG_DB_SUBSCRIBE:
	case IMSG_DB_STATE_INIT:
	case IMSG_DB_STATE_SET:
	case IMSG_DB_MAP_ADD:
	case IMSG_DB_MAP_DEL:
	case IMSG_DB_FLAGS_SET:
	case IMSG_DB_DELETE:
	case IMSG_DB_RENAME:
	case IMSG_DB_COMMIT:
		return 1;
	}
	return 0;
}

/* Where idx is, or would go, in the sorted priv_db_idx; *found set. */
static size_t
priv_db_idx_pos(int64_t idx, int *found)
{
	size_t lo = 0, hi = priv_db_nidx, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (priv_db_idx[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < priv_db_nidx && priv_db_idx[lo] == idx;
	return lo;
}

static void
priv_db_idx_add(int64_t idx)
{
	size_t lo;
	int found;

	lo = priv_db_idx_pos(idx, &found);
	if (found)
		return;
	if (priv_db_nidx == priv_db_capidx) {
		priv_db_capidx = priv_db_capidx ? priv_db_capidx * 2 : 64;
		priv_db_idx = reallocarray(priv_db_idx, priv_db_capidx,
		    sizeof(*priv_db_idx));
		if (priv_db_idx == NULL)
			fatalx(EXIT_FAIL, "out of memory");
	}
	memmove(&priv_db_idx[lo + 1], &priv_db_idx[lo],
	    (priv_db_nidx - lo) * sizeof(*priv_db_idx));
	priv_db_idx[lo] = idx;
	priv_db_nidx++;
}

static int
priv_db_idx_known(int64_t idx)
{
	int found;

	(void)priv_db_idx_pos(idx, &found);
	return found;
}

/* A mailbox deleted (--delete) is no longer one the engine may name. */
static void
priv_db_idx_del(int64_t idx)
{
	size_t lo;
	int found;

	lo = priv_db_idx_pos(idx, &found);
	if (!found)
		return;
	memmove(&priv_db_idx[lo], &priv_db_idx[lo + 1],
	    (priv_db_nidx - lo - 1) * sizeof(*priv_db_idx));
	priv_db_nidx--;
}

static void
priv_db_moved_add(int64_t idx, unsigned int sides)
{
	size_t i;

	for (i = 0; i < priv_db_nmoved; i++)
		if (priv_db_moved[i].idx == idx) {
			priv_db_moved[i].sides |= sides;
			return;
		}
	if (priv_db_nmoved == priv_db_capmoved) {
		priv_db_capmoved = priv_db_capmoved ? priv_db_capmoved * 2 : 16;
		priv_db_moved = reallocarray(priv_db_moved, priv_db_capmoved,
		    sizeof(*priv_db_moved));
		if (priv_db_moved == NULL)
			fatalx(EXIT_FAIL, "out of memory");
	}
	priv_db_moved[priv_db_nmoved].idx = idx;
	priv_db_moved[priv_db_nmoved].sides = sides;
	priv_db_nmoved++;
}

/*
 * How an error names a mailbox: its name (the delimiter shown as the
 * local one) and its index, or the index alone if it has no row.
 * Static buffer; only for error paths (it lists every mailbox).
 */
static const char *
priv_db_mbname(struct db *db, int64_t idx)
{
	static char buf[256];
	struct db_mailbox *mbs;
	size_t i, j, n;
	char *name = NULL;

	snprintf(buf, sizeof(buf), "mailbox index %lld", (long long)idx);
	if (db_mailbox_list(db, &mbs, &n) == -1)
		return buf;
	for (i = 0; i < n && name == NULL; i++) {
		if (mbs[i].idx != idx)
			continue;
		if ((name = malloc(mbs[i].namelen + 1)) == NULL)
			break;
		for (j = 0; j < mbs[i].namelen; j++)
			name[j] = mbs[i].name[j] != '\0' ? mbs[i].name[j] :
			    (char)priv_db_ldelim;
		name[j] = '\0';
	}
	db_mailboxes_free(mbs, n);
	if (name != NULL) {
		snprintf(buf, sizeof(buf), "mailbox %s (index %lld)", name,
		    (long long)idx);
		free(name);
	}
	return buf;
}

/*
 * IMSG_DB_STATE_SET against the stored state: the mailbox has its local
 * and remote rows, and neither UIDNEXT nor HIGHESTMODSEQ goes backwards
 * on either side (§5.3; a UIDVALIDITY change is fatal in the engine
 * before anything is stored, so no request legitimately resets them).
 * 0, or -1 once refused (or failed) and answered.
 */
static int
priv_db_check_state(struct db *db, struct ipc_chan *chan, int64_t idx,
    uint32_t which, const struct db_state *st)
{
	static const char *const sname[2] = { "local", "remote" };
	struct db_state cur[2];
	int rc, k;

	if ((rc = db_state_get(db, idx, &cur[0], &cur[1])) == -1)
		return priv_db_fail(db, chan, NULL);
	if (rc == 0)
		return priv_db_refuse(db, chan, "%s has no state: its UIDNEXT "
		    "and HIGHESTMODSEQ can't be stored",
		    priv_db_mbname(db, idx));
	for (k = 0; k < 2; k++) {
		if ((which & (k == 0 ? DB_SET_UIDNEXT_LOCAL :
		    DB_SET_UIDNEXT_REMOTE)) &&
		    st[k].uidnext < cur[k].uidnext)
			return priv_db_refuse(db, chan, "UIDNEXT never goes "
			    "backwards: %s, %s UIDNEXT %u -> %u",
			    priv_db_mbname(db, idx), sname[k], cur[k].uidnext,
			    st[k].uidnext);
		if ((which & (k == 0 ? DB_SET_MODSEQ_LOCAL :
		    DB_SET_MODSEQ_REMOTE)) &&
		    st[k].highestmodseq < cur[k].highestmodseq)
			return priv_db_refuse(db, chan, "HIGHESTMODSEQ never "
			    "goes backwards: %s, %s HIGHESTMODSEQ %llu -> %llu",
			    priv_db_mbname(db, idx), sname[k],
			    (unsigned long long)cur[k].highestmodseq,
			    (unsigned long long)st[k].highestmodseq);
	}
	return 0;
}

/*
 * At COMMIT, the transaction's final state: for every mailbox whose
 * UIDNEXT it stores, each such side's mapped UIDs lie below it (§5.3).
 * A mailbox deleted in the same transaction has nothing left to check.
 * 0, or -1 once refused (or failed) and answered.
 */
static int
priv_db_check_commit(struct db *db, struct ipc_chan *chan)
{
	static const char *const sname[2] = { "local", "remote" };
	struct db_state cur[2];
	uint32_t top;
	size_t i, n;
	int rc, k;

	for (i = 0; i < priv_db_nmoved; i++) {
		rc = db_state_get(db, priv_db_moved[i].idx, &cur[0], &cur[1]);
		if (rc == -1)
			return priv_db_fail(db, chan, NULL);
		if (rc == 0)
			continue;
		for (k = 0; k < 2; k++) {
			if (!(priv_db_moved[i].sides & (1U << k)))
				continue;
			if (db_mapping_last(db, priv_db_moved[i].idx,
			    k == 0 ? DB_LOCAL : DB_REMOTE, &top, 1, &n) == -1)
				return priv_db_fail(db, chan, NULL);
			if (n == 1 && top >= cur[k].uidnext)
				return priv_db_refuse(db, chan, "mapped UIDs "
				    "lie below UIDNEXT: %s, %s UID %u mapped, "
				    "%s UIDNEXT %u",
				    priv_db_mbname(db, priv_db_moved[i].idx),
				    sname[k], top, sname[k], cur[k].uidnext);
		}
	}
	return 0;
}

static void
priv_db_send(struct ipc_chan *chan, uint32_t type, struct ipc_buf *buf)
{
	if (ipc_send(chan, type, SIDE_NONE, -1, buf) == -1)
		fatalx(EXIT_FAIL, "%s", chan->err);
}

static void
priv_db_result(struct ipc_chan *chan, uint32_t status, uint64_t value,
    const char *err)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, status);
	ipc_put_u64(&buf, value);
	ipc_put_str(&buf, err != NULL ? err : "");
	priv_db_send(chan, IMSG_DB_RESULT, &buf);
	ipc_buf_free(&buf);
	(void)ipc_flush(chan);
}

/*
 * The run's first database error (already logged): what the open
 * transaction holds is undone, the request is answered with err, and
 * every later one will be refused.  Requests the engine sent before it
 * learns of the error rest on this one having succeeded: the rows of an
 * APPEND batch, then a COMMIT, then the UIDNEXTs that the rows justify.
 * SQLite may leave the transaction open after a failed statement (a
 * constraint) or end it itself (a full disk); either way, a COMMIT that
 * followed would make durable a state that never was.
 */
static void
priv_db_shut(struct db *db, struct ipc_chan *chan, const char *err)
{
	char buf[512];

	priv_db_closed = 1;
	priv_db_nmoved = 0;
	(void)strlcpy(buf, err, sizeof(buf));
	if (db_in_transaction(db) && db_rollback(db) == -1)
		log_msg(LOG_LVL_ERROR, "database", NULL, "ERROR: %s",
		    db_error(db));
	priv_db_result(chan, DB_RESULT_ERROR, 0, buf);
}

/* An SQLite failure: logged as the database's, answered as an error; -1. */
static int
priv_db_fail(struct db *db, struct ipc_chan *chan, const char *what)
{
	log_msg(LOG_LVL_ERROR, "database", NULL, "ERROR: %s%s%s",
	    what != NULL ? what : "", what != NULL ? ": " : "",
	    db_error(db));
	priv_db_shut(db, chan, db_error(db));
	return -1;
}

/* A request that breaks an invariant: refused, the run ends; -1. */
static int
priv_db_refuse(struct db *db, struct ipc_chan *chan, const char *fmt, ...)
{
	va_list ap;
	char buf[256];

	va_start(ap, fmt);
	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERROR, "database", NULL, "ERROR: refusing the "
	    "engine's request: %s", buf);
	priv_db_shut(db, chan, buf);
	return -1;
}

static void
priv_db_pairs(struct ipc_chan *chan, int64_t idx, const struct db_pair *p,
    size_t n)
{
	struct ipc_buf buf;
	size_t i, k, j;

	for (i = 0; i < n; i += k) {
		k = n - i > PRIV_DB_PAIRS_PER_MSG ? PRIV_DB_PAIRS_PER_MSG :
		    n - i;
		ipc_buf_init(&buf);
		ipc_put_u64(&buf, (uint64_t)idx);
		ipc_put_u32(&buf, (uint32_t)k);
		for (j = 0; j < k; j++) {
			ipc_put_u32(&buf, p[i + j].luid);
			ipc_put_u32(&buf, p[i + j].ruid);
		}
		priv_db_send(chan, IMSG_DB_MAP_ROWS, &buf);
		ipc_buf_free(&buf);
		/* Let the engine take rows while we read more. */
		(void)ipc_flush(chan);
	}
}

/*
 * IMSG_DB_FLAG_ROWS for one side: u64 idx, u32 side, u32 n, n x (u32 uid,
 * str flags), as many rows per message as PRIV_DB_FLAG_BYTES holds.
 */
static void
priv_db_flagrows(struct ipc_chan *chan, int64_t idx, uint32_t side,
    const struct db_flagrow *f, size_t n)
{
	struct ipc_buf buf;
	size_t i, k, j, bytes;

	for (i = 0; i < n; i += k) {
		bytes = 16;
		for (k = 0; i + k < n; k++) {
			if (k > 0 && bytes + 8 + f[i + k].len >
			    PRIV_DB_FLAG_BYTES)
				break;
			bytes += 8 + f[i + k].len;
		}
		ipc_buf_init(&buf);
		ipc_put_u64(&buf, (uint64_t)idx);
		ipc_put_u32(&buf, side);
		ipc_put_u32(&buf, (uint32_t)k);
		for (j = 0; j < k; j++) {
			ipc_put_u32(&buf, f[i + j].uid);
			ipc_put_str(&buf, f[i + j].flags);
		}
		priv_db_send(chan, IMSG_DB_FLAG_ROWS, &buf);
		ipc_buf_free(&buf);
		(void)ipc_flush(chan);
	}
}

/*
 * IMSG_DB_FLAGS_SET: u64 idx, u32 side, u32 n, n x (u32 uid, str flags).
 * The whole layout is checked before anything is written, so that a
 * broken message leaves nothing behind; then every row is set.  NULL,
 * or why the message is broken.
 */
static const char *
priv_db_flags_set(struct db *db, struct ipc_chan *chan, struct ipc_rd *rd)
{
	static const char *const sname[2] = { "local", "remote" };
	struct ipc_rd rows;
	const char *flags;
	uint64_t idx;
	uint32_t side, count, uid, i;
	size_t len;

	idx = ipc_get_u64(rd);
	side = ipc_get_u32(rd);
	count = ipc_get_u32(rd);
	/* A row takes 8 bytes at least: no long loop over a short message. */
	if (rd->error || (side != SIDE_LOCAL && side != SIDE_REMOTE) ||
	    count > rd->left / 8)
		return "bad layout";
	rows = *rd;
	for (i = 0; i < count; i++) {
		uid = ipc_get_u32(rd);
		flags = ipc_get_data(rd, &len);
		if (rd->error || uid == 0 || !db_flags_valid(flags, len))
			return "bad layout";
	}
	if (ipc_rd_end(rd) == -1)
		return "bad layout";
	if (!priv_db_idx_known((int64_t)idx)) {
		priv_db_refuse(db, chan, "unknown mailbox index %llu",
		    (unsigned long long)idx);
		return NULL;
	}
	for (i = 0; i < count; i++) {
		uid = ipc_get_u32(&rows);
		flags = ipc_get_data(&rows, &len);
		if (db_flags_set(db, (int64_t)idx, side == SIDE_LOCAL ?
		    DB_LOCAL : DB_REMOTE, uid, flags, len) == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		/* Checked above: no control character to forge a line. */
		log_msg(LOG_LVL_AUDIT, "database", NULL, "DB flags-set "
		    "idx=%llu %s uid=%u flags=(%.*s)", (unsigned long long)idx,
		    sname[side], uid, (int)len, flags);
	}
	priv_db_result(chan, DB_RESULT_OK, count, NULL);
	return NULL;
}

/* Reads the delimiter of a side: a byte, or 0 for flat (NIL). */
static int
priv_db_delim(uint32_t d, int *out)
{
	if (d == IMAP_DELIM_NIL) {
		*out = 0;
		return 0;
	}
	if (d == 0 || d > 0xff)
		return -1;
	*out = (int)d;
	return 0;
}

const char *
priv_db_imsg(struct db *db, struct ipc_chan *chan, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct ipc_buf buf;
	struct db_mailbox *mbs = NULL, mb;
	struct db_pair *pairs = NULL;
	struct db_state st[2];
	const void *name, *name2;
	size_t n, i, len, len2;
	uint64_t idx, v, deleted;
	uint32_t u32, which, count, l, r, side, ld, rd2;
	int dl, dr, rc, k, side_i;
	char err[512];

	if (!priv_db_is_request(msg->hdr.type))
		return "not a database request";
	/* Fail closed: nothing of the run reaches SQLite after an error. */
	if (priv_db_closed) {
		log_debug("database: %s refused: an earlier request failed",
		    ipc_type_name(msg->hdr.type));
		priv_db_result(chan, DB_RESULT_ERROR, 0, "refused: an earlier "
		    "database request failed");
		return NULL;
	}

	ipc_rd_init(&rd, msg);
	switch (msg->hdr.type) {
	case IMSG_DB_MIGRATE:
		ld = ipc_get_u32(&rd);
		rd2 = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1 || priv_db_delim(ld, &dl) == -1 ||
		    priv_db_delim(rd2, &dr) == -1)
			return "bad layout";
		if (dl != 0)
			priv_db_ldelim = dl;
		rc = db_migrate(db, dl, dr, err, sizeof(err));
		if (rc == 0) {
			priv_db_result(chan, DB_RESULT_OK, 0, NULL);
			return NULL;
		}
		if (rc == -1)
			log_msg(LOG_LVL_ERROR, NULL, NULL, "ERROR: %s", err);
		else
			log_msg(LOG_LVL_ERROR, "database", NULL, "ERROR: %s",
			    err);
		priv_db_shut(db, chan, err);
		return NULL;

	case IMSG_DB_LOAD:
		if (ipc_rd_end(&rd) == -1)
			return "bad layout";
		if (db_mailbox_list(db, &mbs, &n) == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		for (i = 0; i < n; i++) {
			priv_db_idx_add(mbs[i].idx);
			ipc_buf_init(&buf);
			ipc_put_u64(&buf, (uint64_t)mbs[i].idx);
			ipc_put_data(&buf, mbs[i].name, mbs[i].namelen);
			ipc_put_u32(&buf, mbs[i].subscribed ? 1 : 0);
			ipc_put_u32(&buf, mbs[i].has_state ? 1 : 0);
			ipc_put_u32(&buf, mbs[i].local.uidvalidity);
			ipc_put_u32(&buf, mbs[i].local.uidnext);
			ipc_put_u64(&buf, mbs[i].local.highestmodseq);
			ipc_put_u32(&buf, mbs[i].remote.uidvalidity);
			ipc_put_u32(&buf, mbs[i].remote.uidnext);
			ipc_put_u64(&buf, mbs[i].remote.highestmodseq);
			priv_db_send(chan, IMSG_DB_MAILBOX_ROW, &buf);
			ipc_buf_free(&buf);
		}
		db_mailboxes_free(mbs, n);
		priv_db_result(chan, DB_RESULT_OK, n, NULL);
		return NULL;

	case IMSG_DB_INTERRUPTED:
		if (ipc_rd_end(&rd) == -1)
			return "bad layout";
		if (db_interrupted_list(db, &mbs, &n) == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		for (i = 0; i < n; i++) {
			size_t np;

			if (db_interrupted_pairs(db, mbs[i].idx, &pairs,
			    &np) == -1) {
				db_mailboxes_free(mbs, n);
				priv_db_fail(db, chan, NULL);
				return NULL;
			}
			priv_db_pairs(chan, mbs[i].idx, pairs, np);
			free(pairs);
			pairs = NULL;
		}
		db_mailboxes_free(mbs, n);
		priv_db_result(chan, DB_RESULT_OK, n, NULL);
		return NULL;

	case IMSG_DB_MAP_LOAD:
		idx = ipc_get_u64(&rd);
		which = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1 ||
		    (which & ~(DB_FLAGS_LOCAL | DB_FLAGS_REMOTE)) != 0)
			return "bad layout";
		if (!priv_db_idx_known((int64_t)idx)) {
			priv_db_refuse(db, chan, "unknown mailbox index %llu",
			    (unsigned long long)idx);
			return NULL;
		}
		if (db_mapping_list(db, (int64_t)idx, &pairs, &n) == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		priv_db_pairs(chan, (int64_t)idx, pairs, n);
		free(pairs);
		/* Then the last synced flags of the sides asked, in order. */
		for (side_i = 0; side_i < 2; side_i++) {
			struct db_flagrow *fr;
			size_t nf;

			if (!(which & (side_i == 0 ? DB_FLAGS_LOCAL :
			    DB_FLAGS_REMOTE)))
				continue;
			if (db_flags_list(db, (int64_t)idx, side_i == 0 ?
			    DB_LOCAL : DB_REMOTE, &fr, &nf) == -1) {
				priv_db_fail(db, chan, NULL);
				return NULL;
			}
			priv_db_flagrows(chan, (int64_t)idx, side_i == 0 ?
			    SIDE_LOCAL : SIDE_REMOTE, fr, nf);
			db_flagrows_free(fr, nf);
		}
		priv_db_result(chan, DB_RESULT_OK, n, NULL);
		return NULL;

	case IMSG_DB_MAILBOX_ADD:
		name = ipc_get_data(&rd, &len);
		u32 = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1 || name == NULL || u32 > 1)
			return "bad layout";
		if (len == 0) {
			priv_db_refuse(db, chan, "empty mailbox name");
			return NULL;
		}
		if (db_mailbox_add(db, name, len, (int)u32,
		    (int64_t *)&idx) == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		priv_db_idx_add((int64_t)idx);
		log_msg(LOG_LVL_AUDIT, "database", NULL, "DB mailbox-add "
		    "idx=%llu subscribed=%u", (unsigned long long)idx, u32);
		priv_db_result(chan, DB_RESULT_OK, idx, NULL);
		return NULL;

	case IMSG_DB_SUBSCRIBE:
		idx = ipc_get_u64(&rd);
		u32 = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1 || u32 > 1)
			return "bad layout";
		if (!priv_db_idx_known((int64_t)idx)) {
			priv_db_refuse(db, chan, "unknown mailbox index %llu",
			    (unsigned long long)idx);
			return NULL;
		}
		if (db_mailbox_set_subscribed(db, (int64_t)idx, (int)u32) ==
		    -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		log_msg(LOG_LVL_AUDIT, "database", NULL, "DB subscribe "
		    "idx=%llu subscribed=%u", (unsigned long long)idx, u32);
		priv_db_result(chan, DB_RESULT_OK, 0, NULL);
		return NULL;

	case IMSG_DB_STATE_INIT:
		idx = ipc_get_u64(&rd);
		memset(st, 0, sizeof(st));
		st[0].uidvalidity = ipc_get_u32(&rd);
		st[1].uidvalidity = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			return "bad layout";
		if (!priv_db_idx_known((int64_t)idx) ||
		    st[0].uidvalidity == 0 || st[1].uidvalidity == 0) {
			priv_db_refuse(db, chan, "state of mailbox %llu: "
			    "unknown index or UIDVALIDITY 0",
			    (unsigned long long)idx);
			return NULL;
		}
		if (db_state_insert(db, (int64_t)idx, &st[0], &st[1]) == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		log_msg(LOG_LVL_AUDIT, "database", NULL, "DB state-init "
		    "idx=%llu uidvalidity=%u,%u", (unsigned long long)idx,
		    st[0].uidvalidity, st[1].uidvalidity);
		priv_db_result(chan, DB_RESULT_OK, 0, NULL);
		return NULL;

	case IMSG_DB_STATE_SET:
		idx = ipc_get_u64(&rd);
		which = ipc_get_u32(&rd);
		memset(st, 0, sizeof(st));
		for (k = 0; k < 2; k++) {
			st[k].uidnext = ipc_get_u32(&rd);
			st[k].highestmodseq = ipc_get_u64(&rd);
		}
		if (ipc_rd_end(&rd) == -1 || which == 0 ||
		    (which & ~(DB_SET_UIDNEXT_LOCAL | DB_SET_MODSEQ_LOCAL |
		    DB_SET_UIDNEXT_REMOTE | DB_SET_MODSEQ_REMOTE)) != 0)
			return "bad layout";
		if (!priv_db_idx_known((int64_t)idx)) {
			priv_db_refuse(db, chan, "unknown mailbox index %llu",
			    (unsigned long long)idx);
			return NULL;
		}
		if (priv_db_check_state(db, chan, (int64_t)idx, which, st) ==
		    -1)
			return NULL;
		for (side_i = 0; side_i < 2; side_i++) {
			unsigned int what = 0;

			if (which & (side_i == 0 ? DB_SET_UIDNEXT_LOCAL :
			    DB_SET_UIDNEXT_REMOTE))
				what |= DB_STATE_UIDNEXT;
			if (which & (side_i == 0 ? DB_SET_MODSEQ_LOCAL :
			    DB_SET_MODSEQ_REMOTE))
				what |= DB_STATE_MODSEQ;
			if (what == 0)
				continue;
			if (db_state_set(db, (int64_t)idx, side_i == 0 ?
			    DB_LOCAL : DB_REMOTE, what, &st[side_i]) == -1) {
				priv_db_fail(db, chan, NULL);
				return NULL;
			}
		}
		u32 = 0;
		if (which & DB_SET_UIDNEXT_LOCAL)
			u32 |= 1U << DB_LOCAL;
		if (which & DB_SET_UIDNEXT_REMOTE)
			u32 |= 1U << DB_REMOTE;
		if (u32 != 0)
			priv_db_moved_add((int64_t)idx, u32);
		log_msg(LOG_LVL_AUDIT, "database", NULL, "DB state-set "
		    "idx=%llu which=0x%x uidnext=%u,%u modseq=%llu,%llu",
		    (unsigned long long)idx, which, st[0].uidnext,
		    st[1].uidnext, (unsigned long long)st[0].highestmodseq,
		    (unsigned long long)st[1].highestmodseq);
		priv_db_result(chan, DB_RESULT_OK, 0, NULL);
		return NULL;

	case IMSG_DB_MAP_ADD:
		idx = ipc_get_u64(&rd);
		count = ipc_get_u32(&rd);
		if (rd.error || rd.left != (size_t)count * 8)
			return "bad layout";
		if (!priv_db_idx_known((int64_t)idx)) {
			priv_db_refuse(db, chan, "unknown mailbox index %llu",
			    (unsigned long long)idx);
			return NULL;
		}
		/* Mapping rows belong to a mailbox with both states. */
		if ((rc = db_state_get(db, (int64_t)idx, &st[0], &st[1])) ==
		    -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		if (rc == 0) {
			priv_db_refuse(db, chan, "no mapping for a mailbox "
			    "without state: %s", priv_db_mbname(db,
			    (int64_t)idx));
			return NULL;
		}
		for (i = 0; i < count; i++) {
			l = ipc_get_u32(&rd);
			r = ipc_get_u32(&rd);
			if (l == 0 || r == 0) {
				priv_db_refuse(db, chan, "mapping (%u,%u): a "
				    "UID is 0", l, r);
				return NULL;
			}
			if (db_mapping_add(db, (int64_t)idx, l, r) == -1) {
				priv_db_fail(db, chan, NULL);
				return NULL;
			}
			log_msg(LOG_LVL_AUDIT, "database", NULL, "DB map-add "
			    "idx=%llu local=%u remote=%u",
			    (unsigned long long)idx, l, r);
		}
		priv_db_result(chan, DB_RESULT_OK, count, NULL);
		return NULL;

	case IMSG_DB_MAP_DEL:
		idx = ipc_get_u64(&rd);
		side = ipc_get_u32(&rd);
		count = ipc_get_u32(&rd);
		if (rd.error || rd.left != (size_t)count * 4 ||
		    (side != SIDE_LOCAL && side != SIDE_REMOTE))
			return "bad layout";
		if (!priv_db_idx_known((int64_t)idx)) {
			priv_db_refuse(db, chan, "unknown mailbox index %llu",
			    (unsigned long long)idx);
			return NULL;
		}
		deleted = 0;
		for (i = 0; i < count; i++) {
			u32 = ipc_get_u32(&rd);
			rc = db_mapping_delete(db, (int64_t)idx, side ==
			    SIDE_LOCAL ? DB_LOCAL : DB_REMOTE, u32);
			if (rc == -1) {
				priv_db_fail(db, chan, NULL);
				return NULL;
			}
			deleted += (uint64_t)rc;
			log_msg(LOG_LVL_AUDIT, "database", NULL, "DB map-del "
			    "idx=%llu %s=%u rows=%d", (unsigned long long)idx,
			    side == SIDE_LOCAL ? "local" : "remote", u32, rc);
		}
		priv_db_result(chan, DB_RESULT_OK, deleted, NULL);
		return NULL;

	case IMSG_DB_FLAGS_SET:
		return priv_db_flags_set(db, chan, &rd);

	case IMSG_DB_DELETE:
		name = ipc_get_data(&rd, &len);
		if (ipc_rd_end(&rd) == -1 || name == NULL)
			return "bad layout";
		memset(&mb, 0, sizeof(mb));
		rc = db_mailbox_find(db, name, len, &mb);
		if (rc == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		v = 0;
		if (rc == 1) {
			if (db_mailbox_delete(db, mb.idx) == -1) {
				db_mailbox_clear(&mb);
				priv_db_fail(db, chan, NULL);
				return NULL;
			}
			priv_db_idx_del(mb.idx);
			log_msg(LOG_LVL_AUDIT, "database", NULL, "DB delete "
			    "idx=%lld", (long long)mb.idx);
			v = 1;
		}
		db_mailbox_clear(&mb);
		priv_db_result(chan, DB_RESULT_OK, v, NULL);
		return NULL;

	case IMSG_DB_RENAME:
		name = ipc_get_data(&rd, &len);
		name2 = ipc_get_data(&rd, &len2);
		if (ipc_rd_end(&rd) == -1 || name == NULL || name2 == NULL)
			return "bad layout";
		if (len == 0 || len2 == 0) {
			priv_db_refuse(db, chan, "empty mailbox name");
			return NULL;
		}
		if (db_mailbox_rename(db, name, len, name2, len2, &k) == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		log_msg(LOG_LVL_AUDIT, "database", NULL, "DB rename rows=%d",
		    k);
		priv_db_result(chan, DB_RESULT_OK, (uint64_t)k, NULL);
		return NULL;

	case IMSG_DB_COMMIT:
		if (ipc_rd_end(&rd) == -1)
			return "bad layout";
		if (priv_db_check_commit(db, chan) == -1)
			return NULL;
		hook_commit(0, priv_db_commits + 1);
		if (db_commit(db) == -1) {
			priv_db_fail(db, chan, NULL);
			return NULL;
		}
		priv_db_commits++;
		priv_db_nmoved = 0;
		log_msg(LOG_LVL_AUDIT, "database", NULL, "DB commit n=%lu",
		    priv_db_commits);
		hook_commit(1, priv_db_commits);
		priv_db_result(chan, DB_RESULT_OK, 0, NULL);
		return NULL;
	}
	return "not a database request";
}
