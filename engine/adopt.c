/*
 * Copies made by an interrupted run, recognised (a sub-machine of a
 * mailbox job, before the new messages are copied).  Between a server's
 * answer to an APPEND and the commit of its mapping rows, a run that
 * dies (SIGKILL, power loss, a full disk) leaves copies the database
 * does not know; the reference then copies them back, and each such
 * message ends up twice on both sides.  So when both sides have unmapped
 * new messages, the ones with the same INTERNALDATE (an APPEND copies
 * it) and the same RFC822.SIZE, both fetched in one command per side,
 * are compared byte for byte (by length and two independent 64-bit
 * hashes of the body, computed as it streams, never held), and
 * identical pairs are mapped instead of copied.  A body is downloaded
 * only when its date and size both match a message of the other side:
 * messages that merely share a date (an import tool's fixed date) cost
 * no download.
 *
 * A side effect worth knowing: identical messages already on both sides
 * before a first sync are paired too, where the reference duplicates
 * them (§9.9).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "fgroup.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

enum {
	A_START = ADOPT_SUB,
	A_DATES,
	A_BODIES,
	A_STORES,
	A_END,
};

struct cand {
	uint32_t	 uid;
	int64_t		 when;		/* INTERNALDATE, seconds (UTC) */
	uint64_t	 size;		/* RFC822.SIZE, UINT64_MAX: unknown */
	uint64_t	 len, h1, h2;
	char		*flags;
	int		 have;		/* body seen */
};

struct cands {
	struct cand	*v;
	size_t		 n, cap;
	struct cand	*cur;		/* body being hashed */
	int		 bodies;	/* the second FETCH */
};

struct adopt {
	int		 ret;
	struct cands	 c[2];
	struct fgroups	 upd[2];
};

static void	 cands_free(struct cands *);
static void	 cands_data(struct req *, const struct rdata *);
static int	 adopt_dates(struct job *, struct adopt *);
static void	 adopt_pair(struct job *, struct adopt *);

void
adopt_start(struct job *j, int ret)
{
	struct adopt *a;

	if ((a = j->apre) != NULL) {
		/* The candidates came with the SELECT. */
		j->apre = NULL;
		a->ret = ret;
		j->adopt = a;
		j->t.state = A_DATES;
		return;
	}
	a = eng_calloc(1, sizeof(*a));
	a->ret = ret;
	j->adopt = a;
	j->t.state = A_START;
}

/* FETCH (MODSEQ INTERNALDATE RFC822.SIZE) of side's new messages. */
static void
adopt_fetch_dates(struct job *j, struct adopt *a, uint32_t s)
{
	struct uidranges set;
	uint32_t first;

	memset(&set, 0, sizeof(set));
	xfer_new_range(j, s, &set, &first);
	rg_fetch(&j->t, j->p[s], j->mb, &set, IMAP_FETCH_MODSEQ |
	    IMAP_FETCH_INTERNALDATE | IMAP_FETCH_SIZE, REQ_NOMOD, cands_data,
	    NULL, &a->c[s]);
	uidranges_free(&set);
}

/*
 * A known mailbox whose LIST-STATUS shows new messages on both sides
 * (UIDNEXT moved on each, same UIDVALIDITY as the last synced state):
 * the candidates' FETCH goes right behind each SELECT, so recognising
 * copies costs no round trip of its own.  Messages that arrive after
 * the SELECT are not candidates (as after the FETCH without it).
 */
void
adopt_prefetch(struct job *j)
{
	struct adopt *a;
	uint32_t s;

	if (!j->mb->known || j->prefetched || j->apre != NULL)
		return;
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		if (mbox_listed_new(j->mb, s) != 1)
			return;
	a = eng_calloc(1, sizeof(*a));
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		adopt_fetch_dates(j, a, s);
	j->apre = a;
}

static void
cands_free(struct cands *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].flags);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

void
adopt_free(struct adopt *a)
{
	if (a == NULL)
		return;
	cands_free(&a->c[0]);
	cands_free(&a->c[1]);
	fgroups_free(&a->upd[0]);
	fgroups_free(&a->upd[1]);
	free(a);
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
cand_cmp_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct cand *)a)->uid;
	uint32_t y = ((const struct cand *)b)->uid;

	return x < y ? -1 : x > y;
}

