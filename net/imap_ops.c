/*
 * Engine requests -> IMAP commands, and server data -> engine messages
 * (see imap_ops.h for the rules, ipc/imap_proto.h for the layouts).
 */
#include <sys/queue.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ipc.h"
#include "log.h"
#include "imap_proto.h"
#include "imap_conn.h"
#include "imap_fmt.h"
#include "imap_ops.h"
#include "imap_parse.h"
#include "seqmap.h"
#include "uidset.h"

#define OPS_MSG_MAX	65536	/* the catalogue's bound for our messages */
#define OPS_SET_PIECE	60000	/* a long VANISHED set, cut into pieces */

struct imap_ops;

#define OPS_SEARCH_CHUNK 50000	/* UIDs per UID SEARCH without ESEARCH */
#define OPS_RESEARCH_MAX 8	/* UID lists asked for again (ops_emu_askagain) */

/* One UID SEARCH UID lo:hi of a server without ESEARCH (hi 0: "*"). */
struct ops_chunk {
	uint32_t	 lo, hi;
};

/*
 * A message APPENDed to a server without UIDPLUS, and where it went; or
 * one the FETCH after found, and whether it is one of ours.
 */
struct ops_amsg {
	uint64_t	 size;
	int64_t		 when;		/* INTERNALDATE; INT64_MIN: the server's */
	uint32_t	 uid;		/* 0: not found yet */
	int		 taken;		/* found: matched to one of ours */
};

/* A mailbox a plain LIST listed (ops_list_plain()). */
struct ops_litem {
	char		*name;
	uint32_t	 attrs;		/* IMAP_MBX_* */
	int		 delim;		/* -1: NIL */
};

struct ops_req {
	TAILQ_ENTRY(ops_req)	 entry;
	struct imap_ops		*ops;
	uint32_t		 id;
	uint32_t		 type;
	int			 pending;	/* commands not answered */
	int			 sealed;	/* no more commands to come */
	int			 failed;	/* a non-OK answer was taken */
	uint32_t		 status;	/* IMAP_DONE_* */
	uint32_t		 code;		/* IMAP_CODE_* */
	struct imap_buf		 codedata;
	char			*text;
	char			*mailbox;	/* SELECT: the log prefix */

	/* A SELECT of a server synced with CONDSTORE (ops_select_emu()) */
	int			 emu;
	uint32_t		 sel_uidnext;	/* [UIDNEXT] it reported */
	int			 chunked;	/* its UID list in pieces */
	int			 sel_answered;	/* its SELECT command was */
	int			 sel_closed;	/* [CLOSED] went to the engine */
	uint32_t		 sel_exists;	/* EXISTS it reported */
	char			*known;		/* known-uids; NULL: none */

	/* A LIST with STATUS from a server without LIST-STATUS */
	int			 list_status;
	char			**names;	/* to STATUS once listed */
	size_t			 nnames;

	/*
	 * An APPEND to a server without UIDPLUS: each message's size and
	 * date (ops_amsg), then the UIDs found for them (ops_append_uids()).
	 */
	struct ops_amsg		*amsg;
	size_t			 namsg;

	/*
	 * A LIST of a server without LIST-EXTENDED (ops_list_plain()):
	 * 1 + the LIST and LSUB commands not answered yet, what they
	 * listed (sent once they are all answered) and subscribed.
	 */
	int			 list_plain;
	int			 list_subonly;	/* (SUBSCRIBED) selection */
	struct ops_litem	*litems;
	size_t			 nlitems;
	struct ops_litem	*subs;
	size_t			 nsubs;
};

TAILQ_HEAD(ops_reqq, ops_req);

struct imap_ops {
	struct imap_conn	*conn;
	struct ipc_chan		*engine;
	struct ops_reqq		 reqs;
	int			 closed;	/* the session is over */
	struct ops_req		*logout;

	/* the APPEND being received */
	struct ops_req		*append;
	struct imap_cmd		*append_cmd;
	uint32_t		 append_nmsg;
	uint64_t		 append_left;	/* bytes of this message due */

	/*
	 * A server without UIDPLUS: the selected mailbox, its UIDVALIDITY
	 * and the lowest UID an APPEND to it may get (0: unknown), as its
	 * SELECT reported them (pend_*, until answered); the APPENDs whose
	 * UIDs are to be looked for once none is in flight (ops_await),
	 * and the messages that FETCH found.
	 */
	char			*sel_name;
	uint32_t		 sel_uidvalidity, sel_floor;
	uint32_t		 pend_uidvalidity, pend_uidnext;
	struct ops_req		**await;
	size_t			 nawait;
	int			 appends_out;	/* APPEND commands unanswered */
	struct ops_amsg		*found_new;
	size_t			 nfound_new, capfound_new;
	int			 uid_fetch;	/* that FETCH is in flight */

	/*
	 * An IDLE in progress; held (not yet written) while a SELECT of
	 * a server synced with CONDSTORE may still add commands of its own
	 * (ops_idle()).
	 */
	struct ops_req		*idle;
	struct imap_cmd		*idle_cmd;
	int			 idle_held;

	/*
	 * Sequence numbers of the selected mailbox, for a server synced
	 * with CONDSTORE: NONE (nothing selected), BUILDING (selected, its
	 * UID list not in yet: exists counts), KNOWN (seq).
	 */
	enum { SQ_NONE, SQ_BUILDING, SQ_KNOWN } sq;
	struct seqmap		 seq;
	uint32_t		 exists;
	/*
	 * Without ESEARCH, the UID list in pieces (UID SEARCH UID lo:hi,
	 * OPS_SEARCH_CHUNK UIDs each, so that no answer passes the line
	 * limit): what they found so far, which is messages 1..nfound, and
	 * the piece in flight (never more than one).
	 */
	uint32_t		*found;
	size_t			 nfound, capfound;
	struct ops_chunk	*chunks;
	size_t			 nchunks, capchunks;
	int			 search_seen;	/* the oldest SEARCH's answer came */
	/*
	 * The messages of the session below the SELECT's UIDNEXT (its
	 * EXISTS less the EXPUNGEs among them since), and the UID lists
	 * asked for again because they did not match the session's
	 * messages (ops_emu_askagain()).
	 */
	uint32_t		 old;
	int			 researches;
	/*
	 * Others' flag changes reported by sequence number before the UID
	 * list was in (a FETCH without UID): the lowest MODSEQ, from which
	 * they are fetched again by UID once it is (0: none).
	 */
	uint64_t		 lost_modseq;
	/*
	 * A server synced without CONDSTORE (IMAP_METHOD_PLAIN): the last
	 * MODSEQ net gave (ipc/imap_proto.h), and the others' flag changes
	 * lost as above (the whole mailbox's flags are fetched again).
	 */
	uint64_t		 fake_modseq;
	int			 lost_plain;

	/* the FETCH response being parsed */
	int			 body_active;	/* BEGIN sent, END not yet */
	int			 body_done;	/* its body went out */
	int			 body_skip; /* too big: the FETCH is dropped */
	uint32_t		 body_mask;	/* items sent with the body */
};

static void	 ops_broken(const struct ipc_msg *, const char *)
		    __attribute__((noreturn));
static void	 ops_send(struct imap_ops *, uint32_t, uint32_t,
		    struct ipc_buf *);
static uint32_t	 ops_cur_id(const struct imap_ops *);
static struct ops_req *ops_req_new(struct imap_ops *, const struct ipc_msg *);
static void	 ops_req_free(struct ops_req *);
static void	 ops_req_fail(struct ops_req *, uint32_t, const char *);
static void	 ops_flush_done(struct imap_ops *);
static struct imap_cmd *ops_cmd(struct imap_ops *, struct ops_req *,
		    const char *);
static void	 ops_cmd_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static void	 ops_submit(struct imap_cmd *);
static void	 ops_select_emu(struct imap_ops *, struct ops_req *, uint32_t,
		    const void *, size_t, uint64_t, char *);
static void	 ops_emu_select_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static void	 ops_emu_search_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static void	 ops_vanished_set(struct imap_ops *, int,
		    const struct imap_set *);
static void	 ops_vanished_uid(struct imap_ops *, uint32_t);
static void	 ops_emu_search(struct imap_ops *, struct ops_req *);
static void	 ops_emu_chunk(struct imap_ops *, struct ops_req *, uint32_t,
		    uint32_t);
static void	 ops_emu_chunk_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static void	 ops_emu_chunk_found(struct imap_ops *, const struct imap_resp *);
static void	 ops_emu_uids(struct imap_ops *, const uint32_t *, size_t);
static int	 ops_emu_busy(const struct imap_ops *);
static void	 ops_idle_release(struct imap_ops *);
static int	 ops_emu_askagain(struct imap_ops *, struct ops_req *,
		    const uint32_t *, size_t *, int);
static void	 ops_fake_hms(struct imap_ops *);
static int	 ops_plain(const struct imap_ops *);
static int	 ops_emulated(const struct imap_ops *);
static uint32_t	*ops_search_uids(struct imap_ops *, const struct imap_resp *,
		    size_t *);
static const char *ops_status_items(const struct imap_conn *);
static void	 ops_status_emu(struct ops_req *, const char *);
static void	 ops_list_send(struct imap_ops *, uint32_t, uint32_t, int,
		    const char *);
static void	 ops_amsg_add(struct ops_req *, uint64_t, const char *);
static int	 ops_date_epoch(const char *, int64_t *);
static void	 ops_append_emu_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static void	 ops_append_uids(struct imap_ops *);
static int	 ops_append_fetch_item(struct imap_ops *,
		    const struct imap_fetch *);
static void	 ops_append_fetch_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static void	 ops_append_settle(struct imap_ops *, const char *);
static void	 ops_selected(struct imap_ops *, const char *);
static void	 ops_list_plain(struct imap_ops *, struct ops_req *, uint32_t,
		    const void *, size_t, const void **, const size_t *,
		    uint32_t);
static void	 ops_list_plain_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static int	 ops_list_keep(struct imap_ops *, const struct imap_list *);
static uint32_t	 ops_attrs(const struct imap_strlist *);
static void	 ops_list_emu_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static void	 ops_status_emu_cb(struct imap_conn *, struct imap_cmd *,
		    const struct imap_resp *, void *);
static uint32_t	 ops_attrs(const struct imap_strlist *);

/* ---- helpers ------------------------------------------------------------- */

static void
ops_broken(const struct ipc_msg *msg, const char *why)
{
	fatalx(EXIT_CHILD, "broken IPC message (%s) from the engine: %s",
	    ipc_type_name(msg->hdr.type), why);
}

static void
ops_send(struct imap_ops *o, uint32_t type, uint32_t id, struct ipc_buf *b)
{
	if (b->len > OPS_MSG_MAX)
		imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: a "
		    "server response too large to pass on (%zu bytes)",
		    b->len);
	/* The engine gone, priv ends the run: nobody to tell. */
	if (o->engine->fd != -1 &&
	    ipc_send(o->engine, type, id, -1, b) == -1)
		fatalx(EXIT_CHILD, "%s", o->engine->err);
	ipc_buf_free(b);
}

static uint32_t
ops_cur_id(const struct imap_ops *o)
{
	const struct ops_req *r = TAILQ_FIRST(&o->reqs);

	return r != NULL ? r->id : 0;
}

