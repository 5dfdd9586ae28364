/*
 * Mailbox jobs (eng.h): the synchronisation of one mailbox as a state
 * machine, the scheduler that runs several at once, the lease of the
 * server connections, and the log that keeps each mailbox's lines
 * together.
 *
 * A job's own states follow the reference's main loop for one mailbox
 * (REFERENCE-BEHAVIOUR §6.3-6.5):
 *
 *	START	load the UID mapping from the database
 *	LEASE	wait for the connections (one per server today)
 *	SELECT	SELECT both sides at once, QRESYNC from the last synced
 *		state, with the sample; where LIST-STATUS says only one
 *		side can have new messages, their FETCH goes too
 *		(xfer.c), and where both sides have some, the FETCH of
 *		the copies' candidates (adopt.c)
 *	SELECTED  a resumed sync goes through resume.c, a --repair
 *		through repair.c (then straight to MESSAGES); a known mailbox
 *		propagates its known changes (known.c) and stores both
 *		HIGHESTMODSEQs if anything was found
 *	MESSAGES  copies recognised (adopt.c), then new messages remote ->
 *		local and local -> remote (xfer.c), again while the local
 *		pass gave remote new mail; known changes once more; the new
 *		UIDNEXT and HIGHESTMODSEQ of both sides stored and
 *		committed; again from MESSAGES while the mailbox is dirty
 *	END	the connections go to the next job
 *
 * Jobs start in the order they were queued (mailbox order) and at most
 * eng->jobs_max are in flight.  The commands that need a mailbox
 * selected go through a lease: a job holds the connection to each
 * server from its SELECT to its END, so one mailbox's commands are not
 * interleaved with another's on a connection (a job waiting for the
 * lease has loaded its mapping meanwhile).  Except for the first sync
 * of a mailbox whose messages are all on one side (j->lend), where the
 * round trip between one mailbox's answer and the next one's SELECT is
 * most of the time: such a job lends the source side once its SELECT
 * and FETCH are sent, and the target side once its last APPEND is, so
 * that the next such jobs' commands follow on the wire at once
 * (job_select_shared()).  Whatever a job sends later where another
 * mailbox has been selected since is preceded by a SELECT of its own
 * (netc_send()), so that every answer is about the mailbox it
 * concerns.  A job's lines are logged at once while it is the oldest
 * job in flight; a later job's lines wait, in order, until every job
 * started before it is over.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

enum {
	J_START = 0,
	J_LEASE,
	J_SELECT,
	J_SELECTED,
	J_KNOWN_DONE,
	J_MESSAGES,
	J_PASS_REMOTE,
	J_PASS_LOCAL,
	J_PASSES_DONE,
	J_STORE,
	J_CHECK,
	J_END,
};

struct job_log {
	struct job_log	*next;
	int		 level;
	char		*name;
	char		*mbox;
	char		*text;
};

static void	 job_step(struct task *);
static void	 job_fin(struct task *);
static void	 job_select_done(struct req *);
static void	 jobs_reap(struct eng *);
static void	 job_log_flush(struct job *);
static void	 lease_more(struct eng *);
static int	 job_select_shared(struct job *);

/* ------------------------------------------------------------------ */
/* The log. */

void
jlog(struct job *j, int level, const char *name, const char *mbox,
    const char *fmt, ...)
{
	struct job_log *l;
	va_list ap;
	char *text;

	if ((level == LOG_LVL_DEBUG && log_debug_level() == 0) ||
	    (level == LOG_LVL_AUDIT && !log_audit()))
		return;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatalx(EXIT_FAIL, "engine: out of memory");
	va_end(ap);
	if (j == NULL || j->e->jobs == j) {
		log_msg(level, name, mbox, "%s", text);
		free(text);
		return;
	}
	l = eng_calloc(1, sizeof(*l));
	l->level = level;
	l->name = name != NULL ? eng_strdup(name) : NULL;
	l->mbox = mbox != NULL ? eng_strdup(mbox) : NULL;
	l->text = text;
	if (j->logtail != NULL)
		j->logtail->next = l;
	else
		j->log = l;
	j->logtail = l;
}

