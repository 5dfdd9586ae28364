/*
 * New messages (the reference's pull_new_messages and new-message
 * handling, REFERENCE-BEHAVIOUR §4.8, §6.4) as a sub-machine of a
 * mailbox job: a pass FETCHes the source side's new messages and
 * streams each body, chunk by chunk as it arrives, into a MULTIAPPEND
 * on the other side (append.c: batches of 128 messages or 1 MiB, as the
 * reference; each APPENDUID answer becomes mapping rows, committed per
 * batch before any UIDNEXT moves, §5.4).
 *
 * The engine never holds a whole body.  A body is streamed only once
 * its UID, flags and INTERNALDATE are known, which servers send before
 * the body literal when asked for them first (as we do).  A server that
 * sends them after the literal gets that message's body dropped as it
 * passes; the message is fetched again, its metadata first (one FETCH
 * for all such messages), then its body alone (one FETCH per message,
 * so that the body is known to be that UID's whatever the order of the
 * items).
 *
 * Beyond the reference:
 *  - where only one side can have new messages (a new mailbox one side
 *    of which is empty, or a known one whose LIST-STATUS shows new
 *    messages on one side only), their FETCH is sent right behind the
 *    SELECT (xfer_prefetch, in xfer_pre.c), a round trip saved per
 *    mailbox;
 *  - a server that answers APPEND without [HIGHESTMODSEQ] (Cyrus) would
 *    leave the stored HIGHESTMODSEQ behind, and the next run would take
 *    our own copies for changes made on the server (a flag removed on
 *    the other side meanwhile then comes back as the union).  So when
 *    no [HIGHESTMODSEQ] arrived for a batch, the MODSEQ of the copies is
 *    fetched once the pass is over, which raises the live HIGHESTMODSEQ;
 *    servers that send the code cost nothing more;
 *  - copies go one way at a time on a lane (xfer_may_copy()), which
 *    jobs that share the connections would otherwise break; but where
 *    both sides have new messages, the local pass's FETCH may go with
 *    the remote pass's, within a byte budget (xfer_early, xfer_pre.c);
 *  - xfer_restore: §9.8, messages whose expunge was refused are copied
 *    back to the side they vanished from;
 *  - an APPEND refused with NO fails neither the run nor the other
 *    copies (append.c).
 *
 * xfer_recopy: --repair's copies of messages no mapping row pairs
 * (repair.c), fetched with ENVELOPE for the sender it logs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"
#include "xfer.h"

static void	 xfer_item(struct xfer *, const struct fitem *);
static void	 xfer_late_end(struct xfer *);
static void	 xfer_reset_msg(struct xfer *);
static void	 late_meta_data(struct req *, const struct rdata *);
static void	 late_body_data(struct req *, const struct rdata *);
static void	 late_body_done(struct req *);

struct xfer *
xfer_new(struct job *j, uint32_t sside)
{
	struct xfer *x;

	x = eng_calloc(1, sizeof(*x));
	x->j = j;
	x->mb = j->mb;
	x->sside = sside;
	x->src = j->p[sside];
	x->dst = j->p[OTHER(sside)];
	x->maxmsg = (x->dst->caps & IMAP_CAP_MULTIAPPEND) ? BATCH_MAXMSG : 1;
	return x;
}

/*
 * Copies go one way at a time on a lane.  A server reads the APPEND we
 * send it only once it has written the answer to the FETCH before it,
 * and the engine stops reading a net while the other net's queue is
 * full (loop.c).  If each server were writing a FETCH answer of bodies
 * for the other while our APPEND of the other's bodies waited for it,
 * neither answer could be read: the run would hang as soon as the
 * bodies outgrow the buffers between us (jobs sharing the lane, with
 * new mail on the remote in one mailbox and on the local in another).
 * So the FETCH of bodies from one side waits while bodies from the
 * other side are still coming (its src->copying); those already
 * received are queued, and the other side takes them in before it
 * answers anything sent after them.
 */
int
xfer_may_copy_to(struct job *j, const struct peer *dst)
{
	if (dst->copying == 0)
		return 1;
	j->copy_wait = 1;
	j->t.waiting = 1;
	return 0;
}

static int
xfer_may_copy(struct xfer *x)
{
	return xfer_may_copy_to(x->j, x->dst);
}

