/*
 * The client side of one net peer (eng.h has the interface and its
 * ownership rules).  Requests go out with a fresh id in hdr.peerid; net
 * answers them in order, each ending with IMSG_IMAP_DONE.  Data that
 * belongs to a request (LIST items, FETCH items and bodies) goes to its
 * callback; whatever the server says on its own is folded, by
 * netc_state.c, into the state of the mailbox it is about.
 *
 * Which mailbox untagged data is about follows the response stream, not
 * what was sent: a SELECT pipelined behind other commands takes effect
 * when the server processes it ([CLOSED] comes first when a mailbox was
 * selected, RFC 7162 §3.2.11), so data of the commands before it still
 * goes to the mailbox they were about.
 */
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "eng.h"
#include "netc_int.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

static struct req *netc_owner_list(struct peer *);
static int	 netc_resting(const struct peer *);
static struct req *netc_owner_fetch(struct peer *, uint32_t);
static void	 netc_done(struct peer *, struct ipc_msg *);
static const char *netc_status_name(uint32_t);
static struct req *netc_select_from(struct peer *, struct task *,
	    struct mbox *, const struct mcache *, const char *, const char *);

void
netc_init(struct peer *p, struct eng *e, uint32_t side, struct ipc_chan *c)
{
	memset(p, 0, sizeof(*p));
	p->e = e;
	p->side = side;
	p->name = side == SIDE_LOCAL ? "local" : "remote";
	p->chan = c;
	p->next_id = 1;
	p->delim = -1;
}

static void
req_free(struct req *r)
{
	if (r == NULL)
		return;
	free(r->codedata);
	free(r->text);
	uidranges_free(&r->set);
	free(r);
}

void
netc_free(struct peer *p)
{
	struct req *r, *next;

	for (r = p->head; r != NULL; r = next) {
		next = r->next;
		req_free(r);
	}
	p->head = p->tail = NULL;
}

void
netc_bad(struct peer *p, struct ipc_msg *msg, const char *why)
{
	log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message (%s) "
	    "from net(%s): %s", ipc_type_name(msg->hdr.type), p->name, why);
	eng_exit(p->e, EXIT_CHILD);
}

struct req *
netc_send(struct peer *p, struct task *t, uint32_t type, struct ipc_buf *buf,
    struct mbox *mb, req_data_cb *data, req_done_cb *done, void *arg)
{
	struct req *r;

	/*
	 * A job's command on a connection another job has SELECTed since
	 * (jobs sharing a lane, lease.c): its mailbox first
	 * (netc_reselect()), so that what changed meanwhile is reported to
	 * it, and the answers (APPENDUID, [HIGHESTMODSEQ], EXISTS) are
	 * about it.  Never so when one job at a time holds the connection.
	 */
	if (mb != NULL && mb->job != NULL && p->qsel != mb &&
	    (type == IMSG_IMAP_FETCH || type == IMSG_IMAP_STORE ||
	    type == IMSG_IMAP_EXPUNGE || type == IMSG_IMAP_APPEND)) {
		netc_reselect(p, t, mb, "for the job's next command");
	}
	/* Nothing can go between an APPEND's messages (job.c waits). */
	if (p->appending != NULL)
		fatalx(EXIT_CHILD, "engine: internal error: %s request for "
		    "%s inside an APPEND batch to %s", ipc_type_name(type),
		    mb != NULL ? mb->pretty : "no mailbox",
		    p->appending->mb != NULL ? p->appending->mb->pretty : "?");
	r = eng_calloc(1, sizeof(*r));
	r->p = p;
	r->t = t;
	r->id = p->next_id++;
	if (p->next_id == 0)
		p->next_id = 1;		/* 0 means "no request" */
	r->type = type;
	r->mb = mb;
	r->data = data;
	r->done = done;
	r->arg = arg;
	if (ipc_send(p->chan, type, r->id, -1, buf) == -1)
		fatalx(EXIT_CHILD, "engine: %s", p->chan->err);
	if (p->tail != NULL)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	p->inflight++;
	if (t != NULL)
		task_hold(t);
	if (type == IMSG_IMAP_APPEND)
		p->appending = r;
	return r;
}

