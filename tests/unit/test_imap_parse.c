/*
 * The IMAP response parser: every response kind from real Dovecot 2.3
 * sessions (captured with doveadm exec imap) and hand-made ones, fed
 * whole, one byte at a time and in random pieces (same events every
 * time), body streaming with bounded memory, and hostile input that must
 * end in a clear IMAP_EV_ERROR.
 *
 * Each input is rendered as a text dump of its events (one line per
 * response or body), compared to the expected dump.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_fmt.h"
#include "imap_parse.h"
#include "imap_proto.h"		/* must not clash with our names */
#include "tap.h"

/* ---- dumping --------------------------------------------------------- */

static void
esc(struct imap_buf *b, const void *v, size_t n)
{
	const unsigned char	*s = v;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
			imap_buf_add(b, s + i, 1);
		else
			imap_buf_printf(b, "\\x%02x", s[i]);
	}
}

static void
qstr(struct imap_buf *b, const char *s)
{
	imap_buf_str(b, "\"");
	esc(b, s, strlen(s));
	imap_buf_str(b, "\"");
}

static void
strlist(struct imap_buf *b, const struct imap_strlist *l)
{
	size_t	i;

	imap_buf_str(b, "{");
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			imap_buf_str(b, " ");
		esc(b, l->v[i], strlen(l->v[i]));
	}
	imap_buf_str(b, "}");
}

static void
set(struct imap_buf *b, const struct imap_set *s)
{
	size_t	i;

	imap_buf_str(b, "{");
	for (i = 0; i < s->n; i++) {
		if (i > 0)
			imap_buf_str(b, ",");
		if (s->r[i].lo == IMAP_SET_STAR)
			imap_buf_str(b, "*");
		else
			imap_buf_printf(b, "%u", s->r[i].lo);
		if (s->r[i].hi != s->r[i].lo) {
			if (s->r[i].hi == IMAP_SET_STAR)
				imap_buf_str(b, ":*");
			else
				imap_buf_printf(b, ":%u", s->r[i].hi);
		}
	}
	imap_buf_str(b, "}");
}

static void
value(struct imap_buf *b, const struct imap_value *v)
{
	size_t	i;

	switch (v->type) {
	case IMAP_VAL_NIL:
		imap_buf_str(b, "NIL");
		break;
	case IMAP_VAL_ATOM:
		esc(b, v->str, strlen(v->str));
		break;
	case IMAP_VAL_STRING:
		qstr(b, v->str);
		break;
	case IMAP_VAL_LIST:
		imap_buf_str(b, "(");
		for (i = 0; i < v->n; i++) {
			if (i > 0)
				imap_buf_str(b, " ");
			value(b, &v->v[i]);
		}
		imap_buf_str(b, ")");
		break;
	default:
		imap_buf_str(b, "?");
	}
}

static const char *const rc_names[] = {
	"NONE", "ALERT", "BADCHARSET", "CAPABILITY", "PARSE",
	"PERMANENTFLAGS", "READ-ONLY", "READ-WRITE", "TRYCREATE", "UIDNEXT",
	"UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "NOMODSEQ", "MODIFIED",
	"CLOSED", "UIDNOTSTICKY", "APPENDUID", "COPYUID", "COMPRESSIONACTIVE",
	"NOTIFICATIONOVERFLOW", "BADEVENT", "OTHER",
};

static void
code(struct imap_buf *b, const struct imap_code *c)
{
	if (c->kind == IMAP_RC_NONE) {
		imap_buf_str(b, "-");
		return;
	}
	imap_buf_printf(b, "[%s", rc_names[c->kind]);
	if (c->kind == IMAP_RC_OTHER)
		imap_buf_printf(b, ":%s", c->name);
	if (c->num)
		imap_buf_printf(b, " num=%u", c->num);
	if (c->modseq)
		imap_buf_printf(b, " modseq=%llu",
		    (unsigned long long)c->modseq);
	if (c->list.n) {
		imap_buf_str(b, " list=");
		strlist(b, &c->list);
	}
	if (c->set.n) {
		imap_buf_str(b, " set=");
		set(b, &c->set);
	}
	if (c->set2.n) {
		imap_buf_str(b, " set2=");
		set(b, &c->set2);
	}
	if (c->arg) {
		imap_buf_str(b, " arg=");
		qstr(b, c->arg);
	}
	imap_buf_str(b, "]");
}

static const char *const st_names[] = {
	"?", "OK", "NO", "BAD", "PREAUTH", "BYE",
};

static void
resp(struct imap_buf *b, const struct imap_resp *r)
{
	const struct imap_fetch	*f = &r->fetch;
	const struct imap_status_resp *st = &r->status;
	size_t			 i;

	switch (r->type) {
	case IMAP_RESP_TAGGED:
		imap_buf_printf(b, "TAGGED %s %s ", r->tag,
		    st_names[r->cond.status]);
		code(b, &r->cond.code);
		imap_buf_str(b, " ");
		qstr(b, r->cond.text);
		break;
	case IMAP_RESP_COND:
		imap_buf_printf(b, "* %s ", st_names[r->cond.status]);
		code(b, &r->cond.code);
		imap_buf_str(b, " ");
		qstr(b, r->cond.text);
		break;
	case IMAP_RESP_CONT:
		imap_buf_str(b, "+ ");
		qstr(b, r->cond.text);
		break;
	case IMAP_RESP_CAPABILITY:
	case IMAP_RESP_ENABLED:
	case IMAP_RESP_FLAGS:
		imap_buf_str(b, r->type == IMAP_RESP_CAPABILITY ?
		    "CAPABILITY " : r->type == IMAP_RESP_ENABLED ?
		    "ENABLED " : "FLAGS ");
		strlist(b, &r->atoms);
		break;
	case IMAP_RESP_LIST:
		imap_buf_str(b, r->list.lsub ? "LSUB " : "LIST ");
		strlist(b, &r->list.attrs);
		if (r->list.delim == -1)
			imap_buf_str(b, " d=NIL ");
		else {
			unsigned char	d = (unsigned char)r->list.delim;

			imap_buf_str(b, " d=");
			esc(b, &d, 1);
			imap_buf_str(b, " ");
		}
		qstr(b, r->list.name);
		if (r->list.next) {
			imap_buf_str(b, " ext={");
			for (i = 0; i < r->list.next; i++) {
				if (i > 0)
					imap_buf_str(b, "; ");
				esc(b, r->list.ext[i].tag,
				    strlen(r->list.ext[i].tag));
				imap_buf_str(b, "=");
				value(b, &r->list.ext[i].val);
			}
			imap_buf_str(b, "}");
		}
		if (r->list.has_childinfo) {
			imap_buf_str(b, " childinfo=");
			strlist(b, &r->list.childinfo);
		}
		if (r->list.oldname) {
			imap_buf_str(b, " oldname=");
			qstr(b, r->list.oldname);
		}
		break;
	case IMAP_RESP_STATUS:
		imap_buf_str(b, "STATUS ");
		qstr(b, st->name);
		if (st->mask & IMAP_SA_MESSAGES)
			imap_buf_printf(b, " MESSAGES=%u", st->messages);
		if (st->mask & IMAP_SA_RECENT)
			imap_buf_printf(b, " RECENT=%u", st->recent);
		if (st->mask & IMAP_SA_UIDNEXT)
			imap_buf_printf(b, " UIDNEXT=%u", st->uidnext);
		if (st->mask & IMAP_SA_UIDVALIDITY)
			imap_buf_printf(b, " UIDVALIDITY=%u",
			    st->uidvalidity);
		if (st->mask & IMAP_SA_UNSEEN)
			imap_buf_printf(b, " UNSEEN=%u", st->unseen);
		if (st->mask & IMAP_SA_HIGHESTMODSEQ)
			imap_buf_printf(b, " HIGHESTMODSEQ=%llu",
			    (unsigned long long)st->highestmodseq);
		break;
	case IMAP_RESP_EXISTS:
		imap_buf_printf(b, "EXISTS %u", r->num);
		break;
	case IMAP_RESP_RECENT:
		imap_buf_printf(b, "RECENT %u", r->num);
		break;
	case IMAP_RESP_EXPUNGE:
		imap_buf_printf(b, "EXPUNGE %u", r->num);
		break;
	case IMAP_RESP_FETCH:
		imap_buf_printf(b, "FETCH %u", f->seq);
		if (f->mask & IMAP_FA_UID)
			imap_buf_printf(b, " uid=%u", f->uid);
		if (f->mask & IMAP_FA_MODSEQ)
			imap_buf_printf(b, " modseq=%llu",
			    (unsigned long long)f->modseq);
		if (f->mask & IMAP_FA_FLAGS) {
			imap_buf_str(b, " flags=");
			strlist(b, &f->flags);
		}
		if (f->mask & IMAP_FA_INTERNALDATE) {
			imap_buf_str(b, " date=");
			qstr(b, f->internaldate);
		}
		if (f->mask & IMAP_FA_RFC822_SIZE)
			imap_buf_printf(b, " size=%llu",
			    (unsigned long long)f->rfc822_size);
		if (f->mask & IMAP_FA_ENVELOPE) {
			imap_buf_str(b, " from=");
			qstr(b, f->env_from);
		}
		if (f->mask & IMAP_FA_BODY) {
			static const char *const bs[] = {
				"NONE", "NIL", "DATA", "SKIPPED"
			};
			imap_buf_printf(b, " body=%s:%llu",
			    bs[f->body_state],
			    (unsigned long long)f->body_size);
		}
		if (f->nsections)
			imap_buf_printf(b, " sections=%u", f->nsections);
		break;
	case IMAP_RESP_VANISHED:
		imap_buf_str(b, r->vanished.earlier ? "VANISHED EARLIER " :
		    "VANISHED ");
		set(b, &r->vanished.uids);
		break;
	case IMAP_RESP_SEARCH:
		imap_buf_str(b, "SEARCH {");
		for (i = 0; i < r->search.n; i++)
			imap_buf_printf(b, "%s%u", i ? " " : "",
			    r->search.v[i]);
		imap_buf_str(b, "}");
		if (r->search.has_modseq)
			imap_buf_printf(b, " modseq=%llu",
			    (unsigned long long)r->search.modseq);
		break;
	case IMAP_RESP_ESEARCH:
		imap_buf_str(b, "ESEARCH");
		if (r->esearch.tag) {
			imap_buf_str(b, " tag=");
			qstr(b, r->esearch.tag);
		}
		if (r->esearch.uid)
			imap_buf_str(b, " UID");
		if (r->esearch.mask & IMAP_ES_MIN)
			imap_buf_printf(b, " min=%u", r->esearch.min);
		if (r->esearch.mask & IMAP_ES_MAX)
			imap_buf_printf(b, " max=%u", r->esearch.max);
		if (r->esearch.mask & IMAP_ES_COUNT)
			imap_buf_printf(b, " count=%u", r->esearch.count);
		if (r->esearch.mask & IMAP_ES_ALL) {
			imap_buf_str(b, " all=");
			set(b, &r->esearch.all);
		}
		if (r->esearch.mask & IMAP_ES_MODSEQ)
			imap_buf_printf(b, " modseq=%llu",
			    (unsigned long long)r->esearch.modseq);
		break;
	case IMAP_RESP_OTHER:
		imap_buf_str(b, "OTHER ");
		if (r->other.has_num)
			imap_buf_printf(b, "%u ", r->other.num);
		imap_buf_printf(b, "%s ", r->other.name);
		qstr(b, r->other.raw);
		break;
	}
	imap_buf_str(b, "\n");
}