void
xfer_copying(struct xfer *x, int on)
{
	if (on && !x->copying) {
		x->copying = 1;
		x->src->copying++;
	} else if (!on && x->copying) {
		x->copying = 0;
		if (--x->src->copying == 0)
			lease_copy_done(x->j->e);
	}
}

void
xfer_free(struct xfer *x)
{
	size_t i;

	if (x == NULL)
		return;
	xfer_copying(x, 0);
	xfer_early_fetched(x);
	/* Nothing said is lost, whenever the pass ends. */
	if (x->held.head != NULL)
		xfer_release_log(x);
	uidranges_free(&x->cset);
	modtab_free(&x->copied);
	uidvec_free(&x->restored);
	uidvec_free(&x->nomodseq);
	uidvec_free(&x->retry);
	uidvec_free(&x->late);
	uidvec_free(&x->zero);
	for (i = 0; i < x->nlm; i++) {
		free(x->lm[i].flags);
		free(x->lm[i].date);
	}
	free(x->lm);
	free(x);
}

static void
xfer_reset_msg(struct xfer *x)
{
	x->mode = M_NONE;
	x->uid = 0;
	x->size = x->got = 0;
	x->late_uid = 0;
	x->zero_uid = 0;
}

/* ------------------------------------------------------------------ */
/* FETCH answers. */

/*
 * A message larger than the target's APPENDLIMIT (RFC 7889) is not sent:
 * the server would refuse it, or, sent as a non-synchronising literal,
 * hang up (Cyrus IMAP).  It is refused for good as a NO [TOOBIG] would
 * be (append.c): a warning, and the ERROR at the end of the run.
 */
static int
xfer_over_limit(struct xfer *x)
{
	struct peer *t = x->dst;

	if (t->appendlimit == 0 || x->size <= t->appendlimit || x->restore)
		return 0;
	xlog(x, LOG_LVL_WARN, t->name, x->mb->srv[t->side], "WARNING: "
	    "Couldn't append UID %u of %s: %llu bytes, larger than the "
	    "server's APPENDLIMIT (%llu)", x->uid, x->src->name,
	    (unsigned long long)x->size, (unsigned long long)t->appendlimit);
	uidvec_push(&x->mb->refused[x->sside], x->uid);
	return 1;
}

static void
xfer_item(struct xfer *x, const struct fitem *fi)
{
	struct peer *p = x->src;

	if (fi->cont) {
		/* Items after the literal: a late message's UID. */
		if (x->zero_uid) {
			if (fi->uid == 0)
				eng_fail(x->j->e, EXIT_PANIC, p->name,
				    x->mb->srv[p->side], "PANIC: FETCH "
				    "response without UID");
			uidvec_push(&x->zero, fi->uid);
			if (x->uidnext <= fi->uid && fi->uid < UINT32_MAX)
				x->uidnext = fi->uid + 1;
			x->zero_uid = 0;
		}
		if (x->late_uid) {
			if (fi->uid == 0)
				eng_fail(x->j->e, EXIT_PANIC, p->name,
				    x->mb->srv[p->side], "PANIC: FETCH "
				    "response without UID");
			uidvec_push(&x->late, fi->uid);
			if (x->uidnext <= fi->uid && fi->uid < UINT32_MAX)
				x->uidnext = fi->uid + 1;
			x->late_uid = 0;
		}
		return;
	}
	xfer_late_end(x);
	if (!(fi->mask & IMAP_FETCH_BODY))
		return;		/* a flag change (netc has it), not ours */
	xfer_reset_msg(x);
	x->uid = fi->uid;
	if (x->uid != 0 && x->uidnext <= x->uid && x->uid < UINT32_MAX)
		x->uidnext = x->uid + 1;
	x->size = fi->size;
	if (x->recopy && !x->retried && x->uid != 0 && !x->j->e->quiet)
		jlog(x->j, LOG_LVL_INFO, p->name, x->mb->srv[p->side],
		    "UID %u from <%s> (%s)", x->uid,
		    fi->env != NULL ? fi->env : "",
		    fi->date != NULL ? fi->date : "");
	if (fi->size == 0) {
		x->mode = M_SKIP;
		if (x->uid == 0)
			x->zero_uid = 1;	/* its UID comes after */
		else
			uidvec_push(&x->zero, x->uid);
	} else if (x->uid != 0 && fi->flags != NULL && fi->date != NULL) {
		if (xfer_over_limit(x))
			x->mode = M_SKIP;
		else {
			x->mode = M_STREAM;
			xfer_msg_start(x, fi->flags, fi->date, fi->modseq);
		}
	} else
		x->mode = M_LATE;
}