static int
cand_cmp_date(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Identity of a body: date, length, hashes. */
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

/* FETCH (INTERNALDATE RFC822.SIZE), then FETCH (FLAGS BODY.PEEK[]). */
static void
cands_data(struct req *r, const struct rdata *d)
{
	struct cands *c = r->arg;
	const struct fitem *fi = d->fi;
	struct cand *cd;
	const unsigned char *q;
	size_t i;

	switch (d->kind) {
	case RD_ITEM:
		if (fi->cont)
			return;
		c->cur = NULL;
		if (fi->uid == 0)
			return;
		if (!c->bodies) {
			if (fi->date == NULL)
				return;
			if (c->n == c->cap) {
				c->cap = c->cap ? c->cap * 2 : 64;
				c->v = eng_reallocarray(c->v, c->cap,
				    sizeof(*c->v));
			}
			memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
			c->v[c->n].uid = fi->uid;
			c->v[c->n].when = eng_internaldate(fi->date);
			c->v[c->n].size = (fi->mask & IMAP_FETCH_SIZE) ?
			    fi->size : UINT64_MAX;
			c->n++;
		} else if ((fi->mask & IMAP_FETCH_BODY) &&
		    (cd = eng_find_uid(c->v, c->n, sizeof(*c->v),
		    fi->uid)) != NULL) {
			cd->len = fi->size;
			cd->h1 = 14695981039346656037ULL;	/* FNV-1a */
			cd->h2 = 5381;				/* djb2 */
			cd->have = 1;
			free(cd->flags);
			cd->flags = flags_sorted(fi->flags != NULL ?
			    fi->flags : "");
			c->cur = cd;
		}
		break;
	case RD_BODY:
		if ((cd = c->cur) == NULL)
			break;
		q = d->data;
		for (i = 0; i < d->len; i++) {
			cd->h1 = (cd->h1 ^ q[i]) * 1099511628211ULL;
			cd->h2 = cd->h2 * 33 + q[i];
		}
		break;
	case RD_END:
		c->cur = NULL;
		break;
	default:
		break;
	}
}

/*
 * One date's candidates on each side (non-empty, sorted by size, unknown
 * sizes last): the ones whose size the other side has too, or either
 * side does not know, are wanted (a merge by size).
 */
static void
adopt_sizes(const struct cand *l, size_t nl, const struct cand *r, size_t nr,
    struct uidvec want[2])
{
	int lunk = l[nl - 1].size == UINT64_MAX;
	int runk = r[nr - 1].size == UINT64_MAX;
	size_t i, k;
	uint64_t sz;

	/* Unknown sizes match the whole other side (duplicates go later). */
	for (i = 0; i < nl; i++)
		if (runk || l[i].size == UINT64_MAX)
			uidvec_push(&want[0], l[i].uid);
	for (k = 0; k < nr; k++)
		if (lunk || r[k].size == UINT64_MAX)
			uidvec_push(&want[1], r[k].uid);
	for (i = 0, k = 0; i < nl && k < nr &&
	    l[i].size != UINT64_MAX && r[k].size != UINT64_MAX;) {
		if (l[i].size < r[k].size)
			i++;
		else if (l[i].size > r[k].size)
			k++;
		else {
			sz = l[i].size;
			while (i < nl && l[i].size == sz)
				uidvec_push(&want[0], l[i++].uid);
			while (k < nr && r[k].size == sz)
				uidvec_push(&want[1], r[k++].uid);
		}
	}
}

/*
 * Candidates: a date and size the other side also has (a merge by date,
 * then by size).
 */
static int
adopt_dates(struct job *j, struct adopt *a)
{
	struct uidvec want[2];
	struct uidranges set;
	struct cands *c = a->c;
	size_t i, k, i2, k2;
	uint32_t s;
	int any = 0;

	memset(want, 0, sizeof(want));
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		eng_sort(c[s].v, c[s].n, sizeof(*c[s].v), cand_cmp_date);
	for (i = 0, k = 0; i < c[0].n && k < c[1].n;) {
		if (c[0].v[i].when < c[1].v[k].when) {
			i++;
			continue;
		}
		if (c[0].v[i].when > c[1].v[k].when) {
			k++;
			continue;
		}
		if (c[0].v[i].when == INT64_MIN) {
			i++;
			continue;
		}
		for (i2 = i; i2 < c[0].n && c[0].v[i2].when == c[0].v[i].when;
		    i2++)
			;
		for (k2 = k; k2 < c[1].n && c[1].v[k2].when == c[1].v[k].when;
		    k2++)
			;
		adopt_sizes(&c[0].v[i], i2 - i, &c[1].v[k], k2 - k, want);
		i = i2;
		k = k2;
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		eng_sort(c[s].v, c[s].n, sizeof(*c[s].v), cand_cmp_uid);
		c[s].bodies = 1;
	}
	if (want[0].n > 0) {
		any = 1;
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			uidvec_sort_uniq(&want[s]);
			memset(&set, 0, sizeof(set));
			uidranges_from_vec(&set, want[s].v, want[s].n);
			rg_fetch(&j->t, j->p[s], j->mb, &set,
			    IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS |
			    IMAP_FETCH_BODY, 0, cands_data, NULL, &c[s]);
			uidranges_free(&set);
		}
	}
	uidvec_free(&want[0]);
	uidvec_free(&want[1]);
	return any;
}

