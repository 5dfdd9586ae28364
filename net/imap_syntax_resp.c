/*
 * The IMAP response grammar, part two: every response but FETCH
 * (RFC 3501 section 9, RFC 4315, 4731, 5161, 5258, 5465, 5819, 7162) and
 * the response codes.  Primitives are in imap_syntax.c.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"
#include "imap_syntax.h"

/* ---- response codes ---------------------------------------------------- */

static const struct {
	const char	*name;
	enum imap_rc	 kind;
} codes[] = {
	{ "ALERT",		IMAP_RC_ALERT },
	{ "BADCHARSET",		IMAP_RC_BADCHARSET },
	{ "CAPABILITY",		IMAP_RC_CAPABILITY },
	{ "PARSE",		IMAP_RC_PARSE },
	{ "PERMANENTFLAGS",	IMAP_RC_PERMANENTFLAGS },
	{ "READ-ONLY",		IMAP_RC_READ_ONLY },
	{ "READ-WRITE",		IMAP_RC_READ_WRITE },
	{ "TRYCREATE",		IMAP_RC_TRYCREATE },
	{ "UIDNEXT",		IMAP_RC_UIDNEXT },
	{ "UIDVALIDITY",	IMAP_RC_UIDVALIDITY },
	{ "UNSEEN",		IMAP_RC_UNSEEN },
	{ "HIGHESTMODSEQ",	IMAP_RC_HIGHESTMODSEQ },
	{ "NOMODSEQ",		IMAP_RC_NOMODSEQ },
	{ "MODIFIED",		IMAP_RC_MODIFIED },
	{ "CLOSED",		IMAP_RC_CLOSED },
	{ "UIDNOTSTICKY",	IMAP_RC_UIDNOTSTICKY },
	{ "APPENDUID",		IMAP_RC_APPENDUID },
	{ "COPYUID",		IMAP_RC_COPYUID },
	{ "COMPRESSIONACTIVE",	IMAP_RC_COMPRESSIONACTIVE },
	{ "NOTIFICATIONOVERFLOW", IMAP_RC_NOTIFICATIONOVERFLOW },
	{ "BADEVENT",		IMAP_RC_BADEVENT },
};

/* 1*<TEXT-CHAR except "]"> up to the "]"; pos stays before the "]". */
static int
sx_code_raw(struct imap_sx *c)
{
	while (c->pos < c->len && c->b[c->pos] != ']')
		c->pos++;
	if (c->pos >= c->len) {
		imap_sx_fail(c, "unterminated response code");
		return -1;
	}
	return 0;
}

