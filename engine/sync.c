/*
 * The synchronisation of messages (REFERENCE-BEHAVIOUR §6.3-6.5): the
 * main loop over dirty mailboxes, sync_known_messages (vanished UIDs and
 * flag changes, mapped through the UID mapping and propagated), and
 * sync_messages (new messages copied both ways, streamed from the FETCH
 * of one server into the APPEND of the other).  The database is written
 * and committed at the reference's points (§5.4), so that a run
 * interrupted at any moment is resumed by the next one.
 *
 * Both servers work at once wherever the algorithm allows it: SELECT,
 * the flag FETCHes, the expunges and the flag stores of both sides are
 * all sent before any answer is awaited.
 *
 * Departures from the reference, on purpose (§9):
 *  - 2: a UID removed in a round (expunged on one side) is dropped from
 *    that round's flag changes, so no spurious "No match for modified
 *    ... Try '--repair'" warning;
 *  - 6: our own APPENDs do not count as new mail (netc.c), so no empty
 *    UID FETCH after each batch;
 *  - 8: a UID EXPUNGE the server refused does not leave an orphan: the
 *    message is copied back to the side it vanished from, with a new
 *    mapping, so both sides agree again and nothing is lost;
 *  - 11: a resumed sync selects with QRESYNC from the last synced state
 *    instead of a plain SELECT, so changes made to older messages around
 *    the interruption are propagated, not skipped by a jump of
 *    HIGHESTMODSEQ.  (A copy of the interrupted run whose flags differ
 *    from its original still gets the union: nothing records which of
 *    the two changed.)
 * And one of our own: copies made by a run killed between an APPEND and
 * the commit of its mapping rows are recognised by the next run
 * (adopt_copies) instead of being copied back as duplicates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf_proto.h"
#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

/* Batches of MULTIAPPEND, as the reference: 128 messages or 1 MiB. */
#define BATCH_MAXMSG	128
#define BATCH_MAXBYTES	(1024 * 1024)
/* UID sets longer than this go in several requests (IPC bound). */
#define SET_CHUNK	16384

#define OTHER(s)	((s) == SIDE_LOCAL ? SIDE_REMOTE : SIDE_LOCAL)

/* What a new message is fetched with (§6.4). */
#define XFER_ITEMS	(IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS |		\
			 IMAP_FETCH_INTERNALDATE | IMAP_FETCH_BODY)

/* Flag changes pulled from one side: uid -> (modseq, flags). */
struct pulled {
	struct uidvec	 vanished;	/* sorted */
	struct modent	*mod;		/* sorted by uid */
	size_t		 nmod;
};

/* A group of UIDs of one side to be given the same flags. */
struct fgroup {
	char		*flags;
	struct uidvec	 uids;
	struct req	**reqs;
	size_t		 nreqs;
};

struct fgroups {
	struct fgroup	*g;
	size_t		 n;
};

/* One APPEND in flight on the target. */
struct batch {
	struct xfer	*x;
	struct req	*req;
	struct uidvec	 suids;		/* source UIDs, in order */
	uint64_t	 bytes;
	uint32_t	 n;
	int		 closed;
};

/* A pass of new messages from src to dst. */
struct xfer {
	struct eng	*e;
	struct mbox	*mb;
	struct peer	*src, *dst;
	uint32_t	 uidnext;	/* the reference's local $UIDNEXT */
	struct batch	*cur;		/* open APPEND, or NULL */
	size_t		 pending;	/* APPENDs not yet answered */
	size_t		 ntuids;	/* target UIDs created */
	int		 maxmsg;
	int		 record;	/* keep the flags copied, by uid */
	struct modtab	 copied;
	struct req	**prereqs;	/* prefetch(): FETCH already sent */
	size_t		 nprereqs;

	/* The message being received. */
	int		 mode;		/* MSG_* */
	uint32_t	 uid;
	uint64_t	 modseq;
	uint64_t	 size, got;
	char		*flags;		/* NULL: unknown */
	int		 have_flags, have_date;
	char		*date;
	struct sbuf	 body;		/* MSG_BUFFER only */
};

enum {
	MSG_NONE = 0,
	MSG_STREAM,	/* forwarded chunk by chunk */
	MSG_BUFFER,	/* items after the literal: held until complete */
	MSG_SKIP,	/* 0-length */
	MSG_DONE_BUF,	/* buffered, complete, waiting for items after */
};

static void	 pulled_free(struct pulled *);
static char	**set_chunks(const char *, size_t *);
static void	 chunks_free(char **, size_t);
static void	 pull_updates(struct eng *, struct pulled[2], int);
static void	 fgroups_add(struct fgroups *, const char *, uint32_t);
static void	 fgroups_free(struct fgroups *);
static void	 fgroups_send(struct peer *, struct fgroups *);
static void	 fgroups_finish(struct peer *, struct fgroups *);
static struct modent *pulled_get(struct pulled *, uint32_t);
static int	 sync_known_messages(struct eng *, struct mbox *);
static void	 sync_messages(struct eng *, struct mbox *, struct uidvec[2]);
static size_t	 xfer_pass(struct eng *, struct mbox *, uint32_t,
		    struct uidvec *);
static void	 xfer_cb(struct peer *, struct req *, struct ipc_msg *);
static struct xfer *xfer_new(struct eng *, struct mbox *, uint32_t);
static void	 xfer_free(struct xfer *);
static void	 prefetch(struct eng *, struct mbox *);
static void	 xfer_msg_start(struct xfer *);
static void	 xfer_finish_buffered(struct xfer *);
static void	 xfer_reset_msg(struct xfer *);
static void	 batch_close(struct xfer *);
static void	 batch_done(struct peer *, struct req *);
static void	 select_mbx(struct eng *, struct mbox *, int);
static void	 load_map(struct eng *, struct mbox *);
static void	 resume(struct eng *);
static void	 state_load(struct eng *);
static struct mbox *next_dirty(struct eng *);
static void	 restore_copies(struct eng *, struct mbox *, uint32_t,
		    struct uidvec *);
static void	 adopt_copies(struct eng *, struct mbox *, struct uidvec[2]);
static char	*new_range(struct eng *, struct mbox *, uint32_t,
		    struct uidvec *, uint32_t *);

/* ------------------------------------------------------------------ */
/* Helpers. */

static void
pulled_free(struct pulled *u)
{
	size_t i;

	uidvec_free(&u->vanished);
	for (i = 0; i < u->nmod; i++)
		free(u->mod[i].flags);
	free(u->mod);
	memset(u, 0, sizeof(*u));
}

static struct modent *
pulled_get(struct pulled *u, uint32_t uid)
{
	return eng_find_uid(u->mod, u->nmod, sizeof(*u->mod), uid);
}

/* Splits a UID set at commas into pieces of at most SET_CHUNK bytes. */
static char **
set_chunks(const char *set, size_t *n)
{
	char **v = NULL;
	const char *p = set, *cut, *q;
	size_t len;

	*n = 0;
	while (*p != '\0') {
		len = strlen(p);
		if (len <= SET_CHUNK)
			cut = p + len;
		else {
			cut = NULL;
			for (q = p + SET_CHUNK; q > p; q--)
				if (*q == ',') {
					cut = q;
					break;
				}
			if (cut == NULL)
				cut = p + len;	/* cannot happen */
		}
		v = eng_reallocarray(v, *n + 1, sizeof(*v));
		v[(*n)++] = eng_memdup(p, (size_t)(cut - p));
		p = *cut == ',' ? cut + 1 : cut;
	}
	return v;
}

static void
chunks_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
log_set(int level, struct peer *p, const char *fmt, const uint32_t *uids,
    size_t n)
{
	char *set;

	if (n == 0)
		return;
	set = uid_compact_set(uids, n);
	log_msg(level, p->name, netc_mbox(p), fmt, (unsigned int)n, set);
	free(set);
}

/* ------------------------------------------------------------------ */
/* pull_updates on both sides at once (§4.8). */

