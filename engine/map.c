/*
 * The UID mapping of the mailbox in hand (eng.h): the rows of table
 * mapping for one idx, held twice, sorted by local and by remote UID, so
 * that both lookups are binary searches.  Rows mostly arrive in
 * increasing order (appends), so adding is an append; deletions only
 * mark the row and a later compaction drops the marks, so a mass
 * expunge stays linear.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "proc.h"

static ssize_t	 map_find(const struct map_pair *, size_t, int, uint32_t);
static void	 map_compact(struct map *);
static void	 map_insert(struct map_pair *, size_t, int,
		    const struct map_pair *);

void
map_init(struct map *m)
{
	memset(m, 0, sizeof(*m));
}

void
map_free(struct map *m)
{
	free(m->byl);
	free(m->byr);
	memset(m, 0, sizeof(*m));
}

static uint32_t
map_key(const struct map_pair *p, int byr)
{
	return byr ? p->ruid : p->luid;
}

/* Index of the live or dead entry with key uid, or -1. */
static ssize_t
map_find(const struct map_pair *a, size_t n, int byr, uint32_t uid)
{
	size_t lo = 0, hi = n, mid;
	uint32_t k;

	/*
	 * A dead entry keeps its key in the searched field (the other one
	 * is zeroed), so the array stays sorted.
	 */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		k = map_key(&a[mid], byr);
		if (k == uid)
			return (ssize_t)mid;
		if (k < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void
map_compact(struct map *m)
{
	size_t i, jl = 0, jr = 0;

	for (i = 0; i < m->n; i++) {
		if (m->byl[i].ruid != 0)
			m->byl[jl++] = m->byl[i];
		if (m->byr[i].luid != 0)
			m->byr[jr++] = m->byr[i];
	}
	m->n = jl;
	m->dead = 0;
}

/* Inserts p into the sorted array a of n entries (room for one more). */
static void
map_insert(struct map_pair *a, size_t n, int byr, const struct map_pair *p)
{
	size_t lo = 0, hi = n, mid;
	uint32_t k = map_key(p, byr);

	if (n == 0 || map_key(&a[n - 1], byr) < k) {
		a[n] = *p;
		return;
	}
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (map_key(&a[mid], byr) < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&a[lo + 1], &a[lo], (n - lo) * sizeof(*a));
	a[lo] = *p;
}

void
map_add(struct map *m, uint32_t luid, uint32_t ruid)
{
	struct map_pair p;

	if (luid == 0 || ruid == 0)
		return;
	/* A UID is never reused; a dead twin would break the order. */
	if (m->dead > 0 && (map_find(m->byl, m->n, 0, luid) != -1 ||
	    map_find(m->byr, m->n, 1, ruid) != -1))
		map_compact(m);
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->byl = eng_reallocarray(m->byl, m->cap, sizeof(*m->byl));
		m->byr = eng_reallocarray(m->byr, m->cap, sizeof(*m->byr));
	}
	p.luid = luid;
	p.ruid = ruid;
	map_insert(m->byl, m->n, 0, &p);
	map_insert(m->byr, m->n, 1, &p);
	m->n++;
}

uint32_t
map_lookup(const struct map *m, uint32_t side, uint32_t uid)
{
	ssize_t i;

	if (side == SIDE_LOCAL) {
		if ((i = map_find(m->byl, m->n, 0, uid)) == -1)
			return 0;
		return m->byl[i].ruid;
	}
	if ((i = map_find(m->byr, m->n, 1, uid)) == -1)
		return 0;
	return m->byr[i].luid;
}

uint32_t
map_del(struct map *m, uint32_t side, uint32_t uid)
{
	ssize_t i, j;
	uint32_t other;

	if ((other = map_lookup(m, side, uid)) == 0)
		return 0;
	if (side == SIDE_LOCAL) {
		i = map_find(m->byl, m->n, 0, uid);
		j = map_find(m->byr, m->n, 1, other);
	} else {
		i = map_find(m->byl, m->n, 0, other);
		j = map_find(m->byr, m->n, 1, uid);
	}
	if (i == -1 || j == -1)
		return 0;
	m->byl[i].ruid = 0;
	m->byr[j].luid = 0;
	if (++m->dead > 1024 && m->dead * 2 > m->n)
		map_compact(m);
	return other;
}

size_t
map_count(const struct map *m)
{
	return m->n - m->dead;
}

int
map_pair_cmp_luid(const void *a, const void *b)
{
	uint32_t x = ((const struct map_pair *)a)->luid;
	uint32_t y = ((const struct map_pair *)b)->luid;

	return x < y ? -1 : x > y;
}

size_t
map_lower_bound(struct map *m, uint32_t side, uint32_t uid)
{
	const struct map_pair *a;
	size_t lo = 0, hi, mid;
	int byr = side == SIDE_REMOTE;

	if (m->dead > 0)
		map_compact(m);
	a = byr ? m->byr : m->byl;
	hi = m->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (map_key(&a[mid], byr) < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct map_pair *
map_side_at(const struct map *m, uint32_t side, size_t i)
{
	return side == SIDE_REMOTE ? &m->byr[i] : &m->byl[i];
}

/*
 * The reference's sample(): walk the side's mapped UIDs from the top
 * (at most 1024), merging runs; stop once the set text passes 256 bytes
 * (the run that crossed is kept, the one just started is dropped).
 */
void
map_sample(struct map *m, uint32_t side, char **seqset, char **uidset)
{
	struct sbuf set = { NULL, 0, 0 }, run = { NULL, 0, 0 };
	const struct map_pair *a;
	uint64_t count, n = 0;
	uint32_t k, min = 0, max = 0;
	size_t i, seen = 0;
	int started = 0, stopped = 0;
	char *prev;

	*seqset = *uidset = NULL;
	if (m->dead > 0)
		map_compact(m);
	if ((count = m->n) == 0)
		return;
	a = side == SIDE_LOCAL ? m->byl : m->byr;
	for (i = m->n; i-- > 0 && seen < 1024; seen++) {
		k = map_key(&a[i], side == SIDE_REMOTE);
		if (!started) {
			started = 1;
			min = max = k;
		} else if (k == min - 1) {
			min--;
		} else {
			n += (uint64_t)max - min + 1;
			sbuf_free(&run);
			if (min == max)
				sbuf_printf(&run, "%u", min);
			else
				sbuf_printf(&run, "%u:%u", min, max);
			if (set.len > 0) {
				prev = sbuf_take(&set);
				sbuf_printf(&set, "%s,%s", sbuf_str(&run),
				    prev);
				free(prev);
			} else
				sbuf_adds(&set, sbuf_str(&run));
			min = max = k;
			if (set.len > 256) {
				stopped = 1;
				break;
			}
		}
	}
	if (!stopped) {
		n += (uint64_t)max - min + 1;
		sbuf_free(&run);
		if (min == max)
			sbuf_printf(&run, "%u", min);
		else
			sbuf_printf(&run, "%u:%u", min, max);
		if (set.len > 0) {
			prev = sbuf_take(&set);
			sbuf_printf(&set, "%s,%s", sbuf_str(&run), prev);
			free(prev);
		} else
			sbuf_adds(&set, sbuf_str(&run));
	}
	sbuf_free(&run);
	if (n > count)
		n = count;	/* impossible: a UID appears once */
	sbuf_free(&run);
	sbuf_printf(&run, "%llu:%llu", (unsigned long long)(count - n + 1),
	    (unsigned long long)count);
	*seqset = sbuf_take(&run);
	*uidset = sbuf_take(&set);
}
