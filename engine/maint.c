/*
 * --delete MAILBOX... and --rename SOURCE DEST (REFERENCE-BEHAVIOUR
 * §6.7): a task of its own that the run hands over to once both servers
 * are ready (run.c).  Its steps, in the reference's order:
 *
 *	LIST		both servers, with the MAILBOX arguments as patterns
 *			(list.c; no RETURN clause, no list-select-opts)
 *	MIGRATE		the database's schema checked, as for a sync
 *	LOAD		the database's mailbox names
 *	then, one server command or database change at a time, so that a
 *	failure stops where the reference's would:
 *	--delete	per MAILBOX: DELETE on local, then on remote, where
 *			targeted and the mailbox exists there; its rows
 *			removed from the database if targeted; committed
 *	--rename	refusals first (DEST exists on a targeted server or
 *			in the database), then RENAME on local, then on
 *			remote, where targeted and SOURCE was listed at all;
 *			the database's rows of SOURCE and of its children
 *			renamed if targeted; committed
 *	FINAL		every answer in: the end
 *
 * Nothing here is recursive on the servers: DELETE removes one mailbox
 * (its children stay), RENAME is the server's own (which moves the
 * children with it).
 */
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "conf_proto.h"
#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

enum {
	M_LIST = 0,
	M_MIGRATE,
	M_LOAD,
	M_CHECK,
	M_SERVER,		/* one server command: local, then remote */
	M_SERVER_DONE,
	M_SERVER_NEXT,
	M_DATABASE,
	M_DATABASE_DONE,
	M_NEXT,
	M_FINAL,
};

/* One MAILBOX argument, as an internal name, and what is known of it. */
struct marg {
	char		*name;		/* local delimiter -> NUL */
	size_t		 len;
	char		*srv[2];	/* server names, by SIDE_* */
	char		*pretty;
	int		 listed[2];	/* a LIST reply named it */
	int		 exists[2];	/* and not \NonExistent, \NoSelect */
	int		 in_db;		/* a mailboxes row has that name */
};

static struct {
	struct task	 t;
	struct eng	*e;
	struct marg	*arg;
	size_t		 narg;
	size_t		 cur;		/* --delete: the argument in hand */
	uint32_t	 side;		/* the server in hand */
	uint32_t	 status;	/* its command's answer */
	char		*text;
	uint64_t	 dbvalue;	/* IMSG_DB_DELETE / RENAME result */
} maint;

static void	 maint_step(struct task *);
static void	 maint_free(void);
static void	 maint_args(struct eng *);
static void	 maint_db_row(struct eng *, struct ipc_msg *, void *);
static void	 maint_db_value(struct eng *, uint64_t, void *);
static void	 maint_op_done(struct req *);
static int	 maint_targets(const struct eng *, uint32_t);
static void	 maint_rename_check(struct eng *);
static int	 maint_server_op(struct eng *, struct task *);
static void	 maint_server_result(struct eng *);
static void	 maint_database(struct eng *, struct task *);
static void	 maint_database_result(struct eng *);

static const uint32_t maint_target_bit[2] = {
	ENGINE_TARGET_LOCAL, ENGINE_TARGET_REMOTE
};

static void
maint_free(void)
{
	size_t i;

	for (i = 0; i < maint.narg; i++) {
		free(maint.arg[i].name);
		free(maint.arg[i].srv[0]);
		free(maint.arg[i].srv[1]);
		free(maint.arg[i].pretty);
	}
	free(maint.arg);
	free(maint.text);
	maint.arg = NULL;
	maint.narg = 0;
	maint.text = NULL;
}

static int
maint_targets(const struct eng *e, uint32_t bit)
{
	return (e->conf->targets & bit) != 0;
}

/*
 * The MAILBOX arguments as internal names (local delimiter -> NUL), with
 * their server and pretty names; both listings are in the mailbox table.
 */
static void
maint_args(struct eng *e)
{
	const struct eng_conf *c = e->conf;
	int ld = e->peer[SIDE_LOCAL].delim;
	struct marg *a;
	struct mbox *mb;
	uint32_t s;
	size_t i, j;

	maint.narg = c->nmailbox;
	maint.arg = eng_calloc(c->nmailbox, sizeof(*maint.arg));
	for (i = 0; i < c->nmailbox; i++) {
		a = &maint.arg[i];
		a->len = c->mailbox[i].len;
		a->name = eng_memdup(c->mailbox[i].bytes, a->len);
		if (ld >= 0 && ld != IMAP_DELIM_NIL)
			for (j = 0; j < a->len; j++)
				if ((unsigned char)a->name[j] == ld)
					a->name[j] = '\0';
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			a->srv[s] = mbox_server_name(e, s, a->name, a->len);
		a->pretty = mbox_server_name(e, SIDE_NONE, a->name, a->len);
		if ((mb = mbox_find(e, a->name, a->len)) == NULL)
			continue;
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			a->listed[s] = mb->listed[s];
			a->exists[s] = mbox_exists(mb, s);
		}
	}
}

