/*
 * The IMAP response parser's framing: cut the byte stream into responses,
 * absorb small literals, stream body literals, enforce the limits, and
 * turn it all into events (see imap_parse.h for the contract).  The
 * grammar itself is imap_syntax.c.
 *
 * One response at a time is held in rbuf: its line segments (CRLFs kept
 * between segments, the final one dropped) with each absorbed literal's
 * bytes right after its "{N}" CRLF, exactly the form imap_syntax.c reads.
 * A streamed body leaves only its "{N}" CRLF in rbuf.
 *
 * Whether a literal is a FETCH body must be known before its bytes are
 * read.  For a FETCH, a small tracker follows the parenthesis depth of
 * the line bytes (quoted strings and BODY[...] sections aside); when a
 * literal sits directly in the FETCH's item list, the FETCH grammar is run
 * over the items not parsed yet, up to that literal, and decides.  Items
 * are parsed once each (an item interrupted by a literal is retried once
 * its bytes are in), so the work stays linear in the response size.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"
#include "imap_syntax.h"

enum pstate {
	PS_LINE,	/* reading a line segment */
	PS_LIT,		/* absorbing a small literal into rbuf */
	PS_BODY,	/* streaming a body literal */
	PS_SKIP,	/* dropping an oversized body literal */
	PS_FETCH,	/* parsing FETCH items */
	PS_INLINE,	/* delivering a body that is already in memory */
	PS_ERROR,
	PS_EOF,
};

enum rkind {
	RK_NONE,	/* first line not complete yet */
	RK_NOLIT,	/* status responses: "{N}" at the end is just text */
	RK_LIT,		/* literals allowed anywhere */
	RK_FETCH,	/* "* n FETCH (": literals, and bodies streamed */
};

#define RBUF_KEEP	(256 * 1024)	/* shrink rbuf back above this */

struct imap_parser {
	struct imap_limits	 lim;

	const unsigned char	*in;		/* the caller's window */
	size_t			 inlen, inpos;
	int			 eof;

	enum pstate		 state;
	unsigned char		*rbuf;
	size_t			 rlen, rcap;
	size_t			 seg;		/* current segment's start */
	enum rkind		 kind;
	uint32_t		 nlit;
	uint64_t		 litsize;	/* the literal just announced */
	uint64_t		 left;		/* PS_LIT, PS_BODY, PS_SKIP */

	struct imap_resp	*resp;		/* in progress, or handed out */
	int			 resp_out;	/* handed out last call */

	/* FETCH */
	size_t			 fpos;		/* first unparsed item */
	uint32_t		 fitems;
	int			 ffinal;	/* the whole line is in */
	size_t			 fneed;		/* fpos of last SX_FX_NEED */
	int			 fnogate;	/* stop asking about literals */
	struct imap_sx_body		 body;
	const unsigned char	*idata;		/* PS_INLINE */
	uint64_t		 ileft;

	/* parenthesis tracker over FETCH line bytes */
	uint32_t		 tdepth;
	int			 tquote, tesc, tsect;
	char			 ttok[12];
	size_t			 ttoklen;

	struct imap_memacct	 mem;
	char			 sxerr[256];	/* from the grammar */
	char			 err[320];	/* what next() reports */
};

void
imap_limits_default(struct imap_limits *lim)
{
	lim->line_max = IMAP_DEF_LINE_MAX;
	lim->literal_max = IMAP_DEF_LITERAL_MAX;
	lim->body_max = IMAP_DEF_BODY_MAX;
	lim->chunk_max = IMAP_DEF_CHUNK_MAX;
	lim->literals_max = IMAP_DEF_LITERALS_MAX;
	lim->depth_max = IMAP_DEF_DEPTH_MAX;
	lim->set_max = IMAP_DEF_SET_MAX;
	lim->mem_max = IMAP_DEF_MEM_MAX;
}

struct imap_parser *
imap_parser_new(const struct imap_limits *lim)
{
	struct imap_parser	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if (lim != NULL)
		p->lim = *lim;
	else
		imap_limits_default(&p->lim);
	/* Sane floors, so a zero somewhere cannot wedge the parser. */
	if (p->lim.line_max < 64)
		p->lim.line_max = 64;
	if (p->lim.literal_max > p->lim.line_max)
		p->lim.literal_max = p->lim.line_max;
	if (p->lim.depth_max == 0)
		p->lim.depth_max = 1;
	if (p->lim.set_max == 0)
		p->lim.set_max = 1;
	if (p->lim.mem_max < 4096)
		p->lim.mem_max = 4096;
	p->mem.cur = p->mem.hiwat = sizeof(*p);
	return p;
}

