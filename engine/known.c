/*
 * sync_known_messages (REFERENCE-BEHAVIOUR §6.4) as a sub-machine of a
 * mailbox job: rounds of pull (what each server reported about known
 * messages: vanished UIDs and flag changes, with a FETCH for changes
 * whose flags are unknown), then reconcile (removals mapped to the other
 * side, flag changes mapped, conflicts to the union) with both servers'
 * UID EXPUNGEs and UID STOREs sent at once, then the results, until a
 * round finds nothing.  j->found says whether any round found something.
 *
 * Sizes: VANISHED ranges are never expanded UID by UID; they are walked
 * together with the mapping, so a range as large as the mailbox costs
 * what the mapped UIDs in it cost.
 *
 * Departures from the reference, on purpose (§9):
 *  - 2: a UID removed in a round (expunged on one side) is dropped from
 *    that round's flag changes, so no spurious "No match for modified
 *    ... Try '--repair'" warning;
 *  - 8: a UID EXPUNGE the server refused does not leave an orphan: the
 *    message is copied back to the side it vanished from (xfer.c), with
 *    a new mapping, so both sides agree again and nothing is lost;
 *  - the mapping rows of unmatched vanished UIDs are not asked to be
 *    deleted, so the reference's "Can't delete (idx,lUID)" warning, one
 *    per such UID, does not repeat the "No match ... vanished" one.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "fgroup.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

enum {
	K_PULL = JOB_SUB,
	K_PULLED,
	K_FINISH,
	K_RESTORE,
	K_RESTORED,
	K_RETRIED,
	K_END = JOB_SUB + 99,
};

struct known {
	int		 ret;
	struct modtab	 res[2];	/* changes pulled so far */
	struct uidranges van[2];	/* vanished, below the synced UIDNEXT */
	struct modent	*mod[2];	/* changes, sorted by UID */
	size_t		 nmod[2];
	struct uidvec	 rm[2];		/* UIDs to remove, sorted */
	int		 rm_done[2];
	struct uidvec	 failed[2];	/* removals refused */
	struct uidvec	 mapdel;	/* local UIDs whose rows go */
	struct fgroups	 upd[2];
	uint32_t	 restore;	/* the side being restored */
	struct uidvec	 retry[2];	/* removals refused, asked again */
	int		 retried;
	uint32_t	 xid[2];	/* the last request of the expunges */
};

static void	 known_round_free(struct known *);
static void	 known_pull(struct job *, struct known *);
static int	 known_pulled(struct job *, struct known *);
static void	 known_reconcile(struct job *, struct known *);
static void	 known_finish(struct job *, struct known *);
static void	 removal_done(struct rgroup *);
static void	 known_confirm_hms(struct job *, struct known *, uint32_t);
static int	 known_confirm_vanished(struct job *);
static int	 known_retry(struct job *, struct known *);

void
known_start(struct job *j, int ret)
{
	struct known *k;

	k = eng_calloc(1, sizeof(*k));
	k->ret = ret;
	j->known = k;
	j->found = 0;
	j->t.state = K_PULL;
}

static void
known_round_free(struct known *k)
{
	uint32_t s;
	size_t i;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		modtab_free(&k->res[s]);
		uidranges_free(&k->van[s]);
		for (i = 0; i < k->nmod[s]; i++)
			free(k->mod[s][i].flags);
		free(k->mod[s]);
		k->mod[s] = NULL;
		k->nmod[s] = 0;
		uidvec_free(&k->rm[s]);
		k->rm_done[s] = 0;
		uidvec_free(&k->failed[s]);
		uidvec_free(&k->retry[s]);
		fgroups_free(&k->upd[s]);
		k->xid[s] = 0;
	}
	uidvec_free(&k->mapdel);
	k->retried = 0;
}

void
known_free(struct known *k)
{
	if (k == NULL)
		return;
	known_round_free(k);
	free(k);
}

/*
 * The reference's pull_updates, both sides at once: changes with known
 * flags are kept (below the synced UIDNEXT, newer than the synced
 * HIGHESTMODSEQ); those with unknown flags are fetched, and their
 * answers come back through MODIFIED, pulled again next step.
 */