/* ---- running the parser ------------------------------------------- */

static uint64_t
fnv(const unsigned char *p, size_t n)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct run {
	struct imap_buf	 out;
	struct imap_buf	 body;
	int		 done;
	size_t		 nresp, nchunks;
	uint64_t	 bodylen, maxchunk;
	int		 keep_body;	/* else only length and hash */
	uint64_t	 hash;
	int		 streaming;
	size_t		 hiwat;		/* the parser's memory high-water */
};

/* Handles every event up to NEED_MORE; 1 once the stream has ended. */
static int
drain(struct imap_parser *p, struct run *r)
{
	struct imap_event	ev;
	enum imap_ev_type	t;

	while ((t = imap_parser_next(p, &ev)) != IMAP_EV_NEED_MORE) {
		if (t != ev.type)
			imap_buf_str(&r->out, "EVENT TYPE MISMATCH\n");
		switch (t) {
		case IMAP_EV_RESPONSE:
			r->nresp++;
			resp(&r->out, ev.resp);
			break;
		case IMAP_EV_BODY_BEGIN:
			imap_buf_printf(&r->out, "BEGIN %s whole=%d size=%llu "
			    "seq=%u uid=%u\n", ev.section, ev.whole,
			    (unsigned long long)ev.size, ev.fetch->seq,
			    ev.fetch->uid);
			imap_buf_reset(&r->body);
			r->bodylen = 0;
			r->hash = 0xcbf29ce484222325ULL;
			r->streaming = 1;
			break;
		case IMAP_EV_BODY_CHUNK: {
			size_t	i;

			if (!r->streaming)
				imap_buf_str(&r->out, "CHUNK outside body\n");
			r->nchunks++;
			if (ev.len > r->maxchunk)
				r->maxchunk = ev.len;
			for (i = 0; i < ev.len; i++) {
				r->hash ^= ev.data[i];
				r->hash *= 0x100000001b3ULL;
			}
			if (r->bodylen < 4096)
				imap_buf_add(&r->body, ev.data, ev.len);
			r->bodylen += ev.len;
			break;
		}
		case IMAP_EV_BODY_END:
			imap_buf_printf(&r->out, "END %s len=%llu", ev.section,
			    (unsigned long long)r->bodylen);
			if (r->bodylen <= 48) {
				imap_buf_str(&r->out, " ");
				imap_buf_str(&r->out, "\"");
				esc(&r->out, r->body.data ? r->body.data : "",
				    r->body.len);
				imap_buf_str(&r->out, "\"");
			} else
				imap_buf_printf(&r->out, " fnv=%016llx",
				    (unsigned long long)r->hash);
			imap_buf_str(&r->out, "\n");
			r->streaming = 0;
			break;
		case IMAP_EV_BODY_TOOBIG:
			imap_buf_printf(&r->out, "TOOBIG %s size=%llu seq=%u "
			    "uid=%u\n", ev.section,
			    (unsigned long long)ev.size, ev.fetch->seq,
			    ev.fetch->uid);
			break;
		case IMAP_EV_EOF:
			imap_buf_str(&r->out, "EOF\n");
			r->done = 1;
			return 1;
		case IMAP_EV_ERROR:
			imap_buf_printf(&r->out, "ERROR %s\n", ev.error);
			r->done = 1;
			return 1;
		default:
			imap_buf_printf(&r->out, "BAD EVENT %d\n", t);
			r->done = 1;
			return 1;
		}
	}
	return 0;
}

enum mode { WHOLE, BYTES, RANDOM, SEVEN, BIG };

static uint32_t rng_state;

static uint32_t
rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

/*
 * Feeds in as asked, each piece in its own buffer which is scribbled
 * over and freed once consumed: the parser must not keep pointers into
 * it.  Returns the dump (caller frees).
 */
static char *
run_input(const void *in, size_t len, enum mode mode, uint32_t seed,
    const struct imap_limits *lim, struct run *rout)
{
	struct imap_parser	*p;
	struct run		 r;
	size_t			 off = 0, n;
	unsigned char		*piece;
	char			*s;

	memset(&r, 0, sizeof(r));
	imap_buf_init(&r.out);
	imap_buf_init(&r.body);
	rng_state = seed;
	if ((p = imap_parser_new(lim)) == NULL)
		abort();
	while (off < len && !r.done) {
		switch (mode) {
		case WHOLE:
			n = len;
			break;
		case BYTES:
			n = 1;
			break;
		case RANDOM:
			n = 1 + rng() % (rng() % 4 == 0 ? 4000 : 23);
			break;
		case SEVEN:
			n = 7;
			break;
		default:
			n = 65536;
			break;
		}
		if (n > len - off)
			n = len - off;
		if ((piece = malloc(n)) == NULL)
			abort();
		memcpy(piece, (const unsigned char *)in + off, n);
		if (imap_parser_feed(p, piece, n) == -1)
			imap_buf_str(&r.out, "FEED REFUSED\n");
		drain(p, &r);
		memset(piece, 0xa5, n);
		free(piece);
		off += n;
	}
	if (!r.done) {
		imap_parser_eof(p);
		drain(p, &r);
	}
	if (rout != NULL) {
		rout->nresp = r.nresp;
		rout->nchunks = r.nchunks;
		rout->maxchunk = r.maxchunk;
		rout->bodylen = r.bodylen;
		rout->hash = r.hash;
		rout->hiwat = imap_parser_mem_hiwat(p);
	}
	imap_parser_free(p);
	imap_buf_free(&r.body);
	if (imap_buf_ok(&r.out) == -1)
		abort();
	s = strdup(r.out.data ? r.out.data : "");
	imap_buf_free(&r.out);
	return s;
}

/*
 * want is the exact dump, or "exact prefix~substring of the rest" when
 * the tail (an error message with offsets) is too tedious to spell out.
 */
static int
dump_matches(const char *dump, const char *want)
{
	const char	*tilde = strchr(want, '~');
	size_t		 n;

	if (tilde == NULL)
		return strcmp(dump, want) == 0;
	n = (size_t)(tilde - want);
	return strncmp(dump, want, n) == 0 &&
	    strstr(dump + n, tilde + 1) != NULL;
}

/*
 * Runs one input every way; all dumps must be the same, and match the
 * expectation (a leading "~" means: contains this).
 */
