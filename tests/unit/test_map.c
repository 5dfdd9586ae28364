/*
 * The UID mapping (engine/map.c) against a brute-force model: random
 * adds (appends on both sides, out of order on either or both, UIDs of
 * deleted pairs again), room reserved, deletions by either side, lookups
 * by either side, walks of either side from map_lower_bound() and the
 * QRESYNC sample, thousands of operations from a fixed seed; then a mass
 * deletion that goes through the compaction many times, UIDs at the top
 * of the 32-bit range, and the room map_reserve() makes: exact, kept
 * while the pairs come, the dead pairs' marks carried over.
 *
 * The model: l2r[] and r2l[] indexed by UID (0: not mapped), the walks
 * and the sample read them in order.  Each kind of check is reported
 * once, with its count and the first disagreement.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "proc.h"
#include "tap.h"

#define UMAX	(1U << 17)	/* UIDs of the model: 1 .. UMAX - 1 */
#define NOPS	30000

static uint32_t	 l2r[UMAX], r2l[UMAX];
static uint32_t	 top[2];	/* the highest UID used on each side */
static size_t	 live;
static uint64_t	 rng = 0x9e3779b97f4a7c15ULL;

struct tally {
	const char	*what;
	unsigned long	 n, bad;
	char		 first[160];
};

enum { C_COUNT, C_LOOKUP, C_DEL, C_WALK, C_SAMPLE, C_MAX };
static struct tally checks[C_MAX] = {
	{ "map_count() equals the model's count", 0, 0, "" },
	{ "lookups by either side agree with the model", 0, 0, "" },
	{ "deletions by either side return the model's partner", 0, 0, "" },
	{ "walks from map_lower_bound() list the model's pairs in order",
	    0, 0, "" },
	{ "the sample equals the model's", 0, 0, "" },
};

