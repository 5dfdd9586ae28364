/*
 * net/seqmap.c against a plain array: random EXISTS, EXPUNGE, FETCH
 * (learning UIDs) and lookups, with compaction and growth on the way,
 * then the edges a hostile server reaches.
 */
#include <stdint.h>
#include <stdlib.h>

#include "seqmap.h"
#include "tap.h"

/* The model: uid per message in order, 0 unknown. */
static uint32_t	*model;
static size_t	 mn;

static uint32_t
rnd(uint32_t n)
{
	return (uint32_t)(random() % n);
}

static int
agrees(const struct seqmap *m)
{
	size_t i;

	if (seqmap_count(m) != mn)
		return 0;
	for (i = 0; i < mn; i++)
		if (seqmap_uid(m, (uint32_t)i + 1) != model[i])
			return 0;
	return seqmap_uid(m, (uint32_t)mn + 1) == -1 &&
	    seqmap_uid(m, 0) == -1;
}

static void
random_walk(void)
{
	struct seqmap m;
	uint32_t next = 1, seq, *init;
	size_t i, n0 = 5000, bad = 0, ops;
	int64_t got;

	seqmap_init(&m);
	model = calloc(1 << 20, sizeof(*model));
	init = calloc(n0, sizeof(*init));
	/* A mailbox with holes. */
	for (i = 0; i < n0; i++) {
		next += 1 + rnd(3);
		init[i] = model[i] = next;
	}
	mn = n0;
	OK(seqmap_set(&m, init, n0, 0) == 0, "set %zu UIDs", n0);
	OK(agrees(&m), "the map agrees after set");
	for (ops = 0; ops < 40000; ops++) {
		switch (rnd(10)) {
		case 0:	/* new messages */
			i = rnd(50);
			if (seqmap_exists(&m, (uint32_t)(mn + i)) != 0)
				bad++;
			while (i-- > 0)
				model[mn++] = 0;
			break;
		case 1:	case 2: case 3: /* a UID learnt from a FETCH */
			if (mn == 0)
				break;
			seq = 1 + rnd((uint32_t)mn);
			if (model[seq - 1] != 0) {
				if (seqmap_learn(&m, seq, model[seq - 1]) != 0)
					bad++;
				if (seqmap_learn(&m, seq, model[seq - 1] + 1)
				    != -1)
					bad++;
				break;
			}
			/* Only in order: every unknown one before is new. */
			for (i = seq - 1; i > 0 && model[i - 1] == 0; i--)
				;
			if (i != seq - 1)
				break;
			next += 1 + rnd(2);
			if (seqmap_learn(&m, seq, next) != 0)
				bad++;
			model[seq - 1] = next;
			break;
		default: /* an expunge */
			if (mn == 0)
				break;
			seq = 1 + rnd((uint32_t)mn);
			got = seqmap_expunge(&m, seq);
			if (got != model[seq - 1])
				bad++;
			for (i = seq - 1; i + 1 < mn; i++)
				model[i] = model[i + 1];
			mn--;
			break;
		}
		if (ops % 997 == 0 && !agrees(&m))
			bad++;
		/* Refill now and then: growth, then a mass expunge again. */
		if (mn < 100) {
			seqmap_exists(&m, (uint32_t)mn + 20000);
			for (i = 0; i < 20000; i++)
				model[mn++] = 0;
		}
	}
	IS_INT(bad, 0, "40,000 random operations match the model");
	OK(agrees(&m), "the map agrees at the end (%zu messages)", mn);
	seqmap_free(&m);
	free(init);
	free(model);
}

static void
edges(void)
{
	struct seqmap m;
	uint32_t u[] = { 3, 7, 9 }, bad_order[] = { 3, 3 };

	seqmap_init(&m);
	IS_INT(seqmap_count(&m), 0, "empty");
	IS_INT(seqmap_expunge(&m, 1), -1, "EXPUNGE of no message");
	IS_INT(seqmap_learn(&m, 1, 5), -1, "FETCH of no message");
	OK(seqmap_set(&m, bad_order, 2, 0) == -1, "UIDs not increasing");
	OK(seqmap_set(&m, u, 3, 2) == 0, "three known, two unknown");
	IS_INT(seqmap_count(&m), 5, "count");
	IS_INT(seqmap_uid(&m, 2), 7, "seq 2");
	IS_INT(seqmap_uid(&m, 5), 0, "seq 5 unknown");
	IS_INT(seqmap_exists(&m, 4), -1, "EXISTS cannot shrink");
	IS_INT(seqmap_learn(&m, 4, 9), -1, "a new message below the last");
	IS_INT(seqmap_learn(&m, 5, 12), 0, "seq 5 is UID 12");
	IS_INT(seqmap_learn(&m, 4, 13), -1, "seq 4 above seq 5");
	IS_INT(seqmap_learn(&m, 4, 10), 0, "seq 4 is UID 10");
	IS_INT(seqmap_expunge(&m, 2), 7, "EXPUNGE 2 is UID 7");
	IS_INT(seqmap_uid(&m, 2), 9, "seq 2 is now UID 9");
	/* A hostile count costs no memory; a far UID stays unknown. */
	IS_INT(seqmap_exists(&m, 4000000000U), 0, "EXISTS 4000000000");
	IS_INT(seqmap_learn(&m, 3999999999U, 20), 0, "far into the tail");
	IS_INT(seqmap_uid(&m, 3999999999U), 0, "... and unknown");
	OK(m.cap < 1024, "no entries were made for it");
	IS_INT(seqmap_expunge(&m, 4000000000U), 0, "the last one goes");
	IS_INT(seqmap_count(&m), 3999999999U, "count");
	seqmap_clear(&m);
	IS_INT(seqmap_count(&m), 0, "cleared");
	seqmap_free(&m);
}

/*
 * 50,000 new messages whose UIDs come last first (a server answering a
 * FETCH in an odd order): the last one makes the entries, the others
 * fill them, each order check looking at a few neighbours only.
 */
static void
reverse_fill(void)
{
	struct seqmap m;
	uint32_t u[] = { 10 }, seq, bad = 0;

	seqmap_init(&m);
	OK(seqmap_set(&m, u, 1, 50000) == 0, "one known, 50,000 new");
	for (seq = 50001; seq >= 2; seq--)
		if (seqmap_learn(&m, seq, 100 + seq) != 0)
			bad++;
	IS_INT(bad, 0, "learnt from the last to the first");
	for (seq = 2; seq <= 50001; seq++)
		if (seqmap_uid(&m, seq) != 100 + seq)
			bad++;
	IS_INT(bad, 0, "every UID in place");
	IS_INT(seqmap_learn(&m, 3, 200000), -1,
	    "a UID above its next neighbour is refused");
	seqmap_free(&m);
}

int
main(void)
{
	srandom(7);
	random_walk();
	edges();
	reverse_fill();
	return tap_done();
}
