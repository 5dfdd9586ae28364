/*
 * Listing both servers (REFERENCE-BEHAVIOUR §6.1), as steps of the run:
 * LIST with the patterns (MAILBOX arguments or list-mailbox), the
 * hierarchy delimiter of each side (learnt with LIST <ref> "" where
 * needed), the mailbox table built from both listings and their
 * LIST-STATUS values.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
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
	uint32_t	 messages;
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

static void	 mbox_list_data(struct req *, const struct rdata *);
static void	 listing_free(struct listing *);
static void	 mbox_learn_send(struct eng *, struct task *, uint32_t);
static void	 mbox_learn_take(struct eng *, uint32_t);
static void	 mbox_pick_delim(struct eng *, uint32_t, int);
static int	 mbox_pick_needs_learn(struct eng *, uint32_t);
static void	 mbox_build(struct eng *);
static int	 mbox_ignore(struct eng *, const struct mbox *);
static char	**mbox_patterns(struct eng *, uint32_t, size_t *, int *);
static void	 patterns_free(char **, size_t);
static int	 mbox_list_side(struct eng *, struct task *, uint32_t);

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
	struct ans_list li;
	struct ans_status st;
	struct sitem si;

	if (msg->hdr.type == IMSG_IMAP_LIST_ITEM) {
		if (ans_list_item(msg, &li) == -1)
			goto bad;
		if (l->nli == l->capli) {
			l->capli = l->capli ? l->capli * 2 : 64;
			l->li = eng_reallocarray(l->li, l->capli,
			    sizeof(*l->li));
		}
		l->li[l->nli].name = eng_memdup(li.name, li.len);
		l->li[l->nli].attrs = li.attrs;
		l->li[l->nli].delim = li.delim;
		l->nli++;
	} else if (msg->hdr.type == IMSG_IMAP_STATUS_ITEM) {
		if (ans_status_item(msg, &st) == -1)
			goto bad;
		si.mask = st.mask;
		si.uidvalidity = st.uidvalidity;
		si.uidnext = st.uidnext;
		si.hms = st.hms;
		si.messages = st.messages;
		si.name = eng_memdup(st.name, st.len);
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


/* LIST <ref> "": exactly one reply, whose delimiter is the side's. */
static void
mbox_learn_send(struct eng *e, struct task *t, uint32_t side)
{
	char *empty[1] = { (char *)"" };

	listing_free(&mbox_ls.s[side].learn);
	(void)netc_list(&e->peer[side], t, 0, NULL,
	    e->conf->list_reference[side], empty, 1, mbox_list_data,
	    netc_done_ok, &mbox_ls.s[side].learn);
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
			/*
			 * With STATUS even under --notify (the reference
			 * leaves it out): every pass starts from a fresh
			 * listing, events only say when (run.c).
			 */
			flags = IMAP_LIST_RET_SUBSCRIBED |
			    IMAP_LIST_RET_STATUS;
			selopts = c->list_select_opts != NULL &&
			    *c->list_select_opts != '\0' ?
			    c->list_select_opts : NULL;
			/*
			 * --delete and --rename look at the names alone,
			 * whatever list-select-opts would leave out.
			 */
			if (c->command == ENGINE_CMD_DELETE ||
			    c->command == ENGINE_CMD_RENAME) {
				flags = 0;
				selopts = NULL;
			}
			listing_free(&ls->l);
			(void)netc_list(p, t, flags, selopts,
			    c->list_reference[side], ls->pat, ls->npat,
			    mbox_list_data, netc_done_ok, &ls->l);
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
	/*
	 * LIST-STATUS replies: the live cache.  MESSAGES (asked of servers
	 * synced with CONDSTORE) is only this listing's, never an older
	 * one's (job.c's job_unchanged()).
	 */
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		p = &e->peer[side];
		l = &mbox_ls.s[side].l;
		for (i = 0; i < e->nmbox; i++)
			e->mbox[i]->cache[side].has &= ~MC_MESSAGES;
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
			if (l->st[i].mask & IMAP_ST_MESSAGES) {
				mb->cache[side].messages = l->st[i].messages;
				mb->cache[side].has |= MC_MESSAGES;
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
	size_t i;
	int parallel, done;

	if (!mbox_ls.started) {
		memset(&mbox_ls, 0, sizeof(mbox_ls));
		mbox_ls.started = 1;
		/* A new listing (watch mode lists again each pass). */
		for (i = 0; i < e->nmbox; i++)
			for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
				e->mbox[i]->listed[side] = 0;
				e->mbox[i]->attrs[side] = 0;
			}
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