void
netc_done_ok(struct req *r)
{
	if (r->status != IMAP_DONE_OK)
		netc_fail_req(r);
}

void
netc_send_more(struct peer *p, struct req *r, uint32_t type, const void *data,
    size_t len)
{
	if (ipc_compose(p->chan, type, r->id, -1, data, len) == -1)
		fatalx(EXIT_CHILD, "engine: %s", p->chan->err);
	if (type == IMSG_IMAP_APPEND_END && p->appending == r) {
		p->appending = NULL;
		lease_batch_closed(p->e);
	}
}

static const char *
netc_status_name(uint32_t status)
{
	switch (status) {
	case IMAP_DONE_OK:
		return "OK";
	case IMAP_DONE_NO:
		return "NO";
	default:
		return "BAD";
	}
}

const char *
netc_req_mbox(const struct req *r)
{
	/* While a SELECT is in flight no mailbox is selected (§4.8). */
	if (r->type == IMSG_IMAP_SELECT || r->mb == NULL)
		return NULL;
	return r->mb->srv[r->p->side];
}

void
netc_fail_req(struct req *r)
{
	eng_fail(r->p->e, EXIT_FAIL, r->p->name, netc_req_mbox(r), "%s %s",
	    netc_status_name(r->status), r->text ? r->text : "");
}

/* The LIST in flight that collects items: the oldest. */
/*
 * Nothing of ours in flight but an IDLE: what the server says now, it
 * says of its own accord (--notify's events).
 */
static int
netc_resting(const struct peer *p)
{
	return p->head == NULL || (p->head->type == IMSG_IMAP_IDLE &&
	    p->head->next == NULL);
}

static struct req *
netc_owner_list(struct peer *p)
{
	struct req *r;

	for (r = p->head; r != NULL; r = r->next)
		if (r->type == IMSG_IMAP_LIST && r->data != NULL)
			return r;
	return NULL;
}

/*
 * The request a FETCH item belongs to.  net stamps untagged data with
 * the oldest request in flight, but a server may answer pipelined
 * commands out of order (Dovecot sends a FETCH's bodies before the
 * tagged OK of the STORE sent before it), and flag changes of other
 * sessions or of our STOREs come as FETCH items too: an item goes to the
 * oldest FETCH in flight about the mailbox it is about whose UID set
 * holds its UID (any such FETCH if the UID comes later).
 */
static struct req *
netc_owner_fetch(struct peer *p, uint32_t uid)
{
	struct req *r;

	for (r = p->head; r != NULL; r = r->next) {
		if (r->type != IMSG_IMAP_FETCH || r->data == NULL ||
		    r->mb != p->sel)
			continue;
		if (uid == 0 || uidranges_has(&r->set, uid))
			return r;
	}
	return NULL;
}