static void	 check(int, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
check(int kind, int ok, const char *fmt, ...)
{
	struct tally *c = &checks[kind];
	va_list ap;

	c->n++;
	if (ok)
		return;
	if (c->bad++ == 0) {
		va_start(ap, fmt);
		vsnprintf(c->first, sizeof(c->first), fmt, ap);
		va_end(ap);
	}
}

/* xorshift64*: the same sequence on every libc. */
static uint32_t
rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

static uint32_t *
model(uint32_t side)
{
	return side == SIDE_LOCAL ? l2r : r2l;
}

/* A UID of side not mapped now, below the top if possible (0: none). */
static uint32_t
unused_below(uint32_t side)
{
	uint32_t u, tries;

	for (tries = 0; tries < 64 && top[side] > 1; tries++) {
		u = 1 + rnd(top[side]);
		if (model(side)[u] == 0)
			return u;
	}
	return 0;
}

/* The next UID of side above every one used (0: the model is full). */
static uint32_t
append_uid(uint32_t side)
{
	uint32_t u = top[side] + 1 + rnd(3);

	return u < UMAX ? u : 0;
}

static void
add(struct map *m, uint32_t l, uint32_t r)
{
	if (l == 0 || r == 0 || l2r[l] != 0 || r2l[r] != 0)
		return;
	map_add(m, l, r);
	l2r[l] = r;
	r2l[r] = l;
	if (l > top[SIDE_LOCAL])
		top[SIDE_LOCAL] = l;
	if (r > top[SIDE_REMOTE])
		top[SIDE_REMOTE] = r;
	live++;
}

static void
del(struct map *m, uint32_t side, uint32_t u)
{
	uint32_t want, got;

	want = u < UMAX ? model(side)[u] : 0;
	got = map_del(m, side, u);
	check(C_DEL, got == want, "map_del(%s, %u): got %u, want %u",
	    side == SIDE_LOCAL ? "local" : "remote", u, got, want);
	if (want != 0) {
		model(side)[u] = 0;
		model(OTHER(side))[want] = 0;
		live--;
	}
}

static void
lookup(const struct map *m, uint32_t side, uint32_t u)
{
	uint32_t got, want = u < UMAX ? model(side)[u] : 0;

	got = map_lookup(m, side, u);
	check(C_LOOKUP, got == want, "map_lookup(%s, %u): got %u, want %u",
	    side == SIDE_LOCAL ? "local" : "remote", u, got, want);
}

/* The live pairs of side with that side's UID in [lo, hi], in order. */
static void
walk(struct map *m, uint32_t side, uint32_t lo, uint32_t hi)
{
	const struct map_pair *p;
	size_t i, n;
	uint32_t u, want, partner;

	i = map_lower_bound(m, side, lo);
	n = map_count(m);
	want = lo;
	for (;;) {
		while (want <= hi && want < UMAX && model(side)[want] == 0)
			want++;
		if (want > hi || want >= UMAX) {
			/* The next pair, if any, lies above hi. */
			if (i < n) {
				p = map_side_at(m, side, i);
				u = side == SIDE_LOCAL ? p->luid : p->ruid;
				check(C_WALK, u > hi, "walk %u:%u: %u at "
				    "%zu after the last one", lo, hi, u, i);
			}
			return;
		}
		if (i >= n) {
			check(C_WALK, 0, "walk %u:%u: ends at %zu, %u "
			    "missing", lo, hi, i, want);
			return;
		}
		p = map_side_at(m, side, i);
		u = side == SIDE_LOCAL ? p->luid : p->ruid;
		partner = side == SIDE_LOCAL ? p->ruid : p->luid;
		check(C_WALK, u == want && partner == model(side)[want],
		    "walk %s %u:%u at %zu: got (%u,%u), want (%u,%u)",
		    side == SIDE_LOCAL ? "local" : "remote", lo, hi, i, u,
		    partner, want, model(side)[want]);
		if (u != want)
			return;
		i++;
		want++;
	}
}

/*
 * The reference's sample, from the model: the runs of the side's top
 * 1024 UIDs, from the top; the set stops once its text passes 256 bytes
 * (the run that crossed stays, the next one is dropped).
 */
static void
model_sample(uint32_t side, char *seq, size_t seqsz, char *set,
    size_t setsz)
{
	uint32_t lo[1024], hi[1024], u;
	size_t nruns = 0, seen = 0, len = 0, kept, i, off;
	unsigned long long n = 0;
	char run[32];

	for (u = UMAX - 1; u > 0 && seen < 1024; u--) {
		if (model(side)[u] == 0)
			continue;
		seen++;
		if (nruns > 0 && lo[nruns - 1] == u + 1)
			lo[nruns - 1] = u;
		else {
			lo[nruns] = hi[nruns] = u;
			nruns++;
		}
	}
	/* Runs kept: up to the first whose text takes the set past 256. */
	for (kept = 0; kept < nruns; kept++) {
		if (kept > 0 && len > 256)
			break;
		if (lo[kept] == hi[kept])
			len += (size_t)snprintf(run, sizeof(run), "%u",
			    lo[kept]);
		else
			len += (size_t)snprintf(run, sizeof(run), "%u:%u",
			    lo[kept], hi[kept]);
		if (kept > 0)
			len++;
	}
	off = 0;
	set[0] = '\0';
	for (i = kept; i-- > 0;) {
		n += hi[i] - lo[i] + 1;
		if (lo[i] == hi[i])
			off += (size_t)snprintf(set + off, setsz - off,
			    "%s%u", off ? "," : "", lo[i]);
		else
			off += (size_t)snprintf(set + off, setsz - off,
			    "%s%u:%u", off ? "," : "", lo[i], hi[i]);
	}
	snprintf(seq, seqsz, "%llu:%llu", (unsigned long long)live - n + 1,
	    (unsigned long long)live);
}

static void
sample(struct map *m, uint32_t side)
{
	char wseq[64], wset[2048], *seq, *set;

	map_sample(m, side, &seq, &set);
	if (live == 0) {
		check(C_SAMPLE, seq == NULL && set == NULL, "%s sample of "
		    "nothing: got %s", side == SIDE_LOCAL ? "local" :
		    "remote", seq ? seq : "(null)");
		return;
	}
	model_sample(side, wseq, sizeof(wseq), wset, sizeof(wset));
	check(C_SAMPLE, seq != NULL && set != NULL && strcmp(seq, wseq) == 0 &&
	    strcmp(set, wset) == 0, "%s sample: got %s %.40s, want %s %.40s",
	    side == SIDE_LOCAL ? "local" : "remote", seq ? seq : "(null)",
	    set ? set : "(null)", wseq, wset);
	free(seq);
	free(set);
}

/* The first UID of side mapped from u up, wrapping (0: none). */
static uint32_t
next_live(uint32_t side, uint32_t u)
{
	uint32_t i;

	for (i = 0; i < UMAX; i++, u = u + 1 < UMAX ? u + 1 : 1)
		if (u > 0 && model(side)[u] != 0)
			return u;
	return 0;
}

/* A UID of side: mapped now (mostly) or any below the top. */
static uint32_t
some_uid(uint32_t side)
{
	uint32_t u, tries;

	if (top[side] == 0)
		return 1;
	for (tries = 0; tries < 8; tries++) {
		u = 1 + rnd(top[side] + 2);
		if (u < UMAX && model(side)[u] != 0)
			return u;
	}
	return 1 + rnd(top[side] + 2);
}

static void
one_op(struct map *m)
{
	uint32_t side = rnd(2) ? SIDE_REMOTE : SIDE_LOCAL, lo, x = rnd(100);

	if (x < 40) {		/* the common case: appends on both sides */
		if (x == 0)	/* room made first, with or without dead pairs */
			map_reserve(m, rnd(300));
		add(m, append_uid(SIDE_LOCAL), append_uid(SIDE_REMOTE));
	}
	else if (x < 45)	/* out of order on the remote side */
		add(m, append_uid(SIDE_LOCAL), unused_below(SIDE_REMOTE));
	else if (x < 50)	/* out of order on the local side */
		add(m, unused_below(SIDE_LOCAL), append_uid(SIDE_REMOTE));
	else if (x < 53)	/* both */
		add(m, unused_below(SIDE_LOCAL), unused_below(SIDE_REMOTE));
	else if (x < 75)
		del(m, side, some_uid(side));
	else if (x < 95)
		lookup(m, side, some_uid(side));
	else if (x < 99) {
		lo = some_uid(side);
		walk(m, side, lo, lo + rnd(rnd(2) ? 50 : 3000));
	} else
		sample(m, side);
	check(C_COUNT, map_count(m) == live, "map_count(): got %zu, want "
	    "%zu", map_count(m), live);
}

static void
test_random(void)
{
	struct map m;
	uint32_t i, u, side;

	map_init(&m);
	sample(&m, SIDE_LOCAL);
	walk(&m, SIDE_REMOTE, 0, UINT32_MAX);
	for (i = 0; i < NOPS; i++) {
		one_op(&m);
		if (i % 2000 == 1999)
			for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
				walk(&m, side, 0, UINT32_MAX);
				sample(&m, side);
			}
	}
	/*
	 * A mass expunge, by either side in turn, in a random order: many
	 * compactions, with lookups of both sides between deletions.
	 */
	for (i = 0; i < 6000; i++)
		add(&m, append_uid(SIDE_LOCAL), append_uid(SIDE_REMOTE));
	OK(live > 6000, "%zu pairs before the mass deletion", live);
	for (i = 0; live > 200; i++) {
		side = i % 2 ? SIDE_REMOTE : SIDE_LOCAL;
		u = next_live(side, 1 + rnd(top[side]));
		del(&m, side, u);
		if (i % 7 == 0)
			lookup(&m, OTHER(side), some_uid(OTHER(side)));
		if (i % 5 == 0)
			lookup(&m, side, u);
	}
	OK(live == 200, "deleted down to %zu pairs", live);
	/*
	 * Adds below the top while deleted pairs wait for the compaction,
	 * some of them on the UIDs of those pairs.
	 */
	for (i = 0; i < 1500; i++)
		add(&m, append_uid(SIDE_LOCAL), append_uid(SIDE_REMOTE));
	for (i = 0; i < 1100; i++)
		del(&m, i % 2 ? SIDE_REMOTE : SIDE_LOCAL,
		    some_uid(i % 2 ? SIDE_REMOTE : SIDE_LOCAL));
	for (i = 0; i < 300; i++)
		add(&m, unused_below(SIDE_LOCAL), unused_below(SIDE_REMOTE));
	for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
		walk(&m, side, 0, UINT32_MAX);
		sample(&m, side);
		for (u = 1; u <= top[side] + 1; u++)
			lookup(&m, side, u);
	}
	check(C_COUNT, map_count(&m) == live, "map_count(): got %zu, want "
	    "%zu", map_count(&m), live);
	map_free(&m);
}