static void
check(const char *name, const void *in, size_t len, const char *want,
    const struct imap_limits *lim)
{
	char		*whole, *other;
	enum mode	 modes[] = { BYTES, RANDOM, RANDOM, RANDOM, SEVEN };
	uint32_t	 seeds[] = { 0, 1, 2, 3, 0 };
	size_t		 i;
	int		 same = 1;

	whole = run_input(in, len, WHOLE, 0, lim, NULL);
	if (want != NULL) {
		if (dump_matches(whole, want))
			OK(1, "%s: events as expected", name);
		else
			OK(0, "%s: got\n%s  want\n%s", name, whole, want);
	}
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		other = run_input(in, len, modes[i], seeds[i], lim, NULL);
		if (strcmp(whole, other) != 0) {
			same = 0;
			printf("# %s: split mode %d seed %u differs:\n%s",
			    name, modes[i], seeds[i], other);
		}
		free(other);
	}
	OK(same, "%s: same events whole, bytewise and in random pieces",
	    name);
	free(whole);
}

#define CHECK(name, in, want) check(name, in, sizeof(in) - 1, want, NULL)

/* ---- the table of responses ------------------------------------------- */

struct tcase {
	const char	*name;
	const char	*in;
	size_t		 len;
	const char	*want;
};
#define T(n, i, w)	{ n, i, sizeof(i) - 1, w }

