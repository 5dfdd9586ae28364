/*
 * The engine's small data structures: UID sets and lists (compact_set and
 * compact_list as the reference prints them, parsing, membership), the
 * UID mapping with its QRESYNC sample, the MODIFIED table and the flag
 * strings.  Expected values come from the reference's own functions
 * (Net::IMAP::InterIMAP::compact_set, compact_list, in_set, and
 * interimap's sample()) run on the same input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "proc.h"
#include "tap.h"

struct set_case {
	uint32_t	 uids[16];
	size_t		 n;
	const char	*set;	/* compact_set */
	const char	*list;	/* compact_list */
};

static const struct set_case set_cases[] = {
	{ { 1 }, 1, "1", "1" },
	{ { 1, 2, 3 }, 3, "1:3", "1:3" },
	{ { 3, 2, 1 }, 3, "1:3", "3:1" },
	{ { 5, 4, 3, 7 }, 4, "3:5,7", "5:3,7" },
	{ { 1, 3, 4, 5 }, 4, "1,3:5", "1,3:5" },
	{ { 2, 2, 3 }, 3, "2:3", "2,2:3" },
	{ { 10, 1, 2, 11 }, 4, "1:2,10:11", "10,1:2,11" },
	{ { 4294967295U, 1 }, 2, "1,4294967295", "4294967295,1" },
	{ { 7, 8, 6, 5 }, 4, "5:8", "7:8,6:5" },
	{ { 1, 2, 4, 5, 7 }, 5, "1:2,4:5,7", "1:2,4:5,7" },
};

struct contains_case {
	const char	*set;
	uint32_t	 x;
	int		 want;
};

static const struct contains_case contains_cases[] = {
	{ "1", 1, 1 },
	{ "1", 2, 0 },
	{ "1:3", 2, 1 },
	{ "3:1", 2, 1 },
	{ "3:1", 4, 0 },
	{ "5:*", 4, 0 },
	{ "5:*", 5, 1 },
	{ "5:*", 4000000000U, 1 },
	{ "*", 17, 1 },
	{ "1,3:5,9", 4, 1 },
	{ "1,3:5,9", 9, 1 },
	{ "1,3:5,9", 6, 0 },
	{ "2:4294967295", 4294967295U, 1 },
};

struct parse_case {
	const char	*set;
	int		 ok;
	uint64_t	 count;
};

static const struct parse_case parse_cases[] = {
	{ "1", 0, 1 },
	{ "1:3", 0, 3 },
	{ "3:1", 0, 3 },
	{ "1,3:5,9", 0, 5 },
	{ "1:4294967295", 0, 4294967295ULL },
	{ "", -1, 0 },
	{ "0", -1, 0 },
	{ "1,", -1, 0 },
	{ ",1", -1, 0 },
	{ "1:*", -1, 0 },
	{ "4294967296", -1, 0 },
	{ "1;2", -1, 0 },
	{ "01", -1, 0 },
	{ "a", -1, 0 },
};

static void
test_sets(void)
{
	const struct set_case *c;
	char *s;
	size_t i;

	for (i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]); i++) {
		c = &set_cases[i];
		s = uid_compact_set(c->uids, c->n);
		IS_STR(s, c->set, "compact_set");
		free(s);
		s = uid_compact_list(c->uids, c->n);
		IS_STR(s, c->list, "compact_list");
		free(s);
	}
	OK(uid_compact_set(NULL, 0) == NULL, "compact_set of nothing");
	s = uid_range_str(1, 1);
	IS_STR(s, "1", "range 1:1");
	free(s);
	s = uid_range_str(1, 41);
	IS_STR(s, "1:41", "range 1:41");
	free(s);
}

static void
test_contains_parse(void)
{
	struct uidranges rs;
	size_t i;

	for (i = 0; i < sizeof(contains_cases) / sizeof(contains_cases[0]);
	    i++)
		IS_INT(uidset_contains(contains_cases[i].set,
		    contains_cases[i].x), contains_cases[i].want,
		    contains_cases[i].set);
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		memset(&rs, 0, sizeof(rs));
		IS_INT(uidset_parse(parse_cases[i].set, &rs),
		    parse_cases[i].ok, parse_cases[i].set);
		if (parse_cases[i].ok == 0)
			IS_INT(uidranges_count(&rs), parse_cases[i].count,
			    parse_cases[i].set);
		uidranges_free(&rs);
	}
}

