/*
 * The lease of the server connections (eng.h): which mailbox job may
 * send the commands that need its mailbox selected, on which lane (a
 * pair of connections, one to each server), and when.
 *
 * A job holds the connection to each server from its SELECT to its END,
 * so one mailbox's commands are not interleaved with another's on a
 * connection (a job waiting for the lease has loaded its mapping
 * meanwhile).  Except where the round trip between one mailbox's answer
 * and the next one's SELECT is most of the time, with servers that
 * speak QRESYNC and UIDPLUS (jobs share the lane):
 *  - the first sync of a mailbox whose messages are all on one side
 *    (j->lend) lends the source side as soon as its SELECT and FETCH
 *    are sent, and the target side once its last APPEND is, so that the next
 *    such jobs' commands follow on the wire at once
 *    (lease_select_shared());
 *  - the sync of a known mailbox (j->share) lends both sides once its
 *    SELECTs (and the FETCHes that go with them) are sent.
 * Nothing goes between the messages of another job's APPEND batch: a
 * job's step waits for its end (job.c).  Copies go one way at a time
 * on a lane (xfer.c: xfer_may_copy()), whichever jobs they are of.
 * Whatever a job sends later where another mailbox has been selected
 * since is preceded by a SELECT of its own (netc_send()), so that every
 * answer is about the mailbox it concerns.
 */
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

static void	 lease_more(struct eng *);

/* Lane k's connections are both up. */
static int
lane_up(struct eng *e, size_t k)
{
	return !e->lane[k][SIDE_LOCAL]->dead &&
	    !e->lane[k][SIDE_REMOTE]->dead &&
	    e->lane[k][SIDE_LOCAL]->ready && e->lane[k][SIDE_REMOTE]->ready;
}

int
lease_lanes_coming(const struct eng *e)
{
	size_t k;

	for (k = 1; k < e->lanes_asked && k < e->nlanes; k++)
		if (!e->lane[k][SIDE_LOCAL]->dead &&
		    !e->lane[k][SIDE_REMOTE]->dead &&
		    (!e->lane[k][SIDE_LOCAL]->ready ||
		    !e->lane[k][SIDE_REMOTE]->ready))
			return 1;
	return 0;
}

/* Lane k is up and no job is on it. */
static int
lane_idle(struct eng *e, size_t k)
{
	const struct job *j;

	if (!lane_up(e, k) || e->lane[k][SIDE_LOCAL]->holder != NULL ||
	    e->lane[k][SIDE_REMOTE]->holder != NULL)
		return 0;
	for (j = e->jobs; j != NULL; j = j->next)
		if (!j->finished && j->p[SIDE_LOCAL] == e->lane[k][SIDE_LOCAL])
			return 0;
	return 1;
}

/*
 * The lane for j, or NULL: one no job is on, lane 0 first (with one job
 * at a time, everything goes over one connection per server, as with
 * the reference); else one whose jobs lent both sides (the lane is
 * shared), or, for the first sync of a mailbox whose messages are all
 * on one side (j->lend), one whose job no longer needs the source side
 * to itself, or the target side: it sends its SELECT on each side as
 * that side comes free (lease_select_shared()).
 */
static struct peer **
lease_lane(struct eng *e, const struct job *j)
{
	size_t k;

	for (k = 0; k < e->nlanes; k++)
		if (lane_idle(e, k))
			return e->lane[k];
	/*
	 * With more connections allowed (`connections'), a job waits for
	 * one of its own while those asked for are still coming up.
	 */
	if (lease_lanes_coming(e))
		return NULL;
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
	/* More lanes, if allowed, for the jobs that will follow. */
	lease_more(e);
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
	/* Jobs that waited for it to come up take another. */
	lease_wake(e);
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
		if (s <= SIDE_REMOTE && lease_select_shared(j))
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
lease_copy_done(struct eng *e)
{
	struct job *j;

	for (j = e->jobs; j != NULL; j = j->next)
		if (j->copy_wait && !j->finished) {
			j->copy_wait = 0;
			eng_wake(e, &j->t);
		}
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

/*
 * Jobs share a lane only with servers that speak QRESYNC and UIDPLUS
 * themselves: net's CONDSTORE and plain emulations follow one selected
 * mailbox at a time, and without APPENDUID a copy's UID is looked for
 * in the mailbox selected.
 */
int
lease_can_share(const struct eng *e)
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
 * messages on the source side; 0 while a side waits.  The source side
 * is lent as soon as its SELECT and FETCH are sent: the next mailbox's
 * go right behind, instead of a round trip after its answer.  The
 * target side is lent once the last APPEND is sent
 * (xfer_fetch_done()): the next job's copies then go right behind.  The
 * target side is taken only once the source side is started, so that a
 * job holds nothing while it waits.  A side may already have been
 * SELECTed by netc, for a copy whose body came before this step could
 * run (j->started).
 */
int
lease_select_shared(struct job *j)
{
	struct mbox *mb = j->mb;
	struct peer *p;
	uint32_t s, i;

	/* The source side first: see above. */
	for (i = 0; i < 2; i++) {
		s = i == 0 ? j->lsrc : OTHER(j->lsrc);
		p = j->p[s];
		if (j->started[s] || (p->holder != NULL && p->holder != j) ||
		    p->appending != NULL)
			continue;
		/*
		 * Not the target side before the source side: held while
		 * the source waits, it could be the one the job holding
		 * the source waits for (two first syncs the opposite way:
		 * each held its target side, and waited for the other's).
		 */
		if (s != j->lsrc && !j->started[j->lsrc])
			continue;
		/* Its FETCH would wait for the other side's copies. */
		if (s == j->lsrc && xfer_prefetch_wait(j))
			continue;
		p->holder = j;
		netc_select(p, &j->t, mb, NULL, NULL)->done = netc_done_ok;
		if (s == j->lsrc)
			xfer_prefetch(j);
	}
	/* Each answer comes after this one's; the target goes oldest first. */
	if (j->started[j->lsrc])
		lease_lend(j, j->lsrc);
	if (!j->started[SIDE_LOCAL] || !j->started[SIDE_REMOTE]) {
		/* lease_wake() comes back when a side is free. */
		j->t.waiting = 1;
		return 0;
	}
	return 1;
}