static void
netc_done(struct peer *p, struct ipc_msg *msg)
{
	struct ans_done a;
	struct req *r = p->head;
	struct task *t;
	uint32_t status, code;
	char *data, *text;
	uint64_t v;

	if (ans_imap_done(msg, &a) == -1)
		netc_bad(p, msg, "bad layout");
	status = a.status;
	code = a.code;
	data = a.data;
	text = a.text;
	if (r == NULL || r->id != msg->hdr.peerid) {
		free(data);
		free(text);
		netc_bad(p, msg, "answer to no request in flight");
	}
	p->head = r->next;
	if (p->head == NULL)
		p->tail = NULL;
	p->inflight--;
	r->next = NULL;
	r->status = status;
	r->code = code;
	r->codedata = data;
	r->text = text;
	if (p->body_req == r)
		p->body_req = NULL;

	if (r->type == IMSG_IMAP_SELECT) {
		if (!r->opened) {
			/* No [CLOSED] came: the switch happens now. */
			netc_open(p, r->mb);
			r->opened = 1;
		}
	}
	/* The tagged response's code is processed like an untagged one. */
	if ((code == IMAP_CODE_UIDVALIDITY || code == IMAP_CODE_UIDNEXT ||
	    code == IMAP_CODE_HIGHESTMODSEQ) && data != NULL) {
		if (ans_code_number(data, &v) != 0)
			;
		else if (code == IMAP_CODE_HIGHESTMODSEQ &&
		    r->type == IMSG_IMAP_APPEND)
			/* Its own, not the next one's (head moved on). */
			netc_append_hms(p, r, v);
		else if (code == IMAP_CODE_HIGHESTMODSEQ &&
		    r->type != IMSG_IMAP_SELECT)
			netc_command_hms(p, v);
		else {
			netc_code(p, code, v);
			if (code == IMAP_CODE_HIGHESTMODSEQ && p->sel != NULL)
				p->sel->sel[p->side].hms_req = r->id;
		}
	} else if (code == IMAP_CODE_NOMODSEQ ||
	    code == IMAP_CODE_UIDNOTSTICKY)
		netc_code(p, code, 0);

	if (r->type == IMSG_IMAP_SELECT) {
		if (status == IMAP_DONE_OK)
			p->selected = 1;
		else {
			/* A failed SELECT leaves nothing selected. */
			if (p->qsel == r->mb)
				p->qsel = NULL;
			netc_unselected(p);
		}
	} else if (r->type == IMSG_IMAP_UNSELECT && status == IMAP_DONE_OK)
		netc_unselected(p);
	if (status == IMAP_DONE_OK)
		netc_check_selected(p);
	t = r->t;
	if (r->done != NULL)
		r->done(r);
	req_free(r);
	if (t != NULL)
		task_release(t);
}

void
netc_dispatch(struct peer *p, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct rdata d;
	struct fitem fi;
	struct req *r = p->head;
	uint32_t u, earlier;
	uint64_t v;
	char *s;

	if (msg->hdr.type == IMSG_IMAP_READY) {
		ipc_rd_init(&rd, msg);
		p->caps = ipc_get_u32(&rd);
		p->appendlimit = ipc_get_u64(&rd);
		if (ipc_rd_end(&rd) == -1 || p->ready)
			netc_bad(p, msg, "bad layout");
		p->ready = 1;
		run_wake(p->e);
		lease_wake(p->e);
		return;
	}
	if (!p->ready)
		netc_bad(p, msg, "before IMSG_IMAP_READY");
	if (msg->hdr.peerid != 0 && (r == NULL || r->id != msg->hdr.peerid))
		netc_bad(p, msg, "answer to no request in flight");

	memset(&d, 0, sizeof(d));
	switch (msg->hdr.type) {
	case IMSG_IMAP_DONE:
		if (p->modseq_due)
			netc_no_modseq(p);
		netc_done(p, msg);
		return;
	case IMSG_IMAP_LIST_ITEM:
		if ((r = netc_owner_list(p)) != NULL) {
			d.kind = RD_LIST;
			d.msg = msg;
			r->data(r, &d);
		} else
			run_notified(p->e);	/* a mailbox event */
		break;
	case IMSG_IMAP_STATUS_ITEM:
		/* A listing collects its own; otherwise update the cache. */
		if ((r = netc_owner_list(p)) != NULL) {
			d.kind = RD_LIST;
			d.msg = msg;
			r->data(r, &d);
		} else {
			netc_status_item(p, msg);
			run_notified(p->e);
		}
		break;
	case IMSG_IMAP_CODE:
		if (ans_imap_code(msg, &u, &v) == -1)
			netc_bad(p, msg, "bad layout");
		netc_code(p, u, v);
		break;
	case IMSG_IMAP_EXISTS:
		ipc_rd_init(&rd, msg);
		u = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			netc_bad(p, msg, "bad layout");
		netc_exists(p, u);
		if (netc_resting(p))
			run_notified(p->e);
		break;
	case IMSG_IMAP_VANISHED:
		if (ans_vanished(msg, &earlier, &s) == -1)
			netc_bad(p, msg, "bad layout");
		netc_vanished(p, earlier, s);
		free(s);
		if (netc_resting(p))
			run_notified(p->e);
		break;
	case IMSG_IMAP_FETCH_ITEM:
		if (fitem_decode(msg, &fi) == -1)
			netc_bad(p, msg, "bad layout");
		if (p->body_open) {
			fitem_free(&fi);
			netc_bad(p, msg, "FETCH item inside a body");
		}
		if (p->modseq_due && !fi.cont)
			netc_no_modseq(p);
		if (fi.cont) {
			/* The rest of the message the body belonged to. */
			r = p->body_req;
		} else {
			r = netc_owner_fetch(p, (fi.mask & IMAP_FETCH_UID) ?
			    fi.uid : 0);
			if (fi.mask & IMAP_FETCH_BODY) {
				p->body_req = r;
				p->body_open = 1;
			}
		}
		netc_fetch_item(p, &fi, r);
		if (r != NULL) {
			d.kind = RD_ITEM;
			d.fi = &fi;
			r->data(r, &d);
		} else if (netc_resting(p))
			run_notified(p->e);
		fitem_free(&fi);
		break;
	case IMSG_IMAP_BODY_DATA:
		if (!p->body_open)
			netc_bad(p, msg, "body data outside a body");
		if ((r = p->body_req) != NULL) {
			d.kind = RD_BODY;
			d.data = msg->data;
			d.len = msg->len;
			r->data(r, &d);
		}
		break;
	case IMSG_IMAP_BODY_END:
		ipc_rd_init(&rd, msg);
		u = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			netc_bad(p, msg, "bad layout");
		if (!p->body_open)
			netc_bad(p, msg, "body end outside a body");
		p->body_open = 0;
		if ((r = p->body_req) != NULL) {
			d.kind = RD_END;
			d.uid = u;
			r->data(r, &d);
		}
		return;
	default:
		netc_bad(p, msg, "not expected from a net");
	}
}