/* A copy of data as a C string; NUL bytes inside are refused. */
static char *
ops_name(const struct ipc_msg *msg, const void *p, size_t len)
{
	char *s;

	if (p == NULL || memchr(p, '\0', len) != NULL)
		ops_broken(msg, "bad mailbox name");
	if ((s = malloc(len + 1)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* A sequence set as the engine may send it: digits, ':', ',', '*'. */
static int
ops_set_valid(const char *s)
{
	const char *p;
	int digit = 0;

	if (s == NULL || *s == '\0')
		return 0;
	for (p = s; *p != '\0'; p++) {
		if (*p >= '0' && *p <= '9')
			digit = 1;
		else if (*p == '*')
			digit = 1;
		else if ((*p == ':' || *p == ',') && digit)
			digit = 0;
		else
			return 0;
	}
	return digit;
}

/* A ranges set back to text ("1:3,7", "5:*"). */
static void
ops_set_format(struct imap_buf *b, const struct imap_range *r)
{
	if (r->lo == IMAP_SET_STAR)
		imap_buf_str(b, "*");
	else
		imap_buf_printf(b, "%u", r->lo);
	if (r->hi == IMAP_SET_STAR)
		imap_buf_str(b, r->lo == IMAP_SET_STAR ? "" : ":*");
	else if (r->hi != r->lo)
		imap_buf_printf(b, ":%u", r->hi);
}

static uint32_t
ops_code(enum imap_rc rc)
{
	switch (rc) {
	case IMAP_RC_NONE:		return IMAP_CODE_NONE;
	case IMAP_RC_UIDVALIDITY:	return IMAP_CODE_UIDVALIDITY;
	case IMAP_RC_UIDNEXT:		return IMAP_CODE_UIDNEXT;
	case IMAP_RC_HIGHESTMODSEQ:	return IMAP_CODE_HIGHESTMODSEQ;
	case IMAP_RC_NOMODSEQ:		return IMAP_CODE_NOMODSEQ;
	case IMAP_RC_UIDNOTSTICKY:	return IMAP_CODE_UIDNOTSTICKY;
	case IMAP_RC_CLOSED:		return IMAP_CODE_CLOSED;
	case IMAP_RC_READ_ONLY:		return IMAP_CODE_READ_ONLY;
	case IMAP_RC_READ_WRITE:	return IMAP_CODE_READ_WRITE;
	case IMAP_RC_APPENDUID:		return IMAP_CODE_APPENDUID;
	case IMAP_RC_MODIFIED:		return IMAP_CODE_MODIFIED;
	case IMAP_RC_TRYCREATE:		return IMAP_CODE_TRYCREATE;
	default:			return IMAP_CODE_OTHER;
	}
}

/* ---- requests and their answers ------------------------------------------ */

struct imap_ops *
imap_ops_new(struct ipc_chan *engine)
{
	struct imap_ops *o;

	if ((o = calloc(1, sizeof(*o))) == NULL)
		return NULL;
	o->engine = engine;
	TAILQ_INIT(&o->reqs);
	return o;
}

void
imap_ops_free(struct imap_ops *o)
{
	struct ops_req *r;

	if (o == NULL)
		return;
	while ((r = TAILQ_FIRST(&o->reqs)) != NULL) {
		TAILQ_REMOVE(&o->reqs, r, entry);
		ops_req_free(r);
	}
	free(o->sel_name);
	free(o->await);
	free(o->found_new);
	seqmap_free(&o->seq);
	free(o->found);
	free(o->chunks);
	free(o);
}

void
imap_ops_set_conn(struct imap_ops *o, struct imap_conn *c)
{
	o->conn = c;
}

int
imap_ops_accepting(const struct imap_ops *o)
{
	return o->conn != NULL && imap_conn_queued(o->conn) < IMAP_QUEUE_HWM;
}

int
imap_ops_congested(const struct imap_ops *o)
{
	return (size_t)ipc_pending(o->engine) > OPS_ENGINE_HWM;
}

static struct ops_req *
ops_req_new(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ops_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	r->ops = o;
	r->id = msg->hdr.peerid;
	r->type = msg->hdr.type;
	imap_buf_init(&r->codedata);
	TAILQ_INSERT_TAIL(&o->reqs, r, entry);
	return r;
}

static void
ops_req_free(struct ops_req *r)
{
	imap_buf_free(&r->codedata);
	free(r->text);
	free(r->mailbox);
	free(r->known);
	free(r->amsg);
	while (r->nnames > 0)
		free(r->names[--r->nnames]);
	free(r->names);
	while (r->nlitems > 0)
		free(r->litems[--r->nlitems].name);
	free(r->litems);
	while (r->nsubs > 0)
		free(r->subs[--r->nsubs].name);
	free(r->subs);
	free(r);
}

/* A failure found here, not by the server. */
static void
ops_req_fail(struct ops_req *r, uint32_t status, const char *text)
{
	if (r->failed)
		return;
	r->failed = 1;
	r->status = status;
	r->code = IMAP_CODE_NONE;
	imap_buf_reset(&r->codedata);
	free(r->text);
	if ((r->text = strdup(text)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
}

/* DONE for every finished request at the head of the queue. */
static void
ops_flush_done(struct imap_ops *o)
{
	struct ops_req *r;
	struct ipc_buf b;

	while ((r = TAILQ_FIRST(&o->reqs)) != NULL && r->sealed &&
	    r->pending == 0) {
		TAILQ_REMOVE(&o->reqs, r, entry);
		if (imap_buf_ok(&r->codedata) == -1)
			fatalx(EXIT_FAIL, "out of memory");
		ipc_buf_init(&b);
		ipc_put_u32(&b, r->status);
		ipc_put_u32(&b, r->code);
		ipc_put_str(&b, r->codedata.data != NULL ?
		    r->codedata.data : "");
		ipc_put_str(&b, r->text != NULL ? r->text : "");
		if (b.len > OPS_MSG_MAX) {
			/* Only a hostile server's text gets there. */
			ipc_buf_free(&b);
			ipc_buf_init(&b);
			ipc_put_u32(&b, r->status);
			ipc_put_u32(&b, IMAP_CODE_NONE);
			ipc_put_str(&b, "");
			ipc_put_str(&b, "(response text too long)");
		}
		ops_send(o, IMSG_IMAP_DONE, r->id, &b);
		ops_req_free(r);
	}
}

static struct imap_cmd *
ops_cmd(struct imap_ops *o, struct ops_req *r, const char *name)
{
	r->pending++;
	return imap_cmd_new(o->conn, name, ops_cmd_cb, r);
}

static void
ops_submit(struct imap_cmd *cmd)
{
	imap_cmd_end(cmd);
	imap_cmd_submit(cmd);
}

static void
ops_cmd_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct ops_req *r = arg;
	struct imap_ops *o = r->ops;
	const struct imap_code *code = &resp->cond.code;
	uint32_t st;

	switch (resp->cond.status) {
	case IMAP_COND_OK:
		st = IMAP_DONE_OK;
		break;
	case IMAP_COND_NO:
		st = IMAP_DONE_NO;
		break;
	default:
		st = IMAP_DONE_BAD;
		break;
	}
	if (!r->failed) {
		if (st != IMAP_DONE_OK) {
			r->failed = 1;
			imap_buf_reset(&r->codedata);
		}
		if (st != IMAP_DONE_OK || code->kind != IMAP_RC_NONE ||
		    r->text == NULL) {
			r->status = st;
			free(r->text);
			if ((r->text = imap_resp_text(resp)) == NULL)
				fatalx(EXIT_FAIL, "out of memory");
		}
		if (code->kind == IMAP_RC_MODIFIED && r->code ==
		    IMAP_CODE_MODIFIED && st == IMAP_DONE_OK) {
			/* Split STORE: the sets of every piece. */
			imap_buf_str(&r->codedata, ",");
			imap_buf_str(&r->codedata, code->arg != NULL ?
			    code->arg : "");
		} else if (code->kind != IMAP_RC_NONE &&
		    !(ops_plain(r->ops) &&
		    (code->kind == IMAP_RC_HIGHESTMODSEQ ||
		    code->kind == IMAP_RC_NOMODSEQ))) {
			r->code = ops_code(code->kind);
			imap_buf_reset(&r->codedata);
			if (r->code == IMAP_CODE_OTHER)
				imap_buf_str(&r->codedata, code->name);
			if (code->arg != NULL) {
				if (r->code == IMAP_CODE_OTHER)
					imap_buf_str(&r->codedata, " ");
				imap_buf_str(&r->codedata, code->arg);
			}
		}
	}
	switch (r->type) {
	case IMSG_IMAP_SELECT:
		/* The log prefix names the mailbox once selected. */
		log_set_mailbox(st == IMAP_DONE_OK ? r->mailbox : NULL);
		ops_selected(o, st == IMAP_DONE_OK ? r->mailbox : NULL);
		break;
	case IMSG_IMAP_UNSELECT:
		if (st == IMAP_DONE_OK) {
			log_set_mailbox(NULL);
			ops_selected(o, NULL);
			o->sq = SQ_NONE;
			seqmap_clear(&o->seq);
		}
		break;
	default:
		break;
	}
	r->pending--;
	if (o->idle_held && r->emu && !ops_emu_busy(o))
		ops_idle_release(o);
	ops_flush_done(o);
}

/* ---- requests ------------------------------------------------------------ */

/* Appends " " and a list-mailbox pattern or reference. */
static void
ops_astring(struct imap_cmd *cmd, const void *p, size_t len)
{
	imap_cmd_text(cmd, " ", 1);
	imap_cmd_astring(cmd, p, len);
}

/* Atoms separated by spaces, for LIST's selection options. */
static int
ops_atoms_valid(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= ' ' && *p != ' ')
			return 0;
		else if (*p >= 0x7f || strchr("(){%*\"\\]", *p) != NULL)
			return 0;
	return 1;
}

static void
ops_list(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct ops_req *r;
	struct imap_cmd *cmd;
	const void *ref, **pat;
	size_t reflen, *patlen;
	uint32_t flags, n, i;
	char *opts;

	ipc_rd_init(&rd, msg);
	flags = ipc_get_u32(&rd);
	opts = ipc_get_str(&rd);
	ref = ipc_get_data(&rd, &reflen);
	n = ipc_get_u32(&rd);
	if (rd.error || opts == NULL || ref == NULL ||
	    !ops_atoms_valid(opts) || n > rd.left / 4 ||
	    (flags & ~(IMAP_LIST_RET_SUBSCRIBED | IMAP_LIST_RET_STATUS)))
		ops_broken(msg, "bad layout");
	if ((pat = calloc(n + 1, sizeof(*pat))) == NULL ||
	    (patlen = calloc(n + 1, sizeof(*patlen))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	for (i = 0; i < n; i++)
		if ((pat[i] = ipc_get_data(&rd, &patlen[i])) == NULL ||
		    memchr(pat[i], '\0', patlen[i]) != NULL)
			ops_broken(msg, "bad pattern");
	if (ipc_rd_end(&rd) == -1)
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	if (!imap_conn_has_cap(o->conn, "LIST-EXTENDED")) {
		/* The engine refuses other list-select-opts there. */
		if (*opts != '\0' && strcmp(opts, "SUBSCRIBED") != 0)
			ops_broken(msg, "selection options without "
			    "LIST-EXTENDED");
		r->list_subonly = *opts != '\0';
		free(opts);
		ops_list_plain(o, r, flags, ref, reflen, pat, patlen, n);
		free(pat);
		free(patlen);
		return;
	}
	if ((flags & IMAP_LIST_RET_STATUS) &&
	    !imap_conn_has_cap(o->conn, "LIST-STATUS")) {
		/* STATUS each mailbox once listed (ops_list_emu_cb()). */
		flags &= ~IMAP_LIST_RET_STATUS;
		r->list_status = 1;
		r->pending++;
		cmd = imap_cmd_new(o->conn, "LIST", ops_list_emu_cb, r);
	} else
		cmd = ops_cmd(o, r, "LIST");
	if (*opts != '\0')
		imap_cmd_printf(cmd, " (%s)", opts);
	free(opts);
	ops_astring(cmd, ref, reflen);
	if (n == 0)
		imap_cmd_str(cmd, " *");
	else if (n > 1)
		imap_cmd_str(cmd, " (");
	for (i = 0; i < n; i++) {
		if (n > 1 && i > 0)
			imap_cmd_text(cmd, " ", 1);
		if (n == 1)
			imap_cmd_text(cmd, " ", 1);
		imap_cmd_astring(cmd, pat[i], patlen[i]);
	}
	free(pat);
	free(patlen);
	if (n > 1)
		imap_cmd_str(cmd, ")");
	if (flags != 0) {
		imap_cmd_str(cmd, " RETURN (");
		if (flags & IMAP_LIST_RET_SUBSCRIBED)
			imap_cmd_str(cmd, "SUBSCRIBED");
		if (flags & IMAP_LIST_RET_STATUS)
			imap_cmd_printf(cmd, "%sSTATUS (%s)", (flags &
			    IMAP_LIST_RET_SUBSCRIBED) ? " " : "",
			    ops_status_items(o->conn));
		imap_cmd_str(cmd, ")");
	}
	ops_submit(cmd);
	r->sealed = !r->list_status;
}

/*
 * The STATUS items the engine wants of every mailbox: those that tell
 * whether it changed since the last sync; with CONDSTORE also MESSAGES,
 * since RFC 7162 asks only QRESYNC servers to raise HIGHESTMODSEQ for
 * an expunge: the engine compares it with the pairs it holds.
 */
static const char *
ops_status_items(const struct imap_conn *c)
{
	switch (imap_conn_method(c)) {
	case IMAP_METHOD_CONDSTORE:
		return "UIDVALIDITY UIDNEXT HIGHESTMODSEQ MESSAGES";
	case IMAP_METHOD_PLAIN:
		/* No HIGHESTMODSEQ: every mailbox is dirty (engine). */
		return "UIDVALIDITY UIDNEXT MESSAGES";
	default:
		return "UIDVALIDITY UIDNEXT HIGHESTMODSEQ";
	}
}

/* 1 if net turns the session's answers into QRESYNC's (no QRESYNC). */
static int
ops_emulated(const struct imap_ops *o)
{
	return imap_conn_method(o->conn) != IMAP_METHOD_QRESYNC;
}

static int
ops_plain(const struct imap_ops *o)
{
	return imap_conn_method(o->conn) == IMAP_METHOD_PLAIN;
}

/*
 * LIST-EXTENDED (RFC 5258) for a server without it: one LIST per
 * pattern and, for RETURN (SUBSCRIBED), one LSUB per pattern, all at
 * once.  What they list is kept (ops_list_keep()) until the last is
 * answered, then sent to the engine as LIST-EXTENDED would have: each
 * mailbox once (patterns may overlap), \Subscribed where LSUB named it
 * (LSUB's own attributes say nothing of the mailbox, and a subscription
 * to no listed mailbox is left out, as RETURN (SUBSCRIBED) leaves it).
 * The selection option SUBSCRIBED, the only one it can stand for, lists
 * the subscribed names instead: those LIST did not list as \NonExistent.
 * Then, for RETURN (STATUS), one STATUS per selectable mailbox
 * (ops_status_emu(), as without LIST-STATUS: no server without
 * LIST-EXTENDED has LIST-STATUS).
 */
static void
ops_list_plain(struct imap_ops *o, struct ops_req *r, uint32_t flags,
    const void *ref, size_t reflen, const void **pat, const size_t *patlen,
    uint32_t n)
{
	static const char star = '*';
	const char *verb[2] = { "LIST", "LSUB" };
	struct imap_cmd *cmd;
	uint32_t i, v;

	r->list_plain = 1;
	r->list_status = (flags & IMAP_LIST_RET_STATUS) != 0;
	if (n == 0) {
		pat[0] = &star;
		n = 1;
	}
	for (v = 0; v < ((flags & IMAP_LIST_RET_SUBSCRIBED) ||
	    r->list_subonly ? 2 : 1); v++)
		for (i = 0; i < n; i++) {
			r->pending++;
			r->list_plain++;
			cmd = imap_cmd_new(o->conn, verb[v], ops_list_plain_cb,
			    r);
			ops_astring(cmd, ref, reflen);
			imap_cmd_text(cmd, " ", 1);
			if (pat[i] == &star)
				imap_cmd_str(cmd, "*");
			else
				imap_cmd_astring(cmd, pat[i], patlen[i]);
			ops_submit(cmd);
		}
}

static int
ops_litem_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ops_litem *)a)->name,
	    ((const struct ops_litem *)b)->name);
}

static void
ops_litem_add(struct ops_litem **v, size_t *n, const char *name,
    uint32_t attrs, int delim)
{
	struct ops_litem *li;

	if ((*v = reallocarray(*v, *n + 1, sizeof(**v))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	li = &(*v)[*n];
	if ((li->name = strdup(name)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	li->attrs = attrs;
	li->delim = delim;
	(*n)++;
}

/* Sorted by name, each name once. */
static void
ops_litem_uniq(struct ops_litem *v, size_t *n)
{
	size_t i, k = 0;

	if (*n == 0)
		return;
	qsort(v, *n, sizeof(*v), ops_litem_cmp);
	for (i = 1; i < *n; i++) {
		if (strcmp(v[k].name, v[i].name) == 0) {
			free(v[i].name);
			continue;
		}
		v[++k] = v[i];
	}
	*n = k + 1;
}

static int
ops_litem_has(const struct ops_litem *v, size_t n, const char *name)
{
	struct ops_litem key;

	key.name = (char *)(uintptr_t)name;
	return n > 0 && bsearch(&key, v, n, sizeof(*v), ops_litem_cmp) != NULL;
}

/* A LIST or LSUB of ops_list_plain()'s: kept.  0 if not one. */
static int
ops_list_keep(struct imap_ops *o, const struct imap_list *l)
{
	struct ops_req *r = TAILQ_FIRST(&o->reqs);

	if (r == NULL || r->list_plain <= 1)
		return 0;
	if (l->lsub)
		ops_litem_add(&r->subs, &r->nsubs, l->name, 0, l->delim);
	else
		ops_litem_add(&r->litems, &r->nlitems, l->name,
		    ops_attrs(&l->attrs) & ~IMAP_MBX_SUBSCRIBED, l->delim);
	return 1;
}

static void
ops_list_plain_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct ops_req *r = arg;
	struct ops_litem *li;
	size_t i;

	if (--r->list_plain > 1 || resp->cond.status != IMAP_COND_OK ||
	    r->failed) {
		if (r->list_plain <= 1)
			r->sealed = 1;
		ops_cmd_cb(c, cmd, resp, arg);
		return;
	}
	/* The last answered, every one OK: what they listed, once. */
	ops_litem_uniq(r->litems, &r->nlitems);
	ops_litem_uniq(r->subs, &r->nsubs);
	for (i = 0; i < r->nlitems; i++) {
		li = &r->litems[i];
		if (ops_litem_has(r->subs, r->nsubs, li->name))
			li->attrs |= IMAP_MBX_SUBSCRIBED;
		else if (r->list_subonly)
			continue;
		ops_list_send(r->ops, r->id, li->attrs, li->delim, li->name);
		if (r->list_status && !(li->attrs & (IMAP_MBX_NOSELECT |
		    IMAP_MBX_NONEXISTENT)))
			ops_status_emu(r, li->name);
	}
	for (i = 0; r->list_subonly && i < r->nsubs; i++) {
		li = &r->subs[i];
		if (ops_litem_has(r->litems, r->nlitems, li->name))
			continue;
		ops_list_send(r->ops, r->id, IMAP_MBX_NONEXISTENT |
		    IMAP_MBX_NOSELECT | IMAP_MBX_SUBSCRIBED, li->delim,
		    li->name);
	}
	r->sealed = 1;
	ops_cmd_cb(c, cmd, resp, arg);
}

/*
 * LIST-STATUS (RFC 5819) for a server without it: the LIST as asked
 * without STATUS, then, once it is answered, one STATUS per selectable
 * mailbox it listed, all at once, their answers going to the engine as
 * LIST-STATUS's would have.  A mailbox gone in between (STATUS refused
 * with NO) is left out, as LIST-STATUS leaves it out.
 */
static void
ops_list_note(struct imap_ops *o, const struct imap_list *l)
{
	struct ops_req *r = TAILQ_FIRST(&o->reqs);

	if (r == NULL || !r->list_status || r->sealed ||
	    (ops_attrs(&l->attrs) & (IMAP_MBX_NOSELECT | IMAP_MBX_NONEXISTENT)))
		return;
	if ((r->names = reallocarray(r->names, r->nnames + 1,
	    sizeof(*r->names))) == NULL ||
	    (r->names[r->nnames] = strdup(l->name)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	r->nnames++;
}

/* STATUS of one mailbox, answered as LIST-STATUS would (for r). */
static void
ops_status_emu(struct ops_req *r, const char *name)
{
	struct imap_cmd *st;

	r->pending++;
	st = imap_cmd_new(r->ops->conn, "STATUS", ops_status_emu_cb, r);
	ops_astring(st, name, strlen(name));
	imap_cmd_printf(st, " (%s)", ops_status_items(r->ops->conn));
	ops_submit(st);
}

static void
ops_status_emu_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct ops_req *r = arg;

	if (resp->cond.status == IMAP_COND_NO) {
		log_debug("STATUS refused, the mailbox left out: %s",
		    resp->cond.text != NULL ? resp->cond.text : "");
		r->pending--;
		ops_flush_done(r->ops);
		return;
	}
	ops_cmd_cb(c, cmd, resp, arg);
}

static void
ops_list_emu_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct ops_req *r = arg;
	size_t i;

	if (resp->cond.status == IMAP_COND_OK)
		for (i = 0; i < r->nnames; i++)
			ops_status_emu(r, r->names[i]);
	r->sealed = 1;
	ops_cmd_cb(c, cmd, resp, arg);
}

static void
ops_select(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct ops_req *r;
	struct imap_cmd *cmd;
	const void *name;
	size_t namelen;
	uint32_t flags, uidvalidity = 0;
	uint64_t modseq = 0;
	char *known = NULL, *seqs = NULL, *uids = NULL;

	ipc_rd_init(&rd, msg);
	name = ipc_get_data(&rd, &namelen);
	flags = ipc_get_u32(&rd);
	if (flags & IMAP_SEL_QRESYNC) {
		uidvalidity = ipc_get_u32(&rd);
		modseq = ipc_get_u64(&rd);
		known = ipc_get_str(&rd);
		seqs = ipc_get_str(&rd);
		uids = ipc_get_str(&rd);
	}
	if (ipc_rd_end(&rd) == -1 ||
	    (flags & ~(IMAP_SEL_QRESYNC | IMAP_SEL_EXAMINE)) ||
	    ((flags & IMAP_SEL_QRESYNC) && (known == NULL || seqs == NULL ||
	    uids == NULL || (*known != '\0' && !ops_set_valid(known)) ||
	    (*seqs == '\0') != (*uids == '\0') ||
	    (*seqs != '\0' && (!ops_set_valid(seqs) ||
	    !ops_set_valid(uids))))))
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	r->mailbox = ops_name(msg, name, namelen);
	/* While the SELECT is in flight no mailbox is selected. */
	log_set_mailbox(NULL);
	ops_selected(o, NULL);
	o->pend_uidvalidity = o->pend_uidnext = 0;
	if (ops_emulated(o)) {
		ops_select_emu(o, r, flags, name, namelen, modseq, known);
		free(seqs);
		free(uids);
		return;
	}
	cmd = ops_cmd(o, r, flags & IMAP_SEL_EXAMINE ? "EXAMINE" : "SELECT");
	ops_astring(cmd, name, namelen);
	if (flags & IMAP_SEL_QRESYNC) {
		imap_cmd_printf(cmd, " (QRESYNC (%u %llu", uidvalidity,
		    (unsigned long long)modseq);
		if (*known != '\0')
			imap_cmd_printf(cmd, " %s", known);
		if (*seqs != '\0')
			imap_cmd_printf(cmd, " (%s %s)", seqs, uids);
		imap_cmd_str(cmd, "))");
	}
	free(known);
	free(seqs);
	free(uids);
	ops_submit(cmd);
	r->sealed = 1;
}

/* ---- QRESYNC's SELECT from CONDSTORE ------------------------------------- */

/*
 * A server synced with CONDSTORE (imap_conn.h) gets, for the engine's
 * SELECT, three commands sent at once:
 *
 *	SELECT mailbox [(CONDSTORE)]	((CONDSTORE) without ENABLE)
 *	UID SEARCH RETURN (ALL) ALL	(ESEARCH; else UID SEARCH UID 1:50000,
 *					then, one after the other, the next
 *					50,000 UIDs up to the UIDNEXT the
 *					SELECT tells)
 *	UID FETCH known-uids (FLAGS MODSEQ) (CHANGEDSINCE m)
 *					(with known-uids)
 *
 * and the engine receives what a QRESYNC SELECT would have sent: the
 * SELECT's data, a VANISHED (EARLIER) of the known UIDs (those below
 * the last synced UIDNEXT) missing from the UID list, the flag changes,
 * then one DONE.  The UID list also gives the sequence numbers, which
 * turn the session's "* n EXPUNGE" into VANISHED and complete "* n
 * FETCH" responses without UID (ops_seq_*); an expunge reported before
 * the list is complete is taken off what it found so far, and flag
 * changes reported then are fetched again by UID once it is.
 */
static void
ops_select_emu(struct imap_ops *o, struct ops_req *r, uint32_t flags,
    const void *name, size_t namelen, uint64_t modseq, char *known)
{
	struct imap_cmd *cmd;
	int esearch = imap_conn_has_cap(o->conn, "ESEARCH");

	r->emu = 1;
	/* Net's MODSEQs go on from the last synced state's. */
	o->fake_modseq = (flags & IMAP_SEL_QRESYNC) ? modseq : 0;
	o->lost_plain = 0;
	if (flags & IMAP_SEL_QRESYNC) {
		r->known = known;	/* "" when none */
		if (*known == '\0') {
			free(known);
			r->known = NULL;
		}
	} else
		free(known);
	r->pending++;
	cmd = imap_cmd_new(o->conn, flags & IMAP_SEL_EXAMINE ? "EXAMINE" :
	    "SELECT", ops_emu_select_cb, r);
	ops_astring(cmd, name, namelen);
	/* ENABLE CONDSTORE went first where it could (imap_conn.c). */
	if (!ops_plain(o) && !imap_conn_has_cap(o->conn, "ENABLE"))
		imap_cmd_str(cmd, " (CONDSTORE)");
	ops_submit(cmd);
	r->chunked = !esearch;
	ops_emu_search(o, r);
	if (flags & IMAP_SEL_QRESYNC) {
		/*
		 * Only the known UIDs, as Dovecot's QRESYNC SELECT reports
		 * them: the new messages' flags come with their FETCH.
		 */
		cmd = ops_cmd(o, r, "UID FETCH");
		if (ops_plain(o))
			imap_cmd_printf(cmd, " %s (FLAGS)", r->known != NULL &&
			    strlen(r->known) <= UIDSET_CHUNK_MAX ? r->known :
			    "1:*");
		else
			imap_cmd_printf(cmd, " %s (FLAGS MODSEQ) (CHANGEDSINCE "
			    "%llu)", r->known != NULL &&
			    strlen(r->known) <= UIDSET_CHUNK_MAX ? r->known :
			    "1:*", (unsigned long long)modseq);
		ops_submit(cmd);
	}
	r->sealed = 1;
}

/*
 * QRESYNC's [CLOSED] (RFC 7162 3.2.11), which the engine's idea of the
 * selected mailbox follows: before the SELECT's first data when another
 * mailbox was selected, said by net where the server does not say it
 * first.  resp: the SELECT's response at hand (NULL: its tagged one).
 * 0: pass resp on; 1: the server's [CLOSED] after others, dropped (the
 * engine had one already, or needs none).
 */
static int
ops_emu_closed(struct imap_ops *o, struct ops_req *r,
    const struct imap_resp *resp)
{
	struct ipc_buf b;
	int closed = resp != NULL && resp->type == IMAP_RESP_COND &&
	    resp->cond.code.kind == IMAP_RC_CLOSED;

	if (r->sel_closed)
		return closed;
	r->sel_closed = 1;
	if (closed || o->sq == SQ_NONE)
		return 0;
	ipc_buf_init(&b);
	ipc_put_u32(&b, IMAP_CODE_CLOSED);
	ipc_put_u64(&b, 0);
	ipc_put_str(&b, "");
	ops_send(o, IMSG_IMAP_CODE, r->id, &b);
	return 0;
}

static void
ops_emu_select_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct ops_req *r = arg;
	struct imap_ops *o = r->ops;

	(void)ops_emu_closed(o, r, NULL);
	r->sel_answered = 1;
	seqmap_clear(&o->seq);
	if (resp->cond.status == IMAP_COND_OK) {
		o->sq = SQ_BUILDING;
		o->exists = r->sel_exists;
		o->old = r->sel_exists;
		o->researches = 0;
		o->nfound = 0;
		o->search_seen = 0;
		o->lost_modseq = 0;
		if (ops_plain(o))
			ops_fake_hms(o);
	} else
		o->sq = SQ_NONE;
	ops_cmd_cb(c, cmd, resp, arg);
}

/*
 * The [HIGHESTMODSEQ] a plain server's SELECT would have said: above
 * the last synced state's, so that the engine takes what follows as
 * changes to compare (ipc/imap_proto.h).
 */
static void
ops_fake_hms(struct imap_ops *o)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_u32(&b, IMAP_CODE_HIGHESTMODSEQ);
	ipc_put_u64(&b, ++o->fake_modseq);
	ipc_put_str(&b, "");
	ops_send(o, IMSG_IMAP_CODE, ops_cur_id(o), &b);
}

/*
 * The UID list, whole: UID SEARCH RETURN (ALL) ALL (ESEARCH), or its
 * first piece of UID SEARCH UID lo:hi (r->chunked).
 */
static void
ops_emu_search(struct imap_ops *o, struct ops_req *r)
{
	struct imap_cmd *cmd;

	if (r->chunked) {
		ops_emu_chunk(o, r, 1, OPS_SEARCH_CHUNK);
		return;
	}
	r->pending++;
	cmd = imap_cmd_new(o->conn, "UID SEARCH", ops_emu_search_cb, r);
	imap_cmd_str(cmd, " RETURN (ALL) ALL");
	ops_submit(cmd);
}

/* A piece of the UID list: UID SEARCH UID lo:hi (hi 0: lo:*). */
static void
ops_emu_chunk(struct imap_ops *o, struct ops_req *r, uint32_t lo,
    uint32_t hi)
{
	struct imap_cmd *cmd;

	if (o->nchunks == o->capchunks) {
		o->capchunks = o->capchunks ? o->capchunks * 2 : 8;
		if ((o->chunks = reallocarray(o->chunks, o->capchunks,
		    sizeof(*o->chunks))) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
	}
	o->chunks[o->nchunks].lo = lo;
	o->chunks[o->nchunks].hi = hi;
	o->nchunks++;
	r->pending++;
	cmd = imap_cmd_new(o->conn, "UID SEARCH", ops_emu_chunk_cb, r);
	if (hi == 0)
		imap_cmd_printf(cmd, " UID %u:*", lo);
	else
		imap_cmd_printf(cmd, " UID %u:%u", lo, hi);
	ops_submit(cmd);
}

/*
 * A piece answered: the next one, up to the UIDNEXT the SELECT reported
 * (messages that came later are at the end, their UIDs unknown), or to
 * "*" without [UIDNEXT]; or, after the last, the list is complete.  One
 * piece at a time: the answers of two SEARCHes in flight could not be
 * told apart (RFC 3501 5.5; Dovecot runs them at once).  A mailbox whose
 * UIDs all fit in the first piece costs no more than one SEARCH.
 */
static void
ops_emu_chunk_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct ops_req *r = arg;
	struct imap_ops *o = r->ops;
	struct ops_chunk done = { 0, 0 };
	uint32_t top = r->sel_uidnext > 0 ? r->sel_uidnext - 1 : 0;

	if (o->nchunks > 0) {
		done = o->chunks[0];
		memmove(o->chunks, o->chunks + 1, (o->nchunks - 1) *
		    sizeof(*o->chunks));
		o->nchunks--;
	}
	if (resp->cond.status == IMAP_COND_OK && o->sq == SQ_BUILDING) {
		if (!o->search_seen)
			imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: "
			    "UID SEARCH answered OK without its result");
		if (done.hi != 0 && r->sel_uidnext == 0)
			ops_emu_chunk(o, r, done.hi + 1, 0);
		else if (done.hi != 0 && done.hi < top)
			ops_emu_chunk(o, r, done.hi + 1,
			    top - done.hi > OPS_SEARCH_CHUNK ?
			    done.hi + OPS_SEARCH_CHUNK : top);
		else if (!ops_emu_askagain(o, r, o->found, &o->nfound, 0))
			ops_emu_uids(o, o->found, o->nfound);
	}
	o->search_seen = 0;
	ops_cmd_cb(c, cmd, resp, arg);
}

/* A piece's SEARCH answer: its UIDs within lo:hi join the list. */
static void
ops_emu_chunk_found(struct imap_ops *o, const struct imap_resp *resp)
{
	const struct ops_chunk *ch = &o->chunks[0];
	const struct ops_req *r = TAILQ_FIRST(&o->reqs);
	uint32_t *v;
	size_t n, i, k = 0;

	o->search_seen = 1;
	if ((v = ops_search_uids(o, resp, &n)) == NULL)
		imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: UID "
		    "SEARCH found %zu messages in a mailbox of %u", n,
		    o->exists);
	/* Not above the SELECT's UIDNEXT (see ops_emu_askagain()). */
	for (i = 0; i < n; i++)
		if (v[i] >= ch->lo && (ch->hi == 0 || v[i] <= ch->hi) &&
		    (r == NULL || r->sel_uidnext == 0 || v[i] < r->sel_uidnext))
			v[k++] = v[i];
	if (o->nfound > 0 && k > 0 && v[0] <= o->found[o->nfound - 1])
		imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: UID "
		    "SEARCH UID %u:... found UID %u", ch->lo, v[0]);
	if ((uint64_t)o->nfound + k > o->exists)
		imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: UID "
		    "SEARCH found %zu messages in a mailbox of %u",
		    o->nfound + k, o->exists);
	if (o->nfound + k > o->capfound) {
		o->capfound = o->nfound + k + o->nfound / 2;
		if ((o->found = reallocarray(o->found, o->capfound,
		    sizeof(*o->found))) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
	}
	if (k > 0)
		memcpy(o->found + o->nfound, v, k * sizeof(*v));
	o->nfound += k;
	free(v);
}

