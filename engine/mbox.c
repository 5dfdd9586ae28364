/*
 * Mailboxes: listing both servers (REFERENCE-BEHAVIOUR §6.1), the name
 * mapping between internal names (reference removed, delimiter = NUL)
 * and each server's names, and the reconciliation of the two lists with
 * the database (§6.2).  Mailboxes are kept sorted by internal name
 * (bytes), so every pass over them is in a deterministic order, not the
 * reference's hash order.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "conf_proto.h"
#include "db_proto.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

/* What one LIST brought back. */
struct litem {
	char		*name;		/* server name */
	uint32_t	 attrs;
	uint32_t	 delim;		/* byte or IMAP_DELIM_NIL */
};

struct sitem {
	char		*name;
	uint32_t	 mask, uidvalidity, uidnext;
	uint64_t	 hms;
};

struct listing {
	struct litem	*li;
	size_t		 nli, capli;
	struct sitem	*st;
	size_t		 nst, capst;
};

/* The listing in progress: per side, its phase and what came back. */
enum {
	LS_PAT = 0,		/* patterns, maybe the delimiter first */
	LS_PAT_LEARNED,
	LS_SEND,
	LS_LISTED,		/* the delimiter, maybe asked for */
	LS_PICK_LEARNED,
	LS_DONE,
};

struct lside {
	int		 state;
	struct listing	 l;		/* the LIST */
	struct listing	 learn;		/* LIST <ref> "" */
	char		**pat;
	size_t		 npat;
};

static struct {
	int		 started;
	struct lside	 s[2];
} mbox_ls;

static int	 mbox_cmp_name(const char *, size_t, const char *, size_t);
static ssize_t	 mbox_search(struct eng *, const char *, size_t, size_t *);
static void	 mbox_list_data(struct req *, const struct rdata *);
static void	 mbox_list_done(struct req *);
static void	 listing_free(struct listing *);
static char	*mbox_delim_str(int);
static void	 mbox_learn_send(struct eng *, struct task *, uint32_t);
static void	 mbox_learn_take(struct eng *, uint32_t);
static void	 mbox_pick_delim(struct eng *, uint32_t, int);
static int	 mbox_pick_needs_learn(struct eng *, uint32_t);
static char	*mbox_unname(struct eng *, uint32_t, const char *, size_t *);
static char	*mbox_server_name(struct eng *, uint32_t, const char *,
		    size_t);
static void	 mbox_build(struct eng *);
static int	 mbox_exists(const struct mbox *, uint32_t);
static int	 mbox_subscribed(const struct mbox *, uint32_t);
static int	 mbox_ignore(struct eng *, const struct mbox *);
static char	**mbox_patterns(struct eng *, uint32_t, size_t *, int *);
static void	 patterns_free(char **, size_t);
static int	 mbox_list_side(struct eng *, struct task *, uint32_t);

static int
mbox_cmp_name(const char *a, size_t alen, const char *b, size_t blen)
{
	int r;

	r = memcmp(a, b, alen < blen ? alen : blen);
	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen;
}

/* Index of name, or -1 with *at = where it would go. */
static ssize_t
mbox_search(struct eng *e, const char *name, size_t len, size_t *at)
{
	size_t lo = 0, hi = e->nmbox, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = mbox_cmp_name(e->mbox[mid]->name, e->mbox[mid]->len,
		    name, len);
		if (r == 0)
			return (ssize_t)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at != NULL)
		*at = lo;
	return -1;
}

struct mbox *
mbox_find(struct eng *e, const char *name, size_t len)
{
	ssize_t i;

	if ((i = mbox_search(e, name, len, NULL)) == -1)
		return NULL;
	return e->mbox[i];
}

struct mbox *
mbox_get(struct eng *e, const char *name, size_t len)
{
	struct mbox *mb;
	size_t at;
	ssize_t i;

	if ((i = mbox_search(e, name, len, &at)) != -1)
		return e->mbox[i];
	mb = eng_calloc(1, sizeof(*mb));
	mb->name = eng_memdup(name, len);
	mb->len = len;
	e->mbox = eng_reallocarray(e->mbox, e->nmbox + 1, sizeof(*e->mbox));
	memmove(&e->mbox[at + 1], &e->mbox[at],
	    (e->nmbox - at) * sizeof(*e->mbox));
	e->mbox[at] = mb;
	e->nmbox++;
	return mb;
}

