/*
 * Small helpers of the engine (util.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "util.h"

void *
eng_malloc(size_t n)
{
	void *p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		fatalx(EXIT_FAIL, "engine: out of memory");
	return p;
}

void *
eng_calloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		fatalx(EXIT_FAIL, "engine: out of memory");
	return p;
}

void *
eng_reallocarray(void *old, size_t n, size_t size)
{
	void *p;

	if ((p = reallocarray(old, n == 0 ? 1 : n, size == 0 ? 1 : size)) ==
	    NULL)
		fatalx(EXIT_FAIL, "engine: out of memory");
	return p;
}

char *
eng_strdup(const char *s)
{
	return eng_memdup(s, strlen(s));
}

char *
eng_memdup(const void *p, size_t len)
{
	char *s;

	s = eng_malloc(len + 1);
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

void
sbuf_add(struct sbuf *b, const void *p, size_t len)
{
	size_t ncap;

	if (b->len + len + 1 > b->cap) {
		ncap = b->cap ? b->cap : 64;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		b->s = eng_reallocarray(b->s, ncap, 1);
		b->cap = ncap;
	}
	if (len > 0)
		memcpy(b->s + b->len, p, len);
	b->len += len;
	b->s[b->len] = '\0';
}

void
sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void
sbuf_addc(struct sbuf *b, char c)
{
	sbuf_add(b, &c, 1);
}

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char tmp[256], *big;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx(EXIT_FAIL, "engine: vsnprintf failed");
	if ((size_t)n < sizeof(tmp)) {
		sbuf_add(b, tmp, (size_t)n);
		return;
	}
	big = eng_malloc((size_t)n + 1);
	va_start(ap, fmt);
	(void)vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sbuf_add(b, big, (size_t)n);
	free(big);
}

const char *
sbuf_str(const struct sbuf *b)
{
	return b->s == NULL ? "" : b->s;
}

char *
sbuf_take(struct sbuf *b)
{
	char *s;

	s = b->s == NULL ? eng_strdup("") : b->s;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void
sbuf_free(struct sbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void
eng_sort(void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static int
eng_uid_cmp(const void *key, const void *elem)
{
	uint32_t a = *(const uint32_t *)key, b;

	memcpy(&b, elem, sizeof(b));
	return a < b ? -1 : a > b;
}

void *
eng_find_uid(const void *base, size_t n, size_t size, uint32_t uid)
{
	if (n == 0)
		return NULL;
	return bsearch(&uid, base, n, size, eng_uid_cmp);
}
