/*
 * xfer_new_range() (engine/xfer.c), the UIDs a pass of new messages
 * asks for, against a brute-force model: from the last synced UIDNEXT
 * up, every UID neither mapped nor on the ignore list, as the runs
 * between them and a last run to 4294967295.  Random mappings (with
 * deleted pairs), ignore lists (unsorted, with duplicates, some of them
 * mapped UIDs too, some below UIDNEXT) and UIDNEXTs from a fixed seed,
 * on either side; then the mapping of a whole first sync (every UID
 * mapped, none to fetch) and UIDs at the top of the 32-bit range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "proc.h"
#include "tap.h"

#define UMAX	600	/* UIDs of the model: 1 .. UMAX - 1 */

static uint64_t	 rng = 0x2545f4914f6cdd1dULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n == 0 ? 0 : (uint32_t)(rng % n);
}

static int
uidvec_has_unsorted(const struct uidvec *v, uint32_t u)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->v[i] == u)
			return 1;
	return 0;
}

/* The model's ranges as text ("a:b,c:d"), and its first UID. */
static char *
model(const unsigned char *skip, uint32_t since, uint32_t *first)
{
	struct uidranges want;
	uint32_t u, lo = 0;
	char *s;

	memset(&want, 0, sizeof(want));
	*first = 0;
	for (u = since; u < UMAX; u++) {
		if (!skip[u] && lo == 0) {
			lo = u;
			if (*first == 0)
				*first = u;
		}
		if (skip[u] && lo != 0) {
			uidranges_push(&want, lo, u - 1);
			lo = 0;
		}
	}
	if (lo == 0)
		lo = since < UMAX ? UMAX : since;
	if (*first == 0)
		*first = lo;
	uidranges_push(&want, lo, UINT32_MAX);
	s = uidranges_str(&want);
	uidranges_free(&want);
	return s;
}

static int	 bad, n;
static char	 first_bad[512];

static void
compare(struct job *j, uint32_t side, const unsigned char *skip,
    uint32_t since)
{
	struct uidranges got;
	uint32_t gfirst, wfirst;
	char *gs, *ws;

	memset(&got, 0, sizeof(got));
	xfer_new_range(j, side, &got, &gfirst);
	gs = uidranges_str(&got);
	ws = model(skip, since, &wfirst);
	n++;
	if (strcmp(gs, ws) != 0 || gfirst != wfirst) {
		if (bad++ == 0)
			(void)snprintf(first_bad, sizeof(first_bad), "side %u "
			    "since %u: got %s (first %u), want %s (first %u)",
			    side, since, gs, gfirst, ws, wfirst);
	}
	free(gs);
	free(ws);
	uidranges_free(&got);
}

static void
test_random(void)
{
	static unsigned char skip[2][UMAX];
	static uint32_t partner[2][UMAX];
	struct mbox mb;
	struct job j;
	uint32_t side, u, l, r, since, round, k;

	for (round = 0; round < 400; round++) {
		memset(&mb, 0, sizeof(mb));
		memset(&j, 0, sizeof(j));
		memset(skip, 0, sizeof(skip));
		memset(partner, 0, sizeof(partner));
		j.mb = &mb;
		map_init(&j.map);
		/* Mostly appends on both sides, some out of order. */
		for (k = rnd(UMAX); k > 0; k--) {
			l = 1 + rnd(UMAX - 1);
			r = 1 + rnd(UMAX - 1);
			if (partner[SIDE_LOCAL][l] || partner[SIDE_REMOTE][r])
				continue;
			map_add(&j.map, l, r);
			partner[SIDE_LOCAL][l] = r;
			partner[SIDE_REMOTE][r] = l;
		}
		for (k = rnd(UMAX / 3); k > 0; k--) {
			side = rnd(2) ? SIDE_REMOTE : SIDE_LOCAL;
			u = 1 + rnd(UMAX - 1);
			if ((l = map_del(&j.map, side, u)) != 0) {
				partner[side][u] = 0;
				partner[OTHER(side)][l] = 0;
			}
		}
		for (side = SIDE_LOCAL; side <= SIDE_REMOTE; side++) {
			for (k = rnd(40); k > 0; k--)
				uidvec_push(&j.ignore[side], 1 + rnd(UMAX - 1));
			if (rnd(4) == 0) {
				since = 1;	/* no synced UIDNEXT */
			} else {
				since = 1 + rnd(UMAX + 20);
				mb.pcache[side].has = MC_UIDNEXT;
				mb.pcache[side].uidnext = since;
			}
			for (u = 1; u < UMAX; u++)
				skip[side][u] = partner[side][u] != 0 ||
				    uidvec_has_unsorted(&j.ignore[side], u);
			compare(&j, side, skip[side], since);
			uidvec_free(&j.ignore[side]);
		}
		map_free(&j.map);
	}
	OK(bad == 0, "random mappings and ignore lists: %d of %d wrong%s%s",
	    bad, n, bad ? "; first: " : "", first_bad);
}