void
mbox_free_all(struct eng *e)
{
	size_t i;

	for (i = 0; i < e->nmbox; i++) {
		free(e->mbox[i]->name);
		free(e->mbox[i]->pretty);
		free(e->mbox[i]->srv[0]);
		free(e->mbox[i]->srv[1]);
		for (int s = 0; s < 2; s++) {
			uidranges_free(&e->mbox[i]->sel[s].vanished);
			modtab_free(&e->mbox[i]->sel[s].modified);
			uidvec_free(&e->mbox[i]->intr[s]);
		}
		free(e->mbox[i]);
	}
	free(e->mbox);
	e->mbox = NULL;
	e->nmbox = 0;
	if (e->ignore_re != NULL)
		pcre2_code_free(e->ignore_re);
	e->ignore_re = NULL;
}

/* ------------------------------------------------------------------ */
/* Names. */

/*
 * Server name -> internal name (caller frees): the side's reference
 * stripped (NULL when the name is not under it) and its delimiter turned
 * into NUL.
 */
static char *
mbox_unname(struct eng *e, uint32_t side, const char *srv, size_t *lenp)
{
	const char *ref = e->conf->list_reference[side];
	size_t rlen = strlen(ref), i, len;
	int d = e->peer[side].delim;
	char *s;

	if (strncmp(srv, ref, rlen) != 0)
		return NULL;
	len = strlen(srv) - rlen;
	s = eng_memdup(srv + rlen, len);
	if (d >= 0 && d != IMAP_DELIM_NIL)
		for (i = 0; i < len; i++)
			if ((unsigned char)s[i] == d)
				s[i] = '\0';
	*lenp = len;
	return s;
}

/* Internal name -> server name of side (caller frees). */
static char *
mbox_server_name(struct eng *e, uint32_t side, const char *name, size_t len)
{
	struct sbuf b = { NULL, 0, 0 };
	int d;
	size_t i;

	if (side != SIDE_NONE) {
		sbuf_adds(&b, e->conf->list_reference[side]);
		d = e->peer[side].delim;
	} else
		d = e->peer[SIDE_LOCAL].delim;
	for (i = 0; i < len; i++) {
		if (name[i] == '\0' && d >= 0 && d != IMAP_DELIM_NIL)
			sbuf_addc(&b, (char)d);
		else
			sbuf_addc(&b, name[i]);
	}
	if (b.s == NULL)
		sbuf_adds(&b, "");
	return sbuf_take(&b);
}

struct mbox *
mbox_by_server(struct eng *e, uint32_t side, const char *srv)
{
	struct mbox *mb;
	size_t len;
	char *name;

	if (e->peer[side].delim == -1)
		return NULL;
	if ((name = mbox_unname(e, side, srv, &len)) == NULL)
		return NULL;
	mb = mbox_find(e, name, len);
	free(name);
	return mb;
}

struct mbox *
mbox_by_idx(struct eng *e, int64_t idx)
{
	size_t i;

	for (i = 0; i < e->nmbox; i++)
		if (e->mbox[i]->idx == idx)
			return e->mbox[i];
	return NULL;
}

/* The reference's print_delimiter(): "x", "\\", "\"" or NIL. */
static char *
mbox_delim_str(int d)
{
	char buf[8];

	if (d < 0 || d == IMAP_DELIM_NIL)
		return eng_strdup("NIL");
	if (d == '\\' || d == '"')
		(void)snprintf(buf, sizeof(buf), "\"\\%c\"", d);
	else
		(void)snprintf(buf, sizeof(buf), "\"%c\"", d);
	return eng_strdup(buf);
}

/* ------------------------------------------------------------------ */
/* Listing. */

static void
listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->nli; i++)
		free(l->li[i].name);
	for (i = 0; i < l->nst; i++)
		free(l->st[i].name);
	free(l->li);
	free(l->st);
	memset(l, 0, sizeof(*l));
}

