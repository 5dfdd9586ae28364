/*
 * The UID mapping of the mailbox in hand (eng.h): the rows of table
 * mapping for one idx, held once, sorted by local UID, with an index of
 * their positions in remote UID order, so that both lookups are binary
 * searches at 12 bytes a row.  Rows mostly arrive in increasing order on
 * both sides, so adding is an append to both arrays; deletions only mark
 * the row (a bit set aside, so that a dead row keeps both UIDs and both
 * orders stay searchable) and a later compaction drops the marks, so a
 * mass expunge stays linear.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "log.h"
#include "proc.h"

#define MAP_WORD	64	/* bits in a word of m->dead_set */

static int	 map_is_dead(const struct map *, size_t);
static uint32_t	 map_key_at(const struct map *, int, size_t);
static size_t	 map_bound(const struct map *, int, uint32_t);
static ssize_t	 map_find(const struct map *, int, uint32_t);
static void	 map_resize(struct map *, size_t);
static void	 map_grow(struct map *);
static void	 map_compact(struct map *);

void
map_init(struct map *m)
{
	memset(m, 0, sizeof(*m));
}

void
map_free(struct map *m)
{
	free(m->pairs);
	free(m->byr);
	free(m->dead_set);
	memset(m, 0, sizeof(*m));
}

/* Whether the pair at position i of m->pairs is deleted. */
static int
map_is_dead(const struct map *m, size_t i)
{
	return m->dead_set != NULL &&
	    ((m->dead_set[i / MAP_WORD] >> (i % MAP_WORD)) & 1) != 0;
}

/* The key at position i of a side's order: byr, remote; else local. */
static uint32_t
map_key_at(const struct map *m, int byr, size_t i)
{
	return byr ? m->pairs[m->byr[i]].ruid : m->pairs[i].luid;
}

