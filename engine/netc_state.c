/*
 * What a server says about its mailboxes, folded into the engine's state
 * as it arrives (REFERENCE-BEHAVIOUR §4.6-4.8): the selection followed
 * along the response stream, response codes, EXISTS and the new-mail
 * counter, VANISHED, flag changes into MODIFIED, STATUS, the live cache
 * and the last synchronised state (pcache).  netc.c calls these; jobs
 * read the results in struct mbox.
 */
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "netc_int.h"
#include "proc.h"

/*
 * The server now speaks of mb (the reference's _open_mailbox()).  What
 * was reported about mb earlier and not yet consumed stays: its job
 * still needs it.  Only EXISTS starts afresh, so that the SELECT's own
 * EXISTS is not taken for new mail.
 */
void
netc_open(struct peer *p, struct mbox *mb)
{
	p->sel = mb;
	mb->sel[p->side].exists_self = 0;
	mb->cache[p->side].has &= ~MC_EXISTS;
	mb->cache[p->side].exists = 0;
}

/* Nothing is selected any more; a SELECT in flight comes next. */
void
netc_unselected(struct peer *p)
{
	struct req *r;

	p->sel = NULL;
	p->selected = 0;
	for (r = p->head; r != NULL; r = r->next)
		if (r->type == IMSG_IMAP_SELECT && !r->opened) {
			/* No [CLOSED] will come: its data starts now. */
			netc_open(p, r->mb);
			r->opened = 1;
			break;
		}
}

void
netc_set_uidvalidity(struct peer *p, struct mbox *mb, uint32_t v)
{
	struct mcache *c = &mb->cache[p->side];
	struct mcache *pc = &mb->pcache[p->side];

	if ((c->has & MC_UIDVALIDITY) && c->uidvalidity != v)
		eng_fail(p->e, EXIT_FAIL, p->name, p->selected && p->sel ?
		    p->sel->srv[p->side] : NULL, "UIDVALIDITY changed! "
		    "(%u != %u)  Need to invalidate the UID cache for %s.",
		    c->uidvalidity, v, mb->srv[p->side] ? mb->srv[p->side] :
		    "");
	c->uidvalidity = v;
	c->has |= MC_UIDVALIDITY;
	if (!(pc->has & MC_UIDVALIDITY)) {
		pc->uidvalidity = v;
		pc->has |= MC_UIDVALIDITY;
	}
}

void
netc_set_pcache(struct peer *p, struct mbox *mb, unsigned int what,
    uint32_t uidvalidity, uint32_t uidnext, uint64_t hms)
{
	struct mcache *pc = &mb->pcache[p->side];

	if (what & MC_UIDVALIDITY) {
		if ((pc->has & MC_UIDVALIDITY) &&
		    pc->uidvalidity != uidvalidity)
			eng_fail(p->e, EXIT_FAIL, p->name, NULL,
			    "UIDVALIDITY changed! (%u != %u)  Need to "
			    "invalidate the UID cache for %s.",
			    pc->uidvalidity, uidvalidity, mb->srv[p->side]);
		pc->uidvalidity = uidvalidity;
	}
	if (what & MC_UIDNEXT)
		pc->uidnext = uidnext;
	if (what & MC_HMS)
		pc->hms = hms;
	pc->has |= what;
	if (log_debug_level() > 0) {
		log_msg(LOG_LVL_DEBUG, p->name, mb->job != NULL ?
		    mb->srv[p->side] : NULL,
		    "Update last clean state for %s: (%s%u%s%u%s%llu)",
		    mb->srv[p->side],
		    (pc->has & MC_UIDVALIDITY) ? "UIDVALIDITY " : "",
		    pc->uidvalidity,
		    (pc->has & MC_UIDNEXT) ? " UIDNEXT " : " ", pc->uidnext,
		    (pc->has & MC_HMS) ? " HIGHESTMODSEQ " : " ",
		    (unsigned long long)pc->hms);
	}
}

/*
 * The reference's is_dirty(): pending new mail, or UIDNEXT/HIGHESTMODSEQ
 * unknown or different from the last synced state.  (The reference counts
 * new mail per connection; here it is per mailbox, which is what it
 * means.)
 */