static void
job_log_flush(struct job *j)
{
	struct job_log *l, *next;

	for (l = j->log; l != NULL; l = next) {
		next = l->next;
		log_msg(l->level, l->name, l->mbox, "%s", l->text);
		free(l->name);
		free(l->mbox);
		free(l->text);
		free(l);
	}
	j->log = j->logtail = NULL;
}

void
jobs_flush_logs(struct eng *e)
{
	struct job *j;

	for (j = e->jobs; j != NULL; j = j->next)
		job_log_flush(j);
}

/* ------------------------------------------------------------------ */
/* The scheduler. */

void
jobs_queue(struct eng *e, struct mbox *mb, enum job_kind kind)
{
	if (e->nqueue == e->capqueue) {
		e->capqueue = e->capqueue ? e->capqueue * 2 : 64;
		e->queue = eng_reallocarray(e->queue, e->capqueue,
		    sizeof(*e->queue));
		e->queue_kind = eng_reallocarray(e->queue_kind, e->capqueue,
		    sizeof(*e->queue_kind));
	}
	e->queue[e->nqueue] = mb;
	e->queue_kind[e->nqueue] = kind;
	e->nqueue++;
	mb->queued = 1;		/* one job at a time for a mailbox */
	progress_queued(e, mb);
}

static size_t
jobs_running(const struct eng *e)
{
	const struct job *j;
	size_t n = 0;

	for (j = e->jobs; j != NULL; j = j->next)
		if (!j->finished)
			n++;
	return n;
}

int
jobs_busy(struct eng *e)
{
	struct job *j;
	struct mbox *mb;
	size_t max = e->jobs_max > 0 ? e->jobs_max : 1;

	while (e->queue_off < e->nqueue && jobs_running(e) < max) {
		mb = e->queue[e->queue_off];
		j = eng_calloc(1, sizeof(*j));
		task_init(&j->t, "mailbox job", job_step, job_fin);
		j->e = e;
		j->mb = mb;
		j->kind = e->queue_kind[e->queue_off];
		e->queue_off++;
		map_init(&j->map);
		if (e->jobstail != NULL)
			e->jobstail->next = j;
		else
			e->jobs = j;
		e->jobstail = j;
		e->njobs++;
		mb->job = j;
		mb->queued = 0;
		e->pass_jobs++;
		eng_wake(e, &j->t);
	}
	if (e->queue_off == e->nqueue) {
		e->nqueue = e->queue_off = 0;
	}
	return e->jobs != NULL || e->queue_off < e->nqueue;
}

/* Drops finished jobs from the head: the next one owns the log. */
static void
jobs_reap(struct eng *e)
{
	struct job *j;

	while ((j = e->jobs) != NULL && j->finished) {
		job_log_flush(j);
		e->jobs = j->next;
		if (e->jobs == NULL)
			e->jobstail = NULL;
		e->njobs--;
		free(j);
		if (e->jobs != NULL)
			job_log_flush(e->jobs);
	}
}

/* ------------------------------------------------------------------ */
/* The lease. */

/* Lane k's connections are both up. */
static int
lane_up(struct eng *e, size_t k)
{
	return !e->lane[k][SIDE_LOCAL]->dead &&
	    !e->lane[k][SIDE_REMOTE]->dead &&
	    e->lane[k][SIDE_LOCAL]->ready && e->lane[k][SIDE_REMOTE]->ready;
}

/*
 * The lane for j, or NULL: one both of whose connections are up and
 * free, lane 0 first (with one job at a time, everything goes over one
 * connection per server, as with the reference).  A sharing job
 * (j->lend) also takes a lane whose job no longer needs its source
 * side to itself (it lent it), or its target side: it sends its SELECT
 * on each side as that side comes free (job_select_shared()).
 */
static struct peer **
lease_lane(struct eng *e, const struct job *j)
{
	size_t k;

	for (k = 0; k < e->nlanes; k++)
		if (lane_up(e, k) &&
		    e->lane[k][SIDE_LOCAL]->holder == NULL &&
		    e->lane[k][SIDE_REMOTE]->holder == NULL)
			return e->lane[k];
	if (!j->lend)
		return NULL;
	for (k = 0; k < e->nlanes; k++)
		if (lane_up(e, k) && e->lane[k][j->lsrc]->holder == NULL)
			return e->lane[k];
	for (k = 0; k < e->nlanes; k++)
		if (lane_up(e, k) && e->lane[k][OTHER(j->lsrc)]->holder == NULL)
			return e->lane[k];
	return NULL;
}

