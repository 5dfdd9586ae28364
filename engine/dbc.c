/*
 * The database client: typed requests to priv (ipc/db_proto.h).  priv
 * answers every request, in order, with IMSG_DB_RESULT, after any rows.
 * A request priv refuses ends the run: priv has said why (it logs the
 * error with the right component), the engine leaves with EXIT_DB and
 * priv rolls back what was not committed.
 *
 * Writes nobody waits for are posted: the commits that follow each
 * APPEND batch cost the sync no round trip.  priv executes requests in
 * order, so the commit points stay exactly where the jobs put them; a
 * job posts each group of writes that belong together (the mapping rows
 * of a batch and their commit, the new UIDNEXT and its commit) in one
 * step, so no other job's commit can fall between them.
 */
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

struct dbreq {
	struct dbreq	*next;
	uint32_t	 type;
	struct task	*t;
	dbc_row_cb	*row;
	dbc_done_cb	*done;
	void		*arg;
};

static void	 dbc_map_rows(struct eng *, struct ipc_msg *, void *);
static void	 dbc_broken(struct eng *, struct ipc_msg *, const char *);

static void
dbc_broken(struct eng *e, struct ipc_msg *msg, const char *why)
{
	log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message (%s): %s",
	    ipc_type_name(msg->hdr.type), why);
	eng_exit(e, EXIT_CHILD);
}

void
dbc_send(struct eng *e, struct task *t, uint32_t type, struct ipc_buf *buf,
    dbc_row_cb *row, dbc_done_cb *done, void *arg)
{
	struct dbreq *r;

	r = eng_calloc(1, sizeof(*r));
	r->type = type;
	r->t = t;
	r->row = row;
	r->done = done;
	r->arg = arg;
	if (ipc_send(e->parent, type, SIDE_NONE, -1, buf) == -1)
		fatalx(EXIT_CHILD, "engine: %s", e->parent->err);
	if (e->dbtail != NULL)
		e->dbtail->next = r;
	else
		e->dbhead = r;
	e->dbtail = r;
	e->dbinflight++;
	if (t != NULL)
		task_hold(t);
}

void
dbc_dispatch(struct eng *e, struct ipc_msg *msg)
{
	struct dbreq *r = e->dbhead;
	struct task *t;
	uint32_t status;
	uint64_t value;
	char *err;

	if (r == NULL)
		dbc_broken(e, msg, "answer to no database request");
	if (msg->hdr.type != IMSG_DB_RESULT) {
		if (r->row == NULL)
			dbc_broken(e, msg, "rows for a request without any");
		r->row(e, msg, r->arg);
		return;
	}
	if (ans_db_result(msg, &status, &value, &err) == -1)
		dbc_broken(e, msg, "bad layout");
	if (status != DB_RESULT_OK) {
		/* priv logged the reason; nothing more may be written. */
		log_msg(LOG_LVL_DEBUG, "engine", NULL, "%s refused: %s",
		    ipc_type_name(r->type), err ? err : "");
		free(err);
		jobs_flush_logs(e);
		eng_exit(e, EXIT_DB);
	}
	free(err);
	e->dbhead = r->next;
	if (e->dbhead == NULL)
		e->dbtail = NULL;
	e->dbinflight--;
	t = r->t;
	if (r->done != NULL)
		r->done(e, value, r->arg);
	free(r);
	if (t != NULL)
		task_release(t);
	if (e->dbhead == NULL)
		run_wake(e);
}

static void
dbc_post(struct eng *e, uint32_t type, struct ipc_buf *buf)
{
	dbc_send(e, NULL, type, buf, NULL, NULL, NULL);
}

void
dbc_migrate(struct eng *e, struct task *t)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, (uint32_t)e->peer[SIDE_LOCAL].delim);
	ipc_put_u32(&buf, (uint32_t)e->peer[SIDE_REMOTE].delim);
	dbc_send(e, t, IMSG_DB_MIGRATE, &buf, NULL, NULL, NULL);
	ipc_buf_free(&buf);
}

void
dbc_commit(struct eng *e)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	dbc_post(e, IMSG_DB_COMMIT, &buf);
	ipc_buf_free(&buf);
}

void
dbc_subscribe(struct eng *e, int64_t idx, int subscribed)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, (uint64_t)idx);
	ipc_put_u32(&buf, subscribed ? 1 : 0);
	dbc_post(e, IMSG_DB_SUBSCRIBE, &buf);
	ipc_buf_free(&buf);
}