/* UIDs at the top of the 32-bit range, and a walk to there. */
static void
test_top(void)
{
	const struct map_pair *p;
	struct map m;
	char *seq, *set;
	size_t i;

	map_init(&m);
	map_add(&m, UINT32_MAX - 1, 5);
	map_add(&m, UINT32_MAX, 3);
	map_add(&m, 7, UINT32_MAX);
	IS_INT(map_lookup(&m, SIDE_LOCAL, UINT32_MAX), 3, "lookup local top");
	IS_INT(map_lookup(&m, SIDE_REMOTE, UINT32_MAX), 7,
	    "lookup remote top");
	i = map_lower_bound(&m, SIDE_REMOTE, 4);
	IS_INT(i, 1, "lower bound of remote 4");
	p = map_side_at(&m, SIDE_REMOTE, i);
	OK(p->ruid == 5 && p->luid == UINT32_MAX - 1, "remote 4.. starts "
	    "at (%u,%u)", p->luid, p->ruid);
	p = map_side_at(&m, SIDE_REMOTE, 2);
	OK(p->ruid == UINT32_MAX && p->luid == 7, "remote walk ends at "
	    "(%u,%u)", p->luid, p->ruid);
	IS_INT(map_lower_bound(&m, SIDE_LOCAL, UINT32_MAX), 2,
	    "lower bound of local top");
	map_sample(&m, SIDE_LOCAL, &seq, &set);
	IS_STR(seq, "1:3", "sample seqset at the top");
	IS_STR(set, "7,4294967294:4294967295", "sample uidset at the top");
	free(seq);
	free(set);
	IS_INT(map_del(&m, SIDE_LOCAL, UINT32_MAX), 3, "delete local top");
	IS_INT(map_lookup(&m, SIDE_REMOTE, 3), 0, "deleted at the top");
	IS_INT(map_lower_bound(&m, SIDE_REMOTE, 0), 0, "lower bound of 0");
	IS_INT(map_count(&m), 2, "two left");
	map_free(&m);
}