void
imap_resp_free(struct imap_resp *r)
{
	if (r == NULL)
		return;
	imap_arena_free(r->arena);
}

void
imap_parser_free(struct imap_parser *p)
{
	if (p == NULL)
		return;
	imap_resp_free(p->resp);
	free(p->rbuf);
	free(p);
}

int
imap_parser_feed(struct imap_parser *p, const void *buf, size_t len)
{
	if (p->inpos < p->inlen || p->eof)
		return -1;
	p->in = buf;
	p->inlen = len;
	p->inpos = 0;
	return 0;
}

void
imap_parser_eof(struct imap_parser *p)
{
	p->eof = 1;
}

struct imap_resp *
imap_parser_steal(struct imap_parser *p)
{
	struct imap_resp	*r;

	if (!p->resp_out)
		return NULL;
	r = p->resp;
	p->resp = NULL;
	p->resp_out = 0;
	imap_arena_detach(r->arena);
	return r;
}

size_t
imap_parser_mem_hiwat(const struct imap_parser *p)
{
	return p->mem.hiwat;
}

static enum imap_ev_type	fail(struct imap_parser *, const char *, ...)
				    __attribute__((format(printf, 2, 3)));

/* The stream is now unusable: remember why, for every later call. */
static enum imap_ev_type
fail(struct imap_parser *p, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->state = PS_ERROR;
	if (!p->resp_out) {
		imap_resp_free(p->resp);
		p->resp = NULL;
	}
	return IMAP_EV_ERROR;
}

static void
rbuf_account(struct imap_parser *p, size_t oldcap, size_t newcap)
{
	p->mem.cur = p->mem.cur - oldcap + newcap;
	if (p->mem.cur > p->mem.hiwat)
		p->mem.hiwat = p->mem.cur;
}

/* Appends n bytes (the caller has checked line_max). */
static int
rbuf_add(struct imap_parser *p, const unsigned char *b, size_t n)
{
	unsigned char	*nb;
	size_t		 ncap;

	if (n > p->rcap - p->rlen) {
		ncap = p->rcap ? p->rcap : 1024;
		while (ncap - p->rlen < n)
			ncap *= 2;
		/* line_max bounds rlen; CRLF slack aside, never beyond. */
		if (ncap > p->lim.line_max + 16 &&
		    p->rlen + n <= p->lim.line_max + 16)
			ncap = p->lim.line_max + 16;
		if ((nb = realloc(p->rbuf, ncap)) == NULL)
			return -1;
		rbuf_account(p, p->rcap, ncap);
		p->rbuf = nb;
		p->rcap = ncap;
	}
	memcpy(p->rbuf + p->rlen, b, n);
	p->rlen += n;
	return 0;
}

static void
track_reset(struct imap_parser *p)
{
	p->tdepth = 0;
	p->tquote = p->tesc = p->tsect = 0;
	p->ttoklen = 0;
}

static int
track_tok_is(const struct imap_parser *p, const char *w)
{
	return p->ttoklen == strlen(w) && memcmp(p->ttok, w, p->ttoklen) == 0;
}

/* Follows parenthesis depth over line bytes [from, to) of a FETCH. */
static void
track(struct imap_parser *p, size_t from, size_t to)
{
	size_t		i;
	unsigned char	ch;

	for (i = from; i < to; i++) {
		ch = p->rbuf[i];
		if (p->tquote) {
			if (p->tesc)
				p->tesc = 0;
			else if (ch == '\\')
				p->tesc = 1;
			else if (ch == '"')
				p->tquote = 0;
			continue;
		}
		if (p->tsect) {
			if (ch == '"')
				p->tquote = 1;
			else if (ch == ']')
				p->tsect = 0;
			continue;
		}
		switch (ch) {
		case '"':
			p->tquote = 1;
			p->ttoklen = 0;
			break;
		case '(':
			p->tdepth++;
			p->ttoklen = 0;
			break;
		case ')':
			if (p->tdepth > 0)
				p->tdepth--;
			p->ttoklen = 0;
			break;
		case ' ':
			p->ttoklen = 0;
			break;
		case '[':
			if (track_tok_is(p, "BODY") ||
			    track_tok_is(p, "BODY.PEEK") ||
			    track_tok_is(p, "BINARY") ||
			    track_tok_is(p, "BINARY.PEEK") ||
			    track_tok_is(p, "BINARY.SIZE"))
				p->tsect = 1;
			p->ttoklen = 0;
			break;
		default:
			/* A full ttok (12) matches none of the words. */
			if (p->ttoklen < sizeof(p->ttok))
				p->ttok[p->ttoklen++] = toupper(ch);
			break;
		}
	}
}