/* IMSG_DB_MAILBOX_ROW (ipc/db_proto.h): which arguments the database has. */
static void
maint_db_row(struct eng *e, struct ipc_msg *msg, void *arg)
{
	struct ans_mbox_row a;
	size_t i;

	(void)arg;
	/* The rest (subscription, state) does not matter here. */
	if (ans_mailbox_row(msg, &a) == -1) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_MAILBOX_ROW): bad layout");
		eng_exit(e, EXIT_CHILD);
	}
	for (i = 0; i < maint.narg; i++)
		if (maint.arg[i].len == a.len &&
		    memcmp(maint.arg[i].name, a.name, a.len) == 0)
			maint.arg[i].in_db = 1;
}

static void
maint_db_value(struct eng *e, uint64_t value, void *arg)
{
	(void)e;
	(void)arg;
	maint.dbvalue = value;
}

static void
maint_op_done(struct req *r)
{
	maint.status = r->status;
	free(maint.text);
	maint.text = eng_strdup(r->text != NULL ? r->text : "");
}

static const char *
maint_status_name(uint32_t status)
{
	return status == IMAP_DONE_OK ? "OK" : status == IMAP_DONE_NO ?
	    "NO" : "BAD";
}

/*
 * --rename: DEST must not exist where it would be renamed to, checked
 * before anything changes (a server would refuse the RENAME; the
 * database would be left half-way).
 */
static void
maint_rename_check(struct eng *e)
{
	const struct marg *dst = &maint.arg[1];
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		if (maint_targets(e, maint_target_bit[s]) && dst->exists[s])
			eng_fail(e, EXIT_FAIL, e->peer[s].name, NULL,
			    "Mailbox %s exists. Run `interimap --target=%s "
			    "--delete %s` to delete.", dst->srv[s],
			    e->peer[s].name, dst->pretty);
	if (maint_targets(e, ENGINE_TARGET_DATABASE) && dst->in_db)
		eng_fail(e, EXIT_FAIL, "database", NULL, "Mailbox %s exists. "
		    "Run `interimap --target=database --delete %s` to delete.",
		    dst->pretty, dst->pretty);
}

/*
 * The command for maint.side, if it has one: DELETE where the mailbox
 * exists, RENAME where the source was listed (even \NonExistent: a
 * parent of other mailboxes can be renamed).  1 if sent.
 */
static int
maint_server_op(struct eng *e, struct task *t)
{
	uint32_t s = maint.side;
	const struct marg *a;

	if (!maint_targets(e, maint_target_bit[s]))
		return 0;
	if (e->conf->command == ENGINE_CMD_DELETE) {
		a = &maint.arg[maint.cur];
		if (!a->exists[s])
			return 0;
		(void)netc_mailbox_op(&e->peer[s], t, IMAP_MBOP_DELETE,
		    a->srv[s], NULL, maint_op_done, NULL);
	} else {
		a = &maint.arg[0];
		if (!a->listed[s])
			return 0;
		(void)netc_mailbox_op(&e->peer[s], t, IMAP_MBOP_RENAME,
		    a->srv[s], maint.arg[1].srv[s], maint_op_done, NULL);
	}
	return 1;
}

static void
maint_server_result(struct eng *e)
{
	const struct peer *p = &e->peer[maint.side];
	const char *verb;
	const struct marg *a;

	a = e->conf->command == ENGINE_CMD_DELETE ? &maint.arg[maint.cur] :
	    &maint.arg[0];
	verb = e->conf->command == ENGINE_CMD_DELETE ? "delete" : "rename";
	if (maint.status != IMAP_DONE_OK)
		eng_fail(e, EXIT_FAIL, p->name, NULL, "Couldn't %s mailbox %s: "
		    "%s %s", verb, a->srv[maint.side],
		    maint_status_name(maint.status), maint.text);
	if (e->conf->command == ENGINE_CMD_DELETE)
		log_msg(LOG_LVL_INFO, p->name, NULL, "Deleted mailbox %s",
		    a->srv[maint.side]);
	else
		log_msg(LOG_LVL_INFO, p->name, NULL, "Renamed mailbox %s to %s",
		    a->srv[maint.side], maint.arg[1].srv[maint.side]);
	log_msg(LOG_LVL_AUDIT, p->name, a->srv[maint.side], "%s%s",
	    *verb == 'd' ? "DELETE" : "RENAME to=",
	    *verb == 'd' ? "" : maint.arg[1].srv[maint.side]);
}

