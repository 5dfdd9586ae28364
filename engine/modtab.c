/*
 * The MODIFIED table of the selected mailbox: uid -> (modseq, flags),
 * an open-addressing hash with linear probing (eng.h).  It holds the
 * flag changes the server reported and not yet pulled; its size follows
 * the changes in flight, not the mailbox.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"

static size_t	 modtab_slot(const struct modtab *, uint32_t);
static void	 modtab_grow(struct modtab *);
static int	 modent_cmp(const void *, const void *);

static size_t
modtab_slot(const struct modtab *m, uint32_t uid)
{
	/* Fibonacci hashing: UIDs are dense, spread them. */
	return (size_t)((uid * 2654435761U) & (uint32_t)(m->cap - 1));
}

static void
modtab_grow(struct modtab *m)
{
	struct modent *old = m->t;
	size_t oldcap = m->cap, i, j;

	m->cap = oldcap ? oldcap * 2 : 64;
	m->t = eng_calloc(m->cap, sizeof(*m->t));
	for (i = 0; i < oldcap; i++) {
		if (old[i].uid == 0)
			continue;
		j = modtab_slot(m, old[i].uid);
		while (m->t[j].uid != 0)
			j = (j + 1) & (m->cap - 1);
		m->t[j] = old[i];
	}
	free(old);
}

struct modent *
modtab_get(struct modtab *m, uint32_t uid)
{
	size_t j;

	if (m->cap == 0 || uid == 0)
		return NULL;
	for (j = modtab_slot(m, uid); m->t[j].uid != 0;
	    j = (j + 1) & (m->cap - 1))
		if (m->t[j].uid == uid)
			return &m->t[j];
	return NULL;
}

void
modtab_put(struct modtab *m, uint32_t uid, uint64_t modseq, char *flags)
{
	struct modent *e;
	size_t j;

	if ((e = modtab_get(m, uid)) != NULL) {
		free(e->flags);
		e->modseq = modseq;
		e->flags = flags;
		return;
	}
	if ((m->n + 1) * 4 > m->cap * 3)
		modtab_grow(m);
	j = modtab_slot(m, uid);
	while (m->t[j].uid != 0)
		j = (j + 1) & (m->cap - 1);
	m->t[j].uid = uid;
	m->t[j].modseq = modseq;
	m->t[j].flags = flags;
	m->n++;
}

void
modtab_del(struct modtab *m, uint32_t uid)
{
	struct modent *e;
	size_t i, j, k;

	if ((e = modtab_get(m, uid)) == NULL)
		return;
	free(e->flags);
	i = (size_t)(e - m->t);
	m->t[i].uid = 0;
	m->t[i].flags = NULL;
	m->n--;
	/* Backward-shift the cluster that follows so probes still work. */
	for (j = (i + 1) & (m->cap - 1); m->t[j].uid != 0;
	    j = (j + 1) & (m->cap - 1)) {
		k = modtab_slot(m, m->t[j].uid);
		/* Leave it if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		m->t[i] = m->t[j];
		m->t[j].uid = 0;
		m->t[j].flags = NULL;
		i = j;
	}
}

void
modtab_clear(struct modtab *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		free(m->t[i].flags);
		m->t[i].flags = NULL;
		m->t[i].uid = 0;
	}
	m->n = 0;
}

void
modtab_free(struct modtab *m)
{
	modtab_clear(m);
	free(m->t);
	m->t = NULL;
	m->cap = 0;
}

static int
modent_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct modent *)a)->uid;
	uint32_t y = ((const struct modent *)b)->uid;

	return x < y ? -1 : x > y;
}

struct modent *
modtab_drain(struct modtab *m, size_t *n)
{
	struct modent *out;
	size_t i, k = 0;

	out = eng_calloc(m->n, sizeof(*out));
	for (i = 0; i < m->cap; i++) {
		if (m->t[i].uid == 0)
			continue;
		out[k++] = m->t[i];
		m->t[i].uid = 0;
		m->t[i].flags = NULL;
	}
	m->n = 0;
	eng_sort(out, k, sizeof(*out), modent_cmp);
	*n = k;
	return out;
}