/* A late message's body ended: its UID is known now or comes next. */
static void
xfer_late_end(struct xfer *x)
{
	if (x->late_uid || x->zero_uid)
		eng_fail(x->j->e, EXIT_PANIC, x->src->name,
		    x->mb->srv[x->src->side], "PANIC: FETCH response without "
		    "UID");
}

void
xfer_data(struct req *r, const struct rdata *d)
{
	struct xfer *x = r->arg;
	struct peer *p = x->src;

	switch (d->kind) {
	case RD_ITEM:
		xfer_item(x, d->fi);
		break;
	case RD_BODY:
		if (x->got + d->len > x->size)
			eng_fail(x->j->e, EXIT_PANIC, p->name,
			    x->mb->srv[p->side], "PANIC: body of UID %u longer "
			    "than announced", x->uid);
		x->got += d->len;
		if (x->mode == M_STREAM)
			netc_send_more(x->dst, x->cur->req,
			    IMSG_IMAP_APPEND_DATA, d->data, d->len);
		else if (x->mode == M_NONE)
			eng_fail(x->j->e, EXIT_PANIC, p->name,
			    x->mb->srv[p->side], "PANIC: body data outside "
			    "a message");
		break;
	case RD_END:
		if (x->got != x->size)
			eng_fail(x->j->e, EXIT_PANIC, p->name,
			    x->mb->srv[p->side], "PANIC: body of UID %u "
			    "shorter than announced", x->uid);
		if (x->mode == M_LATE) {
			if (x->uid != 0) {
				uidvec_push(&x->late, x->uid);
			} else
				x->late_uid = 1;
		}
		x->mode = M_NONE;
		break;
	default:
		break;
	}
}

/*
 * A FETCH sent with the SELECT (xfer_prefetch) is answered: what it
 * covered is known now, before anything else can append to its side
 * (its own copies go to the other side).  Not later, when its pass
 * starts: a local one is taken up after the remote pass, whose copies
 * raise the live UIDNEXT beyond messages that may have come in since.
 */
static void
xfer_pre_covered(struct xfer *x)
{
	struct mcache *c = &x->mb->cache[x->sside];

	if (x->pre && !x->early && (c->has & MC_UIDNEXT) &&
	    x->uidnext < c->uidnext)
		x->uidnext = c->uidnext;
}

/*
 * The 0-length messages of the FETCH, not copied (as the reference),
 * are said now: not one the server reported expunged meanwhile, which
 * is no message of 0 bytes but one gone (Dovecot answers BODY[] NIL for
 * a message another session expunged, and VANISHED before the FETCH
 * ends).
 */
static void
xfer_zero_said(struct xfer *x)
{
	struct peer *p = x->src;
	uint32_t s = p->side, u;
	size_t i;

	if (x->zero.n == 0)
		return;
	/* VANISHED as reported; the job's sets are kept normalized. */
	uidranges_normalize(&x->mb->sel[s].vanished);
	for (i = 0; i < x->zero.n; i++) {
		u = x->zero.v[i];
		if (uidranges_has(&x->mb->sel[s].vanished, u) ||
		    uidranges_has(&x->j->vgone[s], u) ||
		    uidranges_has(&x->j->vnew[s], u))
			log_debug("%s(%s): UID %u expunged while fetched: "
			    "not copied", p->name, x->mb->srv[s], u);
		else
			xlog(x, LOG_LVL_WARN, p->name, x->mb->srv[s],
			    "WARNING: Ignoring new 0-length message (UID %u)",
			    u);
	}
	uidvec_free(&x->zero);
}

/* Every piece of the FETCH answered: the last batch can end. */
void
xfer_fetch_done(struct rgroup *g)
{
	struct xfer *x = g->arg;

	rg_check(g);
	xfer_pre_covered(x);
	xfer_late_end(x);
	xfer_reset_msg(x);
	xfer_zero_said(x);
	batch_close(x);
	xfer_copying(x, 0);
	xfer_early_fetched(x);
	/* Its last APPEND is out: the next job may select on the target. */
	if (x->pre && !x->early && x->j->lend)
		lease_lend(x->j, OTHER(x->sside));
}

