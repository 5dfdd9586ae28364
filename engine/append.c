/*
 * The APPEND side of a pass of new messages (xfer.c): messages go out
 * in MULTIAPPEND batches (128 messages or 1 MiB, as the reference), each
 * body streamed as it arrives; a batch's APPENDUID answer becomes the
 * mapping rows, committed with the batch, before any UIDNEXT moves
 * (REFERENCE-BEHAVIOUR §5.4, §6.4).
 *
 * An APPEND that the target refuses for good, with NO and a code that
 * says so (a message larger than the server takes: [LIMIT], [TOOBIG];
 * one it cannot or will not store: [CANNOT], [PARSE]), fails neither
 * the run nor the other copies, where the reference stops at the first,
 * and at the same message on every run after it.  A refused batch of
 * several messages is sent again one message per APPEND (MULTIAPPEND
 * is all or nothing; xfer.c, X_FETCHED); a message refused alone stays
 * where it is, unmapped, with a warning, and its UID in mb->refused for
 * the ERROR that ends a one-shot run with exit 1 (run.c), which also
 * says that --repair copies it once the server takes it (the mapping
 * has no row for it: repair.c's recopy).  Runs after it do not try it
 * again.  Any other NO (a full mailbox, [OVERQUOTA], passes once mail is
 * deleted; [UNAVAILABLE]) still fails the run, so that the next run, or
 * the service's restart, copies everything from there.  Not for §9.8's
 * restore, whose refusal fails the run as before.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "answer.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"
#include "xfer.h"

/* Pairs reserved at most at a time (12 MiB of mapping). */
#define MAP_RESERVE_MAX		(1024 * 1024)

static void	 batch_done(struct req *);

/* Opens the APPEND if needed and announces the message. */
void
xfer_msg_start(struct xfer *x, const char *flags, const char *date,
    uint64_t modseq)
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
		b->req = netc_send(x->dst, &x->j->t, IMSG_IMAP_APPEND, &buf,
		    x->mb, NULL, batch_done, b);
		ipc_buf_free(&buf);
		x->cur = b;
	}
	b = x->cur;
	ipc_buf_init(&buf);
	/* \Recent cannot be set by APPEND. */
	copy = eng_strdup(flags);
	for (p = copy; (tok = strsep(&p, " ")) != NULL;) {
		if (*tok == '\0' || strcasecmp(tok, "\\Recent") == 0)
			continue;
		if (fl.len > 0)
			sbuf_addc(&fl, ' ');
		sbuf_adds(&fl, tok);
	}
	free(copy);
	ipc_put_str(&buf, sbuf_str(&fl));
	if (pflags_sides(x->j) != 0) {
		b->flags = eng_reallocarray(b->flags, b->n + 1,
		    sizeof(*b->flags));
		b->flags[b->n] = flags_sorted(sbuf_str(&fl));
	}
	b->fh = eng_reallocarray(b->fh, b->n + 1, sizeof(*b->fh));
	b->fh[b->n] = flags_hash(sbuf_str(&fl));
	sbuf_free(&fl);
	ipc_put_str(&buf, date);
	ipc_put_u64(&buf, x->size);
	netc_send_more(x->dst, b->req, IMSG_IMAP_APPEND_MSG, buf.data,
	    buf.len);
	ipc_buf_free(&buf);
	if (x->restore)
		modtab_put(&x->copied, x->uid, modseq, flags_sorted(flags));
	uidvec_push(&b->suids, x->uid);
	uidvec_push(&b->ssizes, x->size > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)x->size);
	b->bytes += x->size;
	b->n++;
}

void
batch_close(struct xfer *x)
{
	struct batch *b = x->cur;

	if (b == NULL)
		return;
	netc_send_more(x->dst, b->req, IMSG_IMAP_APPEND_END, NULL, 0);
	/* Its EXISTS is not new mail (§9.6). */
	if (x->dst->qsel == x->mb) {
		x->mb->sel[x->dst->side].exists_self += b->n;
		b->self = b->n;
	}
	x->cur = NULL;
}

static void
batch_free(struct batch *b)
{
	uint32_t i;

	uidvec_free(&b->suids);
	uidvec_free(&b->ssizes);
	if (b->flags != NULL)
		for (i = 0; i < b->n; i++)
			free(b->flags[i]);
	free(b->flags);
	free(b->fh);
	free(b);
}

