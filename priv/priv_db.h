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
 * stops and priv rolls back what was not committed.
 *
 * Test hooks (environment), for the crash-resume tests:
 *	INTERIMAP_TEST_KILL_AT=<n>	_exit(137) right after the n-th
 *					successful commit;
 *	INTERIMAP_TEST_KILL_BEFORE=<n>	_exit(137) instead of the n-th
 *					commit (nothing of it is durable).
 */
#ifndef PRIV_PRIV_DB_H
#define PRIV_PRIV_DB_H

struct db;
struct ipc_chan;
struct ipc_msg;

/* 1 if the message type is an engine database request. */
int		 priv_db_is_request(unsigned int);
/*
 * Serves one request from the engine, answering on chan.  Returns NULL,
 * or why the message is broken (the caller ends the engine).
 */
const char	*priv_db_imsg(struct db *, struct ipc_chan *,
		    const struct ipc_msg *);

#endif
