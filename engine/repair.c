/*
 * --repair (REFERENCE-BEHAVIOUR §6.6) as a sub-machine of a JOB_REPAIR
 * job, between its SELECT (from the last synced state, no sample) and
 * the usual copy of new messages: every message below the synced
 * UIDNEXT is fetched with its flags on both sides and checked against
 * every mapping row.
 *
 *  - a pair present on both sides with different flags gets them made
 *    equal: the side changed since the synced HIGHESTMODSEQ wins; both
 *    changed (or neither, a flag update missed) gets the union;
 *  - a pair gone from both sides loses its row;
 *  - a pair gone from one side loses its row; the other copy is removed
 *    if the server reported the expunge (VANISHED), else copied again;
 *  - a message no row maps is copied to the other side ("Redownloading").
 *
 * Removals first (rows deleted and committed once both are over), then
 * the flag pushes, then the copies, local's first, each logged with its
 * sender as the reference does.
 *
 * A mailbox with no synced state yet never gets here: the run gives it
 * an ordinary first sync, where the reference skips it (§9.12).
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "fgroup.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

enum {
	P_PULLED = REPAIR_SUB,
	P_REMOVED,
	P_PUSHED,
	P_COPY_REMOTE,
	P_END,
};

struct repair {
	int		 ret;
	uint64_t	 hms[2];	/* the synced HIGHESTMODSEQs */
	uint32_t	 lim[2];	/* the synced UIDNEXTs */
	struct modtab	 res[2];	/* every message: modseq, flags */
	struct uidranges van[2];	/* reported VANISHED, below lim */
	struct uidvec	 seen[2];	/* UIDs a mapping row named */
	struct uidvec	 rm[2];		/* to remove, sorted */
	int		 rm_done[2];
	struct uidvec	 mapdel;	/* local UIDs whose rows go */
	struct fgroups	 upd[2];
	struct uidvec	 missing[2];	/* side's UIDs to copy to the other */
};

static void	 repair_pulled(struct job *, struct repair *);
static void	 repair_reconcile(struct job *, struct repair *);
static void	 repair_removed(struct job *, struct repair *);
static void	 repair_pushed(struct job *, struct repair *);
static void	 repair_rm_done(struct rgroup *);

void
repair_free(struct repair *p)
{
	uint32_t s;

	if (p == NULL)
		return;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		modtab_free(&p->res[s]);
		uidranges_free(&p->van[s]);
		uidvec_free(&p->seen[s]);
		uidvec_free(&p->rm[s]);
		fgroups_free(&p->upd[s]);
		uidvec_free(&p->missing[s]);
	}
	uidvec_free(&p->mapdel);
	free(p);
}

/* The reference's pull_updates(full) on both sides at once. */
void
repair_start(struct job *j, int ret)
{
	struct mbox *mb = j->mb;
	struct mcache *pc;
	struct repair *p;
	struct uidranges set;
	uint32_t s;

	p = eng_calloc(1, sizeof(*p));
	p->ret = ret;
	j->repair = p;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		pc = &mb->pcache[s];
		p->hms[s] = (pc->has & MC_HMS) ? pc->hms : 0;
		p->lim[s] = (pc->has & MC_UIDNEXT) && pc->uidnext > 0 ?
		    pc->uidnext : 1;
		if (p->lim[s] <= 1)
			continue;
		memset(&set, 0, sizeof(set));
		uidranges_push(&set, 1, p->lim[s] - 1);
		/* The answers come back through MODIFIED. */
		rg_fetch(&j->t, j->p[s], mb, &set,
		    IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS, 0, NULL, NULL, NULL);
		uidranges_free(&set);
	}
	j->t.state = P_PULLED;
}

/*
 * Every message's flags, below the synced UIDNEXT; those reported
 * without flags are fetched again (we come back here).
 */
