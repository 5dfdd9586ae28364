/*
 * UID lists and IMAP UID sets (uidset.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uidset.h"
#include "util.h"

static int	 uid_cmp(const void *, const void *);
static void	 uid_put_run(struct sbuf *, uint32_t, uint32_t);
static const char *uid_number(const char *, uint32_t *);

void
uidvec_push(struct uidvec *u, uint32_t uid)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 16;
		u->v = eng_reallocarray(u->v, u->cap, sizeof(*u->v));
	}
	u->v[u->n++] = uid;
}

void
uidvec_append(struct uidvec *u, const uint32_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		uidvec_push(u, v[i]);
}

void
uidvec_clear(struct uidvec *u)
{
	u->n = 0;
}

void
uidvec_free(struct uidvec *u)
{
	free(u->v);
	u->v = NULL;
	u->n = u->cap = 0;
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void
uidvec_sort_uniq(struct uidvec *u)
{
	size_t i, j;

	if (u->n < 2)
		return;
	eng_sort(u->v, u->n, sizeof(*u->v), uid_cmp);
	for (i = 1, j = 1; i < u->n; i++)
		if (u->v[i] != u->v[j - 1])
			u->v[j++] = u->v[i];
	u->n = j;
}

int
uidvec_has(const struct uidvec *u, uint32_t uid)
{
	return eng_find_uid(u->v, u->n, sizeof(*u->v), uid) != NULL;
}

void
uidvec_remove(struct uidvec *u, const struct uidvec *drop)
{
	size_t i, j;

	if (drop->n == 0)
		return;
	for (i = 0, j = 0; i < u->n; i++)
		if (!uidvec_has(drop, u->v[i]))
			u->v[j++] = u->v[i];
	u->n = j;
}

void
uidranges_push(struct uidranges *rs, uint32_t lo, uint32_t hi)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 8;
		rs->r = eng_reallocarray(rs->r, rs->cap, sizeof(*rs->r));
	}
	rs->r[rs->n].lo = lo < hi ? lo : hi;
	rs->r[rs->n].hi = lo < hi ? hi : lo;
	rs->n++;
}

void
uidranges_free(struct uidranges *rs)
{
	free(rs->r);
	rs->r = NULL;
	rs->n = rs->cap = 0;
}

uint64_t
uidranges_count(const struct uidranges *rs)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < rs->n; i++)
		total += (uint64_t)rs->r[i].hi - rs->r[i].lo + 1;
	return total;
}

/* A decimal number in 1..2^32-1; the character after it, or NULL. */
static const char *
uid_number(const char *p, uint32_t *out)
{
	uint64_t v = 0;
	const char *start = p;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return NULL;
		p++;
	}
	if (p == start || v == 0 || (*start == '0'))
		return NULL;
	*out = (uint32_t)v;
	return p;
}