int
netc_is_dirty(struct peer *p, struct mbox *mb)
{
	struct mcache *c = &mb->cache[p->side];
	struct mcache *pc = &mb->pcache[p->side];

	if (mb->sel[p->side].newmail > 0)
		return 1;
	if (!(pc->has & MC_UIDNEXT) || pc->uidnext == 0 ||
	    !(c->has & MC_UIDNEXT) || c->uidnext != pc->uidnext)
		return 1;
	if (!(pc->has & MC_HMS) || pc->hms == 0 ||
	    !(c->has & MC_HMS) || c->hms != pc->hms)
		return 1;
	return 0;
}

/*
 * What the last synchronised HIGHESTMODSEQ of mb on side may be: the
 * one up to which every change was reported to us (msel.seen_hms; before
 * the session reported one, as plain IMAP4rev1 never does, the live
 * value).
 */
uint64_t
netc_synced_hms(const struct mbox *mb, uint32_t side)
{
	const struct msel *ms = &mb->sel[side];

	return (ms->seen & MC_HMS) ? ms->seen_hms : mb->cache[side].hms;
}

/*
 * Has the server said that mb changed beyond what the session reported
 * while mb was selected: a NOTIFY STATUS while another mailbox was, or
 * the [HIGHESTMODSEQ] of our UID EXPUNGE or UID STORE
 * (netc_command_hms())?  Only a SELECT again brings the reports.
 */
int
netc_unreported(const struct peer *p, const struct mbox *mb)
{
	const struct mcache *c = &mb->cache[p->side];
	const struct msel *ms = &mb->sel[p->side];

	if ((c->has & MC_HMS) && (ms->seen & MC_HMS) &&
	    c->hms != ms->seen_hms)
		return 1;
	return (c->has & MC_UIDNEXT) && (ms->seen & MC_UIDNEXT) &&
	    c->uidnext > ms->seen_uidnext;
}

/* The live HIGHESTMODSEQ, raised to value. */
static void
live_hms(struct mcache *c, uint64_t value)
{
	if (!(c->has & MC_HMS) || c->hms < value) {
		c->hms = value;
		c->has |= MC_HMS;
	}
}

/*
 * What was reported to us, raised to value; our APPENDs counted since
 * (msel.own) are below it.
 */
static void
seen_hms(struct msel *ms, uint64_t value)
{
	if (!(ms->seen & MC_HMS) || ms->seen_hms < value) {
		ms->seen_hms = value;
		ms->own = 0;
		ms->seen |= MC_HMS;
	}
}

/*
 * A [HIGHESTMODSEQ] that came with anything but a SELECT (untagged
 * during the command, or on its tagged OK: our UID EXPUNGE, UID STORE,
 * APPEND, a NOOP): Dovecot gives the mailbox's value of the moment, read
 * after it gathered what to report, which may cover another client's
 * change made in between and not reported to us (found by
 * integration/concurrent for EXPUNGE and STORE; the same for APPEND and
 * NOOP, one in a hundred with another client storing every 2 ms).  A
 * SELECT's comes with the reports of everything below it; so does a
 * FETCH item's MODSEQ.  Taken for the live value only, not as what was
 * reported to us (our APPEND's may be: netc_append_hms()): the copies'
 * MODSEQs are then fetched (append.c, xfer.c X_MODSEQ), and the mailbox
 * is confirmed by a NOOP while still selected (netc_confirm()), or
 * SELECTed again (known.c, job.c).
 */
void
netc_command_hms(struct peer *p, uint64_t value)
{
	if (p->sel != NULL)
		live_hms(&p->sel->cache[p->side], value);
}

/*
 * value, the [HIGHESTMODSEQ] of the moment on mb (selected on p), taken
 * as reported to us: every change up to it was (netc_confirm(), and
 * append.c for a mailbox the job is the first to sync).
 */
void
netc_trust_hms(struct peer *p, struct mbox *mb, uint64_t value)
{
	struct msel *ms = &mb->sel[p->side];

	live_hms(&mb->cache[p->side], value);
	seen_hms(ms, value);
	ms->own = 0;
	ms->hms_ev = ++p->nev;
}

/*
 * The [HIGHESTMODSEQ] value that came with our APPEND req (untagged
 * during it, or on its tagged OK), mb selected.  Dovecot gives an
 * APPEND one MODSEQ, whatever the number of its messages (but one per
 * message when they carry keywords, and one per keyword new to the
 * mailbox); when value is what was reported to us plus one for each of
 * our APPENDs since, this one's included, nobody else changed the
 * mailbox in between, and nothing below value went unreported: taken
 * as reported, without a NOOP.  Otherwise the live value only
 * (netc_command_hms()): the copies' MODSEQs are fetched (append.c), and
 * netc_confirm() does the rest.  Never more trusted than that: a MODSEQ
 * of ours not counted costs that FETCH, not a loss.
 */
