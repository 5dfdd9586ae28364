/*
 * The engine against scripted fake peers (HOUSE-STYLE: isync's way).
 * The engine runs in a child process on socketpairs, exactly as in the
 * daemon; this process plays priv (with the real database code, priv_db.c
 * and db.c, on a scratch file) and both nets, each net being a small
 * in-memory IMAP server speaking ipc/imap_proto.h.  Between runs a test
 * changes the fake servers directly, as another client would.
 *
 * Covered: first sync both ways, log lines as the reference prints them,
 * new mailboxes, flag propagation and conflicts, expunges both ways, a
 * flag change and an expunge of the same message in one round (§9.2),
 * no empty FETCH after our own APPEND (§9.6), a refused UID EXPUNGE
 * (§9.8), resuming an interrupted sync (§6.5), UIDVALIDITY changes, the
 * refusal of a mailbox known but gone from one side, unmatched vanished
 * UIDs, 0-length messages, bodies in pieces as large as a piece may be
 * (the flow control between the two nets), a UID EXPUNGE answered
 * without [HIGHESTMODSEQ].
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "conf_proto.h"
#include "db_proto.h"
#include "imap_proto.h"
#include "eng.h"
#include "db.h"
#include "priv_db.h"
#include "tap.h"

/* ------------------------------------------------------------------ */
/* A fake IMAP server. */

struct fmsg {
	uint32_t	 uid;
	uint64_t	 modseq;
	char		 flags[256];
	char		 date[64];
	char		*body;
	size_t		 len;
};

struct fgone {
	uint32_t	 uid;
	uint64_t	 modseq;
};

struct fmbox {
	char		 name[128];
	uint32_t	 uv, uidnext;
	uint64_t	 hms;
	int		 sub;
	struct fmsg	*m;
	size_t		 n, cap;
	struct fgone	*gone;
	size_t		 ngone;
};

struct fsrv {
	const char	*label;
	struct ipc_chan	 chan;
	char		 delim;
	uint32_t	 caps;
	uint64_t	 appendlimit;	/* APPENDLIMIT=n, 0: none */
	struct fmbox	*mb[32];
	size_t		 nmb;
	struct fmbox	*sel;
	uint32_t	 next_uv;
	int		 refuse_expunge;
	int		 late_meta;	/* UID, FLAGS, ... after BODY[] */
	int		 no_append_hms;	/* as Cyrus: APPEND without it */
	int		 no_expunge_hms; /* as Dovecot, commands pipelined */
	int		 late_expunge;	/* as Dovecot: a STORE sent after the
					   EXPUNGE gets the lower MODSEQ */
	uint32_t	 vanish_below;	/* QRESYNC: VANISHED 1:n-1 */
	/*
	 * Another client, right after our body FETCH of after_uid: sets
	 * its flags to after_flags, or expunges it (after_expunge); the
	 * session reports it at once (FETCH FLAGS, or VANISHED without
	 * [HIGHESTMODSEQ], as Cyrus).  Once.
	 */
	uint32_t	 after_uid;
	int		 after_expunge;
	char		 after_flags[64];
	/*
	 * Another client, while our APPEND to the selected mailbox is
	 * answered: sets hidden_uid's flags to hidden_flags, below the
	 * [HIGHESTMODSEQ] the answer gives, and not reported with it but
	 * with the next NOOP's (as Dovecot, now and then).  Once.
	 */
	uint32_t	 hidden_uid;
	char		 hidden_flags[64];
	uint32_t	 unreported;
	int		 nnoop;
	int		 nfetch_body;	/* FETCH requests with BODY */
	int		 nfetch;	/* FETCH requests */
	int		 nstore;	/* STORE requests */
	int		 nselect;
	/* An APPEND being received. */
	struct fmbox	*app;
	uint32_t	 app_id;
	struct fmsg	 pend;
	uint64_t	 pend_size;
	uint32_t	 app_first, app_n;
};

static struct fmbox *
fs_mbox(struct fsrv *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nmb; i++)
		if (strcmp(s->mb[i]->name, name) == 0)
			return s->mb[i];
	return NULL;
}

static struct fmbox *
fs_create(struct fsrv *s, const char *name)
{
	struct fmbox *mb;

	if ((mb = fs_mbox(s, name)) != NULL)
		return mb;
	mb = calloc(1, sizeof(*mb));
	(void)strlcpy(mb->name, name, sizeof(mb->name));
	mb->uv = s->next_uv++;
	mb->uidnext = 1;
	mb->hms = 1;
	s->mb[s->nmb++] = mb;
	return mb;
}

static unsigned int fs_clock;

static struct fmsg *
fs_add(struct fmbox *mb, const char *body, const char *flags)
{
	struct fmsg *m;

	if (mb->n == mb->cap) {
		mb->cap = mb->cap ? mb->cap * 2 : 16;
		mb->m = reallocarray(mb->m, mb->cap, sizeof(*mb->m));
	}
	m = &mb->m[mb->n++];
	memset(m, 0, sizeof(*m));
	m->uid = mb->uidnext++;
	m->modseq = ++mb->hms;
	(void)strlcpy(m->flags, flags, sizeof(m->flags));
	/* A different second for every message. */
	(void)snprintf(m->date, sizeof(m->date), "01-Feb-2024 10:%02u:%02u "
	    "+0100", (fs_clock / 60) % 60, fs_clock % 60);
	fs_clock++;
	m->len = strlen(body);
	m->body = strdup(body);
	return m;
}

/* Messages are kept in UID order: a binary search. */
static struct fmsg *
fs_msg(struct fmbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mb->m[mid].uid == uid)
			return &mb->m[mid];
		if (mb->m[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A UID set parsed once, for sets of many thousand UIDs. */
struct fset {
	struct uidranges rs;
};

static void
fset_parse(struct fset *f, const char *set)
{
	memset(f, 0, sizeof(*f));
	if (set != NULL)
		(void)uidset_parse(set, &f->rs);
	uidranges_normalize(&f->rs);
}

static int
fset_has(const struct fset *f, uint32_t uid)
{
	return uidranges_has(&f->rs, uid);
}

/* Another client changes flags. */
static void
fs_setflags(struct fmbox *mb, uint32_t uid, const char *flags)
{
	struct fmsg *m = fs_msg(mb, uid);

	if (m == NULL)
		return;
	(void)strlcpy(m->flags, flags, sizeof(m->flags));
	m->modseq = ++mb->hms;
}

static void
fs_expunge(struct fmbox *mb, uint32_t uid)
{
	struct fmsg *m;
	size_t i;

	if ((m = fs_msg(mb, uid)) == NULL)
		return;
	i = (size_t)(m - mb->m);
	free(mb->m[i].body);
	memmove(&mb->m[i], &mb->m[i + 1], (mb->n - i - 1) * sizeof(*mb->m));
	mb->n--;
	mb->gone = reallocarray(mb->gone, mb->ngone + 1, sizeof(*mb->gone));
	mb->gone[mb->ngone].uid = uid;
	mb->gone[mb->ngone].modseq = ++mb->hms;
	mb->ngone++;
}

/* The mailbox's HIGHESTMODSEQ, its expunges' included. */
static uint64_t
fs_hms(const struct fmbox *mb)
{
	uint64_t h = mb->hms;
	size_t i;

	for (i = 0; i < mb->ngone; i++)
		if (mb->gone[i].modseq > h)
			h = mb->gone[i].modseq;
	return h;
}

/* Contents and flags only, sorted by body: what both sides must share. */
static char *
fs_content(struct fmbox *mb)
{
	/* Two calls in one check must not share a buffer. */
	static char bufs[4][8192];
	static unsigned int next;
	char *out = bufs[next++ % 4];
	char *lines[256];
	size_t i, j, n = 0;

	out[0] = '\0';
	if (mb == NULL)
		return out;
	for (i = 0; i < mb->n && n < 256; i++) {
		char one[512];

		(void)snprintf(one, sizeof(one), "[%s|%s]", mb->m[i].body,
		    mb->m[i].flags);
		lines[n++] = strdup(one);
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char *t = lines[j];

			lines[j] = lines[j - 1];
			lines[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)strlcat(out, " ", sizeof(out));
		(void)strlcat(out, lines[i], sizeof(out));
		free(lines[i]);
	}
	return out;
}

static void
fs_send(struct fsrv *s, uint32_t type, uint32_t id, struct ipc_buf *b)
{
	if (ipc_send(&s->chan, type, id, -1, b) == -1)
		fprintf(stderr, "fake %s: %s\n", s->label, s->chan.err);
}

static void
fs_done(struct fsrv *s, uint32_t id, uint32_t status, uint32_t code,
    const char *data, const char *text)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_u32(&b, status);
	ipc_put_u32(&b, code);
	ipc_put_str(&b, data ? data : "");
	ipc_put_str(&b, text ? text : "done");
	fs_send(s, IMSG_IMAP_DONE, id, &b);
	ipc_buf_free(&b);
}

static void
fs_code(struct fsrv *s, uint32_t id, uint32_t code, uint64_t v)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_u32(&b, code);
	ipc_put_u64(&b, v);
	ipc_put_str(&b, "");
	fs_send(s, IMSG_IMAP_CODE, id, &b);
	ipc_buf_free(&b);
}

