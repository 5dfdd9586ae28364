/*
 * The IMAP response grammar, part one: the arena the parsed form lives
 * in, and the primitives (cursor and errors, RFC 3501 character classes,
 * numbers, strings, flags, sets, generic values) that
 * imap_syntax_resp.c and imap_syntax_fetch.c build responses from, over
 * one response already framed by imap_parse.c.  Recursive descent on a
 * cursor; every failure says what was expected and where.  Values are
 * copied into the response's arena, so nothing points into the framing
 * buffer once a response is handed out.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"
#include "imap_syntax.h"

/* ---- arena ------------------------------------------------------------- */

/*
 * Small allocations are carved from chunks that double in size (up to
 * CHUNK_MAX); an allocation of ARENA_BIG bytes or more gets a chunk of
 * its own, which arena_grow() can realloc in place, so a growing array
 * costs its final size and not the sum of its past sizes.
 */
struct arena_chunk {
	struct arena_chunk	*next, *prev;
	size_t			 size, used;
	int			 big;
};
#define CHUNK_HDR	((sizeof(struct arena_chunk) + 15) & ~(size_t)15)
#define CHUNK_FIRST	1024
#define CHUNK_MAX	(64 * 1024)
#define ARENA_BIG	1024

struct imap_arena {
	struct arena_chunk	*head;		/* every chunk */
	struct arena_chunk	*cur;		/* small allocations */
	size_t			 total, max, next;
	int			 overlimit;
	struct imap_memacct	*acct;
};

static void
arena_charge(struct imap_arena *ar, size_t add, size_t sub)
{
	ar->total = ar->total + add - sub;
	if (ar->acct != NULL) {
		ar->acct->cur = ar->acct->cur + add - sub;
		if (ar->acct->cur > ar->acct->hiwat)
			ar->acct->hiwat = ar->acct->cur;
	}
}

struct imap_arena *
imap_arena_new(size_t max, struct imap_memacct *acct)
{
	struct imap_arena *ar;

	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		return NULL;
	ar->max = max;
	ar->next = CHUNK_FIRST;
	ar->acct = acct;
	arena_charge(ar, sizeof(*ar), 0);
	return ar;
}

/* May the arena grow by add bytes (having released sub)? */
static int
arena_room(struct imap_arena *ar, size_t add, size_t sub)
{
	if (add > SIZE_MAX / 2 || ar->total - sub > ar->max ||
	    add > ar->max - (ar->total - sub)) {
		ar->overlimit = 1;
		return 0;
	}
	return 1;
}

static struct arena_chunk *
arena_chunk(struct imap_arena *ar, size_t csize, int big)
{
	struct arena_chunk	*ch;

	if (!arena_room(ar, CHUNK_HDR + csize, 0))
		return NULL;
	if ((ch = malloc(CHUNK_HDR + csize)) == NULL)
		return NULL;
	ch->size = csize;
	ch->used = 0;
	ch->big = big;
	ch->prev = NULL;
	ch->next = ar->head;
	if (ar->head != NULL)
		ar->head->prev = ch;
	ar->head = ch;
	arena_charge(ar, CHUNK_HDR + csize, 0);
	return ch;
}

static void *
arena_get(struct imap_arena *ar, size_t size, size_t align)
{
	struct arena_chunk	*ch = ar->cur;
	size_t			 off;

	if (size >= ARENA_BIG) {
		if ((ch = arena_chunk(ar, size, 1)) == NULL)
			return NULL;
		ch->used = size;
		return (unsigned char *)ch + CHUNK_HDR;
	}
	if (ch != NULL) {
		off = (ch->used + align - 1) & ~(align - 1);
		if (off <= ch->size && ch->size - off >= size) {
			ch->used = off + size;
			return (unsigned char *)ch + CHUNK_HDR + off;
		}
	}
	if ((ch = arena_chunk(ar, ar->next, 0)) == NULL)
		return NULL;
	if (ar->next < CHUNK_MAX)
		ar->next *= 2;
	ar->cur = ch;
	ch->used = size;
	return (unsigned char *)ch + CHUNK_HDR;
}