static void
pull_updates(struct eng *e, struct pulled u[2], int full)
{
	struct modtab res[2];
	struct uidvec missing;
	struct modent *ent;
	struct req **reqs = NULL;
	struct peer *p;
	struct mcache *pc;
	char *set, **chunks;
	size_t nreqs, i, j, n, nch;
	uint32_t s, uid, lim;

	memset(res, 0, sizeof(res));
	memset(&missing, 0, sizeof(missing));
	for (;;) {
		nreqs = 0;
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			p = &e->peer[s];
			pc = &p->sel->pcache[s];
			if (p->modified.n == 0)
				continue;
			uidvec_clear(&missing);
			ent = modtab_drain(&p->modified, &n);
			for (i = 0; i < n; i++) {
				if (ent[i].flags != NULL && ent[i].modseq > 0) {
					if (ent[i].uid < pc->uidnext && (full ||
					    ent[i].modseq > pc->hms)) {
						modtab_put(&res[s], ent[i].uid,
						    ent[i].modseq,
						    ent[i].flags);
						ent[i].flags = NULL;
					}
				} else
					uidvec_push(&missing, ent[i].uid);
				free(ent[i].flags);
			}
			free(ent);
			if (missing.n == 0)
				continue;
			set = uid_compact_set(missing.v, missing.n);
			chunks = set_chunks(set, &nch);
			free(set);
			for (j = 0; j < nch; j++) {
				reqs = eng_reallocarray(reqs, nreqs + 1,
				    sizeof(*reqs));
				reqs[nreqs++] = netc_fetch(p, chunks[j],
				    IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS,
				    NULL, NULL);
			}
			chunks_free(chunks, nch);
		}
		if (nreqs == 0 && e->peer[SIDE_LOCAL].modified.n == 0 &&
		    e->peer[SIDE_REMOTE].modified.n == 0)
			break;
		for (i = 0; i < nreqs; i++) {
			netc_wait(reqs[i]);
			if (reqs[i]->status != IMAP_DONE_OK)
				netc_fail_req(reqs[i]->p, reqs[i]);
			netc_req_free(reqs[i]);
		}
	}
	free(reqs);
	uidvec_free(&missing);

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = &e->peer[s];
		pc = &p->sel->pcache[s];
		lim = (pc->has & MC_UIDNEXT) ? pc->uidnext : 1;
		uidvec_clear(&u[s].vanished);
		for (i = 0; i < p->vanished.n; i++)
			for (uid = p->vanished.r[i].lo; uid < lim &&
			    uid <= p->vanished.r[i].hi; uid++)
				uidvec_push(&u[s].vanished, uid);
		uidranges_free(&p->vanished);
		uidvec_sort_uniq(&u[s].vanished);
		for (i = 0; i < u[s].vanished.n; i++)
			modtab_del(&res[s], u[s].vanished.v[i]);
		u[s].mod = modtab_drain(&res[s], &u[s].nmod);
		modtab_free(&res[s]);
		netc_set_pcache(p, p->sel, MC_HMS, 0, 0,
		    p->sel->cache[s].hms);
	}
}

/* ------------------------------------------------------------------ */
/* Flag pushes (push_flag_updates, §4.8), grouped by flag string. */

static void
fgroups_add(struct fgroups *gs, const char *flags, uint32_t uid)
{
	size_t i;

	for (i = 0; i < gs->n; i++)
		if (strcmp(gs->g[i].flags, flags) == 0)
			break;
	if (i == gs->n) {
		gs->g = eng_reallocarray(gs->g, gs->n + 1, sizeof(*gs->g));
		memset(&gs->g[i], 0, sizeof(gs->g[i]));
		gs->g[i].flags = eng_strdup(flags);
		gs->n++;
	}
	uidvec_push(&gs->g[i].uids, uid);
}

static void
fgroups_free(struct fgroups *gs)
{
	size_t i;

	for (i = 0; i < gs->n; i++) {
		free(gs->g[i].flags);
		uidvec_free(&gs->g[i].uids);
		free(gs->g[i].reqs);
	}
	free(gs->g);
	memset(gs, 0, sizeof(*gs));
}

static int
fgroup_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fgroup *)a)->flags,
	    ((const struct fgroup *)b)->flags);
}

static void
fgroups_send(struct peer *p, struct fgroups *gs)
{
	struct mcache *pc = &p->sel->pcache[p->side];
	char *set, **chunks;
	size_t i, j, nch;

	/* A deterministic order: by flag string. */
	eng_sort(gs->g, gs->n, sizeof(*gs->g), fgroup_cmp);
	for (i = 0; i < gs->n; i++) {
		set = uid_compact_set(gs->g[i].uids.v, gs->g[i].uids.n);
		chunks = set_chunks(set, &nch);
		free(set);
		gs->g[i].reqs = eng_calloc(nch, sizeof(struct req *));
		gs->g[i].nreqs = nch;
		for (j = 0; j < nch; j++)
			gs->g[i].reqs[j] = netc_store(p, chunks[j], pc->hms,
			    IMAP_STORE_REPLACE, gs->g[i].flags);
		chunks_free(chunks, nch);
	}
}

static void
fgroups_finish(struct peer *p, struct fgroups *gs)
{
	struct uidranges failed;
	struct uidvec ok, fl;
	struct modent *me;
	struct req *r;
	size_t i, j, k;
	uint32_t uid;
	char *set;

	for (i = 0; i < gs->n; i++) {
		memset(&failed, 0, sizeof(failed));
		memset(&ok, 0, sizeof(ok));
		memset(&fl, 0, sizeof(fl));
		for (j = 0; j < gs->g[i].nreqs; j++) {
			r = gs->g[i].reqs[j];
			netc_wait(r);
			if (r->status != IMAP_DONE_OK)
				netc_fail_req(p, r);
			if (r->code == IMAP_CODE_MODIFIED &&
			    r->codedata != NULL &&
			    uidset_parse(r->codedata, &failed) == -1)
				eng_fail(p->e, EXIT_PANIC, p->name,
				    netc_mbox(p), "PANIC: %s", r->codedata);
			netc_req_free(r);
		}
		/* Expand the failed set, bounded by our own UIDs. */
		for (k = 0; k < failed.n; k++)
			for (j = 0; j < gs->g[i].uids.n; j++) {
				uid = gs->g[i].uids.v[j];
				if (uid >= failed.r[k].lo &&
				    uid <= failed.r[k].hi)
					uidvec_push(&fl, uid);
			}
		uidvec_sort_uniq(&fl);
		for (j = 0; j < gs->g[i].uids.n; j++) {
			uid = gs->g[i].uids.v[j];
			if (uidvec_has(&fl, uid)) {
				/* Fetched again by the next pull_updates. */
				if (modtab_get(&p->modified, uid) == NULL)
					modtab_put(&p->modified, uid, 0, NULL);
				continue;
			}
			me = modtab_get(&p->modified, uid);
			if (me != NULL && (me->flags == NULL ||
			    strcmp(me->flags, gs->g[i].flags) == 0)) {
				modtab_del(&p->modified, uid);
				uidvec_push(&ok, uid);
			}
		}
		if (ok.n > 0) {
			set = uid_compact_set(ok.v, ok.n);
			log_msg(LOG_LVL_INFO, p->name, netc_mbox(p),
			    "Updated flags (%s) for UID %s", gs->g[i].flags,
			    set);
			free(set);
		}
		if (fl.n > 0) {
			set = uid_compact_set(fl.v, fl.n);
			log_msg(LOG_LVL_INFO, p->name, netc_mbox(p),
			    "Couldn't update flags (%s) for UID %s, will try "
			    "again later", gs->g[i].flags, set);
			free(set);
		}
		uidranges_free(&failed);
		uidvec_free(&ok);
		uidvec_free(&fl);
	}
}

/* ------------------------------------------------------------------ */
/* Removals (remove_message, §4.8). */

struct removal {
	struct uidvec	 uids;
	struct req	**reqs;
	size_t		 nreqs;
};

static void
removal_send(struct peer *p, struct removal *rm)
{
	char *set, **chunks;
	size_t j, nch;

	if (rm->uids.n == 0)
		return;
	set = uid_compact_set(rm->uids.v, rm->uids.n);
	chunks = set_chunks(set, &nch);
	free(set);
	rm->reqs = eng_calloc(nch, sizeof(*rm->reqs));
	rm->nreqs = nch;
	for (j = 0; j < nch; j++)
		rm->reqs[j] = netc_expunge(p, chunks[j]);
	chunks_free(chunks, nch);
}

/*
 * Waits for the expunges; the UIDs now reported VANISHED are expunged
 * (dropped from VANISHED and MODIFIED, so they do not come back as
 * changes), the others failed (into *failed).
 */
static void
removal_finish(struct peer *p, struct removal *rm, struct uidvec *failed)
{
	struct uidvec gone, exp;
	struct uidranges keep;
	size_t i, j;
	uint32_t uid;

	if (rm->uids.n == 0)
		return;
	/*
	 * A NO is not fatal (the reference does not check): what counts is
	 * which UIDs came back VANISHED.
	 */
	for (j = 0; j < rm->nreqs; j++) {
		netc_wait(rm->reqs[j]);
		netc_req_free(rm->reqs[j]);
	}
	free(rm->reqs);
	rm->reqs = NULL;

	memset(&gone, 0, sizeof(gone));
	memset(&exp, 0, sizeof(exp));
	memset(&keep, 0, sizeof(keep));
	uidvec_sort_uniq(&rm->uids);
	/* Which of ours came back VANISHED; keep the rest of VANISHED. */
	for (i = 0; i < p->vanished.n; i++) {
		struct uid_range r = p->vanished.r[i];
		uint32_t lo = r.lo;

		for (j = 0; j < rm->uids.n; j++) {
			uid = rm->uids.v[j];
			if (uid < r.lo || uid > r.hi)
				continue;
			uidvec_push(&gone, uid);
			if (uid > lo)
				uidranges_push(&keep, lo, uid - 1);
			lo = uid + 1;
		}
		if (lo <= r.hi && lo != 0)
			uidranges_push(&keep, lo, r.hi);
	}
	uidranges_free(&p->vanished);
	p->vanished = keep;
	uidvec_sort_uniq(&gone);
	for (j = 0; j < rm->uids.n; j++) {
		uid = rm->uids.v[j];
		if (uidvec_has(&gone, uid)) {
			uidvec_push(&exp, uid);
			modtab_del(&p->modified, uid);
		} else
			uidvec_push(failed, uid);
	}
	if (exp.n > 0 && !p->e->quiet)
		log_set(LOG_LVL_INFO, p, "Removed %u UID(s) %s", exp.v, exp.n);
	if (failed->n > 0) {
		char *set = uid_compact_set(failed->v, failed->n);

		log_msg(LOG_LVL_WARN, p->name, netc_mbox(p),
		    "WARNING: Couldn't UID EXPUNGE %s", set);
		free(set);
	}
	uidvec_free(&gone);
	uidvec_free(&exp);
}