static const struct tcase cases[] = {
	/* --- greetings, status responses, codes (Dovecot 2.3.19) --- */
	T("preauth greeting",
	  "* PREAUTH [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE "
	  "IDLE LITERAL+ NOTIFY] Logged in as imaptest\r\n",
	  "* PREAUTH [CAPABILITY list={IMAP4rev1 SASL-IR LOGIN-REFERRALS ID "
	  "ENABLE IDLE LITERAL+ NOTIFY} arg=\"IMAP4rev1 SASL-IR "
	  "LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ NOTIFY\"] "
	  "\"Logged in as imaptest\"\nEOF\n"),
	T("ok greeting",
	  "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.\r\n",
	  "* OK [CAPABILITY list={IMAP4rev1 STARTTLS AUTH=PLAIN} "
	  "arg=\"IMAP4rev1 STARTTLS AUTH=PLAIN\"] \"Dovecot ready.\"\nEOF\n"),
	T("capability",
	  "* CAPABILITY IMAP4rev1 SASL-IR THREAD=REFERENCES MULTIAPPEND "
	  "UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
	  "CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY "
	  "STATUS=SIZE SAVEDATE LITERAL+ NOTIFY\r\n"
	  "a OK Capability completed (0.001 + 0.000 secs).\r\n",
	  "CAPABILITY {IMAP4rev1 SASL-IR THREAD=REFERENCES MULTIAPPEND "
	  "UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
	  "CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY "
	  "STATUS=SIZE SAVEDATE LITERAL+ NOTIFY}\n"
	  "TAGGED a OK - \"Capability completed (0.001 + 0.000 secs).\"\n"
	  "EOF\n"),
	T("enabled",
	  "* ENABLED QRESYNC\r\n* ENABLED\r\n"
	  "000001 OK Enabled (0.001 + 0.000 secs).\r\n",
	  "ENABLED {QRESYNC}\nENABLED {}\n"
	  "TAGGED 000001 OK - \"Enabled (0.001 + 0.000 secs).\"\nEOF\n"),
	T("select with qresync",
	  "* OK [CLOSED] Previous mailbox closed.\r\n"
	  "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft foo)\r\n"
	  "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	  "\\Draft foo \\*)] Flags permitted.\r\n"
	  "* 4 EXISTS\r\n"
	  "* 0 RECENT\r\n"
	  "* OK [UIDVALIDITY 1795882455] UIDs valid\r\n"
	  "* OK [UIDNEXT 6] Predicted next UID\r\n"
	  "* OK [HIGHESTMODSEQ 7] Highest\r\n"
	  "* VANISHED (EARLIER) 4\r\n"
	  "* 1 FETCH (UID 1 FLAGS (\\Seen foo) MODSEQ (5))\r\n"
	  "* 2 FETCH (UID 2 FLAGS (\\Seen foo) MODSEQ (5))\r\n"
	  "* 3 FETCH (UID 3 FLAGS (\\Seen foo) MODSEQ (5))\r\n"
	  "000035 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n",
	  "* OK [CLOSED] \"Previous mailbox closed.\"\n"
	  "FLAGS {\\x5cAnswered \\x5cFlagged \\x5cDeleted \\x5cSeen "
	  "\\x5cDraft foo}\n"
	  "* OK [PERMANENTFLAGS list={\\x5cAnswered \\x5cFlagged "
	  "\\x5cDeleted \\x5cSeen \\x5cDraft foo \\x5c*} arg=\"(\\x5cAnswered "
	  "\\x5cFlagged \\x5cDeleted \\x5cSeen \\x5cDraft foo \\x5c*)\"] "
	  "\"Flags permitted.\"\n"
	  "EXISTS 4\n"
	  "RECENT 0\n"
	  "* OK [UIDVALIDITY num=1795882455 arg=\"1795882455\"] "
	  "\"UIDs valid\"\n"
	  "* OK [UIDNEXT num=6 arg=\"6\"] \"Predicted next UID\"\n"
	  "* OK [HIGHESTMODSEQ modseq=7 arg=\"7\"] \"Highest\"\n"
	  "VANISHED EARLIER {4}\n"
	  "FETCH 1 uid=1 modseq=5 flags={\\x5cSeen foo}\n"
	  "FETCH 2 uid=2 modseq=5 flags={\\x5cSeen foo}\n"
	  "FETCH 3 uid=3 modseq=5 flags={\\x5cSeen foo}\n"
	  "TAGGED 000035 OK [READ-WRITE] \"Select completed "
	  "(0.001 + 0.000 secs).\"\nEOF\n"),
	T("examine",
	  "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n"
	  "* OK [UNSEEN 1] First unseen.\r\n"
	  "000036 OK [READ-ONLY] Examine completed (0.002 + 0.000 + 0.001 "
	  "secs).\r\n",
	  "* OK [PERMANENTFLAGS arg=\"()\"] \"Read-only mailbox.\"\n"
	  "* OK [UNSEEN num=1 arg=\"1\"] \"First unseen.\"\n"
	  "TAGGED 000036 OK [READ-ONLY] \"Examine completed (0.002 + 0.000 "
	  "+ 0.001 secs).\"\nEOF\n"),
	T("appenduid multiappend",
	  "000012 OK [APPENDUID 1795882455 1:5] Append completed (0.005 + "
	  "0.000 + 0.004 secs).\r\n",
	  "TAGGED 000012 OK [APPENDUID num=1795882455 set={1:5} "
	  "arg=\"1795882455 1:5\"] \"Append completed (0.005 + 0.000 + "
	  "0.004 secs).\"\nEOF\n"),
	T("appenduid odd set",
	  "A1 OK [APPENDUID 38505 3955,3957:3960,4000:3999] APPEND done\r\n",
	  "TAGGED A1 OK [APPENDUID num=38505 set={3955,3957:3960,3999:4000} "
	  "arg=\"38505 3955,3957:3960,4000:3999\"] \"APPEND done\"\nEOF\n"),
	T("copyuid",
	  "000032 OK [COPYUID 1795882460 1:2 1:2] Copy completed (0.002 + "
	  "0.000 + 0.001 secs).\r\n"
	  "A2 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
	  "TAGGED 000032 OK [COPYUID num=1795882460 set={1:2} set2={1:2} "
	  "arg=\"1795882460 1:2 1:2\"] \"Copy completed (0.002 + 0.000 + "
	  "0.001 secs).\"\n"
	  "TAGGED A2 OK [COPYUID num=38505 set={304,319:320} "
	  "set2={3956:3958} arg=\"38505 304,319:320 3956:3958\"] \"Done\"\n"
	  "EOF\n"),
	T("trycreate, bad, no",
	  "000038 NO [TRYCREATE] Mailbox doesn't exist: nonexist (0.001 + "
	  "0.000 secs).\r\n"
	  "000039 BAD Error in IMAP command FOO: Unknown command (0.001 + "
	  "0.000 secs).\r\n"
	  "000037 NO Mailbox doesn't exist: nonexist (0.001 + 0.000 "
	  "secs).\r\n",
	  "TAGGED 000038 NO [TRYCREATE] \"Mailbox doesn't exist: nonexist "
	  "(0.001 + 0.000 secs).\"\n"
	  "TAGGED 000039 BAD - \"Error in IMAP command FOO: Unknown command "
	  "(0.001 + 0.000 secs).\"\n"
	  "TAGGED 000037 NO - \"Mailbox doesn't exist: nonexist (0.001 + "
	  "0.000 secs).\"\nEOF\n"),
	T("expunge highestmodseq",
	  "* VANISHED 4\r\n* 4 RECENT\r\n"
	  "000028 OK [HIGHESTMODSEQ 7] Expunge completed (0.001 + 0.000 "
	  "secs).\r\n",
	  "VANISHED {4}\nRECENT 4\n"
	  "TAGGED 000028 OK [HIGHESTMODSEQ modseq=7 arg=\"7\"] \"Expunge "
	  "completed (0.001 + 0.000 secs).\"\nEOF\n"),
	T("modified",
	  "* 5 FETCH (MODSEQ (320162350) UID 7 FLAGS (\\Seen))\r\n"
	  "d105 OK [MODIFIED 7,9:11] Conditional STORE failed\r\n",
	  "FETCH 5 uid=7 modseq=320162350 flags={\\x5cSeen}\n"
	  "TAGGED d105 OK [MODIFIED set={7,9:11} arg=\"7,9:11\"] "
	  "\"Conditional STORE failed\"\nEOF\n"),
	T("more codes",
	  "* OK [NOMODSEQ] Sorry, this mailbox format doesn't support "
	  "modsequences\r\n"
	  "* NO [UIDNOTSTICKY] Non-persistent UIDs\r\n"
	  "A3 NO [COMPRESSIONACTIVE] DEFLATE active via TLS\r\n"
	  "* OK [NOTIFICATIONOVERFLOW] ...A lot of events happened\r\n"
	  "A4 NO [BADEVENT (MessageNew MessageExpunge)] Unsupported\r\n"
	  "* OK [ALERT] System shutdown in 10 minutes\r\n"
	  "A5 BAD [PARSE] Bad header\r\n"
	  "A6 NO [BADCHARSET] no\r\n"
	  "A7 NO [BADCHARSET (UTF-8 \"X Y\")] no\r\n"
	  "* NO [REFERRAL imap://a;AUTH=*@b/c] Try there\r\n"
	  "A8 NO [OVERQUOTA] Quota exceeded\r\n"
	  "* OK [CLOSED]\r\n"
	  "* BYE [UNAVAILABLE]Shutting down\r\n",
	  "* OK [NOMODSEQ] \"Sorry, this mailbox format doesn't support "
	  "modsequences\"\n"
	  "* NO [UIDNOTSTICKY] \"Non-persistent UIDs\"\n"
	  "TAGGED A3 NO [COMPRESSIONACTIVE] \"DEFLATE active via TLS\"\n"
	  "* OK [NOTIFICATIONOVERFLOW] \"...A lot of events happened\"\n"
	  "TAGGED A4 NO [BADEVENT list={MessageNew MessageExpunge} "
	  "arg=\"(MessageNew MessageExpunge)\"] \"Unsupported\"\n"
	  "* OK [ALERT] \"System shutdown in 10 minutes\"\n"
	  "TAGGED A5 BAD [PARSE] \"Bad header\"\n"
	  "TAGGED A6 NO [BADCHARSET] \"no\"\n"
	  "TAGGED A7 NO [BADCHARSET list={UTF-8 X Y} arg=\"(UTF-8 "
	  "\\x22X Y\\x22)\"] \"no\"\n"
	  "* NO [OTHER:REFERRAL arg=\"imap://a;AUTH=*@b/c\"] \"Try there\"\n"
	  "TAGGED A8 NO [OTHER:OVERQUOTA] \"Quota exceeded\"\n"
	  "* OK [CLOSED] \"\"\n"
	  "* BYE [OTHER:UNAVAILABLE] \"Shutting down\"\nEOF\n"),
	T("bye and untagged no/bad",
	  "* BYE Logging out\r\n* BYE\r\n* NO [ALERT] disk full\r\n"
	  "* BAD Invalid tag\r\n"
	  "000046 OK Logout completed (0.001 + 0.000 secs).\r\n",
	  "* BYE - \"Logging out\"\n* BYE - \"\"\n* NO [ALERT] \"disk full\"\n"
	  "* BAD - \"Invalid tag\"\n"
	  "TAGGED 000046 OK - \"Logout completed (0.001 + 0.000 secs).\"\n"
	  "EOF\n"),
	T("status text with 8-bit and trailing literal-like text",
	  "* OK Caf\xc3\xa9 {5}\r\nA9 NO too big {123}\r\n",
	  "* OK - \"Caf\\xc3\\xa9 {5}\"\n"
	  "TAGGED A9 NO - \"too big {123}\"\nEOF\n"),
	T("continuations",
	  "+ Ready for literal data\r\n+\r\n+ \r\n+ dGVzdA==\r\n",
	  "+ \"Ready for literal data\"\n+ \"\"\n+ \"\"\n+ \"dGVzdA==\"\n"
	  "EOF\n"),
	T("tag chars",
	  "a]b.1 OK done\r\n",
	  "TAGGED a]b.1 OK - \"done\"\nEOF\n"),
	/* --- LIST, LSUB --- */
	T("list plain",
	  "* LIST (\\HasNoChildren) \"/\" Sent\r\n"
	  "* LIST (\\HasNoChildren) \"/\" &AOk-t&AOk-\r\n"
	  "* LIST (\\HasNoChildren) \"/\" \"q\\\\x\"\r\n"
	  "* LIST (\\HasNoChildren) \"/\" \"a b\"\r\n"
	  "* LIST (\\Noselect \\HasChildren) \"/\" foo/baz\r\n"
	  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	  "* LIST (\\Noselect) \"/\" \"\"\r\n"
	  "* LIST () NIL inbox\r\n"
	  "* LIST () \".\" InBoX.sub\r\n"
	  "* LIST () \"\\\\\" \"a\\\\b\"\r\n"
	  "* LIST () \"\\\"\" %x*]y\r\n"
	  "* LIST (\\Marked Custom) \"/\" {6}\r\nfoo \"b\r\n"
	  "* LSUB () \"/\" foo/bar\r\n"
	  "000014 OK List completed (0.001 + 0.000 secs).\r\n",
	  "LIST {\\x5cHasNoChildren} d=/ \"Sent\"\n"
	  "LIST {\\x5cHasNoChildren} d=/ \"&AOk-t&AOk-\"\n"
	  "LIST {\\x5cHasNoChildren} d=/ \"q\\x5cx\"\n"
	  "LIST {\\x5cHasNoChildren} d=/ \"a b\"\n"
	  "LIST {\\x5cNoselect \\x5cHasChildren} d=/ \"foo/baz\"\n"
	  "LIST {\\x5cHasNoChildren} d=/ \"INBOX\"\n"
	  "LIST {\\x5cNoselect} d=/ \"\"\n"
	  "LIST {} d=NIL \"INBOX\"\n"
	  "LIST {} d=. \"InBoX.sub\"\n"
	  "LIST {} d=\\x5c \"a\\x5cb\"\n"
	  "LIST {} d=\\x22 \"%x*]y\"\n"
	  "LIST {\\x5cMarked Custom} d=/ \"foo \\x22b\"\n"
	  "LSUB {} d=/ \"foo/bar\"\n"
	  "TAGGED 000014 OK - \"List completed (0.001 + 0.000 secs).\"\n"
	  "EOF\n"),
	T("list-extended childinfo (atom and string tags)",
	  "* LIST () \"/\" foo (CHILDINFO (\"SUBSCRIBED\"))\r\n"
	  "* LIST (\\NonExistent) \"/\" foo/baz (CHILDINFO (\"SUBSCRIBED\"))"
	  "\r\n"
	  "* LIST (\\Subscribed) \"/\" INBOX\r\n"
	  "* LIST (\\NonExistent) \"/\" Fruit (\"CHILDINFO\" (\"SUBSCRIBED\" "
	  "\"X-OTHER\"))\r\n"
	  "B00001 OK List completed (0.001 + 0.000 secs).\r\n",
	  "LIST {} d=/ \"foo\" ext={CHILDINFO=(\"SUBSCRIBED\")} "
	  "childinfo={SUBSCRIBED}\n"
	  "LIST {\\x5cNonExistent} d=/ \"foo/baz\" "
	  "ext={CHILDINFO=(\"SUBSCRIBED\")} childinfo={SUBSCRIBED}\n"
	  "LIST {\\x5cSubscribed} d=/ \"INBOX\"\n"
	  "LIST {\\x5cNonExistent} d=/ \"Fruit\" "
	  "ext={CHILDINFO=(\"SUBSCRIBED\" \"X-OTHER\")} "
	  "childinfo={SUBSCRIBED X-OTHER}\n"
	  "TAGGED B00001 OK - \"List completed (0.001 + 0.000 secs).\"\n"
	  "EOF\n"),
	T("list-extended oldname and others",
	  "* LIST () \"/\" foo/baz/deepest (\"OLDNAME\" (foo/baz/deeper))\r\n"
	  "* LIST () \".\" NewBox (\"OLDNAME\" (\"Old Box\") \"X-FOO\" "
	  "(1 (2 \"three\" {4}\r\nfour) NIL) \"X-SIMPLE\" 1:5,7)\r\n"
	  "* LIST () \"/\" inbox (\"OLDNAME\" (\"x\"))\r\n"
	  "* LIST () \"/\" y (\"OLDNAME\" (\"inbox\"))\r\n"
	  "* LIST () \"/\" z ()\r\n",
	  "LIST {} d=/ \"foo/baz/deepest\" ext={OLDNAME=(foo/baz/deeper)} "
	  "oldname=\"foo/baz/deeper\"\n"
	  "LIST {} d=. \"NewBox\" ext={OLDNAME=(\"Old Box\"); "
	  "X-FOO=(1 (2 \"three\" \"four\") NIL); X-SIMPLE=1:5,7} "
	  "oldname=\"Old Box\"\n"
	  "LIST {} d=/ \"INBOX\" ext={OLDNAME=(\"x\")} oldname=\"x\"\n"
	  "LIST {} d=/ \"y\" ext={OLDNAME=(\"INBOX\")} oldname=\"INBOX\"\n"
	  "LIST {} d=/ \"z\"\nEOF\n"),
	/* --- STATUS --- */
	T("status",
	  "* STATUS INBOX (MESSAGES 5 RECENT 5 UIDNEXT 6 UIDVALIDITY "
	  "1795882455 UNSEEN 0 HIGHESTMODSEQ 2 SIZE 70965)\r\n"
	  "* STATUS \"a b\" (MESSAGES 0 UIDNEXT 1)\r\n"
	  "* STATUS {5}\r\n\xc3\xa9t\xc3\xa9 (MESSAGES 0 UIDNEXT 1 "
	  "UIDVALIDITY 1795882458 UNSEEN 0 HIGHESTMODSEQ 1)\r\n"
	  "* STATUS inbox ()\r\n"
	  "* STATUS x (APPENDLIMIT NIL X-Y (1 2) HIGHESTMODSEQ "
	  "9223372036854775807)\r\n",
	  "STATUS \"INBOX\" MESSAGES=5 RECENT=5 UIDNEXT=6 "
	  "UIDVALIDITY=1795882455 UNSEEN=0 HIGHESTMODSEQ=2\n"
	  "STATUS \"a b\" MESSAGES=0 UIDNEXT=1\n"
	  "STATUS \"\\xc3\\xa9t\\xc3\\xa9\" MESSAGES=0 UIDNEXT=1 "
	  "UIDVALIDITY=1795882458 UNSEEN=0 HIGHESTMODSEQ=1\n"
	  "STATUS \"INBOX\"\n"
	  "STATUS \"x\" HIGHESTMODSEQ=9223372036854775807\nEOF\n"),
	/* --- FETCH --- */
	T("fetch flags",
	  "* 1 FETCH (UID 1 MODSEQ (3))\r\n"
	  "* 1 FETCH (UID 1 MODSEQ (5) FLAGS (\\Seen \\Recent foo))\r\n"
	  "* 4 FETCH (UID 5 FLAGS (\\RECENT) MODSEQ (2))\r\n"
	  "* 12 FETCH (FLAGS () UID 4294967295 RFC822.SIZE 44827)\r\n"
	  "* 7 FETCH (FLAGS ($Forwarded NonJunk \\Flagged))\r\n",
	  "FETCH 1 uid=1 modseq=3\n"
	  "FETCH 1 uid=1 modseq=5 flags={\\x5cSeen foo}\n"
	  "FETCH 4 uid=5 modseq=2 flags={}\n"
	  "FETCH 12 uid=4294967295 flags={} size=44827\n"
	  "FETCH 7 flags={$Forwarded NonJunk \\x5cFlagged}\nEOF\n"),
	T("fetch body and envelope with literals (Dovecot)",
	  "* 1 FETCH (UID 1 MODSEQ (2) FLAGS (\\Seen \\Recent) INTERNALDATE "
	  "\"08-Feb-1994 05:52:25 +0000\" RFC822.SIZE 193 BODY[] {193}\r\n"
	  "From: Alice <alice@example.org>\r\n"
	  "To: Bob <bob@example.net>, \"Carol \\\"C\\\"\" "
	  "<carol@example.com>\r\n"
	  "Subject: test 1 \xe9\r\n"
	  "Message-ID: <m1@example.org>\r\n"
	  "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
	  "\r\n"
	  "Hello 1\r\n"
	  " ENVELOPE (\"Mon, 7 Feb 1994 21:52:25 -0800\" {8}\r\n"
	  "test 1 \xe9 ((\"Alice\" NIL \"alice\" \"example.org\")) "
	  "((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL "
	  "\"alice\" \"example.org\")) ((\"Bob\" NIL \"bob\" \"example.net\")"
	  "({9}\r\n"
	  "Carol \"C\" NIL \"carol\" \"example.com\")) NIL NIL NIL "
	  "\"<m1@example.org>\"))\r\n"
	  "000022 OK Fetch completed (0.001 + 0.000 secs).\r\n",
	  "BEGIN BODY[] whole=1 size=193 seq=1 uid=1\n"
	  "END BODY[] len=193 fnv=b9bfa2cae33b22ed\n"
	  "FETCH 1 uid=1 modseq=2 flags={\\x5cSeen} "
	  "date=\"08-Feb-1994 05:52:25 +0000\" size=193 "
	  "from=\"alice@example.org\" body=DATA:193 sections=1\n"
	  "TAGGED 000022 OK - \"Fetch completed (0.001 + 0.000 secs).\"\n"
	  "EOF\n"),
	T("fetch sections and bodystructure",
	  "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (FROM SUBJECT)] {54}\r\n"
	  "From: Alice <alice@example.org>\r\n"
	  "Subject: test 1 \xe9\r\n"
	  "\r\n"
	  " BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
	  "NIL \"7bit\" 9 1 NIL NIL NIL NIL))\r\n"
	  "* 2 FETCH (UID 2 RFC822 {5}\r\nhello)\r\n"
	  "* 3 FETCH (BODY[HEADER.FIELDS (\"X-A)\" B)] \"q\\\"x\" "
	  "BODY[]<0> {3}\r\nabc RFC822.HEADER NIL BINARY[1] {0}\r\n "
	  "RFC822.TEXT \"\")\r\n",
	  "BEGIN BODY[HEADER.FIELDS (FROM SUBJECT)] whole=0 size=54 seq=1 "
	  "uid=1\n"
	  "END BODY[HEADER.FIELDS (FROM SUBJECT)] len=54 "
	  "fnv=4a5c53920a455ac0\n"
	  "FETCH 1 uid=1 sections=1\n"
	  "BEGIN RFC822 whole=1 size=5 seq=2 uid=2\n"
	  "END RFC822 len=5 \"hello\"\n"
	  "FETCH 2 uid=2 body=DATA:5 sections=1\n"
	  "BEGIN BODY[HEADER.FIELDS (\"X-A)\" B)] whole=0 size=3 seq=3 "
	  "uid=0\n"
	  "END BODY[HEADER.FIELDS (\"X-A)\" B)] len=3 \"q\\x22x\"\n"
	  "BEGIN BODY[]<0> whole=0 size=3 seq=3 uid=0\n"
	  "END BODY[]<0> len=3 \"abc\"\n"
	  "BEGIN BINARY[1] whole=0 size=0 seq=3 uid=0\n"
	  "END BINARY[1] len=0 \"\"\n"
	  "BEGIN RFC822.TEXT whole=0 size=0 seq=3 uid=0\n"
	  "END RFC822.TEXT len=0 \"\"\n"
	  "FETCH 3 sections=5\nEOF\n"),
	T("fetch body before uid, quoted and nil bodies",
	  "* 3 FETCH (BODY[] {5}\r\nhello UID 9 MODSEQ (4))\r\n"
	  "* 4 FETCH (UID 10 BODY[] \"sh\\\\ort\")\r\n"
	  "* 5 FETCH (UID 11 BODY[] NIL)\r\n"
	  "* 6 FETCH (UID 12 BODY[] {0}\r\n)\r\n"
	  "* 7 FETCH (UID 13 BODY[] {2}\r\n\r\n BODY[TEXT] {1}\r\n\0)\r\n",
	  "BEGIN BODY[] whole=1 size=5 seq=3 uid=0\n"
	  "END BODY[] len=5 \"hello\"\n"
	  "FETCH 3 uid=9 modseq=4 body=DATA:5 sections=1\n"
	  "BEGIN BODY[] whole=1 size=6 seq=4 uid=10\n"
	  "END BODY[] len=6 \"sh\\x5cort\"\n"
	  "FETCH 4 uid=10 body=DATA:6 sections=1\n"
	  "FETCH 5 uid=11 body=NIL:0 sections=1\n"
	  "BEGIN BODY[] whole=1 size=0 seq=6 uid=12\n"
	  "END BODY[] len=0 \"\"\n"
	  "FETCH 6 uid=12 body=DATA:0 sections=1\n"
	  "BEGIN BODY[] whole=1 size=2 seq=7 uid=13\n"
	  "END BODY[] len=2 \"\\x0d\\x0a\"\n"
	  "BEGIN BODY[TEXT] whole=0 size=1 seq=7 uid=13\n"
	  "END BODY[TEXT] len=1 \"\\x00\"\n"
	  "FETCH 7 uid=13 body=DATA:2 sections=2\nEOF\n"),
	T("fetch internaldate and envelope variants",
	  "* 1 FETCH (INTERNALDATE \" 7-Feb-1994 21:52:25 -0800\" "
	  "ENVELOPE (NIL NIL NIL ((NIL NIL \"s\" \"h\")) NIL NIL NIL NIL NIL "
	  "NIL))\r\n"
	  "* 2 FETCH (ENVELOPE (\"d\" \"s\" ((NIL NIL \"grp\" NIL)(NIL NIL "
	  "NIL NIL)) NIL NIL NIL NIL NIL NIL NIL))\r\n"
	  "* 3 FETCH (ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"
	  "* 4 FETCH (ENVELOPE (NIL NIL () NIL ((\"R\" NIL \"r\" \"h.org\") "
	  "(\"S\" NIL \"s\" \"i.org\")) NIL NIL NIL NIL NIL))\r\n",
	  "FETCH 1 date=\" 7-Feb-1994 21:52:25 -0800\" from=\"s@h\"\n"
	  "FETCH 2 from=\"\"\n"
	  "FETCH 3 from=\"\"\n"
	  "FETCH 4 from=\"r@h.org\"\nEOF\n"),
	T("fetch unknown items skipped",
	  "* 1 FETCH (X-GM-LABELS (\\Inbox \"a b\") UID 3 SAVEDATE NIL "
	  "EMAILID (M6d99ac3275bb4e) PREVIEW {5}\r\nhi th X-N 12)\r\n",
	  "FETCH 1 uid=3\nEOF\n"),
	/* --- VANISHED, SEARCH, ESEARCH --- */
	T("vanished",
	  "* VANISHED (EARLIER) 300:310,405,411\r\n"
	  "* VANISHED 405,407\r\n"
	  "* VANISHED (earlier) 9:3\r\n",
	  "VANISHED EARLIER {300:310,405,411}\n"
	  "VANISHED {405,407}\n"
	  "VANISHED EARLIER {3:9}\nEOF\n"),
	T("search",
	  "* SEARCH 1 2 3 5\r\n* SEARCH\r\n* SEARCH 1 2 3 5 (MODSEQ 5)\r\n",
	  "SEARCH {1 2 3 5}\nSEARCH {}\nSEARCH {1 2 3 5} modseq=5\nEOF\n"),
	T("esearch",
	  "* ESEARCH (TAG \"000031\") UID MIN 1 MAX 5 ALL 1:3,5 COUNT 4\r\n"
	  "* ESEARCH (TAG \"A1\") UID COUNT 0\r\n"
	  "* ESEARCH UID\r\n"
	  "* ESEARCH\r\n"
	  "* ESEARCH (TAG \"B\") MODSEQ 917162500 X-LABEL (a b) ALL 4:*\r\n",
	  "ESEARCH tag=\"000031\" UID min=1 max=5 count=4 all={1:3,5}\n"
	  "ESEARCH tag=\"A1\" UID count=0\n"
	  "ESEARCH UID\n"
	  "ESEARCH\n"
	  "ESEARCH tag=\"B\" all={4:*} modseq=917162500\nEOF\n"),
	/* --- unknown responses --- */
	T("unknown untagged responses",
	  "* ID (\"name\" \"Dovecot\")\r\n"
	  "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"
	  "* 3 XFOO bar\r\n"
	  "* QUOTA \"\" (STORAGE 10 512)\r\n"
	  "* XLIT {3}\r\nabc tail\r\n"
	  "* XEMPTY\r\n",
	  "OTHER ID \"(\\x22name\\x22 \\x22Dovecot\\x22)\"\n"
	  "OTHER NAMESPACE \"((\\x22\\x22 \\x22/\\x22)) NIL NIL\"\n"
	  "OTHER 3 XFOO \"bar\"\n"
	  "OTHER QUOTA \"\\x22\\x22 (STORAGE 10 512)\"\n"
	  "OTHER XLIT \"{3}\\x0d\\x0aabc tail\"\n"
	  "OTHER XEMPTY \"\"\nEOF\n"),
	T("empty input", "", "EOF\n"),

	/* --- hostile and broken input: each one ends the stream --- */
	T("NUL in a line", "* OK foo\0bar\r\n",
	  "ERROR NUL byte in response line\n"),
	T("LF without CR", "* OK foo\n",
	  "ERROR response line not terminated by CRLF\n"),
	T("bare CR", "* OK a\rb\r\n",
	  "ERROR CR in the middle of a response line\n"),
	T("unbalanced parentheses in FETCH",
	  "* 1 FETCH (UID 1 FLAGS (\\Seen)\r\n",
	  "ERROR malformed FETCH response: expected ')' at end of line\n"),
	T("extra closing parenthesis",
	  "* 1 FETCH (UID 1))\r\n",
	  "ERROR malformed FETCH response: unexpected data at byte 17 "
	  "(\")\")\n"),
	T("unbalanced LIST", "* LIST (\\Noselect \"/\" foo\r\n",
	  "~ERROR malformed LIST response:"),
	T("UID overflow", "* 1 FETCH (UID 4294967296)\r\n",
	  "ERROR malformed FETCH response: number out of range (over "
	  "4294967295) at byte 15 (\"4294967296)\")\n"),
	T("UID zero", "* 1 FETCH (UID 0)\r\n",
	  "~ERROR malformed FETCH response: expected a non-zero number"),
	T("modseq overflow",
	  "* 1 FETCH (UID 1 MODSEQ (9223372036854775808))\r\n",
	  "~ERROR malformed FETCH response: mod-sequence out of range"),
	T("number overflow", "* 99999999999999999999999 EXISTS\r\n",
	  "~ERROR malformed untagged response: number too large"),
	T("uidnext overflow", "* OK [UIDNEXT 4294967296] x\r\n",
	  "~ERROR malformed status response: number out of range"),
	T("absurd literal size",
	  "* 1 FETCH (BODY[] {99999999999999999999999}\r\n",
	  "ERROR literal size out of range\n"),
	T("100 TB non-body literal", "* LIST () \"/\" {109951162777600}\r\n",
	  "ERROR literal of 109951162777600 bytes is larger than the limit "
	  "of 65536 bytes\n"),
	T("100 TB body literal, then the stream ends",
	  "* 1 FETCH (UID 7 BODY[] {109951162777600}\r\nabc",
	  "TOOBIG BODY[] size=109951162777600 seq=1 uid=7\n"
	  "ERROR connection closed inside a literal (109951162777597 of "
	  "109951162777600 bytes missing)\n"),
	T("literal then EOF", "* LIST () \"/\" {10}\r\nabc",
	  "ERROR connection closed inside a literal (7 of 10 bytes missing)\n"),
	T("line then EOF", "* OK foo",
	  "ERROR connection closed in the middle of a response\n"),
	T("body literal then EOF", "* 1 FETCH (BODY[] {10}\r\nabc",
	  "BEGIN BODY[] whole=1 size=10 seq=1 uid=0\n"
	  "ERROR connection closed inside a literal (7 of 10 bytes missing)\n"),
	T("EOF after a literal, before the line's end",
	  "* 1 FETCH (BODY[] {3}\r\nabc",
	  "BEGIN BODY[] whole=1 size=3 seq=1 uid=0\n"
	  "END BODY[] len=3 \"abc\"\n"
	  "ERROR connection closed in the middle of a response\n"),
	T("non-synchronising literal", "* LIST () \"/\" {3+}\r\nabc\r\n",
	  "ERROR server sent a non-synchronising literal\n"),
	T("NUL in a literal", "* LIST () \"/\" {3}\r\na\0b\r\n",
	  "ERROR NUL byte in a literal\n"),
	T("garbage", "hello\r\n",
	  "ERROR malformed tagged response: expected a space at end of line\n"),
	T("garbage after body",
	  "* 1 FETCH (UID 1 BODY[] {3}\r\nabc UID)\r\n",
	  "BEGIN BODY[] whole=1 size=3 seq=1 uid=1\n"
	  "END BODY[] len=3 \"abc\"\n"
	  "ERROR malformed FETCH response: expected a space at byte 33 "
	  "(\")\")\n"),
	T("no response name", "* \r\n",
	  "~ERROR malformed untagged response: expected a response name"),
	T("star without space", "*OK\r\n",
	  "~ERROR malformed untagged response: expected a space"),
	T("bad escape", "* LIST () \"/\" \"a\\qb\"\r\n",
	  "~ERROR malformed LIST response: bad escape in quoted string"),
	T("unterminated quoted", "* LIST () \"/\" \"ab\r\n",
	  "~ERROR malformed LIST response: unterminated quoted string"),
	T("bad uidnext", "* OK [UIDNEXT abc] x\r\n",
	  "~ERROR malformed status response: expected a number"),
	T("appenduid zero", "A OK [APPENDUID 1 0] x\r\n",
	  "~ERROR malformed tagged response: expected a non-zero number"),
	T("appenduid star", "A OK [APPENDUID 1 3:*] x\r\n",
	  "~ERROR malformed tagged response: expected a number"),
	T("copyuid sizes", "A OK [COPYUID 1 1:3 5:6] x\r\n",
	  "~ERROR malformed tagged response: COPYUID sets of different sizes"),
	T("unterminated code", "* OK [ALERT x\r\n",
	  "~ERROR malformed status response: unterminated response code"),
	T("vanished star", "* VANISHED 1:*\r\n",
	  "~ERROR malformed VANISHED response: expected a number"),
	T("expunge zero", "* 0 EXPUNGE\r\n",
	  "~ERROR malformed untagged response: EXPUNGE of message 0"),
	T("bad internaldate",
	  "* 1 FETCH (INTERNALDATE \"32-Jan-2020 10:00:00 +0000\")\r\n",
	  "ERROR malformed FETCH response: invalid INTERNALDATE "
	  "\"32-Jan-2020 10:00:00 +0000\" at byte 11 (\"INTERNALDATE "
	  "\\x2232-Jan...\")\n"),
	T("fetch without parenthesis", "* 1 FETCH UID 3\r\n",
	  "~ERROR malformed FETCH response: expected '(' after FETCH"),
	T("tagged with other word", "A1 FETCH done\r\n",
	  "~ERROR malformed tagged response: expected OK, NO or BAD"),
	T("literal in a status response is text",
	  "* OK [CAPABILITY IMAP4rev1] hi {3}\r\nabc\r\n",
	  "* OK [CAPABILITY list={IMAP4rev1} arg=\"IMAP4rev1\"] \"hi {3}\"\n"
	  "ERROR malformed tagged response: expected a space at end of "
	  "line\n"),
	T("deep nesting",
	  "* 1 FETCH (X ((((((((((((((((((((((((((((((((((((((((((((((((((("
	  "(((((((((((((((((((())))))))))))))))))))))))))))))))))))))))))))"
	  "))))))))))))))))))))))))))))))\r\n",
	  "ERROR FETCH response: parentheses nested deeper than 64\n"),
	T("error is sticky, then nothing more",
	  "* OK \0\r\n* OK fine\r\n",
	  "ERROR NUL byte in response line\n"),
};