/* A first sync's mapping: every UID 1..100000 mapped, nothing to fetch. */
static void
test_whole(void)
{
	struct uidranges got;
	struct mbox mb;
	struct job j;
	uint32_t first, u;
	char *s;

	memset(&mb, 0, sizeof(mb));
	memset(&j, 0, sizeof(j));
	j.mb = &mb;
	map_init(&j.map);
	for (u = 1; u <= 100000; u++)
		map_add(&j.map, u, u + 5);
	memset(&got, 0, sizeof(got));
	xfer_new_range(&j, SIDE_LOCAL, &got, &first);
	s = uidranges_str(&got);
	IS_STR(s, "100001:4294967295", "local side, all mapped");
	IS_INT(first, 100001, "... first");
	free(s);
	uidranges_free(&got);
	uidvec_push(&j.ignore[SIDE_REMOTE], 3);
	uidvec_push(&j.ignore[SIDE_REMOTE], 100007);
	uidvec_push(&j.ignore[SIDE_REMOTE], 100009);
	xfer_new_range(&j, SIDE_REMOTE, &got, &first);
	s = uidranges_str(&got);
	IS_STR(s, "1:2,4:5,100006,100008,100010:4294967295",
	    "remote side, all mapped, some ignored");
	IS_INT(first, 1, "... first");
	free(s);
	uidranges_free(&got);
	uidvec_free(&j.ignore[SIDE_REMOTE]);
	map_free(&j.map);
}

/* UIDs at the top: UIDNEXT 4294967295 mapped or ignored. */
static void
test_top(void)
{
	struct uidranges got;
	struct mbox mb;
	struct job j;
	uint32_t first;
	char *s;

	memset(&mb, 0, sizeof(mb));
	memset(&j, 0, sizeof(j));
	j.mb = &mb;
	map_init(&j.map);
	mb.pcache[SIDE_LOCAL].has = MC_UIDNEXT;
	mb.pcache[SIDE_LOCAL].uidnext = UINT32_MAX - 2;
	map_add(&j.map, UINT32_MAX, 1);
	uidvec_push(&j.ignore[SIDE_LOCAL], UINT32_MAX - 2);
	memset(&got, 0, sizeof(got));
	xfer_new_range(&j, SIDE_LOCAL, &got, &first);
	s = uidranges_str(&got);
	IS_STR(s, "4294967294", "the top mapped, the one below free");
	IS_INT(first, UINT32_MAX - 1, "... first");
	free(s);
	uidranges_free(&got);
	uidvec_push(&j.ignore[SIDE_LOCAL], UINT32_MAX - 1);
	xfer_new_range(&j, SIDE_LOCAL, &got, &first);
	OK(got.n == 0, "everything up to the top skipped: no range (%zu)",
	    got.n);
	IS_INT(first, UINT32_MAX, "... first");
	uidranges_free(&got);
	uidvec_free(&j.ignore[SIDE_LOCAL]);
	map_free(&j.map);
}

int
main(void)
{
	test_random();
	test_whole();
	test_top();
	return tap_done();
}
