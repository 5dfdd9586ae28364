/*
 * Resuming an interrupted sync (REFERENCE-BEHAVIOUR §6.5), a sub-machine
 * of a JOB_RESUME job, between its SELECT (from the last synced state)
 * and the copy of new messages.  The mapping rows beyond a side's stored
 * UIDNEXT are copies whose sync was cut short: the pairs still present
 * on both sides are kept (and not copied again: the ignore lists), a
 * pair with one copy gone loses the other, and the rows go.  Every UID
 * is asked for, in as many pieces as the set needs (rgroup.c).
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

enum {
	R_EXIST = RESUME_SUB,
	R_REMOVE,
	R_REMOVED,
};

struct resume {
	int		 ret;
	struct uidvec	 have[2];	/* present, sorted */
	struct uidvec	 rm[2];		/* to remove, sorted */
	struct uidvec	 del;		/* local UIDs of rows to delete */
	int		 rm_done[2];
};

static void	 exist_data(struct req *, const struct rdata *);
static void	 resume_rm_done(struct rgroup *);

void
resume_free(struct resume *r)
{
	uint32_t s;

	if (r == NULL)
		return;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		uidvec_free(&r->have[s]);
		uidvec_free(&r->rm[s]);
	}
	uidvec_free(&r->del);
	free(r);
}

/* Collects the UIDs a FETCH (MODSEQ FLAGS) reports as existing. */
static void
exist_data(struct req *r, const struct rdata *d)
{
	struct uidvec *have = r->arg;

	if (d->kind == RD_ITEM && !d->fi->cont && d->fi->uid != 0)
		uidvec_push(have, d->fi->uid);
}

static void
resume_rm_done(struct rgroup *g)
{
	int *done = g->arg;

	*done = 1;
}

/*
 * What the QRESYNC SELECT reported that the resume dealt with: the
 * interrupted UIDs found gone (their pairs are undone, no "No match"
 * to say later), and the flag changes of messages above the synced
 * UIDNEXT that are no interrupted copy (new messages: their copy will
 * carry their flags).  The interrupted pairs' flags stay, to be compared
 * once UIDNEXT has moved past them, as the reference does.
 */
static void
resume_forget(struct job *j, struct resume *r, uint32_t s)
{
	struct mbox *mb = j->mb;
	struct msel *ms = &mb->sel[s];
	struct mcache *pc = &mb->pcache[s];
	struct uidvec gone;
	struct modent *ent;
	size_t i, n;

	memset(&gone, 0, sizeof(gone));
	for (i = 0; i < mb->intr[s].n; i++)
		if (!uidvec_has(&r->have[s], mb->intr[s].v[i]))
			uidvec_push(&gone, mb->intr[s].v[i]);
	uidvec_sort_uniq(&gone);
	uidranges_minus(&ms->vanished, gone.v, gone.n);
	uidvec_free(&gone);

	ent = modtab_drain(&ms->modified, &n);
	for (i = 0; i < n; i++) {
		if ((!(pc->has & MC_UIDNEXT) || ent[i].uid >= pc->uidnext) &&
		    !uidvec_has(&j->ignore[s], ent[i].uid)) {
			free(ent[i].flags);
			continue;
		}
		modtab_put(&ms->modified, ent[i].uid, ent[i].modseq,
		    ent[i].flags);
	}
	free(ent);
}

void
resume_start(struct job *j, int ret)
{
	struct resume *r;
	struct uidranges set;
	struct uidvec v;
	uint32_t s;

	r = eng_calloc(1, sizeof(*r));
	r->ret = ret;
	j->resume = r;
	j->mb->known = 1;		/* its state rows exist */
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		memset(&v, 0, sizeof(v));
		uidvec_append(&v, j->mb->intr[s].v, j->mb->intr[s].n);
		uidvec_sort_uniq(&v);
		memset(&set, 0, sizeof(set));
		uidranges_from_vec(&set, v.v, v.n);
		rg_fetch(&j->t, j->p[s], j->mb, &set,
		    IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS, 0, exist_data, NULL,
		    &r->have[s]);
		uidranges_free(&set);
		uidvec_free(&v);
	}
	j->t.state = R_REMOVE;
}

void
resume_step(struct job *j)
{
	struct resume *r = j->resume;
	struct eng *e = j->e;
	struct mbox *mb = j->mb;
	struct uidranges set;
	struct uidvec failed;
	size_t i;
	uint32_t s, l, ru;
	int hl, hr;

	switch (j->t.state) {
	case R_REMOVE:
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			uidvec_sort_uniq(&r->have[s]);
		for (i = 0; i < mb->intr[SIDE_LOCAL].n; i++) {
			l = mb->intr[SIDE_LOCAL].v[i];
			ru = mb->intr[SIDE_REMOTE].v[i];
			hl = uidvec_has(&r->have[SIDE_LOCAL], l);
			hr = uidvec_has(&r->have[SIDE_REMOTE], ru);
			if (hl && hr) {
				uidvec_push(&j->ignore[SIDE_LOCAL], l);
				uidvec_push(&j->ignore[SIDE_REMOTE], ru);
				continue;
			}
			if (hl)
				uidvec_push(&r->rm[SIDE_LOCAL], l);
			if (hr)
				uidvec_push(&r->rm[SIDE_REMOTE], ru);
			uidvec_push(&r->del, l);
			(void)map_del(&j->map, SIDE_LOCAL, l);
		}
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			uidvec_sort_uniq(&j->ignore[s]);
			uidvec_sort_uniq(&r->rm[s]);
			memset(&set, 0, sizeof(set));
			uidranges_from_vec(&set, r->rm[s].v, r->rm[s].n);
			rg_expunge(&j->t, j->p[s], mb, &set,
			    resume_rm_done, &r->rm_done[s]);
			uidranges_free(&set);
		}
		j->t.state = R_REMOVED;
		return;

	case R_REMOVED:
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			memset(&failed, 0, sizeof(failed));
			known_removal_finish(j, s, &r->rm[s], &failed, 0);
			uidvec_free(&failed);
		}
		/* The rows go once both expunges are over. */
		if (r->del.n > 0) {
			uidvec_sort_uniq(&r->del);
			pflags_flush(j);
			dbc_map_del(e, mb->idx, SIDE_LOCAL, r->del.v, r->del.n);
		}
		if (r->rm[SIDE_LOCAL].n > 0 || r->rm[SIDE_REMOTE].n > 0)
			dbc_commit(e);
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			resume_forget(j, r, s);
			uidvec_free(&mb->intr[s]);
		}
		j->t.state = r->ret;
		resume_free(r);
		j->resume = NULL;
		return;

	default:
		fatalx(EXIT_CHILD, "engine: internal error: resume state %d",
		    j->t.state);
	}
}