static void
fs_u32(struct fsrv *s, uint32_t type, uint32_t id, uint32_t v)
{
	struct ipc_buf b;

	ipc_buf_init(&b);
	ipc_put_u32(&b, v);
	fs_send(s, type, id, &b);
	ipc_buf_free(&b);
}

static void
fs_vanished(struct fsrv *s, uint32_t id, int earlier, const uint32_t *uids,
    size_t n)
{
	struct ipc_buf b;
	char *set;

	if (n == 0)
		return;
	set = uid_compact_set(uids, n);
	ipc_buf_init(&b);
	ipc_put_u32(&b, earlier);
	ipc_put_str(&b, set);
	fs_send(s, IMSG_IMAP_VANISHED, id, &b);
	ipc_buf_free(&b);
	free(set);
}

static void
fs_fetch_item(struct fsrv *s, uint32_t id, struct fmbox *mb, struct fmsg *m,
    uint32_t items)
{
	struct ipc_buf b;
	uint32_t mask = IMAP_FETCH_UID | IMAP_FETCH_MODSEQ;
	uint32_t seq = (uint32_t)(m - mb->m) + 1;

	if (items & IMAP_FETCH_FLAGS)
		mask |= IMAP_FETCH_FLAGS;
	if (items & IMAP_FETCH_INTERNALDATE)
		mask |= IMAP_FETCH_INTERNALDATE;
	if (items & IMAP_FETCH_BODY)
		mask |= IMAP_FETCH_BODY;
	ipc_buf_init(&b);
	ipc_put_u32(&b, seq);
	if (s->late_meta && (mask & IMAP_FETCH_BODY)) {
		/* "* n FETCH (BODY[] {len}... UID u MODSEQ (m) FLAGS ...)" */
		ipc_put_u32(&b, 0);
		ipc_put_u64(&b, 0);
		ipc_put_u32(&b, IMAP_FETCH_BODY);
		ipc_put_str(&b, "");
		ipc_put_str(&b, "");
	} else {
		ipc_put_u32(&b, m->uid);
		ipc_put_u64(&b, m->modseq);
		ipc_put_u32(&b, mask);
		ipc_put_str(&b, (mask & IMAP_FETCH_FLAGS) ? m->flags : "");
		ipc_put_str(&b, (mask & IMAP_FETCH_INTERNALDATE) ? m->date :
		    "");
	}
	ipc_put_u64(&b, (mask & IMAP_FETCH_BODY) ? m->len : 0);
	ipc_put_str(&b, "");
	fs_send(s, IMSG_IMAP_FETCH_ITEM, id, &b);
	ipc_buf_free(&b);
	if (mask & IMAP_FETCH_BODY) {
		/* In two chunks when it can, to test the reassembly. */
		if (m->len > 1) {
			(void)ipc_compose(&s->chan, IMSG_IMAP_BODY_DATA, id, -1,
			    m->body, m->len / 2);
			(void)ipc_compose(&s->chan, IMSG_IMAP_BODY_DATA, id, -1,
			    m->body + m->len / 2, m->len - m->len / 2);
		} else if (m->len == 1)
			(void)ipc_compose(&s->chan, IMSG_IMAP_BODY_DATA, id, -1,
			    m->body, 1);
		fs_u32(s, IMSG_IMAP_BODY_END, id, s->late_meta ? 0 : m->uid);
		if (s->late_meta) {
			ipc_buf_init(&b);
			ipc_put_u32(&b, seq);
			ipc_put_u32(&b, m->uid);
			ipc_put_u64(&b, m->modseq);
			ipc_put_u32(&b, (mask & ~IMAP_FETCH_BODY) |
			    IMAP_FETCH_CONT);
			ipc_put_str(&b, (mask & IMAP_FETCH_FLAGS) ? m->flags :
			    "");
			ipc_put_str(&b, (mask & IMAP_FETCH_INTERNALDATE) ?
			    m->date : "");
			ipc_put_u64(&b, 0);
			ipc_put_str(&b, "");
			fs_send(s, IMSG_IMAP_FETCH_ITEM, id, &b);
			ipc_buf_free(&b);
		}
	}
}

/* Flag strings: set, add or remove words. */
static void
flags_apply(char *dst, size_t len, uint32_t mode, const char *flags)
{
	char out[256] = "", cur[256], arg[256], *p, *t, *q, *u;
	int found;

	(void)strlcpy(cur, dst, sizeof(cur));
	if (mode == IMAP_STORE_REPLACE) {
		(void)strlcpy(dst, flags, len);
		return;
	}
	/* Keep the current words (minus removed ones)... */
	for (p = cur; (t = strsep(&p, " ")) != NULL;) {
		if (*t == '\0')
			continue;
		found = 0;
		(void)strlcpy(arg, flags, sizeof(arg));
		for (q = arg; (u = strsep(&q, " ")) != NULL;)
			if (strcmp(u, t) == 0)
				found = 1;
		if (mode == IMAP_STORE_REMOVE && found)
			continue;
		if (out[0])
			(void)strlcat(out, " ", sizeof(out));
		(void)strlcat(out, t, sizeof(out));
	}
	/* ... and the added ones not there yet. */
	if (mode == IMAP_STORE_ADD) {
		(void)strlcpy(arg, flags, sizeof(arg));
		for (q = arg; (u = strsep(&q, " ")) != NULL;) {
			if (*u == '\0')
				continue;
			(void)strlcpy(cur, dst, sizeof(cur));
			found = 0;
			for (p = cur; (t = strsep(&p, " ")) != NULL;)
				if (strcmp(u, t) == 0)
					found = 1;
			if (found)
				continue;
			if (out[0])
				(void)strlcat(out, " ", sizeof(out));
			(void)strlcat(out, u, sizeof(out));
		}
	}
	(void)strlcpy(dst, out, len);
}

