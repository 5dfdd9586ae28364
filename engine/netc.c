/*
 * The client side of one net peer (eng.h has the interface and its
 * ownership rules).  Requests go out with a fresh id in hdr.peerid; net
 * answers them in order, each ending with IMSG_IMAP_DONE.  Whatever the
 * server says on its own is folded here into the state of the mailbox it
 * is about, as the reference's client library does in its response
 * handler (REFERENCE-BEHAVIOUR §4.6-4.8): EXISTS and the new-mail
 * counter, VANISHED, the MODIFIED table, the live cache, and the switch
 * of mailbox at [CLOSED] or at the SELECT's answer.
 *
 * Which mailbox untagged data is about follows the response stream, not
 * what was sent: a SELECT pipelined behind other commands takes effect
 * when the server processes it ([CLOSED] comes first when a mailbox was
 * selected, RFC 7162 §3.2.11), so data of the commands before it still
 * goes to the mailbox they were about.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

static void	 netc_bad(struct peer *, struct ipc_msg *, const char *);
static void	 netc_open(struct peer *, struct mbox *);
static void	 netc_code(struct peer *, uint32_t, uint64_t);
static void	 netc_exists(struct peer *, uint32_t);
static void	 netc_vanished(struct peer *, uint32_t, const char *);
static void	 netc_fetch_item(struct peer *, struct fitem *,
		    const struct req *);
static void	 netc_no_modseq(struct peer *);
static int	 netc_nomod(const struct peer *);
static struct req *netc_owner_list(struct peer *);
static struct req *netc_owner_fetch(struct peer *, uint32_t);
static void	 netc_status_item(struct peer *, struct ipc_msg *);
static void	 netc_done(struct peer *, struct ipc_msg *);
static void	 netc_check_selected(struct peer *);
static void	 netc_unselected(struct peer *);
static int	 flag_cmp(const void *, const void *);
static const char *netc_status_name(uint32_t);

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

static void
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
	return r;
}

void
netc_send_more(struct peer *p, struct req *r, uint32_t type, const void *data,
    size_t len)
{
	if (ipc_compose(p->chan, type, r->id, -1, data, len) == -1)
		fatalx(EXIT_CHILD, "engine: %s", p->chan->err);
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

/* ------------------------------------------------------------------ */
/* Flags. */

static int
flag_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits s at spaces into a new array of pointers into copy (caller). */
static char **
flags_split(const char *s, char **copy, size_t *n)
{
	char **v, *p, *tok;
	size_t cap = 8;

	*copy = eng_strdup(s);
	v = eng_reallocarray(NULL, cap, sizeof(*v));
	*n = 0;
	for (p = *copy; (tok = strsep(&p, " ")) != NULL;) {
		if (*tok == '\0')
			continue;
		if (*n == cap) {
			cap *= 2;
			v = eng_reallocarray(v, cap, sizeof(*v));
		}
		v[(*n)++] = tok;
	}
	return v;
}

