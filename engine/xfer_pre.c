/*
 * Passes of new messages started ahead of their turn (xfer.c has the
 * passes themselves): their FETCH goes out before the step that would
 * send it, and the pass takes up its answer when its turn comes
 * (xfer_start(), j->pre).
 *
 *  - xfer_prefetch: where only one side can have new messages, their
 *    FETCH goes right behind the SELECT;
 *  - xfer_early: where both sides have new messages, the local pass's
 *    FETCH goes with the remote pass's, within a byte budget.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"
#include "xfer.h"

/*
 * The FETCH of one side's new messages sent right behind the SELECT,
 * since its answer is what that side's pass would ask for, when it is
 * known before the SELECT that no copy can be recognised (adopt.c),
 * i.e. the other side has nothing new:
 *  - the first sync of a mailbox one side of which is empty (as
 *    LIST-STATUS says, or not listed at all: we created it);
 *  - a known mailbox whose LIST-STATUS shows new messages on one side
 *    only (UIDNEXT moved there, not on the other side), with the
 *    UIDVALIDITY of the last synced state.
 * A round trip saved per such mailbox.  The copies then go out before
 * the known changes are propagated rather than after: each batch's
 * mapping rows are committed as its APPENDUID comes (§5.4), as in a
 * pass, and the known changes are read from the last synced
 * HIGHESTMODSEQ either way.  A UIDVALIDITY that changed after the LIST
 * fails the run before any answer to this FETCH is read (the SELECT's
 * answer comes first).
 */
int
xfer_prefetch_side(struct job *j, uint32_t *srcp)
{
	struct mbox *mb = j->mb;
	uint32_t s, src = SIDE_NONE;
	int lfull, rfull, n;

	if (!mb->known) {
		if (map_count(&j->map) > 0)
			return 0;
		lfull = !mb->listed[SIDE_LOCAL] ? 0 :
		    !(mb->cache[SIDE_LOCAL].has & MC_UIDNEXT) ? -1 :
		    mb->cache[SIDE_LOCAL].uidnext > 1;
		rfull = !mb->listed[SIDE_REMOTE] ? 0 :
		    !(mb->cache[SIDE_REMOTE].has & MC_UIDNEXT) ? -1 :
		    mb->cache[SIDE_REMOTE].uidnext > 1;
		if (lfull == 1 && rfull == 0)
			*srcp = SIDE_LOCAL;
		else if (rfull == 1 && lfull == 0)
			*srcp = SIDE_REMOTE;
		else
			return 0;
		return 1;
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		if ((n = mbox_listed_new(mb, s)) == -1)
			return 0;
		if (n == 1) {
			if (src != SIDE_NONE)
				return 0;	/* new on both sides */
			src = s;
		}
	}
	if (src == SIDE_NONE)
		return 0;
	*srcp = src;
	return 1;
}

/*
 * Would the FETCH that goes with the SELECT (xfer_prefetch()) have to
 * wait for the other side's copies (xfer_may_copy())?  Then the job
 * waits before its SELECT, rather than sending it alone and its FETCH a
 * round trip later: the other side's copies are usually over sooner.
 */
int
xfer_prefetch_wait(struct job *j)
{
	uint32_t src;

	if (j->pre != NULL || !xfer_prefetch_side(j, &src))
		return 0;
	return !xfer_may_copy_to(j, j->p[OTHER(src)]);
}

void
xfer_prefetch(struct job *j)
{
	struct uidranges set;
	struct xfer *x;
	uint32_t src, first;

	if (j->pre != NULL || !xfer_prefetch_side(j, &src) ||
	    j->p[OTHER(src)]->copying != 0)
		return;
	/* What the pass would ask for (1:4294967295 for a new mailbox). */
	memset(&set, 0, sizeof(set));
	xfer_new_range(j, src, &set, &first);
	if (first >= j->mb->cache[src].uidnext) {
		/* Copies of ours only: the pass has nothing to do. */
		uidranges_free(&set);
		return;
	}
	x = xfer_new(j, src);
	x->pre = 1;
	xfer_copying(x, 1);
	rg_fetch(&j->t, x->src, j->mb, &set, XFER_ITEMS, 0, xfer_data,
	    xfer_fetch_done, x);
	uidranges_free(&set);
	j->pre = x;
	j->prefetched = 1;
}