static void
known_pull(struct job *j, struct known *k)
{
	struct mbox *mb = j->mb;
	struct uidranges missing;
	struct modent *ent;
	struct mcache *pc;
	struct msel *ms;
	size_t i, n;
	uint32_t s;
	int sent = 0;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		ms = &mb->sel[s];
		pc = &mb->pcache[s];
		known_held(j, s, &k->res[s]);
		if (ms->modified.n == 0)
			continue;
		memset(&missing, 0, sizeof(missing));
		ent = modtab_drain(&ms->modified, &n);
		for (i = 0; i < n; i++) {
			if (ent[i].flags != NULL && ent[i].modseq > 0) {
				if (known_hold(j, s, &ent[i]) ||
				    known_echo(j, s, &ent[i]))
					continue;
				/*
				 * A side synced plain reports every flag:
				 * a change is what differs from the kept.
				 */
				if ((pc->has & MC_UIDNEXT) &&
				    ent[i].uid < pc->uidnext &&
				    ent[i].modseq > pc->hms &&
				    (!pflags_side(j, s) || pflags_changed(j,
				    s, ent[i].uid, ent[i].flags))) {
					modtab_put(&k->res[s], ent[i].uid,
					    ent[i].modseq, ent[i].flags);
					ent[i].flags = NULL;
				}
			} else if (missing.n > 0 &&
			    missing.r[missing.n - 1].hi + 1 == ent[i].uid)
				missing.r[missing.n - 1].hi = ent[i].uid;
			else
				uidranges_push(&missing, ent[i].uid,
				    ent[i].uid);
			free(ent[i].flags);
		}
		free(ent);
		if (missing.n > 0) {
			rg_fetch(&j->t, j->p[s], mb, &missing,
			    IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS, 0, NULL, NULL,
			    NULL);
			sent = 1;
		}
		uidranges_free(&missing);
	}
	if (!sent)
		j->t.state = K_PULLED;
}

/* The end of a pull: 1 if the round has anything to do. */
static int
known_pulled(struct job *j, struct known *k)
{
	struct mbox *mb = j->mb;
	struct mcache *pc;
	struct msel *ms;
	struct modent *ent;
	size_t i, n, m;
	uint32_t s, lim;
	int any = 0;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		ms = &mb->sel[s];
		pc = &mb->pcache[s];
		lim = (pc->has & MC_UIDNEXT) ? pc->uidnext : 1;
		k->van[s] = ms->vanished;
		memset(&ms->vanished, 0, sizeof(ms->vanished));
		uidranges_normalize(&k->van[s]);
		known_vnew(j, s, lim > 0 ? lim : 1, &k->van[s]);
		/*
		 * Our own expunges, and the expunges this job has handled
		 * already, reported again by a later SELECT.
		 */
		uidranges_minus(&k->van[s], j->removed[s].v,
		    j->removed[s].n);
		uidranges_minus_ranges(&k->van[s], &j->vgone[s]);
		for (i = 0; i < k->van[s].n; i++)
			uidranges_push(&j->vgone[s], k->van[s].r[i].lo,
			    k->van[s].r[i].hi);
		uidranges_normalize(&j->vgone[s]);
		ent = modtab_drain(&k->res[s], &n);
		for (i = 0, m = 0; i < n; i++) {
			if (uidranges_has(&k->van[s], ent[i].uid)) {
				free(ent[i].flags);
				continue;
			}
			ent[m++] = ent[i];
		}
		k->mod[s] = ent;
		k->nmod[s] = m;
		modtab_free(&k->res[s]);
		netc_set_pcache(j->p[s], mb, MC_HMS, 0, 0,
		    netc_synced_hms(mb, s));
		if (m > 0 || k->van[s].n > 0)
			any = 1;
	}
	return any;
}