static void
test_uidvec(void)
{
	struct uidvec v = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	uint32_t in[] = { 5, 3, 9, 3, 1, 5 };

	uidvec_append(&v, in, 6);
	uidvec_sort_uniq(&v);
	IS_INT(v.n, 4, "sort_uniq count");
	OK(v.v[0] == 1 && v.v[1] == 3 && v.v[2] == 5 && v.v[3] == 9,
	    "sort_uniq order");
	OK(uidvec_has(&v, 9) && !uidvec_has(&v, 4), "has");
	uidvec_push(&d, 3);
	uidvec_push(&d, 9);
	uidvec_remove(&v, &d);
	OK(v.n == 2 && v.v[0] == 1 && v.v[1] == 5, "remove");
	uidvec_free(&v);
	uidvec_free(&d);
}

static void
test_map(void)
{
	struct map m;
	char *seq, *uids;
	uint32_t i;

	map_init(&m);
	map_add(&m, 1, 10);
	map_add(&m, 2, 11);
	map_add(&m, 5, 3);	/* out of order on the remote side */
	IS_INT(map_lookup(&m, SIDE_LOCAL, 5), 3, "lookup l->r");
	IS_INT(map_lookup(&m, SIDE_REMOTE, 11), 2, "lookup r->l");
	IS_INT(map_lookup(&m, SIDE_LOCAL, 4), 0, "lookup missing");
	IS_INT(map_del(&m, SIDE_REMOTE, 10), 1, "delete by remote UID");
	IS_INT(map_lookup(&m, SIDE_LOCAL, 1), 0, "deleted pair gone (l)");
	IS_INT(map_lookup(&m, SIDE_REMOTE, 10), 0, "deleted pair gone (r)");
	IS_INT(map_count(&m), 2, "count after delete");
	IS_INT(map_del(&m, SIDE_LOCAL, 1), 0, "delete twice");
	map_add(&m, 3, 4);	/* between existing keys */
	IS_INT(map_lookup(&m, SIDE_REMOTE, 4), 3, "inserted in the middle");
	map_free(&m);

	/* The sample: sample() of interimap on the same rows. */
	map_init(&m);
	map_sample(&m, SIDE_LOCAL, &seq, &uids);
	OK(seq == NULL && uids == NULL, "no sample without mappings");
	for (i = 1; i <= 5; i++)
		map_add(&m, i == 3 ? 30 : i, i);
	/* local UIDs 1,2,4,5,30; remote 1..5 */
	map_sample(&m, SIDE_LOCAL, &seq, &uids);
	IS_STR(seq, "1:5", "sample seqset");
	IS_STR(uids, "1:2,4:5,30", "sample uidset (local)");
	free(seq);
	free(uids);
	map_sample(&m, SIDE_REMOTE, &seq, &uids);
	IS_STR(seq, "1:5", "sample seqset (remote)");
	IS_STR(uids, "1:5", "sample uidset (remote)");
	free(seq);
	free(uids);
	map_free(&m);

	/* Every other UID: the set stops once it passes 256 bytes. */
	map_init(&m);
	for (i = 1; i <= 2000; i++)
		map_add(&m, 2 * i, i);
	map_sample(&m, SIDE_LOCAL, &seq, &uids);
	IS_STR(seq, "1949:2000", "long sample seqset");
	OK(uids != NULL && strncmp(uids, "3898,3900,", 10) == 0 &&
	    strlen(uids) == 259, "long sample uidset starts at 3898, 259 "
	    "bytes (%s)", uids ? uids : "null");
	free(seq);
	free(uids);
	/* Many deletions stay correct after compaction. */
	for (i = 1; i <= 1900; i++)
		(void)map_del(&m, SIDE_LOCAL, 2 * i);
	IS_INT(map_count(&m), 100, "count after mass delete");
	IS_INT(map_lookup(&m, SIDE_LOCAL, 3802), 1901, "lookup after "
	    "compaction");
	IS_INT(map_lookup(&m, SIDE_REMOTE, 1900), 0, "deleted after "
	    "compaction");
	map_free(&m);
}