/* ------------------------------------------------------------------ */
/* Commands. */

/* SELECT mb, with QRESYNC from *pc (when complete) and the sample. */
static struct req *
netc_select_from(struct peer *p, struct task *t, struct mbox *mb,
    const struct mcache *pc, const char *seqset, const char *uidset)
{
	struct ipc_buf buf;
	struct req *r;
	char *known;
	int qresync, none;

	qresync = (p->caps & IMAP_CAP_QRESYNC) && (pc->has & MC_HMS) &&
	    pc->hms > 0 && (pc->has & MC_UIDNEXT) && pc->uidnext > 1 &&
	    (pc->has & MC_UIDVALIDITY);
	ipc_buf_init(&buf);
	ipc_put_data(&buf, mb->srv[p->side], strlen(mb->srv[p->side]));
	ipc_put_u32(&buf, qresync ? IMAP_SEL_QRESYNC : 0);
	if (qresync) {
		ipc_put_u32(&buf, pc->uidvalidity);
		ipc_put_u64(&buf, pc->hms);
		known = uid_range_str(1, pc->uidnext - 1);
		ipc_put_str(&buf, known);
		free(known);
		ipc_put_str(&buf, seqset && uidset ? seqset : "");
		ipc_put_str(&buf, seqset && uidset ? uidset : "");
	}
	/* Nothing selected when the server gets to it: no [CLOSED]. */
	none = p->qsel == NULL && p->sel == NULL;
	r = netc_send(p, t, IMSG_IMAP_SELECT, &buf, mb, NULL, NULL, NULL);
	ipc_buf_free(&buf);
	p->qsel = mb;
	if (none) {
		netc_open(p, mb);
		r->opened = 1;
	}
	if (mb->job != NULL)
		lease_selected(mb->job, p->side);
	return r;
}

struct req *
netc_select(struct peer *p, struct task *t, struct mbox *mb,
    const char *seqset, const char *uidset)
{
	struct mcache *pc = &mb->pcache[p->side];
	struct mcache *c = &mb->cache[p->side];

	if (pc->has & MC_UIDVALIDITY) {
		c->uidvalidity = pc->uidvalidity;
		c->has |= MC_UIDVALIDITY;
	}
	return netc_select_from(p, t, mb, pc, seqset, uidset);
}

/*
 * SELECT mb for its job's next command, another mailbox having been
 * selected since (jobs sharing a lane, lease.c), or for its
 * HIGHESTMODSEQ (known.c).  Once the job has had it
 * selected there, from what it last saw of it while it was selected
 * (msel.seen: what changed up to those was reported to it then and is
 * kept in mb->sel; not the live values, which a NOTIFY STATUS or the
 * [HIGHESTMODSEQ] of our UID EXPUNGE or STORE may have raised since),
 * so that only what changed since is reported, and not its own STOREs
 * and copies again; the first time, as J_SELECT.
 */