static int
sx_code(struct imap_sx *c, struct imap_code *code)
{
	struct imap_sx_vec	 v = { 0 };
	char		**slot;
	size_t		 i, n, argpos = 0;

	if (imap_sx_char(c, '[') == -1)
		return -1;
	n = imap_sx_span(c, imap_sx_atom_char);
	code->kind = IMAP_RC_OTHER;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (imap_sx_word_is(c, n, codes[i].name)) {
			code->kind = codes[i].kind;
			break;
		}
	if (imap_sx_token(c, imap_sx_atom_char, &code->name,
	    "a response code") == -1)
		return -1;
	if (imap_sx_peek(c) == ' ')
		argpos = c->pos + 1;

	switch (code->kind) {
	case IMAP_RC_UIDNEXT:
	case IMAP_RC_UIDVALIDITY:
	case IMAP_RC_UNSEEN:
		if (imap_sx_char(c, ' ') == -1 ||
		    imap_sx_u32(c, &code->num, 0) == -1)
			return -1;
		break;
	case IMAP_RC_HIGHESTMODSEQ:
		if (imap_sx_char(c, ' ') == -1 ||
		    imap_sx_modseq(c, &code->modseq) == -1)
			return -1;
		break;
	case IMAP_RC_CAPABILITY:
		if (imap_sx_atom_list(c, &code->list, 1) == -1)
			return -1;
		break;
	case IMAP_RC_PERMANENTFLAGS:
		if (imap_sx_char(c, ' ') == -1 ||
		    imap_sx_flag_list(c, &code->list, 1, 0) == -1)
			return -1;
		break;
	case IMAP_RC_BADCHARSET:
		if (imap_sx_peek(c) != ' ')
			break;
		c->pos++;
		if (imap_sx_char(c, '(') == -1)
			return -1;
		for (;;) {
			if ((slot = imap_sx_vec_add(c, &v, sizeof(*slot))) ==
			    NULL || imap_sx_astring(c, slot) == -1)
				return -1;
			if (imap_sx_peek(c) != ' ')
				break;
			c->pos++;
		}
		if (imap_sx_char(c, ')') == -1)
			return -1;
		code->list.v = v.v;
		code->list.n = v.n;
		break;
	case IMAP_RC_BADEVENT:
		if (imap_sx_char(c, ' ') == -1 || imap_sx_char(c, '(') == -1)
			return -1;
		for (;;) {
			if ((slot = imap_sx_vec_add(c, &v, sizeof(*slot))) ==
			    NULL || imap_sx_token(c, imap_sx_atom_char, slot,
			    "an event") == -1)
				return -1;
			if (imap_sx_peek(c) != ' ')
				break;
			c->pos++;
		}
		if (imap_sx_char(c, ')') == -1)
			return -1;
		code->list.v = v.v;
		code->list.n = v.n;
		break;
	case IMAP_RC_MODIFIED:
		if (imap_sx_char(c, ' ') == -1 ||
		    imap_sx_set(c, &code->set, 1) == -1)
			return -1;
		break;
	case IMAP_RC_APPENDUID:
		if (imap_sx_char(c, ' ') == -1 ||
		    imap_sx_u32(c, &code->num, 1) == -1 ||
		    imap_sx_char(c, ' ') == -1 ||
		    imap_sx_set(c, &code->set, 0) == -1)
			return -1;
		break;
	case IMAP_RC_COPYUID:
		if (imap_sx_char(c, ' ') == -1 ||
		    imap_sx_u32(c, &code->num, 1) == -1 ||
		    imap_sx_char(c, ' ') == -1 ||
		    imap_sx_set(c, &code->set, 0) == -1 ||
		    imap_sx_char(c, ' ') == -1 ||
		    imap_sx_set(c, &code->set2, 0) == -1)
			return -1;
		if (imap_set_count(&code->set) !=
		    imap_set_count(&code->set2)) {
			imap_sx_fail(c, "COPYUID sets of different sizes");
			return -1;
		}
		break;
	default:
		/* No arguments we use: keep whatever is there as text. */
		if (sx_code_raw(c) == -1)
			return -1;
		break;
	}
	if (imap_sx_peek(c) != ']') {
		imap_sx_fail(c, "expected ']' after [%s", code->name);
		return -1;
	}
	if (argpos != 0 && argpos < c->pos &&
	    (code->arg = imap_sx_strndup(c, c->b + argpos, c->pos - argpos)) ==
	    NULL)
		return -1;
	c->pos++;
	return 0;
}

/* resp-text after "OK"/"NO"/...: [SP ["[" code "]" [SP]] text]. */
static int
sx_resp_text(struct imap_sx *c, struct imap_cond *cond)
{
	if (!imap_sx_eol(c)) {
		if (imap_sx_char(c, ' ') == -1)
			return -1;
		if (imap_sx_peek(c) == '[') {
			if (sx_code(c, &cond->code) == -1)
				return -1;
			if (imap_sx_peek(c) == ' ')
				c->pos++;
		}
	}
	return imap_sx_text(c, &cond->text);
}

/* ---- untagged responses ------------------------------------------------ */