/* Late messages: metadata, then each body on its own. */
static void
late_meta_data(struct req *r, const struct rdata *d)
{
	struct xfer *x = r->arg;
	const struct fitem *fi = d->fi;
	struct latemeta *m;

	if (d->kind != RD_ITEM || fi->cont || fi->uid == 0 ||
	    fi->flags == NULL || fi->date == NULL ||
	    !uidvec_has(&x->late, fi->uid))
		return;
	x->lm = eng_reallocarray(x->lm, x->nlm + 1, sizeof(*x->lm));
	m = &x->lm[x->nlm++];
	m->uid = fi->uid;
	m->modseq = fi->modseq;
	m->flags = eng_strdup(fi->flags);
	m->date = eng_strdup(fi->date);
}

static void
late_body_data(struct req *r, const struct rdata *d)
{
	struct xfer *x = r->arg;
	const struct latemeta *m;

	if (d->kind == RD_ITEM) {
		if (d->fi->cont || !(d->fi->mask & IMAP_FETCH_BODY))
			return;
		xfer_reset_msg(x);
		x->uid = (uint32_t)r->n;
		x->size = d->fi->size;
		m = eng_find_uid(x->lm, x->nlm, sizeof(*x->lm), x->uid);
		if (m == NULL || d->fi->size == 0 || xfer_over_limit(x))
			x->mode = M_SKIP;	/* gone meanwhile, too large */
		else {
			x->mode = M_STREAM;
			xfer_msg_start(x, m->flags, m->date, m->modseq);
		}
		return;
	}
	xfer_data(r, d);
}

static void
late_body_done(struct req *r)
{
	struct xfer *x = r->arg;

	if (r->status != IMAP_DONE_OK)
		netc_fail_req(r);
	xfer_reset_msg(x);
	if (--x->late_out == 0) {
		batch_close(x);
		xfer_copying(x, 0);
	}
}

static int
latemeta_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct latemeta *)a)->uid;
	uint32_t y = ((const struct latemeta *)b)->uid;

	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------ */
/* The range of new UIDs. */

/*
 * side's new messages: from its last synced UIDNEXT up, skipping the
 * ignore list and every UID already mapped (a mapped UID above UIDNEXT
 * is a copy we made ourselves).  *first: the first UID not skipped.
 * The mapped UIDs are read in order from the map as the ranges are
 * made, not gathered: after a first sync they are the whole mailbox.
 */
void
xfer_new_range(struct job *j, uint32_t side, struct uidranges *out,
    uint32_t *first)
{
	struct mcache *pc = &j->mb->pcache[side];
	struct uidvec ign;
	const struct map_pair *a;
	size_t i, k, n;
	uint32_t since, uid, mu = 0;

	memset(&ign, 0, sizeof(ign));
	since = (pc->has & MC_UIDNEXT) && pc->uidnext > 0 ? pc->uidnext : 1;
	for (i = 0; i < j->ignore[side].n; i++)
		if (j->ignore[side].v[i] >= since)
			uidvec_push(&ign, j->ignore[side].v[i]);
	uidvec_sort_uniq(&ign);
	i = map_lower_bound(&j->map, side, since);
	n = map_count(&j->map);
	k = 0;
	*first = 0;
	/* The UIDs to skip, in order: the map's and the ignore list's. */
	for (;;) {
		if (i < n) {
			a = map_side_at(&j->map, side, i);
			mu = side == SIDE_LOCAL ? a->luid : a->ruid;
		}
		if (i < n && (k == ign.n || mu <= ign.v[k])) {
			uid = mu;
			if (k < ign.n && ign.v[k] == mu)
				k++;
			i++;
		} else if (k < ign.n)
			uid = ign.v[k++];
		else
			break;
		if (since < uid) {
			if (*first == 0)
				*first = since;
			uidranges_push(out, since, uid - 1);
		}
		if (uid == UINT32_MAX) {
			uidvec_free(&ign);
			if (*first == 0)
				*first = UINT32_MAX;
			return;
		}
		if (since <= uid)
			since = uid + 1;
	}
	if (*first == 0)
		*first = since;
	uidranges_push(out, since, UINT32_MAX);
	uidvec_free(&ign);
}

/* ------------------------------------------------------------------ */
/* The machine. */

