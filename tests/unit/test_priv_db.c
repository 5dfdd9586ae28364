/*
 * priv's handler of the engine's database requests (priv/priv_db.c), fed
 * IMSG_DB_* messages over a real IPC channel as the engine sends them,
 * against a real SQLite file.  What it must show: the database side
 * fails closed.  After one failed request (a constraint, a full disk, a
 * refused invariant) the open transaction is rolled back, the error is
 * logged once, and every request after it, as the engine pipelines them
 * (a COMMIT, the new UIDNEXTs and their COMMIT), is answered with an
 * error and never executed; what was committed before stays.
 */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ipc.h"
#include "log.h"
#include "db_proto.h"
#include "db.h"
#include "db_int.h"
#include "priv_db.h"
#include "tap.h"

static char	tmpdir[1024];
static char	logbuf[16384];

/* priv's end and the engine's end of one channel. */
static struct ipc_chan	pc, ec;

/* What one request got back. */
struct answer {
	uint32_t	status;		/* DB_RESULT_*; 99: none */
	uint64_t	value;
	char		err[256];
	int		nrows;		/* row messages before it */
};

static void
capture(int level, const char *name, const char *mailbox, const char *text)
{
	size_t	len = strlen(logbuf);

	snprintf(logbuf + len, sizeof(logbuf) - len, "%d|%s|%s\n", level,
	    name != NULL ? name : "", text);
}

/* How many logged lines hold s. */
static int
log_count(const char *s)
{
	const char	*p = logbuf;
	int		 n = 0;

	while ((p = strstr(p, s)) != NULL) {
		n++;
		p += strlen(s);
	}
	return n;
}

static const char *
tpath(const char *name)
{
	static char	buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
	return buf;
}

static int
chan_open(void)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("socketpair");
		return -1;
	}
	if (ipc_chan_init(&pc, sv[0], PROC_PRIV, PROC_ENGINE) == -1 ||
	    ipc_chan_init(&ec, sv[1], PROC_ENGINE, PROC_PRIV) == -1) {
		printf("# ipc_chan_init: %s %s\n", pc.err, ec.err);
		return -1;
	}
	return 0;
}

static void
chan_close(void)
{
	ipc_chan_close(&pc);
	ipc_chan_close(&ec);
}

/*
 * The next message arriving on to, writing meanwhile what from has
 * queued: both ends are ours, and what one end queues may not fit in the
 * socket before the other reads it (a large FLAGS_SET or the FLAG_ROWS
 * of a large mailbox).  1, or 0 on EOF or error.
 */
static int
pump(struct ipc_chan *from, struct ipc_chan *to, struct ipc_msg *msg)
{
	ssize_t	n;
	int	r;

	for (;;) {
		if ((r = ipc_get(to, msg)) != 0)
			return r == 1;
		if (ipc_pending(from) == 0)
			return ipc_get_sync(to, msg) == 1;
		if (ipc_flush(from) == -1)
			return 0;
		n = ipc_read(to);
		if (n == 0 || (n == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK))
			return 0;
	}
}

/* What the row messages before the last request's answer held. */
struct flagrow {
	uint32_t	 side, uid;
	char		*flags;
};
static struct {
	int		 nmap, nflag;	/* MAP_ROWS, FLAG_ROWS messages */
	size_t		 npairs;
	struct flagrow	*rows;		/* of every FLAG_ROWS, in order */
	size_t		 n, cap;
	size_t		 maxlen;	/* the longest FLAG_ROWS payload */
	int		 bad;		/* a row message broke a rule */
} got;

static void
got_reset(void)
{
	size_t	i;

	for (i = 0; i < got.n; i++)
		free(got.rows[i].flags);
	free(got.rows);
	memset(&got, 0, sizeof(got));
}

/*
 * A row message, checked as the engine would: its layout, MAP_ROWS
 * before FLAG_ROWS, local before remote.
 */
static void
got_take(const struct ipc_msg *msg)
{
	struct ipc_rd	 rd;
	uint32_t	 side, k, i;
	char		*flags;

	ipc_rd_init(&rd, msg);
	switch (msg->hdr.type) {
	case IMSG_DB_MAP_ROWS:
		(void)ipc_get_u64(&rd);
		k = ipc_get_u32(&rd);
		if (rd.error || rd.left != (size_t)k * 8 || got.nflag > 0)
			got.bad = 1;
		got.nmap++;
		got.npairs += k;
		break;
	case IMSG_DB_FLAG_ROWS:
		got.nflag++;
		if (msg->len > got.maxlen)
			got.maxlen = msg->len;
		(void)ipc_get_u64(&rd);
		side = ipc_get_u32(&rd);
		k = ipc_get_u32(&rd);
		if (rd.error || side > 1 || k == 0 ||
		    (got.n > 0 && side < got.rows[got.n - 1].side))
			got.bad = 1;
		for (i = 0; i < k && !rd.error; i++) {
			if (got.n == got.cap) {
				got.cap = got.cap ? got.cap * 2 : 64;
				got.rows = reallocarray(got.rows, got.cap,
				    sizeof(*got.rows));
				if (got.rows == NULL)
					abort();
			}
			got.rows[got.n].side = side;
			got.rows[got.n].uid = ipc_get_u32(&rd);
			if ((flags = ipc_get_str(&rd)) == NULL)
				break;
			got.rows[got.n++].flags = flags;
		}
		if (ipc_rd_end(&rd) == -1)
			got.bad = 1;
		break;
	}
}

/* The flags got for (side, uid), or NULL. */
static const char *
got_flags(uint32_t side, uint32_t uid)
{
	size_t	i;

	for (i = 0; i < got.n; i++)
		if (got.rows[i].side == side && got.rows[i].uid == uid)
			return got.rows[i].flags;
	return NULL;
}

/*
 * The engine sends one request (buf freed); priv serves it as its loop
 * would; the engine reads the answer.
 */