/* Grows the block old (oldsz bytes, from arena_get) to newsz bytes. */
static void *
arena_grow(struct imap_arena *ar, void *old, size_t oldsz, size_t newsz)
{
	struct arena_chunk	*ch, *nch;
	void			*p;

	if (old != NULL && oldsz >= ARENA_BIG) {
		ch = (struct arena_chunk *)((unsigned char *)old - CHUNK_HDR);
		if (!arena_room(ar, CHUNK_HDR + newsz, CHUNK_HDR + ch->size))
			return NULL;
		if ((nch = realloc(ch, CHUNK_HDR + newsz)) == NULL)
			return NULL;
		arena_charge(ar, CHUNK_HDR + newsz, CHUNK_HDR + nch->size);
		nch->size = nch->used = newsz;
		if (nch->prev != NULL)
			nch->prev->next = nch;
		else
			ar->head = nch;
		if (nch->next != NULL)
			nch->next->prev = nch;
		return (unsigned char *)nch + CHUNK_HDR;
	}
	if ((p = arena_get(ar, newsz, 8)) == NULL)
		return NULL;
	if (oldsz > 0)
		memcpy(p, old, oldsz);
	return p;
}

void *
imap_arena_alloc(struct imap_arena *ar, size_t size)
{
	void	*p;

	if ((p = arena_get(ar, size, 8)) != NULL)
		memset(p, 0, size);
	return p;
}

void
imap_arena_detach(struct imap_arena *ar)
{
	if (ar != NULL && ar->acct != NULL) {
		ar->acct->cur -= ar->total;
		ar->acct = NULL;
	}
}

void
imap_arena_free(struct imap_arena *ar)
{
	struct arena_chunk	*ch, *next;

	if (ar == NULL)
		return;
	imap_arena_detach(ar);
	for (ch = ar->head; ch != NULL; ch = next) {
		next = ch->next;
		free(ch);
	}
	free(ar);
}

/* ---- cursor, errors ---------------------------------------------------- */

void
imap_sx_init(struct imap_sx *c, const unsigned char *b, size_t len,
    struct imap_arena *ar, const struct imap_limits *lim, char *err,
    size_t errsz)
{
	memset(c, 0, sizeof(*c));
	c->b = b;
	c->len = len;
	c->ar = ar;
	c->lim = lim;
	c->err = err;
	c->errsz = errsz;
	c->what = "response";
}


/* A syntax error at the cursor: what we wanted, where, and what we saw. */
void
imap_sx_fail(struct imap_sx *c, const char *fmt, ...)
{
	char		 msg[128], near[64];
	size_t		 i, n = 0;
	va_list		 ap;
	unsigned char	 ch;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (i = c->pos; i < c->len && i < c->pos + 20 &&
	    n + 5 < sizeof(near); i++) {
		ch = c->b[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"')
			near[n++] = ch;
		else
			n += snprintf(near + n, sizeof(near) - n, "\\x%02x",
			    ch);
	}
	near[n] = '\0';
	if (c->pos >= c->len)
		snprintf(c->err, c->errsz, "malformed %s: %s at end of line",
		    c->what, msg);
	else
		snprintf(c->err, c->errsz, "malformed %s: %s at byte %zu "
		    "(\"%s%s\")", c->what, msg, c->pos, near,
		    i < c->len ? "..." : "");
}

/* A limit or resource error: the text as given. */
void
imap_sx_failx(struct imap_sx *c, const char *fmt, ...)
{
	char	msg[160];
	va_list	ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errsz, "%s: %s", c->what, msg);
}

void *
imap_sx_alloc(struct imap_sx *c, size_t size)
{
	void	*p;

	if ((p = imap_arena_alloc(c->ar, size)) == NULL) {
		if (c->ar->overlimit)
			imap_sx_failx(c, "too large to represent (over %zu "
			    "bytes)", c->lim->mem_max);
		else
			imap_sx_failx(c, "out of memory");
	}
	return p;
}

/* Room for a string of n bytes and its NUL. */
static char *
sx_stralloc(struct imap_sx *c, size_t n)
{
	char	*p;

	if ((p = arena_get(c->ar, n + 1, 1)) == NULL) {
		if (c->ar->overlimit)
			imap_sx_failx(c, "too large to represent (over %zu "
			    "bytes)", c->lim->mem_max);
		else
			imap_sx_failx(c, "out of memory");
	}
	return p;
}