static void
fs_request(struct fsrv *s, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	struct ipc_buf b;
	struct fmbox *mb;
	struct uidranges rs;
	const char *name;
	char nm[256], *set, *flags, *date;
	uint32_t id = msg->hdr.peerid, flagsw, n, i, k, mode, op;
	uint64_t unch, size;
	size_t len;

	ipc_rd_init(&rd, msg);
	switch (msg->hdr.type) {
	case IMSG_IMAP_LIST:
		flagsw = ipc_get_u32(&rd);
		free(ipc_get_str(&rd));
		(void)ipc_get_data(&rd, &len);
		n = ipc_get_u32(&rd);
		if (n == 1) {
			name = ipc_get_data(&rd, &len);
			if (len == 0) {
				ipc_buf_init(&b);
				ipc_put_u32(&b, 0);
				ipc_put_u32(&b, (uint32_t)(unsigned char)
				    s->delim);
				ipc_put_data(&b, "", 0);
				fs_send(s, IMSG_IMAP_LIST_ITEM, id, &b);
				ipc_buf_free(&b);
				fs_done(s, id, IMAP_DONE_OK, 0, NULL, NULL);
				return;
			}
		}
		for (i = 0; i < s->nmb; i++) {
			mb = s->mb[i];
			ipc_buf_init(&b);
			ipc_put_u32(&b, mb->sub ? IMAP_MBX_SUBSCRIBED : 0);
			ipc_put_u32(&b, strcmp(mb->name, "INBOX") == 0 ? '/' :
			    (uint32_t)(unsigned char)s->delim);
			ipc_put_data(&b, mb->name, strlen(mb->name));
			fs_send(s, IMSG_IMAP_LIST_ITEM, id, &b);
			ipc_buf_free(&b);
			if (!(flagsw & IMAP_LIST_RET_STATUS))
				continue;
			ipc_buf_init(&b);
			ipc_put_data(&b, mb->name, strlen(mb->name));
			ipc_put_u32(&b, IMAP_ST_UIDVALIDITY | IMAP_ST_UIDNEXT |
			    IMAP_ST_HIGHESTMODSEQ);
			ipc_put_u32(&b, mb->uv);
			ipc_put_u32(&b, mb->uidnext);
			ipc_put_u64(&b, fs_hms(mb));
			ipc_put_u32(&b, (uint32_t)mb->n);
			fs_send(s, IMSG_IMAP_STATUS_ITEM, id, &b);
			ipc_buf_free(&b);
		}
		fs_done(s, id, IMAP_DONE_OK, 0, NULL, NULL);
		return;

	case IMSG_IMAP_SELECT: {
		uint32_t uv = 0;
		uint64_t hms = 0;
		char *known = NULL;
		struct uidvec van = { NULL, 0, 0 };

		name = ipc_get_data(&rd, &len);
		(void)snprintf(nm, sizeof(nm), "%.*s", (int)len, name);
		flagsw = ipc_get_u32(&rd);
		if (flagsw & IMAP_SEL_QRESYNC) {
			uv = ipc_get_u32(&rd);
			hms = ipc_get_u64(&rd);
			known = ipc_get_str(&rd);
			free(ipc_get_str(&rd));
			free(ipc_get_str(&rd));
		}
		s->nselect++;
		if (s->sel != NULL)
			fs_code(s, id, IMAP_CODE_CLOSED, 0);
		if ((mb = fs_mbox(s, nm)) == NULL) {
			s->sel = NULL;
			free(known);
			fs_done(s, id, IMAP_DONE_NO, 0, NULL,
			    "[NONEXISTENT] Mailbox doesn't exist");
			return;
		}
		s->sel = mb;
		fs_u32(s, IMSG_IMAP_EXISTS, id, (uint32_t)mb->n);
		fs_code(s, id, IMAP_CODE_UIDVALIDITY, mb->uv);
		fs_code(s, id, IMAP_CODE_UIDNEXT, mb->uidnext);
		fs_code(s, id, IMAP_CODE_HIGHESTMODSEQ, fs_hms(mb));
		if ((flagsw & IMAP_SEL_QRESYNC) && uv == mb->uv) {
			memset(&rs, 0, sizeof(rs));
			(void)uidset_parse(known, &rs);
			for (i = 0; i < mb->ngone; i++)
				if (mb->gone[i].modseq > hms &&
				    uidset_contains(known, mb->gone[i].uid))
					uidvec_push(&van, mb->gone[i].uid);
			fs_vanished(s, id, 1, van.v, van.n);
			if (s->vanish_below > 1) {
				/* A compressed range, unknown UIDs in it. */
				char r[32];
				struct ipc_buf vb;

				(void)snprintf(r, sizeof(r), "1:%u",
				    s->vanish_below - 1);
				ipc_buf_init(&vb);
				ipc_put_u32(&vb, 1);
				ipc_put_str(&vb, r);
				fs_send(s, IMSG_IMAP_VANISHED, id, &vb);
				ipc_buf_free(&vb);
			}
			for (i = 0; i < mb->n; i++)
				if (mb->m[i].modseq > hms)
					fs_fetch_item(s, id, mb, &mb->m[i],
					    IMAP_FETCH_FLAGS);
			uidranges_free(&rs);
			uidvec_free(&van);
		}
		free(known);
		fs_done(s, id, IMAP_DONE_OK, IMAP_CODE_READ_WRITE, NULL,
		    "[READ-WRITE] Select completed");
		return;
	}

	case IMSG_IMAP_FETCH: {
		struct fset fset;

		set = ipc_get_str(&rd);
		flagsw = ipc_get_u32(&rd);
		if (flagsw & IMAP_FETCH_BODY)
			s->nfetch_body++;
		s->nfetch++;
		mb = s->sel;
		fset_parse(&fset, set);
		for (i = 0; mb != NULL && i < mb->n; i++)
			if (fset_has(&fset, mb->m[i].uid))
				fs_fetch_item(s, id, mb, &mb->m[i], flagsw);
		if ((flagsw & IMAP_FETCH_BODY) && s->after_uid != 0 &&
		    mb != NULL && fset_has(&fset, s->after_uid) &&
		    fs_msg(mb, s->after_uid) != NULL) {
			uint32_t u = s->after_uid;

			s->after_uid = 0;
			if (s->after_expunge) {
				fs_expunge(mb, u);
				fs_vanished(s, id, 0, &u, 1);
			} else {
				fs_setflags(mb, u, s->after_flags);
				fs_fetch_item(s, id, mb, fs_msg(mb, u),
				    IMAP_FETCH_FLAGS);
			}
		}
		uidranges_free(&fset.rs);
		free(set);
		fs_done(s, id, IMAP_DONE_OK, 0, NULL, NULL);
		return;
	}

	case IMSG_IMAP_STORE: {
		struct uidvec failed = { NULL, 0, 0 };
		struct fset fset;
		char *fs;

		set = ipc_get_str(&rd);
		unch = ipc_get_u64(&rd);
		mode = ipc_get_u32(&rd);
		flags = ipc_get_str(&rd);
		mb = s->sel;
		s->nstore++;
		fset_parse(&fset, set);
		for (i = 0; mb != NULL && i < mb->n; i++) {
			struct fmsg *m = &mb->m[i];

			if (!fset_has(&fset, m->uid))
				continue;
			if (unch != 0 && m->modseq > unch) {
				uidvec_push(&failed, m->uid);
				continue;
			}
			flags_apply(m->flags, sizeof(m->flags), mode, flags);
			m->modseq = ++mb->hms;
			fs_fetch_item(s, id, mb, m, 0);
		}
		uidranges_free(&fset.rs);
		fs = failed.n ? uid_compact_set(failed.v, failed.n) : NULL;
		fs_done(s, id, IMAP_DONE_OK, fs ? IMAP_CODE_MODIFIED : 0, fs,
		    "Store completed");
		free(fs);
		free(set);
		free(flags);
		uidvec_free(&failed);
		return;
	}

	case IMSG_IMAP_EXPUNGE: {
		struct uidvec gone = { NULL, 0, 0 };
		struct fset fset;

		set = ipc_get_str(&rd);
		mb = s->sel;
		fset_parse(&fset, set);
		if (s->refuse_expunge) {
			/* The \Deleted is set, the expunge refused. */
			for (i = 0; mb != NULL && i < mb->n; i++)
				if (fset_has(&fset, mb->m[i].uid)) {
					flags_apply(mb->m[i].flags,
					    sizeof(mb->m[i].flags),
					    IMAP_STORE_ADD, "\\Deleted");
					mb->m[i].modseq = ++mb->hms;
					fs_fetch_item(s, id, mb, &mb->m[i], 0);
				}
			free(set);
			uidranges_free(&fset.rs);
			fs_done(s, id, IMAP_DONE_NO, 0, NULL,
			    "[NOPERM] Permission denied");
			return;
		}
		for (i = 0; mb != NULL && i < mb->n; i++)
			if (fset_has(&fset, mb->m[i].uid))
				uidvec_push(&gone, mb->m[i].uid);
		uidranges_free(&fset.rs);
		for (i = 0; i < gone.n; i++) {
			fs_expunge(mb, gone.v[i]);
			/* Its MODSEQ comes after the next STOREs'. */
			if (s->late_expunge)
				mb->gone[mb->ngone - 1].modseq += 50;
		}
		fs_vanished(s, id, 0, gone.v, gone.n);
		free(set);
		uidvec_free(&gone);
		/* As Dovecot: OK [HIGHESTMODSEQ n] Expunge completed. */
		(void)snprintf(nm, sizeof(nm), "%llu",
		    (unsigned long long)(mb ? mb->hms : 0));
		if (s->no_expunge_hms)
			fs_done(s, id, IMAP_DONE_OK, 0, NULL,
			    "Expunge completed");
		else
			fs_done(s, id, IMAP_DONE_OK, IMAP_CODE_HIGHESTMODSEQ,
			    nm, "Expunge completed");
		return;
	}

	case IMSG_IMAP_MAILBOX:
		op = ipc_get_u32(&rd);
		name = ipc_get_data(&rd, &len);
		(void)snprintf(nm, sizeof(nm), "%.*s", (int)len, name);
		if (op == IMAP_MBOP_CREATE)
			(void)fs_create(s, nm);
		else if ((mb = fs_mbox(s, nm)) != NULL)
			mb->sub = op == IMAP_MBOP_SUBSCRIBE;
		fs_done(s, id, IMAP_DONE_OK, 0, NULL, NULL);
		return;

	case IMSG_IMAP_APPEND:
		name = ipc_get_data(&rd, &len);
		(void)snprintf(nm, sizeof(nm), "%.*s", (int)len, name);
		s->app = fs_mbox(s, nm);
		s->app_id = id;
		s->app_first = s->app ? s->app->uidnext : 0;
		s->app_n = 0;
		return;

	case IMSG_IMAP_APPEND_MSG:
		flags = ipc_get_str(&rd);
		date = ipc_get_str(&rd);
		size = ipc_get_u64(&rd);
		memset(&s->pend, 0, sizeof(s->pend));
		(void)strlcpy(s->pend.flags, flags ? flags : "",
		    sizeof(s->pend.flags));
		(void)strlcpy(s->pend.date, date ? date : "",
		    sizeof(s->pend.date));
		s->pend_size = size;
		s->pend.body = calloc(1, size + 1);
		free(flags);
		free(date);
		return;

	case IMSG_IMAP_APPEND_DATA:
		memcpy(s->pend.body + s->pend.len, msg->data, msg->len);
		s->pend.len += msg->len;
		if (s->pend.len == s->pend_size && s->app != NULL) {
			struct fmsg *m = fs_add(s->app, s->pend.body,
			    s->pend.flags);

			(void)strlcpy(m->date, s->pend.date, sizeof(m->date));
			free(s->pend.body);
			memset(&s->pend, 0, sizeof(s->pend));
			s->app_n++;
		}
		return;

	case IMSG_IMAP_APPEND_END: {
		char data[64];

		if (s->app == NULL) {
			fs_done(s, id, IMAP_DONE_NO, IMAP_CODE_TRYCREATE, NULL,
			    "[TRYCREATE] no such mailbox");
			return;
		}
		if (s->sel == s->app) {
			/* As Dovecot: EXISTS, then OK [HIGHESTMODSEQ n]. */
			fs_u32(s, IMSG_IMAP_EXISTS, id, (uint32_t)s->app->n);
			if (s->hidden_uid != 0 &&
			    fs_msg(s->app, s->hidden_uid) != NULL) {
				fs_setflags(s->app, s->hidden_uid,
				    s->hidden_flags);
				s->unreported = s->hidden_uid;
				s->hidden_uid = 0;
			}
			if (!s->no_append_hms)
				fs_code(s, id, IMAP_CODE_HIGHESTMODSEQ,
				    s->app->hms);
		}
		k = s->app_first + s->app_n - 1;
		if (s->app_n == 1)
			(void)snprintf(data, sizeof(data), "%u %u", s->app->uv,
			    k);
		else
			(void)snprintf(data, sizeof(data), "%u %u:%u",
			    s->app->uv, s->app_first, k);
		fs_done(s, id, IMAP_DONE_OK, IMAP_CODE_APPENDUID, data,
		    "Append completed");
		return;
	}

	case IMSG_IMAP_UNSELECT:
		s->sel = NULL;
		fs_done(s, id, IMAP_DONE_OK, 0, NULL, NULL);
		return;
	case IMSG_IMAP_NOOP:
		s->nnoop++;
		if (s->unreported != 0 && s->sel != NULL &&
		    fs_msg(s->sel, s->unreported) != NULL)
			fs_fetch_item(s, id, s->sel,
			    fs_msg(s->sel, s->unreported), IMAP_FETCH_FLAGS);
		s->unreported = 0;
		fs_done(s, id, IMAP_DONE_OK, 0, NULL, NULL);
		return;
	case IMSG_IMAP_LOGOUT:
		fs_done(s, id, IMAP_DONE_OK, 0, NULL, NULL);
		return;
	}
}