static struct answer
request(struct db *db, uint32_t type, struct ipc_buf *buf)
{
	struct answer	 a;
	struct ipc_msg	 msg;
	struct ipc_rd	 rd;
	const char	*why;
	char		*err;
	int		 r;

	memset(&a, 0, sizeof(a));
	a.status = 99;
	got_reset();
	r = ipc_send(&ec, type, SIDE_NONE, -1, buf);
	ipc_buf_free(buf);
	if (r == -1 || !pump(&ec, &pc, &msg)) {
		printf("# request %s: %s\n", ipc_type_name(type), ec.err);
		return a;
	}
	why = priv_db_imsg(db, &pc, &msg);
	ipc_msg_free(&msg);
	if (why != NULL) {
		printf("# request %s: broken: %s\n", ipc_type_name(type), why);
		return a;
	}
	while (pump(&pc, &ec, &msg)) {
		if (msg.hdr.type != IMSG_DB_RESULT) {
			a.nrows++;
			got_take(&msg);
			ipc_msg_free(&msg);
			continue;
		}
		ipc_rd_init(&rd, &msg);
		a.status = ipc_get_u32(&rd);
		a.value = ipc_get_u64(&rd);
		err = ipc_get_str(&rd);
		if (ipc_rd_end(&rd) == -1)
			a.status = 98;
		snprintf(a.err, sizeof(a.err), "%s", err != NULL ? err : "");
		free(err);
		ipc_msg_free(&msg);
		break;
	}
	return a;
}

/* --- the requests, as engine/dbc.c builds them ------------------------- */

static struct answer
rq_mailbox_add(struct db *db, const char *name)
{
	struct ipc_buf	buf;

	ipc_buf_init(&buf);
	ipc_put_data(&buf, name, strlen(name));
	ipc_put_u32(&buf, 1);
	return request(db, IMSG_DB_MAILBOX_ADD, &buf);
}

static struct answer
rq_state_init(struct db *db, uint64_t idx)
{
	struct ipc_buf	buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, idx);
	ipc_put_u32(&buf, 7);
	ipc_put_u32(&buf, 8);
	return request(db, IMSG_DB_STATE_INIT, &buf);
}

/* Both UIDNEXTs and HIGHESTMODSEQs, as at the end of a mailbox's sync. */
static struct answer
rq_state_set(struct db *db, uint64_t idx, uint32_t uidnext)
{
	struct ipc_buf	buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, idx);
	ipc_put_u32(&buf, DB_SET_UIDNEXT_LOCAL | DB_SET_MODSEQ_LOCAL |
	    DB_SET_UIDNEXT_REMOTE | DB_SET_MODSEQ_REMOTE);
	ipc_put_u32(&buf, uidnext);
	ipc_put_u64(&buf, 100);
	ipc_put_u32(&buf, uidnext);
	ipc_put_u64(&buf, 200);
	return request(db, IMSG_DB_STATE_SET, &buf);
}

/* n pairs (first + i, first + i), then the extra pairs given. */
static struct answer
rq_map_add(struct db *db, uint64_t idx, uint32_t first, uint32_t n,
    int nextra, ...)
{
	struct ipc_buf	buf;
	va_list		ap;
	uint32_t	i;
	int		k;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, idx);
	ipc_put_u32(&buf, n + (uint32_t)nextra);
	for (i = 0; i < n; i++) {
		ipc_put_u32(&buf, first + i);
		ipc_put_u32(&buf, first + i);
	}
	va_start(ap, nextra);
	for (k = 0; k < nextra; k++) {
		ipc_put_u32(&buf, va_arg(ap, uint32_t));
		ipc_put_u32(&buf, va_arg(ap, uint32_t));
	}
	va_end(ap);
	return request(db, IMSG_DB_MAP_ADD, &buf);
}

/* One side's fields of STATE_SET (which: DB_SET_*), the other zero. */
static struct answer
rq_state_set4(struct db *db, uint64_t idx, uint32_t which, uint32_t lnext,
    uint64_t lhms, uint32_t rnext, uint64_t rhms)
{
	struct ipc_buf	buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, idx);
	ipc_put_u32(&buf, which);
	ipc_put_u32(&buf, lnext);
	ipc_put_u64(&buf, lhms);
	ipc_put_u32(&buf, rnext);
	ipc_put_u64(&buf, rhms);
	return request(db, IMSG_DB_STATE_SET, &buf);
}

/* A raw message, as a broken engine could send it: priv's verdict. */
static const char *
rq_raw(struct db *db, uint32_t type, const void *p, size_t len)
{
	struct ipc_msg	 msg;
	const char	*why;

	memset(&msg, 0, sizeof(msg));
	msg.hdr.type = type;
	msg.fd = -1;
	msg.len = len;
	msg.data = len > 0 ? (unsigned char *)(uintptr_t)p : NULL;
	why = priv_db_imsg(db, &pc, &msg);
	/* Drain any answer. */
	(void)ipc_flush_sync(&pc);
	while (ipc_get(&ec, &msg) == 1 || (ipc_read(&ec) > 0 &&
	    ipc_get(&ec, &msg) == 1))
		ipc_msg_free(&msg);
	return why;
}

#define ALL_SET	(DB_SET_UIDNEXT_LOCAL | DB_SET_MODSEQ_LOCAL |	\
	DB_SET_UIDNEXT_REMOTE | DB_SET_MODSEQ_REMOTE)

static struct answer
rq_empty(struct db *db, uint32_t type)
{
	struct ipc_buf	buf;

	ipc_buf_init(&buf);
	return request(db, type, &buf);
}

static struct answer
rq_commit(struct db *db)
{
	return rq_empty(db, IMSG_DB_COMMIT);
}

static struct answer
rq_map_load(struct db *db, uint64_t idx, uint32_t sides)
{
	struct ipc_buf	buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, idx);
	ipc_put_u32(&buf, sides);
	return request(db, IMSG_DB_MAP_LOAD, &buf);
}

/* n rows of (u32 uid, const char *flags). */
static struct answer
rq_flags_set(struct db *db, uint64_t idx, uint32_t side, int n, ...)
{
	struct ipc_buf	buf;
	va_list		ap;
	int		k;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, idx);
	ipc_put_u32(&buf, side);
	ipc_put_u32(&buf, (uint32_t)n);
	va_start(ap, n);
	for (k = 0; k < n; k++) {
		ipc_put_u32(&buf, va_arg(ap, uint32_t));
		ipc_put_str(&buf, va_arg(ap, const char *));
	}
	va_end(ap);
	return request(db, IMSG_DB_FLAGS_SET, &buf);
}

/* n UIDs of side. */
static struct answer
rq_map_del(struct db *db, uint64_t idx, uint32_t side, int n, ...)
{
	struct ipc_buf	buf;
	va_list		ap;
	int		k;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, idx);
	ipc_put_u32(&buf, side);
	ipc_put_u32(&buf, (uint32_t)n);
	va_start(ap, n);
	for (k = 0; k < n; k++)
		ipc_put_u32(&buf, va_arg(ap, uint32_t));
	va_end(ap);
	return request(db, IMSG_DB_MAP_DEL, &buf);
}

