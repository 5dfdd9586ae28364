/*
 * Mailbox jobs (eng.h): the synchronisation of one mailbox as a state
 * machine, the scheduler that runs several at once, and the log that
 * keeps each mailbox's lines together.
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
 * selected go through the lease of the connections (lease.c), which
 * lets the next mailbox's SELECT follow at once where the servers allow.
 * A job's lines are logged at once while it is the oldest job in
 * flight; a later job's lines wait, in order, until every job started
 * before it is over.
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
	J_CONFIRM,
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
static void	 jobs_reap(struct eng *);
static void	 job_log_flush(struct job *);

/* ------------------------------------------------------------------ */
/* The log. */

static void
jlog_add(struct job_logs *ll, int level, const char *name, const char *mbox,
    char *text)
{
	struct job_log *l;

	l = eng_calloc(1, sizeof(*l));
	l->level = level;
	l->name = name != NULL ? eng_strdup(name) : NULL;
	l->mbox = mbox != NULL ? eng_strdup(mbox) : NULL;
	l->text = text;
	if (ll->tail != NULL)
		ll->tail->next = l;
	else
		ll->head = l;
	ll->tail = l;
}

/*
 * A line of the job's: said now by the head job (the oldest running),
 * kept for later by the others, so that each mailbox's lines come
 * together.  With hold, kept there until jlog_release() instead: the
 * lines of a pass run ahead of its turn (xfer_early()).
 */
static void
jlogv(struct job *j, struct job_logs *hold, int level, const char *name,
    const char *mbox, const char *fmt, va_list ap)
{
	char *text;

	if ((level == LOG_LVL_DEBUG && log_debug_level() == 0) ||
	    (level == LOG_LVL_AUDIT && !log_audit()))
		return;
	if (vasprintf(&text, fmt, ap) == -1)
		fatalx(EXIT_FAIL, "engine: out of memory");
	if (hold != NULL)
		jlog_add(hold, level, name, mbox, text);
	else if (j == NULL || j->e->jobs == j) {
		log_msg(level, name, mbox, "%s", text);
		free(text);
	} else
		jlog_add(&j->logs, level, name, mbox, text);
}

void
jlog(struct job *j, int level, const char *name, const char *mbox,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	jlogv(j, NULL, level, name, mbox, fmt, ap);
	va_end(ap);
}

void
jlog_to(struct job *j, struct job_logs *hold, int level, const char *name,
    const char *mbox, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	jlogv(j, hold, level, name, mbox, fmt, ap);
	va_end(ap);
}

/* The lines held in *hold, in order, as if said now. */
void
jlog_release(struct job *j, struct job_logs *hold)
{
	if (hold->head == NULL)
		return;
	if (j->logs.tail != NULL)
		j->logs.tail->next = hold->head;
	else
		j->logs.head = hold->head;
	j->logs.tail = hold->tail;
	hold->head = hold->tail = NULL;
	if (j->e->jobs == j)
		job_log_flush(j);
}

static void
job_logs_free(struct job_logs *ll)
{
	struct job_log *l, *next;

	for (l = ll->head; l != NULL; l = next) {
		next = l->next;
		free(l->name);
		free(l->mbox);
		free(l->text);
		free(l);
	}
	ll->head = ll->tail = NULL;
}

static void
job_log_flush(struct job *j)
{
	struct job_log *l;

	for (l = j->logs.head; l != NULL; l = l->next)
		log_msg(l->level, l->name, l->mbox, "%s", l->text);
	job_logs_free(&j->logs);
}