/*
 * Is there a literal "{N}" at the end of the segment (end excludes the
 * CRLF)?  1 with *size and *at (the "{"), 0 if not, -1 after fail().
 */
static int
find_literal(struct imap_parser *p, size_t end, uint64_t *size, size_t *at)
{
	const unsigned char	*b = p->rbuf;
	size_t			 j, k;
	uint64_t		 v = 0;
	unsigned		 d;
	int			 plus = 0;

	if (end == p->seg || b[end - 1] != '}')
		return 0;
	j = end - 1;			/* the "}" (or "+}") */
	if (j > p->seg && b[j - 1] == '+') {
		plus = 1;
		j--;
	}
	for (k = j; k > p->seg && isdigit(b[k - 1]); k--)
		;
	if (k == j || k == p->seg || b[k - 1] != '{')
		return 0;
	if (plus) {
		fail(p, "server sent a non-synchronising literal");
		return -1;
	}
	*at = k - 1;
	if (j - k > 20)
		goto range;
	for (; k < j; k++) {
		d = b[k] - '0';
		if (v > (UINT64_MAX - d) / 10)
			goto range;
		v = v * 10 + d;
	}
	*size = v;
	return 1;
range:
	fail(p, "literal size out of range");
	return -1;
}

/* Sets up the current response at its first complete line. */
static int
classify(struct imap_parser *p, size_t end)
{
	struct imap_sx		 c;
	char			 scratch[64];
	size_t			 n;
	struct imap_arena	*ar;

	/* The response lives in its own arena, freed with it. */
	if ((ar = imap_arena_new(p->lim.mem_max, &p->mem)) == NULL) {
		fail(p, "out of memory");
		return -1;
	}
	if ((p->resp = imap_arena_alloc(ar, sizeof(*p->resp))) == NULL) {
		imap_arena_free(ar);
		fail(p, "out of memory");
		return -1;
	}
	p->resp->arena = ar;

	p->kind = RK_NOLIT;
	if (end >= 2 && p->rbuf[0] == '*' && p->rbuf[1] == ' ') {
		if (end > 2 && isdigit(p->rbuf[2])) {
			imap_sx_init(&c, p->rbuf, end, p->resp->arena, &p->lim,
			    scratch, sizeof(scratch));
			c.partial = 1;
			if (imap_sx_fetch_head(&c, &p->resp->fetch) == 0) {
				p->kind = RK_FETCH;
				p->resp->type = IMAP_RESP_FETCH;
				p->fpos = c.pos;
				p->fitems = 0;
				p->ffinal = 0;
				p->fneed = 0;
				p->fnogate = 0;
				track_reset(p);
			} else {
				memset(&p->resp->fetch, 0,
				    sizeof(p->resp->fetch));
				p->kind = RK_LIT;
			}
			return 0;
		}
		for (n = 2; n < end && p->rbuf[n] != ' '; n++)
			;
		n -= 2;
#define W(s)	(n == strlen(s) && strncasecmp((char *)p->rbuf + 2, s, n) == 0)
		if (!(W("OK") || W("NO") || W("BAD") || W("PREAUTH") ||
		    W("BYE")))
			p->kind = RK_LIT;
#undef W
	}
	return 0;
}

