/*
 * The run (REFERENCE-BEHAVIOUR §3, §6): one task whose steps are the
 * phases of a sync, in the reference's order:
 *
 *	READY		both nets logged in (IMSG_IMAP_READY), their
 *			capabilities checked
 *	LIST		both servers listed (mbox.c)
 *	MIGRATE		the database's v0 -> v1 migration, which needs the
 *			delimiters (§3.8)
 *	RECONCILE	the mailbox lists reconciled with each other and with
 *			the database (mbox.c)
 *	INTERRUPTED	mailboxes whose last sync was cut short (§6.5)
 *	QUEUE		a resume job for each of those, the last synced state
 *			of every other known mailbox, a sync job for each
 *			dirty one (changed UIDNEXT or HIGHESTMODSEQ, or new)
 *	JOBS		the jobs run (job.c); once none is left, mailboxes
 *			still dirty get another
 *	REPAIR		--repair: once the resumes are over, a repair job
 *			for every mailbox of the list with synced state, a
 *			first sync for each without (§6.6, §9.12); then
 *			FINAL
 *	FINAL		every database request answered: the end
 *
 * sync_run() runs the engine's one event loop until the run is over.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answer.h"
#include "conf_proto.h"
#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

enum {
	R_READY = 0,
	R_LIST,
	R_MIGRATE,
	R_RECONCILE,
	R_INTERRUPTED,
	R_QUEUE,
	R_JOBS,
	R_REPAIR,
	R_REPAIRING,
	R_FINAL,
	R_IDLE,
	R_SLEEP,
};

struct run {
	struct task	 t;
	struct eng	*e;
	int		 migrated;	/* the database's schema is checked */
	uint64_t	 last_pass;	/* end of the last pass (epoch s) */
	/*
	 * A pass of its own (the first, or one the interval, priv or an
	 * event started), not the listing that follows a pass in case
	 * something was missed: a CONDSTORE server's mailboxes are all
	 * looked at (run_queue_dirty()).
	 */
	int		 full;
};

static void	 run_step(struct task *);
static void	 run_check_caps(struct eng *);
static void	 run_interrupted_rows(struct eng *, struct ipc_msg *, void *);
static int	 run_queue_dirty(struct eng *, int);
static void	 run_state_load(struct eng *);
static void	 run_queue_repair(struct eng *);
static void	 run_status(struct eng *, uint32_t);
static void	 run_stall_report(struct eng *);
static void	 run_rest(struct eng *, struct task *);
static int	 run_watching(const struct eng *);
static void	 run_notify_methods(struct eng *);
static void	 run_notify_arm(struct eng *, struct task *, int);
static unsigned int run_interval_s(const struct eng *);
static uint64_t	 run_interval(const struct eng *);

/* Where the run stands, for priv (sd_notify STATUS=, the log). */
static void
run_status(struct eng *e, uint32_t state)
{
	struct ipc_buf buf;
	uint32_t n = 0;
	size_t i;

	for (i = 0; i < e->nmbox; i++)
		if (e->mbox[i]->sync)
			n++;
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, state);
	ipc_put_u32(&buf, n);
	ipc_put_u64(&buf, e->run != NULL ? e->run->last_pass : 0);
	if (ipc_send(e->parent, IMSG_ENGINE_STATUS, SIDE_NONE, -1, &buf) ==
	    -1)
		fatalx(EXIT_CHILD, "engine: %s", e->parent->err);
	ipc_buf_free(&buf);
}

/* Watch mode: the end of a pass, before the sleep. */
static void
run_rest(struct eng *e, struct task *t)
{
	struct ipc_buf buf;
	struct peer *p;
	uint32_t s;
	int unselect;

	/*
	 * As the reference: UNSELECT where both servers can, so that
	 * nothing is selected while we sleep; otherwise a NOOP, which
	 * also proves both connections alive.
	 */
	unselect = (e->peer[SIDE_LOCAL].caps & IMAP_CAP_UNSELECT) &&
	    (e->peer[SIDE_REMOTE].caps & IMAP_CAP_UNSELECT);
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = &e->peer[s];
		ipc_buf_init(&buf);
		if (unselect && p->qsel != NULL) {
			(void)netc_send(p, t, IMSG_IMAP_UNSELECT, &buf, NULL,
			    NULL, netc_done_ok, NULL);
			p->qsel = NULL;
		} else
			(void)netc_send(p, t, IMSG_IMAP_NOOP, &buf, NULL, NULL,
			    netc_done_ok, NULL);
		ipc_buf_free(&buf);
	}
}