char *
imap_sx_strndup(struct imap_sx *c, const unsigned char *s, size_t n)
{
	char	*p;

	if ((p = sx_stralloc(c, n)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *
imap_sx_vec_add(struct imap_sx *c, struct imap_sx_vec *vec, size_t elsz)
{
	void	*nv;
	size_t	 ncap;

	if (vec->n == vec->cap) {
		ncap = vec->cap ? vec->cap * 2 : 4;
		if (ncap > SIZE_MAX / 4 / elsz) {
			imap_sx_failx(c, "too many elements");
			return NULL;
		}
		if ((nv = arena_grow(c->ar, vec->v, vec->cap * elsz,
		    ncap * elsz)) == NULL) {
			if (c->ar->overlimit)
				imap_sx_failx(c, "too large to represent "
				    "(over %zu bytes)", c->lim->mem_max);
			else
				imap_sx_failx(c, "out of memory");
			return NULL;
		}
		memset((unsigned char *)nv + vec->cap * elsz, 0,
		    (ncap - vec->cap) * elsz);
		vec->v = nv;
		vec->cap = ncap;
	}
	return (unsigned char *)vec->v + vec->n++ * elsz;
}

int
imap_sx_eol(const struct imap_sx *c)
{
	return c->pos >= c->len;
}

int
imap_sx_peek(const struct imap_sx *c)
{
	return c->pos < c->len ? c->b[c->pos] : -1;
}

int
imap_sx_char(struct imap_sx *c, int ch)
{
	if (imap_sx_peek(c) != ch) {
		if (ch == ' ')
			imap_sx_fail(c, "expected a space");
		else
			imap_sx_fail(c, "expected '%c'", ch);
		return -1;
	}
	c->pos++;
	return 0;
}

int
imap_sx_end(struct imap_sx *c)
{
	if (!imap_sx_eol(c)) {
		imap_sx_fail(c, "unexpected data");
		return -1;
	}
	return 0;
}

/* ---- character classes (RFC 3501 section 9) ---------------------------- */

int
imap_sx_atom_char(int ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return 0;
	switch (ch) {
	case '(': case ')': case '{': case '%': case '*': case '"':
	case '\\': case ']':
		return 0;
	}
	return 1;
}

int
imap_sx_astring_char(int ch)
{
	return imap_sx_atom_char(ch) || ch == ']';
}

int
imap_sx_list_char(int ch)
{
	return imap_sx_atom_char(ch) || ch == '%' || ch == '*' || ch == ']';
}

int
imap_sx_tag_char(int ch)
{
	return imap_sx_astring_char(ch) && ch != '+';
}

/* Atoms of generic values: list-char, plus "\" for flags. */
static int
sx_gen_char(int ch)
{
	return imap_sx_list_char(ch) || ch == '\\';
}

size_t
imap_sx_span(const struct imap_sx *c, int (*cls)(int))
{
	size_t	i = c->pos;

	while (i < c->len && cls(c->b[i]))
		i++;
	return i - c->pos;
}

/* Case-insensitive match of a keyword that must end at a delimiter. */
int
imap_sx_word_is(const struct imap_sx *c, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp((const char *)c->b + c->pos,
	    w, n) == 0;
}

/* Reads 1*cls into the arena (out NULL: just skips). */
int
imap_sx_token(struct imap_sx *c, int (*cls)(int), char **out, const char *what)
{
	size_t	n = imap_sx_span(c, cls);

	if (n == 0) {
		imap_sx_fail(c, "expected %s", what);
		return -1;
	}
	if (out != NULL &&
	    (*out = imap_sx_strndup(c, c->b + c->pos, n)) == NULL)
		return -1;
	c->pos += n;
	return 0;
}

/* ---- numbers ----------------------------------------------------------- */

int
imap_sx_num64(struct imap_sx *c, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		start = c->pos;
	unsigned	d;

	while (c->pos < c->len && isdigit(c->b[c->pos])) {
		d = c->b[c->pos] - '0';
		if (v > (UINT64_MAX - d) / 10) {
			imap_sx_fail(c, "number too large");
			return -1;
		}
		v = v * 10 + d;
		c->pos++;
	}
	if (c->pos == start) {
		imap_sx_fail(c, "expected a number");
		return -1;
	}
	*out = v;
	return 0;
}

int
imap_sx_u32(struct imap_sx *c, uint32_t *out, int nz)
{
	uint64_t	v;
	size_t		start = c->pos;

	if (imap_sx_num64(c, &v) == -1)
		return -1;
	if (v > UINT32_MAX) {
		c->pos = start;
		imap_sx_fail(c, "number out of range (over 4294967295)");
		return -1;
	}
	if (nz && v == 0) {
		c->pos = start;
		imap_sx_fail(c, "expected a non-zero number");
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* mod-sequence-value: at most 2^63-1 (RFC 7162), as SQLite stores it. */
int
imap_sx_modseq(struct imap_sx *c, uint64_t *out)
{
	size_t	start = c->pos;

	if (imap_sx_num64(c, out) == -1)
		return -1;
	if (*out > INT64_MAX) {
		c->pos = start;
		imap_sx_fail(c, "mod-sequence out of range (over 2^63-1)");
		return -1;
	}
	return 0;
}

/* ---- strings ----------------------------------------------------------- */

/*
 * quoted: DQUOTE *QUOTED-CHAR DQUOTE.  Bytes 0x80-0xff are accepted
 * (UTF8=ACCEPT servers send them); NUL, CR and LF never.
 */
int
imap_sx_quoted(struct imap_sx *c, char **out, size_t *outlen)
{
	size_t		 i, n = 0;
	char		*p;
	unsigned char	 ch;

	if (imap_sx_char(c, '"') == -1)
		return -1;
	for (i = c->pos; i < c->len; i++) {
		ch = c->b[i];
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (i + 1 >= c->len ||
			    (c->b[i + 1] != '"' && c->b[i + 1] != '\\')) {
				c->pos = i;
				imap_sx_fail(c, "bad escape in quoted string");
				return -1;
			}
			i++;
		} else if (ch == '\0' || ch == '\r' || ch == '\n') {
			c->pos = i;
			imap_sx_fail(c, "bad character in quoted string");
			return -1;
		}
		n++;
	}
	if (i >= c->len) {
		c->pos = i;
		imap_sx_fail(c, "unterminated quoted string");
		return -1;
	}
	if (out != NULL) {
		if ((p = sx_stralloc(c, n)) == NULL)
			return -1;
		for (n = 0; c->pos < i; c->pos++) {
			if (c->b[c->pos] == '\\')
				c->pos++;
			p[n++] = c->b[c->pos];
		}
		p[n] = '\0';
		*out = p;
	}
	if (outlen != NULL)
		*outlen = n;
	c->pos = i + 1;
	return 0;
}

/* "{" number "}" CRLF; pos left at the first byte of the literal. */
int
imap_sx_literal_hdr(struct imap_sx *c, uint64_t *n)
{
	if (imap_sx_char(c, '{') == -1 || imap_sx_num64(c, n) == -1)
		return -1;
	if (imap_sx_peek(c) == '+') {
		imap_sx_fail(c, "non-synchronising literal from a server");
		return -1;
	}
	if (imap_sx_char(c, '}') == -1)
		return -1;
	if (c->pos + 2 > c->len || c->b[c->pos] != '\r' ||
	    c->b[c->pos + 1] != '\n') {
		imap_sx_fail(c, "literal not at end of line");
		return -1;
	}
	c->pos += 2;
	return 0;
}

/*
 * A literal.  Its bytes are in the buffer (the framer put them there),
 * except in partial mode for the last one, which makes us "incomplete".
 * The framer refuses NUL bytes in absorbed literals.
 */
static int
sx_literal(struct imap_sx *c, char **out, size_t *outlen)
{
	uint64_t	n;

	if (imap_sx_literal_hdr(c, &n) == -1)
		return -1;
	/* In partial mode b ends right where the pending literal starts. */
	if (c->partial && c->pos == c->len) {
		c->incomplete = 1;
		return -1;
	}
	/* The framer made sure there is no NUL byte in it. */
	if (n > c->len - c->pos) {
		imap_sx_fail(c, "truncated literal");
		return -1;
	}
	if (out != NULL &&
	    (*out = imap_sx_strndup(c, c->b + c->pos, n)) == NULL)
		return -1;
	if (outlen != NULL)
		*outlen = n;
	c->pos += n;
	return 0;
}

int
imap_sx_string(struct imap_sx *c, char **out)
{
	switch (imap_sx_peek(c)) {
	case '"':
		return imap_sx_quoted(c, out, NULL);
	case '{':
		return sx_literal(c, out, NULL);
	}
	imap_sx_fail(c, "expected a string");
	return -1;
}

int
imap_sx_is_nil(const struct imap_sx *c)
{
	return c->pos + 3 <= c->len &&
	    strncasecmp((const char *)c->b + c->pos, "NIL", 3) == 0 &&
	    (c->pos + 3 == c->len || !sx_gen_char(c->b[c->pos + 3]));
}

/* nstring; *out NULL for NIL. */
int
imap_sx_nstring(struct imap_sx *c, char **out)
{
	if (imap_sx_is_nil(c)) {
		c->pos += 3;
		if (out != NULL)
			*out = NULL;
		return 0;
	}
	return imap_sx_string(c, out);
}

int
imap_sx_astring(struct imap_sx *c, char **out)
{
	if (imap_sx_span(c, imap_sx_astring_char) > 0)
		return imap_sx_token(c, imap_sx_astring_char, out,
		    "an astring");
	return imap_sx_string(c, out);
}

void
imap_sx_inbox_norm(char *name)
{
	if (name != NULL && strcasecmp(name, "INBOX") == 0)
		memcpy(name, "INBOX", 5);
}

/* list-mailbox (a superset of mailbox): 1*list-char / string. */
int
imap_sx_mailbox(struct imap_sx *c, char **out)
{
	int	rv;

	if (imap_sx_span(c, imap_sx_list_char) > 0)
		rv = imap_sx_token(c, imap_sx_list_char, out, "a mailbox name");
	else
		rv = imap_sx_string(c, out);
	if (rv == 0 && out != NULL)
		imap_sx_inbox_norm(*out);
	return rv;
}

/* The rest of the line as text (never holds NUL, CR or LF here). */
int
imap_sx_text(struct imap_sx *c, char **out)
{
	size_t	n = c->len - c->pos;

	if (memchr(c->b + c->pos, '\r', n) != NULL ||
	    memchr(c->b + c->pos, '\n', n) != NULL) {
		imap_sx_fail(c, "line break in text");
		return -1;
	}
	if ((*out = imap_sx_strndup(c, c->b + c->pos, n)) == NULL)
		return -1;
	c->pos = c->len;
	return 0;
}

/* ---- lists, sets, generic values --------------------------------------- */

/* flag: "\" atom / atom, and "\*" when perm (PERMANENTFLAGS). */
int
imap_sx_flag(struct imap_sx *c, char **out, int perm)
{
	size_t	start = c->pos, n;

	if (imap_sx_peek(c) == '\\') {
		c->pos++;
		if (perm && imap_sx_peek(c) == '*') {
			c->pos++;
			goto done;
		}
	}
	if ((n = imap_sx_span(c, imap_sx_atom_char)) == 0) {
		imap_sx_fail(c, "expected a flag");
		return -1;
	}
	c->pos += n;
done:
	if (out != NULL &&
	    (*out = imap_sx_strndup(c, c->b + start, c->pos - start)) == NULL)
		return -1;
	return 0;
}

/* "(" [flag *(SP flag)] ")"; drop_recent removes \Recent. */
int
imap_sx_flag_list(struct imap_sx *c, struct imap_strlist *l, int perm,
    int drop_recent)
{
	struct imap_sx_vec	 v = { 0 };
	char		*f, **slot;

	if (imap_sx_char(c, '(') == -1)
		return -1;
	if (imap_sx_peek(c) != ')') {
		for (;;) {
			if (imap_sx_flag(c, &f, perm) == -1)
				return -1;
			if (!drop_recent || strcasecmp(f, "\\Recent") != 0) {
				slot = imap_sx_vec_add(c, &v, sizeof(*slot));
				if (slot == NULL)
					return -1;
				*slot = f;
			}
			if (imap_sx_peek(c) != ' ')
				break;
			c->pos++;
		}
	}
	if (imap_sx_char(c, ')') == -1)
		return -1;
	l->v = v.v;
	l->n = v.n;
	return 0;
}

/* *(SP atom) up to the end of the line or a "]". */
int
imap_sx_atom_list(struct imap_sx *c, struct imap_strlist *l, size_t min)
{
	struct imap_sx_vec	 v = { 0 };
	char		**slot;

	while (imap_sx_peek(c) == ' ') {
		c->pos++;
		if ((slot = imap_sx_vec_add(c, &v, sizeof(*slot))) == NULL)
			return -1;
		if (imap_sx_token(c, imap_sx_atom_char, slot, "an atom") == -1)
			return -1;
	}
	if (v.n < min) {
		imap_sx_fail(c, "expected an atom");
		return -1;
	}
	l->v = v.v;
	l->n = v.n;
	return 0;
}

/* sequence-set / uid-set (star_ok 0: no "*"). */
int
imap_sx_set(struct imap_sx *c, struct imap_set *set, int star_ok)
{
	struct imap_sx_vec		 v = { 0 };
	struct imap_range	*r;
	uint32_t		 a, b, t;

	for (;;) {
		if (imap_sx_peek(c) == '*' && star_ok) {
			c->pos++;
			a = IMAP_SET_STAR;
		} else if (imap_sx_u32(c, &a, 1) == -1)
			return -1;
		b = a;
		if (imap_sx_peek(c) == ':') {
			c->pos++;
			if (imap_sx_peek(c) == '*' && star_ok) {
				c->pos++;
				b = IMAP_SET_STAR;
			} else if (imap_sx_u32(c, &b, 1) == -1)
				return -1;
		}
		if (a == IMAP_SET_STAR || (b != IMAP_SET_STAR && a > b)) {
			t = a;
			a = b;
			b = t;
		}
		if (v.n >= c->lim->set_max) {
			imap_sx_failx(c, "sequence set with more than %u "
			    "ranges", c->lim->set_max);
			return -1;
		}
		if ((r = imap_sx_vec_add(c, &v, sizeof(*r))) == NULL)
			return -1;
		r->lo = a;
		r->hi = b;
		if (imap_sx_peek(c) != ',')
			break;
		c->pos++;
	}
	set->r = v.v;
	set->n = v.n;
	return 0;
}

/*
 * A generic value: "(" [value *(SP value)] ")" / NIL / string / atom
 * (numbers and sequence sets are atoms here).  out NULL: skip, no
 * allocation.
 */
int
imap_sx_value(struct imap_sx *c, struct imap_value *out)
{
	struct imap_sx_vec		 v = { 0 };
	struct imap_value	*el, skip;
	int			 rv = -1;

	if (c->depth >= c->lim->depth_max) {
		imap_sx_failx(c, "parentheses nested deeper than %u",
		    c->lim->depth_max);
		return -1;
	}
	c->depth++;
	switch (imap_sx_peek(c)) {
	case '(':
		c->pos++;
		if (out != NULL)
			out->type = IMAP_VAL_LIST;
		if (imap_sx_peek(c) != ')') {
			for (;;) {
				el = &skip;
				if (out != NULL && (el = imap_sx_vec_add(c, &v,
				    sizeof(*el))) == NULL)
					goto out;
				if (imap_sx_value(c, out != NULL ? el : NULL) ==
				    -1)
					goto out;
				if (imap_sx_peek(c) != ' ')
					break;
				c->pos++;
			}
		}
		if (imap_sx_char(c, ')') == -1)
			goto out;
		if (out != NULL) {
			out->v = v.v;
			out->n = v.n;
		}
		break;
	case '"':
	case '{':
		if (out != NULL)
			out->type = IMAP_VAL_STRING;
		if (imap_sx_string(c, out != NULL ? &out->str : NULL) == -1)
			goto out;
		break;
	default:
		if (imap_sx_is_nil(c)) {
			c->pos += 3;
			if (out != NULL)
				out->type = IMAP_VAL_NIL;
			break;
		}
		if (out != NULL)
			out->type = IMAP_VAL_ATOM;
		if (imap_sx_token(c, sx_gen_char,
		    out != NULL ? &out->str : NULL, "a value") == -1)
			goto out;
	}
	rv = 0;
out:
	c->depth--;
	return rv;
}
