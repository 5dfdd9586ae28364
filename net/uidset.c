/*
 * UID sets as text: see uidset.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uidset.h"

#define ELEM_MAX	22	/* "4294967295:4294967295," */

static char *
set_alloc(size_t n)
{
	if (n == 0 || n > (SIZE_MAX - 1) / ELEM_MAX)
		return NULL;
	return malloc(n * ELEM_MAX + 1);
}

/* Appends "lo" or "lo:hi" (with a comma before unless first). */
static size_t
put_range(char *s, size_t off, uint32_t lo, uint32_t hi)
{
	int	n;

	if (off > 0)
		s[off++] = ',';
	if (lo == hi)
		n = snprintf(s + off, ELEM_MAX, "%u", lo);
	else
		n = snprintf(s + off, ELEM_MAX, "%u:%u", lo, hi);
	return off + (size_t)n;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

char *
imap_uids_compact_set(const uint32_t *uids, size_t n)
{
	uint32_t	*v, min, max;
	char		*s;
	size_t		 i, off = 0;

	if ((s = set_alloc(n)) == NULL)
		return NULL;
	if ((v = reallocarray(NULL, n, sizeof(*v))) == NULL) {
		free(s);
		return NULL;
	}
	memcpy(v, uids, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_u32);
	min = max = v[0];
	for (i = 1; i < n; i++) {
		if (v[i] == max)
			continue;
		if ((uint64_t)v[i] == (uint64_t)max + 1) {
			max = v[i];
			continue;
		}
		off = put_range(s, off, min, max);
		min = max = v[i];
	}
	off = put_range(s, off, min, max);
	s[off] = '\0';
	free(v);
	return s;
}

char *
imap_uids_compact_list(const uint32_t *uids, size_t n)
{
	int64_t	 min, max, k;
	char	*s;
	size_t	 i, off = 0;
	int	 dir = 0;		/* 0: not known yet */

	if ((s = set_alloc(n)) == NULL)
		return NULL;
	min = max = uids[0];
	for (i = 1; i < n; i++) {
		k = uids[i];
		if (dir == 0)
			dir = k < max ? -1 : 1;
		if (k != max && k == max + dir) {
			max += dir;
			continue;
		}
		off = put_range(s, off, (uint32_t)min, (uint32_t)max);
		min = max = k;
		dir = 0;
	}
	off = put_range(s, off, (uint32_t)min, (uint32_t)max);
	s[off] = '\0';
	return s;
}

size_t
imap_uids_chunk(const char *set, size_t len, size_t max)
{
	size_t	i;

	if (len <= max)
		return len;
	for (i = max + 1; i-- > 0;)
		if (set[i] == ',')
			return i;
	return 0;
}

/* Prepends "lo" or "lo:hi," to the set being built at the end of buf. */
static size_t
prepend_range(char *buf, size_t bufsz, size_t len, uint32_t lo, uint32_t hi)
{
	char	el[ELEM_MAX + 1];
	int	n;

	if (lo == hi)
		n = snprintf(el, sizeof(el), len > 0 ? "%u," : "%u", lo);
	else
		n = snprintf(el, sizeof(el), len > 0 ? "%u:%u," : "%u:%u",
		    lo, hi);
	if ((size_t)n + len >= bufsz)
		return len;		/* cannot happen: see the caller */
	memmove(buf + n, buf, len + 1);
	memcpy(buf, el, (size_t)n);
	return len + (size_t)n;
}

int
imap_uids_qresync_sample(const uint32_t *uids, size_t n, uint64_t count,
    char **seqset, char **uidset)
{
	/* The set stops growing once over 256: 256 + one element + NUL. */
	char		 buf[UIDSET_SAMPLE_LEN + 2 * ELEM_MAX + 2];
	uint64_t	 covered = 0;
	uint32_t	 min, max;
	size_t		 i, len = 0;
	int		 stopped = 0;

	*seqset = *uidset = NULL;
	if (count == 0)
		return 0;
	if (n == 0)
		return -1;
	if (n > UIDSET_SAMPLE_UIDS)
		n = UIDSET_SAMPLE_UIDS;
	for (i = 0; i < n; i++)
		if (uids[i] == 0)
			return -1;
	buf[0] = '\0';
	min = max = uids[0];
	for (i = 1; i < n; i++) {
		if ((uint64_t)uids[i] + 1 == min) {
			min--;
			continue;
		}
		covered += (uint64_t)max - min + 1;
		len = prepend_range(buf, sizeof(buf), len, min, max);
		min = max = uids[i];
		if (len > UIDSET_SAMPLE_LEN) {
			stopped = 1;
			break;
		}
	}
	if (!stopped) {
		/* May pass 256 by one element, as the reference does. */
		covered += (uint64_t)max - min + 1;
		len = prepend_range(buf, sizeof(buf), len, min, max);
	}
	if (covered > count)
		return -1;
	if ((*uidset = strdup(buf)) == NULL)
		return -1;
	if (asprintf(seqset, "%llu:%llu",
	    (unsigned long long)(count - covered + 1),
	    (unsigned long long)count) == -1) {
		*seqset = NULL;
		free(*uidset);
		*uidset = NULL;
		return -1;
	}
	return 0;
}

/* One end of a range: a number or "*" (as 0). */
static int
parse_end(const char **sp, uint64_t *v)
{
	const char	*s = *sp;

	if (*s == '*') {
		*v = 0;
		*sp = s + 1;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -1;
	*v = 0;
	for (; isdigit((unsigned char)*s); s++) {
		*v = *v * 10 + (uint64_t)(*s - '0');
		if (*v > UINT32_MAX)
			return -1;
	}
	if (*v == 0)
		return -1;		/* 0 stands for "*" here */
	*sp = s;
	return 0;
}

int
imap_uids_contains(const char *s, uint32_t x)
{
	uint64_t	a, b, t;
	int		found = 0;

	for (;;) {
		if (parse_end(&s, &a) == -1)
			return -1;
		b = a;
		if (*s == ':') {
			s++;
			if (parse_end(&s, &b) == -1)
				return -1;
		}
		if (a == 0 && b == 0)
			found = 1;		/* "*": we cannot know */
		else if (a == 0 || b == 0) {
			if (x >= a + b)		/* "n:*": x >= n */
				found = 1;
		} else {
			if (a > b) {
				t = a;
				a = b;
				b = t;
			}
			if (x >= a && x <= b)
				found = 1;
		}
		if (*s == '\0')
			return found;
		if (*s++ != ',')
			return -1;
	}
}