static void
ops_emu_search_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct ops_req *r = arg;
	struct imap_ops *o = r->ops;

	/* Refused, with the SELECT refused first or not: r fails. */
	if (resp->cond.status == IMAP_COND_OK && o->sq == SQ_BUILDING &&
	    !o->search_seen)
		imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: UID "
		    "SEARCH answered OK without its result");
	o->search_seen = 0;
	ops_cmd_cb(c, cmd, resp, arg);
}

static int
ops_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The UIDs of an ESEARCH ALL or a SEARCH, sorted and unique; NULL if
 * there are more than the messages the session holds.
 */
static uint32_t *
ops_search_uids(struct imap_ops *o, const struct imap_resp *resp,
    size_t *np)
{
	const struct imap_set *all = &resp->esearch.all;
	uint32_t *v, u;
	uint64_t total = 0;
	size_t i, n = 0;

	if (resp->type == IMAP_RESP_ESEARCH) {
		if (!resp->esearch.uid)
			imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: "
			    "ESEARCH response without UID to UID SEARCH");
		if (resp->esearch.mask & IMAP_ES_ALL)
			for (i = 0; i < all->n; i++) {
				if (all->r[i].lo == IMAP_SET_STAR ||
				    all->r[i].hi == IMAP_SET_STAR)
					imap_conn_fail(o->conn, EXIT_PANIC,
					    "Protocol error: \"*\" in an "
					    "ESEARCH ALL");
				total += (uint64_t)(all->r[i].hi >
				    all->r[i].lo ? all->r[i].hi -
				    all->r[i].lo : all->r[i].lo -
				    all->r[i].hi) + 1;
			}
	} else
		total = resp->search.n;
	/* More than the session was told of: NULL, *np the count. */
	if (total > o->exists) {
		*np = total > SIZE_MAX ? SIZE_MAX : (size_t)total;
		return NULL;
	}
	if ((v = reallocarray(NULL, total ? total : 1, sizeof(*v))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	if (resp->type == IMAP_RESP_ESEARCH) {
		if (resp->esearch.mask & IMAP_ES_ALL)
			for (i = 0; i < all->n; i++) {
				u = all->r[i].lo < all->r[i].hi ?
				    all->r[i].lo : all->r[i].hi;
				for (;;) {
					v[n++] = u;
					if (u == (all->r[i].lo < all->r[i].hi ?
					    all->r[i].hi : all->r[i].lo))
						break;
					u++;
				}
			}
	} else
		for (i = 0; i < resp->search.n; i++)
			v[n++] = resp->search.v[i];
	qsort(v, n, sizeof(*v), ops_uid_cmp);
	for (i = total = 0; i < n; i++)
		if (i == 0 || v[i] != v[i - 1])
			v[total++] = v[i];
	*np = (size_t)total;
	return v;
}

/* Parses a known-uids set of the engine ("1:41", "3,7:9") into ranges. */
static struct imap_range *
ops_known_ranges(const char *s, size_t *np)
{
	struct imap_range *r = NULL;
	unsigned long long a, b;
	size_t n = 0;
	char *end;

	while (*s != '\0') {
		a = strtoull(s, &end, 10);
		b = a;
		if (*end == ':')
			b = strtoull(end + 1, &end, 10);
		if (a == 0 || b == 0 || a > UINT32_MAX || b > UINT32_MAX ||
		    (*end != ',' && *end != '\0'))
			fatalx(EXIT_CHILD, "engine: bad known-uids set");
		if ((r = reallocarray(r, n + 1, sizeof(*r))) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		r[n].lo = (uint32_t)(a < b ? a : b);
		r[n].hi = (uint32_t)(a < b ? b : a);
		n++;
		s = *end == ',' ? end + 1 : end;
	}
	*np = n;
	return r;
}

/*
 * A complete UID list (v, *np; over: more than the session holds) that
 * does not match the session's messages: Cyrus IMAP leaves out of a UID
 * SEARCH a message another session expunged, and puts in one another
 * session appended, before it has told this one (the EXPUNGE or EXISTS
 * comes with a later command).  Their places are unknown, so the list
 * cannot give sequence numbers: it is asked for again behind a NOOP,
 * once the EXPUNGEs and EXISTS are in (1); what comes meanwhile is
 * counted as before the first.  0: the list has, below the SELECT's
 * UIDNEXT, as many UIDs as the session has messages there, and above
 * it no more than the session's others: those it lacks are the last
 * ones, which the server told of after it searched (Dovecot runs an
 * APPEND pipelined behind the SEARCH alongside it), their UIDs unknown
 * (in pieces, which reach above UIDNEXT only by chance, those above are
 * cut off, *np less, and all later messages are unknown); or, without
 * UIDNEXT, as many as the session has messages.
 */
static int
ops_emu_askagain(struct imap_ops *o, struct ops_req *r, const uint32_t *v,
    size_t *np, int over)
{
	size_t n = *np, lo = 0, hi = n, mid;

	if (!over && r->sel_uidnext > 0) {
		/* lo: the UIDs below UIDNEXT (v is sorted). */
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (v[mid] < r->sel_uidnext)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == o->old && r->chunked) {
			*np = lo;
			return 0;
		}
		if (lo == o->old && n - lo <= o->exists - o->old)
			return 0;
	} else if (!over && n == o->exists)
		return 0;
	if (++o->researches > OPS_RESEARCH_MAX)
		imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: UID "
		    "SEARCH's %zu UIDs never matched the mailbox's %u "
		    "messages (%d tries)", n, o->exists, OPS_RESEARCH_MAX + 1);
	log_debug("UID SEARCH found %zu messages in a mailbox of %u: asking "
	    "again", n, o->exists);
	ops_submit(ops_cmd(o, r, "NOOP"));
	o->nfound = 0;
	ops_emu_search(o, r);
	return 1;
}

