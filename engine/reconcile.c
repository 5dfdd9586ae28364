/*
 * The reconciliation of both mailbox lists with each other and with the
 * database (REFERENCE-BEHAVIOUR §6.2), as steps of the run: refusals
 * first (a known mailbox gone from one side changes nothing), then every
 * CREATE, SUBSCRIBE and UNSUBSCRIBE sent at once (but the SUBSCRIBE of a
 * mailbox being created, sent once its CREATE is answered OK), then, in
 * mailbox order, their results logged and the database rows written,
 * each mailbox's committed after its server commands.  A mailbox that
 * a server refused to create is left out of the run (mbox_apply()).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "conf_proto.h"
#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

/* ------------------------------------------------------------------ */
/* §6.2: reconciliation. */

/* IMSG_DB_MAILBOX_ROW, see ipc/db_proto.h. */
static void
mbox_db_row(struct eng *e, struct ipc_msg *msg, void *arg)
{
	struct ans_mbox_row a;
	struct mbox *mb;
	int s;

	(void)arg;
	if (ans_mailbox_row(msg, &a) == -1) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_MAILBOX_ROW): bad layout");
		eng_exit(e, EXIT_CHILD);
	}
	/* Only mailboxes some server listed matter. */
	if ((mb = mbox_find(e, a.name, a.len)) == NULL)
		return;
	mb->idx = (int64_t)a.idx;
	mb->db_subscribed = a.subscribed != 0;
	mb->has_state = a.has_state != 0;
	for (s = 0; s < 2; s++) {
		mb->db_uidvalidity[s] = a.uidvalidity[s];
		mb->db_uidnext[s] = a.uidnext[s];
		mb->db_hms[s] = a.hms[s];
	}
}

/* The answer of one server command of the plan. */
struct opres {
	int		 sent;
	int		 done;
	uint32_t	 status;
	char		*text;
};

/* What reconciliation does for one mailbox. */
struct mbox_plan {
	struct mbox	*mb;
	int		 db_add;	/* new DB row, subscribed = db_sub */
	int		 db_set;	/* update subscribed to db_sub */
	int		 db_sub;
	struct opres	 create[2];
	int		 sub_created[2]; /* SUBSCRIBE once created */
	struct opres	 sub[2];	/* SUBSCRIBE */
	struct opres	 unsub[2];	/* UNSUBSCRIBE */
};

static struct {
	int		 state;
	struct mbox_plan *plan;
	size_t		 n;
} mbox_rc;

enum {
	RC_LOAD = 0,
	RC_PLAN,
	RC_SUBSCRIBE,
	RC_APPLY,
	RC_DONE,
};

static void
mbox_op_done(struct req *r)
{
	struct opres *o = r->arg;

	o->done = 1;
	o->status = r->status;
	o->text = eng_strdup(r->text != NULL ? r->text : "");
}

static void
mbox_op(struct eng *e, struct task *t, uint32_t side, uint32_t op,
    struct mbox *mb, struct opres *o)
{
	o->sent = 1;
	(void)netc_mailbox_op(&e->peer[side], t, op, mb->srv[side], NULL,
	    mbox_op_done, o);
}

static const char *
mbox_status_name(uint32_t status)
{
	return status == IMAP_DONE_OK ? "OK" : status == IMAP_DONE_NO ?
	    "NO" : "BAD";
}

static void
mbox_idx_done(struct eng *e, uint64_t value, void *arg)
{
	struct mbox *mb = arg;

	(void)e;
	if (value == 0 || value > INT64_MAX) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_RESULT): bad mailbox index");
		eng_exit(e, EXIT_CHILD);
	}
	mb->idx = (int64_t)value;
}

/* A SUBSCRIBE or UNSUBSCRIBE answered: fatal unless OK (§4.8). */
static void
mbox_sub_result(struct eng *e, struct peer *p, const struct opres *o,
    const char *verb, const char *name)
{
	if (!o->sent)
		return;
	if (o->status != IMAP_DONE_OK)
		eng_fail(e, EXIT_FAIL, p->name, NULL, "%s %s",
		    mbox_status_name(o->status), o->text);
	log_msg(LOG_LVL_INFO, p->name, NULL, "%s to %s", verb, name);
	log_msg(LOG_LVL_AUDIT, p->name, name, "%s", *verb == 'S' ?
	    "SUBSCRIBE" : "UNSUBSCRIBE");
}