static struct answer
rq_delete(struct db *db, const char *name)
{
	struct ipc_buf	buf;

	ipc_buf_init(&buf);
	ipc_put_data(&buf, name, strlen(name));
	return request(db, IMSG_DB_DELETE, &buf);
}

/* --- what the file holds, read by plain SQLite once priv has let go --- */

static long long
file_int(const char *path, const char *sql)
{
	sqlite3		*h;
	sqlite3_stmt	*st;
	long long	 v = -1;

	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(h);
		return -2;
	}
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

/* One integer through priv's own connection (it holds the lock). */
static long long
db_int(struct db *db, const char *sql)
{
	sqlite3_stmt	*st;
	long long	 v = -1;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}

#define IS_OK(a, what)	do {						\
	struct answer _r = (a);						\
	tap_ok(_r.status == DB_RESULT_OK, __FILE__, __LINE__,		\
	    "%s: answered OK (got %u \"%s\")", (what), _r.status,	\
	    _r.err);							\
} while (0)
#define IS_REFUSED(a, what)	do {					\
	struct answer _r = (a);						\
	tap_ok(_r.status == DB_RESULT_ERROR && _r.nrows == 0,		\
	    __FILE__, __LINE__, "%s: refused (got %u, %d rows, \"%s\")", \
	    (what), _r.status, _r.nrows, _r.err);			\
} while (0)

/* A new database file and a new run. */
static struct db *
run_open(const char *name)
{
	struct db	*db;
	char		 err[512];

	if ((db = db_open(tpath(name), 1, err, sizeof(err))) == NULL) {
		printf("# db_open %s: %s\n", name, err);
		return NULL;
	}
	priv_db_init();
	logbuf[0] = '\0';
	return db;
}

/*
 * A constraint fails half-way through a batch of mapping rows: SQLite
 * undoes the statement only and leaves the transaction open, with the
 * batch's first row in it.  The engine had already sent the COMMIT of
 * the batch, the new UIDNEXTs and their COMMIT.
 */
static void
test_constraint(void)
{
	struct db	*db;
	struct answer	 a;
	const char	*path;

	if ((db = run_open("constraint.db")) == NULL) {
		OK(0, "constraint: database opened");
		return;
	}
	path = tpath("constraint.db");
	a = rq_mailbox_add(db, "INBOX");
	IS_OK(a, "constraint: MAILBOX_ADD");
	IS_INT(a.value, 1, "constraint: idx");
	IS_OK(rq_commit(db), "constraint: COMMIT of the mailbox");
	IS_OK(rq_state_init(db, 1), "constraint: STATE_INIT");
	IS_OK(rq_map_add(db, 1, 1, 2, 0), "constraint: MAP_ADD 1:2");
	IS_OK(rq_commit(db), "constraint: COMMIT of the first batch");
	OK(!priv_db_failed(), "constraint: no failure yet");

	/* (3,3) goes in, (4,1) breaks UNIQUE (idx,rUID). */
	a = rq_map_add(db, 1, 3, 1, 1, (uint32_t)4, (uint32_t)1);
	IS_REFUSED(a, "constraint: MAP_ADD (3,3),(4,1)");
	OK(strstr(a.err, "UNIQUE constraint failed") != NULL,
	    "constraint: the answer says why (%s)", a.err);
	OK(priv_db_failed(), "constraint: the run's database has failed");
	OK(!db_in_transaction(db), "constraint: the transaction is rolled "
	    "back at once");

	IS_REFUSED(rq_commit(db), "constraint: the batch's COMMIT");
	IS_REFUSED(rq_state_set(db, 1, 5), "constraint: STATE_SET UIDNEXT 5");
	IS_REFUSED(rq_commit(db), "constraint: the state's COMMIT");
	IS_REFUSED(rq_map_add(db, 1, 10, 1, 0), "constraint: a later MAP_ADD");
	IS_REFUSED(rq_commit(db), "constraint: a later COMMIT");
	IS_REFUSED(rq_empty(db, IMSG_DB_LOAD), "constraint: even a LOAD");
	OK(!db_in_transaction(db), "constraint: nothing was executed");

	IS_INT(log_count("|database|ERROR: "), 1,
	    "constraint: one error logged");
	IS_INT(log_count("UNIQUE constraint failed"), 1,
	    "constraint: the error names SQLite's reason");
	db_close(db);

	IS_INT(file_int(path, "SELECT count(*) FROM mapping"), 2,
	    "constraint: the committed batch stays, nothing else");
	IS_INT(file_int(path, "SELECT count(*) FROM mapping WHERE lUID = 3"),
	    0, "constraint: the failed batch's first row is not there");
	IS_INT(file_int(path, "SELECT UIDNEXT FROM local WHERE idx = 1"), 0,
	    "constraint: local UIDNEXT not moved");
	IS_INT(file_int(path, "SELECT UIDNEXT FROM remote WHERE idx = 1"), 0,
	    "constraint: remote UIDNEXT not moved");
	IS_INT(file_int(path, "SELECT HIGHESTMODSEQ FROM local"), 0,
	    "constraint: HIGHESTMODSEQ not moved");
}

/*
 * The disk fills during the mapping rows of the last batch of a
 * mailbox; SQLite may end the transaction by itself.  The UIDNEXTs
 * that follow need no new page and would succeed on their own.
 */
static void
test_full(void)
{
	struct db	*db;
	struct answer	 a;
	const char	*path;
	char		 sql[64];
	long long	 pages;

	if ((db = run_open("full.db")) == NULL) {
		OK(0, "full: database opened");
		return;
	}
	path = tpath("full.db");
	IS_OK(rq_mailbox_add(db, "INBOX"), "full: MAILBOX_ADD");
	IS_OK(rq_commit(db), "full: COMMIT of the mailbox");
	IS_OK(rq_state_init(db, 1), "full: STATE_INIT");
	IS_OK(rq_map_add(db, 1, 1, 100, 0), "full: MAP_ADD 1:100");
	IS_OK(rq_commit(db), "full: COMMIT of the first batch");

	/* A disk with room for one more page. */
	pages = db_int(db, "PRAGMA page_count");
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
	    pages + 1);
	OK(pages > 0 && sqlite3_exec(db->h, sql, NULL, NULL, NULL) ==
	    SQLITE_OK, "full: the file may grow by one page (of %lld)", pages);

	a = rq_map_add(db, 1, 101, 5000, 0);
	IS_REFUSED(a, "full: MAP_ADD 101:5100");
	OK(strstr(a.err, "database or disk is full") != NULL,
	    "full: the answer says why (%s)", a.err);
	OK(!db_in_transaction(db), "full: no transaction left open");
	IS_REFUSED(rq_commit(db), "full: the batch's COMMIT");
	IS_REFUSED(rq_state_set(db, 1, 5101), "full: STATE_SET UIDNEXT 5101");
	IS_REFUSED(rq_commit(db), "full: the state's COMMIT");
	OK(!db_in_transaction(db), "full: nothing was executed");
	IS_INT(log_count("|database|ERROR: "), 1, "full: one error logged");
	IS_INT(log_count("database or disk is full"), 1,
	    "full: the error is SQLite's");
	db_close(db);

	IS_INT(file_int(path, "SELECT count(*) FROM mapping"), 100,
	    "full: the committed batch stays, nothing else");
	IS_INT(file_int(path, "SELECT UIDNEXT FROM local WHERE idx = 1"), 0,
	    "full: local UIDNEXT not moved");
	IS_INT(file_int(path, "SELECT UIDNEXT FROM remote WHERE idx = 1"), 0,
	    "full: remote UIDNEXT not moved");
}