/* The first position of a side's order whose key is at least uid. */
static size_t
map_bound(const struct map *m, int byr, uint32_t uid)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (map_key_at(m, byr, mid) < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * The position in a side's order of the live or dead pair with key uid,
 * or -1.  A dead pair keeps both UIDs, so both orders stay sorted.
 */
static ssize_t
map_find(const struct map *m, int byr, uint32_t uid)
{
	size_t i;

	i = map_bound(m, byr, uid);
	if (i < m->n && map_key_at(m, byr, i) == uid)
		return (ssize_t)i;
	return -1;
}

/* Room for cap pairs (at least m->n): both arrays and the dead set. */
static void
map_resize(struct map *m, size_t cap)
{
	size_t words, old;

	m->pairs = eng_reallocarray(m->pairs, cap, sizeof(*m->pairs));
	m->byr = eng_reallocarray(m->byr, cap, sizeof(*m->byr));
	if (m->dead_set != NULL) {
		old = (m->cap + MAP_WORD - 1) / MAP_WORD;
		words = (cap + MAP_WORD - 1) / MAP_WORD;
		m->dead_set = eng_reallocarray(m->dead_set, words,
		    sizeof(*m->dead_set));
		if (words > old)
			memset(&m->dead_set[old], 0,
			    (words - old) * sizeof(*m->dead_set));
	}
	m->cap = cap;
}

/* Room for one more pair: 1.5 times as much (the slack is a third). */
static void
map_grow(struct map *m)
{
	size_t cap;

	if (m->cap >= UINT32_MAX)
		fatalx(EXIT_FAIL, "engine: more than %u UID mapping rows in "
		    "one mailbox", UINT32_MAX);
	cap = m->cap < 256 ? 256 : m->cap + m->cap / 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	map_resize(m, cap);
}

/*
 * Room for more pairs than the map holds: exactly that many, no slack,
 * when the caller knows how many are coming.  Never shrinks.
 */
void
map_reserve(struct map *m, size_t more)
{
	size_t cap;

	if (more > UINT32_MAX - m->n)
		more = UINT32_MAX - m->n;
	cap = m->n + more;
	if (cap > m->cap)
		map_resize(m, cap);
}

/*
 * Drops the dead pairs.  A live pair at position p moves down by the
 * number of dead pairs before it, counted per word of the dead set.
 */
static void
map_compact(struct map *m)
{
	uint32_t *before;
	uint64_t w;
	size_t i, j, p, words, d;

	if (m->dead == 0)
		return;
	words = (m->n + MAP_WORD - 1) / MAP_WORD;
	before = eng_reallocarray(NULL, words, sizeof(*before));
	for (i = d = 0; i < words; i++) {
		before[i] = (uint32_t)d;
		d += (size_t)__builtin_popcountll(m->dead_set[i]);
	}
	for (i = j = 0; i < m->n; i++) {
		p = m->byr[i];
		if (map_is_dead(m, p))
			continue;
		w = m->dead_set[p / MAP_WORD] &
		    ((UINT64_C(1) << (p % MAP_WORD)) - 1);
		m->byr[j++] = (uint32_t)(p - before[p / MAP_WORD] -
		    (size_t)__builtin_popcountll(w));
	}
	for (i = j = 0; i < m->n; i++)
		if (!map_is_dead(m, i))
			m->pairs[j++] = m->pairs[i];
	free(before);
	free(m->dead_set);
	m->dead_set = NULL;
	m->n = j;
	m->dead = 0;
}

void
map_add(struct map *m, uint32_t luid, uint32_t ruid)
{
	size_t i, k;

	if (luid == 0 || ruid == 0)
		return;
	/* A UID is never reused; a dead twin would break the order. */
	if (m->dead > 0 && (map_find(m, 0, luid) != -1 ||
	    map_find(m, 1, ruid) != -1))
		map_compact(m);
	if (m->n == m->cap)
		map_grow(m);
	/* By local UID: mostly an append. */
	if (m->n == 0 || m->pairs[m->n - 1].luid < luid)
		i = m->n;
	else {
		/* Positions move: the dead set would have to follow. */
		map_compact(m);
		i = map_bound(m, 0, luid);
		memmove(&m->pairs[i + 1], &m->pairs[i],
		    (m->n - i) * sizeof(*m->pairs));
		for (k = 0; k < m->n; k++)
			if (m->byr[k] >= i)
				m->byr[k]++;
	}
	m->pairs[i].luid = luid;
	m->pairs[i].ruid = ruid;
	/* By remote UID, the index; the new pair is not in it yet. */
	if (m->n == 0 || map_key_at(m, 1, m->n - 1) < ruid)
		k = m->n;
	else {
		k = map_bound(m, 1, ruid);
		memmove(&m->byr[k + 1], &m->byr[k],
		    (m->n - k) * sizeof(*m->byr));
	}
	m->byr[k] = (uint32_t)i;
	m->n++;
}

uint32_t
map_lookup(const struct map *m, uint32_t side, uint32_t uid)
{
	ssize_t i;
	size_t p;

	if ((i = map_find(m, side == SIDE_REMOTE, uid)) == -1)
		return 0;
	p = side == SIDE_REMOTE ? m->byr[i] : (size_t)i;
	if (map_is_dead(m, p))
		return 0;
	return side == SIDE_REMOTE ? m->pairs[p].luid : m->pairs[p].ruid;
}

uint32_t
map_del(struct map *m, uint32_t side, uint32_t uid)
{
	ssize_t i;
	size_t p;
	uint32_t other;

	if ((i = map_find(m, side == SIDE_REMOTE, uid)) == -1)
		return 0;
	p = side == SIDE_REMOTE ? m->byr[i] : (size_t)i;
	if (map_is_dead(m, p))
		return 0;
	other = side == SIDE_REMOTE ? m->pairs[p].luid : m->pairs[p].ruid;
	if (m->dead_set == NULL)
		m->dead_set = eng_calloc((m->cap + MAP_WORD - 1) / MAP_WORD,
		    sizeof(*m->dead_set));
	m->dead_set[p / MAP_WORD] |= UINT64_C(1) << (p % MAP_WORD);
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
	map_compact(m);
	return map_bound(m, side == SIDE_REMOTE, uid);
}

const struct map_pair *
map_side_at(const struct map *m, uint32_t side, size_t i)
{
	return side == SIDE_REMOTE ? &m->pairs[m->byr[i]] : &m->pairs[i];
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
	uint64_t count, n = 0;
	uint32_t k, min = 0, max = 0;
	size_t i, seen = 0;
	int started = 0, stopped = 0;
	char *prev;

	*seqset = *uidset = NULL;
	map_compact(m);
	if ((count = m->n) == 0)
		return;
	for (i = m->n; i-- > 0 && seen < 1024; seen++) {
		k = map_key_at(m, side == SIDE_REMOTE, i);
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