/* ------------------------------------------------------------------ */
/* The harness: priv and both nets around an engine child. */

struct h {
	struct db	*db;
	char		 dbpath[256];
	struct fsrv	 srv[2];
	struct ipc_chan	 parent;
	char		 log[262144];
	int		 code;
};

static struct eng_conf	 h_conf;
static size_t		 h_jobs_max;	/* 0: the engine's default */
static char		*h_ref[2] = { (char *)"", (char *)"" };

static void
h_engine_child(int pfd, int lfd, int rfd)
{
	struct ipc_chan pc, nets[2];
	struct eng e;
	int code;

	memset(&e, 0, sizeof(e));
	(void)ipc_chan_init(&pc, pfd, PROC_ENGINE, PROC_PRIV);
	(void)ipc_chan_init(&nets[SIDE_LOCAL], lfd, PROC_ENGINE, PROC_NET);
	(void)ipc_chan_init(&nets[SIDE_REMOTE], rfd, PROC_ENGINE, PROC_NET);
	log_set_chan(&pc);
	log_set_name("");
	log_set_debug(0);
	e.parent = &pc;
	h_conf.list_reference[0] = h_ref[0];
	h_conf.list_reference[1] = h_ref[1];
	e.conf = &h_conf;
	e.jobs_max = h_jobs_max;
	eng_lanes_init(&e, nets, 1);
	code = sync_run(&e);
	eng_done(&e, code);
	(void)ipc_flush_sync(&pc);
	_exit(0);
}

static void
h_log(struct h *h, struct ipc_msg *msg)
{
	struct ipc_rd rd;
	const char *name, *mbx, *text;
	size_t nl, ml, tl;
	uint32_t level;
	char line[4096];

	ipc_rd_init(&rd, msg);
	level = ipc_get_u32(&rd);
	name = ipc_get_data(&rd, &nl);
	mbx = ipc_get_data(&rd, &ml);
	text = ipc_get_data(&rd, &tl);
	if (rd.error || level == LOG_LVL_DEBUG)
		return;
	if (nl > 0 && ml > 0)
		(void)snprintf(line, sizeof(line), "%.*s(%.*s): %.*s\n",
		    (int)nl, name, (int)ml, mbx, (int)tl, text);
	else if (nl > 0)
		(void)snprintf(line, sizeof(line), "%.*s: %.*s\n", (int)nl,
		    name, (int)tl, text);
	else
		(void)snprintf(line, sizeof(line), "%.*s\n", (int)tl, text);
	(void)strlcat(h->log, line, sizeof(h->log));
}

/* Runs the engine once; returns its exit code. */
static int
h_run(struct h *h)
{
	int sp[3][2], i, done = 0;
	struct pollfd pfd[3];
	struct ipc_chan *ch[3];
	struct ipc_msg msg;
	struct ipc_buf b;
	char err[256];
	pid_t pid;
	uint32_t s;
	int wstatus = 0;

	h->log[0] = '\0';
	h->code = -1;
	if ((h->db = db_open(h->dbpath, 1, err, sizeof(err))) == NULL) {
		fprintf(stderr, "db_open: %s\n", err);
		return -1;
	}
	/* Each run is a new priv run: a failure of the last one is gone. */
	priv_db_init();
	for (i = 0; i < 3; i++)
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]) == -1)
			return -1;
	if ((pid = fork()) == 0) {
		for (i = 0; i < 3; i++)
			close(sp[i][0]);
		h_engine_child(sp[0][1], sp[1][1], sp[2][1]);
	}
	for (i = 0; i < 3; i++)
		close(sp[i][1]);
	(void)ipc_chan_init(&h->parent, sp[0][0], PROC_PRIV, PROC_ENGINE);
	for (s = 0; s < 2; s++) {
		(void)ipc_chan_init(&h->srv[s].chan, sp[1 + s][0], PROC_NET,
		    PROC_ENGINE);
		h->srv[s].sel = NULL;
		ipc_buf_init(&b);
		ipc_put_u32(&b, h->srv[s].caps);
		ipc_put_u64(&b, h->srv[s].appendlimit);
		fs_send(&h->srv[s], IMSG_IMAP_READY, 0, &b);
		ipc_buf_free(&b);
	}
	ch[0] = &h->parent;
	ch[1] = &h->srv[0].chan;
	ch[2] = &h->srv[1].chan;
	while (!done) {
		for (i = 0; i < 3; i++) {
			pfd[i].fd = ch[i]->fd;
			pfd[i].events = POLLIN;
			if (ipc_pending(ch[i]) > 0)
				pfd[i].events |= POLLOUT;
		}
		if (poll(pfd, 3, 10000) <= 0) {
			fprintf(stderr, "harness: timeout\n");
			break;
		}
		for (i = 0; i < 3 && !done; i++) {
			if (pfd[i].revents & POLLOUT)
				(void)ipc_flush(ch[i]);
			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (ipc_read(ch[i]) == 0) {
				done = 1;
				break;
			}
			while (ipc_get(ch[i], &msg) == 1) {
				if (i > 0)
					fs_request(&h->srv[i - 1], &msg);
				else if (msg.hdr.type == IMSG_LOG)
					h_log(h, &msg);
				else if (msg.hdr.type == IMSG_ENGINE_DONE) {
					struct ipc_rd rd;

					ipc_rd_init(&rd, &msg);
					h->code = (int)ipc_get_u32(&rd);
					done = 1;
				} else if (priv_db_is_request(
				    msg.hdr.type))
					(void)priv_db_imsg(h->db, &h->parent,
					    &msg);
				ipc_msg_free(&msg);
				if (done)
					break;
			}
			(void)ipc_flush(ch[i]);
		}
	}
	(void)kill(pid, SIGTERM);
	(void)waitpid(pid, &wstatus, 0);
	if (getenv("TEST_VERBOSE") != NULL)
		fprintf(stderr, "---- run (code %d, status %#x):\n%s----\n",
		    h->code, wstatus, h->log);
	for (i = 0; i < 3; i++)
		ipc_chan_close(ch[i]);
	db_close(h->db);
	h->db = NULL;
	return h->code;
}