/*
 * A request priv refuses for an invariant (an unknown index) ends the
 * run the same way: the uncommitted rows before it are undone.
 */
static void
test_refused(void)
{
	struct db	*db;
	const char	*path;

	if ((db = run_open("refused.db")) == NULL) {
		OK(0, "refused: database opened");
		return;
	}
	path = tpath("refused.db");
	IS_OK(rq_mailbox_add(db, "INBOX"), "refused: MAILBOX_ADD");
	IS_OK(rq_state_init(db, 1), "refused: STATE_INIT");
	IS_OK(rq_commit(db), "refused: COMMIT");
	IS_OK(rq_map_add(db, 1, 1, 3, 0), "refused: MAP_ADD 1:3");
	IS_REFUSED(rq_map_add(db, 99, 1, 1, 0), "refused: MAP_ADD for idx 99");
	IS_REFUSED(rq_commit(db), "refused: the COMMIT after it");
	IS_INT(log_count("|database|ERROR: refusing the engine's request: "
	    "unknown mailbox index 99"), 1, "refused: said once");
	IS_INT(log_count("|database|ERROR: "), 1, "refused: nothing else");
	db_close(db);
	IS_INT(file_int(path, "SELECT count(*) FROM mapping"), 0,
	    "refused: the uncommitted rows before it are undone");

	/* A new run starts clean. */
	if ((db = run_open("refused.db")) == NULL) {
		OK(0, "refused: database reopened");
		return;
	}
	OK(!priv_db_failed(), "refused: a new run has no failure");
	IS_OK(rq_empty(db, IMSG_DB_LOAD), "refused: LOAD in the new run");
	IS_OK(rq_map_add(db, 1, 1, 3, 0), "refused: MAP_ADD in the new run");
	IS_OK(rq_commit(db), "refused: COMMIT in the new run");
	db_close(db);
	IS_INT(file_int(path, "SELECT count(*) FROM mapping"), 3,
	    "refused: the new run's rows are there");
}

/*
 * A new database with mailbox "a/b" (idx 1) whose state is committed:
 * local UIDNEXT 10, HIGHESTMODSEQ 100; remote 20, 200; pairs 1:5.
 */
static struct db *
inv_open(const char *name)
{
	struct db	*db;
	struct answer	 a;

	if ((db = run_open(name)) == NULL)
		return NULL;
	a = rq_mailbox_add(db, "box");
	if (a.status != DB_RESULT_OK ||
	    rq_state_init(db, 1).status != DB_RESULT_OK ||
	    rq_map_add(db, 1, 1, 5, 0).status != DB_RESULT_OK ||
	    rq_commit(db).status != DB_RESULT_OK ||
	    rq_state_set4(db, 1, ALL_SET, 10, 100, 20, 200).status !=
	    DB_RESULT_OK || rq_commit(db).status != DB_RESULT_OK ||
	    priv_db_failed()) {
		printf("# inv_open %s: setup failed\n%s", name, logbuf);
		db_close(db);
		return NULL;
	}
	logbuf[0] = '\0';
	return db;
}

/* After a refusal: one error naming the invariant, nothing written. */
static void
inv_after(struct db *db, const char *path, const char *what,
    const char *invariant)
{
	OK(priv_db_failed(), "%s: the run's database has failed", what);
	OK(!db_in_transaction(db), "%s: rolled back", what);
	IS_REFUSED(rq_commit(db), what);
	IS_INT(log_count("|database|ERROR: refusing the engine's request: "),
	    1, what);
	OK(log_count(invariant) == 1, "%s: the error names the invariant "
	    "(%s): %s", what, invariant, logbuf);
	db_close(db);
	IS_INT(file_int(path, "SELECT UIDNEXT FROM local WHERE idx = 1"), 10,
	    what);
	IS_INT(file_int(path, "SELECT UIDNEXT FROM remote WHERE idx = 1"), 20,
	    what);
	IS_INT(file_int(path, "SELECT HIGHESTMODSEQ FROM local WHERE idx = 1"),
	    100, what);
	IS_INT(file_int(path, "SELECT HIGHESTMODSEQ FROM remote WHERE "
	    "idx = 1"), 200, what);
	IS_INT(file_int(path, "SELECT count(*) FROM mapping"), 5, what);
}