static void
test_modtab(void)
{
	struct modtab t;
	struct modent *e, *all;
	size_t n, i;
	int ok = 1;

	memset(&t, 0, sizeof(t));
	for (i = 1; i <= 1000; i++)
		modtab_put(&t, (uint32_t)i, i, eng_strdup("\\Seen"));
	for (i = 1; i <= 1000; i += 2)
		modtab_del(&t, (uint32_t)i);
	IS_INT(t.n, 500, "modtab count after deletes");
	for (i = 1; i <= 1000; i++) {
		e = modtab_get(&t, (uint32_t)i);
		if ((i % 2 == 0) != (e != NULL))
			ok = 0;
	}
	OK(ok, "modtab lookups after backward-shift deletes");
	modtab_put(&t, 2, 99, NULL);
	e = modtab_get(&t, 2);
	OK(e != NULL && e->modseq == 99 && e->flags == NULL, "replace");
	all = modtab_drain(&t, &n);
	IS_INT(n, 500, "drain count");
	ok = 1;
	for (i = 1; i < n; i++)
		if (all[i - 1].uid >= all[i].uid)
			ok = 0;
	OK(ok, "drain is sorted");
	IS_INT(t.n, 0, "drained table is empty");
	for (i = 0; i < n; i++)
		free(all[i].flags);
	free(all);
	modtab_free(&t);
}

static void
test_flags(void)
{
	char *s;

	s = flags_sorted("\\Seen foo \\Flagged $Label1");
	IS_STR(s, "$Label1 \\Flagged \\Seen foo", "sorted flags");
	free(s);
	s = flags_sorted("");
	IS_STR(s, "", "no flags");
	free(s);
	s = flags_union("\\Seen bar foo", "\\Flagged \\Seen foo");
	IS_STR(s, "\\Flagged \\Seen bar foo", "union (Appendix A)");
	free(s);
	s = flags_union("", "\\Seen");
	IS_STR(s, "\\Seen", "union with nothing");
	free(s);
}

/* "lo:hi,..." of ranges after uidranges_minus_ranges(a, b). */
static void
minus_case(const char *a, const char *b, const char *want)
{
	struct uidranges ra = { NULL, 0, 0 }, rb = { NULL, 0, 0 };
	char *got, what[128];

	(void)snprintf(what, sizeof(what), "%s minus %s", a, b);
	if (uidset_parse(a, &ra) == -1 || uidset_parse(b, &rb) == -1) {
		OK(0, "parse %s / %s", a, b);
		return;
	}
	uidranges_minus_ranges(&ra, &rb);
	got = ra.n > 0 ? uidranges_str(&ra) : strdup("");
	IS_STR(got, want, what);
	free(got);
	uidranges_free(&ra);
	uidranges_free(&rb);
}

/* Ranges minus ranges: what a job has handled, dropped from VANISHED. */
static void
test_minus_ranges(void)
{
	minus_case("5", "5", "");
	minus_case("3:7", "1:2", "3:7");
	minus_case("3:7", "5", "3:4,6:7");
	minus_case("3:7", "1:4,6:9", "5");
	minus_case("1:10,20:30", "5:25", "1:4,26:30");
	minus_case("1:10,20:30", "1:30", "");
	minus_case("20:30,1:10", "8,2,25:26", "1,3:7,9:10,20:24,27:30");
	minus_case("4294967290:4294967295", "4294967295", "4294967290:"
	    "4294967294");
	minus_case("1:4294967295", "2:4294967294", "1,4294967295");
	minus_case("7:9", "10:12", "7:9");
}

static void
test_dates(void)
{
	IS_INT(eng_internaldate("01-Jan-1970 00:00:00 +0000"), 0, "epoch");
	IS_INT(eng_internaldate("04-Feb-2024 06:59:59 +0000"),
	    eng_internaldate("03-Feb-2024 23:59:59 -0700"),
	    "same instant, two zones");
	IS_INT(eng_internaldate(" 4-Feb-2024 06:59:59 +0000"),
	    eng_internaldate("04-Feb-2024 06:59:59 +0000"),
	    "space-padded day");
	IS_INT(eng_internaldate("29-Feb-2024 12:00:00 +0100"), 1709204400,
	    "leap day");
	IS_INT(eng_internaldate("31-Dec-1999 23:59:59 +0000"), 946684799,
	    "end of 1999");
	OK(eng_internaldate("04-Fob-2024 06:59:59 +0000") == INT64_MIN,
	    "bad month");
	OK(eng_internaldate("04-Feb-2024 06:59:59") == INT64_MIN,
	    "no zone");
	OK(eng_internaldate("") == INT64_MIN, "empty");
}

int
main(void)
{
	test_dates();
	test_sets();
	test_contains_parse();
	test_uidvec();
	test_map();
	test_modtab();
	test_flags();
	test_minus_ranges();
	return tap_done();
}