/* What a round does, and the commands for it, both sides at once. */
static void
known_reconcile(struct job *j, struct known *k)
{
	struct eng *e = j->e;
	struct mbox *mb = j->mb;
	struct uidranges dunno[2], set;
	const struct map_pair *a;
	struct modent *me, *other;
	char *uflags, *str;
	size_t i, idx, n;
	uint32_t s, o, u, partner, cur;
	int wrapped;

	memset(dunno, 0, sizeof(dunno));
	/*
	 * Vanished on one side: remove on the other (unless vanished there
	 * too).  The mapped UIDs of each range are walked in the mapping;
	 * the rest of the range has no match.
	 */
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		o = OTHER(s);
		for (i = 0; i < k->van[s].n; i++) {
			struct uid_range r = k->van[s].r[i];

			idx = map_lower_bound(&j->map, s, r.lo);
			n = map_count(&j->map);
			cur = r.lo;
			wrapped = 0;
			for (; idx < n; idx++) {
				a = map_side_at(&j->map, s, idx);
				u = s == SIDE_LOCAL ? a->luid : a->ruid;
				partner = s == SIDE_LOCAL ? a->ruid : a->luid;
				if (u > r.hi)
					break;
				if (u > cur)
					uidranges_push(&dunno[s], cur, u - 1);
				if (u == UINT32_MAX)
					wrapped = 1;
				cur = u + 1;
				if (s == SIDE_LOCAL)
					uidvec_push(&k->mapdel, u);
				if (!uidranges_has(&k->van[o], partner))
					uidvec_push(&k->rm[o], partner);
			}
			if (!wrapped && cur <= r.hi)
				uidranges_push(&dunno[s], cur, r.hi);
		}
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		/*
		 * A server synced with CONDSTORE reports every UID below
		 * the last synced UIDNEXT that is gone (net/imap_ops.c),
		 * those whose mapping an earlier run removed too: no
		 * match is the rule there, not a sign of trouble.
		 */
		if (dunno[s].n == 0 ||
		    (j->p[s]->caps & IMAP_CAP_CONDSTORE_SYNC)) {
			uidranges_free(&dunno[s]);
			continue;
		}
		str = uidranges_str(&dunno[s]);
		jlog(j, LOG_LVL_WARN, e->peer[OTHER(s)].name,
		    mb->srv[OTHER(s)], "WARNING: No match for %llu vanished %s "
		    "UID(s) %s. Ignoring.",
		    (unsigned long long)uidranges_count(&dunno[s]),
		    e->peer[s].name, str);
		free(str);
		uidranges_free(&dunno[s]);
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		uidvec_sort_uniq(&k->rm[s]);

	/*
	 * Flag changes.  A UID being removed this round is no change to
	 * propagate (§9.2).
	 */
	for (i = 0; i < k->nmod[SIDE_LOCAL]; i++) {
		me = &k->mod[SIDE_LOCAL][i];
		if (uidvec_has(&k->rm[SIDE_LOCAL], me->uid))
			continue;
		o = map_lookup(&j->map, SIDE_LOCAL, me->uid);
		if (o == 0) {
			jlog(j, LOG_LVL_WARN, "remote", mb->srv[SIDE_REMOTE],
			    "WARNING: No match for modified local UID %u. Try "
			    "'--repair'.", me->uid);
			continue;
		}
		if (uidranges_has(&k->van[SIDE_REMOTE], o) ||
		    uidvec_has(&k->rm[SIDE_REMOTE], o))
			continue;
		other = eng_find_uid(k->mod[SIDE_REMOTE],
		    k->nmod[SIDE_REMOTE], sizeof(struct modent), o);
		if (other != NULL) {
			if (strcmp(me->flags, other->flags) == 0)
				continue;
			uflags = flags_union(me->flags, other->flags);
			jlog(j, LOG_LVL_WARN, NULL, NULL, "WARNING: "
			    "Conflicting flag update in %s for local UID %u "
			    "(%s) and remote UID %u (%s). Setting both to the "
			    "union (%s).", mb->pretty, me->uid, me->flags, o,
			    other->flags, uflags);
			fgroups_add(&k->upd[SIDE_LOCAL], uflags, me->uid);
			fgroups_add(&k->upd[SIDE_REMOTE], uflags, o);
			free(uflags);
		} else
			fgroups_add(&k->upd[SIDE_REMOTE], me->flags, o);
	}
	for (i = 0; i < k->nmod[SIDE_REMOTE]; i++) {
		me = &k->mod[SIDE_REMOTE][i];
		if (uidvec_has(&k->rm[SIDE_REMOTE], me->uid))
			continue;
		o = map_lookup(&j->map, SIDE_REMOTE, me->uid);
		if (o == 0) {
			jlog(j, LOG_LVL_WARN, "local", mb->srv[SIDE_LOCAL],
			    "WARNING: No match for modified remote UID %u. Try "
			    "'--repair'.", me->uid);
			continue;
		}
		if (uidranges_has(&k->van[SIDE_LOCAL], o) ||
		    uidvec_has(&k->rm[SIDE_LOCAL], o))
			continue;
		if (eng_find_uid(k->mod[SIDE_LOCAL], k->nmod[SIDE_LOCAL],
		    sizeof(struct modent), o) == NULL)
			fgroups_add(&k->upd[SIDE_LOCAL], me->flags, o);
	}

	/* Everything goes out at once, both sides. */
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		memset(&set, 0, sizeof(set));
		uidranges_from_vec(&set, k->rm[s].v, k->rm[s].n);
		rg_expunge(&j->t, j->p[s], mb, &set, removal_done,
		    &k->rm_done[s]);
		if (set.n > 0)
			k->xid[s] = netc_last_id(j->p[s]);
		uidranges_free(&set);
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		fgroups_send(j, j->p[s], &k->upd[s]);
	j->t.state = K_FINISH;
}