/* §5.3: out-of-order requests refused, legitimate orders accepted. */
static void
test_invariants(void)
{
	struct db	*db;
	const char	*path;
	static const struct {
		const char	*name;
		uint32_t	 which, lnext, rnext;
		uint64_t	 lhms, rhms;
		const char	*invariant;
	} back[] = {
		{ "local UIDNEXT back", DB_SET_UIDNEXT_LOCAL, 9, 0, 0, 0,
		    "local UIDNEXT 10 -> 9" },
		{ "remote UIDNEXT back", DB_SET_UIDNEXT_REMOTE, 0, 19, 0, 0,
		    "remote UIDNEXT 20 -> 19" },
		{ "local HIGHESTMODSEQ back", DB_SET_MODSEQ_LOCAL, 0, 0, 99,
		    0, "local HIGHESTMODSEQ 100 -> 99" },
		{ "remote HIGHESTMODSEQ back", DB_SET_MODSEQ_REMOTE, 0, 0, 0,
		    1, "remote HIGHESTMODSEQ 200 -> 1" },
		{ "all, one back", ALL_SET, 11, 0, 101, 201,
		    "remote UIDNEXT 20 -> 0" },
	};
	size_t		 i;
	char		 name[64];

	for (i = 0; i < sizeof(back) / sizeof(back[0]); i++) {
		snprintf(name, sizeof(name), "inv%zu.db", i);
		if ((db = inv_open(name)) == NULL) {
			OK(0, "%s: setup", back[i].name);
			continue;
		}
		path = tpath(name);
		/* An uncommitted row before it goes too. */
		IS_OK(rq_map_add(db, 1, 6, 1, 0), back[i].name);
		IS_REFUSED(rq_state_set4(db, 1, back[i].which, back[i].lnext,
		    back[i].lhms, back[i].rnext, back[i].rhms), back[i].name);
		inv_after(db, path, back[i].name, back[i].invariant);
		OK(log_count("mailbox box (index 1)") == 1,
		    "%s: the error names the mailbox", back[i].name);
	}

	/* Mapped UIDs lie below the UIDNEXT stored, checked at COMMIT. */
	if ((db = inv_open("map-above.db")) != NULL) {
		path = tpath("map-above.db");
		IS_OK(rq_state_set4(db, 1, ALL_SET, 10, 100, 20, 200),
		    "map above: UIDNEXT unchanged");
		IS_OK(rq_map_add(db, 1, 0, 0, 1, (uint32_t)9, (uint32_t)25),
		    "map above: MAP_ADD (9,25) after it, same transaction");
		IS_REFUSED(rq_commit(db), "map above: its COMMIT");
		inv_after(db, path, "map above", "remote UID 25 mapped, "
		    "remote UIDNEXT 20");
	} else
		OK(0, "map above: setup");
	if ((db = inv_open("map-above2.db")) != NULL) {
		path = tpath("map-above2.db");
		IS_OK(rq_map_add(db, 1, 0, 0, 1, (uint32_t)12, (uint32_t)19),
		    "map above 2: MAP_ADD (12,19)");
		IS_OK(rq_state_set4(db, 1, DB_SET_UIDNEXT_LOCAL, 12, 0, 0, 0),
		    "map above 2: local UIDNEXT 12");
		IS_REFUSED(rq_commit(db), "map above 2: its COMMIT");
		inv_after(db, path, "map above 2", "local UID 12 mapped, "
		    "local UIDNEXT 12");
	} else
		OK(0, "map above 2: setup");

	/* A mapping for a mailbox without state, or an unknown one. */
	if ((db = inv_open("nostate.db")) != NULL) {
		path = tpath("nostate.db");
		IS_OK(rq_mailbox_add(db, "new"), "no state: MAILBOX_ADD");
		IS_REFUSED(rq_map_add(db, 2, 1, 1, 0), "no state: MAP_ADD");
		inv_after(db, path, "no state", "no mapping for a mailbox "
		    "without state: mailbox new (index 2)");
		IS_INT(file_int(path, "SELECT count(*) FROM mailboxes"), 1,
		    "no state: the uncommitted mailbox is undone");
	} else
		OK(0, "no state: setup");
	if ((db = inv_open("nostate2.db")) != NULL) {
		path = tpath("nostate2.db");
		IS_OK(rq_mailbox_add(db, "new"), "no state 2: MAILBOX_ADD");
		IS_REFUSED(rq_state_set4(db, 2, ALL_SET, 1, 1, 1, 1),
		    "no state 2: STATE_SET");
		inv_after(db, path, "no state 2", "mailbox new (index 2) has "
		    "no state");
	} else
		OK(0, "no state 2: setup");
	if ((db = inv_open("unknown.db")) != NULL) {
		path = tpath("unknown.db");
		IS_REFUSED(rq_state_set4(db, 7, ALL_SET, 30, 300, 30, 300),
		    "unknown: STATE_SET idx 7");
		inv_after(db, path, "unknown", "unknown mailbox index 7");
	} else
		OK(0, "unknown: setup");

	/* Malformed requests: broken, nothing done, no answer needed. */
	if ((db = inv_open("malformed.db")) != NULL) {
		unsigned char	junk[64];
		uint32_t	types[] = { IMSG_DB_STATE_SET, IMSG_DB_MAP_ADD,
				    IMSG_DB_MAP_DEL, IMSG_DB_STATE_INIT,
				    IMSG_DB_MAILBOX_ADD, IMSG_DB_SUBSCRIBE,
				    IMSG_DB_MIGRATE, IMSG_DB_RENAME,
				    IMSG_DB_COMMIT, IMSG_DB_MAP_LOAD,
				    IMSG_DB_FLAGS_SET };
		size_t		k;

		path = tpath("malformed.db");
		memset(junk, 0xff, sizeof(junk));
		for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
			OK(rq_raw(db, types[k], junk, 3) != NULL,
			    "malformed: short %s is broken",
			    ipc_type_name(types[k]));
		/* STATE_SET with which 0, and with an unknown bit. */
		memset(junk, 0, sizeof(junk));
		junk[0] = 1;
		OK(rq_raw(db, IMSG_DB_STATE_SET, junk, 36) != NULL,
		    "malformed: STATE_SET which 0 is broken");
		junk[8] = 0x10;
		OK(rq_raw(db, IMSG_DB_STATE_SET, junk, 36) != NULL,
		    "malformed: STATE_SET which 0x10 is broken");
		/* MAP_ADD claiming more pairs than it holds. */
		junk[8] = 3;
		OK(rq_raw(db, IMSG_DB_MAP_ADD, junk, 12 + 16) != NULL,
		    "malformed: MAP_ADD 3 pairs in 16 bytes is broken");
		OK(!db_in_transaction(db), "malformed: nothing written");
		db_close(db);
		IS_INT(file_int(path, "SELECT UIDNEXT FROM local WHERE "
		    "idx = 1"), 10, "malformed: state unchanged");
		IS_INT(file_int(path, "SELECT count(*) FROM mapping"), 5,
		    "malformed: mapping unchanged");
	} else
		OK(0, "malformed: setup");

	/* Legitimate orders (§5.4) pass. */
	if ((db = inv_open("legit.db")) != NULL) {
		path = tpath("legit.db");
		/* An APPEND batch beyond UIDNEXT, committed first. */
		IS_OK(rq_map_add(db, 1, 10, 3, 0), "legit: batch 10:12");
		IS_OK(rq_commit(db), "legit: its COMMIT (rows beyond UIDNEXT)");
		/* The known-messages pass: HIGHESTMODSEQs only. */
		IS_OK(rq_state_set4(db, 1, DB_SET_MODSEQ_LOCAL |
		    DB_SET_MODSEQ_REMOTE, 0, 150, 0, 250), "legit: modseqs");
		IS_OK(rq_commit(db), "legit: COMMIT");
		/* The end of the sync: UIDNEXT past the batch. */
		IS_OK(rq_state_set4(db, 1, ALL_SET, 13, 150, 23, 250),
		    "legit: UIDNEXTs past the batch");
		IS_OK(rq_commit(db), "legit: COMMIT");
		/* Unchanged values are not backwards. */
		IS_OK(rq_state_set4(db, 1, ALL_SET, 13, 150, 23, 250),
		    "legit: same values again");
		IS_OK(rq_commit(db), "legit: COMMIT");
		/* A new mailbox in the same transaction as its first rows. */
		IS_OK(rq_mailbox_add(db, "new"), "legit: MAILBOX_ADD");
		IS_OK(rq_state_init(db, 2), "legit: STATE_INIT");
		IS_OK(rq_map_add(db, 2, 1, 2, 0), "legit: MAP_ADD 1:2");
		IS_OK(rq_state_set4(db, 2, ALL_SET, 3, 5, 3, 5),
		    "legit: its UIDNEXTs");
		IS_OK(rq_commit(db), "legit: COMMIT");
		OK(!priv_db_failed(), "legit: no failure");
		IS_INT(log_count("ERROR"), 0, "legit: no error logged");
		db_close(db);
		IS_INT(file_int(path, "SELECT UIDNEXT FROM remote WHERE "
		    "idx = 1"), 23, "legit: remote UIDNEXT stored");
		IS_INT(file_int(path, "SELECT count(*) FROM mapping"), 10,
		    "legit: every row stored");
	} else
		OK(0, "legit: setup");
}