/* The response is complete and parsed: hand it out, reset the framer. */
static enum imap_ev_type
finish(struct imap_parser *p, struct imap_event *ev)
{
	ev->type = IMAP_EV_RESPONSE;
	ev->resp = p->resp;
	p->resp_out = 1;
	p->rlen = 0;
	p->seg = 0;
	p->kind = RK_NONE;
	p->nlit = 0;
	p->state = PS_LINE;
	if (p->rcap > RBUF_KEEP) {
		free(p->rbuf);
		rbuf_account(p, p->rcap, 0);
		p->rbuf = NULL;
		p->rcap = 0;
	}
	return IMAP_EV_RESPONSE;
}

/* Start absorbing the literal just announced into rbuf: 0, or -1. */
static int
absorb(struct imap_parser *p)
{
	if (p->litsize > p->lim.literal_max) {
		fail(p, "literal of %llu bytes is larger than the limit of "
		    "%zu bytes", (unsigned long long)p->litsize,
		    p->lim.literal_max);
		return -1;
	}
	if (p->litsize > p->lim.line_max - p->rlen) {
		fail(p, "response longer than %zu bytes", p->lim.line_max);
		return -1;
	}
	p->left = p->litsize;
	p->state = PS_LIT;
	return 0;
}

#define CONTINUE	((enum imap_ev_type)-1)

/* A line segment (up to its LF) has just been appended to rbuf. */
static enum imap_ev_type
segment_done(struct imap_parser *p, struct imap_event *ev)
{
	struct imap_sx	 c;
	size_t		 end = p->rlen, at;
	int		 r;

	if (end - p->seg < 2 || p->rbuf[end - 2] != '\r')
		return fail(p, "response line not terminated by CRLF");
	end -= 2;
	if (memchr(p->rbuf + p->seg, '\0', end - p->seg) != NULL)
		return fail(p, "NUL byte in response line");
	if (memchr(p->rbuf + p->seg, '\r', end - p->seg) != NULL)
		return fail(p, "CR in the middle of a response line");
	if (p->kind == RK_NONE && classify(p, end) == -1)
		return IMAP_EV_ERROR;

	r = 0;
	if (p->kind != RK_NOLIT &&
	    (r = find_literal(p, end, &p->litsize, &at)) == -1)
		return IMAP_EV_ERROR;
	if (r == 1) {
		if (++p->nlit > p->lim.literals_max)
			return fail(p, "more than %u literals in one response",
			    p->lim.literals_max);
		if (p->kind == RK_FETCH) {
			track(p, p->seg, at);
			p->ttoklen = 0;
			if (p->tdepth == 1 && !p->tquote && !p->tsect &&
			    !p->fnogate && at > 0 && p->rbuf[at - 1] == ' ') {
				p->ffinal = 0;
				p->state = PS_FETCH;
				return CONTINUE;
			}
		}
		if (absorb(p) == -1)
			return IMAP_EV_ERROR;
		return CONTINUE;
	}

	/* The last line of the response. */
	p->rlen = end;
	if (p->kind == RK_FETCH) {
		p->ffinal = 1;
		p->state = PS_FETCH;
		return CONTINUE;
	}
	imap_sx_init(&c, p->rbuf, p->rlen, p->resp->arena, &p->lim, p->sxerr,
	    sizeof(p->sxerr));
	if (imap_sx_response(&c, p->resp) == -1)
		return fail(p, "%s", p->sxerr);
	return finish(p, ev);
}

static enum imap_ev_type
st_line(struct imap_parser *p, struct imap_event *ev)
{
	const unsigned char	*a, *lf;
	size_t			 n, take;

	if (p->inpos == p->inlen) {
		if (!p->eof)
			return IMAP_EV_NEED_MORE;
		if (p->rlen == 0) {
			p->state = PS_EOF;
			return CONTINUE;
		}
		return fail(p, "connection closed in the middle of a "
		    "response");
	}
	a = p->in + p->inpos;
	n = p->inlen - p->inpos;
	lf = memchr(a, '\n', n);
	take = lf != NULL ? (size_t)(lf - a) + 1 : n;
	if (take > p->lim.line_max - p->rlen)
		return fail(p, "response longer than %zu bytes",
		    p->lim.line_max);
	if (rbuf_add(p, a, take) == -1)
		return fail(p, "out of memory");
	p->inpos += take;
	if (lf == NULL)
		return CONTINUE;
	return segment_done(p, ev);
}