static void
h_init(struct h *h, const char *name)
{
	memset(h, 0, sizeof(*h));
	(void)snprintf(h->dbpath, sizeof(h->dbpath), "%s/engine-%s-%d.db",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name, getpid());
	(void)unlink(h->dbpath);
	h->srv[0].label = "local";
	h->srv[1].label = "remote";
	h->srv[0].delim = '/';
	h->srv[1].delim = '.';
	h->srv[0].next_uv = 1000;
	h->srv[1].next_uv = 2000;
	h->srv[0].caps = h->srv[1].caps = IMAP_CAP_MULTIAPPEND |
	    IMAP_CAP_UNSELECT | IMAP_CAP_QRESYNC | IMAP_CAP_CONDSTORE |
	    IMAP_CAP_LIST_EXTENDED | IMAP_CAP_LIST_STATUS | IMAP_CAP_UIDPLUS;
	(void)fs_create(&h->srv[0], "INBOX");
	(void)fs_create(&h->srv[1], "INBOX");
}

static void
h_fini(struct h *h)
{
	size_t i, j;
	int s;

	for (s = 0; s < 2; s++)
		for (i = 0; i < h->srv[s].nmb; i++) {
			for (j = 0; j < h->srv[s].mb[i]->n; j++)
				free(h->srv[s].mb[i]->m[j].body);
			free(h->srv[s].mb[i]->m);
			free(h->srv[s].mb[i]->gone);
			free(h->srv[s].mb[i]);
		}
	(void)unlink(h->dbpath);
}

static int
has_line(const char *log, const char *line)
{
	const char *p = log;
	size_t len = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == log || p[-1] == '\n') && p[len] == '\n')
			return 1;
		p++;
	}
	return 0;
}

#define LOG_HAS(h, line) OK(has_line((h)->log, (line)), "log: %s", (line))
#define LOG_LACKS(h, str) OK(strstr((h)->log, (str)) == NULL,		\
	"log lacks: %s", (str))
#define SAME(h, name) IS_STR(fs_content(fs_mbox(&(h)->srv[0], (name))),	\
	fs_content(fs_mbox(&(h)->srv[1], (name))), "same contents: " name)

/* ------------------------------------------------------------------ */
/* Scenarios. */

static void
t_first_sync(void)
{
	struct h h;
	struct fmbox *lin, *rin, *rfoo;
	int before;

	h_init(&h, "first");
	lin = fs_mbox(&h.srv[0], "INBOX");
	rin = fs_mbox(&h.srv[1], "INBOX");
	fs_add(lin, "local one", "\\Seen");
	rfoo = fs_create(&h.srv[1], "foo");
	rfoo->sub = 1;
	fs_create(&h.srv[1], "foo.bar");
	fs_add(rin, "remote one", "");
	fs_add(rin, "remote two", "\\Flagged");
	fs_add(fs_mbox(&h.srv[1], "foo.bar"), "in foo.bar", "");
	fs_create(&h.srv[0], "baz");

	IS_INT(h_run(&h), 0, "first sync exits 0");
	LOG_HAS(&h, "database: Created mailbox INBOX");
	LOG_HAS(&h, "database: Created mailbox baz");
	LOG_HAS(&h, "remote: Created mailbox baz");
	LOG_HAS(&h, "local: Created mailbox foo");
	LOG_HAS(&h, "local: Subscribe to foo");
	LOG_HAS(&h, "local: Created mailbox foo/bar");
	LOG_HAS(&h, "local(INBOX): Added 2 UID(s) 2:3 <- 1:2");
	LOG_HAS(&h, "remote(INBOX): Added 1 UID(s) 1 -> 3");
	LOG_HAS(&h, "local(foo/bar): Added 1 UID(s) 1 <- 1");
	SAME(&h, "INBOX");
	IS_STR(fs_content(fs_mbox(&h.srv[0], "foo/bar")),
	    fs_content(fs_mbox(&h.srv[1], "foo.bar")), "foo/bar = foo.bar");
	OK(fs_mbox(&h.srv[1], "baz") != NULL, "baz created remotely");
	OK(fs_mbox(&h.srv[0], "foo")->sub, "foo subscribed locally");
	IS_INT(h.srv[0].nfetch_body + h.srv[1].nfetch_body, 3,
	    "one body FETCH per mailbox with new mail, none wasted (§9.6)");

	/* Nothing changed: nothing selected, nothing said. */
	before = h.srv[0].nselect + h.srv[1].nselect;
	IS_INT(h_run(&h), 0, "second sync exits 0");
	IS_STR(h.log, "", "second sync is silent");
	IS_INT(h.srv[0].nselect + h.srv[1].nselect, before,
	    "clean mailboxes are not selected");
	h_fini(&h);
}

static void
t_flags_and_expunges(void)
{
	struct h h;
	struct fmbox *l, *r;

	h_init(&h, "flags");
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "m1", "");
	fs_add(l, "m2", "");
	fs_add(l, "m3", "");
	fs_add(l, "m4", "");
	IS_INT(h_run(&h), 0, "sync of 4 messages");
	LOG_HAS(&h, "remote(INBOX): Added 4 UID(s) 1:4 -> 1:4");

	/* One side each, then a conflict. */
	fs_setflags(l, 1, "\\Seen");
	fs_setflags(r, 2, "\\Flagged");
	fs_setflags(l, 3, "\\Seen bar foo");
	fs_setflags(r, 3, "\\Flagged \\Seen foo");
	IS_INT(h_run(&h), 0, "flag sync exits 0");
	LOG_HAS(&h, "WARNING: Conflicting flag update in INBOX for local "
	    "UID 3 (\\Seen bar foo) and remote UID 3 (\\Flagged \\Seen foo)."
	    " Setting both to the union (\\Flagged \\Seen bar foo).");
	LOG_HAS(&h, "local(INBOX): Updated flags (\\Flagged \\Seen bar foo) "
	    "for UID 3");
	LOG_HAS(&h, "remote(INBOX): Updated flags (\\Flagged \\Seen bar foo) "
	    "for UID 3");
	LOG_HAS(&h, "remote(INBOX): Updated flags (\\Seen) for UID 1");
	LOG_HAS(&h, "local(INBOX): Updated flags (\\Flagged) for UID 2");
	SAME(&h, "INBOX");

	/* Expunges both ways. */
	fs_expunge(l, 1);
	fs_expunge(r, 4);
	IS_INT(h_run(&h), 0, "expunge sync exits 0");
	LOG_HAS(&h, "remote(INBOX): Removed 1 UID(s) 1");
	LOG_HAS(&h, "local(INBOX): Removed 1 UID(s) 4");
	SAME(&h, "INBOX");
	IS_INT(l->n, 2, "two messages left");

	/* §9.2: flag change on one side, expunge on the other. */
	fs_setflags(l, 2, "\\Answered");
	fs_expunge(r, 2);
	IS_INT(h_run(&h), 0, "flag+expunge sync exits 0");
	LOG_HAS(&h, "local(INBOX): Removed 1 UID(s) 2");
	LOG_LACKS(&h, "No match");
	SAME(&h, "INBOX");
	fs_setflags(r, 3, "\\Draft");
	fs_expunge(l, 3);
	IS_INT(h_run(&h), 0, "the same the other way exits 0");
	LOG_HAS(&h, "remote(INBOX): Removed 1 UID(s) 3");
	LOG_LACKS(&h, "No match");
	IS_INT(l->n + r->n, 0, "both empty");
	h_fini(&h);
}

static void
t_refused_expunge(void)
{
	struct h h;
	struct fmbox *l, *r;

	h_init(&h, "refused");
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "keep me", "\\Seen");
	fs_add(l, "other", "");
	IS_INT(h_run(&h), 0, "sync");
	/* Remote deletes; local refuses to expunge. */
	fs_expunge(r, 1);
	h.srv[0].refuse_expunge = 1;
	IS_INT(h_run(&h), 0, "refused expunge is not fatal");
	LOG_HAS(&h, "local(INBOX): WARNING: Couldn't UID EXPUNGE 1");
	LOG_HAS(&h, "remote(INBOX): Added 1 UID(s) 1 -> 3");
	LOG_LACKS(&h, "Updated flags");
	SAME(&h, "INBOX");
	h.srv[0].refuse_expunge = 0;
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "and then nothing to do: no orphan");
	h_fini(&h);
}

static void
t_vanished_unmatched_and_empty(void)
{
	struct h h;
	struct fmbox *l, *r;

	h_init(&h, "misc");
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "a", "");
	fs_add(r, "", "");	/* 0-length */
	IS_INT(h_run(&h), 0, "sync with a 0-length message");
	LOG_HAS(&h, "remote(INBOX): WARNING: Ignoring new 0-length message "
	    "(UID 1)");
	IS_INT(l->n, 1, "0-length message not copied");
	/*
	 * The 0-length message was never mapped: its expunge has no
	 * match.  (One that arrives and vanishes between two runs is not
	 * even reported: it is above the known UIDs.)
	 */
	fs_add(r, "short-lived", "");
	fs_expunge(r, 3);
	fs_expunge(r, 1);
	IS_INT(h_run(&h), 0, "sync with a vanished unknown UID");
	LOG_HAS(&h, "local(INBOX): WARNING: No match for 1 vanished remote "
	    "UID(s) 1. Ignoring.");
	IS_INT(l->n, 1, "nothing else happened");
	h_fini(&h);
}