/* ------------------------------------------------------------------ */
/* sync_known_messages (§6.4). */

static int
sync_known_messages(struct eng *e, struct mbox *mb)
{
	struct pulled u[2];
	struct uidvec toremove[2], dunno[2], failed[2], mapdel;
	struct removal rm[2];
	struct fgroups upd[2];
	struct modent *me, *other;
	char *uflags, *set;
	size_t i;
	uint32_t s, uid, o;
	int update = 0;

	memset(u, 0, sizeof(u));
	for (;;) {
		pulled_free(&u[0]);
		pulled_free(&u[1]);
		pull_updates(e, u, 0);
		if (u[0].nmod == 0 && u[1].nmod == 0 &&
		    u[0].vanished.n == 0 && u[1].vanished.n == 0)
			break;
		update = 1;
		memset(toremove, 0, sizeof(toremove));
		memset(dunno, 0, sizeof(dunno));
		memset(failed, 0, sizeof(failed));
		memset(rm, 0, sizeof(rm));
		memset(upd, 0, sizeof(upd));
		memset(&mapdel, 0, sizeof(mapdel));

		/* Vanished on one side: remove on the other. */
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			for (i = 0; i < u[s].vanished.n; i++) {
				uid = u[s].vanished.v[i];
				if ((o = map_lookup(&e->map, s, uid)) == 0)
					uidvec_push(&dunno[s], uid);
				else if (!uidvec_has(&u[OTHER(s)].vanished,
				    o))
					uidvec_push(&toremove[OTHER(s)], o);
			}
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			if (dunno[s].n == 0)
				continue;
			set = uid_compact_set(dunno[s].v, dunno[s].n);
			log_msg(LOG_LVL_WARN, e->peer[OTHER(s)].name,
			    mb->srv[OTHER(s)], "WARNING: No match for %zu "
			    "vanished %s UID(s) %s. Ignoring.", dunno[s].n,
			    e->peer[s].name, set);
			free(set);
		}
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			uidvec_sort_uniq(&toremove[s]);

		/*
		 * Flag changes.  A UID being removed this round is no
		 * change to propagate (§9.2).
		 */
		for (i = 0; i < u[SIDE_LOCAL].nmod; i++) {
			me = &u[SIDE_LOCAL].mod[i];
			if (uidvec_has(&toremove[SIDE_LOCAL], me->uid))
				continue;
			o = map_lookup(&e->map, SIDE_LOCAL, me->uid);
			if (o == 0) {
				log_msg(LOG_LVL_WARN, "remote",
				    mb->srv[SIDE_REMOTE], "WARNING: No match "
				    "for modified local UID %u. Try "
				    "'--repair'.", me->uid);
				continue;
			}
			if (uidvec_has(&u[SIDE_REMOTE].vanished, o) ||
			    uidvec_has(&toremove[SIDE_REMOTE], o))
				continue;
			other = pulled_get(&u[SIDE_REMOTE], o);
			if (other != NULL) {
				if (strcmp(me->flags, other->flags) == 0)
					continue;
				uflags = flags_union(me->flags, other->flags);
				log_msg(LOG_LVL_WARN, NULL, NULL, "WARNING: "
				    "Conflicting flag update in %s for local "
				    "UID %u (%s) and remote UID %u (%s). "
				    "Setting both to the union (%s).",
				    mb->pretty, me->uid, me->flags, o,
				    other->flags, uflags);
				fgroups_add(&upd[SIDE_LOCAL], uflags, me->uid);
				fgroups_add(&upd[SIDE_REMOTE], uflags, o);
				free(uflags);
			} else
				fgroups_add(&upd[SIDE_REMOTE], me->flags, o);
		}
		for (i = 0; i < u[SIDE_REMOTE].nmod; i++) {
			me = &u[SIDE_REMOTE].mod[i];
			if (uidvec_has(&toremove[SIDE_REMOTE], me->uid))
				continue;
			o = map_lookup(&e->map, SIDE_REMOTE, me->uid);
			if (o == 0) {
				log_msg(LOG_LVL_WARN, "local",
				    mb->srv[SIDE_LOCAL], "WARNING: No match "
				    "for modified remote UID %u. Try "
				    "'--repair'.", me->uid);
				continue;
			}
			if (uidvec_has(&u[SIDE_LOCAL].vanished, o) ||
			    uidvec_has(&toremove[SIDE_LOCAL], o))
				continue;
			if (pulled_get(&u[SIDE_LOCAL], o) == NULL)
				fgroups_add(&upd[SIDE_LOCAL], me->flags, o);
		}

		/* Everything goes out at once, both sides. */
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			rm[s].uids = toremove[s];
			memset(&toremove[s], 0, sizeof(toremove[s]));
			removal_send(&e->peer[s], &rm[s]);
		}
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			fgroups_send(&e->peer[s], &upd[s]);
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			removal_finish(&e->peer[s], &rm[s], &failed[s]);

		/*
		 * The mapping rows of every local UID vanished or removed
		 * (the reference's delete_mapping; not committed here).
		 */
		for (i = 0; i < u[SIDE_LOCAL].vanished.n; i++)
			uidvec_push(&mapdel, u[SIDE_LOCAL].vanished.v[i]);
		for (i = 0; i < rm[SIDE_LOCAL].uids.n; i++)
			uidvec_push(&mapdel, rm[SIDE_LOCAL].uids.v[i]);
		/* The remote side's refused removals: by remote UID. */
		if (mapdel.n > 0) {
			for (i = 0; i < mapdel.n; i++)
				(void)map_del(&e->map, SIDE_LOCAL,
				    mapdel.v[i]);
			dbc_map_del(e, mb->idx, SIDE_LOCAL, mapdel.v,
			    mapdel.n);
		}

		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			fgroups_finish(&e->peer[s], &upd[s]);

		/* §9.8: a refused expunge is undone, not orphaned. */
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			if (failed[s].n > 0)
				restore_copies(e, mb, s, &failed[s]);

		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			uidvec_free(&rm[s].uids);
			uidvec_free(&dunno[s]);
			uidvec_free(&failed[s]);
			fgroups_free(&upd[s]);
		}
		uidvec_free(&mapdel);
	}
	pulled_free(&u[0]);
	pulled_free(&u[1]);
	return update;
}

/* ------------------------------------------------------------------ */
/* New messages: FETCH from one side streamed into APPEND on the other. */

static void
xfer_reset_msg(struct xfer *x)
{
	free(x->flags);
	free(x->date);
	sbuf_free(&x->body);
	x->flags = x->date = NULL;
	x->mode = MSG_NONE;
	x->uid = 0;
	x->size = x->got = 0;
	x->have_flags = x->have_date = 0;
}

/* Opens the APPEND if needed and announces the message x holds. */
static void
xfer_msg_start(struct xfer *x)
{
	struct ipc_buf buf;
	struct batch *b;
	struct sbuf fl = { NULL, 0, 0 };
	char *copy, *p, *tok;

	if (x->cur != NULL && (x->cur->n >= (uint32_t)x->maxmsg ||
	    (x->cur->n > 0 && x->cur->bytes + x->size > BATCH_MAXBYTES)))
		batch_close(x);
	if (x->cur == NULL) {
		b = eng_calloc(1, sizeof(*b));
		b->x = x;
		ipc_buf_init(&buf);
		ipc_put_data(&buf, x->mb->srv[x->dst->side],
		    strlen(x->mb->srv[x->dst->side]));
		b->req = netc_send(x->dst, IMSG_IMAP_APPEND, &buf, NULL,
		    batch_done, b, REQ_AUTOFREE);
		ipc_buf_free(&buf);
		x->cur = b;
		x->pending++;
	}
	b = x->cur;
	ipc_buf_init(&buf);
	if (x->have_flags) {
		/* \Recent cannot be set by APPEND. */
		copy = eng_strdup(x->flags ? x->flags : "");
		for (p = copy; (tok = strsep(&p, " ")) != NULL;) {
			if (*tok == '\0' || strcasecmp(tok, "\\Recent") == 0)
				continue;
			if (fl.len > 0)
				sbuf_addc(&fl, ' ');
			sbuf_adds(&fl, tok);
		}
		free(copy);
		ipc_put_str(&buf, sbuf_str(&fl));
		sbuf_free(&fl);
	} else
		ipc_put_str(&buf, NULL);
	ipc_put_str(&buf, x->have_date && x->date ? x->date : "");
	ipc_put_u64(&buf, x->size);
	netc_send_more(x->dst, b->req, IMSG_IMAP_APPEND_MSG, buf.data,
	    buf.len);
	ipc_buf_free(&buf);
	if (x->record)
		modtab_put(&x->copied, x->uid, x->modseq, x->have_flags &&
		    x->flags ?
		    flags_sorted(x->flags) : NULL);
	uidvec_push(&b->suids, x->uid);
	b->bytes += x->size;
	b->n++;
}

static void
batch_close(struct xfer *x)
{
	struct batch *b = x->cur;

	if (b == NULL)
		return;
	netc_send_more(x->dst, b->req, IMSG_IMAP_APPEND_END, NULL, 0);
	/* Its EXISTS is not new mail (§9.6). */
	if (x->dst->sel == x->mb || x->dst->sel_delayed == x->mb)
		x->dst->exists_self += b->n;
	b->closed = 1;
	x->cur = NULL;
}