void
netc_append_hms(struct peer *p, struct req *req, uint64_t value)
{
	struct msel *ms;

	if (p->sel == NULL)
		return;
	/* An APPEND to another mailbox changes nothing here. */
	if (req->mb != p->sel) {
		netc_command_hms(p, value);
		return;
	}
	ms = &p->sel->sel[p->side];
	ms->hms_req = req->id;
	if ((ms->seen & MC_HMS) && !(req->flags & REQ_HMS_TAKEN) &&
	    value == ms->seen_hms + ms->own + 1) {
		netc_trust_hms(p, p->sel, value);
		req->flags |= REQ_HMS_TAKEN;
	} else
		netc_command_hms(p, value);
}

struct confirm {
	struct mbox	*mb;
	uint64_t	 value;
};

static void
netc_confirmed(struct req *r)
{
	struct confirm *cf = r->arg;

	if (r->status != IMAP_DONE_OK)
		netc_fail_req(r);
	/*
	 * Still selected since: the NOOP's own report went out after
	 * every change up to the value it was sent for.
	 */
	else if (r->p->sel == cf->mb)
		netc_trust_hms(r->p, cf->mb, cf->value);
	free(cf);
}

/*
 * The live HIGHESTMODSEQ of mb on p is ahead of what was reported to us
 * (a [HIGHESTMODSEQ] that came with a command of ours: our APPEND's,
 * our STORE's): while mb is selected on p, a NOOP, after which every
 * change up to that value was reported to us (Dovecot reports what
 * changed with each command's answer, its [HIGHESTMODSEQ] read after).
 * Its own [HIGHESTMODSEQ] is taken as all others.  1 if a NOOP went.
 */
int
netc_confirm(struct peer *p, struct task *t, struct mbox *mb)
{
	const struct mcache *c = &mb->cache[p->side];
	const struct msel *ms = &mb->sel[p->side];
	struct ipc_buf buf;
	struct confirm *cf;

	if (p->qsel != mb || !(c->has & MC_HMS) || !(ms->seen & MC_HMS) ||
	    c->hms <= ms->seen_hms)
		return 0;
	cf = eng_calloc(1, sizeof(*cf));
	cf->mb = mb;
	cf->value = c->hms;
	ipc_buf_init(&buf);
	(void)netc_send(p, t, IMSG_IMAP_NOOP, &buf, NULL, NULL,
	    netc_confirmed, cf);
	ipc_buf_free(&buf);
	return 1;
}

/* A response code, untagged or tagged, about the selected mailbox. */
void
netc_code(struct peer *p, uint32_t code, uint64_t value)
{
	struct mcache *c;
	struct msel *ms;
	struct req *r;

	if (code == IMAP_CODE_CLOSED) {
		/* The oldest SELECT in flight is being processed. */
		for (r = p->head; r != NULL; r = r->next)
			if (r->type == IMSG_IMAP_SELECT && !r->opened) {
				netc_open(p, r->mb);
				r->opened = 1;
				p->selected = 0;
				break;
			}
		return;
	}
	/*
	 * With no mailbox selected these codes belong to nothing; the
	 * reference panics (§9.17), we ignore them.
	 */
	if (p->sel == NULL)
		return;
	c = &p->sel->cache[p->side];
	ms = &p->sel->sel[p->side];
	switch (code) {
	case IMAP_CODE_UIDVALIDITY:
		if (value == 0 || value > UINT32_MAX)
			break;
		netc_set_uidvalidity(p, p->sel, (uint32_t)value);
		break;
	case IMAP_CODE_UIDNEXT:
		if (value > UINT32_MAX)
			break;
		c->uidnext = ms->seen_uidnext = (uint32_t)value;
		c->has |= MC_UIDNEXT;
		ms->seen |= MC_UIDNEXT;
		break;
	case IMAP_CODE_HIGHESTMODSEQ:
		if (p->head != NULL && p->head->type == IMSG_IMAP_APPEND) {
			netc_append_hms(p, p->head, value);
			break;
		}
		/*
		 * A SELECT's own, once its mailbox is the one spoken of:
		 * before its [CLOSED], a code is still about the one before.
		 */
		if (p->head == NULL || p->head->type != IMSG_IMAP_SELECT ||
		    !p->head->opened) {
			netc_command_hms(p, value);
			break;
		}
		ms->own = 0;
		c->hms = ms->seen_hms = value;
		c->has |= MC_HMS;
		ms->seen |= MC_HMS;
		ms->hms_req = p->head != NULL ? p->head->id : 0;
		ms->hms_ev = ++p->nev;
		break;
	case IMAP_CODE_NOMODSEQ:
		c->nomodseq = 1;
		break;
	case IMAP_CODE_UIDNOTSTICKY:
		c->uidnotsticky = 1;
		break;
	default:
		break;
	}
}