/* The database's change and its commit, in one go (priv keeps order). */
static void
maint_database(struct eng *e, struct task *t)
{
	struct ipc_buf buf;
	const struct marg *a;

	maint.dbvalue = 0;
	ipc_buf_init(&buf);
	if (e->conf->command == ENGINE_CMD_DELETE) {
		a = &maint.arg[maint.cur];
		ipc_put_data(&buf, a->name, a->len);
		dbc_send(e, t, IMSG_DB_DELETE, &buf, NULL, maint_db_value,
		    NULL);
	} else {
		ipc_put_data(&buf, maint.arg[0].name, maint.arg[0].len);
		ipc_put_data(&buf, maint.arg[1].name, maint.arg[1].len);
		dbc_send(e, t, IMSG_DB_RENAME, &buf, NULL, maint_db_value,
		    NULL);
	}
	ipc_buf_free(&buf);
	ipc_buf_init(&buf);
	dbc_send(e, t, IMSG_DB_COMMIT, &buf, NULL, NULL, NULL);
	ipc_buf_free(&buf);
}

/* Said once committed, and only if a row changed. */
static void
maint_database_result(struct eng *e)
{
	if (maint.dbvalue == 0)
		return;
	if (e->conf->command == ENGINE_CMD_DELETE)
		log_msg(LOG_LVL_NOTICE, "database", NULL, "Removed mailbox %s",
		    maint.arg[maint.cur].pretty);
	else
		log_msg(LOG_LVL_NOTICE, "database", NULL, "Renamed mailbox %s "
		    "to %s", maint.arg[0].pretty, maint.arg[1].pretty);
}

static void
maint_step(struct task *t)
{
	struct eng *e = maint.e;
	struct ipc_buf buf;
	const struct marg *a;

	for (;;) {
		if (t->pending > 0 || t->waiting || t->done)
			return;
		switch (t->state) {
		case M_LIST:
			if (!mbox_list_step(e, t))
				return;
			t->state = M_MIGRATE;
			break;

		case M_MIGRATE:
			dbc_migrate(e, t);
			t->state = M_LOAD;
			return;

		case M_LOAD:
			maint_args(e);
			ipc_buf_init(&buf);
			dbc_send(e, t, IMSG_DB_LOAD, &buf, maint_db_row, NULL,
			    NULL);
			ipc_buf_free(&buf);
			t->state = M_CHECK;
			return;

		case M_CHECK:
			maint.cur = 0;
			maint.side = SIDE_LOCAL;
			if (e->conf->command == ENGINE_CMD_RENAME)
				maint_rename_check(e);
			t->state = M_SERVER;
			break;

		case M_SERVER:
			if (e->conf->command == ENGINE_CMD_DELETE) {
				a = &maint.arg[maint.cur];
				/* RFC 3501 6.3.4; priv refuses it first. */
				if (a->len == 5 &&
				    memcmp(a->name, "INBOX", 5) == 0)
					eng_fail(e, EXIT_FAIL, NULL, NULL,
					    "INBOX can't be deleted");
			}
			if (maint_server_op(e, t)) {
				t->state = M_SERVER_DONE;
				return;
			}
			t->state = M_SERVER_NEXT;
			break;

		case M_SERVER_DONE:
			maint_server_result(e);
			t->state = M_SERVER_NEXT;
			break;

		case M_SERVER_NEXT:
			if (maint.side == SIDE_LOCAL) {
				maint.side = SIDE_REMOTE;
				t->state = M_SERVER;
			} else
				t->state = M_DATABASE;
			break;

		case M_DATABASE:
			if (!maint_targets(e, ENGINE_TARGET_DATABASE)) {
				t->state = M_NEXT;
				break;
			}
			maint_database(e, t);
			t->state = M_DATABASE_DONE;
			return;

		case M_DATABASE_DONE:
			maint_database_result(e);
			t->state = M_NEXT;
			break;

		case M_NEXT:
			if (e->conf->command == ENGINE_CMD_DELETE &&
			    ++maint.cur < maint.narg) {
				maint.side = SIDE_LOCAL;
				t->state = M_SERVER;
				break;
			}
			t->state = M_FINAL;
			break;

		case M_FINAL:
			/* Every request was the task's: all are answered. */
			maint_free();
			e->code = EXIT_OK;
			e->finished = 1;
			t->done = 1;
			return;

		default:
			fatalx(EXIT_CHILD, "engine: internal error: maint "
			    "state %d", t->state);
		}
	}
}

/*
 * The run's command is --delete or --rename (both servers ready, their
 * capabilities checked): this task does the rest of the run.
 */
void
maint_start(struct eng *e)
{
	memset(&maint, 0, sizeof(maint));
	maint.e = e;
	task_init(&maint.t, "--delete/--rename", maint_step, NULL);
	task_run(&maint.t);
}
