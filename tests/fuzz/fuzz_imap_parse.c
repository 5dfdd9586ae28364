/*
 * libFuzzer target for the IMAP response parser (net/imap_parse.c).
 *
 * Each input is parsed twice: as one window, and cut into pieces whose
 * sizes come from the input itself; both runs must give the same events
 * (hashed as they go).  Every string of every response is read (so ASan
 * sees any bad pointer), body chunks must add up to the announced size,
 * errors must be sticky, and every mailbox name must survive a trip
 * through the command formatter and back through the parser.
 *
 * One input in three (by size) runs with tight limits, to reach the limit
 * paths with small inputs; the others with the defaults.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_fmt.h"
#include "imap_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct h {
	uint64_t	v;
};

static void
hb(struct h *h, const void *p, size_t n)
{
	const unsigned char	*s = p;
	size_t			 i;

	for (i = 0; i < n; i++) {
		h->v ^= s[i];
		h->v *= 0x100000001b3ULL;
	}
}

static void
hu(struct h *h, uint64_t v)
{
	hb(h, &v, sizeof(v));
}

static void
hs(struct h *h, const char *s)
{
	if (s == NULL) {
		hu(h, 0xdead);
		return;
	}
	hb(h, s, strlen(s) + 1);
}

static void
hl(struct h *h, const struct imap_strlist *l)
{
	size_t	i;

	hu(h, l->n);
	for (i = 0; i < l->n; i++)
		hs(h, l->v[i]);
}

static void
hset(struct h *h, const struct imap_set *s)
{
	size_t	i;

	hu(h, s->n);
	for (i = 0; i < s->n; i++) {
		if (s->r[i].hi != IMAP_SET_STAR && s->r[i].lo > s->r[i].hi)
			abort();
		hu(h, s->r[i].lo);
		hu(h, s->r[i].hi);
	}
	hu(h, imap_set_count(s));
}

static void
hval(struct h *h, const struct imap_value *v)
{
	size_t	i;

	hu(h, v->type);
	hs(h, v->str);
	hu(h, v->n);
	for (i = 0; i < v->n; i++)
		hval(h, &v->v[i]);
}

static void
hcode(struct h *h, const struct imap_code *c)
{
	hu(h, c->kind);
	hs(h, c->name);
	hs(h, c->arg);
	hu(h, c->num);
	hu(h, c->modseq);
	hl(h, &c->list);
	hset(h, &c->set);
	hset(h, &c->set2);
}

static void
hfetch(struct h *h, const struct imap_fetch *f)
{
	hu(h, f->seq);
	hu(h, f->mask);
	hu(h, f->uid);
	hu(h, f->modseq);
	hl(h, &f->flags);
	hs(h, f->internaldate);
	if (f->internaldate != NULL && !imap_date_time_valid(f->internaldate))
		abort();
	hu(h, f->rfc822_size);
	hs(h, f->env_from);
	hu(h, f->body_state);
	hu(h, f->body_size);
	hu(h, f->nsections);
}

/* A name formatted as a command argument must parse back unchanged. */
static void
roundtrip(const char *name)
{
	struct imap_buf		 b;
	struct imap_parser	*p;
	struct imap_event	 ev;
	enum imap_ev_type	 t;
	size_t			 n = strlen(name);
	int			 got = 0;

	imap_buf_init(&b);
	imap_buf_str(&b, "* LIST () \"/\" ");
	if (imap_fmt_astring(&b, name, n) == IMAP_ASTR_LITERAL) {
		imap_fmt_literal_hdr(&b, n, 0);
		imap_buf_add(&b, name, n);
	}
	imap_buf_str(&b, "\r\n");
	if (imap_buf_ok(&b) == -1 || (p = imap_parser_new(NULL)) == NULL)
		abort();
	imap_parser_feed(p, b.data, b.len);
	imap_parser_eof(p);
	while ((t = imap_parser_next(p, &ev)) == IMAP_EV_RESPONSE) {
		/* INBOX is normalised, whatever its case. */
		if (ev.resp->type != IMAP_RESP_LIST ||
		    (strcmp(ev.resp->list.name, name) != 0 &&
		    strcasecmp(name, "INBOX") != 0))
			abort();
		got++;
	}
	if (t != IMAP_EV_EOF || got != 1)
		abort();
	imap_parser_free(p);
	imap_buf_free(&b);
}