/* ---- other checks ---------------------------------------------------- */

static void
test_table(void)
{
	size_t	i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check(cases[i].name, cases[i].in, cases[i].len, cases[i].want,
		    NULL);
}

/* Compares two dumps, printing the one we got only when they differ. */
static void
same_str(const char *got, const char *want, const char *what)
{
	if (strcmp(got, want) == 0)
		OK(1, "%s: events as expected", what);
	else
		OK(0, "%s: got\n%s  want\n%s", what, got, want);
}

/* A body of 5 MiB in 7-byte and 64 KiB pieces: chunks sum exactly. */
static void
test_body_stream(void)
{
	static const char	 head[] = "* 9 FETCH (UID 42 MODSEQ (7) "
	    "FLAGS (\\Seen) BODY[] {5242880}\r\n";
	static const char	 tail[] = " INTERNALDATE "
	    "\"08-Feb-1994 05:52:25 +0000\")\r\nA1 OK done\r\n";
	size_t			 blen = 5242880, len, i;
	unsigned char		*in;
	struct run		 r;
	char			*a, *b, want[512];
	uint64_t		 h;

	len = sizeof(head) - 1 + blen + sizeof(tail) - 1;
	if ((in = malloc(len)) == NULL)
		abort();
	memcpy(in, head, sizeof(head) - 1);
	for (i = 0; i < blen; i++)
		in[sizeof(head) - 1 + i] = (unsigned char)(i * 7 + i / 251);
	memcpy(in + sizeof(head) - 1 + blen, tail, sizeof(tail) - 1);
	h = fnv(in + sizeof(head) - 1, blen);
	snprintf(want, sizeof(want),
	    "BEGIN BODY[] whole=1 size=5242880 seq=9 uid=42\n"
	    "END BODY[] len=5242880 fnv=%016llx\n"
	    "FETCH 9 uid=42 modseq=7 flags={\\x5cSeen} "
	    "date=\"08-Feb-1994 05:52:25 +0000\" body=DATA:5242880 "
	    "sections=1\n"
	    "TAGGED A1 OK - \"done\"\nEOF\n", (unsigned long long)h);

	memset(&r, 0, sizeof(r));
	a = run_input(in, len, SEVEN, 0, NULL, &r);
	same_str(a, want, "5 MiB body in 7-byte pieces");
	OK(r.nchunks >= blen / 7, "7-byte pieces: %zu chunks", r.nchunks);
	OK(r.maxchunk <= 7, "7-byte pieces: no chunk over 7 bytes");
	OK(r.hiwat < 32 * 1024, "7-byte pieces: parser memory high-water "
	    "%zu bytes < 32 KiB", r.hiwat);

	memset(&r, 0, sizeof(r));
	b = run_input(in, len, BIG, 0, NULL, &r);
	same_str(b, want, "5 MiB body in 64 KiB pieces");
	OK(r.maxchunk <= IMAP_DEF_CHUNK_MAX, "64 KiB pieces: chunks at most "
	    "chunk_max");
	OK(r.hiwat < 32 * 1024, "64 KiB pieces: parser memory high-water "
	    "%zu bytes < 32 KiB", r.hiwat);
	free(a);
	free(b);

	/* Whole: one window, chunks capped at chunk_max. */
	memset(&r, 0, sizeof(r));
	a = run_input(in, len, WHOLE, 0, NULL, &r);
	same_str(a, want, "5 MiB body in one window");
	OK(r.nchunks == blen / IMAP_DEF_CHUNK_MAX, "one window: %zu chunks "
	    "of chunk_max", r.nchunks);
	free(a);

	/* Oversized body: skipped, the stream stays in sync. */
	{
		struct imap_limits	lim;

		imap_limits_default(&lim);
		lim.body_max = 1024 * 1024;
		snprintf(want, sizeof(want),
		    "TOOBIG BODY[] size=5242880 seq=9 uid=42\n"
		    "FETCH 9 uid=42 modseq=7 flags={\\x5cSeen} "
		    "date=\"08-Feb-1994 05:52:25 +0000\" "
		    "body=SKIPPED:5242880 sections=1\n"
		    "TAGGED A1 OK - \"done\"\nEOF\n");
		check("5 MiB body over a 1 MiB body_max", in, len, want, &lim);
	}
	free(in);
}