static void
mbox_list_data(struct req *r, const struct rdata *d)
{
	struct listing *l = r->arg;
	struct ipc_msg *msg = d->msg;
	struct ipc_rd rd;
	const char *name;
	size_t len;
	uint32_t attrs, delim;
	struct sitem si;

	ipc_rd_init(&rd, msg);
	if (msg->hdr.type == IMSG_IMAP_LIST_ITEM) {
		attrs = ipc_get_u32(&rd);
		delim = ipc_get_u32(&rd);
		name = ipc_get_data(&rd, &len);
		if (ipc_rd_end(&rd) == -1 || name == NULL ||
		    memchr(name, '\0', len) != NULL || delim == 0 ||
		    delim > IMAP_DELIM_NIL)
			goto bad;
		if (l->nli == l->capli) {
			l->capli = l->capli ? l->capli * 2 : 64;
			l->li = eng_reallocarray(l->li, l->capli,
			    sizeof(*l->li));
		}
		l->li[l->nli].name = eng_memdup(name, len);
		l->li[l->nli].attrs = attrs;
		l->li[l->nli].delim = delim;
		l->nli++;
	} else if (msg->hdr.type == IMSG_IMAP_STATUS_ITEM) {
		name = ipc_get_data(&rd, &len);
		si.mask = ipc_get_u32(&rd);
		si.uidvalidity = ipc_get_u32(&rd);
		si.uidnext = ipc_get_u32(&rd);
		si.hms = ipc_get_u64(&rd);
		(void)ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1 || name == NULL ||
		    memchr(name, '\0', len) != NULL)
			goto bad;
		si.name = eng_memdup(name, len);
		if (l->nst == l->capst) {
			l->capst = l->capst ? l->capst * 2 : 64;
			l->st = eng_reallocarray(l->st, l->capst,
			    sizeof(*l->st));
		}
		l->st[l->nst++] = si;
	}
	return;
bad:
	log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message (%s) "
	    "from net(%s): bad layout", ipc_type_name(msg->hdr.type),
	    r->p->name);
	eng_exit(r->p->e, EXIT_CHILD);
}

static void
mbox_list_done(struct req *r)
{
	if (r->status != IMAP_DONE_OK)
		netc_fail_req(r);
}

/* LIST <ref> "": exactly one reply, whose delimiter is the side's. */
static void
mbox_learn_send(struct eng *e, struct task *t, uint32_t side)
{
	char *empty[1] = { (char *)"" };

	listing_free(&mbox_ls.s[side].learn);
	(void)netc_list(&e->peer[side], t, 0, NULL,
	    e->conf->list_reference[side], empty, 1, mbox_list_data,
	    mbox_list_done, &mbox_ls.s[side].learn);
}

static void
mbox_learn_take(struct eng *e, uint32_t side)
{
	struct listing *l = &mbox_ls.s[side].learn;
	struct peer *p = &e->peer[side];
	size_t i;

	/* Distinct names: the reference counts its name -> delim hash. */
	for (i = 1; i < l->nli; i++)
		if (strcmp(l->li[i].name, l->li[0].name) != 0)
			break;
	if (l->nli == 0 || i < l->nli)
		eng_fail(e, EXIT_FAIL, p->name, NULL,
		    "Missing or unexpected (unsolicited) LIST response.");
	p->delim = (int)l->li[l->nli - 1].delim;
	listing_free(l);
}

/* After a LIST: is the delimiter still unknown with nothing to learn it? */
static int
mbox_pick_needs_learn(struct eng *e, uint32_t side)
{
	struct listing *l = &mbox_ls.s[side].l;
	size_t i;

	if (e->peer[side].delim != -1)
		return 0;
	for (i = 0; i < l->nli; i++)
		if (strcmp(l->li[i].name, "INBOX") != 0)
			return 0;
	return 1;
}

/*
 * After a LIST: the delimiter, if still unknown, is that of the
 * smallest non-INBOX name listed (or was asked for); then every
 * non-INBOX name must have it.
 */
