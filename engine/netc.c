/*
 * The client side of one net peer (eng.h has the interface and its
 * ownership rules).  Requests go out with a fresh id in hdr.peerid; net
 * answers them in order, each ending with IMSG_IMAP_DONE.  Whatever the
 * server says on its own is folded into the peer's state here, as the
 * reference's client library does in its response handler (REFERENCE-
 * BEHAVIOUR §4.6-4.8): EXISTS and the new-mail counter, VANISHED, the
 * MODIFIED table, the live cache of the selected mailbox and the
 * deferred switch of mailbox on [CLOSED].
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

static void	 netc_bad(struct peer *, struct ipc_msg *, const char *);
static void	 netc_open_mailbox(struct peer *, struct mbox *);
static void	 netc_code(struct peer *, uint32_t, uint64_t);
static void	 netc_exists(struct peer *, uint32_t);
static void	 netc_vanished(struct peer *, uint32_t, const char *);
static int	 netc_fetch_item(struct peer *, struct ipc_msg *);
static int	 netc_nomod(const struct peer *);
static struct req *netc_owner(struct peer *, uint32_t);
static void	 netc_status_item(struct peer *, struct ipc_msg *);
static void	 netc_done(struct peer *, struct ipc_msg *);
static void	 netc_check_selected(struct peer *);
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

void
netc_free(struct peer *p)
{
	struct req *r, *next;

	for (r = p->head; r != NULL; r = next) {
		next = r->next;
		netc_req_free(r);
	}
	p->head = p->tail = NULL;
	uidranges_free(&p->vanished);
	modtab_free(&p->modified);
}

const char *
netc_mbox(const struct peer *p)
{
	if (!p->selected || p->sel == NULL)
		return NULL;
	return p->sel->srv[p->side];
}

static void
netc_bad(struct peer *p, struct ipc_msg *msg, const char *why)
{
	log_msg(LOG_LVL_ERROR, "", NULL, "ERROR: broken IPC message (%s) "
	    "from net(%s): %s", ipc_type_name(msg->hdr.type), p->name, why);
	eng_exit(p->e, EXIT_CHILD);
}

struct req *
netc_send(struct peer *p, uint32_t type, struct ipc_buf *buf, req_cb *cb,
    req_done_cb *on_done, void *arg, int flags)
{
	struct req *r;

	r = eng_calloc(1, sizeof(*r));
	r->p = p;
	r->id = p->next_id++;
	if (p->next_id == 0)
		p->next_id = 1;		/* 0 means "no request" */
	r->type = type;
	r->cb = cb;
	r->on_done = on_done;
	r->arg = arg;
	r->flags = flags;
	if (ipc_send(p->chan, type, r->id, -1, buf) == -1)
		fatalx(EXIT_FAIL, "engine: %s", p->chan->err);
	if (p->tail != NULL)
		p->tail->next = r;
	else
		p->head = r;
	p->tail = r;
	p->inflight++;
	return r;
}

void
netc_send_more(struct peer *p, struct req *r, uint32_t type, const void *data,
    size_t len)
{
	if (ipc_compose(p->chan, type, r->id, -1, data, len) == -1)
		fatalx(EXIT_FAIL, "engine: %s", p->chan->err);
}

void
netc_wait(struct req *r)
{
	while (!r->done)
		eng_poll(r->p->e);
}

void
netc_req_free(struct req *r)
{
	if (r == NULL)
		return;
	free(r->codedata);
	free(r->text);
	free(r);
}