/* Lines and responses at and over the limits. */
static void
test_limits(void)
{
	struct imap_limits	 lim;
	unsigned char		*in;
	size_t			 n = 2 * 1024 * 1024, i, off;
	char			*s;
	struct run		 r;

	/* An endless line: an error once over line_max, memory bounded. */
	if ((in = malloc(n)) == NULL)
		abort();
	memcpy(in, "* OK ", 5);
	memset(in + 5, 'a', n - 5);
	memset(&r, 0, sizeof(r));
	s = run_input(in, n, RANDOM, 7, NULL, &r);
	same_str(s, "ERROR response longer than 1048576 bytes\n",
	    "endless line");
	OK(r.hiwat < 1024 * 1024 + 64 * 1024,
	    "endless line: high-water %zu bytes", r.hiwat);
	free(s);

	/* Exactly line_max is fine, one more byte is not. */
	imap_limits_default(&lim);
	lim.line_max = 100;
	memset(in, 'x', 100);
	memcpy(in, "* OK ", 5);
	memcpy(in + 98, "\r\n", 2);
	check("line of exactly line_max", in, 100, "~* OK - \"xxx", &lim);
	memset(in, 'x', 101);
	memcpy(in, "* OK ", 5);
	memcpy(in + 99, "\r\n", 2);
	check("line of line_max + 1", in, 101,
	    "ERROR response longer than 100 bytes\n", &lim);

	/* Literals count against the line. */
	check("literals over line_max",
	    "* LIST () \"/\" {90}\r\n", sizeof("* LIST () \"/\" {90}\r\n") - 1,
	    "ERROR response longer than 100 bytes\n", &lim);

	/* Too many literals. */
	imap_limits_default(&lim);
	lim.literals_max = 3;
	check("too many literals",
	    "* XFOO {1}\r\na {1}\r\nb {1}\r\nc {1}\r\nd\r\n",
	    sizeof("* XFOO {1}\r\na {1}\r\nb {1}\r\nc {1}\r\nd\r\n") - 1,
	    "ERROR more than 3 literals in one response\n", &lim);

	/* A response too big to represent (flags list, tiny mem_max). */
	imap_limits_default(&lim);
	lim.mem_max = 8192;
	off = 0;
	memcpy(in, "* FLAGS (", 9);
	off = 9;
	for (i = 0; i < 3000; i++) {
		in[off++] = 'a';
		in[off++] = ' ';
	}
	in[off - 1] = ')';
	in[off++] = '\r';
	in[off++] = '\n';
	check("response over mem_max", in, off,
	    "ERROR FLAGS response: too large to represent (over 8192 bytes)\n",
	    &lim);

	/* The same, with default limits, is fine and its memory bounded. */
	memset(&r, 0, sizeof(r));
	s = run_input(in, off, WHOLE, 0, NULL, &r);
	OK(strncmp(s, "FLAGS {a a a", 12) == 0, "3000 flags parsed");
	OK(r.hiwat < 128 * 1024, "3000 flags: high-water %zu bytes",
	    r.hiwat);
	free(s);

	/* Bodies over body_max, quoted or literal; at the limit is fine. */
	imap_limits_default(&lim);
	lim.body_max = 10;
	check("quoted body over body_max",
	    "* 1 FETCH (UID 4 BODY[] \"0123456789abc\" FLAGS (\\Seen))\r\n",
	    sizeof("* 1 FETCH (UID 4 BODY[] \"0123456789abc\" FLAGS "
	    "(\\Seen))\r\n") - 1,
	    "TOOBIG BODY[] size=13 seq=1 uid=4\n"
	    "FETCH 1 uid=4 flags={\\x5cSeen} body=SKIPPED:13 sections=1\n"
	    "EOF\n", &lim);
	check("literal bodies around body_max",
	    "* 1 FETCH (BODY[] {10}\r\n0123456789 BODY[TEXT] {11}\r\n"
	    "0123456789a)\r\n",
	    sizeof("* 1 FETCH (BODY[] {10}\r\n0123456789 BODY[TEXT] "
	    "{11}\r\n0123456789a)\r\n") - 1,
	    "BEGIN BODY[] whole=1 size=10 seq=1 uid=0\n"
	    "END BODY[] len=10 \"0123456789\"\n"
	    "TOOBIG BODY[TEXT] size=11 seq=1 uid=0\n"
	    "FETCH 1 body=DATA:10 sections=2\nEOF\n", &lim);

	/* Sets: bounded number of ranges. */
	imap_limits_default(&lim);
	lim.set_max = 3;
	check("set over set_max", "* VANISHED 1,3,5,7\r\n",
	    sizeof("* VANISHED 1,3,5,7\r\n") - 1,
	    "ERROR VANISHED response: sequence set with more than 3 ranges\n",
	    &lim);
	check("set at set_max", "* VANISHED 1,3,5:6\r\n",
	    sizeof("* VANISHED 1,3,5:6\r\n") - 1,
	    "VANISHED {1,3,5:6}\nEOF\n", &lim);

	/* A huge legal VANISHED line (1 MiB limit). */
	off = 0;
	memcpy(in, "* VANISHED (EARLIER) ", 21);
	off = 21;
	for (i = 1; off < 900000; i += 2)
		off += (size_t)sprintf((char *)in + off, "%zu,", i);
	in[off - 1] = '\r';
	in[off++] = '\n';
	memset(&r, 0, sizeof(r));
	s = run_input(in, off, RANDOM, 3, NULL, &r);
	OK(strncmp(s, "VANISHED EARLIER {1,3,5,", 24) == 0 &&
	    strstr(s, "\nEOF\n") != NULL, "900 KB VANISHED line parsed");
	free(s);
	free(in);
}