/* A NO is not fatal (the reference does not check): see finish. */
static void
removal_done(struct rgroup *g)
{
	int *done = g->arg;

	*done = 1;
}

/*
 * The UIDs the expunges removed are those now reported VANISHED: they
 * are dropped from VANISHED and MODIFIED, so that they do not come back
 * as changes; the others were refused (said unless quiet: they are
 * asked again).
 */
size_t
known_removal_finish(struct job *j, uint32_t s, const struct uidvec *rm,
    struct uidvec *failed, int quiet)
{
	struct peer *p = j->p[s];
	struct msel *ms = &j->mb->sel[s];
	struct uidvec gone;
	size_t i;
	uint32_t uid;
	char *set;
	size_t n;

	if (rm->n == 0)
		return 0;
	memset(&gone, 0, sizeof(gone));
	uidranges_normalize(&ms->vanished);
	for (i = 0; i < rm->n; i++) {
		uid = rm->v[i];
		if (uidranges_has(&ms->vanished, uid)) {
			uidvec_push(&gone, uid);
			modtab_del(&ms->modified, uid);
		} else
			uidvec_push(failed, uid);
	}
	/* VANISHED minus ours: the rest stays for the next pull. */
	uidranges_minus(&ms->vanished, gone.v, gone.n);
	if (gone.n > 0) {
		uidvec_append(&j->removed[s], gone.v, gone.n);
		uidvec_sort_uniq(&j->removed[s]);
		set = uid_compact_set(gone.v, gone.n);
		jlog(j, LOG_LVL_AUDIT, p->name, j->mb->srv[s], "EXPUNGE "
		    "uids=%s", set);
		free(set);
	}
	if (gone.n > 0 && !j->e->quiet) {
		set = uid_compact_set(gone.v, gone.n);
		jlog(j, LOG_LVL_INFO, p->name, j->mb->srv[s], "Removed %zu "
		    "UID(s) %s", gone.n, set);
		free(set);
	}
	if (failed->n > 0 && !quiet) {
		set = uid_compact_set(failed->v, failed->n);
		jlog(j, LOG_LVL_WARN, p->name, j->mb->srv[s], "WARNING: "
		    "Couldn't UID EXPUNGE %s", set);
		free(set);
	}
	n = gone.n;
	uidvec_free(&gone);
	return n;
}

/*
 * The HIGHESTMODSEQ after our expunges on side s, where no
 * [HIGHESTMODSEQ] came with or after the last UID EXPUNGE's answer
 * (ms->hms_req).  Dovecot reports it with the last of the commands it
 * takes together (a pipelined NOOP gets it, not the UID EXPUNGE), and
 * not at all when that is another job's SELECT or when the VANISHED went
 * out with the STORE before it: a NOOP sent later does not get it
 * either.  Stored as it was, the next run's SELECT would report those
 * UIDs VANISHED again, with no mapping left ("No match for vanished
 * UID(s)").  So the mailbox is SELECTed again, from the live state: its
 * answer carries the HIGHESTMODSEQ, and the UIDs it reports VANISHED
 * are known as ours (j->removed).
 */
static void
known_confirm_hms(struct job *j, struct known *k, uint32_t s)
{
	struct peer *p = j->p[s];

	if (k->xid[s] == 0 || !(p->caps & IMAP_CAP_QRESYNC) ||
	    (p->caps & (IMAP_CAP_CONDSTORE_SYNC | IMAP_CAP_PLAIN_SYNC)) ||
	    (int32_t)(j->mb->sel[s].hms_req - k->xid[s]) >= 0)
		return;
	netc_reselect(p, &j->t, j->mb, "for the HIGHESTMODSEQ after UID "
	    "EXPUNGE");
}

/*
 * Once a job's rounds found nothing more: expunges another client made,
 * reported VANISHED while the job had the mailbox selected, and handled
 * (their copies removed, their rows gone), with no [HIGHESTMODSEQ]
 * after them (Cyrus sends none).  The last synchronised state would
 * stay below them, and the next SELECT report them VANISHED (EARLIER)
 * again, with no mapping left ("No match for vanished UID(s)"): as for
 * our own (known_confirm_hms()), the mailbox is SELECTed again for its
 * HIGHESTMODSEQ, and what it reports again is known as handled
 * (j->vgone).  1 if a SELECT went.
 */