static void
body_event(struct imap_parser *p, struct imap_event *ev,
    enum imap_ev_type type)
{
	ev->type = type;
	ev->fetch = &p->resp->fetch;
	ev->section = p->body.section;
	ev->whole = p->body.whole;
	ev->size = p->body.size;
}

/* Literal bytes: absorb, stream or drop. */
static enum imap_ev_type
st_literal(struct imap_parser *p, struct imap_event *ev)
{
	enum pstate	was = p->state;
	size_t		n;

	if (p->left == 0) {
		/* Done: the response goes on with the next line segment. */
		p->state = PS_LINE;
		p->seg = p->rlen;
		if (was != PS_BODY)
			return CONTINUE;
		body_event(p, ev, IMAP_EV_BODY_END);
		return IMAP_EV_BODY_END;
	}
	if (p->inpos == p->inlen) {
		if (!p->eof)
			return IMAP_EV_NEED_MORE;
		return fail(p, "connection closed inside a literal "
		    "(%llu of %llu bytes missing)",
		    (unsigned long long)p->left,
		    (unsigned long long)p->litsize);
	}
	n = p->inlen - p->inpos;
	if (n > p->left)
		n = p->left;
	switch (p->state) {
	case PS_LIT:
		if (memchr(p->in + p->inpos, '\0', n) != NULL)
			return fail(p, "NUL byte in a literal");
		if (rbuf_add(p, p->in + p->inpos, n) == -1)
			return fail(p, "out of memory");
		break;
	case PS_BODY:
		if (p->lim.chunk_max != 0 && n > p->lim.chunk_max)
			n = p->lim.chunk_max;
		body_event(p, ev, IMAP_EV_BODY_CHUNK);
		ev->data = p->in + p->inpos;
		ev->len = n;
		break;
	default:
		break;
	}
	p->inpos += n;
	p->left -= n;
	return p->state == PS_BODY ? IMAP_EV_BODY_CHUNK : CONTINUE;
}

static enum imap_ev_type
too_big(struct imap_parser *p, struct imap_event *ev)
{
	snprintf(p->err, sizeof(p->err), "FETCH %s of message %u is %llu "
	    "bytes, more than the limit of %llu: skipped", p->body.section,
	    p->resp->fetch.seq, (unsigned long long)p->body.size,
	    (unsigned long long)p->lim.body_max);
	if (p->body.whole)
		p->resp->fetch.body_state = IMAP_BODY_SKIPPED;
	body_event(p, ev, IMAP_EV_BODY_TOOBIG);
	ev->error = p->err;
	return IMAP_EV_BODY_TOOBIG;
}

static enum imap_ev_type
st_fetch(struct imap_parser *p, struct imap_event *ev)
{
	struct imap_sx	c;

	imap_sx_init(&c, p->rbuf, p->rlen, p->resp->arena, &p->lim, p->sxerr,
	    sizeof(p->sxerr));
	c.partial = !p->ffinal;
	c.pos = p->fpos;
	switch (imap_sx_fetch_item(&c, &p->resp->fetch, &p->fitems, &p->body)) {
	case SX_FX_ITEM:
		p->fpos = c.pos;
		return CONTINUE;
	case SX_FX_BODY:
		p->fpos = c.pos;
		if (p->body.nil)
			return CONTINUE;
		if (p->body.pending) {
			p->left = p->litsize = p->body.size;
			if (p->body.size > p->lim.body_max) {
				p->state = PS_SKIP;
				return too_big(p, ev);
			}
			p->state = PS_BODY;
			body_event(p, ev, IMAP_EV_BODY_BEGIN);
			return IMAP_EV_BODY_BEGIN;
		}
		if (p->body.size > p->lim.body_max)
			return too_big(p, ev);
		p->idata = p->body.data;
		p->ileft = p->body.size;
		p->state = PS_INLINE;
		body_event(p, ev, IMAP_EV_BODY_BEGIN);
		return IMAP_EV_BODY_BEGIN;
	case SX_FX_DONE:
		return finish(p, ev);
	case SX_FX_NEED:
		/*
		 * Not a body: an ordinary literal inside an item.  The
		 * tracker said it was not nested, so the next literal
		 * completes this item.  If it does not (the tracker was
		 * fooled), stop asking for this response rather than parse
		 * the same item again and again.
		 */
		if (p->fneed == p->fpos)
			p->fnogate = 1;
		p->fneed = p->fpos;
		if (absorb(p) == -1)
			return IMAP_EV_ERROR;
		return CONTINUE;
	case SX_FX_ERROR:
	default:
		return fail(p, "%s", p->sxerr);
	}
}