/*
 * The engine's own bug, before it dies of it: what each job was waiting
 * for, at the error level (the line above the fatal one), so that a
 * report shows it without --debug.
 */
static void
run_stall_report(struct eng *e)
{
	const struct job *j;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		log_msg(LOG_LVL_ERROR, e->peer[s].name, NULL, "stalled: "
		    "copying %d, holder %s, selected %s",
		    e->peer[s].copying, e->peer[s].holder != NULL ?
		    e->peer[s].holder->mb->pretty : "-",
		    e->peer[s].qsel != NULL ? e->peer[s].qsel->pretty : "-");
	for (j = e->jobs; j != NULL; j = j->next)
		log_msg(LOG_LVL_ERROR, NULL, NULL, "stalled: job %s: state %d, "
		    "leased %d%d, started %d%d, waiting %d, pending %d, "
		    "copy_wait %d, batch_wait %d, lend %d, share %d, "
		    "lent %u, finished %d", j->mb->pretty, j->t.state,
		    j->p[SIDE_LOCAL] != NULL, j->p[SIDE_REMOTE] != NULL,
		    j->started[SIDE_LOCAL], j->started[SIDE_REMOTE],
		    j->t.waiting, j->t.pending, j->copy_wait, j->batch_wait,
		    j->lend, j->share, j->lent, j->finished);
}

void
run_wake(struct eng *e)
{
	if (e->run != NULL && e->run->t.waiting)
		eng_wake(e, &e->run->t);
}

static void
run_check_caps(struct eng *e)
{
	struct peer *p;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = &e->peer[s];
		/*
		 * Without LIST-EXTENDED, net lists with LIST and LSUB,
		 * which can stand for the selection option SUBSCRIBED.
		 */
		if (!(p->caps & IMAP_CAP_LIST_EXTENDED) &&
		    e->conf->list_select_opts != NULL &&
		    *e->conf->list_select_opts != '\0' &&
		    strcmp(e->conf->list_select_opts, "SUBSCRIBED") != 0)
			eng_fail(e, EXIT_FAIL, p->name, NULL, "list-select-opts "
			    "= %s needs LIST-EXTENDED, which the server did "
			    "not advertise.", e->conf->list_select_opts);
		if (!(p->caps & IMAP_CAP_LIST_STATUS))
			eng_fail(e, EXIT_FAIL, NULL, NULL,
			    "Non LIST-STATUS-capable IMAP server.");
	}
}

/* IMSG_DB_MAP_ROWS of IMSG_DB_INTERRUPTED: u64 idx, u32 n, n pairs. */
static void
run_interrupted_rows(struct eng *e, struct ipc_msg *msg, void *arg)
{
	struct ans_map_rows a;
	struct mbox *mb;
	uint32_t i, l, r;

	(void)arg;
	if (ans_map_rows(msg, &a) == -1 || a.idx == 0 || a.idx > INT64_MAX) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_MAP_ROWS): bad layout");
		eng_exit(e, EXIT_CHILD);
	}
	if ((mb = mbox_by_idx(e, (int64_t)a.idx)) == NULL || !mb->sync ||
	    !mb->has_state)
		return;
	mb->resumed = 1;
	for (i = 0; i < a.n; i++) {
		ans_map_pair(&a, &l, &r);
		uidvec_push(&mb->intr[SIDE_LOCAL], l);
		uidvec_push(&mb->intr[SIDE_REMOTE], r);
	}
}

/* The last synced state of every known mailbox (§6.3). */
static void
run_state_load(struct eng *e)
{
	struct mbox *mb;
	size_t i;
	uint32_t s;

	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		/* A resumed mailbox's job loads its own. */
		if (!mb->sync || mb->idx == 0 || !mb->has_state ||
		    mb->known || mb->resumed)
			continue;
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			netc_set_pcache(&e->peer[s], mb, MC_UIDVALIDITY |
			    MC_UIDNEXT | MC_HMS, mb->db_uidvalidity[s],
			    mb->db_uidnext[s], mb->db_hms[s]);
		mb->known = 1;
	}
}

/*
 * --repair: every mailbox of the list (the MAILBOX arguments, or all)
 * gets checked.  One without synced state yet, which the reference
 * skips (§9.12), has nothing to check: it gets its first sync.
 */
static void
run_queue_repair(struct eng *e)
{
	struct mbox *mb;
	size_t i;

	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		if (!mb->sync || mb->idx == 0 || mb->job != NULL || mb->queued)
			continue;
		jobs_queue(e, mb, mb->has_state ? JOB_REPAIR : JOB_SYNC);
	}
}