/* A buffered message is complete: send it whole. */
static void
xfer_finish_buffered(struct xfer *x)
{
	struct batch *b;
	size_t off, k;

	if (x->mode != MSG_DONE_BUF && x->mode != MSG_BUFFER)
		return;
	if (x->uid == 0)
		eng_fail(x->e, EXIT_PANIC, x->src->name, netc_mbox(x->src),
		    "PANIC: FETCH response without UID");
	xfer_msg_start(x);
	b = x->cur;
	for (off = 0; off < x->body.len; off += k) {
		k = x->body.len - off > 65536 ? 65536 : x->body.len - off;
		netc_send_more(x->dst, b->req, IMSG_IMAP_APPEND_DATA,
		    x->body.s + off, k);
	}
	xfer_reset_msg(x);
}

/* Items of a FETCH_ITEM the new-message pass needs. */
static void
xfer_cb(struct peer *p, struct req *r, struct ipc_msg *msg)
{
	struct xfer *x = r->arg;
	struct ipc_rd rd;
	uint32_t seq, uid, mask;
	uint64_t modseq, size;
	char *flags, *date, *env;
	int cont;

	switch (msg->hdr.type) {
	case IMSG_IMAP_FETCH_ITEM:
		ipc_rd_init(&rd, msg);
		seq = ipc_get_u32(&rd);
		uid = ipc_get_u32(&rd);
		modseq = ipc_get_u64(&rd);
		mask = ipc_get_u32(&rd);
		flags = ipc_get_str(&rd);
		date = ipc_get_str(&rd);
		size = ipc_get_u64(&rd);
		env = ipc_get_str(&rd);
		free(env);
		(void)seq;
		if (rd.error) {
			free(flags);
			free(date);
			return;		/* netc already refused it */
		}
		cont = !(mask & IMAP_FETCH_BODY) &&
		    (x->mode == MSG_DONE_BUF) &&
		    (!(mask & IMAP_FETCH_UID) || uid == x->uid);
		if (cont) {
			/* Items after the literal complete the message. */
			if ((mask & IMAP_FETCH_UID) && x->uid == 0)
				x->uid = uid;
			if ((mask & IMAP_FETCH_FLAGS) && !x->have_flags) {
				x->flags = flags;
				flags = NULL;
				x->have_flags = 1;
			}
			if ((mask & IMAP_FETCH_INTERNALDATE) &&
			    !x->have_date) {
				x->date = date;
				date = NULL;
				x->have_date = 1;
			}
			free(flags);
			free(date);
			xfer_finish_buffered(x);
			return;
		}
		xfer_finish_buffered(x);
		if (!(mask & IMAP_FETCH_BODY)) {
			/* A flag change (netc has it), not for us. */
			free(flags);
			free(date);
			return;
		}
		xfer_reset_msg(x);
		x->uid = (mask & IMAP_FETCH_UID) ? uid : 0;
		x->modseq = modseq;
		if (x->uid != 0 && x->uidnext <= x->uid && x->uid < UINT32_MAX)
			x->uidnext = x->uid + 1;
		x->size = size;
		x->have_flags = (mask & IMAP_FETCH_FLAGS) != 0;
		x->flags = flags;
		x->have_date = (mask & IMAP_FETCH_INTERNALDATE) != 0;
		x->date = date;
		if (size == 0) {
			x->mode = MSG_SKIP;
			log_msg(LOG_LVL_WARN, p->name, x->mb->srv[p->side],
			    "WARNING: Ignoring new 0-length message (UID %u)",
			    x->uid);
		} else if (x->uid != 0 && x->have_flags && x->have_date) {
			x->mode = MSG_STREAM;
			xfer_msg_start(x);
		} else
			x->mode = MSG_BUFFER;
		break;
	case IMSG_IMAP_BODY_DATA:
		if (x->got + msg->len > x->size)
			eng_fail(x->e, EXIT_PANIC, p->name, netc_mbox(p),
			    "PANIC: body of UID %u longer than announced",
			    x->uid);
		x->got += msg->len;
		if (x->mode == MSG_STREAM)
			netc_send_more(x->dst, x->cur->req,
			    IMSG_IMAP_APPEND_DATA, msg->data, msg->len);
		else if (x->mode == MSG_BUFFER)
			sbuf_add(&x->body, msg->data, msg->len);
		else if (x->mode != MSG_SKIP)
			eng_fail(x->e, EXIT_PANIC, p->name, netc_mbox(p),
			    "PANIC: body data outside a message");
		break;
	case IMSG_IMAP_BODY_END:
		if (x->got != x->size)
			eng_fail(x->e, EXIT_PANIC, p->name, netc_mbox(p),
			    "PANIC: body of UID %u shorter than announced",
			    x->uid);
		if (x->mode == MSG_BUFFER) {
			if (x->uid != 0 && x->have_flags && x->have_date)
				xfer_finish_buffered(x);
			else
				x->mode = MSG_DONE_BUF;
		} else
			xfer_reset_msg(x);
		break;
	default:
		break;
	}
}

/* The target answered an APPEND: mapping rows, commit, log (§6.4). */
static void
batch_done(struct peer *t, struct req *r)
{
	struct batch *b = r->arg;
	struct xfer *x = b->x;
	struct eng *e = x->e;
	struct uidranges rs;
	struct uidvec tu;
	uint32_t uv, *lu, *ru, uid;
	char *end, *sl, *tl, *sp;
	size_t i;

	if (r->status != IMAP_DONE_OK)
		netc_fail_req(t, r);
	if (r->code != IMAP_CODE_APPENDUID || r->codedata == NULL ||
	    (sp = strchr(r->codedata, ' ')) == NULL)
		eng_fail(e, EXIT_PANIC, t->name, netc_mbox(t), "PANIC: %s",
		    r->text ? r->text : "APPEND without APPENDUID");
	uv = (uint32_t)strtoul(r->codedata, &end, 10);
	memset(&rs, 0, sizeof(rs));
	if (end != sp || uv == 0 || uidset_parse(sp + 1, &rs) == -1)
		eng_fail(e, EXIT_PANIC, t->name, netc_mbox(t), "PANIC: %s",
		    r->codedata);
	netc_set_uidvalidity(t, x->mb, uv);
	if (uidranges_count(&rs) != b->n)
		eng_fail(e, EXIT_FAIL, t->name, netc_mbox(t), "%s contains "
		    "%llu elements while %u messages were appended.", sp + 1,
		    (unsigned long long)uidranges_count(&rs), b->n);
	memset(&tu, 0, sizeof(tu));
	for (i = 0; i < rs.n; i++)
		for (uid = rs.r[i].lo;; uid++) {
			uidvec_push(&tu, uid);
			if (uid == rs.r[i].hi)
				break;
		}
	uidranges_free(&rs);
	if (t->sel == x->mb) {
		struct mcache *c = &x->mb->cache[t->side];

		for (i = 0; i < tu.n; i++)
			if ((c->has & MC_UIDNEXT) && c->uidnext <= tu.v[i] &&
			    tu.v[i] < UINT32_MAX)
				c->uidnext = tu.v[i] + 1;
	}
	if (!e->quiet) {
		sl = uid_compact_list(b->suids.v, b->suids.n);
		tl = uid_compact_list(tu.v, tu.n);
		if (t->side == SIDE_LOCAL)
			log_msg(LOG_LVL_INFO, t->name, netc_mbox(t),
			    "Added %u UID(s) %s <- %s", b->n, tl, sl);
		else
			log_msg(LOG_LVL_INFO, t->name, netc_mbox(t),
			    "Added %u UID(s) %s -> %s", b->n, sl, tl);
		free(sl);
		free(tl);
	}
	lu = t->side == SIDE_LOCAL ? tu.v : b->suids.v;
	ru = t->side == SIDE_LOCAL ? b->suids.v : tu.v;
	for (i = 0; i < tu.n; i++) {
		if (log_debug_level() > 0)
			log_msg(LOG_LVL_DEBUG, "", NULL, "Adding mapping "
			    "(lUID,rUID) = (%u,%u) for %s", lu[i], ru[i],
			    x->mb->pretty);
		map_add(&e->map, lu[i], ru[i]);
	}
	/*
	 * A first sync with a prefetch can finish a batch before the loop
	 * got to insert the state rows: they go first (not committed by
	 * themselves, §5.4).
	 */
	if (!x->mb->known) {
		dbc_state_init(e, x->mb->idx,
		    x->mb->cache[SIDE_LOCAL].uidvalidity,
		    x->mb->cache[SIDE_REMOTE].uidvalidity);
		x->mb->known = 1;
		x->mb->has_state = 1;
	}
	/* One commit per batch, before any UIDNEXT moves (§5.4). */
	dbc_map_add(e, x->mb->idx, lu, ru, tu.n);
	dbc_commit(e);
	x->ntuids += tu.n;
	uidvec_free(&tu);
	uidvec_free(&b->suids);
	x->pending--;
	free(b);
}

/*
 * pull_new_messages on src (§4.8) with new-message handling into dst:
 * returns how many messages were created on dst.  (They need not go in
 * dst's ignore list, as the reference does: they are mapped, and a mapped
 * UID is never taken for new.)
 */