void
jobs_flush_logs(struct eng *e)
{
	struct job *j;

	for (j = e->jobs; j != NULL; j = j->next) {
		/* A pass ahead of its turn whose turn never came. */
		if (j->pre != NULL)
			xfer_release_log(j->pre);
		job_log_flush(j);
	}
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
 * The rows a job holds for its next write group of the state: the flags
 * kept of a side synced plain (pflags.c), then the deletion of the
 * mapping rows its expunges made obsolete (known.c).  Called with the
 * HIGHESTMODSEQs, right before their commit: a run cut short before it
 * leaves rows and HIGHESTMODSEQ as they were, so the next run is told
 * of those expunges again and finds the rows they match, where a
 * deletion committed alone (with another job's APPEND batch, say) left
 * the next run "No match for vanished UID(s)".  Also called before
 * copies replace rows it deletes (known.c, §9.8's restore), so that the
 * deletion goes with their batch's commit.
 */
void
job_flush(struct job *j)
{
	pflags_flush(j);
	if (j->mapdel.n == 0)
		return;
	uidvec_sort_uniq(&j->mapdel);
	dbc_map_del(j->e, j->mb->idx, SIDE_LOCAL, j->mapdel.v, j->mapdel.n);
	uidvec_free(&j->mapdel);
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


/*
 * Dirty again after a whole round: there is more to do, which a round
 * finds.  Never more than a bound of rounds in a row that sent no
 * command: such a round changes nothing, and would come back here for
 * ever, at full speed and without a word (the engine's own bug).
 */
static void
job_recheck(struct job *j)
{
	uint32_t s, id[2];

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		id[s] = j->p[s] != NULL ? j->p[s]->next_id : 0;
	if (id[SIDE_LOCAL] != j->check_id[SIDE_LOCAL] ||
	    id[SIDE_REMOTE] != j->check_id[SIDE_REMOTE]) {
		j->check_id[SIDE_LOCAL] = id[SIDE_LOCAL];
		j->check_id[SIDE_REMOTE] = id[SIDE_REMOTE];
		j->rechecks = 0;
		return;
	}
	if (++j->rechecks > 64)
		eng_fail(j->e, EXIT_CHILD, NULL, NULL, "internal error: "
		    "%s stays dirty after %u rounds", j->mb->pretty,
		    j->rechecks - 1);
}

/* What was synchronised when the job SELECTs (known.c's j->vnew). */
static void
job_uidnext0(struct job *j)
{
	const struct mcache *pc;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		pc = &j->mb->pcache[s];
		j->uidnext0[s] = (pc->has & MC_UIDNEXT) && pc->uidnext > 0 ?
		    pc->uidnext : 1;
	}
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
			if (j->p[SIDE_LOCAL] == NULL && !j->lend &&
			    !j->share) {
				j->lend = j->kind == JOB_SYNC && !mb->known &&
				    lease_can_share(e) &&
				    xfer_prefetch_side(j, &j->lsrc);
				j->share = j->kind == JOB_SYNC && mb->known &&
				    lease_can_share(e);
			}
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
				job_uidnext0(j);
				if (!lease_select_shared(j))
					return;
				t->state = J_SELECTED;
				break;
			}
			/* Its FETCH would have to wait: so does its SELECT. */
			if (j->kind == JOB_SYNC && xfer_prefetch_wait(j))
				return;
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
			job_uidnext0(j);
			for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
				/* --repair fetches everything: no sample. */
				seq[s] = uids[s] = NULL;
				if (j->kind != JOB_REPAIR)
					map_sample(&j->map, s, &seq[s],
					    &uids[s]);
				netc_select(j->p[s], t, mb, seq[s],
				    uids[s])->done = netc_done_ok;
				free(seq[s]);
				free(uids[s]);
			}
			if (j->kind == JOB_SYNC) {
				xfer_prefetch(j);
				adopt_prefetch(j);
			}
			if (j->share) {
				/* The next mailbox's SELECTs may follow. */
				lease_lend(j, SIDE_LOCAL);
				lease_lend(j, SIDE_REMOTE);
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
				job_flush(j);
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
			/*
			 * A live HIGHESTMODSEQ ahead of what was reported (a
			 * [HIGHESTMODSEQ] that came with a command of ours)
			 * is confirmed by a NOOP where the mailbox is still
			 * selected (netc_confirm()), before the round that
			 * takes what was reported; elsewhere J_CHECK SELECTs
			 * again.
			 */
			(void)netc_confirm(j->p[SIDE_LOCAL], t, mb);
			(void)netc_confirm(j->p[SIDE_REMOTE], t, mb);
			t->state = J_CONFIRM;
			break;

		case J_CONFIRM:
			known_start(j, J_STORE);
			break;

		case J_STORE:
			/* Never before the mappings of the copies. */
			job_state_init(j);
			dbc_state_set(e, mb->idx, DB_SET_UIDNEXT_LOCAL |
			    DB_SET_MODSEQ_LOCAL | DB_SET_UIDNEXT_REMOTE |
			    DB_SET_MODSEQ_REMOTE, pl->uidnext, pl->hms,
			    pr->uidnext, pr->hms);
			job_flush(j);
			dbc_commit(e);
			uidvec_free(&j->ignore[SIDE_LOCAL]);
			uidvec_free(&j->ignore[SIDE_REMOTE]);
			t->state = J_CHECK;
			break;

		case J_CHECK:
			if (netc_is_dirty(j->p[SIDE_LOCAL], mb) ||
			    netc_is_dirty(j->p[SIDE_REMOTE], mb)) {
				job_recheck(j);
				/*
				 * Changed beyond what was reported (a NOTIFY
				 * STATUS while another mailbox was selected,
				 * the [HIGHESTMODSEQ] of a command of ours not
				 * confirmed): SELECTed again, for the reports
				 * of what changed.
				 */
				for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
					if (netc_unreported(j->p[s], mb))
						netc_reselect(j->p[s], t, mb,
						    "for what changed meanwhile");
				t->state = J_MESSAGES;
				break;
			}
			j->rechecks = 0;
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
	uidvec_free(&j->removed[SIDE_LOCAL]);
	uidvec_free(&j->removed[SIDE_REMOTE]);
	uidvec_free(&j->mapdel);
	uidranges_free(&j->vgone[SIDE_LOCAL]);
	uidranges_free(&j->vgone[SIDE_REMOTE]);
	uidranges_free(&j->vnew[SIDE_LOCAL]);
	uidranges_free(&j->vnew[SIDE_REMOTE]);
	modtab_free(&j->mnew[SIDE_LOCAL]);
	modtab_free(&j->mnew[SIDE_REMOTE]);
	free(j->copies[SIDE_LOCAL].v);
	free(j->copies[SIDE_REMOTE].v);
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