void
netc_exists(struct peer *p, uint32_t n)
{
	struct mcache *c;
	struct msel *ms;
	uint64_t d, a;

	if (p->sel == NULL)
		return;
	c = &p->sel->cache[p->side];
	ms = &p->sel->sel[p->side];
	if (c->has & MC_EXISTS) {
		if (n < c->exists)
			eng_fail(p->e, EXIT_PANIC, p->name,
			    p->sel->srv[p->side], "PANIC: Unexpected EXISTS "
			    "shrink %u < %u!", n, c->exists);
		if (n > c->exists) {
			/*
			 * Messages we appended ourselves are not new mail:
			 * counting them would cost a useless UID FETCH per
			 * batch (§9.6).
			 */
			d = n - c->exists;
			a = d < ms->exists_self ? d : ms->exists_self;
			ms->exists_self -= a;
			ms->newmail += d - a;
		}
	}
	c->exists = n;
	c->has |= MC_EXISTS;
}

void
netc_vanished(struct peer *p, uint32_t earlier, const char *set)
{
	struct uidranges rs = { NULL, 0, 0 };
	struct mcache *c;
	struct msel *ms;
	uint64_t cnt;
	size_t i;

	if (uidset_parse(set, &rs) == -1) {
		uidranges_free(&rs);
		eng_fail(p->e, EXIT_PANIC, p->name, p->sel ?
		    p->sel->srv[p->side] : NULL, "PANIC: Invalid VANISHED set "
		    "%s", set);
	}
	if (p->sel == NULL) {
		uidranges_free(&rs);
		return;
	}
	c = &p->sel->cache[p->side];
	ms = &p->sel->sel[p->side];
	if (!earlier)
		ms->van_ev = ++p->nev;
	for (i = 0; i < rs.n; i++) {
		if (rs.r[i].lo > rs.r[i].hi) {
			uint32_t t = rs.r[i].lo;

			rs.r[i].lo = rs.r[i].hi;
			rs.r[i].hi = t;
		}
		cnt = (uint64_t)rs.r[i].hi - rs.r[i].lo + 1;
		if (!earlier && (c->has & MC_EXISTS))
			c->exists = cnt > c->exists ? 0 :
			    c->exists - (uint32_t)cnt;
		if ((c->has & MC_UIDNEXT) && c->uidnext <= rs.r[i].hi &&
		    rs.r[i].hi < UINT32_MAX)
			c->uidnext = rs.r[i].hi + 1;
		if ((ms->seen & MC_UIDNEXT) && ms->seen_uidnext <= rs.r[i].hi &&
		    rs.r[i].hi < UINT32_MAX)
			ms->seen_uidnext = rs.r[i].hi + 1;
		uidranges_push(&ms->vanished, rs.r[i].lo, rs.r[i].hi);
	}
	uidranges_free(&rs);
}

/*
 * Is one of our metadata FETCHes (REQ_NOMOD) in flight that may be what
 * an item about uid of the selected mailbox answers?  Only a FETCH of
 * that mailbox whose UID set holds uid: the answers to our STOREs
 * (UID and MODSEQ, no FLAGS, RFC 7162 §3.1.3) look the same, and they
 * are changes to record, whatever FETCH of another mailbox a lane has
 * queued behind them.
 */
int
netc_nomod(const struct peer *p, uint32_t uid)
{
	const struct req *r;

	for (r = p->head; r != NULL; r = r->next)
		if ((r->flags & REQ_NOMOD) && r->type == IMSG_IMAP_FETCH &&
		    r->mb == p->sel && uidranges_has(&r->set, uid))
			return 1;
	return 0;
}

/*
 * A FETCH response: the live cache follows it, and one without body or
 * envelope is a flag change for the MODIFIED table.  Items after a body
 * literal (fi->cont) continue the message already handed out.
 */