static size_t
xfer_pass(struct eng *e, struct mbox *mb, uint32_t sside,
    struct uidvec *ignore)
{
	struct xfer *x;
	struct peer *src = &e->peer[sside];
	struct mcache *c = &mb->cache[sside];
	struct req **reqs = NULL;
	char **chunks, *rstr;
	size_t i, nch, nreqs = 0, n;
	uint32_t first;
	int pre = 0;

	if (e->pre != NULL && e->pre->mb == mb && e->pre->src == src) {
		/* The FETCH went out with the SELECT (prefetch()). */
		x = e->pre;
		e->pre = NULL;
		reqs = x->prereqs;
		nreqs = x->nprereqs;
		x->prereqs = NULL;
		pre = 1;
	} else
		x = xfer_new(e, mb, sside);

	do {
		if (!(c->has & MC_UIDNEXT))
			eng_fail(e, EXIT_PANIC, src->name, netc_mbox(src),
			    "PANIC: Unknown UIDNEXT value - non-compliant "
			    "server?");
		if (x->uidnext < c->uidnext || !pre)
			x->uidnext = c->uidnext;
		if (!pre) {
			rstr = new_range(e, mb, sside, ignore, &first);
			nreqs = 0;
			if (first < x->uidnext || src->newmail > 0) {
				chunks = set_chunks(rstr, &nch);
				for (i = 0; i < nch; i++) {
					reqs = eng_reallocarray(reqs,
					    nreqs + 1, sizeof(*reqs));
					reqs[nreqs++] = netc_fetch(src,
					    chunks[i], XFER_ITEMS, xfer_cb,
					    x);
				}
				chunks_free(chunks, nch);
			}
			free(rstr);
		}
		pre = 0;
		for (i = 0; i < nreqs; i++) {
			netc_wait(reqs[i]);
			if (reqs[i]->status != IMAP_DONE_OK)
				netc_fail_req(src, reqs[i]);
			netc_req_free(reqs[i]);
		}
		xfer_finish_buffered(x);
		xfer_reset_msg(x);
		netc_set_pcache(src, mb, MC_UIDNEXT, 0, x->uidnext, 0);
		src->newmail = 0;
	} while (src->newmail > 0 || x->uidnext < c->uidnext);

	batch_close(x);
	while (x->pending > 0)
		eng_poll(e);
	n = x->ntuids;
	xfer_free(x);
	free(reqs);
	return n;
}

static struct xfer *
xfer_new(struct eng *e, struct mbox *mb, uint32_t sside)
{
	struct xfer *x;

	x = eng_calloc(1, sizeof(*x));
	x->e = e;
	x->mb = mb;
	x->src = &e->peer[sside];
	x->dst = &e->peer[OTHER(sside)];
	x->maxmsg = (x->dst->caps & IMAP_CAP_MULTIAPPEND) ? BATCH_MAXMSG : 1;
	return x;
}

static void
xfer_free(struct xfer *x)
{
	xfer_reset_msg(x);
	modtab_free(&x->copied);
	free(x->prereqs);
	free(x);
}

/*
 * The first sync of a mailbox whose one side is empty: the FETCH of the
 * other side's messages goes out right behind its SELECT, saving a round
 * trip per mailbox (the answer is what xfer_pass would ask for).  Only
 * then: no known messages to reconcile first, no copies to recognise.
 */
static void
prefetch(struct eng *e, struct mbox *mb)
{
	struct mcache *lc = &mb->cache[SIDE_LOCAL];
	struct mcache *rc = &mb->cache[SIDE_REMOTE];
	struct xfer *x;
	uint32_t src;
	int lfull, rfull;

	if (mb->known || e->pre != NULL || map_count(&e->map) > 0)
		return;
	/* From LIST-STATUS, or not listed at all (we created it). */
	lfull = !mb->listed[SIDE_LOCAL] ? 0 :
	    !(lc->has & MC_UIDNEXT) ? -1 : lc->uidnext > 1;
	rfull = !mb->listed[SIDE_REMOTE] ? 0 :
	    !(rc->has & MC_UIDNEXT) ? -1 : rc->uidnext > 1;
	if (lfull == 1 && rfull == 0)
		src = SIDE_LOCAL;
	else if (rfull == 1 && lfull == 0)
		src = SIDE_REMOTE;
	else
		return;
	x = xfer_new(e, mb, src);
	x->prereqs = eng_calloc(1, sizeof(*x->prereqs));
	x->prereqs[0] = netc_fetch(x->src, "1:4294967295", XFER_ITEMS,
	    xfer_cb, x);
	x->nprereqs = 1;
	mb->prefetched = 1;
	e->pre = x;
}

/*
 * The UID set of side's new messages: from its last synced UIDNEXT up,
 * skipping the ignore list and every UID already mapped (a mapped UID
 * above UIDNEXT is a copy we made ourselves).  *first: the first UID
 * not skipped.  Caller frees.
 */
static char *
new_range(struct eng *e, struct mbox *mb, uint32_t sside,
    struct uidvec *ignore, uint32_t *first)
{
	struct mcache *pc = &mb->pcache[sside];
	struct uidvec skip;
	struct sbuf range = { NULL, 0, 0 };
	uint32_t since, uid;
	size_t i;
	int have_first = 0;

	memset(&skip, 0, sizeof(skip));
	since = (pc->has & MC_UIDNEXT) && pc->uidnext > 0 ? pc->uidnext : 1;
	for (i = 0; i < ignore->n; i++)
		if (ignore->v[i] >= since)
			uidvec_push(&skip, ignore->v[i]);
	for (i = e->map.n; i-- > 0;) {
		struct map_pair *mp = sside == SIDE_LOCAL ? &e->map.byl[i] :
		    &e->map.byr[i];

		uid = sside == SIDE_LOCAL ? mp->luid : mp->ruid;
		if (uid < since)
			break;
		if (mp->luid != 0 && mp->ruid != 0)
			uidvec_push(&skip, uid);
	}
	uidvec_sort_uniq(&skip);
	*first = 0;
	for (i = 0; i < skip.n; i++) {
		uid = skip.v[i];
		if (since < uid) {
			if (!have_first) {
				*first = since;
				have_first = 1;
			}
			if (range.len > 0)
				sbuf_addc(&range, ',');
			if (since < uid - 1)
				sbuf_printf(&range, "%u:%u", since, uid - 1);
			else
				sbuf_printf(&range, "%u", since);
			since = uid + 1;
		} else if (since == uid)
			since++;
	}
	if (!have_first)
		*first = since;
	if (range.len > 0)
		sbuf_addc(&range, ',');
	sbuf_printf(&range, "%u:4294967295", since);
	uidvec_free(&skip);
	return sbuf_take(&range);
}

/* ------------------------------------------------------------------ */
/*
 * Copies made by an interrupted run.  Between the server's answer to an
 * APPEND and the commit of its mapping rows, a run that dies (SIGKILL,
 * power loss) leaves copies the database does not know; the reference
 * then copies them back, and each such message ends up twice on both
 * sides.  So when both sides have unmapped new messages, the ones with
 * the same INTERNALDATE (an APPEND copies it) are compared byte for byte
 * (by length and two independent 64-bit hashes of the body, computed as
 * it streams), and identical pairs are mapped instead of copied.
 */

struct cand {
	uint32_t	 uid;
	int64_t		 when;		/* INTERNALDATE, seconds (UTC) */
	char		*date;
	uint64_t	 len, h1, h2;
	char		*flags;
	int		 have;		/* body seen */
	int		 paired;
};

struct cands {
	struct cand	*v;
	size_t		 n;
	struct cand	*cur;		/* body being hashed */
};

static struct cand *
cands_find(struct cands *c, uint32_t uid)
{
	return eng_find_uid(c->v, c->n, sizeof(*c->v), uid);
}

static void
cands_free(struct cands *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].date);
		free(c->v[i].flags);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int
cand_cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct cand *)a)->uid;
	uint32_t y = ((const struct cand *)b)->uid;

	return x < y ? -1 : x > y;
}

/*
 * An INTERNALDATE ("dd-Mon-yyyy hh:mm:ss +zzzz", day maybe space-padded)
 * as seconds since the epoch, so that two servers writing the same
 * instant in different zones agree; INT64_MIN if it does not parse.
 */