/* A NO whose code says the message will never be taken (see the top). */
static int
refused_for_good(const struct req *r)
{
	static const char *const codes[] = {
		"LIMIT", "TOOBIG", "CANNOT", "PARSE"
	};
	size_t i, n;

	if (r->code != IMAP_CODE_OTHER || r->codedata == NULL)
		return 0;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		n = strlen(codes[i]);
		if (strncasecmp(r->codedata, codes[i], n) == 0 &&
		    (r->codedata[n] == '\0' || r->codedata[n] == ' '))
			return 1;
	}
	return 0;
}

/* The target refused a batch for good (see the top). */
static void
batch_refused(struct req *r, struct batch *b)
{
	struct xfer *x = b->x;
	struct mbox *mb = x->mb;
	struct peer *t = r->p;
	struct msel *ms = &mb->sel[t->side];
	char *sl;

	/* No EXISTS comes for it. */
	ms->exists_self -= b->self < ms->exists_self ? b->self :
	    ms->exists_self;
	sl = uid_compact_list(b->suids.v, b->suids.n);
	if (b->n > 1) {
		xlog(x, LOG_LVL_DEBUG, t->name, mb->srv[t->side], "APPEND of "
		    "%u message(s) (UID(s) %s of %s) refused: %s; sending "
		    "them one by one", b->n, sl, x->src->name,
		    r->text != NULL ? r->text : "");
		uidvec_append(&x->retry, b->suids.v, b->suids.n);
	} else {
		xlog(x, LOG_LVL_WARN, t->name, mb->srv[t->side], "WARNING: "
		    "Couldn't append UID %s of %s: NO %s", sl, x->src->name,
		    r->text != NULL ? r->text : "");
		uidvec_append(&mb->refused[x->sside], b->suids.v,
		    b->suids.n);
	}
	free(sl);
	batch_free(b);
}