static void
hresp(struct h *h, const struct imap_resp *r)
{
	size_t	i;

	hu(h, r->type);
	hs(h, r->tag);
	hu(h, r->cond.status);
	hcode(h, &r->cond.code);
	hs(h, r->cond.text);
	hu(h, r->num);
	hl(h, &r->atoms);
	switch (r->type) {
	case IMAP_RESP_LIST:
		hu(h, r->list.lsub);
		hl(h, &r->list.attrs);
		hu(h, (uint64_t)r->list.delim);
		hs(h, r->list.name);
		roundtrip(r->list.name);
		hu(h, r->list.next);
		for (i = 0; i < r->list.next; i++) {
			hs(h, r->list.ext[i].tag);
			hval(h, &r->list.ext[i].val);
		}
		hu(h, r->list.has_childinfo);
		hl(h, &r->list.childinfo);
		hs(h, r->list.oldname);
		break;
	case IMAP_RESP_STATUS:
		hs(h, r->status.name);
		hb(h, &r->status.mask, sizeof(r->status.mask));
		hu(h, r->status.messages);
		hu(h, r->status.uidnext);
		hu(h, r->status.uidvalidity);
		hu(h, r->status.highestmodseq);
		break;
	case IMAP_RESP_FETCH:
		hfetch(h, &r->fetch);
		break;
	case IMAP_RESP_VANISHED:
		hu(h, r->vanished.earlier);
		hset(h, &r->vanished.uids);
		break;
	case IMAP_RESP_SEARCH:
		hb(h, r->search.v, r->search.n * sizeof(*r->search.v));
		hu(h, r->search.modseq);
		break;
	case IMAP_RESP_ESEARCH:
		hs(h, r->esearch.tag);
		hu(h, r->esearch.mask);
		hset(h, &r->esearch.all);
		break;
	case IMAP_RESP_OTHER:
		hs(h, r->other.name);
		hs(h, r->other.raw);
		break;
	default:
		break;
	}
}

/*
 * Parses data, cut as cuts says (NULL: one window), and returns the hash
 * of the events.
 */
static uint64_t
run(const uint8_t *data, size_t size, const struct imap_limits *lim,
    const uint8_t *cuts, size_t ncuts)
{
	struct imap_parser	*p;
	struct imap_event	 ev;
	enum imap_ev_type	 t = IMAP_EV_NEED_MORE;
	struct h		 h = { 0xcbf29ce484222325ULL };
	size_t			 off = 0, n, ci = 0;
	uint64_t		 body = 0, want = 0;
	int			 inbody = 0, ended = 0;
	unsigned char		*piece;

	if ((p = imap_parser_new(lim)) == NULL)
		abort();
	while (!ended) {
		if (off < size) {
			n = size - off;
			if (cuts != NULL && ncuts > 0) {
				n = 1 + cuts[ci++ % ncuts] % 64;
				if (n > size - off)
					n = size - off;
			}
			/* A copy, scribbled over once consumed. */
			if ((piece = malloc(n)) == NULL)
				abort();
			memcpy(piece, data + off, n);
			if (imap_parser_feed(p, piece, n) == -1)
				abort();
			off += n;
		} else {
			piece = NULL;
			imap_parser_eof(p);
		}
		while ((t = imap_parser_next(p, &ev)) != IMAP_EV_NEED_MORE) {
			if (t != ev.type)
				abort();
			if (t == IMAP_EV_BODY_CHUNK) {
				/* Only the bytes, not how they were cut. */
				if (!inbody || ev.len == 0 ||
				    (lim->chunk_max && ev.len > lim->chunk_max))
					abort();
				hb(&h, ev.data, ev.len);
				body += ev.len;
				continue;
			}
			hu(&h, t);
			switch (t) {
			case IMAP_EV_RESPONSE:
				if (inbody)
					abort();
				hresp(&h, ev.resp);
				break;
			case IMAP_EV_BODY_BEGIN:
				if (inbody || ev.size > lim->body_max)
					abort();
				inbody = 1;
				body = 0;
				want = ev.size;
				hs(&h, ev.section);
				hu(&h, ev.size);
				hfetch(&h, ev.fetch);
				break;
			case IMAP_EV_BODY_END:
				if (!inbody || body != want)
					abort();
				inbody = 0;
				break;
			case IMAP_EV_BODY_TOOBIG:
				if (inbody || ev.size <= lim->body_max)
					abort();
				hs(&h, ev.section);
				hs(&h, ev.error);
				hfetch(&h, ev.fetch);
				break;
			case IMAP_EV_ERROR:
				hs(&h, ev.error);
				if (imap_parser_next(p, &ev) != IMAP_EV_ERROR)
					abort();
				ended = 1;
				break;
			case IMAP_EV_EOF:
				if (inbody)
					abort();
				ended = 1;
				break;
			default:
				abort();
			}
			if (ended)
				break;
		}
		if (piece != NULL) {
			memset(piece, 0xa5, n);
			free(piece);
		} else if (!ended)
			abort();	/* eof given: must end */
	}
	if (imap_parser_mem_hiwat(p) > lim->line_max * 2 + lim->mem_max +
	    64 * 1024)
		abort();
	imap_parser_free(p);
	return h.v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_limits	lim;
	uint64_t		a, b;

	imap_limits_default(&lim);
	if (size % 3 == 0) {
		lim.line_max = 4096;
		lim.literal_max = 300;
		lim.body_max = 1000;
		lim.chunk_max = 1 + size % 50;
		lim.literals_max = 40;
		lim.depth_max = 8;
		lim.set_max = 30;
		lim.mem_max = 32 * 1024;
	}
	a = run(data, size, &lim, NULL, 0);
	b = run(data, size, &lim, data, size > 16 ? 16 : size);
	if (a != b)
		abort();
	return 0;
}