int64_t
eng_internaldate(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, mo, y, h, mi, sec, zh, zm, sign;
	int64_t days, yy, era, yoe, doy, doe, m;
	char mon[4];
	const char *p;

	if (sscanf(s, "%d-%3c-%d %d:%d:%d", &d, mon, &y, &h, &mi, &sec) != 6)
		return INT64_MIN;
	mon[3] = '\0';
	if ((p = strstr(months, mon)) == NULL || (p - months) % 3 != 0)
		return INT64_MIN;
	mo = (int)((p - months) / 3) + 1;
	if ((p = strrchr(s, ' ')) == NULL || (p[1] != '+' && p[1] != '-') ||
	    strlen(p + 2) != 4)
		return INT64_MIN;
	sign = p[1] == '-' ? -1 : 1;
	zh = (p[2] - '0') * 10 + (p[3] - '0');
	zm = (p[4] - '0') * 10 + (p[5] - '0');
	if (d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return INT64_MIN;
	/* Days from the civil date (proleptic Gregorian). */
	yy = mo <= 2 ? y - 1 : y;
	era = (yy >= 0 ? yy : yy - 399) / 400;
	yoe = yy - era * 400;
	m = mo > 2 ? mo - 3 : mo + 9;
	doy = (153 * m + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe - 719468;
	return days * 86400 + h * 3600 + mi * 60 + sec -
	    sign * (zh * 3600 + zm * 60);
}

static int
cand_cmp_date(const void *a, const void *b)
{
	int64_t x = ((const struct cand *)a)->when;
	int64_t y = ((const struct cand *)b)->when;

	return x < y ? -1 : x > y;
}

/* Identity of a body: date, length, hashes; then UID for the order. */
static int
cand_key(const struct cand *a, const struct cand *b)
{
	if (a->when != b->when)
		return a->when < b->when ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if (a->h1 != b->h1)
		return a->h1 < b->h1 ? -1 : 1;
	if (a->h2 != b->h2)
		return a->h2 < b->h2 ? -1 : 1;
	return 0;
}

static int
cand_cmp_key(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int d;

	if (x->have != y->have)
		return x->have ? 1 : -1;
	if ((d = cand_key(x, y)) != 0)
		return d;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* FETCH (INTERNALDATE) and FETCH (FLAGS BODY.PEEK[]) answers. */
static void
cands_cb(struct peer *p, struct req *r, struct ipc_msg *msg)
{
	struct cands *c = r->arg;
	struct ipc_rd rd;
	struct cand *cd;
	uint32_t uid, mask;
	uint64_t size;
	char *flags, *date, *env;
	const unsigned char *q;
	size_t i;

	(void)p;
	switch (msg->hdr.type) {
	case IMSG_IMAP_FETCH_ITEM:
		c->cur = NULL;
		ipc_rd_init(&rd, msg);
		(void)ipc_get_u32(&rd);
		uid = ipc_get_u32(&rd);
		(void)ipc_get_u64(&rd);
		mask = ipc_get_u32(&rd);
		flags = ipc_get_str(&rd);
		date = ipc_get_str(&rd);
		size = ipc_get_u64(&rd);
		env = ipc_get_str(&rd);
		free(env);
		if (rd.error || !(mask & IMAP_FETCH_UID)) {
			free(flags);
			free(date);
			return;
		}
		if (r->n == 0) {
			/* Collecting dates: any UID of the set. */
			if ((mask & IMAP_FETCH_INTERNALDATE) && date != NULL) {
				c->v = eng_reallocarray(c->v, c->n + 1,
				    sizeof(*c->v));
				memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
				c->v[c->n].uid = uid;
				c->v[c->n].when = eng_internaldate(date);
				c->v[c->n].date = date;
				date = NULL;
				c->n++;
			}
		} else if ((mask & IMAP_FETCH_BODY) &&
		    (cd = cands_find(c, uid)) != NULL) {
			cd->len = size;
			cd->h1 = 14695981039346656037ULL;	/* FNV-1a */
			cd->h2 = 5381;				/* djb2 */
			cd->have = 1;
			free(cd->flags);
			cd->flags = (mask & IMAP_FETCH_FLAGS) && flags ?
			    flags_sorted(flags) : eng_strdup("");
			c->cur = cd;
		}
		free(flags);
		free(date);
		break;
	case IMSG_IMAP_BODY_DATA:
		if ((cd = c->cur) == NULL)
			break;
		q = msg->data;
		for (i = 0; i < msg->len; i++) {
			cd->h1 = (cd->h1 ^ q[i]) * 1099511628211ULL;
			cd->h2 = cd->h2 * 33 + q[i];
		}
		break;
	case IMSG_IMAP_BODY_END:
		c->cur = NULL;
		break;
	default:
		break;
	}
}

static int
pair_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct map_pair *)a)->luid;
	uint32_t y = ((const struct map_pair *)b)->luid;

	return x < y ? -1 : x > y;
}

/* Sorts two parallel UID vectors by the first. */
static void
pairs_sort(struct uidvec *a, struct uidvec *b)
{
	struct map_pair *p;
	size_t i;

	p = eng_calloc(a->n, sizeof(*p));
	for (i = 0; i < a->n; i++) {
		p[i].luid = a->v[i];
		p[i].ruid = b->v[i];
	}
	eng_sort(p, a->n, sizeof(*p), pair_cmp);
	for (i = 0; i < a->n; i++) {
		a->v[i] = p[i].luid;
		b->v[i] = p[i].ruid;
	}
	free(p);
}

static void
adopt_copies(struct eng *e, struct mbox *mb, struct uidvec ignore[2])
{
	struct cands c[2];
	struct uidvec want[2], lu, ru;
	struct fgroups upd[2];
	struct req *r[2];
	struct cand *a, *b;
	char *range, *set, *uflags, *ls, *rs;
	uint32_t s, first;
	size_t i, j;

	/* A prefetched first sync had one side empty: nothing to find. */
	if (mb->prefetched)
		return;
	/* Only when both sides have (maybe) new messages. */
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		struct mcache *pc = &mb->pcache[s], *cc = &mb->cache[s];
		uint32_t since = (pc->has & MC_UIDNEXT) && pc->uidnext > 0 ?
		    pc->uidnext : 1;

		if ((cc->has & MC_UIDNEXT) && cc->uidnext <= since &&
		    e->peer[s].newmail == 0)
			return;
	}
	memset(c, 0, sizeof(c));
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		range = new_range(e, mb, s, &ignore[s], &first);
		r[s] = netc_fetch(&e->peer[s], range, IMAP_FETCH_MODSEQ |
		    IMAP_FETCH_INTERNALDATE, cands_cb, &c[s]);
		r[s]->flags |= REQ_NOMOD;
		r[s]->n = 0;
		free(range);
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		netc_wait(r[s]);
		if (r[s]->status != IMAP_DONE_OK)
			netc_fail_req(&e->peer[s], r[s]);
		netc_req_free(r[s]);
		eng_sort(c[s].v, c[s].n, sizeof(*c[s].v), cand_cmp_uid);
	}
	/* Candidates: a date the other side also has (a merge by date). */
	memset(want, 0, sizeof(want));
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		eng_sort(c[s].v, c[s].n, sizeof(*c[s].v), cand_cmp_date);
	for (i = 0, j = 0; i < c[0].n && j < c[1].n;) {
		int d = c[0].v[i].when < c[1].v[j].when ? -1 :
		    c[0].v[i].when > c[1].v[j].when;
		size_t i2, j2;

		if (d < 0) {
			i++;
			continue;
		}
		if (d > 0) {
			j++;
			continue;
		}
		if (c[0].v[i].when == INT64_MIN) {
			i++;
			continue;
		}
		for (i2 = i; i2 < c[0].n && c[0].v[i2].when == c[0].v[i].when;
		    i2++)
			uidvec_push(&want[0], c[0].v[i2].uid);
		for (j2 = j; j2 < c[1].n && c[1].v[j2].when == c[1].v[j].when;
		    j2++)
			uidvec_push(&want[1], c[1].v[j2].uid);
		i = i2;
		j = j2;
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		eng_sort(c[s].v, c[s].n, sizeof(*c[s].v), cand_cmp_uid);
	if (want[0].n == 0)
		goto done;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		uidvec_sort_uniq(&want[s]);
		set = uid_compact_set(want[s].v, want[s].n);
		r[s] = netc_fetch(&e->peer[s], set, IMAP_FETCH_MODSEQ |
		    IMAP_FETCH_FLAGS | IMAP_FETCH_BODY, cands_cb, &c[s]);
		r[s]->n = 1;
		free(set);
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		netc_wait(r[s]);
		if (r[s]->status != IMAP_DONE_OK)
			netc_fail_req(&e->peer[s], r[s]);
		netc_req_free(r[s]);
	}

	memset(&lu, 0, sizeof(lu));
	memset(&ru, 0, sizeof(ru));
	memset(upd, 0, sizeof(upd));
	/* Pairs: same date, length and hashes; in UID order, one-to-one. */
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		eng_sort(c[s].v, c[s].n, sizeof(*c[s].v), cand_cmp_key);
	for (i = 0, j = 0; i < c[0].n && j < c[1].n;) {
		int d;

		a = &c[0].v[i];
		b = &c[1].v[j];
		if (!a->have) {
			i++;
			continue;
		}
		if (!b->have) {
			j++;
			continue;
		}
		if ((d = cand_key(a, b)) < 0) {
			i++;
			continue;
		}
		if (d > 0) {
			j++;
			continue;
		}
		i++;
		j++;
		{
			b->paired = 1;
			uidvec_push(&lu, a->uid);
			uidvec_push(&ru, b->uid);
			map_add(&e->map, a->uid, b->uid);
			if (strcmp(a->flags, b->flags) != 0) {
				uflags = flags_union(a->flags, b->flags);
				log_msg(LOG_LVL_WARN, NULL, NULL, "WARNING: "
				    "Conflicting flag update in %s for local "
				    "UID %u (%s) and remote UID %u (%s). "
				    "Setting both to the union (%s).",
				    mb->pretty, a->uid, a->flags, b->uid,
				    b->flags, uflags);
				if (strcmp(uflags, a->flags) != 0)
					fgroups_add(&upd[0], uflags, a->uid);
				if (strcmp(uflags, b->flags) != 0)
					fgroups_add(&upd[1], uflags, b->uid);
				free(uflags);
			}
		}
	}
	if (lu.n > 0) {
		pairs_sort(&lu, &ru);
		ls = uid_compact_list(lu.v, lu.n);
		rs = uid_compact_list(ru.v, ru.n);
		log_msg(LOG_LVL_NOTICE, NULL, NULL, "Recovered %zu message(s) "
		    "copied by an interrupted sync of %s: local UID(s) %s = "
		    "remote UID(s) %s", lu.n, mb->pretty, ls, rs);
		free(ls);
		free(rs);
		dbc_map_add(e, mb->idx, lu.v, ru.v, lu.n);
		dbc_commit(e);
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			fgroups_send(&e->peer[s], &upd[s]);
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			fgroups_finish(&e->peer[s], &upd[s]);
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		fgroups_free(&upd[s]);
	uidvec_free(&lu);
	uidvec_free(&ru);
done:
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		uidvec_free(&want[s]);
		cands_free(&c[s]);
	}
}