static enum imap_ev_type
st_inline(struct imap_parser *p, struct imap_event *ev)
{
	size_t	n;

	if (p->ileft == 0) {
		p->state = PS_FETCH;
		body_event(p, ev, IMAP_EV_BODY_END);
		return IMAP_EV_BODY_END;
	}
	n = p->ileft;
	if (p->lim.chunk_max != 0 && n > p->lim.chunk_max)
		n = p->lim.chunk_max;
	body_event(p, ev, IMAP_EV_BODY_CHUNK);
	ev->data = p->idata;
	ev->len = n;
	p->idata += n;
	p->ileft -= n;
	return IMAP_EV_BODY_CHUNK;
}

enum imap_ev_type
imap_parser_next(struct imap_parser *p, struct imap_event *ev)
{
	enum imap_ev_type	t;

	memset(ev, 0, sizeof(*ev));
	if (p->resp_out) {
		imap_resp_free(p->resp);
		p->resp = NULL;
		p->resp_out = 0;
	}
	for (;;) {
		switch (p->state) {
		case PS_ERROR:
			ev->type = IMAP_EV_ERROR;
			ev->error = p->err;
			return IMAP_EV_ERROR;
		case PS_EOF:
			ev->type = IMAP_EV_EOF;
			return IMAP_EV_EOF;
		case PS_LINE:
			t = st_line(p, ev);
			break;
		case PS_LIT:
		case PS_BODY:
		case PS_SKIP:
			t = st_literal(p, ev);
			break;
		case PS_FETCH:
			t = st_fetch(p, ev);
			break;
		case PS_INLINE:
			t = st_inline(p, ev);
			break;
		default:
			t = fail(p, "internal error: bad state");
			break;
		}
		if (t == CONTINUE)
			continue;
		if (t == IMAP_EV_ERROR) {
			memset(ev, 0, sizeof(*ev));
			ev->type = IMAP_EV_ERROR;
			ev->error = p->err;
		}
		ev->type = t;
		return t;
	}
}

/* ---- helpers ----------------------------------------------------------- */

int
imap_strlist_has(const struct imap_strlist *l, const char *s)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

uint64_t
imap_set_count(const struct imap_set *set)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < set->n; i++) {
		if (set->r[i].hi == IMAP_SET_STAR)
			n++;
		else
			n += (uint64_t)set->r[i].hi - set->r[i].lo + 1;
	}
	return n;
}

int
imap_set_contains(const struct imap_set *set, uint32_t x)
{
	size_t	i;

	for (i = 0; i < set->n; i++) {
		if (set->r[i].hi == IMAP_SET_STAR) {
			if (set->r[i].lo == IMAP_SET_STAR ||
			    x >= set->r[i].lo)
				return 1;
		} else if (x >= set->r[i].lo && x <= set->r[i].hi)
			return 1;
	}
	return 0;
}

const char *
imap_resp_type_name(enum imap_resp_type t)
{
	switch (t) {
	case IMAP_RESP_TAGGED:		return "tagged response";
	case IMAP_RESP_CONT:		return "continuation request";
	case IMAP_RESP_COND:		return "status response";
	case IMAP_RESP_CAPABILITY:	return "CAPABILITY response";
	case IMAP_RESP_ENABLED:		return "ENABLED response";
	case IMAP_RESP_FLAGS:		return "FLAGS response";
	case IMAP_RESP_LIST:		return "LIST response";
	case IMAP_RESP_STATUS:		return "STATUS response";
	case IMAP_RESP_EXISTS:		return "EXISTS response";
	case IMAP_RESP_RECENT:		return "RECENT response";
	case IMAP_RESP_EXPUNGE:		return "EXPUNGE response";
	case IMAP_RESP_FETCH:		return "FETCH response";
	case IMAP_RESP_VANISHED:	return "VANISHED response";
	case IMAP_RESP_SEARCH:		return "SEARCH response";
	case IMAP_RESP_ESEARCH:		return "ESEARCH response";
	case IMAP_RESP_OTHER:		return "untagged response";
	}
	return "response";
}