void
xfer_start(struct job *j, uint32_t sside, int ret)
{
	struct xfer *x;

	if (j->pre != NULL && j->pre->sside == sside) {
		x = j->pre;
		j->pre = NULL;
	} else
		x = xfer_new(j, sside);
	x->ret = ret;
	j->x = x;
	j->t.state = X_START;
}

void
xfer_restore(struct job *j, uint32_t side, const struct uidvec *uids, int ret)
{
	struct xfer *x;
	struct uidranges set;
	char *str;

	x = xfer_new(j, side);
	x->ret = ret;
	x->restore = 1;
	uidvec_append(&x->restored, uids->v, uids->n);
	uidvec_sort_uniq(&x->restored);
	j->x = x;
	str = uid_compact_set(x->restored.v, x->restored.n);
	jlog(j, LOG_LVL_WARN, x->src->name, j->mb->srv[side], "WARNING: "
	    "Restoring UID(s) %s on %s: they could not be expunged here", str,
	    x->dst->name);
	free(str);
	memset(&set, 0, sizeof(set));
	uidranges_from_vec(&set, x->restored.v, x->restored.n);
	/* Best effort: the copy below does not depend on it. */
	rg_store(&j->t, x->src, j->mb, &set, 0, IMAP_STORE_REMOVE, "\\Deleted",
	    NULL, NULL);
	uidranges_free(&set);
	uidranges_from_vec(&x->cset, x->restored.v, x->restored.n);
	x->citems = XFER_ITEMS;
	j->t.state = X_COPY;
}

void
xfer_recopy(struct job *j, uint32_t side, const struct uidvec *uids, int ret)
{
	struct xfer *x;

	x = xfer_new(j, side);
	x->ret = ret;
	x->recopy = 1;
	j->x = x;
	uidranges_from_vec(&x->cset, uids->v, uids->n);
	x->citems = XFER_ITEMS | IMAP_FETCH_ENVELOPE;
	j->t.state = X_COPY;
}