/*
 * A job for every dirty mailbox without one: those dirty locally first,
 * then those dirty remotely (the reference's next_dirty order, with
 * mailboxes sorted instead of in hash order).  Returns how many.
 *
 * At the start of a pass of its own (start: run->full), every mailbox
 * of a server synced with CONDSTORE counts as dirty: RFC 7162 has only
 * QRESYNC servers raise HIGHESTMODSEQ for an expunge, so LIST-STATUS
 * cannot tell that nothing was expunged there.  Its job loads the
 * mapping and compares the pairs with the server's MESSAGES
 * (job_unchanged()): only where they differ does it SELECT, whose UID
 * list tells which messages went.
 */
static int
run_queue_dirty(struct eng *e, int start)
{
	struct sbuf dirty = { NULL, 0, 0 };
	struct mbox *mb;
	size_t i;
	uint32_t s;
	int n = 0;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		for (i = 0; i < e->nmbox; i++) {
			mb = e->mbox[i];
			if (!mb->sync || (!netc_is_dirty(&e->peer[s], mb) &&
			    !(start && (e->peer[s].caps &
			    IMAP_CAP_CONDSTORE_SYNC))))
				continue;
			if (log_debug_level() > 0) {
				if (dirty.len > 0)
					sbuf_adds(&dirty, ", ");
				sbuf_adds(&dirty, mb->srv[s]);
			}
			if (mb->job != NULL || mb->queued)
				continue;
			jobs_queue(e, mb, JOB_SYNC);
			n++;
		}
		if (log_debug_level() > 0)
			log_msg(LOG_LVL_DEBUG, e->peer[s].name, NULL,
			    dirty.len > 0 ? "Dirty mailboxes: %s" :
			    "Clean state!", sbuf_str(&dirty));
		sbuf_free(&dirty);
	}
	return n;
}

/*
 * The end of a one-shot run: an error for each mailbox left out because
 * a server refused to create it (reconcile.c), and for each whose copies
 * a server refused (append.c); returns how many.
 */
static int
run_refusals(struct eng *e)
{
	struct mbox *mb;
	char *str;
	size_t i;
	uint32_t s;
	int n = 0;

	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		if (mb->uncreated) {
			s = mbox_exists(mb, SIDE_LOCAL) ? SIDE_REMOTE :
			    SIDE_LOCAL;
			log_msg(LOG_LVL_ERROR, e->peer[s].name, NULL, "ERROR: "
			    "Mailbox %s was not synchronised: the server "
			    "refused to create it", mb->srv[s]);
			n++;
		}
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			if (mb->refused[s].n == 0)
				continue;
			uidvec_sort_uniq(&mb->refused[s]);
			str = uid_compact_list(mb->refused[s].v,
			    mb->refused[s].n);
			log_msg(LOG_LVL_ERROR, e->peer[OTHER(s)].name,
			    mb->srv[OTHER(s)], "ERROR: %zu message(s) not "
			    "copied: the server refused UID(s) %s of %s; "
			    "`interimap --repair %s` copies them once it "
			    "takes them", mb->refused[s].n, str,
			    e->peer[s].name, mb->pretty);
			free(str);
			n++;
		}
	}
	return n;
}