void
dbc_state_init(struct eng *e, int64_t idx, uint32_t luv, uint32_t ruv)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, (uint64_t)idx);
	ipc_put_u32(&buf, luv);
	ipc_put_u32(&buf, ruv);
	dbc_post(e, IMSG_DB_STATE_INIT, &buf);
	ipc_buf_free(&buf);
}

void
dbc_state_set(struct eng *e, int64_t idx, uint32_t which, uint32_t luidnext,
    uint64_t lhms, uint32_t ruidnext, uint64_t rhms)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, (uint64_t)idx);
	ipc_put_u32(&buf, which);
	ipc_put_u32(&buf, luidnext);
	ipc_put_u64(&buf, lhms);
	ipc_put_u32(&buf, ruidnext);
	ipc_put_u64(&buf, rhms);
	dbc_post(e, IMSG_DB_STATE_SET, &buf);
	ipc_buf_free(&buf);
}

/* Rows go in messages of at most this many pairs (IPC payload bound). */
#define DBC_PAIRS_PER_MSG	16384

void
dbc_map_add(struct eng *e, int64_t idx, const uint32_t *luids,
    const uint32_t *ruids, size_t n)
{
	struct ipc_buf buf;
	size_t i, j, k;

	for (i = 0; i < n; i += k) {
		k = n - i > DBC_PAIRS_PER_MSG ? DBC_PAIRS_PER_MSG : n - i;
		ipc_buf_init(&buf);
		ipc_put_u64(&buf, (uint64_t)idx);
		ipc_put_u32(&buf, (uint32_t)k);
		for (j = 0; j < k; j++) {
			ipc_put_u32(&buf, luids[i + j]);
			ipc_put_u32(&buf, ruids[i + j]);
		}
		dbc_post(e, IMSG_DB_MAP_ADD, &buf);
		ipc_buf_free(&buf);
	}
}

void
dbc_map_del(struct eng *e, int64_t idx, uint32_t side, const uint32_t *uids,
    size_t n)
{
	struct ipc_buf buf;
	size_t i, j, k;

	for (i = 0; i < n; i += k) {
		k = n - i > 2 * DBC_PAIRS_PER_MSG ? 2 * DBC_PAIRS_PER_MSG :
		    n - i;
		ipc_buf_init(&buf);
		ipc_put_u64(&buf, (uint64_t)idx);
		ipc_put_u32(&buf, side);
		ipc_put_u32(&buf, (uint32_t)k);
		for (j = 0; j < k; j++)
			ipc_put_u32(&buf, uids[i + j]);
		dbc_post(e, IMSG_DB_MAP_DEL, &buf);
		ipc_buf_free(&buf);
	}
}

/*
 * IMSG_DB_MAP_ROWS: u64 idx, u32 n, n x (u32 luid, u32 ruid); then
 * IMSG_DB_FLAG_ROWS: u64 idx, u32 side, u32 n, n x (u32 uid, str flags).
 */
static void
dbc_map_rows(struct eng *e, struct ipc_msg *msg, void *arg)
{
	struct job *j = arg;
	struct ans_map_rows a;
	struct ans_flag_rows f;
	uint32_t i, l, r, uid;
	char *flags;

	if (msg->hdr.type == IMSG_DB_FLAG_ROWS) {
		if (ans_flag_rows(msg, &f) == -1 ||
		    f.idx != (uint64_t)j->mb->idx || !pflags_side(j, f.side))
			dbc_broken(e, msg, "bad layout");
		for (i = 0; i < f.n; i++) {
			if (ans_flag_row(&f, &uid, &flags) == -1)
				dbc_broken(e, msg, "bad layout");
			pflags_load(j, f.side, uid, flags);
			free(flags);
		}
		if (ipc_rd_end(&f.rd) == -1)
			dbc_broken(e, msg, "bad layout");
		return;
	}
	if (msg->hdr.type != IMSG_DB_MAP_ROWS ||
	    ans_map_rows(msg, &a) == -1)
		dbc_broken(e, msg, "bad layout");
	for (i = 0; i < a.n; i++) {
		ans_map_pair(&a, &l, &r);
		map_add(&j->map, l, r);
	}
}

void
dbc_map_load(struct eng *e, struct job *j)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, (uint64_t)j->mb->idx);
	ipc_put_u32(&buf, pflags_sides(j));
	dbc_send(e, &j->t, IMSG_DB_MAP_LOAD, &buf, dbc_map_rows, NULL, j);
	ipc_buf_free(&buf);
}