static void
repair_pulled(struct job *j, struct repair *p)
{
	struct mbox *mb = j->mb;
	struct uidranges missing;
	struct modent *ent;
	struct msel *ms;
	size_t i, n;
	uint32_t s;
	int sent = 0;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		ms = &mb->sel[s];
		memset(&missing, 0, sizeof(missing));
		ent = modtab_drain(&ms->modified, &n);
		for (i = 0; i < n; i++) {
			if (ent[i].flags != NULL && ent[i].modseq > 0) {
				if (ent[i].uid < p->lim[s]) {
					modtab_put(&p->res[s], ent[i].uid,
					    ent[i].modseq, ent[i].flags);
					ent[i].flags = NULL;
				}
			} else
				uidranges_push(&missing, ent[i].uid,
				    ent[i].uid);
			free(ent[i].flags);
		}
		free(ent);
		if (missing.n > 0) {
			uidranges_normalize(&missing);
			rg_fetch(&j->t, j->p[s], mb, &missing,
			    IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS, 0, NULL, NULL,
			    NULL);
			sent = 1;
		}
		uidranges_free(&missing);
	}
	if (sent)
		return;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		ms = &mb->sel[s];
		p->van[s] = ms->vanished;
		memset(&ms->vanished, 0, sizeof(ms->vanished));
		uidranges_normalize(&p->van[s]);
		uidranges_clip(&p->van[s], p->lim[s]);
		/* No flags for what vanished. */
		if (p->van[s].n > 0) {
			ent = modtab_drain(&p->res[s], &n);
			for (i = 0; i < n; i++) {
				if (uidranges_has(&p->van[s], ent[i].uid))
					free(ent[i].flags);
				else
					modtab_put(&p->res[s], ent[i].uid,
					    ent[i].modseq, ent[i].flags);
			}
			free(ent);
		}
		netc_set_pcache(j->p[s], mb, MC_HMS, 0, 0,
		    netc_synced_hms(mb, s));
	}
	repair_reconcile(j, p);
}

/* Every mapping row against what the servers hold. */
static void
repair_reconcile(struct job *j, struct repair *p)
{
	struct mbox *mb = j->mb;
	const struct map_pair *a;
	struct modent *lm, *rm;
	struct uidranges set;
	size_t i, n;
	uint32_t s, l, r;
	char *u;
	int lchg, rchg;

	i = map_lower_bound(&j->map, SIDE_LOCAL, 0);
	for (n = map_count(&j->map); i < n; i++) {
		a = map_side_at(&j->map, SIDE_LOCAL, i);
		l = a->luid;
		r = a->ruid;
		uidvec_push(&p->seen[SIDE_LOCAL], l);
		uidvec_push(&p->seen[SIDE_REMOTE], r);
		lm = modtab_get(&p->res[SIDE_LOCAL], l);
		rm = modtab_get(&p->res[SIDE_REMOTE], r);
		if (lm != NULL && rm != NULL) {
			/*
			 * A side synced plain: changed if its flags differ
			 * from those kept, which they replace (pflags.c).
			 */
			lchg = pflags_side(j, SIDE_LOCAL) ? pflags_changed(j,
			    SIDE_LOCAL, l, lm->flags) :
			    lm->modseq > p->hms[SIDE_LOCAL];
			rchg = pflags_side(j, SIDE_REMOTE) ? pflags_changed(j,
			    SIDE_REMOTE, r, rm->flags) :
			    rm->modseq > p->hms[SIDE_REMOTE];
			if (strcmp(lm->flags, rm->flags) == 0)
				continue;
			if (!lchg && rchg)
				fgroups_add(&p->upd[SIDE_LOCAL], rm->flags, l);
			else if (lchg && !rchg)
				fgroups_add(&p->upd[SIDE_REMOTE], lm->flags,
				    r);
			else {
				if (!lchg && !rchg)
					jlog(j, LOG_LVL_WARN, NULL, NULL,
					    "WARNING: Missed flag update in %s "
					    "for (lUID,rUID) = (%u,%u). "
					    "Repairing.", mb->pretty, l, r);
				u = flags_union(lm->flags, rm->flags);
				jlog(j, LOG_LVL_WARN, NULL, NULL, "WARNING: "
				    "Conflicting flag update in %s for local "
				    "UID %u (%s) and remote UID %u (%s). "
				    "Setting both to the union (%s).",
				    mb->pretty, l, lm->flags, r, rm->flags, u);
				fgroups_add(&p->upd[SIDE_LOCAL], u, l);
				fgroups_add(&p->upd[SIDE_REMOTE], u, r);
				free(u);
			}
			continue;
		}
		uidvec_push(&p->mapdel, l);
		if (lm == NULL && rm == NULL) {
			if (!uidranges_has(&p->van[SIDE_LOCAL], l) ||
			    !uidranges_has(&p->van[SIDE_REMOTE], r))
				jlog(j, LOG_LVL_WARN, NULL, NULL, "WARNING: "
				    "Pair (lUID,rUID) = (%u,%u) vanished from "
				    "%s. Repairing.", l, r, mb->pretty);
		} else if (lm == NULL) {
			if (uidranges_has(&p->van[SIDE_LOCAL], l))
				uidvec_push(&p->rm[SIDE_REMOTE], r);
			else {
				jlog(j, LOG_LVL_WARN, "local",
				    mb->srv[SIDE_LOCAL], "WARNING: UID %u "
				    "disappeared. Redownloading remote UID "
				    "%u.", l, r);
				uidvec_push(&p->missing[SIDE_REMOTE], r);
			}
		} else {
			if (uidranges_has(&p->van[SIDE_REMOTE], r))
				uidvec_push(&p->rm[SIDE_LOCAL], l);
			else {
				jlog(j, LOG_LVL_WARN, "remote",
				    mb->srv[SIDE_REMOTE], "WARNING: UID %u "
				    "disappeared. Redownloading local UID "
				    "%u.", r, l);
				uidvec_push(&p->missing[SIDE_LOCAL], l);
			}
		}
	}
	/* What a row named is no "No match". */
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		uidvec_sort_uniq(&p->seen[s]);
		for (i = 0; i < p->seen[s].n; i++)
			modtab_del(&p->res[s], p->seen[s].v[i]);
		uidranges_minus(&p->van[s], p->seen[s].v, p->seen[s].n);
		uidvec_free(&p->seen[s]);
	}

	/* The removals, both sides at once. */
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		uidvec_sort_uniq(&p->rm[s]);
		memset(&set, 0, sizeof(set));
		uidranges_from_vec(&set, p->rm[s].v, p->rm[s].n);
		rg_expunge(&j->t, j->p[s], mb, &set, repair_rm_done,
		    &p->rm_done[s]);
		uidranges_free(&set);
	}
	j->t.state = P_REMOVED;
}