static void
run_step(struct task *t)
{
	struct run *run = (struct run *)t;
	struct eng *e = run->e;
	struct ipc_buf buf;
	struct mbox *mb;
	size_t i;

	for (;;) {
		if (t->pending > 0 || t->waiting || t->done)
			return;
		switch (t->state) {
		case R_READY:
			if (!e->peer[SIDE_LOCAL].ready ||
			    !e->peer[SIDE_REMOTE].ready) {
				t->waiting = 1;
				return;
			}
			run_check_caps(e);
			switch (e->conf->command) {
			case ENGINE_CMD_DELETE:
			case ENGINE_CMD_RENAME:
				/* maint.c's task does the rest of the run. */
				t->done = 1;
				maint_start(e);
				return;
			default:
				break;
			}
			if (e->conf->flags & ENGINE_CONF_NOTIFY)
				run_notify_methods(e);
			run->full = 1;
			t->state = R_LIST;
			break;

		case R_LIST:
			if (!mbox_list_step(e, t))
				return;
			/* Events from here on call for another pass. */
			e->notified = 0;
			t->state = run->migrated ? R_RECONCILE : R_MIGRATE;
			break;

		case R_MIGRATE:
			run->migrated = 1;
			dbc_migrate(e, t);
			t->state = R_RECONCILE;
			return;

		case R_RECONCILE:
			if (!mbox_reconcile_step(e, t))
				return;
			t->state = R_INTERRUPTED;
			break;

		case R_INTERRUPTED:
			ipc_buf_init(&buf);
			dbc_send(e, t, IMSG_DB_INTERRUPTED, &buf,
			    run_interrupted_rows, NULL, NULL);
			ipc_buf_free(&buf);
			t->state = R_QUEUE;
			return;

		case R_QUEUE:
			for (i = 0; i < e->nmbox; i++) {
				mb = e->mbox[i];
				if (mb->resumed)
					jobs_queue(e, mb, JOB_RESUME);
			}
			run_state_load(e);
			if (e->conf->command == ENGINE_CMD_REPAIR) {
				t->state = R_REPAIR;
				break;
			}
			(void)run_queue_dirty(e, run->full);
			run->full = 0;
			t->state = R_JOBS;
			break;

		case R_REPAIR:
			if (jobs_busy(e)) {
				t->waiting = 1;
				return;
			}
			run_queue_repair(e);
			t->state = R_REPAIRING;
			break;

		case R_REPAIRING:
			if (jobs_busy(e)) {
				t->waiting = 1;
				return;
			}
			/* As the reference: no further pass. */
			t->state = R_FINAL;
			break;

		case R_JOBS:
			if (jobs_busy(e)) {
				t->waiting = 1;
				return;
			}
			/* The reference loops while any is dirty. */
			if (run_queue_dirty(e, 0) > 0)
				break;
			t->state = run_watching(e) ? R_IDLE : R_FINAL;
			break;

		case R_FINAL:
			progress_pass_end(e);
			if (e->dbhead != NULL) {
				t->waiting = 1;
				return;
			}
			e->code = run_refusals(e) > 0 ? EXIT_FAIL : EXIT_OK;
			e->finished = 1;
			t->done = 1;
			return;

		case R_IDLE:
			/* Watch mode: a pass is over. */
			progress_pass_end(e);
			run->last_pass = (uint64_t)time(NULL);
			run_rest(e, t);
			if ((e->conf->flags & ENGINE_CONF_NOTIFY) &&
			    (e->pass_jobs > 0 || e->notified)) {
				/*
				 * A server may not report what changed in
				 * the last second of our work on a mailbox
				 * (tests/lib/NOTIFY-NOTES.md): one more
				 * listing, with the events re-armed, before
				 * waiting on them.
				 */
				run_notify_arm(e, t, 1);
				e->pass_jobs = 0;
				t->state = R_LIST;
				return;
			}
			if (e->conf->flags & ENGINE_CONF_NOTIFY)
				run_notify_arm(e, t, 0);
			run_status(e, ENGINE_ST_IDLE);
			e->wake = 0;
			e->timer_fired = 0;
			e->pass_jobs = 0;
			t->state = R_SLEEP;
			return;

		case R_SLEEP:
			/*
			 * Until the interval is over, priv says now, or a
			 * server reports a change (--notify).
			 */
			if (!e->wake && !e->timer_fired && !e->notified) {
				if (e->timer_task == NULL)
					eng_timer_set(e, t, run_interval(e));
				t->waiting = 1;
				return;
			}
			eng_timer_cancel(e);
			e->wake = e->timer_fired = 0;
			run_status(e, ENGINE_ST_SYNCING);
			run->full = 1;
			t->state = R_LIST;
			break;

		default:
			fatalx(EXIT_CHILD, "engine: internal error: run state "
			    "%d", t->state);
		}
	}
}

/*
 * --notify: how each server tells of changes.  NOTIFY (RFC 5465) where
 * the server has it; otherwise IDLE on INBOX (changes elsewhere are
 * found by the listing at each interval), said once; otherwise the
 * interval alone.
 */
static void
run_notify_methods(struct eng *e)
{
	struct peer *p;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = &e->peer[s];
		if (p->caps & IMAP_CAP_NOTIFY)
			p->wait = PEER_WAIT_NOTIFY;
		else if (p->caps & IMAP_CAP_IDLE) {
			p->wait = PEER_WAIT_IDLE;
			log_msg(LOG_LVL_NOTICE, p->name, NULL, "The server has "
			    "no NOTIFY (RFC 5465): waiting with IDLE on INBOX, "
			    "and listing every %u s", run_interval_s(e));
		} else {
			p->wait = PEER_WAIT_NONE;
			log_msg(LOG_LVL_NOTICE, p->name, NULL, "The server has "
			    "neither NOTIFY (RFC 5465) nor IDLE: listing every "
			    "%u s", run_interval_s(e));
		}
	}
}