void
netc_wait_all(struct eng *e)
{
	while (e->peer[SIDE_LOCAL].head != NULL ||
	    e->peer[SIDE_REMOTE].head != NULL)
		eng_poll(e);
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

void
netc_fail_req(struct peer *p, struct req *r)
{
	eng_fail(p->e, EXIT_FAIL, p->name, netc_mbox(p), "%s %s",
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

/* The reference's _open_mailbox(): a fresh selection. */
static void
netc_open_mailbox(struct peer *p, struct mbox *mb)
{
	uidranges_free(&p->vanished);
	modtab_clear(&p->modified);
	p->newmail = 0;
	p->exists_self = 0;
	p->sel = mb;
	mb->cache[p->side].has &= ~MC_EXISTS;
	mb->cache[p->side].exists = 0;
}

void
netc_set_uidvalidity(struct peer *p, struct mbox *mb, uint32_t v)
{
	struct mcache *c = &mb->cache[p->side];
	struct mcache *pc = &mb->pcache[p->side];

	if ((c->has & MC_UIDVALIDITY) && c->uidvalidity != v)
		eng_fail(p->e, EXIT_FAIL, p->name, netc_mbox(p),
		    "UIDVALIDITY changed! (%u != %u)  Need to invalidate "
		    "the UID cache for %s.", c->uidvalidity, v,
		    mb->srv[p->side] ? mb->srv[p->side] : "");
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
			eng_fail(p->e, EXIT_FAIL, p->name, netc_mbox(p),
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
		log_msg(LOG_LVL_DEBUG, p->name, netc_mbox(p),
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
 * The reference's is_dirty(): pending new mail on the connection, or
 * UIDNEXT/HIGHESTMODSEQ unknown or different from the last synced state.
 */
int
netc_is_dirty(struct peer *p, struct mbox *mb)
{
	struct mcache *c = &mb->cache[p->side];
	struct mcache *pc = &mb->pcache[p->side];

	if (p->newmail > 0)
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

	if (code == IMAP_CODE_CLOSED) {
		if (p->sel_delayed != NULL) {
			netc_open_mailbox(p, p->sel_delayed);
			p->sel_delayed = NULL;
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
	uint64_t d, a;

	if (p->sel == NULL)
		return;
	c = &p->sel->cache[p->side];
	if (c->has & MC_EXISTS) {
		if (n < c->exists)
			eng_fail(p->e, EXIT_PANIC, p->name, netc_mbox(p),
			    "PANIC: Unexpected EXISTS shrink %u < %u!", n,
			    c->exists);
		if (n > c->exists) {
			/*
			 * Messages we appended ourselves are not new mail:
			 * counting them would cost a useless UID FETCH per
			 * batch (§9.6).
			 */
			d = n - c->exists;
			a = d < p->exists_self ? d : p->exists_self;
			p->exists_self -= a;
			p->newmail += d - a;
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
		eng_fail(p->e, EXIT_PANIC, p->name, netc_mbox(p),
		    "PANIC: Invalid VANISHED set %s", set);
	}
	if (p->sel == NULL) {
		uidranges_free(&rs);
		return;
	}
	c = &p->sel->cache[p->side];
	for (i = 0; i < rs.n; i++) {
		cnt = (uint64_t)rs.r[i].hi - rs.r[i].lo + 1;
		if (!earlier && (c->has & MC_EXISTS))
			c->exists = cnt > c->exists ? 0 :
			    c->exists - (uint32_t)cnt;
		if ((c->has & MC_UIDNEXT) && c->uidnext <= rs.r[i].hi &&
		    rs.r[i].hi < UINT32_MAX)
			c->uidnext = rs.r[i].hi + 1;
		uidranges_push(&p->vanished, rs.r[i].lo, rs.r[i].hi);
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

/*
 * The request a piece of data belongs to.  net stamps untagged data
 * with the oldest request in flight, but a server may answer pipelined
 * commands out of order (Dovecot sends a FETCH's bodies before the
 * tagged OK of the STORE sent before it): data goes to the oldest
 * request in flight that takes this kind of data.
 */
static struct req *
netc_owner(struct peer *p, uint32_t type)
{
	struct req *r;

	for (r = p->head; r != NULL; r = r->next) {
		if (r->cb == NULL)
			continue;
		if (type == IMSG_IMAP_LIST_ITEM ||
		    type == IMSG_IMAP_STATUS_ITEM) {
			if (r->type == IMSG_IMAP_LIST)
				return r;
		} else if (r->type == IMSG_IMAP_FETCH)
			return r;
	}
	return NULL;
}

/*
 * A FETCH response: the live cache follows it, and one without body or
 * envelope is a flag change for the MODIFIED table.  Returns 1 if it
 * continues the previous body (items after the literal).
 */
static int
netc_fetch_item(struct peer *p, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct mcache *c;
	struct modent *me;
	uint32_t seq, uid, mask;
	uint64_t modseq, size;
	char *flags, *date, *env;
	int cont;

	ipc_rd_init(&rd, msg);
	seq = ipc_get_u32(&rd);
	uid = ipc_get_u32(&rd);
	modseq = ipc_get_u64(&rd);
	mask = ipc_get_u32(&rd);
	flags = ipc_get_str(&rd);
	date = ipc_get_str(&rd);
	size = ipc_get_u64(&rd);
	env = ipc_get_str(&rd);
	free(date);
	free(env);
	(void)size;
	if (ipc_rd_end(&rd) == -1) {
		free(flags);
		netc_bad(p, msg, "bad layout");
	}
	cont = p->body_uid != 0 && !(mask & IMAP_FETCH_BODY) &&
	    (!(mask & IMAP_FETCH_UID) || uid == p->body_uid);
	if (p->sel == NULL) {
		free(flags);
		return cont;
	}
	c = &p->sel->cache[p->side];
	if (seq > 0 && (!(c->has & MC_EXISTS) || seq > c->exists)) {
		c->exists = seq;
		c->has |= MC_EXISTS;
	}
	if ((mask & IMAP_FETCH_UID) && uid > 0) {
		if ((!(c->has & MC_UIDNEXT) || c->uidnext <= uid) &&
		    uid < UINT32_MAX) {
			c->uidnext = uid + 1;
			c->has |= MC_UIDNEXT;
		}
	}
	if (mask & IMAP_FETCH_MODSEQ) {
		if (!(c->has & MC_HMS) || c->hms < modseq) {
			c->hms = modseq;
			c->has |= MC_HMS;
		}
	} else if (!cont && (p->caps & IMAP_CAP_QRESYNC)) {
		free(flags);
		eng_fail(p->e, EXIT_PANIC, p->name, netc_mbox(p),
		    "PANIC: FETCH response without MODSEQ with QRESYNC "
		    "enabled");
	}
	/*
	 * A flag change: a FETCH with a UID, without body or envelope,
	 * unless it answers one of our own metadata FETCHes (REQ_NOMOD)
	 * and carries no flags.
	 */
	if (!cont && !(mask & (IMAP_FETCH_BODY | IMAP_FETCH_ENVELOPE)) &&
	    (mask & IMAP_FETCH_UID) && uid > 0 &&
	    !(netc_nomod(p) && !(mask & IMAP_FETCH_FLAGS))) {
		me = modtab_get(&p->modified, uid);
		if (me == NULL || me->modseq < modseq ||
		    (me->modseq == modseq && me->flags == NULL)) {
			modtab_put(&p->modified, uid, modseq,
			    (mask & IMAP_FETCH_FLAGS) && flags != NULL ?
			    flags_sorted(flags) : NULL);
		}
	}
	free(flags);
	return cont;
}

static void
netc_status_item(struct peer *p, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct mbox *mb;
	const char *name;
	char *sname;
	size_t len;
	uint32_t mask, uidvalidity, uidnext, messages;
	uint64_t hms;

	ipc_rd_init(&rd, msg);
	name = ipc_get_data(&rd, &len);
	mask = ipc_get_u32(&rd);
	uidvalidity = ipc_get_u32(&rd);
	uidnext = ipc_get_u32(&rd);
	hms = ipc_get_u64(&rd);
	messages = ipc_get_u32(&rd);
	(void)messages;
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
		eng_fail(p->e, EXIT_FAIL, p->name, netc_mbox(p),
		    "Mailbox %s doesn't support MODSEQ.", p->sel->srv[p->side]);
	if (c->uidnotsticky)
		eng_fail(p->e, EXIT_FAIL, p->name, netc_mbox(p),
		    "Mailbox %s does not support persistent UIDs.",
		    p->sel->srv[p->side]);
}

static void
netc_done(struct peer *p, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct req *r = p->head;
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
	r->done = 1;

	/* The tagged response's code is processed like an untagged one. */
	if ((code == IMAP_CODE_UIDVALIDITY || code == IMAP_CODE_UIDNEXT ||
	    code == IMAP_CODE_HIGHESTMODSEQ) && data != NULL) {
		v = strtoull(data, &end, 10);
		if (*data != '\0' && *end == '\0')
			netc_code(p, code, v);
	} else if (code == IMAP_CODE_NOMODSEQ ||
	    code == IMAP_CODE_UIDNOTSTICKY || code == IMAP_CODE_CLOSED)
		netc_code(p, code, 0);

	if (r->type == IMSG_IMAP_SELECT) {
		if (p->sel_delayed != NULL) {
			/* No [CLOSED] came: switch now. */
			netc_open_mailbox(p, p->sel_delayed);
			p->sel_delayed = NULL;
		}
		if (status == IMAP_DONE_OK)
			p->selected = 1;
	} else if (r->type == IMSG_IMAP_UNSELECT && status == IMAP_DONE_OK) {
		p->selected = 0;
		p->sel = NULL;
		uidranges_free(&p->vanished);
		modtab_clear(&p->modified);
		p->newmail = 0;
	}
	if (status == IMAP_DONE_OK)
		netc_check_selected(p);
	if (r->on_done != NULL)
		r->on_done(p, r);
	if (r->flags & REQ_AUTOFREE)
		netc_req_free(r);
}

void
netc_dispatch(struct peer *p, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct req *r = p->head;
	uint32_t u, earlier;
	uint64_t v;
	char *s;
	int cont = 0, was_body = 0;

	if (msg->hdr.type == IMSG_IMAP_READY) {
		ipc_rd_init(&rd, msg);
		p->caps = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			netc_bad(p, msg, "bad layout");
		p->ready = 1;
		return;
	}
	if (!p->ready)
		netc_bad(p, msg, "before IMSG_IMAP_READY");
	if (msg->hdr.peerid != 0 && (r == NULL || r->id != msg->hdr.peerid))
		netc_bad(p, msg, "answer to no request in flight");
	if (msg->hdr.peerid == 0)
		r = NULL;

	switch (msg->hdr.type) {
	case IMSG_IMAP_DONE:
		p->body_uid = 0;
		netc_done(p, msg);
		return;
	case IMSG_IMAP_LIST_ITEM:
		r = netc_owner(p, msg->hdr.type);
		break;
	case IMSG_IMAP_STATUS_ITEM:
		/* A listing collects its own; otherwise update the cache. */
		if ((r = netc_owner(p, msg->hdr.type)) == NULL)
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
		cont = netc_fetch_item(p, msg);
		r = netc_owner(p, msg->hdr.type);
		break;
	case IMSG_IMAP_BODY_DATA:
		if ((r = netc_owner(p, msg->hdr.type)) == NULL)
			netc_bad(p, msg, "body data for no FETCH");
		break;
	case IMSG_IMAP_BODY_END:
		ipc_rd_init(&rd, msg);
		u = ipc_get_u32(&rd);
		if (ipc_rd_end(&rd) == -1)
			netc_bad(p, msg, "bad layout");
		if ((r = netc_owner(p, msg->hdr.type)) == NULL)
			netc_bad(p, msg, "body end for no FETCH");
		was_body = 1;
		p->body_uid = u;
		break;
	default:
		netc_bad(p, msg, "not expected from a net");
	}
	if (!was_body && msg->hdr.type != IMSG_IMAP_BODY_DATA)
		p->body_uid = 0;
	/* A continuation is part of the body the callback already has. */
	if (cont)
		p->body_uid = 0;
	if (r != NULL && r->cb != NULL)
		r->cb(p, r, msg);
}

/* ------------------------------------------------------------------ */
/* Commands. */

struct req *
netc_select(struct peer *p, struct mbox *mb, const char *seqset,
    const char *uidset)
{
	struct mcache *pc = &mb->pcache[p->side];
	struct mcache *c = &mb->cache[p->side];
	struct ipc_buf buf;
	struct req *r;
	char *known;
	int qresync;

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
	if (p->selected && (p->caps &
	    (IMAP_CAP_CONDSTORE | IMAP_CAP_QRESYNC)))
		p->sel_delayed = mb;	/* switch on [CLOSED] */
	else
		netc_open_mailbox(p, mb);
	p->selected = 0;
	r = netc_send(p, IMSG_IMAP_SELECT, &buf, NULL, NULL, NULL, 0);
	r->mb = mb;
	ipc_buf_free(&buf);
	return r;
}

struct req *
netc_fetch(struct peer *p, const char *set, uint32_t items, req_cb *cb,
    void *arg)
{
	struct ipc_buf buf;
	struct req *r;

	ipc_buf_init(&buf);
	ipc_put_str(&buf, set);
	ipc_put_u32(&buf, items);
	ipc_put_u64(&buf, 0);
	r = netc_send(p, IMSG_IMAP_FETCH, &buf, cb, NULL, arg, 0);
	ipc_buf_free(&buf);
	return r;
}

struct req *
netc_store(struct peer *p, const char *set, uint64_t unchangedsince,
    uint32_t mode, const char *flags)
{
	struct ipc_buf buf;
	struct req *r;

	ipc_buf_init(&buf);
	ipc_put_str(&buf, set);
	ipc_put_u64(&buf, unchangedsince);
	ipc_put_u32(&buf, mode);
	ipc_put_str(&buf, flags);
	r = netc_send(p, IMSG_IMAP_STORE, &buf, NULL, NULL, NULL, 0);
	ipc_buf_free(&buf);
	return r;
}

struct req *
netc_expunge(struct peer *p, const char *set)
{
	struct ipc_buf buf;
	struct req *r;

	ipc_buf_init(&buf);
	ipc_put_str(&buf, set);
	r = netc_send(p, IMSG_IMAP_EXPUNGE, &buf, NULL, NULL, NULL, 0);
	ipc_buf_free(&buf);
	return r;
}

struct req *
netc_mailbox_op(struct peer *p, uint32_t op, const char *name,
    const char *newname)
{
	struct ipc_buf buf;
	struct req *r;

	ipc_buf_init(&buf);
	ipc_put_u32(&buf, op);
	ipc_put_data(&buf, name, strlen(name));
	ipc_put_data(&buf, newname, newname ? strlen(newname) : 0);
	r = netc_send(p, IMSG_IMAP_MAILBOX, &buf, NULL, NULL, NULL, 0);
	ipc_buf_free(&buf);
	return r;
}

struct req *
netc_list(struct peer *p, uint32_t flags, const char *selopts,
    const char *ref, char *const *patterns, size_t npatterns, req_cb *cb,
    void *arg)
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
	r = netc_send(p, IMSG_IMAP_LIST, &buf, cb, NULL, arg, 0);
	ipc_buf_free(&buf);
	return r;
}