static void
mbox_pick_delim(struct eng *e, uint32_t side, int learned)
{
	struct listing *l = &mbox_ls.s[side].l;
	struct peer *p = &e->peer[side];
	const struct litem *best = NULL;
	char *want, *got;
	size_t i;

	if (p->delim == -1 || learned) {
		for (i = 0; i < l->nli && !learned; i++) {
			if (strcmp(l->li[i].name, "INBOX") == 0)
				continue;
			if (best == NULL || strcmp(l->li[i].name,
			    best->name) < 0)
				best = &l->li[i];
		}
		if (best != NULL)
			p->delim = (int)best->delim;
		if (log_debug_level() > 0) {
			want = mbox_delim_str(p->delim);
			log_msg(LOG_LVL_DEBUG, p->name, NULL,
			    "Using %s as hierarchy delimiter", want);
			free(want);
		}
	}
	for (i = 0; i < l->nli; i++) {
		if (strcmp(l->li[i].name, "INBOX") == 0)
			continue;
		if ((int)l->li[i].delim == p->delim)
			continue;
		want = mbox_delim_str(p->delim);
		got = mbox_delim_str((int)l->li[i].delim);
		eng_fail(e, EXIT_FAIL, p->name, NULL, "Mailbox %s has "
		    "hierarchy delimiter %s, while %s was expected.",
		    l->li[i].name, got, want);
	}
}

static void
patterns_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * The patterns to send to side: the MAILBOX arguments (local delimiter,
 * which the remote side gets translated), or list-mailbox (NUL = the
 * delimiter).  *nul: some hold NUL, to be replaced by the side's
 * delimiter (mbox_patterns_subst) once known.
 */
static char **
mbox_patterns(struct eng *e, uint32_t side, size_t *np, int *nul)
{
	const struct eng_data *src;
	int ld = e->peer[SIDE_LOCAL].delim;
	size_t n, i, j;
	char **v;

	*nul = 0;
	if (e->conf->nmailbox > 0) {
		src = e->conf->mailbox;
		n = e->conf->nmailbox;
	} else {
		src = e->conf->pattern;
		n = e->conf->npattern;
	}
	*np = n;
	if (n == 0)
		return NULL;
	v = eng_calloc(n, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i] = eng_memdup(src[i].bytes, src[i].len);
		/* The remote side: the local delimiter becomes NUL. */
		if (side == SIDE_REMOTE && ld >= 0 && ld != IMAP_DELIM_NIL)
			for (j = 0; j < src[i].len; j++)
				if ((unsigned char)v[i][j] == ld)
					v[i][j] = '\0';
		if (memchr(v[i], '\0', src[i].len) != NULL)
			*nul = 1;
	}
	return v;
}

static void
mbox_patterns_subst(struct eng *e, uint32_t side)
{
	struct lside *ls = &mbox_ls.s[side];
	struct peer *p = &e->peer[side];
	const struct eng_data *src;
	size_t i, j;

	if (p->delim == IMAP_DELIM_NIL)
		eng_fail(e, EXIT_FAIL, p->name, NULL, "Mailbox name contains "
		    "null characters but the namespace is flat!");
	src = e->conf->nmailbox > 0 ? e->conf->mailbox : e->conf->pattern;
	for (i = 0; i < ls->npat; i++)
		for (j = 0; j < src[i].len; j++)
			if (ls->pat[i][j] == '\0')
				ls->pat[i][j] = (char)p->delim;
}

/* One side's listing: 1 when over, 0 while waiting for answers. */
static int
mbox_list_side(struct eng *e, struct task *t, uint32_t side)
{
	struct eng_conf *c = e->conf;
	struct lside *ls = &mbox_ls.s[side];
	struct peer *p = &e->peer[side];
	uint32_t flags;
	const char *selopts;
	int nul;

	for (;;) {
		switch (ls->state) {
		case LS_PAT:
			ls->pat = mbox_patterns(e, side, &ls->npat, &nul);
			ls->state = LS_SEND;
			if (nul) {
				if (p->delim == -1) {
					mbox_learn_send(e, t, side);
					ls->state = LS_PAT_LEARNED;
					return 0;
				}
				mbox_patterns_subst(e, side);
			}
			break;
		case LS_PAT_LEARNED:
			mbox_learn_take(e, side);
			mbox_patterns_subst(e, side);
			ls->state = LS_SEND;
			break;
		case LS_SEND:
			flags = IMAP_LIST_RET_SUBSCRIBED;
			if (!(c->flags & ENGINE_CONF_NOTIFY))
				flags |= IMAP_LIST_RET_STATUS;
			selopts = c->list_select_opts != NULL &&
			    *c->list_select_opts != '\0' ?
			    c->list_select_opts : NULL;
			listing_free(&ls->l);
			(void)netc_list(p, t, flags, selopts,
			    c->list_reference[side], ls->pat, ls->npat,
			    mbox_list_data, mbox_list_done, &ls->l);
			patterns_free(ls->pat, ls->npat);
			ls->pat = NULL;
			ls->npat = 0;
			ls->state = LS_LISTED;
			return 0;
		case LS_LISTED:
			if (mbox_pick_needs_learn(e, side)) {
				mbox_learn_send(e, t, side);
				ls->state = LS_PICK_LEARNED;
				return 0;
			}
			mbox_pick_delim(e, side, 0);
			ls->state = LS_DONE;
			break;
		case LS_PICK_LEARNED:
			mbox_learn_take(e, side);
			mbox_pick_delim(e, side, 1);
			ls->state = LS_DONE;
			break;
		case LS_DONE:
			return 1;
		}
	}
}