/*
 * The server commands' results, in mailbox order; the database.
 *
 * A mailbox that a server refused to create (a name it does not allow,
 * a quota on mailboxes, no right to create) is left out of the run:
 * no database row and no sync, where the reference records it, fails
 * the run on its SELECT, and then refuses every later run until the
 * user deletes the row ("Mailbox exists", §6.2), only to fail again.
 * Without the row, every run tries the CREATE again (the name may be
 * allowed by then), syncs the others, and a one-shot run says what it
 * left out and ends with EXIT_FAIL (run.c).  The SUBSCRIBE of a new
 * mailbox waits for its CREATE's answer
 * (mbox_subscribe_created()): a server may take a subscription to a
 * name it refused to create (Cyrus IMAP does), and then every run would
 * subscribe it again.
 */
static void
mbox_apply(struct eng *e, struct task *t, struct mbox_plan *pl)
{
	struct mbox *mb = pl->mb;
	struct ipc_buf buf;
	struct peer *p;
	struct opres *o;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		o = &pl->create[s];
		if (o->sent && o->status != IMAP_DONE_OK) {
			mb->uncreated = 1;
			mb->sync = 0;
			pl->db_add = 0;
		}
	}
	if (pl->db_add) {
		log_msg(LOG_LVL_NOTICE, "database", NULL, "Created mailbox %s",
		    mb->pretty);
		ipc_buf_init(&buf);
		ipc_put_data(&buf, mb->name, mb->len);
		ipc_put_u32(&buf, pl->db_sub ? 1 : 0);
		dbc_send(e, t, IMSG_DB_MAILBOX_ADD, &buf, NULL, mbox_idx_done,
		    mb);
		ipc_buf_free(&buf);
		mb->db_subscribed = pl->db_sub;
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = &e->peer[s];
		o = &pl->create[s];
		if (o->sent) {
			if (o->status == IMAP_DONE_OK) {
				log_msg(LOG_LVL_INFO, p->name, NULL,
				    "Created mailbox %s", mb->srv[s]);
				log_msg(LOG_LVL_AUDIT, p->name, mb->srv[s],
				    "CREATE");
			} else
				log_msg(LOG_LVL_WARN, p->name, NULL,
				    "WARNING: Couldn't create mailbox %s: "
				    "%s %s", mb->srv[s],
				    mbox_status_name(o->status), o->text);
		}
		mbox_sub_result(e, p, &pl->sub[s], "Subscribe", mb->srv[s]);
		mbox_sub_result(e, p, &pl->unsub[s], "Unsubscribe",
		    mb->srv[s]);
	}
	if (pl->db_set) {
		dbc_subscribe(e, mb->idx, pl->db_sub);
		mb->db_subscribed = pl->db_sub;
	}
	if (pl->db_add || pl->db_set)
		dbc_commit(e);
}

/* The SUBSCRIBEs of the mailboxes created (reconciliation's second step). */
static void
mbox_subscribe_created(struct eng *e, struct task *t)
{
	struct mbox_plan *pl;
	size_t i;
	uint32_t s;

	for (i = 0; i < mbox_rc.n; i++) {
		pl = &mbox_rc.plan[i];
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			if (pl->sub_created[s] &&
			    pl->create[s].status == IMAP_DONE_OK)
				mbox_op(e, t, s, IMAP_MBOP_SUBSCRIBE, pl->mb,
				    &pl->sub[s]);
	}
}

static void
mbox_plan_free(void)
{
	size_t i;
	uint32_t s;

	for (i = 0; i < mbox_rc.n; i++)
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			free(mbox_rc.plan[i].create[s].text);
			free(mbox_rc.plan[i].sub[s].text);
			free(mbox_rc.plan[i].unsub[s].text);
		}
	free(mbox_rc.plan);
	memset(&mbox_rc, 0, sizeof(mbox_rc));
}