/* mailbox-list (RFC 3501, RFC 5258 extended data). */
static int
sx_list(struct imap_sx *c, struct imap_list *l)
{
	struct imap_sx_vec		 attrs = { 0 }, ext = { 0 };
	struct imap_ext_item	*it;
	struct imap_value	*el;
	char			**slot, *s;
	size_t			 i;

	if (imap_sx_char(c, ' ') == -1 || imap_sx_char(c, '(') == -1)
		return -1;
	if (imap_sx_peek(c) != ')') {
		for (;;) {
			slot = imap_sx_vec_add(c, &attrs, sizeof(*slot));
			if (slot == NULL || imap_sx_flag(c, slot, 0) == -1)
				return -1;
			if (imap_sx_peek(c) != ' ')
				break;
			c->pos++;
		}
	}
	l->attrs.v = attrs.v;
	l->attrs.n = attrs.n;
	if (imap_sx_char(c, ')') == -1 || imap_sx_char(c, ' ') == -1)
		return -1;

	if (imap_sx_is_nil(c)) {
		c->pos += 3;
		l->delim = -1;
	} else {
		if (imap_sx_char(c, '"') == -1)
			return -1;
		if (imap_sx_peek(c) == '\\') {
			c->pos++;
			if (imap_sx_peek(c) != '\\' && imap_sx_peek(c) != '"') {
				imap_sx_fail(c, "bad escape in delimiter");
				return -1;
			}
		} else if (imap_sx_peek(c) == '"' || imap_sx_peek(c) <= 0 ||
		    imap_sx_peek(c) == '\r' || imap_sx_peek(c) == '\n') {
			imap_sx_fail(c, "expected a delimiter");
			return -1;
		}
		l->delim = c->b[c->pos++];
		if (imap_sx_char(c, '"') == -1)
			return -1;
	}
	if (imap_sx_char(c, ' ') == -1 || imap_sx_mailbox(c, &l->name) == -1)
		return -1;
	if (imap_sx_eol(c))
		return 0;

	/* SP "(" [item *(SP item)] ")" with item = tag SP tagged-ext-val */
	if (imap_sx_char(c, ' ') == -1 || imap_sx_char(c, '(') == -1)
		return -1;
	if (imap_sx_peek(c) != ')') {
		for (;;) {
			it = imap_sx_vec_add(c, &ext, sizeof(*it));
			if (it == NULL ||
			    imap_sx_astring(c, &it->tag) == -1 ||
			    imap_sx_char(c, ' ') == -1 ||
			    imap_sx_value(c, &it->val) == -1)
				return -1;
			if (imap_sx_peek(c) != ' ')
				break;
			c->pos++;
		}
	}
	if (imap_sx_char(c, ')') == -1 || imap_sx_end(c) == -1)
		return -1;
	l->ext = ext.v;
	l->next = ext.n;

	for (i = 0; i < l->next; i++) {
		it = &l->ext[i];
		if (strcasecmp(it->tag, "CHILDINFO") == 0 &&
		    it->val.type == IMAP_VAL_LIST) {
			struct imap_sx_vec	ci = { 0 };
			size_t		j;

			l->has_childinfo = 1;
			for (j = 0; j < it->val.n; j++) {
				el = &it->val.v[j];
				if (el->type != IMAP_VAL_STRING &&
				    el->type != IMAP_VAL_ATOM)
					continue;
				slot = imap_sx_vec_add(c, &ci, sizeof(*slot));
				if (slot == NULL)
					return -1;
				*slot = el->str;
			}
			l->childinfo.v = ci.v;
			l->childinfo.n = ci.n;
		} else if (strcasecmp(it->tag, "OLDNAME") == 0 &&
		    it->val.type == IMAP_VAL_LIST && it->val.n == 1 &&
		    (it->val.v[0].type == IMAP_VAL_STRING ||
		    it->val.v[0].type == IMAP_VAL_ATOM)) {
			s = it->val.v[0].str;
			imap_sx_inbox_norm(s);
			l->oldname = s;
		}
	}
	return 0;
}

static const struct {
	const char	*name;
	uint32_t	 bit;
	int		 wide;
} status_items[] = {
	{ "MESSAGES",		IMAP_SA_MESSAGES,	0 },
	{ "RECENT",		IMAP_SA_RECENT,		0 },
	{ "UIDNEXT",		IMAP_SA_UIDNEXT,	0 },
	{ "UIDVALIDITY",	IMAP_SA_UIDVALIDITY,	0 },
	{ "UNSEEN",		IMAP_SA_UNSEEN,		0 },
	{ "HIGHESTMODSEQ",	IMAP_SA_HIGHESTMODSEQ,	1 },
};