static int
mbox_exists(const struct mbox *mb, uint32_t side)
{
	return mb->listed[side] &&
	    !(mb->attrs[side] & (IMAP_MBX_NONEXISTENT | IMAP_MBX_NOSELECT));
}

static int
mbox_subscribed(const struct mbox *mb, uint32_t side)
{
	return mb->listed[side] && (mb->attrs[side] & IMAP_MBX_SUBSCRIBED);
}

static int
mbox_ignore(struct eng *e, const struct mbox *mb)
{
	pcre2_match_data *md;
	int rc;

	if (e->ignore_re == NULL || e->conf->nmailbox > 0)
		return 0;
	md = pcre2_match_data_create_from_pattern(e->ignore_re, NULL);
	if (md == NULL)
		fatalx(EXIT_FAIL, "engine: out of memory");
	rc = pcre2_match(e->ignore_re, (PCRE2_SPTR)mb->name, mb->len, 0, 0,
	    md, NULL);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	eng_fail(e, EXIT_FAIL, NULL, NULL, "ignore-mailbox: matching "
	    "failed (PCRE2 error %d)", rc);
}

/* The mailbox table from both listings (delimiters known). */
static void
mbox_build(struct eng *e)
{
	struct listing *l;
	struct mbox *mb;
	struct peer *p;
	char *name;
	size_t i, len;
	uint32_t side;

	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		l = &mbox_ls.s[side].l;
		for (i = 0; i < l->nli; i++) {
			name = mbox_unname(e, side, l->li[i].name, &len);
			if (name == NULL)
				continue;	/* not under the reference */
			mb = mbox_get(e, name, len);
			free(name);
			mb->listed[side] = 1;
			mb->attrs[side] = l->li[i].attrs;
		}
	}
	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
			if (mb->srv[side] == NULL)
				mb->srv[side] = mbox_server_name(e, side,
				    mb->name, mb->len);
		}
		if (mb->pretty == NULL)
			mb->pretty = mbox_server_name(e, SIDE_NONE, mb->name,
			    mb->len);
		mb->ignored = mbox_ignore(e, mb);
	}
	/* LIST-STATUS replies: the live cache. */
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		p = &e->peer[side];
		l = &mbox_ls.s[side].l;
		for (i = 0; i < l->nst; i++) {
			if ((mb = mbox_by_server(e, side, l->st[i].name)) ==
			    NULL)
				continue;
			if (l->st[i].mask & IMAP_ST_UIDVALIDITY)
				netc_set_uidvalidity(p, mb,
				    l->st[i].uidvalidity);
			if (l->st[i].mask & IMAP_ST_UIDNEXT) {
				mb->cache[side].uidnext = l->st[i].uidnext;
				mb->cache[side].has |= MC_UIDNEXT;
			}
			if (l->st[i].mask & IMAP_ST_HIGHESTMODSEQ) {
				mb->cache[side].hms = l->st[i].hms;
				mb->cache[side].has |= MC_HMS;
			}
		}
	}
}

/*
 * §6.1: list both sides.  Without patterns both sides at once; with
 * them, remote after local (its patterns need the local delimiter).
 */
