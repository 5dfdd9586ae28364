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
	r = ipc_send(&ec, type, SIDE_NONE, -1, buf);
	ipc_buf_free(buf);
	if (r == -1 || ipc_flush_sync(&ec) == -1 ||
	    ipc_get_sync(&pc, &msg) != 1) {
		printf("# request %s: %s\n", ipc_type_name(type), ec.err);
		return a;
	}
	why = priv_db_imsg(db, &pc, &msg);
	ipc_msg_free(&msg);
	if (why != NULL) {
		printf("# request %s: broken: %s\n", ipc_type_name(type), why);
		return a;
	}
	if (ipc_flush_sync(&pc) == -1)
		return a;
	while (ipc_get_sync(&ec, &msg) == 1) {
		if (msg.hdr.type != IMSG_DB_RESULT) {
			a.nrows++;
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
