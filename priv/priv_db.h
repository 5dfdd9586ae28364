/*
 * priv's side of the engine's database requests (ipc/db_proto.h): each
 * IMSG_DB_* from the engine is checked against the schema's invariants
 * and mapped to one typed operation of db.h; every request is answered,
 * in order, with IMSG_DB_RESULT (after any row messages).
 *
 * A request that breaks its layout is the engine's bug: the caller ends
 * the engine (priv_db_imsg() returns why).  A request that is well
 * formed but refused (unknown idx, a UID of 0, an SQLite error) is
 * answered with an error result, after priv has logged the reason with
 * the reference's component ("database: ERROR: ..."); the engine then
 * stops.
 *
 * The database side fails closed: at that first error the open
 * transaction is rolled back, and every later request of the run is
 * answered with an error without being executed (not even a read), so
 * that what the engine pipelined behind the failed request (a COMMIT,
 * the UIDNEXTs) never lands.  What was committed before stays.  The run
 * then ends with EXIT_DB whatever else happens (priv.c asks
 * priv_db_failed()).
 *
 * The crash-resume tests' hooks (the test build only, ipc/testhooks.h)
 * end priv as if killed right before or right after a commit.
 */
#ifndef PRIV_PRIV_DB_H
#define PRIV_PRIV_DB_H

struct db;
struct ipc_chan;
struct ipc_msg;

/* A run starts: no index known, no failure. */
void		 priv_db_init(void);
/* 1 once a request of this run failed or was refused. */
int		 priv_db_failed(void);
/* 1 if the message type is an engine database request. */
int		 priv_db_is_request(unsigned int);
/*
 * Serves one request from the engine, answering on chan.  Returns NULL,
 * or why the message is broken (the caller ends the engine).
 */
const char	*priv_db_imsg(struct db *, struct ipc_chan *,
		    const struct ipc_msg *);

#endif