/* The target answered an APPEND: mapping rows, commit, log (§6.4). */
static void
batch_done(struct req *r)
{
	struct batch *b = r->arg;
	struct xfer *x = b->x;
	struct job *j = x->j;
	struct eng *e = j->e;
	struct peer *t = r->p;
	struct mbox *mb = x->mb;
	struct mcache *sc;
	size_t more;
	struct uidranges rs;
	struct uidvec tu;
	uint32_t uv, *lu, *ru, uid;
	char *sl, *tl, *sp;
	size_t i;
	int code, taken;

	if (r->status == IMAP_DONE_NO && !x->restore && refused_for_good(r)) {
		batch_refused(r, b);
		return;
	}
	if (r->status != IMAP_DONE_OK)
		netc_fail_req(r);
	if (r->code != IMAP_CODE_APPENDUID || r->codedata == NULL ||
	    (sp = strchr(r->codedata, ' ')) == NULL)
		eng_fail(e, EXIT_PANIC, t->name, mb->srv[t->side], "PANIC: %s",
		    r->text ? r->text : "APPEND without APPENDUID");
	if (ans_appenduid(r->codedata, &uv, &rs) == -1)
		eng_fail(e, EXIT_PANIC, t->name, mb->srv[t->side], "PANIC: %s",
		    r->codedata);
	netc_set_uidvalidity(t, mb, uv);
	if (uidranges_count(&rs) != b->n)
		eng_fail(e, EXIT_FAIL, t->name, mb->srv[t->side], "%s "
		    "contains %llu elements while %u messages were appended.",
		    sp + 1, (unsigned long long)uidranges_count(&rs), b->n);
	memset(&tu, 0, sizeof(tu));
	for (i = 0; i < rs.n; i++)
		for (uid = rs.r[i].lo;; uid++) {
			uidvec_push(&tu, uid);
			if (uid == rs.r[i].hi)
				break;
		}
	uidranges_free(&rs);
	/*
	 * The [HIGHESTMODSEQ] that came with the APPEND (Dovecot's; Cyrus
	 * gives none) is taken as reported when it shows that nobody else
	 * changed the mailbox meanwhile (netc_append_hms()), or where the
	 * job is the first to sync the mailbox (j->lend: made or found
	 * empty on this side, where the keywords are new: they take
	 * MODSEQs of their own), as it always was.  The copies are then below what a
	 * SELECT again starts from: not kept, so that a first sync of
	 * 100,000 messages to Dovecot keeps no 100,000 entries.  Otherwise
	 * they are as copies that came without a code (Cyrus): until
	 * X_MODSEQ has their MODSEQs, which come with the reports of every
	 * change below them, a SELECT again starts below them and reports
	 * them as changed, with the flags we gave them, which are not
	 * changes (known_new.c), and a STORE on them with that UNCHANGEDSINCE
	 * would be refused.
	 */
	code = t->sel == mb && (r->code == IMAP_CODE_HIGHESTMODSEQ ||
	    mb->sel[t->side].hms_req == r->id);
	if (code && j->lend && !(r->flags & REQ_HMS_TAKEN)) {
		netc_trust_hms(t, mb, mb->cache[t->side].hms);
		r->flags |= REQ_HMS_TAKEN;
	}
	taken = code && (r->flags & REQ_HMS_TAKEN);
	if (!taken)
		for (i = 0; i < tu.n && i < b->n; i++)
			known_copied(j, t->side, tu.v[i], b->fh[i]);
	if (t->sel == mb) {
		struct mcache *c = &mb->cache[t->side];
		struct msel *ms = &mb->sel[t->side];

		for (i = 0; i < tu.n; i++) {
			if (tu.v[i] == UINT32_MAX)
				continue;
			if ((c->has & MC_UIDNEXT) && c->uidnext <= tu.v[i])
				c->uidnext = tu.v[i] + 1;
			if ((ms->seen & MC_UIDNEXT) &&
			    ms->seen_uidnext <= tu.v[i])
				ms->seen_uidnext = tu.v[i] + 1;
		}
		/*
		 * No [HIGHESTMODSEQ] taken for this APPEND (see above): one
		 * more MODSEQ of ours not yet reported.
		 */
		if (!taken) {
			ms->own++;
			uidvec_append(&x->nomodseq, tu.v, tu.n);
		}
	}
	if (!e->quiet) {
		sl = uid_compact_list(b->suids.v, b->suids.n);
		tl = uid_compact_list(tu.v, tu.n);
		if (t->side == SIDE_LOCAL)
			xlog(x, LOG_LVL_INFO, t->name, mb->srv[t->side],
			    "Added %u UID(s) %s <- %s", b->n, tl, sl);
		else
			xlog(x, LOG_LVL_INFO, t->name, mb->srv[t->side],
			    "Added %u UID(s) %s -> %s", b->n, sl, tl);
		free(sl);
		free(tl);
	}
	for (i = 0; i < tu.n; i++)
		xlog(x, LOG_LVL_AUDIT, t->name, mb->srv[t->side], "APPEND "
		    "uid=%u from=%s:%u size=%u", tu.v[i], e->peer[t->side ==
		    SIDE_LOCAL ? SIDE_REMOTE : SIDE_LOCAL].name, b->suids.v[i],
		    i < b->ssizes.n ? b->ssizes.v[i] : 0);
	/*
	 * Room in the mapping for every message of the source it does not
	 * map yet, exactly (on a first sync, the whole mailbox at once),
	 * rather than half as much again as it holds each time it is full;
	 * at most MAP_RESERVE_MAX more at a time, the EXISTS being only the
	 * server's word (a hostile "* 4000000000 EXISTS" costs nothing).
	 */
	sc = &mb->cache[x->sside];
	if ((sc->has & MC_EXISTS) && sc->exists > map_count(&j->map)) {
		more = sc->exists - map_count(&j->map);
		map_reserve(&j->map, more > MAP_RESERVE_MAX ?
		    MAP_RESERVE_MAX : more);
	}
	lu = t->side == SIDE_LOCAL ? tu.v : b->suids.v;
	ru = t->side == SIDE_LOCAL ? b->suids.v : tu.v;
	for (i = 0; i < tu.n; i++) {
		if (log_debug_level() > 0)
			xlog(x, LOG_LVL_DEBUG, "", NULL, "Adding mapping "
			    "(lUID,rUID) = (%u,%u) for %s", lu[i], ru[i],
			    mb->pretty);
		map_add(&j->map, lu[i], ru[i]);
		/* Both copies have these flags, as synced. */
		if (b->flags != NULL) {
			pflags_set(j, t->side, tu.v[i], b->flags[i]);
			pflags_set(j, x->sside, b->suids.v[i], b->flags[i]);
		}
	}
	progress_copied(e, b->n, b->bytes);
	/* One commit per batch, before any UIDNEXT moves (§5.4). */
	job_state_init(j);
	dbc_map_add(e, mb->idx, lu, ru, tu.n);
	pflags_flush(j);
	dbc_commit(e);
	x->ntuids += tu.n;
	uidvec_free(&tu);
	batch_free(b);
}