/* Out of the queue of jobs waiting for a lease, if it is there. */
static void
lease_unqueue(struct job *j)
{
	struct eng *e = j->e;
	struct job *w, **pw;

	for (pw = &e->lwait; (w = *pw) != NULL; pw = &w->wnext)
		if (w == j) {
			*pw = w->wnext;
			if (e->lwaittail == w) {
				e->lwaittail = NULL;
				for (w = e->lwait; w != NULL; w = w->wnext)
					e->lwaittail = w;
			}
			break;
		}
	j->wnext = NULL;
}

/* At the end of the queue of jobs waiting for a lease, if not there. */
static void
lease_queue(struct job *j)
{
	struct eng *e = j->e;
	struct job *w;

	for (w = e->lwait; w != NULL; w = w->wnext)
		if (w == j)
			return;
	j->wnext = NULL;
	if (e->lwaittail != NULL)
		e->lwaittail->wnext = j;
	else
		e->lwait = j;
	e->lwaittail = j;
}

int
lease_acquire(struct job *j)
{
	struct eng *e = j->e;
	struct peer **lane;

	if (j->p[SIDE_LOCAL] != NULL)
		return 1;
	/* First come, first served. */
	if ((e->lwait == NULL || e->lwait == j) &&
	    (lane = lease_lane(e, j)) != NULL) {
		lease_unqueue(j);
		j->p[SIDE_LOCAL] = lane[SIDE_LOCAL];
		j->p[SIDE_REMOTE] = lane[SIDE_REMOTE];
		/* A sharing job takes each side as it SELECTs there. */
		if (!j->lend)
			lane[SIDE_LOCAL]->holder = lane[SIDE_REMOTE]->holder =
			    j;
		/* The next in line may find another lane free. */
		lease_wake(e);
		return 1;
	}
	lease_queue(j);
	j->t.waiting = 1;
	lease_more(e);
	return 0;
}

/*
 * Jobs wait for a lane: priv is asked to connect as many lanes as there
 * are jobs leased, waiting or queued (up to the run's), so that a run
 * with one job, or none, opens one connection to each server.
 */
static void
lease_more(struct eng *e)
{
	struct ipc_buf buf;
	struct job *j;
	size_t n = e->nqueue - e->queue_off;

	if (e->lanes_asked >= e->nlanes)
		return;
	for (j = e->jobs; j != NULL && n < e->nlanes; j = j->next)
		if (!j->finished)
			n++;
	if (n > e->nlanes)
		n = e->nlanes;
	if (n < 2 || n <= e->lanes_asked)
		return;
	e->lanes_asked = n;
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, (uint32_t)n);
	if (ipc_send(e->parent, IMSG_ENGINE_LANES, SIDE_NONE, -1, &buf) == -1)
		fatalx(EXIT_CHILD, "%s", e->parent->err);
	ipc_buf_free(&buf);
}

void
lease_release(struct job *j)
{
	uint32_t s;

	lease_unqueue(j);
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		if (j->p[s] != NULL && j->p[s]->holder == j)
			j->p[s]->holder = NULL;
	lease_wake(j->e);
}

void
lease_lend(struct job *j, uint32_t s)
{
	j->lent |= 1U << s;
	if (j->p[s] == NULL || j->p[s]->holder != j)
		return;
	j->p[s]->holder = NULL;
	lease_wake(j->e);
}

int
lease_drop(struct eng *e, size_t k, uint32_t s)
{
	struct peer *l = e->lane[k][SIDE_LOCAL], *r = e->lane[k][SIDE_REMOTE];
	struct job *j;

	if (k == 0 || l->holder != NULL || r->holder != NULL ||
	    l->inflight != 0 || r->inflight != 0)
		return 0;
	/* A job that lent its sides may still have commands to send. */
	for (j = e->jobs; j != NULL; j = j->next)
		if (!j->finished && j->p[SIDE_LOCAL] == l)
			return 0;
	l->dead = r->dead = 1;
	log_msg(LOG_LVL_DEBUG, "engine", NULL, "%s gone between jobs: its "
	    "lane is no longer used", ipc_net_label(s, (uint32_t)k));
	return 1;
}