/* --- table flagstate (sync-method plain) --------------------------------- */

#define HAS_FLAGSTATE							\
	"SELECT count(*) FROM sqlite_master WHERE name = 'flagstate'"

/*
 * Never created by a run that does not store flags; created by the
 * first FLAGS_SET, its rows come back after the pairs for the sides
 * asked, and go with their pair and their mailbox.
 */
static void
test_flagstate(void)
{
	struct db	*db;
	struct answer	 a;
	const char	*path, *f;

	if ((db = run_open("flags.db")) == NULL) {
		OK(0, "flags: database opened");
		return;
	}
	path = tpath("flags.db");
	IS_OK(rq_mailbox_add(db, "box"), "flags: MAILBOX_ADD");
	IS_OK(rq_state_init(db, 1), "flags: STATE_INIT");
	IS_OK(rq_map_add(db, 1, 0, 0, 4, (uint32_t)1, (uint32_t)11,
	    (uint32_t)2, (uint32_t)12, (uint32_t)3, (uint32_t)13, (uint32_t)4,
	    (uint32_t)14), "flags: MAP_ADD (1..4, 11..14)");
	IS_OK(rq_commit(db), "flags: COMMIT");
	IS_OK(rq_empty(db, IMSG_DB_LOAD), "flags: LOAD");
	IS_OK(rq_empty(db, IMSG_DB_INTERRUPTED), "flags: INTERRUPTED");
	a = rq_map_load(db, 1, DB_FLAGS_LOCAL | DB_FLAGS_REMOTE);
	IS_OK(a, "flags: MAP_LOAD sides 3 without the table");
	IS_INT(a.value, 4, "flags: four pairs");
	OK(got.nmap == 1 && got.npairs == 4 && got.nflag == 0 && !got.bad,
	    "flags: one MAP_ROWS, no FLAG_ROWS (%d, %zu, %d)", got.nmap,
	    got.npairs, got.nflag);
	IS_OK(rq_commit(db), "flags: COMMIT");
	IS_INT(db_int(db, HAS_FLAGSTATE), 0,
	    "flags: loading, adding, mapping create no table");

	/* The first FLAGS_SET creates it, in the transaction it opens. */
	log_set_audit(1);
	a = rq_flags_set(db, 1, SIDE_LOCAL, 3, (uint32_t)1, "\\Seen",
	    (uint32_t)2, "\\Seen \\Flagged", (uint32_t)3, "");
	log_set_audit(0);
	IS_OK(a, "flags: FLAGS_SET local 1:3");
	IS_INT(a.value, 3, "flags: three rows set");
	IS_INT(log_count("|database|DB flags-set idx=1 local uid=2 "
	    "flags=(\\Seen \\Flagged)"), 1, "flags: audited");
	IS_INT(db_int(db, HAS_FLAGSTATE), 1, "flags: the table exists");
	OK(db_in_transaction(db), "flags: not yet committed");
	IS_OK(rq_flags_set(db, 1, SIDE_REMOTE, 3, (uint32_t)11, "$r11",
	    (uint32_t)12, "$r12", (uint32_t)13, "$r13"),
	    "flags: FLAGS_SET remote 11:13");
	IS_OK(rq_commit(db), "flags: COMMIT");

	a = rq_map_load(db, 1, 0);
	IS_OK(a, "flags: MAP_LOAD sides 0");
	OK(got.nmap == 1 && got.nflag == 0, "flags: the pairs only");
	a = rq_map_load(db, 1, DB_FLAGS_LOCAL);
	IS_OK(a, "flags: MAP_LOAD sides 1");
	OK(got.nflag == 1 && got.n == 3 && got.rows[0].side == 0 &&
	    got.rows[2].side == 0 && !got.bad, "flags: the local rows (%zu)",
	    got.n);
	f = got_flags(0, 2);
	IS_STR(f, "\\Seen \\Flagged", "flags: local 2");
	f = got_flags(0, 3);
	IS_STR(f, "", "flags: local 3, no flags");
	a = rq_map_load(db, 1, DB_FLAGS_REMOTE);
	IS_OK(a, "flags: MAP_LOAD sides 2");
	OK(got.n == 3 && got.rows[0].side == 1 && got.rows[0].uid == 11,
	    "flags: the remote rows");
	a = rq_map_load(db, 1, DB_FLAGS_LOCAL | DB_FLAGS_REMOTE);
	IS_OK(a, "flags: MAP_LOAD sides 3");
	IS_INT(a.value, 4, "flags: RESULT counts the pairs");
	OK(got.nmap == 1 && got.npairs == 4 && got.nflag == 2 &&
	    got.n == 6 && !got.bad, "flags: pairs, then both sides");
	OK(got.n == 6 && got.rows[0].uid == 1 && got.rows[1].uid == 2 &&
	    got.rows[2].uid == 3 && got.rows[3].uid == 11 &&
	    got.rows[3].side == 1 && got.rows[5].uid == 13,
	    "flags: local then remote, by UID");

	/* Replaced, not added. */
	IS_OK(rq_flags_set(db, 1, SIDE_LOCAL, 1, (uint32_t)2, "\\Deleted"),
	    "flags: FLAGS_SET local 2 again");
	IS_OK(rq_map_load(db, 1, 3), "flags: MAP_LOAD");
	IS_INT(got.n, 6, "flags: still six rows");
	f = got_flags(0, 2);
	IS_STR(f, "\\Deleted", "flags: local 2 replaced");

	/* A deleted pair takes both its UIDs' flags. */
	a = rq_map_del(db, 1, SIDE_LOCAL, 1, (uint32_t)2);
	IS_OK(a, "flags: MAP_DEL lUID 2");
	IS_INT(a.value, 1, "flags: one pair deleted");
	IS_OK(rq_map_load(db, 1, 3), "flags: MAP_LOAD");
	OK(got.n == 4 && got_flags(0, 2) == NULL && got_flags(1, 12) == NULL &&
	    got_flags(0, 1) != NULL && got_flags(1, 11) != NULL,
	    "flags: local 2 and remote 12 gone, the others kept");
	a = rq_map_del(db, 1, SIDE_REMOTE, 1, (uint32_t)13);
	IS_OK(a, "flags: MAP_DEL rUID 13");
	IS_INT(a.value, 1, "flags: one pair deleted");
	IS_OK(rq_map_load(db, 1, 3), "flags: MAP_LOAD");
	OK(got.npairs == 2 && got.n == 2 && got_flags(0, 3) == NULL &&
	    got_flags(1, 13) == NULL && got_flags(0, 1) != NULL &&
	    got_flags(1, 11) != NULL,
	    "flags: local 3 and remote 13 gone, the others kept");
	IS_OK(rq_commit(db), "flags: COMMIT");

	/* --delete takes its mailbox's rows and no other's. */
	a = rq_mailbox_add(db, "other");
	IS_OK(a, "flags: MAILBOX_ADD other");
	IS_INT(a.value, 2, "flags: idx 2");
	IS_OK(rq_flags_set(db, 2, SIDE_LOCAL, 1, (uint32_t)1, "$o"),
	    "flags: FLAGS_SET for other");
	IS_OK(rq_commit(db), "flags: COMMIT");
	a = rq_delete(db, "box");
	IS_OK(a, "flags: DELETE box");
	IS_INT(a.value, 1, "flags: box removed");
	IS_OK(rq_commit(db), "flags: COMMIT");
	IS_INT(db_int(db, "SELECT count(*) FROM flagstate WHERE idx = 1"), 0,
	    "flags: box's rows gone");
	IS_OK(rq_map_load(db, 2, 3), "flags: MAP_LOAD other");
	OK(got.n == 1 && got.rows[0].uid == 1 &&
	    strcmp(got.rows[0].flags, "$o") == 0, "flags: other's row kept");
	/* The deleted mailbox's index is no longer one to name. */
	IS_REFUSED(rq_flags_set(db, 1, SIDE_LOCAL, 1, (uint32_t)1, "x"),
	    "flags: FLAGS_SET for the deleted idx 1");
	OK(log_count("unknown mailbox index 1") == 1,
	    "flags: refused as unknown");
	IS_INT(log_count("ERROR"), 1, "flags: no other error");
	db_close(db);
	IS_INT(file_int(path, "SELECT count(*) FROM flagstate"), 1,
	    "flags: the file holds other's row");
	IS_INT(file_int(path, "SELECT count(*) FROM mapping"), 0,
	    "flags: and no pair");
}

