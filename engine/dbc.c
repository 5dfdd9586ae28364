/*
 * The database client: typed requests to priv (ipc/db_proto.h).  priv
 * answers every request, in order, with IMSG_DB_RESULT, after any rows.
 * A request priv refuses ends the run: priv has said why (it logs the
 * error with the right component), the engine leaves with EXIT_DB and
 * priv rolls back what was not committed.
 *
 * Writes that need no answer are posted (sent without waiting), so the
 * commits that follow each APPEND batch cost the sync no round trip;
 * priv executes them in order, which keeps the commit points exactly
 * where the reference has them.
 */
#include <stdlib.h>
#include <string.h>

#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

struct dbreq {
	struct dbreq	*next;
	uint32_t	 type;
	int		 done;
	int		 posted;	/* nobody waits: free when answered */
	uint64_t	 value;
	dbc_row_cb	*cb;
	void		*arg;
};

static struct dbreq *dbc_send(struct eng *, uint32_t, struct ipc_buf *,
		    dbc_row_cb *, void *, int);
static void	 dbc_map_rows(struct eng *, struct ipc_msg *, void *);

static struct dbreq *
dbc_send(struct eng *e, uint32_t type, struct ipc_buf *buf, dbc_row_cb *cb,
    void *arg, int posted)
{
	struct dbreq *r;

	r = eng_calloc(1, sizeof(*r));
	r->type = type;
	r->cb = cb;
	r->arg = arg;
	r->posted = posted;
	if (ipc_send(e->parent, type, SIDE_NONE, -1, buf) == -1)
		fatalx(EXIT_FAIL, "engine: %s", e->parent->err);
	if (e->dbtail != NULL)
		e->dbtail->next = r;
	else
		e->dbhead = r;
	e->dbtail = r;
	return r;
}

void
dbc_call(struct eng *e, uint32_t type, struct ipc_buf *buf, dbc_row_cb *cb,
    void *arg, uint64_t *value)
{
	struct dbreq *r;

	r = dbc_send(e, type, buf, cb, arg, 0);
	while (!r->done)
		eng_poll(e);
	if (value != NULL)
		*value = r->value;
	free(r);
}

void
dbc_post(struct eng *e, uint32_t type, struct ipc_buf *buf)
{
	(void)dbc_send(e, type, buf, NULL, NULL, 1);
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
dbc_wait_all(struct eng *e)
{
	while (e->dbhead != NULL)
		eng_poll(e);
}

void
dbc_dispatch(struct eng *e, struct ipc_msg *msg)
{
	struct dbreq *r = e->dbhead;
	struct ipc_rd rd;
	uint32_t status;
	uint64_t value;
	char *err;

	if (r == NULL) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(%s): answer to no database request",
		    ipc_type_name(msg->hdr.type));
		eng_exit(e, EXIT_CHILD);
	}
	if (msg->hdr.type != IMSG_DB_RESULT) {
		if (r->cb == NULL) {
			log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC "
			    "message (%s): rows for a request without any",
			    ipc_type_name(msg->hdr.type));
			eng_exit(e, EXIT_CHILD);
		}
		r->cb(e, msg, r->arg);
		return;
	}
	ipc_rd_init(&rd, msg);
	status = ipc_get_u32(&rd);
	value = ipc_get_u64(&rd);
	err = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1) {
		free(err);
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_RESULT): bad layout");
		eng_exit(e, EXIT_CHILD);
	}
	if (status != DB_RESULT_OK) {
		/* priv logged the reason. */
		log_msg(LOG_LVL_DEBUG, "engine", NULL, "%s refused: %s",
		    ipc_type_name(r->type), err ? err : "");
		free(err);
		eng_exit(e, EXIT_DB);
	}
	free(err);
	e->dbhead = r->next;
	if (e->dbhead == NULL)
		e->dbtail = NULL;
	r->value = value;
	r->done = 1;
	if (r->posted)
		free(r);
}

int64_t
dbc_mailbox_add(struct eng *e, const struct mbox *mb, int subscribed)
{
	struct ipc_buf buf;
	uint64_t idx;

	ipc_buf_init(&buf);
	ipc_put_data(&buf, mb->name, mb->len);
	ipc_put_u32(&buf, subscribed ? 1 : 0);
	dbc_call(e, IMSG_DB_MAILBOX_ADD, &buf, NULL, NULL, &idx);
	ipc_buf_free(&buf);
	return (int64_t)idx;
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
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i > DBC_PAIRS_PER_MSG ? DBC_PAIRS_PER_MSG : n - i;
		ipc_buf_init(&buf);
		ipc_put_u64(&buf, (uint64_t)idx);
		ipc_put_u32(&buf, (uint32_t)k);
		for (size_t j = 0; j < k; j++) {
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
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i > 2 * DBC_PAIRS_PER_MSG ? 2 * DBC_PAIRS_PER_MSG :
		    n - i;
		ipc_buf_init(&buf);
		ipc_put_u64(&buf, (uint64_t)idx);
		ipc_put_u32(&buf, side);
		ipc_put_u32(&buf, (uint32_t)k);
		for (size_t j = 0; j < k; j++)
			ipc_put_u32(&buf, uids[i + j]);
		dbc_post(e, IMSG_DB_MAP_DEL, &buf);
		ipc_buf_free(&buf);
	}
}

/* IMSG_DB_MAP_ROWS: u64 idx, u32 n, n x (u32 luid, u32 ruid). */
static void
dbc_map_rows(struct eng *e, struct ipc_msg *msg, void *arg)
{
	struct map *m = arg;
	struct ipc_rd rd;
	uint32_t n, i, l, r;

	ipc_rd_init(&rd, msg);
	(void)ipc_get_u64(&rd);
	n = ipc_get_u32(&rd);
	if (rd.error || rd.left != (size_t)n * 8) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_MAP_ROWS): bad layout");
		eng_exit(e, EXIT_CHILD);
	}
	for (i = 0; i < n; i++) {
		l = ipc_get_u32(&rd);
		r = ipc_get_u32(&rd);
		map_add(m, l, r);
	}
}

void
dbc_map_load(struct eng *e, int64_t idx, struct map *m)
{
	struct ipc_buf buf;

	ipc_buf_init(&buf);
	ipc_put_u64(&buf, (uint64_t)idx);
	dbc_call(e, IMSG_DB_MAP_LOAD, &buf, dbc_map_rows, m, NULL);
	ipc_buf_free(&buf);
}