static void
t_refusals(void)
{
	struct h h;
	struct fmbox *r;
	size_t i;

	h_init(&h, "refusals");
	fs_create(&h.srv[0], "gone");
	fs_add(fs_mbox(&h.srv[0], "INBOX"), "x", "");
	IS_INT(h_run(&h), 0, "sync");
	/* Deleted on one side: refused until --delete. */
	r = fs_mbox(&h.srv[1], "gone");
	for (i = 0; i < h.srv[1].nmb; i++)
		if (h.srv[1].mb[i] == r) {
			h.srv[1].mb[i] = h.srv[1].mb[--h.srv[1].nmb];
			free(r);
		}
	IS_INT(h_run(&h), 1, "known mailbox gone from one side: exit 1");
	LOG_HAS(&h, "database: ERROR: Mailbox gone exists. Run `interimap "
	    "--target=database --delete gone` to delete.");
	fs_create(&h.srv[1], "gone");

	/* UIDVALIDITY changed. */
	fs_mbox(&h.srv[1], "INBOX")->uv = 42;
	IS_INT(h_run(&h), 1, "UIDVALIDITY change: exit 1");
	OK(strstr(h.log, "remote: ERROR: UIDVALIDITY changed! (42 != 2000)"
	    "  Need to invalidate the UID cache for INBOX.") != NULL ||
	    strstr(h.log, "remote: ERROR: UIDVALIDITY changed! (2000 != 42)"
	    "  Need to invalidate the UID cache for INBOX.") != NULL,
	    "UIDVALIDITY message (%s)", h.log);
	h_fini(&h);
}

static void
t_resume(void)
{
	struct h h;
	struct fmbox *l, *r;
	char err[256];
	struct db *db;
	struct db_state ls, rs;
	int i;

	h_init(&h, "resume");
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "old", "");
	IS_INT(h_run(&h), 0, "sync");
	/*
	 * An interrupted sync: three copies made and mapped, UIDNEXT not
	 * stored.  Then, before the next run, one copy loses a flag and
	 * another original vanishes.
	 */
	for (i = 0; i < 3; i++) {
		char body[16];

		(void)snprintf(body, sizeof(body), "new%d", i);
		fs_add(r, body, "\\Seen");
		fs_add(l, body, "\\Seen");
	}
	db = db_open(h.dbpath, 0, err, sizeof(err));
	OK(db != NULL, "open db");
	(void)db_mapping_add(db, 1, 2, 2);
	(void)db_mapping_add(db, 1, 3, 3);
	(void)db_mapping_add(db, 1, 4, 4);
	(void)db_commit(db);
	(void)db_state_get(db, 1, &ls, &rs);
	IS_INT(ls.uidnext, 2, "local UIDNEXT not advanced");
	db_close(db);
	fs_expunge(l, 4);
	IS_INT(h_run(&h), 0, "resumed sync exits 0");
	LOG_HAS(&h, "Resuming interrupted sync for INBOX");
	LOG_HAS(&h, "remote(INBOX): Removed 1 UID(s) 4");
	SAME(&h, "INBOX");
	IS_INT(l->n, 3, "no duplicate, nothing lost (local)");
	IS_INT(r->n, 3, "no duplicate, nothing lost (remote)");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean");

	/*
	 * A run killed between an APPEND and its commit: the copies are on
	 * the target, unmapped.  They are recognised, not copied back.
	 */
	{
		struct fmsg *a, *b;

		a = fs_add(l, "orphan one", "\\Seen");
		b = fs_add(r, "orphan one", "\\Seen");
		(void)strlcpy(b->date, a->date, sizeof(b->date));
		a = fs_add(l, "orphan two", "");
		b = fs_add(r, "orphan two", "\\Flagged");
		(void)strlcpy(b->date, a->date, sizeof(b->date));
		fs_add(l, "genuinely new", "");
		b = fs_add(r, "same date, other body", "");
		(void)strlcpy(b->date, a->date, sizeof(b->date));
	}
	IS_INT(h_run(&h), 0, "sync after an interrupted APPEND");
	LOG_HAS(&h, "Recovered 2 message(s) copied by an interrupted sync of "
	    "INBOX: local UID(s) 5:6 = remote UID(s) 5:6");
	LOG_HAS(&h, "WARNING: Conflicting flag update in INBOX for local UID "
	    "6 () and remote UID 6 (\\Flagged). Setting both to the union "
	    "(\\Flagged).");
	SAME(&h, "INBOX");
	IS_INT(l->n, 7, "no duplicate (local)");
	IS_INT(r->n, 7, "no duplicate (remote)");
	h_fini(&h);
}

/*
 * Bug (issue 7, 2): a first sync of a big mailbox with scattered UIDs,
 * killed: UIDNEXT stays 0, every mapping row counts as interrupted, and
 * the set of UIDs to look for is over a megabyte.  The old engine capped
 * it at 64 pieces and took the UIDs past the cap for gone: it expunged
 * their copies and copied them again.
 */
static void
t_resume_scattered(void)
{
	struct h h;
	struct fmbox *l, *r;
	struct fmsg *a, *b;
	struct db *db;
	struct db_state st;
	char err[256], body[32];
	const uint32_t n = 100000;
	uint32_t i;

	h_init(&h, "scattered");
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "seed", "");
	IS_INT(h_run(&h), 0, "first sync of one message");
	for (i = 0; i < n; i++) {
		/* 10-digit UIDs two apart: 11 bytes each in a set. */
		l->uidnext = 3000000001U + 2 * i;
		(void)snprintf(body, sizeof(body), "m%u", i);
		a = fs_add(l, body, "");
		b = fs_add(r, body, "");
		(void)strlcpy(b->date, a->date, sizeof(b->date));
	}
	db = db_open(h.dbpath, 0, err, sizeof(err));
	OK(db != NULL, "open db");
	for (i = 0; i < n; i++)
		(void)db_mapping_add(db, 1, 3000000001U + 2 * i, 2 + i);
	memset(&st, 0, sizeof(st));
	(void)db_state_set(db, 1, DB_LOCAL, DB_STATE_UIDNEXT |
	    DB_STATE_MODSEQ, &st);
	(void)db_state_set(db, 1, DB_REMOTE, DB_STATE_UIDNEXT |
	    DB_STATE_MODSEQ, &st);
	OK(db_commit(db) == 0, "an interrupted first sync of %u messages", n);
	db_close(db);

	IS_INT(h_run(&h), 0, "resumed sync exits 0");
	LOG_HAS(&h, "Resuming interrupted sync for INBOX");
	LOG_LACKS(&h, "Removed");
	LOG_LACKS(&h, "Added");
	IS_INT((int)l->n, (int)n + 1, "nothing lost or doubled locally");
	IS_INT((int)r->n, (int)n + 1, "nothing lost or doubled remotely");
	OK(fs_msg(r, n + 1) != NULL, "the last copy kept its UID");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean");
	h_fini(&h);
}

/*
 * Bug (issue 7, 4): a server that answers APPEND without [HIGHESTMODSEQ]
 * (Cyrus IMAP) left the stored HIGHESTMODSEQ behind; the next run took
 * our copies for changes made on the server, and a flag removed locally
 * meanwhile came back as the union.
 */
static void
t_append_without_hms(void)
{
	struct h h;
	struct fmbox *l, *r;

	h_init(&h, "nohms");
	h.srv[1].no_append_hms = 1;
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "one", "\\Seen");
	fs_add(l, "two", "\\Seen");
	IS_INT(h_run(&h), 0, "copies to a server without the code");
	LOG_HAS(&h, "remote(INBOX): Added 2 UID(s) 1:2 -> 1:2");
	fs_setflags(l, 1, "");
	IS_INT(h_run(&h), 0, "a flag removed locally");
	LOG_LACKS(&h, "Conflicting");
	LOG_HAS(&h, "remote(INBOX): Updated flags () for UID 1");
	IS_STR(fs_msg(r, 1)->flags, "", "\\Seen gone remotely");
	IS_STR(fs_msg(l, 1)->flags, "", "and stays gone locally");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean");
	h_fini(&h);
}

/*
 * Bug (found by diff/scenario_random): Dovecot reports the
 * HIGHESTMODSEQ after a UID EXPUNGE with the last of the commands it
 * takes together, and not at all when that is another mailbox's SELECT
 * or when the VANISHED went out with the STORE before it.  The stored
 * HIGHESTMODSEQ stayed below our expunge, and the next run's SELECT
 * reported the UID VANISHED again: "No match for 1 vanished remote
 * UID(s) 1".  The mailbox is now SELECTed again for it.
 */