void
lease_wake(struct eng *e)
{
	struct job *j;
	uint32_t s;

	/*
	 * Sharing jobs on their lane waiting for a side to SELECT on,
	 * oldest first: at once, even with their other side's answers
	 * still to come (their step would wait for them), so that the next
	 * job follows as soon, and before any answer to a later job can
	 * need the side.
	 */
	for (j = e->jobs; j != NULL; j = j->next) {
		if (j->finished || !j->lend || j->p[SIDE_LOCAL] == NULL ||
		    (j->started[SIDE_LOCAL] && j->started[SIDE_REMOTE]))
			continue;
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			if (!j->started[s] && j->p[s]->holder == NULL &&
			    j->p[s]->appending == NULL)
				break;
		if (s <= SIDE_REMOTE && job_select_shared(j))
			eng_wake(e, &j->t);
	}
	j = e->lwait;
	if (j != NULL && j->t.waiting && lease_lane(e, j) != NULL)
		eng_wake(e, &j->t);
}

void
lease_batch_closed(struct eng *e)
{
	struct job *j;

	for (j = e->jobs; j != NULL; j = j->next)
		if (j->batch_wait && !j->finished) {
			j->batch_wait = 0;
			eng_wake(e, &j->t);
		}
	lease_wake(e);
}

void
lease_selected(struct job *j, uint32_t s)
{
	j->started[s] = 1;
	/* A sharing job's side is its own until lent. */
	if (j->lend && j->p[s] != NULL && j->p[s]->holder == NULL &&
	    !(j->lent & (1U << s)))
		j->p[s]->holder = j;
}

/* ------------------------------------------------------------------ */
/* The job. */

void
job_state_init(struct job *j)
{
	struct mbox *mb = j->mb;

	if (mb->has_state)
		return;
	/* Not committed by itself: with the first write group (§5.4). */
	dbc_state_init(j->e, mb->idx, mb->cache[SIDE_LOCAL].uidvalidity,
	    mb->cache[SIDE_REMOTE].uidvalidity);
	mb->has_state = 1;
}

/*
 * A mailbox queued only because a server synced with CONDSTORE may not
 * raise HIGHESTMODSEQ for an expunge (run.c's run_queue_dirty()), whose
 * mapping is now loaded: nothing changed if neither side is dirty and
 * every such server's MESSAGES, from this listing, is the number of
 * pairs.  An expunge lowers MESSAGES, and only a new message, which
 * moves UIDNEXT, raises it again.  Then the job ends without a SELECT.
 */
static int
job_unchanged(struct job *j)
{
	struct mbox *mb = j->mb;
	const struct mcache *c;
	uint32_t s;
	int cond = 0;

	if (j->kind != JOB_SYNC || !mb->known || !mb->has_state)
		return 0;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		if (netc_is_dirty(&j->e->peer[s], mb))
			return 0;
		/* Its flag changes show only in the flags themselves. */
		if (j->e->peer[s].caps & IMAP_CAP_PLAIN_SYNC)
			return 0;
		if (!(j->e->peer[s].caps & IMAP_CAP_CONDSTORE_SYNC))
			continue;
		c = &mb->cache[s];
		if (!(c->has & MC_MESSAGES) || c->messages != map_count(&j->map))
			return 0;
		cond = 1;
	}
	return cond;
}

static void
job_select_done(struct req *r)
{
	if (r->status != IMAP_DONE_OK)
		netc_fail_req(r);
}

/*
 * Jobs share a lane only with servers that speak QRESYNC and UIDPLUS
 * themselves: net's CONDSTORE and plain emulations follow one selected
 * mailbox at a time, and without APPENDUID a copy's UID is looked for
 * in the mailbox selected.
 */
static int
job_can_share(const struct eng *e)
{
	uint32_t s, caps;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		caps = e->peer[s].caps;
		if (!(caps & IMAP_CAP_QRESYNC) || !(caps & IMAP_CAP_UIDPLUS) ||
		    (caps & (IMAP_CAP_CONDSTORE_SYNC | IMAP_CAP_PLAIN_SYNC)))
			return 0;
	}
	return 1;
}