/*
 * The UID list of the selected mailbox is in: the sequence numbers are
 * known from here on, and, for a SELECT from the last synced state, the
 * known UIDs missing from the list go to the engine as VANISHED
 * (EARLIER), as QRESYNC would have reported them.
 */
static void
ops_emu_uids(struct imap_ops *o, const uint32_t *v, size_t n)
{
	struct ops_req *r = TAILQ_FIRST(&o->reqs);
	struct imap_set gone = { NULL, 0 };
	struct imap_range *known;
	struct imap_cmd *cmd;
	uint32_t lo;
	size_t nk, i, k, cap = 0;

	if (seqmap_set(&o->seq, v, n, o->exists - (uint32_t)n) == -1)
		imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: bad "
		    "UID in the UID SEARCH ALL result");
	o->sq = SQ_KNOWN;
	if (o->lost_plain && r != NULL && r->emu) {
		cmd = ops_cmd(o, r, "UID FETCH");
		imap_cmd_str(cmd, " 1:* (FLAGS)");
		ops_submit(cmd);
	}
	o->lost_plain = 0;
	if (o->lost_modseq > 0 && r != NULL && r->emu) {
		cmd = ops_cmd(o, r, "UID FETCH");
		imap_cmd_printf(cmd, " 1:* (FLAGS MODSEQ) (CHANGEDSINCE %llu)",
		    (unsigned long long)(o->lost_modseq - 1));
		ops_submit(cmd);
	}
	o->lost_modseq = 0;
	if (r != NULL && r->emu && r->known != NULL && !r->failed) {
		known = ops_known_ranges(r->known, &nk);
		for (k = i = 0; k < nk; k++) {
			lo = known[k].lo;
			while (i < n && v[i] < lo)
				i++;
			for (;;) {
				/* lo.. up to the next listed UID or hi */
				if (i < n && v[i] == lo) {
					if (lo == known[k].hi)
						break;
					lo++;
					i++;
					continue;
				}
				if (gone.n == cap) {
					cap = cap ? cap * 2 : 64;
					gone.r = reallocarray(gone.r, cap,
					    sizeof(*gone.r));
					if (gone.r == NULL)
						fatalx(EXIT_FAIL,
						    "out of memory");
				}
				gone.r[gone.n].lo = lo;
				gone.r[gone.n].hi = i < n && v[i] <= known[k].hi ?
				    v[i] - 1 : known[k].hi;
				lo = gone.r[gone.n].hi;
				gone.n++;
				if (lo == known[k].hi)
					break;
				lo++;
			}
		}
		free(known);
		if (gone.n > 0)
			ops_vanished_set(o, 1, &gone);
		free(gone.r);
	}
	o->nfound = 0;
}