void
netc_reselect(struct peer *p, struct task *t, struct mbox *mb,
    const char *why)
{
	const struct mcache *c = &mb->cache[p->side];
	const struct mcache *pc = &mb->pcache[p->side];
	const struct msel *ms = &mb->sel[p->side];
	struct mcache from;
	struct req *r;

	log_msg(LOG_LVL_DEBUG, p->name, mb->srv[p->side], "SELECT again %s",
	    why);
	memset(&from, 0, sizeof(from));
	from.has = (c->has & MC_UIDVALIDITY) | ms->seen;
	from.uidvalidity = c->uidvalidity;
	/* Every UID below the synchronised UIDNEXT is known too. */
	from.uidnext = (pc->has & MC_UIDNEXT) &&
	    pc->uidnext > ms->seen_uidnext ? pc->uidnext : ms->seen_uidnext;
	from.hms = ms->seen_hms;
	if (mb->job->started[p->side] &&
	    (from.has & (MC_UIDVALIDITY | MC_UIDNEXT | MC_HMS)) ==
	    (MC_UIDVALIDITY | MC_UIDNEXT | MC_HMS) &&
	    (pc->has & MC_UIDVALIDITY) &&
	    from.uidvalidity == pc->uidvalidity &&
	    (!(pc->has & MC_HMS) || from.hms >= pc->hms))
		r = netc_select_from(p, t, mb, &from, NULL, NULL);
	else
		r = netc_select(p, t, mb, NULL, NULL);
	r->done = netc_done_ok;
}

/* The id of the last request sent to p, once one was (0 is skipped). */
uint32_t
netc_last_id(const struct peer *p)
{
	return p->next_id == 1 ? UINT32_MAX : p->next_id - 1;
}

struct req *
netc_fetch(struct peer *p, struct task *t, struct mbox *mb, const char *set,
    uint32_t items, int flags, req_data_cb *data, req_done_cb *done,
    void *arg)
{
	struct ipc_buf buf;
	struct req *r;

	ipc_buf_init(&buf);
	ipc_put_str(&buf, set);
	ipc_put_u32(&buf, items);
	ipc_put_u64(&buf, 0);
	r = netc_send(p, t, IMSG_IMAP_FETCH, &buf, mb, data, done, arg);
	ipc_buf_free(&buf);
	r->flags = flags;
	if (uidset_parse(set, &r->set) == -1)
		fatalx(EXIT_CHILD, "engine: internal error: bad UID set %s",
		    set);
	uidranges_normalize(&r->set);
	return r;
}

struct req *
netc_mailbox_op(struct peer *p, struct task *t, uint32_t op,
    const char *name, const char *newname, req_done_cb *done, void *arg)
{
	struct ipc_buf buf;
	struct req *r;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, op);
	ipc_put_data(&buf, name, strlen(name));
	ipc_put_data(&buf, newname, newname ? strlen(newname) : 0);
	r = netc_send(p, t, IMSG_IMAP_MAILBOX, &buf, NULL, NULL, done, arg);
	ipc_buf_free(&buf);
	return r;
}

struct req *
netc_list(struct peer *p, struct task *t, uint32_t flags,
    const char *selopts, const char *ref, char *const *patterns,
    size_t npatterns, req_data_cb *data, req_done_cb *done, void *arg)
{
	struct ipc_buf buf;
	struct req *r;
	size_t i;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, flags);
	ipc_put_str(&buf, selopts ? selopts : "");
	ipc_put_data(&buf, ref, strlen(ref));
	ipc_put_u32(&buf, (uint32_t)npatterns);
	for (i = 0; i < npatterns; i++)
		ipc_put_data(&buf, patterns[i], strlen(patterns[i]));
	r = netc_send(p, t, IMSG_IMAP_LIST, &buf, NULL, data, done, arg);
	ipc_buf_free(&buf);
	return r;
}
