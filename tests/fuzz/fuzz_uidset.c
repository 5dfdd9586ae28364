/*
 * libFuzzer target for the UID sets that travel as text between a net
 * child and the engine (VANISHED, APPENDUID, MODIFIED, the QRESYNC
 * sample): the engine's parser (engine/uidset.c) and the net's
 * membership test (net/uidset.c).  The input up to a NUL is the set;
 * the bytes after it are UIDs to look up (u32 each).
 *
 * What a parsed set must do: print back (normalised) as a set that
 * parses to the same ranges and the same count; every looked-up UID is
 * in it, or not, for the engine's parse, the engine's uidset_contains()
 * and the net's imap_uids_contains() alike.
 */
#include <stdlib.h>
#include <string.h>

#include "uidset.h"
#include "fuzz_common.h"

int	imap_uids_contains(const char *, uint32_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uidranges a, b;
	struct fin	 f;
	char		*s, *str;
	size_t		 n, i;
	uint32_t	 x;
	int		 ra, in;

	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);
	f.p = data + (n < size ? n + 1 : size);
	f.left = size - (size_t)(f.p - data);

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ra = uidset_parse(s, &a);
	if (ra == 0) {
		uidranges_normalize(&a);
		if ((str = uidranges_str(&a)) == NULL ||
		    uidset_parse(str, &b) != 0)
			abort();
		uidranges_normalize(&b);
		if (a.n != b.n || uidranges_count(&a) != uidranges_count(&b))
			abort();
		for (i = 0; i < a.n; i++)
			if (a.r[i].lo != b.r[i].lo || a.r[i].hi != b.r[i].hi ||
			    a.r[i].lo > a.r[i].hi)
				abort();
		free(str);
	}
	while (f.left >= 4) {
		x = fin_u16(&f);
		x |= fin_u16(&f) << 16;
		in = uidset_contains(s, x);
		/* A set that does not parse has no meaning to agree on. */
		if (ra == 0 && (imap_uids_contains(s, x) != in ||
		    uidranges_has(&a, x) != in))
			abort();
	}
	uidranges_free(&a);
	uidranges_free(&b);
	free(s);
	return 0;
}