/*
 * The session's data about the selected mailbox of a server synced with
 * CONDSTORE, in sequence numbers.  0: passed on as it is (fetch may have
 * been completed with its UID into *fix); 1: dealt with.
 */
static int
ops_seq_untagged(struct imap_ops *o, const struct imap_resp *resp,
    struct imap_fetch *fix)
{
	struct ops_req *r = TAILQ_FIRST(&o->reqs);
	int64_t uid;
	uint32_t u, *v;
	size_t n;

	if (r != NULL && r->emu && !r->sel_answered) {
		/* The SELECT's own data: the mailbox before is gone. */
		if (ops_emu_closed(o, r, resp))
			return 1;
		if (resp->type == IMAP_RESP_EXISTS)
			r->sel_exists = resp->num;
		if (resp->type == IMAP_RESP_COND &&
		    resp->cond.code.kind == IMAP_RC_UIDNEXT)
			r->sel_uidnext = resp->cond.code.num;
		return resp->type == IMAP_RESP_EXPUNGE;
	}
	switch (resp->type) {
	case IMAP_RESP_EXISTS:
		if (o->sq == SQ_BUILDING)
			o->exists = resp->num;
		else if (o->sq == SQ_KNOWN &&
		    seqmap_exists(&o->seq, resp->num) == -1)
			imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: "
			    "%u EXISTS in a mailbox of %llu messages",
			    resp->num,
			    (unsigned long long)seqmap_count(&o->seq));
		return 0;
	case IMAP_RESP_EXPUNGE:
		if (o->sq == SQ_BUILDING) {
			if (resp->num == 0 || resp->num > o->exists)
				goto bad_expunge;
			o->exists--;
			if (resp->num <= o->old)
				o->old--;
			/* Found already: messages 1..nfound are known. */
			if (resp->num <= o->nfound) {
				memmove(o->found + resp->num - 1,
				    o->found + resp->num, (o->nfound -
				    resp->num) * sizeof(*o->found));
				o->nfound--;
			}
		} else if (o->sq == SQ_KNOWN) {
			if ((uid = seqmap_expunge(&o->seq, resp->num)) == -1)
				goto bad_expunge;
			if (uid > 0)
				ops_vanished_uid(o, (uint32_t)uid);
		}
		return 1;
	case IMAP_RESP_SEARCH:
	case IMAP_RESP_ESEARCH:
		if (o->sq != SQ_BUILDING)
			return 1;
		if (r != NULL && r->emu && r->chunked && o->nchunks > 0) {
			ops_emu_chunk_found(o, resp);
			return 1;
		}
		o->search_seen = 1;
		v = ops_search_uids(o, resp, &n);
		if (r == NULL || !ops_emu_askagain(o, r, v, &n, v == NULL))
			ops_emu_uids(o, v, n);
		free(v);
		return 1;
	case IMAP_RESP_FETCH:
		if (o->sq == SQ_BUILDING && ops_plain(o) &&
		    !(resp->fetch.mask & IMAP_FA_UID) &&
		    (resp->fetch.mask & IMAP_FA_FLAGS))
			o->lost_plain = 1;
		/* (Without MODSEQ the engine stops the run anyway.) */
		if (o->sq == SQ_BUILDING && !ops_plain(o) &&
		    !(resp->fetch.mask & IMAP_FA_UID) &&
		    (resp->fetch.mask & IMAP_FA_MODSEQ) &&
		    resp->fetch.modseq > 1 && (o->lost_modseq == 0 ||
		    resp->fetch.modseq < o->lost_modseq))
			o->lost_modseq = resp->fetch.modseq;
		if (o->sq != SQ_KNOWN)
			return 0;
		if (resp->fetch.mask & IMAP_FA_UID) {
			if (seqmap_learn(&o->seq, resp->fetch.seq,
			    resp->fetch.uid) == -1)
				imap_conn_fail(o->conn, EXIT_PANIC, "Protocol "
				    "error: FETCH of message %u with UID %u "
				    "out of order", resp->fetch.seq,
				    resp->fetch.uid);
			return 0;
		}
		uid = seqmap_uid(&o->seq, resp->fetch.seq);
		if (uid == -1)
			imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: "
			    "FETCH of message %u in a mailbox of %llu",
			    resp->fetch.seq,
			    (unsigned long long)seqmap_count(&o->seq));
		if ((u = (uint32_t)uid) != 0) {
			*fix = resp->fetch;
			fix->uid = u;
			fix->mask |= IMAP_FA_UID;
		}
		return 0;
	default:
		return 0;
	}
bad_expunge:
	imap_conn_fail(o->conn, EXIT_PANIC, "Protocol error: EXPUNGE of "
	    "message %u in a mailbox of %llu", resp->num,
	    (unsigned long long)(o->sq == SQ_KNOWN ?
	    seqmap_count(&o->seq) : o->exists));
}

/* UNSELECT, NOOP: no argument. */
static void
ops_simple(struct imap_ops *o, const struct ipc_msg *msg, const char *name)
{
	struct ops_req *r;

	if (msg->len != 0)
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	ops_submit(ops_cmd(o, r, name));
	r->sealed = 1;
}

static const char *
ops_fetch_items(uint32_t items, char *buf, size_t len)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} names[] = {
		{ IMAP_FETCH_MODSEQ,		"MODSEQ" },
		{ IMAP_FETCH_FLAGS,		"FLAGS" },
		{ IMAP_FETCH_INTERNALDATE,	"INTERNALDATE" },
		{ IMAP_FETCH_SIZE,		"RFC822.SIZE" },
		{ IMAP_FETCH_ENVELOPE,		"ENVELOPE" },
		{ IMAP_FETCH_BODY,		"BODY.PEEK[]" },
	};
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((items & names[i].bit) == 0)
			continue;
		if (buf[0] != '\0')
			(void)strlcat(buf, " ", len);
		(void)strlcat(buf, names[i].name, len);
	}
	if (buf[0] == '\0')
		(void)strlcpy(buf, "UID", len);
	return buf;
}

/*
 * One command per piece of the set: prefix "<piece>" suffix.  Returns
 * the number of commands.
 */
static void
ops_split(struct imap_ops *o, struct ops_req *r, const struct ipc_msg *msg,
    const char *set, const char *name, const char *suffix)
{
	struct imap_cmd *cmd;
	const char *s = set;
	size_t len = strlen(set), n;

	while (len > 0) {
		if ((n = imap_uids_chunk(s, len, UIDSET_CHUNK_MAX)) == 0)
			ops_broken(msg, "UID set element too long");
		cmd = ops_cmd(o, r, name);
		imap_cmd_text(cmd, " ", 1);
		imap_cmd_text(cmd, s, n);
		imap_cmd_str(cmd, suffix);
		ops_submit(cmd);
		if (n == len)
			break;
		s += n + 1;
		len -= n + 1;
	}
}

static void
ops_fetch(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct ops_req *r;
	char *set, items[80], suffix[160];
	uint32_t what;
	uint64_t since;

	ipc_rd_init(&rd, msg);
	set = ipc_get_str(&rd);
	what = ipc_get_u32(&rd);
	since = ipc_get_u64(&rd);
	if (ipc_rd_end(&rd) == -1 || !ops_set_valid(set) ||
	    (what & ~(IMAP_FETCH_MODSEQ | IMAP_FETCH_FLAGS |
	    IMAP_FETCH_INTERNALDATE | IMAP_FETCH_BODY | IMAP_FETCH_ENVELOPE |
	    IMAP_FETCH_SIZE)))
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	if (ops_plain(o)) {
		/* Net gives the MODSEQs; the engine compares all flags. */
		what &= ~IMAP_FETCH_MODSEQ;
		since = 0;
	}
	if (since > 0)
		(void)snprintf(suffix, sizeof(suffix), " (%s) (CHANGEDSINCE "
		    "%llu)", ops_fetch_items(what, items, sizeof(items)),
		    (unsigned long long)since);
	else
		(void)snprintf(suffix, sizeof(suffix), " (%s)",
		    ops_fetch_items(what, items, sizeof(items)));
	ops_split(o, r, msg, set, "UID FETCH", suffix);
	free(set);
	r->sealed = 1;
}

/*
 * "(flag ...)" from a space-separated list; flags no server could take
 * (not atoms) are left out with a warning rather than break a command.
 */
static void
ops_flag_list(struct imap_buf *b, const char *flags)
{
	const char *s, *e;
	int first = 1;

	imap_buf_add(b, "(", 1);
	for (s = flags; *s != '\0'; s = e) {
		while (*s == ' ')
			s++;
		for (e = s; *e != '\0' && *e != ' '; e++)
			;
		if (e == s || (e - s == 7 && strncasecmp(s, "\\Recent",
		    7) == 0))
			continue;
		if (!imap_flag_valid(s, (size_t)(e - s))) {
			log_warnx("Not setting invalid flag %.*s",
			    (int)(e - s), s);
			continue;
		}
		if (!first)
			imap_buf_add(b, " ", 1);
		imap_buf_add(b, s, (size_t)(e - s));
		first = 0;
	}
	imap_buf_add(b, ")", 1);
}

