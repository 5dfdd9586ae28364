/*
 * Flag strings as the reference compares them: space-separated, sorted
 * bytewise (Perl's sort), \Recent already removed by net.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"

static int	 flag_cmp(const void *, const void *);

static int
flag_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits s at spaces into a new array of pointers into copy (caller). */
static char **
flags_split(const char *s, char **copy, size_t *n)
{
	char **v, *p, *tok;
	size_t cap = 8;

	*copy = eng_strdup(s);
	v = eng_reallocarray(NULL, cap, sizeof(*v));
	*n = 0;
	for (p = *copy; (tok = strsep(&p, " ")) != NULL;) {
		if (*tok == '\0')
			continue;
		if (*n == cap) {
			cap *= 2;
			v = eng_reallocarray(v, cap, sizeof(*v));
		}
		v[(*n)++] = tok;
	}
	return v;
}

static char *
flags_join(char **v, size_t n, int uniq)
{
	struct sbuf b = { NULL, 0, 0 };
	size_t i;

	eng_sort(v, n, sizeof(*v), flag_cmp);
	for (i = 0; i < n; i++) {
		if (uniq && i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (b.len > 0)
			sbuf_addc(&b, ' ');
		sbuf_adds(&b, v[i]);
	}
	return sbuf_take(&b);
}

char *
flags_sorted(const char *s)
{
	char **v, *copy, *out;
	size_t n;

	v = flags_split(s, &copy, &n);
	out = flags_join(v, n, 0);
	free(v);
	free(copy);
	return out;
}

/*
 * A hash of a flag set, whatever the order, repetitions and \Recent:
 * which flags a copy was given (known.c's echoes).
 */
uint32_t
flags_hash(const char *s)
{
	char **v, *copy;
	uint32_t h = 2166136261U;
	size_t i, n;
	const char *c;

	v = flags_split(s != NULL ? s : "", &copy, &n);
	eng_sort(v, n, sizeof(*v), flag_cmp);
	for (i = 0; i < n; i++) {
		if (strcasecmp(v[i], "\\Recent") == 0 ||
		    (i > 0 && strcmp(v[i], v[i - 1]) == 0))
			continue;
		for (c = v[i]; *c != '\0'; c++)
			h = (h ^ (unsigned char)*c) * 16777619U;
		h = (h ^ ' ') * 16777619U;
	}
	free(v);
	free(copy);
	return h;
}

char *
flags_union(const char *a, const char *b)
{
	char **va, **vb, *ca, *cb, *out;
	size_t na, nb;

	va = flags_split(a, &ca, &na);
	vb = flags_split(b, &cb, &nb);
	va = eng_reallocarray(va, na + nb + 1, sizeof(*va));
	memcpy(va + na, vb, nb * sizeof(*vb));
	out = flags_join(va, na + nb, 1);
	free(va);
	free(vb);
	free(ca);
	free(cb);
	return out;
}