int
mbox_list_step(struct eng *e, struct task *t)
{
	struct eng_conf *c = e->conf;
	char *ld, *rd;
	uint32_t side;
	int parallel, done;

	if (!mbox_ls.started) {
		memset(&mbox_ls, 0, sizeof(mbox_ls));
		mbox_ls.started = 1;
		if (c->ignore_mailbox != NULL && e->ignore_re == NULL &&
		    c->nmailbox == 0) {
			int err;
			PCRE2_SIZE off;

			e->ignore_re = pcre2_compile(
			    (PCRE2_SPTR)c->ignore_mailbox,
			    PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
			if (e->ignore_re == NULL)
				eng_fail(e, EXIT_CONFIG, NULL, NULL,
				    "Invalid ignore-mailbox regular "
				    "expression");
		}
	}
	parallel = c->nmailbox == 0 && c->npattern == 0;
	done = mbox_list_side(e, t, SIDE_LOCAL);
	if (!done && !parallel)
		return 0;
	if (!mbox_list_side(e, t, SIDE_REMOTE) || !done)
		return 0;

	if ((e->peer[SIDE_LOCAL].delim == IMAP_DELIM_NIL) !=
	    (e->peer[SIDE_REMOTE].delim == IMAP_DELIM_NIL)) {
		ld = mbox_delim_str(e->peer[SIDE_LOCAL].delim);
		rd = mbox_delim_str(e->peer[SIDE_REMOTE].delim);
		eng_fail(e, EXIT_FAIL, NULL, NULL, "Local and remote "
		    "namespaces are neither both flat nor both hierarchical "
		    "(local %s, remote %s).", ld, rd);
	}
	mbox_build(e);
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		listing_free(&mbox_ls.s[side].l);
		listing_free(&mbox_ls.s[side].learn);
	}
	mbox_ls.started = 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* §6.2: reconciliation. */

/* IMSG_DB_MAILBOX_ROW, see ipc/db_proto.h. */
static void
mbox_db_row(struct eng *e, struct ipc_msg *msg, void *arg)
{
	struct ipc_rd rd;
	struct mbox *mb;
	const char *name;
	uint64_t idx;
	size_t len;
	uint32_t sub, has, uv[2], un[2];
	uint64_t hms[2];
	int s;

	(void)arg;
	ipc_rd_init(&rd, msg);
	idx = ipc_get_u64(&rd);
	name = ipc_get_data(&rd, &len);
	sub = ipc_get_u32(&rd);
	has = ipc_get_u32(&rd);
	for (s = 0; s < 2; s++) {
		uv[s] = ipc_get_u32(&rd);
		un[s] = ipc_get_u32(&rd);
		hms[s] = ipc_get_u64(&rd);
	}
	if (ipc_rd_end(&rd) == -1 || name == NULL || len == 0 || idx == 0 ||
	    idx > INT64_MAX) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_MAILBOX_ROW): bad layout");
		eng_exit(e, EXIT_CHILD);
	}
	/* Only mailboxes some server listed matter. */
	if ((mb = mbox_find(e, name, len)) == NULL)
		return;
	mb->idx = (int64_t)idx;
	mb->db_subscribed = sub != 0;
	mb->has_state = has != 0;
	for (s = 0; s < 2; s++) {
		mb->db_uidvalidity[s] = uv[s];
		mb->db_uidnext[s] = un[s];
		mb->db_hms[s] = hms[s];
	}
}

/* The answer of one server command of the plan. */
struct opres {
	int		 sent;
	int		 done;
	uint32_t	 status;
	char		*text;
};

/* What reconciliation does for one mailbox. */
struct mbox_plan {
	struct mbox	*mb;
	int		 db_add;	/* new DB row, subscribed = db_sub */
	int		 db_set;	/* update subscribed to db_sub */
	int		 db_sub;
	struct opres	 create[2];
	struct opres	 sub[2];	/* SUBSCRIBE */
	struct opres	 unsub[2];	/* UNSUBSCRIBE */
};

static struct {
	int		 state;
	struct mbox_plan *plan;
	size_t		 n;
} mbox_rc;

enum {
	RC_LOAD = 0,
	RC_PLAN,
	RC_APPLY,
	RC_DONE,
};