int
uidset_parse(const char *s, struct uidranges *rs)
{
	const char *p = s;
	uint32_t a, b;

	if (*p == '\0')
		return -1;
	for (;;) {
		if ((p = uid_number(p, &a)) == NULL)
			return -1;
		b = a;
		if (*p == ':' && (p = uid_number(p + 1, &b)) == NULL)
			return -1;
		uidranges_push(rs, a, b);
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

int
uidset_contains(const char *set, uint32_t x)
{
	const char *p = set;
	uint32_t a, b;
	int star_a, star_b;

	while (*p != '\0') {
		star_a = star_b = 0;
		a = b = 0;
		if (*p == '*') {
			star_a = 1;
			p++;
		} else if ((p = uid_number(p, &a)) == NULL)
			return 0;
		if (*p == ':') {
			p++;
			if (*p == '*') {
				star_b = 1;
				p++;
			} else if ((p = uid_number(p, &b)) == NULL)
				return 0;
		} else {
			star_b = star_a;
			b = a;
		}
		if (star_a && star_b)
			return 1;
		if (star_a || star_b) {
			/* n:* or *:n: everything from n up. */
			if (x >= (star_a ? b : a))
				return 1;
		} else if (x >= (a < b ? a : b) && x <= (a < b ? b : a))
			return 1;
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return 0;
	}
	return 0;
}

static void
uid_put_run(struct sbuf *b, uint32_t min, uint32_t max)
{
	if (b->len > 0)
		sbuf_addc(b, ',');
	if (min == max)
		sbuf_printf(b, "%u", min);
	else
		sbuf_printf(b, "%u:%u", min, max);
}

char *
uid_compact_set(const uint32_t *uids, size_t n)
{
	struct uidvec u = { NULL, 0, 0 };
	struct sbuf b = { NULL, 0, 0 };
	uint32_t min, max;
	size_t i;

	if (n == 0)
		return NULL;
	uidvec_append(&u, uids, n);
	uidvec_sort_uniq(&u);
	min = max = u.v[0];
	for (i = 1; i < u.n; i++) {
		if (u.v[i] == max + 1) {
			max++;
			continue;
		}
		uid_put_run(&b, min, max);
		min = max = u.v[i];
	}
	uid_put_run(&b, min, max);
	uidvec_free(&u);
	return sbuf_take(&b);
}

char *
uid_compact_list(const uint32_t *uids, size_t n)
{
	struct sbuf b = { NULL, 0, 0 };
	uint32_t min, max;
	int dir = 0;		/* 0: not fixed yet, else +1 / -1 */
	size_t i;

	if (n == 0)
		return NULL;
	min = max = uids[0];
	for (i = 1; i < n; i++) {
		if (dir == 0)
			dir = uids[i] < max ? -1 : 1;
		if (uids[i] != max &&
		    (int64_t)uids[i] == (int64_t)max + dir) {
			max = uids[i];
			continue;
		}
		uid_put_run(&b, min, max);
		min = max = uids[i];
		dir = 0;
	}
	uid_put_run(&b, min, max);
	return sbuf_take(&b);
}

char *
uid_range_str(uint32_t lo, uint32_t hi)
{
	struct sbuf b = { NULL, 0, 0 };

	uid_put_run(&b, lo, hi);
	return sbuf_take(&b);
}

static int
range_cmp(const void *a, const void *b)
{
	const struct uid_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

void
uidranges_normalize(struct uidranges *rs)
{
	size_t i, j;

	if (rs->n < 2)
		return;
	eng_sort(rs->r, rs->n, sizeof(*rs->r), range_cmp);
	for (i = 1, j = 0; i < rs->n; i++) {
		if (rs->r[j].hi == UINT32_MAX ||
		    rs->r[i].lo <= rs->r[j].hi + 1) {
			if (rs->r[i].hi > rs->r[j].hi)
				rs->r[j].hi = rs->r[i].hi;
			continue;
		}
		rs->r[++j] = rs->r[i];
	}
	rs->n = j + 1;
}

int
uidranges_has(const struct uidranges *rs, uint32_t uid)
{
	size_t lo = 0, hi = rs->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (rs->r[mid].hi < uid)
			lo = mid + 1;
		else if (rs->r[mid].lo > uid)
			hi = mid;
		else
			return 1;
	}
	return 0;
}

void
uidranges_from_vec(struct uidranges *rs, const uint32_t *v, size_t n)
{
	size_t i;
	uint32_t lo, hi;

	if (n == 0)
		return;
	lo = hi = v[0];
	for (i = 1; i < n; i++) {
		if (v[i] == hi + 1 && hi != UINT32_MAX) {
			hi = v[i];
			continue;
		}
		uidranges_push(rs, lo, hi);
		lo = hi = v[i];
	}
	uidranges_push(rs, lo, hi);
}

void
uidranges_minus_ranges(struct uidranges *rs, struct uidranges *b)
{
	struct uidranges keep = { NULL, 0, 0 };
	size_t i, k;
	uint32_t lo, hi;

	if (b->n == 0 || rs->n == 0)
		return;
	uidranges_normalize(rs);
	uidranges_normalize(b);
	for (i = 0, k = 0; i < rs->n; i++) {
		lo = rs->r[i].lo;
		hi = rs->r[i].hi;
		while (k < b->n && b->r[k].hi < lo)
			k++;
		/* b's ranges over [lo, hi], in order: the gaps stay. */
		for (; k < b->n && b->r[k].lo <= hi; k++) {
			if (b->r[k].lo > lo)
				uidranges_push(&keep, lo, b->r[k].lo - 1);
			if (b->r[k].hi >= hi) {
				lo = 0;		/* nothing of it left */
				break;
			}
			lo = b->r[k].hi + 1;
		}
		if (lo != 0 && lo <= hi)
			uidranges_push(&keep, lo, hi);
	}
	uidranges_free(rs);
	*rs = keep;
}

void
uidranges_clip(struct uidranges *rs, uint32_t below)
{
	size_t i, j;

	for (i = 0, j = 0; i < rs->n; i++) {
		if (rs->r[i].lo >= below)
			continue;
		rs->r[j] = rs->r[i];
		if (rs->r[j].hi >= below)
			rs->r[j].hi = below - 1;
		j++;
	}
	rs->n = j;
}

size_t
uidranges_piece(const struct uidranges *rs, size_t from, size_t max,
    struct sbuf *out)
{
	char one[32];
	int len;
	size_t i;

	for (i = from; i < rs->n; i++) {
		if (rs->r[i].lo == rs->r[i].hi)
			len = snprintf(one, sizeof(one), "%u", rs->r[i].lo);
		else
			len = snprintf(one, sizeof(one), "%u:%u", rs->r[i].lo,
			    rs->r[i].hi);
		if (out->len > 0 && out->len + 1 + (size_t)len > max)
			break;
		if (out->len > 0)
			sbuf_addc(out, ',');
		sbuf_add(out, one, (size_t)len);
	}
	return i;
}

char *
uidranges_str(const struct uidranges *rs)
{
	struct sbuf b = { NULL, 0, 0 };

	if (rs->n == 0)
		return NULL;
	(void)uidranges_piece(rs, 0, SIZE_MAX, &b);
	return sbuf_take(&b);
}

void
uidranges_minus(struct uidranges *rs, const uint32_t *v, size_t n)
{
	struct uidranges keep = { NULL, 0, 0 };
	size_t i, k;
	uint32_t lo;
	int wrapped;

	if (n == 0 || rs->n == 0)
		return;
	uidranges_normalize(rs);
	for (i = 0, k = 0; i < rs->n; i++) {
		lo = rs->r[i].lo;
		wrapped = 0;
		while (k < n && v[k] < rs->r[i].lo)
			k++;
		for (; k < n && v[k] <= rs->r[i].hi; k++) {
			if (v[k] < lo)
				continue;	/* a duplicate */
			if (v[k] > lo)
				uidranges_push(&keep, lo, v[k] - 1);
			if (v[k] == UINT32_MAX)
				wrapped = 1;
			lo = v[k] + 1;
		}
		if (!wrapped && lo <= rs->r[i].hi)
			uidranges_push(&keep, lo, rs->r[i].hi);
	}
	uidranges_free(rs);
	*rs = keep;
}