/* A NO is not fatal (the reference does not check): see removed. */
static void
repair_rm_done(struct rgroup *g)
{
	int *done = g->arg;

	*done = 1;
}

/*
 * Removals over: the rows go (committed, as the reference: the
 * messages are gone on both sides), then the flag pushes.
 */
static void
repair_removed(struct job *j, struct repair *p)
{
	struct eng *e = j->e;
	struct uidvec failed;
	size_t i;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		memset(&failed, 0, sizeof(failed));
		known_removal_finish(j, s, &p->rm[s], &failed, 0);
		uidvec_free(&failed);
	}
	if (p->mapdel.n > 0) {
		uidvec_sort_uniq(&p->mapdel);
		for (i = 0; i < p->mapdel.n; i++)
			(void)map_del(&j->map, SIDE_LOCAL, p->mapdel.v[i]);
		pflags_flush(j);
		dbc_map_del(e, j->mb->idx, SIDE_LOCAL, p->mapdel.v,
		    p->mapdel.n);
		dbc_commit(e);
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		fgroups_send(j, j->p[s], &p->upd[s]);
	j->t.state = P_PUSHED;
}

/* Pushes over: what no row maps is said, and copied. */
static void
repair_pushed(struct job *j, struct repair *p)
{
	struct eng *e = j->e;
	struct mbox *mb = j->mb;
	struct modent *ent;
	size_t i, n;
	uint32_t s, o;
	char *str;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		fgroups_finish(j, j->p[s], &p->upd[s]);
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		/* Every UID gone below UIDNEXT, with CONDSTORE (known.c). */
		if (p->van[s].n == 0 ||
		    (j->p[s]->caps & IMAP_CAP_CONDSTORE_SYNC))
			continue;
		o = OTHER(s);
		str = uidranges_str(&p->van[s]);
		jlog(j, LOG_LVL_WARN, e->peer[o].name, mb->srv[o], "WARNING: "
		    "No match for %llu vanished %s UID(s) %s. Ignoring.",
		    (unsigned long long)uidranges_count(&p->van[s]),
		    e->peer[s].name, str);
		free(str);
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		o = OTHER(s);
		ent = modtab_drain(&p->res[s], &n);
		for (i = 0; i < n; i++) {
			jlog(j, LOG_LVL_WARN, e->peer[o].name, mb->srv[o],
			    "WARNING: No match for modified %s UID %u. "
			    "Redownloading.", e->peer[s].name, ent[i].uid);
			uidvec_push(&p->missing[s], ent[i].uid);
			free(ent[i].flags);
		}
		free(ent);
		uidvec_sort_uniq(&p->missing[s]);
	}
	/* Local's messages first, as the reference. */
	if (p->missing[SIDE_LOCAL].n > 0)
		xfer_recopy(j, SIDE_LOCAL, &p->missing[SIDE_LOCAL],
		    P_COPY_REMOTE);
	else
		j->t.state = P_COPY_REMOTE;
}

void
repair_step(struct job *j)
{
	struct repair *p = j->repair;

	switch (j->t.state) {
	case P_PULLED:
		repair_pulled(j, p);
		return;
	case P_REMOVED:
		repair_removed(j, p);
		return;
	case P_PUSHED:
		repair_pushed(j, p);
		return;
	case P_COPY_REMOTE:
		j->t.state = P_END;
		if (p->missing[SIDE_REMOTE].n > 0)
			xfer_recopy(j, SIDE_REMOTE, &p->missing[SIDE_REMOTE],
			    P_END);
		return;
	case P_END:
		j->t.state = p->ret;
		repair_free(p);
		j->repair = NULL;
		return;
	default:
		fatalx(EXIT_CHILD, "engine: internal error: repair state %d",
		    j->t.state);
	}
}
