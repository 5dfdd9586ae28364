/*
 * Formatting IMAP command arguments: see imap_fmt.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_fmt.h"
#include "imap_parse.h"

void
imap_buf_init(struct imap_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
imap_buf_free(struct imap_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
imap_buf_reset(struct imap_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Room for n more bytes and a NUL. */
static int
buf_room(struct imap_buf *b, size_t n)
{
	char	*nd;
	size_t	 ncap;

	if (b->failed)
		return -1;
	if (n < b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = 1;
		return -1;
	}
	ncap = b->cap ? b->cap : 256;
	while (ncap - b->len <= n)
		ncap *= 2;
	if ((nd = realloc(b->data, ncap)) == NULL) {
		b->failed = 1;
		return -1;
	}
	b->data = nd;
	b->cap = ncap;
	return 0;
}

void
imap_buf_add(struct imap_buf *b, const void *p, size_t n)
{
	if (buf_room(b, n) == -1)
		return;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
imap_buf_str(struct imap_buf *b, const char *s)
{
	imap_buf_add(b, s, strlen(s));
}

void
imap_buf_printf(struct imap_buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if (buf_room(b, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

int
imap_buf_ok(const struct imap_buf *b)
{
	return b->failed ? -1 : 0;
}

/* ASTRING-CHAR: ATOM-CHAR / "]" (RFC 3501). */
static int
is_astring_char(unsigned char ch)
{
	if (ch <= 0x20 || ch >= 0x7f)
		return 0;
	switch (ch) {
	case '(': case ')': case '{': case '%': case '*': case '"':
	case '\\':
		return 0;
	}
	return 1;
}

static int
is_atom_char(unsigned char ch)
{
	return is_astring_char(ch) && ch != ']';
}

/* TEXT-CHAR: any CHAR (0x01-0x7f) but CR and LF. */
static int
is_text_char(unsigned char ch)
{
	return ch >= 0x01 && ch <= 0x7f && ch != '\r' && ch != '\n';
}

enum imap_astr
imap_astring_kind(const void *v, size_t n)
{
	const unsigned char	*s = v;
	size_t			 i;
	int			 atom = n > 0;

	for (i = 0; i < n; i++) {
		if (!is_text_char(s[i]))
			return IMAP_ASTR_LITERAL;
		if (!is_astring_char(s[i]))
			atom = 0;
	}
	return atom ? IMAP_ASTR_ATOM : IMAP_ASTR_QUOTED;
}

static void
put_quoted(struct imap_buf *b, const unsigned char *s, size_t n)
{
	size_t	i, start;

	imap_buf_add(b, "\"", 1);
	for (i = start = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			imap_buf_add(b, s + start, i - start);
			imap_buf_add(b, "\\", 1);
			start = i;
		}
	}
	imap_buf_add(b, s + start, n - start);
	imap_buf_add(b, "\"", 1);
}

enum imap_astr
imap_fmt_astring(struct imap_buf *b, const void *s, size_t n)
{
	enum imap_astr	k = imap_astring_kind(s, n);

	if (k == IMAP_ASTR_ATOM)
		imap_buf_add(b, s, n);
	else if (k == IMAP_ASTR_QUOTED)
		put_quoted(b, s, n);
	return k;
}

int
imap_fmt_quoted(struct imap_buf *b, const void *v, size_t n)
{
	const unsigned char	*s = v;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (!is_text_char(s[i]))
			return -1;
	put_quoted(b, s, n);
	return 0;
}

void
imap_fmt_literal_hdr(struct imap_buf *b, uint64_t n, int nonsync)
{
	imap_buf_printf(b, "{%llu%s}\r\n", (unsigned long long)n,
	    nonsync ? "+" : "");
}

int
imap_flag_valid(const char *s, size_t n)
{
	size_t	i = 0;

	if (n > 0 && s[0] == '\\')
		i = 1;
	if (i == n)
		return 0;
	for (; i < n; i++)
		if (!is_atom_char((unsigned char)s[i]))
			return 0;
	return 1;
}

static int
is_recent(const char *s, size_t n)
{
	return n == 7 && strncasecmp(s, "\\Recent", 7) == 0;
}

int
imap_fmt_flag_list(struct imap_buf *b, const char *flags, int drop_recent)
{
	const char	*s, *e;
	int		 first = 1;

	/* Validate first so nothing is written on error. */
	for (s = flags; *s != '\0'; s = e) {
		while (*s == ' ')
			s++;
		for (e = s; *e != '\0' && *e != ' '; e++)
			;
		if (e > s && !imap_flag_valid(s, e - s))
			return -1;
	}
	imap_buf_add(b, "(", 1);
	for (s = flags; *s != '\0'; s = e) {
		while (*s == ' ')
			s++;
		for (e = s; *e != '\0' && *e != ' '; e++)
			;
		if (e == s || (drop_recent && is_recent(s, e - s)))
			continue;
		if (!first)
			imap_buf_add(b, " ", 1);
		imap_buf_add(b, s, e - s);
		first = 0;
	}
	imap_buf_add(b, ")", 1);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
imap_flags_join(char *const *v, size_t n)
{
	char	**sorted, *out, *p;
	size_t	 i, k = 0, len = 1;

	if ((sorted = reallocarray(NULL, n ? n : 1, sizeof(*sorted))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (is_recent(v[i], strlen(v[i])))
			continue;
		sorted[k++] = v[i];
		len += strlen(v[i]) + 1;
	}
	qsort(sorted, k, sizeof(*sorted), cmp_str);
	if ((out = malloc(len)) == NULL) {
		free(sorted);
		return NULL;
	}
	p = out;
	for (i = 0; i < k; i++) {
		if (i > 0)
			*p++ = ' ';
		len = strlen(sorted[i]);
		memcpy(p, sorted[i], len);
		p += len;
	}
	*p = '\0';
	free(sorted);
	return out;
}

int
imap_fmt_date(struct imap_buf *b, const char *date)
{
	if (!imap_date_time_valid(date))
		return -1;
	imap_buf_printf(b, "\"%s\"", date);
	return 0;
}