static int
sx_status(struct imap_sx *c, struct imap_status_resp *st)
{
	size_t		 i, n;
	uint32_t	 v, *dst;

	if (imap_sx_char(c, ' ') == -1 || imap_sx_mailbox(c, &st->name) == -1 ||
	    imap_sx_char(c, ' ') == -1 || imap_sx_char(c, '(') == -1)
		return -1;
	while (imap_sx_peek(c) != ')') {
		n = imap_sx_span(c, imap_sx_atom_char);
		for (i = 0; i < sizeof(status_items) / sizeof(status_items[0]);
		    i++)
			if (imap_sx_word_is(c, n, status_items[i].name))
				break;
		if (imap_sx_token(c, imap_sx_atom_char, NULL,
		    "a status item") == -1 || imap_sx_char(c, ' ') == -1)
			return -1;
		if (i == sizeof(status_items) / sizeof(status_items[0])) {
			if (imap_sx_value(c, NULL) == -1)
				return -1;
		} else if (status_items[i].wide) {
			if (imap_sx_modseq(c, &st->highestmodseq) == -1)
				return -1;
			st->mask |= status_items[i].bit;
		} else {
			if (imap_sx_u32(c, &v, 0) == -1)
				return -1;
			switch (status_items[i].bit) {
			case IMAP_SA_MESSAGES:
				dst = &st->messages;
				break;
			case IMAP_SA_RECENT:
				dst = &st->recent;
				break;
			case IMAP_SA_UIDNEXT:
				dst = &st->uidnext;
				break;
			case IMAP_SA_UIDVALIDITY:
				dst = &st->uidvalidity;
				break;
			default:
				dst = &st->unseen;
				break;
			}
			*dst = v;
			st->mask |= status_items[i].bit;
		}
		if (imap_sx_peek(c) != ' ')
			break;
		c->pos++;
		if (imap_sx_peek(c) == ')') {
			imap_sx_fail(c, "expected a status item");
			return -1;
		}
	}
	if (imap_sx_char(c, ')') == -1)
		return -1;
	return imap_sx_end(c);
}

static int
sx_search(struct imap_sx *c, struct imap_search *s)
{
	struct imap_sx_vec	 v = { 0 };
	uint32_t	*slot;

	while (imap_sx_peek(c) == ' ') {
		c->pos++;
		if (imap_sx_peek(c) == '(') {
			c->pos++;
			if (!imap_sx_word_is(c, imap_sx_span(c,
			    imap_sx_atom_char), "MODSEQ")) {
				imap_sx_fail(c, "expected MODSEQ");
				return -1;
			}
			c->pos += 6;
			if (imap_sx_char(c, ' ') == -1 ||
			    imap_sx_modseq(c, &s->modseq) == -1 ||
			    imap_sx_char(c, ')') == -1)
				return -1;
			s->has_modseq = 1;
			break;
		}
		if ((slot = imap_sx_vec_add(c, &v, sizeof(*slot))) == NULL ||
		    imap_sx_u32(c, slot, 1) == -1)
			return -1;
	}
	s->v = v.v;
	s->n = v.n;
	return imap_sx_end(c);
}

/* RFC 4731: [SP "(" "TAG" SP string ")"] [SP "UID"] *(SP name SP value) */
static int
sx_esearch(struct imap_sx *c, struct imap_esearch *e)
{
	size_t	n;

	if (c->pos + 1 < c->len && c->b[c->pos] == ' ' &&
	    c->b[c->pos + 1] == '(') {
		c->pos += 2;
		if (!imap_sx_word_is(c, imap_sx_span(c, imap_sx_atom_char),
		    "TAG")) {
			imap_sx_fail(c, "expected TAG");
			return -1;
		}
		c->pos += 3;
		if (imap_sx_char(c, ' ') == -1 ||
		    imap_sx_string(c, &e->tag) == -1 ||
		    imap_sx_char(c, ')') == -1)
			return -1;
	}
	while (imap_sx_peek(c) == ' ') {
		c->pos++;
		n = imap_sx_span(c, imap_sx_atom_char);
		if (imap_sx_word_is(c, n, "UID") && !e->uid && e->mask == 0) {
			c->pos += n;
			e->uid = 1;
			continue;
		}
		if (imap_sx_word_is(c, n, "MIN")) {
			c->pos += n;
			if (imap_sx_char(c, ' ') == -1 ||
			    imap_sx_u32(c, &e->min, 1) == -1)
				return -1;
			e->mask |= IMAP_ES_MIN;
		} else if (imap_sx_word_is(c, n, "MAX")) {
			c->pos += n;
			if (imap_sx_char(c, ' ') == -1 ||
			    imap_sx_u32(c, &e->max, 1) == -1)
				return -1;
			e->mask |= IMAP_ES_MAX;
		} else if (imap_sx_word_is(c, n, "COUNT")) {
			c->pos += n;
			if (imap_sx_char(c, ' ') == -1 ||
			    imap_sx_u32(c, &e->count, 0) == -1)
				return -1;
			e->mask |= IMAP_ES_COUNT;
		} else if (imap_sx_word_is(c, n, "ALL")) {
			c->pos += n;
			if (imap_sx_char(c, ' ') == -1 ||
			    imap_sx_set(c, &e->all, 1) == -1)
				return -1;
			e->mask |= IMAP_ES_ALL;
		} else if (imap_sx_word_is(c, n, "MODSEQ")) {
			c->pos += n;
			if (imap_sx_char(c, ' ') == -1 ||
			    imap_sx_modseq(c, &e->modseq) == -1)
				return -1;
			e->mask |= IMAP_ES_MODSEQ;
		} else {
			if (imap_sx_token(c, imap_sx_atom_char, NULL,
			    "a search label") == -1 ||
			    imap_sx_char(c, ' ') == -1 ||
			    imap_sx_value(c, NULL) == -1)
				return -1;
		}
	}
	return imap_sx_end(c);
}