static void
t_expunge_without_hms(void)
{
	struct h h;
	struct fmbox *l, *r;
	int before;

	h_init(&h, "noexphms");
	h.srv[1].no_expunge_hms = 1;
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "one", "");
	fs_add(l, "two", "\\Seen");
	IS_INT(h_run(&h), 0, "first sync");
	fs_expunge(l, 1);
	before = h.srv[1].nselect;
	IS_INT(h_run(&h), 0, "an expunge on a server that answers it "
	    "without [HIGHESTMODSEQ]");
	LOG_HAS(&h, "remote(INBOX): Removed 1 UID(s) 1");
	LOG_LACKS(&h, "WARNING");
	IS_INT(h.srv[1].nselect - before, 2, "its mailbox SELECTed again "
	    "for the HIGHESTMODSEQ");
	OK(fs_msg(r, 1) == NULL, "gone remotely");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean: not the UID VANISHED again, without "
	    "a match");
	/*
	 * With a flag change sent after the expunge, whose answer (a FETCH
	 * with MODSEQ) raises the HIGHESTMODSEQ: not to the expunge's when
	 * the server ran the two together (found by scenario_random, seed
	 * 39 of 12 rounds).
	 */
	h.srv[1].late_expunge = 1;
	fs_add(l, "three", "");
	IS_INT(h_run(&h), 0, "one more message");
	fs_expunge(l, 2);
	fs_setflags(l, 3, "\\Flagged");
	before = h.srv[1].nselect;
	IS_INT(h_run(&h), 0, "an expunge and a flag change after it");
	LOG_HAS(&h, "remote(INBOX): Removed 1 UID(s) 2");
	LOG_HAS(&h, "remote(INBOX): Updated flags (\\Flagged) for UID 3");
	IS_INT(h.srv[1].nselect - before, 2, "its mailbox SELECTed again "
	    "though a FETCH raised the HIGHESTMODSEQ since");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean again");
	h_fini(&h);
}

/*
 * Another client at work while a new message is being copied: right
 * after our FETCH of its body (the copy's flags are those of that
 * moment), its flags change, or it is expunged, and the session reports
 * it at once.  The change or the expunge must reach the copy; the
 * reference drops both (the message is at or above the synced UIDNEXT:
 * "its flags come with the copy"), and nothing reports them again.  Found
 * by integration/concurrent.
 */
static void
t_change_during_copy(void)
{
	struct h h;
	struct fmbox *l, *r;
	size_t n;
	int before;

	h_init(&h, "duringcopy");
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "one", "");
	IS_INT(h_run(&h), 0, "first sync");

	fs_add(l, "two", "\\Seen");
	h.srv[0].after_uid = 2;
	(void)strlcpy(h.srv[0].after_flags, "\\Seen \\Flagged",
	    sizeof(h.srv[0].after_flags));
	IS_INT(h_run(&h), 0, "a new message whose flags change once fetched");
	LOG_HAS(&h, "remote(INBOX): Added 1 UID(s) 2 -> 2");
	LOG_HAS(&h, "remote(INBOX): Updated flags (\\Flagged \\Seen) for "
	    "UID 2");
	IS_STR(fs_msg(r, 2) != NULL ? fs_msg(r, 2)->flags : "(gone)",
	    "\\Flagged \\Seen", "the change reached the copy");
	SAME(&h, "INBOX");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean");

	fs_add(l, "three", "");
	h.srv[0].after_uid = 3;
	h.srv[0].after_expunge = 1;
	before = h.srv[0].nselect;
	IS_INT(h_run(&h), 0, "a new message expunged once fetched");
	LOG_HAS(&h, "remote(INBOX): Added 1 UID(s) 3 -> 3");
	LOG_HAS(&h, "remote(INBOX): Removed 1 UID(s) 3");
	LOG_LACKS(&h, "WARNING");
	OK(fs_msg(r, 3) == NULL, "the copy is gone too");
	IS_INT(h.srv[0].nselect - before, 2, "the mailbox SELECTed again for "
	    "the HIGHESTMODSEQ after that VANISHED");
	SAME(&h, "INBOX");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean: not the UID VANISHED again, without "
	    "a match");

	/*
	 * Dovecot answers BODY[] NIL for a message another session has
	 * expunged, and VANISHED before the FETCH ends: a message gone,
	 * not one of 0 bytes to warn about.
	 */
	n = r->n;
	fs_add(l, "", "");	/* UID 4, 0-length */
	h.srv[0].after_uid = 4;
	h.srv[0].after_expunge = 1;
	IS_INT(h_run(&h), 0, "a new 0-length message expunged once fetched");
	LOG_LACKS(&h, "WARNING");
	IS_INT((int)r->n, (int)n, "nothing copied");
	/*
	 * Without a [HIGHESTMODSEQ] after that VANISHED (as Cyrus), the
	 * next SELECT reports the UID again, which no mapping matches
	 * (with a copy, the mailbox is selected again for it, above).
	 */
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "remote(INBOX): WARNING: No match for 1 vanished local "
	    "UID(s) 4. Ignoring.\n", "then only the UID VANISHED again, "
	    "without a match");
	h_fini(&h);
}

/*
 * Dovecot's [HIGHESTMODSEQ] with our APPEND's answer is the mailbox's
 * value of the moment: another client's flag change made in between is
 * below it, and reported with the next command's answer, not with this
 * one (a probe of Dovecot 2.3, one client storing every 2 ms: about one
 * APPEND in a hundred; the same with NOOP and STORE).  Taken as
 * reported, it was stored, and the next SELECT started above the
 * change: lost for good.  It is now the live value only, and a NOOP
 * confirms it.
 */
static void
t_append_hms_covers(void)
{
	struct h h;
	struct fmbox *l, *r;
	int before, fetches;

	h_init(&h, "apphms");
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "one", "");
	IS_INT(h_run(&h), 0, "first sync");

	fs_add(l, "two", "\\Seen");
	h.srv[1].hidden_uid = 1;
	(void)strlcpy(h.srv[1].hidden_flags, "\\Flagged",
	    sizeof(h.srv[1].hidden_flags));
	before = h.srv[1].nnoop;
	IS_INT(h_run(&h), 0, "a new message, and a change on its target "
	    "the APPEND's [HIGHESTMODSEQ] covers");
	LOG_HAS(&h, "remote(INBOX): Added 1 UID(s) 2 -> 2");
	LOG_HAS(&h, "local(INBOX): Updated flags (\\Flagged) for UID 1");
	IS_STR(fs_msg(l, 1)->flags, "\\Flagged", "the change reached local");
	OK(h.srv[1].nnoop > before, "a NOOP confirmed the HIGHESTMODSEQ");
	SAME(&h, "INBOX");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean");

	/*
	 * Its MODSEQ the only one since: taken as it comes, no NOOP, nor a
	 * FETCH of the copy's MODSEQ.
	 */
	fs_add(l, "three", "");
	before = h.srv[1].nnoop;
	fetches = h.srv[1].nfetch;
	IS_INT(h_run(&h), 0, "a new message, nobody else at work");
	LOG_HAS(&h, "remote(INBOX): Added 1 UID(s) 3 -> 3");
	IS_INT(h.srv[1].nnoop - before, 0, "no NOOP");
	IS_INT(h.srv[1].nfetch - fetches, 0,
	    "no FETCH of the copy's MODSEQ");
	IS_INT(r->hms > 0 && fs_msg(r, 3) != NULL, 1, "the copy is there");
	IS_INT(h_run(&h), 0, "next sync");
	IS_STR(h.log, "", "then clean again");
	h_fini(&h);
}

/*
 * A body arriving in pieces larger than the engine's queue bound: the
 * first piece, forwarded at once, puts the target's queue over the bound,
 * so the source is not read while it stays there; the queue is then
 * written out whole into the (roomy) socket.  The source must be read
 * again for the rest: chosen before that write, it was not, the target
 * waited for the rest of its APPEND, and the run hung (the harness gives
 * up after 10 s of silence, and h_run() is not 0).
 */
static void
t_big_body(void)
{
	struct h h;
	struct fmbox *l;
	char *body;
	size_t len = 2 * 131072, i;

	h_init(&h, "bigbody");
	l = fs_mbox(&h.srv[0], "INBOX");
	(void)fs_mbox(&h.srv[1], "INBOX");
	if ((body = malloc(len + 1)) == NULL)
		abort();
	for (i = 0; i < len; i++)
		body[i] = (i % 78 == 77) ? '\n' : (char)('a' + i % 26);
	body[len] = '\0';
	fs_add(l, body, "\\Seen");
	fs_add(l, body, "");
	free(body);
	IS_INT(h_run(&h), 0, "two 256 KiB messages copied in pieces of 128 KiB, the most a piece holds");
	LOG_HAS(&h, "remote(INBOX): Added 2 UID(s) 1:2 -> 1:2");
	SAME(&h, "INBOX");
	h_fini(&h);
}