static char *
flags_join(char **v, size_t n, int uniq)
{
	struct sbuf b = { NULL, 0, 0 };
	size_t i;

	eng_sort(v, n, sizeof(*v), flag_cmp);
	for (i = 0; i < n; i++) {
		if (uniq && i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (b.len > 0)
			sbuf_addc(&b, ' ');
		sbuf_adds(&b, v[i]);
	}
	return sbuf_take(&b);
}

char *
flags_sorted(const char *s)
{
	char **v, *copy, *out;
	size_t n;

	v = flags_split(s, &copy, &n);
	out = flags_join(v, n, 0);
	free(v);
	free(copy);
	return out;
}

char *
flags_union(const char *a, const char *b)
{
	char **va, **vb, *ca, *cb, *out;
	size_t na, nb;

	va = flags_split(a, &ca, &na);
	vb = flags_split(b, &cb, &nb);
	va = eng_reallocarray(va, na + nb + 1, sizeof(*va));
	memcpy(va + na, vb, nb * sizeof(*vb));
	out = flags_join(va, na + nb, 1);
	free(va);
	free(vb);
	free(ca);
	free(cb);
	return out;
}

/* ------------------------------------------------------------------ */
/* State. */

/*
 * The server now speaks of mb (the reference's _open_mailbox()).  What
 * was reported about mb earlier and not yet consumed stays: its job
 * still needs it.  Only EXISTS starts afresh, so that the SELECT's own
 * EXISTS is not taken for new mail.
 */
static void
netc_open(struct peer *p, struct mbox *mb)
{
	p->sel = mb;
	mb->sel[p->side].exists_self = 0;
	mb->cache[p->side].has &= ~MC_EXISTS;
	mb->cache[p->side].exists = 0;
}

/* Nothing is selected any more; a SELECT in flight comes next. */
static void
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

/* A response code, untagged or tagged, about the selected mailbox. */
static void
netc_code(struct peer *p, uint32_t code, uint64_t value)
{
	struct mcache *c;
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
	switch (code) {
	case IMAP_CODE_UIDVALIDITY:
		if (value == 0 || value > UINT32_MAX)
			break;
		netc_set_uidvalidity(p, p->sel, (uint32_t)value);
		break;
	case IMAP_CODE_UIDNEXT:
		if (value > UINT32_MAX)
			break;
		c->uidnext = (uint32_t)value;
		c->has |= MC_UIDNEXT;
		break;
	case IMAP_CODE_HIGHESTMODSEQ:
		c->hms = value;
		c->has |= MC_HMS;
		p->sel->sel[p->side].hms_req = p->head != NULL ?
		    p->head->id : 0;
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

static void
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

static void
netc_vanished(struct peer *p, uint32_t earlier, const char *set)
{
	struct uidranges rs = { NULL, 0, 0 };
	struct mcache *c;
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
		uidranges_push(&p->sel->sel[p->side].vanished, rs.r[i].lo,
		    rs.r[i].hi);
	}
	uidranges_free(&rs);
}

/* Is one of our metadata FETCHes (REQ_NOMOD) in flight? */
static int
netc_nomod(const struct peer *p)
{
	const struct req *r;

	for (r = p->head; r != NULL; r = r->next)
		if (r->flags & REQ_NOMOD)
			return 1;
	return 0;
}

/* The LIST in flight that collects items: the oldest. */
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

/*
 * A FETCH response: the live cache follows it, and one without body or
 * envelope is a flag change for the MODIFIED table.  Items after a body
 * literal (fi->cont) continue the message already handed out.
 */
static void
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
	if ((fi->mask & IMAP_FETCH_UID) && fi->uid > 0) {
		if ((!(c->has & MC_UIDNEXT) || c->uidnext <= fi->uid) &&
		    fi->uid < UINT32_MAX) {
			c->uidnext = fi->uid + 1;
			c->has |= MC_UIDNEXT;
		}
	}
	if (fi->mask & IMAP_FETCH_MODSEQ) {
		if (!(c->has & MC_HMS) || c->hms < fi->modseq) {
			c->hms = fi->modseq;
			c->has |= MC_HMS;
		}
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
	    !(netc_nomod(p) && !(fi->mask & IMAP_FETCH_FLAGS))) {
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
static void
netc_no_modseq(struct peer *p)
{
	p->modseq_due = 0;
	if (!(p->caps & IMAP_CAP_QRESYNC))
		return;
	eng_fail(p->e, EXIT_PANIC, p->name, p->sel != NULL ?
	    p->sel->srv[p->side] : NULL, "PANIC: FETCH response without "
	    "MODSEQ with QRESYNC enabled");
}

static void
netc_status_item(struct peer *p, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct mbox *mb;
	const char *name;
	char *sname;
	size_t len;
	uint32_t mask, uidvalidity, uidnext;
	uint64_t hms;

	ipc_rd_init(&rd, msg);
	name = ipc_get_data(&rd, &len);
	mask = ipc_get_u32(&rd);
	uidvalidity = ipc_get_u32(&rd);
	uidnext = ipc_get_u32(&rd);
	hms = ipc_get_u64(&rd);
	(void)ipc_get_u32(&rd);
	if (ipc_rd_end(&rd) == -1 || name == NULL ||
	    memchr(name, '\0', len) != NULL)
		netc_bad(p, msg, "bad layout");
	sname = eng_memdup(name, len);
	mb = mbox_by_server(p->e, p->side, sname);
	free(sname);
	if (mb == NULL)
		return;
	if (mask & IMAP_ST_UIDVALIDITY)
		netc_set_uidvalidity(p, mb, uidvalidity);
	if (mask & IMAP_ST_UIDNEXT) {
		mb->cache[p->side].uidnext = uidnext;
		mb->cache[p->side].has |= MC_UIDNEXT;
	}
	if (mask & IMAP_ST_HIGHESTMODSEQ) {
		mb->cache[p->side].hms = hms;
		mb->cache[p->side].has |= MC_HMS;
	}
}

/* The reference's checks after every command on the selected mailbox. */
static void
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

static void
netc_done(struct peer *p, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct req *r = p->head;
	struct task *t;
	uint32_t status, code;
	char *data, *text, *end;
	unsigned long long v;

	ipc_rd_init(&rd, msg);
	status = ipc_get_u32(&rd);
	code = ipc_get_u32(&rd);
	data = ipc_get_str(&rd);
	text = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 || status > IMAP_DONE_BAD) {
		free(data);
		free(text);
		netc_bad(p, msg, "bad layout");
	}
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
		v = strtoull(data, &end, 10);
		if (*data != '\0' && *end == '\0')
			netc_code(p, code, v);
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
		if (ipc_rd_end(&rd) == -1 || p->ready)
			netc_bad(p, msg, "bad layout");
		p->ready = 1;
		run_wake(p->e);
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
		}
		break;
	case IMSG_IMAP_STATUS_ITEM:
		/* A listing collects its own; otherwise update the cache. */
		if ((r = netc_owner_list(p)) != NULL) {
			d.kind = RD_LIST;
			d.msg = msg;
			r->data(r, &d);
		} else
			netc_status_item(p, msg);
		break;
	case IMSG_IMAP_CODE:
		ipc_rd_init(&rd, msg);
		u = ipc_get_u32(&rd);
		v = ipc_get_u64(&rd);
		s = ipc_get_str(&rd);
		free(s);
		if (ipc_rd_end(&rd) == -1)
			netc_bad(p, msg, "bad layout");
		netc_code(p, u, v);
		break;
	case IMSG_IMAP_EXISTS:
		ipc_rd_init(&rd, msg);
		u = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			netc_bad(p, msg, "bad layout");
		netc_exists(p, u);
		break;
	case IMSG_IMAP_VANISHED:
		ipc_rd_init(&rd, msg);
		earlier = ipc_get_u32(&rd);
		s = ipc_get_str(&rd);
		if (ipc_rd_end(&rd) == -1 || s == NULL) {
			free(s);
			netc_bad(p, msg, "bad layout");
		}
		netc_vanished(p, earlier, s);
		free(s);
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
		}
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

struct req *
netc_select(struct peer *p, struct task *t, struct mbox *mb,
    const char *seqset, const char *uidset)
{
	struct mcache *pc = &mb->pcache[p->side];
	struct mcache *c = &mb->cache[p->side];
	struct ipc_buf buf;
	struct req *r;
	char *known;
	int qresync, none;

	if (pc->has & MC_UIDVALIDITY) {
		c->uidvalidity = pc->uidvalidity;
		c->has |= MC_UIDVALIDITY;
	}
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
	return r;
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
