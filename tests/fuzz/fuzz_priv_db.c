/*
 * libFuzzer target for priv's handler of the engine's database requests
 * (priv/priv_db.c, priv/db*.c), against a real SQLite file: the input is
 * a run's sequence of requests, each "u8 type, u16 length, payload"
 * (type modulo the 14 IMSG_DB_* requests).  The database starts with
 * two mailboxes, one with state and mapping rows, committed, and without
 * table flagstate (IMSG_DB_FLAGS_SET creates it).
 *
 * What must hold whatever the engine sends: no crash or leak, every
 * request answered (or called broken), and after the first failure
 * nothing reaches SQLite: what the file holds at the end is what the
 * last successful COMMIT left, and it satisfies the §5.3 invariants
 * that priv enforces: the seeded mailbox's UIDNEXTs and HIGHESTMODSEQs
 * did not go backwards, no mapping row lacks its mailbox's state, no
 * flagstate row outlives its mailbox, and a flagstate table, if any, is
 * the one priv creates.
 */
#include <limits.h>
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
#include "fuzz_common.h"
#include "fuzz_msg.h"

static const uint32_t types[] = {
	IMSG_DB_MIGRATE, IMSG_DB_LOAD, IMSG_DB_INTERRUPTED, IMSG_DB_MAP_LOAD,
	IMSG_DB_MAILBOX_ADD, IMSG_DB_SUBSCRIBE, IMSG_DB_STATE_INIT,
	IMSG_DB_STATE_SET, IMSG_DB_MAP_ADD, IMSG_DB_MAP_DEL, IMSG_DB_DELETE,
	IMSG_DB_RENAME, IMSG_DB_COMMIT,
	/* Last, so that the corpus's type bytes keep their meaning. */
	IMSG_DB_FLAGS_SET,
};
#define NTYPES	(sizeof(types) / sizeof(types[0]))

static char	path[PATH_MAX];

static void
seed(struct db *db)
{
	static const char *const sql =
	    "INSERT INTO mailboxes (idx, mailbox, subscribed) VALUES "
	    "(1, 'INBOX', 1), (2, CAST(x'610062' AS BLOB), 0);"
	    "INSERT INTO local (idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) "
	    "VALUES (1, 7, 10, 100);"
	    "INSERT INTO remote (idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) "
	    "VALUES (1, 8, 20, 200);"
	    "INSERT INTO mapping (idx, lUID, rUID) VALUES (1, 1, 11), "
	    "(1, 2, 12), (1, 5, 15);";

	/* No fsync: durability is not what is fuzzed, speed is wanted. */
	if (sqlite3_exec(db->h, "PRAGMA synchronous = OFF", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		abort();
}

/* One integer from the file. */
static long long
count(struct db *db, const char *q)
{
	sqlite3_stmt	*st;
	long long	 v = -1;

	if (sqlite3_prepare_v2(db->h, q, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t	 type;
	struct fin	 f = { data, size };
	struct ipc_chan	 chan;
	struct ipc_msg	 msg;
	struct db	*db;
	const uint8_t	*p;
	size_t		 len;
	struct db_state	 l, r;
	char		 err[512];
	int		 failed;

	log_set_sink(fuzz_sink);
	(void)unlink(path);
	if ((db = db_open(path, 1, err, sizeof(err))) == NULL) {
		fprintf(stderr, "db_open %s: %s\n", path, err);
		abort();
	}
	seed(db);
	priv_db_init();
	/* Answers queue up unsent: the channel has no socket. */
	memset(&chan, 0, sizeof(chan));
	chan.fd = -1;
	chan.self = PROC_PRIV;
	chan.peer = PROC_ENGINE;

	while (f.left > 0) {
		type = types[fin_u8(&f) % NTYPES];
		p = fin_bytes(&f, fin_u16(&f), &len);
		if (fuzz_msg(&msg, type, p, len) == -1)
			continue;	/* ipc_get() would refuse it */
		failed = priv_db_failed();
		if (priv_db_imsg(db, &chan, &msg) != NULL) {
			/* Broken: the engine is ended; nothing written. */
			ipc_msg_free(&msg);
			break;
		}
		ipc_msg_free(&msg);
		if (failed && db_in_transaction(db))
			abort();	/* fails closed */
		/* Drop the queued answers. */
		while (chan.wq_head != NULL) {
			ipc_chan_close(&chan);
			chan.fd = -1;
		}
	}
	if (priv_db_failed() && db_in_transaction(db))
		abort();
	db_close(db);

	/* What is durable obeys the invariants priv enforces. */
	if ((db = db_open(path, 0, err, sizeof(err))) == NULL)
		abort();
	/* (Through db.h: a MODSEQ above 2^63 is stored negative.) */
	if (db_state_get(db, 1, &l, &r) == 1 &&
	    (l.uidnext < 10 || l.highestmodseq < 100 ||
	    r.uidnext < 20 || r.highestmodseq < 200))
		abort();	/* went backwards */
	if (count(db, "SELECT count(*) FROM mapping WHERE idx NOT IN "
	    "(SELECT idx FROM local)") > 0)
		abort();	/* a mapping without state */
	/* (-1 when there is no table flagstate.) */
	if (count(db, "SELECT count(*) FROM flagstate WHERE idx NOT IN "
	    "(SELECT idx FROM mailboxes)") > 0)
		abort();	/* flags of a deleted mailbox */
	if (count(db, "SELECT count(*) FROM sqlite_master WHERE name = "
	    "'flagstate' AND sql != '" DB_FLAGSTATE_TABLE "'") != 0)
		abort();	/* not our table */
	db_close(db);
	ipc_chan_close(&chan);
	return 0;
}

int	LLVMFuzzerInitialize(int *, char ***);

static void
cleanup(void)
{
	(void)unlink(path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char	*tmp = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/interimap-fuzz-db.%ld.sqlite",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", (long)getpid());
	atexit(cleanup);
	return 0;
}