/* Every server command at once; their results then in order. */
static void
mbox_plan(struct eng *e, struct task *t)
{
	struct mbox_plan *pl;
	struct mbox *mb;
	size_t i;
	int lex, rex, ls, rs;
	uint32_t s1, s2;

	/*
	 * Refusals first, so that a refused run changes nothing (the
	 * reference stops half-way, in hash order).
	 */
	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		if (mb->ignored)
			continue;
		lex = mbox_exists(mb, SIDE_LOCAL);
		rex = mbox_exists(mb, SIDE_REMOTE);
		if (lex != rex && mb->idx != 0)
			eng_fail(e, EXIT_FAIL, "database", NULL, "Mailbox %s "
			    "exists. Run `interimap --target=database "
			    "--delete %s` to delete.", mb->pretty,
			    mb->pretty);
	}
	mbox_rc.plan = eng_calloc(e->nmbox, sizeof(*mbox_rc.plan));
	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		if (mb->ignored)
			continue;
		lex = mbox_exists(mb, SIDE_LOCAL);
		rex = mbox_exists(mb, SIDE_REMOTE);
		if (!lex && !rex)
			continue;
		mb->sync = 1;
		pl = &mbox_rc.plan[mbox_rc.n++];
		pl->mb = mb;
		if (lex && rex) {
			ls = mbox_subscribed(mb, SIDE_LOCAL);
			rs = mbox_subscribed(mb, SIDE_REMOTE);
			if (mb->idx != 0) {
				if (ls != rs) {
					if (mb->db_subscribed) {
						s1 = ls ? SIDE_LOCAL :
						    SIDE_REMOTE;
						mbox_op(e, t, s1,
						    IMAP_MBOP_UNSUBSCRIBE, mb,
						    &pl->unsub[s1]);
					} else {
						s1 = ls ? SIDE_REMOTE :
						    SIDE_LOCAL;
						mbox_op(e, t, s1,
						    IMAP_MBOP_SUBSCRIBE, mb,
						    &pl->sub[s1]);
					}
					pl->db_set = 1;
					pl->db_sub = !mb->db_subscribed;
				} else if (ls != mb->db_subscribed) {
					pl->db_set = 1;
					pl->db_sub = ls;
				}
			} else {
				pl->db_add = 1;
				pl->db_sub = ls || rs;
				if (pl->db_sub && !ls)
					mbox_op(e, t, SIDE_LOCAL,
					    IMAP_MBOP_SUBSCRIBE, mb,
					    &pl->sub[SIDE_LOCAL]);
				if (pl->db_sub && !rs)
					mbox_op(e, t, SIDE_REMOTE,
					    IMAP_MBOP_SUBSCRIBE, mb,
					    &pl->sub[SIDE_REMOTE]);
			}
		} else {
			s1 = lex ? SIDE_LOCAL : SIDE_REMOTE;
			s2 = lex ? SIDE_REMOTE : SIDE_LOCAL;
			pl->db_add = 1;
			pl->db_sub = mbox_subscribed(mb, s1);
			mbox_op(e, t, s2, IMAP_MBOP_CREATE, mb,
			    &pl->create[s2]);
			pl->sub_created[s2] = pl->db_sub;
		}
	}
}

int
mbox_reconcile_step(struct eng *e, struct task *t)
{
	struct ipc_buf buf;
	size_t i;

	switch (mbox_rc.state) {
	case RC_LOAD:
		/* The database's view of every listed mailbox. */
		for (i = 0; i < e->nmbox; i++) {
			e->mbox[i]->idx = 0;
			e->mbox[i]->sync = 0;
			e->mbox[i]->uncreated = 0;
			/* Refused copies: said at the end of the run. */
			uidvec_free(&e->mbox[i]->refused[SIDE_LOCAL]);
			uidvec_free(&e->mbox[i]->refused[SIDE_REMOTE]);
		}
		ipc_buf_init(&buf);
		dbc_send(e, t, IMSG_DB_LOAD, &buf, mbox_db_row, NULL, NULL);
		ipc_buf_free(&buf);
		mbox_rc.state = RC_PLAN;
		return 0;
	case RC_PLAN:
		mbox_plan(e, t);
		mbox_rc.state = RC_SUBSCRIBE;
		if (t->pending > 0)
			return 0;
		/* FALLTHROUGH */
	case RC_SUBSCRIBE:
		mbox_subscribe_created(e, t);
		mbox_rc.state = RC_APPLY;
		if (t->pending > 0)
			return 0;
		/* FALLTHROUGH */
	case RC_APPLY:
		for (i = 0; i < mbox_rc.n; i++)
			mbox_apply(e, t, &mbox_rc.plan[i]);
		mbox_rc.state = RC_DONE;
		if (t->pending > 0)
			return 0;
		/* FALLTHROUGH */
	case RC_DONE:
		mbox_plan_free();
		return 1;
	}
	return 1;
}