/* A raw FLAGS_SET: idx 1, side, then n rows of uid and flags (len). */
static const char *
raw_flags_set(struct db *db, uint32_t side, uint32_t n, uint32_t uid,
    const char *flags, size_t len, int extra)
{
	struct ipc_buf	 buf;
	const char	*why;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, 1);
	ipc_put_u32(&buf, side);
	ipc_put_u32(&buf, n);
	ipc_put_u32(&buf, 5);
	ipc_put_str(&buf, "\\Seen");
	ipc_put_u32(&buf, uid);
	ipc_put_data(&buf, flags, len);
	if (extra)
		ipc_put_u32(&buf, 0);
	why = rq_raw(db, IMSG_DB_FLAGS_SET, buf.data, buf.len);
	ipc_buf_free(&buf);
	return why;
}

/* Broken MAP_LOAD and FLAGS_SET: the engine ends, nothing written. */
static void
test_flags_malformed(void)
{
	struct db	*db;
	struct answer	 a;
	unsigned char	 m[16];
	char		*big;
	uint32_t	 v;

	if ((db = run_open("flagsbad.db")) == NULL) {
		OK(0, "flags malformed: database opened");
		return;
	}
	IS_OK(rq_mailbox_add(db, "box"), "flags malformed: MAILBOX_ADD");
	IS_OK(rq_commit(db), "flags malformed: COMMIT");

	memset(m, 0, sizeof(m));
	m[0] = 1;
	OK(rq_raw(db, IMSG_DB_MAP_LOAD, m, 8) != NULL,
	    "flags malformed: MAP_LOAD without sides (8 bytes)");
	OK(rq_raw(db, IMSG_DB_MAP_LOAD, m, 16) != NULL,
	    "flags malformed: MAP_LOAD with 16 bytes");
	v = 4;
	memcpy(m + 8, &v, 4);
	OK(rq_raw(db, IMSG_DB_MAP_LOAD, m, 12) != NULL,
	    "flags malformed: MAP_LOAD sides 4");
	v = 0x80000003U;
	memcpy(m + 8, &v, 4);
	OK(rq_raw(db, IMSG_DB_MAP_LOAD, m, 12) != NULL,
	    "flags malformed: MAP_LOAD sides 0x80000003");

	OK(raw_flags_set(db, 2, 2, 6, "x", 1, 0) != NULL,
	    "flags malformed: FLAGS_SET side 2");
	OK(raw_flags_set(db, SIDE_NONE, 2, 6, "x", 1, 0) != NULL,
	    "flags malformed: FLAGS_SET side SIDE_NONE");
	OK(raw_flags_set(db, SIDE_LOCAL, 2, 0, "x", 1, 0) != NULL,
	    "flags malformed: FLAGS_SET UID 0 (after a good row)");
	OK(raw_flags_set(db, SIDE_LOCAL, 2, 6, "x", 1, 1) != NULL,
	    "flags malformed: FLAGS_SET with trailing bytes");
	OK(raw_flags_set(db, SIDE_LOCAL, 3, 6, "x", 1, 0) != NULL,
	    "flags malformed: FLAGS_SET 3 rows in 2");
	OK(raw_flags_set(db, SIDE_LOCAL, 1, 6, "x", 1, 0) != NULL,
	    "flags malformed: FLAGS_SET 1 row in 2");
	OK(raw_flags_set(db, SIDE_LOCAL, 0xffffffffU, 6, "x", 1, 0) != NULL,
	    "flags malformed: FLAGS_SET 2^32-1 rows");
	OK(raw_flags_set(db, SIDE_LOCAL, 2, 6, "\\Seen\r\n* 1 EXISTS", 17,
	    0) != NULL, "flags malformed: FLAGS_SET with CR LF");
	OK(raw_flags_set(db, SIDE_LOCAL, 2, 6, "a\0b", 3, 0) != NULL,
	    "flags malformed: FLAGS_SET with NUL");
	OK(raw_flags_set(db, SIDE_LOCAL, 2, 6, "a\177", 2, 0) != NULL,
	    "flags malformed: FLAGS_SET with DEL");
	OK(raw_flags_set(db, SIDE_LOCAL, 2, 6, NULL, 0, 0) != NULL,
	    "flags malformed: FLAGS_SET with NULL flags");
	if ((big = malloc(DB_FLAGS_MAX + 1)) == NULL)
		abort();
	memset(big, 'k', DB_FLAGS_MAX + 1);
	OK(raw_flags_set(db, SIDE_LOCAL, 2, 6, big, DB_FLAGS_MAX + 1, 0) !=
	    NULL, "flags malformed: FLAGS_SET with 64 KiB of flags");
	OK(!priv_db_failed() && !db_in_transaction(db) &&
	    db_int(db, HAS_FLAGSTATE) == 0,
	    "flags malformed: nothing written, no table created");

	/* The longest flags are fine, and a later failure undoes them. */
	OK(raw_flags_set(db, SIDE_LOCAL, 2, 6, big, DB_FLAGS_MAX, 0) == NULL,
	    "flags malformed: FLAGS_SET with DB_FLAGS_MAX bytes");
	free(big);
	OK(db_in_transaction(db) && db_int(db, HAS_FLAGSTATE) == 1 &&
	    db_int(db, "SELECT count(*) FROM flagstate") == 2,
	    "flags malformed: both rows set, the table created");
	a = rq_map_load(db, 7, 3);
	IS_REFUSED(a, "flags malformed: MAP_LOAD of an unknown idx");
	OK(!db_in_transaction(db) && db_int(db, HAS_FLAGSTATE) == 0,
	    "flags malformed: the table went with the rollback");
	IS_INT(db_flagstate_exists(db), 0,
	    "flags malformed: and the database layer knows it");
	db_close(db);
}