/*
 * --notify: ask each server for its events.  NOTIFY is set once per
 * connection; a second NOTIFY SET stops Dovecot's pushing, and so does
 * INBOX left selected (NOTIFY-NOTES.md), so after a pass that selected
 * mailboxes (rearm) it is set again, NOTIFY NONE first.  A server
 * without NOTIFY gets INBOX selected and IDLE, which no task waits for:
 * the next command ends it.
 */
static void
run_notify_arm(struct eng *e, struct task *t, int rearm)
{
	struct ipc_buf buf;
	struct mbox *inbox;
	struct peer *p;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = &e->peer[s];
		switch (p->wait) {
		case PEER_WAIT_NOTIFY:
			if (p->armed && !rearm)
				break;
			if (p->armed) {
				ipc_buf_init(&buf);
				ipc_put_u32(&buf, IMAP_NOTIFY_NONE);
				ipc_put_u32(&buf, 0);
				(void)netc_send(p, t, IMSG_IMAP_NOTIFY, &buf,
				    NULL, NULL, netc_done_ok, NULL);
				ipc_buf_free(&buf);
			}
			ipc_buf_init(&buf);
			ipc_put_u32(&buf, IMAP_NOTIFY_EVENTS);
			ipc_put_u32(&buf, 0);
			(void)netc_send(p, t, IMSG_IMAP_NOTIFY, &buf, NULL,
			    NULL, netc_done_ok, NULL);
			ipc_buf_free(&buf);
			p->armed = 1;
			break;
		case PEER_WAIT_IDLE:
			if (rearm)
				break;	/* the listing comes first */
			inbox = mbox_find(e, "INBOX", 5);
			if (inbox != NULL && inbox->sync) {
				netc_select(p, t, inbox, NULL, NULL)->done =
				    netc_done_ok;
			}
			ipc_buf_init(&buf);
			/* Its answer comes when the next command ends it. */
			(void)netc_send(p, NULL, IMSG_IMAP_IDLE, &buf, NULL,
			    NULL, NULL, NULL);
			ipc_buf_free(&buf);
			break;
		default:
			break;
		}
	}
}

/* The wait between passes, in seconds: at most 25 minutes under
 * --notify (a server ends an IDLE or a silent session after 30). */
static unsigned int
run_interval_s(const struct eng *e)
{
	if ((e->conf->flags & ENGINE_CONF_NOTIFY) && e->conf->watch > 1500)
		return 1500;
	return e->conf->watch;
}

static uint64_t
run_interval(const struct eng *e)
{
	return (uint64_t)run_interval_s(e) * 1000;
}

void
run_notified(struct eng *e)
{
	if (!(e->conf->flags & ENGINE_CONF_NOTIFY))
		return;
	e->notified = 1;
	run_wake(e);
}

/* --watch (or --notify): the run goes on after a pass. */
static int
run_watching(const struct eng *e)
{
	return (e->conf->flags & (ENGINE_CONF_WATCH | ENGINE_CONF_NOTIFY)) &&
	    e->conf->watch > 0;
}

static int
run_idle(const struct eng *e)
{
	size_t k;

	for (k = 0; k < e->nlanes; k++)
		if (e->lane[k][SIDE_LOCAL]->inflight != 0 ||
		    e->lane[k][SIDE_REMOTE]->inflight != 0)
			return 0;
	/* A lane asked for and still coming up: jobs may wait for it. */
	if (lease_lanes_coming(e))
		return 0;
	return e->dbhead == NULL && e->runq == NULL && e->timer_task == NULL;
}

int
sync_run(struct eng *e)
{
	struct run run;

	memset(&run, 0, sizeof(run));
	task_init(&run.t, "the run", run_step, NULL);
	run.e = e;
	e->run = &run;
	if (e->jobs_max == 0)
		e->jobs_max = ENG_JOBS_MAX;
	/* A job for each lane, and one loading its mapping meanwhile. */
	if (e->jobs_max < e->nlanes + 1)
		e->jobs_max = e->nlanes + 1;
	if (run_watching(e))
		run_status(e, ENGINE_ST_SYNCING);
	task_run(&run.t);
	while (!e->finished) {
		if (eng_run_woken(e))
			continue;
		/*
		 * Nothing in flight, nothing to run, and not over: no answer
		 * will ever come.  The engine's own bug: say so, not hang.
		 */
		if (run_idle(e) && e->peer[SIDE_LOCAL].ready &&
		    e->peer[SIDE_REMOTE].ready) {
			run_stall_report(e);
			fatalx(EXIT_CHILD, "engine: internal error: stalled "
			    "(run state %d, %zu job(s))", run.t.state,
			    e->njobs);
		}
		eng_poll(e);
	}
	e->run = NULL;
	return e->code;
}