/*
 * A VANISHED range as wide as the UID space (servers compress, unknown
 * UIDs included) is walked with the mapping, not expanded UID by UID.
 */
static void
t_huge_vanished(void)
{
	struct h h;
	struct fmbox *l, *r;

	h_init(&h, "vanished");
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(l, "low", "");
	l->uidnext = 4000000000U;
	fs_add(l, "high", "");
	IS_INT(h_run(&h), 0, "sync of two messages far apart");
	fs_expunge(l, 1);
	h.srv[0].vanish_below = 4000000000U;
	IS_INT(h_run(&h), 0, "VANISHED (EARLIER) 1:3999999999");
	LOG_HAS(&h, "remote(INBOX): Removed 1 UID(s) 1");
	LOG_HAS(&h, "remote(INBOX): WARNING: No match for 3999999998 "
	    "vanished local UID(s) 2:3999999999. Ignoring.");
	IS_INT((int)r->n, 1, "one message left remotely");
	SAME(&h, "INBOX");
	h_fini(&h);
}

/*
 * A server that sends UID, FLAGS and INTERNALDATE after the body
 * literal: the body is not held, the message is fetched again, its
 * metadata first.
 */
static void
t_late_metadata(void)
{
	struct h h;
	struct fmbox *l, *r;
	int before;

	h_init(&h, "late");
	h.srv[1].late_meta = 1;
	l = fs_mbox(&h.srv[0], "INBOX");
	r = fs_mbox(&h.srv[1], "INBOX");
	fs_add(r, "first body", "\\Seen");
	fs_add(r, "second body", "\\Flagged");
	fs_add(r, "", "");
	IS_INT(h_run(&h), 0, "copies from a late-metadata server");
	LOG_HAS(&h, "local(INBOX): Added 2 UID(s) 1:2 <- 1:2");
	LOG_LACKS(&h, "Updated flags");
	LOG_HAS(&h, "remote(INBOX): WARNING: Ignoring new 0-length message "
	    "(UID 3)");
	SAME(&h, "INBOX");
	IS_STR(fs_msg(l, 2)->flags, "\\Flagged", "flags kept");
	IS_STR(fs_msg(l, 1)->date, fs_msg(r, 1)->date, "date kept");
	before = h.srv[1].nfetch;
	fs_add(r, "third", "");
	IS_INT(h_run(&h), 0, "an incremental run");
	LOG_HAS(&h, "local(INBOX): Added 1 UID(s) 3 <- 4");
	OK(h.srv[1].nfetch - before >= 3, "fetched again, metadata first");
	h_fini(&h);
}

/* The mailbox of a log line: "side(NAME): ...", "... in NAME for". */
static void
line_mailbox(const char *line, char *out, size_t len)
{
	const char *p, *q;

	out[0] = '\0';
	if ((strncmp(line, "local(", 6) == 0 && (p = line + 6)) ||
	    (strncmp(line, "remote(", 7) == 0 && (p = line + 7))) {
		if ((q = strstr(p, "): ")) != NULL)
			(void)snprintf(out, len, "%.*s", (int)(q - p), p);
	} else if ((p = strstr(line, "sync for ")) != NULL)
		(void)snprintf(out, len, "%s", p + 9);
	else if ((p = strstr(line, " update in ")) != NULL &&
	    (q = strstr(p + 11, " for ")) != NULL)
		(void)snprintf(out, len, "%.*s", (int)(q - p - 11), p + 11);
}

/* Every mailbox's lines together: none comes back after another's. */
static int
lines_grouped(const char *log)
{
	char seen[64][64], cur[64] = "", mbx[64], *copy, *line, *p;
	size_t nseen = 0, i;
	int ok = 1;

	copy = strdup(log);
	for (p = copy; (line = strsep(&p, "\n")) != NULL;) {
		line_mailbox(line, mbx, sizeof(mbx));
		if (mbx[0] == '\0' || strcmp(mbx, cur) == 0)
			continue;
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], mbx) == 0)
				ok = 0;
		if (nseen < 64)
			(void)strlcpy(seen[nseen++], mbx, sizeof(seen[0]));
		(void)strlcpy(cur, mbx, sizeof(cur));
	}
	free(copy);
	return ok;
}

/*
 * Several jobs in flight (1, 2 and 8 at once): the same end state and
 * the same lines, each mailbox's together and in order, whatever the
 * interleaving; resumed syncs too (a waiting job logs before its turn).
 */
static void
t_jobs(size_t max)
{
	struct h h;
	struct fmbox *l, *r;
	struct db *db;
	char name[16], body[32], err[256], want[128], what[128];
	int i, k, before;

	h_jobs_max = max;
	h_init(&h, "jobs");
	for (i = 0; i < 6; i++) {
		(void)snprintf(name, sizeof(name), "box%d", i);
		l = fs_create(&h.srv[0], name);
		(void)snprintf(name, sizeof(name), "box%d", i);
		r = fs_create(&h.srv[1], name);
		for (k = 0; k < 3; k++) {
			(void)snprintf(body, sizeof(body), "l%d-%d", i, k);
			fs_add(l, body, k == 0 ? "\\Seen" : "");
			(void)snprintf(body, sizeof(body), "r%d-%d", i, k);
			fs_add(r, body, "");
		}
	}
	(void)snprintf(what, sizeof(what), "jobs=%zu: first sync of 6 "
	    "mailboxes", max);
	IS_INT(h_run(&h), 0, what);
	OK(lines_grouped(h.log), "jobs=%zu: each mailbox's lines together",
	    max);
	for (i = 0; i < 6; i++) {
		(void)snprintf(want, sizeof(want), "remote(box%d): Added 3 "
		    "UID(s) 1:3 -> 4:6", i);
		LOG_HAS(&h, want);
	}
	/* Changes everywhere, and two interrupted syncs. */
	for (i = 0; i < 6; i++) {
		(void)snprintf(name, sizeof(name), "box%d", i);
		l = fs_mbox(&h.srv[0], name);
		r = fs_mbox(&h.srv[1], name);
		fs_setflags(l, 2, "\\Answered");
		fs_expunge(r, 3);
		fs_add(r, "late arrival", "");
	}
	db = db_open(h.dbpath, 0, err, sizeof(err));
	OK(db != NULL, "open db");
	{
		struct db_state st;

		memset(&st, 0, sizeof(st));
		st.uidnext = 2;
		(void)db_state_set(db, 3, DB_LOCAL, DB_STATE_UIDNEXT, &st);
		(void)db_state_set(db, 5, DB_REMOTE, DB_STATE_UIDNEXT, &st);
	}
	(void)db_commit(db);
	db_close(db);
	before = h.srv[0].nselect;
	(void)snprintf(what, sizeof(what), "jobs=%zu: changes, two "
	    "resumed", max);
	IS_INT(h_run(&h), 0, what);
	/*
	 * Each mailbox SELECTed by its job, again before a later command
	 * of it where another job's mailbox was selected since (jobs share
	 * the connections, lease.c), and once more for the HIGHESTMODSEQ
	 * after its UID EXPUNGE (known.c): one to five times.
	 */
	OK(h.srv[0].nselect - before >= 6 && h.srv[0].nselect - before <= 30,
	    "jobs=%zu: each mailbox SELECTed 1 to 5 times (%d for 6)", max,
	    h.srv[0].nselect - before);
	OK(lines_grouped(h.log), "jobs=%zu: grouped again", max);
	LOG_HAS(&h, "Resuming interrupted sync for box1");
	LOG_HAS(&h, "Resuming interrupted sync for box3");
	LOG_LACKS(&h, "WARNING");
	for (i = 0; i < 6; i++) {
		(void)snprintf(name, sizeof(name), "box%d", i);
		(void)snprintf(what, sizeof(what), "jobs=%zu: %s agrees",
		    max, name);
		IS_STR(fs_content(fs_mbox(&h.srv[0], name)),
		    fs_content(fs_mbox(&h.srv[1], name)), what);
	}
	(void)snprintf(what, sizeof(what), "jobs=%zu: next sync", max);
	IS_INT(h_run(&h), 0, what);
	IS_STR(h.log, "", "then clean");
	h_fini(&h);
	h_jobs_max = 0;
}

int
main(void)
{
	memset(&h_conf, 0, sizeof(h_conf));
	t_first_sync();
	t_flags_and_expunges();
	t_refused_expunge();
	t_vanished_unmatched_and_empty();
	t_refusals();
	t_resume();
	t_resume_scattered();
	t_append_without_hms();
	t_expunge_without_hms();
	t_change_during_copy();
	t_append_hms_covers();
	t_huge_vanished();
	t_late_metadata();
	t_big_body();
	t_jobs(1);
	t_jobs(2);
	t_jobs(8);
	return tap_done();
}