void
xfer_step(struct job *j)
{
	struct xfer *x = j->x;
	struct mbox *mb = j->mb;
	struct mcache *c = &mb->cache[x->sside];
	struct msel *ms = &mb->sel[x->sside];
	struct uidranges set;
	struct req *r;
	char uidstr[16];
	uint32_t first;
	size_t i;

	switch (j->t.state) {
	case X_START:
		if (!(c->has & MC_UIDNEXT))
			eng_fail(j->e, EXIT_PANIC, x->src->name,
			    mb->srv[x->sside], "PANIC: Unknown UIDNEXT value - "
			    "non-compliant server?");
		j->t.state = X_FETCHED;
		if (x->pre) {
			/*
			 * Its FETCH went with the SELECT, answered:
			 * x->uidnext is what it covered (copies the other
			 * pass made since are mapped; anything else is
			 * fetched next round).
			 */
			x->pre = 0;
			/* Run ahead of its turn: its lines go now. */
			if (x->early)
				xfer_release_log(x);
			return;
		}
		if (x->uidnext < c->uidnext)
			x->uidnext = c->uidnext;
		memset(&set, 0, sizeof(set));
		xfer_new_range(j, x->sside, &set, &first);
		if (first < x->uidnext) {
			if (!xfer_may_copy(x)) {
				j->t.state = X_START;
				uidranges_free(&set);
				return;
			}
			xfer_copying(x, 1);
			rg_fetch(&j->t, x->src, mb, &set, XFER_ITEMS, 0,
			    xfer_data, xfer_fetch_done, x);
			/* The local pass's may go with it. */
			if (x->sside == SIDE_REMOTE)
				xfer_early(j);
		} else if (ms->newmail > 0) {
			/*
			 * Only an EXISTS says there may be more: their UIDs
			 * first, which copy nothing and need not wait for
			 * the other side's copies; what they find raises the
			 * live UIDNEXT, and X_FETCHED comes back here for
			 * their bodies.
			 */
			rg_fetch(&j->t, x->src, mb, &set, XFER_META, REQ_META,
			    NULL, NULL, NULL);
		}
		uidranges_free(&set);
		return;

	case X_COPY:
		if (!xfer_may_copy(x))
			return;
		xfer_copying(x, 1);
		rg_fetch(&j->t, x->src, mb, &x->cset, x->citems, 0, xfer_data,
		    xfer_fetch_done, x);
		uidranges_free(&x->cset);
		j->t.state = X_FETCHED;
		return;

	case X_FETCHED:
		if (x->late.n > 0) {
			j->t.state = X_LATE_META;
			return;
		}
		if (x->retry.n > 0) {
			/*
			 * Refused batches, one message per APPEND (append.c);
			 * every batch is closed and answered by now.
			 */
			x->maxmsg = 1;
			x->retried = 1;		/* --repair: logged once */
			uidvec_sort_uniq(&x->retry);
			uidranges_from_vec(&x->cset, x->retry.v, x->retry.n);
			uidvec_free(&x->retry);
			x->citems = XFER_ITEMS;
			j->t.state = X_COPY;
			return;
		}
		if (x->restore) {
			j->t.state = X_RESTORED;
			return;
		}
		if (x->recopy) {
			/* Old messages: the new ones' UIDNEXT is not ours. */
			j->t.state = X_MODSEQ;
			return;
		}
		netc_set_pcache(x->src, mb, MC_UIDNEXT, 0, x->uidnext, 0);
		ms->newmail = 0;
		if (x->uidnext < c->uidnext) {
			j->t.state = X_START;
			return;
		}
		j->t.state = X_MODSEQ;
		return;

	case X_LATE_META:
		uidvec_sort_uniq(&x->late);
		memset(&set, 0, sizeof(set));
		uidranges_from_vec(&set, x->late.v, x->late.n);
		rg_fetch(&j->t, x->src, mb, &set, XFER_META, REQ_META,
		    late_meta_data, NULL, x);
		uidranges_free(&set);
		j->t.state = X_LATE_BODY;
		return;

	case X_LATE_BODY:
		if (!xfer_may_copy(x))
			return;
		eng_sort(x->lm, x->nlm, sizeof(*x->lm), latemeta_cmp);
		for (i = 0; i < x->late.n; i++) {
			(void)snprintf(uidstr, sizeof(uidstr), "%u",
			    x->late.v[i]);
			if (eng_find_uid(x->lm, x->nlm, sizeof(*x->lm),
			    x->late.v[i]) == NULL)
				continue;	/* gone meanwhile */
			r = netc_fetch(x->src, &j->t, mb, uidstr,
			    IMAP_FETCH_BODY, REQ_NOMOD, late_body_data,
			    late_body_done, x);
			r->n = x->late.v[i];
			x->late_out++;
		}
		uidvec_free(&x->late);
		if (x->late_out > 0)
			xfer_copying(x, 1);
		j->t.state = X_FETCHED;
		return;

	case X_MODSEQ:
		/*
		 * The copies' MODSEQ raises the live HIGHESTMODSEQ where
		 * no [HIGHESTMODSEQ] did (see the top).
		 */
		j->t.state = X_END;
		if (x->nomodseq.n > 0 &&
		    !(x->dst->caps & IMAP_CAP_PLAIN_SYNC)) {
			uidvec_sort_uniq(&x->nomodseq);
			memset(&set, 0, sizeof(set));
			uidranges_from_vec(&set, x->nomodseq.v,
			    x->nomodseq.n);
			rg_fetch(&j->t, x->dst, mb, &set, IMAP_FETCH_MODSEQ,
			    REQ_NOMOD, NULL, NULL, NULL);
			uidranges_free(&set);
		}
		return;

	case X_RESTORED:
		/*
		 * Our own "-FLAGS \Deleted" came back as a flag change; the
		 * copy already has those flags: nothing to propagate.
		 */
		for (i = 0; i < x->restored.n; i++) {
			struct modent *me = modtab_get(&ms->modified,
			    x->restored.v[i]);
			struct modent *cp = modtab_get(&x->copied,
			    x->restored.v[i]);

			if (me != NULL && cp != NULL && me->modseq <= cp->modseq)
				modtab_del(&ms->modified, x->restored.v[i]);
		}
		j->t.state = X_END;
		return;

	case X_END:
		if (x->sside == SIDE_LOCAL && !x->restore && !x->recopy)
			j->again = x->ntuids > 0;
		j->t.state = x->ret;
		xfer_free(x);
		j->x = NULL;
		return;

	default:
		fatalx(EXIT_CHILD, "engine: internal error: xfer state %d",
		    j->t.state);
	}
}