/* sync_messages (§6.4); ignore: per side, UIDs not to copy. */
static void
sync_messages(struct eng *e, struct mbox *mb, struct uidvec ignore[2])
{
	struct mcache *pl = &mb->pcache[SIDE_LOCAL];
	struct mcache *pr = &mb->pcache[SIDE_REMOTE];
	uint32_t src;
	int again;

	adopt_copies(e, mb, ignore);
	do {
		again = 0;
		/* Remote's new mail first, as the reference. */
		for (src = SIDE_REMOTE;; src = SIDE_LOCAL) {
			again = xfer_pass(e, mb, src, &ignore[src]) > 0;
			if (src == SIDE_LOCAL)
				break;
		}
	} while (again);

	(void)sync_known_messages(e, mb);

	/* Never before the mappings of the copies are committed. */
	dbc_state_set(e, mb->idx, DB_SET_UIDNEXT_LOCAL | DB_SET_MODSEQ_LOCAL |
	    DB_SET_UIDNEXT_REMOTE | DB_SET_MODSEQ_REMOTE, pl->uidnext,
	    pl->hms, pr->uidnext, pr->hms);
	dbc_commit(e);
}

/* ------------------------------------------------------------------ */
/* §9.8: copy back messages whose removal the server refused. */

/*
 * side refused to expunge uids (their counterparts vanished on the
 * other side, and the mapping rows are gone): clear the \Deleted we set
 * and copy each one to the other side again, with a fresh mapping.
 */
static void
restore_copies(struct eng *e, struct mbox *mb, uint32_t side,
    struct uidvec *uids)
{
	struct xfer x;
	struct req *st, **reqs = NULL;
	char *set, **chunks;
	size_t i, nch;

	memset(&x, 0, sizeof(x));
	x.e = e;
	x.mb = mb;
	x.src = &e->peer[side];
	x.dst = &e->peer[OTHER(side)];
	x.maxmsg = (x.dst->caps & IMAP_CAP_MULTIAPPEND) ? BATCH_MAXMSG : 1;
	x.record = 1;
	set = uid_compact_set(uids->v, uids->n);
	log_msg(LOG_LVL_WARN, x.src->name, netc_mbox(x.src), "WARNING: "
	    "Restoring UID(s) %s on %s: they could not be expunged here",
	    set, x.dst->name);
	chunks = set_chunks(set, &nch);
	free(set);
	for (i = 0; i < nch; i++) {
		/* Best effort: the copy below does not depend on it. */
		st = netc_store(x.src, chunks[i], 0, IMAP_STORE_REMOVE,
		    "\\Deleted");
		st->flags |= REQ_AUTOFREE;
		reqs = eng_reallocarray(reqs, i + 1, sizeof(*reqs));
		reqs[i] = netc_fetch(x.src, chunks[i], IMAP_FETCH_MODSEQ |
		    IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE |
		    IMAP_FETCH_BODY, xfer_cb, &x);
	}
	chunks_free(chunks, nch);
	for (i = 0; i < nch; i++) {
		netc_wait(reqs[i]);
		if (reqs[i]->status != IMAP_DONE_OK)
			netc_fail_req(x.src, reqs[i]);
		netc_req_free(reqs[i]);
	}
	free(reqs);
	xfer_finish_buffered(&x);
	xfer_reset_msg(&x);
	batch_close(&x);
	while (x.pending > 0)
		eng_poll(e);
	/*
	 * Our own "-FLAGS \Deleted" came back as a flag change; the copy
	 * already has those flags: nothing to propagate.
	 */
	for (i = 0; i < uids->n; i++) {
		struct modent *me = modtab_get(&x.src->modified, uids->v[i]);
		struct modent *cp = modtab_get(&x.copied, uids->v[i]);

		if (me != NULL && cp != NULL && me->modseq <= cp->modseq)
			modtab_del(&x.src->modified, uids->v[i]);
	}
	modtab_free(&x.copied);
}

/* ------------------------------------------------------------------ */
/* Selecting, resuming, the main loop (§6.3, §6.5). */

static void
load_map(struct eng *e, struct mbox *mb)
{
	if (e->cur == mb && e->map_loaded)
		return;
	map_free(&e->map);
	map_init(&e->map);
	e->cur = mb;
	e->map_loaded = 1;
	if (mb->idx != 0)
		dbc_map_load(e, mb->idx, &e->map);
}

/* Both SELECTs at once, with the QRESYNC sample unless plain. */
static void
select_mbx(struct eng *e, struct mbox *mb, int sample)
{
	struct req *r[2];
	char *seq[2] = { NULL, NULL }, *uids[2] = { NULL, NULL };
	uint32_t s;

	load_map(e, mb);
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		if (sample)
			map_sample(&e->map, s, &seq[s], &uids[s]);
		r[s] = netc_select(&e->peer[s], mb, seq[s], uids[s]);
	}
	if (sample)
		prefetch(e, mb);
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		netc_wait(r[s]);
		if (r[s]->status != IMAP_DONE_OK)
			netc_fail_req(&e->peer[s], r[s]);
		netc_req_free(r[s]);
		free(seq[s]);
		free(uids[s]);
	}
}

struct irows {
	int64_t		 idx;
	struct uidvec	 l, r;
};

struct ilist {
	struct irows	*v;
	size_t		 n;
};

static void
interrupted_rows(struct eng *e, struct ipc_msg *msg, void *arg)
{
	struct ilist *il = arg;
	struct ipc_rd rd;
	uint64_t idx;
	uint32_t n, i;

	ipc_rd_init(&rd, msg);
	idx = ipc_get_u64(&rd);
	n = ipc_get_u32(&rd);
	if (rd.error || rd.left != (size_t)n * 8 || idx == 0) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_MAP_ROWS): bad layout");
		eng_exit(e, EXIT_CHILD);
	}
	if (il->n == 0 || il->v[il->n - 1].idx != (int64_t)idx) {
		il->v = eng_reallocarray(il->v, il->n + 1, sizeof(*il->v));
		memset(&il->v[il->n], 0, sizeof(il->v[il->n]));
		il->v[il->n].idx = (int64_t)idx;
		il->n++;
	}
	for (i = 0; i < n; i++) {
		uidvec_push(&il->v[il->n - 1].l, ipc_get_u32(&rd));
		uidvec_push(&il->v[il->n - 1].r, ipc_get_u32(&rd));
	}
}

/* Collects the UIDs a FETCH (MODSEQ FLAGS) reports as existing. */
static void
exist_cb(struct peer *p, struct req *r, struct ipc_msg *msg)
{
	struct uidvec *have = r->arg;
	struct ipc_rd rd;
	uint32_t uid, mask;
	char *s;

	(void)p;
	if (msg->hdr.type != IMSG_IMAP_FETCH_ITEM)
		return;
	ipc_rd_init(&rd, msg);
	(void)ipc_get_u32(&rd);
	uid = ipc_get_u32(&rd);
	(void)ipc_get_u64(&rd);
	mask = ipc_get_u32(&rd);
	free(ipc_get_str(&rd));
	free(ipc_get_str(&rd));
	(void)ipc_get_u64(&rd);
	s = ipc_get_str(&rd);
	free(s);
	if (!rd.error && (mask & IMAP_FETCH_UID) && uid != 0)
		uidvec_push(have, uid);
}

static struct mbox *
mbox_by_idx(struct eng *e, int64_t idx)
{
	size_t i;

	for (i = 0; i < e->nmbox; i++)
		if (e->mbox[i]->idx == idx)
			return e->mbox[i];
	return NULL;
}

