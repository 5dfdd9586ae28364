/*
 * What the servers report about new messages while a job runs (the
 * reports known.c pulls, for messages at or above the synced UIDNEXT):
 * flag changes and expunges of messages a pass is copying, held until
 * the copy is made (j->mnew, j->vnew), and the flags of our own copies
 * reported back (j->copies), which are not changes.  Found with
 * integration/concurrent: another client at work on both servers while
 * the service runs.
 */
#include <stdlib.h>

#include "eng.h"

static int	 copyent_cmp(const void *, const void *);
static int	 known_copy(struct job *, uint32_t, uint32_t, const char *);

/* A copy the job made on side s, with the flags it was given (append.c). */
void
known_copied(struct job *j, uint32_t s, uint32_t uid, uint32_t fh)
{
	struct copyvec *c = &j->copies[s];

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = eng_reallocarray(c->v, c->cap, sizeof(*c->v));
	}
	c->v[c->n].uid = uid;
	c->v[c->n].fh = fh;
	c->n++;
}

static int
copyent_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct copyent *)a)->uid;
	uint32_t y = ((const struct copyent *)b)->uid;

	return x < y ? -1 : x > y;
}

/*
 * Is uid on side s a copy the job made, with the flags reported?  Then
 * the report is what our APPEND did, not a change (j->copies, sorted
 * when asked).  APPENDUIDs grow: the sort finds it nearly done.
 */
static int
known_copy(struct job *j, uint32_t s, uint32_t uid, const char *flags)
{
	struct copyvec *c = &j->copies[s];
	size_t lo = 0, hi, mid;

	if (c->n == 0)
		return 0;
	if (c->sorted != c->n) {
		eng_sort(c->v, c->n, sizeof(*c->v), copyent_cmp);
		c->sorted = c->n;
	}
	for (hi = c->n; lo < hi;) {
		mid = lo + (hi - lo) / 2;
		if (c->v[mid].uid == uid)
			return c->v[mid].fh == flags_hash(flags);
		if (c->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * A copy of ours reported with the flags we gave it: our APPEND, not a
 * change.  The synced HIGHESTMODSEQ, once past the copy's MODSEQ, drops
 * such reports by itself; until then (a SELECT again in between, Cyrus
 * reporting the copies as changed since), this does, or they would be
 * taken for changes made on the copy: a conflict with a change of the
 * original, or the original set back to them.  A report with other
 * flags is a change made on the copy since, and goes on.  1 if dropped
 * (ent's flags freed).
 */
int
known_echo(struct job *j, uint32_t s, struct modent *ent)
{
	if (!known_copy(j, s, ent->uid, ent->flags))
		return 0;
	free(ent->flags);
	ent->flags = NULL;
	return 1;
}

/*
 * The changes held back (known_hold()) that a pass has gone past: those
 * of a message copied are this round's changes, whatever the synced
 * HIGHESTMODSEQ has become since (they were reported after it was
 * set: not our own, which known_hold() dropped); those of a message
 * never copied (gone before its FETCH) are dropped.  The others stay
 * held.  A later report of the same message, drained after, replaces
 * its entry.
 */
void
known_held(struct job *j, uint32_t s, struct modtab *res)
{
	const struct mcache *pc = &j->mb->pcache[s];
	struct modent *ent;
	size_t i, n;

	if (j->mnew[s].n == 0)
		return;
	ent = modtab_drain(&j->mnew[s], &n);
	for (i = 0; i < n; i++) {
		if ((pc->has & MC_UIDNEXT) && ent[i].uid < pc->uidnext) {
			if (map_lookup(&j->map, s, ent[i].uid) != 0 &&
			    (!pflags_side(j, s) || pflags_changed(j, s,
			    ent[i].uid, ent[i].flags))) {
				modtab_put(res, ent[i].uid,
				    ent[i].modseq, ent[i].flags);
				ent[i].flags = NULL;
			}
		} else {
			modtab_put(&j->mnew[s], ent[i].uid, ent[i].modseq,
			    ent[i].flags);
			ent[i].flags = NULL;
		}
		free(ent[i].flags);
	}
	free(ent);
}

/*
 * A flag change of a message new to the job (at or above the synced
 * UIDNEXT): a copy of ours reporting the flags we gave it, or a message
 * a pass is copying (fetched before the change, its APPEND in flight)
 * or will copy, or a copy of ours changed since.  The reference drops
 * them all ("their flags come with the copy"), which loses a change made
 * after the FETCH.  Ours are dropped (known_echo()); the others are held
 * back (j->mnew) until a pass has gone past them.  1 if held (ent's flags
 * taken) or dropped.
 */
int
known_hold(struct job *j, uint32_t s, struct modent *ent)
{
	const struct mcache *pc = &j->mb->pcache[s];

	if (!(pc->has & MC_UIDNEXT) || ent->uid < pc->uidnext)
		return 0;
	if (!known_echo(j, s, ent)) {
		modtab_put(&j->mnew[s], ent->uid, ent->modseq, ent->flags);
		ent->flags = NULL;
	}
	return 1;
}

/*
 * VANISHED messages that were new to this job (at or above the
 * synchronised UIDNEXT of its SELECT, j->uidnext0): only those a pass of
 * the job copied have anything to propagate, and those may still be on
 * their way (fetched before the expunge, their APPEND in flight).  At or
 * above the synchronised UIDNEXT lim, they are kept (j->vnew) until that
 * is known; below it, or once lim has passed them, those with a mapping
 * go on as any other expunge, those without one were never copied and
 * are dropped without a word.  The reference drops the first kind at
 * once, losing the expunge of a message whose copy was in flight (the
 * copy stays, mapped to nothing), and warns "No match" for the second.
 */
void
known_vnew(struct job *j, uint32_t s, uint32_t lim, struct uidranges *van)
{
	struct uidranges *v = &j->vnew[s], keep = { NULL, 0, 0 };
	const struct map_pair *a;
	size_t i, at, n = map_count(&j->map);
	uint32_t lo, u, low = j->uidnext0[s] > 0 ? j->uidnext0[s] : 1;

	if (low > lim)
		low = lim;
	/* The new ones join those kept from earlier rounds. */
	for (i = 0; i < van->n; i++)
		if (van->r[i].hi >= low)
			uidranges_push(v, van->r[i].lo < low ? low :
			    van->r[i].lo, van->r[i].hi);
	uidranges_clip(van, low);
	if (v->n == 0)
		return;
	uidranges_normalize(v);
	for (i = 0; i < v->n; i++) {
		for (at = map_lower_bound(&j->map, s, v->r[i].lo); at < n;
		    at++) {
			a = map_side_at(&j->map, s, at);
			u = s == SIDE_LOCAL ? a->luid : a->ruid;
			if (u > v->r[i].hi)
				break;
			uidranges_push(van, u, u);
		}
		if (v->r[i].hi >= lim) {
			lo = v->r[i].lo < lim ? lim : v->r[i].lo;
			uidranges_push(&keep, lo, v->r[i].hi);
		}
	}
	uidranges_normalize(van);
	/* The mapped ones go now. */
	uidranges_minus_ranges(&keep, van);
	uidranges_free(v);
	*v = keep;
}