static void
mbox_op_done(struct req *r)
{
	struct opres *o = r->arg;

	o->done = 1;
	o->status = r->status;
	o->text = eng_strdup(r->text != NULL ? r->text : "");
}

static void
mbox_op(struct eng *e, struct task *t, uint32_t side, uint32_t op,
    struct mbox *mb, struct opres *o)
{
	o->sent = 1;
	(void)netc_mailbox_op(&e->peer[side], t, op, mb->srv[side], NULL,
	    mbox_op_done, o);
}

static const char *
mbox_status_name(uint32_t status)
{
	return status == IMAP_DONE_OK ? "OK" : status == IMAP_DONE_NO ?
	    "NO" : "BAD";
}

static void
mbox_idx_done(struct eng *e, uint64_t value, void *arg)
{
	struct mbox *mb = arg;

	(void)e;
	if (value == 0 || value > INT64_MAX) {
		log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message "
		    "(IMSG_DB_RESULT): bad mailbox index");
		eng_exit(e, EXIT_CHILD);
	}
	mb->idx = (int64_t)value;
}

/* The server commands' results, in mailbox order; the database. */
static void
mbox_apply(struct eng *e, struct task *t, struct mbox_plan *pl)
{
	struct mbox *mb = pl->mb;
	struct ipc_buf buf;
	struct peer *p;
	struct opres *o;
	uint32_t s;

	if (pl->db_add) {
		log_msg(LOG_LVL_NOTICE, "database", NULL, "Created mailbox %s",
		    mb->pretty);
		ipc_buf_init(&buf);
		ipc_put_data(&buf, mb->name, mb->len);
		ipc_put_u32(&buf, pl->db_sub ? 1 : 0);
		dbc_send(e, t, IMSG_DB_MAILBOX_ADD, &buf, NULL, mbox_idx_done,
		    mb);
		ipc_buf_free(&buf);
		mb->db_subscribed = pl->db_sub;
	}
	for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
		p = &e->peer[s];
		o = &pl->create[s];
		if (o->sent) {
			if (o->status == IMAP_DONE_OK)
				log_msg(LOG_LVL_INFO, p->name, NULL,
				    "Created mailbox %s", mb->srv[s]);
			else
				log_msg(LOG_LVL_WARN, p->name, NULL,
				    "WARNING: Couldn't create mailbox %s: "
				    "%s %s", mb->srv[s],
				    mbox_status_name(o->status), o->text);
		}
		o = &pl->sub[s];
		if (o->sent) {
			if (o->status != IMAP_DONE_OK)
				eng_fail(e, EXIT_FAIL, p->name, NULL, "%s %s",
				    mbox_status_name(o->status), o->text);
			log_msg(LOG_LVL_INFO, p->name, NULL,
			    "Subscribe to %s", mb->srv[s]);
		}
		o = &pl->unsub[s];
		if (o->sent) {
			if (o->status != IMAP_DONE_OK)
				eng_fail(e, EXIT_FAIL, p->name, NULL, "%s %s",
				    mbox_status_name(o->status), o->text);
			log_msg(LOG_LVL_INFO, p->name, NULL,
			    "Unsubscribe to %s", mb->srv[s]);
		}
	}
	if (pl->db_set) {
		dbc_subscribe(e, mb->idx, pl->db_sub);
		mb->db_subscribed = pl->db_sub;
	}
	if (pl->db_add || pl->db_set)
		dbc_commit(e);
}

static void
mbox_plan_free(void)
{
	size_t i;
	uint32_t s;

	for (i = 0; i < mbox_rc.n; i++)
		for (s = SIDE_LOCAL; s <= SIDE_REMOTE; s++) {
			free(mbox_rc.plan[i].create[s].text);
			free(mbox_rc.plan[i].sub[s].text);
			free(mbox_rc.plan[i].unsub[s].text);
		}
	free(mbox_rc.plan);
	memset(&mbox_rc, 0, sizeof(mbox_rc));
}

