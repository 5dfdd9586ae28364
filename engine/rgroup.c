/*
 * Request groups (eng.h): the one place that sends a UID set.  A set is
 * cut between runs into pieces whose text fits the IPC bound
 * (RG_SET_MAX; net cuts each piece again into IMAP commands of at most
 * 4,096 bytes); each piece is one request, all pipelined, and the
 * group, itself a task, completes once every piece is answered: worst
 * status, first failure's text, [MODIFIED] sets gathered.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "imap_proto.h"
#include "log.h"
#include "proc.h"

static struct rgroup *rg_new(struct task *, struct peer *, struct mbox *,
		    rgroup_done_cb *, req_data_cb *, void *);
static void	 rg_step(struct task *);
static void	 rg_fin(struct task *);
static void	 rg_piece_done(struct req *);
static void	 rg_piece_data(struct req *, const struct rdata *);

static struct rgroup *
rg_new(struct task *parent, struct peer *p, struct mbox *mb,
    rgroup_done_cb *done, req_data_cb *data, void *arg)
{
	struct rgroup *g;

	g = eng_calloc(1, sizeof(*g));
	task_init(&g->t, "request group", rg_step, rg_fin);
	g->parent = parent;
	g->p = p;
	g->mb = mb;
	g->done = done;
	g->data = data;
	g->arg = arg;
	g->status = IMAP_DONE_OK;
	task_hold(parent);
	return g;
}

static void
rg_step(struct task *t)
{
	struct rgroup *g = (struct rgroup *)t;

	uidranges_normalize(&g->modified);
	if (g->done != NULL)
		g->done(g);
	t->done = 1;
}

static void
rg_fin(struct task *t)
{
	struct rgroup *g = (struct rgroup *)t;
	struct task *parent = g->parent;

	free(g->text);
	uidranges_free(&g->modified);
	free(g);
	task_release(parent);
}

void
rg_check(struct rgroup *g)
{
	if (g->status == IMAP_DONE_OK)
		return;
	eng_fail(g->p->e, EXIT_FAIL, g->p->name, g->mb != NULL ?
	    g->mb->srv[g->p->side] : NULL, "%s %s",
	    g->status == IMAP_DONE_NO ? "NO" : "BAD",
	    g->text != NULL ? g->text : "");
}

static void
rg_piece_done(struct req *r)
{
	struct rgroup *g = r->arg;

	if (r->status != IMAP_DONE_OK && g->status == IMAP_DONE_OK) {
		g->status = r->status;
		g->code = r->code;
		g->text = eng_strdup(r->text != NULL ? r->text : "");
	} else if (r->status > g->status)
		g->status = r->status;
	if (r->code == IMAP_CODE_MODIFIED && r->codedata != NULL &&
	    uidset_parse(r->codedata, &g->modified) == -1)
		eng_fail(g->p->e, EXIT_PANIC, g->p->name, g->mb != NULL ?
		    g->mb->srv[g->p->side] : NULL, "PANIC: Invalid MODIFIED "
		    "set %s", r->codedata);
}

static void
rg_piece_data(struct req *r, const struct rdata *d)
{
	struct rgroup *g = r->arg;
	void *arg = r->arg;

	/* The caller's callback sees its own argument. */
	r->arg = g->arg;
	g->data(r, d);
	r->arg = arg;
}

/* Sends one request per piece; build writes a piece's payload. */
static void
rg_send(struct rgroup *g, const struct uidranges *set, uint32_t type,
    size_t room, void (*build)(struct ipc_buf *, const char *, void *),
    void *barg, int flags)
{
	struct sbuf piece = { NULL, 0, 0 };
	struct ipc_buf buf;
	struct req *r;
	size_t i = 0;

	while (i < set->n) {
		piece.len = 0;
		i = uidranges_piece(set, i, room, &piece);
		ipc_buf_init(&buf);
		build(&buf, sbuf_str(&piece), barg);
		r = netc_send(g->p, &g->t, type, &buf, g->mb, g->data != NULL ?
		    rg_piece_data : NULL, rg_piece_done, g);
		ipc_buf_free(&buf);
		r->flags = flags;
		if (type == IMSG_IMAP_FETCH) {
			if (uidset_parse(sbuf_str(&piece), &r->set) == -1)
				fatalx(EXIT_CHILD, "engine: internal error: "
				    "bad UID set");
			uidranges_normalize(&r->set);
		}
		g->nreq++;
	}
	sbuf_free(&piece);
}

struct fetch_args {
	uint32_t	 items;
};

static void
rg_build_fetch(struct ipc_buf *buf, const char *set, void *arg)
{
	struct fetch_args *a = arg;

	ipc_put_str(buf, set);
	ipc_put_u32(buf, a->items);
	ipc_put_u64(buf, 0);
}

void
rg_fetch(struct task *parent, struct peer *p, struct mbox *mb,
    const struct uidranges *set, uint32_t items, int flags,
    req_data_cb *data, rgroup_done_cb *done, void *arg)
{
	struct fetch_args a;
	struct rgroup *g;

	if (set->n == 0)
		return;
	a.items = items;
	g = rg_new(parent, p, mb, done, data, arg);
	rg_send(g, set, IMSG_IMAP_FETCH, RG_SET_MAX, rg_build_fetch, &a,
	    flags);
}

struct store_args {
	uint64_t	 unchangedsince;
	uint32_t	 mode;
	const char	*flags;
};

static void
rg_build_store(struct ipc_buf *buf, const char *set, void *arg)
{
	struct store_args *a = arg;

	ipc_put_str(buf, set);
	ipc_put_u64(buf, a->unchangedsince);
	ipc_put_u32(buf, a->mode);
	ipc_put_str(buf, a->flags);
}

void
rg_store(struct task *parent, struct peer *p, struct mbox *mb,
    const struct uidranges *set, uint64_t unchangedsince, uint32_t mode,
    const char *flags, rgroup_done_cb *done, void *arg)
{
	struct store_args a;
	struct rgroup *g;
	size_t room;

	if (set->n == 0)
		return;
	a.unchangedsince = unchangedsince;
	a.mode = mode;
	a.flags = flags;
	/* The flags share the payload with the set. */
	room = strlen(flags) + 1024 < RG_SET_MAX ?
	    RG_SET_MAX - strlen(flags) : 1024;
	g = rg_new(parent, p, mb, done, NULL, arg);
	rg_send(g, set, IMSG_IMAP_STORE, room, rg_build_store, &a, 0);
}

static void
rg_build_expunge(struct ipc_buf *buf, const char *set, void *arg)
{
	(void)arg;
	ipc_put_str(buf, set);
}

void
rg_expunge(struct task *parent, struct peer *p, struct mbox *mb,
    const struct uidranges *set, rgroup_done_cb *done, void *arg)
{
	struct rgroup *g;

	if (set->n == 0)
		return;
	g = rg_new(parent, p, mb, done, NULL, arg);
	rg_send(g, set, IMSG_IMAP_EXPUNGE, RG_SET_MAX, rg_build_expunge,
	    NULL, 0);
}