/*
 * map_reserve(): exactly the room asked for, no growth while the pairs
 * come, never a shrink; deleted pairs beyond the old room are marked and
 * found dead.
 */
static void
test_reserve(void)
{
	struct map m;
	uint32_t i, bad;

	map_init(&m);
	map_reserve(&m, 100000);
	IS_INT(m.cap, 100000, "room for 100000 pairs, exactly");
	for (i = 1; i <= 100000; i++)
		map_add(&m, i, i + 7);
	IS_INT(m.cap, 100000, "100000 pairs added: the room did not grow");
	IS_INT(map_count(&m), 100000, "100000 pairs");
	map_reserve(&m, 0);
	map_reserve(&m, 0);
	IS_INT(m.cap, 100000, "no more room asked: none made");
	/* Dead pairs, then room beyond them. */
	for (i = 1; i <= 100; i++)
		(void)map_del(&m, SIDE_LOCAL, i * 3);
	map_reserve(&m, 50);
	IS_INT(m.cap, 100050, "room for 50 more, dead pairs included");
	for (i = 100001; i <= 100050; i++)
		map_add(&m, i, i + 7);
	IS_INT(m.cap, 100050, "50 more added: the room did not grow");
	IS_INT(map_del(&m, SIDE_REMOTE, 100050 + 7), 100050,
	    "a pair beyond the old room deleted");
	IS_INT(map_lookup(&m, SIDE_LOCAL, 100050), 0,
	    "... and found dead");
	for (i = 1, bad = 0; i <= 100049; i++)
		if (map_lookup(&m, SIDE_LOCAL, i) != (i % 3 == 0 && i <= 300 ?
		    0 : i + 7))
			bad++;
	IS_INT(bad, 0, "every other pair found as it should");
	IS_INT(map_count(&m), 100050 - 101, "count after the deletions");
	map_add(&m, 200000, 200007);
	OK(m.cap > 100050, "one pair beyond the room grows it (%zu)", m.cap);
	map_free(&m);
}

int
main(void)
{
	int i;

	test_random();
	for (i = 0; i < C_MAX; i++)
		OK(checks[i].bad == 0, "%s (%lu checks, %lu wrong%s%s)",
		    checks[i].what, checks[i].n, checks[i].bad,
		    checks[i].bad ? "; first: " : "", checks[i].first);
	test_top();
	test_reserve();
	return tap_done();
}