static int
known_confirm_vanished(struct job *j)
{
	struct msel *ms;
	struct peer *p;
	uint32_t s;
	int sent = 0;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = j->p[s];
		ms = &j->mb->sel[s];
		if (j->vgone[s].n == 0 || ms->van_ev <= ms->hms_ev ||
		    ms->van_ev == ms->van_asked ||
		    !(p->caps & IMAP_CAP_QRESYNC) ||
		    (p->caps & (IMAP_CAP_CONDSTORE_SYNC | IMAP_CAP_PLAIN_SYNC)))
			continue;
		/* Once: a server that answers without it is not asked again. */
		ms->van_asked = ms->van_ev;
		netc_reselect(p, &j->t, j->mb, "for the HIGHESTMODSEQ after "
		    "VANISHED");
		sent = 1;
	}
	return sent;
}

/*
 * UIDs a UID EXPUNGE did not remove, asked once more before the copies
 * are restored (§9.8): Dovecot sometimes leaves one of ours when another
 * client expunges in the same mailbox at that moment (found by
 * integration/concurrent), and a refusal for good is refused again.  1
 * if asked.
 */
static int
known_retry(struct job *j, struct known *k)
{
	struct uidranges set;
	uint32_t s;
	int sent = 0;

	if (k->retried)
		return 0;
	k->retried = 1;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		if (k->failed[s].n == 0)
			continue;
		k->retry[s] = k->failed[s];
		memset(&k->failed[s], 0, sizeof(k->failed[s]));
		memset(&set, 0, sizeof(set));
		uidranges_from_vec(&set, k->retry[s].v, k->retry[s].n);
		rg_expunge(&j->t, j->p[s], j->mb, &set, removal_done,
		    &k->rm_done[s]);
		k->xid[s] = netc_last_id(j->p[s]);
		uidranges_free(&set);
		sent = 1;
	}
	if (sent)
		j->t.state = K_RETRIED;
	return sent;
}

static void
known_finish(struct job *j, struct known *k)
{
	size_t i;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		if (known_removal_finish(j, s, &k->rm[s],
		    &k->failed[s], 1) > 0)
			known_confirm_hms(j, k, s);
	}
	/*
	 * The mapping rows of every mapped local UID vanished or removed
	 * (the reference's delete_mapping), once both expunges are over;
	 * their deletion goes to the database with the HIGHESTMODSEQs that
	 * cover the expunges (job_flush()), in one commit.
	 */
	for (i = 0; i < k->rm[SIDE_LOCAL].n; i++)
		uidvec_push(&k->mapdel, k->rm[SIDE_LOCAL].v[i]);
	uidvec_sort_uniq(&k->mapdel);
	for (i = 0; i < k->mapdel.n; i++)
		(void)map_del(&j->map, SIDE_LOCAL, k->mapdel.v[i]);
	uidvec_append(&j->mapdel, k->mapdel.v, k->mapdel.n);
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		fgroups_finish(j, j->p[s], &k->upd[s]);
	k->restore = SIDE_LOCAL;
	j->t.state = K_RESTORE;
}

void
known_step(struct job *j)
{
	struct known *k = j->known;
	uint32_t s;

	switch (j->t.state) {
	case K_PULL:
		known_pull(j, k);
		return;
	case K_PULLED:
		if (!known_pulled(j, k)) {
			j->t.state = known_confirm_vanished(j) ? K_PULL :
			    K_END;
			return;
		}
		j->found = 1;
		known_reconcile(j, k);
		return;
	case K_FINISH:
		known_finish(j, k);
		return;
	case K_RESTORE:
		if (known_retry(j, k))
			return;
		/* §9.8: a refused expunge is undone, not orphaned. */
		for (; k->restore <= SIDE_REMOTE; k->restore++)
			if (k->failed[k->restore].n > 0)
				break;
		if (k->restore > SIDE_REMOTE) {
			known_round_free(k);
			j->t.state = K_PULL;
			return;
		}
		/* The rows the copies replace go first, with their commit. */
		job_flush(j);
		xfer_restore(j, k->restore, &k->failed[k->restore],
		    K_RESTORED);
		return;
	case K_RESTORED:
		k->restore++;
		j->t.state = K_RESTORE;
		return;
	case K_RETRIED:
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			if (known_removal_finish(j, s, &k->retry[s],
			    &k->failed[s], 0) > 0)
				known_confirm_hms(j, k, s);
		j->t.state = K_RESTORE;
		return;
	case K_END:
		j->t.state = k->ret;
		known_free(k);
		j->known = NULL;
		return;
	default:
		fatalx(EXIT_CHILD, "engine: internal error: known state %d",
		    j->t.state);
	}
}