/* Pairs: same date, length and hashes; in UID order, one-to-one. */
static void
adopt_pair(struct job *j, struct adopt *a)
{
	struct eng *e = j->e;
	struct mbox *mb = j->mb;
	struct cands *c = a->c;
	struct uidvec lu, ru;
	struct map_pair *pairs;
	struct cand *x, *y;
	char *uflags, *ls, *rs;
	size_t i, k;
	uint32_t s;
	int d;

	memset(&lu, 0, sizeof(lu));
	memset(&ru, 0, sizeof(ru));
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
		eng_sort(c[s].v, c[s].n, sizeof(*c[s].v), cand_cmp_key);
	for (i = 0, k = 0; i < c[0].n && k < c[1].n;) {
		x = &c[0].v[i];
		y = &c[1].v[k];
		if (!x->have) {
			i++;
			continue;
		}
		if (!y->have) {
			k++;
			continue;
		}
		if ((d = cand_key(x, y)) < 0) {
			i++;
			continue;
		}
		if (d > 0) {
			k++;
			continue;
		}
		i++;
		k++;
		uidvec_push(&lu, x->uid);
		uidvec_push(&ru, y->uid);
		map_add(&j->map, x->uid, y->uid);
		if (strcmp(x->flags, y->flags) != 0) {
			uflags = flags_union(x->flags, y->flags);
			jlog(j, LOG_LVL_WARN, NULL, NULL, "WARNING: Conflicting "
			    "flag update in %s for local UID %u (%s) and remote "
			    "UID %u (%s). Setting both to the union (%s).",
			    mb->pretty, x->uid, x->flags, y->uid, y->flags,
			    uflags);
			if (strcmp(uflags, x->flags) != 0)
				fgroups_add(&a->upd[0], uflags, x->uid);
			if (strcmp(uflags, y->flags) != 0)
				fgroups_add(&a->upd[1], uflags, y->uid);
			free(uflags);
		}
	}
	if (lu.n > 0) {
		/* In local UID order, for the log and the rows. */
		pairs = eng_calloc(lu.n, sizeof(*pairs));
		for (i = 0; i < lu.n; i++) {
			pairs[i].luid = lu.v[i];
			pairs[i].ruid = ru.v[i];
		}
		eng_sort(pairs, lu.n, sizeof(*pairs), map_pair_cmp_luid);
		for (i = 0; i < lu.n; i++) {
			lu.v[i] = pairs[i].luid;
			ru.v[i] = pairs[i].ruid;
		}
		free(pairs);
		ls = uid_compact_list(lu.v, lu.n);
		rs = uid_compact_list(ru.v, ru.n);
		jlog(j, LOG_LVL_NOTICE, NULL, NULL, "Recovered %zu message(s) "
		    "copied by an interrupted sync of %s: local UID(s) %s = "
		    "remote UID(s) %s", lu.n, mb->pretty, ls, rs);
		free(ls);
		free(rs);
		job_state_init(j);
		dbc_map_add(e, mb->idx, lu.v, ru.v, lu.n);
		pflags_flush(j);
		dbc_commit(e);
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			fgroups_send(j, j->p[s], &a->upd[s]);
	}
	uidvec_free(&lu);
	uidvec_free(&ru);
}

/*
 * What the local pass will copy, for xfer_early(): the local candidates
 * adoption did not pair, below the local UIDNEXT the SELECT gave (later
 * ones are the local pass's own business), and their bytes.
 */
static void
adopt_early(struct job *j, const struct adopt *a)
{
	const struct cands *c = &a->c[SIDE_LOCAL];
	const struct mcache *mc = &j->mb->cache[SIDE_LOCAL];
	uint64_t n = 0;
	size_t i;

	j->early_uidnext = 0;
	j->early_bytes = 0;
	if (c->n == 0 || a->c[SIDE_REMOTE].n == 0 ||
	    !(mc->has & MC_UIDNEXT))
		return;
	for (i = 0; i < c->n; i++) {
		if (c->v[i].uid >= mc->uidnext ||
		    map_lookup(&j->map, SIDE_LOCAL, c->v[i].uid) != 0)
			continue;
		if (c->v[i].size == UINT64_MAX)
			return;		/* not known: no budget */
		n += c->v[i].size;
	}
	j->early_uidnext = mc->uidnext;
	j->early_bytes = n;
}

void
adopt_step(struct job *j)
{
	struct adopt *a = j->adopt;
	struct mbox *mb = j->mb;
	uint32_t s, since;

	switch (j->t.state) {
	case A_START:
		j->t.state = A_END;
		/* A prefetched first sync had one side empty. */
		if (j->prefetched)
			return;
		/* Only when both sides have (maybe) new messages. */
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			struct mcache *pc = &mb->pcache[s], *cc = &mb->cache[s];

			since = (pc->has & MC_UIDNEXT) && pc->uidnext > 0 ?
			    pc->uidnext : 1;
			if ((cc->has & MC_UIDNEXT) && cc->uidnext <= since &&
			    mb->sel[s].newmail == 0)
				return;
		}
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			adopt_fetch_dates(j, a, s);
		j->t.state = A_DATES;
		return;
	case A_DATES:
		j->t.state = adopt_dates(j, a) ? A_BODIES : A_END;
		return;
	case A_BODIES:
		adopt_pair(j, a);
		j->t.state = A_STORES;
		return;
	case A_STORES:
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++)
			fgroups_finish(j, j->p[s], &a->upd[s]);
		j->t.state = A_END;
		return;
	case A_END:
		j->t.state = a->ret;
		adopt_early(j, a);
		adopt_free(a);
		j->adopt = NULL;
		return;
	default:
		fatalx(EXIT_CHILD, "engine: internal error: adopt state %d",
		    j->t.state);
	}
}