/* RFC 7162: SP ["(EARLIER)" SP] known-uids */
static int
sx_vanished(struct imap_sx *c, struct imap_vanished *va)
{
	if (imap_sx_char(c, ' ') == -1)
		return -1;
	if (imap_sx_peek(c) == '(') {
		c->pos++;
		if (!imap_sx_word_is(c, imap_sx_span(c, imap_sx_atom_char),
		    "EARLIER")) {
			imap_sx_fail(c, "expected EARLIER");
			return -1;
		}
		c->pos += 7;
		if (imap_sx_char(c, ')') == -1 || imap_sx_char(c, ' ') == -1)
			return -1;
		va->earlier = 1;
	}
	if (imap_sx_set(c, &va->uids, 0) == -1)
		return -1;
	return imap_sx_end(c);
}

static int
sx_other(struct imap_sx *c, struct imap_resp *r, size_t namelen)
{
	r->type = IMAP_RESP_OTHER;
	c->what = "untagged response";
	r->other.name = imap_sx_strndup(c, c->b + c->pos, namelen);
	if (r->other.name == NULL)
		return -1;
	c->pos += namelen;
	if (imap_sx_peek(c) == ' ')
		c->pos++;
	else if (!imap_sx_eol(c)) {
		imap_sx_fail(c, "expected a space");
		return -1;
	}
	r->other.raw = imap_sx_strndup(c, c->b + c->pos, c->len - c->pos);
	c->pos = c->len;
	return r->other.raw == NULL ? -1 : 0;
}