void
netc_fetch_item(struct peer *p, struct fitem *fi, const struct req *owner)
{
	struct mcache *c;
	struct modent *me;
	struct msel *ms;

	if (p->sel == NULL)
		return;
	c = &p->sel->cache[p->side];
	ms = &p->sel->sel[p->side];
	if (fi->seq > 0 && (!(c->has & MC_EXISTS) || fi->seq > c->exists)) {
		c->exists = fi->seq;
		c->has |= MC_EXISTS;
	}
	if ((fi->mask & IMAP_FETCH_UID) && fi->uid > 0 &&
	    fi->uid < UINT32_MAX) {
		if (!(c->has & MC_UIDNEXT) || c->uidnext <= fi->uid) {
			c->uidnext = fi->uid + 1;
			c->has |= MC_UIDNEXT;
		}
		if (!(ms->seen & MC_UIDNEXT) || ms->seen_uidnext <= fi->uid) {
			ms->seen_uidnext = fi->uid + 1;
			ms->seen |= MC_UIDNEXT;
		}
	}
	if (fi->mask & IMAP_FETCH_MODSEQ) {
		live_hms(c, fi->modseq);
		seen_hms(ms, fi->modseq);
		p->modseq_due = 0;
	} else if (fi->mask & IMAP_FETCH_BODY)
		p->modseq_due = 1;	/* may come after the literal */
	else if (!fi->cont || p->modseq_due)
		netc_no_modseq(p);
	/*
	 * A flag change: a FETCH with a UID, without body or envelope,
	 * unless it answers one of our own metadata FETCHes (REQ_NOMOD)
	 * and carries no flags.
	 */
	if (!fi->cont && !(fi->mask & (IMAP_FETCH_BODY | IMAP_FETCH_ENVELOPE)) &&
	    (fi->mask & IMAP_FETCH_UID) && fi->uid > 0 &&
	    !(owner != NULL && (owner->flags & REQ_META)) &&
	    !(netc_nomod(p, fi->uid) &&
	    !(fi->mask & IMAP_FETCH_FLAGS))) {
		me = modtab_get(&ms->modified, fi->uid);
		if (me == NULL || me->modseq < fi->modseq ||
		    (me->modseq == fi->modseq && me->flags == NULL)) {
			modtab_put(&ms->modified, fi->uid, fi->modseq,
			    (fi->mask & IMAP_FETCH_FLAGS) && fi->flags != NULL ?
			    flags_sorted(fi->flags) : NULL);
		}
	}
}

/* The whole FETCH response lacked MODSEQ: the reference panics. */
void
netc_no_modseq(struct peer *p)
{
	p->modseq_due = 0;
	if (!(p->caps & IMAP_CAP_QRESYNC))
		return;
	eng_fail(p->e, EXIT_PANIC, p->name, p->sel != NULL ?
	    p->sel->srv[p->side] : NULL, "PANIC: FETCH response without "
	    "MODSEQ with %s enabled", (p->caps & IMAP_CAP_CONDSTORE_SYNC) ?
	    "CONDSTORE" : "QRESYNC");
}

void
netc_status_item(struct peer *p, struct ipc_msg *msg)
{
	struct ans_status a;
	struct mbox *mb;
	char *sname;

	if (ans_status_item(msg, &a) == -1)
		netc_bad(p, msg, "bad layout");
	sname = eng_memdup(a.name, a.len);
	mb = mbox_by_server(p->e, p->side, sname);
	free(sname);
	if (mb == NULL)
		return;
	if (a.mask & IMAP_ST_UIDVALIDITY)
		netc_set_uidvalidity(p, mb, a.uidvalidity);
	if (a.mask & IMAP_ST_UIDNEXT) {
		mb->cache[p->side].uidnext = a.uidnext;
		mb->cache[p->side].has |= MC_UIDNEXT;
	}
	if (a.mask & IMAP_ST_HIGHESTMODSEQ) {
		mb->cache[p->side].hms = a.hms;
		mb->cache[p->side].has |= MC_HMS;
	}
}

/* The reference's checks after every command on the selected mailbox. */
void
netc_check_selected(struct peer *p)
{
	struct mcache *c;

	if (!p->selected || p->sel == NULL)
		return;
	c = &p->sel->cache[p->side];
	if (c->nomodseq)
		eng_fail(p->e, EXIT_FAIL, p->name, p->sel->srv[p->side],
		    "Mailbox %s doesn't support MODSEQ.", p->sel->srv[p->side]);
	if (c->uidnotsticky)
		eng_fail(p->e, EXIT_FAIL, p->name, p->sel->srv[p->side],
		    "Mailbox %s does not support persistent UIDs.",
		    p->sel->srv[p->side]);
}