/*
 * The local pass's FETCH sent with the remote pass's, when both sides
 * have new messages (what adoption did not pair goes each way): each
 * side's bodies then cross the other's on the wire, rather than the
 * local pass starting once the remote pass's copies are all answered
 * (a round trip and a transfer).  Sent by the remote pass's X_START,
 * right after its own FETCH; the job waits for every request it has
 * out, so the remote pass ends once both passes' FETCHes and APPENDs
 * are answered, and the local pass takes this one up as a prefetch.
 *
 * Copies otherwise go one way at a time (xfer_may_copy()), because a
 * server reads our APPEND only once it has written its FETCH answer,
 * and the engine stops reading a net while the other net's queue is
 * full.  This FETCH is the exception, made safe by a budget: its
 * messages' sizes are known (adoption fetched them), their sum is at
 * most XFER_EARLY_MAX, and the engine reads the local net whatever the
 * remote net's queue until its answer is in (peer.early, loop.c).  The
 * local server then always finishes writing it, and goes on to read
 * the remote pass's copies.  Its range stops below the local UIDNEXT
 * the adoption saw, so that the remote pass's copies, appended there
 * meanwhile, are never in it; messages delivered after that are left
 * to the local pass, as after a SELECT.  Its lines are held until the
 * local pass's turn, so that a mailbox's log reads as the reference's
 * (the remote side's copies first).
 *
 * Only where jobs share connections (lease_can_share(): QRESYNC and
 * UIDPLUS on both sides): without APPENDUID, copies are looked for in
 * their mailbox, which two passes at once would confuse.
 */
void
xfer_early(struct job *j)
{
	struct uidranges set, cap;
	struct xfer *x;
	uint32_t first, u;
	size_t i;

	/* Adoption's figures serve once (a second round has its own). */
	u = j->early_uidnext;
	j->early_uidnext = 0;
	if (j->pre != NULL || j->kind != JOB_SYNC || u <= 1 ||
	    j->early_bytes == 0 || j->early_bytes > XFER_EARLY_MAX ||
	    !lease_can_share(j->e) || j->p[SIDE_LOCAL]->early)
		return;
	memset(&set, 0, sizeof(set));
	memset(&cap, 0, sizeof(cap));
	xfer_new_range(j, SIDE_LOCAL, &set, &first);
	if (first >= u) {
		uidranges_free(&set);
		return;
	}
	for (i = 0; i < set.n && set.r[i].lo < u; i++)
		uidranges_push(&cap, set.r[i].lo,
		    set.r[i].hi < u ? set.r[i].hi : u - 1);
	uidranges_free(&set);
	x = xfer_new(j, SIDE_LOCAL);
	x->pre = 1;
	x->early = 1;
	x->uidnext = u;
	x->early_reading = 1;
	x->src->early++;
	xfer_copying(x, 1);
	rg_fetch(&j->t, x->src, j->mb, &cap, XFER_ITEMS, 0, xfer_data,
	    xfer_fetch_done, x);
	uidranges_free(&cap);
	j->pre = x;
}

/* The early pass's FETCH is all in: the local net is paced again. */
void
xfer_early_fetched(struct xfer *x)
{
	if (x->early_reading) {
		x->early_reading = 0;
		x->src->early--;
	}
}

/* Its turn, or the run's end: the lines held are said now. */
void
xfer_release_log(struct xfer *x)
{
	x->early = 0;
	jlog_release(x->j, &x->held);
}