static void
ops_store(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct ops_req *r;
	struct imap_buf b;
	char *set, *flags;
	uint64_t since;
	uint32_t mode;

	ipc_rd_init(&rd, msg);
	set = ipc_get_str(&rd);
	since = ipc_get_u64(&rd);
	mode = ipc_get_u32(&rd);
	flags = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 || !ops_set_valid(set) || flags == NULL ||
	    mode > IMAP_STORE_REMOVE)
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	imap_buf_init(&b);
	/*
	 * Without CONDSTORE, no UNCHANGEDSINCE (a change made meanwhile on
	 * the server is overwritten, as by every tool without it), and the
	 * server's FETCH of the flags it now has, which the engine keeps.
	 */
	if (since > 0 && !ops_plain(o))
		imap_buf_printf(&b, " (UNCHANGEDSINCE %llu)",
		    (unsigned long long)since);
	imap_buf_printf(&b, " %sFLAGS%s ", mode == IMAP_STORE_ADD ?
	    "+" : mode == IMAP_STORE_REMOVE ? "-" : "",
	    ops_plain(o) ? "" : ".SILENT");
	ops_flag_list(&b, flags);
	if (imap_buf_ok(&b) == -1)
		fatalx(EXIT_FAIL, "out of memory");
	ops_split(o, r, msg, set, "UID STORE", b.data);
	imap_buf_free(&b);
	free(set);
	free(flags);
	r->sealed = 1;
}

/* UID STORE +FLAGS.SILENT (\Deleted) then UID EXPUNGE, per piece. */
static void
ops_expunge(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct ops_req *r;
	struct imap_cmd *cmd;
	char *set, *s;
	size_t len, n;

	ipc_rd_init(&rd, msg);
	set = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 || !ops_set_valid(set))
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	for (s = set, len = strlen(set); len > 0; s += n + 1, len -= n + 1) {
		if ((n = imap_uids_chunk(s, len, UIDSET_CHUNK_MAX)) == 0)
			ops_broken(msg, "UID set element too long");
		cmd = ops_cmd(o, r, "UID STORE");
		imap_cmd_printf(cmd, " %.*s +FLAGS.SILENT (\\Deleted)",
		    (int)n, s);
		ops_submit(cmd);
		cmd = ops_cmd(o, r, "UID EXPUNGE");
		imap_cmd_printf(cmd, " %.*s", (int)n, s);
		ops_submit(cmd);
		if (n == len)
			break;
	}
	free(set);
	r->sealed = 1;
}

static void
ops_mailbox(struct imap_ops *o, const struct ipc_msg *msg)
{
	static const char *const names[] = {
		NULL, "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE"
	};
	struct ipc_rd rd;
	struct ops_req *r;
	struct imap_cmd *cmd;
	const void *name, *newname;
	size_t namelen, newlen;
	uint32_t op;

	ipc_rd_init(&rd, msg);
	op = ipc_get_u32(&rd);
	name = ipc_get_data(&rd, &namelen);
	newname = ipc_get_data(&rd, &newlen);
	if (ipc_rd_end(&rd) == -1 || op < IMAP_MBOP_CREATE ||
	    op > IMAP_MBOP_UNSUBSCRIBE || name == NULL ||
	    memchr(name, '\0', namelen) != NULL ||
	    (op == IMAP_MBOP_RENAME) != (newname != NULL) ||
	    (newname != NULL && memchr(newname, '\0', newlen) != NULL))
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	cmd = ops_cmd(o, r, names[op]);
	ops_astring(cmd, name, namelen);
	if (newname != NULL)
		ops_astring(cmd, newname, newlen);
	ops_submit(cmd);
	r->sealed = 1;
}

static void
ops_append(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	const void *name;
	size_t len;

	if (o->append != NULL)
		ops_broken(msg, "an APPEND is already open");
	ipc_rd_init(&rd, msg);
	name = ipc_get_data(&rd, &len);
	if (ipc_rd_end(&rd) == -1)
		ops_broken(msg, "bad layout");
	o->append = ops_req_new(o, msg);
	o->append->mailbox = ops_name(msg, name, len);
	o->append_cmd = NULL;
	o->append_nmsg = 0;
	o->append_left = 0;
}

static void
ops_append_msg(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct imap_buf b;
	char *flags, *date;
	uint64_t size;

	if (o->append == NULL || o->append_left > 0)
		ops_broken(msg, "not expected now");
	ipc_rd_init(&rd, msg);
	flags = ipc_get_str(&rd);
	date = ipc_get_str(&rd);
	size = ipc_get_u64(&rd);
	if (ipc_rd_end(&rd) == -1 || date == NULL)
		ops_broken(msg, "bad layout");
	if (!imap_conn_has_cap(o->conn, "UIDPLUS"))
		ops_amsg_add(o->append, size, date);
	if (o->append_nmsg++ == 0) {
		if (imap_conn_has_cap(o->conn, "UIDPLUS"))
			o->append_cmd = ops_cmd(o, o->append, "APPEND");
		else {
			o->append->pending++;
			o->appends_out++;
			o->append_cmd = imap_cmd_new(o->conn, "APPEND",
			    ops_append_emu_cb, o->append);
		}
		ops_astring(o->append_cmd, o->append->mailbox,
		    strlen(o->append->mailbox));
		/* Written as soon as the bytes arrive. */
		imap_cmd_submit(o->append_cmd);
	}
	imap_buf_init(&b);
	if (flags != NULL) {
		imap_buf_add(&b, " ", 1);
		ops_flag_list(&b, flags);
	}
	if (*date != '\0') {
		imap_buf_add(&b, " ", 1);
		if (imap_fmt_date(&b, date) == -1) {
			/* The server picks the date rather than break. */
			log_warnx("Not using invalid INTERNALDATE \"%s\"",
			    date);
			b.len--;
			b.data[b.len] = '\0';
		}
	}
	imap_buf_add(&b, " ", 1);
	if (imap_buf_ok(&b) == -1)
		fatalx(EXIT_FAIL, "out of memory");
	imap_cmd_text(o->append_cmd, b.data, b.len);
	imap_buf_free(&b);
	imap_cmd_literal(o->append_cmd, size);
	o->append_left = size;
	free(flags);
	free(date);
}

static void
ops_append_data(struct imap_ops *o, const struct ipc_msg *msg)
{
	if (o->append == NULL || o->append_cmd == NULL ||
	    (uint64_t)msg->len > o->append_left)
		ops_broken(msg, "more bytes than announced");
	imap_cmd_data(o->append_cmd, msg->data, msg->len);
	o->append_left -= msg->len;
}

static void
ops_append_end(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ops_req *r = o->append;

	if (r == NULL || o->append_left > 0 || msg->len != 0)
		ops_broken(msg, "not expected now");
	if (o->append_cmd != NULL)
		imap_cmd_end(o->append_cmd);
	else
		ops_req_fail(r, IMAP_DONE_BAD, "APPEND without a message");
	o->append = NULL;
	o->append_cmd = NULL;
	r->sealed = 1;
	ops_append_uids(o);
	ops_flush_done(o);
}

/*
 * UIDPLUS (RFC 4315) for a server without it: which UIDs the messages
 * of an APPEND got.  Its APPENDs (the engine pipelines them) are
 * answered first; then, with none in flight and none open, one
 *
 *	UID FETCH floor:* (UID RFC822.SIZE INTERNALDATE)
 *
 * lists what the selected mailbox gained since its SELECT (floor: its
 * UIDNEXT then, or past what the last such FETCH found), in UID order,
 * which is the order the server appended in.  The messages of the
 * waiting APPENDs, in their order, are matched to those, each with the
 * first of the same size and date not taken yet; each APPEND then
 * answers with the APPENDUID it would have had.  If another client
 * added a message that could be one of ours (the same size and date),
 * or ours are not all found, nothing is guessed: the APPENDs fail, and
 * the copies, unknown to the database, are recognised by the next run
 * (the engine's adopt.c), as after a crash at that point.
 */
