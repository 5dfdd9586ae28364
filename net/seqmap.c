/*
 * Message sequence numbers -> UIDs of the selected mailbox (seqmap.h).
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proc.h"
#include "seqmap.h"

#define SEQMAP_DEAD	UINT32_MAX
#define SEQMAP_GAP	65536	/* unknown entries made to learn one UID */
#define SEQMAP_SLACK	4096	/* dead entries kept before compacting */
#define SEQMAP_LOOK	64	/* entries looked at for the order check */

void
seqmap_init(struct seqmap *m)
{
	memset(m, 0, sizeof(*m));
}

void
seqmap_free(struct seqmap *m)
{
	free(m->uid);
	free(m->tree);
	memset(m, 0, sizeof(*m));
}

void
seqmap_clear(struct seqmap *m)
{
	seqmap_free(m);
}

/* The tree of the entries' live marks, built in O(n). */
static void
seqmap_build(struct seqmap *m)
{
	size_t i, j;

	for (i = 1; i <= m->cap; i++)
		m->tree[i] = i <= m->n && m->uid[i - 1] != SEQMAP_DEAD;
	for (i = 1; i <= m->cap; i++) {
		j = i + (i & -i);
		if (j <= m->cap)
			m->tree[j] += m->tree[i];
	}
}

static void
seqmap_reserve(struct seqmap *m, size_t want)
{
	uint32_t *u, *t;
	size_t cap;

	if (want <= m->cap)
		return;
	cap = m->cap ? m->cap : 256;
	while (cap < want)
		cap *= 2;
	if ((u = reallocarray(m->uid, cap, sizeof(*u))) == NULL ||
	    (m->uid = u, t = reallocarray(m->tree, cap + 1,
	    sizeof(*t))) == NULL)
		fatalx(EXIT_FAIL, "out of memory");
	m->tree = t;
	m->cap = cap;
	seqmap_build(m);
}

/* Drops the dead entries. */
static void
seqmap_compact(struct seqmap *m)
{
	size_t i, j = 0;

	for (i = 0; i < m->n; i++)
		if (m->uid[i] != SEQMAP_DEAD)
			m->uid[j++] = m->uid[i];
	m->n = j;
	m->dead = 0;
	seqmap_build(m);
}

/* The index of the k-th live entry (1 <= k <= live). */
static size_t
seqmap_find(const struct seqmap *m, size_t k)
{
	size_t pos = 0, step = 1;

	while (step * 2 <= m->cap)
		step *= 2;
	for (; step > 0; step /= 2)
		if (pos + step <= m->cap && m->tree[pos + step] < k) {
			pos += step;
			k -= m->tree[pos];
		}
	return pos;		/* 0-based: the entry at tree index pos + 1 */
}

static void
seqmap_mark(struct seqmap *m, size_t idx, int delta)
{
	size_t i;

	for (i = idx + 1; i <= m->cap; i += i & -i)
		m->tree[i] += delta;
}

/* Appends one live entry (room reserved). */
static void
seqmap_push(struct seqmap *m, uint32_t uid)
{
	m->uid[m->n] = uid;
	seqmap_mark(m, m->n, 1);
	m->n++;
	m->live++;
}

int
seqmap_set(struct seqmap *m, const uint32_t *uids, size_t n, uint32_t tail)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (uids[i] == 0 || uids[i] == SEQMAP_DEAD ||
		    (i > 0 && uids[i] <= uids[i - 1]))
			return -1;
	if ((uint64_t)n + tail > UINT32_MAX)
		return -1;
	m->n = m->live = m->dead = 0;
	m->tail = 0;
	seqmap_reserve(m, n);
	if (n > 0)
		memcpy(m->uid, uids, n * sizeof(*uids));
	m->n = m->live = n;
	seqmap_build(m);
	m->tail = tail;
	return 0;
}

uint64_t
seqmap_count(const struct seqmap *m)
{
	return (uint64_t)m->live + m->tail;
}

int
seqmap_exists(struct seqmap *m, uint32_t count)
{
	if (count < seqmap_count(m))
		return -1;
	m->tail += (uint32_t)(count - seqmap_count(m));
	return 0;
}

int64_t
seqmap_uid(const struct seqmap *m, uint32_t seq)
{
	if (seq == 0 || seq > seqmap_count(m))
		return -1;
	if (seq > m->live)
		return 0;
	return m->uid[seqmap_find(m, seq)];
}

/*
 * The UID of the nearest known live entry before idx, looking at most
 * SEQMAP_LOOK entries back (0: none there), so that learning a long run
 * of unknown UIDs stays linear.  The order check is a sanity check: a
 * server that lies about UIDs can as well lie about which are gone.
 */
static uint32_t
seqmap_known_before(const struct seqmap *m, size_t idx)
{
	size_t look = 0;

	while (idx-- > 0 && look++ < SEQMAP_LOOK)
		if (m->uid[idx] != SEQMAP_DEAD && m->uid[idx] != 0)
			return m->uid[idx];
	return 0;
}

int
seqmap_learn(struct seqmap *m, uint32_t seq, uint32_t uid)
{
	size_t idx, i, gap;

	if (seq == 0 || seq > seqmap_count(m) || uid == 0 ||
	    uid == SEQMAP_DEAD)
		return -1;
	if (seq <= m->live) {
		idx = seqmap_find(m, seq);
		if (m->uid[idx] != 0)
			return m->uid[idx] == uid ? 0 : -1;
		if (seqmap_known_before(m, idx) >= uid)
			return -1;
		for (i = idx + 1; i < m->n && i <= idx + SEQMAP_LOOK; i++)
			if (m->uid[i] != SEQMAP_DEAD && m->uid[i] != 0) {
				if (m->uid[i] <= uid)
					return -1;
				break;
			}
		m->uid[idx] = uid;
		return 0;
	}
	gap = seq - m->live;
	if (gap > SEQMAP_GAP)
		return 0;	/* stays unknown */
	if (seqmap_known_before(m, m->n) >= uid)
		return -1;
	seqmap_reserve(m, m->n + gap);
	for (i = 1; i < gap; i++)
		seqmap_push(m, 0);
	seqmap_push(m, uid);
	m->tail -= (uint32_t)gap;
	return 0;
}

int64_t
seqmap_expunge(struct seqmap *m, uint32_t seq)
{
	size_t idx;
	uint32_t uid;

	if (seq == 0 || seq > seqmap_count(m))
		return -1;
	if (seq > m->live) {
		m->tail--;
		return 0;
	}
	idx = seqmap_find(m, seq);
	uid = m->uid[idx];
	m->uid[idx] = SEQMAP_DEAD;
	seqmap_mark(m, idx, -1);
	m->live--;
	if (++m->dead > SEQMAP_SLACK && m->dead > m->live)
		seqmap_compact(m);
	return uid;
}