/*
 * Many rows, and long ones: several FLAG_ROWS, each well below the IPC
 * bound, together complete and in order.
 */
static void
test_flags_big(void)
{
	struct ipc_buf	 buf;
	struct db	*db;
	struct answer	 a;
	char		 fl[64], *big;
	uint32_t	 u, first;
	size_t		 i;
	int		 ok, k;

	if ((db = run_open("flagsbig.db")) == NULL) {
		OK(0, "flags big: database opened");
		return;
	}
	IS_OK(rq_mailbox_add(db, "box"), "flags big: MAILBOX_ADD");
	/* 50000 local rows, 2000 per FLAGS_SET. */
	for (ok = 1, first = 1; first <= 50000; first += 2000) {
		ipc_buf_init(&buf);
		ipc_put_u64(&buf, 1);
		ipc_put_u32(&buf, SIDE_LOCAL);
		ipc_put_u32(&buf, 2000);
		for (u = first; u < first + 2000; u++) {
			snprintf(fl, sizeof(fl), "\\Seen $Label%u", u);
			ipc_put_u32(&buf, u);
			ipc_put_str(&buf, fl);
		}
		a = request(db, IMSG_DB_FLAGS_SET, &buf);
		ok &= a.status == DB_RESULT_OK && a.value == 2000;
	}
	OK(ok, "flags big: 50000 local rows set");
	/* Three remote rows of the longest flags, one per message. */
	if ((big = malloc(DB_FLAGS_MAX + 1)) == NULL)
		abort();
	for (ok = 1, k = 0; k < 3; k++) {
		memset(big, 'a' + k, DB_FLAGS_MAX);
		big[DB_FLAGS_MAX] = '\0';
		a = rq_flags_set(db, 1, SIDE_REMOTE, 1, (uint32_t)(100 + k),
		    big);
		ok &= a.status == DB_RESULT_OK;
	}
	OK(ok, "flags big: 3 remote rows of %d bytes set", DB_FLAGS_MAX);
	IS_OK(rq_commit(db), "flags big: COMMIT");

	a = rq_map_load(db, 1, DB_FLAGS_LOCAL | DB_FLAGS_REMOTE);
	IS_OK(a, "flags big: MAP_LOAD sides 3");
	OK(!got.bad, "flags big: every message well formed, in order");
	IS_INT(got.n, 50003, "flags big: every row");
	OK(got.nflag >= 4, "flags big: in %d FLAG_ROWS", got.nflag);
	OK(got.maxlen <= IPC_MAX_PAYLOAD / 2,
	    "flags big: the largest is %zu bytes", got.maxlen);
	for (ok = got.n == 50003, i = 0; ok && i < 50000; i++) {
		snprintf(fl, sizeof(fl), "\\Seen $Label%zu", i + 1);
		ok = got.rows[i].side == 0 && got.rows[i].uid == i + 1 &&
		    strcmp(got.rows[i].flags, fl) == 0;
	}
	OK(ok, "flags big: the local rows, by UID (wrong at %zu)", i);
	for (ok = got.n == 50003, k = 0; ok && k < 3; k++) {
		memset(big, 'a' + k, DB_FLAGS_MAX);
		ok = got.rows[50000 + k].side == 1 &&
		    got.rows[50000 + k].uid == (uint32_t)(100 + k) &&
		    strcmp(got.rows[50000 + k].flags, big) == 0;
	}
	OK(ok, "flags big: the long remote rows, whole");
	free(big);
	OK(!priv_db_failed(), "flags big: no failure");
	db_close(db);
	got_reset();
}

int
main(void)
{
	char	cmd[PATH_MAX + 16];

	log_set_sink(capture);
	snprintf(tmpdir, sizeof(tmpdir), "%s/interimap-test-priv-db.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	if (chan_open() == -1)
		return 1;

	test_constraint();
	test_full();
	test_refused();
	test_invariants();
	test_flagstate();
	test_flags_malformed();
	test_flags_big();

	chan_close();
	if (tap_failed == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmpdir);
	} else {
		printf("# files kept in %s\n", tmpdir);
		printf("# log:\n%s", logbuf);
	}
	return tap_done();
}