static void
ops_amsg_add(struct ops_req *r, uint64_t size, const char *date)
{
	struct ops_amsg *m;

	if ((r->amsg = reallocarray(r->amsg, r->namsg + 1,
	    sizeof(*r->amsg))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	m = &r->amsg[r->namsg++];
	m->size = size;
	m->uid = 0;
	if (ops_date_epoch(date, &m->when) == -1)
		m->when = INT64_MIN;
}

/* An RFC 3501 date-time (no quotes) as seconds since the epoch. */
static int
ops_date_epoch(const char *s, int64_t *t)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *m;
	struct tm tm;
	char mon[4], sign;
	int day, year, hh, mm, ss, zh, zm, n = 0;

	if (s == NULL || sscanf(s, "%2d-%3s-%4d %2d:%2d:%2d %c%2d%2d%n",
	    &day, mon, &year, &hh, &mm, &ss, &sign, &zh, &zm, &n) != 9 ||
	    s[n] != '\0' || (sign != '+' && sign != '-') ||
	    strlen(mon) != 3 || (m = strstr(months, mon)) == NULL ||
	    (m - months) % 3 != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*t = (int64_t)timegm(&tm) - (sign == '-' ? -1 : 1) *
	    (int64_t)(zh * 3600 + zm * 60);
	return 0;
}

static void
ops_append_emu_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct ops_req *r = arg;
	struct imap_ops *o = r->ops;

	o->appends_out--;
	if (resp->cond.status == IMAP_COND_OK && !r->failed) {
		/* Its UIDs are looked for: its DONE waits (pending). */
		if ((o->await = reallocarray(o->await, o->nawait + 1,
		    sizeof(*o->await))) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
		o->await[o->nawait++] = r;
		r->pending++;
	}
	ops_cmd_cb(c, cmd, resp, arg);
	ops_append_uids(o);
}

/* The FETCH, once no APPEND is in flight or open. */
static void
ops_append_uids(struct imap_ops *o)
{
	struct imap_cmd *cmd;
	size_t i;

	if (o->nawait == 0 || o->appends_out > 0 || o->append != NULL ||
	    o->uid_fetch)
		return;
	for (i = 0; i < o->nawait; i++)
		if (o->sel_name == NULL ||
		    strcmp(o->sel_name, o->await[i]->mailbox) != 0 ||
		    o->sel_floor == 0 || o->sel_uidvalidity == 0) {
			ops_append_settle(o, "the server lacks UIDPLUS, and "
			    "the mailbox appended to was not selected with "
			    "its UIDVALIDITY and UIDNEXT");
			return;
		}
	o->uid_fetch = 1;
	o->nfound_new = 0;
	cmd = imap_cmd_new(o->conn, "UID FETCH", ops_append_fetch_cb, o);
	imap_cmd_printf(cmd, " %u:* (UID RFC822.SIZE INTERNALDATE)",
	    o->sel_floor);
	ops_submit(cmd);
}

/* A FETCH response while that FETCH is in flight: 1 if it took it. */
static int
ops_append_fetch_item(struct imap_ops *o, const struct imap_fetch *f)
{
	struct ops_amsg *m;

	if (!o->uid_fetch || (f->mask & (IMAP_FA_UID | IMAP_FA_RFC822_SIZE |
	    IMAP_FA_INTERNALDATE)) != (IMAP_FA_UID | IMAP_FA_RFC822_SIZE |
	    IMAP_FA_INTERNALDATE) || f->uid < o->sel_floor)
		return 0;
	if (o->nfound_new == o->capfound_new) {
		o->capfound_new = o->capfound_new ? o->capfound_new * 2 : 64;
		if ((o->found_new = reallocarray(o->found_new,
		    o->capfound_new, sizeof(*o->found_new))) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
	}
	m = &o->found_new[o->nfound_new++];
	m->uid = f->uid;
	m->taken = 0;
	m->size = f->rfc822_size;
	if (ops_date_epoch(f->internaldate, &m->when) == -1)
		m->when = INT64_MIN;
	return 1;
}

static int
ops_amsg_same(const struct ops_amsg *ours, const struct ops_amsg *theirs)
{
	return ours->size == theirs->size && (ours->when == INT64_MIN ||
	    ours->when == theirs->when);
}

/* By size, then date (INT64_MIN, "the server's", first). */
static int
ops_amsg_cmp(const void *a, const void *b)
{
	const struct ops_amsg *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return 0;
}

/*
 * Is a message the FETCH found, not one of ours, like one of ours (sig:
 * their sizes and dates, sorted by ops_amsg_cmp())?
 */
static int
ops_amsg_alike(const struct ops_amsg *sig, size_t n,
    const struct ops_amsg *theirs)
{
	struct ops_amsg key = *theirs;

	if (bsearch(&key, sig, n, sizeof(*sig), ops_amsg_cmp) != NULL)
		return 1;
	key.when = INT64_MIN;
	return bsearch(&key, sig, n, sizeof(*sig), ops_amsg_cmp) != NULL;
}

static void
ops_append_fetch_cb(struct imap_conn *c, struct imap_cmd *cmd,
    const struct imap_resp *resp, void *arg)
{
	struct imap_ops *o = arg;
	struct ops_amsg *f = o->found_new, *m, *sig = NULL;
	size_t i, k, n = o->nfound_new, next = 0, nsig = 0;
	const char *why = NULL;
	uint32_t top = 0;

	(void)c;
	(void)cmd;
	o->uid_fetch = 0;
	if (resp->cond.status != IMAP_COND_OK)
		why = "the FETCH of the new messages failed";
	for (i = 0; i < o->nawait; i++)
		nsig += o->await[i]->namsg;
	if ((sig = reallocarray(NULL, nsig, sizeof(*sig))) == NULL &&
	    nsig > 0)
		fatalx(EXIT_FAIL, "out of memory");
	nsig = 0;
	/* Ours in order, each to the first like it not taken yet. */
	for (i = 0; why == NULL && i < o->nawait; i++)
		for (k = 0; k < o->await[i]->namsg; k++) {
			m = &o->await[i]->amsg[k];
			while (next < n && !ops_amsg_same(m, &f[next]))
				next++;
			if (next == n) {
				why = "an appended message was not found";
				break;
			}
			f[next].taken = 1;
			m->uid = f[next++].uid;
			sig[nsig++] = *m;
		}
	/* Any other like one of ours, and which is which is a guess. */
	if (why == NULL)
		qsort(sig, nsig, sizeof(*sig), ops_amsg_cmp);
	for (k = 0; why == NULL && k < n; k++) {
		if (f[k].uid > top)
			top = f[k].uid;
		if (!f[k].taken && ops_amsg_alike(sig, nsig, &f[k]))
			why = "another client appended a message like one of "
			    "ours";
	}
	free(sig);
	if (why == NULL && top >= o->sel_floor && top < UINT32_MAX)
		o->sel_floor = top + 1;
	ops_append_settle(o, why);
}

/* Each waiting APPEND answers: its APPENDUID, or why not. */
static void
ops_append_settle(struct imap_ops *o, const char *why)
{
	struct ops_req *r;
	char num[16];
	size_t i, k;

	for (i = 0; i < o->nawait; i++) {
		r = o->await[i];
		r->pending--;
		if (why != NULL) {
			log_warnx("Cannot tell the UIDs of the messages "
			    "appended to %s: %s; the next run recognises "
			    "them", r->mailbox, why);
			ops_req_fail(r, IMAP_DONE_NO, "UIDs of the appended "
			    "messages unknown (the server lacks UIDPLUS)");
			continue;
		}
		r->code = IMAP_CODE_APPENDUID;
		imap_buf_reset(&r->codedata);
		(void)snprintf(num, sizeof(num), "%u", o->sel_uidvalidity);
		imap_buf_str(&r->codedata, num);
		for (k = 0; k < r->namsg; k++) {
			(void)snprintf(num, sizeof(num), "%u",
			    r->amsg[k].uid);
			imap_buf_str(&r->codedata, k == 0 ? " " : ",");
			imap_buf_str(&r->codedata, num);
		}
	}
	o->nawait = 0;
	ops_flush_done(o);
}

/* The mailbox now selected (NULL: none), for ops_append_uids(). */
static void
ops_selected(struct imap_ops *o, const char *name)
{
	if (name == NULL) {
		free(o->sel_name);
		o->sel_name = NULL;
		o->sel_uidvalidity = o->sel_floor = 0;
		return;
	}
	if (o->sel_name == NULL || strcmp(o->sel_name, name) != 0) {
		free(o->sel_name);
		if ((o->sel_name = strdup(name)) == NULL)
			fatalx(EXIT_FAIL, "out of memory");
	}
	if (o->pend_uidvalidity != 0)
		o->sel_uidvalidity = o->pend_uidvalidity;
	if (o->pend_uidnext != 0)
		o->sel_floor = o->pend_uidnext;
	o->pend_uidvalidity = o->pend_uidnext = 0;
}

static void
ops_logout(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ops_req *r;

	if (msg->len != 0)
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	r->sealed = 1;
	if (o->logout != NULL || o->closed) {
		ops_req_fail(r, IMAP_DONE_BAD, "session closed");
		ops_flush_done(o);
		return;
	}
	r->pending = 1;		/* until the session is closed */
	o->logout = r;
	imap_conn_logout(o->conn);
}

static void
ops_notify(struct imap_ops *o, const struct ipc_msg *msg)
{
	static const char events[] =
	    "(MessageNew MessageExpunge FlagChange)";
	struct ipc_rd rd;
	struct ops_req *r;
	struct imap_cmd *cmd;
	const void *name;
	size_t len;
	uint32_t flags, n, i;

	ipc_rd_init(&rd, msg);
	flags = ipc_get_u32(&rd);
	n = ipc_get_u32(&rd);
	if (rd.error || n > rd.left / 4 || (flags & ~(IMAP_NOTIFY_STATUS |
	    IMAP_NOTIFY_PERSONAL | IMAP_NOTIFY_NONE | IMAP_NOTIFY_EVENTS)) ||
	    ((flags & IMAP_NOTIFY_NONE) && (flags != IMAP_NOTIFY_NONE ||
	    n != 0)))
		ops_broken(msg, "bad layout");
	r = ops_req_new(o, msg);
	cmd = ops_cmd(o, r, "NOTIFY");
	if (flags & IMAP_NOTIFY_NONE)
		imap_cmd_str(cmd, " NONE");
	else {
		imap_cmd_str(cmd, " SET");
		if (flags & IMAP_NOTIFY_STATUS)
			imap_cmd_str(cmd, " STATUS");
		if (n > 0)
			imap_cmd_str(cmd, " (MAILBOXES (");
		for (i = 0; i < n; i++) {
			if ((name = ipc_get_data(&rd, &len)) == NULL ||
			    memchr(name, '\0', len) != NULL)
				ops_broken(msg, "bad mailbox name");
			if (i > 0)
				imap_cmd_text(cmd, " ", 1);
			imap_cmd_astring(cmd, name, len);
		}
		if (n > 0)
			imap_cmd_printf(cmd, ") %s)", events);
		imap_cmd_printf(cmd, " (SELECTED %s)", events);
		if (flags & IMAP_NOTIFY_EVENTS)
			imap_cmd_str(cmd, " (personal (MessageNew "
			    "MessageExpunge FlagChange MailboxName "
			    "SubscriptionChange))");
		else if (flags & IMAP_NOTIFY_PERSONAL)
			imap_cmd_str(cmd, " (personal (MailboxName "
			    "SubscriptionChange))");
	}
	if (ipc_rd_end(&rd) == -1)
		ops_broken(msg, "bad layout");
	ops_submit(cmd);
	r->sealed = 1;
}

/*
 * A SELECT of a server synced with CONDSTORE still answering: its UID
 * list may be asked for again, or flag changes fetched again by UID,
 * after the commands that follow it.
 */
static int
ops_emu_busy(const struct imap_ops *o)
{
	const struct ops_req *r;

	TAILQ_FOREACH(r, &o->reqs, entry)
		if (r->emu && r->pending > 0)
			return 1;
	return 0;
}

/*
 * IDLE: open until IDLE_DONE (or any other request).  Behind such a
 * SELECT it waits to be written until the SELECT is answered whole:
 * what the SELECT adds would otherwise wait behind the IDLE, and the
 * engine, which ends an IDLE only when it has something else to do,
 * for the SELECT (a --notify run with Cyrus IMAP stalled so).
 */
static void
ops_idle(struct imap_ops *o, const struct ipc_msg *msg)
{
	if (msg->len != 0)
		ops_broken(msg, "bad layout");
	o->idle = ops_req_new(o, msg);
	o->idle_cmd = ops_cmd(o, o->idle, "IDLE");
	imap_cmd_cont(o->idle_cmd);
	o->idle->sealed = 1;
	if (ops_emu_busy(o))
		o->idle_held = 1;
	else
		imap_cmd_submit(o->idle_cmd);
}

/* The held IDLE goes out (ops_idle()). */
static void
ops_idle_release(struct imap_ops *o)
{
	if (!o->idle_held)
		return;
	o->idle_held = 0;
	imap_cmd_submit(o->idle_cmd);
}

/* "DONE" after the server's "+" (the writer waits for it). */
static void
ops_idle_end(struct imap_ops *o)
{
	if (o->idle_cmd == NULL)
		return;
	ops_idle_release(o);
	imap_cmd_str(o->idle_cmd, "DONE");
	imap_cmd_end(o->idle_cmd);
	o->idle_cmd = NULL;
	o->idle = NULL;
}

void
imap_ops_request(struct imap_ops *o, const struct ipc_msg *msg)
{
	struct ops_req *r;

	if (o->append != NULL && msg->hdr.type != IMSG_IMAP_APPEND_MSG &&
	    msg->hdr.type != IMSG_IMAP_APPEND_DATA &&
	    msg->hdr.type != IMSG_IMAP_APPEND_END)
		ops_broken(msg, "inside an APPEND batch");
	if (msg->hdr.type == IMSG_IMAP_IDLE_DONE) {
		if (o->idle_cmd == NULL || msg->len != 0)
			ops_broken(msg, "no IDLE in progress");
		ops_idle_end(o);
		return;
	}
	/* Anything else needs the IDLE over first. */
	ops_idle_end(o);
	if ((o->closed || o->logout != NULL) &&
	    msg->hdr.type != IMSG_IMAP_LOGOUT) {
		/* Still answered, in order. */
		if (msg->hdr.type == IMSG_IMAP_APPEND_MSG ||
		    msg->hdr.type == IMSG_IMAP_APPEND_DATA ||
		    msg->hdr.type == IMSG_IMAP_APPEND_END)
			ops_broken(msg, "APPEND after LOGOUT");
		r = ops_req_new(o, msg);
		r->sealed = 1;
		ops_req_fail(r, IMAP_DONE_BAD, "session closed");
		ops_flush_done(o);
		return;
	}
	switch (msg->hdr.type) {
	case IMSG_IMAP_LIST:
		ops_list(o, msg);
		break;
	case IMSG_IMAP_SELECT:
		ops_select(o, msg);
		break;
	case IMSG_IMAP_UNSELECT:
		ops_simple(o, msg, "UNSELECT");
		break;
	case IMSG_IMAP_NOOP:
		ops_simple(o, msg, "NOOP");
		break;
	case IMSG_IMAP_FETCH:
		ops_fetch(o, msg);
		break;
	case IMSG_IMAP_STORE:
		ops_store(o, msg);
		break;
	case IMSG_IMAP_EXPUNGE:
		ops_expunge(o, msg);
		break;
	case IMSG_IMAP_MAILBOX:
		ops_mailbox(o, msg);
		break;
	case IMSG_IMAP_APPEND:
		ops_append(o, msg);
		break;
	case IMSG_IMAP_APPEND_MSG:
		ops_append_msg(o, msg);
		break;
	case IMSG_IMAP_APPEND_DATA:
		ops_append_data(o, msg);
		break;
	case IMSG_IMAP_APPEND_END:
		ops_append_end(o, msg);
		break;
	case IMSG_IMAP_LOGOUT:
		ops_logout(o, msg);
		break;
	case IMSG_IMAP_NOTIFY:
		ops_notify(o, msg);
		break;
	case IMSG_IMAP_IDLE:
		ops_idle(o, msg);
		break;
	default:
		ops_broken(msg, "not expected from the engine");
	}
	ops_flush_done(o);
}

/* ---- what the server says ------------------------------------------------ */

void
imap_ops_ready(struct imap_ops *o)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_u32(&b, imap_conn_capbits(o->conn));
	ipc_put_u64(&b, imap_conn_appendlimit(o->conn));
	ops_send(o, IMSG_IMAP_READY, 0, &b);
}

void
imap_ops_closed(struct imap_ops *o)
{
	struct ops_req *r;

	o->closed = 1;
	/* Their requests fail below: no UIDs to look for any more. */
	o->nawait = 0;
	o->uid_fetch = 0;
	TAILQ_FOREACH(r, &o->reqs, entry) {
		if (r == o->logout) {
			r->pending = 0;
			continue;
		}
		if (r->pending > 0) {
			ops_req_fail(r, IMAP_DONE_BAD, "session closed");
			r->pending = 0;
		}
	}
	o->logout = NULL;
	ops_flush_done(o);
}

static uint32_t
ops_attrs(const struct imap_strlist *l)
{
	static const struct {
		const char	*name;
		uint32_t	 bit;
	} attrs[] = {
		{ "\\Noselect",		IMAP_MBX_NOSELECT },
		{ "\\NonExistent",	IMAP_MBX_NONEXISTENT },
		{ "\\Subscribed",	IMAP_MBX_SUBSCRIBED },
		{ "\\HasChildren",	IMAP_MBX_HASCHILDREN },
		{ "\\HasNoChildren",	IMAP_MBX_HASNOCHILDREN },
		{ "\\Noinferiors",	IMAP_MBX_NOINFERIORS },
		{ "\\Marked",		IMAP_MBX_MARKED },
		{ "\\Unmarked",		IMAP_MBX_UNMARKED },
		{ "\\Remote",		IMAP_MBX_REMOTE },
	};
	uint32_t bits = 0;
	size_t i;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (imap_strlist_has(l, attrs[i].name))
			bits |= attrs[i].bit;
	return bits;
}

/* IMSG_IMAP_LIST_ITEM of request id: attributes, delimiter, name. */
static void
ops_list_send(struct imap_ops *o, uint32_t id, uint32_t attrs, int delim,
    const char *name)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_u32(&b, attrs);
	ipc_put_u32(&b, delim < 0 ? IMAP_DELIM_NIL :
	    (uint32_t)(unsigned char)delim);
	ipc_put_data(&b, name, strlen(name));
	ops_send(o, IMSG_IMAP_LIST_ITEM, id, &b);
}

static void
ops_list_item(struct imap_ops *o, const struct imap_list *l)
{
	ops_list_send(o, ops_cur_id(o), ops_attrs(&l->attrs), l->delim,
	    l->name);
}

static void
ops_status_item(struct imap_ops *o, const struct imap_status_resp *s)
{
	struct ipc_buf b;
	uint32_t mask = 0;

	if (s->mask & IMAP_SA_UIDVALIDITY)
		mask |= IMAP_ST_UIDVALIDITY;
	if (s->mask & IMAP_SA_UIDNEXT)
		mask |= IMAP_ST_UIDNEXT;
	if (s->mask & IMAP_SA_HIGHESTMODSEQ)
		mask |= IMAP_ST_HIGHESTMODSEQ;
	if (s->mask & IMAP_SA_MESSAGES)
		mask |= IMAP_ST_MESSAGES;
	ipc_buf_init(&b);
	ipc_put_data(&b, s->name, strlen(s->name));
	ipc_put_u32(&b, mask);
	ipc_put_u32(&b, s->uidvalidity);
	ipc_put_u32(&b, s->uidnext);
	ipc_put_u64(&b, s->highestmodseq);
	ipc_put_u32(&b, s->messages);
	ops_send(o, IMSG_IMAP_STATUS_ITEM, ops_cur_id(o), &b);
}

/* Response codes of untagged responses the engine keeps state from. */
static void
ops_untagged_code(struct imap_ops *o, const struct imap_code *code)
{
	struct ipc_buf b;
	uint64_t value = 0;

	switch (code->kind) {
	case IMAP_RC_UIDVALIDITY:
	case IMAP_RC_UIDNEXT:
		value = code->num;
		if (TAILQ_FIRST(&o->reqs) != NULL &&
		    TAILQ_FIRST(&o->reqs)->type == IMSG_IMAP_SELECT &&
		    code->num <= UINT32_MAX) {
			if (code->kind == IMAP_RC_UIDVALIDITY)
				o->pend_uidvalidity = (uint32_t)code->num;
			else
				o->pend_uidnext = (uint32_t)code->num;
		}
		break;
	case IMAP_RC_HIGHESTMODSEQ:
	case IMAP_RC_NOMODSEQ:
		/* Synced plain: the MODSEQs are net's (ipc/imap_proto.h). */
		if (ops_plain(o))
			return;
		if (code->kind == IMAP_RC_HIGHESTMODSEQ)
			value = code->modseq;
		break;
	case IMAP_RC_UIDNOTSTICKY:
	case IMAP_RC_CLOSED:
	case IMAP_RC_READ_ONLY:
	case IMAP_RC_READ_WRITE:
		break;
	default:
		return;
	}
	ipc_buf_init(&b);
	ipc_put_u32(&b, ops_code(code->kind));
	ipc_put_u64(&b, value);
	ipc_put_str(&b, code->arg != NULL ? code->arg : "");
	ops_send(o, IMSG_IMAP_CODE, ops_cur_id(o), &b);
}

/* VANISHED [(EARLIER)] of a set, in pieces the IPC bound allows. */
static void
ops_vanished_set(struct imap_ops *o, int earlier, const struct imap_set *set)
{
	struct imap_buf s;
	struct ipc_buf b;
	size_t i;

	imap_buf_init(&s);
	for (i = 0; i < set->n; i++) {
		if (s.len > 0)
			imap_buf_add(&s, ",", 1);
		ops_set_format(&s, &set->r[i]);
		if (s.len < OPS_SET_PIECE && i + 1 < set->n)
			continue;
		if (imap_buf_ok(&s) == -1)
			fatalx(EXIT_FAIL, "out of memory");
		ipc_buf_init(&b);
		ipc_put_u32(&b, earlier ? 1 : 0);
		ipc_put_str(&b, s.data);
		ops_send(o, IMSG_IMAP_VANISHED, ops_cur_id(o), &b);
		imap_buf_reset(&s);
	}
	imap_buf_free(&s);
}

/* An expunge in sequence numbers, as QRESYNC would have said it. */
static void
ops_vanished_uid(struct imap_ops *o, uint32_t uid)
{
	struct imap_range one = { uid, uid };
	struct imap_set set = { &one, 1 };

	ops_vanished_set(o, 0, &set);
}

static uint32_t
ops_fetch_mask(uint32_t fa)
{
	uint32_t m = 0;

	if (fa & IMAP_FA_UID)
		m |= IMAP_FETCH_UID;
	if (fa & IMAP_FA_MODSEQ)
		m |= IMAP_FETCH_MODSEQ;
	if (fa & IMAP_FA_FLAGS)
		m |= IMAP_FETCH_FLAGS;
	if (fa & IMAP_FA_INTERNALDATE)
		m |= IMAP_FETCH_INTERNALDATE;
	if (fa & IMAP_FA_ENVELOPE)
		m |= IMAP_FETCH_ENVELOPE;
	if (fa & IMAP_FA_RFC822_SIZE)
		m |= IMAP_FETCH_SIZE;
	if (fa & IMAP_FA_BODY)
		m |= IMAP_FETCH_BODY;
	return m;
}

/*
 * IMSG_IMAP_FETCH_ITEM with the items of fa (IMAP_FA_*) from f; body 1:
 * a body of size bytes follows; body 2: these items came after the body
 * of the previous item (IMAP_FETCH_CONT).
 */
static void
ops_fetch_item(struct imap_ops *o, const struct imap_fetch *f, uint32_t fa,
    int body, uint64_t size)
{
	struct ipc_buf b;
	char *flags = NULL;

	fa &= ~IMAP_FA_BODY;
	if ((fa & IMAP_FA_FLAGS) &&
	    (flags = imap_flags_join(f->flags.v, f->flags.n)) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	ipc_buf_init(&b);
	ipc_put_u32(&b, f->seq);
	ipc_put_u32(&b, (fa & IMAP_FA_UID) ? f->uid : 0);
	if (ops_plain(o)) {
		/* Each report newer than all before (ipc/imap_proto.h). */
		fa |= IMAP_FA_MODSEQ;
		ipc_put_u64(&b, ++o->fake_modseq);
	} else
		ipc_put_u64(&b, (fa & IMAP_FA_MODSEQ) ? f->modseq : 0);
	ipc_put_u32(&b, ops_fetch_mask(fa) | (body == 1 ? IMAP_FETCH_BODY :
	    body == 2 ? IMAP_FETCH_CONT : 0));
	ipc_put_str(&b, flags != NULL ? flags : "");
	ipc_put_str(&b, (fa & IMAP_FA_INTERNALDATE) &&
	    f->internaldate != NULL ? f->internaldate : "");
	ipc_put_u64(&b, body == 1 ? size :
	    (fa & IMAP_FA_RFC822_SIZE) ? f->rfc822_size : 0);
	ipc_put_str(&b, (fa & IMAP_FA_ENVELOPE) && f->env_from != NULL ?
	    f->env_from : "");
	free(flags);
	ops_send(o, IMSG_IMAP_FETCH_ITEM, ops_cur_id(o), &b);
}

static void
ops_body_end(struct imap_ops *o, uint32_t uid)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_u32(&b, uid);
	ops_send(o, IMSG_IMAP_BODY_END, ops_cur_id(o), &b);
}

/* The complete FETCH response (its body, if any, already went out). */
static void
ops_fetch_resp(struct imap_ops *o, const struct imap_fetch *f)
{
	uint32_t after;

	if (o->body_skip) {
		/* Too big to pass: the message is left for next time. */
	} else if (o->body_done) {
		/*
		 * Items the server sent after the body literal, with the
		 * UID (wherever it was) to say which message they are of.
		 */
		after = f->mask & ~o->body_mask & ~IMAP_FA_BODY;
		if (after & ~IMAP_FA_UID)
			ops_fetch_item(o, f, after | (f->mask & IMAP_FA_UID),
			    2, 0);
	} else if (f->body_state == IMAP_BODY_NIL) {
		/* BODY[] NIL: a body of no bytes. */
		ops_fetch_item(o, f, f->mask, 1, 0);
		ops_body_end(o, (f->mask & IMAP_FA_UID) ? f->uid : 0);
	} else
		ops_fetch_item(o, f, f->mask, 0, 0);
	o->body_done = o->body_skip = o->body_active = 0;
	o->body_mask = 0;
}

void
imap_ops_untagged(struct imap_ops *o, const struct imap_resp *r)
{
	struct ipc_buf b;
	struct imap_fetch fix;

	fix.mask = 0;
	if (ops_emulated(o) && ops_seq_untagged(o, r, &fix))
		return;
	switch (r->type) {
	case IMAP_RESP_COND:
		ops_untagged_code(o, &r->cond.code);
		break;
	case IMAP_RESP_EXISTS:
		ipc_buf_init(&b);
		ipc_put_u32(&b, r->num);
		ops_send(o, IMSG_IMAP_EXISTS, ops_cur_id(o), &b);
		break;
	case IMAP_RESP_EXPUNGE:
		if (imap_conn_enabled(o->conn, "QRESYNC"))
			imap_conn_fail(o->conn, EXIT_PANIC, "RFC 7162 "
			    "violation! Got an EXPUNGE response with QRESYNC "
			    "enabled.");
		break;
	case IMAP_RESP_VANISHED:
		ops_vanished_set(o, r->vanished.earlier, &r->vanished.uids);
		break;
	case IMAP_RESP_FETCH:
		if (ops_append_fetch_item(o, fix.mask != 0 ? &fix :
		    &r->fetch))
			break;
		ops_fetch_resp(o, fix.mask != 0 ? &fix : &r->fetch);
		break;
	case IMAP_RESP_LIST:
		if (ops_list_keep(o, &r->list))
			break;
		ops_list_note(o, &r->list);
		ops_list_item(o, &r->list);
		break;
	case IMAP_RESP_STATUS:
		ops_status_item(o, &r->status);
		break;
	default:
		/* FLAGS, RECENT, SEARCH, ESEARCH, others: nothing to do. */
		break;
	}
}

void
imap_ops_body(struct imap_ops *o, const struct imap_event *ev)
{
	struct ops_req *r;

	switch (ev->type) {
	case IMAP_EV_BODY_BEGIN:
		/* Only the whole message, once per response. */
		if (!ev->whole || o->body_done || o->body_active ||
		    o->body_skip)
			return;
		ops_fetch_item(o, ev->fetch, ev->fetch->mask, 1, ev->size);
		o->body_active = 1;
		o->body_mask = ev->fetch->mask;
		break;
	case IMAP_EV_BODY_CHUNK:
		if (!o->body_active || ev->len == 0)
			return;
		if (o->engine->fd == -1)
			return;
		if (ipc_compose(o->engine, IMSG_IMAP_BODY_DATA, ops_cur_id(o),
		    -1, ev->data, ev->len) == -1)
			fatalx(EXIT_CHILD, "%s", o->engine->err);
		break;
	case IMAP_EV_BODY_END:
		if (!o->body_active)
			return;
		o->body_active = 0;
		o->body_done = 1;
		ops_body_end(o, (ev->fetch->mask & IMAP_FA_UID) ?
		    ev->fetch->uid : 0);
		break;
	case IMAP_EV_BODY_TOOBIG:
		if (!ev->whole || o->body_done || o->body_active)
			return;
		o->body_skip = 1;
		log_error("%s", ev->error);
		if ((r = TAILQ_FIRST(&o->reqs)) != NULL)
			ops_req_fail(r, IMAP_DONE_NO, ev->error);
		break;
	default:
		break;
	}
}
