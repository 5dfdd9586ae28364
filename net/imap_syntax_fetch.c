/*
 * The IMAP response grammar, part three: FETCH, item by item, so that
 * imap_parse.c can stop at a body literal and stream it (RFC 3501
 * section 9, RFC 7162 MODSEQ).  Primitives are in imap_syntax.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"
#include "imap_syntax.h"

/* ---- FETCH ------------------------------------------------------------- */

int
imap_sx_fetch_head(struct imap_sx *c, struct imap_fetch *f)
{
	c->what = "FETCH response";
	if (imap_sx_char(c, '*') == -1 || imap_sx_char(c, ' ') == -1 ||
	    imap_sx_u32(c, &f->seq, 1) == -1 || imap_sx_char(c, ' ') == -1)
		return -1;
	if (!imap_sx_word_is(c, imap_sx_span(c, imap_sx_atom_char), "FETCH")) {
		imap_sx_fail(c, "expected FETCH");
		return -1;
	}
	c->pos += 5;
	if (imap_sx_char(c, ' ') == -1 || imap_sx_char(c, '(') == -1)
		return -1;
	return 0;
}

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static int
digits(const char *s, int n)
{
	int	i, v = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * date-time (without DQUOTEs): date-day-fixed "-" date-month "-"
 * date-year SP time SP zone, e.g. " 7-Feb-1994 21:52:25 -0800".
 */
int
imap_date_time_valid(const char *s)
{
	int	day, i;

	if (s == NULL || strlen(s) != 26)
		return 0;
	if (s[0] == ' ')
		day = digits(s + 1, 1);
	else
		day = digits(s, 2);
	if (day < 1 || day > 31 || s[2] != '-' || s[6] != '-')
		return 0;
	for (i = 0; i < 12; i++)
		if (strncasecmp(s + 3, months[i], 3) == 0)
			break;
	if (i == 12)
		return 0;
	if (digits(s + 7, 4) < 0 || s[11] != ' ' ||
	    digits(s + 12, 2) < 0 || digits(s + 12, 2) > 23 ||
	    s[14] != ':' || digits(s + 15, 2) < 0 || digits(s + 15, 2) > 59 ||
	    s[17] != ':' || digits(s + 18, 2) < 0 || digits(s + 18, 2) > 60 ||
	    s[20] != ' ' || (s[21] != '+' && s[21] != '-') ||
	    digits(s + 22, 4) < 0 || digits(s + 24, 2) > 59)
		return 0;
	return 1;
}

/* address-list: "(" 1*address ")" / NIL, first address's mailbox@host. */
static int
sx_addresses(struct imap_sx *c, int *present, char **mbox, char **host)
{
	int	first = 1;
	char	*m = NULL, *h = NULL;

	*present = 0;
	if (imap_sx_is_nil(c)) {
		c->pos += 3;
		return 0;
	}
	if (imap_sx_char(c, '(') == -1)
		return -1;
	/* Dovecot writes "((...)(...))", others put a space between. */
	while (imap_sx_peek(c) == '(' || (!first && imap_sx_peek(c) == ' ')) {
		if (imap_sx_peek(c) == ' ')
			c->pos++;
		if (imap_sx_char(c, '(') == -1 ||
		    imap_sx_nstring(c, NULL) == -1 ||
		    imap_sx_char(c, ' ') == -1 ||
		    imap_sx_nstring(c, NULL) == -1 ||
		    imap_sx_char(c, ' ') == -1 ||
		    imap_sx_nstring(c, first ? &m : NULL) == -1 ||
		    imap_sx_char(c, ' ') == -1 ||
		    imap_sx_nstring(c, first ? &h : NULL) == -1 ||
		    imap_sx_char(c, ')') == -1)
			return -1;
		if (first) {
			*present = 1;
			*mbox = m;
			*host = h;
		}
		first = 0;
	}
	return imap_sx_char(c, ')');
}

static int
sx_envelope(struct imap_sx *c, struct imap_fetch *f)
{
	char	*m[3], *h[3], *from = NULL;
	int	 present[3], i;
	size_t	 n;

	if (imap_sx_char(c, '(') == -1 ||
	    imap_sx_nstring(c, NULL) == -1 || imap_sx_char(c, ' ') == -1 ||
	    imap_sx_nstring(c, NULL) == -1)
		return -1;
	for (i = 0; i < 6; i++) {
		if (imap_sx_char(c, ' ') == -1)
			return -1;
		if (i < 3) {
			m[i] = h[i] = NULL;
			if (sx_addresses(c, &present[i], &m[i], &h[i]) ==
			    -1)
				return -1;
		} else {
			int	 dummy;
			char	*dm, *dh;

			if (sx_addresses(c, &dummy, &dm, &dh) == -1)
				return -1;
		}
	}
	if (imap_sx_char(c, ' ') == -1 || imap_sx_nstring(c, NULL) == -1 ||
	    imap_sx_char(c, ' ') == -1 || imap_sx_nstring(c, NULL) == -1 ||
	    imap_sx_char(c, ')') == -1)
		return -1;
	for (i = 0; i < 3; i++)
		if (present[i])
			break;
	if (i < 3 && m[i] != NULL && h[i] != NULL) {
		n = strlen(m[i]) + 1 + strlen(h[i]);
		if ((from = imap_sx_alloc(c, n + 1)) == NULL)
			return -1;
		snprintf(from, n + 1, "%s@%s", m[i], h[i]);
	} else if ((from = imap_sx_strndup(c, (const unsigned char *)"", 0)) ==
	    NULL)
		return -1;
	f->env_from = from;
	f->mask |= IMAP_FA_ENVELOPE;
	return 0;
}

/*
 * A FETCH item name: an atom, with for body items a "[section]" (which
 * may hold spaces, parentheses and quoted header names) and "<origin>".
 */
static int
sx_fetch_name(struct imap_sx *c, size_t *baselen, int *has_section,
    int *empty_section, int *has_origin)
{
	size_t	start = c->pos, i;

	*has_section = *empty_section = *has_origin = 0;
	while (c->pos < c->len && imap_sx_atom_char(c->b[c->pos]) &&
	    c->b[c->pos] != '[')
		c->pos++;
	*baselen = c->pos - start;
	if (*baselen == 0) {
		imap_sx_fail(c, "expected a FETCH item");
		return -1;
	}
	if (imap_sx_peek(c) != '[')
		return 0;
	*has_section = 1;
	c->pos++;
	*empty_section = imap_sx_peek(c) == ']';
	for (;;) {
		i = c->pos;
		if (i >= c->len) {
			imap_sx_fail(c, "unterminated section");
			return -1;
		}
		if (c->b[i] == ']')
			break;
		if (c->b[i] == '"') {
			if (imap_sx_quoted(c, NULL, NULL) == -1)
				return -1;
			continue;
		}
		if (c->b[i] != ' ' && c->b[i] != '(' && c->b[i] != ')' &&
		    !imap_sx_atom_char(c->b[i])) {
			imap_sx_fail(c, "bad character in section");
			return -1;
		}
		c->pos++;
	}
	c->pos++;
	if (imap_sx_peek(c) == '<') {
		uint64_t	origin;

		c->pos++;
		*has_origin = 1;
		if (imap_sx_num64(c, &origin) == -1 ||
		    imap_sx_char(c, '>') == -1)
			return -1;
	}
	return 0;
}

static int
base_is(const struct imap_sx *c, size_t start, size_t n, const char *w)
{
	return strlen(w) == n &&
	    strncasecmp((const char *)c->b + start, w, n) == 0;
}

/* The value of a body item: nstring, streamed when a pending literal. */
static int
sx_body_value(struct imap_sx *c, struct imap_fetch *f,
    struct imap_sx_body *body)
{
	uint64_t	 n;
	size_t		 len;
	char		*s;

	if (imap_sx_is_nil(c)) {
		c->pos += 3;
		body->nil = 1;
	} else if (imap_sx_peek(c) == '"') {
		if (imap_sx_quoted(c, &s, &len) == -1)
			return -1;
		body->data = (const unsigned char *)s;
		body->size = len;
	} else if (imap_sx_peek(c) == '{') {
		if (imap_sx_literal_hdr(c, &n) == -1)
			return -1;
		if (c->partial && c->pos == c->len) {
			body->pending = 1;
			body->size = n;
		} else if (n <= c->len - c->pos) {
			body->data = c->b + c->pos;
			body->size = n;
			c->pos += n;
		} else {
			imap_sx_fail(c, "truncated literal");
			return -1;
		}
	} else {
		imap_sx_fail(c, "expected a body string");
		return -1;
	}
	f->nsections++;
	if (body->whole) {
		f->mask |= IMAP_FA_BODY;
		f->body_size = body->size;
		f->body_state = body->nil ? IMAP_BODY_NIL : IMAP_BODY_DATA;
	}
	return 0;
}

enum imap_sx_fetch_result
imap_sx_fetch_item(struct imap_sx *c, struct imap_fetch *f, uint32_t *nitems,
    struct imap_sx_body *body)
{
	struct imap_strlist	 flags;
	size_t			 start = c->pos, nstart, base;
	int			 sect, empty, origin, rv;
	char			*date;

	c->what = "FETCH response";
	memset(body, 0, sizeof(*body));
	if (imap_sx_peek(c) == ')') {
		c->pos++;
		if (imap_sx_end(c) == -1)
			return SX_FX_ERROR;
		return SX_FX_DONE;
	}
	if (*nitems > 0 && imap_sx_eol(c)) {
		imap_sx_fail(c, "expected ')'");
		return SX_FX_ERROR;
	}
	if (*nitems > 0 && imap_sx_char(c, ' ') == -1)
		return SX_FX_ERROR;

	nstart = c->pos;
	if (sx_fetch_name(c, &base, &sect, &empty, &origin) == -1)
		return SX_FX_ERROR;
	if (imap_sx_char(c, ' ') == -1)
		return SX_FX_ERROR;

	if ((sect && (base_is(c, nstart, base, "BODY") ||
	    base_is(c, nstart, base, "BODY.PEEK") ||
	    base_is(c, nstart, base, "BINARY") ||
	    base_is(c, nstart, base, "BINARY.PEEK"))) ||
	    (!sect && (base_is(c, nstart, base, "RFC822") ||
	    base_is(c, nstart, base, "RFC822.HEADER") ||
	    base_is(c, nstart, base, "RFC822.TEXT")))) {
		body->whole = (sect && empty && !origin) ||
		    base_is(c, nstart, base, "RFC822");
		if ((body->section = imap_sx_strndup(c, c->b + nstart,
		    c->pos - 1 - nstart)) == NULL)
			return SX_FX_ERROR;
		rv = sx_body_value(c, f, body);
		if (rv == -1)
			goto fail;
		(*nitems)++;
		return SX_FX_BODY;
	}

	if (!sect && base_is(c, nstart, base, "UID")) {
		if (imap_sx_u32(c, &f->uid, 1) == -1)
			goto fail;
		f->mask |= IMAP_FA_UID;
	} else if (!sect && base_is(c, nstart, base, "MODSEQ")) {
		if (imap_sx_char(c, '(') == -1 ||
		    imap_sx_modseq(c, &f->modseq) == -1 ||
		    imap_sx_char(c, ')') == -1)
			goto fail;
		f->mask |= IMAP_FA_MODSEQ;
	} else if (!sect && base_is(c, nstart, base, "FLAGS")) {
		if (imap_sx_flag_list(c, &flags, 0, 1) == -1)
			goto fail;
		f->flags = flags;
		f->mask |= IMAP_FA_FLAGS;
	} else if (!sect && base_is(c, nstart, base, "INTERNALDATE")) {
		if (imap_sx_peek(c) != '"') {
			imap_sx_fail(c, "expected a quoted date-time");
			goto fail;
		}
		if (imap_sx_quoted(c, &date, NULL) == -1)
			goto fail;
		if (!imap_date_time_valid(date)) {
			c->pos = nstart;
			imap_sx_fail(c, "invalid INTERNALDATE \"%.40s\"", date);
			goto fail;
		}
		f->internaldate = date;
		f->mask |= IMAP_FA_INTERNALDATE;
	} else if (!sect && base_is(c, nstart, base, "RFC822.SIZE")) {
		if (imap_sx_num64(c, &f->rfc822_size) == -1)
			goto fail;
		f->mask |= IMAP_FA_RFC822_SIZE;
	} else if (!sect && base_is(c, nstart, base, "ENVELOPE")) {
		if (sx_envelope(c, f) == -1)
			goto fail;
	} else {
		/* BODYSTRUCTURE, X-GM-LABELS, ...: not ours, skip it. */
		if (imap_sx_value(c, NULL) == -1)
			goto fail;
	}
	(*nitems)++;
	return SX_FX_ITEM;
fail:
	if (c->incomplete) {
		c->pos = start;
		return SX_FX_NEED;
	}
	return SX_FX_ERROR;
}