/* Every server command at once; their results then in order. */
static void
mbox_plan(struct eng *e, struct task *t)
{
	struct mbox_plan *pl;
	struct mbox *mb;
	size_t i;
	int lex, rex, ls, rs;
	uint32_t s1, s2;

	/*
	 * Refusals first, so that a refused run changes nothing (the
	 * reference stops half-way, in hash order).
	 */
	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		if (mb->ignored)
			continue;
		lex = mbox_exists(mb, SIDE_LOCAL);
		rex = mbox_exists(mb, SIDE_REMOTE);
		if (lex != rex && mb->idx != 0)
			eng_fail(e, EXIT_FAIL, "database", NULL, "Mailbox %s "
			    "exists. Run `interimap --target=database "
			    "--delete %s` to delete.", mb->pretty,
			    mb->pretty);
	}
	mbox_rc.plan = eng_calloc(e->nmbox, sizeof(*mbox_rc.plan));
	for (i = 0; i < e->nmbox; i++) {
		mb = e->mbox[i];
		if (mb->ignored)
			continue;
		lex = mbox_exists(mb, SIDE_LOCAL);
		rex = mbox_exists(mb, SIDE_REMOTE);
		if (!lex && !rex)
			continue;
		mb->sync = 1;
		pl = &mbox_rc.plan[mbox_rc.n++];
		pl->mb = mb;
		if (lex && rex) {
			ls = mbox_subscribed(mb, SIDE_LOCAL);
			rs = mbox_subscribed(mb, SIDE_REMOTE);
			if (mb->idx != 0) {
				if (ls != rs) {
					if (mb->db_subscribed) {
						s1 = ls ? SIDE_LOCAL :
						    SIDE_REMOTE;
						mbox_op(e, t, s1,
						    IMAP_MBOP_UNSUBSCRIBE, mb,
						    &pl->unsub[s1]);
					} else {
						s1 = ls ? SIDE_REMOTE :
						    SIDE_LOCAL;
						mbox_op(e, t, s1,
						    IMAP_MBOP_SUBSCRIBE, mb,
						    &pl->sub[s1]);
					}
					pl->db_set = 1;
					pl->db_sub = !mb->db_subscribed;
				} else if (ls != mb->db_subscribed) {
					pl->db_set = 1;
					pl->db_sub = ls;
				}
			} else {
				pl->db_add = 1;
				pl->db_sub = ls || rs;
				if (pl->db_sub && !ls)
					mbox_op(e, t, SIDE_LOCAL,
					    IMAP_MBOP_SUBSCRIBE, mb,
					    &pl->sub[SIDE_LOCAL]);
				if (pl->db_sub && !rs)
					mbox_op(e, t, SIDE_REMOTE,
					    IMAP_MBOP_SUBSCRIBE, mb,
					    &pl->sub[SIDE_REMOTE]);
			}
		} else {
			s1 = lex ? SIDE_LOCAL : SIDE_REMOTE;
			s2 = lex ? SIDE_REMOTE : SIDE_LOCAL;
			pl->db_add = 1;
			pl->db_sub = mbox_subscribed(mb, s1);
			mbox_op(e, t, s2, IMAP_MBOP_CREATE, mb,
			    &pl->create[s2]);
			if (pl->db_sub)
				mbox_op(e, t, s2, IMAP_MBOP_SUBSCRIBE, mb,
				    &pl->sub[s2]);
		}
	}
}

int
mbox_reconcile_step(struct eng *e, struct task *t)
{
	struct ipc_buf buf;
	size_t i;

	switch (mbox_rc.state) {
	case RC_LOAD:
		/* The database's view of every listed mailbox. */
		for (i = 0; i < e->nmbox; i++) {
			e->mbox[i]->idx = 0;
			e->mbox[i]->sync = 0;
		}
		ipc_buf_init(&buf);
		dbc_send(e, t, IMSG_DB_LOAD, &buf, mbox_db_row, NULL, NULL);
		ipc_buf_free(&buf);
		mbox_rc.state = RC_PLAN;
		return 0;
	case RC_PLAN:
		mbox_plan(e, t);
		mbox_rc.state = RC_APPLY;
		if (t->pending > 0)
			return 0;
		/* FALLTHROUGH */
	case RC_APPLY:
		for (i = 0; i < mbox_rc.n; i++)
			mbox_apply(e, t, &mbox_rc.plan[i]);
		mbox_rc.state = RC_DONE;
		if (t->pending > 0)
			return 0;
		/* FALLTHROUGH */
	case RC_DONE:
		mbox_plan_free();
		return 1;
	}
	return 1;
}