/*
 * J_SELECT of a sharing job (j->lend): the SELECT on each side whose
 * connection no earlier job holds any more, with the FETCH of the
 * messages on the source side; 0 while a side waits.  Once both are
 * sent, the source side is lent at once: the next mailbox's SELECT and
 * FETCH go right behind this one's, instead of a round trip after its
 * answer.  The target side is lent once the last APPEND is sent
 * (xfer_fetch_done()): the next job's copies then go right behind.  A
 * side may already have been SELECTed by netc, for a copy whose body
 * came before this step could run (j->started).
 */
static int
job_select_shared(struct job *j)
{
	struct mbox *mb = j->mb;
	struct peer *p;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = j->p[s];
		if (j->started[s] || (p->holder != NULL && p->holder != j) ||
		    p->appending != NULL)
			continue;
		p->holder = j;
		netc_select(p, &j->t, mb, NULL, NULL)->done = job_select_done;
		if (s == j->lsrc)
			xfer_prefetch(j);
	}
	if (!j->started[SIDE_LOCAL] || !j->started[SIDE_REMOTE]) {
		/* lease_wake() comes back when a side is free. */
		j->t.waiting = 1;
		return 0;
	}
	lease_lend(j, j->lsrc);
	return 1;
}

static void
job_step(struct task *t)
{
	struct job *j = (struct job *)t;
	struct eng *e = j->e;
	struct mbox *mb = j->mb;
	struct mcache *pl = &mb->pcache[SIDE_LOCAL];
	struct mcache *pr = &mb->pcache[SIDE_REMOTE];
	char *seq[2], *uids[2];
	uint32_t s;

	for (;;) {
		if (t->pending > 0 || t->waiting || t->done)
			return;
		/*
		 * Another job's APPEND batch is being sent on a connection of
		 * ours (jobs sharing a lane): nothing can go there before its
		 * end (lease_batch_closed()).
		 */
		if ((j->p[SIDE_LOCAL] != NULL &&
		    j->p[SIDE_LOCAL]->appending != NULL) ||
		    (j->p[SIDE_REMOTE] != NULL &&
		    j->p[SIDE_REMOTE]->appending != NULL)) {
			j->batch_wait = 1;
			t->waiting = 1;
			return;
		}
		if (t->state >= JOB_SUB) {
			if (t->state < XFER_SUB && j->known != NULL)
				known_step(j);
			else if (t->state >= XFER_SUB &&
			    t->state < ADOPT_SUB && j->x != NULL)
				xfer_step(j);
			else if (t->state >= ADOPT_SUB &&
			    t->state < RESUME_SUB && j->adopt != NULL)
				adopt_step(j);
			else if (t->state >= RESUME_SUB &&
			    t->state < REPAIR_SUB && j->resume != NULL)
				resume_step(j);
			else if (t->state >= REPAIR_SUB && j->repair != NULL)
				repair_step(j);
			else
				fatalx(EXIT_CHILD, "engine: internal error: "
				    "job state %d without its machine",
				    t->state);
			continue;
		}
		switch (t->state) {
		case J_START:
			if (j->kind == JOB_RESUME)
				jlog(j, LOG_LVL_NOTICE, NULL, NULL, "Resuming "
				    "interrupted sync for %s", mb->pretty);
			t->state = J_LEASE;
			if (mb->idx != 0 && mb->has_state)
				dbc_map_load(e, j);
			break;

		case J_LEASE:
			if (job_unchanged(j)) {
				jlog(j, LOG_LVL_DEBUG, NULL, NULL, "%s: as many "
				    "messages as pairs (%zu), nothing to do",
				    mb->pretty, map_count(&j->map));
				j->e->pass_jobs--;
				t->state = J_END;
				break;
			}
			if (j->p[SIDE_LOCAL] == NULL && !j->lend)
				j->lend = j->kind == JOB_SYNC && !mb->known &&
				    job_can_share(e) &&
				    xfer_prefetch_side(j, &j->lsrc);
			if (!lease_acquire(j))
				return;
			t->state = J_SELECT;
			break;

		case J_SELECT:
			if (mb->idx == 0)
				eng_fail(e, EXIT_FAIL, NULL, NULL, "internal "
				    "error: mailbox %s has no database index",
				    mb->pretty);
			if (j->lend) {
				if (!job_select_shared(j))
					return;
				t->state = J_SELECTED;
				break;
			}
			if (j->kind == JOB_RESUME) {
				/*
				 * From the last synced state, with QRESYNC:
				 * what changed on old messages since is not
				 * lost (§9.11).
				 */
				for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
					netc_set_pcache(j->p[s], mb,
					    MC_UIDVALIDITY | MC_UIDNEXT |
					    MC_HMS, mb->db_uidvalidity[s],
					    mb->db_uidnext[s], mb->db_hms[s]);
			}
			for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
				/* --repair fetches everything: no sample. */
				seq[s] = uids[s] = NULL;
				if (j->kind != JOB_REPAIR)
					map_sample(&j->map, s, &seq[s],
					    &uids[s]);
				netc_select(j->p[s], t, mb, seq[s],
				    uids[s])->done = job_select_done;
				free(seq[s]);
				free(uids[s]);
			}
			if (j->kind == JOB_SYNC) {
				xfer_prefetch(j);
				adopt_prefetch(j);
			}
			t->state = J_SELECTED;
			break;

		case J_SELECTED:
			if (j->kind == JOB_RESUME) {
				resume_start(j, J_MESSAGES);
				break;
			}
			if (j->kind == JOB_REPAIR) {
				/* Then sync_messages, as the reference. */
				repair_start(j, J_MESSAGES);
				break;
			}
			if (!mb->known) {
				/* The rows go with the first commit. */
				mb->known = 1;
				t->state = J_MESSAGES;
				break;
			}
			known_start(j, J_KNOWN_DONE);
			break;

		case J_KNOWN_DONE:
			if (j->found) {
				dbc_state_set(e, mb->idx, DB_SET_MODSEQ_LOCAL |
				    DB_SET_MODSEQ_REMOTE, 0, pl->hms, 0,
				    pr->hms);
				pflags_flush(j);
				dbc_commit(e);
			}
			t->state = J_MESSAGES;
			break;

		case J_MESSAGES:
			adopt_start(j, J_PASS_REMOTE);
			break;

		case J_PASS_REMOTE:
			/* Remote's new mail first, as the reference. */
			j->again = 0;
			xfer_start(j, SIDE_REMOTE, J_PASS_LOCAL);
			break;

		case J_PASS_LOCAL:
			xfer_start(j, SIDE_LOCAL, J_PASSES_DONE);
			break;

		case J_PASSES_DONE:
			if (j->again) {
				t->state = J_PASS_REMOTE;
				break;
			}
			known_start(j, J_STORE);
			break;

		case J_STORE:
			/* Never before the mappings of the copies. */
			job_state_init(j);
			dbc_state_set(e, mb->idx, DB_SET_UIDNEXT_LOCAL |
			    DB_SET_MODSEQ_LOCAL | DB_SET_UIDNEXT_REMOTE |
			    DB_SET_MODSEQ_REMOTE, pl->uidnext, pl->hms,
			    pr->uidnext, pr->hms);
			pflags_flush(j);
			dbc_commit(e);
			uidvec_free(&j->ignore[SIDE_LOCAL]);
			uidvec_free(&j->ignore[SIDE_REMOTE]);
			t->state = J_CHECK;
			break;

		case J_CHECK:
			if (netc_is_dirty(j->p[SIDE_LOCAL], mb) ||
			    netc_is_dirty(j->p[SIDE_REMOTE], mb)) {
				t->state = J_MESSAGES;
				break;
			}
			t->state = J_END;
			break;

		case J_END:
			lease_release(j);
			t->done = 1;
			return;

		default:
			fatalx(EXIT_CHILD, "engine: internal error: job "
			    "state %d", t->state);
		}
	}
}

static void
job_fin(struct task *t)
{
	struct job *j = (struct job *)t;
	struct eng *e = j->e;

	j->mb->job = NULL;
	map_free(&j->map);
	pflags_free(j);
	uidvec_free(&j->ignore[SIDE_LOCAL]);
	uidvec_free(&j->ignore[SIDE_REMOTE]);
	if (j->pre != NULL)
		xfer_free(j->pre);
	j->pre = NULL;
	adopt_free(j->apre);
	j->apre = NULL;
	j->finished = 1;
	progress_job_done(e);
	jobs_reap(e);
	/* Room for the next job, or the run's end. */
	(void)jobs_busy(e);
	run_wake(e);
}