/*
 * A FETCH built so that the depth tracker believes its literals sit in
 * the item list while the grammar sees them nested: the parser must not
 * re-parse the same long item for every literal (quadratic time).
 */
static void
test_fooled_tracker(void)
{
	struct imap_buf	 b;
	char		*s;
	size_t		 i;

	imap_buf_init(&b);
	imap_buf_str(&b, "* 1 FETCH (X (a BODY[ (])");
	for (i = 0; i < 100000; i++)
		imap_buf_str(&b, " aaaa");
	for (i = 0; i < 4000; i++)
		imap_buf_str(&b, " {0}\r\n");
	imap_buf_str(&b, ") UID 5)\r\n");
	/*
	 * No timing threshold here (speed is measured in bench/, never
	 * asserted): before the fix this input took ~17 s, now ~10 ms;
	 * the ctest timeout is the backstop against a real hang.
	 */
	s = run_input(b.data, b.len, WHOLE, 0, NULL, NULL);
	same_str(s, "FETCH 1 uid=5\nEOF\n", "fooled tracker: parsed");
	free(s);
	imap_buf_free(&b);
}

/* The API's own promises. */
static void
test_api(void)
{
	struct imap_parser	*p;
	struct imap_event	 ev;
	struct imap_resp	*r;
	static const char	 two[] = "* 3 EXISTS\r\n* 4 EXISTS\r\n";

	p = imap_parser_new(NULL);
	OK(p != NULL, "parser created");
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_NEED_MORE,
	    "nothing fed: need more");
	IS_INT(imap_parser_feed(p, two, sizeof(two) - 1), 0, "feed");
	IS_INT(imap_parser_feed(p, two, sizeof(two) - 1), -1,
	    "feed refused while the window is not consumed");
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_RESPONSE, "first response");
	r = imap_parser_steal(p);
	OK(r != NULL && r->type == IMAP_RESP_EXISTS && r->num == 3,
	    "stolen response is ours");
	OK(imap_parser_steal(p) == NULL, "nothing more to steal");
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_RESPONSE, "second response");
	IS_INT(ev.resp->num, 4, "second response value");
	OK(r->num == 3, "stolen response survives the next call");
	imap_resp_free(r);
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_NEED_MORE, "window done");
	imap_parser_eof(p);
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_EOF, "clean end");
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_EOF, "end is sticky");
	IS_INT(imap_parser_feed(p, two, 3), -1, "no feeding after the end");
	imap_parser_free(p);

	p = imap_parser_new(NULL);
	imap_parser_feed(p, "* OK a\n", 7);
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_ERROR, "error");
	IS_STR(ev.error, "response line not terminated by CRLF",
	    "error message");
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_ERROR, "error is sticky");
	IS_STR(ev.error, "response line not terminated by CRLF",
	    "same message again");
	imap_parser_free(p);

	/* Freed with a response in progress and one handed out. */
	p = imap_parser_new(NULL);
	imap_parser_feed(p, "* 1 EXISTS\r\n* LIST () \"/\" {5}\r\nab", 33);
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_RESPONSE, "response");
	IS_INT(imap_parser_next(p, &ev), IMAP_EV_NEED_MORE, "partial");
	imap_parser_free(p);
	imap_parser_free(NULL);
	imap_resp_free(NULL);

	/* Helpers. */
	{
		struct imap_range	rr[] = { { 1, 3 }, { 7, 7 },
					    { 10, IMAP_SET_STAR } };
		struct imap_set		s = { rr, 3 };
		char			 q[] = "QRESYNC", l2[] = "LITERAL+";
		char			*v[] = { q, l2 };
		struct imap_strlist	l = { v, 2 };

		IS_INT(imap_set_count(&s), 5, "set count, * counts one");
		OK(imap_set_contains(&s, 2) && imap_set_contains(&s, 7) &&
		    imap_set_contains(&s, 99) && !imap_set_contains(&s, 5),
		    "set membership");
		OK(imap_strlist_has(&l, "literal+") &&
		    !imap_strlist_has(&l, "ENABLE"), "strlist lookup");
		OK(imap_date_time_valid("08-Feb-1994 05:52:25 +0000") &&
		    imap_date_time_valid(" 7-feb-1994 21:52:25 -0800") &&
		    !imap_date_time_valid("8-Feb-1994 05:52:25 +0000") &&
		    !imap_date_time_valid("08-Feb-1994 24:00:00 +0000") &&
		    !imap_date_time_valid("08-Fev-1994 05:52:25 +0000") &&
		    !imap_date_time_valid("08-Feb-1994 05:52:25 0000") &&
		    !imap_date_time_valid("08-Feb-1994 05:52:25 +0000 ") &&
		    !imap_date_time_valid(NULL), "date-time syntax");
		IS_STR(imap_resp_type_name(IMAP_RESP_VANISHED),
		    "VANISHED response", "type names");
	}
}