static int
sx_untagged(struct imap_sx *c, struct imap_resp *r)
{
	size_t		n;
	uint32_t	num;

	if (isdigit(imap_sx_peek(c))) {
		if (imap_sx_u32(c, &num, 0) == -1 || imap_sx_char(c, ' ') == -1)
			return -1;
		n = imap_sx_span(c, imap_sx_atom_char);
		if (imap_sx_word_is(c, n, "EXISTS"))
			r->type = IMAP_RESP_EXISTS;
		else if (imap_sx_word_is(c, n, "RECENT"))
			r->type = IMAP_RESP_RECENT;
		else if (imap_sx_word_is(c, n, "EXPUNGE")) {
			r->type = IMAP_RESP_EXPUNGE;
			if (num == 0) {
				imap_sx_fail(c, "EXPUNGE of message 0");
				return -1;
			}
		} else if (imap_sx_word_is(c, n, "FETCH")) {
			c->what = "FETCH response";
			imap_sx_fail(c, "expected '(' after FETCH");
			return -1;
		} else {
			if (n == 0) {
				imap_sx_fail(c, "expected a response name");
				return -1;
			}
			r->other.has_num = 1;
			r->other.num = num;
			return sx_other(c, r, n);
		}
		r->num = num;
		c->pos += n;
		c->what = imap_resp_type_name(r->type);
		return imap_sx_end(c);
	}

	n = imap_sx_span(c, imap_sx_atom_char);
	if (n == 0) {
		imap_sx_fail(c, "expected a response name");
		return -1;
	}
	if (imap_sx_word_is(c, n, "OK"))
		r->cond.status = IMAP_COND_OK;
	else if (imap_sx_word_is(c, n, "NO"))
		r->cond.status = IMAP_COND_NO;
	else if (imap_sx_word_is(c, n, "BAD"))
		r->cond.status = IMAP_COND_BAD;
	else if (imap_sx_word_is(c, n, "PREAUTH"))
		r->cond.status = IMAP_COND_PREAUTH;
	else if (imap_sx_word_is(c, n, "BYE"))
		r->cond.status = IMAP_COND_BYE;
	if (r->cond.status != 0) {
		r->type = IMAP_RESP_COND;
		c->what = "status response";
		c->pos += n;
		return sx_resp_text(c, &r->cond);
	}

	if (imap_sx_word_is(c, n, "CAPABILITY")) {
		r->type = IMAP_RESP_CAPABILITY;
		c->what = "CAPABILITY response";
		c->pos += n;
		if (imap_sx_atom_list(c, &r->atoms, 1) == -1)
			return -1;
		return imap_sx_end(c);
	}
	if (imap_sx_word_is(c, n, "ENABLED")) {
		r->type = IMAP_RESP_ENABLED;
		c->what = "ENABLED response";
		c->pos += n;
		if (imap_sx_atom_list(c, &r->atoms, 0) == -1)
			return -1;
		return imap_sx_end(c);
	}
	if (imap_sx_word_is(c, n, "FLAGS")) {
		r->type = IMAP_RESP_FLAGS;
		c->what = "FLAGS response";
		c->pos += n;
		if (imap_sx_char(c, ' ') == -1 ||
		    imap_sx_flag_list(c, &r->atoms, 0, 0) == -1)
			return -1;
		return imap_sx_end(c);
	}
	if (imap_sx_word_is(c, n, "LIST") || imap_sx_word_is(c, n, "LSUB")) {
		r->type = IMAP_RESP_LIST;
		r->list.lsub = imap_sx_word_is(c, n, "LSUB");
		c->what = r->list.lsub ? "LSUB response" : "LIST response";
		c->pos += n;
		return sx_list(c, &r->list);
	}
	if (imap_sx_word_is(c, n, "STATUS")) {
		r->type = IMAP_RESP_STATUS;
		c->what = "STATUS response";
		c->pos += n;
		return sx_status(c, &r->status);
	}
	if (imap_sx_word_is(c, n, "SEARCH")) {
		r->type = IMAP_RESP_SEARCH;
		c->what = "SEARCH response";
		c->pos += n;
		return sx_search(c, &r->search);
	}
	if (imap_sx_word_is(c, n, "ESEARCH")) {
		r->type = IMAP_RESP_ESEARCH;
		c->what = "ESEARCH response";
		c->pos += n;
		return sx_esearch(c, &r->esearch);
	}
	if (imap_sx_word_is(c, n, "VANISHED")) {
		r->type = IMAP_RESP_VANISHED;
		c->what = "VANISHED response";
		c->pos += n;
		return sx_vanished(c, &r->vanished);
	}
	return sx_other(c, r, n);
}

int
imap_sx_response(struct imap_sx *c, struct imap_resp *r)
{
	size_t	n;

	switch (imap_sx_peek(c)) {
	case '+':
		/* A bare "+" too (some servers omit the space). */
		r->type = IMAP_RESP_CONT;
		c->what = "continuation request";
		c->pos++;
		if (!imap_sx_eol(c) && imap_sx_char(c, ' ') == -1)
			return -1;
		return imap_sx_text(c, &r->cond.text);
	case '*':
		c->what = "untagged response";
		c->pos++;
		if (imap_sx_char(c, ' ') == -1)
			return -1;
		return sx_untagged(c, r);
	}
	c->what = "tagged response";
	r->type = IMAP_RESP_TAGGED;
	if (imap_sx_token(c, imap_sx_tag_char, &r->tag, "a tag or '*'") == -1 ||
	    imap_sx_char(c, ' ') == -1)
		return -1;
	n = imap_sx_span(c, imap_sx_atom_char);
	if (imap_sx_word_is(c, n, "OK"))
		r->cond.status = IMAP_COND_OK;
	else if (imap_sx_word_is(c, n, "NO"))
		r->cond.status = IMAP_COND_NO;
	else if (imap_sx_word_is(c, n, "BAD"))
		r->cond.status = IMAP_COND_BAD;
	else {
		imap_sx_fail(c, "expected OK, NO or BAD");
		return -1;
	}
	c->pos += n;
	return sx_resp_text(c, &r->cond);
}

