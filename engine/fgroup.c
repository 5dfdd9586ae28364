/*
 * Flag pushes (the reference's push_flag_updates, REFERENCE-BEHAVIOUR
 * §4.8): the UIDs of one side to be given new flags, grouped by the flag
 * string, one UID STORE ... (UNCHANGEDSINCE <pcache HIGHESTMODSEQ>)
 * FLAGS.SILENT per group (in pieces, rgroup.c).  Grouping sorts the
 * (flags, UID) pairs once: O(n log n) whatever the number of groups.
 *
 * Results: UIDs named in a [MODIFIED] code were changed meanwhile and
 * are fetched again by the next pull (a MODIFIED entry with unknown
 * flags); UIDs whose FETCH shows the flags we set (or no flags) are
 * done and dropped from MODIFIED; a FETCH with other flags stays a
 * pending change.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "fgroup.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

static int	 fentry_cmp(const void *, const void *);
static void	 fgroup_done(struct rgroup *);

void
fgroups_add(struct fgroups *gs, const char *flags, uint32_t uid)
{
	if (gs->n == gs->cap) {
		gs->cap = gs->cap ? gs->cap * 2 : 64;
		gs->v = eng_reallocarray(gs->v, gs->cap, sizeof(*gs->v));
	}
	gs->v[gs->n].flags = eng_strdup(flags);
	gs->v[gs->n].uid = uid;
	gs->n++;
}

size_t
fgroups_count(const struct fgroups *gs)
{
	return gs->n;
}

static int
fentry_cmp(const void *a, const void *b)
{
	const struct fentry *x = a, *y = b;
	int d;

	if ((d = strcmp(x->flags, y->flags)) != 0)
		return d;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static void
fgroup_done(struct rgroup *rg)
{
	struct fgroup *g = rg->arg;

	g->status = rg->status;
	g->text = rg->text != NULL ? eng_strdup(rg->text) : NULL;
	g->modified = rg->modified;
	memset(&rg->modified, 0, sizeof(rg->modified));
	g->answered = 1;
}

void
fgroups_send(struct job *j, struct peer *p, struct fgroups *gs)
{
	struct mcache *pc = &j->mb->pcache[p->side];
	struct uidranges set;
	size_t i, k;

	if (gs->n == 0)
		return;
	/* A deterministic order: by flag string, then UID. */
	eng_sort(gs->v, gs->n, sizeof(*gs->v), fentry_cmp);
	for (i = 0; i < gs->n; i = k) {
		for (k = i + 1; k < gs->n &&
		    strcmp(gs->v[k].flags, gs->v[i].flags) == 0; k++)
			;
		gs->g = eng_reallocarray(gs->g, gs->ng + 1, sizeof(*gs->g));
		memset(&gs->g[gs->ng], 0, sizeof(gs->g[gs->ng]));
		gs->g[gs->ng].first = i;
		gs->g[gs->ng].n = k - i;
		gs->ng++;
	}
	/* Each group's UIDs are sorted: consecutive ones make ranges. */
	for (i = 0; i < gs->ng; i++) {
		struct fgroup *g = &gs->g[i];

		memset(&set, 0, sizeof(set));
		for (k = g->first; k < g->first + g->n; k++) {
			if (set.n > 0 && set.r[set.n - 1].hi + 1 ==
			    gs->v[k].uid)
				set.r[set.n - 1].hi = gs->v[k].uid;
			else if (set.n == 0 || set.r[set.n - 1].hi !=
			    gs->v[k].uid)
				uidranges_push(&set, gs->v[k].uid,
				    gs->v[k].uid);
		}
		rg_store(&j->t, p, j->mb, &set, pc->hms, IMAP_STORE_REPLACE,
		    gs->v[g->first].flags, fgroup_done, g);
		uidranges_free(&set);
	}
}

void
fgroups_finish(struct job *j, struct peer *p, struct fgroups *gs)
{
	struct msel *ms = &j->mb->sel[p->side];
	struct uidvec ok, fl;
	struct modent *me;
	size_t i, k;
	uint32_t uid;
	char *set;
	const char *flags;

	for (i = 0; i < gs->ng; i++) {
		struct fgroup *g = &gs->g[i];

		if (!g->answered)
			fatalx(EXIT_CHILD, "engine: internal error: flag "
			    "group not answered");
		if (g->status != IMAP_DONE_OK)
			eng_fail(j->e, EXIT_FAIL, p->name,
			    j->mb->srv[p->side], "%s %s",
			    g->status == IMAP_DONE_NO ? "NO" : "BAD",
			    g->text != NULL ? g->text : "");
		flags = gs->v[g->first].flags;
		memset(&ok, 0, sizeof(ok));
		memset(&fl, 0, sizeof(fl));
		for (k = g->first; k < g->first + g->n; k++) {
			uid = gs->v[k].uid;
			if (uidranges_has(&g->modified, uid)) {
				/* Fetched again by the next pull. */
				uidvec_push(&fl, uid);
				if (modtab_get(&ms->modified, uid) == NULL)
					modtab_put(&ms->modified, uid, 0,
					    NULL);
				continue;
			}
			me = modtab_get(&ms->modified, uid);
			if (me != NULL && (me->flags == NULL ||
			    strcmp(me->flags, flags) == 0)) {
				/* What a server synced plain now has. */
				if (me->flags != NULL)
					pflags_set(j, p->side, uid, me->flags);
				modtab_del(&ms->modified, uid);
				uidvec_push(&ok, uid);
			}
		}
		if (ok.n > 0) {
			set = uid_compact_set(ok.v, ok.n);
			jlog(j, LOG_LVL_AUDIT, p->name, j->mb->srv[p->side],
			    "STORE uids=%s flags=(%s)", set, flags);
			free(set);
		}
		if (ok.n > 0 && !j->e->quiet) {
			set = uid_compact_set(ok.v, ok.n);
			jlog(j, LOG_LVL_INFO, p->name, j->mb->srv[p->side],
			    "Updated flags (%s) for UID %s", flags, set);
			free(set);
		}
		if (fl.n > 0 && !j->e->quiet) {
			set = uid_compact_set(fl.v, fl.n);
			jlog(j, LOG_LVL_INFO, p->name, j->mb->srv[p->side],
			    "Couldn't update flags (%s) for UID %s, will try "
			    "again later", flags, set);
			free(set);
		}
		uidvec_free(&ok);
		uidvec_free(&fl);
	}
}

void
fgroups_free(struct fgroups *gs)
{
	size_t i;

	for (i = 0; i < gs->n; i++)
		free(gs->v[i].flags);
	for (i = 0; i < gs->ng; i++) {
		free(gs->g[i].text);
		uidranges_free(&gs->g[i].modified);
	}
	free(gs->v);
	free(gs->g);
	memset(gs, 0, sizeof(*gs));
}