#ifdef CORPUS_DIR
/*
 * The fuzzer's seed corpus holds real sessions ("ok-*": must parse
 * without error) and broken ones ("bad-*": must end in an error); every
 * file must give the same events however it is cut.
 */
static void
test_corpus(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[1024], *whole, *other;
	FILE		*fp;
	unsigned char	*buf;
	size_t		 len, nfiles = 0;
	long		 sz;
	int		 same;

	if ((d = opendir(CORPUS_DIR)) == NULL) {
		OK(0, "open %s", CORPUS_DIR);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", CORPUS_DIR, de->d_name);
		if ((fp = fopen(path, "rb")) == NULL)
			continue;
		fseek(fp, 0, SEEK_END);
		sz = ftell(fp);
		rewind(fp);
		if ((buf = malloc(sz > 0 ? (size_t)sz : 1)) == NULL)
			abort();
		len = fread(buf, 1, (size_t)sz, fp);
		fclose(fp);
		nfiles++;
		whole = run_input(buf, len, WHOLE, 0, NULL, NULL);
		if (strncmp(de->d_name, "ok-", 3) == 0)
			OK(strstr(whole, "ERROR") == NULL &&
			    strstr(whole, "EOF\n") != NULL,
			    "corpus %s parses cleanly%s%s", de->d_name,
			    strstr(whole, "ERROR") ? ": " : "",
			    strstr(whole, "ERROR") ? strstr(whole, "ERROR") :
			    "");
		else if (strncmp(de->d_name, "bad-", 4) == 0)
			OK(strstr(whole, "ERROR") != NULL,
			    "corpus %s ends in an error", de->d_name);
		same = 1;
		other = run_input(buf, len, BYTES, 0, NULL, NULL);
		same &= strcmp(whole, other) == 0;
		free(other);
		other = run_input(buf, len, RANDOM, (uint32_t)nfiles, NULL,
		    NULL);
		same &= strcmp(whole, other) == 0;
		free(other);
		OK(same, "corpus %s: same events however cut", de->d_name);
		free(whole);
		free(buf);
	}
	closedir(d);
	OK(nfiles >= 20, "corpus has %zu files", nfiles);
}
#endif

int
main(void)
{
	test_table();
	test_body_stream();
	test_limits();
	test_fooled_tracker();
	test_api();
#ifdef CORPUS_DIR
	test_corpus();
#endif
	return tap_done();
}