/* §6.5: mailboxes whose last sync stopped between copies and UIDNEXT. */
static void
resume(struct eng *e)
{
	struct ilist il;
	struct ipc_buf buf;
	struct irows *ir;
	struct mbox *mb;
	struct uidvec have[2], ignore[2], failed[2];
	struct removal rm[2];
	struct req *r[2][64];
	size_t nr[2], i, k, nch;
	char *set, **chunks;
	uint32_t s, l, ru;
	int removed;

	memset(&il, 0, sizeof(il));
	ipc_buf_init(&buf);
	dbc_call(e, IMSG_DB_INTERRUPTED, &buf, interrupted_rows, &il, NULL);
	ipc_buf_free(&buf);

	for (k = 0; k < il.n; k++) {
		ir = &il.v[k];
		if ((mb = mbox_by_idx(e, ir->idx)) == NULL || !mb->sync ||
		    !mb->has_state)
			continue;
		log_msg(LOG_LVL_NOTICE, NULL, NULL, "Resuming interrupted "
		    "sync for %s", mb->pretty);
		mb->known = 1;		/* its state rows exist */
		/*
		 * Select from the last synced state (with QRESYNC): what
		 * changed on old messages since is not lost (§9.11).
		 */
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			netc_set_pcache(&e->peer[s], mb, MC_UIDVALIDITY |
			    MC_UIDNEXT | MC_HMS, mb->db_uidvalidity[s],
			    mb->db_uidnext[s], mb->db_hms[s]);
		select_mbx(e, mb, 1);

		memset(have, 0, sizeof(have));
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			struct uidvec *v = s == SIDE_LOCAL ? &ir->l : &ir->r;

			set = uid_compact_set(v->v, v->n);
			chunks = set_chunks(set, &nch);
			free(set);
			if (nch > 64)
				nch = 64;	/* 1 MiB of set: impossible */
			for (i = 0; i < nch; i++)
				r[s][i] = netc_fetch(&e->peer[s], chunks[i],
				    IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS,
				    exist_cb, &have[s]);
			nr[s] = nch;
			chunks_free(chunks, nch);
		}
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			for (i = 0; i < nr[s]; i++) {
				netc_wait(r[s][i]);
				if (r[s][i]->status != IMAP_DONE_OK)
					netc_fail_req(&e->peer[s], r[s][i]);
				netc_req_free(r[s][i]);
			}
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			uidvec_sort_uniq(&have[s]);

		memset(rm, 0, sizeof(rm));
		memset(ignore, 0, sizeof(ignore));
		memset(failed, 0, sizeof(failed));
		{
			struct uidvec del;

			memset(&del, 0, sizeof(del));
			for (i = 0; i < ir->l.n; i++) {
				l = ir->l.v[i];
				ru = ir->r.v[i];
				if (uidvec_has(&have[SIDE_LOCAL], l) &&
				    uidvec_has(&have[SIDE_REMOTE], ru)) {
					uidvec_push(&ignore[SIDE_LOCAL], l);
					uidvec_push(&ignore[SIDE_REMOTE], ru);
					continue;
				}
				if (uidvec_has(&have[SIDE_LOCAL], l))
					uidvec_push(&rm[SIDE_LOCAL].uids, l);
				if (uidvec_has(&have[SIDE_REMOTE], ru))
					uidvec_push(&rm[SIDE_REMOTE].uids, ru);
				uidvec_push(&del, l);
				(void)map_del(&e->map, SIDE_LOCAL, l);
			}
			if (del.n > 0)
				dbc_map_del(e, mb->idx, SIDE_LOCAL, del.v,
				    del.n);
			uidvec_free(&del);
		}
		removed = rm[SIDE_LOCAL].uids.n > 0 ||
		    rm[SIDE_REMOTE].uids.n > 0;
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			removal_send(&e->peer[s], &rm[s]);
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			removal_finish(&e->peer[s], &rm[s], &failed[s]);
		/* Commit only after both expunges. */
		if (removed)
			dbc_commit(e);

		sync_messages(e, mb, ignore);
		mb->known = 1;

		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			uidvec_free(&have[s]);
			uidvec_free(&ignore[s]);
			uidvec_free(&failed[s]);
			uidvec_free(&rm[s].uids);
		}
	}
	for (k = 0; k < il.n; k++) {
		uidvec_free(&il.v[k].l);
		uidvec_free(&il.v[k].r);
	}
	free(il.v);
}

/* The last synced state of every known mailbox (§6.3). */
static void
state_load(struct eng *e)
{
	struct mbox *mb;
	size_t i;
	uint32_t s;

	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		/* A resumed mailbox's state is already the synced one. */
		if (!mb->sync || mb->idx == 0 || !mb->has_state || mb->known)
			continue;
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			netc_set_pcache(&e->peer[s], mb, MC_UIDVALIDITY |
			    MC_UIDNEXT | MC_HMS, mb->db_uidvalidity[s],
			    mb->db_uidnext[s], mb->db_hms[s]);
		mb->known = 1;
	}
}

static struct mbox *
next_dirty(struct eng *e)
{
	struct sbuf dirty = { NULL, 0, 0 };
	struct mbox *found = NULL;
	size_t i;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE && found == NULL; s++) {
		for (i = 0; i < e->nmbox; i++) {
			if (!e->mbox[i]->sync ||
			    !netc_is_dirty(&e->peer[s], e->mbox[i]))
				continue;
			if (found == NULL)
				found = e->mbox[i];
			if (log_debug_level() == 0)
				break;
			if (dirty.len > 0)
				sbuf_adds(&dirty, ", ");
			sbuf_adds(&dirty, e->mbox[i]->srv[s]);
		}
		if (log_debug_level() > 0)
			log_msg(LOG_LVL_DEBUG, e->peer[s].name,
			    netc_mbox(&e->peer[s]), dirty.len > 0 ?
			    "Dirty mailboxes: %s" : "Clean state!",
			    sbuf_str(&dirty));
		sbuf_free(&dirty);
	}
	return found;
}

/* One pass over the dirty mailboxes (callable again in watch mode). */
static void
sync_loop(struct eng *e)
{
	struct uidvec ignore[2];
	struct mbox *mb;

	memset(ignore, 0, sizeof(ignore));
	for (;;) {
		mb = e->cur;
		if (mb != NULL && mb->sync &&
		    e->peer[SIDE_LOCAL].sel == mb &&
		    (netc_is_dirty(&e->peer[SIDE_LOCAL], mb) ||
		    netc_is_dirty(&e->peer[SIDE_REMOTE], mb))) {
			sync_messages(e, mb, ignore);
			uidvec_free(&ignore[0]);
			uidvec_free(&ignore[1]);
			continue;
		}
		if ((mb = next_dirty(e)) == NULL)
			break;
		if (mb->idx == 0)
			eng_fail(e, EXIT_FAIL, NULL, NULL, "internal error: "
			    "mailbox %s has no database index", mb->pretty);
		select_mbx(e, mb, 1);
		if (!mb->known) {
			/* Not committed before the first mapping. */
			dbc_state_init(e, mb->idx,
			    mb->cache[SIDE_LOCAL].uidvalidity,
			    mb->cache[SIDE_REMOTE].uidvalidity);
			mb->known = 1;
			mb->has_state = 1;
		} else if (sync_known_messages(e, mb)) {
			dbc_state_set(e, mb->idx, DB_SET_MODSEQ_LOCAL |
			    DB_SET_MODSEQ_REMOTE, 0,
			    mb->pcache[SIDE_LOCAL].hms, 0,
			    mb->pcache[SIDE_REMOTE].hms);
			dbc_commit(e);
		}
		sync_messages(e, mb, ignore);
		uidvec_free(&ignore[0]);
		uidvec_free(&ignore[1]);
	}
}

static void
check_caps(struct eng *e)
{
	struct peer *p;
	uint32_t s;

	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = &e->peer[s];
		if (!(p->caps & IMAP_CAP_LIST_EXTENDED))
			eng_fail(e, EXIT_FAIL, NULL, NULL,
			    "Non LIST-EXTENDED-capable IMAP server.");
		if (!(p->caps & IMAP_CAP_UIDPLUS))
			eng_fail(e, EXIT_FAIL, NULL, NULL,
			    "Non UIDPLUS-capable IMAP server.");
		if (!(e->conf->flags & ENGINE_CONF_NOTIFY) &&
		    !(p->caps & IMAP_CAP_LIST_STATUS))
			eng_fail(e, EXIT_FAIL, NULL, NULL,
			    "Non LIST-STATUS-capable IMAP server.");
	}
}

int
sync_run(struct eng *e)
{
	struct ipc_buf buf;
	uint32_t ld, rd;

	while (!e->peer[SIDE_LOCAL].ready || !e->peer[SIDE_REMOTE].ready)
		eng_poll(e);
	check_caps(e);

	switch (e->conf->command) {
	case ENGINE_CMD_REPAIR:
		eng_fail(e, EXIT_FAIL, NULL, NULL,
		    "--repair is not implemented yet");
	case ENGINE_CMD_DELETE:
		eng_fail(e, EXIT_FAIL, NULL, NULL,
		    "--delete is not implemented yet");
	case ENGINE_CMD_RENAME:
		eng_fail(e, EXIT_FAIL, NULL, NULL,
		    "--rename is not implemented yet");
	default:
		break;
	}
	if (e->conf->flags & (ENGINE_CONF_WATCH | ENGINE_CONF_NOTIFY))
		eng_fail(e, EXIT_FAIL, NULL, NULL,
		    "--watch and --notify are not implemented yet");

	mbox_list(e);

	/* The v0 -> v1 migration needs the delimiters (§3.8). */
	ld = (uint32_t)e->peer[SIDE_LOCAL].delim;
	rd = (uint32_t)e->peer[SIDE_REMOTE].delim;
	ipc_buf_init(&buf);
	ipc_put_u32(&buf, ld);
	ipc_put_u32(&buf, rd);
	dbc_call(e, IMSG_DB_MIGRATE, &buf, NULL, NULL, NULL);
	ipc_buf_free(&buf);

	mbox_reconcile(e);
	resume(e);
	state_load(e);
	sync_loop(e);
	dbc_wait_all(e);
	netc_wait_all(e);
	return EXIT_OK;
}
